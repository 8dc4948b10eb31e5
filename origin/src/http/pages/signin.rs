//! The sign-in pages: password, one-time code, magic link, the second step, sign-up, the
//! forgotten password, sign-out, and the way back to a page after the access cookie expired.
//! Each post calls the same domain function as the JSON route (same limits, captcha, answers
//! for known and unknown identifiers) and then either goes where the client asked
//! ([`super::Target`]) with the session cookies, or shows the form again with the reason.

use axum::extract::State;
use usso_edge::http::{Method, Request, Response};
use usso_shared::paths::{self, pages as p};
use usso_shared::{Error, ErrorCode, Result};

use super::{
    csrf, encode, error_page, see_other, signed_in_cookie, Field, Form, Frame, Notice, Page, Target,
};
use crate::app::{ClientMeta, Ctx, CtxRef};
use crate::authn::limits::{self, CaptchaRoute};
use crate::authn::password::{self, Mode, PasswordLogin};
use crate::authn::{magic_link, mfa, otp, reset, Authenticated, SecondStep};
use crate::http::extract::{self, CoreRequest, Out};
use crate::http::respond;
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::sessions::start::Started;
use crate::tenants::TenantCtx;

/// One page request: its tenant, frame, where to go afterwards, and the client.
pub struct Visit {
    /// The tenant.
    pub tc: TenantCtx,
    /// The frame.
    pub f: Frame,
    /// Where to go after signing in.
    pub target: Target,
    /// The client.
    pub who: ClientMeta,
}

/// Opens a page at `path`: the tenant, the `redirect` (query or form) checked, the frame; for
/// a post, the form token. The error page otherwise.
pub async fn visit(ctx: &Ctx, req: &Request, path: &str) -> std::result::Result<Visit, Response> {
    let (tc, bare) = super::open(ctx, req, path).await?;
    let raw = if req.method == Method::Post {
        req.form_field("redirect")
    } else {
        req.query_param("redirect")
    };
    let Some(target) = Target::parse(raw.as_deref(), &tc.tenant) else {
        return Err(error_page(&bare, 400, bare.t.bad_redirect.into()));
    };
    let here = format!("{path}{}", target.query());
    let f = Frame::of(ctx, &tc, req, &here, None).map_err(|e| super::error_without_tenant(&e))?;
    if req.method == Method::Post {
        if let Err(e) = csrf::check(ctx, &tc, req) {
            return Err(super::refused(&f, &e));
        }
    }
    Ok(Visit {
        tc,
        f,
        target,
        who: extract::meta(req),
    })
}

fn page_out(r: std::result::Result<Response, Response>) -> Out {
    Out(r.unwrap_or_else(|e| e))
}

/// The answer once a proof is in: the session and a 303 to the target, or the second step.
async fn finish(ctx: &Ctx, v: &Visit, auth: Authenticated) -> Result<Response> {
    match crate::sessions::start::start(ctx, &v.tc, &v.who, auth).await? {
        s @ Started::Session(_) => Ok(signed_in(v, s)),
        Started::SecondStep(c) => Ok(step_page(v, &c.challenge, c.step, None)),
    }
}

/// A 303 to the target with the session's cookies and the signed-in marker. Back to an OAuth
/// authorization request, a page that moves on by itself instead: that request ends in a
/// redirect to the client's site, which the form's `form-action` would block.
fn signed_in(v: &Visit, started: Started) -> Response {
    let res = respond::started(&v.tc, started);
    let mut out = if v.target.is_authorize() {
        let mut page = Page::new(&v.f, v.f.t.sign_in_title).link(v.target.as_str(), v.f.t.sign_in);
        page.refresh = Some(v.target.as_str().to_owned());
        let mut moving = page.respond(200);
        moving.headers.extend(
            res.headers
                .into_iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie")),
        );
        moving
    } else {
        respond::redirect_with_cookies(v.target.as_str().to_owned(), res)
    }
    .with_header("set-cookie", signed_in_cookie(&v.tc, false));
    for c in &v.f.cookies {
        out = out.with_header("set-cookie", c.clone());
    }
    out
}

