//! The engine's errors as the package's exceptions (`gpu_resnet._errors`), and the boundary
//! every call crosses: a Rust panic becomes `gpu_resnet.Error`, never a crash or a
//! `PanicException` (which derives from `BaseException`, not `Exception`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use gpu_resnet::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// The Python module that defines the exception classes (so `InputError` can also be a
/// `ValueError`: multiple bases are plain Python).
const ERRORS_MODULE: &str = "gpu_resnet._errors";

fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Weights => "WeightsError",
        ErrorKind::Input => "InputError",
        ErrorKind::Device => "DeviceError",
        ErrorKind::NonFinite => "NonFiniteError",
        ErrorKind::Internal => "Error",
    }
}

/// The exception for `err`, its message the engine's.
pub fn to_py(py: Python<'_>, err: &Error) -> PyErr {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import(ERRORS_MODULE).map(Bound::unbind));
    let made = module
        .and_then(|m| m.bind(py).getattr(class_name(err.kind())))
        .and_then(|class| class.call1((err.to_string(),)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        // Only when the package itself is broken (its _errors module missing).
        Err(e) => e,
    }
}

/// A message of the engine's kind `kind`: for checks made here (closed model, wrong type).
pub fn input_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, &Error::Input(message.into()))
}

/// Runs `f` with the GIL held, a panic in it becoming `gpu_resnet.Error`.
pub fn guard<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(to_py(py, &Error::from_panic(&*panic))))
}

/// Runs `f` with the GIL released (other Python threads go on while the GPU works), a panic
/// in it becoming `gpu_resnet.Error`.
pub fn detached<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> gpu_resnet::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(Error::from_panic(&*p))))
        .map_err(|e| to_py(py, &e))
}
