//! Every HTTP route path of the product, declared once: the edge core's router, the origin's
//! router, links the origin writes (magic links) and the OpenAPI description all read these.
//! The API prefix is the USSO contract's `/api/sso/v1`.

/// Declares a path under the API prefix.
macro_rules! api {
    ($p:literal) => {
        concat!("/api/sso/v1", $p)
    };
}

/// The API prefix of the USSO contract.
pub const PREFIX: &str = "/api/sso/v1";

/// The tenant's JWKS.
pub const JWKS: &str = "/.well-known/jwks.json";
/// OpenID-style discovery.
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
/// Liveness and store health (origin).
pub const HEALTH: &str = "/health";

/// Verify an access token.
pub const VERIFY_TOKEN: &str = api!("/auth/verify-token");
/// The current user.
pub const AUTH_ME: &str = api!("/auth/me");
/// The current user (alias).
pub const ME: &str = api!("/me");
/// Rotate a refresh token.
pub const REFRESH: &str = api!("/auth/refresh");
/// End a session.
pub const LOGOUT: &str = api!("/auth/logout");

/// Password (or code) sign-in.
pub const LOGIN: &str = api!("/auth/login");
/// Registration.
pub const REGISTER: &str = api!("/auth/register");
/// Ask for a one-time code.
pub const REQUEST_OTP: &str = api!("/auth/request-otp");
/// Ask for a magic link.
pub const REQUEST_MAGIC_LINK: &str = api!("/auth/request-magic-link");
/// The magic link (GET: confirmation page; POST: consume it).
pub const MAGIC_LINK: &str = api!("/auth/magic-link");
/// Complete a second step.
pub const MFA_VERIFY: &str = api!("/auth/mfa/verify");
/// A captcha challenge.
pub const CAPTCHA_CHALLENGE: &str = api!("/captcha/challenge");
/// The caller's sessions.
pub const SESSIONS: &str = api!("/sessions");
/// One session (axum path syntax).
pub const SESSION: &str = api!("/sessions/{id}");
/// The OpenAPI description.
pub const OPENAPI: &str = api!("/openapi.json");
/// The API docs page.
pub const API_DOCS: &str = api!("/docs");

/// Every route path above that the OpenAPI description documents (all but the description
/// itself and its docs page); a test checks that both lists agree.
pub const DOCUMENTED: &[&str] = &[
    JWKS,
    DISCOVERY,
    HEALTH,
    VERIFY_TOKEN,
    AUTH_ME,
    ME,
    REFRESH,
    LOGOUT,
    LOGIN,
    REGISTER,
    REQUEST_OTP,
    REQUEST_MAGIC_LINK,
    MAGIC_LINK,
    MFA_VERIFY,
    CAPTCHA_CHALLENGE,
    SESSIONS,
    SESSION,
];
