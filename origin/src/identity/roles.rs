//! Roles: named bundles of scopes. A user's tokens carry the scopes of their *active* roles
//! plus their direct grants, resolved when a session starts.
//!
//! Invariants: a role's slug is its document id (so two roles cannot share one, on any
//! backend); a caller creates, changes or deletes only roles whose scopes are all within its
//! own (the subset rule, against privilege escalation); any change to a role ends the live
//! sessions of its holders, so no session keeps scopes the role no longer grants.

use serde::{Deserialize, Serialize};
use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authz::Principal;
use crate::identity::fields::{check_scopes, text};
use crate::identity::users::{self, User};
use crate::store::collections::ROLES;
use crate::store::docs::{Cond, DocumentStore, Query, Sort};

/// The most roles one user may hold.
pub const MAX_ROLES: usize = 50;
/// The role every tenant starts with: administration of everything in the tenant.
pub const ADMIN: &str = "admin";
/// The scopes of [`ADMIN`].
pub const ADMIN_SCOPES: &[&str] = &["admin:usso/*"];

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Unique in the tenant; `[a-z0-9][a-z0-9_-]*`, at most 64 characters. Never changes.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// Inactive roles grant nothing.
    pub is_active: bool,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// What a caller gives to create a role.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// Slug.
    pub slug: String,
    /// Name (the slug when absent).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Active (default true).
    pub is_active: Option<bool>,
}

/// A change to a role (absent fields stay).
#[derive(Debug, Clone, Default)]
pub struct RoleChange {
    /// Name.
    pub name: Option<String>,
    /// Description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Active.
    pub is_active: Option<bool>,
}

/// Checks a slug.
pub fn check_slug(field: &str, slug: &str) -> Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::ValidationError,
            format!("{field}: `{slug}` is not a slug (a-z, 0-9, _ and -, at most 64)"),
        ))
    }
}

fn decode(doc: crate::store::docs::Doc) -> Result<(Role, i64)> {
    let v = doc.version;
    let role = serde_json::from_value(doc.body)
        .map_err(|e| Error::internal(format!("corrupt role `{}`: {e}", doc.id)))?;
    Ok((role, v))
}

fn encode(r: &Role) -> Result<serde_json::Value> {
    serde_json::to_value(r).map_err(|e| Error::internal(e.to_string()))
}

/// A role by slug, with its version.
pub async fn get<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    slug: &str,
) -> Result<Option<(Role, i64)>> {
    docs.get(ROLES, tenant, slug).await?.map(decode).transpose()
}

/// A role by slug, or `not_found`.
pub async fn must_get<D: DocumentStore>(docs: &D, tenant: &str, slug: &str) -> Result<(Role, i64)> {
    get(docs, tenant, slug)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no role `{slug}`")))
}

/// One page of the tenant's roles, by slug; with the total.
pub async fn list<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(Role, i64)>, u64)> {
    let page = docs
        .query(
            ROLES,
            tenant,
            &Query {
                conds: vec![],
                sort: Sort::By {
                    field: "slug".into(),
                    descending: false,
                },
                offset,
                limit,
            },
        )
        .await?;
    let items = page.items.into_iter().map(decode).collect::<Result<_>>()?;
    Ok((items, page.total))
}

/// Everything an account may do: its direct scopes and its roles' scopes.
pub async fn access_of(ctx: &Ctx, user: &User) -> Result<Vec<String>> {
    let mut all = user.scopes.clone();
    all.extend(scopes_of(&ctx.docs, &user.tenant_id, &user.roles).await?);
    Ok(all)
}

/// The scopes `roles` grant (active roles only; unknown slugs grant nothing).
pub async fn scopes_of<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    roles: &[String],
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for slug in roles {
        if let Some((role, _)) = get(docs, tenant, slug).await? {
            if role.is_active {
                for s in role.scopes {
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Checks that every role exists and that the caller holds every scope they grant.
pub async fn check_grantable<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    caller: &Principal,
    roles: &[String],
) -> Result<()> {
    if roles.len() > MAX_ROLES {
        return Err(Error::new(
            ErrorCode::ValidationError,
            format!("roles: at most {MAX_ROLES}"),
        ));
    }
    for slug in roles {
        check_slug("roles", slug)?;
        let Some((role, _)) = get(docs, tenant, slug).await? else {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("roles: no role `{slug}`"),
            ));
        };
        caller.may_grant(&role.scopes)?;
    }
    Ok(())
}

/// Creates the built-in [`ADMIN`] role of a tenant if it has none.
pub async fn seed<D: DocumentStore>(docs: &D, tenant: &str, now: i64) -> Result<()> {
    let admin = Role {
        slug: ADMIN.into(),
        name: "Administrator".into(),
        description: Some("Administers users, roles and the tenant's policy".into()),
        scopes: ADMIN_SCOPES.iter().map(|s| s.to_string()).collect(),
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    match docs.insert(ROLES, tenant, ADMIN, encode(&admin)?).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == ErrorCode::Conflict => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates a role.
pub async fn create(ctx: &Ctx, caller: &Principal, who: &ClientMeta, new: NewRole) -> Result<Role> {
    check_slug("slug", &new.slug)?;
    check_scopes("scopes", &new.scopes)?;
    caller.may_grant(&new.scopes)?;
    let now = ctx.now();
    let role = Role {
        name: text("name", new.name.as_deref().unwrap_or(&new.slug), 128)?,
        description: new
            .description
            .as_deref()
            .map(|d| text("description", d, 1024))
            .transpose()?,
        slug: new.slug,
        scopes: new.scopes,
        is_active: new.is_active.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    match ctx
        .docs
        .insert(ROLES, &caller.tenant_id, &role.slug, encode(&role)?)
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::Conflict => {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("a role `{}` exists", role.slug),
            ))
        }
        Err(e) => return Err(e),
    }
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::RoleCreated,
        who,
        json!({"role": role.slug, "by": caller.subject}),
    )
    .await;
    Ok(role)
}

