//! PNG charts: one horizontal bar per variant (the median) with a p10–p90 whisker, and
//! line charts of a quantity over a run (e.g. RSS over 10 000 scheduled runs).
//!
//! Text is drawn by plotters' pure-Rust `ab_glyph` renderer (no fontconfig/freetype), from
//! a TrueType file read at run time: `$WASI_HW_BENCH_FONT`, else DejaVu Sans (Debian's
//! `fonts-dejavu-core`, installed by scripts/setup.sh).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::report::num;
use crate::stats::Summary;

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// The font file the charts use.
pub fn font_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WASI_HW_BENCH_FONT") {
        return Some(PathBuf::from(p));
    }
    FONT_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn ensure_font() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let path = font_path()
            .ok_or("no TrueType font found: install fonts-dejavu-core or set WASI_HW_BENCH_FONT")?;
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // plotters keeps fonts for the rest of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{}: not a usable font", path.display()))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub summary: Summary,
}

/// A chart of bars sharing one unit.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub unit: String,
    pub bars: Vec<Bar>,
    /// Logarithmic value axis (for series spanning orders of magnitude).
    pub log: bool,
}

impl BarChart {
    /// Draws the chart into a PNG of `width` pixels (height follows the bar count).
    pub fn draw_png(&self, path: &Path, width: u32) -> Result<()> {
        ensure_font()?;
        if self.bars.is_empty() {
            return Err(anyhow!("{}: no data", self.title));
        }
        let height = 90 + 42 * self.bars.len() as u32;
        let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let n = self.bars.len() as f64;
        let hi = self
            .bars
            .iter()
            .map(|b| b.summary.p90.max(b.summary.median))
            .fold(0.0, f64::max);
        let lo = self
            .bars
            .iter()
            .map(|b| b.summary.p10.min(b.summary.median))
            .fold(f64::INFINITY, f64::min);
        let draw = |root: &DrawingArea<BitMapBackend, _>| -> Result<()> {
            let mut cb = ChartBuilder::on(root);
            cb.caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(8);
            if self.log {
                let x0 = (lo / 2.0).max(f64::MIN_POSITIVE);
                // Room for the labels right of the whiskers: a decade and a half.
                let x1 = hi * 30.0;
                let mut chart = cb
                    .build_cartesian_2d((x0..x1).log_scale(), n..0.0)
                    .map_err(|e| anyhow!("{e}"))?;
                self.draw_into(&mut chart, x0)?;
            } else {
                let x1 = hi * 1.9;
                let mut chart = cb
                    .build_cartesian_2d(0.0..x1, n..0.0)
                    .map_err(|e| anyhow!("{e}"))?;
                self.draw_into(&mut chart, 0.0)?;
            }
            Ok(())
        };
        draw(&root)?;
        root.present()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    fn draw_into<X>(
        &self,
        chart: &mut ChartContext<
            '_,
            BitMapBackend<'_>,
            Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
        >,
        x0: f64,
    ) -> Result<()>
    where
        X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let e = |e: DrawingAreaErrorKind<_>| anyhow!("{e}");
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(&self.unit)
            .x_label_formatter(&|v| num(*v))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        let palette = [
            RGBColor(0x44, 0x77, 0xaa),
            RGBColor(0xee, 0x66, 0x77),
            RGBColor(0x22, 0x88, 0x33),
            RGBColor(0xcc, 0xbb, 0x44),
            RGBColor(0x66, 0xcc, 0xee),
            RGBColor(0xaa, 0x33, 0x77),
            RGBColor(0xbb, 0xbb, 0xbb),
        ];
        for (i, b) in self.bars.iter().enumerate() {
            let y = i as f64;
            let s = &b.summary;
            let color = palette[i % palette.len()];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, y + 0.2), (s.median, y + 0.8)],
                    color.filled(),
                )))
                .map_err(e)?;
            let whisker = BLACK.stroke_width(2);
            chart
                .draw_series([
                    PathElement::new(vec![(s.p10, y + 0.5), (s.p90, y + 0.5)], whisker),
                    PathElement::new(vec![(s.p10, y + 0.35), (s.p10, y + 0.65)], whisker),
                    PathElement::new(vec![(s.p90, y + 0.35), (s.p90, y + 0.65)], whisker),
                ])
                .map_err(e)?;
            let text = format!("  {}: {}", b.label, num(s.median));
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (s.p90.max(s.median), y + 0.3),
                    ("sans-serif", 15).into_font(),
                )))
                .map_err(e)?;
        }
        Ok(())
    }
}

/// One quantity sampled along a run: (x, y) points joined by a line.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x_unit: String,
    pub y_unit: String,
    pub points: Vec<(f64, f64)>,
}

impl LineChart {
    /// Draws the chart into a PNG of `width` × `width / 2` pixels; the y axis starts at 0,
    /// so a flat line looks flat.
    pub fn draw_png(&self, path: &Path, width: u32) -> Result<()> {
        ensure_font()?;
        if self.points.len() < 2 {
            return Err(anyhow!("{}: fewer than two points", self.title));
        }
        let e = |e: DrawingAreaErrorKind<_>| anyhow!("{e}");
        let root = BitMapBackend::new(path, (width, width / 2)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let x1 = self.points.iter().map(|p| p.0).fold(0.0, f64::max);
        let y1 = self.points.iter().map(|p| p.1).fold(0.0, f64::max) * 1.25;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x1.max(1.0), 0.0..y1.max(1.0))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_unit)
            .y_desc(&self.y_unit)
            .x_label_formatter(&|v| num(*v))
            .y_label_formatter(&|v| num(*v))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                self.points.clone(),
                RGBColor(0x44, 0x77, 0xaa).stroke_width(2),
            )))
            .map_err(e)?;
        root.present()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(log: bool) -> BarChart {
        BarChart {
            title: "cold start".into(),
            unit: "ms".into(),
            bars: vec![
                Bar {
                    label: "native".into(),
                    summary: Summary::of(&[1.0, 1.1, 0.9]).unwrap(),
                },
                Bar {
                    label: "wasm".into(),
                    summary: Summary::of(&[10.0, 12.0, 11.0]).unwrap(),
                },
            ],
            log,
        }
    }

    #[test]
    fn writes_png_files() {
        if font_path().is_none() {
            eprintln!("no font installed; chart rendering not exercised");
            return;
        }
        let dir = std::env::temp_dir().join(format!("wasi-hw-bench-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for log in [false, true] {
            let p = dir.join(format!("c{log}.png"));
            chart(log).draw_png(&p, 600).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        }
        let empty = BarChart {
            bars: vec![],
            ..chart(false)
        };
        assert!(empty.draw_png(&dir.join("e.png"), 600).is_err());
        let line = LineChart {
            title: "rss".into(),
            x_unit: "runs".into(),
            y_unit: "KiB".into(),
            points: vec![(0.0, 3000.0), (5000.0, 3010.0), (10000.0, 3008.0)],
        };
        let p = dir.join("line.png");
        line.draw_png(&p, 600).unwrap();
        assert_eq!(&std::fs::read(&p).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
