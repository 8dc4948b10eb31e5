//! A person's own account over HTTP: change or reset the password, prove an identifier,
//! export or delete the account, read one's security events; and the tenant's audit trail
//! for administrators. Extract, check the route's rule, one domain call, respond.

use axum::extract::State;
use usso_edge::http::Response;
use usso_shared::{paths, Error, ErrorCode};

use super::extract::{self, out, CoreRequest, Out};
use super::{dto, pages};
use crate::app::CtxRef;
use crate::audit::{self, AuditEvent, AuditFilter};
use crate::authn::{limits, reset};
use crate::authz::rules;
use crate::identity::account;

fn code_sent(sent: crate::authn::otp::CodeSent, detail: &str) -> Response {
    Response::json(
        202,
        &dto::OtpAccepted {
            detail: detail.into(),
            channel: sent.channel.as_str().into(),
            expires_in: sent.expires_in,
        },
    )
}

/// Changes your password (the current one required when set); your other sessions end.
#[utoipa::path(post, path = "/api/sso/v1/auth/password/change", tag = "account",
    request_body = dto::ChangePassword,
    responses((status = 200, body = dto::SessionsEnded),
        (status = 401, description = "the current password is wrong", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse), (status = 429, body = dto::ErrorResponse)))]
pub async fn change_password(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::PASSWORD_CHANGE, None).await?;
        let body: dto::ChangePassword = req.json()?;
        let n = account::change_password(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            body.current_password.as_deref(),
            &body.new_password,
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

/// Asks for a password reset code. The answer is the same whether or not an account holds
/// the identifier; the code goes only to an active account's address.
#[utoipa::path(post, path = "/api/sso/v1/auth/password/reset/request", tag = "account",
    request_body = dto::CodeFor,
    responses((status = 202, body = dto::OtpAccepted), (status = 422, body = dto::ErrorResponse),
        (status = 429, body = dto::ErrorResponse)))]
pub async fn reset_request(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        usso_edge::csrf::same_site(&req, &tc.tenant.tokens)?;
        let body: dto::CodeFor = req.json()?;
        let who = extract::meta(&req);
        let sent = reset::request(&ctx, &tc.tenant, &who, &body.identifier).await?;
        Ok(code_sent(
            sent,
            "if an account holds this identifier, a reset code is on its way",
        ))
    }
    .await)
}

/// The reset link's page (HTML): a form for the new password. Opening it consumes nothing.
#[utoipa::path(get, path = "/api/sso/v1/auth/password/reset", tag = "account",
    params(("token" = String, Query, description = "the token from the mailed link")),
    responses((status = 200, description = "A form for the new password", content_type = "text/html"),
        (status = 410, description = "Expired or used", content_type = "text/html")))]
pub async fn reset_page(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let token = req.query_param("token").unwrap_or_default();
        let live = reset::link_is_live(&ctx, &tc.tenant, &token).await?;
        let here = format!("{}?token={}", paths::PASSWORD_RESET, pages::encode(&token));
        let f = pages::Frame::of(&ctx, &tc, &req, &here, None)?;
        let min = tc.tenant.password_min_length;
        Ok(pages::links::reset_password(&f, &token, live, min, None))
    }
    .await)
}

/// Sets a new password with the mailed link's token, or with the identifier and the code sent
/// to it; every session of the account ends. A form post (the link's page) is answered with a
/// page.
#[utoipa::path(post, path = "/api/sso/v1/auth/password/reset", tag = "account",
    request_body = dto::ResetPassword,
    responses((status = 200, body = dto::SessionsEnded),
        (status = 401, description = "wrong, used or expired code or link", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse), (status = 429, body = dto::ErrorResponse)))]
