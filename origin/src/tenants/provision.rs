//! Creating, changing and deleting tenants: the one implementation behind the CLI
//! (`usso-origin tenant …`) and `/tenants` over HTTP.
//!
//! Invariants and the attacks they prevent:
//! - a tenant is usable only once it exists with its first signing key, its `admin` role and
//!   its published policy; every step is idempotent, so a crash in between is repaired by
//!   running the same command again;
//! - a tenant's own administrator changes only its policy, never what the operator decides
//!   (whether it is active, its domains and issuer), so it cannot take over another tenant's
//!   domain or resurrect a tenant the operator switched off;
//! - a domain is published for one tenant only: taking one that another tenant serves is a
//!   conflict, and a domain a tenant gives up stops resolving to it at once;
//! - deleting a tenant first switches it off everywhere (the edges answer
//!   `tenant_not_found`), then removes its documents, its record last, so a crash midway
//!   leaves an inactive tenant that a second deletion finishes; the system tenant cannot be
//!   deleted, nor switched off over HTTP (only the operator on the machine can).

use serde_json::{json, Value};
use usso_edge::store::key;
use usso_shared::{Error, ErrorCode, Result};

use crate::store::collections::{self, TENANTS};
use crate::store::docs::{DocumentStore, Query, Sort};
use crate::store::hot::Publish;
use crate::store::Stores;
use crate::tenants::{self, Activation, Tenant, DEFAULT_TENANT};

/// What an operator gives to create a tenant.
#[derive(Debug, Clone, Default)]
pub struct NewTenant {
    /// 1–64 of `[A-Za-z0-9_-]`.
    pub id: String,
    /// Display name (the id when absent).
    pub name: Option<String>,
    /// Host names the tenant answers on.
    pub domains: Vec<String>,
    /// Token issuer (`https://<first domain>` when absent).
    pub issuer: Option<String>,
    /// Put an `aud` claim in tokens (default true; the Rust SDK 0.4 refuses any).
    pub audience: Option<bool>,
    /// The activation rule.
    pub activation: Activation,
    /// Allow self-registration (default true).
    pub registration_enabled: Option<bool>,
    /// Require a second factor after a password.
    pub require_mfa: bool,
    /// Allowed redirect origins.
    pub allowed_redirects: Vec<String>,
    /// Routes that need a solved captcha.
    pub captcha: Vec<String>,
}

/// Token lifetimes a new tenant starts with (the server's configured defaults).
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Access tokens, seconds.
    pub access: i64,
    /// Refresh tokens, seconds.
    pub refresh: i64,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

/// Checks and normalises host names.
pub fn check_domains(domains: &[String]) -> Result<Vec<String>> {
    if domains.len() > 20 {
        return Err(invalid("domains: at most 20"));
    }
    let mut out: Vec<String> = Vec::new();
    for d in domains {
        let host = usso_edge::tenant::host_name(d)
            .ok_or_else(|| invalid(format!("domains: `{d}` is not a host name")))?;
        if !out.contains(&host) {
            out.push(host);
        }
    }
    Ok(out)
}

/// The tenant `new` describes (checked; nothing written).
pub fn build(new: NewTenant, life: Lifetimes, now: i64) -> Result<Tenant> {
    tenants::valid_tenant_id(&new.id)?;
    let domains = check_domains(&new.domains)?;
    let issuer = match new.issuer {
        Some(i) => {
            if !(i.starts_with("https://") || i.starts_with("http://")) || i.len() > 256 {
                return Err(invalid("issuer: an http(s) URL of at most 256 characters"));
            }
            i
        }
        None => domains
            .first()
            .map(|d| format!("https://{d}"))
            .ok_or_else(|| invalid("give an issuer or at least one domain"))?,
    };
    let mut t = Tenant::new(
        &new.id,
        new.name.as_deref().unwrap_or(&new.id),
        &issuer,
        life.access,
        life.refresh,
        now,
    );
    t.tokens.domains = domains;
    if new.audience == Some(false) {
        t.tokens.audience = None;
    }
    if let Some(r) = new.registration_enabled {
        t.registration_enabled = r;
    }
    t.activation = new.activation;
    t.require_mfa = new.require_mfa;
    t.allowed_redirects = new.allowed_redirects;
    t.captcha = new.captcha;
    t.validate()?;
    Ok(t)
}

/// The tenant that serves `domain`, if any (from the published index).
async fn owner_of(stores: &Stores, domain: &str) -> Result<Option<String>> {
    use usso_edge::store::HotStore;
    Ok(stores
        .hot
        .get_many(&[key::domain(domain)])
        .await?
        .pop()
        .flatten()
        .filter(|t| !t.is_empty()))
}

async fn check_domains_free(stores: &Stores, t: &Tenant) -> Result<()> {
    for d in &t.tokens.domains {
        if let Some(other) = owner_of(stores, d).await? {
            if other != t.id() {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    format!("the domain `{d}` is served by another tenant"),
                ));
            }
        }
    }
    Ok(())
}

