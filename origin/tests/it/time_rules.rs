//! Time-dependent rules, tested by moving the clock of an in-process origin
//! (`Server::start_manual_clock`), never by sleeping: the refresh grace window and reuse after
//! it, access-token expiry (with the verifier's leeway), the refresh-token lifetime, one-time
//! code expiry, and the reset of a sign-in rate-limit window.

use reqwest::Client;
use serde_json::{json, Value};
use usso_shared::rotation::DEFAULT_GRACE_SECS;
use usso_shared::token::DEFAULT_LEEWAY_SECS;

use crate::support::{nth_dev_code, post, send, temp_dir, Reply, Server};

fn code(r: &Reply) -> (u16, String) {
    (
        r.0.as_u16(),
        r.1["error_code"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn login(c: &Client, s: &Server, who: &str, secret: &str) -> Value {
    let r = post(
        c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": who, "secret": secret}),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    r.1
}

async fn refresh(c: &Client, s: &Server, token: &str) -> Reply {
    post(
        c,
        s.url("/api/sso/v1/auth/refresh"),
        &json!({"refresh_token": token}),
    )
    .await
}

async fn verify(c: &Client, s: &Server, token: &str) -> Reply {
    post(
        c,
        s.url("/api/sso/v1/auth/verify-token"),
        &json!({"token": token}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_window_expiry_and_lifetimes_follow_the_clock() {
    let data = temp_dir("clock-tokens");
    let s = Server::start_manual_clock(&data, 0, &[], 0);
    let c = Client::new();
    let reg = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "tick@example.com", "secret": "tick tock password"}),
    )
    .await;
    assert_eq!(reg.0, 200, "{}", reg.1);

    // The previous refresh token within the grace window: the same successor.
    let t0 = login(&c, &s, "tick@example.com", "tick tock password").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r1 = refresh(&c, &s, &t0).await;
    assert_eq!(r1.0, 200, "{}", r1.1);
    let t1 = r1.1["refresh_token"].as_str().unwrap().to_owned();
    s.advance(DEFAULT_GRACE_SECS - 1);
    let again = refresh(&c, &s, &t0).await;
    assert_eq!(again.0, 200, "{}", again.1);
    assert_eq!(again.1["refresh_token"], json!(t1), "grace retry");
    // Past the window, the same token is reuse, and the whole session ends.
    s.advance(2);
    assert_eq!(
        code(&refresh(&c, &s, &t0).await),
        (401, "refresh_token_reused".into())
    );
    assert_eq!(refresh(&c, &s, &t1).await.0, 401, "the successor ended too");

    // An access token verifies until its expiry plus the verifier's leeway, not after.
    let session = login(&c, &s, "tick@example.com", "tick tock password").await;
    let access = session["access_token"].as_str().unwrap().to_owned();
    let expires_in = session["expires_in"].as_i64().unwrap();
    s.advance(expires_in + DEFAULT_LEEWAY_SECS - 1);
    assert_eq!(verify(&c, &s, &access).await.0, 200);
    s.advance(2);
    assert_eq!(
        code(&verify(&c, &s, &access).await),
        (401, "token_expired".into())
    );
    let me = send(c.get(s.url("/api/sso/v1/auth/me")).bearer_auth(&access)).await;
    assert_eq!(code(&me), (401, "token_expired".into()));

    // A refresh token stays usable while the session lives (the access token's expiry does not
    // matter), and not past the session's lifetime (30 days by default).
    let t = session["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh(&c, &s, &t).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let t = r.1["refresh_token"].as_str().unwrap().to_owned();
    s.advance(30 * 24 * 3600);
    assert_eq!(
        code(&refresh(&c, &s, &t).await),
        (401, "session_expired".into())
    );
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_expire_and_rate_limits_reset_with_the_clock() {
    let data = temp_dir("clock-codes");
    let s = Server::start_manual_clock(&data, 0, &[], 0);
    let c = Client::new();

    // A one-time code is refused once its lifetime (300 s by default) has passed.
    let ask = || {
        send(
            c.post(s.url("/api/sso/v1/auth/request-otp"))
                .json(&json!({"identifier": "otto@example.com"})),
        )
    };
    assert_eq!(ask().await.0, 200);
    let first = nth_dev_code(&data, "otto@example.com", 1).await;
    s.advance(301);
    let with = |code: String| {
        send(c.post(s.url("/api/sso/v1/auth/login")).json(
            &json!({"identifier": "otto@example.com", "secret": code, "method": "email/otp", "register": true}),
        ))
    };
    assert_eq!(
        code(&with(first).await),
        (401, "invalid_credentials".into())
    );
    // A fresh code, used at once, works.
    assert_eq!(ask().await.0, 200);
    let second = nth_dev_code(&data, "otto@example.com", 2).await;
    let ok = with(second).await;
    assert_eq!(ok.0, 200, "{}", ok.1);

    // Five wrong passwords close the window for this identifier; the owner is let in again
    // once the Retry-After has passed (and not a second before).
    let reg = post(
        &c,
        s.url("/api/sso/v1/auth/register"),
        &json!({"identifier": "rita@example.com", "secret": "rita's password"}),
    )
    .await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    let attempt = |secret: &'static str| {
        c.post(s.url("/api/sso/v1/auth/login"))
            .json(&json!({"identifier": "rita@example.com", "secret": secret}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong password").await.unwrap().status(), 401);
    }
    let limited = attempt("rita's password").await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry: i64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 1, "{retry}");
    s.advance(retry - 1);
    assert_eq!(attempt("rita's password").await.unwrap().status(), 429);
    s.advance(1);
    assert_eq!(attempt("rita's password").await.unwrap().status(), 200);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}
