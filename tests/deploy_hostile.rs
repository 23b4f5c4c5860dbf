//! Hostile and foreign deployment files: truncated or mismatched `.pdiparams`, ops and opsets we
//! do not run, wrong pools, damaged protobuf and JSON, external ONNX data, cyclic programs. Each
//! gives an error naming the file, op or variable; none panics or hangs.

mod deploy_writer;
mod hostile_files;

use deploy_writer::*;
use gpu_resnet::arch;
use gpu_resnet::weights::synthetic_weights;

#[test]
fn truncated_pdiparams_names_the_variable() {
    let (_, f) = small_export();
    for cut in [1, 100, f.pdiparams.len() / 2, f.pdiparams.len() - 1] {
        let e = err_text(load_paddle(
            "inference.pdmodel",
            &f.pdmodel,
            &f.pdiparams[..cut],
        ));
        assert!(e.contains("variable `") && e.contains("ends"), "{e}");
    }
    let mut long = f.pdiparams.clone();
    long.extend_from_slice(&[0; 9]);
    let e = err_text(load_paddle("inference.pdmodel", &f.pdmodel, &long));
    assert!(e.contains("9 bytes left after the last variable"), "{e}");
}

#[test]
fn pdiparams_of_another_model_names_the_variable() {
    let (_, f) = small_export();
    let other = synthetic_weights(&arch::find_arch("ResNet34").unwrap(), 4, 9);
    let g = export(&other, "x", (224, 224), Style::Paddle);
    let e = err_text(load_paddle("inference.json", &f.pir, &g.pdiparams));
    assert!(
        e.contains("where the program declares") || e.contains("bytes left"),
        "{e}"
    );
    assert!(e.contains("variable `"), "{e}");
}

#[test]
fn an_op_we_do_not_run_is_named() {
    let (w, _) = small_export();
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let mut nodes = onnx_nodes(&e);
    // a MobileNet-like activation in the stem
    let relu = nodes
        .iter()
        .position(|n| n.op_type.as_deref() == Some("Relu"))
        .unwrap();
    nodes[relu].op_type = Some("HardSwish".into());
    let text = err_text(load_onnx(&onnx_model(&e, nodes.clone(), 13)));
    assert!(text.contains(&format!("op {relu} `HardSwish`")), "{text}");
    // a depthwise conv
    let mut nodes = onnx_nodes(&e);
    let conv = nodes
        .iter()
        .rposition(|n| n.op_type.as_deref() == Some("Conv"))
        .unwrap();
    for a in &mut nodes[conv].attribute {
        if a.name.as_deref() == Some("group") {
            a.i = Some(512);
        }
    }
    let text = err_text(load_onnx(&onnx_model(&e, nodes, 13)));
    assert!(
        text.contains(&format!("op {conv} `Conv`")) && text.contains("groups 512"),
        "{text}"
    );
    // the unsupported opset
    let text = err_text(load_onnx(&onnx_model(&e, onnx_nodes(&e), 99)));
    assert!(text.contains("opset 99"), "{text}");
}

#[test]
fn a_wrong_pool_is_named_with_what_the_architecture_has() {
    let a = arch::find_arch("ResNet18_vd").unwrap();
    let w = synthetic_weights(&a, 4, 9);
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let mut nodes = onnx_nodes(&e);
    let pool = nodes
        .iter()
        .position(|n| n.op_type.as_deref() == Some("AveragePool"))
        .unwrap();
    nodes[pool].attribute[0].ints = vec![3, 3];
    let text = err_text(load_onnx(&onnx_model(&e, nodes, 13)));
    assert!(
        text.contains(&format!("op {pool} `AveragePool`"))
            && text.contains("ResNet18_vd has a 2x2/2 average pool"),
        "{text}"
    );
}

