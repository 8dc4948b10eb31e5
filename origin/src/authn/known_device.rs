//! Known devices: the soft side of the per-identifier limits.
//!
//! Invariant: an attacker who guesses passwords for an account from many addresses can exhaust
//! the account's per-identifier limit, but cannot lock its owner out. Past that limit a sign-in
//! still goes through when the browser holds a known-device token from an earlier successful
//! sign-in to the same account (an HttpOnly cookie, 90 days), or when the request carries a
//! solved proof-of-work captcha (each solution works once, so every further guess costs the
//! attacker a fresh proof of work). The per-(identifier, address) and per-address limits stay
//! hard. The same cookie passes the per-identifier limit on code and link requests
//! ([`crate::authn::limits::limit_requests`]), so the owner's browser still gets its code.
//!
//! The token is `<exp>.<tag>`, the tag an HMAC-SHA-256 over tenant, user id and expiry under a
//! key derived from the master key; it names no user and is checked in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use usso_shared::encoding::{b64url_decode, b64url_encode};
use usso_shared::seal::SecretKey;

/// The cookie holding the token.
pub const COOKIE: &str = "usso-device";
/// How long a device stays known.
pub const LIFETIME_SECS: i64 = 90 * 86_400;
/// The path the cookie is sent on (the sign-in routes).
pub const PATH: &str = "/api/sso/v1/auth";

const LABEL: &[u8] = b"usso known device v1";

fn mac(master: &SecretKey, tenant: &str, user_id: &str, exp: i64) -> Hmac<Sha256> {
    let key = master.derive(LABEL);
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    for part in [tenant.as_bytes(), b"\0", user_id.as_bytes(), b"\0"] {
        mac.update(part);
    }
    mac.update(&exp.to_be_bytes());
    mac
}

/// A token saying this device signed in to `user_id` of `tenant`.
pub fn issue(master: &SecretKey, tenant: &str, user_id: &str, now: i64) -> String {
    let exp = now + LIFETIME_SECS;
    let tag = mac(master, tenant, user_id, exp).finalize().into_bytes();
    format!("{exp}.{}", b64url_encode(&tag))
}

/// Whether `token` is a live known-device token for `user_id` of `tenant`.
pub fn check(master: &SecretKey, tenant: &str, user_id: &str, token: &str, now: i64) -> bool {
    let Some((exp, tag)) = token.split_once('.') else {
        return false;
    };
    let (Ok(exp), Some(tag)) = (exp.parse::<i64>(), b64url_decode(tag)) else {
        return false;
    };
    exp > now && mac(master, tenant, user_id, exp).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_tenant_user_key_and_time() {
        let m = SecretKey::from_bytes([7; 32]);
        let t = issue(&m, "t", "u1", 1000);
        assert!(check(&m, "t", "u1", &t, 1000));
        assert!(!check(&m, "t", "u2", &t, 1000));
        assert!(!check(&m, "other", "u1", &t, 1000));
        assert!(!check(&SecretKey::from_bytes([8; 32]), "t", "u1", &t, 1000));
        assert!(!check(&m, "t", "u1", &t, 1000 + LIFETIME_SECS));
        let (exp, tag) = t.split_once('.').unwrap();
        let longer = format!("{}.{tag}", exp.parse::<i64>().unwrap() + 1);
        assert!(!check(&m, "t", "u1", &longer, 1000));
        for junk in ["", ".", "x.y", "1.", "99999999999999999999.AAAA"] {
            assert!(!check(&m, "t", "u1", junk, 1000), "{junk}");
        }
    }
}
