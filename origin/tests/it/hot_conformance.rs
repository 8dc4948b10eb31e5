//! ONE conformance suite per capability of the origin's hot store (publishing values, the
//! session index with rotation and revocation, rate-limit counters, one-time values), run
//! against every backend: the embedded SQLite store, a real Redis (Debian's `redis-server`)
//! through the native client, and Upstash REST through the origin's own gateway (which speaks
//! the Upstash protocol to a real Redis). A backend that passes behaves the same to every flow.
//!
//! Time: deadlines come from the caller's clock on every backend (Redis enforces them on its
//! own), so "already over" is tested by writing with a `now` in the past, never by sleeping.

use futures_util::future::join_all;
use usso_edge::upstash_store::RedisHotStore;
use usso_origin::store::hot::{OriginHot, SqliteHot};
use usso_origin::store::redis::NativeRedis;
use usso_shared::claims::Grant;
use usso_shared::clock::{Clock, SystemClock};
use usso_shared::rotation::{
    jti_hash, seal_successor, Outcome, RotationPolicy, SessionRecord, Successor,
};
use usso_shared::transport::ReqwestTransport;
use usso_shared::upstash::Upstash;

use crate::support::{free_port, temp_dir, RedisServer, Server};

/// Keys of one run (the gateway confines clients to `usso:`).
fn k(run: &str, name: &str) -> String {
    format!("usso:conformance:{run}:{name}")
}

async fn publish<H: OriginHot>(h: &H, run: &str) {
    let (a, missing) = (k(run, "pub:a"), k(run, "pub:missing"));
    h.set(&a, "one").await.unwrap();
    assert_eq!(
        h.get_many(&[a.clone(), missing.clone()]).await.unwrap(),
        vec![Some("one".to_owned()), None]
    );
    // Overwrites; any text (JSON, unicode) round-trips unchanged.
    let text = r#"{"name":"Zoë 🦀","n":[1,2]}"#;
    h.set(&a, text).await.unwrap();
    assert_eq!(
        h.get_many(std::slice::from_ref(&a)).await.unwrap(),
        vec![Some(text.to_owned())]
    );
    assert_eq!(h.get_many(&[]).await.unwrap(), Vec::<Option<String>>::new());
    // Unset removes; unsetting what is not there is no error.
    h.unset(&a).await.unwrap();
    assert_eq!(
        h.get_many(std::slice::from_ref(&a)).await.unwrap(),
        vec![None]
    );
    h.unset(&missing).await.unwrap();
}

fn record(tenant: &str, sid: &str, subject: &str, jti: &str, now: i64) -> SessionRecord {
    let mut r = SessionRecord::new(sid, tenant, subject, jti, now, &RotationPolicy::default());
    r.user_agent = Some("conformance/1.0".into());
    r.ip = Some("203.0.113.9".into());
    r
}

fn successor(presented_jti: &str, sid: &str, next_jti: &str) -> Successor {
    Successor {
        jti_hash: jti_hash(next_jti),
        sealed: seal_successor(presented_jti, sid, &format!("token-{next_jti}")).unwrap(),
    }
}

