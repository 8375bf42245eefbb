//! The Neo4j sink's settings: where to connect ([`Neo4jSettings`], the
//! `[neo4j]` table) and how `ingest` writes ([`IngestSettings`], the
//! `[ingest]` table), with the password kept in a [`Secret`].
//!
//! Plain typed structs with their defaults; [`crate::settings`] layers them
//! with the file, the environment and the command line.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Where and as whom to connect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Neo4jSettings {
    /// Bolt address: `127.0.0.1:7687`, `bolt://host:7687`, `neo4j+s://host`.
    pub uri: String,
    pub user: String,
    pub password: Secret,
    pub database: String,
    /// Seconds to wait for a connection before giving up.
    pub connect_timeout_secs: u64,
}

impl Default for Neo4jSettings {
    fn default() -> Self {
        Neo4jSettings {
            uri: "127.0.0.1:7687".into(),
            user: "neo4j".into(),
            password: Secret::default(),
            database: "neo4j".into(),
            connect_timeout_secs: 10,
        }
    }
}

/// How `ingest` groups and writes rows, and how long it retries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// The default of the three below: rows per statement and per
    /// transaction, and a tenth of the rows gathered before a write.
    pub batch_size: usize,
    /// Rows per `UNWIND` statement; 0 = `batch_size`.
    pub statement_rows: usize,
    /// Rows per transaction (consecutive statements share one); 0 = `batch_size`.
    pub transaction_rows: usize,
    /// Rows of whole analyses gathered before they are written (or after a
    /// second of waiting); 0 = ten times `batch_size`, so that each of the
    /// some thirty statements (one per label and type) carries hundreds of
    /// rows instead of a few dozen (measured in BENCHMARKS.md).
    pub flush_rows: usize,
    /// Seconds during which transient database errors are retried.
    pub retry_secs: u64,
    /// Seconds one batch may take before it counts as failed.
    pub batch_timeout_secs: u64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            batch_size: 10_000,
            statement_rows: 0,
            transaction_rows: 0,
            flush_rows: 0,
            retry_secs: 60,
            batch_timeout_secs: 120,
        }
    }
}

impl IngestSettings {
    /// Rows per `UNWIND` statement.
    pub fn statement_rows(&self) -> usize {
        Self::or(self.statement_rows, self.batch_size)
    }

    /// Rows per transaction.
    pub fn transaction_rows(&self) -> usize {
        Self::or(self.transaction_rows, self.batch_size)
    }

    /// Rows gathered before a write.
    pub fn flush_rows(&self) -> usize {
        Self::or(self.flush_rows, self.batch_size.saturating_mul(10))
    }

    /// How long transient errors are retried.
    pub fn retry_for(&self) -> Duration {
        Duration::from_secs(self.retry_secs)
    }

    /// How long one attempt at a batch may take.
    pub fn batch_timeout(&self) -> Duration {
        Duration::from_secs(self.batch_timeout_secs.max(1))
    }

    /// The mistakes no database could make sense of.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("ingest.batch_size must be at least 1".into());
        }
        Ok(())
    }

    fn or(set: usize, default: usize) -> usize {
        if set > 0 {
            set
        } else {
            default.max(1)
        }
    }
}

/// A password: readable by the code that needs it, never printed.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"********\"" })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "********" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2-marker".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
    }

    #[test]
    fn batch_size_is_the_default_of_the_three_row_counts() {
        let mut s = IngestSettings {
            batch_size: 25,
            ..IngestSettings::default()
        };
        assert_eq!(
            (s.statement_rows(), s.transaction_rows(), s.flush_rows()),
            (25, 25, 250)
        );
        s.statement_rows = 7;
        s.transaction_rows = 70;
        s.flush_rows = 700;
        assert_eq!((s.statement_rows(), s.transaction_rows(), s.flush_rows()), (7, 70, 700));
    }
}
