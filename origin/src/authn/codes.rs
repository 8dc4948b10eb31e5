//! One-time codes: generation, keyed hashing, and the single-use, attempt-limited check.
//!
//! A code is stored in the hot store only as `HMAC-SHA-256(key, tenant | identifier | purpose |
//! code)` under a key derived from the master key, with its expiry; it is compared in constant
//! time; every check counts one attempt before comparing (so parallel guesses cannot slip past
//! the limit) and after [`OtpPolicy::max_attempts`] the code is gone; a correct code is consumed
//! atomically (the first of two simultaneous correct submissions wins).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use usso_shared::encoding::hex_encode;
use usso_shared::seal::SecretKey;
use usso_shared::{Error, ErrorCode, Result};

use crate::store::hot::OriginHot;

/// Per-tenant policy for one-time codes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct OtpPolicy {
    /// Digits (4–10).
    pub length: u8,
    /// Lifetime in seconds.
    pub ttl_secs: i64,
    /// Wrong attempts that exhaust a code.
    pub max_attempts: u64,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        Self {
            length: 6,
            ttl_secs: 300,
            max_attempts: 5,
        }
    }
}

impl OtpPolicy {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<()> {
        if !(4..=10).contains(&self.length)
            || !(30..=3600).contains(&self.ttl_secs)
            || !(1..=20).contains(&self.max_attempts)
        {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "OTP policy: length 4–10, ttl 30–3600 s, attempts 1–20",
            ));
        }
        Ok(())
    }
}

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Logging in (or registering) with the code.
    Login,
    /// Completing a password login that needs a second factor.
    Mfa,
    /// Choosing a new password.
    PasswordReset,
    /// Proving an identifier added to an account.
    Verify,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Mfa => "mfa",
            Purpose::PasswordReset => "reset",
            Purpose::Verify => "verify",
        }
    }
}

/// A fresh code of `length` decimal digits, uniformly distributed.
pub fn generate(length: u8) -> Result<String> {
    let mut out = String::with_capacity(usize::from(length));
    while out.len() < usize::from(length) {
        let [b] = usso_shared::random::bytes::<1>()?;
        // 250 = 25 × 10: reject 250..=255 so every digit is equally likely.
        if b < 250 {
            out.push(char::from(b'0' + b % 10));
        }
    }
    Ok(out)
}

#[derive(Serialize, Deserialize)]
struct Stored {
    hash: String,
    expires_at: i64,
}

fn hot_key(tenant: &str, identifier: &str, purpose: Purpose) -> String {
    crate::store::keys::code(tenant, purpose.as_str(), identifier)
}

fn code_hash(
    master: &SecretKey,
    tenant: &str,
    identifier: &str,
    purpose: Purpose,
    code: &str,
) -> String {
    let key = master.derive(b"usso otp v1");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key length");
    for part in [tenant, identifier, purpose.as_str(), code] {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex_encode(&mac.finalize().into_bytes())
}

/// The codes of one tenant policy over a hot store.
pub struct Codes<'a, H> {
    /// Hot store.
    pub hot: &'a H,
    /// Master key (the hashing key is derived from it).
    pub master: &'a SecretKey,
    /// The tenant's policy.
    pub policy: &'a OtpPolicy,
}

impl<H: OriginHot> Codes<'_, H> {
    /// Issues a new code for `identifier` (replacing any earlier one) and returns it for
    /// delivery.
    pub async fn issue(
        &self,
        tenant: &str,
        identifier: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<String> {
        issue(
            self.hot,
            self.master,
            self.policy,
            (tenant, identifier, purpose),
            now,
        )
        .await
    }

    /// Checks `presented` (see `check`).
    pub async fn check(
        &self,
        tenant: &str,
        identifier: &str,
        purpose: Purpose,
        presented: &str,
        now: i64,
    ) -> Result<()> {
        check(
            self.hot,
            self.master,
            self.policy,
            (tenant, identifier, purpose),
            presented,
            now,
        )
        .await
    }
}

/// Which code: tenant, identifier key, purpose.
type Target<'a> = (&'a str, &'a str, Purpose);

