//! Which architecture a checkpoint (`.pdparams`, safetensors) holds, from its tensor names and
//! shapes alone: the architecture whose every conv weight the file has, at the right shape.
//!
//! One ambiguity is structural: ResNet50_vc and ResNet50_vd have the same tensors (the vd
//! shortcut's average pool has no weights). The PaddleClas model-zoo naming (`bb_1_0.short`) is
//! ResNet50_vc's own, so it means vc; timm's names tell the two apart (`downsample.1` follows the
//! pool); for the other schemes (PaddleClas structured and parameter names) the deep-stem file
//! is taken as the `_vd` architecture, which PaddleClas releases far more often. Pass the
//! architecture explicitly (`--model ResNet50_vc`) for a vc checkpoint in those schemes.

use super::names::{conv_keys, map_weights, ModelWeights, Scheme};
use crate::arch::{Arch, Shortcut, ARCHS};
use crate::error::{Error, Result};
use crate::tensor::TensorMap;

/// Whether every conv weight `arch` needs is in `tensors` at its shape (no data is copied).
fn fits(tensors: &TensorMap, scheme: Scheme, arch: &Arch) -> bool {
    arch.conv_layers(scheme.stage1()).iter().all(|layer| {
        let keys = conv_keys(scheme, arch, layer);
        tensors
            .get(&keys.weight)
            .is_some_and(|t| t.shape == [layer.cout, layer.cin, layer.kernel, layer.kernel])
    })
}

/// The architecture `tensors` hold (see the module comment for vc vs vd).
pub fn recognise(tensors: &TensorMap, source: &str) -> Result<Arch> {
    let scheme = Scheme::detect(tensors).ok_or_else(|| {
        let first: Vec<&str> = tensors.keys().take(5).map(String::as_str).collect();
        Error::tensor(
            source,
            first.first().copied().unwrap_or("<none>"),
            format!("no known ResNet weight-name scheme; first keys: {first:?}"),
        )
    })?;
    // Only the conv weights a layer table names count: an architecture whose layers are a
    // prefix of the file's (ResNet18 of a ResNet34 file) must not win, so the count must agree.
    let conv_weights = |a: &Arch| a.conv_layers(scheme.stage1()).len();
    let weight_like = tensors.iter().filter(|(_, t)| t.shape.len() == 4).count();
    let candidates: Vec<Arch> = ARCHS
        .iter()
        .copied()
        .filter(|a| conv_weights(a) == weight_like && fits(tensors, scheme, a))
        .collect();
    let prefer_vc = scheme == Scheme::PaddleZoo;
    let chosen = candidates
        .iter()
        .copied()
        .find(|a| (a.shortcut == Shortcut::Strided) == prefer_vc)
        .or_else(|| candidates.first().copied());
    chosen.ok_or_else(|| {
        Error::tensor(
            source,
            "<architecture>",
            format!(
                "the {weight_like} conv weights (names {scheme:?}) fit none of the family's architectures"
            ),
        )
    })
}

/// Recognises the architecture and maps the weights; a `hint` that contradicts the file is an
/// error naming both (vc and vd, which the file cannot tell apart, follow the hint).
pub fn recognise_and_map(
    tensors: &TensorMap,
    hint: Option<&Arch>,
    source: &str,
) -> Result<ModelWeights> {
    let Some(hint) = hint else {
        let arch = recognise(tensors, source)?;
        return map_weights(tensors, &arch, source);
    };
    match map_weights(tensors, hint, source) {
        Ok(w) => Ok(w),
        Err(e) => match recognise(tensors, source) {
            Ok(found) if found.name != hint.name => Err(Error::tensor(
                source,
                "<architecture>",
                format!(
                    "the file holds a {} but {} was asked for (read as a {}: {e})",
                    found.name, hint.name, hint.name
                ),
            )),
            _ => Err(e),
        },
    }
}
