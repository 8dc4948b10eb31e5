//! A client for the Upstash Redis REST protocol, written over [`HttpTransport`] so that it runs
//! natively (reqwest), on Workers (`worker::Fetch`) and on Spin (outbound HTTP).
//!
//! Protocol: `POST {base}` with a JSON array command (`["GET","k"]`) answers `{"result": …}` or
//! `{"error": "…"}`; `POST {base}/pipeline` with an array of commands answers an array of such
//! objects; `Authorization: Bearer {token}`. Works against Upstash itself and against the
//! origin's Upstash-compatible gateway in front of a self-hosted Redis.

use serde_json::Value;

use crate::transport::{HttpRequest, HttpTransport};
use crate::{Error, ErrorCode, Result};

/// An Upstash REST client.
#[derive(Debug, Clone)]
pub struct Upstash<T> {
    base: String,
    token: String,
    transport: T,
}

/// One command: its arguments as strings.
pub type Command = Vec<String>;

impl<T: HttpTransport> Upstash<T> {
    /// A client for `base_url` (e.g. `https://eu1-xyz.upstash.io`) with a REST token.
    pub fn new(base_url: &str, token: &str, transport: T) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            transport,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let req = HttpRequest::post_json(
            format!("{}{path}", self.base),
            body.to_string().into_bytes(),
        )
        .header("authorization", format!("Bearer {}", self.token));
        let res = self.transport.send(req).await?;
        match res.status {
            401 | 403 => {
                return Err(Error::new(
                    ErrorCode::ConfigurationError,
                    "the hot store rejected the REST token",
                ))
            }
            s if s >= 500 => {
                return Err(Error::unavailable(format!("hot store answered HTTP {s}")));
            }
            _ => {}
        }
        serde_json::from_slice(&res.body).map_err(|e| {
            Error::unavailable(format!(
                "hot store sent malformed JSON (HTTP {}): {e}",
                res.status
            ))
        })
    }

    /// Runs one command; a Redis error is `service_unavailable` with Redis's message.
    pub async fn command(&self, args: &[&str]) -> Result<Value> {
        let body = Value::from(args.iter().map(|a| Value::from(*a)).collect::<Vec<_>>());
        result_of(self.post("", &body).await?)
    }

    /// Runs several commands in one round trip (not atomic); one result per command.
    pub async fn pipeline(&self, commands: &[Command]) -> Result<Vec<Result<Value>>> {
        let body = Value::from(
            commands
                .iter()
                .map(|c| {
                    Value::from(
                        c.iter()
                            .map(|a| Value::from(a.as_str()))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>(),
        );
        match self.post("/pipeline", &body).await? {
            Value::Array(items) if items.len() == commands.len() => {
                Ok(items.into_iter().map(result_of).collect())
            }
            other => Err(Error::unavailable(format!(
                "hot store pipeline answer has the wrong shape: {}",
                short(&other)
            ))),
        }
    }

    /// Runs a Lua script (`EVAL`) in one round trip.
    pub async fn eval(&self, script: &str, keys: &[&str], args: &[&str]) -> Result<Value> {
        let n = keys.len().to_string();
        let mut cmd: Vec<&str> = vec!["EVAL", script, &n];
        cmd.extend_from_slice(keys);
        cmd.extend_from_slice(args);
        self.command(&cmd).await
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(120).collect()
}

/// `{"result": x}` → `x`; `{"error": m}` → an error; anything else is malformed.
fn result_of(v: Value) -> Result<Value> {
    match v {
        Value::Object(mut o) => {
            if let Some(e) = o.remove("error") {
                let msg = e.as_str().map_or_else(|| e.to_string(), str::to_owned);
                return Err(Error::unavailable(format!("hot store error: {msg}")));
            }
            o.remove("result")
                .ok_or_else(|| Error::unavailable("hot store answer has no result"))
        }
        other => Err(Error::unavailable(format!(
            "hot store answer is not an object: {}",
            short(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_errors() {
        assert_eq!(
            result_of(serde_json::json!({"result": "OK"})).unwrap(),
            Value::from("OK")
        );
        assert_eq!(
            result_of(serde_json::json!({"result": null})).unwrap(),
            Value::Null
        );
        let e =
            result_of(serde_json::json!({"error": "ERR wrong number of arguments"})).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ServiceUnavailable);
        assert!(e.detail().contains("wrong number"));
        assert!(result_of(serde_json::json!([1])).is_err());
        assert!(result_of(serde_json::json!({})).is_err());
    }
}
