//! The inference path both transports share: find the model, decode the inputs (image files off
//! the async runtime), queue the rows, await the answer within the request's time limit, encode
//! the outputs, count it all in the metrics.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checked::RequestLimits;
use super::metrics::ModelMetrics;
use super::models::ServedModel;
use super::outputs::{self, OutputTensor};
use super::protocol::{self, ApiError, InferCall, Payload};
use super::queue::{Job, Rows};

/// The server's models and limits, shared by every handler.
pub struct ServerState {
    pub models: Vec<Arc<ServedModel>>,
    pub timeout: Duration,
    pub max_body: usize,
    /// Image count and pixel budget per request.
    pub limits: RequestLimits,
    /// Cleared when shutdown starts.
    pub accepting: std::sync::atomic::AtomicBool,
}

impl ServerState {
    pub fn model(&self, name: &str, version: Option<&str>) -> Result<&Arc<ServedModel>, ApiError> {
        let model = self.models.iter().find(|m| m.name == name).ok_or_else(|| {
            ApiError::not_found(format!(
                "unknown model `{name}`; this server has: {}",
                self.models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        match version {
            Some(v) if !v.is_empty() && v != super::models::VERSION => {
                Err(ApiError::not_found(format!(
                    "model `{name}` has no version `{v}`; it has version {}",
                    super::models::VERSION
                )))
            }
            _ => Ok(model),
        }
    }

    pub fn ready(&self) -> bool {
        self.accepting.load(Ordering::Acquire) && self.models.iter().all(|m| m.ready())
    }
}

/// What an inference answers with.
pub struct InferResult {
    pub id: Option<String>,
    pub outputs: Vec<OutputTensor>,
}

/// Run `call` on `model`; `allow_non_finite` is the request parameter of that name.
pub async fn infer(
    state: &ServerState,
    model: &Arc<ServedModel>,
    call: InferCall,
    allow_non_finite: bool,
) -> Result<InferResult, ApiError> {
    let start = Instant::now();
    let result = infer_inner(state, model, call, allow_non_finite).await;
    let m = &model.metrics;
    match &result {
        Ok(_) => ModelMetrics::add(&m.request_success, 1),
        Err(_) => ModelMetrics::add(&m.request_failure, 1),
    }
    ModelMetrics::add(&m.request_duration_us, start.elapsed().as_micros() as u64);
    result
}

async fn infer_inner(
    state: &ServerState,
    model: &Arc<ServedModel>,
    call: InferCall,
    allow_non_finite: bool,
) -> Result<InferResult, ApiError> {
    if !model.ready() {
        return Err(ApiError::unavailable(format!(
            "model `{}` is not ready",
            model.name
        )));
    }
    outputs::check_outputs(&call.outputs)?;
    let spec = &model.input;
    let limits = state.limits;
    let payload = protocol::decode_inputs(call.inputs, spec, &limits, allow_non_finite)?;
    let rows = match payload {
        Payload::Tensor(v) => Rows::Tensor(v),
        Payload::Encoded(files) => {
            let model = model.clone();
            let max_bytes = model.max_image_bytes.load(Ordering::Relaxed);
            let decode =
                move || super::images::decode_images(&files, &limits, max_bytes, &model.preprocess);
            let images = tokio::task::spawn_blocking(decode)
                .await
                .map_err(|e| ApiError::new(500, format!("image decoding stopped: {e}")))??;
            Rows::Images(images)
        }
    };
    let count = match &rows {
        Rows::Tensor(v) => v.len() / (3 * spec.height * spec.width),
        Rows::Images(v) => v.len(),
    };
    let (job, answer) = Job::new(rows, count, spec.classes, allow_non_finite);
    model.queue.push(job)?;
    let answer = match tokio::time::timeout(state.timeout, answer).await {
        Ok(Ok(answer)) => answer?,
        Ok(Err(_)) => {
            return Err(ApiError::new(
                500,
                "the GPU worker stopped before answering",
            ))
        }
        Err(_) => {
            return Err(ApiError::new(
                504,
                format!(
                    "no answer within the request time limit ({} ms, --timeout-ms)",
                    state.timeout.as_millis()
                ),
            ))
        }
    };
    ModelMetrics::add(&model.metrics.queue_duration_us, answer.queue_us);
    Ok(InferResult {
        id: call.id,
        outputs: outputs::encode_outputs(
            &call.outputs,
            answer.logits,
            count,
            spec.classes,
            model.labels.as_deref().map(Vec::as_slice),
        ),
    })
}
