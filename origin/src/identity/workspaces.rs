//! Workspaces: teams or customers inside a tenant, their members, and the active workspace of
//! a session. Authorization of the route is checked before these run
//! ([`crate::authz::rules`]); what depends on the data is checked here.
//!
//! Invariants:
//! - membership lives on the user document (`workspace_ids`, `workspace_roles`), changed
//!   with a compare-and-set, so the member list and what a user's tokens say never disagree;
//! - a workspace role's scopes reach a token only confined to that workspace
//!   (`…?workspace_id=<id>`, [`authz::in_workspace`]), so an administrator of one workspace
//!   holds nothing in another one or tenant-wide (privilege escalation across workspaces);
//! - a caller sees a workspace only as a member or with `read:usso/workspaces` inside it;
//!   otherwise it is "not found", never "forbidden" (no probing for names);
//! - a caller grants member roles only within its own access in the workspace (the subset
//!   rule), and manages only members whose access there is within its own;
//! - removing a member or changing their roles, and deactivating or deleting the workspace,
//!   end the sessions of the members concerned at once.

use serde::{Deserialize, Serialize};
use serde_json::json;
use usso_shared::claims::Grant;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authz::{self, Action, Need, Principal, Resource};
use crate::identity::fields::text;
use crate::identity::roles;
use crate::identity::users::{self, User, USERS};
use crate::store::collections::WORKSPACES;
use crate::store::docs::{Cond, DocumentStore, Query, Sort};
use crate::store::hot::SessionIndex;

/// The most workspaces one user belongs to.
pub const MAX_MEMBERSHIPS: usize = 100;
/// Why sessions end when a membership or a workspace changes.
pub const REASON_WORKSPACE_CHANGED: &str = "workspace_changed";

/// A workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// `ws_` and 32 hex digits.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Inactive workspaces cannot be switched to.
    pub is_active: bool,
    /// Who created it (`sub`).
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// A member as the member list shows them.
#[derive(Debug, Clone)]
pub struct Member {
    /// The account.
    pub user: User,
    /// Their roles in the workspace.
    pub roles: Vec<String>,
}

/// A change to a workspace (absent fields stay).
#[derive(Debug, Clone, Default)]
pub struct WorkspaceChange {
    /// Name.
    pub name: Option<String>,
    /// Description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// Active.
    pub is_active: Option<bool>,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn not_found() -> Error {
    Error::new(ErrorCode::NotFound, "workspace not found")
}

/// Checks a workspace id from a path or body (`not_found` for anything malformed: ids are
/// never guessable structure).
pub fn check_id(id: &str) -> Result<()> {
    let ok = id.len() == 35
        && id.starts_with("ws_")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(not_found())
    }
}

fn decode(doc: crate::store::docs::Doc) -> Result<(Workspace, i64)> {
    let v = doc.version;
    let w = serde_json::from_value(doc.body)
        .map_err(|e| Error::internal(format!("corrupt workspace `{}`: {e}", doc.id)))?;
    Ok((w, v))
}

fn encode(w: &Workspace) -> Result<serde_json::Value> {
    serde_json::to_value(w).map_err(|e| Error::internal(e.to_string()))
}

/// A workspace by id.
pub async fn find<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    id: &str,
) -> Result<Option<(Workspace, i64)>> {
    if check_id(id).is_err() {
        return Ok(None);
    }
    docs.get(WORKSPACES, tenant, id)
        .await?
        .map(decode)
        .transpose()
}

async fn caller_user(ctx: &Ctx, caller: &Principal) -> Result<Option<User>> {
    match &caller.user_id {
        Some(uid) => Ok(users::get(&ctx.docs, &caller.tenant_id, uid)
            .await?
            .map(|(u, _)| u)
            .filter(|u| !u.is_deleted())),
        None => Ok(None),
    }
}