/// Changes a role whose version is still `version` (optimistic concurrency:
/// `precondition_failed` otherwise). The holders' sessions end.
pub async fn update(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    slug: &str,
    change: RoleChange,
    version: Option<i64>,
) -> Result<(Role, i64)> {
    let (mut role, current) = must_get(&ctx.docs, &caller.tenant_id, slug).await?;
    caller.may_grant(&role.scopes)?;
    crate::store::docs::check_if_match("role", version, current)?;
    if let Some(n) = change.name {
        role.name = text("name", &n, 128)?;
    }
    if let Some(d) = change.description {
        role.description = d
            .as_deref()
            .map(|d| text("description", d, 1024))
            .transpose()?;
    }
    if let Some(s) = change.scopes {
        check_scopes("scopes", &s)?;
        caller.may_grant(&s)?;
        role.scopes = s;
    }
    if let Some(a) = change.is_active {
        role.is_active = a;
    }
    role.updated_at = ctx.now();
    let saved = ctx
        .docs
        .replace(ROLES, &caller.tenant_id, slug, encode(&role)?, current)
        .await
        .map_err(crate::store::docs::lost_race("role", current))?;
    let revoked = end_holders_sessions(ctx, &caller.tenant_id, slug, None).await?;
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::RoleUpdated,
        who,
        json!({"role": slug, "by": caller.subject, "sessions_revoked": revoked}),
    )
    .await;
    Ok((role, saved.version))
}

/// Deletes a role: it is taken from every holder, whose sessions end.
pub async fn delete(ctx: &Ctx, caller: &Principal, who: &ClientMeta, slug: &str) -> Result<()> {
    let (role, _) = must_get(&ctx.docs, &caller.tenant_id, slug).await?;
    caller.may_grant(&role.scopes)?;
    // The role document goes first: from then on it grants nothing, even to holders whose
    // slug is not yet removed (a crash in between leaves only dangling slugs, which grant
    // nothing and are removed when the role is deleted again or the user is next changed).
    ctx.docs.delete(ROLES, &caller.tenant_id, slug).await?;
    let revoked = end_holders_sessions(ctx, &caller.tenant_id, slug, Some(slug)).await?;
    crate::audit::client(
        ctx,
        &caller.tenant_id,
        AuditEvent::RoleDeleted,
        who,
        json!({"role": slug, "by": caller.subject, "sessions_revoked": revoked}),
    )
    .await;
    Ok(())
}

/// Ends the sessions of every live holder of `slug`, as a tenant role or a workspace role
/// (removing the slug from them when `remove`), and re-checks their API keys against what they
/// may still do.
async fn end_holders_sessions(
    ctx: &Ctx,
    tenant: &str,
    slug: &str,
    remove: Option<&str>,
) -> Result<u64> {
    let mut revoked = 0;
    for field in ["roles", users::WORKSPACE_ROLE_SLUGS] {
        revoked += end_sessions_by(ctx, tenant, field, slug, remove).await?;
    }
    Ok(revoked)
}

async fn end_sessions_by(
    ctx: &Ctx,
    tenant: &str,
    field: &str,
    slug: &str,
    remove: Option<&str>,
) -> Result<u64> {
    const PAGE: u64 = 200;
    let mut revoked = 0;
    let mut offset = 0;
    loop {
        let page = ctx
            .docs
            .query(
                crate::store::collections::USERS,
                tenant,
                &Query {
                    conds: vec![
                        Cond::Has(field.into(), json!(slug)),
                        Cond::Eq("deleted_at".into(), serde_json::Value::Null),
                    ],
                    sort: Sort::By {
                        field: "created_at".into(),
                        descending: false,
                    },
                    offset,
                    limit: PAGE,
                },
            )
            .await?;
        let n = page.items.len() as u64;
        for doc in page.items {
            let user: User = serde_json::from_value(doc.body)
                .map_err(|e| Error::internal(format!("corrupt user `{}`: {e}", doc.id)))?;
            let user = if let Some(r) = remove {
                users::modify(
                    &ctx.docs,
                    tenant,
                    &user.id,
                    |u| {
                        u.roles.retain(|x| x != r);
                        u.remove_workspace_role(r);
                        Ok(())
                    },
                    ctx.now(),
                )
                .await?
                .0
            } else {
                user
            };
            // The holder's API keys act only within what the holder may still do.
            crate::sessions::api_keys::resync_of(ctx, &user, access_of(ctx, &user).await?).await?;
            revoked += crate::store::hot::revoke_all(
                &ctx.hot,
                tenant,
                &user.subject(),
                REASON_ROLES_CHANGED,
                ctx.now(),
            )
            .await?;
        }
        // Removing the slug shrinks the result set; otherwise move on.
        if remove.is_none() {
            offset += n;
        }
        if n < PAGE {
            break;
        }
    }
    Ok(revoked)
}

/// `v` without repeats, in first-seen order.
pub fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

/// Why sessions end when what a user may do changes.
pub const REASON_ROLES_CHANGED: &str = "access_changed";
