//! API keys: their format, their hash, the record the origin publishes to the hot store, and
//! the check every runtime (the edge on Workers and Spin, the origin) applies to a presented
//! key.
//!
//! Invariants and the attacks they prevent:
//! - a key is `usso_sk_<id>_<secret>`: a 16-hex-digit public id (the lookup key, safe to log)
//!   and 256 random bits; only the SHA-256 of the whole key is stored or published, so a read
//!   of the stores hands out no usable key (a fast hash is enough for 256 random bits);
//! - the presented key's hash is compared in constant time, and an unknown id is compared
//!   against a fixed hash too, so an unknown id and a wrong secret take the same path;
//! - an expired or unpublished (revoked) key is refused; the record carries the tenant, so a
//!   key is never accepted in another tenant;
//! - a key is never a session: it carries no session id and nothing refreshes it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::encoding::{b64url_encode, hex_encode};
use crate::{Error, ErrorCode, Result};

/// What every key starts with.
pub const PREFIX: &str = "usso_sk_";
/// Length of the public id (hex digits).
pub const ID_LEN: usize = 16;
/// Length of the secret part (base64url of 32 bytes).
const SECRET_LEN: usize = 43;
/// Total length of a key.
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + 1 + SECRET_LEN;

/// A fresh key and its public id.
pub fn generate() -> Result<(String, String)> {
    let id = hex_encode(&crate::random::bytes::<8>()?);
    let secret = b64url_encode(&crate::random::bytes::<32>()?);
    Ok((format!("{PREFIX}{id}_{secret}"), id))
}

/// Whether `s` looks like an API key (the prefix): how a bearer value is told from a JWT.
pub fn looks_like(s: &str) -> bool {
    s.starts_with(PREFIX)
}

/// The public id of a well-formed key, or `None`.
pub fn id_of(key: &str) -> Option<&str> {
    if key.len() != KEY_LEN {
        return None;
    }
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_at(ID_LEN);
    let secret = secret.strip_prefix('_')?;
    let id_ok = id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let secret_ok = secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(id)
}

/// The stored form of a key: SHA-256, hex.
pub fn hash(key: &str) -> String {
    hex_encode(&Sha256::digest(key.as_bytes()))
}

/// Hot-store key of a published API key.
pub fn hot_key(tenant_id: &str, id: &str) -> String {
    format!("usso:apikey:{tenant_id}:{id}")
}

/// What the origin publishes for a live key, and all the edge needs to answer for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Published {
    /// The public id.
    pub id: String,
    /// SHA-256 hex of the whole key.
    pub hash: String,
    /// The tenant.
    pub tenant_id: String,
    /// `sub` of the owner (a user's or a service account's subject).
    pub sub: String,
    /// The owning user, for a user's key.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The owning service account, for an agent's key.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The workspace the key acts in.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Expiry (unix seconds), if any.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Its name.
    pub name: String,
}

/// The claims of a verified key, in the shape the official SDKs read (`UserData`): `sub`,
/// `tenant_id`, `workspace_id`, `scopes`, `exp`, plus `credential: "api_key"` and the key id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyClaims {
    /// The owner's subject.
    pub sub: String,
    /// The issuer of the tenant.
    pub iss: String,
    /// The tenant.
    pub tenant_id: String,
    /// The owning user, if a user's key.
    pub user_id: Option<String>,
    /// The owning service account, if an agent's key.
    pub agent_id: Option<String>,
    /// The workspace.
    pub workspace_id: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Roles (always empty: a key carries scopes).
    pub roles: Vec<String>,
    /// Expiry, if any.
    pub exp: Option<i64>,
    /// Always `api_key`.
    pub credential: String,
    /// The key's public id.
    pub api_key_id: String,
}

/// Why a key is refused, for audit and counting (the caller sees one error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not of the key format.
    Malformed,
    /// No live key with this id, or the secret does not match.
    Unknown,
    /// Past its expiry.
    Expired,
}

/// Failed checks allowed per client address, and per key id, in [`FAILURE_WINDOW_SECS`]; past
/// them the answer is `too_many_requests`. Only failures count and the right key is checked
/// before the counters, so guessing at a key id never locks its owner out.
pub const MAX_FAILURES: u64 = 20;
/// The window of [`MAX_FAILURES`], in seconds.
pub const FAILURE_WINDOW_SECS: i64 = 300;

