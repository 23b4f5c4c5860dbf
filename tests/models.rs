//! Every architecture end to end against the CPU reference, at small inputs with synthetic
//! weights (the reference applies BatchNorm unfolded, so folding is checked too).
//!
//! Tolerance `check::tolerance(F32, Compared::Model)` = 1e-4 x max |logit|: each conv adds ~1e-6
//! relative f32 rounding (see tests/kernels.rs) and a ResNet200 chains ~200 of them; a wrong
//! layer, stride, shortcut or padding moves the logits by order 1.

mod common;

use common::*;
use gpu_resnet::arch::{self, Stage1Shortcut, ARCHS};
use gpu_resnet::reference;
use gpu_resnet::weights::synthetic::Rng;
use gpu_resnet::weights::synthetic_weights;
use gpu_resnet::{Model, Storage};

fn fp32_tol() -> f64 {
    tolerance(Storage::F32, Compared::Model)
}

fn input(n: usize, h: usize, w: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n * 3 * h * w).map(|_| rng.uniform() * 2.0).collect()
}

fn check_arch(
    name: &str,
    n: usize,
    h: usize,
    w: usize,
    classes: usize,
    storage: Storage,
    tol: f64,
) -> f64 {
    let arch = arch::find_arch(name).unwrap();
    let weights = synthetic_weights(&arch, classes, 42);
    let x = input(n, h, w, 7);
    let want = reference::run_model(&weights, &x, n, h, w);
    let model = Model::new(ctx(), &weights, storage).unwrap();
    let got = model.plan(n, h, w).unwrap().run(&x).unwrap();
    assert_eq!(got.len(), n * classes);
    // The synthetic network must not be degenerate: the images' logits differ.
    let spread = rel_err(
        &want[..classes],
        &want[classes.min(want.len() - classes)..][..classes],
    );
    assert!(
        n == 1 || spread > 1e-3,
        "{name}: images give the same logits"
    );
    let err = rel_err(&got, &want);
    assert!(
        err <= tol,
        "{name} {}x{h}x{w} {}: rel err {err:.2e} > {tol:.1e}",
        n,
        storage.name()
    );
    err
}

#[test]
fn every_architecture_matches_reference_fp32() {
    for a in ARCHS {
        // Deep nets at a smaller size keep the f64 reference quick.
        let (n, size) = if a.stage_depths.iter().sum::<usize>() > 20 {
            (1, 32)
        } else {
            (2, 64)
        };
        check_arch(a.name, n, size, size, 1000, Storage::F32, fp32_tol());
    }
}

#[test]
fn odd_input_sizes_and_class_counts() {
    // Non-square, odd sizes exercise ceil-mode pooling in the vd shortcut and the stem's padding;
    // a 10-class head stands for fine-tuned checkpoints.
    check_arch("ResNet18_vd", 3, 75, 61, 10, Storage::F32, fp32_tol());
    check_arch("ResNet50", 1, 33, 47, 37, Storage::F32, fp32_tol());
    check_arch("ResNet34", 1, 1, 1, 5, Storage::F32, fp32_tol());
}

#[test]
fn plans_of_several_batch_sizes_share_the_model_and_agree() {
    let arch = arch::find_arch("ResNet18_vd").unwrap();
    let weights = synthetic_weights(&arch, 1000, 1);
    // A context of its own: the pipeline cache is per device, and other tests share ctx().
    let own = new_ctx();
    let model = Model::new(&own, &weights, Storage::F32).unwrap();
    let x8 = input(8, 32, 32, 3);
    let p8 = model.plan(8, 32, 32).unwrap();
    let y8 = p8.run(&x8).unwrap();
    for b in [1usize, 4] {
        let p = model.plan(b, 32, 32).unwrap();
        let y = p.run(&x8[..b * 3 * 32 * 32]).unwrap();
        assert!(
            rel_err(&y, &y8[..b * 1000]) < 1e-6,
            "batch {b} disagrees with batch 8"
        );
        // running twice gives bit-identical results (nothing stale carried between runs)
        assert_eq!(y, p.run(&x8[..b * 3 * 32 * 32]).unwrap());
    }
    // Tiles fit each batch's maps, so batch 1 may have pipelines of its own; plans compiled
    // again, or another model's plans on the same device, reuse the device's pipelines.
    let pipelines = model_pipelines(&model);
    assert!(pipelines > 0);
    for b in [1usize, 4, 8] {
        model.plan(b, 32, 32).unwrap();
    }
    let twin = Model::new(&own, &weights, Storage::F32).unwrap();
    twin.plan(8, 32, 32).unwrap();
    assert_eq!(
        model_pipelines(&model),
        pipelines,
        "plans compiled again made new pipelines"
    );
    // The arena reuses buffers: far fewer slots than tensors.
    assert!(
        p8.activation_slots <= 4,
        "{} activation buffers",
        p8.activation_slots
    );
    let all: u64 = p8
        .graph
        .tensors
        .iter()
        .map(|t| (8 * t.h * t.w * t.c.div_ceil(4) * 16) as u64)
        .sum();
    // The arena's slots only: Winograd's scratch (the default runs the vd stem's 3x3/1 convs
    // at 16x16, batch 8, as F(4x4) on CPU adapters) holds no graph tensor.
    let arena = p8.activation_bytes - p8.scratch_bytes;
    assert!(arena * 2 < all, "arena {arena} vs sum {all}");
}

fn model_pipelines(model: &Model) -> usize {
    model.pipeline_count()
}

#[test]
fn torchvision_identity_shortcut_graph() {
    // torchvision/timm ResNet18/34 have no projection in stage 1; PaddleClas does.
    let a = arch::find_arch("ResNet18").unwrap();
    let paddle = a.conv_layers(Stage1Shortcut::Projection);
    let torch = a.conv_layers(Stage1Shortcut::IdentityWhenSameShape);
    assert_eq!(paddle.len(), torch.len() + 1);
    assert!(paddle.iter().any(|l| l.name == "blocks.0.short"));
    assert!(!torch.iter().any(|l| l.name == "blocks.0.short"));
}
