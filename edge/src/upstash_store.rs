//! The hot store over Redis: through the Upstash REST protocol (the edge's backend on Workers
//! and Spin, and one of the origin's) or any other [`RedisExec`] (the origin's native client).
//! Every operation is one round trip; the rotation step is one `EVAL` of [`ROTATE_SCRIPT`].

use serde_json::Value;
use usso_shared::rotation::{Outcome, SessionRecord, Successor};
use usso_shared::upstash::Upstash;
use usso_shared::Result;

use crate::redis_session::{
    eval_args, pairs, record_from_fields, rotate_answer, RedisExec, REVOKE_SCRIPT, ROTATE_SCRIPT,
};
use crate::store::{key, HotStore};

/// [`HotStore`] over Redis commands.
#[derive(Debug, Clone)]
pub struct RedisHotStore<C> {
    client: C,
}

/// The hot store over Upstash REST.
pub type UpstashHotStore<T> = RedisHotStore<Upstash<T>>;

impl<C: RedisExec> RedisHotStore<C> {
    /// A store over a command runner.
    pub fn new(client: C) -> Self {
        Self { client }
    }

    /// The command runner (for the origin's publishing and session creation).
    pub fn client(&self) -> &C {
        &self.client
    }

    /// Runs a script in one round trip.
    pub async fn eval(&self, script: &str, keys: &[&str], args: &[&str]) -> Result<Value> {
        self.client.exec(eval_args(script, keys, args)).await
    }
}

fn hash_answer(v: &Value) -> Result<Option<SessionRecord>> {
    match v {
        Value::Array(items) if items.is_empty() => Ok(None),
        Value::Array(items) => Ok(Some(record_from_fields(&pairs(items)?)?)),
        Value::Null => Ok(None),
        _ => Err(usso_shared::Error::unavailable(
            "hot store answered a non-array for a session",
        )),
    }
}

impl<C: RedisExec> HotStore for RedisHotStore<C> {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>> {
        // `MGET` with no key is an error in Redis; nothing asked is nothing read.
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = vec!["MGET".to_owned()];
        cmd.extend(keys.iter().cloned());
        match self.client.exec(cmd).await? {
            Value::Array(items) if items.len() == keys.len() => Ok(items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect()),
            _ => Err(usso_shared::Error::unavailable(
                "MGET answered the wrong shape",
            )),
        }
    }

    async fn hit(&self, counter: &str, window_secs: i64, now: i64) -> Result<(u64, i64)> {
        let answer = self
            .eval(
                crate::redis_session::HIT_SCRIPT,
                &[counter],
                &[&window_secs.to_string(), &now.to_string()],
            )
            .await?;
        match answer.as_array().map(Vec::as_slice) {
            Some([n, ttl]) => match (n.as_i64(), ttl.as_i64()) {
                (Some(n), Some(ttl)) => Ok((n.max(0) as u64, now + ttl.max(1))),
                _ => Err(usso_shared::Error::unavailable(
                    "rate-limit script answered non-numbers",
                )),
            },
            _ => Err(usso_shared::Error::unavailable(
                "rate-limit script answered the wrong shape",
            )),
        }
    }

    async fn session(&self, tenant_id: &str, session_id: &str) -> Result<Option<SessionRecord>> {
        let k = key::session(tenant_id, session_id);
        hash_answer(&self.client.exec(vec!["HGETALL".to_owned(), k]).await?)
    }

    async fn rotate(
        &self,
        tenant_id: &str,
        session_id: &str,
        presented_hash: &str,
        successor: &Successor,
        grace_secs: i64,
        now: i64,
    ) -> Result<(Outcome, Option<SessionRecord>)> {
        let k = key::session(tenant_id, session_id);
        let (grace, now) = (grace_secs.to_string(), now.to_string());
        let answer = self
            .eval(
                ROTATE_SCRIPT,
                &[&k],
                &[
                    presented_hash,
                    &successor.jti_hash,
                    &successor.sealed,
                    &grace,
                    &now,
                ],
            )
            .await?;
        rotate_answer(&answer)
    }

    async fn revoke(
        &self,
        tenant_id: &str,
        session_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>> {
        let k = key::session(tenant_id, session_id);
        let answer = self
            .eval(REVOKE_SCRIPT, &[&k], &[reason, &now.to_string()])
            .await?;
        hash_answer(&answer)
    }
}
