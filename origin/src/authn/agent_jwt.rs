//! An agent proves who it is with a short JWT it signs itself (Ed25519), and gets an access
//! token for the scopes it asks, within its own. Exactly the two token flavours the official
//! SDKs make are accepted:
//! - Python `usso`: header `{"alg": "ED25519", "kid": <SHA-256 hex of the key's SPKI DER>}`,
//!   `iss` = the agent id only when the SDK knows it, `tenant_id` possibly null;
//! - Rust `usso` 0.4.x: header `{"alg": "Ed25519", "typ": "JWT"}` (no `kid`), `iss` = the
//!   agent id.
//!
//! Invariants and the attacks they prevent:
//! - the algorithm is never taken from the token: it must name Ed25519 in one of the two
//!   spellings, and the signature is checked with the agent's stored Ed25519 keys only (an
//!   unsigned `header.payload.`, `none`, HS256 or RS256 token is refused: algorithm confusion);
//! - a `kid` and an `iss` must name the same agent of this tenant; an inactive or unknown agent,
//!   or a tenant without agents, gets the same refusal as a bad signature;
//! - `aud` is `sso` (what the SDKs send) or the tenant's issuer; a token for another audience is
//!   refused (a JWT made for another service cannot be replayed here);
//! - lifetime at most five minutes, `nbf` and `iat` not in the future beyond the leeway, `exp`
//!   not past: a stolen JWT is good for minutes at most;
//! - each `jti` once: the replay store keeps it for the token's remaining lifetime;
//! - a JWT over 8 KiB, or whose header or claims repeat a key, is malformed.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use usso_edge::store::HotStore;
use usso_shared::claims::{Audience, Grant};
use usso_shared::encoding::{b64url_decode, hex_encode};
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::identity::agents::{self, Agent};
use crate::tenants::TenantCtx;

/// Longest accepted agent JWT, in bytes.
pub const MAX_JWT_LEN: usize = 8 * 1024;
/// Longest accepted lifetime (`exp` − `iat`), in seconds.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew allowed on `nbf`, `iat` and `exp`, in seconds.
pub const LEEWAY_SECS: i64 = 30;
/// The audience the SDKs put in agent JWTs.
pub const SDK_AUDIENCE: &str = "sso";
/// `amr` of tokens issued to agents.
pub const AMR_AGENT: &str = "agent_jwt";

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
    #[serde(default)]
    tenant_id: Option<String>,
}

/// Why an agent JWT was refused (recorded in the audit trail; the caller sees one error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not three base64url parts of JSON, too long, repeated keys.
    Malformed,
    /// Another algorithm, or no signature.
    Algorithm,
    /// No such active agent of this tenant, or `kid` and `iss` disagree.
    UnknownAgent,
    /// The signature does not verify with the agent's keys.
    Signature,
    /// Wrong audience or tenant.
    Audience,
    /// Expired, not yet valid, or living longer than five minutes.
    Lifetime,
    /// The `jti` was seen before.
    Replay,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::UnknownAgent => "unknown_agent",
            Self::Signature => "signature",
            Self::Audience => "audience",
            Self::Lifetime => "lifetime",
            Self::Replay => "replay",
        }
    }
}

/// A verified agent JWT: the agent and the scopes it asked for (`None`: not said).
#[derive(Debug, Clone)]
pub struct Proven {
    /// The agent.
    pub agent: Agent,
    /// The scopes the JWT asks for.
    pub requested: Option<Vec<String>>,
}

fn part<T: serde::de::DeserializeOwned>(b64: &str) -> std::result::Result<T, Refusal> {
    let bytes = b64url_decode(b64).ok_or(Refusal::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed)
}

