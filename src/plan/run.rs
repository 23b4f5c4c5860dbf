//! Running a compiled plan: upload, one compute pass, one submit, one read-back; the
//! non-blocking `PendingRun`; GPU timings from timestamp queries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::Plan;
use crate::error::{Error, Result};
use crate::gpu::{readback::PendingMaps, GpuContext};

/// Timings of one run, when the adapter has timestamp queries.
#[derive(Clone, Debug, Default)]
pub struct RunTiming {
    /// GPU time of the whole pass, in ms.
    pub gpu_ms: Option<f64>,
    /// GPU time per dispatch, in ms (profiling plans on adapters with in-pass timestamps).
    pub dispatch_ms: Option<Vec<f64>>,
}

pub(crate) struct Timestamps {
    pub set: wgpu::QuerySet,
    pub resolve: wgpu::Buffer,
    pub readback: wgpu::Buffer,
    pub count: u32,
    pub per_dispatch: bool,
    pub period_ns: f64,
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

    /// Await the logits: the browser's way (`PendingMaps::ready` says how it waits natively).
    pub async fn wait_async(mut self) -> Result<(Vec<f32>, RunTiming)> {
        self.maps.ready().await?;
        #[cfg(target_arch = "wasm32")]
        self.maps.context().check_reported("inference")?;
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

impl Timestamps {
    /// Queries for the whole pass, or for each of `dispatches` when `per_dispatch`; `None`
    /// where the adapter has no timestamp queries.
    pub fn new(ctx: &GpuContext, dispatches: usize, profile: bool) -> Option<Timestamps> {
        if !ctx.has(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let device = &ctx.device;
        let per_dispatch = profile && ctx.has(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);
        let count = if per_dispatch {
            2 * dispatches as u32
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
    }
}

impl Plan {
    /// Run on an already-normalised NCHW f32 batch; returns logits `[batch][classes]`.
    pub fn run(&self, input_nchw: &[f32]) -> Result<Vec<f32>> {
        self.run_timed(input_nchw).map(|(logits, _)| logits)
    }

    /// Run and also return GPU timings where the adapter can measure them.
    pub fn run_timed(&self, input_nchw: &[f32]) -> Result<(Vec<f32>, RunTiming)> {
        self.write_input(input_nchw)?;
        self.checked(self.run_prepared(|_, _| {})?)
    }

    /// `run_timed` without blocking: awaits the read-back (the browser's way).
    pub async fn run_async(&self, input_nchw: &[f32]) -> Result<(Vec<f32>, RunTiming)> {
        self.write_input(input_nchw)?;
        self.checked(self.submit_with(|_, _| {}, |_, _| {})?.wait_async().await?)
    }

    /// The run's result, its logits checked when the plan checks non-finite values (also what
    /// `Classifier` answers with: NaN scores are never printed as answers).
    pub(crate) fn checked(
        &self,
        (logits, timing): (Vec<f32>, RunTiming),
    ) -> Result<(Vec<f32>, RunTiming)> {
        if self.check_finite {
            crate::finite::check_logits(&logits, self.storage)?;
        }
        Ok((logits, timing))
    }

    fn write_input(&self, input_nchw: &[f32]) -> Result<()> {
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
        Ok(())
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

    /// Submit with `before_pass` recording into the encoder ahead of the plan's pass and
    /// `in_pass` at the start of the pass.
    pub(crate) fn submit_with(
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
            let start = web_time::Instant::now();
            ctx.queue.submit([encoder.finish()]);
            ctx.wait()?;
            Ok(start.elapsed().as_secs_f64())
        })
    }
}

impl Plan {
    /// GPU ms of each dispatch in `indices`, each recorded once in one pass over the buffers
    /// the last run left (the tuner times one layer per distinct shape this way). Timestamps
    /// around each where the adapter has them inside passes; else each dispatch's wall time
    /// alone ([`Plan::time_dispatch`]).
    pub fn time_dispatches(&self, indices: &[usize]) -> Result<Vec<f64>> {
        let ctx = &self.ctx;
        if let Some(i) = indices.iter().find(|&&i| i >= self.dispatches.len()) {
            return Err(Error::Input(format!(
                "dispatch {i} does not exist; the plan has {}",
                self.dispatches.len()
            )));
        }
        let needs = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        if !ctx.has(needs) || indices.is_empty() {
            return indices
                .iter()
                .map(|&i| self.time_dispatch(i, 1).map(|s| s * 1e3))
                .collect();
        }
        let ts = Timestamps::new(ctx, indices.len(), true).expect("timestamps checked above");
        let raw = ctx.scoped("dispatch timing", || {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for (k, &i) in indices.iter().enumerate() {
                    let d = &self.dispatches[i];
                    pass.write_timestamp(&ts.set, 2 * k as u32);
                    pass.set_pipeline(&d.kernel.pipeline);
                    pass.set_bind_group(0, &d.bind_group, &[]);
                    pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
                    pass.write_timestamp(&ts.set, 2 * k as u32 + 1);
                }
            }
            encoder.resolve_query_set(&ts.set, 0..ts.count, &ts.resolve, 0);
            encoder.copy_buffer_to_buffer(&ts.resolve, 0, &ts.readback, 0, ts.resolve.size());
            ctx.queue.submit([encoder.finish()]);
            crate::gpu::readback::read_mapped(ctx, &ts.readback, ts.readback.size())
        })?;
        let raw: Vec<u64> = bytemuck::pod_collect_to_vec(&raw);
        Ok(Timestamps::timing_of(&raw, true, ts.period_ns)
            .dispatch_ms
            .unwrap_or_default())
    }
}
