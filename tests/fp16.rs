//! The FP16 paths against PaddlePaddle's golden logits: native f16 (Vulkan with SHADER_F16),
//! packed halves forced on Vulkan, and packed as the natural path of the GL adapter.
//!
//! Tolerance `check::tolerance(<f16 storage>, Compared::Golden)` = 2e-2 x max |logit|: weights
//! and activations round to f16 (2^-11 relative) at every layer and a ResNet50 chains ~50 of
//! them; errors of that size add like a random walk (~sqrt(50) x 2^-11 x a few of gain) to
//! ~1e-2 of the scale. `check::ranks_agree`: top-1 identical (both golden cases have top-1
//! margins >= 1% of max |logit|) and at least 4 of the top-5 shared.

mod common;

use common::*;
use gpu_resnet::npy::read_npy_f32;
use gpu_resnet::weights::{load_weights, synthetic_weights, ConvBn};
use gpu_resnet::{arch, choose_storage, Error, F16Mode, GpuContext, Model, Precision, Storage};

fn check(ctx: &GpuContext, model: &str, storage: Storage) -> f64 {
    let spec = arch::resolve(model).unwrap();
    let weights = load_weights(&golden(&format!("{model}.pdparams")), &spec.arch).unwrap();
    let input = read_npy_f32(&golden(&format!("{model}.input.npy"))).unwrap();
    let want = read_npy_f32(&golden(&format!("{model}.logits.npy")))
        .unwrap()
        .data;
    let m = Model::new(ctx, &weights, storage).unwrap();
    let got = m.plan(2, 224, 224).unwrap().run(&input.data).unwrap();
    let err = rel_err(&got, &want);
    let tol = tolerance(storage, Compared::Golden);
    assert!(err <= tol, "{model} {}: rel err {err:.2e}", storage.name());
    if let Err(e) = ranks_agree(storage, &got, &want, 1000) {
        panic!("{model} {}: {e}", storage.name());
    }
    eprintln!(
        "{model} {} on {}: max rel err {err:.3e}",
        storage.name(),
        ctx.describe()
    );
    err
}

#[test]
fn native_f16_matches_paddle() {
    if !requires(
        "native_f16_matches_paddle",
        ctx(),
        wgpu::Features::SHADER_F16,
        None,
    ) {
        return;
    }
    // f16 arithmetic, and f16 storage with f32 arithmetic (what lavapipe gets: its f16 math is slow)
    for storage in [Storage::F16Native, Storage::F16Mixed] {
        check(ctx(), "ResNet18_vd", storage);
        check(ctx(), "ResNet50_vd", storage);
    }
    assert_eq!(
        choose_storage(ctx(), Precision::F16, F16Mode::Native).unwrap(),
        Storage::F16Mixed,
        "lavapipe's f16 FMA rate is about a quarter of f32's"
    );
}

#[test]
fn packed_f16_forced_on_vulkan_matches_paddle() {
    check(ctx(), "ResNet18_vd", Storage::F16Packed);
    check(ctx(), "ResNet50_vd", Storage::F16Packed);
}

#[test]
fn packed_f16_is_the_gl_adapters_path_and_matches_paddle() {
    let _turn = gl_exclusive();
    let gl = gl_ctx();
    assert!(!gl.has(wgpu::Features::SHADER_F16));
    assert_eq!(
        choose_storage(gl, Precision::F16, F16Mode::Auto).unwrap(),
        Storage::F16Packed
    );
    match choose_storage(gl, Precision::F16, F16Mode::Native) {
        Err(Error::Unsupported { what, .. }) => assert!(what.contains("SHADER_F16")),
        other => panic!("native f16 on GL must be refused, got {other:?}"),
    }
    check(gl, "ResNet18_vd", Storage::F16Packed);
    check(gl, "ResNet50_vd", Storage::F16Packed);
}

#[test]
fn fp32_on_the_gl_adapter_matches_paddle() {
    let _turn = gl_exclusive();
    let spec = arch::resolve("ResNet18_vd").unwrap();
    let weights = load_weights(&golden("ResNet18_vd.pdparams"), &spec.arch).unwrap();
    let input = read_npy_f32(&golden("ResNet18_vd.input.npy")).unwrap();
    let want = read_npy_f32(&golden("ResNet18_vd.logits.npy"))
        .unwrap()
        .data;
    let m = Model::new(gl_ctx(), &weights, Storage::F32).unwrap();
    let got = m.plan(2, 224, 224).unwrap().run(&input.data).unwrap();
    assert!(rel_err(&got, &want) <= tolerance(Storage::F32, Compared::Golden));
}

#[test]
fn values_beyond_f16_range_are_reported_not_turned_into_inf() {
    let a = arch::find_arch("ResNet18").unwrap();
    let mut w = synthetic_weights(&a, 1000, 3);
    // A BN with a tiny variance scales the folded weights past 65504.
    if let ConvBn::BatchNorm { var, gamma, .. } = &mut w.convs[4] {
        var.iter_mut().take(3).for_each(|v| *v = 1e-12);
        gamma.iter_mut().take(3).for_each(|g| *g = 1e4);
    }
    let e = Model::new(ctx(), &w, Storage::F16Packed)
        .err()
        .expect("must refuse");
    let text = e.to_string();
    assert!(
        text.contains("blocks.1.conv0") && text.contains("outside f16's range"),
        "{text}"
    );
    assert!(
        Model::new(ctx(), &w, Storage::F32).is_ok(),
        "fp32 holds them"
    );
}

/// ResNet18 with every conv's weights scaled by 4: within f16's range, but the activations
/// grow ~16x per block and leave it (f32 holds them).
fn overflowing_weights() -> gpu_resnet::weights::ModelWeights {
    let a = arch::find_arch("ResNet18").unwrap();
    let mut w = synthetic_weights(&a, 10, 3);
    for c in &mut w.convs {
        let (ConvBn::BatchNorm { weight, .. } | ConvBn::Folded { weight, .. }) = c;
        weight.iter_mut().for_each(|v| *v *= 4.0);
    }
    w
}

#[test]
fn the_classifier_refuses_logits_an_f16_overflow_made_non_finite() {
    use gpu_resnet::{Classifier, PreprocessConfig};
    let w = overflowing_weights();
    let img = image::RgbaImage::from_fn(80, 64, |x, y| {
        image::Rgba([(x * 3) as u8, (y * 4) as u8, 128, 255])
    });
    let classify = |storage| {
        let model = Model::new(ctx(), &w, storage).expect("the weights fit f16");
        let c = Classifier::new(model, PreprocessConfig::imagenet(64, 64)).unwrap();
        let logits = c.logits(&[&img]);
        let top = c.classify(&[&img], 3);
        let top_async = pollster::block_on(c.classify_async(&[&img], 3));
        (logits, top, top_async)
    };
    let (logits, top, top_async) = classify(Storage::F16Packed);
    for e in [
        logits.map(|_| ()).unwrap_err(),
        top.map(|_| ()).unwrap_err(),
        top_async.map(|_| ()).unwrap_err(),
    ] {
        let text = e.to_string();
        assert!(
            text.contains("NaN or Inf")
                && text.contains("f16's range")
                && text.contains("--precision f32"),
            "{text}"
        );
    }
    // The same net in f32 answers with finite scores: the refusal is f16's overflow.
    let (logits, top, _) = classify(Storage::F32);
    assert!(logits.unwrap()[0].iter().all(|v| v.is_finite()));
    assert!(top.unwrap()[0].iter().all(|p| p.score.is_finite()));
}
