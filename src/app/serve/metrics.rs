//! Triton's inference metrics, per model and version, in the Prometheus text format. A handful
//! of counters and one gauge: written by hand rather than through a metrics crate, since the
//! format is a few lines and the names and labels must be Triton's exactly.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// One model's counters (all monotonic but `pending`).
#[derive(Debug, Default)]
pub struct ModelMetrics {
    pub request_success: AtomicU64,
    pub request_failure: AtomicU64,
    /// Rows (images) inferred, padding excluded.
    pub inference_count: AtomicU64,
    /// Batches (plan runs).
    pub exec_count: AtomicU64,
    pub request_duration_us: AtomicU64,
    pub queue_duration_us: AtomicU64,
    pub compute_infer_duration_us: AtomicU64,
    /// Requests queued, not yet taken by a worker.
    pub pending: AtomicU64,
}

impl ModelMetrics {
    pub fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }
}

/// (name, help, type, field) of every metric, in output order.
type Field = fn(&ModelMetrics) -> &AtomicU64;
const METRICS: [(&str, &str, &str, Field); 8] = [
    (
        "nv_inference_request_success",
        "Number of successful inference requests, all batch sizes",
        "counter",
        |m| &m.request_success,
    ),
    (
        "nv_inference_request_failure",
        "Number of failed inference requests, all batch sizes",
        "counter",
        |m| &m.request_failure,
    ),
    (
        "nv_inference_count",
        "Number of inferences performed (rows; batch padding not counted)",
        "counter",
        |m| &m.inference_count,
    ),
    (
        "nv_inference_exec_count",
        "Number of model executions performed (batches)",
        "counter",
        |m| &m.exec_count,
    ),
    (
        "nv_inference_request_duration_us",
        "Cumulative inference request duration in microseconds",
        "counter",
        |m| &m.request_duration_us,
    ),
    (
        "nv_inference_queue_duration_us",
        "Cumulative inference queuing duration in microseconds",
        "counter",
        |m| &m.queue_duration_us,
    ),
    (
        "nv_inference_compute_infer_duration_us",
        "Cumulative compute inference duration in microseconds (GPU timestamps where the adapter has them)",
        "counter",
        |m| &m.compute_infer_duration_us,
    ),
    (
        "nv_inference_pending_request_count",
        "Instantaneous number of pending requests awaiting execution per-model",
        "gauge",
        |m| &m.pending,
    ),
];

/// The Prometheus text of every model's metrics: `(name, version, metrics)`.
pub fn render<'a>(
    models: impl Iterator<Item = (&'a str, &'a str, &'a ModelMetrics)> + Clone,
) -> String {
    let mut out = String::new();
    for (metric, help, kind, field) in METRICS {
        let _ = writeln!(out, "# HELP {metric} {help}");
        let _ = writeln!(out, "# TYPE {metric} {kind}");
        for (model, version, m) in models.clone() {
            let _ = writeln!(
                out,
                "{metric}{{model=\"{}\",version=\"{}\"}} {}",
                escape(model),
                escape(version),
                field(m).load(Ordering::Relaxed)
            );
        }
    }
    if let Some(bytes) = resident_bytes() {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes"
        );
        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
        let _ = writeln!(out, "process_resident_memory_bytes {bytes}");
    }
    out
}

/// This process's resident memory (Linux: VmRSS of /proc/self/status), for the soak.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Label values escape backslash, quote and newline.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let m = ModelMetrics::default();
        ModelMetrics::add(&m.inference_count, 7);
        let text = render([("ResNet50", "1", &m)].into_iter());
        assert!(text.contains("# TYPE nv_inference_count counter\n"));
        assert!(text.contains("nv_inference_count{model=\"ResNet50\",version=\"1\"} 7\n"));
        assert!(text.contains("# TYPE nv_inference_pending_request_count gauge\n"));
    }
}
