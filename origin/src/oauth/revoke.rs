//! Token revocation (RFC 7009). A client revokes what was issued to it: a refresh token or an
//! access token of one of its sessions ends that session (every token of it stops working at
//! the next strict check or refresh). An invalid or foreign token is answered like a revoked
//! one (200), so the endpoint says nothing about tokens the client does not hold.

use serde_json::json;
use usso_edge::store::HotStore;
use usso_shared::claims::{AccessClaims, RefreshClaims};
use usso_shared::Result;

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::tenants::TenantCtx;

use super::clients::Client;

/// Revokes `token` if it is `client`'s.
pub async fn revoke(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    token: &str,
) -> Result<()> {
    let session = if let Ok(v) = ctx.core.verify::<RefreshClaims>(&tc.state, token).await {
        let c = v.into_claims();
        (c.client_id.as_deref() == Some(client.client_id.as_str())).then_some(c.session_id)
    } else if let Ok(v) = ctx.core.verify::<AccessClaims>(&tc.state, token).await {
        let c = v.into_claims();
        if c.client_id.as_deref() == Some(client.client_id.as_str()) {
            c.session_id
        } else {
            None
        }
    } else {
        None
    };
    if let Some(sid) = session {
        let t = tc.tenant.id();
        if ctx
            .hot
            .revoke(t, &sid, "oauth_revoked", ctx.now())
            .await?
            .is_some()
        {
            crate::audit::client(
                ctx,
                t,
                AuditEvent::OauthTokenRevoked,
                who,
                json!({"client_id": client.client_id, "session_id": sid}),
            )
            .await;
        }
    }
    Ok(())
}
