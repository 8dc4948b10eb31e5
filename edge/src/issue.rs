//! Issuing token pairs and the login/refresh response shape (shared by the edge's refresh route
//! and the origin's login), and the contract's cookies.

use serde::Serialize;
use serde_json::Value;
use usso_shared::claims::Grant;
use usso_shared::keys::KeyPair;
use usso_shared::rotation::SessionRecord;
use usso_shared::token::{self, TokenTimes};
use usso_shared::{random, Result};

use crate::http::Response;
use crate::tenant::TenantConfig;

/// Name of the access-token cookie.
pub const ACCESS_COOKIE: &str = "usso-access-token";
/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "usso-refresh-token";
/// Path the refresh cookie is restricted to.
pub const REFRESH_COOKIE_PATH: &str = "/api/sso/v1/auth";

/// An access and refresh token just signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Signs an access token for `grant` in a session.
pub fn sign_access(
    cfg: &TenantConfig,
    signer: &KeyPair,
    grant: &Grant,
    session_id: &str,
    now: i64,
) -> Result<String> {
    let claims = grant.access_claims(
        random::token_id()?,
        &cfg.issuer,
        grant.resource.as_deref().or(cfg.audience.as_deref()),
        session_id,
        &cfg.tenant_id,
    );
    let typ = if claims.is_oauth() {
        token::TYP_AT_JWT
    } else {
        "JWT"
    };
    token::sign_typed(
        signer,
        TokenTimes::starting_at(now, cfg.access_ttl_secs),
        &claims,
        typ,
    )
}

/// Signs an access token for a service (an agent): no session; it lives its lifetime.
pub fn sign_service_access(
    cfg: &TenantConfig,
    signer: &KeyPair,
    grant: &Grant,
    now: i64,
) -> Result<String> {
    let claims = grant.service_access_claims(
        random::token_id()?,
        &cfg.issuer,
        grant.resource.as_deref().or(cfg.audience.as_deref()),
        &cfg.tenant_id,
    );
    let typ = if claims.is_oauth() {
        token::TYP_AT_JWT
    } else {
        "JWT"
    };
    token::sign_typed(
        signer,
        TokenTimes::starting_at(now, cfg.access_ttl_secs),
        &claims,
        typ,
    )
}

/// Signs a refresh token with a given `jti` (one generation of the session).
pub fn sign_refresh(
    cfg: &TenantConfig,
    signer: &KeyPair,
    grant: &Grant,
    session_id: &str,
    jti: &str,
    now: i64,
    session_expires_at: i64,
) -> Result<String> {
    let claims = grant.refresh_claims(
        jti.to_owned(),
        &cfg.issuer,
        cfg.audience.as_deref(),
        session_id,
        &cfg.tenant_id,
    );
    let mut times = TokenTimes::starting_at(now, cfg.refresh_ttl_secs);
    times.exp = times.exp.min(session_expires_at).max(now + 1);
    token::sign(signer, times, &claims)
}

/// Starts a session for `grant`: the record to store (generation 0) and the first token pair.
pub fn start_session(
    cfg: &TenantConfig,
    signer: &KeyPair,
    grant: Grant,
    now: i64,
) -> Result<(SessionRecord, TokenPair)> {
    let session_id = random::hex_id()?;
    let jti = random::token_id()?;
    let record = SessionRecord::new(
        session_id.clone(),
        cfg.tenant_id.clone(),
        grant.sub.clone(),
        &jti,
        now,
        &cfg.rotation,
    )
    .with_grant(grant);
    let refresh_token = sign_refresh(
        cfg,
        signer,
        &record.grant,
        &session_id,
        &jti,
        now,
        record.expires_at,
    )?;
    let access_token = sign_access(cfg, signer, &record.grant, &session_id, now)?;
    Ok((
        record,
        TokenPair {
            access_token,
            refresh_token,
            expires_in: cfg.access_ttl_secs,
        },
    ))
}

/// The public view of a user inside a grant (what the edge knows without a user database).
pub fn user_from_grant(grant: &Grant) -> Value {
    serde_json::json!({
        "id": grant.user_id,
        "sub": grant.sub,
        "email": grant.email,
        "phone": grant.phone,
        "username": grant.username,
        "user_name": grant.user_name,
        "workspace_id": grant.workspace_id,
        "roles": grant.roles,
        "scopes": grant.scopes,
    })
}

#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    user: &'a Value,
    token: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
}

/// The contract's login/refresh response: JSON body and both cookies.
pub fn token_response(cfg: &TenantConfig, pair: &TokenPair, user: &Value) -> Response {
    let body = TokenBody {
        access_token: &pair.access_token,
        refresh_token: &pair.refresh_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        user,
        token: Inner {
            access_token: &pair.access_token,
            refresh_token: &pair.refresh_token,
        },
    };
    Response::json(200, &body)
        .with_header("cache-control", "no-store")
        .with_header(
            "set-cookie",
            cookie(
                cfg,
                ACCESS_COOKIE,
                &pair.access_token,
                "/",
                cfg.access_ttl_secs,
                "Lax",
            ),
        )
        .with_header(
            "set-cookie",
            cookie(
                cfg,
                REFRESH_COOKIE,
                &pair.refresh_token,
                REFRESH_COOKIE_PATH,
                cfg.refresh_ttl_secs,
                "Strict",
            ),
        )
}

/// Adds the headers that delete both cookies.
pub fn clear_cookies(cfg: &TenantConfig, res: Response) -> Response {
    res.with_header("set-cookie", cookie(cfg, ACCESS_COOKIE, "", "/", 0, "Lax"))
        .with_header(
            "set-cookie",
            cookie(cfg, REFRESH_COOKIE, "", REFRESH_COOKIE_PATH, 0, "Strict"),
        )
}

/// A `Set-Cookie` value: HttpOnly, the tenant's `Secure` rule, the given path, age and
/// `SameSite`.
pub fn cookie(
    cfg: &TenantConfig,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    same_site: &str,
) -> String {
    let secure = if cfg.secure_cookies() { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
    )
}
