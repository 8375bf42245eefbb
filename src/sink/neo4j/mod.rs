//! The Neo4j sink: connection, schema set-up, batched `UNWIND … MERGE`
//! writes with retries, and the completion protocol of `docs/neo4j-model.md`.
//!
//! Roles: [`config`] (connection and write settings), `retry` (the retry
//! decision, tested on its own), and [`Neo4jSink`] here (the connection and
//! the write protocol). The statements, constraints and parameter rows it
//! sends come from [`store`](crate::store).

pub mod config;
pub(crate) mod retry;

use crate::correlate::IndicatorKind;
use crate::store::{schema_statements, Label, Prop, Row, Rows};
pub use config::{IngestSettings, Neo4jSettings, Secret};
use neo4rs::{BoltList, BoltMap, BoltNull, BoltString, BoltType, ConfigBuilder, Graph, Query};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// A database failure, already phrased for the user (never with the password).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to {uri}: {reason}")]
    Connect { uri: String, reason: String },
    #[error("{what}: {source}")]
    Query { what: String, source: neo4rs::Error },
    /// A limit that no retry can fix (the query is not retried).
    #[error("{what}: {limit}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Limit {
        what: String,
        limit: retry::Limit,
        /// The server's code and message, when the server stopped it.
        detail: Option<String>,
    },
    #[error("{what}: gave up after {attempts} attempts over {secs}s; last error: {last}")]
    GaveUp {
        what: String,
        attempts: u32,
        secs: u64,
        last: String,
    },
}

/// How [`Neo4jSink::with_retry`] treats failures.
#[derive(Clone, Copy)]
struct Policy {
    /// Longest one attempt may take (`None`: the caller bounds the whole).
    attempt_timeout: Option<Duration>,
    /// A retry starts only while this much time has not passed.
    retry_for: Duration,
    /// Which errors are worth another attempt.
    retriable: fn(&neo4rs::Error) -> bool,
}

pub struct Neo4jSink {
    /// Replaced by a fresh pool after a timeout (see `with_retry`).
    graph: std::sync::Mutex<Graph>,
    config: neo4rs::Config,
    database: String,
    /// Batching and retries of writes.
    writes: IngestSettings,
}

/// What a write sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub nodes: u64,
    pub rels: u64,
}

/// One property value as a Bolt value.
pub fn bolt(p: &Prop) -> BoltType {
    match p {
        Prop::Null => BoltType::Null(BoltNull),
        Prop::Bool(b) => BoltType::from(*b),
        Prop::Int(i) => BoltType::from(*i),
        Prop::Float(f) => BoltType::from(*f),
        Prop::Str(s) => BoltType::from(s.as_str()),
        Prop::List(items) => {
            let mut l = BoltList::with_capacity(items.len());
            for s in items {
                l.push(BoltType::from(s.as_str()));
            }
            BoltType::List(l)
        }
        Prop::Ints(items) => {
            let mut l = BoltList::with_capacity(items.len());
            for i in items {
                l.push(BoltType::from(*i));
            }
            BoltType::List(l)
        }
    }
}

/// A JSON parameter value as a Bolt value (numbers as integers when whole).
pub fn json_to_bolt(v: &serde_json::Value) -> BoltType {
    use serde_json::Value;
    match v {
        Value::Null => BoltType::Null(BoltNull),
        Value::Bool(b) => BoltType::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => BoltType::from(i),
            None => BoltType::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => BoltType::from(s.as_str()),
        Value::Array(items) => {
            let mut l = BoltList::with_capacity(items.len());
            for i in items {
                l.push(json_to_bolt(i));
            }
            BoltType::List(l)
        }
        Value::Object(map) => {
            let mut m = BoltMap::with_capacity(map.len());
            for (k, v) in map {
                m.put(BoltString::new(k), json_to_bolt(v));
            }
            BoltType::Map(m)
        }
    }
}

/// Rows as the `$rows` parameter of a statement (also used by the benchmark's
/// minimal writer, so both send exactly the same values).
pub fn bolt_rows(rows: &[Row]) -> BoltType {
    let mut list = BoltList::with_capacity(rows.len());
    for row in rows {
        let mut m = BoltMap::with_capacity(row.len());
        for (k, v) in row {
            m.put(BoltString::new(k), bolt(v));
        }
        list.push(BoltType::Map(m));
    }
    BoltType::List(list)
}

