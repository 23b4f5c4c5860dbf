//! A static dispatch plan: a layer graph compiled once, for one batch size and input size, into
//! pipelines, bind groups, an activation arena and workgroup counts. Running it uploads the
//! input, records one compute pass, submits once and reads back once; nothing else is created.
//! `submit_prepared` does the same without waiting: a `PendingRun` is polled for the logits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::arch::{Graph, Op, TensorId};
use crate::error::{Error, Result};
use crate::gpu::{readback::PendingMaps, GpuContext};
use crate::kernels::{self, conv, head, pool, preprocess, Kernel, Storage};
use crate::model::Model;

/// One recorded dispatch.
pub struct Dispatch {
    pub label: String,
    /// Kernel family: "preprocess", "conv", "pool", "head".
    pub family: &'static str,
    /// What it computes, e.g. `3x3/2 64->128 56x56`.
    pub shape: String,
    pub flops: u64,
    kernel: std::sync::Arc<Kernel>,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32, u32),
}

/// Timings of one run, when the adapter has timestamp queries.
#[derive(Clone, Debug, Default)]
pub struct RunTiming {
    /// GPU time of the whole pass, in ms.
    pub gpu_ms: Option<f64>,
    /// GPU time per dispatch, in ms (profiling plans on adapters with in-pass timestamps).
    pub dispatch_ms: Option<Vec<f64>>,
}

struct Timestamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    count: u32,
    per_dispatch: bool,
    period_ns: f64,
}

impl Timestamps {
    /// The timings in the resolved query values `raw`.
    fn timing_of(raw: &[u64], per_dispatch: bool, period_ns: f64) -> RunTiming {
        let ms = |a: u64, b: u64| b.saturating_sub(a) as f64 * period_ns / 1e6;
        let mut timing = RunTiming::default();
        if raw.len() < 2 {
            return timing;
        }
        if per_dispatch {
            timing.gpu_ms = Some(ms(raw[0], raw[raw.len() - 1]));
            timing.dispatch_ms = Some(raw.chunks(2).map(|p| ms(p[0], p[1])).collect());
        } else {
            timing.gpu_ms = Some(ms(raw[0], raw[1]));
        }
        timing
    }
}

/// A run submitted by `Plan::submit_prepared`: the GPU works while the caller goes on.
/// `try_take` polls without blocking and gives the logits `[batch][classes]` and timings once
/// the read-back is mapped; `wait` blocks. Dropping it unfinished cancels the read-back and
/// frees the plan for the next submission (the GPU work itself still runs).
pub struct PendingRun {
    maps: PendingMaps,
    timestamps: Option<(bool, f64)>,
    /// The plan's in-flight flag, cleared once (when the result is taken, or on drop).
    busy: Option<Arc<AtomicBool>>,
}

impl PendingRun {
    /// `None` until the logits are mapped (polls the device once, without blocking); then the
    /// result, once. Later calls give an error.
    pub fn try_take(&mut self) -> Option<Result<(Vec<f32>, RunTiming)>> {
        match self.maps.poll() {
            Ok(false) => None,
            Ok(true) => Some(self.take()),
            Err(e) => Some(Err(e)),
        }
    }

    /// Block until the logits are back.
    pub fn wait(mut self) -> Result<(Vec<f32>, RunTiming)> {
        self.maps.wait()?;
        self.take()
    }

    fn take(&mut self) -> Result<(Vec<f32>, RunTiming)> {
        let bytes = self.maps.take()?;
        self.free_plan();
        let logits: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[0]);
        let timing = match (self.timestamps, bytes.get(1)) {
            (Some((per_dispatch, period_ns)), Some(raw)) => Timestamps::timing_of(
                &bytemuck::pod_collect_to_vec::<u8, u64>(raw),
                per_dispatch,
                period_ns,
            ),
            _ => RunTiming::default(),
        };
        Ok((logits, timing))
    }
}

