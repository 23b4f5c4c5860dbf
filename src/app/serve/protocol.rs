//! The Open Inference Protocol's request and response, independent of the transport: REST (JSON
//! with the binary tensor data extension) and gRPC both decode into an [`InferCall`] and encode
//! from an [`InferOutputs`]. Every refusal is an [`ApiError`] naming the input, shape or datatype
//! at fault.

use half::f16;

pub use super::api_error::ApiError;
use super::checked::{self, byte_size, element_count, shape_text, RequestLimits};
use super::json_data;

/// An input tensor's elements as the transport delivered them.
#[derive(Debug)]
pub enum TensorData {
    /// The JSON `data` array's text (flat or nested, row-major), decoded straight into the
    /// tensor once its datatype and shape are checked (see `json_data`).
    Json(String),
    /// Little-endian bytes: the binary extension's slice or gRPC's raw_input_contents.
    Raw(Vec<u8>),
    /// gRPC's typed `contents`.
    Fp32(Vec<f32>),
    Bytes(Vec<Vec<u8>>),
}

#[derive(Debug)]
pub struct InferInput {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

/// One output the client asked for.
#[derive(Debug, Clone, Default)]
pub struct RequestedOutput {
    pub name: String,
    /// REST only: whether to send it as binary (None: the request's default).
    pub binary: Option<bool>,
    /// The classification extension: the top `k` classes as BYTES "score:index:label".
    pub classification: Option<usize>,
}

#[derive(Debug, Default)]
pub struct InferCall {
    pub id: Option<String>,
    pub inputs: Vec<InferInput>,
    /// Empty: every output, as the protocol says.
    pub outputs: Vec<RequestedOutput>,
}

/// The names the served models use for their tensors (the tensor input's is the model file's,
/// `x` for checkpoints and synthetic weights).
pub const TENSOR_INPUT: &str = "x";
pub const IMAGE_INPUT: &str = "image";
pub const LOGITS_OUTPUT: &str = "logits";
pub const PROBABILITIES_OUTPUT: &str = "probabilities";

/// What a model needs to check a request: its tensor input's name, input size and class count.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub tensor_name: String,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
}

/// The rows of a request, ready for the batcher.
pub enum Payload {
    /// NCHW float32, `rows * 3 * h * w` values.
    Tensor(Vec<f32>),
    /// Encoded image files, decoded off the async runtime before queueing.
    Encoded(Vec<Vec<u8>>),
}

/// Decode the request's single input into rows. `allow_non_finite`: pass NaN/Inf through
/// (they then propagate into the logits) instead of refusing them.
pub fn decode_inputs(
    inputs: Vec<InferInput>,
    spec: &InputSpec,
    limits: &RequestLimits,
    allow_non_finite: bool,
) -> Result<Payload, ApiError> {
    let mut inputs = inputs;
    if inputs.len() != 1 {
        return Err(ApiError::bad(format!(
            "expected exactly one input (`{}`: FP32/FP16 [N, 3, {}, {}], or \
             `{IMAGE_INPUT}`: BYTES [N] of encoded image files), got {}",
            spec.tensor_name,
            spec.height,
            spec.width,
            inputs.len()
        )));
    }
    let input = inputs.remove(0);
    match input.name.as_str() {
        name if name == spec.tensor_name => {
            decode_tensor(input, spec, allow_non_finite).map(Payload::Tensor)
        }
        IMAGE_INPUT => decode_images(input, limits).map(Payload::Encoded),
        other => Err(ApiError::bad(format!(
            "unknown input `{other}`; this model takes `{}` (FP32/FP16 [N, 3, {}, {}]) \
             or `{IMAGE_INPUT}` (BYTES [N])",
            spec.tensor_name, spec.height, spec.width
        ))),
    }
}

