//! BatchNorm folding: `y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta` becomes a conv
//! with scaled weights and a bias, computed once at load time in f64.

use super::names::ConvBn;

/// PaddlePaddle's (and torchvision's) BatchNorm epsilon.
pub const BN_EPSILON: f64 = 1e-5;

/// Folded OIHW weights and per-output-channel bias.
pub fn fold_bn(conv: &ConvBn) -> (Vec<f32>, Vec<f32>) {
    let cout = conv.gamma.len();
    let per_out = conv.weight.len() / cout.max(1);
    let mut weight = Vec::with_capacity(conv.weight.len());
    let mut bias = Vec::with_capacity(cout);
    for o in 0..cout {
        let scale = conv.gamma[o] as f64 / (conv.var[o] as f64 + BN_EPSILON).sqrt();
        weight.extend(
            conv.weight[o * per_out..(o + 1) * per_out]
                .iter()
                .map(|&w| (w as f64 * scale) as f32),
        );
        bias.push((conv.beta[o] as f64 - conv.mean[o] as f64 * scale) as f32);
    }
    (weight, bias)
}
