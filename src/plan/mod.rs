//! A static dispatch plan: a layer graph compiled once, for one batch size and input size, into
//! pipelines, bind groups, an activation arena and workgroup counts. Running it uploads the
//! input, records one compute pass, submits once and reads back once; nothing else is created.
//! `submit_prepared` does the same without waiting: a `PendingRun` is polled for the logits.
//!
//! Compiling is three steps: allocate (the arena, input, logits), lay out every op by its
//! kernel family (`kernels::*::dispatch`), bind (one uniform buffer, one bind group per op).

mod arena;
mod limits;
mod run;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use limits::check_limits;
pub use run::{PendingRun, RunTiming};

use crate::arch::{ConvLayer, Graph, Op};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::winograd::Winograd;
use crate::kernels::{
    conv, head, pool, preprocess, winograd, DispatchEnv, Kernel, OpDispatch, Resource, Storage,
};
use crate::model::Model;
use crate::tuning::{self, ConvShape, TileSource};
use arena::Arena;
use run::Timestamps;

/// One recorded dispatch.
pub struct Dispatch {
    pub label: String,
    /// Kernel family: "preprocess", "conv", "pool", "head".
    pub family: &'static str,
    /// What it computes, e.g. `3x3/2 64->128 56x56`.
    pub shape: String,
    pub flops: u64,
    kernel: Arc<Kernel>,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32, u32),
}

pub struct Plan {
    ctx: GpuContext,
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
    pub graph: Graph,
    pub dispatches: Vec<Dispatch>,
    /// The tile of each conv dispatch (`None` for the other dispatches), in dispatch order.
    pub convs: Vec<Option<PlanConv>>,
    input: wgpu::Buffer,
    logits: wgpu::Buffer,
    logits_readback: wgpu::Buffer,
    timestamps: Option<Timestamps>,
    /// Set while a submission's read-back is outstanding (one `PendingRun` at a time).
    busy: Arc<AtomicBool>,
    /// Bytes of the activation arena (all slots) and the plan-wide scratch.
    pub activation_bytes: u64,
    /// Of which plan-wide scratch (Winograd's transformed tiles V and M).
    pub scratch_bytes: u64,
    /// Bytes of the weights this plan reads (shared with the model's other plans).
    pub weight_bytes: u64,
    /// Number of activation buffers the arena needed.
    pub activation_slots: usize,
    /// `run`/`run_timed` refuse NaN/Inf inputs and logits (`crate::finite`); clear it to let
    /// non-finite values propagate.
    pub check_finite: bool,
    storage: Storage,
}

/// The buffers a plan owns besides its arena.
struct PlanBuffers {
    input: wgpu::Buffer,
    logits: wgpu::Buffer,
    logits_readback: wgpu::Buffer,
    /// Bound where an op has no residual.
    unused: wgpu::Buffer,
}

impl PlanBuffers {
    fn allocate(device: &wgpu::Device, input_bytes: u64, logits_bytes: u64) -> PlanBuffers {
        let buffer = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        PlanBuffers {
            input: buffer("input nchw", input_bytes, U::STORAGE | U::COPY_DST),
            logits: buffer("logits", logits_bytes, U::STORAGE | U::COPY_SRC),
            logits_readback: buffer("logits read-back", logits_bytes, U::MAP_READ | U::COPY_DST),
            unused: buffer("no residual", 16, U::STORAGE),
        }
    }
}

/// Where a plan's conv tiles come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileChoice {
    /// The model's tuning cache where it has the shape, else its shipped table, else the
    /// heuristic (`conv::tile_for`).
    Tuned,
    /// The heuristic alone.
    Heuristic,
    /// This tile wherever it fits the layer, else the heuristic's (the tuner's candidates);
    /// with a Winograd tile: as that Winograd's GEMM tile on the layers it can run (where the
    /// model has their transformed weights), the heuristic's choice on the others.
    Override(conv::Tile, Option<Winograd>),
}

/// The tile of one conv of a plan, and where it came from.
#[derive(Clone, Debug)]
pub struct PlanConv {
    pub shape: ConvShape,
    pub tile: conv::Tile,
    /// Winograd F(2x2, 3x3) or F(4x4, 3x3), `tile` being its GEMM's (three dispatches for
    /// the layer); `None`: the direct conv.
    pub winograd: Option<Winograd>,
    /// Which table the tile came from (`Heuristic` also for the tuner's `Override` tiles:
    /// neither table's).
    pub source: TileSource,
    /// The conv's index in the graph's ops (Winograd's three dispatches share it).
    pub op: usize,
}

