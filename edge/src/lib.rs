//! # usso-edge
//!
//! The runtime-free edge core of the USSO token service: JWKS and discovery, verify-token,
//! `auth/me` from the token, refresh rotation and logout, over a [`store::HotStore`] and a
//! [`usso_shared::clock::Clock`]. It has no runtime dependency: the Cloudflare Workers and Spin
//! adapters and the native origin all call [`EdgeCore::handle`] with the same
//! [`http::Request`] and get the same [`http::Response`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod core;
pub mod csrf;
pub mod http;
pub mod issue;
pub mod redis_session;
pub mod settings;
pub mod store;
pub mod tenant;
pub mod upstash_store;
pub mod verified;

pub use crate::core::{EdgeConfig, EdgeCore, Happened, TenantState, API, ROUTES};
pub use crate::http::{Method, Request, Response};
pub use crate::settings::EdgeSettings;
pub use crate::store::{HotStore, MemoryHotStore};
pub use crate::tenant::TenantConfig;
