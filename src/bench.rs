//! `gpu-resnet bench` and `gpu-resnet peak`: the seed's latency tables on this adapter, per-layer
//! profiles, and the adapter's own FMA / bandwidth ceilings to judge them against.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::arch::{self, ModelSpec};
use crate::cli::DeviceArgs;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::{self, Specialization, Storage};
use crate::model::{choose_storage, F16Mode, Model, Precision};
use crate::seed::{seed_latency, SEED_LATENCY};
use crate::weights::synthetic::{synthetic_weights, Rng};

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
    /// Models to time, comma-separated (default: the seed's table).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
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
}

#[derive(Args, Debug)]
pub struct PeakArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
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
    pub precision: &'static str,
    pub storage: &'static str,
    pub batch: usize,
    pub crop: u32,
    pub resize_short: u32,
    pub wall_ms: Stats,
    pub gpu_ms: Option<Stats>,
    pub samples_ms: Vec<f64>,
    /// Achieved GFLOP/s from the GPU median where measured, else from the wall median.
    pub gflops: f64,
    pub fraction_of_peak: Option<f64>,
    pub flops: u64,
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
}

#[derive(Serialize)]
struct Report {
    adapter: AdapterReport,
    engine: String,
    results: Vec<BenchResult>,
}

/// Measured ceilings of the adapter.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Peak {
    pub fp32_gflops: f64,
    pub fp16_gflops: Option<f64>,
    pub bandwidth_gbs: f64,
}

fn time_dispatch(
    ctx: &GpuContext,
    spec: &Specialization,
    groups: u32,
    count: u32,
    bytes: u64,
) -> Result<f64> {
    let cache = kernels::PipelineCache::default();
    let kernel = cache.get(&ctx.device, spec);
    let make = |usage| {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("peak"),
            size: bytes.max(16),
            usage,
            mapped_at_creation: false,
        })
    };
    let src = make(wgpu::BufferUsages::STORAGE);
    let dst = make(wgpu::BufferUsages::STORAGE);
    let uniform = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("peak params"),
        size: 16,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    ctx.queue
        .write_buffer(&uniform, 0, bytemuck::cast_slice(&[count, 0, 0, 0]));
    let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("peak"),
        layout: &kernel.layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: src.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: dst.as_entire_binding(),
            },
        ],
    });
    let grid = kernels::grid(groups, ctx.limits.max_compute_workgroups_per_dimension);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(grid.0, grid.1, grid.2);
        }
        let start = Instant::now();
        ctx.queue.submit([enc.finish()]);
        ctx.wait()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// FMA throughput (f32, and f16 where SHADER_F16 exists) and copy bandwidth of the adapter.
pub fn measure_peak(ctx: &GpuContext) -> Result<Peak> {
    ctx.scoped("peak measurement", || {
        let groups = 1024u32;
        let wg = 64u32;
        let iters = 1024u32;
        let fma = |storage: Storage| -> Result<f64> {
            let spec = Specialization::new(
                "peak",
                "fma_peak",
                storage.prelude(),
                include_str!("../shaders/peak.wgsl"),
                1,
            )
            .with("ITERS", iters as f64)
            .with("WG", wg as f64);
            let threads = (groups * wg) as u64;
            let secs = time_dispatch(ctx, &spec, groups, threads as u32, threads * 16)?;
            Ok((threads * iters as u64 * 8 * 4 * 2) as f64 / secs / 1e9)
        };
        let fp32 = fma(Storage::F32)?;
        let fp16 = if ctx.has(wgpu::Features::SHADER_F16) {
            Some(fma(Storage::F16Native)?)
        } else {
            None
        };
        let count = 4u32 << 20; // 4 Mi vec4 = 64 MiB each way
        let bytes = count as u64 * 16;
        let limit = ctx.limits.max_storage_buffer_binding_size;
        let count = if bytes > limit {
            (limit / 16) as u32
        } else {
            count
        };
        let spec = Specialization::new(
            "peak",
            "copy",
            Storage::F32.prelude(),
            include_str!("../shaders/peak.wgsl"),
            1,
        )
        .with("WG", wg as f64);
        let secs = time_dispatch(ctx, &spec, count.div_ceil(wg), count, count as u64 * 16)?;
        Ok(Peak {
            fp32_gflops: fp32,
            fp16_gflops: fp16,
            bandwidth_gbs: 2.0 * count as f64 * 16.0 / secs / 1e9,
        })
    })
}

