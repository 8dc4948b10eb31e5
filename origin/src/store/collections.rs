//! Every document collection, declared once. A collection name is part of the stored data:
//! renaming one is a migration, so each is written here and nowhere else.

/// Tenant records (`tenant` = `id` = the tenant id).
pub const TENANTS: &str = "tenants";
/// Sealed signing keys of each tenant.
pub const KEYS: &str = "keys";
/// Accounts.
pub const USERS: &str = "users";
/// Identifier → account index (one document per email, phone or username).
pub const IDENTIFIERS: &str = "identifiers";
/// Roles (`id` = the slug).
pub const ROLES: &str = "roles";
/// Workspaces (`id` = the workspace id).
pub const WORKSPACES: &str = "workspaces";
/// Invitations to workspaces (`id` = the invitation id).
pub const INVITATIONS: &str = "invitations";
/// API keys (`id` = the key's public id; only the key's hash is stored).
pub const API_KEYS: &str = "api_keys";
/// Service accounts (`id` = `service:<hex>`; `kids` lists their public keys' ids).
pub const AGENTS: &str = "agents";
/// OAuth clients (`id` = the client id; only a hash of a confidential client's secret).
pub const OAUTH_CLIENTS: &str = "oauth_clients";
/// Consents people gave OAuth clients (`id` = `<user id>:<client id>`).
pub const OAUTH_CONSENTS: &str = "oauth_consents";
/// The RS256 key of each tenant's ID tokens, sealed (made when a client first asks for RS256).
pub const ID_TOKEN_KEYS: &str = "id_token_keys";
/// The audit trail.
pub const AUDIT: &str = "audit";
/// Messages waiting for delivery.
pub const OUTBOX: &str = "outbox";

/// Every collection, in export order.
pub const ALL: [&str; 14] = [
    TENANTS,
    KEYS,
    ID_TOKEN_KEYS,
    ROLES,
    WORKSPACES,
    USERS,
    IDENTIFIERS,
    INVITATIONS,
    API_KEYS,
    AGENTS,
    OAUTH_CLIENTS,
    OAUTH_CONSENTS,
    AUDIT,
    OUTBOX,
];
