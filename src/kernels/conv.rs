//! Convolution (implicit GEMM, folded BN, fused residual + ReLU): host side of `shaders/conv.wgsl`.

use super::{staged, DispatchEnv, OpDispatch, Resource, Specialization, Storage};
// The register tile, the lane count and the channel rounding every conv family shares; kept
// reachable here, where they were first defined.
pub use super::tile::{c4, Tile, TILE_POLICIES, WORKGROUP};
use crate::arch::{ConvLayer, TensorId};
use crate::error::Result;
use crate::gpu::context::GpuContext;

// The input activation as a texture (measured, not used by plans) lives in its own file.
pub use super::act_texture::{
    act_texture, act_texture_descriptor, act_texture_format, act_texture_rows, ACT_ROW,
};
// The weight texture (layout, fold, format, upload) lives in its own file.
pub use super::conv_weights::{
    check_f16_range, gemm_layout, prepare_weights, upload_weights, weight_format, weight_texture,
    WeightFold,
};

pub const SOURCE: &str = include_str!("../../shaders/conv.wgsl");
/// The weights are a texture at this binding (between the input and the residual buffers).
pub const WEIGHTS_BINDING: u32 = 2;
/// The input activation's binding (a buffer, or a texture where [`ConvVariant::act_texture`]).
pub const INPUT_BINDING: u32 = 1;
/// Uniform parameters, laid out as `Params` in conv.wgsl. Stride and the fused epilogue are
/// uniforms, not `override`s, so a whole ResNet needs one pipeline per kernel size (plus the
/// vd shortcut's pooled read): each pipeline costs seconds of JIT on CPU adapters.
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
    pub bias_row: u32,
    pub stride: u32,
    pub residual: u32,
    pub relu: u32,
    /// Weight rows per texture column block (see [`WeightFold`]).
    pub fold_rows: u32,
    /// The bias row's column block, in texels.
    pub bias_col: u32,
    /// How many of a workgroup's invocations lie along pixel tiles (a power of two dividing
    /// [`WORKGROUP`]); the rest lie along channel tiles. See [`ConvVariant::lanes_along_m`].
    pub lanes_m: u32,
    /// Pixels per weight block, for Winograd's batched GEMM ([`ONE_SLAB`]: a plain conv).
    pub slab: u32,
    pub _pad: u32,
}

/// [`ConvParams::slab`] of a plain conv: every pixel reads the first weight block.
pub const ONE_SLAB: u32 = u32::MAX;

impl ConvParams {
    /// `layer` over `batch` images of `in_hw`, with the residual add and ReLU as given, its
    /// weights folded as `fold` says.
    pub fn new(
        layer: &ConvLayer,
        batch: usize,
        in_hw: (usize, usize),
        residual: bool,
        relu: bool,
        fold: WeightFold,
    ) -> Self {
        let (bias_col, bias_row) = fold.texel_of_row(fold.bias_row, c4(layer.cout) as u32);
        let (out_h, out_w) = (layer.out_size(in_hw.0), layer.out_size(in_hw.1));
        ConvParams {
            in_h: in_hw.0 as u32,
            in_w: in_hw.1 as u32,
            in_c4: c4(layer.cin) as u32,
            out_h: out_h as u32,
            out_w: out_w as u32,
            out_c4: c4(layer.cout) as u32,
            m_total: (batch * out_h * out_w) as u32,
            bias_row,
            stride: layer.stride as u32,
            residual: residual as u32,
            relu: relu as u32,
            fold_rows: fold.rows_per_block,
            bias_col,
            lanes_m: WORKGROUP,
            slab: ONE_SLAB,
            _pad: 0,
        }
    }
}

/// The conv's specialisation: what changes the code (shapes, stride and epilogue travel in
/// the uniform).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvVariant {
    pub kernel: u32,
    pub pad: u32,
    pub avg_pool: bool,
    pub tile: Tile,
    /// Read the input activation from a texture ([`ACT_ROW`] texels a row) instead of a
    /// storage buffer: the measurement of `cargo bench --bench act_texture`; plans keep buffers.
    pub act_texture: bool,
    /// The direct tile reads its input by rows of taps (`ROW_TAPS` in conv.wgsl): see
    /// [`ConvVariant::reads_rows_of_taps`].
    pub row_taps: bool,
}

