//! The USSO access and refresh claim sets, serialised exactly as the official SDKs expect:
//! integer times (added by [`crate::token`]), a string `aud`, and `null` for absent identity
//! fields.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `token_type` of access tokens.
pub const ACCESS: &str = "access";
/// `token_type` of refresh tokens.
pub const REFRESH: &str = "refresh";
/// `acr` for one factor.
pub const ACR_ONE_FACTOR: &str = "usso:acr:1";
/// `acr` when two factors were used.
pub const ACR_TWO_FACTORS: &str = "usso:acr:2";

/// The `aud` claim: we issue one string; tokens with an array are read too (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// A single audience, serialised as a string.
    One(String),
    /// Several audiences, serialised as an array.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` names `expected`.
    pub fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(a) => a == expected,
            Self::Many(list) => list.iter().any(|a| a == expected),
        }
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(a) => s.serialize_str(a),
            Self::Many(list) => list.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::One(a) => Self::One(a),
            Raw::Many(list) => Self::Many(list),
        })
    }
}

/// What every token's claims offer to the common validation in [`crate::token`].
pub trait TokenClaims: Serialize + DeserializeOwned {
    /// The `token_type` this claim set must carry.
    const TOKEN_TYPE: &'static str;
    /// `token_type` as found in the token.
    fn token_type(&self) -> &str;
    /// `iss`.
    fn issuer(&self) -> &str;
    /// `aud`, if present.
    fn audience(&self) -> Option<&Audience>;
    /// `tenant_id`, if present.
    fn tenant_id(&self) -> Option<&str>;
    /// `jti`.
    fn jti(&self) -> &str;
}

/// Claims of an access token (times live in the token envelope: `iat`, `nbf`, `exp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Random token id.
    pub jti: String,
    /// Always `access`.
    pub token_type: String,
    /// The tenant's issuer URL.
    pub iss: String,
    /// The tenant's audience, when the tenant has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// `user:<id>` or `service:<id>`.
    pub sub: String,
    /// The user's id (a UUID), `null` for service accounts.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The session this token belongs to.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The workspace, if any.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Role slugs.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Resolved scopes (roles plus direct grants).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Authentication methods, e.g. `["password"]`.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Authentication context class: `usso:acr:1` or `usso:acr:2`.
    #[serde(default)]
    pub acr: Option<String>,
    /// Email, if the user has one.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone in E.164, if the user has one.
    #[serde(default)]
    pub phone: Option<String>,
    /// Username, if the user has one.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name, if the user has one.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The OAuth client the token was issued to (RFC 9068 §2.2); absent on first-party
    /// sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The OAuth scopes granted, space-separated (RFC 9068 §2.2.3); absent on first-party
    /// sessions. `scopes` keeps the USSO permission scopes the SDKs check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The key the token is bound to (RFC 9449 `cnf.jkt`): it is usable only with a DPoP
    /// proof made with that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A token's confirmation claim (RFC 7800), here the DPoP key thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the bound key.
    pub jkt: String,
}

impl AccessClaims {
    /// Whether this token was issued through the OAuth provider (signed `typ: at+jwt`).
    pub fn is_oauth(&self) -> bool {
        self.client_id.is_some()
    }
}

impl TokenClaims for AccessClaims {
    const TOKEN_TYPE: &'static str = ACCESS;
    fn token_type(&self) -> &str {
        &self.token_type
    }
    fn issuer(&self) -> &str {
        &self.iss
    }
    fn audience(&self) -> Option<&Audience> {
        self.aud.as_ref()
    }
    fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }
    fn jti(&self) -> &str {
        &self.jti
    }
}

