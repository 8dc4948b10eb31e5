//! MongoDB as the document store, through the Data API ([`usso_shared::data_api`]).
//!
//! Layout: collection = the store's collection name; one MongoDB document per stored document:
//! `{_id: "<tenant>/<id>", tenant, doc_id, version: int64, updated_at: date, body: {…}}`. The
//! `_id` makes (tenant, id) unique without any index management through the Data API; every
//! filter also names `tenant`, so no query can reach another tenant's documents (tenant ids
//! never contain `/`). Optimistic concurrency: `replace` is an `updateOne` whose filter
//! includes the expected `version`, which MongoDB applies atomically to the one document.

use serde_json::{json, Value};
use usso_shared::data_api::{DataApi, Find};
use usso_shared::ejson;
use usso_shared::transport::ReqwestTransport;
use usso_shared::{Error, ErrorCode, Result};

use crate::store::docs::{Cond, Doc, DocumentStore, Page, Query, Sort, TENANTS};

/// The Data API backend.
#[derive(Clone)]
pub struct MongoDocs {
    api: std::sync::Arc<DataApi<ReqwestTransport>>,
}

use crate::store::now_millis;

fn key(tenant: &str, id: &str) -> String {
    format!("{tenant}/{id}")
}

fn filter_of(tenant: &str, id: &str) -> Value {
    json!({ "_id": key(tenant, id), "tenant": tenant })
}

impl MongoDocs {
    /// A store over `api`.
    pub fn new(api: DataApi<ReqwestTransport>) -> Self {
        Self {
            api: std::sync::Arc::new(api),
        }
    }

    /// Checks that the endpoint answers and accepts the credentials (a cheap `findOne`).
    pub async fn ping(&self) -> Result<()> {
        self.api
            .find_one(TENANTS, json!({ "_id": "/ping" }))
            .await
            .map(|_| ())
    }

    fn doc(stored: &Value) -> Result<Doc> {
        let bad =
            |field: &str| Error::unavailable(format!("stored document without a valid `{field}`"));
        Ok(Doc {
            id: stored["doc_id"]
                .as_str()
                .ok_or_else(|| bad("doc_id"))?
                .to_owned(),
            version: ejson::parse_long(&stored["version"]).ok_or_else(|| bad("version"))?,
            body: ejson::to_plain(stored.get("body").ok_or_else(|| bad("body"))?)?,
        })
    }

    fn stored(tenant: &str, id: &str, version: i64, body: &Value) -> Result<Value> {
        Ok(json!({
            "_id": key(tenant, id),
            "tenant": tenant,
            "doc_id": id,
            "version": ejson::long(version),
            "updated_at": ejson::date_ms(now_millis()),
            "body": ejson::to_canonical(body)?,
        }))
    }
}

impl DocumentStore for MongoDocs {
    async fn get(&self, coll: &str, tenant: &str, id: &str) -> Result<Option<Doc>> {
        self.api
            .find_one(coll, filter_of(tenant, id))
            .await?
            .map(|d| Self::doc(&d))
            .transpose()
    }

    async fn insert(&self, coll: &str, tenant: &str, id: &str, body: Value) -> Result<Doc> {
        let stored = Self::stored(tenant, id, 1, &body)?;
        match self.api.insert_one(coll, stored).await {
            Ok(_) => Ok(Doc {
                id: id.to_owned(),
                version: 1,
                body,
            }),
            Err(e) if e.code() == ErrorCode::Conflict => Err(Error::new(
                ErrorCode::Conflict,
                format!("{coll} `{id}` exists"),
            )),
            Err(e) => Err(e),
        }
    }

    async fn insert_many(
        &self,
        coll: &str,
        tenant: &str,
        docs: Vec<(String, Value)>,
    ) -> Result<u64> {
        let mut n = 0;
        for chunk in docs.chunks(1000) {
            let stored = chunk
                .iter()
                .map(|(id, body)| Self::stored(tenant, id, 1, body))
                .collect::<Result<Vec<_>>>()?;
            n += self.api.insert_many(coll, stored).await?.len() as u64;
        }
        Ok(n)
    }

    async fn replace(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
        body: Value,
        expected_version: i64,
    ) -> Result<Doc> {
        let mut filter = filter_of(tenant, id);
        filter["version"] = ejson::long(expected_version);
        let update = json!({
            "$set": {
                "version": ejson::long(expected_version + 1),
                "updated_at": ejson::date_ms(now_millis()),
                "body": ejson::to_canonical(&body)?,
            }
        });
        let done = self.api.update_one(coll, filter, update, false).await?;
        if done.matched == 1 {
            return Ok(Doc {
                id: id.to_owned(),
                version: expected_version + 1,
                body,
            });
        }
        Err(match self.get(coll, tenant, id).await? {
            Some(_) => Error::new(
                ErrorCode::Conflict,
                format!("{coll} `{id}` changed concurrently"),
            ),
            None => Error::new(ErrorCode::NotFound, format!("{coll} `{id}` not found")),
        })
    }

