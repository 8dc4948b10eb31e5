//! The core's own request and response types: adapters translate their platform's types into
//! these and back, so all routing and validation lives here where native tests reach it.

use serde::Serialize;
use usso_shared::{Error, ErrorCode};

/// Largest request body the core accepts (adapters should stop reading beyond it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// HTTP method, as far as the core cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (and HEAD, which adapters map to GET).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// Any other method.
    Other,
}

impl Method {
    /// From the method name.
    pub fn parse(name: &str) -> Self {
        match name {
            "GET" | "HEAD" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            _ => Self::Other,
        }
    }

    /// The method's name, as a DPoP proof's `htm` names it (`OTHER` for the rest, e.g.
    /// `OPTIONS`: a proof never names it, so a key-bound token is not accepted on such
    /// requests).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Other => "OTHER",
        }
    }
}

/// A request as the core sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path without the query, e.g. `/api/sso/v1/auth/refresh`.
    pub path: String,
    /// Raw query string without `?`, if any.
    pub query: Option<String>,
    /// Headers (names compared case-insensitively).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The client address as the adapter knows it.
    pub client_ip: Option<String>,
}

impl Request {
    /// A bodiless request (tests, GETs).
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path_and_query.to_owned(), None),
        };
        Self {
            method,
            path,
            query,
            headers: Vec::new(),
            body: Vec::new(),
            client_ip: None,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets a JSON body.
    pub fn with_json(mut self, body: &serde_json::Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self
    }

    /// The first header of that name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter (percent-decoded; `+` is a space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k).as_deref() == Some(name)).then(|| percent_decode(v))?
        })
    }

    /// A field of an `application/x-www-form-urlencoded` body (percent-decoded).
    pub fn form_field(&self, name: &str) -> Option<String> {
        let body = std::str::from_utf8(&self.body).ok()?;
        body.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k).as_deref() == Some(name)).then(|| percent_decode(v))?
        })
    }

    /// A cookie value from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .find_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                (k == name && !v.is_empty()).then_some(v)
            })
    }

    /// The bearer token of the `Authorization` header, if any.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The token of an `Authorization: DPoP <token>` header (RFC 9449 §7.1).
    pub fn dpop_token(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("dpop")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// Whether `Content-Type` is `application/json` or a `+json` type (parameters ignored).
    pub fn is_json(&self) -> bool {
        self.header("content-type").is_some_and(|v| {
            let media = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            media == "application/json"
                || (media.starts_with("application/") && media.ends_with("+json"))
        })
    }

    /// The body parsed as JSON of type `T`; an empty body reads as `{}`. Malformed JSON is
    /// `bad_request` (400); well-formed JSON of the wrong shape is `validation_error` (422).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                "request body too large",
            ));
        }
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            // A JSON body must say so: a browser form or `text/plain` body (which a page of
            // another site can send without a preflight) is never read as JSON (login CSRF).
            if !self.is_json() {
                return Err(Error::bad_request(
                    "send the body as JSON (Content-Type: application/json)",
                ));
            }
            &self.body
        };
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::bad_request(format!("malformed JSON body: {e}")))?;
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let detail = if path == "." {
                format!("invalid body: {}", e.inner())
            } else {
                format!("{path}: {}", e.inner())
            };
            Error::new(ErrorCode::ValidationError, detail)
        })
    }
}

/// Decodes `%XX` escapes and `+`; `None` if the result is not UTF-8 or an escape is broken.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = core::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A response from the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers; `set-cookie` may repeat.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            },
            Err(e) => Self::error(&Error::internal(format!("response encoding failed: {e}"))),
        }
    }

    /// The USSO error body with the error's status (and `Retry-After` when it has one).
    pub fn error(err: &Error) -> Self {
        let mut headers = vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
        ];
        if let Some(secs) = err.retry_after() {
            headers.push(("retry-after".into(), secs.to_string()));
        }
        if let Some(nonce) = err.dpop_nonce() {
            headers.push(("dpop-nonce".into(), nonce.into()));
        }
        if err.code() == ErrorCode::UseDpopNonce {
            headers.push((
                "www-authenticate".into(),
                usso_shared::dpop::challenge(ErrorCode::UseDpopNonce),
            ));
        } else if err.status() == 401 {
            headers.push(("www-authenticate".into(), "Bearer".into()));
        }
        Self {
            status: err.status(),
            headers,
            body: err.to_json().into_bytes(),
        }
    }

    /// `204 No Content`.
    pub fn no_content() -> Self {
        Self {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The first header of that name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (tests and adapters).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl From<Error> for Response {
    fn from(err: Error) -> Self {
        Self::error(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_queries_and_bearer() {
        let r = Request::new(
            Method::Get,
            "/x?domain=sso.example.com%3A8443&a=b+c&bad=%zz",
        )
        .with_header("Cookie", "a=1; usso-refresh-token=abc.def.ghi; b=")
        .with_header("authorization", "bearer  tok ");
        assert_eq!(
            r.query_param("domain").as_deref(),
            Some("sso.example.com:8443")
        );
        assert_eq!(r.query_param("a").as_deref(), Some("b c"));
        assert_eq!(r.query_param("bad"), None);
        assert_eq!(r.cookie("usso-refresh-token"), Some("abc.def.ghi"));
        assert_eq!(r.cookie("b"), None);
        assert_eq!(r.bearer(), Some("tok"));
    }

    #[test]
    fn json_errors_are_classified() {
        #[derive(serde::Deserialize, Debug)]
        struct B {
            #[allow(dead_code)]
            token: String,
        }
        let mut r = Request::new(Method::Post, "/");
        r.body = br#"{"token": "t"}"#.to_vec();
        assert_eq!(
            r.json::<B>().unwrap_err().code(),
            ErrorCode::BadRequest,
            "a body that does not say it is JSON"
        );
        let mut r = r.with_header("content-type", "application/json; charset=utf-8");
        assert!(r.json::<B>().is_ok());
        r.body = b"{not json".to_vec();
        assert_eq!(r.json::<B>().unwrap_err().code(), ErrorCode::BadRequest);
        r.body = br#"{"token": 5}"#.to_vec();
        assert_eq!(
            r.json::<B>().unwrap_err().code(),
            ErrorCode::ValidationError
        );
        r.body = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            r.json::<B>().unwrap_err().code(),
            ErrorCode::PayloadTooLarge
        );
    }
}
