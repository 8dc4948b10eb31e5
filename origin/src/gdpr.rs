//! The data-protection duties, on any document store and hot store: export everything a tenant
//! holds, and erase one user.

use serde_json::{json, Value};
use usso_shared::Result;

use crate::identity::identifier::IdentifierKind;
use crate::identity::users::{self, User, IDENTIFIERS, USERS};
use crate::store::collections::{AUDIT, INVITATIONS, ROLES, WORKSPACES};
use crate::store::docs::{DocumentStore, TENANTS};
use crate::store::hot::OriginHot;

/// Collections exported, in order. The sealed private keys (`keys`) are left out on purpose:
/// they are secrets of the service, not data about anyone; `usso-origin key list` shows the
/// public part.
pub const EXPORTED: [&str; 7] = [
    TENANTS,
    ROLES,
    WORKSPACES,
    USERS,
    IDENTIFIERS,
    INVITATIONS,
    AUDIT,
];

const PAGE: u64 = 500;

/// Every document of `tenant` in `coll`, oldest write last (the store's own order), page by page.
async fn each_doc<D: DocumentStore>(
    docs: &D,
    coll: &str,
    tenant: &str,
    mut f: impl FnMut(crate::store::docs::Doc) -> Result<()>,
) -> Result<u64> {
    let mut offset = 0;
    loop {
        let page = docs.find(coll, tenant, &[], offset, PAGE).await?;
        let n = page.items.len() as u64;
        for d in page.items {
            f(d)?;
        }
        if n < PAGE {
            return Ok(offset + n);
        }
        offset += n;
    }
}

/// Writes every document of `tenant` as JSON lines (`{"collection","id","version","body"}`) to
/// `out`; password hashes are replaced by `"<redacted>"`. Returns the number of documents.
pub async fn export_tenant<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    out: &mut impl std::io::Write,
) -> Result<u64> {
    let mut total = 0;
    for coll in EXPORTED {
        total += each_doc(docs, coll, tenant, |d| {
            let mut body = d.body;
            if coll == USERS && body.get("password_hash").is_some_and(|h| !h.is_null()) {
                body["password_hash"] = json!("<redacted>");
            }
            let line = json!({"collection": coll, "id": d.id, "version": d.version, "body": body});
            writeln!(out, "{line}").map_err(|e| usso_shared::Error::internal(e.to_string()))
        })
        .await?;
    }
    Ok(total)
}

/// What an erasure removed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Erased {
    /// The erased user's id.
    pub user_id: String,
    /// Identifier documents deleted.
    pub identifiers: u64,
    /// Sessions revoked.
    pub sessions: u64,
    /// Audit entries stripped of personal data.
    pub audit_entries: u64,
    /// API keys revoked and deleted.
    pub api_keys: u64,
}

/// Erases `user`: revokes their sessions, deletes their identifiers and account, and strips
/// the audit entries that name them (the event and its time stay; address, user agent and
/// details go).
pub async fn erase_user<D: DocumentStore, H: OriginHot>(
    docs: &D,
    hot: &H,
    user: &User,
    now: i64,
) -> Result<Erased> {
    let mut erased = Erased {
        user_id: user.id.clone(),
        ..Erased::default()
    };
    erased.sessions =
        crate::store::hot::revoke_all(hot, &user.tenant_id, &user.subject(), "user_erased", now)
            .await?;
    erased.api_keys =
        crate::sessions::api_keys::erase_of(docs, hot, &user.tenant_id, &user.id).await?;
    // Every identifier document of the account (an account may hold several of a kind), and
    // the primary ones named on the account in case an index document is missing.
    let mut idents: Vec<String> = users::identifiers_of(docs, &user.tenant_id, &user.id)
        .await?
        .iter()
        .map(|i| i.identifier().key())
        .collect();
    for (kind, v) in [
        (IdentifierKind::Email, &user.email),
        (IdentifierKind::Phone, &user.phone),
        (IdentifierKind::Username, &user.username),
    ] {
        if let Some(v) = v {
            let key = format!("{}:{v}", kind.as_str());
            if !idents.contains(&key) {
                idents.push(key);
            }
        }
    }
    for key in &idents {
        // Only the account's own index documents (never another account's).
        let owned = docs
            .get(IDENTIFIERS, &user.tenant_id, key)
            .await?
            .is_some_and(|d| d.body["user_id"].as_str() == Some(user.id.as_str()));
        if owned && docs.delete(IDENTIFIERS, &user.tenant_id, key).await? {
            erased.identifiers += 1;
        }
    }
    users::delete(docs, user).await?;
    let mut named = Vec::new();
    each_doc(docs, AUDIT, &user.tenant_id, |d| {
        let detail = &d.body["detail"];
        let names_user = detail["user_id"].as_str() == Some(user.id.as_str())
            || detail["identifier"]
                .as_str()
                .is_some_and(|i| idents.iter().any(|k| k == i));
        if names_user {
            named.push(d);
        }
        Ok(())
    })
    .await?;
    for d in named {
        let stripped = json!({
            "event": d.body["event"],
            "tenant_id": d.body["tenant_id"],
            "at": d.body["at"],
            "ip": Value::Null,
            "user_agent": Value::Null,
            "detail": {"erased": true},
        });
        docs.replace(AUDIT, &user.tenant_id, &d.id, stripped, d.version)
            .await?;
        erased.audit_entries += 1;
    }
    Ok(erased)
}
