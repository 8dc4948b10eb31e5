//! The edge core's routes end to end over the in-process hot store: the same requests the
//! Workers and Spin adapters and the origin translate from their platforms.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use usso_edge::http::{Method, Request};
use usso_edge::issue::{self, REFRESH_COOKIE};
use usso_edge::store::key;
use usso_edge::{EdgeConfig, EdgeCore, MemoryHotStore, TenantConfig};
use usso_shared::claims::Grant;
use usso_shared::clock::Clock;
use usso_shared::keys::{KeyPair, KeyRing};
use usso_shared::seal::SecretKey;

const T0: i64 = 1_780_000_000;

#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);
impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
impl TestClock {
    fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

struct World {
    core: EdgeCore<MemoryHotStore, TestClock>,
    clock: TestClock,
    master: SecretKey,
    ring: KeyRing,
    cfg: TenantConfig,
}

fn world() -> World {
    world_with(|_| {})
}

fn world_with(settings: impl FnOnce(&mut EdgeConfig)) -> World {
    let master = SecretKey::from_bytes([9u8; 32]);
    let clock = TestClock(Arc::new(AtomicI64::new(T0)));
    let store = MemoryHotStore::new();
    let mut cfg = TenantConfig::new("org_default", "http://localhost:8000");
    cfg.domains = vec!["localhost".into(), "127.0.0.1".into()];
    let ring = KeyRing::with_active(KeyPair::from_secret(&[1u8; 32]));
    publish(&store, &cfg, &ring, &master, T0);
    let mut config = EdgeConfig::new(master.clone());
    settings(&mut config);
    let core = EdgeCore::new(store, clock.clone(), config);
    World {
        core,
        clock,
        master,
        ring,
        cfg,
    }
}

fn publish(
    store: &MemoryHotStore,
    cfg: &TenantConfig,
    ring: &KeyRing,
    master: &SecretKey,
    now: i64,
) {
    store.set(
        key::tenant(&cfg.tenant_id),
        serde_json::to_string(cfg).unwrap(),
    );
    for d in &cfg.domains {
        store.set(key::domain(d), cfg.tenant_id.clone());
    }
    let set = ring.publish(&cfg.tenant_id, master, now).unwrap();
    store.set(
        key::keys(&cfg.tenant_id),
        serde_json::to_string(&set).unwrap(),
    );
}

fn grant() -> Grant {
    Grant {
        sub: "user:u1".into(),
        user_id: Some("u1".into()),
        roles: vec!["member".into()],
        scopes: vec!["read:profile".into()],
        amr: vec!["password".into()],
        acr: Some("usso:acr:1".into()),
        email: Some("a@example.com".into()),
        ..Default::default()
    }
}

impl World {
    fn login(&self) -> issue::TokenPair {
        let (record, pair) = issue::start_session(
            &self.cfg,
            self.ring.signer().unwrap(),
            grant(),
            self.clock.now(),
        )
        .unwrap();
        self.core.store().put_session(&record);
        pair
    }

    async fn call(&self, req: Request) -> (u16, Value) {
        let res = self
            .core
            .handle(&req.with_header("host", "localhost:8000"))
            .await;
        (res.status, res.body_json())
    }

    async fn refresh(&self, token: &str) -> (u16, Value) {
        self.call(
            Request::new(Method::Post, "/api/sso/v1/auth/refresh")
                .with_json(&json!({"refresh_token": token})),
        )
        .await
    }

