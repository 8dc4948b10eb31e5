//! The accept loop: hyper's HTTP/1 connection driven directly, with the limits that protect
//! the process from slow or stalled clients (Slowloris and friends), and graceful shutdown.
//!
//! Invariant: every connection has a header deadline (which also bounds idle and silent
//! connections), every body a deadline ([`super::extract::CoreRequest`]), the number of
//! connections a cap, and every head a size limit; none of these answers leaves the JSON error
//! shape ([`super::hyper_errors`]).
//!
//! Connections are served by `ConnThreads`: one single-threaded runtime per thread, a
//! connection kept on one thread for its life; the limits above hold the same there.

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
    /// Threads serving connections (0: the caller's runtime serves them).
    pub conn_threads: usize,
}

impl Limits {
    /// The configured limits.
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(cfg.header_timeout_secs),
            body_timeout: std::time::Duration::from_secs(cfg.body_timeout_secs),
            max_connections: cfg.max_connections,
            max_header_bytes: cfg.max_header_bytes,
            conn_threads: cfg.conn_threads.unwrap_or_else(crate::config::cores),
        }
    }
}

/// Serves until `stop` completes, then finishes in-flight requests and returns.
///
/// The accept loop drives hyper's HTTP/1 connection itself, with a timer, so that the limits
/// above apply to every connection: a header-read deadline, a head size limit, a connection
/// cap, and (in [`super::extract::CoreRequest`]) a body deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: CtxRef,
    gateway: Option<Arc<Gateway>>,
    limits: Limits,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = super::router(ctx, gateway);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    let mut threads = ConnThreads::start(limits.conn_threads, &router, &builder)?;
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a transient error: wait a little, keep serving.
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
        let conn = Accepted {
            remote,
            permit,
            watcher: graceful.watcher(),
        };
        match threads.as_mut() {
            Some(t) => t.hand_over(stream, conn),
            None => {
                tokio::spawn(conn.serve(stream, router.clone(), builder.clone()));
            }
        }
    }
    tracing::info!("shutting down: finishing in-flight requests");
    // Idle keep-alive connections close at once; busy ones finish their request, within the
    // longest a request may take to arrive.
    let _ = tokio::time::timeout(
        limits.header_timeout + limits.body_timeout,
        graceful.shutdown(),
    )
    .await;
    if let Some(t) = threads {
        t.stop().await;
    }
    Ok(())
}

type Builder = hyper::server::conn::http1::Builder;

/// An accepted connection, with its slot under the connection cap and its graceful-shutdown
/// watch.
struct Accepted {
    remote: std::net::SocketAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Accepted {
    /// Serves the connection to its end; its slot is given back then.
    async fn serve(self, stream: tokio::net::TcpStream, router: axum::Router, builder: Builder) {
        let remote = self.remote;
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                let mut router = router.clone();
                tower_service::Service::call(&mut router, req.map(Body::new))
            });
        let io = hyper_util::rt::TokioIo::new(crate::http::hyper_errors::JsonErrors::new(stream));
        let conn = self.watcher.watch(builder.serve_connection(io, service));
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, %remote, "connection ended with an error");
        }
        drop(self.permit);
    }
}

/// A connection on its way to a connection thread.
type Handed = (std::net::TcpStream, Accepted);

/// Threads each running a single-threaded runtime that serves the connections handed to it, in
/// turn. A connection stays on one thread for its life: its socket readiness, its timers and its
/// request handling never wake another thread (on a loaded two-core machine the work-stealing
/// runtime spent a measurable share of its time in cross-thread wake-ups; docs/benchmarks.md).
struct ConnThreads {
    senders: Vec<tokio::sync::mpsc::UnboundedSender<Handed>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: usize,
}

impl ConnThreads {
    /// `n` threads (`None` when `n` is 0: connections are served on the caller's runtime).
    fn start(n: usize, router: &axum::Router, builder: &Builder) -> std::io::Result<Option<Self>> {
        if n == 0 {
            return Ok(None);
        }
        let mut senders = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Handed>();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (router, builder) = (router.clone(), builder.clone());
            let thread = std::thread::Builder::new()
                .name(format!("usso-conn-{i}"))
                .spawn(move || rt.block_on(Self::run(rx, router, builder)))?;
            senders.push(tx);
            threads.push(thread);
        }
        Ok(Some(Self {
            senders,
            threads,
            next: 0,
        }))
    }

    /// One thread's loop: serves what it is handed until the senders are gone, then ends what
    /// is left (graceful shutdown has finished or given up by then).
    async fn run(
        mut rx: tokio::sync::mpsc::UnboundedReceiver<Handed>,
        router: axum::Router,
        builder: Builder,
    ) {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                handed = rx.recv() => match handed {
                    Some((socket, conn)) => match tokio::net::TcpStream::from_std(socket) {
                        Ok(stream) => {
                            conns.spawn(conn.serve(stream, router.clone(), builder.clone()));
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot serve a handed connection"),
                    },
                    None => break,
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }

    /// Hands `stream` to the next thread.
    fn hand_over(&mut self, stream: tokio::net::TcpStream, conn: Accepted) {
        let socket = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand a connection over");
                return;
            }
        };
        self.next = (self.next + 1) % self.senders.len();
        if self.senders[self.next].send((socket, conn)).is_err() {
            tracing::error!("a connection thread has stopped");
        }
    }

    /// Stops the threads and waits for them (off the runtime's worker threads).
    async fn stop(self) {
        drop(self.senders);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}
