//! `gpu-resnet serve` end to end: the server binary on a loopback port, called over HTTP as a
//! client would. Small synthetic models (ResNet18 at 32x32) except where the golden case is the
//! point. The Python tests (scripts/test-tritonclient.sh) call it with the real tritonclient.

mod common;
mod serve_support;

use std::process::Command;
use std::sync::Arc;

use serde_json::{json, Value};
use serve_support::{get, infer_binary, post, raw_request, values, Server};

#[test]
fn golden_logits_equal_infer_and_paddle() {
    let weights = common::golden("ResNet18_vd.pdparams");
    let input = common::golden("ResNet18_vd.input.npy");
    let server = Server::start(&["--weights", weights.to_str().unwrap(), "--batch", "2"]);
    let (status, meta) = get(&server.url("/v2/models/ResNet18_vd"));
    assert_eq!(status, 200);
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, 3, 224, 224]));
    assert_eq!(meta["outputs"][0]["shape"], json!([-1, 1000]));

    let batch = gpu_resnet::npy::read_npy_f32(&input).unwrap();
    let served = infer_binary(&server, "ResNet18_vd", [2, 3, 224, 224], &batch.data);

    let out = std::env::temp_dir().join(format!("serve-golden-{}.npy", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args(["infer", "--model", "ResNet18_vd", "--weights"])
        .arg(&weights)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let infer = gpu_resnet::npy::read_npy_f32(&out).unwrap().data;
    let _ = std::fs::remove_file(&out);
    // The same plan (batch 2) on the same adapter: the same bits.
    assert_eq!(
        served, infer,
        "served logits differ from `gpu-resnet infer`'s"
    );
    let paddle = gpu_resnet::npy::read_npy_f32(&common::golden("ResNet18_vd.logits.npy"))
        .unwrap()
        .data;
    let err = common::rel_err(&served, &paddle);
    assert!(
        err <= 1e-3,
        "served logits vs PaddlePaddle: relative error {err}"
    );
}

/// The shared deployment example served from each of its three files at once (`NAME=PATH`,
/// no --model): each model's metadata shows the file's input name and class count, and its
/// logits on the golden input are `infer`'s on the same file (the same plan: the same bits).
#[test]
fn deployment_models_are_opened_as_infer_opens_them() {
    let files = [
        ("onnx", "deploy/ResNet18_vd.onnx"),
        ("pir", "deploy/ResNet18_vd_pir"),
        ("legacy", "deploy/ResNet18_vd_legacy"),
    ];
    let weights: Vec<String> = files
        .iter()
        .map(|(name, path)| format!("{name}={}", common::golden(path).display()))
        .collect();
    let mut args = vec!["--batch", "2"];
    for w in &weights {
        args.extend(["--weights", w.as_str()]);
    }
    let server = Server::start(&args);
    for (name, _) in files {
        let said = format!(
            "recognised ResNet18_vd (1000 classes, input x [N,3,224,224]) as model `{name}`"
        );
        assert!(
            server.startup.iter().any(|l| l.contains(&said)),
            "no `{said}` in {:?}",
            server.startup
        );
    }
    let input = common::golden("deploy/ResNet18_vd.input.npy");
    let batch = gpu_resnet::npy::read_npy_f32(&input).unwrap();
    let paddle = gpu_resnet::npy::read_npy_f32(&common::golden("deploy/ResNet18_vd.logits.npy"))
        .unwrap()
        .data;
    for (name, path) in files {
        let (status, meta) = get(&server.url(&format!("/v2/models/{name}")));
        assert_eq!(status, 200, "{meta}");
        let meta: Value = serde_json::from_str(&meta).unwrap();
        assert_eq!(meta["inputs"][0]["name"], "x", "{name}");
        assert_eq!(
            meta["inputs"][0]["shape"],
            json!([-1, 3, 224, 224]),
            "{name}"
        );
        assert_eq!(meta["outputs"][0]["shape"], json!([-1, 1000]), "{name}");
        assert_eq!(meta["parameters"]["architecture"], "ResNet18_vd", "{name}");
        let served = infer_binary(&server, name, [2, 3, 224, 224], &batch.data);

        let out =
            std::env::temp_dir().join(format!("serve-deploy-{name}-{}.npy", std::process::id()));
        let run = Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
            .args(["infer", "--weights"])
            .arg(common::golden(path))
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let infer = gpu_resnet::npy::read_npy_f32(&out).unwrap().data;
        let _ = std::fs::remove_file(&out);
        assert_eq!(
            served, infer,
            "{name}: served logits differ from `gpu-resnet infer`'s"
        );
        let err = common::rel_err(&served, &paddle);
        assert!(
            err <= 1e-3,
            "{name}: served logits vs PaddlePaddle: relative error {err}"
        );
    }
}

/// inference.yml beside a deployment model gives the `image` input its preprocessing (its own
/// resize, crop, mean and std) and the classification extension its labels.
#[test]
fn inference_yml_gives_images_their_preprocessing_and_classes_their_labels() {
    let dir = std::env::temp_dir().join(format!("serve-yml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["inference.json", "inference.pdiparams"] {
        std::fs::copy(
            common::golden(&format!("deploy/ResNet18_vd_pir/{f}")),
            dir.join(f),
        )
        .unwrap();
    }
    let labels: String = (0..1000)
        .map(|i| format!("    - 'yml class {i}'\n"))
        .collect();
    let yml = format!(
        "PreProcess:\n  transform_ops:\n  - ResizeImage:\n      resize_short: 300\n  - CropImage:\n      size: 224\n  - NormalizeImage:\n      mean: [0.5, 0.4, 0.3]\n      std: [0.2, 0.3, 0.25]\n      scale: 0.00392156862745098\n      order: ''\n  - ToCHWImage: null\nPostProcess:\n  Topk:\n    topk: 5\n    label_list:\n{labels}"
    );
    std::fs::write(dir.join("inference.yml"), yml).unwrap();
    let weights = format!("m={}", dir.display());
    let server = Server::start(&["--weights", &weights, "--batch", "1"]);
    let (_, meta) = get(&server.url("/v2/models/m"));
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["parameters"]["image_resize_short"], 300, "{meta}");
    assert_eq!(meta["parameters"]["labels"], "inference.yml", "{meta}");

    let image = image::RgbaImage::from_fn(90, 70, |x, y| {
        image::Rgba([(x * 2) as u8, (y * 3) as u8, 100, 255])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(image.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let cfg = gpu_resnet::PreprocessConfig {
        resize_short: 300,
        crop: 224,
        mean: [0.5, 0.4, 0.3],
        std: [0.2, 0.3, 0.25],
    };
    let tensor = gpu_resnet::preprocess::preprocess(&image, &cfg).unwrap();
    let want = infer_binary(&server, "m", [1, 3, 224, 224], &tensor);
    let mut bytes = (png.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&png);
    let head = json!({
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": bytes.len()}}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": true}},
                    {"name": "probabilities", "parameters": {"classification": 2, "binary_data": false}}],
    })
    .to_string();
    let mut body = head.clone().into_bytes();
    body.extend_from_slice(&bytes);
    let (status, len, reply) = post(&server.url("/v2/models/m/infer"), &body, Some(head.len()));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let len = len.unwrap();
    let got: Vec<f32> = bytemuck::pod_collect_to_vec(&reply[len..]);
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = got
        .iter()
        .zip(&want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= 1e-4 * scale,
        "image input vs its inference.yml preprocessing: {diff}"
    );
    let head: Value = serde_json::from_slice(&reply[..len]).unwrap();
    let top = head["outputs"][1]["data"][0].as_str().unwrap();
    let id = top.split(':').nth(1).unwrap();
    assert!(top.ends_with(&format!(":yml class {id}")), "{top}");
}

const SMALL: [&str; 8] = [
    "--model",
    "ResNet18",
    "--size",
    "32",
    "--batch",
    "1,4,8",
    "--max-body",
    "1000000",
];
const ROW: usize = 3 * 32 * 32;

#[test]
fn concurrent_clients_get_exactly_their_rows() {
    let server = Arc::new(Server::start(&SMALL));
    // A pool of distinct rows and their logits, each run alone.
    let pool: Vec<Vec<f32>> = (0..10).map(|i| values(i + 1, ROW)).collect();
    let reference: Vec<Vec<f32>> = pool
        .iter()
        .map(|row| infer_binary(&server, "ResNet18", [1, 3, 32, 32], row))
        .collect();
    let classes = reference[0].len();
    let scale = reference.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    let threads: Vec<_> = (0..12u64)
        .map(|client| {
            let (server, pool, reference) = (server.clone(), pool.clone(), reference.clone());
            std::thread::spawn(move || {
                let mut rng = values(100 + client, 64)
                    .into_iter()
                    .map(|v| ((v + 2.0) * 1000.0) as usize);
                for _ in 0..3 {
                    // 1..=11 rows: some requests span two plans' worth (split), most share batches.
                    let rows = 1 + rng.next().unwrap() % 11;
                    let picks: Vec<usize> = (0..rows)
                        .map(|_| rng.next().unwrap() % pool.len())
                        .collect();
                    let input: Vec<f32> = picks.iter().flat_map(|&p| pool[p].clone()).collect();
                    let got = infer_binary(&server, "ResNet18", [rows, 3, 32, 32], &input);
                    assert_eq!(got.len(), rows * classes);
                    for (row, &p) in got.chunks(classes).zip(&picks) {
                        let dist = |r: &Vec<f32>| {
                            row.iter()
                                .zip(r)
                                .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
                        };
                        let nearest = (0..pool.len())
                            .min_by(|&a, &b| dist(&reference[a]).total_cmp(&dist(&reference[b])))
                            .unwrap();
                        assert_eq!(
                            nearest, p,
                            "client {client}: a row came back as another row's"
                        );
                        assert!(
                            dist(&reference[p]) <= 1e-5 * scale,
                            "row {p} drifted: {}",
                            dist(&reference[p])
                        );
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("every client got its own rows");
    }
    let (_, metrics) = get(&server.url("/metrics"));
    let count = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{model=\"ResNet18\",version=\"1\"}}")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
    };
    assert_eq!(count("nv_inference_request_success"), 10 + 36);
    assert!(
        count("nv_inference_exec_count") < count("nv_inference_count"),
        "no batching happened"
    );
    assert_eq!(count("nv_inference_pending_request_count"), 0);
}

#[test]
fn protocol_surface_images_classification_and_every_bad_request() {
    let server = Server::start(&SMALL);
    let (status, body) = get(&server.url("/v2/health/ready"));
    assert_eq!((status, body.as_str()), (200, r#"{"ready":true}"#));
    let (status, body) = get(&server.url("/v2"));
    assert_eq!(status, 200);
    assert!(body.contains("binary_tensor_data") && body.contains("classification"));
    let (status, meta) = get(&server.url("/v2/models/ResNet18/versions/1"));
    assert_eq!(status, 200);
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, 3, 32, 32]));
    assert_eq!(get(&server.url("/v2/models/ResNet18/ready")).0, 200);
    assert_eq!(get(&server.url("/v2/models/nope/ready")).0, 404);

    // JSON data both ways, with the classification extension on the probabilities.
    let row = values(7, ROW);
    let logits = infer_binary(&server, "ResNet18", [1, 3, 32, 32], &row);
    let request = json!({
        "id": "r1",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 32, 32], "data": row}],
        "outputs": [{"name": "logits"}, {"name": "probabilities", "parameters": {"classification": 3}}],
    });
    let url = server.url("/v2/models/ResNet18/infer");
    let (status, _, reply) = post(&url, request.to_string().as_bytes(), None);
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["id"], "r1");
    let json_logits: Vec<f32> = reply["outputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(json_logits, logits);
    let top = gpu_resnet::classify::top_k(&gpu_resnet::classify::softmax(&logits), 3);
    let classes = reply["outputs"][1]["data"].as_array().unwrap();
    assert_eq!(reply["outputs"][1]["shape"], json!([1, 3]));
    for (c, t) in classes.iter().zip(&top) {
        let parts: Vec<&str> = c.as_str().unwrap().splitn(3, ':').collect();
        assert_eq!(parts[1].parse::<usize>().unwrap(), t.class_id);
        assert!((parts[0].parse::<f32>().unwrap() - t.score).abs() <= 1e-6);
        assert_eq!(parts[2], gpu_resnet::labels::label(t.class_id, 1000));
    }

    // Image bytes, preprocessed on the GPU, equal the CPU reference's tensor.
    let image = image::RgbaImage::from_fn(50, 40, |x, y| {
        image::Rgba([(x * 5) as u8, (y * 6) as u8, 128, 255])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(image.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let resize = meta["parameters"]["image_resize_short"].as_u64().unwrap() as u32;
    let cfg = gpu_resnet::PreprocessConfig::imagenet(resize, 32);
    let tensor = gpu_resnet::preprocess::preprocess(&image, &cfg).unwrap();
    let want = infer_binary(&server, "ResNet18", [1, 3, 32, 32], &tensor);
    let mut bytes = (png.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&png);
    let head = json!({
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": bytes.len()}}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": true}}],
    })
    .to_string();
    let mut body = head.clone().into_bytes();
    body.extend_from_slice(&bytes);
    let (status, len, reply) = post(&url, &body, Some(head.len()));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let got: Vec<f32> = bytemuck::pod_collect_to_vec(&reply[len.unwrap()..]);
    assert_eq!(
        got, want,
        "image input differs from its CPU-preprocessed tensor"
    );

    // Every class of bad request: an error naming the fault, and the server goes on serving.
    let x = |datatype: &str, shape: Value, data: Value| {
        json!({"inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}]})
            .to_string()
    };
    let bad: Vec<(&str, String, u16, &str)> = vec![
        ("wrong datatype", x("INT32", json!([1, 3, 32, 32]), json!([0])), 400, "INT32"),
        ("wrong shape", x("FP32", json!([1, 3, 16, 32]), json!([0])), 400, "[1, 3, 16, 32]"),
        ("element count", x("FP32", json!([1, 3, 32, 32]), json!([1.0, 2.0])), 400, "2 element(s)"),
        ("bad JSON", "{\"inputs\": [".into(), 400, "not valid JSON"),
        ("unknown input", json!({"inputs": [{"name": "y", "datatype": "FP32", "shape": [1], "data": [0]}]}).to_string(), 400, "`y`"),
        ("non-finite", x("FP32", json!([1, 3, 32, 32]), {
            let mut v = vec![json!(0.0); ROW];
            v[5] = json!("NaN");
            Value::Array(v)
        }), 400, "index 5"),
        ("unknown output", json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 32, 32], "data": vec![0.0; ROW]}],
                                  "outputs": [{"name": "softmax"}]}).to_string(), 400, "`softmax`"),
        ("not an image", json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["hello"]}]}).to_string(), 400, "element 0"),
    ];
    for (what, body, status, needle) in bad {
        let (got, _, reply) = post(&url, body.as_bytes(), None);
        let reply: Value =
            serde_json::from_slice(&reply).unwrap_or_else(|_| panic!("{what}: not JSON"));
        let message = reply["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error field"));
        assert_eq!(got, status, "{what}: {message}");
        assert!(
            message.contains(needle),
            "{what}: `{message}` does not name `{needle}`"
        );
    }
    let (status, _, reply) = post(&server.url("/v2/models/nope/infer"), b"{}", None);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&reply).contains("unknown model `nope`"));
    // A body over --max-body is refused from its Content-Length, before it is sent (a client
    // writing it all would only see the connection close under it).
    let reply = raw_request(
        &server.http,
        "POST /v2/models/ResNet18/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000001\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("--max-body"), "{reply}");
    // Still serving, with the same answer as before.
    assert_eq!(
        infer_binary(&server, "ResNet18", [1, 3, 32, 32], &row),
        logits
    );
}