pub fn peak(args: PeakArgs) -> Result<()> {
    let ctx = args.device.context()?;
    let p = measure_peak(&ctx)?;
    println!("adapter: {}", ctx.describe());
    println!("FP32 FMA peak: {:.1} GFLOP/s", p.fp32_gflops);
    match p.fp16_gflops {
        Some(f) => println!("FP16 FMA peak: {f:.1} GFLOP/s (native f16 arithmetic)"),
        None => println!("FP16 FMA peak: n/a (no SHADER_F16; FP16 runs packed, computing in f32)"),
    }
    println!("copy bandwidth: {:.1} GB/s", p.bandwidth_gbs);
    Ok(())
}

fn default_models() -> Vec<String> {
    SEED_LATENCY.iter().map(|s| s.name.to_string()).collect()
}

/// A deterministic, roughly normalised input batch.
pub fn synthetic_input(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.uniform() * 2.0).collect()
}

struct Progress {
    total: usize,
    done: usize,
    start: Instant,
}

impl Progress {
    fn step(&mut self, what: &str) {
        self.done += 1;
        let width = 30;
        let filled = width * self.done / self.total.max(1);
        eprint!(
            "\r[{}{}] {}/{} {:>6.0}s {:<48}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            self.done,
            self.total,
            self.start.elapsed().as_secs_f64(),
            what
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        eprintln!();
    }
}

pub fn bench(args: BenchArgs) -> Result<()> {
    let names = if args.models.is_empty() {
        default_models()
    } else {
        args.models.clone()
    };
    let specs: Vec<ModelSpec> = names
        .iter()
        .map(|n| arch::resolve(n))
        .collect::<Result<_>>()?;
    if args.batch.is_empty() || args.batch.contains(&0) {
        return Err(Error::Input("--batch needs sizes of at least 1".into()));
    }
    if args.iters == 0 {
        return Err(Error::Input("--iters must be at least 1".into()));
    }
    let ctx = args.device.context()?;
    let peak = measure_peak(&ctx)?;
    if args.profile {
        return profile(
            &ctx,
            &specs[0],
            args.batch[0],
            args.precision[0],
            args.f16_mode,
            &args,
            &peak,
        );
    }
    let mut progress = Progress {
        total: specs.len() * args.precision.len() * args.batch.len(),
        done: 0,
        start: Instant::now(),
    };
    let mut results = Vec::new();
    for spec in &specs {
        let weights = synthetic_weights(&spec.arch, 1000, 0);
        for &precision in &args.precision {
            let storage = choose_storage(&ctx, precision, args.f16_mode)?;
            let model = Model::new(&ctx, &weights, storage)?;
            for &batch in &args.batch {
                progress.step(&format!("{} {} batch {batch}", spec.name, storage.name()));
                results.push(time_config(&model, spec, precision, batch, &args, &peak)?);
            }
        }
    }
    progress.finish();
    let adapter = AdapterReport {
        name: ctx.info.name.clone(),
        backend: format!("{:?}", ctx.info.backend),
        device_type: format!("{:?}", ctx.info.device_type),
        driver: ctx.info.driver.clone(),
        driver_info: ctx.info.driver_info.clone(),
        shader_f16: ctx.has(wgpu::Features::SHADER_F16),
        timestamps: ctx.has(wgpu::Features::TIMESTAMP_QUERY),
        fp32_peak_gflops: peak.fp32_gflops,
    };
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&Report {
            adapter,
            engine: format!("gpu-resnet {}", env!("CARGO_PKG_VERSION")),
            results,
        })
        .expect("plain data serialises"),
        Format::Csv => csv(&results),
        Format::Md => markdown(&adapter, &specs, &args, &results),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e)),
        None => {
            println!("{text}");
            Ok(())
        }
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
    let size = spec.crop as usize;
    let plan = model.plan(batch, size, size)?;
    let input = synthetic_input(plan.input_len(), 1);
    for _ in 0..args.warmup {
        plan.run(&input)?;
    }
    let mut wall = Vec::new();
    let mut gpu = Vec::new();
    let budget = Instant::now();
    while wall.len() < args.iters
        && (wall.is_empty() || budget.elapsed().as_secs_f64() < args.max_seconds)
    {
        let start = Instant::now();
        let (_, timing) = plan.run_timed(&input)?;
        wall.push(start.elapsed().as_secs_f64() * 1e3);
        if let Some(g) = timing.gpu_ms {
            gpu.push(g);
        }
    }
    let wall_ms = Stats::of(&wall).expect("at least one timed run");
    let gpu_ms = Stats::of(&gpu);
    let best_ms = gpu_ms.as_ref().map_or(wall_ms.median, |g| g.median);
    let gflops = plan.flops() as f64 / (best_ms * 1e-3) / 1e9;
    let peak_here = match model.storage {
        Storage::F16Native => peak.fp16_gflops,
        _ => Some(peak.fp32_gflops),
    };
    Ok(BenchResult {
        model: spec.name.clone(),
        precision: precision.name(),
        storage: model.storage.name(),
        batch,
        crop: spec.crop,
        resize_short: spec.resize_short,
        wall_ms,
        gpu_ms,
        samples_ms: wall,
        gflops,
        fraction_of_peak: peak_here.map(|p| gflops / p),
        flops: plan.flops(),
    })
}

