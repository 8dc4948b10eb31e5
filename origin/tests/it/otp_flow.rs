//! One-time codes end to end against the real binary: the development mailer (no provider
//! configured), a real SMTP server (`tests/smtp/capture.py`, aiosmtpd), brute force and request
//! limits, and a restart while messages are queued.

use std::time::Duration;

use crate::support::{
    cookie_pair, dev_messages, eventually_within, free_port, nth_dev_code, post, set_cookie,
    temp_dir, Server, SmtpCapture,
};
use reqwest::Client;
use serde_json::{json, Value};

fn code_in(text: &str, len: usize) -> Option<String> {
    crate::support::digits_in(text, len)
}

/// Polls `f` until it gives a value (the outbox delivers in the background), at most 30 s.
async fn eventually<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually_within(what, Duration::from_secs(30), f).await
}

/// The newest code the development mailer wrote for `to`, once there is one.
async fn dev_code(data: &std::path::Path, to: &str) -> String {
    eventually("the development mailer", || {
        let last = dev_messages(data, to).pop()?;
        code_in(last["text"].as_str()?, 6)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_by_the_development_mailer_register_and_log_in() {
    let data = temp_dir("otp-dev");
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));

    // Known and unknown identifiers get the same answer.
    let unknown = post(
        &c,
        api("/auth/request-otp"),
        &json!({"identifier": "Neo@Example.com"}),
    )
    .await;
    assert_eq!(unknown.0, 200, "{}", unknown.1);
    assert_eq!(unknown.1["channel"], "email");
    let code = dev_code(&data, "neo@example.com").await;

    // Without `register`, an unknown identifier cannot log in even with its code (which that
    // attempt uses up)…
    let no = post(
        &c,
        api("/auth/login"),
        &json!({"identifier": "neo@example.com", "secret": code, "method": "email/otp"}),
    )
    .await;
    assert_eq!(no.0, 401, "{}", no.1);
    assert_eq!(
        post(
            &c,
            api("/auth/request-otp"),
            &json!({"identifier": "neo@example.com"})
        )
        .await
        .0,
        200
    );
    let code = nth_dev_code(&data, "neo@example.com", 2).await;
    // …with `register` it signs up, the address verified by the code.
    let yes = post(&c, api("/auth/login"), &json!({"identifier": "neo@example.com", "secret": code, "method": "email/otp", "register": true})).await;
    assert_eq!(yes.0, 200, "{}", yes.1);
    let claims = post(
        &c,
        api("/auth/verify-token"),
        &json!({"token": yes.1["access_token"]}),
    )
    .await
    .1;
    assert_eq!(claims["amr"], json!(["email/otp"]));
    // Single use.
    let again = post(
        &c,
        api("/auth/login"),
        &json!({"identifier": "neo@example.com", "secret": code, "method": "email/otp"}),
    )
    .await;
    assert_eq!(
        (again.0.as_u16(), again.1["error_code"].as_str()),
        (401, Some("invalid_credentials"))
    );

    // A known identifier: same answer shape; a fresh code logs in.
    let known = post(
        &c,
        api("/auth/request-otp"),
        &json!({"identifier": "neo@example.com"}),
    )
    .await;
    assert_eq!(known.0, 200);
    assert_eq!(
        known.1.as_object().unwrap().keys().collect::<Vec<_>>(),
        unknown.1.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    let code2 = nth_dev_code(&data, "neo@example.com", 3).await;
    let login = post(
        &c,
        api("/auth/login"),
        &json!({"identifier": "neo@example.com", "secret": code2, "method": "email/otp"}),
    )
    .await;
    assert_eq!(login.0, 200, "{}", login.1);

    // Bad input.
    for (body, status) in [
        (json!({"identifier": "nobody"}), 422),
        (
            json!({"identifier": "a@b.example", "channel_type": "sms"}),
            422,
        ),
        (
            json!({"identifier": "a@b.example", "channel_type": "pigeon"}),
            422,
        ),
        (json!({"identifier": 5}), 422),
    ] {
        let r = post(&c, api("/auth/request-otp"), &body).await;
        assert_eq!(r.0.as_u16(), status, "{body}: {}", r.1);
        assert!(r.1["error_code"].is_string());
    }
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_exhausts_codes_and_requests_are_limited() {
    let data = temp_dir("otp-brute");
    // Client addresses from X-Forwarded-For, so one test can be many clients.
    let s = Server::start(&data, free_port(), &[("USSO_TRUST_PROXY", "true")]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));
    let who = json!({"identifier": "trinity@example.com"});
    assert_eq!(post(&c, api("/auth/request-otp"), &who).await.0, 200);
    let code = dev_code(&data, "trinity@example.com").await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    // Five wrong codes exhaust it (the login limit per pair is five too: use register, same limits).
    for _ in 0..5 {
        let r = post(&c, api("/auth/login"), &json!({"identifier": "trinity@example.com", "secret": wrong, "method": "email/otp", "register": true})).await;
        assert_eq!(r.0, 401, "{}", r.1);
    }
    let late = post(&c, api("/auth/login"), &json!({"identifier": "trinity@example.com", "secret": code, "method": "email/otp", "register": true})).await;
    assert!(
        matches!(late.0.as_u16(), 401 | 429),
        "the right code after five wrong ones: {}",
        late.1
    );
    assert_ne!(late.0, 200);

    // Code requests: three per identifier per window (from any number of addresses) and three
    // per address (for any identifiers), then 429 with Retry-After.
    let request = |who: &'static str, ip: &'static str| {
        let (c, url) = (c.clone(), api("/auth/request-otp"));
        async move {
            c.post(url)
                .header("x-forwarded-for", ip)
                .json(&json!({ "identifier": who }))
                .send()
                .await
                .unwrap()
        }
    };
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert_eq!(request("morpheus@example.com", ip).await.status(), 200);
    }
    let limited = request("morpheus@example.com", "10.0.0.4").await;
    assert_eq!(limited.status(), 429, "per identifier");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry));
    // The per-identifier limit is soft for the owner's browser: an account's known-device
    // cookie (from an earlier sign-in) still gets a code; a forged one does not.
    let reg = c
        .post(api("/auth/register"))
        .header("x-forwarded-for", "10.0.1.1")
        .json(&json!({"identifier": "neo@example.com", "secret": "neo password 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 200);
    let device =
        cookie_pair(set_cookie(reg.headers(), "usso-device").expect("a known-device cookie"));
    for ip in ["10.0.1.2", "10.0.1.3", "10.0.1.4"] {
        assert_eq!(request("neo@example.com", ip).await.status(), 200);
    }
    let with_cookie = |cookie: String, ip: &'static str| {
        c.post(api("/auth/request-otp"))
            .header("x-forwarded-for", ip)
            .header("cookie", cookie)
            .json(&json!({"identifier": "neo@example.com"}))
            .send()
    };
    let refused = request("neo@example.com", "10.0.1.5").await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("signed in"),
        "{body}"
    );
    let forged = with_cookie("usso-device=9999999999.AAAA".into(), "10.0.1.6")
        .await
        .unwrap();
    assert_eq!(forged.status(), 429);
    let owner = with_cookie(device, "10.0.1.7").await.unwrap();
    assert_eq!(owner.status(), 200);
    for who in ["p1@example.com", "p2@example.com", "p3@example.com"] {
        assert_eq!(request(who, "10.9.9.9").await.status(), 200);
    }
    assert_eq!(
        request("p4@example.com", "10.9.9.9").await.status(),
        429,
        "per address"
    );
    // What an address past its limit asks for is not counted against the identifier: it
    // cannot go on blocking other people's codes.
    for _ in 0..5 {
        assert_eq!(request("p5@example.com", "10.9.9.9").await.status(), 429);
    }
    assert_eq!(request("p5@example.com", "10.0.0.9").await.status(), 200);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_by_real_smtp_and_queued_messages_survive_a_crash() {
    // Messages queued while the relay is down; the origin is killed (SIGKILL), the relay comes
    // up, the origin restarts: every queued message is delivered, once.
    let smtp_port = free_port();
    let data = temp_dir("otp-smtp");
    let port = free_port();
    let env = [
        ("USSO_SMTP_HOST", "127.0.0.1".to_owned()),
        ("USSO_SMTP_PORT", smtp_port.to_string()),
        ("USSO_SMTP_SECURITY", "none".to_owned()),
        ("USSO_SMTP_FROM", "Acme <no-reply@acme.test>".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::process(&data, port, &env);
    let c = Client::new();
    let people = ["a1@example.com", "a2@example.com", "a3@example.com"];
    for p in people {
        let r = post(
            &c,
            s.url("/api/sso/v1/auth/request-otp"),
            &json!({"identifier": p}),
        )
        .await;
        assert_eq!(r.0, 200, "{}", r.1);
    }
    let mut s = s;
    s.child().kill().unwrap();
    s.child().wait().unwrap();
    drop(s);

    let relay = SmtpCapture::start_on(smtp_port, None);
    // A message whose delivery the SIGKILL interrupted stays claimed until its lease runs out;
    // the others wait out their backoff: the origin comes back (in process) with its clock past
    // both, so the restarted worker finds all three due at once.
    let s = Server::start_manual_clock(
        &data,
        port,
        &env,
        usso_origin::delivery::outbox::LEASE_SECS + 1,
    );
    eventually_within("three delivered messages", Duration::from_secs(30), || {
        (relay.count() >= 3).then_some(())
    })
    .await;
    // Log in with a code read from the real message.
    let mut codes = std::collections::HashMap::new();
    for n in 1..=relay.count() {
        let raw = relay.message(n);
        let to = relay.envelope(n)["rcpt_tos"][0]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(raw.contains("From: Acme <no-reply@acme.test>"), "{raw}");
        let body = raw.split("\r\n\r\n").skip(1).collect::<Vec<_>>().join("\n");
        codes.insert(to, code_in(&body, 6).expect("a code in the message"));
    }
    let mut delivered: Vec<_> = codes.keys().cloned().collect();
    delivered.sort();
    assert_eq!(delivered, people, "each queued message delivered");
    let r = post(&c, s.url("/api/sso/v1/auth/login"), &json!({"identifier": "a2@example.com", "secret": codes["a2@example.com"], "method": "email/otp", "register": true})).await;
    assert_eq!(r.0, 200, "{}", r.1);
    s.stop();
    assert_eq!(relay.count(), 3, "delivered once, not twice");
    std::fs::remove_dir_all(&data).ok();
}

/// Counts of answers by status.
async fn guesses(
    c: &Client,
    url: String,
    attempts: Vec<(String, String, String)>, // identifier, code, client address
) -> std::collections::BTreeMap<u16, usize> {
    use futures_util::StreamExt;
    let answers: Vec<u16> = futures_util::stream::iter(attempts)
        .map(|(who, code, ip)| {
            let (c, url) = (c.clone(), url.clone());
            async move {
                c.post(url)
                    .header("x-forwarded-for", ip)
                    .json(&json!({"identifier": who, "secret": code, "method": "email/otp", "register": true}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut counts = std::collections::BTreeMap::new();
    for a in answers {
        *counts.entry(a).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_guesses_hold_every_limit() {
    let data = temp_dir("otp-guess");
    let s = Server::start(&data, free_port(), &[("USSO_TRUST_PROXY", "true")]);
    let c = Client::new();
    let login = s.url("/api/sso/v1/auth/login");

    // One client, 1,000 guesses over 250 identifiers: the per-address limit (100 per 5 min)
    // stops it; nothing gets in.
    let attempts = (0..1000)
        .map(|i| {
            (
                format!("victim{}@example.com", i % 250),
                format!("{:06}", i),
                "10.1.1.1".to_owned(),
            )
        })
        .collect();
    let counts = guesses(&c, login.clone(), attempts).await;
    assert_eq!(counts.get(&200), None, "{counts:?}");
    assert_eq!(
        counts.get(&401),
        Some(&100),
        "only 100 checks from one address: {counts:?}"
    );
    assert_eq!(counts.get(&429), Some(&900), "{counts:?}");

    // Many clients, 1,000 guesses at one identifier that has a live code: the per-identifier
    // limit (20) and the code's attempt limit (5) hold; the real code is never guessed.
    assert_eq!(
        post(
            &c,
            s.url("/api/sso/v1/auth/request-otp"),
            &json!({"identifier": "target@example.com"})
        )
        .await
        .0,
        200
    );
    let code = dev_code(&data, "target@example.com").await;
    let attempts = (0..1000)
        .filter(|i| format!("{i:06}") != code)
        .map(|i| {
            (
                "target@example.com".to_owned(),
                format!("{i:06}"),
                format!("10.2.{}.{}", i / 250, i % 250),
            )
        })
        .collect();
    let counts = guesses(&c, login.clone(), attempts).await;
    assert_eq!(counts.get(&200), None, "{counts:?}");
    assert_eq!(
        counts.get(&401),
        Some(&20),
        "20 checks per identifier: {counts:?}"
    );
    // And the code itself was exhausted after 5 of them: even the right one fails now.
    let late = post(&c, login, &json!({"identifier": "target@example.com", "secret": code, "method": "email/otp", "register": true})).await;
    assert_ne!(late.0, 200);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_by_sms_through_the_signed_webhook() {
    use axum::http::HeaderMap;
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(HeaderMap, Vec<u8>)>>>;
    let seen: Seen = Default::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push((headers, body.to_vec()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let secret = "webhook-secret-0123456789";
    let url = format!("http://{addr}/sms");
    let data = temp_dir("otp-sms");
    let s = Server::start(
        &data,
        free_port(),
        &[
            ("USSO_SMS_WEBHOOK_URL", url.as_str()),
            ("USSO_SMS_WEBHOOK_SECRET", secret),
        ],
    );
    let c = Client::new();
    let r = post(
        &c,
        s.url("/api/sso/v1/auth/request-otp"),
        &json!({"identifier": "+1 (415) 555-0134"}),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["channel"].as_str()),
        (200, Some("sms")),
        "{}",
        r.1
    );
    let (headers, body) =
        eventually("the SMS webhook", || seen.lock().unwrap().first().cloned()).await;
    let signature = headers["x-usso-signature"].to_str().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(usso_origin::delivery::verify_webhook_signature(
        secret.as_bytes(),
        signature,
        &body,
        now,
        300
    ));
    let sms: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sms["to"], "+14155550134");
    let code = code_in(sms["body"].as_str().unwrap(), 6).unwrap();
    let login = post(
        &c,
        s.url("/api/sso/v1/auth/login"),
        &json!({"identifier": "+14155550134", "secret": code, "method": "phone/otp", "register": true}),
    )
    .await;
    assert_eq!(login.0, 200, "{}", login.1);
    let claims = post(
        &c,
        s.url("/api/sso/v1/auth/verify-token"),
        &json!({"token": login.1["access_token"]}),
    )
    .await
    .1;
    assert_eq!(claims["amr"], json!(["phone/otp"]));
    assert_eq!(claims["phone"], "+14155550134");
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_can_have_its_own_smtp_relay() {
    let origin_relay = SmtpCapture::start(None);
    let acme_relay = SmtpCapture::start(Some(("acme-relay", "relay password")));
    let data = temp_dir("otp-tenant-smtp");
    let acme_port = acme_relay.port.to_string();
    crate::support::admin(
        &data,
        &[
            "tenant",
            "create",
            "acme",
            "--domain",
            "acme.test",
            "--tenant-smtp-host",
            "127.0.0.1",
            "--tenant-smtp-port",
            &acme_port,
            "--tenant-smtp-security",
            "none",
            "--tenant-smtp-user",
            "acme-relay",
            "--tenant-smtp-from",
            "Acme <sso@acme.test>",
        ],
        &[("USSO_TENANT_SMTP_PASSWORD", "relay password")],
    );
    // The password is sealed at rest: it appears nowhere in the export.
    let export = crate::support::admin(&data, &["tenant", "export", "acme"], &[]);
    assert!(!export.contains("relay password"));
    let origin_port = origin_relay.port.to_string();
    let s = Server::start(
        &data,
        free_port(),
        &[
            ("USSO_SMTP_HOST", "127.0.0.1"),
            ("USSO_SMTP_PORT", origin_port.as_str()),
            ("USSO_SMTP_SECURITY", "none"),
            ("USSO_SMTP_FROM", "SSO <sso@origin.test>"),
        ],
    );
    let c = Client::new();
    let r = c
        .post(s.url("/api/sso/v1/auth/request-otp"))
        .header("x-tenant-id", "acme")
        .json(&json!({"identifier": "ann@acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        &c,
        s.url("/api/sso/v1/auth/request-otp"),
        &json!({"identifier": "bob@example.com"}),
    )
    .await;
    assert_eq!(r.0, 200);
    eventually("both relays", || {
        (acme_relay.count() == 1 && origin_relay.count() == 1).then_some(())
    })
    .await;
    assert!(acme_relay.message(1).contains("From: Acme <sso@acme.test>"));
    assert_eq!(acme_relay.envelope(1)["authenticated_as"], "acme-relay");
    assert_eq!(acme_relay.envelope(1)["rcpt_tos"][0], "ann@acme.test");
    assert!(origin_relay
        .message(1)
        .contains("From: SSO <sso@origin.test>"));
    assert_eq!(origin_relay.envelope(1)["rcpt_tos"][0], "bob@example.com");
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_policy_and_templates_can_be_changed() {
    let data = temp_dir("otp-policy");
    crate::support::admin(
        &data,
        &[
            "tenant",
            "create",
            "acme",
            "--domain",
            "acme.test",
            "--name",
            "Acme Corp",
        ],
        &[],
    );
    crate::support::admin(
        &data,
        &[
            "tenant",
            "update",
            "acme",
            "--set",
            r#"{"otp": {"length": 8, "ttl_secs": 120, "max_attempts": 3}, "templates": {"otp_subject": "{{brand}} sign-in", "otp_text": "Your {{brand}} code is {{code}} ({{minutes}} min)."}}"#,
        ],
        &[],
    );
    // Bad settings are refused and change nothing.
    for bad in [
        r#"{"otp": {"length": 3}}"#,
        r#"{"tenant_id": "x"}"#,
        r#"{"captcha": ["everything"]}"#,
        "not json",
    ] {
        let out = crate::support::bin()
            .env("USSO_DATA_DIR", &data)
            .args(["tenant", "update", "acme", "--set", bad])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let r = c
        .post(s.url("/api/sso/v1/auth/request-otp"))
        .header("x-tenant-id", "acme")
        .json(&json!({"identifier": "ann@acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["expires_in"], 120);
    let message = eventually("the message", || {
        dev_messages(&data, "ann@acme.test").into_iter().next()
    })
    .await;
    assert_eq!(message["subject"], "Acme Corp sign-in");
    let text = message["text"].as_str().unwrap();
    assert!(text.starts_with("Your Acme Corp code is "), "{text}");
    assert!(text.ends_with(" (2 min)."), "{text}");
    let code = code_in(text, 8).expect("an 8-digit code");
    let login = c
        .post(s.url("/api/sso/v1/auth/login"))
        .header("x-tenant-id", "acme")
        .json(&json!({"identifier": "ann@acme.test", "secret": code, "method": "email/otp", "register": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}
