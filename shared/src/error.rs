//! The one error type of the crate, with stable machine-readable codes and HTTP statuses.
//!
//! Every error maps to the USSO error body
//! `{"error_code":"…","message":{"en":"…","fa":"…"},"detail":…}` through [`Error::body`].

use core::fmt;

use serde::Serialize;

/// Stable error codes. The snake_case string of each variant (see [`ErrorCode::as_str`]) is part
/// of the public API: clients match on it, so a code is never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed (bad JSON, wrong types, missing fields). 400.
    BadRequest,
    /// The input is well-formed but fails validation rules. 422.
    ValidationError,
    /// No tenant matches the request. 400.
    TenantNotFound,
    /// Identifier or secret is wrong. 401.
    InvalidCredentials,
    /// The token is malformed, has a bad signature, an unknown key or wrong claims. 401.
    InvalidToken,
    /// The token's `exp` has passed (beyond the leeway). 401.
    TokenExpired,
    /// The token's `nbf` or `iat` lies in the future (beyond the leeway). 401.
    TokenNotYetValid,
    /// A refresh token was presented that had already been rotated: the session is revoked. 401.
    RefreshTokenReused,
    /// The session was revoked (logout, reuse detection, admin action). 401.
    SessionRevoked,
    /// The session reached its absolute lifetime or idle timeout. 401.
    SessionExpired,
    /// No credentials were presented. 401.
    Unauthorized,
    /// Authenticated but not allowed. 403.
    PermissionDenied,
    /// The tenant requires two independent factors and fewer were proven (e.g. only a mailbox
    /// code): sign in with the password first. 403.
    MfaRequired,
    /// The resource does not exist. 404.
    NotFound,
    /// The route exists but not for this method. 405.
    MethodNotAllowed,
    /// The resource exists already or was changed concurrently. 409.
    Conflict,
    /// An `If-Match` precondition failed: the object changed since it was read. 412.
    PreconditionFailed,
    /// The body is larger than allowed. 413.
    PayloadTooLarge,
    /// The request target is longer than the server reads. 414.
    UriTooLong,
    /// The request head (headers) is larger than allowed. 431.
    HeadersTooLarge,
    /// Rate limited or saturated; the answer carries `Retry-After`. 429.
    TooManyRequests,
    /// A backing service (hot store, document store, network) failed or is unreachable. 503.
    ServiceUnavailable,
    /// Configuration or key material is unusable. 500.
    ConfigurationError,
    /// A bug or an unexpected state. 500.
    InternalError,
    /// Client authentication failed (unknown client, wrong secret or assertion, or no authentication where the client must authenticate). OAuth. 401.
    InvalidClient,
    /// The authorization code or refresh token is invalid, expired, used, or another client's; or the PKCE verifier does not match. OAuth. 400.
    InvalidGrant,
    /// The client is not allowed this grant or response type. OAuth. 400.
    UnauthorizedClient,
    /// The grant type is not supported (the password grant and implicit flow are refused: OAuth 2.1). OAuth. 400.
    UnsupportedGrantType,
    /// The response type is not supported (only `code`). OAuth. 400.
    UnsupportedResponseType,
    /// A requested scope is unknown, malformed or beyond the client's. OAuth. 400.
    InvalidScope,
    /// The person declined, or may not use this client. OAuth. 403.
    AccessDenied,
    /// `prompt=none` and nobody is signed in (OpenID Connect). 400.
    LoginRequired,
    /// `prompt=none` and the person has not consented (OpenID Connect). 400.
    ConsentRequired,
    /// An RFC 8707 `resource` is not an absolute URI or not allowed for the client. OAuth. 400.
    InvalidTarget,
    /// The device flow's person has not answered yet (RFC 8628 §3.5). 400.
    AuthorizationPending,
    /// The device polls faster than its interval (RFC 8628 §3.5). 400.
    SlowDown,
    /// The device code expired (RFC 8628 §3.5). 400.
    ExpiredToken,
    /// A DPoP proof is malformed, for another request or token, too old, replayed, or made with another key than the token's (RFC 9449). 400.
    InvalidDpopProof,
    /// The tenant requires a server nonce in DPoP proofs and this one had none or a stale one;
    /// the answer carries a fresh one in `DPoP-Nonce` (RFC 9449 §8, §9). 401 (400 at the token
    /// endpoint).
    UseDpopNonce,
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 39] = [
        Self::BadRequest,
        Self::ValidationError,
        Self::TenantNotFound,
        Self::InvalidCredentials,
        Self::InvalidToken,
        Self::TokenExpired,
        Self::TokenNotYetValid,
        Self::RefreshTokenReused,
        Self::SessionRevoked,
        Self::SessionExpired,
        Self::Unauthorized,
        Self::PermissionDenied,
        Self::MfaRequired,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::PreconditionFailed,
        Self::PayloadTooLarge,
        Self::UriTooLong,
        Self::HeadersTooLarge,
        Self::TooManyRequests,
        Self::ServiceUnavailable,
        Self::ConfigurationError,
        Self::InternalError,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::UnsupportedResponseType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::InvalidTarget,
        Self::AuthorizationPending,
        Self::SlowDown,
        Self::ExpiredToken,
        Self::InvalidDpopProof,
        Self::UseDpopNonce,
    ];

    /// The stable snake_case code sent as `error_code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::ValidationError => "validation_error",
            Self::TenantNotFound => "tenant_not_found",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::SessionRevoked => "session_revoked",
            Self::SessionExpired => "session_expired",
            Self::Unauthorized => "unauthorized",
            Self::PermissionDenied => "permission_denied",
            Self::MfaRequired => "mfa_required",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::TooManyRequests => "too_many_requests",
            Self::ServiceUnavailable => "service_unavailable",
            Self::ConfigurationError => "configuration_error",
            Self::InternalError => "internal_error",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidTarget => "invalid_target",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status this code is answered with.
    pub const fn status(self) -> u16 {
        match self {
            Self::BadRequest
            | Self::TenantNotFound
            | Self::InvalidGrant
            | Self::UnauthorizedClient
            | Self::UnsupportedGrantType
            | Self::UnsupportedResponseType
            | Self::InvalidScope
            | Self::LoginRequired
            | Self::ConsentRequired
            | Self::InvalidTarget
            | Self::AuthorizationPending
            | Self::SlowDown
            | Self::ExpiredToken
            | Self::InvalidDpopProof => 400,
            Self::InvalidCredentials
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::TokenNotYetValid
            | Self::RefreshTokenReused
            | Self::SessionRevoked
            | Self::SessionExpired
            | Self::Unauthorized
            | Self::InvalidClient
            | Self::UseDpopNonce => 401,
            Self::PermissionDenied | Self::MfaRequired | Self::AccessDenied => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge => 413,
            Self::UriTooLong => 414,
            Self::HeadersTooLarge => 431,
            Self::ValidationError => 422,
            Self::TooManyRequests => 429,
            Self::ConfigurationError | Self::InternalError => 500,
            Self::ServiceUnavailable => 503,
        }
    }

    /// A short English sentence for the `message.en` field.
    pub const fn default_message(self) -> &'static str {
        match self {
            Self::BadRequest => "The request is malformed.",
            Self::ValidationError => "The request failed validation.",
            Self::TenantNotFound => "No tenant matches this request.",
            Self::InvalidCredentials => "The identifier or secret is incorrect.",
            Self::InvalidToken => "The token is invalid.",
            Self::TokenExpired => "The token has expired.",
            Self::TokenNotYetValid => "The token is not valid yet.",
            Self::RefreshTokenReused => {
                "This refresh token was already used; the session has been revoked."
            }
            Self::SessionRevoked => "The session has been revoked.",
            Self::SessionExpired => "The session has expired.",
            Self::Unauthorized => "Authentication is required.",
            Self::PermissionDenied => "You are not allowed to do this.",
            Self::MfaRequired => "A second, independent factor is required to sign in.",
            Self::NotFound => "Not found.",
            Self::MethodNotAllowed => "This method is not allowed on this route.",
            Self::Conflict => "The resource already exists or was changed concurrently.",
            Self::PreconditionFailed => "The resource changed since you read it; read it again.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::UriTooLong => "The request target is too long.",
            Self::HeadersTooLarge => "The request headers are too large.",
            Self::TooManyRequests => "Too many requests; try again later.",
            Self::ServiceUnavailable => "A backing service is unavailable; try again later.",
            Self::ConfigurationError => "The service is misconfigured.",
            Self::InternalError => "An internal error occurred.",
            Self::InvalidClient => "Client authentication failed.",
            Self::InvalidGrant => "The authorization grant or refresh token is invalid, expired, revoked or was issued to another client.",
            Self::UnauthorizedClient => "This client may not use this grant type.",
            Self::UnsupportedGrantType => "This grant type is not supported.",
            Self::UnsupportedResponseType => "This response type is not supported.",
            Self::InvalidScope => "The requested scope is invalid or exceeds what the client may ask for.",
            Self::AccessDenied => "The resource owner denied the request.",
            Self::LoginRequired => "Signing in is required.",
            Self::ConsentRequired => "Consent is required.",
            Self::InvalidTarget => "The requested resource is invalid or not allowed.",
            Self::AuthorizationPending => "The person has not yet approved this device.",
            Self::SlowDown => "Polling too fast; wait longer between requests.",
            Self::ExpiredToken => "The device code has expired; start again.",
            Self::InvalidDpopProof => "The DPoP proof is invalid.",
            Self::UseDpopNonce => "Make the DPoP proof again with the server's nonce.",
        }
    }
}

