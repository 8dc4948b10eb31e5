//! The pages' forms against cross-site request forgery.
//!
//! Invariant: a form post is accepted only when (1) the browser does not mark it cross-site
//! ([`usso_edge::csrf::same_site`]: `Sec-Fetch-Site`, `Origin`) and (2) it carries the form
//! token that belongs to the browser's `usso-csrf` cookie: HMAC-SHA-256 of the cookie under a
//! key derived from the master key ("signed double submit"). Another site can neither read
//! the cookie nor compute the token for a cookie it plants (cookie tossing from a sibling
//! domain), so a forged form (login CSRF, signing someone out, changing their account) fails.
//! The comparison is constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use usso_edge::http::Request;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::Ctx;
use crate::tenants::TenantCtx;

/// The cookie holding the browser's random value.
pub const COOKIE: &str = "usso-csrf";
/// The form field holding the token.
pub const FIELD: &str = "csrf";
const LABEL: &[u8] = b"usso pages csrf v1";

fn token_of(ctx: &Ctx, cookie: &str) -> String {
    let key = ctx.master.derive(LABEL);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(cookie.as_bytes());
    usso_shared::encoding::b64url_encode(&mac.finalize().into_bytes())
}

/// The form token for this browser, and the `Set-Cookie` value when it had no cookie yet.
pub fn issue(ctx: &Ctx, tc: &TenantCtx, req: &Request) -> Result<(String, Option<String>)> {
    if let Some(c) = req.cookie(COOKIE).filter(|c| c.len() == 43) {
        return Ok((token_of(ctx, c), None));
    }
    let value = usso_shared::encoding::b64url_encode(&usso_shared::random::bytes::<32>()?);
    let cookie =
        usso_edge::issue::cookie(&tc.state.config, COOKIE, &value, "/", 86_400 * 30, "Lax");
    Ok((token_of(ctx, &value), Some(cookie)))
}

/// Refuses a form post that is cross-site or lacks the token of this browser's cookie.
pub fn check(ctx: &Ctx, tc: &TenantCtx, req: &Request) -> Result<()> {
    usso_edge::csrf::same_site(req, &tc.tenant.tokens)?;
    let refuse = || {
        Error::new(
            ErrorCode::PermissionDenied,
            "the form token is missing or wrong",
        )
    };
    let cookie = req.cookie(COOKIE).ok_or_else(refuse)?;
    let sent = req.form_field(FIELD).ok_or_else(refuse)?;
    let want = token_of(ctx, cookie);
    if bool::from(want.as_bytes().ct_eq(sent.as_bytes())) {
        Ok(())
    } else {
        Err(refuse())
    }
}
