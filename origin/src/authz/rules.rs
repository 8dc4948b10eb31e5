//! The rule of every administration and self-service route, declared once. Handlers check
//! their route's rule through [`Route::allows`]; `docs/authorization.md` holds [`markdown`]'s
//! table (a test fails when the two differ), and the authorization-matrix test derives the
//! expected status of each caller from the same rules.

use usso_shared::paths;
use usso_shared::{Error, ErrorCode, Result};

use super::{Action, Need, Principal, Resource};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any signed-in person, for their own account (a session: never an API key).
    SignedIn,
    /// Whoever holds the scope.
    Scope(Need),
    /// The user the route names, or whoever holds the scope.
    SelfOr(Need),
    /// Whoever holds the scope inside the workspace the route names
    /// (`<scope>?workspace_id=<id>`; a tenant-wide grant of the scope also does).
    InWorkspace(Need),
    /// The system administrator only ([`Principal::is_system`]).
    System,
    /// The system administrator, or whoever holds the scope for its own tenant (the tenant
    /// the path names); another tenant is not found (404).
    SystemOrOwn(Need),
    /// A person signed in, for what is their own (the domain shows them only that), or
    /// whoever holds the scope (for everyone's).
    OwnOr(Need),
    /// A member of the workspace the route names, or whoever holds the scope inside it.
    /// Membership is data, so users pass here and the domain answers `404` to non-members
    /// without the scope (a workspace you may not see does not exist for you).
    MemberOr(Need),
}

/// One route and its rule.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path (axum syntax).
    pub path: &'static str,
    /// Who may call it.
    pub rule: Rule,
}

impl Route {
    /// Whether `p` may call this route about the user `subject` (the user the path names, if
    /// any). `permission_denied` names the missing scope.
    pub fn allows(&self, p: &Principal, subject: Option<&str>) -> Result<()> {
        match self.rule {
            Rule::SignedIn if p.is_person() => Ok(()),
            Rule::SignedIn => Err(Error::new(
                ErrorCode::PermissionDenied,
                "this route is for a person signed in (not an API key or a service)",
            )),
            Rule::Scope(need) => p.require(need),
            Rule::SelfOr(need) => match subject {
                Some(uid) if p.is_user(uid) => Ok(()),
                _ => p.require(need),
            },
            Rule::InWorkspace(need) => match subject {
                Some(ws) => p.require_in(need, ws),
                None => p.require(need),
            },
            Rule::System if p.is_system() => Ok(()),
            Rule::System => Err(Error::new(
                ErrorCode::PermissionDenied,
                "this is for the system administrator",
            )),
            Rule::SystemOrOwn(_) if p.is_system() => Ok(()),
            Rule::SystemOrOwn(need) => match subject {
                Some(t) if t == p.tenant_id => p.require(need),
                Some(_) => Err(Error::new(ErrorCode::NotFound, "tenant not found")),
                None => p.require(need),
            },
            Rule::OwnOr(_) if p.is_person() => Ok(()),
            Rule::OwnOr(need) => p.require(need),
            Rule::MemberOr(_) if p.is_person() => Ok(()),
            Rule::MemberOr(need) => match subject {
                Some(ws) => p.require_in(need, ws),
                None => p.require(need),
            },
        }
    }
}

const fn route(method: &'static str, path: &'static str, rule: Rule) -> Route {
    Route { method, path, rule }
}

const fn scope(a: Action, r: Resource) -> Rule {
    Rule::Scope(Need(a, r))
}

const fn self_or(a: Action, r: Resource) -> Rule {
    Rule::SelfOr(Need(a, r))
}

const fn in_ws(a: Action) -> Rule {
    Rule::InWorkspace(Need(a, Workspaces))
}

use Action::{Create, Delete, Read, Update};
use Resource::{Agents, ApiKeys, Audit, OAuthClients, Profiles, Roles, Tenants, Users, Workspaces};

