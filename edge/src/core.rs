//! The edge core: tenant resolution, the in-memory key cache and the token routes, over any
//! [`HotStore`] and [`Clock`]. Adapters build one `EdgeCore` per isolate/instance and call
//! [`EdgeCore::handle`] for every request.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Waker};

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use usso_shared::claims::{AccessClaims, RefreshClaims, TokenClaims};
use usso_shared::clock::Clock;
use usso_shared::keys::{KeyRing, PublishedKeySet};
use usso_shared::paths;
use usso_shared::rotation::{self, jti_hash, Outcome, SessionRecord, Successor, REASON_LOGOUT};
use usso_shared::seal::SecretKey;
use usso_shared::token::{
    PortableSignatures, SignatureCheck, UnverifiedToken, Validation, Verified,
};
use usso_shared::{dpop, encoding, random, Error, ErrorCode, Result};

use crate::http::{Method, Request, Response};
use crate::issue::{self, TokenPair, ACCESS_COOKIE, REFRESH_COOKIE};
use crate::store::{key, HotStore};
use crate::tenant::{host_name, TenantConfig};
use crate::verified::VerifiedCache;

/// API prefix of the contract.
pub const API: &str = paths::PREFIX;

/// The routes the edge core answers: `(method, path)`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", paths::JWKS),
    ("GET", paths::DISCOVERY),
    ("GET", paths::OAUTH_METADATA),
    ("POST", paths::VERIFY_TOKEN),
    ("GET", paths::AUTH_ME),
    ("GET", paths::ME),
    ("POST", paths::REFRESH),
    ("GET", paths::REFRESH),
    ("POST", paths::LOGOUT),
    ("GET", paths::LOGOUT),
    ("POST", paths::APIKEYS_VERIFY),
    ("POST", paths::API_KEYS_VERIFY_ALIAS),
];

/// What a request did to a session, reported to the caller of [`EdgeCore::handle_reporting`]
/// (the origin audits it) so nobody has to re-read the response body to learn it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// A refresh token was rotated (or a rotation replayed within the grace window).
    Refreshed {
        /// Tenant.
        tenant_id: String,
        /// Session.
        session_id: String,
    },
    /// A rotated-out refresh token came back; the session was revoked.
    ReuseDetected {
        /// Tenant.
        tenant_id: String,
        /// Session.
        session_id: String,
    },
    /// A session was ended by logout.
    LoggedOut {
        /// Tenant.
        tenant_id: String,
        /// Session, when the token named a live one.
        session_id: Option<String>,
    },
}

/// Settings of an edge deployment.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// The edge keys ([`usso_shared::keys::edge_key`]) that may open the published (sealed)
    /// active private key: normally one; two while the edge key is being rotated.
    pub edge_keys: Vec<SecretKey>,
    /// Least time between two key-set reloads caused by unknown `kid`s.
    pub key_cooldown_secs: i64,
    /// Age after which a tenant's policy and keys are reloaded (one hot-store read per tenant
    /// per TTL on any route; between reloads verify does no I/O unless it meets an unknown
    /// `kid`).
    pub keyset_ttl_secs: i64,
    /// Check on every verify that the session is still live (one hot-store read).
    pub strict_verify: bool,
    /// Tenant for requests that name none (no `X-Tenant-ID`, no `Host`), e.g. behind a host
    /// that does not pass the `Host` header on (`wasmtime serve`). An unknown host is still an
    /// error.
    pub default_tenant: Option<String>,
    /// Serve the opt-in benchmark routes (see [`crate::bench`]); never in production.
    pub bench_routes: bool,
    /// Whether `X-Tenant-ID` may choose the tenant (the contract's first rule; on by default).
    /// Off, only `Host` (and `?domain=` for JWKS/discovery) does, so a deployment whose clients
    /// never send the header cannot be steered by it.
    pub tenant_header: bool,
    /// Entries of the verified-token memo ([`crate::verified`]); 0 turns it off.
    pub verified_cache_entries: usize,
}

impl EdgeConfig {
    /// Defaults: 30 s cooldown, 60 s key-set TTL, no strict verify.
    pub fn new(edge_key: SecretKey) -> Self {
        Self {
            edge_keys: vec![edge_key],
            key_cooldown_secs: 30,
            keyset_ttl_secs: 60,
            strict_verify: false,
            default_tenant: None,
            bench_routes: false,
            tenant_header: true,
            verified_cache_entries: crate::verified::DEFAULT_ENTRIES,
        }
    }
}

/// One tenant as cached in memory.
#[derive(Debug)]
pub struct TenantState {
    /// Policy.
    pub config: TenantConfig,
    /// Key ring (public keys and the opened active key).
    pub ring: KeyRing,
    /// Verification rules, built once.
    pub rules: Validation,
    /// Public keys published beside the ring's (never used to verify access tokens).
    pub other_jwks: Vec<serde_json::Value>,
    /// The tenant's DPoP server nonces, when its policy requires them.
    pub dpop_nonces: Option<dpop::Nonces>,
    loaded_at: i64,
    /// SHA-256 of the published key set it was built from.
    keys_digest: [u8; 32],
    /// The JWKS answer, built once per key state (until the next key retires).
    jwks_body: Mutex<Option<CachedBody>>,
    /// The discovery answer, built once.
    discovery_body: std::sync::OnceLock<CachedBody>,
}

/// A public answer made once: its body and `ETag`, valid while `now < until`.
#[derive(Debug, Clone)]
struct CachedBody {
    until: i64,
    body: Arc<[u8]>,
    etag: Arc<str>,
}

