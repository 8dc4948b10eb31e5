//! Tenants over HTTP: the system administrator creates, lists, changes and deletes them; a
//! tenant's administrator reads and changes its own policy. One call into
//! [`crate::tenants::provision`], the same functions the CLI uses.

use axum::extract::{Path, State};
use usso_edge::http::Response;
use usso_shared::{Error, ErrorCode};

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::audit::AuditEvent;
use crate::authz::rules;
use crate::tenants::provision::{self, Changer, Lifetimes, NewTenant};
use crate::tenants::{self, Activation};

/// Every tenant's policy.
#[utoipa::path(get, path = "/api/sso/v1/tenants", tag = "tenants",
    responses((status = 200, body = dto::TenantPage), (status = 403, body = dto::ErrorResponse)))]
pub async fn list(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        extract::principal(&ctx, &req, &rules::TENANTS_LIST, None).await?;
        let mut items = Vec::new();
        for id in crate::store::docs::DocumentStore::tenants(&ctx.docs).await? {
            if let Some(t) = tenants::load(&ctx.docs, &id).await? {
                items.push(provision::view(&t));
            }
        }
        Ok(Response::json(
            200,
            &dto::TenantPage {
                total: items.len() as u64,
                items,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Creates a tenant (its first signing key, its `admin` role, its published policy).
#[utoipa::path(post, path = "/api/sso/v1/tenants", tag = "tenants", request_body = dto::CreateTenant,
    responses((status = 201, description = "The tenant's policy"), (status = 403, body = dto::ErrorResponse),
        (status = 409, description = "the id or a domain is taken", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn create(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::TENANTS_CREATE, None).await?;
        let body: dto::CreateTenant = req.json()?;
        let activation = match body.activation.as_deref() {
            None | Some("none") => Activation::None,
            Some("identifier") => Activation::Identifier,
            Some(other) => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    format!("activation: `none` or `identifier`, not `{other}`"),
                ))
            }
        };
        let now = ctx.now();
        let t = provision::build(
            NewTenant {
                id: body.id,
                name: body.name,
                domains: body.domains,
                issuer: body.issuer,
                audience: body.audience,
                activation,
                registration_enabled: body.registration_enabled,
                require_mfa: body.require_mfa,
                allowed_redirects: body.allowed_redirects,
                captcha: body.captcha,
            },
            // New tenants start with the system tenant's token lifetimes.
            Lifetimes {
                access: tc.tenant.tokens.access_ttl_secs,
                refresh: tc.tenant.tokens.refresh_ttl_secs,
            },
            now,
        )?;
        provision::provision(&ctx.stores(), &t, now).await?;
        crate::audit::client(
            &ctx,
            t.id(),
            AuditEvent::TenantCreated,
            &extract::meta(&req),
            serde_json::json!({"tenant_id": t.id(), "by": p.subject}),
        )
        .await;
        Ok(Response::json(201, &provision::view(&t)))
    }
    .await)
}

/// A tenant's policy.
#[utoipa::path(get, path = "/api/sso/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 200, description = "The tenant's policy"), (status = 404, body = dto::ErrorResponse)))]
pub async fn get(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        extract::principal(&ctx, &req, &rules::TENANT_GET, Some(&id)).await?;
        let t = tenants::load(&ctx.docs, &id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "tenant not found"))?;
        Ok(Response::json(200, &provision::view(&t)).with_header("cache-control", "no-store"))
    }
    .await)
}

/// Changes a tenant's policy (a JSON object of fields; `is_active` and `domains` by the
/// system administrator only).
#[utoipa::path(patch, path = "/api/sso/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path)),
    request_body(content = Object, description = "fields to change, e.g. {\"registration_enabled\": false}"),
    responses((status = 200, description = "The tenant's policy"), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn update(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::TENANT_UPDATE, Some(&id)).await?;
        let changes: serde_json::Value = req.json()?;
        let by = if p.is_system() {
            Changer::SystemAdmin
        } else {
            Changer::TenantAdmin
        };
        let before = tenants::load(&ctx.docs, &id).await?;
        let t = provision::change(&ctx.stores(), &id, &changes, by, ctx.now()).await?;
        let mut hosts = t.tokens.domains.clone();
        hosts.extend(before.map(|b| b.tokens.domains).unwrap_or_default());
        ctx.core.forget(&id, &hosts);
        crate::audit::client(
            &ctx,
            t.id(),
            AuditEvent::TenantUpdated,
            &extract::meta(&req),
            serde_json::json!({"fields": changes.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
                "by": p.subject}),
        )
        .await;
        Ok(Response::json(200, &provision::view(&t)))
    }
    .await)
}

/// Deletes a tenant and everything it holds (not the system tenant).
#[utoipa::path(delete, path = "/api/sso/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse),
        (status = 409, description = "the system tenant", body = dto::ErrorResponse)))]
pub async fn delete(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::TENANT_DELETE, Some(&id)).await?;
        let hosts = tenants::load(&ctx.docs, &id)
            .await?
            .map(|t| t.tokens.domains)
            .unwrap_or_default();
        let removed = provision::remove(&ctx.stores(), &id).await?;
        ctx.core.forget(&id, &hosts);
        crate::audit::client(
            &ctx,
            tc.tenant.id(),
            AuditEvent::TenantDeleted,
            &extract::meta(&req),
            serde_json::json!({"tenant_id": id, "documents": removed, "by": p.subject}),
        )
        .await;
        Ok(Response::no_content())
    }
    .await)
}
