//! The served models: each with its metadata, queue, metrics and GPU workers (started, loaded and
//! warmed on their own threads).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::gpu::{list_adapters, ContextOptions, GpuContext};
use crate::model::{choose_storage, Model};
use crate::preprocess::PreprocessConfig;
use crate::weights::{self, ModelWeights};

use super::config::{AdapterChoice, ModelEntry, ServeArgs};
use super::metrics::ModelMetrics;
use super::protocol::InputSpec;
use super::queue::Queue;
use super::worker::Worker;

pub const VERSION: &str = "1";

pub struct ServedModel {
    pub name: String,
    /// The architecture / release behind it, e.g. ResNet50_vd.
    pub arch_name: String,
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

/// The preprocessing of a model served at `size`: the release's resize ratio kept (256/224).
fn preprocess_for(entry: &ModelEntry, size: usize) -> PreprocessConfig {
    let spec = &entry.spec;
    let resize = (spec.resize_short as u64 * size as u64)
        .div_ceil(spec.crop as u64)
        .max(size as u64);
    PreprocessConfig::imagenet(resize as u32, size as u32)
}

fn load_weights(entry: &ModelEntry, args: &ServeArgs) -> Result<ModelWeights> {
    match &entry.weights {
        Some(arg) => weights::load_weights(
            &crate::app::fetch::resolve_weights(arg, args.cache_dir.as_deref())?,
            &entry.spec.arch,
        ),
        None => Ok(weights::synthetic_weights(
            &entry.spec.arch,
            args.classes,
            0,
        )),
    }
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
    for entry in args.entries()? {
        let size = args.size.unwrap_or(entry.spec.crop as usize);
        let weights = Arc::new(load_weights(&entry, args)?);
        let metrics = Arc::new(ModelMetrics::default());
        let queue = Arc::new(Queue::new(
            args.max_queue.max(1),
            Duration::from_micros(args.max_queue_delay_us),
            devices.len(),
            metrics.clone(),
        ));
        let preprocess = preprocess_for(&entry, size);
        let model = Arc::new(ServedModel {
            name: entry.name.clone(),
            arch_name: entry.spec.name.clone(),
            input: InputSpec {
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
            let (name, precision, f16_mode) = (entry.name.clone(), args.precision, args.f16_mode);
            let thread = std::thread::Builder::new()
                .name(format!("gpu-{}", entry.name))
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
            let info = ready_rx.recv().map_err(|_| {
                Error::Input(format!("the GPU worker of `{}` stopped", entry.name))
            })??;
            model
                .max_image_bytes
                .fetch_min(info.max_image_bytes, Ordering::Relaxed);
            eprintln!(
                "model {} ({}, {}x{}, batches {:?}) warm on {}{}",
                entry.name,
                entry.spec.name,
                size,
                size,
                batches,
                info.device,
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