impl ConvVariant {
    pub fn of(layer: &ConvLayer, tile: Tile) -> Self {
        ConvVariant {
            kernel: layer.kernel as u32,
            pad: layer.pad() as u32,
            avg_pool: layer.avg_pool_input,
            tile,
            act_texture: false,
            row_taps: Self::reads_rows_of_taps(layer, tile),
        }
    }

    /// The stems (ResNet's 7x7/2 and the vd models' first 3x3/2: one channel group, stride 2)
    /// with the direct tile: a pixel tile is TM neighbours along one output row, and tap kx + 2
    /// reuses tap kx's pixels shifted by one, so a row of taps loads 2 TM + kernel pixels
    /// instead of TM x kernel, and computes their addresses once. With one channel group a K
    /// step per tap, gathering each tap's pixels cost as much as its FMAs.
    /// [`ConvVariant::of`] as it runs on `ctx`'s adapter: rows of taps only where
    /// [`rows_of_taps_run_on`] says so.
    pub fn on(ctx: &GpuContext, layer: &ConvLayer, tile: Tile) -> ConvVariant {
        let v = ConvVariant::of(layer, tile);
        ConvVariant {
            row_taps: v.row_taps && rows_of_taps_run_on(ctx),
            ..v
        }
    }

    pub fn reads_rows_of_taps(layer: &ConvLayer, tile: Tile) -> bool {
        c4(layer.cin) == 1
            && layer.stride == 2
            && layer.kernel > 1
            && !layer.avg_pool_input
            && !tile.staged
    }

    pub fn specialization(&self, storage: Storage) -> Specialization {
        let t = self.tile;
        let sg = t.share.max(1);
        let fetches = (t.tn4 * 4).div_ceil(sg);
        let prelude = format!(
            "{}const TM: u32 = {}u;\nconst TN4: u32 = {}u;\nconst SG: u32 = {sg}u;\n\
             const FETCHES: u32 = {fetches}u;\nconst ACT_ROW: u32 = {ACT_ROW}u;\n{}",
            storage.prelude(),
            t.tm,
            t.tn4,
            staged::prelude(&t),
        );
        let (xloads, wloads) = staged::loads_per_lane(&t);
        let consts = [
            ("TM", t.tm),
            ("TN4", t.tn4),
            ("ROWS", 4),
            ("FETCHES", fetches),
            ("XLOADS", xloads),
            ("WLOADS", wloads),
            ("DIRECT", !t.staged as u32),
            ("GATHER", (!t.staged && !self.row_taps) as u32),
            ("ROW_TAPS", self.row_taps as u32),
            ("STAGED", t.staged as u32),
            ("SHARED", (t.share > 0 && !t.staged) as u32),
            ("PLAIN", (t.share == 0 && !t.staged) as u32),
            ("ACT_BUFFER", !self.act_texture as u32),
            ("ACT_TEXTURE", self.act_texture as u32),
        ];
        let body =
            super::unroll(SOURCE, &consts).expect("conv.wgsl's unroll blocks are well formed");
        let spec = Specialization::new("conv", "main", &prelude, &body, 3)
            .with_texture_input(WEIGHTS_BINDING);
        let spec = if self.act_texture {
            spec.with_texture_input(INPUT_BINDING)
        } else {
            spec
        };
        let spec = if t.share > 0 && !t.staged {
            spec.requiring(wgpu::Features::SUBGROUP)
        } else {
            spec
        };
        spec.with("KERNEL", self.kernel as f64)
            .with("PAD", self.pad as f64)
            .with("AVG_POOL", self.avg_pool as u32 as f64)
            .with("WG", WORKGROUP as f64)
    }

    /// Pixel tiles and channel tiles of a conv with these parameters.
    pub fn tiles(&self, params: &ConvParams) -> (u32, u32) {
        let m_tiles = if self.row_taps {
            // Whole tiles along each output row.
            params.m_total / params.out_w.max(1) * params.out_w.div_ceil(self.tile.tm)
        } else {
            params.m_total.div_ceil(self.tile.tm)
        };
        (m_tiles, params.out_c4 / self.tile.tn4)
    }

