//! The tables `gpu-resnet bench` prints: the seed's Markdown layout, CSV.

use super::{AdapterReport, BenchArgs, BenchResult, CompareWith, Stats};
use crate::app::seed::seed_latency;
use crate::arch::ModelSpec;

pub(super) fn csv(results: &[BenchResult]) -> String {
    let mut out = String::from("model,precision,storage,batch,crop,resize_short,wall_ms_median,wall_ms_min,wall_ms_p90,gpu_ms_median,gflops,fraction_of_peak,input_size,tuned_convs,convs,spread,distrust,gflops_best,peak_gflops_best,peak_gflops_median,fraction_of_peak_median,cache_convs,shipped_convs\n");
    for r in results {
        let peak = Stats::of(&r.peak_samples_gflops);
        out += &format!(
            "{},{},{},{},{},{},{:.3},{:.3},{:.3},{},{:.2},{},{},{},{},{:.3},{},{:.2},{},{},{},{},{}\n",
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
            r.fraction_of_peak.map_or("".into(), |f| format!("{f:.4}")),
            r.input_size,
            r.tuned_convs,
            r.convs,
            r.spread,
            r.distrust.as_deref().unwrap_or(""),
            r.gflops_best,
            r.peak_samples_gflops
                .iter()
                .copied()
                .reduce(f64::max)
                .map_or("".into(), |p| format!("{p:.2}")),
            peak.map_or("".into(), |p| format!("{:.2}", p.median)),
            r.fraction_of_peak_median
                .map_or("".into(), |f| format!("{f:.4}")),
            r.tiles.cache,
            r.tiles.shipped,
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

pub(super) fn markdown(
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
    let weights = match &args.weights {
        Some(path) => format!("Weights from `{}`", path.display()),
        None => "Synthetic weights".to_string(),
    };
    out += &format!(
        "{weights}; median of up to {} runs after {} warm-up. Adapter FP32 FMA peak {:.1} GFLOP/s (`gpu-resnet peak`). FP16 path: {}.\n\n",
        args.iters,
        args.warmup,
        adapter.fp32_peak_gflops,
        storages.first().copied().unwrap_or("not run")
    );
    if let Some(size) = args.size {
        // A smaller (or larger) input than the seed's crop makes the figures incomparable.
        out += &format!(
            "**Input {size}x{size} (`--size`), not the crop size listed: not comparable with the seed's figures.**\n\n"
        );
    }
    if let Some(w) = &adapter.noisy {
        out += &format!("{w}\n\n");
    }
    if !adapter.timestamps {
        out +=
            "This adapter has no timestamp queries: GPU times are n/a, wall times still run.\n\n";
    }
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
    if let Some(after) = adapter.fp32_peak_after_gflops {
        out += &format!(
            "FP32 peak {:.1} GFLOP/s before the table, {after:.1} after. The peak is measured again before each run of a row: \"% of peak\" is the row's fastest run over the highest of those peaks (best of N on both sides), \"median\" the median run over the median peak. GFLOP/s: the median run (best). Trust: a row is distrusted only when even its best-of-N is unstable. Winograd convs count as the direct conv's FLOPs, so rows that run them may pass 100%. Tiles: conv dispatches whose tile came from `gpu-resnet tune`'s cache, from the table shipped for this adapter, from the heuristic. Spread: p90 over the fastest wall sample.\n\n",
            adapter.fp32_peak_gflops
        );
    }
    out += "| Models | precision | batch | GFLOPs/inference | GFLOP/s (best) | peak GFLOP/s (best, median) | % of peak (median) | tiles | spread | trust |\n|---|---|---|---|---|---|---|---|---|---|\n";
    for r in results {
        let trust = match &r.distrust {
            Some(why) => format!("**distrust**: {why}"),
            None => "ok".to_string(),
        };
        let peak = match (
            r.peak_samples_gflops.iter().copied().reduce(f64::max),
            Stats::of(&r.peak_samples_gflops),
        ) {
            (Some(best), Some(s)) => format!("{best:.1}, {:.1}", s.median),
            _ => "n/a".into(),
        };
        let ratio = match (r.fraction_of_peak, r.fraction_of_peak_median) {
            (Some(b), Some(m)) => format!("{:.1}% ({:.1}%)", b * 100.0, m * 100.0),
            _ => "n/a".into(),
        };
        out += &format!(
            "| {} | {} ({}) | {} | {:.2} | {:.1} ({:.1}) | {peak} | {ratio} | {} | {:.2} | {trust} |\n",
            r.model,
            r.precision,
            r.storage,
            r.batch,
            r.flops as f64 / 1e9,
            r.gflops,
            r.gflops_best,
            r.tiles.describe(),
            r.spread,
        );
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{AdapterReport, BenchArgs, BenchResult, Stats};
    use super::markdown;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    /// An adapter without timestamp queries: the GPU table says "n/a", the wall table has times.
    #[test]
    fn no_timestamps_shows_na() {
        let args = Cli::parse_from(["bench", "--models", "ResNet18", "--precision", "f32"]).bench;
        let spec = crate::arch::resolve("ResNet18").unwrap();
        let adapter = AdapterReport {
            name: "test".into(),
            backend: "Gl".into(),
            device_type: "Cpu".into(),
            driver: String::new(),
            driver_info: String::new(),
            shader_f16: false,
            timestamps: false,
            fp32_peak_gflops: 100.0,
            fp32_peak_after_gflops: None,
            noisy: None,
        };
        let result = BenchResult {
            model: "ResNet18".into(),
            arch: spec.arch.name,
            precision: "fp32",
            storage: "fp32",
            batch: 1,
            crop: 224,
            resize_short: 256,
            input_size: 224,
            wall_ms: Stats::of(&[12.5]).unwrap(),
            gpu_ms: None,
            samples_ms: vec![12.5],
            gpu_samples_ms: Vec::new(),
            gflops: 1.0,
            gflops_best: 1.0,
            peak_samples_gflops: vec![100.0],
            fraction_of_peak: Some(0.01),
            fraction_of_peak_median: Some(0.01),
            flops: 1,
            params: 1,
            tuned_convs: 0,
            winograd_convs: 0,
            convs: 20,
            tiles: Default::default(),
            spread: 1.0,
            distrust: None,
        };
        let text = markdown(&adapter, &[spec], &args, &[result]);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| ResNet18 | 224"))
            .collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert_eq!(
            rows[0],
            "| ResNet18 | 224 | 256 | - | - | - | n/a | - | - |"
        );
        assert_eq!(
            rows[1],
            "| ResNet18 | 224 | 256 | - | - | - | 12.50 | - | - |"
        );
        assert!(text.contains("no timestamp queries"), "{text}");
    }
}
