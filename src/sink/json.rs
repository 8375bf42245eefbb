//! The JSON graph of spec section 5: `analysis`, `nodes`, `edges` (and the
//! report's indicators under `iocs`). One node or edge per line, so files
//! diff well; the bytes depend only on the input and the settings.

use crate::model::{Analysis, Edge, Graph, IocsView, Node, NodeId, NodeProps, SampleView};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::io::{self, Write};
use std::sync::Mutex;

/// Write one analysis with its graph.
pub fn write_graph<W: Write>(out: &mut W, analysis: &Analysis, graph: &Graph) -> io::Result<()> {
    write_graph_with(out, analysis, graph, || None::<()>)
}

/// Nodes and edges claimed at a time by either thread of a split output.
const CLAIM: usize = if cfg!(test) { 3 } else { 1024 };

/// [`write_graph`]; for a big graph ([`Graph::is_big`]), `second_core` is asked for a core
/// (held while the value it returns lives), and with one the nodes and
/// edges are rendered by two threads meeting in the middle: this one
/// writes from the front as it goes, the other renders from the back into
/// memory, written after (the same bytes: a big graph's text is written
/// on one core after its build, about a tenth of `build -j 2` of a 263 MB
/// report, and its nodes, a third of the text, take as long as its edges).
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
    let items = graph.nodes.len() + graph.edges.len();
    let core = if graph.is_big() { second_core() } else { None };
    match core {
        Some(_core) => write_items_in_two(out, graph, items)?,
        None => write_items(out, graph, 0..items)?,
    }
    if graph.edges.is_empty() {
        out.write_all(edges_open(graph))?;
        out.write_all(b"],\n  \"iocs\": ")?;
    } else {
        out.write_all(b"\n  ],\n  \"iocs\": ")?;
    }
    serde_json::to_writer(&mut *out, &IocsView(&meta.iocs))?;
    out.write_all(b"\n}\n")
}

/// The text that closes `nodes` and opens `edges`.
fn edges_open(graph: &Graph) -> &'static [u8] {
    if graph.nodes.is_empty() {
        b"],\n  \"edges\": ["
    } else {
        b"\n  ],\n  \"edges\": ["
    }
}

/// The items `range` of the graph, one per line: nodes are items
/// `0..nodes`, edges follow, the first edge preceded by [`edges_open`].
fn write_items(out: &mut impl Write, graph: &Graph, range: std::ops::Range<usize>) -> io::Result<()> {
    let nodes = graph.nodes.len();
    for i in range {
        if i == nodes {
            out.write_all(edges_open(graph))?;
        }
        // The first of each array is not preceded by a comma.
        out.write_all(if i == 0 || i == nodes { b"\n    " } else { b",\n    " })?;
        match graph.nodes.get(i) {
            Some(node) => serde_json::to_writer(&mut *out, &NodeJson(node))?,
            None => serde_json::to_writer(
                &mut *out,
                &EdgeJson {
                    edge: &graph.edges[i - nodes],
                    graph,
                },
            )?,
        }
    }
    Ok(())
}

/// [`write_items`] of all `items` on two threads: this one claims
/// [`CLAIM`] items at a time from the front and writes them to `out`, the
/// other claims from the back into memory, until they meet; then the
/// back's text follows in order.
fn write_items_in_two(out: &mut impl Write, graph: &Graph, items: usize) -> io::Result<()> {
    let unclaimed = Mutex::new(0..items);
    let claim = |from_front: bool| {
        let mut left = unclaimed.lock().unwrap_or_else(|e| e.into_inner());
        let n = left.len().min(CLAIM);
        (n > 0).then(|| {
            if from_front {
                left.start += n;
                left.start - n..left.start
            } else {
                left.end -= n;
                left.end..left.end + n
            }
        })
    };
    std::thread::scope(|scope| {
        let back = scope.spawn(|| {
            let mut parts = Vec::new();
            while let Some(range) = claim(false) {
                let mut text = Vec::new();
                write_items(&mut text, graph, range)?;
                parts.push(text);
            }
            io::Result::Ok(parts)
        });
        while let Some(range) = claim(true) {
            if let Err(e) = write_items(out, graph, range) {
                // The other thread stops at its next claim.
                *unclaimed.lock().unwrap_or_else(|e| e.into_inner()) = 0..0;
                return Err(e);
            }
        }
        let parts = back.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        parts.iter().rev().try_for_each(|text| out.write_all(text))
    })
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
            assert!(graph.is_big());
            let (mut one, mut two) = (Vec::new(), Vec::new());
            write_graph(&mut one, &a, graph).unwrap();
            write_graph_with(&mut two, &a, graph, || Some(())).unwrap();
            assert_eq!(String::from_utf8(one).unwrap(), String::from_utf8(two).unwrap());
        }
    }
}
