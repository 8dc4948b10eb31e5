//! The durable document store: JSON documents in collections, scoped by tenant, with a version
//! for optimistic concurrency. Uniqueness comes from document ids (e.g. an identifier document
//! keyed by the canonical identifier), not from secondary indexes, so every backend (the
//! embedded SQLite default, MongoDB through the Data API) can provide it.

use std::future::Future;

use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use usso_shared::{Error, ErrorCode, Result};

use crate::store::db::{sql, Db};

/// A stored document.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Id, unique within (collection, tenant).
    pub id: String,
    /// Version, incremented by every write (starts at 1).
    pub version: i64,
    /// The document.
    pub body: Value,
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Documents of this page.
    pub items: Vec<Doc>,
    /// Matches in all.
    pub total: u64,
}

/// One condition on a document's top-level field (all conditions of a [`Query`] must hold).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// The field equals the value (same JSON type); `null` also matches a missing field.
    Eq(String, Value),
    /// The field is an array holding the value.
    Has(String, Value),
    /// The field is present and not `null`.
    Present(String),
    /// The field is a string equal to one of these (at most 1000).
    In(String, Vec<String>),
    /// One of the string fields contains the text, ASCII case folded (a search box).
    Text(Vec<String>, String),
    /// The field is a number with `min ≤ value < max` (either bound may be open).
    Between(String, Option<i64>, Option<i64>),
}

/// The order of a query's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sort {
    /// Last written first (the default).
    Newest,
    /// By a top-level field of the document, then by id.
    By {
        /// The field.
        field: String,
        /// Largest first.
        descending: bool,
    },
}

/// A query: conditions, order and one page. Field names are checked by every backend
/// (`valid_field`): they come from code, never from a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// All must hold.
    pub conds: Vec<Cond>,
    /// Order.
    pub sort: Sort,
    /// Skip this many.
    pub offset: u64,
    /// At most this many (capped at 1000).
    pub limit: u64,
}

impl Query {
    /// Every field the query names.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for c in &self.conds {
            match c {
                Cond::Eq(f, _)
                | Cond::Has(f, _)
                | Cond::Present(f)
                | Cond::In(f, _)
                | Cond::Between(f, _, _) => out.push(f.as_str()),
                Cond::Text(fs, _) => out.extend(fs.iter().map(String::as_str)),
            }
        }
        if let Sort::By { field, .. } = &self.sort {
            out.push(field);
        }
        out
    }

    /// Refuses a field name no backend may be handed.
    pub fn check(&self) -> Result<()> {
        if self
            .conds
            .iter()
            .any(|c| matches!(c, Cond::In(_, v) if v.len() > 1000))
        {
            return Err(Error::internal("a query lists more than 1000 values"));
        }
        match self.fields().into_iter().find(|f| !valid_field(f)) {
            Some(f) => Err(Error::internal(format!("invalid query field `{f}`"))),
            None => Ok(()),
        }
    }
}

