//! Decoding a REST inference request: the JSON head and, with the binary tensor data extension,
//! the binary tail it frames (`Inference-Header-Content-Length`, each input's
//! `binary_data_size`). Pure (no I/O), so the fuzz target `serve_rest` runs exactly this. Every
//! size is checked against the bytes that arrived; the binary slices must cover the tail exactly.

use std::marker::PhantomData;

use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::checked::{to_usize, MAX_DIMS};
use super::json_data;
use super::protocol::{ApiError, InferCall, InferInput, RequestedOutput, TensorData};

/// A decoded request and its request-level parameters.
#[derive(Debug)]
pub struct RestCall {
    pub call: InferCall,
    /// `binary_data_output`: outputs as binary unless an output says otherwise.
    pub binary_default: bool,
    pub allow_non_finite: bool,
}

/// The request head as serde reads it. Every field stays raw JSON text until its own check
/// reads it: a `serde_json::Value` costs 32 bytes and more per element, so the whole head as one
/// `Value` would hold 16x a `"data":[0,0,...]` body; here `data` is kept as its text (1x) and
/// decoded straight into the tensor, and any other field is read only while it is small.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow)]
    inputs: Option<&'a RawValue>,
    #[serde(borrow)]
    outputs: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct InputHead<'a> {
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    datatype: Option<&'a RawValue>,
    #[serde(borrow)]
    shape: Option<&'a RawValue>,
    #[serde(borrow)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// The most bytes of JSON text a field other than `data` may take (its `Value` costs up to
/// ~16x that).
pub const MAX_FIELD_BYTES: usize = 64 << 10;
/// The most entries of `inputs` and of `outputs` (the models here take one input and give one
/// output; a few more get their own clear refusal later).
pub const MAX_TENSORS: usize = 64;

/// A small field's JSON as a `Value`, refused past [`MAX_FIELD_BYTES`].
fn small(field: &str, raw: &RawValue) -> Result<Value, ApiError> {
    let text = raw.get();
    if text.len() > MAX_FIELD_BYTES {
        return Err(ApiError::bad(format!(
            "{field} takes {} bytes of JSON, more than the {MAX_FIELD_BYTES} read for it",
            text.len()
        )));
    }
    serde_json::from_str(text).map_err(|e| ApiError::bad(format!("{field}: {e}")))
}

fn param(
    field: &str,
    parameters: Option<&RawValue>,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    match parameters {
        None => Ok(None),
        Some(raw) => Ok(small(field, raw)?.get(name).cloned()),
    }
}

/// A JSON array of at most [`MAX_TENSORS`] `T`s, refused at the first one past it.
fn bounded_list<'a, T: Deserialize<'a>>(
    field: &str,
    raw: &'a RawValue,
) -> Result<Vec<T>, ApiError> {
    struct Bounded<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an array of at most {MAX_TENSORS} entries")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                if out.len() == MAX_TENSORS {
                    return Err(de::Error::custom(format!(
                        "more than {MAX_TENSORS} entries"
                    )));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    if !raw.get().starts_with('[') {
        return Err(ApiError::bad(format!("`{field}` must be an array")));
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.deserialize_seq(Bounded(PhantomData))
        .map_err(|e| ApiError::bad(format!("`{field}`: {e}")))
}

/// The JSON head's length from the `Inference-Header-Content-Length` header's value.
fn head_length(header: Option<&[u8]>, body_len: usize) -> Result<usize, ApiError> {
    let Some(raw) = header else {
        return Ok(body_len);
    };
    let n = std::str::from_utf8(raw)
        .ok()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::bad(format!(
                "Inference-Header-Content-Length `{}` is not a byte count",
                String::from_utf8_lossy(raw)
            ))
        })?;
    if n > body_len as u64 {
        return Err(ApiError::bad(format!(
            "Inference-Header-Content-Length {n} is past the body's {body_len} bytes"
        )));
    }
    Ok(n as usize)
}

