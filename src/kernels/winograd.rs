//! Winograd F(2x2, 3x3) and F(4x4, 3x3) for the 3x3 stride-1 convs: host side of
//! `shaders/winograd.wgsl` (input and output transforms) around conv.wgsl as a batched GEMM.
//! The tile ([`Winograd`]) is the family's one parameter; its matrices live in
//! `winograd_transform.rs`.
//!
//! Per conv: the input transform writes V (alpha^2 positions x SLAB tiles x input channels)
//! to the plan's scratch slot 0; the GEMM, a 1x1 conv over alpha^2 slabs whose weights are the
//! transformed blocks U of this layer, writes M to scratch slot 1; the output transform adds
//! the BN bias and the residual, applies the ReLU and stores the output. 2.25x (F2) or 4x
//! (F4) fewer multiplies than the direct conv, for two more dispatches and the scratch traffic.

use super::conv::{self, ConvParams, ConvVariant, WeightFold};
use super::tile::{c4, Tile};
use super::{staged, DispatchEnv, OpDispatch, Resource, Specialization, Storage};
use crate::arch::ConvLayer;
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::weights::{fold::fold_bn, ConvBn};

pub const SOURCE: &str = include_str!("../../shaders/winograd.wgsl");
pub const WORKGROUP: u32 = 64;

/// How both tiles keep their transformed values (V, U and M, and the transforms' and the
/// GEMM's arithmetic) in every plan: FP32, whatever the plan's storage; an f16 plan's
/// activations are f16 only where the input transform reads them and the output transform
/// writes them. F(4x4)'s input transform multiplies values by up to 5 twice and its output
/// transform by up to 8 twice, so f16-stored V, U and M lose about 2^7 of f16's relative
/// precision against the output's scale: measured in tests/kernels.rs (`winograd4_*`),
/// 6e-3..1.4e-2 against the conv's 2e-3 tolerance, 3.3e-4..4.4e-4 with FP32 scratch. F(2x2)
/// kept its f16 scratch within tolerance, but its GEMM then ran 10-15% slower than FP32's on
/// lavapipe (f16 loads), and with FP32 scratch it is the FP32 plan's own pipeline.
pub const SCRATCH: Storage = Storage::F32;
pub use super::winograd_transform::Winograd;

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

/// Whether a layer can run as Winograd (either tile).
pub fn eligible(layer: &ConvLayer) -> bool {
    layer.kernel == 3 && layer.stride == 1 && !layer.avg_pool_input
}

/// Tiles of `t` over `batch` maps of `map` (the GEMM's pixels per position).
pub fn tiles(t: Winograd, (h, w): (usize, usize), batch: usize) -> usize {
    batch * h.div_ceil(t.outputs()) * w.div_ceil(t.outputs())
}

/// The fewest F(4x4) tiles (over the batch) at which the default heuristic runs a conv as
/// F(4x4): half of lavapipe's 128-pixel GEMM block (16x64 sg8), so that the slabs, padded to
/// whole blocks, are at least half real tiles and the GEMM does at most half the direct conv's
/// multiplies. Measured on lavapipe, ResNet50 FP32 (docs/performance.md, "Winograd
/// F(4x4,3x3)"): 0.40-0.60x the direct conv's time at 128 tiles and more (56x56 at batch 1,
/// 56/28/14 at batch 8); 28x28 at batch 1 (49 tiles) 0.46-0.53x in one run and 0.71-1.73x in
/// the next, so left direct; 1.4x at 32 (7x7 at batch 8), 3-20x at 16 and 4.
pub const F4_MIN_TILES: usize = 64;

/// The widest layer the default heuristic runs as F(4x4): its transformed weights take 4x the
/// 3x3 weights' memory, and are made when the model loads, before any map size is known. The
/// 512-channel 3x3s run on 7x7 maps at 224x224, which reach [`F4_MIN_TILES`] only from batch
/// 16 on.
const F4_MAX_COUT: usize = 256;