    async fn verify(&self, token: &str, strict: bool) -> (u16, Value) {
        let path = if strict {
            "/api/sso/v1/auth/verify-token?strict=true"
        } else {
            "/api/sso/v1/auth/verify-token"
        };
        self.call(Request::new(Method::Post, path).with_json(&json!({"token": token})))
            .await
    }
}

#[tokio::test]
async fn jwks_discovery_and_tenant_resolution() {
    let w = world();
    let res = w
        .core
        .handle(&Request::new(
            Method::Get,
            "/.well-known/jwks.json?domain=localhost%3A8000",
        ))
        .await;
    assert_eq!(res.status, 200);
    let jwks = res.body_json();
    assert_eq!(
        jwks["keys"][0]["kid"],
        json!(w.ring.signer().unwrap().kid())
    );
    for field in ["kty", "crv", "x", "alg", "use", "kid"] {
        assert!(jwks["keys"][0][field].is_string(), "{field}");
    }
    assert!(res.header("cache-control").unwrap().contains("max-age=300"));
    let etag = res.header("etag").unwrap().to_owned();
    let again = w
        .core
        .handle(
            &Request::new(Method::Get, "/.well-known/jwks.json")
                .with_header("host", "127.0.0.1")
                .with_header("if-none-match", &etag),
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    let (s, disco) = w
        .call(Request::new(
            Method::Get,
            "/.well-known/openid-configuration",
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(disco["issuer"], json!("http://localhost:8000"));
    assert_eq!(
        disco["jwks_uri"],
        json!("http://localhost:8000/.well-known/jwks.json")
    );

    for req in [
        Request::new(Method::Get, "/.well-known/jwks.json?domain=evil.example"),
        Request::new(Method::Get, "/.well-known/jwks.json").with_header("x-tenant-id", "org_nope"),
        Request::new(Method::Get, "/.well-known/jwks.json").with_header("x-tenant-id", "../../etc"),
        Request::new(Method::Get, "/.well-known/jwks.json"),
    ] {
        let res = w.core.handle(&req).await;
        assert_eq!(res.status, 400, "{:?}", req.path);
        assert_eq!(res.body_json()["error_code"], json!("tenant_not_found"));
    }
    let (s, body) = w.call(Request::new(Method::Get, "/nope")).await;
    assert_eq!((s, body["error_code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn verify_token_and_me() {
    let w = world();
    let pair = w.login();
    let (s, claims) = w.verify(&pair.access_token, false).await;
    assert_eq!(s, 200, "{claims}");
    assert_eq!(claims["sub"], json!("user:u1"));
    assert_eq!(claims["exp"], json!(T0 + 3600));
    assert_eq!(claims["phone"], Value::Null);

    // A refresh token is not an access token.
    let (s, e) = w.verify(&pair.refresh_token, false).await;
    assert_eq!((s, e["error_code"].as_str()), (401, Some("invalid_token")));
    // Bad input.
    let (s, e) = w
        .call(Request::new(Method::Post, "/api/sso/v1/auth/verify-token").with_json(&json!({})))
        .await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (422, Some("validation_error"))
    );
    let mut bad = Request::new(Method::Post, "/api/sso/v1/auth/verify-token");
    bad.body = b"{\"token\":".to_vec();
    let (s, e) = w.call(bad).await;
    assert_eq!((s, e["error_code"].as_str()), (400, Some("bad_request")));
    let (s, e) = w.verify("a.b.c", false).await;
    assert_eq!((s, e["error_code"].as_str()), (401, Some("invalid_token")));

    let (s, me) = w
        .call(
            Request::new(Method::Get, "/api/sso/v1/auth/me")
                .with_header("authorization", &format!("Bearer {}", pair.access_token)),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(me["email"], json!("a@example.com"));
    let (s, e) = w.call(Request::new(Method::Get, "/api/sso/v1/me")).await;
    assert_eq!((s, e["error_code"].as_str()), (401, Some("unauthorized")));

    w.clock.advance(3600 + 30);
    let (s, e) = w.verify(&pair.access_token, false).await;
    assert_eq!((s, e["error_code"].as_str()), (401, Some("token_expired")));
}

#[tokio::test]
async fn refresh_rotation_grace_and_reuse() {
    let w = world();
    let first = w.login();
    w.clock.advance(5);
    let (s, r1) = w.refresh(&first.refresh_token).await;
    assert_eq!(s, 200, "{r1}");
    let second = r1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first.refresh_token);
    assert_eq!(r1["token"]["refresh_token"], json!(second));
    assert_eq!(r1["token_type"], json!("Bearer"));
    assert_eq!(r1["user"]["email"], json!("a@example.com"));
    let (s, _) = w.verify(r1["access_token"].as_str().unwrap(), true).await;
    assert_eq!(s, 200);

    // A retry with the old token inside the grace window gets the same successor.
    w.clock.advance(10);
    let (s, r1b) = w.refresh(&first.refresh_token).await;
    assert_eq!(s, 200);
    assert_eq!(r1b["refresh_token"], json!(second));

    // After the window it is reuse: the session is revoked, even for the newest token.
    w.clock.advance(30);
    let (s, e) = w.refresh(&first.refresh_token).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (401, Some("refresh_token_reused"))
    );
    let (s, e) = w.refresh(&second).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (401, Some("session_revoked"))
    );
    let (s, e) = w.verify(r1["access_token"].as_str().unwrap(), true).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (401, Some("session_revoked"))
    );
    // Non-strict verify stays stateless until the access token expires (documented).
    let (s, _) = w.verify(r1["access_token"].as_str().unwrap(), false).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn refresh_by_cookie_and_logout() {
    let w = world();
    let pair = w.login();
    let res = w
        .core
        .handle(
            &Request::new(Method::Get, "/api/sso/v1/auth/refresh")
                .with_header("host", "localhost")
                .with_header(
                    "cookie",
                    &format!("{REFRESH_COOKIE}={}", pair.refresh_token),
                ),
        )
        .await;
    assert_eq!(res.status, 200);
    let cookies: Vec<&str> = res
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("usso-access-token=") && cookies[0].contains("HttpOnly"));
    assert!(cookies[1].contains("Path=/api/sso/v1/auth") && !cookies[1].contains("Secure"));
    let body = res.body_json();
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();

    let res = w
        .core
        .handle(
            &Request::new(Method::Post, "/api/sso/v1/auth/logout")
                .with_header("host", "localhost")
                .with_header("authorization", &format!("Bearer {access}")),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body_json()["session_revoked"], json!(true));
    assert!(res
        .headers
        .iter()
        .any(|(n, v)| n == "set-cookie" && v.contains("Max-Age=0")));
    let (s, e) = w.refresh(refresh).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (401, Some("session_revoked"))
    );
    let (s, e) = w
        .call(Request::new(Method::Post, "/api/sso/v1/auth/logout"))
        .await;
    assert_eq!((s, e["error_code"].as_str()), (401, Some("unauthorized")));
    let (s, e) = w
        .call(Request::new(Method::Post, "/api/sso/v1/auth/refresh"))
        .await;
    assert_eq!((s, e["error_code"].as_str()), (401, Some("unauthorized")));
}

#[tokio::test]
async fn unknown_kid_reloads_keys_once_per_cooldown() {
    let mut w = world();
    let old = w.login();
    assert_eq!(w.verify(&old.access_token, false).await.0, 200);
    // The origin rotates and republishes; this instance still has the old ring in memory.
    w.clock.advance(60);
    w.ring
        .rotate(KeyPair::from_secret(&[2u8; 32]), w.clock.now(), 7200);
    publish(w.core.store(), &w.cfg, &w.ring, &w.master, w.clock.now());
    let fresh = w.login();
    let (s, body) = w.verify(&fresh.access_token, false).await;
    assert_eq!(s, 200, "a new kid is picked up without a redeploy: {body}");
    assert_eq!(
        w.verify(&old.access_token, false).await.0,
        200,
        "old tokens still verify"
    );
    // A token under a kid nobody published: rejected, and no reload storm within the cooldown.
    let stranger = KeyRing::with_active(KeyPair::from_secret(&[3u8; 32]));
    let (_, forged) =
        issue::start_session(&w.cfg, stranger.signer().unwrap(), grant(), w.clock.now()).unwrap();
    let (s, e) = w.verify(&forged.access_token, false).await;
    assert_eq!((s, e["error_code"].as_str()), (401, Some("invalid_token")));
}

#[tokio::test]
async fn default_tenant_applies_only_without_tenant_header_or_host() {
    let jwks = || Request::new(Method::Get, "/.well-known/jwks.json");
    let w = world();
    let res = w.core.handle(&jwks()).await;
    assert_eq!(
        (res.status, res.body_json()["error_code"].as_str()),
        (400, Some("tenant_not_found"))
    );
    let w = world_with(|c| c.default_tenant = Some("org_default".into()));
    let res = w.core.handle(&jwks()).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body_json()["keys"].as_array().map(Vec::len), Some(1));
    // A host that names no tenant is still refused.
    let res = w
        .core
        .handle(&jwks().with_header("host", "evil.example"))
        .await;
    assert_eq!(res.status, 400);
}

#[tokio::test]
async fn bench_routes_are_opt_in_and_check_what_they_measure() {
    let bench = |path: &str, token: &str| {
        Request::new(Method::Post, path).with_json(&json!({"token": token}))
    };
    let w = world();
    let pair = w.login();
    for path in ["/__bench/verify", "/__bench/verify-strict"] {
        assert_eq!(
            w.call(bench(path, &pair.access_token)).await.0,
            404,
            "{path}"
        );
    }
    let w = world_with(|c| c.bench_routes = true);
    let pair = w.login();
    for path in [
        "/__bench/verify",
        "/__bench/verify-cached",
        "/__bench/verify-bare",
        "/__bench/verify-strict",
    ] {
        let (s, body) = w
            .call(bench(&format!("{path}?n=3"), &pair.access_token))
            .await;
        assert_eq!((s, body["n"].as_u64()), (200, Some(3)), "{path}: {body}");
        // A tampered signature fails both: they really verify.
        let mut tampered = pair.access_token.clone().into_bytes();
        let at = tampered.len() - 10;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let (s, body) = w.call(bench(path, &tampered)).await;
        assert_eq!(s, 401, "{path}: {body}");
        for n in ["0", "10001", "x"] {
            let (s, _) = w
                .call(bench(&format!("{path}?n={n}"), &pair.access_token))
                .await;
            assert_eq!(s, 422, "{path}?n={n}");
        }
    }
}

/// Security issue 15: the refresh token the client sends names the session to end, not
/// whichever access token happens to be present (another account's stale cookie), and an
/// invalid bearer does not make a logout with a good refresh token fail.
#[tokio::test]
async fn logout_ends_the_session_of_the_refresh_token_sent() {
    let w = world();
    let mine = w.login();
    let other = w.login();
    let res = w
        .core
        .handle(
            &Request::new(Method::Post, "/api/sso/v1/auth/logout")
                .with_header("host", "localhost")
                .with_header(
                    "cookie",
                    &format!("usso-access-token={}", other.access_token),
                )
                .with_json(&json!({"refresh_token": mine.refresh_token})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body_json());
    assert_eq!(res.body_json()["session_revoked"], json!(true));
    let (s, e) = w.refresh(&mine.refresh_token).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (401, Some("session_revoked"))
    );
    let (s, _) = w.refresh(&other.refresh_token).await;
    assert_eq!(s, 200, "the other account's session is untouched");

    let third = w.login();
    let res = w
        .core
        .handle(
            &Request::new(Method::Post, "/api/sso/v1/auth/logout")
                .with_header("host", "localhost")
                .with_header("authorization", "Bearer not.a.token")
                .with_json(&json!({"refresh_token": third.refresh_token})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body_json());
    let (s, _) = w.refresh(&third.refresh_token).await;
    assert_eq!(s, 401);

    // A bad token alone: an error, and the cookies are cleared all the same.
    let res = w
        .core
        .handle(
            &Request::new(Method::Post, "/api/sso/v1/auth/logout")
                .with_header("host", "localhost")
                .with_header("authorization", "Bearer not.a.token"),
        )
        .await;
    assert_eq!(res.status, 401);
    assert!(res
        .headers
        .iter()
        .any(|(n, v)| n == "set-cookie" && v.contains("Max-Age=0")));
}

/// Security issue 10: made-up `X-Tenant-ID` and `Host` values cost bounded memory, and an
/// unknown tenant id is answered from a negative cache instead of a store read per request.
#[tokio::test]
async fn unknown_tenants_cost_bounded_memory() {
    let w = world();
    for i in 0..20_000 {
        let (s, e) = w
            .call(
                Request::new(Method::Get, "/.well-known/jwks.json")
                    .with_header("x-tenant-id", &format!("made-up-{i}")),
            )
            .await;
        assert_eq!(
            (s, e["error_code"].as_str()),
            (400, Some("tenant_not_found"))
        );
        let res = w
            .core
            .handle(
                &Request::new(Method::Get, "/.well-known/jwks.json")
                    .with_header("host", &format!("h{i}.example")),
            )
            .await;
        assert_eq!(res.status, 400);
    }
    assert!(
        w.core.cached_entries() <= 2 * 4096 + 10,
        "{} cache entries",
        w.core.cached_entries()
    );
    // The real tenant still answers.
    let (s, _) = w
        .call(Request::new(Method::Get, "/.well-known/jwks.json"))
        .await;
    assert_eq!(s, 200);
}

/// Security issue 11, item 7: a tenant published as inactive stops verifying and refreshing at
/// the edge once the policy is reloaded (within the key-set TTL); JWKS answers
/// `tenant_not_found` too.
#[tokio::test]
async fn an_inactive_tenant_stops_verify_and_refresh_within_the_keyset_ttl() {
    let w = world();
    let pair = w.login();
    assert_eq!(w.verify(&pair.access_token, false).await.0, 200);
    let mut off = w.cfg.clone();
    off.is_active = false;
    w.core.store().set(
        key::tenant(&off.tenant_id),
        serde_json::to_string(&off).unwrap(),
    );
    w.clock.advance(w.core.config().keyset_ttl_secs);
    let (s, e) = w.verify(&pair.access_token, false).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (400, Some("tenant_not_found"))
    );
    let (s, e) = w.refresh(&pair.refresh_token).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (400, Some("tenant_not_found"))
    );
    let (s, _) = w
        .call(Request::new(Method::Get, "/.well-known/jwks.json"))
        .await;
    assert_eq!(s, 400);
    // Active again: served again once the negative entry expires.
    w.core.store().set(
        key::tenant(&w.cfg.tenant_id),
        serde_json::to_string(&w.cfg).unwrap(),
    );
    w.clock.advance(10);
    assert_eq!(w.verify(&pair.access_token, false).await.0, 200);
}

