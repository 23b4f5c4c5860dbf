//! The C ABI of gpu-resnet (`include/gpu_resnet.h`): a thin layer over the engine's
//! [`engine::Session`], which opens every model through `open_model` and runs the plan
//! `gpu-resnet infer` runs. This crate only checks what C hands it (pointers, sizes, strings),
//! catches panics, and turns errors into status codes plus a thread-local message.
//!
//! Every exported function is `gr_*`, declared in the header with the same name and
//! parameters (tests/header.rs keeps the two in step).

mod boundary;
mod classify;
mod model;
mod open;
mod system;

pub use boundary::GrStatus;
