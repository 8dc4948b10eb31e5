//! The USSO scope grammar and its semantics, following the official Python SDK's
//! `usso.authorization` module (0.33.x) exactly, including its corner cases.
//!
//! Grammar: `<action>:<resource/path>?<key>=<value>&…`.
//! - The action is whatever precedes the first `:` that comes before any `?`; without such a
//!   colon the action is empty. Levels: `none` 0, `read` 10, `create` 20, `update` 30,
//!   `delete` 40, `manage` 50, `admin` 60, `owner` and `*` 90, `superadmin` 100; an unknown or
//!   empty action counts as `read` (10).
//! - The path is split on `/`; an empty path is `*`, empty segments read as `*`.
//! - The query is read like Python's `parse_qs`: pairs split on `&`, `+` is a space, `%XX` is
//!   decoded (invalid UTF-8 becomes U+FFFD), pairs without `=` or with an empty value are
//!   dropped, and the first value of a repeated key wins.
//!
//! Matching a granted scope against a request (path, action, filters):
//! - the last segments must glob-match (`*`, `?` and `[…]` classes as in `fnmatch`,
//!   case-sensitive);
//! - the other segments are compared right to left over the overlapping part; a requested
//!   segment that is empty or `*` matches anything;
//! - if the granted path is longer and any compared granted segment contained `*`, its extra
//!   leading segments must all be `*`. **Corner case kept from Python**: without a wildcard the
//!   extra leading segments are not checked, so `read:media/files` grants `files`;
//! - every filter of the granted scope must be present in the request with a glob-matching
//!   value (`user_id=*` matches any value), so a filtered scope never grants an unfiltered
//!   request;
//! - the granted level must be at least the requested one.
//!
//! [`check_access`] also follows Python: with several request filters, each `(key, value)`
//! pair is tried **on its own**, and access is granted if any scope grants any single pair.
//!
//! Subset (`A` within `B`): `B`'s level ≥ `A`'s, `B`'s path matches `A`'s path (as a request),
//! and every filter of `B` is present in `A` with an equal value.
//!
//! Hostile input: a scope or path longer than [`MAX_SCOPE_LEN`] bytes, or with more than
//! [`MAX_SEGMENTS`] segments or filters, grants nothing and is within nothing. Globbing is
//! linear in the input (no backtracking blow-up). Nothing here panics.

use core::convert::Infallible;
use core::fmt;
use core::str::FromStr;

/// Longest scope (or requested path) considered, in bytes.
pub const MAX_SCOPE_LEN: usize = 1024;
/// Most path segments or filters considered.
pub const MAX_SEGMENTS: usize = 64;

/// The privilege level of an action; unknown or empty actions count as `read` (10).
pub fn action_level(action: &str) -> u8 {
    match action {
        "none" => 0,
        "read" => 10,
        "create" => 20,
        "update" => 30,
        "delete" => 40,
        "manage" => 50,
        "admin" => 60,
        "owner" | "*" => 90,
        "superadmin" => 100,
        _ => 10,
    }
}

/// A parsed scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    action: String,
    segments: Vec<String>,
    filters: Vec<(String, String)>,
    oversized: bool,
}

impl Scope {
    /// Parses a scope. Total: every string reads as some scope (see the module docs).
    pub fn parse(s: &str) -> Scope {
        let oversized = s.len() > MAX_SCOPE_LEN;
        let q = s.find('?').unwrap_or(s.len());
        let (action, path) = match s.find(':') {
            Some(c) if c < q => (&s[..c], &s[c + 1..q]),
            _ => ("", &s[..q]),
        };
        let query = s.get(q + 1..).unwrap_or("");
        let segments = split_path(path);
        let filters = parse_query(query);
        let oversized = oversized || segments.len() > MAX_SEGMENTS || filters.len() > MAX_SEGMENTS;
        Scope {
            action: action.to_owned(),
            segments,
            filters,
            oversized,
        }
    }

    /// The action as written (may be empty).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The privilege level of the action.
    pub fn level(&self) -> u8 {
        action_level(&self.action)
    }

    /// The path, segments joined with `/` (empty segments shown as `*`).
    pub fn path(&self) -> String {
        self.segments.join("/")
    }

    /// The path segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The filters, in order, first value per key.
    pub fn filters(&self) -> &[(String, String)] {
        &self.filters
    }

