//! System routes: health, and the answers for unknown routes and methods.

use axum::extract::State;
use usso_edge::http::Response;
use usso_shared::{Error, ErrorCode};

use super::extract::Out;
use crate::app::CtxRef;

/// Liveness and store health.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "ok"), (status = 503, description = "a store is failing")))]
pub async fn health(State(ctx): State<CtxRef>) -> Out {
    let h = crate::app::health(&ctx).await;
    Out(Response::json(if h.status == "ok" { 200 } else { 503 }, &h)
        .with_header("cache-control", "no-store"))
}

/// Unknown route: 404 in the JSON error shape.
pub async fn not_found() -> Out {
    Out(Response::error(&Error::new(
        ErrorCode::NotFound,
        "no such route",
    )))
}

/// Known route, wrong method: 405 in the JSON error shape.
pub async fn method_not_allowed() -> Out {
    Out(Response::error(&Error::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )))
}
