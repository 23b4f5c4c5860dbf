//! The CPU reference: every op in the most obvious way, NCHW, f64 accumulation, BatchNorm
//! applied as written (not folded). The tests' truth; shares no code with the GPU path beyond
//! the architecture's layer list.

use crate::arch::{ConvLayer, Graph, Op};
use crate::weights::{ConvBn, ModelWeights};

/// An NCHW activation.
#[derive(Clone, Debug)]
pub struct Activation {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Activation {
    pub fn at(&self, n: usize, c: usize, y: usize, x: usize) -> f32 {
        self.data[((n * self.c + c) * self.h + y) * self.w + x]
    }
}

/// 2x2 / 2 average pool, ceil mode, padding excluded from the count (the vd shortcut).
pub fn avg_pool_2x2(x: &Activation) -> Activation {
    let (ho, wo) = (x.h.div_ceil(2), x.w.div_ceil(2));
    let mut data = Vec::with_capacity(x.n * x.c * ho * wo);
    for n in 0..x.n {
        for c in 0..x.c {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut sum = 0.0f64;
                    let mut count = 0;
                    for y in 2 * oy..(2 * oy + 2).min(x.h) {
                        for xx in 2 * ox..(2 * ox + 2).min(x.w) {
                            sum += x.at(n, c, y, xx) as f64;
                            count += 1;
                        }
                    }
                    data.push((sum / count as f64) as f32);
                }
            }
        }
    }
    Activation {
        n: x.n,
        c: x.c,
        h: ho,
        w: wo,
        data,
    }
}

/// Conv then its BatchNorm (in f64, the file's epsilon) or its folded bias, optionally ReLU.
pub fn conv_bn(x: &Activation, layer: &ConvLayer, p: &ConvBn, relu: bool) -> Activation {
    let pooled;
    let x = if layer.avg_pool_input {
        pooled = avg_pool_2x2(x);
        &pooled
    } else {
        x
    };
    let (k, s, pad) = (layer.kernel, layer.stride, layer.pad());
    let ho = (x.h + 2 * pad - k) / s + 1;
    let wo = (x.w + 2 * pad - k) / s + 1;
    let mut out = vec![0.0f32; x.n * layer.cout * ho * wo];
    let mut acc = vec![0.0f64; ho * wo];
    let weight = p.weight();
    for n in 0..x.n {
        for o in 0..layer.cout {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for i in 0..layer.cin {
                for ky in 0..k {
                    for kx in 0..k {
                        let wv = weight[((o * layer.cin + i) * k + ky) * k + kx] as f64;
                        for oy in 0..ho {
                            let iy = (oy * s + ky) as isize - pad as isize;
                            if iy < 0 || iy >= x.h as isize {
                                continue;
                            }
                            let row = ((n * x.c + i) * x.h + iy as usize) * x.w;
                            for ox in 0..wo {
                                let ix = (ox * s + kx) as isize - pad as isize;
                                if ix >= 0 && ix < x.w as isize {
                                    acc[oy * wo + ox] += wv * x.data[row + ix as usize] as f64;
                                }
                            }
                        }
                    }
                }
            }
            let (scale, shift) = match p {
                ConvBn::BatchNorm {
                    gamma,
                    beta,
                    mean,
                    var,
                    epsilon,
                    ..
                } => {
                    let s = gamma[o] as f64 / (var[o] as f64 + *epsilon as f64).sqrt();
                    (s, beta[o] as f64 - mean[o] as f64 * s)
                }
                ConvBn::Folded { bias, .. } => (1.0, bias[o] as f64),
            };
            let base = (n * layer.cout + o) * ho * wo;
            for (j, a) in acc.iter().enumerate() {
                let v = a * scale + shift;
                out[base + j] = if relu { v.max(0.0) } else { v } as f32;
            }
        }
    }
    Activation {
        n: x.n,
        c: layer.cout,
        h: ho,
        w: wo,
        data: out,
    }
}

/// 3x3 / 2 max pool, padding 1 (padding never wins).
pub fn max_pool_3x3s2(x: &Activation) -> Activation {
    let ho = (x.h + 2 - 3) / 2 + 1;
    let wo = (x.w + 2 - 3) / 2 + 1;
    let mut data = Vec::with_capacity(x.n * x.c * ho * wo);
    for n in 0..x.n {
        for c in 0..x.c {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut best = f32::NEG_INFINITY;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let iy = (oy * 2 + ky) as isize - 1;
                            let ix = (ox * 2 + kx) as isize - 1;
                            if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w {
                                best = best.max(x.at(n, c, iy as usize, ix as usize));
                            }
                        }
                    }
                    data.push(best);
                }
            }
        }
    }
    Activation {
        n: x.n,
        c: x.c,
        h: ho,
        w: wo,
        data,
    }
}

/// Global average pool then FC with weights `[features][classes]`: logits `[n][classes]`.
pub fn head(x: &Activation, fc_weight: &[f32], fc_bias: &[f32]) -> Vec<f32> {
    let classes = fc_bias.len();
    let hw = x.h * x.w;
    let mut logits = Vec::with_capacity(x.n * classes);
    for n in 0..x.n {
        let pooled: Vec<f64> = (0..x.c)
            .map(|c| {
                let start = (n * x.c + c) * hw;
                x.data[start..start + hw]
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>()
                    / hw as f64
            })
            .collect();
        for k in 0..classes {
            let dot: f64 = (0..x.c)
                .map(|c| pooled[c] * fc_weight[c * classes + k] as f64)
                .sum();
            logits.push((dot + fc_bias[k] as f64) as f32);
        }
    }
    logits
}

/// Elementwise `relu(a + b)`.
pub fn add_relu(a: &Activation, b: &Activation) -> Activation {
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x + y).max(0.0))
        .collect();
    Activation { data, ..*a }
}

/// Run a whole network on an NCHW input (`n` images of `h` x `w`, 3 channels): logits `[n][classes]`.
///
/// The tests' oracle, not an input path: it indexes without checks and panics if `input` is
/// not `n * 3 * h * w` long or `weights` do not fit their architecture (callers build both;
/// `ModelWeights::check_shapes` tells whether weights fit).
pub fn run_model(weights: &ModelWeights, input: &[f32], n: usize, h: usize, w: usize) -> Vec<f32> {
    let graph: Graph = weights.arch.graph(h, w, weights.classes, weights.stage1);
    let mut values: Vec<Option<Activation>> = vec![None; graph.tensors.len()];
    values[graph.input] = Some(Activation {
        n,
        c: 3,
        h,
        w,
        data: input.to_vec(),
    });
    let get = |values: &Vec<Option<Activation>>, id: usize| {
        // The graph lists ops in dependency order: a tensor is written before it is read.
        values[id].clone().expect("graph order: inputs come first")
    };
    let mut logits = Vec::new();
    for op in &graph.ops {
        match *op {
            Op::Conv {
                conv,
                input,
                residual,
                relu,
                output,
            } => {
                let x = get(&values, input);
                let layer = &graph.convs[conv];
                let y = match residual {
                    Some(r) => add_relu(
                        &conv_bn(&x, layer, &weights.convs[conv], false),
                        &get(&values, r),
                    ),
                    None => conv_bn(&x, layer, &weights.convs[conv], relu),
                };
                values[output] = Some(y);
            }
            Op::MaxPool { input, output } => {
                values[output] = Some(max_pool_3x3s2(&get(&values, input)))
            }
            Op::Head { input, .. } => {
                logits = head(&get(&values, input), &weights.fc_weight, &weights.fc_bias)
            }
        }
    }
    logits
}
