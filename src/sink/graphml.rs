//! GraphML (`graphmalw export graphml`): one file per report, for Gephi,
//! yEd, NetworkX (`networkx.read_graphml`) and other graph tools.
//!
//! Every attribute is declared with a `<key>`. Nodes are `n<index>` and
//! edges `e<index>`, in the graph's insertion order; the spec's node id
//! (`proc:2412`) is the `node_id` attribute. Node attributes: `type`, `name`
//! (see [`export_name`]), `node_id`, and the spec properties the node has
//! (`pid`, `ppid`, `path`, `api`, `category`, `address`). Edge attributes:
//! `type`, `count`, `args` (a JSON object as text). Graph attributes:
//! `analysis`, `report`, `format`, `sample`.
//!
//! XML 1.0 cannot carry most control characters, not even as `&#…;`
//! references, yet report strings may hold anything: U+0000–U+001F other than
//! tab, line feed and carriage return become the matching Control Pictures
//! character (U+2400–U+241F, e.g. NUL → `␀`), and U+FFFE/U+FFFF become U+FFFD.
//! Everything else is kept; `&`, `<`, `>`, `"` and carriage returns are
//! escaped so that a parser gives back the same text.

use crate::model::{Analysis, Graph, Node, NodeProps};
use std::io::{self, Write};

/// The name ML exports give a node: the process name (else its pid), the
/// api's display name, the module name, a handle's path (else its address).
pub fn export_name(node: &Node) -> &str {
    match &node.props {
        NodeProps::Proc { details, .. } => details.as_ref().and_then(|d| d.name.as_deref()).unwrap_or(&node.key),
        NodeProps::Api { name, .. } | NodeProps::Module { name, .. } => name,
        NodeProps::Handle { path: Some(p), .. } => p,
        NodeProps::Handle { address, .. } => address,
    }
}

/// Text made safe for XML 1.0 character data and attribute values.
pub fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Kept as references: a parser normalises raw CR (and, in
            // attributes, tabs and line feeds too).
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// (id, for, attr.name, attr.type) of every declared attribute.
const KEYS: [(&str, &str, &str, &str); 16] = [
    ("g_analysis", "graph", "analysis", "string"),
    ("g_report", "graph", "report", "string"),
    ("g_format", "graph", "format", "string"),
    ("g_sample", "graph", "sample", "string"),
    ("type", "node", "type", "string"),
    ("name", "node", "name", "string"),
    ("node_id", "node", "node_id", "string"),
    ("pid", "node", "pid", "long"),
    ("ppid", "node", "ppid", "long"),
    ("path", "node", "path", "string"),
    ("api", "node", "api", "string"),
    ("category", "node", "category", "string"),
    ("address", "node", "address", "string"),
    ("e_type", "edge", "type", "string"),
    ("count", "edge", "count", "long"),
    ("args", "edge", "args", "string"),
];

fn data(out: &mut String, indent: &str, key: &str, value: &str) {
    out.push_str(indent);
    out.push_str("<data key=\"");
    out.push_str(key);
    out.push_str("\">");
    escape(out, value);
    out.push_str("</data>\n");
}

/// Write one analysis's graph as a GraphML document.
pub fn write_graphml<W: Write>(w: &mut W, analysis: &Analysis, graph: &Graph) -> io::Result<()> {
    let meta = &analysis.meta;
    let mut out = String::with_capacity(256 * (graph.nodes.len() + graph.edges.len()) + 2048);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns \
         http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n",
    );
    for (id, domain, name, ty) in KEYS {
        out.push_str(&format!(
            "  <key id=\"{id}\" for=\"{domain}\" attr.name=\"{name}\" attr.type=\"{ty}\"/>\n"
        ));
    }
    out.push_str("  <graph id=\"G\" edgedefault=\"directed\">\n");
    data(&mut out, "    ", "g_analysis", &meta.id);
    data(&mut out, "    ", "g_report", &meta.report);
    if let Some(f) = meta.format {
        data(&mut out, "    ", "g_format", f.as_str());
    }
    if let Some(s) = &meta.sample.sha256 {
        data(&mut out, "    ", "g_sample", s);
    }
    for (i, n) in graph.nodes.iter().enumerate() {
        out.push_str(&format!("    <node id=\"n{i}\">\n"));
        let d = |out: &mut String, k: &str, v: &str| data(out, "      ", k, v);
        d(&mut out, "type", n.kind.as_str());
        d(&mut out, "name", export_name(n));
        d(&mut out, "node_id", &n.id());
        match &n.props {
            NodeProps::Proc { pid, details } => {
                d(&mut out, "pid", &pid.to_string());
                if let Some(det) = details {
                    if let Some(pp) = det.ppid {
                        d(&mut out, "ppid", &pp.to_string());
                    }
                    d(&mut out, "path", &det.path);
                }
            }
            NodeProps::Api { api, category, .. } => {
                d(&mut out, "api", api);
                d(&mut out, "category", category);
            }
            NodeProps::Module { address, .. } => {
                if let Some(a) = address {
                    d(&mut out, "address", a);
                }
            }
            NodeProps::Handle { address, path, pid } => {
                d(&mut out, "address", address);
                if let Some(p) = path {
                    d(&mut out, "path", p);
                }
                d(&mut out, "pid", &pid.to_string());
            }
        }
        out.push_str("    </node>\n");
        if out.len() > 1 << 20 {
            w.write_all(out.as_bytes())?;
            out.clear();
        }
    }
    for (i, e) in graph.edges.iter().enumerate() {
        out.push_str(&format!(
            "    <edge id=\"e{i}\" source=\"n{}\" target=\"n{}\">\n",
            e.from, e.to
        ));
        data(&mut out, "      ", "e_type", e.kind.as_str());
        data(&mut out, "      ", "count", &e.count.to_string());
        let args = serde_json::to_string(&super::json::Args(&e.args)).unwrap_or_else(|_| "{}".into());
        data(&mut out, "      ", "args", &args);
        out.push_str("    </edge>\n");
        if out.len() > 1 << 20 {
            w.write_all(out.as_bytes())?;
            out.clear();
        }
    }
    out.push_str("  </graph>\n</graphml>\n");
    w.write_all(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        let mut s = String::new();
        escape(&mut s, "a<b>&\"c'\u{0}\u{1b}\t\n\r\u{fffe}é🦀");
        assert_eq!(s, "a&lt;b&gt;&amp;&quot;c'\u{2400}\u{241b}&#9;&#10;&#13;\u{fffd}é🦀");
    }
}
