//! Proving control of an identifier, and what that proof does to an account nobody had proven.
//!
//! Invariant (the pre-hijacking defence): when someone proves an identifier by a code or link
//! alone and the identifier was not proven before, whoever set the account up did not show they
//! own it. The identifier becomes verified, a password set without that proof stops working,
//! and every existing session of the account ends. Both events are audited.

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::identity::identifier::Identifier;
use crate::identity::users::{self, Found, User};
use crate::tenants::Tenant;

/// Why sessions were revoked when someone proved control of an unverified identifier.
pub const REASON_ACCOUNT_CLAIMED: &str = "account_claimed";

/// Marks `ident` of `user_id` proven and audits it; whether it was unproven before.
pub async fn verify_identifier(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    ident: &Identifier,
    user_id: &str,
) -> Result<bool> {
    let changed = users::mark_verified(&ctx.docs, t.id(), ident, user_id, ctx.now()).await?;
    if changed {
        crate::audit::client(
            ctx,
            t.id(),
            AuditEvent::IdentifierVerified,
            who,
            json!({"user_id": user_id, "identifier": ident.key()}),
        )
        .await;
    }
    Ok(changed)
}

/// Someone just proved control of `ident` by a code or link alone (see the module docs).
/// Returns the account as it stands afterwards, with its last sign-in recorded.
pub async fn claim(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    found: Found,
    ident: &Identifier,
) -> Result<User> {
    let Found { user, verified, .. } = found;
    if !user.is_active {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            "this account is disabled",
        ));
    }
    let now = ctx.now();
    let first_proof = !verified && verify_identifier(ctx, t, who, ident, &user.id).await?;
    let vanished = || Error::internal("user vanished while signing in");
    let (mut fresh, mut version) = users::get(&ctx.docs, t.id(), &user.id)
        .await?
        .ok_or_else(vanished)?;
    let had_password = first_proof && fresh.password_hash.is_some();
    // Compare-and-set, retried: a concurrent update must not restore a removed password.
    loop {
        if had_password {
            fresh.password_hash = None;
        }
        fresh.last_login_at = Some(now);
        fresh.updated_at = now;
        match users::update(&ctx.docs, &fresh, version).await {
            Ok(_) => break,
            Err(e) if e.code() == ErrorCode::Conflict && had_password => {
                (fresh, version) = users::get(&ctx.docs, t.id(), &user.id)
                    .await?
                    .ok_or_else(vanished)?;
            }
            // A concurrent change wins over the last-login time; the sign-in stands.
            Err(e) if e.code() == ErrorCode::Conflict => {
                tracing::debug!(error = %e, "last-login update skipped");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if first_proof {
        let revoked = crate::store::hot::revoke_all(
            &ctx.hot,
            t.id(),
            &fresh.subject(),
            REASON_ACCOUNT_CLAIMED,
            now,
        )
        .await?;
        crate::audit::client(ctx,
            t.id(),
            AuditEvent::UnverifiedAccountClaimed,
            who,
            json!({"user_id": fresh.id, "identifier": ident.key(), "password_removed": had_password, "sessions_revoked": revoked}),
        )
        .await;
    }
    Ok(fresh)
}
