//! `Session`, the front ends' API (Python, C): the logits of the plan `infer` runs, from several
//! threads at once, with checked shapes, a bounded plan cache and one shared device context.

mod common;

use gpu_resnet::session::{shared_context, MAX_PLANS};
use gpu_resnet::weights::synthetic_weights;
use gpu_resnet::{
    arch, BackendChoice, ContextOptions, ErrorKind, Model, OpenOptions, Session, SessionOptions,
    Storage, WeightsSource,
};

fn synthetic(classes: usize) -> WeightsSource {
    WeightsSource::Synthetic { classes, seed: 3 }
}

fn options() -> SessionOptions {
    SessionOptions {
        open: OpenOptions {
            model: Some("ResNet18_vd".into()),
            ..Default::default()
        },
        device: ContextOptions {
            backend: BackendChoice::Vulkan,
            adapter: None,
        },
    }
}

fn batch(n: usize, hw: usize, salt: usize) -> Vec<f32> {
    (0..n * 3 * hw * hw)
        .map(|i| (((i + salt) * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

#[test]
fn runs_the_plan_infer_runs_bit_for_bit() {
    let session = Session::open(&synthetic(10), &options()).unwrap();
    assert_eq!((session.name(), session.classes()), ("ResNet18_vd", 10));
    assert_eq!(session.input_name(), "x");
    let x = batch(2, 32, 0);
    let got = session.run(&x, 2, 32, 32).unwrap();
    // What `infer` does: the model's plan for the batch, run once.
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let model = Model::new(
        &shared_context(options().device).unwrap(),
        &synthetic_weights(&a, 10, 3),
        Storage::F32,
    )
    .unwrap();
    let want = model.plan(2, 32, 32).unwrap().run(&x).unwrap();
    assert_eq!(got, want);
}

#[test]
fn threads_get_their_own_answers() {
    let session = Session::open(&synthetic(10), &options()).unwrap();
    let inputs: Vec<(usize, Vec<f32>)> = (0..4)
        .map(|t| (1 + t % 2, batch(1 + t % 2, 32, t)))
        .collect();
    let alone: Vec<Vec<f32>> = inputs
        .iter()
        .map(|(n, x)| session.run(x, *n, 32, 32).unwrap())
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .iter()
            .map(|(n, x)| {
                s.spawn(|| {
                    (0..3)
                        .map(|_| session.run(x, *n, 32, 32).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (h, want) in handles.into_iter().zip(&alone) {
            for got in h.join().unwrap() {
                assert_eq!(&got, want);
            }
        }
    });
}

#[test]
fn shapes_are_checked_and_the_plan_cache_is_bounded() {
    let session = Session::open(&synthetic(10), &options()).unwrap();
    let e = session.run(&[], 1usize << 62, 3, 64).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Input);
    assert!(e.to_string().contains("overflows"), "{e}");
    let e = session.run(&batch(1, 32, 0), 2, 32, 32).unwrap_err();
    assert!(e.to_string().contains("needs 6144"), "{e}");
    assert!(session.run(&[], 0, 32, 32).is_err());
    let mut x = batch(1, 32, 0);
    x[5] = f32::NAN;
    assert_eq!(
        session.run(&x, 1, 32, 32).unwrap_err().kind(),
        ErrorKind::NonFinite
    );
    // More shapes than the cache keeps: each still runs, and the first again after eviction.
    let first = session.run(&batch(1, 32, 0), 1, 32, 32).unwrap();
    for hw in 0..MAX_PLANS + 1 {
        session
            .run(&batch(1, 33 + hw, 0), 1, 33 + hw, 33 + hw)
            .unwrap();
    }
    assert_eq!(session.run(&batch(1, 32, 0), 1, 32, 32).unwrap(), first);
}

#[test]
fn one_context_per_device_and_classify_like_predict() {
    let a = shared_context(options().device).unwrap();
    let b = shared_context(options().device).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a.pipelines, &b.pipelines));
    let session = Session::open(&synthetic(1000), &options()).unwrap();
    let image = Session::rgb_image(&vec![128u8; 40 * 50 * 3], 40, 50).unwrap();
    let small = Session::rgb_image(&[7u8; 4 * 4 * 3], 4, 4).unwrap();
    let top = session.classify(&[image.clone(), small], 3).unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].len(), 3);
    assert!(top[0][0].score >= top[0][1].score);
    assert!(Session::rgb_image(&[0; 5], 1, 2).is_err());
    let e = Session::decode(b"not an image", "junk.png").unwrap_err();
    assert!(
        e.to_string().contains("junk.png") && e.kind() == ErrorKind::Input,
        "{e}"
    );
    assert!(session.label(0).contains("tench"), "{}", session.label(0));
}
