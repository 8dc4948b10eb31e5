//! The part of a tenant's policy the token routes need. The origin owns tenants and publishes
//! this view to the hot store; the edge reads it from there.

use serde::{Deserialize, Serialize};
use usso_shared::rotation::RotationPolicy;
use usso_shared::token::Validation;

/// Default access-token lifetime (contract): one hour.
pub const DEFAULT_ACCESS_TTL: i64 = 3600;
/// Default refresh-token lifetime (contract): 30 days.
pub const DEFAULT_REFRESH_TTL: i64 = 2_592_000;
/// Default JWKS `Cache-Control: max-age`.
pub const DEFAULT_JWKS_MAX_AGE: i64 = 300;

/// A tenant's token policy as published for the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    /// Tenant id, e.g. `org_default`.
    pub tenant_id: String,
    /// Issuer URL (`iss`).
    pub issuer: String,
    /// Audience (`aud`); `None` issues tokens without one.
    #[serde(default)]
    pub audience: Option<String>,
    /// Host names (no port) that resolve to this tenant.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: i64,
    /// Refresh-token lifetime in seconds.
    pub refresh_ttl_secs: i64,
    /// Clock leeway for verification (≤ 60 s).
    pub leeway_secs: i64,
    /// Grace window, idle timeout and absolute lifetime of sessions.
    pub rotation: RotationPolicy,
    /// `max-age` of JWKS and discovery responses.
    pub jwks_max_age_secs: i64,
    /// Whether cookies carry `Secure`; `None` decides by the issuer's scheme.
    #[serde(default)]
    pub cookie_secure: Option<bool>,
    /// An inactive tenant answers `tenant_not_found` everywhere: no verify, no refresh, at the
    /// origin and at every edge once it reloads the policy (within its key-set TTL).
    #[serde(default = "active")]
    pub is_active: bool,
    /// Whether the tenant's OAuth provider takes dynamic client registrations (RFC 7591);
    /// set when the origin publishes the policy, so that discovery lists the endpoint only then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oauth_registration: bool,
    /// Whether the tenant's OAuth provider accepts client ID metadata documents (a URL as
    /// `client_id`); set when the origin publishes the policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oauth_metadata_documents: bool,
    /// Whether DPoP proofs must carry a server nonce (RFC 9449 §8–9), at the token endpoint
    /// and wherever a bound token is presented; set when the origin publishes the policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_nonce: bool,
}

fn active() -> bool {
    true
}

impl TenantConfig {
    /// A tenant with the contract's defaults.
    pub fn new(tenant_id: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            issuer: issuer.into(),
            audience: Some("usso".into()),
            domains: Vec::new(),
            access_ttl_secs: DEFAULT_ACCESS_TTL,
            refresh_ttl_secs: DEFAULT_REFRESH_TTL,
            leeway_secs: usso_shared::token::DEFAULT_LEEWAY_SECS,
            rotation: RotationPolicy::default(),
            jwks_max_age_secs: DEFAULT_JWKS_MAX_AGE,
            cookie_secure: None,
            is_active: true,
            oauth_registration: false,
            oauth_metadata_documents: false,
            dpop_nonce: false,
        }
    }

    /// The verification rules of this tenant.
    pub fn validation(&self) -> Validation {
        Validation::new(&*self.issuer, self.audience.clone(), &*self.tenant_id)
            .with_leeway(self.leeway_secs)
    }

    /// Whether cookies must be `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.cookie_secure
            .unwrap_or_else(|| self.issuer.starts_with("https://"))
    }
}

/// The host name of a `Host` header or `domain` parameter: port stripped, lower-cased.
/// `None` for empty or implausible values.
pub fn host_name(value: &str) -> Option<String> {
    let v = value.trim();
    let host = if let Some(rest) = v.strip_prefix('[') {
        // [::1]:8000
        rest.split(']').next()?
    } else {
        match v.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => v,
        }
    };
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    ok.then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("LocalHost:8000").as_deref(), Some("localhost"));
        assert_eq!(host_name("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:8000").as_deref(), Some("::1"));
        assert_eq!(host_name("evil/../x"), None);
        assert_eq!(host_name(""), None);
    }

    #[test]
    fn secure_cookie_follows_issuer_scheme() {
        assert!(TenantConfig::new("t", "https://sso.example.com").secure_cookies());
        assert!(!TenantConfig::new("t", "http://localhost:8000").secure_cookies());
    }
}