    async fn upsert(&self, coll: &str, tenant: &str, id: &str, body: Value) -> Result<Doc> {
        let update = json!({
            "$set": {
                "tenant": tenant,
                "doc_id": id,
                "updated_at": ejson::date_ms(now_millis()),
                "body": ejson::to_canonical(&body)?,
            },
            "$inc": { "version": ejson::long(1) },
        });
        self.api
            .update_one(coll, filter_of(tenant, id), update, true)
            .await?;
        // The version after this write (or a later one, if another writer followed at once).
        let version = self.get(coll, tenant, id).await?.map_or(1, |d| d.version);
        Ok(Doc {
            id: id.to_owned(),
            version,
            body,
        })
    }

    async fn delete(&self, coll: &str, tenant: &str, id: &str) -> Result<bool> {
        Ok(self.api.delete_one(coll, filter_of(tenant, id)).await? > 0)
    }

    async fn query(&self, coll: &str, tenant: &str, query: &Query) -> Result<Page> {
        query.check()?;
        // Every condition on the stored document's `body`, joined by `$and` (two conditions
        // may name one field).
        let mut all = vec![json!({ "tenant": tenant })];
        for c in &query.conds {
            all.push(match c {
                // `$eq` on the body field: the same equality the embedded store applies.
                Cond::Eq(field, value) => {
                    json!({ format!("body.{field}"): { "$eq": ejson::to_canonical(value)? } })
                }
                // Equality on an array field matches an element (MongoDB's array matching).
                // `$elemMatch`, not `$eq`: `$eq` also matches a plain field equal to the value.
                Cond::Has(field, value) => json!({ format!("body.{field}"): {
                    "$elemMatch": { "$eq": ejson::to_canonical(value)? }
                } }),
                Cond::In(field, values) => json!({ format!("body.{field}"): { "$in": values } }),
                Cond::Present(field) => {
                    json!({ format!("body.{field}"): { "$exists": true, "$ne": null } })
                }
                // Comparisons match only values of the same type bracket (numbers), as the
                // embedded store's type check does; an open lower bound is `i64::MIN`.
                Cond::Between(field, min, max) => {
                    let mut range = serde_json::Map::new();
                    if min.is_some() || max.is_none() {
                        let min = min.unwrap_or(i64::MIN);
                        range.insert("$gte".into(), ejson::to_canonical(&json!(min))?);
                    }
                    if let Some(max) = max {
                        range.insert("$lt".into(), ejson::to_canonical(&json!(max))?);
                    }
                    json!({ format!("body.{field}"): range })
                }
                Cond::Text(fields, text) => json!({ "$or": fields.iter().map(|f| json!({
                    format!("body.{f}"): { "$regex": regex_literal(text), "$options": "i" }
                })).collect::<Vec<_>>() }),
            });
        }
        let filter = json!({ "$and": all });
        let sort = match &query.sort {
            Sort::Newest => vec![("updated_at".into(), -1), ("doc_id".into(), 1)],
            Sort::By { field, descending } => vec![
                (format!("body.{field}"), if *descending { -1 } else { 1 }),
                ("doc_id".into(), 1),
            ],
        };
        let limit = query.limit.clamp(1, 1000);
        let total = self.api.count(coll, filter.clone()).await?;
        let items = self
            .api
            .find(
                coll,
                Find {
                    filter,
                    sort,
                    skip: query.offset,
                    limit,
                    projection: None,
                },
            )
            .await?
            .iter()
            .map(Self::doc)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page { items, total })
    }

    async fn tenants(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut skip = 0;
        loop {
            let page = self
                .api
                .find(
                    TENANTS,
                    Find {
                        filter: json!({}),
                        projection: Some(json!({ "tenant": 1, "doc_id": 1 })),
                        sort: vec![("_id".into(), 1)],
                        skip,
                        limit: 1000,
                    },
                )
                .await?;
            let n = page.len() as u64;
            out.extend(page.iter().filter_map(|d| {
                let (t, id) = (d["tenant"].as_str()?, d["doc_id"].as_str()?);
                (t == id).then(|| t.to_owned())
            }));
            if n < 1000 {
                break;
            }
            skip += n;
        }
        out.sort();
        Ok(out)
    }
}

/// `text` as a regular expression matching itself (every character outside `[A-Za-z0-9_ ]`
/// escaped), so a search box can never inject a pattern (or a catastrophic one).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' || ch == ' ' {
            out.push(ch);
        } else if ch.is_ascii() {
            out.push('\\');
            out.push(ch);
        } else {
            out.push(ch);
        }
    }
    out
}
