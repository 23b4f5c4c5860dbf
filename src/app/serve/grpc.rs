//! The protocol over gRPC: `inference.GRPCInferenceService` on tonic, its routing written here
//! (what tonic's code generator would emit, as one generic unary helper instead of a struct per
//! method). Tensors travel in `raw_input_contents` / `raw_output_contents` (typed `contents`
//! are read too).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use prost::bytes::Buf;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::codegen::{http, Body, BoxFuture, StdError};
use tonic::{Request, Response, Status};

use super::grpc_messages::*;
use super::grpc_request::{check_wire, infer_call, GrpcCall};
use super::infer::{infer, ServerState};
use super::metadata;
use super::protocol::ApiError;

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

/// A request type's check of its encoded bytes before prost decodes them.
trait WireCheck {
    fn check(_bytes: &[u8]) -> Result<(), ApiError> {
        Ok(())
    }
}
impl WireCheck for ServerLiveRequest {}
impl WireCheck for ServerReadyRequest {}
impl WireCheck for ModelReadyRequest {}
impl WireCheck for ServerMetadataRequest {}
impl WireCheck for ModelMetadataRequest {}
impl WireCheck for ModelInferRequest {
    fn check(bytes: &[u8]) -> Result<(), ApiError> {
        check_wire(bytes)
    }
}

/// prost's codec with [`WireCheck`] run on a request's bytes first.
struct CheckedCodec<T, U>(PhantomData<(T, U)>);
struct CheckedDecoder<U>(PhantomData<U>);

impl<T, U> Codec for CheckedCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + WireCheck + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;
    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }
    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(PhantomData)
    }
}

impl<U: prost::Message + Default + WireCheck> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // The message is one contiguous buffer (tonic collects it whole before decoding).
        if buf.chunk().len() == buf.remaining() {
            U::check(buf.chunk()).map_err(status)?;
        }
        U::decode(buf).map(Some).map_err(|e| {
            Status::invalid_argument(format!("the request is not a valid message: {e}"))
        })
    }
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
    Req: prost::Message + Default + WireCheck + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnMut(Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    Box::pin(async move {
        let codec = CheckedCodec::<Resp, Req>(PhantomData);
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
                name: t.name,
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

async fn model_infer(
    state: &ServerState,
    r: ModelInferRequest,
) -> Result<ModelInferResponse, ApiError> {
    let model = state.model(&r.model_name, Some(&r.model_version))?.clone();
    let GrpcCall {
        call,
        allow_non_finite,
        ..
    } = infer_call(r).inspect_err(|_| {
        super::metrics::ModelMetrics::add(&model.metrics.request_failure, 1);
    })?;
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
