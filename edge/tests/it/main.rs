//! `usso-edge`'s one integration-test binary. Run one area with
//! `cargo test -p usso-edge --test it core_routes::`.

mod core_routes;
