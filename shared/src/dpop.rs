//! DPoP proofs (RFC 9449): a client proves, on each request, that it holds the private key an
//! access or refresh token is bound to (`cnf.jkt`, the key's RFC 7638 thumbprint).
//!
//! Invariants and the attacks they prevent:
//! - a proof is accepted only as `typ: dpop+jwt`, signed by the public key in its own header
//!   (Ed25519, `alg` `EdDSA` or RFC 9864's `Ed25519`; `verify_strict`, weak keys refused), never
//!   with a private key in the header, with every claim present and well-formed;
//! - it names the request it was made for (`htm`, and `htu` without query or fragment), was made
//!   within [`MAX_AGE_SECS`] (and not from the future), and, presented with a token, carries the
//!   token's hash (`ath`): a proof captured for one request cannot be used for another or with
//!   another token;
//! - its `jti` is returned so that the caller records it once per key in the hot store (replay);
//! - the key's thumbprint is computed here, from the canonical members only, so that the same
//!   key always yields the same binding.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::encoding::{b64url_decode, b64url_encode};
use crate::{Error, ErrorCode, Result};

/// How old a proof may be.
pub const MAX_AGE_SECS: i64 = 300;
/// How far in the future a proof's `iat` may lie (clock skew).
pub const MAX_SKEW_SECS: i64 = 30;
/// Longest proof read.
const MAX_PROOF_LEN: usize = 4096;
/// The algorithms a proof may be signed with (both name Ed25519).
pub const ALGORITHMS: [&str; 2] = ["EdDSA", "Ed25519"];

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
}

/// The RFC 7638 thumbprint of an Ed25519 public key (`x`, base64url).
pub fn thumbprint_ed25519(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    b64url_encode(&Sha256::digest(canonical.as_bytes()))
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

/// Verifies a DPoP proof against what it must match.
pub fn verify(proof: &str, expect: &Expect<'_>) -> Result<Proof> {
    if proof.len() > MAX_PROOF_LEN || !proof.is_ascii() {
        return Err(bad("malformed DPoP proof"));
    }
    let mut parts = proof.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("a DPoP proof is a compact JWS"));
    };
    let header: Value = b64url_decode(h64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("malformed DPoP header"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("typ must be dpop+jwt"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !ALGORITHMS.contains(&alg) {
        return Err(bad("unsupported DPoP algorithm (EdDSA/Ed25519 only)"));
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("the DPoP header has no jwk"))?;
    if jwk.contains_key("d") {
        return Err(bad("the DPoP jwk holds a private key"));
    }
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return Err(bad("the DPoP jwk must be an Ed25519 OKP key"));
    }
    let x = jwk
        .get("x")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("the DPoP jwk has no x"))?;
    let raw: [u8; 32] = b64url_decode(x)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("the DPoP jwk's x is not 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| bad("invalid DPoP key"))?;
    if key.is_weak() {
        return Err(bad("weak DPoP key"));
    }
    let sig: [u8; 64] = b64url_decode(s64)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("malformed DPoP signature"))?;
    let signed = &proof[..h64.len() + 1 + p64.len()];
    key.verify_strict(signed.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| bad("DPoP signature does not verify"))?;
    let claims: Claims = b64url_decode(p64)
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
    match (expect.access_token, claims.ath.as_deref()) {
        (Some(t), Some(ath)) if ath == access_token_hash(t) => {}
        (Some(_), Some(_)) => return Err(bad("the DPoP proof is for another access token")),
        (Some(_), None) => return Err(bad("the DPoP proof lacks ath")),
        (None, _) => {}
    }
    Ok(Proof {
        jkt: thumbprint_ed25519(x),
        jti: claims.jti,
        iat: claims.iat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::json;

    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        let h = b64url_encode(header.to_string().as_bytes());
        let p = b64url_encode(claims.to_string().as_bytes());
        let sig = key.sign(format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", b64url_encode(&sig.to_bytes()))
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
        let expect = Expect {
            htm: "POST",
            htu: URL,
            now: 1000,
            access_token: None,
        };
        let ok = verify(&proof(&key, header(&key), claims.clone()), &expect).unwrap();
        assert_eq!(ok.jti, "j1");
        assert_eq!(
            ok.jkt,
            thumbprint_ed25519(&b64url_encode(key.verifying_key().as_bytes()))
        );
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
    fn rfc7638_thumbprint_of_an_okp_key() {
        // RFC 8037 §A.3: the thumbprint of its Ed25519 example key.
        assert_eq!(
            thumbprint_ed25519("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
