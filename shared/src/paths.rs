//! Every HTTP route path of the product, declared once: the edge core's router, the origin's
//! router, links the origin writes (magic links) and the OpenAPI description all read these.
//! The API prefix is the USSO contract's `/api/sso/v1`.

/// Declares a path under the API prefix.
macro_rules! api {
    ($p:literal) => {
        concat!("/api/sso/v1", $p)
    };
}

/// The API prefix of the USSO contract.
pub const PREFIX: &str = "/api/sso/v1";

/// The tenant's JWKS.
pub const JWKS: &str = "/.well-known/jwks.json";
/// OpenID-style discovery.
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
/// Liveness and store health (origin).
pub const HEALTH: &str = "/health";

/// Verify an access token.
pub const VERIFY_TOKEN: &str = api!("/auth/verify-token");
/// The current user.
pub const AUTH_ME: &str = api!("/auth/me");
/// The current user (alias).
pub const ME: &str = api!("/me");
/// Rotate a refresh token.
pub const REFRESH: &str = api!("/auth/refresh");
/// End a session.
pub const LOGOUT: &str = api!("/auth/logout");

/// Password (or code) sign-in.
pub const LOGIN: &str = api!("/auth/login");
/// Registration.
pub const REGISTER: &str = api!("/auth/register");
/// Ask for a one-time code.
pub const REQUEST_OTP: &str = api!("/auth/request-otp");
/// Ask for a magic link.
pub const REQUEST_MAGIC_LINK: &str = api!("/auth/request-magic-link");
/// The magic link (GET: confirmation page; POST: consume it).
pub const MAGIC_LINK: &str = api!("/auth/magic-link");
/// Complete a second step.
pub const MFA_VERIFY: &str = api!("/auth/mfa/verify");
/// A captcha challenge.
pub const CAPTCHA_CHALLENGE: &str = api!("/captcha/challenge");
/// The caller's sessions.
pub const SESSIONS: &str = api!("/sessions");
/// One session (axum path syntax).
pub const SESSION: &str = api!("/sessions/{id}");
/// Users of the tenant (administration).
pub const USERS: &str = api!("/users");
/// One user.
pub const USER: &str = api!("/users/{uid}");
/// A user's identifiers.
pub const USER_IDENTIFIERS: &str = api!("/users/{uid}/identifiers");
/// One identifier of a user.
pub const USER_IDENTIFIER: &str = api!("/users/{uid}/identifiers/{identifier_id}");
/// Make an identifier the primary one of its kind.
pub const USER_IDENTIFIER_PRIMARY: &str = api!("/users/{uid}/identifiers/{identifier_id}/primary");
/// Which ways of signing in a user has set up.
pub const USER_CREDENTIALS: &str = api!("/users/{uid}/credentials");
/// The caller's own profile.
pub const PROFILE_MINE: &str = api!("/profiles/mine");
/// A user's profile.
pub const PROFILE: &str = api!("/profiles/{user_id}");
/// Roles of the tenant.
pub const ROLES: &str = api!("/roles");
/// One role.
pub const ROLE: &str = api!("/roles/{slug}");
/// Workspaces of the tenant (all of them, or the caller's own).
pub const WORKSPACES: &str = api!("/workspaces");
/// One workspace.
pub const WORKSPACE: &str = api!("/workspaces/{workspace_id}");
/// A workspace's members.
pub const WORKSPACE_MEMBERS: &str = api!("/workspaces/{workspace_id}/members");
/// One member of a workspace.
pub const WORKSPACE_MEMBER: &str = api!("/workspaces/{workspace_id}/members/{uid}");
/// A workspace's invitations.
pub const WORKSPACE_INVITATIONS: &str = api!("/workspaces/{workspace_id}/invitations");
/// One invitation.
pub const WORKSPACE_INVITATION: &str =
    api!("/workspaces/{workspace_id}/invitations/{invitation_id}");
