//! Tenants: their full policy (stored in the document store) and the view published to the hot
//! store for the token routes, plus each tenant's signing keys (sealed at rest) and rotation.

pub mod provision;

use serde::{Deserialize, Serialize};
use serde_json::json;
use usso_edge::store::key;
use usso_edge::TenantConfig;
use usso_shared::keys::{KeyPair, KeyRing, KeyStatus};
use usso_shared::rotation::RotationPolicy;
use usso_shared::seal::SecretKey;
use usso_shared::{Error, ErrorCode, Result};

use crate::store::docs::{DocumentStore, TENANTS};
use crate::store::hot::Publish;

pub use crate::store::collections::KEYS;
/// The tenant created on first start.
pub const DEFAULT_TENANT: &str = "org_default";

/// A request-count limit in a fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// Requests allowed per window.
    pub max: u64,
    /// Window length in seconds.
    pub window_secs: i64,
}

/// A tenant and its policy: the token policy the edge also sees ([`TenantConfig`], stored
/// flattened into the same document) plus what only the origin enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Issuer, audience, domains, lifetimes, leeway, rotation policy, JWKS caching.
    #[serde(flatten)]
    pub tokens: TenantConfig,
    /// Display name (used in messages).
    pub name: String,
    /// Whether unknown identifiers may register.
    pub registration_enabled: bool,
    /// Minimum password length (characters).
    pub password_min_length: usize,
    /// Login attempts per (identifier, IP).
    pub login_limit_pair: Limit,
    /// Login attempts per identifier.
    pub login_limit_identifier: Limit,
    /// Login attempts per client address (any identifiers).
    #[serde(default = "login_ip_limit")]
    pub login_limit_ip: Limit,
    /// One-time codes: length, lifetime, attempts.
    #[serde(default)]
    pub otp: crate::authn::codes::OtpPolicy,
    /// Code requests per identifier.
    #[serde(default = "otp_request_limit")]
    pub otp_limit_identifier: Limit,
    /// Code requests per client address.
    #[serde(default = "otp_request_limit")]
    pub otp_limit_ip: Limit,
    /// Message templates (defaults when unset).
    #[serde(default)]
    pub templates: crate::delivery::Templates,
    /// Lifetime of a magic link, in seconds.
    #[serde(default = "magic_link_ttl")]
    pub magic_link_ttl_secs: i64,
    /// Where a magic link may send the browser afterwards: absolute URLs, or prefixes ending
    /// in `/`.
    #[serde(default)]
    pub allowed_redirects: Vec<String>,
    /// A password login also needs a one-time code (second factor).
    #[serde(default)]
    pub require_mfa: bool,
    /// What a password account needs before it may sign in (the USSO activation rule):
    /// `none`, or `identifier` (its email or phone proven by a code first). Tenants stored
    /// before this field existed read as `none`; `tenant create` makes `identifier`.
    #[serde(default)]
    pub activation: crate::tenants::Activation,
    /// Routes that need a solved proof-of-work challenge (`otp`, `magic_link`, `login`).
    #[serde(default)]
    pub captcha: Vec<String>,
    /// This tenant's own SMTP relay and sender (else the origin's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<TenantSmtp>,
    /// Service accounts (agents): `{"enabled": bool}`. Unset: on for the default tenant, off
    /// for every other ([`Tenant::agents_enabled`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<AgentsPolicy>,
    /// How the hosted pages look: logo, colours, support address, default language.
    #[serde(default)]
    pub branding: Branding,
    /// The OAuth provider's per-tenant switches.
    #[serde(default)]
    pub oauth: OAuthPolicy,
    /// Creation time.
    pub created_at: i64,
}

/// The OAuth provider's settings of a tenant.
///
/// Invariant: a token's audience is the tenant's own or one of `resources`, each an absolute
/// `https` URI (or `http` on a loopback host) without fragment, so a client cannot obtain a
/// token for an arbitrary audience (RFC 8707 §2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthPolicy {
    /// Anyone may register a client (RFC 7591) at `/oauth/register`: public or confidential,
    /// OpenID scopes only, consent always asked. Off unless set.
    #[serde(default)]
    pub dynamic_registration: bool,
    /// Resource servers (RFC 8707 `resource` values, e.g. an MCP server's URL) tokens may be
    /// issued for; their access tokens carry that URI as `aud`.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Clients may name themselves by the URL of a client ID metadata document (the MCP
    /// authorization profile), fetched with the rules of [`crate::oauth::metadata`]. Off unless
    /// set.
    #[serde(default)]
    pub client_id_metadata_documents: bool,
    /// DPoP proofs must carry a nonce this server made (RFC 9449 §8–9) at the token endpoint,
    /// userinfo and every route a bound token is presented to, here and at the edges. Off
    /// unless set.
    #[serde(default)]
    pub dpop_nonce: bool,
}