/// `GET /users`.
pub const USERS_LIST: Route = route("GET", paths::USERS, scope(Read, Users));
/// `POST /users`.
pub const USERS_CREATE: Route = route("POST", paths::USERS, scope(Create, Users));
/// `GET /users/{uid}`.
pub const USER_GET: Route = route("GET", paths::USER, self_or(Read, Users));
/// `PATCH /users/{uid}`.
pub const USER_UPDATE: Route = route("PATCH", paths::USER, scope(Update, Users));
/// `DELETE /users/{uid}`.
pub const USER_DELETE: Route = route("DELETE", paths::USER, scope(Delete, Users));
/// `GET /users/{uid}/identifiers`.
pub const IDENTIFIERS_LIST: Route = route("GET", paths::USER_IDENTIFIERS, self_or(Read, Users));
/// `POST /users/{uid}/identifiers` (unproven addresses could squat on other people's: only
/// administrators add them).
pub const IDENTIFIERS_ADD: Route = route("POST", paths::USER_IDENTIFIERS, scope(Update, Users));
/// `DELETE /users/{uid}/identifiers/{identifier_id}`.
pub const IDENTIFIER_REMOVE: Route = route("DELETE", paths::USER_IDENTIFIER, scope(Update, Users));
/// `POST /users/{uid}/identifiers/{identifier_id}/primary`.
pub const IDENTIFIER_PRIMARY: Route =
    route("POST", paths::USER_IDENTIFIER_PRIMARY, scope(Update, Users));
/// `GET /users/{uid}/credentials`.
pub const CREDENTIALS: Route = route("GET", paths::USER_CREDENTIALS, self_or(Read, Users));
/// `GET /profiles/mine`.
pub const PROFILE_MINE_GET: Route = route("GET", paths::PROFILE_MINE, Rule::SignedIn);
/// `PATCH /profiles/mine`.
pub const PROFILE_MINE_UPDATE: Route = route("PATCH", paths::PROFILE_MINE, Rule::SignedIn);
/// `GET /profiles/{user_id}`.
pub const PROFILE_GET: Route = route("GET", paths::PROFILE, self_or(Read, Profiles));
/// `GET /roles`.
pub const ROLES_LIST: Route = route("GET", paths::ROLES, scope(Read, Roles));
/// `POST /roles`.
pub const ROLES_CREATE: Route = route("POST", paths::ROLES, scope(Create, Roles));
/// `GET /roles/{slug}`.
pub const ROLE_GET: Route = route("GET", paths::ROLE, scope(Read, Roles));
/// `PATCH /roles/{slug}`.
pub const ROLE_UPDATE: Route = route("PATCH", paths::ROLE, scope(Update, Roles));
/// `DELETE /roles/{slug}`.
pub const ROLE_DELETE: Route = route("DELETE", paths::ROLE, scope(Delete, Roles));

