//! `grant_type=refresh_token`: the session's rotation, exactly as at `/auth/refresh` (the edge
//! core's one atomic step, its family rules and grace window; a reused token revokes the
//! session), for the client the token was issued to and nobody else.

use serde_json::json;
use usso_edge::store::HotStore;
use usso_shared::claims::RefreshClaims;
use usso_shared::{Error, ErrorCode, Result};

use super::TokenResponse;
use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::code::invalid_grant;
use crate::oauth::scopes::ScopeSet;
use crate::tenants::TenantCtx;

/// Rotates a client's refresh token.
pub async fn rotate(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    presented: &str,
    scope: Option<&str>,
    jkt: Option<&str>,
) -> Result<TokenResponse> {
    if !client.allows(GrantType::RefreshToken) {
        return Err(Error::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use refresh tokens",
        ));
    }
    let verified = ctx
        .core
        .verify::<RefreshClaims>(&tc.state, presented)
        .await
        .map_err(|e| invalid_grant(e.detail()))?;
    let claims = verified.claims();
    if claims.client_id.as_deref() != Some(client.client_id.as_str()) {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    // A session bound to a DPoP key refreshes only with a proof made with that key
    // (RFC 9449 §5: public clients' refresh tokens are bound; confidential ones' too, here).
    let record = ctx.hot.session(tc.tenant.id(), &claims.session_id).await?;
    if let Some(bound) = record.as_ref().and_then(|r| r.grant.cnf_jkt.as_deref()) {
        match jkt {
            Some(k) if k == bound => {}
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::InvalidDpopProof,
                    "the DPoP proof is made with another key than the session's",
                ))
            }
            None => {
                return Err(Error::new(
                    ErrorCode::InvalidDpopProof,
                    "this refresh token is bound to a DPoP key: send a proof",
                ))
            }
        }
    }
    let (rotated, happened) = ctx.core.rotate(&tc.state, claims).await?;
    crate::http::tokens::audit_happened(ctx, who, happened).await;
    let (pair, record) = rotated.map_err(|e| Error::new(ErrorCode::InvalidGrant, e.detail()))?;
    let granted = record.grant.scope.clone().unwrap_or_default();
    if let Some(s) = scope {
        let asked = ScopeSet::parse(Some(s))?;
        let had: Vec<String> = granted.split(' ').map(str::to_owned).collect();
        if !asked.is_subset_of(&had) {
            return Err(Error::new(
                ErrorCode::InvalidScope,
                "a refresh cannot widen the scope",
            ));
        }
    }
    crate::audit::client(
        ctx,
        tc.tenant.id(),
        AuditEvent::OauthTokenIssued,
        who,
        json!({"grant_type": "refresh_token", "client_id": client.client_id,
               "session_id": record.session_id}),
    )
    .await;
    Ok(TokenResponse {
        access_token: pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: Some(pair.refresh_token),
        id_token: None,
        scope: granted,
    })
}
