//! Authorization of the administration and self-service routes with the USSO scope grammar
//! (`usso_shared::scope`).
//!
//! Invariants this module protects:
//! - every route states its rule once, in [`rules`]; handlers check that rule and nothing
//!   else, and `docs/authorization.md` is generated from the same table (a test compares them);
//! - a caller acts only inside the tenant its token was issued for (the token's `tenant_id` is
//!   checked against the resolved tenant before any rule), so objects of another tenant are
//!   simply not found (404), never "forbidden" (403, which would confirm they exist);
//! - the system administrator is a `superadmin` of the system tenant: the same scope in any
//!   other tenant grants nothing outside that tenant;
//! - a caller never grants a role or scope it does not hold itself ([`Principal::may_grant`]),
//!   so an administrator cannot mint a stronger administrator (privilege escalation);
//! - what a workspace role grants is filtered to its workspace (`…?workspace_id=<id>`,
//!   [`in_workspace`]); a route on a workspace asks for the filtered scope ([`Need::in_workspace`]),
//!   which an unfiltered tenant scope also grants, but a filtered scope never grants anything
//!   outside its workspace.

pub mod rules;

use usso_shared::claims::AccessClaims;
use usso_shared::{scope, Error, ErrorCode, Result};

use crate::tenants::DEFAULT_TENANT;

/// The tenant whose `superadmin` is the system administrator (tenants over HTTP).
pub const SYSTEM_TENANT: &str = DEFAULT_TENANT;

/// The scope resource prefix of this service: `read:usso/users`, `update:usso/roles`…
pub const SERVICE: &str = "usso";

/// What a route does to its resource (the scope action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `read`.
    Read,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
}

impl Action {
    /// The scope action word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// What a route acts on (the scope path after `usso/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Accounts, their identifiers and credentials.
    Users,
    /// Profiles of other users.
    Profiles,
    /// Roles.
    Roles,
    /// Tenants (the system administrator; a tenant administrator for its own policy).
    Tenants,
    /// Other users' sessions.
    Sessions,
    /// Workspaces, their members and invitations.
    Workspaces,
    /// The audit trail.
    Audit,
    /// Other users' API keys.
    ApiKeys,
    /// Service accounts (agents).
    Agents,
    /// OAuth clients.
    OAuthClients,
}

impl Resource {
    /// The scope path: `usso/users`, …
    pub const fn path(self) -> &'static str {
        match self {
            Self::Users => "usso/users",
            Self::Profiles => "usso/profiles",
            Self::Roles => "usso/roles",
            Self::Tenants => "usso/tenants",
            Self::Sessions => "usso/sessions",
            Self::Workspaces => "usso/workspaces",
            Self::Audit => "usso/audit",
            Self::ApiKeys => "usso/apikeys",
            Self::Agents => "usso/agents",
            Self::OAuthClients => "usso/clients",
        }
    }
}

/// An action on a resource: the scope `<action>:usso/<resource>` a caller must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need(pub Action, pub Resource);

impl Need {
    /// The scope text, e.g. `read:usso/users`.
    pub fn scope(self) -> String {
        format!("{}:{}", self.0.as_str(), self.1.path())
    }

    /// The scope inside one workspace: `update:usso/workspaces?workspace_id=ws_1`.
    pub fn in_workspace(self, workspace_id: &str) -> String {
        format!("{}?{WORKSPACE_FILTER}={workspace_id}", self.scope())
    }
}

/// The scope filter that confines a grant to one workspace.
pub const WORKSPACE_FILTER: &str = "workspace_id";

/// What a workspace role's `scope` grants inside `workspace_id`: the scope confined to that
/// workspace, or `None` when it is already confined to another one (it grants nothing here).
pub fn in_workspace(scope_text: &str, workspace_id: &str) -> Option<String> {
    match scope::Scope::parse(scope_text).filter(WORKSPACE_FILTER) {
        Some(w) if w == workspace_id => Some(scope_text.to_owned()),
        Some(_) => None,
        None if scope_text.contains('?') => {
            Some(format!("{scope_text}&{WORKSPACE_FILTER}={workspace_id}"))
        }
        None => Some(format!("{scope_text}?{WORKSPACE_FILTER}={workspace_id}")),
    }
}

