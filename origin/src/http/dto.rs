//! Every request and response body of the HTTP API, declared once: the handlers parse these
//! and the OpenAPI description ([`super::openapi`]) is generated from the same types, so the
//! two cannot drift apart. Conversions into the domain's typed inputs live here too.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How `POST /auth/login` proves identity (`method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub enum LoginMethod {
    /// A password (the default).
    #[serde(
        rename = "password",
        alias = "email/password",
        alias = "phone/password",
        alias = "username/password"
    )]
    Password,
    /// A code sent by email.
    #[serde(rename = "email/otp")]
    EmailOtp,
    /// A code sent by SMS.
    #[serde(rename = "phone/otp")]
    PhoneOtp,
}

/// Body of `POST /auth/login` and `POST /auth/register`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct LoginRequest {
    /// Email, phone (E.164) or username.
    pub identifier: String,
    /// The password (or, with an OTP method, the code).
    pub secret: String,
    /// Register an unknown identifier (login only).
    #[serde(default)]
    pub register: bool,
    /// `password` (default; also `email/password`, `phone/password`,
    /// `username/password`), `email/otp`, `phone/otp`.
    #[serde(default)]
    pub method: Option<LoginMethod>,
    /// Identifier type hint: `email`, `phone`, `username`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Display name (registration).
    #[serde(default)]
    pub name: Option<String>,
}

/// Body of `POST /auth/request-otp`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OtpRequest {
    /// Email or phone (E.164).
    pub identifier: String,
    /// Identifier type hint: `email`, `phone`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `email` or `sms` (inferred from the identifier when absent).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub channel_type: Option<crate::delivery::Channel>,
}

/// Answer of `POST /auth/request-otp` (the same whether or not an account exists).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OtpAccepted {
    /// A message for people.
    pub detail: String,
    /// `email` or `sms`.
    pub channel: String,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

/// Body of `POST /auth/request-magic-link`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MagicLinkRequest {
    /// Email address.
    pub identifier: String,
    /// Where to send the browser after signing in (must be allowed by the tenant).
    #[serde(default)]
    pub redirect_to: Option<String>,
}

/// Body of `POST /auth/magic-link` (or the form field `token`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MagicLinkConfirm {
    /// The token from the link (required; a missing one is answered with a clear 422).
    #[serde(default)]
    pub token: Option<String>,
}

/// Body of `POST /auth/mfa/verify`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MfaVerify {
    /// The challenge from the login answer.
    pub mfa_challenge: String,
    /// The one-time code.
    pub code: String,
}

/// Body of `POST /auth/verify-token`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct VerifyRequest {
    /// The access token (or use `Authorization: Bearer`).
    pub token: Option<String>,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout` (or use the refresh cookie).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: Option<String>,
}

/// The pair inside a token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPairDoc {
    /// Access token.
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: String,
}

/// Login / register / refresh response (cookies `usso-access-token`, `usso-refresh-token` too).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Access token (EdDSA JWT).
    pub access_token: String,
    /// Refresh token (EdDSA JWT, rotates on every use).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The user.
    #[schema(value_type = Object)]
    pub user: serde_json::Value,
    /// The same pair, for the async Python client.
    pub token: TokenPairDoc,
}

/// The error body of every failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// Stable snake_case code, e.g. `invalid_credentials`.
    pub error_code: String,
    /// Human-readable message by language (`en`, `fa`).
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
    /// Detail.
    pub detail: String,
}

/// Answer of `POST /auth/request-magic-link` (the same whether or not an account exists).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MagicLinkAccepted {
    /// A message for people.
    pub detail: String,
    /// Seconds the link stays valid.
    pub expires_in: i64,
}

/// Answer of a password sign-in that needs a second step.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SecondStepRequired {
    /// The tenant requires a second factor.
    pub mfa_required: bool,
    /// The account's address must be proven first.
    pub verification_required: bool,
    /// `mfa` or `verify_identifier`.
    #[schema(value_type = String)]
    pub step: crate::authn::SecondStep,
    /// Complete with `POST /auth/mfa/verify`.
    pub mfa_challenge: String,
    /// Where the code went: `email` or `sms`.
    #[schema(value_type = String)]
    pub channel: crate::delivery::Channel,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

impl From<crate::authn::mfa::Challenge> for SecondStepRequired {
    fn from(c: crate::authn::mfa::Challenge) -> Self {
        use crate::authn::SecondStep;
        Self {
            mfa_required: c.step == SecondStep::Mfa,
            verification_required: c.step == SecondStep::VerifyIdentifier,
            step: c.step,
            mfa_challenge: c.challenge,
            channel: c.channel,
            expires_in: c.expires_in,
        }
    }
}

/// Query of `GET /sessions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SessionsQuery {
    /// Another user's sessions (needs `read:usso/sessions`).
    pub user_id: Option<String>,
    /// Skip this many.
    pub offset: Option<u64>,
    /// At most this many (1–200, default 50).
    pub limit: Option<u64>,
}

