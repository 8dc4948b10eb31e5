//! Magic links: a single-use, short-lived token mailed as a link. Only a SHA-256 of the token
//! is stored (in the hot store, expiring). Opening the link (GET) never consumes it, because mail
//! scanners open links first: it shows a confirmation page whose button POSTs, and only that
//! POST consumes the token (atomically: the first of two simultaneous POSTs wins).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use usso_shared::encoding::{b64url_encode, hex_encode};
use usso_shared::{Error, Result};

use crate::store::hot::OriginHot;

/// What a link signs in to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Link {
    /// The identifier key (`email:…`).
    pub identifier: String,
    /// Where to send the browser afterwards (checked against the tenant's allow-list when the
    /// link was requested).
    pub redirect: Option<String>,
    /// Expiry (unix seconds).
    pub expires_at: i64,
}

/// A fresh token: 32 random bytes, base64url.
pub fn new_token() -> Result<String> {
    Ok(b64url_encode(&usso_shared::random::bytes::<32>()?))
}

fn hot_key(tenant: &str, token: &str) -> String {
    crate::store::keys::magic_link(tenant, &hex_encode(&Sha256::digest(token.as_bytes())))
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
    tenant: &str,
    token: &str,
    link: &Link,
    ttl_secs: i64,
    now: i64,
) -> Result<()> {
    let text = serde_json::to_string(link).map_err(|e| Error::internal(e.to_string()))?;
    hot.put_expiring(&hot_key(tenant, token), &text, ttl_secs, now)
        .await
}

/// The link, if the token is live (nothing is consumed).
pub async fn peek<H: OriginHot>(
    hot: &H,
    tenant: &str,
    token: &str,
    now: i64,
) -> Result<Option<Link>> {
    if !plausible(token) {
        return Ok(None);
    }
    let Some(text) = hot.get_live(&hot_key(tenant, token), now).await? else {
        return Ok(None);
    };
    let link: Link =
        serde_json::from_str(&text).map_err(|e| Error::internal(format!("corrupt link: {e}")))?;
    Ok((link.expires_at > now).then_some(link))
}

/// Consumes the token: the link for the first caller, `None` for every later one.
pub async fn take<H: OriginHot>(
    hot: &H,
    tenant: &str,
    token: &str,
    now: i64,
) -> Result<Option<Link>> {
    let Some(link) = peek(hot, tenant, token, now).await? else {
        return Ok(None);
    };
    let key = hot_key(tenant, token);
    let (uses, _) = hot
        .hit(&format!("{key}:used"), (link.expires_at - now).max(1), now)
        .await?;
    hot.remove(&key).await?;
    Ok((uses == 1).then_some(link))
}

/// Whether `url` may be redirected to: it starts with one of the tenant's allowed prefixes
/// (each an absolute `https://` or `http://` URL; a prefix must end with `/` or be a whole URL,
/// so `https://app.example` does not allow `https://app.example.evil`).
pub fn redirect_allowed(url: &str, allowed: &[String]) -> bool {
    url.len() <= 2048
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
        && allowed
            .iter()
            .any(|a| url == a || (a.ends_with('/') && url.starts_with(a.as_str())))
}

// ---- the flows ---------------------------------------------------------------------------

/// A link is on its way (or, for an address that cannot sign in, pretends to be).
#[derive(Debug, Clone, Copy)]
pub struct LinkSent {
    /// Seconds the link stays valid.
    pub expires_in: i64,
}

/// `POST /auth/request-magic-link`: mails a single-use sign-in link (the same answer, and the
/// same work, whether or not the address has an account).
pub async fn request(
    ctx: &crate::app::Ctx,
    t: &crate::tenants::Tenant,
    who: &crate::app::ClientMeta,
    identifier: &str,
    redirect_to: Option<String>,
) -> Result<LinkSent> {
    use crate::authn::limits::{self, CaptchaRoute, Requested};
    limits::captcha_guard(ctx, t, CaptchaRoute::MagicLink, who).await?;
    let ident = crate::identity::identifier::Identifier::parse(identifier, Some("email"))?;
    if let Some(r) = &redirect_to {
        if !redirect_allowed(r, &t.allowed_redirects) {
            return Err(Error::new(
                usso_shared::ErrorCode::ValidationError,
                "redirect_to is not an allowed URL for this tenant",
            ));
        }
    }
    let now = ctx.now();
    limits::limit_requests(ctx, t, Requested::Link, &ident, who).await?;
    let known = crate::identity::users::holds_active(&ctx.docs, t.id(), &ident).await?;
    let deliver = known || t.registration_enabled;
    let token = new_token()?;
    let link = Link {
        identifier: ident.key(),
        redirect: redirect_to,
        expires_at: now + t.magic_link_ttl_secs,
    };
    store(&ctx.hot, t.id(), &token, &link, t.magic_link_ttl_secs, now).await?;
    let url = format!(
        "{}{}?token={token}",
        t.tokens.issuer.trim_end_matches('/'),
        usso_shared::paths::MAGIC_LINK
    );
    let minutes = (t.magic_link_ttl_secs as u64).div_ceil(60);
    let email = t
        .templates
        .render_magic_link_email(&ident.value, &t.name, &url, minutes);
    crate::delivery::send::queue(
        ctx,
        t,
        &crate::delivery::outbox::Message::Email(email),
        deliver,
    )
    .await?;
    crate::audit::client(
        ctx,
        t.id(),
        crate::audit::AuditEvent::MagicLinkRequested,
        who,
        serde_json::json!({"identifier": ident.key()}),
    )
    .await;
    Ok(LinkSent {
        expires_in: t.magic_link_ttl_secs,
    })
}

