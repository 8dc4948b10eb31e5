//! The token endpoint's grants, one file each, dispatched on a tagged enum. The password grant
//! and the implicit flow are refused (OAuth 2.1); so is anything else not listed here.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;

use serde::Serialize;
use serde_json::json;
use usso_edge::issue;
use usso_shared::{Error, ErrorCode, Result};

use super::clients::{Client, GrantType};
use super::code::invalid_grant;
use super::id_token::{self, IdToken};
use super::scopes::{ScopeSet, OFFLINE_ACCESS, OPENID};
use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::identity::users;
use crate::store::hot::SessionIndex;
use crate::tenants::TenantCtx;

/// A token request, by `grant_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `authorization_code`.
    AuthorizationCode {
        /// The code.
        code: String,
        /// The redirect URI of the authorization request.
        redirect_uri: Option<String>,
        /// The PKCE verifier.
        code_verifier: Option<String>,
        /// RFC 8707: must name the authorization request's resource, if sent.
        resource: Option<String>,
    },
    /// `refresh_token`.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// A narrower scope (optional).
        scope: Option<String>,
    },
    /// `client_credentials`.
    ClientCredentials {
        /// The scopes asked for (default: all the client's permission scopes).
        scope: Option<String>,
        /// RFC 8707: the resource server the token is for.
        resource: Option<String>,
    },
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628).
    DeviceCode {
        /// The device code.
        device_code: String,
    },
}

fn missing(name: &str) -> Error {
    Error::new(ErrorCode::BadRequest, format!("{name} is missing"))
}

impl TokenRequest {
    /// Reads a token request's form with `get(name)`.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let need = |n: &str| get(n).filter(|v| !v.is_empty()).ok_or_else(|| missing(n));
        match get("grant_type").as_deref() {
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: need("code")?,
                redirect_uri: get("redirect_uri"),
                code_verifier: get("code_verifier"),
                resource: get("resource"),
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: need("refresh_token")?,
                scope: get("scope"),
            }),
            Some("client_credentials") => Ok(Self::ClientCredentials {
                scope: get("scope"),
                resource: get("resource"),
            }),
            Some(super::device::GRANT_TYPE) => Ok(Self::DeviceCode {
                device_code: need("device_code")?,
            }),
            Some("password") => Err(Error::new(
                ErrorCode::UnsupportedGrantType,
                "the password grant is not offered (OAuth 2.1); use the authorization code grant",
            )),
            Some(other) => Err(Error::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type `{}` is not supported",
                    other.chars().take(64).collect::<String>()
                ),
            )),
            None => Err(missing("grant_type")),
        }
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = OAuthTokenResponse)]
pub struct TokenResponse {
    /// The access token (a JWT, `typ: at+jwt`).
    pub access_token: String,
    /// `Bearer`, or `DPoP` for tokens bound to the client's key.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// A refresh token (with `offline_access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An ID token (with `openid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The scopes granted.
    pub scope: String,
}

/// Runs a token request for an authenticated client.
pub async fn exchange(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    req: TokenRequest,
    jkt: Option<String>,
) -> Result<TokenResponse> {
    let bound = jkt.is_some();
    let mut issued = match req {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            resource,
        } => {
            authorization_code::redeem(
                ctx,
                tc,
                who,
                client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                jkt,
                resource.as_deref(),
            )
            .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            refresh_token::rotate(
                ctx,
                tc,
                who,
                client,
                &refresh_token,
                scope.as_deref(),
                jkt.as_deref(),
            )
            .await
        }
        TokenRequest::ClientCredentials { scope, resource } => {
            let aud = super::resource::resolve(tc, resource.as_deref())?;
            client_credentials::issue(ctx, tc, who, client, scope.as_deref(), jkt, aud).await
        }
        TokenRequest::DeviceCode { device_code } => {
            device_code::redeem(ctx, tc, who, client, &device_code, jkt).await
        }
    }?;
    if bound {
        issued.token_type = "DPoP";
    }
    Ok(issued)
}

/// What the person granted a client (from a code or an approved device).
pub struct ForPerson<'a> {
    /// The person.
    pub user_id: &'a str,
    /// The OAuth scopes granted.
    pub scope: &'a [String],
    /// The authorization request's nonce.
    pub nonce: Option<String>,
    /// When they signed in.
    pub auth_time: i64,
    /// How.
    pub amr: Vec<String>,
    /// Assurance level.
    pub acr: Option<String>,
    /// For the audit trail.
    pub grant_type: &'static str,
    /// The DPoP key the tokens are bound to.
    pub jkt: Option<String>,
    /// The resource server the tokens are for (RFC 8707).
    pub resource: Option<String>,
}

/// Starts the client's own session for the person (their grant narrowed to what they granted)
/// and issues its tokens: an access token, a refresh token with `offline_access`, an ID token
/// with `openid`. The session id comes back too (a replayed code revokes it).
pub async fn person_tokens(
    ctx: &Ctx,
    tc: &TenantCtx,
    who: &ClientMeta,
    client: &Client,
    p: ForPerson<'_>,
) -> Result<(TokenResponse, String)> {
    let t = tc.tenant.id();
    let now = ctx.now();
    let Some((user, _)) = users::get(&ctx.docs, t, p.user_id).await? else {
        return Err(invalid_grant("the account is gone"));
    };
    if !user.is_active || user.is_deleted() {
        return Err(invalid_grant("the account is deactivated"));
    }
    let role_scopes = crate::identity::roles::scopes_of(&ctx.docs, t, &user.roles).await?;
    let acr = p.acr.clone().unwrap_or_default();
    let mut g = user.grant(p.amr.clone(), &acr, role_scopes);
    // The permission scopes granted, as far as the person still holds them (a wildcard of
    // theirs covers a narrower scope granted; a role taken away since drops it).
    let held = std::mem::take(&mut g.scopes);
    g.scopes = ScopeSet(p.scope.to_vec())
        .permissions()
        .into_iter()
        .filter(|s| usso_shared::scope::all_within(std::slice::from_ref(s), &held))
        .collect();
    g.roles.clear();
    let has = |s: &str| p.scope.iter().any(|x| x == s);
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
    g.scope = Some(p.scope.join(" "));
    g.cnf_jkt = p.jkt.clone();
    g.resource = p.resource.clone();
    let signer = tc.state.ring.signer()?;
    let (mut record, pair) = issue::start_session(&tc.state.config, signer, g, now)?;
    record.ip = Some(who.ip.clone());
    record.user_agent = who.user_agent.clone();
    ctx.hot.put_session(&record).await?;
    let id_token = if has(OPENID) {
        Some(
            id_token::sign(
                ctx,
                tc,
                IdToken {
                    user: &user,
                    client_id: &client.client_id,
                    scopes: p.scope,
                    nonce: p.nonce.clone(),
                    auth_time: p.auth_time,
                    amr: p.amr.clone(),
                    acr: p.acr.clone(),
                    access_token: &pair.access_token,
                    alg: client.id_token_signed_response_alg,
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
        json!({"grant_type": p.grant_type, "client_id": client.client_id,
               "user_id": user.id, "session_id": record.session_id, "scope": p.scope}),
    )
    .await;
    Ok((
        TokenResponse {
            access_token: pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: offline.then_some(pair.refresh_token),
            id_token,
            scope: p.scope.join(" "),
        },
        record.session_id,
    ))
}
