//! Workspaces, their members and invitations, and switching a session's workspace: extract,
//! check the route's rule, one call into [`crate::identity::workspaces`] or
//! [`crate::identity::invitations`], respond.

use axum::extract::{Path, State};
use usso_edge::http::{Method, Response};
use usso_shared::{paths, Error, ErrorCode};

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::authz::rules;
use crate::identity::{invitations, workspaces};

fn workspace_response(status: u16, w: &workspaces::Workspace, version: i64) -> Response {
    Response::json(status, &dto::WorkspaceView::of(w, version))
        .with_header("etag", extract::etag(version))
        .with_header("cache-control", "no-store")
}

/// The workspaces you belong to (all of the tenant's with `read:usso/workspaces`).
#[utoipa::path(get, path = "/api/sso/v1/workspaces", tag = "workspaces",
    params(("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "1–100, default 20")),
    responses((status = 200, body = dto::WorkspacePage), (status = 401, body = dto::ErrorResponse)))]
pub async fn list(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::WORKSPACES_LIST, None).await?;
        let (offset, limit) = extract::page(&req, 20)?;
        let (items, total) = workspaces::list(&ctx, &p, offset, limit).await?;
        Ok(Response::json(
            200,
            &dto::WorkspacePage {
                items: items
                    .iter()
                    .map(|(w, v)| dto::WorkspaceView::of(w, *v))
                    .collect(),
                total,
                offset,
                limit,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Creates a workspace (`join: true` makes you its first member, as `admin`).
#[utoipa::path(post, path = "/api/sso/v1/workspaces", tag = "workspaces",
    request_body = dto::CreateWorkspace,
    responses((status = 201, body = dto::WorkspaceView), (status = 403, body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn create(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::WORKSPACES_CREATE, None).await?;
        let body: dto::CreateWorkspace = req.json()?;
        let (w, v) = workspaces::create(
            &ctx,
            &p,
            &extract::meta(&req),
            &body.name,
            body.description.as_deref(),
            body.join,
        )
        .await?;
        Ok(workspace_response(201, &w, v))
    }
    .await)
}

/// One workspace (members, or `read:usso/workspaces` inside it; others: 404).
#[utoipa::path(get, path = "/api/sso/v1/workspaces/{workspace_id}", tag = "workspaces",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = dto::WorkspaceView), (status = 404, body = dto::ErrorResponse)))]
pub async fn get(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::WORKSPACE_GET, Some(&id)).await?;
        let (w, v) = workspaces::visible(&ctx, &p, &id).await?;
        Ok(workspace_response(200, &w, v))
    }
    .await)
}

/// Changes a workspace (deactivating it ends its members' sessions).
#[utoipa::path(patch, path = "/api/sso/v1/workspaces/{workspace_id}", tag = "workspaces",
    params(("workspace_id" = String, Path),
        ("If-Match" = Option<String>, Header, description = "the ETag read")),
    request_body = dto::UpdateWorkspace,
    responses((status = 200, body = dto::WorkspaceView), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse), (status = 412, body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn update(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::WORKSPACE_UPDATE, Some(&id)).await?;
        let if_match = extract::if_match(&req)?;
        let body: dto::UpdateWorkspace = req.json()?;
        let (w, v) = workspaces::update(
            &ctx,
            &p,
            &extract::meta(&req),
            &id,
            workspaces::WorkspaceChange {
                name: body.name,
                description: body.description,
                is_active: body.is_active,
            },
            if_match,
        )
        .await?;
        Ok(workspace_response(200, &w, v))
    }
    .await)
}

/// Deletes a workspace: its members leave and their sessions end.
#[utoipa::path(delete, path = "/api/sso/v1/workspaces/{workspace_id}", tag = "workspaces",
    params(("workspace_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse)))]
pub async fn delete(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::WORKSPACE_DELETE, Some(&id)).await?;
        workspaces::delete(&ctx, &p, &extract::meta(&req), &id).await?;
        Ok(Response::no_content())
    }
    .await)
}

/// A workspace's members.
#[utoipa::path(get, path = "/api/sso/v1/workspaces/{workspace_id}/members", tag = "workspaces",
    params(("workspace_id" = String, Path), ("offset" = Option<u64>, Query),
        ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::MemberPage), (status = 404, body = dto::ErrorResponse)))]
