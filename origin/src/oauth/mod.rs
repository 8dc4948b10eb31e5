//! The OAuth 2.1 and OpenID Connect provider: clients ([`clients`]), the authorization
//! endpoint ([`authorize`], [`code`], [`consent`]), the token endpoint's grants ([`grant`]),
//! ID tokens and userinfo ([`id_token`], [`userinfo`]), introspection and revocation.
//!
//! Tokens: an access token issued through the provider is the USSO access token (the claims
//! the SDKs read, verified by the edge core with no I/O) plus RFC 9068's `client_id` and
//! `scope`, signed with `typ: at+jwt`; its `scopes` holds only the permission scopes the person
//! granted and holds, its `roles` is empty, and identity claims appear only for the scopes
//! granted. Every session a client starts is its own (never the browser's), so revoking one
//! never signs the person out of the site.

pub mod assertion;
pub mod authorize;
pub mod clients;
pub mod code;
pub mod consent;
pub mod device;
pub mod grant;
pub mod id_token;
pub mod introspect;
pub mod metadata;
pub mod resource;
pub mod revoke;
pub mod rsa_key;
pub mod scopes;
pub mod userinfo;
