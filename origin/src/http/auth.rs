//! The sign-in routes: extract, one domain call, respond. No rule lives here.

use axum::extract::State;
use usso_edge::http::{Request, Response};
use usso_shared::{paths, Error, ErrorCode, Result};

use super::extract::{self, out, CoreRequest, Out};
use super::{dto, pages, respond};
use crate::app::{Ctx, CtxRef};
use crate::authn::password::{self, Mode, PasswordLogin};
use crate::authn::{limits, magic_link, mfa, otp};
use crate::identity::identifier::IdentifierKind;
use crate::sessions;

fn no_store(r: Response) -> Response {
    r.with_header("cache-control", "no-store")
}

/// `POST /auth/login` and `POST /auth/register`: a password or a code, then a session.
async fn sign_in(ctx: &Ctx, req: &Request, mode: Mode) -> Result<Response> {
    let tc = extract::tenant(ctx, req).await?;
    usso_edge::csrf::same_site(req, &tc.tenant.tokens)?;
    let body: dto::LoginRequest = req.json()?;
    let who = extract::meta(req);
    let captcha_solved =
        limits::captcha_guard(ctx, &tc.tenant, limits::CaptchaRoute::Login, &who).await?;
    let code_kind = match body.method {
        None | Some(dto::LoginMethod::Password) => None,
        Some(dto::LoginMethod::EmailOtp) => Some(IdentifierKind::Email),
        Some(dto::LoginMethod::PhoneOtp) => Some(IdentifierKind::Phone),
    };
    let auth = match code_kind {
        Some(kind) => {
            otp::login(
                ctx,
                &tc.tenant,
                &who,
                otp::CodeLogin {
                    identifier: body.identifier,
                    kind,
                    code: body.secret,
                    register: body.register,
                    captcha_solved,
                },
            )
            .await?
        }
        None => {
            let mode = if mode == Mode::SignInOrRegister && !body.register {
                Mode::SignIn
            } else {
                mode
            };
            password::login(
                ctx,
                &tc.tenant,
                &who,
                PasswordLogin {
                    identifier: body.identifier,
                    kind: body.kind,
                    secret: body.secret,
                    name: body.name,
                    mode,
                    captcha_solved,
                },
            )
            .await?
        }
    };
    let started = sessions::start::start(ctx, &tc, &who, auth).await?;
    Ok(respond::started(&tc, started))
}

/// Password login; with `register: true` an unknown identifier is registered.
#[utoipa::path(post, path = "/api/sso/v1/auth/login", tag = "auth",
    request_body = dto::LoginRequest,
    responses((status = 200, body = dto::TokenResponse),
        (status = 401, description = "invalid_credentials", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse),
        (status = 429, description = "Rate limited; see Retry-After", body = dto::ErrorResponse)))]
pub async fn login(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(sign_in(&ctx, &req, Mode::SignInOrRegister).await)
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/sso/v1/auth/register", tag = "auth",
    request_body = dto::LoginRequest,
    responses((status = 200, body = dto::TokenResponse),
        (status = 409, description = "Identifier taken", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn register(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(sign_in(&ctx, &req, Mode::Register).await)
}

/// Sends a one-time code by email or SMS (the answer does not tell whether the identifier has an
/// account). Log in with it: `method` `email/otp` or `phone/otp`, the code as `secret`.
#[utoipa::path(post, path = "/api/sso/v1/auth/request-otp", tag = "auth",
    request_body = dto::OtpRequest,
    responses((status = 200, body = dto::OtpAccepted),
        (status = 422, body = dto::ErrorResponse),
        (status = 429, description = "Rate limited; see Retry-After", body = dto::ErrorResponse)))]
pub async fn request_otp(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let body: dto::OtpRequest = req.json()?;
        let sent = otp::request(
            &ctx,
            &tc.tenant,
            &extract::meta(&req),
            otp::CodeRequest {
                identifier: body.identifier,
                kind: body.kind,
                channel: body.channel_type,
            },
        )
        .await?;
        Ok(no_store(Response::json(
            200,
            &dto::OtpAccepted {
                detail: "If this identifier can receive codes, one is on its way.".into(),
                channel: sent.channel.as_str().into(),
                expires_in: sent.expires_in,
            },
        )))
    }
    .await)
}