impl OAuthPolicy {
    fn validate(&self) -> Result<()> {
        if self.resources.len() > 50 {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "oauth.resources: at most 50",
            ));
        }
        match self
            .resources
            .iter()
            .find(|r| !crate::identity::fields::valid_resource(r))
        {
            Some(r) => Err(Error::new(
                ErrorCode::ValidationError,
                format!("oauth.resources: `{r}` must be an absolute https URI without fragment"),
            )),
            None => Ok(()),
        }
    }
}

/// Whether a tenant has service accounts (agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsPolicy {
    /// Agents may be created, register and sign in.
    pub enabled: bool,
}

/// How a tenant's hosted pages look (all optional; the product's own look otherwise).
///
/// Invariant: every value reaches a page only through a template's escaping or the generated
/// style sheet, and is checked here first: colours are `#rrggbb` only (nothing else can enter
/// CSS), the logo is an `https` URL (the pages' Content-Security-Policy allows images from
/// `https:` only), the support address is a plain e-mail address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// Logo shown beside the name (`https://…`, at most 2048 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// Buttons and links (`#rrggbb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// The page background (`#rrggbb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    /// Where people ask for help (shown at the foot of every page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_email: Option<String>,
    /// The pages' language when the browser asks for none we have (`en` or `fa`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
}

impl Branding {
    /// Checks every field (see the type's invariant).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::new(ErrorCode::ValidationError, m.to_owned()));
        let hex = |c: &str| {
            c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
        };
        for c in [&self.primary_color, &self.background_color]
            .into_iter()
            .flatten()
        {
            if !hex(c) {
                return bad("branding colours: #rrggbb");
            }
        }
        if let Some(url) = &self.logo_url {
            if !crate::identity::fields::is_https_url(url) {
                return bad("branding.logo_url: an https:// URL of at most 2048 characters");
            }
        }
        if let Some(mail) = &self.support_email {
            let ok = crate::identity::identifier::Identifier::parse(mail, Some("email"))
                .is_ok_and(|i| &i.value == mail);
            if !ok {
                return bad("branding.support_email: an e-mail address");
            }
        }
        if let Some(l) = &self.default_language {
            if !["en", "fa"].contains(&l.as_str()) {
                return bad("branding.default_language: en or fa");
            }
        }
        Ok(())
    }
}

impl Tenant {
    /// A tenant with the contract's defaults.
    pub fn new(
        id: &str,
        name: &str,
        issuer: &str,
        access_ttl: i64,
        refresh_ttl: i64,
        now: i64,
    ) -> Self {
        let mut tokens = TenantConfig::new(id, issuer);
        tokens.access_ttl_secs = access_ttl;
        tokens.refresh_ttl_secs = refresh_ttl;
        tokens.rotation = RotationPolicy {
            absolute_lifetime_secs: refresh_ttl
                .max(RotationPolicy::default().absolute_lifetime_secs),
            ..RotationPolicy::default()
        };
        Self {
            tokens,
            name: name.into(),
            registration_enabled: true,
            password_min_length: 8,
            login_limit_pair: Limit {
                max: 5,
                window_secs: 300,
            },
            login_limit_identifier: Limit {
                max: 20,
                window_secs: 300,
            },
            login_limit_ip: login_ip_limit(),
            otp: crate::authn::codes::OtpPolicy::default(),
            otp_limit_identifier: otp_request_limit(),
            otp_limit_ip: otp_request_limit(),
            templates: crate::delivery::Templates::default(),
            magic_link_ttl_secs: magic_link_ttl(),
            allowed_redirects: Vec::new(),
            require_mfa: false,
            activation: crate::tenants::Activation::None,
            captcha: Vec::new(),
            smtp: None,
            agents: None,
            branding: Branding::default(),
            oauth: OAuthPolicy::default(),
            created_at: now,
        }
    }

    /// The tenant id.
    pub fn id(&self) -> &str {
        &self.tokens.tenant_id
    }

    /// Whether service accounts (agents) are on: as set, else on for the default tenant only.
    pub fn agents_enabled(&self) -> bool {
        self.agents
            .map_or(self.id() == DEFAULT_TENANT, |a| a.enabled)
    }

