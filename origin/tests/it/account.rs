//! A person's own account (issue 13): change and reset the password, prove an identifier,
//! export and delete the account, read one's security events; an administrator's password
//! set and the tenant's audit trail. Runs on SQLite and, through scripts/test.sh, on the Data
//! API stand-in.

use reqwest::Client;
use serde_json::{json, Value};

use crate::support::{
    admin, api, code, dev_messages, free_port, nth_dev_code, server_with_admin, temp_dir, token_in,
    Auth, Reply, Server,
};

const API: &str = "/api/sso/v1";

async fn call(
    c: &Client,
    s: &Server,
    m: &str,
    p: &str,
    token: Option<&str>,
    b: Option<Value>,
) -> Reply {
    let auth = token.map_or(Auth::None, Auth::Bearer);
    api(c, s, m, p, "org_default", auth, b.as_ref()).await
}

async fn login(c: &Client, s: &Server, who: &str, secret: &str) -> Reply {
    call(
        c,
        s,
        "POST",
        "/auth/login",
        None,
        Some(json!({"identifier": who, "secret": secret})),
    )
    .await
}

fn pair(r: &Reply) -> (String, String) {
    assert_eq!(r.0, 200, "{}", r.1);
    (
        r.1["access_token"].as_str().unwrap().to_owned(),
        r.1["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(c: &Client, s: &Server, token: &str) -> Reply {
    call(
        c,
        s,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_change_reset_and_prove_their_credentials() {
    let data = temp_dir("account");
    Server::start(&data, free_port(), &[]).stop();
    admin(
        &data,
        &["user", "create", "boss@example.com", "--role", "admin"],
        &[("USSO_NEW_PASSWORD", "a long password 1")],
    );
    // One test client sends every code request from one address: allow more than the default 3.
    admin(
        &data,
        &[
            "tenant",
            "update",
            "org_default",
            "--set",
            r#"{"otp_limit_ip": {"max": 20, "window_secs": 300}}"#,
        ],
        &[],
    );
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/register",
        None,
        Some(json!({"identifier": "pat@example.com", "secret": "pat password 1"})),
    )
    .await;
    let (a, a_refresh) = pair(&r);
    let (_, b_refresh) = pair(&login(&c, &s, "pat@example.com", "pat password 1").await);
    let (boss, _) = pair(&login(&c, &s, "boss@example.com", "a long password 1").await);
    let pat_id = {
        let r = call(&c, &s, "GET", "/users?q=pat", Some(&boss), None).await;
        r.1["items"][0]["uid"].as_str().unwrap().to_owned()
    };

    // Change: the current password is needed; the other sessions end, this one stays.
    for (body, want) in [
        (
            json!({"current_password": "wrong password", "new_password": "pat password 2"}),
            (401, "invalid_credentials"),
        ),
        (
            json!({"new_password": "pat password 2"}),
            (422, "validation_error"),
        ),
        (
            json!({"current_password": "pat password 1", "new_password": "short"}),
            (422, "validation_error"),
        ),
    ] {
        let r = call(
            &c,
            &s,
            "POST",
            "/auth/password/change",
            Some(&a),
            Some(body.clone()),
        )
        .await;
        assert_eq!(code(&r), (want.0, want.1.into()), "{body}: {}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/password/change",
        Some(&a),
        Some(json!({"current_password": "pat password 1", "new_password": "pat password 2"})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["sessions_revoked"].clone()),
        (200, json!(1)),
        "{}",
        r.1
    );
    assert_eq!(
        code(&refresh(&c, &s, &b_refresh).await).1,
        "session_revoked"
    );
    assert_eq!(
        refresh(&c, &s, &a_refresh).await.0,
        200,
        "the session that changed it lives on"
    );
    assert_eq!(
        login(&c, &s, "pat@example.com", "pat password 1").await.0,
        401
    );
    pair(&login(&c, &s, "pat@example.com", "pat password 2").await);
    assert_eq!(
        call(
            &c,
            &s,
            "POST",
            "/auth/password/change",
            None,
            Some(json!({"new_password": "pat password 3"}))
        )
        .await
        .0,
        401
    );

    // Reset by code: the same answer for an unknown identifier, a message only to the account.
    let known = call(
        &c,
        &s,
        "POST",
        "/auth/password/reset/request",
        None,
        Some(json!({"identifier": "pat@example.com"})),
    )
    .await;
    let unknown = call(
        &c,
        &s,
        "POST",
        "/auth/password/reset/request",
        None,
        Some(json!({"identifier": "nobody@example.com"})),
    )
    .await;
    assert_eq!(
        (known.0.as_u16(), &known.1),
        (202, &unknown.1),
        "same answer"
    );
    assert_eq!(unknown.0, 202);
    let reset_code = nth_dev_code(&data, "pat@example.com", 1).await;
    assert!(
        dev_messages(&data, "nobody@example.com").is_empty(),
        "nothing sent to nobody"
    );
    let text = dev_messages(&data, "pat@example.com")[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("password reset code"), "{text}");
    // A sign-in code does not reset a password.
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/request-otp",
        None,
        Some(json!({"identifier": "pat@example.com"})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let login_code = nth_dev_code(&data, "pat@example.com", 2).await;
    for (body, want) in [
        (
            json!({"identifier": "pat@example.com", "code": login_code, "new_password": "pat password 3"}),
            401,
        ),
        (
            json!({"identifier": "pat@example.com", "code": "000000", "new_password": "pat password 3"}),
            401,
        ),
        (
            json!({"identifier": "nobody@example.com", "code": reset_code, "new_password": "pat password 3"}),
            401,
        ),
        (
            json!({"identifier": "pat@example.com", "code": reset_code, "new_password": "short"}),
            422,
        ),
    ] {
        let r = call(
            &c,
            &s,
            "POST",
            "/auth/password/reset",
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.0.as_u16(), want, "{body}: {}", r.1);
    }
    let (_, live) = pair(&login(&c, &s, "pat@example.com", "pat password 2").await);
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/password/reset",
        None,
        Some(json!({
        "identifier": "pat@example.com", "code": reset_code, "new_password": "pat password 3"})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(r.1["sessions_revoked"].as_u64().unwrap() >= 2, "{}", r.1);
    assert_eq!(
        code(&refresh(&c, &s, &live).await).1,
        "session_revoked",
        "every session ends"
    );
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/password/reset",
        None,
        Some(json!({
        "identifier": "pat@example.com", "code": reset_code, "new_password": "pat password 4"})),
    )
    .await;
    assert_eq!(r.0, 401, "single use: {}", r.1);
    let (pat, _) = pair(&login(&c, &s, "pat@example.com", "pat password 3").await);

    // Proving an identifier an administrator added.
    let r = call(
        &c,
        &s,
        "POST",
        &format!("/users/{pat_id}/identifiers"),
        Some(&boss),
        Some(json!({"identifier": "pat.alt@example.com"})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["verified_at"].clone()),
        (201, Value::Null),
        "{}",
        r.1
    );
    let r = call(
        &c,
        &s,
        "POST",
        "/me/identifiers/verify/request",
        Some(&pat),
        Some(json!({"identifier": "boss@example.com"})),
    )
    .await;
    assert_eq!(r.0, 404, "not one of pat's: {}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/me/identifiers/verify/request",
        Some(&pat),
        Some(json!({"identifier": "pat.alt@example.com"})),
    )
    .await;
    assert_eq!(r.0, 202, "{}", r.1);
    let alt_code = nth_dev_code(&data, "pat.alt@example.com", 1).await;
    let r = call(
        &c,
        &s,
        "POST",
        "/me/identifiers/verify",
        Some(&pat),
        Some(json!({"identifier": "pat.alt@example.com", "code": "999999"})),
    )
    .await;
    assert_eq!(r.0, 401, "{}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/me/identifiers/verify",
        Some(&pat),
        Some(json!({"identifier": "pat.alt@example.com", "code": alt_code})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(r.1["verified_at"].is_string(), "{}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/me/identifiers/verify/request",
        Some(&pat),
        Some(json!({"identifier": "pat.alt@example.com"})),
    )
    .await;
    assert_eq!(code(&r), (409, "conflict".into()), "{}", r.1);

    // An administrator sets a password: the policy applies, the user's sessions end.
    let r = call(
        &c,
        &s,
        "PUT",
        &format!("/users/{pat_id}/password"),
        Some(&boss),
        Some(json!({"secret": "short"})),
    )
    .await;
    assert_eq!(r.0, 422, "{}", r.1);
    let (_, pat_refresh) = pair(&login(&c, &s, "pat@example.com", "pat password 3").await);
    let r = call(
        &c,
        &s,
        "PUT",
        &format!("/users/{pat_id}/password"),
        Some(&boss),
        Some(json!({"secret": "set by the admin 1"})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        code(&refresh(&c, &s, &pat_refresh).await).1,
        "session_revoked"
    );
    let (pat, _) = pair(&login(&c, &s, "pat@example.com", "set by the admin 1").await);

    // The audit trail: one's own events, and the tenant's for administrators.
    let r = call(&c, &s, "GET", "/audit/mine?limit=100", Some(&pat), None).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let events: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for e in [
        "password_changed",
        "password_reset",
        "password_set_by_admin",
        "login_ok",
        "identifier_verified",
    ] {
        assert!(events.contains(&e), "{e}: {events:?}");
    }
    assert!(r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["detail"]["user_id"] == pat_id.as_str()));
    let r = call(
        &c,
        &s,
        "GET",
        "/audit?event=password_reset",
        Some(&boss),
        None,
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["total"].clone()),
        (200, json!(1)),
        "{}",
        r.1
    );
    let at = r.1["items"][0]["at"].as_i64().unwrap();
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/audit?user_id={pat_id}&since={at}&until={}", at + 1),
        Some(&boss),
        None,
    )
    .await;
    assert!(
        r.1["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["at"] == at),
        "{}",
        r.1
    );
    assert!(r.1["total"].as_u64().unwrap() >= 1);
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/audit?until={at}&event=password_reset"),
        Some(&boss),
        None,
    )
    .await;
    assert_eq!(r.1["total"], 0, "before it: {}", r.1);
    for bad in ["event=hacked", "since=5&until=5", "since=x", "limit=500"] {
        let r = call(&c, &s, "GET", &format!("/audit?{bad}"), Some(&boss), None).await;
        assert_eq!(code(&r), (422, "validation_error".into()), "{bad}: {}", r.1);
    }
    assert_eq!(call(&c, &s, "GET", "/audit", Some(&pat), None).await.0, 403);

    // Export: everything held about pat, no password hash.
    let r = call(&c, &s, "GET", "/me/export", Some(&pat), None).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["account"]["id"], pat_id.as_str());
    assert_eq!(r.1["account"]["password_hash"], "<set>");
    assert!(!r.1.to_string().contains("$argon2"), "no hash anywhere");
    assert_eq!(r.1["identifiers"].as_array().unwrap().len(), 2);
    assert!(!r.1["sessions"].as_array().unwrap().is_empty());
    assert!(!r.1["audit"].as_array().unwrap().is_empty());

    // Deleting one's account: the password is needed; then it is gone and the address free.
    let r = call(&c, &s, "DELETE", "/me", Some(&pat), Some(json!({}))).await;
    assert_eq!(r.0, 422, "{}", r.1);
    let r = call(
        &c,
        &s,
        "DELETE",
        "/me",
        Some(&pat),
        Some(json!({"password": "wrong one"})),
    )
    .await;
    assert_eq!(r.0, 401, "{}", r.1);
    let r = call(
        &c,
        &s,
        "DELETE",
        "/me",
        Some(&pat),
        Some(json!({"password": "set by the admin 1"})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["identifiers"], 2, "{}", r.1);
    assert_eq!(
        login(&c, &s, "pat@example.com", "set by the admin 1")
            .await
            .0,
        401
    );
    assert_eq!(
        call(
            &c,
            &s,
            "GET",
            &format!("/users/{pat_id}"),
            Some(&boss),
            None
        )
        .await
        .0,
        404
    );
    let r = call(
        &c,
        &s,
        "GET",
        "/audit?event=account_deleted",
        Some(&boss),
        None,
    )
    .await;
    assert_eq!(r.1["total"], 1, "{}", r.1);
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/audit?user_id={pat_id}&limit=100"),
        Some(&boss),
        None,
    )
    .await;
    assert_eq!(r.1["total"], 0, "nothing names pat any more: {}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/register",
        None,
        Some(json!({"identifier": "pat.alt@example.com", "secret": "a new person 1"})),
    )
    .await;
    assert_eq!(r.0, 200, "the address is free again: {}", r.1);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

/// A form post to `path` (what the link pages send): the status and the page.
async fn form(c: &Client, s: &Server, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    // The pages' form token, as a browser has it from the page with the form.
    let (cookie, token) =
        crate::support::form_token(c, &s.url("/login"), "x-tenant-id:org_default").await;
    let body: Vec<String> = fields
        .iter()
        .chain(std::iter::once(&("csrf", token.as_str())))
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".into(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect();
    let r = c
        .post(s.url(&format!("{API}{path}")))
        .header("x-tenant-id", "org_default")
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.join("&"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// A page at `path` (GET).
async fn page(c: &Client, s: &Server, path: &str) -> (u16, String) {
    let r = c
        .get(s.url(&format!("{API}{path}")))
        .header("x-tenant-id", "org_default")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The link in the `n`th message to `to` (1-based): its path and token.
async fn nth_link(data: &std::path::Path, to: &str, n: usize) -> (String, String) {
    nth_dev_code(data, to, n).await;
    let text = dev_messages(data, to)[n - 1]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = token_in(&text).unwrap_or_else(|| panic!("no link in {text}"));
    let url = text
        .split_whitespace()
        .find(|w| w.contains("token="))
        .unwrap()
        .to_owned();
    let path = url
        .split_once(API)
        .map(|(_, p)| p.split('?').next().unwrap().to_owned())
        .unwrap();
    (path, token)
}

/// The mailed links: a password reset and an address proof, each by a page that consumes
/// nothing when opened, single use, bound to its purpose (and the proof to its account).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailed_links_reset_a_password_and_prove_an_address() {
    let (data, s) = server_with_admin("account-links");
    let c = Client::new();
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/register",
        None,
        Some(json!({"identifier": "lee@example.com", "secret": "lee password 1"})),
    )
    .await;
    let (_, live) = pair(&r);
    let (boss, _) = pair(&login(&c, &s, "boss@example.com", "a long password 1").await);
    let lee_id = {
        let r = call(&c, &s, "GET", "/users?q=lee", Some(&boss), None).await;
        r.1["items"][0]["uid"].as_str().unwrap().to_owned()
    };

    // The reset mail carries the code and a link to the reset page.
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/password/reset/request",
        None,
        Some(json!({"identifier": "lee@example.com"})),
    )
    .await;
    assert_eq!(r.0, 202, "{}", r.1);
    let (path, reset) = nth_link(&data, "lee@example.com", 1).await;
    assert_eq!(path, "/auth/password/reset");
    let reset_page = format!("/auth/password/reset?token={reset}");
    for _ in 0..2 {
        let (status, html) = page(&c, &s, &reset_page).await;
        assert_eq!(status, 200, "opening the link consumes nothing");
        assert!(html.contains("name=\"new_password\""), "{html}");
    }
    let (status, _) = page(&c, &s, "/auth/password/reset?token=nonsense").await;
    assert_eq!(status, 410);
    // Bound to its purpose: it neither signs in nor proves an address.
    for p in ["/auth/magic-link", "/auth/identifiers/verify"] {
        let r = call(&c, &s, "POST", p, None, Some(json!({"token": reset}))).await;
        assert_eq!(
            code(&r),
            (401, "invalid_credentials".into()),
            "{p}: {}",
            r.1
        );
    }
    // Bad bodies.
    for body in [
        json!({"token": reset, "identifier": "lee@example.com", "new_password": "lee password 2"}),
        json!({"new_password": "lee password 2"}),
        json!({"token": reset}),
    ] {
        let r = call(
            &c,
            &s,
            "POST",
            "/auth/password/reset",
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.0, 422, "{body}: {}", r.1);
    }
    // Too short: the form again, the link still live.
    let (status, html) = form(
        &c,
        &s,
        "/auth/password/reset",
        &[("token", &reset), ("new_password", "short")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("role=\"alert\"") && html.contains("new_password"),
        "{html}"
    );
    let (status, html) = form(
        &c,
        &s,
        "/auth/password/reset",
        &[("token", &reset), ("new_password", "lee password 2 + more")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Your password was changed"), "{html}");
    assert_eq!(
        code(&refresh(&c, &s, &live).await).1,
        "session_revoked",
        "every session ends"
    );
    pair(&login(&c, &s, "lee@example.com", "lee password 2 + more").await);
    let (status, _) = form(
        &c,
        &s,
        "/auth/password/reset",
        &[("token", &reset), ("new_password", "lee password 3")],
    )
    .await;
    assert_eq!(status, 410, "single use");
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/password/reset",
        None,
        Some(json!({"token": reset, "new_password": "lee password 3"})),
    )
    .await;
    assert_eq!(code(&r), (401, "invalid_credentials".into()), "{}", r.1);
    let (lee, _) = pair(&login(&c, &s, "lee@example.com", "lee password 2 + more").await);

    // Proving an address by its link, with no session.
    for alt in ["lee.alt@example.com", "lee.gone@example.com"] {
        let r = call(
            &c,
            &s,
            "POST",
            &format!("/users/{lee_id}/identifiers"),
            Some(&boss),
            Some(json!({"identifier": alt})),
        )
        .await;
        assert_eq!(r.0, 201, "{}", r.1);
        let r = call(
            &c,
            &s,
            "POST",
            "/me/identifiers/verify/request",
            Some(&lee),
            Some(json!({"identifier": alt})),
        )
        .await;
        assert_eq!(r.0, 202, "{}", r.1);
    }
    let (path, proof) = nth_link(&data, "lee.alt@example.com", 1).await;
    assert_eq!(path, "/auth/identifiers/verify");
    let proof_page = format!("/auth/identifiers/verify?token={proof}");
    for _ in 0..2 {
        let (status, html) = page(&c, &s, &proof_page).await;
        assert_eq!(status, 200, "opening the link proves nothing");
        assert!(html.contains("<form method=\"post\""), "{html}");
    }
    let verified_at = |r: &Reply, who: &str| {
        r.1["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["identifier"] == who)
            .map(|i| i["verified_at"].clone())
    };
    let idents = call(
        &c,
        &s,
        "GET",
        &format!("/users/{lee_id}/identifiers"),
        Some(&boss),
        None,
    )
    .await;
    assert_eq!(
        verified_at(&idents, "lee.alt@example.com"),
        Some(Value::Null)
    );
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/password/reset",
        None,
        Some(json!({"token": proof, "new_password": "lee password 4"})),
    )
    .await;
    assert_eq!(r.0, 401, "not a reset link: {}", r.1);
    let (status, html) = form(&c, &s, "/auth/identifiers/verify", &[("token", &proof)]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("lee.alt@example.com is confirmed"), "{html}");
    let idents = call(
        &c,
        &s,
        "GET",
        &format!("/users/{lee_id}/identifiers"),
        Some(&boss),
        None,
    )
    .await;
    assert!(
        verified_at(&idents, "lee.alt@example.com").is_some_and(|v| v.is_string()),
        "{}",
        idents.1
    );
    let (status, _) = form(&c, &s, "/auth/identifiers/verify", &[("token", &proof)]).await;
    assert_eq!(status, 410, "single use");
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/identifiers/verify",
        None,
        Some(json!({"token": proof})),
    )
    .await;
    assert_eq!(code(&r), (401, "invalid_credentials".into()), "{}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/identifiers/verify",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(r.0, 422, "{}", r.1);

    // An address that left the account before its link was used is not proven by it.
    let (_, gone) = nth_link(&data, "lee.gone@example.com", 1).await;
    let gone_uid = idents.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["identifier"] == "lee.gone@example.com")
        .unwrap()["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &c,
        &s,
        "DELETE",
        &format!("/users/{lee_id}/identifiers/{gone_uid}"),
        Some(&boss),
        None,
    )
    .await;
    assert!(r.0.is_success(), "{}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/identifiers/verify",
        None,
        Some(json!({"token": gone})),
    )
    .await;
    assert_eq!(code(&r), (401, "invalid_credentials".into()), "{}", r.1);
    s.stop();
}
