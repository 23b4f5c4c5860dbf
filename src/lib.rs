//! gpu-resnet: the PaddleClas ResNet family on wgpu compute shaders.
//!
//! Data flows: weights file -> [`weights`] (read, check names and shapes, fold BN) ->
//! [`model::Model`] (uploaded once) -> [`plan::Plan`] (compiled once per batch and input size)
//! -> `Plan::run` (one pass, one submit, one read-back) -> logits.

// In the browser wgpu's handles are neither Send nor Sync (it has one thread): the Arcs that
// share them between threads natively are plain shared pointers there.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

#[cfg(feature = "cli")]
pub mod app;
pub mod arch;
// The conformance check walks the machine's adapters with blocking waits: native only (in the
// browser the page's golden test plays its part).
#[cfg(not(target_arch = "wasm32"))]
pub mod check;
pub mod classify;
pub mod decode;
pub mod error;
pub mod finite;
pub mod gpu;
pub mod kernels;
pub mod labels;
pub mod model;
pub mod npy;
pub mod open;
pub mod plan;
pub mod preprocess;
pub mod reference;
// Blocking calls from any thread (Python, C): native only.
#[cfg(not(target_arch = "wasm32"))]
pub mod session;
pub mod tensor;
pub mod tune;
pub mod tuning;
pub mod weights;

pub use arch::{resolve, Arch, ModelSpec};
pub use classify::{Classifier, PendingClassification, Prediction, TextureClassification};
pub use error::{Error, ErrorKind, Result};
pub use gpu::{BackendChoice, ContextOptions, GpuContext};
pub use kernels::Storage;
pub use model::{choose_storage, F16Mode, Model, Precision};
pub use open::{open_model, OpenOptions, Opened, WeightsSource};
pub use plan::Plan;
pub use preprocess::PreprocessConfig;
#[cfg(not(target_arch = "wasm32"))]
pub use session::{Session, SessionOptions};
pub use tune::{TuneStatus, TuneTable};
