//! One loader for every weights input: a checkpoint (`.pdparams`, safetensors), a Paddle
//! inference model (directory, `inference.json` / `inference.pdmodel` with the `.pdiparams`
//! beside it), or ONNX; from a path (file or directory), one file's bytes, or several named
//! in-memory files (callers without a file system, e.g. a browser). The architecture is
//! recognised from the file; a hint (`--model`) must agree with it.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::deploy::{self, DeployFormat};
use super::inference_yml::{parse_inference_yml, DeployConfig};
use super::recognise::recognise_and_map;
use super::{parse_tensors, sniff, ModelWeights, Sniffed};
use crate::arch::Arch;
use crate::error::{Error, Result};

/// Where weights come from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// A file, or a directory holding an inference model.
    Path(&'a Path),
    /// One file's bytes (a checkpoint or an ONNX model); `name` for messages.
    Bytes { name: &'a str, bytes: &'a [u8] },
    /// Named files: a program with its `.pdiparams` (and `inference.yml`), or one file.
    Files(&'a [(&'a str, &'a [u8])]),
}

/// The format weights were read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsFormat {
    Pdparams,
    Safetensors,
    Deploy(DeployFormat),
}

impl WeightsFormat {
    pub fn describe(self) -> &'static str {
        match self {
            WeightsFormat::Pdparams => "PaddlePaddle checkpoint (.pdparams)",
            WeightsFormat::Safetensors => "safetensors",
            WeightsFormat::Deploy(d) => d.describe(),
        }
    }
}

/// Weights with what the file said about them.
#[derive(Clone, Debug)]
pub struct LoadedWeights {
    pub weights: ModelWeights,
    pub info: SourceInfo,
}

/// What a weights file says beyond the weights: its format, declared input, unused tensors and
/// the deployment config beside it.
#[derive(Clone, Debug)]
pub struct SourceInfo {
    pub format: WeightsFormat,
    /// The input a deployment program declares (`x`, `inputs`); `None` for checkpoints.
    pub input_name: Option<String>,
    /// The input size a program declares; `None` when dynamic or for checkpoints.
    pub input_hw: Option<(usize, usize)>,
    /// Tensors of the file no layer uses (e.g. torch's `num_batches_tracked`).
    pub ignored: Vec<String>,
    /// The program ends in a softmax (the engine returns the logits before it).
    pub softmax: bool,
    /// `inference.yml` beside the model: preprocessing and labels.
    pub deploy_config: Option<DeployConfig>,
}

impl LoadedWeights {
    /// `ResNet101_vd (102 classes, input x [N,3,224,224])`.
    pub fn summary(&self) -> String {
        self.info.summary(&self.weights)
    }

    /// What `gpu-resnet inspect` prints (see [`SourceInfo::report`]).
    pub fn report(&self) -> String {
        self.info.report(&self.weights)
    }
}

impl SourceInfo {
    /// `ResNet101_vd (102 classes, input x [N,3,224,224])`.
    pub fn summary(&self, weights: &ModelWeights) -> String {
        let hw = self
            .input_hw
            .map(|(h, w)| format!("{h},{w}"))
            .unwrap_or_else(|| "H,W".into());
        format!(
            "{} ({} classes, input {} [N,3,{hw}])",
            weights.arch.name,
            weights.classes,
            self.input_name.as_deref().unwrap_or("x")
        )
    }
}

