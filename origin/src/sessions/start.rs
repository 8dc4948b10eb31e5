//! Starting a session from a proof of identity: the one consumer of [`Authenticated`] that
//! issues tokens. The tenant's policy on how someone signed in ([`authn::gate`]) is applied
//! here, once, before anything is issued; every sign-in flow reaches tokens only through
//! [`start`].

use serde_json::{json, Value};
use usso_edge::issue::{self, TokenPair};
use usso_shared::Result;

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authn::{self, mfa, AuthOutcome, Authenticated};
use crate::store::hot::SessionIndex;
use crate::tenants::TenantCtx;

/// A new session.
#[derive(Debug)]
pub struct NewSession {
    /// The tokens.
    pub pair: TokenPair,
    /// The account as clients see it.
    pub user: Value,
    /// The known-device cookie's value ([`crate::authn::known_device`]).
    pub device: String,
}

/// What a sign-in led to.
#[derive(Debug)]
pub enum Started {
    /// A session.
    Session(NewSession),
    /// A second step by code ([`mfa::verify`] completes it, then comes back here).
    SecondStep(mfa::Challenge),
}

/// Turns a proof into what the tenant's policy allows: a session, or a second step.
pub async fn start(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    auth: Authenticated,
) -> Result<Started> {
    match authn::gate(&tc.tenant, &auth)? {
        AuthOutcome::Authenticated => Ok(Started::Session(session(ctx, tc, who, auth).await?)),
        AuthOutcome::MfaRequired(step) => Ok(Started::SecondStep(
            mfa::begin(ctx, &tc.tenant, who, &auth.user, step).await?,
        )),
    }
}

/// Issues the session of a proof the gate let through (only [`start`] calls it).
async fn session(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    auth: Authenticated,
) -> Result<NewSession> {
    let now = ctx.now();
    let t = &tc.tenant;
    let signer = tc.state.ring.signer()?;
    let role_scopes =
        crate::identity::roles::scopes_of(&ctx.docs, t.id(), &auth.user.roles).await?;
    let grant = auth
        .user
        .grant(auth.amr_strings(), auth.acr().as_str(), role_scopes);
    let user = auth.user;
    let (mut record, pair) = issue::start_session(&tc.state.config, signer, grant, now)?;
    record.ip = Some(who.ip.clone());
    record.user_agent = who.user_agent.clone();
    ctx.hot.put_session(&record).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::LoginOk,
        who,
        json!({"user_id": user.id, "session_id": record.session_id}),
    )
    .await;
    Ok(NewSession {
        pair,
        user: user.public(),
        device: crate::authn::known_device::issue(&ctx.master, t.id(), &user.id, now),
    })
}
