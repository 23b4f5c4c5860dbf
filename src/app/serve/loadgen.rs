//! `gpu-resnet loadgen`: drive a running server with N concurrent clients per level (blocking
//! HTTP clients on their own threads, binary tensor data both ways, as tritonclient sends it)
//! and report throughput and latency percentiles per level, as a table or JSON. Every loop is
//! bounded by a request count and a duration.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use super::soak::agent;
use crate::app::args::ListFormat;
use crate::error::{Error, Result};

#[derive(Args, Debug)]
pub struct LoadgenArgs {
    /// The server's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// The served model's name.
    #[arg(long)]
    pub model: String,
    /// Concurrent clients, one level after the other.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8,16")]
    pub concurrency: Vec<usize>,
    /// Images per request.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Seconds per level (after one warm-up request per client).
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Most requests per client and level.
    #[arg(long, default_value_t = 10_000)]
    pub max_requests: usize,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Run a load soak for this many minutes instead (levels of --duration seconds cycling
    /// --concurrency; mixed batch sizes, image requests, clients going away, bursts over the
    /// server's --max-queue). Fails on any lost request or memory growth.
    #[arg(long, value_name = "MINUTES")]
    pub soak: Option<f64>,
    /// With --soak: the most the server's resident memory may grow from the end of the first
    /// level to the end, in MB.
    #[arg(long, default_value_t = 64.0)]
    pub max_rss_growth_mb: f64,
}

#[derive(serde::Serialize)]
pub struct Level {
    pub concurrency: usize,
    pub requests: usize,
    pub errors: usize,
    pub images: usize,
    pub seconds: f64,
    pub images_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

fn http_error(url: &str) -> impl FnOnce(ureq::Error) -> Error + '_ {
    move |e| Error::Input(format!("{url}: {e}"))
}

/// The body of one request: a JSON head and `batch` rows of a fixed pseudo-random input.
fn request_body(shape: &[i64], batch: usize) -> (Vec<u8>, usize) {
    let row: usize = shape[1..].iter().map(|&d| d as usize).product();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let values: Vec<f32> = (0..row * batch)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
        })
        .collect();
    let bytes: &[u8] = bytemuck::cast_slice(&values);
    let mut full_shape = shape.to_vec();
    full_shape[0] = batch as i64;
    let head = json!({
        "inputs": [{"name": "x", "datatype": "FP32", "shape": full_shape,
                    "parameters": {"binary_data_size": bytes.len()}}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": true}}],
    })
    .to_string();
    let mut body = head.clone().into_bytes();
    body.extend_from_slice(bytes);
    (body, head.len())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn loadgen(args: LoadgenArgs) -> Result<()> {
    if args.batch == 0 || args.concurrency.contains(&0) {
        return Err(Error::Input(
            "--batch and --concurrency must be at least 1".into(),
        ));
    }
    let meta_url = format!("{}/v2/models/{}", args.url, args.model);
    let text = agent()
        .get(&meta_url)
        .call()
        .map_err(http_error(&meta_url))?
        .body_mut()
        .read_to_string()
        .map_err(http_error(&meta_url))?;
    let meta: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Input(format!("{meta_url}: not JSON ({e}): {text}")))?;
    let shape: Vec<i64> = meta["inputs"][0]["shape"]
        .as_array()
        .and_then(|s| s.iter().map(Value::as_i64).collect())
        .ok_or_else(|| Error::Input(format!("{meta_url}: no input shape in {meta}")))?;
    if let Some(minutes) = args.soak {
        let number = |v: &Value| v.as_u64().map(|n| n as usize);
        let target = super::soak::Target {
            url: args.url.clone(),
            model: args.model.clone(),
            shape,
            classes: number(&meta["outputs"][0]["shape"][1]).unwrap_or(1000),
            max_batch: number(&meta["parameters"]["max_batch_size"]).unwrap_or(8),
            max_queue: number(&meta["parameters"]["max_queue"]).unwrap_or(256),
        };
        return super::soak::soak(
            &target,
            minutes,
            args.duration,
            &args.concurrency,
            args.max_rss_growth_mb,
        );
    }
    let (body, head_len) = request_body(&shape, args.batch);
    let infer_url = format!("{}/v2/models/{}/infer", args.url, args.model);
    let mut levels = Vec::new();
    for &clients in &args.concurrency {
        let deadline_after = Duration::from_secs_f64(args.duration);
        let start = Instant::now();
        let results: Vec<(Vec<f64>, usize)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..clients)
                .map(|_| {
                    scope.spawn(|| {
                        let agent = agent();
                        let send = || -> bool {
                            agent
                                .post(&infer_url)
                                .header("Inference-Header-Content-Length", head_len.to_string())
                                .header("Content-Type", "application/octet-stream")
                                .send(&body[..])
                                .map(|mut r| {
                                    r.status() == 200 && r.body_mut().read_to_vec().is_ok()
                                })
                                .unwrap_or(false)
                        };
                        let mut latencies = Vec::new();
                        let mut errors = 0;
                        while latencies.len() + errors < args.max_requests
                            && start.elapsed() < deadline_after
                        {
                            let t = Instant::now();
                            if send() {
                                latencies.push(t.elapsed().as_secs_f64() * 1e3);
                            } else {
                                errors += 1;
                            }
                        }
                        (latencies, errors)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let seconds = start.elapsed().as_secs_f64();
        let mut latencies: Vec<f64> = results.iter().flat_map(|r| r.0.clone()).collect();
        latencies.sort_by(f64::total_cmp);
        let errors = results.iter().map(|r| r.1).sum();
        let images = latencies.len() * args.batch;
        levels.push(Level {
            concurrency: clients,
            requests: latencies.len(),
            errors,
            images,
            seconds,
            images_per_s: images as f64 / seconds,
            p50_ms: percentile(&latencies, 50.0),
            p90_ms: percentile(&latencies, 90.0),
            p99_ms: percentile(&latencies, 99.0),
        });
    }
    match args.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&levels).unwrap_or_default()
        ),
        ListFormat::Table => {
            println!("| concurrency | requests | errors | images/s | p50 ms | p90 ms | p99 ms |");
            println!("|---|---|---|---|---|---|---|");
            for l in &levels {
                println!(
                    "| {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.0} |",
                    l.concurrency,
                    l.requests,
                    l.errors,
                    l.images_per_s,
                    l.p50_ms,
                    l.p90_ms,
                    l.p99_ms
                );
            }
            if let (Some(one), Some(eight)) = (
                levels.iter().find(|l| l.concurrency == 1),
                levels.iter().find(|l| l.concurrency == 8),
            ) {
                println!(
                    "throughput at concurrency 8 / concurrency 1: {:.2}x",
                    eight.images_per_s / one.images_per_s
                );
            }
        }
    }
    Ok(())
}
