//! Decoding a gRPC `ModelInferRequest` into the transport-neutral [`InferCall`]: pure (no I/O),
//! so the fuzz target `serve_grpc` runs exactly this after prost. Before prost builds the
//! message, [`check_wire`] walks its bytes and refuses repeated fields whose count would
//! amplify memory (an empty `inputs` entry is 2 bytes on the wire and a ~200-byte struct).

use std::collections::HashMap;

use super::checked::{to_usize, MAX_DIMS};
use super::grpc_messages::{InferParameter, ModelInferRequest, ParameterChoice};
use super::protocol::{ApiError, InferCall, InferInput, RequestedOutput, TensorData};

/// Most `inputs`, `outputs`, `raw_input_contents` entries and parameters of one request.
pub const MAX_ENTRIES: usize = 64;

/// A decoded request and its request-level parameter.
#[derive(Debug)]
pub struct GrpcCall {
    pub model_name: String,
    pub model_version: String,
    pub call: InferCall,
    pub allow_non_finite: bool,
}

fn count_param(
    params: &HashMap<String, InferParameter>,
    field: &str,
) -> Result<Option<usize>, ApiError> {
    let choice = match params.get("classification") {
        None => return Ok(None),
        Some(p) => p.parameter_choice.as_ref(),
    };
    let k = match choice {
        Some(ParameterChoice::Int64Param(v)) if *v >= 1 => *v as u64,
        Some(ParameterChoice::Uint64Param(v)) if *v >= 1 => *v,
        _ => {
            return Err(ApiError::bad(format!(
                "{field}: classification must be an integer count >= 1"
            )))
        }
    };
    to_usize(&format!("{field}: classification"), k).map(Some)
}

/// The call a request asks for, every count and size checked.
pub fn infer_call(r: ModelInferRequest) -> Result<GrpcCall, ApiError> {
    let allow_non_finite = match r
        .parameters
        .get("allow_non_finite")
        .map(|p| p.parameter_choice.as_ref())
    {
        None => false,
        Some(Some(ParameterChoice::BoolParam(b))) => *b,
        Some(_) => return Err(ApiError::bad("parameter `allow_non_finite` must be a bool")),
    };
    let use_raw = !r.raw_input_contents.is_empty();
    if use_raw && r.raw_input_contents.len() != r.inputs.len() {
        return Err(ApiError::bad(format!(
            "raw_input_contents has {} entries for {} input(s): one per input",
            r.raw_input_contents.len(),
            r.inputs.len()
        )));
    }
    let mut raw = r.raw_input_contents.into_iter();
    let mut inputs = Vec::new();
    for t in r.inputs {
        if t.shape.len() > MAX_DIMS {
            return Err(ApiError::bad(format!(
                "input `{}`: shape has {} dimensions, more than {MAX_DIMS}",
                t.name,
                t.shape.len()
            )));
        }
        let data = match (raw.next(), t.contents) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad(format!(
                    "input `{}` has both `contents` and raw_input_contents",
                    t.name
                )))
            }
            (Some(bytes), None) => TensorData::Raw(bytes),
            (None, Some(c)) if !c.bytes_contents.is_empty() => {
                if !c.fp32_contents.is_empty() {
                    return Err(ApiError::bad(format!(
                        "input `{}` has both fp32_contents and bytes_contents",
                        t.name
                    )));
                }
                TensorData::Bytes(c.bytes_contents)
            }
            (None, Some(c)) => TensorData::Fp32(c.fp32_contents),
            (None, None) => TensorData::Fp32(Vec::new()),
        };
        inputs.push(InferInput {
            name: t.name,
            datatype: t.datatype,
            shape: t.shape,
            data,
        });
    }
    let mut outputs = Vec::new();
    for o in r.outputs {
        let classification = count_param(&o.parameters, &format!("output `{}`", o.name))?;
        outputs.push(RequestedOutput {
            name: o.name,
            binary: None,
            classification,
        });
    }
    Ok(GrpcCall {
        model_name: r.model_name,
        model_version: r.model_version,
        call: InferCall {
            id: (!r.id.is_empty()).then_some(r.id),
            inputs,
            outputs,
        },
        allow_non_finite,
    })
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        value |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Call `visit(field number, bytes of a length-delimited value)` for each field of a message,
/// storing nothing; stops at the first error. Bytes that are not protobuf end the walk quietly
/// (prost then refuses them with its own message).
fn walk<'a>(
    mut buf: &'a [u8],
    mut visit: impl FnMut(u64, Option<&'a [u8]>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    while !buf.is_empty() {
        let Some(key) = varint(&mut buf) else {
            return Ok(());
        };
        let skip = |buf: &mut &'a [u8], n: usize| -> Option<&'a [u8]> {
            let (value, rest) = buf.split_at_checked(n)?;
            *buf = rest;
            Some(value)
        };
        let value = match key & 7 {
            0 => varint(&mut buf).map(|_| None),
            1 => skip(&mut buf, 8).map(|_| None),
            5 => skip(&mut buf, 4).map(|_| None),
            2 => varint(&mut buf)
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| skip(&mut buf, n))
                .map(Some),
            _ => None,
        };
        let Some(value) = value else {
            return Ok(());
        };
        visit(key >> 3, value)?;
    }
    Ok(())
}

