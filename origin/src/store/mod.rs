//! Persistence: the document store (SQLite or MongoDB through the Data API), the hot store
//! (SQLite, native Redis or Upstash REST), and the names both hold ([`collections`], [`keys`]),
//! each declared once.

pub mod collections;
pub mod db;
pub mod docs;
pub mod hot;
pub mod keys;
pub mod mongo;
pub mod private_fs;
pub mod redis;

use serde_json::Value;
use usso_shared::Result;

use crate::store::docs::{Doc, DocumentStore, Page, SqliteDocs};

/// Wall-clock milliseconds, for document bookkeeping (`updated_at`, audit ids) only: rules
/// that depend on time read [`crate::app::Ctx::now`].
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The configured document store: embedded SQLite (default) or MongoDB through the Data API.
/// Both pass the same conformance suite (`origin/tests/it/docstore_conformance.rs`).
#[derive(Clone)]
pub enum Docs {
    /// Embedded SQLite.
    Sqlite(SqliteDocs),
    /// MongoDB through the Data API.
    Mongo(crate::store::mongo::MongoDocs),
}

impl Docs {
    /// Which backend, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Docs::Sqlite(_) => "embedded SQLite",
            Docs::Mongo(_) => "MongoDB Data API",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $d:ident => $call:expr) => {
        match $self {
            Docs::Sqlite($d) => $call.await,
            Docs::Mongo($d) => $call.await,
        }
    };
}

impl DocumentStore for Docs {
    async fn get(&self, coll: &str, tenant: &str, id: &str) -> Result<Option<Doc>> {
        delegate!(self, d => d.get(coll, tenant, id))
    }
    async fn insert(&self, coll: &str, tenant: &str, id: &str, body: Value) -> Result<Doc> {
        delegate!(self, d => d.insert(coll, tenant, id, body))
    }
    async fn replace(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
        body: Value,
        expected_version: i64,
    ) -> Result<Doc> {
        delegate!(self, d => d.replace(coll, tenant, id, body, expected_version))
    }
    async fn upsert(&self, coll: &str, tenant: &str, id: &str, body: Value) -> Result<Doc> {
        delegate!(self, d => d.upsert(coll, tenant, id, body))
    }
    async fn delete(&self, coll: &str, tenant: &str, id: &str) -> Result<bool> {
        delegate!(self, d => d.delete(coll, tenant, id))
    }
    async fn query(&self, coll: &str, tenant: &str, query: &docs::Query) -> Result<Page> {
        delegate!(self, d => d.query(coll, tenant, query))
    }
    async fn insert_many(
        &self,
        coll: &str,
        tenant: &str,
        docs: Vec<(String, serde_json::Value)>,
    ) -> Result<u64> {
        delegate!(self, d => d.insert_many(coll, tenant, docs))
    }
    async fn tenants(&self) -> Result<Vec<String>> {
        delegate!(self, d => d.tenants())
    }
}

/// The opened stores and master key.
pub struct Stores {
    /// Document store.
    pub docs: Docs,
    /// Hot store.
    pub hot: crate::store::hot::Hot,
    /// Master key.
    pub master: usso_shared::seal::SecretKey,
    /// The key the published signing key is sealed under for the edges
    /// ([`usso_shared::keys::edge_key`] of the configured generation).
    pub edge_key: usso_shared::seal::SecretKey,
}

/// A fresh directory for one unit test's stores (`usso-TAG-…` under the system's temp dir).
#[cfg(test)]
pub(crate) fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "usso-{tag}-{}-{}",
        std::process::id(),
        usso_shared::random::hex_id().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
