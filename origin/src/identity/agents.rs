//! Service accounts ("agents"): machines that sign their own short JWTs with an Ed25519 key and
//! exchange them for access tokens ([`crate::authn::agent_jwt`]). This module keeps the
//! accounts: created by an administrator or registered by the agent itself with a one-time
//! registration key a person made, their scopes, workspace, activation and public keys.
//!
//! Invariants and the attacks they prevent:
//! - a tenant has agents only when its policy says so (`agents.enabled`; on for the default
//!   tenant, off for others unless set): a tenant that never wanted machine identities has none;
//! - an agent's scopes never exceed those of whoever created it (an administrator, or the
//!   person whose registration key it used): the subset rule, as for roles and API keys;
//! - a public key must be an Ed25519 SubjectPublicKeyInfo, nothing else; its id (`kid`) is the
//!   SHA-256 hex of that DER (what the official SDK sends), and one key belongs to one agent of
//!   a tenant, so a `kid` names one agent;
//! - a registration key is 256 random bits, stored as a hash in the hot store, single use
//!   (atomically), expiring after an hour, and bound to its tenant.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use usso_edge::store::HotStore;
use usso_shared::encoding::{b64url_decode, b64url_encode, hex_encode};
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authz::Principal;
use crate::identity::fields::{check_scopes, text};
use crate::store::collections::AGENTS;
use crate::store::docs::{check_if_match, lost_race, Cond, DocumentStore, Query, Sort};
use crate::store::hot::Ephemeral;
use crate::tenants::Tenant;

/// Every agent id starts with this (it is also the tokens' `sub`).
pub const ID_PREFIX: &str = "service:";
/// Most public keys one agent holds (key rotation keeps two or three).
pub const MAX_KEYS: usize = 10;
/// How long a registration key stays usable.
pub const REGISTRATION_TTL_SECS: i64 = 3600;
/// What registration keys start with.
const REGISTRATION_PREFIX: &str = "usso_ar_";
/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// One public key of an agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentKey {
    /// SHA-256 hex of the SubjectPublicKeyInfo DER.
    pub kid: String,
    /// The raw 32-byte Ed25519 key, base64url.
    pub public_key: String,
    /// When it was added.
    pub created_at: i64,
}

/// A raw Ed25519 public key as PEM (SubjectPublicKeyInfo): what [`parse_verify_key`] reads.
pub fn spki_pem(raw: &[u8; 32]) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(raw);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        <base64ct::Base64 as base64ct::Encoding>::encode_string(&der)
    )
}

impl AgentKey {
    /// The key as PEM (SubjectPublicKeyInfo).
    pub fn pem(&self) -> String {
        self.raw().map(|r| spki_pem(&r)).unwrap_or_default()
    }

    /// The raw key bytes.
    pub fn raw(&self) -> Option<[u8; 32]> {
        b64url_decode(&self.public_key)?.try_into().ok()
    }
}

/// A service account as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agent {
    /// `service:<32 hex>`.
    pub id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// What it may do.
    pub scopes: Vec<String>,
    /// The workspace its tokens act in.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Whether it may sign in.
    pub is_active: bool,
    /// Its public keys.
    pub keys: Vec<AgentKey>,
    /// The keys' ids (indexed: the agent a `kid` names is one lookup).
    pub kids: Vec<String>,
    /// Who created it (`sub`), or whose registration key it used.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Creation.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// What an administrator gives to create an agent.
#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Its scopes (within the creator's).
    pub scopes: Vec<String>,
    /// The workspace its tokens act in.
    pub workspace_id: Option<String>,
    /// Public keys, PEM (SubjectPublicKeyInfo, Ed25519).
    pub verify_keys: Vec<String>,
    /// Active at once (default true).
    pub is_active: Option<bool>,
}

/// A change to an agent (absent fields stay).
#[derive(Debug, Clone, Default)]
pub struct AgentChange {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New scopes (within the caller's).
    pub scopes: Option<Vec<String>>,
    /// New workspace (`Some(None)` clears it).
    pub workspace_id: Option<Option<String>>,
    /// Activation.
    pub is_active: Option<bool>,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn not_found() -> Error {
    Error::new(ErrorCode::NotFound, "agent not found")
}

/// `permission_denied` unless the tenant has agents.
pub fn require_enabled(t: &Tenant) -> Result<()> {
    if t.agents_enabled() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::PermissionDenied,
            "service accounts (agents) are off for this tenant (policy `agents.enabled`)",
        ))
    }
}

