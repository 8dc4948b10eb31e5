//! The USSO scope grammar and its semantics.
//!
//! Scopes read `<action>:<resource/path>?<key>=<value>&…`. The semantics are those of the
//! official Python SDK's `usso.authorization` module (0.33.5, the newest release): where the
//! project's contract is silent or ambiguous this module does exactly what that code does, and
//! `shared/tests/scope_table.rs` checks rows whose expected answers came from running it.
//!
//! # Parsing ([`Scope::parse`], total: every string reads as some scope)
//! - The **action** is the text before the first `:`, provided that `:` comes before the
//!   first `?`; otherwise the action is empty (`files` and `files?t=a:b` have no action).
//! - The **path** is the text between that `:` and the first `?`. An empty path reads as `*`;
//!   it is split on `/` and every empty segment reads as `*` (`media//files` is
//!   `media/*/files`). The path is not percent-decoded, trimmed or case-folded. A `?` ends the
//!   path, so a scope path can never contain a literal `?`.
//! - The **query** (everything after the first `?`) is read like Python's
//!   `urllib.parse.parse_qs` with its defaults: pairs are split on `&` only; a pair without
//!   `=` or with an empty value is dropped; `+` is a space and `%XX` is decoded (invalid UTF-8
//!   becomes U+FFFD, a `%` not followed by two hex digits stays as it is); the **first** value
//!   of a repeated key wins. An empty key (`?=v`) is kept.
//!
//! # Levels ([`action_level`])
//! `none` 0, `read` 10, `create` 20, `update` 30, `delete` 40, `manage` 50, `admin` 60, `owner`
//! and `*` 90, `superadmin` 100. Any other action, including the empty one and differently
//! cased ones (`READ`, `Owner`), counts as `read` (10), for granted and requested actions alike.
//!
//! # Granting ([`Scope::grants`])
//! A scope grants a request (path, action, filters) when all of these hold:
//! - **Last segment**: the requested path's last segment glob-matches the scope's last one.
//! - **Right to left**: the other segments are paired from the right over the overlapping
//!   part; each requested segment must glob-match the scope's, except that a requested
//!   segment that is empty or exactly `*` matches anything (the requested path is split on
//!   `/` as given: its empty segments stay empty, they are not read as `*`).
//! - **Longer scope path**: extra leading scope segments must all be `*`, but (as in Python)
//!   **only when a `*` occurs in the last scope segment or in a compared one**. So
//!   `read:users/*` does not grant `users`, `read:*/files` grants `files`, yet
//!   `read:media/files` grants `files` (see corner case 1 below).
//! - **Filters**: every filter of the scope is present in the request with a value that
//!   glob-matches the scope's value (`user_id=*` matches any value). A filtered scope never
//!   grants an unfiltered request; extra request filters are ignored. With a repeated request
//!   key, its first occurrence counts.
//! - **Level**: the scope's level is at least the requested action's.
//!
//! Globs are Python's `fnmatch` on POSIX: `*` (any run, `/` included, case-sensitive), `?`
//! (one character) and `[…]` / `[!…]` classes with ranges (an unclosed `[` is literal, a
//! reversed range matches nothing). `?` and `[…]` are supported because Python supports them;
//! only `*` decides the "wildcard involved" rule above. Matching is the two-pointer algorithm
//! that only ever resumes at the last `*`: O(pattern × text) at worst, never exponential.
//!
//! # Subsets ([`Scope::is_within`])
//! `A` is within `B` when `B`'s level ≥ `A`'s, `B`'s path matches `A`'s path (with `A`'s
//! path as the request, by the rules above) and every filter of `B` is present in `A` with an
//! **equal** value (no globbing here: `user_id=u1` is not within `user_id=*`). API keys,
//! agents and delegated tokens may only hold scopes within some scope of their creator
//! ([`all_within`]).
//!
//! # Readings chosen
//! - [`check_access`] follows Python's `check_access(..., filters=dict)`: with several request
//!   filters, each `(key, value)` pair is tried **on its own**, and access is granted if any
//!   scope grants any single pair. A scope with two or more filters therefore never grants
//!   through `check_access` with filters; [`is_authorized`] (and [`Scope::grants`]) apply all
//!   request filters together, which is what the contract's filter rule says. An empty filter
//!   slice means an unfiltered request (Python's `filters=None`; Python's `filters={}` would
//!   deny everything, which is not reproduced).
//! - An empty requested action means `read` (Python's `check_access` does `action or
//!   "read"`; its lower-level `is_authorized(..., requested_action="")` would skip the level
//!   check, which is not reproduced).
//! - [`is_authorized`] reads the required scope with [`Scope::parse`], so its empty path
//!   segments are requested as `*` (which matches anything except in the last position).
//!
//! # Corner cases where the `usso` Rust crate (0.4.1) differs; we follow Python
//! 1. Python skips a compared segment when the requested one is **empty** (`read:a/b` grants
//!    `a//b`); the crate does not.
//! 2. Python globs with `fnmatch` (`?` and `[…]` too); the crate knows only `*`.
//! 3. Python decodes the query with `parse_qs` (`+`, `%XX`, empty values dropped, first value
//!    wins); the crate keeps raw text, empty values and the last value.
//! 4. Python's `check_access` tries each request filter pair alone (above); the crate passes
//!    them together.
//!
//! The first "corner case kept" of `docs/scopes.md` (`read:media/files` grants `files`) is
//! where Python (and the crate) read the contract's "a longer user path may only add leading
//! `*` segments" as applying only when a wildcard is involved.
//!
//! # Hostile input
//! A scope whose canonical text (as [`Display`](fmt::Display) writes it) is longer than
//! [`MAX_SCOPE_LEN`] bytes, or that has more than [`MAX_SEGMENTS`] path segments or filters,
//! grants nothing and is within nothing (and nothing is within it); see
//! [`Scope::is_within_limits`]. A request whose path is longer than [`MAX_SCOPE_LEN`] bytes or
//! has more than [`MAX_SEGMENTS`] segments, or with more than [`MAX_SEGMENTS`] filters or a
//! filter key or value longer than [`MAX_SCOPE_LEN`] bytes, is granted by nothing. Parsing is
//! linear in the input, and nothing in this module panics.

