//! Cross-sample correlation: what links two analyses, and what must not.
//!
//! Pure code, no I/O and no database: it takes analyses (their API sets and
//! indicators) and gives back what `graphmalw correlate` and the cross-sample
//! queries need at scale (`docs/correlation.md`):
//!
//! - [`safelist`]: sandbox and Windows background indicators that never link
//!   samples (a shipped list plus the user's), and analyses marked as a clean
//!   baseline, whose indicators are background too;
//! - [`minhash`]: MinHash signatures of API and indicator sets and their
//!   locality-sensitive-hashing bands, so that candidate pairs come from shared
//!   bands instead of every pair of analyses;
//! - [`cluster`]: rare-indicator weights (idf), pair scores over streamed
//!   indicator rows, union-find clusters and their deterministic campaign ids.
//!
//! It is not for reading reports or writing the database: the indicator
//! values here are the keys ingest writes (`docs/neo4j-model.md`), so what this
//! module decides can be matched against the `:File`, `:RegistryKey`, `:Mutex`,
//! `:Domain`, `:IpAddress` and dropped `:Sample` nodes.

pub mod cluster;
pub mod minhash;
pub mod safelist;

#[cfg(test)]
mod measure;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Analysis, NodeKind, NodeProps};
use crate::report::Iocs;
use cluster::ClusterParams;
use safelist::{NoiseFilter, Safelist, SafelistEntry, SafelistError};

/// The `[correlate]` section of the settings: the user's safelist entries and
/// the campaign thresholds (`Settings::correlate`); commands call
/// [`CorrelateSettings::noise_filter`] and [`CorrelateSettings::cluster_params`].
/// The safelist comes last so that the TOML `config show` prints keeps its
/// `[[correlate.safelist]]` tables after the plain values.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelateSettings {
    /// Indicators held by more than this share of the analyses never link…
    pub max_share: f64,
    /// …unless they are held by at most this many (see [`ClusterParams`]).
    pub max_df: usize,
    /// Shared idf weight that links two analyses.
    pub min_weight: f64,
    /// How many shared indicators that takes, at least.
    pub min_shared: u32,
    /// The share of the two analyses' rare weight the shared weight must be.
    pub min_similarity: f64,
    /// Added to the shipped list, same shape as `data/safelist.toml`'s entries.
    pub safelist: Vec<SafelistEntry>,
}

impl Default for CorrelateSettings {
    fn default() -> Self {
        let p = ClusterParams::default();
        CorrelateSettings {
            safelist: Vec::new(),
            max_share: p.max_share,
            max_df: p.max_df,
            min_weight: p.min_weight,
            min_shared: p.min_shared,
            min_similarity: p.min_similarity,
        }
    }
}

impl CorrelateSettings {
    /// The shipped safelist plus the user's entries; baselines are added by
    /// the caller from the database.
    pub fn noise_filter(&self) -> Result<NoiseFilter, SafelistError> {
        Ok(NoiseFilter::new(Safelist::with_user(&self.safelist)?))
    }

    pub fn cluster_params(&self) -> ClusterParams {
        ClusterParams {
            max_share: self.max_share,
            max_df: self.max_df,
            min_weight: self.min_weight,
            min_shared: self.min_shared,
            min_similarity: self.min_similarity,
            ..ClusterParams::default()
        }
    }
}

/// The kinds of indicator that can link two analyses (the shared-node labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    /// A file path touched through a file handle (`:File`).
    File,
    /// A registry key touched through a key handle (`:RegistryKey`).
    Registry,
    /// A mutex from the behaviour summary (`:Mutex`).
    Mutex,
    /// A contacted domain (`:Domain`).
    Domain,
    /// A contacted address (`:IpAddress`).
    Ip,
    /// The sha256 of a dropped file (`(:Analysis)-[:DROPPED]->(:Sample)`).
    Dropped,
}

impl IndicatorKind {
    pub const ALL: [IndicatorKind; 6] = [
        IndicatorKind::File,
        IndicatorKind::Registry,
        IndicatorKind::Mutex,
        IndicatorKind::Domain,
        IndicatorKind::Ip,
        IndicatorKind::Dropped,
    ];

    /// The prefix `indicator-clusters` gives the kind (`file:`, `ip:`…).
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::File => "file",
            IndicatorKind::Registry => "registry",
            IndicatorKind::Mutex => "mutex",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Ip => "ip",
            IndicatorKind::Dropped => "dropped",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One indicator, keyed as ingest keys its shared node: paths, domains and
/// hashes lowercased; mutexes and addresses as reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Indicator {
    pub kind: IndicatorKind,
    pub value: String,
}

