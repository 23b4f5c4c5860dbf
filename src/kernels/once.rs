//! Run one kernel once on host data: what the kernel tests and `gpu-resnet check` compare with
//! the CPU reference. Slow by design (uploads, creates and reads back everything per call);
//! plans never use it.

use wgpu::util::DeviceExt;

use super::{conv, grid, head, pool, PipelineCache, Specialization, Storage};
use crate::arch::ConvLayer;
use crate::error::{Error, Result};
use crate::gpu::{readback::read_mapped, GpuContext};
use crate::reference::Activation;
use crate::weights::{fold::fold_bn, ConvBn};

/// NCHW -> channels-last with channels padded to a multiple of 4.
pub fn to_nhwc4(x: &Activation) -> Vec<f32> {
    let c4 = x.c.div_ceil(4) * 4;
    let mut out = vec![0.0; x.n * x.h * x.w * c4];
    for n in 0..x.n {
        for c in 0..x.c {
            for y in 0..x.h {
                for xx in 0..x.w {
                    out[((n * x.h + y) * x.w + xx) * c4 + c] = x.at(n, c, y, xx);
                }
            }
        }
    }
    out
}

/// Channels-last (padded) -> NCHW with `c` channels.
pub fn from_nhwc4(data: &[f32], n: usize, c: usize, h: usize, w: usize) -> Activation {
    let c4 = c.div_ceil(4) * 4;
    let mut out = vec![0.0; n * c * h * w];
    for b in 0..n {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    out[((b * c + ch) * h + y) * w + x] = data[((b * h + y) * w + x) * c4 + ch];
                }
            }
        }
    }
    Activation {
        n,
        c,
        h,
        w,
        data: out,
    }
}

/// `Err` unless `len == want`: host data is checked before anything indexes it.
fn check_len(what: &str, len: usize, want: usize) -> Result<()> {
    if len == want {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "{what} holds {len} values, expected {want}"
        )))
    }
}

fn check_activation(what: &str, x: &Activation) -> Result<()> {
    check_len(
        &format!("{what} [{}, {}, {}, {}]", x.n, x.c, x.h, x.w),
        x.data.len(),
        x.n * x.c * x.h * x.w,
    )
}

fn decode(storage: Storage, bytes: &[u8]) -> Vec<f32> {
    match storage {
        Storage::F32 => bytemuck::pod_collect_to_vec(bytes),
        Storage::F16Native | Storage::F16Mixed | Storage::F16Packed => {
            let h: Vec<half::f16> = bytemuck::pod_collect_to_vec(bytes);
            h.into_iter().map(f32::from).collect()
        }
    }
}

/// One dispatch over fresh buffers (`reads` fill the read bindings in order, past the
/// texture binding, which `texture` fills); returns the read-write buffer's bytes.
fn dispatch_once(
    ctx: &GpuContext,
    spec: &Specialization,
    params: &[u8],
    reads: &[Vec<u8>],
    texture: Option<&wgpu::TextureView>,
    out_bytes: u64,
    groups: (u32, u32),
) -> Result<Vec<u8>> {
    ctx.scoped(&format!("{} kernel test dispatch", spec.family), || {
        let device = &ctx.device;
        let kernel = PipelineCache::default().get(device, spec);
        let mut padded = params.to_vec();
        padded.resize(params.len().next_multiple_of(16), 0);
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: &padded,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let buffers: Vec<wgpu::Buffer> = reads
            .iter()
            .map(|bytes| {
                let mut b = bytes.clone();
                b.resize(b.len().max(16).next_multiple_of(4), 0);
                device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("input"),
                    contents: &b,
                    usage: wgpu::BufferUsages::STORAGE,
                })
            })
            .collect();
        let out_size = out_bytes.max(16).next_multiple_of(4);
        let out = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("output"),
            size: out_size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: out_size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        let buffer_bindings = (1..).filter(|b| Some(*b) != spec.texture_input);
        for (binding, b) in buffer_bindings.zip(buffers.iter().chain(std::iter::once(&out))) {
            entries.push(wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            });
        }
        if let (Some(binding), Some(view)) = (spec.texture_input, texture) {
            entries.push(wgpu::BindGroupEntry {
                binding,
                resource: wgpu::BindingResource::TextureView(view),
            });
        }
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &kernel.layout,
            entries: &entries,
        });
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, 1);
        }
        enc.copy_buffer_to_buffer(&out, 0, &readback, 0, out_size);
        ctx.queue.submit([enc.finish()]);
        let mut bytes = read_mapped(ctx, &readback, out_size)?;
        bytes.truncate(out_bytes as usize);
        Ok(bytes)
    })
}

/// One conv layer (BN folded, optional residual add, optional ReLU) on the GPU, with the
/// register tile a plan would choose on this device.
pub fn conv_once(
    ctx: &GpuContext,
    storage: Storage,
    layer: &ConvLayer,
    x: &Activation,
    p: &ConvBn,
    residual: Option<&Activation>,
    relu: bool,
) -> Result<Activation> {
    let tile = conv::Tile::for_layer(layer.cout, ctx.info.device_type, ctx.fixed_subgroup_size());
    conv_once_tiled(ctx, storage, layer, x, p, residual, relu, tile)
}

