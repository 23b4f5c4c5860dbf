//! Deployment formats end to end: the shared example (../shared/golden/deploy: a ResNet18_vd
//! exported by PaddlePaddle 3.3.1 as PIR JSON and ProgramDesc, and by Paddle2ONNX) gives
//! PaddlePaddle's logits from each file with the architecture recognised (no hint), through the
//! normal Model/Plan path on the GPU; synthetic exports of other architectures, class counts,
//! input names and sizes (written by tests/deploy_writer) are recognised and agree with the CPU
//! reference; hostile files give errors.

mod common;
mod deploy_writer;

use common::*;
#[allow(unused_imports)]
use deploy_writer::*;
use gpu_resnet::npy::read_npy_f32;
use gpu_resnet::weights::{self, LoadedWeights, Source, WeightsFormat};
use gpu_resnet::{Model, Storage};

fn run_golden(loaded: &LoadedWeights) {
    let input = read_npy_f32(&golden("deploy/ResNet18_vd.input.npy")).unwrap();
    let want = read_npy_f32(&golden("deploy/ResNet18_vd.logits.npy")).unwrap();
    assert_eq!(loaded.weights.arch.name, "ResNet18_vd");
    assert_eq!(loaded.weights.classes, 1000);
    assert_eq!(loaded.input_name.as_deref(), Some("x"));
    assert_eq!(loaded.input_hw, Some((224, 224)));
    assert!(loaded.ignored.is_empty(), "ignored: {:?}", loaded.ignored);
    let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3]);
    let model = Model::new(ctx(), &loaded.weights, Storage::F32).unwrap();
    let got = model.plan(n, h, w).unwrap().run(&input.data).unwrap();
    let err = rel_err(&got, &want.data);
    let tol = tolerance(Storage::F32, Compared::Golden);
    assert!(err <= tol, "{:?}: max relative error {err:.2e} > {tol:.1e}", loaded.format);
    ranks_agree(Storage::F32, &got, &want.data, 1000).unwrap();
    eprintln!(
        "{}: recognised {}: max |ours - paddle| / max |paddle| = {err:.2e}",
        loaded.format.describe(),
        loaded.summary()
    );
}

#[test]
fn golden_pir_directory_matches_paddle() {
    let l = weights::load(&Source::Path(&golden("deploy/ResNet18_vd_pir")), None).unwrap();
    assert_eq!(l.format, WeightsFormat::Deploy(weights::deploy::DeployFormat::Pir));
    run_golden(&l);
}

#[test]
fn golden_program_desc_file_matches_paddle() {
    let l = weights::load(
        &Source::Path(&golden("deploy/ResNet18_vd_legacy/inference.pdmodel")),
        None,
    )
    .unwrap();
    assert_eq!(l.format, WeightsFormat::Deploy(weights::deploy::DeployFormat::ProgramDesc));
    run_golden(&l);
}

#[test]
fn golden_onnx_matches_paddle() {
    let l = weights::load(&Source::Path(&golden("deploy/ResNet18_vd.onnx")), None).unwrap();
    assert_eq!(l.format, WeightsFormat::Deploy(weights::deploy::DeployFormat::Onnx));
    run_golden(&l);
}