/// Reads a present field as `Some(value)` (with `null` as `Some(None)`), so that a PATCH can
/// tell "clear it" from "leave it" (an absent field stays `None` through `#[serde(default)]`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

/// RFC 3339 (UTC, seconds) of a Unix time.
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One identifier of a user, as the official SDK reads it (`UserIdentifierSchema`).
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentifierView {
    /// Stable id (does not reveal the address).
    pub uid: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Always false (removed identifiers are gone).
    pub is_deleted: bool,
    /// The tenant.
    pub tenant_id: String,
    /// `email`, `phone` or `username`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The canonical value.
    pub identifier: String,
    /// When it was proven (RFC 3339), or null.
    pub verified_at: Option<String>,
    /// The primary identifier of its kind.
    pub is_primary: bool,
    /// Always true.
    pub is_active: bool,
}

impl IdentifierView {
    /// The view of `i`, an identifier of `user`.
    pub fn of(
        user: &crate::identity::users::User,
        i: &crate::identity::users::IdentifierDoc,
    ) -> Self {
        Self {
            uid: i.uid(),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.verified_at.unwrap_or(i.created_at)),
            is_deleted: false,
            tenant_id: user.tenant_id.clone(),
            kind: i.kind.as_str().to_owned(),
            identifier: i.value.clone(),
            verified_at: i.proven_at().map(rfc3339),
            is_primary: user.primary(i.kind) == Some(i.value.as_str()),
            is_active: true,
        }
    }
}

/// A user as administrators and the official SDK read it (`UserResponse`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The user's id (a UUID).
    pub uid: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Deleted accounts are not shown, so always false.
    pub is_deleted: bool,
    /// The tenant.
    pub tenant_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// Role slugs.
    pub roles: Vec<String>,
    /// Direct scope grants (tokens add the roles' scopes).
    pub scopes: Vec<String>,
    /// Roles per workspace.
    #[schema(value_type = Object)]
    pub workspace_roles: std::collections::BTreeMap<String, Vec<String>>,
    /// Workspaces the user belongs to.
    pub workspace_ids: Vec<String>,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// Always false.
    pub is_limited: bool,
    /// `active` or `deactive`.
    pub activation_status: String,
    /// Empty (no custom claims yet).
    #[schema(value_type = Object)]
    pub custom_claims: serde_json::Map<String, serde_json::Value>,
    /// The identifiers.
    pub identifiers: Vec<IdentifierView>,
    /// Ways of signing in set up (`amr` values).
    pub credential_methods: Vec<String>,
    /// Last successful sign-in (RFC 3339).
    pub last_login_at: Option<String>,
    /// The version to send back in `If-Match` (also the `ETag` of `GET /users/{uid}`).
    pub version: i64,
}