fn step_page(v: &Visit, challenge: &str, step: SecondStep, error: Option<&Error>) -> Response {
    let t = v.f.t;
    let (title, text) = match step {
        SecondStep::Mfa => (t.step_mfa_title, t.step_mfa_text),
        SecondStep::VerifyIdentifier => (t.step_verify_title, t.step_verify_text),
    };
    let mut form = Form::new("step", p::LOGIN_STEP, t.confirm)
        .hidden(vec![
            ("challenge", challenge.to_owned()),
            ("step", step_name(step).into()),
        ])
        .hidden(v.target.hidden())
        .field(Field::new("code", t.code, "text", "one-time-code").numeric());
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    Page::new(&v.f, title)
        .text(text)
        .form(form)
        .link(
            format!("{}{}", p::LOGIN, v.target.query()),
            t.back_to_sign_in,
        )
        .respond(if error.is_some() {
            error_status(error)
        } else {
            200
        })
}

fn step_name(s: SecondStep) -> &'static str {
    match s {
        SecondStep::Mfa => "mfa",
        SecondStep::VerifyIdentifier => "verify_identifier",
    }
}

/// The status a form shown again after `e` is answered with.
fn error_status(e: Option<&Error>) -> u16 {
    e.map_or(200, |e| e.status())
}

/// An error no form can show (the store is down): the error page.
fn fatal(v: &Visit, e: &Error) -> Option<Response> {
    (e.status() >= 500).then(|| error_page(&v.f, e.status(), v.f.lang.error(e)))
}

// ---- password ------------------------------------------------------------------------------

fn login_page(ctx: &Ctx, v: &Visit, identifier: &str, error: Option<&Error>) -> Response {
    let _ = ctx;
    let t = v.f.t;
    let tenant = &v.tc.tenant;
    let q = v.target.query();
    let mut form = Form::new("login", p::LOGIN, t.sign_in)
        .hidden(v.target.hidden())
        .field(
            Field::new("identifier", t.identifier, "text", "username")
                .value(identifier)
                .ltr(),
        )
        .field(Field::new(
            "password",
            t.password,
            "password",
            "current-password",
        ))
        .captcha(super::captcha_for_login(tenant, error));
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    let mut page = Page::new(&v.f, t.sign_in_title)
        .form(form)
        .link(format!("{}{q}", p::FORGOT), t.forgot_password)
        .link(format!("{}{q}", p::LOGIN_CODE), t.use_code)
        .link(format!("{}{q}", p::LOGIN_LINK), t.use_link);
    if tenant.registration_enabled {
        page = page.link(format!("{}{q}", p::SIGNUP), t.create_account);
    }
    page.respond(error_status(error))
}

/// `GET /login`: the sign-in page; a browser already signed in goes straight to the target
/// (unless `prompt=login`), one whose access cookie expired first resumes its session.
pub async fn login_get(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN).await?;
            let force = req.query_param("prompt").as_deref() == Some("login");
            if !force {
                if let Some(r) = already_signed_in(&ctx, &v, &req).await {
                    return Ok(r);
                }
            }
            Ok(login_page(&ctx, &v, "", None))
        }
        .await,
    )
}

/// A redirect when the browser holds a live session: to the target, or through the resume
/// route when only the signed-in marker is left.
async fn already_signed_in(ctx: &Ctx, v: &Visit, req: &Request) -> Option<Response> {
    if v.target.forces_sign_in() {
        // The client asked for a fresh sign-in (`prompt=login`, `max_age`): show the form.
        return None;
    }
    if extract::caller(ctx, req, &v.tc, true).await.is_ok() {
        return Some(see_other(v.target.as_str(), Some(&v.f)));
    }
    if req.cookie(super::SIGNED_IN_COOKIE).is_some() && v.target.as_str().starts_with('/') {
        return Some(bounce(&v.f, v.target.as_str()));
    }
    None
}

/// A page that sends the browser on to the resume route. A page of this site, not a 303:
/// the refresh cookie is `SameSite=Strict`, so it is sent only when this site starts the
/// navigation, even when the browser came here from the application's site.
pub fn bounce(f: &Frame, to: &str) -> Response {
    let url = format!("{}?to={}", paths::RESUME, encode(to));
    let mut page = Page::new(f, f.t.sign_in_title).link(url.clone(), f.t.sign_in);
    page.refresh = Some(url);
    page.respond(200)
}

