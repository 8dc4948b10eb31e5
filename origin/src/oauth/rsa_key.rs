//! The RS256 key of ID tokens, for clients that ask for RS256 (`id_token_signed_response_alg`;
//! OpenID Connect requires providers to offer it). Access tokens stay EdDSA: this key never
//! signs one, and no verifier here accepts RS256 (the algorithm never comes from a token).
//!
//! Invariants and the attacks they prevent:
//! - one 2048-bit key per tenant signs, made the first time a client of the tenant asks for
//!   RS256, kept sealed under the master key (`id_token_keys` collection) and published in the
//!   tenant's JWKS (`alg: RS256`, its own `kid`) beside the Ed25519 keys;
//! - `usso-origin key rotate` rotates it with the Ed25519 key ([`rotate`]): a fresh key signs
//!   from then on, and the previous one stays published until the tenant's key retention ends,
//!   so ID tokens it signed keep verifying at relying parties; a process that cached the old key
//!   notices the new `kid` in the store on its next signature;
//! - signatures are made with `ring` (blinded, constant-time), not with the `rsa` crate, whose
//!   private-key operations are not constant-time (RUSTSEC-2023-0071); `rsa` only generates
//!   the key, once, where no request can time it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use usso_shared::encoding::b64url_encode;
use usso_shared::seal::SecretKey;
use usso_shared::{Error, ErrorCode, Result};

use crate::store::collections::ID_TOKEN_KEYS;
use crate::store::docs::DocumentStore;

/// The document id of a tenant's key.
const DOC_ID: &str = "rs256";
/// The document id of the key it replaced, while that one is still published.
const PREVIOUS_DOC_ID: &str = "rs256-previous";

/// A tenant's RS256 key, opened.
pub struct RsaIdKey {
    /// Its id in the JWKS.
    pub kid: String,
    /// Its public JWK.
    pub jwk: Value,
    pair: ring::signature::RsaKeyPair,
}

#[derive(Serialize, Deserialize)]
struct KeyDoc {
    kid: String,
    /// PKCS#8 DER, sealed under the master key.
    sealed: String,
    /// The public JWK.
    jwk: Value,
    created_at: i64,
    /// For the previous key: when it leaves the JWKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retire_at: Option<i64>,
}

fn read_doc(body: Value) -> Result<KeyDoc> {
    serde_json::from_value(body).map_err(|e| Error::internal(format!("corrupt RS256 key: {e}")))
}

/// The opened keys, by tenant (one per process).
#[derive(Default)]
pub struct RsaKeys {
    cache: Mutex<HashMap<String, Arc<RsaIdKey>>>,
}

impl std::fmt::Debug for RsaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeys").finish_non_exhaustive()
    }
}

fn aad(tenant: &str) -> Vec<u8> {
    format!("usso id-token rs256 {tenant}").into_bytes()
}

fn open(master: &SecretKey, tenant: &str, doc: &KeyDoc) -> Result<RsaIdKey> {
    let der = usso_shared::seal::open_text(master, &aad(tenant), &doc.sealed).map_err(|_| {
        Error::new(
            ErrorCode::ConfigurationError,
            format!("the RS256 key of tenant {tenant} does not open: wrong USSO_MASTER_KEY?"),
        )
    })?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| Error::internal(format!("RS256 key unreadable: {e}")))?;
    Ok(RsaIdKey {
        kid: doc.kid.clone(),
        jwk: doc.jwk.clone(),
        pair,
    })
}

/// The public JWKs of a tenant's RS256 keys, for publishing: the signing one and, until it
/// retires at `now`, the one it replaced (none when the tenant has no RS256 key).
pub async fn public_jwks<D: DocumentStore>(docs: &D, tenant: &str, now: i64) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    if let Some(d) = docs.get(ID_TOKEN_KEYS, tenant, DOC_ID).await? {
        out.push(read_doc(d.body)?.jwk);
    }
    if let Some(d) = docs.get(ID_TOKEN_KEYS, tenant, PREVIOUS_DOC_ID).await? {
        let prev = read_doc(d.body)?;
        let live = prev.retire_at.is_some_and(|t| now < t);
        // A crash between the two writes of a rotation leaves both documents holding the same
        // key: published once.
        if live && !out.iter().any(|j| j["kid"] == prev.jwk["kid"]) {
            out.push(prev.jwk);
        }
    }
    Ok(out)
}

