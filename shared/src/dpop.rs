//! DPoP proofs (RFC 9449): a client proves, on each request, that it holds the private key an
//! access or refresh token is bound to (`cnf.jkt`, the key's RFC 7638 thumbprint).
//!
//! Invariants and the attacks they prevent:
//! - a proof is accepted only as `typ: dpop+jwt`, signed by the public key in its own header
//!   (Ed25519 — `alg` `EdDSA` or RFC 9864's `Ed25519`, `verify_strict`, weak keys refused — or
//!   P-256 `ES256`; the algorithm must be the key's, see [`crate::client_key`]), never with a
//!   private key in the header, with every claim present and well-formed;
//! - it names the request it was made for (`htm`, and `htu` without query or fragment), was made
//!   within [`MAX_AGE_SECS`] (and not from the future), and, presented with a token, carries the
//!   token's hash (`ath`): a proof captured for one request cannot be used for another or with
//!   another token;
//! - its `jti` is returned so that the caller records it once per key in the hot store (replay);
//! - the key's thumbprint is computed here, from the canonical members only, so that the same
//!   key always yields the same binding;
//! - where the tenant requires server nonces ([`Nonces`]), a proof must carry one this server
//!   made in the current or the previous window (RFC 9449 §8–9): a proof made in advance (by
//!   malware that got the key for a moment) stops working within two windows. Nonces are
//!   stateless MACs, so checking one costs no store round trip, at the origin or an edge.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::client_key::{ClientAlg, ClientKey};
use crate::encoding::{b64url_decode, b64url_decode_public, b64url_encode};
use crate::keys::KeyPair;
use crate::seal::{derive_key, SecretKey};
use crate::{Error, ErrorCode, Result};

/// How old a proof may be.
pub const MAX_AGE_SECS: i64 = 300;
/// How far in the future a proof's `iat` may lie (clock skew).
pub const MAX_SKEW_SECS: i64 = 30;
/// Longest proof read.
const MAX_PROOF_LEN: usize = 4096;
/// The algorithms a proof may be signed with.
pub const ALGORITHMS: [&str; 3] = crate::client_key::ALGORITHMS;

/// What a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The request's method.
    pub htm: &'a str,
    /// The request's URL (scheme, host, port, path).
    pub htu: &'a str,
    /// Now (unix seconds).
    pub now: i64,
    /// The access token presented with it, if any (then `ath` is required).
    pub access_token: Option<&'a str>,
    /// The tenant's nonces, when it requires them.
    pub nonces: Option<&'a Nonces>,
}

/// How long a server nonce window lasts; a nonce is accepted in its window and the next.
pub const NONCE_WINDOW_SECS: i64 = 300;

/// A tenant's DPoP server nonces: `<window>.<MAC of tenant and window>`, keyed by a key derived
/// from the tenant's active signing key, which the origin and every edge already hold (so no
/// new secret is given to the edge, and a key rotation renews the nonces).
pub struct Nonces {
    key: SecretKey,
    tenant: String,
}

impl core::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Nonces")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Nonces {
    /// The nonces of `tenant` under its active signing key.
    pub fn new(signer: &KeyPair, tenant: &str) -> Self {
        Self {
            key: derive_key(&signer.signing_key().to_bytes(), b"usso/dpop-nonce/v1"),
            tenant: tenant.to_owned(),
        }
    }

    fn mac(&self, window: i64) -> [u8; 16] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_bytes())
            .expect("HMAC accepts any key length");
        mac.update(self.tenant.as_bytes());
        mac.update(&window.to_be_bytes());
        let full: [u8; 32] = mac.finalize().into_bytes().into();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// The nonce to hand out now.
    pub fn issue(&self, now: i64) -> String {
        let window = now.div_euclid(NONCE_WINDOW_SECS);
        format!("{window}.{}", b64url_encode(&self.mac(window)))
    }

    /// Whether `nonce` was made by this server in the current or the previous window.
    pub fn is_fresh(&self, nonce: &str, now: i64) -> bool {
        let current = now.div_euclid(NONCE_WINDOW_SECS);
        let Some((w, mac)) = nonce.split_once('.') else {
            return false;
        };
        let (Ok(window), Some(mac)) = (w.parse::<i64>(), b64url_decode(mac)) else {
            return false;
        };
        (window == current || window == current - 1)
            && mac.len() == 16
            && bool::from(mac.ct_eq(&self.mac(window)))
    }
}

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The key's thumbprint (base64url SHA-256, RFC 7638).
    pub jkt: String,
    /// The proof's id (record it: a replay is refused).
    pub jti: String,
    /// When it was made.
    pub iat: i64,
}

