//! Extraction: an axum request becomes the edge core's [`Request`] (body read with a size limit
//! and a deadline, one Host, the client address resolved behind the trusted proxies), and from
//! it the typed inputs the domain takes: [`ClientMeta`], [`TenantCtx`], the caller's claims.
//!
//! Invariant: the tenant is chosen from exactly one Host value (duplicate Host headers are
//! refused; an absolute-form target's authority wins), so no two layers can disagree about it.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use serde_json::Value;
use usso_edge::http::{Method, Request, Response, MAX_BODY_BYTES};
use usso_shared::claims::AccessClaims;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::{ClientMeta, Core, Ctx, CtxRef};
use crate::authz::rules::Route;
use crate::authz::Principal;
use crate::tenants::{self, TenantCtx};

/// A request converted for the core (body read with a size limit).
pub struct CoreRequest(pub Request);

impl FromRequest<CtxRef> for CoreRequest {
    type Rejection = Out;

    async fn from_request(req: axum::extract::Request, app: &CtxRef) -> Result<Self, Out> {
        let (parts, body) = req.into_parts();
        // A request that announced no body (most GETs) needs neither a read nor its deadline.
        let bytes = if axum::body::HttpBody::is_end_stream(&body) {
            Bytes::new()
        } else {
            read_body(body, app).await?
        };
        let mut headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        // RFC 9112 §3.2: more than one Host is a bad request; with an absolute-form target the
        // target's authority is the host, whatever the Host header says. The tenant is chosen by
        // this one value, so no two layers can disagree about it.
        if parts.headers.get_all("host").iter().count() > 1 {
            return Err(Out(Response::error(&Error::bad_request(
                "more than one Host header",
            ))));
        }
        if let Some(authority) = parts.uri.authority() {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
            headers.push(("host".into(), authority.as_str().to_owned()));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client_ip = crate::http::client_addr::resolve(peer, &headers, app.proxy_hops)
            .map_err(|e| {
                Out(Response::error(&Error::bad_request(format!(
                    "malformed forwarding header: {}",
                    e.0
                ))))
            })?
            .map(|ip| ip.to_string());
        Ok(CoreRequest(Request {
            method: Method::parse(parts.method.as_str()),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body: bytes.to_vec(),
            client_ip,
        }))
    }
}

/// Reads a request body under [`MAX_BODY_BYTES`] and the body deadline.
async fn read_body(body: Body, app: &CtxRef) -> Result<Bytes, Out> {
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    let collected = tokio::time::timeout(app.body_timeout, limited.collect())
        .await
        .map_err(|_| {
            Out(Response::error(&Error::bad_request(format!(
                "the request body did not arrive within {} s",
                app.body_timeout.as_secs()
            )))
            .with_status(408)
            .with_header("connection", "close"))
        })?;
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Out(Response::error(&Error::new(
                ErrorCode::PayloadTooLarge,
                format!("request body exceeds {MAX_BODY_BYTES} bytes"),
            ))))
        }
        Err(e) => Err(Out(Response::error(&Error::bad_request(format!(
            "unreadable body: {e}"
        ))))),
    }
}

/// A core response as an axum response.
pub struct Out(pub Response);

impl IntoResponse for Out {
    fn into_response(self) -> axum::response::Response {
        let r = self.0;
        let mut res = axum::response::Response::new(Body::from(r.body));
        *res.status_mut() =
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (n, v) in r.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(n), HeaderValue::try_from(v)) {
                res.headers_mut().append(n, v);
            }
        }
        res
    }
}

/// A domain result as a response.
pub fn out(r: Result<Response>) -> Out {
    Out(r.unwrap_or_else(|e| Response::error(&e)))
}

