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
use usso_shared::token::SignatureCheck;
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

    /// `setTimeout` in the request's own context: workerd does not let one request's code wake
    /// another request's task.
    fn pause(&self, ms: u32) -> Option<impl std::future::Future<Output = ()>> {
        Some(worker::Delay::from(std::time::Duration::from_millis(
            u64::from(ms),
        )))
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

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The `node:crypto` module of workerd (`nodejs_compat`), reached at run time through
    /// `process.getBuiltinModule` so that the Worker still loads without the flag.
    type NodeCrypto;
    /// `crypto.createPublicKey({key, format: "der", type: "spki"})`.
    #[wasm_bindgen(method, catch, js_name = createPublicKey)]
    fn create_public_key(this: &NodeCrypto, options: &JsValue) -> Result<JsValue, JsValue>;
    /// `crypto.verify(null, data, key, signature)`: synchronous, on BoringSSL.
    #[wasm_bindgen(method, catch, js_name = verify)]
    fn verify(
        this: &NodeCrypto,
        algorithm: &JsValue,
        data: &[u8],
        key: &JsValue,
        signature: &[u8],
    ) -> Result<bool, JsValue>;
}

/// The SubjectPublicKeyInfo DER of a P-256 key, before its 64 bytes `x || y` (RFC 5480: the
/// `id-ecPublicKey` and `prime256v1` object identifiers, then the uncompressed point's bit string).
const P256_SPKI_PREFIX: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];

/// An ES256 signature (`r || s`, JWS) as the DER `ECDSA-Sig-Value` node:crypto's `verify` reads
/// (workerd's `verify` takes a `KeyObject` only without `dsaEncoding`): two minimal positive
/// INTEGERs in a SEQUENCE.
fn es256_der(sig: &[u8; 64]) -> Vec<u8> {
    let integer = |half: &[u8]| {
        let digits = match half.iter().position(|&b| b != 0) {
            Some(first) => &half[first..],
            None => &half[31..],
        };
        let mut out = vec![0x02];
        if digits[0] & 0x80 != 0 {
            out.push(digits.len() as u8 + 1);
            out.push(0);
        } else {
            out.push(digits.len() as u8);
        }
        out.extend_from_slice(digits);
        out
    };
    let (r, s) = (integer(&sig[..32]), integer(&sig[32..]));
    let mut der = vec![0x30, (r.len() + s.len()) as u8];
    der.extend(r);
    der.extend(s);
    der
}

/// JavaScript values made once per isolate (a string or an object literal would be re-made on
/// every call).
struct Constants {
    /// `{name: "Ed25519"}` (WebCrypto's verify).
    ed25519: js_sys::Object,
    /// `{name: "ECDSA", hash: "SHA-256"}` (WebCrypto's verify).
    ecdsa_verify: js_sys::Object,
    /// `{name: "ECDSA", namedCurve: "P-256"}` (WebCrypto's import).
    ecdsa_import: js_sys::Object,
    /// `"sha256"` (node:crypto's verify).
    sha256: JsValue,
}

fn object(members: &[(&str, &str)]) -> js_sys::Object {
    let o = js_sys::Object::new();
    for (name, value) in members {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(name), &JsValue::from_str(value));
    }
    o
}

/// Which native Ed25519 the isolate offers.
enum Native {
    /// `node:crypto`'s one-shot `verify`: synchronous, no promise per check.
    Node(NodeCrypto),
    /// WebCrypto's `crypto.subtle.verify` (one promise per check).
    Subtle(web_sys::SubtleCrypto),
    /// Neither: the portable equation.
    None,
}

/// Ed25519 and ES256 on the platform's own implementation (BoringSSL in workerd), several times
/// faster than the same arithmetic in WASM: `node:crypto`'s synchronous `verify` where the Worker
/// runs with `nodejs_compat` (wrangler.toml sets it), else WebCrypto. Each public key is
/// imported once per isolate and kept (a `KeyObject` or a `CryptoKey`). Where the platform
/// cannot import a key or check a signature, the portable equation answers instead, so the
/// result never depends on the platform.
#[derive(Default)]
pub struct PlatformSignatures {
    native: OnceCell<Native>,
    constants: OnceCell<Constants>,
    /// Ed25519 keys by their encoding.
    keys: RefCell<HashMap<[u8; 32], JsValue>>,
    /// P-256 keys by their uncompressed point.
    p256_keys: RefCell<HashMap<[u8; 65], JsValue>>,
}

