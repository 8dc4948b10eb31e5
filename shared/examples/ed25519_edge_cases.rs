//! Writes `tests/ed25519/edge_cases.json`: the Ed25519 inputs on which implementations
//! disagree (small-order and mixed-order keys, small-order and non-canonical `R`, `S ≥ L`,
//! non-canonical keys), each with the answer of this project's rule (`usso_shared::ed25519`),
//! built from scratch with `curve25519-dalek` so that the signatures satisfy exactly the
//! equations the cases are about. The cross-runtime test (`origin/tests/it/ed25519_vectors.rs`)
//! checks the answers in every runtime.
//!
//! `cargo run -p usso-shared --example ed25519_edge_cases > tests/ed25519/edge_cases.json`

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity};
use sha2::{Digest, Sha512};
use usso_shared::encoding::hex_encode;

fn scalar(seed: u8) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&Sha512::digest([seed; 7]).into())
}

fn k(r: &[u8; 32], a: &[u8; 32], m: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(m);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

fn sig(r: &[u8; 32], s: &[u8; 32]) -> String {
    hex_encode(&[&r[..], &s[..]].concat())
}

struct Case {
    name: String,
    pk: [u8; 32],
    msg: Vec<u8>,
    sig: String,
    valid: bool,
    why: &'static str,
}

/// A message (a counter after `prefix`) whose `k` satisfies `pred`.
fn find_msg(r: &[u8; 32], a: &[u8; 32], prefix: &str, pred: impl Fn(&Scalar) -> bool) -> Vec<u8> {
    (0u32..)
        .map(|i| format!("{prefix} {i}").into_bytes())
        .find(|m| pred(&k(r, a, m)))
        .expect("some message")
}

fn main() {
    let mut cases = Vec::new();
    let a = scalar(1);
    let big_a = EdwardsPoint::mul_base(&a);
    let a_enc = big_a.compress().to_bytes();
    let identity = EdwardsPoint::identity().compress().to_bytes();

    // An ordinary signature, and the same with another message.
    let r = scalar(2);
    let r_enc = EdwardsPoint::mul_base(&r).compress().to_bytes();
    let m = b"ordinary message".to_vec();
    let s = r + k(&r_enc, &a_enc, &m) * a;
    cases.push(Case {
        name: "ordinary".into(),
        pk: a_enc,
        msg: m.clone(),
        sig: sig(&r_enc, &s.to_bytes()),
        valid: true,
        why: "a signature made by the book",
    });
    cases.push(Case {
        name: "ordinary, other message".into(),
        pk: a_enc,
        msg: b"ordinary messagf".to_vec(),
        sig: sig(&r_enc, &s.to_bytes()),
        valid: false,
        why: "the equation fails",
    });

    // S + L: the same scalar, a second encoding (malleability).
    let mut s_plus_l = [0u8; 32];
    let (mut carry, l) = (0u16, Scalar::ZERO - Scalar::ONE);
    let mut l_bytes = l.to_bytes();
    l_bytes[0] += 1; // L itself (L - 1 + 1; no carry: L's low byte is 0xed)
    for (i, (x, y)) in s.to_bytes().iter().zip(l_bytes).enumerate() {
        let v = u16::from(*x) + u16::from(y) + carry;
        s_plus_l[i] = v as u8;
        carry = v >> 8;
    }
    cases.push(Case {
        name: "S + L".into(),
        pk: a_enc,
        msg: m.clone(),
        sig: sig(&r_enc, &s_plus_l),
        valid: false,
        why: "S is not reduced below L (a malleated copy of a valid signature)",
    });
    let mut s_high = s.to_bytes();
    s_high[31] |= 0x80;
    cases.push(Case {
        name: "S with the top bit set".into(),
        pk: a_enc,
        msg: m.clone(),
        sig: sig(&r_enc, &s_high),
        valid: false,
        why: "S is not reduced below L",
    });

    // Small-order public keys: with R = identity and S = 0 the cofactorless equation holds for
    // every message whose k is a multiple of the key's order: lax verifiers accept anything.
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        let t_enc = t.compress().to_bytes();
        let msg = find_msg(&identity, &t_enc, "any message", |k| (k * t).is_identity());
        cases.push(Case {
            name: format!("small-order public key #{i}, R = identity, S = 0"),
            pk: t_enc,
            msg,
            sig: sig(&identity, &[0; 32]),
            valid: false,
            why: "the key has small order (the equation holds, so lax verifiers accept)",
        });
    }

    // Small-order R with an ordinary key.
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        let t_enc = t.compress().to_bytes();
        let msg = format!("small-order R {i}").into_bytes();
        let s = k(&t_enc, &a_enc, &msg) * a;
        let why = if i == 0 {
            "R has small order (R = identity: the cofactorless equation holds, so lax verifiers accept)"
        } else {
            "R has small order (only the cofactored equation holds)"
        };
        cases.push(Case {
            name: format!("small-order R #{i}, S = k·a"),
            pk: a_enc,
            msg,
            sig: sig(&t_enc, &s.to_bytes()),
            valid: false,
            why,
        });
    }

    // Non-canonical R: y = p + 1 encodes the identity too.
    let mut r_nc = [0xffu8; 32];
    r_nc[0] = 0xee;
    r_nc[31] = 0x7f;
    assert_eq!(
        CompressedEdwardsY(r_nc)
            .decompress()
            .map(|p| p.is_identity()),
        Some(true)
    );
    let msg = b"non-canonical R".to_vec();
    let s_nc = k(&r_nc, &a_enc, &msg) * a;
    cases.push(Case {
        name: "non-canonical R (y = p + 1, the identity)".into(),
        pk: a_enc,
        msg,
        sig: sig(&r_nc, &s_nc.to_bytes()),
        valid: false,
        why: "R is not canonically encoded",
    });
    // Negative zero: x = 0 with the sign bit set.
    let mut r_neg0 = identity;
    r_neg0[31] |= 0x80;
    let msg = b"negative zero R".to_vec();
    let s_n0 = k(&r_neg0, &a_enc, &msg) * a;
    cases.push(Case {
        name: "R = identity with the sign bit set".into(),
        pk: a_enc,
        msg,
        sig: sig(&r_neg0, &s_n0.to_bytes()),
        valid: false,
        why: "R is not canonically encoded",
    });

    // R not on the curve.
    let off = (2u8..)
        .map(|y| {
            let mut b = [0u8; 32];
            b[0] = y;
            b
        })
        .find(|b| CompressedEdwardsY(*b).decompress().is_none())
        .unwrap();
    cases.push(Case {
        name: "R not on the curve".into(),
        pk: a_enc,
        msg: m.clone(),
        sig: sig(&off, &s.to_bytes()),
        valid: false,
        why: "R is no curve point",
    });

    // Mixed-order key A' = aB + T (T of order 8): the cofactorless equation holds only when
    // 8 divides k.
    let t8 = EIGHT_TORSION[1];
    let mixed = (big_a + t8).compress().to_bytes();
    let r = scalar(3);
    let r_enc = EdwardsPoint::mul_base(&r).compress().to_bytes();
    let msg = find_msg(&r_enc, &mixed, "mixed", |k| k.to_bytes()[0] & 7 == 0);
    let s = r + k(&r_enc, &mixed, &msg) * a;
    cases.push(Case {
        name: "mixed-order key, 8 divides k".into(),
        pk: mixed,
        msg,
        sig: sig(&r_enc, &s.to_bytes()),
        valid: true,
        why: "the key is not of small order and the cofactorless equation holds",
    });
    let msg = find_msg(&r_enc, &mixed, "mixed", |k| k.to_bytes()[0] & 7 != 0);
    let s = r + k(&r_enc, &mixed, &msg) * a;
    cases.push(Case {
        name: "mixed-order key, 8 does not divide k".into(),
        pk: mixed,
        msg,
        sig: sig(&r_enc, &s.to_bytes()),
        valid: false,
        why: "only the cofactored equation holds",
    });

    // A non-canonical key: y + p for a small y that is on the curve.
    let (y, _) = (2u8..19)
        .map(|y| {
            let mut b = [0u8; 32];
            b[0] = y;
            (y, b)
        })
        .find(|(_, b)| CompressedEdwardsY(*b).decompress().is_some())
        .expect("a small y on the curve");
    let mut nc = [0xffu8; 32];
    nc[0] = 0xed + y;
    nc[31] = 0x7f;
    assert!(CompressedEdwardsY(nc).decompress().is_some());
    cases.push(Case {
        name: format!("non-canonical public key (y = p + {y})"),
        pk: nc,
        msg: m.clone(),
        sig: sig(&r_enc, &[0; 32]),
        valid: false,
        why: "the key is not canonically encoded",
    });

    let _ = ED25519_BASEPOINT_POINT;
    let rows: Vec<serde_json::Value> = cases
        .into_iter()
        .map(|c| serde_json::json!({"name": c.name, "pk": hex_encode(&c.pk), "msg": hex_encode(&c.msg), "sig": c.sig, "valid": c.valid, "why": c.why}))
        .collect();
    println!("{}", serde_json::to_string_pretty(&serde_json::json!({
        "about": "Ed25519 edge cases with the answers of usso_shared::ed25519; made by shared/examples/ed25519_edge_cases.rs",
        "cases": rows,
    })).unwrap());
}
