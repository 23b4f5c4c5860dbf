//! ONNX models (`ModelProto` protobuf) from Paddle2ONNX, `torch.onnx.export` and timm: the graph's
//! nodes in the common op form, float initializers as parameters (`raw_data` or the typed
//! fields; data in an external file is refused with a message saying so).

use prost::Message;

use super::paddle_attrs::pair;
use super::pdmodel::format_error;
use super::program::{foreign_op_reason, DeployFormat, Op, OpKind, Program};
use super::proto::{onnx_type, AttributeProto, ModelProto, NodeProto, TensorProto};
use crate::error::Result;
use crate::tensor::{Tensor, TensorMap};

const FORMAT: &str = "ONNX";
/// The default-domain opsets whose ResNet ops we know (Conv, BatchNormalization, pools, Gemm
/// keep their meaning across these).
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=23;

pub fn parse_onnx(bytes: &[u8], path: &str) -> Result<Program> {
    let err = |reason: String| format_error(path, FORMAT, reason);
    super::budget::check_protobuf(bytes, &super::budget::MODEL_PROTO).map_err(err)?;
    let model = ModelProto::decode(bytes).map_err(|e| err(format!("not an ONNX protobuf: {e}")))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain.as_deref(), None | Some("") | Some("ai.onnx")))
        .and_then(|o| o.version)
        .ok_or_else(|| err("no default-domain opset in `opset_import`".into()))?;
    if !OPSETS.contains(&opset) {
        return Err(err(format!(
            "opset {opset} is not supported (this reader knows opsets {} to {})",
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    let graph = model
        .graph
        .ok_or_else(|| err("the model has no graph".into()))?;
    let mut params = TensorMap::new();
    for t in &graph.initializer {
        if let Some(tensor) = initializer(t, path)? {
            params.insert(t.name.clone().unwrap_or_default(), tensor);
        }
    }
    let init_names: std::collections::HashSet<&str> = graph
        .initializer
        .iter()
        .filter_map(|t| t.name.as_deref())
        .collect();
    let input = graph
        .input
        .iter()
        .find(|v| !init_names.contains(v.name.as_deref().unwrap_or("")))
        .ok_or_else(|| err("the graph has no input that is not an initializer".into()))?;
    let input_shape = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.iter().map(|d| d.dim_value.unwrap_or(-1)).collect())
        .unwrap_or_default();
    let output = graph
        .output
        .first()
        .and_then(|o| o.name.clone())
        .ok_or_else(|| err("the graph has no output".into()))?;
    let ops = graph
        .node
        .iter()
        .enumerate()
        .map(|(index, n)| convert(index, n))
        .collect();
    Ok(Program {
        format: DeployFormat::Onnx,
        source: path.to_string(),
        input_name: input.name.clone().unwrap_or_default(),
        input_shape,
        output,
        ops,
        params,
    })
}

/// A float initializer as a tensor; `None` for integer ones (shape constants).
fn initializer(t: &TensorProto, path: &str) -> Result<Option<Tensor>> {
    let name = t.name.clone().unwrap_or_default();
    let err = |reason: String| crate::error::Error::tensor(path, name.clone(), reason);
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        let location = t
            .external_data
            .iter()
            .find(|e| e.key.as_deref() == Some("location"))
            .and_then(|e| e.value.clone())
            .unwrap_or_default();
        return Err(err(format!(
            "its data is in an external file (`{location}`); save the model with the weights inside (onnx.save_model(model, path, save_as_external_data=False))"
        )));
    }
    let dtype = t.data_type.unwrap_or(0);
    let width = match dtype {
        onnx_type::FLOAT => 4,
        onnx_type::FLOAT16 => 2,
        onnx_type::DOUBLE => 8,
        _ => return Ok(None),
    };
    let mut numel: usize = 1;
    for &d in &t.dims {
        let d =
            usize::try_from(d).map_err(|_| err(format!("negative dimension in {:?}", t.dims)))?;
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| err(format!("shape {:?} overflows", t.dims)))?;
    }
    let data: Vec<f32> = match &t.raw_data {
        Some(raw) if !raw.is_empty() || numel == 0 => {
            if Some(raw.len()) != numel.checked_mul(width) {
                return Err(err(format!(
                    "raw_data holds {} bytes, shape {:?} needs {}",
                    raw.len(),
                    t.dims,
                    numel.saturating_mul(width)
                )));
            }
            super::floats_le(raw, width)
        }
        _ => match dtype {
            onnx_type::FLOAT => t.float_data.clone(),
            onnx_type::FLOAT16 => t
                .int32_data
                .iter()
                .map(|&v| half::f16::from_bits(v as u16).to_f32())
                .collect(),
            _ => t.double_data.iter().map(|&v| v as f32).collect(),
        },
    };
    if data.len() != numel {
        return Err(err(format!(
            "holds {} values, shape {:?} needs {numel}",
            data.len(),
            t.dims
        )));
    }
    let stored = match width {
        4 => "float32",
        2 => "float16",
        _ => "float64",
    };
    Ok(Some(Tensor {
        shape: t.dims.iter().map(|&d| d as usize).collect(),
        data,
        stored_dtype: stored.into(),
    }))
}

