//! The hosted pages: HTTP-level checks here (headers, CSRF, redirects, languages, assets), and
//! the whole set in a real browser: Debian's Chromium driven by npm `puppeteer-core`
//! (`tests/pages/browser.mjs`) against the real origin and a real SMTP server, with axe-core
//! checking accessibility on every page. Screenshots go to `target/pages-screenshots` (set
//! `USSO_SCREENSHOTS_DIR=docs/pages` to refresh the ones the docs show).

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::redirect::Policy;
use reqwest::Client;
use serde_json::Value;

use serde_json::json;

use crate::support::{
    admin, api, bin, form_token, free_port, nth_dev_code, password_sign_in, temp_dir, Auth, Server,
    SmtpCapture,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn no_redirects() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_strict_and_refuse_forged_forms_and_foreign_redirects() {
    let data = temp_dir("pages-http");
    let s = Server::start(&data, free_port(), &[]);
    let c = no_redirects();
    let host = "localhost";

    // Security headers on every page.
    let r = c.get(s.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{csp} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    let body = r.text().await.unwrap();
    assert!(
        !body.contains("<script>") && !body.contains("style="),
        "no inline script or style"
    );

    // A form post without the token, with a wrong one, or cross-site: refused, nothing done.
    let (cookie, token) = form_token(&c, &s.url("/login"), host).await;
    assert_eq!(cookie.len(), "usso-csrf=".len() + 43);
    for (cookie_h, form, extra) in [
        (
            cookie.as_str(),
            "identifier=a%40b.c&password=x".to_owned(),
            None,
        ),
        (
            cookie.as_str(),
            "identifier=a%40b.c&password=x&csrf=AAAA".to_owned(),
            None,
        ),
        (
            "usso-csrf=planted-by-a-sibling-domain-aaaaaaaaaaaaaaaaaaaaaaa",
            format!("identifier=a%40b.c&password=x&csrf={token}"),
            None,
        ),
        (
            cookie.as_str(),
            format!("identifier=a%40b.c&password=x&csrf={token}"),
            Some(("origin", "https://evil.example")),
        ),
    ] {
        let mut rq = c
            .post(s.url("/login"))
            .header("cookie", cookie_h)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        if let Some((n, v)) = extra {
            rq = rq.header(n, v);
        }
        let r = rq.send().await.unwrap();
        assert_eq!(r.status(), 403);
        let page = r.text().await.unwrap();
        assert!(page.contains("This form has expired"), "{page}");
    }
    // With the token: the form is answered (a wrong password, on its field, status 401).
    let r = c
        .post(s.url("/login"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "identifier=nobody%40example.com&password=wrong+password&csrf={token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"login-password-error\""), "{page}");
    assert!(
        page.contains("value=\"nobody@example.com\""),
        "the identifier stays"
    );
    assert!(
        !page.contains("wrong password"),
        "a password is never sent back"
    );

    // Redirects: a path of this site and nothing else.
    for bad in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/api/sso/v1/auth/logout",
    ] {
        let r = c
            .get(s.url("/login"))
            .query(&[("redirect", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(!r.text().await.unwrap().contains("<form"), "{bad}");
    }
    let r = c
        .get(s.url("/login"))
        .query(&[("redirect", "/account?tab=1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("name=\"redirect\" value=\"/account?tab=1\""));

    // Languages: Accept-Language, the switch (remembered), right to left for Persian.
    let r = c
        .get(s.url("/login"))
        .header("accept-language", "fa-IR,fa;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"fa\" dir=\"rtl\">"), "{page}");
    let r = c.get(s.url("/login?lang=en")).send().await.unwrap();
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("usso-lang=en;")));

    // The account page without a session: to sign in, and back.
    let r = c.get(s.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?redirect=%2Faccount");

    // The JSON errors carry the Persian message too.
    let r = c
        .post(s.url("/api/sso/v1/auth/login"))
        .json(&serde_json::json!({"identifier": "nobody@example.com", "secret": "wrong password"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"]["fa"], "شناسه یا رمز نادرست است.");

    // The account page's refusals, as a thief holding the owner's session would meet them: an
    // unproven address cannot become primary, the last proven one cannot be removed.
    let r = password_sign_in(
        &c,
        &s,
        "/auth/register",
        "owner@example.com",
        "owner password 1",
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let access = r.1["access_token"].as_str().unwrap().to_owned();
    let uid = r.1["user"]["id"].as_str().unwrap().to_owned();
    let bearer = Auth::Bearer(&access);
    let ask = json!({"identifier": "owner@example.com"});
    let sent = api(
        &c,
        &s,
        "POST",
        "/me/identifiers/verify/request",
        "org_default",
        Auth::Bearer(&access),
        Some(&ask),
    )
    .await;
    assert_eq!(sent.0, 202, "{}", sent.1);
    let code = nth_dev_code(&data, "owner@example.com", 1).await;
    let proof = json!({"identifier": "owner@example.com", "code": code});
    let proved = api(
        &c,
        &s,
        "POST",
        "/me/identifiers/verify",
        "org_default",
        Auth::Bearer(&access),
        Some(&proof),
    )
    .await;
    assert_eq!(proved.0, 200, "{}", proved.1);
    let session = format!("usso-access-token={access}; {cookie}");
    let post_form = |path: &'static str, fields: String| {
        let (c, session, token) = (c.clone(), session.clone(), token.clone());
        let url = s.url(path);
        async move {
            let r = c
                .post(url)
                .header("cookie", session)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("{fields}&csrf={token}"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (status, location, r.text().await.unwrap())
        }
    };
    let (status, location, _) = post_form(
        "/account/identifiers/add",
        "identifier=thief%40example.com".into(),
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/account?done=added"))
    );
    let ids = api(
        &c,
        &s,
        "GET",
        &format!("/users/{uid}/identifiers"),
        "org_default",
        bearer,
        None,
    )
    .await;
    let id_of = |value: &str| {
        ids.1
            .as_array()
            .or_else(|| ids.1["items"].as_array())
            .unwrap()
            .iter()
            .find(|i| i["identifier"] == value)
            .unwrap_or_else(|| panic!("{value} in {}", ids.1))["uid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (status, _, page) = post_form(
        "/account/identifiers/primary",
        format!("identifier_id={}", id_of("thief@example.com")),
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("confirm an address before making it primary")
            || page.contains("Confirm an address before making it primary"),
        "{page}"
    );
    let (status, _, page) = post_form(
        "/account/identifiers/remove",
        format!("identifier_id={}", id_of("owner@example.com")),
    )
    .await;
    assert_eq!(status, 409, "{page}");
    let me = api(
        &c,
        &s,
        "GET",
        "/me",
        "org_default",
        Auth::Bearer(&access),
        None,
    )
    .await;
    assert_eq!(me.1["email"], "owner@example.com", "{}", me.1);
    let (status, location, _) = post_form(
        "/account/identifiers/remove",
        format!("identifier_id={}", id_of("thief@example.com")),
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/account?done=removed"))
    );

    // Assets: compiled in, typed, the tenant's colours checked.
    let r = c.get(s.url("/assets/usso.css")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    let r = c.get(s.url("/assets/brand.css")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("--primary:#1d4ed8"));
    let r = c.get(s.url("/assets/../Cargo.toml")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let out = bin()
        .env("USSO_DATA_DIR", &data)
        .args([
            "tenant",
            "update",
            "org_default",
            "--set",
            r#"{"branding": {"primary_color": "red; background: url(x)"}}"#,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("#rrggbb"), "{err}");
    // A good brand shows: logo (https only), name, support address, the colours' sheet.
    admin(
        &data,
        &[
            "tenant",
            "update",
            "org_default",
            "--set",
            r##"{"name": "Globex <Corp>", "branding": {"logo_url": "https://globex.example/logo.png",
                "primary_color": "#ffcc00", "support_email": "help@globex.example",
                "default_language": "fa"}}"##,
        ],
        &[],
    );
    let page = c
        .get(s.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<img src=\"https://globex.example/logo.png\""),
        "{page}"
    );
    assert!(
        page.contains("Globex &#60;Corp&#62;") || page.contains("Globex &lt;Corp&gt;"),
        "escaped: {page}"
    );
    assert!(page.contains("mailto:help@globex.example"));
    assert!(
        page.contains("<html lang=\"fa\" dir=\"rtl\">"),
        "the tenant's default language"
    );
    let css = c
        .get(s.url("/assets/brand.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        css.contains("--primary:#ffcc00;--on-primary:#000000"),
        "{css}"
    );
    for bad in [
        r#"{"branding": {"logo_url": "http://globex.example/logo.png"}}"#,
        r#"{"branding": {"support_email": "not an address"}}"#,
        r#"{"branding": {"default_language": "de"}}"#,
        r#"{"branding": {"font": "Comic Sans"}}"#,
    ] {
        let out = bin()
            .env("USSO_DATA_DIR", &data)
            .args(["tenant", "update", "org_default", "--set", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad} was accepted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_a_real_browser() {
    let smtp = SmtpCapture::start(None);
    let data = temp_dir("pages-browser");
    let port = free_port();
    let app_port = free_port();
    Server::start(&data, port, &[]).stop();
    let acme = format!("http://acme.localhost:{port}");
    let secure = format!("http://secure.localhost:{port}");
    admin(
        &data,
        &[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme Travel",
            "--domain",
            "acme.localhost",
            "--issuer",
            &acme,
            "--redirect",
            &format!("http://app.localhost:{app_port}/"),
            "--captcha",
            "magic_link",
        ],
        &[],
    );
    admin(
        &data,
        &[
            "tenant",
            "update",
            "acme",
            "--set",
            r##"{"branding": {"primary_color": "#7c3aed", "background_color": "#1e1b4b",
                "support_email": "help@acme.example"}}"##,
        ],
        &[],
    );
    admin(
        &data,
        &[
            "tenant",
            "create",
            "secure",
            "--name",
            "Secure Bank",
            "--domain",
            "secure.localhost",
            "--issuer",
            &secure,
            "--activation",
            "none",
            "--require-mfa",
        ],
        &[],
    );
    admin(
        &data,
        &["user", "create", "mfa@secure.example", "--tenant", "secure"],
        &[("USSO_NEW_PASSWORD", "a long password 1")],
    );
    let smtp_port = smtp.port.to_string();
    let s = Server::start(
        &data,
        port,
        &[
            ("USSO_SMTP_HOST", "127.0.0.1"),
            ("USSO_SMTP_PORT", &smtp_port),
            ("USSO_SMTP_SECURITY", "none"),
            ("USSO_SMTP_FROM", "Acme <no-reply@acme.example>"),
            // The driver's guesses come "from" many addresses (X-Forwarded-For).
            ("USSO_TRUSTED_PROXY_HOPS", "1"),
        ],
    );
    let shots = std::env::var("USSO_SCREENSHOTS_DIR")
        .map(|d| root().join(d))
        .unwrap_or_else(|_| root().join("target/pages-screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let tests = root().join("tests");
    assert!(
        tests.join("node_modules/puppeteer-core/package.json").exists()
            && tests.join("node_modules/axe-core/axe.min.js").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "puppeteer-core, axe-core (npm) and chromium (Debian) are missing: run scripts/install-test-deps.sh"
    );
    let out = Command::new("node")
        .arg(tests.join("pages/browser.mjs"))
        .current_dir(&tests)
        .env("ACME", &acme)
        .env("SECURE", &secure)
        .env("DEFAULT", s.url(""))
        .env("APP_PORT", app_port.to_string())
        .env("MAIL_DIR", &smtp.dir)
        .env("SHOTS_DIR", &shots)
        .env("MFA_USER", "mfa@secure.example")
        .env("MFA_PASSWORD", "a long password 1")
        .output()
        .expect("node runs tests/pages/browser.mjs");
    assert!(
        out.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    let report: Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| l.starts_with(b"{"))
            .expect("the driver prints its report"),
    )
    .unwrap();
    let axe = report["axe"].as_object().unwrap();
    assert!(axe.len() >= 15, "axe-core ran on {} pages", axe.len());
    assert!(axe
        .values()
        .all(|v| v["serious_or_critical"] == serde_json::json!(0)));
    for shot in report["screenshots"].as_array().unwrap() {
        let file = shots.join(shot.as_str().unwrap());
        let png = std::fs::read(&file).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{}",
            file.display()
        );
    }
    assert_eq!(report["steps"].as_array().unwrap().len(), 12, "{report}");
}