fn bad(detail: &str) -> Error {
    Error::new(ErrorCode::InvalidDpopProof, detail)
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// The `WWW-Authenticate` challenge of a resource answering a DPoP failure (RFC 9449 §7.1):
/// `error` is the code's OAuth name (`invalid_dpop_proof`, `use_dpop_nonce`), `algs` the
/// algorithms proofs may use.
pub fn challenge(error: ErrorCode) -> String {
    format!(
        "DPoP error=\"{}\", algs=\"{}\"",
        error.oauth_error(),
        ALGORITHMS.join(" ")
    )
}

/// `ath`: the base64url SHA-256 of an access token.
pub fn access_token_hash(token: &str) -> String {
    b64url_encode(&Sha256::digest(token.as_bytes()))
}

/// `scheme://host[:port]/path`, scheme and host lower-cased, without query or fragment.
pub fn normalize_htu(url: &str) -> String {
    let no_frag = url.split('#').next().unwrap_or_default();
    let no_query = no_frag.split('?').next().unwrap_or_default();
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let path = if path.is_empty() { "/" } else { path };
            format!(
                "{}://{}{path}",
                scheme.to_ascii_lowercase(),
                authority.to_ascii_lowercase()
            )
        }
        None => no_query.to_owned(),
    }
}

/// A proof whose header was read; its signature not yet checked.
struct Signed<'a> {
    alg: ClientAlg,
    key: ClientKey,
    signed: &'a str,
    sig: Vec<u8>,
    payload: &'a str,
}

