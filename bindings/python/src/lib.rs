//! The `gpu_resnet` Python package's native module (`gpu_resnet._native`): a thin layer over
//! `gpu_resnet::session::Session`. Every model opens through the engine's `open_model`; this
//! crate converts arguments and errors, releases the GIL while the GPU works and turns a
//! panic into an exception. The Python half (exceptions, the `paddle.inference` and
//! `onnxruntime` drop-ins) lives in `python/gpu_resnet/`.

use pyo3::prelude::*;

mod errors;
mod input;
mod model;
mod tables;

/// For the test suite: panics with `message`, with the GIL held (`released=False`) or
/// released, to show that a panic arrives as `gpu_resnet.Error`, not as a crash.
#[pyfunction]
#[pyo3(signature = (message, released=false))]
fn _panic(py: Python<'_>, message: String, released: bool) -> PyResult<()> {
    errors::guard(py, || {
        if released {
            errors::detached(py, move || -> gpu_resnet::Result<()> {
                panic!("{message}")
            })
        } else {
            panic!("{message}")
        }
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", gpu_resnet::session::VERSION)?;
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(tables::adapters, m)?)?;
    m.add_function(wrap_pyfunction!(tables::models, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    Ok(())
}