impl CachedBody {
    fn new(body: Vec<u8>, until: i64) -> Self {
        let digest = Sha256::digest(&body);
        Self {
            until,
            etag: format!("\"{}\"", encoding::hex_encode(&digest[..16])).into(),
            body: body.into(),
        }
    }
}

#[derive(Debug, Default)]
struct Cache {
    tenants: HashMap<String, Arc<TenantState>>,
    /// Last load attempt per tenant (success or not), for the unknown-`kid` cooldown.
    attempts: HashMap<String, i64>,
    /// Host → (tenant id or none, cached at).
    domains: HashMap<String, (Option<String>, i64)>,
    /// Tenant ids the hot store did not know → when that was seen (the negative cache).
    unknown: HashMap<String, i64>,
    /// Tenants being loaded for the first time → the requests waiting for that load (single
    /// flight: a cold isolate reads a tenant's keys once however many requests arrive).
    loading: HashMap<String, Vec<Waker>>,
}

/// Most domains remembered (resolved or not), and most unknown tenant ids remembered, before
/// the map is cleared: a flood of made-up `Host` or `X-Tenant-ID` values costs bounded memory.
const MAX_CACHED_DOMAINS: usize = 4096;

/// How long an unknown tenant id is answered from memory before the store is asked again.
const UNKNOWN_TENANT_TTL_SECS: i64 = 5;

/// The edge core. See the module docs. `V` computes the signature equations (Ed25519 for tokens
/// and proofs, ES256 for proofs): the portable Rust arithmetic by default, the platform's own
/// where it has one (node:crypto or WebCrypto on Workers); the rest of every check is the same
/// code everywhere.
pub struct EdgeCore<S, C, V = PortableSignatures> {
    store: S,
    clock: C,
    signatures: V,
    config: EdgeConfig,
    cache: RwLock<Cache>,
    verified: Mutex<VerifiedCache>,
}

impl<S: HotStore, C: Clock> EdgeCore<S, C> {
    /// A core over a hot store and a clock, verifying with `ed25519-dalek`.
    pub fn new(store: S, clock: C, config: EdgeConfig) -> Self {
        Self::with_signatures(store, clock, PortableSignatures, config)
    }
}

impl<S: HotStore, C: Clock, V: SignatureCheck> EdgeCore<S, C, V> {
    /// A core over a hot store, a clock and an implementation of the signature equations.
    pub fn with_signatures(store: S, clock: C, signatures: V, config: EdgeConfig) -> Self {
        Self {
            store,
            clock,
            signatures,
            verified: Mutex::new(VerifiedCache::new(config.verified_cache_entries)),
            config,
            cache: RwLock::new(Cache::default()),
        }
    }

    /// The settings.
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// The hot store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The current time from the core's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Answers one request. Unknown paths are 404 in the contract's error shape.
    pub async fn handle(&self, req: &Request) -> Response {
        self.handle_reporting(req).await.0
    }

    /// Answers one request and reports what it did to a session, if anything.
    pub async fn handle_reporting(&self, req: &Request) -> (Response, Option<Happened>) {
        match self.route(req).await {
            Ok(done) => done,
            Err(e) => (Response::error(&e), None),
        }
    }

    /// Whether the core answers this path (any method).
    pub fn handles_path(path: &str) -> bool {
        ROUTES.iter().any(|(_, p)| *p == path)
    }

