//! # usso-origin
//!
//! The native, self-hosted side of the USSO token service: users and identifiers, Argon2id
//! passwords, tenants and their keys, sessions, rate limits, audit, the admin CLI, and the
//! edge core's token routes mounted natively over the embedded hot store.
//!
//! The layers (docs/architecture.md): [`http`] is the only module that knows axum and the edge
//! core's request and response types; [`authn`] proves who someone is, [`sessions`] turns a
//! proof into a session, [`identity`] and [`tenants`] hold the accounts and their policy,
//! [`delivery`] sends codes and links, [`store`] persists, and [`app`] wires them together.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod config;
pub mod delivery;
pub mod gdpr;
pub mod http;
pub mod identity;
pub mod logging;
pub mod oauth;
pub mod sessions;
pub mod store;
pub mod tenants;
