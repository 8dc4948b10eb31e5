//! The HTTP server: axum routing, translation to and from the edge core's request/response
//! types, request logging, and graceful shutdown.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::json;
use usso_edge::http::{Method, Request, Response, MAX_BODY_BYTES};
use usso_shared::{Error, ErrorCode};

use std::sync::Arc;

use crate::app::legacy::AppRef;
use crate::http::gateway::Gateway;

/// A request converted for the core (body read with a size limit).
pub struct CoreRequest(pub Request);

impl FromRequest<AppRef> for CoreRequest {
    type Rejection = Out;

    async fn from_request(req: axum::extract::Request, app: &AppRef) -> Result<Self, Out> {
        let (parts, body) = req.into_parts();
        let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
        let collected = tokio::time::timeout(app.body_timeout, limited.collect())
            .await
            .map_err(|_| {
                Out(Response::error(&Error::bad_request(format!(
                    "the request body did not arrive within {} s",
                    app.body_timeout.as_secs()
                )))
                .with_status(408)
                .with_header("connection", "close"))
            })?;
        let bytes: Bytes = match collected {
            Ok(c) => c.to_bytes(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(Out(Response::error(&Error::new(
                    ErrorCode::PayloadTooLarge,
                    format!("request body exceeds {MAX_BODY_BYTES} bytes"),
                ))))
            }
            Err(e) => {
                return Err(Out(Response::error(&Error::bad_request(format!(
                    "unreadable body: {e}"
                )))))
            }
        };
        let mut headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        // RFC 9112 §3.2: more than one Host is a bad request; with an absolute-form target the
        // target's authority is the host, whatever the Host header says. The tenant is chosen by
        // this one value, so no two layers can disagree about it.
        if parts.headers.get_all("host").iter().count() > 1 {
            return Err(Out(Response::error(&Error::bad_request(
                "more than one Host header",
            ))));
        }
        if let Some(authority) = parts.uri.authority() {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
            headers.push(("host".into(), authority.as_str().to_owned()));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client_ip = crate::http::client_addr::resolve(peer, &headers, app.proxy_hops)
            .map_err(|e| {
                Out(Response::error(&Error::bad_request(format!(
                    "malformed forwarding header: {}",
                    e.0
                ))))
            })?
            .map(|ip| ip.to_string());
        Ok(CoreRequest(Request {
            method: Method::parse(parts.method.as_str()),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body: bytes.to_vec(),
            client_ip,
        }))
    }
}

/// A core response as an axum response.
pub struct Out(pub Response);

impl IntoResponse for Out {
    fn into_response(self) -> axum::response::Response {
        let r = self.0;
        let mut res = axum::response::Response::new(Body::from(r.body));
        *res.status_mut() =
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (n, v) in r.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(n), HeaderValue::try_from(v)) {
                res.headers_mut().append(n, v);
            }
        }
        res
    }
}

fn out(r: usso_shared::Result<Response>) -> Out {
    Out(r.unwrap_or_else(|e| Response::error(&e)))
}

/// Passes a request to the edge core and audits what it did.
async fn edge(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    let res = app.core.handle(&req).await;
    // Audit what the token routes did (the edge core itself has no audit sink).
    let event = match (req.path.as_str(), res.status) {
        ("/api/sso/v1/auth/refresh", 200) => Some("refresh"),
        ("/api/sso/v1/auth/refresh", 401)
            if res.body_json()["error_code"] == "refresh_token_reused" =>
        {
            Some("refresh_reuse_detected")
        }
        ("/api/sso/v1/auth/logout", 200) => Some("logout"),
        _ => None,
    };
    if let Some(event) = event {
        if let Ok(t) = app.core.resolve_tenant(&req, false).await {
            app.audit(&t.config.tenant_id, event, Some(&req), json!({}))
                .await;
        }
    }
    Out(res)
}

/// The tenant's JWKS (active, next and previous keys).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    params(("domain" = Option<String>, Query, description = "host[:port] selecting the tenant")),
    responses((status = 200, description = "JWKS, with Cache-Control and ETag"), (status = 304, description = "Not modified"),
        (status = 400, description = "Unknown tenant", body = crate::http::openapi::ErrorResponse)))]
