//! Effective settings: each component's typed settings, composed into one
//! [`Settings`] and layered with the `config` crate: built-in defaults →
//! `graphmalw.toml` (or `--config FILE`) → `NEO4J_*` environment →
//! `GRAPHMALW_*` environment; the command line then changes the loaded
//! values, typed, before they are checked.
//!
//! The tables and who owns them: `[graph]` the graph rules
//! ([`GraphConfig`]), `[neo4j]` and `[ingest]` the Neo4j sink
//! ([`Neo4jSettings`], [`IngestSettings`]), `[query]` the query pack
//! (`queries::QuerySettings`), `[correlate]` cross-sample correlation and
//! the user's safelist entries ([`CorrelateSettings`]); `[output]`,
//! `[limits]` and `jobs` are here.
//!
//! Environment keys use `__` between levels: `GRAPHMALW_GRAPH__SEQUENCE_EDGES=false`,
//! `GRAPHMALW_INGEST__BATCH_SIZE=5000`; lists are comma-separated.
//! The password is a [`Secret`]: it prints as `********` everywhere.

pub use crate::correlate::CorrelateSettings;
use crate::model::GraphConfig;
use crate::pipeline::Pipeline;
use crate::queries::QuerySettings;
use crate::report::ReadLimits;
pub use crate::sink::neo4j::{IngestSettings, Neo4jSettings, Secret};
use crate::sink::{HandleLabel, OutputFormat};
use crate::store::Marks;
use anyhow::{Context, Result};
use config::{Config, Environment, File, FileFormat};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The default settings file, looked up in the working directory.
pub const DEFAULT_FILE: &str = "graphmalw.toml";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub graph: GraphConfig,
    pub output: OutputSettings,
    pub limits: LimitSettings,
    pub neo4j: Neo4jSettings,
    pub ingest: IngestSettings,
    pub query: QuerySettings,
    pub correlate: CorrelateSettings,
    /// Cores for parsing and building (reports at a time; idle ones help
    /// with a big report); 0 = one per core.
    pub jobs: usize,
}

/// How `build` writes graphs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    pub format: OutputFormat,
    pub handle_label: HandleLabel,
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            format: OutputFormat::Json,
            handle_label: HandleLabel::Address,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest report accepted, in decompressed bytes.
    pub max_report_bytes: u64,
    /// Longest string kept in a database property; longer ones are cut and marked.
    pub max_string_len: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_report_bytes: ReadLimits::default().max_report_bytes,
            max_string_len: 64 * 1024,
        }
    }
}

impl Settings {
    /// Layer every source, then let `change` (the command line) change the
    /// result before it is checked.
    pub fn load(config_file: Option<&Path>, change: impl FnOnce(&mut Settings) -> Result<()>) -> Result<Settings> {
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
        let cfg = b.build().context("reading settings")?;
        let mut s: Settings = cfg.try_deserialize().context("invalid settings")?;
        change(&mut s)?;
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
        self.ingest.validate().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(self.query.timeout_secs > 0, "query.timeout_secs must be at least 1");
        anyhow::ensure!(
            self.limits.max_string_len >= 16,
            "limits.max_string_len must be at least 16"
        );
        self.marks(false)?;
        Ok(())
    }

    /// The graph settings as the builder takes them: modules in lower case.
    pub fn graph_config(&self) -> GraphConfig {
        GraphConfig {
            ignore_modules: self.graph.ignore_modules.iter().map(|m| m.to_lowercase()).collect(),
            ..self.graph.clone()
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

    /// What ingest and export mark on the rows: the shipped safelist plus
    /// the user's, and `baseline` on the analyses.
    pub fn marks(&self, baseline: bool) -> Result<Marks> {
        let safelist = self.correlate.noise_filter().context("correlate.safelist")?.safelist;
        Ok(Marks { safelist, baseline })
    }

    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits {
            max_report_bytes: self.limits.max_report_bytes,
        }
    }

    /// Cores to use (`jobs`, or one per core).
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
