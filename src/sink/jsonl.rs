//! JSON Lines for machine learning (`graphmalw export jsonl`): one graph per
//! line, with node and edge types as integer indices into the spec's type
//! lists (`node_types`, `edge_types`, repeated on every line so that each
//! line stands alone):
//!
//! ```json
//! {"analysis":"<analysis id>","report":"r.json.gz","format":"cape",
//!  "sample":"<sha256>","label":"agenttesla",
//!  "node_types":["proc","api","module","file_handle","key_handle"],
//!  "edge_types":["proc-api","api-proc",…,"module-api"],
//!  "nodes":[{"type":0,"name":"a.exe"},{"type":1,"name":"NtCreateFile"}],
//!  "edges":[[0,1,0,3]]}
//! ```
//!
//! `nodes` are in the graph's insertion order and an edge is
//! `[source index, target index, edge type index, count]`. A node's `name` is
//! [`export_name`](super::graphml::export_name). `sample` and `label` are
//! `null` when unknown.

use super::graphml::export_name;
use crate::model::{Analysis, EdgeKind, Graph, NodeKind};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::io::{self, Write};
use std::sync::OnceLock;

/// `"node_types":[…],"edge_types":[…]`, serialised once.
fn type_lists() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| {
        let nodes: Vec<&str> = NodeKind::ALL.iter().map(|k| k.as_str()).collect();
        let edges: Vec<&str> = EdgeKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "\"node_types\":{},\"edge_types\":{}",
            serde_json::to_string(&nodes).unwrap_or_default(),
            serde_json::to_string(&edges).unwrap_or_default()
        )
    })
}

struct Nodes<'a>(&'a Graph);

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.nodes.len()))?;
        for n in &self.0.nodes {
            seq.serialize_element(&NodeLine(n.kind.index(), export_name(n)))?;
        }
        seq.end()
    }
}

struct NodeLine<'a>(usize, &'a str);

impl Serialize for NodeLine<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", &self.0)?;
        m.serialize_entry("name", self.1)?;
        m.end()
    }
}

/// Write one graph as one line (ending in `\n`).
pub fn write_line<W: Write>(out: &mut W, analysis: &Analysis, graph: &Graph, label: Option<&str>) -> io::Result<()> {
    let meta = &analysis.meta;
    out.write_all(b"{\"analysis\":")?;
    serde_json::to_writer(&mut *out, &meta.id)?;
    out.write_all(b",\"report\":")?;
    serde_json::to_writer(&mut *out, &meta.report)?;
    out.write_all(b",\"format\":")?;
    serde_json::to_writer(&mut *out, &meta.format.map(|f| f.as_str()))?;
    out.write_all(b",\"sample\":")?;
    serde_json::to_writer(&mut *out, &meta.sample.sha256)?;
    out.write_all(b",\"label\":")?;
    serde_json::to_writer(&mut *out, &label)?;
    out.write_all(b",")?;
    out.write_all(type_lists().as_bytes())?;
    out.write_all(b",\"nodes\":")?;
    serde_json::to_writer(&mut *out, &Nodes(graph))?;
    out.write_all(b",\"edges\":[")?;
    for (i, e) in graph.edges.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(out, "[{},{},{},{}]", e.from, e.to, e.kind.index(), e.count)?;
    }
    out.write_all(b"]}\n")
}