impl ErrorCode {
    /// The same sentence in Persian, for the `message.fa` field (the official SDKs show it to
    /// Persian-speaking users; the hosted pages use it too).
    pub const fn message_fa(self) -> &'static str {
        match self {
            Self::BadRequest => "درخواست نادرست است.",
            Self::ValidationError => "اطلاعات واردشده معتبر نیست.",
            Self::TenantNotFound => "هیچ سازمانی با این درخواست مطابقت ندارد.",
            Self::InvalidCredentials => "شناسه یا رمز نادرست است.",
            Self::InvalidToken => "توکن نامعتبر است.",
            Self::TokenExpired => "توکن منقضی شده است.",
            Self::TokenNotYetValid => "توکن هنوز معتبر نشده است.",
            Self::RefreshTokenReused => "این توکن تازه‌سازی قبلاً استفاده شده است؛ نشست لغو شد.",
            Self::SessionRevoked => "نشست لغو شده است.",
            Self::SessionExpired => "نشست منقضی شده است.",
            Self::Unauthorized => "احراز هویت لازم است.",
            Self::PermissionDenied => "اجازهٔ این کار را ندارید.",
            Self::MfaRequired => "برای ورود، عامل دوم مستقلی لازم است.",
            Self::NotFound => "پیدا نشد.",
            Self::MethodNotAllowed => "این روش در این مسیر مجاز نیست.",
            Self::Conflict => "این مورد از قبل وجود دارد یا هم‌زمان تغییر کرده است.",
            Self::PreconditionFailed => "این مورد پس از خواندن شما تغییر کرده است؛ دوباره بخوانید.",
            Self::PayloadTooLarge => "بدنهٔ درخواست بیش از حد بزرگ است.",
            Self::UriTooLong => "نشانی درخواست بیش از حد طولانی است.",
            Self::HeadersTooLarge => "سرآیندهای درخواست بیش از حد بزرگ است.",
            Self::TooManyRequests => "درخواست‌ها بیش از حد است؛ بعداً دوباره تلاش کنید.",
            Self::ServiceUnavailable => "سرویس پشتیبان در دسترس نیست؛ بعداً دوباره تلاش کنید.",
            Self::ConfigurationError => "پیکربندی سرویس نادرست است.",
            Self::InternalError => "خطای داخلی رخ داد.",
            Self::InvalidClient => "احراز هویت برنامهٔ کلاینت ناموفق بود.",
            Self::InvalidGrant => {
                "مجوز یا توکن تازه‌سازی نامعتبر، منقضی، لغوشده یا متعلق به برنامهٔ دیگری است."
            }
            Self::UnauthorizedClient => "این برنامه اجازهٔ استفاده از این نوع مجوز را ندارد.",
            Self::UnsupportedGrantType => "این نوع مجوز پشتیبانی نمی‌شود.",
            Self::UnsupportedResponseType => "این نوع پاسخ پشتیبانی نمی‌شود.",
            Self::InvalidScope => "دامنهٔ درخواستی نامعتبر است یا بیش از حد مجاز برنامه است.",
            Self::AccessDenied => "کاربر درخواست را رد کرد.",
            Self::LoginRequired => "ورود به حساب لازم است.",
            Self::ConsentRequired => "رضایت کاربر لازم است.",
            Self::InvalidTarget => "منبع درخواستی نامعتبر یا غیرمجاز است.",
            Self::AuthorizationPending => "کاربر هنوز این دستگاه را تأیید نکرده است.",
            Self::SlowDown => "درخواست‌ها خیلی سریع است؛ بین آن‌ها بیشتر صبر کنید.",
            Self::ExpiredToken => "کد دستگاه منقضی شده است؛ دوباره شروع کنید.",
            Self::InvalidDpopProof => "اثبات DPoP نامعتبر است.",
            Self::UseDpopNonce => "اثبات DPoP را با nonce سرور دوباره بسازید.",
        }
    }
}

