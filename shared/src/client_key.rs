//! Public keys that clients hold and sign with: the key in a DPoP proof's header (RFC 9449) and
//! the keys a `private_key_jwt` client registers (RFC 7523). Ed25519 (`EdDSA`, RFC 9864's
//! `Ed25519`) and P-256 ECDSA (`ES256`), the two algorithms client libraries offer by default.
//!
//! Invariants and the attacks they prevent:
//! - the algorithm is checked against the key's type, never taken alone from a header: an
//!   `ES256` signature is verified only with a P-256 key and an `EdDSA` one only with an
//!   Ed25519 key (algorithm confusion);
//! - a JWK is accepted only as a public key (a `d` member is refused), of exactly the expected
//!   members' lengths; a P-256 point must lie on the curve and not be the identity; an Ed25519
//!   key must not be of small order (`is_weak`), and its signatures are checked with
//!   `verify_strict` (no malleable or small-order `R`);
//! - ES256 signatures are the fixed 64-byte `r || s` of JWS (RFC 7518 §3.4), not DER;
//! - accepted Ed25519 keys are remembered by their whole 32 bytes (a client signs every DPoP
//!   proof with one key), never refused ones: the memo saves a decoding and changes no answer;
//! - the RFC 7638 thumbprint is computed from the key's canonical encoding, so the same key
//!   always yields the same binding (`cnf.jkt`) whatever spelling of base64url the client sent.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::encoding::b64url_encode;

/// The JWS `alg` names a client-held key may sign with.
pub const ALGORITHMS: [&str; 3] = ["EdDSA", "Ed25519", "ES256"];

/// A signing algorithm of a client-held key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAlg {
    /// Ed25519 (`EdDSA` or `Ed25519`).
    Ed25519,
    /// P-256 with SHA-256 (`ES256`).
    Es256,
}