use core::convert::Infallible;
use core::fmt::{self, Write as _};
use core::str::FromStr;

/// The longest scope (in canonical form), requested path, or request filter key or value
/// considered, in bytes. Anything longer grants nothing / is granted nothing.
pub const MAX_SCOPE_LEN: usize = 1024;

/// The most path segments, or filters, a scope or a request may have.
pub const MAX_SEGMENTS: usize = 64;

/// The privilege level of an action (case-sensitive): `none` 0, `read` 10, `create` 20,
/// `update` 30, `delete` 40, `manage` 50, `admin` 60, `owner` and `*` 90, `superadmin` 100.
/// Anything else, including the empty action, counts as `read` (10).
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

/// A parsed scope: action, path and filters (see the module docs for how text reads).
///
/// Two scopes are equal when their action, path and filters (in order) are equal; parsing the
/// [`Display`](fmt::Display) text of a scope gives back an equal scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    action: String,
    /// Canonical path: segments joined with `/`, none of them empty.
    path: String,
    /// Decoded filters, first value per key, in order of first appearance.
    filters: Vec<(String, String)>,
    /// Within [`MAX_SCOPE_LEN`] / [`MAX_SEGMENTS`].
    within_limits: bool,
}

impl Scope {
    /// Reads a scope. Total: every string reads as some scope (see the module docs).
    pub fn parse(s: &str) -> Scope {
        let query_at = s.find('?').unwrap_or(s.len());
        let head = s.get(..query_at).unwrap_or("");
        let (action, raw_path) = match head.split_once(':') {
            Some((action, path)) => (action, path),
            None => ("", head),
        };
        let query = s.get(query_at + 1..).unwrap_or("");

        let path = canonical_path(raw_path);
        let segment_count = path.split('/').count();
        let filters = parse_query(query);
        let mut scope = Scope {
            action: action.to_owned(),
            path,
            filters,
            within_limits: true,
        };
        let mut counter = ByteCount(0);
        // Writing into a counter cannot fail.
        let _ = write!(counter, "{scope}");
        scope.within_limits = counter.0 <= MAX_SCOPE_LEN
            && segment_count <= MAX_SEGMENTS
            && scope.filters.len() <= MAX_SEGMENTS;
        scope
    }

