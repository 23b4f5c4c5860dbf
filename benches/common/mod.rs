//! What both `cargo bench` targets share: the adapter, settings from the environment, a filter.
//!
//! Settings: `GPU_RESNET_BACKEND` (auto, vulkan, gl, metal, dx12), `GPU_RESNET_ADAPTER` (index),
//! `BENCH_ITERS` (timed samples per case), `BENCH_PRECISION` (f32 or f16). A free argument
//! (`cargo bench --bench plan -- b8`) keeps only the cases whose name contains it.
#![allow(dead_code)]

use clap::ValueEnum;
use gpu_resnet::app::bench::Stats;
use gpu_resnet::{BackendChoice, ContextOptions, GpuContext, Precision};

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn context() -> GpuContext {
    let backend = std::env::var("GPU_RESNET_BACKEND")
        .ok()
        .and_then(|v| BackendChoice::from_str(&v, true).ok())
        .unwrap_or_default();
    let adapter = std::env::var("GPU_RESNET_ADAPTER")
        .ok()
        .and_then(|v| v.parse().ok());
    match GpuContext::new(ContextOptions { backend, adapter }) {
        Ok(ctx) => {
            eprintln!("adapter: {}", ctx.describe());
            ctx
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

pub fn precision() -> Precision {
    std::env::var("BENCH_PRECISION")
        .ok()
        .and_then(|v| Precision::from_str(&v, true).ok())
        .unwrap_or(Precision::F32)
}

/// The case filter: the first argument that is not a flag (cargo passes `--bench`).
pub fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

pub fn selected(name: &str) -> bool {
    filter().is_none_or(|f| name.contains(&f))
}

/// One result line: median, min and p90 of the samples (ms), and GFLOP/s at the median.
pub fn report(name: &str, samples_ms: &[f64], flops: u64) {
    let Some(s) = Stats::of(samples_ms) else {
        return;
    };
    let rate = if flops > 0 {
        format!("{:8.2} GFLOP/s", flops as f64 / (s.median * 1e-3) / 1e9)
    } else {
        format!("{:>17}", "-")
    };
    println!(
        "{name:<44} median {:10.3} ms  min {:10.3}  p90 {:10.3}  {rate}  ({} samples)",
        s.median,
        s.min,
        s.p90,
        samples_ms.len()
    );
}

pub fn fail(e: gpu_resnet::Error) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1);
}
