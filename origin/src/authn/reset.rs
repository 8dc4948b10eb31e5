//! Recovering access: a password reset by a one-time code sent to the account's email
//! address or phone number, or by the single-use link mailed with the code
//! ([`crate::authn::links`]).
//!
//! Invariants and the attacks they prevent:
//! - asking for a reset answers the same, and does the same work, whether or not an account
//!   holds the identifier (account enumeration); the message is delivered only to an active
//!   account's identifier;
//! - requests are limited per identifier and per address like code requests, and attempts to
//!   use a code are counted like sign-ins (guessing), without locking the owner out;
//! - a code is single use, expires with the tenant's code lifetime, and is bound to its
//!   identifier and purpose (a sign-in code does not reset a password, nor the reverse); so is
//!   a link, which carries 256 random bits (nothing to guess) and is stored as a hash;
//! - using it proves the identifier: an account set up by someone who never proved it is
//!   claimed first ([`crate::identity::claim`]); then every session of the account ends, so
//!   whoever knew the old password is out.

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authn::codes::Purpose;
use crate::authn::limits::{self, Requested};
use crate::authn::links::{self, LinkPurpose};
use crate::authn::otp::{channel_for, CodeSent};
use crate::delivery::CodeMessage;
use crate::identity::identifier::Identifier;
use crate::identity::users;
use crate::tenants::Tenant;

/// Why sessions end after a password reset.
pub const REASON_PASSWORD_RESET: &str = "password_reset";

/// `POST /auth/password/reset/request`: sends a reset code if an active account holds the
/// identifier; answers the same either way.
pub async fn request(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    identifier: &str,
) -> Result<CodeSent> {
    let ident = Identifier::parse(identifier, None).map_err(|e| {
        Error::new(
            ErrorCode::ValidationError,
            format!("identifier: {}", e.detail()),
        )
    })?;
    let channel = channel_for(&ident, None)?;
    limits::limit_requests(ctx, t, Requested::Code, &ident, who).await?;
    let known = users::holds_active(&ctx.docs, t.id(), &ident).await?;
    let now = ctx.now();
    let code = ctx
        .codes(&t.otp)
        .issue(t.id(), &ident.key(), Purpose::PasswordReset, now)
        .await?;
    // By email, a link as well (text messages carry the code only).
    let link = links::beside_code(
        ctx,
        t,
        channel,
        LinkPurpose::PasswordReset,
        &ident,
        None,
        usso_shared::paths::PASSWORD_RESET,
    )
    .await?;
    crate::delivery::send::send_purpose_code(
        ctx,
        t,
        &ident,
        channel,
        crate::delivery::PurposeCode {
            what: CodeMessage::PasswordReset,
            code: &code,
            link: link.as_deref(),
        },
        known,
    )
    .await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::PasswordResetRequested,
        who,
        json!({"identifier": ident.key()}),
    )
    .await;
    Ok(CodeSent {
        channel,
        expires_in: t.otp.ttl_secs,
    })
}

/// `POST /auth/password/reset`: with the code, sets a new password and ends every session of
/// the account. Wrong, used or expired codes and unknown identifiers are all
/// `invalid_credentials`.
pub async fn reset(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    identifier: &str,
    code: &str,
    new_password: &str,
    captcha_solved: bool,
) -> Result<u64> {
    let ident = Identifier::parse(identifier, None).map_err(|e| {
        Error::new(
            ErrorCode::ValidationError,
            format!("identifier: {}", e.detail()),
        )
    })?;
    if code.len() > 32 {
        return Err(Error::new(ErrorCode::ValidationError, "code is too long"));
    }
    t.password_policy()
        .check_field("new_password", new_password)?;
    let now = ctx.now();
    let counted = limits::count_login(ctx, t, &ident, who, captcha_solved).await?;
    ctx.codes(&t.otp)
        .check(t.id(), &ident.key(), Purpose::PasswordReset, code, now)
        .await?;
    let found = users::find_for_sign_in(&ctx.docs, t.id(), &ident)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::InvalidCredentials, "wrong or expired code"))?;
    counted.clear(ctx).await?;
    set_new_password(ctx, t, who, found, &ident, new_password).await
}

/// Whether a reset link is still live (its page; consumes nothing).
pub async fn link_is_live(ctx: &Ctx, t: &Tenant, token: &str) -> Result<bool> {
    Ok(links::peek(
        &ctx.hot,
        LinkPurpose::PasswordReset,
        t.id(),
        token,
        ctx.now(),
    )
    .await?
    .is_some())
}

/// `POST /auth/password/reset` with the mailed link's token: sets a new password and ends
/// every session of the account. A used, expired or unknown link is `invalid_credentials`.
pub async fn reset_by_link(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    token: &str,
    new_password: &str,
) -> Result<u64> {
    t.password_policy()
        .check_field("new_password", new_password)?;
    let gone = || {
        Error::new(
            ErrorCode::InvalidCredentials,
            "this link has expired or was already used",
        )
    };
    let link = links::take(
        &ctx.hot,
        LinkPurpose::PasswordReset,
        t.id(),
        token,
        ctx.now(),
    )
    .await?
    .ok_or_else(gone)?;
    let ident = links::identifier_of(&link)?;
    let found = users::find_for_sign_in(&ctx.docs, t.id(), &ident)
        .await?
        .ok_or_else(gone)?;
    set_new_password(ctx, t, who, found, &ident, new_password).await
}

/// The identifier is proven: claim the account if needed, store the password, end every
/// session, audit. The number of sessions ended.
async fn set_new_password(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    found: users::Found,
    ident: &Identifier,
    new_password: &str,
) -> Result<u64> {
    let now = ctx.now();
    // The proof claims an account set up without it.
    let user = crate::identity::claim::claim(ctx, t, who, found, ident).await?;
    let user =
        crate::identity::account::store_password(ctx, t, &user.id, "new_password", new_password)
            .await?;
    let revoked = crate::store::hot::revoke_all(
        &ctx.hot,
        t.id(),
        &user.subject(),
        REASON_PASSWORD_RESET,
        now,
    )
    .await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::PasswordReset,
        who,
        json!({"user_id": user.id, "identifier": ident.key(), "sessions_revoked": revoked}),
    )
    .await;
    Ok(revoked)
}
