//! The command line: `models`, `adapters`, `infer`, `bench`, `peak`, `check`, `predict`, `eval`,
//! `inspect`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::bench;
use crate::arch::{self, RELEASES};
use crate::error::{Error, Result};
use crate::gpu::{describe_adapter, list_adapters, BackendChoice};
use crate::npy;

// The argument types the commands share live in `args.rs` (the commands import them from
// there, never from this dispatcher); re-exported here, their first home.
pub use crate::app::args::{DeviceArgs, ListFormat, ModelArgs};

#[derive(Parser, Debug)]
#[command(
    name = "gpu-resnet",
    version,
    about = "PaddleClas ResNets on any GPU wgpu reaches"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every model name with its architecture, input size, FLOPs and params.
    Models {
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// List the adapters wgpu finds, with the features that matter here.
    Adapters {
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
    },
    /// Run a model on an already-normalised NCHW float32 .npy batch and write the logits.
    Infer(InferArgs),
    /// The seed's latency tables on this adapter (synthetic weights, no download).
    Bench(bench::BenchArgs),
    /// Measure the adapter's FMA throughput and memory bandwidth.
    Peak(bench::PeakArgs),
    /// Time the conv tile candidates on this adapter and cache the fastest per layer shape.
    Tune(crate::app::tune::TuneArgs),
    /// Download a registered model's pretrained .pdparams into the cache (see weights/registry.tsv).
    Fetch(FetchArgs),
    /// Conformance: every kernel, architecture (and golden case) against the CPU reference on
    /// each adapter and precision; exits non-zero if anything is out of tolerance.
    Check(crate::app::check::CheckArgs),
    /// Classify image files: top-k ImageNet classes and probabilities per image.
    Predict(crate::app::predict::PredictArgs),
    /// Top-1/top-5 accuracy and images/s on a labelled image set.
    Eval(crate::app::eval::EvalArgs),
    /// What a weights file or inference model is: format, architecture, classes, input,
    /// parameters, ignored tensors.
    Inspect(crate::app::inspect::InspectArgs),
    /// Serve models over the Open Inference Protocol (KServe v2 / Triton): HTTP/REST and gRPC,
    /// cost-aware dynamic batching, Prometheus metrics. Opens every model `infer` opens
    /// (inference-model directories, ONNX, checkpoints), several at once.
    #[cfg(feature = "serve")]
    Serve(crate::app::serve::ServeArgs),
    /// Drive a running server with concurrent clients: images/s and latency percentiles; or a
    /// load soak (--soak MINUTES).
    #[cfg(feature = "serve")]
    Loadgen(crate::app::serve::loadgen::LoadgenArgs),
}

#[derive(Args, Debug)]
pub struct InferArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// float32 NCHW .npy, already normalised; batch and size come from its shape.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the float32 logits [N, classes] as .npy.
    #[arg(long)]
    pub output: PathBuf,
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Models { format } => models(format),
        Command::Adapters { backend } => adapters(backend),
        Command::Infer(args) => infer(args),
        Command::Bench(args) => bench::bench(args),
        Command::Peak(args) => bench::peak(args),
        Command::Tune(args) => crate::app::tune::tune(args),
        Command::Fetch(args) => fetch(args),
        Command::Check(args) => crate::app::check::check(args),
        Command::Predict(args) => crate::app::predict::predict(args),
        Command::Eval(args) => crate::app::eval::eval(args),
        Command::Inspect(args) => crate::app::inspect::inspect(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => crate::app::serve::serve(args),
        #[cfg(feature = "serve")]
        Command::Loadgen(args) => crate::app::serve::loadgen::loadgen(args),
    }
}

/// One row of `gpu-resnet models`.
#[derive(serde::Serialize)]
struct ModelRow {
    name: String,
    arch: String,
    input_size: u32,
    flops: u64,
    params: u64,
    flops_g: f64,
    params_m: f64,
    seed_flops_g: f64,
    seed_params_m: f64,
    /// 2 x MACs + 1 per conv output element: the seed's own way of counting.
    seed_convention_flops: u64,
}