#[test]
fn sigterm_finishes_requests_in_flight() {
    // One-row plans large enough to take a while each: six clients, most of them queued
    // behind the one running when the signal arrives.
    let mut server = Server::start(&["--model", "ResNet18", "--size", "160", "--batch", "1"]);
    let url = server.url("/v2/models/ResNet18/infer");
    let row = 3 * 160 * 160;
    let clients: Vec<_> = (0..6u64)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let body = json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 160, 160], "data": values(i, row)}]});
                post(&url, body.to_string().as_bytes(), None).0
            })
        })
        .collect();
    // Wait until at least two are queued (the gauge), then signal.
    let queued = |metrics: &str| {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    "nv_inference_pending_request_count{model=\"ResNet18\",version=\"1\"} ",
                )
            })
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    while queued(&get(&server.url("/metrics")).1) < 2 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for c in clients {
        assert_eq!(
            c.join().unwrap(),
            200,
            "a request in flight was lost at shutdown"
        );
    }
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "the server exited with {exit}");
}

#[test]
fn infer_refuses_non_finite_input_naming_count_and_index() {
    let dir = std::env::temp_dir().join(format!("serve-nan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut batch = vec![0.5f32; ROW];
    batch[17] = f32::NAN;
    batch[40] = f32::NEG_INFINITY;
    let input = dir.join("nan.npy");
    gpu_resnet::npy::write_npy_f32(&input, &[1, 3, 32, 32], &batch).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args(["infer", "--model", "ResNet18", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(dir.join("logits.npy"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "NaN input was answered: {stderr}");
    assert!(
        stderr.contains("2 non-finite") && stderr.contains("index 17"),
        "{stderr}"
    );
}
