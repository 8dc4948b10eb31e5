//! Abuse controls on every credential check and every code or link request: rate limits and
//! the captcha guard.
//!
//! Invariants and the attacks they prevent:
//! - A credential check is counted BEFORE it is made, so parallel guesses cannot slip past a
//!   limit (credential stuffing, online guessing).
//! - The per-(identifier, address) and per-address limits are hard. The per-identifier limit is
//!   soft, so that guesses from many addresses cannot lock the owner out: past it, a browser
//!   with a known-device cookie of this account ([`crate::authn::known_device`]) or a request
//!   with a solved captcha still gets its credential checked.
//! - Code and link requests: per address (hard), then per identifier (soft for the account's
//!   known device only; a captcha does not pass it, so it still bounds mail to one mailbox).
//! - Only attempts the hard limits let through count against the per-identifier limit: one
//!   address cannot spend more of an account's budget than its per-pair limit, and a burst of
//!   parallel attempts from one address is not refused wholesale by its own refused copies.
//! - Refusals are counted, not written one by one: per client address the 1st, 10th, 100th…
//!   refusal of a window is audited with the count, so hammering a limit cannot flood the audit
//!   trail.
//! - A captcha solution works once (its replay key lives in the hot store until it expires).

use serde_json::json;
use usso_edge::store::HotStore;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::identity::identifier::Identifier;
use crate::identity::users;
use crate::store::hot::RateLimiter;
use crate::store::keys::counter;
use crate::tenants::Tenant;

/// A route a tenant may guard with a captcha (the names in the tenant's `captcha` list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaRoute {
    /// Password and code sign-in, registration.
    Login,
    /// Code requests.
    Otp,
    /// Magic-link requests.
    MagicLink,
}

impl CaptchaRoute {
    /// The name in the tenant policy.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Otp => "otp",
            Self::MagicLink => "magic_link",
        }
    }
}

/// What is being requested, for the request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// A one-time code.
    Code,
    /// A magic link.
    Link,
}

impl Requested {
    const fn prefix(self) -> &'static str {
        match self {
            Self::Code => "otp",
            Self::Link => "ml",
        }
    }
}

/// Requires a solved challenge on `route` when the tenant asks for one; whether a solution
/// was verified.
pub async fn captcha_guard(
    ctx: &Ctx,
    t: &Tenant,
    route: CaptchaRoute,
    who: &ClientMeta,
) -> Result<bool> {
    if !t.captcha.iter().any(|r| r == route.as_str()) {
        return Ok(false);
    }
    if captcha_solved(ctx, who).await? {
        return Ok(true);
    }
    Err(Error::new(
        ErrorCode::ValidationError,
        "captcha required: solve GET /api/sso/v1/captcha/challenge and send the payload as `altcha`",
    ))
}

/// Verifies the captcha solution a request carries; `false` when it carries none. Each
/// solution works once; a bad or reused one is an error.
pub async fn captcha_solved(ctx: &Ctx, who: &ClientMeta) -> Result<bool> {
    let Some(payload) = who.captcha.as_deref() else {
        return Ok(false);
    };
    let now = ctx.now();
    let cfg = crate::authn::captcha::CaptchaConfig::from_master(&ctx.master);
    let verified = crate::authn::captcha::verify_solution(&cfg, payload, now)?;
    let (uses, _) = ctx
        .hot
        .hit(
            &verified.replay_key(),
            verified.replay_ttl_secs(now).max(1) as i64,
            now,
        )
        .await?;
    if uses > 1 {
        return Err(Error::new(
            ErrorCode::ValidationError,
            "this captcha solution was already used",
        ));
    }
    Ok(true)
}

/// A fresh captcha challenge.
pub fn captcha_challenge(ctx: &Ctx) -> Result<crate::authn::captcha::Challenge> {
    let cfg = crate::authn::captcha::CaptchaConfig::from_master(&ctx.master);
    crate::authn::captcha::create_challenge(&cfg, ctx.now())
}

/// Whether the request's known-device cookie belongs to the account `ident` names (two
/// store reads; only asked past the per-identifier limit).
async fn known_device(
    ctx: &Ctx,
    t: &Tenant,
    ident: &Identifier,
    who: &ClientMeta,
    now: i64,
) -> Result<bool> {
    let Some(token) = who.device.as_deref() else {
        return Ok(false);
    };
    Ok(users::find_by_identifier(&ctx.docs, t.id(), ident)
        .await?
        .is_some_and(|(u, _)| {
            crate::authn::known_device::check(&ctx.master, t.id(), &u.id, token, now)
        }))
}

/// The counters a successful credential check clears.
#[must_use]
pub struct Counted([String; 2]);

