//! Every hot-store key the origin writes, declared once (the edge core's own keys, for
//! published tenants, domains and sessions, are in `usso_edge::store::key`). All keys start
//! with `usso:`; the gateway's prefix rule (`USSO_GATEWAY_PREFIX`) relies on it.

/// A rate-limit counter: `usso:rl:<kind>:<tenant>:<parts joined by |>`.
pub fn counter(kind: &str, tenant: &str, parts: &[&str]) -> String {
    format!("usso:rl:{kind}:{tenant}:{}", parts.join("|"))
}

/// A one-time code of `purpose` for an identifier key.
pub fn code(tenant: &str, purpose: &str, identifier: &str) -> String {
    format!("usso:otp:{tenant}:{purpose}:{identifier}")
}

/// A pending second step (MFA or identifier proof) of a password sign-in.
pub fn mfa_challenge(tenant: &str, challenge: &str) -> String {
    format!("usso:mfa:{tenant}:{challenge}")
}

/// An emailed link (`kind`: `ml` for a magic sign-in link, and one tag per other purpose),
/// by the hash of its token.
pub fn link(kind: &str, tenant: &str, token_hash: &str) -> String {
    format!("usso:{kind}:{tenant}:{token_hash}")
}

/// The prefix of used captcha solutions (`usso:captcha:<challenge>`).
pub const CAPTCHA_REPLAY_PREFIX: &str = "usso:captcha:";

/// What `/health` reads to prove the hot store answers.
pub const HEALTH_PROBE: &str = "usso:health";
