//! `grant_type=client_credentials`: a confidential client acting for itself. Its token's `sub`
//! is the client id (RFC 9068 §2.2), its `scopes` the permission scopes asked for (default: all
//! the client was given, which never exceed its registrar's), no refresh token, no session: it
//! lives its lifetime, like an agent's.

use serde_json::json;
use usso_edge::issue;
use usso_shared::claims::Grant;
use usso_shared::{Error, ErrorCode, Result};

use super::TokenResponse;
use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::scopes::{ScopeSet, IDENTITY_SCOPES};
use crate::tenants::TenantCtx;

/// Issues a client's own access token.
pub async fn issue(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    scope: Option<&str>,
    jkt: Option<String>,
    resource: Option<String>,
) -> Result<TokenResponse> {
    if client.is_public() || !client.allows(GrantType::ClientCredentials) {
        return Err(Error::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the client credentials grant",
        ));
    }
    let asked = ScopeSet::parse(scope)?;
    if let Some(s) = asked
        .0
        .iter()
        .find(|s| IDENTITY_SCOPES.contains(&s.as_str()))
    {
        return Err(Error::new(
            ErrorCode::InvalidScope,
            format!("`{s}` concerns a person; a client acting for itself has none"),
        ));
    }
    asked.within_client(&client.scopes)?;
    let scopes = if asked.0.is_empty() {
        ScopeSet(client.scopes.clone()).permissions()
    } else {
        asked.0
    };
    let grant = Grant {
        sub: client.client_id.clone(),
        scopes: scopes.clone(),
        client_id: Some(client.client_id.clone()),
        scope: Some(scopes.join(" ")),
        cnf_jkt: jkt,
        resource,
        ..Default::default()
    };
    let cfg = &tc.state.config;
    let now = ctx.now();
    let access_token = issue::sign_service_access(cfg, tc.state.ring.signer()?, &grant, now)?;
    // Counted (1st, 10th, 100th… per hour and client): a machine may ask at will.
    crate::audit::counted(
        ctx,
        tc.tenant.id(),
        AuditEvent::OauthTokenIssued,
        who,
        &format!("oauth-cc:{}", client.client_id),
        3600,
        json!({"grant_type": "client_credentials", "client_id": client.client_id, "scope": scopes}),
    )
    .await;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: cfg.access_ttl_secs,
        refresh_token: None,
        id_token: None,
        scope: scopes.join(" "),
    })
}
