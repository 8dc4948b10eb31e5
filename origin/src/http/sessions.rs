//! The account's own routes: who am I, my sessions.

use axum::extract::{Path, State};
use usso_edge::http::Response;
use usso_shared::{Error, ErrorCode};

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::identity::users;
use crate::sessions::list::{self, ListQuery};

/// The current user (with an API key: the key's owner, scopes and id, as the edge answers).
#[utoipa::path(get, path = "/api/sso/v1/auth/me", tag = "auth",
    responses((status = 200, description = "The user"), (status = 401, body = dto::ErrorResponse)))]
pub async fn me(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    if crate::app::Core::api_key(&req).is_some() {
        return out(Ok(ctx.core.handle(&req).await));
    }
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let claims = extract::caller(&ctx, &req, &tc, false).await?;
        let id = claims
            .user_id
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "not a user token"))?;
        let (user, _) = users::get(&ctx.docs, tc.tenant.id(), &id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "user not found"))?;
        Ok(Response::json(200, &user.public()).with_header("cache-control", "no-store"))
    }
    .await)
}

/// The current user (alias).
#[utoipa::path(get, path = "/api/sso/v1/me", tag = "auth",
    responses((status = 200, description = "The user"), (status = 401, body = dto::ErrorResponse)))]
pub async fn me_alias(ctx: State<CtxRef>, req: CoreRequest) -> Out {
    me(ctx, req).await
}

/// The caller's sessions (`user_id` with `read:sessions`).
#[utoipa::path(get, path = "/api/sso/v1/sessions", tag = "sessions",
    params(("user_id" = Option<String>, Query), ("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, description = "{items, total, offset, limit}"), (status = 401, body = dto::ErrorResponse),
        (status = 403, body = dto::ErrorResponse)))]
pub async fn sessions(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        // Session management always needs a live session, strict mode or not.
        let claims = extract::caller(&ctx, &req, &tc, true).await?;
        let q = dto::SessionsQuery {
            user_id: req.query_param("user_id"),
            offset: req.query_param("offset").and_then(|v| v.parse().ok()),
            limit: req.query_param("limit").and_then(|v| v.parse().ok()),
        };
        let page = list::list(
            &ctx,
            &tc.tenant,
            &claims,
            ListQuery {
                user_id: q.user_id,
                offset: q.offset.unwrap_or(0),
                limit: q.limit.unwrap_or(50),
            },
        )
        .await?;
        Ok(Response::json(200, &page))
    }
    .await)
}

/// Revokes one of the caller's sessions (any session with `delete:sessions`).
#[utoipa::path(delete, path = "/api/sso/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path)),
    responses((status = 200, description = "Revoked"), (status = 404, body = dto::ErrorResponse)))]
pub async fn revoke_session(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let claims = extract::caller(&ctx, &req, &tc, true).await?;
        list::revoke(&ctx, &tc.tenant, &extract::meta(&req), &claims, &id).await?;
        Ok(Response::json(200, &serde_json::json!({"success": true})))
    }
    .await)
}
