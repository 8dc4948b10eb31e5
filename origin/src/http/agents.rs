//! Service accounts (agents) over HTTP: administration (`/agents`, keys), self-registration
//! with a one-time key, and the two routes an agent calls with its own signed JWT
//! (`/agents/auth`, `/agents/scopes`). Extract, check the route's rule, one domain call,
//! respond.

use axum::extract::{Path, State};
use usso_edge::http::Response;
use usso_shared::{Error, ErrorCode};

use super::dto;
use super::extract::{self, out, CoreRequest, Out};
use crate::app::CtxRef;
use crate::authn::agent_jwt;
use crate::authz::rules;
use crate::identity::agents;

fn agent_response(status: u16, a: &agents::Agent, version: i64) -> Response {
    Response::json(status, &dto::AgentView::of(a, version))
        .with_header("etag", extract::etag(version))
        .with_header("cache-control", "no-store")
}

/// The tenant's agents.
#[utoipa::path(get, path = "/api/sso/v1/agents", tag = "agents",
    params(("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "1–100, default 50")),
    responses((status = 200, body = dto::AgentPage), (status = 403, body = dto::ErrorResponse)))]
pub async fn list(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::AGENTS_LIST, None).await?;
        let (offset, limit) = extract::page(&req, 50)?;
        let (items, total) = agents::list(&ctx, &tc.tenant, offset, limit).await?;
        Ok(Response::json(
            200,
            &dto::AgentPage {
                items: items
                    .iter()
                    .map(|(a, v)| dto::AgentView::of(a, *v))
                    .collect(),
                total,
                offset,
                limit,
            },
        ))
    }
    .await)
}

/// Creates an agent (its scopes within yours).
#[utoipa::path(post, path = "/api/sso/v1/agents", tag = "agents", request_body = dto::CreateAgent,
    responses((status = 201, body = dto::AgentView), (status = 403, body = dto::ErrorResponse),
        (status = 409, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn create(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::AGENTS_CREATE, None).await?;
        let body: dto::CreateAgent = req.json()?;
        let mut keys = body.verify_keys;
        keys.extend(body.verify_key);
        let (agent, version) = agents::create(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            agents::NewAgent {
                name: body.name,
                description: body.description,
                scopes: body.scopes,
                workspace_id: body.workspace_id,
                verify_keys: keys,
                is_active: body.is_active,
            },
        )
        .await?;
        Ok(agent_response(201, &agent, version))
    }
    .await)
}

/// One agent.
#[utoipa::path(get, path = "/api/sso/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = String, Path)),
    responses((status = 200, body = dto::AgentView), (status = 404, body = dto::ErrorResponse)))]
pub async fn get(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, _) = extract::principal(&ctx, &req, &rules::AGENT_GET, None).await?;
        agents::require_enabled(&tc.tenant)?;
        let (agent, version) = agents::get(&ctx, &tc.tenant, &id).await?;
        Ok(agent_response(200, &agent, version))
    }
    .await)
}

/// Changes an agent (`If-Match` for optimistic concurrency).
#[utoipa::path(patch, path = "/api/sso/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = String, Path)),
    request_body = dto::UpdateAgent,
    responses((status = 200, body = dto::AgentView), (status = 404, body = dto::ErrorResponse),
        (status = 412, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn update(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::AGENT_UPDATE, None).await?;
        let if_match = extract::if_match(&req)?;
        let body: dto::UpdateAgent = req.json()?;
        let (agent, version) = agents::update(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            &id,
            agents::AgentChange {
                name: body.name,
                description: body.description,
                scopes: body.scopes,
                workspace_id: body.workspace_id,
                is_active: body.is_active,
            },
            if_match,
        )
        .await?;
        Ok(agent_response(200, &agent, version))
    }
    .await)
}

/// Deletes an agent: its JWTs are refused from then on.
#[utoipa::path(delete, path = "/api/sso/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = String, Path)),
    responses((status = 204), (status = 404, body = dto::ErrorResponse)))]
pub async fn delete(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::AGENT_DELETE, None).await?;
        agents::delete(&ctx, &tc.tenant, &p, &extract::meta(&req), &id).await?;
        Ok(Response::no_content())
    }
    .await)
}

/// Adds a public key to an agent (key rotation).
#[utoipa::path(post, path = "/api/sso/v1/agents/{agent_id}/keys", tag = "agents", params(("agent_id" = String, Path)),
    request_body = dto::AddAgentKey,
    responses((status = 201, body = dto::AgentView), (status = 404, body = dto::ErrorResponse),
        (status = 409, body = dto::ErrorResponse), (status = 422, body = dto::ErrorResponse)))]
