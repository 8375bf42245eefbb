//! Output sinks: where finished graphs go. Each writes into any
//! `io::Write`, so tests compare bytes in memory.

pub(crate) mod csv;
pub mod dot;
pub(crate) mod graphml;
pub mod json;
pub(crate) mod jsonl;
pub mod neo4j;
pub(crate) mod svg;

/// The file formats of `graphmalw build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Json,
    Dot,
    Svg,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Dot => "dot",
            OutputFormat::Svg => "svg",
        }
    }
}

/// How DOT/SVG label handle nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum HandleLabel {
    Address,
    Path,
}
