//! The serve tests' client side: the server binary on loopback ports, HTTP calls as a client
//! makes them, and a bare gRPC client (HTTP/2 frames around prost messages).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub http: String,
    /// host:port of the gRPC listener.
    pub grpc: String,
    /// What it printed before `serving:`.
    pub startup: Vec<String>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
            .args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--grpc-port",
                "0",
            ])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("the gpu-resnet binary starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut startup = Vec::new();
        let (http, grpc) = loop {
            let line = lines
                .next()
                .expect("the server prints `serving:` before it exits")
                .expect("stderr is text");
            eprintln!("server: {line}");
            startup.push(line.clone());
            if let Some(rest) = line.strip_prefix("serving: http ") {
                let words: Vec<&str> = rest.split_whitespace().collect();
                break (format!("http://{}", words[0]), words[2].to_string());
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            lines.for_each(|l| eprintln!("server: {}", l.unwrap_or_default()))
        });
        Server {
            child,
            http,
            grpc,
            startup,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// (status, body) of a GET.
pub fn get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().expect("the server answers");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

/// (status, headers' Inference-Header-Content-Length, body) of a POST.
pub fn post(url: &str, body: &[u8], header_len: Option<usize>) -> (u16, Option<usize>, Vec<u8>) {
    let mut req = agent().post(url);
    if let Some(n) = header_len {
        req = req.header("Inference-Header-Content-Length", n.to_string());
    }
    let mut r = req.send(body).expect("the server answers");
    let status = r.status().as_u16();
    let len = r
        .headers()
        .get("inference-header-content-length")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body = r
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap_or_default();
    (status, len, body)
}

/// Infer `rows` NCHW rows through the binary extension both ways; the logits `[rows][classes]`.
pub fn infer_binary(server: &Server, model: &str, shape: [usize; 4], values: &[f32]) -> Vec<f32> {
    let bytes: &[u8] = bytemuck::cast_slice(values);
    let head = json!({
        "inputs": [{"name": "x", "datatype": "FP32", "shape": shape,
                    "parameters": {"binary_data_size": bytes.len()}}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": true}}],
    })
    .to_string();
    let mut body = head.clone().into_bytes();
    body.extend_from_slice(bytes);
    let url = server.url(&format!("/v2/models/{model}/infer"));
    let (status, len, reply) = post(&url, &body, Some(head.len()));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let len = len.expect("a binary reply has Inference-Header-Content-Length");
    let head: Value = serde_json::from_slice(&reply[..len]).unwrap();
    let out = &head["outputs"][0];
    assert_eq!(out["name"], "logits");
    assert_eq!(out["datatype"], "FP32");
    let size = out["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
    assert_eq!(size, reply.len() - len);
    bytemuck::pod_collect_to_vec(&reply[len..])
}

/// Send `request` as is and read the reply until the server closes or goes quiet.
pub fn raw_request(http: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(http.trim_start_matches("http://")).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&reply).contains("}") {
            break;
        }
    }
    String::from_utf8_lossy(&reply).into_owned()
}

/// Deterministic pseudo-random values in [-2, 2).
pub fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}

/// A gRPC call's outcome: the status code (0: OK), its message, and the reply's bytes.
pub struct GrpcReply {
    pub code: u32,
    pub message: String,
    pub body: Vec<u8>,
}

/// Call `inference.GRPCInferenceService/{method}` with an encoded request message.
pub fn grpc_call(addr: &str, method: &str, message: Vec<u8>) -> GrpcReply {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut client = client.ready().await.unwrap();
        let request = http::Request::builder()
            .method("POST")
            .uri(format!(
                "http://{addr}/inference.GRPCInferenceService/{method}"
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let (response, mut send) = client.send_request(request, false).unwrap();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(&message);
        send.send_data(framed.into(), true).unwrap();
        let (parts, mut body) = response.await.unwrap().into_parts();
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await.unwrap().unwrap_or_default();
        let field = |name: &str| {
            trailers
                .get(name)
                .or(parts.headers.get(name))
                .map(|v| v.to_str().unwrap_or_default().to_string())
        };
        let code = field("grpc-status")
            .and_then(|s| s.parse().ok())
            .expect("grpc-status");
        let message = field("grpc-message")
            .unwrap_or_default()
            .replace("%20", " ");
        // One length-prefixed message (or none, with an error status).
        let body = if data.len() >= 5 {
            data[5..].to_vec()
        } else {
            Vec::new()
        };
        GrpcReply {
            code,
            message,
            body,
        }
    })
}

/// gRPC status codes the tests expect.
pub const GRPC_OK: u32 = 0;
pub const GRPC_INVALID_ARGUMENT: u32 = 3;