impl ClientAlg {
    /// From a JWS header's `alg`; `None` for anything else (`none`, `HS256`, `RS256`, …).
    pub fn parse(alg: &str) -> Option<Self> {
        match alg {
            "EdDSA" | "Ed25519" => Some(Self::Ed25519),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// A client's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    /// An Ed25519 key (`kty: OKP`, `crv: Ed25519`).
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A P-256 key (`kty: EC`, `crv: P-256`).
    P256(p256::ecdsa::VerifyingKey),
}

/// Why a JWK is refused (a sentence for the developer).
pub type KeyError = &'static str;

fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

fn coordinate(jwk: &Map<String, Value>, name: &str) -> Result<[u8; 32], KeyError> {
    member(jwk, name)
        .and_then(crate::encoding::b64url_decode_public)
        .and_then(|b| b.try_into().ok())
        .ok_or("a key coordinate is not 32 bytes of base64url")
}

/// An ES256 check natively: ring's P-256 (the same answers, measured faster).
#[cfg(feature = "native")]
pub fn es256(k: &p256::ecdsa::VerifyingKey, signed: &[u8], signature: &[u8]) -> bool {
    let point = k.to_encoded_point(false);
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        point.as_bytes(),
    )
    .verify(signed, signature)
    .is_ok()
}

/// An ES256 check in WASM: the portable p256 arithmetic.
#[cfg(not(feature = "native"))]
pub fn es256(k: &p256::ecdsa::VerifyingKey, signed: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    p256::ecdsa::Signature::from_slice(signature).is_ok_and(|sig| k.verify(signed, &sig).is_ok())
}

/// Ed25519 client keys already accepted, by their bytes: a client signs every DPoP proof with
/// the same key, and decoding one (a field exponentiation) cost 8 µs natively against 31 µs for
/// the signature check (criterion, `verify/full_access_verify_with_dpop_proof`: 76.2 → 67.8 µs).
/// Direct-mapped and small; an entry is used only when all 32 bytes match, so a key chosen to
/// collide costs its sender one decoding and changes no answer.
static ED25519_KEYS: std::sync::Mutex<[Option<ed25519_dalek::VerifyingKey>; 64]> =
    std::sync::Mutex::new([const { None }; 64]);

/// [`crate::ed25519::public_key`], remembered for accepted keys.
fn ed25519_key(x: &[u8; 32]) -> Result<ed25519_dalek::VerifyingKey, crate::ed25519::KeyRefusal> {
    let slot = usize::from(x[0] & 63);
    let remembered = |slots: &[Option<ed25519_dalek::VerifyingKey>; 64]| {
        slots[slot].filter(|k| k.as_bytes() == x)
    };
    if let Some(k) = ED25519_KEYS.lock().ok().and_then(|s| remembered(&s)) {
        return Ok(k);
    }
    let key = crate::ed25519::public_key(x)?;
    if let Ok(mut slots) = ED25519_KEYS.lock() {
        slots[slot] = Some(key);
    }
    Ok(key)
}

/// The base64url affine coordinates of a P-256 key.
fn p256_coordinates(k: &p256::ecdsa::VerifyingKey) -> (String, String) {
    let point = k.to_encoded_point(false);
    let coord = |c: Option<&p256::FieldBytes>| c.map(|b| b64url_encode(b)).unwrap_or_default();
    (coord(point.x()), coord(point.y()))
}

impl ClientKey {
    /// Reads a public JWK: `{"kty":"OKP","crv":"Ed25519","x"}` or
    /// `{"kty":"EC","crv":"P-256","x","y"}`.
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, KeyError> {
        if jwk.contains_key("d") {
            return Err("the JWK holds a private key; send the public key only");
        }
        match (member(jwk, "kty"), member(jwk, "crv")) {
            (Some("OKP"), Some("Ed25519")) => ed25519_key(&coordinate(jwk, "x")?)
                .map(Self::Ed25519)
                .map_err(|why| why.describe()),
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (coordinate(jwk, "x")?, coordinate(jwk, "y")?);
                let point =
                    p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map(Self::P256)
                    .map_err(|_| "x and y are not a point of P-256")
            }
            _ => Err("Ed25519 (kty OKP) and P-256 (kty EC) keys only"),
        }
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> ClientAlg {
        match self {
            Self::Ed25519(_) => ClientAlg::Ed25519,
            Self::P256(_) => ClientAlg::Es256,
        }
    }

