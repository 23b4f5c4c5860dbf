//! `cargo bench --bench act_texture`: activations as textures, measured per layer (issue 21).
//!
//! Every distinct conv shape of a model (`BENCH_MODEL`, default ResNet50; 224x224, batch
//! `BENCH_BATCH`, default 1) runs the tile an untuned plan gives it twice: reading its input
//! activation from a storage buffer (what plans do) and from a texture holding the same bytes
//! (`ConvVariant::act_texture`: groups of 4 channels in order, `conv::ACT_ROW` texels a row,
//! rgba32float for f32 storage, rgba16float for f16), fed by a buffer-to-texture copy whose
//! time is shown beside. The two runs alternate, `BENCH_ITERS` rounds of `BENCH_REPEATS`
//! dispatches in one pass each; each side's best round is compared. Both outputs are read
//! back and must agree (same arithmetic on the same values). Beside the best-of-N ratio, the
//! median of the per-round ratios (robust to a load that moves). Wall time, so it runs on
//! adapters without timestamp queries.
//!
//! `weight` is how many conv layers of the model have the shape: the last lines weigh each
//! shape by it (the model's direct convs, no Winograd, in both variants).

mod common;

use common::*;
use gpu_resnet::arch::{ConvLayer, Op};
use gpu_resnet::gpu::readback::read_mapped;
use gpu_resnet::kernels::conv::{self, ConvOp, ConvVariant, ACT_ROW};
use gpu_resnet::kernels::{DispatchEnv, Kernel, Resource};
use gpu_resnet::weights::synthetic::{synthetic_input, synthetic_weights};
use gpu_resnet::{choose_storage, resolve, Error, F16Mode, GpuContext, Result, Storage};
use wgpu::util::DeviceExt;

/// One measured shape.
struct Row {
    label: String,
    shape: String,
    tile: String,
    weight: usize,
    buffer_ms: f64,
    texture_ms: f64,
    copy_ms: f64,
    /// The median over rounds of buffer time / texture time within a round (the two run back
    /// to back, so a load that moves between rounds cancels out).
    paired: f64,
    flops: u64,
}

fn main() {
    let iters: usize = env_or("BENCH_ITERS", 5).max(1);
    let repeats: u32 = env_or("BENCH_REPEATS", 2).max(1);
    let batch: usize = env_or("BENCH_BATCH", 1).max(1);
    let model: String = env_or("BENCH_MODEL", "ResNet50".to_string());
    let ctx = context();
    if let Err(e) = run(&ctx, &model, batch, iters, repeats) {
        fail(e);
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn run(ctx: &GpuContext, model: &str, batch: usize, iters: usize, repeats: u32) -> Result<()> {
    let spec = resolve(model)?;
    let storage = choose_storage(ctx, precision(), F16Mode::Auto)?;
    let weights = synthetic_weights(&spec.arch, 1000, 0);
    let graph = spec.arch.graph(224, 224, 1000, weights.stage1);
    println!(
        "{model} batch {batch}, {}, best of {iters} alternated rounds of {repeats} dispatches; \
         load average at start {}",
        storage.name(),
        load()
    );
    // Distinct shapes in run order, each with how many layers share it.
    let mut cases: Vec<(usize, &Op, usize)> = Vec::new();
    for op in &graph.ops {
        let Op::Conv {
            conv: ci,
            input,
            residual,
            ..
        } = op
        else {
            continue;
        };
        let key = |ci: usize, input: usize, residual: bool| {
            let l = &graph.convs[ci];
            let t = graph.tensors[input];
            (
                l.kernel,
                l.stride,
                l.cin,
                l.cout,
                l.avg_pool_input,
                t.h,
                t.w,
                residual,
            )
        };
        let k = key(*ci, *input, residual.is_some());
        let seen = cases.iter_mut().find(|(c, o, _)| match o {
            Op::Conv {
                input, residual, ..
            } => key(*c, *input, residual.is_some()) == k,
            _ => false,
        });
        match seen {
            Some(case) => case.2 += 1,
            None => cases.push((*ci, op, 1)),
        }
    }
    let env = DispatchEnv {
        ctx,
        storage,
        batch,
    };
    let mut rows = Vec::new();
    for (ci, op, weight) in cases {
        let layer = &graph.convs[ci];
        if !selected(&layer.name) {
            continue;
        }
        let row = measure(
            &env,
            &graph,
            (ci, op, weight),
            &weights.convs[ci],
            iters,
            repeats,
        )?;
        println!(
            "  {:<24} {:<34} buffer {:9.3} ms  texture {:9.3} ms  {:5.2}x  paired {:5.2}x  (copy {:.3} ms)",
            row.label,
            row.shape,
            row.buffer_ms,
            row.texture_ms,
            row.buffer_ms / row.texture_ms,
            row.paired,
            row.copy_ms
        );
        rows.push(row);
    }
    println!("\nload average at end {}\n", load());
    println!(
        "| layer | shape | tile | x | buffer ms | texture ms | buffer/texture (best) | paired median | GFLOP/s buffer -> texture | copy ms |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let rate = |ms: f64| r.flops as f64 / (ms * 1e-3) / 1e9;
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:.2}x | {:.2}x | {:.1} -> {:.1} | {:.3} |",
            r.label,
            r.shape,
            r.tile,
            r.weight,
            r.buffer_ms,
            r.texture_ms,
            r.buffer_ms / r.texture_ms,
            r.paired,
            rate(r.buffer_ms),
            rate(r.texture_ms),
            r.copy_ms
        );
    }
    let total = |f: fn(&Row) -> f64| rows.iter().map(|r| f(r) * r.weight as f64).sum::<f64>();
    let (b, t) = (total(|r| r.buffer_ms), total(|r| r.texture_ms));
    println!(
        "\nevery direct conv of {model} (shapes weighted by their layer count): buffer {b:.1} ms, \
         texture {t:.1} ms ({:.2}x)",
        b / t
    );
    Ok(())
}

