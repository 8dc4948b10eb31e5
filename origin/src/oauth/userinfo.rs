//! OpenID Connect userinfo (Core §5.3): the claims about the person that the access token's
//! scopes release. Only a token issued through the provider with `openid` reads it, and only
//! while its session lives (a revoked consent or a sign-out ends it at once).

use serde_json::{Map, Value};
use usso_shared::claims::AccessClaims;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::Ctx;
use crate::identity::users;
use crate::tenants::TenantCtx;

use super::id_token;
use super::scopes::{ScopeSet, OPENID};

/// The userinfo claims for a verified access token.
pub async fn claims(ctx: &Ctx, tc: &TenantCtx, token: &AccessClaims) -> Result<Map<String, Value>> {
    let scopes = ScopeSet::parse(token.scope.as_deref())?;
    if !scopes.has(OPENID) {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            "insufficient_scope: the token was not granted `openid`",
        ));
    }
    ctx.core.require_live_session(&tc.state, token).await?;
    let user_id = token
        .user_id
        .as_deref()
        .ok_or_else(|| Error::invalid_token("not a person's token"))?;
    let Some((user, _)) = users::get(&ctx.docs, tc.tenant.id(), user_id).await? else {
        return Err(Error::invalid_token("the account is gone"));
    };
    if !user.is_active || user.is_deleted() {
        return Err(Error::invalid_token("the account is deactivated"));
    }
    let mut m = id_token::released(&ctx.docs, tc.tenant.id(), &user, &scopes.0).await?;
    m.insert("sub".into(), Value::String(user.subject()));
    Ok(m)
}
