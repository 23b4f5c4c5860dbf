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