impl Indicator {
    pub fn new(kind: IndicatorKind, raw: &str) -> Indicator {
        let value = match kind {
            IndicatorKind::Mutex | IndicatorKind::Ip => raw.to_string(),
            _ => raw.to_lowercase(),
        };
        Indicator { kind, value }
    }
}

impl fmt::Display for Indicator {
    /// `kind:value`, the strings `indicator-clusters` compares.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

/// What correlation compares of one analysis: its API set (the lowercased
/// display names `api-similarity` compares) and its indicators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub apis: BTreeSet<String>,
    pub indicators: BTreeSet<Indicator>,
}

impl Features {
    /// The features of one built analysis: API and handle nodes of its graph
    /// (none when it has no graph) and the indicators of its report.
    pub fn of(analysis: &Analysis) -> Features {
        let mut f = Features::indicators_of(analysis);
        for node in nodes(analysis) {
            if let NodeProps::Api { name, .. } = &node.props {
                f.add_api(name);
            }
        }
        f
    }

    /// Only the indicators, the API set left empty (what ingest sketches
    /// beside the API set it takes from the rows).
    pub fn indicators_of(analysis: &Analysis) -> Features {
        let mut f = Features::default();
        for node in nodes(analysis) {
            match (&node.props, node.kind) {
                (NodeProps::Handle { path: Some(p), .. }, NodeKind::FileHandle) => f.add(IndicatorKind::File, p),
                (NodeProps::Handle { path: Some(p), .. }, NodeKind::KeyHandle) => f.add(IndicatorKind::Registry, p),
                _ => {}
            }
        }
        f.add_iocs(&analysis.meta.iocs);
        f
    }

    pub fn add_api(&mut self, display_name: &str) {
        self.apis.insert(display_name.to_lowercase());
    }

    pub fn add(&mut self, kind: IndicatorKind, raw: &str) {
        if !raw.is_empty() {
            self.indicators.insert(Indicator::new(kind, raw));
        }
    }

    /// Mutexes, domains, addresses and dropped-file hashes of a report.
    pub fn add_iocs(&mut self, iocs: &Iocs) {
        for m in &iocs.mutexes {
            self.add(IndicatorKind::Mutex, m);
        }
        for d in &iocs.domains {
            self.add(IndicatorKind::Domain, &d.domain);
        }
        for ip in &iocs.ips {
            self.add(IndicatorKind::Ip, ip);
        }
        for d in &iocs.dropped {
            self.add(IndicatorKind::Dropped, &d.sha256);
        }
    }

    /// The indicators as the `kind:value` strings MinHash and the queries use.
    pub fn indicator_keys(&self) -> impl Iterator<Item = String> + '_ {
        self.indicators.iter().map(|i| i.to_string())
    }
}

/// The nodes of an analysis's graph (none without a graph).
fn nodes(analysis: &Analysis) -> &[crate::model::Node] {
    analysis.graph().map(|g| g.nodes.as_slice()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_are_keyed_like_their_shared_nodes() {
        assert_eq!(Indicator::new(IndicatorKind::File, r"C:\X.exe").value, r"c:\x.exe");
        assert_eq!(Indicator::new(IndicatorKind::Mutex, "Global\\Abc").value, "Global\\Abc");
        assert_eq!(
            Indicator::new(IndicatorKind::Domain, "EVIL.example").to_string(),
            "domain:evil.example"
        );
    }

    #[test]
    fn settings_section_reads_user_entries() {
        let text = "max_df = 20\n[[safelist]]\nkind = \"mutex\"\nreason = \"our agent\"\npatterns = ['agentmutex']";
        let s: CorrelateSettings = toml::from_str(text).unwrap();
        assert_eq!(s.cluster_params().max_df, 20);
        assert_eq!(s.cluster_params().min_weight, ClusterParams::default().min_weight);
        let f = s.noise_filter().unwrap();
        assert!(f.is_noise(&Indicator::new(IndicatorKind::Mutex, "AgentMutex")));
        assert!(f.is_noise(&Indicator::new(IndicatorKind::Ip, "8.8.8.8")));
        assert_eq!(
            toml::from_str::<CorrelateSettings>("").unwrap(),
            CorrelateSettings::default()
        );
    }

    #[test]
    fn empty_values_are_no_indicators() {
        let mut f = Features::default();
        f.add(IndicatorKind::Mutex, "");
        f.add_api("NtCreateFile");
        f.add_api("ntcreatefile");
        assert!(f.indicators.is_empty());
        assert_eq!(f.apis.len(), 1);
    }
}
