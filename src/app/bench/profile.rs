//! `gpu-resnet bench --profile`: a per-layer breakdown, slowest layers first.

use indicatif::ProgressBar;

use super::{emit, input_size, synthetic_input, BenchArgs, Peak, Stats};
use crate::arch::ModelSpec;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::{choose_storage, Model};
use crate::plan::Plan;

/// `bench --profile`: per-dispatch GPU times of the first model, batch and precision.
pub(super) fn profile(
    ctx: &GpuContext,
    spec: &ModelSpec,
    args: &BenchArgs,
    peak: &Peak,
    progress: &ProgressBar,
) -> Result<()> {
    let (batch, precision) = (args.batch[0], args.precision[0]);
    let storage = choose_storage(ctx, precision, args.f16_mode)?;
    let weights = super::bench_weights(spec, args)?;
    let model = Model::new(ctx, &weights, storage)?;
    let size = input_size(spec, args);
    let plan = Plan::compile_with(&model, batch, size, size, true)?;
    let input = synthetic_input(plan.input_len(), 1);
    progress.set_length((args.warmup + args.iters) as u64);
    progress.set_message(format!(
        "profiling {} {} batch {batch}",
        spec.name,
        storage.name()
    ));
    for _ in 0..args.warmup {
        plan.run(&input)?;
        progress.inc(1);
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
        progress.inc(1);
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
    out += &format!(
        "Conv tiles: {} (tuning cache: {}; {}).\n\n",
        plan.tile_sources().describe(),
        match &model.tune_status {
            crate::tune::TuneStatus::Loaded(p) => format!("{}", p.display()),
            crate::tune::TuneStatus::Missing(p) => format!("none yet at {}", p.display()),
            crate::tune::TuneStatus::Ignored(p, why) => format!("{} ignored: {why}", p.display()),
            crate::tune::TuneStatus::Off => "off".to_string(),
        },
        model.shipped_status.describe()
    );
    out += "| layer | kernel | shape | tile | MFLOPs | time (ms) | GFLOP/s | % of peak | share |\n|---|---|---|---|---|---|---|---|---|\n";
    for &i in &order {
        let d = &plan.dispatches[i];
        let g = if medians[i] > 0.0 {
            d.flops as f64 / (medians[i] * 1e-3) / 1e9
        } else {
            0.0
        };
        let tile = plan.convs[i].as_ref().map_or("-".to_string(), |c| {
            format!("{} ({})", crate::tune::describe(&c.tile), c.source.name())
        });
        out += &format!(
            "| {} | {} | {} | {tile} | {:.1} | {:.3} | {:.1} | {:.1}% | {:.1}% |\n",
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
        .filter(|d| d.family == "conv" || d.family == "winograd")
        .map(|d| d.flops)
        .sum();
    let conv_ms: f64 = plan
        .dispatches
        .iter()
        .zip(&medians)
        .filter(|(d, _)| d.family == "conv" || d.family == "winograd")
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
    // What the plan pays for dispatching alone (`gpu-resnet peak`'s empty-dispatch probe).
    let pass_ms = Stats::of(&totals).map_or(sum, |s| s.median);
    let fixed_ms = plan.dispatches.len() as f64 * peak.dispatch_us * 1e-3;
    out += &format!(
        "Fixed dispatch cost: {} dispatches x {:.1} us = {:.2} ms, {:.1}% of the pass.\n",
        plan.dispatches.len(),
        peak.dispatch_us,
        fixed_ms,
        100.0 * fixed_ms / pass_ms.max(1e-9)
    );
    emit(&out, args.output.as_deref())
}
