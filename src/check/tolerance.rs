//! How close the GPU must come to its reference: the one source of the tolerances that
//! `gpu-resnet check` and the tests (`tests/kernels.rs`, `models.rs`, `golden.rs`, `fp16.rs`)
//! hold every result to. All are relative to the output's scale (max |reference|).

use serde::Serialize;

use crate::kernels::Storage;

/// f16's unit roundoff (2^-11).
pub const F16_EPS: f64 = 4.8828125e-4;

/// What a comparison measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compared {
    /// One conv whose reduction has `k` terms (cin x kernel x kernel).
    Conv {
        k: usize,
    },
    MaxPool,
    /// Global average pool + FC.
    Head,
    /// A whole network against the CPU reference, synthetic weights, small input.
    Model,
    /// A whole network against PaddlePaddle's own logits (`*.logits.npy`).
    Golden,
}

/// The largest `max |got - want| / max |want|` a correct kernel or network can show.
///
/// - Conv, FP32: f32 rounding (2^-24) accumulated over K <= 4608 terms grows like sqrt(K)
///   (~70x), ~1e-5 at worst; 2e-5 leaves margin but is far below any indexing or layout bug
///   (those give errors of order 1).
/// - Conv, f16 storage with f32 math (packed, native-f32math): inputs, weights and outputs each
///   round once to f16: a few units of f16's roundoff, 4 x 2^-11 (~2e-3).
/// - Conv, native f16 math: each of the K accumulations rounds to f16, a random walk that grows
///   like sqrt(K): (4 + sqrt(K)) x 2^-11.
/// - Max pool picks one of its inputs: exact in FP32, one f16 rounding otherwise.
/// - Head: as a conv with f32 sums (the head sums in f32 in every storage).
/// - Model, FP32: each conv adds ~1e-6 of relative f32 rounding and a ResNet200 chains ~200 of
///   them: 1e-4. A wrong layer, stride, shortcut or padding moves the logits by order 1.
/// - Model and Golden, FP16: every layer rounds weights and activations to f16 and a ResNet
///   chains 50-200 of them; errors of that size add like a random walk (~sqrt(L) x 2^-11 x a
///   few of gain), ~1e-2 of the scale: 2e-2.
/// - Golden, FP32: 1e-3 (PaddlePaddle's own summation order differs from ours and from the
///   f64 reference; the golden README suggests this bound).
pub fn tolerance(storage: Storage, compared: Compared) -> f64 {
    let f16 = storage != Storage::F32;
    match (compared, storage) {
        (Compared::Conv { .. }, Storage::F32) => 2e-5,
        (Compared::Conv { k }, Storage::F16Native) => (4.0 + (k as f64).sqrt()) * F16_EPS,
        (Compared::Conv { .. }, _) => 4.0 * F16_EPS,
        (Compared::MaxPool, _) => {
            if f16 {
                F16_EPS
            } else {
                0.0
            }
        }
        (Compared::Head, Storage::F32) => 2e-5,
        (Compared::Head, _) => 4.0 * F16_EPS,
        (Compared::Model, Storage::F32) => 1e-4,
        (Compared::Golden, Storage::F32) => 1e-3,
        (Compared::Model | Compared::Golden, _) => 2e-2,
    }
}

/// `max |got - want| / max |want|`: the error relative to the output's scale. Infinite when
/// the lengths differ or `got` holds a NaN or an infinity.
pub fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    if got.len() != want.len() || got.iter().any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let scale = want
        .iter()
        .fold(0.0f64, |m, &v| m.max(v.abs() as f64))
        .max(1e-30);
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
    diff / scale
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(row: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
    idx.truncate(k);
    idx
}

/// The ranking rule of the golden cases, per image of `classes` logits: FP32 keeps the same
/// top-5 in the same order; FP16 keeps the same top-1 and at least 4 of the top-5 (both golden
/// cases have top-1 margins >= 1% of max |logit|, far above f16's error). `Err` says which
/// image broke it and how.
pub fn ranks_agree(
    storage: Storage,
    got: &[f32],
    want: &[f32],
    classes: usize,
) -> Result<(), String> {
    if classes == 0 || got.len() != want.len() || !want.len().is_multiple_of(classes) {
        return Err(format!(
            "{} logits against {} expected, {classes} classes",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got
        .chunks_exact(classes)
        .zip(want.chunks_exact(classes))
        .enumerate()
    {
        let (tg, tw) = (top_k(g, 5), top_k(w, 5));
        if storage == Storage::F32 {
            if tg != tw {
                return Err(format!("image {i}: top-5 {tg:?}, expected {tw:?}"));
            }
        } else {
            let shared = tg.iter().filter(|c| tw.contains(c)).count();
            if tg.first() != tw.first() || shared < 4 {
                return Err(format!(
                    "image {i}: top-5 {tg:?}, expected {tw:?} (same top-1 and 4 of 5 needed)"
                ));
            }
        }
    }
    Ok(())
}
