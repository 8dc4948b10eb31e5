//! Interoperability with the npm `jose` library (software nobody here wrote).
//!
//! Tokens and the JWKS made by `usso-shared` are verified by `jose.jwtVerify` with both
//! `createLocalJWKSet` and `createRemoteJWKSet` (served over HTTP by the driver), and tokens signed
//! by `jose` with its own Ed25519 keys are verified by `usso-shared`.
//!
//! Needs Node.js and `tests/node_modules` (installed by `scripts/test.sh`). Missing tools fail the
//! test with a message; they never skip it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use usso_shared::claims::{AccessClaims, Audience, ACCESS};
use usso_shared::keys::{kid_for, Jwk, Jwks, KeyPair, KeyRing};
use usso_shared::token::{self, TokenTimes, Validation};
use usso_shared::ErrorCode;

const ISS: &str = "https://sso.example.com";
const TENANT: &str = "org_default";

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

/// Runs the jose driver and returns its JSON answer.
fn jose(mode: &str, input: &Value) -> Value {
    let dir = tests_dir();
    assert!(
        dir.join("node_modules/jose/package.json").exists(),
        "npm `jose` is not installed in {}: run scripts/test.sh (it runs `npm install` there)",
        dir.display()
    );
    let file = std::env::temp_dir().join(format!(
        "usso-jose-{}-{}.json",
        std::process::id(),
        usso_shared::random::hex_id().unwrap()
    ));
    std::fs::write(&file, input.to_string()).unwrap();
    let out = Command::new("node")
        .arg(dir.join("interop/jose.mjs"))
        .arg(mode)
        .arg(&file)
        .output()
        .expect("node must be installed to run the jose interop tests");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "jose driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("jose driver prints JSON")
}

fn claims(aud: Option<&str>, jti: &str) -> AccessClaims {
    AccessClaims {
        jti: jti.into(),
        token_type: ACCESS.into(),
        iss: ISS.into(),
        aud: aud.map(|a| Audience::One(a.into())),
        sub: "user:0f6f9a0e-0000-4000-8000-000000000001".into(),
        user_id: Some("0f6f9a0e-0000-4000-8000-000000000001".into()),
        session_id: Some("sess-1".into()),
        tenant_id: Some(TENANT.into()),
        workspace_id: None,
        roles: vec!["admin".into()],
        scopes: vec!["read:users".into(), "update:users/*?user_id=u1".into()],
        amr: vec!["password".into()],
        acr: Some("usso:acr:1".into()),
        email: Some("émilie@example.com".into()),
        phone: None,
        username: None,
        user_name: None,
        client_id: None,
        scope: None,
        cnf: None,
    }
}

