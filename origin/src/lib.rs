//! # usso-origin
//!
//! The native, self-hosted side of the USSO token service: users and identifiers, Argon2id
//! passwords, tenants and their keys, sessions, rate limits, audit, the admin CLI, and the
//! edge core's token routes mounted natively over the embedded hot store.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod audit_retention;
pub mod authn;
pub mod bootstrap;
pub mod captcha;
pub mod channels;
pub mod client_addr;
pub mod config;
pub mod db;
pub mod delivery;
pub mod docstore;
pub mod gateway;
pub mod gdpr;
pub mod hot;
pub mod hyper_errors;
pub mod identifier;
pub mod known_device;
pub mod logging;
pub mod magic_link;
pub mod mongo_docs;
pub mod openapi;
pub mod otp;
pub mod outbox;
pub mod password;
pub mod private_fs;
pub mod redis_native;
pub mod run;
pub mod server;
pub mod tenant;
pub mod users;
