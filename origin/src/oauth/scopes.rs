//! The `scope` parameter: space-separated tokens (RFC 6749 §3.3). OpenID Connect's identity
//! scopes say which claims about the person a client reads; every other token is a USSO
//! permission scope (`read:usso/users`, …) that a token can carry only if the client may ask
//! for it AND the person holds it (the subset rule: consenting never grants more than one has).

use usso_shared::{Error, ErrorCode, Result};

/// `openid`: an ID token.
pub const OPENID: &str = "openid";
/// `offline_access`: a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// The identity scopes this provider knows (the rest are permission scopes).
pub const IDENTITY_SCOPES: [&str; 5] = [OPENID, "profile", "email", "phone", OFFLINE_ACCESS];
/// Most scopes one request names.
const MAX_SCOPES: usize = 50;

/// Whether `s` is one scope token of RFC 6749 §3.3 (printable ASCII but `"`, `\`, space).
pub fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// A parsed, de-duplicated `scope` parameter, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(pub Vec<String>);

impl ScopeSet {
    /// Parses `raw`; `invalid_scope` for a malformed token or too many.
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        let mut out: Vec<String> = Vec::new();
        for tok in raw.unwrap_or_default().split(' ').filter(|t| !t.is_empty()) {
            if !valid_token(tok) {
                return Err(Error::new(ErrorCode::InvalidScope, "malformed scope"));
            }
            if !out.iter().any(|s| s == tok) {
                out.push(tok.to_owned());
            }
        }
        if out.len() > MAX_SCOPES {
            return Err(Error::new(ErrorCode::InvalidScope, "too many scopes"));
        }
        Ok(Self(out))
    }

    /// Whether it names `s`.
    pub fn has(&self, s: &str) -> bool {
        self.0.iter().any(|x| x == s)
    }

    /// The permission scopes (not identity scopes).
    pub fn permissions(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|s| !IDENTITY_SCOPES.contains(&s.as_str()))
            .cloned()
            .collect()
    }

    /// `invalid_scope` naming the first scope the client may not ask for.
    pub fn within_client(&self, allowed: &[String]) -> Result<()> {
        match self.0.iter().find(|s| !allowed.contains(s)) {
            Some(s) => Err(Error::new(
                ErrorCode::InvalidScope,
                format!("the client may not ask for `{s}`"),
            )),
            None => Ok(()),
        }
    }

    /// What the person can give: identity scopes, and the permission scopes they hold.
    pub fn held_by(&self, person_scopes: &[String]) -> ScopeSet {
        ScopeSet(
            self.0
                .iter()
                .filter(|s| {
                    IDENTITY_SCOPES.contains(&s.as_str())
                        || usso_shared::scope::all_within(std::slice::from_ref(*s), person_scopes)
                })
                .cloned()
                .collect(),
        )
    }

    /// Whether every scope here is in `other`.
    pub fn is_subset_of(&self, other: &[String]) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    /// The space-separated form.
    pub fn to_param(&self) -> String {
        self.0.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_narrow() {
        let s = ScopeSet::parse(Some("openid  email read:usso/users openid")).unwrap();
        assert_eq!(s.0, ["openid", "email", "read:usso/users"]);
        assert_eq!(s.permissions(), ["read:usso/users"]);
        assert_eq!(
            ScopeSet::parse(Some("a\"b")).unwrap_err().code(),
            ErrorCode::InvalidScope
        );
        let allowed = vec!["openid".to_owned(), "email".to_owned()];
        assert_eq!(
            s.within_client(&allowed).unwrap_err().code(),
            ErrorCode::InvalidScope
        );
        let held = s.held_by(&["read:usso/*".to_owned()]);
        assert_eq!(held.0, ["openid", "email", "read:usso/users"]);
        assert_eq!(s.held_by(&[]).0, ["openid", "email"]);
    }
}
