//! The OAuth 2.1 / OpenID Connect provider (issue 15): npm `openid-client` and `oauth4webapi`
//! (`tests/oauth/rp.mjs`) against the real origin, then the tokens they got verified again by
//! the edge core and `jose`; and the bad input of the issue, each answered with the error the
//! RFC names and nothing issued. Test names carry the OpenID conformance modules they port
//! (`oidcc-basic-certification-test-plan`), since the suite itself cannot run here.

use std::path::Path;
use std::process::Command;

use reqwest::{redirect, Client};
use serde_json::{json, Value};

use crate::support::{admin, api, free_port, temp_dir, Auth, Server};

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const USER: &str = "rp-user@example.com";
/// A resource server of the tenant (an MCP server, say): RFC 8707 tokens carry it as `aud`.
const RESOURCE: &str = "https://mcp.example.com/mcp";
const PASSWORD: &str = "a long password 1";

/// A running origin with an administrator, a person and three clients.
struct Setup {
    s: Server,
    c: Client,
    admin_token: String,
    redirect: String,
    conf: (String, String),
    public: String,
    first: (String, String),
    tv: String,
    svc: (String, String),
    meta_port: u16,
    mcp_port: u16,
    rs256: (String, String),
    svc_ec_jwk: String,
}

async fn setup(tag: &str) -> Setup {
    let data = temp_dir(tag);
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    // The relying-party script serves a client metadata document on this port; only it may
    // be fetched over http from a loopback address.
    let meta_port = free_port();
    // The MCP server of the MCP check listens here; its URL is one of the tenant's resources.
    let mcp_port = free_port();
    let mcp_resource = format!("http://127.0.0.1:{mcp_port}/mcp");
    let meta_host = format!("127.0.0.1:{meta_port}");
    let envs = [
        ("USSO_ISSUER", issuer.as_str()),
        ("USSO_OAUTH_METADATA_INSECURE_HOSTS", meta_host.as_str()),
    ];
    Server::start(&data, port, &envs).stop();
    admin(
        &data,
        &[
            "tenant",
            "update",
            "org_default",
            "--set",
            &json!({"oauth": {"dynamic_registration": true, "resources": [RESOURCE, mcp_resource],
                "client_id_metadata_documents": true, "dpop_nonce": true}})
            .to_string(),
        ],
        &[],
    );
    admin(
        &data,
        &[
            "user",
            "create",
            "oauth-admin@example.com",
            "--role",
            "admin",
        ],
        &[("USSO_NEW_PASSWORD", PASSWORD)],
    );
    admin(
        &data,
        &["user", "create", USER, "--role", "admin"],
        &[("USSO_NEW_PASSWORD", PASSWORD)],
    );
    let s = Server::start_manual_clock(&data, port, &envs, 0);
    let c = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let r = api(
        &c,
        &s,
        "POST",
        "/auth/login",
        "org_default",
        Auth::None,
        Some(&json!({"identifier": "oauth-admin@example.com", "secret": PASSWORD})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let admin_token = r.1["access_token"].as_str().unwrap().to_owned();
    let redirect = format!("http://127.0.0.1:{}/cb", free_port());
    let mk = |body: Value| {
        let (c, s, t) = (&c, &s, admin_token.clone());
        async move {
            let r = api(
                c,
                s,
                "POST",
                "/oauth/clients",
                "org_default",
                Auth::Bearer(&t),
                Some(&body),
            )
            .await;
            assert_eq!(r.0, 201, "{}", r.1);
            r.1
        }
    };
    let conf = mk(json!({
        "name": "Photo Printer",
        "redirect_uris": [redirect],
        "post_logout_redirect_uris": [format!("{redirect}/bye")],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scopes": ["openid", "profile", "email", "offline_access", "read:usso/users"],
    }))
    .await;
    let public = mk(json!({
        "name": "Phone App",
        "redirect_uris": [redirect],
        "token_endpoint_auth_method": "none",
        "scopes": ["openid", "offline_access"],
    }))
    .await;
    assert!(
        public.get("client_secret").is_none(),
        "a public client has no secret"
    );
    let first = mk(json!({
        "name": "Our Dashboard",
        "redirect_uris": [redirect],
        "token_endpoint_auth_method": "client_secret_post",
        "skip_consent": true,
        "scopes": ["openid"],
    }))
    .await;
    let tv = mk(json!({
        "name": "Living Room TV",
        "token_endpoint_auth_method": "none",
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        "scopes": ["openid", "offline_access"],
    }))
    .await;
    // A relying party that asks for RS256 ID tokens (the tenant's RSA key is made then).
    let rs = mk(json!({
        "name": "Legacy RP",
        "redirect_uris": [redirect],
        "id_token_signed_response_alg": "RS256",
        "scopes": ["openid", "email"],
    }))
    .await;
    assert_eq!(rs["id_token_signed_response_alg"], "RS256");
    // A service authenticating with a key (private_key_jwt): the public halves registered, an
    // Ed25519 key and a P-256 (ES256) one.
    let svc_key = ed25519_dalek::SigningKey::from_bytes(&[11u8; 32]);
    let x = usso_shared::encoding::b64url_encode(svc_key.verifying_key().as_bytes());
    let ec_key = p256::ecdsa::SigningKey::from_bytes(&[12u8; 32].into()).unwrap();
    let mut ec_jwk = usso_shared::client_key::ClientKey::P256(*ec_key.verifying_key()).to_jwk();
    ec_jwk["kid"] = json!("svc-ec");
    let svc = mk(json!({
        "name": "Backend Service",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "svc-1"}, ec_jwk.clone()]},
        "scopes": ["read:usso/users"],
    }))
    .await;
    assert!(
        svc.get("client_secret").is_none(),
        "a key client has no secret"
    );
    assert_eq!(
        svc["jwks"]["keys"][1], ec_jwk,
        "the P-256 key is kept as sent"
    );
    let svc_jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "svc-1",
        "d": usso_shared::encoding::b64url_encode(&[11u8; 32])})
    .to_string();
    ec_jwk["d"] = json!(usso_shared::encoding::b64url_encode(&[12u8; 32]));
    let svc_ec_jwk = ec_jwk.to_string();
    let id = |v: &Value| v["client_id"].as_str().unwrap().to_owned();
    let secret = |v: &Value| v["client_secret"].as_str().unwrap().to_owned();
    Setup {
        conf: (id(&conf), secret(&conf)),
        public: id(&public),
        first: (id(&first), secret(&first)),
        tv: id(&tv),
        svc: (id(&svc), svc_jwk),
        svc_ec_jwk,
        meta_port,
        mcp_port,
        rs256: (id(&rs), secret(&rs)),
        s,
        c,
        admin_token,
        redirect,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certified_relying_parties_complete_every_flow() {
    let st = setup("oauth-rp").await;
    let tests = root().join("tests");
    assert!(
        tests
            .join("node_modules/openid-client/package.json")
            .exists()
            && tests
                .join("node_modules/oauth4webapi/package.json")
                .exists(),
        "openid-client and oauth4webapi (npm) are missing: run scripts/install-test-deps.sh"
    );
    let out = Command::new("node")
        .arg(tests.join("oauth/rp.mjs"))
        .current_dir(&tests)
        .env("ISSUER", st.s.url(""))
        .env("CONF_ID", &st.conf.0)
        .env("CONF_SECRET", &st.conf.1)
        .env("PUB_ID", &st.public)
        .env("FIRST_ID", &st.first.0)
        .env("FIRST_SECRET", &st.first.1)
        .env("TV_ID", &st.tv)
        .env("RESOURCE", RESOURCE)
        .env("PKJ_ID", &st.svc.0)
        .env("META_PORT", st.meta_port.to_string())
        .env("RS_ID", &st.rs256.0)
        .env("RS_SECRET", &st.rs256.1)
        .env("PKJ_JWK", &st.svc.1)
        .env("PKJ_EC_JWK", &st.svc_ec_jwk)
        .env("REDIRECT", &st.redirect)
        .env("USER", USER)
        .env("PASSWORD", PASSWORD)
        .output()
        .expect("node runs tests/oauth/rp.mjs");
    assert!(
        out.status.success(),
        "the relying-party test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    let report: Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap(),
    )
    .unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 24, "{report}");

    // The edge core verifies the access token (RFC 9068 profile beside the USSO claims).
    let at = report["access_token"].as_str().unwrap();
    let r = api(
        &st.c,
        &st.s,
        "POST",
        "/auth/verify-token",
        "org_default",
        Auth::None,
        Some(&json!({"token": at})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let person = if r.1.get("claims").is_some() {
        &r.1["claims"]
    } else {
        &r.1
    };
    assert_eq!(
        person["scopes"],
        json!(["read:usso/users"]),
        "granted and held: {}",
        r.1
    );
    assert_eq!(person["roles"], json!([]));
    let header: Value = serde_json::from_slice(
        &usso_shared::encoding::b64url_decode(at.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    let cc = report["client_credentials_token"].as_str().unwrap();
    let v = api(
        &st.c,
        &st.s,
        "POST",
        "/auth/verify-token",
        "org_default",
        Auth::None,
        Some(&json!({"token": cc})),
    )
    .await;
    assert_eq!(v.0, 200, "{}", v.1);
    let claims = if v.1.get("claims").is_some() {
        &v.1["claims"]
    } else {
        &v.1
    };
    assert_eq!(claims["client_id"], st.conf.0.as_str());
    assert_eq!(claims["sub"], st.conf.0.as_str());
    assert_eq!(claims["scope"], "read:usso/users");
    assert_eq!(claims["scopes"], json!(["read:usso/users"]));

    // An ID token is no access token anywhere here (token confusion).
    let idt = report["id_token"].as_str().unwrap();
    let r = api(
        &st.c,
        &st.s,
        "GET",
        "/users",
        "org_default",
        Auth::Bearer(idt),
        None,
    )
    .await;
    assert_eq!(r.0, 401, "{}", r.1);

    // The person sees the consents and takes one back: the client's sessions end.
    let r = api(
        &st.c,
        &st.s,
        "POST",
        "/auth/login",
        "org_default",
        Auth::None,
        Some(&json!({"identifier": USER, "secret": PASSWORD})),
    )
    .await;
    let mine = r.1["access_token"].as_str().unwrap().to_owned();
    let r = api(
        &st.c,
        &st.s,
        "GET",
        "/oauth/consents",
        "org_default",
        Auth::Bearer(&mine),
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let ids: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&st.conf.0.as_str()) && ids.contains(&st.public.as_str()),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&st.first.0.as_str()),
        "a first-party client needs no consent"
    );
    let path = format!("/oauth/consents/{}", st.conf.0);
    let r = api(
        &st.c,
        &st.s,
        "DELETE",
        &path,
        "org_default",
        Auth::Bearer(&mine),
        None,
    )
    .await;
    assert_eq!(r.0, 204, "{}", r.1);
    let r = api(
        &st.c,
        &st.s,
        "DELETE",
        &path,
        "org_default",
        Auth::Bearer(&mine),
        None,
    )
    .await;
    assert_eq!(r.0, 404, "{}", r.1);
    let _ = &st.admin_token;
}

/// Posts a token request (form) with HTTP Basic or none.
async fn token_request(
    st: &Setup,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = st.c.post(st.s.url("/api/sso/v1/oauth/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Signs the person in (cookies) and follows an authorization URL: the `Location` it ends in.
async fn authorize_as_person(st: &Setup, query: &str) -> (u16, Option<String>, String) {
    let r =
        st.c.post(st.s.url("/api/sso/v1/auth/login"))
            .header("origin", st.s.url(""))
            .json(&json!({"identifier": USER, "secret": PASSWORD}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let res =
        st.c.get(st.s.url(&format!("/api/sso/v1/oauth/authorize?{query}")))
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
    let status = res.status().as_u16();
    let loc = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, loc, res.text().await.unwrap())
}

fn enc(s: &str) -> String {
    url_encode(s)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidcc_bad_requests_get_the_errors_the_rfcs_name() {
    let st = setup("oauth-bad").await;
    let (cid, secret) = (st.conf.0.as_str(), st.conf.1.as_str());
    let base = |extra: &str| {
        format!(
            "response_type=code&client_id={cid}&redirect_uri={}&scope=openid&state=st{extra}",
            enc(&st.redirect)
        )
    };

    // oidcc-ensure-registered-redirect-uri: an unregistered redirect URI is never followed.
    let q = format!(
        "response_type=code&client_id={cid}&redirect_uri={}&scope=openid",
        enc("https://attacker.example/cb")
    );
    let (status, loc, body) = authorize_as_person(&st, &q).await;
    assert_eq!(
        (status, loc),
        (400, None),
        "shown on a page, not redirected"
    );
    assert!(body.contains("edirect_uri is not registered"), "{body}");
    // Unknown client: a page too.
    let (status, loc, _) =
        authorize_as_person(&st, "response_type=code&client_id=oc_nope&scope=openid").await;
    assert_eq!((status, loc), (401, None), "invalid_client, on a page");

    // Implicit and hybrid flows: unsupported_response_type, to the client, with iss and state.
    for rt in ["token", "id_token", "code%20id_token"] {
        let q = base("").replace("response_type=code", &format!("response_type={rt}"));
        let (status, loc, _) = authorize_as_person(&st, &q).await;
        assert_eq!(status, 302);
        let loc = loc.unwrap();
        assert!(loc.starts_with(&st.redirect), "{loc}");
        assert!(loc.contains("error=unsupported_response_type"), "{loc}");
        assert!(loc.contains("state=st") && loc.contains("iss="), "{loc}");
    }
    // PKCE plain: refused.
    let (_, loc, _) = authorize_as_person(
        &st,
        &base("&code_challenge=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq&code_challenge_method=plain"),
    )
    .await;
    assert!(loc.unwrap().contains("error=invalid_request"));
    // A scope beyond the client's.
    let (_, loc, _) = authorize_as_person(
        &st,
        &base("").replace("scope=openid", "scope=openid%20delete:usso/users"),
    )
    .await;
    assert!(loc.unwrap().contains("error=invalid_scope"));
    // A public client without PKCE.
    let q = base("").replace(cid, &st.public);
    let (_, loc, _) = authorize_as_person(&st, &q).await;
    assert!(loc.unwrap().contains("error=invalid_request"));

    // The first-party client gets a code at once (no consent page).
    let q = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=fp&code_challenge={CHALLENGE}&code_challenge_method=S256&nonce=n1",
        st.first.0,
        enc(&st.redirect)
    );
    let (status, loc, _) = authorize_as_person(&st, &q).await;
    assert_eq!(status, 302);
    let loc = url::Url::parse(&loc.unwrap()).unwrap();
    let code: String = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let form_for = |code: &str, verifier: &str, redirect: &str| {
        vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("code_verifier".to_owned(), verifier.to_owned()),
            ("redirect_uri".to_owned(), redirect.to_owned()),
            ("client_id".to_owned(), st.first.0.clone()),
            ("client_secret".to_owned(), st.first.1.clone()),
        ]
    };
    let as_refs = |v: &Vec<(String, String)>| -> Vec<(String, String)> { v.clone() };
    let post = |form: Vec<(String, String)>, basic: Option<(String, String)>| {
        let c = st.c.clone();
        let url = st.s.url("/api/sso/v1/oauth/token");
        async move {
            let mut req = c.post(url).form(&form);
            if let Some((id, s)) = basic {
                req = req.basic_auth(id, Some(s));
            }
            let res = req.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // The wrong client (another client's credentials): invalid_grant; the code is gone after.
    let mut other = as_refs(&form_for(&code, verifier, &st.redirect));
    other.retain(|(k, _)| k != "client_id" && k != "client_secret");
    let r = post(other, Some((cid.to_owned(), secret.to_owned()))).await;
    assert_eq!(
        (r.0, r.1["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        r.1
    );
    let r = post(form_for(&code, verifier, &st.redirect), None).await;
    assert_eq!(
        r.1["error"], "invalid_grant",
        "a code is taken once, whoever presents it"
    );

    // A fresh code: wrong verifier, then a wrong redirect URI, each burns it (single use).
    for (bad_verifier, bad_redirect) in [
        (
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            st.redirect.as_str(),
        ),
        (verifier, "http://127.0.0.1:1/other"),
        ("short", st.redirect.as_str()),
    ] {
        let (_, loc, _) = authorize_as_person(&st, &q).await;
        let code: String = url::Url::parse(&loc.unwrap())
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let r = post(form_for(&code, bad_verifier, bad_redirect), None).await;
        assert_eq!(
            (r.0, r.1["error"].as_str()),
            (400, Some("invalid_grant")),
            "{}",
            r.1
        );
        assert!(r.1.get("access_token").is_none());
    }
    // An expired code (the server's clock moves past 60 s).
    let (_, loc, _) = authorize_as_person(&st, &q).await;
    let code: String = url::Url::parse(&loc.unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    st.s.advance(61);
    let r = post(form_for(&code, verifier, &st.redirect), None).await;
    assert_eq!(r.1["error"], "invalid_grant", "{}", r.1);

    // Token endpoint: unknown client, wrong secret (401 + WWW-Authenticate), the password grant,
    // an unknown grant, a missing grant type, two authentication methods at once.
    let r = token_request(
        &st,
        Some(("oc_unknown", "x")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!((r.0, r.1["error"].as_str()), (401, Some("invalid_client")));
    let r = token_request(
        &st,
        Some((cid, "usso_cs_wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!((r.0, r.1["error"].as_str()), (401, Some("invalid_client")));
    let r = token_request(
        &st,
        Some((cid, secret)),
        &[
            ("grant_type", "password"),
            ("username", USER),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (r.0, r.1["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let r = token_request(&st, Some((cid, secret)), &[("grant_type", "urn:x")]).await;
    assert_eq!(r.1["error"], "unsupported_grant_type");
    let r = token_request(&st, Some((cid, secret)), &[]).await;
    assert_eq!(r.1["error"], "invalid_request");
    let r = token_request(
        &st,
        Some((cid, secret)),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(r.1["error"], "invalid_request");
    // A public client cannot use client_credentials; a confidential one without its secret is
    // not authenticated.
    let r = token_request(
        &st,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &st.public),
        ],
    )
    .await;
    assert_eq!(r.1["error"], "unauthorized_client", "{}", r.1);
    let r = token_request(
        &st,
        None,
        &[("grant_type", "client_credentials"), ("client_id", cid)],
    )
    .await;
    assert_eq!(r.1["error"], "invalid_client");
    // Identity scopes make no sense for a client acting for itself.
    let r = token_request(
        &st,
        Some((cid, secret)),
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(r.1["error"], "invalid_scope");
    // A JSON body is not a token request.
    let res =
        st.c.post(st.s.url("/api/sso/v1/oauth/token"))
            .basic_auth(cid, Some(secret))
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // Guessing secrets is bounded per client and address: 429 after 20 failures, and then even
    // the right secret waits (from that address).
    for _ in 0..20 {
        let r = token_request(
            &st,
            Some((cid, "usso_cs_guess")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(r.0, 401);
    }
    let r = token_request(
        &st,
        Some((cid, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.0, 429, "{}", r.1);

    // Client registration refuses what it must.
    for (body, field) in [
        (
            json!({"name": "x", "redirect_uris": ["http://evil.example/cb"]}),
            "redirect_uris",
        ),
        (
            json!({"name": "x", "redirect_uris": ["https://a.example/cb#f"]}),
            "redirect_uris",
        ),
        (
            json!({"name": "x", "redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "response_types",
        ),
        (
            json!({"name": "x", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
                   "grant_types": ["client_credentials"]}),
            "grant_types",
        ),
        (json!({"name": "x", "redirect_uris": []}), "redirect_uris"),
    ] {
        let r = api(
            &st.c,
            &st.s,
            "POST",
            "/oauth/clients",
            "org_default",
            Auth::Bearer(&st.admin_token),
            Some(&body),
        )
        .await;
        assert_eq!(r.0, 422, "{body}: {}", r.1);
        assert!(r.1["detail"].as_str().unwrap().contains(field), "{}", r.1);
    }
    // Secrets: stored hashed (never readable again), rotated on demand.
    let path = format!("/oauth/clients/{cid}");
    let r = api(
        &st.c,
        &st.s,
        "GET",
        &path,
        "org_default",
        Auth::Bearer(&st.admin_token),
        None,
    )
    .await;
    assert_eq!(r.0, 200);
    assert!(r.1.get("client_secret").is_none() && !r.1.to_string().contains(secret));
    let r = api(
        &st.c,
        &st.s,
        "POST",
        &format!("{path}/rotate-secret"),
        "org_default",
        Auth::Bearer(&st.admin_token),
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let new_secret = r.1["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    // Another tenant's view of the client: not found.
    let r = api(
        &st.c,
        &st.s,
        "GET",
        &path,
        "no_such_tenant",
        Auth::Bearer(&st.admin_token),
        None,
    )
    .await;
    assert!(r.0 == 400 || r.0 == 401 || r.0 == 404, "{}", r.1);
}

/// Polls `url` until it answers 200 (readiness, not a sleep).
async fn wait_for(c: &Client, url: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(r) = c.get(url).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} did not come up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The MCP authorization profile: the official MCP Python SDK's client discovers an MCP server's
/// protected-resource metadata (served by the SDK's server, protected by this provider), the
/// provider's metadata, registers itself (RFC 7591), sends the person through sign-in and
/// consent with PKCE and `resource`, redeems the code and calls a tool whose server accepts
/// only tokens issued for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_sdk_client_completes_the_authorization_flow() {
    let st = setup("oauth-mcp").await;
    let python = root().join("tests/.venv-mcp/bin/python");
    assert!(
        python.exists(),
        "the MCP Python SDK is missing: run scripts/install-test-deps.sh"
    );
    let mcp_base = format!("http://127.0.0.1:{}", st.mcp_port);
    let mut server = Command::new(&python)
        .arg(root().join("tests/oauth/mcp_server.py"))
        .arg(st.s.url(""))
        .arg(st.mcp_port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the MCP server starts");
    wait_for(
        &st.c,
        &format!("{mcp_base}/.well-known/oauth-protected-resource/mcp"),
    )
    .await;
    // Without a token the server points at its metadata (RFC 9728 §5.1).
    let r =
        st.c.post(format!("{mcp_base}/mcp"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("resource_metadata="));
    let out = tokio::task::spawn_blocking({
        let (python, url, issuer, redirect) = (
            python.clone(),
            format!("{mcp_base}/mcp"),
            st.s.url(""),
            st.redirect.clone(),
        );
        move || {
            Command::new(python)
                .arg(root().join("tests/oauth/mcp_client.py"))
                .args([&url, &issuer, USER, PASSWORD, &redirect])
                .output()
                .expect("the MCP client runs")
        }
    })
    .await
    .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "the MCP client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    let seen: Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap(),
    )
    .unwrap();
    assert!(
        seen["whoami"].as_str().unwrap().starts_with("user:"),
        "{seen}"
    );
    assert_eq!(
        seen["resource"],
        format!("{mcp_base}/mcp"),
        "RFC 8707 resource sent"
    );
    assert_eq!(seen["code_challenge_method"], "S256");
    assert_eq!(
        seen["consent_page"], true,
        "a registered client is asked about"
    );
    assert!(
        seen["client_id"].as_str().unwrap().starts_with("oc_"),
        "registered (RFC 7591)"
    );
}