/// What the domain may know of the client.
/// Whether the body is an HTML form (`application/x-www-form-urlencoded`): a page's POST,
/// answered with a page.
pub fn is_form(req: &Request) -> bool {
    req.header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// Client metadata of a request.
pub fn meta(req: &Request) -> ClientMeta {
    ClientMeta {
        ip: req.client_ip.clone().unwrap_or_else(|| "unknown".into()),
        user_agent: req
            .header("user-agent")
            .map(|s| s.chars().take(256).collect()),
        device: req
            .cookie(crate::authn::known_device::COOKIE)
            .map(str::to_owned),
        captcha: req.header("x-altcha").map(str::to_owned).or_else(|| {
            if is_form(req) {
                return req.form_field("altcha").filter(|a| !a.is_empty());
            }
            serde_json::from_slice::<Value>(&req.body)
                .ok()?
                .get("altcha")?
                .as_str()
                .map(str::to_owned)
        }),
    }
}

/// The request's tenant (active), with its current token state: a key rotation by another
/// process takes effect for signing at once.
pub async fn tenant(ctx: &Ctx, req: &Request) -> Result<TenantCtx> {
    let state = ctx.core.resolve_tenant(req, false).await?;
    let tenant = tenants::load(&ctx.docs, &state.config.tenant_id)
        .await?
        .filter(|t| t.tokens.is_active)
        .ok_or_else(|| Error::new(ErrorCode::TenantNotFound, "tenant not found or inactive"))?;
    let state = ctx.core.current_tenant(&state).await?;
    Ok(TenantCtx { tenant, state })
}

/// The verified access claims of a request (bearer, then cookie). With strict verification on
/// (`USSO_STRICT_VERIFY`) or `live` asked for, the session must also be live: a logged-out
/// session's access token reads nothing and manages nothing.
pub async fn caller(ctx: &Ctx, req: &Request, tc: &TenantCtx, live: bool) -> Result<AccessClaims> {
    let (token, dpop_scheme) = Core::presented_access(req)
        .ok_or_else(|| Error::new(ErrorCode::Unauthorized, "no access token"))?;
    let claims = ctx
        .core
        .verify::<AccessClaims>(&tc.state, token)
        .await?
        .into_claims();
    let htu = format!(
        "{}{}",
        tc.state.config.issuer.trim_end_matches('/'),
        req.path
    );
    ctx.core
        .check_binding(
            &tc.state,
            &claims,
            token,
            dpop_scheme,
            req.header("dpop"),
            req.method.as_str(),
            &htu,
        )
        .await?;
    if live || ctx.core.config().strict_verify {
        ctx.core.require_live_session(&tc.state, &claims).await?;
    }
    Ok(claims)
}

/// The caller of an administration or self-service route (an access token, or an API key in
/// `x-api-key` or as a bearer value of the key format), after the route's rule
/// ([`crate::authz::rules`]) let it through. `subject` is the user the path names, if any.
/// The session must be live, and a browser request must come from the tenant's own site
/// (cookies authenticate these routes too).
pub async fn principal(
    ctx: &Ctx,
    req: &Request,
    route: &Route,
    subject: Option<&str>,
) -> Result<(TenantCtx, Principal)> {
    let tc = tenant(ctx, req).await?;
    usso_edge::csrf::same_site(req, &tc.tenant.tokens)?;
    let p = match Core::api_key(req) {
        Some(key) => crate::sessions::api_keys::authenticate(ctx, &tc, &meta(req), key).await?,
        None => Principal::of(caller(ctx, req, &tc, true).await?, tc.tenant.id())?,
    };
    route.allows(&p, subject)?;
    Ok((tc, p))
}

/// A query parameter parsed as `T`; `validation_error` naming it when malformed.
pub fn param<T: std::str::FromStr>(req: &Request, name: &str) -> Result<Option<T>> {
    match req.query_param(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            Error::new(
                ErrorCode::ValidationError,
                format!(
                    "{name}: `{}` is not valid here",
                    v.chars().take(64).collect::<String>()
                ),
            )
        }),
    }
}

/// `offset` and `limit` of a list request (`limit` 1 to
/// [`crate::identity::manage::MAX_PAGE`], `default` when absent);
/// `validation_error` naming the parameter otherwise.
pub fn page(req: &Request, default: u64) -> Result<(u64, u64)> {
    use crate::identity::manage::MAX_PAGE;
    let offset = param::<u64>(req, "offset")?.unwrap_or(0);
    let limit = param::<u64>(req, "limit")?.unwrap_or(default);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::new(
            ErrorCode::ValidationError,
            format!("limit: 1 to {MAX_PAGE}"),
        ));
    }
    Ok((offset, limit))
}

/// The version an `If-Match: "<n>"` header asks for (`*` and no header: none).
pub fn if_match(req: &Request) -> Result<Option<i64>> {
    match req.header("if-match").map(str::trim) {
        None | Some("*") => Ok(None),
        Some(v) => v
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse()
            .map(Some)
            .map_err(|_| {
                Error::new(
                    ErrorCode::ValidationError,
                    "If-Match: send the ETag you read (a quoted version number)",
                )
            }),
    }
}

/// The `ETag` of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}