fn get(target: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

impl PlatformSignatures {
    fn native(&self) -> &Native {
        self.native.get_or_init(|| {
            let global: JsValue = js_sys::global().into();
            let node = get(&global, "process").and_then(|process| {
                let load = get(&process, "getBuiltinModule")?
                    .dyn_into::<js_sys::Function>()
                    .ok()?;
                let module = load
                    .call1(&process, &JsValue::from_str("node:crypto"))
                    .ok()?;
                get(&module, "verify")?;
                get(&module, "createPublicKey")?;
                Some(module.unchecked_into::<NodeCrypto>())
            });
            if let Some(node) = node {
                return Native::Node(node);
            }
            get(&global, "crypto")
                .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
                .map_or(Native::None, |c| Native::Subtle(c.subtle()))
        })
    }

    fn constants(&self) -> &Constants {
        self.constants.get_or_init(|| Constants {
            ed25519: object(&[("name", "Ed25519")]),
            ecdsa_verify: object(&[("name", "ECDSA"), ("hash", "SHA-256")]),
            ecdsa_import: object(&[("name", "ECDSA"), ("namedCurve", "P-256")]),
            sha256: JsValue::from_str("sha256"),
        })
    }

    /// Imports an Ed25519 key once as a `KeyObject` (nothing to do when it is already imported).
    fn import_node(&self, node: &NodeCrypto, key: &VerifyingKey) -> Option<()> {
        if !self.keys.borrow().contains_key(key.as_bytes()) {
            let imported = node_spki_key(node, &usso_shared::keys::spki_der(key))?;
            remember(&mut self.keys.borrow_mut(), key.to_bytes(), imported);
        }
        Some(())
    }

    /// Imports an Ed25519 key once as a `CryptoKey`.
    async fn import_subtle(
        &self,
        subtle: &web_sys::SubtleCrypto,
        key: &VerifyingKey,
    ) -> Option<()> {
        if !self.keys.borrow().contains_key(key.as_bytes()) {
            let imported =
                subtle_raw_key(subtle, key.as_bytes(), &self.constants().ed25519).await?;
            remember(&mut self.keys.borrow_mut(), key.to_bytes(), imported);
        }
        Some(())
    }

    /// Imports a P-256 key once as a `KeyObject`.
    fn import_p256_node(&self, node: &NodeCrypto, point: &[u8; 65]) -> Option<()> {
        if !self.p256_keys.borrow().contains_key(point) {
            let mut der = P256_SPKI_PREFIX.to_vec();
            der.extend_from_slice(&point[1..]);
            let imported = node_spki_key(node, &der)?;
            remember(&mut self.p256_keys.borrow_mut(), *point, imported);
        }
        Some(())
    }

    /// Imports a P-256 key once as a `CryptoKey` (the raw uncompressed point).
    async fn import_p256_subtle(
        &self,
        subtle: &web_sys::SubtleCrypto,
        point: &[u8; 65],
    ) -> Option<()> {
        if !self.p256_keys.borrow().contains_key(point) {
            let imported = subtle_raw_key(subtle, point, &self.constants().ecdsa_import).await?;
            remember(&mut self.p256_keys.borrow_mut(), *point, imported);
        }
        Some(())
    }
}

/// `crypto.createPublicKey({key: der, format: "der", type: "spki"})`.
fn node_spki_key(node: &NodeCrypto, der: &[u8]) -> Option<JsValue> {
    let options = js_sys::Object::new();
    for (name, value) in [
        ("key", JsValue::from(js_sys::Uint8Array::from(der))),
        ("format", JsValue::from_str("der")),
        ("type", JsValue::from_str("spki")),
    ] {
        js_sys::Reflect::set(&options, &JsValue::from_str(name), &value).ok()?;
    }
    node.create_public_key(&options).ok()
}

/// `crypto.subtle.importKey("raw", raw, algorithm, false, ["verify"])`.
async fn subtle_raw_key(
    subtle: &web_sys::SubtleCrypto,
    raw: &[u8],
    algorithm: &js_sys::Object,
) -> Option<JsValue> {
    let raw = js_sys::Uint8Array::from(raw);
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise = subtle
        .import_key_with_object("raw", &raw, algorithm, false, &usages)
        .ok()?;
    let imported: web_sys::CryptoKey = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    Some(imported.into())
}

/// Keeps an imported key; a full map is cleared first (a flood of keys cannot grow it).
fn remember<K: std::hash::Hash + Eq>(keys: &mut HashMap<K, JsValue>, k: K, imported: JsValue) {
    if keys.len() >= MAX_IMPORTED_KEYS {
        keys.clear();
    }
    keys.insert(k, imported);
}

impl SignatureCheck for PlatformSignatures {
    async fn es256(
        &self,
        key: &usso_shared::p256::ecdsa::VerifyingKey,
        message: &[u8],
        sig: &[u8; 64],
    ) -> bool {
        let portable = || usso_shared::client_key::es256(key, message, sig);
        let Ok(point) = <[u8; 65]>::try_from(key.to_encoded_point(false).as_bytes()) else {
            return portable();
        };
        match self.native() {
            Native::Node(node) => {
                if self.import_p256_node(node, &point).is_none() {
                    return portable();
                }
                let keys = self.p256_keys.borrow();
                let Some(imported) = keys.get(&point) else {
                    return portable();
                };
                // A platform that cannot answer (it throws) leaves the answer to the portable
                // arithmetic: never a refusal the other runtimes would not give.
                node.verify(&self.constants().sha256, message, imported, &es256_der(sig))
                    .unwrap_or_else(|_| portable())
            }
            Native::Subtle(subtle) => {
                if self.import_p256_subtle(subtle, &point).await.is_none() {
                    return portable();
                }
                let promise = {
                    let keys = self.p256_keys.borrow();
                    let Some(imported) = keys.get(&point) else {
                        return portable();
                    };
                    subtle.verify_with_object_and_u8_array_and_u8_array(
                        &self.constants().ecdsa_verify,
                        imported.unchecked_ref(),
                        sig,
                        message,
                    )
                };
                match promise {
                    Ok(promise) => match JsFuture::from(promise).await {
                        Ok(v) => v.as_bool() == Some(true),
                        Err(_) => portable(),
                    },
                    Err(_) => portable(),
                }
            }
            Native::None => portable(),
        }
    }

    async fn ed25519(&self, key: &VerifyingKey, message: &[u8], sig: &[u8; 64]) -> bool {
        let portable = || usso_shared::ed25519::verify(key, message, sig);
        match self.native() {
            Native::Node(node) => {
                if self.import_node(node, key).is_none() {
                    return portable();
                }
                let keys = self.keys.borrow();
                let Some(imported) = keys.get(key.as_bytes()) else {
                    return portable();
                };
                node.verify(&JsValue::NULL, message, imported, sig)
                    .unwrap_or(false)
            }
            Native::Subtle(subtle) => {
                if self.import_subtle(subtle, key).await.is_none() {
                    return portable();
                }
                // The call itself is synchronous (it returns a promise): the borrow ends before
                // the await.
                let promise = {
                    let keys = self.keys.borrow();
                    let Some(imported) = keys.get(key.as_bytes()) else {
                        return portable();
                    };
                    subtle.verify_with_object_and_u8_array_and_u8_array(
                        &self.constants().ed25519,
                        imported.unchecked_ref(),
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
            Native::None => portable(),
        }
    }
}

type Core = EdgeCore<UpstashHotStore<WorkerFetch>, WorkerClock, PlatformSignatures>;

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
    let core = Rc::new(settings.upstash_core_with(
        WorkerFetch,
        WorkerClock,
        PlatformSignatures::default(),
    ));
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
