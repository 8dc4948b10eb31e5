//! The OAuth 2.1 / OpenID Connect provider over HTTP ([`crate::oauth`]): client administration
//! (JSON, scope-guarded like every admin route), the authorization endpoint and its consent
//! page (HTML, the hosted pages' frame, CSRF-protected form), and the token, userinfo,
//! introspection, revocation and end-session endpoints, whose errors are RFC 6749 bodies.

use axum::extract::{Path, State};
use usso_edge::http::{Method, Request, Response};
use usso_edge::issue::ACCESS_COOKIE;
use usso_edge::store::HotStore;
use usso_shared::claims::AccessClaims;
use usso_shared::encoding::b64_decode;
use usso_shared::paths::{self, pages as p};
use usso_shared::{Error, ErrorCode, Result};

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use super::pages::{self, csrf, encode, error_page, Form, Frame, Page};
use crate::app::{Ctx, CtxRef};
use crate::authz::rules;
use crate::oauth::authorize::{self, AuthorizeParams, Checked, Next, Refused, SignedIn};
use crate::oauth::clients::{self, Presented};
use crate::oauth::grant::{self, TokenRequest};
use crate::oauth::scopes::{ScopeSet, OFFLINE_ACCESS, OPENID};
use crate::oauth::{consent, introspect, revoke, userinfo};
use crate::tenants::TenantCtx;

// ---- client administration ------------------------------------------------------------------

fn client_response(
    status: u16,
    c: &clients::Client,
    version: i64,
    secret: Option<String>,
) -> Response {
    Response::json(status, &dto::OAuthClientView::of(c, version, secret))
        .with_header("etag", extract::etag(version))
        .with_header("cache-control", "no-store")
}

/// The tenant's OAuth clients.
#[utoipa::path(get, path = "/api/sso/v1/oauth/clients", tag = "oauth",
    params(("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::OAuthClientPage), (status = 403, body = dto::ErrorResponse)))]
pub async fn list_clients(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::OAUTH_CLIENTS_LIST, None).await?;
        let (offset, limit) = extract::page(&req, 50)?;
        let (items, total) = clients::list(&ctx, tc.tenant.id(), offset, limit).await?;
        Ok(Response::json(
            200,
            &dto::OAuthClientPage {
                items: items
                    .iter()
                    .map(|(c, v)| dto::OAuthClientView::of(c, *v, None))
                    .collect(),
                total,
                offset,
                limit,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Registers a client; a confidential client's `client_secret` is in this answer only.
#[utoipa::path(post, path = "/api/sso/v1/oauth/clients", tag = "oauth", request_body = dto::CreateOAuthClient,
    responses((status = 201, body = dto::OAuthClientView), (status = 403, body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn create_client(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, by) = extract::principal(&ctx, &req, &rules::OAUTH_CLIENTS_CREATE, None).await?;
        let body: dto::CreateOAuthClient = req.json()?;
        let (c, v, secret) =
            clients::create(&ctx, &tc.tenant, &by, &extract::meta(&req), body.into()).await?;
        Ok(client_response(201, &c, v, secret))
    }
    .await)
}

/// One client.
#[utoipa::path(get, path = "/api/sso/v1/oauth/clients/{client_id}", tag = "oauth",
    params(("client_id" = String, Path)),
    responses((status = 200, body = dto::OAuthClientView), (status = 404, body = dto::ErrorResponse)))]
pub async fn get_client(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::OAUTH_CLIENT_GET, None).await?;
        let (c, v) = clients::get(&ctx.docs, tc.tenant.id(), &id).await?;
        Ok(client_response(200, &c, v, None))
    }
    .await)
}

/// Changes a client.
#[utoipa::path(patch, path = "/api/sso/v1/oauth/clients/{client_id}", tag = "oauth",
    params(("client_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the ETag read")),
    request_body = dto::UpdateOAuthClient,
    responses((status = 200, body = dto::OAuthClientView), (status = 404, body = dto::ErrorResponse),
        (status = 412, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn update_client(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, by) = extract::principal(&ctx, &req, &rules::OAUTH_CLIENT_UPDATE, None).await?;
        let if_match = extract::if_match(&req)?;
        let body: dto::UpdateOAuthClient = req.json()?;
        let (c, v) = clients::update(
            &ctx,
            &tc.tenant,
            &by,
            &extract::meta(&req),
            &id,
            body.into(),
            if_match,
        )
        .await?;
        Ok(client_response(200, &c, v, None))
    }
    .await)
}

/// Deletes a client.
#[utoipa::path(delete, path = "/api/sso/v1/oauth/clients/{client_id}", tag = "oauth",
    params(("client_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = dto::ErrorResponse)))]
pub async fn delete_client(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, by) = extract::principal(&ctx, &req, &rules::OAUTH_CLIENT_DELETE, None).await?;
        clients::delete(&ctx, &tc.tenant, &by, &extract::meta(&req), &id).await?;
        Ok(Response::no_content())
    }
    .await)
}

