//! Ed25519 signing keys, their `kid`, the per-tenant key ring, JWKS, and the key set the origin
//! publishes to the hot store for the edge.

use ed25519_dalek::{SigningKey, VerifyingKey, PUBLIC_KEY_LENGTH};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encoding::{b64url_decode, b64url_encode, hex_encode};
use crate::error::{Error, ErrorCode, Result};
use crate::seal::{self, SecretKey};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow it.
pub const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Longest `kid` accepted anywhere (ours are 64 hex digits).
pub const MAX_KID_LEN: usize = 128;

/// The key the edge holds (least privilege): derived from the master key for one purpose only,
/// opening the active signing key the origin publishes to the hot store. A leaked edge secret
/// opens nothing else the origin seals (keys at rest, tenant SMTP passwords, codes). The
/// `generation` lets it be rotated without changing the master key (see docs/edge.md).
pub fn edge_key(master: &SecretKey, generation: u32) -> SecretKey {
    master.derive(format!("usso edge key v{generation}").as_bytes())
}

/// Label under which the master key derives the key that seals private signing keys.
const SIGNING_KEY_SEAL_LABEL: &[u8] = b"usso/signing-key/v1";

/// The SubjectPublicKeyInfo DER of an Ed25519 public key.
pub fn spki_der(key: &VerifyingKey) -> [u8; 44] {
    let mut der = [0u8; 44];
    der[..12].copy_from_slice(&SPKI_ED25519_PREFIX);
    der[12..].copy_from_slice(key.as_bytes());
    der
}

/// The key id: lower-case hex SHA-256 of the SPKI DER.
pub fn kid_for(key: &VerifyingKey) -> String {
    hex_encode(&Sha256::digest(spki_der(key)))
}

/// An Ed25519 signing key with its `kid`.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
    kid: String,
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair").field("kid", &self.kid).finish()
    }
}

impl KeyPair {
    /// A fresh random key pair.
    pub fn generate() -> Result<Self> {
        let secret = zeroize::Zeroizing::new(crate::random::bytes::<32>()?);
        Ok(Self::from_secret(&secret))
    }

    /// The key pair for a 32-byte Ed25519 secret (seed).
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(secret);
        let kid = kid_for(&signing.verifying_key());
        Self { signing, kid }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The private key sealed under the master key, bound to its `kid`.
    pub fn seal(&self, master: &SecretKey) -> Result<String> {
        let key = master.derive(SIGNING_KEY_SEAL_LABEL);
        seal::seal_text(&key, self.kid.as_bytes(), self.signing.as_bytes())
    }

    /// Opens a sealed private key and checks that it belongs to `kid`.
    pub fn open(master: &SecretKey, kid: &str, sealed: &str) -> Result<Self> {
        let key = master.derive(SIGNING_KEY_SEAL_LABEL);
        let secret = seal::open_text(&key, kid.as_bytes(), sealed)?;
        let secret: &[u8; 32] = secret[..]
            .try_into()
            .map_err(|_| Error::new(ErrorCode::ConfigurationError, "sealed key has bad length"))?;
        let pair = Self::from_secret(secret);
        if pair.kid != kid {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                "sealed key does not match its kid",
            ));
        }
        Ok(pair)
    }
}

/// One JSON Web Key of type OKP / Ed25519, in the shape USSO's SDKs require.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP`.
    pub kty: String,
    /// Curve: `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// Algorithm: `EdDSA`.
    #[serde(default)]
    pub alg: Option<String>,
    /// Use: `sig`.
    #[serde(rename = "use", default)]
    pub use_: Option<String>,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
}

impl Jwk {
    /// The JWK of a public key, with every field the SDKs expect.
    pub fn from_key(key: &VerifyingKey) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64url_encode(key.as_bytes()),
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
            kid: Some(kid_for(key)),
        }
    }

    /// The public key of an OKP/Ed25519 signing JWK. Rejects other key types, curves,
    /// algorithms and uses, bad encodings and invalid points.
    pub fn to_key(&self) -> Result<VerifyingKey> {
        let bad = |why: &str| Error::new(ErrorCode::InvalidToken, format!("unusable JWK: {why}"));
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(bad("not an OKP Ed25519 key"));
        }
        if self.alg.as_deref().is_some_and(|a| a != "EdDSA") {
            return Err(bad("alg is not EdDSA"));
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(bad("use is not sig"));
        }
        let x = b64url_decode(&self.x).ok_or_else(|| bad("x is not base64url"))?;
        let x: [u8; PUBLIC_KEY_LENGTH] = x.try_into().map_err(|_| bad("x has bad length"))?;
        crate::ed25519::public_key(&x).map_err(|why| bad(why.describe()))
    }
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Where a key stands in its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Published ahead of use so caches know it before tokens carry it.
    Next,
    /// Signs new tokens.
    Active,
    /// Retired from signing; still verifies until `retire_at`.
    Previous,
}

