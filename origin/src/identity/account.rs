//! A signed-in person's own account: change the password, prove an identifier, export
//! everything held about them, delete the account.
//!
//! Invariants and the attacks they prevent:
//! - changing the password needs the current one (a stolen session alone cannot lock the
//!   owner out), counted like a sign-in (guessing through this route), and ends every other
//!   session (whoever knew the old password is out);
//! - proving an identifier needs a code sent to it (for an identifier of the caller's own
//!   account only) or the link mailed with it (bound to the account it was sent for, proving
//!   nothing once the address left that account); both bound to that purpose and single use;
//! - deleting the account needs the password when it has one (a borrowed, unlocked browser is
//!   not enough), and erases it as the GDPR command does.

use serde_json::{json, Value};
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authn::codes::Purpose;
use crate::authn::hasher::{Verdict, MAX_PASSWORD_BYTES};
use crate::authn::limits::{self, Requested};
use crate::authn::links::{self, LinkPurpose};
use crate::authn::otp::{channel_for, CodeSent};
use crate::authz::Principal;
use crate::delivery::CodeMessage;
use crate::identity::identifier::Identifier;
use crate::identity::users::{self, User};
use crate::tenants::Tenant;

/// Why the other sessions end after a password change.
pub const REASON_PASSWORD_CHANGED: &str = "password_changed";

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

/// The caller's live, active account.
pub async fn me(ctx: &Ctx, caller: &Principal) -> Result<User> {
    let uid = caller.user_id.as_deref().ok_or_else(|| {
        Error::new(
            ErrorCode::PermissionDenied,
            "this route is for user accounts",
        )
    })?;
    users::get(&ctx.docs, &caller.tenant_id, uid)
        .await?
        .map(|(u, _)| u)
        .filter(|u| !u.is_deleted() && u.is_active)
        .ok_or_else(|| Error::new(ErrorCode::PermissionDenied, "the account is not active"))
}

/// An identifier that names the account for the sign-in limits (its primary one).
fn limit_key(user: &User) -> Result<Identifier> {
    use crate::identity::identifier::IdentifierKind as K;
    [K::Email, K::Phone, K::Username]
        .into_iter()
        .find_map(|kind| {
            user.primary(kind).map(|v| Identifier {
                kind,
                value: v.to_owned(),
            })
        })
        .ok_or_else(|| Error::internal(format!("user `{}` has no identifier", user.id)))
}

/// Checks `password` against the account's, counted like a sign-in; `invalid_credentials`
/// when wrong or when the account has none.
async fn check_password(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    user: &User,
    password: &str,
) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(invalid("password is too long"));
    }
    let counted = limits::count_login(ctx, t, &limit_key(user)?, who, false).await?;
    match ctx
        .hasher
        .verify(password, user.password_hash.as_deref())
        .await?
    {
        Verdict::Valid { .. } => {
            counted.clear(ctx).await?;
            Ok(())
        }
        Verdict::Invalid => Err(Error::new(
            ErrorCode::InvalidCredentials,
            "the password is wrong",
        )),
    }
}

/// Checks `password` against the tenant's policy (errors name `field`), hashes it and stores
/// it on the account `uid`: the one way a password is set after registration (a change, a
/// reset, an administrator). Ending sessions is the caller's decision.
pub async fn store_password(
    ctx: &Ctx,
    t: &Tenant,
    uid: &str,
    field: &str,
    password: &str,
) -> Result<User> {
    t.password_policy().check_field(field, password)?;
    let hash = ctx.hasher.hash(password).await?;
    let (user, _) = users::modify(
        &ctx.docs,
        t.id(),
        uid,
        |u| {
            u.password_hash = Some(hash.clone());
            Ok(())
        },
        ctx.now(),
    )
    .await?;
    Ok(user)
}

/// Changes the caller's password (the current one required when the account has one) and
/// ends the account's other sessions; how many.
pub async fn change_password(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    current: Option<&str>,
    new_password: &str,
) -> Result<u64> {
    let user = me(ctx, caller).await?;
    t.password_policy()
        .check_field("new_password", new_password)?;
    if user.password_hash.is_some() {
        let current = current.ok_or_else(|| invalid("current_password: required"))?;
        check_password(ctx, t, who, &user, current).await?;
    }
    store_password(ctx, t, &user.id, "new_password", new_password).await?;
    let now = ctx.now();
    let revoked = crate::store::hot::revoke_others(
        &ctx.hot,
        t.id(),
        &user.subject(),
        caller.session_id.as_deref(),
        REASON_PASSWORD_CHANGED,
        now,
    )
    .await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::PasswordChanged,
        who,
        json!({"user_id": user.id, "sessions_revoked": revoked}),
    )
    .await;
    Ok(revoked)
}

/// The caller's own identifier `raw`, or `not_found`.
async fn own_identifier(ctx: &Ctx, user: &User, raw: &str) -> Result<users::IdentifierDoc> {
    let ident =
        Identifier::parse(raw, None).map_err(|e| invalid(format!("identifier: {}", e.detail())))?;
    users::identifiers_of(&ctx.docs, &user.tenant_id, &user.id)
        .await?
        .into_iter()
        .find(|i| i.identifier() == ident)
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "not an identifier of your account"))
}

