//! Every request and response body of the HTTP API, declared once: the handlers parse these
//! and the OpenAPI description ([`super::openapi`]) is generated from the same types, so the
//! two cannot drift apart. Conversions into the domain's typed inputs live here too.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How `POST /auth/login` proves identity (`method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub enum LoginMethod {
    /// A password (the default).
    #[serde(
        rename = "password",
        alias = "email/password",
        alias = "phone/password",
        alias = "username/password"
    )]
    Password,
    /// A code sent by email.
    #[serde(rename = "email/otp")]
    EmailOtp,
    /// A code sent by SMS.
    #[serde(rename = "phone/otp")]
    PhoneOtp,
}

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
    /// `password` (default; also `email/password`, `phone/password`,
    /// `username/password`), `email/otp`, `phone/otp`.
    #[serde(default)]
    pub method: Option<LoginMethod>,
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
    #[schema(value_type = Option<String>)]
    pub channel_type: Option<crate::delivery::Channel>,
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
    /// The token from the link (required; a missing one is answered with a clear 422).
    #[serde(default)]
    pub token: Option<String>,
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

/// Answer of `POST /auth/request-magic-link` (the same whether or not an account exists).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MagicLinkAccepted {
    /// A message for people.
    pub detail: String,
    /// Seconds the link stays valid.
    pub expires_in: i64,
}

/// Answer of a password sign-in that needs a second step.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SecondStepRequired {
    /// The tenant requires a second factor.
    pub mfa_required: bool,
    /// The account's address must be proven first.
    pub verification_required: bool,
    /// `mfa` or `verify_identifier`.
    #[schema(value_type = String)]
    pub step: crate::authn::SecondStep,
    /// Complete with `POST /auth/mfa/verify`.
    pub mfa_challenge: String,
    /// Where the code went: `email` or `sms`.
    #[schema(value_type = String)]
    pub channel: crate::delivery::Channel,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

impl From<crate::authn::mfa::Challenge> for SecondStepRequired {
    fn from(c: crate::authn::mfa::Challenge) -> Self {
        use crate::authn::SecondStep;
        Self {
            mfa_required: c.step == SecondStep::Mfa,
            verification_required: c.step == SecondStep::VerifyIdentifier,
            step: c.step,
            mfa_challenge: c.challenge,
            channel: c.channel,
            expires_in: c.expires_in,
        }
    }
}

/// Query of `GET /sessions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionsQuery {
    /// Another user's sessions (needs `read:usso/sessions`).
    pub user_id: Option<String>,
    /// Skip this many.
    pub offset: Option<u64>,
    /// At most this many (1–200, default 50).
    pub limit: Option<u64>,
}