impl From<&crate::identity::manage::Listed> for UserView {
    fn from(l: &crate::identity::manage::Listed) -> Self {
        let u = &l.user;
        Self {
            uid: u.id.clone(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
            is_deleted: u.is_deleted(),
            tenant_id: u.tenant_id.clone(),
            name: u.name.clone(),
            avatar_url: u.avatar_url.clone(),
            roles: u.roles.clone(),
            scopes: u.scopes.clone(),
            workspace_roles: u.workspace_roles.clone(),
            workspace_ids: u.workspace_ids.clone(),
            is_active: u.is_active,
            is_limited: false,
            activation_status: if u.is_active { "active" } else { "deactive" }.into(),
            custom_claims: Default::default(),
            identifiers: l
                .identifiers
                .iter()
                .map(|i| IdentifierView::of(u, i))
                .collect(),
            credential_methods: crate::identity::manage::credential_methods(u, &l.identifiers)
                .into_iter()
                .map(String::from)
                .collect(),
            last_login_at: u.last_login_at.map(rfc3339),
            version: l.version,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The page.
    pub items: Vec<UserView>,
    /// All matching.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Body of `POST /users`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email, phone (E.164) or username.
    pub identifier: String,
    /// `email`, `phone` or `username` (guessed when absent).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A password (the tenant's policy applies); none for a passwordless account.
    #[serde(default)]
    pub secret: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Role slugs (each within your own access).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Direct scopes (each within your own).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Default true.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// You vouch that the identifier belongs to the person (default false: they prove it).
    #[serde(default)]
    pub verified: bool,
}

impl From<CreateUser> for crate::identity::manage::NewUser {
    fn from(b: CreateUser) -> Self {
        Self {
            identifier: b.identifier,
            kind: b.kind,
            secret: b.secret,
            name: b.name,
            roles: b.roles,
            scopes: b.scopes,
            is_active: b.is_active,
            verified: b.verified,
        }
    }
}

/// Body of `PATCH /users/{uid}` (absent fields stay; send `If-Match` to refuse a stale write).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// Display name (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Role slugs (replaces them).
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Direct scopes (replaces them).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Whether the account may sign in.
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl From<UpdateUser> for crate::identity::manage::UserChange {
    fn from(b: UpdateUser) -> Self {
        Self {
            name: b.name,
            roles: b.roles,
            scopes: b.scopes,
            is_active: b.is_active,
        }
    }
}

/// Body of `POST /users/{uid}/identifiers`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddIdentifier {
    /// `email`, `phone` or `username` (guessed when absent).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The value.
    pub identifier: String,
    /// You vouch that it belongs to the person (default false).
    #[serde(default)]
    pub verified: bool,
}

/// Answer of `GET /users/{uid}/identifiers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentifierList {
    /// The identifiers.
    pub items: Vec<IdentifierView>,
    /// How many.
    pub total: usize,
}

/// Answer of `GET /users/{uid}/credentials`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Credentials {
    /// Ways of signing in set up (`amr` values: `password`, `email/otp`, `magic_link`,
    /// `phone/otp`).
    pub methods: Vec<String>,
    /// Whether the account has a password.
    pub has_password: bool,
}

