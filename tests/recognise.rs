//! Checkpoints (`.pdparams`, safetensors) recognised from their tensor names and shapes alone,
//! in every name scheme, with the vc/vd rule and hints that agree or contradict.

mod common;

use common::*;
use gpu_resnet::arch;
use gpu_resnet::weights::{self, Source, WeightsFormat};

#[test]
fn checkpoints_are_recognised_without_a_hint() {
    let l = weights::load(&Source::Path(&golden("ResNet18_vd.pdparams")), None).unwrap();
    assert_eq!(l.weights.arch.name, "ResNet18_vd");
    assert_eq!(l.info.format, WeightsFormat::Pdparams);
}

/// A checkpoint of `a` in `scheme`'s names, with neutral values (recognition reads names and
/// shapes; the values only have to be valid).
fn checkpoint(
    a: &arch::Arch,
    scheme: gpu_resnet::weights::Scheme,
    classes: usize,
) -> gpu_resnet::tensor::TensorMap {
    use gpu_resnet::tensor::{Tensor, TensorMap};
    use gpu_resnet::weights::names::{conv_keys, fc_keys};
    let mut m = TensorMap::new();
    for layer in a.conv_layers(scheme.stage1()) {
        let k = conv_keys(scheme, a, &layer);
        let n = layer.cout * layer.cin * layer.kernel * layer.kernel;
        m.insert(
            k.weight,
            Tensor::new(
                vec![layer.cout, layer.cin, layer.kernel, layer.kernel],
                vec![0.01; n],
            ),
        );
        for b in k.bn {
            m.insert(b, Tensor::new(vec![layer.cout], vec![1.0; layer.cout]));
        }
    }
    let (w, b) = fc_keys(scheme);
    let shape = if scheme == gpu_resnet::weights::Scheme::Torch {
        vec![classes, a.features()]
    } else {
        vec![a.features(), classes]
    };
    m.insert(
        w.into(),
        Tensor::new(shape, vec![0.0; a.features() * classes]),
    );
    m.insert(b.into(), Tensor::new(vec![classes], vec![0.0; classes]));
    m
}

#[test]
fn checkpoints_of_every_architecture_and_scheme_are_recognised() {
    use gpu_resnet::weights::{recognise::recognise_and_map, Scheme};
    for a in arch::ARCHS {
        for scheme in [
            Scheme::PaddleStructured,
            Scheme::PaddleParams,
            Scheme::PaddleZoo,
            Scheme::Torch,
        ] {
            let m = checkpoint(a, scheme, 102);
            // vc and vd share their tensors: zoo names mean vc, timm's tell them apart, the
            // other schemes are taken as vd (documented in weights/README.md)
            let want = match (a.name, scheme) {
                ("ResNet50_vc" | "ResNet50_vd", Scheme::PaddleZoo) => "ResNet50_vc",
                (
                    "ResNet50_vc" | "ResNet50_vd",
                    Scheme::PaddleStructured | Scheme::PaddleParams,
                ) => "ResNet50_vd",
                (name, _) => name,
            };
            let got = recognise_and_map(&m, None, "ckpt").unwrap();
            assert_eq!(
                (got.arch.name, got.classes),
                (want, 102),
                "{} in {scheme:?}",
                a.name
            );
            // the hint decides what the file cannot
            let hinted = recognise_and_map(&m, Some(a), "ckpt").unwrap();
            assert_eq!(hinted.arch.name, a.name);
        }
    }
    let m = checkpoint(
        &arch::find_arch("ResNet50").unwrap(),
        Scheme::PaddleStructured,
        10,
    );
    let e = recognise_and_map(&m, Some(&arch::find_arch("ResNet101").unwrap()), "ckpt")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("holds a ResNet50 but ResNet101 was asked for"),
        "{e}"
    );
}
