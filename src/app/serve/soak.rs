//! `gpu-resnet loadgen --soak MINUTES`: a load soak. Levels of N clients (the --concurrency list,
//! cycled) run one after the other until the time is up. Each client mixes tensor requests of
//! random batch sizes (up to twice the largest plan, so some are split), image requests (BYTES
//! PNGs) and clients that go away mid-request (half a body sent, or a whole one never read);
//! each level starts with a burst of more requests than the server's --max-queue. Every request
//! sent whole must be answered: 200 with the right number of logits, or 503 "queue is full" /
//! 504 as docs/serving.md documents; anything else counts as lost. Per level it prints the
//! server's resident memory (its /metrics) and the p99. It fails on any lost request, or when
//! resident memory grows past `--max-rss-growth-mb` from the end of the first level to the end.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// What the soak needs to know of the served model.
pub struct Target {
    pub url: String,
    pub model: String,
    /// [N, 3, H, W] (N = -1).
    pub shape: Vec<i64>,
    pub classes: usize,
    pub max_batch: usize,
    pub max_queue: usize,
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    queue_full: AtomicUsize,
    timed_out: AtomicUsize,
    lost: AtomicUsize,
    disconnected: AtomicUsize,
}

/// An HTTP client that reads error statuses as answers (loadgen and the soak count them).
pub(super) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn framed(head: Value, tail: &[u8]) -> (Vec<u8>, usize) {
    let head = head.to_string();
    let mut body = head.clone().into_bytes();
    body.extend_from_slice(tail);
    (body, head.len())
}

impl Target {
    fn row_len(&self) -> usize {
        self.shape[1..].iter().map(|&d| d.max(0) as usize).product()
    }

