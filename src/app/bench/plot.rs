//! `gpu-resnet bench --plot FILE.svg|FILE.png`: the seed's curve, latency against FLOPs (or
//! params), one point per model and one line per batch size and precision.
//!
//! Drawn with plotters (pure Rust). Text goes through ab_glyph and a DejaVu Sans subset we ship
//! (`assets/fonts`, licence beside it), so a PNG has legible text on machines without fonts.

use std::path::Path;
use std::sync::OnceLock;

use clap::ValueEnum;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::BenchResult;
use crate::error::{Error, Result};

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (1200, 750);
/// Tableau 10: one colour per batch size, distinct in print and for most colour-blind readers.
const COLORS: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlotX {
    /// GFLOPs per image (as the seed counts: 2 x multiply-adds).
    Flops,
    /// Millions of parameters.
    Params,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Svg,
    Png,
}

/// The picture format a file name asks for: checked before any timing runs.
pub(super) fn check_path(path: &Path) -> Result<()> {
    kind(path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(Error::Input(format!(
            "--plot {}: the folder {} does not exist",
            path.display(),
            dir.display()
        ))),
        _ => Ok(()),
    }
}

fn kind(path: &Path) -> Result<Kind> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("svg") => Ok(Kind::Svg),
        Some("png") => Ok(Kind::Png),
        _ => Err(Error::Input(format!(
            "--plot {}: the file name must end in .svg or .png",
            path.display()
        ))),
    }
}

/// The latency a point shows: the GPU median where the adapter has timestamps, else wall.
fn latency_ms(r: &BenchResult) -> f64 {
    r.gpu_ms.as_ref().map_or(r.wall_ms.median, |g| g.median)
}

fn x_of(r: &BenchResult, x: PlotX) -> f64 {
    match x {
        PlotX::Flops => r.flops as f64 / r.batch.max(1) as f64 / 1e9,
        PlotX::Params => r.params as f64 / 1e6,
    }
}

/// One line of the plot: a precision at a batch size, points sorted along x.
struct Line {
    precision: &'static str,
    batch: usize,
    points: Vec<(f64, f64)>,
}

fn lines(results: &[BenchResult], x: PlotX) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for r in results {
        let point = (x_of(r, x), latency_ms(r));
        match out
            .iter_mut()
            .find(|l| l.precision == r.precision && l.batch == r.batch)
        {
            Some(l) => l.points.push(point),
            None => out.push(Line {
                precision: r.precision,
                batch: r.batch,
                points: vec![point],
            }),
        }
    }
    for l in &mut out {
        l.points
            .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    out.sort_by_key(|l| (l.precision, l.batch));
    out
}

/// One label per distinct x, above the highest point there: models with the same FLOPs
/// (ResNet50_vc/_vd and its releases) share a label, "first +N".
fn labels(results: &[BenchResult], x: PlotX) -> Vec<(f64, f64, String)> {
    let mut groups: Vec<(f64, f64, Vec<&str>)> = Vec::new();
    for r in results {
        let (px, py) = (x_of(r, x), latency_ms(r));
        match groups
            .iter_mut()
            .find(|g| (g.0 - px).abs() <= 1e-6 * px.abs().max(1.0))
        {
            Some(g) => {
                g.1 = g.1.max(py);
                if !g.2.contains(&r.model.as_str()) {
                    g.2.push(&r.model);
                }
            }
            None => groups.push((px, py, vec![&r.model])),
        }
    }
    groups
        .into_iter()
        .map(|(px, py, names)| {
            let text = match names.len() {
                1 => names[0].to_string(),
                n => format!("{} +{}", names[0], n - 1),
            };
            (px, py, text)
        })
        .collect()
}

fn register() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(Error::Input(
            "the plot's built-in font does not load".into(),
        ))
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    x: PlotX,
    title: &str,
    results: &[BenchResult],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let lines = lines(results, x);
    let labels = labels(results, x);
    let max = |f: fn(&(f64, f64)) -> f64| {
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(f))
            .fold(0.0, f64::max)
    };
    // Room right of the last point and above the highest for the model labels.
    let x_max = (max(|p| p.0) * 1.2).max(1e-3);
    let y_max = (max(|p| p.1) * 1.15).max(1e-3);
    let x_desc = match x {
        PlotX::Flops => "FLOPs per image (G)",
        PlotX::Params => "Parameters (M)",
    };

    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 26))
        .margin(24)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    // Enough decimals to tell ticks apart, from a GPU's ~1 ms to a CPU adapter's seconds.
    let decimals = match y_max {
        m if m >= 50.0 => 0,
        m if m >= 5.0 => 1,
        _ => 2,
    };
    let y_label = move |v: &f64| format!("{v:.decimals$}");
    chart
        .configure_mesh()
        .y_label_formatter(&y_label)
        .x_desc(x_desc)
        .y_desc("Latency per call, whole batch (ms)")
        .axis_desc_style((FAMILY, 20))
        .label_style((FAMILY, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    let mut batches: Vec<usize> = lines.iter().map(|l| l.batch).collect();
    batches.sort_unstable();
    batches.dedup();
    for line in &lines {
        let i = batches.iter().position(|&b| b == line.batch).unwrap_or(0);
        let (r, g, b) = COLORS[i % COLORS.len()];
        let color = RGBColor(r, g, b);
        let style = color.stroke_width(3);
        let name = format!("{} batch {}", line.precision.to_uppercase(), line.batch);
        let points = line.points.clone();
        // FP16 dashed, FP32 solid; colour says the batch size.
        if line.precision == "fp16" {
            chart
                .draw_series(DashedLineSeries::new(points, 10, 6, style))?
                .label(name)
                .legend(move |(x, y)| {
                    DashedPathElement::new(vec![(x, y), (x + 28, y)], 6, 4, style)
                });
        } else {
            chart
                .draw_series(LineSeries::new(points, style))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 28, y)], style));
        }
        chart.draw_series(
            line.points
                .iter()
                .map(|&p| Circle::new(p, 5, color.filled())),
        )?;
    }
    let label_style = TextStyle::from((FAMILY, 15).into_font()).color(&BLACK);
    chart.draw_series(labels.iter().map(|(px, py, text)| {
        EmptyElement::at((*px, *py)) + Text::new(text.clone(), (6, -22), label_style.clone())
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 17))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()
}

/// Draw the curve of `results` to `path` (.svg or .png).
pub(super) fn plot(path: &Path, x: PlotX, title: &str, results: &[BenchResult]) -> Result<()> {
    let kind = kind(path)?;
    register()?;
    let drawing = |e: String| Error::io(path, std::io::Error::other(format!("drawing: {e}")));
    match kind {
        Kind::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                draw(&root, x, title, results).map_err(|e| drawing(e.to_string()))?;
            }
            std::fs::write(path, svg).map_err(|e| Error::io(path, e))
        }
        Kind::Png => {
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                draw(&root, x, title, results).map_err(|e| drawing(e.to_string()))?;
            }
            write_png(path, &rgb)
        }
    }
}

fn write_png(path: &Path, rgb: &[u8]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let encoding = |e: png::EncodingError| match e {
        png::EncodingError::IoError(e) => Error::io(path, e),
        other => Error::io(path, std::io::Error::other(other)),
    };
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), SIZE.0, SIZE.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(encoding)?;
    writer.write_image_data(rgb).map_err(encoding)?;
    writer.finish().map_err(encoding)
}
