//! The audit trail: every security-relevant event, named by one enum ([`AuditEvent`]) and
//! written by one sink ([`record`]) for requests and the command line alike.
//!
//! Invariant: an audit failure never fails the action it records (it is logged), and every
//! entry carries the tenant, the time from the injected clock, and who acted (client address
//! and user agent, or `cli`). Events are stored as their snake_case names, which are part of
//! the stored data and of the documented contract (docs/security.md).

pub mod retention;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use usso_shared::Result;

use crate::app::ClientMeta;
use crate::store::collections::AUDIT;
use crate::store::docs::{Cond, DocumentStore, Query, Sort};
use crate::store::Docs;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    /// A session was started.
    LoginOk,
    /// A credential was wrong (or the identifier unknown).
    LoginFailed,
    /// A credential check was refused by a rate limit (1st, 10th, 100th… per window).
    LoginRateLimited,
    /// An account was created.
    Register,
    /// A one-time code was requested.
    OtpRequested,
    /// A magic link was requested.
    MagicLinkRequested,
    /// A second step (MFA or identifier proof) was started.
    MfaChallenge,
    /// An identifier was proven for the first time.
    IdentifierVerified,
    /// An unproven account was claimed by whoever proved its identifier.
    UnverifiedAccountClaimed,
    /// A session was revoked through `/sessions`.
    SessionRevoked,
    /// A refresh token was rotated.
    Refresh,
    /// A rotated-out refresh token came back: the session was revoked.
    RefreshReuseDetected,
    /// A session was ended by logout.
    Logout,
    /// A tenant's settings changed (CLI).
    TenantUpdated,
    /// A tenant's data was exported (CLI).
    TenantExported,
    /// A user's data was erased (CLI).
    UserErased,
    /// An account was disabled (CLI).
    UserDisabled,
    /// An account was enabled again (CLI).
    UserEnabled,
    /// A tenant's signing key was rotated (CLI).
    KeyRotated,
    /// An administrator created an account.
    UserCreated,
    /// An administrator changed an account (roles, scopes, activation, name).
    UserUpdated,
    /// An administrator deleted an account (soft delete).
    UserDeleted,
    /// An identifier was added to an account.
    IdentifierAdded,
    /// An identifier was removed from an account.
    IdentifierRemoved,
    /// An identifier became the primary one of its kind.
    IdentifierMadePrimary,
    /// A user changed their own profile.
    ProfileUpdated,
    /// A role was created.
    RoleCreated,
    /// A role was changed (its holders' sessions ended).
    RoleUpdated,
    /// A role was deleted (taken from its holders, whose sessions ended).
    RoleDeleted,
    /// A workspace was created.
    WorkspaceCreated,
    /// A workspace was changed.
    WorkspaceUpdated,
    /// A workspace was deleted.
    WorkspaceDeleted,
    /// A member was added to a workspace.
    MemberAdded,
    /// A member's workspace roles changed.
    MemberUpdated,
    /// A member was removed from a workspace.
    MemberRemoved,
    /// An invitation to a workspace was sent.
    InvitationCreated,
    /// An invitation was revoked.
    InvitationRevoked,
    /// An invitation was accepted.
    InvitationAccepted,
    /// A session's active workspace changed.
    WorkspaceSwitched,
    /// A password reset code was asked for.
    PasswordResetRequested,
    /// A password was reset with a code.
    PasswordReset,
    /// A user changed their password.
    PasswordChanged,
    /// An administrator set a user's password.
    PasswordSetByAdmin,
    /// A user deleted their own account.
    AccountDeleted,
    /// A tenant was created.
    TenantCreated,
    /// A tenant was deleted.
    TenantDeleted,
    /// An API key was created.
    ApiKeyCreated,
    /// An API key was used at the origin (at most once a minute per key).
    ApiKeyUsed,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// A service account was created (by an administrator or by registration).
    AgentCreated,
    /// A service account was changed (details, scopes, activation, keys).
    AgentUpdated,
    /// A service account was deleted.
    AgentDeleted,
    /// An agent exchanged its signed JWT for an access token.
    AgentTokenIssued,
    /// An agent JWT was refused (bad signature, replay, lifetime, audience, unknown agent).
    AgentTokenRefused,
    /// An OAuth client was registered.
    OauthClientCreated,
    /// An OAuth client was changed (details, redirect URIs, scopes, activation, secret).
    OauthClientUpdated,
    /// An OAuth client was deleted.
    OauthClientDeleted,
    /// Client authentication failed at an OAuth endpoint.
    OauthClientAuthFailed,
    /// A person consented to a client's scopes.
    OauthConsentGranted,
    /// A person took back their consent to a client.
    OauthConsentRevoked,
    /// An authorization code was issued.
    OauthCodeIssued,
    /// The token endpoint issued tokens (`grant_type` in the detail).
    OauthTokenIssued,
    /// A used authorization code was presented again: what it issued is revoked.
    OauthCodeReplayed,
    /// A token was revoked at the revocation endpoint.
    OauthTokenRevoked,
}

