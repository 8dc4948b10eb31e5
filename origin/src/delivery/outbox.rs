//! A durable outbox in the document store: the request path only enqueues (one insert) and
//! answers; a worker delivers with bounded retries and exponential backoff, so a slow provider
//! never blocks a request and a restart loses no message.
//!
//! The message (which carries a one-time code or link) is sealed at rest under a key derived
//! from the master key and erased from the entry once delivered. Delivery claims an entry with a
//! compare-and-set and a lease, so two workers (or two origins) never send one message twice;
//! an entry whose worker died mid-send is retried when its lease runs out (at least once).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use usso_shared::seal::{open_text, seal_text, SecretKey};
use usso_shared::{Error, ErrorCode, Result};

use crate::delivery::{DeliveryError, Email, Mailer, Sms, SmsSender, SmtpMailer};
use crate::store::docs::{Doc, DocumentStore};

pub use crate::store::collections::OUTBOX;
/// Attempts before an entry is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// How often an idle worker looks for retries that came due.
pub const IDLE_POLL: std::time::Duration = std::time::Duration::from_secs(2);
/// Seconds a claimed entry stays claimed.
pub const LEASE_SECS: i64 = 60;

/// What to deliver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// An email.
    Email(Email),
    /// A text message.
    Sms(Sms),
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for delivery (at `next_at`).
    Pending,
    /// Claimed by a worker until `lease_until` (a crashed worker's entry is due again then).
    Sending,
    /// Delivered (the sealed message is erased).
    Sent,
    /// Given up after [`MAX_ATTEMPTS`] or a permanent refusal.
    Failed,
    /// Written but never to be sent (an identifier that may not receive it).
    Suppressed,
}

/// What kind of message an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An email.
    Email,
    /// A text message.
    Sms,
}

/// One outbox entry as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Where it stands.
    pub status: Status,
    /// What it holds.
    pub kind: Kind,
    /// The sealed message (erased once sent).
    pub sealed: Option<String>,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Not before (unix seconds).
    pub next_at: i64,
    /// Claimed until (unix seconds).
    pub lease_until: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Enqueued at.
    pub created_at: i64,
    /// Delivered at.
    pub sent_at: Option<i64>,
}

fn sealing_key(master: &SecretKey) -> SecretKey {
    master.derive(b"usso outbox v1")
}

/// Enqueues `message` for `tenant`; returns the entry id. With `deliver` false the entry is
/// written the same way but marked `suppressed` (never sent): callers that must not reveal
/// whether an account exists do the same work either way.
pub async fn enqueue<D: DocumentStore>(
    docs: &D,
    master: &SecretKey,
    tenant: &str,
    message: &Message,
    now: i64,
    deliver: bool,
) -> Result<String> {
    let id = format!("{now:012}-{}", usso_shared::random::hex_id()?);
    let plain = serde_json::to_vec(message).map_err(|e| Error::internal(e.to_string()))?;
    let entry = Entry {
        status: if deliver {
            Status::Pending
        } else {
            Status::Suppressed
        },
        kind: match message {
            Message::Email(_) => Kind::Email,
            Message::Sms(_) => Kind::Sms,
        },
        sealed: Some(seal_text(&sealing_key(master), id.as_bytes(), &plain)?),
        attempts: 0,
        next_at: now,
        lease_until: 0,
        last_error: None,
        created_at: now,
        sent_at: None,
    };
    docs.insert(OUTBOX, tenant, &id, to_value(&entry)?).await?;
    Ok(id)
}

fn to_value(e: &Entry) -> Result<Value> {
    serde_json::to_value(e).map_err(|e| Error::internal(e.to_string()))
}

/// Backoff before attempt `n + 1`: 2, 4, 8 … seconds, at most 5 minutes.
pub fn backoff_secs(attempts: u32) -> i64 {
    (1i64 << attempts.min(8)).saturating_mul(2).min(300)
}

/// The delivering side. Email goes through the tenant's own SMTP relay when it has one
/// ([`crate::tenants::TenantSmtp`]), else through the origin's `mailer`.
pub struct Outbox<D, M, S> {
    docs: D,
    master: SecretKey,
    mailer: M,
    sms: S,
    wake: tokio::sync::Notify,
    tenant_mailers:
        tokio::sync::Mutex<std::collections::HashMap<String, (String, Arc<SmtpMailer>)>>,
    clock: crate::app::clock::AppClock,
}

impl<D: DocumentStore, M: Mailer, S: SmsSender> Outbox<D, M, S> {
    /// An outbox over `docs` that delivers with `mailer` and `sms`.
    pub fn new(
        docs: D,
        master: SecretKey,
        mailer: M,
        sms: S,
        clock: crate::app::clock::AppClock,
    ) -> Self {
        Self {
            clock,
            docs,
            master,
            mailer,
            sms,
            wake: tokio::sync::Notify::new(),
            tenant_mailers: Default::default(),
        }
    }

