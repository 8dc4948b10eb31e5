//! Security issue 11: each behaviour the black-box attack on the origin found missing, against
//! the real binary. Every test here failed on the code before the fix.

use std::time::Duration;

use reqwest::Client;
use serde_json::{json, Value};

use crate::support::{
    admin, cookie_pair, dev_messages, eventually_within, free_port, get_as, kid_of, nth_dev_code,
    post_as, set_cookie, temp_dir, token_in, Server,
};

fn audit_events(data: &std::path::Path, tenant: &str) -> Vec<Value> {
    admin(data, &["tenant", "export", tenant], &[])
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["kind"] == "audit" || l["collection"] == "audit")
        .collect()
}

/// Item 1 (pre-hijacking), for an email and a phone: someone registers the victim's address
/// with their own password; when the owner proves the address with a code, the intruder's
/// password stops working, the intruder's sessions end, the address is verified, and both
/// events are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proving_an_unverified_identifier_evicts_whoever_set_the_password() {
    let data = temp_dir("prehijack");
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));
    for (victim, method, n) in [
        ("victim@example.com", "email/otp", 1),
        ("+15551230001", "phone/otp", 1),
    ] {
        let intruder = json!({"identifier": victim, "secret": "intruder password 1"});
        let reg = post_as(&c, api("/auth/register"), "org_default", &intruder).await;
        assert_eq!(reg.0, 200, "org_default has activation none: {}", reg.1);
        let intruder_refresh = reg.1["refresh_token"].as_str().unwrap().to_owned();
        let intruder_access = reg.1["access_token"].as_str().unwrap().to_owned();

        // The owner signs in with a code sent to the address.
        let r = post_as(
            &c,
            api("/auth/request-otp"),
            "org_default",
            &json!({"identifier": victim}),
        )
        .await;
        assert_eq!(r.0, 200, "{}", r.1);
        let code = nth_dev_code(&data, victim, n).await;
        let owner = post_as(
            &c,
            api("/auth/login"),
            "org_default",
            &json!({"identifier": victim, "secret": code, "method": method}),
        )
        .await;
        assert_eq!(owner.0, 200, "{}", owner.1);
        let owner_access = owner.1["access_token"].as_str().unwrap().to_owned();

        // The intruder's password and sessions are gone; the owner's session works.
        let again = post_as(&c, api("/auth/login"), "org_default", &intruder).await;
        assert_eq!(again.0, 401, "{}", again.1);
        let refresh = post_as(
            &c,
            api("/auth/refresh"),
            "org_default",
            &json!({"refresh_token": intruder_refresh}),
        )
        .await;
        assert_eq!(refresh.1["error_code"], "session_revoked", "{}", refresh.1);
        let sessions = get_as(&c, api("/sessions"), "org_default", &intruder_access).await;
        assert_eq!(
            sessions.0, 401,
            "a revoked session manages nothing: {}",
            sessions.1
        );
        let mine = get_as(&c, api("/sessions"), "org_default", &owner_access).await;
        assert_eq!(mine.0, 200, "{}", mine.1);
        assert_eq!(mine.1["total"], 2, "{}", mine.1);
        let live: Vec<&Value> = mine.1["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["is_active"] == true)
            .collect();
        assert_eq!(
            live.len(),
            1,
            "only the owner's session is live: {}",
            mine.1
        );
    }
    let events: Vec<String> = audit_events(&data, "org_default")
        .iter()
        .filter_map(|e| {
            e["body"]["event"]
                .as_str()
                .or(e["event"].as_str())
                .map(str::to_owned)
        })
        .collect();
    for wanted in ["identifier_verified", "unverified_account_claimed"] {
        assert_eq!(
            events.iter().filter(|e| *e == wanted).count(),
            2,
            "{wanted} in {events:?}"
        );
    }
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 1, the activation rule: on a tenant made with `tenant create` (activation
/// `identifier` by default) a password alone does not sign in until the address is proven;
/// the code that proves it goes to the address, and password + code then sign in (the password
/// is kept: the one who knows it also reads the mailbox).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_identifier_needs_a_proven_address_before_password_sign_in() {
    let data = temp_dir("activation");
    admin(
        &data,
        &["tenant", "create", "acme", "--domain", "acme.test"],
        &[],
    );
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));
    let creds = json!({"identifier": "dora@acme.test", "secret": "dora password 1"});
    let reg = post_as(&c, api("/auth/register"), "acme", &creds).await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    assert!(reg.1.get("access_token").is_none(), "{}", reg.1);
    assert_eq!(reg.1["verification_required"], true, "{}", reg.1);
    // The registration's code is delivered before the next one is asked for (no order
    // between two queued messages), so the login's code is the second message.
    nth_dev_code(&data, "dora@acme.test", 1).await;
    let login = post_as(&c, api("/auth/login"), "acme", &creds).await;
    assert_eq!(login.1["step"], "verify_identifier", "{}", login.1);
    let challenge = login.1["mfa_challenge"].as_str().unwrap().to_owned();
    let code = nth_dev_code(&data, "dora@acme.test", 2).await;
    let done = post_as(
        &c,
        api("/auth/mfa/verify"),
        "acme",
        &json!({"mfa_challenge": challenge, "code": code}),
    )
    .await;
    assert_eq!(done.0, 200, "{}", done.1);
    assert!(done.1["access_token"].is_string());
    // Proven now: the password alone signs in.
    let later = post_as(&c, api("/auth/login"), "acme", &creds).await;
    assert_eq!(later.0, 200, "{}", later.1);
    assert!(later.1["access_token"].is_string(), "{}", later.1);
    // A username cannot be proven: refused at registration, not stranded afterwards.
    let name = post_as(
        &c,
        api("/auth/register"),
        "acme",
        &json!({"identifier": "dora", "type": "username", "secret": "dora password 1"}),
    )
    .await;
    assert_eq!(name.0, 422, "{}", name.1);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 2: on an MFA tenant a mailbox code or a magic link alone never yields a session, and
