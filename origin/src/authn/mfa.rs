//! The second step of a password sign-in: a one-time code to the account's own email (or
//! phone), when the tenant requires two factors or the address is not proven yet.
//!
//! Invariants and the attacks they prevent:
//! - The code goes to the address on the account, never to one the client names.
//! - The challenge is short-lived and single-use; the code is checked with the same guess limits
//!   as a sign-in code ([`crate::authn::codes`]).
//! - Completing it proves both the password and the address: the address becomes verified and
//!   the proof carries both methods (`acr` `usso:acr:2` for two independent factors).

use serde::{Deserialize, Serialize};
use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authn::codes::Purpose;
use crate::authn::{self, Amr, Authenticated, SecondStep};
use crate::delivery::Channel;
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::identity::users::{self, User};
use crate::store::hot::Ephemeral;
use crate::store::keys;
use crate::tenants::Tenant;

/// A second step was started: what the client must show the person.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    /// Why.
    pub step: SecondStep,
    /// The handle to complete it with.
    pub challenge: String,
    /// Where the code went.
    pub channel: Channel,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// What the hot store keeps for a pending challenge.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    user_id: String,
    identifier: String,
    channel: Channel,
    step: SecondStep,
}

/// Starts a second step for `user`: a code to the account's email (else phone).
pub async fn begin(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    user: &User,
    step: SecondStep,
) -> Result<Challenge> {
    let now = ctx.now();
    let target = authn::second_factor_target(user).ok_or_else(|| {
        Error::new(
            ErrorCode::MfaRequired,
            "a second step is required but this account has no email or phone",
        )
    })?;
    let channel = if target.kind == IdentifierKind::Phone {
        Channel::Sms
    } else {
        Channel::Email
    };
    let challenge = usso_shared::random::token_id()?;
    let pending = Pending {
        user_id: user.id.clone(),
        identifier: target.key(),
        channel,
        step,
    };
    let record = serde_json::to_string(&pending).map_err(|e| Error::internal(e.to_string()))?;
    ctx.hot
        .put_expiring(
            &keys::mfa_challenge(t.id(), &challenge),
            &record,
            t.otp.ttl_secs,
            now,
        )
        .await?;
    let code = ctx
        .codes(&t.otp)
        .issue(t.id(), &target.key(), Purpose::Mfa, now)
        .await?;
    crate::delivery::send::send_code(ctx, t, &target, channel, &code, true).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::MfaChallenge,
        who,
        json!({"user_id": user.id, "step": step}),
    )
    .await;
    Ok(Challenge {
        step,
        challenge,
        channel,
        expires_in: t.otp.ttl_secs,
    })
}

/// `POST /auth/mfa/verify {mfa_challenge, code}`: completes the second step.
pub async fn verify(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    challenge: &str,
    code: &str,
) -> Result<Authenticated> {
    let now = ctx.now();
    let key = keys::mfa_challenge(t.id(), challenge);
    let expired = || Error::new(ErrorCode::InvalidCredentials, "wrong or expired code");
    if challenge.len() > 128 || code.len() > 32 {
        return Err(expired());
    }
    let pending: Pending = match ctx.hot.get_live(&key, now).await? {
        Some(text) => serde_json::from_str(&text).map_err(|e| Error::internal(e.to_string()))?,
        None => return Err(expired()),
    };
    ctx.codes(&t.otp)
        .check(t.id(), &pending.identifier, Purpose::Mfa, code, now)
        .await?;
    ctx.hot.remove(&key).await?;
    let (kind, value) = pending
        .identifier
        .split_once(':')
        .ok_or_else(|| Error::internal("corrupt challenge identifier"))?;
    let target = Identifier::parse(value, Some(kind))?;
    crate::identity::claim::verify_identifier(ctx, t, who, &target, &pending.user_id).await?;
    let (user, _) = users::get(&ctx.docs, t.id(), &pending.user_id)
        .await?
        .filter(|(u, _)| u.is_active)
        .ok_or_else(expired)?;
    Ok(Authenticated {
        user,
        amr: vec![Amr::Password, Amr::code_for(target.kind)],
        identifier_verified: true,
    })
}