/// `POST /login`: the password.
pub async fn login_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN).await?;
            let identifier = req.form_field("identifier").unwrap_or_default();
            let result = async {
                let solved =
                    limits::captcha_guard(&ctx, &v.tc.tenant, CaptchaRoute::Login, &v.who).await?;
                let auth = password::login(
                    &ctx,
                    &v.tc.tenant,
                    &v.who,
                    PasswordLogin {
                        identifier: identifier.clone(),
                        kind: None,
                        secret: req.form_field("password").unwrap_or_default(),
                        name: None,
                        mode: Mode::SignIn,
                        captcha_solved: solved,
                    },
                )
                .await?;
                finish(&ctx, &v, auth).await
            }
            .await;
            Ok(match result {
                Ok(r) => r,
                Err(e) => {
                    fatal(&v, &e).unwrap_or_else(|| login_page(&ctx, &v, &identifier, Some(&e)))
                }
            })
        }
        .await,
    )
}

// ---- the second step -----------------------------------------------------------------------

/// `POST /login/step`: the code of a second factor or of an unproven address.
pub async fn step_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN).await?;
            let challenge = req.form_field("challenge").unwrap_or_default();
            let step = match req.form_field("step").as_deref() {
                Some("verify_identifier") => SecondStep::VerifyIdentifier,
                _ => SecondStep::Mfa,
            };
            let code = req.form_field("code").unwrap_or_default();
            let result = async {
                let auth = mfa::verify(&ctx, &v.tc.tenant, &v.who, &challenge, &code).await?;
                finish(&ctx, &v, auth).await
            }
            .await;
            Ok(match result {
                Ok(r) => r,
                Err(e) => {
                    fatal(&v, &e).unwrap_or_else(|| step_page(&v, &challenge, step, Some(&e)))
                }
            })
        }
        .await,
    )
}

// ---- one-time codes ------------------------------------------------------------------------

fn code_request_page(v: &Visit, identifier: &str, error: Option<&Error>) -> Response {
    let t = v.f.t;
    let mut form = Form::new("code-request", p::LOGIN_CODE, t.send_code)
        .hidden(v.target.hidden())
        .field(
            Field::new("identifier", t.code_identifier, "text", "username")
                .value(identifier)
                .hint(t.phone_hint)
                .ltr(),
        )
        .captcha(super::captcha_on(&v.tc.tenant, CaptchaRoute::Otp));
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    Page::new(&v.f, t.code_title)
        .form(form)
        .link(format!("{}{}", p::LOGIN, v.target.query()), t.use_password)
        .respond(error_status(error))
}

fn code_entry_page(v: &Visit, identifier: &str, notice: bool, error: Option<&Error>) -> Response {
    let t = v.f.t;
    let mut form = Form::new("code", p::LOGIN_CODE_VERIFY, t.sign_in)
        .hidden(vec![("identifier", identifier.to_owned())])
        .hidden(v.target.hidden())
        .field(Field::new("code", t.code, "text", "one-time-code").numeric())
        .captcha(super::captcha_for_login(&v.tc.tenant, error));
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    Page::new(&v.f, t.code_title)
        .notice(if notice {
            Notice::ok(t.code_sent)
        } else {
            None
        })
        .form(form)
        .link(
            format!("{}{}", p::LOGIN_CODE, v.target.query()),
            t.send_code,
        )
        .respond(error_status(error))
}

/// `GET /login/code`: asks for the address to send a code to.
pub async fn code_get(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN_CODE).await?;
            Ok(code_request_page(&v, "", None))
        }
        .await,
    )
}

/// `POST /login/code`: sends the code (the same answer whether or not an account exists).
pub async fn code_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN_CODE).await?;
            let identifier = req.form_field("identifier").unwrap_or_default();
            let sent = otp::request(
                &ctx,
                &v.tc.tenant,
                &v.who,
                otp::CodeRequest {
                    identifier: identifier.clone(),
                    kind: None,
                    channel: None,
                },
            )
            .await;
            Ok(match sent {
                Ok(_) => code_entry_page(&v, identifier.trim(), true, None),
                Err(e) => {
                    fatal(&v, &e).unwrap_or_else(|| code_request_page(&v, &identifier, Some(&e)))
                }
            })
        }
        .await,
    )
}

