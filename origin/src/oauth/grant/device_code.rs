//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4): a device's poll;
//! once the person approved, the person's tokens for the client ([`super::person_tokens`]).

use usso_shared::Result;

use super::TokenResponse;
use crate::app::{ClientMeta, Ctx};
use crate::oauth::clients::Client;
use crate::oauth::device::{self, DeviceState};
use crate::tenants::TenantCtx;

/// A device's poll.
pub async fn redeem(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    device_code: &str,
    jkt: Option<String>,
) -> Result<TokenResponse> {
    let (_, state) = device::poll(ctx, tc.tenant.id(), client, device_code).await?;
    let DeviceState::Approved {
        user_id,
        auth_time,
        amr,
        acr,
        scope,
    } = state
    else {
        return Err(usso_shared::Error::internal("poll returned no approval"));
    };
    let (tokens, _) = super::person_tokens(
        ctx,
        tc,
        who,
        client,
        super::ForPerson {
            user_id: &user_id,
            scope: &scope,
            nonce: None,
            auth_time,
            amr,
            acr,
            grant_type: device::GRANT_TYPE,
            jkt,
            resource: None,
        },
    )
    .await?;
    Ok(tokens)
}