/// A new secret for a confidential client (in this answer only; the old one stops working).
#[utoipa::path(post, path = "/api/sso/v1/oauth/clients/{client_id}/rotate-secret", tag = "oauth",
    params(("client_id" = String, Path)),
    responses((status = 200, body = dto::OAuthClientView), (status = 404, body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn rotate_secret(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, by) = extract::principal(&ctx, &req, &rules::OAUTH_CLIENT_ROTATE, None).await?;
        let (c, v, secret) =
            clients::rotate_secret(&ctx, &tc.tenant, &by, &extract::meta(&req), &id).await?;
        Ok(client_response(200, &c, v, Some(secret)))
    }
    .await)
}

/// The consents you gave OAuth clients.
#[utoipa::path(get, path = "/api/sso/v1/oauth/consents", tag = "oauth",
    responses((status = 200, description = "`{\"items\": [consent…]}`"), (status = 401, body = dto::ErrorResponse)))]
pub async fn my_consents(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, me) = extract::principal(&ctx, &req, &rules::OAUTH_CONSENTS_MINE, None).await?;
        let uid = me.user_id.clone().unwrap_or_default();
        let items = consent::list_of(&ctx.docs, tc.tenant.id(), &uid).await?;
        Ok(Response::json(200, &serde_json::json!({ "items": items }))
            .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Takes back your consent to a client; its sessions of yours end.
#[utoipa::path(delete, path = "/api/sso/v1/oauth/consents/{client_id}", tag = "oauth",
    params(("client_id" = String, Path)),
    responses((status = 204, description = "Taken back"), (status = 404, body = dto::ErrorResponse)))]
pub async fn revoke_consent(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, me) = extract::principal(&ctx, &req, &rules::OAUTH_CONSENT_REVOKE, None).await?;
        let uid = me.user_id.clone().unwrap_or_default();
        consent::revoke(&ctx, tc.tenant.id(), &extract::meta(&req), &uid, &id).await?;
        Ok(Response::no_content())
    }
    .await)
}

// ---- the authorization endpoint ---------------------------------------------------------------

fn found(location: String) -> Response {
    Response {
        status: 302,
        headers: vec![
            ("location".into(), location),
            ("cache-control".into(), "no-store".into()),
        ],
        body: Vec::new(),
    }
}

/// The browser's own sign-in: the site's access cookie (never a bearer header, never a token
/// issued to an OAuth client), its session live.
async fn browser(ctx: &Ctx, req: &Request, tc: &TenantCtx) -> Option<SignedIn> {
    let token = req.cookie(ACCESS_COOKIE)?;
    let claims = ctx
        .core
        .verify::<AccessClaims>(&tc.state, token)
        .await
        .ok()?
        .into_claims();
    if claims.client_id.is_some() || claims.user_id.is_none() {
        return None;
    }
    let sid = claims.session_id.clone()?;
    let session = ctx.hot.session(tc.tenant.id(), &sid).await.ok()??;
    if !session.is_live(ctx.now()) {
        return None;
    }
    Some(SignedIn {
        claims,
        auth_time: session.created_at,
    })
}

fn authorize_url(params: &AuthorizeParams) -> String {
    let q: Vec<String> = params
        .pairs()
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("{}?{}", paths::OAUTH_AUTHORIZE, q.join("&"))
}

fn params_of(req: &Request) -> AuthorizeParams {
    if req.method == Method::Post {
        AuthorizeParams::read(|n| req.form_field(n))
    } else {
        AuthorizeParams::read(|n| req.query_param(n))
    }
}

/// `GET|POST /oauth/authorize`: a code for a signed-in person who consented, else the
/// sign-in or consent page; errors go to the client only once its redirect URI is proven.
#[utoipa::path(get, path = "/api/sso/v1/oauth/authorize", tag = "oauth",
    params(("response_type" = String, Query, description = "`code`"), ("client_id" = String, Query),
        ("redirect_uri" = Option<String>, Query), ("scope" = Option<String>, Query), ("state" = Option<String>, Query),
        ("nonce" = Option<String>, Query), ("code_challenge" = Option<String>, Query),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`none`, `login`, `consent`"), ("max_age" = Option<i64>, Query)),
    responses((status = 302, description = "To the client's redirect URI (code or error, with `iss`) or to the sign-in page"),
        (status = 200, description = "The consent page"), (status = 400, description = "An error page (unknown client or redirect URI)")))]
pub async fn authorize(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    Out(run_authorize(&ctx, &req, false).await)
}

