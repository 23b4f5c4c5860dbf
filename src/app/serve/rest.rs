//! The protocol over HTTP/REST (axum): health, metadata, inference with JSON data and the binary
//! tensor data extension both ways, and `/metrics`. Errors are `{"error": "..."}` with a 4xx/5xx
//! status.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::infer::{infer, ServerState};
use super::metadata;
use super::protocol::ApiError;
use super::rest_request::{parse_request, RestCall};

const HEADER_LENGTH: &str = "inference-header-content-length";

type Shared = State<Arc<ServerState>>;

pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route(
            "/v2/health/live",
            get(|| async { Json(json!({"live": true})) }),
        )
        .route("/v2/health/ready", get(server_ready))
        .route("/v2/models/{model}", get(model_metadata))
        .route(
            "/v2/models/{model}/versions/{version}",
            get(model_metadata_v),
        )
        .route("/v2/models/{model}/ready", get(model_ready))
        .route(
            "/v2/models/{model}/versions/{version}/ready",
            get(model_ready_v),
        )
        .route("/v2/models/{model}/infer", post(infer_latest))
        .route(
            "/v2/models/{model}/versions/{version}/infer",
            post(infer_version),
        )
        .route("/metrics", get(metrics))
        .fallback(|| async { error(ApiError::not_found("no such endpoint (see /v2)")) })
        .with_state(state)
}

struct Json(Value);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, "application/json")],
            self.0.to_string(),
        )
            .into_response()
    }
}

fn error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(json!({"error": e.message}))).into_response();
    if let Some(secs) = e.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

async fn server_metadata() -> Json {
    Json(metadata::server())
}

async fn server_ready(State(state): Shared) -> Response {
    let ready = state.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"ready": ready}))).into_response()
}

async fn model_metadata(state: Shared, Path(model): Path<String>) -> Response {
    model_metadata_of(state, model, None)
}

async fn model_metadata_v(state: Shared, Path((m, v)): Path<(String, String)>) -> Response {
    model_metadata_of(state, m, Some(v))
}

fn model_metadata_of(State(state): Shared, model: String, version: Option<String>) -> Response {
    match state.model(&model, version.as_deref()) {
        Ok(m) => Json(metadata::model(m)).into_response(),
        Err(e) => error(e),
    }
}

async fn model_ready(state: Shared, Path(model): Path<String>) -> Response {
    model_ready_of(state, model, None)
}

async fn model_ready_v(state: Shared, Path((m, v)): Path<(String, String)>) -> Response {
    model_ready_of(state, m, Some(v))
}

fn model_ready_of(State(state): Shared, model: String, version: Option<String>) -> Response {
    match state.model(&model, version.as_deref()) {
        Ok(m) if m.ready() => Json(json!({"name": m.name, "ready": true})).into_response(),
        Ok(m) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"name": m.name, "ready": false})),
        )
            .into_response(),
        Err(e) => error(e),
    }
}

async fn metrics(State(state): Shared) -> Response {
    let text = super::metrics::render(
        state
            .models
            .iter()
            .map(|m| (m.name.as_str(), super::models::VERSION, &*m.metrics)),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn infer_latest(state: Shared, Path(model): Path<String>, h: HeaderMap, b: Body) -> Response {
    infer_route(state, model, None, h, b).await
}

async fn infer_version(
    state: Shared,
    Path((model, version)): Path<(String, String)>,
    h: HeaderMap,
    b: Body,
) -> Response {
    infer_route(state, model, Some(version), h, b).await
}

async fn infer_route(
    State(state): Shared,
    model: String,
    version: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match infer_http(&state, &model, version.as_deref(), &headers, body).await {
        Ok(r) => r,
        Err(e) => error(e),
    }
}

async fn infer_http(
    state: &ServerState,
    model: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            format!(
                "the request body is over --max-body ({} bytes)",
                state.max_body
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return Err(too_large());
    }
    let model = state.model(model, version)?.clone();
    let body = axum::body::to_bytes(body, state.max_body)
        .await
        .map_err(|_| too_large())?;
    let header_length = headers.get(HEADER_LENGTH).map(HeaderValue::as_bytes);
    let RestCall {
        call,
        binary_default,
        allow_non_finite,
    } = parse_request(header_length, &body).inspect_err(|_| {
        super::metrics::ModelMetrics::add(&model.metrics.request_failure, 1);
    })?;
    let result = infer(state, &model, call, allow_non_finite).await?;
    let mut outputs = Vec::new();
    let mut binary = Vec::new();
    for o in &result.outputs {
        let mut entry = json!({"name": o.name, "datatype": o.datatype, "shape": o.shape});
        if o.binary.unwrap_or(binary_default) {
            let raw = o.raw_bytes();
            entry["parameters"] = json!({"binary_data_size": raw.len()});
            binary.extend_from_slice(&raw);
        } else {
            entry["data"] = o.json_data();
        }
        outputs.push(entry);
    }
    let mut head = json!({
        "model_name": model.name,
        "model_version": super::models::VERSION,
        "outputs": outputs,
    });
    if let Some(id) = result.id {
        head["id"] = json!(id);
    }
    let head = head.to_string();
    if binary.is_empty() {
        return Ok(Json(serde_json::from_str(&head).unwrap_or(Value::Null)).into_response());
    }
    let length = head.len();
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&binary);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::HeaderName::from_static(HEADER_LENGTH),
                HeaderValue::from(length),
            ),
        ],
        Bytes::from(bytes),
    )
        .into_response())
}