/// A profile: what a user shows of themself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    /// The user's id.
    pub uid: String,
    /// The same (the SDK's name for it).
    pub user_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// The hosted pages' language, if chosen.
    pub locale: Option<String>,
    /// Primary email.
    pub email: Option<String>,
    /// Primary phone.
    pub phone: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&crate::identity::users::User> for ProfileView {
    fn from(u: &crate::identity::users::User) -> Self {
        Self {
            uid: u.id.clone(),
            user_id: u.id.clone(),
            tenant_id: u.tenant_id.clone(),
            name: u.name.clone(),
            avatar_url: u.avatar_url.clone(),
            locale: u.locale.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            username: u.username.clone(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// Body of `PATCH /profiles/mine` (absent fields stay, `null` clears).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    /// Display name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Picture URL (`https://`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    /// The hosted pages' language: `en` or `fa` (`null`: as the browser asks).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub locale: Option<Option<String>>,
}

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    /// The slug (also its id).
    pub uid: String,
    /// Unique in the tenant.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Scopes it grants.
    pub scopes: Vec<String>,
    /// Inactive roles grant nothing.
    pub is_active: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The version to send back in `If-Match`.
    pub version: i64,
}

impl RoleView {
    /// The view of a role at `version`.
    pub fn of(r: &crate::identity::roles::Role, version: i64) -> Self {
        Self {
            uid: r.slug.clone(),
            slug: r.slug.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            scopes: r.scopes.clone(),
            is_active: r.is_active,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            version,
        }
    }
}

/// A page of roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolePage {
    /// The page.
    pub items: Vec<RoleView>,
    /// All roles.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Body of `POST /roles`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// `[a-z0-9][a-z0-9_-]*`, at most 64; never changes.
    pub slug: String,
    /// Display name (the slug when absent).
    #[serde(default)]
    pub name: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Scopes (each within your own).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Default true.
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl From<CreateRole> for crate::identity::roles::NewRole {
    fn from(b: CreateRole) -> Self {
        Self {
            slug: b.slug,
            name: b.name,
            description: b.description,
            scopes: b.scopes,
            is_active: b.is_active,
        }
    }
}

/// Body of `PATCH /roles/{slug}` (absent fields stay).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Scopes (replaces them; each within your own).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Inactive roles grant nothing.
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl From<UpdateRole> for crate::identity::roles::RoleChange {
    fn from(b: UpdateRole) -> Self {
        Self {
            name: b.name,
            description: b.description,
            scopes: b.scopes,
            is_active: b.is_active,
        }
    }
}

/// A workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    /// `ws_…`.
    pub id: String,
    /// The same id (the SDKs' `uid`).
    pub uid: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Inactive workspaces cannot be switched to.
    pub is_active: bool,
    /// Who created it (`sub`).
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The version to send back in `If-Match`.
    pub version: i64,
}

impl WorkspaceView {
    /// The view of a workspace at `version`.
    pub fn of(w: &crate::identity::workspaces::Workspace, version: i64) -> Self {
        Self {
            id: w.id.clone(),
            uid: w.id.clone(),
            name: w.name.clone(),
            description: w.description.clone(),
            is_active: w.is_active,
            created_by: w.created_by.clone(),
            created_at: rfc3339(w.created_at),
            updated_at: rfc3339(w.updated_at),
            version,
        }
    }
}

/// A page of workspaces.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspacePage {
    /// The page.
    pub items: Vec<WorkspaceView>,
    /// All the caller may see.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Body of `POST /workspaces`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Display name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Make the creator its first member, with the role `admin` (default false).
    #[serde(default)]
    pub join: bool,
}

/// Body of `PATCH /workspaces/{workspace_id}` (absent fields stay).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Deactivating ends the members' sessions.
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// A member of a workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The user.
    pub user_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Primary email.
    pub email: Option<String>,
    /// Primary phone.
    pub phone: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Their roles in the workspace.
    pub roles: Vec<String>,
    /// Whether the account may sign in.
    pub is_active: bool,
}

impl From<&crate::identity::workspaces::Member> for MemberView {
    fn from(m: &crate::identity::workspaces::Member) -> Self {
        Self {
            user_id: m.user.id.clone(),
            name: m.user.name.clone(),
            email: m.user.email.clone(),
            phone: m.user.phone.clone(),
            username: m.user.username.clone(),
            roles: m.roles.clone(),
            is_active: m.user.is_active,
        }
    }
}

/// A page of members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    /// The page.
    pub items: Vec<MemberView>,
    /// All members.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Body of `POST /workspaces/{workspace_id}/members`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// A user of the tenant.
    pub user_id: String,
    /// Their roles in the workspace (tenant role slugs; what they grant is confined to the
    /// workspace and must be within your own access there).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Body of `PATCH /workspaces/{workspace_id}/members/{uid}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// Their roles in the workspace (replaces them).
    pub roles: Vec<String>,
}

