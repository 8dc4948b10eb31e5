//! A client for the MongoDB Data API (the Atlas Data API v1 action endpoints, as also served by
//! FerretDB), written over [`HttpTransport`] so that it runs natively (reqwest) and builds for
//! the edge targets.
//!
//! Protocol: `POST {base}/action/{findOne|find|insertOne|insertMany|updateOne|updateMany|
//! deleteOne|deleteMany|aggregate}` with `{"dataSource", "database", "collection", …}`; this
//! client sends and asks for canonical Extended JSON (`application/ejson`, see [`crate::ejson`]),
//! so 64-bit integers, doubles, dates, ObjectIds and binary keep their types both ways.
//!
//! Errors: 401/403 (bad credentials) and 404 (wrong URL) are `configuration_error`; a duplicate
//! key is `conflict`; any other 4xx means this client sent something the server refuses
//! (`internal_error` with the server's message); 5xx, network failures, timeouts and malformed
//! answers are `service_unavailable`. Reads are retried (at most [`READ_RETRIES`] times, at
//! once) because repeating them is harmless; writes are never retried here, since their
//! outcome may be unknown: the caller decides (e.g. a compare-and-set re-reads first).

use serde_json::{json, Value};

use crate::transport::{HttpRequest, HttpTransport};
use crate::{Error, ErrorCode, Result};

/// Extra attempts of a read that met `service_unavailable`.
pub const READ_RETRIES: u32 = 2;