impl PendingRun {
    /// Let the plan take the next submission (once: a later run's flag is not ours to clear).
    fn free_plan(&mut self) {
        if let Some(busy) = self.busy.take() {
            busy.store(false, Ordering::Release);
        }
    }
}

impl Drop for PendingRun {
    fn drop(&mut self) {
        // Unmap first, then let the next submission map the buffers again.
        self.maps.release();
        self.free_plan();
    }
}

pub struct Plan {
    ctx: GpuContext,
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
    pub graph: Graph,
    pub dispatches: Vec<Dispatch>,
    input: wgpu::Buffer,
    logits: wgpu::Buffer,
    logits_readback: wgpu::Buffer,
    timestamps: Option<Timestamps>,
    /// Set while a submission's read-back is outstanding (one `PendingRun` at a time).
    busy: Arc<AtomicBool>,
    /// Bytes of the activation arena (all slots).
    pub activation_bytes: u64,
    /// Bytes of the weights this plan reads (shared with the model's other plans).
    pub weight_bytes: u64,
    /// Number of activation buffers the arena needed.
    pub activation_slots: usize,
    /// `run`/`run_timed` refuse NaN/Inf inputs and logits (`crate::finite`); clear it to let
    /// non-finite values propagate.
    pub check_finite: bool,
    storage: Storage,
}

/// Assign each tensor a slot so that a slot is reused once its tensor's last reader has run.
/// Returns the slot of every tensor and each slot's size in bytes.
fn assign_slots(graph: &Graph, bytes_of: impl Fn(TensorId) -> u64) -> (Vec<usize>, Vec<u64>) {
    let mut last_use = vec![0usize; graph.tensors.len()];
    for (i, op) in graph.ops.iter().enumerate() {
        let reads: Vec<TensorId> = match *op {
            Op::Conv {
                input, residual, ..
            } => std::iter::once(input).chain(residual).collect(),
            Op::MaxPool { input, .. } | Op::Head { input, .. } => vec![input],
        };
        for r in reads {
            last_use[r] = last_use[r].max(i + 1);
        }
    }
    let mut slot_of = vec![usize::MAX; graph.tensors.len()];
    let mut slot_size: Vec<u64> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut live: Vec<TensorId> = Vec::new();
    // The input (op index 0 = the layout conversion) is born first.
    let place = |t: TensorId, free: &mut Vec<usize>, slot_size: &mut Vec<u64>| {
        let need = bytes_of(t);
        // Best fit among free slots, else the largest free one grown, else a new slot.
        let pick = free
            .iter()
            .enumerate()
            .filter(|(_, &s)| slot_size[s] >= need)
            .min_by_key(|(_, &s)| slot_size[s])
            .or_else(|| free.iter().enumerate().max_by_key(|(_, &s)| slot_size[s]))
            .map(|(i, _)| i);
        let slot = match pick {
            Some(i) => free.swap_remove(i),
            None => {
                slot_size.push(0);
                slot_size.len() - 1
            }
        };
        slot_size[slot] = slot_size[slot].max(need);
        slot
    };
    slot_of[graph.input] = place(graph.input, &mut free, &mut slot_size);
    live.push(graph.input);
    for (i, op) in graph.ops.iter().enumerate() {
        let output = match *op {
            Op::Conv { output, .. } | Op::MaxPool { output, .. } => output,
            Op::Head { .. } => continue, // logits have their own buffer
        };
        // Tensors whose last reader ran before this op are free; this op's inputs are not.
        live.retain(|&t| {
            if last_use[t] <= i {
                free.push(slot_of[t]);
                false
            } else {
                true
            }
        });
        slot_of[output] = place(output, &mut free, &mut slot_size);
        live.push(output);
    }
    (slot_of, slot_size)
}

