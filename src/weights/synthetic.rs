//! Deterministic synthetic weights for speed work and tests: He-scaled conv weights and a
//! BatchNorm that keeps activations in a sane range, from a seeded generator (no download).

use super::model_weights::{ConvBn, ModelWeights};
use crate::arch::{Arch, Stage1Shortcut};

/// SplitMix64: small, seedable, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (self.uniform() + 1.0) * 0.5 * (hi - lo)
    }
}

/// Weights for `arch` with `classes` outputs, the same for the same seed.
pub fn synthetic_weights(arch: &Arch, classes: usize, seed: u64) -> ModelWeights {
    let mut rng = Rng::new(seed);
    let stage1 = Stage1Shortcut::Projection;
    let convs = arch
        .conv_layers(stage1)
        .iter()
        .map(|l| {
            let fan_in = (l.cin * l.kernel * l.kernel) as f32;
            let scale = (6.0 / fan_in).sqrt();
            let n = l.cout * l.cin * l.kernel * l.kernel;
            ConvBn::batch_norm(
                (0..n).map(|_| rng.uniform() * scale).collect(),
                (0..l.cout).map(|_| rng.range(0.3, 0.7)).collect(),
                (0..l.cout).map(|_| rng.range(-0.2, 0.2)).collect(),
                (0..l.cout).map(|_| rng.range(-0.3, 0.3)).collect(),
                (0..l.cout).map(|_| rng.range(0.5, 2.0)).collect(),
            )
        })
        .collect();
    let features = arch.features();
    let fc_scale = (3.0 / features as f32).sqrt();
    ModelWeights {
        arch: *arch,
        stage1,
        convs,
        fc_weight: (0..features * classes)
            .map(|_| rng.uniform() * fc_scale)
            .collect(),
        fc_bias: (0..classes).map(|_| rng.uniform() * 0.1).collect(),
        classes,
        source: format!("synthetic(seed={seed})"),
    }
}

/// A deterministic, roughly normalised input batch.
pub fn synthetic_input(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.uniform() * 2.0).collect()
}
