//! `grant_type=authorization_code`: a code taken once, checked against its client, redirect URI
//! and PKCE verifier, becomes a session of the client's own (its grant narrowed to the scopes
//! granted) with an access token, a refresh token when `offline_access` was granted, and an
//! ID token when `openid` was.

use serde_json::json;
use usso_edge::issue;
use usso_edge::store::HotStore;
use usso_shared::{Error, ErrorCode, Result};

use super::TokenResponse;
use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::identity::users;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::code::{self, invalid_grant, Taken};
use crate::oauth::id_token::{self, IdToken};
use crate::oauth::scopes::{OFFLINE_ACCESS, OPENID};
use crate::store::hot::SessionIndex;
use crate::tenants::TenantCtx;

/// Redeems a code.
pub async fn redeem(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    presented: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
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
    let Some((user, _)) = users::get(&ctx.docs, t, &grant.user_id).await? else {
        return Err(invalid_grant("the account is gone"));
    };
    if !user.is_active || user.is_deleted() {
        return Err(invalid_grant("the account is deactivated"));
    }
    // The person's grant, narrowed to what they consented to give this client.
    let role_scopes = crate::identity::roles::scopes_of(&ctx.docs, t, &user.roles).await?;
    let acr = grant.acr.clone().unwrap_or_default();
    let mut g = user.grant(grant.amr.clone(), &acr, role_scopes);
    // The permission scopes granted, as far as the person still holds them (a wildcard of
    // theirs covers a narrower scope granted; a role taken away since drops it).
    let held = std::mem::take(&mut g.scopes);
    g.scopes = crate::oauth::scopes::ScopeSet(grant.scope.clone())
        .permissions()
        .into_iter()
        .filter(|s| usso_shared::scope::all_within(std::slice::from_ref(s), &held))
        .collect();
    g.roles.clear();
    let has = |s: &str| grant.scope.iter().any(|x| x == s);
    if !has("email") {
        g.email = None;
    }
    if !has("phone") {
        g.phone = None;
    }
    if !has("profile") {
        g.username = None;
        g.user_name = None;
    }
    g.client_id = Some(client.client_id.clone());
    g.scope = Some(grant.scope.join(" "));
    let signer = tc.state.ring.signer()?;
    let (mut record, pair) = issue::start_session(&tc.state.config, signer, g, now)?;
    record.ip = Some(who.ip.clone());
    record.user_agent = who.user_agent.clone();
    ctx.hot.put_session(&record).await?;
    code::remember_session(&ctx.hot, t, presented, &record.session_id, now).await?;
    let id_token = if has(OPENID) {
        Some(
            id_token::sign(
                &ctx.docs,
                tc,
                IdToken {
                    user: &user,
                    client_id: &client.client_id,
                    scopes: &grant.scope,
                    nonce: grant.nonce.clone(),
                    auth_time: grant.auth_time,
                    amr: grant.amr.clone(),
                    acr: grant.acr.clone(),
                    access_token: &pair.access_token,
                },
                now,
            )
            .await?,
        )
    } else {
        None
    };
    let offline = has(OFFLINE_ACCESS) && client.allows(GrantType::RefreshToken);
    crate::audit::client(
        ctx,
        t,
        AuditEvent::OauthTokenIssued,
        who,
        json!({"grant_type": "authorization_code", "client_id": client.client_id,
               "user_id": user.id, "session_id": record.session_id, "scope": grant.scope}),
    )
    .await;
    Ok(TokenResponse {
        access_token: pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: offline.then_some(pair.refresh_token),
        id_token,
        scope: grant.scope.join(" "),
    })
}