    async fn route(&self, req: &Request) -> Result<(Response, Option<Happened>)> {
        let path = req.path.as_str();
        let quiet = |r: Response| (r, None);
        match (req.method, path) {
            (Method::Get, paths::JWKS) => self.jwks(req).await.map(quiet),
            (Method::Get, paths::DISCOVERY | paths::OAUTH_METADATA) => {
                self.discovery(req).await.map(quiet)
            }
            (Method::Post, paths::VERIFY_TOKEN) => self.verify_token(req).await.map(quiet),
            (Method::Get, paths::AUTH_ME | paths::ME) => self.me(req).await.map(quiet),
            (Method::Get | Method::Post, paths::REFRESH) => self.refresh(req).await,
            (Method::Get | Method::Post, paths::LOGOUT) => self.logout(req).await,
            (Method::Post, paths::APIKEYS_VERIFY | paths::API_KEYS_VERIFY_ALIAS) => {
                self.verify_api_key(req).await.map(quiet)
            }
            (Method::Post, path)
                if self.config.bench_routes && crate::bench::ROUTES.contains(&path) =>
            {
                self.bench(req).await.map(quiet)
            }
            (_, p) if Self::handles_path(p) => Err(Error::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )),
            _ => Err(Error::new(ErrorCode::NotFound, "no such route")),
        }
    }

    // ---- tenants and keys -------------------------------------------------------------------

    /// Resolves the tenant of a request: `X-Tenant-ID`, then (for JWKS/discovery) the `domain`
    /// parameter, then `Host`.
    pub async fn resolve_tenant(
        &self,
        req: &Request,
        allow_domain_param: bool,
    ) -> Result<Arc<TenantState>> {
        if let Some(id) = req
            .header("x-tenant-id")
            .filter(|_| self.config.tenant_header)
        {
            let id = id.trim();
            if id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Error::new(
                    ErrorCode::TenantNotFound,
                    "malformed X-Tenant-ID",
                ));
            }
            return self.tenant(id).await;
        }
        let host = if allow_domain_param {
            req.query_param("domain")
        } else {
            None
        }
        .or_else(|| req.header("host").map(str::to_owned));
        let Some(host) = host.as_deref().and_then(host_name) else {
            return match &self.config.default_tenant {
                Some(id) => self.tenant(id).await,
                None => Err(Error::new(
                    ErrorCode::TenantNotFound,
                    "no tenant header or host",
                )),
            };
        };
        let id = self.tenant_for_host(&host).await?;
        self.tenant(&id).await
    }

    async fn tenant_for_host(&self, host: &str) -> Result<String> {
        let now = self.now();
        if let Some((id, at)) = self.read_cache().domains.get(host) {
            if now - at < self.config.keyset_ttl_secs {
                return id.clone().ok_or_else(|| unknown_tenant(host));
            }
        }
        let found = self.store.get_many(&[key::domain(host)]).await?;
        let id = found.into_iter().next().flatten();
        let mut cache = self.write_cache();
        if cache.domains.len() >= MAX_CACHED_DOMAINS {
            cache.domains.clear();
        }
        cache.domains.insert(host.to_owned(), (id.clone(), now));
        id.ok_or_else(|| unknown_tenant(host))
    }

    /// The cached tenant, loading it on first use and reloading it once it is older than the
    /// key-set TTL (one hot-store read per tenant per TTL, so a deactivated tenant stops
    /// verifying everywhere within that time). While the store fails, the cached state keeps
    /// serving, with at most one reload attempt per key cooldown.
    pub async fn tenant(&self, tenant_id: &str) -> Result<Arc<TenantState>> {
        let now = self.now();
        let cached = {
            let cache = self.read_cache();
            cache.tenants.get(tenant_id).map(|t| {
                let tried = cache.attempts.get(tenant_id).copied().unwrap_or(i64::MIN);
                let stale = now - t.loaded_at >= self.config.keyset_ttl_secs
                    && now.saturating_sub(tried)
                        >= self
                            .config
                            .key_cooldown_secs
                            .min(self.config.keyset_ttl_secs);
                (t.clone(), stale)
            })
        };
        match cached {
            Some((t, false)) => Ok(t),
            Some((t, true)) => match self.load_tenant(tenant_id).await {
                Ok(fresh) => Ok(fresh),
                Err(e) if e.code() == ErrorCode::TenantNotFound => Err(e),
                Err(_) => Ok(t),
            },
            None => self.first_load(tenant_id).await,
        }
    }

    /// The first load of a tenant, once however many requests ask at the same time: the first
    /// loads, the others wait for it and take its result from the cache (or, if it failed,
    /// try once themselves). They wait on the runtime's timer where the clock offers one
    /// ([`Clock::pause`]: Workers and WASI HTTP 0.3 cannot wake one request's task from
    /// another's), else the loading request wakes them.
    async fn first_load(&self, tenant_id: &str) -> Result<Arc<TenantState>> {
        let leader = {
            let mut cache = self.write_cache();
            if let Some(t) = cache.tenants.get(tenant_id) {
                return Ok(t.clone());
            }
            match cache.loading.contains_key(tenant_id) {
                true => false,
                false => {
                    cache.loading.insert(tenant_id.to_owned(), Vec::new());
                    true
                }
            }
        };
        if leader {
            let _done = LoadDone {
                cache: &self.cache,
                tenant_id,
            };
            return self.load_tenant(tenant_id).await;
        }
        // Polls: every 2 ms, for at most 5 s (then this request loads for itself).
        for _ in 0..2_500 {
            match self.clock.pause(2) {
                Some(pause) => pause.await,
                None => {
                    LoadWait {
                        cache: &self.cache,
                        tenant_id,
                    }
                    .await;
                    break;
                }
            }
            if !self.read_cache().loading.contains_key(tenant_id) {
                break;
            }
        }
        let cached = self.read_cache().tenants.get(tenant_id).cloned();
        match cached {
            Some(t) => Ok(t),
            None => self.load_tenant(tenant_id).await,
        }
    }

    /// Reloads a tenant's policy and keys from the hot store (one round trip).
    pub async fn load_tenant(&self, tenant_id: &str) -> Result<Arc<TenantState>> {
        let now = self.now();
        {
            let mut cache = self.write_cache();
            if let Some(at) = cache.unknown.get(tenant_id) {
                if now - at < UNKNOWN_TENANT_TTL_SECS {
                    return Err(unknown_tenant(tenant_id));
                }
            }
            // Attempts are remembered only for tenants that exist (the map stays bounded by
            // the number of tenants, whatever ids requests make up).
            if cache.tenants.contains_key(tenant_id) {
                cache.attempts.insert(tenant_id.to_owned(), now);
            }
        }
        let values = self
            .store
            .get_many(&[key::tenant(tenant_id), key::keys(tenant_id)])
            .await?;
        let mut values = values.into_iter();
        let Some(config) = values.next().flatten() else {
            let mut cache = self.write_cache();
            if cache.unknown.len() >= MAX_CACHED_DOMAINS {
                cache.unknown.clear();
            }
            cache.unknown.insert(tenant_id.to_owned(), now);
            return Err(unknown_tenant(tenant_id));
        };
        let config: TenantConfig = serde_json::from_str(&config).map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("tenant policy unreadable: {e}"),
            )
        })?;
        if !config.is_active {
            let mut cache = self.write_cache();
            cache.tenants.remove(tenant_id);
            cache.attempts.remove(tenant_id);
            if cache.unknown.len() >= MAX_CACHED_DOMAINS {
                cache.unknown.clear();
            }
            cache.unknown.insert(tenant_id.to_owned(), now);
            return Err(unknown_tenant(tenant_id));
        }
        let keys = values.next().flatten().ok_or_else(|| {
            Error::new(
                ErrorCode::ConfigurationError,
                "tenant has no published keys",
            )
        })?;
        let keys_digest: [u8; 32] = Sha256::digest(keys.as_bytes()).into();
        let keys: PublishedKeySet = serde_json::from_str(&keys).map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("key set unreadable: {e}"),
            )
        })?;
        let mut opened = Err(Error::new(
            ErrorCode::ConfigurationError,
            "no edge key configured",
        ));
        for key in &self.config.edge_keys {
            opened = KeyRing::from_published(&keys, key);
            if opened.is_ok() {
                break;
            }
        }
        let ring = opened?;
        let dpop_nonces = match config.dpop_nonce {
            true => Some(dpop::Nonces::new(ring.signer()?, &config.tenant_id)),
            false => None,
        };
        let state = Arc::new(TenantState {
            other_jwks: keys.other_jwks.clone(),
            dpop_nonces,
            rules: config.validation(),
            config,
            ring,
            loaded_at: now,
            keys_digest,
            jwks_body: Mutex::new(None),
            discovery_body: std::sync::OnceLock::new(),
        });
        let mut cache = self.write_cache();
        cache.unknown.remove(tenant_id);
        cache.attempts.insert(tenant_id.to_owned(), now);
        let previous = cache.tenants.insert(tenant_id.to_owned(), state.clone());
        drop(cache);
        match previous {
            // New verification rules (issuer, audience, leeway): nothing verified under the
            // old ones is remembered.
            Some(p) if p.rules != state.rules => self.memo().retain_keys(tenant_id, |_| false),
            Some(p) if p.keys_digest != state.keys_digest => self
                .memo()
                .retain_keys(tenant_id, |kid| state.ring.find(kid, now).is_some()),
            _ => {}
        }
        Ok(state)
    }

    /// The tenant state, reloaded first if it is older than the key-set TTL (for paths that do
    /// I/O anyway: refresh, login).
    pub async fn fresh_tenant(&self, tenant: &Arc<TenantState>) -> Result<Arc<TenantState>> {
        if self.now() - tenant.loaded_at >= self.config.keyset_ttl_secs {
            self.load_tenant(&tenant.config.tenant_id).await
        } else {
            Ok(tenant.clone())
        }
    }

    /// The tenant state with the key set as published right now (one hot-store read; a reload
    /// only when the published set changed). For paths that sign and do I/O anyway (the
    /// origin's sign-in flows), so that a key rotation takes effect for signing at once.
    pub async fn current_tenant(&self, tenant: &Arc<TenantState>) -> Result<Arc<TenantState>> {
        let id = &tenant.config.tenant_id;
        let published = self.store.get_many(&[key::keys(id)]).await?;
        let same = published
            .first()
            .and_then(Option::as_deref)
            .is_some_and(|k| <[u8; 32]>::from(Sha256::digest(k.as_bytes())) == tenant.keys_digest);
        if same {
            Ok(tenant.clone())
        } else {
            self.load_tenant(id).await
        }
    }

    /// Verifies a token of type `T` for a tenant; an unknown `kid` reloads the keys at most once
    /// per cooldown. No I/O when the key is known.
    /// A token verified before (same string, same tenant, key still live, still within its
    /// life) is answered from the memo of [`crate::verified`].
    pub async fn verify<T: TokenClaims + Clone + Send + Sync + 'static>(
        &self,
        tenant: &Arc<TenantState>,
        token: &str,
    ) -> Result<Verified<T>> {
        let now = self.now();
        let id = &tenant.config.tenant_id;
        let live = |kid: &str| tenant.ring.find(kid, now).is_some();
        if let Some(v) = self.memo().get::<T>(id, token, now, live) {
            return Ok(v);
        }
        let verified = self.verify_uncached(tenant, token, now).await?;
        let until = verified.times().exp.saturating_add(tenant.rules.leeway());
        self.memo().put(id, token, &verified, until);
        Ok(verified)
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, VerifiedCache> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries in the verified-token memo.
    pub fn memo_entries(&self) -> usize {
        self.memo().len()
    }

    /// The platform's signature equations.
    pub(crate) fn signatures(&self) -> &V {
        &self.signatures
    }

    /// [`Self::verify`] without the memo.
    pub(crate) async fn verify_uncached<T: TokenClaims>(
        &self,
        tenant: &Arc<TenantState>,
        token: &str,
        now: i64,
    ) -> Result<Verified<T>> {
        let parsed = UnverifiedToken::parse(token)?;
        if let Some(key) = tenant.ring.find(parsed.kid(), now) {
            return parsed
                .verify_with_check(&self.signatures, key, &tenant.rules, now)
                .await;
        }
        let last = self
            .read_cache()
            .attempts
            .get(&tenant.config.tenant_id)
            .copied()
            .unwrap_or(i64::MIN);
        if now.saturating_sub(last) < self.config.key_cooldown_secs {
            return Err(Error::invalid_token("unknown key id"));
        }
        let fresh = self.load_tenant(&tenant.config.tenant_id).await?;
        let key = fresh
            .ring
            .find(parsed.kid(), now)
            .ok_or_else(|| Error::invalid_token("unknown signing key"))?;
        parsed
            .verify_with_check(&self.signatures, key, &fresh.rules, now)
            .await
    }

    /// How many entries the in-memory caches hold (tenants, attempts, domains, unknown ids):
    /// bounded whatever tenant ids and hosts requests make up.
    pub fn cached_entries(&self) -> usize {
        let c = self.read_cache();
        c.tenants.len() + c.attempts.len() + c.domains.len() + c.unknown.len()
    }

    /// Forgets what this core remembers of a tenant and of some hosts (the origin calls it
    /// after changing or deleting a tenant, so that its own routes see the change at once;
    /// other edges see it when their cache entry ages out).
    pub fn forget(&self, tenant_id: &str, hosts: &[String]) {
        let mut c = self.write_cache();
        c.tenants.remove(tenant_id);
        c.attempts.remove(tenant_id);
        c.unknown.remove(tenant_id);
        for h in hosts {
            c.domains.remove(h);
        }
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }

    // ---- routes -----------------------------------------------------------------------------

    async fn jwks(&self, req: &Request) -> Result<Response> {
        let tenant = self.resolve_tenant(req, true).await?;
        let now = self.now();
        let mut cached = tenant.jwks_body.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match cached.as_ref().filter(|c| now < c.until) {
            Some(c) => c.clone(),
            None => {
                let mut jwks = serde_json::to_value(tenant.ring.jwks(now))
                    .map_err(|e| Error::internal(e.to_string()))?;
                if let Some(keys) = jwks.get_mut("keys").and_then(|k| k.as_array_mut()) {
                    keys.extend(tenant.other_jwks.iter().cloned());
                }
                let body = serde_json::to_vec(&jwks).map_err(|e| Error::internal(e.to_string()))?;
                // Valid until the next key of the ring retires (then the set changes).
                let until = tenant
                    .ring
                    .keys()
                    .iter()
                    .filter_map(|k| k.retire_at())
                    .filter(|t| *t > now)
                    .min()
                    .unwrap_or(i64::MAX);
                let fresh = CachedBody::new(body, until);
                *cached = Some(fresh.clone());
                fresh
            }
        };
        drop(cached);
        Ok(cacheable(req, &answer, tenant.config.jwks_max_age_secs))
    }

    async fn discovery(&self, req: &Request) -> Result<Response> {
        let tenant = self.resolve_tenant(req, true).await?;
        let answer = match tenant.discovery_body.get() {
            Some(a) => a,
            None => {
                let doc = discovery_document(&tenant.config);
                let body = serde_json::to_vec(&doc).map_err(|e| Error::internal(e.to_string()))?;
                tenant
                    .discovery_body
                    .get_or_init(|| CachedBody::new(body, i64::MAX))
            }
        };
        Ok(cacheable(req, answer, tenant.config.jwks_max_age_secs))
    }

    async fn verify_token(&self, req: &Request) -> Result<Response> {
        #[derive(Deserialize)]
        struct Body {
            token: Option<String>,
            /// A DPoP-bound token's proof, and the method and URL of the request it came with
            /// (a resource server asking about a token it received).
            dpop: Option<String>,
            htm: Option<String>,
            htu: Option<String>,
        }
        let tenant = self.resolve_tenant(req, false).await?;
        let body: Body = req.json()?;
        let token = body
            .token
            .as_deref()
            .or_else(|| req.bearer())
            .ok_or_else(|| Error::new(ErrorCode::ValidationError, "field `token` is required"))?;
        let verified = self.verify::<AccessClaims>(&tenant, token).await?;
        if verified.claims().cnf.is_some() || body.dpop.is_some() {
            let (Some(htm), Some(htu)) = (body.htm.as_deref(), body.htu.as_deref()) else {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "a DPoP-bound token is checked with `dpop`, `htm` and `htu`",
                ));
            };
            self.check_binding(
                &tenant,
                verified.claims(),
                token,
                body.dpop.is_some(),
                body.dpop.as_deref(),
                htm,
                htu,
            )
            .await?;
        }
        let strict = self.config.strict_verify
            || req
                .query_param("strict")
                .is_some_and(|v| v == "true" || v == "1");
        if strict {
            self.require_live_session(&tenant, verified.claims())
                .await?;
        }
        Ok(Response::json(200, &verified).with_header("cache-control", "no-store"))
    }

    /// Refuses claims whose session is revoked, expired or unknown (one hot-store read). Tokens
    /// without a session (none are issued today) pass.
    pub async fn require_live_session(
        &self,
        tenant: &TenantState,
        claims: &AccessClaims,
    ) -> Result<()> {
        let Some(sid) = claims.session_id.as_deref() else {
            return Ok(());
        };
        match self.store.session(&tenant.config.tenant_id, sid).await? {
            Some(s) if s.is_live(self.now()) => Ok(()),
            Some(s) if s.revoked_at.is_some() => {
                Err(Error::new(ErrorCode::SessionRevoked, "session revoked"))
            }
            Some(_) => Err(Error::new(ErrorCode::SessionExpired, "session expired")),
            None => Err(Error::new(ErrorCode::SessionRevoked, "session not found")),
        }
    }

    /// The access token a request presents and whether with the DPoP scheme:
    /// `Authorization: DPoP`, `Authorization: Bearer`, then the access cookie.
    pub fn presented_access(req: &Request) -> Option<(&str, bool)> {
        req.dpop_token()
            .map(|t| (t, true))
            .or_else(|| Self::access_token(req).map(|t| (t, false)))
    }

    /// Enforces a token's key binding (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is
    /// accepted only with the DPoP scheme and a proof made with that key for this request and
    /// this token, used once (one hot-store write); an unbound token only without the DPoP
    /// scheme.
    #[allow(clippy::too_many_arguments)]
    pub async fn check_binding(
        &self,
        tenant: &TenantState,
        claims: &AccessClaims,
        token: &str,
        dpop_scheme: bool,
        proof: Option<&str>,
        htm: &str,
        htu: &str,
    ) -> Result<()> {
        match (&claims.cnf, dpop_scheme) {
            (None, false) => Ok(()),
            (None, true) => Err(Error::invalid_token(
                "the DPoP scheme needs a key-bound token",
            )),
            (Some(_), false) => Err(Error::invalid_token(
                "a DPoP-bound token is presented with the DPoP scheme and a proof",
            )),
            (Some(cnf), true) => {
                let proof = proof.ok_or_else(|| {
                    Error::new(ErrorCode::InvalidDpopProof, "the DPoP proof is missing")
                })?;
                let p = dpop::verify_with(
                    proof,
                    &dpop::Expect {
                        htm,
                        htu,
                        now: self.now(),
                        access_token: Some(token),
                        nonces: tenant.dpop_nonces.as_ref(),
                    },
                    &self.signatures,
                )
                .await?;
                if p.jkt != cnf.jkt {
                    return Err(Error::new(
                        ErrorCode::InvalidDpopProof,
                        "the DPoP proof is made with another key than the token's",
                    ));
                }
                self.record_dpop_use(&tenant.config.tenant_id, &p).await
            }
        }
    }

    /// Records a DPoP proof's use; a second use is refused (replay).
    pub async fn record_dpop_use(&self, tenant_id: &str, p: &dpop::Proof) -> Result<()> {
        let (uses, _) = self
            .store
            .hit(
                &key::dpop_jti(tenant_id, &p.jkt, &p.jti),
                dpop::MAX_AGE_SECS + dpop::MAX_SKEW_SECS,
                self.now(),
            )
            .await?;
        if uses > 1 {
            return Err(Error::new(
                ErrorCode::InvalidDpopProof,
                "this DPoP proof was used already",
            ));
        }
        Ok(())
    }

    /// The access token of a request: `Authorization: Bearer`, then the access cookie.
    pub fn access_token(req: &Request) -> Option<&str> {
        req.bearer().or_else(|| req.cookie(ACCESS_COOKIE))
    }

    /// The API key a request presents: `x-api-key`, or a bearer value of the key format.
    pub fn api_key(req: &Request) -> Option<&str> {
        req.header("x-api-key")
            .map(str::trim)
            .or_else(|| req.bearer().filter(|b| usso_shared::api_key::looks_like(b)))
    }

    /// Checks an API key against the record the origin published (one hot-store read); a
    /// refusal is counted against the client and the key id, and past
    /// [`usso_shared::api_key::MAX_FAILURES`] answered `too_many_requests`.
    pub async fn check_api_key(
        &self,
        tenant: &TenantState,
        client_ip: Option<&str>,
        presented: &str,
    ) -> Result<usso_shared::api_key::Published> {
        match self.lookup_api_key(tenant, presented).await? {
            Some(p) => Ok(p),
            None => Err(self.count_refusal(tenant, client_ip, presented).await),
        }
    }

    async fn count_refusal(
        &self,
        tenant: &TenantState,
        ip: Option<&str>,
        presented: &str,
    ) -> Error {
        use usso_shared::api_key;
        let now = self.now();
        let mut retry = 0;
        for c in api_key::failure_counters(&tenant.config.tenant_id, ip, presented) {
            match self.store.hit(&c, api_key::FAILURE_WINDOW_SECS, now).await {
                Ok((n, reset)) if n > api_key::MAX_FAILURES => retry = retry.max(reset - now),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
        if retry > 0 {
            Error::too_many_requests(retry.max(1) as u64)
        } else {
            api_key::refused()
        }
    }

    async fn lookup_api_key(
        &self,
        tenant: &TenantState,
        presented: &str,
    ) -> Result<Option<usso_shared::api_key::Published>> {
        use usso_shared::api_key;
        let tenant_id = &tenant.config.tenant_id;
        let published = match api_key::id_of(presented) {
            Some(id) => self
                .store
                .get_many(&[api_key::hot_key(tenant_id, id)])
                .await?
                .pop()
                .flatten()
                .map(|s| serde_json::from_str::<api_key::Published>(&s))
                .transpose()
                .map_err(|e| Error::internal(format!("corrupt published API key: {e}")))?,
            None => None,
        };
        Ok(api_key::check(presented, published.as_ref(), tenant_id, self.now()).ok())
    }

    /// `POST /apikeys/verify {"api_key"}`: the key's claims in the shape the SDKs read
    /// (`UserData`), or `invalid_credentials`.
    async fn verify_api_key(&self, req: &Request) -> Result<Response> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            api_key: String,
        }
        let tenant = self.resolve_tenant(req, false).await?;
        let body: Body = req.json()?;
        if body.api_key.len() > 256 {
            return Err(usso_shared::api_key::refused());
        }

        let p = self
            .check_api_key(&tenant, req.client_ip.as_deref(), &body.api_key)
            .await?;
        Ok(Response::json(200, &p.claims(&tenant.config.issuer))
            .with_header("cache-control", "no-store"))
    }

    async fn me(&self, req: &Request) -> Result<Response> {
        let tenant = self.resolve_tenant(req, false).await?;
        if let Some(presented) = Self::api_key(req) {
            let p = self
                .check_api_key(&tenant, req.client_ip.as_deref(), presented)
                .await?;
            let user = json!({
                "id": p.user_id,
                "sub": p.sub,
                "tenant_id": p.tenant_id,
                "workspace_id": p.workspace_id,
                "roles": [],
                "scopes": p.scopes,
                "session_id": null,
                "credential": "api_key",
                "api_key_id": p.id,
            });
            return Ok(Response::json(200, &user).with_header("cache-control", "no-store"));
        }
        let (token, dpop_scheme) = Self::presented_access(req)
            .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "no access token"))?;
        let verified = self.verify::<AccessClaims>(&tenant, token).await?;
        let htu = format!("{}{}", tenant.config.issuer.trim_end_matches('/'), req.path);
        self.check_binding(
            &tenant,
            verified.claims(),
            token,
            dpop_scheme,
            req.header("dpop"),
            req.method.as_str(),
            &htu,
        )
        .await?;
        if self.config.strict_verify {
            self.require_live_session(&tenant, verified.claims())
                .await?;
        }
        let c = verified.claims();
        let user = json!({
            "id": c.user_id,
            "sub": c.sub,
            "tenant_id": c.tenant_id,
            "workspace_id": c.workspace_id,
            "email": c.email,
            "phone": c.phone,
            "username": c.username,
            "user_name": c.user_name,
            "roles": c.roles,
            "scopes": c.scopes,
            "session_id": c.session_id,
        });
        Ok(Response::json(200, &user).with_header("cache-control", "no-store"))
    }

    async fn refresh(&self, req: &Request) -> Result<(Response, Option<Happened>)> {
        #[derive(Deserialize)]
        struct Body {
            refresh_token: Option<String>,
        }
        let tenant = self.resolve_tenant(req, false).await?;
        crate::csrf::same_site(req, &tenant.config)?;
        let tenant = self.fresh_tenant(&tenant).await?;
        let body: Body = if req.method == Method::Post {
            req.json()?
        } else {
            Body {
                refresh_token: None,
            }
        };
        let presented = body
            .refresh_token
            .as_deref()
            .or_else(|| req.cookie(REFRESH_COOKIE))
            .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "no refresh token"))?;
        let verified = self.verify::<RefreshClaims>(&tenant, presented).await?;
        let claims = verified.claims();
        if claims.client_id.is_some() {
            // An OAuth client's refresh token is redeemed at the token endpoint, with the
            // client's authentication, never here.
            return Err(Error::invalid_token(
                "an OAuth refresh token: redeem it at the token endpoint",
            ));
        }
        let cfg = &tenant.config;
        let (rotated, happened) = self.rotate(&tenant, claims).await?;
        match rotated {
            Ok((pair, record)) => Ok((
                issue::token_response(cfg, &pair, &issue::user_from_grant(&record.grant)),
                happened,
            )),
            Err(err) => Ok((issue::clear_cookies(cfg, Response::error(&err)), happened)),
        }
    }

    /// Rotates the session of a verified refresh token (the one atomic store operation of
    /// [`rotation`]): the next pair, or the refusal (`refresh_token_reused` revokes the
    /// session); what happened is reported either way. The caller has verified the token and
    /// checked whose it is (the OAuth token endpoint calls this too).
    pub async fn rotate(
        &self,
        tenant: &Arc<TenantState>,
        claims: &RefreshClaims,
    ) -> Result<(Result<(TokenPair, SessionRecord)>, Option<Happened>)> {
        let now = self.now();
        let cfg = &tenant.config;
        let signer = tenant.ring.signer()?;

        // Prepare the successor before the one atomic store operation.
        let jti = random::token_id()?;
        let sub_only = usso_shared::claims::Grant {
            sub: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            ..Default::default()
        };
        let next_refresh = issue::sign_refresh(
            cfg,
            signer,
            &sub_only,
            &claims.session_id,
            &jti,
            now,
            i64::MAX,
        )?;
        let successor = Successor {
            jti_hash: jti_hash(&jti),
            sealed: rotation::seal_successor(&claims.jti, &claims.session_id, &next_refresh)?,
        };
        let (outcome, record) = self
            .store
            .rotate(
                &cfg.tenant_id,
                &claims.session_id,
                &jti_hash(&claims.jti),
                &successor,
                cfg.rotation.grace_secs,
                now,
            )
            .await?;
        let refresh_token = match &outcome {
            Outcome::Rotated => next_refresh,
            Outcome::Replayed { sealed } => {
                rotation::open_successor(&claims.jti, &claims.session_id, sealed)?
            }
            other => {
                let err = other
                    .to_error()
                    .unwrap_or_else(|| Error::internal("unexpected outcome"));
                let happened = (err.code() == ErrorCode::RefreshTokenReused).then(|| {
                    Happened::ReuseDetected {
                        tenant_id: cfg.tenant_id.clone(),
                        session_id: claims.session_id.clone(),
                    }
                });
                return Ok((Err(err), happened));
            }
        };
        let record = record.ok_or_else(|| Error::internal("rotation returned no record"))?;
        let access_token = issue::sign_access(cfg, signer, &record.grant, &claims.session_id, now)?;
        let pair = TokenPair {
            access_token,
            refresh_token,
            expires_in: cfg.access_ttl_secs,
        };
        Ok((
            Ok((pair, record)),
            Some(Happened::Refreshed {
                tenant_id: cfg.tenant_id.clone(),
                session_id: claims.session_id.clone(),
            }),
        ))
    }

    async fn logout(&self, req: &Request) -> Result<(Response, Option<Happened>)> {
        #[derive(Deserialize)]
        struct Body {
            refresh_token: Option<String>,
        }
        let tenant = self.resolve_tenant(req, false).await?;
        crate::csrf::same_site(req, &tenant.config)?;
        let body: Body = if req.method == Method::Post {
            req.json()?
        } else {
            Body {
                refresh_token: None,
            }
        };
        // The refresh token the client sent names the session to end (body, then cookie); an
        // access token is used only when no refresh token came, so a stale access cookie of
        // another account can neither end the wrong session nor make the logout fail.
        let refresh = body
            .refresh_token
            .as_deref()
            .or_else(|| req.cookie(REFRESH_COOKIE));
        let verified = if let Some(token) = refresh {
            self.verify::<RefreshClaims>(&tenant, token)
                .await
                .map(|v| Some(v.into_claims().session_id))
        } else if let Some(token) = Self::access_token(req) {
            self.verify::<AccessClaims>(&tenant, token)
                .await
                .map(|v| v.into_claims().session_id)
        } else {
            return Err(Error::new(
                ErrorCode::Unauthorized,
                "no token to log out with",
            ));
        };
        let session_id = match verified {
            Ok(sid) => sid,
            // The cookies go whatever the token was worth.
            Err(e) => {
                return Ok((
                    issue::clear_cookies(&tenant.config, Response::error(&e)),
                    None,
                ))
            }
        };
        let revoked = match &session_id {
            Some(sid) => self
                .store
                .revoke(&tenant.config.tenant_id, sid, REASON_LOGOUT, self.now())
                .await?
                .is_some(),
            None => false,
        };
        let res = Response::json(200, &json!({"success": true, "session_revoked": revoked}))
            .with_header("cache-control", "no-store");
        Ok((
            issue::clear_cookies(&tenant.config, res),
            Some(Happened::LoggedOut {
                tenant_id: tenant.config.tenant_id.clone(),
                session_id: session_id.filter(|_| revoked),
            }),
        ))
    }
}

