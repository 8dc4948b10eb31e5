//! Roles over HTTP: extract, check the route's rule, one call into
//! [`crate::identity::roles`], respond.

use axum::extract::{Path, State};
use usso_edge::http::Response;

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::authz::rules;
use crate::identity::roles;

fn role_response(status: u16, r: &roles::Role, version: i64) -> Response {
    Response::json(status, &dto::RoleView::of(r, version))
        .with_header("etag", extract::etag(version))
        .with_header("cache-control", "no-store")
}

/// The tenant's roles, by slug.
#[utoipa::path(get, path = "/api/sso/v1/roles", tag = "roles",
    params(("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::RolePage), (status = 403, body = dto::ErrorResponse)))]
pub async fn list(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::ROLES_LIST, None).await?;
        let (offset, limit) = extract::page(&req, 50)?;
        let (items, total) = roles::list(&ctx.docs, tc.tenant.id(), offset, limit).await?;
        Ok(Response::json(
            200,
            &dto::RolePage {
                items: items
                    .iter()
                    .map(|(r, v)| dto::RoleView::of(r, *v))
                    .collect(),
                total,
                offset,
                limit,
            },
        ))
    }
    .await)
}

/// Creates a role (its scopes within your own).
#[utoipa::path(post, path = "/api/sso/v1/roles", tag = "roles", request_body = dto::CreateRole,
    responses((status = 201, body = dto::RoleView), (status = 403, body = dto::ErrorResponse),
        (status = 409, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn create(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::ROLES_CREATE, None).await?;
        let body: dto::CreateRole = req.json()?;
        let role = roles::create(&ctx, &p, &extract::meta(&req), body.into()).await?;
        Ok(role_response(201, &role, 1))
    }
    .await)
}

/// One role.
#[utoipa::path(get, path = "/api/sso/v1/roles/{slug}", tag = "roles", params(("slug" = String, Path)),
    responses((status = 200, body = dto::RoleView), (status = 404, body = dto::ErrorResponse)))]
pub async fn get(
    State(ctx): State<CtxRef>,
    Path(slug): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::ROLE_GET, None).await?;
        let (role, version) = roles::must_get(&ctx.docs, tc.tenant.id(), &slug).await?;
        Ok(role_response(200, &role, version))
    }
    .await)
}

/// Changes a role; its holders' sessions end.
#[utoipa::path(patch, path = "/api/sso/v1/roles/{slug}", tag = "roles",
    params(("slug" = String, Path), ("If-Match" = Option<String>, Header, description = "the ETag read")),
    request_body = dto::UpdateRole,
    responses((status = 200, body = dto::RoleView), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse), (status = 412, body = dto::ErrorResponse)))]
pub async fn update(
    State(ctx): State<CtxRef>,
    Path(slug): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::ROLE_UPDATE, None).await?;
        let if_match = extract::if_match(&req)?;
        let body: dto::UpdateRole = req.json()?;
        let (role, version) =
            roles::update(&ctx, &p, &extract::meta(&req), &slug, body.into(), if_match).await?;
        Ok(role_response(200, &role, version))
    }
    .await)
}

/// Deletes a role: taken from its holders, whose sessions end.
#[utoipa::path(delete, path = "/api/sso/v1/roles/{slug}", tag = "roles", params(("slug" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse)))]
pub async fn delete(
    State(ctx): State<CtxRef>,
    Path(slug): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::ROLE_DELETE, None).await?;
        roles::delete(&ctx, &p, &extract::meta(&req), &slug).await?;
        Ok(Response::no_content())
    }
    .await)
}
