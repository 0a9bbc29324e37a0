//! Sweep reports: per-cell results, the mean ± std table over seeds (markdown) and the plot in
//! the style of Lester et al.'s Figure 3 (dev accuracy against prompt length on a log axis,
//! one line per init with error bars over seeds, zero-shot as a dashed line), as SVG and PNG.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;

/// What one sweep cell (one training run) reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Init name (`random_uniform`, `sampled_vocab`, `class_label`, ...).
    pub init: String,
    /// Prompt length `k`.
    pub length: usize,
    /// Seed.
    pub seed: u64,
    /// Best dev accuracy over the run's evaluations.
    pub best_accuracy: f64,
    /// Step of the best evaluation.
    pub best_step: usize,
    /// Dev accuracy at the last step (absent when an earlier session finished the run).
    pub final_accuracy: Option<f64>,
    /// Steps trained.
    pub steps: usize,
    /// Seconds of training (evaluations included).
    pub seconds: f64,
}

/// Mean, sample standard deviation and count of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for a single value).
    pub std: f64,
    /// How many values.
    pub n: usize,
}

impl Spread {
    /// The spread of `values` (at least one).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Self {
            mean,
            std: var.sqrt(),
            n,
        }
    }
}

/// Results grouped by init, then by prompt length: the best dev accuracy's spread over seeds.
pub fn group(results: &[CellResult]) -> BTreeMap<String, BTreeMap<usize, Spread>> {
    let mut values: BTreeMap<String, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
    for r in results {
        values
            .entry(r.init.clone())
            .or_default()
            .entry(r.length)
            .or_default()
            .push(r.best_accuracy);
    }
    values
        .into_iter()
        .map(|(init, by_len)| {
            let spreads = by_len
                .into_iter()
                .map(|(len, v)| (len, Spread::of(&v)))
                .collect();
            (init, spreads)
        })
        .collect()
}

/// Markdown table: one row per init, one column per prompt length, cells `mean ± std` of the
/// best dev accuracy in percent over seeds, and a zero-shot row.
pub fn markdown_table(results: &[CellResult], zero_shot: Option<f64>) -> String {
    let groups = group(results);
    let mut lengths: Vec<usize> = results.iter().map(|r| r.length).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut out = String::from("| init |");
    for len in &lengths {
        out += &format!(" k = {len} |");
    }
    out += "\n|---|";
    out += &"---:|".repeat(lengths.len());
    out += "\n";
    for (init, by_len) in &groups {
        out += &format!("| {init} |");
        for len in &lengths {
            out += &match by_len.get(len) {
                Some(s) if s.n > 1 => {
                    format!(" {:.1} ± {:.1} |", 100.0 * s.mean, 100.0 * s.std)
                }
                Some(s) => format!(" {:.1} |", 100.0 * s.mean),
                None => " – |".to_string(),
            };
        }
        out += "\n";
    }
    if let Some(zero) = zero_shot {
        out += "| zero-shot (no prompt) |";
        out += &format!(" {:.1} |", 100.0 * zero).repeat(lengths.len());
        out += "\n";
    }
    out
}

/// Draws the plot into `<stem>.svg` and `<stem>.png`; `font` is a TrueType file for the PNG's
/// text (the SVG names the family and leaves drawing to the viewer).
pub fn draw_plot(
    results: &[CellResult],
    zero_shot: Option<f64>,
    title: &str,
    stem: &Path,
    font: &Path,
) -> Result<(PathBuf, PathBuf), EvalError> {
    let bytes = std::fs::read(font).map_err(|source| EvalError::Io {
        path: font.to_path_buf(),
        source,
    })?;
    // plotters keeps registered fonts for the life of the process.
    plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into()))
        .map_err(|_| EvalError::Format {
            path: font.to_path_buf(),
            what: "TrueType font",
            reason: "plotters cannot read it".to_string(),
        })?;
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let plot_error = |path: &Path| {
        let path = path.to_path_buf();
        move |e: String| EvalError::Format {
            path,
            what: "plot",
            reason: e,
        }
    };
    draw(
        SVGBackend::new(&svg, (800, 520)).into_drawing_area(),
        results,
        zero_shot,
        title,
    )
    .map_err(plot_error(&svg))?;
    draw(
        BitMapBackend::new(&png, (800, 520)).into_drawing_area(),
        results,
        zero_shot,
        title,
    )
    .map_err(plot_error(&png))?;
    Ok((svg, png))
}

