//! Bars: grouped (one bar per variant in each group, with a p99 whisker and a model marker) and stacked
//! (messages per operation by message type).

use super::xy::no_data;
use super::{builder, describe_axis, frame, house_mesh, padded, tick, use_log};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarValue {
    pub value: f64,
    /// Drawn as a whisker above the bar (a p99 over a p50 bar).
    pub upper: Option<f64>,
    /// Drawn as a black line across the bar (the model's expectation).
    pub marker: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Bars {
    pub title: String,
    pub y_desc: String,
    pub log_y: bool,
    pub categories: Vec<String>,
    pub series: Vec<(String, RGBColor)>,
    /// `values[category][series]`.
    pub values: Vec<Vec<Option<BarValue>>>,
    pub upper_label: Option<String>,
    pub marker_label: Option<String>,
}

super::chart_for_both_backends!(Bars);

const GREY: RGBColor = RGBColor(60, 60, 60);

/// Category names under the x axis, centred on their group (plotters' own ticks fall anywhere).
fn category_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[String],
    at: impl Fn(usize) -> (i32, i32),
) -> Result<(), String> {
    let style = ("sans-serif", 14)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = at(i);
        root.draw(&Text::new(name.clone(), (x, y + 8), style.clone()))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Bars {
    fn pixels(&self) -> (u32, u32) {
        super::SIZE
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        frame(root)?;
        let all: Vec<f64> = self
            .values
            .iter()
            .flatten()
            .flatten()
            .flat_map(|b| [Some(b.value), b.upper, b.marker])
            .flatten()
            .filter(|v| v.is_finite() && v.abs() < 1e15 && (!self.log_y || *v > 0.0))
            .collect();
        if all.is_empty() || self.categories.is_empty() {
            return no_data(root, &self.title);
        }
        let hi = all.iter().copied().fold(f64::MIN, f64::max);
        let lo = all.iter().copied().fold(f64::MAX, f64::min);
        let x = 0.0..self.categories.len() as f64;
        let log = use_log(self.log_y, lo, hi);
        let desc = describe_axis(&self.y_desc, log);
        if log {
            let (lo, hi) = padded(lo, hi, true);
            self.draw_in(root, x, (lo..hi).log_scale(), &desc)
        } else {
            self.draw_in(root, x, 0.0..hi * 1.12, &desc)
        }
    }

    fn draw_in<DB, YR>(
        &self,
        root: &DrawingArea<DB, Shift>,
        xr: std::ops::Range<f64>,
        yr: YR,
        y_desc: &str,
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        YR: AsRangedCoord<Value = f64>,
        YR::CoordDescType: ValueFormatter<f64>,
    {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (plot, legend) = root.split_horizontally(SIZE_LEFT);
        let mut chart = builder(&plot, &self.title)
            .build_cartesian_2d(xr, yr)
            .map_err(|e| err(&e))?;
        house_mesh(&mut chart.configure_mesh())
            .disable_x_mesh()
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v| tick(*v))
            .y_desc(y_desc)
            .draw()
            .map_err(|e| err(&e))?;
        let base = chart.y_range().start;
        let n = self.series.len().max(1) as f64;
        let width = 0.8 / n;
        for (j, (label, colour)) in self.series.iter().enumerate() {
            let colour = *colour;
            let mut rects = Vec::new();
            let mut whiskers = Vec::new();
            let mut markers = Vec::new();
            for (i, row) in self.values.iter().enumerate() {
                let Some(Some(b)) = row.get(j) else { continue };
                let x0 = i as f64 + 0.1 + j as f64 * width;
                let x1 = x0 + width * 0.9;
                rects.push(Rectangle::new([(x0, base), (x1, b.value)], colour.filled()));
                if let Some(u) = b.upper {
                    let mid = (x0 + x1) / 2.0;
                    whiskers.push(PathElement::new(
                        vec![(mid, b.value), (mid, u)],
                        GREY.stroke_width(2),
                    ));
                    whiskers.push(PathElement::new(
                        vec![(mid - width * 0.2, u), (mid + width * 0.2, u)],
                        GREY.stroke_width(2),
                    ));
                }
                if let Some(m) = b.marker {
                    markers.push(PathElement::new(
                        vec![(x0 - width * 0.05, m), (x1 + width * 0.05, m)],
                        BLACK.stroke_width(3),
                    ));
                }
            }
            chart.draw_series(rects).map_err(|e| err(&e))?;
            chart.draw_series(whiskers).map_err(|e| err(&e))?;
            chart.draw_series(markers).map_err(|e| err(&e))?;
            {
                let (x, y) = legend_at(j);
                legend
                    .draw(&Rectangle::new(
                        [(x, y - 7), (x + 16, y + 7)],
                        colour.filled(),
                    ))
                    .map_err(|e| err(&e))?;
                legend_text(&legend, j, label)?;
            }
        }
        let mut next = self.series.len();
        if let Some(l) = &self.upper_label {
            {
                let (x, y) = legend_at(next);
                legend
                    .draw(&PathElement::new(
                        vec![(x + 8, y - 8), (x + 8, y + 8)],
                        GREY.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?;
                legend_text(&legend, next, l)?;
            }
            next += 1;
        }
        if let Some(l) = &self.marker_label {
            {
                let (x, y) = legend_at(next);
                legend
                    .draw(&PathElement::new(
                        vec![(x - 2, y), (x + 18, y)],
                        BLACK.stroke_width(3),
                    ))
                    .map_err(|e| err(&e))?;
                legend_text(&legend, next, l)?;
            }
        }
        let at = |i: usize| chart.backend_coord(&(i as f64 + 0.5, base));
        category_labels(&plot, &self.categories, at)
    }
}

#[derive(Debug, Clone)]
pub struct Stacked {
    pub title: String,
    pub y_desc: String,
    pub categories: Vec<String>,
    pub kinds: Vec<(String, RGBColor)>,
    /// `values[category][kind]`.
    pub values: Vec<Vec<f64>>,
}

super::chart_for_both_backends!(Stacked);

impl Stacked {
    fn pixels(&self) -> (u32, u32) {
        super::SIZE
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        frame(root)?;
        let hi = self
            .values
            .iter()
            .map(|row| row.iter().filter(|v| v.is_finite()).sum::<f64>())
            .fold(0.0, f64::max);
        if !(hi > 0.0 && hi < 1e15) || self.categories.is_empty() {
            return no_data(root, &self.title);
        }
        let err = |e: &dyn std::fmt::Display| e.to_string();
        // Room on the right for the legend of message types.
        let (plot, legend) = root.split_horizontally(SIZE_LEFT);
        let mut chart = builder(&plot, &self.title)
            .build_cartesian_2d(0.0..self.categories.len() as f64, 0.0..hi * 1.08)
            .map_err(|e| err(&e))?;
        house_mesh(&mut chart.configure_mesh())
            .disable_x_mesh()
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v| tick(*v))
            .y_desc(&self.y_desc)
            .draw()
            .map_err(|e| err(&e))?;
        for (i, row) in self.values.iter().enumerate() {
            let mut bottom = 0.0;
            for (k, v) in row.iter().enumerate() {
                if !v.is_finite() || *v <= 0.0 {
                    continue;
                }
                let colour = self.kinds.get(k).map_or(GREY, |k| k.1);
                let (x0, x1) = (i as f64 + 0.2, i as f64 + 0.8);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, bottom), (x1, bottom + v)],
                        colour.filled(),
                    )))
                    .map_err(|e| err(&e))?;
                bottom += v;
            }
            let top = chart.backend_coord(&(i as f64 + 0.5, bottom));
            plot.draw(&Text::new(
                format!("{bottom:.1}"),
                (top.0, top.1 - 18),
                ("sans-serif", 13)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(|e| err(&e))?;
        }
        let at = |i: usize| chart.backend_coord(&(i as f64 + 0.5, 0.0));
        category_labels(&plot, &self.categories, at)?;
        for (k, (name, colour)) in self.kinds.iter().enumerate() {
            let colour = *colour;
            {
                let (x, y) = legend_at(k);
                legend
                    .draw(&Rectangle::new(
                        [(x, y - 7), (x + 16, y + 7)],
                        colour.filled(),
                    ))
                    .map_err(|e| err(&e))?;
                legend_text(&legend, k, name)?;
            }
        }
        Ok(())
    }
}

/// Where the `i`-th line of a legend in the strip right of the plot goes: its symbol's anchor.
fn legend_at(i: usize) -> (i32, i32) {
    (10, 60 + 22 * i as i32)
}

/// The `i`-th legend line's name, beside its symbol.
fn legend_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    i: usize,
    name: &str,
) -> Result<(), String> {
    let (_, y) = legend_at(i);
    area.draw(&Text::new(
        name.to_string(),
        (34, y),
        ("sans-serif", 14)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(|e| e.to_string())
}

/// Width of a bar chart's plot, the rest being its legend.
const SIZE_LEFT: u32 = super::SIZE.0 - 170;
