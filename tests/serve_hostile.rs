//! Hostile requests against `gpu-resnet serve`, over REST and gRPC: every client-supplied size
//! (shapes, element and byte counts, binary_data_size, Inference-Header-Content-Length,
//! classification counts, image counts and pixels, repeated-field counts) that overflows or
//! disagrees with the data is a 400 / InvalidArgument naming the field, and the server keeps
//! serving. Issue 23's cases: a 120-byte request whose shape claims 2^40 rows aborted the
//! process; a shape whose element count wraps to 0 was answered 200.

mod serve_support;

use gpu_resnet::app::serve::grpc_messages::{
    InferInputTensor, InferParameter, InferRequestedOutputTensor, InferTensorContents,
    ModelInferRequest, ModelInferResponse, ParameterChoice,
};
use prost::Message;
use serde_json::{json, Value};
use serve_support::{
    grpc_call, infer_binary, post, values, Server, GRPC_INVALID_ARGUMENT, GRPC_OK,
};

const SIZE: usize = 64;
const ROW: usize = 3 * SIZE * SIZE;

fn start() -> Server {
    Server::start(&[
        "--model",
        "ResNet18",
        "--size",
        "64",
        "--batch",
        "1,2",
        "--max-images",
        "4",
        "--max-request-pixels",
        "10000",
    ])
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        w,
        h,
        image::Rgba([9, 80, 200, 255]),
    ))
    .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
    .unwrap();
    out
}

/// POST `body` (with the header length when given): (status, the error message).
fn refused(server: &Server, body: &[u8], header_len: Option<usize>) -> (u16, String) {
    let (status, _, reply) = post(&server.url("/v2/models/ResNet18/infer"), body, header_len);
    let reply: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
    (
        status,
        reply["error"].as_str().unwrap_or_default().to_string(),
    )
}

fn framed(head: &Value, tail: &[u8]) -> (Vec<u8>, usize) {
    let head = head.to_string();
    let mut body = head.clone().into_bytes();
    body.extend_from_slice(tail);
    (body, head.len())
}

fn bytes_elements(items: &[Vec<u8>]) -> Vec<u8> {
    items
        .iter()
        .flat_map(|i| {
            (i.len() as u32)
                .to_le_bytes()
                .into_iter()
                .chain(i.iter().copied())
        })
        .collect()
}