/// Conv dispatches of a plan by where their tile came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TileCounts {
    pub cache: usize,
    pub shipped: usize,
    pub heuristic: usize,
}

impl TileCounts {
    pub fn total(&self) -> usize {
        self.cache + self.shipped + self.heuristic
    }

    /// `cache 0, shipped 53, heuristic 0 of 53`.
    pub fn describe(&self) -> String {
        format!(
            "cache {}, shipped {}, heuristic {} of {}",
            self.cache,
            self.shipped,
            self.heuristic,
            self.total()
        )
    }
}

fn choose_tile(
    model: &Model,
    choice: TileChoice,
    (ci, layer): (usize, &ConvLayer),
    shape: &ConvShape,
) -> PlanConv {
    let ctx = &model.ctx;
    let map = (shape.in_h, shape.in_w);
    let has = |w: Option<Winograd>| w.is_none_or(|t| model.has_winograd(ci, t));
    // The heuristic: Winograd where `winograd::default_for` says it pays (and the weights are
    // there), its GEMM's tile sized for the GEMM's pixels; else the direct conv.
    let heuristic = match winograd::default_for(ctx, layer, map, shape.batch) {
        Some(t) if has(Some(t)) => {
            let pixels = t.positions() * winograd::tiles(t, map, shape.batch);
            (
                conv::tile_for(ctx, layer, pixels),
                Some(t),
                TileSource::Heuristic,
            )
        }
        _ => {
            let pixels = layer.out_pixels(shape.batch, map);
            (
                conv::tile_for(ctx, layer, pixels),
                None,
                TileSource::Heuristic,
            )
        }
    };
    // An entry that asks for Winograd where the model has no transformed weights is passed over.
    let from = |found: Option<(conv::Tile, Option<Winograd>)>, source| {
        found
            .filter(|&(_, w)| has(w))
            .map(|(tile, w)| (tile, w, source))
    };
    let (tile, winograd, source) = match choice {
        TileChoice::Tuned => from(
            model.tuning.as_ref().and_then(|t| t.tile(ctx, shape)),
            TileSource::Cache,
        )
        .or_else(|| {
            from(
                model.shipped.as_ref().and_then(|t| t.tile(ctx, shape)),
                TileSource::Shipped,
            )
        })
        .unwrap_or(heuristic),
        TileChoice::Heuristic => heuristic,
        TileChoice::Override(tile, w) if tuning::fits(ctx, &tile, layer.cout) && has(w) => {
            (tile, w, TileSource::Heuristic)
        }
        TileChoice::Override(..) => heuristic,
    };
    PlanConv {
        shape: shape.clone(),
        tile,
        winograd,
        source,
        op: 0,
    }
}

/// Every op of `graph` (after the input layout conversion) as its kernel family lays it out,
/// with each conv op's tile (`None` for other ops).
fn lay_out(
    model: &Model,
    env: &DispatchEnv,
    graph: &Graph,
    choice: TileChoice,
) -> Result<(Vec<OpDispatch>, Vec<Option<PlanConv>>)> {
    let input = graph.tensors[graph.input];
    let mut ops = vec![preprocess::layout_dispatch(
        env,
        input.h,
        input.w,
        graph.input,
    )?];
    let mut convs = vec![None];
    for (op_index, op) in graph.ops.iter().enumerate() {
        let mut conv_tile = None;
        let mut laid = match *op {
            Op::Conv {
                conv: ci,
                input,
                residual,
                relu,
                output,
            } => {
                let layer = &graph.convs[ci];
                let from = graph.tensors[input];
                let conv_op = conv::ConvOp {
                    layer,
                    weights: ci,
                    fold: model.conv_weights[ci].1,
                    input,
                    input_hw: (from.h, from.w),
                    residual,
                    relu,
                    output,
                };
                let shape = ConvShape::of(layer, (from.h, from.w), env.batch);
                let chosen = PlanConv {
                    op: op_index,
                    ..choose_tile(model, choice, (ci, layer), &shape)
                };
                let (tile, winograd) = (chosen.tile, chosen.winograd);
                conv_tile = Some(chosen);
                match winograd {
                    Some(w) => winograd::dispatches(env, &conv_op, (ci, w), tile)?,
                    None => vec![conv::dispatch(env, &conv_op, tile)?],
                }
            }
            Op::MaxPool { input, output } => vec![pool::dispatch(
                env,
                input,
                graph.tensors[input],
                output,
                graph.tensors[output],
            )?],
            Op::Head { input, .. } => {
                head::dispatches(env, input, graph.tensors[input], model.classes)?
            }
        };
        // Every dispatch of a conv (Winograd's three) carries the conv's tile.
        convs.extend(std::iter::repeat_n(conv_tile, laid.len()));
        ops.append(&mut laid);
    }
    Ok((ops, convs))
}