/// The workspace `id` if the caller may see it (a member, or `read` inside it), else
/// `not_found`.
pub async fn visible(ctx: &Ctx, caller: &Principal, id: &str) -> Result<(Workspace, i64)> {
    let found = find(&ctx.docs, &caller.tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    if caller.holds_in(Need(Action::Read, Resource::Workspaces), id) {
        return Ok(found);
    }
    match caller_user(ctx, caller).await? {
        Some(u) if u.is_member_of(id) => Ok(found),
        _ => Err(not_found()),
    }
}

/// The workspace `id`, for a caller the route's rule already let act inside it.
async fn must_find(ctx: &Ctx, caller: &Principal, id: &str) -> Result<(Workspace, i64)> {
    find(&ctx.docs, &caller.tenant_id, id)
        .await?
        .ok_or_else(not_found)
}

/// Creates a workspace. With `join`, the creator becomes its first member with the role
/// `admin` (a person starting a team); without, it starts empty (an administrator setting
/// one up for a customer).
pub async fn create(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    name: &str,
    description: Option<&str>,
    join: bool,
) -> Result<(Workspace, i64)> {
    let now = ctx.now();
    let ws = Workspace {
        id: format!("ws_{}", usso_shared::random::hex_id()?),
        name: text("name", name, 128)?,
        description: description
            .map(|d| text("description", d, 1024))
            .transpose()?,
        is_active: true,
        created_by: caller.subject.clone(),
        created_at: now,
        updated_at: now,
    };
    let uid = match (join, &caller.user_id) {
        (true, Some(uid)) => Some(uid.clone()),
        (true, None) => return Err(invalid("join: only a user can join a workspace")),
        (false, _) => None,
    };
    let saved = ctx
        .docs
        .insert(WORKSPACES, &caller.tenant_id, &ws.id, encode(&ws)?)
        .await?;
    if let Some(uid) = uid {
        join_user(
            ctx,
            &caller.tenant_id,
            &uid,
            &ws.id,
            vec![roles::ADMIN.into()],
        )
        .await?;
    }
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::WorkspaceCreated,
        who,
        json!({"workspace_id": ws.id, "by": caller.subject}),
    )
    .await;
    Ok((ws, saved.version))
}

/// The workspaces the caller may see: all of the tenant's with `read:usso/workspaces`,
/// otherwise those it belongs to. Newest first; with the total.
pub async fn list(
    ctx: &Ctx,
    caller: &Principal,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(Workspace, i64)>, u64)> {
    if caller.holds(Need(Action::Read, Resource::Workspaces)) {
        let page = ctx
            .docs
            .query(
                WORKSPACES,
                &caller.tenant_id,
                &Query {
                    conds: vec![],
                    sort: Sort::By {
                        field: "created_at".into(),
                        descending: true,
                    },
                    offset,
                    limit,
                },
            )
            .await?;
        let items = page.items.into_iter().map(decode).collect::<Result<_>>()?;
        return Ok((items, page.total));
    }
    let ids = match caller_user(ctx, caller).await? {
        Some(u) => u.workspace_ids,
        None => Vec::new(),
    };
    if ids.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let page = ctx
        .docs
        .query(
            WORKSPACES,
            &caller.tenant_id,
            &Query {
                conds: vec![Cond::In("id".into(), ids)],
                sort: Sort::By {
                    field: "created_at".into(),
                    descending: true,
                },
                offset,
                limit,
            },
        )
        .await?;
    let items = page.items.into_iter().map(decode).collect::<Result<_>>()?;
    Ok((items, page.total))
}

/// Changes a workspace whose version is still `if_match` (when given). Deactivating it ends
/// its members' sessions.
pub async fn update(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
    change: WorkspaceChange,
    if_match: Option<i64>,
) -> Result<(Workspace, i64)> {
    let (mut ws, version) = must_find(ctx, caller, id).await?;
    crate::store::docs::check_if_match("workspace", if_match, version)?;
    if let Some(n) = &change.name {
        ws.name = text("name", n, 128)?;
    }
    if let Some(d) = &change.description {
        ws.description = d
            .as_deref()
            .map(|d| text("description", d, 1024))
            .transpose()?;
    }
    let deactivated = ws.is_active && change.is_active == Some(false);
    if let Some(a) = change.is_active {
        ws.is_active = a;
    }
    ws.updated_at = ctx.now();
    let saved = ctx
        .docs
        .replace(WORKSPACES, &caller.tenant_id, id, encode(&ws)?, version)
        .await
        .map_err(crate::store::docs::lost_race("workspace", version))?;
    let revoked = if deactivated {
        for_each_member(ctx, &caller.tenant_id, id, false).await?
    } else {
        0
    };
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::WorkspaceUpdated,
        who,
        json!({"workspace_id": id, "by": caller.subject, "sessions_revoked": revoked}),
    )
    .await;
    Ok((ws, saved.version))
}

