//! Accounts and the identifiers that name them: creating accounts ([`register`]), proving
//! identifiers ([`claim`]), the store records ([`users`]) and identifier rules ([`identifier`]).

pub mod account;
pub mod agents;
pub mod claim;
pub mod fields;
pub mod identifier;
pub mod invitations;
pub mod manage;
pub mod profiles;
pub mod register;
pub mod roles;
pub mod users;
pub mod workspaces;