fn csv(results: &[BenchResult]) -> String {
    let mut out = String::from("model,precision,storage,batch,crop,resize_short,wall_ms_median,wall_ms_min,wall_ms_p90,gpu_ms_median,gflops,fraction_of_peak\n");
    for r in results {
        out += &format!(
            "{},{},{},{},{},{},{:.3},{:.3},{:.3},{},{:.2},{}\n",
            r.model,
            r.precision,
            r.storage,
            r.batch,
            r.crop,
            r.resize_short,
            r.wall_ms.median,
            r.wall_ms.min,
            r.wall_ms.p90,
            r.gpu_ms
                .as_ref()
                .map_or("".into(), |g| format!("{:.3}", g.median)),
            r.gflops,
            r.fraction_of_peak.map_or("".into(), |f| format!("{f:.4}"))
        );
    }
    out.trim_end().to_string()
}

/// The seed's column headers, in its order.
pub fn seed_headers() -> Vec<String> {
    let mut h = vec![
        "Models".to_string(),
        "Crop Size".into(),
        "Resize Short Size".into(),
    ];
    for p in ["FP16", "FP32"] {
        for b in [1, 4, 8] {
            h.push(format!("{p} Batch Size={b} (ms)"));
        }
    }
    h
}

fn seed_figure(compare: CompareWith, model: &str, precision: &str, batch: usize) -> Option<f64> {
    let s = seed_latency(model)?;
    let idx = [1, 4, 8].iter().position(|&b| b == batch)?;
    let row = match (compare, precision) {
        (CompareWith::V100, "fp32") => s.v100_fp32,
        (CompareWith::T4, "fp16") => s.t4_fp16,
        (CompareWith::T4, "fp32") => s.t4_fp32,
        _ => None,
    }?;
    Some(row[idx])
}

/// Which figure of a result a table shows.
type PickMs = fn(&BenchResult) -> Option<f64>;

fn markdown(
    adapter: &AdapterReport,
    specs: &[ModelSpec],
    args: &BenchArgs,
    results: &[BenchResult],
) -> String {
    let mut out = String::new();
    out += &format!(
        "# gpu-resnet bench: {} ({}, {}",
        adapter.name, adapter.backend, adapter.device_type
    );
    if !adapter.driver.is_empty() {
        out += &format!(", driver {} {}", adapter.driver, adapter.driver_info);
    }
    out += &format!("), gpu-resnet {}\n\n", env!("CARGO_PKG_VERSION"));
    let storages: Vec<&str> = results
        .iter()
        .filter(|r| r.precision == "fp16")
        .map(|r| r.storage)
        .collect();
    out += &format!(
        "Synthetic weights; median of up to {} runs after {} warm-up. Adapter FP32 FMA peak {:.1} GFLOP/s (`gpu-resnet peak`). FP16 path: {}.\n\n",
        args.iters,
        args.warmup,
        adapter.fp32_peak_gflops,
        storages.first().copied().unwrap_or("not run")
    );
    let tables: [(&str, PickMs); 2] = [
        (
            "GPU time per inference (ms): timestamp queries around the whole plan",
            |r| r.gpu_ms.as_ref().map(|g| g.median),
        ),
        (
            "Wall time per inference (ms): upload + submit + wait + read-back",
            |r| Some(r.wall_ms.median),
        ),
    ];
    for (title, pick) in tables {
        out += &format!("## {title}\n\n");
        if let Some(c) = args.compare {
            out += &format!("Each cell: ours (seed's {:?} figure, ours / seed).\n\n", c);
        }
        out += &format!("| {} |\n", seed_headers().join(" | "));
        out += &format!("|{}\n", "---|".repeat(9));
        for spec in specs {
            let mut cells = vec![
                spec.name.clone(),
                spec.crop.to_string(),
                spec.resize_short.to_string(),
            ];
            for p in ["fp16", "fp32"] {
                for b in [1, 4, 8] {
                    let r = results
                        .iter()
                        .find(|r| r.model == spec.name && r.precision == p && r.batch == b);
                    let cell = match r {
                        None => "-".to_string(),
                        Some(r) => match pick(r) {
                            None => "n/a".to_string(),
                            Some(ms) => {
                                let seed =
                                    args.compare.and_then(|c| seed_figure(c, &spec.name, p, b));
                                match seed {
                                    Some(s) => format!("{ms:.2} ({s}, {:.1}x)", ms / s),
                                    None => format!("{ms:.2}"),
                                }
                            }
                        },
                    };
                    cells.push(cell);
                }
            }
            out += &format!("| {} |\n", cells.join(" | "));
        }
        out += "\n";
    }
    out += "## Throughput (GFLOP/s achieved, % of the adapter's FMA peak)\n\n";
    out += "| Models | precision | batch | GFLOPs/inference | GFLOP/s | % of peak |\n|---|---|---|---|---|---|\n";
    for r in results {
        out += &format!(
            "| {} | {} ({}) | {} | {:.2} | {:.1} | {} |\n",
            r.model,
            r.precision,
            r.storage,
            r.batch,
            r.flops as f64 / 1e9,
            r.gflops,
            r.fraction_of_peak
                .map_or("n/a".into(), |f| format!("{:.1}%", f * 100.0))
        );
    }
    out.trim_end().to_string()
}

