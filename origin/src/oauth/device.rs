//! The device authorization grant (RFC 8628): a CLI or a TV shows a short code, the person
//! enters it on the site's `/device` page (signed in there), approves, and the device, polling
//! the token endpoint, gets its tokens.
//!
//! Invariants and the attacks they prevent:
//! - the device code is 256 random bits and only its SHA-256 names the record; the user code is
//!   8 letters of a 20-letter alphabet without vowels (RFC 8628 §6.1: 2.56·10¹⁰ codes, no words),
//!   entered only by a signed-in person, whose attempts are rate-limited, within 10 minutes;
//! - the person sees which client asks for what before approving, and approves only what they
//!   hold (the same narrowing as the authorization endpoint);
//! - polling faster than the interval answers `slow_down`; an approved record is redeemed once
//!   (atomically), a denied one answers `access_denied`, an expired one `expired_token`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use usso_edge::store::HotStore;
use usso_shared::encoding::{b64url_encode, hex_encode};
use usso_shared::{Error, ErrorCode, Result};

use super::clients::{Client, GrantType};
use super::scopes::ScopeSet;
use crate::app::Ctx;
use crate::store::hot::Ephemeral;

/// The grant type's URN.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How long a device code lives.
pub const DEVICE_TTL_SECS: i64 = 600;
/// Seconds a device waits between polls.
pub const INTERVAL_SECS: i64 = 5;
/// The user code's letters (no vowels, no look-alikes).
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Where a device stands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeviceState {
    /// Waiting for the person.
    Pending,
    /// Approved by the person.
    Approved {
        /// The person.
        user_id: String,
        /// When they signed in.
        auth_time: i64,
        /// How.
        amr: Vec<String>,
        /// Assurance level.
        acr: Option<String>,
        /// What they granted.
        scope: Vec<String>,
    },
    /// Declined.
    Denied,
}

/// One device authorization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceGrant {
    /// The client.
    pub client_id: String,
    /// The scopes asked for.
    pub scope: Vec<String>,
    /// The code the person enters.
    pub user_code: String,
    /// Expiry.
    pub expires_at: i64,
    /// Where it stands.
    pub state: DeviceState,
    /// The last poll (for `slow_down`).
    #[serde(default)]
    pub last_poll: i64,
}

/// What the device authorization endpoint answers (RFC 8628 §3.2).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceStart {
    /// The device code.
    pub device_code: String,
    /// The code to show.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
    /// The same with the code filled in (for a QR code).
    pub verification_uri_complete: String,
    /// Seconds it lives.
    pub expires_in: i64,
    /// Seconds between polls.
    pub interval: i64,
}

fn device_key(tenant: &str, hash: &str) -> String {
    format!("usso:oauth-device:{tenant}:{hash}")
}

fn user_code_key(tenant: &str, code: &str) -> String {
    format!("usso:oauth-user-code:{tenant}:{code}")
}

fn hash(device_code: &str) -> String {
    hex_encode(&Sha256::digest(device_code.as_bytes()))
}

/// A user code as typed: upper-cased, dashes and spaces dropped; `None` if it cannot be one.
pub fn normalize(typed: &str) -> Option<String> {
    let c: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (c.len() == 8 && c.bytes().all(|b| ALPHABET.contains(&b))).then_some(c)
}

fn new_user_code() -> Result<String> {
    let bytes = usso_shared::random::bytes::<8>()?;
    // 256 is not a multiple of 20: the small bias (6 of 256) is irrelevant at this length.
    let c: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("{}-{}", &c[..4], &c[4..]))
}

async fn save(ctx: &Ctx, tenant: &str, hash: &str, g: &DeviceGrant, now: i64) -> Result<()> {
    let text = serde_json::to_string(g).map_err(|e| Error::internal(e.to_string()))?;
    ctx.hot
        .put_expiring(
            &device_key(tenant, hash),
            &text,
            (g.expires_at - now).max(1),
            now,
        )
        .await
}

async fn load(ctx: &Ctx, tenant: &str, hash: &str, now: i64) -> Result<Option<DeviceGrant>> {
    match ctx.hot.get_live(&device_key(tenant, hash), now).await? {
        Some(t) => {
            Ok(Some(serde_json::from_str(&t).map_err(|e| {
                Error::internal(format!("corrupt device grant: {e}"))
            })?))
        }
        None => Ok(None),
    }
}