/// The URI without any `user:password@` part, for messages.
pub fn redact_uri(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").map_or(("", uri), |(s, r)| (s, r));
    let host_start = rest.find('/').unwrap_or(rest.len());
    let rest = match rest[..host_start].rfind('@') {
        Some(at) => format!("***@{}", &rest[at + 1..]),
        None => rest.to_owned(),
    };
    if scheme.is_empty() {
        rest
    } else {
        format!("{scheme}://{rest}")
    }
}

/// The URI neo4rs connects to: `neo4j://` schemes become `bolt://` ones, so
/// that graphmalw talks to the one server named, as documented. (neo4rs 0.9
/// turns `neo4j://` into client-side routing, which it calls experimental:
/// it needs the `ROUTE` message, which ArcadeDB does not answer, and hides a
/// TLS failure behind "no available writers".)
fn direct_uri(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) if scheme.starts_with("neo4j") => format!("bolt{}://{rest}", &scheme[5..]),
        _ => uri.to_owned(),
    }
}

/// A readable description of a connection failure.
fn connect_reason(e: &neo4rs::Error) -> String {
    match e {
        neo4rs::Error::AuthenticationError(m) => {
            format!("authentication failed ({m}); check the user and password")
        }
        neo4rs::Error::Neo4j(n) if n.code() == "Neo.ClientError.Security.Unauthorized" => {
            "authentication failed; check the user and password".into()
        }
        neo4rs::Error::Neo4j(n) if n.code() == "Neo.ClientError.Database.DatabaseNotFound" => {
            format!("database not found ({})", n.message())
        }
        neo4rs::Error::IOError { detail } if detail.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: is the server running and listening for Bolt there?".into()
        }
        // A failure of the first BEGIN comes back as an unexpected message
        // that quotes the server's code and message.
        neo4rs::Error::UnexpectedMessage(m) if retry::embedded_code(m).is_some() => {
            let code = retry::embedded_code(m).unwrap_or_default();
            let message = retry::embedded_message(m).unwrap_or_default();
            match code {
                "Neo.ClientError.Database.DatabaseNotFound" => format!("database not found ({message})"),
                "Neo.ClientError.Security.Unauthorized" => "authentication failed; check the user and password".into(),
                _ => format!("the server refused: {code}: {message}"),
            }
        }
        neo4rs::Error::UnsupportedVersion(..)
        | neo4rs::Error::ProtocolMismatch(_)
        | neo4rs::Error::UnexpectedMessage(_)
        | neo4rs::Error::UnknownMessage(_) => {
            format!("the server did not answer as a Bolt server ({e})")
        }
        neo4rs::Error::IOError { detail } if detail.to_string().contains("certificate") => format!(
            "TLS failed ({detail}): the server's certificate is not trusted by the system's certificate \
             store; add its CA there, or set SSL_CERT_FILE to a PEM file that holds it"
        ),
        neo4rs::Error::IOError { detail } if detail.to_string().to_ascii_lowercase().contains("tls") => format!(
            "TLS failed ({detail}): bolt+s://, neo4j+s:// and bolt+ssc:// need a server with TLS enabled \
             for Bolt (bolt:// and neo4j:// connect without TLS)"
        ),
        other => other.to_string(),
    }
}

/// The server's code and message in an error, for a message to the user.
fn server_detail(e: &neo4rs::Error) -> String {
    match e {
        neo4rs::Error::Neo4j(n) => format!("{}: {}", n.code(), n.message()),
        neo4rs::Error::UnexpectedMessage(m) => match (retry::embedded_code(m), retry::embedded_message(m)) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => m.clone(),
        },
        other => other.to_string(),
    }
}