    /// The key as a public JWK with its canonical members only.
    pub fn to_jwk(&self) -> Value {
        match self {
            Self::Ed25519(k) => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64url_encode(k.as_bytes()),
            }),
            Self::P256(k) => {
                let (x, y) = p256_coordinates(k);
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})
            }
        }
    }

    /// The RFC 7638 thumbprint (base64url SHA-256 of the required members in order).
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Ed25519(k) => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                b64url_encode(k.as_bytes())
            ),
            Self::P256(k) => {
                let (x, y) = p256_coordinates(k);
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
        };
        b64url_encode(&Sha256::digest(canonical.as_bytes()))
    }

    /// Whether `signature` (the JWS encoding) over `signed` verifies with this key under `alg`;
    /// false when `alg` is not this key's algorithm.
    pub fn verify(&self, alg: ClientAlg, signed: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            (Self::Ed25519(k), ClientAlg::Ed25519) => {
                let Ok(sig) = <[u8; 64]>::try_from(signature) else {
                    return false;
                };
                crate::ed25519::verify(k, signed, &sig)
            }
            (Self::P256(k), ClientAlg::Es256) => {
                signature.len() == 64 && es256(k, signed, signature)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn remembered_ed25519_keys_never_change_an_answer() {
        use ed25519_dalek::SigningKey;
        // Keys whose encodings share a slot (same first byte modulo 64) but differ.
        let key = |i: u16| {
            SigningKey::from_bytes(
                &[&i.to_le_bytes()[..], &[0; 30]]
                    .concat()
                    .try_into()
                    .unwrap(),
            )
            .verifying_key()
        };
        let a = key(0);
        let b = (1..1000)
            .map(key)
            .find(|k| k.as_bytes()[0] & 63 == a.as_bytes()[0] & 63)
            .unwrap();
        for _ in 0..2 {
            assert_eq!(ed25519_key(a.as_bytes()), Ok(a));
            assert_eq!(ed25519_key(b.as_bytes()), Ok(b));
        }
        // A small-order key and a negative zero in the slot of a remembered key: still refused.
        let identity = curve25519_dalek::EdwardsPoint::default()
            .compress()
            .to_bytes();
        let mut negative_zero = identity;
        negative_zero[31] |= 0x80;
        for refused in [identity, negative_zero] {
            let mut twin = *a.as_bytes();
            twin[0] = refused[0];
            ed25519_key(&twin).ok();
            assert!(ed25519_key(&refused).is_err());
            assert!(ed25519_key(&refused).is_err());
        }
    }

    #[test]
    fn rfc7638_thumbprints_of_okp_and_ec_keys() {
        // RFC 8037 §A.3 (Ed25519).
        let ed = ClientKey::from_jwk(&map(json!({"kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})))
        .unwrap();
        assert_eq!(
            ed.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        assert_eq!(ed.alg(), ClientAlg::Ed25519);
        // An EC key: the thumbprint of its canonical members, as RFC 7638 §3.2 orders them.
        let sk = p256::ecdsa::SigningKey::from_bytes(&[3u8; 32].into()).unwrap();
        let ec = ClientKey::P256(*sk.verifying_key());
        let jwk = ec.to_jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(
            ec.thumbprint(),
            b64url_encode(&Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(ClientKey::from_jwk(&map(jwk)).unwrap(), ec);
    }

    #[test]
    fn es256_verifies_only_its_own_fixed_size_signatures() {
        let sk = p256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into()).unwrap();
        let key = ClientKey::P256(*sk.verifying_key());
        let sig: p256::ecdsa::Signature = sk.sign(b"header.payload");
        let raw = sig.to_bytes();
        assert!(key.verify(ClientAlg::Es256, b"header.payload", &raw));
        assert!(!key.verify(ClientAlg::Es256, b"header.other", &raw));
        // The algorithm must be the key's.
        assert!(!key.verify(ClientAlg::Ed25519, b"header.payload", &raw));
        // DER is not the JWS encoding.
        assert!(!key.verify(ClientAlg::Es256, b"header.payload", sig.to_der().as_bytes()));
        // An Ed25519 key never verifies an ES256 signature.
        let ed =
            ClientKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]).verifying_key());
        assert!(!ed.verify(ClientAlg::Es256, b"header.payload", &raw));
    }

    #[test]
    fn refuses_private_weak_off_curve_and_other_keys() {
        let refused = |v: Value| ClientKey::from_jwk(&map(v)).unwrap_err();
        let sk = p256::ecdsa::SigningKey::from_bytes(&[5u8; 32].into()).unwrap();
        let mut jwk = ClientKey::P256(*sk.verifying_key()).to_jwk();
        jwk["d"] = json!("secret");
        refused(jwk.clone());
        jwk.as_object_mut().unwrap().remove("d");
        // A y that does not lie on the curve with that x.
        let mut y = crate::encoding::b64url_decode(jwk["y"].as_str().unwrap()).unwrap();
        y[31] ^= 1;
        jwk["y"] = json!(b64url_encode(&y));
        refused(jwk);
        // The identity and a small-order Ed25519 point.
        refused(json!({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(&[0u8; 32])}));
        let mut one = [0u8; 32];
        one[0] = 1;
        refused(json!({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(&one)}));
        refused(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}));
        refused(json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}));
        refused(json!({"kty": "OKP", "crv": "Ed25519", "x": "short"}));
        assert_eq!(ClientAlg::parse("none"), None);
        assert_eq!(ClientAlg::parse("HS256"), None);
        assert_eq!(ClientAlg::parse("ES256"), Some(ClientAlg::Es256));
    }
}
