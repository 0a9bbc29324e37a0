//! The sweep's figures, as SVG and PNG: dev accuracy against prompt length (Lester et al.'s
//! Figure 3(a), one line per init), accuracy by init for each length (Figure 3(b), bars), both
//! with error bars of one standard deviation over seeds and zero-shot as a dashed line, and the
//! learning curves (one panel per length, a line per seed and the seeds' mean per init).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{CellResult, Spread, ZeroShot, best_accuracy, group};
use crate::error::EvalError;

/// The files of the three figures, each as `.svg` and `.png`.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Accuracy against prompt length, one line per init (Figure 3(a)'s layout).
    pub by_length: [PathBuf; 2],
    /// Accuracy by init for each length (Figure 3(b)).
    pub by_init: [PathBuf; 2],
    /// Learning curves of every cell.
    pub curves: [PathBuf; 2],
}

/// Draws the three figures into `folder` (`figure_length`, `figure_init`, `curves`); `font` is a
/// TrueType file for the PNGs' text (the SVGs name the family and leave drawing to the viewer).
pub fn draw_figures(
    results: &[CellResult],
    zero_shot: Option<ZeroShot>,
    title: &str,
    folder: &Path,
    font: &Path,
) -> Result<Figures, EvalError> {
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
    let data = PlotData {
        results,
        zero: zero_shot.map(|z| 100.0 * z.accuracy),
        title,
    };
    Ok(Figures {
        by_length: render(&ByLength(&data), &folder.join("figure_length"), (800, 520))?,
        by_init: render(&ByInit(&data), &folder.join("figure_init"), (900, 520))?,
        curves: render(&Curves(&data), &folder.join("curves"), (1200, 760))?,
    })
}

/// The first TrueType font found among the usual Linux locations (DejaVu Sans, Liberation
/// Sans), for the PNG plots' text.
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

/// What every figure draws from; accuracies in percent.
struct PlotData<'a> {
    results: &'a [CellResult],
    zero: Option<f64>,
    title: &'a str,
}

impl PlotData<'_> {
    /// The best accuracy's spread over seeds, in percent, by init then length, and a y range
    /// that holds one standard deviation either side.
    fn best(&self) -> (BTreeMap<String, BTreeMap<usize, Spread>>, Range<f64>) {
        let groups = group(self.results, |r| 100.0 * best_accuracy(r));
        let y = self.y_range(
            groups
                .values()
                .flat_map(|g| g.values())
                .flat_map(|s| [s.mean - s.std, s.mean + s.std]),
        );
        (groups, y)
    }

    fn lengths(&self) -> Vec<usize> {
        let set: BTreeSet<usize> = self.results.iter().map(|r| r.length).collect();
        set.into_iter().collect()
    }

    /// A y range that holds `values` and zero-shot with a margin, in whole points.
    fn y_range(&self, values: impl Iterator<Item = f64>) -> Range<f64> {
        let (low, high) = values
            .chain(self.zero)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if low.is_finite() {
            (low - 3.0).floor().max(0.0)..(high + 3.0).ceil().min(100.0)
        } else {
            0.0..100.0
        }
    }
}

/// A figure that any plotters backend can draw, onto a white area.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Clears `area`, draws `figure` on it and writes it out.
fn draw_on<DB: DrawingBackend>(
    figure: &impl Figure,
    area: DrawingArea<DB, Shift>,
) -> Result<(), String> {
    area.fill(&WHITE).map_err(text_error)?;
    figure.draw(area.clone())?;
    area.present().map_err(text_error)
}

/// Draws `figure` into `<stem>.svg` and `<stem>.png`.
fn render(figure: &impl Figure, stem: &Path, size: (u32, u32)) -> Result<[PathBuf; 2], EvalError> {
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |reason: String| EvalError::Format {
            path,
            what: "plot",
            reason,
        }
    };
    draw_on(figure, SVGBackend::new(&svg, size).into_drawing_area()).map_err(failed(&svg))?;
    draw_on(figure, BitMapBackend::new(&png, size).into_drawing_area()).map_err(failed(&png))?;
    Ok([svg, png])
}

/// Colours, one per init in name order.
const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

fn text_error<E: std::error::Error + Send + Sync>(err: DrawingAreaErrorKind<E>) -> String {
    err.to_string()
}

/// Figure 3(a)'s layout: accuracy against prompt length on a log axis, a line per init.
struct ByLength<'a>(&'a PlotData<'a>);