#[test]
fn damaged_protobuf_is_an_error_not_a_panic() {
    let (_, f) = small_export();
    for bytes in [
        &f.pdmodel[..f.pdmodel.len() / 3],
        &[
            0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ][..],
        &[0x0a, 0x7f, 0x01][..],
    ] {
        let _ = err_text(load_paddle("inference.pdmodel", bytes, &f.pdiparams));
    }
    for bytes in [
        &f.onnx[..f.onnx.len() - 7],
        &[0x08, 0x80][..],
        &[0x08, 0x07, 0x3a, 0x7f][..],
    ] {
        let _ = err_text(load_onnx(bytes));
    }
    let _ = err_text(load_paddle(
        "inference.json",
        br#"{"base_code": {"magic": "pir"}, "program": 3}"#,
        &f.pdiparams,
    ));
    let _ = err_text(load_paddle(
        "inference.json",
        &f.pir[..f.pir.len() / 2],
        &f.pdiparams,
    ));
}

#[test]
fn onnx_external_data_is_refused_with_a_message() {
    use gpu_resnet::weights::deploy::proto::{ModelProto, StringStringEntry};
    use prost::Message;
    let (_, f) = small_export();
    let mut m = ModelProto::decode(f.onnx.as_slice()).unwrap();
    let t = &mut m.graph.as_mut().unwrap().initializer[0];
    t.raw_data = None;
    t.data_location = Some(1);
    t.external_data = vec![StringStringEntry {
        key: Some("location".into()),
        value: Some("weights.bin".into()),
    }];
    let e = err_text(load_onnx(&m.encode_to_vec()));
    assert!(e.contains("external file (`weights.bin`)"), "{e}");
}

#[test]
fn a_cyclic_program_is_an_error_not_a_hang() {
    let (w, _) = small_export();
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let mut nodes = onnx_nodes(&e);
    // the first block's input becomes the output of its own residual ReLU
    let pool = nodes
        .iter()
        .position(|n| n.op_type.as_deref() == Some("MaxPool"))
        .unwrap();
    let pooled = nodes[pool].output[0].clone();
    let relu = nodes
        .iter()
        .enumerate()
        .skip(pool)
        .filter(|(_, n)| n.op_type.as_deref() == Some("Relu"))
        .nth(2)
        .unwrap()
        .0;
    nodes[relu].output[0] = pooled;
    let _ = err_text(load_onnx(&onnx_model(&e, nodes, 13)));
}

#[test]
fn a_trailing_softmax_is_noted_and_the_logits_kept() {
    use gpu_resnet::weights::deploy::proto::NodeProto;
    let (w, _) = small_export();
    let mut e = build(&w, "x", (224, 224), Style::Paddle);
    let mut nodes = onnx_nodes(&e);
    nodes.push(NodeProto {
        op_type: Some("Softmax".into()),
        input: vec![e.output.clone()],
        output: vec!["probs".into()],
        ..Default::default()
    });
    e.output = "probs".into();
    let l = load_onnx(&onnx_model(&e, nodes, 13)).unwrap();
    assert!(l.info.softmax);
    assert_eq!(l.weights.fc_bias, w.fc_bias);
    assert!(l.report().contains("softmax"));
}

#[test]
fn bytes_of_no_known_format_are_named() {
    let e = err_text(load_onnx(b"GIF89a not a model"));
    assert!(
        e.contains("model.onnx") && e.contains("not a .pdparams pickle"),
        "{e}"
    );
}

/// Found by the `deploy_onnx` fuzz target: a conv whose weight initializer has no dims made the
/// matcher index an empty shape. Now an error.
#[test]
fn a_conv_weight_without_dims_is_an_error_not_a_panic() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/deploy/fuzz_conv_weight_without_dims.onnx"
    ))
    .unwrap();
    let _ = err_text(load_onnx(&bytes));
}

