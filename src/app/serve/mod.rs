//! `gpu-resnet serve`: the Open Inference Protocol (KServe v2 / Triton) over HTTP/REST and gRPC,
//! with dynamic batching over the engine's static plans (cargo feature `serve`).
//!
//! Layout: `config` (arguments), `models` (opening through `open::load_weights`, GPU workers),
//! `queue` (dynamic batching) and `policy` (its decisions on measured plan costs), `worker` (a
//! device's plans), `protocol` / `outputs` (transport-neutral request and response),
//! `checked` (client-supplied sizes), `rest_request` / `grpc_request` (each transport's pure
//! decoding, fuzzed), `images` (the image input's pixel budget and decoding), `infer` (the
//! shared inference path), `rest` and `grpc` (+ `grpc_messages`) (the transports), `metadata`,
//! `metrics`; `loadgen` and `soak` are the load generator. The GPU work runs on dedicated
//! threads; the async runtime only awaits answers.

pub mod api_error;
pub mod checked;
pub mod config;
pub mod grpc;
pub mod grpc_messages;
pub mod grpc_request;
pub mod images;
pub mod infer;
pub mod json_data;
pub mod loadgen;
pub mod metadata;
pub mod metrics;
pub mod models;
pub mod outputs;
pub mod policy;
pub mod protocol;
pub mod queue;
pub mod rest;
pub mod rest_request;
pub mod soak;
pub mod worker;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{Error, Result};

pub use config::ServeArgs;
use infer::ServerState;

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::Input(format!("{what}: {e}"))
}

/// Load, warm, serve until SIGTERM/SIGINT, drain, return.
pub fn serve(args: ServeArgs) -> Result<()> {
    let (models, workers) = models::start(&args)?;
    let state = Arc::new(ServerState {
        models,
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        max_body: args.max_body,
        limits: args.limits(),
        accepting: AtomicBool::new(true),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve-io")
        .build()
        .map_err(io_error("cannot start the async runtime".into()))?;
    runtime.block_on(run_servers(&args, state.clone()))?;
    // The listeners are closed and every request answered: let the workers finish and exit.
    for m in &state.models {
        m.queue.drain();
    }
    for w in workers {
        let _ = w.join();
    }
    eprintln!("stopped");
    Ok(())
}

async fn run_servers(args: &ServeArgs, state: Arc<ServerState>) -> Result<()> {
    let http_at = format!("{}:{}", args.host, args.port);
    let grpc_at = format!("{}:{}", args.host, args.grpc_port);
    let http = tokio::net::TcpListener::bind(&http_at)
        .await
        .map_err(io_error(format!(
            "cannot listen on {http_at} (--host/--port)"
        )))?;
    let grpc = tokio::net::TcpListener::bind(&grpc_at)
        .await
        .map_err(io_error(format!(
            "cannot listen on {grpc_at} (--grpc-port)"
        )))?;
    let local =
        |l: &tokio::net::TcpListener| l.local_addr().map_err(io_error("local address".into()));
    let (http_addr, grpc_addr): (SocketAddr, SocketAddr) = (local(&http)?, local(&grpc)?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|&s| s).await;
    };

    let http_server = axum::serve(http, rest::router(state.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let grpc_server = tonic::transport::Server::builder()
        .add_service(grpc::InferenceService {
            state: state.clone(),
        })
        .serve_with_incoming_shutdown(
            tonic::codegen::tokio_stream::wrappers::TcpListenerStream::new(grpc),
            stopped(stop_rx.clone()),
        );
    eprintln!("serving: http {http_addr} grpc {grpc_addr}");

    let signals = {
        let state = state.clone();
        async move {
            wait_for_signal().await;
            eprintln!("shutting down: finishing queued and in-flight requests");
            state.accepting.store(false, Ordering::Release);
            for m in &state.models {
                m.queue.hurry();
            }
            let _ = stop_tx.send(true);
        }
    };
    let signal_task = tokio::spawn(signals);
    let (h, g) = tokio::join!(http_server, grpc_server);
    signal_task.abort();
    h.map_err(io_error("HTTP server".into()))?;
    g.map_err(|e| Error::Input(format!("gRPC server: {e}")))?;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
