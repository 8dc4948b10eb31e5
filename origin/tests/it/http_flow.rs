//! HTTP-level tests against the real `usso-origin` binary (embedded stores, free port,
//! temporary data directory).

use std::collections::HashSet;
use std::process::Command;

use crate::support::{admin, free_port, post, temp_dir, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

fn assert_error(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error_code"], json!(code), "{}", got.1);
    assert!(got.1["message"]["en"].is_string(), "error shape: {}", got.1);
    assert!(got.1["message"]["fa"].is_string(), "error shape: {}", got.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_auth_flow_with_rotation_reuse_logout_and_restart() {
    let data = temp_dir("flow");
    let port = free_port();
    let s = Server::start(&data, port, &[]);
    let c = client();

    // Register, then log in.
    let reg = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "Ada@Example.com", "secret": "correct horse battery", "name": "Ada"}),
    )
    .await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    assert_eq!(reg.1["user"]["email"], json!("ada@example.com"));
    assert!(reg.1["user"].get("password_hash").is_none());
    let dup = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "ada@example.com", "secret": "another password"}),
    )
    .await;
    assert_error(&dup, 409, "conflict");

    let login = post(
        &c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "ada@example.com", "secret": "correct horse battery"}),
    )
    .await;
    assert_eq!(login.0, 200, "{}", login.1);
    let access = login.1["access_token"].as_str().unwrap().to_owned();
    let t0 = login.1["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(login.1["token"]["refresh_token"], json!(t0));
    assert_eq!(login.1["expires_in"], json!(3600));

    // Verify, me.
    let v = post(
        &c,
        s.url("/api/sso/v1/auth/verify-token"),
        &json!({"token": access}),
    )
    .await;
    assert_eq!(v.0, 200, "{}", v.1);
    assert_eq!(v.1["token_type"], json!("access"));
    assert_eq!(v.1["amr"], json!(["password"]));
    let me: Value = c
        .get(s.url("/api/sso/v1/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], json!("ada@example.com"));
    assert_eq!(me["name"], json!("Ada"));

    // Rotation: t0 → t1; t0 again within grace → t1; t1 → t2; t0 now is reuse.
    let r1 = post(
        &c,
        s.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t0}),
    )
    .await;
    assert_eq!(r1.0, 200, "{}", r1.1);
    let t1 = r1.1["refresh_token"].as_str().unwrap().to_owned();
    let r1b = post(
        &c,
        s.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t0}),
    )
    .await;
    assert_eq!(
        r1b.1["refresh_token"],
        json!(t1),
        "grace retry returns the same successor"
    );
    let r2 = post(
        &c,
        s.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t1}),
    )
    .await;
    let t2 = r2.1["refresh_token"].as_str().unwrap().to_owned();

    // Restart between steps: the session, the user and the keys survive.
    s.stop();
    let s = Server::start(&data, port, &[]);
    let r3 = post(
        &c,
        s.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t2}),
    )
    .await;
    assert_eq!(r3.0, 200, "session survives a restart: {}", r3.1);
    let t3 = r3.1["refresh_token"].as_str().unwrap().to_owned();
    let v = post(
        &c,
        s.url("/api/sso/v1/auth/verify-token"),
        &json!({"token": access}),
    )
    .await;
    assert_eq!(v.0, 200, "old access token verifies after restart");

    // Reuse of an old generation revokes the whole session.
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": t0}),
        )
        .await,
        401,
        "refresh_token_reused",
    );
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": t3}),
        )
        .await,
        401,
        "session_revoked",
    );

    // A new session; logout; refresh fails; strict verify fails.
    let login = post(
        &c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "ADA@example.com", "secret": "correct horse battery"}),
    )
    .await;
    let access = login.1["access_token"].as_str().unwrap().to_owned();
    let refresh = login.1["refresh_token"].as_str().unwrap().to_owned();
    let sessions: Value = c
        .get(s.url("/api/sso/v1/sessions"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // register, the first login (revoked by reuse) and this one.
    assert_eq!(sessions["total"], json!(3));
    assert_eq!(
        sessions["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["current"] == json!(true))
            .count(),
        1
    );
    let out = c
        .post(s.url("/api/sso/v1/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Max-Age=0")));
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": refresh}),
        )
        .await,
        401,
        "session_revoked",
    );
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/verify-token?strict=true"),
            &json!({"token": access}),
        )
        .await,
        401,
        "session_revoked",
    );

    // The audit trail has the events.
    s.stop();
    let db = audit_events(&data);
    for e in [
        "register",
        "login_ok",
        "refresh",
        "refresh_reuse_detected",
        "logout",
    ] {
        assert!(db.contains(&e.to_owned()), "audit has {e}: {db:?}");
    }
    std::fs::remove_dir_all(&data).ok();
}

