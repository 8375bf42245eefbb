//! Graphviz DOT (spec section 6): shapes and colours of the seed images.

use super::HandleLabel;
use crate::model::{EdgeKind, Graph, NodeKind, NodeProps};
use std::io::{self, Write};

/// Write the graph as one `digraph`.
pub fn write_dot<W: Write>(out: &mut W, graph: &Graph, handle_label: HandleLabel, title: &str) -> io::Result<()> {
    writeln!(out, "digraph {} {{", quote(title))?;
    writeln!(out, "  graph [fontname=\"Helvetica\", overlap=false];")?;
    writeln!(out, "  node [style=filled, fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=8];")?;
    for (i, node) in graph.nodes.iter().enumerate() {
        let name = match (&node.props, handle_label) {
            (NodeProps::Handle { path: Some(p), .. }, HandleLabel::Path) => p.as_str(),
            _ => node.display_name(),
        };
        let (shape, fill, color) = match node.kind {
            NodeKind::Api => ("box", "#3232322d", "gray"),
            NodeKind::Proc => ("octagon", "#3c00783d", "#3c0078"),
            NodeKind::KeyHandle => ("oval", "#d923ca3d", "#d923ca"),
            NodeKind::FileHandle => ("oval", "#1a28eb3d", "#1a28eb"),
            NodeKind::Module => ("component", "#1a91403d", "#1a9140"),
        };
        writeln!(
            out,
            "  n{i} [label={}, shape={shape}, fillcolor=\"{fill}\", color=\"{color}\", tooltip={}];",
            quote(&format!("{i} {name}")),
            quote(&node.id())
        )?;
    }
    for e in &graph.edges {
        let color = match e.kind {
            EdgeKind::ProcApi => "#323232ff",
            EdgeKind::ApiApi => "#32323268",
            EdgeKind::ApiProc => "#3c007888",
            EdgeKind::ApiNproc => "#38aba9aa",
            EdgeKind::ApiKeyHandle | EdgeKind::KeyHandleApi => "#d923ca88",
            EdgeKind::ApiFileHandle | EdgeKind::FileHandleApi | EdgeKind::ApiHandle | EdgeKind::HandleApi => {
                "#1a28eb88"
            }
            EdgeKind::ApiModule | EdgeKind::ModuleApi => "#1a914088",
        };
        let label = if e.count > 1 {
            format!(", label=\"{}\"", e.count)
        } else {
            String::new()
        };
        writeln!(
            out,
            "  n{} -> n{} [color=\"{color}\", tooltip=\"{}\"{label}];",
            e.from,
            e.to,
            e.kind.as_str()
        )?;
    }
    writeln!(out, "}}")
}

/// A DOT double-quoted string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => {}
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quote_escapes_backslashes_and_quotes() {
        assert_eq!(quote(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
