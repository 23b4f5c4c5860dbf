//! Weight-name schemes: every naming a ResNet checkpoint uses, mapped onto the engine's conv
//! layers (PaddleClas structured, PaddleClas model-zoo structured, PaddleClas parameter names,
//! torchvision / timm). Every expected tensor is checked for presence and exact shape, and every
//! tensor of the file must be used: the first offender is named in the error.

use std::collections::BTreeSet;

use crate::arch::{Arch, Block, ConvLayer, ConvRole, Shortcut, Stage1Shortcut, Stem};
use crate::error::{Error, Result};
use crate::tensor::TensorMap;

// The types the names map onto (kept reachable here, where they were first defined).
pub use super::model_weights::{ConvBn, ModelWeights};

/// The names a checkpoint uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `stem.0.conv.weight`, `blocks.3.conv1.bn._mean`, `fc.weight` (PaddleClas legendary models).
    PaddleStructured,
    /// `conv1_1._conv.weight`, `bb_1_0.short._batch_norm.weight`, `out.weight` (model_zoo: ResNet50_vc).
    PaddleZoo,
    /// `conv1_1_weights`, `bnv1_1_scale`, `res2a_branch2a_weights`, `fc_0.w_0` (parameter names).
    PaddleParams,
    /// `conv1.weight`, `layer1.0.conv1.weight`, `fc.weight` [out, in] (torchvision; timm's `d` models).
    Torch,
}

impl Scheme {
    pub fn detect(tensors: &TensorMap) -> Option<Scheme> {
        let has = |k: &str| tensors.contains_key(k);
        let any_prefix = |p: &str| tensors.keys().any(|k| k.starts_with(p));
        if has("fc_0.w_0") || tensors.keys().any(|k| k.ends_with("_weights")) {
            Some(Scheme::PaddleParams)
        } else if any_prefix("stem.") || any_prefix("blocks.") {
            Some(Scheme::PaddleStructured)
        } else if any_prefix("bb_") || any_prefix("conv1_1._conv") || has("out.weight") {
            Some(Scheme::PaddleZoo)
        } else if any_prefix("layer1.") || has("conv1.weight") || has("conv1.0.weight") {
            Some(Scheme::Torch)
        } else {
            None
        }
    }

    pub fn stage1(self) -> Stage1Shortcut {
        match self {
            Scheme::Torch => Stage1Shortcut::IdentityWhenSameShape,
            _ => Stage1Shortcut::Projection,
        }
    }

    /// Tensors a file of this scheme may hold that the network does not use.
    fn ignorable(self, name: &str) -> bool {
        self == Scheme::Torch && name.ends_with("num_batches_tracked")
    }
}

/// The keys of one conv layer: its weight and its BN's scale, shift, mean, variance.
pub struct ConvKeys {
    pub weight: String,
    pub bn: [String; 4],
}

/// PaddleClas's block name for parameter-named checkpoints: `res2a`, `res4b12`, ...
fn paddle_block_name(arch: &Arch, stage: usize, index: usize) -> String {
    let deep_stage3 = arch.block == Block::Bottleneck && arch.stage_depths[2] > 6 && stage == 2;
    if deep_stage3 {
        if index == 0 {
            "res4a".to_string()
        } else {
            format!("res4b{index}")
        }
    } else {
        format!("res{}{}", stage + 2, (b'a' + index as u8) as char)
    }
}

/// The keys `scheme` gives one conv layer of `arch`.
pub fn conv_keys(scheme: Scheme, arch: &Arch, layer: &ConvLayer) -> ConvKeys {
    let bn4 = |prefix: &str, names: [&str; 4]| names.map(|n| format!("{prefix}{n}"));
    match scheme {
        Scheme::PaddleStructured => ConvKeys {
            weight: format!("{}.conv.weight", layer.name),
            bn: bn4(
                &format!("{}.bn.", layer.name),
                ["weight", "bias", "_mean", "_variance"],
            ),
        },
        Scheme::PaddleZoo => {
            let prefix = match layer.role {
                ConvRole::Stem(_) if arch.stem == Stem::Plain => "conv1".to_string(),
                ConvRole::Stem(i) => format!("conv1_{}", i + 1),
                ConvRole::Branch {
                    stage, index, conv, ..
                } => format!("bb_{stage}_{index}.conv{conv}"),
                ConvRole::Short { stage, index, .. } => format!("bb_{stage}_{index}.short"),
            };
            ConvKeys {
                weight: format!("{prefix}._conv.weight"),
                bn: bn4(
                    &format!("{prefix}._batch_norm."),
                    ["weight", "bias", "_mean", "_variance"],
                ),
            }
        }
        Scheme::PaddleParams => {
            let conv = match layer.role {
                ConvRole::Stem(_) if arch.stem == Stem::Plain => "conv1".to_string(),
                ConvRole::Stem(i) => format!("conv1_{}", i + 1),
                ConvRole::Branch {
                    stage, index, conv, ..
                } => {
                    format!(
                        "{}_branch2{}",
                        paddle_block_name(arch, stage, index),
                        (b'a' + conv as u8) as char
                    )
                }
                ConvRole::Short { stage, index, .. } => {
                    format!("{}_branch1", paddle_block_name(arch, stage, index))
                }
            };
            // PaddleClas: "bn_conv1" for the 7x7 stem, else "bn" + name[3:] ("conv1_1" -> "bnv1_1").
            let bn = if conv == "conv1" {
                "bn_conv1".to_string()
            } else {
                format!("bn{}", &conv[3..])
            };
            ConvKeys {
                weight: format!("{conv}_weights"),
                bn: bn4(&format!("{bn}_"), ["scale", "offset", "mean", "variance"]),
            }
        }
        Scheme::Torch => {
            let (conv, bn) = match layer.role {
                ConvRole::Stem(_) if arch.stem == Stem::Plain => {
                    ("conv1".to_string(), "bn1".to_string())
                }
                // timm deep stem: conv1 = Sequential(conv, bn, act, conv, bn, act, conv), then bn1
                ConvRole::Stem(i) => (
                    format!("conv1.{}", 3 * i),
                    if i == 2 {
                        "bn1".to_string()
                    } else {
                        format!("conv1.{}", 3 * i + 1)
                    },
                ),
                ConvRole::Branch {
                    stage, index, conv, ..
                } => (
                    format!("layer{}.{index}.conv{}", stage + 1, conv + 1),
                    format!("layer{}.{index}.bn{}", stage + 1, conv + 1),
                ),
                ConvRole::Short { stage, index, .. } => {
                    // timm's avg_down puts the pool (or an identity) at index 0 of downsample
                    let at = if arch.shortcut == Shortcut::AvgPool {
                        1
                    } else {
                        0
                    };
                    (
                        format!("layer{}.{index}.downsample.{at}", stage + 1),
                        format!("layer{}.{index}.downsample.{}", stage + 1, at + 1),
                    )
                }
            };
            ConvKeys {
                weight: format!("{conv}.weight"),
                bn: bn4(
                    &format!("{bn}."),
                    ["weight", "bias", "running_mean", "running_var"],
                ),
            }
        }
    }
}