/// Creates `t` with its first signing key and `admin` role and publishes it; `conflict` when
/// the id or one of its domains is taken.
pub async fn provision(stores: &Stores, t: &Tenant, now: i64) -> Result<()> {
    check_domains_free(stores, t).await?;
    tenants::create(&stores.docs, &stores.master, t, now).await?;
    crate::identity::roles::seed(&stores.docs, t.id(), now).await?;
    tenants::publish(stores, t, now).await
}

/// Who is changing a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changer {
    /// The operator on the origin's machine (CLI): anything, including switching the system
    /// tenant off (and on again).
    Operator,
    /// The system administrator over HTTP: any policy field, `is_active` and `domains`, but
    /// not switching off the system tenant its own access depends on.
    SystemAdmin,
    /// The tenant's own administrator: its policy only.
    TenantAdmin,
}

/// Fields only the operator changes.
pub const OPERATOR_ONLY: [&str; 2] = ["is_active", "domains"];

/// Applies `changes` (a JSON object) to tenant `id` and publishes the result; domains given up
/// stop resolving to it.
pub async fn change(
    stores: &Stores,
    id: &str,
    changes: &Value,
    by: Changer,
    now: i64,
) -> Result<Tenant> {
    let mut changes = changes
        .as_object()
        .cloned()
        .ok_or_else(|| invalid("the changes must be a JSON object"))?;
    if by == Changer::TenantAdmin {
        if let Some(k) = changes.keys().find(|k| OPERATOR_ONLY.contains(&k.as_str())) {
            return Err(Error::new(
                ErrorCode::PermissionDenied,
                format!("`{k}` is changed by the system administrator only"),
            ));
        }
    }
    if by == Changer::SystemAdmin
        && id == DEFAULT_TENANT
        && changes.get("is_active") == Some(&json!(false))
    {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the system tenant cannot be switched off",
        ));
    }
    let before = tenants::load(&stores.docs, id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no tenant `{id}`")))?;
    let new_domains = match changes.remove("domains") {
        Some(v) => {
            let list: Vec<String> =
                serde_json::from_value(v).map_err(|_| invalid("domains: a list of host names"))?;
            Some(check_domains(&list)?)
        }
        None => None,
    };
    let mut t = if changes.is_empty() {
        before.clone()
    } else {
        tenants::update(&stores.docs, id, &Value::Object(changes)).await?
    };
    if let Some(domains) = new_domains {
        let mut candidate = t.clone();
        candidate.tokens.domains = domains;
        check_domains_free(stores, &candidate).await?;
        t = tenants::set_domains(&stores.docs, id, &candidate.tokens.domains).await?;
    }
    tenants::publish(stores, &t, now).await?;
    if before.agents_enabled() && !t.agents_enabled() {
        crate::sessions::api_keys::unpublish_agent_keys(&stores.docs, &stores.hot, id).await?;
    }
    for gone in before
        .tokens
        .domains
        .iter()
        .filter(|d| !t.tokens.domains.contains(d))
    {
        if owner_of(stores, gone).await?.as_deref() == Some(id) {
            stores.hot.unset(&key::domain(gone)).await?;
        }
    }
    Ok(t)
}

/// Deletes tenant `id` and everything it holds (see the module docs for the order).
pub async fn remove(stores: &Stores, id: &str) -> Result<u64> {
    if id == DEFAULT_TENANT {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the system tenant cannot be deleted",
        ));
    }
    let t = tenants::load(&stores.docs, id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no tenant `{id}`")))?;
    // Off everywhere first: the published policy says inactive, then goes.
    let mut off = t.clone();
    off.tokens.is_active = false;
    stores
        .hot
        .set(
            &key::tenant(id),
            &serde_json::to_string(&off.tokens).map_err(|e| Error::internal(e.to_string()))?,
        )
        .await?;
    let mut removed = 0;
    for coll in collections::ALL.iter().filter(|c| **c != TENANTS) {
        loop {
            let page = stores
                .docs
                .query(
                    coll,
                    id,
                    &Query {
                        conds: vec![],
                        sort: Sort::Newest,
                        offset: 0,
                        limit: 500,
                    },
                )
                .await?;
            if page.items.is_empty() {
                break;
            }
            for d in page.items {
                if stores.docs.delete(coll, id, &d.id).await? {
                    removed += 1;
                }
            }
        }
    }
    for d in &t.tokens.domains {
        if owner_of(stores, d).await?.as_deref() == Some(id) {
            stores.hot.unset(&key::domain(d)).await?;
        }
    }
    stores.hot.unset(&key::keys(id)).await?;
    stores.hot.unset(&key::tenant(id)).await?;
    stores.docs.delete(TENANTS, id, id).await?;
    Ok(removed + 1)
}

/// The tenant as administrators read it (`id` beside `tenant_id`): its policy, never an SMTP
/// password.
pub fn view(t: &Tenant) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    v["id"] = json!(t.id());
    if let Some(smtp) = v.get_mut("smtp").and_then(Value::as_object_mut) {
        smtp.remove("sealed_password");
        if let Some(settings) = smtp.get_mut("settings").and_then(Value::as_object_mut) {
            settings.remove("password");
        }
    }
    v
}
