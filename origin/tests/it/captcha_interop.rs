//! Interoperability of the captcha with the npm `altcha-lib` (software nobody here wrote), through
//! its `altcha-lib/v1` API: the SHA-256 proof of work of the ALTCHA widget v1/v2.
//!
//! (1) altcha-lib solves our challenges and we accept its payloads; (2) challenges created and
//! solved by altcha-lib under the same key verify with ours; (3) payloads we accept are accepted
//! by altcha-lib's `verifySolution`, and the forgeries we refuse are refused by it too.
//!
//! Needs Node.js and `tests/node_modules` (installed by `npm install` in `tests/`). Missing tools
//! fail the test with a message; they never skip it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use usso_origin::authn::captcha::{
    create_challenge, solve, verify_solution, CaptchaConfig, Challenge,
};
use usso_shared::clock::{Clock, SystemClock};
use usso_shared::encoding::{b64_decode, hex_encode};
use usso_shared::seal::SecretKey;
use usso_shared::ErrorCode;

/// 32 bytes of ASCII text: altcha-lib keys its HMAC with the UTF-8 bytes of a string.
const KEY: &[u8; 32] = b"usso-captcha-interop-key-0123456";
const OTHER_KEY: &[u8; 32] = b"usso-captcha-interop-key-6543210";

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

