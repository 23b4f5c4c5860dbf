//! What PaddleClas ships for deployment, read without a framework: Paddle inference models
//! (`inference.pdmodel` ProgramDesc protobuf or Paddle 3's `inference.json` PIR program, each
//! with `inference.pdiparams`) and ONNX. Each format is read into one common op list
//! ([`program::Program`]), whose structure is then matched against the architecture table
//! ([`matcher::match_program`]): the program is recognised, never executed as a general graph.

pub mod budget;
pub mod matcher;
pub mod onnx;
pub mod paddle_attrs;
pub mod pdiparams;
pub mod pdmodel;
pub mod pir;
pub mod program;
pub mod proto;
pub mod walk;

use std::io::Read;

pub use matcher::{match_program, Matched};
pub use program::{DeployFormat, Program};

use crate::error::Result;

/// Which program format `bytes` hold, by content.
pub fn sniff_program(bytes: &[u8]) -> Option<DeployFormat> {
    // PIR JSON: `{"base_code": {"magic": "pir", ...`
    let text_start = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if text_start == Some(b'{') && bytes.windows(9).take(4096).any(|w| w == b"base_code") {
        return Some(DeployFormat::Pir);
    }
    match *bytes.first()? {
        // ModelProto opens with ir_version (field 1, varint) ...
        0x08 => Some(DeployFormat::Onnx),
        // ... ProgramDesc with its blocks (field 1, length-delimited).
        0x0a => Some(DeployFormat::ProgramDesc),
        _ => None,
    }
}

/// A Paddle inference model: the program (`.pdmodel` or `.json`, by `format`) and its
/// `.pdiparams` stream of `params_len` bytes.
pub fn read_paddle(
    format: DeployFormat,
    program: &[u8],
    program_path: &str,
    params: impl Read,
    params_len: u64,
    params_path: &str,
) -> Result<Program> {
    let parsed = match format {
        DeployFormat::Pir => pir::parse_pir(program, program_path)?,
        _ => pdmodel::parse_pdmodel(program, program_path)?,
    };
    let tensors = pdiparams::read_pdiparams(params, params_len, &parsed.params, params_path)?;
    Ok(Program {
        format: parsed.format,
        source: program_path.to_string(),
        input_name: parsed.input_name,
        input_shape: parsed.input_shape,
        output: parsed.output,
        ops: parsed.ops,
        params: tensors,
    })
}

/// Little-endian floats of `width` bytes each (2: f16, 4: f32, 8: f64) as f32; the caller has
/// checked that `raw` holds a whole number of them.
pub(crate) fn floats_le(raw: &[u8], width: usize) -> Vec<f32> {
    match width {
        2 => raw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        8 => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    }
}
