//! The OpenAPI 3.1 description of every endpoint, generated from the handlers' annotations
//! (`#[utoipa::path]` on the handlers of each area) and the request types, served at
//! `/api/sso/v1/openapi.json` with a small self-contained docs page at `/api/sso/v1/docs`.

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::dto::*;

use crate::app::CtxRef;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "usso-edge origin", description = "USSO-compatible identity and token service."),
    paths(
        super::system::health,
        super::tokens::jwks,
        super::tokens::discovery,
        super::tokens::verify_token,
        super::tokens::verify_api_key,
        super::api_keys::list,
        super::api_keys::create,
        super::api_keys::get,
        super::api_keys::revoke,
        super::agents::list,
        super::agents::create,
        super::agents::get,
        super::agents::update,
        super::agents::delete,
        super::agents::add_key,
        super::agents::remove_key,
        super::agents::registration_key,
        super::agents::register,
        super::agents::auth,
        super::agents::scopes,
        super::tokens::refresh,
        super::tokens::logout,
        super::auth::login,
        super::auth::register,
        super::auth::request_otp,
        super::auth::request_magic_link,
        super::auth::magic_link_page,
        super::auth::magic_link_confirm,
        super::auth::mfa_verify,
        super::auth::captcha_challenge,
        super::sessions::me,
        super::sessions::me_alias,
        super::sessions::sessions,
        super::sessions::revoke_session,
        super::users::list,
        super::users::create,
        super::users::get,
        super::users::update,
        super::users::delete,
        super::users::identifiers,
        super::users::add_identifier,
        super::users::remove_identifier,
        super::users::make_primary,
        super::users::credentials,
        super::profiles::mine,
        super::profiles::update_mine,
        super::profiles::get,
        super::roles::list,
        super::roles::create,
        super::roles::get,
        super::roles::update,
        super::roles::delete,
        super::workspaces::list,
        super::workspaces::create,
        super::workspaces::get,
        super::workspaces::update,
        super::workspaces::delete,
        super::workspaces::members,
        super::workspaces::add_member,
        super::workspaces::update_member,
        super::workspaces::remove_member,
        super::workspaces::invitations,
        super::workspaces::invite,
        super::workspaces::revoke_invitation,
        super::workspaces::invitation_info,
        super::workspaces::accept,
        super::workspaces::switch,
        super::users::set_password,
        super::account::change_password,
        super::account::reset_request,
        super::account::reset_page,
        super::account::reset_password,
        super::account::verify_link_page,
        super::account::verify_link,
        super::account::verify_request,
        super::account::verify,
        super::account::export,
        super::account::delete_me,
        super::account::audit_mine,
        super::account::audit_list,
        super::tenants::list,
        super::tenants::create,
        super::tenants::get,
        super::tenants::update,
        super::tenants::delete,
        super::tokens::oauth_metadata,
        super::oauth::list_clients,
        super::oauth::create_client,
        super::oauth::get_client,
        super::oauth::update_client,
        super::oauth::delete_client,
        super::oauth::rotate_secret,
        super::oauth::my_consents,
        super::oauth::revoke_consent,
        super::oauth::authorize,
        super::oauth::consent_post,
        super::oauth::token,
        super::oauth::introspection,
        super::oauth::revocation,
        super::oauth::userinfo_route,
        super::oauth::end_session,
        super::oauth::device_authorization,
        super::oauth::register_client,
    ),
    components(schemas(LoginRequest, LoginMethod, MagicLinkAccepted, SecondStepRequired, OtpRequest, OtpAccepted, MagicLinkRequest, MagicLinkConfirm, MfaVerify, VerifyRequest, RefreshRequest, TokenResponse, TokenPairDoc, ErrorResponse,
        UserView, IdentifierView, UserPage, CreateUser, UpdateUser, AddIdentifier, IdentifierList, Credentials,
        ProfileView, UpdateProfile, RoleView, RolePage, CreateRole, UpdateRole,
        VerifyApiKey, CreateApiKey, ApiKeyView, ApiKeyCreated, ApiKeyPage,
        CreateAgent, UpdateAgent, AddAgentKey, AgentKeyView, AgentView, AgentPage, RegistrationKey,
        RegisterAgent, AgentTokens, AgentTokenResponse, AgentScopes,
        WorkspaceView, WorkspacePage, CreateWorkspace, UpdateWorkspace, MemberView, MemberPage, AddMember,
        UpdateMember, InvitationView, InvitationPage, CreateInvitation, InvitationInfo, AcceptInvitation,
        Accepted, SwitchWorkspace, ChangePassword, SessionsEnded, CodeFor, ResetPassword, VerifyIdentifier, VerifyLink,
        DeleteAccount, SetPassword, AuditPage, CreateTenant, TenantPage,
        CreateOAuthClient, UpdateOAuthClient, RegisterOAuthClient, OAuthClientView, OAuthClientPage, OAuthError,
        crate::oauth::grant::TokenResponse, crate::oauth::clients::GrantType,
        crate::oauth::clients::AuthMethod, crate::oauth::consent::Consent)),
    tags((name = "auth"), (name = "tokens"), (name = "sessions"), (name = "users"), (name = "roles"),
        (name = "profiles"), (name = "workspaces"), (name = "account"), (name = "tenants"), (name = "system"), (name = "oauth"))
)]
pub struct ApiDoc;

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn docs_page() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

/// Routes serving the OpenAPI document and its docs page.
pub fn routes() -> Router<CtxRef> {
    Router::new()
        .route(usso_shared::paths::OPENAPI, get(openapi_json))
        .route(usso_shared::paths::API_DOCS, get(docs_page))
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API docs</title>
<style>body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
h2{margin-top:2rem}code{background:#f3f3f3;padding:.1rem .3rem}.m{display:inline-block;width:4.5rem;font-weight:bold}
.op{border-top:1px solid #ddd;padding:.5rem 0}pre{background:#f7f7f7;padding:.5rem;overflow:auto}</style></head>
<body><h1>API</h1><p>Generated from <a href="openapi.json">openapi.json</a>.</p><div id="ops">Loading…</div>
<script>
fetch('openapi.json').then(r=>r.json()).then(doc=>{
  const el=document.getElementById('ops');el.textContent='';
  for(const [path,item] of Object.entries(doc.paths)){
    for(const [method,op] of Object.entries(item)){
      const d=document.createElement('div');d.className='op';
      const h=document.createElement('div');
      const m=document.createElement('span');m.className='m';m.textContent=method.toUpperCase();
      const c=document.createElement('code');c.textContent=path;
      h.append(m,c,document.createTextNode(' '+(op.summary||'')));d.append(h);
      if(op.description){const p=document.createElement('p');p.textContent=op.description;d.append(p);}
      const codes=Object.keys(op.responses||{}).join(', ');
      const p=document.createElement('p');p.textContent='Responses: '+codes;d.append(p);
      el.append(d);
    }
  }
});
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The OpenAPI description names exactly the paths of `usso_shared::paths` (one
    /// declaration of each route, read by the routers and checked against the description).
    #[test]
    fn described_paths_are_the_declared_paths() {
        let doc = ApiDoc::openapi();
        let mut described: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        let mut declared = usso_shared::paths::DOCUMENTED.to_vec();
        described.sort_unstable();
        declared.sort_unstable();
        assert_eq!(described, declared);
    }
}