/// Security issue 11, item 11: with `tenant_header` off, `X-Tenant-ID` chooses nothing: the
/// `Host` decides, so a client cannot steer a deployment to another tenant's issuer and keys.
#[tokio::test]
async fn the_tenant_header_can_be_turned_off() {
    let w = world_with(|c| c.tenant_header = false);
    let res = w
        .core
        .handle(
            &Request::new(Method::Get, "/.well-known/openid-configuration")
                .with_header("host", "localhost")
                .with_header("x-tenant-id", "someone_else"),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body_json()["issuer"], json!(w.cfg.issuer));
    let res = w
        .core
        .handle(
            &Request::new(Method::Get, "/.well-known/jwks.json")
                .with_header("host", "unknown.example")
                .with_header("x-tenant-id", "org_default"),
        )
        .await;
    assert_eq!(
        res.status, 400,
        "the header does not rescue an unknown host"
    );
    // On (the default), the header wins, as the contract says.
    let on = world();
    let res = on
        .core
        .handle(
            &Request::new(Method::Get, "/.well-known/jwks.json")
                .with_header("host", "unknown.example")
                .with_header("x-tenant-id", "org_default"),
        )
        .await;
    assert_eq!(res.status, 200);
}

/// API keys at the edge: the published record alone answers `apikeys/verify` and `me`; a
/// revoked (unpublished), expired, forged or other tenant's key is refused; failed guesses
/// are counted per client and key id without locking out the right key.
#[tokio::test]
async fn api_keys_are_checked_from_the_published_record() {
    use usso_shared::api_key::{self, Published};
    let w = world();
    let (key, id) = api_key::generate().unwrap();
    let published = Published {
        id: id.clone(),
        hash: api_key::hash(&key),
        tenant_id: "org_default".into(),
        sub: "user:u1".into(),
        user_id: Some("u1".into()),
        agent_id: None,
        workspace_id: None,
        scopes: vec!["read:usso/users".into()],
        expires_at: Some(T0 + 10_000),
        name: "ci".into(),
    };
    w.core.store().set(
        api_key::hot_key("org_default", &id),
        serde_json::to_string(&published).unwrap(),
    );
    let verify = |k: &str, ip: &str| {
        let mut r = Request::new(Method::Post, "/api/sso/v1/apikeys/verify")
            .with_json(&json!({"api_key": k}));
        r.client_ip = Some(ip.into());
        r
    };
    let (status, body) = w.call(verify(&key, "10.0.0.1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scopes"], json!(["read:usso/users"]));
    assert_eq!(body["credential"], "api_key");
    assert_eq!(body["api_key_id"], id.as_str());
    assert_eq!(body["exp"], T0 + 10_000);
    let (status, body) = w
        .call(Request::new(Method::Get, "/api/sso/v1/auth/me").with_header("x-api-key", &key))
        .await;
    assert_eq!(
        (status, body["sub"].clone()),
        (200, json!("user:u1")),
        "{body}"
    );
    let (status, _) = w
        .call(
            Request::new(Method::Get, "/api/sso/v1/me")
                .with_header("authorization", &format!("Bearer {key}")),
        )
        .await;
    assert_eq!(status, 200);

    // Another tenant's record, a forged secret, garbage: one answer.
    let forged = format!("{}{}", &key[..key.len() - 2], "AA");
    for bad in [forged.as_str(), "usso_sk_nope", ""] {
        let (status, body) = w.call(verify(bad, "10.0.0.2")).await;
        assert_eq!(
            (status, body["error_code"].clone()),
            (401, json!("invalid_credentials")),
            "{bad}"
        );
    }
    // Guessing from one address: the 21st failure is 429; the right key still passes there.
    let mut last = 0;
    for _ in 0..api_key::MAX_FAILURES {
        let (guess, _) = api_key::generate().unwrap();
        last = w.call(verify(&guess, "10.0.0.3")).await.0;
    }
    assert_eq!(last, 401);
    let (guess, _) = api_key::generate().unwrap();
    assert_eq!(w.call(verify(&guess, "10.0.0.3")).await.0, 429);
    assert_eq!(w.call(verify(&key, "10.0.0.3")).await.0, 200, "no lock-out");
    // Guessing at one key id from many addresses: 429 too, and the owner still passes.
    w.clock.advance(api_key::FAILURE_WINDOW_SECS);
    let mut statuses = Vec::new();
    for i in 0..=api_key::MAX_FAILURES {
        statuses.push(w.call(verify(&forged, &format!("10.1.0.{i}"))).await.0);
    }
    assert_eq!(statuses.first(), Some(&401));
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(w.call(verify(&key, "10.1.0.1")).await.0, 200, "no lock-out");
    // The window passes.
    w.clock.advance(api_key::FAILURE_WINDOW_SECS);
    assert_eq!(w.call(verify(&forged, "10.0.0.4")).await.0, 401);

    // Expired; and a record that does not parse is never accepted (revocation itself, which
    // removes the record, is tested against the real stores in origin/tests/it/api_keys.rs).
    w.clock.advance(10_000);
    assert_eq!(w.call(verify(&key, "10.0.0.5")).await.0, 401, "expired");
    w.core
        .store()
        .set(api_key::hot_key("org_default", &id), "".into());
    let (status, _) = w.call(verify(&key, "10.0.0.5")).await;
    assert_ne!(status, 200, "unreadable record");
}