/// `POST /login/code/verify`: signs in with the code.
pub async fn code_verify(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN_CODE).await?;
            let identifier = req.form_field("identifier").unwrap_or_default();
            let result = async {
                let kind = match Identifier::parse(&identifier, None)?.kind {
                    IdentifierKind::Username => {
                        return Err(Error::new(
                            ErrorCode::ValidationError,
                            "identifier: codes go to an email address or a phone number",
                        ))
                    }
                    k => k,
                };
                let solved =
                    limits::captcha_guard(&ctx, &v.tc.tenant, CaptchaRoute::Login, &v.who).await?;
                let auth = otp::login(
                    &ctx,
                    &v.tc.tenant,
                    &v.who,
                    otp::CodeLogin {
                        identifier: identifier.clone(),
                        kind,
                        code: req.form_field("code").unwrap_or_default(),
                        register: false,
                        captcha_solved: solved,
                    },
                )
                .await?;
                finish(&ctx, &v, auth).await
            }
            .await;
            Ok(match result {
                Ok(r) => r,
                Err(e) => fatal(&v, &e)
                    .unwrap_or_else(|| code_entry_page(&v, &identifier, false, Some(&e))),
            })
        }
        .await,
    )
}

// ---- magic links ---------------------------------------------------------------------------

fn link_page(v: &Visit, email: &str, sent: bool, error: Option<&Error>) -> Response {
    let t = v.f.t;
    let mut form = Form::new("link", p::LOGIN_LINK, t.send_link)
        .hidden(v.target.hidden())
        .field(Field::new("email", t.email, "email", "email").value(email))
        .captcha(super::captcha_on(&v.tc.tenant, CaptchaRoute::MagicLink));
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    Page::new(&v.f, t.link_title)
        .notice(if sent { Notice::ok(t.link_sent) } else { None })
        .form(form)
        .link(format!("{}{}", p::LOGIN, v.target.query()), t.use_password)
        .respond(error_status(error))
}

/// `GET /login/link`: asks for the address to mail a link to.
pub async fn link_get(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN_LINK).await?;
            Ok(link_page(&v, "", false, None))
        }
        .await,
    )
}

/// `POST /login/link`: mails the link (the same answer whether or not an account exists); the
/// link brings the browser back to the target.
pub async fn link_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN_LINK).await?;
            let email = req.form_field("email").unwrap_or_default();
            let redirect = (!v.target.is_default()).then(|| v.target.as_str().to_owned());
            let sent = magic_link::request(&ctx, &v.tc.tenant, &v.who, &email, redirect).await;
            Ok(match sent {
                Ok(_) => link_page(&v, &email, true, None),
                Err(e) => fatal(&v, &e).unwrap_or_else(|| link_page(&v, &email, false, Some(&e))),
            })
        }
        .await,
    )
}

/// The magic link page's button (a form post to the link route): signs in and goes where the
/// link was asked for, or to the account page.
pub async fn confirm_magic_link(
    ctx: &Ctx,
    tc: &TenantCtx,
    req: &Request,
    who: &ClientMeta,
) -> Result<Response> {
    let token = req.form_field("token").unwrap_or_default();
    let here = format!("{}?token={}", paths::MAGIC_LINK, encode(&token));
    let f = Frame::of(ctx, tc, req, &here, None)?;
    if let Err(e) = csrf::check(ctx, tc, req) {
        return Ok(super::refused(&f, &e));
    }
    let (auth, redirect) = match magic_link::confirm(ctx, &tc.tenant, who, &token).await {
        Ok(x) => x,
        Err(e) if e.code() == ErrorCode::InvalidCredentials => return Ok(super::links::gone(&f)),
        Err(e) => return Ok(error_page(&f, e.status(), f.lang.error(&e))),
    };
    let target = Target::parse(redirect.as_deref(), &tc.tenant).unwrap_or_else(|| {
        Target::parse(None, &tc.tenant).expect("the default target is always allowed")
    });
    let v = Visit {
        tc: tc.clone(),
        f,
        target,
        who: who.clone(),
    };
    match finish(ctx, &v, auth).await {
        Ok(r) => Ok(r),
        Err(e) => Ok(error_page(&v.f, e.status(), v.f.lang.error(&e))),
    }
}

// ---- sign-up -------------------------------------------------------------------------------

