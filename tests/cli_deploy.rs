//! The binary on deployment formats: `inspect` says what a file is, `infer` without `--model`
//! recognises the architecture and reproduces PaddlePaddle's logits, `predict` on an inference
//! model directory uses its inference.yml labels, a contradicting `--model` is a clean error.

mod common;

use std::process::{Command, Output};

use common::*;
use gpu_resnet::npy::read_npy_f32;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn inspect_reports_each_format() {
    for (file, format) in [
        ("deploy/ResNet18_vd_pir", "PIR inference.json"),
        ("deploy/ResNet18_vd_legacy/inference.pdmodel", "ProgramDesc"),
        ("deploy/ResNet18_vd.onnx", "format: ONNX"),
        ("ResNet18_vd.pdparams", ".pdparams"),
    ] {
        let o = run(&["inspect", path(&golden(file))]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{file}: {err}");
        for want in [
            format,
            "architecture: ResNet18_vd",
            "classes: 1000",
            "ignored tensors: none",
        ] {
            assert!(out.contains(want), "{file}: {want} missing in\n{out}");
        }
    }
    let o = run(&[
        "inspect",
        path(&golden("deploy/ResNet18_vd.onnx")),
        "--model",
        "ResNet50",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("holds a ResNet18_vd but ResNet50 was asked for"),
        "{err}"
    );
}

#[test]
fn infer_without_model_recognises_the_program_and_matches_paddle() {
    let out =
        std::env::temp_dir().join(format!("gpu-resnet-cli-deploy-{}.npy", std::process::id()));
    let o = run(&[
        "infer",
        "--weights",
        path(&golden("deploy/ResNet18_vd_legacy/inference.pdmodel")),
        "--input",
        path(&golden("deploy/ResNet18_vd.input.npy")),
        "--output",
        path(&out),
    ]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("recognised ResNet18_vd (1000 classes, input x [N,3,224,224])"),
        "{err}"
    );
    let got = read_npy_f32(&out).unwrap();
    let want = read_npy_f32(&golden("deploy/ResNet18_vd.logits.npy")).unwrap();
    assert!(
        rel_err(&got.data, &want.data) <= tolerance(gpu_resnet::Storage::F32, Compared::Golden)
    );
    std::fs::remove_file(&out).ok();
}

#[test]
fn predict_on_an_inference_model_directory_uses_its_labels() {
    let dir = std::env::temp_dir().join(format!("gpu-resnet-cli-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["inference.json", "inference.pdiparams"] {
        std::fs::copy(golden(&format!("deploy/ResNet18_vd_pir/{f}")), dir.join(f)).unwrap();
    }
    let labels: String = (0..1000)
        .map(|i| format!("    - 'class number {i}: test'\n"))
        .collect();
    let yml = format!(
        "PreProcess:\n  transform_ops:\n  - ResizeImage:\n      resize_short: 256\n  - CropImage:\n      size: 224\n  - NormalizeImage:\n      mean: [0.485, 0.456, 0.406]\n      std: [0.229, 0.224, 0.225]\n      scale: 0.00392156862745098\n      order: ''\n  - ToCHWImage: null\nPostProcess:\n  Topk:\n    topk: 5\n    label_list:\n{labels}"
    );
    std::fs::write(dir.join("inference.yml"), yml).unwrap();
    let image = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cv2/colour_48x32.jpg"
    );
    let o = run(&[
        "predict",
        "--weights",
        path(&dir),
        "--topk",
        "2",
        "--format",
        "json",
        image,
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("recognised ResNet18_vd") && err.contains("inference.yml"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let top = &v[0]["topk"][0];
    let id = top["class_id"].as_u64().unwrap();
    assert_eq!(
        top["label"].as_str().unwrap(),
        format!("class number {id}: test")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_times_the_weights_it_is_given_and_recognises_their_model() {
    let weights = golden("deploy/ResNet18_vd.onnx");
    let args = [
        "bench",
        "--weights",
        path(&weights),
        "--batch",
        "1",
        "--precision",
        "f32",
        "--size",
        "32",
        "--iters",
        "1",
        "--warmup",
        "0",
    ];
    let out = run(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Weights from `"), "{stdout}");
    assert!(stdout.contains("| ResNet18_vd |"), "{stdout}");
    // --models must name the model of the file.
    let mut wrong = args.to_vec();
    wrong.extend(["--models", "ResNet50"]);
    let out = run(&wrong);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("ResNet50"), "{stderr}");
}