/// Colours of the lines, one per init in name order.
const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn draw<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    results: &[CellResult],
    zero_shot: Option<f64>,
    title: &str,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    area.fill(&WHITE).map_err(e)?;
    let groups = group(results);
    let percent = |v: f64| 100.0 * v;
    let mut lows = vec![];
    let mut highs = vec![];
    for s in groups.values().flat_map(|g| g.values()) {
        lows.push(percent(s.mean - s.std));
        highs.push(percent(s.mean + s.std));
    }
    lows.extend(zero_shot.map(percent));
    highs.extend(zero_shot.map(percent));
    let low = lows.iter().cloned().fold(f64::INFINITY, f64::min);
    let high = highs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let (low, high) = if low.is_finite() {
        ((low - 3.0).floor().max(0.0), (high + 3.0).ceil().min(100.0))
    } else {
        (0.0, 100.0)
    };
    let max_len = results.iter().map(|r| r.length).max().unwrap_or(150) as f64;

    let mut chart = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d((0.8f64..max_len * 1.3).log_scale(), low..high)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("prompt length (tokens, log scale)")
        .y_desc("SST-2 dev accuracy (%)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(e)?;

    for (i, (init, by_len)) in groups.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = by_len
            .iter()
            .map(|(&len, s)| (len as f64, percent(s.mean)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(e)?
            .label(init.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(e)?;
        chart
            .draw_series(by_len.iter().map(|(&len, s)| {
                ErrorBar::new_vertical(
                    len as f64,
                    percent(s.mean - s.std),
                    percent(s.mean),
                    percent(s.mean + s.std),
                    color.stroke_width(1),
                    8,
                )
            }))
            .map_err(e)?;
    }
    if let Some(zero) = zero_shot {
        let style = BLACK.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.8, percent(zero)), (max_len * 1.3, percent(zero))],
                8,
                6,
                style,
            ))
            .map_err(e)?
            .label("zero-shot (template, no prompt)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    area.present().map_err(e)
}

/// The first TrueType font found among the usual Linux locations (DejaVu Sans, Liberation
/// Sans), for the PNG plot's text.
pub fn find_font() -> Option<PathBuf> {
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(init: &str, length: usize, seed: u64, best: f64) -> CellResult {
        CellResult {
            init: init.to_string(),
            length,
            seed,
            best_accuracy: best,
            best_step: 10,
            final_accuracy: Some(best),
            steps: 10,
            seconds: 1.0,
        }
    }

    #[test]
    fn spread_uses_the_sample_deviation() {
        let s = Spread::of(&[0.8, 0.9]);
        assert!((s.mean - 0.85).abs() < 1e-12);
        assert!((s.std - 0.0707106781).abs() < 1e-9);
        assert_eq!(Spread::of(&[0.7]).std, 0.0);
    }

    #[test]
    fn table_has_mean_and_std_per_cell_and_the_zero_shot_row() {
        let results = [
            cell("class_label", 1, 0, 0.80),
            cell("class_label", 1, 1, 0.90),
            cell("class_label", 20, 0, 0.88),
            cell("random_uniform", 1, 0, 0.5),
        ];
        let table = markdown_table(&results, Some(0.75));
        assert_eq!(
            table,
            "| init | k = 1 | k = 20 |\n|---|---:|---:|\n\
             | class_label | 85.0 ± 7.1 | 88.0 |\n\
             | random_uniform | 50.0 | – |\n\
             | zero-shot (no prompt) | 75.0 | 75.0 |\n"
        );
    }

    #[test]
    fn plot_files_are_written() {
        let Some(font) = find_font() else {
            panic!("no TrueType font found; install fonts-dejavu-core")
        };
        let dir = tempfile::tempdir().unwrap();
        let results = [
            cell("class_label", 1, 0, 0.80),
            cell("class_label", 1, 1, 0.84),
            cell("class_label", 20, 0, 0.88),
            cell("random_uniform", 1, 0, 0.55),
            cell("random_uniform", 20, 0, 0.70),
        ];
        let (svg, png) =
            draw_plot(&results, Some(0.75), "test", &dir.path().join("fig"), &font).unwrap();
        let svg_text = std::fs::read_to_string(svg).unwrap();
        assert!(svg_text.contains("class_label") && svg_text.contains("zero-shot"));
        let png_bytes = std::fs::read(png).unwrap();
        assert_eq!(&png_bytes[1..4], b"PNG");
    }
}
