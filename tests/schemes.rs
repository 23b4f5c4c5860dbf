//! Weight-name schemes: the golden ResNet50_vd checkpoint renamed into every scheme the engine
//! reads (PaddleClas parameter names, model-zoo structured names, timm safetensors) must give
//! the same logits; hand-written keys pin the names to PaddleClas's and timm's conventions; a
//! missing, extra or misshapen tensor is an error naming it.

mod common;

use common::*;
use gpu_resnet::arch::{self, ConvRole};
use gpu_resnet::tensor::{Tensor, TensorMap};
use gpu_resnet::weights::names::{conv_keys, fc_keys, Scheme};
use gpu_resnet::weights::{map_weights, read_tensors, ModelWeights};
use gpu_resnet::{Model, Storage};

fn golden_tensors(model: &str) -> TensorMap {
    read_tensors(&golden(&format!("{model}.pdparams"))).unwrap()
}

/// Rename a structured-name checkpoint into `scheme`'s names.
fn rename(src: &TensorMap, model: &str, scheme: Scheme) -> TensorMap {
    let a = arch::find_arch(model).unwrap();
    let mut out = TensorMap::new();
    for layer in a.conv_layers(Scheme::PaddleStructured.stage1()) {
        let from = conv_keys(Scheme::PaddleStructured, &a, &layer);
        let to = conv_keys(scheme, &a, &layer);
        out.insert(to.weight.clone(), src[&from.weight].clone());
        for (f, t) in from.bn.iter().zip(&to.bn) {
            out.insert(t.clone(), src[f].clone());
        }
    }
    let (fw, fb) = fc_keys(Scheme::PaddleStructured);
    let (tw, tb) = fc_keys(scheme);
    let mut w = src[fw].clone();
    if scheme == Scheme::Torch {
        // torch stores [out, in]
        let (i, o) = (w.shape[0], w.shape[1]);
        let mut t = vec![0.0; w.data.len()];
        for r in 0..i {
            for c in 0..o {
                t[c * i + r] = w.data[r * o + c];
            }
        }
        w = Tensor::new(vec![o, i], t);
    }
    out.insert(tw.to_string(), w);
    out.insert(tb.to_string(), src[fb].clone());
    out
}

fn logits(weights: &ModelWeights) -> Vec<f32> {
    let input = gpu_resnet::npy::read_npy_f32(&golden("ResNet50_vd.input.npy")).unwrap();
    let model = Model::new(ctx(), weights, Storage::F32).unwrap();
    model.plan(2, 224, 224).unwrap().run(&input.data).unwrap()
}

#[test]
fn every_scheme_gives_the_same_logits() {
    let a = arch::find_arch("ResNet50_vd").unwrap();
    let src = golden_tensors("ResNet50_vd");
    let base = map_weights(&src, &a, "structured").unwrap();
    let want = logits(&base);
    for scheme in [Scheme::PaddleParams, Scheme::PaddleZoo, Scheme::Torch] {
        let renamed = rename(&src, "ResNet50_vd", scheme);
        assert_eq!(Scheme::detect(&renamed), Some(scheme));
        let w = map_weights(&renamed, &a, "renamed").unwrap();
        assert_eq!(rel_err(&logits(&w), &want), 0.0, "{scheme:?}");
    }
}