/// Parses a PEM public key: an Ed25519 SubjectPublicKeyInfo, else `validation_error`. The raw
/// key and its `kid`.
pub fn parse_verify_key(field: &str, pem: &str) -> Result<([u8; 32], String)> {
    let not_ed25519 = || {
        invalid(format!(
            "{field}: not an Ed25519 public key (PEM, SubjectPublicKeyInfo)"
        ))
    };
    if pem.len() > 1024 {
        return Err(not_ed25519());
    }
    // The SDKs may send the PEM with escaped newlines or quoted.
    let text = pem
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .replace("\\n", "\n");
    let body = text
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|r| r.trim_end().strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or_else(not_ed25519)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der =
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(&b64).map_err(|_| not_ed25519())?;
    if der.len() != 44 || der[..12] != ED25519_SPKI_PREFIX {
        return Err(not_ed25519());
    }
    let raw: [u8; 32] = der[12..].try_into().map_err(|_| not_ed25519())?;
    // A key that is not a curve point never verifies anything: refuse it now.
    ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| not_ed25519())?;
    Ok((raw, hex_encode(&Sha256::digest(&der))))
}

fn decode(doc: crate::store::docs::Doc) -> Result<(Agent, i64)> {
    let v = doc.version;
    let a = serde_json::from_value(doc.body)
        .map_err(|e| Error::internal(format!("corrupt agent `{}`: {e}", doc.id)))?;
    Ok((a, v))
}

fn encode(a: &Agent) -> Result<serde_json::Value> {
    serde_json::to_value(a).map_err(|e| Error::internal(e.to_string()))
}

/// The agent `id` of the tenant, or `not_found`.
pub async fn get(ctx: &Ctx, t: &Tenant, id: &str) -> Result<(Agent, i64)> {
    if !id.starts_with(ID_PREFIX) || id.len() > 64 {
        return Err(not_found());
    }
    ctx.docs
        .get(AGENTS, t.id(), id)
        .await?
        .map(decode)
        .transpose()?
        .ok_or_else(not_found)
}

/// The agent of the tenant holding the key `kid`, if any.
pub async fn find_by_kid<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    kid: &str,
) -> Result<Option<Agent>> {
    let page = docs
        .query(
            AGENTS,
            tenant,
            &Query {
                conds: vec![Cond::Has("kids".into(), json!(kid))],
                sort: Sort::Newest,
                offset: 0,
                limit: 2,
            },
        )
        .await?;
    page.items
        .into_iter()
        .next()
        .map(|d| decode(d).map(|(a, _)| a))
        .transpose()
}

/// Adds public keys (PEM) to `agent`, refusing a key another agent of the tenant holds.
async fn add_keys(ctx: &Ctx, agent: &mut Agent, pems: &[String], now: i64) -> Result<()> {
    for (i, pem) in pems.iter().enumerate() {
        let (raw, kid) = parse_verify_key(&format!("verify_keys[{i}]"), pem)?;
        if agent.kids.contains(&kid) {
            return Err(Error::new(
                ErrorCode::Conflict,
                "the agent already holds this key",
            ));
        }
        if let Some(other) = find_by_kid(&ctx.docs, &agent.tenant_id, &kid).await? {
            if other.id != agent.id {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    "another agent of this tenant holds this key",
                ));
            }
        }
        agent.keys.push(AgentKey {
            kid: kid.clone(),
            public_key: b64url_encode(&raw),
            created_at: now,
        });
        agent.kids.push(kid);
    }
    if agent.keys.len() > MAX_KEYS {
        return Err(invalid(format!("an agent holds at most {MAX_KEYS} keys")));
    }
    Ok(())
}

async fn check_workspace(ctx: &Ctx, t: &Tenant, ws: &Option<String>) -> Result<()> {
    if let Some(ws) = ws {
        crate::identity::workspaces::check_id(ws)?;
        if ctx
            .docs
            .get(crate::store::collections::WORKSPACES, t.id(), ws)
            .await?
            .is_none()
        {
            return Err(invalid("workspace_id: no such workspace"));
        }
    }
    Ok(())
}

/// Creates an agent (its scopes within the caller's).
pub async fn create(
    ctx: &Ctx,
    t: &Tenant,
    created_by: &Principal,
    who: &ClientMeta,
    new: NewAgent,
) -> Result<(Agent, i64)> {
    require_enabled(t)?;
    let name = text("name", &new.name, 128)?;
    let description = new
        .description
        .as_deref()
        .map(|d| text("description", d, 1024))
        .transpose()?;
    check_scopes("scopes", &new.scopes)?;
    created_by.may_grant(&new.scopes)?;
    check_workspace(ctx, t, &new.workspace_id).await?;
    let now = ctx.now();
    let mut agent = Agent {
        id: format!("{ID_PREFIX}{}", usso_shared::random::hex_id()?),
        tenant_id: t.id().to_owned(),
        name,
        description,
        scopes: new.scopes,
        workspace_id: new.workspace_id,
        is_active: new.is_active.unwrap_or(true),
        keys: Vec::new(),
        kids: Vec::new(),
        created_by: Some(created_by.subject.clone()),
        created_at: now,
        updated_at: now,
    };
    add_keys(ctx, &mut agent, &new.verify_keys, now).await?;
    let doc = ctx
        .docs
        .insert(AGENTS, t.id(), &agent.id, encode(&agent)?)
        .await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::AgentCreated,
        who,
        json!({"agent_id": agent.id, "by": created_by.subject, "scopes": agent.scopes}),
    )
    .await;
    Ok((agent, doc.version))
}

