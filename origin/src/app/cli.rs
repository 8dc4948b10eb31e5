//! The administration commands (`tenant …`, `user …`, `key …`): each opens the stores, does
//! one thing, audits it as `cli`, and prints JSON.

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::audit::{self, Actor, AuditEvent};
use crate::authn::hasher::Hasher;
use crate::config::{Command, Config, KeyCommand, TenantCommand, UserCommand};
use crate::identity::identifier::Identifier;
use crate::identity::users::{self, User};
use crate::store::Stores;
use crate::tenants;

/// Runs one administration command.
pub async fn execute(
    cfg: &Config,
    stores: Stores,
    hasher: Hasher,
    command: Command,
    now: i64,
) -> Result<()> {
    match command {
        Command::Serve => Err(Error::internal("serve is not a CLI command")),
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
            // The policy (domains, redirects, captcha routes, limits…) is checked once, by
            // the same function `POST /tenants` uses.
            let mut t = crate::tenants::provision::build(
                crate::tenants::provision::NewTenant {
                    id: id.clone(),
                    name,
                    domains,
                    issuer,
                    audience: Some(!no_audience),
                    activation: if activation == "none" {
                        crate::tenants::Activation::None
                    } else {
                        crate::tenants::Activation::Identifier
                    },
                    registration_enabled: None,
                    require_mfa,
                    allowed_redirects: redirects,
                    captcha,
                },
                crate::tenants::provision::Lifetimes {
                    access: cfg.access_token_expire,
                    refresh: cfg.refresh_token_expire,
                },
                now,
            )?;
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
            crate::tenants::provision::provision(&stores, &t, now).await?;
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
            t.password_policy().check(&password)?;
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
            let t = crate::tenants::provision::change(
                &stores,
                &tid,
                &changes,
                crate::tenants::provision::Changer::Operator,
                now,
            )
            .await?;
            audit_cli(&stores, t.id(), AuditEvent::TenantUpdated, json!({"fields": changes.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())})).await;
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
            audit_cli(
                &stores,
                &tid,
                AuditEvent::TenantExported,
                json!({"documents": n}),
            )
            .await;
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
            audit_cli(
                &stores,
                &tid,
                AuditEvent::UserErased,
                json!({"erased": true}),
            )
            .await;
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
                crate::store::hot::revoke_all(
                    &stores.hot,
                    &tid,
                    &user.subject(),
                    "user_disabled",
                    now,
                )
                .await?
            };
            let event = if active {
                AuditEvent::UserEnabled
            } else {
                AuditEvent::UserDisabled
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
            audit_cli(&stores, t.id(), AuditEvent::KeyRotated, json!({"kid": kid})).await;
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

async fn audit_cli(stores: &Stores, tenant: &str, event: AuditEvent, detail: serde_json::Value) {
    let now = usso_shared::clock::Clock::now(&usso_shared::clock::SystemClock);
    audit::record(&stores.docs, tenant, event, Actor::Cli, detail, now).await;
}
