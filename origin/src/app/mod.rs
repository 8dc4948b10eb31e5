//! The composition root: the registry every domain function reads ([`Ctx`]), its injected
//! clock ([`AppClock`]), start-up ([`run`]), first-start provisioning ([`bootstrap`]) and the
//! command line ([`cli`]).
//!
//! Invariant: the origin reads the time only through [`Ctx::now`] (or the clock handed to
//! start-up), never from the wall clock directly, so every time-dependent rule (expiries, grace
//! windows, rate-limit windows) can be tested by moving a [`AppClock::manual`] clock instead of
//! sleeping.

pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod run;

pub use clock::AppClock;

use std::sync::Arc;

use usso_edge::EdgeCore;
use usso_shared::clock::Clock;
use usso_shared::seal::SecretKey;

use crate::authn::codes;
use crate::authn::hasher::Hasher;
use crate::store::hot::Hot;
use crate::store::Docs;

/// Who is asking, as the HTTP layer saw it: what the domain needs of a request and nothing
/// else (it never sees headers, cookies or bodies).
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// The client address, resolved behind the trusted proxies (`unknown` without one).
    pub ip: String,
    /// The `User-Agent`, at most 256 characters.
    pub user_agent: Option<String>,
    /// The known-device cookie ([`crate::authn::known_device`]), if sent.
    pub device: Option<String>,
    /// A captcha solution (`X-Altcha` header or the body's `altcha` field), if sent.
    pub captcha: Option<String>,
}

/// The origin's edge core: the token routes over the same hot store and clock.
pub type Core = EdgeCore<Hot, AppClock>;

/// The outbox the origin runs.
pub type Outbox = crate::delivery::outbox::Outbox<
    Docs,
    crate::delivery::channels::MailChannel,
    crate::delivery::channels::SmsChannel,
>;

/// The registry: every capability a domain function may use, and the clock.
pub struct Ctx {
    /// Document store.
    pub docs: Docs,
    /// Hot store.
    pub hot: Hot,
    /// The edge core over the same hot store and clock.
    pub core: Core,
    /// Password hashing pool.
    pub hasher: Hasher,
    /// Master key.
    pub master: SecretKey,
    /// The key published signing keys are sealed under for the edges.
    pub edge_key: SecretKey,
    /// Trusted reverse proxies in front of the origin ([`crate::http::client_addr`]).
    pub proxy_hops: u8,
    /// Longest wait for a request body ([`crate::http::serve::Limits`]).
    pub body_timeout: std::time::Duration,
    /// Durable delivery of codes and links.
    pub outbox: Arc<Outbox>,
    /// Fetches OAuth client metadata documents ([`crate::oauth::metadata`]).
    pub metadata: Arc<crate::oauth::metadata::Fetcher>,
    /// The tenants' RS256 ID-token keys, opened ([`crate::oauth::rsa_key`]).
    pub rsa_keys: Arc<crate::oauth::rsa_key::RsaKeys>,
    /// The clock.
    pub clock: AppClock,
}

/// Shared handle.
pub type CtxRef = Arc<Ctx>;

impl Ctx {
    /// The stores, as the publishing and provisioning functions take them.
    pub fn stores(&self) -> crate::store::Stores {
        crate::store::Stores {
            docs: self.docs.clone(),
            hot: self.hot.clone(),
            master: self.master.clone(),
            edge_key: self.edge_key.clone(),
        }
    }

    /// Current time (seconds since the epoch) from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// One-time codes under a tenant's policy.
    pub fn codes<'a>(&'a self, policy: &'a codes::OtpPolicy) -> codes::Codes<'a, Hot> {
        codes::Codes {
            hot: &self.hot,
            master: &self.master,
            policy,
        }
    }
}

/// What `/health` reports.
#[derive(Debug, serde::Serialize)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// The origin's version.
    pub version: &'static str,
    /// `ok` or `error`.
    pub document_store: &'static str,
    /// `ok` or `error`.
    pub hot_store: &'static str,
}

/// Whether both stores answer.
pub async fn health(ctx: &Ctx) -> Health {
    use crate::store::docs::DocumentStore;
    let docs = ctx
        .docs
        .get(
            crate::store::collections::TENANTS,
            crate::tenants::DEFAULT_TENANT,
            crate::tenants::DEFAULT_TENANT,
        )
        .await
        .is_ok();
    let hot =
        usso_edge::HotStore::get_many(&ctx.hot, &[crate::store::keys::HEALTH_PROBE.to_owned()])
            .await
            .is_ok();
    let word = |ok: bool| if ok { "ok" } else { "error" };
    Health {
        status: if docs && hot { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        document_store: word(docs),
        hot_store: word(hot),
    }
}