/// [`conv_once`] with a given register tile (tests run every tile policy on one adapter).
#[allow(clippy::too_many_arguments)]
pub fn conv_once_tiled(
    ctx: &GpuContext,
    storage: Storage,
    layer: &ConvLayer,
    x: &Activation,
    p: &ConvBn,
    residual: Option<&Activation>,
    relu: bool,
    tile: conv::Tile,
) -> Result<Activation> {
    if x.c != layer.cin {
        return Err(Error::Input(format!(
            "conv `{}` expects {} input channels, got {}",
            layer.name, layer.cin, x.c
        )));
    }
    check_activation("conv input", x)?;
    let k2 = layer.kernel * layer.kernel;
    check_len("conv weight", p.weight().len(), layer.cout * layer.cin * k2)?;
    for (_, v) in p.per_channel() {
        check_len("BN parameter", v.len(), layer.cout)?;
    }
    let (ho, wo) = (layer.out_size(x.h), layer.out_size(x.w));
    if let Some(r) = residual {
        check_activation("residual", r)?;
        if (r.n, r.c, r.h, r.w) != (x.n, layer.cout, ho, wo) {
            return Err(Error::Input(format!(
                "residual [{}, {}, {}, {}] is not the conv's output shape [{}, {}, {ho}, {wo}]",
                r.n, r.c, r.h, r.w, x.n, layer.cout
            )));
        }
    }
    let (w, b) = fold_bn(p);
    let laid = conv::gemm_layout(&w, &b, layer.cout, layer.cin, layer.kernel);
    let variant = conv::ConvVariant::of(layer, tile);
    let fold = conv::WeightFold::for_layer(layer, ctx.limits.max_texture_dimension_2d)?;
    let mut params = conv::ConvParams::new(layer, x.n, (x.h, x.w), residual.is_some(), relu, fold);
    params.lanes_m =
        variant.lanes_along_m(&params, ctx.lane_group_size(), ctx.concurrent_workgroups());
    let (m_total, out_c4) = (params.m_total, params.out_c4);
    let res = residual
        .map(|r| storage.encode(&to_nhwc4(r)))
        .unwrap_or_default();
    let out_bytes = m_total as u64 * out_c4 as u64 * storage.bytes_per_4();
    let weights = ctx.scoped("conv kernel test weights", || {
        conv::upload_weights(ctx, storage, layer, &laid, fold)
    })?;
    let bytes = dispatch_once(
        ctx,
        &variant.specialization(storage),
        bytemuck::bytes_of(&params),
        &[storage.encode(&to_nhwc4(x)), res],
        Some(&weights.create_view(&Default::default())),
        out_bytes,
        variant.workgroups(&params),
    )?;
    Ok(from_nhwc4(
        &decode(storage, &bytes),
        x.n,
        layer.cout,
        ho,
        wo,
    ))
}

/// The 3x3/2 max pool on the GPU.
pub fn max_pool_once(ctx: &GpuContext, storage: Storage, x: &Activation) -> Result<Activation> {
    check_activation("pool input", x)?;
    let (ho, wo) = (pool::out_size(x.h), pool::out_size(x.w));
    let c4 = x.c.div_ceil(4) as u32;
    let total = (x.n * ho * wo) as u32 * c4;
    let params = pool::PoolParams {
        in_h: x.h as u32,
        in_w: x.w as u32,
        c4,
        out_h: ho as u32,
        out_w: wo as u32,
        total,
        _pad: [0; 2],
    };
    let g = grid(
        total.div_ceil(pool::WORKGROUP),
        ctx.limits.max_compute_workgroups_per_dimension,
    );
    let bytes = dispatch_once(
        ctx,
        &pool::max_pool_3x3s2(storage),
        bytemuck::bytes_of(&params),
        &[storage.encode(&to_nhwc4(x))],
        None,
        total as u64 * storage.bytes_per_4(),
        (g.0, g.1),
    )?;
    Ok(from_nhwc4(&decode(storage, &bytes), x.n, x.c, ho, wo))
}

/// Global average pool + FC (`fc_weight` is `[features][classes]`) on the GPU: logits `[n][classes]`.
pub fn head_once(
    ctx: &GpuContext,
    storage: Storage,
    x: &Activation,
    fc_weight: &[f32],
    fc_bias: &[f32],
) -> Result<Vec<f32>> {
    check_activation("head input", x)?;
    let classes = fc_bias.len();
    check_len("FC weight", fc_weight.len(), x.c * classes)?;
    let laid = head::layout(fc_weight, fc_bias, x.c, classes);
    let classes4 = classes.div_ceil(4) as u32;
    let params = head::HeadParams {
        hw: (x.h * x.w) as u32,
        c4: x.c.div_ceil(4) as u32,
        classes4,
        classes: classes as u32,
        bias_offset: head::bias_offset4(x.c, classes),
        _pad: [0; 3],
    };
    let bytes = dispatch_once(
        ctx,
        &head::specialization(storage, x.c),
        bytemuck::bytes_of(&params),
        &[storage.encode(&to_nhwc4(x)), storage.encode(&laid)],
        None,
        (x.n * classes * 4) as u64,
        (classes4.div_ceil(head::WORKGROUP), x.n as u32),
    )?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}
