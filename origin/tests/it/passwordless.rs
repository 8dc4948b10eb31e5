//! Magic links (a scanner's GET leaves the link usable; only the confirmation POST signs in),
//! MFA (password + one-time code → `acr: usso:acr:2`) and the proof-of-work captcha, against the
//! real binary with the development mailer.

use std::time::Duration;

use crate::support::{admin, free_port, post_as, temp_dir, token_in, Server};
use reqwest::Client;
use serde_json::json;

/// What `pick` finds in the newest development-mailer message to `to` that has it.
async fn dev_message<T>(data: &std::path::Path, to: &str, pick: impl Fn(&str) -> Option<T>) -> T {
    crate::support::eventually_within("a message", Duration::from_secs(30), || {
        crate::support::dev_messages(data, to)
            .iter()
            .rev()
            .find_map(|m| pick(m["text"].as_str()?))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_links_survive_scanners_and_sign_in_once() {
    let data = temp_dir("magic");
    admin(
        &data,
        &[
            "tenant",
            "create",
            "acme",
            "--domain",
            "acme.test",
            "--redirect",
            "https://app.acme.test/",
        ],
        &[],
    );
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));

    let bad = post_as(
        &c,
        api("/auth/request-magic-link"),
        "acme",
        &json!({"identifier": "ann@acme.test", "redirect_to": "https://evil.test/"}),
    )
    .await;
    assert_eq!(bad.0, 422, "{}", bad.1);
    let ok = post_as(
        &c,
        api("/auth/request-magic-link"),
        "acme",
        &json!({"identifier": "ann@acme.test", "redirect_to": "https://app.acme.test/welcome"}),
    )
    .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let token = dev_message(&data, "ann@acme.test", token_in).await;
    assert_eq!(token.len(), 43);

    // A mail scanner opens the link, twice: a confirmation page, nothing consumed.
    for _ in 0..2 {
        let page = c
            .get(api(&format!("/auth/magic-link?token={token}")))
            .header("x-tenant-id", "acme")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(
            !page.headers().get_all("set-cookie").iter().any(|v| {
                let v = v.to_str().unwrap();
                v.starts_with("usso-access-token=") || v.starts_with("usso-refresh-token=")
            }),
            "the GET signs nothing in"
        );
        let html = page.text().await.unwrap();
        assert!(
            html.contains("method=\"post\"") && html.contains(&token),
            "{html}"
        );
    }

    // The person presses the button (a form post with the page's form token): signed in once,
    // redirected with the session cookies.
    let (cookie, csrf) = crate::support::form_token(
        &c,
        &api(&format!("/auth/magic-link?token={token}")),
        "x-tenant-id:acme",
    )
    .await;
    let confirm = |c: Client, url: String, token: String| {
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        async move {
            c.post(url)
                .header("x-tenant-id", "acme")
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={token}&csrf={csrf}"))
                .send()
                .await
                .unwrap()
        }
    };
    let done = confirm(c.clone(), api("/auth/magic-link"), token.clone()).await;
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "https://app.acme.test/welcome");
    let cookies: Vec<_> = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let access = cookies
        .iter()
        .find_map(|c| {
            c.strip_prefix("usso-access-token=")?
                .split(';')
                .next()
                .map(str::to_owned)
        })
        .expect("access cookie");
    let claims = post_as(
        &c,
        api("/auth/verify-token"),
        "acme",
        &json!({"token": access}),
    )
    .await
    .1;
    assert_eq!(claims["amr"], json!(["magic_link"]));
    assert_eq!(claims["email"], "ann@acme.test");
    // Used up: the POST fails, the page says so.
    let again = confirm(c.clone(), api("/auth/magic-link"), token.clone()).await;
    assert_eq!(again.status(), 410, "the page says the link is used");
    let page = c
        .get(api(&format!("/auth/magic-link?token={token}")))
        .header("x-tenant-id", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 410);
    // Garbage tokens.
    let junk = post_as(
        &c,
        api("/auth/magic-link"),
        "acme",
        &json!({"token": "x".repeat(5000)}),
    )
    .await;
    assert_eq!(junk.0, 401);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_requires_a_code_after_the_password() {
    let data = temp_dir("mfa");
    admin(
        &data,
        &[
            "tenant",
            "create",
            "secure",
            "--domain",
            "secure.test",
            "--require-mfa",
        ],
        &[],
    );
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));
    let creds = json!({"identifier": "bob@secure.test", "secret": "bob password 1"});
    let reg = post_as(&c, api("/auth/register"), "secure", &creds).await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    assert_eq!(reg.1["mfa_required"], true, "{}", reg.1);
    // The registration's own code is delivered first (the outbox does not promise an order
    // between two queued messages), so the login's code is the second message.
    crate::support::nth_dev_code(&data, "bob@secure.test", 1).await;

    let step1 = post_as(&c, api("/auth/login"), "secure", &creds).await;
    assert_eq!(step1.0, 200, "{}", step1.1);
    assert_eq!(step1.1["mfa_required"], true);
    assert!(
        step1.1.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    let challenge = step1.1["mfa_challenge"].as_str().unwrap().to_owned();
    // Registering on an MFA tenant already sent a code (its own second step); the login's code
    // is the second message.
    let code = crate::support::nth_dev_code(&data, "bob@secure.test", 2).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let bad = post_as(
        &c,
        api("/auth/mfa/verify"),
        "secure",
        &json!({"mfa_challenge": challenge, "code": wrong}),
    )
    .await;
    assert_eq!(bad.0, 401);
    let good = post_as(
        &c,
        api("/auth/mfa/verify"),
        "secure",
        &json!({"mfa_challenge": challenge, "code": code}),
    )
    .await;
    assert_eq!(good.0, 200, "{}", good.1);
    let claims = post_as(
        &c,
        api("/auth/verify-token"),
        "secure",
        &json!({"token": good.1["access_token"]}),
    )
    .await
    .1;
    assert_eq!(claims["acr"], "usso:acr:2");
    assert_eq!(claims["amr"], json!(["password", "email/otp"]));
    // The challenge is spent; a wrong password never starts one.
    assert_eq!(
        post_as(
            &c,
            api("/auth/mfa/verify"),
            "secure",
            &json!({"mfa_challenge": challenge, "code": code})
        )
        .await
        .0,
        401
    );
    // A correct password does not reset the attempt counters while the second factor is
    // pending: a stolen password cannot buy unlimited fresh codes (5 per address and identifier).
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            post_as(&c, api("/auth/login"), "secure", &creds)
                .await
                .0
                .as_u16(),
        );
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let wrong_pw = post_as(
        &c,
        api("/auth/login"),
        "secure",
        &json!({"identifier": "bob@secure.test", "secret": "not the password"}),
    )
    .await;
    assert!(matches!(wrong_pw.0.as_u16(), 401 | 429), "{}", wrong_pw.1);
    assert!(wrong_pw.1.get("mfa_challenge").is_none());
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_routes_need_a_solved_challenge_once() {
    let data = temp_dir("captcha");
    admin(
        &data,
        &[
            "tenant",
            "create",
            "guarded",
            "--domain",
            "guarded.test",
            "--captcha",
            "otp",
        ],
        &[],
    );
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let api = |p: &str| s.url(&format!("/api/sso/v1{p}"));
    let who = json!({"identifier": "carol@guarded.test"});
    let none = post_as(&c, api("/auth/request-otp"), "guarded", &who).await;
    assert_eq!(none.0, 422, "{}", none.1);

    let challenge: usso_origin::authn::captcha::Challenge = c
        .get(api("/captcha/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = usso_origin::authn::captcha::solve(&challenge)
        .expect("solvable")
        .to_payload();
    let with = |p: &str| json!({"identifier": "carol@guarded.test", "altcha": p});
    assert_eq!(
        post_as(&c, api("/auth/request-otp"), "guarded", &with(&payload))
            .await
            .0,
        200
    );
    let replay = post_as(&c, api("/auth/request-otp"), "guarded", &with(&payload)).await;
    assert_eq!(replay.0, 422, "a solution works once: {}", replay.1);
    let forged = post_as(
        &c,
        api("/auth/request-otp"),
        "guarded",
        &with("eyJ4IjoxfQ=="),
    )
    .await;
    assert_eq!(forged.0, 422);
    // The default tenant does not guard the route.
    let open = c
        .post(api("/auth/request-otp"))
        .json(&json!({"identifier": "dave@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}
