//! API keys: long-lived credentials for services and scripts, owned by a person, acting with
//! a fixed subset of that person's scopes. The format, the hash and the check are
//! [`usso_shared::api_key`]'s; this module creates, lists and revokes keys, and publishes
//! each live key to the hot store so that the edge (Workers, Spin, the origin's own core)
//! verifies it with one read.
//!
//! Invariants and the attacks they prevent:
//! - the key is shown once, at creation; the documents and the hot store hold only its hash;
//! - a key's scopes never exceed its creator's (the subset rule), and a key never mints a key:
//!   creating one needs a person's session;
//! - revocation (or the owner's deactivation or deletion) unpublishes the key: every runtime
//!   refuses it from the next request; expiry is checked on every use;
//! - a key is never a session: no refresh, no cookies, refused on routes for a signed-in
//!   person ([`crate::authz::rules::Rule::SignedIn`]);
//! - someone else's key is not found (404), whatever its id.

use serde::{Deserialize, Serialize};
use serde_json::json;
use usso_shared::api_key::{self, Published};
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authz::{Action, Need, Principal, Resource};
use crate::store::collections::API_KEYS;
use crate::store::docs::{Cond, DocumentStore, Query, Sort};
use crate::store::hot::Publish;
use crate::tenants::Tenant;
use usso_edge::store::HotStore;

/// Most keys one person may hold.
pub const MAX_KEYS_PER_OWNER: u64 = 100;
/// Longest lifetime, in days (ten years).
pub const MAX_DAYS: i64 = 3650;

/// A key as stored (never the key itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    /// The public id (the `<id>` of `usso_sk_<id>_…`).
    pub id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Its name.
    pub name: String,
    /// The owning person, for a person's key.
    pub user_id: Option<String>,
    /// The owning service account, for an agent's key.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// `sub` of the owner.
    pub sub: String,
    /// The workspace it acts in.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// What it may do.
    pub scopes: Vec<String>,
    /// SHA-256 hex of the key.
    pub hash: String,
    /// Creation (unix seconds).
    pub created_at: i64,
    /// Expiry, if any.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Last use seen by the origin (at most once a minute).
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

impl ApiKey {
    /// What the hot store holds for it.
    pub fn published(&self) -> Published {
        Published {
            id: self.id.clone(),
            hash: self.hash.clone(),
            tenant_id: self.tenant_id.clone(),
            sub: self.sub.clone(),
            user_id: self.user_id.clone(),
            agent_id: self.agent_id.clone(),
            workspace_id: self.workspace_id.clone(),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
            name: self.name.clone(),
        }
    }
}

/// What a person asks for.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// Its name.
    pub name: String,
    /// Its scopes (default: all of the creator's).
    pub scopes: Option<Vec<String>>,
    /// Lifetime in days (default: no expiry).
    pub expires_in_days: Option<i64>,
    /// The workspace it acts in (one the creator belongs to; an agent's key acts in the
    /// agent's workspace).
    pub workspace_id: Option<String>,
    /// For a service account instead of the creator ([`AgentOwner`]).
    pub agent: Option<AgentOwner>,
}

