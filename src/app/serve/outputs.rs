//! The response side of the protocol: the outputs a request asks for (`logits`,
//! `probabilities`, either as the classification extension's strings), checked before any GPU
//! work and encoded from a batch's logits for REST and gRPC alike.

use super::protocol::{
    join_bytes_elements, ApiError, RequestedOutput, LOGITS_OUTPUT, PROBABILITIES_OUTPUT,
};

/// One output tensor's elements.
#[derive(Debug)]
pub enum OutputData {
    Fp32(Vec<f32>),
    Bytes(Vec<Vec<u8>>),
}

#[derive(Debug)]
pub struct OutputTensor {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
    pub data: OutputData,
    /// REST: send as binary data (None: the request's default).
    pub binary: Option<bool>,
}

impl OutputTensor {
    /// The elements as the binary extension and gRPC's raw_output_contents lay them out.
    pub fn raw_bytes(&self) -> Vec<u8> {
        match &self.data {
            OutputData::Fp32(v) => bytemuck::cast_slice(v).to_vec(),
            OutputData::Bytes(items) => join_bytes_elements(items),
        }
    }

    /// The elements as a flat JSON array.
    pub fn json_data(&self) -> serde_json::Value {
        match &self.data {
            OutputData::Fp32(v) => serde_json::Value::Array(
                v.iter()
                    .map(|&x| {
                        serde_json::Number::from_f64(x as f64)
                            .map(serde_json::Value::Number)
                            // JSON has no NaN: Triton's convention is the string.
                            .unwrap_or_else(|| serde_json::Value::String(x.to_string()))
                    })
                    .collect(),
            ),
            OutputData::Bytes(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|i| serde_json::Value::String(String::from_utf8_lossy(i).into_owned()))
                    .collect(),
            ),
        }
    }
}

/// Check the requested outputs before any GPU work, so a bad name costs nothing.
pub fn check_outputs(outputs: &[RequestedOutput]) -> Result<(), ApiError> {
    for o in outputs {
        if o.name != LOGITS_OUTPUT && o.name != PROBABILITIES_OUTPUT {
            return Err(ApiError::bad(format!(
                "unknown output `{}`; this model has `{LOGITS_OUTPUT}` and `{PROBABILITIES_OUTPUT}`",
                o.name
            )));
        }
        if o.classification == Some(0) {
            return Err(ApiError::bad(format!(
                "output `{}`: classification needs k >= 1",
                o.name
            )));
        }
    }
    Ok(())
}

/// The outputs asked for (all of them when none was named), from `rows` rows of logits;
/// `labels`: the model's class names (inference.yml), else ImageNet's or `class_N`.
pub fn encode_outputs(
    requested: &[RequestedOutput],
    logits: Vec<f32>,
    rows: usize,
    classes: usize,
    labels: Option<&[String]>,
) -> Vec<OutputTensor> {
    let all;
    let requested = if requested.is_empty() {
        all = [LOGITS_OUTPUT, PROBABILITIES_OUTPUT].map(|name| RequestedOutput {
            name: name.into(),
            ..Default::default()
        });
        &all[..]
    } else {
        requested
    };
    let probabilities = || -> Vec<f32> {
        logits
            .chunks(classes.max(1))
            .flat_map(crate::classify::softmax)
            .collect()
    };
    requested
        .iter()
        .map(|o| {
            let values = if o.name == PROBABILITIES_OUTPUT {
                probabilities()
            } else {
                logits.clone()
            };
            match o.classification {
                Some(k) => {
                    let k = k.min(classes);
                    let items = values
                        .chunks(classes.max(1))
                        .flat_map(|row| {
                            crate::classify::top_k(row, k).into_iter().map(|p| {
                                format!(
                                    "{}:{}:{}",
                                    p.score,
                                    p.class_id,
                                    match labels {
                                        Some(l) => l[p.class_id].clone(),
                                        None => crate::labels::label(p.class_id, classes),
                                    }
                                )
                                .into_bytes()
                            })
                        })
                        .collect();
                    OutputTensor {
                        name: o.name.clone(),
                        datatype: "BYTES",
                        shape: vec![rows as i64, k as i64],
                        data: OutputData::Bytes(items),
                        binary: o.binary,
                    }
                }
                None => OutputTensor {
                    name: o.name.clone(),
                    datatype: "FP32",
                    shape: vec![rows as i64, classes as i64],
                    data: OutputData::Fp32(values),
                    binary: o.binary,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_strings() {
        let out = encode_outputs(
            &[RequestedOutput {
                name: LOGITS_OUTPUT.into(),
                binary: None,
                classification: Some(2),
            }],
            vec![0.5, 2.0, 1.0, 3.0, 0.0, 1.0],
            2,
            3,
            None,
        );
        match &out[0].data {
            OutputData::Bytes(items) => {
                assert_eq!(items[0], b"2:1:class_1");
                assert_eq!(items[3], b"1:2:class_2");
            }
            _ => panic!("expected BYTES"),
        }
        assert_eq!(out[0].shape, vec![2, 2]);
    }
}
