//! ONE suite of the token routes, run against the three deployments of the edge core over a real
//! `redis-server`: the native origin (its own routes), the Workers build in `workerd`, and the
//! Spin component under `wasmtime serve`. Both edges reach Redis through the origin's
//! Upstash-compatible gateway. Each run: login at the origin → verify, `me` and refresh at the
//! deployment → grace retry and reuse detection → logout at the deployment makes strict verify
//! fail everywhere → a key rotation at the origin is picked up without a redeploy. Bad input at
//! the deployment gets the contract's error shape.
//!
//! A second test kills `redis-server` during a refresh burst at each edge and restarts it.
//!
//! Needs `redis-server`, `worker-build`, `wasm-bindgen`, npm `workerd` and `wasmtime` (all
//! installed by scripts/test.sh); a missing tool fails the test, it never skips it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::edge::{wasmtime_serve, workerd, EdgeProcess};
use crate::support::{admin, claims_of, code, free_port, kid_of, temp_dir, RedisServer, Server};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "gateway-token-for-tests-0123456789";

/// Redis, the origin (with its gateway) and the settings the edges need.
struct Stack {
    origin: Option<Server>,
    port: u16,
    data: std::path::PathBuf,
    master: String,
    /// What `usso-origin key edge-secret` printed: the only key the edges hold.
    edge_key: String,
    redis_url: String,
    client: Client,
}