/// The service account a key is made for (the caller resolved it: this module does not read
/// agents). The key's scopes stay within the agent's and the creator's.
#[derive(Debug, Clone)]
pub struct AgentOwner {
    /// `service:…`.
    pub id: String,
    /// What the agent may do.
    pub scopes: Vec<String>,
    /// Its workspace.
    pub workspace_id: Option<String>,
    /// Whether it may act now.
    pub active: bool,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn not_found() -> Error {
    Error::new(ErrorCode::NotFound, "API key not found")
}

async fn publish(ctx: &Ctx, key: &ApiKey) -> Result<()> {
    let text =
        serde_json::to_string(&key.published()).map_err(|e| Error::internal(e.to_string()))?;
    ctx.hot
        .set(&api_key::hot_key(&key.tenant_id, &key.id), &text)
        .await
}

/// Creates a key for the caller (a person in a session), or for a service account when the
/// caller holds `update:usso/agents`; the stored key and the key itself, which is never shown
/// again.
pub async fn create(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    new: NewKey,
) -> Result<(ApiKey, String)> {
    let user_id = caller
        .user_id
        .clone()
        .filter(|_| caller.is_person())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::PermissionDenied,
                "API keys are created by a person signed in",
            )
        })?;
    let name = crate::identity::fields::text("name", &new.name, 100)?;
    if let Some(a) = &new.agent {
        caller.require(Need(Action::Update, Resource::Agents))?;
        if !a.active {
            return Err(invalid("agent_id: the agent is inactive"));
        }
    }
    // The ceiling: the creator's scopes, and the agent's for an agent's key.
    let ceiling = match &new.agent {
        Some(a) => a
            .scopes
            .iter()
            .filter(|s| caller.may_grant(std::slice::from_ref(s)).is_ok())
            .cloned()
            .collect(),
        None => caller.scopes.clone(),
    };
    let scopes = match new.scopes {
        Some(s) => {
            crate::identity::fields::check_scopes("scopes", &s)?;
            caller.may_grant(&s)?;
            if let Some(a) = &new.agent {
                if let Some(x) = s.iter().find(|x| !a.scopes.contains(x)) {
                    return Err(Error::new(
                        ErrorCode::PermissionDenied,
                        format!("the agent does not hold `{x}`"),
                    ));
                }
            }
            s
        }
        None => ceiling,
    };
    let now = ctx.now();
    let expires_at = match new.expires_in_days {
        None => None,
        Some(d) if (1..=MAX_DAYS).contains(&d) => Some(now + d * 86_400),
        Some(_) => return Err(invalid(format!("expires_in_days: 1 to {MAX_DAYS}"))),
    };
    let workspace_id = match &new.agent {
        Some(a) => {
            if new.workspace_id.is_some() && new.workspace_id != a.workspace_id {
                return Err(invalid(
                    "workspace_id: an agent's key acts in the agent's workspace",
                ));
            }
            a.workspace_id.clone()
        }
        None => {
            if let Some(ws) = &new.workspace_id {
                let (user, _) = crate::identity::users::get(&ctx.docs, t.id(), &user_id)
                    .await?
                    .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "account not found"))?;
                if !user.workspace_ids.iter().any(|w| w == ws) {
                    return Err(invalid("workspace_id: not a workspace you belong to"));
                }
            }
            new.workspace_id
        }
    };
    let owner = match &new.agent {
        Some(a) => Owner::Agent(&a.id),
        None => Owner::User(&user_id),
    };
    let held = ctx
        .docs
        .query(API_KEYS, t.id(), &owner.query(1))
        .await?
        .total;
    if held >= MAX_KEYS_PER_OWNER {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("at most {MAX_KEYS_PER_OWNER} API keys per owner: revoke one first"),
        ));
    }
    let (plain, id) = api_key::generate()?;
    let key = ApiKey {
        id: id.clone(),
        tenant_id: t.id().to_owned(),
        name,
        user_id: new.agent.is_none().then(|| user_id.clone()),
        agent_id: new.agent.as_ref().map(|a| a.id.clone()),
        sub: new
            .agent
            .as_ref()
            .map_or_else(|| caller.subject.clone(), |a| a.id.clone()),
        workspace_id,
        scopes,
        hash: api_key::hash(&plain),
        created_at: now,
        expires_at,
        last_used_at: None,
    };
    let body = serde_json::to_value(&key).map_err(|e| Error::internal(e.to_string()))?;
    ctx.docs.insert(API_KEYS, t.id(), &id, body).await?;
    // Stored first, then published: a crash between the two leaves a key that is listed and
    // revocable but not yet usable, never a usable key nobody can see.
    publish(ctx, &key).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::ApiKeyCreated,
        who,
        json!({"user_id": key.user_id, "agent_id": key.agent_id, "by": caller.subject,
            "api_key_id": id, "scopes": key.scopes}),
    )
    .await;
    Ok((key, plain))
}

fn decode(doc: crate::store::docs::Doc) -> Result<ApiKey> {
    serde_json::from_value(doc.body)
        .map_err(|e| Error::internal(format!("corrupt API key `{}`: {e}", doc.id)))
}

/// Whether the caller may see or revoke keys other than its own.
fn manages(caller: &Principal, action: Action) -> bool {
    caller.holds(Need(action, Resource::ApiKeys))
}

