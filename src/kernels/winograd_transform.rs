//! The Winograd tiles F(m x m, 3x3) and their matrices, in one place: the host's weight
//! transform `U = G g G^T` (f64) and the WGSL of the input transform `V = B^T d B` and the
//! output transform `Y = A^T M A` are all derived from the tables below.
//!
//! F(4x4, 3x3) interpolates at 0, +-1, +-2 and infinity (Lavin and Gray's choice): B^T and
//! A^T then hold small integers (at most 5 and 8), which every storage represents exactly and
//! the shader applies as a handful of adds and multiplies by constants; G's fractions (1/4,
//! 1/6, 1/12, 1/24) only ever meet the weights on the host, in f64. Points +-1/2 would move
//! fractions into B^T and A^T, where they round in f16 arithmetic.

/// Which Winograd tile a 3x3 stride-1 conv runs as: F(m x m, 3x3) computes m x m outputs
/// from an (m + 2) x (m + 2) input patch with (m + 2)^2 multiplies per channel pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Winograd {
    /// F(2x2, 3x3): 16 positions, 2.25x fewer multiplies than the direct conv.
    F2,
    /// F(4x4, 3x3): 36 positions, 4x fewer multiplies, larger transforms.
    F4,
}

/// B^T (alpha x alpha), G (alpha x 3) and A^T (m x alpha) of one tile.
struct Matrices {
    bt: &'static [&'static [f64]],
    g: &'static [[f64; 3]],
    at: &'static [&'static [f64]],
}

const F2: Matrices = Matrices {
    bt: &[
        &[1.0, 0.0, -1.0, 0.0],
        &[0.0, 1.0, 1.0, 0.0],
        &[0.0, -1.0, 1.0, 0.0],
        &[0.0, 1.0, 0.0, -1.0],
    ],
    g: &[
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ],
    at: &[&[1.0, 1.0, 1.0, 0.0], &[0.0, 1.0, -1.0, -1.0]],
};