/// The storage-binding and workgroup-memory limits a plan of `graph` at `batch` would exceed,
/// checked before anything is allocated (`Plan::compile` calls it; `bench` calls it for every
/// configuration before it uploads or runs anything).
pub fn check_limits(
    graph: &Graph,
    batch: usize,
    storage: Storage,
    limits: &wgpu::Limits,
) -> Result<()> {
    let max_binding = limits.max_storage_buffer_binding_size;
    let input = graph.tensors[graph.input];
    // Saturating u64 products: an absurd `batch` must fail this check, not wrap around it.
    let bytes = |dims: &[usize], unit: u64| {
        dims.iter()
            .fold(unit, |acc, &d| acc.saturating_mul(d as u64))
    };
    let input_bytes = bytes(&[batch, 3, input.h, input.w], 4);
    if input_bytes > max_binding {
        return Err(Error::Limit {
            limit: "max_storage_buffer_binding_size",
            what: format!("the input batch {batch}x3x{}x{}", input.h, input.w),
            needed: input_bytes,
            allowed: max_binding,
        });
    }
    for (t, s) in graph.tensors.iter().enumerate() {
        let bytes = bytes(&[batch, s.h, s.w, s.c.div_ceil(4)], storage.bytes_per_4());
        if t != graph.output && bytes > max_binding {
            return Err(Error::Limit {
                limit: "max_storage_buffer_binding_size",
                what: format!("batch {batch} of a {}x{}x{} activation", s.h, s.w, s.c),
                needed: bytes,
                allowed: max_binding,
            });
        }
    }
    // The logits are f32 whatever the storage, one row of `classes` per image.
    let logits_bytes = bytes(&[batch, graph.classes], 4);
    if logits_bytes > max_binding {
        return Err(Error::Limit {
            limit: "max_storage_buffer_binding_size",
            what: format!("the logits of batch {batch} x {} classes", graph.classes),
            needed: logits_bytes,
            allowed: max_binding,
        });
    }
    let head_wg = head::workgroup_bytes(graph.features);
    if head_wg > limits.max_compute_workgroup_storage_size as u64 {
        return Err(Error::Limit {
            limit: "max_compute_workgroup_storage_size",
            what: format!("the head's {} pooled features", graph.features),
            needed: head_wg,
            allowed: limits.max_compute_workgroup_storage_size as u64,
        });
    }
    Ok(())
}

/// What a dispatch binds after its uniform, in binding order from 1.
enum Bound {
    Buffer(wgpu::Buffer),
    Texture(wgpu::TextureView),
}

impl Bound {
    fn entry(&self, binding: u32) -> wgpu::BindGroupEntry<'_> {
        let resource = match self {
            Bound::Buffer(b) => b.as_entire_binding(),
            Bound::Texture(v) => wgpu::BindingResource::TextureView(v),
        };
        wgpu::BindGroupEntry { binding, resource }
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
        let limits = &ctx.limits;
        check_limits(&graph, batch, storage, limits)?;
        let tensor_bytes = |t: TensorId| {
            let s = graph.tensors[t];
            (batch * s.h * s.w * s.c.div_ceil(4)) as u64 * storage.bytes_per_4()
        };
        let max_groups = limits.max_compute_workgroups_per_dimension;
        let align = limits.min_uniform_buffer_offset_alignment.max(16) as u64;

