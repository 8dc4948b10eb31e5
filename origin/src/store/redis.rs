//! The native Redis client (`redis` crate, auto-reconnecting) as a [`RedisExec`], for the
//! origin's Redis hot store and its Upstash-compatible gateway.

use serde_json::{json, Value};
use usso_edge::redis_session::RedisExec;
use usso_shared::{Error, ErrorCode, Result};

/// A shared, self-reconnecting connection.
#[derive(Clone)]
pub struct NativeRedis(pub redis::aio::ConnectionManager);

impl NativeRedis {
    /// Connects to `url` (`redis://host:port/db`).
    pub async fn connect(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("USSO_REDIS_URL: {e}"),
            )
        })?;
        // Bounded waits: a dead Redis gives clear errors quickly instead of hanging requests;
        // the manager reconnects by itself when Redis is back.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_response_timeout(std::time::Duration::from_secs(2))
            .set_number_of_retries(2)
            .set_max_delay(500);
        let unreachable = |e: String| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("cannot reach USSO_REDIS_URL: {e}"),
            )
        };
        let conn = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            redis::aio::ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self(conn))
    }

    /// Runs one command, answering Redis values.
    ///
    /// A command that meets a dropped connection (e.g. the first one after Redis restarted) is
    /// sent once more on the manager's fresh connection. That is safe for every command the
    /// product sends: writes are idempotent or, for the rotation script, a repeat of a
    /// committed rotation answers the same successor (the grace rule), and a rate-limit counter
    /// at worst counts one attempt twice. Timeouts are not retried.
    pub async fn raw(&self, args: &[String]) -> redis::RedisResult<redis::Value> {
        let mut c = redis::cmd(&args[0]);
        for a in &args[1..] {
            c.arg(a);
        }
        let mut conn = self.0.clone();
        match c.query_async::<redis::Value>(&mut conn).await {
            Err(e) if !e.is_timeout() && (e.is_connection_dropped() || e.is_io_error()) => {
                let mut conn = self.0.clone();
                c.query_async::<redis::Value>(&mut conn).await
            }
            other => other,
        }
    }
}

impl RedisExec for NativeRedis {
    async fn exec(&self, args: Vec<String>) -> Result<Value> {
        if args.is_empty() {
            return Err(Error::internal("empty Redis command"));
        }
        match self.raw(&args).await {
            Ok(v) => Ok(to_json(v)),
            Err(e) => Err(Error::unavailable(format!("redis: {e}"))),
        }
    }
}

/// Redis values as the JSON Upstash answers with (strings as UTF-8 text).
pub fn to_json(v: redis::Value) -> Value {
    to_json_as(v, false)
}

/// Redis values as the JSON Upstash answers with; with `base64` (the client sent
/// `Upstash-Encoding: base64`, as the official clients do by default) every string is the
/// standard base64 of its bytes, so binary values survive and the clients decode them.
pub fn to_json_as(v: redis::Value, base64: bool) -> Value {
    use redis::Value as R;
    let text = |bytes: &[u8]| {
        Value::String(if base64 {
            usso_shared::encoding::b64_encode(bytes)
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        })
    };
    match v {
        R::Nil => Value::Null,
        R::Int(i) => json!(i),
        R::BulkString(b) => text(&b),
        R::Array(items) | R::Set(items) => Value::Array(
            items
                .into_iter()
                .map(|item| to_json_as(item, base64))
                .collect(),
        ),
        R::SimpleString(s) => text(s.as_bytes()),
        R::Okay => text(b"OK"),
        R::Double(d) => json!(d),
        R::Boolean(b) => json!(b),
        R::Map(pairs) => Value::Array(
            pairs
                .into_iter()
                .flat_map(|(k, v)| [to_json_as(k, base64), to_json_as(v, base64)])
                .collect(),
        ),
        R::VerbatimString { text: t, .. } => text(t.as_bytes()),
        R::ServerError(e) => json!({ "error": format!("{e:?}") }),
        other => Value::String(format!("{other:?}")),
    }
}
