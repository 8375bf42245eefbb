//! One analysis → the parameter rows of every statement in the model.
//!
//! Pure: no database here, so the rows can be counted for `--dry-run`,
//! compared with `build --format json`, and tested byte for byte.

use super::limits::{MAX_KEY_BYTES, TRUNCATION_MARKER};
use super::schema::{Label, Rel};
use crate::correlate::cluster::Campaign;
use crate::correlate::minhash::{MinHasher, Sketch, DEFAULT};
use crate::correlate::safelist::Safelist;
use crate::correlate::{Features, Indicator};
use crate::model::{Analysis, Args, Graph, NodeProps};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<String>),
    Ints(Vec<i64>),
}

impl From<Option<String>> for Prop {
    fn from(v: Option<String>) -> Self {
        v.map_or(Prop::Null, Prop::Str)
    }
}

impl From<Option<i64>> for Prop {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Prop::Null, Prop::Int)
    }
}

/// One row: property name → value (`uid`/`from`/`to` among them).
pub type Row = Vec<(&'static str, Prop)>;

/// The rows of one analysis (or of several, after [`Rows::append`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rows {
    pub nodes: BTreeMap<Label, Vec<Row>>,
    pub rels: BTreeMap<Rel, Vec<Row>>,
    /// Values cut to the configured length.
    pub truncated: u64,
}