/// The verified caller of an administration or self-service route.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Its tenant (always the request's tenant).
    pub tenant_id: String,
    /// The user, for user tokens.
    pub user_id: Option<String>,
    /// `sub`.
    pub subject: String,
    /// The scopes its token carries (roles resolved at sign-in).
    pub scopes: Vec<String>,
    /// The session its token belongs to.
    pub session_id: Option<String>,
    /// The API key it presented, when it is a key rather than a session's token.
    pub api_key_id: Option<String>,
}

impl Principal {
    /// The caller of a token verified for `tenant_id`; refuses a token of another tenant.
    pub fn of(claims: AccessClaims, tenant_id: &str) -> Result<Self> {
        if claims.tenant_id.as_deref() != Some(tenant_id) {
            return Err(Error::invalid_token("the token belongs to another tenant"));
        }
        Ok(Self {
            tenant_id: tenant_id.to_owned(),
            user_id: claims.user_id,
            subject: claims.sub,
            scopes: claims.scopes,
            session_id: claims.session_id,
            api_key_id: None,
        })
    }

    /// Whether the caller is a person in a session (not an API key acting for one).
    pub fn is_person(&self) -> bool {
        self.user_id.is_some() && self.api_key_id.is_none()
    }

    /// Whether the caller holds `need`.
    pub fn holds(&self, need: Need) -> bool {
        scope::is_authorized(&self.scopes, &need.scope())
    }

    /// `permission_denied` unless the caller holds `need`.
    pub fn require(&self, need: Need) -> Result<()> {
        if self.holds(need) {
            Ok(())
        } else {
            Err(denied(&need.scope()))
        }
    }

    /// Whether the caller holds `need` inside the workspace `workspace_id` (a tenant-wide
    /// grant or one confined to that workspace).
    pub fn holds_in(&self, need: Need, workspace_id: &str) -> bool {
        scope::is_authorized(&self.scopes, &need.in_workspace(workspace_id))
    }

    /// `permission_denied` unless the caller holds `need` inside `workspace_id`.
    pub fn require_in(&self, need: Need, workspace_id: &str) -> Result<()> {
        if self.holds_in(need, workspace_id) {
            Ok(())
        } else {
            Err(denied(&need.in_workspace(workspace_id)))
        }
    }

    /// Whether the caller is the system administrator.
    pub fn is_system(&self) -> bool {
        self.tenant_id == SYSTEM_TENANT
            && scope::is_authorized(
                &self.scopes,
                &format!("superadmin:{}", Resource::Tenants.path()),
            )
    }

    /// Whether the caller is the user `user_id` itself.
    pub fn is_user(&self, user_id: &str) -> bool {
        self.user_id.as_deref() == Some(user_id)
    }

    /// The subset rule: `permission_denied` naming the first scope the caller does not hold
    /// itself. Applied to every scope a caller grants, directly or through a role.
    pub fn may_grant(&self, scopes: &[String]) -> Result<()> {
        match scopes
            .iter()
            .find(|s| !scope::all_within(std::slice::from_ref(*s), &self.scopes))
        {
            Some(s) => Err(Error::new(
                ErrorCode::PermissionDenied,
                format!("you cannot grant `{s}`: it is not within your own scopes"),
            )),
            None => Ok(()),
        }
    }
}