/// Checks an agent JWT presented to this tenant, consuming its `jti`.
pub async fn verify(ctx: &Ctx, tc: &TenantCtx, jwt: &str) -> std::result::Result<Proven, Refusal> {
    let t = &tc.tenant;
    if jwt.len() > MAX_JWT_LEN {
        return Err(Refusal::Malformed);
    }
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let header: Header = part(h)?;
    if header.alg != "ED25519" && header.alg != "Ed25519" {
        return Err(Refusal::Algorithm);
    }
    if s.is_empty() {
        return Err(Refusal::Algorithm);
    }
    let claims: Claims = part(p)?;
    let sig = b64url_decode(s)
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(Refusal::Signature)?;
    if !t.agents_enabled() {
        return Err(Refusal::UnknownAgent);
    }
    // The agent: by `kid`, by `iss`; both must agree.
    let by_kid = match &header.kid {
        Some(kid) => Some(
            agents::find_by_kid(&ctx.docs, t.id(), kid)
                .await
                .map_err(|_| Refusal::UnknownAgent)?
                .ok_or(Refusal::UnknownAgent)?,
        ),
        None => None,
    };
    let agent = match (by_kid, &claims.iss) {
        (Some(a), Some(iss)) if &a.id != iss => return Err(Refusal::UnknownAgent),
        (Some(a), _) => a,
        (None, Some(iss)) => {
            agents::get(ctx, t, iss)
                .await
                .map_err(|_| Refusal::UnknownAgent)?
                .0
        }
        (None, None) => return Err(Refusal::UnknownAgent),
    };
    if !agent.is_active {
        return Err(Refusal::UnknownAgent);
    }
    // The signature, with the named key or any of the agent's keys.
    let signed = format!("{h}.{p}");
    let good = agent
        .keys
        .iter()
        .filter(|k| header.kid.as_ref().is_none_or(|kid| &k.kid == kid))
        .filter_map(|k| VerifyingKey::from_bytes(&k.raw()?).ok())
        .any(|vk| vk.verify_strict(signed.as_bytes(), &sig).is_ok());
    if !good {
        return Err(Refusal::Signature);
    }
    let iss_url = t.tokens.issuer.trim_end_matches('/');
    if !(claims.aud.contains(SDK_AUDIENCE)
        || claims.aud.contains(iss_url)
        || claims.aud.contains(&t.tokens.issuer))
    {
        return Err(Refusal::Audience);
    }
    if claims.tenant_id.as_deref().is_some_and(|tid| tid != t.id()) {
        return Err(Refusal::Audience);
    }
    let now = ctx.now();
    let start = claims.iat.or(claims.nbf).unwrap_or(now);
    let lifetime_ok = claims.exp - start <= MAX_LIFETIME_SECS
        && claims.exp - now <= MAX_LIFETIME_SECS + LEEWAY_SECS;
    let timely = claims.exp > now - LEEWAY_SECS
        && claims.nbf.is_none_or(|n| n <= now + LEEWAY_SECS)
        && claims.iat.is_none_or(|i| i <= now + LEEWAY_SECS);
    if !lifetime_ok || !timely {
        return Err(Refusal::Lifetime);
    }
    if claims.jti.is_empty() || claims.jti.len() > 128 {
        return Err(Refusal::Malformed);
    }
    // Each `jti` once, for as long as the token could be accepted.
    let replay_key = format!(
        "usso:agent-jti:{}:{}",
        t.id(),
        hex_encode(&Sha256::digest(
            format!("{}\u{0}{}", agent.id, claims.jti).as_bytes()
        ))
    );
    let ttl = (claims.exp - now + LEEWAY_SECS).max(1);
    let (seen, _) = ctx
        .hot
        .hit(&replay_key, ttl, now)
        .await
        .map_err(|_| Refusal::Replay)?;
    if seen > 1 {
        return Err(Refusal::Replay);
    }
    Ok(Proven {
        agent,
        requested: claims.scopes,
    })
}

/// The access token an agent gets: its requested scopes within its own (all of its own when
/// it asks for none), `sub` = the agent id (`service:…`), no user, no session.
pub struct Issued {
    /// The signed access token.
    pub access_token: String,
    /// Seconds it lives.
    pub expires_in: i64,
    /// The scopes it carries.
    pub scopes: Vec<String>,
}

/// Verifies `jwt` and issues the agent's access token; refusals are audited and answered as
/// one `invalid_credentials`.
pub async fn exchange(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    jwt: &str,
) -> Result<(Agent, Issued)> {
    let proven = check(ctx, tc, who, jwt).await?;
    let agent = proven.agent;
    let scopes: Vec<String> = match proven.requested {
        Some(req) if !req.is_empty() => req
            .into_iter()
            .filter(|s| agent.scopes.contains(s))
            .collect(),
        _ => agent.scopes.clone(),
    };
    let grant = Grant {
        sub: agent.id.clone(),
        user_id: None,
        workspace_id: agent.workspace_id.clone(),
        scopes: scopes.clone(),
        amr: vec![AMR_AGENT.into()],
        user_name: Some(agent.name.clone()),
        ..Default::default()
    };
    let signer = tc.state.ring.signer()?;
    let access_token =
        usso_edge::issue::sign_service_access(&tc.state.config, signer, &grant, ctx.now())?;
    crate::audit::counted(
        ctx,
        tc.tenant.id(),
        AuditEvent::AgentTokenIssued,
        who,
        &format!("agent-token:{}", agent.id),
        60,
        json!({"agent_id": agent.id, "scopes": scopes}),
    )
    .await;
    Ok((
        agent,
        Issued {
            access_token,
            expires_in: tc.state.config.access_ttl_secs,
            scopes,
        },
    ))
}

/// Verifies `jwt` (consuming it); refusals are audited and answered as one
/// `invalid_credentials`.
pub async fn check(ctx: &Ctx, tc: &TenantCtx, who: &ClientMeta, jwt: &str) -> Result<Proven> {
    match verify(ctx, tc, jwt).await {
        Ok(p) => Ok(p),
        Err(why) => {
            crate::audit::counted(
                ctx,
                tc.tenant.id(),
                AuditEvent::AgentTokenRefused,
                who,
                &format!("agent-refused:{}:{}", who.ip, why.as_str()),
                300,
                json!({"reason": why.as_str()}),
            )
            .await;
            Err(Error::new(
                ErrorCode::InvalidCredentials,
                "invalid agent token",
            ))
        }
    }
}
