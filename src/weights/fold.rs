//! BatchNorm folding: `y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta` becomes a conv
//! with scaled weights and a bias, computed once at load time in f64.

use super::model_weights::ConvBn;
pub use super::model_weights::BN_EPSILON;

/// Folded OIHW weights and per-output-channel bias (a conv already folded is returned as is).
pub fn fold_bn(conv: &ConvBn) -> (Vec<f32>, Vec<f32>) {
    let (weight, gamma, beta, mean, var, epsilon) = match conv {
        ConvBn::Folded { weight, bias } => return (weight.clone(), bias.clone()),
        ConvBn::BatchNorm {
            weight,
            gamma,
            beta,
            mean,
            var,
            epsilon,
        } => (weight, gamma, beta, mean, var, *epsilon as f64),
    };
    let cout = gamma.len();
    let per_out = weight.len() / cout.max(1);
    let mut folded = Vec::with_capacity(weight.len());
    let mut bias = Vec::with_capacity(cout);
    for o in 0..cout {
        let scale = gamma[o] as f64 / (var[o] as f64 + epsilon).sqrt();
        folded.extend(
            weight[o * per_out..(o + 1) * per_out]
                .iter()
                .map(|&w| (w as f64 * scale) as f32),
        );
        bias.push((beta[o] as f64 - mean[o] as f64 * scale) as f32);
    }
    (folded, bias)
}