/// `GET /workspaces` (all of the tenant's with `read:usso/workspaces`, else your own).
pub const WORKSPACES_LIST: Route = route("GET", paths::WORKSPACES, Rule::SignedIn);
/// `POST /workspaces`.
pub const WORKSPACES_CREATE: Route = route("POST", paths::WORKSPACES, scope(Create, Workspaces));
/// `GET /workspaces/{workspace_id}`.
pub const WORKSPACE_GET: Route = route(
    "GET",
    paths::WORKSPACE,
    Rule::MemberOr(Need(Read, Workspaces)),
);
/// `PATCH /workspaces/{workspace_id}`.
pub const WORKSPACE_UPDATE: Route = route("PATCH", paths::WORKSPACE, in_ws(Update));
/// `DELETE /workspaces/{workspace_id}`.
pub const WORKSPACE_DELETE: Route = route("DELETE", paths::WORKSPACE, in_ws(Delete));
/// `GET /workspaces/{workspace_id}/members`.
pub const MEMBERS_LIST: Route = route(
    "GET",
    paths::WORKSPACE_MEMBERS,
    Rule::MemberOr(Need(Read, Workspaces)),
);
/// `POST /workspaces/{workspace_id}/members`.
pub const MEMBERS_ADD: Route = route("POST", paths::WORKSPACE_MEMBERS, in_ws(Update));
/// `PATCH /workspaces/{workspace_id}/members/{uid}`.
pub const MEMBER_UPDATE: Route = route("PATCH", paths::WORKSPACE_MEMBER, in_ws(Update));
/// `DELETE /workspaces/{workspace_id}/members/{uid}`.
pub const MEMBER_REMOVE: Route = route("DELETE", paths::WORKSPACE_MEMBER, in_ws(Update));
/// `GET /workspaces/{workspace_id}/invitations`.
pub const INVITATIONS_LIST: Route = route("GET", paths::WORKSPACE_INVITATIONS, in_ws(Update));
/// `POST /workspaces/{workspace_id}/invitations`.
pub const INVITATIONS_CREATE: Route = route("POST", paths::WORKSPACE_INVITATIONS, in_ws(Update));
/// `DELETE /workspaces/{workspace_id}/invitations/{invitation_id}`.
pub const INVITATION_REVOKE: Route = route("DELETE", paths::WORKSPACE_INVITATION, in_ws(Update));
/// `POST /invitations/accept` (the invited address must be one of yours).
pub const INVITATION_ACCEPT: Route = route("POST", paths::INVITATION_ACCEPT, Rule::SignedIn);
/// `POST /auth/workspace` (only workspaces you belong to).
pub const SWITCH_WORKSPACE: Route = route("POST", paths::AUTH_WORKSPACE, Rule::SignedIn);

/// `PUT /users/{uid}/password` (an administrator sets it; the user's sessions end).
pub const USER_PASSWORD: Route = route("PUT", paths::USER_PASSWORD, scope(Update, Users));
/// `POST /auth/password/change`.
pub const PASSWORD_CHANGE: Route = route("POST", paths::PASSWORD_CHANGE, Rule::SignedIn);
/// `POST /me/identifiers/verify/request`.
pub const VERIFY_REQUEST: Route = route("POST", paths::VERIFY_REQUEST, Rule::SignedIn);
/// `POST /me/identifiers/verify`.
pub const VERIFY: Route = route("POST", paths::VERIFY, Rule::SignedIn);
/// `GET /me/export`.
pub const ME_EXPORT: Route = route("GET", paths::ME_EXPORT, Rule::SignedIn);
/// `DELETE /me` (your own account; the password when it has one).
pub const ME_DELETE: Route = route("DELETE", paths::ME, Rule::SignedIn);
/// `GET /audit/mine`.
pub const AUDIT_MINE: Route = route("GET", paths::AUDIT_MINE, Rule::SignedIn);
/// `GET /audit`.
pub const AUDIT_LIST: Route = route("GET", paths::AUDIT, scope(Read, Audit));

/// `GET /tenants`.
pub const TENANTS_LIST: Route = route("GET", paths::TENANTS, Rule::System);
/// `POST /tenants`.
pub const TENANTS_CREATE: Route = route("POST", paths::TENANTS, Rule::System);
/// `GET /tenants/{tenant_id}`.
pub const TENANT_GET: Route = route("GET", paths::TENANT, Rule::SystemOrOwn(Need(Read, Tenants)));
/// `PATCH /tenants/{tenant_id}` (a tenant's administrator: its policy, not `is_active` or
/// `domains`).
pub const TENANT_UPDATE: Route = route(
    "PATCH",
    paths::TENANT,
    Rule::SystemOrOwn(Need(Update, Tenants)),
);
/// `DELETE /tenants/{tenant_id}`.
pub const TENANT_DELETE: Route = route("DELETE", paths::TENANT, Rule::System);