impl Counted {
    /// Clears the counters (after a success that needs no further step).
    pub async fn clear(self, ctx: &Ctx) -> Result<()> {
        ctx.hot.clear(&self.0).await
    }
}

/// Counts one credential check against the tenant's limits (see the module docs); 429 with
/// `Retry-After` beyond them.
pub async fn count_login(
    ctx: &Ctx,
    t: &Tenant,
    ident: &Identifier,
    who: &ClientMeta,
    captcha_solved_already: bool,
) -> Result<Counted> {
    let now = ctx.now();
    let ip = who.ip.as_str();
    let pair_key = counter("login", t.id(), &[&ident.key(), ip]);
    let id_key = counter("login-id", t.id(), &[&ident.key()]);
    let ip_key = counter("login-ip", t.id(), &[ip]);
    // The hard limits first; an attempt they refuse never reaches the per-identifier counter,
    // so one address hammering an account spends at most `login_limit_pair` of the owner's
    // budget, and parallel attempts cannot all be refused by each other's counts.
    let mut reset_at = None;
    for (key, limit) in [(&pair_key, t.login_limit_pair), (&ip_key, t.login_limit_ip)] {
        let (n, reset) = ctx.hot.hit(key, limit.window_secs, now).await?;
        if n > limit.max {
            reset_at = Some(reset_at.map_or(reset, |r: i64| r.max(reset)));
        }
    }
    let mut soft_refused = false;
    if reset_at.is_none() {
        let limit = t.login_limit_identifier;
        let (n, reset) = ctx.hot.hit(&id_key, limit.window_secs, now).await?;
        if n > limit.max {
            let passes = captcha_solved_already
                || known_device(ctx, t, ident, who, now).await?
                || captcha_solved(ctx, who).await?;
            if !passes {
                reset_at = Some(reset);
                soft_refused = true;
            }
        }
    }
    if let Some(reset) = reset_at {
        let refused_key = counter("login-refused", t.id(), &[ip]);
        let (refused, _) = ctx.hot.hit(&refused_key, (reset - now).max(1), now).await?;
        if is_power_of_ten(refused) {
            crate::audit::client(
                ctx,
                t.id(),
                AuditEvent::LoginRateLimited,
                who,
                json!({"identifier": ident.key(), "refused_in_window": refused}),
            )
            .await;
        }
        let retry = (reset - now).max(1) as u64;
        return Err(if soft_refused {
            Error::too_many_requests_because(
                retry,
                format!("too many attempts for this account: retry after {retry} s, or solve GET /api/sso/v1/captcha/challenge and send the payload as `altcha` (or X-Altcha)"),
            )
            .passable_by_captcha()
        } else {
            Error::too_many_requests(retry)
        });
    }
    Ok(Counted([pair_key, id_key]))
}

/// Per-address (hard) and per-identifier (soft: the account's known-device cookie passes)
/// limits on code and link requests; only requests the address limit lets through count
/// against the identifier.
pub async fn limit_requests(
    ctx: &Ctx,
    t: &Tenant,
    what: Requested,
    ident: &Identifier,
    who: &ClientMeta,
) -> Result<()> {
    let now = ctx.now();
    let kind = what.prefix();
    let id_key = counter(&format!("{kind}-id"), t.id(), &[&ident.key()]);
    let ip_key = counter(&format!("{kind}-ip"), t.id(), &[&who.ip]);
    // The address first: a request it refuses never reaches the identifier's counter, so an
    // address past its limit cannot keep spending other people's budgets (blocking their codes).
    let (ip_n, ip_reset) = ctx
        .hot
        .hit(&ip_key, t.otp_limit_ip.window_secs, now)
        .await?;
    if ip_n > t.otp_limit_ip.max {
        return Err(Error::too_many_requests((ip_reset - now).max(1) as u64));
    }
    let (id_n, id_reset) = ctx
        .hot
        .hit(&id_key, t.otp_limit_identifier.window_secs, now)
        .await?;
    // Soft, like the login limit: the owner's browser (the account's known-device cookie)
    // still gets its code or link, so requests from elsewhere cannot keep the owner from
    // signing in; everyone else waits, which keeps the mailbox from being flooded.
    if id_n > t.otp_limit_identifier.max && !known_device(ctx, t, ident, who, now).await? {
        let retry = (id_reset - now).max(1) as u64;
        return Err(Error::too_many_requests_because(
            retry,
            format!("too many requests for this identifier: retry after {retry} s (a browser that signed in to the account before is not limited)"),
        ));
    }
    Ok(())
}

pub use crate::audit::is_power_of_ten;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_counts_audited() {
        let audited: Vec<u64> = (0..=10_000).filter(|&n| is_power_of_ten(n)).collect();
        assert_eq!(audited, [1, 10, 100, 1000, 10_000]);
    }
}