#[test]
fn hostile_sizes_over_rest_are_400_naming_the_field() {
    let server = start();
    let row = values(3, ROW);
    let before = infer_binary(&server, "ResNet18", [1, 3, SIZE, SIZE], &row);
    let x = |shape: Value, data: Value| json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": data}]});
    let x_binary = |shape: Value, size: Value| {
        json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape,
                           "parameters": {"binary_data_size": size}}]})
    };
    let image = |shape: Value, size: usize| {
        json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": shape,
                           "parameters": {"binary_data_size": size}}]})
    };
    let two_images = bytes_elements(&[png(80, 80), png(80, 80)]);
    let one_image = bytes_elements(&[png(8, 8)]);
    let classify = |k: Value| {
        json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, SIZE, SIZE], "data": vec![0.0; ROW]}],
               "outputs": [{"name": "logits", "parameters": {"classification": k}}]})
    };
    // (what, head, binary tail, header length: None = the JSON's own, words the message names)
    type Case = (
        &'static str,
        Value,
        Vec<u8>,
        Option<usize>,
        &'static [&'static str],
    );
    let cases: Vec<Case> = vec![
        // Issue 23: 120 bytes whose shape claims 2^40 rows aborted the server.
        (
            "2^40 rows, JSON",
            x(json!([1099511627776u64, 3, SIZE, SIZE]), json!([0])),
            vec![],
            None,
            &["1 element(s)", "1099511627776"],
        ),
        (
            "2^40 rows, binary",
            x_binary(json!([1099511627776u64, 3, SIZE, SIZE]), json!(4)),
            vec![0; 4],
            None,
            &["4 byte(s)"],
        ),
        // Issue 22: 2^62 * 3 * 64 * 64 wraps to 0 and matched empty data (answered 200).
        (
            "wrapping count, JSON",
            x(json!([4611686018427387904u64, 3, SIZE, SIZE]), json!([])),
            vec![],
            None,
            &["overflows", "`x`"],
        ),
        (
            "wrapping count, binary",
            x_binary(json!([4611686018427387904u64, 3, SIZE, SIZE]), json!(0)),
            vec![],
            None,
            &["overflows"],
        ),
        (
            "negative rows",
            x(json!([-1, 3, SIZE, SIZE]), json!([0])),
            vec![],
            None,
            &["`shape` element 0"],
        ),
        (
            "shape past i64",
            x(json!([18446744073709551615u64, 3, SIZE, SIZE]), json!([0])),
            vec![],
            None,
            &["`shape` element 0"],
        ),
        (
            "binary_data_size past the tail",
            x_binary(json!([1, 3, SIZE, SIZE]), json!(ROW * 4)),
            vec![0; 8],
            None,
            &["binary_data_size", "8 byte(s)"],
        ),
        (
            "binary_data_size huge",
            x_binary(json!([1, 3, SIZE, SIZE]), json!(u64::MAX)),
            vec![0; 8],
            None,
            &["binary_data_size"],
        ),
        (
            "binary_data_size negative",
            x_binary(json!([1, 3, SIZE, SIZE]), json!(-8)),
            vec![0; 8],
            None,
            &["binary_data_size"],
        ),
        (
            "binary bytes unclaimed",
            x_binary(json!([1, 3, SIZE, SIZE]), json!(ROW * 4)),
            vec![0; ROW * 4 + 3],
            None,
            &["3 byte(s)", "not claimed"],
        ),
        (
            "binary size disagrees with shape",
            x_binary(json!([2, 3, SIZE, SIZE]), json!(ROW * 4)),
            vec![0; ROW * 4],
            None,
            &["`x`", "needs"],
        ),
        (
            "header length past the body",
            x(json!([1, 3, SIZE, SIZE]), json!([0])),
            vec![],
            Some(1 << 40),
            &["Inference-Header-Content-Length"],
        ),
        (
            "classification 0",
            classify(json!(0)),
            vec![],
            None,
            &["classification"],
        ),
        (
            "classification negative",
            classify(json!(-5)),
            vec![],
            None,
            &["classification"],
        ),
        (
            "classification huge float",
            classify(json!(1e300)),
            vec![],
            None,
            &["classification"],
        ),
        (
            "too many images",
            image(json!([5]), one_image.len()),
            one_image.clone(),
            None,
            &["5 images", "--max-images"],
        ),
        (
            "image count past u64",
            image(json!([18446744073709551615u64]), one_image.len()),
            one_image.clone(),
            None,
            &["`shape`"],
        ),
        (
            "pixel budget",
            image(json!([2]), two_images.len()),
            two_images.clone(),
            None,
            &["12800 pixels", "--max-request-pixels"],
        ),
        (
            "more BYTES elements than declared",
            image(json!([1]), two_images.len()),
            two_images.clone(),
            None,
            &["more than the 1"],
        ),
    ];
    for (what, head, tail, header_len, needles) in cases {
        let (body, json_len) = framed(&head, &tail);
        let header_len = header_len.or((!tail.is_empty()).then_some(json_len));
        let (status, message) = refused(&server, &body, header_len);
        assert_eq!(status, 400, "{what}: {status} {message}");
        for needle in needles {
            assert!(
                message.contains(needle),
                "{what}: `{message}` does not name `{needle}`"
            );
        }
    }
    // The server lived through all of it and answers as before.
    assert_eq!(
        infer_binary(&server, "ResNet18", [1, 3, SIZE, SIZE], &row),
        before
    );
}

fn grpc_request(inputs: Vec<InferInputTensor>, raw: Vec<Vec<u8>>) -> ModelInferRequest {
    ModelInferRequest {
        model_name: "ResNet18".into(),
        inputs,
        raw_input_contents: raw,
        ..Default::default()
    }
}

fn tensor(
    name: &str,
    datatype: &str,
    shape: Vec<i64>,
    contents: Option<InferTensorContents>,
) -> InferInputTensor {
    InferInputTensor {
        name: name.into(),
        datatype: datatype.into(),
        shape,
        contents,
        ..Default::default()
    }
}

fn fp32(values: Vec<f32>) -> Option<InferTensorContents> {
    Some(InferTensorContents {
        fp32_contents: values,
        ..Default::default()
    })
}