    /// How long a retired key keeps verifying: as long as the longest-lived token it signed
    /// (a refresh token, or an access token plus JWKS caching).
    pub fn key_retention_secs(&self) -> i64 {
        // Refresh tokens are signed with the access key schedule: a retired key keeps
        // verifying for as long as a refresh token it signed can live, so a rotation never
        // ends an idle session (the next refresh re-signs with the new key).
        let access = self.tokens.access_ttl_secs + self.tokens.jwks_max_age_secs;
        let refresh = self
            .tokens
            .refresh_ttl_secs
            .max(self.tokens.rotation.absolute_lifetime_secs);
        access.max(refresh) + 60
    }
}

/// A tenant's own SMTP relay: the settings without the password, which is sealed under the
/// master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSmtp {
    /// Relay, port, security, user and sender (`password` always `None` here).
    pub settings: crate::delivery::SmtpSettings,
    /// The sealed password, if any.
    pub sealed_password: Option<String>,
}

impl TenantSmtp {
    /// Seals `password` for `tenant`.
    pub fn new(
        mut settings: crate::delivery::SmtpSettings,
        master: &SecretKey,
        tenant: &str,
    ) -> Result<Self> {
        let sealed_password = settings
            .password
            .take()
            .map(|p| {
                usso_shared::seal::seal_text(
                    &master.derive(b"usso tenant smtp v1"),
                    tenant.as_bytes(),
                    p.as_bytes(),
                )
            })
            .transpose()?;
        Ok(Self {
            settings,
            sealed_password,
        })
    }

    /// The settings with the password opened.
    pub fn open(&self, master: &SecretKey, tenant: &str) -> Result<crate::delivery::SmtpSettings> {
        let mut settings = self.settings.clone();
        if let Some(sealed) = &self.sealed_password {
            let plain = usso_shared::seal::open_text(
                &master.derive(b"usso tenant smtp v1"),
                tenant.as_bytes(),
                sealed,
            )?;
            settings.password = Some(
                String::from_utf8(plain.to_vec())
                    .map_err(|_| Error::internal("sealed SMTP password is not text"))?,
            );
        }
        Ok(settings)
    }
}

/// Default limit on login attempts from one address: 100 per 300 s.
pub fn login_ip_limit() -> Limit {
    Limit {
        max: 100,
        window_secs: 300,
    }
}

/// Default magic-link lifetime: 15 minutes.
pub fn magic_link_ttl() -> i64 {
    900
}

/// The contract's default for code requests: 3 per 300 s.
pub fn otp_request_limit() -> Limit {
    Limit {
        max: 3,
        window_secs: 300,
    }
}

/// Checks a tenant id: 1–64 of `[A-Za-z0-9_-]`.
pub fn valid_tenant_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::ValidationError,
            "tenant id must be 1-64 characters of A-Z, a-z, 0-9, `_` and `-`",
        ))
    }
}

/// Reads a tenant.
pub async fn load<D: DocumentStore>(docs: &D, id: &str) -> Result<Option<Tenant>> {
    match docs.get(TENANTS, id, id).await? {
        Some(d) => serde_json::from_value(d.body)
            .map(Some)
            .map_err(|e| Error::internal(format!("corrupt tenant `{id}`: {e}"))),
        None => Ok(None),
    }
}

/// Policy fields an operator may change with `tenant update` (the id, keys, timestamps and the
/// sealed SMTP password are not among them).
pub const UPDATABLE: [&str; 21] = [
    "name",
    "registration_enabled",
    "password_min_length",
    "login_limit_pair",
    "login_limit_identifier",
    "login_limit_ip",
    "otp",
    "otp_limit_identifier",
    "otp_limit_ip",
    "templates",
    "magic_link_ttl_secs",
    "allowed_redirects",
    "require_mfa",
    "activation",
    "captcha",
    "is_active",
    "access_ttl_secs",
    "refresh_ttl_secs",
    "agents",
    "branding",
    "oauth",
];

impl Tenant {
    /// The password policy of this tenant.
    pub fn password_policy(&self) -> crate::authn::hasher::PasswordPolicy {
        crate::authn::hasher::PasswordPolicy {
            min_length: self.password_min_length,
            ..Default::default()
        }
    }

