//! Opening a model: the one way every front end (the CLI's commands, the server, the browser,
//! an embedder) turns "these weights, this precision, on this device" into a [`Model`] or a
//! [`Classifier`]. Weights come from a path (a file or a directory), from bytes (callers with
//! no file system), or are synthetic. The architecture is recognised from the weights (a model
//! name, when given, must agree; synthetic weights need one).

use std::path::{Path, PathBuf};

use crate::arch::{self, ModelSpec};
use crate::classify::Classifier;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::{choose_storage, F16Mode, Model, Precision};
use crate::preprocess::PreprocessConfig;
use crate::weights::{self, ModelWeights, SourceInfo};

/// Where a model's weights come from.
#[derive(Clone, Debug)]
pub enum WeightsSource {
    /// A weights file (`.pdparams`, safetensors, ONNX, a Paddle inference program) or a
    /// directory holding a Paddle inference model.
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
    /// What the file said (format, declared input, inference.yml); `None` for synthetic weights.
    pub info: Option<SourceInfo>,
}

impl LoadedWeights {
    /// `ResNet101_vd (102 classes, input x [N,3,224,224])`, for "recognised ..." messages.
    pub fn summary(&self) -> String {
        match &self.info {
            Some(info) => info.summary(&self.weights),
            None => format!(
                "{} ({} classes, synthetic)",
                self.spec.name, self.weights.classes
            ),
        }
    }

    /// The preprocessing: inference.yml's when the model has one, else the release's.
    pub fn preprocess(&self) -> PreprocessConfig {
        match self.info.as_ref().and_then(|i| i.deploy_config.as_ref()) {
            Some(c) => c.preprocess,
            None => PreprocessConfig::for_model(&self.spec),
        }
    }

    /// The input's name in the file; `x` (PaddleClas's) for checkpoints and synthetic weights.
    pub fn input_name(&self) -> String {
        self.info
            .as_ref()
            .and_then(|i| i.input_name.clone())
            .unwrap_or_else(|| "x".into())
    }

    /// inference.yml's label list, when it has one with an entry per class.
    pub fn labels(&self) -> Option<Vec<String>> {
        let labels = self.info.as_ref()?.deploy_config.as_ref()?.labels.clone()?;
        (labels.len() == self.weights.classes).then_some(labels)
    }
}

/// A model resident on the GPU with what a front end needs around it.
pub struct Opened {
    pub spec: ModelSpec,
    pub model: Model,
    /// The image preprocessing: inference.yml's beside a deployment model, else its release's.
    pub preprocess: PreprocessConfig,
    /// Class names from inference.yml, when the model has them.
    pub labels: Option<Vec<String>>,
    /// The input's name in the file (`x` when the file names none).
    pub input_name: String,
    /// `ResNet101_vd (102 classes, input x [N,3,224,224])`.
    pub summary: String,
}

impl Opened {
    /// The model with its image preprocessing.
    pub fn into_classifier(self) -> Result<(ModelSpec, Classifier)> {
        let classifier = Classifier::new(self.model, self.preprocess)?;
        Ok((self.spec, classifier))
    }
}

/// The spec of a recognised architecture: its name, and the declared input size (320 for a
/// Fix_ export) when the file gives one.
fn recognised_spec(weights: &ModelWeights, input_hw: Option<(usize, usize)>) -> Result<ModelSpec> {
    let mut spec = arch::resolve(weights.arch.name)?;
    if let Some((h, _)) = input_hw.filter(|(h, w)| h == w) {
        // Checked, not cast: a size past u32 (or past any image we resize to) would silently
        // change the preprocessing.
        let size = u32::try_from(h)
            .ok()
            .filter(|s| *s <= MAX_DECLARED_INPUT)
            .ok_or_else(|| {
                Error::Input(format!(
                    "{}: the program declares an input of {h}x{h} pixels; at most \
                     {MAX_DECLARED_INPUT} is supported",
                    weights.source
                ))
            })?;
        spec.crop = size;
        spec.resize_short = if size == 224 { 256 } else { size };
    }
    Ok(spec)
}

/// The largest square input a program may declare (what `inference.yml` sizes allow too).
const MAX_DECLARED_INPUT: u32 = 16384;

/// Read `source`, recognising its architecture; `model`, when given, must agree with it
/// (synthetic weights need it).
pub fn load_weights(source: &WeightsSource, model: Option<&str>) -> Result<LoadedWeights> {
    let hint = model.map(arch::resolve).transpose()?;
    let from_file = |s: weights::Source| -> Result<LoadedWeights> {
        let loaded = weights::load(&s, hint.as_ref().map(|h| &h.arch))?;
        let spec = match &hint {
            Some(h) => h.clone(),
            None => recognised_spec(&loaded.weights, loaded.info.input_hw)?,
        };
        Ok(LoadedWeights {
            spec,
            weights: loaded.weights,
            info: Some(loaded.info),
        })
    };
    match source {
        WeightsSource::Path(path) => from_file(weights::Source::Path(path)),
        WeightsSource::Bytes { name, bytes } => from_file(weights::Source::Bytes { name, bytes }),
        WeightsSource::Files(files) => {
            let named: Vec<(&str, &[u8])> = files
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect();
            from_file(weights::Source::Files(&named))
        }
        WeightsSource::Synthetic { classes, seed } => {
            let spec = hint.ok_or_else(|| {
                Error::Input(format!(
                    "{}: a model name is needed for synthetic weights (--model; `gpu-resnet models` lists them)",
                    source.describe()
                ))
            })?;
            let weights = weights::synthetic_weights(&spec.arch, *classes, *seed);
            Ok(LoadedWeights {
                spec,
                weights,
                info: None,
            })
        }
    }
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
        preprocess: loaded.preprocess(),
        labels: loaded.labels(),
        input_name: loaded.input_name(),
        summary: loaded.summary(),
        spec: loaded.spec,
        model,
    })
}