/// The provider's metadata (OpenID Connect Discovery 1.0 and RFC 8414, one document): exactly
/// what the origin's OAuth provider supports, under the tenant's issuer. Implicit and hybrid
/// flows and the password grant are not offered (OAuth 2.1).
pub fn discovery_document(cfg: &TenantConfig) -> serde_json::Value {
    let iss = cfg.issuer.trim_end_matches('/');
    let at = |p: &str| format!("{iss}{p}");
    let mut doc = json!({
        "issuer": cfg.issuer,
        "jwks_uri": at(paths::JWKS),
        "authorization_endpoint": at(paths::OAUTH_AUTHORIZE),
        "token_endpoint": at(paths::OAUTH_TOKEN),
        "userinfo_endpoint": at(paths::OAUTH_USERINFO),
        "introspection_endpoint": at(paths::OAUTH_INTROSPECT),
        "revocation_endpoint": at(paths::OAUTH_REVOKE),
        "end_session_endpoint": at(paths::OAUTH_END_SESSION),
        "device_authorization_endpoint": at(paths::OAUTH_DEVICE),
        "registration_endpoint": cfg.oauth_registration.then(|| at(paths::OAUTH_REGISTER)),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA", "RS256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
        ],
        "token_endpoint_auth_signing_alg_values_supported": dpop::ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "dpop_signing_alg_values_supported": dpop::ALGORITHMS,
        "scopes_supported": ["openid", "profile", "email", "phone", "offline_access"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "dpop_bound_access_tokens_supported": true,
        "client_id_metadata_document_supported": cfg.oauth_metadata_documents,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
            "name", "picture", "locale", "email", "email_verified", "phone_number",
            "phone_number_verified", "preferred_username", "user_id", "tenant_id",
            "workspace_id", "roles", "scopes", "client_id", "scope"
        ],
    });
    if let Some(m) = doc.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    doc
}