impl AuditEvent {
    /// The event named `s` (its snake_case name), if any.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries about this user (`detail.user_id`).
    pub user_id: Option<String>,
    /// Of this event.
    pub event: Option<AuditEvent>,
    /// At or after (Unix seconds).
    pub since: Option<i64>,
    /// Before (Unix seconds).
    pub until: Option<i64>,
}

/// One page of the tenant's audit entries matching `f`, newest first; with the total.
pub async fn query<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    f: &AuditFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Value>, u64)> {
    let mut conds = Vec::new();
    if let Some(u) = &f.user_id {
        conds.push(Cond::Eq("detail.user_id".into(), json!(u)));
    }
    if let Some(e) = f.event {
        conds.push(Cond::Eq("event".into(), json!(e)));
    }
    if f.since.is_some() || f.until.is_some() {
        conds.push(Cond::Between("at".into(), f.since, f.until));
    }
    let page = docs
        .query(
            AUDIT,
            tenant,
            &Query {
                conds,
                sort: Sort::By {
                    field: "at".into(),
                    descending: true,
                },
                offset,
                limit,
            },
        )
        .await?;
    let items = page
        .items
        .into_iter()
        .map(|d| {
            let mut b = d.body;
            b["id"] = json!(d.id);
            b
        })
        .collect();
    Ok((items, page.total))
}

/// The audit entries about one user, newest first.
pub async fn of_user<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    user_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Value>, u64)> {
    let f = AuditFilter {
        user_id: Some(user_id.to_owned()),
        ..AuditFilter::default()
    };
    query(docs, tenant, &f, offset, limit).await
}

/// Who acted.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A client of the HTTP API.
    Client(&'a ClientMeta),
    /// The command line on the origin's machine.
    Cli,
}

/// Writes one audit entry (failures are logged, never returned).
pub async fn record(
    docs: &Docs,
    tenant: &str,
    event: AuditEvent,
    actor: Actor<'_>,
    detail: Value,
    now: i64,
) {
    let id = format!(
        "{:013}-{}",
        crate::store::now_millis(),
        usso_shared::random::hex_id().unwrap_or_default()
    );
    let (ip, user_agent) = match actor {
        Actor::Client(who) => (Some(who.ip.as_str()), who.user_agent.as_deref()),
        Actor::Cli => (None, Some("cli")),
    };
    let body = json!({
        "event": event,
        "tenant_id": tenant,
        "at": now,
        "ip": ip,
        "user_agent": user_agent,
        "detail": detail,
    });
    tracing::info!(target: "audit", event = ?event, tenant, %detail);
    if let Err(e) = docs.insert(AUDIT, tenant, &id, body).await {
        tracing::error!(error = %e, ?event, "audit write failed");
    }
}

/// 1, 10, 100, …: the occurrence counts that [`counted`] writes.
pub fn is_power_of_ten(mut n: u64) -> bool {
    if n == 0 {
        return false;
    }
    while n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

/// Records `event` counted rather than one by one: of the occurrences of `what` in a window of
/// `window_secs`, the 1st, 10th, 100th… is written, with `count_in_window`. For events a caller
/// can repeat at will (machine tokens, refused credentials), so that a busy client or an
/// attacker cannot turn each request into a durable write.
pub async fn counted(
    ctx: &crate::app::Ctx,
    tenant: &str,
    event: AuditEvent,
    who: &ClientMeta,
    what: &str,
    window_secs: i64,
    mut detail: serde_json::Value,
) {
    use usso_edge::store::HotStore;
    let key = format!("usso:audit-count:{tenant}:{what}");
    match ctx.hot.hit(&key, window_secs, ctx.now()).await {
        Ok((n, _)) if is_power_of_ten(n) => {
            detail["count_in_window"] = serde_json::json!(n);
            detail["window_secs"] = serde_json::json!(window_secs);
            client(ctx, tenant, event, who, detail).await;
        }
        Ok(_) => {}
        // Counting failed: write it rather than lose it.
        Err(_) => client(ctx, tenant, event, who, detail).await,
    }
}

/// Records an audit event for a request's client (failures are logged, never fail the request).
pub async fn client(
    ctx: &crate::app::Ctx,
    tenant: &str,
    event: AuditEvent,
    who: &ClientMeta,
    detail: serde_json::Value,
) {
    record(
        &ctx.docs,
        tenant,
        event,
        Actor::Client(who),
        detail,
        ctx.now(),
    )
    .await;
}