    fn filter(&self, key: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this scope grants `action` on `path` for a request carrying `filters`.
    pub fn grants(&self, path: &str, action: &str, filters: &[(&str, &str)]) -> bool {
        if self.oversized || path.len() > MAX_SCOPE_LEN {
            return false;
        }
        let requested: Vec<&str> = path.split('/').collect();
        if requested.len() > MAX_SEGMENTS {
            return false;
        }
        path_matches(&self.segments, &requested)
            && self.filters.iter().all(|(k, pattern)| {
                filters
                    .iter()
                    .find(|(rk, _)| rk == k)
                    .is_some_and(|(_, v)| glob(pattern, v))
            })
            && self.level() >= action_level(action)
    }

    /// Whether this scope is within `parent` (the subset rule).
    pub fn is_within(&self, parent: &Scope) -> bool {
        if self.oversized || parent.oversized {
            return false;
        }
        let child_path: Vec<&str> = self.segments.iter().map(String::as_str).collect();
        parent.level() >= self.level()
            && path_matches(&parent.segments, &child_path)
            && parent
                .filters
                .iter()
                .all(|(k, v)| self.filter(k) == Some(v.as_str()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An empty action is written as nothing, unless the path itself has a `:`.
        if !self.action.is_empty() || self.segments.iter().any(|s| s.contains(':')) {
            write!(f, "{}:", self.action)?;
        }
        f.write_str(&self.path())?;
        for (i, (k, v)) in self.filters.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{}={}", QueryEscape(k), QueryEscape(v))?;
        }
        Ok(())
    }
}

impl FromStr for Scope {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Scope::parse(s))
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Scope::parse(&s))
    }
}

/// Whether any granted scope grants the request. With several `filters`, each pair is tried
/// on its own (as the Python SDK does); with none, the request is unfiltered.
pub fn check_access<S: AsRef<str>>(
    granted: &[S],
    path: &str,
    action: &str,
    filters: &[(&str, &str)],
) -> bool {
    let scopes = granted.iter().map(|s| Scope::parse(s.as_ref()));
    if filters.is_empty() {
        return scopes.into_iter().any(|s| s.grants(path, action, &[]));
    }
    scopes.into_iter().any(|s| {
        filters
            .iter()
            .any(|pair| s.grants(path, action, core::slice::from_ref(pair)))
    })
}

/// Whether any granted scope grants the request written as a scope string (its action, path,
/// and all its filters together).
pub fn is_authorized<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    let req = Scope::parse(required);
    if req.oversized {
        return false;
    }
    let path = req.path();
    let filters: Vec<(&str, &str)> = req
        .filters
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let action = if req.action.is_empty() {
        "read"
    } else {
        req.action.as_str()
    };
    granted
        .iter()
        .any(|g| Scope::parse(g.as_ref()).grants(&path, action, &filters))
}

/// Whether every `child` scope is within some `parent` scope (API keys, agents and delegated
/// tokens may only hold such subsets of their creator's scopes).
pub fn all_within<A: AsRef<str>, B: AsRef<str>>(child: &[A], parent: &[B]) -> bool {
    let parents: Vec<Scope> = parent.iter().map(|p| Scope::parse(p.as_ref())).collect();
    child.iter().all(|c| {
        let c = Scope::parse(c.as_ref());
        parents.iter().any(|p| c.is_within(p))
    })
}

fn split_path(path: &str) -> Vec<String> {
    if path.is_empty() {
        return vec!["*".to_owned()];
    }
    path.split('/')
        .take(MAX_SEGMENTS + 1)
        .map(|s| {
            if s.is_empty() {
                "*".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect()
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').take(MAX_SEGMENTS + 1) {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let (k, v) = (unquote_plus(k), unquote_plus(v));
        if !out.iter().any(|(ok, _)| *ok == k) {
            out.push((k, v));
        }
    }
    out
}

fn unquote_plus(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap_or(0) * 16 + hex(b[i + 2]).unwrap_or(0));
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

struct QueryEscape<'a>(&'a str);

impl fmt::Display for QueryEscape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' | '=' | '%' | '+' | '#' | '?' => write!(f, "%{:02X}", c as u32)?,
                ' ' => f.write_str("+")?,
                c => write!(f, "{c}")?,
            }
        }
        Ok(())
    }
}

