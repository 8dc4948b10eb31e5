//! # usso-shared
//!
//! The rules both sides of the USSO-compatible token service must agree on: claims, the scope
//! grammar, Ed25519 keys and JWKS, token signing and verification, refresh-rotation rules, the
//! error codes, and the HTTP transport trait the store clients are written against.
//!
//! No async runtime and no I/O of its own: it builds for native targets, `wasm32-unknown-unknown`
//! (Cloudflare Workers) and `wasm32-wasip2` (Spin / WASI HTTP hosts).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api_key;
pub mod claims;
pub mod client_key;
pub mod clock;
pub mod data_api;
pub mod dpop;
pub mod ed25519;
pub mod ejson;
pub mod encoding;
pub mod error;
pub mod keys;
pub mod paths;
pub mod random;
pub mod rotation;
pub mod scope;
pub mod seal;
pub mod token;
pub mod transport;
pub mod upstash;

/// The Ed25519 crate of [`token`], for adapters that implement [`token::SignatureCheck`].
pub use ed25519_dalek;
pub use error::{Error, ErrorCode, Result};
/// The P-256 crate of [`client_key`], for adapters that implement [`token::SignatureCheck`].
pub use p256;
