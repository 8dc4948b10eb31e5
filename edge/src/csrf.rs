//! Cross-site request checks for every route that sets or clears cookies (login, register,
//! refresh, logout, the magic-link and MFA confirmations).
//!
//! Invariant: a page of another site cannot make a browser sign in (login CSRF: the victim
//! ends up in the attacker's account), refresh, or sign out (CSRF logout) with the cookies of
//! this service. A browser says where a request comes from: `Sec-Fetch-Site` (all current
//! browsers) and `Origin` (on every POST and on cross-origin requests). A request that says
//! `cross-site`, or whose `Origin` is neither the tenant's issuer, one of its domains, nor the
//! host the request was sent to, is refused. Clients that are not browsers (the SDKs, curl)
//! send neither header and are unaffected; JSON routes additionally refuse non-JSON bodies
//! ([`crate::http::Request::json`]), which a cross-site form cannot send without a preflight.

use usso_shared::{Error, ErrorCode, Result};

use crate::http::Request;
use crate::tenant::{host_name, TenantConfig};

/// Refuses a request a browser marks as coming from another site.
pub fn same_site(req: &Request, tenant: &TenantConfig) -> Result<()> {
    let refuse = || {
        Error::new(
            ErrorCode::PermissionDenied,
            "cross-site request refused on a route that sets cookies",
        )
    };
    if req
        .header("sec-fetch-site")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cross-site"))
    {
        return Err(refuse());
    }
    let Some(origin) = req.header("origin").map(str::trim) else {
        return Ok(());
    };
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .filter(|a| !a.is_empty() && !a.contains('/'))
    else {
        // `null` (sandboxed frames, some redirects) and anything unparsable.
        return Err(refuse());
    };
    let issuer_origin = tenant
        .issuer
        .trim_end_matches('/')
        .splitn(4, '/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    let same_host = req
        .header("host")
        .is_some_and(|h| h.trim().eq_ignore_ascii_case(authority));
    let tenant_domain = host_name(authority).is_some_and(|h| tenant.domains.contains(&h));
    if origin.eq_ignore_ascii_case(&issuer_origin) || same_host || tenant_domain {
        Ok(())
    } else {
        Err(refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn tenant() -> TenantConfig {
        let mut t = TenantConfig::new("t", "https://sso.acme.test/");
        t.domains = vec!["sso.acme.test".into(), "localhost".into()];
        t
    }

    fn req(headers: &[(&str, &str)]) -> Request {
        headers
            .iter()
            .fold(Request::new(Method::Post, "/x"), |r, (n, v)| {
                r.with_header(n, v)
            })
    }

    #[test]
    fn browsers_from_other_sites_are_refused() {
        let t = tenant();
        for h in [
            &[("sec-fetch-site", "cross-site")][..],
            &[("origin", "https://evil.example")],
            &[("origin", "null")],
            &[("origin", "https://sso.acme.test.evil.example")],
            &[
                ("origin", "https://evil.example"),
                ("host", "sso.acme.test"),
            ],
        ] {
            assert!(same_site(&req(h), &t).is_err(), "{h:?}");
        }
    }

    #[test]
    fn same_site_and_non_browser_clients_pass() {
        let t = tenant();
        for h in [
            &[][..],
            &[("sec-fetch-site", "same-origin")],
            &[("sec-fetch-site", "none")],
            &[("origin", "https://sso.acme.test")],
            &[("origin", "http://localhost:8000")],
            &[
                ("origin", "http://127.0.0.1:9999"),
                ("host", "127.0.0.1:9999"),
            ],
        ] {
            assert!(same_site(&req(h), &t).is_ok(), "{h:?}");
        }
    }
}