/// One key of a [`KeyRing`].
#[derive(Debug, Clone)]
pub struct RingKey {
    kid: String,
    verifying: VerifyingKey,
    signing: Option<KeyPair>,
    status: KeyStatus,
    retire_at: Option<i64>,
}

impl RingKey {
    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }
    /// The private half, where this ring holds it.
    pub fn key_pair(&self) -> Option<&KeyPair> {
        self.signing.as_ref()
    }
    /// Rotation status.
    pub fn status(&self) -> KeyStatus {
        self.status
    }
    /// For a previous key: when it stops verifying.
    pub fn retire_at(&self) -> Option<i64> {
        self.retire_at
    }
}

/// The keys of one tenant: at most one active (signing) key, an optional next key, and previous
/// keys that still verify until they retire. Lookup by `kid` is a scan of a handful of keys.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ring with one active key.
    pub fn with_active(pair: KeyPair) -> Self {
        let mut ring = Self::new();
        ring.add(pair, KeyStatus::Active, None);
        ring
    }

    /// A verify-only ring from a JWKS (keys that are not OKP/Ed25519 or lack a `kid` are skipped).
    pub fn from_jwks(jwks: &Jwks) -> Self {
        let keys = jwks
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk
                    .kid
                    .as_ref()
                    .filter(|k| !k.is_empty() && k.len() <= MAX_KID_LEN)?;
                let verifying = jwk.to_key().ok()?;
                Some(RingKey {
                    kid: kid.clone(),
                    verifying,
                    signing: None,
                    status: KeyStatus::Previous,
                    retire_at: None,
                })
            })
            .collect();
        Self { keys }
    }

    /// Adds (or replaces, by `kid`) a key with a status. Adding an active key demotes no other
    /// key by itself: use [`KeyRing::rotate`] for that.
    pub fn add(&mut self, pair: KeyPair, status: KeyStatus, retire_at: Option<i64>) {
        self.keys.retain(|k| k.kid != pair.kid);
        self.keys.push(RingKey {
            kid: pair.kid.clone(),
            verifying: pair.verifying_key(),
            signing: Some(pair),
            status,
            retire_at,
        });
    }

    /// Adds a public-only key (for verification) with a status.
    pub fn add_public(&mut self, kid: String, key: VerifyingKey, status: KeyStatus) {
        self.keys.retain(|k| k.kid != kid);
        self.keys.push(RingKey {
            kid,
            verifying: key,
            signing: None,
            status,
            retire_at: None,
        });
    }

    /// Every key.
    pub fn keys(&self) -> &[RingKey] {
        &self.keys
    }

    /// The verifying key for `kid`, if the ring has it and it has not retired at `now`.
    #[inline]
    pub fn find(&self, kid: &str, now: i64) -> Option<&VerifyingKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .filter(|k| k.retire_at.is_none_or(|t| now < t))
            .map(|k| &k.verifying)
    }

    /// The active signing key.
    pub fn signer(&self) -> Result<&KeyPair> {
        self.keys
            .iter()
            .find(|k| k.status == KeyStatus::Active)
            .and_then(|k| k.signing.as_ref())
            .ok_or_else(|| Error::new(ErrorCode::ConfigurationError, "no active signing key"))
    }

    /// The `next` key, if one is staged.
    pub fn next(&self) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.status == KeyStatus::Next)
    }

    /// Rotates: the staged `next` key (or `fresh` when none is staged) becomes active, the active
    /// key becomes previous and verifies until `now + retain_secs`, and previous keys past their
    /// retirement are dropped. Returns the new active `kid`.
    pub fn rotate(&mut self, fresh: KeyPair, now: i64, retain_secs: i64) -> String {
        self.prune(now);
        for k in &mut self.keys {
            if k.status == KeyStatus::Active {
                k.status = KeyStatus::Previous;
                k.retire_at = Some(now.saturating_add(retain_secs));
            }
        }
        let staged = self
            .keys
            .iter_mut()
            .find(|k| k.status == KeyStatus::Next && k.signing.is_some());
        match staged {
            Some(k) => {
                k.status = KeyStatus::Active;
                k.kid.clone()
            }
            None => {
                let kid = fresh.kid.clone();
                self.add(fresh, KeyStatus::Active, None);
                kid
            }
        }
    }

    /// Drops previous keys whose retirement time has passed.
    pub fn prune(&mut self, now: i64) {
        self.keys.retain(|k| k.retire_at.is_none_or(|t| now < t));
    }

    /// The public JWKS: active key first, then next, then previous keys still verifying at `now`.
    pub fn jwks(&self, now: i64) -> Jwks {
        let rank = |s: KeyStatus| match s {
            KeyStatus::Active => 0,
            KeyStatus::Next => 1,
            KeyStatus::Previous => 2,
        };
        let mut keys: Vec<&RingKey> = self
            .keys
            .iter()
            .filter(|k| k.retire_at.is_none_or(|t| now < t))
            .collect();
        keys.sort_by_key(|k| rank(k.status));
        Jwks {
            keys: keys
                .into_iter()
                .map(|k| {
                    let mut jwk = Jwk::from_key(&k.verifying);
                    jwk.kid = Some(k.kid.clone());
                    jwk
                })
                .collect(),
        }
    }

    /// The key set to publish to the hot store for the edge.
    pub fn publish(
        &self,
        tenant_id: &str,
        master: &SecretKey,
        now: i64,
    ) -> Result<PublishedKeySet> {
        let active = self.signer()?;
        Ok(PublishedKeySet {
            tenant_id: tenant_id.to_owned(),
            published_at: now,
            jwks: self.jwks(now),
            active_kid: active.kid.clone(),
            active_private_sealed: active.seal(master)?,
            retire_at: self
                .keys
                .iter()
                .filter_map(|k| k.retire_at.map(|t| (k.kid.clone(), t)))
                .collect(),
            other_jwks: Vec::new(),
        })
    }

    /// The ring the edge builds from a published key set: every public key, plus the opened
    /// active private key.
    pub fn from_published(set: &PublishedKeySet, master: &SecretKey) -> Result<Self> {
        let mut ring = Self::from_jwks(&set.jwks);
        for k in &mut ring.keys {
            k.retire_at = set
                .retire_at
                .iter()
                .find(|(kid, _)| *kid == k.kid)
                .map(|(_, t)| *t);
        }
        let active = KeyPair::open(master, &set.active_kid, &set.active_private_sealed)?;
        ring.add(active, KeyStatus::Active, None);
        Ok(ring)
    }
}

