//! Single-use links sent by email: a magic sign-in link, a password reset link, a link that
//! proves an address added to an account.
//!
//! Invariants and the attacks they prevent:
//! - a token is 32 random bytes; only its SHA-256 is stored (in the hot store, expiring), so a
//!   leaked store does not hand out live links;
//! - each purpose has its own key space: a sign-in link never resets a password or proves an
//!   address, nor the reverse;
//! - opening a link (GET) never consumes it, because mail scanners open links first: pages
//!   show a button that POSTs, and only that POST takes the token, atomically (the first of
//!   two simultaneous POSTs wins; every later one finds nothing).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use usso_shared::encoding::{b64url_encode, hex_encode};
use usso_shared::{Error, Result};

use crate::store::hot::OriginHot;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Signing in (the magic link).
    SignIn,
    /// Choosing a new password.
    PasswordReset,
    /// Proving an address added to an account.
    Verify,
}

impl LinkPurpose {
    fn tag(self) -> &'static str {
        match self {
            Self::SignIn => "ml",
            Self::PasswordReset => "reset-link",
            Self::Verify => "verify-link",
        }
    }
}

/// What a live link carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Link {
    /// The identifier key (`email:…`).
    pub identifier: String,
    /// Where to send the browser afterwards (checked against the tenant's allow-list when the
    /// link was requested).
    pub redirect: Option<String>,
    /// Expiry (unix seconds).
    pub expires_at: i64,
    /// The account the link was sent for, when it acts on one account only (proving an
    /// address: the link must not prove it for whoever holds it later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A fresh token: 32 random bytes, base64url.
pub fn new_token() -> Result<String> {
    Ok(b64url_encode(&usso_shared::random::bytes::<32>()?))
}

fn hot_key(purpose: LinkPurpose, tenant: &str, token: &str) -> String {
    crate::store::keys::link(
        purpose.tag(),
        tenant,
        &hex_encode(&Sha256::digest(token.as_bytes())),
    )
}

fn plausible(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores a link for `ttl_secs`.
pub async fn store<H: OriginHot>(
    hot: &H,
    purpose: LinkPurpose,
    tenant: &str,
    token: &str,
    link: &Link,
    ttl_secs: i64,
    now: i64,
) -> Result<()> {
    let text = serde_json::to_string(link).map_err(|e| Error::internal(e.to_string()))?;
    hot.put_expiring(&hot_key(purpose, tenant, token), &text, ttl_secs, now)
        .await
}

/// The link, if the token is live (nothing is consumed).
pub async fn peek<H: OriginHot>(
    hot: &H,
    purpose: LinkPurpose,
    tenant: &str,
    token: &str,
    now: i64,
) -> Result<Option<Link>> {
    if !plausible(token) {
        return Ok(None);
    }
    let Some(text) = hot.get_live(&hot_key(purpose, tenant, token), now).await? else {
        return Ok(None);
    };
    let link: Link =
        serde_json::from_str(&text).map_err(|e| Error::internal(format!("corrupt link: {e}")))?;
    Ok((link.expires_at > now).then_some(link))
}

/// Consumes the token: the link for the first caller, `None` for every later one.
pub async fn take<H: OriginHot>(
    hot: &H,
    purpose: LinkPurpose,
    tenant: &str,
    token: &str,
    now: i64,
) -> Result<Option<Link>> {
    let Some(link) = peek(hot, purpose, tenant, token, now).await? else {
        return Ok(None);
    };
    let key = hot_key(purpose, tenant, token);
    let (uses, _) = hot
        .hit(&format!("{key}:used"), (link.expires_at - now).max(1), now)
        .await?;
    hot.remove(&key).await?;
    Ok((uses == 1).then_some(link))
}

/// Issues a link for `purpose` and returns its URL: `path?token=…` under the tenant's issuer.
pub async fn issue<H: OriginHot>(
    hot: &H,
    t: &crate::tenants::Tenant,
    purpose: LinkPurpose,
    link: &Link,
    path: &str,
    now: i64,
) -> Result<String> {
    let token = new_token()?;
    store(
        hot,
        purpose,
        t.id(),
        &token,
        link,
        link.expires_at - now,
        now,
    )
    .await?;
    Ok(format!(
        "{}{path}?token={token}",
        t.tokens.issuer.trim_end_matches('/')
    ))
}

/// The link sent beside a one-time code: by email a link for `purpose` to `path`, living as
/// long as the code; text messages carry the code only (`None`).
pub async fn beside_code(
    ctx: &crate::app::Ctx,
    t: &crate::tenants::Tenant,
    channel: crate::delivery::Channel,
    purpose: LinkPurpose,
    identifier: &crate::identity::identifier::Identifier,
    user_id: Option<String>,
    path: &str,
) -> Result<Option<String>> {
    let now = ctx.now();
    if channel != crate::delivery::Channel::Email {
        return Ok(None);
    }
    let link = Link {
        identifier: identifier.key(),
        redirect: None,
        expires_at: now + t.otp.ttl_secs,
        user_id,
    };
    issue(&ctx.hot, t, purpose, &link, path, now)
        .await
        .map(Some)
}

/// The identifier a link names.
pub fn identifier_of(link: &Link) -> Result<crate::identity::identifier::Identifier> {
    let (kind, value) = link
        .identifier
        .split_once(':')
        .ok_or_else(|| Error::internal("corrupt link identifier"))?;
    crate::identity::identifier::Identifier::parse(value, Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hot::SqliteHot;

    #[tokio::test]
    async fn peek_does_not_consume_take_is_single_use_and_purposes_do_not_mix() {
        let dir = crate::store::temp_dir("links");
        let hot = SqliteHot::open(&dir.join("hot.db")).unwrap();
        let token = new_token().unwrap();
        let link = Link {
            identifier: "email:a@example.com".into(),
            redirect: None,
            expires_at: 1_000 + 600,
            user_id: Some("u1".into()),
        };
        store(&hot, LinkPurpose::Verify, "t", &token, &link, 600, 1_000)
            .await
            .unwrap();
        let p = LinkPurpose::Verify;
        assert_eq!(
            peek(&hot, p, "t", &token, 1_001).await.unwrap(),
            Some(link.clone())
        );
        for other in [LinkPurpose::SignIn, LinkPurpose::PasswordReset] {
            assert_eq!(peek(&hot, other, "t", &token, 1_001).await.unwrap(), None);
            assert_eq!(take(&hot, other, "t", &token, 1_001).await.unwrap(), None);
        }
        assert_eq!(
            peek(&hot, p, "t2", &token, 1_001).await.unwrap(),
            None,
            "tenant"
        );
        assert_eq!(take(&hot, p, "t", &token, 1_002).await.unwrap(), Some(link));
        assert_eq!(take(&hot, p, "t", &token, 1_003).await.unwrap(), None);
        assert_eq!(peek(&hot, p, "t", "short", 1_003).await.unwrap(), None);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn an_expired_link_is_not_live() {
        let dir = crate::store::temp_dir("links");
        let hot = SqliteHot::open(&dir.join("hot.db")).unwrap();
        let token = new_token().unwrap();
        let link = Link {
            identifier: "email:a@example.com".into(),
            redirect: None,
            expires_at: 1_060,
            user_id: None,
        };
        let p = LinkPurpose::PasswordReset;
        store(&hot, p, "t", &token, &link, 60, 1_000).await.unwrap();
        assert_eq!(take(&hot, p, "t", &token, 1_060).await.unwrap(), None);
        std::fs::remove_dir_all(&dir).ok();
    }
}