/// An invitation (never its link).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    /// `inv_…`.
    pub id: String,
    /// The workspace.
    pub workspace_id: String,
    /// The invited address.
    pub email: String,
    /// Workspace roles the member gets.
    pub roles: Vec<String>,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    /// Who sent it (`sub`).
    pub invited_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl InvitationView {
    /// The view of an invitation at time `now`.
    pub fn of(i: &crate::identity::invitations::Invitation, now: i64) -> Self {
        Self {
            id: i.id.clone(),
            workspace_id: i.workspace_id.clone(),
            email: i.email.clone(),
            roles: i.roles.clone(),
            status: i.shown_status(now).into(),
            invited_by: i.invited_by.clone(),
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
        }
    }
}

/// A page of invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPage {
    /// The page.
    pub items: Vec<InvitationView>,
    /// All of the workspace's.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Body of `POST /workspaces/{workspace_id}/invitations`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// Who to invite.
    pub email: String,
    /// Workspace roles they get (within your own access there).
    #[serde(default)]
    pub roles: Vec<String>,
    /// 1–30, default 7.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// What an invitation link invites to (`GET /invitations/accept?token=…`; changes nothing).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationInfo {
    /// The workspace.
    pub workspace_id: String,
    /// Its name.
    pub workspace_name: String,
    /// The invited address (sign in with it to accept).
    pub email: String,
    /// Workspace roles.
    pub roles: Vec<String>,
    /// RFC 3339.
    pub expires_at: String,
}

/// Body of `POST /invitations/accept`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The `token` of the link.
    pub token: String,
}

/// Answer of `POST /invitations/accept`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The workspace joined.
    pub workspace: WorkspaceView,
    /// Your roles there now.
    pub roles: Vec<String>,
}

/// Body of `POST /auth/workspace`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchWorkspace {
    /// A workspace you belong to, or `null` for none (tenant-wide access only).
    pub workspace_id: Option<String>,
    /// The session's refresh token (or the `usso-refresh-token` cookie): it is rotated.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Body of `POST /auth/password/change`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// Your password now (required when the account has one).
    #[serde(default)]
    pub current_password: Option<String>,
    /// The new one (the tenant's policy).
    pub new_password: String,
}

/// How many sessions an action ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    /// Sessions revoked.
    pub sessions_revoked: u64,
}

/// Body of `POST /auth/password/reset/request` and `POST /me/identifiers/verify/request`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeFor {
    /// Email or phone.
    pub identifier: String,
}

/// Body of `POST /auth/password/reset`: the mailed link's `token`, or the `identifier` and
/// the `code` sent to it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The email or phone the code went to.
    #[serde(default)]
    pub identifier: Option<String>,
    /// The code.
    #[serde(default)]
    pub code: Option<String>,
    /// The token of the mailed link (instead of `identifier` and `code`).
    #[serde(default)]
    pub token: Option<String>,
    /// The new password (the tenant's policy).
    pub new_password: String,
}

/// Body of `POST /auth/identifiers/verify` (the page's form sends the same field).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyLink {
    /// The token of the mailed link.
    pub token: String,
}

/// Body of `POST /me/identifiers/verify`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIdentifier {
    /// One of your identifiers.
    pub identifier: String,
    /// The code sent to it.
    pub code: String,
}

/// Body of `DELETE /me`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// Your password (required when the account has one).
    #[serde(default)]
    pub password: Option<String>,
}

/// Body of `PUT /users/{uid}/password`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// The new password (the tenant's policy).
    pub secret: String,
}

/// A page of audit entries (`{event, at, ip, user_agent, detail, id}`, newest first).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The page.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
    /// All matching.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Body of `POST /tenants`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// 1–64 of `[A-Za-z0-9_-]`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Host names it answers on.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Token issuer (default `https://<first domain>`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// An `aud` claim in tokens (default true).
    #[serde(default)]
    pub audience: Option<bool>,
    /// `none` (default) or `identifier`.
    #[serde(default)]
    pub activation: Option<String>,
    /// Self-registration (default true).
    #[serde(default)]
    pub registration_enabled: Option<bool>,
    /// A second factor after a password.
    #[serde(default)]
    pub require_mfa: bool,
    /// Allowed redirect origins.
    #[serde(default)]
    pub allowed_redirects: Vec<String>,
    /// Routes that need a captcha: `otp`, `magic_link`, `login`.
    #[serde(default)]
    pub captcha: Vec<String>,
}