fn find<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name.as_deref() == Some(name))
}

fn convert(index: usize, n: &NodeProto) -> Op {
    let op_type = n.op_type.clone().unwrap_or_default();
    let int = |name: &str, d: i64| find(n, name).and_then(|a| a.i).unwrap_or(d);
    let ints = |name: &str| find(n, name).map(|a| a.ints.clone()).unwrap_or_default();
    let float = |name: &str, d: f32| find(n, name).and_then(|a| a.f).unwrap_or(d);
    let auto_pad = || {
        find(n, "auto_pad")
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .filter(|s| !s.is_empty() && s != "NOTSET")
    };
    let pads4 = || match ints("pads").as_slice() {
        [t, l, b, r] => [*t, *l, *b, *r],
        _ => [0; 4],
    };
    let first = |k: usize| n.input.iter().take(k).cloned().collect::<Vec<_>>();
    let foreign_domain = !matches!(n.domain.as_deref(), None | Some("") | Some("ai.onnx"));
    let (kind, inputs) = if foreign_domain {
        (
            OpKind::Unsupported(format!(
                "an op of domain `{}`",
                n.domain.clone().unwrap_or_default()
            )),
            n.input.clone(),
        )
    } else {
        match op_type.as_str() {
            "Conv" => (
                OpKind::Conv {
                    kernel: find(n, "kernel_shape").map(|a| pair(&a.ints, 0)),
                    stride: pair(&ints("strides"), 1),
                    pads: pads4(),
                    dilation: pair(&ints("dilations"), 1),
                    groups: int("group", 1),
                    auto_pad: auto_pad(),
                },
                first(3),
            ),
            "BatchNormalization" if int("training_mode", 0) != 0 => (
                OpKind::Unsupported("training_mode 1 (batch statistics)".into()),
                n.input.clone(),
            ),
            "BatchNormalization" if int("spatial", 1) != 1 => (
                OpKind::Unsupported("spatial 0 (per-position statistics)".into()),
                n.input.clone(),
            ),
            "BatchNormalization" => (
                OpKind::BatchNorm {
                    epsilon: float("epsilon", 1e-5),
                },
                first(5),
            ),
            "Relu" => (OpKind::Relu, first(1)),
            "Add" | "Sum" if n.input.len() == 2 => (OpKind::Add, first(2)),
            "MaxPool" | "AveragePool" if ints("dilations").iter().any(|&d| d != 1) => (
                OpKind::Unsupported(format!(
                    "dilations {:?} (pools are computed undilated)",
                    ints("dilations")
                )),
                n.input.clone(),
            ),
            "MaxPool" | "AveragePool" => (
                OpKind::Pool {
                    max: op_type == "MaxPool",
                    kernel: pair(&ints("kernel_shape"), 1),
                    stride: pair(&ints("strides"), 1),
                    pads: pads4(),
                    ceil: int("ceil_mode", 0) != 0,
                    exclusive: int("count_include_pad", 0) == 0,
                    global: false,
                    auto_pad: auto_pad(),
                },
                first(1),
            ),
            "GlobalAveragePool" => (
                OpKind::Pool {
                    max: false,
                    kernel: [1, 1],
                    stride: [1, 1],
                    pads: [0; 4],
                    ceil: false,
                    exclusive: true,
                    global: true,
                    auto_pad: None,
                },
                first(1),
            ),
            "Flatten" if int("axis", 1) != 1 => (
                OpKind::Unsupported(format!(
                    "axis {} (the classifier flattens from axis 1)",
                    int("axis", 1)
                )),
                n.input.clone(),
            ),
            "Flatten" | "Reshape" | "Squeeze" => (OpKind::Flatten, first(1)),
            "MatMul" => (OpKind::MatMul { transpose_b: false }, first(2)),
            "Gemm" => {
                if int("transA", 0) != 0 || float("alpha", 1.0) != 1.0 || float("beta", 1.0) != 1.0
                {
                    (
                        OpKind::Unsupported(
                            "a Gemm with transA, alpha or beta other than 0, 1, 1".into(),
                        ),
                        n.input.clone(),
                    )
                } else {
                    (
                        OpKind::MatMul {
                            transpose_b: int("transB", 0) != 0,
                        },
                        first(3),
                    )
                }
            }
            "Softmax" => (OpKind::Softmax, first(1)),
            "Identity" | "Dropout" => (OpKind::PassThrough, first(1)),
            "Shape" | "Slice" | "Concat" | "Constant" | "Gather" | "Unsqueeze" | "Cast" => {
                (OpKind::Bookkeeping, n.input.clone())
            }
            other => (
                OpKind::Unsupported(foreign_op_reason(other)),
                n.input.clone(),
            ),
        }
    };
    Op {
        index,
        op_type,
        kind,
        inputs,
        outputs: n.output.iter().take(1).cloned().collect(),
    }
}