        ctx.scoped("plan compilation", || {
            let device = &ctx.device;
            let (slot_of, slot_size) = assign_slots(&graph, tensor_bytes);
            let slots: Vec<wgpu::Buffer> = slot_size
                .iter()
                .enumerate()
                .map(|(i, &size)| {
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(&format!("activation slot {i}")),
                        size: size.max(16),
                        usage: wgpu::BufferUsages::STORAGE,
                        mapped_at_creation: false,
                    })
                })
                .collect();
            let input_bytes = (batch * 3 * h * w * 4) as u64;
            let input = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("input nchw"),
                size: input_bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let logits_bytes = (batch * model.classes * 4) as u64;
            let logits = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("logits"),
                size: logits_bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let logits_readback = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("logits read-back"),
                size: logits_bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let no_residual = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("no residual"),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });

            // Every dispatch's uniform lives in one buffer, at aligned offsets.
            let mut uniform_bytes: Vec<u8> = Vec::new();
            // Each dispatch's parameters start at a multiple of `align` (the buffer's length
            // always is one), whatever their size.
            let mut push_uniform = |data: &[u8]| -> u64 {
                let offset = uniform_bytes.len() as u64;
                uniform_bytes.extend_from_slice(data);
                uniform_bytes.resize(
                    (offset + (data.len() as u64).next_multiple_of(align)) as usize,
                    0,
                );
                offset
            };
            struct Pending {
                label: String,
                family: &'static str,
                shape: String,
                flops: u64,
                kernel: std::sync::Arc<Kernel>,
                uniform_offset: u64,
                uniform_size: u64,
                bound: Vec<Bound>,
                groups: (u32, u32, u32),
            }
            let mut pending: Vec<Pending> = Vec::new();
            let groups_for = |n: u32| -> Result<(u32, u32, u32)> {
                let g = kernels::grid(n, max_groups);
                if g.1 > max_groups {
                    return Err(Error::Limit {
                        limit: "max_compute_workgroups_per_dimension",
                        what: format!("a dispatch of {n} workgroups"),
                        needed: n as u64,
                        allowed: (max_groups as u64) * (max_groups as u64),
                    });
                }
                Ok(g)
            };

            // 1. NCHW input -> channels-last.
            let pixels = (batch * h * w) as u32;
            let params = preprocess::LayoutParams {
                h: h as u32,
                w: w as u32,
                total: pixels,
                _pad: 0,
            };
            pending.push(Pending {
                label: "input layout".into(),
                family: "preprocess",
                shape: format!("{batch}x3x{h}x{w} -> nhwc4"),
                flops: 0,
                kernel: model.pipelines.get(device, &preprocess::from_nchw(storage)),
                uniform_offset: push_uniform(bytemuck::bytes_of(&params)),
                uniform_size: std::mem::size_of_val(&params) as u64,
                bound: vec![
                    Bound::Buffer(input.clone()),
                    Bound::Buffer(slots[slot_of[graph.input]].clone()),
                ],
                groups: groups_for(pixels.div_ceil(preprocess::WORKGROUP))?,
            });

            for op in &graph.ops {
                match *op {
                    Op::Conv {
                        conv: ci,
                        input: src,
                        residual,
                        relu,
                        output,
                    } => {
                        let layer = &graph.convs[ci];
                        let (si, so) = (graph.tensors[src], graph.tensors[output]);
                        let tile = conv::Tile::for_layer(
                            layer.cout,
                            ctx.info.device_type,
                            ctx.fixed_subgroup_size(),
                        );
                        let variant = conv::ConvVariant::of(layer, tile);
                        let (weights, fold) = &model.conv_weights[ci];
                        let mut params = conv::ConvParams::new(
                            layer,
                            batch,
                            (si.h, si.w),
                            residual.is_some(),
                            relu,
                            *fold,
                        );
                        params.lanes_m = variant.lanes_along_m(
                            &params,
                            ctx.lane_group_size(),
                            ctx.concurrent_workgroups(),
                        );
                        let res_buf = residual
                            .map(|r| slots[slot_of[r]].clone())
                            .unwrap_or_else(|| no_residual.clone());
                        pending.push(Pending {
                            label: layer.name.clone(),
                            family: "conv",
                            shape: format!(
                                "{k}x{k}/{s}{pool} {}->{} {}x{}{res}",
                                layer.cin,
                                layer.cout,
                                so.h,
                                so.w,
                                k = layer.kernel,
                                s = layer.stride,
                                pool = if layer.avg_pool_input {
                                    " avgpool2"
                                } else {
                                    ""
                                },
                                res = if residual.is_some() { " +res" } else { "" },
                            ),
                            flops: 2 * batch as u64 * graph.op_macs(op),
                            kernel: model
                                .pipelines
                                .get(device, &variant.specialization(storage)),
                            uniform_offset: push_uniform(bytemuck::bytes_of(&params)),
                            uniform_size: std::mem::size_of_val(&params) as u64,
                            bound: vec![
                                Bound::Buffer(slots[slot_of[src]].clone()),
                                Bound::Texture(weights.clone()),
                                Bound::Buffer(res_buf),
                                Bound::Buffer(slots[slot_of[output]].clone()),
                            ],
                            groups: {
                                let (x, y) = variant.workgroups(&params);
                                if x > max_groups || y > max_groups {
                                    return Err(Error::Limit {
                                        limit: "max_compute_workgroups_per_dimension",
                                        what: format!("conv `{}` at batch {batch}", layer.name),
                                        needed: x.max(y) as u64,
                                        allowed: max_groups as u64,
                                    });
                                }
                                (x, y, 1)
                            },
                        });
                    }
                    Op::MaxPool { input: src, output } => {
                        let (si, so) = (graph.tensors[src], graph.tensors[output]);
                        let c4 = si.c.div_ceil(4) as u32;
                        let total = (batch * so.h * so.w) as u32 * c4;
                        let params = pool::PoolParams {
                            in_h: si.h as u32,
                            in_w: si.w as u32,
                            c4,
                            out_h: so.h as u32,
                            out_w: so.w as u32,
                            total,
                            _pad: [0; 2],
                        };
                        pending.push(Pending {
                            label: "max_pool".into(),
                            family: "pool",
                            shape: format!("3x3/2 {} {}x{}", si.c, so.h, so.w),
                            flops: 0,
                            kernel: model.pipelines.get(device, &pool::max_pool_3x3s2(storage)),
                            uniform_offset: push_uniform(bytemuck::bytes_of(&params)),
                            uniform_size: std::mem::size_of_val(&params) as u64,
                            bound: vec![
                                Bound::Buffer(slots[slot_of[src]].clone()),
                                Bound::Buffer(slots[slot_of[output]].clone()),
                            ],
                            groups: groups_for(total.div_ceil(pool::WORKGROUP))?,
                        });
                    }
                    Op::Head { input: src, .. } => {
                        let si = graph.tensors[src];
                        let classes4 = model.classes.div_ceil(4) as u32;
                        let params = head::HeadParams {
                            hw: (si.h * si.w) as u32,
                            c4: si.c.div_ceil(4) as u32,
                            classes4,
                            classes: model.classes as u32,
                            bias_offset: head::bias_offset4(graph.features, model.classes),
                            _pad: [0; 3],
                        };
                        let x_groups = classes4.div_ceil(head::WORKGROUP);
                        if batch as u32 > max_groups {
                            return Err(Error::Limit {
                                limit: "max_compute_workgroups_per_dimension",
                                what: format!("the head's batch of {batch}"),
                                needed: batch as u64,
                                allowed: max_groups as u64,
                            });
                        }
                        pending.push(Pending {
                            label: "head".into(),
                            family: "head",
                            shape: format!(
                                "avgpool {}x{} + fc {}->{}",
                                si.h, si.w, si.c, model.classes
                            ),
                            flops: 2 * batch as u64 * graph.op_macs(op),
                            kernel: model
                                .pipelines
                                .get(device, &head::specialization(storage, graph.features)),
                            uniform_offset: push_uniform(bytemuck::bytes_of(&params)),
                            uniform_size: std::mem::size_of_val(&params) as u64,
                            bound: vec![
                                Bound::Buffer(slots[slot_of[src]].clone()),
                                Bound::Buffer(model.head_weights.clone()),
                                Bound::Buffer(logits.clone()),
                            ],
                            groups: (x_groups, batch as u32, 1),
                        });
                    }
                }
            }

            let uniforms = {
                use wgpu::util::DeviceExt;
                device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("dispatch parameters"),
                    contents: &uniform_bytes,
                    usage: wgpu::BufferUsages::UNIFORM,
                })
            };
            let dispatches: Vec<Dispatch> = pending
                .into_iter()
                .map(|p| {
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &uniforms,
                            offset: p.uniform_offset,
                            size: std::num::NonZeroU64::new(p.uniform_size),
                        }),
                    }];
                    entries.extend(
                        p.bound
                            .iter()
                            .enumerate()
                            .map(|(i, b)| b.entry(i as u32 + 1)),
                    );
                    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(&p.label),
                        layout: &p.kernel.layout,
                        entries: &entries,
                    });
                    Dispatch {
                        label: p.label,
                        family: p.family,
                        shape: p.shape,
                        flops: p.flops,
                        kernel: p.kernel,
                        bind_group,
                        groups: p.groups,
                    }
                })
                .collect();

            let timestamps = if ctx.has(wgpu::Features::TIMESTAMP_QUERY) {
                let per_dispatch =
                    profile && ctx.has(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);
                let count = if per_dispatch {
                    2 * dispatches.len() as u32
                } else {
                    2
                };
                let set = device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("plan timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count,
                });
                let size = count as u64 * 8;
                let resolve = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamps"),
                    size,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                });
                let readback = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamps read-back"),
                    size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                Some(Timestamps {
                    set,
                    resolve,
                    readback,
                    count,
                    per_dispatch,
                    period_ns: ctx.queue.get_timestamp_period() as f64,
                })
            } else {
                None
            };

            Ok(Plan {
                ctx: ctx.clone(),
                batch,
                height: h,
                width: w,
                classes: model.classes,
                activation_bytes: slot_size.iter().sum(),
                activation_slots: slot_size.len(),
                weight_bytes: model.weight_bytes,
                graph: graph.clone(),
                dispatches,
                input,
                logits,
                logits_readback,
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

    pub fn has_gpu_timer(&self) -> bool {
        self.timestamps.is_some()
    }

    pub fn input_len(&self) -> usize {
        self.batch * 3 * self.height * self.width
    }

    /// Run on an already-normalised NCHW f32 batch; returns logits `[batch][classes]`.
    pub fn run(&self, input_nchw: &[f32]) -> Result<Vec<f32>> {
        self.run_timed(input_nchw).map(|(logits, _)| logits)
    }

    /// Run and also return GPU timings where the adapter can measure them.
    pub fn run_timed(&self, input_nchw: &[f32]) -> Result<(Vec<f32>, RunTiming)> {
        if input_nchw.len() != self.input_len() {
            return Err(Error::Input(format!(
                "input has {} values; the plan expects [{}, 3, {}, {}] = {}",
                input_nchw.len(),
                self.batch,
                self.height,
                self.width,
                self.input_len()
            )));
        }
        if self.check_finite {
            crate::finite::check_input(input_nchw, "the input batch")?;
        }
        self.ctx
            .queue
            .write_buffer(&self.input, 0, bytemuck::cast_slice(input_nchw));
        let (logits, timing) = self.run_prepared(|_, _| {})?;
        if self.check_finite {
            crate::finite::check_logits(&logits, self.storage)?;
        }
        Ok((logits, timing))
    }

    /// The plan's input buffer: float32 NCHW `[batch, 3, height, width]`, STORAGE | COPY_DST.
    /// A preprocessing kernel can write it directly (see `run_prepared`).
    pub fn input_buffer(&self) -> &wgpu::Buffer {
        &self.input
    }

    /// Run with `prepare` recording commands that fill the input buffer (e.g. a GPU
    /// preprocessing dispatch) into the same encoder, before the plan's pass: still one submit.
    pub fn run_prepared(
        &self,
        prepare: impl FnOnce(&mut wgpu::CommandEncoder, &wgpu::Buffer),
    ) -> Result<(Vec<f32>, RunTiming)> {
        self.submit_with(prepare, |_, _| {})?.wait()
    }

    /// Submit a run and return at once: `prepare` records the dispatches that fill the input
    /// buffer at the start of the plan's own compute pass (so the pass's GPU time includes
    /// them, when the plan times whole passes). The `PendingRun` gives the logits when they are
    /// back. One run at a time per plan: a second submission (or `run`) while one is in flight
    /// is an error; take or drop the first.
    pub fn submit_prepared(
        &self,
        prepare: impl FnOnce(&mut wgpu::ComputePass<'_>, &wgpu::Buffer),
    ) -> Result<PendingRun> {
        self.submit_with(|_, _| {}, prepare)
    }

    /// Whether a submitted run's result is still outstanding.
    pub fn in_flight(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    fn submit_with(
        &self,
        before_pass: impl FnOnce(&mut wgpu::CommandEncoder, &wgpu::Buffer),
        in_pass: impl FnOnce(&mut wgpu::ComputePass<'_>, &wgpu::Buffer),
    ) -> Result<PendingRun> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err(Error::Input(format!(
                "this plan (batch {}, {}x{}) already has a run in flight; take its result \
                 (PendingRun::try_take or wait) or drop it before submitting another",
                self.batch, self.height, self.width
            )));
        }
        let ctx = &self.ctx;
        // Whether a PendingRun was made: dropped on an error, it frees the plan itself.
        let mut made = false;
        let submitted = ctx.scoped("inference", || {
            let mut encoder = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("inference"),
                });
            before_pass(&mut encoder, &self.input);
            {
                let ts = self.timestamps.as_ref();
                let pass_writes =
                    ts.filter(|t| !t.per_dispatch)
                        .map(|t| wgpu::ComputePassTimestampWrites {
                            query_set: &t.set,
                            beginning_of_pass_write_index: Some(0),
                            end_of_pass_write_index: Some(1),
                        });
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("resnet"),
                    timestamp_writes: pass_writes,
                });
                in_pass(&mut pass, &self.input);
                let per_dispatch = ts.filter(|t| t.per_dispatch);
                for (i, d) in self.dispatches.iter().enumerate() {
                    if let Some(t) = per_dispatch {
                        pass.write_timestamp(&t.set, 2 * i as u32);
                    }
                    pass.set_pipeline(&d.kernel.pipeline);
                    pass.set_bind_group(0, &d.bind_group, &[]);
                    pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
                    if let Some(t) = per_dispatch {
                        pass.write_timestamp(&t.set, 2 * i as u32 + 1);
                    }
                }
            }
            encoder.copy_buffer_to_buffer(
                &self.logits,
                0,
                &self.logits_readback,
                0,
                self.logits.size(),
            );
            if let Some(t) = &self.timestamps {
                encoder.resolve_query_set(&t.set, 0..t.count, &t.resolve, 0);
                encoder.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, t.resolve.size());
            }
            let submission = ctx.queue.submit([encoder.finish()]);
            let mut readbacks = vec![&self.logits_readback];
            readbacks.extend(self.timestamps.as_ref().map(|t| &t.readback));
            made = true;
            Ok(PendingRun {
                maps: PendingMaps::start(ctx, submission, &readbacks),
                timestamps: self
                    .timestamps
                    .as_ref()
                    .map(|t| (t.per_dispatch, t.period_ns)),
                busy: Some(Arc::clone(&self.busy)),
            })
        });
        if submitted.is_err() && !made {
            self.busy.store(false, Ordering::Release);
        }
        submitted
    }

    /// Wall seconds of dispatch `index` alone, recorded `repeats` times in one pass over the
    /// buffers the last run left: a kernel timed in isolation (`cargo bench --bench kernels`),
    /// on any adapter, timestamps or not.
    pub fn time_dispatch(&self, index: usize, repeats: u32) -> Result<f64> {
        let d = self.dispatches.get(index).ok_or_else(|| {
            Error::Input(format!(
                "dispatch {index} does not exist; the plan has {}",
                self.dispatches.len()
            ))
        })?;
        let ctx = &self.ctx;
        ctx.scoped("dispatch timing", || {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&d.kernel.pipeline);
                pass.set_bind_group(0, &d.bind_group, &[]);
                for _ in 0..repeats.max(1) {
                    pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
                }
            }
            let start = std::time::Instant::now();
            ctx.queue.submit([encoder.finish()]);
            ctx.wait()?;
            Ok(start.elapsed().as_secs_f64())
        })
    }
}
