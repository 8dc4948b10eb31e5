//! One meaning of "valid Ed25519 signature" on every platform.
//!
//! Ed25519 implementations disagree at the edges (Chalkias et al., "Taming the many EdDSAs",
//! 2020): some accept small-order public keys or `R` values, non-canonical encodings of `A`
//! or `R`, or `S ≥ L`, and cofactored and cofactorless equations differ on mixed-order points.
//! A token accepted by one of our runtimes and refused by another would be a bug an attacker
//! could pick between, so every runtime applies this rule:
//!
//! - **Public keys** (checked once, when a key set is loaded: [`public_key`]): the encoding is
//!   canonical (`y < p`, no negative zero), the point decodes, and it is not of small order.
//!   Keys that fail are not loaded at all.
//! - **Signatures** (checked per verify, on the bytes only: [`signature_shape_ok`]): `S < L`;
//!   `R` is canonically encoded and is not one of the eight points of small order.
//! - **The equation** is the cofactorless `[S]B = R + [k]A` with `R` compared as bytes, which is
//!   what `ed25519-dalek`'s `verify` and `verify_strict` and BoringSSL's `ED25519_verify` (the
//!   WebCrypto of workerd) all compute.
//!
//! Together this is `ed25519-dalek`'s `verify_strict` plus a canonical `A`: the checks that
//! `verify_strict` makes by decompressing `R` (a square root per verify) are made here on bytes,
//! so the platforms can run the cheaper plain equation ([`verify`] natively and on WASI,
//! WebCrypto on Workers) with identical results. `tests/ed25519/` proves it with the Wycheproof
//! and RFC 8032 vectors and the small-order and non-canonical cases in all three runtimes.

use std::sync::OnceLock;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

/// Why a public key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// `y ≥ p`, or a negative zero `x`.
    NonCanonical,
    /// Not the encoding of a curve point.
    NotOnCurve,
    /// One of the eight points of small order (any signature verifies under some of them).
    SmallOrder,
}

impl KeyRefusal {
    /// A short description for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NonCanonical => "non-canonical Ed25519 public key",
            Self::NotOnCurve => "not an Ed25519 curve point",
            Self::SmallOrder => "weak (small-order) Ed25519 public key",
        }
    }
}

/// The group order `L = 2^252 + 27742317777372353535851937790883648493`, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Whether the little-endian 256-bit numbers satisfy `a < b`.
fn less_than(a: &[u8; 32], b: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// Whether `y` (the encoding without its sign bit) is at least `p = 2^255 - 19`: the top
/// byte is 0x7f, the middle ones 0xff and the lowest at least 0xed.
fn y_not_reduced(enc: &[u8; 32]) -> bool {
    enc[31] & 0x7f == 0x7f && enc[1..31].iter().all(|&b| b == 0xff) && enc[0] >= 0xed
}

/// The canonical encodings of the eight points of small order, computed once from
/// `curve25519-dalek`'s torsion subgroup (no hand-typed constants).
fn small_order_encodings() -> &'static [[u8; 32]; 8] {
    static SET: OnceLock<[[u8; 32]; 8]> = OnceLock::new();
    SET.get_or_init(|| curve25519_dalek::constants::EIGHT_TORSION.map(|p| p.compress().to_bytes()))
}

/// Every `R` encoding refused besides `y ≥ p`: the eight small-order points, and the two of
/// them with `x = 0` (the identity and the point of order 2, each its own negation) written
/// with the sign bit set, a "negative zero" that decodes but is not canonical.
fn refused_r_encodings() -> &'static [[u8; 32]; 10] {
    static SET: OnceLock<[[u8; 32]; 10]> = OnceLock::new();
    SET.get_or_init(|| {
        let torsion = curve25519_dalek::constants::EIGHT_TORSION;
        let mut all = [[0u8; 32]; 10];
        all[..8].copy_from_slice(small_order_encodings());
        let mut x_zero = torsion.iter().filter(|p| -**p == **p);
        for slot in &mut all[8..] {
            let mut e = x_zero.next().map_or([0; 32], |p| p.compress().to_bytes());
            e[31] |= 0x80;
            *slot = e;
        }
        all
    })
}