#[test]
fn names_follow_paddleclas_and_timm_conventions() {
    let key = |model: &str, scheme: Scheme, name: &str| {
        let a = arch::find_arch(model).unwrap();
        let layer = a
            .conv_layers(scheme.stage1())
            .into_iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        let k = conv_keys(scheme, &a, &layer);
        (k.weight, k.bn[0].clone())
    };
    let p = Scheme::PaddleParams;
    assert_eq!(
        key("ResNet50_vd", p, "stem.0"),
        ("conv1_1_weights".into(), "bnv1_1_scale".into())
    );
    assert_eq!(
        key("ResNet50", p, "stem.0"),
        ("conv1_weights".into(), "bn_conv1_scale".into())
    );
    assert_eq!(
        key("ResNet50", p, "blocks.0.conv0"),
        (
            "res2a_branch2a_weights".into(),
            "bn2a_branch2a_scale".into()
        )
    );
    assert_eq!(
        key("ResNet50", p, "blocks.3.short"),
        ("res3a_branch1_weights".into(), "bn3a_branch1_scale".into())
    );
    // ResNet101/152: stage 3 blocks are res4a, res4b1, res4b2, ...
    assert_eq!(
        key("ResNet101", p, "blocks.9.conv2").0,
        "res4b2_branch2c_weights"
    );
    assert_eq!(
        key("ResNet152_vd", p, "blocks.11.conv1").0,
        "res4a_branch2b_weights"
    );
    assert_eq!(
        key("ResNet34", p, "blocks.7.conv1").0,
        "res4a_branch2b_weights"
    );
    let z = Scheme::PaddleZoo;
    assert_eq!(
        key("ResNet50_vc", z, "stem.2"),
        (
            "conv1_3._conv.weight".into(),
            "conv1_3._batch_norm.weight".into()
        )
    );
    assert_eq!(
        key("ResNet50_vc", z, "blocks.3.short").0,
        "bb_1_0.short._conv.weight"
    );
    assert_eq!(
        key("ResNet50_vc", z, "blocks.4.conv2").0,
        "bb_1_1.conv2._conv.weight"
    );
    let t = Scheme::Torch;
    assert_eq!(
        key("ResNet50_vd", t, "stem.1"),
        ("conv1.3.weight".into(), "conv1.4.weight".into())
    );
    assert_eq!(
        key("ResNet50_vd", t, "stem.2"),
        ("conv1.6.weight".into(), "bn1.weight".into())
    );
    assert_eq!(
        key("ResNet50_vd", t, "blocks.3.short"),
        (
            "layer2.0.downsample.1.weight".into(),
            "layer2.0.downsample.2.weight".into()
        )
    );
    assert_eq!(
        key("ResNet50", t, "blocks.3.short"),
        (
            "layer2.0.downsample.0.weight".into(),
            "layer2.0.downsample.1.weight".into()
        )
    );
    assert_eq!(
        key("ResNet18", t, "blocks.1.conv1"),
        ("layer1.1.conv2.weight".into(), "layer1.1.bn2.weight".into())
    );
}

#[test]
fn missing_extra_and_misshapen_tensors_are_named() {
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let src = golden_tensors("ResNet18_vd");
    let err = |t: &TensorMap| map_weights(t, &a, "ck.pdparams").unwrap_err().to_string();

    let mut missing = src.clone();
    missing.remove("blocks.5.conv1.bn._variance");
    let e = err(&missing);
    assert!(
        e.contains("ck.pdparams")
            && e.contains("blocks.5.conv1.bn._variance")
            && e.contains("missing"),
        "{e}"
    );

    let mut extra = src.clone();
    extra.insert(
        "blocks.99.conv0.conv.weight".into(),
        Tensor::new(vec![1], vec![0.0]),
    );
    let e = err(&extra);
    assert!(
        e.contains("blocks.99.conv0.conv.weight") && e.contains("unexpected"),
        "{e}"
    );

    let mut misshapen = src.clone();
    misshapen.insert(
        "blocks.2.conv0.conv.weight".into(),
        Tensor::new(vec![128, 64, 1, 1], vec![0.0; 128 * 64]),
    );
    let e = err(&misshapen);
    assert!(
        e.contains("blocks.2.conv0.conv.weight")
            && e.contains("[128, 64, 3, 3]")
            && e.contains("[128, 64, 1, 1]"),
        "{e}"
    );

    let mut nan = src.clone();
    nan.get_mut("fc.bias").unwrap().data[3] = f32::NAN;
    assert!(err(&nan).contains("fc.bias"));

    // a fine-tuned head: the class count comes from the weights
    let mut ten = src.clone();
    ten.insert(
        "fc.weight".into(),
        Tensor::new(vec![512, 10], vec![0.01; 5120]),
    );
    ten.insert("fc.bias".into(), Tensor::new(vec![10], vec![0.0; 10]));
    assert_eq!(map_weights(&ten, &a, "ten").unwrap().classes, 10);

    // torchvision ResNet18 has no stage-1 projection: a Paddle-style extra one is refused by name
    let r18 = arch::find_arch("ResNet18").unwrap();
    let layers = r18.conv_layers(Scheme::Torch.stage1());
    assert!(layers
        .iter()
        .all(|l| !matches!(l.role, ConvRole::Short { stage: 0, .. })));
}
