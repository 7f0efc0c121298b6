//! Lines over an x axis: latency CDFs, throughput against latency, the quorum sweep, the failover timeline.

use super::{builder, describe_axis, frame, house_mesh, padded, tick, use_log};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub colour: RGBColor,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    /// Draw a circle at each point (sparse series: one point per client count).
    pub markers: bool,
    /// Whether the legend lists it (a p99 line beside its p50 line need not be listed twice).
    pub in_legend: bool,
}

/// The labels of an x axis.
#[derive(Debug, Clone, PartialEq)]
pub enum XTicks {
    Numbers,
    /// The x values are percentiles in nines (-log10(1 - q)), labelled p90, p99, p99.9...
    Nines,
    /// The x values are 0, 1, 2... and these are their names (commits in a trend).
    Names(Vec<String>),
}

/// A shaded range: at each x, from `lo` to `hi`.
#[derive(Debug, Clone)]
pub struct Band {
    pub colour: RGBColor,
    /// (x, lo, hi), in x order.
    pub points: Vec<(f64, f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct XyChart {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub log_x: bool,
    pub log_y: bool,
    /// How the x axis is labelled.
    pub x_ticks: XTicks,
    /// Shaded ranges drawn under the lines (the spread of repeated runs).
    pub bands: Vec<Band>,
    pub series: Vec<Series>,
    /// Vertical marks with a label (a fault's time).
    pub marks: Vec<(f64, String)>,
    /// A note in the legend for the line styles, e.g. "solid: p50, dashed: p99".
    pub style_note: Option<String>,
    /// Put the legend in the lower right (where a CDF leaves room) instead of the upper left.
    pub legend_lower_right: bool,
}

super::chart_for_both_backends!(XyChart);
super::chart_for_both_backends!(Panels);

/// Charts stacked one above the other, each with its own y scale (small multiples: a timeline per variant).
#[derive(Debug, Clone)]
pub struct Panels {
    pub panels: Vec<XyChart>,
}

/// Height of one panel in pixels.
const PANEL_HEIGHT: u32 = 190;

impl Panels {
    fn pixels(&self) -> (u32, u32) {
        (
            super::SIZE.0,
            PANEL_HEIGHT * self.panels.len().max(1) as u32,
        )
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        frame(root)?;
        let areas = root.split_evenly((self.panels.len().max(1), 1));
        for (panel, area) in self.panels.iter().zip(&areas) {
            panel.draw(area)?;
        }
        Ok(())
    }
}

impl XyChart {
    fn pixels(&self) -> (u32, u32) {
        super::SIZE
    }

    fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        // Values beyond 1e15 (a corrupted file) would overflow the padded axis range: left out.
        let ok = |v: f64, log: bool| v.is_finite() && v.abs() < 1e15 && (!log || v > 0.0);
        let xs: Vec<f64> = pts()
            .map(|p| p.0)
            .chain(self.marks.iter().map(|m| m.0))
            .filter(|&v| ok(v, self.log_x))
            .collect();
        let band_ys = self
            .bands
            .iter()
            .flat_map(|b| b.points.iter().flat_map(|&(_, lo, hi)| [lo, hi]));
        let ys: Vec<f64> = pts()
            .map(|p| p.1)
            .chain(band_ys)
            .filter(|&v| ok(v, self.log_y))
            .collect();
        let lo_hi = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
        };
        Some((lo_hi(&xs)?, lo_hi(&ys)?))
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        frame(root)?;
        let Some(((x0, x1), (y0, y1))) = self.bounds() else {
            return no_data(root, &self.title);
        };
        let (log_x, log_y) = (use_log(self.log_x, x0, x1), use_log(self.log_y, y0, y1));
        let (x0, x1) = padded(x0, x1, log_x);
        let (y0, y1) = padded(y0, y1, log_y);
        let descs = (
            describe_axis(&self.x_desc, log_x),
            describe_axis(&self.y_desc, log_y),
        );
        match (log_x, log_y) {
            (false, false) => self.draw_in(root, x0..x1, y0..y1, &descs),
            (true, false) => self.draw_in(root, (x0..x1).log_scale(), y0..y1, &descs),
            (false, true) => self.draw_in(root, x0..x1, (y0..y1).log_scale(), &descs),
            (true, true) => self.draw_in(root, (x0..x1).log_scale(), (y0..y1).log_scale(), &descs),
        }
    }

