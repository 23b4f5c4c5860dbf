//! Argument types shared by several commands: the output format, the device, and the model to
//! run. The commands and the dispatcher (`cli.rs`) import them from here, so no command imports
//! from another.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::arch::ModelSpec;
use crate::classify::Classifier;
use crate::error::Result;
use crate::gpu::{BackendChoice, ContextOptions, GpuContext};
use crate::model::{F16Mode, Model, Precision};
use crate::open::{open_model, OpenOptions, Opened, WeightsSource};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// Where and how to run: shared by the commands that run a model.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Adapter index in `gpu-resnet adapters` order for the chosen backend.
    #[arg(long)]
    pub adapter: Option<usize>,
}

impl DeviceArgs {
    pub fn context(&self) -> Result<GpuContext> {
        GpuContext::new(ContextOptions {
            backend: self.backend,
            adapter: self.adapter,
        })
    }
}

/// The model to run and where to run it (shared by `infer`, `predict` and `eval`).
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Model name (see `gpu-resnet models`). Optional with --weights: the architecture is
    /// recognised from the file, and a name given must agree with it. For images it also sets
    /// the preprocessing (resize 256, crop 224; 320/320 for Fix_ResNet50_vd_ssld_v2) unless the
    /// model's directory has an inference.yml. Needed for synthetic weights.
    #[arg(long)]
    pub model: Option<String>,
    /// A .pdparams, .safetensors or ONNX file, a Paddle inference model (its directory, or its
    /// inference.json / inference.pdmodel), or a registered model name fetched into the cache;
    /// omitted: deterministic synthetic weights (the classes then mean nothing).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Where `gpu-resnet fetch` keeps downloaded weights (default: $XDG_CACHE_HOME/gpu-resnet).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    #[arg(long, value_enum, default_value_t = F16Mode::Auto)]
    pub f16_mode: F16Mode,
    /// Classes of the synthetic head (only without --weights).
    #[arg(long, default_value_t = 1000)]
    pub classes: usize,
}

impl ModelArgs {
    /// Where the weights come from: a file, a directory, a registered name fetched into the
    /// cache, or synthetic.
    pub fn source(&self) -> Result<WeightsSource> {
        Ok(match &self.weights {
            Some(arg) => WeightsSource::Path(crate::app::fetch::resolve_weights(
                arg,
                self.cache_dir.as_deref(),
            )?),
            None => WeightsSource::Synthetic {
                classes: self.classes,
                seed: 0,
            },
        })
    }

    pub fn options(&self) -> OpenOptions {
        OpenOptions {
            model: self.model.clone(),
            precision: self.precision,
            f16_mode: self.f16_mode,
        }
    }

    /// Load the weights, make the device and upload the model; says on stderr which
    /// architecture the weights file was recognised as.
    pub fn open(&self) -> Result<Opened> {
        let source = self.source()?;
        let ctx = self.device.context()?;
        let opened = open_model(&ctx, &source, &self.options())?;
        if self.weights.is_some() {
            eprintln!("recognised {}", opened.summary);
        }
        Ok(opened)
    }

    /// Load the weights, make the device and upload the model.
    pub fn load(&self) -> Result<(ModelSpec, Model)> {
        let opened = self.open()?;
        Ok((opened.spec, opened.model))
    }

    /// [`ModelArgs::load`] with the model's preprocessing around it.
    pub fn classifier(&self) -> Result<(ModelSpec, Classifier)> {
        self.open()?.into_classifier()
    }
}
