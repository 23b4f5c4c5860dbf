//! Both golden cases (../shared/golden) end to end against PaddlePaddle's own logits.
//! FP32: max |ours - paddle| <= 1e-3 x max |paddle logit| (the README's tolerance) and the same
//! top-5 order per image: `check::tolerance(F32, Compared::Golden)` and `check::ranks_agree`,
//! the rules `gpu-resnet check --golden` applies.

mod common;

use common::*;
use gpu_resnet::npy::read_npy_f32;
use gpu_resnet::weights::load_weights;
use gpu_resnet::{arch, Model, Storage};

/// Runs a golden case; returns (max relative error, our logits, paddle's logits).
pub fn run_golden(model: &str, storage: Storage) -> (f64, Vec<f32>, Vec<f32>) {
    let spec = arch::resolve(model).unwrap();
    let weights = load_weights(&golden(&format!("{model}.pdparams")), &spec.arch).unwrap();
    let input = read_npy_f32(&golden(&format!("{model}.input.npy"))).unwrap();
    let want = read_npy_f32(&golden(&format!("{model}.logits.npy"))).unwrap();
    let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3]);
    let model = Model::new(ctx(), &weights, storage).unwrap();
    let got = model.plan(n, h, w).unwrap().run(&input.data).unwrap();
    (rel_err(&got, &want.data), got, want.data)
}

fn check_fp32(model: &str) {
    let (err, got, want) = run_golden(model, Storage::F32);
    let tol = tolerance(Storage::F32, Compared::Golden);
    assert!(
        err <= tol,
        "{model}: max relative error {err:.2e} > {tol:.1e}"
    );
    let classes = want.len() / 2;
    if let Err(e) = ranks_agree(Storage::F32, &got, &want, classes) {
        panic!("{model}: {e}");
    }
    eprintln!("{model} fp32: max |ours - paddle| / max |paddle| = {err:.2e}");
}

#[test]
fn resnet18_vd_matches_paddle_fp32() {
    check_fp32("ResNet18_vd");
}

#[test]
fn resnet50_vd_matches_paddle_fp32() {
    check_fp32("ResNet50_vd");
}