/// The Winograd tile the default heuristic may choose for `layer` in `storage` on this
/// adapter at some map size (the model transforms those weights when it loads): F(4x4), in
/// every storage (its scratch is FP32, see [`SCRATCH`]), on CPU adapters (measured on
/// lavapipe; a GPU's default stays the direct conv until measured there, where the tuner may
/// still choose either tile), up to [`F4_MAX_COUT`] channels.
pub fn default_may_choose(ctx: &GpuContext, layer: &ConvLayer) -> Option<Winograd> {
    let t = Winograd::F4;
    let cpu = ctx.info.device_type == wgpu::DeviceType::Cpu;
    (cpu && eligible(layer) && layer.cout <= F4_MAX_COUT).then_some(t)
}

/// The Winograd tile the default heuristic chooses for `layer` on `batch` maps of `map`, if
/// any (else the direct conv): [`default_may_choose`]'s where the GEMM has at least
/// [`F4_MIN_TILES`] tiles.
pub fn default_for(
    ctx: &GpuContext,
    layer: &ConvLayer,
    map: (usize, usize),
    batch: usize,
) -> Option<Winograd> {
    default_may_choose(ctx, layer).filter(|&t| {
        let tiles = tiles(t, map, batch);
        // V and M must each fit one storage binding, whatever the GEMM's block (at most 256
        // pixels) pads the slabs to: the graph's own limit check does not see the scratch.
        // (Saturating: an absurd batch fails the plan's own check, never wraps around here.)
        let slab = (tiles as u64).saturating_add(256);
        let widest = c4(layer.cin.max(layer.cout)) as u64;
        let scratch = [t.positions() as u64, widest, SCRATCH.bytes_per_4()]
            .iter()
            .fold(slab, |a, &d| a.saturating_mul(d));
        tiles >= F4_MIN_TILES && scratch <= ctx.limits.max_storage_buffer_binding_size
    })
}

/// The two transform stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Input,
    Output,
}

pub fn specialization(storage: Storage, stage: Stage, tile: Winograd) -> Specialization {
    let (input, entry) = match stage {
        Stage::Input => (1, "input_transform"),
        Stage::Output => (0, "output_transform"),
    };
    let (alpha, m) = (tile.alpha() as u32, tile.outputs() as u32);
    let consts = [
        ("INPUT", input),
        ("OUTPUT", 1 - input),
        ("ALPHA", alpha),
        ("M", m),
    ];
    let unrolled = super::unroll(SOURCE, &consts).expect("winograd.wgsl's blocks are well formed");
    let (marker, code) = match stage {
        Stage::Input => ("    // @transform INPUT\n", tile.input_code()),
        Stage::Output => ("    // @transform OUTPUT\n", tile.output_code()),
    };
    assert!(
        unrolled.contains(marker),
        "winograd.wgsl has its transform markers"
    );
    let body = format!(
        "const ALPHA: u32 = {alpha}u;\nconst M: u32 = {m}u;\n{}",
        unrolled.replace(marker, &code)
    );
    let prelude = prelude(storage);
    let spec = match stage {
        Stage::Input => Specialization::new("winograd", entry, &prelude, &body, 1),
        Stage::Output => Specialization::new("winograd", entry, &prelude, &body, 3)
            .with_texture_input(conv::WEIGHTS_BINDING),
    };
    spec.with("WG", WORKGROUP as f64)
}

/// The transforms' prelude in a plan of `storage`: the activations' `S4`, `ld()`, `st()` and
/// the FP32 scratch's `W4`, `ldw()`, `stw()`; the transforms compute in f32 whatever the
/// plan's arithmetic.
fn prelude(storage: Storage) -> String {
    format!(
        "{}alias W4 = vec4<f32>;\n\
         fn ldw(v: W4) -> vec4<CT> {{ return vec4<CT>(v); }}\n\
         fn stw(v: vec4<CT>) -> W4 {{ return vec4<f32>(v); }}\n",
        storage.with_f32_math().prelude()
    )
}

