//! Invitations to a workspace by email: sent through the outbox, accepted once by the
//! account that holds the invited address, before they expire, unless revoked.
//!
//! Invariants:
//! - the link's secret is stored only as a SHA-256 hash and compared in constant time; the
//!   link is `<invitation id>.<secret>`, so a stolen database yields no usable link;
//! - an invitation is accepted at most once (compare-and-set from `pending`), never after its
//!   expiry or revocation, and only by the account holding the invited email address (a
//!   forwarded link does not let someone else in); accepting proves that address;
//! - the roles an invitation gives are checked against the inviter's access in the workspace
//!   (the subset rule) when it is sent;
//! - acceptance joins first and marks the invitation accepted second, so a crash in between
//!   leaves an invitation that can be accepted again (joining is idempotent), never a used
//!   invitation without its membership.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authz::Principal;
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::identity::roles;
use crate::identity::users;
use crate::identity::workspaces;
use crate::store::collections::INVITATIONS;
use crate::store::docs::{Cond, DocumentStore, Query, Sort};

/// Default lifetime of an invitation.
pub const DEFAULT_DAYS: i64 = 7;
/// Longest lifetime of an invitation.
pub const MAX_DAYS: i64 = 30;
/// The most pending invitations one workspace holds.
pub const MAX_PENDING: u64 = 500;

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sent, not yet used.
    Pending,
    /// Used.
    Accepted,
    /// Withdrawn.
    Revoked,
}

/// An invitation as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invitation {
    /// `inv_` and 32 hex digits.
    pub id: String,
    /// The workspace.
    pub workspace_id: String,
    /// The invited address (normalised).
    pub email: String,
    /// Workspace roles the member gets.
    pub roles: Vec<String>,
    /// Who sent it (`sub`).
    pub invited_by: String,
    /// Hex SHA-256 of the link's secret.
    pub secret_hash: String,
    /// Where it stands.
    pub status: Status,
    /// Sent at.
    pub created_at: i64,
    /// Usable until.
    pub expires_at: i64,
    /// Accepted by (user id) and when.
    #[serde(default)]
    pub accepted_by: Option<String>,
    /// When it was accepted or revoked.
    #[serde(default)]
    pub closed_at: Option<i64>,
}

impl Invitation {
    /// The status a reader sees (a pending invitation past its expiry is `expired`).
    pub fn shown_status(&self, now: i64) -> &'static str {
        match self.status {
            Status::Pending if now >= self.expires_at => "expired",
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Revoked => "revoked",
        }
    }
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn unusable() -> Error {
    Error::new(
        ErrorCode::NotFound,
        "this invitation does not exist, was used or revoked, or has expired",
    )
}

fn hash(secret: &str) -> String {
    usso_shared::encoding::hex_encode(&Sha256::digest(secret.as_bytes()))
}

fn decode(doc: crate::store::docs::Doc) -> Result<(Invitation, i64)> {
    let v = doc.version;
    let i = serde_json::from_value(doc.body)
        .map_err(|e| Error::internal(format!("corrupt invitation `{}`: {e}", doc.id)))?;
    Ok((i, v))
}

fn encode(i: &Invitation) -> Result<serde_json::Value> {
    serde_json::to_value(i).map_err(|e| Error::internal(e.to_string()))
}

/// What an inviter gives.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// Who to invite.
    pub email: String,
    /// Workspace roles they get.
    pub roles: Vec<String>,
    /// Lifetime in days (default [`DEFAULT_DAYS`]).
    pub days: Option<i64>,
}

/// Sends an invitation to workspace `ws_id`. The email goes through the outbox.
pub async fn create(
    ctx: &Ctx,
    t: &crate::tenants::Tenant,
    caller: &Principal,
    who: &ClientMeta,
    ws_id: &str,
    new: NewInvitation,
) -> Result<Invitation> {
    let (ws, _) = workspaces::find(&ctx.docs, t.id(), ws_id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "workspace not found"))?;
    if !ws.is_active {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the workspace is not active",
        ));
    }
    let NewInvitation {
        email,
        roles: role_slugs,
        days,
    } = new;
    let ident = Identifier::parse(&email, Some("email"))
        .map_err(|e| invalid(format!("email: {}", e.detail())))?;
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(invalid(format!("expires_in_days: 1 to {MAX_DAYS}")));
    }
    workspaces::check_member_roles(ctx, caller, ws_id, &role_slugs).await?;
    let pending = ctx
        .docs
        .query(
            INVITATIONS,
            t.id(),
            &Query {
                conds: vec![
                    Cond::Eq("workspace_id".into(), json!(ws_id)),
                    Cond::Eq("status".into(), json!("pending")),
                ],
                sort: Sort::Newest,
                offset: 0,
                limit: 1,
            },
        )
        .await?;
    if pending.total >= MAX_PENDING {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("at most {MAX_PENDING} pending invitations per workspace; revoke some"),
        ));
    }
    let now = ctx.now();
    let secret = usso_shared::random::token_id()?;
    let inv = Invitation {
        id: format!("inv_{}", usso_shared::random::hex_id()?),
        workspace_id: ws_id.to_owned(),
        email: ident.value.clone(),
        roles: roles::dedup(role_slugs),
        invited_by: caller.subject.clone(),
        secret_hash: hash(&secret),
        status: Status::Pending,
        created_at: now,
        expires_at: now + days * 86_400,
        accepted_by: None,
        closed_at: None,
    };
    ctx.docs
        .insert(INVITATIONS, t.id(), &inv.id, encode(&inv)?)
        .await?;
    let link = format!(
        "{}{}?token={}.{secret}",
        t.tokens.issuer.trim_end_matches('/'),
        usso_shared::paths::INVITATION_ACCEPT,
        inv.id
    );
    let message = crate::delivery::outbox::Message::Email(t.templates.render_invitation_email(
        &inv.email,
        &t.name,
        &ws.name,
        &link,
        days as u64,
    ));
    crate::delivery::send::queue(ctx, t, &message, true).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::InvitationCreated,
        who,
        json!({"workspace_id": ws_id, "invitation_id": inv.id, "by": caller.subject}),
    )
    .await;
    Ok(inv)
}