/// An invitation link (GET: what it invites to; POST: accept it, signed in).
pub const INVITATION_ACCEPT: &str = api!("/invitations/accept");
/// Switch the session's active workspace (a new token pair, same session).
pub const AUTH_WORKSPACE: &str = api!("/auth/workspace");
/// Change your password.
pub const PASSWORD_CHANGE: &str = api!("/auth/password/change");
/// Ask for a password reset code.
pub const PASSWORD_RESET_REQUEST: &str = api!("/auth/password/reset/request");
/// Reset a password with a code.
pub const PASSWORD_RESET: &str = api!("/auth/password/reset");
/// Ask for a code proving one of your identifiers.
pub const VERIFY_REQUEST: &str = api!("/me/identifiers/verify/request");
/// Prove one of your identifiers with its code.
pub const VERIFY: &str = api!("/me/identifiers/verify");
/// API keys (`POST`: create; `GET`: list).
pub const APIKEYS: &str = api!("/apikeys");
/// The same, as the SDKs' other spelling.
pub const API_KEYS_ALIAS: &str = api!("/api-keys");
/// One API key (`GET`, `DELETE`).
pub const APIKEY: &str = api!("/apikeys/{id}");
/// The same, other spelling.
pub const API_KEY_ALIAS: &str = api!("/api-keys/{id}");
/// Checks an API key (`{"api_key"}` → its claims); answered at the edge.
pub const APIKEYS_VERIFY: &str = api!("/apikeys/verify");
/// The same, other spelling.
pub const API_KEYS_VERIFY_ALIAS: &str = api!("/api-keys/verify");
/// Service accounts (agents) (`GET`: list; `POST`: create).
pub const AGENTS: &str = api!("/agents");
/// One agent (`GET`, `PATCH`, `DELETE`).
pub const AGENT: &str = api!("/agents/{agent_id}");
/// An agent's public keys (`POST`: add one).
pub const AGENT_KEYS: &str = api!("/agents/{agent_id}/keys");
/// One public key of an agent (`DELETE`).
pub const AGENT_KEY: &str = api!("/agents/{agent_id}/keys/{kid}");
/// One-time registration keys for agents (`POST`, by a person signed in).
pub const AGENT_REGISTRATION_KEYS: &str = api!("/agents/registration-keys");
/// An agent registers itself with a registration key.
pub const AGENT_REGISTER: &str = api!("/agents/register");
/// An agent's signed JWT → an access token.
pub const AGENT_AUTH: &str = api!("/agents/auth");
/// An agent's signed JWT → its scopes and tenant.
pub const AGENT_SCOPES: &str = api!("/agents/scopes");
/// The identifier verification link (GET: its page; POST: the proof).
pub const VERIFY_LINK: &str = api!("/auth/identifiers/verify");
/// Everything held about you.
pub const ME_EXPORT: &str = api!("/me/export");
/// The tenant's audit trail.
pub const AUDIT: &str = api!("/audit");
/// Your own security events.
pub const AUDIT_MINE: &str = api!("/audit/mine");
/// Set a user's password (administration).
pub const USER_PASSWORD: &str = api!("/users/{uid}/password");
/// Tenants (the system administrator).
pub const TENANTS: &str = api!("/tenants");
/// One tenant (the system administrator; a tenant's administrator for its own).
pub const TENANT: &str = api!("/tenants/{tenant_id}");
/// OAuth clients (`GET`: list; `POST`: register one).
pub const OAUTH_CLIENTS: &str = api!("/oauth/clients");
/// One OAuth client (`GET`, `PATCH`, `DELETE`).
pub const OAUTH_CLIENT: &str = api!("/oauth/clients/{client_id}");
/// A new secret for a confidential client (the old one stops working).
pub const OAUTH_CLIENT_ROTATE: &str = api!("/oauth/clients/{client_id}/rotate-secret");
/// The authorization endpoint (RFC 6749 §3.1; GET, and POST for the consent form).
pub const OAUTH_AUTHORIZE: &str = api!("/oauth/authorize");
/// The consent form's answer.
pub const OAUTH_CONSENT: &str = api!("/oauth/authorize/consent");
/// The token endpoint (RFC 6749 §3.2).
pub const OAUTH_TOKEN: &str = api!("/oauth/token");
/// OpenID Connect userinfo.
pub const OAUTH_USERINFO: &str = api!("/oauth/userinfo");
/// Token introspection (RFC 7662).
pub const OAUTH_INTROSPECT: &str = api!("/oauth/introspect");
/// Token revocation (RFC 7009).
pub const OAUTH_REVOKE: &str = api!("/oauth/revoke");
/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
pub const OAUTH_END_SESSION: &str = api!("/oauth/end-session");
/// The consents you gave OAuth clients (`GET`), and taking one back (`DELETE …/{client_id}`).
pub const OAUTH_CONSENTS: &str = api!("/oauth/consents");
/// One consent of yours.
pub const OAUTH_CONSENT_OF: &str = api!("/oauth/consents/{client_id}");
/// Dynamic client registration (RFC 7591), when the tenant allows it.
pub const OAUTH_REGISTER: &str = api!("/oauth/register");
/// Device authorization (RFC 8628 §3.1).
pub const OAUTH_DEVICE: &str = api!("/oauth/device_authorization");
/// RFC 8414 authorization server metadata.
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";

/// The OpenAPI description.
pub const OPENAPI: &str = api!("/openapi.json");
/// The API docs page.
pub const API_DOCS: &str = api!("/docs");

/// Refresh the session from its cookie and go back to a page of this site (the hosted pages'
/// way back after the access cookie expired: the refresh cookie is only sent under `/auth`).
pub const RESUME: &str = api!("/auth/resume");