pub async fn add_key(
    State(ctx): State<CtxRef>,
    Path(id): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::AGENT_KEYS_ADD, None).await?;
        let body: dto::AddAgentKey = req.json()?;
        let (agent, version) = agents::add_key(
            &ctx,
            &tc.tenant,
            &p,
            &extract::meta(&req),
            &id,
            &body.verify_key,
        )
        .await?;
        Ok(agent_response(201, &agent, version))
    }
    .await)
}

/// Removes a public key from an agent.
#[utoipa::path(delete, path = "/api/sso/v1/agents/{agent_id}/keys/{kid}", tag = "agents",
    params(("agent_id" = String, Path), ("kid" = String, Path)),
    responses((status = 200, body = dto::AgentView), (status = 404, body = dto::ErrorResponse)))]
pub async fn remove_key(
    State(ctx): State<CtxRef>,
    Path((id, kid)): Path<(String, String)>,
    CoreRequest(req): CoreRequest,
) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::AGENT_KEY_REMOVE, None).await?;
        let (agent, version) =
            agents::remove_key(&ctx, &tc.tenant, &p, &extract::meta(&req), &id, &kid).await?;
        Ok(agent_response(200, &agent, version))
    }
    .await)
}

/// Makes a one-time registration key (a person signed in; the agent's scopes will be within
/// yours). Shown once; valid for an hour.
#[utoipa::path(post, path = "/api/sso/v1/agents/registration-keys", tag = "agents",
    responses((status = 201, body = dto::RegistrationKey), (status = 403, body = dto::ErrorResponse)))]
pub async fn registration_key(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let (tc, p) = extract::principal(&ctx, &req, &rules::AGENT_REGISTRATION_KEYS, None).await?;
        let (key, expires_at) = agents::new_registration_key(&ctx, &tc.tenant, &p).await?;
        Ok(Response::json(
            201,
            &dto::RegistrationKey {
                registration_key: key,
                expires_at: dto::rfc3339(expires_at),
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// An agent registers itself with a registration key (consumed).
#[utoipa::path(post, path = "/api/sso/v1/agents/register", tag = "agents", request_body = dto::RegisterAgent,
    responses((status = 201, body = dto::AgentView),
        (status = 401, description = "invalid, used or expired registration key", body = dto::ErrorResponse),
        (status = 422, body = dto::ErrorResponse)))]
pub async fn register(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let body: dto::RegisterAgent = req.json()?;
        let (agent, version) = agents::register(
            &ctx,
            &tc.tenant,
            &extract::meta(&req),
            agents::SelfRegistration {
                registration_key: body.registration_key,
                name: body.name,
                scopes: body.scopes,
                alg: body.alg,
                verify_key: body.verify_key,
                description: body.description,
            },
        )
        .await?;
        Ok(agent_response(201, &agent, version))
    }
    .await)
}

fn agent_jwt(req: &usso_edge::http::Request) -> Result<&str, Error> {
    req.bearer().ok_or_else(|| {
        Error::new(
            ErrorCode::Unauthorized,
            "send the agent JWT as `Authorization: Bearer`",
        )
    })
}

/// An agent's signed JWT (`Authorization: Bearer`) → an access token for the scopes it asks,
/// within its own.
#[utoipa::path(post, path = "/api/sso/v1/agents/auth", tag = "agents",
    responses((status = 200, body = dto::AgentTokenResponse),
        (status = 401, description = "invalid agent token", body = dto::ErrorResponse)))]
pub async fn auth(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let jwt = agent_jwt(&req)?;
        let (agent, issued) = agent_jwt::exchange(&ctx, &tc, &extract::meta(&req), jwt).await?;
        Ok(Response::json(
            200,
            &dto::AgentTokenResponse {
                tokens: dto::AgentTokens {
                    access: issued.access_token.clone(),
                },
                access_token: issued.access_token,
                token_type: "Bearer".into(),
                expires_in: issued.expires_in,
                scopes: issued.scopes,
                agent_id: agent.id,
                tenant_id: tc.tenant.id().to_owned(),
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}

/// An agent's signed JWT → its scopes and tenant.
#[utoipa::path(post, path = "/api/sso/v1/agents/scopes", tag = "agents",
    responses((status = 200, body = dto::AgentScopes),
        (status = 401, description = "invalid agent token", body = dto::ErrorResponse)))]
pub async fn scopes(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let tc = extract::tenant(&ctx, &req).await?;
        let jwt = agent_jwt(&req)?;
        let proven = agent_jwt::check(&ctx, &tc, &extract::meta(&req), jwt).await?;
        Ok(Response::json(
            200,
            &dto::AgentScopes {
                scopes: proven.agent.scopes,
                tenant_id: tc.tenant.id().to_owned(),
                agent_id: proven.agent.id,
                workspace_id: proven.agent.workspace_id,
            },
        )
        .with_header("cache-control", "no-store"))
    }
    .await)
}
