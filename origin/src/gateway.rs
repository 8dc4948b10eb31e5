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
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use usso_edge::redis_session::SCRIPTS;

use crate::redis_native::{to_json_as, NativeRedis};
use usso_shared::{Error, ErrorCode, Result};

/// The gateway's state.
pub struct Gateway {
    conn: NativeRedis,
    token: String,
    prefix: String,
    scripts: Vec<String>,
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
        if token.len() < 16 {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                "USSO_GATEWAY_TOKEN must be at least 16 characters",
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

/// The authenticated JSON body, or why not (status and message).
fn parse_body(
    gw: &Gateway,
    headers: &HeaderMap,
    body: &Bytes,
) -> std::result::Result<Value, (StatusCode, &'static str)> {
    if !gw.authorized(headers) {
        return Err((StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    serde_json::from_slice(body).map_err(|_| (StatusCode::BAD_REQUEST, "ERR malformed JSON body"))
}

async fn single(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let v = match parse_body(&gw, &headers, &body) {
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

async fn pipeline(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let v = match parse_body(&gw, &headers, &body) {
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

async fn multi_exec(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let v = match parse_body(&gw, &headers, &body) {
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
