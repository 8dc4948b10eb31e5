//! Hot-path benchmarks: a full access-token verification against a bare Ed25519 `verify_strict`
//! of the same signing input (the baseline, measured in the same run), signing, and scope checks.
//!
//! Run: `cargo bench -p usso-shared --bench token`; the ratios go to `docs/benchmarks.md`.

use std::hint::black_box;

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::Signature;
use usso_shared::claims::{AccessClaims, Audience, ACCESS};
use usso_shared::keys::{KeyPair, KeyRing};
use usso_shared::scope;
use usso_shared::token::{self, TokenTimes, UnverifiedToken, Validation};

const NOW: i64 = 1_780_000_000;
const ISS: &str = "https://sso.example.com";

fn claims() -> AccessClaims {
    AccessClaims {
        jti: "Zq3k1w4b2c9d8e7f6a5b4c3d2e1f0a9b".into(),
        token_type: ACCESS.into(),
        iss: ISS.into(),
        aud: Some(Audience::One("usso".into())),
        sub: "user:0f6f9a0e-0000-4000-8000-000000000001".into(),
        user_id: Some("0f6f9a0e-0000-4000-8000-000000000001".into()),
        session_id: Some("sess_4b2c9d8e7f6a5b4c".into()),
        tenant_id: Some("org_default".into()),
        workspace_id: None,
        roles: vec!["admin".into(), "editor".into()],
        scopes: vec![
            "read:users".into(),
            "update:users/*?user_id=0f6f9a0e".into(),
            "manage:workspaces/*/files".into(),
        ],
        amr: vec!["password".into()],
        acr: Some("usso:acr:1".into()),
        email: Some("ada@example.com".into()),
        phone: None,
        username: None,
        user_name: None,
        client_id: None,
        scope: None,
        cnf: None,
    }
}

fn bench_tokens(c: &mut Criterion) {
    let pair = KeyPair::from_secret(&[7u8; 32]);
    let mut ring = KeyRing::with_active(KeyPair::from_secret(&[8u8; 32]));
    ring.rotate(pair.clone(), NOW - 10, 86_400);
    let rules = Validation::new(ISS, Some("usso".into()), "org_default");
    let jwt = token::sign(&pair, TokenTimes::starting_at(NOW, 3600), &claims()).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = Signature::from_slice(&Base64UrlUnpadded::decode_vec(sig).unwrap()).unwrap();
    let vk = pair.verifying_key();
    // Same message, same signature: the cost floor of any verifier.
    assert!(vk.verify_strict(input.as_bytes(), &sig).is_ok());
    assert!(token::verify::<AccessClaims>(&jwt, &ring, &rules, NOW).is_ok());

    let mut g = c.benchmark_group("verify");
    g.bench_function("bare_verify_strict", |b| {
        b.iter(|| vk.verify_strict(black_box(input.as_bytes()), black_box(&sig)))
    });
    g.bench_function("full_access_verify", |b| {
        b.iter(|| token::verify::<AccessClaims>(black_box(&jwt), &ring, &rules, NOW))
    });
    // A DPoP-bound token with its proof (RFC 9449): the token's verification plus the proof's
    // (its own signature, the thumbprint, htm/htu/iat/ath); the replay write is the store's.
    let dpop_key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let htu = "https://sso.example.com/api/sso/v1/me";
    // A compact proof of `header` and `claims`, signed by `sign`.
    let compact = |header: serde_json::Value,
                   claims: serde_json::Value,
                   sign: &dyn Fn(&[u8]) -> Vec<u8>| {
        let enc = |v: serde_json::Value| Base64UrlUnpadded::encode_string(v.to_string().as_bytes());
        let (h, p) = (enc(header), enc(claims));
        let sig = sign(format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", Base64UrlUnpadded::encode_string(&sig))
    };
    let proof = compact(
        serde_json::json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP",
            "crv": "Ed25519", "x": Base64UrlUnpadded::encode_string(dpop_key.verifying_key().as_bytes())}}),
        serde_json::json!({"jti": "j-1", "htm": "GET", "htu": htu, "iat": NOW,
            "ath": usso_shared::dpop::access_token_hash(&jwt)}),
        &|m| {
            use ed25519_dalek::Signer;
            dpop_key.sign(m).to_bytes().to_vec()
        },
    );
    let expect = usso_shared::dpop::Expect {
        htm: "GET",
        htu,
        now: NOW,
        access_token: Some(&jwt),
        nonces: None,
    };
    assert!(usso_shared::dpop::verify(&proof, &expect).is_ok());
    g.bench_function("full_access_verify_with_dpop_proof", |b| {
        b.iter(|| {
            let v = token::verify::<AccessClaims>(black_box(&jwt), &ring, &rules, NOW);
            let p = usso_shared::dpop::verify(black_box(&proof), &expect);
            (v.is_ok(), p.is_ok())
        })
    });
    // The same with a P-256 key (ES256, openid-client's default) and a server nonce.
    let nonces = usso_shared::dpop::Nonces::new(&pair, "org_bench");
    let es_key = p256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into()).unwrap();
    let es_proof = compact(
        serde_json::json!({"typ": "dpop+jwt", "alg": "ES256",
            "jwk": usso_shared::client_key::ClientKey::P256(*es_key.verifying_key()).to_jwk()}),
        serde_json::json!({"jti": "j-2", "htm": "GET", "htu": htu, "iat": NOW,
            "ath": usso_shared::dpop::access_token_hash(&jwt), "nonce": nonces.issue(NOW)}),
        &|m| {
            use p256::ecdsa::signature::Signer;
            let sig: p256::ecdsa::Signature = es_key.sign(m);
            sig.to_bytes().to_vec()
        },
    );
    let es_expect = usso_shared::dpop::Expect {
        nonces: Some(&nonces),
        ..expect
    };
    assert!(usso_shared::dpop::verify(&es_proof, &es_expect).is_ok());
    g.bench_function("full_access_verify_with_es256_dpop_proof_and_nonce", |b| {
        b.iter(|| {
            let v = token::verify::<AccessClaims>(black_box(&jwt), &ring, &rules, NOW);
            let p = usso_shared::dpop::verify(black_box(&es_proof), &es_expect);
            (v.is_ok(), p.is_ok())
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| UnverifiedToken::parse(black_box(&jwt)).map(|t| t.kid().len()))
    });
    g.finish();

    let claims = claims();
    c.bench_function("sign_access", |b| {
        b.iter(|| {
            token::sign(
                &pair,
                TokenTimes::starting_at(NOW, 3600),
                black_box(&claims),
            )
        })
    });
}

fn bench_scopes(c: &mut Criterion) {
    let granted = claims().scopes;
    let mut g = c.benchmark_group("scope");
    g.bench_function("check_access_hit", |b| {
        b.iter(|| {
            scope::check_access(
                black_box(&granted),
                black_box("workspaces/w1/files"),
                black_box("update"),
                &[],
            )
        })
    });
    g.bench_function("check_access_miss", |b| {
        b.iter(|| {
            scope::check_access(
                black_box(&granted),
                black_box("tenants/t1"),
                black_box("delete"),
                &[("user_id", "u2")],
            )
        })
    });
    g.bench_function("is_authorized", |b| {
        b.iter(|| {
            scope::is_authorized(
                black_box(&granted),
                black_box("update:users/42?user_id=0f6f9a0e"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_tokens, bench_scopes);
criterion_main!(benches);