/// Transform and upload one layer's weights for `tile`; `None` where the texture would
/// exceed the device's texture side (the layer then runs as a direct conv).
pub fn prepare_weights(
    ctx: &GpuContext,
    (layer, tile): (&ConvLayer, Winograd),
    conv_bn: &ConvBn,
) -> Result<Option<wgpu::Texture>> {
    let (width, height) = texture_size(layer, tile);
    let max = ctx.limits.max_texture_dimension_2d;
    if !eligible(layer) || width > max || height > max {
        return Ok(None);
    }
    let (w, _) = fold_bn(conv_bn);
    let laid = tile.transform_weights(&w, layer.cout, layer.cin);
    Ok(Some(conv::weight_texture(
        ctx,
        SCRATCH,
        &format!("{} {}", layer.name, tile.name()),
        (width, height),
        &laid,
    )))
}

/// (width, height) in texels of a layer's transformed-weight texture.
fn texture_size(layer: &ConvLayer, tile: Winograd) -> (u32, u32) {
    (
        (tile.positions() * c4(layer.cout)) as u32,
        (c4(layer.cin) * 4 + 1) as u32,
    )
}

/// The three dispatches of one Winograd conv in `wino`'s tile: input transform, batched GEMM
/// with `tile`, output transform. The op's `fold` is its direct weights' (where the bias is).
pub fn dispatches(
    env: &DispatchEnv,
    op: &conv::ConvOp,
    (weights, wino): (usize, Winograd),
    tile: Tile,
) -> Result<Vec<OpDispatch>> {
    let layer = op.layer;
    let (h, w) = op.input_hw;
    let m = wino.outputs();
    let positions = wino.positions();
    let (tiles_h, tiles_w) = (h.div_ceil(m), w.div_ceil(m));
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
    // V, U, M and the GEMM in FP32 in every plan.
    let gemm_env = DispatchEnv {
        storage: SCRATCH,
        ..*env
    };
    let bytes = gemm_env.storage.bytes_per_4();
    let v_bytes = (positions * slab * cin4) as u64 * bytes;
    let m_bytes = (positions * slab * cout4) as u64 * bytes;
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
    let name = wino.name();
    let input = OpDispatch {
        label: format!("{} {name} in", layer.name),
        family: "winograd",
        shape: shape.clone(),
        flops: 0,
        spec: specialization(env.storage, Stage::Input, wino),
        params: bytemuck::bytes_of(&base).to_vec(),
        bindings: vec![Resource::Tensor(op.input), v],
        groups: env.linear_grid(
            ((slab * cin4) as u32).div_ceil(WORKGROUP),
            "winograd input transform",
        )?,
    };
    // The GEMM: a 1x1 conv over alpha^2 slabs of `slab` pixels, weight block xi for slab xi.
    let gemm_layer = ConvLayer {
        name: format!("{} {name} gemm", layer.name),
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
    let mut params = ConvParams::new(&gemm_layer, positions, (1, slab), false, false, gemm_fold);
    params.slab = slab as u32;
    let macs = h * w * layer.cout * layer.cin * 9;
    let gemm = conv::gemm_dispatch(
        &gemm_env,
        ConvVariant::of(&gemm_layer, tile),
        params,
        (
            gemm_layer.name.clone(),
            format!("{shape} {name} gemm {positions}x{slab}"),
        ),
        2 * (env.batch * macs) as u64,
        vec![
            v,
            Resource::WinogradWeights(weights, wino),
            Resource::Unused,
            m,
        ],
    )?;
    let output = OpDispatch {
        label: format!("{} {name} out", layer.name),
        family: "winograd",
        shape: format!(
            "{shape}{}",
            if op.residual.is_some() { " +res" } else { "" }
        ),
        flops: 0,
        spec: specialization(env.storage, Stage::Output, wino),
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
