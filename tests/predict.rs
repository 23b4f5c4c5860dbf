//! `predict` and `eval` end to end, on images the tests write: the binary's GPU-preprocessed
//! top-5 equals the CPU-preprocessed tensor run through `Plan::run` (golden ResNet18_vd weights),
//! JSON keeps argument order with an error entry per unreadable file, bad files never stop the
//! others, and `eval` prints the accuracy the labels were chosen to give.

mod common;
mod deploy_writer;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use gpu_resnet::classify::{softmax, top_k};
use gpu_resnet::decode::decode_file;
use gpu_resnet::preprocess::{preprocess, PreprocessConfig};
use gpu_resnet::weights::{load_weights, synthetic_weights, ConvBn};
use gpu_resnet::{arch, Classifier, Model, Storage};
use image::{Rgb, RgbImage};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpu-resnet-predict-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Small pictures in several formats and shapes: solid colours, gradients, a checkerboard.
fn write_images(dir: &Path) -> Vec<PathBuf> {
    let pictures: Vec<(&str, RgbImage)> = vec![
        ("red.png", RgbImage::from_pixel(64, 48, Rgb([220, 20, 30]))),
        (
            "ramp.jpg",
            RgbImage::from_fn(300, 200, |x, y| {
                Rgb([(x * 255 / 299) as u8, (y * 255 / 199) as u8, 128])
            }),
        ),
        (
            "tall.bmp",
            RgbImage::from_fn(90, 260, |x, y| Rgb([(y % 256) as u8, 40, (x * 2) as u8])),
        ),
        (
            "checker.webp",
            RgbImage::from_fn(50, 50, |x, y| {
                if (x / 5 + y / 5) % 2 == 0 {
                    Rgb([250, 250, 250])
                } else {
                    Rgb([10, 60, 10])
                }
            }),
        ),
        ("dot.gif", RgbImage::from_pixel(1, 1, Rgb([30, 90, 200]))),
        (
            "sky.tiff",
            RgbImage::from_fn(120, 80, |_, y| Rgb([90, 150, 200 + (y / 2) as u8])),
        ),
    ];
    pictures
        .into_iter()
        .map(|(name, img)| {
            let path = dir.join(name);
            img.save(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            path
        })
        .collect()
}

fn golden_resnet18() -> (gpu_resnet::ModelSpec, Model) {
    let spec = arch::resolve("ResNet18_vd").unwrap();
    let weights = load_weights(&golden("ResNet18_vd.pdparams"), &spec.arch).unwrap();
    let model = Model::new(ctx(), &weights, Storage::F32).unwrap();
    (spec, model)
}

#[test]
fn predict_json_matches_cpu_preprocessing_through_the_plan() {
    let dir = temp_dir("json");
    let images = write_images(&dir);
    let corrupt = dir.join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();

    // The reference: CPU preprocessing, one batch through Plan::run.
    let (spec, model) = golden_resnet18();
    let cfg = PreprocessConfig::for_model(&spec);
    let batch: Vec<f32> = images
        .iter()
        .flat_map(|p| preprocess(&decode_file(p).unwrap(), &cfg).unwrap())
        .collect();
    let logits = model
        .plan(images.len(), 224, 224)
        .unwrap()
        .run(&batch)
        .unwrap();

    // The binary: GPU preprocessing, batches of 4, the corrupt file third.
    let weights = golden("ResNet18_vd.pdparams");
    let mut args = vec![
        "predict",
        "--model",
        "ResNet18_vd",
        "--weights",
        s(&weights),
        "--backend",
        "vulkan",
        "--format",
        "json",
        "--batch",
        "4",
    ];
    let mut files: Vec<&Path> = images.iter().map(PathBuf::as_path).collect();
    files.insert(2, &corrupt);
    args.extend(files.iter().map(|p| s(p)));
    let out = run(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one file is corrupt: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let entries = v.as_array().expect("a list");
    assert_eq!(entries.len(), files.len());
    for (entry, file) in entries.iter().zip(&files) {
        assert_eq!(entry["file"], s(file), "argument order");
    }
    let error = entries[2]["error"].as_str().expect("an error entry");
    assert!(error.contains("corrupt.png"), "{error}");
    assert!(entries[2].get("topk").is_none());

    let good: Vec<&serde_json::Value> = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, e)| e)
        .collect();
    for (i, entry) in good.iter().enumerate() {
        let want = top_k(&softmax(&logits[i * 1000..(i + 1) * 1000]), 5);
        let got = entry["topk"].as_array().expect("topk");
        assert_eq!(got.len(), 5);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                g["class_id"], w.class_id,
                "{}: top-5 differs",
                entry["file"]
            );
            let score = g["score"].as_f64().unwrap();
            assert!((score - w.score as f64).abs() < 1e-5, "{}", entry["file"]);
            let label = g["label"].as_str().unwrap();
            assert_eq!(label, gpu_resnet::labels::label(w.class_id, 1000));
        }
    }
}

