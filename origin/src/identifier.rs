//! Canonical identifiers: email (lower-cased), phone (E.164) and username (lower-cased, a small
//! alphabet). The canonical form is what uniqueness is keyed on (`email:a@example.com`).

use serde::{Deserialize, Serialize};
use usso_shared::{Error, ErrorCode, Result};

/// The kind of an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// An email address.
    Email,
    /// A phone number in E.164.
    Phone,
    /// A username.
    Username,
}

impl IdentifierKind {
    /// `email`, `phone` or `username`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Username => "username",
        }
    }
}

/// A canonical identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// Kind.
    pub kind: IdentifierKind,
    /// Canonical value.
    pub value: String,
}

/// Usernames nobody can register (the system administrator is created by the server itself).
pub const RESERVED_USERNAMES: &[&str] = &["system", "root", "me", "null", "undefined", "admin"];

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn shown(raw: &str) -> String {
    let s: String = raw.chars().filter(|c| !c.is_control()).take(64).collect();
    if raw.chars().count() > 64 {
        format!("{s}…")
    } else {
        s
    }
}

impl Identifier {
    /// Parses a raw identifier; `hint` is the request's `type` (`email`, `phone`, `username`).
    /// Without a hint: `@` means email, a leading `+` or `00` or only phone punctuation and
    /// digits means phone, anything else a username.
    pub fn parse(raw: &str, hint: Option<&str>) -> Result<Self> {
        if raw.len() > 1024 {
            return Err(invalid("identifier is too long"));
        }
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(invalid("identifier is required"));
        }
        let kind = match hint {
            Some("email") => IdentifierKind::Email,
            Some("phone") => IdentifierKind::Phone,
            Some("username") => IdentifierKind::Username,
            Some(other) => {
                return Err(invalid(format!(
                    "unknown identifier type `{}`",
                    shown(other)
                )))
            }
            None if raw.contains('@') => IdentifierKind::Email,
            None if looks_like_phone(raw) => IdentifierKind::Phone,
            None => IdentifierKind::Username,
        };
        let value = match kind {
            IdentifierKind::Email => parse_email(raw)?,
            IdentifierKind::Phone => parse_phone(raw, None)?,
            IdentifierKind::Username => parse_username(raw)?,
        };
        Ok(Self { kind, value })
    }

    /// The document key: `kind:value`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.value)
    }
}

fn looks_like_phone(raw: &str) -> bool {
    let digits = raw.bytes().filter(u8::is_ascii_digit).count();
    digits >= 3
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'.' | b'(' | b')'))
}

/// Canonical email: trimmed, lower-cased, one `@`, local part 1–64 bytes, a dotted domain of
/// labels 1–63 long (letters, digits, `-`, non-ASCII letters for IDN), at most 254 bytes.
pub fn parse_email(raw: &str) -> Result<String> {
    let e = raw.trim().to_lowercase();
    if e.len() > 254 {
        return Err(invalid("email is longer than 254 bytes"));
    }
    if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "email must not contain spaces or control characters",
        ));
    }
    let (local, domain) = match e.split_once('@') {
        Some((l, d)) if !d.contains('@') => (l, d),
        _ => {
            return Err(invalid(format!(
                "`{}` is not an email address (exactly one @)",
                shown(raw)
            )))
        }
    };
    if local.is_empty() || local.len() > 64 {
        return Err(invalid("the part before @ must be 1-64 bytes"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(invalid("the part before @ has misplaced dots"));
    }
    if local.chars().any(|c| {
        matches!(
            c,
            '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']' | '\\'
        )
    }) {
        return Err(invalid(
            "the part before @ has characters email addresses cannot use here",
        ));
    }
    if domain.len() > 253 || !domain.contains('.') {
        return Err(invalid(
            "the email domain must contain a dot and be at most 253 bytes",
        ));
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())
            });
        if !ok {
            return Err(invalid(format!(
                "`{}` is not a valid email domain",
                shown(domain)
            )));
        }
    }
    Ok(e)
}

