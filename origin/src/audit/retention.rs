//! Audit retention: entries older than the configured age are deleted, oldest first, in
//! bounded batches, on both document stores (only `find` and `delete`, which every backend
//! has). Invariant: the audit trail cannot grow without bound (an attacker who makes the origin
//! write audit entries cannot fill the disk over months), and nothing younger than the
//! retention is ever removed.

use usso_shared::Result;

use crate::store::collections::AUDIT;
use crate::store::docs::DocumentStore;

/// Documents looked at per batch.
const BATCH: u64 = 200;

/// Deletes a tenant's audit entries whose `at` (unix seconds) is before `before`; how many.
pub async fn prune<D: DocumentStore>(docs: &D, tenant: &str, before: i64) -> Result<usize> {
    let mut removed = 0;
    loop {
        let total = docs.find(AUDIT, tenant, &[], 0, 1).await?.total;
        if total == 0 {
            return Ok(removed);
        }
        // The store lists newest first: the last page holds the oldest entries.
        let page = docs
            .find(AUDIT, tenant, &[], total.saturating_sub(BATCH), BATCH)
            .await?;
        let mut progressed = false;
        for doc in page
            .items
            .iter()
            .filter(|d| d.body["at"].as_i64().is_some_and(|at| at < before))
        {
            if docs.delete(AUDIT, tenant, &doc.id).await? {
                removed += 1;
                progressed = true;
            }
        }
        if !progressed {
            return Ok(removed);
        }
    }
}

/// Prunes every tenant once; failures are logged, never fatal.
pub async fn prune_all<D: DocumentStore>(docs: &D, retention_days: u32, now: i64) {
    if retention_days == 0 {
        return;
    }
    let before = now - i64::from(retention_days) * 86_400;
    let tenants = match docs.tenants().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "audit retention: cannot list tenants");
            return;
        }
    };
    for tenant in tenants {
        match prune(docs, &tenant, before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tenant, removed = n, "audit retention: old entries removed"),
            Err(e) => tracing::warn!(tenant, error = %e, "audit retention failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::docs::SqliteDocs;
    use serde_json::json;

    #[tokio::test]
    async fn removes_only_what_is_older_than_the_retention() {
        let dir = crate::store::temp_dir("audit");
        let docs = SqliteDocs::open(&dir.join("docs.db")).unwrap();
        for i in 0..450 {
            docs.insert(
                AUDIT,
                "t",
                &format!("old-{i:04}"),
                json!({"event": "x", "at": 1_000 + i}),
            )
            .await
            .unwrap();
        }
        for i in 0..10 {
            docs.insert(
                AUDIT,
                "t",
                &format!("new-{i}"),
                json!({"event": "x", "at": 9_000}),
            )
            .await
            .unwrap();
        }
        docs.insert(AUDIT, "other", "old", json!({"event": "x", "at": 1}))
            .await
            .unwrap();
        assert_eq!(prune(&docs, "t", 5_000).await.unwrap(), 450);
        let left = docs.find(AUDIT, "t", &[], 0, 100).await.unwrap();
        assert_eq!(left.total, 10);
        assert!(left.items.iter().all(|d| d.body["at"] == 9_000));
        assert_eq!(prune(&docs, "t", 5_000).await.unwrap(), 0);
        assert_eq!(docs.find(AUDIT, "other", &[], 0, 1).await.unwrap().total, 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
