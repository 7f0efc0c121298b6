//! Drawing with plotters: two chart shapes cover every figure of the report (lines over x, and bars in
//! groups or stacks), each drawn once for PNG and once for SVG from the same code.
//!
//! Text is drawn with the bundled DejaVu Sans through ab_glyph, registered before the first chart, so a machine
//! without system fonts renders the same PNGs.

mod bars;
mod xy;

pub use bars::{BarValue, Bars, Stacked};
pub use xy::{Band, Panels, Series, XTicks, XyChart};

use crate::results::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font under the family names the charts use. Safe to call many times.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            // The font is compiled in and known to parse; a failure would only leave text undrawn.
            let _ = plotters::style::register_font(family, FontStyle::Normal, FONT);
            let _ = plotters::style::register_font(family, FontStyle::Bold, FONT);
        }
    });
}

/// Size of every figure in pixels: wide enough for a legend beside six series.
pub const SIZE: (u32, u32) = (960, 540);

/// A chart that can draw itself on any plotters backend.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        SIZE
    }
    fn draw_png(&self, root: &DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>;
    fn draw_svg(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>;
}

/// Implements [`Chart`] for a type with a generic `draw` method.
macro_rules! chart_for_both_backends {
    ($t:ty) => {
        impl $crate::report::plots::Chart for $t {
            fn size(&self) -> (u32, u32) {
                self.pixels()
            }
            fn draw_png(
                &self,
                root: &plotters::drawing::DrawingArea<
                    plotters::prelude::BitMapBackend<'_>,
                    plotters::coord::Shift,
                >,
            ) -> Result<(), String> {
                self.draw(root)
            }
            fn draw_svg(
                &self,
                root: &plotters::drawing::DrawingArea<
                    plotters::prelude::SVGBackend<'_>,
                    plotters::coord::Shift,
                >,
            ) -> Result<(), String> {
                self.draw(root)
            }
        }
    };
}
pub(crate) use chart_for_both_backends;

/// Writes `dir/stem.png` and `dir/stem.svg`, each atomically.
pub fn save(chart: &dyn Chart, dir: &Path, stem: &str) -> Result<(), String> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let png = dir.join(format!("{stem}.png"));
    let tmp = dir.join(format!(".{stem}.tmp.png"));
    {
        let root = BitMapBackend::new(&tmp, chart.size()).into_drawing_area();
        chart.draw_png(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    std::fs::rename(&tmp, &png).map_err(|e| format!("cannot write {}: {e}", png.display()))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        chart.draw_svg(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let path = dir.join(format!("{stem}.svg"));
    write_atomic(&path, svg.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Shared look: white background, a title, and the error type flattened to text.
fn frame<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())
}

/// Every chart's frame: its title, margins and room for the tick labels.
fn builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(70);
    b
}

/// Every chart's grid and label fonts.
fn house_mesh<'m, 'a, 'b, X, Y, DB>(
    m: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
    DB: DrawingBackend,
{
    m.label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
}

/// A range that shows `lo..hi` with some room, positive for log scales.
fn padded(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    if log {
        let lo = if lo > 0.0 { lo } else { hi.max(1e-3) / 1000.0 };
        let hi = hi.max(lo * 1.01);
        (lo / 1.3, hi * 1.3)
    } else {
        let span = (hi - lo).abs().max(hi.abs() * 0.1).max(1e-9);
        (
            (lo - span * 0.05).min(0.0_f64.max(lo - span)),
            hi + span * 0.08,
        )
    }
}

/// A log scale only where the values span at least a decade (a narrower log axis gets one tick label or
/// none); the axis description then says so.
fn use_log(wanted: bool, lo: f64, hi: f64) -> bool {
    wanted && lo > 0.0 && hi / lo >= 10.0
}

fn describe_axis(desc: &str, log: bool) -> String {
    match (log, desc.strip_suffix(')')) {
        (false, _) => desc.to_string(),
        (true, Some(open)) => format!("{open}, log scale)"),
        (true, None) => format!("{desc} (log scale)"),
    }
}

/// Short numbers for tick labels.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        let s = format!("{v:.1}");
        s.trim_end_matches(".0").to_string()
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(3.0), "3");
        assert_eq!(tick(62.5), "62.5");
        assert_eq!(tick(125.0), "125");
        assert_eq!(tick(45_000.0), "45k");
    }

    #[test]
    fn log_ranges_stay_positive() {
        let (lo, hi) = padded(0.0, 100.0, true);
        assert!(lo > 0.0 && hi > 100.0);
        let (lo, hi) = padded(5.0, 5.0, false);
        assert!(lo < 5.0 && hi > 5.0);
    }
}
