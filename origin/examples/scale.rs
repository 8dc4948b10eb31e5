//! The authorization plane at scale (issue 13): seeds one tenant with N users (10 roles, 100
//! workspaces; each user holds 3 roles and 2 workspaces) and measures, over HTTP against the
//! real origin, a filtered page of 50 users, one user by id, and a password sign-in of a
//! user with 3 roles and 2 workspaces, for each N, on the embedded SQLite store and on the
//! Data API stand-in (tests/data_api/standin.py: a Python stand-in for MongoDB that scans; it
//! has no secondary indexes), side by side in one run.
//!
//! ```sh
//! cargo run --release -p usso-origin --example scale -- [SIZES] [BACKENDS]
//! #   SIZES    comma-separated user counts (default 1000,10000,100000)
//! #   BACKENDS sqlite,dataapi (default both)
//! ```
//! `SCALE_REPS` (default 40) sets how many rounds of reads are timed (sign-ins stay at ten:
//! the per-address sign-in limit would refuse more).
//!
//! Prints one JSON line per (backend, size) with the median of each operation in µs and the
//! ratios the issue's goals name. Users are inserted in bulk with one shared password hash
//! (hashing N passwords would take hours and measure nothing of interest).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};
use usso_origin::app::AppClock;
use usso_origin::config::Cli;
use usso_origin::identity::identifier::Identifier;
use usso_origin::identity::users::{self, IdentifierDoc, User};
use usso_origin::store::collections::{IDENTIFIERS, ROLES, USERS, WORKSPACES};
use usso_origin::store::docs::DocumentStore;

const API: &str = "/api/sso/v1";
const TENANT: &str = "org_default";
const PASSWORD: &str = "scale password 1";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("1000,10000,100000")
        .split(',')
        .map(|s| s.parse().expect("SIZES: numbers"))
        .collect();
    let backends: Vec<String> = args
        .get(2)
        .map(String::as_str)
        .unwrap_or("sqlite,dataapi")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in &backends {
        for &n in &sizes {
            let line = rt.block_on(run(backend, n));
            println!("{line}");
        }
    }
}

/// The Data API stand-in, as the tests start it.
struct Standin {
    child: Child,
    url: String,
    key: String,
}