/// What the origin publishes to the hot store for one tenant, so that the edge can verify every
/// current key and sign with the active one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKeySet {
    /// The tenant.
    pub tenant_id: String,
    /// When it was published (Unix seconds).
    pub published_at: i64,
    /// Public keys (active, next, previous).
    pub jwks: Jwks,
    /// The `kid` of the active key.
    pub active_kid: String,
    /// The active private key, sealed under the master key ([`KeyPair::seal`]).
    pub active_private_sealed: String,
    /// Retirement times of previous keys.
    #[serde(default)]
    pub retire_at: Vec<(String, i64)>,
    /// Other public keys the tenant publishes in its JWKS but never verifies access tokens
    /// with (the RS256 key of ID tokens for clients that ask for RS256).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_jwks: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_is_sha256_of_spki() {
        // RFC 8037 A.1 example key.
        let secret: [u8; 32] = crate::encoding::hex_decode(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        )
        .unwrap();
        let pair = KeyPair::from_secret(&secret);
        let x = b64url_encode(pair.verifying_key().as_bytes());
        assert_eq!(x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        let der = spki_der(&pair.verifying_key());
        assert_eq!(
            hex_encode(&der[..12]),
            "302a300506032b6570032100",
            "RFC 8410 SPKI prefix"
        );
        assert_eq!(pair.kid(), hex_encode(&Sha256::digest(der)));
        assert_eq!(pair.kid().len(), 64);
    }

    #[test]
    fn jwk_round_trip_has_every_field() {
        let pair = KeyPair::generate().unwrap();
        let jwk = Jwk::from_key(&pair.verifying_key());
        let v = serde_json::to_value(&jwk).unwrap();
        for field in ["kty", "crv", "x", "alg", "use", "kid"] {
            assert!(v.get(field).is_some_and(|f| f.is_string()), "{field}");
        }
        assert_eq!(v["use"], "sig");
        assert_eq!(jwk.to_key().unwrap(), pair.verifying_key());
    }

    #[test]
    fn jwk_rejects_wrong_shapes() {
        let pair = KeyPair::generate().unwrap();
        let good = Jwk::from_key(&pair.verifying_key());
        let mut j = good.clone();
        j.crv = "X25519".into();
        assert!(j.to_key().is_err());
        let mut j = good.clone();
        j.kty = "EC".into();
        assert!(j.to_key().is_err());
        let mut j = good.clone();
        j.alg = Some("HS256".into());
        assert!(j.to_key().is_err());
        let mut j = good.clone();
        j.use_ = Some("enc".into());
        assert!(j.to_key().is_err());
        let mut j = good.clone();
        j.x = "AAAA".into();
        assert!(j.to_key().is_err());
        let mut j = good;
        j.x = "not base64!".into();
        assert!(j.to_key().is_err());
    }

    #[test]
    fn sealed_private_key_round_trip() {
        let master = SecretKey::generate().unwrap();
        let pair = KeyPair::generate().unwrap();
        let sealed = pair.seal(&master).unwrap();
        let opened = KeyPair::open(&master, pair.kid(), &sealed).unwrap();
        assert_eq!(opened.kid(), pair.kid());
        let other = KeyPair::generate().unwrap();
        assert!(KeyPair::open(&master, other.kid(), &sealed).is_err());
        assert!(KeyPair::open(&SecretKey::generate().unwrap(), pair.kid(), &sealed).is_err());
        // What the edge holds opens nothing sealed under the master key, and the other way.
        let edge = edge_key(&master, 1);
        assert!(KeyPair::open(&edge, pair.kid(), &sealed).is_err());
        assert!(KeyPair::open(&master, pair.kid(), &pair.seal(&edge).unwrap()).is_err());
        assert_ne!(edge.as_bytes(), master.as_bytes());
        assert_ne!(edge.as_bytes(), edge_key(&master, 2).as_bytes());
    }

    #[test]
    fn rotation_keeps_previous_until_retired() {
        let first = KeyPair::generate().unwrap();
        let second = KeyPair::generate().unwrap();
        let mut ring = KeyRing::with_active(first.clone());
        assert_eq!(ring.signer().unwrap().kid(), first.kid());
        let new_kid = ring.rotate(second.clone(), 1_000, 100);
        assert_eq!(new_kid, second.kid());
        assert_eq!(ring.signer().unwrap().kid(), second.kid());
        assert!(ring.find(first.kid(), 1_099).is_some());
        assert!(ring.find(first.kid(), 1_100).is_none());
        let jwks = ring.jwks(1_050);
        assert_eq!(jwks.keys.len(), 2);
        assert_eq!(
            jwks.keys[0].kid.as_deref(),
            Some(second.kid()),
            "active first"
        );
        assert_eq!(ring.jwks(1_100).keys.len(), 1);
        ring.prune(1_100);
        assert_eq!(ring.keys().len(), 1);
    }

    #[test]
    fn staged_next_key_is_published_then_promoted() {
        let first = KeyPair::generate().unwrap();
        let next = KeyPair::generate().unwrap();
        let unused = KeyPair::generate().unwrap();
        let mut ring = KeyRing::with_active(first.clone());
        ring.add(next.clone(), KeyStatus::Next, None);
        assert_eq!(ring.jwks(0).keys.len(), 2);
        assert_eq!(
            ring.signer().unwrap().kid(),
            first.kid(),
            "next does not sign"
        );
        let kid = ring.rotate(unused.clone(), 0, 10);
        assert_eq!(
            kid,
            next.kid(),
            "the staged key is promoted, not the fresh one"
        );
        assert!(ring.find(unused.kid(), 0).is_none());
    }

    #[test]
    fn published_set_round_trip() {
        let master = SecretKey::generate().unwrap();
        let mut ring = KeyRing::with_active(KeyPair::generate().unwrap());
        ring.rotate(KeyPair::generate().unwrap(), 10, 100);
        let set = ring.publish("org_default", &master, 10).unwrap();
        let json = serde_json::to_string(&set).unwrap();
        let back: PublishedKeySet = serde_json::from_str(&json).unwrap();
        let edge = KeyRing::from_published(&back, &master).unwrap();
        assert_eq!(edge.signer().unwrap().kid(), ring.signer().unwrap().kid());
        assert_eq!(edge.jwks(10), ring.jwks(10));
        let previous = &ring.jwks(10).keys[1];
        assert!(edge.find(previous.kid.as_deref().unwrap(), 109).is_some());
        assert!(edge.find(previous.kid.as_deref().unwrap(), 110).is_none());
        assert!(KeyRing::from_published(&back, &SecretKey::generate().unwrap()).is_err());
    }
}