#[test]
fn an_alias_bomb_inference_yml_is_refused_before_it_expands() {
    use gpu_resnet::weights::inference_yml::parse_inference_yml;
    for block in [false, true] {
        let yml = hostile_files::alias_bomb(block);
        assert!(yml.len() < 2048, "{}", yml.len());
        let start = std::time::Instant::now();
        let e = parse_inference_yml(yml.as_bytes(), "inference.yml")
            .expect_err("an alias bomb must be refused")
            .to_string();
        assert!(
            e.contains("inference.yml") && e.contains("aliases") && e.contains("expand"),
            "{e}"
        );
        assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
    }
    // A few small aliases (PaddleX writes one) still read.
    let yml = "a: &a [1, 2]\nb: *a\nc: *a\nPreProcess: {transform_ops: [{ResizeImage: {resize_short: 256}}, {CropImage: {size: 224}}]}\n";
    let c = parse_inference_yml(yml.as_bytes(), "y").unwrap();
    assert_eq!((c.preprocess.resize_short, c.preprocess.crop), (256, 224));
}

/// The small export's ProgramDesc with `edit` applied to its ops.
fn edited_pdmodel(edit: impl Fn(&mut Vec<gpu_resnet::weights::deploy::proto::OpDesc>)) -> Vec<u8> {
    use gpu_resnet::weights::deploy::proto::ProgramDesc;
    use prost::Message;
    let (_, f) = small_export();
    let mut p = ProgramDesc::decode(f.pdmodel.as_slice()).unwrap();
    edit(&mut p.blocks[0].ops);
    p.encode_to_vec()
}

fn set_attr(
    op: &mut gpu_resnet::weights::deploy::proto::OpDesc,
    attr: gpu_resnet::weights::deploy::proto::OpAttr,
) {
    op.attrs.retain(|a| a.name != attr.name);
    op.attrs.push(attr);
}

fn battr(name: &str, b: bool) -> gpu_resnet::weights::deploy::proto::OpAttr {
    gpu_resnet::weights::deploy::proto::OpAttr {
        name: Some(name.into()),
        r#type: Some(6),
        b: Some(b),
        ..Default::default()
    }
}