/// A page of tenants (their policies).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    /// The tenants' policies.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
    /// All tenants.
    pub total: u64,
}

/// Body of `POST /apikeys/verify`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct VerifyApiKey {
    /// The key.
    pub api_key: String,
}

/// Body of `POST /apikeys`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// A name to recognise it by.
    pub name: String,
    /// Its scopes (default: all of yours; never more than yours).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Lifetime in days, 1–3650 (default: no expiry).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
    /// The workspace it acts in (one you belong to).
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Make it for this service account instead of you (needs `update:usso/agents`; its
    /// scopes within the agent's).
    #[serde(default)]
    pub agent_id: Option<String>,
}

/// An API key (never the key itself, except once in [`ApiKeyCreated`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// The public id (`usso_sk_<id>_…`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// The owning person.
    pub user_id: Option<String>,
    /// The owning service account.
    pub agent_id: Option<String>,
    /// The workspace it acts in.
    pub workspace_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, or null (no expiry).
    pub expires_at: Option<String>,
    /// RFC 3339, or null: the last use the origin saw (at most a minute late; uses answered
    /// at the edge alone are not counted).
    pub last_used_at: Option<String>,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
}

impl ApiKeyView {
    /// The view of `k`.
    pub fn of(k: &crate::sessions::api_keys::ApiKey) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            scopes: k.scopes.clone(),
            user_id: k.user_id.clone(),
            agent_id: k.agent_id.clone(),
            workspace_id: k.workspace_id.clone(),
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
            prefix: format!("{}{}", usso_shared::api_key::PREFIX, k.id),
        }
    }
}

/// Answer of `POST /apikeys`: the key, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The key itself (`usso_sk_…`): store it now, it is not shown again.
    pub key: String,
    /// The rest.
    #[serde(flatten)]
    pub view: ApiKeyView,
}

/// A page of API keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyPage {
    /// The page.
    pub items: Vec<ApiKeyView>,
    /// All matching.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Body of `POST /agents`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// A name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Its scopes (within yours).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The workspace its tokens act in.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Its Ed25519 public keys, PEM (SubjectPublicKeyInfo).
    #[serde(default)]
    pub verify_keys: Vec<String>,
    /// One key (the same as one entry of `verify_keys`).
    #[serde(default)]
    pub verify_key: Option<String>,
    /// Active at once (default true).
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// Body of `PATCH /agents/{agent_id}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// A name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Scopes (replaces them; within yours).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Workspace (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub workspace_id: Option<Option<String>>,
    /// Inactive agents cannot sign in.
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// Body of `POST /agents/{agent_id}/keys`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAgentKey {
    /// An Ed25519 public key, PEM (SubjectPublicKeyInfo).
    pub verify_key: String,
}

/// One public key of an agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentKeyView {
    /// SHA-256 hex of the key's SubjectPublicKeyInfo DER (the SDK's `kid`).
    pub kid: String,
    /// The key, PEM.
    pub verify_key: String,
    /// RFC 3339.
    pub created_at: String,
}

/// A service account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    /// `service:<id>` (its tokens' `sub`).
    pub id: String,
    /// The same, as the SDKs name it.
    pub agent_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Workspace.
    pub workspace_id: Option<String>,
    /// Whether it may sign in.
    pub is_active: bool,
    /// Its public keys.
    pub keys: Vec<AgentKeyView>,
    /// Who created it.
    pub created_by: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Version (also the `ETag`).
    pub version: i64,
}