fn signup_page(v: &Visit, name: &str, identifier: &str, error: Option<&Error>) -> Response {
    let t = v.f.t;
    let tenant = &v.tc.tenant;
    let q = v.target.query();
    if !tenant.registration_enabled {
        return Page::new(&v.f, t.signup_title)
            .notice(Notice::alert(t.registration_closed))
            .link(format!("{}{q}", p::LOGIN), t.back_to_sign_in)
            .respond(403);
    }
    let mut form = Form::new("signup", p::SIGNUP, t.create_account)
        .hidden(v.target.hidden())
        .field(
            Field::new("name", t.name, "text", "name")
                .value(name)
                .optional(),
        )
        .field(
            Field::new("identifier", t.code_identifier, "text", "username")
                .value(identifier)
                .hint(t.phone_hint)
                .ltr(),
        )
        .field(
            Field::new("password", t.new_password, "password", "new-password").hint(format!(
                "{} {}",
                t.password_rule, tenant.password_min_length
            )),
        )
        .captcha(super::captcha_for_login(tenant, error));
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    Page::new(&v.f, t.signup_title)
        .form(form)
        .text(t.have_account)
        .link(format!("{}{q}", p::LOGIN), t.sign_in)
        .respond(error_status(error))
}

/// `GET /signup`.
pub async fn signup_get(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::SIGNUP).await?;
            Ok(signup_page(&v, "", "", None))
        }
        .await,
    )
}

/// `POST /signup`: creates the account (the tenant's registration and activation rules: with
/// activation by identifier, the code step follows).
pub async fn signup_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::SIGNUP).await?;
            let name = req.form_field("name").unwrap_or_default();
            let identifier = req.form_field("identifier").unwrap_or_default();
            let result = async {
                let solved =
                    limits::captcha_guard(&ctx, &v.tc.tenant, CaptchaRoute::Login, &v.who).await?;
                let auth = password::login(
                    &ctx,
                    &v.tc.tenant,
                    &v.who,
                    PasswordLogin {
                        identifier: identifier.clone(),
                        kind: None,
                        secret: req.form_field("password").unwrap_or_default(),
                        name: Some(name.clone()).filter(|n| !n.trim().is_empty()),
                        mode: Mode::Register,
                        captcha_solved: solved,
                    },
                )
                .await?;
                finish(&ctx, &v, auth).await
            }
            .await;
            Ok(match result {
                Ok(r) => r,
                Err(e) => {
                    fatal(&v, &e).unwrap_or_else(|| signup_page(&v, &name, &identifier, Some(&e)))
                }
            })
        }
        .await,
    )
}

// ---- the forgotten password ----------------------------------------------------------------

fn forgot_page(v: &Visit, identifier: &str, error: Option<&Error>) -> Response {
    let t = v.f.t;
    let mut form = Form::new("forgot", p::FORGOT, t.send)
        .hidden(v.target.hidden())
        .field(
            Field::new("identifier", t.code_identifier, "text", "username")
                .value(identifier)
                .ltr(),
        )
        .captcha(super::captcha_on(&v.tc.tenant, CaptchaRoute::Otp));
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    Page::new(&v.f, t.forgot_title)
        .text(t.forgot_text)
        .form(form)
        .link(
            format!("{}{}", p::LOGIN, v.target.query()),
            t.back_to_sign_in,
        )
        .respond(error_status(error))
}

fn reset_page(v: &Visit, identifier: &str, notice: bool, error: Option<&Error>) -> Response {
    let t = v.f.t;
    let mut form = Form::new("reset", p::RESET, t.reset_submit)
        .hidden(vec![("identifier", identifier.to_owned())])
        .hidden(v.target.hidden())
        .field(Field::new("code", t.code, "text", "one-time-code").numeric())
        .field(
            Field::new("new_password", t.new_password, "password", "new-password").hint(format!(
                "{} {}",
                t.password_rule, v.tc.tenant.password_min_length
            )),
        )
        .captcha(super::captcha_for_login(&v.tc.tenant, error));
    if let Some(e) = error {
        form = form.failed(v.f.lang, e);
    }
    Page::new(&v.f, t.reset_title)
        .notice(if notice {
            Notice::ok(t.reset_sent)
        } else {
            None
        })
        .form(form)
        .text(t.reset_note)
        .respond(error_status(error))
}

/// `GET /password/forgot`.
pub async fn forgot_get(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::FORGOT).await?;
            Ok(forgot_page(&v, "", None))
        }
        .await,
    )
}