#[test]
fn hostile_sizes_over_grpc_are_invalid_argument_naming_the_field() {
    let server = start();
    let row = values(5, ROW);
    let rest = infer_binary(&server, "ResNet18", [1, 3, SIZE, SIZE], &row);
    let shape = |n: i64| vec![n, 3, SIZE as i64, SIZE as i64];
    let raw_row: Vec<u8> = bytemuck::cast_slice(&row).to_vec();

    // A valid request first: gRPC's logits are REST's.
    let ok = grpc_call(
        &server.grpc,
        "ModelInfer",
        grpc_request(
            vec![tensor("x", "FP32", shape(1), None)],
            vec![raw_row.clone()],
        )
        .encode_to_vec(),
    );
    assert_eq!(ok.code, GRPC_OK, "{}", ok.message);
    let reply = ModelInferResponse::decode(ok.body.as_slice()).unwrap();
    let logits: Vec<f32> = bytemuck::pod_collect_to_vec(&reply.raw_output_contents[0]);
    assert_eq!(logits[..1000], rest[..]);

    let classification = |k: ParameterChoice| {
        let mut r = grpc_request(
            vec![tensor("x", "FP32", shape(1), None)],
            vec![raw_row.clone()],
        );
        r.outputs = vec![InferRequestedOutputTensor {
            name: "logits".into(),
            parameters: [(
                "classification".to_string(),
                InferParameter {
                    parameter_choice: Some(k),
                },
            )]
            .into(),
        }];
        r
    };
    let images = |n: i64, files: Vec<Vec<u8>>| {
        grpc_request(
            vec![tensor(
                "image",
                "BYTES",
                vec![n],
                Some(InferTensorContents {
                    bytes_contents: files,
                    ..Default::default()
                }),
            )],
            vec![],
        )
    };
    let cases: Vec<(&str, ModelInferRequest, &[&str])> = vec![
        (
            "2^40 rows",
            grpc_request(
                vec![tensor("x", "FP32", shape(1 << 40), fp32(vec![0.0]))],
                vec![],
            ),
            &["1 element(s)"],
        ),
        (
            "wrapping count, raw",
            grpc_request(
                vec![tensor("x", "FP32", shape(1 << 62), None)],
                vec![vec![]],
            ),
            &["overflows"],
        ),
        (
            "wrapping count, contents",
            grpc_request(
                vec![tensor("x", "FP32", shape(1 << 62), fp32(vec![]))],
                vec![],
            ),
            &["overflows"],
        ),
        (
            "negative rows",
            grpc_request(
                vec![tensor("x", "FP32", shape(-1), fp32(vec![0.0]))],
                vec![],
            ),
            &["[-1, 3, 64, 64]"],
        ),
        (
            "raw bytes disagree with shape",
            grpc_request(
                vec![tensor("x", "FP32", shape(2), None)],
                vec![raw_row.clone()],
            ),
            &["needs"],
        ),
        (
            "raw contents per input",
            grpc_request(
                vec![tensor("x", "FP32", shape(1), None)],
                vec![raw_row.clone(), vec![]],
            ),
            &["raw_input_contents"],
        ),
        (
            "classification 0",
            classification(ParameterChoice::Int64Param(0)),
            &["classification"],
        ),
        (
            "classification as a string",
            classification(ParameterChoice::StringParam("3".into())),
            &["classification"],
        ),
        (
            "too many images",
            images(5, vec![png(8, 8); 5]),
            &["--max-images"],
        ),
        (
            "pixel budget",
            images(2, vec![png(80, 80), png(80, 80)]),
            &["--max-request-pixels"],
        ),
        (
            "too many inputs",
            grpc_request(vec![tensor("x", "FP32", shape(1), None); 65], vec![]),
            &["inputs"],
        ),
        (
            "too many dimensions",
            grpc_request(vec![tensor("x", "FP32", vec![1; 9], None)], vec![]),
            &["dimensions"],
        ),
    ];
    for (what, request, needles) in cases {
        let reply = grpc_call(&server.grpc, "ModelInfer", request.encode_to_vec());
        assert_eq!(
            reply.code, GRPC_INVALID_ARGUMENT,
            "{what}: {} {}",
            reply.code, reply.message
        );
        for needle in needles {
            assert!(
                reply.message.contains(needle),
                "{what}: `{}` does not name `{needle}`",
                reply.message
            );
        }
    }
    // Bytes that are no ModelInferRequest at all.
    let reply = grpc_call(&server.grpc, "ModelInfer", vec![0xff; 16]);
    assert_eq!(reply.code, GRPC_INVALID_ARGUMENT, "{}", reply.message);
    assert_eq!(
        infer_binary(&server, "ResNet18", [1, 3, SIZE, SIZE], &row),
        rest
    );
}

