//! The hostile corpus (`tests/data/hostile/`, listed in its `cases.tsv`) through every front end
//! this crate has: the CLI's `inspect`, `infer` and `predict` under a 3 GiB address-space limit
//! (`ulimit -v`) and a time limit, and the library's `load_weights` / `parse_inference_yml` /
//! `read_npy_f32`. Each case must give its expected answer, or exit 1 or 2 with its expected
//! message: never a signal, an abort, a hang or a NaN. Cases too large to commit are generated
//! (`generated:NAME` in the list; `GPU_RESNET_WRITE_HOSTILE=DIR cargo test --release --test
//! hostile_corpus write_generated` writes them for other front ends).

mod common;
mod deploy_writer;
mod hostile_files;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gpu_resnet::{open, WeightsSource};

/// What the issue measured with: 3 GB of address space.
const ADDRESS_SPACE_KB: u64 = 3 << 20;
const TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_dir() -> PathBuf {
    root().join("tests/data/hostile")
}

#[derive(Debug)]
struct Case {
    file: String,
    /// `weights`, `yml` (beside a valid model), `input` (infer's batch), `f16` (weights whose
    /// f16 run overflows).
    use_as: String,
    /// `None`: the right answer (exit 0); `Some(text)`: an error mentioning it.
    error: Option<String>,
}

fn cases() -> Vec<Case> {
    let list = std::fs::read_to_string(corpus_dir().join("cases.tsv")).unwrap();
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(
                f.len() >= 4,
                "cases.tsv line `{l}`: file, use, expect, what"
            );
            Case {
                file: f[0].into(),
                use_as: f[1].into(),
                error: match f[2] {
                    "ok" => None,
                    e => Some(
                        e.strip_prefix("error:")
                            .unwrap_or_else(|| panic!("expect `{e}`"))
                            .into(),
                    ),
                },
            }
        })
        .collect()
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gpu-resnet-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The golden ResNet18_vd checkpoint's tensors, conv weights scaled by `k`.
fn golden_tensors(k: f32) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(common::golden("ResNet18_vd.pdparams")).unwrap();
    let map = gpu_resnet::weights::pdparams::parse_pdparams(&bytes, Path::new("golden")).unwrap();
    map.iter()
        .map(|(n, t)| {
            let s = if t.shape.len() == 4 { k } else { 1.0 };
            (
                n.clone(),
                t.shape.clone(),
                t.data.iter().map(|v| v * s).collect(),
            )
        })
        .collect()
}

fn synthetic_onnx(hw: (i64, i64)) -> Vec<u8> {
    let a = gpu_resnet::arch::find_arch("ResNet18").unwrap();
    let w = gpu_resnet::weights::synthetic_weights(&a, 4, 9);
    deploy_writer::export(&w, "x", hw, deploy_writer::Style::Paddle).onnx
}

/// Writes generated case `name` under `dir`; returns the path to hand to the front end.
fn generate(name: &str, dir: &Path) -> PathBuf {
    let path = dir.join(name);
    let program_dir = |program: &str, bytes: Vec<u8>| {
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join(program), bytes).unwrap();
        std::fs::write(path.join("inference.pdiparams"), b"").unwrap();
        path.clone()
    };
    const FORTY_MB: usize = 20 << 20; // 2-byte messages
    match name {
        "onnx_empty_initializers_40mb.onnx" => {
            std::fs::write(&path, hostile_files::onnx_empty_initializers(FORTY_MB)).unwrap()
        }
        "pdmodel_empty_vars_40mb" => {
            return program_dir(
                "inference.pdmodel",
                hostile_files::pdmodel_empty_vars(FORTY_MB),
            )
        }
        "pir_many_values_40mb" => {
            return program_dir("inference.json", hostile_files::pir_many_values(FORTY_MB))
        }
        "safetensors_padded_0x0a.safetensors" => std::fs::write(
            &path,
            hostile_files::safetensors_padded_to_0x0a(&golden_tensors(1.0)),
        )
        .unwrap(),
        "f16_overflow.onnx" => {
            // Synthetic ResNet18, every conv's weights x4: they fit f16, the activations
            // grow ~16x per block and leave its range.
            let a = gpu_resnet::arch::find_arch("ResNet18").unwrap();
            let mut w = gpu_resnet::weights::synthetic_weights(&a, 10, 3);
            for c in &mut w.convs {
                use gpu_resnet::weights::ConvBn;
                let (ConvBn::BatchNorm { weight, .. } | ConvBn::Folded { weight, .. }) = c;
                weight.iter_mut().for_each(|v| *v *= 4.0);
            }
            let f = deploy_writer::export(&w, "x", (224, 224), deploy_writer::Style::Paddle);
            std::fs::write(&path, f.onnx).unwrap()
        }
        "onnx_input_2pow32.onnx" => {
            let huge = (1i64 << 32) + 224;
            std::fs::write(&path, synthetic_onnx((huge, huge))).unwrap()
        }
        other => panic!("no generator for `{other}`"),
    }
    path
}

/// Where a case's file is: committed, or generated into `dir`.
fn materialise(case: &Case, dir: &Path) -> PathBuf {
    match case.file.strip_prefix("generated:") {
        Some(name) => generate(name, dir),
        None => corpus_dir().join(&case.file),
    }
}