fn first_op(ops: &mut [gpu_resnet::weights::deploy::proto::OpDesc], ty: &str) -> usize {
    ops.iter()
        .position(|o| o.r#type.as_deref() == Some(ty))
        .unwrap()
}

/// An edit of a program's ops.
type OpsEdit = dyn Fn(&mut Vec<gpu_resnet::weights::deploy::proto::OpDesc>);

#[test]
fn paddle_attributes_the_engine_does_not_compute_are_refused_by_name() {
    let (_, f) = small_export();
    let cases: Vec<(&str, Box<OpsEdit>, &str)> = vec![
        (
            "a global max pool",
            Box::new(|ops| {
                let i = ops
                    .iter()
                    .position(|o| {
                        o.r#type.as_deref() == Some("pool2d")
                            && o.attrs.iter().any(|a| a.s.as_deref() == Some("max"))
                    })
                    .unwrap();
                set_attr(&mut ops[i], battr("global_pooling", true));
            }),
            "global or adaptive max pool",
        ),
        (
            "a transposed matmul input",
            Box::new(|ops| {
                let i = first_op(ops, "matmul_v2");
                set_attr(&mut ops[i], battr("trans_x", true));
            }),
            "trans_x",
        ),
        (
            "a scaled matmul",
            Box::new(|ops| {
                let i = first_op(ops, "matmul_v2");
                ops[i].r#type = Some("matmul".into());
                set_attr(
                    &mut ops[i],
                    gpu_resnet::weights::deploy::proto::OpAttr {
                        name: Some("alpha".into()),
                        f: Some(2.0),
                        ..Default::default()
                    },
                );
            }),
            "alpha 2",
        ),
        (
            "training-mode batch norm",
            Box::new(|ops| {
                let i = first_op(ops, "batch_norm");
                set_attr(&mut ops[i], battr("is_test", false));
            }),
            "is_test false",
        ),
        (
            "NHWC conv",
            Box::new(|ops| {
                let i = first_op(ops, "conv2d");
                set_attr(
                    &mut ops[i],
                    gpu_resnet::weights::deploy::proto::OpAttr {
                        name: Some("data_format".into()),
                        s: Some("NHWC".into()),
                        ..Default::default()
                    },
                );
            }),
            "data_format `NHWC`",
        ),
        (
            "a pooling type of neither kind",
            Box::new(|ops| {
                let i = first_op(ops, "pool2d");
                for a in &mut ops[i].attrs {
                    if a.name.as_deref() == Some("pooling_type") {
                        a.s = Some("lp".into());
                    }
                }
            }),
            "pooling_type `lp`",
        ),
    ];
    for (what, edit, needle) in cases {
        let program = edited_pdmodel(edit);
        let e = err_text(load_paddle("inference.pdmodel", &program, &f.pdiparams));
        assert!(e.contains(needle) && e.contains("op "), "{what}: {e}");
    }
    // PIR: the same pool check through the JSON reader.
    let mut pir: serde_json::Value = serde_json::from_slice(&f.pir).unwrap();
    let ops = pir
        .pointer_mut("/program/regions/0/blocks/0/ops")
        .and_then(|o| o.as_array_mut())
        .unwrap();
    let pool = ops
        .iter_mut()
        .find(|o| o["#"] == "1.pool2d" && o.to_string().contains("\"max\""))
        .unwrap();
    for a in pool["A"].as_array_mut().unwrap() {
        if a["N"] == "global_pooling" {
            a["AT"]["D"] = serde_json::json!(true);
        }
    }
    let e = err_text(load_paddle(
        "inference.json",
        &serde_json::to_vec(&pir).unwrap(),
        &f.pdiparams,
    ));
    assert!(e.contains("global or adaptive max pool"), "{e}");
}

#[test]
fn onnx_attributes_the_engine_does_not_compute_are_refused_by_name() {
    use gpu_resnet::weights::deploy::proto::AttributeProto;
    let (w, _) = small_export();
    let e = build(&w, "x", (224, 224), Style::Paddle);
    let attr_i = |name: &str, i: i64| AttributeProto {
        name: Some(name.into()),
        i: Some(i),
        ..Default::default()
    };
    let attr_ints = |name: &str, ints: Vec<i64>| AttributeProto {
        name: Some(name.into()),
        ints,
        ..Default::default()
    };
    let cases = [
        (
            "MaxPool",
            attr_ints("dilations", vec![2, 2]),
            "dilations [2, 2]",
        ),
        (
            "BatchNormalization",
            attr_i("training_mode", 1),
            "training_mode",
        ),
        (
            "Conv",
            attr_ints("kernel_shape", vec![5, 5]),
            "kernel_shape [5, 5]",
        ),
        ("Flatten", attr_i("axis", 0), "axis 0"),
    ];
    for (ty, attr, needle) in cases {
        let mut nodes = onnx_nodes(&e);
        let at = nodes
            .iter()
            .position(|n| n.op_type.as_deref() == Some(ty))
            .unwrap_or_else(|| panic!("no {ty}"));
        nodes[at].attribute.retain(|a| a.name != attr.name);
        nodes[at].attribute.push(attr);
        let text = err_text(load_onnx(&onnx_model(&e, nodes, 13)));
        assert!(
            text.contains(&format!("op {at} `{ty}`")) && text.contains(needle),
            "{ty}: {text}"
        );
    }
}

#[test]
fn a_declared_input_past_u32_is_an_error_not_a_wrapped_size() {
    let (w, _) = small_export();
    let huge = (1i64 << 32) + 224;
    let f = export(&w, "x", (huge, huge), Style::Paddle);
    let source = gpu_resnet::WeightsSource::Bytes {
        name: "huge_input.onnx".into(),
        bytes: f.onnx,
    };
    let e = gpu_resnet::open::load_weights(&source, None)
        .map(|l| l.spec.crop)
        .expect_err("a 2^32+224 input must not become 224");
    let text = e.to_string();
    assert!(
        text.contains("huge_input.onnx") && text.contains(&huge.to_string()),
        "{text}"
    );
}
