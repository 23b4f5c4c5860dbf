//! Run one kernel once on host data: what the kernel tests and `gpu-resnet check` compare with
//! the CPU reference. Slow by design (uploads, creates and reads back everything per call);
//! plans never use it. The ops are laid out by the same family functions a plan uses
//! (`kernels::*::dispatch`); only the resources differ: fresh buffers of host data.

use wgpu::util::DeviceExt;

use crate::arch::{ConvLayer, TensorShape};
use crate::error::{Error, Result};
use crate::gpu::{readback::read_mapped, GpuContext};
use crate::kernels::{conv, head, pool, winograd, DispatchEnv, OpDispatch, Resource, Storage};
use crate::reference::Activation;
use crate::weights::ConvBn;

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

/// Host data for one binding of a one-shot dispatch.
enum Data<'a> {
    Bytes(Vec<u8>),
    Texture(&'a wgpu::TextureView),
}

/// Run `op` once: each binding is filled from `data` (the `output` binding gets a fresh buffer
/// of `out_bytes`, `Resource::Unused` a dummy one); returns the output's bytes.
fn dispatch_once(
    ctx: &GpuContext,
    op: &OpDispatch,
    data: &[(Resource, Data)],
    output: Resource,
    out_bytes: u64,
) -> Result<Vec<u8>> {
    ctx.scoped(&format!("{} kernel test dispatch", op.family), || {
        let device = &ctx.device;
        let kernel = ctx.pipelines.get(device, &op.spec);
        let mut padded = op.params.clone();
        padded.resize(padded.len().next_multiple_of(16), 0);
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: &padded,
            usage: wgpu::BufferUsages::UNIFORM,
        });
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
        let upload = |bytes: &[u8]| {
            let mut b = bytes.to_vec();
            b.resize(b.len().max(16).next_multiple_of(4), 0);
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("input"),
                contents: &b,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        // Buffers first (bind group entries borrow them), then the entries.
        let mut buffers: Vec<Option<wgpu::Buffer>> = Vec::new();
        let mut views: Vec<Option<&wgpu::TextureView>> = Vec::new();
        for &r in &op.bindings {
            let (buffer, view) = if r == output {
                (None, None)
            } else if r == Resource::Unused {
                (Some(upload(&[])), None)
            } else {
                match data.iter().find(|(res, _)| *res == r) {
                    Some((_, Data::Bytes(bytes))) => (Some(upload(bytes)), None),
                    Some((_, Data::Texture(view))) => (None, Some(*view)),
                    None => {
                        return Err(Error::Input(format!(
                            "the {} kernel test has no data for its binding {r:?}",
                            op.family
                        )))
                    }
                }
            };
            buffers.push(buffer);
            views.push(view);
        }
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        for (i, (&r, (buffer, view))) in op
            .bindings
            .iter()
            .zip(buffers.iter().zip(&views))
            .enumerate()
        {
            let resource = match (buffer, view) {
                (Some(b), _) => b.as_entire_binding(),
                (None, Some(v)) => wgpu::BindingResource::TextureView(v),
                (None, None) if r == output => out.as_entire_binding(),
                (None, None) => unreachable!("every binding was filled above"),
            };
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource,
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
            pass.dispatch_workgroups(op.groups.0, op.groups.1, op.groups.2);
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
    conv_once_tiled(
        ctx,
        storage,
        layer,
        x,
        p,
        residual,
        relu,
        conv::tile_for(ctx, layer, layer.out_pixels(x.n, (x.h, x.w))),
    )
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
    conv_once_as(
        ctx,
        storage,
        layer,
        x,
        p,
        residual,
        relu,
        tile,
        ConvPath::Direct,
    )
}

/// How a one-shot conv runs ([`conv_once_as`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ConvPath {
    Direct,
    Winograd(winograd::Winograd),
    /// The direct conv, its input in a texture ([`conv::ConvVariant::act_texture`]).
    ActTexture,
}

/// [`conv_once_tiled`] along `path`: Winograd in a tile (its three dispatches, `tile` for
/// the GEMM; an `Input` error for a layer Winograd cannot run), or the input in a texture.
#[allow(clippy::too_many_arguments)]
pub fn conv_once_as(
    ctx: &GpuContext,
    storage: Storage,
    layer: &ConvLayer,
    x: &Activation,
    p: &ConvBn,
    residual: Option<&Activation>,
    relu: bool,
    tile: conv::Tile,
    path: ConvPath,
) -> Result<Activation> {
    let winograd = match path {
        ConvPath::Winograd(w) => Some(w),
        _ => None,
    };
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
    let (weights, fold) = ctx.scoped("conv kernel test weights", || {
        conv::prepare_weights(ctx, storage, layer, p, "conv kernel test")
    })?;
    let view = weights.create_view(&Default::default());
    let env = DispatchEnv {
        ctx,
        storage,
        batch: x.n,
    };
    let (input, res, output) = (0, 1, 2);
    let conv_op = conv::ConvOp {
        layer,
        weights: 0,
        fold,
        input,
        input_hw: (x.h, x.w),
        residual: residual.map(|_| res),
        relu,
        output,
    };
    let mut ops = match winograd {
        Some(_) if !winograd::eligible(layer) => {
            return Err(Error::Input(format!(
                "conv `{}` is not 3x3 stride 1: Winograd cannot run it",
                layer.name
            )));
        }
        Some(w) => winograd::dispatches(&env, &conv_op, (0, w), tile)?,
        None => vec![conv::dispatch(&env, &conv_op, tile)?],
    };
    let mut op = ops.pop().expect("a conv has at least one dispatch");
    let act_texture = if path == ConvPath::ActTexture {
        op.spec = conv::ConvVariant {
            act_texture: true,
            ..conv::ConvVariant::of(layer, tile)
        }
        .specialization(storage);
        let bytes = storage.encode(&to_nhwc4(x));
        let texture = ctx.scoped("conv kernel test input texture", || {
            conv::act_texture(ctx, storage, "conv kernel test input", &bytes)
        })?;
        Some(texture.create_view(&Default::default()))
    } else {
        None
    };
    let wino_texture = match winograd {
        Some(w) => ctx
            .scoped("winograd kernel test weights", || {
                winograd::prepare_weights(ctx, (layer, w), p)
            })?
            .map(|t| (w, t.create_view(&Default::default()))),
        None => None,
    };
    let x_data = match &act_texture {
        Some(view) => Data::Texture(view),
        None => Data::Bytes(storage.encode(&to_nhwc4(x))),
    };
    let mut data = vec![
        (Resource::Tensor(input), x_data),
        (Resource::ConvWeights(0), Data::Texture(&view)),
    ];
    if let Some(r) = residual {
        data.push((
            Resource::Tensor(res),
            Data::Bytes(storage.encode(&to_nhwc4(r))),
        ));
    }
    if let Some((w, view)) = &wino_texture {
        data.push((Resource::WinogradWeights(0, *w), Data::Texture(view)));
    }
    run_stages(ctx, &ops, &mut data)?;
    let out_bytes = (x.n * ho * wo * conv::c4(layer.cout)) as u64 * storage.bytes_per_4();
    let bytes = dispatch_once(ctx, &op, &data, Resource::Tensor(output), out_bytes)?;
    Ok(from_nhwc4(
        &decode(storage, &bytes),
        x.n,
        layer.cout,
        ho,
        wo,
    ))
}

/// The stages of a multi-dispatch op before its last (Winograd's transforms, the head's
/// pool): each one's output (a scratch slot) becomes an input of those after it.
fn run_stages<'a>(
    ctx: &GpuContext,
    stages: &[OpDispatch],
    data: &mut Vec<(Resource, Data<'a>)>,
) -> Result<()> {
    for stage in stages {
        let out = *stage
            .bindings
            .last()
            .expect("every kernel writes its last binding");
        let Resource::Scratch { bytes, .. } = out else {
            return Err(Error::Input(format!(
                "a staged {} op must write scratch",
                stage.family
            )));
        };
        let written = dispatch_once(ctx, stage, data, out, bytes)?;
        data.push((out, Data::Bytes(written)));
    }
    Ok(())
}

/// Per-image shape of an activation.
fn shape_of(x: &Activation) -> TensorShape {
    TensorShape {
        h: x.h,
        w: x.w,
        c: x.c,
    }
}

/// The 3x3/2 max pool on the GPU.
pub fn max_pool_once(ctx: &GpuContext, storage: Storage, x: &Activation) -> Result<Activation> {
    check_activation("pool input", x)?;
    let (ho, wo) = (pool::out_size(x.h), pool::out_size(x.w));
    let to = TensorShape {
        h: ho,
        w: wo,
        c: x.c,
    };
    let env = DispatchEnv {
        ctx,
        storage,
        batch: x.n,
    };
    let op = pool::dispatch(&env, 0, shape_of(x), 1, to)?;
    let data = [(
        Resource::Tensor(0),
        Data::Bytes(storage.encode(&to_nhwc4(x))),
    )];
    let out_bytes = (x.n * ho * wo * x.c.div_ceil(4)) as u64 * storage.bytes_per_4();
    let bytes = dispatch_once(ctx, &op, &data, Resource::Tensor(1), out_bytes)?;
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
    let env = DispatchEnv {
        ctx,
        storage,
        batch: x.n,
    };
    let mut ops = head::dispatches(&env, 0, shape_of(x), classes)?;
    let op = ops.pop().expect("the head ends with its FC dispatch");
    let mut data = vec![
        (
            Resource::Tensor(0),
            Data::Bytes(storage.encode(&to_nhwc4(x))),
        ),
        (Resource::HeadWeights, Data::Bytes(storage.encode(&laid))),
    ];
    run_stages(ctx, &ops, &mut data)?;
    let bytes = dispatch_once(
        ctx,
        &op,
        &data,
        Resource::Logits,
        (x.n * classes * 4) as u64,
    )?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}
