//! `gpu-resnet bench` and `gpu-resnet peak`: the seed's latency tables on this adapter, per-layer
//! profiles, the seed's latency-vs-FLOPs curve, and the adapter's own FMA / bandwidth ceilings
//! to judge them against. Tables in `table.rs`, `--profile` in `profile.rs`, `--plot` in
//! `plot.rs`.

mod noise;
mod plot;
mod profile;
mod table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

pub use plot::PlotX;
pub use table::seed_headers;

use crate::app::args::DeviceArgs;
use crate::app::seed::SEED_LATENCY;
use crate::arch::{self, Graph, ModelSpec, Stage1Shortcut};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::{self, peak::FmaShape, Storage};
use crate::model::{choose_storage, F16Mode, Model, Precision};
use crate::open::{load_weights, WeightsSource};
use crate::plan;
pub use crate::weights::synthetic::synthetic_input;
use crate::weights::ModelWeights;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareWith {
    V100,
    T4,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Models to time, comma-separated (default: the seed's table, or the model of --weights).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Time these weights (any format `infer` reads: .pdparams, safetensors, a Paddle
    /// inference model, ONNX) instead of synthetic ones; the model is recognised from the file
    /// (`--models`, if given, must name that one model).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 4, 8])]
    pub batch: Vec<usize>,
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = vec![Precision::F16, Precision::F32])]
    pub precision: Vec<Precision>,
    #[arg(long, value_enum, default_value_t = F16Mode::Auto)]
    pub f16_mode: F16Mode,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Untimed runs before timing each configuration.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Timed runs per configuration (fewer if --max-seconds runs out first; at least one).
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Time budget per configuration, in seconds, after which timing stops early.
    #[arg(long, default_value_t = 15.0)]
    pub max_seconds: f64,
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
    /// Write the table here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Print the seed's figure and our ratio beside each of ours.
    #[arg(long, value_enum)]
    pub compare: Option<CompareWith>,
    /// Per-layer breakdown of the first model, batch and precision.
    #[arg(long)]
    pub profile: bool,
    /// Draw latency against FLOPs (or params) to this .svg or .png file: one point per model,
    /// one line per batch size and precision.
    #[arg(long, value_name = "FILE.svg|FILE.png", conflicts_with = "profile")]
    pub plot: Option<PathBuf>,
    /// The plot's x axis.
    #[arg(long, value_enum, default_value_t = PlotX::Flops)]
    pub plot_x: PlotX,
    /// Square input side instead of each model's crop (smaller for quick runs and tests).
    #[arg(long, hide = true)]
    pub size: Option<u32>,
}

#[derive(Args, Debug)]
pub struct PeakArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Print every FMA kernel shape the sweep timed, with its rate.
    #[arg(long)]
    pub shapes: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub p90: f64,
}