    /// Checks the operator-settable policy.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::new(ErrorCode::ValidationError, m.to_owned()));
        self.otp.validate()?;
        self.templates.validate()?;
        self.branding.validate()?;
        self.oauth.validate()?;
        if self.name.trim().is_empty() || self.name.chars().count() > 128 {
            return bad("name: 1 to 128 characters");
        }
        if !(8..=128).contains(&self.password_min_length) {
            return bad("password_min_length: 8 to 128");
        }
        if !(60..=86_400).contains(&self.magic_link_ttl_secs) {
            return bad("magic_link_ttl_secs: 60 to 86400");
        }
        for limit in [
            self.login_limit_pair,
            self.login_limit_identifier,
            self.login_limit_ip,
            self.otp_limit_identifier,
            self.otp_limit_ip,
        ] {
            if limit.max == 0 || !(1..=86_400).contains(&limit.window_secs) {
                return bad("limits: max ≥ 1, window 1 to 86400 seconds");
            }
        }
        if self
            .allowed_redirects
            .iter()
            .any(|r| !(r.starts_with("https://") || r.starts_with("http://")))
        {
            return bad("allowed_redirects (--redirect): absolute http(s) URLs");
        }
        if self
            .captcha
            .iter()
            .any(|c| !["otp", "magic_link", "login"].contains(&c.as_str()))
        {
            return bad("captcha (--captcha): otp, magic_link or login");
        }
        if !(60..=86_400).contains(&self.tokens.access_ttl_secs)
            || self.tokens.refresh_ttl_secs <= self.tokens.access_ttl_secs
        {
            return bad("access_ttl_secs 60 to 86400, refresh_ttl_secs longer");
        }
        Ok(())
    }
}

/// Applies `changes` (a JSON object of [`UPDATABLE`] fields) to tenant `id` with a
/// compare-and-set, validates the result, and returns it (publish it afterwards).
pub async fn update<D: DocumentStore>(
    docs: &D,
    id: &str,
    changes: &serde_json::Value,
) -> Result<Tenant> {
    let changes = changes.as_object().ok_or_else(|| {
        Error::new(
            ErrorCode::ValidationError,
            "the changes must be a JSON object",
        )
    })?;
    if let Some(k) = changes.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        return Err(Error::new(
            ErrorCode::ValidationError,
            format!(
                "`{k}` cannot be changed here; changeable: {}",
                UPDATABLE.join(", ")
            ),
        ));
    }
    let doc = docs
        .get(TENANTS, id, id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::TenantNotFound, format!("no tenant `{id}`")))?;
    let mut body = doc.body;
    for (k, v) in changes {
        body[k] = v.clone();
    }
    let tenant: Tenant = serde_json::from_value(body.clone()).map_err(|e| {
        Error::new(
            ErrorCode::ValidationError,
            format!("invalid tenant settings: {e}"),
        )
    })?;
    tenant.validate()?;
    docs.replace(TENANTS, id, id, body, doc.version).await?;
    Ok(tenant)
}

/// Replaces the domains of tenant `id` (compare-and-set) and returns it (publish it
/// afterwards; see [`provision::change`] for what happens to domains given up).
pub async fn set_domains<D: DocumentStore>(
    docs: &D,
    id: &str,
    domains: &[String],
) -> Result<Tenant> {
    let doc = docs
        .get(TENANTS, id, id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::TenantNotFound, format!("no tenant `{id}`")))?;
    let mut body = doc.body;
    body["domains"] = serde_json::json!(domains);
    let tenant: Tenant = serde_json::from_value(body.clone())
        .map_err(|e| Error::internal(format!("corrupt tenant `{id}`: {e}")))?;
    tenant.validate()?;
    docs.replace(TENANTS, id, id, body, doc.version).await?;
    Ok(tenant)
}

/// Creates a tenant with a first signing key after checking its id and policy
/// ([`Tenant::validate`], the same check as [`update`]); `conflict` if it exists.
pub async fn create<D: DocumentStore>(
    docs: &D,
    master: &SecretKey,
    tenant: &Tenant,
    now: i64,
) -> Result<()> {
    valid_tenant_id(tenant.id())?;
    tenant.validate()?;
    let body = serde_json::to_value(tenant).map_err(|e| Error::internal(e.to_string()))?;
    docs.insert(TENANTS, tenant.id(), tenant.id(), body).await?;
    let pair = KeyPair::generate()?;
    save_key(
        docs,
        master,
        tenant.id(),
        &pair,
        KeyStatus::Active,
        None,
        now,
    )
    .await
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyDoc {
    kid: String,
    status: KeyStatus,
    sealed: String,
    created_at: i64,
    #[serde(default)]
    retire_at: Option<i64>,
}

async fn save_key<D: DocumentStore>(
    docs: &D,
    master: &SecretKey,
    tenant: &str,
    pair: &KeyPair,
    status: KeyStatus,
    retire_at: Option<i64>,
    now: i64,
) -> Result<()> {
    let doc = KeyDoc {
        kid: pair.kid().to_owned(),
        status,
        sealed: pair.seal(master)?,
        created_at: now,
        retire_at,
    };
    let body = serde_json::to_value(&doc).map_err(|e| Error::internal(e.to_string()))?;
    docs.upsert(KEYS, tenant, pair.kid(), body).await?;
    Ok(())
}

/// A tenant's key ring from the document store (keys opened with the master key).
pub async fn ring<D: DocumentStore>(docs: &D, master: &SecretKey, tenant: &str) -> Result<KeyRing> {
    let page = docs.find(KEYS, tenant, &[], 0, 1000).await?;
    let mut ring = KeyRing::new();
    for d in page.items {
        let k: KeyDoc = serde_json::from_value(d.body)
            .map_err(|e| Error::internal(format!("corrupt key: {e}")))?;
        let pair = KeyPair::open(master, &k.kid, &k.sealed).map_err(|_| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!(
                    "signing key {} of tenant {tenant} does not open: wrong USSO_MASTER_KEY?",
                    k.kid
                ),
            )
        })?;
        ring.add(pair, k.status, k.retire_at);
    }
    Ok(ring)
}