/// The public key for 32 bytes, under the rule of the module docs.
pub fn public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyRefusal> {
    // The two non-canonical encodings of curve points, on bytes: `y ≥ p`, and "negative
    // zero" (`x = 0` with the sign bit set, which decodes but re-encodes differently). Checked
    // on bytes so that a key costs one decompression and no re-encoding (each is a field
    // exponentiation; DPoP proofs bring a new key with every request).
    if y_not_reduced(bytes) || refused_r_encodings()[8..].contains(bytes) {
        return Err(KeyRefusal::NonCanonical);
    }
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyRefusal::NotOnCurve)?;
    if key.is_weak() {
        return Err(KeyRefusal::SmallOrder);
    }
    Ok(key)
}

/// The per-signature part of the rule, on bytes only: `S < L`, `R` canonically encoded and
/// not of small order. (A canonical `R` that is not a curve point fails the equation.)
#[inline]
pub fn signature_shape_ok(sig: &[u8; 64]) -> bool {
    let (r, s) = sig.split_at(32);
    let r: &[u8; 32] = r.try_into().unwrap_or(&[0; 32]);
    let s: &[u8; 32] = s.try_into().unwrap_or(&L);
    less_than(s, &L) && !y_not_reduced(r) && !refused_r_encodings().contains(r)
}

/// The whole rule for a key that [`public_key`] accepted: the signature's shape, then the
/// cofactorless equation.
#[inline]
pub fn verify(key: &VerifyingKey, message: &[u8], sig: &[u8; 64]) -> bool {
    signature_shape_ok(sig) && key.verify(message, &Signature::from_bytes(sig)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn accepts_ordinary_signatures_and_refuses_changed_ones() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let key = public_key(sk.verifying_key().as_bytes()).unwrap();
        let sig = sk.sign(b"message").to_bytes();
        assert!(verify(&key, b"message", &sig));
        assert!(!verify(&key, b"messagf", &sig));
        let mut bad = sig;
        bad[10] ^= 1;
        assert!(!verify(&key, b"message", &bad));
    }

    #[test]
    fn refuses_s_not_below_l() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let key = sk.verifying_key();
        let sig = sk.sign(b"m").to_bytes();
        // S + L is the same scalar, a malleated signature lax verifiers accept.
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        let mut carry = 0u16;
        for i in 0..32 {
            let v = s[i] as u16 + L[i] as u16 + carry;
            s[i] = v as u8;
            carry = v >> 8;
        }
        let mut malleated = sig;
        malleated[32..].copy_from_slice(&s);
        assert!(!signature_shape_ok(&malleated));
        assert!(!verify(&key, b"m", &malleated));
    }

    #[test]
    fn refuses_small_order_and_non_canonical_keys() {
        for enc in small_order_encodings() {
            assert_eq!(public_key(enc), Err(KeyRefusal::SmallOrder));
        }
        // The identity with the sign bit set (negative zero).
        let mut neg_zero = [0u8; 32];
        neg_zero[0] = 1;
        neg_zero[31] = 0x80;
        assert_eq!(public_key(&neg_zero), Err(KeyRefusal::NonCanonical));
        // y = p + 1 ≡ 1 (the identity, non-canonically).
        let mut big = [0xffu8; 32];
        big[0] = 0xee;
        big[31] = 0x7f;
        assert_eq!(public_key(&big), Err(KeyRefusal::NonCanonical));
        assert_eq!(small_order_encodings().len(), 8);
    }

    #[test]
    fn refuses_small_order_r() {
        for enc in small_order_encodings() {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(enc);
            assert!(!signature_shape_ok(&sig));
        }
        let mut neg_zero = [0u8; 64];
        neg_zero[0] = 1;
        neg_zero[31] = 0x80;
        assert!(!signature_shape_ok(&neg_zero));
        // y = p - 1 (the point of order 2) with the sign bit set.
        let mut neg_zero2 = [0xffu8; 64];
        neg_zero2[0] = 0xec;
        neg_zero2[32..].fill(0);
        assert!(!signature_shape_ok(&neg_zero2));
        assert_eq!(refused_r_encodings().len(), 10);
    }
}
