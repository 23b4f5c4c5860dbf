//! `.pdiparams`: PaddlePaddle's combined parameter file. No header and no names: the program's
//! persistable variables one after another, sorted by name, each a DenseTensor record:
//! u32 version (0), u64 LoD level count and per level a u64 byte size plus that many bytes,
//! u32 tensor version (0), i32 size of a `VarType.TensorDesc` protobuf, the protobuf (data type,
//! dims), then the raw little-endian data. Read as a stream: every size is checked against what
//! is left of the file before anything is allocated, and each record against the variable the
//! program declares at its place.

use std::io::Read;

use prost::Message;

use super::proto::{var_type, TensorDesc};
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorMap};

const FORMAT: &str = ".pdiparams";
/// A TensorDesc holds a type and a handful of dims: real ones are under 30 bytes.
const MAX_DESC: u64 = 1 << 16;
/// Real files have no LoD on parameters; a few levels are tolerated, more is damage.
const MAX_LOD_LEVELS: u64 = 16;

/// A persistable variable the program declares: what the next record must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamDecl {
    pub name: String,
    /// As the program declares them (`-1` would be an unknown size and is refused).
    pub dims: Vec<i64>,
}

struct Stream<R> {
    r: R,
    remaining: u64,
    path: String,
}

impl<R: Read> Stream<R> {
    fn err(&self, reason: String) -> Error {
        Error::Format {
            path: self.path.clone().into(),
            format: FORMAT,
            reason,
        }
    }

    fn bytes(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<Vec<u8>> {
        if n > self.remaining {
            return Err(self.err(format!(
                "the file ends in {}: {n} bytes needed, {} left (truncated file, or a .pdiparams of another model?)",
                what(),
                self.remaining
            )));
        }
        // `remaining` bounds `n`; the conversion only matters where usize is 32 bits.
        let len = usize::try_from(n)
            .map_err(|_| self.err(format!("{}: {n} bytes do not fit in memory here", what())))?;
        let mut buf = vec![0u8; len];
        self.r
            .read_exact(&mut buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.remaining -= n;
        Ok(buf)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        let b = self.bytes(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// Skips `n` bytes without holding them all.
    fn skip(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<()> {
        let mut left = n;
        while left > 0 {
            let step = left.min(1 << 16);
            self.bytes(step, what)?;
            left -= step;
        }
        Ok(())
    }
}

/// Reads the records for `decls` (already sorted by name, as Paddle writes them) from `r`,
/// whose length is `total_len`. `path` names the file in errors.
pub fn read_pdiparams<R: Read>(
    r: R,
    total_len: u64,
    decls: &[ParamDecl],
    path: &str,
) -> Result<TensorMap> {
    let mut s = Stream {
        r,
        remaining: total_len,
        path: path.to_string(),
    };
    let count = decls.len();
    let mut out = TensorMap::new();
    for (i, decl) in decls.iter().enumerate() {
        let name = &decl.name;
        let at = |part: &'static str| {
            let name = name.clone();
            move || format!("the {part} of variable `{name}` ({} of {count})", i + 1)
        };
        let version = s.u32(&at("version"))?;
        if version != 0 {
            return Err(s.err(format!(
                "variable `{name}` ({} of {count}): record version {version}, expected 0 (not a .pdiparams file, or the records are out of step with the program)",
                i + 1
            )));
        }
        let levels = s.u64(&at("LoD level count"))?;
        if levels > MAX_LOD_LEVELS {
            return Err(s.err(format!(
                "variable `{name}`: {levels} LoD levels (parameters have none; damaged file?)"
            )));
        }
        for _ in 0..levels {
            let size = s.u64(&at("LoD level size"))?;
            s.skip(size, &at("LoD data"))?;
        }
        let tensor_version = s.u32(&at("tensor version"))?;
        if tensor_version != 0 {
            return Err(s.err(format!(
                "variable `{name}`: tensor version {tensor_version}, expected 0"
            )));
        }
        let desc_size = s.u32(&at("TensorDesc size"))? as i32;
        if desc_size < 0 || desc_size as u64 > MAX_DESC {
            return Err(s.err(format!(
                "variable `{name}`: TensorDesc size {desc_size} (damaged file?)"
            )));
        }
        let desc_bytes = s.bytes(desc_size as u64, &at("TensorDesc"))?;
        let desc = TensorDesc::decode(desc_bytes.as_slice()).map_err(|e| {
            s.err(format!(
                "variable `{name}`: its TensorDesc is not valid protobuf: {e}"
            ))
        })?;
        if desc.dims != decl.dims {
            return Err(s.err(format!(
                "variable `{name}` ({} of {count}): the file holds shape {:?} where the program declares {:?} (a .pdiparams of another model?)",
                i + 1,
                desc.dims,
                decl.dims
            )));
        }
        let mut numel: u64 = 1;
        for &d in &desc.dims {
            if d < 0 {
                return Err(s.err(format!(
                    "variable `{name}`: negative dimension in {:?}",
                    desc.dims
                )));
            }
            numel = numel.checked_mul(d as u64).ok_or_else(|| {
                s.err(format!(
                    "variable `{name}`: shape {:?} overflows",
                    desc.dims
                ))
            })?;
        }
        let dtype = desc.data_type.unwrap_or(-1);
        let (width, dtype_name) = match dtype {
            var_type::FP32 => (4, "float32"),
            var_type::FP16 => (2, "float16"),
            var_type::FP64 => (8, "float64"),
            other => {
                return Err(s.err(format!(
                    "variable `{name}`: data type {other} ({}), only float32/float16/float64 parameters are read",
                    paddle_dtype_name(other)
                )))
            }
        };
        let len = numel.checked_mul(width).ok_or_else(|| {
            s.err(format!(
                "variable `{name}`: shape {:?} overflows",
                desc.dims
            ))
        })?;
        let raw = s.bytes(len, &at("data"))?;
        let data = super::floats_le(&raw, width as usize);
        out.insert(
            name.clone(),
            Tensor {
                // Non-negative (checked above); a dim past usize (wasm32) is refused.
                shape: desc
                    .dims
                    .iter()
                    .map(|&d| usize::try_from(d))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| {
                        s.err(format!(
                            "variable `{name}`: shape {:?} does not fit this platform's sizes",
                            desc.dims
                        ))
                    })?,
                data,
                stored_dtype: dtype_name.into(),
            },
        );
    }
    if s.remaining > 0 {
        let last = decls.last().map(|d| d.name.as_str()).unwrap_or("<none>");
        return Err(s.err(format!(
            "{} bytes left after the last variable `{last}`: the program declares {count} persistable variables (a .pdiparams of another model?)",
            s.remaining
        )));
    }
    Ok(out)
}

fn paddle_dtype_name(t: i32) -> &'static str {
    match t {
        var_type::BOOL => "bool",
        var_type::INT16 => "int16",
        var_type::INT32 => "int32",
        var_type::INT64 => "int64",
        var_type::UINT8 => "uint8",
        var_type::INT8 => "int8",
        var_type::BF16 => "bfloat16",
        _ => "unknown",
    }
}

/// Writes `tensors` (in name order) as a `.pdiparams` stream of float32 records: the inverse of
/// `read_pdiparams`, used by tests and fuzz seeds.
pub fn write_pdiparams(tensors: &TensorMap) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tensors.values() {
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let desc = TensorDesc {
            data_type: Some(var_type::FP32),
            dims: t.shape.iter().map(|&d| d as i64).collect(),
        }
        .encode_to_vec();
        out.extend_from_slice(&(desc.len() as i32).to_le_bytes());
        out.extend_from_slice(&desc);
        for v in &t.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}