/// Count the fields numbered `number` in `message`, refusing more than `max`.
fn at_most(message: &[u8], number: u64, max: usize, what: &str) -> Result<(), ApiError> {
    let mut n = 0;
    walk(message, |f, _| {
        n += (f == number) as usize;
        if n > max {
            return Err(ApiError::bad(format!(
                "ModelInferRequest: more than {max} {what} in one request"
            )));
        }
        Ok(())
    })
}

/// Refuse a `ModelInferRequest` whose repeated fields would make prost allocate far more than
/// the message's size: more than [`MAX_ENTRIES`] inputs, outputs, raw contents or parameters
/// (at any level), more than [`MAX_DIMS`] dimensions in a shape, or more than 64 x
/// [`MAX_ENTRIES`] `bytes_contents`.
pub fn check_wire(message: &[u8]) -> Result<(), ApiError> {
    // parameters (4), inputs (5), outputs (6), raw_input_contents (7).
    for (n, what) in [
        (4, "parameters"),
        (5, "inputs"),
        (6, "outputs"),
        (7, "raw_input_contents"),
    ] {
        at_most(message, n, MAX_ENTRIES, what)?;
    }
    walk(message, |number, bytes| {
        let (Some(tensor), 5 | 6) = (bytes, number) else {
            return Ok(());
        };
        // An input's parameters are field 4, an output's field 2.
        let params = if number == 5 { 4 } else { 2 };
        at_most(tensor, params, MAX_ENTRIES, "parameters of a tensor")?;
        if number != 5 {
            return Ok(());
        }
        let mut dims = 0usize;
        walk(tensor, |field, value| {
            match (field, value) {
                // shape (3): packed varints, or one varint per field.
                (3, packed) => {
                    dims += packed.map_or(1, |b| b.iter().filter(|&&x| x & 0x80 == 0).count());
                    if dims > MAX_DIMS {
                        return Err(ApiError::bad(format!(
                            "ModelInferRequest: an input's shape has more than {MAX_DIMS} \
                             dimensions"
                        )));
                    }
                }
                // contents (5): each bytes_contents (8) entry costs a Vec.
                (5, Some(contents)) => {
                    at_most(contents, 8, 64 * MAX_ENTRIES, "bytes_contents entries")?
                }
                _ => {}
            }
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::serve::grpc_messages::{InferInputTensor, InferRequestedOutputTensor};
    use prost::Message;

    fn request(inputs: usize, dims: usize) -> ModelInferRequest {
        ModelInferRequest {
            inputs: (0..inputs)
                .map(|_| InferInputTensor {
                    name: "x".into(),
                    shape: vec![1; dims],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_wire_walk_refuses_amplifying_counts() {
        assert!(check_wire(&request(1, 4).encode_to_vec()).is_ok());
        let m = check_wire(&request(MAX_ENTRIES + 1, 0).encode_to_vec())
            .unwrap_err()
            .message;
        assert!(m.contains("inputs"), "{m}");
        let m = check_wire(&request(1, MAX_DIMS + 1).encode_to_vec())
            .unwrap_err()
            .message;
        assert!(m.contains("dimensions"), "{m}");
        let mut r = request(1, 4);
        r.outputs = vec![InferRequestedOutputTensor::default(); MAX_ENTRIES + 1];
        assert!(check_wire(&r.encode_to_vec()).is_err());
        // Not protobuf: left to prost's own error.
        assert!(check_wire(&[0xff, 0xff]).is_ok());
    }

    #[test]
    fn counts_and_contents_disagreeing_are_refused() {
        let mut r = request(1, 4);
        r.raw_input_contents = vec![vec![], vec![]];
        assert!(infer_call(r)
            .unwrap_err()
            .message
            .contains("raw_input_contents"));
        let mut r = request(1, 4);
        r.outputs = vec![InferRequestedOutputTensor {
            name: "logits".into(),
            parameters: [(
                "classification".to_string(),
                InferParameter {
                    parameter_choice: Some(ParameterChoice::Int64Param(-2)),
                },
            )]
            .into(),
        }];
        assert!(infer_call(r)
            .unwrap_err()
            .message
            .contains("classification"));
    }
}
