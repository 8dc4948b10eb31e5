//! The Upstash-compatible gateway in front of a real `redis-server`, and the Redis rotation
//! script checked for parity with the pure Rust rotation rules: the same scenario runs on the
//! in-memory store (which applies `rotation::step` directly) and on Redis through the gateway
//! with the edge's Upstash REST hot store, and must give the same outcomes and records.

use crate::support::{free_port, temp_dir, RedisServer, Server};
use serde_json::{json, Value};
use usso_edge::redis_session::{create_args, subject_index, CREATE_SCRIPT};
use usso_edge::store::{key, HotStore};
use usso_edge::upstash_store::UpstashHotStore;
use usso_edge::MemoryHotStore;
use usso_shared::claims::Grant;
use usso_shared::rotation::{jti_hash, Outcome, RotationPolicy, SessionRecord, Successor};
use usso_shared::transport::ReqwestTransport;
use usso_shared::upstash::Upstash;

const TOKEN: &str = "gateway-token-for-tests-0123456789";

fn start() -> (RedisServer, Server, std::path::PathBuf) {
    let redis = RedisServer::start();
    let data = temp_dir("gw");
    let url = redis.url();
    let s = Server::start(
        &data,
        free_port(),
        &[("USSO_REDIS_URL", &url), ("USSO_GATEWAY_TOKEN", TOKEN)],
    );
    (redis, s, data)
}