impl ErrorCode {
    /// The RFC 6749 `error` this code is answered with on OAuth endpoints (§5.2, §4.1.2.1):
    /// the OAuth codes are their own; a grant that fails for any reason of the token layer
    /// (bad, expired, reused, revoked) is `invalid_grant`; malformed input is
    /// `invalid_request`; a failure of ours is `server_error` or `temporarily_unavailable`.
    pub const fn oauth_error(self) -> &'static str {
        match self {
            Self::BadRequest
            | Self::ValidationError
            | Self::TenantNotFound
            | Self::NotFound
            | Self::MethodNotAllowed
            | Self::Conflict
            | Self::PreconditionFailed
            | Self::PayloadTooLarge
            | Self::UriTooLong
            | Self::HeadersTooLarge => "invalid_request",
            Self::InvalidCredentials
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::TokenNotYetValid
            | Self::RefreshTokenReused
            | Self::SessionRevoked
            | Self::SessionExpired
            | Self::MfaRequired => "invalid_grant",
            Self::Unauthorized => "invalid_client",
            Self::PermissionDenied => "access_denied",
            Self::TooManyRequests | Self::ServiceUnavailable => "temporarily_unavailable",
            Self::ConfigurationError | Self::InternalError => "server_error",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The crate's error: a stable [`ErrorCode`] plus a human-readable detail for logs and the
/// `detail` field. The detail never contains secrets or token material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    detail: String,
    retry_after: Option<u64>,
    dpop_nonce: Option<String>,
    captcha_passes: bool,
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// An error with a code and a detail sentence.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            retry_after: None,
            dpop_nonce: None,
            captcha_passes: false,
        }
    }

    /// `use_dpop_nonce`, carrying the fresh nonce for the `DPoP-Nonce` header.
    pub fn use_dpop_nonce(nonce: String) -> Self {
        Self {
            dpop_nonce: Some(nonce),
            ..Self::new(
                ErrorCode::UseDpopNonce,
                "this server requires a nonce in DPoP proofs: use the one in DPoP-Nonce",
            )
        }
    }

    /// A rate-limit error carrying the number of seconds for `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            code: ErrorCode::TooManyRequests,
            detail: format!("retry after {retry_after_secs} s"),
            retry_after: Some(retry_after_secs.max(1)),
            dpop_nonce: None,
            captcha_passes: false,
        }
    }

    /// `too_many_requests` with `Retry-After` and a detail saying what else would get through.
    pub fn too_many_requests_because(retry_after_secs: u64, detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            ..Self::too_many_requests(retry_after_secs)
        }
    }

    /// This refusal, marked as one the same request with a solved captcha would pass (a soft
    /// limit): callers that can offer the captcha (the hosted pages) then do.
    pub fn passable_by_captcha(self) -> Self {
        Self {
            captcha_passes: true,
            ..self
        }
    }

    /// `invalid_token` with a detail.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, detail)
    }

    /// `bad_request` with a detail.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }

    /// `internal_error` with a detail.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, detail)
    }

    /// `configuration_error` with a detail (a bad setting; start-up stops with it).
    pub fn configuration(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::ConfigurationError, detail)
    }

    /// `service_unavailable` with a detail.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, detail)
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The detail sentence.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Seconds for a `Retry-After` header, if any.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// Whether the same request with a solved captcha would pass ([`Self::passable_by_captcha`]).
    pub fn captcha_passes(&self) -> bool {
        self.captcha_passes
    }

    /// The nonce for a `DPoP-Nonce` header, if any.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// The USSO JSON error body.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error_code: self.code.as_str(),
            message: Message {
                en: self.code.default_message(),
                fa: self.code.message_fa(),
            },
            detail: &self.detail,
        }
    }

    /// The USSO JSON error body, serialised.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail.
        serde_json::to_string(&self.body()).unwrap_or_else(|_| String::from("{}"))
    }
}

