//! ONE conformance suite for the document-store trait, run against every backend: the embedded
//! SQLite store, and MongoDB through the Data API. No MongoDB server can be installed on these
//! machines, so the Data API backend runs against the STAND-IN `tests/data_api/standin.py` (an
//! implementation of the documented Data API request and response formats) and, in addition,
//! against a real Data API endpoint when `USSO_TEST_MONGO_DATA_API_URL` is set (with
//! `USSO_TEST_MONGO_DATA_API_KEY`, or `USSO_TEST_MONGO_USER` + `USSO_TEST_MONGO_PASSWORD`, and
//! optionally `USSO_TEST_MONGO_DATA_SOURCE` / `USSO_TEST_MONGO_DATABASE`; see docs/mongodb.md).

use std::sync::Arc;
use std::time::Duration;

use crate::support::{temp_dir, DataApiStandin};
use serde_json::{json, Value};
use usso_origin::store::docs::{Cond, DocumentStore, Query, Sort, SqliteDocs, TENANTS};
use usso_origin::store::mongo::MongoDocs;
use usso_shared::data_api::{Auth, DataApi, Target};
use usso_shared::transport::ReqwestTransport;
use usso_shared::ErrorCode;

fn data_api(url: &str, auth: Auth, source: &str, database: &str, timeout: u64) -> MongoDocs {
    MongoDocs::new(DataApi::new(
        Target {
            base_url: url.to_owned(),
            data_source: source.to_owned(),
            database: database.to_owned(),
        },
        auth,
        ReqwestTransport::new(Duration::from_secs(timeout)).unwrap(),
    ))
}

fn standin_docs(s: &DataApiStandin, timeout: u64) -> MongoDocs {
    data_api(
        &s.url,
        Auth::ApiKey(s.api_key.clone()),
        "mongodb-atlas",
        "usso_test",
        timeout,
    )
}

/// A body that exercises the type mapping: 64-bit integers, doubles, unicode, nesting.
fn rich_body(n: i64) -> Value {
    json!({
        "n": n,
        "big": i64::MAX,
        "neg": i64::MIN,
        "small": -7,
        "ratio": 1.5,
        "whole_double": 2.0,
        "name": "Zoë 🦀 \u{4e2d}",
        "flag": true,
        "none": null,
        "tags": ["a", "b", {"deep": [1, 2.5, "x"]}],
        "nested": {"a": {"b": {"c": "d"}}},
    })
}

