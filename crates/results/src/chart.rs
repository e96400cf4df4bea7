//! The `score_vs_params` chart: for each task, the main metric against the deployed % of
//! parameters (log x), one series per method (its name and design point, so that Houlsby and the
//! parallel adapter, both `bottleneck`, are two series with two legend entries), a point per
//! (method, budgets) at the median over seeds with a min–max error bar (the seed spread), and a
//! line through the budgets of each method, only of that method. The Pareto-optimal points (see
//! [`pareto_front`]) get a grey diamond behind their marker, joined by a dashed-grey step line
//! labelled "Pareto front".
//!
//! The same renderer draws the `score_vs_budget` chart (small multiples: one panel per (task,
//! design dimension), see [`crate::report`]), with [`ChartPanel::x_desc`] naming the x axis,
//! [`ChartPanel::pareto`] off and [`ChartPanel::lines`] off where no line would join runs that
//! differ in that dimension alone.
//!
//! No system font is read: text is laid out (and, in the PNG, drawn) with the DejaVu Sans subset
//! in `assets/` (Latin-1, Greek, a few symbols; Bitstream Vera licence, `assets/LICENSE-DejaVu`)
//! through plotters' `ab_glyph` feature. The SVG writes text as `<text>` elements, which the
//! viewer renders; each data point is one `<circle>`.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Result, ResultsError};

/// The embedded font (a subset of DejaVu Sans).
pub const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");

/// A panel: the plot, then its legend on the right (outside the data, whatever the number of
/// series).
const PANEL_W: u32 = 850;
const LEGEND_W: u32 = 290;
const PANEL_H: u32 = 400;
const MAX_COLUMNS: usize = 3;

/// Tableau 10: distinct on white, unlike plotters' palette (whose yellow is hard to see).
pub(crate) const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// One point: a (method, budgets) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    /// The method.
    pub method: String,
    /// % parameters, deployed (`ResultRow::budget_percent`; > 0).
    pub x: f64,
    /// Median over seeds.
    pub y: f64,
    /// Minimum and maximum over seeds.
    pub lo: f64,
    pub hi: f64,
}

/// The points of one series (one colour, one legend entry, joined by a line in x order when
/// the panel draws lines): one method at its budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub label: String,
    pub points: Vec<ChartPoint>,
}

/// One task's plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPanel {
    pub title: String,
    /// The y axis: the task's main metric.
    pub metric: String,
    pub series: Vec<ChartSeries>,
    /// Cells at 0 % trainable parameters (or a budget of 0), which a log axis cannot show.
    pub skipped_zero: usize,
    /// The x axis' description; empty: "% parameters (deployed; log scale)".
    pub x_desc: String,
    /// Mark the Pareto front of the panel's points (higher score and fewer parameters).
    pub pareto: bool,
    /// Lower values of the metric are better (a loss): the front minimises the score.
    pub lower_better: bool,
    /// Join each series' points by a line (in x order); off: points only.
    pub lines: bool,
}

/// The Pareto-optimal points of (percent trainable, score) pairs, higher scores better: the
/// indices of the points that no other point dominates (a score ≥ theirs with a percent ≤
/// theirs, one of the two strictly), sorted by percent (then score, then index). Identical
/// points do not dominate each other: both are on the front. Points with a non-finite
/// coordinate are left out. For a metric where lower is better, pass the negated scores.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| finite(&points[i]))
        .filter(|&i| {
            let (px, py) = points[i];
            !points
                .iter()
                .any(|q| finite(q) && q.0 <= px && q.1 >= py && (q.0 < px || q.1 > py))
        })
        .collect();
    front.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.total_cmp(&points[b].1))
            .then(a.cmp(&b))
    });
    front
}

/// The Pareto front of a panel's points, as (x, y) in x order.
pub(crate) fn panel_front(panel: &ChartPanel) -> Vec<(f64, f64)> {
    let points: Vec<(f64, f64)> = panel
        .series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| (p.x, p.y))
        .collect();
    let scored: Vec<(f64, f64)> = points
        .iter()
        .map(|&(x, y)| (x, if panel.lower_better { -y } else { y }))
        .collect();
    pareto_front(&scored)
        .into_iter()
        .map(|i| points[i])
        .collect()
}

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if plotters::style::register_font("sans-serif", style, FONT).is_err() {
                panic!("the embedded DejaVu Sans subset is a valid font (checked by the tests)");
            }
        }
    });
}

fn size(panels: &[ChartPanel]) -> (u32, u32, usize, usize) {
    let n = panels.len().max(1);
    let cols = n.min(MAX_COLUMNS);
    let rows = n.div_ceil(cols);
    (PANEL_W * cols as u32, PANEL_H * rows as u32, rows, cols)
}

/// Writes the chart as SVG.
pub fn render_svg(panels: &[ChartPanel], path: &Path) -> Result<()> {
    register_font();
    let (w, h, rows, cols) = size(panels);
    let err = |message: String| ResultsError::Chart {
        path: path.to_path_buf(),
        message,
    };
    {
        let root = SVGBackend::new(path, (w, h)).into_drawing_area();
        draw(&root, panels, rows, cols).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// Writes the chart as PNG (drawn into memory, encoded with `image`).
pub fn render_png(panels: &[ChartPanel], path: &Path) -> Result<()> {
    register_font();
    let (w, h, rows, cols) = size(panels);
    let err = |message: String| ResultsError::Chart {
        path: path.to_path_buf(),
        message,
    };
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root, panels, rows, cols).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| err("the pixel buffer has the wrong size".into()))?;
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| err(e.to_string()))
}

