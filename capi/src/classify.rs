//! Classifying images: encoded bytes or raw RGB in, the top-k classes out, preprocessed on
//! the GPU as `gpu-resnet predict` does.

use engine::Session;
use image::RgbaImage;

use crate::boundary::{guard, slice, slice_mut, CError, CResult, GrStatus};
use crate::model::model_ref;
use crate::open::GrModel;

/// `gr_prediction`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GrPrediction {
    pub class_id: u32,
    /// Softmax probability.
    pub score: f32,
}

/// Classify `image` and write its top `k` at `top` (`*count` of them).
///
/// # Safety
/// `model` NULL or live; `top` NULL or `k` writable entries; `count` NULL or writable.
unsafe fn classify_into(
    model: *mut GrModel,
    image: impl FnOnce() -> CResult<RgbaImage>,
    top: *mut GrPrediction,
    k: usize,
    count: *mut usize,
) -> GrStatus {
    if !count.is_null() {
        *count = 0;
    }
    guard(|| {
        let m = model_ref(model)?;
        if k == 0 {
            return Err(CError::argument("k is 0: ask for at least one class"));
        }
        let out = slice_mut(top, k, "top")?;
        let image = image()?;
        let found = m.session.classify(std::slice::from_ref(&image), k)?;
        let preds = found.first().ok_or_else(|| CError {
            status: GrStatus::ErrInternal,
            message: "no predictions for the image".into(),
        })?;
        for (slot, p) in out.iter_mut().zip(preds) {
            *slot = GrPrediction {
                class_id: p.class_id as u32,
                score: p.score,
            };
        }
        if !count.is_null() {
            *count = preds.len().min(k);
        }
        Ok(())
    })
}

/// # Safety
/// `model` NULL or live; `bytes` NULL or `len` readable bytes; `top` NULL or `k` writable
/// entries; `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn gr_model_classify(
    model: *mut GrModel,
    bytes: *const u8,
    len: usize,
    top: *mut GrPrediction,
    k: usize,
    count: *mut usize,
) -> GrStatus {
    let decode = || {
        let data = slice(bytes, len, "bytes")?;
        Ok(Session::decode(data, "image in memory")?)
    };
    classify_into(model, decode, top, k, count)
}

/// # Safety
/// `model` NULL or live; `rgb` NULL or `height*width*3` readable bytes; `top`, `count` as
/// [`gr_model_classify`].
#[no_mangle]
pub unsafe extern "C" fn gr_model_classify_rgb(
    model: *mut GrModel,
    rgb: *const u8,
    height: u32,
    width: u32,
    top: *mut GrPrediction,
    k: usize,
    count: *mut usize,
) -> GrStatus {
    let image = || {
        let (h, w) = (height as usize, width as usize);
        let len = h
            .checked_mul(w)
            .and_then(|p| p.checked_mul(3))
            .ok_or_else(|| CError::argument(format!("{height}x{width}x3 bytes overflow")))?;
        let data = slice(rgb, len, "rgb")?;
        Ok(Session::rgb_image(data, h, w)?)
    };
    classify_into(model, image, top, k, count)
}
