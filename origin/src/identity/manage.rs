//! Administration of accounts: list and search, create, change, soft-delete, and manage a
//! user's identifiers. Authorization of the route is checked before these run
//! ([`crate::authz::rules`]); what is checked here depends on the data.
//!
//! Invariants:
//! - the subset rule: a caller grants only roles and scopes within its own, and changes or
//!   deletes only accounts whose whole access is within its own (so a tenant administrator
//!   cannot disable, re-scope or delete the system administrator);
//! - a change of roles, scopes or activation, and a deletion, end the user's live sessions at
//!   once, so no session keeps access the account no longer has;
//! - an identifier belongs to at most one live account of a tenant (its document is the gate),
//!   and an account always keeps at least one;
//! - writes are compare-and-set: a change based on a stale read fails (`If-Match`) or retries.

use serde_json::json;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authz::Principal;
use crate::identity::fields::check_scopes;
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::identity::register::display_name;
use crate::identity::roles;
use crate::identity::users::{self, IdentifierDoc, User, USERS};
use crate::store::docs::{Cond, DocumentStore, Query, Sort};
use crate::tenants::Tenant;

/// The most items one page of any list holds (users, roles, workspaces, audit…).
pub const MAX_PAGE: u64 = 100;
/// The most identifiers one account holds.
pub const MAX_IDENTIFIERS: usize = 20;
/// Why sessions end when an administrator changes what an account may do.
pub const REASON_ACCESS_CHANGED: &str = roles::REASON_ROLES_CHANGED;
/// Why sessions end when an account is deleted.
pub const REASON_DELETED: &str = "user_deleted";

/// Orders of the user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// Newest account first (the default).
    CreatedDesc,
    /// Oldest account first.
    CreatedAsc,
    /// Most recently changed first.
    UpdatedDesc,
    /// By display name.
    Name,
}

impl UserSort {
    /// Parses `created_at`, `-created_at`, `-updated_at`, `name` (`-` = descending).
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "-created_at" => Self::CreatedDesc,
            "created_at" => Self::CreatedAsc,
            "-updated_at" | "updated_at" => Self::UpdatedDesc,
            "name" => Self::Name,
            _ => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    format!("sort: `{s}` is not one of created_at, -created_at, -updated_at, name"),
                ))
            }
        })
    }

    fn sort(self) -> Sort {
        let by = |field: &str, descending| Sort::By {
            field: field.into(),
            descending,
        };
        match self {
            Self::CreatedDesc => by("created_at", true),
            Self::CreatedAsc => by("created_at", false),
            Self::UpdatedDesc => Sort::Newest,
            Self::Name => by("name", false),
        }
    }
}

/// Which users to list.
#[derive(Debug, Clone)]
pub struct UserFilter {
    /// Users with a primary identifier of this kind.
    pub identifier_type: Option<IdentifierKind>,
    /// Holders of this role.
    pub role: Option<String>,
    /// Active or inactive.
    pub is_active: Option<bool>,
    /// Members of this workspace.
    pub workspace_id: Option<String>,
    /// Text in an identifier or the name (ASCII case folded).
    pub search: Option<String>,
    /// Order.
    pub sort: UserSort,
    /// Skip this many.
    pub offset: u64,
    /// At most this many (1–[`MAX_PAGE`]).
    pub limit: u64,
}

/// A user with their identifiers.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The account.
    pub user: User,
    /// Its document version (the `ETag`).
    pub version: i64,
    /// Its identifiers.
    pub identifiers: Vec<IdentifierDoc>,
}

/// One page of users.
#[derive(Debug)]
pub struct UserPage {
    /// The page.
    pub items: Vec<Listed>,
    /// All matching.
    pub total: u64,
}

fn invalid(detail: String) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

/// Lists the tenant's live users. Two store queries per page: the users, then all their
/// identifiers at once.
pub async fn list(ctx: &Ctx, tenant: &str, f: UserFilter) -> Result<UserPage> {
    list_in(&ctx.docs, tenant, f).await
}