async fn sessions<H: OriginHot>(h: &H, run: &str, now: i64) {
    let (t, other_t) = (format!("t_{run}"), format!("u_{run}"));
    let (s1, s2, s3) = (
        format!("s1_{run}"),
        format!("s2_{run}"),
        format!("s3_{run}"),
    );
    let first = record(&t, &s1, "alice", "j0", now - 20);
    h.put_session(&first).await.unwrap();
    h.put_session(&record(&t, &s2, "alice", "k0", now - 10))
        .await
        .unwrap();
    h.put_session(&record(&other_t, &s3, "alice", "m0", now))
        .await
        .unwrap();

    // Read back as written; listed per tenant and subject, newest first.
    assert_eq!(h.session(&t, &s1).await.unwrap(), Some(first.clone()));
    assert_eq!(
        h.session(&other_t, &s1).await.unwrap(),
        None,
        "tenants apart"
    );
    let ids = |v: Vec<SessionRecord>| v.into_iter().map(|r| r.session_id).collect::<Vec<_>>();
    assert_eq!(
        ids(h.sessions_of(&t, "alice").await.unwrap()),
        vec![s2.clone(), s1.clone()]
    );
    assert_eq!(
        ids(h.sessions_of(&other_t, "alice").await.unwrap()),
        vec![s3.clone()]
    );
    assert!(h.sessions_of(&t, "bob").await.unwrap().is_empty());

    // Rotation: the current token moves on; the previous one within the grace window gets the
    // same sealed successor; after it, it is reuse and the session ends.
    let next = successor("j0", &s1, "j1");
    let (o, after) = h
        .rotate(&t, &s1, &jti_hash("j0"), &next, 30, now)
        .await
        .unwrap();
    assert_eq!(o, Outcome::Rotated);
    let after = after.unwrap();
    assert_eq!(
        (after.generation, after.current.as_str()),
        (1, next.jti_hash.as_str())
    );
    assert_eq!(after.previous.as_deref(), Some(jti_hash("j0").as_str()));
    let other = successor("j0", &s1, "j1-racing");
    let (o, _) = h
        .rotate(&t, &s1, &jti_hash("j0"), &other, 30, now + 30)
        .await
        .unwrap();
    assert_eq!(
        o,
        Outcome::Replayed {
            sealed: next.sealed.clone()
        },
        "grace retry: the first successor, not a second one"
    );
    let (o, after) = h
        .rotate(&t, &s1, &jti_hash("j0"), &other, 30, now + 31)
        .await
        .unwrap();
    assert_eq!(o, Outcome::Reused);
    assert!(after.unwrap().revoked_at.is_some());
    let (o, _) = h
        .rotate(
            &t,
            &s1,
            &jti_hash("j1"),
            &successor("j1", &s1, "j2"),
            30,
            now + 32,
        )
        .await
        .unwrap();
    assert_eq!(o, Outcome::Revoked, "the whole lineage ended");

    // Revocation is idempotent and keeps the first reason and time.
    let r = h.revoke(&t, &s2, "logout", now).await.unwrap().unwrap();
    assert_eq!(
        (r.revoked_at, r.revoked_reason.as_deref()),
        (Some(now), Some("logout"))
    );
    let again = h.revoke(&t, &s2, "other", now + 5).await.unwrap().unwrap();
    assert_eq!(
        (again.revoked_at, again.revoked_reason.as_deref()),
        (Some(now), Some("logout"))
    );
    assert_eq!(h.revoke(&t, "no-such", "logout", now).await.unwrap(), None);
    let (o, _) = h
        .rotate(
            &t,
            "no-such",
            &jti_hash("x"),
            &successor("x", "no-such", "y"),
            30,
            now,
        )
        .await
        .unwrap();
    assert_eq!(o, Outcome::NotFound);
    // Revoked sessions stay listed (the sessions page shows them as ended).
    assert!(h
        .sessions_of(&t, "alice")
        .await
        .unwrap()
        .iter()
        .all(|r| r.revoked_at.is_some()));

    // Past its absolute lifetime a session does not rotate.
    let short = RotationPolicy {
        absolute_lifetime_secs: 60,
        ..RotationPolicy::default()
    };
    let s4 = format!("s4_{run}");
    h.put_session(&SessionRecord::new(&s4, &t, "carol", "c0", now, &short))
        .await
        .unwrap();
    let (o, _) = h
        .rotate(
            &t,
            &s4,
            &jti_hash("c0"),
            &successor("c0", &s4, "c1"),
            30,
            now + 61,
        )
        .await
        .unwrap();
    assert_eq!(o, Outcome::Expired);

    // A live session's grant changes (switching workspace) and rotation keeps it; a revoked
    // or unknown session's does not.
    let s6 = format!("s6_{run}");
    h.put_session(&record(&t, &s6, "erin", "e0", now))
        .await
        .unwrap();
    let grant = Grant {
        sub: "erin".into(),
        workspace_id: Some("ws_1".into()),
        roles: vec!["editor".into()],
        scopes: vec!["read:blog/posts?workspace_id=ws_1".into()],
        ..Grant::default()
    };
    assert!(h.set_grant(&t, &s6, &grant).await.unwrap());
    assert_eq!(h.session(&t, &s6).await.unwrap().unwrap().grant, grant);
    let (o, after) = h
        .rotate(
            &t,
            &s6,
            &jti_hash("e0"),
            &successor("e0", &s6, "e1"),
            30,
            now + 1,
        )
        .await
        .unwrap();
    assert_eq!(o, Outcome::Rotated);
    let after = after.unwrap();
    assert_eq!((after.grant, after.generation), (grant.clone(), 1));
    let (tr, sr) = (&t, &s6);
    let switched = join_all((0..4).map(|i| {
        let g = Grant {
            workspace_id: Some(format!("ws_{i}")),
            ..grant.clone()
        };
        async move { h.set_grant(tr, sr, &g).await }
    }))
    .await;
    assert!(
        switched.iter().all(|r| matches!(r, Ok(true))),
        "{switched:?}"
    );
    let last = h.session(&t, &s6).await.unwrap().unwrap();
    assert_eq!(last.generation, 1, "the rest of the record is untouched");
    assert!(last.grant.workspace_id.is_some());
    h.revoke(&t, &s6, "logout", now + 2).await.unwrap();
    assert!(!h.set_grant(&t, &s6, &grant).await.unwrap(), "revoked");
    assert!(
        !h.set_grant(&t, "no-such", &grant).await.unwrap(),
        "unknown"
    );

    // Parallel presentations of one token: exactly one rotation, the rest replays.
    let s5 = format!("s5_{run}");
    h.put_session(&record(&t, &s5, "dan", "d0", now))
        .await
        .unwrap();
    let presented = jti_hash("d0");
    let racers: Vec<_> = (0..12)
        .map(|i| successor("d0", &s5, &format!("d1-{i}")))
        .collect();
    let outcomes = join_all(
        racers
            .iter()
            .map(|n| h.rotate(&t, &s5, &presented, n, 30, now + 1)),
    )
    .await;
    let rotated = outcomes
        .iter()
        .filter(|r| matches!(r, Ok((Outcome::Rotated, _))))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|r| matches!(r, Ok((Outcome::Replayed { .. }, _))))
        .count();
    assert_eq!((rotated, replayed), (1, 11), "{outcomes:?}");
}