pub async fn jwks(app: State<AppRef>, req: CoreRequest) -> Out {
    edge(app, req).await
}

/// OpenID-style discovery document.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "tokens",
    params(("domain" = Option<String>, Query, description = "host[:port] selecting the tenant")),
    responses((status = 200, description = "Discovery document"), (status = 400, body = crate::http::openapi::ErrorResponse)))]
pub async fn discovery(app: State<AppRef>, req: CoreRequest) -> Out {
    edge(app, req).await
}

/// Verifies an access token and returns its claims (`?strict=true` also checks the session).
#[utoipa::path(post, path = "/api/sso/v1/auth/verify-token", tag = "tokens",
    request_body = crate::http::openapi::VerifyRequest,
    params(("strict" = Option<bool>, Query, description = "also require a live session")),
    responses((status = 200, description = "The verified claims"), (status = 401, body = crate::http::openapi::ErrorResponse),
        (status = 422, body = crate::http::openapi::ErrorResponse)))]
pub async fn verify_token(app: State<AppRef>, req: CoreRequest) -> Out {
    edge(app, req).await
}

/// Rotates a refresh token (body or `usso-refresh-token` cookie; GET reads the cookie).
#[utoipa::path(post, path = "/api/sso/v1/auth/refresh", tag = "auth",
    request_body = crate::http::openapi::RefreshRequest,
    responses((status = 200, body = crate::http::openapi::TokenResponse),
        (status = 401, description = "invalid_token, refresh_token_reused, session_revoked, session_expired", body = crate::http::openapi::ErrorResponse)))]
pub async fn refresh(app: State<AppRef>, req: CoreRequest) -> Out {
    edge(app, req).await
}

/// Ends the session of the presented token and clears the cookies.
#[utoipa::path(post, path = "/api/sso/v1/auth/logout", tag = "auth",
    request_body = crate::http::openapi::RefreshRequest,
    responses((status = 200, description = "Logged out"), (status = 401, body = crate::http::openapi::ErrorResponse)))]
pub async fn logout(app: State<AppRef>, req: CoreRequest) -> Out {
    edge(app, req).await
}

/// Password login; with `register: true` an unknown identifier is registered.
#[utoipa::path(post, path = "/api/sso/v1/auth/login", tag = "auth",
    request_body = crate::http::openapi::LoginRequest,
    responses((status = 200, body = crate::http::openapi::TokenResponse),
        (status = 401, description = "invalid_credentials", body = crate::http::openapi::ErrorResponse),
        (status = 422, body = crate::http::openapi::ErrorResponse),
        (status = 429, description = "Rate limited; see Retry-After", body = crate::http::openapi::ErrorResponse)))]
pub async fn login(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.login(&req, false).await)
}

/// Sends a one-time code by email or SMS (the answer does not tell whether the identifier has an
/// account). Log in with it: `method` `email/otp` or `phone/otp`, the code as `secret`.
#[utoipa::path(post, path = "/api/sso/v1/auth/request-otp", tag = "auth",
    request_body = crate::http::openapi::OtpRequest,
    responses((status = 200, body = crate::http::openapi::OtpAccepted),
        (status = 422, body = crate::http::openapi::ErrorResponse),
        (status = 429, description = "Rate limited; see Retry-After", body = crate::http::openapi::ErrorResponse)))]
pub async fn request_otp(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.request_otp(&req).await)
}

/// Mails a single-use sign-in link (the answer does not tell whether the address has an
/// account).
#[utoipa::path(post, path = "/api/sso/v1/auth/request-magic-link", tag = "auth",
    request_body = crate::http::openapi::MagicLinkRequest,
    responses((status = 200, description = "Accepted"),
        (status = 422, body = crate::http::openapi::ErrorResponse),
        (status = 429, description = "Rate limited; see Retry-After", body = crate::http::openapi::ErrorResponse)))]
