//! Administration of users, their identifiers and credentials: extract, check the route's
//! rule ([`crate::authz::rules`]), one domain call ([`crate::identity::manage`]), respond.

use axum::extract::{Path, State};
use usso_edge::http::Response;
use usso_shared::{Error, ErrorCode};

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::authz::rules;
use crate::identity::identifier::IdentifierKind;
use crate::identity::manage::{self, UserFilter, UserSort};

fn user_response(status: u16, l: &manage::Listed) -> Response {
    Response::json(status, &dto::UserView::from(l))
        .with_header("etag", extract::etag(l.version))
        .with_header("cache-control", "no-store")
}

/// Lists users (filters, text search, sort, paging).
#[utoipa::path(get, path = "/api/sso/v1/users", tag = "users",
    params(("identifier_type" = Option<String>, Query, description = "email, phone or username"),
        ("role" = Option<String>, Query), ("is_active" = Option<bool>, Query),
        ("workspace_id" = Option<String>, Query),
        ("q" = Option<String>, Query, description = "text in an identifier or the name"),
        ("sort" = Option<String>, Query, description = "-created_at (default), created_at, -updated_at, name"),
        ("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "1–100, default 20")),
    responses((status = 200, body = dto::UserPage), (status = 401, body = dto::ErrorResponse),
        (status = 403, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn list(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::USERS_LIST, None).await?;
        let identifier_type = match req.query_param("identifier_type").filter(|v| !v.is_empty()) {
            Some(v) => Some(v.parse::<IdentifierKind>().map_err(|_| {
                Error::new(
                    ErrorCode::ValidationError,
                    "identifier_type: email, phone or username",
                )
            })?),
            None => None,
        };
        let sort = match req.query_param("sort").filter(|v| !v.is_empty()) {
            Some(s) => UserSort::parse(&s)?,
            None => UserSort::CreatedDesc,
        };
        let (offset, limit) = extract::page(&req, 20)?;
        let page = manage::list(
            &ctx,
            tc.tenant.id(),
            UserFilter {
                identifier_type,
                role: req.query_param("role").filter(|v| !v.is_empty()),
                is_active: extract::param(&req, "is_active")?,
                workspace_id: req.query_param("workspace_id").filter(|v| !v.is_empty()),
                search: req.query_param("q").or_else(|| req.query_param("search")),
                sort,
                offset,
                limit,
            },
        )
        .await?;
        Ok(Response::json(
            200,
            &dto::UserPage {
                items: page.items.iter().map(dto::UserView::from).collect(),
                total: page.total,
                offset,
                limit,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Creates a user.
#[utoipa::path(post, path = "/api/sso/v1/users", tag = "users", request_body = dto::CreateUser,
    responses((status = 201, body = dto::UserView), (status = 403, body = dto::ErrorResponse),
        (status = 409, description = "the identifier is taken", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn create(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::USERS_CREATE, None).await?;
        let body: dto::CreateUser = req.json()?;
        let l = manage::create(&ctx, &tc.tenant, &p, &extract::meta(&req), body.into()).await?;
        Ok(user_response(201, &l))
    }
    .await)
}

/// One user (`ETag` for `If-Match`).
#[utoipa::path(get, path = "/api/sso/v1/users/{uid}", tag = "users", params(("uid" = String, Path)),
    responses((status = 200, body = dto::UserView), (status = 404, body = dto::ErrorResponse)))]
pub async fn get(
    State(ctx): State<CtxRef>,
    Path(uid): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::USER_GET, Some(&uid)).await?;
        Ok(user_response(
            200,
            &manage::get(&ctx, tc.tenant.id(), &uid).await?,
        ))
    }
    .await)
}

/// Changes a user (name, roles, scopes, activation). A change of access ends their sessions.
#[utoipa::path(patch, path = "/api/sso/v1/users/{uid}", tag = "users", params(("uid" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag read")),
    request_body = dto::UpdateUser,
    responses((status = 200, body = dto::UserView), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse),
        (status = 412, description = "changed since read", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn update(
    State(ctx): State<CtxRef>,
    Path(uid): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::USER_UPDATE, Some(&uid)).await?;
        let if_match = extract::if_match(&req)?;
        let body: dto::UpdateUser = req.json()?;
        let l = manage::update(&ctx, &p, &extract::meta(&req), &uid, body.into(), if_match).await?;
        Ok(user_response(200, &l))
    }
    .await)
}

/// Deletes a user (soft delete: no sign-in, not listed, sessions ended, identifiers released).
#[utoipa::path(delete, path = "/api/sso/v1/users/{uid}", tag = "users", params(("uid" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse)))]
pub async fn delete(
    State(ctx): State<CtxRef>,
    Path(uid): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::USER_DELETE, Some(&uid)).await?;
        manage::delete(&ctx, &p, &extract::meta(&req), &uid).await?;
        Ok(Response::no_content())
    }
    .await)
}

