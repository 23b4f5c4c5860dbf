//! Test-only writers: any architecture of the table with given weights as a ProgramDesc
//! `.pdmodel`, a PIR `inference.json`, a `.pdiparams` stream, or ONNX (Paddle2ONNX style with
//! BatchNormalization and MatMul + Add, or torch style with BN folded into conv biases and a
//! Gemm with transB=1). The op layout follows what PaddlePaddle 3.3.1 and Paddle2ONNX write for
//! the shared example; prost encodes the library's own message structs.

#![allow(dead_code)]

use gpu_resnet::arch::{Arch, Op as GOp, Stage1Shortcut};
use gpu_resnet::tensor::{Tensor, TensorMap};
use gpu_resnet::weights::deploy::proto::*;
use gpu_resnet::weights::{fold::fold_bn, ModelWeights};
use prost::Message;
use serde_json::{json, Value};

/// One op of the abstract export, in forward order. Values are named strings.
#[derive(Clone, Debug)]
pub enum W {
    Conv {
        x: String,
        w: String,
        bias: Option<String>,
        out: String,
        k: usize,
        stride: usize,
    },
    Bn {
        x: String,
        p: String,
        out: String,
    },
    Relu {
        x: String,
        out: String,
    },
    Add {
        a: String,
        b: String,
        out: String,
    },
    MaxPool {
        x: String,
        out: String,
    },
    AvgPool {
        x: String,
        out: String,
    },
    Gap {
        x: String,
        out: String,
    },
    Flatten {
        x: String,
        out: String,
    },
    MatMul {
        x: String,
        w: String,
        out: String,
        trans_b: bool,
        bias: Option<String>,
    },
}

pub struct Export {
    pub ops: Vec<W>,
    pub params: TensorMap,
    pub input: String,
    pub output: String,
    pub hw: (i64, i64),
}

/// How BatchNorm and the classifier are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// conv + batch_norm, MatMul [features, classes] + Add bias (Paddle, Paddle2ONNX).
    Paddle,
    /// conv with the BN folded into its bias, Gemm [classes, features] transB=1 (torch).
    TorchFolded,
}

