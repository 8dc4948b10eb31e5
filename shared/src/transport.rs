//! The small HTTP transport the store clients (Upstash Redis REST, MongoDB Data API) are
//! written against. Runtimes plug in their own: reqwest natively (feature `native`),
//! `worker::Fetch` on Workers, the Spin SDK's outbound HTTP on Spin.
//!
//! On WASM the futures are not `Send` (single-threaded runtimes); natively they are, so the
//! clients can run on a multi-threaded executor.

use core::future::Future;

use crate::error::{Error, Result};

/// `Send` natively, nothing on WASM.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` natively, nothing on WASM.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` natively, nothing on WASM.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
/// `Sync` natively, nothing on WASM.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// HTTP methods the clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
}

impl Method {
    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// An outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Header name/value pairs.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A POST with a JSON body.
    pub fn post_json(url: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            method: Method::Post,
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A received response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header name/value pairs (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP request. Network failures and timeouts are `service_unavailable` errors; an
/// HTTP error status is not an error at this level.
pub trait HttpTransport: MaybeSync {
    /// Sends `request` and waits for the whole response.
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse>> + MaybeSend;
}

impl<T: HttpTransport + ?Sized> HttpTransport for &T {
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse>> + MaybeSend {
        (**self).send(request)
    }
}

/// A transport error, for adapters.
pub fn transport_error(detail: impl core::fmt::Display) -> Error {
    Error::unavailable(format!("HTTP transport: {detail}"))
}

/// The native transport: reqwest with rustls, connection pooling and a whole-request timeout.
#[cfg(feature = "native")]
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

#[cfg(feature = "native")]
impl ReqwestTransport {
    /// A transport whose requests time out after `timeout`.
    pub fn new(timeout: std::time::Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(transport_error)?;
        Ok(Self { client })
    }
}

#[cfg(feature = "native")]
impl HttpTransport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse>> + MaybeSend {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let builder = builder.body(request.body);
        async move {
            let response = builder.send().await.map_err(transport_error)?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response.bytes().await.map_err(transport_error)?.to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        }
    }
}

#[cfg(all(test, feature = "native"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-shot HTTP/1.1 server on loopback that answers 201 with a fixed body and hands
    /// back the raw request it read.
    fn one_shot_server() -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/pipeline", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                let n = conn.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let body = br#"[{"result":"PONG"}]"#;
            let head = format!(
                "HTTP/1.1 201 Created\r\nx-test: yes\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(body).unwrap();
            String::from_utf8(buf).unwrap()
        });
        (url, handle)
    }

    #[tokio::test]
    async fn reqwest_transport_round_trip() {
        let (url, server) = one_shot_server();
        let t = ReqwestTransport::new(std::time::Duration::from_secs(5)).unwrap();
        let resp = t
            .send(
                HttpRequest::post_json(url, br#"[["PING"]]"#.to_vec())
                    .header("authorization", "Bearer t"),
            )
            .await
            .unwrap();
        assert_eq!(resp.status, 201);
        assert_eq!(resp.header("X-Test"), Some("yes"));
        assert_eq!(resp.body, br#"[{"result":"PONG"}]"#);
        let raw = server.join().unwrap();
        assert!(raw.starts_with("POST /pipeline HTTP/1.1"));
        assert!(raw.contains("authorization: Bearer t"));
        assert!(raw.ends_with(r#"[["PING"]]"#));
    }

    #[tokio::test]
    async fn unreachable_host_is_service_unavailable() {
        // Bind then drop to get a loopback port with nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = ReqwestTransport::new(std::time::Duration::from_secs(5)).unwrap();
        let err = t
            .send(HttpRequest::post_json(
                format!("http://127.0.0.1:{port}/"),
                vec![],
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::ServiceUnavailable);
    }
}
