//! The HTTP layer, the only code that knows axum and the edge core's request and response
//! types. One router per area ([`auth`], [`tokens`], [`sessions`], [`users`], [`roles`],
//! [`profiles`], [`system`]); handlers
//! extract typed inputs ([`extract`], bodies in [`dto`]), make one domain call and turn the
//! outcome into a response ([`respond`]). The accept loop and its limits are in [`serve`].

pub mod account;
pub mod agents;
pub mod api_keys;
pub mod auth;
pub mod client_addr;
pub mod dto;
pub mod extract;
pub mod gateway;
pub mod hyper_errors;
pub mod oauth;
pub mod openapi;
pub mod pages;
pub mod profiles;
pub mod respond;
pub mod roles;
pub mod serve;
pub mod sessions;
pub mod system;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod workspaces;

use std::sync::Arc;
use std::time::Instant;

use axum::routing::{delete, get, patch, post};
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
    let router = Router::new()
        .merge(gateway_routes)
        .merge(token_routes())
        .merge(auth_routes())
        .merge(account_routes())
        .merge(admin_routes())
        .merge(page_routes())
        .merge(oauth_routes())
        .route(paths::HEALTH, get(system::health))
        .merge(openapi::routes())
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed);
    // The access log's layer only when its lines would be written (the filter is fixed at
    // start-up): otherwise every request would pay for a boxed future doing nothing.
    let router = if tracing::enabled!(target: "http", tracing::Level::INFO) {
        router.layer(axum::middleware::from_fn(log_requests))
    } else {
        router
    };
    router.with_state(ctx)
}

/// The edge core's routes, mounted as they are.
fn token_routes() -> Router<CtxRef> {
    use tokens::*;
    Router::new()
        .route(paths::JWKS, get(jwks))
        .route(paths::DISCOVERY, get(discovery))
        .route(paths::OAUTH_METADATA, get(oauth_metadata))
        .route(paths::VERIFY_TOKEN, post(verify_token))
        // Opt-in benchmark routes (the core answers 404 unless USSO_BENCH_ROUTES is set).
        .route(usso_edge::bench::VERIFY, post(edge))
        .route(usso_edge::bench::VERIFY_CACHED, post(edge))
        .route(usso_edge::bench::VERIFY_BARE, post(edge))
        .route(usso_edge::bench::VERIFY_STRICT, post(edge))
        .route(usso_edge::bench::VERIFY_DPOP, post(edge))
        .route(usso_edge::bench::ED25519_VECTORS, post(edge))
        .route(paths::APIKEYS_VERIFY, post(verify_api_key))
        .route(paths::API_KEYS_VERIFY_ALIAS, post(verify_api_key))
        .route(paths::REFRESH, post(refresh).get(refresh))
        .route(paths::LOGOUT, post(logout).get(logout))
}

