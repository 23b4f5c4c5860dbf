//! ONNX of an [`Export`]: Paddle2ONNX style or torch style, by the export's ops.

use super::*;
use gpu_resnet::weights::deploy::proto::*;
use prost::Message;

// ---- ONNX --------------------------------------------------------------------------------

fn o_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        ints: v.to_vec(),
        r#type: Some(7),
        ..Default::default()
    }
}
fn o_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        i: Some(v),
        r#type: Some(2),
        ..Default::default()
    }
}
fn node(ty: &str, ins: &[&str], out: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(ty.into()),
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: vec![out.to_string()],
        attribute,
        ..Default::default()
    }
}
fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeTensor {
                elem_type: Some(onnx_type::FLOAT),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: (d >= 0).then_some(d),
                            dim_param: (d < 0).then(|| "N".to_string()),
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

pub fn onnx_nodes(e: &Export) -> Vec<NodeProto> {
    e.ops
        .iter()
        .map(|op| match op {
            W::Conv {
                x,
                w,
                bias,
                out,
                k,
                stride,
            } => {
                let p = ((k - 1) / 2) as i64;
                let mut ins = vec![x.as_str(), w.as_str()];
                if let Some(b) = bias {
                    ins.push(b);
                }
                node(
                    "Conv",
                    &ins,
                    out,
                    vec![
                        o_ints("strides", &[*stride as i64; 2]),
                        o_ints("pads", &[p; 4]),
                        o_ints("dilations", &[1, 1]),
                        o_int("group", 1),
                        o_ints("kernel_shape", &[*k as i64; 2]),
                    ],
                )
            }
            W::Bn { x, p, out } => node(
                "BatchNormalization",
                &[
                    x,
                    &format!("{p}.w_0"),
                    &format!("{p}.b_0"),
                    &format!("{p}.w_1"),
                    &format!("{p}.w_2"),
                ],
                out,
                vec![AttributeProto {
                    name: Some("epsilon".into()),
                    f: Some(1e-5),
                    r#type: Some(1),
                    ..Default::default()
                }],
            ),
            W::Relu { x, out } => node("Relu", &[x], out, vec![]),
            W::Add { a, b, out } => node("Add", &[a, b], out, vec![]),
            W::MaxPool { x, out } => node(
                "MaxPool",
                &[x],
                out,
                vec![
                    o_ints("kernel_shape", &[3, 3]),
                    o_ints("strides", &[2, 2]),
                    o_ints("pads", &[1; 4]),
                ],
            ),
            W::AvgPool { x, out } => node(
                "AveragePool",
                &[x],
                out,
                vec![
                    o_ints("kernel_shape", &[2, 2]),
                    o_ints("strides", &[2, 2]),
                    o_ints("pads", &[0; 4]),
                    o_int("ceil_mode", 1),
                ],
            ),
            W::Gap { x, out } => node("GlobalAveragePool", &[x], out, vec![]),
            W::Flatten { x, out } => node("Flatten", &[x], out, vec![o_int("axis", 1)]),
            W::MatMul {
                x,
                w,
                out,
                trans_b,
                bias,
            } => match bias {
                Some(b) => node(
                    "Gemm",
                    &[x, w, b],
                    out,
                    vec![o_int("transB", *trans_b as i64)],
                ),
                None => node("MatMul", &[x, w], out, vec![]),
            },
        })
        .collect()
}

pub fn onnx_model(e: &Export, nodes: Vec<NodeProto>, opset: i64) -> Vec<u8> {
    let initializer = e
        .params
        .iter()
        .map(|(n, t)| TensorProto {
            name: Some(n.clone()),
            dims: t.shape.iter().map(|&d| d as i64).collect(),
            data_type: Some(onnx_type::FLOAT),
            raw_data: Some(t.data.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..Default::default()
        })
        .collect();
    ModelProto {
        ir_version: Some(8),
        producer_name: Some("deploy_writer".into()),
        opset_import: vec![OperatorSetId {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(GraphProto {
            node: nodes,
            name: Some("g".into()),
            initializer,
            input: vec![value_info(&e.input, &[-1, 3, e.hw.0, e.hw.1])],
            output: vec![value_info(&e.output, &[-1, -1])],
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

pub fn to_onnx(e: &Export) -> Vec<u8> {
    onnx_model(e, onnx_nodes(e), 13)
}

pub fn stage1_of(a: &Arch) -> Stage1Shortcut {
    let _ = a;
    Stage1Shortcut::Projection
}