/// The hosted pages (HTML, per tenant, on the tenant's domains; `docs/pages.md`).
pub mod pages {
    /// Sign in (password; links to the other methods). `?redirect=` names where to go after.
    pub const LOGIN: &str = "/login";
    /// Sign in with a one-time code (GET: ask for the identifier; POST: send the code).
    pub const LOGIN_CODE: &str = "/login/code";
    /// Sign in with the code that was sent (POST).
    pub const LOGIN_CODE_VERIFY: &str = "/login/code/verify";
    /// Ask for a magic link (GET: the form; POST: send it).
    pub const LOGIN_LINK: &str = "/login/link";
    /// The second step of a sign-in: the code of a second factor or of an unproven address.
    pub const LOGIN_STEP: &str = "/login/step";
    /// Create an account.
    pub const SIGNUP: &str = "/signup";
    /// Forgotten password: ask for a code and a link.
    pub const FORGOT: &str = "/password/forgot";
    /// Set a new password with the code (POST).
    pub const RESET: &str = "/password/reset";
    /// Sign out (POST). Under the refresh cookie's path (`/api/sso/v1/auth`), so the session
    /// the browser holds is the one that ends, even after its access cookie expired.
    pub const LOGOUT: &str = api!("/auth/sign-out");
    /// The signed-in person's account.
    pub const ACCOUNT: &str = "/account";
    /// Save name, picture and language (POST).
    pub const ACCOUNT_PROFILE: &str = "/account/profile";
    /// Change the password (POST).
    pub const ACCOUNT_PASSWORD: &str = "/account/password";
    /// Add an identifier (POST).
    pub const ACCOUNT_IDENTIFIER_ADD: &str = "/account/identifiers/add";
    /// Send a code to an identifier, or prove it with one (POST).
    pub const ACCOUNT_IDENTIFIER_VERIFY: &str = "/account/identifiers/verify";
    /// Make an identifier primary (POST).
    pub const ACCOUNT_IDENTIFIER_PRIMARY: &str = "/account/identifiers/primary";
    /// Remove an identifier (POST).
    pub const ACCOUNT_IDENTIFIER_REMOVE: &str = "/account/identifiers/remove";
    /// End one session (POST).
    pub const ACCOUNT_SESSION_END: &str = "/account/sessions/end";
    /// End every other session (POST).
    pub const ACCOUNT_SESSIONS_END_OTHERS: &str = "/account/sessions/end-others";
    /// The error page.
    pub const ERROR: &str = "/error";
    /// Where a person enters the code a device shows (RFC 8628 `verification_uri`).
    pub const DEVICE: &str = "/device";
    /// Style sheets, scripts and the tenant's colours (axum path syntax).
    pub const ASSET: &str = "/assets/{file}";
    /// Where assets are served from.
    pub const ASSETS_PREFIX: &str = "/assets/";
}

/// Every route path above that the OpenAPI description documents (all but the description
/// itself and its docs page); a test checks that both lists agree.
pub const DOCUMENTED: &[&str] = &[
    JWKS,
    DISCOVERY,
    HEALTH,
    VERIFY_TOKEN,
    AUTH_ME,
    ME,
    REFRESH,
    LOGOUT,
    LOGIN,
    REGISTER,
    REQUEST_OTP,
    REQUEST_MAGIC_LINK,
    MAGIC_LINK,
    MFA_VERIFY,
    CAPTCHA_CHALLENGE,
    SESSIONS,
    SESSION,
    USERS,
    USER,
    USER_IDENTIFIERS,
    USER_IDENTIFIER,
    USER_IDENTIFIER_PRIMARY,
    USER_CREDENTIALS,
    PROFILE_MINE,
    PROFILE,
    ROLES,
    ROLE,
    WORKSPACES,
    WORKSPACE,
    WORKSPACE_MEMBERS,
    WORKSPACE_MEMBER,
    WORKSPACE_INVITATIONS,
    WORKSPACE_INVITATION,
    INVITATION_ACCEPT,
    AUTH_WORKSPACE,
    PASSWORD_CHANGE,
    PASSWORD_RESET_REQUEST,
    PASSWORD_RESET,
    VERIFY_REQUEST,
    VERIFY,
    VERIFY_LINK,
    APIKEYS,
    APIKEY,
    APIKEYS_VERIFY,
    AGENTS,
    AGENT,
    AGENT_KEYS,
    AGENT_KEY,
    AGENT_REGISTRATION_KEYS,
    AGENT_REGISTER,
    AGENT_AUTH,
    AGENT_SCOPES,
    ME_EXPORT,
    AUDIT,
    AUDIT_MINE,
    USER_PASSWORD,
    TENANTS,
    TENANT,
    OAUTH_CLIENTS,
    OAUTH_CLIENT,
    OAUTH_CLIENT_ROTATE,
    OAUTH_AUTHORIZE,
    OAUTH_CONSENT,
    OAUTH_TOKEN,
    OAUTH_USERINFO,
    OAUTH_INTROSPECT,
    OAUTH_REVOKE,
    OAUTH_END_SESSION,
    OAUTH_CONSENTS,
    OAUTH_CONSENT_OF,
    OAUTH_METADATA,
    OAUTH_DEVICE,
    OAUTH_REGISTER,
];