/// Canonical phone in E.164: spaces, dashes, dots and parentheses removed, `00` read as `+`,
/// then `+` and 8–15 digits not starting with 0. A national number (leading 0) is accepted
/// only with a default country code (e.g. `98`): `0912…` becomes `+98912…`.
pub fn parse_phone(raw: &str, default_country_code: Option<&str>) -> Result<String> {
    let mut s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if let Some(rest) = s.strip_prefix("00") {
        s = format!("+{rest}");
    }
    if !s.starts_with('+') {
        match (default_country_code, s.strip_prefix('0')) {
            (Some(cc), Some(national))
                if cc.bytes().all(|b| b.is_ascii_digit()) && !cc.is_empty() =>
            {
                s = format!("+{cc}{national}");
            }
            _ => {
                return Err(invalid(
                    "phone numbers must be in international format, e.g. +14155550123",
                ))
            }
        }
    }
    let digits = &s[1..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("a phone number has only digits after +"));
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(invalid(
            "an E.164 phone number has 8-15 digits and no leading 0 after +",
        ));
    }
    Ok(s)
}

/// Canonical username: 3–32 of ASCII letters, digits, `_`, `.`, `-`, starting with a letter or
/// digit, lower-cased; reserved names are refused.
pub fn parse_username(raw: &str) -> Result<String> {
    let u = raw.trim().to_ascii_lowercase();
    let n = u.chars().count();
    if !(3..=32).contains(&n) {
        return Err(invalid("a username has 3-32 characters"));
    }
    if !u
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(invalid("a username uses only a-z, 0-9, `_`, `.` and `-`"));
    }
    if !u.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(invalid("a username starts with a letter or digit"));
    }
    if RESERVED_USERNAMES.contains(&u.as_str()) {
        return Err(invalid(format!("the username `{u}` is reserved")));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use IdentifierKind::*;
        let ok: &[(&str, Option<&str>, IdentifierKind, &str)] = &[
            ("Ada@Example.COM", None, Email, "ada@example.com"),
            (
                "  a.b+tag@sub.example.org ",
                None,
                Email,
                "a.b+tag@sub.example.org",
            ),
            ("émilie@exämple.com", None, Email, "émilie@exämple.com"),
            ("+98 912 345 6789", None, Phone, "+989123456789"),
            ("0098 (912) 345-6789", None, Phone, "+989123456789"),
            ("+1.415.555.0123", None, Phone, "+14155550123"),
            ("Bob_the.User-1", None, Username, "bob_the.user-1"),
            ("12345", Some("username"), Username, "12345"),
            ("x@y.io", Some("email"), Email, "x@y.io"),
        ];
        for (raw, hint, kind, value) in ok {
            let id = Identifier::parse(raw, *hint).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!((id.kind, id.value.as_str()), (*kind, *value), "{raw}");
        }
        let bad: &[(&str, Option<&str>)] = &[
            ("", None),
            ("   ", None),
            ("a@b@c.com", None),
            ("@example.com", None),
            ("a@example", None),
            ("a@-example.com", None),
            ("a@exa mple.com", None),
            ("a..b@example.com", None),
            ("\u{0000}@x.com", None),
            ("+0123456789", None),
            ("+1234567", None),
            ("+1234567890123456", None),
            ("0912 345 6789", None),
            ("ab", None),
            ("system", None),
            ("Admin", None),
            ("_lead", None),
            ("用户名", None),
            ("💥@💥.com", None),
            ("a@b.co", Some("sms")),
            ("a@b.co", Some("phone")),
        ];
        for (raw, hint) in bad {
            let e = Identifier::parse(raw, *hint).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ValidationError, "{raw:?}");
            assert!(
                e.detail().chars().count() < 200,
                "{raw:?}: detail stays short"
            );
        }
    }

    #[test]
    fn national_numbers_need_a_country() {
        assert_eq!(
            parse_phone("0912 345 6789", Some("98")).unwrap(),
            "+989123456789"
        );
        assert!(parse_phone("0912 345 6789", None).is_err());
    }

    #[test]
    fn hostile_sizes_do_not_panic() {
        let huge = "a".repeat(100_000);
        assert!(Identifier::parse(&huge, None).is_err());
        assert!(Identifier::parse(&format!("{huge}@x.com"), None).is_err());
        assert!(Identifier::parse(&"9".repeat(5000), None).is_err());
        assert_eq!(
            Identifier::parse("a@b.co", None).unwrap().key(),
            "email:a@b.co"
        );
    }
}
