//! Authorization codes (RFC 6749 §4.1.2, RFC 7636, OAuth 2.1 §4.1.3).
//!
//! Invariants and the attacks they prevent:
//! - a code is 256 random bits; only its SHA-256 names it in the hot store, so a leaked store
//!   holds no redeemable code;
//! - it lives [`CODE_TTL_SECS`] (60 s) and is taken atomically once: of two simultaneous
//!   redemptions exactly one wins;
//! - it is bound to its client, its redirect URI and its PKCE challenge (S256 only): a code
//!   stolen from a redirect is useless without the verifier the client kept;
//! - a code presented again after its redemption revokes the session it started (RFC 6749
//!   §4.1.2: the replay is a sign that it leaked), so a thief who wins the race loses the prize.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use usso_shared::encoding::{b64url_encode, hex_encode};
use usso_shared::{Error, ErrorCode, Result};

use crate::store::hot::OriginHot;

/// How long a code lives.
pub const CODE_TTL_SECS: i64 = 60;
/// How long a redeemed code's replay is recognised (and its session revoked).
const REDEEMED_TTL_SECS: i64 = 600;

/// What a code stands for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request (the token request must repeat it).
    pub redirect_uri: String,
    /// The PKCE S256 challenge, if the request carried one.
    pub code_challenge: Option<String>,
    /// The person.
    pub user_id: String,
    /// The OAuth scopes granted.
    pub scope: Vec<String>,
    /// The request's `nonce`.
    pub nonce: Option<String>,
    /// When the person signed in (unix seconds).
    pub auth_time: i64,
    /// How they signed in.
    pub amr: Vec<String>,
    /// The assurance level.
    pub acr: Option<String>,
    /// Expiry.
    pub expires_at: i64,
    /// The resource server (RFC 8707) of the request, if not the tenant's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

fn key(tenant: &str, code: &str) -> String {
    format!(
        "usso:oauth-code:{tenant}:{}",
        hex_encode(&Sha256::digest(code.as_bytes()))
    )
}

fn redeemed_key(tenant: &str, code: &str) -> String {
    format!("{}:redeemed", key(tenant, code))
}

fn plausible(code: &str) -> bool {
    code.len() == 43
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores a new code for `grant`; the code.
pub async fn issue<H: OriginHot>(
    hot: &H,
    tenant: &str,
    grant: &CodeGrant,
    now: i64,
) -> Result<String> {
    let code = b64url_encode(&usso_shared::random::bytes::<32>()?);
    let text = serde_json::to_string(grant).map_err(|e| Error::internal(e.to_string()))?;
    hot.put_expiring(&key(tenant, &code), &text, CODE_TTL_SECS, now)
        .await?;
    Ok(code)
}

/// What presenting a code found.
#[derive(Debug)]
pub enum Taken {
    /// The code, now consumed.
    Fresh(Box<CodeGrant>),
    /// A code that was redeemed already: the session it started (to revoke).
    Replayed(Option<String>),
    /// Unknown or expired.
    Unknown,
}

/// Takes the code (the first caller gets it; every later one learns it was replayed).
pub async fn take<H: OriginHot>(hot: &H, tenant: &str, code: &str, now: i64) -> Result<Taken> {
    if !plausible(code) {
        return Ok(Taken::Unknown);
    }
    let k = key(tenant, code);
    let (uses, _) = hot
        .hit(&format!("{k}:uses"), REDEEMED_TTL_SECS, now)
        .await?;
    if uses > 1 {
        let session = hot.get_live(&redeemed_key(tenant, code), now).await?;
        return Ok(Taken::Replayed(session.filter(|s| !s.is_empty())));
    }
    let Some(text) = hot.get_live(&k, now).await? else {
        return Ok(Taken::Unknown);
    };
    hot.remove(&k).await?;
    let grant: CodeGrant =
        serde_json::from_str(&text).map_err(|e| Error::internal(format!("corrupt code: {e}")))?;
    if grant.expires_at <= now {
        return Ok(Taken::Unknown);
    }
    Ok(Taken::Fresh(Box::new(grant)))
}

/// Remembers the session a redeemed code started, so that a replay can end it.
pub async fn remember_session<H: OriginHot>(
    hot: &H,
    tenant: &str,
    code: &str,
    session_id: &str,
    now: i64,
) -> Result<()> {
    hot.put_expiring(
        &redeemed_key(tenant, code),
        session_id,
        REDEEMED_TTL_SECS,
        now,
    )
    .await
}

/// Whether `verifier` answers the S256 `challenge` (RFC 7636 §4.6); the verifier's form is
/// checked too (43–128 unreserved characters).
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = b64url_encode(&Sha256::digest(verifier.as_bytes()));
    use subtle::ConstantTimeEq;
    computed.len() == challenge.len() && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// Whether `challenge` is an S256 challenge (43 base64url characters).
pub fn valid_challenge(challenge: &str) -> bool {
    plausible(challenge)
}

/// `invalid_grant` with a detail.
pub fn invalid_grant(detail: &str) -> Error {
    Error::new(ErrorCode::InvalidGrant, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"
        ));
        assert!(!pkce_matches(challenge, "short"));
        assert!(valid_challenge(challenge));
        assert!(!valid_challenge("plain-verifier"));
    }
}