async fn run_authorize(ctx: &Ctx, req: &Request, consenting: bool) -> Response {
    let here = if consenting {
        paths::OAUTH_CONSENT
    } else {
        paths::OAUTH_AUTHORIZE
    };
    let (tc, f) = match pages::open(ctx, req, here).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let params = params_of(req);
    let checked = match authorize::check(ctx, &tc, params).await {
        Ok(c) => c,
        Err(Refused::Redirect(u)) => return found(u),
        Err(Refused::Page(e)) => return error_page(&f, e.status(), f.lang.error(&e)),
    };
    let who = browser(ctx, req, &tc).await;
    if consenting {
        if let Err(e) = csrf::check(ctx, &tc, req) {
            return pages::refused(&f, &e);
        }
    } else if who.is_none()
        && !checked.prompt.none
        && req.method == Method::Get
        && req.cookie(pages::SIGNED_IN_COOKIE).is_some()
        && req.cookie(ACCESS_COOKIE).is_none()
    {
        // The access cookie expired but the session may live: refresh it, then come back.
        return pages::signin::bounce(&f, &authorize_url(&checked.params));
    }
    let mut approved = false;
    if consenting {
        let Some(s) = who.as_ref() else {
            return error_page(
                &f,
                401,
                f.lang
                    .error(&Error::new(ErrorCode::Unauthorized, "sign in first")),
            );
        };
        if req.form_field("decision").as_deref() != Some("allow") {
            let e = Error::new(ErrorCode::AccessDenied, "the person declined");
            return match authorize::error_url(
                &checked.redirect_uri,
                authorize::issuer(&tc),
                checked.params.state.as_deref(),
                &e,
            ) {
                Ok(u) => found(u),
                Err(e) => error_page(&f, 500, f.lang.error(&e)),
            };
        }
        let scopes = checked.scopes.held_by(&s.claims.scopes);
        let uid = s.claims.user_id.clone().unwrap_or_default();
        if let Err(e) = consent::remember(
            ctx,
            tc.tenant.id(),
            &extract::meta(req),
            &uid,
            &checked.client,
            &scopes.0,
        )
        .await
        {
            return error_page(&f, e.status(), f.lang.error(&e));
        }
        approved = true;
    }
    match authorize::decide(ctx, &tc, &checked, who.as_ref(), approved).await {
        Ok(Next::Redirect(u)) => found(u),
        Ok(Next::SignIn { back }) => {
            let mut to = format!("{}?redirect={}", p::LOGIN, encode(&authorize_url(&back)));
            if let Some(h) = checked.params.login_hint.as_deref() {
                to.push_str(&format!("&login_hint={}", encode(h)));
            }
            pages::see_other(&to, Some(&f))
        }
        Ok(Next::Consent { scopes }) => {
            consent_page(&f, &checked, &scopes, who.as_ref().map(|s| &s.claims))
        }
        Err(e) => error_page(&f, e.status(), f.lang.error(&e)),
    }
}

/// The origin (for `form-action`) a redirect URI sends the browser to.
fn redirect_origin(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    match u.scheme() {
        "http" | "https" => Some(u.origin().ascii_serialization()),
        s => Some(format!("{s}:")),
    }
}

fn consent_page(f: &Frame, c: &Checked, scopes: &ScopeSet, who: Option<&AccessClaims>) -> Response {
    let t = f.t;
    let mut page =
        Page::new(f, t.consent_title).text(format!("{} {}", c.client.name, t.consent_intro));
    for s in &scopes.0 {
        page = page.text(match s.as_str() {
            OPENID => format!("• {}", t.scope_openid),
            "profile" => format!("• {}", t.scope_profile),
            "email" => format!("• {}", t.scope_email),
            "phone" => format!("• {}", t.scope_phone),
            OFFLINE_ACCESS => format!("• {}", t.scope_offline),
            other => format!("• {} {other}", t.scope_permission),
        });
    }
    if let Some(w) = who {
        let name = w
            .email
            .clone()
            .or_else(|| w.phone.clone())
            .or_else(|| w.username.clone())
            .unwrap_or_default();
        page = page.text(format!("{} {name}", t.consent_signed_in_as));
    }
    let hidden = c.params.pairs();
    let mut allow = Form::new("consent-allow", paths::OAUTH_CONSENT, t.consent_allow)
        .hidden(hidden.clone())
        .hidden(vec![("decision", "allow".into())]);
    allow.class = "";
    let mut deny = Form::new("consent-deny", paths::OAUTH_CONSENT, t.consent_deny)
        .hidden(hidden)
        .hidden(vec![("decision", "deny".into())]);
    deny.class = "secondary";
    let page = page.form(allow).form(deny);
    // The answer to these forms redirects to the client: allow its origin in `form-action`.
    let mut res = page.respond(200);
    if let Some(origin) = redirect_origin(&c.redirect_uri) {
        for (n, v) in res.headers.iter_mut() {
            if n.eq_ignore_ascii_case("content-security-policy") {
                *v = v.replacen(
                    "form-action 'self'",
                    &format!("form-action 'self' {origin}"),
                    1,
                );
            }
        }
    }
    res
}

