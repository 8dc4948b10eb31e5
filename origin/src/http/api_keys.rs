//! API keys over HTTP (`/apikeys` and its other spelling `/api-keys`): extract, check the
//! route's rule, one call into [`crate::sessions::api_keys`], respond. Checking a key
//! (`POST /apikeys/verify`) is the edge core's route.

use axum::extract::{Path, State};
use usso_edge::http::Response;

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::authz::{rules, Action};
use crate::sessions::api_keys;

/// Your API keys (or, with `read:usso/apikeys`, the tenant's; `?user_id=` for one user's).
#[utoipa::path(get, path = "/api/sso/v1/apikeys", tag = "api keys",
    params(("user_id" = Option<String>, Query), ("offset" = Option<u64>, Query),
        ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::ApiKeyPage), (status = 401, body = dto::ErrorResponse),
        (status = 403, body = dto::ErrorResponse)))]
pub async fn list(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::APIKEYS_LIST, None).await?;
        let (offset, limit) = extract::page(&req, 50)?;
        let user_id = extract::param::<String>(&req, "user_id")?;
        let (items, total) = api_keys::list(&ctx, &p, user_id, offset, limit).await?;
        Ok(Response::json(
            200,
            &dto::ApiKeyPage {
                items: items.iter().map(dto::ApiKeyView::of).collect(),
                total,
                offset,
                limit,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Creates an API key for you (a person signed in). The key is in this answer only.
#[utoipa::path(post, path = "/api/sso/v1/apikeys", tag = "api keys", request_body = dto::CreateApiKey,
    responses((status = 201, body = dto::ApiKeyCreated), (status = 403, body = dto::ErrorResponse),
        (status = 409, description = "too many keys", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn create(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::APIKEYS_CREATE, None).await?;
        let body: dto::CreateApiKey = req.json()?;
        let agent = match &body.agent_id {
            Some(id) => {
                crate::identity::agents::require_enabled(&tc.tenant)?;
                let (a, _) = crate::identity::agents::get(&ctx, &tc.tenant, id)
                    .await
                    .map_err(|_| {
                        usso_shared::Error::new(
                            usso_shared::ErrorCode::ValidationError,
                            "agent_id: no such agent",
                        )
                    })?;
                Some(api_keys::AgentOwner {
                    id: a.id,
                    scopes: a.scopes,
                    workspace_id: a.workspace_id,
                    active: a.is_active,
                })
            }
            None => None,
        };
        let (key, plain) = api_keys::create(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            api_keys::NewKey {
                name: body.name,
                scopes: body.scopes,
                expires_in_days: body.expires_in_days,
                workspace_id: body.workspace_id,
                agent,
            },
        )
        .await?;
        Ok(Response::json(
            201,
            &dto::ApiKeyCreated {
                key: plain,
                view: dto::ApiKeyView::of(&key),
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// One API key (yours; any with `read:usso/apikeys`).
#[utoipa::path(get, path = "/api/sso/v1/apikeys/{id}", tag = "api keys", params(("id" = String, Path)),
    responses((status = 200, body = dto::ApiKeyView), (status = 404, body = dto::ErrorResponse)))]
pub async fn get(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::APIKEY_GET, None).await?;
        let key = api_keys::get(&ctx, &p, &id, Action::Read).await?;
        Ok(
            Response::json(200, &dto::ApiKeyView::of(&key))
                .with_header("cache-control", "no-store"),
        )
    }
    .await)
}

/// Revokes an API key (yours; any with `delete:usso/apikeys`): refused everywhere at once.
#[utoipa::path(delete, path = "/api/sso/v1/apikeys/{id}", tag = "api keys", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = dto::ErrorResponse)))]
pub async fn revoke(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::APIKEY_DELETE, None).await?;
        api_keys::revoke(&ctx, &p, &extract::meta(&req), &id).await?;
        Ok(Response::no_content())
    }
    .await)
}
