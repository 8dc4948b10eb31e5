//! Canonical login identifiers: e-mail addresses, phone numbers (E.164) and usernames.
//!
//! [`Identifier::parse`] turns what a user typed into one canonical value per account, so
//! `Ada@Example.COM` and `ada@example.com` are the same identifier and `0098 912 123-4567` and
//! `+989121234567` are the same phone. [`Identifier::key`] (`kind:value`) is the document key
//! that makes identifiers unique within a tenant.
//!
//! Every error is `validation_error` with a detail naming the rule broken; details never echo
//! more than 64 characters of the input.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};
use usso_shared::{Error, ErrorCode, Result};

/// Longest e-mail address, in bytes (after lower-casing).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest local part (before `@`) of an e-mail address, in bytes.
pub const MAX_EMAIL_LOCAL_BYTES: usize = 64;
/// Longest e-mail domain, in bytes.
pub const MAX_EMAIL_DOMAIN_BYTES: usize = 253;
/// Longest label of an e-mail domain, in bytes.
pub const MAX_EMAIL_LABEL_BYTES: usize = 63;
/// Fewest digits of a phone number, country code included.
pub const MIN_PHONE_DIGITS: usize = 8;
/// Most digits of a phone number, country code included (E.164).
pub const MAX_PHONE_DIGITS: usize = 15;
/// Longest phone number as typed (separators included), in bytes.
pub const MAX_PHONE_INPUT_BYTES: usize = 64;
/// Shortest username, in characters.
pub const MIN_USERNAME_CHARS: usize = 3;
/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 32;
/// Usernames nobody can register. `system` is the built-in administrator (created directly,
/// not through [`Identifier::parse`]); the others are words clients confuse with "no user" or
/// "the current user". `me` is shorter than [`MIN_USERNAME_CHARS`] and listed for clarity.
pub const RESERVED_USERNAMES: [&str; 5] = ["system", "root", "me", "null", "undefined"];

/// Characters stripped from phone numbers.
const PHONE_SEPARATORS: [char; 5] = [' ', '-', '.', '(', ')'];

/// How many characters of user input an error detail may quote.
const MAX_ECHO_CHARS: usize = 64;

/// The kind of an identifier. Serialised in snake_case: `"email"`, `"phone"`, `"username"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// An e-mail address.
    Email,
    /// A phone number in E.164 form.
    Phone,
    /// A username.
    Username,
}

impl IdentifierKind {
    /// `"email"`, `"phone"` or `"username"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Username => "username",
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IdentifierKind {
    type Err = Error;

    /// Parses a request's `type` field: `email`, `phone` or `username` (surrounding whitespace
    /// and ASCII case ignored); anything else is `validation_error`.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        [Self::Email, Self::Phone, Self::Username]
            .into_iter()
            .find(|k| t.eq_ignore_ascii_case(k.as_str()))
            .ok_or_else(|| {
                invalid(format!(
                    "type must be one of email, phone, username (got {})",
                    echo(s)
                ))
            })
    }
}

/// A canonical identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// Its kind.
    pub kind: IdentifierKind,
    /// The canonical value: lower-cased e-mail, E.164 phone (`+` and digits), lower-cased
    /// username.
    pub value: String,
}

impl Identifier {
    /// Parses what a user typed into a canonical identifier.
    ///
    /// `hint` is the request's optional `type` field (`"email"`, `"phone"`, `"username"`;
    /// anything else is `validation_error`). Without a hint the kind is guessed from the
    /// trimmed input: it contains `@` → e-mail; it starts with `+`, or consists only of digits
    /// and the separators space, `-`, `.`, `(`, `)` with at least one digit → phone; else
    /// username. A username made only of digits therefore needs the hint.
    ///
    /// Phones must be in international form here (`+…` or `00…`); see [`parse_phone`] for a
    /// default country code.
    pub fn parse(raw: &str, hint: Option<&str>) -> Result<Identifier> {
        let kind = match hint {
            Some(h) => h.parse::<IdentifierKind>()?,
            None => guess_kind(raw)?,
        };
        match kind {
            IdentifierKind::Email => parse_email(raw),
            IdentifierKind::Phone => parse_phone(raw, None),
            IdentifierKind::Username => parse_username(raw),
        }
    }