/// A hot store that counts reads and lets other tasks run before it answers, so that loads
/// started together overlap.
struct Counting {
    inner: MemoryHotStore,
    reads: std::sync::atomic::AtomicUsize,
}

impl usso_edge::HotStore for Counting {
    async fn get_many(&self, keys: &[String]) -> usso_shared::Result<Vec<Option<String>>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.inner.get_many(keys).await
    }
    async fn session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> usso_shared::Result<Option<usso_shared::rotation::SessionRecord>> {
        self.inner.session(tenant_id, session_id).await
    }
    async fn rotate(
        &self,
        tenant_id: &str,
        session_id: &str,
        presented_hash: &str,
        successor: &usso_shared::rotation::Successor,
        grace_secs: i64,
        now: i64,
    ) -> usso_shared::Result<(
        usso_shared::rotation::Outcome,
        Option<usso_shared::rotation::SessionRecord>,
    )> {
        let inner = &self.inner;
        inner
            .rotate(
                tenant_id,
                session_id,
                presented_hash,
                successor,
                grace_secs,
                now,
            )
            .await
    }
    async fn hit(
        &self,
        counter: &str,
        window_secs: i64,
        now: i64,
    ) -> usso_shared::Result<(u64, i64)> {
        self.inner.hit(counter, window_secs, now).await
    }
    async fn revoke(
        &self,
        tenant_id: &str,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> usso_shared::Result<Option<usso_shared::rotation::SessionRecord>> {
        self.inner.revoke(tenant_id, session_id, reason, now).await
    }
}

