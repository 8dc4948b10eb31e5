//! Start-up: configuration → stores → [`Ctx`] → server, or an administration command.
//!
//! [`serve`] is the one way to bring the server up, used by `main` (system clock, until
//! SIGTERM) and by the in-process test harness (a manual clock, until its handle is dropped).

use std::future::Future;
use std::sync::Arc;

use usso_edge::{EdgeConfig, EdgeCore};
use usso_shared::clock::Clock;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::bootstrap;
use crate::app::{AppClock, Ctx};
use crate::authn::hasher::{Hasher, PasswordParams};
use crate::config::{Command, Config};
use crate::store::Stores;

fn hasher(cfg: &Config) -> Result<Hasher> {
    let params = PasswordParams {
        memory_kib: cfg.argon2_memory_kib,
        iterations: cfg.argon2_iterations,
        parallelism: cfg.argon2_parallelism,
    };
    params.validate()?;
    let workers = cfg.hash_workers.unwrap_or_else(crate::config::cores);
    Ok(Hasher::new(params, workers, cfg.hash_queue))
}

/// Runs a command to completion (serving until SIGTERM or SIGINT).
pub async fn run(cfg: Config, command: Option<Command>) -> Result<()> {
    cfg.validate().map_err(Error::configuration)?;
    let clock = AppClock::System;
    match command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = bind(&cfg).await?;
            serve(cfg, listener, clock, shutdown_signal()).await
        }
        other => {
            let stores = bootstrap::open(&cfg).await?;
            let hasher = hasher(&cfg)?;
            super::cli::execute(&cfg, stores, hasher, other, clock.now()).await
        }
    }
}

/// Binds the configured address.
pub async fn bind(cfg: &Config) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("cannot listen on {}: {e}", cfg.listen),
            )
        })
}

/// Opens the stores, provisions the default tenant and the system user, builds the [`Ctx`]
/// over `clock`, and serves on `listener` until `stop` completes; then finishes in-flight
/// requests and the delivery in progress.
pub async fn serve(
    cfg: Config,
    listener: tokio::net::TcpListener,
    clock: AppClock,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    cfg.validate().map_err(Error::configuration)?;
    let stores = bootstrap::open(&cfg).await?;
    let hasher = hasher(&cfg)?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::internal(e.to_string()))?;
    let now = clock.now();
    bootstrap::default_tenant(&stores, &cfg, &cfg.issuer(bound), now).await?;
    if let Some(password) = bootstrap::system_user(&stores, &hasher, &cfg, now).await? {
        eprintln!(
            "\n================================================================\n\
             System administrator created: username `system`\n\
             password: {password}\n\
             It is shown only this once. Set SYSTEM_PASSWORD and restart to reset it.\n\
             ================================================================\n"
        );
    }
    bootstrap::publish_all(&stores, now).await?;
    let ctx = Arc::new(build(&cfg, stores, hasher, clock)?);
    let gateway = match (&cfg.redis_url, &cfg.gateway_token) {
        (Some(url), Some(token)) => Some(Arc::new(
            crate::http::gateway::Gateway::connect(url, token, &cfg.gateway_prefix).await?,
        )),
        _ => None,
    };
    // Tests and scripts wait for this line.
    println!("usso-origin listening on http://{bound}");
    tracing::info!(%bound, data_dir = %cfg.data_dir.display(), hot_store = ctx.hot.name(), document_store = ctx.docs.name(), "serving");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(ctx.outbox.clone().run(async {
        let _ = stop_rx.await;
    }));
    let retention = {
        let ctx = ctx.clone();
        let days = cfg.audit_retention_days;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                crate::audit::retention::prune_all(&ctx.docs, days, ctx.now()).await;
            }
        })
    };
    let served = crate::http::serve::serve(
        listener,
        ctx,
        gateway,
        crate::http::serve::Limits::from_config(&cfg),
        stop,
    )
    .await;
    // The delivery in progress finishes; what is still queued waits in the store for the next start.
    let _ = stop_tx.send(());
    let _ = worker.await;
    retention.abort();
    served.map_err(|e| Error::internal(format!("server failed: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// The registry over opened stores.
pub fn build(cfg: &Config, stores: Stores, hasher: Hasher, clock: AppClock) -> Result<Ctx> {
    let mut edge_cfg = EdgeConfig::new(stores.edge_key.clone());
    edge_cfg.strict_verify = cfg.strict_verify;
    edge_cfg.bench_routes = cfg.bench_routes;
    edge_cfg.tenant_header = cfg.tenant_header;
    let (mail, sms, dev) = crate::delivery::channels::from_config(cfg)?;
    if dev {
        tracing::warn!(
            target: "delivery",
            path = %cfg.data_dir.join("dev-outbox.jsonl").display(),
            "no email and/or SMS provider configured: the DEVELOPMENT MAILER logs messages and writes them to this file, it sends nothing"
        );
    }
    let outbox = Arc::new(crate::delivery::outbox::Outbox::new(
        stores.docs.clone(),
        stores.master.clone(),
        mail,
        sms,
        clock.clone(),
    ));
    Ok(Ctx {
        outbox,
        rsa_keys: Arc::default(),
        metadata: Arc::new(crate::oauth::metadata::Fetcher::new(
            cfg.oauth_metadata_insecure_hosts.clone(),
        )),
        core: EdgeCore::new(stores.hot.clone(), clock.clone(), edge_cfg),
        docs: stores.docs,
        hot: stores.hot,
        hasher,
        edge_key: stores.edge_key,
        master: stores.master,
        proxy_hops: cfg.proxy_hops(),
        body_timeout: std::time::Duration::from_secs(cfg.body_timeout_secs),
        clock,
    })
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