fn storage_buffer(ctx: &GpuContext, label: &str, bytes: &[u8], copy_src: bool) -> wgpu::Buffer {
    let mut usage = wgpu::BufferUsages::STORAGE;
    if copy_src {
        usage |= wgpu::BufferUsages::COPY_SRC;
    }
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage,
        })
}

/// `bytes` of `buffer` (STORAGE | COPY_SRC).
fn read(ctx: &GpuContext, buffer: &wgpu::Buffer) -> Result<Vec<u8>> {
    let readback = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read-back"),
        size: buffer.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(buffer, 0, &readback, 0, buffer.size());
    ctx.queue.submit([enc.finish()]);
    read_mapped(ctx, &readback, buffer.size())
}

fn decode(storage: Storage, bytes: &[u8]) -> Vec<f32> {
    match storage {
        Storage::F32 => bytemuck::pod_collect_to_vec(bytes),
        _ => bytemuck::pod_collect_to_vec::<u8, half::f16>(bytes)
            .into_iter()
            .map(f32::from)
            .collect(),
    }
}

/// Seconds per repeat of `record` (`repeats` times in one encoder), wall time to idle.
fn time(ctx: &GpuContext, repeats: u32, record: impl Fn(&mut wgpu::CommandEncoder)) -> Result<f64> {
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    for _ in 0..repeats {
        record(&mut enc);
    }
    let start = std::time::Instant::now();
    ctx.queue.submit([enc.finish()]);
    ctx.wait()?;
    Ok(start.elapsed().as_secs_f64() * 1e3 / repeats as f64)
}

fn dispatch(
    enc: &mut wgpu::CommandEncoder,
    k: &Kernel,
    bind: &wgpu::BindGroup,
    g: (u32, u32, u32),
) {
    let mut pass = enc.begin_compute_pass(&Default::default());
    pass.set_pipeline(&k.pipeline);
    pass.set_bind_group(0, bind, &[]);
    pass.dispatch_workgroups(g.0, g.1, g.2);
}

