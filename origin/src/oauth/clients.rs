//! OAuth clients: registration by an administrator, the client's settings, secret rotation, and
//! client authentication at the token, introspection and revocation endpoints.
//!
//! Invariants and the attacks they prevent:
//! - a confidential client's secret is 256 random bits shown once; only its SHA-256 is stored
//!   and it is compared in constant time, so a leaked store or a timing probe yields nothing;
//! - failed client authentications are counted per (client, address) and refused past a limit
//!   (a guessing attack cannot run unbounded), and a correct secret still works from another
//!   address (the owner is never locked out by someone else's guesses);
//! - redirect URIs are absolute, without fragments, `https` (or `http` on a loopback host, or a
//!   private-use scheme for native apps, RFC 8252) and matched exactly, so a code can only go
//!   where the administrator said;
//! - a public client (`none`) cannot use `client_credentials`, and its codes need PKCE;
//! - a client's permission scopes never exceed those of the administrator who set them (the
//!   subset rule), and a deactivated or deleted client authenticates nothing.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use usso_shared::encoding::{b64url_encode, hex_encode};
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Ctx};
use crate::audit::AuditEvent;
use crate::authz::Principal;
use crate::identity::fields::{check_scopes, text, valid_redirect_uri};
use crate::store::collections::OAUTH_CLIENTS;
use crate::store::docs::{check_if_match, lost_race, DocumentStore, Query, Sort};
use crate::store::hot::RateLimiter;
use crate::store::keys::counter;
use crate::tenants::Tenant;
use usso_edge::store::HotStore;

use super::scopes::{self, IDENTITY_SCOPES};

/// What client ids start with.
pub const ID_PREFIX: &str = "oc_";
/// What client secrets start with.
const SECRET_PREFIX: &str = "usso_cs_";
/// Most redirect URIs one client registers.
const MAX_REDIRECT_URIS: usize = 20;
/// Failed authentications of one client from one address per window before refusing.
const PAIR_FAILURES: u64 = 20;
/// The failure window.
const FAILURE_WINDOW_SECS: i64 = 300;

/// A grant a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// The authorization code grant (with PKCE).
    AuthorizationCode,
    /// Refresh tokens (needs `offline_access` in the authorization).
    RefreshToken,
    /// The client acting for itself (confidential clients only).
    ClientCredentials,
    /// The device authorization grant (RFC 8628): CLIs and TVs.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

/// How a client's ID tokens are signed (`id_token_signed_response_alg`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum IdTokenAlg {
    /// Ed25519, the tenant's signing key (the default).
    #[default]
    EdDSA,
    /// RSA PKCS#1 v1.5 with SHA-256, the tenant's RS256 key (made on first use).
    RS256,
}

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's registered Ed25519 key (RFC 7523).
    PrivateKeyJwt,
    /// A public client (browser or native app): no secret; PKCE required.
    None,
}

impl AuthMethod {
    /// Whether the client authenticates (a secret or a key).
    pub fn is_confidential(self) -> bool {
        !matches!(self, Self::None)
    }

    /// Whether the client holds a secret we issued.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// An OAuth client as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Client {
    /// `oc_<hex>`.
    pub client_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Shown on the consent page.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Where codes may be sent, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to, matched exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// How it authenticates.
    pub token_endpoint_auth_method: AuthMethod,
    /// Scopes it may ask for: OpenID ones and permission scopes.
    pub scopes: Vec<String>,
    /// A first-party client: people are not asked to consent.
    #[serde(default)]
    pub skip_consent: bool,
    /// SHA-256 hex of the secret (confidential clients).
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// How its ID tokens are signed.
    #[serde(default)]
    pub id_token_signed_response_alg: IdTokenAlg,
    /// Public keys of a `private_key_jwt` client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwks: Vec<super::assertion::PublicJwk>,
    /// Whether it may be used.
    pub is_active: bool,
    /// Who registered it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Client {
    /// Whether it may use `g`.
    pub fn allows(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }

    /// Whether it is public (no secret).
    pub fn is_public(&self) -> bool {
        !self.token_endpoint_auth_method.is_confidential()
    }
}

/// A registration.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Logout return URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants (default: authorization code and refresh token).
    pub grant_types: Option<Vec<GrantType>>,
    /// `["code"]` or nothing.
    pub response_types: Option<Vec<String>>,
    /// Default `client_secret_basic`.
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// Default: the OpenID scopes.
    pub scopes: Option<Vec<String>>,
    /// First party.
    pub skip_consent: bool,
    /// Public keys (`private_key_jwt`), as JWKs.
    pub jwks: Option<Vec<serde_json::Value>>,
    /// How its ID tokens are signed (default EdDSA).
    pub id_token_signed_response_alg: Option<IdTokenAlg>,
}

