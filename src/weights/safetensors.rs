//! safetensors files (torchvision / timm checkpoints converted with `safetensors.torch`).
//!
//! The `safetensors` crate parses and validates the header (offsets inside the file, sizes that
//! match shape and dtype); we only convert each tensor's little-endian data to f32.

use std::path::Path;

use ::safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::npy::{element_count, NumpyDtype};
use crate::tensor::{Tensor, TensorMap};

/// Whether `bytes` are laid out as a safetensors file: a little-endian u64 header length that
/// fits the file, a header that opens with `{` and ends (before its space padding) with `}`.
/// Stricter than the one-byte sniff, for telling one from a program that may open alike.
pub fn is_safetensors(bytes: &[u8]) -> bool {
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return false;
    };
    let header = usize::try_from(u64::from_le_bytes(*len))
        .ok()
        .and_then(|n| rest.get(..n));
    match header {
        Some(h) => h.first() == Some(&b'{') && h.trim_ascii_end().last() == Some(&b'}'),
        None => false,
    }
}

/// Reads a safetensors file; every tensor is converted to f32.
pub fn read_safetensors(path: &Path) -> Result<TensorMap> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_safetensors(&bytes, path)
}

/// Parses the bytes of a safetensors file; `path_for_messages` only names the file in errors.
pub fn parse_safetensors(bytes: &[u8], path_for_messages: &Path) -> Result<TensorMap> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| Error::Format {
        path: path_for_messages.to_path_buf(),
        format: "safetensors",
        reason: e.to_string(),
    })?;
    let source = path_for_messages.display().to_string();
    let mut tensors = TensorMap::new();
    for (name, view) in file.iter() {
        let dtype = view.dtype();
        let shape = view.shape().to_vec();
        let raw = view.data();
        let data = convert(dtype, raw).ok_or_else(|| {
            Error::tensor(
                &source,
                name,
                format!("dtype {dtype:?} is not supported (float, int, uint and bool are)"),
            )
        })?;
        // The crate checks this already; a mismatch here must not become a wrong-sized tensor.
        if element_count(&shape) != Some(data.len()) {
            return Err(Error::tensor(
                &source,
                name,
                format!(
                    "shape {shape:?} does not match its {} bytes of {dtype:?}",
                    raw.len()
                ),
            ));
        }
        tensors.insert(
            name.to_string(),
            Tensor {
                shape,
                data,
                stored_dtype: format!("{dtype:?}"),
            },
        );
    }
    Ok(tensors)
}

/// Little-endian `raw` as f32, or `None` for a dtype we do not convert (8-bit and smaller floats).
fn convert(dtype: Dtype, raw: &[u8]) -> Option<Vec<f32>> {
    let (code, size) = match dtype {
        Dtype::BF16 => {
            let values = raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect();
            return Some(values);
        }
        Dtype::F16 => ("f", 2),
        Dtype::F32 => ("f", 4),
        Dtype::F64 => ("f", 8),
        Dtype::I8 => ("i", 1),
        Dtype::I16 => ("i", 2),
        Dtype::I32 => ("i", 4),
        Dtype::I64 => ("i", 8),
        Dtype::U8 => ("u", 1),
        Dtype::U16 => ("u", 2),
        Dtype::U32 => ("u", 4),
        Dtype::U64 => ("u", 8),
        Dtype::BOOL => ("b", 1),
        _ => return None,
    };
    let dtype = NumpyDtype::new(&format!("{code}{size}"), '<')?;
    Some(dtype.decode(raw))
}