/// The tenant's agents, newest first; with the total.
pub async fn list(
    ctx: &Ctx,
    t: &Tenant,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(Agent, i64)>, u64)> {
    require_enabled(t)?;
    let page = ctx
        .docs
        .query(
            AGENTS,
            t.id(),
            &Query {
                conds: Vec::new(),
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

async fn save(ctx: &Ctx, agent: &Agent, version: i64) -> Result<i64> {
    Ok(ctx
        .docs
        .replace(AGENTS, &agent.tenant_id, &agent.id, encode(agent)?, version)
        .await
        .map_err(lost_race("agent", version))?
        .version)
}

/// Changes an agent (optimistic concurrency with `if_match`).
pub async fn update(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
    change: AgentChange,
    if_match: Option<i64>,
) -> Result<(Agent, i64)> {
    require_enabled(t)?;
    let (mut agent, version) = get(ctx, t, id).await?;
    caller.may_grant(&agent.scopes)?;
    check_if_match("agent", if_match, version)?;
    if let Some(n) = change.name {
        agent.name = text("name", &n, 128)?;
    }
    if let Some(d) = change.description {
        agent.description = d
            .as_deref()
            .map(|d| text("description", d, 1024))
            .transpose()?;
    }
    if let Some(s) = change.scopes {
        check_scopes("scopes", &s)?;
        caller.may_grant(&s)?;
        agent.scopes = s;
    }
    if let Some(ws) = change.workspace_id {
        check_workspace(ctx, t, &ws).await?;
        agent.workspace_id = ws;
    }
    if let Some(a) = change.is_active {
        agent.is_active = a;
    }
    agent.updated_at = ctx.now();
    let version = save(ctx, &agent, version).await?;
    crate::sessions::api_keys::resync_of_agent(
        ctx,
        t.id(),
        &agent.id,
        agent.is_active,
        &agent.scopes,
    )
    .await?;
    audit_update(ctx, t, who, caller, &agent, "changed").await;
    Ok((agent, version))
}

async fn audit_update(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    caller: &Principal,
    a: &Agent,
    what: &str,
) {
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::AgentUpdated,
        who,
        json!({"agent_id": a.id, "by": caller.subject, "what": what}),
    )
    .await;
}

/// Adds a public key (rotation: add the new one, move the agent to it, remove the old one).
pub async fn add_key(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
    pem: &str,
) -> Result<(Agent, i64)> {
    require_enabled(t)?;
    let (mut agent, version) = get(ctx, t, id).await?;
    caller.may_grant(&agent.scopes)?;
    add_keys(ctx, &mut agent, &[pem.to_owned()], ctx.now()).await?;
    agent.updated_at = ctx.now();
    let version = save(ctx, &agent, version).await?;
    audit_update(ctx, t, who, caller, &agent, "key added").await;
    Ok((agent, version))
}

/// Removes a public key: JWTs it signed are refused from then on.
pub async fn remove_key(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
    kid: &str,
) -> Result<(Agent, i64)> {
    require_enabled(t)?;
    let (mut agent, version) = get(ctx, t, id).await?;
    caller.may_grant(&agent.scopes)?;
    if !agent.kids.iter().any(|k| k == kid) {
        return Err(Error::new(
            ErrorCode::NotFound,
            "the agent holds no such key",
        ));
    }
    agent.keys.retain(|k| k.kid != kid);
    agent.kids.retain(|k| k != kid);
    agent.updated_at = ctx.now();
    let version = save(ctx, &agent, version).await?;
    audit_update(ctx, t, who, caller, &agent, "key removed").await;
    Ok((agent, version))
}

/// Deletes an agent: its JWTs are refused from then on (tokens already issued live out their
/// short lifetime).
pub async fn delete(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
    who: &ClientMeta,
    id: &str,
) -> Result<()> {
    require_enabled(t)?;
    let (agent, _) = get(ctx, t, id).await?;
    caller.may_grant(&agent.scopes)?;
    ctx.docs.delete(AGENTS, t.id(), id).await?;
    crate::sessions::api_keys::resync_of_agent(ctx, t.id(), id, false, &[]).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::AgentDeleted,
        who,
        json!({"agent_id": id, "by": caller.subject}),
    )
    .await;
    Ok(())
}

// ---- registration ------------------------------------------------------------------------

/// What a registration key allows, as stored (under the key's hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Registration {
    /// `sub` of the person who made it.
    by: String,
    /// Their scopes then: the registered agent's scopes must be within them.
    scopes: Vec<String>,
    expires_at: i64,
}