/// Deletes a workspace: its members leave it and their sessions end.
pub async fn delete(ctx: &Ctx, caller: &Principal, who: &ClientMeta, id: &str) -> Result<()> {
    must_find(ctx, caller, id).await?;
    // The document goes first: from then on nobody switches to it and it is listed nowhere;
    // a crash before every member has left only leaves ids that point at nothing, which
    // grant nothing (switching and listing look the workspace up first).
    ctx.docs.delete(WORKSPACES, &caller.tenant_id, id).await?;
    let revoked = for_each_member(ctx, &caller.tenant_id, id, true).await?;
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::WorkspaceDeleted,
        who,
        json!({"workspace_id": id, "by": caller.subject, "sessions_revoked": revoked}),
    )
    .await;
    Ok(())
}

/// Ends the sessions of every member of `id` (and their membership when `leave`).
async fn for_each_member(ctx: &Ctx, tenant: &str, id: &str, leave: bool) -> Result<u64> {
    const PAGE: u64 = 200;
    let (mut revoked, mut offset) = (0, 0);
    loop {
        let page = ctx
            .docs
            .query(USERS, tenant, &members_query(id, offset, PAGE))
            .await?;
        let n = page.items.len() as u64;
        for doc in page.items {
            let uid = doc.id;
            if leave {
                users::modify(
                    &ctx.docs,
                    tenant,
                    &uid,
                    |u| {
                        u.leave_workspace(id);
                        Ok(())
                    },
                    ctx.now(),
                )
                .await?;
            }
            revoked += end_sessions(ctx, tenant, &uid).await?;
        }
        if !leave {
            offset += n;
        }
        if n < PAGE {
            return Ok(revoked);
        }
    }
}

fn members_query(id: &str, offset: u64, limit: u64) -> Query {
    Query {
        conds: vec![
            Cond::Has("workspace_ids".into(), json!(id)),
            Cond::Eq("deleted_at".into(), serde_json::Value::Null),
        ],
        sort: Sort::By {
            field: "created_at".into(),
            descending: false,
        },
        offset,
        limit,
    }
}

async fn end_sessions(ctx: &Ctx, tenant: &str, uid: &str) -> Result<u64> {
    crate::store::hot::revoke_all(
        &ctx.hot,
        tenant,
        &format!("user:{uid}"),
        REASON_WORKSPACE_CHANGED,
        ctx.now(),
    )
    .await
}

/// One page of a workspace's members (the caller may see it: [`visible`]); with the total.
pub async fn members(
    ctx: &Ctx,
    caller: &Principal,
    id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Member>, u64)> {
    visible(ctx, caller, id).await?;
    let page = ctx
        .docs
        .query(USERS, &caller.tenant_id, &members_query(id, offset, limit))
        .await?;
    let mut out = Vec::with_capacity(page.items.len());
    for doc in page.items {
        let user: User = serde_json::from_value(doc.body)
            .map_err(|e| Error::internal(format!("corrupt user `{}`: {e}", doc.id)))?;
        let roles = user.roles_in(id).to_vec();
        out.push(Member { user, roles });
    }
    Ok((out, page.total))
}