    /// A tensor request of `rows` rows: (body, head length).
    fn tensor(&self, rows: usize, seed: &mut u64) -> (Vec<u8>, usize) {
        let values: Vec<f32> = (0..rows * self.row_len())
            .map(|_| (xorshift(seed) >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0)
            .collect();
        let bytes: &[u8] = bytemuck::cast_slice(&values);
        let mut shape = self.shape.clone();
        shape[0] = rows as i64;
        framed(
            json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape,
                               "parameters": {"binary_data_size": bytes.len()}}],
                   "outputs": [{"name": "logits", "parameters": {"binary_data": true}}]}),
            bytes,
        )
    }

    /// An image request: `rows` PNG files of 48x40.
    fn images(&self, rows: usize, seed: &mut u64) -> (Vec<u8>, usize) {
        let mut tail = Vec::new();
        for _ in 0..rows {
            let tint = xorshift(seed) as u8;
            let image = image::RgbImage::from_fn(48, 40, |x, y| {
                image::Rgb([(x * 5) as u8, (y * 6) as u8, tint])
            });
            let mut png = Vec::new();
            let _ = image::DynamicImage::ImageRgb8(image)
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
            tail.extend_from_slice(&(png.len() as u32).to_le_bytes());
            tail.extend_from_slice(&png);
        }
        framed(
            json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [rows],
                               "parameters": {"binary_data_size": tail.len()}}],
                   "outputs": [{"name": "logits", "parameters": {"binary_data": true}}]}),
            &tail,
        )
    }

    fn infer_url(&self) -> String {
        format!("{}/v2/models/{}/infer", self.url, self.model)
    }

    /// Send a request and sort its outcome; the latency in ms when answered 200.
    fn send(
        &self,
        agent: &ureq::Agent,
        (body, head): &(Vec<u8>, usize),
        rows: usize,
        tally: &Tally,
    ) -> Option<f64> {
        let start = Instant::now();
        let reply = agent
            .post(&self.infer_url())
            .header("Inference-Header-Content-Length", head.to_string())
            .header("Content-Type", "application/octet-stream")
            .send(&body[..]);
        let mut reply = match reply {
            Ok(r) => r,
            Err(e) => {
                eprintln!("soak: lost a request: {e}");
                tally.lost.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let status = reply.status().as_u16();
        let text = reply
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap_or_default();
        let documented = |needle: &str| String::from_utf8_lossy(&text).contains(needle);
        match status {
            200 => {
                let head_len = reply
                    .headers()
                    .get("inference-header-content-length")
                    .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
                let logits = head_len.map(|h| text.len().saturating_sub(h));
                if logits == Some(rows * self.classes * 4) {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                    return Some(start.elapsed().as_secs_f64() * 1e3);
                }
                eprintln!("soak: a 200 reply without {rows} rows of logits");
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
            503 if documented("queue is full") => {
                tally.queue_full.fetch_add(1, Ordering::Relaxed);
                // Back off as Retry-After asks (shortened: the soak wants load, not idle time).
                std::thread::sleep(Duration::from_millis(100));
            }
            504 if documented("--timeout-ms") => {
                tally.timed_out.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                eprintln!("soak: {status}: {}", String::from_utf8_lossy(&text));
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        None
    }

    /// A client that goes away: half the body sent, or all of it and the answer never read.
    fn disconnect(&self, (body, head): &(Vec<u8>, usize), half: bool, tally: &Tally) {
        let addr = self.url.trim_start_matches("http://");
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            tally.lost.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let sent = if half { body.len() / 2 } else { body.len() };
        let request = format!(
            "POST /v2/models/{}/infer HTTP/1.1\r\nHost: soak\r\nContent-Length: {}\r\n\
             Inference-Header-Content-Length: {head}\r\n\r\n",
            self.model,
            body.len()
        );
        let _ = stream.write_all(request.as_bytes());
        let _ = stream.write_all(&body[..sent]);
        tally.disconnected.fetch_add(1, Ordering::Relaxed);
    }
}

/// The server's resident memory in MB, from its /metrics.
fn server_rss_mb(url: &str) -> Option<f64> {
    let text = agent()
        .get(&format!("{url}/metrics"))
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let bytes: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))?
        .trim()
        .parse()
        .ok()?;
    Some(bytes / (1 << 20) as f64)
}

fn p99(mut latencies: Vec<f64>) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    latencies.sort_by(f64::total_cmp);
    latencies[((latencies.len() - 1) as f64 * 0.99).round() as usize]
}

/// Run the soak for `minutes`, `level_s` seconds a level, cycling `concurrency`.
pub fn soak(
    target: &Target,
    minutes: f64,
    level_s: f64,
    concurrency: &[usize],
    max_growth_mb: f64,
) -> Result<()> {
    let end = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    println!("| level | clients | answered | 503 queue full | 504 | lost | went away | images/s | p99 ms | server RSS MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let (mut first_rss, mut last_rss, mut lost) = (None, None, 0);
    let mut level = 0;
    while Instant::now() < end {
        let clients = concurrency[level % concurrency.len()];
        let tally = Tally::default();
        let images = AtomicUsize::new(0);
        let start = Instant::now();
        let until = start + Duration::from_secs_f64(level_s);
        let latencies: Vec<f64> = std::thread::scope(|scope| {
            // The burst: more single-row requests at once than the queue takes.
            let burst: Vec<_> = (0..target.max_queue + 8)
                .map(|i| {
                    let (tally, images) = (&tally, &images);
                    scope.spawn(move || {
                        let mut seed = 0x51ed_270b_9a3c_4f21 ^ (i as u64 + 1);
                        let request = target.tensor(1, &mut seed);
                        let answered = target.send(&agent(), &request, 1, tally);
                        images.fetch_add(answered.is_some() as usize, Ordering::Relaxed);
                        answered.into_iter().collect::<Vec<_>>()
                    })
                })
                .collect();
            let workers: Vec<_> = (0..clients)
                .map(|c| {
                    let (tally, images) = (&tally, &images);
                    scope.spawn(move || {
                        let agent = agent();
                        let mut seed = 0x2545_f491_4f6c_dd1d ^ ((level * 131 + c + 1) as u64);
                        let mut latencies = Vec::new();
                        while Instant::now() < until {
                            let pick = xorshift(&mut seed) % 20;
                            let rows =
                                1 + (xorshift(&mut seed) % (2 * target.max_batch as u64)) as usize;
                            match pick {
                                0 | 1 => target.disconnect(
                                    &target.tensor(rows, &mut seed),
                                    pick == 0,
                                    tally,
                                ),
                                2..=4 => {
                                    let rows = rows.min(4);
                                    let request = target.images(rows, &mut seed);
                                    if let Some(ms) = target.send(&agent, &request, rows, tally) {
                                        latencies.push(ms);
                                        images.fetch_add(rows, Ordering::Relaxed);
                                    }
                                }
                                _ => {
                                    let request = target.tensor(rows, &mut seed);
                                    if let Some(ms) = target.send(&agent, &request, rows, tally) {
                                        latencies.push(ms);
                                        images.fetch_add(rows, Ordering::Relaxed);
                                    }
                                }
                            }
                        }
                        latencies
                    })
                })
                .collect();
            burst
                .into_iter()
                .chain(workers)
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let seconds = start.elapsed().as_secs_f64();
        let rss = server_rss_mb(&target.url);
        first_rss = first_rss.or(rss);
        last_rss = rss;
        let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        lost += n(&tally.lost);
        println!(
            "| {level} | {clients} | {} | {} | {} | {} | {} | {:.2} | {:.0} | {} |",
            n(&tally.ok),
            n(&tally.queue_full),
            n(&tally.timed_out),
            n(&tally.lost),
            n(&tally.disconnected),
            n(&images) as f64 / seconds,
            p99(latencies),
            rss.map_or("?".into(), |r| format!("{r:.0}")),
        );
        level += 1;
    }
    let growth = match (first_rss, last_rss) {
        (Some(a), Some(b)) => b - a,
        _ => {
            return Err(Error::Input(format!(
                "{}/metrics has no process_resident_memory_bytes",
                target.url
            )))
        }
    };
    println!(
        "lost {lost}; server resident memory {growth:+.0} MB from the first level to the last"
    );
    if lost > 0 {
        return Err(Error::Input(format!("soak: {lost} request(s) lost")));
    }
    if growth > max_growth_mb {
        return Err(Error::Input(format!(
            "soak: the server's resident memory grew {growth:.0} MB, over --max-rss-growth-mb {max_growth_mb}"
        )));
    }
    Ok(())
}