pub async fn members(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::MEMBERS_LIST, Some(&id)).await?;
        let (offset, limit) = extract::page(&req, 50)?;
        let (items, total) = workspaces::members(&ctx, &p, &id, offset, limit).await?;
        Ok(Response::json(
            200,
            &dto::MemberPage {
                items: items.iter().map(dto::MemberView::from).collect(),
                total,
                offset,
                limit,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Adds a user of the tenant to a workspace with workspace roles.
#[utoipa::path(post, path = "/api/sso/v1/workspaces/{workspace_id}/members", tag = "workspaces",
    params(("workspace_id" = String, Path)), request_body = dto::AddMember,
    responses((status = 201, body = dto::MemberView), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse),
        (status = 409, description = "already a member", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn add_member(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::MEMBERS_ADD, Some(&id)).await?;
        let body: dto::AddMember = req.json()?;
        let m = workspaces::add_member(
            &ctx,
            &p,
            &extract::meta(&req),
            &id,
            &body.user_id,
            body.roles,
        )
        .await?;
        Ok(Response::json(201, &dto::MemberView::from(&m)))
    }
    .await)
}

/// Replaces a member's workspace roles; their sessions end.
#[utoipa::path(patch, path = "/api/sso/v1/workspaces/{workspace_id}/members/{uid}",
    tag = "workspaces", params(("workspace_id" = String, Path), ("uid" = String, Path)),
    request_body = dto::UpdateMember,
    responses((status = 200, body = dto::MemberView), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn update_member(
    State(ctx): State<CtxRef>,
    Path((id, uid)): Path<(String, String)>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::MEMBER_UPDATE, Some(&id)).await?;
        let body: dto::UpdateMember = req.json()?;
        let m = workspaces::set_member_roles(&ctx, &p, &extract::meta(&req), &id, &uid, body.roles)
            .await?;
        Ok(Response::json(200, &dto::MemberView::from(&m)))
    }
    .await)
}

/// Removes a member; their sessions end.
#[utoipa::path(delete, path = "/api/sso/v1/workspaces/{workspace_id}/members/{uid}",
    tag = "workspaces", params(("workspace_id" = String, Path), ("uid" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse)))]
pub async fn remove_member(
    State(ctx): State<CtxRef>,
    Path((id, uid)): Path<(String, String)>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::MEMBER_REMOVE, Some(&id)).await?;
        workspaces::remove_member(&ctx, &p, &extract::meta(&req), &id, &uid).await?;
        Ok(Response::no_content())
    }
    .await)
}

/// A workspace's invitations (never their links).
#[utoipa::path(get, path = "/api/sso/v1/workspaces/{workspace_id}/invitations",
    tag = "workspaces", params(("workspace_id" = String, Path), ("offset" = Option<u64>, Query),
        ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::InvitationPage), (status = 403, body = dto::ErrorResponse)))]
pub async fn invitations(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::INVITATIONS_LIST, Some(&id)).await?;
        workspaces::check_id(&id)?;
        let (offset, limit) = extract::page(&req, 50)?;
        let (items, total) =
            invitations::list(&ctx.docs, tc.tenant.id(), &id, offset, limit).await?;
        let now = ctx.now();
        Ok(Response::json(
            200,
            &dto::InvitationPage {
                items: items
                    .iter()
                    .map(|i| dto::InvitationView::of(i, now))
                    .collect(),
                total,
                offset,
                limit,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// Invites someone by email (the link goes through the outbox; it works once).
#[utoipa::path(post, path = "/api/sso/v1/workspaces/{workspace_id}/invitations",
    tag = "workspaces", params(("workspace_id" = String, Path)),
    request_body = dto::CreateInvitation,
    responses((status = 201, body = dto::InvitationView), (status = 403, body = dto::ErrorResponse),
        (status = 404, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn invite(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::INVITATIONS_CREATE, Some(&id)).await?;
        let body: dto::CreateInvitation = req.json()?;
        let inv = invitations::create(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            &id,
            invitations::NewInvitation {
                email: body.email,
                roles: body.roles,
                days: body.expires_in_days,
            },
        )
        .await?;
        Ok(Response::json(
            201,
            &dto::InvitationView::of(&inv, ctx.now()),
        ))
    }
    .await)
}

/// Withdraws a pending invitation.
#[utoipa::path(delete, path = "/api/sso/v1/workspaces/{workspace_id}/invitations/{invitation_id}",
    tag = "workspaces", params(("workspace_id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = dto::ErrorResponse),
        (status = 409, description = "already used or revoked", body = dto::ErrorResponse)))]
pub async fn revoke_invitation(
    State(ctx): State<CtxRef>,
    Path((id, invitation)): Path<(String, String)>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::INVITATION_REVOKE, Some(&id)).await?;
        invitations::revoke(&ctx, &p, &extract::meta(&req), &id, &invitation).await?;
        Ok(Response::no_content())
    }
    .await)
}

