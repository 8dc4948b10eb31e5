//! `usso-shared`'s one integration-test binary: the RFC 8725 negative matrix, the scope table
//! generated from the Python SDK, and interop with npm `jose`. Run one area with
//! `cargo test -p usso-shared --test it token_matrix::`.

mod ed25519_rule;
mod jose_interop;
mod scope_table;
mod token_matrix;
