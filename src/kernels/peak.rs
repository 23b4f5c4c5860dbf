//! Adapter micro-benchmarks: host side of `shaders/peak.wgsl`. FMA throughput (f32 and f16)
//! and copy bandwidth, for `gpu-resnet peak`, for bench's "% of peak", and for choosing
//! between f16 and f32 arithmetic on adapters with SHADER_F16.
//!
//! The FMA peak is the best of a short sweep of the kernel's shape ([`FmaShape`]: independent
//! chains per invocation, their vector width, the workgroup size, the loop length), as an
//! independent probe would measure it: one fixed shape (8 chains of vec4) reached Mesa 22.3
//! lavapipe's ceiling but read a third to 60% of Mesa 25's, where 16 chains of scalars win
//! (likely register pressure: 8 x vec4 is 32 live 8-lane vectors on AVX2, which has 16
//! registers), and models then ran at "over 100% of peak".

use std::collections::HashMap;
use std::sync::Mutex;
use web_time::Instant;

use super::{grid, Specialization, Storage};
use crate::error::Result;
use crate::gpu::GpuContext;

pub const SOURCE: &str = include_str!("../../shaders/peak.wgsl");
pub const WORKGROUP: u32 = 64;

/// One shape of the FMA kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FmaShape {
    /// Independent accumulator chains per invocation.
    pub chains: u32,
    /// Lanes of each chain (1: a scalar, 2 or 4: a vector).
    pub width: u32,
    /// Invocations per workgroup.
    pub workgroup: u32,
    /// Loop iterations per invocation (each: one FMA per chain).
    pub iters: u32,
}

/// Invocations of one FMA dispatch, whatever its shape.
const THREADS: u32 = 1 << 16;
/// FLOPs of one measuring dispatch: ~40 ms at 100 GFLOP/s (a CPU adapter), long enough that
/// submit and wait cost little beside it.
pub const MEASURE_FLOPS: u64 = 1 << 32;
/// FLOPs of one sweep dispatch: a quarter of that (the loop 4x shorter).
const SWEEP_FLOPS: u64 = 1 << 30;

/// The (chains, width) pairs swept, at the default workgroup: 4 to 32 independent lanes of
/// FMAs per invocation, as scalars and as vectors.
pub const CHAIN_SHAPES: [(u32, u32); 9] = [
    (1, 4),
    (2, 4),
    (4, 4),
    (8, 4),
    (4, 1),
    (8, 1),
    (16, 1),
    (4, 2),
    (8, 2),
];
/// The workgroup sizes swept on the best (chains, width) (those the device allows).
pub const WORKGROUP_SIZES: [u32; 3] = [32, 128, 256];

impl FmaShape {
    /// `chains` x `width` at `workgroup`, its loop as long as one dispatch of THREADS
    /// invocations needs to compute `flops`.
    pub fn new(chains: u32, width: u32, workgroup: u32, flops: u64) -> FmaShape {
        let per_iter = THREADS as u64 * chains as u64 * width as u64 * 2;
        FmaShape {
            chains,
            width,
            workgroup,
            iters: (flops / per_iter).max(1) as u32,
        }
    }

    /// The same shape with a loop as long as `flops` needs.
    pub fn with_flops(self, flops: u64) -> FmaShape {
        FmaShape::new(self.chains, self.width, self.workgroup, flops)
    }

    fn flops_per_invocation(&self) -> u64 {
        self.iters as u64 * self.chains as u64 * self.width as u64 * 2
    }

    /// Every source the sweep may compile (the workgroup size and the loop length are
    /// `override`s of these): for the shader tests.
    pub fn sources() -> Vec<FmaShape> {
        CHAIN_SHAPES
            .iter()
            .map(|&(c, w)| FmaShape::new(c, w, WORKGROUP, SWEEP_FLOPS))
            .collect()
    }
}

impl std::fmt::Display for FmaShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lanes = match self.width {
            1 => "scalar".to_string(),
            w => format!("vec{w}"),
        };
        write!(
            f,
            "{} chains of {lanes}, workgroup {}, {} iterations",
            self.chains, self.workgroup, self.iters
        )
    }
}

/// The prelude of an FMA shape: the storage's arithmetic type, `V` (one chain) and `widen`.
fn prelude(storage: Storage, width: u32) -> String {
    let (v, widen) = match width {
        1 => ("CT".to_string(), "vec4<f32>(f32(v))"),
        2 => ("vec2<CT>".to_string(), "vec4<f32>(vec2<f32>(v), 0.0, 0.0)"),
        _ => ("vec4<CT>".to_string(), "vec4<f32>(v)"),
    };
    format!(
        "{}alias V = {v};\nfn widen(v: V) -> vec4<f32> {{ return {widen}; }}\n",
        storage.prelude()
    )
}