/// `GET /apikeys` (your keys; everyone's with the scope).
pub const APIKEYS_LIST: Route = route("GET", paths::APIKEYS, Rule::OwnOr(Need(Read, ApiKeys)));
/// `POST /apikeys` (for yourself, a person signed in; scopes within yours).
pub const APIKEYS_CREATE: Route = route("POST", paths::APIKEYS, Rule::SignedIn);
/// `GET /apikeys/{id}`.
pub const APIKEY_GET: Route = route("GET", paths::APIKEY, Rule::OwnOr(Need(Read, ApiKeys)));
/// `DELETE /apikeys/{id}`.
pub const APIKEY_DELETE: Route = route("DELETE", paths::APIKEY, Rule::OwnOr(Need(Delete, ApiKeys)));

/// `GET /agents`.
pub const AGENTS_LIST: Route = route("GET", paths::AGENTS, scope(Read, Agents));
/// `POST /agents` (scopes within the caller's).
pub const AGENTS_CREATE: Route = route("POST", paths::AGENTS, scope(Create, Agents));
/// `GET /agents/{agent_id}`.
pub const AGENT_GET: Route = route("GET", paths::AGENT, scope(Read, Agents));
/// `PATCH /agents/{agent_id}`.
pub const AGENT_UPDATE: Route = route("PATCH", paths::AGENT, scope(Update, Agents));
/// `DELETE /agents/{agent_id}`.
pub const AGENT_DELETE: Route = route("DELETE", paths::AGENT, scope(Delete, Agents));
/// `POST /agents/{agent_id}/keys`.
pub const AGENT_KEYS_ADD: Route = route("POST", paths::AGENT_KEYS, scope(Update, Agents));
/// `DELETE /agents/{agent_id}/keys/{kid}`.
pub const AGENT_KEY_REMOVE: Route = route("DELETE", paths::AGENT_KEY, scope(Update, Agents));
/// `POST /agents/registration-keys` (a person; the agent's scopes within theirs).
pub const AGENT_REGISTRATION_KEYS: Route =
    route("POST", paths::AGENT_REGISTRATION_KEYS, Rule::SignedIn);

/// `GET /oauth/clients`.
pub const OAUTH_CLIENTS_LIST: Route = route("GET", paths::OAUTH_CLIENTS, scope(Read, OAuthClients));
/// `POST /oauth/clients` (its permission scopes within the caller's).
pub const OAUTH_CLIENTS_CREATE: Route =
    route("POST", paths::OAUTH_CLIENTS, scope(Create, OAuthClients));
/// `GET /oauth/clients/{client_id}`.
pub const OAUTH_CLIENT_GET: Route = route("GET", paths::OAUTH_CLIENT, scope(Read, OAuthClients));
/// `PATCH /oauth/clients/{client_id}`.
pub const OAUTH_CLIENT_UPDATE: Route =
    route("PATCH", paths::OAUTH_CLIENT, scope(Update, OAuthClients));
/// `DELETE /oauth/clients/{client_id}`.
pub const OAUTH_CLIENT_DELETE: Route =
    route("DELETE", paths::OAUTH_CLIENT, scope(Delete, OAuthClients));
/// `POST /oauth/clients/{client_id}/rotate-secret`.
pub const OAUTH_CLIENT_ROTATE: Route = route(
    "POST",
    paths::OAUTH_CLIENT_ROTATE,
    scope(Update, OAuthClients),
);
/// `GET /oauth/consents` (your own).
pub const OAUTH_CONSENTS_MINE: Route = route("GET", paths::OAUTH_CONSENTS, Rule::SignedIn);
/// `DELETE /oauth/consents/{client_id}` (your own).
pub const OAUTH_CONSENT_REVOKE: Route = route("DELETE", paths::OAUTH_CONSENT_OF, Rule::SignedIn);