impl Stack {
    fn start(redis: &RedisServer, tag: &str) -> Stack {
        let master = usso_shared::seal::SecretKey::generate()
            .unwrap()
            .to_base64url();
        let mut stack = Stack {
            origin: None,
            port: free_port(),
            data: temp_dir(tag),
            master,
            edge_key: String::new(),
            redis_url: redis.url(),
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        stack.start_origin();
        stack.edge_key = admin(&stack.data, &["key", "edge-secret"], &stack.envs())
            .trim()
            .to_owned();
        assert_eq!(stack.edge_key.len(), 43, "{}", stack.edge_key);
        assert_ne!(stack.edge_key, stack.master);
        stack
    }

    fn envs(&self) -> Vec<(&str, &str)> {
        vec![
            ("USSO_REDIS_URL", self.redis_url.as_str()),
            ("USSO_GATEWAY_TOKEN", TOKEN),
            ("USSO_MASTER_KEY", self.master.as_str()),
        ]
    }

    fn start_origin(&mut self) {
        self.origin = Some(Server::start(&self.data, self.port, &self.envs()));
    }

    fn origin(&self, path: &str) -> String {
        self.origin.as_ref().unwrap().url(path)
    }

    /// What an edge deployment is configured with (as `[vars]`/secrets or `--env`).
    fn edge_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("UPSTASH_REDIS_REST_URL", self.origin("/redis")),
            ("UPSTASH_REDIS_REST_TOKEN", TOKEN.to_owned()),
            // Least privilege: the edge key, never the master key.
            ("USSO_EDGE_KEY", self.edge_key.clone()),
            // Tests rotate keys back to back: reload on every unknown kid.
            ("USSO_KEY_COOLDOWN_SECS", "0".to_owned()),
        ]
    }

    /// Rotates the default tenant's key with the CLI (origin stopped, same data directory and
    /// Redis); returns the new active kid.
    fn rotate_key(&mut self) -> String {
        self.origin.take().unwrap().stop();
        let out = admin(&self.data, &["key", "rotate"], &self.envs());
        self.start_origin();
        serde_json::from_str::<Value>(&out).unwrap()["active_kid"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An administrator (made with the CLI, origin stopped) and a confidential OAuth client of
    /// the default tenant allowed `client_credentials`: `(client_id, client_secret)`.
    async fn oauth_client(&mut self) -> (String, String) {
        self.origin.take().unwrap().stop();
        let mut envs = self.envs();
        envs.push(("USSO_NEW_PASSWORD", "edge admin password 1"));
        admin(
            &self.data,
            &[
                "user",
                "create",
                "edge-admin@example.com",
                "--role",
                "admin",
            ],
            &envs,
        );
        self.start_origin();
        let login = self
            .post(
                self.origin("/api/sso/v1/auth/login"),
                &json!({"identifier": "edge-admin@example.com", "secret": "edge admin password 1"}),
            )
            .await;
        assert_eq!(login.0, 200, "{}", login.1);
        let r = self
            .client
            .post(self.origin(usso_shared::paths::OAUTH_CLIENTS))
            .bearer_auth(login.1["access_token"].as_str().unwrap())
            .json(
                &json!({"name": "Edge API client", "grant_types": ["client_credentials"],
                "scopes": ["read:usso/users"]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let client: Value = r.json().await.unwrap();
        (
            client["client_id"].as_str().unwrap().to_owned(),
            client["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// `GET url`, answered with JSON.
    async fn get_json(&self, url: String) -> Value {
        let r = self.client.get(url).send().await.unwrap();
        r.json().await.unwrap()
    }

    async fn post(&self, url: String, body: &Value) -> (StatusCode, Value) {
        let r = self.client.post(url).json(body).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(origin) = self.origin.take() {
            origin.stop();
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn start_edges(stack: &Stack) -> (EdgeProcess, EdgeProcess) {
    start_edges_with(stack, &[])
}

fn start_edges_with(stack: &Stack, extra: &[(&'static str, &str)]) -> (EdgeProcess, EdgeProcess) {
    let mut vars = stack.edge_vars();
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (workerd(&vars), wasmtime_serve(&vars))
}

/// A DPoP key of a client (RFC 9449): Ed25519 or P-256, the two the provider accepts.
enum DpopKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl DpopKey {
    fn ed25519(seed: u8) -> Self {
        Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    fn p256(seed: u8) -> Self {
        Self::P256(p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap())
    }

    /// A proof for `htm` `htu` (with `ath` when it comes with an access token), fresh `jti`.
    fn proof(&self, htm: &str, htu: &str, token: Option<&str>) -> String {
        use usso_shared::encoding::b64url_encode as b64;
        static JTI: AtomicUsize = AtomicUsize::new(0);
        let (alg, jwk) = match self {
            Self::Ed25519(k) => (
                "EdDSA",
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.verifying_key().as_bytes())}),
            ),
            Self::P256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                (
                    "ES256",
                    json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()),
                        "y": b64(point.y().unwrap())}),
                )
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({"jti": format!("edge-{}", JTI.fetch_add(1, Ordering::Relaxed)),
            "htm": htm, "htu": htu, "iat": now});
        if let Some(t) = token {
            claims["ath"] = json!(usso_shared::dpop::access_token_hash(t));
        }
        let header = json!({"typ": "dpop+jwt", "alg": alg, "jwk": jwk});
        let signed = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match self {
            Self::Ed25519(k) => ed25519_dalek::Signer::sign(k, signed.as_bytes())
                .to_bytes()
                .to_vec(),
            Self::P256(k) => {
                let s: p256::ecdsa::Signature =
                    p256::ecdsa::signature::Signer::sign(k, signed.as_bytes());
                s.to_bytes().to_vec()
            }
        };
        format!("{signed}.{}", b64(&sig))
    }
}

/// DPoP-bound tokens (RFC 9449) checked at the deployment at `edge`: a token bound to an Ed25519
/// key and one bound to a P-256 key (ES256, what openid-client and oauth4webapi make), each
/// accepted with a fresh proof of its own key for the request, and refused with a replayed
/// proof, another key's proof, a proof for another URL, or a proof whose signature was changed.
/// On Workers both signatures are checked by the platform (node:crypto), on Spin by the portable
/// arithmetic, natively by ed25519-dalek and ring.
async fn dpop_bound(stack: &Stack, edge: &str, who: &str, client: &(String, String)) {
    let verify_url = format!("{edge}{}", usso_shared::paths::VERIFY_TOKEN);
    // The token endpoint as discovery names it (the issuer's URL), as a client finds it.
    let discovery: Value = stack
        .get_json(stack.origin("/.well-known/openid-configuration"))
        .await;
    let token_url = discovery["token_endpoint"].as_str().unwrap().to_owned();
    let resource = "https://api.example.com/photos?page=2";
    for (key, other) in [
        (DpopKey::ed25519(7), DpopKey::p256(9)),
        (DpopKey::p256(8), DpopKey::ed25519(6)),
    ] {
        let alg = match key {
            DpopKey::Ed25519(_) => "EdDSA",
            DpopKey::P256(_) => "ES256",
        };
        let r = stack
            .client
            .post(&token_url)
            .basic_auth(&client.0, Some(&client.1))
            .header("dpop", key.proof("POST", &token_url, None))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "read:usso/users"),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status();
        let grant: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{who} {alg}: {grant}");
        assert_eq!(grant["token_type"], "DPoP", "{who} {alg}");
        let token = grant["access_token"].as_str().unwrap();
        assert!(claims_of(token)["cnf"]["jkt"].is_string(), "{who} {alg}");
        let check = |proof: String| {
            let body = json!({"token": token, "dpop": proof, "htm": "GET", "htu": resource});
            let url = verify_url.clone();
            async move { stack.post(url, &body).await }
        };
        let good = key.proof("GET", resource, Some(token));
        let ok = check(good.clone()).await;
        assert_eq!(ok.0, 200, "{who} {alg}: {}", ok.1);
        assert_eq!(ok.1["client_id"], json!(client.0), "{who} {alg}: {}", ok.1);
        let mut changed = key.proof("GET", resource, Some(token)).into_bytes();
        let last = changed.len() - 3;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        for (what, proof) in [
            ("a replayed proof", good),
            (
                "another key's proof",
                other.proof("GET", resource, Some(token)),
            ),
            (
                "a proof for another URL",
                key.proof("GET", "https://api.example.com/admin", Some(token)),
            ),
            ("a changed signature", String::from_utf8(changed).unwrap()),
        ] {
            let r = check(proof).await;
            assert_eq!(r.0, 400, "{who} {alg}: {what}: {}", r.1);
            assert_eq!(
                r.1["error_code"], "invalid_dpop_proof",
                "{who} {alg}: {what}: {}",
                r.1
            );
        }
    }
}

/// The suite, against the deployment at `edge` (a base URL; the origin's own for the native run).
async fn suite(stack: &mut Stack, edge: &str, who: &str) {
    let at = |p: &str| format!("{edge}{p}");
    let c = stack.client.clone();
    let email = format!("{who}@example.com");
    let password = format!("{who} password 1");

    // JWKS and discovery at the deployment are the origin's.
    let jwks = c.get(at("/.well-known/jwks.json")).send().await.unwrap();
    if jwks.status() != 200 {
        panic!(
            "{who}: JWKS {}: {}",
            jwks.status(),
            jwks.text().await.unwrap()
        );
    }
    assert!(jwks.headers().get("etag").is_some(), "{who}: JWKS ETag");
    let jwks: Value = jwks.json().await.unwrap();
    let origin_jwks: Value = stack.get_json(stack.origin("/.well-known/jwks.json")).await;
    assert_eq!(jwks, origin_jwks, "{who}: JWKS");
    let discovery: Value = stack
        .get_json(at("/.well-known/openid-configuration"))
        .await;
    assert!(
        discovery["jwks_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/.well-known/jwks.json")),
        "{who}: {discovery}"
    );

    // Login at the origin; verify, me and refresh at the deployment.
    let reg = stack
        .post(
            stack.origin("/api/sso/v1/auth/register"),
            &json!({"identifier": email, "secret": password}),
        )
        .await;
    assert_eq!(reg.0, 200, "{who}: {}", reg.1);
    let access = reg.1["access_token"].as_str().unwrap().to_owned();
    let t0 = reg.1["refresh_token"].as_str().unwrap().to_owned();
    let v = stack
        .post(
            at("/api/sso/v1/auth/verify-token"),
            &json!({"token": access}),
        )
        .await;
    assert_eq!(v.0, 200, "{who}: {}", v.1);
    assert_eq!(v.1["sub"], reg.1["user"]["sub"], "{who}");
    let me = c
        .get(at("/api/sso/v1/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "{who}");
    assert_eq!(me.json::<Value>().await.unwrap()["email"], json!(email));
    let r1 = stack
        .post(
            at("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": t0}),
        )
        .await;
    assert_eq!(r1.0, 200, "{who}: {}", r1.1);
    let t1 = r1.1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(t1, t0);
    // A grace retry (here at the origin) returns the same successor.
    let retry = stack
        .post(
            stack.origin("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": t0}),
        )
        .await;
    assert_eq!(retry.1["refresh_token"], json!(t1), "{who}: grace retry");
    // Refresh by cookie at the deployment.
    let by_cookie = c
        .post(at("/api/sso/v1/auth/refresh"))
        .header("cookie", format!("usso-refresh-token={t1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200, "{who}: cookie refresh");
    let cookies: Vec<String> = by_cookie
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("usso-refresh-token=")),
        "{who}: {cookies:?}"
    );
    let t2 = by_cookie.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Reuse of t0 (past its successor's successor) revokes the session everywhere.
    assert_eq!(
        code(
            &stack
                .post(
                    at("/api/sso/v1/auth/refresh"),
                    &json!({"refresh_token": t0})
                )
                .await
        ),
        (401, "refresh_token_reused".into()),
        "{who}"
    );
    assert_eq!(
        code(
            &stack
                .post(
                    stack.origin("/api/sso/v1/auth/refresh"),
                    &json!({"refresh_token": t2})
                )
                .await
        ),
        (401, "session_revoked".into()),
        "{who}"
    );

    // Logout at the deployment: strict verify fails at the origin and at the deployment.
    let login = stack
        .post(
            stack.origin("/api/sso/v1/auth/login"),
            &json!({"identifier": email, "secret": password}),
        )
        .await;
    assert_eq!(login.0, 200, "{who}: {}", login.1);
    let access = login.1["access_token"].as_str().unwrap().to_owned();
    let out = c
        .post(at("/api/sso/v1/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200, "{who}: logout");
    for base in [stack.origin(""), edge.to_owned()] {
        assert_eq!(
            code(
                &stack
                    .post(
                        format!("{base}/api/sso/v1/auth/verify-token?strict=true"),
                        &json!({"token": access})
                    )
                    .await
            ),
            (401, "session_revoked".into()),
            "{who}: strict verify at {base}"
        );
    }
    assert_eq!(
        code(
            &stack
                .post(
                    at("/api/sso/v1/auth/refresh"),
                    &json!({"refresh_token": login.1["refresh_token"]})
                )
                .await
        ),
        (401, "session_revoked".into()),
        "{who}: refresh after logout"
    );

    // Bad input at the deployment: the contract's error shape and status.
    let bad = c
        .post(at("/api/sso/v1/auth/refresh"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "{who}: malformed JSON");
    let body: Value = bad.json().await.unwrap();
    assert!(
        body["error_code"].is_string() && body["message"]["en"].is_string(),
        "{who}: {body}"
    );
    let typed = stack
        .post(at("/api/sso/v1/auth/verify-token"), &json!({"token": 42}))
        .await;
    assert_eq!(typed.0, 422, "{who}: wrong type: {}", typed.1);
    let forged = stack
        .post(
            at("/api/sso/v1/auth/verify-token"),
            &json!({"token": format!("{access}x")}),
        )
        .await;
    assert_eq!(forged.0, 401, "{who}: tampered signature: {}", forged.1);
    let huge = c
        .post(at("/api/sso/v1/auth/refresh"))
        .header("content-type", "application/json")
        .body(vec![b' '; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413, "{who}: huge body");
    let missing = c.get(at("/api/sso/v1/no-such-route")).send().await.unwrap();
    assert_eq!(missing.status(), 404, "{who}");
    let unknown_tenant = c
        .post(at("/api/sso/v1/auth/verify-token"))
        .header("x-tenant-id", "org_nobody")
        .json(&json!({"token": access}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_tenant.status(), 400, "{who}: unknown tenant");
    assert_eq!(
        unknown_tenant.json::<Value>().await.unwrap()["error_code"],
        "tenant_not_found",
        "{who}"
    );

    // A key rotation at the origin is picked up by the running deployment.
    let old_kid = kid_of(&access);
    let new_kid = stack.rotate_key();
    assert_ne!(new_kid, old_kid);
    let login = stack
        .post(
            stack.origin("/api/sso/v1/auth/login"),
            &json!({"identifier": email, "secret": password}),
        )
        .await;
    let fresh = login.1["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&fresh), new_kid);
    let v = stack
        .post(
            at("/api/sso/v1/auth/verify-token"),
            &json!({"token": fresh}),
        )
        .await;
    assert_eq!(v.0, 200, "{who}: new kid without a redeploy: {}", v.1);
    let r = stack
        .post(
            at("/api/sso/v1/auth/refresh"),
            &json!({"refresh_token": login.1["refresh_token"]}),
        )
        .await;
    assert_eq!(r.0, 200, "{who}: {}", r.1);
    assert_eq!(
        kid_of(r.1["access_token"].as_str().unwrap()),
        new_kid,
        "{who}: signs with the new active key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_suite_against_origin_workers_and_spin() {
    let redis = RedisServer::start();
    let mut stack = Stack::start(&redis, "suite");
    let client = stack.oauth_client().await;
    let (workers, spin) = start_edges(&stack);
    let origin_base = stack.origin("");
    suite(&mut stack, &origin_base, "native").await;
    suite(&mut stack, &workers.base, "workers").await;
    suite(&mut stack, &spin.base, "spin").await;
    let origin_base = stack.origin("");
    dpop_bound(&stack, &origin_base, "native", &client).await;
    dpop_bound(&stack, &workers.base, "workers", &client).await;
    dpop_bound(&stack, &spin.base, "spin", &client).await;
}

/// One refresh chain's record: the token it holds and what it saw.
#[derive(Default)]
struct Chain {
    token: String,
    ok: usize,
    unavailable: usize,
    other: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_crash_during_refresh_burst_loses_nothing() {
    let redis_dir = temp_dir("redis-durable");
    let mut redis = RedisServer::start_durable(&redis_dir);
    let stack = Stack::start(&redis, "fault");
    let (workers, spin) = start_edges(&stack);
    let edges = [workers.base.clone(), spin.base.clone()];

    // Sessions logged in at the origin; half are refreshed at each edge.
    let reg = stack
        .post(
            stack.origin("/api/sso/v1/auth/register"),
            &json!({"identifier": "burst@example.com", "secret": "burst password 1"}),
        )
        .await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    let mut chains = vec![Chain {
        token: reg.1["refresh_token"].as_str().unwrap().to_owned(),
        ..Chain::default()
    }];
    for _ in 1..8 {
        let login = stack
            .post(
                stack.origin("/api/sso/v1/auth/login"),
                &json!({"identifier": "burst@example.com", "secret": "burst password 1"}),
            )
            .await;
        assert_eq!(login.0, 200, "{}", login.1);
        chains.push(Chain {
            token: login.1["refresh_token"].as_str().unwrap().to_owned(),
            ..Chain::default()
        });
    }
    let chains: Vec<_> = chains
        .into_iter()
        .map(|c| Arc::new(tokio::sync::Mutex::new(c)))
        .collect();

    // The burst: each chain refreshes in a loop. A 200 moves it to the successor; anything else
    // keeps the old token and retries it (what a client must do when the outcome is unknown).
    let stop = Arc::new(AtomicBool::new(false));
    let after_restart = Arc::new(AtomicUsize::new(0));
    let restarted = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, chain) in chains.iter().enumerate() {
        let (chain, stop, client) = (chain.clone(), stop.clone(), stack.client.clone());
        let (after_restart, restarted) = (after_restart.clone(), restarted.clone());
        let url = format!("{}/api/sso/v1/auth/refresh", edges[i % 2]);
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let token = chain.lock().await.token.clone();
                let res = client
                    .post(&url)
                    .json(&json!({"refresh_token": token}))
                    .send()
                    .await;
                let mut c = chain.lock().await;
                match res {
                    Ok(r) if r.status() == 200 => {
                        let body: Value = r.json().await.unwrap();
                        c.token = body["refresh_token"].as_str().unwrap().to_owned();
                        c.ok += 1;
                        if restarted.load(Ordering::SeqCst) {
                            after_restart.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        if status == 503 && body["error_code"] == "service_unavailable" {
                            c.unavailable += 1;
                        } else {
                            c.other.push(format!("{status} {body}"));
                        }
                    }
                    Err(e) => c.other.push(format!("transport: {e}")),
                }
            }
        }));
    }

    let total_ok = || async {
        let mut n = 0;
        for c in &chains {
            n += c.lock().await.ok;
        }
        n
    };
    let total_unavailable = || async {
        let mut n = 0;
        for c in &chains {
            n += c.lock().await.unavailable;
        }
        n
    };
    let wait_for = |what: &'static str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        move || assert!(Instant::now() < deadline, "timed out waiting for {what}")
    };

    // Refreshes flow, then Redis crashes mid-burst.
    let check = wait_for("refreshes before the crash");
    while total_ok().await < 40 {
        check();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.crash();
    // While Redis is down, the edges answer with clear errors.
    let check = wait_for("errors while Redis is down");
    while total_unavailable().await < 10 {
        check();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ok_while_down = total_ok().await;
    redis.restart();
    restarted.store(true, Ordering::SeqCst);
    // They recover without a restart of the edges.
    let check = wait_for("refreshes after the restart");
    while after_restart.load(Ordering::SeqCst) < 40 {
        check();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }

    // Every chain still holds a live session: each 200 was committed (its successor refreshes),
    // no error was a false failure that revoked or lost a session, and nothing else was seen.
    for (i, chain) in chains.iter().enumerate() {
        let c = chain.lock().await;
        if !c.other.is_empty() {
            eprintln!("WORKERD LOG:\n{}", workers.log());
        }
        assert!(
            c.other.is_empty(),
            "chain {i}: unexpected answers {:?}",
            c.other
        );
        let last = stack
            .post(
                stack.origin("/api/sso/v1/auth/refresh"),
                &json!({"refresh_token": c.token}),
            )
            .await;
        assert_eq!(last.0, 200, "chain {i}: session lost: {}", last.1);
    }
    let unavailable = total_unavailable().await;
    eprintln!(
        "burst: {} refreshes ok ({ok_while_down} before the crash was noticed), {unavailable} answered 503 while Redis was down",
        total_ok().await
    );
    drop((workers, spin));
    drop(stack);
    drop(redis);
    let _ = std::fs::remove_dir_all(&redis_dir);
}

/// `wrangler.toml` as a user runs it: `wrangler dev` builds the Worker with its `[build]`
/// command and serves it in workerd; it serves the origin's JWKS and verifies its tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrangler_dev_serves_wrangler_toml() {
    let redis = RedisServer::start();
    let stack = Stack::start(&redis, "wrangler");
    let vars = stack.edge_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dev = crate::support::edge::WranglerDev::start(&vars);
    let jwks: Value = stack.get_json(dev.url("/.well-known/jwks.json")).await;
    let origin_jwks: Value = stack.get_json(stack.origin("/.well-known/jwks.json")).await;
    assert_eq!(jwks, origin_jwks);
    let reg = stack
        .post(
            stack.origin("/api/sso/v1/auth/register"),
            &json!({"identifier": "wrangler@example.com", "secret": "wrangler password 1"}),
        )
        .await;
    let v = stack
        .post(
            dev.url("/api/sso/v1/auth/verify-token"),
            &json!({"token": reg.1["access_token"]}),
        )
        .await;
    assert_eq!(v.0, 200, "{}", v.1);
    assert_eq!(v.1["sub"], reg.1["user"]["sub"]);
}

/// Counts the HTTP requests (Upstash round trips) a transport sends.
struct Counting {
    inner: usso_shared::transport::ReqwestTransport,
    sent: Arc<AtomicUsize>,
}

impl usso_shared::transport::HttpTransport for Counting {
    async fn send(
        &self,
        request: usso_shared::transport::HttpRequest,
    ) -> usso_shared::Result<usso_shared::transport::HttpResponse> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.inner.send(request).await
    }
}

/// The core the edges run, natively, over the same Upstash client and the real gateway: once a
/// tenant is loaded, a verify costs no round trip, a refresh exactly one, and an API-key check
/// exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upstash_round_trip_per_refresh_and_api_key_and_none_per_verify() {
    let redis = RedisServer::start();
    let stack = Stack::start(&redis, "roundtrips");
    let vars = stack.edge_vars();
    let settings = usso_edge::EdgeSettings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let transport = Counting {
        inner: usso_shared::transport::ReqwestTransport::new(Duration::from_secs(10)).unwrap(),
        sent: sent.clone(),
    };
    let core = settings.upstash_core(transport, usso_shared::clock::SystemClock);
    let call = |path: &str, body: Value| {
        usso_edge::Request::new(usso_edge::Method::Post, path)
            .with_header("x-tenant-id", "org_default")
            .with_json(&body)
    };
    let reg = stack
        .post(
            stack.origin("/api/sso/v1/auth/register"),
            &json!({"identifier": "trips@example.com", "secret": "trips password 1"}),
        )
        .await;
    assert_eq!(reg.0, 200, "{}", reg.1);
    // Cold: the first request loads the tenant (policy and keys).
    let res = core
        .handle(&call(
            "/api/sso/v1/auth/verify-token",
            json!({"token": reg.1["access_token"]}),
        ))
        .await;
    assert_eq!(res.status, 200);
    let mut token = reg.1["refresh_token"].as_str().unwrap().to_owned();
    for i in 0..20 {
        let before = sent.load(Ordering::SeqCst);
        let res = core
            .handle(&call(
                "/api/sso/v1/auth/verify-token",
                json!({"token": reg.1["access_token"]}),
            ))
            .await;
        assert_eq!(res.status, 200);
        assert_eq!(sent.load(Ordering::SeqCst), before, "verify {i}: no I/O");
        let res = core
            .handle(&call(
                "/api/sso/v1/auth/refresh",
                json!({"refresh_token": token}),
            ))
            .await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!(
            sent.load(Ordering::SeqCst) - before,
            1,
            "refresh {i}: one round trip"
        );
        token = res.body_json()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    // An API key: one round trip (the published record), whether right or wrong.
    let key = stack
        .client
        .post(stack.origin("/api/sso/v1/apikeys"))
        .bearer_auth(reg.1["access_token"].as_str().unwrap())
        .json(&json!({"name": "trips", "scopes": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 201);
    let key: Value = key.json().await.unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let before = sent.load(Ordering::SeqCst);
        let res = core
            .handle(&call("/api/sso/v1/apikeys/verify", json!({"api_key": key})))
            .await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!(
            sent.load(Ordering::SeqCst) - before,
            1,
            "API key {i}: one round trip"
        );
    }
}

/// Security issue 11, item 7, through both edges: disabling a user ends every session of theirs
/// at once (refresh refused at Workers and Spin), and deactivating a tenant stops verify and
/// refresh at both edges once they reload the policy (key-set TTL, 1 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_ends_sessions_and_api_keys_work_at_workers_and_spin() {
    let redis = RedisServer::start();
    let stack = Stack::start(&redis, "deactivate");
    let (workers, spin) = start_edges_with(&stack, &[("USSO_KEYSET_TTL_SECS", "1")]);
    let creds = |who: &str| json!({"identifier": format!("{who}@example.com"), "secret": "deactivation password 1"});
    let mut sessions = Vec::new();
    for who in ["dis", "keep", "roled"] {
        let reg = stack
            .post(stack.origin("/api/sso/v1/auth/register"), &creds(who))
            .await;
        assert_eq!(reg.0, 200, "{}", reg.1);
        sessions.push(reg.1);
    }
    let refresh = |edge: &EdgeProcess, token: &Value| {
        let (url, body) = (
            edge.url("/api/sso/v1/auth/refresh"),
            json!({"refresh_token": token}),
        );
        let stack = &stack;
        async move { stack.post(url, &body).await }
    };

    // Disable one user: their refresh fails at both edges at once; the other user's works.
    let out = admin(
        &stack.data,
        &["user", "disable", "dis@example.com"],
        &stack.envs(),
    );
    assert!(out.contains("\"sessions_revoked\":1"), "{out}");
    for edge in [&workers, &spin] {
        let r = refresh(edge, &sessions[0]["refresh_token"]).await;
        assert_eq!(
            code(&r),
            (401, "session_revoked".into()),
            "{}: {}",
            edge.base,
            r.1
        );
    }
    let r = refresh(&workers, &sessions[1]["refresh_token"]).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let keep = r.1["refresh_token"].clone();
    let login = stack
        .post(stack.origin("/api/sso/v1/auth/login"), &creds("dis"))
        .await;
    assert_eq!(
        code(&login),
        (403, "permission_denied".into()),
        "{}",
        login.1
    );

    // An administrator gives "roled" a role over the HTTP API: the change of access ends their
    // session at both edges at once (revoked, not re-scoped: they sign in again for the new
    // scopes), and a later change of the role itself does the same.
    let sys = stack
        .post(
            stack.origin("/api/sso/v1/auth/login"),
            &json!({"identifier": "system", "secret": crate::support::SYSTEM_PASSWORD}),
        )
        .await;
    assert_eq!(sys.0, 200, "{}", sys.1);
    let sys = sys.1["access_token"].as_str().unwrap().to_owned();
    let as_admin = |method: reqwest::Method, path: &str, body: Value| {
        let req = stack
            .client
            .request(method, stack.origin(&format!("/api/sso/v1{path}")))
            .bearer_auth(&sys)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let r = as_admin(
        reqwest::Method::POST,
        "/roles",
        json!({"slug": "writers", "scopes": ["update:blog/posts"]}),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let roled_id = claims_of(sessions[2]["access_token"].as_str().unwrap())["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = as_admin(
        reqwest::Method::PATCH,
        &format!("/users/{roled_id}"),
        json!({"roles": ["writers"]}),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    for edge in [&workers, &spin] {
        let r = refresh(edge, &sessions[2]["refresh_token"]).await;
        assert_eq!(
            code(&r),
            (401, "session_revoked".into()),
            "{}: {}",
            edge.base,
            r.1
        );
    }
    let again = stack
        .post(stack.origin("/api/sso/v1/auth/login"), &creds("roled"))
        .await;
    assert_eq!(again.0, 200, "{}", again.1);
    let r = refresh(&spin, &again.1["refresh_token"]).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let rotated = r.1["refresh_token"].clone();
    let access = r.1["access_token"].as_str().unwrap().to_owned();
    // Switching workspace at the origin changes what the edges mint on the next refresh.
    let r = as_admin(
        reqwest::Method::POST,
        "/workspaces",
        json!({"name": "Edge team"}),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let ws = r.1["id"].as_str().unwrap().to_owned();
    let r = as_admin(
        reqwest::Method::POST,
        &format!("/workspaces/{ws}/members"),
        json!({"user_id": roled_id, "roles": ["writers"]}),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let r = stack
        .client
        .post(stack.origin("/api/sso/v1/auth/workspace"))
        .bearer_auth(&access)
        .json(&json!({"workspace_id": ws, "refresh_token": rotated}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let switched: Value = r.json().await.unwrap();
    let mut rotated = switched["refresh_token"].clone();
    for edge in [&workers, &spin] {
        let r = refresh(edge, &rotated).await;
        assert_eq!(r.0, 200, "{}: {}", edge.base, r.1);
        let claims = claims_of(r.1["access_token"].as_str().unwrap());
        assert_eq!(claims["workspace_id"], ws.as_str(), "{}", edge.base);
        assert_eq!(
            claims["scopes"],
            json!([
                "update:blog/posts",
                format!("update:blog/posts?workspace_id={ws}")
            ]),
            "{}",
            edge.base
        );
        rotated = r.1["refresh_token"].clone();
    }
    let r = as_admin(reqwest::Method::DELETE, "/roles/writers", Value::Null).await;
    assert_eq!(r.0, 204, "{}", r.1);
    let r = refresh(&workers, &rotated).await;
    assert_eq!(code(&r), (401, "session_revoked".into()), "{}", r.1);

    // API keys at both edges, from the hot store alone: verify and `me` answer the key's
    // claims; a forged secret is refused and, guessed at, throttled; revoking at the origin
    // refuses the key at both edges at once.
    let r = as_admin(
        reqwest::Method::POST,
        "/apikeys",
        json!({"name": "edge check", "scopes": ["read:usso/users"]}),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let key = r.1["key"].as_str().unwrap().to_owned();
    let key_id = r.1["id"].as_str().unwrap().to_owned();
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    let verify_key = |edge: &EdgeProcess, k: &str| {
        let (url, body) = (
            edge.url("/api/sso/v1/apikeys/verify"),
            json!({"api_key": k}),
        );
        let stack = &stack;
        async move { stack.post(url, &body).await }
    };
    for edge in [&workers, &spin] {
        let r = verify_key(edge, &key).await;
        assert_eq!(r.0, 200, "{}: {}", edge.base, r.1);
        assert_eq!(r.1["api_key_id"], key_id.as_str(), "{}", edge.base);
        assert_eq!(r.1["scopes"], json!(["read:usso/users"]), "{}", edge.base);
        let me = stack
            .client
            .get(edge.url("/api/sso/v1/auth/me"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "{}", edge.base);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["credential"], "api_key", "{}", edge.base);
        let r = verify_key(edge, &forged).await;
        assert_eq!(
            code(&r),
            (401, "invalid_credentials".into()),
            "{}",
            edge.base
        );
    }
    let mut last = StatusCode::OK;
    for _ in 0..25 {
        last = verify_key(&workers, &forged).await.0;
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "guessing is throttled");
    assert_eq!(
        verify_key(&spin, &key).await.0,
        200,
        "the right key still works"
    );
    let r = as_admin(
        reqwest::Method::DELETE,
        &format!("/apikeys/{key_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(r.0, 204, "{}", r.1);
    for edge in [&workers, &spin] {
        // Refused at once; 429 rather than 401 because this key id was just guessed at.
        let r = verify_key(edge, &key).await;
        assert!(
            [
                (401, "invalid_credentials".to_owned()),
                (429, "too_many_requests".to_owned())
            ]
            .contains(&code(&r)),
            "revoked at once: {}: {}",
            edge.base,
            r.1
        );
    }

    // Deactivate the tenant: both edges refuse verify and refresh within their TTL.
    admin(
        &stack.data,
        &[
            "tenant",
            "update",
            "org_default",
            "--set",
            r#"{"is_active": false}"#,
        ],
        &stack.envs(),
    );
    for edge in [&workers, &spin] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = stack
                .post(
                    edge.url("/api/sso/v1/auth/verify-token"),
                    &json!({"token": sessions[1]["access_token"]}),
                )
                .await;
            if code(&v) == (400, "tenant_not_found".into()) {
                break;
            }
            assert_eq!(v.0, 200, "{}: {}", edge.base, v.1);
            assert!(
                Instant::now() < deadline,
                "{} still verifies for an inactive tenant",
                edge.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = refresh(edge, &keep).await;
        assert_eq!(
            code(&r),
            (400, "tenant_not_found".into()),
            "{}: {}",
            edge.base,
            r.1
        );
    }
}