    /// How many of a workgroup's invocations to lay along pixel tiles (the rest along channel
    /// tiles). A device runs `simd` invocations in lockstep and about `cores` workgroups at
    /// once; the choice minimises the estimated span: the lane groups with any work, spread
    /// over the cores, but never less than the busiest workgroup's. Big maps keep all 64
    /// lanes along pixels (a workgroup then reads one channel tile's weights). A 7x7 map at
    /// batch 1 has 4 pixel tiles: along pixels, half of each 8-lane group would idle.
    ///
    /// The staged tile's lanes are fixed ([`staged::LANES_M`]): its block is sized at compile time.
    pub fn lanes_along_m(&self, params: &ConvParams, simd: u32, cores: u32) -> u32 {
        if self.tile.staged {
            return staged::LANES_M;
        }
        let (m_tiles, n_tiles) = self.tiles(params);
        let simd = simd.clamp(1, WORKGROUP);
        let cores = cores.max(1) as u64;
        // Lane groups with at least one invocation in range, in a workgroup whose first `mx`
        // pixel lanes and `ny` channel rows are.
        let busy_groups = |lanes_m: u32, mx: u32, ny: u32| -> u64 {
            (0..WORKGROUP / simd)
                .filter(|g| {
                    (g * simd..(g + 1) * simd).any(|l| l % lanes_m < mx && l / lanes_m < ny)
                })
                .count() as u64
        };
        let span = |lanes_m: u32| -> (u64, u64) {
            let lanes_n = WORKGROUP / lanes_m;
            let (gx, gy) = (m_tiles.div_ceil(lanes_m), n_tiles.div_ceil(lanes_n));
            let (mx_last, ny_last) = (m_tiles - (gx - 1) * lanes_m, n_tiles - (gy - 1) * lanes_n);
            // Full workgroups, the partial ones along each far edge, and the corner.
            let kinds = [
                (
                    (gx - 1) as u64 * (gy - 1) as u64,
                    busy_groups(lanes_m, lanes_m, lanes_n),
                ),
                ((gy - 1) as u64, busy_groups(lanes_m, mx_last, lanes_n)),
                ((gx - 1) as u64, busy_groups(lanes_m, lanes_m, ny_last)),
                (1, busy_groups(lanes_m, mx_last, ny_last)),
            ];
            let total: u64 = kinds.iter().map(|(n, g)| n * g).sum();
            let busiest = kinds
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(_, g)| *g)
                .max()
                .unwrap_or(0);
            (total.div_ceil(cores).max(busiest), total)
        };
        // Shared weights need each subgroup on one channel tile: at least SG lanes along pixels.
        (0..=WORKGROUP.trailing_zeros())
            .rev()
            .map(|shift| 1u32 << shift)
            .filter(|&lanes_m| lanes_m >= self.tile.share)
            .min_by_key(|&lanes_m| span(lanes_m))
            .unwrap_or(WORKGROUP)
    }

    /// The workgroup grid: x covers pixel tiles, y channel tiles (for the staged tile, one
    /// workgroup per block: `lanes_m` is then its [`staged::LANES_M`]).
    pub fn workgroups(&self, params: &ConvParams) -> (u32, u32) {
        let (m_tiles, n_tiles) = self.tiles(params);
        let lanes_m = params.lanes_m.max(1);
        (
            m_tiles.div_ceil(lanes_m),
            n_tiles.div_ceil(WORKGROUP / lanes_m),
        )
    }
}

/// One conv op of a graph, as the plan (or the one-shot harness) sees it.
pub struct ConvOp<'a> {
    pub layer: &'a ConvLayer,
    /// Which conv layer's weights (`Resource::ConvWeights`).
    pub weights: usize,
    /// How that layer's weight rows are folded into its texture.
    pub fold: WeightFold,
    pub input: TensorId,
    pub input_hw: (usize, usize),
    pub residual: Option<TensorId>,
    pub relu: bool,
    pub output: TensorId,
}

