//! Effective settings, layered with the `config` crate:
//! built-in defaults → `graphmalw.toml` (or `--config FILE`) → `NEO4J_*`
//! environment → `GRAPHMALW_*` environment → command line.
//!
//! Environment keys use `__` between levels: `GRAPHMALW_GRAPH__SEQUENCE_EDGES=false`,
//! `GRAPHMALW_NEO4J__BATCH_SIZE=5000`; lists are comma-separated.
//! The password is a [`Secret`]: it prints as `********` everywhere.

use crate::model::GraphConfig;
use crate::pipeline::Pipeline;
use crate::report::ReadLimits;
use crate::sink::{HandleLabel, OutputFormat};
use anyhow::{Context, Result};
use config::{Config, Environment, File, FileFormat};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// The default settings file, looked up in the working directory.
pub const DEFAULT_FILE: &str = "graphmalw.toml";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub graph: GraphSettings,
    pub output: OutputSettings,
    pub limits: LimitSettings,
    pub neo4j: Neo4jSettings,
    pub ingest: IngestSettings,
    pub query: QuerySettings,
    /// Worker threads for parsing and building; 0 = one per core.
    pub jobs: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    pub categories: Vec<String>,
    pub ignore_modules: Vec<String>,
    pub sequence_edges: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    pub format: OutputFormat,
    pub handle_label: HandleLabel,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest report accepted, in decompressed bytes.
    pub max_report_bytes: u64,
    /// Longest string kept in a database property; longer ones are cut and marked.
    pub max_string_len: usize,
}

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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuerySettings {
    /// Seconds one `query run` or `query check` statement may take, retries
    /// of a lost connection included; past it the query fails, not retried.
    pub timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        let graph = GraphConfig::default();
        Settings {
            graph: GraphSettings {
                categories: graph.categories,
                ignore_modules: graph.ignore_modules,
                sequence_edges: graph.sequence_edges,
            },
            output: OutputSettings {
                format: OutputFormat::Json,
                handle_label: HandleLabel::Address,
            },
            limits: LimitSettings {
                max_report_bytes: ReadLimits::default().max_report_bytes,
                max_string_len: 64 * 1024,
            },
            neo4j: Neo4jSettings {
                uri: "127.0.0.1:7687".into(),
                user: "neo4j".into(),
                password: Secret::default(),
                database: "neo4j".into(),
                connect_timeout_secs: 10,
            },
            ingest: IngestSettings {
                batch_size: 10_000,
                statement_rows: 0,
                transaction_rows: 0,
                flush_rows: 0,
                retry_secs: 60,
                batch_timeout_secs: 120,
            },
            query: QuerySettings { timeout_secs: 60 },
            jobs: 0,
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

    fn or(set: usize, default: usize) -> usize {
        if set > 0 {
            set
        } else {
            default.max(1)
        }
    }
}

impl Settings {
    /// Layer every source; `overrides` are the command line's `(key, value)` pairs.
    pub fn load(config_file: Option<&Path>, overrides: &[(&str, config::Value)]) -> Result<Settings> {
        let defaults = Config::try_from(&Settings::default()).context("encoding the default settings")?;
        let mut b = Config::builder().add_source(defaults);
        b = match config_file {
            Some(path) => b.add_source(File::from(path).format(FileFormat::Toml).required(true)),
            None => b.add_source(File::new(DEFAULT_FILE, FileFormat::Toml).required(false)),
        };
        for (var, key) in [
            ("NEO4J_URI", "neo4j.uri"),
            ("NEO4J_USERNAME", "neo4j.user"),
            ("NEO4J_PASSWORD", "neo4j.password"),
            ("NEO4J_DATABASE", "neo4j.database"),
        ] {
            if let Ok(v) = std::env::var(var) {
                b = b.set_override(key, v)?;
            }
        }
        b = b.add_source(
            Environment::with_prefix("GRAPHMALW")
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("graph.categories")
                .with_list_parse_key("graph.ignore_modules")
                .try_parsing(true)
                .source(Some(setting_variables())),
        );
        for (key, value) in overrides {
            b = b.set_override(*key, value.clone())?;
        }
        let cfg = b.build().context("reading settings")?;
        let s: Settings = cfg.try_deserialize().context("invalid settings")?;
        s.validate()?;
        Ok(s)
    }

    /// Every setting's dotted key (`graph.sequence_edges`).
    pub fn keys() -> Vec<String> {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&key, v, out);
                    }
                }
                _ => out.push(prefix.to_owned()),
            }
        }
        let mut out = Vec::new();
        walk(
            "",
            &serde_json::to_value(Settings::default()).unwrap_or_default(),
            &mut out,
        );
        out
    }

    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.ingest.batch_size > 0, "ingest.batch_size must be at least 1");
        anyhow::ensure!(self.query.timeout_secs > 0, "query.timeout_secs must be at least 1");
        anyhow::ensure!(
            self.limits.max_string_len >= 16,
            "limits.max_string_len must be at least 16"
        );
        Ok(())
    }

    pub fn graph_config(&self) -> GraphConfig {
        GraphConfig {
            categories: self.graph.categories.clone(),
            ignore_modules: self.graph.ignore_modules.iter().map(|m| m.to_lowercase()).collect(),
            sequence_edges: self.graph.sequence_edges,
        }
    }

    /// The per-report pipeline these settings describe.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            graph: self.graph_config(),
            limits: self.read_limits(),
            jobs: self.jobs(),
        }
    }

    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits {
            max_report_bytes: self.limits.max_report_bytes,
        }
    }

    /// Worker threads to use.
    pub fn jobs(&self) -> usize {
        if self.jobs > 0 {
            self.jobs
        } else {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        }
    }

    /// The settings as TOML, password hidden (also one written into the URI).
    pub fn to_toml(&self) -> Result<String> {
        let mut shown = self.clone();
        shown.neo4j.uri = crate::sink::neo4j::redact_uri(&shown.neo4j.uri);
        Ok(toml::to_string(&shown)?)
    }
}

/// The `GRAPHMALW_*` variables that name a setting. Others are left out (the
/// test suite's own `GRAPHMALW_FIXTURES`, say) instead of failing every
/// command; a likely typo (one with `__`) gets a warning.
fn setting_variables() -> config::Map<String, String> {
    let keys = Settings::keys();
    let mut vars = config::Map::new();
    for (name, value) in std::env::vars() {
        let Some(rest) = name.strip_prefix("GRAPHMALW_") else {
            continue;
        };
        if keys.contains(&rest.to_lowercase().replace("__", ".")) {
            vars.insert(name, value);
        } else if rest.contains("__") {
            tracing::warn!("ignoring {name}: no such setting (see `graphmalw config show`)");
        }
    }
    vars
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
}
