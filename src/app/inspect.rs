//! `gpu-resnet inspect WEIGHTS`: what a weights file was recognised as (format, architecture,
//! classes, input name and shape, parameter count, inference.yml, ignored tensors), without a
//! GPU.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::open::{load_weights, WeightsSource};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A .pdparams, .safetensors or ONNX file, or a Paddle inference model (its directory or
    /// its inference.json / inference.pdmodel).
    pub weights: PathBuf,
    /// Check the file against this model name instead of only recognising it.
    #[arg(long)]
    pub model: Option<String>,
    /// Where `gpu-resnet fetch` keeps downloaded weights (default: $XDG_CACHE_HOME/gpu-resnet).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

pub fn inspect(args: InspectArgs) -> Result<()> {
    let path = crate::app::fetch::resolve_weights(&args.weights, args.cache_dir.as_deref())?;
    let loaded = load_weights(&WeightsSource::Path(path), args.model.as_deref())?;
    if let Some(info) = &loaded.info {
        println!("{}", info.report(&loaded.weights));
    }
    Ok(())
}
