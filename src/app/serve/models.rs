//! The served models: each with its metadata, queue, metrics and GPU workers (started, loaded and
//! warmed on their own threads).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::gpu::{list_adapters, ContextOptions, GpuContext};
use crate::model::{choose_storage, Model};
use crate::open::{load_weights, LoadedWeights, WeightsSource};
use crate::preprocess::PreprocessConfig;

use super::config::{check_names, AdapterChoice, ModelEntry, ServeArgs};
use super::metrics::ModelMetrics;
use super::protocol::{InputSpec, TENSOR_INPUT};
use super::queue::Queue;
use super::worker::Worker;

pub const VERSION: &str = "1";

pub struct ServedModel {
    pub name: String,
    /// The architecture / release behind it, e.g. ResNet50_vd.
    pub arch_name: String,
    /// What its file was recognised as, e.g. `ResNet18_vd (1000 classes, input x [N,3,224,224])`.
    pub summary: String,
    /// Class names from the model's inference.yml.
    pub labels: Option<Arc<Vec<String>>>,
    pub input: InputSpec,
    pub batches: Vec<usize>,
    pub preprocess: PreprocessConfig,
    pub queue: Arc<Queue>,
    pub metrics: Arc<ModelMetrics>,
    /// Every worker compiled and ran its plans once.
    warm: AtomicBool,
    /// Smallest of the workers' single-binding limits for an image's RGBA8 pixels.
    pub max_image_bytes: AtomicU64,
    pub precision: String,
}

impl ServedModel {
    pub fn ready(&self) -> bool {
        self.warm.load(Ordering::Acquire) && self.queue.alive()
    }

    pub fn largest_batch(&self) -> usize {
        *self.batches.last().unwrap_or(&1)
    }
}

/// The preprocessing at `size`: the model's own (inference.yml's, else its release's), its
/// resize ratio kept when the served size differs from its crop (256/224).
fn preprocess_at(base: PreprocessConfig, size: usize) -> PreprocessConfig {
    if base.crop as usize == size {
        return base;
    }
    let resize = (base.resize_short as u64 * size as u64)
        .div_ceil(base.crop.max(1) as u64)
        .max(size as u64);
    PreprocessConfig {
        resize_short: resize as u32,
        crop: size as u32,
        ..base
    }
}

/// A model's weights read through the library's one loader (`open::load_weights`, as `infer`
/// reads them), with its served name.
fn load(entry: &ModelEntry, args: &ServeArgs) -> Result<(String, LoadedWeights)> {
    let loaded = load_weights(&entry.source, args.model.as_deref())?;
    let name = entry
        .name
        .clone()
        .unwrap_or_else(|| loaded.spec.name.clone());
    if !matches!(entry.source, WeightsSource::Synthetic { .. }) {
        eprintln!("recognised {} as model `{name}`", loaded.summary());
    }
    Ok((name, loaded))
}

fn contexts(args: &ServeArgs) -> Result<Vec<ContextOptions>> {
    let one = |adapter| ContextOptions {
        backend: args.backend,
        adapter,
    };
    Ok(match args.adapters()? {
        AdapterChoice::Default => vec![one(None)],
        AdapterChoice::Index(i) => vec![one(Some(i))],
        AdapterChoice::All => {
            let n = list_adapters(args.backend).len();
            if n == 0 {
                return Err(Error::NoAdapter {
                    detail: format!(" for backend {:?}", args.backend),
                });
            }
            (0..n).map(|i| one(Some(i))).collect()
        }
    })
}

/// The served models and their worker threads.
pub type Started = (Vec<Arc<ServedModel>>, Vec<JoinHandle<()>>);

/// Load every model, start a worker per model and adapter, and wait until each has compiled
/// and run its plans once. Returns the models and the worker threads (they end once their
/// queue is drained).
pub fn start(args: &ServeArgs) -> Result<Started> {
    let batches = args.batches()?;
    let devices = contexts(args)?;
    let mut served = Vec::new();
    let mut threads = Vec::new();
    let loaded = args
        .entries()?
        .iter()
        .map(|e| load(e, args))
        .collect::<Result<Vec<_>>>()?;
    check_names(loaded.iter().map(|(name, _)| name.as_str()))?;
    for (name, loaded) in loaded {
        let size = args.size.unwrap_or(loaded.spec.crop as usize);
        let preprocess = preprocess_at(loaded.preprocess(), size);
        let (labels, summary) = (loaded.labels().map(Arc::new), loaded.summary());
        let tensor_name = loaded
            .info
            .as_ref()
            .and_then(|i| i.input_name.clone())
            .unwrap_or_else(|| TENSOR_INPUT.to_string());
        let spec = loaded.spec;
        let weights = Arc::new(loaded.weights);
        let metrics = Arc::new(ModelMetrics::default());
        let queue = Arc::new(Queue::new(
            args.max_queue.max(1),
            Duration::from_micros(args.max_queue_delay_us),
            devices.len(),
            metrics.clone(),
        ));
        let model = Arc::new(ServedModel {
            name: name.clone(),
            arch_name: spec.name.clone(),
            summary,
            labels,
            input: InputSpec {
                tensor_name,
                height: size,
                width: size,
                classes: weights.classes,
            },
            batches: batches.clone(),
            preprocess,
            queue: queue.clone(),
            metrics: metrics.clone(),
            warm: AtomicBool::new(false),
            max_image_bytes: AtomicU64::new(u64::MAX),
            precision: format!("{:?}", args.precision).to_lowercase(),
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        for options in &devices {
            let (options, weights, batches) = (*options, weights.clone(), batches.clone());
            let (queue, metrics, ready_tx) = (queue.clone(), metrics.clone(), ready_tx.clone());
            let (name, precision, f16_mode) = (name.clone(), args.precision, args.f16_mode);
            let thread = std::thread::Builder::new()
                .name(format!("gpu-{name}"))
                .spawn(move || {
                    let warmed = GpuContext::new(options).and_then(|ctx| {
                        let storage = choose_storage(&ctx, precision, f16_mode)?;
                        let model = Model::new(&ctx, &weights, storage)?;
                        drop(weights);
                        Worker::warm(name, model, &batches, (size, size), preprocess)
                    });
                    match warmed {
                        Ok((worker, info)) => {
                            let _ = ready_tx.send(Ok(info));
                            worker.run(queue, metrics);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                })
                .map_err(|e| Error::Input(format!("cannot start a GPU worker thread: {e}")))?;
            threads.push(thread);
        }
        drop(ready_tx);
        for _ in &devices {
            let info = ready_rx
                .recv()
                .map_err(|_| Error::Input(format!("the GPU worker of `{name}` stopped")))??;
            model
                .max_image_bytes
                .fetch_min(info.max_image_bytes, Ordering::Relaxed);
            eprintln!(
                "model {} ({}, {}x{}) warm on {}: batch: ms per run, MB of activations: {}{}",
                name,
                spec.name,
                size,
                size,
                info.device,
                info.plans
                    .iter()
                    .map(|(b, ms, bytes)| format!(
                        "{b}: {ms:.1} ms {:.1} MB",
                        *bytes as f64 / 1048576.0
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                if info.gpu_timer {
                    ""
                } else {
                    " (no GPU timestamps: compute times are wall times)"
                }
            );
        }
        model.warm.store(true, Ordering::Release);
        served.push(model);
    }
    Ok((served, threads))
}
