//! ID tokens (OpenID Connect Core §2, §3.1.3.6) and the claims about a person that the
//! `profile`, `email` and `phone` scopes release (the same claims answer `userinfo`).
//!
//! Invariants: an ID token's `aud` is the client alone, it carries the request's `nonce`, and
//! its `token_type` is `id`, so no verifier of this project takes it for an access token
//! (token confusion); claims beyond `sub` are released only for the scopes granted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};
use usso_shared::claims::{Audience, TokenClaims};
use usso_shared::encoding::b64url_encode;
use usso_shared::token::{self, TokenTimes};
use usso_shared::{Error, Result};

use crate::identity::identifier::IdentifierKind;
use crate::identity::users::{self, User};
use crate::store::docs::DocumentStore;
use crate::tenants::TenantCtx;

/// `token_type` of ID tokens.
pub const ID: &str = "id";

/// The claims of an ID token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdClaims {
    /// The issuer.
    pub iss: String,
    /// The person (`user:<id>`, as in access tokens).
    pub sub: String,
    /// The client.
    pub aud: Audience,
    /// The authorized party: the client.
    pub azp: String,
    /// Always `id`.
    pub token_type: String,
    /// Random id.
    pub jti: String,
    /// The tenant.
    pub tenant_id: String,
    /// When the person signed in.
    pub auth_time: i64,
    /// The request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Assurance level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// How they signed in.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Half the SHA-512 of the access token (Ed25519 signs with SHA-512), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Claims released by scope.
    #[serde(flatten)]
    pub released: Map<String, Value>,
}

impl TokenClaims for IdClaims {
    const TOKEN_TYPE: &'static str = ID;
    fn token_type(&self) -> &str {
        &self.token_type
    }
    fn issuer(&self) -> &str {
        &self.iss
    }
    fn audience(&self) -> Option<&Audience> {
        Some(&self.aud)
    }
    fn tenant_id(&self) -> Option<&str> {
        Some(&self.tenant_id)
    }
    fn jti(&self) -> &str {
        &self.jti
    }
}

/// `at_hash` of an access token for EdDSA over Ed25519 (the left half of its SHA-512).
pub fn at_hash(access_token: &str) -> String {
    let h = Sha512::digest(access_token.as_bytes());
    b64url_encode(&h[..32])
}

/// The claims about `user` that `scopes` release (`profile`, `email`, `phone`).
pub async fn released<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    user: &User,
    scopes: &[String],
) -> Result<Map<String, Value>> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let mut m = Map::new();
    if has("profile") {
        m.insert("name".into(), serde_json::json!(user.name));
        m.insert("picture".into(), serde_json::json!(user.avatar_url));
        m.insert("locale".into(), serde_json::json!(user.locale));
        m.insert(
            "preferred_username".into(),
            serde_json::json!(user.username),
        );
        m.insert("updated_at".into(), serde_json::json!(user.updated_at));
    }
    if has("email") || has("phone") {
        let idents = users::identifiers_of(docs, tenant, &user.id).await?;
        let proven = |kind: IdentifierKind, value: &Option<String>| {
            idents
                .iter()
                .any(|i| i.kind == kind && Some(&i.value) == value.as_ref() && i.verified)
        };
        if has("email") && user.email.is_some() {
            m.insert("email".into(), serde_json::json!(user.email));
            m.insert(
                "email_verified".into(),
                Value::Bool(proven(IdentifierKind::Email, &user.email)),
            );
        }
        if has("phone") && user.phone.is_some() {
            m.insert("phone_number".into(), serde_json::json!(user.phone));
            m.insert(
                "phone_number_verified".into(),
                Value::Bool(proven(IdentifierKind::Phone, &user.phone)),
            );
        }
    }
    m.retain(|_, v| !v.is_null());
    Ok(m)
}

/// What an ID token says, besides the tenant's.
pub struct IdToken<'a> {
    /// The person.
    pub user: &'a User,
    /// The client.
    pub client_id: &'a str,
    /// The granted scopes.
    pub scopes: &'a [String],
    /// The nonce.
    pub nonce: Option<String>,
    /// Sign-in time.
    pub auth_time: i64,
    /// Methods.
    pub amr: Vec<String>,
    /// Level.
    pub acr: Option<String>,
    /// The access token issued with it.
    pub access_token: &'a str,
    /// How to sign it (the client's choice).
    pub alg: crate::oauth::clients::IdTokenAlg,
}

/// Signs an ID token: with the tenant's active key (EdDSA), or its RS256 key for clients that
/// ask for RS256 ([`crate::oauth::rsa_key`]).
pub async fn sign(
    ctx: &crate::app::Ctx,
    tc: &TenantCtx,
    it: IdToken<'_>,
    now: i64,
) -> Result<String> {
    let docs = &ctx.docs;
    let cfg = &tc.state.config;
    let claims = IdClaims {
        iss: cfg.issuer.clone(),
        sub: it.user.subject(),
        aud: Audience::One(it.client_id.to_owned()),
        azp: it.client_id.to_owned(),
        token_type: ID.into(),
        jti: usso_shared::random::token_id()?,
        tenant_id: cfg.tenant_id.clone(),
        auth_time: it.auth_time,
        nonce: it.nonce,
        acr: it.acr,
        amr: it.amr,
        at_hash: Some(at_hash(it.access_token)),
        released: released(docs, tc.tenant.id(), it.user, it.scopes).await?,
    };
    let times = TokenTimes::starting_at(now, cfg.access_ttl_secs);
    match it.alg {
        crate::oauth::clients::IdTokenAlg::EdDSA => {
            let signer = tc.state.ring.signer()?;
            token::sign(signer, times, &claims)
                .map_err(|e| Error::internal(format!("id token: {e}")))
        }
        crate::oauth::clients::IdTokenAlg::RS256 => {
            let (key, _) = ctx
                .rsa_keys
                .ensure(&ctx.docs, &ctx.master, tc.tenant.id(), now)
                .await?;
            let mut v =
                serde_json::to_value(&claims).map_err(|e| Error::internal(e.to_string()))?;
            v["iat"] = times.iat.into();
            v["nbf"] = times.nbf.into();
            v["exp"] = times.exp.into();
            crate::oauth::rsa_key::sign(&key, &v)
        }
    }
}

/// An ID token this tenant issued, as an `id_token_hint` (RP-initiated logout): its signature,
/// issuer and tenant checked, its audience being the client it names, and expired ones
/// accepted for a day (a hint outlives the token, OpenID Connect RP-Initiated Logout §2).
pub fn verify_hint(tc: &TenantCtx, token: &str, now: i64) -> Result<IdClaims> {
    let aud = token
        .split('.')
        .nth(1)
        .and_then(usso_shared::encoding::b64url_decode)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("aud").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| Error::invalid_token("id_token_hint: no audience"))?;
    let cfg = &tc.state.config;
    let rules =
        usso_shared::token::Validation::new(cfg.issuer.clone(), Some(aud), cfg.tenant_id.clone())
            .with_leeway(86_400);
    Ok(usso_shared::token::UnverifiedToken::parse(token)?
        .verify::<IdClaims>(&tc.state.ring, &rules, now)?
        .into_claims())
}