/// The document-store operations the origin needs. Every call names the tenant: a query can
/// never reach another tenant's documents.
pub trait DocumentStore: Send + Sync + 'static {
    /// One document by id.
    fn get(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Doc>>> + Send;
    /// Inserts a new document; `conflict` if the id exists.
    fn insert(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
        body: Value,
    ) -> impl Future<Output = Result<Doc>> + Send;
    /// Replaces a document if its version is still `expected_version`; `conflict` otherwise,
    /// `not_found` if it is gone.
    fn replace(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
        body: Value,
        expected_version: i64,
    ) -> impl Future<Output = Result<Doc>> + Send;
    /// Inserts or overwrites.
    fn upsert(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
        body: Value,
    ) -> impl Future<Output = Result<Doc>> + Send;
    /// Deletes; whether it existed.
    fn delete(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Inserts many new documents (bulk import, seeding); how many. All-or-nothing on the
    /// embedded store; on MongoDB in ordered batches (a failure stops at the first conflict,
    /// and running the import again after removing what is there repairs it). The default
    /// inserts one by one.
    fn insert_many(
        &self,
        coll: &str,
        tenant: &str,
        docs: Vec<(String, Value)>,
    ) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let mut n = 0;
            for (id, body) in docs {
                self.insert(coll, tenant, &id, body).await?;
                n += 1;
            }
            Ok(n)
        }
    }
    /// The documents matching `query`, sorted and paged as it says, with the total count.
    fn query(
        &self,
        coll: &str,
        tenant: &str,
        query: &Query,
    ) -> impl Future<Output = Result<Page>> + Send;
    /// Documents whose top-level fields equal the given values, newest first.
    fn find(
        &self,
        coll: &str,
        tenant: &str,
        filter: &[(&str, Value)],
        offset: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Page>> + Send {
        let query = Query {
            conds: filter
                .iter()
                .map(|(f, v)| Cond::Eq((*f).to_owned(), v.clone()))
                .collect(),
            sort: Sort::Newest,
            offset,
            limit,
        };
        async move { self.query(coll, tenant, &query).await }
    }
    /// Every tenant id that has documents in `coll` with id equal to the tenant (tenant records).
    fn tenants(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// The embedded default: SQLite in WAL mode.
#[derive(Clone)]
pub struct SqliteDocs {
    db: Db,
}

/// Array fields whose string elements are indexed in `terms` (kept by triggers), so that
/// "users holding this role / in this workspace", "the agent holding this key id" is an index
/// lookup and its count never reads
/// a document. `live` is 0 for a soft-deleted document (`deleted_at` set).
pub const TERM_FIELDS: [&str; 4] = ["roles", "workspace_ids", "workspace_role_slugs", "kids"];

/// The term index, built (or rebuilt from the documents) by migration 2: the table, one row
/// per (document, array field, string element) with the document's `created_at` so that a
/// page of "documents holding this term, by creation time" walks one index and reads only
/// its page; live counts per term kept by triggers, so `total` never counts rows; the
/// triggers that keep both in step with `docs` in the writing transaction. No trigger says
/// `OR IGNORE`: an outer `INSERT … ON CONFLICT DO UPDATE` (an upsert) overrides a trigger's
/// conflict clause, so duplicates are avoided by `DISTINCT` and `NOT EXISTS` instead. `?TERM_FIELDS?`
/// stands for [`TERM_FIELDS`] as a JSON array.
const TERMS: &str = "DROP TRIGGER IF EXISTS docs_terms_insert;
DROP TRIGGER IF EXISTS docs_terms_update;
DROP TRIGGER IF EXISTS docs_terms_delete;
DROP TABLE IF EXISTS term_counts;
DROP TABLE IF EXISTS terms;
CREATE TABLE terms (
    coll TEXT NOT NULL, tenant TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
    id TEXT NOT NULL, live INTEGER NOT NULL, created,
    PRIMARY KEY (coll, tenant, field, value, id)) WITHOUT ROWID;
CREATE INDEX terms_by_doc ON terms (coll, tenant, id);
CREATE INDEX terms_by_created ON terms (coll, tenant, field, value, live, created, id);
CREATE TABLE term_counts (
    coll TEXT NOT NULL, tenant TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (coll, tenant, field, value)) WITHOUT ROWID;
CREATE TRIGGER terms_count_insert AFTER INSERT ON terms WHEN NEW.live = 1 BEGIN
  INSERT INTO term_counts SELECT NEW.coll, NEW.tenant, NEW.field, NEW.value, 0
    WHERE NOT EXISTS (SELECT 1 FROM term_counts WHERE coll = NEW.coll
      AND tenant = NEW.tenant AND field = NEW.field AND value = NEW.value);
  UPDATE term_counts SET n = n + 1 WHERE coll = NEW.coll AND tenant = NEW.tenant
    AND field = NEW.field AND value = NEW.value;
END;
CREATE TRIGGER terms_count_delete AFTER DELETE ON terms WHEN OLD.live = 1 BEGIN
  UPDATE term_counts SET n = n - 1 WHERE coll = OLD.coll AND tenant = OLD.tenant
    AND field = OLD.field AND value = OLD.value;
END;
CREATE TRIGGER docs_terms_insert AFTER INSERT ON docs BEGIN
  INSERT INTO terms SELECT DISTINCT NEW.coll, NEW.tenant, f.value, e.value, NEW.id,
      coalesce(json_type(NEW.body, '$.deleted_at'), 'null') = 'null',
      json_extract(NEW.body, '$.created_at')
    FROM json_each(?TERM_FIELDS?) f,
         json_each(NEW.body, '$.' || f.value) e
    WHERE json_type(NEW.body, '$.' || f.value) = 'array' AND e.type = 'text';
END;
CREATE TRIGGER docs_terms_update AFTER UPDATE OF body ON docs BEGIN
  DELETE FROM terms WHERE coll = OLD.coll AND tenant = OLD.tenant AND id = OLD.id;
  INSERT INTO terms SELECT DISTINCT NEW.coll, NEW.tenant, f.value, e.value, NEW.id,
      coalesce(json_type(NEW.body, '$.deleted_at'), 'null') = 'null',
      json_extract(NEW.body, '$.created_at')
    FROM json_each(?TERM_FIELDS?) f,
         json_each(NEW.body, '$.' || f.value) e
    WHERE json_type(NEW.body, '$.' || f.value) = 'array' AND e.type = 'text';
END;
CREATE TRIGGER docs_terms_delete AFTER DELETE ON docs BEGIN
  DELETE FROM terms WHERE coll = OLD.coll AND tenant = OLD.tenant AND id = OLD.id;
END;
INSERT INTO terms SELECT DISTINCT d.coll, d.tenant, f.value, e.value, d.id,
    coalesce(json_type(d.body, '$.deleted_at'), 'null') = 'null',
    json_extract(d.body, '$.created_at')
  FROM docs d, json_each(?TERM_FIELDS?) f,
       json_each(d.body, '$.' || f.value) e
  WHERE json_type(d.body, '$.' || f.value) = 'array' AND e.type = 'text';";

/// The table, its indexes, and fixed planner statistics. Without statistics SQLite prefers
/// walking the index that matches a query's `ORDER BY` over the one that matches its filter,
/// which turns "this user's identifiers" into a scan of every identifier of the tenant; the
/// fixed figures (large collections, few documents per user id or timestamp) make it choose
/// the selective index whatever the data looks like, the same on every start.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS docs (
    coll TEXT NOT NULL, tenant TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (coll, tenant, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS docs_by_time ON docs (coll, tenant, updated_at);
CREATE INDEX IF NOT EXISTS docs_by_user ON docs (coll, tenant, json_extract(body, '$.user_id'));
CREATE INDEX IF NOT EXISTS docs_by_created ON docs (coll, tenant, json_extract(body, '$.created_at'));
PRAGMA analysis_limit=100;
ANALYZE docs;
DELETE FROM sqlite_stat1 WHERE tbl='docs';
INSERT INTO sqlite_stat1 VALUES
  ('docs', 'docs', '1000000 100000 10000 1'),
  ('docs', 'docs_by_time', '1000000 100000 10000 1'),
  ('docs', 'docs_by_user', '1000000 100000 10000 2'),
  ('docs', 'docs_by_created', '1000000 100000 10000 1');
ANALYZE sqlite_schema;";

pub use crate::store::collections::TENANTS;
use crate::store::now_millis;

fn parse_body(text: String) -> Result<Value> {
    serde_json::from_str(&text).map_err(|e| Error::internal(format!("corrupt document: {e}")))
}

impl SqliteDocs {
    /// Opens `path`.
    pub fn open(path: &std::path::Path) -> Result<Self> {
        Ok(Self {
            db: {
                let db = Db::open(path, "document", crate::store::db::Durability::Full, SCHEMA)?;
                db.migrate(
                    2,
                    &TERMS.replace(
                        "?TERM_FIELDS?",
                        &format!("'{}'", serde_json::json!(TERM_FIELDS)),
                    ),
                )?;
                db
            },
        })
    }
}

/// Optimistic concurrency for writes an `If-Match` asked for: `precondition_failed` when the
/// `what` read at `current` is not the version the client sent (`None`: no condition).
pub fn check_if_match(what: &str, if_match: Option<i64>, current: i64) -> Result<()> {
    match if_match {
        Some(v) if v != current => Err(stale(what, v)),
        _ => Ok(()),
    }
}

/// Maps a compare-and-set that lost a race (`conflict` from [`DocumentStore::replace`]) to
/// `precondition_failed` for the client, who must read again.
pub fn lost_race(what: &str, read: i64) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e.code() {
        ErrorCode::Conflict => stale(what, read),
        _ => e,
    }
}

fn stale(what: &str, given: i64) -> Error {
    Error::new(
        ErrorCode::PreconditionFailed,
        format!("the {what} changed since version {given}; read it again"),
    )
}

/// Refuses field names MongoDB reserves (a leading `$`, or a NUL), at any depth, so that every
/// backend stores exactly the same documents.
pub fn check_body(v: &Value) -> Result<()> {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k.starts_with('$') || k.contains('\0') {
                    return Err(Error::new(
                        ErrorCode::ValidationError,
                        format!("field name `{k}` cannot be stored"),
                    ));
                }
                check_body(v)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_body),
        _ => Ok(()),
    }
}

