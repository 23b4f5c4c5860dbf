//! The protocol over gRPC: `inference.GRPCInferenceService` on tonic, its routing written here
//! (what tonic's code generator would emit, as one generic unary helper instead of a struct per
//! method). Tensors travel in `raw_input_contents` / `raw_output_contents` (typed `contents`
//! are read too).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::{http, Body, BoxFuture, StdError};
use tonic::{Request, Response, Status};

use super::grpc_messages::*;
use super::infer::{infer, ServerState};
use super::metadata;
use super::protocol::{ApiError, InferCall, InferInput, RequestedOutput, TensorData};

pub const SERVICE: &str = "inference.GRPCInferenceService";

#[derive(Clone)]
pub struct InferenceService {
    pub state: Arc<ServerState>,
}

impl tonic::server::NamedService for InferenceService {
    const NAME: &'static str = SERVICE;
}

fn status(e: ApiError) -> Status {
    let code = match e.status {
        400 => tonic::Code::InvalidArgument,
        404 => tonic::Code::NotFound,
        413 => tonic::Code::ResourceExhausted,
        503 => tonic::Code::Unavailable,
        504 => tonic::Code::DeadlineExceeded,
        _ => tonic::Code::Internal,
    };
    Status::new(code, e.message)
}

/// A unary method as a closure.
struct Unary<F>(F);

impl<Req, Resp, F, Fut> tonic::server::UnaryService<Req> for Unary<F>
where
    F: FnMut(Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>>,
{
    type Response = Resp;
    type Future = Fut;
    fn call(&mut self, request: Request<Req>) -> Fut {
        (self.0)(request)
    }
}

/// Decode, call `f`, encode: one unary method.
fn unary<B, Req, Resp, F, Fut>(
    req: http::Request<B>,
    limit: usize,
    f: F,
) -> BoxFuture<http::Response<tonic::body::Body>, Infallible>
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnMut(Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    Box::pin(async move {
        let codec = tonic_prost::ProstCodec::<Resp, Req>::default();
        let mut grpc = tonic::server::Grpc::new(codec)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(usize::MAX);
        Ok(grpc.unary(Unary(f), req).await)
    })
}

impl<B> tonic::codegen::Service<http::Request<B>> for InferenceService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let state = self.state.clone();
        let limit = state.max_body;
        let method = req
            .uri()
            .path()
            .strip_prefix(&format!("/{SERVICE}/"))
            .unwrap_or("")
            .to_string();
        match method.as_str() {
            "ServerLive" => unary(req, limit, |_: Request<ServerLiveRequest>| async {
                Ok(Response::new(ServerLiveResponse { live: true }))
            }),
            "ServerReady" => unary(req, limit, move |_: Request<ServerReadyRequest>| {
                let ready = state.ready();
                async move { Ok(Response::new(ServerReadyResponse { ready })) }
            }),
            "ModelReady" => unary(req, limit, move |r: Request<ModelReadyRequest>| {
                let r = r.into_inner();
                let ready = state
                    .model(&r.name, Some(&r.version))
                    .map(|m| m.ready())
                    .map_err(status);
                async move { Ok(Response::new(ModelReadyResponse { ready: ready? })) }
            }),
            "ServerMetadata" => unary(req, limit, |_: Request<ServerMetadataRequest>| async {
                Ok(Response::new(ServerMetadataResponse {
                    name: metadata::SERVER_NAME.into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    extensions: metadata::EXTENSIONS.map(String::from).into(),
                }))
            }),
            "ModelMetadata" => unary(req, limit, move |r: Request<ModelMetadataRequest>| {
                let r = r.into_inner();
                let answer = state
                    .model(&r.name, Some(&r.version))
                    .map(|m| model_metadata(m))
                    .map_err(status);
                async move { answer.map(Response::new) }
            }),
            "ModelInfer" => unary(req, limit, move |r: Request<ModelInferRequest>| {
                let state = state.clone();
                async move {
                    model_infer(&state, r.into_inner())
                        .await
                        .map(Response::new)
                        .map_err(status)
                }
            }),
            _ => Box::pin(async move {
                Ok(Status::unimplemented(format!(
                    "{SERVICE} has no method `{method}` on this server"
                ))
                .into_http())
            }),
        }
    }
}

fn model_metadata(m: &super::models::ServedModel) -> ModelMetadataResponse {
    let (inputs, outputs) = metadata::tensors(m);
    let list = |t: Vec<metadata::TensorMeta>| {
        t.into_iter()
            .map(|t| TensorMetadata {
                name: t.name.into(),
                datatype: t.datatype.into(),
                shape: t.shape,
            })
            .collect()
    };
    ModelMetadataResponse {
        name: m.name.clone(),
        versions: vec![super::models::VERSION.into()],
        platform: metadata::PLATFORM.into(),
        inputs: list(inputs),
        outputs: list(outputs),
    }
}

fn int_param(params: &HashMap<String, InferParameter>, name: &str) -> Option<i64> {
    match params.get(name)?.parameter_choice.as_ref()? {
        ParameterChoice::Int64Param(v) => Some(*v),
        ParameterChoice::Uint64Param(v) => Some(*v as i64),
        _ => None,
    }
}

async fn model_infer(
    state: &ServerState,
    r: ModelInferRequest,
) -> Result<ModelInferResponse, ApiError> {
    let model = state.model(&r.model_name, Some(&r.model_version))?.clone();
    let allow_non_finite = matches!(
        r.parameters
            .get("allow_non_finite")
            .and_then(|p| p.parameter_choice.as_ref()),
        Some(ParameterChoice::BoolParam(true))
    );
    let mut raw = r.raw_input_contents.into_iter();
    let use_raw = raw.len() > 0;
    let mut inputs = Vec::new();
    for t in r.inputs {
        let data = if use_raw {
            TensorData::Raw(raw.next().ok_or_else(|| {
                ApiError::bad(format!(
                    "input `{}` has no raw_input_contents entry",
                    t.name
                ))
            })?)
        } else {
            match t.contents {
                Some(c) if !c.bytes_contents.is_empty() => TensorData::Bytes(c.bytes_contents),
                Some(c) => TensorData::Fp32(c.fp32_contents),
                None => TensorData::Fp32(Vec::new()),
            }
        };
        inputs.push(InferInput {
            name: t.name,
            datatype: t.datatype,
            shape: t.shape,
            data,
        });
    }
    let mut outputs = Vec::new();
    for o in r.outputs {
        let classification = match int_param(&o.parameters, "classification") {
            Some(k) if k < 1 => {
                return Err(ApiError::bad(format!(
                    "output `{}`: classification needs k >= 1",
                    o.name
                )))
            }
            k => k.map(|k| k as usize),
        };
        outputs.push(RequestedOutput {
            name: o.name,
            binary: None,
            classification,
        });
    }
    let call = InferCall {
        id: (!r.id.is_empty()).then_some(r.id),
        inputs,
        outputs,
    };
    let result = infer(state, &model, call, allow_non_finite).await?;
    Ok(ModelInferResponse {
        model_name: model.name.clone(),
        model_version: super::models::VERSION.into(),
        id: result.id.unwrap_or_default(),
        parameters: HashMap::new(),
        raw_output_contents: result.outputs.iter().map(|o| o.raw_bytes()).collect(),
        outputs: result
            .outputs
            .into_iter()
            .map(|o| InferOutputTensor {
                name: o.name,
                datatype: o.datatype.into(),
                shape: o.shape,
                parameters: HashMap::new(),
            })
            .collect(),
    })
}