fn registration_hot_key(tenant: &str, key: &str) -> String {
    format!(
        "usso:agent-reg:{tenant}:{}",
        hex_encode(&Sha256::digest(key.as_bytes()))
    )
}

/// Makes a one-time registration key for the caller (a person signed in): the key, shown
/// once, and its expiry.
pub async fn new_registration_key(
    ctx: &Ctx,
    t: &Tenant,
    caller: &Principal,
) -> Result<(String, i64)> {
    require_enabled(t)?;
    let now = ctx.now();
    let key = format!(
        "{REGISTRATION_PREFIX}{}",
        b64url_encode(&usso_shared::random::bytes::<32>()?)
    );
    let reg = Registration {
        by: caller.subject.clone(),
        scopes: caller.scopes.clone(),
        expires_at: now + REGISTRATION_TTL_SECS,
    };
    let text = serde_json::to_string(&reg).map_err(|e| Error::internal(e.to_string()))?;
    ctx.hot
        .put_expiring(
            &registration_hot_key(t.id(), &key),
            &text,
            REGISTRATION_TTL_SECS,
            now,
        )
        .await?;
    Ok((key, reg.expires_at))
}

/// What an agent sends to register itself.
#[derive(Debug, Clone)]
pub struct SelfRegistration {
    /// The one-time registration key.
    pub registration_key: String,
    /// Its name.
    pub name: String,
    /// Its scopes (within those of the person who made the key).
    pub scopes: Vec<String>,
    /// `ED25519` (the only one).
    pub alg: String,
    /// Its public key, PEM.
    pub verify_key: String,
    /// What it is for.
    pub description: Option<String>,
}

/// An agent registers itself: the registration key is consumed (once), the agent created.
pub async fn register(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    r: SelfRegistration,
) -> Result<(Agent, i64)> {
    require_enabled(t)?;
    if !r.alg.eq_ignore_ascii_case("ed25519") {
        return Err(invalid("alg: only ED25519 is supported"));
    }
    // Validate everything before consuming the key: a typo does not burn it.
    text("name", &r.name, 128)?;
    check_scopes("scopes", &r.scopes)?;
    parse_verify_key("verify_key", &r.verify_key)?;
    let refused = || {
        Error::new(
            ErrorCode::InvalidCredentials,
            "invalid, used or expired registration key",
        )
    };
    if !r.registration_key.starts_with(REGISTRATION_PREFIX) || r.registration_key.len() != 51 {
        return Err(refused());
    }
    let now = ctx.now();
    let hk = registration_hot_key(t.id(), &r.registration_key);
    let text = ctx.hot.get_live(&hk, now).await?.ok_or_else(refused)?;
    let reg: Registration = serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("corrupt registration key: {e}")))?;
    let (uses, _) = ctx
        .hot
        .hit(&format!("{hk}:used"), (reg.expires_at - now).max(1), now)
        .await?;
    ctx.hot.remove(&hk).await?;
    if uses != 1 || reg.expires_at <= now {
        return Err(refused());
    }
    let maker = Principal {
        tenant_id: t.id().to_owned(),
        user_id: None,
        subject: reg.by,
        scopes: reg.scopes,
        session_id: None,
        api_key_id: None,
    };
    create(
        ctx,
        t,
        &maker,
        who,
        NewAgent {
            name: r.name,
            description: r.description,
            scopes: r.scopes,
            workspace_id: None,
            verify_keys: vec![r.verify_key],
            is_active: Some(true),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn only_ed25519_spki_keys_are_accepted() {
        let (raw, kid) = parse_verify_key("k", PEM).unwrap();
        assert_eq!(kid.len(), 64);
        let key = AgentKey {
            kid: kid.clone(),
            public_key: b64url_encode(&raw),
            created_at: 0,
        };
        assert_eq!(
            parse_verify_key("k", &key.pem()).unwrap().1,
            kid,
            "round trip"
        );
        assert_eq!(
            parse_verify_key("k", &PEM.replace('\n', "\\n")).unwrap().1,
            kid,
            "escaped"
        );
        // A P-256 key, garbage, a private key header: refused.
        let p256 = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\nq9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n-----END PUBLIC KEY-----";
        for bad in [
            p256,
            "x",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----",
        ] {
            assert_eq!(
                parse_verify_key("k", bad).unwrap_err().code(),
                ErrorCode::ValidationError
            );
        }
    }
}
