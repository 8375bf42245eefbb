//! The JSON graph of spec section 5: `analysis`, `nodes`, `edges` (and the
//! report's indicators under `iocs`). One node or edge per line, so files
//! diff well; the bytes depend only on the input and the settings.

use crate::model::{Analysis, Edge, Graph, IocsView, Node, NodeProps, SampleView};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::io::{self, Write};

/// Write one analysis with its graph.
pub fn write_graph<W: Write>(out: &mut W, analysis: &Analysis, graph: &Graph) -> io::Result<()> {
    let meta = &analysis.meta;
    let header = serde_json::json!({
        "id": meta.id,
        "report": meta.report,
        "format": meta.format.map(|f| f.as_str()),
        "sample": SampleView::from(&meta.sample),
    });
    out.write_all(b"{\n  \"analysis\": ")?;
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b",\n  \"nodes\": [")?;
    for (i, node) in graph.nodes.iter().enumerate() {
        out.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(&mut *out, &NodeJson(node))?;
    }
    out.write_all(if graph.nodes.is_empty() {
        b"],\n  \"edges\": ["
    } else {
        b"\n  ],\n  \"edges\": ["
    })?;
    for (i, edge) in graph.edges.iter().enumerate() {
        out.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(&mut *out, &EdgeJson { edge, graph })?;
    }
    out.write_all(if graph.edges.is_empty() {
        b"],\n  \"iocs\": "
    } else {
        b"\n  ],\n  \"iocs\": "
    })?;
    serde_json::to_writer(&mut *out, &IocsView(&meta.iocs))?;
    out.write_all(b"\n}\n")
}

struct NodeJson<'a>(&'a Node);

impl Serialize for NodeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &n.id())?;
        m.serialize_entry("type", n.kind.as_str())?;
        m.serialize_entry("key", &n.key)?;
        match &n.props {
            NodeProps::Proc { pid, details } => {
                m.serialize_entry("pid", pid)?;
                if let Some(d) = details {
                    m.serialize_entry("ppid", &d.ppid)?;
                    m.serialize_entry("name", &d.name)?;
                    m.serialize_entry("path", &d.path)?;
                }
            }
            NodeProps::Api { name, api, category } => {
                m.serialize_entry("name", name)?;
                m.serialize_entry("api", api)?;
                m.serialize_entry("category", category)?;
            }
            NodeProps::Module { name, address } => {
                m.serialize_entry("name", name)?;
                m.serialize_entry("address", address)?;
            }
            NodeProps::Handle { address, path, pid } => {
                m.serialize_entry("address", address)?;
                m.serialize_entry("path", path)?;
                m.serialize_entry("pid", pid)?;
            }
        }
        m.end()
    }
}

struct EdgeJson<'a> {
    edge: &'a Edge,
    graph: &'a Graph,
}

impl Serialize for EdgeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.edge;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", e.kind.as_str())?;
        m.serialize_entry("from", &self.graph.nodes[e.from].id())?;
        m.serialize_entry("to", &self.graph.nodes[e.to].id())?;
        m.serialize_entry("count", &e.count)?;
        m.serialize_entry("args", &Args(&e.args))?;
        m.end()
    }
}

pub use crate::model::Args;