/// What `role_slugs` grant inside workspace `id` (confined to it), checking each role exists.
pub async fn scopes_in<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    id: &str,
    role_slugs: &[String],
    active_only: bool,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for slug in role_slugs {
        roles::check_slug("roles", slug)?;
        let Some((role, _)) = roles::get(docs, tenant, slug).await? else {
            if active_only {
                continue;
            }
            return Err(invalid(format!("roles: no role `{slug}`")));
        };
        if active_only && !role.is_active {
            continue;
        }
        for s in role.scopes {
            if let Some(confined) = authz::in_workspace(&s, id) {
                if !out.contains(&confined) {
                    out.push(confined);
                }
            }
        }
    }
    Ok(out)
}

/// Checks member roles: at most [`roles::MAX_ROLES`], each existing, and what they grant
/// in the workspace within the caller's own access there.
pub async fn check_member_roles(
    ctx: &Ctx,
    caller: &Principal,
    id: &str,
    role_slugs: &[String],
) -> Result<()> {
    if role_slugs.len() > roles::MAX_ROLES {
        return Err(invalid(format!("roles: at most {}", roles::MAX_ROLES)));
    }
    caller.may_grant(&scopes_in(&ctx.docs, &caller.tenant_id, id, role_slugs, false).await?)
}

async fn join_user(
    ctx: &Ctx,
    tenant: &str,
    uid: &str,
    id: &str,
    role_slugs: Vec<String>,
) -> Result<User> {
    let (user, _) = users::modify(
        &ctx.docs,
        tenant,
        uid,
        |u| {
            if !u.is_member_of(id) && u.workspace_ids.len() >= MAX_MEMBERSHIPS {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    format!("a user belongs to at most {MAX_MEMBERSHIPS} workspaces"),
                ));
            }
            u.join_workspace(id, role_slugs.clone());
            Ok(())
        },
        ctx.now(),
    )
    .await?;
    Ok(user)
}

/// Adds the user `uid` of the tenant to the workspace with `role_slugs`. `conflict` when
/// already a member.
pub async fn add_member(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
    uid: &str,
    role_slugs: Vec<String>,
) -> Result<Member> {
    let (ws, _) = must_find(ctx, caller, id).await?;
    check_member_roles(ctx, caller, &ws.id, &role_slugs).await?;
    let (target, _) = users::get(&ctx.docs, &caller.tenant_id, uid)
        .await?
        .filter(|(u, _)| !u.is_deleted())
        .ok_or_else(|| invalid(format!("user_id: no user `{uid}`")))?;
    if target.is_member_of(id) {
        return Err(Error::new(
            ErrorCode::Conflict,
            "already a member; change their roles instead",
        ));
    }
    let roles_given = roles::dedup(role_slugs);
    let user = join_user(ctx, &caller.tenant_id, uid, id, roles_given.clone()).await?;
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::MemberAdded,
        who,
        json!({"workspace_id": id, "user_id": uid, "roles": roles_given, "by": caller.subject}),
    )
    .await;
    Ok(Member {
        roles: user.roles_in(id).to_vec(),
        user,
    })
}

/// `permission_denied` unless the member's access in the workspace is within the caller's.
async fn may_manage_member(ctx: &Ctx, caller: &Principal, id: &str, member: &User) -> Result<()> {
    let theirs = scopes_in(&ctx.docs, &caller.tenant_id, id, member.roles_in(id), true).await?;
    caller.may_grant(&theirs).map_err(|_| {
        Error::new(
            ErrorCode::PermissionDenied,
            "this member has access in the workspace you do not hold; you cannot manage them",
        )
    })
}

async fn member_of(ctx: &Ctx, caller: &Principal, id: &str, uid: &str) -> Result<User> {
    users::get(&ctx.docs, &caller.tenant_id, uid)
        .await?
        .map(|(u, _)| u)
        .filter(|u| !u.is_deleted() && u.is_member_of(id))
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "no such member"))
}