impl AgentView {
    /// The view of `a` at `version`.
    pub fn of(a: &crate::identity::agents::Agent, version: i64) -> Self {
        Self {
            id: a.id.clone(),
            agent_id: a.id.clone(),
            tenant_id: a.tenant_id.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            scopes: a.scopes.clone(),
            workspace_id: a.workspace_id.clone(),
            is_active: a.is_active,
            keys: a
                .keys
                .iter()
                .map(|k| AgentKeyView {
                    kid: k.kid.clone(),
                    verify_key: k.pem(),
                    created_at: rfc3339(k.created_at),
                })
                .collect(),
            created_by: a.created_by.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
            version,
        }
    }
}

/// A page of agents.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentPage {
    /// The page.
    pub items: Vec<AgentView>,
    /// All agents.
    pub total: u64,
    /// As asked.
    pub offset: u64,
    /// As applied.
    pub limit: u64,
}

/// Answer of `POST /agents/registration-keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationKey {
    /// The one-time key (shown once).
    pub registration_key: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Body of `POST /agents/register`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    /// The one-time registration key.
    pub registration_key: String,
    /// A name.
    pub name: String,
    /// Its scopes (within those of the person who made the key).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `ED25519`.
    pub alg: String,
    /// Its public key, PEM.
    pub verify_key: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// The access token in `{"tokens": {"access": …}}`, as the SDKs read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTokens {
    /// The access token.
    pub access: String,
}

/// Answer of `POST /agents/auth`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTokenResponse {
    /// What the SDKs read.
    pub tokens: AgentTokens,
    /// The same token (OAuth field names).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds.
    pub expires_in: i64,
    /// The scopes it carries.
    pub scopes: Vec<String>,
    /// The agent.
    pub agent_id: String,
    /// The tenant.
    pub tenant_id: String,
}

/// Answer of `POST /agents/scopes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentScopes {
    /// The agent's scopes.
    pub scopes: Vec<String>,
    /// The tenant.
    pub tenant_id: String,
    /// The agent.
    pub agent_id: String,
    /// Its workspace.
    pub workspace_id: Option<String>,
}

/// Body of `POST /oauth/clients` (RFC 7591's client metadata names).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthClient {
    /// Shown to people on the consent page.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// Where codes may be sent (exact match; https, http on loopback, or a native app's
    /// reverse-domain scheme).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default `["authorization_code", "refresh_token"]`.
    #[serde(default)]
    pub grant_types: Option<Vec<crate::oauth::clients::GrantType>>,
    /// Only `["code"]`.
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    /// `client_secret_basic` (default), `client_secret_post`, or `none` (a public client).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<crate::oauth::clients::AuthMethod>,
    /// What it may ask for: `openid profile email phone offline_access` (the default) and
    /// permission scopes within yours.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// A first-party client: no consent page.
    #[serde(default)]
    pub skip_consent: bool,
    /// `private_key_jwt` clients: their Ed25519 public keys, `{"keys": [{"kty": "OKP",
    /// "crv": "Ed25519", "x": "…", "kid": "…"}]}`.
    #[serde(default)]
    pub jwks: Option<JwkSet>,
    /// `EdDSA` (default) or `RS256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<crate::oauth::clients::IdTokenAlg>,
}

/// A JWK set (public keys).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct JwkSet {
    /// The keys.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

impl From<CreateOAuthClient> for crate::oauth::clients::NewClient {
    fn from(b: CreateOAuthClient) -> Self {
        Self {
            name: b.name,
            description: b.description,
            redirect_uris: b.redirect_uris,
            post_logout_redirect_uris: b.post_logout_redirect_uris,
            grant_types: b.grant_types,
            response_types: b.response_types,
            token_endpoint_auth_method: b.token_endpoint_auth_method,
            scopes: b.scopes,
            skip_consent: b.skip_consent,
            jwks: b.jwks.map(|j| j.keys),
            id_token_signed_response_alg: b.id_token_signed_response_alg,
        }
    }
}

