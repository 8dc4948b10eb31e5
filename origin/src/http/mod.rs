//! The HTTP layer, the only code that knows axum and the edge core's request and response
//! types. One router per area ([`auth`], [`tokens`], [`sessions`], [`system`]); handlers
//! extract typed inputs ([`extract`], bodies in [`dto`]), make one domain call and turn the
//! outcome into a response ([`respond`]). The accept loop and its limits are in [`serve`].

pub mod auth;
pub mod client_addr;
pub mod dto;
pub mod extract;
pub mod gateway;
pub mod hyper_errors;
pub mod openapi;
pub mod pages;
pub mod respond;
pub mod serve;
pub mod sessions;
pub mod system;
pub mod tokens;

use std::sync::Arc;
use std::time::Instant;

use axum::routing::{delete, get, post};
use axum::Router;
use usso_shared::paths;

use crate::app::CtxRef;
use gateway::Gateway;

/// The router of the whole product (with the Upstash-compatible gateway when configured).
pub fn router(ctx: CtxRef, gateway: Option<Arc<Gateway>>) -> Router {
    let gateway_routes = match gateway {
        Some(g) => g.routes(),
        None => Router::new(),
    };
    Router::new()
        .merge(gateway_routes)
        .merge(token_routes())
        .merge(auth_routes())
        .merge(account_routes())
        .route(paths::HEALTH, get(system::health))
        .merge(openapi::routes())
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(axum::middleware::from_fn(log_requests))
        .with_state(ctx)
}

/// The edge core's routes, mounted as they are.
fn token_routes() -> Router<CtxRef> {
    use tokens::*;
    Router::new()
        .route(paths::JWKS, get(jwks))
        .route(paths::DISCOVERY, get(discovery))
        .route(paths::VERIFY_TOKEN, post(verify_token))
        // Opt-in benchmark routes (the core answers 404 unless USSO_BENCH_ROUTES is set).
        .route(usso_edge::bench::VERIFY, post(edge))
        .route(usso_edge::bench::VERIFY_STRICT, post(edge))
        .route(paths::REFRESH, post(refresh).get(refresh))
        .route(paths::LOGOUT, post(logout).get(logout))
}

/// Signing in.
fn auth_routes() -> Router<CtxRef> {
    use auth::*;
    Router::new()
        .route(paths::LOGIN, post(login))
        .route(paths::REGISTER, post(register))
        .route(paths::REQUEST_OTP, post(request_otp))
        .route(paths::REQUEST_MAGIC_LINK, post(request_magic_link))
        .route(
            paths::MAGIC_LINK,
            get(magic_link_page).post(magic_link_confirm),
        )
        .route(paths::MFA_VERIFY, post(mfa_verify))
        .route(paths::CAPTCHA_CHALLENGE, get(captcha_challenge))
}

/// The signed-in account's own routes.
fn account_routes() -> Router<CtxRef> {
    use sessions::*;
    Router::new()
        .route(paths::AUTH_ME, get(me))
        .route(paths::ME, get(me_alias))
        .route(paths::SESSIONS, get(sessions))
        .route(paths::SESSION, delete(revoke_session))
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
