//! The Ed25519 rule (`usso_shared::ed25519`) on the project's own edge cases
//! (`tests/ed25519/edge_cases.json`): each answer is the one the file states, and the cases
//! where lax verification accepts really are accepted by it — so the rule's byte-level checks,
//! not the equation, are what refuse them (the checks WebCrypto on Workers relies on).

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;
use usso_shared::ed25519;
use usso_shared::encoding::hex_decode_vec;

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/ed25519/edge_cases.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn bytes<const N: usize>(v: &Value) -> [u8; N] {
    hex_decode_vec(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn the_rule_answers_every_edge_case_as_written() {
    let cases = cases();
    assert!(cases.len() >= 20);
    for c in &cases {
        let (pk, sig): ([u8; 32], [u8; 64]) = (bytes(&c["pk"]), bytes(&c["sig"]));
        let msg = hex_decode_vec(c["msg"].as_str().unwrap()).unwrap();
        let accepted = ed25519::public_key(&pk).is_ok_and(|k| ed25519::verify(&k, &msg, &sig));
        assert_eq!(accepted, c["valid"].as_bool().unwrap(), "{}", c["name"]);
    }
}

#[test]
fn lax_verification_accepts_what_the_byte_checks_refuse() {
    let lax: Vec<&Value> = Vec::leak(cases())
        .iter()
        .filter(|c| c["why"].as_str().unwrap().contains("lax verifiers accept"))
        .collect();
    assert!(lax.len() >= 3, "small-order keys and R = identity");
    for c in lax {
        let (pk, sig): ([u8; 32], [u8; 64]) = (bytes(&c["pk"]), bytes(&c["sig"]));
        let msg = hex_decode_vec(c["msg"].as_str().unwrap()).unwrap();
        let key = VerifyingKey::from_bytes(&pk).unwrap();
        assert!(
            key.verify(&msg, &Signature::from_bytes(&sig)).is_ok(),
            "{}: the plain equation holds",
            c["name"]
        );
        assert!(key
            .verify_strict(&msg, &Signature::from_bytes(&sig))
            .is_err());
    }
}