/// The identity a session grants: everything an access token says about its subject, kept with
/// the session in the hot store so that the edge can mint access tokens on refresh without a
/// user database. The origin rewrites it when the user's roles or identifiers change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `user:<id>` or `service:<id>`.
    pub sub: String,
    /// The user's id, `None` for service accounts.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The workspace, if any.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Role slugs.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Resolved scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Authentication methods used at login.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Authentication context class.
    #[serde(default)]
    pub acr: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone (E.164).
    #[serde(default)]
    pub phone: Option<String>,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The OAuth client a session was started for (its tokens carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The OAuth scopes granted to that client, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The DPoP key the session's tokens are bound to (its thumbprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf_jkt: Option<String>,
    /// The resource server (RFC 8707) the tokens are for: their `aud` instead of the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Grant {
    /// The access claims for this grant in one session of one tenant.
    pub fn access_claims(
        &self,
        jti: String,
        iss: &str,
        aud: Option<&str>,
        session_id: &str,
        tenant_id: &str,
    ) -> AccessClaims {
        AccessClaims {
            jti,
            token_type: ACCESS.into(),
            iss: iss.into(),
            aud: aud.map(|a| Audience::One(a.into())),
            sub: self.sub.clone(),
            user_id: self.user_id.clone(),
            session_id: Some(session_id.into()),
            tenant_id: Some(tenant_id.into()),
            workspace_id: self.workspace_id.clone(),
            roles: self.roles.clone(),
            scopes: self.scopes.clone(),
            amr: self.amr.clone(),
            acr: self.acr.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            username: self.username.clone(),
            user_name: self.user_name.clone(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            cnf: self.cnf_jkt.clone().map(|jkt| Confirmation { jkt }),
        }
    }

    /// The access claims for a service (an agent): no session, nothing to refresh.
    pub fn service_access_claims(
        &self,
        jti: String,
        iss: &str,
        aud: Option<&str>,
        tenant_id: &str,
    ) -> AccessClaims {
        AccessClaims {
            session_id: None,
            ..self.access_claims(jti, iss, aud, "", tenant_id)
        }
    }

    /// The refresh claims for one generation of a session.
    pub fn refresh_claims(
        &self,
        jti: String,
        iss: &str,
        aud: Option<&str>,
        session_id: &str,
        tenant_id: &str,
    ) -> RefreshClaims {
        RefreshClaims {
            jti,
            token_type: REFRESH.into(),
            iss: iss.into(),
            aud: aud.map(|a| Audience::One(a.into())),
            sub: self.sub.clone(),
            session_id: session_id.into(),
            tenant_id: Some(tenant_id.into()),
            client_id: self.client_id.clone(),
        }
    }
}

/// Claims of a refresh token. One `jti` is one generation of the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// Random id of this generation (at least 128 bits).
    pub jti: String,
    /// Always `refresh`.
    pub token_type: String,
    /// The tenant's issuer URL.
    pub iss: String,
    /// The tenant's audience, when the tenant has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// `user:<id>` or `service:<id>`.
    pub sub: String,
    /// The session.
    pub session_id: String,
    /// The tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The OAuth client the session belongs to: only that client may redeem it, at the token
    /// endpoint (never at `/auth/refresh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl TokenClaims for RefreshClaims {
    const TOKEN_TYPE: &'static str = REFRESH;
    fn token_type(&self) -> &str {
        &self.token_type
    }
    fn issuer(&self) -> &str {
        &self.iss
    }
    fn audience(&self) -> Option<&Audience> {
        self.aud.as_ref()
    }
    fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }
    fn jti(&self) -> &str {
        &self.jti
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_identity_fields_are_null_and_aud_is_a_string() {
        let c = AccessClaims {
            jti: "j".into(),
            token_type: ACCESS.into(),
            iss: "http://localhost:8000".into(),
            aud: Some(Audience::One("usso".into())),
            sub: "user:1".into(),
            user_id: Some("1".into()),
            session_id: Some("s".into()),
            tenant_id: Some("org_default".into()),
            workspace_id: None,
            roles: vec![],
            scopes: vec!["read:users".into()],
            amr: vec!["password".into()],
            acr: Some(ACR_ONE_FACTOR.into()),
            email: None,
            phone: None,
            username: None,
            user_name: None,
            client_id: None,
            scope: None,
            cnf: None,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert!(v.get("client_id").is_none() && v.get("scope").is_none());
        assert_eq!(v["aud"], "usso");
        for f in ["workspace_id", "email", "phone", "username", "user_name"] {
            assert!(v.get(f).is_some_and(|x| x.is_null()), "{f} must be null");
        }
        let mut no_aud = c.clone();
        no_aud.aud = None;
        assert!(serde_json::to_value(&no_aud).unwrap().get("aud").is_none());
    }

    #[test]
    fn audience_forms() {
        let one: Audience = serde_json::from_str("\"a\"").unwrap();
        assert!(one.contains("a") && !one.contains("b"));
        let many: Audience = serde_json::from_str("[\"a\",\"b\"]").unwrap();
        assert!(many.contains("b"));
        assert!(serde_json::from_str::<Audience>("1").is_err());
    }
}
