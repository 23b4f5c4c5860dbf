//! The thin device layer: context (adapter, device, features, limits), the per-device pipeline
//! cache the context owns, and read-back.

pub mod context;
pub mod pipelines;
pub mod readback;

#[cfg(not(target_arch = "wasm32"))]
pub use context::list_adapters;
pub use context::{
    describe_adapter, list_adapters_async, BackendChoice, ContextOptions, GpuContext,
};