impl Error {
    /// The RFC 6749 §5.2 error body `{"error","error_description"}` (OAuth endpoints).
    pub fn oauth_body(&self) -> OAuthErrorBody<'_> {
        OAuthErrorBody {
            error: self.code.oauth_error(),
            error_description: &self.detail,
        }
    }
}

/// The RFC 6749 §5.2 error body.
#[derive(Debug, Serialize)]
pub struct OAuthErrorBody<'a> {
    /// The RFC's error code.
    pub error: &'static str,
    /// Detail for the developer (never secrets).
    pub error_description: &'a str,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Error {}

/// The USSO error body `{"error_code","message":{"en","fa"},"detail"}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Stable snake_case code.
    pub error_code: &'static str,
    /// Localised message (English and Persian).
    pub message: Message,
    /// Detail for humans and logs.
    pub detail: &'a str,
}

/// Localised message of an [`ErrorBody`].
#[derive(Debug, Serialize)]
pub struct Message {
    /// English text.
    pub en: &'static str,
    /// Persian text.
    pub fa: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_have_statuses() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn every_code_has_its_own_persian_message() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let fa = code.message_fa();
            assert!(seen.insert(fa), "two codes share the Persian message {fa}");
            assert!(
                fa.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
                "{code}: {fa} is not Persian"
            );
        }
    }

    #[test]
    fn a_captcha_mark_changes_nothing_else() {
        let plain = Error::too_many_requests_because(30, "too many attempts for this account");
        assert!(!plain.captcha_passes());
        let soft = plain.clone().passable_by_captcha();
        assert!(soft.captcha_passes());
        assert_eq!(soft.code(), plain.code());
        assert_eq!(soft.detail(), plain.detail());
        assert_eq!(soft.retry_after(), Some(30));
        assert!(!Error::too_many_requests(30).captcha_passes());
    }

    #[test]
    fn contract_statuses() {
        assert_eq!(ErrorCode::BadRequest.status(), 400);
        assert_eq!(ErrorCode::TenantNotFound.status(), 400);
        assert_eq!(ErrorCode::InvalidToken.status(), 401);
        assert_eq!(ErrorCode::TokenExpired.status(), 401);
        assert_eq!(ErrorCode::RefreshTokenReused.status(), 401);
        assert_eq!(ErrorCode::PermissionDenied.status(), 403);
        assert_eq!(ErrorCode::NotFound.status(), 404);
        assert_eq!(ErrorCode::Conflict.status(), 409);
        assert_eq!(ErrorCode::ValidationError.status(), 422);
        assert_eq!(ErrorCode::TooManyRequests.status(), 429);
    }

    #[test]
    fn body_shape() {
        let e = Error::new(ErrorCode::TokenExpired, "exp passed");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error_code"], "token_expired");
        assert_eq!(v["message"]["en"], "The token has expired.");
        assert_eq!(v["message"]["fa"], "توکن منقضی شده است.");
        assert_eq!(v["detail"], "exp passed");
    }

    #[test]
    fn oauth_errors_are_the_rfc_names() {
        let rfc = [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "unsupported_response_type",
            "invalid_scope",
            "access_denied",
            "server_error",
            "temporarily_unavailable",
            "login_required",
            "consent_required",
            "invalid_target",
            "authorization_pending",
            "slow_down",
            "expired_token",
            "invalid_dpop_proof",
            "use_dpop_nonce",
        ];
        for code in ErrorCode::ALL {
            assert!(
                rfc.contains(&code.oauth_error()),
                "{code}: {}",
                code.oauth_error()
            );
        }
        let e = Error::new(ErrorCode::RefreshTokenReused, "used twice");
        let v = serde_json::to_value(e.oauth_body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "invalid_grant", "error_description": "used twice"})
        );
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.status(), 400);
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(Error::too_many_requests(0).retry_after(), Some(1));
        assert_eq!(Error::too_many_requests(42).retry_after(), Some(42));
        assert_eq!(Error::too_many_requests(42).status(), 429);
    }
}
