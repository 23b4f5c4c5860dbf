//! Shared test helpers: the GPU context (lavapipe in CI), seeded data, error measures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use gpu_resnet::reference::Activation;
use gpu_resnet::weights::synthetic::Rng;
use gpu_resnet::weights::ConvBn;
use gpu_resnet::{BackendChoice, ContextOptions, GpuContext};

/// The default adapter (Vulkan where present). No adapter is a test failure, not a skip: CI
/// installs lavapipe (mesa-vulkan-drivers), so a missing one means a broken set-up.
pub fn ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new(ContextOptions {
            backend: BackendChoice::Vulkan,
            adapter: None,
        })
        .or_else(|_| GpuContext::new(ContextOptions::default()))
        .unwrap_or_else(|e| panic!("tests need a GPU adapter (CI installs lavapipe): {e}"))
    })
}

/// The OpenGL adapter (llvmpipe through EGL here): no SHADER_F16.
pub fn gl_ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new(ContextOptions {
            backend: BackendChoice::Gl,
            adapter: None,
        })
        .unwrap_or_else(|e| panic!("tests need wgpu's GL adapter (llvmpipe via EGL): {e}"))
    })
}

pub fn golden(file: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/golden")).join(file)
}

pub fn random_activation(rng: &mut Rng, n: usize, c: usize, h: usize, w: usize) -> Activation {
    Activation {
        n,
        c,
        h,
        w,
        data: (0..n * c * h * w).map(|_| rng.uniform()).collect(),
    }
}

pub fn random_conv_bn(rng: &mut Rng, cout: usize, cin: usize, k: usize) -> ConvBn {
    let scale = (3.0 / (cin * k * k) as f32).sqrt();
    ConvBn {
        weight: (0..cout * cin * k * k)
            .map(|_| rng.uniform() * scale)
            .collect(),
        gamma: (0..cout).map(|_| rng.range(0.5, 1.5)).collect(),
        beta: (0..cout).map(|_| rng.range(-0.5, 0.5)).collect(),
        mean: (0..cout).map(|_| rng.range(-0.5, 0.5)).collect(),
        var: (0..cout).map(|_| rng.range(0.25, 2.0)).collect(),
    }
}

/// max |a - b| / max |b|: the error relative to the output's scale (the library's measure,
/// the one `gpu-resnet check` reports), with a clear failure on a length mismatch.
pub fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    gpu_resnet::check::rel_err(got, want)
}

// One source of truth for tolerances and ranking rules: the library's, shared with `check`.
#[allow(unused_imports)]
pub use gpu_resnet::check::{ranks_agree, tolerance, top_k, Compared, F16_EPS};