fn profile(
    ctx: &GpuContext,
    spec: &ModelSpec,
    batch: usize,
    precision: Precision,
    mode: F16Mode,
    args: &BenchArgs,
    peak: &Peak,
) -> Result<()> {
    let weights = synthetic_weights(&spec.arch, 1000, 0);
    let storage = choose_storage(ctx, precision, mode)?;
    let model = Model::new(ctx, &weights, storage)?;
    let size = spec.crop as usize;
    let plan = crate::plan::Plan::compile_with(&model, batch, size, size, true)?;
    let input = synthetic_input(plan.input_len(), 1);
    for _ in 0..args.warmup {
        plan.run(&input)?;
    }
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); plan.dispatches.len()];
    let mut totals = Vec::new();
    for _ in 0..args.iters {
        let (_, t) = plan.run_timed(&input)?;
        let each = t.dispatch_ms.ok_or_else(|| Error::Unsupported {
            adapter: ctx.describe(),
            what: "TIMESTAMP_QUERY_INSIDE_PASSES, which --profile needs for per-dispatch times"
                .into(),
        })?;
        for (v, ms) in per.iter_mut().zip(each) {
            v.push(ms);
        }
        totals.push(t.gpu_ms.unwrap_or(0.0));
    }
    let medians: Vec<f64> = per
        .iter()
        .map(|v| Stats::of(v).map_or(0.0, |s| s.median))
        .collect();
    let sum: f64 = medians.iter().sum();
    let mut order: Vec<usize> = (0..medians.len()).collect();
    order.sort_by(|&a, &b| medians[b].total_cmp(&medians[a]));
    let mut out = format!(
        "# profile: {} {} ({}) batch {batch}, {}x{} on {}\n\nSum of dispatch medians {:.2} ms; whole pass median {:.2} ms; FP32 FMA peak {:.1} GFLOP/s.\n\n",
        spec.name,
        precision.name(),
        storage.name(),
        size,
        size,
        ctx.describe(),
        sum,
        Stats::of(&totals).map_or(0.0, |s| s.median),
        peak.fp32_gflops
    );
    out += "| layer | kernel | shape | MFLOPs | time (ms) | GFLOP/s | % of peak | share |\n|---|---|---|---|---|---|---|---|\n";
    for &i in &order {
        let d = &plan.dispatches[i];
        let g = if medians[i] > 0.0 {
            d.flops as f64 / (medians[i] * 1e-3) / 1e9
        } else {
            0.0
        };
        out += &format!(
            "| {} | {} | {} | {:.1} | {:.3} | {:.1} | {:.1}% | {:.1}% |\n",
            d.label,
            d.family,
            d.shape,
            d.flops as f64 / 1e6,
            medians[i],
            g,
            100.0 * g / peak.fp32_gflops,
            100.0 * medians[i] / sum.max(1e-9)
        );
    }
    let conv_flops: u64 = plan
        .dispatches
        .iter()
        .filter(|d| d.family == "conv")
        .map(|d| d.flops)
        .sum();
    let conv_ms: f64 = plan
        .dispatches
        .iter()
        .zip(&medians)
        .filter(|(d, _)| d.family == "conv")
        .map(|(_, m)| m)
        .sum();
    let conv_g = conv_flops as f64 / (conv_ms * 1e-3).max(1e-12) / 1e9;
    out += &format!(
        "\nAll conv layers: {:.1} GFLOP in {:.2} ms = {:.1} GFLOP/s, {:.1}% of the FP32 FMA peak.\n",
        conv_flops as f64 / 1e9,
        conv_ms,
        conv_g,
        100.0 * conv_g / peak.fp32_gflops
    );
    match &args.output {
        Some(path) => std::fs::write(path, out).map_err(|e| Error::io(path, e)),
        None => {
            print!("{out}");
            Ok(())
        }
    }
}
