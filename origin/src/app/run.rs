//! The composition root: configuration → stores → state → server or admin command.

use std::sync::Arc;

use serde_json::json;
use usso_edge::{EdgeConfig, EdgeCore};
use usso_shared::clock::{Clock, SystemClock};
use usso_shared::{Error, ErrorCode, Result};

use crate::app::legacy::App;
use crate::app::bootstrap::{self, Stores};
use crate::config::{Command, Config, KeyCommand, TenantCommand, UserCommand};
use crate::identity::identifier::Identifier;
use crate::authn::hasher::{Hasher, PasswordParams, PasswordPolicy};
use crate::tenants::{self, Tenant};
use crate::identity::users::{self, User};

fn hasher(cfg: &Config) -> Result<Hasher> {
    let params = PasswordParams {
        memory_kib: cfg.argon2_memory_kib,
        iterations: cfg.argon2_iterations,
        parallelism: cfg.argon2_parallelism,
    };
    params.validate()?;
    let workers = cfg
        .hash_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    Ok(Hasher::new(params, workers, cfg.hash_queue))
}

/// Runs a command to completion.
pub async fn run(cfg: Config, command: Option<Command>) -> Result<()> {
    cfg.validate()
        .map_err(|m| Error::new(ErrorCode::ConfigurationError, m))?;
    let stores = bootstrap::open(&cfg).await?;
    let hasher = hasher(&cfg)?;
    let now = SystemClock.now();
    match command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cfg, stores, hasher).await,
        Command::Tenant(TenantCommand::Create {
            id,
            name,
            domains,
            issuer,
            no_audience,
            redirects,
            require_mfa,
            activation,
            captcha,
            smtp_host,
            smtp_port,
            smtp_security,
            smtp_user,
            smtp_password,
            smtp_from,
        }) => {
            for r in &redirects {
                if !(r.starts_with("https://") || r.starts_with("http://")) {
                    return Err(Error::new(
                        ErrorCode::ValidationError,
                        format!("--redirect must be an absolute http(s) URL, got `{r}`"),
                    ));
                }
            }
            if let Some(c) = captcha
                .iter()
                .find(|c| !["otp", "magic_link", "login"].contains(&c.as_str()))
            {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    format!("--captcha takes otp, magic_link or login, got `{c}`"),
                ));
            }
            let domains: Vec<String> = domains
                .iter()
                .map(|d| {
                    usso_edge::tenant::host_name(d).ok_or_else(|| {
                        Error::new(ErrorCode::ValidationError, format!("bad domain `{d}`"))
                    })
                })
                .collect::<Result<_>>()?;
            let issuer = issuer
                .or_else(|| domains.first().map(|d| format!("https://{d}")))
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::ValidationError,
                        "give --issuer or at least one --domain",
                    )
                })?;
            let mut t = Tenant::new(
                &id,
                name.as_deref().unwrap_or(&id),
                &issuer,
                cfg.access_token_expire,
                cfg.refresh_token_expire,
                now,
            );
            t.tokens.domains = domains;
            if no_audience {
                t.tokens.audience = None;
            }
            t.allowed_redirects = redirects;
            t.require_mfa = require_mfa;
            t.activation = if activation == "none" {
                crate::authn::Activation::None
            } else {
                crate::authn::Activation::Identifier
            };
            t.captcha = captcha;
            if let Some(host) = smtp_host {
                let security =
                    crate::delivery::Security::parse(&smtp_security).ok_or_else(|| {
                        Error::new(
                            ErrorCode::ValidationError,
                            format!("--tenant-smtp-security takes tls, starttls or none, got `{smtp_security}`"),
                        )
                    })?;
                let settings = crate::delivery::SmtpSettings {
                    host,
                    port: smtp_port,
                    security,
                    username: smtp_user,
                    password: smtp_password,
                    from: smtp_from.ok_or_else(|| {
                        Error::new(
                            ErrorCode::ValidationError,
                            "--tenant-smtp-host needs --tenant-smtp-from",
                        )
                    })?,
                    timeout_secs: 10,
                };
                // Refuse settings the mailer would refuse at delivery time.
                crate::delivery::SmtpMailer::new(&settings)?;
                t.smtp = Some(crate::tenants::TenantSmtp::new(
                    settings,
                    &stores.master,
                    &id,
                )?);
            }
            tenants::create(&stores.docs, &stores.master, &t, now).await?;
            tenants::publish(&stores, &t, now).await?;
            println!(
                "{}",
                json!({"created": t.id(), "issuer": t.tokens.issuer, "domains": t.tokens.domains})
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            for id in crate::store::docs::DocumentStore::tenants(&stores.docs).await? {
                if let Some(t) = tenants::load(&stores.docs, &id).await? {
                    println!(
                        "{}",
                        json!({"id": t.id(), "name": t.name, "issuer": t.tokens.issuer, "domains": t.tokens.domains, "is_active": t.tokens.is_active})
                    );
                }
            }
            Ok(())
        }
        Command::User(UserCommand::Create {
            identifier,
            tenant: tid,
            password,
            roles,
            scopes,
        }) => {
            let t = tenants::load(&stores.docs, &tid).await?.ok_or_else(|| {
                Error::new(ErrorCode::TenantNotFound, format!("no tenant `{tid}`"))
            })?;
            let ident = Identifier::parse(&identifier, None)?;
            PasswordPolicy {
                min_length: t.password_min_length,
                ..PasswordPolicy::default()
            }
            .check(&password)?;
            let mut user = User::new(t.id(), &ident, Some(hasher.hash(&password).await?), now)?;
            user.roles = roles;
            user.scopes = scopes;
            users::create(&stores.docs, &user, &ident, true).await?;
            println!(
                "{}",
                json!({"created": user.id, "identifier": ident.key(), "tenant": t.id()})
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::Update { tenant: tid, set }) => {
            let changes: serde_json::Value = serde_json::from_str(&set).map_err(|e| {
                Error::new(
                    ErrorCode::ValidationError,
                    format!("--set is not JSON: {e}"),
                )
            })?;
            let t = tenants::update(&stores.docs, &tid, &changes).await?;
            tenants::publish(&stores, &t, now).await?;
            audit_cli(&stores, t.id(), "tenant_updated", json!({"fields": changes.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())})).await;
            println!("{}", json!({"updated": t.id()}));
            Ok(())
        }
        Command::Tenant(TenantCommand::Export { tenant: tid }) => {
            tenants::load(&stores.docs, &tid).await?.ok_or_else(|| {
                Error::new(ErrorCode::TenantNotFound, format!("no tenant `{tid}`"))
            })?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = crate::gdpr::export_tenant(&stores.docs, &tid, &mut out).await?;
            std::io::Write::flush(&mut out).map_err(|e| Error::internal(e.to_string()))?;
            audit_cli(&stores, &tid, "tenant_exported", json!({"documents": n})).await;
            Ok(())
        }
        Command::User(UserCommand::Erase {
            identifier,
            tenant: tid,
        }) => {
            let ident = Identifier::parse(&identifier, None)?;
            let (user, _) = users::find_by_identifier(&stores.docs, &tid, &ident)
                .await?
                .ok_or_else(|| Error::new(ErrorCode::NotFound, "no such user"))?;
            let erased = crate::gdpr::erase_user(&stores.docs, &stores.hot, &user, now).await?;
            audit_cli(&stores, &tid, "user_erased", json!({"erased": true})).await;
            println!("{}", json!(erased));
            Ok(())
        }
        Command::User(command @ (UserCommand::Disable { .. } | UserCommand::Enable { .. })) => {
            let (identifier, tid, active) = match command {
                UserCommand::Disable { identifier, tenant } => (identifier, tenant, false),
                UserCommand::Enable { identifier, tenant } => (identifier, tenant, true),
                _ => unreachable!("matched above"),
            };
            let ident = Identifier::parse(&identifier, None)?;
            let (mut user, version) = users::find_by_identifier(&stores.docs, &tid, &ident)
                .await?
                .ok_or_else(|| Error::new(ErrorCode::NotFound, "no such user"))?;
            user.is_active = active;
            user.updated_at = now;
            users::update(&stores.docs, &user, version).await?;
            // Disabling ends every session at once: no refresh anywhere, and strict verify
            // refuses the access tokens already issued.
            let revoked = if active {
                0
            } else {
                crate::store::hot::revoke_all(&stores.hot, &tid, &user.subject(), "user_disabled", now)
                    .await?
            };
            let event = if active {
                "user_enabled"
            } else {
                "user_disabled"
            };
            audit_cli(
                &stores,
                &tid,
                event,
                json!({"user_id": user.id, "sessions_revoked": revoked}),
            )
            .await;
            println!(
                "{}",
                json!({"user_id": user.id, "is_active": active, "sessions_revoked": revoked})
            );
            Ok(())
        }
        Command::Key(KeyCommand::Rotate { tenant: tid }) => {
            let t = tenants::load(&stores.docs, &tid).await?.ok_or_else(|| {
                Error::new(ErrorCode::TenantNotFound, format!("no tenant `{tid}`"))
            })?;
            let kid = tenants::rotate_key(&stores.docs, &stores.master, &t, now).await?;
            tenants::publish(&stores, &t, now).await?;
            audit_cli(&stores, t.id(), "key_rotated", json!({"kid": kid})).await;
            println!("{}", json!({"tenant": t.id(), "active_kid": kid}));
            Ok(())
        }
        Command::Key(KeyCommand::EdgeSecret { generation }) => {
            let generation = generation.unwrap_or(cfg.edge_key_generation);
            let key = usso_shared::keys::edge_key(&stores.master, generation);
            println!("{}", key.to_base64url());
            Ok(())
        }
        Command::Key(KeyCommand::List { tenant: tid }) => {
            for k in tenants::list_keys(&stores.docs, &stores.master, &tid).await? {
                println!("{k}");
            }
            Ok(())
        }
    }
}

