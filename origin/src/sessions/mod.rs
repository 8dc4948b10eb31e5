//! Sessions: starting one from a proof of identity ([`start`]), listing and revoking them
//! ([`list`]). Refresh and logout are the edge core's (the same code runs at the edge).

pub mod api_keys;
pub mod list;
pub mod start;
