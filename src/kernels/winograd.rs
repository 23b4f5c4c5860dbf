//! Winograd F(2x2, 3x3) for the 3x3 stride-1 convs: host side of `shaders/winograd.wgsl`
//! (input and output transforms) around conv.wgsl as a batched GEMM.
//!
//! Per conv: the input transform writes V (16 positions x SLAB tiles x input channels) to
//! the plan's scratch slot 0; the GEMM, a 1x1 conv over 16 slabs whose weights are the 16
//! transformed blocks U of this layer, writes M to scratch slot 1; the output transform adds
//! the BN bias and the residual, applies the ReLU and stores the output. 2.25x fewer
//! multiplies than the direct conv, for two more dispatches and the scratch traffic.

use super::conv::{self, ConvParams, ConvVariant, WeightFold};
use super::tile::{c4, Tile};
use super::{staged, DispatchEnv, OpDispatch, Resource, Specialization, Storage};
use crate::arch::ConvLayer;
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::weights::{fold::fold_bn, ConvBn};

pub const SOURCE: &str = include_str!("../../shaders/winograd.wgsl");
pub const WORKGROUP: u32 = 64;
/// Positions of the 4x4 transformed patch.
pub const POSITIONS: usize = 16;

/// Uniform parameters, laid out as `Params` in winograd.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct WinogradParams {
    pub in_h: u32,
    pub in_w: u32,
    pub c4: u32,
    pub tiles_h: u32,
    pub tiles_w: u32,
    pub tiles: u32,
    pub slab: u32,
    pub residual: u32,
    pub relu: u32,
    pub bias_row: u32,
    pub bias_col: u32,
    pub _pad: u32,
}

/// Whether a layer can run as Winograd F(2x2, 3x3).
pub fn eligible(layer: &ConvLayer) -> bool {
    layer.kernel == 3 && layer.stride == 1 && !layer.avg_pool_input
}

/// The two transform stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Input,
    Output,
}

pub fn specialization(storage: Storage, stage: Stage) -> Specialization {
    let (input, entry) = match stage {
        Stage::Input => (1, "input_transform"),
        Stage::Output => (0, "output_transform"),
    };
    let body = super::unroll(SOURCE, &[("INPUT", input), ("OUTPUT", 1 - input)])
        .expect("winograd.wgsl's blocks are well formed");
    let spec = match stage {
        Stage::Input => Specialization::new("winograd", entry, storage.prelude(), &body, 1),
        Stage::Output => Specialization::new("winograd", entry, storage.prelude(), &body, 3)
            .with_texture_input(conv::WEIGHTS_BINDING),
    };
    spec.with("WG", WORKGROUP as f64)
}

/// `U = G g G^T` of every (output, input) channel pair of folded OIHW 3x3 weights, laid out
/// as the GEMM's weight texture rows: one row per input channel (padded to 4), holding the
/// 16 positions' blocks of `cout` (padded to 4) side by side, then a zero row (the GEMM's
/// bias: the output transform adds the real one).
pub fn transform_weights(weight_oihw: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let (cin_p, cout_p) = (c4(cin) * 4, c4(cout) * 4);
    let width = POSITIONS * cout_p;
    let mut out = vec![0.0f32; (cin_p + 1) * width];
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    for o in 0..cout {
        for i in 0..cin {
            let g = &weight_oihw[(o * cin + i) * 9..(o * cin + i) * 9 + 9];
            // G g (4x3), then (G g) G^T (4x4).
            let mut gg = [[0.0f64; 3]; 4];
            for (r, row) in G.iter().enumerate() {
                for c in 0..3 {
                    gg[r][c] = (0..3).map(|k| row[k] * g[k * 3 + c] as f64).sum();
                }
            }
            for r in 0..4 {
                for (c, gc) in G.iter().enumerate() {
                    let u: f64 = (0..3).map(|k| gg[r][k] * gc[k]).sum();
                    out[i * width + (r * 4 + c) * cout_p + o] = u as f32;
                }
            }
        }
    }
    out
}

/// Transform and upload one layer's weights; `None` where the texture would exceed the
/// device's texture side (the layer then runs as a direct conv).
pub fn prepare_weights(
    ctx: &GpuContext,
    storage: Storage,
    layer: &ConvLayer,
    conv_bn: &ConvBn,
    source: &str,
) -> Result<Option<wgpu::Texture>> {
    let (width, height) = texture_size(layer);
    let max = ctx.limits.max_texture_dimension_2d;
    if !eligible(layer) || width > max || height > max {
        return Ok(None);
    }
    let (w, _) = fold_bn(conv_bn);
    let laid = transform_weights(&w, layer.cout, layer.cin);
    if storage != Storage::F32 {
        conv::check_f16_range(&laid, &layer.name, source)?;
    }
    Ok(Some(conv::weight_texture(
        ctx,
        storage,
        &format!("{} winograd", layer.name),
        (width, height),
        &laid,
    )))
}

