//! Graph types. Node and edge kinds are closed enums: their names are the
//! only place labels and relationship types come from, never report data.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    Proc,
    Api,
    Module,
    FileHandle,
    KeyHandle,
}

impl NodeKind {
    pub const ALL: [NodeKind; 5] = [
        NodeKind::Proc,
        NodeKind::Api,
        NodeKind::Module,
        NodeKind::FileHandle,
        NodeKind::KeyHandle,
    ];

    /// The spec's type name, as in node ids (`proc:2412`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Proc => "proc",
            NodeKind::Api => "api",
            NodeKind::Module => "module",
            NodeKind::FileHandle => "file_handle",
            NodeKind::KeyHandle => "key_handle",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    ProcApi,
    ApiProc,
    ApiNproc,
    ApiApi,
    ApiHandle,
    HandleApi,
    ApiKeyHandle,
    KeyHandleApi,
    ApiFileHandle,
    FileHandleApi,
    ApiModule,
    ModuleApi,
}

impl EdgeKind {
    /// The twelve edge types, in the order of the spec's seed model.
    pub const ALL: [EdgeKind; 12] = [
        EdgeKind::ProcApi,
        EdgeKind::ApiProc,
        EdgeKind::ApiNproc,
        EdgeKind::ApiApi,
        EdgeKind::ApiHandle,
        EdgeKind::HandleApi,
        EdgeKind::ApiKeyHandle,
        EdgeKind::KeyHandleApi,
        EdgeKind::ApiFileHandle,
        EdgeKind::FileHandleApi,
        EdgeKind::ApiModule,
        EdgeKind::ModuleApi,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::ProcApi => "proc-api",
            EdgeKind::ApiProc => "api-proc",
            EdgeKind::ApiNproc => "api-nproc",
            EdgeKind::ApiApi => "api-api",
            EdgeKind::ApiHandle => "api-handle",
            EdgeKind::HandleApi => "handle-api",
            EdgeKind::ApiKeyHandle => "api-key_handle",
            EdgeKind::KeyHandleApi => "key_handle-api",
            EdgeKind::ApiFileHandle => "api-file_handle",
            EdgeKind::FileHandleApi => "file_handle-api",
            EdgeKind::ApiModule => "api-module",
            EdgeKind::ModuleApi => "module-api",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeProps {
    /// `ppid`/`name`/`path` are `None` for a target that is not a listed process.
    Proc {
        pid: i64,
        details: Option<ProcDetails>,
    },
    Api {
        name: String,
        api: String,
        category: String,
    },
    Module {
        name: String,
        address: Option<String>,
    },
    Handle {
        address: String,
        path: Option<String>,
        pid: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcDetails {
    pub ppid: Option<i64>,
    pub name: Option<String>,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub key: String,
    pub props: NodeProps,
}

impl Node {
    /// `type:key`, the node's id in JSON output.
    pub fn id(&self) -> String {
        NodeId(self).to_string()
    }

    /// The name shown in DOT labels.
    pub fn display_name(&self) -> &str {
        match &self.props {
            NodeProps::Proc {
                details: Some(ProcDetails { name: Some(n), .. }),
                ..
            } => n,
            NodeProps::Proc { .. } => &self.key,
            NodeProps::Api { name, .. } | NodeProps::Module { name, .. } => name,
            NodeProps::Handle { address, .. } => address,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub kind: EdgeKind,
    /// Index into [`Graph::nodes`].
    pub from: usize,
    pub to: usize,
    pub count: u64,
    /// Arguments of the first call that made the edge, minus identity arguments.
    pub args: Vec<(String, Value)>,
}

/// A node's id, `type:key`, written (or serialized as a string) without
/// building it: the JSON output writes two per edge.
pub struct NodeId<'a>(pub &'a Node);

impl std::fmt::Display for NodeId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.kind.as_str())?;
        f.write_str(":")?;
        f.write_str(&self.0.key)
    }
}

impl serde::Serialize for NodeId<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Arguments as a JSON object, in report order.
pub struct Args<'a>(pub &'a [(String, Value)]);

impl serde::Serialize for Args<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl Graph {
    /// Edges from which writing a graph, or freeing it, is worth a second core.
    pub const BIG: usize = if cfg!(test) { 2 } else { 20_000 };

    /// Whether this graph is [`Graph::BIG`].
    pub fn is_big(&self) -> bool {
        self.edges.len() >= Self::BIG
    }

    pub fn node_counts(&self) -> [usize; 5] {
        let mut c = [0; 5];
        for n in &self.nodes {
            c[n.kind.index()] += 1;
        }
        c
    }

    pub fn edge_counts(&self) -> [usize; 12] {
        let mut c = [0; 12];
        for e in &self.edges {
            c[e.kind.index()] += 1;
        }
        c
    }
}
