//! A small load generator for the origin (and any deployment of the token routes).
//!
//! ```sh
//! cargo run --release -p usso-origin --example load -- BASE_URL SCENARIO CONCURRENCY SECONDS
//! ```
//! Scenarios: `login` (distinct pre-registered users), `verify`, `refresh`, `apikey-verify`
//! (`POST /apikeys/verify` with one key), `agent-auth` (an agent's fresh signed JWT per request
//! exchanged at `/agents/auth`; the client signs each one), `oauth-cc` (client-credentials
//! grants of one confidential client at `/oauth/token`), `oauth-code` (authorization-code
//! redemptions: each worker's signed-in browser gets a code from `/oauth/authorize`, untimed,
//! then the token request is timed), `burst-login`
//! (CONCURRENCY logins at once, one each), and for deployments started with
//! `USSO_BENCH_ROUTES=true`: `bench-verify:N` and `bench-verify-strict:N` (N full verifications,
//! or N bare `verify_strict`s, per request; see `usso_edge::bench`). Prints one JSON line with
//! requests/s, latency percentiles and status counts.
//!
//! Users are set up (logged in with `register: true`) at `USSO_LOAD_ORIGIN` when it is set (an
//! edge has no login route), else at BASE_URL. The API key and the agent are made there too, by
//! the system account (`SYSTEM_PASSWORD`, default `bench-password`).
//!
//! `timing PAIRS` compares answer times for known and unknown identifiers (see `timing`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 || (args.len() < 5 && !matches!(args[2].as_str(), "timing" | "hash-baseline"))
    {
        eprintln!("usage: load BASE_URL SCENARIO CONCURRENCY SECONDS | load BASE_URL timing PAIRS");
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let scenario = args[2].clone();
    if scenario == "hash-baseline" {
        return hash_baseline(args[3].parse().expect("COUNT")).await;
    }
    if scenario == "timing" {
        return timing(&base, args[3].parse().expect("PAIRS")).await;
    }
    let conc: usize = args[3].parse().expect("CONCURRENCY");
    let secs: u64 = args[4].parse().expect("SECONDS");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();
    // The authorization endpoint answers with a redirect to the client: read it, never follow.
    let nofollow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let password = "load test password";
    let origin = std::env::var("USSO_LOAD_ORIGIN").unwrap_or_else(|_| base.clone());
    let origin = origin.trim_end_matches('/').to_owned();
    let bench = scenario
        .strip_prefix("bench-verify-strict:")
        .map(|n| (usso_edge::bench::VERIFY_STRICT, n))
        .or_else(|| {
            scenario
                .strip_prefix("bench-verify:")
                .map(|n| (usso_edge::bench::VERIFY, n))
        })
        .map(|(path, n)| format!("{path}?n={n}"));

    // Setup: one user per worker, registered up front (not measured).
    let users: Vec<String> = (0..conc)
        .map(|i| format!("load{i}-{}@bench.test", std::process::id()))
        .collect();
    let mut sessions = Vec::new();
    // A bearer token from elsewhere (another service under test): no set-up at the origin.
    let bearer = std::env::var("USSO_LOAD_BEARER").ok();
    if let Some(bearer) = &bearer {
        sessions = vec![(bearer.clone(), String::new()); conc];
    }
    for u in users.iter().filter(|_| bearer.is_none()) {
        let r: Value = client
            .post(format!("{origin}/api/sso/v1/auth/login"))
            .json(&json!({"identifier": u, "secret": password, "register": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sessions.push((
            r["access_token"].as_str().unwrap_or_default().to_owned(),
            r["refresh_token"].as_str().unwrap_or_default().to_owned(),
        ));
    }

    // The API key or the agent, made by the system account (not measured).
    let agent_key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let mut machine = String::new();
    if matches!(
        scenario.as_str(),
        "apikey-verify" | "agent-auth" | "oauth-cc" | "oauth-code"
    ) {
        let pw = std::env::var("SYSTEM_PASSWORD").unwrap_or_else(|_| "bench-password".into());
        let sys: Value = client
            .post(format!("{origin}/api/sso/v1/auth/login"))
            .json(&json!({"identifier": "system", "secret": pw}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sys = sys["access_token"]
            .as_str()
            .expect("system login")
            .to_owned();
        let (path, body) = if scenario == "apikey-verify" {
            (
                "/apikeys",
                json!({"name": "load", "scopes": ["read:usso/users"]}),
            )
        } else if scenario == "oauth-cc" {
            (
                "/oauth/clients",
                json!({"name": "load cc", "grant_types": ["client_credentials"],
                       "scopes": ["read:usso/users"]}),
            )
        } else if scenario == "oauth-code" {
            (
                "/oauth/clients",
                json!({"name": "load code", "redirect_uris": [OAUTH_REDIRECT],
                       "skip_consent": true, "scopes": ["openid"]}),
            )
        } else {
            let pem = usso_origin::identity::agents::spki_pem(agent_key.verifying_key().as_bytes());
            (
                "/agents",
                json!({"name": format!("load {}", std::process::id()),
                "scopes": ["read:usso/users"], "verify_key": pem}),
            )
        };
        let made: Value = client
            .post(format!("{origin}/api/sso/v1{path}"))
            .bearer_auth(&sys)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        machine = if scenario.starts_with("oauth-") {
            format!(
                "{}:{}",
                made["client_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("setup failed: {made}")),
                made["client_secret"].as_str().unwrap_or_default()
            )
        } else {
            made[if scenario == "apikey-verify" {
                "key"
            } else {
                "id"
            }]
            .as_str()
            .unwrap_or_else(|| panic!("setup failed: {made}"))
            .to_owned()
        };
    }

    if let Some(k) = scenario.strip_prefix("bench-ratio:") {
        let k: u32 = k.parse().expect("bench-ratio:K");
        return bench_ratio(&client, &base, &origin, &sessions[0].0, k, secs, false).await;
    }
    if let Some(k) = scenario.strip_prefix("bench-ratio-js:") {
        let k: u32 = k.parse().expect("bench-ratio-js:K");
        return bench_ratio(&client, &base, &origin, &sessions[0].0, k, secs, true).await;
    }
    let counts = Arc::new(Mutex::new(BTreeMap::<u16, u64>::new()));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (i, (access, refresh)) in sessions.into_iter().enumerate() {
        let (client, base, scenario, counts, done, user) = (
            client.clone(),
            base.clone(),
            scenario.clone(),
            counts.clone(),
            done.clone(),
            users[i].clone(),
        );
        let (bench, latencies) = (bench.clone(), latencies.clone());
        let (machine, agent_key) = (machine.clone(), agent_key.clone());
        let nofollow = nofollow.clone();
        tasks.push(tokio::spawn(async move {
            let mut refresh = refresh;
            loop {
                // The code scenario first gets a code (not timed): the token request is.
                let code = if scenario == "oauth-code" {
                    Some(oauth_code(&nofollow, &base, &machine, &access).await)
                } else {
                    None
                };
                let sent = Instant::now();
                let req = match scenario.as_str() {
                    _ if bench.is_some() => client
                        .post(format!("{base}{}", bench.as_deref().unwrap_or_default()))
                        .json(&json!({"token": access})),
                    // Any GET with the session's access token as the bearer (`get:/users/me`),
                    // against this service or another one (USSO_LOAD_BEARER).
                    get if get.starts_with("get:") => client
                        .get(format!("{base}{}", &get[4..]))
                        .bearer_auth(&access),
                    "login" | "burst-login" => client
                        .post(format!("{base}/api/sso/v1/auth/login"))
                        .json(&json!({"identifier": user, "secret": password})),
                    "verify" => client
                        .post(format!("{base}/api/sso/v1/auth/verify-token"))
                        .json(&json!({"token": access})),
                    "refresh" => client
                        .post(format!("{base}/api/sso/v1/auth/refresh"))
                        .json(&json!({"refresh_token": refresh})),
                    "apikey-verify" => client
                        .post(format!("{base}/api/sso/v1/apikeys/verify"))
                        .json(&json!({"api_key": machine})),
                    "agent-auth" => client
                        .post(format!("{base}/api/sso/v1/agents/auth"))
                        .bearer_auth(agent_jwt(&machine, &agent_key)),
                    "oauth-cc" => {
                        let (id, secret) = machine.split_once(':').unwrap();
                        client
                            .post(format!("{base}/api/sso/v1/oauth/token"))
                            .basic_auth(id, Some(secret))
                            .form(&[("grant_type", "client_credentials")])
                    }
                    "oauth-code" => {
                        let (id, secret) = machine.split_once(':').unwrap();
                        client
                            .post(format!("{base}/api/sso/v1/oauth/token"))
                            .basic_auth(id, Some(secret))
                            .form(&[
                                ("grant_type", "authorization_code"),
                                ("code", code.as_deref().unwrap_or_default()),
                                ("redirect_uri", OAUTH_REDIRECT),
                                ("code_verifier", PKCE_VERIFIER),
                            ])
                    }
                    other => panic!("unknown scenario {other}"),
                };
                let status = match req.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        if scenario == "refresh" && s == 200 {
                            let v: Value = r.json().await.unwrap_or(Value::Null);
                            refresh = v["refresh_token"].as_str().unwrap_or_default().to_owned();
                        } else {
                            let _ = r.bytes().await;
                        }
                        s
                    }
                    Err(_) => 0,
                };
                latencies
                    .lock()
                    .unwrap()
                    .push(sent.elapsed().as_secs_f64() * 1000.0);
                *counts.lock().unwrap().entry(status).or_default() += 1;
                done.fetch_add(1, Ordering::Relaxed);
                if scenario == "burst-login" || Instant::now() >= deadline {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let mean_ms = lat.iter().sum::<f64>() / lat.len().max(1) as f64;
    println!(
        "{}",
        json!({
            "scenario": scenario,
            "concurrency": conc,
            "seconds": elapsed,
            "requests": n,
            "requests_per_sec": n as f64 / elapsed,
            "latency_ms": {"mean": mean_ms, "p50": pct(0.5), "p99": pct(0.99)},
            "status_counts": *counts.lock().unwrap(),
        })
    );
}

/// The redirect URI of the `oauth-code` scenario's client (never contacted).
const OAUTH_REDIRECT: &str = "http://127.0.0.1:9/cb";
/// RFC 7636 Appendix B's verifier and its S256 challenge.
const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A fresh authorization code for the first-party client `machine` (`id:secret`), as the
/// signed-in browser of `access` gets it (the authorization endpoint answers with a redirect).
async fn oauth_code(client: &reqwest::Client, base: &str, machine: &str, access: &str) -> String {
    let id = machine.split_once(':').unwrap().0;
    let r = client
        .get(format!(
            "{base}/api/sso/v1/oauth/authorize?response_type=code&client_id={id}\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid\
             &code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256"
        ))
        .header("cookie", format!("usso-access-token={access}"))
        .send()
        .await
        .expect("authorize");
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("authorize answered {}", r.status()))
        .to_owned();
    loc.split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .expect("a code")
        .to_owned()
}

/// Per-operation costs inside the deployment's own runtime, through the opt-in bench routes
/// (see `usso_edge::bench`): the full verification, the memoized one, the runtime's bare Ed25519
/// equation and `ed25519-dalek`'s `verify_strict`, and with `js` (workerd running
/// `tests/edge-bench/bench.mjs`) npm `jose`'s `jwtVerify` and a bare WebCrypto verify in the same
/// isolate. Measured in rounds: each round sends `n=1` and `n=K+1` to every route back to back,
/// so all see the same machine load; per-operation cost = (mean latency at K+1 - mean at 1) / K.
async fn bench_ratio(
    client: &reqwest::Client,
    base: &str,
    origin: &str,
    token: &str,
    k: u32,
    secs: u64,
    js: bool,
) {
    use usso_edge::bench::{VERIFY, VERIFY_BARE, VERIFY_CACHED, VERIFY_DPOP, VERIFY_STRICT};
    let mut routes = vec![
        ("full", VERIFY),
        ("cached", VERIFY_CACHED),
        ("bare", VERIFY_BARE),
        ("verify_strict", VERIFY_STRICT),
        ("full_with_dpop", VERIFY_DPOP),
        ("full_with_es256_dpop", VERIFY_DPOP),
    ];
    if js {
        routes.extend([
            ("jose", "/__jsbench/jose"),
            ("webcrypto", "/__jsbench/webcrypto"),
            ("node_crypto", "/__jsbench/node"),
        ]);
    }
    let jwks: Value = client
        .get(format!("{origin}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &usso_shared::encoding::b64url_decode(payload).expect("base64url payload"),
    )
    .expect("claims");
    // DPoP proofs for `POST` of the DPoP bench route (valid for 5 minutes): Ed25519, and ES256
    // (P-256, openid-client's and oauth4webapi's default).
    let htu = format!("{base}{VERIFY_DPOP}");
    let b64 = |v: &[u8]| usso_shared::encoding::b64url_encode(v);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let proof_claims =
        json!({"jti": format!("bench-{now}"), "htm": "POST", "htu": htu, "iat": now});
    let signed = |header: Value, sign: &dyn Fn(&[u8]) -> Vec<u8>| {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(proof_claims.to_string().as_bytes())
        );
        let sig = sign(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    };
    let ed_key = ed25519_dalek::SigningKey::from_bytes(&[77u8; 32]);
    let proof = signed(
        json!({"typ": "dpop+jwt", "alg": "EdDSA",
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(ed_key.verifying_key().as_bytes())}}),
        &|m| ed25519_dalek::Signer::sign(&ed_key, m).to_bytes().to_vec(),
    );
    let p256_key = p256::ecdsa::SigningKey::from_slice(&[77u8; 32]).expect("a P-256 scalar");
    let point = p256_key.verifying_key().to_encoded_point(false);
    let es256_proof = signed(
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256",
            "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))}}),
        &|m| {
            let s: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&p256_key, m);
            s.to_bytes().to_vec()
        },
    );
    let body = json!({ "token": token, "jwks": jwks, "issuer": claims["iss"],
                       "proof": proof, "htu": htu });
    let mut es256_body = body.clone();
    es256_body["proof"] = json!(es256_proof);
    let mut sums = vec![[0f64; 2]; routes.len()]; // per route: [n=1, n=K+1]
    let mut rounds = 0u32;
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline || rounds < 3 {
        for (i, (name, path)) in routes.iter().enumerate() {
            let body = if *name == "full_with_es256_dpop" {
                &es256_body
            } else {
                &body
            };
            for (j, n) in [1, k + 1].into_iter().enumerate() {
                let sent = Instant::now();
                let r = client
                    .post(format!("{base}{path}?n={n}"))
                    .json(body)
                    .send()
                    .await
                    .expect("bench request");
                assert_eq!(
                    r.status(),
                    200,
                    "{path}?n={n}: {}",
                    r.text().await.unwrap_or_default()
                );
                let _ = r.bytes().await;
                sums[i][j] += sent.elapsed().as_secs_f64();
            }
        }
        rounds += 1;
    }
    let per_op_us: serde_json::Map<String, Value> = routes
        .iter()
        .zip(&sums)
        .map(|((name, _), s)| {
            let us = (s[1] - s[0]) / f64::from(rounds) / f64::from(k) * 1e6;
            ((*name).to_owned(), json!(us))
        })
        .collect();
    let full = per_op_us["full"].as_f64().unwrap_or_default();
    let strict = per_op_us["verify_strict"].as_f64().unwrap_or_default();
    println!(
        "{}",
        json!({"scenario": "bench-ratio", "k": k, "rounds": rounds, "per_op_us": per_op_us,
               "full_verify_us": full, "bare_verify_strict_us": strict,
               "full_over_bare": full / strict,
               "status_counts": {"200": rounds * 2 * routes.len() as u32}})
    );
}

/// Whether answers tell known from unknown identifiers by time: `PAIRS` interleaved pairs of
/// requests, one for a registered identifier and one for an unknown one, each from its own
/// client address (the server must run with `USSO_TRUST_PROXY=true`, so the per-address and
/// per-identifier limits do not interfere): `request-otp`, and a password login with a wrong
/// password. Prints medians, quartiles and the median of the paired differences.
async fn timing(base: &str, pairs: usize) {
    let client = reqwest::Client::new();
    let password = "timing test password";
    let run = std::process::id();
    // Setup (not measured): the known accounts.
    for i in 0..pairs {
        let r = client
            .post(format!("{base}/api/sso/v1/auth/login"))
            .header("x-forwarded-for", format!("10.200.{}.{}", i / 250, i % 250))
            .json(&json!({"identifier": format!("known{i}-{run}@timing.test"), "secret": password, "register": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "setup login");
    }
    let timed = |path: &'static str, body: Value, ip: String| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        async move {
            let start = Instant::now();
            let r = client
                .post(url)
                .header("x-forwarded-for", ip)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            (start.elapsed().as_secs_f64() * 1000.0, status)
        }
    };
    let mut out = serde_json::Map::new();
    for (name, path) in [
        ("request_otp", "/api/sso/v1/auth/request-otp"),
        ("login_wrong_password", "/api/sso/v1/auth/login"),
    ] {
        let (mut known, mut unknown, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..pairs {
            let body = |who: String| {
                if name == "request_otp" {
                    json!({"identifier": who})
                } else {
                    json!({"identifier": who, "secret": "not the password"})
                }
            };
            let k = body(format!("known{i}-{run}@timing.test"));
            let u = body(format!("unknown{i}-{run}@timing.test"));
            let ip = |side: u8| format!("10.{}.{}.{}", 201 + side, i / 250, i % 250);
            // Alternate which goes first, so drift affects both sides alike.
            let ((tk, sk), (tu, su)) = if i % 2 == 0 {
                let a = timed(path, k, ip(0)).await;
                (a, timed(path, u, ip(1)).await)
            } else {
                let b = timed(path, u, ip(1)).await;
                (timed(path, k, ip(0)).await, b)
            };
            assert_eq!(sk, su, "{name}: known and unknown got different statuses");
            known.push(tk);
            unknown.push(tu);
            diffs.push(tk - tu);
        }
        out.insert(name.into(), paired_summary(known, unknown, diffs));
    }
    // API keys: a wrong secret for a live key id vs an unknown key id, on `apikeys/verify`.
    // One live key serves 15 pairs (a key id's failures are counted; 20 would be throttled).
    let mut keys = Vec::new();
    for k in 0..pairs.div_ceil(15) {
        let who = format!("known{k}-{run}@timing.test");
        let r: Value = client
            .post(format!("{base}/api/sso/v1/auth/login"))
            .header("x-forwarded-for", format!("10.210.{}.{}", k / 250, k % 250))
            .json(&json!({"identifier": who, "secret": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let made: Value = client
            .post(format!("{base}/api/sso/v1/apikeys"))
            .bearer_auth(r["access_token"].as_str().expect("setup login"))
            .json(&json!({"name": "timing", "scopes": []}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys.push(made["key"].as_str().expect("setup key").to_owned());
    }
    let (mut known, mut unknown, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let key = &keys[i / 15];
        let wrong = format!(
            "{}{}",
            &key[..key.len() - 1],
            if key.ends_with('A') { 'B' } else { 'A' }
        );
        let (other, _) = usso_shared::api_key::generate().unwrap();
        let path = "/api/sso/v1/apikeys/verify";
        let ip = |side: u8| format!("10.{}.{}.{}", 221 + side, i / 250, i % 250);
        let ((tk, sk), (tu, su)) = if i % 2 == 0 {
            let a = timed(path, json!({"api_key": wrong}), ip(0)).await;
            (a, timed(path, json!({"api_key": other}), ip(1)).await)
        } else {
            let b = timed(path, json!({"api_key": other}), ip(1)).await;
            (timed(path, json!({"api_key": wrong}), ip(0)).await, b)
        };
        assert_eq!((sk, su), (401, 401), "api keys: both refused alike");
        known.push(tk);
        unknown.push(tu);
        diffs.push(tk - tu);
    }
    out.insert(
        "api_key_wrong_secret_vs_unknown_id".into(),
        paired_summary(known, unknown, diffs),
    );
    println!("{}", json!({"scenario": "timing", "results": out}));
}

/// Times single Argon2id hashes with the default (OWASP) parameters, one at a time: the
/// baseline login throughput is cores / this time.
async fn hash_baseline(count: usize) {
    use usso_origin::authn::hasher::{Hasher, PasswordParams};
    let h = Hasher::new(PasswordParams::default(), 1, 1);
    h.hash("warm up the pool").await.unwrap();
    let start = Instant::now();
    for _ in 0..count {
        h.hash("load test password").await.unwrap();
    }
    let per = start.elapsed().as_secs_f64() / count as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{}",
        json!({"scenario": "hash-baseline", "hashes": count, "seconds_per_hash": per,
               "cores": cores, "baseline_logins_per_sec": cores as f64 / per})
    );
}

/// A fresh agent JWT as the Rust SDK makes it (`Ed25519`, `iss` = the agent, five minutes).
fn agent_jwt(agent: &str, key: &ed25519_dalek::SigningKey) -> String {
    use ed25519_dalek::Signer;
    use usso_shared::encoding::b64url_encode;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": agent, "scopes": [], "aud": "sso", "exp": now + 300, "nbf": now,
        "iat": now, "jti": usso_shared::random::hex_id().unwrap()});
    let signed = format!(
        "{}.{}",
        b64url_encode(br#"{"alg":"Ed25519","typ":"JWT"}"#),
        b64url_encode(claims.to_string().as_bytes())
    );
    let sig = key.sign(signed.as_bytes());
    format!("{signed}.{}", b64url_encode(&sig.to_bytes()))
}

/// Quartiles of both sides of paired timings and of their differences (ms).
fn paired_summary(mut known: Vec<f64>, mut unknown: Vec<f64>, mut diffs: Vec<f64>) -> Value {
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    json!({
        "pairs": diffs.len(),
        "known_ms": {"p25": q(&mut known, 0.25), "median": q(&mut known, 0.5), "p75": q(&mut known, 0.75)},
        "unknown_ms": {"p25": q(&mut unknown, 0.25), "median": q(&mut unknown, 0.5), "p75": q(&mut unknown, 0.75)},
        "median_paired_difference_ms": q(&mut diffs, 0.5),
        "paired_difference_iqr_ms": [q(&mut diffs, 0.25), q(&mut diffs, 0.75)],
    })
}