/// Body of `PATCH /oauth/clients/{client_id}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOAuthClient {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Redirect URIs (replaces them).
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    /// Logout return URIs (replaces them).
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grants (replaces them).
    #[serde(default)]
    pub grant_types: Option<Vec<crate::oauth::clients::GrantType>>,
    /// Scopes (replaces them; within yours).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// First party.
    #[serde(default)]
    pub skip_consent: Option<bool>,
    /// Inactive clients authenticate nothing.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Public keys (`private_key_jwt`; replaces them).
    #[serde(default)]
    pub jwks: Option<JwkSet>,
    /// `EdDSA` or `RS256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<crate::oauth::clients::IdTokenAlg>,
}

impl From<UpdateOAuthClient> for crate::oauth::clients::ClientChange {
    fn from(b: UpdateOAuthClient) -> Self {
        Self {
            name: b.name,
            description: b.description,
            redirect_uris: b.redirect_uris,
            post_logout_redirect_uris: b.post_logout_redirect_uris,
            grant_types: b.grant_types,
            scopes: b.scopes,
            skip_consent: b.skip_consent,
            is_active: b.is_active,
            jwks: b.jwks.map(|j| j.keys),
            id_token_signed_response_alg: b.id_token_signed_response_alg,
        }
    }
}

/// An OAuth client (its secret appears once: on creation and rotation).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthClientView {
    /// The id.
    pub client_id: String,
    /// The secret, only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Logout return URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants.
    pub grant_types: Vec<crate::oauth::clients::GrantType>,
    /// Always `["code"]`.
    pub response_types: Vec<&'static str>,
    /// Authentication method.
    pub token_endpoint_auth_method: crate::oauth::clients::AuthMethod,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Its public keys (`private_key_jwt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSetView>,
    /// How its ID tokens are signed.
    pub id_token_signed_response_alg: crate::oauth::clients::IdTokenAlg,
    /// First party.
    pub skip_consent: bool,
    /// Active.
    pub is_active: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// The version (the `ETag`).
    pub version: i64,
}

impl OAuthClientView {
    /// The view of a stored client.
    pub fn of(c: &crate::oauth::clients::Client, version: i64, secret: Option<String>) -> Self {
        Self {
            client_id: c.client_id.clone(),
            client_secret: secret,
            name: c.name.clone(),
            description: c.description.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            response_types: vec!["code"],
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            scopes: c.scopes.clone(),
            id_token_signed_response_alg: c.id_token_signed_response_alg,
            jwks: (!c.jwks.is_empty()).then(|| JwkSetView {
                keys: c.jwks.clone(),
            }),
            skip_consent: c.skip_consent,
            is_active: c.is_active,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version,
        }
    }
}

/// A client's public keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct JwkSetView {
    /// The keys.
    pub keys: Vec<crate::oauth::assertion::PublicJwk>,
}

/// A page of OAuth clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthClientPage {
    /// The clients.
    pub items: Vec<OAuthClientView>,
    /// All of them.
    pub total: u64,
    /// Skipped.
    pub offset: u64,
    /// Page size.
    pub limit: u64,
}

/// An RFC 6749 §5.2 error body (OAuth endpoints).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, …
    pub error: String,
    /// What went wrong, for the developer.
    pub error_description: String,
}

/// Body of `POST /oauth/register` (RFC 7591 client metadata; unknown members are ignored, as
/// the RFC asks).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RegisterOAuthClient {
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Shown on the consent page.
    #[serde(default)]
    pub client_name: Option<String>,
    /// `authorization_code`, `refresh_token`, the device code grant.
    #[serde(default)]
    pub grant_types: Option<Vec<crate::oauth::clients::GrantType>>,
    /// Only `["code"]`.
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    /// `none` (public), `client_secret_basic` (default) or `client_secret_post`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<crate::oauth::clients::AuthMethod>,
    /// Space-separated OpenID scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// Logout return URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `EdDSA` (default) or `RS256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<crate::oauth::clients::IdTokenAlg>,
}
