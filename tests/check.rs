//! The conformance suite itself (`gpu-resnet check`): the modes it runs per adapter, that it
//! reports a wrong answer as a failure (with the tolerance it was held to), and its renderings.
//! CI runs the whole suite on both adapters through the binary (`.ci/run`).

mod common;

use common::*;
use gpu_resnet::check::cases;
use gpu_resnet::check::golden::GoldenCase;
use gpu_resnet::check::{self, Report, Suite};
use gpu_resnet::{Precision, Storage};

#[test]
fn tolerances_are_the_documented_ones() {
    use Storage::*;
    assert_eq!(tolerance(F32, Compared::Conv { k: 4608 }), 2e-5);
    assert_eq!(
        tolerance(F16Packed, Compared::Conv { k: 4608 }),
        4.0 * F16_EPS
    );
    assert_eq!(tolerance(F16Mixed, Compared::Conv { k: 9 }), 4.0 * F16_EPS);
    assert_eq!(tolerance(F16Native, Compared::Conv { k: 9 }), 7.0 * F16_EPS);
    assert_eq!(tolerance(F32, Compared::MaxPool), 0.0);
    assert_eq!(tolerance(F16Native, Compared::MaxPool), F16_EPS);
    assert_eq!(tolerance(F32, Compared::Head), 2e-5);
    assert_eq!(tolerance(F32, Compared::Model), 1e-4);
    assert_eq!(tolerance(F32, Compared::Golden), 1e-3);
    for s in [F16Native, F16Mixed, F16Packed] {
        assert_eq!(tolerance(s, Compared::Model), 2e-2);
        assert_eq!(tolerance(s, Compared::Golden), 2e-2);
    }
    // The measure: relative to the reference's scale; NaN, infinities and lengths fail it.
    assert_eq!(check::rel_err(&[1.0, 2.5], &[1.0, 2.0]), 0.25);
    assert_eq!(check::rel_err(&[f32::NAN], &[1.0]), f64::INFINITY);
    assert_eq!(check::rel_err(&[1.0], &[1.0, 2.0]), f64::INFINITY);
}

#[test]
fn ranking_rules_per_precision() {
    let want = [0.1f32, 0.9, 0.5, 0.3, 0.7, 0.2, 0.0];
    let mut swapped = want;
    swapped.swap(2, 3); // 5th and 6th places trade: same top-1, 4 of 5 shared
    assert!(ranks_agree(Storage::F32, &want, &want, 7).is_ok());
    assert!(ranks_agree(Storage::F32, &swapped, &want, 7).is_err());
    assert!(ranks_agree(Storage::F16Packed, &swapped, &want, 7).is_ok());
    let mut top1 = want;
    top1.swap(1, 4);
    assert!(ranks_agree(Storage::F16Packed, &top1, &want, 7).is_err());
    assert!(ranks_agree(Storage::F32, &want, &want, 0).is_err());
}

#[test]
fn every_f16_storage_mode_is_checked_where_the_adapter_has_it() {
    if !requires(
        "every_f16_storage_mode_is_checked_where_the_adapter_has_it",
        ctx(),
        wgpu::Features::SHADER_F16,
        None,
    ) {
        return;
    }
    let all = [Precision::F32, Precision::F16];
    let storages = |ctx| -> Vec<Storage> {
        check::modes(ctx, &all)
            .unwrap()
            .iter()
            .map(|m| m.storage)
            .collect()
    };
    // lavapipe: auto picks f16 storage with f32 math (its f16 math is slow), then packed, then
    // native f16 math.
    assert_eq!(
        storages(ctx()),
        [
            Storage::F32,
            Storage::F16Mixed,
            Storage::F16Packed,
            Storage::F16Native
        ]
    );
    // llvmpipe through GL: no SHADER_F16, packed only.
    assert_eq!(storages(gl_ctx()), [Storage::F32, Storage::F16Packed]);
    assert_eq!(
        check::modes(ctx(), &[Precision::F32]).unwrap().len(),
        1,
        "--precision fp32 runs one mode"
    );
}

#[test]
fn model_shapes_come_from_every_architecture() {
    let shapes = cases::model_conv_shapes();
    let origins: std::collections::BTreeSet<&str> = shapes
        .iter()
        .map(|s| s.origin.split(' ').next().unwrap_or(""))
        .collect();
    for name in ["ResNet18", "ResNet50", "ResNet50_vd", "ResNet18_vd"] {
        assert!(origins.contains(name), "{name} adds shapes: {origins:?}");
    }
    assert!(
        shapes.iter().any(|s| s.layer.avg_pool_input),
        "vd pool conv"
    );
    assert!(shapes.iter().any(|s| s.layer.kernel == 7), "plain stem");
    assert!(shapes.iter().any(|s| s.h % 2 == 1), "odd maps");
    assert!(cases::awkward_conv_shapes()
        .iter()
        .any(|s| s.n == 3 && s.layer.cin % 4 != 0));
}

