//! Convolution (implicit GEMM, folded BN, fused residual + ReLU): host side of `shaders/conv.wgsl`.

use super::{Specialization, Storage};
use crate::arch::ConvLayer;

pub const SOURCE: &str = include_str!("../../shaders/conv.wgsl");
pub const WORKGROUP: u32 = 64;

/// Uniform parameters, laid out as `Params` in conv.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConvParams {
    pub in_h: u32,
    pub in_w: u32,
    pub in_c4: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub out_c4: u32,
    pub m_total: u32,
    pub bias_offset: u32,
}

/// The register tile of one invocation: `tm` output pixels x `4 * tn4` output channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    pub tm: u32,
    pub tn4: u32,
}

impl Tile {
    /// 8 pixels x 8 channels: the fastest of the shapes measured on lavapipe (ResNet50 batch 1,
    /// before weight loads were made workgroup-uniform: 417 ms vs 448 ms for 4x16, 515 ms for
    /// 16x4 and 825 ms for 8x16, which spills). `tn4` shrinks to divide the channel groups.
    pub fn for_layer(cout: usize) -> Tile {
        let c4 = cout.div_ceil(4) as u32;
        let tn4 = [2u32, 1]
            .into_iter()
            .find(|t| c4.is_multiple_of(*t))
            .unwrap_or(1);
        Tile { tm: 8, tn4 }
    }
}

/// The conv's shape-independent specialisation (shapes travel in the uniform).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvVariant {
    pub kernel: u32,
    pub stride: u32,
    pub pad: u32,
    pub avg_pool: bool,
    pub residual: bool,
    pub relu: bool,
    pub tile: Tile,
}

impl ConvVariant {
    pub fn of(layer: &ConvLayer, residual: bool, relu: bool) -> Self {
        ConvVariant {
            kernel: layer.kernel as u32,
            stride: layer.stride as u32,
            pad: layer.pad() as u32,
            avg_pool: layer.avg_pool_input,
            residual,
            relu,
            tile: Tile::for_layer(layer.cout),
        }
    }

    pub fn specialization(&self, storage: Storage) -> Specialization {
        let prelude = format!(
            "{}const TM: u32 = {}u;\nconst TN4: u32 = {}u;\n",
            storage.prelude(),
            self.tile.tm,
            self.tile.tn4
        );
        Specialization::new("conv", "main", &prelude, SOURCE, 3)
            .with("KERNEL", self.kernel as f64)
            .with("STRIDE", self.stride as f64)
            .with("PAD", self.pad as f64)
            .with("AVG_POOL", self.avg_pool as u32 as f64)
            .with("RESIDUAL", self.residual as u32 as f64)
            .with("RELU", self.relu as u32 as f64)
            .with("WG", WORKGROUP as f64)
    }

    /// The workgroup grid for `m_total` output pixels and `out_c4` channel groups:
    /// x covers pixel tiles, y channel tiles (one per workgroup).
    pub fn workgroups(&self, m_total: u32, out_c4: u32) -> (u32, u32) {
        let m_tiles = m_total.div_ceil(self.tile.tm);
        (m_tiles.div_ceil(WORKGROUP), out_c4 / self.tile.tn4)
    }
}

/// Channels rounded up to a multiple of 4 (the stem's 3 input channels become 4).
pub fn c4(channels: usize) -> usize {
    channels.div_ceil(4)
}

/// Folded OIHW weights and bias re-laid in the order conv.wgsl reads them: K rows
/// `[ky][kx][cin padded to 4]`, each holding all `cout` (padded to 4) outputs, then the bias.
pub fn gemm_layout(
    weight_oihw: &[f32],
    bias: &[f32],
    cout: usize,
    cin: usize,
    kernel: usize,
) -> Vec<f32> {
    let cin_p = c4(cin) * 4;
    let cout_p = c4(cout) * 4;
    let rows = kernel * kernel * cin_p;
    let mut out = vec![0.0f32; rows * cout_p + cout_p];
    for o in 0..cout {
        for i in 0..cin {
            for ky in 0..kernel {
                for kx in 0..kernel {
                    let row = (ky * kernel + kx) * cin_p + i;
                    out[row * cout_p + o] =
                        weight_oihw[((o * cin + i) * kernel + ky) * kernel + kx];
                }
            }
        }
    }
    out[rows * cout_p..rows * cout_p + cout].copy_from_slice(bias);
    out
}

/// Where the bias starts in the laid-out buffer, in groups of 4.
pub fn bias_offset4(cout: usize, cin: usize, kernel: usize) -> u32 {
    (kernel * kernel * c4(cin) * 4 * c4(cout)) as u32
}