    /// The action as written (may be empty, or unknown; see [`Scope::level`]).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The privilege level of the action ([`action_level`]).
    pub fn level(&self) -> u8 {
        action_level(&self.action)
    }

    /// The canonical path: its segments joined with `/`, empty segments (and an empty path)
    /// shown as `*`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path segments, left to right (never empty strings).
    pub fn segments(&self) -> core::str::Split<'_, char> {
        self.path.split('/')
    }

    /// The filters, decoded, first value per key, in order of first appearance.
    pub fn filters(&self) -> &[(String, String)] {
        &self.filters
    }

    /// The value of filter `key`, if the scope has it.
    pub fn filter(&self, key: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this scope is small enough to be considered at all (see the module docs on
    /// hostile input). A scope outside the limits grants nothing and is within nothing.
    pub fn is_within_limits(&self) -> bool {
        self.within_limits
    }

    /// Whether this one scope grants `action` on `path` for a request carrying `filters`
    /// (all of them together; see the module docs for the rules).
    pub fn grants(&self, path: &str, action: &str, filters: &[(&str, &str)]) -> bool {
        if !self.within_limits || !request_within_limits(path, filters) {
            return false;
        }
        let granted: Vec<&str> = self.segments().collect();
        let requested: Vec<&str> = path.split('/').collect();
        path_matches(&granted, &requested)
            && self.filters.iter().all(|(key, pattern)| {
                filters
                    .iter()
                    .find(|(k, _)| k == key)
                    .is_some_and(|(_, value)| glob(pattern, value))
            })
            && self.level() >= action_level(action)
    }

    /// Whether this scope is within `parent` (the subset rule): `parent`'s level is at least
    /// this one's, `parent`'s path matches this path, and every filter of `parent` is present
    /// here with an equal value.
    pub fn is_within(&self, parent: &Scope) -> bool {
        if !self.within_limits || !parent.within_limits {
            return false;
        }
        let parent_segments: Vec<&str> = parent.segments().collect();
        let own_segments: Vec<&str> = self.segments().collect();
        parent.level() >= self.level()
            && path_matches(&parent_segments, &own_segments)
            && parent
                .filters
                .iter()
                .all(|(key, value)| self.filter(key) == Some(value.as_str()))
    }
}

impl fmt::Display for Scope {
    /// The canonical text: `action:path?k=v&…`. The `action:` part is left out when the
    /// action is empty, unless the path holds a `:`. Filter keys and values are escaped so
    /// that they read back the same (`%`, `&`, `=`, `+`, `#` as `%XX`, a space as `+`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.action.is_empty() || self.path.contains(':') {
            f.write_str(&self.action)?;
            f.write_char(':')?;
        }
        f.write_str(&self.path)?;
        for (i, (key, value)) in self.filters.iter().enumerate() {
            f.write_char(if i == 0 { '?' } else { '&' })?;
            write_escaped(f, key)?;
            f.write_char('=')?;
            write_escaped(f, value)?;
        }
        Ok(())
    }
}

impl FromStr for Scope {
    type Err = Infallible;

    /// Same as [`Scope::parse`]; never fails.
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Scope::parse(s))
    }
}