/// The fuzz seeds of `serve_rest` and `serve_grpc` (fuzz/serve): rewritten with
/// `GPU_RESNET_WRITE_FUZZ_SEEDS=1`; otherwise checked to be requests the decoding accepts.
#[test]
fn fuzz_seeds() {
    use gpu_resnet::app::serve::grpc_request::{check_wire, infer_call};
    use gpu_resnet::app::serve::rest_request::parse_request;
    let row: Vec<f32> = (0..12).map(|i| i as f32 / 4.0).collect();
    let raw: Vec<u8> = bytemuck::cast_slice(&row).to_vec();
    let half: Vec<u8> = row
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_bits().to_le_bytes())
        .collect();
    let image = png(2, 2);
    let with_header = |head: Value, tail: &[u8]| {
        let (body, n) = framed(&head, tail);
        let mut out = format!("#{n}\n").into_bytes();
        out.extend_from_slice(&body);
        out
    };
    let rest: Vec<(&str, Vec<u8>)> = vec![
        ("json_tensor", json!({"id": "a", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 2, 2], "data": row}]}).to_string().into_bytes()),
        ("binary_tensor", with_header(json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 2, 2], "parameters": {"binary_data_size": 48}}],
                                              "outputs": [{"name": "logits", "parameters": {"binary_data": true}}]}), &raw)),
        ("binary_fp16", with_header(json!({"inputs": [{"name": "x", "datatype": "FP16", "shape": [1, 3, 2, 2], "parameters": {"binary_data_size": 24}}],
                                            "parameters": {"binary_data_output": true, "allow_non_finite": true}}), &half)),
        ("json_image", json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["not an image"]}]}).to_string().into_bytes()),
        ("binary_image", with_header(json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1, 1], "parameters": {"binary_data_size": image.len() + 4}}]}),
                                      &bytes_elements(std::slice::from_ref(&image)))),
        ("classification", json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 2, 2], "data": [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, "NaN"]]]}],
                                  "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]}).to_string().into_bytes()),
    ];
    let classify = InferRequestedOutputTensor {
        name: "probabilities".into(),
        parameters: [(
            "classification".to_string(),
            InferParameter {
                parameter_choice: Some(ParameterChoice::Int64Param(2)),
            },
        )]
        .into(),
    };
    let grpc: Vec<(&str, Vec<u8>)> = vec![
        (
            "raw_tensor",
            grpc_request(
                vec![tensor("x", "FP32", vec![1, 3, 2, 2], None)],
                vec![raw.clone()],
            )
            .encode_to_vec(),
        ),
        (
            "raw_fp16",
            grpc_request(
                vec![tensor("x", "FP16", vec![1, 3, 2, 2], None)],
                vec![half],
            )
            .encode_to_vec(),
        ),
        ("fp32_contents", {
            let mut r = grpc_request(
                vec![tensor("x", "FP32", vec![1, 3, 2, 2], fp32(row.clone()))],
                vec![],
            );
            r.outputs = vec![classify.clone()];
            r.parameters = [(
                "allow_non_finite".to_string(),
                InferParameter {
                    parameter_choice: Some(ParameterChoice::BoolParam(true)),
                },
            )]
            .into();
            r.encode_to_vec()
        }),
        (
            "bytes_contents",
            grpc_request(
                vec![tensor(
                    "image",
                    "BYTES",
                    vec![1],
                    Some(InferTensorContents {
                        bytes_contents: vec![image.clone()],
                        ..Default::default()
                    }),
                )],
                vec![],
            )
            .encode_to_vec(),
        ),
    ];
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");
    for (target, seeds) in [("serve_rest", &rest), ("serve_grpc", &grpc)] {
        let dir = std::path::Path::new(root).join(target);
        for (name, bytes) in seeds {
            let path = dir.join(name);
            if std::env::var_os("GPU_RESNET_WRITE_FUZZ_SEEDS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, bytes).unwrap();
            }
            let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(&stored, bytes, "{}: rewrite the seeds", path.display());
        }
    }
    for (name, bytes) in &rest {
        let (header, body) = match bytes.strip_prefix(b"#") {
            Some(r) => {
                let i = r.iter().position(|&b| b == b'\n').unwrap();
                (Some(&r[..i]), &r[i + 1..])
            }
            None => (None, &bytes[..]),
        };
        parse_request(header, body).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, bytes) in &grpc {
        check_wire(bytes).unwrap();
        infer_call(ModelInferRequest::decode(bytes.as_slice()).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
