//! `gpu-resnet bench`: its outputs parse and match the seed's layout, bad arguments give clean
//! errors, the plot is a real picture, the profile covers every dispatch, and the timed plan runs
//! the same dispatches as the correctness path. Tiny settings (ResNet18, 32x32 or 64x64 input,
//! one run) keep each case to seconds on lavapipe.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;
use gpu_resnet::app::bench::{seed_headers, synthetic_input};
use gpu_resnet::weights::synthetic::synthetic_weights;
use gpu_resnet::{resolve, Model, Plan, Storage};

/// The seed's T4 table header (`ResNet_and_vd.md` 1.3.2), cell by cell.
const SEED_T4_HEADER: &str = "| Models | Crop Size | Resize Short Size | FP16 Batch Size=1 (ms) | FP16 Batch Size=4 (ms) | FP16 Batch Size=8 (ms) | FP32 Batch Size=1 (ms) | FP32 Batch Size=4 (ms) | FP32 Batch Size=8 (ms) |";

/// The smallest useful bench: one model, one run, no warm-up, a small input.
const TINY: &[&str] = &[
    "bench", "--models", "ResNet18", "--iters", "1", "--warmup", "0", "--size", "32",
];

fn bench(extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args(TINY)
        .args(extra)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "bench failed: {}", stderr(&o));
    o
}