/// A tick label: up to 3 significant digits, trailing zeros dropped.
pub(crate) fn tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i64).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[ChartPanel],
    rows: usize,
    cols: usize,
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    if panels.is_empty() {
        root.draw(&Text::new(
            "nothing to plot (no ok runs with a main metric here)",
            (20, 20),
            ("sans-serif", 18).into_font(),
        ))
        .map_err(e)?;
        return Ok(());
    }
    let areas = root.split_evenly((rows, cols));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel).map_err(e)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &ChartPanel,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let points: Vec<&ChartPoint> = panel.series.iter().flat_map(|s| &s.points).collect();
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in &points {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.lo.min(p.y));
        y1 = y1.max(p.hi.max(p.y));
    }
    if points.is_empty() {
        (x0, x1, y0, y1) = (0.01, 100.0, 0.0, 100.0);
    }
    let (x0, x1) = (x0 / 2.0, x1 * 2.0);
    let pad = if y1 > y0 { (y1 - y0) * 0.1 } else { 1.0 };
    let (y0, y1) = (y0 - pad, y1 + pad);
    let mut title = panel.title.clone();
    if panel.skipped_zero > 0 {
        title.push_str(&format!(" ({} at 0% not shown)", panel.skipped_zero));
    }
    let (area, legend_area) = area.split_horizontally(PANEL_W - LEGEND_W);
    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d((x0..x1).log_scale(), y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(if panel.x_desc.is_empty() {
            "% parameters (deployed; log scale)"
        } else {
            panel.x_desc.as_str()
        })
        .y_desc(panel.metric.as_str())
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    if panel.pareto {
        // Behind the data: a step line through the front and a diamond under each of its points.
        let front = panel_front(panel);
        let grey = RGBColor(90, 90, 90);
        let mut steps: Vec<(f64, f64)> = Vec::new();
        for (i, &(x, y)) in front.iter().enumerate() {
            if i > 0 {
                steps.push((x, front[i - 1].1));
            }
            steps.push((x, y));
        }
        if !front.is_empty() {
            chart.draw_series(DashedLineSeries::new(steps, 6, 4, grey.stroke_width(2)))?;
            chart.draw_series(front.iter().map(|&(x, y)| {
                EmptyElement::at((x, y))
                    + Polygon::new(
                        vec![(0, -10), (10, 0), (0, 10), (-10, 0)],
                        grey.mix(0.45).filled(),
                    )
            }))?;
        }
    }
    for (i, series) in panel.series.iter().enumerate() {
        let color = series_colour(i);
        if panel.lines && series.points.len() > 1 {
            let mut line: Vec<(f64, f64)> = series.points.iter().map(|p| (p.x, p.y)).collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Past the palette's ten colours, dashed lines tell the series apart.
            if i < PALETTE.len() {
                chart.draw_series(LineSeries::new(line, color.stroke_width(1)))?;
            } else {
                chart.draw_series(DashedLineSeries::new(line, 5, 3, color.stroke_width(1)))?;
            }
        }
        // An error bar draws its own marker: one circle at the median per point.
        chart.draw_series(series.points.iter().map(|p| {
            ErrorBar::new_vertical(p.x, p.lo, p.y, p.hi, color.filled().stroke_width(2), 9)
        }))?;
    }
    draw_legend(&legend_area, panel)
}

fn series_colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The legend beside the plot: one entry per series (a filled square, hollow past the
/// palette's ten colours, where lines are dashed), then the Pareto front's.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &ChartPanel,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    const LINE: i32 = 16;
    const MAX_CHARS: usize = 46;
    let fits = ((PANEL_H as i32 - 60) / LINE) as usize;
    let mut entries: Vec<(String, Option<usize>)> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.label.clone(), Some(i)))
        .collect();
    if panel.pareto && !panel_front(panel).is_empty() {
        entries.push(("Pareto front".into(), None));
    }
    let more = entries.len().saturating_sub(fits);
    if more > 0 {
        entries.truncate(fits - 1);
    }
    let font = ("sans-serif", 11).into_font();
    for (k, (label, series)) in entries.iter().enumerate() {
        let y = 44 + k as i32 * LINE;
        match series {
            Some(i) => {
                let c = series_colour(*i);
                let style = if *i < PALETTE.len() {
                    c.filled()
                } else {
                    c.stroke_width(2)
                };
                area.draw(&Rectangle::new([(4, y - 5), (14, y + 5)], style))?;
            }
            None => {
                let grey = RGBColor(90, 90, 90);
                area.draw(&PathElement::new(
                    vec![(4, y + 4), (9, y + 4), (9, y - 4), (14, y - 4)],
                    grey.stroke_width(2),
                ))?;
            }
        }
        let text = if label.chars().count() > MAX_CHARS {
            let cut: String = label.chars().take(MAX_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            label.clone()
        };
        area.draw(&Text::new(text, (20, y - 6), font.clone()))?;
    }
    if more > 0 {
        let y = 44 + (fits as i32 - 1) * LINE;
        area.draw(&Text::new(
            format!("… and {} more", more + 1),
            (20, y - 6),
            font.clone(),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks() {
        assert_eq!(tick(0.1), "0.1");
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(94.26), "94.3");
        assert_eq!(tick(0.0125), "0.0125");
    }

    #[test]
    fn font_is_valid() {
        assert!(ab_glyph_font_ok());
    }

    fn ab_glyph_font_ok() -> bool {
        plotters::style::register_font("peftgrid-test", FontStyle::Normal, FONT).is_ok()
    }
}