/// The counters a failed check adds to: the client's address (when known) and the key id the
/// presented value names (when well formed).
pub fn failure_counters(tenant_id: &str, client_ip: Option<&str>, presented: &str) -> Vec<String> {
    let mut v = Vec::with_capacity(2);
    if let Some(ip) = client_ip {
        v.push(format!("usso:apikey-fail:{tenant_id}:ip:{ip}"));
    }
    if let Some(id) = id_of(presented) {
        v.push(format!("usso:apikey-fail:{tenant_id}:id:{id}"));
    }
    v
}

/// The one error every refused key gets.
pub fn refused() -> Error {
    Error::new(ErrorCode::InvalidCredentials, "invalid or expired API key")
}

/// Checks `presented` against the published record for its id (`None`: nothing published).
pub fn check(
    presented: &str,
    published: Option<&Published>,
    tenant_id: &str,
    now: i64,
) -> std::result::Result<Published, Refusal> {
    let id = id_of(presented).ok_or(Refusal::Malformed)?;
    let presented_hash = hash(presented);
    // A fixed stand-in when nothing is published: the same comparison either way.
    const NONE: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let stored = published.map_or(NONE, |p| p.hash.as_str());
    let same: bool = presented_hash.as_bytes().ct_eq(stored.as_bytes()).into();
    let p = match published {
        Some(p) if same && p.id == id && p.tenant_id == tenant_id => p,
        _ => return Err(Refusal::Unknown),
    };
    if p.expires_at.is_some_and(|e| e <= now) {
        return Err(Refusal::Expired);
    }
    Ok(p.clone())
}

impl Published {
    /// The claims the SDKs read, under `issuer`.
    pub fn claims(&self, issuer: &str) -> KeyClaims {
        KeyClaims {
            sub: self.sub.clone(),
            iss: issuer.to_owned(),
            tenant_id: self.tenant_id.clone(),
            user_id: self.user_id.clone(),
            agent_id: self.agent_id.clone(),
            workspace_id: self.workspace_id.clone(),
            scopes: self.scopes.clone(),
            roles: Vec::new(),
            exp: self.expires_at,
            credential: "api_key".into(),
            api_key_id: self.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(key: &str, id: &str) -> Published {
        Published {
            id: id.into(),
            hash: hash(key),
            tenant_id: "t".into(),
            sub: "u:1".into(),
            user_id: Some("1".into()),
            agent_id: None,
            workspace_id: None,
            scopes: vec!["read:x".into()],
            expires_at: Some(2_000),
            name: "ci".into(),
        }
    }

    #[test]
    fn keys_have_the_format_and_a_public_id() {
        let (key, id) = generate().unwrap();
        assert_eq!(key.len(), KEY_LEN);
        assert!(looks_like(&key));
        assert_eq!(id_of(&key), Some(id.as_str()));
        assert_ne!(generate().unwrap().0, key);
        for bad in [
            "",
            "usso_sk_",
            &key[..KEY_LEN - 1],
            &format!("{key}x"),
            &key.replace("usso_sk_", "usso_pk_"),
            &format!("{PREFIX}{}_{}", "G".repeat(ID_LEN), "a".repeat(SECRET_LEN)),
            &format!("{PREFIX}{}-{}", "a".repeat(ID_LEN), "a".repeat(SECRET_LEN)),
        ] {
            assert_eq!(id_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_live_published_key_of_the_tenant_passes() {
        let (key, id) = generate().unwrap();
        let p = published(&key, &id);
        assert_eq!(check(&key, Some(&p), "t", 1_000), Ok(p.clone()));
        assert_eq!(check(&key, Some(&p), "t2", 1_000), Err(Refusal::Unknown));
        assert_eq!(check(&key, None, "t", 1_000), Err(Refusal::Unknown));
        assert_eq!(check(&key, Some(&p), "t", 2_000), Err(Refusal::Expired));
        let (other, _) = generate().unwrap();
        let forged = format!("{PREFIX}{id}_{}", &other[PREFIX.len() + ID_LEN + 1..]);
        assert_eq!(check(&forged, Some(&p), "t", 1_000), Err(Refusal::Unknown));
        assert_eq!(
            check("usso_sk_x", Some(&p), "t", 1_000),
            Err(Refusal::Malformed)
        );
        let never = Published {
            expires_at: None,
            ..p
        };
        assert!(check(&key, Some(&never), "t", i64::MAX).is_ok());
    }
}
