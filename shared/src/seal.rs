//! Encryption at rest: XChaCha20-Poly1305 under keys derived from a master key.
//!
//! Used for signing keys stored in the document store and published to the hot store, and for
//! the grace-window successor of a refresh rotation (sealed under a key derived from the
//! presented token, see [`crate::rotation`]).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::{b64url_decode, b64url_encode, hex_decode};
use crate::error::{Error, ErrorCode, Result};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const VERSION_PREFIX: &str = "v1.";

/// A 256-bit symmetric key that is wiped from memory when dropped.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        Ok(Self::from_bytes(crate::random::bytes::<32>()?))
    }

    /// Parses a key written as 64 hex digits or as 43 base64url characters.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Some(bytes) = hex_decode::<32>(text) {
            return Ok(Self::from_bytes(bytes));
        }
        match b64url_decode(text) {
            Some(v) if v.len() == 32 => {
                let mut b = [0u8; 32];
                b.copy_from_slice(&v);
                Ok(Self::from_bytes(b))
            }
            _ => Err(Error::new(
                ErrorCode::ConfigurationError,
                "a master key must be 32 bytes, written as 64 hex digits or 43 base64url characters",
            )),
        }
    }

    /// The key as base64url (for saving a generated master key).
    pub fn to_base64url(&self) -> String {
        b64url_encode(&self.0[..])
    }

    /// Derives an independent sub-key for one purpose: HMAC-SHA256(self, label).
    pub fn derive(&self, label: &[u8]) -> SecretKey {
        derive_key(&self.0[..], label)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// HMAC-SHA256(`ikm`, `label`) as a [`SecretKey`].
pub fn derive_key(ikm: &[u8], label: &[u8]) -> SecretKey {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(ikm).expect("HMAC accepts any key length");
    mac.update(label);
    let out: [u8; 32] = mac.finalize().into_bytes().into();
    SecretKey::from_bytes(out)
}

/// Encrypts `plaintext` bound to `aad`. Output: `nonce (24) || ciphertext || tag (16)`.
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let nonce_bytes = crate::random::bytes::<NONCE_LEN>()?;
    let nonce = XNonce::from_slice(&nonce_bytes);
    let ct = cipher
        .encrypt(
            nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::internal("encryption failed"))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts what [`seal`] produced with the same key and `aad`.
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::new(
            ErrorCode::ConfigurationError,
            "sealed data is truncated",
        ));
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| {
            Error::new(
                ErrorCode::ConfigurationError,
                "sealed data does not open with this key (wrong master key or tampered data)",
            )
        })
}

/// [`seal`] as text: `v1.<base64url>`.
pub fn seal_text(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Result<String> {
    Ok(format!(
        "{VERSION_PREFIX}{}",
        b64url_encode(&seal(key, aad, plaintext)?)
    ))
}

/// [`open`] for the text form of [`seal_text`].
pub fn open_text(key: &SecretKey, aad: &[u8], text: &str) -> Result<Zeroizing<Vec<u8>>> {
    let body = text
        .strip_prefix(VERSION_PREFIX)
        .and_then(b64url_decode)
        .ok_or_else(|| Error::new(ErrorCode::ConfigurationError, "sealed text is malformed"))?;
    open(key, aad, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = SecretKey::generate().unwrap();
        let sealed = seal_text(&k, b"kid-1", b"secret").unwrap();
        assert_eq!(&open_text(&k, b"kid-1", &sealed).unwrap()[..], b"secret");
        assert!(open_text(&k, b"kid-2", &sealed).is_err(), "aad is bound");
        let other = SecretKey::generate().unwrap();
        assert!(
            open_text(&other, b"kid-1", &sealed).is_err(),
            "key is bound"
        );
        let mut raw = seal(&k, b"", b"x").unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(open(&k, b"", &raw).is_err(), "tamper detected");
        assert!(open(&k, b"", &raw[..10]).is_err(), "truncated");
        assert!(open_text(&k, b"", "v2.AAAA").is_err());
    }

    #[test]
    fn parse_master_key_forms() {
        let k = SecretKey::generate().unwrap();
        let again = SecretKey::parse(&k.to_base64url()).unwrap();
        assert_eq!(k.as_bytes(), again.as_bytes());
        let hex = crate::encoding::hex_encode(k.as_bytes());
        assert_eq!(SecretKey::parse(&hex).unwrap().as_bytes(), k.as_bytes());
        assert!(SecretKey::parse("short").is_err());
        assert!(SecretKey::parse("").is_err());
    }

    #[test]
    fn derived_keys_differ_by_label() {
        let k = SecretKey::from_bytes([7; 32]);
        assert_ne!(k.derive(b"a").as_bytes(), k.derive(b"b").as_bytes());
        assert_eq!(k.derive(b"a").as_bytes(), k.derive(b"a").as_bytes());
    }
}