/// The suite. `tag` keeps runs apart on a shared real endpoint.
async fn conformance<D: DocumentStore>(d: Arc<D>, tag: &str) {
    let coll = "conformance";
    let (a, b) = (format!("t{tag}a"), format!("t{tag}b"));

    // Absent, insert, read back with every type intact.
    assert!(d.get(coll, &a, "x").await.unwrap().is_none());
    let doc = d.insert(coll, &a, "x", rich_body(1)).await.unwrap();
    assert_eq!((doc.id.as_str(), doc.version), ("x", 1));
    let back = d.get(coll, &a, "x").await.unwrap().unwrap();
    assert_eq!(back.body, rich_body(1));
    assert_eq!(back.version, 1);
    // A duplicate id is a conflict, and changes nothing.
    let e = d
        .insert(coll, &a, "x", json!({"other": 1}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict);
    assert_eq!(
        d.get(coll, &a, "x").await.unwrap().unwrap().body,
        rich_body(1)
    );

    // Optimistic concurrency.
    let v2 = d.replace(coll, &a, "x", rich_body(2), 1).await.unwrap();
    assert_eq!(v2.version, 2);
    let e = d.replace(coll, &a, "x", rich_body(3), 1).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict);
    let e = d
        .replace(coll, &a, "missing", rich_body(3), 1)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound);
    assert_eq!(
        d.get(coll, &a, "x").await.unwrap().unwrap().body,
        rich_body(2)
    );

    // Upsert inserts, then overwrites with a new version.
    let u1 = d.upsert(coll, &a, "u", json!({"k": "v1"})).await.unwrap();
    assert_eq!(u1.version, 1);
    let u2 = d.upsert(coll, &a, "u", json!({"k": "v2"})).await.unwrap();
    assert_eq!(u2.version, 2);
    assert_eq!(
        d.get(coll, &a, "u").await.unwrap().unwrap().body,
        json!({"k": "v2"})
    );

    // Tenant isolation: the same id in another tenant is another document.
    d.insert(coll, &b, "x", json!({"tenant": "b"}))
        .await
        .unwrap();
    assert_eq!(
        d.get(coll, &a, "x").await.unwrap().unwrap().body,
        rich_body(2)
    );
    assert!(d.delete(coll, &b, "x").await.unwrap());
    assert!(!d.delete(coll, &b, "x").await.unwrap());
    assert!(d.get(coll, &a, "x").await.unwrap().is_some());

    // Field names MongoDB reserves are refused by every backend.
    let e = d
        .insert(coll, &a, "bad", json!({"$where": "1"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    let e = d
        .insert(coll, &a, "bad", json!({"ok": {"$gt": 1}}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);

    // find: equality on strings, integers and booleans, tenant-scoped, paged, newest first.
    let list = "listing";
    for i in 0..7i64 {
        let body = json!({"kind": if i % 2 == 0 { "even" } else { "odd" }, "i": i, "on": i < 3});
        d.insert(list, &a, &format!("d{i}"), body).await.unwrap();
        d.insert(list, &b, &format!("d{i}"), json!({"kind": "even", "i": i}))
            .await
            .unwrap();
    }
    let even = d
        .find(list, &a, &[("kind", json!("even"))], 0, 100)
        .await
        .unwrap();
    assert_eq!(even.total, 4);
    let mut ids: Vec<_> = even.items.iter().map(|x| x.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["d0", "d2", "d4", "d6"]);
    let by_int = d.find(list, &a, &[("i", json!(5))], 0, 10).await.unwrap();
    assert_eq!((by_int.total, by_int.items[0].id.as_str()), (1, "d5"));
    let both = d
        .find(
            list,
            &a,
            &[("kind", json!("even")), ("on", json!(true))],
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(both.total, 2);
    let none = d
        .find(list, &a, &[("kind", json!("none"))], 0, 10)
        .await
        .unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
    let page1 = d.find(list, &a, &[], 0, 3).await.unwrap();
    let page2 = d.find(list, &a, &[], 3, 3).await.unwrap();
    let page3 = d.find(list, &a, &[], 6, 3).await.unwrap();
    assert_eq!(
        (
            page1.total,
            page1.items.len(),
            page2.items.len(),
            page3.items.len()
        ),
        (7, 3, 3, 1)
    );
    let mut all: Vec<_> = [page1, page2, page3]
        .iter()
        .flat_map(|p| p.items.iter().map(|x| x.id.clone()))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 7, "pages do not overlap");
    // The most recently written comes first (timestamps are in milliseconds).
    tokio::time::sleep(Duration::from_millis(20)).await;
    let d3 = d.get(list, &a, "d3").await.unwrap().unwrap();
    d.replace(
        list,
        &a,
        "d3",
        json!({"kind": "odd", "i": 3, "touched": true}),
        d3.version,
    )
    .await
    .unwrap();
    let first = d.find(list, &a, &[], 0, 1).await.unwrap();
    assert_eq!(first.items[0].id, "d3");

    // Concurrency: 50 writers with the same expected version, exactly one wins; 50 inserts of
    // one id, exactly one succeeds.
    let race = d.insert(coll, &a, "race", json!({"w": -1})).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..50 {
        let (d, a) = (d.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            d.replace(coll, &a, "race", json!({"w": w}), race.version)
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e.code(), ErrorCode::Conflict),
        }
    }
    assert_eq!(won, 1, "exactly one compare-and-set wins");
    let mut tasks = Vec::new();
    for w in 0..50 {
        let (d, a) = (d.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            d.insert(coll, &a, "once", json!({"w": w})).await
        }));
    }
    let mut inserted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => inserted += 1,
            Err(e) => assert_eq!(e.code(), ErrorCode::Conflict),
        }
    }
    assert_eq!(inserted, 1, "exactly one insert of one id");

    queries(&*d, &a, &b).await;

    // Tenant records.
    for t in [&a, &b] {
        d.upsert(TENANTS, t, t, json!({"name": t})).await.unwrap();
    }
    d.upsert(TENANTS, &a, "not-a-tenant-record", json!({}))
        .await
        .unwrap();
    let tenants = d.tenants().await.unwrap();
    assert!(tenants.contains(&a) && tenants.contains(&b), "{tenants:?}");
    assert!(!tenants.iter().any(|t| t == "not-a-tenant-record"));
}

