//! Device faults and limits: a lost device makes later calls fail at once with a clear error
//! (no hang, no panic); a plan larger than an adapter limit fails before allocating, naming
//! the limit; a borrowed device keeps its host's own device-lost handler.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::*;
use gpu_resnet::weights::synthetic_weights;
use gpu_resnet::{arch, BackendChoice, ContextOptions, Error, GpuContext, Model, Storage};

/// Runs `f` on another thread and fails the test if it takes longer than `secs` (a hang).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what} did not return within {secs} s (a hang)"))
}

fn own_context() -> GpuContext {
    GpuContext::new(ContextOptions {
        backend: BackendChoice::Vulkan,
        adapter: None,
    })
    .expect("lavapipe")
}

fn input(n: usize, size: usize) -> Vec<f32> {
    (0..n * 3 * size * size)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

#[test]
fn a_lost_device_fails_fast_with_a_clear_error() {
    let ctx = own_context();
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 10, 1);
    let model = Model::new(&ctx, &w, Storage::F32).unwrap();
    let plan = model.plan(1, 32, 32).unwrap();
    let x = input(1, 32);
    assert!(plan.run(&x).is_ok(), "runs before the loss");

    ctx.device.destroy();
    let result = within(60, "Plan::run on a destroyed device", move || {
        let run = plan.run(&x);
        // Everything after the loss fails the same way, at once.
        let new_model = Model::new(&ctx, &w, Storage::F32).err();
        let new_plan = model.plan(1, 32, 32).err();
        (run, new_model, new_plan)
    });
    let (run, new_model, new_plan) = result;
    for (what, err) in [
        ("Plan::run", run.err()),
        ("Model::new", new_model),
        ("Model::plan", new_plan),
    ] {
        match err {
            Some(Error::DeviceLost { adapter, reason }) => {
                assert!(adapter.contains("llvmpipe"), "{adapter}");
                assert!(reason.contains("Destroyed"), "{what}: {reason}");
            }
            other => panic!("{what} after destroy: expected DeviceLost, got {other:?}"),
        }
    }
    let text = Error::DeviceLost {
        adapter: "x".into(),
        reason: "Destroyed".into(),
    }
    .to_string();
    assert!(
        text.contains("was lost") && text.contains("new context"),
        "{text}"
    );
}

#[test]
fn a_borrowed_device_keeps_its_hosts_lost_handler() {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = pollster::block_on(instance.request_adapter(&Default::default())).unwrap();
    let info = adapter.get_info();
    let (device, queue) =
        pollster::block_on(adapter.request_device(&Default::default())).expect("device");
    let host_saw_loss = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&host_saw_loss);
    device.set_device_lost_callback(move |_, _| seen.store(true, Ordering::SeqCst));

    let ctx = GpuContext::from_device(device.clone(), queue, info);
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 10, 2);
    let model = Model::new(&ctx, &w, Storage::F32).unwrap();
    let plan = model.plan(1, 32, 32).unwrap();
    let x = input(1, 32);
    assert!(plan.run(&x).is_ok());

    device.destroy();
    // Our calls still fail rather than hang, and the host's handler, not ours, heard of it.
    let run = within(60, "Plan::run on a destroyed borrowed device", move || {
        plan.run(&x)
    });
    assert!(run.is_err(), "a run on a destroyed device must fail");
    let _ = device.poll(wgpu::PollType::Poll);
    assert!(
        host_saw_loss.load(Ordering::SeqCst),
        "the host's device-lost callback must still be installed"
    );
}

#[test]
fn a_plan_over_the_adapters_binding_limit_names_it_before_allocating() {
    let ctx = ctx();
    let max = ctx.limits.max_storage_buffer_binding_size;
    let a = arch::find_arch("ResNet18").unwrap();
    let w = synthetic_weights(&a, 10, 3);
    let model = Model::new(ctx, &w, Storage::F32).unwrap();
    // The stem's output at 64x64 is 32x32x64 f32 = 256 KiB per image: one image past the limit.
    let per_image = 32 * 32 * 64 * 4;
    let batch = (max / per_image + 1) as usize;
    match model.plan(batch, 64, 64) {
        Err(Error::Limit {
            limit,
            needed,
            allowed,
            what,
        }) => {
            assert_eq!(limit, "max_storage_buffer_binding_size");
            assert_eq!(allowed, max);
            assert!(needed > allowed, "{needed} vs {allowed}");
            assert!(what.contains(&format!("batch {batch}")), "{what}");
        }
        Err(e) => panic!("expected a limit error, got {e}"),
        Ok(_) => panic!("a batch of {batch} cannot fit a {max}-byte binding"),
    }
    // Absurd batches are limit errors too, not arithmetic overflows.
    for batch in [usize::MAX, usize::MAX / 3, 1 << 40] {
        match model.plan(batch, 224, 224) {
            Err(Error::Limit { .. }) => {}
            Err(e) => panic!("batch {batch}: expected a limit error, got {e}"),
            Ok(_) => panic!("batch {batch} compiled"),
        }
    }
}
