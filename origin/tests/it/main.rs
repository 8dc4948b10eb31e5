//! The origin's one integration-test binary (one link instead of one per file). Run one area
//! with `cargo test -p usso-origin --test it http_flow::`.
//!
//! `support::Server::start` runs the origin in this process (the real `app::run::serve` on a
//! temporary data directory, with an injectable clock: `time_rules` moves it instead of
//! sleeping); `support::Server::process` starts the real binary only where the process is the
//! point: SIGTERM/SIGKILL, file-descriptor limits, what it prints. The edge runtimes, Redis, the
//! SMTP server and the Data API stand-in are real processes.

mod account;
mod admin_api;
mod agents;
mod api_keys;
mod backends;
mod captcha_interop;
mod delivery;
mod docstore_conformance;
mod ed25519_vectors;
mod edge_suite;
mod hot_conformance;
mod http_flow;
mod oauth;
mod otp_flow;
mod pages;
mod passwordless;
mod redis_backend;
mod redis_gateway;
mod security;
mod support;
mod time_rules;
