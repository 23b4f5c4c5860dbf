//! Embedding: the engine on a device a host application created with its own (default) limits
//! and no optional features gives the same logits as on our own device; a device too small for
//! a plan gets an error naming the limit.

mod common;

use common::*;
use gpu_resnet::weights::synthetic_weights;
use gpu_resnet::{arch, Error, GpuContext, Model, Storage};

fn host_device(limits: wgpu::Limits) -> GpuContext {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter =
        pollster::block_on(instance.request_adapter(&Default::default())).expect("lavapipe");
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("host renderer"),
        required_features: wgpu::Features::empty(),
        required_limits: limits,
        ..Default::default()
    }))
    .expect("device");
    GpuContext::from_device(device, queue, info)
}

#[test]
fn a_borrowed_device_gives_the_same_logits() {
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let w = synthetic_weights(&a, 1000, 5);
    let x: Vec<f32> = (0..2 * 3 * 48 * 48)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let ours = Model::new(ctx(), &w, Storage::F32)
        .unwrap()
        .plan(2, 48, 48)
        .unwrap()
        .run(&x)
        .unwrap();
    let host = host_device(wgpu::Limits::default());
    assert!(
        !host.has(wgpu::Features::SHADER_F16),
        "the host did not enable f16"
    );
    let theirs = Model::new(&host, &w, Storage::F32)
        .unwrap()
        .plan(2, 48, 48)
        .unwrap()
        .run(&x)
        .unwrap();
    assert_eq!(ours, theirs);
    // FP16 on a device without SHADER_F16 takes the packed path
    let storage =
        gpu_resnet::choose_storage(&host, gpu_resnet::Precision::F16, gpu_resnet::F16Mode::Auto)
            .unwrap();
    assert_eq!(storage, Storage::F16Packed);
    let half = Model::new(&host, &w, storage)
        .unwrap()
        .plan(2, 48, 48)
        .unwrap()
        .run(&x)
        .unwrap();
    assert!(rel_err(&half, &ours) < 2e-2);
}

#[test]
fn a_device_too_small_for_the_plan_names_the_limit() {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 16 << 20,
        ..wgpu::Limits::default()
    };
    let host = host_device(limits);
    let a = arch::find_arch("ResNet50").unwrap();
    let w = synthetic_weights(&a, 1000, 5);
    let model = Model::new(&host, &w, Storage::F32).unwrap();
    match model.plan(8, 224, 224) {
        Err(Error::Limit {
            limit,
            needed,
            allowed,
            ..
        }) => {
            assert_eq!(limit, "max_storage_buffer_binding_size");
            assert!(needed > allowed);
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a 16 MiB binding limit cannot hold ResNet50's batch-8 activations"),
    }
    // A too-small device for the kernels themselves
    let tiny = host_device(wgpu::Limits {
        max_storage_buffers_per_shader_stage: 2,
        ..wgpu::Limits::downlevel_webgl2_defaults()
    });
    let e = Model::new(&tiny, &w, Storage::F32)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("max_storage_buffers_per_shader_stage"), "{e}");
}

/// ResNet50 with 10 synthetic classes, a 32x32 input, and its logits on the tests' device.
fn resnet50_at_32() -> (gpu_resnet::weights::ModelWeights, Vec<f32>, Vec<f32>) {
    let a = arch::find_arch("ResNet50").unwrap();
    let w = synthetic_weights(&a, 10, 3);
    let x: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let ours = Model::new(ctx(), &w, Storage::F32)
        .unwrap()
        .plan(1, 32, 32)
        .unwrap()
        .run(&x)
        .unwrap();
    (w, x, ours)
}

#[test]
fn small_texture_limits_fold_the_weights_and_give_the_same_logits() {
    // WebGL2-class limits: 2048 texels a side, while ResNet50's 3x3 512->512 convs have 4609
    // weight rows. Folding the rows into blocks side by side changes no arithmetic.
    let (w, x, ours) = resnet50_at_32();
    let small = host_device(wgpu::Limits {
        max_texture_dimension_2d: 2048,
        ..wgpu::Limits::default()
    });
    let folded = Model::new(&small, &w, Storage::F32)
        .unwrap()
        .plan(1, 32, 32)
        .unwrap()
        .run(&x)
        .unwrap();
    assert_eq!(ours, folded);

    // Too small even folded: 2048 output channels are 512 texels a row.
    let tiny = host_device(wgpu::Limits {
        max_texture_dimension_2d: 256,
        ..wgpu::Limits::default()
    });
    match Model::new(&tiny, &w, Storage::F32) {
        Err(Error::Limit {
            limit,
            what,
            allowed,
            ..
        }) => {
            assert_eq!(limit, "max_texture_dimension_2d");
            assert!(what.contains("weight texture of `"), "{what}");
            assert_eq!(allowed, 256);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a 256-texel device cannot hold ResNet50's weights"),
    }
}

#[test]
fn staged_tiles_read_folded_weights_and_too_little_workgroup_memory_is_refused() {
    use gpu_resnet::check::cases::kernel_cases;
    use gpu_resnet::kernels::staged;
    use gpu_resnet::plan::TileChoice;
    // The staged tile's weight loads follow the fold too (ResNet50's 4609-row textures
    // become 3 blocks at 2048 texels a side).
    let (w, x, ours) = resnet50_at_32();
    let small = host_device(wgpu::Limits {
        max_texture_dimension_2d: 2048,
        ..wgpu::Limits::default()
    });
    let model = Model::new(&small, &w, Storage::F32).unwrap();
    let tile = staged::tile(8, 1);
    let plan =
        gpu_resnet::Plan::compile_tiled(&model, 1, 32, 32, false, TileChoice::Override(tile, None))
            .unwrap();
    assert!(
        plan.convs.iter().flatten().all(|c| c.tile == tile),
        "every conv runs the staged tile"
    );
    let folded = plan.run(&x).unwrap();
    let err = rel_err(&folded, &ours);
    let tol = tolerance(Storage::F32, Compared::Model);
    assert!(err <= tol, "rel err {err:.2e} > {tol:.2e}");

    // A device with 8 KiB of workgroup memory: the 64x128 block (12 KiB in f32) is no
    // candidate there, and forcing it is an error naming the limit, not a failed pipeline.
    let little = host_device(wgpu::Limits {
        max_compute_workgroup_storage_size: 8192,
        ..wgpu::Limits::default()
    });
    let (big, fits) = (staged::tile(8, 4), staged::tile(8, 2));
    let candidates = gpu_resnet::tune::candidates(&little);
    assert!(!candidates.contains(&big) && candidates.contains(&fits));
    let case = kernel_cases()
        .into_iter()
        .find(|c| c.conv_cout() == Some(64))
        .unwrap();
    match case.run_with_tile(&little, Storage::F32, |_, _| big) {
        Err(Error::Limit {
            limit,
            needed,
            allowed,
            ..
        }) => {
            assert_eq!(limit, "max_compute_workgroup_storage_size");
            assert_eq!((needed, allowed), (12288, 8192));
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a 12 KiB tile ran in 8 KiB of workgroup memory"),
    }
    let got = case
        .run_with_tile(&little, Storage::F32, |_, _| fits)
        .unwrap();
    let err = rel_err(&got, case.expected());
    let tol = tolerance(Storage::F32, case.compared);
    assert!(err <= tol, "rel err {err:.2e} > {tol:.2e}");
}
