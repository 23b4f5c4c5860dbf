//! PaddlePaddle golden cases for the conformance suite: `<model>.pdparams`, its input batch
//! and PaddlePaddle's logits, read from a directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::npy::read_npy_f32;
use crate::weights::ModelWeights;

/// A PaddlePaddle golden case: `<model>.pdparams`, `<model>.input.npy`, `<model>.logits.npy`.
pub struct GoldenCase {
    pub name: String,
    /// The loaded case, or why it could not be loaded (reported as a failed item).
    pub loaded: std::result::Result<GoldenData, String>,
}

#[derive(Clone)]
pub struct GoldenData {
    pub weights: ModelWeights,
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub input: Vec<f32>,
    pub logits: Vec<f32>,
}

/// The weights files a golden case may come as: a checkpoint, or a deployment export.
const WEIGHT_SUFFIXES: [&str; 2] = [".pdparams", ".onnx"];

/// `name`'s case from `weights_file` (one of [`WEIGHT_SUFFIXES`]). A name that is a model name
/// also tells the architecture; otherwise it is recognised from the file.
fn load_golden(dir: &Path, name: &str, weights_file: &Path) -> Result<GoldenData> {
    let file = |suffix: &str| -> PathBuf { dir.join(format!("{name}{suffix}")) };
    let source = crate::open::WeightsSource::Path(weights_file.to_path_buf());
    let hint = crate::arch::resolve(name).ok().map(|_| name);
    let weights = crate::open::load_weights(&source, hint)?.weights;
    let input = read_npy_f32(&file(".input.npy"))?;
    let logits = read_npy_f32(&file(".logits.npy"))?;
    let [n, 3, h, w] = input.shape[..] else {
        return Err(Error::Input(format!(
            "{}: expected an NCHW batch [N, 3, H, W], found {:?}",
            file(".input.npy").display(),
            input.shape
        )));
    };
    if logits.shape != [n, weights.classes] {
        return Err(Error::Input(format!(
            "{}: expected logits of shape [{n}, {}], found {:?}",
            file(".logits.npy").display(),
            weights.classes,
            logits.shape
        )));
    }
    Ok(GoldenData {
        weights,
        n,
        h,
        w,
        input: input.data,
        logits: logits.data,
    })
}

/// Every `*.pdparams` or `*.onnx` of `dir` (sorted by file name) with its input and logits,
/// loaded once.
pub fn golden_cases(dir: &Path) -> Result<Vec<GoldenCase>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut cases: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            let name = WEIGHT_SUFFIXES
                .iter()
                .find_map(|suffix| file.strip_suffix(suffix))?;
            Some((name.to_string(), e.path()))
        })
        .collect();
    cases.sort_by(|a, b| a.1.cmp(&b.1));
    if cases.is_empty() {
        return Err(Error::Input(format!(
            "{}: no *.pdparams or *.onnx golden cases (each needs <model>.pdparams or <model>.onnx, <model>.input.npy and <model>.logits.npy)",
            dir.display()
        )));
    }
    Ok(cases
        .into_iter()
        .map(|(name, weights_file)| GoldenCase {
            loaded: load_golden(dir, &name, &weights_file).map_err(|e| e.to_string()),
            name,
        })
        .collect())
}