/// A BMP header claiming 20000x20000 pixels, with no pixel data.
fn huge_bmp() -> Vec<u8> {
    let mut b = b"BM".to_vec();
    for v in [54u32, 0, 54, 40, 20000, 20000] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b
}

#[test]
fn predict_reports_bad_files_and_classifies_the_rest() {
    let dir = temp_dir("bad");
    let good = dir.join("good.png");
    RgbImage::from_fn(40, 30, |x, _| Rgb([x as u8 * 6, 100, 50]))
        .save(&good)
        .unwrap();
    let gray16 = dir.join("gray16.png");
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(33, 17, |x, y| {
        image::Luma([(x * 1900 + y * 300) as u16])
    })
    .save(&gray16)
    .unwrap();
    let alpha = dir.join("alpha.png");
    image::RgbaImage::from_pixel(20, 20, image::Rgba([10, 200, 10, 0]))
        .save(&alpha)
        .unwrap();
    let cmyk = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cv2/cmyk_24x16.jpg"
    ));
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut png = Vec::new();
    RgbImage::from_pixel(64, 64, Rgb([1, 2, 3]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let bad = [
        write("empty.jpg", &[]),
        write("readme.png", b"# not an image\n"),
        write("truncated.png", &png[..png.len() - 30]),
        write("huge.bmp", &huge_bmp()),
        dir.join("missing.png"),
    ];
    let ok = [good, gray16, alpha, cmyk];
    let mut args: Vec<&str> = vec!["predict", "--model", "ResNet18_vd", "--batch", "2"];
    // Interleave good and bad files.
    for i in 0..bad.len().max(ok.len()) {
        if let Some(p) = ok.get(i) {
            args.push(s(p));
        }
        if let Some(p) = bad.get(i) {
            args.push(s(p));
        }
    }
    let out = run(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("5 of 9"), "{stderr}");
    for p in &ok {
        let rows = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("| {} |", s(p))));
        assert_eq!(rows.count(), 5, "{} should have 5 rows:\n{stdout}", s(p));
    }
    for (p, why) in bad.iter().zip([
        "the file is empty",
        "not an image",
        "cannot decode",
        "20000x20000",
        "No such file",
    ]) {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", s(p))))
            .unwrap_or_else(|| panic!("no row for {}:\n{stdout}", s(p)));
        assert!(row.contains("error:") && row.contains(why), "{row}");
        assert_eq!(
            row.matches(s(p)).count(),
            2,
            "the error names the file: {row}"
        );
    }
}

