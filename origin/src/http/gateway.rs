//! An Upstash-compatible REST gateway in front of a self-hosted Redis, so that the edge
//! (Workers, Spin), which can only speak HTTP, can reach it.
//!
//! `POST /redis` with a JSON command array, `POST /redis/pipeline` and `POST /redis/multi-exec`
//! with an array of commands, `Authorization: Bearer USSO_GATEWAY_TOKEN`; answers are Upstash's
//! `{"result": …}` / `{"error": "…"}` shapes, so the official Upstash clients work unmodified.
//! Confinement: only an allow-list of commands, every key must start with the configured prefix
//! (default `usso:`), and `EVAL`/`EVALSHA` only run the service's own scripts (a script can
//! reach any key, so arbitrary scripts would break the prefix rule).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use usso_edge::redis_session::SCRIPTS;

use crate::store::redis::{to_json_as, NativeRedis};
use usso_shared::{Error, ErrorCode, Result};

/// The gateway's state.
pub struct Gateway {
    conn: NativeRedis,
    token: String,
    prefix: String,
    scripts: Vec<String>,
    /// Failed authentications per client address in the current window (bounded).
    failures:
        std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (u32, std::time::Instant)>>,
}

/// Failed authentications allowed per client address per [`FAILURE_WINDOW`]; then 429.
pub const MAX_AUTH_FAILURES: u32 = 20;
/// The window of [`MAX_AUTH_FAILURES`].
pub const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// Addresses remembered at most (the map is cleared beyond it).
const MAX_TRACKED: usize = 10_000;

/// A conservative estimate of a token's strength in bits: its length times the bits per
/// character of the smallest alphabet it fits (hex 4, alphanumeric 5.95, base64url 6, printable
/// ASCII 6.55), and nothing for a token of fewer than 8 distinct characters.
pub fn token_bits(token: &str) -> f64 {
    let mut distinct: Vec<char> = token.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 {
        return 0.0;
    }
    let per_char = if token.chars().all(|c| c.is_ascii_hexdigit()) {
        4.0
    } else if token.chars().all(|c| c.is_ascii_alphanumeric()) {
        5.95
    } else if token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        6.0
    } else {
        6.55
    };
    token.chars().count() as f64 * per_char
}

/// Commands the gateway runs, and where their keys are.
enum Keys {
    None,
    First,
    All,
    Eval,
}

fn command_keys(name: &str) -> Option<Keys> {
    Some(match name {
        "PING" | "SCRIPT" => Keys::None,
        "GET" | "SET" | "SETEX" | "PSETEX" | "GETDEL" | "HGET" | "HGETALL" | "HMGET" | "HSET"
        | "HDEL" | "HEXISTS" | "EXPIRE" | "EXPIREAT" | "PEXPIRE" | "PEXPIREAT" | "TTL" | "PTTL"
        | "INCR" | "INCRBY" | "DECR" | "SADD" | "SREM" | "SMEMBERS" | "SCARD" | "TYPE" => {
            Keys::First
        }
        "MGET" | "DEL" | "EXISTS" | "UNLINK" => Keys::All,
        "EVAL" | "EVALSHA" => Keys::Eval,
        _ => return None,
    })
}

