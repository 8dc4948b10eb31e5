//! The accept loop: hyper's HTTP/1 connection driven directly, with the limits that protect
//! the process from slow or stalled clients (Slowloris and friends), and graceful shutdown.
//!
//! Invariant: every connection has a header deadline (which also bounds idle and silent
//! connections), every body a deadline ([`super::extract::CoreRequest`]), the number of
//! connections a cap, and every head a size limit; none of these answers leaves the JSON error
//! shape ([`super::hyper_errors`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;

use crate::app::CtxRef;
use crate::http::gateway::Gateway;

/// Limits on connections, against slow or stalled clients (Slowloris and friends).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest wait for a request head, counted from the moment the connection may send one:
    /// bounds connections that send nothing, send headers byte by byte, or sit idle between
    /// keep-alive requests.
    pub header_timeout: std::time::Duration,
    /// Longest wait for a whole request body.
    pub body_timeout: std::time::Duration,
    /// Most connections served at once; beyond it a new connection is closed at once, so the
    /// process never runs out of file descriptors and stalled connections free their slots
    /// within `header_timeout`.
    pub max_connections: usize,
    /// Largest request head, in bytes (hyper answers 431 beyond it).
    pub max_header_bytes: usize,
}

impl Limits {
    /// The configured limits.
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(cfg.header_timeout_secs),
            body_timeout: std::time::Duration::from_secs(cfg.body_timeout_secs),
            max_connections: cfg.max_connections,
            max_header_bytes: cfg.max_header_bytes,
        }
    }
}

/// Serves until `stop` completes, then finishes in-flight requests and returns.
///
/// The accept loop drives hyper's HTTP/1 connection itself, with a timer, so that the limits
/// above apply to every connection: a header-read deadline, a head size limit, a connection
/// cap, and (in [`CoreRequest`]) a body deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: CtxRef,
    gateway: Option<Arc<Gateway>>,
    limits: Limits,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let router = super::router(ctx, gateway);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset before accept: keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%remote, max = limits.max_connections, "connection limit reached: closing a new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                let mut router = router.clone();
                tower_service::Service::call(&mut router, req.map(Body::new))
            });
        let io = TokioIo::new(crate::http::hyper_errors::JsonErrors::new(stream));
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
            drop(permit);
        });
    }
    tracing::info!("shutting down: finishing in-flight requests");
    // In-flight requests finish; idle connections close at once; stalled ones at the latest
    // when their header deadline passes.
    let _ = tokio::time::timeout(
        limits.header_timeout + limits.body_timeout,
        graceful.shutdown(),
    )
    .await;
    Ok(())
}
