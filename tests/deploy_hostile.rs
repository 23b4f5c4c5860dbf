//! Hostile and foreign deployment files: truncated or mismatched `.pdiparams`, ops and opsets we
//! do not run, wrong pools, damaged protobuf and JSON, external ONNX data, cyclic programs. Each
//! gives an error naming the file, op or variable; none panics or hangs.

mod deploy_writer;

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
