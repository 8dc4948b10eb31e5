//! The hot store over the Upstash Redis REST protocol: the edge's backend on Workers and Spin
//! (and one of the origin's). Every operation is one HTTP round trip; the rotation step is one
//! `EVAL` of [`ROTATE_SCRIPT`].

use serde_json::Value;
use usso_shared::rotation::{Outcome, SessionRecord, Successor};
use usso_shared::transport::HttpTransport;
use usso_shared::upstash::Upstash;
use usso_shared::Result;

use crate::redis_session::{
    pairs, record_from_fields, rotate_answer, REVOKE_SCRIPT, ROTATE_SCRIPT,
};
use crate::store::{key, HotStore};

/// [`HotStore`] over Upstash REST.
#[derive(Debug, Clone)]
pub struct UpstashHotStore<T> {
    client: Upstash<T>,
}

impl<T: HttpTransport> UpstashHotStore<T> {
    /// A store over a REST client.
    pub fn new(client: Upstash<T>) -> Self {
        Self { client }
    }

    /// The REST client (for the origin's publishing and session creation).
    pub fn client(&self) -> &Upstash<T> {
        &self.client
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

impl<T: HttpTransport> HotStore for UpstashHotStore<T> {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>> {
        let mut cmd: Vec<&str> = vec!["MGET"];
        cmd.extend(keys.iter().map(String::as_str));
        match self.client.command(&cmd).await? {
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

    async fn session(&self, tenant_id: &str, session_id: &str) -> Result<Option<SessionRecord>> {
        let k = key::session(tenant_id, session_id);
        hash_answer(&self.client.command(&["HGETALL", &k]).await?)
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
            .client
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
            .client
            .eval(REVOKE_SCRIPT, &[&k], &[reason, &now.to_string()])
            .await?;
        hash_answer(&answer)
    }
}