pub async fn request_magic_link(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.request_magic_link(&req).await)
}

/// The magic link's confirmation page (HTML). Opening it signs nothing in and consumes nothing.
#[utoipa::path(get, path = "/api/sso/v1/auth/magic-link", tag = "auth",
    params(("token" = String, Query, description = "the token from the mailed link")),
    responses((status = 200, description = "Confirmation page with a sign-in button", content_type = "text/html"),
        (status = 410, description = "Expired or used", content_type = "text/html")))]
pub async fn magic_link_page(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.magic_link_page(&req).await)
}

/// Consumes a magic link and signs in (form field or JSON `token`): 303 to the link's allowed
/// URL with the session cookies, or the token response.
#[utoipa::path(post, path = "/api/sso/v1/auth/magic-link", tag = "auth",
    request_body = crate::http::openapi::MagicLinkConfirm,
    responses((status = 200, body = crate::http::openapi::TokenResponse),
        (status = 303, description = "Signed in; redirected with cookies"),
        (status = 401, description = "invalid_credentials (expired or used)", body = crate::http::openapi::ErrorResponse)))]
pub async fn magic_link_confirm(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.magic_link_confirm(&req).await)
}

/// Completes a password login that answered `mfa_required`, with the one-time code.
#[utoipa::path(post, path = "/api/sso/v1/auth/mfa/verify", tag = "auth",
    request_body = crate::http::openapi::MfaVerify,
    responses((status = 200, body = crate::http::openapi::TokenResponse),
        (status = 401, description = "invalid_credentials", body = crate::http::openapi::ErrorResponse)))]
pub async fn mfa_verify(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.mfa_verify(&req).await)
}

/// An Altcha-compatible proof-of-work challenge for the routes a tenant guards.
#[utoipa::path(get, path = "/api/sso/v1/captcha/challenge", tag = "auth",
    responses((status = 200, description = "{algorithm, challenge, maxnumber, salt, signature}")))]
pub async fn captcha_challenge(State(app): State<AppRef>) -> Out {
    out(app.captcha_challenge())
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/sso/v1/auth/register", tag = "auth",
    request_body = crate::http::openapi::LoginRequest,
    responses((status = 200, body = crate::http::openapi::TokenResponse),
        (status = 409, description = "Identifier taken", body = crate::http::openapi::ErrorResponse),
        (status = 422, body = crate::http::openapi::ErrorResponse)))]
pub async fn register(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.login(&req, true).await)
}

/// The current user.
#[utoipa::path(get, path = "/api/sso/v1/auth/me", tag = "auth",
    responses((status = 200, description = "The user"), (status = 401, body = crate::http::openapi::ErrorResponse)))]
pub async fn me(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.me(&req).await)
}

/// The current user (alias).
#[utoipa::path(get, path = "/api/sso/v1/me", tag = "auth",
    responses((status = 200, description = "The user"), (status = 401, body = crate::http::openapi::ErrorResponse)))]
pub async fn me_alias(app: State<AppRef>, req: CoreRequest) -> Out {
    me(app, req).await
}

/// The caller's sessions (`user_id` with `read:sessions`).
#[utoipa::path(get, path = "/api/sso/v1/sessions", tag = "sessions",
    params(("user_id" = Option<String>, Query), ("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, description = "{items, total, offset, limit}"), (status = 401, body = crate::http::openapi::ErrorResponse),
        (status = 403, body = crate::http::openapi::ErrorResponse)))]
pub async fn sessions(State(app): State<AppRef>, CoreRequest(req): CoreRequest) -> Out {
    out(app.sessions(&req).await)
}

/// Revokes one of the caller's sessions (any session with `delete:sessions`).
#[utoipa::path(delete, path = "/api/sso/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path)),
    responses((status = 200, description = "Revoked"), (status = 404, body = crate::http::openapi::ErrorResponse)))]
pub async fn revoke_session(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(app.revoke_session(&req, &id).await)
}

/// Liveness and store health.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "ok"), (status = 503, description = "a store is failing")))]
pub async fn health(State(app): State<AppRef>) -> Out {
    Out(app.health().await)
}