    /// Asks the worker to look now (after an enqueue).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers what is due in every tenant; returns how many were sent.
    pub async fn run_once(&self, now: i64) -> Result<usize> {
        let mut sent = 0;
        for tenant in self.docs.tenants().await? {
            for status in [Status::Pending, Status::Sending] {
                let page = self
                    .docs
                    .find(OUTBOX, &tenant, &[("status", json!(status))], 0, 100)
                    .await?;
                for doc in page.items {
                    if self.deliver(&tenant, doc, now).await? {
                        sent += 1;
                    }
                }
            }
        }
        Ok(sent)
    }

    async fn deliver(&self, tenant: &str, doc: Doc, now: i64) -> Result<bool> {
        let mut entry: Entry = serde_json::from_value(doc.body)
            .map_err(|e| Error::internal(format!("corrupt outbox entry {}: {e}", doc.id)))?;
        let due = match entry.status {
            Status::Pending => entry.next_at <= now,
            Status::Sending => entry.lease_until <= now,
            _ => false,
        };
        if !due {
            return Ok(false);
        }
        // Claim it: only one worker wins the compare-and-set.
        entry.status = Status::Sending;
        entry.lease_until = now + LEASE_SECS;
        let claimed = match self
            .docs
            .replace(OUTBOX, tenant, &doc.id, to_value(&entry)?, doc.version)
            .await
        {
            Ok(d) => d,
            Err(e) if matches!(e.code(), ErrorCode::Conflict | ErrorCode::NotFound) => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
        let result = match self.open(&doc.id, &entry) {
            Ok(Message::Email(m)) => match self.tenant_mailer(tenant).await {
                Ok(Some(own)) => own.send(&m).await,
                Ok(None) => self.mailer.send(&m).await,
                Err(e) => Err(DeliveryError::transient(format!(
                    "tenant SMTP settings: {}",
                    e.detail()
                ))),
            },
            Ok(Message::Sms(m)) => self.sms.send(&m).await,
            Err(e) => Err(DeliveryError::permanent(e.detail().to_owned())),
        };
        entry.attempts += 1;
        let delivered = result.is_ok();
        match result {
            Ok(()) => {
                entry.status = Status::Sent;
                entry.sealed = None;
                entry.sent_at = Some(now);
                entry.last_error = None;
            }
            Err(e) if e.permanent || entry.attempts >= MAX_ATTEMPTS => {
                tracing::error!(target: "delivery", tenant, id = %doc.id, error = %e, "message given up");
                entry.status = Status::Failed;
                entry.sealed = None;
                entry.last_error = Some(e.to_string());
            }
            Err(e) => {
                tracing::warn!(target: "delivery", tenant, id = %doc.id, error = %e, attempts = entry.attempts, "delivery will be retried");
                entry.status = Status::Pending;
                entry.next_at = now + backoff_secs(entry.attempts);
                entry.last_error = Some(e.to_string());
            }
        }
        self.docs
            .replace(OUTBOX, tenant, &doc.id, to_value(&entry)?, claimed.version)
            .await?;
        Ok(delivered)
    }

    /// The tenant's own SMTP relay, if it has one (built once per settings and cached).
    async fn tenant_mailer(&self, tenant: &str) -> Result<Option<Arc<SmtpMailer>>> {
        let Some(smtp) = crate::tenants::load(&self.docs, tenant)
            .await?
            .and_then(|t| t.smtp)
        else {
            return Ok(None);
        };
        let settings = smtp.open(&self.master, tenant)?;
        let fingerprint = format!(
            "{settings:?}|{}",
            smtp.sealed_password.as_deref().unwrap_or("")
        );
        let mut cache = self.tenant_mailers.lock().await;
        if let Some((f, m)) = cache.get(tenant) {
            if *f == fingerprint {
                return Ok(Some(m.clone()));
            }
        }
        let mailer = Arc::new(SmtpMailer::new(&settings)?);
        cache.insert(tenant.to_owned(), (fingerprint, mailer.clone()));
        Ok(Some(mailer))
    }

    fn open(&self, id: &str, entry: &Entry) -> Result<Message> {
        let sealed = entry
            .sealed
            .as_deref()
            .ok_or_else(|| Error::internal("outbox entry without a message"))?;
        let plain = open_text(&sealing_key(&self.master), id.as_bytes(), sealed)?;
        serde_json::from_slice(&plain).map_err(|e| Error::internal(format!("corrupt message: {e}")))
    }

    /// Runs until `stop` resolves: delivers what is due, then waits for a wake-up or a second.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let now = usso_shared::clock::Clock::now(&self.clock);
            // A pass that sent something looks again soon (more may be due); an idle one waits
            // longer, since an enqueue wakes the worker at once anyway.
            let pause = match self.run_once(now).await {
                Ok(0) => IDLE_POLL,
                Ok(_) => std::time::Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(target: "delivery", error = %e, "outbox pass failed");
                    IDLE_POLL
                }
            };
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
