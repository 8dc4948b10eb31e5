//! The Cloudflare Workers adapter: translates `worker::Request` to the edge core's request and
//! back, and supplies the platform's capabilities (a `worker::Fetch` transport for the Upstash
//! REST hot store, a clock from `Date.now()`). No logic of its own.
//!
//! Configuration: wrangler.toml `[vars]` and secrets, with the names of
//! [`usso_edge::settings`] (the same on every platform).

#![cfg(target_arch = "wasm32")]

use std::cell::OnceCell;
use std::rc::Rc;

use usso_edge::http::{Method, Request, Response};
use usso_edge::upstash_store::UpstashHotStore;
use usso_edge::{EdgeCore, EdgeSettings};
use usso_shared::clock::Clock;
use usso_shared::transport::{transport_error, HttpRequest, HttpResponse, HttpTransport};
use usso_shared::Error;
use worker::{event, Context, Env, Fetch, Headers, RequestInit};

/// `Date.now()` in seconds.
#[derive(Debug, Clone, Copy)]
pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now(&self) -> i64 {
        (worker::Date::now().as_millis() / 1000) as i64
    }
}

/// Outbound HTTP through `worker::Fetch`.
#[derive(Debug, Clone, Copy)]
pub struct WorkerFetch;

impl HttpTransport for WorkerFetch {
    async fn send(&self, request: HttpRequest) -> usso_shared::Result<HttpResponse> {
        let headers = Headers::new();
        for (n, v) in &request.headers {
            headers.set(n, v).map_err(transport_error)?;
        }
        let mut init = RequestInit::new();
        init.with_method(worker::Method::from(request.method.as_str().to_owned()))
            .with_headers(headers);
        if !request.body.is_empty() {
            init.with_body(Some(
                worker::js_sys::Uint8Array::from(request.body.as_slice()).into(),
            ));
        }
        let req = worker::Request::new_with_init(&request.url, &init).map_err(transport_error)?;
        let mut res = Fetch::Request(req).send().await.map_err(transport_error)?;
        let body = res.bytes().await.map_err(transport_error)?;
        Ok(HttpResponse {
            status: res.status_code(),
            headers: res.headers().entries().collect(),
            body,
        })
    }
}

type Core = EdgeCore<UpstashHotStore<WorkerFetch>, WorkerClock>;

thread_local! {
    /// One core per isolate: the key cache lives as long as the isolate.
    static CORE: OnceCell<Rc<Core>> = const { OnceCell::new() };
}

/// A `[vars]` value or a secret, by name.
fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

fn core(env: &Env) -> Result<Rc<Core>, Error> {
    if let Some(c) = CORE.with(|c| c.get().cloned()) {
        return Ok(c);
    }
    let settings = EdgeSettings::from_lookup(|name| lookup(env, name))?;
    let core = Rc::new(settings.upstash_core(WorkerFetch, WorkerClock));
    CORE.with(|c| {
        let _ = c.set(core.clone());
    });
    Ok(core)
}

async fn to_core(mut req: worker::Request) -> worker::Result<Request> {
    let url = req.url()?;
    Ok(Request {
        method: Method::parse(req.method().as_ref()),
        path: url.path().to_owned(),
        query: url.query().map(str::to_owned),
        headers: req.headers().entries().collect(),
        body: req.bytes().await.unwrap_or_default(),
        client_ip: req.headers().get("cf-connecting-ip").ok().flatten(),
    })
}

fn from_core(res: Response) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (n, v) in &res.headers {
        headers.append(n, v)?;
    }
    Ok(worker::Response::from_bytes(res.body)?
        .with_status(res.status)
        .with_headers(headers))
}

/// The Worker's entry point.
#[event(fetch)]
pub async fn fetch(
    req: worker::Request,
    env: Env,
    _ctx: Context,
) -> worker::Result<worker::Response> {
    let res = match core(&env) {
        Ok(core) => core.handle(&to_core(req).await?).await,
        Err(e) => Response::error(&e),
    };
    from_core(res)
}