async fn not_found() -> Out {
    Out(Response::error(&Error::new(
        ErrorCode::NotFound,
        "no such route",
    )))
}

async fn method_not_allowed() -> Out {
    Out(Response::error(&Error::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )))
}

/// The router of the whole product (with the Upstash-compatible gateway when configured).
pub fn router(app: AppRef, gateway: Option<Arc<Gateway>>) -> Router {
    const P: &str = "/api/sso/v1";
    let gateway_routes = match gateway {
        Some(g) => g.routes(),
        None => Router::new(),
    };
    Router::new()
        .merge(gateway_routes)
        .route("/health", get(health))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
        .route(&format!("{P}/auth/verify-token"), post(verify_token))
        // Opt-in benchmark routes (the core answers 404 unless USSO_BENCH_ROUTES is set).
        .route(usso_edge::bench::VERIFY, post(edge))
        .route(usso_edge::bench::VERIFY_STRICT, post(edge))
        .route(&format!("{P}/auth/refresh"), post(refresh).get(refresh))
        .route(&format!("{P}/auth/logout"), post(logout).get(logout))
        .route(&format!("{P}/auth/login"), post(login))
        .route(&format!("{P}/auth/register"), post(register))
        .route(&format!("{P}/auth/request-otp"), post(request_otp))
        .route(
            &format!("{P}/auth/request-magic-link"),
            post(request_magic_link),
        )
        .route(
            &format!("{P}/auth/magic-link"),
            get(magic_link_page).post(magic_link_confirm),
        )
        .route(&format!("{P}/auth/mfa/verify"), post(mfa_verify))
        .route(&format!("{P}/captcha/challenge"), get(captcha_challenge))
        .route(&format!("{P}/auth/me"), get(me))
        .route(&format!("{P}/me"), get(me_alias))
        .route(&format!("{P}/sessions"), get(sessions))
        .route(&format!("{P}/sessions/{{id}}"), delete(revoke_session))
        .merge(crate::http::openapi::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(log_requests))
        .with_state(app)
}

async fn log_requests(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    tracing::info!(
        target: "http",
        %method,
        path,
        status = res.status().as_u16(),
        micros = start.elapsed().as_micros() as u64,
    );
    res
}

/// Limits on connections, against slow or stalled clients (Slowloris and friends).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest wait for a request head, counted from the moment the connection may send one:
    /// bounds connections that send nothing, send headers byte by byte, or sit idle between
    /// keep-alive requests.
    pub header_timeout: std::time::Duration,
    /// Longest wait for a whole request body.
    pub body_timeout: std::time::Duration,
    /// Most connections served at once; beyond it a new connection is closed at once, so the
    /// process never runs out of file descriptors and stalled connections free their slots
    /// within `header_timeout`.
    pub max_connections: usize,
    /// Largest request head, in bytes (hyper answers 431 beyond it).
    pub max_header_bytes: usize,
}

/// Serves until SIGTERM/SIGINT, then finishes in-flight requests and returns.
///
/// The accept loop drives hyper's HTTP/1 connection itself, with a timer, so that the limits
/// above apply to every connection: a header-read deadline, a head size limit, a connection
/// cap, and (in [`CoreRequest`]) a body deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: AppRef,
    gateway: Option<Arc<Gateway>>,
    limits: Limits,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let router = router(app, gateway);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset before accept: keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%remote, max = limits.max_connections, "connection limit reached: closing a new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                let mut router = router.clone();
                tower_service::Service::call(&mut router, req.map(Body::new))
            });
        let io = TokioIo::new(crate::http::hyper_errors::JsonErrors::new(stream));
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
            drop(permit);
        });
    }
    tracing::info!("shutting down: finishing in-flight requests");
    // In-flight requests finish; idle connections close at once; stalled ones at the latest
    // when their header deadline passes.
    let _ = tokio::time::timeout(
        limits.header_timeout + limits.body_timeout,
        graceful.shutdown(),
    )
    .await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