/// Whether the stems read rows of taps on this adapter: where it was measured to pay, Mesa's
/// llvmpipe (lavapipe and llvmpipe GL: ResNet50's stem ~2.7x at batch 1). SwiftShader's JIT
/// ran out of memory compiling it (24 GB for the 7x7 stem), and no GPU has measured it: they
/// keep the gather path.
pub fn rows_of_taps_run_on(ctx: &GpuContext) -> bool {
    ctx.info.driver == "llvmpipe" || ctx.info.name.starts_with("llvmpipe")
}

/// The register tile a plan uses for `layer` on this device, producing `pixels` output pixels
/// (batch x height x width): [`Tile::for_layer`] fitted to the map ([`Tile::fit_pixels`]).
///
/// The large CPU tile was measured on Mesa's llvmpipe (lavapipe, and llvmpipe GL) alone; other
/// CPU implementations get the GPU tile until measured: SwiftShader's shader compiler runs out
/// of memory on the 16x64 tile (23 GB for ResNet18), while the 8x8 tile builds in seconds.
pub fn tile_for(ctx: &GpuContext, layer: &ConvLayer, pixels: usize) -> Tile {
    let tile = Tile::for_layer(layer.cout, tile_device(ctx), ctx.fixed_subgroup_size());
    // CPU adapters run few lanes at once, so a tiny map must still give each of them work;
    // a GPU's default tile is already small (kept as is until measured on one).
    let min_tiles = (ctx.info.device_type == wgpu::DeviceType::Cpu)
        .then(|| 2 * ctx.lane_group_size().min(WORKGROUP) * ctx.concurrent_workgroups());
    tile.fit_pixels(pixels as u32, c4(layer.cout) as u32, min_tiles)
}

/// [`tile_for`] of a layer with `cout` output channels.
pub fn tile_for_cout(ctx: &GpuContext, cout: usize) -> Tile {
    Tile::for_layer(cout, tile_device(ctx), ctx.fixed_subgroup_size())
}

/// The device type whose tile policy this adapter follows.
fn tile_device(ctx: &GpuContext) -> wgpu::DeviceType {
    let llvmpipe = ctx.info.name.contains("llvmpipe") || ctx.info.driver.contains("llvmpipe");
    match ctx.info.device_type {
        wgpu::DeviceType::Cpu if !llvmpipe => wgpu::DeviceType::Other,
        other => other,
    }
}

/// Whether this device's convs share weights by subgroup broadcast (ResNet widths).
pub fn shares_weights(ctx: &GpuContext) -> bool {
    Tile::for_layer(64, tile_device(ctx), ctx.fixed_subgroup_size()).share > 0
}

/// The conv recipe's second half: parameters, lanes, bindings and workgroups of one conv op.
pub fn dispatch(env: &DispatchEnv, op: &ConvOp, tile: Tile) -> Result<OpDispatch> {
    let layer = op.layer;
    let params = ConvParams::new(
        layer,
        env.batch,
        op.input_hw,
        op.residual.is_some(),
        op.relu,
        op.fold,
    );
    let (out_h, out_w) = (params.out_h as usize, params.out_w as usize);
    let macs = out_h * out_w * layer.cout * layer.cin * layer.kernel * layer.kernel;
    let shape = format!(
        "{k}x{k}/{s}{pool} {}->{} {out_h}x{out_w}{res}",
        layer.cin,
        layer.cout,
        k = layer.kernel,
        s = layer.stride,
        pool = if layer.avg_pool_input {
            " avgpool2"
        } else {
            ""
        },
        res = if op.residual.is_some() { " +res" } else { "" },
    );
    gemm_dispatch(
        env,
        ConvVariant::on(env.ctx, layer, tile),
        params,
        (layer.name.clone(), shape),
        2 * (env.batch * macs) as u64,
        vec![
            Resource::Tensor(op.input),
            Resource::ConvWeights(op.weights),
            op.residual.map_or(Resource::Unused, Resource::Tensor),
            Resource::Tensor(op.output),
        ],
    )
}