impl Rows {
    pub fn node_rows(&self) -> usize {
        self.nodes.values().map(Vec::len).sum()
    }
    pub fn rel_rows(&self) -> usize {
        self.rels.values().map(Vec::len).sum()
    }
    pub fn len(&self) -> usize {
        self.node_rows() + self.rel_rows()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn append(&mut self, other: Rows) {
        for (l, mut rows) in other.nodes {
            self.nodes.entry(l).or_default().append(&mut rows);
        }
        for (r, mut rows) in other.rels {
            self.rels.entry(r).or_default().append(&mut rows);
        }
        self.truncated += other.truncated;
    }
}

struct Builder {
    rows: Rows,
    max_len: usize,
    seen: HashSet<(Label, String)>,
}

impl Builder {
    /// Cut `s` to at most `max` bytes, marker included, at a character
    /// boundary, and count it. A value cut once is never cut or counted again.
    fn cut(&mut self, s: &mut String, max: usize) {
        if s.len() <= max {
            return;
        }
        self.rows.truncated += 1;
        let mut end = max.saturating_sub(TRUNCATION_MARKER.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(TRUNCATION_MARKER);
    }
    /// A string value, cut later by where it is written ([`Builder::node`], [`Builder::rel`]).
    fn text(&mut self, s: &str) -> Prop {
        Prop::Str(s.to_owned())
    }
    fn opt_text(&mut self, s: Option<&str>) -> Prop {
        s.map_or(Prop::Null, |s| self.text(s))
    }
    fn key(&mut self, s: &str) -> Prop {
        let mut s = s.to_owned();
        self.cut(&mut s, MAX_KEY_BYTES);
        Prop::Str(s)
    }
    /// Strings of a node row are cut: the key and indexed properties to
    /// [`MAX_KEY_BYTES`], the others to `limits.max_string_len`.
    fn node(&mut self, label: Label, mut row: Row) {
        for (name, value) in &mut row {
            if let Prop::Str(s) = value {
                self.cut(s, label.max_bytes(name, self.max_len));
            }
        }
        self.rows.nodes.entry(label).or_default().push(row);
    }
    /// A shared node, once per analysis.
    fn shared(&mut self, label: Label, key: &str, mut extra: Row) -> Prop {
        let k = self.key(key);
        if let Prop::Str(s) = &k {
            if self.seen.insert((label, s.clone())) {
                let mut row = vec![(label.key(), k.clone())];
                row.append(&mut extra);
                self.node(label, row);
            }
        }
        k
    }
    /// The properties of a `:Sample` row: a sample may be met as a target
    /// (with its details) or only as a dropped file (its size).
    fn sample(
        &mut self,
        name: Option<&str>,
        size: Option<u64>,
        md5: Option<&str>,
        sha1: Option<&str>,
        file_type: Option<&str>,
    ) -> Row {
        vec![
            ("name", self.opt_text(name)),
            ("size", size.and_then(|v| i64::try_from(v).ok()).into()),
            ("md5", self.opt_text(md5)),
            ("sha1", self.opt_text(sha1)),
            ("type", self.opt_text(file_type)),
        ]
    }
    /// `from` and `to` are keys (already cut); other strings are cut to `limits.max_string_len`.
    fn rel(&mut self, rel: Rel, from: Prop, to: Prop, mut extra: Row) {
        for (_, value) in &mut extra {
            if let Prop::Str(s) = value {
                self.cut(s, self.max_len);
            }
        }
        let mut row = vec![("from", from), ("to", to)];
        row.append(&mut extra);
        self.rows.rels.entry(rel).or_default().push(row);
    }
}

/// All rows of one analysis, strings cut at `max_len` bytes (keys and
/// indexed properties at [`MAX_KEY_BYTES`]).
pub fn analysis_rows(a: &Analysis, max_len: usize) -> Rows {
    let mut b = Builder {
        rows: Rows::default(),
        max_len,
        seen: HashSet::new(),
    };
    let meta = &a.meta;
    let id = Prop::Str(meta.id.clone());
    let (nodes, edges) = a
        .graph()
        .map_or((0, 0), |g| (g.nodes.len() as i64, g.edges.len() as i64));
    let analysis_row = vec![
        ("id", id.clone()),
        ("report", b.text(&meta.report)),
        (
            "format",
            meta.format.map_or(Prop::Null, |f| Prop::Str(f.as_str().into())),
        ),
        ("task_id", meta.info.task_id.into()),
        ("started", b.opt_text(meta.info.started.as_deref())),
        ("score", meta.info.score.map_or(Prop::Null, Prop::Float)),
        ("nodes", Prop::Int(nodes)),
        ("edges", Prop::Int(edges)),
    ];
    b.node(Label::Analysis, analysis_row);

    let s = &meta.sample;
    if let Some(sha) = &s.sha256 {
        let extra = b.sample(
            s.name.as_deref(),
            s.size,
            s.md5.as_deref(),
            s.sha1.as_deref(),
            s.file_type.as_deref(),
        );
        let k = b.shared(Label::Sample, sha, extra);
        b.rel(Rel::OfSample, id.clone(), k, vec![]);
    }

    if let Some(g) = a.graph() {
        graph_rows(&mut b, &meta.id, g);
    }
    api_sketch_rows(&mut b, &id);

    let iocs = &meta.iocs;
    for m in &iocs.mutexes {
        let k = b.shared(Label::Mutex, m, vec![]);
        b.rel(Rel::CreatedMutex, id.clone(), k, vec![]);
    }
    for ip in &iocs.ips {
        let k = b.shared(Label::IpAddress, ip, vec![]);
        b.rel(Rel::ContactedIp, id.clone(), k, vec![]);
    }
    for d in &iocs.domains {
        let dk = b.shared(Label::Domain, &d.domain.to_lowercase(), vec![]);
        b.rel(Rel::ContactedDomain, id.clone(), dk.clone(), vec![]);
        if let Some(ip) = &d.ip {
            let ik = b.shared(Label::IpAddress, ip, vec![]);
            b.rel(Rel::ResolvesTo, dk, ik, vec![]);
        }
    }
    for sig in &iocs.signatures {
        let extra = vec![
            ("description", b.opt_text(sig.description.as_deref())),
            ("severity", sig.severity.into()),
        ];
        let k = b.shared(Label::Signature, &sig.name, extra);
        // What this report says of the match: its severity and ATT&CK ids
        // (no property when there are none: neo4j-admin import cannot write an
        // empty list, and the two paths must give one graph).
        let mut attack = sig.attack.clone();
        attack.sort();
        let attack = if attack.is_empty() {
            Prop::Null
        } else {
            Prop::List(attack)
        };
        b.rel(
            Rel::Matched,
            id.clone(),
            k,
            vec![("severity", sig.severity.into()), ("attack", attack)],
        );
    }
    for d in &iocs.dropped {
        // Only the hash: a dropped file's name belongs to the DROPPED relationship.
        let only_size = b.sample(None, d.size, None, None, None);
        let k = b.shared(Label::Sample, &d.sha256, only_size);
        let extra = vec![
            ("name", b.opt_text(d.name.as_deref())),
            ("path", b.opt_text(d.path.as_deref())),
            ("type", b.opt_text(d.file_type.as_deref())),
        ];
        b.rel(Rel::Dropped, id.clone(), k, extra);
    }
    b.rows
}

/// What ingest marks besides the report's own data (`docs/correlation.md`):
/// the shared indicator nodes the safelist holds (`safelisted`,
/// `safelist_reason`), and whether the analysis is a clean baseline
/// (`baseline`). The default marks nothing.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    pub safelist: Safelist,
    pub baseline: bool,
}

impl Marks {
    /// The rows of one analysis ([`analysis_rows`]), marked.
    pub fn rows(&self, a: &Analysis, max_len: usize) -> Rows {
        let mut rows = analysis_rows(a, max_len);
        self.apply(&mut rows);
        self.ioc_sketch(a, &mut rows);
        rows
    }