/// registrations that could never pass the second factor are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_mfa_is_not_bypassed_by_passwordless_sign_in() {
    let data = temp_dir("mfa-bypass");
    admin(
        &data,
        &[
            "tenant",
            "create",
            "secure",
            "--domain",
            "secure.test",
            "--require-mfa",
            "--activation",
            "none",
        ],
        &[],
    );
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));
    let who = "erin@secure.test";
    let reg = post_as(
        &c,
        api("/auth/register"),
        "secure",
        &json!({"identifier": who, "secret": "erin password 1"}),
    )
    .await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    assert_eq!(
        reg.1["mfa_required"], true,
        "registration also needs the second factor: {}",
        reg.1
    );
    assert!(reg.1.get("access_token").is_none());
    // Its code is delivered before the next one is asked for: messages have no order.
    nth_dev_code(&data, who, 1).await;

    // An email code alone.
    assert_eq!(
        post_as(
            &c,
            api("/auth/request-otp"),
            "secure",
            &json!({"identifier": who})
        )
        .await
        .0,
        200
    );
    let code = nth_dev_code(&data, who, 2).await;
    let otp = post_as(
        &c,
        api("/auth/login"),
        "secure",
        &json!({"identifier": who, "secret": code, "method": "email/otp"}),
    )
    .await;
    assert_eq!(
        (otp.0.as_u16(), otp.1["error_code"].as_str()),
        (403, Some("mfa_required")),
        "{}",
        otp.1
    );
    assert!(otp.1.get("access_token").is_none());

    // A magic link alone.
    assert_eq!(
        post_as(
            &c,
            api("/auth/request-magic-link"),
            "secure",
            &json!({"identifier": who})
        )
        .await
        .0,
        200
    );
    let token = eventually_within("a link", Duration::from_secs(30), || {
        dev_messages(&data, who)
            .iter()
            .rev()
            .find_map(|m| token_in(m["text"].as_str()?))
    })
    .await;
    let link = post_as(
        &c,
        api("/auth/magic-link"),
        "secure",
        &json!({"token": token}),
    )
    .await;
    assert_eq!(
        (link.0.as_u16(), link.1["error_code"].as_str()),
        (403, Some("mfa_required")),
        "{}",
        link.1
    );

    // Accounts that could never sign in are not created.
    for body in [json!({"identifier": "frank", "type": "username", "secret": "frank password 1"})] {
        let r = post_as(&c, api("/auth/register"), "secure", &body).await;
        assert_eq!(r.0, 422, "{body}: {}", r.1);
    }
    assert_eq!(
        post_as(
            &c,
            api("/auth/request-otp"),
            "secure",
            &json!({"identifier": "gina@secure.test"})
        )
        .await
        .0,
        200
    );
    let code = nth_dev_code(&data, "gina@secure.test", 1).await;
    let passwordless = post_as(
        &c,
        api("/auth/login"),
        "secure",
        &json!({"identifier": "gina@secure.test", "secret": code, "method": "email/otp", "register": true}),
    )
    .await;
    assert_eq!(passwordless.0, 422, "{}", passwordless.1);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Items 6 and 17: with strict verification a logged-out session's access token reads and