impl Model {
    /// Compile a plan for `batch` images of `h` x `w` (here, not in `model.rs`: the plan is
    /// built from the model, never the other way round).
    pub fn plan(&self, batch: usize, h: usize, w: usize) -> Result<Plan> {
        Plan::compile(self, batch, h, w)
    }
}

impl Plan {
    pub fn compile(model: &Model, batch: usize, h: usize, w: usize) -> Result<Plan> {
        Self::compile_with(model, batch, h, w, false)
    }

    /// `profile`: time every dispatch (needs TIMESTAMP_QUERY_INSIDE_PASSES; else whole-pass only).
    pub fn compile_with(
        model: &Model,
        batch: usize,
        h: usize,
        w: usize,
        profile: bool,
    ) -> Result<Plan> {
        Self::compile_tiled(model, batch, h, w, profile, TileChoice::Tuned)
    }

    /// [`Plan::compile_with`] with the conv tiles from `tiles`.
    pub fn compile_tiled(
        model: &Model,
        batch: usize,
        h: usize,
        w: usize,
        profile: bool,
        tiles: TileChoice,
    ) -> Result<Plan> {
        let ctx = &model.ctx;
        if batch == 0 {
            return Err(Error::Input("batch size must be at least 1".into()));
        }
        if !Graph::valid_input(h, w) {
            return Err(Error::Input(format!(
                "input size {h}x{w} is outside 1..=8192"
            )));
        }
        let graph = model.arch.graph(h, w, model.classes, model.stage1);
        let storage = model.storage;
        check_limits(&graph, batch, storage, &ctx.limits)?;
        let env = DispatchEnv {
            ctx,
            storage,
            batch,
        };
        ctx.scoped("plan compilation", || {
            let device = &ctx.device;
            // 1. Allocate.
            let arena = Arena::allocate(device, &graph, |t| {
                let s = graph.tensors[t];
                (batch * s.h * s.w * s.c.div_ceil(4)) as u64 * storage.bytes_per_4()
            });
            let buffers = PlanBuffers::allocate(
                device,
                (batch * 3 * h * w * 4) as u64,
                (batch * model.classes * 4) as u64,
            );
            // 2. Lay out every op.
            let (ops, convs) = lay_out(model, &env, &graph, tiles)?;
            let scratch = allocate_scratch(device, &ops);
            // 3. Bind.
            let resolve = |r: Resource| -> Bound<'_> {
                match r {
                    Resource::Tensor(t) => Bound::Buffer(arena.buffer(t)),
                    Resource::Input => Bound::Buffer(&buffers.input),
                    Resource::Logits => Bound::Buffer(&buffers.logits),
                    Resource::ConvWeights(i) => Bound::Texture(&model.conv_weights[i].0),
                    Resource::HeadWeights => Bound::Buffer(&model.head_weights),
                    Resource::Unused => Bound::Buffer(&buffers.unused),
                    Resource::WinogradWeights(i, t) => Bound::Texture(
                        model.winograd[i][t.index()]
                            .as_ref()
                            .expect("plans choose Winograd only where its weights exist"),
                    ),
                    Resource::Scratch { slot, .. } => Bound::Buffer(&scratch[slot as usize]),
                }
            };
            let dispatches = bind(ctx, model, &ops, resolve);
            let timestamps = Timestamps::new(ctx, dispatches.len(), profile);
            Ok(Plan {
                ctx: ctx.clone(),
                batch,
                height: h,
                width: w,
                classes: model.classes,
                activation_bytes: arena.slot_size.iter().sum::<u64>()
                    + scratch.iter().map(|b| b.size()).sum::<u64>(),
                scratch_bytes: scratch.iter().map(|b| b.size()).sum::<u64>(),
                activation_slots: arena.slot_size.len(),
                weight_bytes: model.weight_bytes,
                graph: graph.clone(),
                dispatches,
                convs,
                input: buffers.input,
                logits: buffers.logits,
                logits_readback: buffers.logits_readback,
                timestamps,
                busy: Arc::default(),
                check_finite: true,
                storage,
            })
        })
    }

    /// Total FLOPs of one run (all images).
    pub fn flops(&self) -> u64 {
        self.dispatches.iter().map(|d| d.flops).sum()
    }

    /// (conv dispatches whose tile came from the tuning cache or the shipped table, all conv
    /// dispatches).
    pub fn tuned_convs(&self) -> (usize, usize) {
        let t = self.tile_sources();
        (t.cache + t.shipped, t.total())
    }

    /// How many conv dispatches took their tile from each source.
    pub fn tile_sources(&self) -> TileCounts {
        let mut t = TileCounts::default();
        for c in self.convs.iter().flatten() {
            match c.source {
                TileSource::Cache => t.cache += 1,
                TileSource::Shipped => t.shipped += 1,
                TileSource::Heuristic => t.heuristic += 1,
            }
        }
        t
    }

    pub fn has_gpu_timer(&self) -> bool {
        self.timestamps.is_some()
    }

    pub fn input_len(&self) -> usize {
        self.batch * 3 * self.height * self.width
    }
}