    /// The size and MinHash signature of the analysis's indicators that the
    /// safelist does not hold, on its `:Analysis` row (`ioc_count`,
    /// `ioc_minhash`; the list absent when there are none; no hashes and no
    /// bands, unlike the API set's [`Sketch`]). Here rather than in
    /// [`analysis_rows`]: background would make every two analyses look alike.
    fn ioc_sketch(&self, a: &Analysis, rows: &mut Rows) {
        let indicators: BTreeSet<String> = Features::indicators_of(a)
            .indicators
            .iter()
            .filter(|i| !self.safelist.contains(i))
            .map(ToString::to_string)
            .collect();
        let signature = if indicators.is_empty() {
            Prop::Null
        } else {
            Prop::Ints(MinHasher::new(DEFAULT).signature(&indicators).into_longs())
        };
        if let Some(row) = rows.nodes.get_mut(&Label::Analysis).and_then(|r| r.first_mut()) {
            row.push(("ioc_count", Prop::Int(indicators.len() as i64)));
            row.push(("ioc_minhash", signature));
        }
    }

    /// Mark node rows. An indicator is matched by its node's key, so every
    /// row of a node, from any analysis, carries the same mark.
    pub fn apply(&self, rows: &mut Rows) {
        for (label, rows) in &mut rows.nodes {
            if *label == Label::Analysis && self.baseline {
                rows.iter_mut().for_each(|row| row.push(("baseline", Prop::Bool(true))));
            }
            let Some(kind) = label.indicator() else { continue };
            for row in rows {
                let key = row.iter().find(|(name, _)| *name == label.key());
                let Some((_, Prop::Str(key))) = key else { continue };
                if let Some(reason) = self.safelist.reason(&Indicator::new(kind, key)) {
                    let reason = Prop::Str(reason.to_owned());
                    row.push(("safelisted", Prop::Bool(true)));
                    row.push(("safelist_reason", reason));
                }
            }
        }
    }
}

/// The rows of `graphmalw correlate`'s campaigns: one `:Campaign` each
/// (`params` says which settings found it) and an `IN_CAMPAIGN` from every
/// member analysis.
pub fn campaign_rows(campaigns: &[Campaign], params: &str) -> Rows {
    let mut rows = Rows::default();
    for c in campaigns {
        let id = Prop::Str(c.id.clone());
        let node = vec![
            ("id", id.clone()),
            ("members", Prop::Int(c.members.len() as i64)),
            ("params", Prop::Str(params.to_owned())),
        ];
        rows.nodes.entry(Label::Campaign).or_default().push(node);
        let links = rows.rels.entry(Rel::InCampaign).or_default();
        for m in &c.members {
            links.push(vec![("from", Prop::Str(m.clone())), ("to", id.clone())]);
        }
    }
    rows
}

/// The API set of the analysis as `api-similarity` compares it: the names of
/// its `:Api` rows (as written, so cut as the database holds them),
/// lowercased, distinct.
fn api_set(rows: &Rows) -> BTreeSet<String> {
    let apis = rows.nodes.get(&Label::Api).map_or(&[][..], Vec::as_slice);
    apis.iter()
        .flat_map(|row| row.iter())
        .filter_map(|(name, v)| match (name, v) {
            (&"name", Prop::Str(s)) => Some(s.to_lowercase()),
            _ => None,
        })
        .collect()
}

/// The API set's [`Sketch`] on the `:Analysis` row (`api_count`,
/// `api_hashes`, `api_minhash`; the lists absent when the set is empty, as a
/// bulk import cannot write an empty list) and its bands as shared
/// `:ApiBand` nodes.
fn api_sketch_rows(b: &mut Builder, id: &Prop) {
    let sketch = Sketch::of(&api_set(&b.rows));
    let list = |v: Vec<i64>| if v.is_empty() { Prop::Null } else { Prop::Ints(v) };
    if let Some(row) = b.rows.nodes.get_mut(&Label::Analysis).and_then(|r| r.first_mut()) {
        row.push(("api_count", Prop::Int(sketch.size as i64)));
        row.push(("api_hashes", list(sketch.hashes)));
        row.push(("api_minhash", list(sketch.signature)));
    }
    for band in &sketch.bands {
        let k = b.shared(Label::ApiBand, band, vec![]);
        b.rel(Rel::InApiBand, id.clone(), k, vec![]);
    }
}

fn graph_rows(b: &mut Builder, analysis: &str, g: &Graph) {
    let uids: Vec<Prop> = g
        .nodes
        .iter()
        .map(|n| b.key(&format!("{analysis}/{}", n.id())))
        .collect();
    let an = Prop::Str(analysis.to_owned());
    for (node, uid) in g.nodes.iter().zip(&uids) {
        let label = Label::of(node.kind);
        let mut row: Row = vec![("uid", uid.clone()), ("analysis", an.clone())];
        match &node.props {
            NodeProps::Proc { pid, details } => {
                row.push(("pid", Prop::Int(*pid)));
                let d = details.as_ref();
                row.push(("ppid", d.and_then(|d| d.ppid).into()));
                row.push(("name", b.opt_text(d.and_then(|d| d.name.as_deref()))));
                row.push(("path", b.opt_text(d.map(|d| d.path.as_str()))));
                b.node(label, row);
                b.rel(Rel::HasProcess, an.clone(), uid.clone(), vec![]);
            }
            NodeProps::Api { name, api, category } => {
                row.push(("name", b.text(name)));
                row.push(("api", b.text(api)));
                row.push(("category", b.text(category)));
                b.node(label, row);
            }
            NodeProps::Module { name, address } => {
                row.push(("name", b.text(name)));
                row.push(("address", b.opt_text(address.as_deref())));
                b.node(label, row);
                // The module's name is its identity (rule Q3): the `:Dll` key.
                let k = b.shared(Label::Dll, name, vec![]);
                b.rel(Rel::ModuleRefersTo, uid.clone(), k, vec![]);
            }
            NodeProps::Handle { address, path, pid } => {
                row.push(("address", b.text(address)));
                row.push(("path", b.opt_text(path.as_deref())));
                row.push(("pid", Prop::Int(*pid)));
                b.node(label, row);
                if let Some(p) = path {
                    let (shared, rel) = match label {
                        Label::KeyHandle => (Label::RegistryKey, Rel::KeyRefersTo),
                        _ => (Label::File, Rel::FileRefersTo),
                    };
                    let k = b.shared(shared, &p.to_lowercase(), vec![]);
                    b.rel(rel, uid.clone(), k, vec![]);
                }
            }
        }
    }
    for e in &g.edges {
        let args = serde_json::to_string(&Args(&e.args)).unwrap_or_else(|_| "{}".into());
        let mut extra = vec![("count", Prop::Int(e.count as i64)), ("args", b.text(&args))];
        extra.extend(super::callargs::typed(e.kind, &e.args));
        b.rel(Rel::Behaviour(e.kind), uids[e.from].clone(), uids[e.to].clone(), extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_rows_link_every_member() {
        let c = Campaign {
            id: "campaign-1".into(),
            members: vec!["a".into(), "b".into()],
        };
        let rows = campaign_rows(&[c], "max_df=50");
        assert_eq!(
            rows.nodes[&Label::Campaign],
            [vec![
                ("id", Prop::Str("campaign-1".into())),
                ("members", Prop::Int(2)),
                ("params", Prop::Str("max_df=50".into())),
            ]]
        );
        let from: Vec<&Prop> = rows.rels[&Rel::InCampaign].iter().map(|r| &r[0].1).collect();
        assert_eq!(from, [&Prop::Str("a".into()), &Prop::Str("b".into())]);
        assert!(campaign_rows(&[], "").is_empty());
    }

    #[test]
    fn marks_set_safelisted_on_background_indicators_and_baseline_on_the_analysis() {
        let report = serde_json::json!({
            "info": {"version": "2.0.7"},
            "target": {"file": {"sha256": "ab".repeat(32), "name": "x.exe"}},
            "behavior": {"summary": {"mutex": ["Planted_Mtx"]}},
            "network": {"hosts": ["8.8.8.8", "203.0.113.9"], "domains": [{"domain": "www.msftncsi.com"}]}
        });
        let bytes = serde_json::to_vec(&report).unwrap();
        let cfg = crate::model::GraphConfig::default();
        let a = crate::pipeline::build_bytes(&bytes, "r.json", &cfg, Default::default()).unwrap();
        let marks = Marks {
            safelist: Safelist::builtin(),
            baseline: true,
        };
        let rows = marks.rows(&a, 1024);
        let marked = |label: Label, key: &str| {
            let row = rows.nodes[&label]
                .iter()
                .find(|r| r.contains(&(label.key(), Prop::Str(key.into()))))
                .unwrap_or_else(|| panic!("{key}"));
            row.contains(&("safelisted", Prop::Bool(true)))
        };
        assert!(marked(Label::IpAddress, "8.8.8.8"));
        assert!(marked(Label::Domain, "www.msftncsi.com"));
        assert!(!marked(Label::IpAddress, "203.0.113.9"));
        assert!(!marked(Label::Mutex, "Planted_Mtx"));
        let analysis = &rows.nodes[&Label::Analysis][0];
        assert!(analysis.contains(&("baseline", Prop::Bool(true))));
        // The indicator sketch leaves the safelisted address and domain out.
        assert!(analysis.contains(&("ioc_count", Prop::Int(2))), "{analysis:?}");
        // Unmarked, the rows are the analysis's own plus its sketch.
        let mut unmarked = Marks::default().rows(&a, 1024);
        let row = &mut unmarked.nodes.get_mut(&Label::Analysis).unwrap()[0];
        assert!(row.contains(&("ioc_count", Prop::Int(4))), "{row:?}");
        row.retain(|(name, _)| !name.starts_with("ioc_"));
        assert_eq!(unmarked, analysis_rows(&a, 1024));
    }

    #[test]
    fn long_values_are_cut_at_a_char_boundary_and_counted() {
        let mut b = Builder {
            rows: Rows::default(),
            max_len: 18,
            seen: HashSet::new(),
        };
        // 18 bytes leave 4 before the marker, inside the euro sign.
        let mut s = "ab€defgh-ijklmnopqrstuvwxyz".to_owned();
        b.cut(&mut s, 18);
        assert_eq!(s, format!("ab{TRUNCATION_MARKER}"));
        assert!(s.len() <= 18);
        // Cut once, never again.
        b.cut(&mut s, 18);
        let mut short = "abc".to_owned();
        b.cut(&mut short, 18);
        assert_eq!(short, "abc");
        assert_eq!(b.rows.truncated, 1);
    }

    /// Neo4j's index key limit: no key or indexed property over
    /// [`MAX_KEY_BYTES`], whatever the report holds, and every other string
    /// within `max_string_len`.
    #[test]
    fn keys_and_indexed_properties_fit_the_index_key_limit() {
        for len in [10_000, 100_000] {
            let long = "é".repeat(len / 2);
            let report = serde_json::json!({
                "info": {"version": "2.0.7"},
                "target": {"file": {"sha256": "ab".repeat(32), "name": long}},
                "behavior": {"processes": [{
                    "pid": 100, "ppid": 1, "process_name": long, "process_path": long,
                    "calls": [
                        {"category": "file", "api": long, "arguments": {"file_handle": "0x10", "filepath": long}},
                        {"category": "registry", "api": "RegOpenKeyExW",
                         "arguments": {"key_handle": "0x20", "regkey": long}},
                        {"category": "system", "api": "LdrLoadDll", "arguments": {"basename": long}}
                    ]
                }], "summary": {"mutex": [long]}},
                "signatures": [{"name": long, "description": long, "severity": 1}]
            });
            let bytes = serde_json::to_vec(&report).unwrap();
            let cfg = crate::model::GraphConfig::default();
            let a = crate::pipeline::build_bytes(&bytes, "r.json", &cfg, Default::default()).unwrap();
            let max_len = 64 * 1024;
            let rows = analysis_rows(&a, max_len);
            for (label, rows) in &rows.nodes {
                for row in rows {
                    for (name, value) in row {
                        let Prop::Str(v) = value else { continue };
                        let limit = label.max_bytes(name, max_len);
                        assert!(v.len() <= limit, "{label:?}.{name}: {} bytes", v.len());
                    }
                }
            }
            for rows in rows.rels.values() {
                for row in rows {
                    for (_, value) in row {
                        if let Prop::Str(v) = value {
                            assert!(v.len() <= max_len);
                        }
                    }
                }
            }
            assert!(rows.truncated >= 10, "{}", rows.truncated);
        }
    }
}