impl serde::Serialize for Scope {
    /// A scope serialises as its canonical text.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    /// A scope deserialises from any string, read by [`Scope::parse`].
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Scope::parse(&text))
    }
}

/// Whether any `granted` scope grants `action` on `path`.
///
/// Like Python's `check_access(..., filters=dict)`: with no `filters` the request is
/// unfiltered; with several, each `(key, value)` pair is tried on its own and one single pair
/// granted by one scope is enough (so a scope with two or more filters never grants here when
/// filters are given; use [`is_authorized`] or [`Scope::grants`] to apply them together). An
/// empty `action` means `read`.
pub fn check_access<S: AsRef<str>>(
    granted: &[S],
    path: &str,
    action: &str,
    filters: &[(&str, &str)],
) -> bool {
    if !request_within_limits(path, filters) {
        return false;
    }
    granted.iter().any(|g| {
        let scope = Scope::parse(g.as_ref());
        if filters.is_empty() {
            scope.grants(path, action, &[])
        } else {
            filters
                .iter()
                .any(|pair| scope.grants(path, action, core::slice::from_ref(pair)))
        }
    })
}

/// Whether any `granted` scope grants the request written as the scope `required`: its path,
/// its action (empty means `read`) and all its filters together.
pub fn is_authorized<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    let required = Scope::parse(required);
    if !required.within_limits {
        return false;
    }
    let filters: Vec<(&str, &str)> = required
        .filters
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    granted
        .iter()
        .any(|g| Scope::parse(g.as_ref()).grants(&required.path, &required.action, &filters))
}

/// Whether every `child` scope is within some `parent` scope ([`Scope::is_within`]): API
/// keys, agents and delegated tokens may only hold such subsets of their creator's scopes.
/// An empty `child` list is within anything.
pub fn all_within<A: AsRef<str>, B: AsRef<str>>(child: &[A], parent: &[B]) -> bool {
    let parents: Vec<Scope> = parent.iter().map(|p| Scope::parse(p.as_ref())).collect();
    child.iter().all(|c| {
        let c = Scope::parse(c.as_ref());
        parents.iter().any(|p| c.is_within(p))
    })
}

/// `fnmatch`-style glob on POSIX (case-sensitive): `*` matches any run of characters, `?`
/// any one character, `[…]` one character of a class (`[!…]` negated, `a-z` ranges, a `]`
/// right after the opening is literal, an unclosed `[` is literal). Runs in
/// O(pattern × text) at worst: the two-pointer algorithm resumes only at the last `*`.
pub fn glob(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?', '[']) {
        return pattern == text;
    }
    let tokens = compile(pattern);
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    // After a `*`: the token following it, and the text position it is tried from.
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match (tokens.get(p), text.get(t)) {
            (Some(Token::Star), _) => {
                p += 1;
                resume = Some((p, t));
            }
            (Some(token), Some(&c)) if token.matches(c) => {
                p += 1;
                t += 1;
            }
            _ => match resume {
                Some((after_star, from)) => {
                    p = after_star;
                    t = from + 1;
                    resume = Some((after_star, from + 1));
                }
                None => return false,
            },
        }
    }
    tokens
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|token| matches!(token, Token::Star)))
}

/// One element of a compiled glob.
enum Token {
    Star,
    AnyOne,
    Literal(char),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Star | Token::AnyOne => true,
            Token::Literal(l) => *l == c,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// Compiles a glob the way Python's `fnmatch.translate` reads it. Linear in the pattern.
fn compile(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let n = chars.len();
    // close_at[i]: the first `]` at or after i (n if none), so classes are found in one pass.
    let mut close_at = vec![n; n + 1];
    for i in (0..n).rev() {
        close_at[i] = if chars[i] == ']' { i } else { close_at[i + 1] };
    }
    let mut tokens = Vec::with_capacity(n);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '*' => {
                if !matches!(tokens.last(), Some(Token::Star)) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::AnyOne);
                i += 1;
            }
            '[' => {
                let negated = chars.get(i + 1) == Some(&'!');
                let body_start = i + 1 + usize::from(negated);
                // A `]` first in the class is a member, not the end.
                let search_from = body_start + usize::from(chars.get(body_start) == Some(&']'));
                let close = close_at.get(search_from).copied().unwrap_or(n);
                match chars.get(body_start..close) {
                    Some(body) if close < n => {
                        tokens.push(Token::Class {
                            negated,
                            ranges: class_ranges(body),
                        });
                        i = close + 1;
                    }
                    _ => {
                        tokens.push(Token::Literal('['));
                        i += 1;
                    }
                }
            }
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    tokens
}