/// What an invitation link invites to (changes nothing: safe for link scanners).
#[utoipa::path(get, path = "/api/sso/v1/invitations/accept", tag = "workspaces",
    params(("token" = String, Query, description = "the link's token")),
    responses((status = 200, body = dto::InvitationInfo),
        (status = 404, description = "unknown, used, revoked or expired", body = dto::ErrorResponse)))]
pub async fn invitation_info(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let token = req.query_param("token").unwrap_or_default();
        let (inv, _) = invitations::by_link(&ctx.docs, tc.tenant.id(), &token, ctx.now()).await?;
        let (ws, _) = workspaces::find(&ctx.docs, tc.tenant.id(), &inv.workspace_id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "workspace not found"))?;
        Ok(Response::json(
            200,
            &dto::InvitationInfo {
                workspace_id: ws.id,
                workspace_name: ws.name,
                email: inv.email,
                roles: inv.roles,
                expires_at: dto::rfc3339(inv.expires_at),
            },
        )
        .with_header("cache-control", "no-store")
        .with_header("referrer-policy", "no-referrer"))
    }
    .await)
}

/// Accepts an invitation, signed in with the invited address.
#[utoipa::path(post, path = "/api/sso/v1/invitations/accept", tag = "workspaces",
    request_body = dto::AcceptInvitation,
    responses((status = 200, body = dto::Accepted), (status = 401, body = dto::ErrorResponse),
        (status = 403, description = "another address", body = dto::ErrorResponse),
        (status = 404, description = "unknown, used, revoked or expired", body = dto::ErrorResponse)))]
pub async fn accept(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (_, p) = extract::principal(&ctx, &req, &rules::INVITATION_ACCEPT, None).await?;
        let body: dto::AcceptInvitation = req.json()?;
        let (inv, ws) = invitations::accept(&ctx, &p, &extract::meta(&req), &body.token).await?;
        let (ws_now, version) = workspaces::find(&ctx.docs, &p.tenant_id, &ws.id)
            .await?
            .unwrap_or((ws, 0));
        let uid = p.user_id.clone().unwrap_or_default();
        let roles = crate::identity::users::get(&ctx.docs, &p.tenant_id, &uid)
            .await?
            .map(|(u, _)| u.roles_in(&inv.workspace_id).to_vec())
            .unwrap_or_default();
        Ok(Response::json(
            200,
            &dto::Accepted {
                workspace: dto::WorkspaceView::of(&ws_now, version),
                roles,
            },
        ))
    }
    .await)
}

/// The `session_id` a refresh token names (read, not verified: the refresh that follows
/// verifies it).
fn session_of(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = usso_shared::encoding::b64url_decode(payload)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["session_id"].as_str().map(str::to_owned)
}

/// Switches the session's active workspace: its tokens now carry `workspace_id` and the
/// workspace's roles and scopes (confined to it). Answers a new token pair of the same
/// session, like a refresh (the refresh token, from the body or the cookie, is rotated).
#[utoipa::path(post, path = "/api/sso/v1/auth/workspace", tag = "auth",
    request_body = dto::SwitchWorkspace,
    responses((status = 200, body = dto::TokenResponse), (status = 401, body = dto::ErrorResponse),
        (status = 404, description = "not a workspace of yours", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn switch(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    let refresh = async {
        let (_, p) = extract::principal(&ctx, &req, &rules::SWITCH_WORKSPACE, None).await?;
        let body: dto::SwitchWorkspace = req.json()?;
        let token = body
            .refresh_token
            .clone()
            .or_else(|| {
                req.cookie(usso_edge::issue::REFRESH_COOKIE)
                    .map(str::to_owned)
            })
            .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "no refresh token"))?;
        if session_of(&token).is_none() || session_of(&token) != p.session_id {
            return Err(Error::invalid_token(
                "the refresh token belongs to another session",
            ));
        }
        if let Some(id) = &body.workspace_id {
            workspaces::check_id(id)?;
        }
        let grant = workspaces::switch(&ctx, &p, body.workspace_id.as_deref()).await?;
        crate::audit::client(
            &ctx,
            &p.tenant_id,
            crate::audit::AuditEvent::WorkspaceSwitched,
            &extract::meta(&req),
            serde_json::json!({"session_id": p.session_id, "workspace_id": grant.workspace_id}),
        )
        .await;
        let mut r = req.clone();
        r.method = Method::Post;
        r.path = paths::REFRESH.to_owned();
        r.query = None;
        r.body = serde_json::json!({ "refresh_token": token })
            .to_string()
            .into_bytes();
        Ok(r)
    }
    .await;
    match refresh {
        Ok(r) => super::tokens::edge(State(ctx.clone()), CoreRequest(r)).await,
        Err(e) => out(Err(e)),
    }
}