/// `POST /oauth/authorize/consent`: the consent page's answer.
#[utoipa::path(post, path = "/api/sso/v1/oauth/authorize/consent", tag = "oauth",
    responses((status = 302, description = "To the client (a code, or `access_denied`)"),
        (status = 403, description = "A stale form")))]
pub async fn consent_post(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    Out(run_authorize(&ctx, &req, true).await)
}

// ---- the token endpoint and its siblings ------------------------------------------------------

/// An RFC 6749 error response.
fn oauth_error(e: &Error, basic: bool) -> Response {
    if e.status() >= 500 {
        tracing::error!(error = %e, "oauth endpoint failed");
    }
    let mut r = Response::json(e.status(), &e.oauth_body())
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache");
    if let Some(s) = e.retry_after() {
        r = r.with_header("retry-after", s.to_string());
    }
    if e.code() == ErrorCode::InvalidClient && basic {
        r = r.with_header("www-authenticate", "Basic realm=\"usso\"");
    }
    if let Some(nonce) = e.dpop_nonce() {
        // At the token endpoint a missing nonce is a 400 (RFC 9449 §8); resource endpoints
        // set their own 401 and challenge.
        r = r.with_status(400).with_header("dpop-nonce", nonce);
    }
    r
}

fn form_decode(s: &str) -> Option<String> {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The client credentials a request presents (RFC 6749 §2.3.1): HTTP Basic (each part
/// form-encoded), or `client_id`/`client_secret` in the body; both at once is refused.
fn presented(req: &Request) -> Result<Presented> {
    let body_id = req.form_field("client_id");
    if let Some(kind) = req.form_field("client_assertion_type") {
        if kind != crate::oauth::assertion::ASSERTION_TYPE {
            return Err(Error::new(
                ErrorCode::InvalidClient,
                "unsupported client_assertion_type",
            ));
        }
        let assertion = req
            .form_field("client_assertion")
            .ok_or_else(|| Error::new(ErrorCode::InvalidClient, "client_assertion is missing"))?;
        if req.header("authorization").is_some() || req.form_field("client_secret").is_some() {
            return Err(Error::new(
                ErrorCode::BadRequest,
                "use one client authentication method, not two",
            ));
        }
        // The client is the assertion's `iss` when `client_id` is not sent (RFC 7523 §3).
        let client_id = match body_id {
            Some(id) => id,
            None => assertion
                .split('.')
                .nth(1)
                .and_then(usso_shared::encoding::b64url_decode)
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("iss").and_then(|i| i.as_str()).map(str::to_owned))
                .ok_or_else(|| Error::new(ErrorCode::InvalidClient, "client_id is missing"))?,
        };
        return Ok(Presented::Assertion {
            client_id,
            assertion,
        });
    }
    let body_secret = req.form_field("client_secret");
    let basic = req.header("authorization").and_then(|h| {
        h.strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
    });
    match (basic, body_secret) {
        (Some(_), Some(_)) => Err(Error::new(
            ErrorCode::BadRequest,
            "use one client authentication method, not two",
        )),
        (Some(b64), None) => {
            let bad = || Error::new(ErrorCode::InvalidClient, "malformed Basic credentials");
            let raw = b64_decode(b64.trim()).ok_or_else(bad)?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            let (id, secret) = (
                form_decode(id).ok_or_else(bad)?,
                form_decode(secret).ok_or_else(bad)?,
            );
            if body_id.as_deref().is_some_and(|b| b != id) {
                return Err(bad());
            }
            Ok(Presented::Basic {
                client_id: id,
                secret,
            })
        }
        (None, Some(secret)) => Ok(Presented::Post {
            client_id: body_id
                .ok_or_else(|| Error::new(ErrorCode::InvalidClient, "client_id is missing"))?,
            secret,
        }),
        (None, None) => Ok(match body_id {
            Some(client_id) => Presented::IdOnly { client_id },
            None => Presented::Nothing,
        }),
    }
}

fn require_form(req: &Request) -> Result<()> {
    if req.method != Method::Post || !extract::is_form(req) {
        return Err(Error::new(
            ErrorCode::BadRequest,
            "POST an application/x-www-form-urlencoded body",
        ));
    }
    Ok(())
}

/// Runs a client-authenticated endpoint: RFC 6749 errors, `no-store`.
async fn client_endpoint<F, Fut>(ctx: &Ctx, req: &Request, run: F) -> Response
where
    F: FnOnce(TenantCtx, clients::Client) -> Fut,
    Fut: std::future::Future<Output = Result<Response>>,
{
    let basic = req
        .header("authorization")
        .is_some_and(|h| h.to_ascii_lowercase().starts_with("basic "));
    let result = async {
        require_form(req)?;
        let tc = extract::tenant(ctx, req).await?;
        let presented = presented(req)?;
        let client =
            clients::authenticate(ctx, &tc.tenant, &extract::meta(req), &presented).await?;
        run(tc, client).await
    }
    .await;
    match result {
        Ok(r) => r
            .with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache"),
        Err(e) => oauth_error(&e, basic),
    }
}

/// `POST /oauth/token`: `authorization_code` (with PKCE), `refresh_token`,
/// `client_credentials`. The password grant and anything else: `unsupported_grant_type`.
#[utoipa::path(post, path = "/api/sso/v1/oauth/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type and its parameters"),
    responses((status = 200, body = grant::TokenResponse), (status = 400, body = dto::OAuthError),
        (status = 401, body = dto::OAuthError)))]
