//! The OpenAPI 3.1 description of every endpoint, generated from the handlers' annotations
//! (`#[utoipa::path]` in [`crate::http::serve`]) and the request types, served at
//! `/api/sso/v1/openapi.json` with a small self-contained docs page at `/api/sso/v1/docs`.

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::app::legacy::AppRef;

/// Body of `POST /auth/login` and `POST /auth/register`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct LoginRequest {
    /// Email, phone (E.164) or username.
    pub identifier: String,
    /// The password (or, with an OTP method, the code).
    pub secret: String,
    /// Register an unknown identifier (login only).
    #[serde(default)]
    pub register: bool,
    /// `password` (default), `email/otp`, `phone/otp`.
    #[serde(default)]
    pub method: Option<String>,
    /// Identifier type hint: `email`, `phone`, `username`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Display name (registration).
    #[serde(default)]
    pub name: Option<String>,
}

/// Body of `POST /auth/request-otp`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OtpRequest {
    /// Email or phone (E.164).
    pub identifier: String,
    /// Identifier type hint: `email`, `phone`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `email` or `sms` (inferred from the identifier when absent).
    #[serde(default)]
    pub channel_type: Option<String>,
}

/// Answer of `POST /auth/request-otp` (the same whether or not an account exists).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OtpAccepted {
    /// A message for people.
    pub detail: String,
    /// `email` or `sms`.
    pub channel: String,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

/// Body of `POST /auth/request-magic-link`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MagicLinkRequest {
    /// Email address.
    pub identifier: String,
    /// Where to send the browser after signing in (must be allowed by the tenant).
    #[serde(default)]
    pub redirect_to: Option<String>,
}

/// Body of `POST /auth/magic-link` (or the form field `token`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MagicLinkConfirm {
    /// The token from the link.
    pub token: String,
}

/// Body of `POST /auth/mfa/verify`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MfaVerify {
    /// The challenge from the login answer.
    pub mfa_challenge: String,
    /// The one-time code.
    pub code: String,
}

/// Body of `POST /auth/verify-token`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct VerifyRequest {
    /// The access token (or use `Authorization: Bearer`).
    pub token: Option<String>,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout` (or use the refresh cookie).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: Option<String>,
}

/// The pair inside a token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPairDoc {
    /// Access token.
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: String,
}

/// Login / register / refresh response (cookies `usso-access-token`, `usso-refresh-token` too).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Access token (EdDSA JWT).
    pub access_token: String,
    /// Refresh token (EdDSA JWT, rotates on every use).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The user.
    #[schema(value_type = Object)]
    pub user: serde_json::Value,
    /// The same pair, for the async Python client.
    pub token: TokenPairDoc,
}

/// The error body of every failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// Stable snake_case code, e.g. `invalid_credentials`.
    pub error_code: String,
    /// Human-readable message by language (`en`).
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
    /// Detail.
    pub detail: String,
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "usso-edge origin", description = "USSO-compatible identity and token service."),
    paths(
        crate::http::serve::health,
        crate::http::serve::jwks,
        crate::http::serve::discovery,
        crate::http::serve::verify_token,
        crate::http::serve::refresh,
        crate::http::serve::logout,
        crate::http::serve::login,
        crate::http::serve::register,
        crate::http::serve::request_otp,
        crate::http::serve::request_magic_link,
        crate::http::serve::magic_link_page,
        crate::http::serve::magic_link_confirm,
        crate::http::serve::mfa_verify,
        crate::http::serve::captcha_challenge,
        crate::http::serve::me,
        crate::http::serve::me_alias,
        crate::http::serve::sessions,
        crate::http::serve::revoke_session,
    ),
    components(schemas(LoginRequest, OtpRequest, OtpAccepted, MagicLinkRequest, MagicLinkConfirm, MfaVerify, VerifyRequest, RefreshRequest, TokenResponse, TokenPairDoc, ErrorResponse)),
    tags((name = "auth"), (name = "tokens"), (name = "sessions"), (name = "system"))
)]
pub struct ApiDoc;

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn docs_page() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

/// Routes serving the OpenAPI document and its docs page.
pub fn routes() -> Router<AppRef> {
    Router::new()
        .route("/api/sso/v1/openapi.json", get(openapi_json))
        .route("/api/sso/v1/docs", get(docs_page))
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API docs</title>
<style>body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
h2{margin-top:2rem}code{background:#f3f3f3;padding:.1rem .3rem}.m{display:inline-block;width:4.5rem;font-weight:bold}
.op{border-top:1px solid #ddd;padding:.5rem 0}pre{background:#f7f7f7;padding:.5rem;overflow:auto}</style></head>
<body><h1>API</h1><p>Generated from <a href="openapi.json">openapi.json</a>.</p><div id="ops">Loading…</div>
<script>
fetch('openapi.json').then(r=>r.json()).then(doc=>{
  const el=document.getElementById('ops');el.textContent='';
  for(const [path,item] of Object.entries(doc.paths)){
    for(const [method,op] of Object.entries(item)){
      const d=document.createElement('div');d.className='op';
      const h=document.createElement('div');
      const m=document.createElement('span');m.className='m';m.textContent=method.toUpperCase();
      const c=document.createElement('code');c.textContent=path;
      h.append(m,c,document.createTextNode(' '+(op.summary||'')));d.append(h);
      if(op.description){const p=document.createElement('p');p.textContent=op.description;d.append(p);}
      const codes=Object.keys(op.responses||{}).join(', ');
      const p=document.createElement('p');p.textContent='Responses: '+codes;d.append(p);
      el.append(d);
    }
  }
});
</script></body></html>"#;