impl Figure for ByLength<'_> {
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, Shift>) -> Result<(), String> {
        let data = self.0;
        let (groups, y) = data.best();
        let max_len = data.lengths().last().copied().unwrap_or(150) as f64;
        let x = 0.8f64..max_len * 1.3;
        let mut chart = ChartBuilder::on(&area)
            .caption(data.title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x.clone().log_scale(), y)
            .map_err(text_error)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&|x| format!("{x:.0}"));
        label_axes(
            &mut mesh,
            "prompt length (tokens, log scale)",
            "best dev accuracy (%)",
            15,
        )
        .draw()
        .map_err(text_error)?;
        for (i, (init, by_len)) in groups.iter().enumerate() {
            let c = color(i);
            let points: Vec<(f64, f64)> = by_len
                .iter()
                .map(|(&len, s)| (len as f64, s.mean))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .map_err(text_error)?
                .label(init.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(text_error)?;
            chart
                .draw_series(by_len.iter().map(|(&len, s)| {
                    let (x, lo, hi) = (len as f64, s.mean - s.std, s.mean + s.std);
                    ErrorBar::new_vertical(x, lo, s.mean, hi, c.stroke_width(1), 8)
                }))
                .map_err(text_error)?;
        }
        zero_shot_and_legend(&mut chart, x, data.zero)
    }
}

/// Figure 3(b): for each prompt length a group of bars, one per init.
struct ByInit<'a>(&'a PlotData<'a>);

impl Figure for ByInit<'_> {
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, Shift>) -> Result<(), String> {
        let data = self.0;
        let (groups, y) = data.best();
        let lengths = data.lengths();
        let floor = y.start;
        let x = -0.5f64..lengths.len() as f64 - 0.5;
        let mut chart = ChartBuilder::on(&area)
            .caption(data.title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x.clone(), y)
            .map_err(text_error)?;
        let label = |x: &f64| {
            let i = x.round();
            match lengths.get(i as usize) {
                Some(len) if (x - i).abs() < 1e-6 && i >= 0.0 => format!("k = {len}"),
                _ => String::new(),
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh()
            .x_labels(lengths.len())
            .x_label_formatter(&label);
        label_axes(&mut mesh, "prompt length", "best dev accuracy (%)", 15)
            .draw()
            .map_err(text_error)?;
        let width = 0.8 / groups.len().max(1) as f64;
        for (j, (init, by_len)) in groups.iter().enumerate() {
            let c = color(j);
            let left = |i: usize| i as f64 - 0.4 + j as f64 * width;
            let bars = lengths.iter().enumerate().filter_map(|(i, len)| {
                let s = by_len.get(len)?;
                let x0 = left(i) + 0.05 * width;
                Some(Rectangle::new(
                    [(x0, floor), (x0 + 0.9 * width, s.mean)],
                    c.filled(),
                ))
            });
            chart
                .draw_series(bars)
                .map_err(text_error)?
                .label(init.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
            let errors = lengths.iter().enumerate().filter_map(|(i, len)| {
                let s = by_len.get(len)?;
                let mid = left(i) + 0.5 * width;
                let (lo, hi) = (s.mean - s.std, s.mean + s.std);
                Some(ErrorBar::new_vertical(
                    mid,
                    lo,
                    s.mean,
                    hi,
                    BLACK.stroke_width(1),
                    6,
                ))
            });
            chart.draw_series(errors).map_err(text_error)?;
        }
        zero_shot_and_legend(&mut chart, x, data.zero)
    }
}

/// The learning curves: a panel per prompt length, a thin line per seed and a thick one for
/// the seeds' mean per init.
struct Curves<'a>(&'a PlotData<'a>);

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, Shift>) -> Result<(), String> {
        let data = self.0;
        let area = area
            .titled(
                &format!("Learning curves: {}", data.title),
                ("sans-serif", 20),
            )
            .map_err(text_error)?;
        let inits: BTreeSet<&str> = data.results.iter().map(|r| r.init.as_str()).collect();
        let lengths = data.lengths();
        let all = data.results.iter().flat_map(|r| &r.curve);
        let y = data.y_range(all.clone().map(|p| 100.0 * p.accuracy));
        let max_step = all.map(|p| p.step).max().unwrap_or(1) as f64;
        let x = 0.0..max_step;
        let panels = area.split_evenly((2, lengths.len().div_ceil(2).max(1)));
        for (panel, &len) in panels.iter().zip(&lengths) {
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("k = {len}"), ("sans-serif", 17))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(44)
                .build_cartesian_2d(x.clone(), y.clone())
                .map_err(text_error)?;
            let mut mesh = chart.configure_mesh();
            mesh.x_label_formatter(&|step| format!("{step:.0}"));
            label_axes(&mut mesh, "step", "dev accuracy (%)", 12)
                .draw()
                .map_err(text_error)?;
            for (j, init) in inits.iter().enumerate() {
                let c = color(j);
                let cells: Vec<&CellResult> = data
                    .results
                    .iter()
                    .filter(|r| r.length == len && r.init == *init)
                    .collect();
                for cell in &cells {
                    let points = cell
                        .curve
                        .iter()
                        .map(|p| (p.step as f64, 100.0 * p.accuracy));
                    chart
                        .draw_series(LineSeries::new(points, c.mix(0.35).stroke_width(1)))
                        .map_err(text_error)?;
                }
                let mut by_step: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
                for p in cells.iter().flat_map(|r| &r.curve) {
                    by_step.entry(p.step).or_default().push(100.0 * p.accuracy);
                }
                let mean = by_step
                    .iter()
                    .map(|(&step, v)| (step as f64, Spread::of(v).mean));
                chart
                    .draw_series(LineSeries::new(mean, c.stroke_width(2)))
                    .map_err(text_error)?
                    .label(*init)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
            }
            if len == lengths[0] {
                zero_shot_and_legend(&mut chart, x.clone(), data.zero)?;
            } else if let Some(zero) = data.zero {
                zero_shot_line(&mut chart, x.clone(), zero)?;
            }
        }
        Ok(())
    }
}