fn body(chains: u32) -> String {
    super::unroll(SOURCE, &[("CHAINS", chains)]).expect("peak.wgsl's unroll blocks are well formed")
}

pub fn fma_spec(storage: Storage, shape: FmaShape) -> Specialization {
    Specialization::new(
        "peak",
        "fma_peak",
        &prelude(storage, shape.width),
        &body(shape.chains),
        1,
    )
    .with("ITERS", shape.iters as f64)
    .with("WG", shape.workgroup as f64)
}

pub fn copy_spec() -> Specialization {
    Specialization::new("peak", "copy", &prelude(Storage::F32, 4), &body(1), 1)
        .with("WG", WORKGROUP as f64)
}

/// Best of `runs` wall times of `dispatches` dispatches (in one pass) of `groups` workgroups
/// over fresh buffers.
fn time_dispatch(
    ctx: &GpuContext,
    spec: &Specialization,
    groups: u32,
    count: u32,
    bytes: u64,
    dispatches: u32,
    runs: u32,
) -> Result<f64> {
    ctx.scoped("peak measurement", || {
        let kernel = ctx.pipelines.get(&ctx.device, spec);
        let make = |usage| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("peak"),
                size: bytes.max(16),
                usage,
                mapped_at_creation: false,
            })
        };
        let src = make(wgpu::BufferUsages::STORAGE);
        let dst = make(wgpu::BufferUsages::STORAGE);
        let uniform = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("peak params"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        ctx.queue
            .write_buffer(&uniform, 0, bytemuck::cast_slice(&[count, 0, 0, 0]));
        let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("peak"),
            layout: &kernel.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: src.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: dst.as_entire_binding(),
                },
            ],
        });
        let g = grid(groups, ctx.limits.max_compute_workgroups_per_dimension);
        let mut best = f64::INFINITY;
        for _ in 0..runs.max(1) {
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&kernel.pipeline);
                pass.set_bind_group(0, &bind, &[]);
                for _ in 0..dispatches {
                    pass.dispatch_workgroups(g.0, g.1, g.2);
                }
            }
            let start = Instant::now();
            ctx.queue.submit([enc.finish()]);
            ctx.wait()?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(best)
    })
}

/// FMA throughput in GFLOP/s of `shape` over `threads` invocations: the best of `runs`
/// dispatches.
fn fma_run(
    ctx: &GpuContext,
    storage: Storage,
    shape: FmaShape,
    threads: u32,
    runs: u32,
) -> Result<f64> {
    let secs = time_dispatch(
        ctx,
        &fma_spec(storage, shape),
        threads.div_ceil(shape.workgroup),
        threads,
        threads as u64 * 16,
        1,
        runs,
    )?;
    Ok((threads as u64 * shape.flops_per_invocation()) as f64 / secs / 1e9)
}

/// One measurement of `shape` (a dispatch of [`MEASURE_FLOPS`] if its loop says so): what
/// bench interleaves with its model runs.
pub fn fma_gflops(ctx: &GpuContext, storage: Storage, shape: FmaShape) -> Result<f64> {
    fma_run(ctx, storage, shape, THREADS, 1)
}

/// The FMA peak of one arithmetic type, and the kernel shape that reached it.
#[derive(Clone, Debug)]
pub struct FmaPeak {
    pub gflops: f64,
    /// Its loop sized for [`MEASURE_FLOPS`]: pass it to [`fma_gflops`] to measure again.
    pub shape: FmaShape,
    /// Every shape the sweep timed, with its rate (GFLOP/s), in sweep order.
    pub tried: Vec<(FmaShape, f64)>,
}