pub async fn token(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let who = extract::meta(&req);
    let (ctx, req, who) = (&ctx, &req, &who);
    Out(client_endpoint(ctx, req, |tc, client| async move {
        let tr = TokenRequest::read(|n| req.form_field(n))?;
        // A DPoP proof binds what is issued to the client's key (RFC 9449 §5).
        let proof = match req.header("dpop") {
            Some(p) => {
                let htu = format!(
                    "{}{}",
                    authorize::issuer(&tc).trim_end_matches('/'),
                    paths::OAUTH_TOKEN
                );
                let proof = usso_shared::dpop::verify(
                    p,
                    &usso_shared::dpop::Expect {
                        htm: "POST",
                        htu: &htu,
                        now: ctx.now(),
                        access_token: None,
                        nonces: tc.state.dpop_nonces.as_ref(),
                    },
                )?;
                ctx.core.record_dpop_use(tc.tenant.id(), &proof).await?;
                Some(proof.jkt)
            }
            None => None,
        };
        // The next nonce, so that a client need not be refused to learn it (RFC 9449 §8.2).
        let next_nonce = match (&proof, &tc.state.dpop_nonces) {
            (Some(_), Some(n)) => Some(n.issue(ctx.now())),
            _ => None,
        };
        let issued = grant::exchange(ctx, &tc, who, &client, tr, proof).await?;
        let r = Response::json(200, &issued);
        Ok(match next_nonce {
            Some(n) => r.with_header("dpop-nonce", n),
            None => r,
        })
    })
    .await)
}

/// `POST /oauth/introspect` (RFC 7662), for confidential clients.
#[utoipa::path(post, path = "/api/sso/v1/oauth/introspect", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint"),
    responses((status = 200, description = "`{\"active\": …}` and the token's claims"), (status = 401, body = dto::OAuthError)))]
pub async fn introspection(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let (ctx, req) = (&ctx, &req);
    Out(client_endpoint(ctx, req, |tc, client| async move {
        let token = req
            .form_field("token")
            .ok_or_else(|| Error::new(ErrorCode::BadRequest, "token is missing"))?;
        let hint = req.form_field("token_type_hint");
        let v = introspect::introspect(ctx, &tc, &client, &token, hint.as_deref()).await?;
        Ok(Response::json(200, &v))
    })
    .await)
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was valid.
#[utoipa::path(post, path = "/api/sso/v1/oauth/revoke", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint"),
    responses((status = 200, description = "Revoked (or nothing to revoke)"), (status = 401, body = dto::OAuthError)))]
pub async fn revocation(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let who = extract::meta(&req);
    let (ctx, req, who) = (&ctx, &req, &who);
    Out(client_endpoint(ctx, req, |tc, client| async move {
        let token = req
            .form_field("token")
            .ok_or_else(|| Error::new(ErrorCode::BadRequest, "token is missing"))?;
        revoke::revoke(ctx, &tc, who, &client, &token).await?;
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        })
    })
    .await)
}

/// `GET|POST /oauth/userinfo`: the claims the access token's scopes release.
#[utoipa::path(get, path = "/api/sso/v1/oauth/userinfo", tag = "oauth",
    responses((status = 200, description = "`sub` and the claims of the granted scopes"),
        (status = 401, description = "`WWW-Authenticate: Bearer error=\"invalid_token\"`"),
        (status = 403, description = "`WWW-Authenticate: Bearer error=\"insufficient_scope\"`")))]
