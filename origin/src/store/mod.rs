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

/// Wall-clock milliseconds, for document bookkeeping (`updated_at`, audit ids) only: rules
/// that depend on time read [`crate::app::Ctx::now`].
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
