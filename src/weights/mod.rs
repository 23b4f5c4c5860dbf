//! Weight files: PaddlePaddle `.pdparams` pickles and safetensors, both read into a `TensorMap`.

pub mod deploy;
pub mod fold;
pub mod inference_yml;
pub mod load;
pub mod model_weights;
pub mod names;
pub mod pdparams;
pub(crate) mod pickle;
pub mod recognise;
pub mod safetensors;
pub mod synthetic;

pub use load::{load, LoadedWeights, Source, SourceInfo, WeightsFormat};
pub use model_weights::{ConvBn, ModelWeights};
pub use names::{map_weights, Scheme};
pub use recognise::recognise;
pub use synthetic::synthetic_weights;

use std::path::Path;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::tensor::TensorMap;

/// Reads a weights file, choosing the format by its content rather than its extension.
pub fn read_tensors(path: &Path) -> Result<TensorMap> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_tensors(&bytes, path)
}

/// Read a weights file and check it against `arch`: every tensor present, of the right shape,
/// and nothing extra. The error names the file and the first offending tensor.
pub fn load_weights(path: &Path, arch: &Arch) -> Result<ModelWeights> {
    let tensors = read_tensors(path)?;
    map_weights(&tensors, arch, &path.display().to_string())
}

/// Parses the bytes of a weights file; `path_for_messages` only names the file in errors.
pub fn parse_tensors(bytes: &[u8], path_for_messages: &Path) -> Result<TensorMap> {
    match sniff(bytes) {
        Sniffed::Pickle => pdparams::parse_pdparams(bytes, path_for_messages),
        Sniffed::Safetensors => safetensors::parse_safetensors(bytes, path_for_messages),
        other => Err(Error::Format {
            path: path_for_messages.to_path_buf(),
            format: "weights",
            reason: format!(
                "it is {}, not a PaddlePaddle .pdparams pickle or a safetensors file",
                other.describe()
            ),
        }),
    }
}

/// What the first bytes of a file say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Pickle,
    Safetensors,
    Empty,
    Zip,
    Npy,
    Png,
    Unknown,
}

impl Sniffed {
    /// A phrase for error messages, after "it is".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Sniffed::Pickle => "a pickle",
            Sniffed::Safetensors => "a safetensors file",
            Sniffed::Empty => "empty",
            // PyTorch's `torch.save` writes zip archives.
            Sniffed::Zip => "a zip archive (a PyTorch checkpoint? convert it to safetensors)",
            Sniffed::Npy => "a numpy .npy array",
            Sniffed::Png => "a PNG image",
            Sniffed::Unknown => "of an unknown format",
        }
    }
}

pub(crate) fn sniff(bytes: &[u8]) -> Sniffed {
    match bytes {
        [] => Sniffed::Empty,
        // Protocol 2+ pickles open with PROTO; older protocols are not what paddle.save writes.
        [0x80, ..] => Sniffed::Pickle,
        // safetensors: a u64 little-endian header length, then the JSON header.
        [_, _, _, _, _, _, _, _, b'{', ..] => Sniffed::Safetensors,
        [b'P', b'K', 3, 4, ..] => Sniffed::Zip,
        [0x93, b'N', b'U', b'M', b'P', b'Y', ..] => Sniffed::Npy,
        [0x89, b'P', b'N', b'G', ..] => Sniffed::Png,
        _ => Sniffed::Unknown,
    }
}
