//! Sessions in Redis, shared by every Redis-backed hot store (Upstash REST at the edge, the
//! native client and the gateway at the origin): the hash layout and the Lua scripts that make
//! the rotation step atomic in ONE round trip.
//!
//! A session is a Redis hash at [`key::session`](crate::store::key::session):
//! `rec` holds the record as JSON at creation (the parts that never change: ids, subject,
//! grant, client, lifetimes); the fields the step reads or writes live beside it: `gen`, `cur`,
//! `prev`, `rot`, `succ`, `used`, `exp`, `idle`, `rev`, `why`, and `grant` once a session
//! switches workspace (it replaces the grant in `rec`). The script mirrors
//! [`usso_shared::rotation::step`] exactly (tested for parity against a real Redis); only
//! SHA-256 hashes of `jti`s and the sealed successor are stored, never a usable token.

use std::collections::HashMap;
use std::future::Future;

use serde_json::Value;
use usso_shared::rotation::{Outcome, SessionRecord};
use usso_shared::transport::{HttpTransport, MaybeSend, MaybeSync};
use usso_shared::upstash::Upstash;
use usso_shared::{Error, Result};

/// Something that runs one Redis command and answers it as JSON (nil → null, integers →
/// numbers, bulk strings → strings, arrays → arrays): the Upstash REST client, or a native
/// connection at the origin. Redis-backed hot stores are written once over this.
pub trait RedisExec: MaybeSync {
    /// Runs one command.
    fn exec(&self, args: Vec<String>) -> impl Future<Output = Result<Value>> + MaybeSend;
}

impl<T: HttpTransport> RedisExec for Upstash<T> {
    async fn exec(&self, args: Vec<String>) -> Result<Value> {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.command(&refs).await
    }
}

/// `EVAL script numkeys keys… args…` as one command.
pub fn eval_args(script: &str, keys: &[&str], args: &[&str]) -> Vec<String> {
    let mut v = vec!["EVAL".to_owned(), script.to_owned(), keys.len().to_string()];
    v.extend(keys.iter().map(|k| (*k).to_owned()));
    v.extend(args.iter().map(|a| (*a).to_owned()));
    v
}

/// A fixed-window counter. KEYS: counter. ARGV: window seconds, the caller's now (the window
/// ends at `now + window` by the caller's clock). Returns `{count, seconds left}`.
pub const HIT_SCRIPT: &str = r#"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  local now, window = tonumber(ARGV[2]), tonumber(ARGV[1])
  redis.call('EXPIREAT', KEYS[1], now + window)
  ttl = window
end
return {n, ttl}
"#;

/// Every script the service runs (the gateway runs no other).
pub const SCRIPTS: [&str; 5] = [
    ROTATE_SCRIPT,
    REVOKE_SCRIPT,
    CREATE_SCRIPT,
    HIT_SCRIPT,
    GRANT_SCRIPT,
];

/// Replaces a live session's grant (switching workspace): the `grant` field, which overrides
/// the grant inside `rec` ([`record_from_fields`]). KEYS: session. ARGV: the grant as JSON.
/// Returns 1 when set, 0 when the session is gone or revoked.
pub const GRANT_SCRIPT: &str = r#"
local k = KEYS[1]
local f = redis.call('HMGET', k, 'cur', 'rev')
if not f[1] or f[2] then return 0 end
redis.call('HSET', k, 'grant', ARGV[1])
return 1
"#;

/// Atomic rotation. KEYS: session. ARGV: presented hash, successor hash, sealed successor,
/// grace seconds, now. Returns `{outcome, field, value, …}` (the hash after the step).
pub const ROTATE_SCRIPT: &str = r#"
local k = KEYS[1]
local presented, nh, ns = ARGV[1], ARGV[2], ARGV[3]
local grace, now = tonumber(ARGV[4]), tonumber(ARGV[5])
local f = redis.call('HMGET', k, 'cur', 'prev', 'rot', 'succ', 'used', 'exp', 'idle', 'rev', 'gen')
if not f[1] then return {'not_found'} end
local function answer(o)
  local r = redis.call('HGETALL', k)
  table.insert(r, 1, o)
  return r
end
if f[8] then return answer('revoked') end
local used, exp, idle = tonumber(f[5]), tonumber(f[6]), tonumber(f[7])
if now >= exp or now >= used + idle then return answer('expired') end
if presented == f[1] then
  redis.call('HSET', k, 'prev', f[1], 'cur', nh, 'gen', tostring(tonumber(f[9]) + 1),
    'rot', ARGV[5], 'succ', ns, 'used', ARGV[5])
  redis.call('EXPIREAT', k, math.min(exp, now + idle))
  return answer('rotated')
end
local rot = tonumber(f[3])
if f[2] and presented == f[2] and grace > 0 and rot and now >= rot and now - rot <= grace and f[4] then
  return answer('replayed')
end
redis.call('HSET', k, 'rev', ARGV[5], 'why', 'refresh_token_reused')
redis.call('HDEL', k, 'succ')
return answer('reused')
"#;

/// Idempotent revocation. KEYS: session. ARGV: reason, now. Returns the hash (empty if none).
pub const REVOKE_SCRIPT: &str = r#"
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return {} end
if not redis.call('HGET', k, 'rev') then
  redis.call('HSET', k, 'rev', ARGV[2], 'why', ARGV[1])
  redis.call('HDEL', k, 'succ')
