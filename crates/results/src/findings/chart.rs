//! `findings.svg`: one row per covered finding (a forest plot). Each pair's difference Δ = a − b
//! is a dot (spread a little vertically so that equal values stay visible), the mean Δ a
//! diamond with its 95% bootstrap interval as a bar below the dots, coloured by the verdict
//! (green holds, red contradicted, grey inconclusive). A vertical line marks Δ = 0 and, for a
//! "not worse" finding, a dashed segment in its row marks −margin. Findings without pairs are
//! not drawn (`findings.md` lists them). Same font and SVG conventions as
//! [`crate::chart`]: one `<circle>` per pair.

use std::path::Path;

use plotters::prelude::*;

use super::{Expect, FindingResult, Verdict};
use crate::chart::{register_font, tick, PALETTE};
use crate::error::{Result, ResultsError};

const WIDTH: u32 = 960;
const ROW_H: u32 = 72;
const LABEL_W: u32 = 300;

fn verdict_colour(v: Verdict) -> RGBColor {
    let (r, g, b) = match v {
        Verdict::Holds => PALETTE[2],
        Verdict::Contradicted => PALETTE[3],
        _ => PALETTE[7],
    };
    RGBColor(r, g, b)
}

/// Writes `findings.svg` (see the module documentation).
pub fn write_findings_svg(results: &[FindingResult], path: &Path) -> Result<()> {
    register_font();
    let covered: Vec<&FindingResult> = results.iter().filter(|r| r.covered()).collect();
    let height = 110 + ROW_H * covered.len().max(1) as u32;
    let err = |message: String| ResultsError::Chart {
        path: path.to_path_buf(),
        message,
    };
    {
        let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
        draw(&root, &covered).map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// The same chart as PNG (drawn into memory, encoded with `image`).
pub fn write_findings_png(results: &[FindingResult], path: &Path) -> Result<()> {
    register_font();
    let covered: Vec<&FindingResult> = results.iter().filter(|r| r.covered()).collect();
    let height = 110 + ROW_H * covered.len().max(1) as u32;
    let err = |message: String| ResultsError::Chart {
        path: path.to_path_buf(),
        message,
    };
    let mut buf = vec![0u8; (WIDTH * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, height)).into_drawing_area();
        draw(&root, &covered).map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let img = image::RgbImage::from_raw(WIDTH, height, buf)
        .ok_or_else(|| err("the pixel buffer has the wrong size".into()))?;
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| err(e.to_string()))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    covered: &[&FindingResult],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    if covered.is_empty() {
        root.draw(&Text::new(
            "no finding is covered by these results (findings.md says which runs to add)",
            (20, 40),
            ("sans-serif", 16).into_font(),
        ))?;
        return Ok(());
    }
    let n = covered.len();
    let (mut x0, mut x1) = (0.0f64, 0.0f64);
    for r in covered {
        for p in &r.pairs {
            x0 = x0.min(p.diff);
            x1 = x1.max(p.diff);
        }
        if let Some((lo, hi)) = r.interval {
            x0 = x0.min(lo);
            x1 = x1.max(hi);
        }
        x0 = x0.min(r.threshold());
    }
    let pad = if x1 > x0 { (x1 - x0) * 0.08 } else { 1.0 };
    let (x0, x1) = (x0 - pad, x1 + pad);
    let (y0, y1) = (-0.5, n as f64 - 0.5);
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Findings: paired differences Δ = a − b (dots: pairs; diamond and bar: mean, 95% CI)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(LABEL_W)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("Δ in score points (> 0: a better)")
        .x_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    // Row bands, alternately shaded, and the zero line.
    for k in 0..n {
        let y = (n - 1 - k) as f64;
        if k % 2 == 1 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y - 0.5), (x1, y + 0.5)],
                RGBColor(240, 240, 240).filled(),
            )))?;
        }
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, y0), (0.0, y1)],
        BLACK.stroke_width(1),
    )))?;
    for (k, r) in covered.iter().enumerate() {
        let y = (n - 1 - k) as f64;
        let colour = verdict_colour(r.verdict);
        if r.finding.expect == Expect::ANotWorse {
            let m = r.threshold();
            chart.draw_series(DashedLineSeries::new(
                vec![(m, y - 0.45), (m, y + 0.45)],
                5,
                3,
                RGBColor(214, 39, 40).stroke_width(1),
            ))?;
        }
        chart.draw_series(r.pairs.iter().enumerate().map(|(j, p)| {
            let jitter = ((j * 7) % 5) as f64 * 0.05 - 0.1;
            Circle::new((p.diff, y + 0.18 + jitter), 3, colour.mix(0.6).filled())
        }))?;
        if let (Some(mean), Some((lo, hi))) = (r.mean, r.interval) {
            let yb = y - 0.18;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(lo, yb), (hi, yb)],
                colour.stroke_width(3),
            )))?;
            for end in [lo, hi] {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(end, yb - 0.1), (end, yb + 0.1)],
                    colour.stroke_width(2),
                )))?;
            }
            chart.draw_series(std::iter::once(
                EmptyElement::at((mean, yb))
                    + Polygon::new(vec![(0, -7), (7, 0), (0, 7), (-7, 0)], colour.filled()),
            ))?;
        }
        // The finding's name and verdict in the label area, left of its row.
        let (_, py) = chart.backend_coord(&(x0, y));
        root.draw(&Text::new(
            r.finding.id.clone(),
            (16, py - 16),
            ("sans-serif", 13).into_font(),
        ))?;
        root.draw(&Text::new(
            format!("{}, {} pairs", r.verdict, r.pairs.len()),
            (16, py + 2),
            ("sans-serif", 13).into_font().color(&colour),
        ))?;
    }
    Ok(())
}
