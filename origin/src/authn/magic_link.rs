//! Magic links: signing in with a single-use, short-lived link mailed to the address
//! ([`crate::authn::links`] holds the token rules: hash-only, scanner-safe, single use).

use usso_shared::{Error, Result};

use crate::authn::links::{self, Link, LinkPurpose};

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

/// Whether `url` is a path of this site a browser may be sent to after signing in: absolute
/// path, not protocol-relative (`//host`), no backslash (browsers read `/\\host` as `//host`),
/// no spaces or controls, not under the API prefix, at most 2048 characters.
pub fn local_path(url: &str) -> bool {
    url.starts_with('/')
        && !url.starts_with("//")
        && (!url.starts_with(usso_shared::paths::PREFIX) || is_authorize_request(url))
        && url.len() <= 2048
        && !url
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// Whether `url` is an OAuth authorization request of this site (the one API route a sign-in
/// returns to: the provider's sign-in step).
pub fn is_authorize_request(url: &str) -> bool {
    url.strip_prefix(usso_shared::paths::OAUTH_AUTHORIZE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
}

/// A redirect a sign-in may follow: a [`local_path`] or a URL the tenant allows.
pub fn target_allowed(url: &str, allowed: &[String]) -> bool {
    local_path(url) || redirect_allowed(url, allowed)
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
        if !target_allowed(r, &t.allowed_redirects) {
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
    let link = Link {
        identifier: ident.key(),
        redirect: redirect_to,
        expires_at: now + t.magic_link_ttl_secs,
        user_id: None,
    };
    let url = links::issue(
        &ctx.hot,
        t,
        LinkPurpose::SignIn,
        &link,
        usso_shared::paths::MAGIC_LINK,
        now,
    )
    .await?;
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
    Ok(
        links::peek(&ctx.hot, LinkPurpose::SignIn, t.id(), token, ctx.now())
            .await?
            .is_some(),
    )
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
    let Some(link) = links::take(&ctx.hot, LinkPurpose::SignIn, t.id(), token, ctx.now()).await?
    else {
        return Err(used());
    };
    let ident = links::identifier_of(&link)?;
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

    #[test]
    fn local_paths_cannot_leave_the_site() {
        assert!(local_path("/account"));
        assert!(local_path("/oauth/authorize?client_id=a&state=b"));
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "/a\\b",
            "https://evil.example/",
            "account",
            "/ spaced",
            "/api/sso/v1/auth/logout",
            "/x\n",
            "",
        ] {
            assert!(!local_path(bad), "{bad:?}");
        }
        assert!(!target_allowed("https://evil.example/", &[]));
        assert!(target_allowed(
            "https://app.example/cb",
            &["https://app.example/".to_owned()]
        ));
    }

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
}