/// Every route with a rule, in the order of the documentation.
pub const ALL: &[Route] = &[
    USERS_LIST,
    USERS_CREATE,
    USER_GET,
    USER_UPDATE,
    USER_DELETE,
    IDENTIFIERS_LIST,
    IDENTIFIERS_ADD,
    IDENTIFIER_REMOVE,
    IDENTIFIER_PRIMARY,
    CREDENTIALS,
    PROFILE_MINE_GET,
    PROFILE_MINE_UPDATE,
    PROFILE_GET,
    ROLES_LIST,
    ROLES_CREATE,
    ROLE_GET,
    ROLE_UPDATE,
    ROLE_DELETE,
    WORKSPACES_LIST,
    WORKSPACES_CREATE,
    WORKSPACE_GET,
    WORKSPACE_UPDATE,
    WORKSPACE_DELETE,
    MEMBERS_LIST,
    MEMBERS_ADD,
    MEMBER_UPDATE,
    MEMBER_REMOVE,
    INVITATIONS_LIST,
    INVITATIONS_CREATE,
    INVITATION_REVOKE,
    INVITATION_ACCEPT,
    SWITCH_WORKSPACE,
    USER_PASSWORD,
    PASSWORD_CHANGE,
    VERIFY_REQUEST,
    VERIFY,
    ME_EXPORT,
    ME_DELETE,
    AUDIT_MINE,
    AUDIT_LIST,
    TENANTS_LIST,
    TENANTS_CREATE,
    TENANT_GET,
    TENANT_UPDATE,
    TENANT_DELETE,
    APIKEYS_LIST,
    APIKEYS_CREATE,
    APIKEY_GET,
    APIKEY_DELETE,
    AGENTS_LIST,
    AGENTS_CREATE,
    AGENT_GET,
    AGENT_UPDATE,
    AGENT_DELETE,
    AGENT_KEYS_ADD,
    AGENT_KEY_REMOVE,
    AGENT_REGISTRATION_KEYS,
    OAUTH_CLIENTS_LIST,
    OAUTH_CLIENTS_CREATE,
    OAUTH_CLIENT_GET,
    OAUTH_CLIENT_UPDATE,
    OAUTH_CLIENT_DELETE,
    OAUTH_CLIENT_ROTATE,
    OAUTH_CONSENTS_MINE,
    OAUTH_CONSENT_REVOKE,
];

/// The route → rule table of `docs/authorization.md`.
pub fn markdown() -> String {
    let mut out = String::from("| method | path | who may call it |\n|---|---|---|\n");
    for r in ALL {
        let who = match r.rule {
            Rule::SignedIn => "any signed-in person, for themselves (not an API key)".to_owned(),
            Rule::OwnOr(n) => format!(
                "a signed-in person, for their own; `{}` for everyone's (others: 404)",
                n.scope()
            ),
            Rule::Scope(n) => format!("`{}`", n.scope()),
            Rule::SelfOr(n) => format!("the user named in the path, or `{}`", n.scope()),
            Rule::InWorkspace(n) => format!("`{}`", n.in_workspace("{workspace_id}")),
            Rule::System => {
                "the system administrator (`superadmin:usso/tenants` in `org_default`)".to_owned()
            }
            Rule::SystemOrOwn(n) => format!(
                "the system administrator, or `{}` for its own tenant (others: 404)",
                n.scope()
            ),
            Rule::MemberOr(n) => format!(
                "members of the workspace, or `{}` (others: 404)",
                n.in_workspace("{workspace_id}")
            ),
        };
        let path = r.path.strip_prefix(paths::PREFIX).unwrap_or(r.path);
        out.push_str(&format!("| {} | `{path}` | {who} |\n", r.method));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_and_documented() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ALL {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            assert!(
                paths::DOCUMENTED.contains(&r.path),
                "{} undocumented",
                r.path
            );
        }
    }

    #[test]
    fn the_documented_table_is_the_code() {
        let doc = include_str!("../../../docs/authorization.md");
        assert!(
            doc.contains(&markdown()),
            "docs/authorization.md is out of date; paste this table into it:\n{}",
            markdown()
        );
    }
}