/// A user's identifiers.
#[utoipa::path(get, path = "/api/sso/v1/users/{uid}/identifiers", tag = "users",
    params(("uid" = String, Path)),
    responses((status = 200, body = dto::IdentifierList), (status = 404, body = dto::ErrorResponse)))]
pub async fn identifiers(
    State(ctx): State<CtxRef>,
    Path(uid): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::IDENTIFIERS_LIST, Some(&uid)).await?;
        let l = manage::get(&ctx, tc.tenant.id(), &uid).await?;
        let items: Vec<_> = l
            .identifiers
            .iter()
            .map(|i| dto::IdentifierView::of(&l.user, i))
            .collect();
        Ok(Response::json(
            200,
            &dto::IdentifierList {
                total: items.len(),
                items,
            },
        ))
    }
    .await)
}

/// Adds an identifier (the first of its kind becomes primary).
#[utoipa::path(post, path = "/api/sso/v1/users/{uid}/identifiers", tag = "users",
    params(("uid" = String, Path)), request_body = dto::AddIdentifier,
    responses((status = 201, body = dto::IdentifierView),
        (status = 409, description = "held by another account", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn add_identifier(
    State(ctx): State<CtxRef>,
    Path(uid): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::IDENTIFIERS_ADD, Some(&uid)).await?;
        let body: dto::AddIdentifier = req.json()?;
        let idoc = manage::add_identifier(
            &ctx,
            &p,
            &extract::meta(&req),
            &uid,
            &body.identifier,
            body.kind.as_deref(),
            body.verified,
        )
        .await?;
        let l = manage::get(&ctx, tc.tenant.id(), &uid).await?;
        Ok(Response::json(
            201,
            &dto::IdentifierView::of(&l.user, &idoc),
        ))
    }
    .await)
}

/// Removes an identifier (an account keeps at least one).
#[utoipa::path(delete, path = "/api/sso/v1/users/{uid}/identifiers/{identifier_id}", tag = "users",
    params(("uid" = String, Path), ("identifier_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = dto::ErrorResponse),
        (status = 409, description = "the last identifier", body = dto::ErrorResponse)))]
pub async fn remove_identifier(
    State(ctx): State<CtxRef>,
    Path((uid, identifier_id)): Path<(String, String)>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::IDENTIFIER_REMOVE, Some(&uid)).await?;
        manage::remove_identifier(&ctx, &p, &extract::meta(&req), &uid, &identifier_id).await?;
        Ok(Response::no_content())
    }
    .await)
}

/// Makes an identifier the primary one of its kind.
#[utoipa::path(post, path = "/api/sso/v1/users/{uid}/identifiers/{identifier_id}/primary",
    tag = "users", params(("uid" = String, Path), ("identifier_id" = String, Path)),
    responses((status = 200, body = dto::UserView), (status = 404, body = dto::ErrorResponse)))]
pub async fn make_primary(
    State(ctx): State<CtxRef>,
    Path((uid, identifier_id)): Path<(String, String)>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) =
            extract::principal(&ctx, &req, &rules::IDENTIFIER_PRIMARY, Some(&uid)).await?;
        manage::make_primary(&ctx, &p, &extract::meta(&req), &uid, &identifier_id).await?;
        Ok(user_response(
            200,
            &manage::get(&ctx, tc.tenant.id(), &uid).await?,
        ))
    }
    .await)
}

/// Which ways of signing in a user has set up.
#[utoipa::path(get, path = "/api/sso/v1/users/{uid}/credentials", tag = "users",
    params(("uid" = String, Path)),
    responses((status = 200, body = dto::Credentials), (status = 404, body = dto::ErrorResponse)))]
pub async fn credentials(
    State(ctx): State<CtxRef>,
    Path(uid): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::CREDENTIALS, Some(&uid)).await?;
        let l = manage::get(&ctx, tc.tenant.id(), &uid).await?;
        Ok(Response::json(
            200,
            &dto::Credentials {
                methods: manage::credential_methods(&l.user, &l.identifiers)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                has_password: l.user.password_hash.is_some(),
            },
        ))
    }
    .await)
}

/// Sets a user's password (the tenant's policy); their sessions end.
#[utoipa::path(put, path = "/api/sso/v1/users/{uid}/password", tag = "users",
    params(("uid" = String, Path)), request_body = dto::SetPassword,
    responses((status = 200, body = dto::SessionsEnded), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn set_password(
    State(ctx): State<CtxRef>,
    Path(uid): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::USER_PASSWORD, Some(&uid)).await?;
        let body: dto::SetPassword = req.json()?;
        let n = manage::set_password(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            &uid,
            &body.secret,
        )
        .await?;
        Ok(Response::json(
            200,
            &dto::SessionsEnded {
                sessions_revoked: n,
            },
        ))
    }
    .await)
}