/// A suite of a few kernels and the ResNet18_vd golden case: as recorded, with its logits
/// moved by 1%, and one whose files are missing.
fn small_suite() -> Suite {
    let mut suite = Suite::new(Some(&golden(""))).unwrap();
    suite.kernels.truncate(3);
    suite.models.clear();
    suite.golden.retain(|g| g.name == "ResNet18_vd");
    let data = suite
        .golden
        .pop()
        .expect("ResNet18_vd")
        .loaded
        .expect("loads");
    let mut moved = data.clone();
    moved.logits.iter_mut().for_each(|v| *v *= 1.01);
    suite.golden = vec![
        GoldenCase {
            name: "ResNet18_vd".into(),
            loaded: Ok(data),
        },
        GoldenCase {
            name: "ResNet18_vd (logits moved)".into(),
            loaded: Ok(moved),
        },
        GoldenCase {
            name: "missing".into(),
            loaded: Err("missing.input.npy: No such file".into()),
        },
    ];
    suite
}

#[test]
fn a_wrong_answer_fails_the_check_and_says_why() {
    let suite = small_suite();
    let adapter = check::check_adapter(ctx(), Some(0), &suite, &[Precision::F32], &|_| {});
    let report = Report::new(vec![adapter]);
    assert!(!report.passed);
    // 3 convs, the one 3x3 stride-1 conv among them again as Winograd F(2x2) and F(4x4)
    // (FP32), all 3 again with the staged tile, 3 golden cases.
    assert_eq!(report.checks, 3 + 2 + 3 + 3);
    assert_eq!(report.failed, 2);
    let items = &report.adapters[0].modes[0].items;
    assert!(items[..8].iter().all(|i| i.passed), "kernels pass");
    assert_eq!(items[3].family, "winograd");
    assert_eq!(items[4].family, "winograd4");
    assert!(items[5..8].iter().all(|i| i.family == "staged"));
    let (ok, moved, missing) = (&items[8], &items[9], &items[10]);
    assert!(ok.passed && ok.max_rel_err.unwrap() <= 1e-3, "{ok:?}");
    // 1% off everywhere: 1e-2 relative, ten times the FP32 golden tolerance.
    assert!(!moved.passed);
    assert!(moved.max_rel_err.unwrap() > 5e-3 && moved.tolerance == 1e-3);
    assert!(!missing.passed && missing.max_rel_err.is_none());
    assert!(missing
        .note
        .as_deref()
        .unwrap()
        .contains("missing.input.npy"));

    let md = report.to_markdown();
    assert!(md.contains("**FAIL**") && md.contains("> 1.0e-3"), "{md}");
    assert!(md.contains("missing.input.npy"), "{md}");
    assert!(md.contains("9 of 11 checks passed"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["passed"], false);
    assert_eq!(json["failed"], 2);
    let mode = &json["adapters"][0]["modes"][0];
    assert_eq!(mode["storage"], "fp32");
    // lavapipe: 8-wide subgroups of one size, so the convs share weights by broadcast.
    assert_eq!(
        mode["uses"]["subgroups"],
        ctx().fixed_subgroup_size() == Some(8)
    );
    assert_eq!(mode["items"][9]["passed"], false);
    assert_eq!(mode["items"][9]["tolerance"], 1e-3);
}

#[test]
fn the_command_line_rejects_what_it_cannot_check() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
            .arg("check")
            .args(args)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .expect("run gpu-resnet");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--adapter", "0", "--all-adapters"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
    let (code, err) = run(&["--precision", "fp64"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, err) = run(&["--backend", "vulkan", "--adapter", "99"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--adapter 99") && err.contains("adapter(s) found"),
        "{err}"
    );
    let missing = std::env::temp_dir().join("gpu-resnet-no-golden-here");
    let (code, err) = run(&["--golden", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("gpu-resnet-no-golden-here"), "{err}");
}

#[test]
fn golden_cases_come_as_checkpoints_or_deployment_exports() {
    let cases = gpu_resnet::check::golden::golden_cases(&golden("deploy")).unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ResNet18_vd"], "the ONNX export is a case");
    let data = cases[0].loaded.as_ref().expect("the ONNX case loads");
    assert_eq!(data.weights.arch.name, "ResNet18_vd");
    assert_eq!((data.n, data.h, data.w), (2, 224, 224));
}