/// Right-to-left path matching of a granted path against a requested one (see module docs).
fn path_matches<U: AsRef<str>>(user: &[U], req: &[&str]) -> bool {
    let (Some(u_last), Some(r_last)) = (user.last(), req.last()) else {
        return false;
    };
    let u_last = u_last.as_ref();
    if !glob(u_last, r_last) {
        return false;
    }
    let mut wildcard = u_last.contains('*');
    let u_rest = &user[..user.len() - 1];
    let r_rest = &req[..req.len() - 1];
    for (u, r) in u_rest.iter().rev().zip(r_rest.iter().rev()) {
        let u = u.as_ref();
        if !r.is_empty() && !u.is_empty() && *r != "*" && !glob(u, r) {
            return false;
        }
        if u.contains('*') {
            wildcard = true;
        }
    }
    if u_rest.len() > r_rest.len() && wildcard {
        let extra = u_rest.len() - r_rest.len();
        return u_rest[..extra].iter().all(|u| u.as_ref() == "*");
    }
    true
}

/// One pattern element of a glob.
enum Tok {
    Star,
    Any,
    Lit(char),
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

impl Tok {
    fn matches(&self, c: char) -> bool {
        match self {
            Tok::Star => true,
            Tok::Any => true,
            Tok::Lit(l) => *l == c,
            Tok::Class { negated, items } => {
                items.iter().any(|(a, b)| *a <= c && c <= *b) != *negated
            }
        }
    }
}

fn tokenize(pattern: &str) -> Vec<Tok> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if !matches!(toks.last(), Some(Tok::Star)) {
                    toks.push(Tok::Star);
                }
                i += 1;
            }
            '?' => {
                toks.push(Tok::Any);
                i += 1;
            }
            '[' => {
                // fnmatch: `[!…]` negates, a leading `]` is literal; an unclosed `[` is literal.
                let mut j = i + 1;
                let negated = chars.get(j) == Some(&'!');
                if negated {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    toks.push(Tok::Lit('['));
                    i += 1;
                    continue;
                }
                let start = i + 1 + usize::from(negated);
                let body = &chars[start..j];
                let mut items = Vec::new();
                let mut k = 0;
                while k < body.len() {
                    if k + 2 < body.len() && body[k + 1] == '-' {
                        items.push((body[k], body[k + 2]));
                        k += 3;
                    } else {
                        items.push((body[k], body[k]));
                        k += 1;
                    }
                }
                toks.push(Tok::Class { negated, items });
                i = j + 1;
            }
            c => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    toks
}

/// `fnmatch`-style glob (case-sensitive), linear-time: the classic two-pointer algorithm that
/// backtracks only to the last `*`.
pub fn glob(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p = tokenize(pattern);
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(Tok::Star) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(tok) if tok.matches(t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| matches!(t, Tok::Star))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_like_python() {
        let s = Scope::parse("read:media/files/transaction?user_id=123");
        assert_eq!(
            (s.action(), s.path().as_str()),
            ("read", "media/files/transaction")
        );
        assert_eq!(s.filters(), &[("user_id".to_owned(), "123".to_owned())]);
        let s = Scope::parse("media/files/transaction?user_id=123");
        assert_eq!(s.action(), "");
        assert_eq!(Scope::parse("*:*").segments(), &["*".to_owned()]);
        assert_eq!(Scope::parse("media//files").path(), "media/*/files");
        assert_eq!(Scope::parse("read:").path(), "*");
        let s = Scope::parse("read:a?x=1&x=2&y=&z&w=a+b%20c%zz");
        assert_eq!(
            s.filters(),
            &[
                ("x".to_owned(), "1".to_owned()),
                ("w".to_owned(), "a b c%zz".to_owned())
            ]
        );
        // A colon after `?` is not an action separator.
        assert_eq!(Scope::parse("files?t=a:b").action(), "");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "read:media/files?user_id=123",
            "files",
            "*:*",
            "update:a/b?k=a%26b&j=x+y",
            "owner:users/*?user_id=*",
            "read:a/*/c",
        ] {
            let parsed = Scope::parse(s);
            assert_eq!(Scope::parse(&parsed.to_string()), parsed, "{s}");
        }
    }

    #[test]
    fn glob_rules() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("[ab]x", "bx"));
        assert!(glob("[!ab]x", "cx"));
        assert!(glob("[a-c]", "b"));
        assert!(glob("[", "["));
        assert!(!glob("Users", "users"));
        // Linear time on the classic pathological case.
        let text = "a".repeat(20_000);
        let pattern = format!("{}b", "a*".repeat(500));
        assert!(!glob(&pattern, &text));
    }
}
