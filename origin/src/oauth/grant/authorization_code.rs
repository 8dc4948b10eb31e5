//! `grant_type=authorization_code`: a code taken once, checked against its client, redirect URI
//! and PKCE verifier, becomes the person's tokens for the client ([`super::person_tokens`]).

use serde_json::json;
use usso_edge::store::HotStore;
use usso_shared::{Error, ErrorCode, Result};

use super::TokenResponse;
use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::code::{self, invalid_grant, Taken};
use crate::tenants::TenantCtx;

/// Redeems a code.
#[allow(clippy::too_many_arguments)]
pub async fn redeem(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    presented: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    jkt: Option<String>,
    resource: Option<&str>,
) -> Result<TokenResponse> {
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(Error::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        ));
    }
    let t = tc.tenant.id();
    let now = ctx.now();
    let grant = match code::take(&ctx.hot, t, presented, now).await? {
        Taken::Fresh(g) => g,
        Taken::Replayed(session) => {
            if let Some(sid) = session {
                ctx.hot.revoke(t, &sid, "code_replayed", now).await?;
            }
            crate::audit::client(
                ctx,
                t,
                AuditEvent::OauthCodeReplayed,
                who,
                json!({"client_id": client.client_id}),
            )
            .await;
            return Err(invalid_grant(
                "the code was used already; what it issued is revoked",
            ));
        }
        Taken::Unknown => return Err(invalid_grant("unknown or expired code")),
    };
    if grant.client_id != client.client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if redirect_uri != Some(grant.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&grant.code_challenge, verifier) {
        (Some(ch), Some(v)) if code::pkce_matches(ch, v) => {}
        (Some(_), Some(_)) => return Err(invalid_grant("the PKCE verifier does not match")),
        (Some(_), None) => return Err(invalid_grant("code_verifier is missing")),
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier sent for a code issued without a challenge",
            ))
        }
        (None, None) => {}
    }
    // RFC 8707 §2.2: a resource named here must be the one the code was issued for.
    let asked = crate::oauth::resource::resolve(tc, resource)?;
    if resource.is_some() && asked != grant.resource {
        return Err(Error::new(
            ErrorCode::InvalidTarget,
            "resource differs from the authorization request's",
        ));
    }
    let issued = super::person_tokens(
        ctx,
        tc,
        who,
        client,
        super::ForPerson {
            user_id: &grant.user_id,
            scope: &grant.scope,
            nonce: grant.nonce.clone(),
            auth_time: grant.auth_time,
            amr: grant.amr.clone(),
            acr: grant.acr.clone(),
            grant_type: "authorization_code",
            jkt,
            resource: grant.resource.clone(),
        },
    )
    .await?;
    code::remember_session(&ctx.hot, t, presented, &issued.1, now).await?;
    Ok(issued.0)
}