/// Rotates a tenant's signing key: a fresh key becomes active, the active one becomes previous
/// and keeps verifying for the retention period; retired keys are deleted. The tenant's RS256
/// ID-token key, if it has one, is rotated too (the old one stays published for the same
/// period). Returns the new kid.
pub async fn rotate_key<D: DocumentStore>(
    docs: &D,
    master: &SecretKey,
    tenant: &Tenant,
    now: i64,
) -> Result<String> {
    let mut ring = ring(docs, master, tenant.id()).await?;
    let before: Vec<String> = ring.keys().iter().map(|k| k.kid().to_owned()).collect();
    let kid = ring.rotate(KeyPair::generate()?, now, tenant.key_retention_secs());
    for k in ring.keys() {
        if let Some(pair) = k.key_pair() {
            save_key(
                docs,
                master,
                tenant.id(),
                pair,
                k.status(),
                k.retire_at(),
                now,
            )
            .await?;
        }
    }
    for old in before {
        if !ring.keys().iter().any(|k| k.kid() == old) {
            docs.delete(KEYS, tenant.id(), &old).await?;
        }
    }
    crate::oauth::rsa_key::rotate(docs, master, tenant.id(), now, tenant.key_retention_secs())
        .await?;
    Ok(kid)
}

/// A summary of a tenant's keys for the CLI.
pub async fn list_keys<D: DocumentStore>(
    docs: &D,
    master: &SecretKey,
    tenant: &str,
) -> Result<Vec<serde_json::Value>> {
    let ring = ring(docs, master, tenant).await?;
    Ok(ring
        .keys()
        .iter()
        .map(|k| json!({"kid": k.kid(), "status": k.status(), "retire_at": k.retire_at()}))
        .collect())
}

/// Publishes a tenant's policy, domains and key set to the hot store for the token routes.
pub async fn publish(stores: &crate::store::Stores, tenant: &Tenant, now: i64) -> Result<()> {
    let (docs, hot, master) = (&stores.docs, &stores.hot, &stores.master);
    let ring = ring(docs, master, tenant.id()).await?;
    // Sealed under the edge key, not the master key: the edges hold only that.
    let mut set = ring.publish(tenant.id(), &stores.edge_key, now)?;
    // The RS256 ID-token key, if a client made the tenant have one (never verifies access
    // tokens: published for relying parties only).
    set.other_jwks
        .extend(crate::oauth::rsa_key::public_jwks(docs, tenant.id(), now).await?);
    hot.set(&key::keys(tenant.id()), &to_json(&set)?).await?;
    let mut published = tenant.tokens.clone();
    published.oauth_registration = tenant.oauth.dynamic_registration;
    published.oauth_metadata_documents = tenant.oauth.client_id_metadata_documents;
    published.dpop_nonce = tenant.oauth.dpop_nonce;
    hot.set(&key::tenant(tenant.id()), &to_json(&published)?)
        .await?;
    for d in &tenant.tokens.domains {
        hot.set(&key::domain(d), tenant.id()).await?;
    }
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(e.to_string()))
}

/// The tenant's activation rule (USSO's `activation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Password accounts sign in at once.
    #[default]
    None,
    /// A password account signs in only once its email or phone is proven.
    Identifier,
}

/// A request's tenant: its policy and its token state (keys, published config), resolved once
/// by the HTTP layer and handed to the domain.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    /// The tenant's policy.
    pub tenant: Tenant,
    /// Its token state (signing ring, edge config).
    pub state: std::sync::Arc<usso_edge::TenantState>,
}