fn decode_tensor(
    input: InferInput,
    spec: &InputSpec,
    allow_non_finite: bool,
) -> Result<Vec<f32>, ApiError> {
    let name = &input.name;
    let (h, w) = (spec.height as i64, spec.width as i64);
    let shape = &input.shape;
    if shape.len() != 4 || shape[0] < 1 || shape[1] != 3 || shape[2] != h || shape[3] != w {
        return Err(ApiError::bad(format!(
            "input `{name}`: shape {} does not match the model's [N, 3, {h}, {w}] (N >= 1)",
            shape_text(shape)
        )));
    }
    // Checked: a wrapped product could match empty data (2^62 * 3 * 64 * 64 == 0 mod 2^64).
    let count = element_count(name, shape)?;
    let values: Vec<f32> = match (input.datatype.as_str(), input.data) {
        ("FP32", TensorData::Raw(bytes)) => {
            check_bytes(name, bytes.len(), count, 4)?;
            bytemuck::pod_collect_to_vec::<u8, f32>(&bytes)
        }
        ("FP16", TensorData::Raw(bytes)) => {
            check_bytes(name, bytes.len(), count, 2)?;
            bytemuck::pod_collect_to_vec::<u8, u16>(&bytes)
                .into_iter()
                .map(|b| f16::from_bits(b).to_f32())
                .collect()
        }
        ("FP32" | "FP16", TensorData::Json(text)) => json_data::numbers(&text, name, count)?,
        ("FP32", TensorData::Fp32(v)) => v,
        ("FP32" | "FP16", TensorData::Bytes(_)) => {
            return Err(ApiError::bad(format!(
                "input `{name}`: datatype {} but the data are bytes",
                input.datatype
            )))
        }
        ("FP16", TensorData::Fp32(_)) => {
            return Err(ApiError::bad(format!(
                "input `{name}`: FP16 data must come in raw_input_contents"
            )))
        }
        (other, _) => {
            return Err(ApiError::bad(format!(
                "input `{name}`: datatype {other} is not accepted; use FP32 or FP16 (or the \
                 BYTES input `{IMAGE_INPUT}` for image files)"
            )))
        }
    };
    if values.len() != count {
        return Err(ApiError::bad(format!(
            "input `{name}`: {} element(s) given, shape {} needs {count}",
            values.len(),
            shape_text(shape)
        )));
    }
    if !allow_non_finite {
        check_finite(name, &values)?;
    }
    Ok(values)
}

fn check_bytes(name: &str, got: usize, count: usize, size: usize) -> Result<(), ApiError> {
    let need = byte_size(name, count, size)?;
    if got != need {
        return Err(ApiError::bad(format!(
            "input `{name}`: {got} byte(s) of binary data, its shape needs {count} element(s) of \
             {size} bytes = {need}"
        )));
    }
    Ok(())
}

/// NaN or Inf in a host tensor would run to finite-looking logits (ReLU's max drops NaN).
fn check_finite(name: &str, values: &[f32]) -> Result<(), ApiError> {
    let mut bad = values.iter().enumerate().filter(|(_, v)| !v.is_finite());
    if let Some((first, v)) = bad.next() {
        let count = 1 + bad.count();
        return Err(ApiError::bad(format!(
            "input `{name}`: {count} non-finite value(s) (NaN or Inf), the first at flat index \
             {first} ({v}); send finite values, or set the request parameter \
             \"allow_non_finite\": true to have them propagate into the logits"
        )));
    }
    Ok(())
}

fn decode_images(input: InferInput, limits: &RequestLimits) -> Result<Vec<Vec<u8>>, ApiError> {
    let name = &input.name;
    if input.datatype != "BYTES" {
        return Err(ApiError::bad(format!(
            "input `{name}`: datatype {} is not accepted; image files are BYTES",
            input.datatype
        )));
    }
    let shape = &input.shape;
    let ok_shape = match shape.as_slice() {
        [n] => *n >= 1,
        [n, 1] => *n >= 1,
        _ => false,
    };
    if !ok_shape {
        return Err(ApiError::bad(format!(
            "input `{name}`: shape {} is not [N] or [N, 1] (one encoded image file per row)",
            shape_text(shape)
        )));
    }
    let count = checked::to_usize(&format!("input `{name}`: shape[0]"), shape[0] as u64)?;
    if count > limits.max_images {
        return Err(ApiError::bad(format!(
            "input `{name}`: {count} images in one request, over the limit of {} (--max-images)",
            limits.max_images
        )));
    }
    let items = match input.data {
        TensorData::Raw(bytes) => split_bytes_elements(&bytes, name, count)?,
        TensorData::Bytes(items) => items,
        TensorData::Json(text) if text.starts_with('[') => json_data::strings(&text, name, count)?,
        _ => {
            return Err(ApiError::bad(format!(
                "input `{name}`: BYTES data must be an array of strings or binary data"
            )))
        }
    };
    if items.len() != count {
        return Err(ApiError::bad(format!(
            "input `{name}`: {} element(s) given, shape {} needs {count}",
            items.len(),
            shape_text(shape)
        )));
    }
    Ok(items)
}

