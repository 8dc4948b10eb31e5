//! The origin's one integration-test binary (one link instead of one per file). Run one area
//! with `cargo test -p usso-origin --test it http_flow::`.
//!
//! Most modules start the real `usso-origin` binary (support::Server) where the process is the
//! point: restarts, SIGKILL, the edge runtimes, Redis crashes.

mod backends;
mod captcha_interop;
mod delivery;
mod docstore_conformance;
mod edge_suite;
mod http_flow;
mod otp_flow;
mod passwordless;
mod redis_backend;
mod redis_gateway;
mod security;
mod support;
