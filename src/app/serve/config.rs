//! `gpu-resnet serve`'s arguments, and what they say about each served model.

use std::path::PathBuf;

use clap::Args;

use super::checked::RequestLimits;
use crate::arch::{self, ModelSpec};
use crate::error::{Error, Result};
use crate::gpu::BackendChoice;
use crate::model::{F16Mode, Precision};

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// `[NAME=]PATH`: a .pdparams/.safetensors file (or a registered name fetched into the
    /// cache) to serve, repeatable. NAME is the model's name in URLs (default: the
    /// release/architecture name). The architecture comes from --model, else from NAME, else
    /// from the file name. Omitted: one model of --model with synthetic weights.
    #[arg(long, value_name = "[NAME=]PATH")]
    pub weights: Vec<String>,
    /// Architecture / release of the weights (see `gpu-resnet models`).
    #[arg(long)]
    pub model: Option<String>,
    /// The served name when there is one model (default: the release/architecture name).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// HTTP/REST port (0: any free port; the bound ports are printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// gRPC port (0: any free port).
    #[arg(long, default_value_t = 8001)]
    pub grpc_port: u16,
    /// Batch sizes to compile plans for; a batch is padded up to the next one.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8")]
    pub batch: Vec<usize>,
    /// Longest time the oldest queued request waits for a fuller batch.
    #[arg(long, default_value_t = 2000)]
    pub max_queue_delay_us: u64,
    /// Requests queued per model before new ones get 503 with Retry-After.
    #[arg(long, default_value_t = 256)]
    pub max_queue: usize,
    /// Per-request limit, queueing included, in ms (504 past it).
    #[arg(long, default_value_t = 60_000)]
    pub timeout_ms: u64,
    /// Largest request body in bytes (413 past it); also gRPC's message limit.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_body: usize,
    /// Most encoded images (the BYTES input `image`) in one request (400 past it).
    #[arg(long, default_value_t = 64)]
    pub max_images: usize,
    /// Pixels of all of one request's images together, read from their headers before any is
    /// decoded (400 past it; 64 Mpx decode to 256 MiB of RGBA8).
    #[arg(long, default_value_t = 1 << 26)]
    pub max_request_pixels: u64,
    /// Input height and width of the served plans (default: the release's crop, e.g. 224).
    #[arg(long)]
    pub size: Option<usize>,
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    #[arg(long, value_enum, default_value_t = F16Mode::Auto)]
    pub f16_mode: F16Mode,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Adapter index (`gpu-resnet adapters`), or `all`: a GPU worker per adapter.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Classes of the synthetic head (only without --weights).
    #[arg(long, default_value_t = 1000)]
    pub classes: usize,
    /// Where `gpu-resnet fetch` keeps downloaded weights.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

/// One model to serve.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub name: String,
    pub spec: ModelSpec,
    /// None: synthetic weights.
    pub weights: Option<PathBuf>,
}

/// Which adapters get a worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AdapterChoice {
    Default,
    Index(usize),
    All,
}

impl ServeArgs {
    pub fn limits(&self) -> RequestLimits {
        RequestLimits {
            max_images: self.max_images,
            max_pixels: self.max_request_pixels,
        }
    }

    pub fn adapters(&self) -> Result<AdapterChoice> {
        match self.adapter.as_deref() {
            None => Ok(AdapterChoice::Default),
            Some("all") => Ok(AdapterChoice::All),
            Some(n) => n.parse().map(AdapterChoice::Index).map_err(|_| {
                Error::Input(format!("--adapter {n}: expected an adapter index or `all`"))
            }),
        }
    }

    /// The batch sizes, sorted and deduplicated.
    pub fn batches(&self) -> Result<Vec<usize>> {
        let mut b = self.batch.clone();
        b.sort_unstable();
        b.dedup();
        if b.is_empty() || b[0] == 0 {
            return Err(Error::Input(
                "--batch needs sizes of at least 1, e.g. 1,4,8".into(),
            ));
        }
        Ok(b)
    }

    /// The models to serve, with their names checked to be distinct.
    pub fn entries(&self) -> Result<Vec<ModelEntry>> {
        let mut entries = Vec::new();
        if self.weights.is_empty() {
            let model = self.model.as_deref().ok_or_else(|| {
                Error::Input(
                    "serve needs --weights [NAME=]PATH, or --model NAME for synthetic weights"
                        .into(),
                )
            })?;
            let spec = arch::resolve(model)?;
            entries.push(ModelEntry {
                name: self.name.clone().unwrap_or_else(|| spec.name.clone()),
                spec,
                weights: None,
            });
        }
        for w in &self.weights {
            let (name, path) = match w.split_once('=') {
                Some((n, p)) if !n.is_empty() => (Some(n.to_string()), PathBuf::from(p)),
                _ => (None, PathBuf::from(w)),
            };
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let spec = match (&self.model, &name) {
                (Some(m), _) => arch::resolve(m)?,
                (None, Some(n)) => arch::resolve(n).or_else(|_| arch::resolve(&stem))?,
                (None, None) => arch::resolve(&stem).map_err(|_| {
                    Error::Input(format!(
                        "--weights {w}: cannot tell the architecture from the file name; add \
                         --model (see `gpu-resnet models`)"
                    ))
                })?,
            };
            let name = name
                .or_else(|| {
                    (self.weights.len() == 1)
                        .then(|| self.name.clone())
                        .flatten()
                })
                .unwrap_or_else(|| spec.name.clone());
            entries.push(ModelEntry {
                name,
                spec,
                weights: Some(path),
            });
        }
        for (i, e) in entries.iter().enumerate() {
            if entries[..i].iter().any(|o| o.name == e.name) {
                return Err(Error::Input(format!(
                    "two models are named `{}`; give them names with --weights NAME=PATH",
                    e.name
                )));
            }
            if e.name.is_empty() || e.name.contains('/') {
                return Err(Error::Input(format!(
                    "model name `{}` must be non-empty and without '/'",
                    e.name
                )));
            }
        }
        Ok(entries)
    }
}
