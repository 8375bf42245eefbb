//! Output sinks: where finished graphs go. Each writes into any
//! `io::Write`, so tests compare bytes in memory.

pub mod csv;
pub mod dot;
pub mod graphml;
pub mod json;
pub mod jsonl;
pub mod neo4j;
pub mod svg;

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
