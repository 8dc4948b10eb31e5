//! The origin's hot store: everything the edge core needs ([`HotStore`]) plus what only the
//! origin does (creating sessions, listing them, rate-limit counters, publishing values).
//! The embedded default keeps it in its own SQLite file, so sessions survive a restart and the
//! rotation step is one transaction.

use std::future::Future;

use rusqlite::{params, OptionalExtension};
use usso_edge::store::{apply_rotation, HotStore};
use usso_shared::claims::Grant;
use usso_shared::rotation::{Outcome, SessionRecord, Successor};
use usso_shared::{Error, Result};

use crate::store::db::{sql, Db, Durability};

/// Revokes every session of `subject` in `tenant` (erasure, deactivation, an account
/// claimed by the owner of its identifier). Revoking is idempotent; returns how many session
/// records the subject has (all revoked afterwards).
pub async fn revoke_all<H: OriginHot>(
    hot: &H,
    tenant: &str,
    subject: &str,
    reason: &str,
    now: i64,
) -> Result<u64> {
    let mut n = 0;
    for s in hot.sessions_of(tenant, subject).await? {
        if hot
            .revoke(tenant, &s.session_id, reason, now)
            .await?
            .is_some()
        {
            n += 1;
        }
    }
    Ok(n)
}

/// Revokes every live session of `subject` in `tenant` but `keep` (a password change ends the
/// other sessions, not the one that made it); how many it revoked.
pub async fn revoke_others<H: OriginHot>(
    hot: &H,
    tenant: &str,
    subject: &str,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<u64> {
    let mut n = 0;
    for s in hot.sessions_of(tenant, subject).await? {
        if s.revoked_at.is_some() || Some(s.session_id.as_str()) == keep {
            continue;
        }
        if hot
            .revoke(tenant, &s.session_id, reason, now)
            .await?
            .is_some()
        {
            n += 1;
        }
    }
    Ok(n)
}

/// Publishing plain values the edges read (tenant policy, domains, keys).
pub trait Publish: Send + Sync + 'static {
    /// Sets a plain value (published tenant policy, domains, keys).
    fn set(&self, key: &str, value: &str) -> impl Future<Output = Result<()>> + Send;
    /// Removes a published value (a domain taken from a tenant, a deleted tenant).
    fn unset(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Creating sessions and listing a subject's sessions (rotation and revocation are the edge core's [`HotStore`]).
pub trait SessionIndex: Send + Sync + 'static {
    /// Stores a new session.
    fn put_session(&self, record: &SessionRecord) -> impl Future<Output = Result<()>> + Send;
    /// The sessions of one subject in a tenant, newest first.
    fn sessions_of(
        &self,
        tenant_id: &str,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<SessionRecord>>> + Send;
    /// Replaces the grant of a live session (what its next refreshed tokens say), atomically
    /// with respect to rotation and revocation. `false` when the session is gone or revoked.
    fn set_grant(
        &self,
        tenant_id: &str,
        session_id: &str,
        grant: &Grant,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// Fixed-window counters for rate limits and single-use markers: counting is the edge
/// store's [`HotStore::hit`] (the edge counts failed API-key checks too); the origin also
/// clears counters.
pub trait RateLimiter: Send + Sync + 'static {
    /// Deletes counters (a success clears the failures counted before it).
    fn clear(&self, counters: &[String]) -> impl Future<Output = Result<()>> + Send;
}

/// Values that expire (one-time codes, magic links, pending second steps).
pub trait Ephemeral: Send + Sync + 'static {
    /// Sets a value that disappears after `ttl_secs` (one-time codes).
    fn put_expiring(
        &self,
        key: &str,
        value: &str,
        ttl_secs: i64,
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A value set by [`Ephemeral::put_expiring`], if it has not expired.
    fn get_live(&self, key: &str, now: i64) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Removes a value set by [`Ephemeral::put_expiring`].
    fn remove(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Every capability of the origin's hot store, over the edge core's [`HotStore`].
pub trait OriginHot: HotStore + Publish + SessionIndex + RateLimiter + Ephemeral {}

impl<T: HotStore + Publish + SessionIndex + RateLimiter + Ephemeral> OriginHot for T {}

/// The embedded hot store (SQLite, WAL). Keys follow [`usso_edge::store::key`].
#[derive(Clone)]
pub struct SqliteHot {
    db: Db,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    tenant TEXT NOT NULL, id TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
    expires_at INTEGER NOT NULL, PRIMARY KEY (tenant, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_subject ON sessions (tenant, subject);
CREATE TABLE IF NOT EXISTS counters (k TEXT PRIMARY KEY, n INTEGER NOT NULL, reset_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS expiring (k TEXT PRIMARY KEY, v TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;";

impl SqliteHot {
    /// Opens `path`.
    pub fn open(path: &std::path::Path) -> Result<Self> {
        Ok(Self {
            db: Db::open(path, "hot", Durability::Normal, SCHEMA)?,
        })
    }
}

fn read_session(
    tx: &rusqlite::Connection,
    tenant: &str,
    id: &str,
) -> Result<Option<SessionRecord>> {
    let body: Option<String> = tx
        .query_row(
            "SELECT body FROM sessions WHERE tenant=?1 AND id=?2",
            params![tenant, id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    body.map(|b| {
        serde_json::from_str(&b).map_err(|e| Error::internal(format!("corrupt session: {e}")))
    })
    .transpose()
}

fn write_session(tx: &rusqlite::Connection, r: &SessionRecord) -> Result<()> {
    let body = serde_json::to_string(r).map_err(|e| Error::internal(e.to_string()))?;
    tx.execute(
        "INSERT INTO sessions (tenant, id, subject, body, expires_at) VALUES (?1,?2,?3,?4,?5)
         ON CONFLICT (tenant, id) DO UPDATE SET body=excluded.body, expires_at=excluded.expires_at",
        params![r.tenant_id, r.session_id, r.subject, body, r.expires_at],
    )
    .map_err(sql)?;
    Ok(())
}

impl HotStore for SqliteHot {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>> {
        let keys = keys.to_vec();
        self.db
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT v FROM kv WHERE k=?1")
                    .map_err(sql)?;
                keys.iter()
                    .map(|k| stmt.query_row([k], |r| r.get(0)).optional().map_err(sql))
                    .collect()
            })
            .await
    }

    async fn session(&self, tenant_id: &str, session_id: &str) -> Result<Option<SessionRecord>> {
        let (t, s) = (tenant_id.to_owned(), session_id.to_owned());
        self.db.read(move |c| read_session(c, &t, &s)).await
    }

    async fn hit(&self, counter: &str, window_secs: i64, now: i64) -> Result<(u64, i64)> {
        let k = counter.to_owned();
        self.db
            .call(move |c| {
                let (n, reset_at): (i64, i64) = c
                    .query_row(
                        "INSERT INTO counters (k, n, reset_at) VALUES (?1, 1, ?2 + ?3)
                         ON CONFLICT (k) DO UPDATE SET
                           n = CASE WHEN reset_at <= ?2 THEN 1 ELSE n + 1 END,
                           reset_at = CASE WHEN reset_at <= ?2 THEN ?2 + ?3 ELSE reset_at END
                         RETURNING n, reset_at",
                        params![k, now, window_secs],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(sql)?;
                Ok((n.max(0) as u64, reset_at))
            })
            .await
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
        let (t, s, h, succ) = (
            tenant_id.to_owned(),
            session_id.to_owned(),
            presented_hash.to_owned(),
            successor.clone(),
        );
        self.db
            .transaction(move |tx| {
                let record = read_session(tx, &t, &s)?;
                let (outcome, record, dirty) = apply_rotation(record, &h, &succ, grace_secs, now);
                if let (true, Some(next)) = (dirty, &record) {
                    write_session(tx, next)?;
                }
                Ok((outcome, record))
            })
            .await
    }

    async fn revoke(
        &self,
        tenant_id: &str,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>> {
        let (t, s, reason) = (
            tenant_id.to_owned(),
            session_id.to_owned(),
            reason.to_owned(),
        );
        self.db
            .transaction(move |tx| {
                let Some(mut r) = read_session(tx, &t, &s)? else {
                    return Ok(None);
                };
                if r.revoked_at.is_none() {
                    r.revoke(&reason, now);
                    write_session(tx, &r)?;
                }
                Ok(Some(r))
            })
            .await
    }
}

impl Publish for SqliteHot {
    async fn set(&self, k: &str, v: &str) -> Result<()> {
        let (k, v) = (k.to_owned(), v.to_owned());
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v=excluded.v",
                    params![k, v],
                )
                .map_err(sql)?;
                Ok(())
            })
            .await
    }
    async fn unset(&self, k: &str) -> Result<()> {
        let k = k.to_owned();
        self.db
            .call(move |c| {
                c.execute("DELETE FROM kv WHERE k=?1", params![k])
                    .map_err(sql)?;
                Ok(())
            })
            .await
    }
}

impl SessionIndex for SqliteHot {
    async fn put_session(&self, record: &SessionRecord) -> Result<()> {
        let r = record.clone();
        self.db.transaction(move |tx| write_session(tx, &r)).await
    }
    async fn set_grant(&self, tenant_id: &str, session_id: &str, grant: &Grant) -> Result<bool> {
        let (t, s, g) = (tenant_id.to_owned(), session_id.to_owned(), grant.clone());
        self.db
            .transaction(move |tx| {
                let Some(mut r) = read_session(tx, &t, &s)? else {
                    return Ok(false);
                };
                if r.revoked_at.is_some() {
                    return Ok(false);
                }
                r.grant = g;
                write_session(tx, &r)?;
                Ok(true)
            })
            .await
    }
    async fn sessions_of(&self, tenant_id: &str, subject: &str) -> Result<Vec<SessionRecord>> {
        let (t, s) = (tenant_id.to_owned(), subject.to_owned());
        self.db
            .call(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT body FROM sessions WHERE tenant=?1 AND subject=?2")
                    .map_err(sql)?;
                let rows = stmt
                    .query_map(params![t, s], |r| r.get::<_, String>(0))
                    .map_err(sql)?;
                let mut out = Vec::new();
                for row in rows {
                    let body = row.map_err(sql)?;
                    out.push(
                        serde_json::from_str::<SessionRecord>(&body)
                            .map_err(|e| Error::internal(format!("corrupt session: {e}")))?,
                    );
                }
                out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
                Ok(out)
            })
            .await
    }
}

impl RateLimiter for SqliteHot {
    async fn clear(&self, counters: &[String]) -> Result<()> {
        let ks = counters.to_vec();
        self.db
            .call(move |c| {
                for k in &ks {
                    c.execute("DELETE FROM counters WHERE k=?1", [k])
                        .map_err(sql)?;
                }
                Ok(())
            })
            .await
    }
}

impl Ephemeral for SqliteHot {
    async fn put_expiring(&self, key: &str, value: &str, ttl_secs: i64, now: i64) -> Result<()> {
        let (k, v) = (key.to_owned(), value.to_owned());
        self.db
            .call(move |c| {
                // Expired entries of any key go at the same time: the table stays small.
                c.execute("DELETE FROM expiring WHERE expires_at <= ?1", [now])
                    .map_err(sql)?;
                c.execute(
                    "INSERT INTO expiring (k, v, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at",
                    params![k, v, now + ttl_secs],
                )
                .map_err(sql)?;
                Ok(())
            })
            .await
    }
    async fn get_live(&self, key: &str, now: i64) -> Result<Option<String>> {
        let k = key.to_owned();
        self.db
            .call(move |c| {
                c.query_row(
                    "SELECT v FROM expiring WHERE k = ?1 AND expires_at > ?2",
                    params![k, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)
            })
            .await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        let k = key.to_owned();
        self.db
            .call(move |c| {
                c.execute("DELETE FROM expiring WHERE k = ?1", [k])
                    .map_err(sql)?;
                Ok(())
            })
            .await
    }
}

// ---- Redis (native or Upstash REST) -----------------------------------------------------------

use serde_json::Value;
use usso_edge::redis_session::{
    create_args, subject_index, RedisExec, CREATE_SCRIPT, GRANT_SCRIPT,
};
use usso_edge::upstash_store::RedisHotStore;

impl<C: RedisExec + Send + Sync + 'static> Publish for RedisHotStore<C> {
    async fn set(&self, k: &str, v: &str) -> Result<()> {
        self.client()
            .exec(vec!["SET".into(), k.into(), v.into()])
            .await
            .map(|_| ())
    }
    async fn unset(&self, k: &str) -> Result<()> {
        self.client()
            .exec(vec!["DEL".into(), k.into()])
            .await
            .map(|_| ())
    }
}

impl<C: RedisExec + Send + Sync + 'static> SessionIndex for RedisHotStore<C> {
    async fn put_session(&self, record: &SessionRecord) -> Result<()> {
        let k = usso_edge::store::key::session(&record.tenant_id, &record.session_id);
        let idx = subject_index(&record.tenant_id, &record.subject);
        let now = record.last_used_at;
        let args = create_args(record, now)?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.eval(CREATE_SCRIPT, &[&k, &idx], &args)
            .await
            .map(|_| ())
    }
    async fn set_grant(&self, tenant_id: &str, session_id: &str, grant: &Grant) -> Result<bool> {
        let k = usso_edge::store::key::session(tenant_id, session_id);
        let grant = serde_json::to_string(grant).map_err(|e| Error::internal(e.to_string()))?;
        Ok(self.eval(GRANT_SCRIPT, &[&k], &[&grant]).await?.as_i64() == Some(1))
    }
    async fn sessions_of(&self, tenant_id: &str, subject: &str) -> Result<Vec<SessionRecord>> {
        let idx = subject_index(tenant_id, subject);
        let ids = match self.client().exec(vec!["SMEMBERS".into(), idx]).await? {
            Value::Array(ids) => ids,
            _ => return Err(Error::unavailable("SMEMBERS answered the wrong shape")),
        };
        let mut out = Vec::new();
        for id in ids.iter().filter_map(Value::as_str) {
            if let Some(r) = self.session(tenant_id, id).await? {
                out.push(r);
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }
}

impl<C: RedisExec + Send + Sync + 'static> RateLimiter for RedisHotStore<C> {
    async fn clear(&self, counters: &[String]) -> Result<()> {
        if counters.is_empty() {
            return Ok(());
        }
        let mut cmd = vec!["DEL".to_owned()];
        cmd.extend(counters.iter().cloned());
        self.client().exec(cmd).await.map(|_| ())
    }
}

impl<C: RedisExec + Send + Sync + 'static> Ephemeral for RedisHotStore<C> {
    async fn put_expiring(&self, key: &str, value: &str, ttl_secs: i64, now: i64) -> Result<()> {
        // The deadline comes from the caller's clock (Redis enforces it on its own).
        self.client()
            .exec(vec![
                "SET".into(),
                key.into(),
                value.into(),
                "EXAT".into(),
                (now + ttl_secs.max(1)).max(1).to_string(),
            ])
            .await
            .map(|_| ())
    }
    async fn get_live(&self, key: &str, _now: i64) -> Result<Option<String>> {
        match self.client().exec(vec!["GET".into(), key.into()]).await? {
            Value::Null => Ok(None),
            Value::String(v) => Ok(Some(v)),
            _ => Err(Error::unavailable("GET answered the wrong shape")),
        }
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.client()
            .exec(vec!["DEL".into(), key.into()])
            .await
            .map(|_| ())
    }
}

/// The hot-store backend chosen by configuration.
#[derive(Clone)]
pub enum Hot {
    /// Embedded SQLite (the default).
    Sqlite(SqliteHot),
    /// A self-hosted Redis through the native client (`USSO_REDIS_URL`).
    Redis(RedisHotStore<crate::store::redis::NativeRedis>),
    /// Upstash (or the gateway) over REST (`UPSTASH_REDIS_REST_URL` + `_TOKEN`).
    Upstash(RedisHotStore<usso_shared::upstash::Upstash<usso_shared::transport::ReqwestTransport>>),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Hot::Sqlite($s) => $e,
            Hot::Redis($s) => $e,
            Hot::Upstash($s) => $e,
        }
    };
}

impl Hot {
    /// The backend's name, for logs and `/health`.
    pub fn name(&self) -> &'static str {
        match self {
            Hot::Sqlite(_) => "sqlite",
            Hot::Redis(_) => "redis",
            Hot::Upstash(_) => "upstash",
        }
    }
}

impl HotStore for Hot {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>> {
        each!(self, s => s.get_many(keys).await)
    }
    async fn session(&self, tenant_id: &str, session_id: &str) -> Result<Option<SessionRecord>> {
        each!(self, s => s.session(tenant_id, session_id).await)
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
        each!(self, s => s.rotate(tenant_id, session_id, presented_hash, successor, grace_secs, now).await)
    }
    async fn revoke(
        &self,
        tenant_id: &str,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>> {
        each!(self, s => s.revoke(tenant_id, session_id, reason, now).await)
    }
    async fn hit(&self, counter: &str, window_secs: i64, now: i64) -> Result<(u64, i64)> {
        each!(self, s => s.hit(counter, window_secs, now).await)
    }
}

impl Publish for Hot {
    async fn set(&self, k: &str, v: &str) -> Result<()> {
        each!(self, s => s.set(k, v).await)
    }
    async fn unset(&self, k: &str) -> Result<()> {
        each!(self, s => s.unset(k).await)
    }
}

impl SessionIndex for Hot {
    async fn put_session(&self, record: &SessionRecord) -> Result<()> {
        each!(self, s => s.put_session(record).await)
    }
    async fn sessions_of(&self, tenant_id: &str, subject: &str) -> Result<Vec<SessionRecord>> {
        each!(self, s => s.sessions_of(tenant_id, subject).await)
    }
    async fn set_grant(&self, tenant_id: &str, session_id: &str, grant: &Grant) -> Result<bool> {
        each!(self, s => s.set_grant(tenant_id, session_id, grant).await)
    }
}

impl RateLimiter for Hot {
    async fn clear(&self, counters: &[String]) -> Result<()> {
        each!(self, s => s.clear(counters).await)
    }
}

impl Ephemeral for Hot {
    async fn put_expiring(&self, key: &str, value: &str, ttl_secs: i64, now: i64) -> Result<()> {
        each!(self, s => s.put_expiring(key, value, ttl_secs, now).await)
    }
    async fn get_live(&self, key: &str, now: i64) -> Result<Option<String>> {
        each!(self, s => s.get_live(key, now).await)
    }
    async fn remove(&self, key: &str) -> Result<()> {
        each!(self, s => s.remove(key).await)
    }
}