/// Whether `f` may name a filter field (letters, digits, `_`; at most 64 bytes).
/// A field name: `[A-Za-z0-9_]+`, or up to three of them joined by `.` (a nested field,
/// e.g. `detail.user_id`); at most 64 bytes.
pub(crate) fn valid_field(f: &str) -> bool {
    f.len() <= 64
        && f.split('.').count() <= 3
        && f.split('.').all(|seg| {
            !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

impl DocumentStore for SqliteDocs {
    async fn get(&self, coll: &str, tenant: &str, id: &str) -> Result<Option<Doc>> {
        let (coll, tenant, id) = (coll.to_owned(), tenant.to_owned(), id.to_owned());
        self.db
            .read(move |c| {
                let row: Option<(i64, String)> = c
                    .prepare_cached(
                        "SELECT version, body FROM docs WHERE coll=?1 AND tenant=?2 AND id=?3",
                    )
                    .map_err(sql)?
                    .query_row(params![coll, tenant, id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(sql)?;
                row.map(|(version, body)| {
                    Ok(Doc {
                        id,
                        version,
                        body: parse_body(body)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn insert(&self, coll: &str, tenant: &str, id: &str, body: Value) -> Result<Doc> {
        check_body(&body)?;
        let (coll, tenant, id) = (coll.to_owned(), tenant.to_owned(), id.to_owned());
        self.db
            .call(move |c| {
                let n = c
                    .execute(
                        "INSERT INTO docs (coll, tenant, id, version, body, updated_at) VALUES (?1,?2,?3,1,?4,?5)
                         ON CONFLICT DO NOTHING",
                        params![coll, tenant, id, body.to_string(), now_millis()],
                    )
                    .map_err(sql)?;
                if n == 0 {
                    return Err(Error::new(ErrorCode::Conflict, format!("{coll} `{id}` exists")));
                }
                Ok(Doc { id, version: 1, body })
            })
            .await
    }

    async fn insert_many(
        &self,
        coll: &str,
        tenant: &str,
        docs: Vec<(String, Value)>,
    ) -> Result<u64> {
        for (_, body) in &docs {
            check_body(body)?;
        }
        let (coll, tenant) = (coll.to_owned(), tenant.to_owned());
        self.db
            .transaction(move |tx| {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO docs (coll, tenant, id, version, body, updated_at) VALUES (?1,?2,?3,1,?4,?5)",
                    )
                    .map_err(sql)?;
                let now = now_millis();
                for (id, body) in &docs {
                    stmt.execute(params![coll, tenant, id, body.to_string(), now])
                        .map_err(|e| match e {
                            rusqlite::Error::SqliteFailure(f, _)
                                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                            {
                                Error::new(ErrorCode::Conflict, format!("{coll} `{id}` exists"))
                            }
                            e => sql(e),
                        })?;
                }
                Ok(docs.len() as u64)
            })
            .await
    }

    async fn replace(
        &self,
        coll: &str,
        tenant: &str,
        id: &str,
        body: Value,
        expected_version: i64,
    ) -> Result<Doc> {
        check_body(&body)?;
        let (coll, tenant, id) = (coll.to_owned(), tenant.to_owned(), id.to_owned());
        self.db
            .call(move |c| {
                let n = c
                    .execute(
                        "UPDATE docs SET version=version+1, body=?5, updated_at=?6
                         WHERE coll=?1 AND tenant=?2 AND id=?3 AND version=?4",
                        params![
                            coll,
                            tenant,
                            id,
                            expected_version,
                            body.to_string(),
                            now_millis()
                        ],
                    )
                    .map_err(sql)?;
                if n == 1 {
                    return Ok(Doc {
                        id,
                        version: expected_version + 1,
                        body,
                    });
                }
                let exists: bool = c
                    .query_row(
                        "SELECT 1 FROM docs WHERE coll=?1 AND tenant=?2 AND id=?3",
                        params![coll, tenant, id],
                        |_| Ok(true),
                    )
                    .optional()
                    .map_err(sql)?
                    .unwrap_or(false);
                Err(if exists {
                    Error::new(
                        ErrorCode::Conflict,
                        format!("{coll} `{id}` changed concurrently"),
                    )
                } else {
                    Error::new(ErrorCode::NotFound, format!("{coll} `{id}` not found"))
                })
            })
            .await
    }

    async fn upsert(&self, coll: &str, tenant: &str, id: &str, body: Value) -> Result<Doc> {
        check_body(&body)?;
        let (coll, tenant, id) = (coll.to_owned(), tenant.to_owned(), id.to_owned());
        self.db
            .call(move |c| {
                let version: i64 = c
                    .query_row(
                        "INSERT INTO docs (coll, tenant, id, version, body, updated_at) VALUES (?1,?2,?3,1,?4,?5)
                         ON CONFLICT (coll, tenant, id) DO UPDATE SET version=version+1, body=excluded.body,
                         updated_at=excluded.updated_at RETURNING version",
                        params![coll, tenant, id, body.to_string(), now_millis()],
                        |r| r.get(0),
                    )
                    .map_err(sql)?;
                Ok(Doc { id, version, body })
            })
            .await
    }

    async fn delete(&self, coll: &str, tenant: &str, id: &str) -> Result<bool> {
        let (coll, tenant, id) = (coll.to_owned(), tenant.to_owned(), id.to_owned());
        self.db
            .call(move |c| {
                let n = c
                    .execute(
                        "DELETE FROM docs WHERE coll=?1 AND tenant=?2 AND id=?3",
                        params![coll, tenant, id],
                    )
                    .map_err(sql)?;
                Ok(n > 0)
            })
            .await
    }

    async fn query(&self, coll: &str, tenant: &str, query: &Query) -> Result<Page> {
        query.check()?;
        let mut cond = String::from("coll=?1 AND tenant=?2");
        let mut terms: Vec<(String, String)> = Vec::new();
        // `cond` for the walk of the term index: term conditions probed per row.
        let mut joined = String::from("coll=?1 AND tenant=?2");
        let mut args: Vec<String> = vec![coll.to_owned(), tenant.to_owned()];
        for c in &query.conds {
            let before = cond.len();
            match c {
                // `null` also matches a missing field (as MongoDB's equality does).
                Cond::Eq(field, value) if value.is_null() => cond.push_str(&format!(
                    " AND coalesce(json_type(body, '$.{field}'), 'null') = 'null'"
                )),
                // A string: compared as SQL text first, so an expression index on the field
                // (`docs_by_user`) applies; then the JSON type.
                Cond::Eq(field, Value::String(text)) => {
                    args.push(text.clone());
                    let n = args.len();
                    cond.push_str(&format!(
                        " AND json_extract(body, '$.{field}') = ?{n} \
                         AND json_type(body, '$.{field}') = 'text'"
                    ));
                }
                // Same JSON type and same value.
                Cond::Eq(field, value) => {
                    args.push(value.to_string());
                    let n = args.len();
                    cond.push_str(&format!(
                        " AND json_type(body, '$.{field}') = json_type(?{n}) \
                         AND json_extract(body, '$.{field}') = json_extract(?{n}, '$')"
                    ));
                }
                // An indexed array field: the term index, never the documents.
                Cond::Has(field, Value::String(v)) if TERM_FIELDS.contains(&field.as_str()) => {
                    args.push(field.clone());
                    args.push(v.clone());
                    let n = args.len();
                    cond.push_str(&format!(
                        " AND id IN (SELECT id FROM terms WHERE coll=?1 AND tenant=?2 \
                         AND field=?{} AND value=?{n})",
                        n - 1
                    ));
                    // Per row, for a walk driven by another index: `IN` would first list
                    // every holder of the term.
                    joined.push_str(&format!(
                        " AND EXISTS (SELECT 1 FROM terms t WHERE t.coll=?1 AND t.tenant=?2 \
                         AND t.field=?{} AND t.value=?{n} AND t.id=docs.id)",
                        n - 1
                    ));
                    terms.push((field.clone(), v.clone()));
                    continue;
                }
                Cond::Has(field, value) => {
                    args.push(value.to_string());
                    let n = args.len();
                    cond.push_str(&format!(
                        " AND json_type(body, '$.{field}') = 'array' AND EXISTS (SELECT 1 FROM \
                         json_each(body, '$.{field}') e WHERE e.type = json_type(?{n}) \
                         AND e.value = json_extract(?{n}, '$'))"
                    ));
                }
                Cond::Present(field) => cond.push_str(&format!(
                    " AND coalesce(json_type(body, '$.{field}'), 'null') != 'null'"
                )),
                Cond::In(field, values) => {
                    args.push(
                        serde_json::to_string(values)
                            .map_err(|e| Error::internal(e.to_string()))?,
                    );
                    let n = args.len();
                    // `json_extract(...) IN` first, so the expression index on the field
                    // (`docs_by_user`) applies; the type check after it keeps numbers out.
                    cond.push_str(&format!(
                        " AND json_extract(body, '$.{field}') IN (SELECT value FROM json_each(?{n})) \
                         AND json_type(body, '$.{field}') = 'text'"
                    ));
                }
                Cond::Between(field, min, max) => {
                    cond.push_str(&format!(
                        " AND json_type(body, '$.{field}') IN ('integer', 'real')"
                    ));
                    if let Some(min) = min {
                        cond.push_str(&format!(" AND json_extract(body, '$.{field}') >= {min}"));
                    }
                    if let Some(max) = max {
                        cond.push_str(&format!(" AND json_extract(body, '$.{field}') < {max}"));
                    }
                }
                Cond::Text(fields, text) => {
                    args.push(text.to_ascii_lowercase());
                    let n = args.len();
                    let any: Vec<String> = fields
                        .iter()
                        .map(|f| {
                            format!(
                                "(json_type(body, '$.{f}') = 'text' AND \
                                 instr(lower(json_extract(body, '$.{f}')), ?{n}) > 0)"
                            )
                        })
                        .collect();
                    cond.push_str(&format!(" AND ({})", any.join(" OR ")));
                }
            }
            joined.push_str(&cond[before..]);
        }
        let order = match &query.sort {
            Sort::Newest => "updated_at DESC, id".to_owned(),
            Sort::By { field, descending } => format!(
                "json_extract(body, '$.{field}') {}, id",
                if *descending { "DESC" } else { "ASC" }
            ),
        };
        // Only live documents (`deleted_at` unset): the term index's counts and its
        // creation-time order apply.
        let live_only = query
            .conds
            .iter()
            .any(|c| matches!(c, Cond::Eq(d, Value::Null) if d == "deleted_at"));
        // Nothing but "live and holding this term": `total` is the term's live count.
        let only_term = live_only && terms.len() == 1 && query.conds.len() == 2;
        let (coll_arg, tenant_arg) = (coll.to_owned(), tenant.to_owned());
        let by_created = match &query.sort {
            Sort::By { field, descending } if field == "created_at" => {
                Some(if *descending { "DESC" } else { "ASC" })
            }
            _ => None,
        };
        let limit = query.limit.min(1000) as i64;
        let offset = query.offset.min(i64::MAX as u64) as i64;
        self.db
            .call(move |c| {
                // The rarest term drives a page of live documents sorted by creation time:
                // its rows in the term index are already in that order, so the page reads
                // its own documents (and those the other conditions refuse), never every
                // match; counts come from `term_counts`.
                let mut rarest: Option<(i64, &(String, String))> = None;
                if live_only {
                    for t in &terms {
                        let n: i64 = c
                            .prepare_cached(
                                "SELECT coalesce((SELECT n FROM term_counts WHERE coll=?1 \
                                 AND tenant=?2 AND field=?3 AND value=?4), 0)",
                            )
                            .map_err(sql)?
                            .query_row(params![coll_arg, tenant_arg, t.0, t.1], |r| r.get(0))
                            .map_err(sql)?;
                        if rarest.is_none_or(|(m, _)| n < m) {
                            rarest = Some((n, t));
                        }
                    }
                }
                let counted = rarest.filter(|_| only_term).map(|(n, _)| n);
                let mut page_args = args.clone();
                let sql_text = match (by_created, rarest) {
                    (Some(dir), Some((_, (field, value)))) => {
                        page_args.push(field.clone());
                        page_args.push(value.clone());
                        let n = page_args.len();
                        format!(
                            "SELECT id, version, body FROM (SELECT id AS tid, created AS tcreated \
                             FROM terms INDEXED BY terms_by_created WHERE coll=?1 AND tenant=?2 \
                             AND field=?{} AND value=?{n} AND live=1) \
                             JOIN docs ON docs.coll=?1 AND docs.tenant=?2 AND docs.id=tid \
                             WHERE {joined} ORDER BY tcreated {dir}, tid LIMIT {limit} OFFSET {offset}",
                            n - 1
                        )
                    }
                    _ => format!(
                        "SELECT id, version, body FROM docs WHERE {cond} ORDER BY {order} \
                         LIMIT {limit} OFFSET {offset}"
                    ),
                };
                // Cached: a query's text depends on its shape (fields, page size), not its
                // values, so the same listing reuses its compiled statement.
                let mut stmt = c.prepare_cached(&sql_text).map_err(sql)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(page_args.iter()), |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                    })
                    .map_err(sql)?;
                let mut items = Vec::new();
                for row in rows {
                    let (id, version, body) = row.map_err(sql)?;
                    items.push(Doc { id, version, body: parse_body(body)? });
                }
                // A first page that is not full is everything: no second pass to count.
                let total = if let Some(n) = counted {
                    n
                } else if offset == 0 && (items.len() as i64) < limit {
                    items.len() as i64
                } else {
                    c.query_row(
                        &format!("SELECT count(*) FROM docs WHERE {cond}"),
                        rusqlite::params_from_iter(args.iter()),
                        |r| r.get(0),
                    )
                    .map_err(sql)?
                };
                Ok(Page { items, total: total.max(0) as u64 })
            })
            .await
    }

    async fn tenants(&self) -> Result<Vec<String>> {
        self.db
            .call(|c| {
                let mut stmt = c
                    .prepare("SELECT id FROM docs WHERE coll='tenants' AND tenant=id ORDER BY id")
                    .map_err(sql)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(sql)?;
                rows.map(|r| r.map_err(sql)).collect()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (SqliteDocs, std::path::PathBuf) {
        let dir = crate::store::temp_dir("docs");
        (SqliteDocs::open(&dir.join("docs.db")).unwrap(), dir)
    }

    #[tokio::test]
    async fn crud_versions_and_tenant_isolation() {
        let (s, dir) = store();
        let d = s
            .insert("users", "t1", "u1", json!({"name": "a", "n": 1}))
            .await
            .unwrap();
        assert_eq!(d.version, 1);
        assert_eq!(
            s.insert("users", "t1", "u1", json!({}))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Conflict
        );
        // Same id in another tenant is another document.
        s.insert("users", "t2", "u1", json!({"name": "b"}))
            .await
            .unwrap();
        assert_eq!(
            s.get("users", "t2", "u1").await.unwrap().unwrap().body["name"],
            json!("b")
        );
        let d2 = s
            .replace("users", "t1", "u1", json!({"name": "a2"}), 1)
            .await
            .unwrap();
        assert_eq!(d2.version, 2);
        assert_eq!(
            s.replace("users", "t1", "u1", json!({}), 1)
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Conflict
        );
        assert_eq!(
            s.replace("users", "t1", "nope", json!({}), 1)
                .await
                .unwrap_err()
                .code(),
            ErrorCode::NotFound
        );
        let page = s
            .find("users", "t1", &[("name", json!("a2"))], 0, 10)
            .await
            .unwrap();
        assert_eq!((page.total, page.items.len()), (1, 1));
        let none = s
            .find("users", "t1", &[("name", json!("b"))], 0, 10)
            .await
            .unwrap();
        assert_eq!(none.total, 0);
        assert!(s.delete("users", "t1", "u1").await.unwrap());
        assert!(!s.delete("users", "t1", "u1").await.unwrap());
        assert_eq!(s.upsert("x", "t1", "k", json!(1)).await.unwrap().version, 1);
        assert_eq!(s.upsert("x", "t1", "k", json!(2)).await.unwrap().version, 2);
        std::fs::remove_dir_all(dir).ok();
    }

    /// A page driven by the term index equals the one a sort of every match gives (creation
    /// time, then id, in both directions; ties included), and its counts follow inserts,
    /// updates, soft and hard deletes.
    #[tokio::test]
    async fn term_driven_pages_match_a_full_sort_and_counts_follow_writes() {
        let (s, dir) = store();
        let n = 300usize;
        // (id, created_at, roles, deleted)
        let mut model: Vec<(String, i64, Vec<String>, bool)> = (0..n)
            .map(|i| {
                let roles = vec!["r".to_owned(), format!("x{}", i % 3)];
                (format!("u{i:05}"), (i / 2) as i64, roles, i == n - 1)
            })
            .collect();
        let body = |m: &(String, i64, Vec<String>, bool)| {
            let mut b = json!({"roles": m.2, "created_at": m.1, "name": format!("n{}", m.1 % 5)});
            if m.3 {
                b["deleted_at"] = json!(1);
            }
            b
        };
        let docs: Vec<(String, Value)> = model.iter().map(|m| (m.0.clone(), body(m))).collect();
        s.insert_many("users", "t", docs).await.unwrap();
        // Writes after the bulk insert: a soft delete, a role removed, a hard delete.
        for (i, change) in [(10usize, "soft"), (11, "role"), (12, "hard")] {
            let id = model[i].0.clone();
            match change {
                "soft" => model[i].3 = true,
                "role" => model[i].2 = vec![format!("x{}", i % 3)],
                _ => {
                    assert!(s.delete("users", "t", &id).await.unwrap());
                    model.remove(i);
                    continue;
                }
            }
            let cur = s.get("users", "t", &id).await.unwrap().unwrap();
            s.replace("users", "t", &id, body(&model[i]), cur.version)
                .await
                .unwrap();
        }
        // An upsert (its own conflict clause) of a document naming a role twice.
        let extra = (
            "u99999".to_owned(),
            0,
            vec!["r".to_owned(), "r".to_owned(), "x0".to_owned()],
            false,
        );
        s.upsert("users", "t", &extra.0, body(&extra))
            .await
            .unwrap();
        s.upsert("users", "t", &extra.0, body(&extra))
            .await
            .unwrap();
        model.push(extra);
        let shapes: Vec<(Vec<&str>, Option<&str>)> = vec![
            (vec!["r"], None),
            (vec!["x0"], None),
            (vec!["r", "x1"], None),
            (vec!["r"], Some("n3")),
        ];
        for (roles, name) in shapes {
            for descending in [true, false] {
                for (offset, limit) in [(0usize, 7usize), (2, 3), (140, 50)] {
                    let mut conds: Vec<Cond> = roles
                        .iter()
                        .map(|r| Cond::Has("roles".into(), json!(r)))
                        .collect();
                    conds.push(Cond::Eq("deleted_at".into(), Value::Null));
                    if let Some(nm) = name {
                        conds.push(Cond::Eq("name".into(), json!(nm)));
                    }
                    let q = Query {
                        conds,
                        sort: Sort::By {
                            field: "created_at".into(),
                            descending,
                        },
                        offset: offset as u64,
                        limit: limit as u64,
                    };
                    let mut matches: Vec<&(String, i64, Vec<String>, bool)> = model
                        .iter()
                        .filter(|m| {
                            !m.3 && roles.iter().all(|r| m.2.iter().any(|x| x == r))
                                && name.is_none_or(|nm| format!("n{}", m.1 % 5) == nm)
                        })
                        .collect();
                    matches.sort_by(|a, b| {
                        let by_time = if descending {
                            b.1.cmp(&a.1)
                        } else {
                            a.1.cmp(&b.1)
                        };
                        by_time.then(a.0.cmp(&b.0))
                    });
                    let expect: Vec<String> = matches
                        .iter()
                        .skip(offset)
                        .take(limit)
                        .map(|m| m.0.clone())
                        .collect();
                    let page = s.query("users", "t", &q).await.unwrap();
                    let got: Vec<String> = page.items.iter().map(|d| d.id.clone()).collect();
                    let what = format!("{roles:?} {name:?} desc={descending} {offset}+{limit}");
                    assert_eq!(got, expect, "{what}");
                    assert_eq!(page.total, matches.len() as u64, "{what}");
                }
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn documents_written_before_the_term_index_are_found_after_an_upgrade() {
        let (s, dir) = store();
        s.insert("users", "t", "u1", json!({"roles": ["a"]}))
            .await
            .unwrap();
        // The database as version 1 left it: a term index without creation times or
        // counts, which did not hold this document.
        s.db.call(|c| {
            c.execute_batch(
                "DROP TRIGGER docs_terms_insert; DROP TRIGGER docs_terms_update;
                 DROP TRIGGER docs_terms_delete; DROP TABLE term_counts; DROP TABLE terms;
                 CREATE TABLE terms (coll TEXT NOT NULL, tenant TEXT NOT NULL,
                   field TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL,
                   live INTEGER NOT NULL, PRIMARY KEY (coll, tenant, field, value, id))
                   WITHOUT ROWID;
                 PRAGMA user_version=1;",
            )
            .map_err(sql)
        })
        .await
        .unwrap();
        let has_a = Query {
            conds: vec![
                Cond::Has("roles".into(), json!("a")),
                Cond::Eq("deleted_at".into(), Value::Null),
            ],
            sort: Sort::By {
                field: "created_at".into(),
                descending: true,
            },
            offset: 0,
            limit: 10,
        };
        assert!(s.query("users", "t", &has_a).await.is_err());
        drop(s);
        let again = SqliteDocs::open(&dir.join("docs.db")).unwrap();
        let page = again.query("users", "t", &has_a).await.unwrap();
        assert_eq!(page.items.len(), 1, "backfilled on open");
        assert_eq!(page.total, 1, "counted on open");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_inserts_of_one_id_yield_one_document() {
        let (s, dir) = store();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.insert("identifiers", "t", "email:a@x.io", json!({"i": i}))
                    .await
                    .is_ok()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap() as usize;
        }
        assert_eq!(ok, 1);
        std::fs::remove_dir_all(dir).ok();
    }
}