fn shape_of(name: &str, raw: Option<&RawValue>) -> Result<Vec<i64>, ApiError> {
    let field = format!("input `{name}`: `shape`");
    let not_array = || ApiError::bad(format!("{field} must be an array"));
    let value = small(&field, raw.ok_or_else(not_array)?)?;
    let dims = value.as_array().ok_or_else(not_array)?;
    if dims.len() > MAX_DIMS {
        return Err(ApiError::bad(format!(
            "{field} has {} dimensions, more than {MAX_DIMS}",
            dims.len()
        )));
    }
    dims.iter()
        .enumerate()
        .map(|(i, d)| {
            d.as_i64().filter(|&d| d >= 0).ok_or_else(|| {
                ApiError::bad(format!(
                    "{field} element {i} ({d}) is not a dimension (an integer from 0 to {})",
                    i64::MAX
                ))
            })
        })
        .collect()
}

/// A string field of an input or output, e.g. its `name`.
fn string_field(field: &str, raw: Option<&RawValue>) -> Option<String> {
    small(field, raw?).ok()?.as_str().map(str::to_string)
}

/// Decode a request body; `header_length` is the `Inference-Header-Content-Length` value.
pub fn parse_request(header_length: Option<&[u8]>, body: &[u8]) -> Result<RestCall, ApiError> {
    let json_len = head_length(header_length, body.len())?;
    let text = &body[..json_len];
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    let head: Head = serde_json::from_slice(text).map_err(|e| {
        if first.is_some_and(|&b| b != b'{') && json_data::is_json(text) {
            ApiError::bad("the request must be a JSON object")
        } else {
            ApiError::bad(format!("the request is not valid JSON: {e}"))
        }
    })?;
    let mut binary = &body[json_len..];
    let flag = |name: &str| -> Result<bool, ApiError> {
        match param("the request's `parameters`", head.parameters, name)? {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| ApiError::bad(format!("parameter `{name}` must be true or false"))),
        }
    };
    let binary_default = flag("binary_data_output")?;
    let allow_non_finite = flag("allow_non_finite")?;
    let id = string_field("`id`", head.id);
    let inputs_json: Vec<InputHead> = match head.inputs {
        Some(raw) => bounded_list("inputs", raw)?,
        None => Vec::new(),
    };
    let mut inputs = Vec::new();
    for (i, input) in inputs_json.into_iter().enumerate() {
        let name = string_field("`name`", input.name)
            .ok_or_else(|| ApiError::bad(format!("input {i} has no `name`")))?;
        let datatype = string_field("`datatype`", input.datatype)
            .ok_or_else(|| ApiError::bad(format!("input `{name}` has no `datatype`")))?;
        let shape = shape_of(&name, input.shape)?;
        let field = format!("input `{name}`: binary_data_size");
        let data = match param(&field, input.parameters, "binary_data_size")? {
            Some(size) => {
                let size = size
                    .as_u64()
                    .ok_or_else(|| ApiError::bad(format!("{field} {size} is not a byte count")))?;
                let size = to_usize(&field, size)?;
                if size > binary.len() {
                    return Err(ApiError::bad(format!(
                        "{field} {size} is more than the {} byte(s) of binary data left",
                        binary.len()
                    )));
                }
                if input.data.is_some() {
                    return Err(ApiError::bad(format!(
                        "input `{name}` has both `data` and binary_data_size"
                    )));
                }
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                TensorData::Raw(mine.to_vec())
            }
            None => TensorData::Json(
                input
                    .data
                    .ok_or_else(|| {
                        ApiError::bad(format!("input `{name}` has neither `data` nor binary data"))
                    })?
                    .get()
                    .to_string(),
            ),
        };
        inputs.push(InferInput {
            name,
            datatype,
            shape,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(ApiError::bad(format!(
            "{} byte(s) of binary data after the JSON head are not claimed by any input's \
             binary_data_size (Inference-Header-Content-Length {json_len}, body {} bytes)",
            binary.len(),
            body.len()
        )));
    }
    let outputs = match head.outputs {
        Some(raw) => bounded_list::<&RawValue>("outputs", raw)?
            .into_iter()
            .enumerate()
            .map(|(i, o)| requested_output(i, &small(&format!("output {i}"), o)?))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(RestCall {
        call: InferCall {
            id,
            inputs,
            outputs,
        },
        binary_default,
        allow_non_finite,
    })
}

fn requested_output(i: usize, o: &Value) -> Result<RequestedOutput, ApiError> {
    let param = |o: &Value, name: &str| o.get("parameters")?.get(name).cloned();
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad(format!("output {i} has no `name`")))?
        .to_string();
    let classification = match param(o, "classification") {
        None => None,
        Some(v) => {
            let field = format!("output `{name}`: classification");
            let k = v
                .as_u64()
                .filter(|&k| k >= 1)
                .ok_or_else(|| ApiError::bad(format!("{field} {v} is not a count >= 1")))?;
            Some(to_usize(&field, k)?)
        }
    };
    let binary = match param(o, "binary_data") {
        None => None,
        Some(v) => Some(v.as_bool().ok_or_else(|| {
            ApiError::bad(format!(
                "output `{name}`: binary_data must be true or false"
            ))
        })?),
    };
    Ok(RequestedOutput {
        name,
        binary,
        classification,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(head: &str, tail: &[u8]) -> Vec<u8> {
        let mut body = head.as_bytes().to_vec();
        body.extend_from_slice(tail);
        body
    }

    fn refusal(header: Option<&str>, body: &[u8]) -> String {
        parse_request(header.map(str::as_bytes), body)
            .expect_err("accepted")
            .message
    }

    #[test]
    fn framing_sizes_are_checked_against_the_bytes() {
        let head = r#"{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}"#;
        let body = framed(head, &[0; 4]);
        let n = head.len().to_string();
        let call = parse_request(Some(n.as_bytes()), &body).unwrap().call;
        assert!(matches!(&call.inputs[0].data, TensorData::Raw(b) if b.len() == 4));
        // The header past the body, not a number, negative, or leaving bytes unclaimed.
        let m = refusal(Some("99999999999999999999999"), &body);
        assert!(m.contains("Inference-Header-Content-Length"), "{m}");
        assert!(refusal(Some("-1"), &body).contains("not a byte count"));
        let m = refusal(Some(&(head.len() - 1).to_string()), &body);
        assert!(m.contains("not valid JSON"), "{m}");
        let m = refusal(Some(&n), &framed(head, &[0; 5]));
        assert!(m.contains("1 byte(s)") && m.contains("not claimed"), "{m}");
        // binary_data_size past the tail, huge, negative, or a float.
        for size in ["5", "18446744073709551615", "-4", "4.5"] {
            let head = head.replace(
                "\"binary_data_size\":4",
                &format!("\"binary_data_size\":{size}"),
            );
            let m = refusal(Some(&head.len().to_string()), &framed(&head, &[0; 4]));
            assert!(m.contains("binary_data_size"), "{size}: {m}");
        }
    }

    #[test]
    fn shapes_and_counts_are_refused_by_name() {
        let with_shape = |shape: &str| {
            format!(r#"{{"inputs":[{{"name":"x","datatype":"FP32","shape":{shape},"data":[0]}}]}}"#)
        };
        for shape in [
            "[18446744073709551615,3]",
            "[-1,3]",
            "[1.5]",
            "[1,1,1,1,1,1,1,1,1]",
            "3",
        ] {
            let m = refusal(None, with_shape(shape).as_bytes());
            assert!(m.contains("`shape`"), "{shape}: {m}");
        }
        let classification = |k: &str| {
            format!(
                r#"{{"inputs":[],"outputs":[{{"name":"logits","parameters":{{"classification":{k}}}}}]}}"#
            )
        };
        for k in ["0", "-3", "1e30", "\"5\""] {
            let m = refusal(None, classification(k).as_bytes());
            assert!(m.contains("classification"), "{k}: {m}");
        }
        let m = refusal(None, br#"{"parameters":{"binary_data_output":1}}"#);
        assert!(m.contains("binary_data_output"), "{m}");
    }
}