/// Replaces a member's roles in the workspace; their sessions end.
pub async fn set_member_roles(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
    uid: &str,
    role_slugs: Vec<String>,
) -> Result<Member> {
    must_find(ctx, caller, id).await?;
    let member = member_of(ctx, caller, id, uid).await?;
    may_manage_member(ctx, caller, id, &member).await?;
    check_member_roles(ctx, caller, id, &role_slugs).await?;
    let roles_given = roles::dedup(role_slugs);
    let (user, _) = users::modify(
        &ctx.docs,
        &caller.tenant_id,
        uid,
        |u| {
            if !u.is_member_of(id) {
                return Err(Error::new(ErrorCode::NotFound, "no such member"));
            }
            u.join_workspace(id, roles_given.clone());
            Ok(())
        },
        ctx.now(),
    )
    .await?;
    let revoked = end_sessions(ctx, &caller.tenant_id, uid).await?;
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::MemberUpdated,
        who,
        json!({"workspace_id": id, "user_id": uid, "roles": roles_given, "by": caller.subject,
            "sessions_revoked": revoked}),
    )
    .await;
    Ok(Member {
        roles: user.roles_in(id).to_vec(),
        user,
    })
}

/// Removes a member from the workspace; their sessions end.
pub async fn remove_member(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
    uid: &str,
) -> Result<()> {
    must_find(ctx, caller, id).await?;
    let member = member_of(ctx, caller, id, uid).await?;
    may_manage_member(ctx, caller, id, &member).await?;
    users::modify(
        &ctx.docs,
        &caller.tenant_id,
        uid,
        |u| {
            u.leave_workspace(id);
            Ok(())
        },
        ctx.now(),
    )
    .await?;
    let revoked = end_sessions(ctx, &caller.tenant_id, uid).await?;
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::MemberRemoved,
        who,
        json!({"workspace_id": id, "user_id": uid, "by": caller.subject,
            "sessions_revoked": revoked}),
    )
    .await;
    Ok(())
}

/// What a session of `user` grants inside workspace `id` (`None`: tenant-wide only): the
/// tenant grant plus `workspace_id`, the workspace roles and their confined scopes.
pub async fn grant_in(
    ctx: &Ctx,
    user: &User,
    amr: Vec<String>,
    acr: Option<String>,
    id: Option<&str>,
) -> Result<Grant> {
    let tenant = &user.tenant_id;
    let mut grant = user.grant(
        amr,
        "",
        roles::scopes_of(&ctx.docs, tenant, &user.roles).await?,
    );
    grant.acr = acr;
    if let Some(id) = id {
        let ws_roles = user.roles_in(id).to_vec();
        for s in scopes_in(&ctx.docs, tenant, id, &ws_roles, true).await? {
            if !grant.scopes.contains(&s) {
                grant.scopes.push(s);
            }
        }
        for r in ws_roles {
            if !grant.roles.contains(&r) {
                grant.roles.push(r);
            }
        }
        grant.workspace_id = Some(id.to_owned());
    }
    Ok(grant)
}

/// Makes `workspace` (or none) the active workspace of the caller's session: what its next
/// tokens say. `not_found` for a workspace the caller does not belong to or that is inactive;
/// `session_revoked` when the session has ended.
pub async fn switch(ctx: &Ctx, caller: &Principal, workspace: Option<&str>) -> Result<Grant> {
    let tenant = &caller.tenant_id;
    let session_id = caller
        .session_id
        .as_deref()
        .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "this token has no session"))?;
    let user = caller_user(ctx, caller)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| Error::new(ErrorCode::PermissionDenied, "the account is not active"))?;
    if let Some(id) = workspace {
        let active = find(&ctx.docs, tenant, id)
            .await?
            .is_some_and(|(w, _)| w.is_active);
        if !active || !user.is_member_of(id) {
            return Err(not_found());
        }
    }
    let current = usso_edge::store::HotStore::session(&ctx.hot, tenant, session_id)
        .await?
        .filter(|r| r.revoked_at.is_none())
        .ok_or_else(|| Error::new(ErrorCode::SessionRevoked, "the session has ended"))?;
    let grant = grant_in(
        ctx,
        &user,
        current.grant.amr.clone(),
        current.grant.acr.clone(),
        workspace,
    )
    .await?;
    if !ctx.hot.set_grant(tenant, session_id, &grant).await? {
        return Err(Error::new(
            ErrorCode::SessionRevoked,
            "the session has ended",
        ));
    }
    Ok(grant)
}