impl SourceInfo {
    /// What `gpu-resnet inspect` prints: format, architecture, classes, input name and shape,
    /// parameter count, the config beside the model and any tensor that was ignored.
    pub fn report(&self, w: &ModelWeights) -> String {
        let mut out = vec![
            format!("file: {}", w.source),
            format!("format: {}", self.format.describe()),
            format!("architecture: {}", w.arch.name),
            format!("classes: {}", w.classes),
            format!(
                "input: {} [N,3,{}]",
                self.input_name
                    .as_deref()
                    .unwrap_or("(not declared; checkpoints take any name)"),
                self.input_hw
                    .map(|(h, w)| format!("{h},{w}"))
                    .unwrap_or_else(|| "H,W".into())
            ),
            format!(
                "parameters: {} ({:.2} M, conv weights, BN scale and shift, FC)",
                w.arch.params(w.classes),
                w.arch.params(w.classes) as f64 / 1e6
            ),
        ];
        let folded = w
            .convs
            .iter()
            .filter(|c| matches!(c, super::ConvBn::Folded { .. }))
            .count();
        if folded > 0 {
            out.push(format!(
                "BatchNorm already folded into {folded} of {} convs",
                w.convs.len()
            ));
        }
        if self.softmax {
            out.push(
                "output: the program ends in a softmax; the engine returns the logits before it"
                    .into(),
            );
        }
        if let Some(c) = &self.deploy_config {
            out.push(format!(
                "inference.yml: resize short side {}, crop {}, mean {:?}, std {:?}, {} labels",
                c.preprocess.resize_short,
                c.preprocess.crop,
                c.preprocess.mean,
                c.preprocess.std,
                c.labels.as_ref().map_or(0, Vec::len)
            ));
        }
        out.push(match self.ignored.as_slice() {
            [] => "ignored tensors: none".into(),
            names => format!("ignored tensors ({}): {}", names.len(), names.join(", ")),
        });
        out.join("\n")
    }
}

fn from_checkpoint(bytes: &[u8], name: &str, hint: Option<&Arch>) -> Result<LoadedWeights> {
    let format = match sniff(bytes) {
        Sniffed::Safetensors => WeightsFormat::Safetensors,
        _ => WeightsFormat::Pdparams,
    };
    let tensors = parse_tensors(bytes, Path::new(name))?;
    let weights = recognise_and_map(&tensors, hint, name)?;
    let ignored = tensors
        .keys()
        .filter(|k| k.ends_with("num_batches_tracked"))
        .cloned()
        .collect();
    Ok(LoadedWeights {
        weights,
        info: SourceInfo {
            format,
            input_name: None,
            input_hw: None,
            ignored,
            softmax: false,
            deploy_config: None,
        },
    })
}

fn from_program(program: deploy::Program, hint: Option<&Arch>) -> Result<LoadedWeights> {
    let m = deploy::match_program(&program, hint)?;
    Ok(LoadedWeights {
        weights: m.weights,
        info: SourceInfo {
            format: WeightsFormat::Deploy(program.format),
            input_name: Some(m.input_name),
            input_hw: m.input_hw,
            ignored: m.ignored,
            softmax: m.softmax,
            deploy_config: None,
        },
    })
}

/// Reads weights from `source`, recognising the architecture; `hint` must agree with it.
pub fn load(source: &Source, hint: Option<&Arch>) -> Result<LoadedWeights> {
    match *source {
        Source::Path(path) => load_path(path, hint),
        Source::Bytes { name, bytes } => load_bytes(name, bytes, hint),
        Source::Files(files) => load_files(files, hint),
    }
}

fn load_bytes(name: &str, bytes: &[u8], hint: Option<&Arch>) -> Result<LoadedWeights> {
    match sniff(bytes) {
        Sniffed::Pickle | Sniffed::Safetensors => from_checkpoint(bytes, name, hint),
        _ => match deploy::sniff_program(bytes) {
            Some(DeployFormat::Onnx) => from_program(deploy::onnx::parse_onnx(bytes, name)?, hint),
            Some(_) => Err(Error::Format {
                path: name.into(),
                format: "weights",
                reason: "a Paddle inference program needs its .pdiparams: pass both files".into(),
            }),
            None => Err(Error::Format {
                path: name.into(),
                format: "weights",
                reason: format!(
                    "it is {}, not a .pdparams pickle, a safetensors file, an ONNX model or a Paddle inference program",
                    sniff(bytes).describe()
                ),
            }),
        },
    }
}