/// (width, height) in texels of a layer's transformed-weight texture.
fn texture_size(layer: &ConvLayer) -> (u32, u32) {
    (
        (POSITIONS * c4(layer.cout)) as u32,
        (c4(layer.cin) * 4 + 1) as u32,
    )
}

/// The three dispatches of one Winograd conv: input transform, batched GEMM with `tile`,
/// output transform. `fold` is the layer's direct weights' fold (where its bias row is).
pub fn dispatches(
    env: &DispatchEnv,
    op: &conv::ConvOp,
    weights: usize,
    tile: Tile,
) -> Result<Vec<OpDispatch>> {
    let layer = op.layer;
    let (h, w) = op.input_hw;
    let (tiles_h, tiles_w) = (h.div_ceil(2), w.div_ceil(2));
    let tiles = env.batch * tiles_h * tiles_w;
    // Slabs a whole number of GEMM pixel tiles, and of a subgroup's tiles where the GEMM
    // shares weights (its lanes broadcast one slab's texels), or of workgroup blocks for the
    // staged tile (a block reads one slab's weight block): all powers of two.
    let block = if tile.staged {
        staged::block_pixels(&tile)
    } else {
        tile.tm * tile.share.max(1)
    };
    let per_slab = block.max(16) as usize;
    let slab = tiles.next_multiple_of(per_slab);
    let (cin4, cout4) = (c4(layer.cin), c4(layer.cout));
    let bytes = env.storage.bytes_per_4();
    let v_bytes = (POSITIONS * slab * cin4) as u64 * bytes;
    let m_bytes = (POSITIONS * slab * cout4) as u64 * bytes;
    let v = Resource::Scratch {
        slot: 0,
        bytes: v_bytes,
    };
    let m = Resource::Scratch {
        slot: 1,
        bytes: m_bytes,
    };
    let fold = op.fold;
    let (bias_col, bias_row) = fold.texel_of_row(fold.bias_row, cout4 as u32);
    let base = WinogradParams {
        in_h: h as u32,
        in_w: w as u32,
        c4: cin4 as u32,
        tiles_h: tiles_h as u32,
        tiles_w: tiles_w as u32,
        tiles: tiles as u32,
        slab: slab as u32,
        residual: op.residual.is_some() as u32,
        relu: op.relu as u32,
        bias_row,
        bias_col,
        _pad: 0,
    };
    let shape = format!("3x3/1 {}->{} {h}x{w}", layer.cin, layer.cout);
    let input = OpDispatch {
        label: format!("{} winograd in", layer.name),
        family: "winograd",
        shape: shape.clone(),
        flops: 0,
        spec: specialization(env.storage, Stage::Input),
        params: bytemuck::bytes_of(&base).to_vec(),
        bindings: vec![Resource::Tensor(op.input), v],
        groups: env.linear_grid(
            ((slab * cin4) as u32).div_ceil(WORKGROUP),
            "winograd input transform",
        )?,
    };
    // The GEMM: a 1x1 conv over 16 slabs of `slab` pixels, weight block xi for slab xi.
    let gemm_layer = ConvLayer {
        name: format!("{} winograd gemm", layer.name),
        kernel: 1,
        stride: 1,
        avg_pool_input: false,
        ..layer.clone()
    };
    let gemm_fold = WeightFold {
        rows_per_block: (cin4 * 4 + 1) as u32,
        blocks: 1,
        bias_row: (cin4 * 4) as u32,
    };
    let mut params = ConvParams::new(&gemm_layer, POSITIONS, (1, slab), false, false, gemm_fold);
    params.slab = slab as u32;
    let macs = h * w * layer.cout * layer.cin * 9;
    let gemm = conv::gemm_dispatch(
        env,
        ConvVariant::of(&gemm_layer, tile),
        params,
        (gemm_layer.name.clone(), format!("{shape} gemm 16x{slab}")),
        2 * (env.batch * macs) as u64,
        vec![v, Resource::WinogradWeights(weights), Resource::Unused, m],
    )?;
    let output = OpDispatch {
        label: format!("{} winograd out", layer.name),
        family: "winograd",
        shape: format!(
            "{shape}{}",
            if op.residual.is_some() { " +res" } else { "" }
        ),
        flops: 0,
        spec: specialization(env.storage, Stage::Output),
        params: bytemuck::bytes_of(&WinogradParams {
            c4: cout4 as u32,
            ..base
        })
        .to_vec(),
        bindings: vec![
            m,
            Resource::ConvWeights(op.weights),
            op.residual.map_or(Resource::Unused, Resource::Tensor),
            Resource::Tensor(op.output),
        ],
        groups: env.linear_grid(
            ((tiles * cout4) as u32).div_ceil(WORKGROUP),
            "winograd output transform",
        )?,
    };
    Ok(vec![input, gemm, output])
}
