//! Opening a model: the one way every front end (the CLI's commands, the server, the browser,
//! an embedder) turns "these weights, this precision, on this device" into a [`Model`] or a
//! [`Classifier`]. Weights come from a path (a file or a directory), from bytes (callers with
//! no file system), or are synthetic; the architecture comes from the model name given.

use std::path::{Path, PathBuf};

use crate::arch::{self, ModelSpec};
use crate::classify::Classifier;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::{choose_storage, F16Mode, Model, Precision};
use crate::preprocess::PreprocessConfig;
use crate::weights::{self, ModelWeights};

/// Where a model's weights come from.
#[derive(Clone, Debug)]
pub enum WeightsSource {
    /// A weights file (`.pdparams`, safetensors) or a directory holding one model.
    Path(PathBuf),
    /// One file's bytes; `name` names it in messages.
    Bytes { name: String, bytes: Vec<u8> },
    /// Several files of one model by file name, for callers with no file system (e.g. a
    /// browser handed a Paddle inference model's program and parameters).
    Files(Vec<(String, Vec<u8>)>),
    /// Deterministic synthetic weights (the classes then mean nothing).
    Synthetic { classes: usize, seed: u64 },
}

impl WeightsSource {
    pub fn path(path: impl AsRef<Path>) -> Self {
        WeightsSource::Path(path.as_ref().to_path_buf())
    }

    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            WeightsSource::Path(p) => p.display().to_string(),
            WeightsSource::Bytes { name, .. } => name.clone(),
            WeightsSource::Files(files) => files
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" + "),
            WeightsSource::Synthetic { seed, .. } => format!("synthetic weights (seed {seed})"),
        }
    }
}

/// How to open it.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// A model name (`gpu-resnet models`): the architecture and, for images, the
    /// preprocessing.
    pub model: Option<String>,
    pub precision: Precision,
    pub f16_mode: F16Mode,
}

/// Weights read and checked on the host: nothing on the GPU yet.
#[derive(Clone, Debug)]
pub struct LoadedWeights {
    pub spec: ModelSpec,
    pub weights: ModelWeights,
}

/// A model resident on the GPU with what a front end needs around it.
pub struct Opened {
    pub spec: ModelSpec,
    pub model: Model,
    /// The image preprocessing its release uses.
    pub preprocess: PreprocessConfig,
}

impl Opened {
    /// The model with its image preprocessing.
    pub fn into_classifier(self) -> Result<(ModelSpec, Classifier)> {
        let classifier = Classifier::new(self.model, self.preprocess)?;
        Ok((self.spec, classifier))
    }
}

/// Read `source` and check it against the architecture of `model`.
pub fn load_weights(source: &WeightsSource, model: Option<&str>) -> Result<LoadedWeights> {
    let name = model.ok_or_else(|| {
        Error::Input(format!(
            "{}: a model name is needed to read these weights (--model; `gpu-resnet models` lists them)",
            source.describe()
        ))
    })?;
    let spec = arch::resolve(name)?;
    let weights = match source {
        WeightsSource::Path(path) => weights::load_weights(path, &spec.arch)?,
        WeightsSource::Bytes { name, bytes } => {
            let tensors = weights::parse_tensors(bytes, Path::new(name))?;
            weights::map_weights(&tensors, &spec.arch, name)?
        }
        WeightsSource::Files(files) => {
            return Err(Error::Input(format!(
                "{}: several files make a Paddle inference model, which this build cannot read yet",
                files
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(" + ")
            )))
        }
        WeightsSource::Synthetic { classes, seed } => {
            weights::synthetic_weights(&spec.arch, *classes, *seed)
        }
    };
    Ok(LoadedWeights { spec, weights })
}

/// Read `source`, choose the storage for `options.precision` on `ctx`, and upload the model.
pub fn open_model(
    ctx: &GpuContext,
    source: &WeightsSource,
    options: &OpenOptions,
) -> Result<Opened> {
    let loaded = load_weights(source, options.model.as_deref())?;
    let storage = choose_storage(ctx, options.precision, options.f16_mode)?;
    let model = Model::new(ctx, &loaded.weights, storage)?;
    Ok(Opened {
        preprocess: PreprocessConfig::for_model(&loaded.spec),
        spec: loaded.spec,
        model,
    })
}
