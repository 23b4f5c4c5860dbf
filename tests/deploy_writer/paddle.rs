//! ProgramDesc protobuf, PIR JSON and `.pdiparams` of an [`Export`].

use super::*;
use gpu_resnet::weights::deploy::proto::*;
use prost::Message;
use serde_json::{json, Value};

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