    fn draw_in<DB, XR, YR>(
        &self,
        root: &DrawingArea<DB, Shift>,
        xr: XR,
        yr: YR,
        (x_desc, y_desc): &(String, String),
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        XR: AsRangedCoord<Value = f64>,
        YR: AsRangedCoord<Value = f64>,
        XR::CoordDescType: ValueFormatter<f64>,
        YR::CoordDescType: ValueFormatter<f64>,
    {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = builder(root, &self.title)
            .build_cartesian_2d(xr, yr)
            .map_err(|e| err(&e))?;
        house_mesh(&mut chart.configure_mesh())
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(match &self.x_ticks {
                XTicks::Numbers => 10,
                XTicks::Nines => 7,
                XTicks::Names(n) => n.len().clamp(2, 12),
            })
            .x_label_formatter(&|v| {
                let whole = (v - v.round()).abs() < 1e-6;
                match &self.x_ticks {
                    XTicks::Numbers => tick(*v),
                    XTicks::Nines if whole => nines_tick(*v),
                    XTicks::Names(n) if whole && *v >= 0.0 => {
                        n.get(v.round() as usize).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                }
            })
            .y_label_formatter(&|v| tick(*v))
            .draw()
            .map_err(|e| err(&e))?;
        let (y_lo, y_hi) = {
            let r = chart.y_range();
            (r.start, r.end)
        };
        for (x, label) in &self.marks {
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(*x, y_lo), (*x, y_hi)],
                    6,
                    4,
                    grey.stroke_width(2),
                ))
                .map_err(|e| err(&e))?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(" {label}"),
                    (*x, y_hi),
                    ("sans-serif", 14).into_font().color(&grey),
                )))
                .map_err(|e| err(&e))?;
        }
        for b in &self.bands {
            if b.points.len() < 2 {
                continue;
            }
            let outline: Vec<(f64, f64)> = b
                .points
                .iter()
                .map(|&(x, _, hi)| (x, hi))
                .chain(b.points.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    b.colour.mix(0.2).filled(),
                )))
                .map_err(|e| err(&e))?;
        }
        for s in &self.series {
            let colour = s.colour;
            let style = colour.stroke_width(2);
            let anno = if s.dashed {
                chart.draw_series(DashedLineSeries::new(s.points.clone(), 8, 5, style))
            } else {
                chart.draw_series(LineSeries::new(s.points.clone(), style))
            }
            .map_err(|e| err(&e))?;
            if s.in_legend {
                let dashed = s.dashed;
                anno.label(&s.label).legend(move |(x, y)| {
                    let style = colour.stroke_width(3);
                    if dashed {
                        PathElement::new(vec![(x, y), (x + 8, y)], style)
                    } else {
                        PathElement::new(vec![(x, y), (x + 20, y)], style)
                    }
                });
            }
            if s.markers {
                chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                    .map_err(|e| err(&e))?;
            }
        }
        if let Some(note) = &self.style_note {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(|e| err(&e))?
                .label(note)
                .legend(|(x, y)| EmptyElement::at((x, y)));
        }
        if !self.series.iter().any(|s| s.in_legend) && self.style_note.is_none() {
            return Ok(());
        }
        chart
            .configure_series_labels()
            .position(if self.legend_lower_right {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperLeft
            })
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        Ok(())
    }
}

/// A percentile in nines as its usual name: 1 is p90, 2 is p99, 0.301 is p50.
pub fn nines_tick(v: f64) -> String {
    if v <= 0.0 {
        return "min".into();
    }
    let pct = 100.0 * (1.0 - 10f64.powf(-v));
    let digits = (v.ceil() as usize).saturating_sub(2).min(6);
    let s = format!("{pct:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("p{s}")
}

/// A chart with nothing to show says so instead of drawing empty axes.
pub(super) fn no_data<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(), String> {
    root.draw(&Text::new(
        format!("{title}: no data"),
        (40, 40),
        ("sans-serif", 20).into_font(),
    ))
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn nines_are_labelled_as_percentiles() {
        let t = super::nines_tick;
        assert_eq!(t(0.0), "min");
        assert_eq!(t(1.0), "p90");
        assert_eq!(t(2.0), "p99");
        assert_eq!(t(3.0), "p99.9");
        assert_eq!(t(4.0), "p99.99");
        assert_eq!(t(2f64.log10()), "p50");
    }
}
