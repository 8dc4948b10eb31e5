//! The scope table: every rule and example of the contract's scope section, plus edge cases.
//! The expected values were produced by running the official Python SDK's
//! `usso.authorization` (0.33.5) on the same rows (`is_authorized` / `is_subset_scope`),
//! so this table is the compatibility check against the reference implementation.

use usso_shared::scope::{action_level, all_within, check_access, is_authorized, Scope};

/// (granted scope, requested path, requested action, requested filters, Python's answer)
type GrantRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    bool,
);

const GRANTS: &[GrantRow] = &[
    ("read:files", "media/files", "read", &[], true),
    ("read:users", "users/123", "read", &[], false),
    ("read:users/*", "users/123", "read", &[], true),
    ("read:users/*", "users", "read", &[], false),
    ("read:*", "anything/at/all", "read", &[], true),
    ("read:*", "x", "read", &[], true),
    ("read:Users", "users", "read", &[], false),
    ("read:users", "Users", "read", &[], false),
    ("read:media//files", "media/x/files", "read", &[], true),
    ("read:media//files", "other/x/files", "read", &[], false),
    ("read:user_id=*", "x", "read", &[], false),
    ("none:files", "files", "read", &[], false),
    ("none:files", "files", "none", &[], true),
    ("read:files", "files", "create", &[], false),
    ("create:files", "files", "create", &[], true),
    ("update:files", "files", "delete", &[], false),
    ("delete:files", "files", "delete", &[], true),
    ("manage:files", "files", "delete", &[], true),
    ("admin:files", "files", "manage", &[], true),
    ("admin:files", "files", "owner", &[], false),
    ("owner:files", "files", "admin", &[], true),
    ("*:files", "files", "owner", &[], true),
    ("*:files", "files", "superadmin", &[], false),
    ("superadmin:*", "files", "superadmin", &[], true),
    ("superadmin:*", "a/b/c", "owner", &[], true),
    ("bogus:files", "files", "read", &[], true),
    ("bogus:files", "files", "create", &[], false),
    ("files", "files", "read", &[], true),
    ("files", "files", "update", &[], false),
    (":files", "files", "read", &[], true),
    ("read:files", "files", "bogus", &[], true),
    ("read:files", "files", "", &[], true),
    ("*:*", "a/b", "owner", &[], true),
    ("read:media/files", "files", "read", &[], true),
    ("read:a/b/c", "x/b/c", "read", &[], false),
    ("read:a/b/c", "a/b/c", "read", &[], true),
    ("read:*/b/c", "x/b/c", "read", &[], true),
    ("read:*/*/c", "c", "read", &[], true),
    ("read:a/*/c", "c", "read", &[], true),
    ("read:a/*", "x", "read", &[], false),
    ("read:*/files", "files", "read", &[], true),
    ("read:files", "a/b/c/files", "read", &[], true),
    ("read:b/files", "a/b/files", "read", &[], true),
    ("read:c/files", "a/b/files", "read", &[], false),
    ("read:media/*", "media/img.png", "read", &[], true),
    ("read:media/*.png", "media/img.png", "read", &[], true),
    ("read:media/*.png", "media/img.jpg", "read", &[], false),
    ("read:media/img?.png", "media/img1.png", "read", &[], false),
    ("read:media/[ab].txt", "media/a.txt", "read", &[], true),
    ("read:media/[!ab].txt", "media/a.txt", "read", &[], false),
    ("read:a/b", "a//b", "read", &[], true),
    ("read:a/b", "*/b", "read", &[], true),
    ("read:a/b", "a/b/", "read", &[], false),
    ("read:a/b/", "a/b/c", "read", &[], true),
    ("read:", "a/b", "read", &[], true),
    ("read:users/*", "users/1/2", "read", &[], false),
    ("read:users/*/*", "users/1/2", "read", &[], true),
    ("read:files", "", "read", &[], false),
    ("read:*", "", "read", &[], true),
    ("read:files?user_id=u1", "files", "read", &[], false),
    (
        "read:files?user_id=u1",
        "files",
        "read",
        &[("user_id", "u1")],
        true,
    ),
    (
        "read:files?user_id=u1",
        "files",
        "read",
        &[("user_id", "u2")],
        false,
    ),
    (
        "read:files?user_id=*",
        "files",
        "read",
        &[("user_id", "anything")],
        true,
    ),
    (
        "read:files?user_id=u*",
        "files",
        "read",
        &[("user_id", "u42")],
        true,
    ),
    (
        "read:files?user_id=u1",
        "files",
        "read",
        &[("owner_id", "u1")],
        false,
    ),
    (
        "read:files?user_id=u1&ws=w1",
        "files",
        "read",
        &[("user_id", "u1"), ("ws", "w1")],
        true,
    ),
    (
        "read:files?user_id=u1&ws=w1",
        "files",
        "read",
        &[("user_id", "u1")],
        false,
    ),
    ("read:files", "files", "read", &[("user_id", "u1")], true),
    (
        "read:files?user_id=a+b",
        "files",
        "read",
        &[("user_id", "a b")],
        true,
    ),
    (
        "read:files?user_id=a%2Fb",
        "files",
        "read",
        &[("user_id", "a/b")],
        true,
    ),
    ("read:files?user_id=", "files", "read", &[], true),
    (
        "read:files?user_id=U1",
        "files",
        "read",
        &[("user_id", "u1")],
        false,
    ),
];