/// Runs the altcha-lib driver and returns its JSON answer.
fn altcha(args: &[&str]) -> Value {
    let dir = tests_dir();
    assert!(
        dir.join("node_modules/altcha-lib/package.json").exists(),
        "npm `altcha-lib` is not installed in {}: run `npm install` there (scripts/test.sh does)",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join("interop/altcha.mjs"))
        .args(args)
        .output()
        .expect("node must be installed to run the altcha interop tests");
    assert!(
        out.status.success(),
        "altcha driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("altcha driver prints JSON")
}

fn config(key: &[u8; 32], max_number: u64) -> CaptchaConfig {
    CaptchaConfig {
        max_number,
        ..CaptchaConfig::new(SecretKey::from_bytes(*key))
    }
}

fn now() -> i64 {
    SystemClock.now()
}

/// altcha-lib's `verifySolution` (with its expiry check, on the real clock) on a payload.
fn altcha_accepts(key: &[u8; 32], payload: &str) -> bool {
    let r = altcha(&["verify", &hex_encode(key), payload]);
    r["verified"]
        .as_bool()
        .unwrap_or_else(|| panic!("verify answers a boolean: {r}"))
}

#[test]
fn altcha_lib_solves_our_challenge_and_we_accept_its_payload() {
    // The production defaults: difficulty 100 000, five minutes.
    let cfg = CaptchaConfig::new(SecretKey::from_bytes(*KEY));
    let now = now();
    let challenge = create_challenge(&cfg, now).unwrap();
    let file = std::env::temp_dir().join(format!(
        "usso-altcha-{}-{}.json",
        std::process::id(),
        usso_shared::random::hex_id().unwrap()
    ));
    std::fs::write(&file, serde_json::to_string(&challenge).unwrap()).unwrap();
    let solved = altcha(&["solve", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);

    let number = solved["number"].as_u64().expect("a number");
    assert_eq!(Some(number), solve(&challenge).map(|s| s.number));
    let payload = solved["payload"].as_str().unwrap();
    // The widget's payload: base64 JSON of the five fields plus `took`.
    let json: Value = serde_json::from_slice(&b64_decode(payload).unwrap()).unwrap();
    assert_eq!(json["number"], number);
    assert_eq!(json["salt"], challenge.salt.as_str());
    assert!(json.get("took").is_some());

    let verified = verify_solution(&cfg, payload, now).expect("altcha-lib's payload verifies");
    assert_eq!(verified.challenge(), challenge.challenge);
    assert_eq!(verified.expires_at(), now + cfg.ttl_secs);
    // And altcha-lib agrees with itself on our challenge.
    assert!(altcha_accepts(KEY, payload));
}

#[test]
fn we_verify_challenges_created_and_solved_by_altcha_lib() {
    let cfg = config(KEY, 100_000);
    let made = altcha(&["create", &hex_encode(KEY), "600", "50000"]);
    assert_eq!(made["self_verified"], true, "{made}");
    let challenge: Challenge = serde_json::from_value(made["challenge"].clone()).unwrap();
    assert_eq!(challenge.algorithm, "SHA-256");
    assert_eq!(challenge.maxnumber, 50_000);
    let payload = made["payload"].as_str().unwrap();

    let now = now();
    let verified = verify_solution(&cfg, payload, now).expect("altcha-lib's challenge verifies");
    assert_eq!(verified.challenge(), challenge.challenge);
    assert!(
        (now + 590..=now + 610).contains(&verified.expires_at()),
        "expiry read from altcha-lib's salt {}",
        challenge.salt
    );
    assert_eq!(
        verified.replay_key(),
        format!("usso:captcha:{}", challenge.challenge)
    );
    // Our solver finds altcha-lib's secret number too.
    assert_eq!(solve(&challenge).map(|s| s.number), made["number"].as_u64());

    // Past its expiry, under another key, or below the number: refused.
    let late = verify_solution(&cfg, payload, verified.expires_at() + 1).unwrap_err();
    assert!(late.detail().contains("expired"), "{late}");
    let other = verify_solution(&config(OTHER_KEY, 100_000), payload, now).unwrap_err();
    assert!(other.detail().contains("signature"), "{other}");
    let number = made["number"].as_u64().unwrap();
    if number > 0 {
        let low = verify_solution(&config(KEY, number - 1), payload, now).unwrap_err();
        assert!(low.detail().contains("maximum"), "{low}");
    }

    // altcha-lib makes challenges without an expiry when asked; we refuse those.
    let forever = altcha(&["create", &hex_encode(KEY), "none", "1000"]);
    assert_eq!(forever["self_verified"], true);
    let e = verify_solution(&cfg, forever["payload"].as_str().unwrap(), now).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert!(e.detail().contains("no expiry"), "{e}");
}

#[test]
fn altcha_lib_accepts_what_we_accept_and_refuses_what_we_refuse() {
    let cfg = config(KEY, 5_000);
    let now = now();
    let challenge = create_challenge(&cfg, now).unwrap();
    let good = solve(&challenge).unwrap();

    let mut bad_signature = good.clone();
    bad_signature.signature = hex_encode(&[0xab; 32]);
    let mut bad_number = good.clone();
    bad_number.number = good.number + 1;
    let mut bad_algorithm = good.clone();
    bad_algorithm.algorithm = "SHA-512".into();
    let expired = solve(&create_challenge(&cfg, now - 1_000).unwrap()).unwrap();

    let raw_json = serde_json::to_string(&good).unwrap();
    let cases: [(&str, String, bool); 6] = [
        ("valid", good.to_payload(), true),
        ("valid, JSON text", raw_json, true),
        ("tampered signature", bad_signature.to_payload(), false),
        ("wrong number", bad_number.to_payload(), false),
        ("other algorithm", bad_algorithm.to_payload(), false),
        ("expired", expired.to_payload(), false),
    ];
    for (name, payload, valid) in &cases {
        let ours = verify_solution(&cfg, payload, now);
        assert_eq!(ours.is_ok(), *valid, "{name}: ours says {ours:?}");
        assert_eq!(altcha_accepts(KEY, payload), *valid, "{name}: altcha-lib");
    }
    // Under another key altcha-lib refuses our valid payload.
    assert!(!altcha_accepts(OTHER_KEY, &good.to_payload()));

    // The salt carries the expiry where altcha-lib reads it.
    let r = altcha(&["verify", &hex_encode(KEY), &good.to_payload()]);
    assert_eq!(
        r["params"]["expires"],
        Value::String((now + cfg.ttl_secs).to_string())
    );
}