/// Whether a link is still live (the confirmation page; consumes nothing).
pub async fn is_live(
    ctx: &crate::app::Ctx,
    t: &crate::tenants::Tenant,
    token: &str,
) -> Result<bool> {
    Ok(peek(&ctx.hot, t.id(), token, ctx.now()).await?.is_some())
}

/// `POST /auth/magic-link`: consumes the link and proves the address (registering it if the
/// tenant allows); the proof and where the link said to go afterwards.
pub async fn confirm(
    ctx: &crate::app::Ctx,
    t: &crate::tenants::Tenant,
    who: &crate::app::ClientMeta,
    token: &str,
) -> Result<(crate::authn::Authenticated, Option<String>)> {
    use crate::authn::{Amr, Authenticated};
    let used = || {
        Error::new(
            usso_shared::ErrorCode::InvalidCredentials,
            "this link has expired or was already used",
        )
    };
    let Some(link) = take(&ctx.hot, t.id(), token, ctx.now()).await? else {
        return Err(used());
    };
    let (kind, value) = link
        .identifier
        .split_once(':')
        .ok_or_else(|| Error::internal("corrupt link identifier"))?;
    let ident = crate::identity::identifier::Identifier::parse(value, Some(kind))?;
    let user = match crate::identity::users::find_for_sign_in(&ctx.docs, t.id(), &ident).await? {
        Some(found) => crate::identity::claim::claim(ctx, t, who, found, &ident).await?,
        None if t.registration_enabled => {
            crate::authn::can_register(t, &ident, false)?;
            crate::identity::register::proven(ctx, t, who, &ident, Amr::MagicLink).await?
        }
        None => return Err(used()),
    };
    Ok((
        Authenticated {
            user,
            amr: vec![Amr::MagicLink],
            identifier_verified: true,
        },
        link.redirect,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hot::SqliteHot;

    #[test]
    fn redirects_must_match_a_prefix() {
        let allowed = vec![
            "https://app.example/".to_owned(),
            "https://x.example/done".to_owned(),
        ];
        assert!(redirect_allowed(
            "https://app.example/welcome?a=1",
            &allowed
        ));
        assert!(redirect_allowed("https://x.example/done", &allowed));
        assert!(!redirect_allowed("https://x.example/done/evil", &allowed));
        assert!(!redirect_allowed("https://app.example.evil/", &allowed));
        assert!(!redirect_allowed(
            "https://app.example/\r\nSet-Cookie: x",
            &allowed
        ));
        assert!(!redirect_allowed("javascript:alert(1)", &allowed));
    }

    #[tokio::test]
    async fn peek_does_not_consume_and_take_is_single_use() {
        let dir = std::env::temp_dir().join(format!(
            "usso-ml-{}",
            usso_shared::random::hex_id().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let hot = SqliteHot::open(&dir.join("hot.db")).unwrap();
        let token = new_token().unwrap();
        let link = Link {
            identifier: "email:a@example.com".into(),
            redirect: None,
            expires_at: 1900,
        };
        store(&hot, "t", &token, &link, 900, 1000).await.unwrap();
        for _ in 0..3 {
            assert_eq!(
                peek(&hot, "t", &token, 1001).await.unwrap(),
                Some(link.clone())
            );
        }
        assert_eq!(
            peek(&hot, "u", &token, 1001).await.unwrap(),
            None,
            "tenant-bound"
        );
        assert_eq!(take(&hot, "t", &token, 1002).await.unwrap(), Some(link));
        assert_eq!(take(&hot, "t", &token, 1003).await.unwrap(), None);
        assert_eq!(peek(&hot, "t", "garbage", 1003).await.unwrap(), None);
        let t2 = new_token().unwrap();
        store(
            &hot,
            "t",
            &t2,
            &Link {
                identifier: "x".into(),
                redirect: None,
                expires_at: 1100,
            },
            100,
            1000,
        )
        .await
        .unwrap();
        assert_eq!(take(&hot, "t", &t2, 1100).await.unwrap(), None, "expired");
        std::fs::remove_dir_all(dir).ok();
    }
}