const SUBSETS: &[(&str, &str, bool)] = &[
    ("read:files", "read:files", true),
    ("read:files", "update:files", true),
    ("update:files", "read:files", false),
    ("read:users/123", "read:users/*", true),
    ("read:users", "read:users/*", false),
    ("read:media/files", "read:files", true),
    ("read:files", "read:media/files", true),
    ("read:files?user_id=u1", "read:files", true),
    ("read:files", "read:files?user_id=u1", false),
    ("read:files?user_id=u1", "read:files?user_id=u1", true),
    ("read:files?user_id=u2", "read:files?user_id=u1", false),
    ("read:files?user_id=u1", "read:files?user_id=*", false),
    ("read:a/b", "superadmin:*", true),
    ("superadmin:*", "owner:*", false),
    ("owner:*", "*:*", true),
    ("bogus:files", "read:files", true),
    ("files", "read:files", true),
    ("none:x", "none:y", false),
    ("read:*", "read:files", false),
    ("read:x/*", "read:*/*", true),
];

#[test]
fn grants_match_the_python_sdk() {
    let mut failures = Vec::new();
    for (granted, path, action, filters, expected) in GRANTS {
        let got = Scope::parse(granted).grants(path, action, filters);
        if got != *expected {
            failures.push(format!(
                "{granted} on {path:?} {action:?} {filters:?}: got {got}, Python says {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn subsets_match_the_python_sdk() {
    for (child, parent, expected) in SUBSETS {
        assert_eq!(
            Scope::parse(child).is_within(&Scope::parse(parent)),
            *expected,
            "{child} within {parent}"
        );
    }
    assert!(all_within(
        &["read:users/1", "read:files"],
        &["read:users/*", "update:files"]
    ));
    assert!(!all_within(
        &["read:users/1", "delete:files"],
        &["read:users/*", "update:files"]
    ));
    assert!(all_within::<&str, &str>(&[], &[]));
}

#[test]
fn check_access_tries_each_filter_pair_alone_like_python() {
    // Python: check_access(["read:files?user_id=u1&ws=w1"], "files", "read",
    //   filters={"user_id": "u1", "ws": "w1"}) is False; with {"user_id":"u1","ws":"w9"} and
    //   scope "read:files?user_id=u1" it is True.
    assert!(!check_access(
        &["read:files?user_id=u1&ws=w1"],
        "files",
        "read",
        &[("user_id", "u1"), ("ws", "w1")]
    ));
    assert!(check_access(
        &["read:files?user_id=u1"],
        "files",
        "read",
        &[("user_id", "u1"), ("ws", "w9")]
    ));
    assert!(check_access(&["read:files"], "files", "read", &[]));
    assert!(!check_access::<&str>(&[], "files", "read", &[]));
    // A required scope string carries all its filters together.
    assert!(is_authorized(
        &["read:files?user_id=u1&ws=w1"],
        "read:files?user_id=u1&ws=w1"
    ));
    assert!(!is_authorized(
        &["read:files?user_id=u1&ws=w1"],
        "read:files?user_id=u1"
    ));
    assert!(is_authorized(
        &["manage:workspaces/*/files"],
        "update:workspaces/w1/files"
    ));
    assert!(!is_authorized(
        &["read:workspaces/*/files"],
        "update:workspaces/w1/files"
    ));
    assert!(is_authorized(
        &["superadmin:*"],
        "owner:tenants/t1?tenant_id=t1"
    ));
}

#[test]
fn levels() {
    for (a, l) in [
        ("none", 0),
        ("read", 10),
        ("create", 20),
        ("update", 30),
        ("delete", 40),
        ("manage", 50),
        ("admin", 60),
        ("owner", 90),
        ("*", 90),
        ("superadmin", 100),
        ("", 10),
        ("READ", 10),
        ("bogus", 10),
    ] {
        assert_eq!(action_level(a), l, "{a}");
    }
}

#[test]
fn hostile_input_grants_nothing_and_never_panics() {
    let long = format!("read:{}", "a/".repeat(2000));
    assert!(!Scope::parse(&long).grants("a", "read", &[]));
    let many_filters = format!(
        "read:*?{}",
        (0..100)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&")
    );
    assert!(!Scope::parse(&many_filters).grants("x", "read", &[]));
    assert!(!Scope::parse("read:*").grants(&"x/".repeat(5000), "read", &[]));
    for s in [
        "",
        ":",
        "?",
        "::",
        "??",
        "%",
        "%%%?%=%",
        "read:?=",
        "\u{0}:\u{0}",
        "🔑:🔒/*?🗝=*",
        "[",
        "read:[/[!]",
    ] {
        let scope = Scope::parse(s);
        let _ = scope.grants("a/b", "read", &[("🗝", "x")]);
        let _ = scope.is_within(&Scope::parse("*:*"));
        assert_eq!(
            Scope::parse(&scope.to_string()).to_string(),
            scope.to_string(),
            "{s:?}"
        );
    }
    // Pathological globs stay fast (linear two-pointer matching).
    let pattern = format!("read:{}b", "*a".repeat(200));
    assert!(!Scope::parse(&pattern).grants(&"a".repeat(900), "read", &[]));
}