/// Sends a confirmation code to one of the caller's unproven identifiers.
pub async fn request_verification(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    raw: &str,
) -> Result<CodeSent> {
    let user = me(ctx, caller).await?;
    let idoc = own_identifier(ctx, &user, raw).await?;
    if idoc.verified {
        return Err(Error::new(
            ErrorCode::Conflict,
            "this identifier is already proven",
        ));
    }
    let ident = idoc.identifier();
    let channel = channel_for(&ident, None)?;
    limits::limit_requests(ctx, t, Requested::Code, &ident, who).await?;
    let now = ctx.now();
    let code = ctx
        .codes(&t.otp)
        .issue(t.id(), &ident.key(), Purpose::Verify, now)
        .await?;
    // By email, a link as well, bound to this account (text messages carry the code only).
    let link = links::beside_code(
        ctx,
        t,
        channel,
        LinkPurpose::Verify,
        &ident,
        Some(user.id.clone()),
        usso_shared::paths::VERIFY_LINK,
    )
    .await?;
    crate::delivery::send::send_purpose_code(
        ctx,
        t,
        &ident,
        channel,
        crate::delivery::PurposeCode {
            what: CodeMessage::Verification,
            code: &code,
            link: link.as_deref(),
        },
        true,
    )
    .await?;
    Ok(CodeSent {
        channel,
        expires_in: t.otp.ttl_secs,
    })
}

/// Proves one of the caller's identifiers with the code sent to it; its `verified_at` is set.
pub async fn verify(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    raw: &str,
    code: &str,
) -> Result<users::IdentifierDoc> {
    let user = me(ctx, caller).await?;
    let idoc = own_identifier(ctx, &user, raw).await?;
    if code.len() > 32 {
        return Err(invalid("code is too long"));
    }
    let ident = idoc.identifier();
    let counted = limits::count_login(ctx, t, &ident, who, false).await?;
    ctx.codes(&t.otp)
        .check(t.id(), &ident.key(), Purpose::Verify, code, ctx.now())
        .await?;
    counted.clear(ctx).await?;
    crate::identity::claim::verify_identifier(ctx, t, who, &ident, &user.id).await?;
    own_identifier(ctx, &user, raw).await
}

/// Whether a verification link is still live (its page; consumes nothing).
pub async fn verify_link_is_live(ctx: &Ctx, t: &Tenant, token: &str) -> Result<bool> {
    Ok(
        links::peek(&ctx.hot, LinkPurpose::Verify, t.id(), token, ctx.now())
            .await?
            .is_some(),
    )
}

/// Proves an identifier with the link mailed to it (no session needed: the link is bound to
/// the account it was sent for, and proves nothing if the address has since left it). The
/// account and the proven identifier.
pub async fn verify_by_link(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    token: &str,
) -> Result<(User, users::IdentifierDoc)> {
    let gone = || {
        Error::new(
            ErrorCode::InvalidCredentials,
            "this link has expired or was already used",
        )
    };
    let link = links::take(&ctx.hot, LinkPurpose::Verify, t.id(), token, ctx.now())
        .await?
        .ok_or_else(gone)?;
    let ident = links::identifier_of(&link)?;
    let user_id = link.user_id.ok_or_else(gone)?;
    let held = || async {
        Ok::<_, Error>(
            users::identifiers_of(&ctx.docs, t.id(), &user_id)
                .await?
                .into_iter()
                .find(|i| i.identifier() == ident),
        )
    };
    held().await?.ok_or_else(gone)?;
    crate::identity::claim::verify_identifier(ctx, t, who, &ident, &user_id).await?;
    let idoc = held().await?.ok_or_else(gone)?;
    let (user, _) = users::get(&ctx.docs, t.id(), &user_id)
        .await?
        .ok_or_else(gone)?;
    Ok((user, idoc))
}

/// Everything held about the caller: the account (no password hash), identifiers,
/// sessions and the audit entries that name them.
pub async fn export(ctx: &Ctx, caller: &Principal) -> Result<Value> {
    let user = me(ctx, caller).await?;
    let mut account = serde_json::to_value(&user).map_err(|e| Error::internal(e.to_string()))?;
    if account.get("password_hash").is_some_and(|h| !h.is_null()) {
        account["password_hash"] = json!("<set>");
    }
    let identifiers = users::identifiers_of(&ctx.docs, &user.tenant_id, &user.id).await?;
    let sessions =
        crate::store::hot::SessionIndex::sessions_of(&ctx.hot, &user.tenant_id, &user.subject())
            .await?;
    let audit = crate::audit::of_user(&ctx.docs, &user.tenant_id, &user.id, 0, 1000).await?;
    Ok(json!({
        "account": account,
        "identifiers": identifiers,
        "sessions": sessions.iter().map(|s| json!({
            "id": s.session_id, "created_at": s.created_at, "last_used_at": s.last_used_at,
            "expires_at": s.expires_at, "revoked_at": s.revoked_at, "ip": s.ip,
            "user_agent": s.user_agent,
        })).collect::<Vec<_>>(),
        "audit": audit.0,
        "exported_at": ctx.now(),
    }))
}

/// Deletes the caller's account (the password required when it has one): sessions end, the
/// account and its identifiers are erased, audit entries about it lose their personal data.
pub async fn delete(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    password: Option<&str>,
) -> Result<crate::gdpr::Erased> {
    let user = me(ctx, caller).await?;
    if user.password_hash.is_some() {
        let password =
            password.ok_or_else(|| invalid("password: required to delete the account"))?;
        check_password(ctx, t, who, &user, password).await?;
    }
    if user.roles.iter().any(|r| r == "superadmin")
        || user.scopes.iter().any(|s| s == "superadmin:*")
    {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the system administrator cannot delete itself",
        ));
    }
    let erased = crate::gdpr::erase_user(&ctx.docs, &ctx.hot, &user, ctx.now()).await?;
    // Recorded after the erasure and without naming the account (the erasure strips the
    // entries that name it).
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::AccountDeleted,
        who,
        json!({"erased": true, "identifiers": erased.identifiers, "sessions": erased.sessions}),
    )
    .await;
    Ok(erased)
}