/// [`list`] on a document store (the scale benchmark times the store's part alone with it).
pub async fn list_in<D: DocumentStore>(docs: &D, tenant: &str, f: UserFilter) -> Result<UserPage> {
    if !(1..=MAX_PAGE).contains(&f.limit) {
        return Err(invalid(format!("limit: 1 to {MAX_PAGE}")));
    }
    let mut conds = vec![Cond::Eq("deleted_at".into(), serde_json::Value::Null)];
    if let Some(k) = f.identifier_type {
        conds.push(Cond::Present(k.as_str().into()));
    }
    if let Some(r) = f.role {
        roles::check_slug("role", &r)?;
        conds.push(Cond::Has("roles".into(), json!(r)));
    }
    if let Some(a) = f.is_active {
        conds.push(Cond::Eq("is_active".into(), json!(a)));
    }
    if let Some(w) = f.workspace_id {
        conds.push(Cond::Has("workspace_ids".into(), json!(w)));
    }
    if let Some(q) = f
        .search
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty())
    {
        if q.chars().count() > 100 {
            return Err(invalid("search: at most 100 characters".into()));
        }
        conds.push(Cond::Text(
            ["email", "phone", "username", "name"]
                .map(String::from)
                .to_vec(),
            q,
        ));
    }
    let page = docs
        .query(
            USERS,
            tenant,
            &Query {
                conds,
                sort: f.sort.sort(),
                offset: f.offset,
                limit: f.limit,
            },
        )
        .await?;
    let mut users = Vec::with_capacity(page.items.len());
    for doc in page.items {
        let version = doc.version;
        let user: User = serde_json::from_value(doc.body)
            .map_err(|e| Error::internal(format!("corrupt user `{}`: {e}", doc.id)))?;
        users.push((user, version));
    }
    let ids: Vec<String> = users.iter().map(|(u, _)| u.id.clone()).collect();
    let mut idents = if ids.is_empty() {
        Vec::new()
    } else {
        let found = docs
            .query(
                users::IDENTIFIERS,
                tenant,
                &Query {
                    conds: vec![Cond::In("user_id".into(), ids)],
                    sort: Sort::By {
                        field: "created_at".into(),
                        descending: false,
                    },
                    offset: 0,
                    limit: 1000,
                },
            )
            .await?;
        found
            .items
            .into_iter()
            .map(|d| {
                serde_json::from_value::<IdentifierDoc>(d.body)
                    .map_err(|e| Error::internal(format!("corrupt identifier `{}`: {e}", d.id)))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let items = users
        .into_iter()
        .map(|(user, version)| {
            let mine: Vec<IdentifierDoc> = idents
                .iter()
                .filter(|i| i.user_id == user.id)
                .cloned()
                .collect();
            idents.retain(|i| i.user_id != user.id);
            Listed {
                user,
                version,
                identifiers: mine,
            }
        })
        .collect();
    Ok(UserPage {
        items,
        total: page.total,
    })
}

/// One live user with their identifiers, or `not_found` (also for another tenant's id).
pub async fn get(ctx: &Ctx, tenant: &str, uid: &str) -> Result<Listed> {
    let (user, version) = users::get(&ctx.docs, tenant, uid)
        .await?
        .filter(|(u, _)| !u.is_deleted())
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "user not found"))?;
    let identifiers = users::identifiers_of(&ctx.docs, tenant, uid).await?;
    Ok(Listed {
        user,
        version,
        identifiers,
    })
}

/// `permission_denied` unless the caller's access covers the account's whole access.
async fn may_manage(ctx: &Ctx, caller: &Principal, user: &User) -> Result<()> {
    caller
        .may_grant(&roles::access_of(ctx, user).await?)
        .map_err(|_| {
            Error::new(
                ErrorCode::PermissionDenied,
                "this account has access you do not hold; you cannot manage it",
            )
        })
}

/// What an administrator gives to create an account.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Email, phone (E.164) or username.
    pub identifier: String,
    /// `email`, `phone` or `username` (guessed when absent).
    pub kind: Option<String>,
    /// A password (checked against the tenant's policy); none for passwordless accounts.
    pub secret: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Role slugs.
    pub roles: Vec<String>,
    /// Direct scopes.
    pub scopes: Vec<String>,
    /// Active (default true).
    pub is_active: Option<bool>,
    /// The identifier is known to belong to the person (the administrator vouches).
    pub verified: bool,
}