/// A conv.wgsl dispatch of `variant` with `params` (lanes and grid filled in here): a conv
/// layer, or Winograd's batched GEMM. `(label, shape)` name it.
pub fn gemm_dispatch(
    env: &DispatchEnv,
    variant: ConvVariant,
    mut params: ConvParams,
    (label, shape): (String, String),
    flops: u64,
    bindings: Vec<Resource>,
) -> Result<OpDispatch> {
    params.lanes_m = variant.lanes_along_m(
        &params,
        env.ctx.lane_group_size(),
        env.ctx.concurrent_workgroups(),
    );
    let (x, y) = variant.workgroups(&params);
    let what = format!("conv `{label}` at batch {}", env.batch);
    if variant.tile.staged {
        staged::check_workgroup_memory(
            &variant.tile,
            env.storage,
            env.ctx.limits.max_compute_workgroup_storage_size,
            &what,
        )?;
    }
    let groups = env.check_grid(x, y, &what)?;
    Ok(OpDispatch {
        label,
        family: "conv",
        shape,
        flops,
        spec: variant.specialization(env.storage),
        params: bytemuck::bytes_of(&params).to_vec(),
        bindings,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::ConvRole;

    fn params_for(cout: usize, map: usize, batch: usize) -> (ConvVariant, ConvParams) {
        let layer = ConvLayer {
            name: "t".into(),
            role: ConvRole::Stem(0),
            cin: 512,
            cout,
            kernel: 3,
            stride: 1,
            avg_pool_input: false,
        };
        let tile = Tile::for_layer(cout, wgpu::DeviceType::Cpu, None);
        let fold = WeightFold::for_layer(&layer, 8192).unwrap();
        let params = ConvParams::new(&layer, batch, (map, map), false, true, fold);
        (ConvVariant::of(&layer, tile), params)
    }

    #[test]
    fn big_maps_keep_every_lane_along_pixels() {
        let (v, p) = params_for(256, 56, 8);
        assert_eq!(v.lanes_along_m(&p, 8, 2), WORKGROUP);
        assert_eq!(v.lanes_along_m(&p, 8, 16), WORKGROUP);
    }

    #[test]
    fn small_maps_spread_lanes_over_channel_tiles_and_still_cover_every_tile() {
        // 7x7 at batch 1: 4 pixel tiles of 16, 8 channel tiles of 64.
        let (v, mut p) = params_for(512, 7, 1);
        p.lanes_m = v.lanes_along_m(&p, 8, 2);
        assert!(p.lanes_m < 8, "lanes along pixels: {}", p.lanes_m);
        let (m_tiles, n_tiles) = v.tiles(&p);
        let (gx, gy) = v.workgroups(&p);
        assert!(gx * p.lanes_m >= m_tiles && gy * (WORKGROUP / p.lanes_m) >= n_tiles);
        assert!(gx * gy >= 2, "both cores get work");
    }

    #[test]
    fn tiles_fit_small_maps_and_leave_big_ones_alone() {
        let cpu = Tile::for_layer(512, wgpu::DeviceType::Cpu, Some(8));
        let fit = |pixels, min| cpu.fit_pixels(pixels, 128, min);
        // 56x56 at batch 1: the measured CPU tile, unchanged.
        assert_eq!(fit(3136, Some(32)), cpu);
        // 7x7 at batch 1: 7 tiles of 8 pixels (56) instead of 4 of 16 (64); still shared.
        assert_eq!(
            fit(49, Some(32)),
            Tile {
                tm: 8,
                tn4: 16,
                share: 8,
                ..cpu
            }
        );
        // A 1x1 map: one pixel, 32 channel tiles of 16 for the cores' lane groups, and
        // per-lane weights (a subgroup would hold 7 duplicates).
        assert_eq!(
            fit(1, Some(32)),
            Tile {
                tm: 1,
                tn4: 4,
                share: 0,
                ..cpu
            }
        );
        // Without a parallelism floor (GPUs) only the pixel tile shrinks.
        let gpu = Tile::for_layer(512, wgpu::DeviceType::DiscreteGpu, None);
        assert_eq!(gpu.fit_pixels(1, 128, None), Tile { tm: 1, ..gpu });
        // Every fitted tile still divides the channel groups.
        for pixels in [1, 2, 3, 4, 7, 9, 16, 49, 100, 196] {
            for c4 in [1u32, 2, 3, 16, 64, 128, 512] {
                let t = Tile::for_layer(4 * c4 as usize, wgpu::DeviceType::Cpu, Some(8))
                    .fit_pixels(pixels, c4, Some(32));
                assert!(t.tm >= 1 && c4.is_multiple_of(t.tn4), "{t:?} for {c4}");
                assert!(t.share == 0 || (t.tn4 * 4).is_multiple_of(t.share));
            }
        }
    }

    #[test]
    fn shared_weights_only_on_cpu_adapters_with_fixed_subgroups_and_whole_subgroups_per_tile() {
        let cpu = Tile::for_layer(512, wgpu::DeviceType::Cpu, Some(8));
        assert_eq!(cpu.share, 8);
        assert_eq!(Tile::for_layer(512, wgpu::DeviceType::Cpu, None).share, 0);
        assert_eq!(
            Tile::for_layer(512, wgpu::DeviceType::DiscreteGpu, Some(32)).share,
            0
        );
        // 12 channels: a 12-wide tile has 12 texels a step, not a multiple of 8 lanes.
        assert_eq!(Tile::for_layer(12, wgpu::DeviceType::Cpu, Some(8)).share, 0);
        // A 7x7 map at batch 1 would put 2 lanes along pixels; shared weights need 8.
        let (mut v, p) = params_for(512, 7, 1);
        v.tile = cpu;
        assert!(v.lanes_along_m(&p, 8, 2) >= 8);
    }

    #[test]
    fn the_stems_read_rows_of_taps_in_whole_row_tiles_and_nothing_else_does() {
        let conv = |cin, kernel, stride, avg_pool_input| ConvLayer {
            name: "t".into(),
            role: ConvRole::Stem(0),
            cin,
            cout: 64,
            kernel,
            stride,
            avg_pool_input,
        };
        let cpu = Tile::for_layer(64, wgpu::DeviceType::Cpu, Some(8));
        let staged = staged::tile(8, 2);
        assert!(ConvVariant::of(&conv(3, 7, 2, false), cpu).row_taps);
        assert!(ConvVariant::of(&conv(3, 3, 2, false), cpu).row_taps);
        assert!(!ConvVariant::of(&conv(3, 7, 2, false), staged).row_taps);
        assert!(!ConvVariant::of(&conv(3, 7, 1, false), cpu).row_taps);
        assert!(!ConvVariant::of(&conv(8, 3, 2, false), cpu).row_taps);
        assert!(!ConvVariant::of(&conv(3, 1, 2, false), cpu).row_taps);
        assert!(!ConvVariant::of(&conv(3, 1, 1, true), cpu).row_taps);
        // 97x97 at batch 2: 49x49 outputs, rows of 4 tiles of 16 (the last one 1 pixel).
        let layer = conv(3, 7, 2, false);
        let fold = WeightFold::for_layer(&layer, 8192).unwrap();
        let p = ConvParams::new(&layer, 2, (97, 97), false, true, fold);
        let v = ConvVariant::of(&layer, cpu);
        assert_eq!(v.tiles(&p), (2 * 49 * 4, 1));
    }

    #[test]
    fn a_staged_tile_runs_one_workgroup_per_block_whatever_the_map() {
        use staged::{block_groups, block_pixels, tile, LANES_M, MICRO_TILES};
        let layer = ConvLayer {
            name: "t".into(),
            role: ConvRole::Stem(0),
            cin: 64,
            cout: 256,
            kernel: 3,
            stride: 1,
            avg_pool_input: false,
        };
        let fold = WeightFold::for_layer(&layer, 8192).unwrap();
        for (tm, tn4) in MICRO_TILES {
            let t = tile(tm, tn4);
            let v = ConvVariant::of(&layer, t);
            for (map, batch) in [(7, 1), (56, 8), (1, 1)] {
                let mut p = ConvParams::new(&layer, batch, (map, map), false, true, fold);
                p.lanes_m = v.lanes_along_m(&p, 8, 2);
                assert_eq!(p.lanes_m, LANES_M);
                let pixels = (batch * map * map) as u32;
                assert_eq!(
                    v.workgroups(&p),
                    (
                        pixels.div_ceil(block_pixels(&t)),
                        64u32.div_ceil(block_groups(&t))
                    )
                );
            }
        }
    }
}