fn models(format: ListFormat) -> Result<()> {
    let rows: Vec<ModelRow> = RELEASES
        .iter()
        .map(|r| {
            let arch = arch::find_arch(r.arch).expect("releases name known architectures");
            let flops = arch.flops(r.crop as usize, 1000);
            let params = arch.params(1000);
            ModelRow {
                name: r.name.into(),
                arch: arch.name.into(),
                input_size: r.crop,
                flops,
                params,
                flops_g: flops as f64 / 1e9,
                params_m: params as f64 / 1e6,
                seed_flops_g: r.seed_flops_g,
                seed_params_m: r.seed_params_m,
                seed_convention_flops: arch.seed_convention_flops(r.crop as usize, 1000),
            }
        })
        .collect();
    match format {
        ListFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).expect("plain data serialises")
            );
        }
        ListFormat::Table => {
            println!(
                "| Model | Arch | Input | FLOPs (G) | seed FLOPs (G) | Params (M) | seed Params (M) | note |"
            );
            println!("|---|---|---|---|---|---|---|---|");
            for r in &rows {
                // The seed rounds to 2-3 decimals: more than 0.01 apart is a real difference.
                // The seed counts 2 x MACs + 1 op per conv output and rounds to 3 decimals; a
                // row is flagged when it is more than 0.1% off that, or its params are.
                let mut notes = Vec::new();
                let conv_g = r.seed_convention_flops as f64 / 1e9;
                if (r.seed_flops_g - conv_g).abs() > 1e-3 * conv_g {
                    notes.push(format!(
                        "seed FLOPs {:+.3} G off (its own convention gives {conv_g:.3})",
                        r.seed_flops_g - conv_g
                    ));
                }
                if (r.params_m - r.seed_params_m).abs() > 1e-3 * r.params_m {
                    notes.push(format!(
                        "params differ by {:+.3} M",
                        r.seed_params_m - r.params_m
                    ));
                }
                println!(
                    "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
                    r.name,
                    r.arch,
                    r.input_size,
                    r.flops_g,
                    r.seed_flops_g,
                    r.params_m,
                    r.seed_params_m,
                    if notes.is_empty() {
                        "ok".to_string()
                    } else {
                        format!("**{}**", notes.join("; "))
                    }
                );
            }
        }
    }
    Ok(())
}

fn adapters(backend: BackendChoice) -> Result<()> {
    let list = list_adapters(backend);
    if list.is_empty() {
        return Err(Error::NoAdapter {
            detail: format!(" for backend {backend:?}"),
        });
    }
    for (i, a) in list.iter().enumerate() {
        let info = a.get_info();
        let f = a.features();
        let has = |x: wgpu::Features| if f.contains(x) { "yes" } else { "no" };
        let fp16 = if f.contains(wgpu::Features::SHADER_F16) {
            "native"
        } else {
            "packed"
        };
        println!("[{i}] {}", describe_adapter(&info));
        println!(
            "    fp16 path: {fp16}; SHADER_F16: {}; SUBGROUP: {}; TIMESTAMP_QUERY: {}; inside passes: {}",
            has(wgpu::Features::SHADER_F16),
            has(wgpu::Features::SUBGROUP),
            has(wgpu::Features::TIMESTAMP_QUERY),
            has(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
        );
        let l = a.limits();
        println!(
            "    max storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB, storage buffers/stage {}",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_storage_buffers_per_shader_stage
        );
    }
    Ok(())
}

fn infer(args: InferArgs) -> Result<()> {
    let input = npy::read_npy_f32(&args.input)?;
    if input.shape.len() != 4 || input.shape[1] != 3 || input.shape[0] == 0 {
        return Err(Error::Input(format!(
            "{}: expected a float32 NCHW batch of shape [N, 3, H, W], found {:?}",
            args.input.display(),
            input.shape
        )));
    }
    let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3]);
    let (spec, model) = args.model.load()?;
    let plan = model.plan(n, h, w)?;
    let start = std::time::Instant::now();
    let logits = plan.run(&input.data)?;
    let elapsed = start.elapsed();
    npy::write_npy_f32(&args.output, &[n, model.classes], &logits)?;
    eprintln!(
        "{} ({}) on {}: batch {n} of {h}x{w} in {:.1} ms, {:.2} GFLOP -> {}",
        spec.name,
        model.storage.name(),
        model.ctx.describe(),
        elapsed.as_secs_f64() * 1e3,
        plan.flops() as f64 / 1e9,
        args.output.display()
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Registered model name(s), e.g. ResNet50_vd; `--list` shows them all.
    pub names: Vec<String>,
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Fetch from this base URL instead (the file name is kept), e.g. a local mirror.
    #[arg(long)]
    pub mirror: Option<String>,
    /// List the registry with each model's URL and cache state.
    #[arg(long)]
    pub list: bool,
}

fn fetch(args: FetchArgs) -> Result<()> {
    use crate::app::fetch as f;
    let cache = f::cache_dir(args.cache_dir.as_deref());
    if args.list || args.names.is_empty() {
        println!("cache: {}", cache.display());
        for e in f::registry() {
            let state = if f::cached_path(&e, &cache).is_file() {
                "cached"
            } else {
                "-"
            };
            println!("{:<26} {:<7} {}", e.name, state, e.url);
        }
        return Ok(());
    }
    for name in &args.names {
        let entry = f::find(name).ok_or_else(|| Error::UnknownModel {
            name: name.clone(),
            valid: f::registry()
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let mut last = 0u64;
        let path = f::fetch(&entry, &cache, args.mirror.as_deref(), &mut |got, total| {
            if got >= last + (4 << 20) || Some(got) == total {
                last = got;
                match total {
                    Some(t) => eprint!("\r{}: {} / {} MiB", entry.name, got >> 20, t >> 20),
                    None => eprint!("\r{}: {} MiB", entry.name, got >> 20),
                }
            }
        })?;
        eprintln!();
        println!("{} -> {}", entry.name, path.display());
    }
    Ok(())
}