    /// The document key used for uniqueness: `kind:value`, e.g. `email:ada@example.com`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.value)
    }
}

impl fmt::Display for Identifier {
    /// Same as [`Identifier::key`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

fn guess_kind(raw: &str) -> Result<IdentifierKind> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("identifier must not be empty"));
    }
    if s.contains('@') {
        return Ok(IdentifierKind::Email);
    }
    let phone_like = s.starts_with('+')
        || (s.chars().any(|c| phone_digit(c).is_some())
            && s.chars()
                .all(|c| phone_digit(c).is_some() || PHONE_SEPARATORS.contains(&c)));
    Ok(if phone_like {
        IdentifierKind::Phone
    } else {
        IdentifierKind::Username
    })
}

// ---------------------------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------------------------

/// Parses an e-mail address into one canonical form per mailbox, so that addresses that look
/// alike cannot become separate accounts (security issue 13):
/// - the domain goes through UTS 46 (`idna`): case folded, full-width and other compatibility
///   forms mapped, NFC, and stored as A-labels, so `münchen.de`, `MÜNCHEN.DE` and
///   `xn--mnchen-3ya.de` are one domain;
/// - a non-ASCII local part is NFKC-normalised and lower-cased (full-width `ａｄａ` is `ada`,
///   NFD is NFC), and refused when it mixes scripts (`pаypal` with a Cyrillic `а`), when it is
///   written entirely in letters that look Latin from another script (`рау`), or when it holds
///   the dotless `ı` or a combining dot above (`İ` lower-cases to `i` + U+0307);
/// - format and bidi-control characters (zero-width joiners, `U+202E`…) are refused anywhere.
///
/// Rules otherwise: at most [`MAX_EMAIL_BYTES`] bytes; no whitespace or control characters;
/// exactly one `@`; local part 1..=[`MAX_EMAIL_LOCAL_BYTES`] bytes of RFC 5322 "atext"
/// (`a-z 0-9` and ``!#$%&'*+/=?^_`{|}~-``), dots (not first, not last, not doubled) and
/// non-ASCII characters (RFC 6531); domain labels 1..=[`MAX_EMAIL_LABEL_BYTES`] bytes of
/// `a-z 0-9 -` (after A-label conversion), not starting or ending with `-`, at least one dot,
/// the last label not all digits.
pub fn parse_email(raw: &str) -> Result<Identifier> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("email must not be empty"));
    }
    let too_long = || invalid(format!("email must be at most {MAX_EMAIL_BYTES} bytes"));
    if s.len() > MAX_EMAIL_BYTES {
        return Err(too_long());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "email must not contain spaces or control characters",
        ));
    }
    if has_format_chars(s) {
        return Err(invalid(
            "email must not contain invisible or text-direction characters",
        ));
    }
    let (local, domain) = match s.split_once('@') {
        Some((l, d)) if !d.contains('@') => (l, d),
        _ => return Err(invalid("email must contain exactly one '@'")),
    };
    let local = canonical_local_part(local)?;
    let domain = canonical_domain(domain)?;
    check_local_part(&local)?;
    check_domain(&domain)?;
    let value = format!("{local}@{domain}");
    // Normalising can lengthen some characters.
    if value.len() > MAX_EMAIL_BYTES {
        return Err(too_long());
    }
    Ok(Identifier {
        kind: IdentifierKind::Email,
        value,
    })
}

/// Whether `s` holds a format character (general category Cf: zero-width joiners and spaces,
/// bidi controls and isolates, the BOM, soft hyphens…), which render as nothing or reorder
/// text. Refused in identifiers and display names.
pub fn has_format_chars(s: &str) -> bool {
    use icu_properties::{props::GeneralCategory, CodePointMapData};
    let gc = CodePointMapData::<GeneralCategory>::new();
    s.chars().any(|c| gc.get(c) == GeneralCategory::Format)
}