/// The members of a class body: `x-y` is a range (empty when reversed), anything else a
/// single character; a `-` first or last is literal.
fn class_ranges(body: &[char]) -> Vec<(char, char)> {
    let mut ranges = Vec::with_capacity(body.len());
    let mut k = 0;
    while let Some(&lo) = body.get(k) {
        match (body.get(k + 1), body.get(k + 2)) {
            (Some('-'), Some(&hi)) => {
                ranges.push((lo, hi));
                k += 3;
            }
            _ => {
                ranges.push((lo, lo));
                k += 1;
            }
        }
    }
    ranges
}

/// Right-to-left matching of a scope's path segments against requested ones.
fn path_matches(granted: &[&str], requested: &[&str]) -> bool {
    let (Some((g_last, g_rest)), Some((r_last, r_rest))) =
        (granted.split_last(), requested.split_last())
    else {
        return false;
    };
    if !glob(g_last, r_last) {
        return false;
    }
    let mut wildcard = g_last.contains('*');
    for (g, r) in g_rest.iter().rev().zip(r_rest.iter().rev()) {
        if !r.is_empty() && !g.is_empty() && *r != "*" && !glob(g, r) {
            return false;
        }
        wildcard |= g.contains('*');
    }
    match g_rest.len().checked_sub(r_rest.len()) {
        Some(extra) if extra > 0 && wildcard => g_rest
            .get(..extra)
            .is_some_and(|lead| lead.iter().all(|g| *g == "*")),
        _ => true,
    }
}

/// Whether a request is small enough to be considered.
fn request_within_limits(path: &str, filters: &[(&str, &str)]) -> bool {
    path.len() <= MAX_SCOPE_LEN
        && path.split('/').nth(MAX_SEGMENTS).is_none()
        && filters.len() <= MAX_SEGMENTS
        && filters
            .iter()
            .all(|(k, v)| k.len() <= MAX_SCOPE_LEN && v.len() <= MAX_SCOPE_LEN)
}

/// The canonical path: empty reads as `*`, and so does every empty segment.
fn canonical_path(raw: &str) -> String {
    if raw.is_empty() {
        return "*".to_owned();
    }
    let mut out = String::with_capacity(raw.len() + 1);
    for (i, segment) in raw.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if segment.is_empty() { "*" } else { segment });
    }
    out
}

/// Reads a query like Python's `parse_qs(query)` keeping the first value per key. Stops after
/// [`MAX_SEGMENTS`] + 1 distinct keys (such a scope is outside the limits anyway), which keeps
/// the duplicate check linear.
fn parse_query(query: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in query.split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let key = unquote_plus(key);
        if out.iter().any(|(k, _)| *k == key) {
            continue;
        }
        out.push((key, unquote_plus(value)));
        if out.len() > MAX_SEGMENTS {
            break;
        }
    }
    out
}

/// Python's `unquote(s.replace('+', ' '))`: `%XX` decoded, invalid UTF-8 replaced.
fn unquote_plus(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let decoded = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex_value(h).zip(hex_value(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if b == b'+' { b' ' } else { b });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Writes a filter key or value so that [`unquote_plus`] reads it back unchanged.
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '%' | '&' | '=' | '+' | '#' => write!(f, "%{:02X}", u32::from(c))?,
            ' ' => f.write_char('+')?,
            c => f.write_char(c)?,
        }
    }
    Ok(())
}

