//! The Fermyon Spin adapter (WASI HTTP, `wasm32-wasip2`): translates the incoming WASI HTTP
//! request to the edge core's request and back, and supplies the platform's capabilities (an
//! outbound WASI HTTP transport for the Upstash REST hot store, the WASI wall clock). No logic of
//! its own.
//!
//! Configuration comes only from environment variables with the names of
//! [`usso_edge::settings`]: Spin maps `spin.toml` `[component.usso-edge.environment]` (and
//! variables) to them, and `wasmtime serve --env NAME=VALUE` sets them directly, so the same
//! component runs on both. It imports nothing Spin-specific (no `spin:*` interfaces).

#![cfg(all(target_arch = "wasm32", target_os = "wasi"))]

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Request as SpinRequest};
use spin_sdk::http_service;
use spin_sdk::wasip3::http::types::RequestOptions;
use spin_sdk::wasip3::http_compat::RequestOptionsExtension;
use usso_edge::http::{Method, Request, Response};
use usso_edge::upstash_store::UpstashHotStore;
use usso_edge::{EdgeCore, EdgeSettings};
use usso_shared::clock::Clock;
use usso_shared::transport::{transport_error, HttpRequest, HttpResponse, HttpTransport};
use usso_shared::Error;

/// Connect timeout of an outbound call to the hot store.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time to the first byte of the hot store's answer.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(5);

/// The WASI wall clock, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct WasiClock;

impl Clock for WasiClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    /// `wasi:clocks/monotonic-clock.wait-for`: concurrent requests share an instance on WASI
    /// HTTP 0.3 hosts, but one request's task cannot wake another's.
    fn pause(&self, ms: u32) -> Option<impl std::future::Future<Output = ()>> {
        Some(spin_sdk::wasip3::clocks::monotonic_clock::wait_for(
            u64::from(ms) * 1_000_000,
        ))
    }
}

/// Outbound HTTP through WASI HTTP (`spin_sdk::http::send`).
#[derive(Debug, Clone, Copy)]
pub struct WasiFetch;

fn timeouts() -> Option<RequestOptionsExtension> {
    let options = RequestOptions::new();
    // A host that does not support a timeout refuses to set it: then its own defaults apply.
    let _ = options.set_connect_timeout(Some(CONNECT_TIMEOUT.as_nanos() as u64));
    let _ = options.set_first_byte_timeout(Some(FIRST_BYTE_TIMEOUT.as_nanos() as u64));
    Some(RequestOptionsExtension(options))
}

impl HttpTransport for WasiFetch {
    async fn send(&self, request: HttpRequest) -> usso_shared::Result<HttpResponse> {
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(options) = timeouts() {
            builder = builder.extension(options);
        }
        let outbound = builder
            .body(FullBody::new(Bytes::from(request.body)))
            .map_err(transport_error)?;
        let response = spin_sdk::http::send(outbound)
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .into_body()
            .bytes()
            .await
            .map_err(|e| transport_error(format!("{e:?}")))?;
        Ok(HttpResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

type Core = EdgeCore<UpstashHotStore<WasiFetch>, WasiClock>;

thread_local! {
    /// One core per instance: the key cache lives as long as the instance is reused.
    static CORE: OnceCell<Rc<Core>> = const { OnceCell::new() };
}

fn core() -> Result<Rc<Core>, Error> {
    if let Some(c) = CORE.with(|c| c.get().cloned()) {
        return Ok(c);
    }
    let settings = EdgeSettings::from_lookup(|name| std::env::var(name).ok())?;
    let core = Rc::new(settings.upstash_core(WasiFetch, WasiClock));
    CORE.with(|c| {
        let _ = c.set(core.clone());
    });
    Ok(core)
}

async fn to_core(req: SpinRequest) -> Result<Request, Error> {
    let (parts, body) = req.into_parts();
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    // WASI HTTP carries the Host header as the request authority.
    if !headers.iter().any(|(n, _)| n == "host") {
        if let Some(authority) = parts.uri.authority() {
            headers.push(("host".to_owned(), authority.as_str().to_owned()));
        }
    }
    let client_ip = headers
        .iter()
        .find(|(n, _)| n == "spin-client-addr")
        .and_then(|(_, v)| v.rsplit_once(':').map(|(ip, _)| ip.to_owned()));
    let body = body
        .bytes()
        .await
        .map_err(|e| transport_error(format!("reading the request body: {e:?}")))?;
    Ok(Request {
        method: Method::parse(parts.method.as_str()),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body: body.to_vec(),
        client_ip,
    })
}

fn from_core(res: Response) -> http::Response<FullBody<Bytes>> {
    let build = |res: Response| {
        let mut builder = http::Response::builder().status(res.status);
        for (name, value) in &res.headers {
            builder = builder.header(name, value);
        }
        builder.body(FullBody::new(Bytes::from(res.body)))
    };
    build(res).unwrap_or_else(|e| {
        let fallback = Response::error(&Error::internal(format!("bad response: {e}")));
        build(fallback).unwrap_or_default()
    })
}

/// The component's entry point.
#[http_service]
async fn handle(req: SpinRequest) -> http::Response<FullBody<Bytes>> {
    let res = match core() {
        Ok(core) => match to_core(req).await {
            Ok(req) => core.handle(&req).await,
            Err(e) => Response::error(&e),
        },
        Err(e) => Response::error(&e),
    };
    from_core(res)
}