/// Creates an account.
pub async fn create(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    new: NewUser,
) -> Result<Listed> {
    let ident = Identifier::parse(&new.identifier, new.kind.as_deref())
        .map_err(|e| invalid(format!("identifier: {}", e.detail())))?;
    check_scopes("scopes", &new.scopes)?;
    caller.may_grant(&new.scopes)?;
    roles::check_grantable(&ctx.docs, t.id(), caller, &new.roles).await?;
    let name = match new.name.as_deref() {
        Some(n) => display_name(n).map_err(|e| invalid(format!("name: {}", e.detail())))?,
        None => None,
    };
    let hash = match new.secret.as_deref() {
        Some(pw) => {
            t.password_policy().check_field("secret", pw)?;
            Some(ctx.hasher.hash(pw).await?)
        }
        None => None,
    };
    let now = ctx.now();
    let mut user = User::new(t.id(), &ident, hash, now)?;
    user.name = name;
    user.roles = roles::dedup(new.roles);
    user.scopes = new.scopes;
    user.is_active = new.is_active.unwrap_or(true);
    users::create(&ctx.docs, &user, &ident, new.verified).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::UserCreated,
        who,
        json!({"user_id": user.id, "by": caller.subject}),
    )
    .await;
    get(ctx, t.id(), &user.id).await
}

/// A change to an account (absent fields stay).
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// Display name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// Role slugs (replaces them).
    pub roles: Option<Vec<String>>,
    /// Direct scopes (replaces them).
    pub scopes: Option<Vec<String>>,
    /// Active.
    pub is_active: Option<bool>,
}

/// Changes an account whose version is still `if_match` (when given). A change of roles,
/// scopes or activation ends the account's sessions.
pub async fn update(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    uid: &str,
    change: UserChange,
    if_match: Option<i64>,
) -> Result<Listed> {
    let tenant = caller.tenant_id.as_str();
    let current = get(ctx, tenant, uid).await?;
    crate::store::docs::check_if_match("user", if_match, current.version)?;
    may_manage(ctx, caller, &current.user).await?;
    let name = match &change.name {
        Some(Some(n)) => {
            Some(display_name(n).map_err(|e| invalid(format!("name: {}", e.detail())))?)
        }
        Some(None) => Some(None),
        None => None,
    };
    if let Some(s) = &change.scopes {
        check_scopes("scopes", s)?;
        caller.may_grant(s)?;
    }
    if let Some(r) = &change.roles {
        roles::check_grantable(&ctx.docs, tenant, caller, r).await?;
    }
    let access_changes =
        change.roles.is_some() || change.scopes.is_some() || change.is_active == Some(false);
    let expected = current.version;
    let mut user = current.user;
    if let Some(n) = name {
        user.name = n;
    }
    if let Some(r) = change.roles {
        user.roles = roles::dedup(r);
    }
    if let Some(s) = change.scopes {
        user.scopes = s;
    }
    if let Some(a) = change.is_active {
        user.is_active = a;
    }
    user.updated_at = ctx.now();
    // Compare-and-set on the version read above: a concurrent change makes this fail, never
    // silently undone.
    let version = users::update(&ctx.docs, &user, expected)
        .await
        .map_err(crate::store::docs::lost_race("user", expected))?;
    // Any change of access or activation re-checks the account's API keys (a reactivated
    // account's keys work again); only a loss of access ends sessions.
    if access_changes || change.is_active.is_some() {
        crate::sessions::api_keys::resync_of(ctx, &user, roles::access_of(ctx, &user).await?)
            .await?;
    }
    let revoked = if access_changes {
        crate::store::hot::revoke_all(
            &ctx.hot,
            tenant,
            &user.subject(),
            REASON_ACCESS_CHANGED,
            ctx.now(),
        )
        .await?
    } else {
        0
    };
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::UserUpdated,
        who,
        json!({"user_id": uid, "by": caller.subject, "sessions_revoked": revoked}),
    )
    .await;
    let identifiers = users::identifiers_of(&ctx.docs, tenant, uid).await?;
    Ok(Listed {
        user,
        version,
        identifiers,
    })
}

