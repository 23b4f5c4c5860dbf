//! A network's weights as the engine takes them: each conv with its BatchNorm (or the bias it
//! was folded into), the FC, and the shape check a hand-built set gets. What the weight-name
//! schemes fill (`names.rs`) and what BN folding reads (`fold.rs`).

use crate::arch::{Arch, Stage1Shortcut};
use crate::error::{Error, Result};

/// PaddlePaddle's (and torchvision's) BatchNorm epsilon.
pub const BN_EPSILON: f64 = 1e-5;

/// One conv layer's parameters as stored: its weight with a BatchNorm (not yet folded), or
/// with a bias the BatchNorm was already folded into (ONNX exports from torch often do that).
#[derive(Clone, Debug)]
pub enum ConvBn {
    BatchNorm {
        /// OIHW
        weight: Vec<f32>,
        gamma: Vec<f32>,
        beta: Vec<f32>,
        mean: Vec<f32>,
        var: Vec<f32>,
        /// As the file gives it (Paddle's and ONNX's `epsilon`; 1e-5 for checkpoints).
        epsilon: f32,
    },
    Folded {
        /// OIHW
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
}

impl ConvBn {
    /// A conv + BatchNorm with the family's epsilon (1e-5).
    pub fn batch_norm(
        weight: Vec<f32>,
        gamma: Vec<f32>,
        beta: Vec<f32>,
        mean: Vec<f32>,
        var: Vec<f32>,
    ) -> Self {
        ConvBn::BatchNorm {
            weight,
            gamma,
            beta,
            mean,
            var,
            epsilon: BN_EPSILON as f32,
        }
    }

    /// OIHW
    pub fn weight(&self) -> &[f32] {
        match self {
            ConvBn::BatchNorm { weight, .. } | ConvBn::Folded { weight, .. } => weight,
        }
    }

    /// OIHW, to change in place.
    pub fn weight_mut(&mut self) -> &mut Vec<f32> {
        match self {
            ConvBn::BatchNorm { weight, .. } | ConvBn::Folded { weight, .. } => weight,
        }
    }

    /// The per-output-channel arrays with what they are, for shape checks.
    pub fn per_channel(&self) -> Vec<(&'static str, &[f32])> {
        match self {
            ConvBn::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                ..
            } => vec![
                ("the BN scale", gamma),
                ("the BN shift", beta),
                ("the BN mean", mean),
                ("the BN variance", var),
            ],
            ConvBn::Folded { bias, .. } => vec![("the conv bias", bias)],
        }
    }
}

/// A whole network's weights in the engine's order, checked against its architecture.
#[derive(Clone, Debug)]
pub struct ModelWeights {
    pub arch: Arch,
    pub stage1: Stage1Shortcut,
    /// Same order as `arch.conv_layers(stage1)`.
    pub convs: Vec<ConvBn>,
    /// `[features][classes]`, row-major.
    pub fc_weight: Vec<f32>,
    pub fc_bias: Vec<f32>,
    pub classes: usize,
    /// Where the weights came from, for messages.
    pub source: String,
}

impl ModelWeights {
    /// Every array has the length its architecture needs. `map_weights` guarantees it; weights
    /// built by hand (a library user's own loader) are checked here before anything indexes
    /// them, so a mismatch is an error naming the tensor, not a panic.
    pub fn check_shapes(&self) -> Result<()> {
        let bad = |tensor: &str, what: &str, len: usize, want: usize| {
            Error::tensor(
                &self.source,
                tensor,
                format!("{what} holds {len} values, {} needs {want}", self.arch.name),
            )
        };
        let layers = self.arch.conv_layers(self.stage1);
        if self.convs.len() != layers.len() {
            return Err(Error::tensor(
                &self.source,
                "<conv layers>",
                format!(
                    "{} conv layers given, {} has {}",
                    self.convs.len(),
                    self.arch.name,
                    layers.len()
                ),
            ));
        }
        for (layer, conv) in layers.iter().zip(&self.convs) {
            let weight = layer.cout * layer.cin * layer.kernel * layer.kernel;
            if conv.weight().len() != weight {
                return Err(bad(&layer.name, "the weight", conv.weight().len(), weight));
            }
            for (what, v) in conv.per_channel() {
                if v.len() != layer.cout {
                    return Err(bad(&layer.name, what, v.len(), layer.cout));
                }
            }
        }
        if self.classes == 0 {
            return Err(Error::tensor(&self.source, "fc", "a head of 0 classes"));
        }
        let fc = self.arch.features() * self.classes;
        if self.fc_weight.len() != fc {
            return Err(bad("fc", "the FC weight", self.fc_weight.len(), fc));
        }
        if self.fc_bias.len() != self.classes {
            return Err(bad("fc", "the FC bias", self.fc_bias.len(), self.classes));
        }
        Ok(())
    }
}
