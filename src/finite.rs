//! Non-finite values at the engine's edges. NaN in an input runs to finite, plausible logits
//! (ReLU's `max` drops NaN), and an FP16 run whose activations leave f16's range returns NaN or
//! Inf logits: both are refused with an error that says where and why, never silently answered.

use crate::error::{Error, Result};
use crate::kernels::Storage;

/// `Err` naming the count and first flat index of NaN/Inf values in the host tensor `what`.
pub fn check_input(values: &[f32], what: &str) -> Result<()> {
    let mut bad = values.iter().enumerate().filter(|(_, v)| !v.is_finite());
    if let Some((first, v)) = bad.next() {
        let count = 1 + bad.count();
        return Err(Error::NonFinite(format!(
            "{what}: {count} non-finite value(s) (NaN or Inf), the first at flat index {first} \
             ({v}); the network would turn them into finite-looking logits"
        )));
    }
    Ok(())
}

/// `Err` when the logits hold NaN/Inf: under FP16 storage that means activations left f16's
/// range, and the message suggests FP32.
pub fn check_logits(logits: &[f32], storage: Storage) -> Result<()> {
    let bad = logits.iter().filter(|v| !v.is_finite()).count();
    if bad == 0 {
        return Ok(());
    }
    let why = if storage == Storage::F32 {
        "the activations exceeded f32's range".to_string()
    } else {
        format!(
            "the {} activations left f16's range (|x| > 65504); run with --precision f32",
            storage.name()
        )
    };
    Err(Error::NonFinite(format!(
        "{bad} of {} logits are NaN or Inf: {why}",
        logits.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_index_and_fix() {
        let e = check_input(&[0.0, f32::NAN, 1.0, f32::INFINITY], "batch.npy").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("2 non-finite") && m.contains("index 1"), "{m}");
        assert!(check_input(&[0.0, -1e30], "x").is_ok());
        let m = check_logits(&[f32::NAN, 0.0], Storage::F16Packed)
            .unwrap_err()
            .to_string();
        assert!(m.contains("1 of 2") && m.contains("--precision f32"), "{m}");
    }
}