const F4: Matrices = Matrices {
    bt: &[
        &[4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
        &[0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
        &[0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
        &[0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
        &[0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
        &[0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
    ],
    g: &[
        [1.0 / 4.0, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ],
    at: &[
        &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        &[0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
        &[0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
        &[0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
    ],
};

impl Winograd {
    pub const ALL: [Winograd; 2] = [Winograd::F2, Winograd::F4];

    fn matrices(self) -> &'static Matrices {
        match self {
            Winograd::F2 => &F2,
            Winograd::F4 => &F4,
        }
    }

    /// Outputs per tile side (m).
    pub fn outputs(self) -> usize {
        self.matrices().at.len()
    }

    /// Input patch side (alpha = m + 2).
    pub fn alpha(self) -> usize {
        self.matrices().bt.len()
    }

    /// Positions of the transformed patch (alpha^2): the batched GEMM's slabs.
    pub fn positions(self) -> usize {
        self.alpha() * self.alpha()
    }

    /// Index into per-tile tables (`Model`'s weights).
    pub fn index(self) -> usize {
        self as usize
    }

    /// `winograd` / `winograd4`: how labels, the tuner and `check` name it.
    pub fn name(self) -> &'static str {
        match self {
            Winograd::F2 => "winograd",
            Winograd::F4 => "winograd4",
        }
    }

    /// `U = G g G^T` of every (output, input) channel pair of folded OIHW 3x3 weights, laid
    /// out as the GEMM's weight texture rows: one row per input channel (padded to 4), holding
    /// the positions' blocks of `cout` (padded to 4) side by side, then a zero row (the GEMM's
    /// bias: the output transform adds the real one).
    pub fn transform_weights(self, weight_oihw: &[f32], cout: usize, cin: usize) -> Vec<f32> {
        let (cin_p, cout_p) = (cin.div_ceil(4) * 4, cout.div_ceil(4) * 4);
        let (g_mat, alpha) = (self.matrices().g, self.alpha());
        let width = self.positions() * cout_p;
        let mut out = vec![0.0f32; (cin_p + 1) * width];
        for o in 0..cout {
            for i in 0..cin {
                let g = &weight_oihw[(o * cin + i) * 9..(o * cin + i) * 9 + 9];
                // G g (alpha x 3), then (G g) G^T (alpha x alpha).
                let gg: Vec<[f64; 3]> = g_mat
                    .iter()
                    .map(|row| {
                        std::array::from_fn(|c| (0..3).map(|k| row[k] * g[k * 3 + c] as f64).sum())
                    })
                    .collect();
                for (r, ggr) in gg.iter().enumerate() {
                    for (c, gc) in g_mat.iter().enumerate() {
                        let u: f64 = (0..3).map(|k| ggr[k] * gc[k]).sum();
                        out[i * width + (r * alpha + c) * cout_p + o] = u as f32;
                    }
                }
            }
        }
        out
    }

    /// WGSL of the input transform after the patch `d[i][j]` (alpha x alpha) is loaded:
    /// `r = B^T d`, then each `V[i][j] = (r B)[i][j]` stored to position `i * alpha + j` of
    /// `v_out` (at `pos * stride + at`), one statement per value with constant coefficients.
    pub fn input_code(self) -> String {
        let (bt, alpha) = (self.matrices().bt, self.alpha());
        let mut code = String::new();
        for (i, row) in bt.iter().enumerate() {
            for j in 0..alpha {
                let e = combine(
                    row.iter()
                        .enumerate()
                        .map(|(k, &c)| (c, format!("d[{k}][{j}]"))),
                );
                code += &format!("    let r{i}_{j} = {e};\n");
            }
        }
        for i in 0..alpha {
            for (j, row) in bt.iter().enumerate() {
                let e = combine(
                    row.iter()
                        .enumerate()
                        .map(|(k, &c)| (c, format!("r{i}_{k}"))),
                );
                let pos = i * alpha + j;
                code += &format!("    v_out[{pos}u * stride + at] = stw({e});\n");
            }
        }
        code
    }

    /// WGSL of the output transform after the products `m[i][j]` are loaded: `s = A^T m`,
    /// then `y{i}_{j} = (s A)[i][j]` for the m x m outputs.
    pub fn output_code(self) -> String {
        let (at, alpha) = (self.matrices().at, self.alpha());
        let mut code = String::new();
        for (i, row) in at.iter().enumerate() {
            for j in 0..alpha {
                let e = combine(
                    row.iter()
                        .enumerate()
                        .map(|(k, &c)| (c, format!("m[{k}][{j}]"))),
                );
                code += &format!("    let s{i}_{j} = {e};\n");
            }
        }
        for i in 0..at.len() {
            for (j, row) in at.iter().enumerate() {
                let e = combine(
                    row.iter()
                        .enumerate()
                        .map(|(k, &c)| (c, format!("s{i}_{k}"))),
                );
                code += &format!("    let y{i}_{j} = {e};\n");
            }
        }
        code
    }
}

/// `sum c * x` over the non-zero coefficients as WGSL: `x` for 1, `- x` for -1, `x * 4.0` for
/// the others (abstract literals, so the same text serves f32 and f16 arithmetic).
fn combine(terms: impl Iterator<Item = (f64, String)>) -> String {
    let mut out = String::new();
    for (c, x) in terms.filter(|(c, _)| *c != 0.0) {
        let term = if c.abs() == 1.0 {
            x
        } else {
            format!("{x} * {:?}", c.abs())
        };
        match (out.is_empty(), c < 0.0) {
            (true, false) => out = term,
            (true, true) => out = format!("-{term}"),
            (false, false) => out += &format!(" + {term}"),
            (false, true) => out += &format!(" - {term}"),
        }
    }
    assert!(!out.is_empty(), "a transform row is all zeros");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables are right: in 1-D, `A^T ((G g) . (B^T d))` is the correlation of d with g.
    #[test]
    fn matrices_compute_the_correlation_in_one_dimension() {
        for w in Winograd::ALL {
            let m = w.matrices();
            let (alpha, outs) = (w.alpha(), w.outputs());
            assert_eq!(alpha, outs + 2);
            assert!(m.bt.iter().all(|r| r.len() == alpha));
            assert!(m.at.iter().all(|r| r.len() == alpha));
            assert_eq!(m.g.len(), alpha);
            let d: Vec<f64> = (0..alpha).map(|i| (i as f64 * 0.7 - 1.3).sin()).collect();
            let g = [0.3, -1.1, 0.45];
            let gg: Vec<f64> =
                m.g.iter()
                    .map(|r| (0..3).map(|k| r[k] * g[k]).sum())
                    .collect();
            let v: Vec<f64> =
                m.bt.iter()
                    .map(|r| (0..alpha).map(|k| r[k] * d[k]).sum())
                    .collect();
            for (i, row) in m.at.iter().enumerate() {
                let y: f64 = (0..alpha).map(|k| row[k] * gg[k] * v[k]).sum();
                let want: f64 = (0..3).map(|k| d[i + k] * g[k]).sum();
                assert!((y - want).abs() < 1e-12, "{w:?} output {i}: {y} vs {want}");
            }
        }
    }

    #[test]
    fn weight_transform_of_a_centre_tap_is_g_column_products() {
        // g = the centre tap alone: U[r][c] = G[r][1] * G[c][1].
        let mut g = [0.0f32; 9];
        g[4] = 1.0;
        for w in Winograd::ALL {
            let u = w.transform_weights(&g, 1, 1);
            let (alpha, cout_p) = (w.alpha(), 4);
            for r in 0..alpha {
                for c in 0..alpha {
                    let want = (w.matrices().g[r][1] * w.matrices().g[c][1]) as f32;
                    assert_eq!(u[(r * alpha + c) * cout_p], want, "{w:?} ({r}, {c})");
                }
            }
        }
    }

    #[test]
    fn generated_code_skips_zero_terms_and_writes_every_position() {
        let code = Winograd::F4.input_code();
        assert_eq!(code.matches("v_out[").count(), 36);
        assert!(code.contains("let r0_0 = d[0][0] * 4.0 - d[2][0] * 5.0 + d[4][0];"));
        let out = Winograd::F2.output_code();
        assert!(out.contains("let s1_0 = m[1][0] - m[2][0] - m[3][0];"));
        assert_eq!(out.matches("let y").count(), 4);
    }
}