pub fn fc_keys(scheme: Scheme) -> (&'static str, &'static str) {
    match scheme {
        Scheme::PaddleStructured | Scheme::Torch => ("fc.weight", "fc.bias"),
        Scheme::PaddleZoo => ("out.weight", "out.bias"),
        Scheme::PaddleParams => ("fc_0.w_0", "fc_0.b_0"),
    }
}

struct Taker<'a> {
    tensors: &'a TensorMap,
    used: BTreeSet<&'a str>,
    source: &'a str,
    arch: &'a Arch,
}

impl<'a> Taker<'a> {
    fn take(&mut self, key: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (name, t) = self.tensors.get_key_value(key).ok_or_else(|| {
            Error::tensor(
                self.source,
                key,
                format!("missing (expected shape {shape:?} for {})", self.arch.name),
            )
        })?;
        if t.shape != shape {
            return Err(Error::tensor(
                self.source,
                key,
                format!(
                    "expected shape {shape:?} for {}, found {:?} (weights of another architecture?)",
                    self.arch.name, t.shape
                ),
            ));
        }
        if let Some(bad) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::tensor(
                self.source,
                key,
                format!("value {} at flat index {bad} is not finite", t.data[bad]),
            ));
        }
        self.used.insert(name.as_str());
        Ok(t.data.clone())
    }
}

/// Map a file's tensors onto `arch`, checking every name and shape. `source` names the file.
pub fn map_weights(tensors: &TensorMap, arch: &Arch, source: &str) -> Result<ModelWeights> {
    let scheme = Scheme::detect(tensors).ok_or_else(|| {
        let first: Vec<&str> = tensors.keys().take(5).map(String::as_str).collect();
        Error::tensor(
            source,
            first.first().copied().unwrap_or("<none>"),
            format!(
                "no known ResNet weight-name scheme (PaddleClas structured or parameter names, torchvision/timm); first keys: {first:?}"
            ),
        )
    })?;
    let stage1 = scheme.stage1();
    let mut taker = Taker {
        tensors,
        used: BTreeSet::new(),
        source,
        arch,
    };
    let mut convs = Vec::new();
    for layer in arch.conv_layers(stage1) {
        let keys = conv_keys(scheme, arch, &layer);
        let c = layer.cout;
        let weight = taker.take(&keys.weight, &[c, layer.cin, layer.kernel, layer.kernel])?;
        let [g, b, m, v] = &keys.bn;
        let var = taker.take(v, &[c])?;
        if let Some(bad) = var.iter().position(|&x| x < 0.0) {
            return Err(Error::tensor(
                source,
                v.as_str(),
                format!("negative variance at channel {bad}"),
            ));
        }
        convs.push(ConvBn::batch_norm(
            weight,
            taker.take(g, &[c])?,
            taker.take(b, &[c])?,
            taker.take(m, &[c])?,
            var,
        ));
    }
    let (wk, bk) = fc_keys(scheme);
    let classes = match tensors.get(bk) {
        Some(t) if t.shape.len() == 1 && t.shape[0] > 0 => t.shape[0],
        Some(t) => {
            return Err(Error::tensor(
                source,
                bk,
                format!("expected a 1-D bias [classes], found {:?}", t.shape),
            ))
        }
        None => {
            return Err(Error::tensor(
                source,
                bk,
                "missing (the FC bias gives the class count)",
            ))
        }
    };
    let features = arch.features();
    let fc_weight = if scheme == Scheme::Torch {
        let w = taker.take(wk, &[classes, features])?;
        let mut t = vec![0.0; w.len()];
        for c in 0..classes {
            for k in 0..features {
                t[k * classes + c] = w[c * features + k];
            }
        }
        t
    } else {
        taker.take(wk, &[features, classes])?
    };
    let fc_bias = taker.take(bk, &[classes])?;
    if let Some(extra) = tensors
        .keys()
        .find(|k| !taker.used.contains(k.as_str()) && !scheme.ignorable(k))
    {
        return Err(Error::tensor(
            source,
            extra.as_str(),
            format!(
                "unexpected tensor: not part of {} (weights of another architecture?)",
                arch.name
            ),
        ));
    }
    Ok(ModelWeights {
        arch: *arch,
        stage1,
        convs,
        fc_weight,
        fc_bias,
        classes,
        source: source.to_string(),
    })
}
