//! Deployment settings of an edge adapter, read from environment-style variables (Workers
//! `[vars]`/secrets, Spin `[component.*.environment]`/variables, `wasmtime serve --env`). Every
//! adapter reads the same names through [`EdgeSettings::from_lookup`], so a deployment is
//! configured the same way on every platform. Tenant policy (issuer, audience, lifetimes, grace
//! window) is not set here: the origin publishes it to the hot store with the keys.

use usso_shared::clock::Clock;
use usso_shared::seal::SecretKey;
use usso_shared::token::{PortableSignatures, SignatureCheck};
use usso_shared::transport::HttpTransport;
use usso_shared::upstash::Upstash;
use usso_shared::{Error, ErrorCode, Result};

use crate::core::{EdgeConfig, EdgeCore};
use crate::upstash_store::UpstashHotStore;

/// Upstash REST endpoint (Upstash itself, or the origin's gateway at `…/redis`). Required.
pub const REDIS_URL: &str = "UPSTASH_REDIS_REST_URL";
/// Upstash REST token (secret). Required.
pub const REDIS_TOKEN: &str = "UPSTASH_REDIS_REST_TOKEN";
/// The edge key (`usso-origin key edge-secret` prints it; secret): opens the published
/// signing key and nothing else. Two keys separated by a comma while rotating it. Required,
/// unless the deprecated [`MASTER_KEY`] is given instead.
pub const EDGE_KEY: &str = "USSO_EDGE_KEY";
/// Deprecated: the origin's master key (the edge then derives the generation-1 edge key from
/// it, but holds a secret that opens everything the origin seals). Use [`EDGE_KEY`].
pub const MASTER_KEY: &str = "USSO_MASTER_KEY";
/// `true`/`false`: every verify also checks that the session is live (one hot-store read).
pub const STRICT_VERIFY: &str = "USSO_STRICT_VERIFY";
/// Least seconds between two key reloads caused by unknown `kid`s (default 30).
pub const KEY_COOLDOWN: &str = "USSO_KEY_COOLDOWN_SECS";
/// Seconds after which the refresh path reloads a tenant's policy and keys (default 60).
pub const KEYSET_TTL: &str = "USSO_KEYSET_TTL_SECS";
/// `true`: serve the opt-in benchmark routes of [`crate::bench`] (never in production).
pub const BENCH_ROUTES: &str = "USSO_BENCH_ROUTES";
/// `true` (default) / `false`: whether `X-Tenant-ID` may choose the tenant.
pub const TENANT_HEADER: &str = "USSO_TENANT_HEADER";
/// Tenant for requests with neither `X-Tenant-ID` nor `Host` (optional).
pub const DEFAULT_TENANT: &str = "USSO_DEFAULT_TENANT";
/// Entries of the verified-token memo (default 4096; 0 turns it off; at most 1,000,000).
pub const VERIFIED_CACHE_ENTRIES: &str = "USSO_VERIFIED_CACHE_ENTRIES";

/// The largest verified-token memo a deployment may ask for.
const MAX_VERIFIED_CACHE_ENTRIES: usize = 1_000_000;

/// Everything an edge deployment needs to build its [`EdgeCore`].
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Upstash REST base URL.
    pub redis_url: String,
    /// Upstash REST bearer token.
    pub redis_token: String,
    /// Core settings.
    pub config: EdgeConfig,
}