#[test]
fn eval_label_list_gives_the_chosen_accuracy() {
    let dir = temp_dir("eval-list");
    let images = write_images(&dir);
    let (spec, model) = golden_resnet18();
    let classifier = Classifier::new(model, PreprocessConfig::for_model(&spec)).unwrap();
    let decoded: Vec<_> = images.iter().map(|p| decode_file(p).unwrap()).collect();
    let refs: Vec<_> = decoded.iter().collect();
    let ranked = classifier.classify(&refs, 1000).unwrap();
    // Images 0-2 labelled with their top-1, image 3 with its 3rd class (top-5 only), images
    // 4-5 with their last class: top-1 3/6, top-5 4/6. A corrupt line entry is skipped.
    let labels: Vec<usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, r)| match i {
            0..=2 => r[0].class_id,
            3 => r[2].class_id,
            _ => r[999].class_id,
        })
        .collect();
    std::fs::write(dir.join("broken.jpg"), b"\xff\xd8\xffbroken").unwrap();
    let mut list: String = images
        .iter()
        .zip(&labels)
        .map(|(p, c)| format!("{} {c}\n", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    list.push_str(&format!("broken.jpg {}\n\n", labels[0]));
    std::fs::write(dir.join("val_list.txt"), list).unwrap();

    let weights = golden("ResNet18_vd.pdparams");
    let out = run(&[
        "eval",
        "--model",
        "ResNet18_vd",
        "--weights",
        s(&weights),
        "--backend",
        "vulkan",
        "--data",
        s(&dir),
        "--labels",
        s(&dir.join("val_list.txt")),
        "--batch",
        "4",
        "--format",
        "json",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(r["images"], 7);
    assert_eq!(r["classified"], 6);
    assert_eq!(r["unreadable"], 1);
    assert_eq!(r["top1_correct"], 3);
    assert_eq!(r["top5_correct"], 4);
    assert!((r["top1"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert!(r["images_per_s"].as_f64().unwrap() > 0.0);
    assert!(r["errors"][0].as_str().unwrap().contains("broken.jpg"));
}

#[test]
fn eval_image_folder_counts_classes_in_sorted_order() {
    // Synthetic 3-class ResNet18_vd (the binary's weights without --weights, seed 0).
    let spec = arch::resolve("ResNet18_vd").unwrap();
    let model = Model::new(ctx(), &synthetic_weights(&spec.arch, 3, 0), Storage::F32).unwrap();
    let classifier = Classifier::new(model, PreprocessConfig::for_model(&spec)).unwrap();
    let src = temp_dir("eval-folder-src");
    let images = write_images(&src);
    let decoded: Vec<_> = images.iter().map(|p| decode_file(p).unwrap()).collect();
    let refs: Vec<_> = decoded.iter().collect();
    let top1: Vec<usize> = classifier
        .classify(&refs, 1)
        .unwrap()
        .iter()
        .map(|t| t[0].class_id)
        .collect();
    // Sorted folder names are the class ids; the first four images go to their predicted
    // class, the last two to the next one (wrong): top-1 4/6, top-5 6/6 (only 3 classes).
    let root = temp_dir("eval-folder");
    let names = ["0_apples", "1_pears", "2_plums"];
    for n in names {
        std::fs::create_dir_all(root.join(n)).unwrap();
    }
    std::fs::write(root.join(names[0]).join("README.txt"), "not an image").unwrap();
    for (i, (path, class)) in images.iter().zip(&top1).enumerate() {
        let folder = if i < 4 { *class } else { (class + 1) % 3 };
        std::fs::copy(
            path,
            root.join(names[folder]).join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let out = run(&[
        "eval",
        "--model",
        "ResNet18_vd",
        "--classes",
        "3",
        "--backend",
        "vulkan",
        "--data",
        s(&root),
        "--threads",
        "2",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("top-1 accuracy: 0.6667 (4/6)"), "{stdout}");
    assert!(stdout.contains("top-5 accuracy: 1.0000 (6/6)"), "{stdout}");
    assert!(stdout.contains("images/s"), "{stdout}");
}

#[test]
fn predict_in_f16_refuses_nan_scores_when_activations_overflow() {
    // Synthetic ResNet18 with every conv weight scaled by 4, as ONNX: the weights fit f16, the
    // activations grow ~16x per block and leave its range (f32 holds them).
    let dir = temp_dir("f16-overflow");
    let a = arch::find_arch("ResNet18").unwrap();
    let mut w = synthetic_weights(&a, 10, 3);
    for c in &mut w.convs {
        let (ConvBn::BatchNorm { weight, .. } | ConvBn::Folded { weight, .. }) = c;
        weight.iter_mut().for_each(|v| *v *= 4.0);
    }
    let weights = dir.join("overflow.onnx");
    let f = deploy_writer::export(&w, "x", (224, 224), deploy_writer::Style::Paddle);
    std::fs::write(&weights, f.onnx).unwrap();
    // A textured picture: its activations overflow to Inf, which reaches the logits. (A solid
    // colour's overflow is rounded to 65504 by lavapipe's f16 conversion instead: finite,
    // wrong logits that no check of the logits can see; see the notes.)
    let image = dir.join("wave.png");
    RgbImage::from_fn(37, 23, |x, y| Rgb([(x * 7) as u8, (y * 11) as u8, 90]))
        .save(&image)
        .unwrap();
    for precision in ["f16", "f32"] {
        let out = run(&[
            "predict",
            "--weights",
            s(&weights),
            "--precision",
            precision,
            s(&image),
        ]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(!stdout.contains("NaN"), "{precision}: {stdout}");
        if precision == "f16" {
            assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
            assert!(
                stderr.contains("NaN or Inf")
                    && stderr.contains("f16's range")
                    && stderr.contains("--precision f32"),
                "{stderr}"
            );
        } else {
            assert!(out.status.success(), "the overflow is f16's: {stderr}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
