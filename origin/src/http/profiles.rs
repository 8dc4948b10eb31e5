//! Profiles over HTTP: one's own (read, change) and another user's (read).

use axum::extract::{Path, State};
use usso_edge::http::Response;
use usso_shared::{Error, ErrorCode, Result};

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::authz::{rules, Principal};
use crate::identity::profiles::{self, ProfileChange};
use crate::identity::users;

fn own_id(p: &Principal) -> Result<&str> {
    p.user_id
        .as_deref()
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "not a user token"))
}

/// The caller's own profile.
#[utoipa::path(get, path = "/api/sso/v1/profiles/mine", tag = "profiles",
    responses((status = 200, body = dto::ProfileView), (status = 401, body = dto::ErrorResponse)))]
pub async fn mine(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::PROFILE_MINE_GET, None).await?;
        let (user, _) = users::get(&ctx.docs, tc.tenant.id(), own_id(&p)?)
            .await?
            .filter(|(u, _)| !u.is_deleted())
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "user not found"))?;
        Ok(Response::json(200, &dto::ProfileView::from(&user))
            .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Changes the caller's own name or picture.
#[utoipa::path(patch, path = "/api/sso/v1/profiles/mine", tag = "profiles",
    request_body = dto::UpdateProfile,
    responses((status = 200, body = dto::ProfileView), (status = 422, body = dto::ErrorResponse)))]
pub async fn update_mine(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::PROFILE_MINE_UPDATE, None).await?;
        let body: dto::UpdateProfile = req.json()?;
        let (user, _) = profiles::update_mine(
            &ctx,
            tc.tenant.id(),
            own_id(&p)?,
            &extract::meta(&req),
            ProfileChange {
                name: body.name,
                avatar_url: body.avatar_url,
                locale: body.locale,
            },
        )
        .await?;
        Ok(Response::json(200, &dto::ProfileView::from(&user)))
    }
    .await)
}

/// A user's profile (your own, or anyone's with `read:usso/profiles`).
#[utoipa::path(get, path = "/api/sso/v1/profiles/{user_id}", tag = "profiles",
    params(("user_id" = String, Path)),
    responses((status = 200, body = dto::ProfileView), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse)))]
pub async fn get(
    State(ctx): State<CtxRef>,
    Path(user_id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::PROFILE_GET, Some(&user_id)).await?;
        let (user, _) = users::get(&ctx.docs, tc.tenant.id(), &user_id)
            .await?
            .filter(|(u, _)| !u.is_deleted())
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "user not found"))?;
        Ok(Response::json(200, &dto::ProfileView::from(&user)))
    }
    .await)
}
