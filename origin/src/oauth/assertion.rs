//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the client
//! signs a short JWT with a private key whose public half it registered.
//!
//! Invariants and the attacks they prevent:
//! - the assertion is checked against the registered keys only (Ed25519 with `verify_strict`, or
//!   P-256 `ES256`; the header's `alg` must be the key's), never a key it carries itself;
//! - `iss` and `sub` are the client, `aud` names this tenant's token endpoint or issuer (an
//!   assertion made for another server is refused), it expires within
//!   [`MAX_LIFETIME_SECS`] and has not expired, and its `jti` is accepted once per client until
//!   it expires (replay);
//! - every failure is `invalid_client`, with nothing said about which key or claim failed
//!   beyond the detail for the developer.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use usso_edge::store::HotStore;
use usso_shared::client_key::{ClientAlg, ClientKey};
use usso_shared::encoding::{b64url_decode, b64url_encode};
use usso_shared::{Error, ErrorCode, Result};

use crate::app::Ctx;

/// `client_assertion_type` of a JWT assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated.
const SKEW_SECS: i64 = 30;
/// Most keys one client registers.
pub const MAX_KEYS: usize = 10;

/// A client's public key (a JWK: OKP Ed25519, or EC P-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicJwk {
    /// `OKP` or `EC`.
    pub kty: String,
    /// `Ed25519` or `P-256`.
    pub crv: String,
    /// The key (Ed25519) or its x coordinate (P-256), base64url.
    pub x: String,
    /// The y coordinate (P-256), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Its id (optional; the assertion's `kid` picks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn failed(detail: &str) -> Error {
    Error::new(ErrorCode::InvalidClient, detail)
}

/// Checks registered keys: Ed25519 or P-256 public keys only, not weak, on the curve, no
/// private parts, at most [`MAX_KEYS`]; each is kept in its canonical form with its `kid`.
pub fn check_keys(keys: &[Value]) -> Result<Vec<PublicJwk>> {
    if keys.len() > MAX_KEYS {
        return Err(invalid(format!("jwks: at most {MAX_KEYS} keys")));
    }
    keys.iter()
        .map(|k| {
            let map = k
                .as_object()
                .ok_or_else(|| invalid("jwks: each key is a JWK object"))?;
            let key = ClientKey::from_jwk(map).map_err(|e| invalid(format!("jwks: {e}")))?;
            let kid = match map.get("kid") {
                None => None,
                Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= 128 => {
                    Some(kid.clone())
                }
                Some(_) => return Err(invalid("jwks: kid is a string of 1 to 128 characters")),
            };
            let mut jwk: PublicJwk = serde_json::from_value(key.to_jwk())
                .map_err(|_| invalid("jwks: unreadable key"))?;
            jwk.kid = kid;
            Ok(jwk)
        })
        .collect()
}

fn key_of(jwk: &PublicJwk) -> Option<ClientKey> {
    let value = serde_json::to_value(jwk).ok()?;
    ClientKey::from_jwk(value.as_object()?).ok()
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// Verifies `assertion` for the client `client_id` with its registered `keys`; `audiences`
/// are the values `aud` may name (the token endpoint's URL, the issuer).
pub async fn verify(
    ctx: &Ctx,
    tenant: &str,
    client_id: &str,
    keys: &[PublicJwk],
    assertion: &str,
    audiences: &[String],
) -> Result<()> {
    if assertion.len() > 4096 || !assertion.is_ascii() {
        return Err(failed("malformed client assertion"));
    }
    let mut parts = assertion.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(failed("the client assertion is not a compact JWS"));
    };
    let header: Value = b64url_decode(h64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| failed("malformed client assertion header"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(ClientAlg::parse)
        .ok_or_else(|| failed("client assertions are signed with EdDSA or ES256"))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let sig = b64url_decode(s64).ok_or_else(|| failed("malformed client assertion signature"))?;
    let signed = &assertion.as_bytes()[..h64.len() + 1 + p64.len()];
    let verified = keys
        .iter()
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .filter_map(key_of)
        .any(|key| key.verify(alg, signed, &sig));
    if !verified {
        return Err(failed(
            "the client assertion is not signed by a registered key",
        ));
    }
    let c: Claims = b64url_decode(p64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| failed("malformed client assertion claims (iss, sub, aud, exp, jti)"))?;
    if c.iss != client_id || c.sub != client_id {
        return Err(failed(
            "the client assertion's iss and sub must be the client id",
        ));
    }
    let aud_ok = match &c.aud {
        Value::String(a) => audiences.iter().any(|x| x == a),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(failed("the client assertion is for another audience"));
    }
    let now = ctx.now();
    if c.exp <= now - SKEW_SECS {
        return Err(failed("the client assertion has expired"));
    }
    if c.exp > now + MAX_LIFETIME_SECS + SKEW_SECS || c.iat.is_some_and(|i| i > now + SKEW_SECS) {
        return Err(failed(
            "the client assertion lives too long or comes from the future",
        ));
    }
    if c.jti.is_empty() || c.jti.len() > 256 {
        return Err(failed("the client assertion needs a jti"));
    }
    let key = format!(
        "usso:oauth-assertion:{tenant}:{}",
        b64url_encode(&<sha2::Sha256 as sha2::Digest>::digest(
            format!("{client_id}:{}", c.jti).as_bytes()
        ))
    );
    let (uses, _) = ctx
        .hot
        .hit(&key, (c.exp - now).max(1) + SKEW_SECS, now)
        .await?;
    if uses > 1 {
        return Err(failed("the client assertion was used already"));
    }
    Ok(())
}