/// A change to a client (absent fields stay).
#[derive(Debug, Clone, Default)]
pub struct ClientChange {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Logout return URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grants.
    pub grant_types: Option<Vec<GrantType>>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// First party.
    pub skip_consent: Option<bool>,
    /// Activation.
    pub is_active: Option<bool>,
    /// Public keys (`private_key_jwt`; replaces them).
    pub jwks: Option<Vec<serde_json::Value>>,
    /// How its ID tokens are signed.
    pub id_token_signed_response_alg: Option<IdTokenAlg>,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn not_found() -> Error {
    Error::new(ErrorCode::NotFound, "OAuth client not found")
}

fn encode(c: &Client) -> Result<serde_json::Value> {
    serde_json::to_value(c).map_err(|e| Error::internal(e.to_string()))
}

fn decode(body: serde_json::Value) -> Result<Client> {
    serde_json::from_value(body).map_err(|e| Error::internal(format!("corrupt client: {e}")))
}

fn secret_hash(secret: &str) -> String {
    hex_encode(&Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> Result<String> {
    Ok(format!(
        "{SECRET_PREFIX}{}",
        b64url_encode(&usso_shared::random::bytes::<32>()?)
    ))
}

fn check_uris(field: &str, uris: &[String], at_least_one: bool) -> Result<()> {
    if at_least_one && uris.is_empty() {
        return Err(invalid(format!("{field}: at least one")));
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid(format!("{field}: at most {MAX_REDIRECT_URIS}")));
    }
    match uris.iter().find(|u| !valid_redirect_uri(u)) {
        Some(u) => Err(invalid(format!(
            "{field}: `{u}` must be an absolute https URI without a fragment (http only on a \
             loopback host; a reverse-domain scheme for native apps)"
        ))),
        None => Ok(()),
    }
}

/// Checks a client's scopes: OpenID scopes, or permission scopes the registrar holds.
fn check_client_scopes(by: &Principal, list: &[String]) -> Result<()> {
    let permission: Vec<String> = list
        .iter()
        .filter(|s| !IDENTITY_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect();
    check_scopes("scopes", &permission)?;
    if let Some(s) = list.iter().find(|s| !scopes::valid_token(s)) {
        return Err(invalid(format!("scopes: `{s}` is not a valid scope")));
    }
    by.may_grant(&permission)
}

fn check_settings(c: &Client) -> Result<()> {
    if c.grant_types.is_empty() {
        return Err(invalid("grant_types: at least one"));
    }
    if c.is_public() && c.allows(GrantType::ClientCredentials) {
        return Err(invalid(
            "grant_types: a public client (token_endpoint_auth_method none) cannot use \
             client_credentials",
        ));
    }
    if c.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt && c.jwks.is_empty() {
        return Err(invalid(
            "jwks: a private_key_jwt client registers at least one key",
        ));
    }
    let needs_redirect = c.allows(GrantType::AuthorizationCode);
    check_uris("redirect_uris", &c.redirect_uris, needs_redirect)?;
    check_uris(
        "post_logout_redirect_uris",
        &c.post_logout_redirect_uris,
        false,
    )
}

/// A client that wants RS256 ID tokens makes sure the tenant has its RS256 key, published in
/// the JWKS before the first such token is signed.
async fn ensure_rs256(ctx: &Ctx, t: &Tenant, c: &Client) -> Result<()> {
    if c.id_token_signed_response_alg != IdTokenAlg::RS256 {
        return Ok(());
    }
    let (_, made) = ctx
        .rsa_keys
        .ensure(&ctx.docs, &ctx.master, t.id(), ctx.now())
        .await?;
    if made {
        crate::tenants::publish(&ctx.stores(), t, ctx.now()).await?;
    }
    Ok(())
}

/// Registers a client; the secret (confidential clients) is returned once.
pub async fn create(
    ctx: &Ctx,
    t: &Tenant,
    by: &Principal,
    who: &ClientMeta,
    new: NewClient,
) -> Result<(Client, i64, Option<String>)> {
    let name = text("name", &new.name, 128)?;
    let description = new
        .description
        .as_deref()
        .map(|d| text("description", d, 1024))
        .transpose()?;
    let scopes = new
        .scopes
        .clone()
        .unwrap_or_else(|| IDENTITY_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    check_client_scopes(by, &scopes)?;
    insert_new(
        ctx,
        t,
        who,
        new,
        name,
        description,
        scopes,
        by.subject.clone(),
    )
    .await
}

/// Dynamic client registration (RFC 7591), when the tenant allows it: anyone may register a
/// client for signing people in — OpenID scopes only (no permission scopes: the registrant
/// holds none), the code, refresh and device grants only, never first-party (consent is always
/// asked).
pub async fn register(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    new: NewClient,
) -> Result<(Client, i64, Option<String>)> {
    if !t.oauth.dynamic_registration {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            "dynamic client registration is off for this tenant",
        ));
    }
    let now = ctx.now();
    let (n, reset) = ctx
        .hot
        .hit(&counter("oauth-register", t.id(), &[&who.ip]), 3600, now)
        .await?;
    if n > 20 {
        return Err(Error::too_many_requests((reset - now).max(1) as u64));
    }
    let name = text("client_name", &new.name, 128)?;
    let scopes = new
        .scopes
        .clone()
        .unwrap_or_else(|| IDENTITY_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    if let Some(s) = scopes
        .iter()
        .find(|s| !IDENTITY_SCOPES.contains(&s.as_str()))
    {
        return Err(invalid(format!(
            "scope: `{s}` cannot be registered dynamically (OpenID scopes only)"
        )));
    }
    if let Some(g) = new
        .grant_types
        .iter()
        .flatten()
        .find(|g| matches!(g, GrantType::ClientCredentials))
    {
        return Err(invalid(format!(
            "grant_types: {g:?} cannot be registered dynamically"
        )));
    }
    if new.skip_consent {
        return Err(invalid(
            "skip_consent: not for dynamically registered clients",
        ));
    }
    insert_new(
        ctx,
        t,
        who,
        new,
        name,
        None,
        scopes,
        "dynamic_registration".into(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert_new(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    new: NewClient,
    name: String,
    description: Option<String>,
    scopes: Vec<String>,
    creator: String,
) -> Result<(Client, i64, Option<String>)> {
    if let Some(rt) = &new.response_types {
        if rt.iter().any(|r| r != "code") {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "response_types: only `code` (implicit and hybrid flows are not offered: OAuth 2.1)",
            ));
        }
    }
    let method = new
        .token_endpoint_auth_method
        .unwrap_or(AuthMethod::ClientSecretBasic);
    let now = ctx.now();
    let secret = method.uses_secret().then(new_secret).transpose()?;
    let jwks = super::assertion::check_keys(&new.jwks.clone().unwrap_or_default())?;
    let mut grant_types = new
        .grant_types
        .unwrap_or_else(|| vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    grant_types.dedup();
    let client = Client {
        client_id: format!("{ID_PREFIX}{}", usso_shared::random::hex_id()?),
        tenant_id: t.id().to_owned(),
        name,
        description,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        grant_types,
        token_endpoint_auth_method: method,
        scopes,
        skip_consent: new.skip_consent,
        secret_hash: secret.as_deref().map(secret_hash),
        id_token_signed_response_alg: new.id_token_signed_response_alg.unwrap_or_default(),
        jwks,
        is_active: true,
        created_by: Some(creator.clone()),
        created_at: now,
        updated_at: now,
    };
    check_settings(&client)?;
    ensure_rs256(ctx, t, &client).await?;
    let doc = ctx
        .docs
        .insert(OAUTH_CLIENTS, t.id(), &client.client_id, encode(&client)?)
        .await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::OauthClientCreated,
        who,
        json!({"client_id": client.client_id, "by": creator, "scopes": client.scopes}),
    )
    .await;
    Ok((client, doc.version, secret))
}

/// The client `id` of the tenant, or `not_found` (whatever another tenant holds).
pub async fn get<D: DocumentStore>(docs: &D, tenant: &str, id: &str) -> Result<(Client, i64)> {
    if !id.starts_with(ID_PREFIX) || id.len() > 64 {
        return Err(not_found());
    }
    let doc = docs
        .get(OAUTH_CLIENTS, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    Ok((decode(doc.body)?, doc.version))
}

/// The client a request names: a registered one, or, where the tenant allows it, the client a
/// metadata document URL describes ([`super::metadata`]). `invalid_client` when there is none.
pub async fn resolve(ctx: &Ctx, t: &Tenant, id: &str) -> Result<Client> {
    if super::metadata::is_url(id) {
        if !t.oauth.client_id_metadata_documents {
            return Err(client_failed(
                "this tenant does not take client ID metadata documents",
            ));
        }
        return ctx.metadata.client(t.id(), id, ctx.now()).await;
    }
    match get(&ctx.docs, t.id(), id).await {
        Ok((c, _)) => Ok(c),
        Err(e) if e.code() == ErrorCode::NotFound => Err(client_failed("unknown client")),
        Err(e) => Err(e),
    }
}

/// The tenant's clients, newest first, with the total.
pub async fn list(
    ctx: &Ctx,
    tenant: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(Client, i64)>, u64)> {
    let page = ctx
        .docs
        .query(
            OAUTH_CLIENTS,
            tenant,
            &Query {
                conds: Vec::new(),
                sort: Sort::Newest,
                offset,
                limit,
            },
        )
        .await?;
    let items = page
        .items
        .into_iter()
        .map(|d| Ok((decode(d.body)?, d.version)))
        .collect::<Result<Vec<_>>>()?;
    Ok((items, page.total))
}

/// Changes a client (optimistic concurrency with `if_match`).
pub async fn update(
    ctx: &Ctx,
    t: &Tenant,
    by: &Principal,
    who: &ClientMeta,
    id: &str,
    change: ClientChange,
    if_match: Option<i64>,
) -> Result<(Client, i64)> {
    let (mut c, version) = get(&ctx.docs, t.id(), id).await?;
    check_if_match("client", if_match, version)?;
    if let Some(n) = change.name {
        c.name = text("name", &n, 128)?;
    }
    if let Some(d) = change.description {
        c.description = Some(text("description", &d, 1024)?);
    }
    if let Some(u) = change.redirect_uris {
        c.redirect_uris = u;
    }
    if let Some(u) = change.post_logout_redirect_uris {
        c.post_logout_redirect_uris = u;
    }
    if let Some(g) = change.grant_types {
        c.grant_types = g;
        c.grant_types.dedup();
    }
    if let Some(s) = change.scopes {
        check_client_scopes(by, &s)?;
        c.scopes = s;
    }
    if let Some(s) = change.skip_consent {
        c.skip_consent = s;
    }
    if let Some(a) = change.is_active {
        c.is_active = a;
    }
    if let Some(k) = change.jwks {
        c.jwks = super::assertion::check_keys(&k)?;
    }
    if let Some(a) = change.id_token_signed_response_alg {
        c.id_token_signed_response_alg = a;
    }
    check_settings(&c)?;
    ensure_rs256(ctx, t, &c).await?;
    c.updated_at = ctx.now();
    let doc = ctx
        .docs
        .replace(OAUTH_CLIENTS, t.id(), id, encode(&c)?, version)
        .await
        .map_err(lost_race("client", version))?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::OauthClientUpdated,
        who,
        json!({"client_id": id, "by": by.subject}),
    )
    .await;
    Ok((c, doc.version))
}

/// A new secret for a confidential client (the old one stops working at once).
pub async fn rotate_secret(
    ctx: &Ctx,
    t: &Tenant,
    by: &Principal,
    who: &ClientMeta,
    id: &str,
) -> Result<(Client, i64, String)> {
    let (mut c, version) = get(&ctx.docs, t.id(), id).await?;
    if !c.token_endpoint_auth_method.uses_secret() {
        return Err(invalid(
            "this client has no secret (public, or private_key_jwt)",
        ));
    }
    let secret = new_secret()?;
    c.secret_hash = Some(secret_hash(&secret));
    c.updated_at = ctx.now();
    let doc = ctx
        .docs
        .replace(OAUTH_CLIENTS, t.id(), id, encode(&c)?, version)
        .await
        .map_err(lost_race("client", version))?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::OauthClientUpdated,
        who,
        json!({"client_id": id, "by": by.subject, "secret": "rotated"}),
    )
    .await;
    Ok((c, doc.version, secret))
}

/// Deletes a client; its refresh tokens stop working at their next use (the token endpoint
/// finds no client).
pub async fn delete(
    ctx: &Ctx,
    t: &Tenant,
    by: &Principal,
    who: &ClientMeta,
    id: &str,
) -> Result<()> {
    get(&ctx.docs, t.id(), id).await?;
    ctx.docs.delete(OAUTH_CLIENTS, t.id(), id).await?;
    crate::audit::client(
        ctx,
        t.id(),
        AuditEvent::OauthClientDeleted,
        who,
        json!({"client_id": id, "by": by.subject}),
    )
    .await;
    Ok(())
}

/// What a request to the token, introspection or revocation endpoint presented as the
/// client's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// HTTP Basic.
    Basic {
        /// Client id.
        client_id: String,
        /// Secret.
        secret: String,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        /// Client id.
        client_id: String,
        /// Secret.
        secret: String,
    },
    /// Only a `client_id` (a public client).
    IdOnly {
        /// Client id.
        client_id: String,
    },
    /// A JWT assertion (`private_key_jwt`).
    Assertion {
        /// Client id.
        client_id: String,
        /// The JWT.
        assertion: String,
    },
    /// Nothing.
    Nothing,
}

impl Presented {
    fn client_id(&self) -> Option<&str> {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::IdOnly { client_id }
            | Self::Assertion { client_id, .. } => Some(client_id),
            Self::Nothing => None,
        }
    }
}

fn client_failed(detail: &str) -> Error {
    Error::new(ErrorCode::InvalidClient, detail)
}

/// Authenticates the client of a request: the client, active, whose registered method is the
/// one used and whose secret matches. Every failure is `invalid_client`. Attempts are counted
/// before the check per (client, address), and a success clears the count: guesses are bounded,
/// and nobody else's guesses lock the client out of another address.
pub async fn authenticate(
    ctx: &Ctx,
    t: &Tenant,
    who: &ClientMeta,
    presented: &Presented,
) -> Result<Client> {
    let Some(id) = presented.client_id() else {
        return Err(client_failed("no client authentication"));
    };
    let now = ctx.now();
    // One counter per (client, address), counted before the check; a success clears it. (A
    // secret is 256 random bits: the limit bounds abuse, not a guess that could succeed.)
    let pair = counter("oauth-client", t.id(), &[id, &who.ip]);
    let (n, reset) = ctx.hot.hit(&pair, FAILURE_WINDOW_SECS, now).await?;
    if n > PAIR_FAILURES {
        return Err(Error::too_many_requests_because(
            (reset - now).max(1) as u64,
            "too many failed client authentications from this address",
        ));
    }
    let outcome = check(ctx, t, id, presented).await;
    match &outcome {
        // The first attempt of a window leaves 1 behind; later ones clear what failures left.
        Ok(_) if n > 1 => ctx.hot.clear(&[pair]).await?,
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::InvalidClient => {
            crate::audit::counted(
                ctx,
                t.id(),
                AuditEvent::OauthClientAuthFailed,
                who,
                &format!("oauth-client-fail:{id}"),
                FAILURE_WINDOW_SECS,
                json!({"client_id": id, "reason": e.detail()}),
            )
            .await;
        }
        Err(_) => {}
    }
    outcome
}

async fn check(ctx: &Ctx, t: &Tenant, id: &str, presented: &Presented) -> Result<Client> {
    let client = resolve(ctx, t, id).await?;
    if !client.is_active {
        return Err(client_failed("the client is deactivated"));
    }
    let secret = match (client.token_endpoint_auth_method, presented) {
        (AuthMethod::ClientSecretBasic, Presented::Basic { secret, .. })
        | (AuthMethod::ClientSecretPost, Presented::Post { secret, .. }) => secret,
        (AuthMethod::None, Presented::IdOnly { .. }) => return Ok(client),
        (AuthMethod::PrivateKeyJwt, Presented::Assertion { assertion, .. }) => {
            let iss = t.tokens.issuer.trim_end_matches('/');
            let audiences = [
                format!("{iss}{}", usso_shared::paths::OAUTH_TOKEN),
                iss.to_owned(),
                format!("{iss}/"),
            ];
            super::assertion::verify(ctx, t.id(), id, &client.jwks, assertion, &audiences).await?;
            return Ok(client);
        }
        _ => {
            return Err(client_failed(
                "this client authenticates with another method",
            ))
        }
    };
    let stored = client.secret_hash.as_deref().unwrap_or_default();
    let given = secret_hash(secret);
    if stored.len() == given.len() && bool::from(stored.as_bytes().ct_eq(given.as_bytes())) {
        Ok(client)
    } else {
        Err(client_failed("wrong client secret"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(valid_redirect_uri(ok), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,x",
            "https:///nohost",
            "https://a.example/ b",
            "myapp:/cb",
        ] {
            assert!(!valid_redirect_uri(bad), "{bad}");
        }
    }
}