/// Names the axes, sets the labels' font size (the axis names one point larger) and writes
/// accuracies as whole percents.
fn label_axes<'m, 'a, 'b, X: Ranged, Y: Ranged<ValueType = f64>, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    x: &str,
    y: &str,
    size: u32,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.x_desc(x)
        .y_desc(y)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", size))
        .axis_desc_style(("sans-serif", size + 1))
}

type Chart<'a, DB, X> =
    ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>;

fn zero_shot_line<'a, DB: DrawingBackend + 'a, X: Ranged<ValueType = f64>>(
    chart: &mut Chart<'a, DB, X>,
    x: Range<f64>,
    zero: f64,
) -> Result<(), String> {
    let style = BLACK.stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            [(x.start, zero), (x.end, zero)],
            8,
            6,
            style,
        ))
        .map_err(text_error)?
        .label("zero-shot (template, no prompt)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    Ok(())
}

/// The zero-shot line when there is one, then the legend in the lower right corner, where
/// accuracy plots leave room.
fn zero_shot_and_legend<'a, DB: DrawingBackend + 'a, X: Ranged<ValueType = f64>>(
    chart: &mut Chart<'a, DB, X>,
    x: Range<f64>,
    zero: Option<f64>,
) -> Result<(), String> {
    if let Some(zero) = zero {
        zero_shot_line(chart, x, zero)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(text_error)
}

#[cfg(test)]
mod tests {
    use super::super::test_cell;
    use super::*;

    #[test]
    fn every_figure_is_written_as_svg_and_png() {
        let Some(font) = find_font() else {
            panic!("no TrueType font found; install fonts-dejavu-core")
        };
        let dir = tempfile::tempdir().unwrap();
        let results = [
            test_cell("class_label", 1, 0, &[0.70, 0.80]),
            test_cell("class_label", 1, 1, &[0.72, 0.84]),
            test_cell("class_label", 20, 0, &[0.80, 0.88]),
            test_cell("random_uniform", 1, 0, &[0.50, 0.55]),
            test_cell("random_uniform", 20, 0, &[0.60, 0.70]),
        ];
        let zero = ZeroShot {
            accuracy: 0.75,
            examples: 872,
        };
        let figures = draw_figures(&results, Some(zero), "test", dir.path(), &font).unwrap();
        for [svg, png] in [figures.by_length, figures.by_init, figures.curves] {
            let svg_text = std::fs::read_to_string(svg).unwrap();
            assert!(svg_text.contains("class_label") && svg_text.contains("zero-shot"));
            assert_eq!(&std::fs::read(png).unwrap()[1..4], b"PNG");
        }
    }
}