/// Rotates a tenant's RS256 key, if it has one: a fresh key signs from now on and the current
/// one stays published until `now + retain_secs`. The previous key's document is written
/// first, so a crash between the two writes leaves the old key signing and published (the next
/// rotation repairs it). Returns the new `kid`.
pub async fn rotate<D: DocumentStore>(
    docs: &D,
    master: &SecretKey,
    tenant: &str,
    now: i64,
    retain_secs: i64,
) -> Result<Option<String>> {
    let Some(current) = docs.get(ID_TOKEN_KEYS, tenant, DOC_ID).await? else {
        return Ok(None);
    };
    let mut previous = read_doc(current.body)?;
    previous.retire_at = Some(now.saturating_add(retain_secs));
    let value = serde_json::to_value(&previous).map_err(|e| Error::internal(e.to_string()))?;
    docs.upsert(ID_TOKEN_KEYS, tenant, PREVIOUS_DOC_ID, value)
        .await?;
    let fresh = new_doc(master, tenant, now).await?;
    let kid = fresh.kid.clone();
    let value = serde_json::to_value(&fresh).map_err(|e| Error::internal(e.to_string()))?;
    docs.replace(ID_TOKEN_KEYS, tenant, DOC_ID, value, current.version)
        .await?;
    Ok(Some(kid))
}

/// A fresh key, sealed, as stored.
async fn new_doc(master: &SecretKey, tenant: &str, now: i64) -> Result<KeyDoc> {
    let (der, kid, jwk) = tokio::task::spawn_blocking(generate)
        .await
        .map_err(|e| Error::internal(format!("RSA key generation: {e}")))??;
    Ok(KeyDoc {
        kid,
        sealed: usso_shared::seal::seal_text(master, &aad(tenant), &der)?,
        jwk,
        created_at: now,
        retire_at: None,
    })
}

impl RsaKeys {
    /// The tenant's key, made (and stored) if it has none yet; whether it was just made.
    pub async fn ensure<D: DocumentStore>(
        &self,
        docs: &D,
        master: &SecretKey,
        tenant: &str,
        now: i64,
    ) -> Result<(Arc<RsaIdKey>, bool)> {
        if let Some(k) = self.get(docs, master, tenant).await? {
            return Ok((k, false));
        }
        let body = new_doc(master, tenant, now).await?;
        let value = serde_json::to_value(&body).map_err(|e| Error::internal(e.to_string()))?;
        match docs.insert(ID_TOKEN_KEYS, tenant, DOC_ID, value).await {
            Ok(_) => {}
            // Made at the same time by another request: use the stored one.
            Err(e) if e.code() == ErrorCode::Conflict => {}
            Err(e) => return Err(e),
        }
        let key = self
            .get(docs, master, tenant)
            .await?
            .ok_or_else(|| Error::internal("RS256 key vanished"))?;
        Ok((key, true))
    }

    /// The tenant's signing key, if it has one. The stored document is read each time (a
    /// rotation by another process is seen at once); the opened key is reused while its `kid`
    /// is the stored one.
    pub async fn get<D: DocumentStore>(
        &self,
        docs: &D,
        master: &SecretKey,
        tenant: &str,
    ) -> Result<Option<Arc<RsaIdKey>>> {
        let Some(d) = docs.get(ID_TOKEN_KEYS, tenant, DOC_ID).await? else {
            return Ok(None);
        };
        let doc = read_doc(d.body)?;
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .filter(|k| k.kid == doc.kid)
            .cloned();
        if let Some(k) = cached {
            return Ok(Some(k));
        }
        let key = Arc::new(open(master, tenant, &doc)?);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_owned(), key.clone());
        Ok(Some(key))
    }
}