/// The scratch buffers the ops name ([`Resource::Scratch`]), each as large as the largest
/// request for its slot.
fn allocate_scratch(device: &wgpu::Device, ops: &[OpDispatch]) -> Vec<wgpu::Buffer> {
    let mut sizes: Vec<u64> = Vec::new();
    for r in ops.iter().flat_map(|op| &op.bindings) {
        if let Resource::Scratch { slot, bytes } = *r {
            let slot = slot as usize;
            if sizes.len() <= slot {
                sizes.resize(slot + 1, 0);
            }
            sizes[slot] = sizes[slot].max(bytes);
        }
    }
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("scratch {i}")),
                size: size.max(16),
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        })
        .collect()
}

/// A resolved binding.
pub(crate) enum Bound<'a> {
    Buffer(&'a wgpu::Buffer),
    Texture(&'a wgpu::TextureView),
}

impl Bound<'_> {
    fn entry(&self, binding: u32) -> wgpu::BindGroupEntry<'_> {
        let resource = match self {
            Bound::Buffer(b) => b.as_entire_binding(),
            Bound::Texture(v) => wgpu::BindingResource::TextureView(v),
        };
        wgpu::BindGroupEntry { binding, resource }
    }
}

/// Every op's parameters in one uniform buffer (each at a multiple of the device's uniform
/// offset alignment, whatever its size), its pipeline from the model's cache, and its bind
/// group with `resolve`d resources.
fn bind<'a>(
    ctx: &GpuContext,
    model: &Model,
    ops: &[OpDispatch],
    resolve: impl Fn(Resource) -> Bound<'a>,
) -> Vec<Dispatch> {
    use wgpu::util::DeviceExt;
    let device = &ctx.device;
    let align = ctx.limits.min_uniform_buffer_offset_alignment.max(16) as u64;
    let mut uniform_bytes: Vec<u8> = Vec::new();
    let offsets: Vec<u64> = ops
        .iter()
        .map(|op| {
            let offset = uniform_bytes.len() as u64;
            uniform_bytes.extend_from_slice(&op.params);
            uniform_bytes.resize(
                (offset + (op.params.len() as u64).next_multiple_of(align)) as usize,
                0,
            );
            offset
        })
        .collect();
    let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("dispatch parameters"),
        contents: &uniform_bytes,
        usage: wgpu::BufferUsages::UNIFORM,
    });
    ops.iter()
        .zip(offsets)
        .map(|(op, offset)| {
            let kernel = model.ctx.pipelines.get(device, &op.spec);
            let bound: Vec<Bound> = op.bindings.iter().map(|&r| resolve(r)).collect();
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &uniforms,
                    offset,
                    size: std::num::NonZeroU64::new(op.params.len() as u64),
                }),
            }];
            entries.extend(bound.iter().enumerate().map(|(i, b)| b.entry(i as u32 + 1)));
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&op.label),
                layout: &kernel.layout,
                entries: &entries,
            });
            Dispatch {
                label: op.label.clone(),
                family: op.family,
                shape: op.shape.clone(),
                flops: op.flops,
                kernel,
                bind_group,
                groups: op.groups,
            }
        })
        .collect()
}
