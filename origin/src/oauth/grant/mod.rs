//! The token endpoint's grants, one file each, dispatched on a tagged enum. The password grant
//! and the implicit flow are refused (OAuth 2.1); so is anything else not listed here.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use serde::Serialize;
use usso_shared::{Error, ErrorCode, Result};

use super::clients::Client;
use crate::app::{ClientMeta, Ctx};
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
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: need("refresh_token")?,
                scope: get("scope"),
            }),
            Some("client_credentials") => Ok(Self::ClientCredentials {
                scope: get("scope"),
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
    /// Always `Bearer`.
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
) -> Result<TokenResponse> {
    match req {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            authorization_code::redeem(
                ctx,
                tc,
                who,
                client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
            )
            .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh_token::rotate(ctx, tc, who, client, &refresh_token, scope.as_deref()).await,
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::issue(ctx, tc, who, client, scope.as_deref()).await
        }
    }
}