fn canonical_domain(domain: &str) -> Result<String> {
    if domain.is_empty() || domain.len() > MAX_EMAIL_DOMAIN_BYTES {
        return Err(invalid(format!(
            "email domain must be 1 to {MAX_EMAIL_DOMAIN_BYTES} bytes"
        )));
    }
    idna::domain_to_ascii(domain)
        .map_err(|_| invalid("email domain is not a valid (internationalised) domain name"))
}

fn canonical_local_part(local: &str) -> Result<String> {
    if local.is_ascii() {
        return Ok(local.to_ascii_lowercase());
    }
    let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
    let folded = nfkc
        .normalize(&nfkc.normalize(local).to_lowercase())
        .into_owned();
    if folded.contains(['\u{0131}', '\u{0307}']) {
        return Err(invalid(
            "the part of the email before '@' must not contain a dotless i or a combining dot",
        ));
    }
    if folded.is_ascii() {
        return Ok(folded);
    }
    use icu_properties::{props::Script, CodePointMapData};
    let script = CodePointMapData::<Script>::new();
    let mut scripts = folded
        .chars()
        .map(|c| script.get(c))
        .filter(|s| !matches!(*s, Script::Common | Script::Inherited));
    let first = scripts.next();
    if scripts.any(|s| Some(s) != first) {
        return Err(invalid(
            "the part of the email before '@' must not mix scripts (e.g. Latin and Cyrillic letters)",
        ));
    }
    if folded
        .chars()
        .all(|c| !c.is_alphabetic() || c.is_ascii() || LATIN_LOOKALIKES.contains(c))
    {
        return Err(invalid(
            "the part of the email before '@' is written in letters that look like Latin ones",
        ));
    }
    Ok(folded)
}

/// Lower-case Cyrillic and Greek letters that render like Latin letters (the project's own
/// list, after the confusables most used in spoofing): a local part made only of these (and
/// ASCII or non-letters) reads as a Latin address it is not.
const LATIN_LOOKALIKES: &str =
    "\u{0430}\u{0435}\u{043e}\u{0440}\u{0441}\u{0443}\u{0445}\u{0456}\u{0458}\u{0455}\u{0501}\u{04bb}\u{0475}\u{03bf}\u{03b1}\u{03bd}\u{03c1}\u{03c4}\u{03b9}\u{03ba}\u{03c7}";