/// A fresh 2048-bit key: (PKCS#8 DER, kid, public JWK).
fn generate() -> Result<(Vec<u8>, String, Value)> {
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let mut rng = RandomSource;
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048)
        .map_err(|e| Error::internal(format!("RSA key generation: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| Error::internal(format!("RSA key encoding: {e}")))?
        .as_bytes()
        .to_vec();
    let n = b64url_encode(&key.n().to_bytes_be());
    let e = b64url_encode(&key.e().to_bytes_be());
    // RFC 7638 thumbprint as the kid.
    let kid = b64url_encode(&Sha256::digest(
        format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#).as_bytes(),
    ));
    let jwk = json!({"kty": "RSA", "n": n, "e": e, "alg": "RS256", "use": "sig", "kid": kid});
    Ok((der, kid, jwk))
}

/// Signs `claims` as a compact JWS with RS256.
pub fn sign(key: &RsaIdKey, claims: &Value) -> Result<String> {
    let header = json!({"alg": "RS256", "kid": key.kid, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .map_err(|_| Error::internal("RS256 signing failed"))?;
    Ok(format!("{input}.{}", b64url_encode(&sig)))
}

/// The operating system's randomness for key generation (`rsa` asks for a `rand_core` source).
struct RandomSource;

impl rsa::rand_core::RngCore for RandomSource {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // The OS source does not fail on the supported platforms; if it ever did, a zeroed
        // buffer would make a weak key, so this generation stops (it runs on a blocking task,
        // whose failure `ensure` answers as an internal error).
        getrandom_fill(dest);
    }
    fn try_fill_bytes(
        &mut self,
        dest: &mut [u8],
    ) -> std::result::Result<(), rsa::rand_core::Error> {
        getrandom_fill(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for RandomSource {}

fn getrandom_fill(dest: &mut [u8]) {
    use ring::rand::SecureRandom;
    if ring::rand::SystemRandom::new().fill(dest).is_err() {
        panic!("the operating system's random source failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::docs::SqliteDocs;

    #[tokio::test]
    async fn rotation_signs_with_a_new_key_and_publishes_the_old_until_it_retires() {
        let dir = crate::store::temp_dir("rsa");
        let docs = SqliteDocs::open(&dir.join("docs.db")).unwrap();
        let master = SecretKey::from_bytes([4; 32]);
        let keys = RsaKeys::default();
        assert_eq!(rotate(&docs, &master, "t1", 100, 600).await.unwrap(), None);
        assert!(public_jwks(&docs, "t1", 100).await.unwrap().is_empty());

        let (first, made) = keys.ensure(&docs, &master, "t1", 100).await.unwrap();
        assert!(made);
        let new_kid = rotate(&docs, &master, "t1", 200, 600)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(new_kid, first.kid);
        // The same process sees the rotation on its next signature.
        let signer = keys.get(&docs, &master, "t1").await.unwrap().unwrap();
        assert_eq!(signer.kid, new_kid);
        let jws = sign(&signer, &json!({"sub": "user:1"})).unwrap();
        let header = usso_shared::encoding::b64url_decode(jws.split('.').next().unwrap()).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&header).unwrap()["kid"],
            json!(new_kid)
        );
        // Both published until the old key retires (200 + 600), then the new one alone.
        let kids = |v: Vec<Value>| v.iter().map(|j| j["kid"].clone()).collect::<Vec<_>>();
        assert_eq!(
            kids(public_jwks(&docs, "t1", 799).await.unwrap()),
            vec![json!(new_kid), json!(first.kid)]
        );
        assert_eq!(
            kids(public_jwks(&docs, "t1", 800).await.unwrap()),
            vec![json!(new_kid)]
        );
        // Another tenant is untouched.
        assert!(public_jwks(&docs, "t2", 300).await.unwrap().is_empty());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_generated_key_signs_what_its_jwk_verifies() {
        let (der, kid, jwk) = generate().unwrap();
        assert_eq!(jwk["kid"], kid);
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let key = RsaIdKey {
            kid,
            jwk: jwk.clone(),
            pair,
        };
        let jws = sign(&key, &json!({"sub": "user:1"})).unwrap();
        let mut parts = jws.rsplitn(2, '.');
        let sig = usso_shared::encoding::b64url_decode(parts.next().unwrap()).unwrap();
        let input = parts.next().unwrap();
        let n = usso_shared::encoding::b64url_decode(jwk["n"].as_str().unwrap()).unwrap();
        let e = usso_shared::encoding::b64url_decode(jwk["e"].as_str().unwrap()).unwrap();
        let public = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &sig,
            )
            .unwrap();
    }
}
