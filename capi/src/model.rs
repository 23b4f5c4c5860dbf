//! What an open model tells and runs: its names and sizes, class labels, and logits of a
//! normalised NCHW batch.

use std::ffi::{c_char, CString};

use engine::Session;

use crate::boundary::{guard, guard_value, non_null, slice, slice_mut, CError, CResult, GrStatus};
use crate::open::GrModel;

/// The model behind `model`, or an argument error for NULL.
///
/// # Safety
/// `model` is NULL or a live model from `gr_model_open*`.
pub unsafe fn model_ref<'a>(model: *const GrModel) -> CResult<&'a GrModel> {
    non_null(model, "model")?;
    Ok(&*model)
}

/// A string the model owns, or NULL (with the last error set) for a NULL model.
///
/// # Safety
/// As [`model_ref`].
unsafe fn model_str(model: *const GrModel, field: fn(&GrModel) -> &CString) -> *const c_char {
    guard_value(std::ptr::null(), || Ok(field(model_ref(model)?).as_ptr())).0
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_classes(model: *const GrModel) -> u32 {
    guard_value(0, || {
        let classes = model_ref(model)?.session.classes();
        u32::try_from(classes).map_err(|_| CError::argument(format!("{classes} classes")))
    })
    .0
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_name(model: *const GrModel) -> *const c_char {
    model_str(model, |m| &m.name)
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_input_name(model: *const GrModel) -> *const c_char {
    model_str(model, |m| &m.input_name)
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_input_size(model: *const GrModel) -> u32 {
    guard_value(0, || Ok(model_ref(model)?.session.input_size())).0
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_precision(model: *const GrModel) -> *const c_char {
    model_str(model, |m| &m.precision)
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_adapter(model: *const GrModel) -> *const c_char {
    model_str(model, |m| &m.adapter)
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_summary(model: *const GrModel) -> *const c_char {
    model_str(model, |m| &m.summary)
}

/// # Safety
/// `model` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn gr_model_label(model: *const GrModel, class_id: u32) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let m = model_ref(model)?;
        m.labels
            .get(class_id as usize)
            .map(|l| l.as_ptr())
            .ok_or_else(|| {
                CError::argument(format!(
                    "class_id {class_id} is out of range: the model has {} classes",
                    m.labels.len()
                ))
            })
    })
    .0
}

/// # Safety
/// `model` NULL or live; `input_nchw` NULL or `n*3*h*w` readable floats; `logits` NULL or
/// `logits_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn gr_model_run(
    model: *mut GrModel,
    input_nchw: *const f32,
    n: u32,
    h: u32,
    w: u32,
    logits: *mut f32,
    logits_len: usize,
) -> GrStatus {
    guard(|| {
        let m = model_ref(model)?;
        let (n, h, w) = (n as usize, h as usize, w as usize);
        let input_len = Session::input_len(n, h, w)?;
        let needed = n
            .checked_mul(m.session.classes())
            .ok_or_else(|| CError::argument("n * classes overflows"))?;
        if logits_len < needed {
            return Err(CError::argument(format!(
                "logits_len is {logits_len}: a batch of {n} needs {needed} floats ({n} x {} classes)",
                m.session.classes()
            )));
        }
        let input = slice(input_nchw, input_len, "input_nchw")?;
        let out = slice_mut(logits, needed, "logits")?;
        let got = m.session.run(input, n, h, w)?;
        if got.len() != needed {
            return Err(CError {
                status: GrStatus::ErrInternal,
                message: format!("the model returned {} logits, not {needed}", got.len()),
            });
        }
        out.copy_from_slice(&got);
        Ok(())
    })
}