/// The caller's keys (or, for whoever holds `read:usso/apikeys`, the tenant's, optionally one
/// user's), newest first; with the total.
pub async fn list(
    ctx: &Ctx,
    caller: &Principal,
    user_id: Option<String>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<ApiKey>, u64)> {
    let owner = if manages(caller, Action::Read) {
        user_id
    } else {
        match (&caller.user_id, user_id) {
            (Some(me), None) => Some(me.clone()),
            (Some(me), Some(u)) if &u == me => Some(u),
            _ => {
                return Err(Error::new(
                    ErrorCode::PermissionDenied,
                    format!(
                        "this needs the scope `{}`",
                        Need(Action::Read, Resource::ApiKeys).scope()
                    ),
                ))
            }
        }
    };
    let conds = owner
        .map(|u| vec![Cond::Eq("user_id".into(), json!(u))])
        .unwrap_or_default();
    let page = ctx
        .docs
        .query(
            API_KEYS,
            &caller.tenant_id,
            &Query {
                conds,
                sort: Sort::By {
                    field: "created_at".into(),
                    descending: true,
                },
                offset,
                limit,
            },
        )
        .await?;
    let keys = page.items.into_iter().map(decode).collect::<Result<_>>()?;
    Ok((keys, page.total))
}

/// One key the caller may see (its own; any with `read:usso/apikeys`), or `not_found`.
pub async fn get(ctx: &Ctx, caller: &Principal, id: &str, action: Action) -> Result<ApiKey> {
    if id.len() != api_key::ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let key = ctx
        .docs
        .get(API_KEYS, &caller.tenant_id, id)
        .await?
        .map(decode)
        .transpose()?
        .ok_or_else(not_found)?;
    let own = key.user_id.is_some() && key.user_id == caller.user_id;
    if own || manages(caller, action) {
        Ok(key)
    } else {
        Err(not_found())
    }
}

/// Revokes a key: unpublished first (no runtime accepts it from then on), then removed.
pub async fn revoke(ctx: &Ctx, caller: &Principal, who: &ClientMeta, id: &str) -> Result<()> {
    let key = get(ctx, caller, id, Action::Delete).await?;
    ctx.hot
        .unset(&api_key::hot_key(&key.tenant_id, &key.id))
        .await?;
    ctx.docs.delete(API_KEYS, &key.tenant_id, &key.id).await?;
    crate::audit::client(
        ctx,
        &key.tenant_id,
        AuditEvent::ApiKeyRevoked,
        who,
        json!({"user_id": key.user_id, "api_key_id": key.id, "by": caller.subject}),
    )
    .await;
    Ok(())
}

/// Whose keys.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    /// A person's (`user_id`).
    User(&'a str),
    /// A service account's (`agent_id`).
    Agent(&'a str),
}

impl Owner<'_> {
    /// The owner's keys, newest first, at most `limit`.
    fn query(self, limit: u64) -> Query {
        let (field, id) = match self {
            Self::User(id) => ("user_id", id),
            Self::Agent(id) => ("agent_id", id),
        };
        Query {
            conds: vec![Cond::Eq(field.into(), json!(id))],
            sort: Sort::Newest,
            offset: 0,
            limit,
        }
    }
}

/// All keys of `owner` (at most [`MAX_KEYS_PER_OWNER`] exist).
async fn keys_of<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    owner: Owner<'_>,
) -> Result<Vec<ApiKey>> {
    docs.query(API_KEYS, tenant, &owner.query(MAX_KEYS_PER_OWNER))
        .await?
        .items
        .into_iter()
        .map(decode)
        .collect()
}

/// After a change of `user`'s access (roles, scopes, activation, deletion): publishes the
/// keys that may still act and unpublishes the others. `access` is everything the user may
/// now do (direct scopes and roles' scopes). A key acts only while its owner is
/// active and still holds every scope the key has; one that lost its ground stays listed
/// (revocable), and works again if the owner gets the access back.
pub async fn resync_of(
    ctx: &Ctx,
    user: &crate::identity::users::User,
    access: Vec<String>,
) -> Result<()> {
    let keys = keys_of(&ctx.docs, &user.tenant_id, Owner::User(&user.id)).await?;
    if keys.is_empty() {
        return Ok(());
    }
    let owner = Principal {
        tenant_id: user.tenant_id.clone(),
        user_id: Some(user.id.clone()),
        subject: user.subject(),
        scopes: access,
        session_id: None,
        api_key_id: None,
    };
    let may_act = user.is_active && !user.is_deleted();
    for key in keys {
        if may_act && owner.may_grant(&key.scopes).is_ok() {
            publish(ctx, &key).await?;
        } else {
            ctx.hot
                .unset(&api_key::hot_key(&key.tenant_id, &key.id))
                .await?;
        }
    }
    Ok(())
}

