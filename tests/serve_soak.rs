//! The short load soak (`loadgen --soak`, about a minute on ResNet18 at 64x64): mixed batch
//! sizes, image requests, clients going away mid-request and bursts over --max-queue; it fails
//! on any lost request or on the server's resident memory growing past the bound.

mod serve_support;

use std::process::Command;

use serve_support::Server;

#[test]
fn a_minute_of_mixed_load_loses_nothing_and_memory_stays_flat() {
    let server = Server::start(&[
        "--model",
        "ResNet18",
        "--size",
        "64",
        "--batch",
        "1,2,4,8",
        "--max-queue",
        "12",
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_gpu-resnet"))
        .args(["loadgen", "--url", &server.http, "--model", "ResNet18"])
        .args([
            "--soak",
            "1",
            "--duration",
            "10",
            "--concurrency",
            "1,4,8,16",
        ])
        .args(["--max-rss-growth-mb", "64"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("lost 0;"), "{stdout}");
    // Every kind of traffic happened: answers, refusals of the bursts, clients going away.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| level"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    let total = |col: usize| {
        rows.iter()
            .map(|r| r[col].parse::<usize>().unwrap_or(0))
            .sum::<usize>()
    };
    assert!(rows.len() >= 4, "{stdout}");
    assert!(total(3) > 0 && total(4) > 0 && total(7) > 0, "{stdout}");
}