end
return redis.call('HGETALL', k)
"#;

/// Creation. KEYS: session, the subject's session index. ARGV: expire-at, session id, then
/// field/value pairs.
pub const CREATE_SCRIPT: &str = r#"
local k = KEYS[1]
redis.call('DEL', k)
for i = 3, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('EXPIREAT', k, tonumber(ARGV[1]))
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('EXPIREAT', KEYS[2], tonumber(ARGV[1]))
return 1
"#;

/// Key of the set of a subject's session ids.
pub fn subject_index(tenant_id: &str, subject: &str) -> String {
    format!("usso:subject-sessions:{tenant_id}:{subject}")
}

/// The hash fields of a new session record.
pub fn fields(record: &SessionRecord) -> Result<Vec<(String, String)>> {
    let rec = serde_json::to_string(record).map_err(|e| Error::internal(e.to_string()))?;
    let mut f = vec![
        ("rec".to_owned(), rec),
        ("gen".to_owned(), record.generation.to_string()),
        ("cur".to_owned(), record.current.clone()),
        ("used".to_owned(), record.last_used_at.to_string()),
        ("exp".to_owned(), record.expires_at.to_string()),
        ("idle".to_owned(), record.idle_timeout_secs.to_string()),
    ];
    let opt = |name: &str, v: &Option<String>, f: &mut Vec<(String, String)>| {
        if let Some(v) = v {
            f.push((name.to_owned(), v.clone()));
        }
    };
    opt("prev", &record.previous, &mut f);
    opt("rot", &record.rotated_at.map(|t| t.to_string()), &mut f);
    opt("succ", &record.successor, &mut f);
    opt("rev", &record.revoked_at.map(|t| t.to_string()), &mut f);
    opt("why", &record.revoked_reason, &mut f);
    Ok(f)
}

/// The arguments of [`CREATE_SCRIPT`] for a record.
pub fn create_args(record: &SessionRecord, now: i64) -> Result<Vec<String>> {
    let mut args = vec![
        (now + record.ttl(now)).to_string(),
        record.session_id.clone(),
    ];
    for (k, v) in fields(record)? {
        args.push(k);
        args.push(v);
    }
    Ok(args)
}

/// A session record from its hash fields.
pub fn record_from_fields(map: &HashMap<String, String>) -> Result<SessionRecord> {
    let corrupt = |what: &str| Error::internal(format!("session hash is corrupt: {what}"));
    let rec = map.get("rec").ok_or_else(|| corrupt("no rec"))?;
    let mut r: SessionRecord = serde_json::from_str(rec).map_err(|_| corrupt("rec"))?;
    let int = |name: &str| -> Result<Option<i64>> {
        map.get(name)
            .map(|v| v.parse::<i64>().map_err(|_| corrupt(name)))
            .transpose()
    };
    r.generation = int("gen")?.ok_or_else(|| corrupt("gen"))?.max(0) as u64;
    r.current = map.get("cur").cloned().ok_or_else(|| corrupt("cur"))?;
    r.previous = map.get("prev").cloned();
    r.rotated_at = int("rot")?;
    r.successor = map.get("succ").cloned();
    r.last_used_at = int("used")?.ok_or_else(|| corrupt("used"))?;
    r.expires_at = int("exp")?.ok_or_else(|| corrupt("exp"))?;
    r.idle_timeout_secs = int("idle")?.ok_or_else(|| corrupt("idle"))?;
    r.revoked_at = int("rev")?;
    r.revoked_reason = map.get("why").cloned();
    if let Some(g) = map.get("grant") {
        r.grant = serde_json::from_str(g).map_err(|_| corrupt("grant"))?;
    }
    Ok(r)
}

/// A flat `[field, value, …]` array (HGETALL, script answers) as a map.
pub fn pairs(items: &[Value]) -> Result<HashMap<String, String>> {
    if !items.len().is_multiple_of(2) {
        return Err(Error::internal("odd field list from the hot store"));
    }
    items
        .chunks(2)
        .map(|p| match (&p[0], &p[1]) {
            (Value::String(k), Value::String(v)) => Ok((k.clone(), v.clone())),
            (Value::String(k), v) => Ok((k.clone(), v.to_string())),
            _ => Err(Error::internal("non-string field from the hot store")),
        })
        .collect()
}

/// Decodes the rotation script's answer.
pub fn rotate_answer(answer: &Value) -> Result<(Outcome, Option<SessionRecord>)> {
    let items = answer
        .as_array()
        .ok_or_else(|| Error::unavailable("rotation script answered a non-array"))?;
    let outcome = items
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| Error::unavailable("rotation script answered no outcome"))?;
    if outcome == "not_found" {
        return Ok((Outcome::NotFound, None));
    }
    let record = record_from_fields(&pairs(&items[1..])?)?;
    let outcome = match outcome {
        "rotated" => Outcome::Rotated,
        "replayed" => Outcome::Replayed {
            sealed: record
                .successor
                .clone()
                .ok_or_else(|| Error::internal("replayed without a successor"))?,
        },
        "reused" => Outcome::Reused,
        "revoked" => Outcome::Revoked,
        "expired" => Outcome::Expired,
        other => {
            return Err(Error::unavailable(format!(
                "rotation script answered `{other}`"
            )))
        }
    };
    Ok((outcome, Some(record)))
}