/// The audit events in the store, read back with the export command (so the check holds on
/// every document-store backend).
fn audit_events(data: &std::path::Path) -> Vec<String> {
    crate::support::admin(data, &["tenant", "export", "org_default"], &[])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["collection"] == "audit")
        .filter_map(|l| l["body"]["event"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_error_shape_and_the_server_keeps_serving() {
    let data = temp_dir("bad");
    let s = Server::start(&data, free_port(), &[]);
    let c = client();
    let login = "/api/sso/v1/auth/login";

    let raw = |body: &'static str| {
        let c = c.clone();
        let url = s.url(login);
        async move {
            let r = c
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_error(&raw("{not json").await, 400, "bad_request");
    assert_error(
        &raw(r#"{"identifier": 5, "secret": "x"}"#).await,
        422,
        "validation_error",
    );
    assert_error(
        &raw(r#"{"identifier": "a@b.co"}"#).await,
        422,
        "validation_error",
    );
    assert_error(&raw("[]").await, 422, "validation_error");
    assert_error(
        &post(
            &c,
            s.url(login),
            &json!({"identifier": "not an email@", "secret": "x"}),
        )
        .await,
        422,
        "validation_error",
    );
    assert_error(
        &post(
            &c,
            s.url(login),
            &json!({"identifier": "a@example.com", "secret": "x".repeat(5000)}),
        )
        .await,
        422,
        "validation_error",
    );
    // On its own connection: the server answers before reading the whole body and closes it.
    let huge = client()
        .post(s.url(login))
        .header("content-type", "application/json")
        .body(vec![b' '; 200_000])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(
        huge.json::<Value>().await.unwrap()["error_code"],
        json!("payload_too_large")
    );

    // Unknown tenant, wrong password, unknown account.
    let r = c
        .post(s.url(login))
        .header("x-tenant-id", "org_nope")
        .json(&json!({"identifier": "a@example.com", "secret": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error_code"],
        json!("tenant_not_found")
    );
    let ok = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "bob_the_user", "secret": "bob password 1"}),
    )
    .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    assert_error(
        &post(
            &c,
            s.url(login),
            &json!({"identifier": "bob_the_user", "secret": "wrong password"}),
        )
        .await,
        401,
        "invalid_credentials",
    );
    assert_error(
        &post(
            &c,
            s.url(login),
            &json!({"identifier": "nobody@example.com", "secret": "wrong password"}),
        )
        .await,
        401,
        "invalid_credentials",
    );
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/register"),
            &json!({"identifier": "carol@example.com", "secret": "short"}),
        )
        .await,
        422,
        "validation_error",
    );

    // Unicode identifiers: a clear answer either way, never a 500.
    for ident in [
        "émilie@exämple.com",
        "用户名",
        "+98 912 345 6789",
        "💥@💥.com",
        "\u{0000}@x.com",
    ] {
        let r = post(
            &c,
            s.url("/api/sso/v1/auth/register"),
            &json!({"identifier": ident, "secret": "unicode password 1"}),
        )
        .await;
        assert!(r.0 == 200 || r.0 == 422, "{ident}: {} {}", r.0, r.1);
        if r.0 == 422 {
            assert_eq!(r.1["error_code"], json!("validation_error"));
        }
    }
    // Tokens: garbage and wrong types.
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/verify-token"),
            &json!({"token": "x.y.z"}),
        )
        .await,
        401,
        "invalid_token",
    );
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/verify-token"),
            &json!({"token": ["x"]}),
        )
        .await,
        422,
        "validation_error",
    );
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": 42}),
        )
        .await,
        422,
        "validation_error",
    );
    let r = c
        .get(s.url("/api/sso/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Still serving.
    let h = c.get(s.url("/health")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rate_limit_answers_429_with_retry_after_and_success_clears_it() {
    let data = temp_dir("rl");
    let s = Server::start(&data, free_port(), &[]);
    let c = client();
    let reg = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "dave@example.com", "secret": "dave password"}),
    )
    .await;
    assert_eq!(reg.0, 200);
    for _ in 0..4 {
        assert_error(
            &post(
                &c,
                s.url("/api/sso/v1/auth/login"),
                &json!({"identifier": "dave@example.com", "secret": "nope nope"}),
            )
            .await,
            401,
            "invalid_credentials",
        );
    }
    // The 5th attempt is allowed and correct: the counters are cleared.
    let ok = post(
        &c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "dave@example.com", "secret": "dave password"}),
    )
    .await;
    assert_eq!(ok.0, 200);
    for _ in 0..5 {
        post(
            &c,
            s.url("/api/sso/v1/auth/login"),
            &json!({"identifier": "dave@example.com", "secret": "nope nope"}),
        )
        .await;
    }
    let r = c
        .post(s.url("/api/sso/v1/auth/login"))
        .json(&json!({"identifier": "dave@example.com", "secret": "dave password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error_code"],
        json!("too_many_requests")
    );
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_yield_one_lineage_and_parallel_registrations_one_account() {
    let data = temp_dir("par");
    let s = Server::start(&data, free_port(), &[]);
    let c = client();
    let reg = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "erin@example.com", "secret": "erin password"}),
    )
    .await;
    let t0 = reg.1["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (c, url, t0) = (c.clone(), s.url("/api/sso/v1/auth/refresh"), t0.clone());
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .json(&json!({"refresh_token": t0}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut successors = HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        successors.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "one lineage");
    let t1 = successors.into_iter().next().unwrap();
    let next = post(
        &c,
        s.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t1}),
    )
    .await;
    assert_eq!(next.0, 200, "the session is intact: {}", next.1);

    let mut tasks = Vec::new();
    for i in 0..50 {
        let (c, url) = (c.clone(), s.url("/api/sso/v1/auth/register"));
        tasks.push(tokio::spawn(async move {
            c.post(url).json(&json!({"identifier": "frank@example.com", "secret": format!("frank password {i}")})).send().await.unwrap().status().as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 1, "{codes:?}");
    assert!(
        codes.iter().all(|&c| c == 200 || c == 409 || c == 429),
        "{codes:?}"
    );
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jose_verifies_served_tokens_and_key_rotation_keeps_old_tokens_valid() {
    let data = temp_dir("jose");
    let port = free_port();
    let s = Server::process(&data, port, &[]);
    let c = client();
    let reg = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "gina@example.com", "secret": "gina password"}),
    )
    .await;
    let old = reg.1["access_token"].as_str().unwrap().to_owned();
    let issuer = format!("http://localhost:{port}");
    let jwks_url = s.url(&format!("/.well-known/jwks.json?domain=localhost:{port}"));
    let res = jose(
        &json!({"jwks_url": jwks_url, "tokens": [{"token": old, "issuer": issuer, "audience": "usso"}]}),
    );
    assert_eq!(res[0]["local"]["ok"], json!(true), "{res}");
    assert_eq!(res[0]["remote"]["ok"], json!(true), "{res}");
    let old_kid = res[0]["local"]["header"]["kid"]
        .as_str()
        .unwrap()
        .to_owned();

    // JWKS caching headers.
    let r = c.get(s.url("/.well-known/jwks.json")).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let r = c
        .get(s.url("/.well-known/jwks.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    s.stop();
    let out = admin(&data, &["key", "rotate"], &[]);
    let new_kid = serde_json::from_str::<Value>(&out).unwrap()["active_kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_kid, old_kid);
    let keys = admin(&data, &["key", "list"], &[]);
    assert_eq!(keys.lines().count(), 2, "{keys}");
    let s = Server::process(&data, port, &[]);
    let login = post(
        &c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "gina@example.com", "secret": "gina password"}),
    )
    .await;
    let new = login.1["access_token"].as_str().unwrap().to_owned();
    let res = jose(
        &json!({"jwks_url": s.url("/.well-known/jwks.json?domain=127.0.0.1"), "tokens": [
        {"token": old, "issuer": issuer, "audience": "usso"},
        {"token": new, "issuer": issuer, "audience": "usso"}]}),
    );
    assert_eq!(
        res[0]["remote"]["ok"],
        json!(true),
        "old token still verifies: {res}"
    );
    assert_eq!(res[1]["remote"]["ok"], json!(true), "{res}");
    assert_eq!(res[1]["remote"]["header"]["kid"], json!(new_kid));
    // The system administrator was not regenerated, and its password works.
    assert!(!s.logs().contains("System administrator created"));
    let sys = post(
        &c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "system", "secret": crate::support::SYSTEM_PASSWORD}),
    )
    .await;
    assert_eq!(sys.0, 200, "{}", sys.1);
    assert_eq!(sys.1["user"]["roles"], json!(["superadmin"]));
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

