//! The JSON graph of spec section 5: `analysis`, `nodes`, `edges` (and the
//! report's indicators under `iocs`). One node or edge per line, so files
//! diff well; the bytes depend only on the input and the settings.

use crate::model::{Analysis, Edge, Graph, IocsView, Node, NodeId, NodeProps, SampleView};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::io::{self, Write};

/// Write one analysis with its graph.
pub fn write_graph<W: Write>(out: &mut W, analysis: &Analysis, graph: &Graph) -> io::Result<()> {
    write_graph_with(out, analysis, graph, || None::<()>)
}

/// Edges from which a graph's output is worth a second thread.
const SPLIT_EDGES: usize = if cfg!(test) { 2 } else { 20_000 };

/// [`write_graph`]; for a big graph, `second_core` is asked for a core
/// (held while the value it returns lives), and with one the second half
/// of the edges is rendered on another thread while this one writes the
/// rest (the same bytes: a big graph's text is written on one core after
/// its build, about a tenth of `build -j 2` of a 263 MB report).
pub fn write_graph_with<W: Write, C>(
    out: &mut W,
    analysis: &Analysis,
    graph: &Graph,
    second_core: impl FnOnce() -> Option<C>,
) -> io::Result<()> {
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
    let n = graph.edges.len();
    let core = if n >= SPLIT_EDGES { second_core() } else { None };
    if core.is_some() {
        let mid = n / 2;
        std::thread::scope(|scope| {
            let second = scope.spawn(|| {
                let mut text = Vec::new();
                write_edges(&mut text, graph, mid..n).map(|()| text)
            });
            write_edges(out, graph, 0..mid)?;
            let text = second.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            out.write_all(&text)
        })?;
    } else {
        write_edges(out, graph, 0..n)?;
    }
    out.write_all(if graph.edges.is_empty() {
        b"],\n  \"iocs\": "
    } else {
        b"\n  ],\n  \"iocs\": "
    })?;
    serde_json::to_writer(&mut *out, &IocsView(&meta.iocs))?;
    out.write_all(b"\n}\n")
}

/// The edges `range` of the `edges` array, one per line.
fn write_edges(out: &mut impl Write, graph: &Graph, range: std::ops::Range<usize>) -> io::Result<()> {
    for i in range {
        out.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        let edge = &graph.edges[i];
        serde_json::to_writer(&mut *out, &EdgeJson { edge, graph })?;
    }
    Ok(())
}

struct NodeJson<'a>(&'a Node);

impl Serialize for NodeJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &NodeId(n))?;
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
        m.serialize_entry("from", &NodeId(&self.graph.nodes[e.from]))?;
        m.serialize_entry("to", &NodeId(&self.graph.nodes[e.to]))?;
        m.serialize_entry("count", &e.count)?;
        m.serialize_entry("args", &Args(&e.args))?;
        m.end()
    }
}

pub use crate::model::Args;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_written_by_two_threads_is_the_same_bytes() {
        let cfg = crate::model::GraphConfig::default();
        for name in ["injector-cape.json", "dropper-cuckoo.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/reports")
                .join(name);
            let bytes = std::fs::read(&path).unwrap();
            let a = crate::pipeline::build_bytes(&bytes, name, &cfg, Default::default()).unwrap();
            let graph = a.graph().unwrap();
            assert!(graph.edges.len() >= SPLIT_EDGES);
            let (mut one, mut two) = (Vec::new(), Vec::new());
            write_graph(&mut one, &a, graph).unwrap();
            write_graph_with(&mut two, &a, graph, || Some(())).unwrap();
            assert_eq!(String::from_utf8(one).unwrap(), String::from_utf8(two).unwrap());
        }
    }
}