/// After a change of a service account (scopes, activation, deletion, the tenant's agents
/// switched off): its keys act only while it is `active` and holds every scope of the key.
pub async fn resync_of_agent(
    ctx: &Ctx,
    tenant: &str,
    agent_id: &str,
    active: bool,
    scopes: &[String],
) -> Result<()> {
    let keys = keys_of(&ctx.docs, tenant, Owner::Agent(agent_id)).await?;
    for key in keys {
        if active && key.scopes.iter().all(|s| scopes.contains(s)) {
            publish(ctx, &key).await?;
        } else {
            ctx.hot.unset(&api_key::hot_key(tenant, &key.id)).await?;
        }
    }
    Ok(())
}

/// Unpublishes every agent's key of a tenant (its agents were switched off). They stay listed
/// and revocable; an agent's keys are published again when the agent is next changed.
pub async fn unpublish_agent_keys<D: DocumentStore, H: Publish>(
    docs: &D,
    hot: &H,
    tenant: &str,
) -> Result<u64> {
    let mut n = 0;
    let mut offset = 0;
    loop {
        let page = docs
            .query(
                API_KEYS,
                tenant,
                &Query {
                    conds: vec![Cond::Present("agent_id".into())],
                    sort: Sort::Newest,
                    offset,
                    limit: 200,
                },
            )
            .await?;
        let got = page.items.len() as u64;
        for doc in page.items {
            hot.unset(&api_key::hot_key(tenant, &doc.id)).await?;
            n += 1;
        }
        if got < 200 {
            return Ok(n);
        }
        offset += got;
    }
}

/// Erases every key of a user (the GDPR erasure): unpublished, then deleted. How many.
pub async fn erase_of<D: DocumentStore, H: Publish>(
    docs: &D,
    hot: &H,
    tenant: &str,
    user_id: &str,
) -> Result<u64> {
    let keys = keys_of(docs, tenant, Owner::User(user_id)).await?;
    for key in &keys {
        hot.unset(&api_key::hot_key(tenant, &key.id)).await?;
        docs.delete(API_KEYS, tenant, &key.id).await?;
    }
    Ok(keys.len() as u64)
}

/// The caller a presented key stands for at the origin: checked by the edge core as at the
/// edge (one hot-store read; refusals counted); its use is recorded at most once a minute.
pub async fn authenticate(
    ctx: &Ctx,
    tc: &crate::tenants::TenantCtx,
    who: &ClientMeta,
    presented: &str,
) -> Result<Principal> {
    let t = &tc.tenant;
    let now = ctx.now();
    let p = ctx
        .core
        .check_api_key(&tc.state, Some(who.ip.as_str()), presented)
        .await?;
    let (first_this_minute, _) = ctx
        .hot
        .hit(&format!("usso:apikey-used:{}:{}", t.id(), p.id), 60, now)
        .await?;
    if first_this_minute == 1 {
        if let Some(doc) = ctx.docs.get(API_KEYS, t.id(), &p.id).await? {
            let version = doc.version;
            let mut key = decode(doc)?;
            key.last_used_at = Some(now);
            let body = serde_json::to_value(&key).map_err(|e| Error::internal(e.to_string()))?;
            // A lost race only loses a timestamp.
            let _ = ctx
                .docs
                .replace(API_KEYS, t.id(), &p.id, body, version)
                .await;
        }
        crate::audit::client(
            ctx,
            t.id(),
            AuditEvent::ApiKeyUsed,
            who,
            json!({"user_id": p.user_id, "api_key_id": p.id}),
        )
        .await;
    }
    Ok(Principal {
        tenant_id: t.id().to_owned(),
        user_id: p.user_id,
        subject: p.sub,
        scopes: p.scopes,
        session_id: None,
        api_key_id: Some(p.id),
    })
}
