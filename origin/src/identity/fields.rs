//! Field checks shared by the administration modules (roles, API keys, workspaces, …): a
//! display text, a list of scopes. A leaf module: it depends on nothing of the domain, so any
//! module may use it without a cycle.

use usso_shared::{scope, Error, ErrorCode, Result};

/// The most scopes one role or user may hold.
pub const MAX_SCOPES: usize = 100;

/// Checks a list of scopes: each well formed (it parses back to itself), at most
/// [`MAX_SCOPES`], no duplicates.
pub fn check_scopes(field: &str, scopes: &[String]) -> Result<()> {
    if scopes.len() > MAX_SCOPES {
        return Err(Error::new(
            ErrorCode::ValidationError,
            format!("{field}: at most {MAX_SCOPES} scopes"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in scopes {
        let well_formed = !s.is_empty()
            && s.len() <= scope::MAX_SCOPE_LEN
            && !s.chars().any(|c| c.is_control() || c.is_whitespace())
            && s.contains(':');
        if !well_formed {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("{field}: `{s}` is not a scope (`<action>:<resource/path>`)"),
            ));
        }
        if !seen.insert(s) {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("{field}: `{s}` is listed twice"),
            ));
        }
    }
    Ok(())
}

/// A display text (name, description): trimmed, 1 to `max` printable characters;
/// `validation_error` naming `field` otherwise.
pub fn text(field: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorCode::ValidationError,
            format!("{field}: 1 to {max} printable characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Whether `url` is an absolute `https` URL of at most 2048 characters, without spaces or
/// controls (pictures and logos: the pages' Content-Security-Policy loads images from `https:`
/// only).
pub fn is_https_url(url: &str) -> bool {
    url.len() <= 2048
        && url.starts_with("https://")
        && url.len() > "https://".len()
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Longest redirect URI or resource URI.
const MAX_URI_LEN: usize = 2000;

/// Whether `uri` may be registered as a redirect URI (the rules in the module docs).
pub fn valid_redirect_uri(uri: &str) -> bool {
    if uri.len() > MAX_URI_LEN || uri.contains('#') || uri.chars().any(char::is_whitespace) {
        return false;
    }
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    // The text itself must name the host: `https:///x` parses (as `https://x/`) but is not
    // what a client would send back, and exact matching compares texts.
    let names_host = |scheme: &str| {
        uri.strip_prefix(scheme)
            .and_then(|r| r.strip_prefix("://"))
            .is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
    };
    match u.scheme() {
        "https" => names_host("https") && u.host_str().is_some_and(|h| !h.is_empty()),
        "http" if !names_host("http") => false,
        "http" => matches!(
            u.host(),
            Some(url::Host::Domain("localhost"))
                | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        ),
        // Private-use schemes of native apps are reverse domain names (RFC 8252 §7.1).
        s => s.contains('.') && !matches!(s, "javascript" | "data" | "file" | "vbscript"),
    }
}

/// Whether `uri` may name a resource server (RFC 8707): absolute, `https` (or `http` on a
/// loopback host), no fragment.
pub fn valid_resource(uri: &str) -> bool {
    !uri.contains('?')
        && (uri.starts_with("https://") || uri.starts_with("http://"))
        && valid_redirect_uri(uri)
}
