//! A GPU worker: one thread per model and adapter that owns the device, the model and one plan
//! per batch size (a plan takes one run at a time, and this thread is its only user). It times
//! each plan at warm-up and after every run (`policy::MeasuredCosts`), takes batches from the
//! model's queue as the batching policy decides on those costs, runs each in the plan chosen
//! (padding the rest) and hands every row back to its request. GPU waits block this thread only, never the async
//! runtime.

use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::preprocess::{ImagePreprocessor, PreparedImage};
use crate::model::Model;
use crate::plan::Plan;
use crate::preprocess::PreprocessConfig;

use super::metrics::ModelMetrics;
use super::policy::{CostModel, MeasuredCosts};
use super::protocol::ApiError;
use super::queue::{Queue, Rows, Slice};

pub struct Worker {
    pub name: String,
    model: Model,
    /// Ascending batch sizes.
    plans: Vec<Plan>,
    preprocessor: ImagePreprocessor,
    /// Each plan's time per run, measured.
    costs: MeasuredCosts,
}

/// What a worker reports once it is warm.
pub struct WorkerInfo {
    pub device: String,
    /// The largest RGBA8 image (bytes) the device takes as one binding.
    pub max_image_bytes: u64,
    pub gpu_timer: bool,
    /// Each plan's batch, warm-up time (ms) and activation memory (bytes).
    pub plans: Vec<(usize, f64, u64)>,
}

impl Worker {
    /// Compile a plan per batch size and run each once (pipelines, first-use costs), so the
    /// first request is served at full speed.
    pub fn warm(
        name: String,
        model: Model,
        batches: &[usize],
        size: (usize, usize),
        preprocess: PreprocessConfig,
    ) -> Result<(Worker, WorkerInfo)> {
        let ctx = model.ctx.clone();
        let plans = batches
            .iter()
            .map(|&b| model.plan(b, size.0, size.1))
            .collect::<Result<Vec<_>>>()?;
        // The first run pays one-time costs; the best of the next two is the plan's time (one
        // run alone is at the mercy of a load spike on a shared machine).
        let mut measured = Vec::new();
        for plan in &plans {
            let input = vec![0.0; plan.input_len()];
            plan.run(&input)?;
            let mut best = f64::INFINITY;
            for _ in 0..2 {
                let start = Instant::now();
                plan.run(&input)?;
                best = best.min(start.elapsed().as_secs_f64() * 1e6);
            }
            measured.push(best);
        }
        let costs = MeasuredCosts::new(batches.to_vec(), measured);
        let preprocessor = ImagePreprocessor::new(&ctx, &model.ctx.pipelines, preprocess)?;
        let info = WorkerInfo {
            device: ctx.describe(),
            max_image_bytes: ctx
                .limits
                .max_storage_buffer_binding_size
                .min(ctx.limits.max_buffer_size),
            gpu_timer: plans.iter().all(Plan::has_gpu_timer),
            plans: plans
                .iter()
                .map(|p| (p.batch, costs.cost_us(p.batch) / 1e3, p.activation_bytes))
                .collect(),
        };
        Ok((
            Worker {
                name,
                model,
                plans,
                preprocessor,
                costs,
            },
            info,
        ))
    }

