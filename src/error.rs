//! One error type for the whole engine. Every variant names the file, tensor, shape or limit
//! involved, so a user can act on the message without a backtrace.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not of the format we expected (foreign, truncated, damaged).
    #[error("{path}: not a valid {format} file: {reason}")]
    Format {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    /// An image that cannot be classified: unreadable, not an image, damaged or too large.
    #[error("{path}: {reason}")]
    Image { path: PathBuf, reason: String },
    /// A tensor is missing, unexpected, misshapen or holds values we cannot use.
    #[error("{source_name}: tensor `{tensor}`: {reason}")]
    Tensor {
        source_name: String,
        tensor: String,
        reason: String,
    },
    #[error("unknown model `{name}`; valid names: {valid}")]
    UnknownModel { name: String, valid: String },
    /// An input tensor or argument of the wrong shape, dtype or value.
    #[error("{0}")]
    Input(String),
    #[error("no GPU adapter found{detail}. Install a Vulkan driver (on Debian/Ubuntu without a GPU: `apt-get install mesa-vulkan-drivers` for lavapipe) or an OpenGL/EGL driver")]
    NoAdapter { detail: String },
    /// The adapter or device lacks something the requested plan needs.
    #[error("the adapter `{adapter}` lacks {what}")]
    Unsupported { adapter: String, what: String },
    /// A plan would exceed one of the device's limits.
    #[error("device limit `{limit}` exceeded: {what} needs {needed}, the device allows {allowed}")]
    Limit {
        limit: &'static str,
        what: String,
        needed: u64,
        allowed: u64,
    },
    /// wgpu reported a validation, out-of-memory or device-lost error for a call of ours.
    #[error("GPU error during {during}: {message}")]
    Gpu { during: String, message: String },
    /// The device was lost (driver reset, `destroy`, removed GPU); every later call on it fails
    /// with this. Make a new `GpuContext` to go on.
    #[error("the GPU device `{adapter}` was lost ({reason}); create a new context to continue")]
    DeviceLost { adapter: String, reason: String },
    /// The network's output (or an input) holds NaN or Inf: refused rather than answered.
    #[error("{0}")]
    NonFinite(String),
    /// `gpu-resnet check` found results outside their tolerance.
    #[error("conformance check failed: {0}")]
    Conformance(String),
    /// A bug of ours caught at a boundary (a panic that front ends turn into an error).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The broad kind of an [`Error`], for front ends that map errors onto their own classes (the
/// Python package's exceptions, the C API's status codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A weights file or model directory that cannot be read or used.
    Weights,
    /// An input tensor, image, argument or size the model refuses (limits included).
    Input,
    /// No adapter, a missing feature, a GPU error or a lost device.
    Device,
    /// NaN or Inf in an input or in the logits.
    NonFinite,
    /// Anything else: a failed conformance check, a bug of ours.
    Internal,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } | Error::Format { .. } | Error::Tensor { .. } => ErrorKind::Weights,
            Error::Image { .. } | Error::UnknownModel { .. } | Error::Input(_) => ErrorKind::Input,
            Error::Limit { .. } => ErrorKind::Input,
            Error::NoAdapter { .. }
            | Error::Unsupported { .. }
            | Error::Gpu { .. }
            | Error::DeviceLost { .. } => ErrorKind::Device,
            Error::NonFinite(_) => ErrorKind::NonFinite,
            Error::Conformance(_) | Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// An error for a panic caught at a boundary, with the panic's message when it has one.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Error::Internal(what)
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn tensor(
        source_name: impl Into<String>,
        tensor: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Tensor {
            source_name: source_name.into(),
            tensor: tensor.into(),
            reason: reason.into(),
        }
    }
}