/// Counts the bytes written through it.
struct ByteCount(usize);

impl fmt::Write for ByteCount {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_like_python_parse_scope() {
        // The examples of Python's `parse_scope` docstring.
        let s = Scope::parse("read:media/files/transaction?user_id=123");
        assert_eq!((s.action(), s.path()), ("read", "media/files/transaction"));
        assert_eq!(s.filters(), owned(&[("user_id", "123")]).as_slice());
        let s = Scope::parse("media/files/transaction?user_id=123");
        assert_eq!((s.action(), s.path()), ("", "media/files/transaction"));
        let s = Scope::parse("*:*");
        assert_eq!((s.action(), s.path(), s.level()), ("*", "*", 90));
        assert_eq!(Scope::parse("media//files").path(), "media/*/files");
        assert_eq!(
            Scope::parse("a//b/").segments().collect::<Vec<_>>(),
            ["a", "*", "b", "*"]
        );

        assert_eq!(Scope::parse("read:").path(), "*");
        assert_eq!(Scope::parse("").path(), "*");
        assert_eq!(Scope::parse(":").action(), "");
        assert_eq!(Scope::parse("a:b:c").path(), "b:c");
        // A colon after `?` is no action separator.
        let s = Scope::parse("files?t=a:b");
        assert_eq!((s.action(), s.path()), ("", "files"));
        assert_eq!(s.filter("t"), Some("a:b"));
        // `?` ends the path.
        assert_eq!(Scope::parse("read:img?.png").path(), "img");
    }