impl Stats {
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Some(Stats {
            min: s[0],
            median: at(0.5),
            p90: at(0.9),
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub model: String,
    pub arch: &'static str,
    pub precision: &'static str,
    pub storage: &'static str,
    pub batch: usize,
    pub crop: u32,
    pub resize_short: u32,
    /// The side of the square input that ran: the crop unless `--size` says otherwise.
    pub input_size: u32,
    pub wall_ms: Stats,
    pub gpu_ms: Option<Stats>,
    pub samples_ms: Vec<f64>,
    /// GPU time of each run (timestamp queries), where measured.
    pub gpu_samples_ms: Vec<f64>,
    /// Achieved GFLOP/s from the GPU median where measured, else from the wall median.
    pub gflops: f64,
    /// Achieved GFLOP/s of the fastest run (GPU time where measured, else wall).
    pub gflops_best: f64,
    /// The FMA peak of the arithmetic this row computes in, measured before each of its runs
    /// (GFLOP/s, in run order).
    pub peak_samples_gflops: Vec<f64>,
    /// Best of N on both sides: `gflops_best` over the highest peak sample.
    pub fraction_of_peak: Option<f64>,
    /// Medians on both sides: `gflops` over the median peak sample.
    pub fraction_of_peak_median: Option<f64>,
    /// FLOPs of one run (the whole batch).
    pub flops: u64,
    pub params: u64,
    /// Conv dispatches whose tile came from the tuning cache (`gpu-resnet tune`) or the shipped
    /// table, of all.
    pub tuned_convs: usize,
    pub convs: usize,
    /// Conv dispatches by where their tile came from.
    pub tiles: crate::plan::TileCounts,
    /// Convs run as Winograd: their FLOPs count as the direct conv's, so the row's ratio to
    /// the FMA peak may pass 100% (the point of Winograd) without being distrusted.
    pub winograd_convs: usize,
    /// The wall samples' p90 over their minimum.
    pub spread: f64,
    /// Why this row's ratio is not to be trusted (even its best-of-N is unstable), if it is not.
    pub distrust: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub shader_f16: bool,
    pub timestamps: bool,
    pub fp32_peak_gflops: f64,
    /// The FP32 peak measured again after the table (a busy machine shows as a change).
    pub fp32_peak_after_gflops: Option<f64>,
    /// Whether the table's noise check found the machine's load changing.
    pub noisy: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    adapter: AdapterReport,
    engine: String,
    results: &'a [BenchResult],
}

/// Measured ceilings of the adapter.
#[derive(Clone, Debug, Serialize)]
pub struct Peak {
    pub fp32_gflops: f64,
    pub fp16_gflops: Option<f64>,
    /// The FMA kernel shapes that reached them (bench measures them again between runs).
    pub fp32_shape: FmaShape,
    pub fp16_shape: Option<FmaShape>,
    /// Every shape each sweep timed, with its rate (GFLOP/s).
    #[serde(skip)]
    pub tried: Vec<(&'static str, FmaShape, f64)>,
    pub bandwidth_gbs: f64,
    /// Fixed cost of one (empty) dispatch in a pass, microseconds.
    pub dispatch_us: f64,
}

/// FMA throughput (f32, and f16 where SHADER_F16 exists: each the best of a sweep of the
/// kernel's shape) and copy bandwidth of the adapter.
pub fn measure_peak(ctx: &GpuContext) -> Result<Peak> {
    let fp16 = if ctx.has(wgpu::Features::SHADER_F16) {
        Some(kernels::peak::fma_peak(ctx, Storage::F16Native)?)
    } else {
        None
    };
    let fp32 = kernels::peak::fma_peak(ctx, Storage::F32)?;
    let tried = (fp32.tried.iter().map(|&(s, g)| ("FP32", s, g)))
        .chain(
            fp16.iter()
                .flat_map(|p| p.tried.iter().map(|&(s, g)| ("FP16", s, g))),
        )
        .collect();
    Ok(Peak {
        fp32_gflops: fp32.gflops,
        fp16_gflops: fp16.as_ref().map(|p| p.gflops),
        fp32_shape: fp32.shape,
        fp16_shape: fp16.as_ref().map(|p| p.shape),
        tried,
        bandwidth_gbs: kernels::peak::copy_gbs(ctx)?,
        dispatch_us: kernels::peak::dispatch_overhead_us(ctx)?,
    })
}

pub fn peak(args: PeakArgs) -> Result<()> {
    let ctx = args.device.context()?;
    let p = measure_peak(&ctx)?;
    println!("adapter: {}", ctx.describe());
    println!(
        "FP32 FMA peak: {:.1} GFLOP/s ({})",
        p.fp32_gflops, p.fp32_shape
    );
    match (p.fp16_gflops, p.fp16_shape) {
        (Some(f), Some(shape)) => {
            println!("FP16 FMA peak: {f:.1} GFLOP/s (native f16 arithmetic; {shape})")
        }
        _ => println!("FP16 FMA peak: n/a (no SHADER_F16; FP16 runs packed, computing in f32)"),
    }
    if args.shapes {
        for (what, shape, gflops) in &p.tried {
            println!("  {what} {gflops:7.1} GFLOP/s  {shape}");
        }
    }
    println!("copy bandwidth: {:.1} GB/s", p.bandwidth_gbs);
    println!(
        "fixed cost per dispatch: {:.1} us (empty dispatches in one pass)",
        p.dispatch_us
    );
    Ok(())
}

fn default_models() -> Vec<String> {
    SEED_LATENCY.iter().map(|s| s.name.to_string()).collect()
}

/// The bench's weights for `spec`: `--weights`, else synthetic, opened like any other source.
fn bench_weights(spec: &ModelSpec, args: &BenchArgs) -> Result<ModelWeights> {
    let source = match &args.weights {
        Some(path) => WeightsSource::Path(path.clone()),
        None => WeightsSource::Synthetic {
            classes: 1000,
            seed: 0,
        },
    };
    Ok(load_weights(&source, Some(&spec.name))?.weights)
}

/// The side of the square input a model runs at: `--size`, else the seed's crop.
fn input_size(spec: &ModelSpec, args: &BenchArgs) -> usize {
    args.size.map_or(spec.crop as usize, |s| s as usize)
}

/// Argument errors, found before the adapter is touched.
fn check_args(args: &BenchArgs) -> Result<Vec<ModelSpec>> {
    let names = match (&args.weights, args.models.is_empty()) {
        (Some(_), false) if args.models.len() > 1 => {
            return Err(Error::Input(
                "--weights times one model: give at most one name in --models".into(),
            ))
        }
        (Some(path), true) => {
            let source = WeightsSource::Path(path.clone());
            vec![load_weights(&source, None)?.spec.name]
        }
        (None, true) => default_models(),
        (_, false) => args.models.clone(),
    };
    let specs: Vec<ModelSpec> = names
        .iter()
        .map(|n| arch::resolve(n.trim()))
        .collect::<Result<_>>()?;
    if args.batch.is_empty() || args.batch.contains(&0) {
        return Err(Error::Input("--batch needs sizes of at least 1".into()));
    }
    if args.iters == 0 {
        return Err(Error::Input("--iters must be at least 1".into()));
    }
    if let Some(s) = args.size {
        if !Graph::valid_input(s as usize, s as usize) {
            return Err(Error::Input(format!("--size {s} is outside 1..=8192")));
        }
    }
    if args.max_seconds.is_nan() || args.max_seconds <= 0.0 {
        return Err(Error::Input("--max-seconds must be above 0".into()));
    }
    if let Some(path) = &args.plot {
        plot::check_path(path)?;
    }
    Ok(specs)
}

/// The device limits of the configurations to run, checked before anything is uploaded or run,
/// so that an impossible batch fails at once, naming the limit, not after minutes of timing.
fn check_limits(
    ctx: &GpuContext,
    specs: &[ModelSpec],
    batches: &[usize],
    precisions: &[Precision],
    args: &BenchArgs,
) -> Result<()> {
    for spec in specs {
        let size = input_size(spec, args);
        // Synthetic weights use PaddleClas's stage-1 projection; the class count does not
        // change activation sizes.
        let graph = spec
            .arch
            .graph(size, size, 1000, Stage1Shortcut::Projection);
        for &precision in precisions {
            // Every f16 storage keeps 2 bytes per value; which one will run does not matter.
            let storage = match precision {
                Precision::F32 => Storage::F32,
                Precision::F16 => Storage::F16Packed,
            };
            for &batch in batches {
                plan::check_limits(&graph, batch, storage, &ctx.limits)?;
            }
        }
    }
    Ok(())
}

/// A bar on stderr (indicatif hides it when stderr is not a terminal); stdout carries only the
/// table.
fn progress_bar(total: usize) -> ProgressBar {
    let style = ProgressStyle::with_template("[{bar:30}] {pos}/{len} {elapsed:>4} {msg}")
        .map(|s| s.progress_chars("#>-"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(total as u64).with_style(style);
    // One configuration can take many seconds on a CPU adapter: keep the clock moving.
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

pub fn bench(args: BenchArgs) -> Result<()> {
    let specs = check_args(&args)?;
    let ctx = args.device.context()?;
    if args.profile {
        // Only the first configuration is profiled.
        check_limits(
            &ctx,
            &specs[..1],
            &args.batch[..1],
            &args.precision[..1],
            &args,
        )?;
        let needs = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        if !ctx.has(needs) {
            return Err(Error::Unsupported {
                adapter: ctx.describe(),
                what: "TIMESTAMP_QUERY_INSIDE_PASSES, which --profile needs for per-dispatch times"
                    .into(),
            });
        }
    } else {
        check_limits(&ctx, &specs, &args.batch, &args.precision, &args)?;
    }
    let progress = progress_bar(specs.len() * args.precision.len() * args.batch.len());
    // The bar is cleared on errors too, so that the message starts on a clean line.
    let timed = run_all(&ctx, &specs, &args, &progress);
    progress.finish_and_clear();
    let (peak, mut results) = match timed? {
        Timed::Profiled => return Ok(()),
        Timed::Table(peak, results) => (peak, results),
    };
    // The peak again, after the table: a machine whose load changed shows it.
    let after = measure_peak(&ctx)?;
    let check = noise::PeakCheck {
        before: peak.fp32_gflops,
        after: after.fp32_gflops,
    };
    noise::judge(&mut results);
    let adapter = AdapterReport {
        name: ctx.info.name.clone(),
        backend: format!("{:?}", ctx.info.backend),
        device_type: format!("{:?}", ctx.info.device_type),
        driver: ctx.info.driver.clone(),
        driver_info: ctx.info.driver_info.clone(),
        shader_f16: ctx.has(wgpu::Features::SHADER_F16),
        timestamps: ctx.has(wgpu::Features::TIMESTAMP_QUERY),
        fp32_peak_gflops: peak.fp32_gflops,
        fp32_peak_after_gflops: Some(after.fp32_gflops),
        noisy: check.warning(),
    };
    let title = format!(
        "gpu-resnet on {} ({}), {}",
        adapter.name,
        adapter.backend,
        args.size
            .map_or("the seed's crop sizes".into(), |s| format!("{s}x{s} input"))
    );
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&Report {
            adapter,
            engine: format!("gpu-resnet {}", env!("CARGO_PKG_VERSION")),
            results: &results,
        })
        .map_err(|e| Error::Input(format!("serialising the report: {e}")))?,
        Format::Csv => table::csv(&results),
        Format::Md => table::markdown(&adapter, &specs, &args, &results),
    };
    // The table first: a plot that cannot be written must not lose minutes of measurements.
    emit(&text, args.output.as_deref())?;
    match &args.plot {
        Some(path) => plot::plot(path, args.plot_x, &title, &results),
        None => Ok(()),
    }
}

enum Timed {
    /// `--profile` printed its own table.
    Profiled,
    Table(Peak, Vec<BenchResult>),
}

/// The peak measurement, then every configuration (or the profile), advancing `progress`.
fn run_all(
    ctx: &GpuContext,
    specs: &[ModelSpec],
    args: &BenchArgs,
    progress: &ProgressBar,
) -> Result<Timed> {
    progress.set_message("measuring the adapter's FMA peak and bandwidth");
    let peak = measure_peak(ctx)?;
    if args.profile {
        profile::profile(ctx, &specs[0], args, &peak, progress)?;
        return Ok(Timed::Profiled);
    }
    let mut results = Vec::new();
    for spec in specs {
        let weights = bench_weights(spec, args)?;
        for &precision in &args.precision {
            let storage = choose_storage(ctx, precision, args.f16_mode)?;
            let model = Model::new(ctx, &weights, storage)?;
            if let Some(w) = model.tune_status.warning() {
                progress.suspend(|| eprintln!("{w}"));
            }
            for &batch in &args.batch {
                progress.set_message(format!("{} {} batch {batch}", spec.name, storage.name()));
                results.push(time_config(&model, spec, precision, batch, args, &peak)?);
                progress.inc(1);
            }
        }
    }
    Ok(Timed::Table(peak, results))
}

/// The report, to `--output` or stdout; a reader that stops early (`| head`) is not an error.
fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    let text = format!("{}\n", text.trim_end());
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| Error::io(path, e)),
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", e)),
            _ => Ok(()),
        },
    }
}