async fn issue<H: OriginHot>(
    hot: &H,
    master: &SecretKey,
    policy: &OtpPolicy,
    (tenant, identifier, purpose): Target<'_>,
    now: i64,
) -> Result<String> {
    let code = generate(policy.length)?;
    let stored = Stored {
        hash: code_hash(master, tenant, identifier, purpose, &code),
        expires_at: now + policy.ttl_secs,
    };
    let k = hot_key(tenant, identifier, purpose);
    hot.clear(&[format!("{k}:attempts")]).await?;
    let text = serde_json::to_string(&stored).map_err(|e| Error::internal(e.to_string()))?;
    hot.put_expiring(&k, &text, policy.ttl_secs, now).await?;
    Ok(code)
}

fn wrong() -> Error {
    Error::new(ErrorCode::InvalidCredentials, "wrong or expired code")
}

/// Checks `presented` against the code issued for `identifier`, counting the attempt first;
/// consumes the code on success. Every failure is `invalid_credentials` ("wrong or expired").
async fn check<H: OriginHot>(
    hot: &H,
    master: &SecretKey,
    policy: &OtpPolicy,
    (tenant, identifier, purpose): Target<'_>,
    presented: &str,
    now: i64,
) -> Result<()> {
    let k = hot_key(tenant, identifier, purpose);
    let (attempts, _) = hot
        .hit(&format!("{k}:attempts"), policy.ttl_secs, now)
        .await?;
    let Some(text) = hot.get_live(&k, now).await? else {
        return Err(wrong());
    };
    if attempts > policy.max_attempts {
        hot.remove(&k).await?;
        return Err(wrong());
    }
    let stored: Stored =
        serde_json::from_str(&text).map_err(|e| Error::internal(format!("corrupt code: {e}")))?;
    let presented = presented.trim();
    let hash = code_hash(master, tenant, identifier, purpose, presented);
    let matches = presented.len() == usize::from(policy.length)
        && bool::from(hash.as_bytes().ct_eq(stored.hash.as_bytes()));
    if !matches || stored.expires_at <= now {
        if attempts >= policy.max_attempts {
            hot.remove(&k).await?;
        }
        return Err(wrong());
    }
    // Single use: the first correct submission takes it.
    let (uses, _) = hot
        .hit(&format!("{k}:used:{}", stored.hash), policy.ttl_secs, now)
        .await?;
    hot.remove(&k).await?;
    if uses > 1 {
        return Err(wrong());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hot::SqliteHot;

    fn hot() -> (SqliteHot, std::path::PathBuf) {
        let dir = crate::store::temp_dir("otp");
        (SqliteHot::open(&dir.join("hot.db")).unwrap(), dir)
    }

    #[test]
    fn codes_are_digits_of_the_length() {
        for len in 4..=10 {
            let c = generate(len).unwrap();
            assert_eq!(c.len(), usize::from(len));
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(OtpPolicy {
            length: 3,
            ..OtpPolicy::default()
        }
        .validate()
        .is_err());
        assert!(OtpPolicy::default().validate().is_ok());
    }

    #[tokio::test]
    async fn single_use_attempt_limited_and_expiring() {
        let (h, dir) = hot();
        let m = SecretKey::from_bytes([3; 32]);
        let p = OtpPolicy::default();
        let id = "email:a@example.com";
        let c = Codes {
            hot: &h,
            master: &m,
            policy: &p,
        };
        let code = c.issue("t", id, Purpose::Login, 1000).await.unwrap();
        assert!(
            c.check("t", id, Purpose::Mfa, &code, 1001).await.is_err(),
            "purpose-bound"
        );
        c.check("t", id, Purpose::Login, &code, 1001).await.unwrap();
        assert!(
            c.check("t", id, Purpose::Login, &code, 1002).await.is_err(),
            "single use"
        );

        // Five wrong attempts exhaust a code, even the right one after them.
        let code = c.issue("t", id, Purpose::Login, 2000).await.unwrap();
        let wrong_code = if code == "000000" { "000001" } else { "000000" };
        for _ in 0..5 {
            assert!(c
                .check("t", id, Purpose::Login, wrong_code, 2001)
                .await
                .is_err());
        }
        assert!(c.check("t", id, Purpose::Login, &code, 2002).await.is_err());

        // Expiry, and another tenant's code is not this tenant's.
        let code = c.issue("t", id, Purpose::Login, 3000).await.unwrap();
        assert!(c.check("u", id, Purpose::Login, &code, 3001).await.is_err());
        assert!(c
            .check("t", id, Purpose::Login, &code, 3000 + 300)
            .await
            .is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
