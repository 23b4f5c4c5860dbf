//! `gpu-resnet serve`'s arguments, and what they say about each served model.

use std::path::{Path, PathBuf};

use clap::Args;

use super::checked::RequestLimits;
use crate::error::{Error, Result};
use crate::gpu::BackendChoice;
use crate::model::{F16Mode, Precision};
use crate::open::WeightsSource;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// `[NAME=]PATH`, repeatable: a model to serve, opened as `infer` opens it: a Paddle
    /// inference model (its directory, PIR or ProgramDesc, or its inference.json /
    /// inference.pdmodel), an ONNX file, a .pdparams/.safetensors checkpoint, or a registered
    /// name fetched into the cache. The architecture, class count, input name and size are
    /// recognised from the file (printed as "recognised ..."); an inference.yml beside it gives
    /// the `image` input its preprocessing and the classification extension its labels. NAME is
    /// the model's name in URLs (default: the recognised release name). Omitted: one model of
    /// --model with synthetic weights.
    #[arg(long, value_name = "[NAME=]PATH")]
    pub weights: Vec<String>,
    /// A model name (see `gpu-resnet models`): needed for synthetic weights; with --weights,
    /// optional, and the file must agree with it.
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
    /// Batch sizes to compile plans for. The worker runs the queued rows in the cheapest
    /// combination of them by measured cost (splitting, or padding up to a larger one); more
    /// sizes mean less padding, at one activation arena (printed at warm-up) each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub batch: Vec<usize>,
    /// Most extra wait, in µs, the oldest queued row may see while a free worker waits for rows
    /// on their way (counted from when the worker became free or the row arrived).
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
    /// Input height and width of the served plans (default: the size the model file declares,
    /// else the release's crop, e.g. 224).
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

/// One model to serve, before its weights are read.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// The name given (NAME=, or --name for a single model); None: the recognised release's.
    pub name: Option<String>,
    pub source: WeightsSource,
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

    /// The models to serve, in the order given (their weights not read yet).
    pub fn entries(&self) -> Result<Vec<ModelEntry>> {
        if self.weights.is_empty() {
            if self.model.is_none() {
                return Err(Error::Input(
                    "serve needs --weights [NAME=]PATH, or --model NAME for synthetic weights"
                        .into(),
                ));
            }
            return Ok(vec![ModelEntry {
                name: self.name.clone(),
                source: WeightsSource::Synthetic {
                    classes: self.classes,
                    seed: 0,
                },
            }]);
        }
        self.weights
            .iter()
            .map(|w| {
                let (name, path) = match w.split_once('=') {
                    Some((n, p)) if !n.is_empty() && !Path::new(w).exists() => {
                        (Some(n.to_string()), PathBuf::from(p))
                    }
                    _ => (None, PathBuf::from(w)),
                };
                let name = name.or_else(|| {
                    (self.weights.len() == 1)
                        .then(|| self.name.clone())
                        .flatten()
                });
                let path = crate::app::fetch::resolve_weights(&path, self.cache_dir.as_deref())?;
                Ok(ModelEntry {
                    name,
                    source: WeightsSource::Path(path),
                })
            })
            .collect()
    }
}

/// A served name must be usable in a URL path and name one model.
pub fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if seen.contains(&name) {
            return Err(Error::Input(format!(
                "two models are named `{name}`; give them names with --weights NAME=PATH"
            )));
        }
        if name.is_empty() || name.contains('/') {
            return Err(Error::Input(format!(
                "model name `{name}` must be non-empty and without '/'"
            )));
        }
        seen.push(name);
    }
    Ok(())
}