pub async fn reset_password(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        usso_edge::csrf::same_site(&req, &tc.tenant.tokens)?;
        let who = extract::meta(&req);
        let t = &tc.tenant;
        if extract::is_form(&req) {
            let token = req.form_field("token").unwrap_or_default();
            let here = format!("{}?token={}", paths::PASSWORD_RESET, pages::encode(&token));
            let f = pages::Frame::of(&ctx, &tc, &req, &here, None)?;
            if let Err(e) = pages::csrf::check(&ctx, &tc, &req) {
                return Ok(pages::refused(&f, &e));
            }
            let new_password = req.form_field("new_password").unwrap_or_default();
            let min = t.password_min_length;
            return match reset::reset_by_link(&ctx, t, &who, &token, &new_password).await {
                Ok(_) => Ok(pages::links::outcome(
                    &f,
                    200,
                    f.t.reset_done_title,
                    f.t.reset_done_text,
                )),
                // The link is still live: the form again, with the reason.
                Err(e) if e.code() == ErrorCode::ValidationError => Ok(
                    pages::links::reset_password(&f, &token, true, min, Some(&e)),
                ),
                Err(e) if e.code() == ErrorCode::InvalidCredentials => Ok(pages::links::gone(&f)),
                Err(e) => Ok(pages::error_page(&f, e.status(), f.lang.error(&e))),
            };
        }
        let body: dto::ResetPassword = req.json()?;
        let n = match (body.token, body.identifier, body.code) {
            (Some(token), None, None) => {
                reset::reset_by_link(&ctx, t, &who, &token, &body.new_password).await?
            }
            (None, Some(identifier), Some(code)) => {
                let solved =
                    limits::captcha_guard(&ctx, t, limits::CaptchaRoute::Login, &who).await?;
                reset::reset(
                    &ctx,
                    t,
                    &who,
                    &identifier,
                    &code,
                    &body.new_password,
                    solved,
                )
                .await?
            }
            _ => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "give either `token` (the mailed link's), or `identifier` and `code`",
                ))
            }
        };
        Ok(Response::json(
            200,
            &dto::SessionsEnded {
                sessions_revoked: n,
            },
        ))
    }
    .await)
}

/// The verification link's page (HTML): a button that proves the address. Opening it proves
/// nothing.
#[utoipa::path(get, path = "/api/sso/v1/auth/identifiers/verify", tag = "account",
    params(("token" = String, Query, description = "the token from the mailed link")),
    responses((status = 200, description = "A confirmation button", content_type = "text/html"),
        (status = 410, description = "Expired or used", content_type = "text/html")))]
pub async fn verify_link_page(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let token = req.query_param("token").unwrap_or_default();
        let live = account::verify_link_is_live(&ctx, &tc.tenant, &token).await?;
        let here = format!("{}?token={}", paths::VERIFY_LINK, pages::encode(&token));
        let f = pages::Frame::of(&ctx, &tc, &req, &here, None)?;
        Ok(pages::links::verify_link(&f, &token, live))
    }
    .await)
}

/// Proves an identifier with the mailed link's token (no session needed: the link names the
/// account). A form post (the link's page) is answered with a page.
#[utoipa::path(post, path = "/api/sso/v1/auth/identifiers/verify", tag = "account",
    request_body = dto::VerifyLink,
    responses((status = 200, body = dto::IdentifierView),
        (status = 401, description = "used, expired or unknown link", body = dto::ErrorResponse)))]
pub async fn verify_link(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        usso_edge::csrf::same_site(&req, &tc.tenant.tokens)?;
        let who = extract::meta(&req);
        let t = &tc.tenant;
        if extract::is_form(&req) {
            let token = req.form_field("token").unwrap_or_default();
            let here = format!("{}?token={}", paths::VERIFY_LINK, pages::encode(&token));
            let f = pages::Frame::of(&ctx, &tc, &req, &here, None)?;
            if let Err(e) = pages::csrf::check(&ctx, &tc, &req) {
                return Ok(pages::refused(&f, &e));
            }
            return match account::verify_by_link(&ctx, t, &who, &token).await {
                Ok((_, idoc)) => Ok(pages::links::outcome(
                    &f,
                    200,
                    f.t.confirmed_title,
                    &format!("{} {}", idoc.value, f.t.confirmed_text),
                )),
                Err(e) if e.code() == ErrorCode::InvalidCredentials => Ok(pages::links::gone(&f)),
                Err(e) => Ok(pages::error_page(&f, e.status(), f.lang.error(&e))),
            };
        }
        let body: dto::VerifyLink = req.json()?;
        let (user, idoc) = account::verify_by_link(&ctx, t, &who, &body.token).await?;
        Ok(Response::json(200, &dto::IdentifierView::of(&user, &idoc)))
    }
    .await)
}

/// Sends a code to one of your unproven identifiers.
#[utoipa::path(post, path = "/api/sso/v1/me/identifiers/verify/request", tag = "account",
    request_body = dto::CodeFor,
    responses((status = 202, body = dto::OtpAccepted),
        (status = 404, description = "not one of yours", body = dto::ErrorResponse),
        (status = 409, description = "already proven", body = dto::ErrorResponse)))]
pub async fn verify_request(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::VERIFY_REQUEST, None).await?;
        let body: dto::CodeFor = req.json()?;
        let sent = account::request_verification(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            &body.identifier,
        )
        .await?;
        Ok(code_sent(sent, "a confirmation code is on its way"))
    }
    .await)
}

