//! The async paths the browser build uses (`GpuContext::new_async`, `Plan::run_async`,
//! `Classifier::logits_async` / `classify_async`) give natively exactly what the blocking ones
//! give, and leave the plan free for the next run.

mod common;

use common::*;
use gpu_resnet::weights::synthetic_weights;
use gpu_resnet::{
    arch, BackendChoice, Classifier, ContextOptions, GpuContext, Model, PreprocessConfig, Storage,
};
use image::{Rgba, RgbaImage};

#[test]
fn run_async_gives_the_blocking_logits() {
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let w = synthetic_weights(&a, 10, 3);
    let x: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let plan = Model::new(ctx(), &w, Storage::F32)
        .unwrap()
        .plan(1, 32, 32)
        .unwrap();
    let blocking = plan.run(&x).unwrap();
    let (awaited, _) = pollster::block_on(plan.run_async(&x)).unwrap();
    assert_eq!(blocking, awaited);
    assert!(!plan.in_flight(), "the awaited run freed the plan");
    // Twice: the read-back buffers were unmapped for the next run.
    let (again, _) = pollster::block_on(plan.run_async(&x)).unwrap();
    assert_eq!(blocking, again);
    // A wrong input length is an error, not a hang.
    assert!(pollster::block_on(plan.run_async(&x[1..])).is_err());
}

#[test]
fn classify_async_gives_the_blocking_classes() {
    let ctx = pollster::block_on(GpuContext::new_async(ContextOptions {
        backend: BackendChoice::Vulkan,
        adapter: None,
    }))
    .unwrap();
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let model = Model::new(&ctx, &synthetic_weights(&a, 20, 9), Storage::F32).unwrap();
    let classifier = Classifier::new(model, PreprocessConfig::imagenet(40, 32)).unwrap();
    let image = RgbaImage::from_fn(48, 40, |x, y| Rgba([(x * 5) as u8, (y * 6) as u8, 90, 255]));
    let blocking = classifier.logits(&[&image]).unwrap();
    let (awaited, _) = pollster::block_on(classifier.logits_async(&[&image])).unwrap();
    assert_eq!(blocking, awaited);
    let top = pollster::block_on(classifier.classify_async(&[&image], 3)).unwrap();
    assert_eq!(top, classifier.classify(&[&image], 3).unwrap());
    assert_eq!(top[0].len(), 3);
}
