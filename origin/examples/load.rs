//! A small load generator for the origin (and any deployment of the token routes).
//!
//! ```sh
//! cargo run --release -p usso-origin --example load -- BASE_URL SCENARIO CONCURRENCY SECONDS
//! ```
//! Scenarios: `login` (distinct pre-registered users), `verify`, `refresh`, `burst-login`
//! (CONCURRENCY logins at once, one each). Prints one JSON line with requests/s and status counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: load BASE_URL login|verify|refresh|burst-login CONCURRENCY SECONDS");
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let scenario = args[2].clone();
    if scenario == "hash-baseline" {
        return hash_baseline(args[3].parse().expect("COUNT")).await;
    }
    let conc: usize = args[3].parse().expect("CONCURRENCY");
    let secs: u64 = args[4].parse().expect("SECONDS");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();
    let password = "load test password";

    // Setup: one user per worker, registered up front (not measured).
    let users: Vec<String> = (0..conc)
        .map(|i| format!("load{i}-{}@bench.test", std::process::id()))
        .collect();
    let mut sessions = Vec::new();
    for u in &users {
        let r: Value = client
            .post(format!("{base}/api/sso/v1/auth/login"))
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

    let counts = Arc::new(Mutex::new(BTreeMap::<u16, u64>::new()));
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
        tasks.push(tokio::spawn(async move {
            let mut refresh = refresh;
            loop {
                let req = match scenario.as_str() {
                    "login" | "burst-login" => client
                        .post(format!("{base}/api/sso/v1/auth/login"))
                        .json(&json!({"identifier": user, "secret": password})),
                    "verify" => client
                        .post(format!("{base}/api/sso/v1/auth/verify-token"))
                        .json(&json!({"token": access})),
                    "refresh" => client
                        .post(format!("{base}/api/sso/v1/auth/refresh"))
                        .json(&json!({"refresh_token": refresh})),
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
    println!(
        "{}",
        json!({
            "scenario": scenario,
            "concurrency": conc,
            "seconds": elapsed,
            "requests": n,
            "requests_per_sec": n as f64 / elapsed,
            "status_counts": *counts.lock().unwrap(),
        })
    );
}

/// Times single Argon2id hashes with the default (OWASP) parameters, one at a time: the
/// baseline login throughput is cores / this time.
async fn hash_baseline(count: usize) {
    use usso_origin::password::{Hasher, PasswordParams};
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