async fn audit_cli(stores: &Stores, tenant: &str, event: &str, detail: serde_json::Value) {
    let id = format!(
        "{:013}-{}",
        chrono::Utc::now().timestamp_millis(),
        usso_shared::random::hex_id().unwrap_or_default()
    );
    let body = json!({"event": event, "tenant_id": tenant, "at": SystemClock.now(), "ip": null, "user_agent": "cli", "detail": detail});
    if let Err(e) =
        crate::store::docs::DocumentStore::insert(&stores.docs, crate::app::legacy::AUDIT, tenant, &id, body)
            .await
    {
        tracing::error!(error = %e, "audit write failed");
    }
}

async fn serve(cfg: Config, stores: Stores, hasher: Hasher) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("cannot listen on {}: {e}", cfg.listen),
            )
        })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::internal(e.to_string()))?;
    let now = SystemClock.now();
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
    let mut edge_cfg = EdgeConfig::new(stores.edge_key.clone());
    edge_cfg.strict_verify = cfg.strict_verify;
    edge_cfg.bench_routes = cfg.bench_routes;
    edge_cfg.tenant_header = cfg.tenant_header;
    let (mail, sms, dev) = crate::delivery::channels::from_config(&cfg)?;
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
    ));
    let app = Arc::new(App {
        outbox: outbox.clone(),
        core: EdgeCore::new(stores.hot.clone(), SystemClock, edge_cfg),
        docs: stores.docs,
        hot: stores.hot,
        hasher,
        master: stores.master,
        proxy_hops: cfg.proxy_hops(),
        body_timeout: cfg.limits().body_timeout,
    });
    let gateway = match (&cfg.redis_url, &cfg.gateway_token) {
        (Some(url), Some(token)) => Some(Arc::new(
            crate::http::gateway::Gateway::connect(url, token, &cfg.gateway_prefix).await?,
        )),
        _ => None,
    };
    // Tests and scripts wait for this line.
    println!("usso-origin listening on http://{bound}");
    tracing::info!(%bound, data_dir = %cfg.data_dir.display(), hot_store = app.hot.name(), document_store = app.docs.name(), "serving");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(outbox.run(async {
        let _ = stop_rx.await;
    }));
    let retention = {
        let (docs, days) = (app.docs.clone(), cfg.audit_retention_days);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                crate::audit::retention::prune_all(&docs, days, SystemClock.now()).await;
            }
        })
    };
    let served = crate::http::serve::serve(listener, app, gateway, cfg.limits()).await;
    // The delivery in progress finishes; what is still queued waits in the store for the next start.
    let _ = stop_tx.send(());
    let _ = worker.await;
    retention.abort();
    served.map_err(|e| Error::internal(format!("server failed: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}
