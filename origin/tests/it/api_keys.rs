//! API keys (issue 14): created by a person with at most their scopes, shown once, accepted
//! wherever an access token is (`x-api-key` or a bearer value), checked by the edge core's
//! `apikeys/verify` and `me`, never a session, revoked at once.

use reqwest::Client;
use serde_json::{json, Value};

use crate::support::{
    api, code, password_sign_in, python_interop, server_with_admin, Auth, Reply, Server,
    ADMIN_EMAIL, ADMIN_PASSWORD,
};

async fn call(
    c: &Client,
    s: &Server,
    m: &str,
    p: &str,
    auth: Option<(&str, &str)>,
    b: Option<Value>,
) -> Reply {
    let auth = auth.map_or(Auth::None, |(h, v)| Auth::Header(h, v));
    api(c, s, m, p, "org_default", auth, b.as_ref()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_act_with_their_scopes_and_are_revoked_at_once() {
    let (data, s) = server_with_admin("api-keys");
    let c = Client::new();
    let r = password_sign_in(&c, &s, "/auth/login", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let boss = format!("Bearer {}", r.1["access_token"].as_str().unwrap());
    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    let r = password_sign_in(
        &c,
        &s,
        "/auth/register",
        "pat@example.com",
        "pat password 1",
    )
    .await;
    let pat = format!("Bearer {}", r.1["access_token"].as_str().unwrap());

    // Bad input, and the subset rule.
    for (body, want) in [
        (json!({}), 422),
        (json!({"name": ""}), 422),
        (json!({"name": "x", "expires_in_days": 0}), 422),
        (json!({"name": "x", "scopes": ["not a scope"]}), 422),
        (json!({"name": "x", "bogus": 1}), 422),
        (json!({"name": "x", "workspace_id": "ws_nope"}), 422),
    ] {
        let r = call(
            &c,
            &s,
            "POST",
            "/apikeys",
            Some(("authorization", &boss)),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.0.as_u16(), want, "{body}: {}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys",
        Some(("authorization", &pat)),
        Some(json!({"name": "x", "scopes": ["read:usso/users"]})),
    )
    .await;
    assert_eq!(
        code(&r),
        (403, "permission_denied".into()),
        "beyond pat's own: {}",
        r.1
    );

    // Created: the key once, only its hash kept.
    let r = call(
        &c,
        &s,
        "POST",
        "/api-keys",
        Some(("authorization", &boss)),
        Some(json!({"name": "ci", "scopes": ["read:usso/users"], "expires_in_days": 30})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let key = r.1["key"].as_str().unwrap().to_owned();
    let id = r.1["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("usso_sk_") && key.len() >= 60, "{key}");
    assert!(r.1["expires_at"].is_string(), "{}", r.1);
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/apikeys/{id}"),
        Some(("authorization", &boss)),
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(
        r.1.get("key").is_none() && !r.1.to_string().contains(&key),
        "{}",
        r.1
    );
    let stored = std::fs::read(data.join("docs.db")).unwrap_or_default();
    let secret = &key[key.len() - 20..];
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the key is not stored"
    );

    // Accepted wherever an access token is, with the key's scopes only.
    for auth in [("x-api-key", key.clone()), bearer(&key)] {
        let r = call(&c, &s, "GET", "/users", Some((auth.0, &auth.1)), None).await;
        assert_eq!(r.0, 200, "{}: {}", auth.0, r.1);
        let r = call(&c, &s, "GET", "/roles", Some((auth.0, &auth.1)), None).await;
        assert_eq!(code(&r), (403, "permission_denied".into()), "{}", r.1);
        let r = call(&c, &s, "GET", "/auth/me", Some((auth.0, &auth.1)), None).await;
        assert_eq!(r.0, 200, "{}", r.1);
        assert_eq!(r.1["credential"], "api_key");
        assert_eq!(r.1["scopes"], json!(["read:usso/users"]));
    }
    // Never a person's session: no account routes, no minting keys, no refresh.
    for (m, p) in [
        ("POST", "/apikeys"),
        ("GET", "/me/export"),
        ("POST", "/auth/password/change"),
    ] {
        let r = call(
            &c,
            &s,
            m,
            p,
            Some(("x-api-key", &key)),
            Some(json!({"name": "x"})),
        )
        .await;
        assert_eq!(r.0, 403, "{m} {p}: {}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": key})),
    )
    .await;
    assert_eq!(r.0, 401, "{}", r.1);

    // The SDKs' verify route: the claims, or one error for every kind of wrong key.
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys/verify",
        None,
        Some(json!({"api_key": key})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["tenant_id"], "org_default");
    assert_eq!(r.1["scopes"], json!(["read:usso/users"]));
    assert!(r.1["sub"].is_string() && r.1["exp"].is_i64(), "{}", r.1);
    let wrong_secret = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    for bad in [
        wrong_secret.as_str(),
        "usso_sk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "usso_sk_x",
        "not a key",
    ] {
        let r = call(
            &c,
            &s,
            "POST",
            "/api-keys/verify",
            None,
            Some(json!({"api_key": bad})),
        )
        .await;
        assert_eq!(
            code(&r),
            (401, "invalid_credentials".into()),
            "{bad}: {}",
            r.1
        );
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys/verify",
        None,
        Some(json!({"api_key": key, "x": 1})),
    )
    .await;
    assert_eq!(r.0, 422, "{}", r.1);

    // The official Python SDK, unmodified.
    let seen = python_interop("usso_apikey_sdk.py", &[&s.base, &key, &wrong_secret]);
    assert_eq!(seen["user_data"]["tenant_id"], "org_default", "{seen}");
    assert_eq!(
        seen["user_data"]["scopes"],
        json!(["read:usso/users"]),
        "{seen}"
    );
    assert_eq!(seen["claims"]["api_key_id"], id.as_str(), "{seen}");
    assert_eq!(seen["scopes"], json!(["read:usso/users"]), "{seen}");
    assert!(
        seen["users"].as_array().is_some_and(|u| u.len() == 3),
        "the system account, boss and pat: {seen}"
    );
    assert_eq!(seen["wrong"]["status"], 401, "{seen}");

    // Someone else's key is not found; an administrator's scope sees it.
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/apikeys/{id}"),
        Some(("authorization", &pat)),
        None,
    )
    .await;
    assert_eq!(r.0, 404, "{}", r.1);
    let r = call(
        &c,
        &s,
        "DELETE",
        &format!("/apikeys/{id}"),
        Some(("authorization", &pat)),
        None,
    )
    .await;
    assert_eq!(r.0, 404, "{}", r.1);
    let r = call(
        &c,
        &s,
        "GET",
        "/apikeys",
        Some(("authorization", &pat)),
        None,
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["total"].clone()),
        (200, json!(0)),
        "{}",
        r.1
    );
    let r = call(
        &c,
        &s,
        "GET",
        "/apikeys",
        Some(("authorization", &boss)),
        None,
    )
    .await;
    assert_eq!(r.1["total"], 1, "{}", r.1);
    assert!(
        r.1["items"][0]["last_used_at"].is_string(),
        "use recorded: {}",
        r.1
    );

    // Revoked: refused at once, everywhere.
    let r = call(
        &c,
        &s,
        "DELETE",
        &format!("/apikeys/{id}"),
        Some(("authorization", &boss)),
        None,
    )
    .await;
    assert_eq!(r.0, 204, "{}", r.1);
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys/verify",
        None,
        Some(json!({"api_key": key})),
    )
    .await;
    assert_eq!(r.0, 401, "{}", r.1);
    let r = call(&c, &s, "GET", "/users", Some(("x-api-key", &key)), None).await;
    assert_eq!(r.0, 401, "{}", r.1);

    // A key acts only within what its owner may still do: a role taken away, or the owner
    // deactivated, stops it; given back, it works again.
    let r = call(
        &c,
        &s,
        "POST",
        "/roles",
        Some(("authorization", &boss)),
        Some(json!({"name": "Readers", "slug": "readers", "scopes": ["read:usso/users"]})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let pat_id = {
        let r = call(
            &c,
            &s,
            "GET",
            "/users?q=pat",
            Some(("authorization", &boss)),
            None,
        )
        .await;
        r.1["items"][0]["uid"].as_str().unwrap().to_owned()
    };
    let patch = |body: Value| {
        let (c, s, boss, pat_id) = (&c, &s, &boss, &pat_id);
        async move {
            let r = call(
                c,
                s,
                "PATCH",
                &format!("/users/{pat_id}"),
                Some(("authorization", boss)),
                Some(body),
            )
            .await;
            assert_eq!(r.0, 200, "{}", r.1);
        }
    };
    patch(json!({"roles": ["readers"]})).await;
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/login",
        None,
        Some(json!({"identifier": "pat@example.com", "secret": "pat password 1"})),
    )
    .await;
    let pat = format!("Bearer {}", r.1["access_token"].as_str().unwrap());
    let r = call(
        &c,
        &s,
        "POST",
        "/apikeys",
        Some(("authorization", &pat)),
        Some(json!({"name": "pat's", "scopes": ["read:usso/users"]})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let pats = r.1["key"].as_str().unwrap().to_owned();
    let works = |k: String| {
        let (c, s) = (&c, &s);
        async move {
            call(
                c,
                s,
                "POST",
                "/apikeys/verify",
                None,
                Some(json!({"api_key": k})),
            )
            .await
            .0
            .as_u16()
        }
    };
    assert_eq!(works(pats.clone()).await, 200);
    patch(json!({"roles": []})).await;
    assert_eq!(works(pats.clone()).await, 401, "the role was taken away");
    patch(json!({"roles": ["readers"]})).await;
    assert_eq!(works(pats.clone()).await, 200, "given back");
    patch(json!({"is_active": false})).await;
    assert_eq!(works(pats.clone()).await, 401, "owner deactivated");
    patch(json!({"is_active": true})).await;
    assert_eq!(works(pats.clone()).await, 200);
    let r = call(
        &c,
        &s,
        "PATCH",
        "/roles/readers",
        Some(("authorization", &boss)),
        Some(json!({"scopes": ["read:usso/roles"]})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        works(pats.clone()).await,
        401,
        "the role no longer grants the key's scope"
    );

    // Guessing is throttled per client without locking out a right key.
    let (good, _) = {
        let r = call(
            &c,
            &s,
            "POST",
            "/apikeys",
            Some(("authorization", &boss)),
            Some(json!({"name": "second", "scopes": ["read:usso/users"]})),
        )
        .await;
        (r.1["key"].as_str().unwrap().to_owned(), ())
    };
    let mut limited = false;
    for _ in 0..25 {
        let r = call(
            &c,
            &s,
            "GET",
            "/users",
            Some(("x-api-key", &wrong_secret)),
            None,
        )
        .await;
        limited |= r.0 == 429;
    }
    assert!(limited, "failed guesses end in 429");
    let r = call(&c, &s, "GET", "/users", Some(("x-api-key", &good)), None).await;
    assert_eq!(r.0, 200, "the right key still works: {}", r.1);
    s.stop();
}