    /// Serve batches until the queue is drained and closed, or the device is lost.
    pub fn run(mut self, queue: Arc<Queue>, metrics: Arc<ModelMetrics>) {
        let mut free_since = Instant::now();
        while let Some((slices, plan)) = queue.take(&self.costs, free_since) {
            let rows: usize = slices.iter().map(|s| s.range.len()).sum();
            let start = Instant::now();
            for s in &slices {
                s.job.started(start);
            }
            let result = self.run_batch(&slices, rows, plan);
            free_since = Instant::now();
            match result {
                Ok((plan_batch, logits, gpu_ms)) => {
                    let wall_us = start.elapsed().as_micros() as u64;
                    self.costs.record(plan_batch, wall_us as f64);
                    let compute_us = gpu_ms.map_or(wall_us, |ms| (ms * 1e3) as u64);
                    ModelMetrics::add(&metrics.exec_count, 1);
                    ModelMetrics::add(&metrics.inference_count, rows as u64);
                    ModelMetrics::add(&metrics.compute_infer_duration_us, compute_us);
                    if std::env::var_os("GPU_RESNET_LOG_BATCHES").is_some() {
                        eprintln!(
                            "{{\"level\":\"debug\",\"event\":\"batch\",\"model\":\"{}\",\"rows\":{rows},\"plan_batch\":{plan_batch},\"requests\":{},\"wall_us\":{wall_us},\"compute_us\":{compute_us}}}",
                            self.name,
                            slices.len()
                        );
                    }
                    self.deliver(&slices, &logits, compute_us);
                    queue.answered(rows);
                }
                Err(Error::DeviceLost { adapter, reason }) => {
                    let why = format!("the GPU device `{adapter}` was lost ({reason})");
                    eprintln!("error: model {}: {why}", self.name);
                    for s in &slices {
                        s.job.fail(ApiError::unavailable(why.clone()));
                    }
                    queue.worker_lost(&why);
                    return;
                }
                Err(e) => {
                    for s in &slices {
                        s.job.fail(ApiError::new(500, e.to_string()));
                    }
                }
            }
        }
    }

    /// Hand each slice its rows; an FP16 run whose activations left f16's range fails the
    /// requests it touched rather than answering with NaN logits.
    fn deliver(&self, slices: &[Slice], logits: &[f32], compute_us: u64) {
        let classes = self.model.classes;
        let mut offset = 0;
        for s in slices {
            let n = s.range.len();
            let rows = &logits[offset * classes..(offset + n) * classes];
            offset += n;
            let bad = rows.iter().filter(|v| !v.is_finite()).count();
            if bad > 0 && !s.job.allow_non_finite {
                let hint = if self.model.storage == crate::kernels::Storage::F32 {
                    "the input or the weights produce values beyond f32's range".to_string()
                } else {
                    format!(
                        "the {} activations left f16's range (|x| > 65504); serve this model \
                         with --precision f32",
                        self.model.storage.name()
                    )
                };
                s.job.fail(ApiError::new(
                    500,
                    format!("{bad} non-finite logit(s) in this request's rows: {hint}"),
                ));
                continue;
            }
            s.job.deliver(s.range.clone(), rows, compute_us);
        }
    }

    /// Fill the plan of `plan` rows (tensor rows written, images preprocessed on the GPU,
    /// padding zeroed) and run it: (plan batch, logits of the real rows, GPU ms).
    fn run_batch(
        &self,
        slices: &[Slice],
        rows: usize,
        plan: usize,
    ) -> Result<(usize, Vec<f32>, Option<f64>)> {
        let plan = self
            .plans
            .iter()
            .find(|p| p.batch == plan && p.batch >= rows)
            .ok_or_else(|| Error::Input(format!("no plan of {plan} rows for {rows} rows")))?;
        let ctx: &GpuContext = &self.model.ctx;
        ctx.ensure_alive()?;
        let row_len = 3 * plan.height * plan.width;
        let input = plan.input_buffer();
        let prepared: Vec<PreparedImage> = ctx.scoped("request upload", || {
            let mut prepared = Vec::new();
            let mut row = 0;
            for s in slices {
                match &s.job.rows {
                    Rows::Tensor(values) => {
                        let part = &values[s.range.start * row_len..s.range.end * row_len];
                        let offset = (row * row_len * 4) as u64;
                        ctx.queue
                            .write_buffer(input, offset, bytemuck::cast_slice(part));
                    }
                    Rows::Images(images) => {
                        for (i, image) in images[s.range.clone()].iter().enumerate() {
                            prepared.push(self.preprocessor.prepare(ctx, image, input, row + i)?);
                        }
                    }
                }
                row += s.range.len();
            }
            if plan.batch > rows {
                let zeros = vec![0u8; (plan.batch - rows) * row_len * 4];
                ctx.queue
                    .write_buffer(input, (rows * row_len * 4) as u64, &zeros);
            }
            Ok(prepared)
        })?;
        let (mut logits, timing) =
            plan.run_prepared(|encoder, _| self.preprocessor.record(encoder, &prepared))?;
        logits.truncate(rows * self.model.classes);
        Ok((plan.batch, logits, timing.gpu_ms))
    }
}
