//! `gpu-resnet fetch` against an HTTP server the test starts on 127.0.0.1 (no outside network):
//! a good download lands in the cache and `--weights NAME` finds it; a transfer cut half way,
//! a file of the wrong model and an unreachable server leave no file behind and say why.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Serve `body` for every request; with `cut`, announce the full length but stop half way.
fn serve(body: Vec<u8>, cut: bool, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let end = if cut { body.len() / 2 } else { body.len() };
            let _ = stream.write_all(&body[..end]);
        }
    });
    format!("http://{addr}")
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
}

fn cache(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gpu-resnet-fetch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn fetch_verifies_and_caches_then_weights_by_name_works() {
    let body = std::fs::read(golden("ResNet18_vd.pdparams")).unwrap();
    let url = serve(body.clone(), false, 1);
    let dir = cache("ok");
    let out = bin()
        .args(["fetch", "ResNet18_vd", "--mirror", &url, "--cache-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files_in(&dir), vec!["ResNet18_vd.pdparams".to_string()]);
    assert_eq!(
        std::fs::read(dir.join("ResNet18_vd.pdparams")).unwrap(),
        body
    );
    // --weights NAME resolves to the cached file
    let logits = dir.join("logits.npy");
    let out = bin()
        .args([
            "infer",
            "--model",
            "ResNet18_vd",
            "--weights",
            "ResNet18_vd",
            "--cache-dir",
        ])
        .arg(&dir)
        .arg("--input")
        .arg(golden("ResNet18_vd.input.npy"))
        .arg("--output")
        .arg(&logits)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = gpu_resnet::npy::read_npy_f32(&logits).unwrap();
    let want = gpu_resnet::npy::read_npy_f32(&golden("ResNet18_vd.logits.npy")).unwrap();
    assert!(rel_err(&got.data, &want.data) <= 1e-3);
}

#[test]
fn an_interrupted_transfer_leaves_no_half_file() {
    let body = std::fs::read(golden("ResNet18_vd.pdparams")).unwrap();
    let url = serve(body, true, 1);
    let dir = cache("cut");
    let out = bin()
        .args(["fetch", "ResNet18_vd", "--mirror", &url, "--cache-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("failed"), "{err}");
    assert!(
        files_in(&dir).is_empty(),
        "left behind: {:?}",
        files_in(&dir)
    );
}

#[test]
fn the_wrong_model_is_refused_and_not_cached() {
    // ResNet18_vd's weights served as ResNet50_vd's: the size check or the loader refuses them
    let body = std::fs::read(golden("ResNet18_vd.pdparams")).unwrap();
    let url = serve(body, false, 1);
    let dir = cache("wrong");
    let out = bin()
        .args(["fetch", "ResNet50_vd", "--mirror", &url, "--cache-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(files_in(&dir).is_empty());
}

#[test]
fn offline_and_not_downloaded_are_clear_errors() {
    let dir = cache("offline");
    // nothing listens on this port once the listener is dropped
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = bin()
        .args([
            "fetch",
            "ResNet18",
            "--mirror",
            &format!("http://127.0.0.1:{port}"),
            "--cache-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("offline?") && !err.contains("panicked"),
        "{err}"
    );
    let out = bin()
        .args([
            "infer",
            "--model",
            "ResNet18",
            "--weights",
            "ResNet18",
            "--cache-dir",
        ])
        .arg(&dir)
        .arg("--input")
        .arg(golden("ResNet18_vd.input.npy"))
        .args(["--output", "y.npy"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gpu-resnet fetch ResNet18") && err.contains("ResNet18.pdparams"),
        "{err}"
    );
}

/// Serve one request with up to `send` zero bytes, announcing `announce` as the length (none:
/// the body ends when the connection closes); returns the URL and how many bytes went out.
fn serve_flood(announce: Option<u64>, send: u64) -> (String, std::sync::mpsc::Receiver<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
            line.clear();
        }
        let length = announce
            .map(|n| format!("Content-Length: {n}\r\n"))
            .unwrap_or_default();
        let head = format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        let chunk = vec![0u8; 1 << 16];
        let mut sent = 0u64;
        while sent < send && stream.write_all(&chunk).is_ok() {
            sent += chunk.len() as u64;
        }
        let _ = tx.send(sent);
    });
    (format!("http://{addr}"), rx)
}

/// Run `fetch ResNet18_vd` from `url` into a fresh cache, killed after two minutes.
fn fetch_from(url: &str, tag: &str) -> (Option<i32>, String, PathBuf) {
    let dir = cache(tag);
    let mut child = bin()
        .args(["fetch", "ResNet18_vd", "--mirror", url, "--cache-dir"])
        .arg(&dir)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 120 {
            let _ = child.kill();
            panic!("fetch did not stop within two minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        dir,
    )
}

#[test]
fn a_download_past_the_expected_size_is_stopped_before_it_is_written() {
    let (_, most) = gpu_resnet::app::fetch::expected_bytes("ResNet18_vd").unwrap();
    // No length announced: the body runs on (up to twice the most a checkpoint has).
    let (url, sent) = serve_flood(None, 2 * most);
    let (code, err, dir) = fetch_from(&url, "flood");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("still going") && err.contains(&most.to_string()),
        "{err}"
    );
    assert!(files_in(&dir).is_empty(), "left: {:?}", files_in(&dir));
    let sent = sent.recv().unwrap();
    assert!(sent < 2 * most, "the whole {sent}-byte flood was read");
    // A length announced past it is refused before any byte of the body is written.
    let (url, _) = serve_flood(Some(10 << 30), 1 << 20);
    let (code, err, dir) = fetch_from(&url, "announced");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("announced as 10737418240 bytes"), "{err}");
    assert!(files_in(&dir).is_empty(), "left: {:?}", files_in(&dir));
}