fn load_files(files: &[(&str, &[u8])], hint: Option<&Arch>) -> Result<LoadedWeights> {
    let by_suffix = |s: &str| files.iter().find(|(n, _)| n.ends_with(s)).copied();
    let yml = match by_suffix(".yml").or_else(|| by_suffix(".yaml")) {
        Some((n, b)) => Some(parse_inference_yml(b, n)?),
        None => None,
    };
    let program = files.iter().copied().find(|(n, b)| {
        !n.ends_with(".pdiparams")
            && !n.ends_with(".yml")
            && !n.ends_with(".yaml")
            && !n.ends_with(".info")
            && (deploy::sniff_program(b).is_some()
                || matches!(sniff(b), Sniffed::Pickle | Sniffed::Safetensors))
    });
    let Some((name, bytes)) = program else {
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        return Err(Error::Input(format!(
            "none of the files {names:?} is a weights file, a Paddle program or an ONNX model"
        )));
    };
    let mut loaded = match paddle_program(bytes) {
        Some(f) => {
            let (pname, params) = by_suffix(".pdiparams").ok_or_else(|| {
                Error::Input(format!(
                    "{name} is a Paddle inference program: its .pdiparams is needed too"
                ))
            })?;
            let p = deploy::read_paddle(f, bytes, name, params, params.len() as u64, pname)?;
            from_program(p, hint)?
        }
        _ => load_bytes(name, bytes, hint)?,
    };
    loaded.info.deploy_config = yml;
    Ok(loaded)
}

/// The Paddle program format `bytes` hold, or `None` for anything else. Checkpoints are
/// recognised first: a pickle opens with 0x80, and a safetensors file whose header is padded
/// to a length of 10 mod 256 opens with 0x0a, ProgramDesc's first byte.
fn paddle_program(bytes: &[u8]) -> Option<DeployFormat> {
    if matches!(sniff(bytes), Sniffed::Pickle) || super::safetensors::is_safetensors(bytes) {
        return None;
    }
    deploy::sniff_program(bytes)
        .filter(|f| matches!(f, DeployFormat::Pir | DeployFormat::ProgramDesc))
}

/// The program file of an inference-model directory.
fn program_in(dir: &Path) -> Result<PathBuf> {
    for name in [
        "inference.json",
        "inference.pdmodel",
        "inference.onnx",
        "model.onnx",
    ] {
        if dir.join(name).is_file() {
            return Ok(dir.join(name));
        }
    }
    let mut onnx: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "onnx" || e == "json" || e == "pdmodel")
        })
        .collect();
    onnx.sort();
    onnx.into_iter().next().ok_or_else(|| Error::Format {
        path: dir.to_path_buf(),
        format: "inference model directory",
        reason: "no inference.json, inference.pdmodel or .onnx file in it".into(),
    })
}

fn load_path(path: &Path, hint: Option<&Arch>) -> Result<LoadedWeights> {
    let file = if path.is_dir() {
        program_in(path)?
    } else {
        path.to_path_buf()
    };
    let name = file.display().to_string();
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let mut loaded = match paddle_program(&bytes) {
        Some(f) => {
            let params_path = file.with_extension("pdiparams");
            let params = File::open(&params_path).map_err(|e| Error::io(&params_path, e))?;
            let len = params
                .metadata()
                .map_err(|e| Error::io(&params_path, e))?
                .len();
            let reader = std::io::BufReader::with_capacity(1 << 20, params);
            let p = deploy::read_paddle(
                f,
                &bytes,
                &name,
                reader,
                len,
                &params_path.display().to_string(),
            )?;
            from_program(p, hint)?
        }
        _ => load_bytes(&name, &bytes, hint)?,
    };
    let yml = file.with_file_name("inference.yml");
    if matches!(loaded.info.format, WeightsFormat::Deploy(_)) && yml.is_file() {
        let text = std::fs::read(&yml).map_err(|e| Error::io(&yml, e))?;
        loaded.info.deploy_config = Some(parse_inference_yml(&text, &yml.display().to_string())?);
    }
    Ok(loaded)
}
