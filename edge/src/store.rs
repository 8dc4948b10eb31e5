//! The hot store as the token routes see it: published tenant policy and keys, and sessions
//! with the atomic refresh-rotation step. Each backend (the origin's embedded store, Redis, the
//! Upstash REST protocol) implements this trait; the rotation rules themselves are the pure
//! [`usso_shared::rotation::step`], so a backend only has to make it atomic.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use usso_shared::rotation::{self, Outcome, SessionRecord, Successor, Write};
use usso_shared::transport::{MaybeSend, MaybeSync};
use usso_shared::Result;

/// Key names shared by every backend (and by the origin that publishes them).
pub mod key {
    /// `TenantConfig` JSON of a tenant.
    pub fn tenant(tenant_id: &str) -> String {
        format!("usso:tenant:{tenant_id}")
    }
    /// The tenant id a host name resolves to.
    pub fn domain(host: &str) -> String {
        format!("usso:domain:{host}")
    }
    /// `PublishedKeySet` JSON of a tenant.
    pub fn keys(tenant_id: &str) -> String {
        format!("usso:keys:{tenant_id}")
    }
    /// `SessionRecord` JSON of a session.
    pub fn session(tenant_id: &str, session_id: &str) -> String {
        format!("usso:session:{tenant_id}:{session_id}")
    }
    /// A DPoP proof's use (its key's thumbprint and `jti`, hashed to a bounded length).
    pub fn dpop_jti(tenant_id: &str, jkt: &str, jti: &str) -> String {
        use sha2::Digest;
        let h = sha2::Sha256::digest(format!("{jkt}:{jti}").as_bytes());
        format!(
            "usso:dpop:{tenant_id}:{}",
            usso_shared::encoding::hex_encode(&h)
        )
    }
}

/// Applies the pure rotation step to a loaded record: the outcome, the record as it stands
/// afterwards, and whether that record must be written back. Backends call this inside their
/// atomic section (a mutex, a transaction); the Lua script of the Redis backends mirrors it.
pub fn apply_rotation(
    record: Option<SessionRecord>,
    presented_hash: &str,
    successor: &Successor,
    grace_secs: i64,
    now: i64,
) -> (Outcome, Option<SessionRecord>, bool) {
    let (outcome, write) =
        rotation::step(record.as_ref(), presented_hash, successor, grace_secs, now);
    match write {
        Write::Put(next) => (outcome, Some(*next), true),
        Write::None => (outcome, record, false),
    }
}

/// The hot-store operations of the token routes.
pub trait HotStore: MaybeSync {
    /// Reads several plain values in one round trip (missing keys are `None`).
    fn get_many(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<String>>>> + MaybeSend;

    /// Reads a session record.
    fn session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> impl Future<Output = Result<Option<SessionRecord>>> + MaybeSend;

    /// The atomic rotation step ([`rotation::step`] under the store's atomicity), in ONE round
    /// trip. Returns the outcome and the record as it stands afterwards.
    fn rotate(
        &self,
        tenant_id: &str,
        session_id: &str,
        presented_hash: &str,
        successor: &Successor,
        grace_secs: i64,
        now: i64,
    ) -> impl Future<Output = Result<(Outcome, Option<SessionRecord>)>> + MaybeSend;

    /// Counts one hit on a fixed-window counter (created with a window of `window_secs` from
    /// `now` when absent or past): the count including this hit and the window's end.
    fn hit(
        &self,
        counter: &str,
        window_secs: i64,
        now: i64,
    ) -> impl Future<Output = Result<(u64, i64)>> + MaybeSend;

    /// Revokes a session (idempotent). Returns the record, or `None` if there is no such session.
    fn revoke(
        &self,
        tenant_id: &str,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<SessionRecord>>> + MaybeSend;
}

/// A process-local hot store: plain values and sessions in memory behind one mutex. Used by the
/// core's own tests and for single-process experiments; nothing survives a restart.
#[derive(Debug, Default)]
pub struct MemoryHotStore {
    inner: Mutex<HashMap<String, String>>,
}

impl MemoryHotStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a plain value.
    pub fn set(&self, key: String, value: String) {
        self.lock().insert(key, value);
    }

    /// Stores a session record.
    pub fn put_session(&self, record: &SessionRecord) {
        let k = key::session(&record.tenant_id, &record.session_id);
        let v = serde_json::to_string(record).unwrap_or_default();
        self.lock().insert(k, v);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned map still holds consistent strings: every write is a single insert.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_session(map: &HashMap<String, String>, k: &str) -> Result<Option<SessionRecord>> {
        map.get(k)
            .map(|v| {
                serde_json::from_str(v)
                    .map_err(|e| usso_shared::Error::internal(format!("corrupt session: {e}")))
            })
            .transpose()
    }
}

impl HotStore for MemoryHotStore {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>> {
        let map = self.lock();
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    async fn session(&self, tenant_id: &str, session_id: &str) -> Result<Option<SessionRecord>> {
        Self::read_session(&self.lock(), &key::session(tenant_id, session_id))
    }

    async fn rotate(
        &self,
        tenant_id: &str,
        session_id: &str,
        presented_hash: &str,
        successor: &Successor,
        grace_secs: i64,
        now: i64,
    ) -> Result<(Outcome, Option<SessionRecord>)> {
        let k = key::session(tenant_id, session_id);
        let mut map = self.lock();
        let record = Self::read_session(&map, &k)?;
        let (outcome, record, dirty) =
            apply_rotation(record, presented_hash, successor, grace_secs, now);
        if let (true, Some(next)) = (dirty, &record) {
            let v = serde_json::to_string(next)
                .map_err(|e| usso_shared::Error::internal(e.to_string()))?;
            map.insert(k, v);
        }
        Ok((outcome, record))
    }

    async fn revoke(
        &self,
        tenant_id: &str,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>> {
        let k = key::session(tenant_id, session_id);
        let mut map = self.lock();
        let Some(mut record) = Self::read_session(&map, &k)? else {
            return Ok(None);
        };
        if record.revoked_at.is_none() {
            record.revoke(reason, now);
            let v = serde_json::to_string(&record)
                .map_err(|e| usso_shared::Error::internal(e.to_string()))?;
            map.insert(k, v);
        }
        Ok(Some(record))
    }

    async fn hit(&self, counter: &str, window_secs: i64, now: i64) -> Result<(u64, i64)> {
        let mut map = self.lock();
        let (n, reset_at) = map
            .get(counter)
            .and_then(|v| v.split_once(' '))
            .and_then(|(n, r)| Some((n.parse::<u64>().ok()?, r.parse::<i64>().ok()?)))
            .filter(|(_, r)| *r > now)
            .map_or((1, now + window_secs), |(n, r)| (n + 1, r));
        map.insert(counter.to_owned(), format!("{n} {reset_at}"));
        Ok((n, reset_at))
    }
}