impl Gateway {
    /// Connects to `redis_url` (reconnecting by itself later) with the token clients must send.
    pub async fn connect(redis_url: &str, token: &str, prefix: &str) -> Result<Self> {
        if token_bits(token) < 128.0 {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                "USSO_GATEWAY_TOKEN must carry at least 128 bits (e.g. 32 hex digits or 22 random base64url characters: openssl rand -hex 32)",
            ));
        }
        let conn = NativeRedis::connect(redis_url).await?;
        let scripts = SCRIPTS
            .iter()
            .map(|s| redis::Script::new(s).get_hash().to_owned())
            .collect();
        Ok(Self {
            conn,
            token: token.to_owned(),
            prefix: prefix.to_owned(),
            scripts,
            failures: Default::default(),
        })
    }

    /// The gateway's routes (mounted under `/redis`).
    pub fn routes<S>(self: Arc<Self>) -> Router<S> {
        Router::new()
            .route("/redis", post(single))
            .route("/redis/", post(single))
            .route("/redis/pipeline", post(pipeline))
            .route("/redis/multi-exec", post(multi_exec))
            .with_state(self)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        presented.len() == self.token.len()
            && bool::from(presented.as_bytes().ct_eq(self.token.as_bytes()))
    }

    /// Checks one command against the allow-list and the key prefix.
    fn check(&self, cmd: &[String]) -> std::result::Result<(), String> {
        let name = cmd
            .first()
            .map(|s| s.to_ascii_uppercase())
            .ok_or("empty command")?;
        let args = &cmd[1..];
        let keys: Vec<&String> = match command_keys(&name)
            .ok_or_else(|| format!("ERR command {name} is not allowed"))?
        {
            Keys::None => Vec::new(),
            Keys::First => args.first().into_iter().collect(),
            Keys::All => args.iter().collect(),
            Keys::Eval => {
                let script = args.first().ok_or("ERR wrong number of arguments")?;
                let sha = if name == "EVAL" {
                    redis::Script::new(script).get_hash().to_owned()
                } else {
                    script.to_ascii_lowercase()
                };
                if !self.scripts.contains(&sha) {
                    return Err("ERR only the service's own scripts may run".into());
                }
                let n: usize = args
                    .get(1)
                    .and_then(|n| n.parse().ok())
                    .ok_or("ERR numkeys is not a number")?;
                args.get(2..2 + n)
                    .ok_or("ERR not enough keys")?
                    .iter()
                    .collect()
            }
        };
        if name == "SCRIPT"
            && !matches!(
                args.first().map(|s| s.to_ascii_uppercase()).as_deref(),
                Some("LOAD" | "EXISTS")
            )
        {
            return Err("ERR only SCRIPT LOAD and SCRIPT EXISTS are allowed".into());
        }
        if name == "SCRIPT" && args.first().is_some_and(|a| a.eq_ignore_ascii_case("LOAD")) {
            let sha = args
                .get(1)
                .map(|s| redis::Script::new(s).get_hash().to_owned());
            if !sha.is_some_and(|s| self.scripts.contains(&s)) {
                return Err("ERR only the service's own scripts may be loaded".into());
            }
        }
        match keys.iter().find(|k| !k.starts_with(&self.prefix)) {
            Some(k) => Err(format!(
                "ERR key `{}` is outside the allowed prefix",
                k.chars().take(64).collect::<String>()
            )),
            None => Ok(()),
        }
    }

    async fn run(&self, cmd: &[String], base64: bool) -> Value {
        if let Err(e) = self.check(cmd) {
            return json!({ "error": e });
        }
        match self.conn.raw(cmd).await {
            Ok(v) => json!({ "result": to_json_as(v, base64) }),
            Err(e) => json!({ "error": e.to_string() }),
        }
    }
}