pub async fn userinfo_route(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let result = async {
        let tc = extract::tenant(&ctx, &req).await?;
        let (token, dpop_scheme) = req
            .dpop_token()
            .map(|t| (t, true))
            .or_else(|| req.bearer().map(|t| (t, false)))
            .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "no access token"))?;
        let claims = ctx
            .core
            .verify::<AccessClaims>(&tc.state, token)
            .await?
            .into_claims();
        let htu = format!(
            "{}{}",
            authorize::issuer(&tc).trim_end_matches('/'),
            paths::OAUTH_USERINFO
        );
        ctx.core
            .check_binding(
                &tc.state,
                &claims,
                token,
                dpop_scheme,
                req.header("dpop"),
                req.method.as_str(),
                &htu,
            )
            .await?;
        userinfo::claims(&ctx, &tc, &claims).await
    }
    .await;
    Out(match result {
        Ok(m) => Response::json(200, &m).with_header("cache-control", "no-store"),
        Err(e) => {
            let (status, challenge) = if matches!(
                e.code(),
                ErrorCode::UseDpopNonce | ErrorCode::InvalidDpopProof
            ) {
                (401, usso_shared::dpop::challenge(e.code()))
            } else if e.code() == ErrorCode::PermissionDenied {
                (
                    403,
                    "Bearer error=\"insufficient_scope\", scope=\"openid\"".into(),
                )
            } else if e.status() == 401 {
                (401, "Bearer error=\"invalid_token\"".into())
            } else {
                (e.status(), "Bearer".into())
            };
            oauth_error(&e, false)
                .with_status(status)
                .with_header("www-authenticate", challenge)
        }
    })
}

/// `GET|POST /oauth/end-session` (RP-initiated logout): with a valid `id_token_hint`, ends the
/// browser's session and returns to a registered `post_logout_redirect_uri`; without one, asks
/// the person (a page with the sign-out button), so no other site can sign them out.
#[utoipa::path(get, path = "/api/sso/v1/oauth/end-session", tag = "oauth",
    params(("id_token_hint" = Option<String>, Query), ("post_logout_redirect_uri" = Option<String>, Query),
        ("state" = Option<String>, Query), ("client_id" = Option<String>, Query)),
    responses((status = 302, description = "Signed out, back to the client"), (status = 200, description = "The sign-out page"),
        (status = 400, description = "An error page")))]
pub async fn end_session(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let get = |n: &str| {
        if req.method == Method::Post {
            req.form_field(n)
        } else {
            req.query_param(n)
        }
    };
    let (tc, f) = match pages::open(&ctx, &req, paths::OAUTH_END_SESSION).await {
        Ok(x) => x,
        Err(page) => return Out(page),
    };
    let hint = get("id_token_hint");
    let verified = match hint.as_deref() {
        Some(h) => match crate::oauth::id_token::verify_hint(&tc, h, ctx.now()) {
            Ok(c) => Some(c),
            Err(e) => return Out(error_page(&f, 400, f.lang.error(&e))),
        },
        None => None,
    };
    let client_id = get("client_id").or_else(|| verified.as_ref().map(|c| c.azp.clone()));
    let back = match (get("post_logout_redirect_uri"), client_id) {
        (Some(uri), Some(cid)) => match clients::resolve(&ctx, &tc.tenant, &cid).await {
            Ok(c) if c.post_logout_redirect_uris.contains(&uri) => Some(uri),
            _ => {
                let e = Error::new(
                    ErrorCode::BadRequest,
                    "post_logout_redirect_uri is not registered for this client",
                );
                return Out(error_page(&f, 400, f.lang.error(&e)));
            }
        },
        (Some(_), None) => {
            let e = Error::new(
                ErrorCode::BadRequest,
                "post_logout_redirect_uri needs client_id or id_token_hint",
            );
            return Out(error_page(&f, 400, f.lang.error(&e)));
        }
        (None, _) => None,
    };
    let Some(idt) = verified else {
        // No proof the client asking is the one the person signed in to: ask the person.
        let form = Form::new("logout", p::LOGOUT, f.t.sign_out);
        return Out(Page::new(&f, f.t.sign_out).form(form).respond(200));
    };
    // End the browser's session if it is the person the ID token names.
    let now = ctx.now();
    if let Some(s) = browser(&ctx, &req, &tc).await {
        if s.claims.sub == idt.sub {
            if let Some(sid) = s.claims.session_id.as_deref() {
                let _ = ctx.hot.revoke(tc.tenant.id(), sid, "rp_logout", now).await;
            }
        }
    }
    let res = match back {
        Some(uri) => {
            let mut u = uri;
            if let Some(state) = get("state") {
                u.push_str(if u.contains('?') { "&" } else { "?" });
                u.push_str(&format!("state={}", encode(&state)));
            }
            found(u)
        }
        None => Page::new(&f, f.t.signed_out_title).respond(200),
    };
    let res = usso_edge::issue::clear_cookies(&tc.state.config, res)
        .with_header("set-cookie", pages::signed_in_cookie(&tc, true));
    Out(res)
}