fn upstash(s: &Server, token: &str) -> Upstash<ReqwestTransport> {
    Upstash::new(
        &s.url("/redis"),
        token,
        ReqwestTransport::new(std::time::Duration::from_secs(5)).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_speaks_upstash_and_confines_clients() {
    let (_redis, s, data) = start();
    let c = upstash(&s, TOKEN);
    assert_eq!(
        c.command(&["SET", "usso:k", "v"]).await.unwrap(),
        json!("OK")
    );
    assert_eq!(c.command(&["GET", "usso:k"]).await.unwrap(), json!("v"));
    assert_eq!(
        c.command(&["GET", "usso:missing"]).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        c.command(&["MGET", "usso:k", "usso:missing"])
            .await
            .unwrap(),
        json!(["v", null])
    );
    let piped = c
        .pipeline(&[
            vec!["INCR".into(), "usso:n".into()],
            vec!["INCR".into(), "usso:n".into()],
            vec!["GET".into(), "other:x".into()],
        ])
        .await
        .unwrap();
    assert_eq!(piped[0].as_ref().unwrap(), &json!(1));
    assert_eq!(piped[1].as_ref().unwrap(), &json!(2));
    assert!(piped[2].as_ref().unwrap_err().detail().contains("prefix"));

    // Confinement: commands, keys and scripts.
    for bad in [
        vec!["FLUSHALL"],
        vec!["CONFIG", "GET", "*"],
        vec!["GET", "other:k"],
        vec!["DEL", "usso:k", "x"],
        vec!["KEYS", "*"],
    ] {
        let e = c.command(&bad).await.unwrap_err();
        assert_eq!(
            e.code(),
            usso_shared::ErrorCode::ServiceUnavailable,
            "{bad:?}"
        );
    }
    let e = c
        .eval("return redis.call('FLUSHALL')", &[], &[])
        .await
        .unwrap_err();
    assert!(e.detail().contains("own scripts"), "{e}");
    assert_eq!(
        c.command(&["GET", "usso:k"]).await.unwrap(),
        json!("v"),
        "nothing was flushed"
    );

    // Authentication.
    let wrong = upstash(&s, "wrong-token-wrong-token-wrong");
    assert_eq!(
        wrong.command(&["GET", "usso:k"]).await.unwrap_err().code(),
        usso_shared::ErrorCode::ConfigurationError
    );
    let raw = reqwest::Client::new()
        .post(s.url("/redis"))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(raw.json::<Value>().await.unwrap()["error"].is_string());

    // multi-exec is atomic and answers per command.
    let r: Value = reqwest::Client::new()
        .post(s.url("/redis/multi-exec"))
        .bearer_auth(TOKEN)
        .json(&json!([["SET", "usso:a", "1"], ["INCR", "usso:a"]]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!([{"result": "OK"}, {"result": 2}]));
    s.stop();
    std::fs::remove_dir_all(data).ok();
}

fn record(now: i64) -> SessionRecord {
    let policy = RotationPolicy {
        grace_secs: 30,
        idle_timeout_secs: 3600,
        absolute_lifetime_secs: 86_400,
    };
    SessionRecord::new(
        "sess-parity",
        "org_default",
        "user:u1",
        "jti-0",
        now,
        &policy,
    )
    .with_grant(Grant {
        sub: "user:u1".into(),
        roles: vec![],
        scopes: vec!["read:files".into()],
        ..Default::default()
    })
}

/// Presents `jti` at `now` with a fresh successor named `next`.
async fn present<S: HotStore>(
    store: &S,
    jti: &str,
    next: &str,
    now: i64,
) -> (Outcome, Option<SessionRecord>) {
    let succ = Successor {
        jti_hash: jti_hash(next),
        sealed: format!("sealed({next})"),
    };
    store
        .rotate("org_default", "sess-parity", &jti_hash(jti), &succ, 30, now)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rotation_script_matches_the_rust_rules() {
    let (_redis, s, data) = start();
    // Real time: Redis expires keys by the wall clock (EXPIREAT).
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mem = MemoryHotStore::new();
    mem.put_session(&record(t0));
    let up = UpstashHotStore::new(upstash(&s, TOKEN));
    let r = record(t0);
    let k = key::session(&r.tenant_id, &r.session_id);
    let idx = subject_index(&r.tenant_id, &r.subject);
    let args = create_args(&r, t0).unwrap();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    up.client()
        .eval(CREATE_SCRIPT, &[&k, &idx], &args)
        .await
        .unwrap();
    assert_eq!(
        up.session("org_default", "sess-parity").await.unwrap(),
        mem.session("org_default", "sess-parity").await.unwrap()
    );

    // (presented jti, successor jti, time): rotate, grace replay, rotate, stale reuse, after revocation.
    let steps = [
        ("jti-0", "jti-1", t0 + 10),
        ("jti-0", "jti-1b", t0 + 20),
        ("jti-1", "jti-2", t0 + 25),
        ("jti-1", "jti-2b", t0 + 40),
        ("jti-2", "jti-3", t0 + 100),
        ("jti-0", "jti-9", t0 + 200),
        ("jti-2", "jti-3", t0 + 201),
        ("nope", "jti-x", t0 + 202),
    ];
    let mut outcomes = Vec::new();
    for (jti, next, now) in steps {
        let a = present(&mem, jti, next, now).await;
        let b = present(&up, jti, next, now).await;
        assert_eq!(a, b, "{jti} at +{}", now - t0);
        outcomes.push(a.0.as_str());
    }
    assert_eq!(
        outcomes,
        ["rotated", "replayed", "rotated", "replayed", "rotated", "reused", "revoked", "revoked"]
    );

    // Expiry by idleness, unknown sessions, and idempotent revocation.
    let mem2 = MemoryHotStore::new();
    let fresh = SessionRecord {
        session_id: "sess-parity".into(),
        ..record(t0)
    };
    mem2.put_session(&fresh);
    up.client()
        .eval(CREATE_SCRIPT, &[&k, &idx], &args)
        .await
        .unwrap();
    assert_eq!(
        present(&mem2, "jti-0", "n", t0 + 3600).await,
        present(&up, "jti-0", "n", t0 + 3600).await
    );
    assert_eq!(
        present(&up, "jti-0", "n", t0 + 3600).await.0,
        Outcome::Expired
    );
    assert_eq!(
        up.rotate(
            "org_default",
            "nobody",
            "h",
            &Successor {
                jti_hash: "x".into(),
                sealed: "y".into()
            },
            30,
            t0
        )
        .await
        .unwrap()
        .0,
        Outcome::NotFound
    );
    let a = up
        .revoke("org_default", "sess-parity", "logout", t0 + 5)
        .await
        .unwrap()
        .unwrap();
    let b = up
        .revoke("org_default", "sess-parity", "admin", t0 + 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.revoked_at, a.revoked_reason.as_deref()),
        (Some(t0 + 5), Some("logout"))
    );
    assert_eq!(a, b, "the first revocation stands");
    assert_eq!(
        up.revoke("org_default", "nobody", "logout", t0)
            .await
            .unwrap(),
        None
    );
    s.stop();
    std::fs::remove_dir_all(data).ok();
}

/// The official Upstash client (npm `@upstash/redis`, unmodified) against the gateway: commands,
/// pipeline and transaction work; confinement and authentication hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_upstash_client_works_against_the_gateway() {
    let (_redis, s, data) = start();
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    assert!(
        tests
            .join("node_modules/@upstash/redis/package.json")
            .exists(),
        "npm @upstash/redis is missing: run scripts/test.sh"
    );
    let out = std::process::Command::new("node")
        .current_dir(&tests)
        .args(["interop/upstash.mjs", &s.url("/redis"), TOKEN, "usso:npm:"])
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ok = |name: &str| {
        assert_eq!(r[name]["ok"], json!(true), "{name}: {}", r[name]);
        r[name]["value"].clone()
    };
    let refused = |name: &str, needle: &str| {
        assert_eq!(r[name]["ok"], json!(false), "{name} must fail: {}", r[name]);
        let error = r[name]["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{name}: {error}");
    };
    assert_eq!(ok("ping"), json!("PONG"));
    assert_eq!(ok("set"), json!("OK"));
    assert_eq!(ok("get"), json!("one"));
    assert_eq!(ok("incr"), json!(1));
    assert_eq!(ok("hset"), json!(2));
    assert_eq!(ok("hgetall"), json!({"f1": "v1", "f2": "v2"}));
    assert_eq!(ok("sadd"), json!(2));
    assert_eq!(ok("smembers"), json!(["x", "y"]));
    assert!(ok("ttl").as_i64().is_some_and(|t| (1..=60).contains(&t)));
    assert_eq!(ok("pipeline"), json!(["OK", "v", 2]));
    assert_eq!(ok("multi"), json!(["OK", "w"]));
    assert_eq!(ok("del"), json!(3));
    assert_eq!(ok("get_deleted"), Value::Null);
    refused("outside_prefix", "prefix");
    refused("flushall", "not allowed");
    refused("foreign_script", "");
    refused("wrong_token", "");
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}
