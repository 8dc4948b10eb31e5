//! The origin's behaviour does not depend on its document store: the same flows against the
//! real binary with the embedded SQLite store and with MongoDB through the Data API (the
//! STAND-IN `tests/data_api/standin.py`, since MongoDB cannot be installed here; see
//! docs/mongodb.md): the auth flow, 50 concurrent registrations of one identifier, 100 parallel
//! refreshes of one token, and the export and erase commands.

use std::collections::HashSet;

use crate::support::{admin, bin, free_port, post, temp_dir, DataApiStandin, Server};
use reqwest::Client;
use serde_json::{json, Value};

/// The flows, against an origin started with `envs`.
async fn flows(envs: &[(&str, &str)], tag: &str) {
    let data = temp_dir(tag);
    let port = free_port();
    let server = Server::start(&data, port, envs);
    let c = Client::new();
    let api = |p: &str| server.url(&format!("/api/sso/v1{p}"));

    // The auth flow.
    let creds = json!({"identifier": "Ada@Example.com", "secret": "ada password 1"});
    let reg = post(&c, api("/auth/register"), &creds).await;
    assert_eq!(reg.0, 200, "{tag}: {}", reg.1);
    assert_eq!(
        post(&c, api("/auth/register"), &creds).await.0,
        409,
        "{tag}"
    );
    let login = post(
        &c,
        api("/auth/login"),
        &json!({"identifier": "ada@example.com", "secret": "ada password 1"}),
    )
    .await;
    assert_eq!(login.0, 200, "{tag}: {}", login.1);
    let wrong = post(
        &c,
        api("/auth/login"),
        &json!({"identifier": "ada@example.com", "secret": "wrong password"}),
    )
    .await;
    assert_eq!(wrong.0, 401, "{tag}");
    let access = login.1["access_token"].as_str().unwrap();
    let v = post(&c, api("/auth/verify-token"), &json!({"token": access})).await;
    assert_eq!(v.0, 200, "{tag}");
    let me: Value = c
        .get(api("/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com", "{tag}");

    // 100 parallel refreshes of one token: one lineage (every answer is the same successor).
    let token = login.1["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (c, url, token) = (c.clone(), api("/auth/refresh"), token.clone());
        tasks.push(tokio::spawn(async move {
            post(&c, url, &json!({"refresh_token": token})).await
        }));
    }
    let mut successors = HashSet::new();
    for t in tasks {
        let (s, body) = t.await.unwrap();
        assert_eq!(s, 200, "{tag}: {body}");
        successors.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "{tag}: one lineage");

    // 50 concurrent registrations of one identifier: exactly one account.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (c, url) = (c.clone(), api("/auth/register"));
        tasks.push(tokio::spawn(async move {
            post(
                &c,
                url,
                &json!({"identifier": "race@example.com", "secret": format!("race password {i}")}),
            )
            .await
        }));
    }
    let mut codes = Vec::new();
    let mut bodies = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        codes.push(status.as_u16());
        bodies.push(body);
    }
    assert_eq!(
        codes.iter().filter(|&&s| s == 200).count(),
        1,
        "{tag}: {codes:?} {bodies:?}"
    );
    // The others are refused as duplicates, or by the per-identifier rate limit.
    assert!(
        codes.iter().all(|&s| matches!(s, 200 | 409 | 429)),
        "{tag}: {codes:?}"
    );
    server.stop();

    // Export: every document of the tenant, as JSON lines, without password hashes.
    let export = admin(&data, &["tenant", "export", "org_default"], envs);
    let lines: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let users: Vec<_> = lines
        .iter()
        .filter(|l| l["collection"] == "users")
        .collect();
    assert_eq!(users.len(), 3, "{tag}: system, ada and race");
    assert!(
        users
            .iter()
            .all(|u| u["body"]["password_hash"] == "<redacted>"),
        "{tag}"
    );
    assert!(lines
        .iter()
        .any(|l| l["collection"] == "identifiers" && l["id"] == "email:ada@example.com"));
    assert!(lines
        .iter()
        .any(|l| l["collection"] == "audit" && l["body"]["event"] == "register"));
    assert!(!export.contains("$argon2"), "{tag}: no hash leaks");

    // Erase ada: sessions revoked, account and identifier gone, audit stripped.
    let ada_id = reg.1["user"]["user_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            users
                .iter()
                .find(|u| u["body"]["email"] == "ada@example.com")
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        });
    let erased: Value =
        serde_json::from_str(admin(&data, &["user", "erase", "ada@example.com"], envs).trim())
            .unwrap();
    assert_eq!(erased["user_id"], json!(ada_id), "{tag}");
    assert_eq!(erased["identifiers"], 1, "{tag}");
    assert!(erased["sessions"].as_u64().unwrap() >= 2, "{tag}: {erased}");
    assert!(
        erased["audit_entries"].as_u64().unwrap() >= 2,
        "{tag}: {erased}"
    );
    let after = admin(&data, &["tenant", "export", "org_default"], envs);
    assert!(
        !after.contains("ada@example.com"),
        "{tag}: nothing names ada any more"
    );
    assert!(!after.contains(&ada_id), "{tag}");
    let server = Server::start(&data, port, envs);
    let gone = post(
        &c,
        server.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "ada@example.com", "secret": "ada password 1"}),
    )
    .await;
    assert_eq!(gone.0, 401, "{tag}: erased user cannot log in");
    let refresh = post(
        &c,
        server.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": successors.iter().next().unwrap()}),
    )
    .await;
    assert_eq!(refresh.0, 401, "{tag}: erased user's sessions are revoked");
    // The same address can register again: a new account.
    assert_eq!(
        post(&c, server.url("/api/sso/v1/auth/register"), &creds)
            .await
            .0,
        200,
        "{tag}"
    );
    server.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_on_embedded_sqlite() {
    flows(&[], "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_on_the_data_api_standin() {
    let standin = DataApiStandin::start();
    let env = standin.origin_env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Connections served on the main runtime here (the SQLite run uses the default threads).
    env.push(("USSO_CONN_THREADS", "0"));
    flows(&env, "dataapi").await;
}

/// A Data API that refuses the credentials, or a bad setting, stops start-up with a clear message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_api_settings_stop_start_up() {
    let standin = DataApiStandin::start();
    let data = temp_dir("badmongo");
    for (envs, needle) in [
        (
            vec![
                ("USSO_MONGO_DATA_API_URL", standin.url.clone()),
                ("USSO_MONGO_DATA_API_KEY", "wrong".into()),
            ],
            "credentials",
        ),
        (
            vec![("USSO_MONGO_DATA_API_URL", standin.url.clone())],
            "USSO_MONGO_DATA_API_KEY",
        ),
        (
            vec![
                ("USSO_MONGO_DATA_API_URL", "ftp://x".into()),
                ("USSO_MONGO_DATA_API_KEY", "k".into()),
            ],
            "http(s)",
        ),
        (
            vec![("USSO_MONGO_DATA_API_KEY", "k".into())],
            "need USSO_MONGO_DATA_API_URL",
        ),
    ] {
        let mut c = bin();
        c.env("USSO_DATA_DIR", &data)
            .env("USSO_LISTEN", "127.0.0.1:0")
            .args(["tenant", "list"]);
        for (k, v) in &envs {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{envs:?}: {stderr}");
        assert!(stderr.contains(needle), "{envs:?}: {stderr}");
    }
    std::fs::remove_dir_all(&data).ok();
}
