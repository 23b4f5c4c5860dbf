//! The binary on temp files: outputs parse, golden logits reproduce, bad input gives a clear
//! error (exit code 1, a message naming the file/shape/model) and never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use gpu_resnet::npy::{read_npy_f32, write_npy_f32};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn assert_clean_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1, stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for n in needles {
        assert!(err.contains(n), "error should mention {n:?}: {err}");
    }
}

#[test]
fn models_json_counts_every_release() {
    let o = run(&["models", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 18);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    for key in [
        "name",
        "arch",
        "input_size",
        "flops",
        "params",
        "flops_g",
        "params_m",
        "seed_flops_g",
        "seed_params_m",
    ] {
        assert!(row("ResNet50")[key] != serde_json::Value::Null, "key {key}");
    }
    // torchvision's ResNet50 has 25,557,032 parameters; PaddleClas's is the same network.
    assert_eq!(row("ResNet50")["params"], 25_557_032);
    assert_eq!(row("Fix_ResNet50_vd_ssld_v2")["input_size"], 320);
    assert_eq!(row("ResNet50_vd_ssld")["arch"], "ResNet50_vd");
    let table = run(&["models"]);
    let text = String::from_utf8_lossy(&table.stdout);
    // Only the rows whose published FLOPs contradict the seed's own counting are flagged.
    let flagged: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("**"))
        .filter_map(|l| l.split('|').nth(1).map(str::trim))
        .collect();
    assert_eq!(flagged, ["ResNet34_vd", "ResNet34_vd_ssld", "ResNet101"]);
}

#[test]
fn infer_reproduces_golden_logits() {
    let dir = tempdir("infer");
    let out = dir.join("logits.npy");
    let o = run(&[
        "infer",
        "--model",
        "ResNet18_vd",
        "--weights",
        golden("ResNet18_vd.pdparams").to_str().unwrap(),
        "--input",
        golden("ResNet18_vd.input.npy").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = read_npy_f32(&out).unwrap();
    let want = read_npy_f32(&golden("ResNet18_vd.logits.npy")).unwrap();
    assert_eq!(got.shape, vec![2, 1000]);
    assert!(rel_err(&got.data, &want.data) <= 1e-3);
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempdir("bad");
    let out = dir.join("out.npy");
    let out = out.to_str().unwrap();
    // input of the wrong shape
    let wrong = dir.join("wrong.npy");
    write_npy_f32(&wrong, &[1, 4, 8, 8], &vec![0.0; 256]).unwrap();
    let o = run(&[
        "infer",
        "--model",
        "ResNet18",
        "--input",
        wrong.to_str().unwrap(),
        "--output",
        out,
    ]);
    assert_clean_error(&o, &["wrong.npy", "[N, 3, H, W]", "[1, 4, 8, 8]"]);
    // unknown model
    let good = dir.join("good.npy");
    write_npy_f32(&good, &[1, 3, 32, 32], &vec![0.0; 3 * 32 * 32]).unwrap();
    let o = run(&[
        "infer",
        "--model",
        "ResNet51",
        "--input",
        good.to_str().unwrap(),
        "--output",
        out,
    ]);
    assert_clean_error(&o, &["ResNet51", "ResNet50_vd"]);
    // weights that are not a weights file
    let junk = dir.join("junk.pdparams");
    std::fs::write(&junk, b"hello, not a pickle").unwrap();
    let o = run(&[
        "infer",
        "--model",
        "ResNet18",
        "--weights",
        junk.to_str().unwrap(),
        "--input",
        good.to_str().unwrap(),
        "--output",
        out,
    ]);
    assert_clean_error(&o, &["junk.pdparams"]);
    // weights of another architecture: the first offending tensor is named
    let o = run(&[
        "infer",
        "--model",
        "ResNet50_vd",
        "--weights",
        golden("ResNet18_vd.pdparams").to_str().unwrap(),
        "--input",
        good.to_str().unwrap(),
        "--output",
        out,
    ]);
    assert_clean_error(&o, &["ResNet18_vd.pdparams", "blocks.0.conv0.conv.weight"]);
    // a missing input file
    let o = run(&[
        "infer",
        "--model",
        "ResNet18",
        "--input",
        "/nonexistent/x.npy",
        "--output",
        out,
    ]);
    assert_clean_error(&o, &["/nonexistent/x.npy"]);
    // an adapter index that does not exist
    let o = run(&[
        "infer",
        "--model",
        "ResNet18",
        "--input",
        good.to_str().unwrap(),
        "--output",
        out,
        "--adapter",
        "99",
    ]);
    assert_clean_error(&o, &["--adapter 99"]);
}

#[test]
fn adapters_lists_lavapipe_with_its_f16_path() {
    let o = run(&["adapters"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("fp16 path:"), "{text}");
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gpu-resnet-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Path::new(&dir).is_dir());
    dir
}
