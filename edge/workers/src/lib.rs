//! The Cloudflare Workers adapter: translates `worker::Request` to the edge core's request and
//! back, and supplies the platform's capabilities (a `worker::Fetch` transport for the Upstash
//! REST hot store, a clock from `Date.now()`, the platform's native Ed25519 through WebCrypto).
//! No logic of its own: the byte-level half of the Ed25519 rule and every claim rule run in the
//! shared core (`usso_shared::ed25519`), so WebCrypto only computes the equation.
//!
//! Configuration: wrangler.toml `[vars]` and secrets, with the names of
//! [`usso_edge::settings`] (the same on every platform).

#![cfg(target_arch = "wasm32")]

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use usso_shared::ed25519_dalek::VerifyingKey;
use usso_shared::token::Ed25519Check;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

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

/// Most public keys kept imported (a tenant has a handful; a flood of tenants cannot grow it
/// past this: the map is cleared when full).
const MAX_IMPORTED_KEYS: usize = 256;

/// Ed25519 on the platform's WebCrypto (BoringSSL in workerd), several times faster than the
/// same arithmetic in WASM. Each public key is imported once per isolate and kept as a
/// `CryptoKey`. Where the platform has no Ed25519 (an import fails), the portable
/// `ed25519-dalek` equation answers instead, so the result never depends on the platform.
#[derive(Default)]
pub struct WebCryptoEd25519 {
    subtle: OnceCell<Option<web_sys::SubtleCrypto>>,
    /// `{name: "Ed25519"}`, made once (a string would be re-decoded on every call).
    algorithm: OnceCell<js_sys::Object>,
    keys: RefCell<HashMap<[u8; 32], web_sys::CryptoKey>>,
}

impl WebCryptoEd25519 {
    fn subtle(&self) -> Option<&web_sys::SubtleCrypto> {
        self.subtle
            .get_or_init(|| {
                let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
                    .ok()?
                    .dyn_into::<web_sys::Crypto>()
                    .ok()?;
                Some(crypto.subtle())
            })
            .as_ref()
    }

    fn algorithm(&self) -> &js_sys::Object {
        self.algorithm.get_or_init(|| {
            let o = js_sys::Object::new();
            let name = JsValue::from_str("Ed25519");
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str("name"), &name);
            o
        })
    }

    /// Imports a public key once (nothing to do when it is already imported).
    async fn import(&self, subtle: &web_sys::SubtleCrypto, key: &VerifyingKey) -> Option<()> {
        let bytes = key.to_bytes();
        if self.keys.borrow().contains_key(&bytes) {
            return Some(());
        }
        let raw = js_sys::Uint8Array::from(&bytes[..]);
        let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
        let promise = subtle
            .import_key_with_str("raw", &raw, "Ed25519", false, &usages)
            .ok()?;
        let imported: web_sys::CryptoKey = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_IMPORTED_KEYS {
            keys.clear();
        }
        keys.insert(bytes, imported);
        Some(())
    }
}

impl Ed25519Check for WebCryptoEd25519 {
    async fn check(&self, key: &VerifyingKey, message: &[u8], sig: &[u8; 64]) -> bool {
        let Some(subtle) = self.subtle() else {
            return usso_shared::ed25519::verify(key, message, sig);
        };
        if self.import(subtle, key).await.is_none() {
            return usso_shared::ed25519::verify(key, message, sig);
        }
        // The call itself is synchronous (it returns a promise): the borrow ends before the
        // await.
        let promise = {
            let keys = self.keys.borrow();
            let Some(crypto_key) = keys.get(key.as_bytes()) else {
                return usso_shared::ed25519::verify(key, message, sig);
            };
            subtle.verify_with_object_and_u8_array_and_u8_array(
                self.algorithm(),
                crypto_key,
                sig,
                message,
            )
        };
        match promise {
            Ok(promise) => JsFuture::from(promise)
                .await
                .is_ok_and(|v| v.as_bool() == Some(true)),
            Err(_) => false,
        }
    }
}

type Core = EdgeCore<UpstashHotStore<WorkerFetch>, WorkerClock, WebCryptoEd25519>;

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
    let core =
        Rc::new(settings.upstash_core_with(WorkerFetch, WorkerClock, WebCryptoEd25519::default()));
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
