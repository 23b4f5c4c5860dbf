//! Shared test helpers: the GPU context (lavapipe in CI), seeded data, error measures.
#![allow(dead_code)]

pub mod files;
pub mod numpy_pickles;

use std::path::PathBuf;
use std::sync::OnceLock;

use gpu_resnet::{BackendChoice, ContextOptions, GpuContext};

/// The default adapter (Vulkan where present). No adapter is a test failure, not a skip: CI
/// installs lavapipe (mesa-vulkan-drivers), so a missing one means a broken set-up.
pub fn ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(new_ctx)
}

/// A context of its own on the tests' adapter (Vulkan where there is one): for a test that
/// counts what is made on its device (the pipeline cache is per context).
pub fn new_ctx() -> GpuContext {
    GpuContext::new(ContextOptions {
        backend: BackendChoice::Vulkan,
        adapter: None,
    })
    .or_else(|_| GpuContext::new(ContextOptions::default()))
    .unwrap_or_else(|e| panic!("tests need a GPU adapter (CI installs lavapipe): {e}"))
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

/// wgpu's GL backend shares one EGL context per adapter behind a lock whose wait panics after
/// 6 s ("Could not lock adapter context"); on a loaded machine one test holding it through a
/// long shader compile made a parallel test's poll panic. Tests of one binary that use the GL
/// adapter hold this while they run, so they take turns.
pub fn gl_exclusive() -> std::sync::MutexGuard<'static, ()> {
    static GL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn golden(file: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/golden")).join(file)
}

#[allow(unused_imports)] // not every test file uses them
pub use gpu_resnet::check::cases::{random_activation, random_conv_bn};

/// max |a - b| / max |b|: the error relative to the output's scale (the library's measure,
/// the one `gpu-resnet check` reports), with a clear failure on a length mismatch.
pub fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    gpu_resnet::check::rel_err(got, want)
}

// One source of truth for tolerances and ranking rules: the library's, shared with `check`.
#[allow(unused_imports)]
pub use gpu_resnet::check::{ranks_agree, tolerance, top_k, Compared, F16_EPS};

/// Whether `ctx` has the `features` and at least the `limits` a test needs. Where it does not,
/// the test's name and the reason go to stderr and the result is `false`, so the test returns
/// early, visibly skipped rather than silently passed. `GPU_RESNET_REQUIRE_ALL=1` (set by
/// `.ci/run`, whose lavapipe has everything the suite asks for) turns a skip into a failure.
pub fn requires(
    test: &str,
    ctx: &GpuContext,
    features: wgpu::Features,
    limits: Option<&wgpu::Limits>,
) -> bool {
    let missing_features = features - ctx.device.features();
    let limits_ok = limits.is_none_or(|want| ctx.device.limits().check_limits(want));
    if missing_features.is_empty() && limits_ok {
        return true;
    }
    let mut why = Vec::new();
    if !missing_features.is_empty() {
        why.push(format!("features {missing_features:?}"));
    }
    if !limits_ok {
        why.push("the limits it needs".to_string());
    }
    let message = format!(
        "{test}: skipped: {} lacks {}",
        ctx.describe(),
        why.join(" and ")
    );
    if std::env::var_os("GPU_RESNET_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("{message} (GPU_RESNET_REQUIRE_ALL=1 makes that a failure)");
    }
    eprintln!("{message}");
    false
}