impl EdgeSettings {
    /// Reads the settings through `get` (absent and empty values are the same). Missing or
    /// malformed values give a `configuration_error` naming the variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &str| {
            get(name).ok_or_else(|| {
                Error::new(ErrorCode::ConfigurationError, format!("{name} is not set"))
            })
        };
        let redis_url = required(REDIS_URL)?;
        if !(redis_url.starts_with("https://") || redis_url.starts_with("http://")) {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                format!("{REDIS_URL} must be an http(s) URL"),
            ));
        }
        let redis_token = required(REDIS_TOKEN)?;
        let bad_key = |name: &str| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("{name} is not a valid key (64 hex digits or 43 base64url characters)"),
            )
        };
        let edge_keys: Vec<SecretKey> = match (get(EDGE_KEY), get(MASTER_KEY)) {
            (Some(keys), _) => keys
                .split(',')
                .map(|k| SecretKey::parse(k.trim()).map_err(|_| bad_key(EDGE_KEY)))
                .collect::<Result<_>>()?,
            (None, Some(master)) => vec![usso_shared::keys::edge_key(
                &SecretKey::parse(&master).map_err(|_| bad_key(MASTER_KEY))?,
                1,
            )],
            (None, None) => {
                return Err(Error::new(
                    ErrorCode::ConfigurationError,
                    format!("{EDGE_KEY} is not set (usso-origin key edge-secret prints it)"),
                ))
            }
        };
        if edge_keys.is_empty() || edge_keys.len() > 2 {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                format!("{EDGE_KEY}: one key, or two separated by a comma while rotating"),
            ));
        }
        let mut config = EdgeConfig::new(edge_keys[0].clone());
        config.edge_keys = edge_keys;
        let flag = |name: &str| match get(name).as_deref() {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(Error::new(
                ErrorCode::ConfigurationError,
                format!("{name} must be true or false"),
            )),
        };
        config.strict_verify = flag(STRICT_VERIFY)?;
        config.bench_routes = flag(BENCH_ROUTES)?;
        config.tenant_header = get(TENANT_HEADER).is_none() || flag(TENANT_HEADER)?;
        let seconds = |name: &str, default: i64| -> Result<i64> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse::<u32>().map(i64::from).map_err(|_| {
                    Error::new(
                        ErrorCode::ConfigurationError,
                        format!("{name} must be a whole number of seconds"),
                    )
                }),
            }
        };
        config.key_cooldown_secs = seconds(KEY_COOLDOWN, config.key_cooldown_secs)?;
        config.keyset_ttl_secs = seconds(KEYSET_TTL, config.keyset_ttl_secs)?;
        config.default_tenant = get(DEFAULT_TENANT);
        if let Some(v) = get(VERIFIED_CACHE_ENTRIES) {
            config.verified_cache_entries = v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_VERIFIED_CACHE_ENTRIES)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::ConfigurationError,
                        format!(
                            "{VERIFIED_CACHE_ENTRIES} must be a whole number up to {MAX_VERIFIED_CACHE_ENTRIES}"
                        ),
                    )
                })?;
        }
        Ok(Self {
            redis_url,
            redis_token,
            config,
        })
    }

    /// The core over the Upstash REST hot store with the platform's `transport` and `clock`.
    pub fn upstash_core<T: HttpTransport, C: Clock>(
        self,
        transport: T,
        clock: C,
    ) -> EdgeCore<UpstashHotStore<T>, C> {
        self.upstash_core_with(transport, clock, PortableSignatures)
    }

    /// [`Self::upstash_core`] with the platform's own Ed25519 (WebCrypto on Workers).
    pub fn upstash_core_with<T: HttpTransport, C: Clock, V: SignatureCheck>(
        self,
        transport: T,
        clock: C,
        ed25519: V,
    ) -> EdgeCore<UpstashHotStore<T>, C, V> {
        EdgeCore::with_signatures(
            UpstashHotStore::new(Upstash::new(&self.redis_url, &self.redis_token, transport)),
            clock,
            ed25519,
            self.config,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn read(vars: &[(&str, &str)]) -> Result<EdgeSettings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EdgeSettings::from_lookup(|n| map.get(n).cloned())
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            (REDIS_URL, "https://eu1.upstash.io"),
            (REDIS_TOKEN, "tok"),
            (MASTER_KEY, KEY),
        ]
    }

    #[test]
    fn defaults_and_overrides() {
        let s = read(&base()).unwrap();
        assert_eq!(s.redis_url, "https://eu1.upstash.io");
        assert!(!s.config.strict_verify);
        assert_eq!(s.config.key_cooldown_secs, 30);
        assert_eq!(s.config.keyset_ttl_secs, 60);
        assert_eq!(s.config.verified_cache_entries, 4096);
        let mut vars = base();
        vars.extend([
            (STRICT_VERIFY, "true"),
            (KEY_COOLDOWN, "0"),
            (KEYSET_TTL, " 5 "),
            (DEFAULT_TENANT, "org_default"),
            (VERIFIED_CACHE_ENTRIES, "0"),
        ]);
        let s = read(&vars).unwrap();
        assert_eq!(s.config.verified_cache_entries, 0);
        assert!(s.config.strict_verify);
        assert_eq!(s.config.key_cooldown_secs, 0);
        assert_eq!(s.config.keyset_ttl_secs, 5);
        assert_eq!(s.config.default_tenant.as_deref(), Some("org_default"));
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let three = format!("{KEY},{KEY},{KEY}");
        for (name, value) in [
            (REDIS_URL, ""),
            (REDIS_URL, "redis://localhost:6379"),
            (REDIS_TOKEN, "  "),
            (MASTER_KEY, "short"),
            (EDGE_KEY, "short"),
            (EDGE_KEY, three.as_str()),
            (STRICT_VERIFY, "yes"),
            (BENCH_ROUTES, "on"),
            (KEY_COOLDOWN, "-1"),
            (KEYSET_TTL, "1e3"),
            (VERIFIED_CACHE_ENTRIES, "-1"),
            (VERIFIED_CACHE_ENTRIES, "2000000"),
        ] {
            let mut vars = base();
            vars.retain(|(k, _)| *k != name);
            vars.push((name, value));
            let err = read(&vars).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ConfigurationError, "{name}={value}");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn the_edge_key_and_the_deprecated_master_key() {
        let master = SecretKey::parse(KEY).unwrap();
        let derived = usso_shared::keys::edge_key(&master, 1);
        let legacy = read(&base()).unwrap();
        assert_eq!(legacy.config.edge_keys.len(), 1);
        assert_eq!(legacy.config.edge_keys[0].as_bytes(), derived.as_bytes());
        assert_ne!(derived.as_bytes(), master.as_bytes());
        let next = usso_shared::keys::edge_key(&master, 2).to_base64url();
        let both = format!("{}, {next}", derived.to_base64url());
        let s = read(&[
            (REDIS_URL, "https://eu1.upstash.io"),
            (REDIS_TOKEN, "tok"),
            (EDGE_KEY, both.as_str()),
        ])
        .unwrap();
        assert_eq!(s.config.edge_keys.len(), 2);
        let none = read(&[(REDIS_URL, "https://eu1.upstash.io"), (REDIS_TOKEN, "tok")]);
        assert!(none.unwrap_err().to_string().contains(EDGE_KEY));
    }
}