/// BYTES elements in binary form: each a little-endian u32 length, then that many bytes; more
/// than `max` elements are refused before they are copied.
pub fn split_bytes_elements(
    bytes: &[u8],
    name: &str,
    max: usize,
) -> Result<Vec<Vec<u8>>, ApiError> {
    let mut items = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if items.len() == max {
            return Err(ApiError::bad(format!(
                "input `{name}`: more than the {max} BYTES element(s) its shape declares"
            )));
        }
        if rest.len() < 4 {
            return Err(ApiError::bad(format!(
                "input `{name}`: BYTES element {} has a truncated length prefix",
                items.len()
            )));
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if rest.len() - 4 < len {
            return Err(ApiError::bad(format!(
                "input `{name}`: BYTES element {} claims {len} bytes, {} remain",
                items.len(),
                rest.len() - 4
            )));
        }
        items.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    Ok(items)
}

/// BYTES elements in binary form (the inverse of `split_bytes_elements`).
pub fn join_bytes_elements(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 4).sum());
    for item in items {
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> InputSpec {
        InputSpec {
            tensor_name: TENSOR_INPUT.into(),
            height: 2,
            width: 2,
            classes: 3,
        }
    }

    fn tensor(datatype: &str, shape: Vec<i64>, data: TensorData) -> Vec<InferInput> {
        vec![InferInput {
            name: TENSOR_INPUT.into(),
            datatype: datatype.into(),
            shape,
            data,
        }]
    }

    #[test]
    fn tensors_decode_and_refusals_name_the_fault() {
        let json = serde_json::json!([[1.0, 2.0, 3.0, 4.0], [5, 6, 7, 8], [9, 10, 11, 12]]);
        match decode_inputs(
            tensor("FP32", vec![1, 3, 2, 2], TensorData::Json(json.to_string())),
            &spec(),
            &RequestLimits::default(),
            false,
        ) {
            Ok(Payload::Tensor(v)) => assert_eq!(v[11], 12.0),
            _ => panic!("expected a tensor"),
        }
        let half: Vec<u8> = (0..12)
            .flat_map(|i| f16::from_f32(i as f32).to_bits().to_le_bytes())
            .collect();
        match decode_inputs(
            tensor("FP16", vec![1, 3, 2, 2], TensorData::Raw(half)),
            &spec(),
            &RequestLimits::default(),
            false,
        ) {
            Ok(Payload::Tensor(v)) => assert_eq!(v[5], 5.0),
            _ => panic!("expected a tensor"),
        }
        let err = |inputs| match decode_inputs(inputs, &spec(), &RequestLimits::default(), false) {
            Err(e) => e.message,
            Ok(_) => panic!("accepted"),
        };
        assert!(err(tensor(
            "INT8",
            vec![1, 3, 2, 2],
            TensorData::Raw(vec![0; 12])
        ))
        .contains("INT8"));
        assert!(
            err(tensor("FP32", vec![1, 3, 3, 2], TensorData::Raw(vec![]))).contains("[1, 3, 3, 2]")
        );
        assert!(err(tensor(
            "FP32",
            vec![1, 3, 2, 2],
            TensorData::Raw(vec![0; 44])
        ))
        .contains("44 byte"));
        let nan = serde_json::json!([0, 0, "NaN", 0, 0, 0, 0, "inf", 0, 0, 0, 0]);
        let m = err(tensor(
            "FP32",
            vec![1, 3, 2, 2],
            TensorData::Json(nan.to_string()),
        ));
        assert!(m.contains("2 non-finite") && m.contains("index 2"), "{m}");
    }

    #[test]
    fn bytes_elements_round_trip_and_truncation_is_refused() {
        let items = vec![b"abc".to_vec(), vec![], vec![0xff; 5]];
        let joined = join_bytes_elements(&items);
        assert_eq!(split_bytes_elements(&joined, "image", 3).unwrap(), items);
        assert!(split_bytes_elements(&joined[..joined.len() - 1], "image", 3).is_err());
        assert!(split_bytes_elements(&joined, "image", 2).is_err());
    }
}
