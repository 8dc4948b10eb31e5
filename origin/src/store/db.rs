//! One SQLite database file behind one connection, used from async code through tokio's
//! blocking pool. WAL mode; every multi-statement change runs in one `BEGIN IMMEDIATE`
//! transaction, so a committed write survives a crash and concurrent callers never interleave.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use usso_shared::{Error, ErrorCode, Result};

/// A shared handle to one database file.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    name: &'static str,
}

/// Durability of commits.
#[derive(Debug, Clone, Copy)]
pub enum Durability {
    /// fsync on every commit (documents: users, keys, audit).
    Full,
    /// fsync at checkpoints; a process crash loses nothing, a power cut may lose the last
    /// commits (hot data: sessions can be re-established, counters are transient).
    Normal,
}

impl Db {
    /// Opens (creating) a database file and applies `schema`.
    pub fn open(
        path: &Path,
        name: &'static str,
        durability: Durability,
        schema: &str,
    ) -> Result<Self> {
        crate::store::private_fs::file(path).map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("cannot create {name} database {}: {e}", path.display()),
            )
        })?;
        let conn = Connection::open(path).map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("cannot open {name} database {}: {e}", path.display()),
            )
        })?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000; \
             PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456; {schema}"
        ))
        .map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("{name} database schema: {e}"),
            )
        })?;
        // Room for every query shape the hot paths use (the default keeps 16).
        conn.set_prepared_statement_cache_capacity(128);
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            name,
        })
    }

    /// Applies `sql` once: when the database's `user_version` is below `version`, runs it and
    /// sets `user_version` to `version`, in one transaction (a crash leaves it to run again).
    pub fn migrate(&self, version: i32, statements: &str) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let at: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if at >= version {
            return Ok(());
        }
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(statements).map_err(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version={version}"))
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let name = self.name;
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-applied transaction: SQLite
            // rolls back an unfinished transaction when the next one begins.
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::internal(format!("{name} database task failed: {e}")))?
    }

    /// Runs a short read (a lookup by key from the page cache: microseconds) on the calling
    /// thread when the connection is free, which spares the hand-off to the blocking pool and
    /// back; when another call holds the connection, waits for it on the blocking pool as
    /// [`Self::call`] does. Never for writes (a commit may wait for the disk).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        match self.inline(f) {
            Ok(done) => done,
            Err(f) => self.call(f).await,
        }
    }

    /// `f` run now if the connection is free, else `f` back.
    fn inline<T, F>(&self, f: F) -> std::result::Result<Result<T>, F>
    where
        F: FnOnce(&mut Connection) -> Result<T>,
    {
        match self.conn.try_lock() {
            Ok(mut guard) => Ok(f(&mut guard)),
            Err(std::sync::TryLockError::Poisoned(e)) => Ok(f(&mut e.into_inner())),
            Err(std::sync::TryLockError::WouldBlock) => Err(f),
        }
    }

    /// Runs `f` inside one immediate transaction, committed only if `f` succeeds.
    pub async fn transaction<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sql)?;
            let out = f(&tx)?;
            tx.commit().map_err(sql)?;
            Ok(out)
        })
        .await
    }
}

/// Maps a SQLite error to `service_unavailable` (the store failed, not the request).
pub fn sql(e: rusqlite::Error) -> Error {
    Error::unavailable(format!("database error: {e}"))
}