/// A fresh core over a counting copy of the world's published tenant.
fn counting_core<C: Clock>(w: &World, clock: C) -> EdgeCore<Counting, C> {
    let inner = MemoryHotStore::new();
    publish(&inner, &w.cfg, &w.ring, &w.master, T0);
    let store = Counting {
        inner,
        reads: Default::default(),
    };
    EdgeCore::new(store, clock, EdgeConfig::new(w.master.clone()))
}

fn verify_request(token: &str) -> Request {
    Request::new(Method::Post, "/api/sso/v1/auth/verify-token")
        .with_header("x-tenant-id", "org_default")
        .with_json(&json!({ "token": token }))
}

/// Four verify-token requests started together on a cold core; their statuses.
async fn four_at_once<C: Clock>(core: &EdgeCore<Counting, C>, token: &str) -> [u16; 4] {
    let reqs: Vec<Request> = (0..4).map(|_| verify_request(token)).collect();
    let (a, b, c, d) = tokio::join!(
        core.handle(&reqs[0]),
        core.handle(&reqs[1]),
        core.handle(&reqs[2]),
        core.handle(&reqs[3]),
    );
    [a.status, b.status, c.status, d.status]
}

#[tokio::test]
async fn a_cold_core_loads_a_tenant_once_and_remembers_verified_tokens_while_their_key_lives() {
    let w = world();
    let pair = w.login();
    let core = counting_core(&w, w.clock.clone());
    let verify = || verify_request(&pair.access_token);
    assert_eq!(four_at_once(&core, &pair.access_token).await, [200; 4]);
    assert_eq!(
        core.store().reads.load(Ordering::SeqCst),
        1,
        "single flight"
    );
    assert_eq!(core.memo_entries(), 1);
    let again = core.handle(&verify()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body_json()["sub"], json!("user:u1"));
    assert_eq!(
        core.store().reads.load(Ordering::SeqCst),
        1,
        "no I/O on a memo hit"
    );

    // New verification rules (another audience): once the edge reloads the tenant, nothing
    // verified under the old rules is answered from memory.
    let mut narrowed = w.cfg.clone();
    narrowed.audience = Some("another-api".into());
    publish(&core.store().inner, &narrowed, &w.ring, &w.master, T0);
    w.clock.advance(61);
    let res = core.handle(&verify()).await;
    assert_eq!(res.status, 401, "{:?}", res.body_json());
    assert_eq!(core.memo_entries(), 0);
    publish(&core.store().inner, &w.cfg, &w.ring, &w.master, T0);
    w.clock.advance(61);
    assert_eq!(core.handle(&verify()).await.status, 200);
    assert_eq!(core.memo_entries(), 1);

    // The key leaves the ring (a rotation without a retention period): once the edge reloads
    // the key set, the remembered verification goes with it.
    let fresh = KeyRing::with_active(KeyPair::from_secret(&[2u8; 32]));
    publish(&core.store().inner, &w.cfg, &fresh, &w.master, T0);
    w.clock.advance(61);
    let res = core.handle(&verify()).await;
    assert_eq!(res.status, 401, "{:?}", res.body_json());
    assert_eq!(core.memo_entries(), 0);
}

/// A clock whose waits yield to the other tasks (as Workers' `setTimeout` does).
#[derive(Clone)]
struct PausingClock(TestClock);
impl Clock for PausingClock {
    fn now(&self) -> i64 {
        self.0.now()
    }
    fn pause(&self, _ms: u32) -> Option<impl std::future::Future<Output = ()> + Send> {
        Some(tokio::task::yield_now())
    }
}

#[tokio::test]
async fn waiting_requests_poll_on_the_runtime_timer_where_it_offers_one() {
    let w = world();
    let pair = w.login();
    let core = counting_core(&w, PausingClock(w.clock.clone()));
    assert_eq!(four_at_once(&core, &pair.access_token).await, [200; 4]);
    assert_eq!(
        core.store().reads.load(Ordering::SeqCst),
        1,
        "single flight"
    );
}