/// Soft-deletes an account: it can no longer sign in and is no longer listed, its sessions
/// end and its identifiers are released (they may register again).
pub async fn delete(ctx: &Ctx, caller: &Principal, who: &ClientMeta, uid: &str) -> Result<()> {
    let tenant = caller.tenant_id.as_str();
    let current = get(ctx, tenant, uid).await?;
    may_manage(ctx, caller, &current.user).await?;
    if caller.is_user(uid) {
        return Err(Error::new(
            ErrorCode::Conflict,
            "you cannot delete your own account here; delete it from your account settings",
        ));
    }
    let now = ctx.now();
    // First the account (from then on nothing signs in as it: sign-in skips deleted accounts),
    // then its sessions, then its identifiers. A crash after the first step leaves
    // identifiers pointing at a deleted account, which the next registration takes over.
    let (user, _) = users::modify(
        &ctx.docs,
        tenant,
        uid,
        |u| {
            u.deleted_at = Some(now);
            u.is_active = false;
            Ok(())
        },
        now,
    )
    .await?;
    crate::sessions::api_keys::resync_of(ctx, &user, Vec::new()).await?;
    let revoked =
        crate::store::hot::revoke_all(&ctx.hot, tenant, &user.subject(), REASON_DELETED, now)
            .await?;
    for i in &current.identifiers {
        release(ctx, tenant, i, uid).await?;
    }
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::UserDeleted,
        who,
        json!({"user_id": uid, "by": caller.subject, "sessions_revoked": revoked}),
    )
    .await;
    Ok(())
}

/// Deletes an identifier document if it still belongs to `uid`.
async fn release(ctx: &Ctx, tenant: &str, i: &IdentifierDoc, uid: &str) -> Result<()> {
    let key = i.identifier().key();
    if let Some(doc) = ctx.docs.get(users::IDENTIFIERS, tenant, &key).await? {
        if doc.body["user_id"].as_str() == Some(uid) {
            ctx.docs.delete(users::IDENTIFIERS, tenant, &key).await?;
        }
    }
    Ok(())
}

/// Adds an identifier to an account (the first of its kind becomes primary). `conflict` when
/// another account holds it.
pub async fn add_identifier(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    uid: &str,
    raw: &str,
    kind: Option<&str>,
    verified: bool,
) -> Result<IdentifierDoc> {
    let tenant = caller.tenant_id.as_str();
    let current = get(ctx, tenant, uid).await?;
    may_manage(ctx, caller, &current.user).await?;
    let ident =
        Identifier::parse(raw, kind).map_err(|e| invalid(format!("identifier: {}", e.detail())))?;
    if current.identifiers.iter().any(|i| i.identifier() == ident) {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the account already has this identifier",
        ));
    }
    if current.identifiers.len() >= MAX_IDENTIFIERS {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("an account holds at most {MAX_IDENTIFIERS} identifiers"),
        ));
    }
    let now = ctx.now();
    let idoc = IdentifierDoc {
        user_id: uid.to_owned(),
        kind: ident.kind,
        value: ident.value.clone(),
        verified,
        verified_at: verified.then_some(now),
        created_at: now,
    };
    users::gate(
        &ctx.docs,
        tenant,
        &ident.key(),
        users::encode_identifier(&idoc)?,
    )
    .await?;
    if current.user.primary(ident.kind).is_none() {
        users::modify(
            &ctx.docs,
            tenant,
            uid,
            |u| {
                if u.primary(ident.kind).is_none() {
                    u.set_primary(ident.kind, Some(ident.value.clone()));
                }
                Ok(())
            },
            now,
        )
        .await?;
    }
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::IdentifierAdded,
        who,
        json!({"user_id": uid, "identifier": idoc.uid(), "by": caller.subject}),
    )
    .await;
    Ok(idoc)
}