/// Typed queries: array membership, presence, a case-folded text search over several fields,
/// sorting by a body field, paging, and conditions combined; never across tenants.
async fn queries<D: DocumentStore>(d: &D, a: &str, b: &str) {
    let coll = "people";
    let people = [
        (
            "p1",
            json!({"name": "Ada Lovelace", "email": "ada@example.com", "roles": ["admin", "dev"], "age": 36, "active": true}),
        ),
        (
            "p2",
            json!({"name": "Alan Turing", "email": null, "roles": ["dev"], "age": 41, "active": true}),
        ),
        (
            "p3",
            json!({"name": "Grace (Hopper)", "phone": "+15550001", "roles": [], "age": 85, "active": false}),
        ),
        (
            "p4",
            json!({"name": "Edsger", "email": "ED@example.org", "roles": "admin", "age": 72, "active": true}),
        ),
    ];
    for (id, body) in &people {
        d.insert(coll, a, id, body.clone()).await.unwrap();
    }
    d.insert(
        coll,
        b,
        "p1",
        json!({"name": "Ada of b", "roles": ["admin"]}),
    )
    .await
    .unwrap();
    let q = |conds: Vec<Cond>, sort: Sort, offset: u64, limit: u64| Query {
        conds,
        sort,
        offset,
        limit,
    };
    let by_age = Sort::By {
        field: "age".into(),
        descending: false,
    };
    let ids = |p: &usso_origin::store::docs::Page| -> Vec<String> {
        p.items.iter().map(|d| d.id.clone()).collect()
    };
    // Membership in an array field (a string field equal to the value is not an array).
    let page = d
        .query(
            coll,
            a,
            &q(
                vec![Cond::Has("roles".into(), json!("admin"))],
                by_age.clone(),
                0,
                10,
            ),
        )
        .await
        .unwrap();
    assert_eq!((ids(&page), page.total), (vec!["p1".to_owned()], 1));
    let page = d
        .query(
            coll,
            a,
            &q(
                vec![Cond::Has("roles".into(), json!("dev"))],
                by_age.clone(),
                0,
                10,
            ),
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), ["p1", "p2"]);
    // Presence: null and missing are both absent.
    let page = d
        .query(
            coll,
            a,
            &q(vec![Cond::Present("email".into())], by_age.clone(), 0, 10),
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), ["p1", "p4"]);
    // Text over several fields, ASCII case folded, pattern characters taken literally.
    let text = |t: &str| {
        Cond::Text(
            vec!["name".into(), "email".into(), "phone".into()],
            t.into(),
        )
    };
    for (needle, want) in [
        ("ada", vec!["p1"]),
        ("EXAMPLE", vec!["p1", "p4"]),
        ("(hopper)", vec!["p3"]),
        ("555", vec!["p3"]),
        (".*", vec![]),
        ("a.a", vec![]),
    ] {
        let page = d
            .query(coll, a, &q(vec![text(needle)], by_age.clone(), 0, 10))
            .await
            .unwrap();
        assert_eq!(ids(&page), want, "search {needle:?}");
    }
    // Sorting both ways, with paging and the total of all matches.
    let desc = Sort::By {
        field: "age".into(),
        descending: true,
    };
    let page = d.query(coll, a, &q(vec![], desc, 1, 2)).await.unwrap();
    assert_eq!(
        (ids(&page), page.total),
        (vec!["p4".to_owned(), "p2".to_owned()], 4)
    );
    // Conditions combined.
    let page = d
        .query(
            coll,
            a,
            &q(
                vec![
                    Cond::Eq("active".into(), json!(true)),
                    Cond::Has("roles".into(), json!("dev")),
                    text("turing"),
                ],
                Sort::Newest,
                0,
                10,
            ),
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), ["p2"]);
    // The other tenant's document is never seen.
    let page = d
        .query(
            coll,
            b,
            &q(
                vec![Cond::Has("roles".into(), json!("admin"))],
                by_age,
                0,
                10,
            ),
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), ["p1"]);
    assert_eq!(page.items[0].body["name"], "Ada of b");
    // A field name that could smuggle SQL or an operator is refused before any backend sees it.
    let bad = d
        .query(
            coll,
            a,
            &q(
                vec![Cond::Present("x') OR 1=1 --".into())],
                Sort::Newest,
                0,
                10,
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), ErrorCode::InternalError);

    // Membership of live documents, paged and counted (the embedded store answers this from
    // its term index, kept by triggers): soft-deleted documents, changed and deleted ones.
    let members = "members";
    let mut batch = Vec::new();
    for i in 0..7 {
        let mut body = json!({"roles": ["r1", format!("x{i}")], "created_at": i});
        if i == 6 {
            body["deleted_at"] = json!(99);
        }
        batch.push((format!("m{i}"), body));
    }
    assert_eq!(d.insert_many(members, a, batch).await.unwrap(), 7);
    let live_r1 = |offset: u64, limit: u64| Query {
        conds: vec![
            Cond::Eq("deleted_at".into(), serde_json::Value::Null),
            Cond::Has("roles".into(), json!("r1")),
        ],
        sort: Sort::By {
            field: "created_at".into(),
            descending: true,
        },
        offset,
        limit,
    };
    let page = d.query(members, a, &live_r1(0, 2)).await.unwrap();
    assert_eq!(
        (ids(&page), page.total),
        (vec!["m5".to_owned(), "m4".to_owned()], 6)
    );
    let page = d.query(members, a, &live_r1(4, 2)).await.unwrap();
    assert_eq!(
        (ids(&page), page.total),
        (vec!["m1".to_owned(), "m0".to_owned()], 6)
    );
    let m5 = d.get(members, a, "m5").await.unwrap().unwrap();
    d.replace(
        members,
        a,
        "m5",
        json!({"roles": ["x5"], "created_at": 5}),
        m5.version,
    )
    .await
    .unwrap();
    d.delete(members, a, "m4").await.unwrap();
    d.upsert(members, a, "m6", json!({"roles": ["r1"], "created_at": 6}))
        .await
        .unwrap();
    let page = d.query(members, a, &live_r1(0, 2)).await.unwrap();
    assert_eq!(
        (ids(&page), page.total),
        (vec!["m6".to_owned(), "m3".to_owned()], 5)
    );
    let page = d.query(members, b, &live_r1(0, 2)).await.unwrap();
    assert_eq!(page.total, 0, "tenants apart");
    // A duplicate in a bulk insert is a conflict.
    let dup = d
        .insert_many(members, a, vec![("m0".into(), json!({"roles": []}))])
        .await
        .unwrap_err();
    assert_eq!(dup.code(), ErrorCode::Conflict);
}