/// The FMA peak in `storage`'s arithmetic: every (chains, width) of [`CHAIN_SHAPES`] at the
/// default workgroup, the best of them at each of [`WORKGROUP_SIZES`] the device allows (two
/// dispatches of [`SWEEP_FLOPS`] each), then the best shape with a 4x longer loop (three
/// dispatches of [`MEASURE_FLOPS`]); the highest rate of all. About 2 s on lavapipe.
pub fn fma_peak(ctx: &GpuContext, storage: Storage) -> Result<FmaPeak> {
    let mut tried = Vec::new();
    let mut consider = |best: &mut Option<(FmaShape, f64)>, shape: FmaShape, runs: u32| {
        let gflops = fma_run(ctx, storage, shape, THREADS, runs)?;
        tried.push((shape, gflops));
        if best.is_none_or(|(_, b)| gflops > b) {
            *best = Some((shape, gflops));
        }
        Result::Ok(())
    };
    let mut best = None;
    for (chains, width) in CHAIN_SHAPES {
        let shape = FmaShape::new(chains, width, WORKGROUP, SWEEP_FLOPS);
        consider(&mut best, shape, 2)?;
    }
    let (chosen, _) = best.expect("the sweep measured a shape");
    let allowed = ctx.limits.max_compute_invocations_per_workgroup;
    for workgroup in WORKGROUP_SIZES.into_iter().filter(|&w| w <= allowed) {
        let shape = FmaShape::new(chosen.chains, chosen.width, workgroup, SWEEP_FLOPS);
        consider(&mut best, shape, 2)?;
    }
    let (chosen, _) = best.expect("the sweep measured a shape");
    consider(&mut best, chosen.with_flops(MEASURE_FLOPS), 3)?;
    let (shape, gflops) = best.expect("the sweep measured a shape");
    Ok(FmaPeak {
        gflops,
        shape: shape.with_flops(MEASURE_FLOPS),
        tried,
    })
}

/// Streaming copy bandwidth in GB/s (read + write).
pub fn copy_gbs(ctx: &GpuContext) -> Result<f64> {
    let limit = ctx.limits.max_storage_buffer_binding_size;
    let count = (4u64 << 20).min(limit / 16) as u32; // up to 64 MiB each way
    let secs = time_dispatch(
        ctx,
        &copy_spec(),
        count.div_ceil(WORKGROUP),
        count,
        count as u64 * 16,
        1,
        3,
    )?;
    Ok(2.0 * count as f64 * 16.0 / secs / 1e9)
}

/// Empty dispatches in the dispatch-overhead probe.
const PROBE_DISPATCHES: u32 = 256;

/// The fixed cost of one dispatch in a pass, in microseconds: one workgroup that stores
/// nothing, dispatched PROBE_DISPATCHES times in one pass (each after a barrier on the buffer
/// it writes, as a plan's dispatches are), less the same pass with one dispatch. A plan pays
/// this for every dispatch whatever its size (`bench --profile` prints the plan's total).
pub fn dispatch_overhead_us(ctx: &GpuContext) -> Result<f64> {
    let one = time_dispatch(ctx, &copy_spec(), 1, 0, 16, 1, 3)?;
    let many = time_dispatch(ctx, &copy_spec(), 1, 0, 16, PROBE_DISPATCHES, 3)?;
    Ok(((many - one) / (PROBE_DISPATCHES - 1) as f64 * 1e6).max(0.0))
}

/// Whether f16 FMAs outrun f32 ones on this adapter (measured once per adapter and process).
pub fn f16_math_is_faster(ctx: &GpuContext) -> Result<bool> {
    static SEEN: Mutex<Option<HashMap<String, bool>>> = Mutex::new(None);
    let key = format!(
        "{:?}/{}/{}/{}",
        ctx.info.backend, ctx.info.name, ctx.info.driver, ctx.info.driver_info
    );
    // In the browser nothing may block on the GPU, and a browser offering `shader-f16` runs
    // it on a GPU, where f16 math is the faster: taken as such, unmeasured.
    if cfg!(target_arch = "wasm32") {
        return Ok(true);
    }
    if let Some(known) = SEEN
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(&key).copied()))
    {
        return Ok(known);
    }
    // Small enough to cost milliseconds on a GPU and ~0.2 s on a CPU rasteriser (the shape
    // this choice was first measured with: 8 chains of vec4, 256 iterations, 128 workgroups).
    let shape = FmaShape {
        chains: 8,
        width: 4,
        workgroup: WORKGROUP,
        iters: 256,
    };
    let threads = 128 * WORKGROUP;
    // Interleaved, best of 3 x 2 each: a busy host (other work starting or stopping between two
    // back-to-back measurements) once read lavapipe's f16, a quarter of f32's rate, as faster.
    let (mut f32_rate, mut f16_rate) = (0.0f64, 0.0f64);
    for _ in 0..3 {
        f32_rate = f32_rate.max(fma_run(ctx, Storage::F32, shape, threads, 2)?);
        f16_rate = f16_rate.max(fma_run(ctx, Storage::F16Native, shape, threads, 2)?);
    }
    let faster = f16_rate > f32_rate;
    if let Ok(mut m) = SEEN.lock() {
        m.get_or_insert_with(HashMap::new).insert(key, faster);
    }
    Ok(faster)
}