fn check_local_part(local: &str) -> Result<()> {
    if local.is_empty() || local.len() > MAX_EMAIL_LOCAL_BYTES {
        return Err(invalid(format!(
            "the part of the email before '@' must be 1 to {MAX_EMAIL_LOCAL_BYTES} bytes"
        )));
    }
    let atext =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c) || !c.is_ascii();
    if !local.chars().all(|c| c == '.' || atext(c)) {
        return Err(invalid(
            "the part of the email before '@' contains a character that is not allowed",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(invalid(
            "the part of the email before '@' must not start or end with '.' or contain '..'",
        ));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<()> {
    if domain.is_empty() || domain.len() > MAX_EMAIL_DOMAIN_BYTES {
        return Err(invalid(format!(
            "email domain must be 1 to {MAX_EMAIL_DOMAIN_BYTES} bytes"
        )));
    }
    if !domain.contains('.') {
        return Err(invalid("email domain must contain a dot"));
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(invalid("email domain must not contain empty labels"));
        }
        if label.len() > MAX_EMAIL_LABEL_BYTES {
            return Err(invalid(format!(
                "each email domain label must be at most {MAX_EMAIL_LABEL_BYTES} bytes"
            )));
        }
        // A-labels by now (canonical_domain): ASCII letters, digits and hyphens only.
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !label.chars().all(ok) {
            return Err(invalid(
                "email domain may contain only letters, digits, '-' and '.'",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(
                "email domain labels must not start or end with '-'",
            ));
        }
    }
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("email domain must not end with a numeric label"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------------------------

/// Parses a phone number into E.164 (`+` then 8..=15 digits, the first not `0`).
///
/// Spaces, `-`, `.`, `(` and `)` are removed; Arabic-Indic, Persian and full-width digits are
/// read as ASCII digits; a leading `00` means `+`. A number without `+`/`00` is national: with
/// `default_country_code` (1 to 3 digits, an optional leading `+`, e.g. `"98"`), one leading
/// trunk `0` is dropped and the country code prefixed (`09121234567` with `98` →
/// `+989121234567`; no per-country rules beyond that). Without a default country code a
/// national number is `validation_error` asking for the international format. A malformed
/// `default_country_code` is `configuration_error` (it comes from configuration, not the user).
pub fn parse_phone(raw: &str, default_country_code: Option<&str>) -> Result<Identifier> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("phone number must not be empty"));
    }
    if s.len() > MAX_PHONE_INPUT_BYTES {
        return Err(invalid(format!(
            "phone number must be at most {MAX_PHONE_INPUT_BYTES} bytes"
        )));
    }
    let mut plus = false;
    let mut digits = String::with_capacity(MAX_PHONE_DIGITS + 3);
    for c in s.chars() {
        if PHONE_SEPARATORS.contains(&c) {
            continue;
        }
        if c == '+' && !plus && digits.is_empty() {
            plus = true;
        } else if let Some(d) = phone_digit(c) {
            digits.push(d);
        } else {
            return Err(invalid(
                "phone number may contain only digits, a leading '+', spaces, '-', '.', '(' and ')'",
            ));
        }
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else {
        let Some(cc) = default_country_code else {
            return Err(invalid(
                "phone number must be in international format: '+', the country code and the number, e.g. +14155550123",
            ));
        };
        let cc = country_code(cc)?;
        let national = digits.strip_prefix('0').unwrap_or(&digits);
        if national.is_empty() {
            return Err(phone_length_error());
        }
        format!("{cc}{national}")
    };
    if international.len() < MIN_PHONE_DIGITS || international.len() > MAX_PHONE_DIGITS {
        return Err(phone_length_error());
    }
    if international.starts_with('0') {
        return Err(invalid("phone country code must not start with 0"));
    }
    Ok(Identifier {
        kind: IdentifierKind::Phone,
        value: format!("+{international}"),
    })
}

fn phone_length_error() -> Error {
    invalid(format!(
        "phone number must have {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits including the country code"
    ))
}

fn country_code(cc: &str) -> Result<&str> {
    let cc = cc.trim();
    let cc = cc.strip_prefix('+').unwrap_or(cc);
    if (1..=3).contains(&cc.len()) && cc.bytes().all(|b| b.is_ascii_digit()) && !cc.starts_with('0')
    {
        Ok(cc)
    } else {
        Err(Error::new(
            ErrorCode::ConfigurationError,
            "the default phone country code must be 1 to 3 digits, not starting with 0",
        ))
    }
}

/// The ASCII digit for ASCII, Arabic-Indic (U+0660…), extended Arabic-Indic / Persian
/// (U+06F0…) and full-width (U+FF10…) digits.
fn phone_digit(c: char) -> Option<char> {
    let zero = match c {
        '0'..='9' => return Some(c),
        '\u{660}'..='\u{669}' => 0x660,
        '\u{6f0}'..='\u{6f9}' => 0x6f0,
        '\u{ff10}'..='\u{ff19}' => 0xff10,
        _ => return None,
    };
    char::from_digit(u32::from(c) - zero, 10)
}

// ---------------------------------------------------------------------------------------------
// Username
// ---------------------------------------------------------------------------------------------

/// Parses a username: trimmed, [`MIN_USERNAME_CHARS`]..=[`MAX_USERNAME_CHARS`] characters of
/// ASCII letters, digits, `_`, `.` and `-`, starting with a letter or digit; lower-cased; not in
/// [`RESERVED_USERNAMES`].
pub fn parse_username(raw: &str) -> Result<Identifier> {
    let s = raw.trim();
    let n = s.chars().take(MAX_USERNAME_CHARS + 1).count();
    if !(MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&n) {
        return Err(invalid(format!(
            "username must be {MIN_USERNAME_CHARS} to {MAX_USERNAME_CHARS} characters"
        )));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(invalid(
            "username may contain only letters a-z, digits 0-9, '_', '.' and '-'",
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(invalid("username must start with a letter or a digit"));
    }
    if s.ends_with(['_', '.', '-']) {
        return Err(invalid("username must end with a letter or a digit"));
    }
    let value = s.to_ascii_lowercase();
    let skeleton = username_skeleton(&value);
    if RESERVED_USERNAMES
        .iter()
        .any(|r| username_skeleton(r) == skeleton)
    {
        return Err(invalid(format!(
            "username `{value}` is reserved or looks like a reserved name"
        )));
    }
    Ok(Identifier {
        kind: IdentifierKind::Username,
        value,
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// What a username looks like: separators dropped and digits read as the letters they resemble,
/// so `system.`, `sys_tem`, `r00t` and `nu11` match the reserved names they imitate.
fn username_skeleton(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '.' | '-'))
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            c => c,
        })
        .collect()
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

/// At most [`MAX_ECHO_CHARS`] characters of user input, quoted and escaped.
fn echo(s: &str) -> String {
    let clipped: String = s.chars().take(MAX_ECHO_CHARS).collect();
    if clipped.len() < s.len() {
        format!("{clipped:?}…")
    } else {
        format!("{clipped:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IdentifierKind::{Email, Phone, Username};

    /// `Ok((kind, value))` or `Err(substring of the detail)`.
    type Expect = core::result::Result<(IdentifierKind, &'static str), &'static str>;

    const TABLE: &[(&str, Option<&str>, Expect)] = &[
        // ---- e-mail ----
        ("ada@example.com", None, Ok((Email, "ada@example.com"))),
        (
            "  Ada.Lovelace+tag@Example.COM \n",
            None,
            Ok((Email, "ada.lovelace+tag@example.com")),
        ),
        (
            "o'brien@sub.example.co.uk",
            None,
            Ok((Email, "o'brien@sub.example.co.uk")),
        ),
        // Domains are stored as A-labels (UTS 46), so the Unicode and Punycode forms are one.
        (
            "Ünïcödé@Bücher.DE",
            None,
            Ok((Email, "ünïcödé@xn--bcher-kva.de")),
        ),
        (
            "用户@例子.广告",
            None,
            Ok((Email, "用户@xn--fsqu00a.xn--4rr70v")),
        ),
        (
            "a@xn--bcher-kva.de",
            None,
            Ok((Email, "a@xn--bcher-kva.de")),
        ),
        ("a@b", None, Err("must contain a dot")),
        ("a@@example.com", None, Err("exactly one '@'")),
        ("a@b@example.com", None, Err("exactly one '@'")),
        ("@example.com", None, Err("before '@' must be 1 to 64")),
        ("a@", None, Err("domain must be 1 to 253")),
        ("a b@example.com", None, Err("spaces or control")),
        ("a\u{0}b@example.com", None, Err("spaces or control")),
        ("a@exa_mple.com", None, Err("only letters, digits")),
        ("a@-example.com", None, Err("start or end with '-'")),
        ("a@example-.com", None, Err("start or end with '-'")),
        ("a@example..com", None, Err("empty labels")),
        ("a@example.com.", None, Err("empty labels")),
        ("a@127.0.0.1", None, Err("numeric label")),
        (
            ".a@example.com",
            None,
            Err("must not start or end with '.'"),
        ),
        (
            "a..b@example.com",
            None,
            Err("must not start or end with '.'"),
        ),
        ("a<b>@example.com", None, Err("not allowed")),
        // The ideographic full stop is a dot in IDNA: the same domain, not a second account.
        ("a@example。com", None, Ok((Email, "a@example.com"))),
        // ---- look-alikes (security issue 13): one account, or refused ----
        (
            "ａｄａ@ｅｘａｍｐｌｅ.ｃｏｍ",
            None,
            Ok((Email, "ada@example.com")),
        ),
        ("ADA@EXAMPLE.COM", None, Ok((Email, "ada@example.com"))),
        ("ada@MÜNCHEN.de", None, Ok((Email, "ada@xn--mnchen-3ya.de"))),
        (
            "ada@xn--mnchen-3ya.de",
            None,
            Ok((Email, "ada@xn--mnchen-3ya.de")),
        ),
        // é precomposed (NFC) and e + combining acute (NFD) are one address.
        (
            "jos\u{e9}@example.com",
            None,
            Ok((Email, "jos\u{e9}@example.com")),
        ),
        (
            "jose\u{301}@example.com",
            None,
            Ok((Email, "jos\u{e9}@example.com")),
        ),
        (
            "ad\u{200b}a@example.com",
            None,
            Err("invisible or text-direction"),
        ),
        (
            "ada\u{202e}@example.com",
            None,
            Err("invisible or text-direction"),
        ),
        (
            "ada@exam\u{200d}ple.com",
            None,
            Err("invisible or text-direction"),
        ),
        (
            "p\u{430}ypal@example.com",
            None,
            Err("must not mix scripts"),
        ),
        (
            "\u{440}\u{430}\u{443}@example.com",
            None,
            Err("look like Latin"),
        ),
        ("adm\u{131}n@example.com", None, Err("dotless i")),
        ("\u{130}da@example.com", None, Err("dotless i")),
        ("иван@example.com", None, Ok((Email, "иван@example.com"))),
        (
            "ada@example.com",
            Some("username"),
            Err("may contain only letters a-z"),
        ),
        // ---- phone ----
        ("+1 (415) 555-0123", None, Ok((Phone, "+14155550123"))),
        ("+98 912 123 4567", None, Ok((Phone, "+989121234567"))),
        ("0098.912.123.4567", None, Ok((Phone, "+989121234567"))),
        ("+۹۸۹۱۲۱۲۳۴۵۶۷", None, Ok((Phone, "+989121234567"))),
        ("+12345678", None, Ok((Phone, "+12345678"))),
        ("+123456789012345", None, Ok((Phone, "+123456789012345"))),
        ("+1234567", None, Err("8 to 15 digits")),
        ("+1234567890123456", None, Err("8 to 15 digits")),
        ("+0123456789", None, Err("must not start with 0")),
        ("000123456789", None, Err("must not start with 0")),
        ("09121234567", None, Err("international format")),
        ("+1 415 555 0123 ext 4", None, Err("only digits")),
        ("+1-415+5550123", None, Err("only digits")),
        ("+", None, Err("8 to 15 digits")),
        ("12345", Some("username"), Ok((Username, "12345"))),
        ("+14155550123", Some(" PHONE "), Ok((Phone, "+14155550123"))),
        // ---- username ----
        ("Ada_Lovelace", None, Ok((Username, "ada_lovelace"))),
        ("a.b-c_9", None, Ok((Username, "a.b-c_9"))),
        ("abc", None, Ok((Username, "abc"))),
        (
            "x23456789012345678901234567890ab",
            None,
            Ok((Username, "x23456789012345678901234567890ab")),
        ),
        (
            "x23456789012345678901234567890abc",
            None,
            Err("3 to 32 characters"),
        ),
        ("ab", None, Err("3 to 32 characters")),
        ("_ada", None, Err("start with a letter or a digit")),
        ("ada lovelace", None, Err("may contain only letters a-z")),
        ("adä", None, Err("may contain only letters a-z")),
        ("ROOT", None, Err("reserved")),
        ("System", None, Err("reserved")),
        ("undefined", None, Err("reserved")),
        ("system.", None, Err("end with a letter or a digit")),
        ("sys_tem", None, Err("looks like a reserved name")),
        ("r00t", None, Err("looks like a reserved name")),
        ("nu11", None, Err("looks like a reserved name")),
        ("syst3m", None, Err("looks like a reserved name")),
        ("ｓｙｓｔｅｍ", None, Err("may contain only letters a-z")),
        ("sуstem", None, Err("may contain only letters a-z")),
        ("me", Some("username"), Err("3 to 32 characters")),
        // ---- hint and empty ----
        ("ada@example.com", Some("mail"), Err("type must be one of")),
        ("ada", Some(""), Err("type must be one of")),
        ("", None, Err("must not be empty")),
        ("   ", None, Err("must not be empty")),
        ("", Some("email"), Err("must not be empty")),
    ];

    #[test]
    fn table() {
        for (raw, hint, expect) in TABLE {
            let got = Identifier::parse(raw, *hint);
            match (expect, got) {
                (Ok((kind, value)), Ok(id)) => {
                    assert_eq!((id.kind, id.value.as_str()), (*kind, *value), "{raw:?}");
                }
                (Err(want), Err(e)) => {
                    assert_eq!(e.code(), ErrorCode::ValidationError, "{raw:?}");
                    assert!(
                        e.detail().contains(want),
                        "{raw:?}: detail {:?} lacks {want:?}",
                        e.detail()
                    );
                }
                (want, got) => panic!("{raw:?} {hint:?}: expected {want:?}, got {got:?}"),
            }
        }
        assert!(TABLE.len() >= 30);
    }

    #[test]
    fn canonical_forms_are_fixed_points() {
        for (raw, hint, expect) in TABLE {
            if let Ok((kind, value)) = expect {
                let again = Identifier::parse(value, Some(kind.as_str())).unwrap();
                assert_eq!(again.value, *value, "{raw:?} {hint:?}");
            }
        }
    }

    #[test]
    fn case_folding_gives_one_key() {
        let a = Identifier::parse("ADA@EXAMPLE.COM", None).unwrap();
        let b = Identifier::parse("ada@example.com", None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.key(), "email:ada@example.com");
        assert_eq!(a.to_string(), a.key());
        let u = Identifier::parse("AdaL", None).unwrap();
        assert_eq!(u.key(), "username:adal");
        let p = Identifier::parse("00 1 415 555 0123", None).unwrap();
        assert_eq!(p.key(), "phone:+14155550123");
    }

    #[test]
    fn email_length_limits() {
        let local = "a".repeat(64);
        let ok = format!("{local}@example.com");
        assert!(parse_email(&ok).is_ok());
        let e = parse_email(&format!("a{ok}")).unwrap_err();
        assert!(e.detail().contains("1 to 64"), "{}", e.detail());

        let label = "b".repeat(63);
        assert!(parse_email(&format!("a@{label}.com")).is_ok());
        let e = parse_email(&format!("a@{label}b.com")).unwrap_err();
        assert!(e.detail().contains("63"), "{}", e.detail());

        // 254 bytes in total is the limit.
        let domain = format!(
            "{}.{}.{}.{}",
            "c".repeat(63),
            "d".repeat(63),
            "e".repeat(63),
            "f".repeat(57)
        );
        let max = format!("{}@{domain}", "a".repeat(254 - 1 - domain.len()));
        assert_eq!(max.len(), 254);
        assert!(parse_email(&max).is_ok());
        let e = parse_email(&format!("a{max}")).unwrap_err();
        assert!(e.detail().contains("254"), "{}", e.detail());
    }

    #[test]
    fn lowercasing_that_grows_is_rechecked() {
        // 'Ⱥ' (2 bytes) lower-cases to 'ⱥ' (3 bytes).
        let raw = format!("{}@example.com", "Ⱥ".repeat(32));
        assert_eq!(raw.len(), 76);
        let e = parse_email(&raw).unwrap_err();
        assert!(e.detail().contains("before '@'"), "{}", e.detail());
    }

    #[test]
    fn phone_with_default_country() {
        let p = parse_phone("0912 123 4567", Some("98")).unwrap();
        assert_eq!(p.value, "+989121234567");
        assert_eq!(p.kind, Phone);
        assert_eq!(
            parse_phone("912-123-4567", Some("+98")).unwrap().value,
            "+989121234567"
        );
        assert_eq!(
            parse_phone("۰۹۱۲۱۲۳۴۵۶۷", Some("98")).unwrap().value,
            "+989121234567"
        );
        // International input ignores the default.
        assert_eq!(
            parse_phone("+14155550123", Some("98")).unwrap().value,
            "+14155550123"
        );
        assert_eq!(
            parse_phone("0044 20 7946 0958", Some("98")).unwrap().value,
            "+442079460958"
        );
        // Too short or too long after prefixing.
        assert!(parse_phone("0123", Some("98"))
            .unwrap_err()
            .detail()
            .contains("8 to 15"));
        assert!(parse_phone("0", Some("98"))
            .unwrap_err()
            .detail()
            .contains("8 to 15"));
        assert!(parse_phone("0912345678901234", Some("98")).is_err());
        // Bad default country code: configuration error.
        for cc in ["", "0", "098", "1234", "ab", "+"] {
            let e = parse_phone("09121234567", Some(cc)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ConfigurationError, "{cc:?}");
        }
    }

    #[test]
    fn hint_errors_echo_at_most_64_chars() {
        let hint = "h".repeat(10_000);
        let e = Identifier::parse("ada", Some(&hint)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError);
        assert!(e.detail().len() < 200, "{}", e.detail().len());
        assert!(e.detail().contains(&"h".repeat(64)));
        assert!(!e.detail().contains(&"h".repeat(65)));
        // Control characters are escaped, not echoed raw.
        let e = Identifier::parse("ada", Some("bad\ntype")).unwrap_err();
        assert!(e.detail().contains("\\n"), "{}", e.detail());
        assert!("Email".parse::<IdentifierKind>().is_ok());
    }

    #[test]
    fn huge_and_hostile_input_never_panics() {
        let big = 100 * 1024;
        let inputs = [
            "a".repeat(big),
            "@".repeat(big),
            "+".repeat(big),
            "1".repeat(big),
            format!("+{}", "9".repeat(big)),
            format!("{}@example.com", "a".repeat(big)),
            format!("a@{}.com", "b".repeat(big)),
            "é".repeat(big / 2),
            "\u{10ffff}".repeat(big / 4),
            "\u{0}".repeat(big),
            " ".repeat(big),
            "İ".repeat(big / 2),
            "(".repeat(big),
        ];
        for raw in &inputs {
            for hint in [None, Some("email"), Some("phone"), Some("username")] {
                match Identifier::parse(raw, hint) {
                    Ok(id) => panic!("accepted {} bytes as {:?}", raw.len(), id.kind),
                    Err(e) => {
                        assert_eq!(e.code(), ErrorCode::ValidationError);
                        assert!(e.detail().len() < 200);
                    }
                }
            }
            let _ = parse_phone(raw, Some("98"));
        }
    }

    #[test]
    fn kind_serde_is_snake_case() {
        for (kind, s) in [(Email, "email"), (Phone, "phone"), (Username, "username")] {
            assert_eq!(kind.as_str(), s);
            assert_eq!(kind.to_string(), s);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<IdentifierKind>(&format!("\"{s}\"")).unwrap(),
                kind
            );
            assert_eq!(s.parse::<IdentifierKind>().unwrap(), kind);
        }
        assert!(serde_json::from_str::<IdentifierKind>("\"Email\"").is_err());
    }

    #[test]
    fn guessing() {
        for (raw, kind) in [
            ("ada@x.io", Email),
            ("+1", Phone),
            ("(415) 555-0123", Phone),
            ("1.2.3", Phone),
            ("۰۹۱۲", Phone),
            ("ada", Username),
            ("ada-1", Username),
            ("---", Username),
            ("a1", Username),
        ] {
            assert_eq!(guess_kind(raw).unwrap(), kind, "{raw:?}");
        }
    }
}