fn tag() -> String {
    usso_shared::random::hex_id().unwrap()[..8].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_sqlite_conforms() {
    let dir = temp_dir("conformance");
    let docs = SqliteDocs::open(&dir.join("docs.db")).unwrap();
    conformance(Arc::new(docs), &tag()).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_api_conforms_on_the_standin_and_on_a_real_endpoint_when_configured() {
    let standin = DataApiStandin::start();
    conformance(Arc::new(standin_docs(&standin, 10)), &tag()).await;

    if let Ok(url) = std::env::var("USSO_TEST_MONGO_DATA_API_URL") {
        let env = |k: &str| std::env::var(k).ok();
        let auth = match (env("USSO_TEST_MONGO_DATA_API_KEY"), env("USSO_TEST_MONGO_USER")) {
            (Some(key), _) => Auth::ApiKey(key),
            (None, Some(user)) => Auth::Basic {
                user,
                password: env("USSO_TEST_MONGO_PASSWORD").unwrap_or_default(),
            },
            _ => panic!("USSO_TEST_MONGO_DATA_API_URL needs USSO_TEST_MONGO_DATA_API_KEY or USSO_TEST_MONGO_USER"),
        };
        let docs = data_api(
            &url,
            auth,
            &env("USSO_TEST_MONGO_DATA_SOURCE").unwrap_or_else(|| "mongodb-atlas".into()),
            &env("USSO_TEST_MONGO_DATABASE").unwrap_or_else(|| "usso_test".into()),
            30,
        );
        eprintln!("conformance against the real Data API endpoint {url}");
        conformance(Arc::new(docs), &tag()).await;
    }
}

/// Failures of the Data API become clear errors; only reads are retried; a timed-out write is
/// never reported as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_api_failures_are_clear_errors() {
    let standin = DataApiStandin::start();
    let docs = standin_docs(&standin, 1);
    let t = format!("t{}", tag());
    docs.insert("c", &t, "x", json!({"v": 1})).await.unwrap();

    // A read meets two 503s and is retried to success; a third would be an error.
    standin.fault(json!({"status": 503, "count": 2})).await;
    assert!(docs.get("c", &t, "x").await.unwrap().is_some());
    standin.fault(json!({"status": 503, "count": 3})).await;
    assert_eq!(
        docs.get("c", &t, "x").await.unwrap_err().code(),
        ErrorCode::ServiceUnavailable
    );

    // A write meeting a 503 is not retried and reports the failure; the stand-in did not run it.
    standin.fault(json!({"status": 503, "count": 1})).await;
    let e = docs.insert("c", &t, "y", json!({})).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceUnavailable);
    assert!(docs.get("c", &t, "y").await.unwrap().is_none());

    // A malformed answer is an error, not a success.
    standin.fault(json!({"garbage": true, "count": 3})).await;
    let e = docs.get("c", &t, "x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceUnavailable);

    // A timeout (client timeout 1 s) on a write is reported as a failure even though the
    // stand-in goes on to apply it: the caller must re-read, as the origin's flows do.
    standin.fault(json!({"delay_ms": 2500, "count": 1})).await;
    let e = docs
        .replace("c", &t, "x", json!({"v": 2}), 1)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceUnavailable);

    // Wrong credentials are a configuration error; an endpoint that does not answer is
    // unavailable.
    let wrong = data_api(
        &standin.url,
        Auth::ApiKey("wrong".into()),
        "mongodb-atlas",
        "usso_test",
        5,
    );
    assert_eq!(
        wrong.get("c", &t, "x").await.unwrap_err().code(),
        ErrorCode::ConfigurationError
    );
    let closed = format!("http://127.0.0.1:{}", crate::support::free_port());
    let nobody = data_api(
        &closed,
        Auth::ApiKey("k".into()),
        "mongodb-atlas",
        "usso_test",
        5,
    );
    assert_eq!(
        nobody.ping().await.unwrap_err().code(),
        ErrorCode::ServiceUnavailable
    );
}
