//! Listing and revoking sessions.
//!
//! Invariants: session management always needs a live session (a logged-out session's access
//! token manages nothing); someone else's sessions are read only with `read:usso/sessions` and
//! revoked only with `delete:usso/sessions`; a session of another account answers as if it did
//! not exist.

use serde::Serialize;
use serde_json::json;
use usso_shared::claims::AccessClaims;
use usso_shared::rotation::REASON_LOGOUT;
use usso_shared::{scope, Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::store::hot::SessionIndex;
use crate::tenants::Tenant;
use usso_edge::HotStore;

/// The resource of the session-management scopes: fully qualified, so `read:usso/sessions`,
/// `read:sessions` (a suffix, per the USSO grammar) and `read:*` grant it, while a scope of
/// another service that happens to end in `sessions` (`read:billing/sessions`) does not.
pub const SESSIONS_RESOURCE: &str = "usso/sessions";

/// Which sessions to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Another user's (needs `read:usso/sessions`).
    pub user_id: Option<String>,
    /// Skip this many.
    pub offset: u64,
    /// At most this many (1–200).
    pub limit: u64,
}

/// One session as listed.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// Started.
    pub created_at: i64,
    /// Last refreshed.
    pub last_used_at: i64,
    /// Absolute expiry.
    pub expires_at: i64,
    /// Revoked when.
    pub revoked_at: Option<i64>,
    /// Why.
    pub revoked_reason: Option<String>,
    /// Live now.
    pub is_active: bool,
    /// Rotations so far.
    pub generation: u64,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// The caller's own session.
    pub current: bool,
}

/// A page of sessions.
#[derive(Debug, Serialize)]
pub struct SessionPage {
    /// The page.
    pub items: Vec<SessionView>,
    /// All matching.
    pub total: usize,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// The caller's sessions (or, with the scope, another user's).
pub async fn list(
    ctx: &Ctx,
    t: &Tenant,
    caller: &AccessClaims,
    q: ListQuery,
) -> Result<SessionPage> {
    let subject = match q.user_id {
        Some(uid) if Some(&uid) != caller.user_id.as_ref() => {
            if !scope::check_access(&caller.scopes, SESSIONS_RESOURCE, "read", &[]) {
                return Err(Error::new(
                    ErrorCode::PermissionDenied,
                    "reading other users' sessions needs read:usso/sessions",
                ));
            }
            format!("user:{uid}")
        }
        _ => caller.sub.clone(),
    };
    let limit = q.limit.clamp(1, 200);
    let now = ctx.now();
    let all = ctx.hot.sessions_of(t.id(), &subject).await?;
    let total = all.len();
    let items = all
        .into_iter()
        .skip(q.offset as usize)
        .take(limit as usize)
        .map(|s| SessionView {
            is_active: s.is_live(now),
            current: caller.session_id.as_deref() == Some(s.session_id.as_str()),
            id: s.session_id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
            revoked_reason: s.revoked_reason,
            generation: s.generation,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(SessionPage {
        items,
        total,
        offset: q.offset,
        limit,
    })
}

/// Revokes one session (the caller's own, or any with `delete:usso/sessions`).
pub async fn revoke(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    caller: &AccessClaims,
    session_id: &str,
) -> Result<()> {
    let record = ctx
        .hot
        .session(t.id(), session_id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "session not found"))?;
    if record.subject != caller.sub
        && !scope::check_access(&caller.scopes, SESSIONS_RESOURCE, "delete", &[])
    {
        // Not yours: answer as if it did not exist.
        return Err(Error::new(ErrorCode::NotFound, "session not found"));
    }
    ctx.hot
        .revoke(t.id(), session_id, REASON_LOGOUT, ctx.now())
        .await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::SessionRevoked,
        who,
        json!({"session_id": session_id, "by": caller.sub}),
    )
    .await;
    Ok(())
}