/// manages nothing on the origin's own routes; session management checks the session is live
/// even without strict mode; `read:billing/sessions` does not grant other users' sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_and_session_management_need_a_live_session() {
    let data = temp_dir("strict");
    let s = Server::start(&data, free_port(), &[("USSO_STRICT_VERIFY", "true")]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));
    let creds = json!({"identifier": "hal@example.com", "secret": "hal password 1"});
    let a = post_as(&c, api("/auth/register"), "org_default", &creds).await;
    let b = post_as(&c, api("/auth/login"), "org_default", &creds).await;
    let (a_access, a_refresh) = (
        a.1["access_token"].as_str().unwrap().to_owned(),
        a.1["refresh_token"].as_str().unwrap().to_owned(),
    );
    let b_access = b.1["access_token"].as_str().unwrap().to_owned();
    let out = post_as(
        &c,
        api("/auth/logout"),
        "org_default",
        &json!({"refresh_token": a_refresh}),
    )
    .await;
    assert_eq!(out.0, 200, "{}", out.1);
    for path in ["/auth/me", "/me", "/sessions"] {
        let r = get_as(&c, api(path), "org_default", &a_access).await;
        assert_eq!(r.0, 401, "{path}: {}", r.1);
        assert_eq!(r.1["error_code"], "session_revoked", "{path}: {}", r.1);
    }
    let b_sid = {
        let r = get_as(&c, api("/sessions"), "org_default", &b_access).await;
        r.1["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let del = c
        .delete(api(&format!("/sessions/{b_sid}")))
        .header("x-tenant-id", "org_default")
        .bearer_auth(&a_access)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 401, "a logged-out token revokes nothing");
    assert_eq!(
        get_as(&c, api("/me"), "org_default", &b_access).await.0,
        200
    );
    s.stop();

    // Without strict mode: /me still answers for the stateless token, sessions do not.
    let s = Server::start(&data, free_port(), &[]);
    assert_eq!(
        get_as(&c, s.url("/api/sso/v1/me"), "org_default", &a_access)
            .await
            .0,
        200
    );
    assert_eq!(
        get_as(&c, s.url("/api/sso/v1/sessions"), "org_default", &a_access)
            .await
            .0,
        401
    );

    // A scope of another service that ends in `sessions` grants nothing here.
    admin(
        &data,
        &[
            "user",
            "create",
            "billing@example.com",
            "--scope",
            "read:billing/sessions",
        ],
        &[("USSO_NEW_PASSWORD", "billing password 1")],
    );
    let bill = post_as(
        &c,
        s.url("/api/sso/v1/auth/login"),
        "org_default",
        &json!({"identifier": "billing@example.com", "secret": "billing password 1"}),
    )
    .await;
    let token = bill.1["access_token"].as_str().unwrap().to_owned();
    let me = get_as(&c, s.url("/api/sso/v1/me"), "org_default", &b_access).await;
    let uid = me.1["id"].as_str().unwrap().to_owned();
    let other = get_as(
        &c,
        s.url(&format!("/api/sso/v1/sessions?user_id={uid}")),
        "org_default",
        &token,
    )
    .await;
    assert_eq!(other.0, 403, "{}", other.1);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 3: behind one trusted proxy the client address is the rightmost entry, so a client
/// cannot pick its own; garbage is refused; RFC 7239 `Forwarded` is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_comes_from_the_trusted_hop() {
    let data = temp_dir("xff");
    let s = Server::start(&data, free_port(), &[("USSO_TRUSTED_PROXY_HOPS", "1")]);
    let c = Client::new();
    let login = s.url("/api/sso/v1/auth/login");
    // 101 wrong passwords, each with a fresh spoofed leftmost address but the same address
    // appended by "our proxy": the per-address limit (100) still holds.
    let mut last = 0;
    for i in 0..101 {
        let r = c
            .post(&login)
            .header("x-forwarded-for", format!("10.0.{}.{}, 198.51.100.7", i / 200, i % 200))
            .json(&json!({"identifier": format!("nobody{i}@example.com"), "secret": "wrong password"}))
            .send()
            .await
            .unwrap();
        last = r.status().as_u16();
    }
    assert_eq!(
        last, 429,
        "the 101st check from one real address is refused"
    );
    for bad in ["198.51.100.7, evil", "not-an-ip"] {
        let r = c
            .post(&login)
            .header("x-forwarded-for", bad)
            .json(&json!({"identifier": "a@example.com", "secret": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error_code"], "bad_request");
    }
    // The session list shows the address the proxy saw (Forwarded wins over X-Forwarded-For).
    let reg = c
        .post(s.url("/api/sso/v1/auth/register"))
        .header("forwarded", "for=6.6.6.6, for=\"[2001:db8::7]:443\"")
        .header("x-forwarded-for", "9.9.9.9")
        .json(&json!({"identifier": "ivy@example.com", "secret": "ivy password 1"}))
        .send()
        .await
        .unwrap();
    let body: Value = reg.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let sessions = get_as(&c, s.url("/api/sso/v1/sessions"), "org_default", &token).await;
    assert_eq!(
        sessions.1["items"][0]["ip"], "2001:db8::7",
        "{}",
        sessions.1
    );
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 16: the data directory and everything secret in it are owner-only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let data = temp_dir("perms").join("data");
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    // A code in the development outbox.
    post_as(
        &c,
        s.url("/api/sso/v1/auth/request-otp"),
        "org_default",
        &json!({"identifier": "jo@example.com"}),
    )
    .await;
    nth_dev_code(&data, "jo@example.com", 1).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    for f in ["usso.db", "hot.db", "master.key", "dev-outbox.jsonl"] {
        assert!(data.join(f).exists(), "{f}");
    }
    s.stop();
    std::fs::remove_dir_all(data.parent().unwrap()).ok();
}

/// Item 5 (Slowloris): under a 256-descriptor limit, hundreds of connections that send nothing,
/// half a head, or half a body neither take the service down nor stay open: /health and a
/// login answer while they are held, the server closes each within its deadline, a flood
/// beyond the connection cap is shed without a crash, and a 200 KB header line is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_neither_stay_nor_take_the_service_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let data = temp_dir("slowloris");
    let port = free_port();
    let s = Server::process_with_nofile(
        &data,
        port,
        &[
            ("USSO_HEADER_TIMEOUT_SECS", "2"),
            ("USSO_BODY_TIMEOUT_SECS", "2"),
            ("USSO_MAX_CONNECTIONS", "200"),
        ],
        256,
    );
    let addr = format!("127.0.0.1:{port}");
    let stall = |kind: usize| {
        let addr = addr.clone();
        async move {
            let mut c = TcpStream::connect(&addr).await.unwrap();
            match kind % 3 {
                0 => {}
                1 => c
                    .write_all(b"POST /api/sso/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
                    .await
                    .unwrap(),
                _ => c
                    .write_all(b"POST /api/sso/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"identifier\":")
                    .await
                    .unwrap(),
            }
            c
        }
    };
    let c = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let creds = json!({"identifier": "kim@example.com", "secret": "kim password 1"});
    assert_eq!(
        post_as(
            &c,
            s.url("/api/sso/v1/auth/register"),
            "org_default",
            &creds
        )
        .await
        .0,
        200
    );

    // 150 stalled connections held open: the service answers beside them.
    let mut held = Vec::new();
    for i in 0..150 {
        held.push(stall(i).await);
    }
    let health = c.get(s.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let login = post_as(&c, s.url("/api/sso/v1/auth/login"), "org_default", &creds).await;
    assert_eq!(login.0, 200, "{}", login.1);

    // The server closes every one of them by its deadlines (2 s for heads, 2 s for bodies).
    let started = std::time::Instant::now();
    for (i, mut conn) in held.into_iter().enumerate() {
        let mut buf = vec![0u8; 4096];
        let mut seen = Vec::new();
        loop {
            let left = Duration::from_secs(15).saturating_sub(started.elapsed());
            match tokio::time::timeout(left, conn.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                Err(_) => panic!("stalled connection {i} still open after 15 s"),
            }
        }
        if i % 3 == 2 {
            let text = String::from_utf8_lossy(&seen);
            assert!(text.starts_with("HTTP/1.1 408"), "half a body: {text}");
        }
    }

    // Beyond the cap (and beyond the descriptor limit): shed, no crash, and the service is
    // back once the stalled connections' deadlines pass.
    let mut flood = Vec::new();
    for i in 0..300 {
        match TcpStream::connect(&addr).await {
            Ok(mut conn) => {
                if i % 2 == 1 {
                    let _ = conn
                        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
                        .await;
                }
                flood.push(conn);
            }
            Err(_) => break,
        }
    }
    eventually_within(
        "the service after the flood",
        Duration::from_secs(20),
        || {
            std::net::TcpStream::connect(&addr).ok().and_then(|mut t| {
                use std::io::{Read, Write};
                t.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
                t.write_all(
                    b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                )
                .ok()?;
                let mut out = String::new();
                t.read_to_string(&mut out).ok()?;
                out.starts_with("HTTP/1.1 200").then_some(())
            })
        },
    )
    .await;
    drop(flood);
    let login = post_as(&c, s.url("/api/sso/v1/auth/login"), "org_default", &creds).await;
    assert_eq!(login.0, 200, "{}", login.1);

    // One 200 KB header line is refused (431), not buffered.
    let mut conn = TcpStream::connect(&addr).await.unwrap();
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let _ = conn.write_all(big.as_bytes()).await;
    let mut out = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut out))
        .await
        .expect("an answer to an oversized head")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&out[..n]);
    assert!(text.starts_with("HTTP/1.1 431") || n == 0, "{text}");
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(s.logs().matches("panicked").count() == 0, "{}", s.logs());
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 9: refused (429) attempts are counted, not written one by one: 300 guesses from one
/// client, 200 of them refused, leave a handful of audit entries that carry the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_attempts_are_counted_not_written_one_by_one() {
    let data = temp_dir("refusals");
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let mut refused = 0;
    for i in 0..300 {
        let r = post_as(
            &c,
            s.url("/api/sso/v1/auth/login"),
            "org_default",
            &json!({"identifier": format!("guess{i}@example.com"), "secret": "wrong password"}),
        )
        .await;
        if r.0 == 429 {
            refused += 1;
        }
    }
    assert_eq!(refused, 200, "the per-address limit is 100 per 5 minutes");
    s.stop();
    let limited: Vec<Value> = audit_events(&data, "org_default")
        .into_iter()
        .filter(|e| e["body"]["event"] == "login_rate_limited")
        .collect();
    let counts: Vec<u64> = limited
        .iter()
        .map(|e| e["body"]["detail"]["refused_in_window"].as_u64().unwrap())
        .collect();
    let mut sorted = counts.clone();
    sorted.sort();
    assert_eq!(sorted, [1, 10, 100], "{limited:?}");
    std::fs::remove_dir_all(&data).ok();
}

/// Item 12 (login CSRF, CSRF logout) and item 11 (`Vary`): JSON routes refuse bodies that are
/// not JSON; routes that set or clear cookies refuse requests a browser marks as cross-site;
/// the same requests from the service's own origin, or from a client that is not a browser,
/// pass. JWKS and discovery vary on the headers that choose the tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_cannot_sign_in_refresh_or_sign_out() {
    let data = temp_dir("csrf");
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let login = s.url("/api/sso/v1/auth/login");
    let creds = json!({"identifier": "lee@example.com", "secret": "lee password 1"});
    let reg = post_as(
        &c,
        s.url("/api/sso/v1/auth/register"),
        "org_default",
        &creds,
    )
    .await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    let refresh_token = reg.1["refresh_token"].as_str().unwrap().to_owned();

    // A text/plain body (what a cross-site form can send without a preflight) is not JSON.
    let plain = c
        .post(&login)
        .header("content-type", "text/plain")
        .body(creds.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);

    let cross = |url: String, header: (&'static str, &'static str), body: Value| {
        c.post(url).header(header.0, header.1).json(&body).send()
    };
    for header in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = cross(login.clone(), header, creds.clone()).await.unwrap();
        assert_eq!(r.status(), 403, "login {header:?}");
        let r = cross(
            s.url("/api/sso/v1/auth/refresh"),
            header,
            json!({"refresh_token": refresh_token}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 403, "refresh {header:?}");
        let r = cross(
            s.url("/api/sso/v1/auth/logout"),
            header,
            json!({"refresh_token": refresh_token}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 403, "logout {header:?}");
        let r = cross(
            s.url("/api/sso/v1/auth/magic-link"),
            header,
            json!({"token": "whatever"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 403, "magic link {header:?}");
    }
    // A cross-site GET logout (a link or an image on another site) ends nothing.
    let r = c
        .get(s.url("/api/sso/v1/auth/logout"))
        .header("sec-fetch-site", "cross-site")
        .header("cookie", format!("usso-refresh-token={refresh_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The session is untouched; from the service's own origin everything works.
    let own = s.url("");
    let r = c
        .post(s.url("/api/sso/v1/auth/refresh"))
        .header("origin", own.trim_end_matches('/'))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"refresh_token": refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = c
        .post(&login)
        .header("origin", own.trim_end_matches('/'))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        let r = c.get(s.url(path)).send().await.unwrap();
        let vary = r
            .headers()
            .get("vary")
            .map(|v| v.to_str().unwrap().to_ascii_lowercase());
        assert!(
            vary.as_deref()
                .is_some_and(|v| v.contains("host") && v.contains("x-tenant-id")),
            "{path}: {vary:?}"
        );
    }
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 13 (and the names of item 18): identifiers that render like an existing one are the
/// same account (409) or refused (422); display names with bidi overrides are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_identifiers_are_one_account_or_refused() {
    let data = temp_dir("lookalike");
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let reg = |identifier: &str, name: Option<&str>| {
        let mut body = json!({"identifier": identifier, "secret": "look-alike password 1"});
        if let Some(n) = name {
            body["name"] = json!(n);
        }
        let url = s.url("/api/sso/v1/auth/register");
        let c = c.clone();
        async move { post_as(&c, url, "org_default", &body).await }
    };
    assert_eq!(reg("ada@münchen.de", None).await.0, 200);
    for same in [
        "ＡＤＡ@münchen.de",
        "ada@MÜNCHEN.DE",
        "ada@xn--mnchen-3ya.de",
        "ada@münchen。de",
    ] {
        let r = reg(same, None).await;
        assert_eq!(r.0, 409, "{same}: {}", r.1);
    }
    assert_eq!(reg("josé@example.com", None).await.0, 200);
    assert_eq!(
        reg("jose\u{301}@example.com", None).await.0,
        409,
        "NFD is the same address"
    );
    for refused in [
        "ad\u{200b}a@münchen.de",
        "p\u{430}ypal@example.com",
        "adm\u{131}n@example.com",
        "system.",
        "r00t",
    ] {
        let r = reg(refused, None).await;
        assert_eq!(r.0, 422, "{refused:?}: {}", r.1);
    }
    let r = reg("bidi@example.com", Some("evil\u{202e}gpj.exe")).await;
    assert_eq!(r.0, 422, "{}", r.1);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 14: a key rotation takes effect for signing at once (the running origin signs with the
/// new key on the next sign-in), and a refresh token signed by the retired key keeps working
/// for the refresh lifetime (the retired key is kept that long), so rotation ends no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_signs_at_once_and_ends_no_session() {
    let data = temp_dir("rotation");
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let creds = json!({"identifier": "max@example.com", "secret": "max password 1"});
    let reg = post_as(
        &c,
        s.url("/api/sso/v1/auth/register"),
        "org_default",
        &creds,
    )
    .await;
    let old_kid = kid_of(reg.1["access_token"].as_str().unwrap());
    let out = admin(&data, &["key", "rotate"], &[]);
    let new_kid = serde_json::from_str::<Value>(&out).unwrap()["active_kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(old_kid, new_kid);
    let login = post_as(&c, s.url("/api/sso/v1/auth/login"), "org_default", &creds).await;
    assert_eq!(login.0, 200, "{}", login.1);
    assert_eq!(kid_of(login.1["access_token"].as_str().unwrap()), new_kid);
    // The old refresh token still refreshes, into the new key.
    let r = post_as(
        &c,
        s.url("/api/sso/v1/auth/refresh"),
        "org_default",
        &json!({"refresh_token": reg.1["refresh_token"]}),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    // The retired key verifies for the refresh lifetime (30 days by default), not ~1 hour.
    let keys = admin(&data, &["key", "list"], &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let retired = keys
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|k| k["kid"] == old_kid.as_str())
        .expect("the retired key is kept");
    assert!(
        retired["retire_at"].as_i64().unwrap() >= now + 2_592_000 - 120,
        "{retired}"
    );
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 4: guesses from many addresses exhaust the account's per-identifier limit, yet the
/// owner still gets in with the known-device cookie of an earlier sign-in, or with a solved
/// captcha; without either the answer says how to get through. The attacker gains nothing:
/// with a captcha each guess is still checked (and costs a fresh proof of work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_cannot_lock_the_owner_out() {
    let data = temp_dir("lockout");
    let s = Server::start(&data, free_port(), &[("USSO_TRUSTED_PROXY_HOPS", "1")]);
    let c = Client::new();
    let login = s.url("/api/sso/v1/auth/login");
    let attempt = |from: String, secret: &str, cookie: Option<String>, altcha: Option<String>| {
        let mut body = json!({"identifier": "owner@example.com", "secret": secret});
        if let Some(a) = altcha {
            body["altcha"] = json!(a);
        }
        let mut r = c.post(&login).header("x-forwarded-for", from).json(&body);
        if let Some(k) = cookie {
            r = r.header("cookie", k);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let device = set_cookie(r.headers(), "usso-device").map(cookie_pair);
            (
                status,
                r.json::<Value>().await.unwrap_or(Value::Null),
                device,
            )
        }
    };
    let solved = || async {
        let challenge: usso_origin::authn::captcha::Challenge = c
            .get(s.url("/api/sso/v1/captcha/challenge"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        usso_origin::authn::captcha::solve(&challenge)
            .expect("solvable")
            .to_payload()
    };
    let reg = c
        .post(s.url("/api/sso/v1/auth/register"))
        .header("x-forwarded-for", "10.50.0.1")
        .json(&json!({"identifier": "owner@example.com", "secret": "owner password 1"}))
        .send()
        .await
        .unwrap();
    let line = set_cookie(reg.headers(), "usso-device").expect("a known-device cookie");
    assert!(line.contains("HttpOnly"), "{line}");
    let device = cookie_pair(line);

    // 30 parallel guesses from one address: the per-pair limit lets 5 be checked; the 25 it
    // refuses do not count against the account, so the owner still signs in from elsewhere
    // without a cookie or a captcha (before, they spent the owner's budget of 20).
    let burst: Vec<_> = (0..30)
        .map(|_| tokio::spawn(attempt("10.70.0.1".into(), "guess", None, None)))
        .collect();
    let mut statuses = Vec::new();
    for t in burst {
        statuses.push(t.await.unwrap().0);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [[401; 5].as_slice(), &[429; 25]].concat());
    let (status, body, _) = attempt("10.50.0.5".into(), "owner password 1", None, None).await;
    assert_eq!(status, 200, "{body}");

    // 25 guesses from 25 addresses: past 20 the account's limit refuses.
    let exhaust = |round: u8| {
        let attempt = &attempt;
        async move {
            let mut statuses = Vec::new();
            for i in 0..25 {
                statuses.push(
                    attempt(format!("10.6{round}.0.{i}"), "guess", None, None)
                        .await
                        .0,
                );
            }
            statuses
        }
    };
    let statuses = exhaust(0).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );

    // The owner, from a new address: refused without a cookie or captcha, and told how to pass.
    let (status, body, _) = attempt("10.50.0.2".into(), "owner password 1", None, None).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("captcha"),
        "{body}"
    );
    // The attacker with a captcha: the guess is checked, not let in; a solution works once; a
    // forged device cookie does not pass.
    let payload = solved().await;
    let (status, _, _) = attempt("10.60.1.1".into(), "guess", None, Some(payload.clone())).await;
    assert_eq!(status, 401);
    let (status, _, _) = attempt("10.60.1.2".into(), "guess", None, Some(payload)).await;
    assert_eq!(status, 422);
    let (status, _, _) = attempt(
        "10.60.1.3".into(),
        "guess",
        Some("usso-device=9999999999.AAAA".into()),
        None,
    )
    .await;
    assert_eq!(status, 429);
    // The owner gets in with a solved captcha…
    let (status, body, _) = attempt(
        "10.50.0.4".into(),
        "owner password 1",
        None,
        Some(solved().await),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // …and, after another round of guessing, with the known-device cookie of an earlier sign-in.
    let statuses = exhaust(1).await;
    assert!(statuses.contains(&429), "{statuses:?}");
    let (status, body, _) =
        attempt("10.50.0.3".into(), "owner password 1", Some(device), None).await;
    assert_eq!(status, 200, "{body}");
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// Item 18: request framing and the gateway. Two `Host` headers are refused; with an
/// absolute-form target its authority chooses the tenant; a wrong method answers 405
/// `method_not_allowed` in the JSON error shape; the gateway refuses to start with a token of
/// under 128 bits and throttles failed authentications per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_methods_and_gateway_authentication() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = crate::support::RedisServer::start();
    let token = "0123456789abcdef0123456789abcdef";
    let data = temp_dir("framing");
    let s = Server::start(
        &data,
        free_port(),
        &[
            ("USSO_REDIS_URL", &redis.url()),
            ("USSO_GATEWAY_TOKEN", token),
        ],
    );
    let raw = |request: String| {
        let addr = s.base.trim_start_matches("http://").to_owned();
        async move {
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            c.write_all(request.as_bytes()).await.unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    let two_hosts = raw(
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(two_hosts.starts_with("HTTP/1.1 400"), "{two_hosts}");
    let absolute = raw(
        "GET http://unknown.example/.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(absolute.starts_with("HTTP/1.1 400"), "{absolute}");
    assert!(absolute.contains("tenant_not_found"), "{absolute}");
    let absolute = raw(
        "GET http://localhost/.well-known/jwks.json HTTP/1.1\r\nHost: unknown.example\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(absolute.starts_with("HTTP/1.1 200"), "{absolute}");

    // What hyper refuses before any handler runs answers in the JSON error shape too.
    for (request, status, code) in [
        ("GARBAGE\r\n\r\n".to_owned(), "400", "bad_request"),
        (
            "GET /health HTTP/1.1\r\nHost: localhost\r\nbad header\r\n\r\n".to_owned(),
            "400",
            "bad_request",
        ),
        (
            format!(
                "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
                "a".repeat(40_000)
            ),
            "431",
            "headers_too_large",
        ),
    ] {
        let out = raw(request).await;
        assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{out}");
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("content-type: application/json"), "{head}");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error_code"], code, "{body}");
        assert!(body["message"]["en"].is_string());
    }

    let c = Client::new();
    let r = c.put(s.url("/api/sso/v1/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "method_not_allowed", "{body}");
    let r = c
        .put(s.url("/api/sso/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    // The gateway: 20 wrong tokens are 401, then 429 even for the right one from that address.
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let r = c
            .post(s.url("/redis"))
            .bearer_auth("wrong-token-wrong-token-wrong-token")
            .json(&json!(["PING"]))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[..20], [401; 20]);
    assert_eq!(statuses[20], 429);
    let r = c
        .post(s.url("/redis"))
        .bearer_auth(token)
        .json(&json!(["PING"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "throttled addresses are not even compared");
    // From another address (the throttle is per address): an oversized body is a JSON error.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = other
        .post(s.url("/redis"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    s.stop();

    let weak = crate::support::bin()
        .env("USSO_DATA_DIR", &data)
        .env("USSO_LISTEN", "127.0.0.1:0")
        .env("USSO_REDIS_URL", redis.url())
        .env("USSO_GATEWAY_TOKEN", "passwordpassword1234")
        .output()
        .unwrap();
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("128 bits"));
    std::fs::remove_dir_all(&data).ok();
}