/// Proves one of your identifiers with the code sent to it.
#[utoipa::path(post, path = "/api/sso/v1/me/identifiers/verify", tag = "account",
    request_body = dto::VerifyIdentifier,
    responses((status = 200, body = dto::IdentifierView),
        (status = 401, description = "wrong or expired code", body = dto::ErrorResponse),
        (status = 404, description = "not one of yours", body = dto::ErrorResponse)))]
pub async fn verify(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::VERIFY, None).await?;
        let body: dto::VerifyIdentifier = req.json()?;
        let idoc = account::verify(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            &body.identifier,
            &body.code,
        )
        .await?;
        let user = account::me(&ctx, &p).await?;
        Ok(Response::json(200, &dto::IdentifierView::of(&user, &idoc)))
    }
    .await)
}

/// Everything held about you, as JSON (GDPR access and portability).
#[utoipa::path(get, path = "/api/sso/v1/me/export", tag = "account",
    responses((status = 200, description = "account, identifiers, sessions, audit entries"),
        (status = 401, body = dto::ErrorResponse)))]
pub async fn export(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::ME_EXPORT, None).await?;
        let data = account::export(&ctx, &p).await?;
        Ok(Response::json(200, &data)
            .with_header("cache-control", "no-store")
            .with_header(
                "content-disposition",
                "attachment; filename=\"my-account.json\"",
            ))
    }
    .await)
}

/// Deletes your account for good (your password when it has one).
#[utoipa::path(delete, path = "/api/sso/v1/me", tag = "account", request_body = dto::DeleteAccount,
    responses((status = 200, description = "what was erased"),
        (status = 401, description = "the password is wrong", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn delete_me(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::ME_DELETE, None).await?;
        let body: dto::DeleteAccount = req.json()?;
        let erased = account::delete(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            body.password.as_deref(),
        )
        .await?;
        Ok(usso_edge::issue::clear_cookies(
            &tc.state.config,
            Response::json(200, &erased),
        ))
    }
    .await)
}

fn audit_page(items: Vec<serde_json::Value>, total: u64, offset: u64, limit: u64) -> Response {
    Response::json(
        200,
        &dto::AuditPage {
            items,
            total,
            offset,
            limit,
        },
    )
    .with_header("cache-control", "no-store")
}

/// Your own security events (sign-ins, password changes, sessions…), newest first.
#[utoipa::path(get, path = "/api/sso/v1/audit/mine", tag = "account",
    params(("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::AuditPage), (status = 401, body = dto::ErrorResponse)))]
pub async fn audit_mine(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::AUDIT_MINE, None).await?;
        let (offset, limit) = extract::page(&req, 50)?;
        let uid = p
            .user_id
            .as_deref()
            .ok_or_else(|| Error::new(ErrorCode::PermissionDenied, "not a user token"))?;
        let (items, total) = audit::of_user(&ctx.docs, &p.tenant_id, uid, offset, limit).await?;
        Ok(audit_page(items, total, offset, limit))
    }
    .await)
}

/// The tenant's audit trail, newest first, filtered by user, event and time.
#[utoipa::path(get, path = "/api/sso/v1/audit", tag = "account",
    params(("user_id" = Option<String>, Query), ("event" = Option<String>, Query, description = "e.g. login_ok"),
        ("since" = Option<i64>, Query, description = "Unix seconds, inclusive"),
        ("until" = Option<i64>, Query, description = "Unix seconds, exclusive"),
        ("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::AuditPage), (status = 403, body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn audit_list(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::AUDIT_LIST, None).await?;
        let (offset, limit) = extract::page(&req, 50)?;
        let event = match req.query_param("event").filter(|e| !e.is_empty()) {
            Some(e) => Some(AuditEvent::parse(&e).ok_or_else(|| {
                Error::new(
                    ErrorCode::ValidationError,
                    format!(
                        "event: `{}` is not an audit event",
                        e.chars().take(64).collect::<String>()
                    ),
                )
            })?),
            None => None,
        };
        let f = AuditFilter {
            user_id: req.query_param("user_id").filter(|u| !u.is_empty()),
            event,
            since: extract::param(&req, "since")?,
            until: extract::param(&req, "until")?,
        };
        if let (Some(a), Some(b)) = (f.since, f.until) {
            if a >= b {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "since must be before until",
                ));
            }
        }
        let (items, total) = audit::query(&ctx.docs, &p.tenant_id, &f, offset, limit).await?;
        Ok(audit_page(items, total, offset, limit))
    }
    .await)
}