fn parse_command(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|a| match a {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .filter(|c| !c.is_empty())
}

/// Whether the client asked for base64-encoded strings (`Upstash-Encoding: base64`).
fn wants_base64(headers: &HeaderMap) -> bool {
    headers
        .get("upstash-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"base64"))
}

fn reject(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

/// A request body, or why axum could not read it (too large, unreadable).
type BodyOrRejection = std::result::Result<Bytes, axum::extract::rejection::BytesRejection>;

/// The authenticated JSON body, or why not (status and message). Failed authentications are
/// counted per client address: past [`MAX_AUTH_FAILURES`] in [`FAILURE_WINDOW`], 429 without
/// comparing the token at all.
fn parse_body(
    gw: &Gateway,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: &HeaderMap,
    body: BodyOrRejection,
) -> std::result::Result<Value, (StatusCode, &'static str)> {
    // In the gateway's (Upstash's) JSON error shape, never axum's plain text.
    let body = body.map_err(|e| (e.status(), "ERR request body too large or unreadable"))?;
    let ip = peer.ip();
    let now = std::time::Instant::now();
    {
        let failures = gw.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, since)) = failures.get(&ip) {
            if *n >= MAX_AUTH_FAILURES && now.duration_since(*since) < FAILURE_WINDOW {
                return Err((
                    StatusCode::TOO_MANY_REQUESTS,
                    "ERR too many failed authentications",
                ));
            }
        }
    }
    if !gw.authorized(headers) {
        let mut failures = gw.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.clear();
        }
        let entry = failures.entry(ip).or_insert((0, now));
        if now.duration_since(entry.1) >= FAILURE_WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
        return Err((StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    serde_json::from_slice(&body).map_err(|_| (StatusCode::BAD_REQUEST, "ERR malformed JSON body"))
}

async fn single(
    State(gw): State<Arc<Gateway>>,
    peer: ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: BodyOrRejection,
) -> Response {
    let v = match parse_body(&gw, peer, &headers, body) {
        Ok(v) => v,
        Err((status, msg)) => return reject(status, msg),
    };
    let Some(cmd) = parse_command(&v) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "ERR a command is a non-empty array of strings",
        );
    };
    let out = gw.run(&cmd, wants_base64(&headers)).await;
    let status = if out.get("error").is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, Json(out)).into_response()
}

fn commands(v: &Value) -> Option<Vec<Vec<String>>> {
    v.as_array()?.iter().map(parse_command).collect()
}

async fn pipeline(
    State(gw): State<Arc<Gateway>>,
    peer: ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: BodyOrRejection,
) -> Response {
    let v = match parse_body(&gw, peer, &headers, body) {
        Ok(v) => v,
        Err((status, msg)) => return reject(status, msg),
    };
    let Some(cmds) = commands(&v) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "ERR a pipeline is an array of commands",
        );
    };
    let mut out = Vec::with_capacity(cmds.len());
    for c in &cmds {
        out.push(gw.run(c, wants_base64(&headers)).await);
    }
    Json(Value::Array(out)).into_response()
}

async fn multi_exec(
    State(gw): State<Arc<Gateway>>,
    peer: ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: BodyOrRejection,
) -> Response {
    let v = match parse_body(&gw, peer, &headers, body) {
        Ok(v) => v,
        Err((status, msg)) => return reject(status, msg),
    };
    let Some(cmds) = commands(&v) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "ERR a transaction is an array of commands",
        );
    };
    if let Some(e) = cmds.iter().find_map(|c| gw.check(c).err()) {
        return reject(StatusCode::BAD_REQUEST, &e);
    }
    let mut pipe = redis::pipe();
    pipe.atomic();
    for c in &cmds {
        let mut cmd = redis::cmd(&c[0]);
        for a in &c[1..] {
            cmd.arg(a);
        }
        pipe.add_command(cmd);
    }
    let mut conn = gw.conn.0.clone();
    match pipe.query_async::<Vec<redis::Value>>(&mut conn).await {
        Ok(values) => Json(Value::Array(
            values
                .into_iter()
                .map(|v| json!({ "result": to_json_as(v, wants_base64(&headers)) }))
                .collect(),
        ))
        .into_response(),
        Err(e) => reject(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[cfg(test)]
mod strength_tests {
    use super::token_bits;

    #[test]
    fn tokens_under_128_bits_are_refused() {
        for weak in [
            "0123456789abcdef",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "passwordpassword",
            "0123456789abcdef0123456789abcde",
        ] {
            assert!(token_bits(weak) < 128.0, "{weak}");
        }
        for strong in [
            "0123456789abcdef0123456789abcdef",
            "gateway-token-for-tests-0123456789",
            "Zx8_k2Lm9-QpRt4vWy7bCd",
        ] {
            assert!(token_bits(strong) >= 128.0, "{strong}");
        }
    }
}