fn time_config(
    model: &Model,
    spec: &ModelSpec,
    precision: Precision,
    batch: usize,
    args: &BenchArgs,
    peak: &Peak,
) -> Result<BenchResult> {
    let size = input_size(spec, args);
    let plan = model.plan(batch, size, size)?;
    let input = synthetic_input(plan.input_len(), 1);
    for _ in 0..args.warmup {
        plan.run(&input)?;
    }
    let mut wall = Vec::new();
    let mut gpu = Vec::new();
    let mut peaks = Vec::new();
    // The peak of the arithmetic this model computes in, measured again before each run: the
    // host's speed moves minute to minute, and a ratio is honest only against the peak of the
    // same minutes.
    let (peak_storage, peak_shape) = match model.storage {
        Storage::F16Native => (Storage::F16Native, peak.fp16_shape),
        _ => (Storage::F32, Some(peak.fp32_shape)),
    };
    let budget = Instant::now();
    // At least one timed run, then more while iterations and the time budget last.
    loop {
        if let Some(shape) = peak_shape {
            peaks.push(kernels::peak::fma_gflops(&model.ctx, peak_storage, shape)?);
        }
        let start = Instant::now();
        let (_, timing) = plan.run_timed(&input)?;
        wall.push(start.elapsed().as_secs_f64() * 1e3);
        if let Some(g) = timing.gpu_ms {
            gpu.push(g);
        }
        if wall.len() >= args.iters || budget.elapsed().as_secs_f64() >= args.max_seconds {
            break;
        }
    }
    let wall_ms = Stats::of(&wall).expect("the loop times at least one run");
    let gpu_ms = Stats::of(&gpu);
    let median_ms = gpu_ms.as_ref().map_or(wall_ms.median, |g| g.median);
    let best_ms = gpu_ms.as_ref().map_or(wall_ms.min, |g| g.min);
    let rate = |ms: f64| plan.flops() as f64 / (ms * 1e-3) / 1e9;
    Ok(BenchResult {
        model: spec.name.clone(),
        arch: spec.arch.name,
        precision: precision.name(),
        storage: model.storage.name(),
        batch,
        crop: spec.crop,
        resize_short: spec.resize_short,
        input_size: size as u32,
        wall_ms,
        gpu_ms,
        samples_ms: wall,
        gpu_samples_ms: gpu,
        gflops: rate(median_ms),
        gflops_best: rate(best_ms),
        peak_samples_gflops: peaks,
        // Filled in by `noise::judge`, from the interleaved peak samples.
        fraction_of_peak: None,
        fraction_of_peak_median: None,
        flops: plan.flops(),
        params: spec.arch.params(1000),
        tuned_convs: plan.tuned_convs().0,
        convs: plan.tuned_convs().1,
        tiles: plan.tile_sources(),
        winograd_convs: plan
            .convs
            .iter()
            .flatten()
            .filter(|c| c.winograd.is_some())
            .count(),
        spread: 0.0,
        distrust: None,
    })
}
