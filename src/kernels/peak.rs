//! Adapter micro-benchmarks: host side of `shaders/peak.wgsl`. FMA throughput (f32 and f16)
//! and copy bandwidth, for `gpu-resnet peak`, for bench's "% of peak", and for choosing
//! between f16 and f32 arithmetic on adapters with SHADER_F16.

use std::collections::HashMap;
use std::sync::Mutex;
use web_time::Instant;

use super::{grid, Specialization, Storage};
use crate::error::Result;
use crate::gpu::GpuContext;

pub const SOURCE: &str = include_str!("../../shaders/peak.wgsl");
pub const WORKGROUP: u32 = 64;

/// FMA work of one `fma_peak` invocation: ITERS x 8 chains x vec4 x 2 FLOPs.
fn flops_per_invocation(iters: u32) -> u64 {
    iters as u64 * 8 * 4 * 2
}

pub fn fma_spec(storage: Storage, iters: u32) -> Specialization {
    Specialization::new("peak", "fma_peak", storage.prelude(), SOURCE, 1)
        .with("ITERS", iters as f64)
        .with("WG", WORKGROUP as f64)
}

pub fn copy_spec() -> Specialization {
    Specialization::new("peak", "copy", Storage::F32.prelude(), SOURCE, 1)
        .with("WG", WORKGROUP as f64)
}

/// Best of three wall times of `dispatches` dispatches (in one pass) of `groups` workgroups
/// over fresh buffers.
fn time_dispatch(
    ctx: &GpuContext,
    spec: &Specialization,
    groups: u32,
    count: u32,
    bytes: u64,
    dispatches: u32,
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
        for _ in 0..3 {
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

/// FMA throughput in GFLOP/s of the arithmetic type `storage` computes in.
pub fn fma_gflops(ctx: &GpuContext, storage: Storage, groups: u32, iters: u32) -> Result<f64> {
    let threads = groups * WORKGROUP;
    let secs = time_dispatch(
        ctx,
        &fma_spec(storage, iters),
        groups,
        threads,
        threads as u64 * 16,
        1,
    )?;
    Ok((threads as u64 * flops_per_invocation(iters)) as f64 / secs / 1e9)
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
    let one = time_dispatch(ctx, &copy_spec(), 1, 0, 16, 1)?;
    let many = time_dispatch(ctx, &copy_spec(), 1, 0, 16, PROBE_DISPATCHES)?;
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
    // Small enough to cost milliseconds on a GPU and ~0.2 s on a CPU rasteriser.
    let f32_rate = fma_gflops(ctx, Storage::F32, 128, 256)?;
    let f16_rate = fma_gflops(ctx, Storage::F16Native, 128, 256)?;
    let faster = f16_rate > f32_rate;
    if let Ok(mut m) = SEEN.lock() {
        m.get_or_insert_with(HashMap::new).insert(key, faster);
    }
    Ok(faster)
}