pub fn build(w: &ModelWeights, input: &str, hw: (i64, i64), style: Style) -> Export {
    let g = w
        .arch
        .graph(hw.0 as usize, hw.1 as usize, w.classes, w.stage1);
    let t = |id: usize| {
        if id == g.input {
            input.to_string()
        } else {
            format!("t{id}")
        }
    };
    let mut ops = Vec::new();
    let mut params = TensorMap::new();
    let mut tmp = 0;
    let mut fresh = || {
        tmp += 1;
        format!("v{tmp}")
    };
    for op in &g.ops {
        match op {
            GOp::Conv {
                conv,
                input: i,
                residual,
                relu,
                output,
            } => {
                let layer = &g.convs[*conv];
                let mut x = t(*i);
                if layer.avg_pool_input {
                    let p = fresh();
                    ops.push(W::AvgPool { x, out: p.clone() });
                    x = p;
                }
                let wname = format!("conv2d_{conv}.w_0");
                let shape = vec![layer.cout, layer.cin, layer.kernel, layer.kernel];
                let c = fresh();
                let after_conv = match style {
                    Style::Paddle => {
                        params.insert(
                            wname.clone(),
                            Tensor::new(shape, w.convs[*conv].weight().to_vec()),
                        );
                        ops.push(W::Conv {
                            x,
                            w: wname,
                            bias: None,
                            out: c.clone(),
                            k: layer.kernel,
                            stride: layer.stride,
                        });
                        let gparams: [(&str, Vec<f32>); 4] = match &w.convs[*conv] {
                            gpu_resnet::weights::ConvBn::BatchNorm {
                                gamma,
                                beta,
                                mean,
                                var,
                                ..
                            } => [
                                ("w_0", gamma.clone()),
                                ("b_0", beta.clone()),
                                ("w_1", mean.clone()),
                                ("w_2", var.clone()),
                            ],
                            _ => panic!("Paddle style needs BatchNorm weights"),
                        };
                        let p = format!("batch_norm_{conv}");
                        for (suffix, v) in gparams {
                            params
                                .insert(format!("{p}.{suffix}"), Tensor::new(vec![layer.cout], v));
                        }
                        let b = fresh();
                        ops.push(W::Bn {
                            x: c,
                            p,
                            out: b.clone(),
                        });
                        b
                    }
                    Style::TorchFolded => {
                        let (fw, fb) = fold_bn(&w.convs[*conv]);
                        params.insert(wname.clone(), Tensor::new(shape, fw));
                        let bname = format!("conv2d_{conv}.b_0");
                        params.insert(bname.clone(), Tensor::new(vec![layer.cout], fb));
                        ops.push(W::Conv {
                            x,
                            w: wname,
                            bias: Some(bname),
                            out: c.clone(),
                            k: layer.kernel,
                            stride: layer.stride,
                        });
                        c
                    }
                };
                let summed = match residual {
                    Some(r) => {
                        let s = fresh();
                        ops.push(W::Add {
                            a: after_conv,
                            b: t(*r),
                            out: s.clone(),
                        });
                        s
                    }
                    None => after_conv,
                };
                if *relu {
                    ops.push(W::Relu {
                        x: summed,
                        out: t(*output),
                    });
                } else {
                    // no ReLU: name the output through a renaming relu-free path
                    let last = ops.last_mut().unwrap();
                    rename_out(last, t(*output));
                }
            }
            GOp::MaxPool { input: i, output } => ops.push(W::MaxPool {
                x: t(*i),
                out: t(*output),
            }),
            GOp::Head { input: i, .. } => {
                let (p, f, m) = (fresh(), fresh(), fresh());
                ops.push(W::Gap {
                    x: t(*i),
                    out: p.clone(),
                });
                ops.push(W::Flatten {
                    x: p,
                    out: f.clone(),
                });
                let features = g.features;
                params.insert(
                    "linear_0.b_0".into(),
                    Tensor::new(vec![w.classes], w.fc_bias.clone()),
                );
                match style {
                    Style::Paddle => {
                        params.insert(
                            "linear_0.w_0".into(),
                            Tensor::new(vec![features, w.classes], w.fc_weight.clone()),
                        );
                        ops.push(W::MatMul {
                            x: f,
                            w: "linear_0.w_0".into(),
                            out: m.clone(),
                            trans_b: false,
                            bias: None,
                        });
                        ops.push(W::Add {
                            a: m,
                            b: "linear_0.b_0".into(),
                            out: "logits".into(),
                        });
                    }
                    Style::TorchFolded => {
                        let mut tw = vec![0.0; features * w.classes];
                        for k in 0..features {
                            for c in 0..w.classes {
                                tw[c * features + k] = w.fc_weight[k * w.classes + c];
                            }
                        }
                        params.insert(
                            "linear_0.w_0".into(),
                            Tensor::new(vec![w.classes, features], tw),
                        );
                        ops.push(W::MatMul {
                            x: f,
                            w: "linear_0.w_0".into(),
                            out: "logits".into(),
                            trans_b: true,
                            bias: Some("linear_0.b_0".into()),
                        });
                    }
                }
            }
        }
    }
    Export {
        ops,
        params,
        input: input.to_string(),
        output: "logits".into(),
        hw,
    }
}

fn rename_out(op: &mut W, name: String) {
    match op {
        W::Conv { out, .. } | W::Bn { out, .. } | W::Add { out, .. } | W::Relu { out, .. } => {
            *out = name
        }
        _ => panic!("unexpected op before a ReLU-less output"),
    }
}

// ---- ProgramDesc -------------------------------------------------------------------------