fn jose(input: &Value) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    assert!(
        dir.join("node_modules/jose").exists(),
        "npm jose missing: run scripts/test.sh"
    );
    let file = crate::support::temp_dir("jose-in").join("input.json");
    std::fs::write(&file, input.to_string()).unwrap();
    let out = Command::new("node")
        .arg(dir.join("interop/jose.mjs"))
        .arg("verify")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn bad_configuration_stops_startup_with_a_clear_message() {
    let data = temp_dir("cfg");
    // Each refused value: the process exits with an error naming the setting.
    for (name, value) in [
        ("ACCESS_TOKEN_EXPIRE", "5"),
        ("USSO_MASTER_KEY", "too-short"),
        ("USSO_CONN_THREADS", "5000"),
    ] {
        let out = crate::support::bin()
            .env("USSO_DATA_DIR", &data)
            .env(name, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
    let out = crate::support::bin()
        .env("USSO_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .to_lowercase()
        .contains("listen"));
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_admin_password_is_shown_once_and_system_password_resets_it() {
    let data = temp_dir("admin");
    let port = free_port();
    let c = client();
    let s = Server::process_with(&data, port, &[], None);
    let logs = s.logs();
    let shown = logs
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("the generated password is shown: {logs}"))
        .trim()
        .to_owned();
    let ok = post(
        &c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "system", "secret": shown}),
    )
    .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    s.stop();
    // Restart without SYSTEM_PASSWORD: nothing is regenerated or shown again.
    let s = Server::process_with(&data, port, &[], None);
    assert!(!s.logs().contains("password: "), "{}", s.logs());
    assert_eq!(
        post(
            &c,
            s.url("/api/sso/v1/auth/login"),
            &json!({"identifier": "system", "secret": shown})
        )
        .await
        .0,
        200
    );
    s.stop();
    // Setting SYSTEM_PASSWORD and restarting resets it.
    let s = Server::process_with(&data, port, &[], Some("a brand new admin password"));
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/login"),
            &json!({"identifier": "system", "secret": shown}),
        )
        .await,
        401,
        "invalid_credentials",
    );
    assert_eq!(
        post(
            &c,
            s.url("/api/sso/v1/auth/login"),
            &json!({"identifier": "system", "secret": "a brand new admin password"})
        )
        .await
        .0,
        200
    );
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route_and_cli_manages_tenants() {
    let data = temp_dir("openapi");
    // A second tenant from the CLI, resolved by Host and by X-Tenant-ID.
    let out = admin(
        &data,
        &[
            "tenant",
            "create",
            "acme",
            "--domain",
            "sso.acme.test",
            "--no-audience",
            "--activation",
            "none",
        ],
        &[("SYSTEM_PASSWORD", "x")],
    );
    assert!(out.contains("\"created\":\"acme\""), "{out}");
    let out = admin(
        &data,
        &[
            "user",
            "create",
            "ops@acme.test",
            "--tenant",
            "acme",
            "--role",
            "admin",
            "--scope",
            "read:sessions",
        ],
        &[("USSO_NEW_PASSWORD", "ops password 1")],
    );
    assert!(out.contains("email:ops@acme.test"), "{out}");
    let s = Server::start(&data, free_port(), &[]);
    let c = client();
    let doc: Value = c
        .get(s.url("/api/sso/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/health",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/api/sso/v1/auth/login",
        "/api/sso/v1/auth/register",
        "/api/sso/v1/auth/refresh",
        "/api/sso/v1/auth/logout",
        "/api/sso/v1/auth/verify-token",
        "/api/sso/v1/auth/me",
        "/api/sso/v1/me",
        "/api/sso/v1/sessions",
        "/api/sso/v1/sessions/{id}",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lists {p}");
    }
    let page = c.get(s.url("/api/sso/v1/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);

    let login = c
        .post(s.url("/api/sso/v1/auth/login"))
        .header("x-tenant-id", "acme")
        .json(&json!({"identifier": "ops@acme.test", "secret": "ops password 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let body: Value = login.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    // The acme token has no `aud` and acme's issuer; it is invalid for org_default.
    let v = c
        .post(s.url("/api/sso/v1/auth/verify-token"))
        .header("host", "sso.acme.test")
        .json(&json!({"token": access}))
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), 200);
    let claims: Value = v.json().await.unwrap();
    assert!(claims.get("aud").is_none());
    assert_eq!(claims["iss"], json!("https://sso.acme.test"));
    assert_error(
        &post(
            &c,
            s.url("/api/sso/v1/auth/verify-token"),
            &json!({"token": access}),
        )
        .await,
        401,
        "invalid_token",
    );
    // An admin with read:sessions may list another user's sessions.
    let uid = claims["user_id"].as_str().unwrap().to_owned();
    let reg = c
        .post(s.url("/api/sso/v1/auth/register"))
        .header("x-tenant-id", "acme")
        .json(&json!({"identifier": "plain@acme.test", "secret": "plain password"}))
        .send()
        .await
        .unwrap();
    let plain: Value = reg.json().await.unwrap();
    let plain_id = plain["user"]["id"].as_str().unwrap();
    let plain_access = plain["access_token"].as_str().unwrap();
    let r = c
        .get(s.url(&format!("/api/sso/v1/sessions?user_id={plain_id}")))
        .header("x-tenant-id", "acme")
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["total"], json!(1));
    let r = c
        .get(s.url(&format!("/api/sso/v1/sessions?user_id={uid}")))
        .header("x-tenant-id", "acme")
        .bearer_auth(plain_access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_loses_no_committed_write() {
    let data = temp_dir("term");
    let port = free_port();
    let s = Server::process(&data, port, &[]);
    let c = client();
    // 20 registrations in flight (each costs an Argon2id hash on a 2-worker pool).
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (c, url) = (c.clone(), s.url("/api/sso/v1/auth/register"));
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(url)
                .json(&json!({"identifier": format!("term{i}@example.com"), "secret": "graceful password"}))
                .send()
                .await;
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    // As soon as the first one is answered, the rest are still in flight: stop the server.
    let first = tasks.remove(0).await.unwrap();
    assert_eq!(first, 200);
    let pid = s.pid().to_string();
    assert!(Command::new("kill")
        .arg("-TERM")
        .arg(&pid)
        .status()
        .unwrap()
        .success());
    let mut codes = vec![first];
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    s.stop_after_signal();
    // Every request that reached the server was answered; every 200 is durable.
    let ok: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == 200)
        .map(|(i, _)| i)
        .collect();
    assert!(
        ok.len() >= 2,
        "in-flight requests finished after SIGTERM: {codes:?}"
    );
    let s = Server::process(&data, port, &[]);
    for i in ok {
        let r = post(
            &c,
            s.url("/api/sso/v1/auth/login"),
            &json!({"identifier": format!("term{i}@example.com"), "secret": "graceful password"}),
        )
        .await;
        assert_eq!(r.0, 200, "user {i} survived: {}", r.1);
    }
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Security issue 11, item 8: SIGKILL during registrations never leaves an address that can
/// neither register nor sign in (on SQLite, and on the Data API when the suite runs there).
/// Each round kills the origin the moment the first of eight concurrent registrations answers,
/// so the others die at every stage of their writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_registrations_never_blocks_an_address() {
    let data = temp_dir("reg-crash");
    let c = client();
    let mut addresses = Vec::new();
    for round in 0..25 {
        let mut s = Server::process(&data, free_port(), &[("USSO_TRUSTED_PROXY_HOPS", "1")]);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(8);
        for i in 0..8 {
            let addr = format!("crash{round}-{i}@example.com");
            let n = addresses.len();
            addresses.push(addr.clone());
            let (c, url, tx) = (c.clone(), s.url("/api/sso/v1/auth/register"), tx.clone());
            tokio::spawn(async move {
                let _ = c
                    .post(url)
                    .header("x-forwarded-for", format!("10.77.{}.{}", n / 200, n % 200))
                    .json(&json!({"identifier": addr, "secret": "crash-test-password"}))
                    .send()
                    .await;
                let _ = tx.send(()).await;
            });
        }
        rx.recv().await;
        s.child().kill().unwrap();
        s.child().wait().unwrap();
    }
    // Each address from its own client address, so the per-address login limit (100 per
    // 5 minutes) does not stand in for the answer.
    let s = Server::process(&data, free_port(), &[("USSO_TRUSTED_PROXY_HOPS", "1")]);
    let call = |path: &'static str, addr: &str, n: usize| {
        c.post(s.url(path))
            .header("x-forwarded-for", format!("10.77.{}.{}", n / 200, n % 200))
            .json(&json!({"identifier": addr, "secret": "crash-test-password"}))
            .send()
    };
    let mut stuck = Vec::new();
    for (n, addr) in addresses.iter().enumerate() {
        let r = call("/api/sso/v1/auth/login", addr, n).await.unwrap();
        let login = (r.status(), r.json::<Value>().await.unwrap_or(Value::Null));
        if login.0 == 200 {
            continue;
        }
        let r = call("/api/sso/v1/auth/register", addr, n).await.unwrap();
        let reg = (r.status(), r.json::<Value>().await.unwrap_or(Value::Null));
        if reg.0 != 200 {
            stuck.push(format!("{addr}: login {} / register {}", login.1, reg.1));
        }
    }
    assert!(
        stuck.is_empty(),
        "addresses blocked after SIGKILLs: {stuck:#?}"
    );
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}