fn denied(scope: &str) -> Error {
    Error::new(
        ErrorCode::PermissionDenied,
        format!("this needs the scope `{scope}`"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(tenant: &str, scopes: &[&str]) -> Principal {
        Principal {
            tenant_id: tenant.into(),
            user_id: Some("u1".into()),
            subject: "user:u1".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            session_id: None,
            api_key_id: None,
        }
    }

    #[test]
    fn scopes_grant_by_level_and_path() {
        let admin = caller("t", &["admin:usso/*"]);
        for need in [
            Need(Action::Read, Resource::Users),
            Need(Action::Delete, Resource::Roles),
            Need(Action::Update, Resource::Tenants),
        ] {
            assert!(admin.holds(need), "{need:?}");
        }
        let reader = caller("t", &["read:usso/users"]);
        assert!(reader.holds(Need(Action::Read, Resource::Users)));
        assert!(!reader.holds(Need(Action::Update, Resource::Users)));
        assert!(!reader.holds(Need(Action::Read, Resource::Roles)));
        // Another service's resource of the same name grants nothing here.
        assert!(!caller("t", &["admin:billing/users"]).holds(Need(Action::Read, Resource::Users)));
    }

    #[test]
    fn workspace_grants_stay_in_their_workspace() {
        let need = Need(Action::Update, Resource::Workspaces);
        let tenant_admin = caller("t", &["admin:usso/*"]);
        assert!(tenant_admin.holds_in(need, "ws_1") && tenant_admin.holds_in(need, "ws_2"));
        let scoped: Vec<String> = ["admin:usso/*", "read:blog/posts?tag=x"]
            .iter()
            .filter_map(|s| in_workspace(s, "ws_1"))
            .collect();
        assert_eq!(
            scoped,
            [
                "admin:usso/*?workspace_id=ws_1",
                "read:blog/posts?tag=x&workspace_id=ws_1"
            ]
        );
        let ws_admin = Principal {
            scopes: scoped,
            ..caller("t", &[])
        };
        assert!(ws_admin.holds_in(need, "ws_1"));
        assert!(!ws_admin.holds_in(need, "ws_2"), "another workspace");
        assert!(!ws_admin.holds(need), "tenant-wide");
        assert!(!ws_admin.holds(Need(Action::Read, Resource::Users)));
        assert!(ws_admin.require_in(need, "ws_2").is_err());
        // Already confined: kept for its own workspace, dropped for another.
        assert_eq!(
            in_workspace("read:x?workspace_id=ws_1", "ws_1").as_deref(),
            Some("read:x?workspace_id=ws_1")
        );
        assert_eq!(in_workspace("read:x?workspace_id=ws_1", "ws_2"), None);
        // The subset rule inside a workspace.
        assert!(ws_admin
            .may_grant(&["read:usso/workspaces?workspace_id=ws_1".into()])
            .is_ok());
        assert!(ws_admin
            .may_grant(&["read:usso/workspaces?workspace_id=ws_2".into()])
            .is_err());
        assert!(ws_admin
            .may_grant(&["read:usso/workspaces".into()])
            .is_err());
        assert!(tenant_admin
            .may_grant(&["admin:usso/*?workspace_id=ws_9".into()])
            .is_ok());
    }

    #[test]
    fn only_the_system_tenants_superadmin_is_the_system() {
        assert!(caller(SYSTEM_TENANT, &["superadmin:*"]).is_system());
        assert!(!caller("acme", &["superadmin:*"]).is_system());
        assert!(!caller(SYSTEM_TENANT, &["admin:usso/*"]).is_system());
    }

    #[test]
    fn nobody_grants_more_than_it_holds() {
        let admin = caller("t", &["admin:usso/*", "read:files"]);
        assert!(admin
            .may_grant(&["read:usso/users".into(), "read:files".into()])
            .is_ok());
        let e = admin.may_grant(&["superadmin:*".into()]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PermissionDenied);
        assert!(e.detail().contains("superadmin:*"));
        assert!(admin.may_grant(&["delete:files".into()]).is_err());
        assert!(caller("t", &["superadmin:*"])
            .may_grant(&["owner:anything/at/all".into()])
            .is_ok());
    }
}