fn assert_clean_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected a failure, stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(o.stdout.is_empty(), "nothing on stdout: {}", stdout(o));
    for n in needles {
        assert!(err.contains(n), "error should mention {n:?}: {err}");
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpu-resnet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn json_has_the_keys_the_issue_lists() {
    let o = ok(bench(&[
        "--batch",
        "1,2",
        "--precision",
        "f16,f32",
        "--format",
        "json",
    ]));
    // All of stdout is one JSON object: progress and notes go to stderr.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is only JSON");
    for key in ["name", "backend", "driver", "device_type", "timestamps"] {
        assert!(
            v["adapter"].get(key).is_some(),
            "adapter.{key} missing: {v}"
        );
    }
    assert!(v["adapter"]["name"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["engine"].as_str().unwrap().starts_with("gpu-resnet "));
    let results = v["results"].as_array().expect("results array");
    assert_eq!(results.len(), 4, "2 precisions x 2 batches");
    let mut precisions: Vec<&str> = Vec::new();
    for r in results {
        assert_eq!(r["model"], "ResNet18");
        let p = r["precision"].as_str().unwrap();
        assert!(p == "fp16" || p == "fp32", "precision {p}");
        precisions.push(p);
        assert!(r["batch"] == 1 || r["batch"] == 2);
        assert_eq!(r["crop"], 224);
        assert_eq!(r["resize_short"], 256);
        assert_eq!(r["input_size"], 32);
        for s in ["min", "median", "p90"] {
            assert!(r["wall_ms"][s].as_f64().unwrap() > 0.0, "wall_ms.{s}: {r}");
        }
        match &r["gpu_ms"] {
            serde_json::Value::Null => {}
            g => assert!(g["median"].as_f64().unwrap() > 0.0, "gpu_ms: {g}"),
        }
        assert_eq!(r["samples_ms"].as_array().unwrap().len(), 1);
        assert!(r["gflops"].as_f64().unwrap() > 0.0);
    }
    assert!(precisions.contains(&"fp16") && precisions.contains(&"fp32"));
}

#[test]
fn csv_parses_with_a_header_row() {
    let o = ok(bench(&[
        "--batch",
        "1",
        "--precision",
        "f32",
        "--format",
        "csv",
    ]));
    let text = stdout(&o);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header row").split(',').collect();
    for col in [
        "model",
        "precision",
        "batch",
        "wall_ms_median",
        "gpu_ms_median",
        "gflops",
    ] {
        assert!(header.contains(&col), "column {col} missing: {header:?}");
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1, "{text}");
    let row = &rows[0];
    assert_eq!(row.len(), header.len(), "{text}");
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(col("model"), "ResNet18");
    assert_eq!(col("precision"), "fp32");
    assert_eq!(col("batch"), "1");
    assert!(col("wall_ms_median").parse::<f64>().unwrap() > 0.0);
    assert!(col("gflops").parse::<f64>().unwrap() > 0.0);
}

#[test]
fn markdown_headers_are_the_seeds() {
    assert_eq!(
        format!("| {} |", seed_headers().join(" | ")),
        SEED_T4_HEADER
    );
    let o = ok(bench(&["--batch", "1", "--precision", "f32"]));
    let text = stdout(&o);
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| Models | Crop"))
        .collect();
    assert_eq!(
        headers,
        [SEED_T4_HEADER, SEED_T4_HEADER],
        "GPU and wall tables: {text}"
    );
    assert!(text.contains("GPU time per inference"), "{text}");
    assert!(text.contains("Wall time per inference"), "{text}");
    assert!(
        text.contains("Input 32x32 (`--size`)"),
        "the header says the input differs"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("| ResNet18 | 224 | 256 |"))
        .expect("a ResNet18 row");
    let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
    assert_eq!(cells.len(), 9, "{row}");
    // Only FP32 batch 1 ran; every other cell says so.
    assert_eq!(&cells[3..6], ["-", "-", "-"]);
    assert!(
        cells[6].parse::<f64>().is_ok() || cells[6] == "n/a",
        "{row}"
    );
    assert_eq!(&cells[7..9], ["-", "-"]);
}

#[test]
fn compare_t4_prints_seed_figures_and_ratios() {
    let o = ok(bench(&[
        "--batch",
        "1",
        "--precision",
        "f32",
        "--compare",
        "t4",
    ]));
    let text = stdout(&o);
    assert!(text.contains("seed's T4 figure"), "{text}");
    // ResNet18 FP32 batch 1 on a T4: 1.45606 ms.
    let row = text
        .lines()
        .find(|l| l.starts_with("| ResNet18 |") && l.contains("(1.45606, "))
        .unwrap_or_else(|| panic!("no seed figure beside ours: {text}"));
    assert!(row.contains("x)"), "a ratio: {row}");
}

#[test]
fn argument_errors_are_clean() {
    let unknown = bench(&["--models", "ResNet51"]);
    assert_clean_error(
        &unknown,
        &["unknown model `ResNet51`", "ResNet50_vd", "ResNet18"],
    );
    assert_clean_error(&bench(&["--batch", "0"]), &["--batch"]);
    assert_clean_error(&bench(&["--iters", "0"]), &["--iters"]);
    assert_clean_error(&bench(&["--size", "0"]), &["--size"]);
    assert_clean_error(
        &bench(&["--plot", "curve.pdf"]),
        &["curve.pdf", ".svg or .png"],
    );
    let nowhere = bench(&["--plot", "/nonexistent-gpu-resnet/curve.svg"]);
    assert_clean_error(&nowhere, &["/nonexistent-gpu-resnet", "does not exist"]);
    // clap's own errors: exit 2, naming the option and the accepted values.
    let format = bench(&["--format", "xml"]);
    assert_clean_error(&format, &["--format", "md", "csv", "json"]);
    let compare = bench(&["--compare", "a100"]);
    assert_clean_error(&compare, &["--compare", "v100", "t4"]);
    let both = bench(&["--profile", "--plot", "x.svg"]);
    assert_clean_error(&both, &["--plot", "--profile"]);
}

#[test]
fn a_batch_over_the_binding_limit_names_the_limit() {
    let start = std::time::Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args([
            "bench", "--models", "ResNet50", "--batch", "4096", "--iters", "1",
        ])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs");
    assert_clean_error(&o, &["max_storage_buffer_binding_size", "4096"]);
    // Checked before the peak measurement, weight upload or any run: it fails at once.
    assert!(
        start.elapsed().as_secs_f64() < 20.0,
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn limits_are_checked_from_the_graph_alone() {
    let limits = wgpu::Limits::default();
    let graph = resolve("ResNet50").unwrap().arch.graph(
        224,
        224,
        1000,
        gpu_resnet::arch::Stage1Shortcut::Projection,
    );
    gpu_resnet::plan::check_limits(&graph, 8, Storage::F32, &limits).expect("batch 8 fits");
    let err = gpu_resnet::plan::check_limits(&graph, 4096, Storage::F32, &limits)
        .expect_err("batch 4096 does not fit 128 MiB bindings")
        .to_string();
    assert!(err.contains("max_storage_buffer_binding_size"), "{err}");
}

#[test]
fn plot_files_are_valid_svg_and_png() {
    let svg = scratch("curve.svg");
    let o = ok(bench(&[
        "--batch",
        "1,2",
        "--precision",
        "f32",
        "--format",
        "csv",
        "--plot",
        svg.to_str().unwrap(),
    ]));
    assert!(
        stdout(&o).starts_with("model,"),
        "the table still goes to stdout"
    );
    let text = std::fs::read_to_string(&svg).expect("the SVG exists");
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    for needle in [
        "FLOPs per image (G)",
        "Latency per call",
        "FP32 batch 1",
        "FP32 batch 2",
        "ResNet18",
    ] {
        assert!(text.contains(needle), "the SVG should show {needle:?}");
    }

    let png_path = scratch("curve.png");
    ok(bench(&[
        "--batch",
        "1",
        "--precision",
        "f32",
        "--plot-x",
        "params",
        "--plot",
        png_path.to_str().unwrap(),
    ]));
    let file = std::fs::File::open(&png_path).expect("the PNG exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a valid PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut pixels).expect("valid PNG data");
    assert_eq!((info.width, info.height), (1200, 750));
    // Axes, text and the point: a fair share of the picture is not white.
    let ink = pixels[..info.buffer_size()]
        .chunks(3)
        .filter(|p| p.iter().any(|&c| c < 128))
        .count();
    assert!(ink > 2000, "only {ink} dark pixels");
}

#[test]
fn profile_rows_cover_every_dispatch_of_the_plan() {
    let o = ok(bench(&["--profile", "--batch", "1", "--precision", "f32"]));
    let text = stdout(&o);
    let rows: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("| layer |"))
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .next()
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    let spec = resolve("ResNet18").unwrap();
    let model = Model::new(ctx(), &synthetic_weights(&spec.arch, 1000, 0), Storage::F32).unwrap();
    let plan = Plan::compile_with(&model, 1, 32, 32, true).unwrap();
    let mut expected: Vec<String> = plan.dispatches.iter().map(|d| d.label.clone()).collect();
    let mut got = rows.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "profile:\n{text}");
}

#[test]
fn the_timed_plan_runs_the_same_dispatches_as_the_correctness_path() {
    let spec = resolve("ResNet18").unwrap();
    let model = Model::new(ctx(), &synthetic_weights(&spec.arch, 1000, 0), Storage::F32).unwrap();
    let plan = model.plan(2, 32, 32).unwrap();
    let profiled = Plan::compile_with(&model, 2, 32, 32, true).unwrap();
    let input = synthetic_input(plan.input_len(), 1);
    let logits = plan.run(&input).unwrap();
    let (timed, timing) = plan.run_timed(&input).unwrap();
    let (profiled_logits, profiled_timing) = profiled.run_timed(&input).unwrap();
    // What bench times is bit for bit what inference computes, with or without timestamps.
    assert_eq!(logits, timed);
    assert_eq!(logits, profiled_logits);
    let labels = |p: &Plan| {
        p.dispatches
            .iter()
            .map(|d| d.label.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(&plan), labels(&profiled));
    if plan.has_gpu_timer() {
        assert!(timing.gpu_ms.is_some_and(|ms| ms > 0.0));
    }
    if let Some(each) = profiled_timing.dispatch_ms {
        assert_eq!(each.len(), profiled.dispatches.len());
    }
    // The kernels bench's isolated dispatches run, and a wrong index is an error, not a panic.
    assert!(plan.time_dispatch(1, 2).unwrap() > 0.0);
    assert!(plan.time_dispatch(plan.dispatches.len(), 1).is_err());
}