#[test]
fn jose_verifies_our_tokens_with_local_and_remote_jwks() {
    let now = 1_780_000_000;
    let old = KeyPair::generate().unwrap();
    let new = KeyPair::generate().unwrap();
    let outsider = KeyPair::generate().unwrap();
    let mut ring = KeyRing::with_active(old.clone());
    ring.rotate(new.clone(), now - 60, 86_400);
    let jwks = ring.jwks(now);
    assert_eq!(jwks.keys.len(), 2, "active and previous key are published");

    let times = TokenTimes::starting_at(now - 10, 3600);
    let by_old = token::sign(&old, times, &claims(Some("usso"), "a")).unwrap();
    let by_new = token::sign(ring.signer().unwrap(), times, &claims(Some("usso"), "b")).unwrap();
    let no_aud = token::sign(&new, times, &claims(None, "c")).unwrap();
    let expired = token::sign(
        &new,
        TokenTimes::starting_at(now - 7200, 3600),
        &claims(Some("usso"), "d"),
    )
    .unwrap();
    let foreign = token::sign(&outsider, times, &claims(Some("usso"), "e")).unwrap();
    // The payload of one token under the signature of another: well-formed, wrongly signed.
    let tampered = {
        let mut parts: Vec<&str> = by_new.split('.').collect();
        parts[1] = by_old.split('.').nth(1).unwrap();
        parts.join(".")
    };

    let input = json!({
        "now": now,
        "jwks": jwks,
        "tokens": [
            {"token": by_old, "issuer": ISS, "audience": "usso"},
            {"token": by_new, "issuer": ISS, "audience": "usso"},
            {"token": no_aud, "issuer": ISS},
            {"token": by_new, "issuer": ISS, "audience": "someone-else"},
            {"token": by_new, "issuer": "https://evil.example", "audience": "usso"},
            {"token": expired, "issuer": ISS, "audience": "usso"},
            {"token": foreign, "issuer": ISS, "audience": "usso"},
            {"token": tampered, "issuer": ISS, "audience": "usso"},
        ],
    });
    let results = jose("verify", &input);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 8);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(
            r["local"]["ok"], r["remote"]["ok"],
            "token {i}: local and remote JWKS agree: {r}"
        );
    }
    let ok = |i: usize| results[i]["local"]["ok"] == json!(true);
    let code = |i: usize| {
        results[i]["remote"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(ok(0) && ok(1) && ok(2), "valid tokens verify: {results:?}");
    assert_eq!(code(3), "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert_eq!(code(4), "ERR_JWT_CLAIM_VALIDATION_FAILED");
    assert_eq!(code(5), "ERR_JWT_EXPIRED");
    assert_eq!(code(6), "ERR_JWKS_NO_MATCHING_KEY");
    assert!(!ok(7), "a tampered token fails in jose");

    // jose sees exactly the claims the SDKs expect: integer times, string aud, null identity fields.
    let p = &results[1]["local"]["payload"];
    assert_eq!(p["aud"], json!("usso"));
    assert_eq!(p["iat"], json!(now - 10));
    assert_eq!(p["exp"], json!(now - 10 + 3600));
    assert_eq!(p["phone"], Value::Null);
    assert!(p.as_object().unwrap().contains_key("phone"));
    assert_eq!(p["email"], json!("émilie@example.com"));
    assert_eq!(p["token_type"], json!("access"));
    let h = &results[1]["local"]["header"];
    assert_eq!(h["alg"], json!("EdDSA"));
    assert_eq!(h["kid"], json!(new.kid()));
    assert!(results[2]["local"]["payload"].get("aud").is_none());
}

#[test]
fn we_verify_tokens_signed_by_jose() {
    let now = 1_780_000_000;
    let mut payload = serde_json::to_value(claims(Some("usso"), "jose-1")).unwrap();
    payload.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    let signed = jose("sign", &json!({"now": now, "claims": payload}));
    let jwk: Jwk = serde_json::from_value(signed["jwk"].clone()).unwrap();
    let token = signed["token"].as_str().unwrap();

    // jose's SPKI DER hashes to the same kid we derive from the raw key.
    let key = jwk.to_key().unwrap();
    assert_eq!(
        Some(kid_for(&key)),
        jwk.kid,
        "kid derivation agrees with jose's SPKI export"
    );

    let ring = KeyRing::from_jwks(&Jwks { keys: vec![jwk] });
    let rules = Validation::new(ISS, Some("usso".into()), TENANT);
    let verified = token::verify::<AccessClaims>(token, &ring, &rules, now).unwrap();
    assert_eq!(verified.claims().jti, "jose-1");
    assert_eq!(verified.claims().phone, None);
    assert_eq!(verified.times().exp, now + 3600);

    // Out of time, wrong audience, and an unknown key all fail with the right codes.
    assert_eq!(
        token::verify::<AccessClaims>(token, &ring, &rules, now + 3600 + 31)
            .unwrap_err()
            .code(),
        ErrorCode::TokenExpired
    );
    let other = Validation::new(ISS, Some("other".into()), TENANT);
    assert_eq!(
        token::verify::<AccessClaims>(token, &ring, &other, now)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidToken
    );
    let empty = KeyRing::new();
    assert_eq!(
        token::verify::<AccessClaims>(token, &empty, &rules, now)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidToken
    );
}