/// `POST /password/forgot`: sends a code (and a link by mail); the same answer whether or not
/// an account holds the identifier.
pub async fn forgot_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::FORGOT).await?;
            let identifier = req.form_field("identifier").unwrap_or_default();
            Ok(
                match reset::request(&ctx, &v.tc.tenant, &v.who, &identifier).await {
                    Ok(_) => reset_page(&v, identifier.trim(), true, None),
                    Err(e) => {
                        fatal(&v, &e).unwrap_or_else(|| forgot_page(&v, &identifier, Some(&e)))
                    }
                },
            )
        }
        .await,
    )
}

/// `POST /password/reset`: the code and the new password; every session of the account ends.
pub async fn reset_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::FORGOT).await?;
            let identifier = req.form_field("identifier").unwrap_or_default();
            let result = async {
                let solved =
                    limits::captcha_guard(&ctx, &v.tc.tenant, CaptchaRoute::Login, &v.who).await?;
                reset::reset(
                    &ctx,
                    &v.tc.tenant,
                    &v.who,
                    &identifier,
                    &req.form_field("code").unwrap_or_default(),
                    &req.form_field("new_password").unwrap_or_default(),
                    solved,
                )
                .await
            }
            .await;
            let t = v.f.t;
            Ok(match result {
                Ok(_) => Page::new(&v.f, t.reset_done_title)
                    .notice(Notice::ok(t.reset_done_text))
                    .link(format!("{}{}", p::LOGIN, v.target.query()), t.sign_in)
                    .respond(200),
                Err(e) => {
                    fatal(&v, &e).unwrap_or_else(|| reset_page(&v, &identifier, false, Some(&e)))
                }
            })
        }
        .await,
    )
}

// ---- sign-out, resume, the error page ------------------------------------------------------

/// `POST` sign-out (under the refresh cookie's path, so the session it names ends): the
/// session, its cookies and the marker go; then the sign-in page.
pub async fn logout(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let v = visit(&ctx, &req, p::LOGIN).await?;
            let core_req = Request {
                method: Method::Get,
                path: paths::LOGOUT.into(),
                query: None,
                headers: req
                    .headers
                    .iter()
                    .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
                    .cloned()
                    .collect(),
                body: Vec::new(),
                client_ip: req.client_ip.clone(),
            };
            let res = crate::http::tokens::pass(&ctx, &core_req).await;
            let mut out = respond::redirect_with_cookies(p::LOGIN.into(), res)
                .with_header("set-cookie", signed_in_cookie(&v.tc, true));
            for c in &v.f.cookies {
                out = out.with_header("set-cookie", c.clone());
            }
            Ok(out)
        }
        .await,
    )
}

/// `GET /auth/resume?to=/path`: rotates the refresh cookie (the edge core's refresh) and goes
/// back to the page; without a live session, to the sign-in page for it.
pub async fn resume(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let (tc, _) = super::open(&ctx, &req, p::LOGIN).await?;
            let to = req
                .query_param("to")
                .filter(|t| magic_link::local_path(t))
                .unwrap_or_else(|| p::ACCOUNT.to_owned());
            let core_req = Request {
                method: Method::Get,
                path: paths::REFRESH.into(),
                query: None,
                headers: req.headers.clone(),
                body: Vec::new(),
                client_ip: req.client_ip.clone(),
            };
            let res = crate::http::tokens::pass(&ctx, &core_req).await;
            Ok(if res.status == 200 {
                respond::redirect_with_cookies(to, res)
                    .with_header("set-cookie", signed_in_cookie(&tc, false))
            } else {
                let login = format!("{}?redirect={}", p::LOGIN, encode(&to));
                respond::redirect_with_cookies(
                    login,
                    usso_edge::issue::clear_cookies(&tc.state.config, res),
                )
                .with_header("set-cookie", signed_in_cookie(&tc, true))
            })
        }
        .await,
    )
}

/// `GET /error?code=…`: the error page (for flows that end in the browser with an error code).
pub async fn error(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    page_out(
        async {
            let (_, f) = super::open(&ctx, &req, p::ERROR).await?;
            let code = req.query_param("code");
            let found = ErrorCode::ALL
                .into_iter()
                .find(|c| Some(c.as_str()) == code.as_deref());
            let text = match found {
                Some(c) => f.lang.error(&Error::new(c, c.default_message())),
                None => f.t.error_title.into(),
            };
            let status = found.map_or(400, |c| c.status());
            Ok(error_page(&f, status, text))
        }
        .await,
    )
}
