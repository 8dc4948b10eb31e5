//! The administration and self-service API (issue 13): every route's rule against every kind of
//! caller, users, identifiers, credentials, profiles and roles end to end, the effect of access
//! changes on live sessions, tenancy (another tenant's objects are not found), and the official
//! Python SDK's client calls. Runs on SQLite and, through scripts/test.sh, on the Data API
//! stand-in.

use reqwest::{Client, Method};
use serde_json::{json, Value};
use usso_origin::authz::rules::{self, Rule};
use usso_origin::authz::{Action, Need, Resource};

use crate::support::{
    admin, api, claims_of as claims, code, free_port, python_interop, send, temp_dir, Auth, Reply,
    Server, SYSTEM_PASSWORD,
};

const API: &str = "/api/sso/v1";
const NOBODY: &str = "00000000-0000-4000-8000-000000000000";

/// One call: `method path` (below `/api/sso/v1`) for a tenant, with an optional bearer token,
/// `If-Match` and JSON body.
async fn call(
    c: &Client,
    s: &Server,
    method: &str,
    path: &str,
    tenant: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let auth = token.map_or(Auth::None, Auth::Bearer);
    api(c, s, method, path, tenant, auth, body).await
}

/// Signs in with a password: (access token, refresh token).
async fn login(c: &Client, s: &Server, tenant: &str, who: &str, secret: &str) -> (String, String) {
    let r = call(
        c,
        s,
        "POST",
        "/auth/login",
        tenant,
        None,
        Some(&json!({"identifier": who, "secret": secret})),
    )
    .await;
    assert_eq!(r.0, 200, "login {who}: {}", r.1);
    (
        r.1["access_token"].as_str().unwrap().to_owned(),
        r.1["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn register(c: &Client, s: &Server, who: &str, secret: &str) -> (String, String) {
    let r = call(
        c,
        s,
        "POST",
        "/auth/register",
        "org_default",
        None,
        Some(&json!({"identifier": who, "secret": secret})),
    )
    .await;
    assert_eq!(r.0, 200, "register {who}: {}", r.1);
    (
        r.1["access_token"].as_str().unwrap().to_owned(),
        r.1["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(c: &Client, s: &Server, token: &str) -> Reply {
    call(
        c,
        s,
        "POST",
        "/auth/refresh",
        "org_default",
        None,
        Some(&json!({"refresh_token": token})),
    )
    .await
}

fn scopes(token: &str) -> Vec<String> {
    serde_json::from_value(claims(token)["scopes"].clone()).unwrap()
}

fn uid(token: &str) -> String {
    claims(token)["user_id"].as_str().unwrap().to_owned()
}

/// A tenant `acme` and, in the default tenant, an administrator (role `admin`) and a reader
/// (`read:usso/users` only), made with the CLI once the first start has made the default
/// tenant.
fn seed(data: &std::path::Path) {
    Server::start(data, free_port(), &[]).stop();
    admin(
        data,
        &[
            "tenant",
            "create",
            "acme",
            "--domain",
            "sso.acme.test",
            "--no-audience",
            "--activation",
            "none",
        ],
        &[("SYSTEM_PASSWORD", "x")],
    );
    for args in [
        &["user", "create", "boss@example.com", "--role", "admin"][..],
        &[
            "user",
            "create",
            "reader@example.com",
            "--scope",
            "read:usso/users",
        ],
        &[
            "user",
            "create",
            "ops@acme.test",
            "--tenant",
            "acme",
            "--role",
            "admin",
        ],
    ] {
        admin(data, args, &[("USSO_NEW_PASSWORD", "a long password 1")]);
    }
}

/// A workspace id that exists nowhere.
const NO_WORKSPACE: &str = "ws_00000000000000000000000000000000";

/// The request the matrix sends to a route, and what an authorized caller gets: bodies are
/// invalid and deleted objects do not exist, so the matrix changes nothing. The bool: the
/// path names the matrix's workspace (not another one).
fn probe(r: &rules::Route, me: &str, ws: &str) -> (String, Option<Value>, u16, bool) {
    use usso_shared::paths::{
        AGENT, AGENT_REGISTRATION_KEYS, APIKEY, ME, OAUTH_CLIENT, OAUTH_CLIENT_ROTATE,
        USER_IDENTIFIER_PRIMARY, WORKSPACE,
    };
    let path = r.path.strip_prefix(API).unwrap();
    let (target, expect) = match (r.method, r.path) {
        // Deleting one's own account needs a valid body: the bogus one changes nothing.
        ("DELETE", ME) => (me, 422),
        ("DELETE", _)
        | (_, USER_IDENTIFIER_PRIMARY)
        | (_, APIKEY)
        | ("GET", AGENT)
        | ("GET", OAUTH_CLIENT)
        | (_, OAUTH_CLIENT_ROTATE) => (NOBODY, 404),
        // Makes a key for the caller; no body to get wrong.
        ("POST", AGENT_REGISTRATION_KEYS) => (me, 201),
        ("GET", _) => (me, 200),
        _ => (me, 422),
    };
    let workspace = if (r.method, r.path) == ("DELETE", WORKSPACE) {
        NO_WORKSPACE
    } else {
        ws
    };
    let tenant = if r.method == "DELETE" {
        "no-such-tenant"
    } else {
        "org_default"
    };
    let path = path
        .replace("{tenant_id}", tenant)
        .replace("{uid}", target)
        .replace("{user_id}", target)
        .replace("{workspace_id}", workspace)
        .replace("{identifier_id}", "0123456789abcdef0123456789abcdef")
        .replace("{id}", "0123456789abcdef")
        .replace("{agent_id}", "service:00000000000000000000000000000000")
        .replace("{kid}", &"0".repeat(64))
        .replace("{client_id}", "oc_00000000000000000000000000000000")
        .replace("{invitation_id}", "inv_00000000000000000000000000000000")
        .replace(
            "{slug}",
            if r.method == "DELETE" {
                "no-such-role"
            } else {
                "admin"
            },
        );
    let body = (expect == 422).then(|| json!({"bogus": 1}));
    (path, body, expect, workspace == ws)
}

/// What a caller should get from a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// Let through (the route's own answer).
    Through,
    /// 403 `permission_denied`.
    Forbidden,
    /// 404: a workspace the caller may not see does not exist for it.
    Hidden,
}

/// Each caller's expected answer, from the documented rule and whether the path names the
/// matrix's workspace.
type Expect = fn(Rule, bool) -> Want;

fn through_if(b: bool) -> Want {
    if b {
        Want::Through
    } else {
        Want::Forbidden
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_by_its_rule() {
    let data = temp_dir("authz-matrix");
    seed(&data);
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let (pat, _) = register(&c, &s, "pat@example.com", "pat password 1").await;
    let (quinn, quinn_refresh) = register(&c, &s, "quinn@example.com", "quinn password 1").await;
    let (wendy, wendy_refresh) = register(&c, &s, "wendy@example.com", "wendy password 1").await;
    let (boss, _) = login(
        &c,
        &s,
        "org_default",
        "boss@example.com",
        "a long password 1",
    )
    .await;
    let (reader, _) = login(
        &c,
        &s,
        "org_default",
        "reader@example.com",
        "a long password 1",
    )
    .await;
    let (system, _) = login(&c, &s, "org_default", "system", SYSTEM_PASSWORD).await;
    let (ops, _) = login(&c, &s, "acme", "ops@acme.test", "a long password 1").await;
    assert!(
        scopes(&boss).contains(&"admin:usso/*".to_owned()),
        "{:?}",
        scopes(&boss)
    );
    let pat_id = uid(&pat);

    // A workspace: pat a plain member, wendy its administrator (workspace role `admin`),
    // signed into it.
    let r = call(
        &c,
        &s,
        "POST",
        "/workspaces",
        "org_default",
        Some(&boss),
        Some(&json!({"name": "Team"})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let ws = r.1["id"].as_str().unwrap().to_owned();
    for (who, roles) in [(&pat, json!([])), (&wendy, json!(["admin"]))] {
        let r = call(
            &c,
            &s,
            "POST",
            &format!("/workspaces/{ws}/members"),
            "org_default",
            Some(&boss),
            Some(&json!({"user_id": uid(who), "roles": roles})),
        )
        .await;
        assert_eq!(r.0, 201, "{}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/workspace",
        "org_default",
        Some(&wendy),
        Some(&json!({"workspace_id": ws, "refresh_token": wendy_refresh})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let wendy = r.1["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&wendy)["workspace_id"], ws.as_str());
    assert_eq!(scopes(&wendy), [format!("admin:usso/*?workspace_id={ws}")]);

    let callers: [(&str, Option<&str>, Expect); 7] = [
        (
            "pat (the user the path names, a member)",
            Some(&pat),
            |r, _| match r {
                Rule::SignedIn | Rule::SelfOr(_) | Rule::MemberOr(_) | Rule::OwnOr(_) => {
                    Want::Through
                }
                Rule::Scope(_) | Rule::InWorkspace(_) | Rule::System | Rule::SystemOrOwn(_) => {
                    Want::Forbidden
                }
            },
        ),
        (
            "quinn (another user, no member)",
            Some(&quinn),
            |r, _| match r {
                Rule::SignedIn | Rule::OwnOr(_) => Want::Through,
                Rule::MemberOr(_) => Want::Hidden,
                _ => Want::Forbidden,
            },
        ),
        ("reader (read:usso/users)", Some(&reader), |r, _| match r {
            Rule::SignedIn | Rule::OwnOr(_) => Want::Through,
            Rule::Scope(n) | Rule::SelfOr(n) => {
                through_if(n == Need(Action::Read, Resource::Users))
            }
            Rule::InWorkspace(_) | Rule::System | Rule::SystemOrOwn(_) => Want::Forbidden,
            Rule::MemberOr(_) => Want::Hidden,
        }),
        (
            "wendy (the workspace's administrator)",
            Some(&wendy),
            |r, here| match r {
                Rule::SignedIn | Rule::MemberOr(_) | Rule::OwnOr(_) => Want::Through,
                Rule::InWorkspace(_) => through_if(here),
                Rule::Scope(_) | Rule::SelfOr(_) | Rule::System | Rule::SystemOrOwn(_) => {
                    Want::Forbidden
                }
            },
        ),
        ("boss (role admin, its own tenant)", Some(&boss), |r, _| {
            through_if(r != Rule::System)
        }),
        ("system (superadmin:*)", Some(&system), |_, _| Want::Through),
        ("nobody (no token)", None, |_, _| Want::Forbidden),
    ];
    let mut checked = 0;
    // The matrix as docs/authorization.md shows it: ✓ = let through to the route's own answer.
    let mut table = String::from(
        "| method | path | no token | the user named (a member) | another user | `read:usso/users` \
         | workspace admin | tenant admin | system admin | another tenant's admin |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for route in rules::ALL {
        let (path, body, allowed_status, here) = probe(route, &pat_id, &ws);
        let mut cells = std::collections::BTreeMap::new();
        for (who, token, expect) in &callers {
            let r = call(
                &c,
                &s,
                route.method,
                &path,
                "org_default",
                *token,
                body.as_ref(),
            )
            .await;
            let want = match (token, expect(route.rule, here)) {
                (None, _) => 401,
                (Some(_), Want::Through) => allowed_status,
                (Some(_), Want::Forbidden) => 403,
                (Some(_), Want::Hidden) => 404,
            };
            assert_eq!(
                r.0.as_u16(),
                want,
                "{who}: {} {path}: {}",
                route.method,
                r.1
            );
            if want == 403 {
                assert_eq!(r.1["error_code"], "permission_denied", "{who}: {path}");
            }
            let cell = if token.is_some()
                && want == allowed_status
                && expect(route.rule, here) == Want::Through
            {
                "✓".to_owned()
            } else {
                want.to_string()
            };
            cells.insert(*who, cell);
            checked += 1;
        }
        // Another tenant's token is not a caller here at all.
        let r = call(
            &c,
            &s,
            route.method,
            &path,
            "org_default",
            Some(&ops),
            body.as_ref(),
        )
        .await;
        assert_eq!(
            r.0, 401,
            "acme's admin on org_default: {} {path}: {}",
            route.method, r.1
        );
        let col = |prefix: &str| {
            cells
                .iter()
                .find(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        table.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | 401 |\n",
            route.method,
            route.path.strip_prefix(API).unwrap(),
            col("nobody"),
            col("pat"),
            col("quinn"),
            col("reader"),
            col("wendy"),
            col("boss"),
            col("system"),
        ));
    }
    assert_eq!(checked, rules::ALL.len() * callers.len());
    let doc = include_str!("../../../docs/authorization.md");
    assert!(
        doc.contains(&table),
        "docs/authorization.md does not show this matrix; paste it there:\n{table}"
    );

    // In its own tenant, acme's administrator finds nothing of the default tenant: 404, not 403.
    let acme = |m: &'static str, p: String, b: Option<Value>| {
        let (c, s, ops) = (&c, &s, &ops);
        async move { call(c, s, m, &p, "acme", Some(ops), b.as_ref()).await }
    };
    for (m, p, b) in [
        ("GET", format!("/users/{pat_id}"), None),
        (
            "PATCH",
            format!("/users/{pat_id}"),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/users/{pat_id}"), None),
        ("GET", format!("/users/{pat_id}/identifiers"), None),
        (
            "POST",
            format!("/users/{pat_id}/identifiers"),
            Some(json!({"identifier": "x@acme.test"})),
        ),
        ("GET", format!("/users/{pat_id}/credentials"), None),
        ("GET", format!("/profiles/{pat_id}"), None),
        ("GET", format!("/workspaces/{ws}"), None),
        ("GET", "/tenants/org_default".to_owned(), None),
        (
            "PATCH",
            "/tenants/org_default".to_owned(),
            Some(json!({"name": "x"})),
        ),
        (
            "PATCH",
            format!("/workspaces/{ws}"),
            Some(json!({"name": "x"})),
        ),
        ("GET", format!("/workspaces/{ws}/members"), None),
        (
            "POST",
            format!("/workspaces/{ws}/members"),
            Some(json!({"user_id": pat_id})),
        ),
    ] {
        let r = acme(m, p.clone(), b).await;
        assert_eq!(code(&r), (404, "not_found".into()), "{m} {p}: {}", r.1);
    }
    let listed = acme("GET", "/users?limit=100".into(), None).await;
    assert_eq!(listed.0, 200, "{}", listed.1);
    let names: Vec<&str> = listed.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["identifiers"].as_array().unwrap())
        .map(|i| i["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ops@acme.test"], "acme lists only its own users");
    assert_eq!(listed.1["total"], 1);

    // A logged-out session's access token opens nothing, strict verification or not.
    let out = call(
        &c,
        &s,
        "POST",
        "/auth/logout",
        "org_default",
        None,
        Some(&json!({"refresh_token": quinn_refresh})),
    )
    .await;
    assert_eq!(out.0, 200, "{}", out.1);
    let r = call(
        &c,
        &s,
        "GET",
        "/profiles/mine",
        "org_default",
        Some(&quinn),
        None,
    )
    .await;
    assert_eq!(code(&r), (401, "session_revoked".into()), "{}", r.1);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_users_with_filters_paging_and_versions() {
    let data = temp_dir("users-admin");
    seed(&data);
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let (boss, _) = login(
        &c,
        &s,
        "org_default",
        "boss@example.com",
        "a long password 1",
    )
    .await;
    let api = |m: &'static str, p: &str, b: Option<Value>| {
        let (c, s, boss, p) = (&c, &s, &boss, p.to_owned());
        async move { call(c, s, m, &p, "org_default", Some(boss), b.as_ref()).await }
    };

    // Create: the SDK's user shape, a usable password, the ETag.
    let r = c
        .post(s.url(&format!("{API}/users")))
        .header("x-tenant-id", "org_default")
        .bearer_auth(&boss)
        .json(
            &json!({"identifier": "alice@example.com", "secret": "alice password 1",
            "name": "Alice Liddell"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let alice: Value = r.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", alice["version"]));
    for field in [
        "uid",
        "created_at",
        "updated_at",
        "tenant_id",
        "activation_status",
    ] {
        assert!(alice[field].is_string(), "{field}: {alice}");
    }
    assert_eq!(alice["tenant_id"], "org_default");
    assert_eq!(alice["is_deleted"], false);
    assert_eq!(alice["is_active"], true);
    assert_eq!(alice["name"], "Alice Liddell");
    assert_eq!(alice["credential_methods"], json!(["password"]));
    let ident = &alice["identifiers"][0];
    assert_eq!(ident["type"], "email");
    assert_eq!(ident["identifier"], "alice@example.com");
    assert_eq!(ident["is_primary"], true);
    assert_eq!(
        ident["verified_at"],
        Value::Null,
        "not vouched for: unproven"
    );
    let alice_id = alice["uid"].as_str().unwrap().to_owned();
    let (alice_access, alice_refresh) = login(
        &c,
        &s,
        "org_default",
        "alice@example.com",
        "alice password 1",
    )
    .await;
    assert_eq!(uid(&alice_access), alice_id);

    // Bad input: named fields, the right status, nothing written.
    for (body, status, needle) in [
        (json!({"identifier": "alice@example.com"}), 409, ""),
        (
            json!({"identifier": "not an address", "type": "email"}),
            422,
            "identifier",
        ),
        (
            json!({"identifier": "bob@example.com", "secret": "short"}),
            422,
            "secret",
        ),
        (
            json!({"identifier": "bob@example.com", "roles": ["no-such-role"]}),
            422,
            "roles",
        ),
        (
            json!({"identifier": "bob@example.com", "scopes": ["not a scope!"]}),
            422,
            "scopes",
        ),
        (
            json!({"identifier": "bob@example.com", "nickname": "b"}),
            422,
            "nickname",
        ),
        (
            json!({"identifier": "bob@example.com", "scopes": ["superadmin:*"]}),
            403,
            "",
        ),
        (
            json!({"identifier": "bob@example.com", "is_active": "yes"}),
            422,
            "is_active",
        ),
    ] {
        let r = api("POST", "/users", Some(body.clone())).await;
        assert_eq!(r.0.as_u16(), status, "{body}: {}", r.1);
        assert!(
            r.1["detail"].as_str().unwrap_or_default().contains(needle),
            "{body}: {}",
            r.1
        );
    }

    // More accounts to list.
    for body in [
        json!({"identifier": "+14155550100", "name": "Zed Phone"}),
        json!({"identifier": "carol_user", "type": "username", "name": "Carol"}),
        json!({"identifier": "bob@example.com", "name": "Bob", "is_active": false}),
    ] {
        let r = api("POST", "/users", Some(body.clone())).await;
        assert_eq!(r.0, 201, "{body}: {}", r.1);
    }
    let ids = |r: &Reply| -> Vec<String> {
        r.1["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                u["identifiers"][0]["identifier"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let r = api("GET", "/users?identifier_type=phone", None).await;
    assert_eq!(
        (ids(&r), r.1["total"].clone()),
        (vec!["+14155550100".into()], json!(1))
    );
    let r = api("GET", "/users?q=LIDDELL", None).await;
    assert_eq!(
        ids(&r),
        ["alice@example.com"],
        "search is case-insensitive, on the name"
    );
    let r = api("GET", "/users?q=carol_", None).await;
    assert_eq!(ids(&r), ["carol_user"], "and on identifiers");
    let r = api("GET", "/users?is_active=false", None).await;
    assert_eq!(ids(&r), ["bob@example.com"]);
    let r = api("GET", "/users?role=admin", None).await;
    assert_eq!(ids(&r), ["boss@example.com"]);
    let r = api("GET", "/users?sort=name&limit=100", None).await;
    let names: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "{}", r.1);
    for n in ["Alice Liddell", "Bob", "Carol", "Zed Phone"] {
        assert!(names.contains(&n), "{n}: {names:?}");
    }
    // Paging: newest first by default, pages neither overlap nor skip.
    let all = api("GET", "/users?limit=100", None).await;
    let total = all.1["total"].as_u64().unwrap();
    assert_eq!(total as usize, all.1["items"].as_array().unwrap().len());
    assert_eq!(
        total, 7,
        "system, boss, reader, alice, zed, carol, bob: {}",
        all.1
    );
    let mut paged = Vec::new();
    for offset in (0..total).step_by(3) {
        let r = api("GET", &format!("/users?limit=3&offset={offset}"), None).await;
        assert_eq!(r.1["total"], total);
        paged.extend(ids(&r));
    }
    assert_eq!(paged, ids(&all));
    let created: Vec<&str> = all.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["created_at"].as_str().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    for bad in [
        "limit=101",
        "limit=0",
        "offset=-1",
        "sort=password",
        "is_active=maybe",
        "identifier_type=fax",
        "role=Not%20A%20Slug",
    ] {
        let r = api("GET", &format!("/users?{bad}"), None).await;
        assert_eq!(code(&r), (422, "validation_error".into()), "{bad}: {}", r.1);
    }

    // Versions: a stale If-Match is refused, a fresh one applies. (Alice's sign-in changed
    // her document since it was created, so the creation's ETag is already stale.)
    let stale = etag.clone();
    let r = c
        .get(s.url(&format!("{API}/users/{alice_id}")))
        .header("x-tenant-id", "org_default")
        .bearer_auth(&boss)
        .send()
        .await
        .unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag, stale);
    let put = |m: &'static str, p: String, b: Value, if_match: Option<String>| {
        let (c, s, boss) = (&c, &s, &boss);
        async move {
            let mut req = c
                .request(
                    Method::from_bytes(m.as_bytes()).unwrap(),
                    s.url(&format!("{API}{p}")),
                )
                .header("x-tenant-id", "org_default")
                .bearer_auth(boss)
                .json(&b);
            if let Some(v) = if_match {
                req = req.header("if-match", v);
            }
            send(req).await
        }
    };
    let r = put(
        "PATCH",
        format!("/users/{alice_id}"),
        json!({"name": "Lost"}),
        Some(stale),
    )
    .await;
    assert_eq!(code(&r), (412, "precondition_failed".into()), "{}", r.1);
    let r = put(
        "PATCH",
        format!("/users/{alice_id}"),
        json!({"name": "Alice L."}),
        Some(etag.clone()),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["name"], "Alice L.");
    let r = put(
        "PATCH",
        format!("/users/{alice_id}"),
        json!({"name": "Lost"}),
        Some(etag.clone()),
    )
    .await;
    assert_eq!(code(&r), (412, "precondition_failed".into()), "{}", r.1);
    let r = put(
        "PATCH",
        format!("/users/{alice_id}"),
        json!({"name": null}),
        None,
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["name"].clone()),
        (200, Value::Null),
        "null clears"
    );
    let r = put(
        "PATCH",
        format!("/users/{alice_id}"),
        json!({}),
        Some("\"x\"".into()),
    )
    .await;
    assert_eq!(r.0, 422, "{}", r.1);
    // A name change is not an access change: Alice's session lives on.
    let r = refresh(&c, &s, &alice_refresh).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let alice_refresh = r.1["refresh_token"].as_str().unwrap().to_owned();

    // The subset rule: an administrator cannot manage the system administrator, nor grant
    // what it does not hold.
    let r = api("GET", "/users?q=system", None).await;
    let system_id = r.1["items"][0]["uid"].as_str().unwrap().to_owned();
    for (m, p, b) in [
        (
            "PATCH",
            format!("/users/{system_id}"),
            Some(json!({"is_active": false})),
        ),
        ("DELETE", format!("/users/{system_id}"), None),
        (
            "POST",
            format!("/users/{system_id}/identifiers"),
            Some(json!({"identifier": "x@example.com"})),
        ),
        (
            "PATCH",
            format!("/users/{alice_id}"),
            Some(json!({"scopes": ["superadmin:usso/tenants"]})),
        ),
    ] {
        let r = api(m, &p, b).await;
        assert_eq!(
            code(&r),
            (403, "permission_denied".into()),
            "{m} {p}: {}",
            r.1
        );
    }
    let r = api("GET", "/users?role=admin", None).await;
    let boss_uid = r.1["items"][0]["uid"].as_str().unwrap().to_owned();
    let r = api("DELETE", &format!("/users/{boss_uid}"), None).await;
    assert_eq!(
        code(&r),
        (409, "conflict".into()),
        "not one's own account: {}",
        r.1
    );

    // Roles: created within the creator's scopes; a holder's token carries them.
    let role = json!({"slug": "editors", "name": "Editors", "description": "Edit posts",
        "scopes": ["read:usso/users", "read:usso/roles"]});
    let r = api("POST", "/roles", Some(role.clone())).await;
    assert_eq!(r.0, 201, "{}", r.1);
    assert_eq!(r.1["slug"], "editors");
    assert_eq!(r.1["is_active"], true);
    for (body, want) in [
        (role.clone(), (409, "conflict")),
        (json!({"slug": "Bad Slug!"}), (422, "validation_error")),
        (
            json!({"slug": "root", "scopes": ["superadmin:usso/tenants"]}),
            (403, "permission_denied"),
        ),
    ] {
        let r = api("POST", "/roles", Some(body.clone())).await;
        assert_eq!(code(&r), (want.0, want.1.into()), "{body}: {}", r.1);
    }
    let r = api(
        "PATCH",
        &format!("/users/{alice_id}"),
        Some(json!({"roles": ["editors"]})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["roles"], json!(["editors"]));
    // A change of access ends Alice's sessions at once.
    let r = refresh(&c, &s, &alice_refresh).await;
    assert_eq!(code(&r), (401, "session_revoked".into()), "{}", r.1);
    let (alice_access, alice_refresh) = login(
        &c,
        &s,
        "org_default",
        "alice@example.com",
        "alice password 1",
    )
    .await;
    let got = scopes(&alice_access);
    assert!(got.contains(&"read:usso/users".to_owned()), "{got:?}");
    assert!(got.contains(&"read:usso/roles".to_owned()), "{got:?}");
    let as_alice = |m: &'static str, p: &'static str, b: Option<Value>| {
        let (c, s, t) = (&c, &s, alice_access.clone());
        async move { call(c, s, m, p, "org_default", Some(&t), b.as_ref()).await }
    };
    assert_eq!(as_alice("GET", "/users", None).await.0, 200);
    let r = as_alice(
        "POST",
        "/users",
        Some(json!({"identifier": "eve@example.com"})),
    )
    .await;
    assert_eq!(code(&r), (403, "permission_denied".into()), "{}", r.1);

    // Changing the role ends its holders' sessions; their next token has the new scopes.
    let r = api(
        "PATCH",
        "/roles/editors",
        Some(json!({"scopes": ["read:usso/roles"]})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        code(&refresh(&c, &s, &alice_refresh).await).1,
        "session_revoked"
    );
    let (t, alice_refresh) = login(
        &c,
        &s,
        "org_default",
        "alice@example.com",
        "alice password 1",
    )
    .await;
    assert_eq!(scopes(&t), ["read:usso/roles"]);
    // A deactivated role grants nothing.
    let r = api("PATCH", "/roles/editors", Some(json!({"is_active": false}))).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        code(&refresh(&c, &s, &alice_refresh).await).1,
        "session_revoked"
    );
    let (t, _) = login(
        &c,
        &s,
        "org_default",
        "alice@example.com",
        "alice password 1",
    )
    .await;
    assert!(scopes(&t).is_empty(), "{:?}", scopes(&t));
    // A deleted role is taken from its holders.
    let r = api("DELETE", "/roles/editors", None).await;
    assert_eq!(r.0, 204, "{}", r.1);
    assert_eq!(api("GET", "/roles/editors", None).await.0, 404);
    let r = api("GET", &format!("/users/{alice_id}"), None).await;
    assert_eq!(r.1["roles"], json!([]), "{}", r.1);
    let r = api("GET", "/roles", None).await;
    let slugs: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["admin"]);

    // Deactivation: sessions end, sign-in is refused; reactivation lets them back.
    let (_, alice_refresh) = login(
        &c,
        &s,
        "org_default",
        "alice@example.com",
        "alice password 1",
    )
    .await;
    let r = api(
        "PATCH",
        &format!("/users/{alice_id}"),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["activation_status"].clone()),
        (200, json!("deactive"))
    );
    assert_eq!(
        code(&refresh(&c, &s, &alice_refresh).await).1,
        "session_revoked"
    );
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/login",
        "org_default",
        None,
        Some(&json!({"identifier": "alice@example.com", "secret": "alice password 1"})),
    )
    .await;
    assert_eq!(code(&r), (403, "permission_denied".into()), "{}", r.1);
    let r = api(
        "PATCH",
        &format!("/users/{alice_id}"),
        Some(json!({"is_active": true})),
    )
    .await;
    assert_eq!(r.0, 200);
    login(
        &c,
        &s,
        "org_default",
        "alice@example.com",
        "alice password 1",
    )
    .await;

    // Soft delete: gone from reads and lists, no sign-in, the address free again.
    let (_, alice_refresh) = login(
        &c,
        &s,
        "org_default",
        "alice@example.com",
        "alice password 1",
    )
    .await;
    let r = api("DELETE", &format!("/users/{alice_id}"), None).await;
    assert_eq!(r.0, 204, "{}", r.1);
    assert_eq!(
        code(&api("GET", &format!("/users/{alice_id}"), None).await).0,
        404
    );
    assert_eq!(
        code(&api("DELETE", &format!("/users/{alice_id}"), None).await).0,
        404
    );
    assert_eq!(
        code(&refresh(&c, &s, &alice_refresh).await).1,
        "session_revoked"
    );
    assert!(!ids(&api("GET", "/users?limit=100", None).await).contains(&"alice@example.com".into()));
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/login",
        "org_default",
        None,
        Some(&json!({"identifier": "alice@example.com", "secret": "alice password 1"})),
    )
    .await;
    assert_eq!(r.0, 401, "{}", r.1);
    let (again, _) = register(&c, &s, "alice@example.com", "a new alice password").await;
    assert_ne!(uid(&again), alice_id, "a new account, not the deleted one");
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_credentials_and_profiles() {
    let data = temp_dir("identifiers");
    seed(&data);
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let (boss, _) = login(
        &c,
        &s,
        "org_default",
        "boss@example.com",
        "a long password 1",
    )
    .await;
    let (pat, _) = register(&c, &s, "pat@example.com", "pat password 1").await;
    let (quinn, _) = register(&c, &s, "quinn@example.com", "quinn password 1").await;
    let (pat_id, quinn_id) = (uid(&pat), uid(&quinn));
    let as_ = |token: &str, m: &'static str, p: String, b: Option<Value>| {
        let (c, s, t) = (&c, &s, token.to_owned());
        async move { call(c, s, m, &p, "org_default", Some(&t), b.as_ref()).await }
    };
    let idents = format!("/users/{pat_id}/identifiers");

    let r = as_(
        &boss,
        "POST",
        idents.clone(),
        Some(json!({"type": "phone", "identifier": "+14155550111"})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    assert_eq!(
        (r.1["type"].clone(), r.1["is_primary"].clone()),
        (json!("phone"), json!(true))
    );
    assert_eq!(r.1["verified_at"], Value::Null);
    let phone_id = r.1["uid"].as_str().unwrap().to_owned();
    let r = as_(
        &boss,
        "POST",
        idents.clone(),
        Some(json!({"type": "email", "identifier": "pat.work@example.com", "verified": true})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    assert_eq!(r.1["is_primary"], false, "pat already has a primary email");
    assert!(
        r.1["verified_at"].is_string(),
        "vouched for by the administrator"
    );
    let work_id = r.1["uid"].as_str().unwrap().to_owned();
    for (body, want) in [
        (
            json!({"type": "phone", "identifier": "+14155550111"}),
            (409, "conflict"),
        ),
        (
            json!({"type": "phone", "identifier": "12"}),
            (422, "validation_error"),
        ),
        (
            json!({"identifier": "quinn@example.com"}),
            (409, "conflict"),
        ),
    ] {
        let r = as_(&boss, "POST", idents.clone(), Some(body.clone())).await;
        assert_eq!(code(&r), (want.0, want.1.into()), "{body}: {}", r.1);
    }
    // Held by pat: not for quinn either.
    let r = as_(
        &boss,
        "POST",
        format!("/users/{quinn_id}/identifiers"),
        Some(json!({"identifier": "+14155550111"})),
    )
    .await;
    assert_eq!(code(&r), (409, "conflict".into()), "{}", r.1);

    // Make the work address primary; pat reads his own identifiers.
    let r = as_(&boss, "POST", format!("{idents}/{work_id}/primary"), None).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let r = as_(&pat, "GET", idents.clone(), None).await;
    assert_eq!(r.1["total"], 3, "{}", r.1);
    let primary: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "email" && i["is_primary"] == true)
        .map(|i| i["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(primary, ["pat.work@example.com"]);
    assert_eq!(as_(&quinn, "GET", idents.clone(), None).await.0, 403);

    // Remove down to one; the last stays.
    let r = as_(&boss, "DELETE", format!("{idents}/{phone_id}"), None).await;
    assert_eq!(r.0, 204, "{}", r.1);
    let r = as_(&boss, "DELETE", format!("{idents}/{phone_id}"), None).await;
    assert_eq!(r.0, 404, "{}", r.1);
    let r = as_(&boss, "GET", idents.clone(), None).await;
    let rest: Vec<String> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rest.len(), 2);
    let r = as_(&boss, "DELETE", format!("{idents}/{}", rest[0]), None).await;
    assert_eq!(r.0, 204, "{}", r.1);
    let r = as_(&boss, "DELETE", format!("{idents}/{}", rest[1]), None).await;
    assert_eq!(
        code(&r),
        (409, "conflict".into()),
        "the last identifier stays: {}",
        r.1
    );
    // A released phone may go to quinn now.
    let r = as_(
        &boss,
        "POST",
        format!("/users/{quinn_id}/identifiers"),
        Some(json!({"identifier": "+14155550111"})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);

    // Credentials: which methods are set up.
    let r = as_(&pat, "GET", format!("/users/{pat_id}/credentials"), None).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["has_password"], true);
    assert!(
        r.1["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("password")),
        "{}",
        r.1
    );
    assert_eq!(
        as_(&quinn, "GET", format!("/users/{pat_id}/credentials"), None)
            .await
            .0,
        403
    );

    // Profiles: one's own to read and change, others' with read:usso/profiles.
    let r = as_(
        &pat,
        "PATCH",
        "/profiles/mine".into(),
        Some(json!({"name": "Pat Q", "avatar_url": "https://img.example.com/p.png"})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["name"], "Pat Q");
    for body in [
        json!({"avatar_url": "http://img.example.com/p.png"}),
        json!({"avatar_url": "javascript:alert(1)"}),
        json!({"name": "x".repeat(500)}),
        json!({"email": "pat@evil.example"}),
    ] {
        let r = as_(&pat, "PATCH", "/profiles/mine".into(), Some(body.clone())).await;
        assert_eq!(
            code(&r),
            (422, "validation_error".into()),
            "{body}: {}",
            r.1
        );
    }
    let r = as_(&pat, "GET", "/profiles/mine".into(), None).await;
    assert_eq!(
        (r.1["name"].clone(), r.1["avatar_url"].clone()),
        (json!("Pat Q"), json!("https://img.example.com/p.png"))
    );
    assert_eq!(r.1["user_id"], pat_id.as_str());
    assert_eq!(
        as_(&quinn, "GET", format!("/profiles/{pat_id}"), None)
            .await
            .0,
        403
    );
    let r = as_(&boss, "GET", format!("/profiles/{pat_id}"), None).await;
    assert_eq!((r.0.as_u16(), r.1["name"].clone()), (200, json!("Pat Q")));
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_manages_users() {
    let data = temp_dir("sdk-admin");
    seed(&data);
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let (_, boss_refresh) = login(
        &c,
        &s,
        "org_default",
        "boss@example.com",
        "a long password 1",
    )
    .await;
    let seen = python_interop(
        "usso_sdk.py",
        &[
            &s.base,
            &boss_refresh,
            "sdk.user@example.com",
            "+14155550199",
        ],
    );
    let created = &seen["created"];
    let uid = created["uid"].as_str().unwrap();
    assert_eq!(created["tenant_id"], "org_default");
    assert_eq!(created["name"], "SDK User");
    assert_eq!(
        created["identifiers"][0]["identifier"],
        "sdk.user@example.com"
    );
    assert_eq!(created["activation_status"], "active");
    let listed: Vec<&str> = seen["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["uid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [uid]);
    assert_eq!(seen["identifier"]["type"], "phone");
    assert_eq!(seen["identifier"]["identifier"], "+14155550199");
    assert_eq!(seen["profile"]["uid"], uid);
    assert_eq!(seen["duplicate"]["status"], 409, "{}", seen["duplicate"]);
    assert_eq!(seen["duplicate"]["body"]["error_code"], "conflict");
    // What the SDK did is really there.
    login(
        &c,
        &s,
        "org_default",
        "sdk.user@example.com",
        "sdk user password 1",
    )
    .await;
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_members_invitations_and_switching() {
    let data = temp_dir("workspaces");
    seed(&data);
    let s = Server::start_manual_clock(&data, free_port(), &[], 0);
    let c = Client::new();
    let (boss, _) = login(
        &c,
        &s,
        "org_default",
        "boss@example.com",
        "a long password 1",
    )
    .await;
    let (pat, pat_refresh) = register(&c, &s, "pat@example.com", "pat password 1").await;
    let (quinn, _) = register(&c, &s, "quinn@example.com", "quinn password 1").await;
    let (wendy, wendy_refresh) = register(&c, &s, "wendy@example.com", "wendy password 1").await;
    let (pat_id, quinn_id, wendy_id) = (uid(&pat), uid(&quinn), uid(&wendy));
    let as_ = |token: &str, m: &'static str, p: String, b: Option<Value>| {
        let (c, s, t) = (&c, &s, token.to_owned());
        async move { call(c, s, m, &p, "org_default", Some(&t), b.as_ref()).await }
    };

    // Workspaces: created by whoever holds create:usso/workspaces.
    let r = as_(
        &boss,
        "POST",
        "/roles".into(),
        Some(json!({"slug": "viewer", "scopes": ["read:usso/workspaces"]})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let mut ids = Vec::new();
    for name in ["Acme Corp", "Globex"] {
        let r = as_(
            &boss,
            "POST",
            "/workspaces".into(),
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(r.0, 201, "{}", r.1);
        assert_eq!(r.1["name"], name);
        ids.push(r.1["id"].as_str().unwrap().to_owned());
    }
    let (w1, w2) = (ids[0].clone(), ids[1].clone());
    let r = as_(
        &pat,
        "POST",
        "/workspaces".into(),
        Some(json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(code(&r), (403, "permission_denied".into()), "{}", r.1);
    for (body, needle) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "color": "red"}), "color"),
        (json!({"name": 5}), "name"),
    ] {
        let r = as_(&boss, "POST", "/workspaces".into(), Some(body.clone())).await;
        assert_eq!(code(&r).0, 422, "{body}: {}", r.1);
        assert!(
            r.1["detail"].as_str().unwrap().contains(needle),
            "{body}: {}",
            r.1
        );
    }

    // Members: pat views W1; what a member sees; what a non-member does not.
    let r = as_(
        &boss,
        "POST",
        format!("/workspaces/{w1}/members"),
        Some(json!({"user_id": pat_id, "roles": ["viewer"]})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["roles"].clone()),
        (201, json!(["viewer"])),
        "{}",
        r.1
    );
    for (body, want) in [
        (json!({"user_id": pat_id}), (409, "conflict")),
        (json!({"user_id": NOBODY}), (422, "validation_error")),
        (
            json!({"user_id": quinn_id, "roles": ["no-such"]}),
            (422, "validation_error"),
        ),
    ] {
        let r = as_(
            &boss,
            "POST",
            format!("/workspaces/{w1}/members"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(code(&r), (want.0, want.1.into()), "{body}: {}", r.1);
    }
    let r = as_(&pat, "GET", "/workspaces".into(), None).await;
    let listed: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        (listed, r.1["total"].clone()),
        (vec![w1.as_str()], json!(1))
    );
    let r = as_(&boss, "GET", "/workspaces".into(), None).await;
    assert_eq!(r.1["total"], 2, "the tenant's administrator sees all");
    assert_eq!(
        as_(&pat, "GET", format!("/workspaces/{w1}"), None).await.0,
        200
    );
    assert_eq!(
        as_(&pat, "GET", format!("/workspaces/{w2}"), None).await.0,
        404
    );
    assert_eq!(
        as_(&pat, "GET", "/workspaces/not-an-id".into(), None)
            .await
            .0,
        404
    );
    let r = as_(&pat, "GET", format!("/workspaces/{w1}/members"), None).await;
    assert_eq!(r.1["items"][0]["user_id"], pat_id.as_str(), "{}", r.1);
    assert_eq!(
        as_(&quinn, "GET", format!("/workspaces/{w1}/members"), None)
            .await
            .0,
        404
    );

    // Switching: the same session's next tokens carry the workspace and its confined scopes.
    let r = as_(
        &pat,
        "POST",
        "/auth/workspace".into(),
        Some(json!({"workspace_id": w1, "refresh_token": pat_refresh})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let (pat_ws, pat_refresh) = (
        r.1["access_token"].as_str().unwrap().to_owned(),
        r.1["refresh_token"].as_str().unwrap().to_owned(),
    );
    let cl = claims(&pat_ws);
    assert_eq!(cl["workspace_id"], w1.as_str());
    assert_eq!(
        cl["session_id"],
        claims(&pat)["session_id"],
        "the same session"
    );
    assert_eq!(cl["roles"], json!(["viewer"]));
    assert_eq!(
        scopes(&pat_ws),
        [format!("read:usso/workspaces?workspace_id={w1}")]
    );
    // A refresh keeps the workspace.
    let r = refresh(&c, &s, &pat_refresh).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        claims(r.1["access_token"].as_str().unwrap())["workspace_id"],
        w1.as_str()
    );
    let pat_refresh = r.1["refresh_token"].as_str().unwrap().to_owned();
    for (body, want) in [
        (
            json!({"workspace_id": w2, "refresh_token": pat_refresh}),
            404,
        ),
        (
            json!({"workspace_id": "ws_x", "refresh_token": pat_refresh}),
            404,
        ),
        (
            json!({"workspace_id": w1, "refresh_token": wendy_refresh}),
            401,
        ),
        (json!({"workspace_id": w1}), 401),
    ] {
        let r = as_(&pat, "POST", "/auth/workspace".into(), Some(body.clone())).await;
        assert_eq!(r.0.as_u16(), want, "{body}: {}", r.1);
    }
    let r = as_(
        &pat,
        "POST",
        "/auth/workspace".into(),
        Some(json!({"workspace_id": null, "refresh_token": pat_refresh})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        claims(r.1["access_token"].as_str().unwrap())["workspace_id"],
        Value::Null
    );
    let pat_refresh = r.1["refresh_token"].as_str().unwrap().to_owned();

    // A workspace administrator (workspace role admin) manages its own workspace only.
    let r = as_(
        &boss,
        "POST",
        format!("/workspaces/{w1}/members"),
        Some(json!({"user_id": wendy_id, "roles": ["admin"]})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let r = as_(
        &wendy,
        "POST",
        "/auth/workspace".into(),
        Some(json!({"workspace_id": w1, "refresh_token": wendy_refresh})),
    )
    .await;
    let wendy_ws = r.1["access_token"].as_str().unwrap().to_owned();
    let r = as_(
        &wendy_ws,
        "POST",
        format!("/workspaces/{w1}/members"),
        Some(json!({"user_id": quinn_id, "roles": ["viewer"]})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let r = as_(
        &wendy_ws,
        "POST",
        format!("/workspaces/{w2}/members"),
        Some(json!({"user_id": quinn_id})),
    )
    .await;
    assert_eq!(code(&r), (403, "permission_denied".into()), "{}", r.1);
    assert_eq!(
        as_(&wendy_ws, "GET", "/users".into(), None).await.0,
        403,
        "nothing tenant-wide"
    );
    let r = as_(
        &wendy_ws,
        "PATCH",
        format!("/workspaces/{w1}"),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["name"].clone()),
        (200, json!("Acme")),
        "{}",
        r.1
    );

    // Changing a member's roles ends their sessions.
    let r = as_(
        &wendy_ws,
        "PATCH",
        format!("/workspaces/{w1}/members/{pat_id}"),
        Some(json!({"roles": []})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["roles"].clone()),
        (200, json!([])),
        "{}",
        r.1
    );
    assert_eq!(
        code(&refresh(&c, &s, &pat_refresh).await).1,
        "session_revoked"
    );

    // Invitations: by email through the outbox, accepted once by the invited address.
    let r = as_(
        &boss,
        "POST",
        format!("/workspaces/{w1}/invitations"),
        Some(json!({"email": "Newbie@Example.com", "roles": ["viewer"]})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    assert_eq!(
        (r.1["email"].clone(), r.1["status"].clone()),
        (json!("newbie@example.com"), json!("pending"))
    );
    assert!(
        r.1.get("token").is_none() && !r.1.to_string().contains("token="),
        "no link in answers"
    );
    let link = crate::support::eventually_within(
        "the invitation email",
        std::time::Duration::from_secs(30),
        || {
            crate::support::dev_messages(&data, "newbie@example.com")
                .iter()
                .find_map(|m| crate::support::token_in(m["text"].as_str()?))
        },
    )
    .await;
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/invitations/accept?token={link}"),
        "org_default",
        None,
        None,
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["workspace_name"].clone()),
        (200, json!("Acme")),
        "{}",
        r.1
    );
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/invitations/accept?token={link}x"),
        "org_default",
        None,
        None,
    )
    .await;
    assert_eq!(r.0, 404, "a wrong secret");
    // Someone else signed in cannot use it.
    let r = as_(
        &quinn,
        "POST",
        "/invitations/accept".into(),
        Some(json!({"token": link})),
    )
    .await;
    assert_eq!(code(&r), (403, "permission_denied".into()), "{}", r.1);
    let (newbie, _) = register(&c, &s, "newbie@example.com", "newbie password 1").await;
    let r = as_(
        &newbie,
        "POST",
        "/invitations/accept".into(),
        Some(json!({"token": link})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        (r.1["workspace"]["id"].clone(), r.1["roles"].clone()),
        (json!(w1), json!(["viewer"]))
    );
    let r = as_(
        &newbie,
        "POST",
        "/invitations/accept".into(),
        Some(json!({"token": link})),
    )
    .await;
    assert_eq!(r.0, 404, "single use: {}", r.1);
    let r = as_(&boss, "GET", format!("/users/{}", uid(&newbie)), None).await;
    assert_eq!(r.1["workspace_ids"], json!([w1]));
    assert!(
        r.1["identifiers"][0]["verified_at"].is_string(),
        "the link proved the address"
    );
    // Revoked and expired invitations do not work.
    let mut links = Vec::new();
    for (who, days, ws) in [("late@example.com", 1, &w2), ("gone@example.com", 7, &w1)] {
        let r = as_(
            &boss,
            "POST",
            format!("/workspaces/{ws}/invitations"),
            Some(json!({"email": who, "expires_in_days": days})),
        )
        .await;
        assert_eq!(r.0, 201, "{}", r.1);
        let id = r.1["id"].as_str().unwrap().to_owned();
        let l = crate::support::eventually_within(
            "the invitation email",
            std::time::Duration::from_secs(30),
            || {
                crate::support::dev_messages(&data, who)
                    .iter()
                    .find_map(|m| crate::support::token_in(m["text"].as_str()?))
            },
        )
        .await;
        links.push((id, l));
    }
    let r = as_(
        &boss,
        "DELETE",
        format!("/workspaces/{w1}/invitations/{}", links[1].0),
        None,
    )
    .await;
    assert_eq!(r.0, 204, "{}", r.1);
    let r = as_(
        &boss,
        "DELETE",
        format!("/workspaces/{w1}/invitations/{}", links[1].0),
        None,
    )
    .await;
    assert_eq!(code(&r), (409, "conflict".into()), "{}", r.1);
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/invitations/accept?token={}", links[1].1),
        "org_default",
        None,
        None,
    )
    .await;
    assert_eq!(r.0, 404, "revoked");
    for (body, needle) in [
        (json!({"email": "not an address"}), "email"),
        (
            json!({"email": "x@example.com", "expires_in_days": 31}),
            "expires_in_days",
        ),
        (
            json!({"email": "x@example.com", "roles": ["no-such"]}),
            "roles",
        ),
    ] {
        let r = as_(
            &boss,
            "POST",
            format!("/workspaces/{w1}/invitations"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(code(&r).0, 422, "{body}: {}", r.1);
        assert!(
            r.1["detail"].as_str().unwrap().contains(needle),
            "{body}: {}",
            r.1
        );
    }
    let r = as_(&boss, "GET", format!("/workspaces/{w1}/invitations"), None).await;
    let statuses: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2, "{}", r.1);
    for st in ["accepted", "revoked"] {
        assert!(statuses.contains(&st), "{statuses:?}");
    }

    // Removing a member; deleting a role taken from workspace members.
    let r = as_(
        &boss,
        "DELETE",
        format!("/workspaces/{w1}/members/{}", uid(&newbie)),
        None,
    )
    .await;
    assert_eq!(r.0, 204, "{}", r.1);
    assert_eq!(
        as_(&newbie, "GET", "/workspaces".into(), None).await.0,
        401,
        "their session ended"
    );
    let r = as_(&boss, "DELETE", "/roles/viewer".into(), None).await;
    assert_eq!(r.0, 204, "{}", r.1);
    let r = as_(
        &boss,
        "GET",
        format!("/workspaces/{w1}/members?limit=100"),
        None,
    )
    .await;
    let quinn_roles = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == quinn_id.as_str())
        .unwrap()["roles"]
        .clone();
    assert_eq!(quinn_roles, json!([]), "{}", r.1);

    // Deactivating a workspace ends its members' sessions and stops switching to it; deleting
    // one takes it from its members.
    let (wendy2, wendy2_refresh) = login(
        &c,
        &s,
        "org_default",
        "wendy@example.com",
        "wendy password 1",
    )
    .await;
    let r = as_(
        &boss,
        "PATCH",
        format!("/workspaces/{w1}"),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        code(&refresh(&c, &s, &wendy2_refresh).await).1,
        "session_revoked"
    );
    let (wendy3, wendy3_refresh) = login(
        &c,
        &s,
        "org_default",
        "wendy@example.com",
        "wendy password 1",
    )
    .await;
    let r = as_(
        &wendy3,
        "POST",
        "/auth/workspace".into(),
        Some(json!({"workspace_id": w1, "refresh_token": wendy3_refresh})),
    )
    .await;
    assert_eq!(r.0, 404, "inactive: {}", r.1);
    let _ = wendy2;
    let r = as_(&boss, "DELETE", format!("/workspaces/{w1}"), None).await;
    assert_eq!(r.0, 204, "{}", r.1);
    assert_eq!(
        as_(&boss, "GET", format!("/workspaces/{w1}"), None).await.0,
        404
    );
    let r = as_(&boss, "GET", format!("/users/{wendy_id}"), None).await;
    assert_eq!(
        (r.1["workspace_ids"].clone(), r.1["workspace_roles"].clone()),
        (json!([]), json!({}))
    );

    // An invitation expires with the clock.
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/invitations/accept?token={}", links[0].1),
        "org_default",
        None,
        None,
    )
    .await;
    assert_eq!(r.0, 200, "still valid: {}", r.1);
    s.advance(86_400 + 1);
    let r = call(
        &c,
        &s,
        "GET",
        &format!("/invitations/accept?token={}", links[0].1),
        "org_default",
        None,
        None,
    )
    .await;
    assert_eq!(r.0, 404, "expired: {}", r.1);
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_managed_over_http() {
    let data = temp_dir("tenants");
    seed(&data);
    let s = Server::start(&data, free_port(), &[]);
    let c = Client::new();
    let (system, _) = login(&c, &s, "org_default", "system", SYSTEM_PASSWORD).await;
    let (boss, _) = login(
        &c,
        &s,
        "org_default",
        "boss@example.com",
        "a long password 1",
    )
    .await;
    let sys = |m: &'static str, p: &str, b: Option<Value>| {
        let (c, s, t, p) = (&c, &s, system.clone(), p.to_owned());
        async move { call(c, s, m, &p, "org_default", Some(&t), b.as_ref()).await }
    };

    let r = sys(
        "POST",
        "/tenants",
        Some(json!({"id": "globex", "name": "Globex",
        "domains": ["SSO.Globex.test"], "activation": "none"})),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    assert_eq!(
        (r.1["id"].clone(), r.1["domains"].clone()),
        (json!("globex"), json!(["sso.globex.test"]))
    );
    assert_eq!(r.1["issuer"], "https://sso.globex.test");
    for (body, want) in [
        (
            json!({"id": "globex", "domains": ["x.globex.test"]}),
            (409, "conflict"),
        ),
        (
            json!({"id": "initech", "domains": ["sso.globex.test"]}),
            (409, "conflict"),
        ),
        (
            json!({"id": "bad id!", "domains": ["x.test"]}),
            (422, "validation_error"),
        ),
        (
            json!({"id": "initech", "domains": ["not a host"]}),
            (422, "validation_error"),
        ),
        (json!({"id": "initech"}), (422, "validation_error")),
        (
            json!({"id": "initech", "domains": ["i.test"], "activation": "sometimes"}),
            (422, "validation_error"),
        ),
        (
            json!({"id": "initech", "domains": ["i.test"], "colour": "red"}),
            (422, "validation_error"),
        ),
    ] {
        let r = sys("POST", "/tenants", Some(body.clone())).await;
        assert_eq!(code(&r), (want.0, want.1.into()), "{body}: {}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/tenants",
        "org_default",
        Some(&boss),
        Some(&json!({"id": "mine", "domains": ["m.test"]})),
    )
    .await;
    assert_eq!(
        code(&r),
        (403, "permission_denied".into()),
        "a tenant administrator: {}",
        r.1
    );
    let r = sys("GET", "/tenants", None).await;
    let ids: Vec<&str> = r.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for id in ["org_default", "acme", "globex"] {
        assert!(ids.contains(&id), "{id}: {ids:?}");
    }
    assert!(!r.1.to_string().contains("sealed_password"));

    // The new tenant works at once, by its domain, with its own administrator role.
    let r = send(
        c.post(s.url(&format!("{API}/auth/register")))
            .header("host", "sso.globex.test")
            .json(&json!({"identifier": "ann@globex.test", "secret": "ann password 1"})),
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(
        claims(r.1["access_token"].as_str().unwrap())["tenant_id"],
        "globex"
    );
    admin(
        &data,
        &[
            "user",
            "create",
            "chief@globex.test",
            "--tenant",
            "globex",
            "--role",
            "admin",
        ],
        &[("USSO_NEW_PASSWORD", "a long password 1")],
    );
    let (chief, _) = login(&c, &s, "globex", "chief@globex.test", "a long password 1").await;
    let as_chief = |m: &'static str, p: &str, b: Option<Value>| {
        let (c, s, t, p) = (&c, &s, chief.clone(), p.to_owned());
        async move { call(c, s, m, &p, "globex", Some(&t), b.as_ref()).await }
    };
    assert_eq!(as_chief("GET", "/roles/admin", None).await.0, 200);
    assert_eq!(as_chief("GET", "/tenants/globex", None).await.0, 200);
    assert_eq!(as_chief("GET", "/tenants/org_default", None).await.0, 404);
    assert_eq!(as_chief("GET", "/tenants", None).await.0, 403);
    // Its policy, not the operator's settings.
    let r = as_chief(
        "PATCH",
        "/tenants/globex",
        Some(json!({"registration_enabled": false, "password_min_length": 12})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["password_min_length"].clone()),
        (200, json!(12)),
        "{}",
        r.1
    );
    for body in [
        json!({"is_active": false}),
        json!({"domains": ["evil.test"]}),
    ] {
        let r = as_chief("PATCH", "/tenants/globex", Some(body.clone())).await;
        assert_eq!(
            code(&r),
            (403, "permission_denied".into()),
            "{body}: {}",
            r.1
        );
    }
    for body in [
        json!({"password_min_length": 3}),
        json!({"tokens": {}}),
        json!([1]),
    ] {
        let r = as_chief("PATCH", "/tenants/globex", Some(body.clone())).await;
        assert_eq!(r.0, 422, "{body}: {}", r.1);
    }
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/register",
        "globex",
        None,
        Some(&json!({"identifier": "bob@globex.test", "secret": "bob password 12"})),
    )
    .await;
    assert_eq!(r.0.as_u16() / 100, 4, "registration is off: {}", r.1);

    // Domains: moved by the system administrator; the old one stops resolving.
    let r = sys(
        "PATCH",
        "/tenants/globex",
        Some(json!({"domains": ["id.globex.test"]})),
    )
    .await;
    assert_eq!(
        (r.0.as_u16(), r.1["domains"].clone()),
        (200, json!(["id.globex.test"])),
        "{}",
        r.1
    );
    let at = |host: &'static str| {
        let (c, s) = (&c, &s);
        async move {
            send(
                c.post(s.url(&format!("{API}/auth/login")))
                    .header("host", host)
                    .json(
                        &json!({"identifier": "chief@globex.test", "secret": "a long password 1"}),
                    ),
            )
            .await
        }
    };
    assert_eq!(at("id.globex.test").await.0, 200);
    assert_eq!(
        code(&at("sso.globex.test").await),
        (400, "tenant_not_found".into())
    );
    let r = sys(
        "PATCH",
        "/tenants/acme",
        Some(json!({"domains": ["id.globex.test"]})),
    )
    .await;
    assert_eq!(code(&r), (409, "conflict".into()), "taken: {}", r.1);

    // The system tenant stays; another one goes with everything it holds.
    let r = sys(
        "PATCH",
        "/tenants/org_default",
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(code(&r), (409, "conflict".into()), "{}", r.1);
    assert_eq!(
        code(&sys("DELETE", "/tenants/org_default", None).await),
        (409, "conflict".into())
    );
    let r = sys("DELETE", "/tenants/globex", None).await;
    assert_eq!(r.0, 204, "{}", r.1);
    assert_eq!(sys("GET", "/tenants/globex", None).await.0, 404);
    assert_eq!(sys("DELETE", "/tenants/globex", None).await.0, 404);
    assert_eq!(
        code(&at("id.globex.test").await),
        (400, "tenant_not_found".into())
    );
    let r = call(
        &c,
        &s,
        "POST",
        "/auth/login",
        "globex",
        None,
        Some(&json!({"identifier": "chief@globex.test", "secret": "a long password 1"})),
    )
    .await;
    assert_eq!(code(&r), (400, "tenant_not_found".into()), "{}", r.1);
    let out = admin(&data, &["tenant", "list"], &[]);
    assert!(!out.contains("globex"), "{out}");
    s.stop();
    std::fs::remove_dir_all(&data).ok();
}
