//! Persistence: the document store (SQLite or MongoDB) and the hot store (SQLite or Redis).

pub mod db;
pub mod docs;
pub mod hot;
pub mod mongo;
pub mod private_fs;
pub mod redis;