fn read_header(proof: &str) -> Result<Signed<'_>> {
    if proof.len() > MAX_PROOF_LEN || !proof.is_ascii() {
        return Err(bad("malformed DPoP proof"));
    }
    let mut parts = proof.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("a DPoP proof is a compact JWS"));
    };
    let header: Value = b64url_decode_public(h64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("malformed DPoP header"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("typ must be dpop+jwt"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(ClientAlg::parse)
        .ok_or_else(|| bad("unsupported DPoP algorithm (EdDSA, Ed25519 or ES256)"))?;
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("the DPoP header has no jwk"))?;
    let key = ClientKey::from_jwk(jwk).map_err(bad)?;
    let sig = b64url_decode_public(s64).ok_or_else(|| bad("malformed DPoP signature"))?;
    Ok(Signed {
        alg,
        key,
        signed: &proof[..h64.len() + 1 + p64.len()],
        sig,
        payload: p64,
    })
}

/// Verifies a DPoP proof against what it must match.
pub fn verify(proof: &str, expect: &Expect<'_>) -> Result<Proof> {
    let s = read_header(proof)?;
    if !s.key.verify(s.alg, s.signed.as_bytes(), &s.sig) {
        return Err(bad("DPoP signature does not verify"));
    }
    check_claims(s, expect)
}

/// [`verify`], with the proof's signature equation computed by `check` (the platform's Ed25519
/// and P-256 at the edge; Ed25519 under the same rule).
pub async fn verify_with<V: crate::token::SignatureCheck>(
    proof: &str,
    expect: &Expect<'_>,
    check: &V,
) -> Result<Proof> {
    let s = read_header(proof)?;
    // Both algorithms sign with 64 bytes (ES256 as JWS `r || s`, never DER).
    let ok = match (<[u8; 64]>::try_from(&s.sig[..]), &s.key, s.alg) {
        (Ok(sig), ClientKey::Ed25519(k), ClientAlg::Ed25519) => {
            crate::ed25519::signature_shape_ok(&sig)
                && check.ed25519(k, s.signed.as_bytes(), &sig).await
        }
        (Ok(sig), ClientKey::P256(k), ClientAlg::Es256) => {
            check.es256(k, s.signed.as_bytes(), &sig).await
        }
        // Another length, or the header's algorithm is not the key's: refused.
        _ => false,
    };
    if !ok {
        return Err(bad("DPoP signature does not verify"));
    }
    check_claims(s, expect)
}

fn check_claims(s: Signed<'_>, expect: &Expect<'_>) -> Result<Proof> {
    let claims: Claims = b64url_decode_public(s.payload)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("malformed DPoP claims (jti, htm, htu, iat)"))?;
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(bad("DPoP jti missing or too long"));
    }
    if claims.htm != expect.htm {
        return Err(bad("the DPoP proof is for another method"));
    }
    if normalize_htu(&claims.htu) != normalize_htu(expect.htu) {
        return Err(bad("the DPoP proof is for another URL"));
    }
    if claims.iat > expect.now + MAX_SKEW_SECS || claims.iat < expect.now - MAX_AGE_SECS {
        return Err(bad("the DPoP proof is too old or from the future"));
    }
    if let Some(nonces) = expect.nonces {
        if !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.is_fresh(n, expect.now))
        {
            return Err(Error::use_dpop_nonce(nonces.issue(expect.now)));
        }
    }
    match (expect.access_token, claims.ath.as_deref()) {
        (Some(t), Some(ath)) if ath == access_token_hash(t) => {}
        (Some(_), Some(_)) => return Err(bad("the DPoP proof is for another access token")),
        (Some(_), None) => return Err(bad("the DPoP proof lacks ath")),
        (None, _) => {}
    }
    Ok(Proof {
        jkt: s.key.thumbprint(),
        jti: claims.jti,
        iat: claims.iat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::json;

    /// A compact JWS of `header` and `claims`, signed by `sign` (any algorithm).
    fn compact(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let h = b64url_encode(header.to_string().as_bytes());
        let p = b64url_encode(claims.to_string().as_bytes());
        let sig = sign(format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", b64url_encode(&sig))
    }

    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        compact(&header, &claims, |m| key.sign(m).to_bytes().to_vec())
    }

    /// What a token-endpoint proof made at `now` must match (no token, no nonce).
    fn token_endpoint(now: i64) -> Expect<'static> {
        Expect {
            htm: "POST",
            htu: URL,
            now,
            access_token: None,
            nonces: None,
        }
    }

    fn header(key: &SigningKey) -> Value {
        json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519",
            "x": b64url_encode(key.verifying_key().as_bytes())}})
    }

    const URL: &str = "https://sso.example.com/api/sso/v1/oauth/token";

    #[test]
    fn accepts_a_good_proof_and_refuses_every_mismatch() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let claims = json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": 1000});
        let expect = token_endpoint(1000);
        let ok = verify(&proof(&key, header(&key), claims.clone()), &expect).unwrap();
        assert_eq!(ok.jti, "j1");
        assert_eq!(ok.jkt, ClientKey::Ed25519(key.verifying_key()).thumbprint());
        // RFC 9864's fully specified name too.
        let mut h = header(&key);
        h["alg"] = json!("Ed25519");
        assert!(verify(&proof(&key, h, claims.clone()), &expect).is_ok());
        // The query and fragment of htu do not count; the host's case does not either.
        let mut c = claims.clone();
        c["htu"] = json!("https://SSO.example.com/api/sso/v1/oauth/token?x=1#f");
        assert!(verify(&proof(&key, header(&key), c), &expect).is_ok());

        let refuse = |h: Value, c: Value, e: &Expect<'_>| {
            assert_eq!(
                verify(&proof(&key, h, c), e).unwrap_err().code(),
                ErrorCode::InvalidDpopProof
            );
        };
        let mut h = header(&key);
        h["typ"] = json!("JWT");
        refuse(h, claims.clone(), &expect);
        let mut h = header(&key);
        h["alg"] = json!("HS256");
        refuse(h, claims.clone(), &expect);
        let mut h = header(&key);
        h["jwk"]["d"] = json!("secret");
        refuse(h, claims.clone(), &expect);
        let mut c = claims.clone();
        c["htm"] = json!("GET");
        refuse(header(&key), c, &expect);
        let mut c = claims.clone();
        c["htu"] = json!("https://sso.example.com/api/sso/v1/oauth/revoke");
        refuse(header(&key), c, &expect);
        let mut c = claims.clone();
        c["iat"] = json!(1000 - MAX_AGE_SECS - 1);
        refuse(header(&key), c, &expect);
        let mut c = claims.clone();
        c["iat"] = json!(1000 + MAX_SKEW_SECS + 1);
        refuse(header(&key), c, &expect);
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove("jti");
        refuse(header(&key), c, &expect);
        // Signed by another key than the header's.
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let forged = proof(&other, header(&key), claims.clone());
        assert!(verify(&forged, &expect).is_err());
        // With an access token: ath required and must match.
        let with_token = Expect {
            access_token: Some("the.token.here"),
            htm: "GET",
            ..expect
        };
        let mut c = claims.clone();
        c["htm"] = json!("GET");
        refuse(header(&key), c.clone(), &with_token);
        c["ath"] = json!(access_token_hash("another.token"));
        refuse(header(&key), c.clone(), &with_token);
        c["ath"] = json!(access_token_hash("the.token.here"));
        assert!(verify(&proof(&key, header(&key), c), &with_token).is_ok());
    }

    #[test]
    fn es256_proofs_verify_with_their_p256_key_only() {
        use p256::ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::from_bytes(&[4u8; 32].into()).unwrap();
        let key = ClientKey::P256(*sk.verifying_key());
        let es256 = |k: &p256::ecdsa::SigningKey, m: &[u8]| {
            let sig: p256::ecdsa::Signature = k.sign(m);
            sig.to_bytes().to_vec()
        };
        let sign = |header: &Value, claims: &Value| compact(header, claims, |m| es256(&sk, m));
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.to_jwk()});
        let claims = json!({"jti": "e1", "htm": "POST", "htu": URL, "iat": 1000});
        let expect = token_endpoint(1000);
        let ok = verify(&sign(&header, &claims), &expect).unwrap();
        assert_eq!(ok.jkt, key.thumbprint());
        // The header's alg must be the key's: EdDSA with a P-256 key is refused.
        let mut h = header.clone();
        h["alg"] = json!("EdDSA");
        assert!(verify(&sign(&h, &claims), &expect).is_err());
        // A proof signed by another P-256 key than the header's.
        let other = p256::ecdsa::SigningKey::from_bytes(&[6u8; 32].into()).unwrap();
        let forged = compact(&header, &claims, |m| es256(&other, m));
        assert_eq!(
            verify(&forged, &expect).unwrap_err().code(),
            ErrorCode::InvalidDpopProof
        );
    }

    #[test]
    fn server_nonces_are_required_when_configured_and_expire() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let signer = KeyPair::from_secret(&[1u8; 32]);
        let nonces = Nonces::new(&signer, "org_a");
        let now = 10_000;
        let expect = Expect {
            nonces: Some(&nonces),
            ..token_endpoint(now)
        };
        let with = |nonce: Option<String>| {
            let mut c = json!({"jti": "n1", "htm": "POST", "htu": URL, "iat": now});
            if let Some(n) = nonce {
                c["nonce"] = json!(n);
            }
            verify(&proof(&key, header(&key), c), &expect)
        };
        // None: refused with a fresh nonce to use.
        let e = with(None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UseDpopNonce);
        let fresh = e.dpop_nonce().unwrap().to_owned();
        assert!(with(Some(fresh.clone())).is_ok());
        // Still good in the next window, not after; not from another tenant or key; not forged.
        assert!(nonces.is_fresh(&fresh, now + NONCE_WINDOW_SECS));
        assert!(!nonces.is_fresh(&fresh, now + 2 * NONCE_WINDOW_SECS));
        assert!(!Nonces::new(&signer, "org_b").is_fresh(&fresh, now));
        assert!(!Nonces::new(&KeyPair::from_secret(&[2u8; 32]), "org_a").is_fresh(&fresh, now));
        let future = nonces.issue(now + NONCE_WINDOW_SECS);
        assert!(!nonces.is_fresh(&future, now));
        for bad in ["", "x", "33.", "33.AAAA", &fresh.replace('.', "")] {
            assert_eq!(
                with(Some(bad.to_owned())).unwrap_err().code(),
                ErrorCode::UseDpopNonce
            );
        }
    }
}