/// The identifier `identifier_id` of `uid`, or `not_found`.
fn find<'a>(current: &'a Listed, identifier_id: &str) -> Result<&'a IdentifierDoc> {
    current
        .identifiers
        .iter()
        .find(|i| i.uid() == identifier_id)
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "identifier not found"))
}

/// Removes an identifier; the account keeps at least one. If it was primary, another of its
/// kind (the oldest) takes its place.
pub async fn remove_identifier(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    uid: &str,
    identifier_id: &str,
) -> Result<()> {
    let tenant = caller.tenant_id.as_str();
    let current = get(ctx, tenant, uid).await?;
    may_manage(ctx, caller, &current.user).await?;
    let target = find(&current, identifier_id)?.clone();
    if current.identifiers.len() == 1 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "an account keeps at least one identifier",
        ));
    }
    let next = current
        .identifiers
        .iter()
        .find(|i| i.kind == target.kind && i.value != target.value)
        .map(|i| i.value.clone());
    // The account stops naming it first, then the gate goes: a crash in between leaves an
    // identifier that still signs in but is no longer primary, never a primary that points
    // nowhere.
    users::modify(
        &ctx.docs,
        tenant,
        uid,
        |u| {
            if u.primary(target.kind) == Some(target.value.as_str()) {
                u.set_primary(target.kind, next.clone());
            }
            Ok(())
        },
        ctx.now(),
    )
    .await?;
    release(ctx, tenant, &target, uid).await?;
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::IdentifierRemoved,
        who,
        json!({"user_id": uid, "identifier": identifier_id, "by": caller.subject}),
    )
    .await;
    Ok(())
}

/// Makes an identifier the primary one of its kind (what tokens and messages use).
pub async fn make_primary(
    ctx: &Ctx,
    caller: &Principal,
    who: &ClientMeta,
    uid: &str,
    identifier_id: &str,
) -> Result<()> {
    let tenant = caller.tenant_id.as_str();
    let current = get(ctx, tenant, uid).await?;
    may_manage(ctx, caller, &current.user).await?;
    let target = find(&current, identifier_id)?.clone();
    users::modify(
        &ctx.docs,
        tenant,
        uid,
        |u| {
            u.set_primary(target.kind, Some(target.value.clone()));
            Ok(())
        },
        ctx.now(),
    )
    .await?;
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::IdentifierMadePrimary,
        who,
        json!({"user_id": uid, "identifier": identifier_id, "by": caller.subject}),
    )
    .await;
    Ok(())
}

/// The ways the account can sign in today, as `amr` values: `password` when it has one,
/// `email/otp` and `magic_link` with a proven email, `phone/otp` with a proven phone.
pub fn credential_methods(user: &User, identifiers: &[IdentifierDoc]) -> Vec<&'static str> {
    let proven = |k: IdentifierKind| identifiers.iter().any(|i| i.kind == k && i.verified);
    let mut out = Vec::new();
    if user.password_hash.is_some() {
        out.push("password");
    }
    if proven(IdentifierKind::Email) {
        out.extend(["email/otp", "magic_link"]);
    }
    if proven(IdentifierKind::Phone) {
        out.push("phone/otp");
    }
    out
}

/// Why sessions end when an administrator sets a user's password.
pub const REASON_PASSWORD_SET: &str = "password_set_by_admin";

/// An administrator sets a user's password (checked against the tenant's policy); the user's
/// sessions end. Only for accounts whose access is within the caller's.
pub async fn set_password(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    uid: &str,
    password: &str,
) -> Result<u64> {
    let current = get(ctx, t.id(), uid).await?;
    may_manage(ctx, caller, &current.user).await?;
    let user = crate::identity::account::store_password(ctx, t, uid, "secret", password).await?;
    let now = ctx.now();
    let revoked =
        crate::store::hot::revoke_all(&ctx.hot, t.id(), &user.subject(), REASON_PASSWORD_SET, now)
            .await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::PasswordSetByAdmin,
        who,
        json!({"user_id": uid, "by": caller.subject, "sessions_revoked": revoked}),
    )
    .await;
    Ok(revoked)
}