// ---- the device authorization grant (RFC 8628) -------------------------------------------------

/// `POST /oauth/device_authorization`: a device code and the code for the person to enter.
#[utoipa::path(post, path = "/api/sso/v1/oauth/device_authorization", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "client_id (and secret for confidential clients), scope"),
    responses((status = 200, description = "device_code, user_code, verification_uri(_complete), expires_in, interval"),
        (status = 400, body = dto::OAuthError), (status = 401, body = dto::OAuthError)))]
pub async fn device_authorization(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let (ctx, req) = (&ctx, &req);
    Out(client_endpoint(ctx, req, |tc, client| async move {
        let scope = req.form_field("scope");
        let started = crate::oauth::device::start(
            ctx,
            tc.tenant.id(),
            authorize::issuer(&tc),
            &client,
            scope.as_deref(),
        )
        .await?;
        Ok(Response::json(200, &started))
    })
    .await)
}

fn device_entry_page(f: &Frame, typed: &str, error: Option<&Error>) -> Response {
    let t = f.t;
    let mut form = Form::new("device", p::DEVICE, t.confirm).field(
        pages::Field::new("user_code", t.device_code_label, "text", "off")
            .value(typed)
            .ltr(),
    );
    if let Some(e) = error {
        form = form.failed(f.lang, e);
    }
    Page::new(f, t.device_title)
        .text(t.device_text)
        .form(form)
        .respond(if error.is_some() { 400 } else { 200 })
}

fn device_confirm_page(
    f: &Frame,
    g: &crate::oauth::device::DeviceGrant,
    client: &clients::Client,
) -> Response {
    let t = f.t;
    let mut page =
        Page::new(f, t.consent_title).text(format!("{} {}", client.name, t.consent_intro));
    for s in &g.scope {
        page = page.text(match s.as_str() {
            OPENID => format!("• {}", t.scope_openid),
            "profile" => format!("• {}", t.scope_profile),
            "email" => format!("• {}", t.scope_email),
            "phone" => format!("• {}", t.scope_phone),
            OFFLINE_ACCESS => format!("• {}", t.scope_offline),
            other => format!("• {} {other}", t.scope_permission),
        });
    }
    page = page.text(format!("{} {}", t.device_code_label, g.user_code));
    let code = vec![("user_code", g.user_code.clone())];
    let allow = Form::new("device-allow", p::DEVICE, t.consent_allow)
        .hidden(code.clone())
        .hidden(vec![("decision", "allow".into())]);
    let mut deny = Form::new("device-deny", p::DEVICE, t.consent_deny)
        .hidden(code)
        .hidden(vec![("decision", "deny".into())]);
    deny.class = "secondary";
    page.form(allow).form(deny).respond(200)
}

/// `GET|POST /device`: the person enters the device's code, sees what it asks for, and
/// approves or declines (signed in; the form carries the form token).
pub async fn device_page(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    use crate::oauth::device::{self, DeviceState};
    let (tc, f) = match pages::open(&ctx, &req, p::DEVICE).await {
        Ok(x) => x,
        Err(page) => return Out(page),
    };
    let post = req.method == Method::Post;
    let typed = if post {
        req.form_field("user_code")
    } else {
        req.query_param("user_code")
    }
    .unwrap_or_default();
    let Some(who) = browser(&ctx, &req, &tc).await else {
        let back = if typed.is_empty() {
            p::DEVICE.to_owned()
        } else {
            format!("{}?user_code={}", p::DEVICE, encode(&typed))
        };
        if !post && req.cookie(pages::SIGNED_IN_COOKIE).is_some() {
            return Out(pages::signin::bounce(&f, &back));
        }
        return Out(pages::see_other(
            &format!("{}?redirect={}", p::LOGIN, encode(&back)),
            Some(&f),
        ));
    };
    if post {
        if let Err(e) = csrf::check(&ctx, &tc, &req) {
            return Out(pages::refused(&f, &e));
        }
    }
    if typed.is_empty() {
        return Out(device_entry_page(&f, "", None));
    }
    // Entering codes is rate-limited per address (a code is only guessable by trying).
    let now = ctx.now();
    let key =
        crate::store::keys::counter("device-code", tc.tenant.id(), &[&extract::meta(&req).ip]);
    match ctx.hot.hit(&key, 600, now).await {
        Ok((n, reset)) if n > 30 => {
            let e = Error::too_many_requests((reset - now).max(1) as u64);
            return Out(device_entry_page(&f, &typed, Some(&e)));
        }
        Ok(_) => {}
        Err(e) => return Out(error_page(&f, e.status(), f.lang.error(&e))),
    }
    let found = match device::find(&ctx, tc.tenant.id(), &typed).await {
        Ok(Some(x)) => x,
        Ok(None) => {
            let e = Error::new(
                ErrorCode::ValidationError,
                "user_code: unknown or expired code",
            );
            return Out(device_entry_page(&f, &typed, Some(&e)));
        }
        Err(e) => return Out(error_page(&f, e.status(), f.lang.error(&e))),
    };
    let (key, g) = found;
    let client = match clients::resolve(&ctx, &tc.tenant, &g.client_id).await {
        Ok(c) if c.is_active => c,
        _ => {
            let e = Error::new(ErrorCode::InvalidClient, "the client is gone");
            return Out(error_page(&f, 400, f.lang.error(&e)));
        }
    };
    let decision = if post {
        req.form_field("decision")
    } else {
        None
    };
    let state = match decision.as_deref() {
        None => return Out(device_confirm_page(&f, &g, &client)),
        Some("allow") => DeviceState::Approved {
            user_id: who.claims.user_id.clone().unwrap_or_default(),
            auth_time: who.auth_time,
            amr: who.claims.amr.clone(),
            acr: who.claims.acr.clone(),
            scope: ScopeSet(g.scope.clone()).held_by(&who.claims.scopes).0,
        },
        Some(_) => DeviceState::Denied,
    };
    let allowed = matches!(state, DeviceState::Approved { .. });
    if let Err(e) = device::answer(&ctx, tc.tenant.id(), &key, state).await {
        return Out(error_page(&f, e.status(), f.lang.error(&e)));
    }
    let t = f.t;
    let (title, text) = if allowed {
        (t.device_done_title, t.device_done_text)
    } else {
        (t.device_denied_title, t.device_denied_text)
    };
    Out(Page::new(&f, title).text(text).respond(200))
}