/// One page of a workspace's invitations, newest first; with the total.
pub async fn list<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    ws_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Invitation>, u64)> {
    let page = docs
        .query(
            INVITATIONS,
            tenant,
            &Query {
                conds: vec![Cond::Eq("workspace_id".into(), json!(ws_id))],
                sort: Sort::By {
                    field: "created_at".into(),
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
        .map(|d| decode(d).map(|(i, _)| i))
        .collect::<Result<_>>()?;
    Ok((items, page.total))
}

/// Withdraws a pending invitation of workspace `ws_id`.
pub async fn revoke(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    ws_id: &str,
    id: &str,
) -> Result<()> {
    let (mut inv, version) = match ctx.docs.get(INVITATIONS, &caller.tenant_id, id).await? {
        Some(d) => decode(d)?,
        None => return Err(Error::new(ErrorCode::NotFound, "no such invitation")),
    };
    if inv.workspace_id != ws_id {
        return Err(Error::new(ErrorCode::NotFound, "no such invitation"));
    }
    if inv.status != Status::Pending {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("the invitation is already {}", inv.shown_status(ctx.now())),
        ));
    }
    inv.status = Status::Revoked;
    inv.closed_at = Some(ctx.now());
    ctx.docs
        .replace(INVITATIONS, &caller.tenant_id, id, encode(&inv)?, version)
        .await?;
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::InvitationRevoked,
        who,
        json!({"workspace_id": ws_id, "invitation_id": id, "by": caller.subject}),
    )
    .await;
    Ok(())
}

/// The usable invitation a link names (`not_found` for anything else, alike).
pub async fn by_link<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    link: &str,
    now: i64,
) -> Result<(Invitation, i64)> {
    let (id, secret) = link.split_once('.').ok_or_else(unusable)?;
    if id.len() != 36 || !id.starts_with("inv_") || secret.len() > 128 {
        return Err(unusable());
    }
    let (inv, version) = match docs.get(INVITATIONS, tenant, id).await? {
        Some(d) => decode(d)?,
        None => return Err(unusable()),
    };
    let matches: bool = hash(secret)
        .as_bytes()
        .ct_eq(inv.secret_hash.as_bytes())
        .into();
    if !matches || inv.status != Status::Pending || now >= inv.expires_at {
        return Err(unusable());
    }
    Ok((inv, version))
}

/// Accepts the invitation a link names for the signed-in caller, who must hold the invited
/// address: they join the workspace with its roles, and the address counts as proven.
pub async fn accept(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    link: &str,
) -> Result<(Invitation, workspaces::Workspace)> {
    let tenant = caller.tenant_id.as_str();
    let now = ctx.now();
    let (mut inv, version) = by_link(&ctx.docs, tenant, link, now).await?;
    let uid = caller
        .user_id
        .as_deref()
        .ok_or_else(|| Error::new(ErrorCode::PermissionDenied, "sign in as a user"))?;
    let (ws, _) = workspaces::find(&ctx.docs, tenant, &inv.workspace_id)
        .await?
        .filter(|(w, _)| w.is_active)
        .ok_or_else(unusable)?;
    let invited = Identifier {
        kind: IdentifierKind::Email,
        value: inv.email.clone(),
    };
    let holds = users::identifiers_of(&ctx.docs, tenant, uid)
        .await?
        .iter()
        .any(|i| i.identifier() == invited);
    if !holds {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            "this invitation is for another email address; sign in with that address",
        ));
    }
    users::mark_verified(&ctx.docs, tenant, &invited, uid, now).await?;
    let roles = inv.roles.clone();
    users::modify(
        &ctx.docs,
        tenant,
        uid,
        |u| {
            let mut all = u.roles_in(&inv.workspace_id).to_vec();
            all.extend(roles.iter().cloned());
            u.join_workspace(&inv.workspace_id, roles::dedup(all));
            Ok(())
        },
        now,
    )
    .await?;
    inv.status = Status::Accepted;
    inv.accepted_by = Some(uid.to_owned());
    inv.closed_at = Some(now);
    ctx.docs
        .replace(INVITATIONS, tenant, &inv.id, encode(&inv)?, version)
        .await
        .map_err(|e| match e.code() {
            ErrorCode::Conflict => unusable(),
            _ => e,
        })?;
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::InvitationAccepted,
        who,
        json!({"workspace_id": inv.workspace_id, "invitation_id": inv.id, "user_id": uid}),
    )
    .await;
    Ok((inv, ws))
}