async fn rate_limits<H: OriginHot>(h: &H, run: &str, now: i64) {
    let (c, d) = (k(run, "rl:c"), k(run, "rl:d"));
    for n in 1..=3u64 {
        let (count, reset) = h.hit(&c, 60, now).await.unwrap();
        assert_eq!(count, n);
        assert!(
            (now + 1..=now + 60).contains(&reset),
            "window end {reset} for now {now}"
        );
    }
    assert_eq!(h.hit(&d, 60, now).await.unwrap().0, 1, "counters apart");
    h.clear(&[c.clone(), k(run, "rl:never")]).await.unwrap();
    assert_eq!(h.hit(&c, 60, now).await.unwrap().0, 1, "cleared");
    h.clear(&[]).await.unwrap();

    // A window that is over starts again at one.
    let e = k(run, "rl:e");
    assert_eq!(h.hit(&e, 10, now - 100).await.unwrap(), (1, now - 90));
    assert_eq!(h.hit(&e, 10, now).await.unwrap().0, 1);

    // Parallel hits are each counted once.
    let f = k(run, "rl:f");
    let mut counts: Vec<u64> = join_all((0..40).map(|_| h.hit(&f, 60, now)))
        .await
        .into_iter()
        .map(|r| r.unwrap().0)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=40).collect::<Vec<u64>>());
}

async fn one_time_values<H: OriginHot>(h: &H, run: &str, now: i64) {
    let v = k(run, "ot:v");
    h.put_expiring(&v, "first", 300, now).await.unwrap();
    assert_eq!(h.get_live(&v, now).await.unwrap().as_deref(), Some("first"));
    h.put_expiring(&v, "second", 300, now).await.unwrap();
    assert_eq!(
        h.get_live(&v, now + 1).await.unwrap().as_deref(),
        Some("second")
    );
    h.remove(&v).await.unwrap();
    assert_eq!(h.get_live(&v, now).await.unwrap(), None);
    h.remove(&v).await.unwrap();
    // Written with a deadline already past: never returned.
    let old = k(run, "ot:old");
    h.put_expiring(&old, "stale", 10, now - 100).await.unwrap();
    assert_eq!(h.get_live(&old, now).await.unwrap(), None);
    // Plain values and one-time values do not see each other's keys' absence as presence.
    assert_eq!(h.get_live(&k(run, "ot:none"), now).await.unwrap(), None);
    let big = "é".repeat(4096);
    h.put_expiring(&v, &big, 60, now).await.unwrap();
    assert_eq!(h.get_live(&v, now).await.unwrap(), Some(big));
}

async fn conformance<H: OriginHot>(h: &H) {
    let run = usso_shared::random::hex_id().unwrap();
    let now = SystemClock.now();
    publish(h, &run).await;
    sessions(h, &run, now).await;
    rate_limits(h, &run, now).await;
    one_time_values(h, &run, now).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_sqlite_conforms() {
    let dir = temp_dir("hot-sqlite");
    let h = SqliteHot::open(&dir.join("hot.db")).unwrap();
    conformance(&h).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_redis_conforms() {
    let redis = RedisServer::start();
    let h = RedisHotStore::new(NativeRedis::connect(&redis.url()).await.unwrap());
    conformance(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_rest_through_the_gateway_conforms() {
    const TOKEN: &str = "conformance-gateway-token-0123456789";
    let redis = RedisServer::start();
    let data = temp_dir("hot-upstash");
    let s = Server::start(
        &data,
        free_port(),
        &[
            ("USSO_REDIS_URL", &redis.url()),
            ("USSO_GATEWAY_TOKEN", TOKEN),
        ],
    );
    let h = RedisHotStore::new(Upstash::new(
        &s.url("/redis"),
        TOKEN,
        ReqwestTransport::new(std::time::Duration::from_secs(5)).unwrap(),
    ));
    conformance(&h).await;
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}