// ---- dynamic client registration (RFC 7591) ----------------------------------------------------

/// `POST /oauth/register`: registers a client when the tenant allows it (`oauth.dynamic_registration`).
#[utoipa::path(post, path = "/api/sso/v1/oauth/register", tag = "oauth", request_body = dto::RegisterOAuthClient,
    responses((status = 201, description = "The client information response (RFC 7591 §3.2.1)"),
        (status = 400, description = "`invalid_redirect_uri` or `invalid_client_metadata`", body = dto::OAuthError),
        (status = 403, description = "Registration is off for this tenant", body = dto::OAuthError)))]
pub async fn register_client(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let result = async {
        let tc = extract::tenant(&ctx, &req).await?;
        let body: dto::RegisterOAuthClient = req
            .json()
            .map_err(|e| Error::new(ErrorCode::ValidationError, e.detail().to_owned()))?;
        let scopes = body
            .scope
            .as_deref()
            .map(|s| ScopeSet::parse(Some(s)).map(|s| s.0))
            .transpose()
            .map_err(|e| {
                Error::new(ErrorCode::ValidationError, format!("scope: {}", e.detail()))
            })?;
        let new = clients::NewClient {
            name: body.client_name.unwrap_or_else(|| "Unnamed client".into()),
            description: None,
            redirect_uris: body.redirect_uris,
            post_logout_redirect_uris: body.post_logout_redirect_uris,
            grant_types: body.grant_types,
            response_types: body.response_types,
            token_endpoint_auth_method: body.token_endpoint_auth_method,
            scopes,
            skip_consent: false,
            jwks: None,
            id_token_signed_response_alg: body.id_token_signed_response_alg,
        };
        clients::register(&ctx, &tc.tenant, &extract::meta(&req), new).await
    }
    .await;
    Out(match result {
        Ok((c, _, secret)) => {
            let mut v = serde_json::json!({
                "client_id": c.client_id,
                "client_id_issued_at": c.created_at,
                "client_name": c.name,
                "redirect_uris": c.redirect_uris,
                "post_logout_redirect_uris": c.post_logout_redirect_uris,
                "grant_types": c.grant_types,
                "response_types": ["code"],
                "token_endpoint_auth_method": c.token_endpoint_auth_method,
                "id_token_signed_response_alg": c.id_token_signed_response_alg,
                "scope": c.scopes.join(" "),
            });
            if let Some(s) = secret {
                v["client_secret"] = serde_json::json!(s);
                v["client_secret_expires_at"] = serde_json::json!(0);
            }
            Response::json(201, &v)
                .with_header("cache-control", "no-store")
                .with_header("pragma", "no-cache")
        }
        Err(e) if e.code() == ErrorCode::ValidationError => {
            // RFC 7591 §3.2.2's two codes.
            let error = if e.detail().contains("redirect_uris") {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            };
            Response::json(
                400,
                &serde_json::json!({"error": error, "error_description": e.detail()}),
            )
            .with_header("cache-control", "no-store")
        }
        Err(e) => oauth_error(&e, false),
    })
}
