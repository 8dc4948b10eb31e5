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

/// Redis values as the JSON Upstash answers with.
pub fn to_json(v: redis::Value) -> Value {
    use redis::Value as R;
    match v {
        R::Nil => Value::Null,
        R::Int(i) => json!(i),
        R::BulkString(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
        R::Array(items) | R::Set(items) => Value::Array(items.into_iter().map(to_json).collect()),
        R::SimpleString(s) => Value::String(s),
        R::Okay => Value::String("OK".into()),
        R::Double(d) => json!(d),
        R::Boolean(b) => json!(b),
        R::Map(pairs) => Value::Array(
            pairs
                .into_iter()
                .flat_map(|(k, v)| [to_json(k), to_json(v)])
                .collect(),
        ),
        R::VerbatimString { text, .. } => Value::String(text),
        R::ServerError(e) => json!({ "error": format!("{e:?}") }),
        other => Value::String(format!("{other:?}")),
    }
}