    #[test]
    fn query_reads_like_parse_qs() {
        let s = Scope::parse("read:a?x=1&x=2&y=&z&w=a+b%20c%zz&=e&&%E2%82%AC=%2B&u=%ff%C3");
        assert_eq!(
            s.filters(),
            owned(&[
                ("x", "1"),
                ("w", "a b c%zz"),
                ("", "e"),
                ("€", "+"),
                ("u", "\u{fffd}\u{fffd}"),
            ])
            .as_slice()
        );
        assert_eq!(s.filter("y"), None);
        // `;` is no separator; `=` inside a value stays.
        let s = Scope::parse("r:a?k=v;j=w&m=a=b");
        assert_eq!(
            s.filters(),
            owned(&[("k", "v;j=w"), ("m", "a=b")]).as_slice()
        );
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "read:media/files?user_id=123",
            "files",
            "*:*",
            ":a:b",
            "read:",
            "",
            "?=v",
            "update:a/b?k=a%26b&j=x+y&p=%25%3D%2B%23",
            "owner:users/*?user_id=*",
            "read:a//c/",
            "read:a?x=1&x=2&y=&z",
            "🔑:🔒/*?🗝=*",
            "read:[/[!]?k=%ff",
        ] {
            let parsed = Scope::parse(text);
            let shown = parsed.to_string();
            assert_eq!(Scope::parse(&shown), parsed, "{text:?} shown as {shown:?}");
            assert_eq!(Scope::parse(&shown).to_string(), shown, "{text:?}");
        }
        assert_eq!(
            Scope::parse("read:a//b?x=1&x=2&y=").to_string(),
            "read:a/*/b?x=1"
        );
        assert_eq!(Scope::parse(":a:b").to_string(), ":a:b");
        assert_eq!(Scope::parse(":files").to_string(), "files");
        assert_eq!("read:x".parse::<Scope>(), Ok(Scope::parse("read:x")));
    }

    #[test]
    fn serde_uses_the_canonical_text() {
        let s = Scope::parse("read:a//b?k=a b");
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(json, "\"read:a/*/b?k=a+b\"");
        let back: Option<Scope> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(s));
    }

    #[test]
    fn glob_follows_fnmatch() {
        assert!(glob("*", ""));
        assert!(glob("**", ""));
        assert!(!glob("?", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*c", "a/b/c"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
        assert!(glob("*a", "aaa"));
        assert!(!glob("a*a", "a"));
        assert!(glob("[ab]x", "bx"));
        assert!(!glob("[ab]x", "cx"));
        assert!(glob("[!ab]x", "cx"));
        assert!(!glob("[!ab]x", "ax"));
        assert!(glob("[a-c]", "b"));
        assert!(!glob("[c-a]", "b"), "a reversed range matches nothing");
        assert!(glob("[!c-a]", "b"), "negated empty class matches anything");
        assert!(glob("[]]", "]"));
        assert!(glob("[!]]", "a"));
        assert!(glob("[a-]", "-"));
        assert!(glob("[-a]", "-"));
        assert!(glob("[a-c-e]", "-"));
        assert!(!glob("[a-c-e]", "d"));
        assert!(glob("[", "["));
        assert!(glob("[!]", "[!]"));
        assert!(glob("[]", "[]"));
        assert!(glob("a[", "a["));
        assert!(glob("[*]", "*"));
        assert!(!glob("[*]", "x"));
        assert!(glob("é?", "éü"));
        assert!(!glob("Users", "users"));
        assert!(glob("\\*", "\\x"), "no escaping: backslash is literal");
    }

    #[test]
    fn glob_is_not_exponential() {
        let text = "a".repeat(20_000);
        let pattern = format!("{}b", "a*".repeat(500));
        assert!(!glob(&pattern, &text));
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!glob(&pattern, &text));
        // Many unclosed `[` compile in one pass.
        let pattern = "[".repeat(100_000);
        assert!(glob(&pattern, &pattern));
    }

    #[test]
    fn path_matching_rules() {
        let m = |g: &str, r: &str| {
            let g: Vec<&str> = g.split('/').collect();
            let r: Vec<&str> = r.split('/').collect();
            path_matches(&g, &r)
        };
        assert!(m("files", "media/files"));
        assert!(!m("users", "users/123"));
        assert!(m("users/*", "users/123"));
        assert!(!m("users/*", "users"));
        assert!(m("*/files", "files"));
        assert!(
            m("media/files", "files"),
            "no wildcard: extra lead unchecked"
        );
        assert!(!m("a/*", "x"), "wildcard involved: extra lead must be `*`");
        assert!(m("a/*/files", "files"), "the uncompared `*` does not count");
        assert!(m("a/b", "x//b") == m("a/b", "*/b"));
    }

    #[test]
    fn limits() {
        let s = Scope::parse(&format!("read:{}", "a/".repeat(64)));
        assert!(!s.is_within_limits(), "65 segments");
        let s = Scope::parse(&format!("read:{}", "a/".repeat(63)));
        assert!(s.is_within_limits(), "64 segments");
        let s = Scope::parse(&format!("read:{}", "x".repeat(1019)));
        assert_eq!(s.to_string().len(), 1024);
        assert!(s.is_within_limits());
        assert!(s.grants(&"x".repeat(1019), "read", &[]));
        let s = Scope::parse(&format!("read:{}", "x".repeat(1020)));
        assert!(!s.is_within_limits());
        assert!(!s.grants(&"x".repeat(1020), "read", &[]));
        // Junk pairs do not count and are not truncated away: the filter still applies.
        let s = Scope::parse(&format!("read:files?{}user_id=u1", "&".repeat(2000)));
        assert!(s.is_within_limits());
        assert!(!s.grants("files", "read", &[]));
        assert!(s.grants("files", "read", &[("user_id", "u1")]));
        // Too many filters: the scope is outside the limits, also after a round trip.
        let many = (0..100).map(|i| format!("k{i}=v")).collect::<Vec<_>>();
        let s = Scope::parse(&format!("read:*?{}", many.join("&")));
        assert!(!s.is_within_limits());
        assert_eq!(Scope::parse(&s.to_string()), s);
    }
}