/// How the client authenticates.
#[derive(Clone)]
pub enum Auth {
    /// `apiKey: …` (Atlas API keys).
    ApiKey(String),
    /// HTTP Basic (FerretDB's Data API).
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer …` (an access token).
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::ApiKey(_) => "ApiKey(..)",
            Auth::Basic { .. } => "Basic(..)",
            Auth::Bearer(_) => "Bearer(..)",
        })
    }
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, up to (not including) `/action/…`.
    pub base_url: String,
    /// The `dataSource` (Atlas: the linked cluster, commonly `mongodb-atlas`).
    pub data_source: String,
    /// Database name.
    pub database: String,
}

/// Options of `find`.
#[derive(Debug, Clone, Default)]
pub struct Find {
    /// Query filter (Extended JSON).
    pub filter: Value,
    /// Projection, if any.
    pub projection: Option<Value>,
    /// Sort keys in order, `1` ascending, `-1` descending (kept in order on the wire: MongoDB
    /// sorts by the first key first).
    pub sort: Vec<(String, i8)>,
    /// Documents to skip.
    pub skip: u64,
    /// Most documents to return (0: no limit).
    pub limit: u64,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents changed.
    pub modified: u64,
    /// The id of the document an upsert inserted.
    pub upserted_id: Option<Value>,
}

/// A Data API client.
#[derive(Debug, Clone)]
pub struct DataApi<T> {
    target: Target,
    auth: Auth,
    transport: T,
}

impl<T: HttpTransport> DataApi<T> {
    /// A client for `target`.
    pub fn new(mut target: Target, auth: Auth, transport: T) -> Self {
        target.base_url = target.base_url.trim_end_matches('/').to_owned();
        Self {
            target,
            auth,
            transport,
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs one action once; the answer's body.
    pub async fn action(&self, name: &str, collection: &str, body: Value) -> Result<Value> {
        self.action_with(name, collection, body, &[]).await
    }

    /// Runs one action once, with `ordered` members appended to the body in the given order
    /// (JSON objects here do not keep insertion order; a sort specification must).
    async fn action_with(
        &self,
        name: &str,
        collection: &str,
        mut body: Value,
        ordered: &[(&str, Vec<(String, i8)>)],
    ) -> Result<Value> {
        if let Value::Object(map) = &mut body {
            map.insert("dataSource".into(), json!(self.target.data_source));
            map.insert("database".into(), json!(self.target.database));
            map.insert("collection".into(), json!(collection));
        }
        let mut text = body.to_string();
        for (member, pairs) in ordered {
            if text.ends_with('}') && !pairs.is_empty() {
                text.pop();
                let spec: Vec<String> = pairs
                    .iter()
                    .map(|(k, d)| format!("{}:{d}", Value::from(k.as_str())))
                    .collect();
                text.push_str(&format!(",\"{member}\":{{{}}}}}", spec.join(",")));
            }
        }
        let mut req = HttpRequest {
            method: crate::transport::Method::Post,
            url: format!("{}/action/{name}", self.target.base_url),
            headers: vec![
                ("content-type".into(), "application/ejson".into()),
                ("accept".into(), "application/ejson".into()),
            ],
            body: text.into_bytes(),
        };
        req = match &self.auth {
            Auth::ApiKey(k) => req.header("apiKey", k.clone()),
            Auth::Basic { user, password } => req.header(
                "authorization",
                format!(
                    "Basic {}",
                    crate::encoding::b64_encode(format!("{user}:{password}").as_bytes())
                ),
            ),
            Auth::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        };
        let res = self.transport.send(req).await?;
        let parsed: Option<Value> = serde_json::from_slice(&res.body).ok();
        let message = || {
            parsed
                .as_ref()
                .and_then(|v| v.get("error"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {}", res.status))
        };
        match res.status {
            200..=299 => parsed.ok_or_else(|| {
                Error::unavailable(format!("Data API {name}: the answer is not JSON"))
            }),
            401 | 403 => Err(Error::new(
                ErrorCode::ConfigurationError,
                format!("Data API rejected the credentials: {}", message()),
            )),
            404 => Err(Error::new(
                ErrorCode::ConfigurationError,
                format!("Data API {name}: not found (check the URL): {}", message()),
            )),
            _ if is_duplicate_key(res.status, parsed.as_ref()) => Err(Error::new(
                ErrorCode::Conflict,
                format!("duplicate key: {}", message()),
            )),
            s if s >= 500 || s == 429 || s == 408 => Err(Error::unavailable(format!(
                "Data API {name}: HTTP {s}: {}",
                message()
            ))),
            s => Err(Error::internal(format!(
                "Data API {name} refused the request (HTTP {s}): {}",
                message()
            ))),
        }
    }

    async fn read(&self, name: &str, collection: &str, body: Value) -> Result<Value> {
        self.read_with(name, collection, body, &[]).await
    }

    async fn read_with(
        &self,
        name: &str,
        collection: &str,
        body: Value,
        ordered: &[(&str, Vec<(String, i8)>)],
    ) -> Result<Value> {
        let mut attempt = 0;
        loop {
            match self
                .action_with(name, collection, body.clone(), ordered)
                .await
            {
                Err(e) if e.code() == ErrorCode::ServiceUnavailable && attempt < READ_RETRIES => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// `findOne`: the first document matching `filter`, if any.
    pub async fn find_one(&self, collection: &str, filter: Value) -> Result<Option<Value>> {
        let answer = self
            .read("findOne", collection, json!({ "filter": filter }))
            .await?;
        match answer.get("document") {
            Some(Value::Null) => Ok(None),
            Some(doc @ Value::Object(_)) => Ok(Some(doc.clone())),
            _ => Err(shape("findOne", "document")),
        }
    }

    /// `find`.
    pub async fn find(&self, collection: &str, find: Find) -> Result<Vec<Value>> {
        let mut body = json!({ "filter": find.filter });
        if let Some(p) = find.projection {
            body["projection"] = p;
        }

        if find.skip > 0 {
            body["skip"] = json!(find.skip);
        }
        if find.limit > 0 {
            body["limit"] = json!(find.limit);
        }
        let ordered = [("sort", find.sort)];
        documents(
            "find",
            &self.read_with("find", collection, body, &ordered).await?,
        )
    }

    /// `aggregate`.
    pub async fn aggregate(&self, collection: &str, pipeline: Value) -> Result<Vec<Value>> {
        let answer = self
            .read("aggregate", collection, json!({ "pipeline": pipeline }))
            .await?;
        documents("aggregate", &answer)
    }

    /// Documents matching `filter` (an `aggregate` with `$count`).
    pub async fn count(&self, collection: &str, filter: Value) -> Result<u64> {
        let docs = self
            .aggregate(collection, json!([{ "$match": filter }, { "$count": "n" }]))
            .await?;
        match docs.first() {
            None => Ok(0),
            Some(d) => crate::ejson::parse_long(&d["n"])
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| shape("aggregate", "n")),
        }
    }

    /// `insertOne`: the inserted id. A duplicate `_id` is `conflict`.
    pub async fn insert_one(&self, collection: &str, document: Value) -> Result<Value> {
        let answer = self
            .action("insertOne", collection, json!({ "document": document }))
            .await?;
        answer
            .get("insertedId")
            .cloned()
            .ok_or_else(|| shape("insertOne", "insertedId"))
    }

    /// `insertMany` (ordered): the inserted ids.
    pub async fn insert_many(&self, collection: &str, documents: Vec<Value>) -> Result<Vec<Value>> {
        let answer = self
            .action("insertMany", collection, json!({ "documents": documents }))
            .await?;
        answer
            .get("insertedIds")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| shape("insertMany", "insertedIds"))
    }

    /// `updateOne`.
    pub async fn update_one(
        &self,
        collection: &str,
        filter: Value,
        update: Value,
        upsert: bool,
    ) -> Result<Updated> {
        let body = json!({ "filter": filter, "update": update, "upsert": upsert });
        updated(
            "updateOne",
            &self.action("updateOne", collection, body).await?,
        )
    }

    /// `updateMany`.
    pub async fn update_many(
        &self,
        collection: &str,
        filter: Value,
        update: Value,
    ) -> Result<Updated> {
        let body = json!({ "filter": filter, "update": update });
        updated(
            "updateMany",
            &self.action("updateMany", collection, body).await?,
        )
    }

    /// `deleteOne`: documents deleted (0 or 1).
    pub async fn delete_one(&self, collection: &str, filter: Value) -> Result<u64> {
        deleted(
            "deleteOne",
            &self
                .action("deleteOne", collection, json!({ "filter": filter }))
                .await?,
        )
    }

    /// `deleteMany`: documents deleted.
    pub async fn delete_many(&self, collection: &str, filter: Value) -> Result<u64> {
        deleted(
            "deleteMany",
            &self
                .action("deleteMany", collection, json!({ "filter": filter }))
                .await?,
        )
    }
}

fn shape(action: &str, field: &str) -> Error {
    Error::unavailable(format!(
        "Data API {action}: the answer has no valid `{field}`"
    ))
}

fn count_of(action: &str, answer: &Value, field: &str) -> Result<u64> {
    crate::ejson::parse_long(answer.get(field).unwrap_or(&Value::Null))
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| shape(action, field))
}

fn documents(action: &str, answer: &Value) -> Result<Vec<Value>> {
    answer
        .get("documents")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| shape(action, "documents"))
}

fn updated(action: &str, answer: &Value) -> Result<Updated> {
    Ok(Updated {
        matched: count_of(action, answer, "matchedCount")?,
        modified: count_of(action, answer, "modifiedCount")?,
        upserted_id: answer.get("upsertedId").cloned(),
    })
}

fn deleted(action: &str, answer: &Value) -> Result<u64> {
    count_of(action, answer, "deletedCount")
}

/// Whether an error answer reports a duplicate key (MongoDB error 11000), whatever the server's
/// status and wording.
fn is_duplicate_key(status: u16, body: Option<&Value>) -> bool {
    if status == 409 {
        return true;
    }
    let Some(body) = body else { return false };
    let code = body.get("error_code").and_then(Value::as_str).unwrap_or("");
    let text = body.get("error").and_then(Value::as_str).unwrap_or("");
    code.eq_ignore_ascii_case("DuplicateKey")
        || text.contains("E11000")
        || text.to_ascii_lowercase().contains("duplicate key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::HttpResponse;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Answers queued responses and records requests.
    struct Scripted {
        answers: Mutex<VecDeque<Result<HttpResponse>>>,
        seen: Mutex<Vec<HttpRequest>>,
    }

    impl HttpTransport for &Scripted {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
            self.seen.lock().unwrap().push(request);
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(Error::unavailable("no answer")))
        }
    }

    fn answer(status: u16, body: &str) -> Result<HttpResponse> {
        Ok(HttpResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        })
    }

    fn client(s: &Scripted) -> DataApi<&Scripted> {
        DataApi::new(
            Target {
                base_url: "https://data.example/app/x/endpoint/data/v1/".into(),
                data_source: "mongodb-atlas".into(),
                database: "usso".into(),
            },
            Auth::ApiKey("k".into()),
            s,
        )
    }

    fn scripted(answers: Vec<Result<HttpResponse>>) -> Scripted {
        Scripted {
            answers: Mutex::new(answers.into()),
            seen: Mutex::new(vec![]),
        }
    }

    #[tokio::test]
    async fn requests_and_answers() {
        let s = scripted(vec![
            answer(200, r#"{"document":{"_id":"a","n":{"$numberLong":"5"}}}"#),
            answer(201, r#"{"insertedId":"b"}"#),
            answer(
                200,
                r#"{"matchedCount":{"$numberInt":"1"},"modifiedCount":1,"upsertedId":"c"}"#,
            ),
            answer(200, r#"{"documents":[{"n":{"$numberInt":"3"}}]}"#),
        ]);
        let c = client(&s);
        let doc = c
            .find_one("users", json!({"_id": "a"}))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(crate::ejson::parse_long(&doc["n"]), Some(5));
        assert_eq!(
            c.insert_one("users", json!({"_id": "b"})).await.unwrap(),
            json!("b")
        );
        let u = c
            .update_one("users", json!({}), json!({"$set": {"x": 1}}), true)
            .await
            .unwrap();
        assert_eq!(
            (u.matched, u.modified, u.upserted_id),
            (1, 1, Some(json!("c")))
        );
        assert_eq!(c.count("users", json!({})).await.unwrap(), 3);
        let seen = s.seen.lock().unwrap();
        assert_eq!(
            seen[0].url,
            "https://data.example/app/x/endpoint/data/v1/action/findOne"
        );
        let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
        assert_eq!(body["dataSource"], "mongodb-atlas");
        assert_eq!(body["database"], "usso");
        assert_eq!(body["collection"], "users");
        assert!(seen[0]
            .headers
            .iter()
            .any(|(n, v)| n == "apiKey" && v == "k"));
        assert!(seen[0]
            .headers
            .iter()
            .any(|(n, v)| n == "accept" && v == "application/ejson"));
        assert_eq!(seen[3].url.rsplit('/').next(), Some("aggregate"));
    }

    #[tokio::test]
    async fn sort_keys_keep_their_order() {
        let s = scripted(vec![answer(200, r#"{"documents":[]}"#)]);
        let find = Find {
            filter: json!({"tenant": "t"}),
            sort: vec![("updated_at".into(), -1), ("doc_id".into(), 1)],
            limit: 5,
            ..Find::default()
        };
        client(&s).find("c", find).await.unwrap();
        let text = String::from_utf8(s.seen.lock().unwrap()[0].body.clone()).unwrap();
        assert!(
            text.ends_with(r#","sort":{"updated_at":-1,"doc_id":1}}"#),
            "{text}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["limit"], 5);
    }

    #[tokio::test]
    async fn errors_are_classified_and_only_reads_retry() {
        let s = scripted(vec![
            answer(503, "busy"),
            answer(502, ""),
            answer(200, r#"{"document":null}"#),
        ]);
        assert_eq!(client(&s).find_one("c", json!({})).await.unwrap(), None);
        assert_eq!(s.seen.lock().unwrap().len(), 3, "a read is retried");

        let s = scripted(vec![
            answer(503, "busy"),
            answer(200, r#"{"insertedId":"x"}"#),
        ]);
        let e = client(&s).insert_one("c", json!({})).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::ServiceUnavailable);
        assert_eq!(s.seen.lock().unwrap().len(), 1, "a write is not retried");

        for (status, body, code) in [
            (
                401,
                r#"{"error":"invalid session","error_code":"InvalidSession"}"#,
                ErrorCode::ConfigurationError,
            ),
            (404, "", ErrorCode::ConfigurationError),
            (
                409,
                r#"{"error":"E11000 duplicate key error"}"#,
                ErrorCode::Conflict,
            ),
            (
                400,
                r#"{"error":"Duplicate key error","error_code":"DuplicateKey"}"#,
                ErrorCode::Conflict,
            ),
            (
                400,
                r#"{"error":"unknown operator $foo","error_code":"InvalidParameter"}"#,
                ErrorCode::InternalError,
            ),
            (200, "not json", ErrorCode::ServiceUnavailable),
            (200, r#"{"unexpected":true}"#, ErrorCode::ServiceUnavailable),
        ] {
            let s = scripted(vec![answer(status, body)]);
            let e = client(&s).insert_one("c", json!({})).await.unwrap_err();
            assert_eq!(e.code(), code, "{status} {body}");
        }
        let s = scripted(vec![Err(Error::unavailable("timed out"))]);
        let e = client(&s).delete_one("c", json!({})).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::ServiceUnavailable);
    }
}