fn slot(name: &str, args: &[&str]) -> OpVar {
    OpVar {
        parameter: Some(name.into()),
        arguments: args.iter().map(|s| s.to_string()).collect(),
    }
}
fn a_ints(name: &str, v: &[i32]) -> OpAttr {
    OpAttr {
        name: Some(name.into()),
        r#type: Some(attr_type::INTS),
        ints: v.to_vec(),
        ..Default::default()
    }
}
fn a_int(name: &str, v: i32) -> OpAttr {
    OpAttr {
        name: Some(name.into()),
        r#type: Some(attr_type::INT),
        i: Some(v),
        ..Default::default()
    }
}
fn a_str(name: &str, v: &str) -> OpAttr {
    OpAttr {
        name: Some(name.into()),
        r#type: Some(attr_type::STRING),
        s: Some(v.into()),
        ..Default::default()
    }
}
fn a_bool(name: &str, v: bool) -> OpAttr {
    OpAttr {
        name: Some(name.into()),
        r#type: Some(attr_type::BOOLEAN),
        b: Some(v),
        ..Default::default()
    }
}
fn a_f(name: &str, v: f32) -> OpAttr {
    OpAttr {
        name: Some(name.into()),
        r#type: Some(attr_type::FLOAT),
        f: Some(v),
        ..Default::default()
    }
}
fn pd_op(ty: &str, ins: Vec<OpVar>, outs: Vec<OpVar>, attrs: Vec<OpAttr>) -> OpDesc {
    OpDesc {
        r#type: Some(ty.into()),
        inputs: ins,
        outputs: outs,
        attrs,
    }
}
fn var(name: &str, dims: &[i64], persistable: bool) -> VarDesc {
    VarDesc {
        name: Some(name.into()),
        r#type: Some(VarType {
            r#type: Some(var_type::LOD_TENSOR),
            lod_tensor: Some(LoDTensorDesc {
                tensor: Some(TensorDesc {
                    data_type: Some(var_type::FP32),
                    dims: dims.to_vec(),
                }),
                lod_level: None,
            }),
        }),
        persistable: Some(persistable),
    }
}

fn pool_attrs(max: bool, k: i32, s: i32, p: i32, ceil: bool, global: bool) -> Vec<OpAttr> {
    vec![
        a_str("pooling_type", if max { "max" } else { "avg" }),
        a_ints("ksize", &[k, k]),
        a_ints("strides", &[s, s]),
        a_ints("paddings", &[p, p]),
        a_bool("ceil_mode", ceil),
        a_bool("exclusive", true),
        a_bool("global_pooling", false),
        a_bool("adaptive", global),
        a_str(
            "padding_algorithm",
            if !max && !global { "SAME" } else { "EXPLICIT" },
        ),
    ]
}

pub fn to_pdmodel(e: &Export) -> Vec<u8> {
    let mut vars = vec![
        VarDesc {
            name: Some("feed".into()),
            r#type: Some(VarType {
                r#type: Some(var_type::FEED_MINIBATCH),
                lod_tensor: None,
            }),
            persistable: Some(true),
        },
        VarDesc {
            name: Some("fetch".into()),
            r#type: Some(VarType {
                r#type: Some(var_type::FETCH_LIST),
                lod_tensor: None,
            }),
            persistable: Some(true),
        },
        var(&e.input, &[-1, 3, e.hw.0, e.hw.1], false),
    ];
    for (n, t) in &e.params {
        vars.push(var(
            n,
            &t.shape.iter().map(|&d| d as i64).collect::<Vec<_>>(),
            true,
        ));
    }
    let mut ops = vec![pd_op(
        "feed",
        vec![slot("X", &["feed"])],
        vec![slot("Out", &[&e.input])],
        vec![a_int("col", 0)],
    )];
    for op in &e.ops {
        ops.push(match op {
            W::Conv {
                x,
                w,
                out,
                k,
                stride,
                ..
            } => {
                let p = ((k - 1) / 2) as i32;
                pd_op(
                    "conv2d",
                    vec![slot("Filter", &[w]), slot("Input", &[x])],
                    vec![slot("Output", &[out])],
                    vec![
                        a_ints("strides", &[*stride as i32; 2]),
                        a_ints("paddings", &[p, p]),
                        a_ints("dilations", &[1, 1]),
                        a_int("groups", 1),
                        a_str("padding_algorithm", "EXPLICIT"),
                        a_str("data_format", "NCHW"),
                    ],
                )
            }
            W::Bn { x, p, out } => pd_op(
                "batch_norm",
                vec![
                    slot("Bias", &[&format!("{p}.b_0")]),
                    slot("Mean", &[&format!("{p}.w_1")]),
                    slot("Scale", &[&format!("{p}.w_0")]),
                    slot("Variance", &[&format!("{p}.w_2")]),
                    slot("X", &[x]),
                ],
                vec![
                    slot("MeanOut", &[&format!("{p}.w_1")]),
                    slot("VarianceOut", &[&format!("{p}.w_2")]),
                    slot("Y", &[out]),
                ],
                vec![a_f("epsilon", 1e-5), a_bool("is_test", true)],
            ),
            W::Relu { x, out } => pd_op(
                "relu",
                vec![slot("X", &[x])],
                vec![slot("Out", &[out])],
                vec![],
            ),
            W::Add { a, b, out } => pd_op(
                "elementwise_add",
                vec![slot("X", &[a]), slot("Y", &[b])],
                vec![slot("Out", &[out])],
                vec![a_int("axis", -1)],
            ),
            W::MaxPool { x, out } => pd_op(
                "pool2d",
                vec![slot("X", &[x])],
                vec![slot("Out", &[out])],
                pool_attrs(true, 3, 2, 1, false, false),
            ),
            W::AvgPool { x, out } => pd_op(
                "pool2d",
                vec![slot("X", &[x])],
                vec![slot("Out", &[out])],
                pool_attrs(false, 2, 2, 0, true, false),
            ),
            W::Gap { x, out } => pd_op(
                "pool2d",
                vec![slot("X", &[x])],
                vec![slot("Out", &[out])],
                pool_attrs(false, 1, 1, 0, false, true),
            ),
            W::Flatten { x, out } => pd_op(
                "flatten_contiguous_range",
                vec![slot("X", &[x])],
                vec![slot("Out", &[out])],
                vec![a_int("start_axis", 1), a_int("stop_axis", -1)],
            ),
            W::MatMul {
                x, w, out, trans_b, ..
            } => pd_op(
                "matmul_v2",
                vec![slot("X", &[x]), slot("Y", &[w])],
                vec![slot("Out", &[out])],
                vec![a_bool("trans_x", false), a_bool("trans_y", *trans_b)],
            ),
        });
    }
    ops.push(pd_op(
        "fetch",
        vec![slot("X", &[&e.output])],
        vec![slot("Out", &["fetch"])],
        vec![a_int("col", 0)],
    ));
    ProgramDesc {
        blocks: vec![BlockDesc {
            idx: Some(0),
            parent_idx: Some(-1),
            vars,
            ops,
        }],
    }
    .encode_to_vec()
}

