//! The thin device layer: context (adapter, device, features, limits) and read-back.

pub mod context;
pub mod readback;

pub use context::{describe_adapter, list_adapters, BackendChoice, ContextOptions, GpuContext};