/// A valid model directory (synthetic ResNet18 as ONNX) with `yml` as its inference.yml.
fn model_dir_with_yml(yml: &Path, dir: &Path) -> PathBuf {
    let d = dir.join(format!(
        "model-{}",
        yml.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("model.onnx"), synthetic_onnx((224, 224))).unwrap();
    std::fs::copy(yml, d.join("inference.yml")).unwrap();
    d
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// The binary under the address-space limit, killed (and reported) past `TIMEOUT`.
fn cli(args: &[&str]) -> Run {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            return Run {
                code: None,
                stdout: String::new(),
                stderr: format!("hung: killed after {TIMEOUT:?}"),
            };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// `None` when `run` is what `error` expects, else what is wrong.
fn judge(run: &Run, error: Option<&str>) -> Option<String> {
    if run.stdout.contains("NaN") || run.stderr.contains("score NaN") {
        return Some(format!("printed NaN: {}", run.stdout));
    }
    match (run.code, error) {
        (Some(0), None) => None,
        (Some(1 | 2), Some(e)) if run.stderr.contains(e) && run.stderr.contains("error") => None,
        (code, _) => Some(format!(
            "exit {code:?} (None: a signal), stderr: {}",
            run.stderr.trim().chars().take(600).collect::<String>()
        )),
    }
}

#[test]
fn every_hostile_case_through_the_cli_under_a_memory_limit() {
    let dir = scratch("cli");
    let image = dir.join("wave.png");
    image::RgbImage::from_fn(37, 23, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 11) as u8, 90])
    })
    .save(&image)
    .unwrap();
    let input = dir.join("batch.npy");
    gpu_resnet::npy::write_npy_f32(&input, &[1, 3, 32, 32], &vec![0.25; 3 * 32 * 32]).unwrap();
    let output = dir.join("logits.npy");
    let (image, input, output) = (
        image.to_str().unwrap(),
        input.to_str().unwrap(),
        output.to_str().unwrap(),
    );
    let mut failures = Vec::new();
    let mut runs = 0;
    for case in cases() {
        let path = materialise(&case, &dir);
        let target = match case.use_as.as_str() {
            "yml" => model_dir_with_yml(&path, &dir),
            _ => path.clone(),
        };
        let t = target.to_str().unwrap();
        let commands: Vec<Vec<&str>> = match case.use_as.as_str() {
            "weights" => vec![
                vec!["inspect", t],
                vec![
                    "infer",
                    "--weights",
                    t,
                    "--input",
                    input,
                    "--output",
                    output,
                ],
                vec!["predict", "--weights", t, image],
            ],
            "yml" => vec![vec!["inspect", t], vec!["predict", "--weights", t, image]],
            "input" => vec![vec![
                "infer", "--model", "ResNet18", "--input", t, "--output", output,
            ]],
            "f16" => vec![vec!["predict", "--weights", t, "--precision", "f16", image]],
            other => panic!("{}: use `{other}`", case.file),
        };
        for args in commands {
            runs += 1;
            let run = cli(&args);
            if let Some(problem) = judge(&run, case.error.as_deref()) {
                failures.push(format!("{} `{}`: {problem}", case.file, args.join(" ")));
            }
        }
        if case.file.starts_with("generated:") {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_hostile_case_through_the_library() {
    let dir = scratch("lib");
    let mut failures = Vec::new();
    for case in cases() {
        let path = materialise(&case, &dir);
        let result: Result<(), String> = match case.use_as.as_str() {
            "weights" | "f16" => open::load_weights(&WeightsSource::Path(path.clone()), None)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            "yml" => gpu_resnet::weights::inference_yml::parse_inference_yml(
                &std::fs::read(&path).unwrap(),
                &path.display().to_string(),
            )
            .map(|_| ())
            .map_err(|e| e.to_string()),
            "input" => gpu_resnet::npy::read_npy_f32(&path)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            other => panic!("{}: use `{other}`", case.file),
        };
        // The f16 case's file is valid weights: its error comes when the net runs in f16.
        let want = if case.use_as == "f16" {
            None
        } else {
            case.error.as_deref()
        };
        match (&result, want) {
            (Ok(()), None) => {}
            (Err(e), Some(w)) if e.contains(w) => {}
            _ => failures.push(format!("{}: got {result:?}, expected {want:?}", case.file)),
        }
        if case.file.starts_with("generated:") {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn committed_files_are_what_their_generators_write() {
    let write = std::env::var_os("GPU_RESNET_WRITE_HOSTILE_CORPUS").is_some();
    let listed: Vec<String> = cases().into_iter().map(|c| c.file).collect();
    for (name, bytes) in hostile_files::small_cases(&root()) {
        let path = corpus_dir().join(name);
        if write {
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            on_disk == bytes,
            "{name} differs from its generator (GPU_RESNET_WRITE_HOSTILE_CORPUS=1 rewrites it)"
        );
        assert!(
            listed.iter().any(|f| f == name),
            "{name} is not in cases.tsv"
        );
    }
}

/// `GPU_RESNET_WRITE_HOSTILE=DIR`: write every generated case into DIR (for the Python and C
/// suites); without it, nothing.
#[test]
fn write_generated() {
    let Some(dir) = std::env::var_os("GPU_RESNET_WRITE_HOSTILE") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for case in cases() {
        if let Some(name) = case.file.strip_prefix("generated:") {
            generate(name, &dir);
        }
    }
}
