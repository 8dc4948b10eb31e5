//! The origin with Redis as its hot store: natively (`USSO_REDIS_URL`, a real `redis-server`)
//! and over the Upstash REST protocol (`UPSTASH_REDIS_REST_URL`, here the first origin's
//! gateway). Two origins share the document store and the Redis: a session created at one is
//! refreshed and revoked at the other.

use crate::support::{free_port, post, temp_dir, RedisServer, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "gateway-token-for-tests-0123456789";

fn code(r: &(StatusCode, Value)) -> (u16, &str) {
    (r.0.as_u16(), r.1["error_code"].as_str().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_live_in_redis_and_move_between_origins() {
    let redis = RedisServer::start();
    let data = temp_dir("redis-backend");
    let port_a = free_port();
    let url = redis.url();
    let a = Server::start(
        &data,
        port_a,
        &[("USSO_REDIS_URL", &url), ("USSO_GATEWAY_TOKEN", TOKEN)],
    );
    let gateway = a.url("/redis");
    let b = Server::start(
        &data,
        free_port(),
        &[
            ("UPSTASH_REDIS_REST_URL", &gateway),
            ("UPSTASH_REDIS_REST_TOKEN", TOKEN),
        ],
    );
    let c = reqwest::Client::new();

    // Register at B (Upstash REST → gateway → Redis), refresh at A (native Redis).
    let reg = post(
        &c,
        b.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "hana@example.com", "secret": "hana password"}),
    )
    .await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    let t0 = reg.1["refresh_token"].as_str().unwrap().to_owned();
    let r1 = post(
        &c,
        a.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t0}),
    )
    .await;
    assert_eq!(r1.0, 200, "{}", r1.1);
    let t1 = r1.1["refresh_token"].as_str().unwrap().to_owned();
    // The grace retry at B gets the same successor; then B rotates t1.
    let r1b = post(
        &c,
        b.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t0}),
    )
    .await;
    assert_eq!(r1b.1["refresh_token"], json!(t1));
    let r2 = post(
        &c,
        b.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": t1}),
    )
    .await;
    assert_eq!(r2.0, 200);
    let t2 = r2.1["refresh_token"].as_str().unwrap().to_owned();
    let access = r2.1["access_token"].as_str().unwrap().to_owned();

    // Sessions list at A sees the session B created.
    let list: Value = c
        .get(a.url("/api/sso/v1/sessions"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], json!(1), "{list}");

    // Logout at A; refresh at B fails, strict verify at B fails.
    let out = c
        .post(a.url("/api/sso/v1/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(
        code(
            &post(
                &c,
                b.url("/api/sso/v1/auth/refresh"),
                &json!({"refresh_token": t2})
            )
            .await
        ),
        (401, "session_revoked")
    );
    assert_eq!(
        code(
            &post(
                &c,
                b.url("/api/sso/v1/auth/verify-token?strict=true"),
                &json!({"token": access})
            )
            .await
        ),
        (401, "session_revoked")
    );

    // Reuse detection across origins: new session at A, rotate twice at B, replay the first at A.
    let login = post(
        &c,
        a.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "hana@example.com", "secret": "hana password"}),
    )
    .await;
    let s0 = login.1["refresh_token"].as_str().unwrap().to_owned();
    let s1 = post(
        &c,
        b.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": s0}),
    )
    .await
    .1["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let s2 = post(
        &c,
        b.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": s1}),
    )
    .await;
    assert_eq!(s2.0, 200);
    assert_eq!(
        code(
            &post(
                &c,
                a.url("/api/sso/v1/auth/refresh"),
                &json!({"refresh_token": s0})
            )
            .await
        ),
        (401, "refresh_token_reused")
    );

    // Rate limits are counted in Redis too: 5 failures through A and B, the 6th is 429.
    for (i, s) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let r = post(
            &c,
            s.url("/api/sso/v1/auth/login"),
            &json!({"identifier": "hana@example.com", "secret": format!("wrong {i}")}),
        )
        .await;
        assert_eq!(code(&r), (401, "invalid_credentials"));
    }
    let r = c
        .post(b.url("/api/sso/v1/auth/login"))
        .json(&json!({"identifier": "hana@example.com", "secret": "hana password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));

    // Restart A: the sessions are in Redis, not in A.
    let login = post(
        &c,
        b.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "ivan@example.com", "secret": "ivan password"}),
    )
    .await;
    let v0 = login.1["refresh_token"].as_str().unwrap().to_owned();
    b.stop();
    a.stop();
    let a = Server::start(
        &data,
        port_a,
        &[("USSO_REDIS_URL", &url), ("USSO_GATEWAY_TOKEN", TOKEN)],
    );
    assert_eq!(
        post(
            &c,
            a.url("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": v0})
        )
        .await
        .0,
        200
    );
    a.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[test]
fn hot_store_configuration_errors_are_clear() {
    let data = temp_dir("redis-cfg");
    for (envs, needle) in [
        (vec![("USSO_GATEWAY_TOKEN", TOKEN)], "USSO_REDIS_URL"),
        (
            vec![("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:1")],
            "UPSTASH_REDIS_REST_TOKEN",
        ),
        (
            vec![("USSO_REDIS_URL", "redis://127.0.0.1:1")],
            "USSO_REDIS_URL",
        ),
        (
            vec![
                ("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:1"),
                ("UPSTASH_REDIS_REST_TOKEN", "x"),
            ],
            "UPSTASH_REDIS_REST_URL",
        ),
    ] {
        let mut cmd = crate::support::bin();
        cmd.env("USSO_DATA_DIR", &data)
            .env("USSO_LISTEN", "127.0.0.1:0");
        for (k, v) in &envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{envs:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{envs:?}: {err}");
    }
    std::fs::remove_dir_all(&data).ok();
}
