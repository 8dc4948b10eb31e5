//! Accounts and the identifiers that name them.

pub mod identifier;
pub mod users;
