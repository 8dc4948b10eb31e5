//! Consents: which scopes a person let a client have. Remembered per (person, client) as the
//! union of what they approved, so the consent page is shown again only when a client asks for
//! more; taken back by the person, which also ends the client's sessions of theirs (what the
//! client holds stops working at the next check or refresh).
//!
//! Invariant: a code is issued without the page only if every scope it carries is covered by a
//! stored consent, or the client is first-party (`skip_consent`, set by an administrator).

use serde::{Deserialize, Serialize};
use serde_json::json;
use usso_edge::store::HotStore;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::store::collections::OAUTH_CONSENTS;
use crate::store::docs::{Cond, DocumentStore, Query, Sort};
use crate::store::hot::SessionIndex;

/// One remembered consent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Consent {
    /// The person.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// The client's name when consent was given.
    #[serde(default)]
    pub client_name: String,
    /// The scopes approved.
    pub scopes: Vec<String>,
    /// When (unix seconds) it was last given.
    pub granted_at: i64,
}

fn id(user_id: &str, client_id: &str) -> String {
    format!("{user_id}:{client_id}")
}

/// The consent of `user_id` to `client_id`, if any.
pub async fn get<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    user_id: &str,
    client_id: &str,
) -> Result<Option<Consent>> {
    match docs
        .get(OAUTH_CONSENTS, tenant, &id(user_id, client_id))
        .await?
    {
        Some(d) => {
            Ok(Some(serde_json::from_value(d.body).map_err(|e| {
                Error::internal(format!("corrupt consent: {e}"))
            })?))
        }
        None => Ok(None),
    }
}

/// Whether a stored consent covers every one of `scopes`.
pub async fn covers<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    user_id: &str,
    client_id: &str,
    scopes: &[String],
) -> Result<bool> {
    Ok(get(docs, tenant, user_id, client_id)
        .await?
        .is_some_and(|c| scopes.iter().all(|s| c.scopes.contains(s))))
}

/// Records that the person approved `scopes` for the client (added to what they approved
/// before).
pub async fn remember(
    ctx: &Ctx,
    tenant: &str,
    who: &ClientMeta,
    user_id: &str,
    client: &super::clients::Client,
    scopes: &[String],
) -> Result<()> {
    let mut all = get(&ctx.docs, tenant, user_id, &client.client_id)
        .await?
        .map(|c| c.scopes)
        .unwrap_or_default();
    for s in scopes {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    let consent = Consent {
        user_id: user_id.to_owned(),
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        scopes: all,
        granted_at: ctx.now(),
    };
    let body = serde_json::to_value(&consent).map_err(|e| Error::internal(e.to_string()))?;
    ctx.docs
        .upsert(
            OAUTH_CONSENTS,
            tenant,
            &id(user_id, &client.client_id),
            body,
        )
        .await?;
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::OauthConsentGranted,
        who,
        json!({"user_id": user_id, "client_id": client.client_id, "scopes": scopes}),
    )
    .await;
    Ok(())
}

/// The person's consents, newest first.
pub async fn list_of<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    user_id: &str,
) -> Result<Vec<Consent>> {
    let page = docs
        .query(
            OAUTH_CONSENTS,
            tenant,
            &Query {
                conds: vec![Cond::Eq("user_id".into(), json!(user_id))],
                sort: Sort::Newest,
                offset: 0,
                limit: 1000,
            },
        )
        .await?;
    page.items
        .into_iter()
        .map(|d| {
            serde_json::from_value(d.body)
                .map_err(|e| Error::internal(format!("corrupt consent: {e}")))
        })
        .collect()
}

/// Takes back the person's consent to a client and ends that client's sessions of theirs.
pub async fn revoke(
    ctx: &Ctx,
    tenant: &str,
    who: &ClientMeta,
    user_id: &str,
    client_id: &str,
) -> Result<()> {
    if !ctx
        .docs
        .delete(OAUTH_CONSENTS, tenant, &id(user_id, client_id))
        .await?
    {
        return Err(Error::new(ErrorCode::NotFound, "no consent to this client"));
    }
    let subject = format!("user:{user_id}");
    let now = ctx.now();
    for s in ctx.hot.sessions_of(tenant, &subject).await? {
        if s.grant.client_id.as_deref() == Some(client_id) && s.revoked_at.is_none() {
            ctx.hot
                .revoke(tenant, &s.session_id, "consent_revoked", now)
                .await?;
        }
    }
    crate::audit::client(
        ctx,
        tenant,
        AuditEvent::OauthConsentRevoked,
        who,
        json!({"user_id": user_id, "client_id": client_id}),
    )
    .await;
    Ok(())
}