/// The OAuth 2.1 / OpenID Connect provider.
fn oauth_routes() -> Router<CtxRef> {
    use oauth::*;
    Router::new()
        .route(paths::OAUTH_CLIENTS, get(list_clients).post(create_client))
        .route(
            paths::OAUTH_CLIENT,
            get(get_client).patch(update_client).delete(delete_client),
        )
        .route(paths::OAUTH_CLIENT_ROTATE, post(rotate_secret))
        .route(paths::OAUTH_AUTHORIZE, get(authorize).post(authorize))
        .route(paths::OAUTH_CONSENT, post(consent_post))
        .route(paths::OAUTH_TOKEN, post(token))
        .route(
            paths::OAUTH_USERINFO,
            get(userinfo_route).post(userinfo_route),
        )
        .route(paths::OAUTH_INTROSPECT, post(introspection))
        .route(paths::OAUTH_REVOKE, post(revocation))
        .route(paths::OAUTH_END_SESSION, get(end_session).post(end_session))
        .route(paths::OAUTH_CONSENTS, get(my_consents))
        .route(paths::OAUTH_CONSENT_OF, delete(revoke_consent))
        .route(paths::OAUTH_DEVICE, post(device_authorization))
        .route(paths::OAUTH_REGISTER, post(register_client))
        .route(paths::pages::DEVICE, get(device_page).post(device_page))
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

/// The hosted pages (HTML forms; `docs/pages.md`).
fn page_routes() -> Router<CtxRef> {
    use pages::{account, assets, signin};
    use paths::pages as p;
    Router::new()
        .route(p::LOGIN, get(signin::login_get).post(signin::login_post))
        .route(p::LOGIN_CODE, get(signin::code_get).post(signin::code_post))
        .route(p::LOGIN_CODE_VERIFY, post(signin::code_verify))
        .route(p::LOGIN_LINK, get(signin::link_get).post(signin::link_post))
        .route(p::LOGIN_STEP, post(signin::step_post))
        .route(p::SIGNUP, get(signin::signup_get).post(signin::signup_post))
        .route(p::FORGOT, get(signin::forgot_get).post(signin::forgot_post))
        .route(p::RESET, post(signin::reset_post))
        .route(p::LOGOUT, post(signin::logout))
        .route(paths::RESUME, get(signin::resume))
        .route(p::ERROR, get(signin::error))
        .route(p::ACCOUNT, get(account::show))
        .route(p::ACCOUNT_PROFILE, post(account::profile))
        .route(p::ACCOUNT_PASSWORD, post(account::password))
        .route(p::ACCOUNT_IDENTIFIER_ADD, post(account::add_identifier))
        .route(
            p::ACCOUNT_IDENTIFIER_VERIFY,
            post(account::verify_identifier),
        )
        .route(p::ACCOUNT_IDENTIFIER_PRIMARY, post(account::make_primary))
        .route(
            p::ACCOUNT_IDENTIFIER_REMOVE,
            post(account::remove_identifier),
        )
        .route(p::ACCOUNT_SESSION_END, post(account::end_session))
        .route(p::ACCOUNT_SESSIONS_END_OTHERS, post(account::end_others))
        .route(p::ASSET, get(assets::serve))
}

/// The signed-in account's own routes.
fn account_routes() -> Router<CtxRef> {
    use sessions::*;
    Router::new()
        .route(paths::AUTH_ME, get(me))
        .route(paths::ME, get(me_alias).delete(account::delete_me))
        .route(paths::PASSWORD_CHANGE, post(account::change_password))
        .route(paths::PASSWORD_RESET_REQUEST, post(account::reset_request))
        .route(
            paths::PASSWORD_RESET,
            get(account::reset_page).post(account::reset_password),
        )
        .route(
            paths::VERIFY_LINK,
            get(account::verify_link_page).post(account::verify_link),
        )
        .route(paths::VERIFY_REQUEST, post(account::verify_request))
        .route(paths::VERIFY, post(account::verify))
        .route(paths::ME_EXPORT, get(account::export))
        .route(paths::AUDIT_MINE, get(account::audit_mine))
        .route(paths::AUDIT, get(account::audit_list))
        .route(paths::SESSIONS, get(sessions))
        .route(paths::SESSION, delete(revoke_session))
}

/// Administration: users, their identifiers and credentials, roles; profiles.
fn admin_routes() -> Router<CtxRef> {
    Router::new()
        .route(paths::USERS, get(users::list).post(users::create))
        .route(paths::APIKEYS, get(api_keys::list).post(api_keys::create))
        .route(
            paths::API_KEYS_ALIAS,
            get(api_keys::list).post(api_keys::create),
        )
        .route(paths::APIKEY, get(api_keys::get).delete(api_keys::revoke))
        .route(paths::AGENTS, get(agents::list).post(agents::create))
        .route(
            paths::AGENT,
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route(paths::AGENT_KEYS, post(agents::add_key))
        .route(paths::AGENT_KEY, delete(agents::remove_key))
        .route(
            paths::AGENT_REGISTRATION_KEYS,
            post(agents::registration_key),
        )
        .route(paths::AGENT_REGISTER, post(agents::register))
        .route(paths::AGENT_AUTH, post(agents::auth))
        .route(paths::AGENT_SCOPES, post(agents::scopes))
        .route(
            paths::API_KEY_ALIAS,
            get(api_keys::get).delete(api_keys::revoke),
        )
        .route(
            paths::USER,
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            paths::USER_IDENTIFIERS,
            get(users::identifiers).post(users::add_identifier),
        )
        .route(paths::USER_IDENTIFIER, delete(users::remove_identifier))
        .route(paths::USER_IDENTIFIER_PRIMARY, post(users::make_primary))
        .route(paths::USER_CREDENTIALS, get(users::credentials))
        .route(
            paths::USER_PASSWORD,
            axum::routing::put(users::set_password),
        )
        .route(
            paths::PROFILE_MINE,
            get(profiles::mine).patch(profiles::update_mine),
        )
        .route(paths::PROFILE, get(profiles::get))
        .route(paths::ROLES, get(roles::list).post(roles::create))
        .route(
            paths::ROLE,
            get(roles::get).patch(roles::update).delete(roles::delete),
        )
        .route(
            paths::WORKSPACES,
            get(workspaces::list).post(workspaces::create),
        )
        .route(
            paths::WORKSPACE,
            get(workspaces::get)
                .patch(workspaces::update)
                .delete(workspaces::delete),
        )
        .route(
            paths::WORKSPACE_MEMBERS,
            get(workspaces::members).post(workspaces::add_member),
        )
        .route(
            paths::WORKSPACE_MEMBER,
            patch(workspaces::update_member).delete(workspaces::remove_member),
        )
        .route(
            paths::WORKSPACE_INVITATIONS,
            get(workspaces::invitations).post(workspaces::invite),
        )
        .route(
            paths::WORKSPACE_INVITATION,
            delete(workspaces::revoke_invitation),
        )
        .route(
            paths::INVITATION_ACCEPT,
            get(workspaces::invitation_info).post(workspaces::accept),
        )
        .route(paths::AUTH_WORKSPACE, post(workspaces::switch))
        .route(paths::TENANTS, get(tenants::list).post(tenants::create))
        .route(
            paths::TENANT,
            get(tenants::get)
                .patch(tenants::update)
                .delete(tenants::delete),
        )
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
