//! Token introspection (RFC 7662) for confidential clients (resource servers register as
//! clients). An access token is active while its signature, times and session hold; a refresh
//! token only for the client it was issued to, while its session lives. Everything else is
//! `{"active": false}`, with nothing said about why.

use serde_json::{json, Value};
use usso_shared::claims::{AccessClaims, RefreshClaims};
use usso_shared::{Error, ErrorCode, Result};

use usso_edge::store::HotStore;

use crate::app::Ctx;
use crate::tenants::TenantCtx;

use super::clients::Client;

/// An access token for the tenant's own audience, or for one of its resource servers
/// (RFC 8707: the `aud` read from the unverified token only chooses which rules apply).
async fn verify_access(
    ctx: &Ctx,
    tc: &TenantCtx,
    token: &str,
) -> Result<usso_shared::token::Verified<AccessClaims>> {
    match ctx.core.verify::<AccessClaims>(&tc.state, token).await {
        Ok(v) => Ok(v),
        Err(e) => {
            let aud = token
                .split('.')
                .nth(1)
                .and_then(usso_shared::encoding::b64url_decode)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v.get("aud").and_then(Value::as_str).map(str::to_owned));
            let Some(aud) = aud.filter(|a| tc.tenant.oauth.resources.contains(a)) else {
                return Err(e);
            };
            let cfg = &tc.state.config;
            let rules = usso_shared::token::Validation::new(
                cfg.issuer.clone(),
                Some(aud),
                cfg.tenant_id.clone(),
            )
            .with_leeway(cfg.leeway_secs);
            usso_shared::token::UnverifiedToken::parse(token)?.verify(
                &tc.state.ring,
                &rules,
                ctx.now(),
            )
        }
    }
}

/// What introspecting `token` says to `client`.
pub async fn introspect(
    ctx: &Ctx,
    tc: &TenantCtx,
    client: &Client,
    token: &str,
    hint: Option<&str>,
) -> Result<Value> {
    if client.is_public() {
        return Err(Error::new(
            ErrorCode::UnauthorizedClient,
            "introspection is for confidential clients",
        ));
    }
    let inactive = json!({"active": false});
    let try_refresh_first = hint == Some("refresh_token");
    for kind in if try_refresh_first { [1, 0] } else { [0, 1] } {
        if kind == 0 {
            if let Ok(v) = verify_access(ctx, tc, token).await {
                let times = v.times();
                let c = v.into_claims();
                if ctx.core.require_live_session(&tc.state, &c).await.is_err() {
                    return Ok(inactive);
                }
                return Ok(json!({
                    "active": true,
                    "token_type": "Bearer",
                    "scope": c.scope.clone().unwrap_or_else(|| c.scopes.join(" ")),
                    "client_id": c.client_id,
                    "sub": c.sub,
                    "username": c.username,
                    "iss": c.iss,
                    "aud": c.aud,
                    "exp": times.exp,
                    "iat": times.iat,
                    "nbf": times.nbf,
                    "jti": c.jti,
                    "tenant_id": c.tenant_id,
                    "scopes": c.scopes,
                    "cnf": c.cnf,
                }));
            }
        } else if let Ok(v) = ctx.core.verify::<RefreshClaims>(&tc.state, token).await {
            let times = v.times();
            let c = v.into_claims();
            if c.client_id.as_deref() != Some(client.client_id.as_str()) {
                return Ok(inactive);
            }
            let live = ctx
                .hot
                .session(tc.tenant.id(), &c.session_id)
                .await?
                .is_some_and(|s| s.is_live(ctx.now()));
            if !live {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": c.client_id,
                "sub": c.sub,
                "iss": c.iss,
                "exp": times.exp,
                "iat": times.iat,
                "jti": c.jti,
            }));
        }
    }
    Ok(inactive)
}