impl Standin {
    fn start() -> Standin {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data_api/standin.py");
        let key = format!("scale-{}", usso_shared::random::hex_id().unwrap());
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--api-key", &key, "--exit-with-parent"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().unwrap();
        let mut url = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(u) = line.strip_prefix("data-api-standin listening on ") {
                url = u.trim().to_owned();
                break;
            }
        }
        assert!(!url.is_empty(), "the stand-in did not start");
        Standin { child, url, key }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

async fn run(backend: &str, n: usize) -> Value {
    let data = std::env::temp_dir().join(format!(
        "usso-scale-{}-{}",
        std::process::id(),
        usso_shared::random::hex_id().unwrap()
    ));
    let standin = (backend == "dataapi").then(Standin::start);
    let mut argv = vec![
        "usso-origin".to_owned(),
        "--listen=127.0.0.1:0".to_owned(),
        format!("--data-dir={}", data.display()),
        format!("--system-password={PASSWORD}"),
    ];
    if let Some(s) = &standin {
        argv.push(format!("--mongo-url={}", s.url));
        argv.push(format!("--mongo-api-key={}", s.key));
    }
    let cfg = Cli::try_parse_from(&argv).expect("settings").config;
    let listener = usso_origin::app::run::bind(&cfg).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_cfg = cfg.clone();
    let server = tokio::spawn(async move {
        usso_origin::app::run::serve(server_cfg, listener, AppClock::System, async {
            let _ = stop_rx.await;
        })
        .await
    });
    let c = reqwest::Client::new();
    let ready = Instant::now();
    while c.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "the origin did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // One registered user gives the password hash every seeded user shares.
    let r: Value = c
        .post(format!("{base}{API}/auth/register"))
        .header("x-tenant-id", TENANT)
        .json(&json!({"identifier": "first@scale.test", "secret": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_id = r["user"]["id"].as_str().expect("registered").to_owned();
    let stores = usso_origin::app::bootstrap::open(&cfg)
        .await
        .expect("stores");
    let docs = &stores.docs;
    let (first, _) = users::get(docs, TENANT, &first_id).await.unwrap().unwrap();
    let hash = first.password_hash.clone();

    let seed = Instant::now();
    let now = usso_shared::clock::Clock::now(&usso_shared::clock::SystemClock);
    let roles: Vec<(String, Value)> = (0..10)
        .map(|i| {
            (
                format!("role_{i}"),
                json!({"slug": format!("role_{i}"), "name": format!("Role {i}"),
                    "scopes": [format!("read:app/r{i}")], "is_active": true,
                    "created_at": now, "updated_at": now}),
            )
        })
        .collect();
    docs.insert_many(ROLES, TENANT, roles).await.unwrap();
    let workspaces: Vec<(String, Value)> = (0..100)
        .map(|i| {
            let id = format!("ws_{i:032x}");
            (
                id.clone(),
                json!({"id": id, "name": format!("Workspace {i}"), "is_active": true,
                    "created_by": "user:seed", "created_at": now, "updated_at": now}),
            )
        })
        .collect();
    docs.insert_many(WORKSPACES, TENANT, workspaces)
        .await
        .unwrap();
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(2000) {
        let (mut us, mut is) = (Vec::new(), Vec::new());
        for &i in chunk {
            let ident = Identifier::parse(&format!("user{i}@scale.test"), None).unwrap();
            let mut u = User::new(TENANT, &ident, hash.clone(), now - (n - i) as i64).unwrap();
            u.name = Some(format!("User {i}"));
            u.roles = (0..3).map(|k| format!("role_{}", (i + k) % 10)).collect();
            for w in [i % 100, (i + 7) % 100] {
                u.join_workspace(&format!("ws_{w:032x}"), vec![]);
            }
            let idoc = IdentifierDoc {
                user_id: u.id.clone(),
                kind: ident.kind,
                value: ident.value.clone(),
                verified: true,
                verified_at: Some(u.created_at),
                created_at: u.created_at,
            };
            is.push((ident.key(), users::encode_identifier(&idoc).unwrap()));
            ids.push((u.id.clone(), ident.value.clone()));
            us.push((u.id.clone(), serde_json::to_value(&u).unwrap()));
        }
        docs.insert_many(USERS, TENANT, us).await.unwrap();
        docs.insert_many(IDENTIFIERS, TENANT, is).await.unwrap();
    }
    let seeded_in = seed.elapsed().as_secs_f64();

    // An administrator (the system account) reads; a seeded user signs in.
    let login = |who: String| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let t0 = Instant::now();
            let r = c
                .post(format!("{base}{API}/auth/login"))
                .header("x-tenant-id", TENANT)
                .json(&json!({"identifier": who, "secret": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "login");
            // The clock stops when the last byte arrives: parsing is the client's cost.
            let body = r.bytes().await.unwrap();
            let t = t0.elapsed().as_micros();
            let v: Value = serde_json::from_slice(&body).unwrap();
            (t, v)
        }
    };
    let (_, sys) = login("system".into()).await;
    let token = sys["access_token"].as_str().unwrap().to_owned();
    let get = |path: String| {
        let (c, base, token) = (c.clone(), base.clone(), token.clone());
        async move {
            let t0 = Instant::now();
            let r = c
                .get(format!("{base}{API}{path}"))
                .header("x-tenant-id", TENANT)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            // The clock stops when the last byte arrives: parsing is the client's cost.
            let body = r.bytes().await.unwrap();
            let t = t0.elapsed().as_micros();
            let v: Value = serde_json::from_slice(&body).unwrap();
            (t, v)
        }
    };
    let reps: usize = std::env::var("SCALE_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let (mut by_id, mut page, mut page_ws, mut logins) = (vec![], vec![], vec![], vec![]);
    let (mut store_get, mut store_page) = (vec![], vec![]);
    for k in 0..reps {
        let (uid, email) = &ids[(k * 7919) % n];
        by_id.push(get(format!("/users/{uid}")).await.0);
        // The same two reads in process, through the store alone (another connection).
        let (other, _) = &ids[(k * 7907 + 13) % n];
        let t0 = Instant::now();
        users::get(docs, TENANT, other).await.unwrap().unwrap();
        users::identifiers_of(docs, TENANT, other).await.unwrap();
        store_get.push(t0.elapsed().as_micros());
        // The page's store work in process: the users query and their identifiers.
        let t0 = Instant::now();
        let listed = usso_origin::identity::manage::list_in(
            docs,
            TENANT,
            usso_origin::identity::manage::UserFilter {
                identifier_type: None,
                role: Some(format!("role_{}", (k + 5) % 10)),
                is_active: None,
                workspace_id: None,
                search: None,
                sort: usso_origin::identity::manage::UserSort::CreatedDesc,
                offset: 0,
                limit: 50,
            },
        )
        .await
        .unwrap();
        store_page.push(t0.elapsed().as_micros());
        assert_eq!(listed.items.len(), 50.min(n * 3 / 10));
        let (t, v) = get(format!("/users?role=role_{}&limit=50", k % 10)).await;
        assert_eq!(v["items"].as_array().unwrap().len(), 50.min(n * 3 / 10));
        page.push(t);
        page_ws.push(
            get(format!("/users?workspace_id=ws_{:032x}&limit=50", k % 100))
                .await
                .0,
        );
        // Ten sign-ins whatever SCALE_REPS (the per-address sign-in limit would refuse more).
        if k % 4 == 0 && k < 40 {
            let (t, v) = login(email.clone()).await;
            let claims = v["access_token"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap()
                .to_owned();
            let claims: Value =
                serde_json::from_slice(&usso_shared::encoding::b64url_decode(&claims).unwrap())
                    .unwrap();
            assert_eq!(claims["roles"].as_array().unwrap().len(), 3);
            logins.push(t);
        }
    }
    let (by_id, page, page_ws, logins, store_get, store_page) = (
        median(by_id),
        median(page),
        median(page_ws),
        median(logins),
        median(store_get),
        median(store_page),
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    drop(standin);
    let _ = std::fs::remove_dir_all(&data);
    json!({
        "backend": backend,
        "users": n,
        "seeded_in_s": (seeded_in * 10.0).round() / 10.0,
        "get_user_us": by_id,
        "store_get_user_us": store_get,
        "page_by_role_us": page,
        "store_page_by_role_us": store_page,
        "page_by_workspace_us": page_ws,
        "login_us": logins,
        "page_over_get": (page as f64 / by_id as f64 * 100.0).round() / 100.0,
    })
}