/// Ends a first load (even if its future is dropped half way): wakes the requests waiting.
struct LoadDone<'a> {
    cache: &'a RwLock<Cache>,
    tenant_id: &'a str,
}

impl Drop for LoadDone<'_> {
    fn drop(&mut self) {
        let waiters = self
            .cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .loading
            .remove(self.tenant_id)
            .unwrap_or_default();
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// Waits until nobody is loading the tenant any more.
struct LoadWait<'a> {
    cache: &'a RwLock<Cache>,
    tenant_id: &'a str,
}

impl Future for LoadWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        match cache.loading.get_mut(self.tenant_id) {
            None => Poll::Ready(()),
            Some(waiters) => {
                if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

fn unknown_tenant(what: &str) -> Error {
    let shown: String = what.chars().take(64).collect();
    Error::new(
        ErrorCode::TenantNotFound,
        format!("no tenant for `{shown}`"),
    )
}

/// A cacheable JSON response with `ETag`, answering `If-None-Match` with 304.
fn cacheable(req: &Request, answer: &CachedBody, max_age: i64) -> Response {
    let etag = &*answer.etag;
    let matches = req.header("if-none-match").is_some_and(|v| {
        v.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    });
    let res = if matches {
        Response {
            status: 304,
            headers: Vec::new(),
            body: Vec::new(),
        }
    } else {
        Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: answer.body.to_vec(),
        }
    };
    res.with_header("etag", etag)
        .with_header(
            "cache-control",
            format!("public, max-age={}", max_age.max(0)),
        )
        .with_header("access-control-allow-origin", "*")
        // The answer depends on the tenant, chosen by these headers: a shared cache must not
        // serve one tenant's issuer and keys for another's request.
        .with_header("vary", "Host, X-Tenant-ID")
}