/// Mails a single-use sign-in link (the answer does not tell whether the address has an
/// account).
#[utoipa::path(post, path = "/api/sso/v1/auth/request-magic-link", tag = "auth",
    request_body = dto::MagicLinkRequest,
    responses((status = 200, description = "Accepted"),
        (status = 422, body = dto::ErrorResponse),
        (status = 429, description = "Rate limited; see Retry-After", body = dto::ErrorResponse)))]
pub async fn request_magic_link(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let body: dto::MagicLinkRequest = req.json()?;
        let sent = magic_link::request(
            &ctx,
            &tc.tenant,
            &extract::meta(&req),
            &body.identifier,
            body.redirect_to,
        )
        .await?;
        Ok(no_store(Response::json(
            200,
            &dto::MagicLinkAccepted {
                detail: "If this address can sign in, a link is on its way.".into(),
                expires_in: sent.expires_in,
            },
        )))
    }
    .await)
}

/// The magic link's confirmation page (HTML). Opening it signs nothing in and consumes nothing.
#[utoipa::path(get, path = "/api/sso/v1/auth/magic-link", tag = "auth",
    params(("token" = String, Query, description = "the token from the mailed link")),
    responses((status = 200, description = "Confirmation page with a sign-in button", content_type = "text/html"),
        (status = 410, description = "Expired or used", content_type = "text/html")))]
pub async fn magic_link_page(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let token = req.query_param("token").unwrap_or_default();
        let live = magic_link::is_live(&ctx, &tc.tenant, &token).await?;
        let here = format!("{}?token={}", paths::MAGIC_LINK, pages::encode(&token));
        let f = pages::Frame::of(&ctx, &tc, &req, &here, None)?;
        Ok(pages::links::magic_link(&f, &token, live))
    }
    .await)
}

/// URL with the session cookies, or the token response.
#[utoipa::path(post, path = "/api/sso/v1/auth/magic-link", tag = "auth",
    request_body = dto::MagicLinkConfirm,
    responses((status = 200, body = dto::TokenResponse),
        (status = 303, description = "Signed in; redirected with cookies"),
        (status = 401, description = "invalid_credentials (expired or used)", body = dto::ErrorResponse)))]
pub async fn magic_link_confirm(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        usso_edge::csrf::same_site(&req, &tc.tenant.tokens)?;
        let who = extract::meta(&req);
        if extract::is_form(&req) {
            // The confirmation page's button: answered with pages.
            return pages::signin::confirm_magic_link(&ctx, &tc, &req, &who).await;
        }
        let token = req
            .json::<dto::MagicLinkConfirm>()?
            .token
            .ok_or_else(|| Error::new(ErrorCode::ValidationError, "field `token` is required"))?;
        let (auth, redirect) = magic_link::confirm(&ctx, &tc.tenant, &who, &token).await?;
        let started = sessions::start::start(&ctx, &tc, &who, auth).await?;
        let res = respond::started(&tc, started);
        Ok(match redirect {
            Some(url) => respond::redirect_with_cookies(url, res),
            None => res,
        })
    }
    .await)
}

/// Completes a password login that answered `mfa_required`, with the one-time code.
#[utoipa::path(post, path = "/api/sso/v1/auth/mfa/verify", tag = "auth",
    request_body = dto::MfaVerify,
    responses((status = 200, body = dto::TokenResponse),
        (status = 401, description = "invalid_credentials", body = dto::ErrorResponse)))]
pub async fn mfa_verify(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        usso_edge::csrf::same_site(&req, &tc.tenant.tokens)?;
        let body: dto::MfaVerify = req.json()?;
        let who = extract::meta(&req);
        let auth = mfa::verify(&ctx, &tc.tenant, &who, &body.mfa_challenge, &body.code).await?;
        let started = sessions::start::start(&ctx, &tc, &who, auth).await?;
        Ok(respond::started(&tc, started))
    }
    .await)
}

/// An Altcha-compatible proof-of-work challenge for the routes a tenant guards.
#[utoipa::path(get, path = "/api/sso/v1/captcha/challenge", tag = "auth",
    responses((status = 200, description = "{algorithm, challenge, maxnumber, salt, signature}")))]
pub async fn captcha_challenge(State(ctx): State<CtxRef>) -> Out {
    out(limits::captcha_challenge(&ctx).map(|c| no_store(Response::json(200, &c))))
}