/// Starts a device authorization for `client`.
pub async fn start(
    ctx: &Ctx,
    tenant: &str,
    issuer: &str,
    client: &Client,
    scope: Option<&str>,
) -> Result<DeviceStart> {
    if !client.allows(GrantType::DeviceCode) {
        return Err(Error::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device authorization grant",
        ));
    }
    let scopes = ScopeSet::parse(scope)?;
    scopes.within_client(&client.scopes)?;
    let now = ctx.now();
    let device_code = b64url_encode(&usso_shared::random::bytes::<32>()?);
    let user_code = new_user_code()?;
    let g = DeviceGrant {
        client_id: client.client_id.clone(),
        scope: scopes.0,
        user_code: user_code.clone(),
        expires_at: now + DEVICE_TTL_SECS,
        state: DeviceState::Pending,
        last_poll: 0,
    };
    let h = hash(&device_code);
    save(ctx, tenant, &h, &g, now).await?;
    let bare = normalize(&user_code).unwrap_or_default();
    ctx.hot
        .put_expiring(&user_code_key(tenant, &bare), &h, DEVICE_TTL_SECS, now)
        .await?;
    let uri = format!(
        "{}{}",
        issuer.trim_end_matches('/'),
        usso_shared::paths::pages::DEVICE
    );
    Ok(DeviceStart {
        device_code,
        verification_uri_complete: format!("{uri}?user_code={user_code}"),
        verification_uri: uri,
        user_code,
        expires_in: DEVICE_TTL_SECS,
        interval: INTERVAL_SECS,
    })
}

/// The pending authorization a typed user code names: (its key, the grant).
pub async fn find(ctx: &Ctx, tenant: &str, typed: &str) -> Result<Option<(String, DeviceGrant)>> {
    let Some(code) = normalize(typed) else {
        return Ok(None);
    };
    let now = ctx.now();
    let Some(h) = ctx.hot.get_live(&user_code_key(tenant, &code), now).await? else {
        return Ok(None);
    };
    Ok(load(ctx, tenant, &h, now)
        .await?
        .filter(|g| g.state == DeviceState::Pending && g.expires_at > now)
        .map(|g| (h, g)))
}

/// Records the person's answer (the user code stops working either way).
pub async fn answer(ctx: &Ctx, tenant: &str, key: &str, state: DeviceState) -> Result<()> {
    let now = ctx.now();
    let Some(mut g) = load(ctx, tenant, key, now).await? else {
        return Err(Error::new(ErrorCode::NotFound, "this code has expired"));
    };
    if g.state != DeviceState::Pending {
        return Err(Error::new(
            ErrorCode::Conflict,
            "this code was answered already",
        ));
    }
    if let Some(bare) = normalize(&g.user_code) {
        ctx.hot.remove(&user_code_key(tenant, &bare)).await?;
    }
    g.state = state;
    save(ctx, tenant, key, &g, now).await
}

/// A device's poll: the approval (taken once), or the RFC's error.
pub async fn poll(
    ctx: &Ctx,
    tenant: &str,
    client: &Client,
    device_code: &str,
) -> Result<(DeviceGrant, DeviceState)> {
    let now = ctx.now();
    let h = hash(device_code);
    let Some(mut g) = load(ctx, tenant, &h, now).await? else {
        return Err(Error::new(
            ErrorCode::ExpiredToken,
            "the device code is unknown or has expired",
        ));
    };
    if g.client_id != client.client_id {
        return Err(Error::new(
            ErrorCode::InvalidGrant,
            "the device code was issued to another client",
        ));
    }
    if g.expires_at <= now {
        return Err(Error::new(
            ErrorCode::ExpiredToken,
            "the device code has expired",
        ));
    }
    match g.state.clone() {
        DeviceState::Pending => {
            let too_soon = g.last_poll > 0 && now - g.last_poll < INTERVAL_SECS;
            g.last_poll = now;
            save(ctx, tenant, &h, &g, now).await?;
            Err(if too_soon {
                Error::new(ErrorCode::SlowDown, "poll at most every interval seconds")
            } else {
                Error::new(ErrorCode::AuthorizationPending, "waiting for the person")
            })
        }
        DeviceState::Denied => {
            ctx.hot.remove(&device_key(tenant, &h)).await?;
            Err(Error::new(ErrorCode::AccessDenied, "the person declined"))
        }
        approved @ DeviceState::Approved { .. } => {
            let (uses, _) = ctx
                .hot
                .hit(
                    &format!("{}:taken", device_key(tenant, &h)),
                    DEVICE_TTL_SECS,
                    now,
                )
                .await?;
            ctx.hot.remove(&device_key(tenant, &h)).await?;
            if uses > 1 {
                return Err(Error::new(
                    ErrorCode::InvalidGrant,
                    "the device code was used",
                ));
            }
            Ok((g, approved))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes() {
        for _ in 0..100 {
            let c = new_user_code().unwrap();
            assert_eq!(c.len(), 9);
            assert_eq!(normalize(&c).unwrap().len(), 8);
            assert_eq!(
                normalize(&c.to_lowercase().replace('-', " ")),
                normalize(&c)
            );
        }
        assert_eq!(
            normalize("ABCD-EFGH"),
            None,
            "vowels are not in the alphabet"
        );
        assert_eq!(normalize("BCD"), None);
    }
}