/// One notification as a line: `CODE: description`.
fn notification_line(n: &neo4rs::summary::Notification) -> String {
    let code = n.code.as_deref().unwrap_or("notification");
    let text = n.description.as_deref().or(n.title.as_deref()).unwrap_or("");
    format!("{code}: {}", text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An analysis a reference given on the command line named.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct AnalysisRef {
    /// The reference as given (the id, for a listing).
    #[serde(rename = "ref")]
    pub given: String,
    pub id: String,
    pub report: Option<String>,
}

impl Neo4jSink {
    /// Connect and check the credentials and database with a trivial query.
    /// Writes batch and retry as [`IngestSettings::default`] says until
    /// [`Neo4jSink::with_writes`] says otherwise.
    pub async fn connect(neo: &Neo4jSettings) -> Result<Neo4jSink, DbError> {
        let fail = |reason: String| DbError::Connect {
            uri: redact_uri(&neo.uri),
            reason,
        };
        let config = ConfigBuilder::default()
            .uri(direct_uri(&neo.uri))
            .user(neo.user.as_str())
            .password(neo.password.expose())
            .db(neo.database.as_str())
            .max_connections(4)
            .fetch_size(1000)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let timeout = Duration::from_secs(neo.connect_timeout_secs.max(1));
        // The pool connects lazily: the ping below is the first connection.
        let graph = Graph::connect(config.clone()).map_err(|e| fail(connect_reason(&e)))?;
        let sink = Neo4jSink {
            graph: std::sync::Mutex::new(graph),
            config,
            database: neo.database.clone(),
            writes: IngestSettings::default(),
        };
        let ping = async {
            let mut txn = sink.graph().start_txn_on(sink.database.as_str()).await?;
            let mut rows = txn.execute(neo4rs::query("RETURN 1 AS ok")).await?;
            while rows.next(txn.handle()).await?.is_some() {}
            txn.commit().await.map(drop)
        };
        match tokio::time::timeout(timeout, ping).await {
            Err(_) => Err(fail(format!(
                "no answer within {}s (is it a Bolt server?)",
                timeout.as_secs()
            ))),
            Ok(Err(e)) => Err(fail(connect_reason(&e))),
            Ok(Ok(())) => Ok(sink),
        }
    }

    /// Batch and retry writes as `writes` says.
    pub fn with_writes(mut self, writes: &IngestSettings) -> Self {
        self.writes = writes.clone();
        self
    }

    /// Run one statement in its own transaction, retrying transient failures.
    async fn run(&self, what: &str, make: impl Fn() -> Query) -> Result<(), DbError> {
        self.with_retry(self.write_policy(), what, || async {
            let mut txn = self.graph().start_txn_on(self.database.as_str()).await?;
            txn.run(make()).await?;
            txn.commit().await.map(drop)
        })
        .await
    }

    /// Run a read and collect one column of strings/bools per row.
    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        make: impl Fn() -> Query,
    ) -> Result<Vec<T>, DbError> {
        Ok(self.fetch_noted(self.write_policy(), what, make).await?.0)
    }

    /// [`Neo4jSink::fetch`], with the notifications the server sent about
    /// the statement (deprecations, performance hints…) as readable lines.
    async fn fetch_noted<T: serde::de::DeserializeOwned>(
        &self,
        policy: Policy,
        what: &str,
        make: impl Fn() -> Query,
    ) -> Result<(Vec<T>, Vec<String>), DbError> {
        self.with_retry(policy, what, || async {
            let mut txn = self.graph().start_txn_on(self.database.as_str()).await?;
            let mut stream = txn.execute(make()).await?;
            let mut out = Vec::new();
            while let Some(row) = stream.next(txn.handle()).await? {
                out.push(row.to::<T>().map_err(neo4rs::Error::DeserializationError)?);
            }
            let summary = stream.finish(txn.handle()).await?;
            txn.commit().await?;
            Ok((out, summary.notifications().iter().map(notification_line).collect()))
        })
        .await
    }

    /// The current connection pool.
    fn graph(&self) -> Graph {
        self.graph.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Drop every pooled connection for new ones. Done after a timeout: the
    /// abandoned attempt's connection may still get the server's late
    /// answers, and must never serve (and misread them for) the next attempt.
    async fn renew_pool(&self) {
        if let Ok(fresh) = Graph::connect(self.config.clone()) {
            *self.graph.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
    }

    /// Ingest's policy: transient errors and timed-out attempts are retried
    /// for `ingest.retry_secs`, each attempt bounded by `ingest.batch_timeout_secs`.
    fn write_policy(&self) -> Policy {
        Policy {
            attempt_timeout: Some(self.writes.batch_timeout()),
            retry_for: self.writes.retry_for(),
            retriable: retry::is_retriable,
        }
    }

    /// Run `attempt` until it succeeds, fails for good, or the policy's
    /// retry budget is spent.
    async fn with_retry<T, F, Fut>(&self, policy: Policy, what: &str, attempt: F) -> Result<T, DbError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, neo4rs::Error>>,
    {
        let start = Instant::now();
        let mut n: u32 = 0;
        loop {
            n += 1;
            let outcome = match policy.attempt_timeout {
                Some(limit) => tokio::time::timeout(limit, attempt()).await.map_err(|_| limit),
                None => Ok(attempt().await),
            };
            let last = match outcome {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) if !(policy.retriable)(&e) => return Err(final_error(what, e)),
                Ok(Err(e)) => e.to_string(),
                Err(limit) => {
                    self.renew_pool().await;
                    format!("no answer within {}s", limit.as_secs())
                }
            };
            let wait = retry::backoff(n - 1);
            if start.elapsed() + wait > policy.retry_for {
                return Err(DbError::GaveUp {
                    what: what.into(),
                    attempts: n,
                    secs: start.elapsed().as_secs(),
                    last,
                });
            }
            tracing::warn!("{what}: {last}; retrying in {} ms (attempt {n})", wait.as_millis());
            tokio::time::sleep(wait).await;
        }
    }

    /// Constraints and indexes of the model (`IF NOT EXISTS`).
    pub async fn ensure_schema(&self) -> Result<(), DbError> {
        for stmt in schema_statements() {
            self.run("creating the schema", || Query::new(stmt.clone())).await?;
        }
        Ok(())
    }

    /// Ids of the analyses already complete in the database.
    pub async fn complete_analyses(&self) -> Result<HashSet<String>, DbError> {
        #[derive(serde::Deserialize)]
        struct R {
            id: String,
        }
        let rows: Vec<R> = self
            .fetch("reading complete analyses", || {
                Query::new("MATCH (a:Analysis) WHERE a.complete = true RETURN a.id AS id".into())
            })
            .await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Of these ids, the ones that already have an `:Analysis` node.
    pub async fn existing_analyses(&self, ids: &[String]) -> Result<HashSet<String>, DbError> {
        #[derive(serde::Deserialize)]
        struct R {
            id: String,
        }
        let list: Vec<BoltType> = ids.iter().map(|i| BoltType::from(i.as_str())).collect();
        let rows: Vec<R> = self
            .fetch("reading analyses", || {
                Query::new("UNWIND $ids AS id MATCH (a:Analysis {id: id}) RETURN a.id AS id".into())
                    .param("ids", list.clone())
            })
            .await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Remove what earlier runs wrote for these analyses (behaviour nodes and
    /// the analysis's own relationships), so they are written from scratch.
    pub async fn clear_analyses(&self, ids: &[String]) -> Result<(), DbError> {
        let list: Vec<BoltType> = ids.iter().map(|i| BoltType::from(i.as_str())).collect();
        for label in Label::BEHAVIOUR {
            #[derive(serde::Deserialize)]
            struct R {
                n: i64,
            }
            let stmt = format!(
                "UNWIND $ids AS id MATCH (x:{} {{analysis: id}}) WITH x LIMIT 10000 DETACH DELETE x RETURN count(*) AS n",
                label.name()
            );
            loop {
                let r: Vec<R> = self
                    .fetch("clearing an earlier partial write", || {
                        Query::new(stmt.clone()).param("ids", list.clone())
                    })
                    .await?;
                if r.first().map_or(0, |r| r.n) == 0 {
                    break;
                }
            }
        }
        self.run("clearing an earlier partial write", || {
            Query::new("UNWIND $ids AS id MATCH (a:Analysis {id: id})-[r]->() DELETE r".into())
                .param("ids", list.clone())
        })
        .await
    }

    /// Write all rows: node statements first, then relationships, in
    /// chunks of at most `statement_rows` rows; consecutive chunks share one
    /// transaction up to `transaction_rows` rows in all, so small analyses do
    /// not pay a commit per label.
    pub async fn write(&self, rows: &Rows, mut progress: impl FnMut(Written)) -> Result<Written, DbError> {
        let (statement_rows, transaction_rows) = (self.writes.statement_rows(), self.writes.transaction_rows());
        let mut steps: Vec<(String, &[Row], bool)> = Vec::new();
        for (label, list) in &rows.nodes {
            let stmt = label.merge_statement();
            steps.extend(list.chunks(statement_rows).map(|c| (stmt.clone(), c, true)));
        }
        for (rel, list) in &rows.rels {
            let stmt = rel.merge_statement();
            steps.extend(list.chunks(statement_rows).map(|c| (stmt.clone(), c, false)));
        }
        let mut total = Written::default();
        let mut start = 0;
        while start < steps.len() {
            let mut end = start;
            let mut n = 0;
            while end < steps.len() && (end == start || n + steps[end].1.len() <= transaction_rows) {
                n += steps[end].1.len();
                end += 1;
            }
            let group = &steps[start..end];
            let what = format!("writing a batch of {n} rows");
            self.with_retry(self.write_policy(), &what, || async {
                let mut txn = self.graph().start_txn_on(self.database.as_str()).await?;
                for (stmt, chunk, _) in group {
                    txn.run(Query::new(stmt.clone()).param("rows", bolt_rows(chunk)))
                        .await?;
                }
                txn.commit().await.map(drop)
            })
            .await?;
            for (_, chunk, is_node) in group {
                let w = if *is_node {
                    Written {
                        nodes: chunk.len() as u64,
                        rels: 0,
                    }
                } else {
                    Written {
                        nodes: 0,
                        rels: chunk.len() as u64,
                    }
                };
                total.nodes += w.nodes;
                total.rels += w.rels;
                progress(w);
            }
            start = end;
        }
        Ok(total)
    }

    /// Make `rows`' nodes of `label` the only ones in the database: delete
    /// every other node of the label (and its relationships), then write
    /// `rows`. Written twice, the same rows give the same graph.
    pub async fn replace_label(&self, label: Label, rows: &Rows) -> Result<Written, DbError> {
        let keys: Vec<BoltType> = rows
            .nodes
            .get(&label)
            .into_iter()
            .flatten()
            .filter_map(|row| row.iter().find(|(name, _)| *name == label.key()))
            .map(|(_, v)| bolt(v))
            .collect();
        let stmt = label.delete_others_statement();
        let what = format!("removing earlier :{} nodes", label.name());
        self.run(&what, || Query::new(stmt.clone()).param("keys", keys.clone()))
            .await?;
        self.write(rows, |_| {}).await
    }

    /// Set (`on`) or remove the `baseline` mark of the analyses these
    /// references name: an analysis id, a report file name or a sample
    /// sha256. One row per reference and analysis it matched.
    pub async fn set_baseline(&self, refs: &[String], on: bool) -> Result<Vec<AnalysisRef>, DbError> {
        let list: Vec<BoltType> = refs.iter().map(|r| BoltType::from(r.as_str())).collect();
        self.fetch("marking baseline analyses", || {
            Query::new(
                "UNWIND $refs AS ref MATCH (a:Analysis) \
                 WHERE a.id = ref OR a.report = ref OR EXISTS { (a)-[:OF_SAMPLE]->(:Sample {sha256: ref}) } \
                 SET a.baseline = CASE WHEN $on THEN true END \
                 RETURN ref, a.id AS id, a.report AS report"
                    .into(),
            )
            .param("refs", list.clone())
            .param("on", on)
        })
        .await
    }

    /// The analyses marked as a clean baseline, by report name.
    pub async fn baseline_analyses(&self) -> Result<Vec<AnalysisRef>, DbError> {
        self.fetch("reading baseline analyses", || {
            Query::new(
                "MATCH (a:Analysis) WHERE a.baseline = true \
                 RETURN a.id AS ref, a.id AS id, a.report AS report ORDER BY report, id"
                    .into(),
            )
        })
        .await
    }

    /// One page of the indicator nodes of `kind` after `after`, each with
    /// its safelist reason if it is marked.
    pub async fn marks_page(
        &self,
        kind: IndicatorKind,
        after: &str,
        page: usize,
    ) -> Result<Vec<(String, Option<String>)>, DbError> {
        #[derive(serde::Deserialize)]
        struct R {
            value: String,
            reason: Option<String>,
        }
        let stmt = Label::marks_page_statement(kind);
        let rows: Vec<R> = self
            .fetch("reading indicator marks", || {
                Query::new(stmt.clone())
                    .param("after", after)
                    .param("page", page as i64)
            })
            .await?;
        Ok(rows.into_iter().map(|r| (r.value, r.reason)).collect())
    }

    /// Set (a reason) or remove (none) the safelist marks of these
    /// indicator nodes of `kind`.
    pub async fn set_marks(&self, kind: IndicatorKind, marks: &[(String, Option<String>)]) -> Result<(), DbError> {
        let rows: Vec<Row> = marks
            .iter()
            .map(|(value, reason)| {
                vec![
                    ("value", Prop::Str(value.clone())),
                    ("reason", Prop::from(reason.clone())),
                ]
            })
            .collect();
        let stmt = Label::set_marks_statement(kind);
        self.run("marking safelisted indicators", || {
            Query::new(stmt.clone()).param("rows", bolt_rows(&rows))
        })
        .await
    }

    /// The protocol's last step: these analyses are complete.
    pub async fn mark_complete(&self, ids: &[String]) -> Result<(), DbError> {
        let list: Vec<BoltType> = ids.iter().map(|i| BoltType::from(i.as_str())).collect();
        self.run("marking analyses complete", || {
            Query::new("UNWIND $ids AS id MATCH (a:Analysis {id: id}) SET a.complete = true".into())
                .param("ids", list.clone())
        })
        .await
    }

    /// Run a read-only query with parameters: its rows as JSON objects, and
    /// the server's notifications about it.
    ///
    /// `limit` bounds the whole run, client side (neo4rs offers no way to
    /// send a server-side transaction timeout with an explicit transaction).
    /// Only a failed connection is retried, within that time: a query that
    /// ran into a time or memory limit fails at once with [`DbError::Limit`].
    pub async fn query_rows(
        &self,
        cypher: &str,
        params: &HashMap<String, serde_json::Value>,
        limit: Duration,
    ) -> Result<(Vec<serde_json::Map<String, serde_json::Value>>, Vec<String>), DbError> {
        let what = "running the query";
        let bolt_params: Vec<(String, BoltType)> = params.iter().map(|(k, v)| (k.clone(), json_to_bolt(v))).collect();
        let policy = Policy {
            attempt_timeout: None,
            retry_for: limit,
            retriable: retry::is_query_retriable,
        };
        let run = self.fetch_noted(policy, what, || {
            let mut q = Query::new(cypher.to_owned());
            for (k, v) in &bolt_params {
                q = q.param(k, v.clone());
            }
            q
        });
        match tokio::time::timeout(limit, run).await {
            Ok(result) => result,
            Err(_) => {
                // The connection may still get the abandoned query's answer.
                self.renew_pool().await;
                Err(DbError::Limit {
                    what: what.into(),
                    limit: retry::Limit::Client(limit),
                    detail: None,
                })
            }
        }
    }
}

/// The error for a failure that is not retried: a limit the statement ran
/// into, or any other error as it came.
fn final_error(what: &str, e: neo4rs::Error) -> DbError {
    match retry::limit_of(&e) {
        Some(limit) => DbError::Limit {
            what: what.into(),
            limit,
            detail: Some(server_detail(&e)),
        },
        None => DbError::Query {
            what: what.into(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{direct_uri, redact_uri};

    #[test]
    fn neo4j_schemes_connect_directly() {
        assert_eq!(direct_uri("neo4j://db:7687"), "bolt://db:7687");
        assert_eq!(direct_uri("neo4j+s://db"), "bolt+s://db");
        assert_eq!(direct_uri("neo4j+ssc://db"), "bolt+ssc://db");
        assert_eq!(direct_uri("bolt+s://db"), "bolt+s://db");
        assert_eq!(direct_uri("127.0.0.1:7687"), "127.0.0.1:7687");
    }

    #[test]
    fn credentials_in_a_uri_are_never_shown() {
        assert_eq!(
            redact_uri("bolt://neo4j:s3cret@db.example:7687"),
            "bolt://***@db.example:7687"
        );
        assert_eq!(redact_uri("neo4j+s://db.example"), "neo4j+s://db.example");
        assert_eq!(redact_uri("u:p@127.0.0.1:7687"), "***@127.0.0.1:7687");
    }
}