fn measure(
    env: &DispatchEnv,
    graph: &gpu_resnet::arch::Graph,
    (ci, op, weight): (usize, &Op, usize),
    conv_bn: &gpu_resnet::weights::ConvBn,
    iters: usize,
    repeats: u32,
) -> Result<Row> {
    let ctx = env.ctx;
    let storage = env.storage;
    let Op::Conv {
        input,
        residual,
        relu,
        output,
        ..
    } = *op
    else {
        unreachable!("only conv ops are measured")
    };
    let layer: &ConvLayer = &graph.convs[ci];
    let from = graph.tensors[input];
    let (texture, fold) = conv::prepare_weights(ctx, storage, layer, conv_bn, "synthetic")?;
    let weights_view = texture.create_view(&Default::default());
    let pixels = layer.out_pixels(env.batch, (from.h, from.w));
    let tile = conv::tile_for(ctx, layer, pixels);
    let conv_op = ConvOp {
        layer,
        weights: ci,
        fold,
        input,
        input_hw: (from.h, from.w),
        residual,
        relu,
        output,
    };
    let laid = conv::dispatch(env, &conv_op, tile)?;
    let texture_spec = ConvVariant {
        act_texture: true,
        ..ConvVariant::of(layer, tile)
    }
    .specialization(storage);

    // The input, padded to whole texture rows (a buffer-to-texture copy moves whole rows).
    let groups = env.batch * from.h * from.w * from.c.div_ceil(4);
    let rows = conv::act_texture_rows(
        groups,
        ctx.limits.max_texture_dimension_2d,
        &format!("the input of `{}`", layer.name),
    )?;
    let mut values = synthetic_input(groups * 4, ci as u64 + 1);
    values.resize((rows * ACT_ROW) as usize * 4, 0.0);
    let x = storage_buffer(ctx, "input", &storage.encode(&values), true);
    let x_texture = ctx.device.create_texture(&conv::act_texture_descriptor(
        storage,
        rows,
        "input texture",
    ));
    let x_view = x_texture.create_view(&Default::default());
    let copy = |enc: &mut wgpu::CommandEncoder| {
        enc.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: &x,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(ACT_ROW * storage.bytes_per_4() as u32),
                    rows_per_image: Some(rows),
                },
            },
            x_texture.as_image_copy(),
            x_texture.size(),
        )
    };

    let out_groups = pixels * layer.cout.div_ceil(4);
    let out_bytes = vec![0u8; out_groups * storage.bytes_per_4() as usize];
    let res_values = synthetic_input(out_groups * 4, ci as u64 + 1000);
    let res = match residual {
        Some(_) => storage_buffer(ctx, "residual", &storage.encode(&res_values), false),
        None => storage_buffer(ctx, "unused", &[0u8; 16], false),
    };
    let mut params = laid.params.clone();
    params.resize(params.len().next_multiple_of(16), 0);
    let uniform = ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: &params,
            usage: wgpu::BufferUsages::UNIFORM,
        });
    debug_assert_eq!(laid.bindings[0], Resource::Tensor(input));
    let kernel_buffer = ctx.pipelines.get(&ctx.device, &laid.spec);
    let kernel_texture = ctx.pipelines.get(&ctx.device, &texture_spec);
    let out_buffer = storage_buffer(ctx, "output (buffer input)", &out_bytes, true);
    let out_texture = storage_buffer(ctx, "output (texture input)", &out_bytes, true);
    let bind = |k: &Kernel, input: wgpu::BindingResource, out: &wgpu::Buffer| {
        let entries = [
            uniform.as_entire_binding(),
            input,
            wgpu::BindingResource::TextureView(&weights_view),
            res.as_entire_binding(),
            out.as_entire_binding(),
        ];
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&layer.name),
            layout: &k.layout,
            entries: &entries
                .into_iter()
                .enumerate()
                .map(|(i, resource)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource,
                })
                .collect::<Vec<_>>(),
        })
    };
    let bind_buffer = bind(&kernel_buffer, x.as_entire_binding(), &out_buffer);
    let bind_texture = bind(
        &kernel_texture,
        wgpu::BindingResource::TextureView(&x_view),
        &out_texture,
    );
    let g = laid.groups;
    let run_buffer =
        |enc: &mut wgpu::CommandEncoder| dispatch(enc, &kernel_buffer, &bind_buffer, g);
    let run_texture =
        |enc: &mut wgpu::CommandEncoder| dispatch(enc, &kernel_texture, &bind_texture, g);

    // Warm-up (the pipelines' JIT on CPU adapters), then the check that both read the same.
    ctx.scoped("act_texture warm-up", || {
        time(ctx, 1, copy)?;
        time(ctx, 1, run_buffer)?;
        time(ctx, 1, run_texture)
    })?;
    let (a, b) = (
        decode(storage, &read(ctx, &out_buffer)?),
        decode(storage, &read(ctx, &out_texture)?),
    );
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    let diff = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
    if diff > scale * 1e-6 || a.iter().chain(&b).any(|v| !v.is_finite()) {
        return Err(Error::Input(format!(
            "`{}`: the texture-input conv differs from the buffer one by {diff} (max |y| {scale})",
            layer.name
        )));
    }

    let (mut best_b, mut best_t, mut best_c) = (f64::MAX, f64::MAX, f64::MAX);
    let mut ratios = Vec::with_capacity(iters);
    for round in 0..iters {
        // Alternate which side goes first, so neither always follows the other.
        let (tb, tt) = if round % 2 == 0 {
            let tb = time(ctx, repeats, run_buffer)?;
            (tb, time(ctx, repeats, run_texture)?)
        } else {
            let tt = time(ctx, repeats, run_texture)?;
            (time(ctx, repeats, run_buffer)?, tt)
        };
        ratios.push(tb / tt);
        best_b = best_b.min(tb);
        best_t = best_t.min(tt);
        best_c = best_c.min(time(ctx, repeats, copy)?);
    }
    ratios.sort_by(f64::total_cmp);
    let t = tile;
    Ok(Row {
        label: layer.name.clone(),
        shape: laid.shape.clone(),
        tile: format!(
            "{}x{}{}",
            t.tm,
            t.tn4 * 4,
            if t.share > 0 { " shared" } else { "" }
        ),
        weight,
        buffer_ms: best_b,
        texture_ms: best_t,
        copy_ms: best_c,
        paired: ratios[ratios.len() / 2],
        flops: laid.flops,
    })
}
