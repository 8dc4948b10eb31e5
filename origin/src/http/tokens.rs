//! The token routes, answered by the edge core exactly as at the edge; the origin only audits
//! what the core reports it did ([`usso_edge::Happened`]).

use axum::extract::State;
use serde_json::json;
use usso_edge::Happened;

use super::dto;
use super::extract::{self, CoreRequest, Out};
use crate::app::CtxRef;
use crate::audit::AuditEvent;

/// Passes a request to the edge core and audits what it did.
pub async fn edge(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    Out(pass(&ctx, &req).await)
}

/// The edge core's answer to `req`, with what it did audited (the pages' sign-out and resume
/// call it too).
pub async fn pass(
    ctx: &crate::app::Ctx,
    req: &usso_edge::http::Request,
) -> usso_edge::http::Response {
    let (res, happened) = ctx.core.handle_reporting(req).await;
    audit_happened(ctx, &extract::meta(req), happened).await;
    res
}

/// Audits what the edge core reports it did (a refresh, a detected reuse, a logout).
pub async fn audit_happened(
    ctx: &crate::app::Ctx,
    who: &crate::app::ClientMeta,
    happened: Option<Happened>,
) {
    let event = match &happened {
        Some(Happened::Refreshed {
            tenant_id,
            session_id,
        }) => Some((
            tenant_id,
            AuditEvent::Refresh,
            json!({"session_id": session_id}),
        )),
        Some(Happened::ReuseDetected {
            tenant_id,
            session_id,
        }) => Some((
            tenant_id,
            AuditEvent::RefreshReuseDetected,
            json!({"session_id": session_id}),
        )),
        Some(Happened::LoggedOut {
            tenant_id,
            session_id,
        }) => Some((
            tenant_id,
            AuditEvent::Logout,
            json!({"session_id": session_id}),
        )),
        None => None,
    };
    if let Some((tenant, event, detail)) = event {
        crate::audit::client(ctx, tenant, event, who, detail).await;
    }
}

/// The tenant's JWKS (active, next and previous keys).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    params(("domain" = Option<String>, Query, description = "host[:port] selecting the tenant")),
    responses((status = 200, description = "JWKS, with Cache-Control and ETag"), (status = 304, description = "Not modified"),
        (status = 400, description = "Unknown tenant", body = dto::ErrorResponse)))]
pub async fn jwks(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    edge(ctx, req).await
}

/// OpenID-style discovery document.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "tokens",
    params(("domain" = Option<String>, Query, description = "host[:port] selecting the tenant")),
    responses((status = 200, description = "Discovery document"), (status = 400, body = dto::ErrorResponse)))]
pub async fn discovery(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    edge(ctx, req).await
}

/// RFC 8414 authorization server metadata (the same document as the OpenID discovery).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    params(("domain" = Option<String>, Query, description = "host[:port] selecting the tenant")),
    responses((status = 200, description = "Authorization server metadata"), (status = 400, body = dto::ErrorResponse)))]
pub async fn oauth_metadata(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    edge(ctx, req).await
}

/// Checks an API key (`{"api_key": "usso_sk_…"}`; also at `/api-keys/verify`) and returns
/// its claims in the SDKs' `UserData` shape. Answered by the edge core (at the edge, from the
/// hot store alone).
#[utoipa::path(post, path = "/api/sso/v1/apikeys/verify", tag = "api keys",
    request_body = dto::VerifyApiKey,
    responses((status = 200, description = "The key's claims: sub, tenant_id, workspace_id, scopes, exp, credential, api_key_id"),
        (status = 401, description = "invalid_credentials", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn verify_api_key(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    edge(ctx, req).await
}

/// Verifies an access token and returns its claims (`?strict=true` also checks the session).
#[utoipa::path(post, path = "/api/sso/v1/auth/verify-token", tag = "tokens",
    request_body = dto::VerifyRequest,
    params(("strict" = Option<bool>, Query, description = "also require a live session")),
    responses((status = 200, description = "The verified claims"), (status = 401, body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn verify_token(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    edge(ctx, req).await
}

/// Rotates a refresh token (body or `usso-refresh-token` cookie; GET reads the cookie).
#[utoipa::path(post, path = "/api/sso/v1/auth/refresh", tag = "auth",
    request_body = dto::RefreshRequest,
    responses((status = 200, body = dto::TokenResponse),
        (status = 401, description = "invalid_token, refresh_token_reused, session_revoked, session_expired", body = dto::ErrorResponse)))]
pub async fn refresh(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    edge(ctx, req).await
}

/// Ends the session of the presented token and clears the cookies.
#[utoipa::path(post, path = "/api/sso/v1/auth/logout", tag = "auth",
    request_body = dto::RefreshRequest,
    responses((status = 200, description = "Logged out"), (status = 401, body = dto::ErrorResponse)))]
pub async fn logout(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    edge(ctx, req).await
}
