//! The HTTP layer, the only code that knows axum and the edge core's request and response
//! types: routing, extraction, the accept loop, the OpenAPI description, the gateway.

pub mod client_addr;
pub mod gateway;
pub mod hyper_errors;
pub mod openapi;
pub mod serve;