pub fn to_pdiparams(e: &Export) -> Vec<u8> {
    gpu_resnet::weights::deploy::pdiparams::write_pdiparams(&e.params)
}

// ---- PIR JSON ----------------------------------------------------------------------------

fn at(name: &str, ty: &str, d: Value) -> Value {
    json!({"AT": {"#": ty, "D": d}, "N": name})
}
fn arr_i(v: &[i64]) -> Value {
    json!({"#": "0.a_array", "D": v.iter().map(|x| json!({"#": "0.a_i64", "D": x})).collect::<Vec<_>>()})["D"].clone()
}
fn tt(dims: &[i64]) -> Value {
    json!({"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, dims, "NCHW", [], 0]})
}

pub fn to_pir(e: &Export) -> Vec<u8> {
    let mut ids: std::collections::HashMap<String, i64> = Default::default();
    let mut next = 1;
    let mut id = |name: &str, ids: &mut std::collections::HashMap<String, i64>| -> i64 {
        *ids.entry(name.to_string()).or_insert_with(|| {
            next += 1;
            next
        })
    };
    let mut ops = Vec::new();
    for (n, t) in &e.params {
        let dims: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
        ops.push(json!({"#": "p", "A": [0, 1, 1, n], "DA": [], "O": {"%": id(n, &mut ids), "TT": tt(&dims)}, "OA": [], "QA": []}));
    }
    let v =
        |name: &str,
         ids: &mut std::collections::HashMap<String, i64>,
         id: &mut dyn FnMut(&str, &mut std::collections::HashMap<String, i64>) -> i64| json!({"%": id(name, ids)});
    let o =
        |name: &str,
         ids: &mut std::collections::HashMap<String, i64>,
         id: &mut dyn FnMut(&str, &mut std::collections::HashMap<String, i64>) -> i64| json!([{"%": id(name, ids), "TT": tt(&[-1])}]);
    ops.push(json!({"#": "1.data", "A": [at("name", "0.a_str", json!(e.input)), at("shape", "1.a_intarray", json!([-1, 3, e.hw.0, e.hw.1]))],
        "I": [], "O": o(&e.input, &mut ids, &mut id), "OA": []}));
    let mut konst = 0;
    for op in &e.ops {
        let op_json = match op {
            W::Conv {
                x,
                w,
                out,
                k,
                stride,
                ..
            } => {
                let p = ((k - 1) / 2) as i64;
                json!({"#": "1.conv2d", "A": [
                    at("strides", "0.a_array", arr_i(&[*stride as i64; 2])), at("paddings", "0.a_array", arr_i(&[p, p])),
                    at("padding_algorithm", "0.a_str", json!("EXPLICIT")), at("dilations", "0.a_array", arr_i(&[1, 1])),
                    at("groups", "0.a_i32", json!(1))],
                    "I": [v(x, &mut ids, &mut id), v(w, &mut ids, &mut id)], "O": o(out, &mut ids, &mut id)})
            }
            W::Bn { x, p, out } => {
                json!({"#": "1.batch_norm_", "A": [at("is_test", "0.a_bool", json!(true)), at("epsilon", "0.a_f32", json!(1e-5))],
                "I": [v(x, &mut ids, &mut id), v(&format!("{p}.w_1"), &mut ids, &mut id), v(&format!("{p}.w_2"), &mut ids, &mut id),
                      v(&format!("{p}.w_0"), &mut ids, &mut id), v(&format!("{p}.b_0"), &mut ids, &mut id)],
                "O": o(out, &mut ids, &mut id)})
            }
            W::Relu { x, out } => {
                json!({"#": "1.relu", "A": [], "I": [v(x, &mut ids, &mut id)], "O": o(out, &mut ids, &mut id)})
            }
            W::Add { a, b, out } => {
                json!({"#": "1.add", "A": [], "I": [v(a, &mut ids, &mut id), v(b, &mut ids, &mut id)], "O": o(out, &mut ids, &mut id)})
            }
            W::MaxPool { x, out } | W::AvgPool { x, out } | W::Gap { x, out } => {
                let (max, k, s, p, ceil, global) = match op {
                    W::MaxPool { .. } => (true, 3, 2, 1, false, false),
                    W::AvgPool { .. } => (false, 2, 2, 0, true, false),
                    _ => (false, 1, 1, 0, false, true),
                };
                konst += 1;
                let kname = format!("ksize{konst}");
                ops.push(json!({"#": "1.full_int_array", "A": [at("value", "0.a_array", arr_i(&[k, k]))], "I": [], "O": o(&kname, &mut ids, &mut id)}));
                json!({"#": "1.pool2d", "A": [
                    at("strides", "0.a_array", arr_i(&[s, s])), at("paddings", "0.a_array", arr_i(&[p, p])),
                    at("ceil_mode", "0.a_bool", json!(ceil)), at("exclusive", "0.a_bool", json!(true)),
                    at("pooling_type", "0.a_str", json!(if max { "max" } else { "avg" })),
                    at("global_pooling", "0.a_bool", json!(false)), at("adaptive", "0.a_bool", json!(global)),
                    at("padding_algorithm", "0.a_str", json!(if !max && !global { "SAME" } else { "EXPLICIT" }))],
                    "I": [v(x, &mut ids, &mut id), v(&kname, &mut ids, &mut id)], "O": o(out, &mut ids, &mut id)})
            }
            W::Flatten { x, out } => {
                json!({"#": "1.flatten", "A": [at("start_axis", "0.a_i32", json!(1)), at("stop_axis", "0.a_i32", json!(3))],
                "I": [v(x, &mut ids, &mut id)], "O": o(out, &mut ids, &mut id)})
            }
            W::MatMul {
                x, w, out, trans_b, ..
            } => {
                json!({"#": "1.matmul", "A": [at("transpose_x", "0.a_bool", json!(false)), at("transpose_y", "0.a_bool", json!(trans_b))],
                "I": [v(x, &mut ids, &mut id), v(w, &mut ids, &mut id)], "O": o(out, &mut ids, &mut id)})
            }
        };
        ops.push(op_json);
    }
    ops.push(json!({"#": "1.fetch", "A": [at("name", "0.a_str", json!("fetch_name_0"))], "I": [v(&e.output, &mut ids, &mut id)], "O": o("fetched", &mut ids, &mut id)}));
    let doc = json!({"base_code": {"magic": "pir", "trainable": true, "version": 4},
        "program": {"regions": [{"#": "region_0", "blocks": [{"#": "block_0", "args": [], "ops": ops}]}]}});
    serde_json::to_vec(&doc).unwrap()
}

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
