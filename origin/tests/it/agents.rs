//! Service accounts (issue 14): created by an administrator or registered with a one-time key,
//! signing their own JWTs (the Python SDK's `kid` flavour and the Rust SDK's `iss` flavour),
//! exchanged for access tokens within their scopes; every refusal the issue lists.

use ed25519_dalek::{Signer, SigningKey};
use reqwest::Client;
use serde_json::{json, Value};
use usso_shared::encoding::b64url_encode;

use crate::support::{
    api, claims_of, code, password_sign_in, python_interop, server_with_admin, Auth, Reply, Server,
    ADMIN_EMAIL, ADMIN_PASSWORD,
};

async fn call(
    c: &Client,
    s: &Server,
    m: &str,
    p: &str,
    bearer: Option<&str>,
    b: Option<Value>,
) -> Reply {
    let auth = bearer.map_or(Auth::None, Auth::Bearer);
    api(c, s, m, p, "org_default", auth, b.as_ref()).await
}

/// An Ed25519 key's public half as PEM (SubjectPublicKeyInfo).
fn pem(k: &SigningKey) -> String {
    usso_origin::identity::agents::spki_pem(k.verifying_key().as_bytes())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A JWT from raw header and claims text, signed by `key` (or unsigned: `h.p.`).
fn jwt(header: &str, claims: &str, key: Option<&SigningKey>) -> String {
    let signed = format!(
        "{}.{}",
        b64url_encode(header.as_bytes()),
        b64url_encode(claims.as_bytes())
    );
    match key {
        Some(k) => format!(
            "{signed}.{}",
            b64url_encode(&k.sign(signed.as_bytes()).to_bytes())
        ),
        None => format!("{signed}."),
    }
}

/// The agent JWT the official Rust SDK (crate `usso` 0.4.1, `generate_agent_jwt`, audience
/// `sso`) makes for `agent` with `key`: built once from tests/interop/usso-rs (its own
/// dependency tree, in target/interop), then run with the key as PKCS#8 PEM on stdin.
fn rust_sdk_jwt(agent: &str, scopes: &[&str], key: &SigningKey) -> String {
    use std::io::Write;
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let bin = BUILT.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = root.join("target/interop");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(root.join("tests/interop/usso-rs/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cargo");
        assert!(
            status.success(),
            "building the Rust SDK's agent tool failed"
        );
        target.join("release/usso-rs-agent-jwt")
    });
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(key.as_bytes());
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        <base64ct::Base64 as base64ct::Encoding>::encode_string(&der)
    );
    let mut child = std::process::Command::new(bin)
        .arg(agent)
        .args(scopes)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the Rust SDK's agent tool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let jwt = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // What this flavour is: no kid, `Ed25519`, iss = the agent, signed.
    let header: Value = serde_json::from_slice(
        &usso_shared::encoding::b64url_decode(jwt.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header, json!({"alg": "Ed25519", "typ": "JWT"}), "{jwt}");
    assert!(!jwt.ends_with('.'), "signed: {jwt}");
    jwt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_register_sign_in_with_their_keys_and_every_bad_token_is_refused() {
    let (_data, s) = server_with_admin("agents");
    let c = Client::new();
    let r = password_sign_in(&c, &s, "/auth/login", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let boss = r.1["access_token"].as_str().unwrap().to_owned();
    let r = password_sign_in(
        &c,
        &s,
        "/auth/register",
        "pat@example.com",
        "pat password 1",
    )
    .await;
    let pat = r.1["access_token"].as_str().unwrap().to_owned();

    // Registration by the official Python SDK with a key boss made.
    let r = call(
        &c,
        &s,
        "POST",
        "/agents/registration-keys",
        Some(&boss),
        None,
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let reg_key = r.1["registration_key"].as_str().unwrap().to_owned();
    let seen = python_interop("usso_agent_sdk.py", &[&s.base, &reg_key]);
    let sdk_agent = seen["registered"]["id"].as_str().unwrap().to_owned();
    assert!(sdk_agent.starts_with("service:"), "{seen}");
    assert_eq!(
        seen["registered"]["scopes"],
        json!(["read:usso/users"]),
        "{seen}"
    );
    let claims = &seen["token_claims"];
    assert_eq!(claims["sub"], sdk_agent.as_str(), "{seen}");
    assert_eq!(claims["user_id"], Value::Null, "{seen}");
    assert_eq!(claims["session_id"], Value::Null, "{seen}");
    assert_eq!(claims["tenant_id"], "org_default", "{seen}");
    assert_eq!(claims["scopes"], json!(["read:usso/users"]), "{seen}");
    assert!(seen["users"].as_u64().unwrap() >= 2, "{seen}");
    assert_eq!(seen["with_iss"]["status"], 200, "{seen}");
    assert_eq!(
        seen["with_iss"]["body"]["scopes"],
        json!(["read:usso/users"]),
        "asked ∩ the agent's: {seen}"
    );
    assert_eq!(seen["replayed"], 401, "{seen}");
    assert_eq!(seen["other_audience"], 401, "{seen}");
    assert_eq!(seen["registration_reused"], 401, "{seen}");

    // pat cannot register an agent beyond pat's own scopes, nor administer agents.
    let r = call(
        &c,
        &s,
        "POST",
        "/agents/registration-keys",
        Some(&pat),
        None,
    )
    .await;
    let pat_key = r.1["registration_key"].as_str().unwrap().to_owned();
    let k2 = SigningKey::from_bytes(&[2u8; 32]);
    let r = call(
        &c,
        &s,
        "POST",
        "/agents/register",
        None,
        Some(json!({
        "registration_key": pat_key, "name": "x", "scopes": ["read:usso/users"],
        "alg": "ED25519", "verify_key": pem(&k2)})),
    )
    .await;
    assert_eq!(code(&r), (403, "permission_denied".into()), "{}", r.1);
    let r = call(&c, &s, "GET", "/agents", Some(&pat), None).await;
    assert_eq!(r.0, 403, "{}", r.1);

    // An administrator creates one; the official Rust SDK's JWT signs in.
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let bad_pems = [
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----".to_owned(),
        "not a key".to_owned(),
    ];
    for bad in &bad_pems {
        let r = call(
            &c,
            &s,
            "POST",
            "/agents",
            Some(&boss),
            Some(json!({"name": "x", "verify_key": bad})),
        )
        .await;
        assert_eq!(r.0, 422, "{}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/agents",
        Some(&boss),
        Some(json!({
        "name": "ci bot", "scopes": ["read:usso/users"], "verify_key": pem(&key)})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let agent = r.1["id"].as_str().unwrap().to_owned();
    let kid = r.1["keys"][0]["kid"].as_str().unwrap().to_owned();
    let r = call(
        &c,
        &s,
        "POST",
        "/agents",
        Some(&boss),
        Some(json!({
        "name": "twin", "verify_key": pem(&key)})),
    )
    .await;
    assert_eq!(r.0, 409, "one key, one agent: {}", r.1);

    let auth = |token: String| {
        let (c, s) = (&c, &s);
        async move { call(c, s, "POST", "/agents/auth", Some(&token), None).await }
    };
    let r = auth(rust_sdk_jwt(&agent, &["read:usso/users"], &key)).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let access = r.1["tokens"]["access"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&access)["sub"], agent.as_str());
    let r = call(&c, &s, "GET", "/users", Some(&access), None).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let r = call(&c, &s, "GET", "/roles", Some(&access), None).await;
    assert_eq!(r.0, 403, "{}", r.1);
    for (m, p) in [
        ("POST", "/auth/password/change"),
        ("GET", "/me/export"),
        ("POST", "/apikeys"),
    ] {
        let r = call(
            &c,
            &s,
            m,
            p,
            Some(&access),
            Some(json!({"new_password": "x", "name": "x"})),
        )
        .await;
        assert_eq!(r.0, 403, "a machine is not a person: {m} {p}: {}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/agents/scopes",
        Some(&rust_sdk_jwt(&agent, &[], &key)),
        None,
    )
    .await;
    assert_eq!(
        (
            r.0.as_u16(),
            r.1["scopes"].clone(),
            r.1["tenant_id"].clone()
        ),
        (200, json!(["read:usso/users"]), json!("org_default")),
        "{}",
        r.1
    );

    // Every refusal.
    let t = now();
    let good = |over: Value| {
        let mut c = json!({"iss": agent, "scopes": [], "aud": "sso", "exp": t + 300, "nbf": t,
            "iat": t, "jti": usso_shared::random::hex_id().unwrap()});
        for (k, v) in over.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    };
    let stranger = SigningKey::from_bytes(&[9u8; 32]);
    let ed = r#"{"alg":"Ed25519","typ":"JWT"}"#;
    let cases: Vec<(&str, String)> = vec![
        (
            "unsigned (what the Rust SDK emits when its key fails)",
            jwt(ed, &good(json!({})), None),
        ),
        (
            "alg EdDSA",
            jwt(r#"{"alg":"EdDSA"}"#, &good(json!({})), Some(&key)),
        ),
        ("alg none", jwt(r#"{"alg":"none"}"#, &good(json!({})), None)),
        (
            "alg HS256",
            jwt(r#"{"alg":"HS256"}"#, &good(json!({})), Some(&key)),
        ),
        ("another key", jwt(ed, &good(json!({})), Some(&stranger))),
        (
            "ten minutes",
            jwt(ed, &good(json!({"exp": t + 600})), Some(&key)),
        ),
        (
            "not yet",
            jwt(
                ed,
                &good(json!({"nbf": t + 120, "iat": t + 120, "exp": t + 300})),
                Some(&key),
            ),
        ),
        (
            "expired",
            jwt(
                ed,
                &good(json!({"iat": t - 400, "nbf": t - 400, "exp": t - 100})),
                Some(&key),
            ),
        ),
        (
            "audience",
            jwt(ed, &good(json!({"aud": "billing"})), Some(&key)),
        ),
        (
            "tenant",
            jwt(ed, &good(json!({"tenant_id": "acme"})), Some(&key)),
        ),
        (
            "unknown agent",
            jwt(
                ed,
                &good(json!({"iss": "service:00000000000000000000000000000000"})),
                Some(&key),
            ),
        ),
        (
            "kid of another agent",
            jwt(
                &format!(
                    r#"{{"alg":"ED25519","kid":"{}"}}"#,
                    seen["registered"]["keys"][0]["kid"].as_str().unwrap()
                ),
                &good(json!({})),
                Some(&key),
            ),
        ),
        (
            "duplicate claim",
            jwt(
                ed,
                &good(json!({})).replacen('{', r#"{"jti":"a","#, 1),
                Some(&key),
            ),
        ),
        (
            "duplicate header key",
            jwt(
                r#"{"alg":"Ed25519","alg":"Ed25519"}"#,
                &good(json!({})),
                Some(&key),
            ),
        ),
        (
            "oversized",
            jwt(ed, &good(json!({"scopes": ["x".repeat(9000)]})), Some(&key)),
        ),
        ("garbage", "a.b.c".into()),
    ];
    for (what, token) in cases {
        let r = auth(token).await;
        assert_eq!(
            code(&r),
            (401, "invalid_credentials".into()),
            "{what}: {}",
            r.1
        );
    }
    let replayed = rust_sdk_jwt(&agent, &[], &key);
    assert_eq!(auth(replayed.clone()).await.0, 200);
    assert_eq!(auth(replayed).await.0, 401, "replay");
    // The Python flavour with this agent's own kid and no iss.
    let py = jwt(
        &format!(r#"{{"alg":"ED25519","typ":"JWT","kid":"{kid}"}}"#),
        &json!({"scopes": [], "aud": "sso", "exp": t + 300, "nbf": t, "iat": t,
            "jti": "py-1", "tenant_id": null})
        .to_string(),
        Some(&key),
    );
    assert_eq!(auth(py).await.0, 200, "kid flavour");

    // Deactivated, then a key removed: refused.
    // Changes the agent as boss; the change must succeed.
    let patch_agent = |body: Value| {
        let (c, s, boss, agent) = (&c, &s, &boss, &agent);
        async move {
            let r = call(
                c,
                s,
                "PATCH",
                &format!("/agents/{agent}"),
                Some(boss),
                Some(body),
            )
            .await;
            assert_eq!(r.0, 200, "{}", r.1);
        }
    };
    patch_agent(json!({"is_active": false})).await;
    assert_eq!(
        auth(rust_sdk_jwt(&agent, &[], &key)).await.0,
        401,
        "inactive"
    );
    patch_agent(json!({"is_active": true, "scopes": ["read:usso/users", "delete:usso/users"]}))
        .await;
    let r = call(
        &c,
        &s,
        "PATCH",
        &format!("/agents/{agent}"),
        Some(&boss),
        Some(json!({"scopes": ["superadmin:usso/tenants"]})),
    )
    .await;
    assert_eq!(r.0, 403, "beyond boss's own: {}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        &format!("/agents/{agent}/keys"),
        Some(&boss),
        Some(json!({"verify_key": pem(&k2)})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let r = call(
        &c,
        &s,
        "DELETE",
        &format!("/agents/{agent}/keys/{kid}"),
        Some(&boss),
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        auth(rust_sdk_jwt(&agent, &[], &key)).await.0,
        401,
        "old key removed"
    );
    assert_eq!(auth(rust_sdk_jwt(&agent, &[], &k2)).await.0, 200, "new key");

    // An API key for the agent: its sub, within the agent's scopes, following the agent.
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys",
        Some(&pat),
        Some(json!({"name": "k", "agent_id": agent})),
    )
    .await;
    assert_eq!(r.0, 403, "pat may not make keys for agents: {}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys",
        Some(&boss),
        Some(json!({"name": "k", "agent_id": agent, "scopes": ["read:usso/roles"]})),
    )
    .await;
    assert_eq!(r.0, 403, "beyond the agent's scopes: {}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys",
        Some(&boss),
        Some(json!({"name": "k", "agent_id": "service:nope"})),
    )
    .await;
    assert_eq!(r.0, 422, "{}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys",
        Some(&boss),
        Some(json!({"name": "agent key", "agent_id": agent, "scopes": ["read:usso/users"]})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    assert_eq!(
        (r.1["agent_id"].clone(), r.1["user_id"].clone()),
        (json!(agent), Value::Null)
    );
    let agent_key = r.1["key"].as_str().unwrap().to_owned();
    let key_works = |k: String| {
        let (c, s) = (&c, &s);
        async move {
            call(
                c,
                s,
                "POST",
                "/apikeys/verify",
                None,
                Some(json!({"api_key": k})),
            )
            .await
        }
    };
    let r = key_works(agent_key.clone()).await;
    assert_eq!(
        (r.0.as_u16(), r.1["sub"].clone()),
        (200, json!(agent)),
        "{}",
        r.1
    );
    patch_agent(json!({"is_active": false})).await;
    assert_eq!(key_works(agent_key.clone()).await.0, 401, "agent inactive");
    patch_agent(json!({"is_active": true})).await;
    assert_eq!(key_works(agent_key.clone()).await.0, 200, "active again");
    patch_agent(json!({"scopes": ["delete:usso/users"]})).await;
    assert_eq!(
        key_works(agent_key.clone()).await.0,
        401,
        "the agent lost the key's scope"
    );
    patch_agent(json!({"scopes": ["read:usso/users", "delete:usso/users"]})).await;
    assert_eq!(key_works(agent_key.clone()).await.0, 200);

    // A tenant that switches agents off: none sign in, none are administered, their keys stop.
    let r = call(
        &c,
        &s,
        "PATCH",
        "/tenants/org_default",
        Some(&boss),
        Some(json!({"agents": {"enabled": false}})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        auth(rust_sdk_jwt(&agent, &[], &k2)).await.0,
        401,
        "agents off"
    );
    let r = call(&c, &s, "GET", "/agents", Some(&boss), None).await;
    assert_eq!(r.0, 403, "{}", r.1);
    assert_eq!(
        key_works(agent_key.clone()).await.0,
        401,
        "agents off: their keys stop"
    );
    s.stop();
}
