//! The rules of `spec/graph-rules.md`, applied call by call.
//!
//! Rule names in comments (C1, H4, K1…) refer to that document; each rule has
//! a unit test named after it at the bottom of this file.

use super::graph::{Edge, EdgeKind, Graph, Node, NodeKind, NodeProps, ProcDetails};
use super::Outcome;
use crate::report::{Call, CallSink, ProcessInfo};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The settings the rules depend on.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphConfig {
    /// C1: call categories that count.
    pub categories: Vec<String>,
    /// M1: module strings (whole, lowercased) that link nothing.
    pub ignore_modules: Vec<String>,
    /// S1: emit `api-api` sequence edges.
    pub sequence_edges: bool,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            categories: ["process", "file", "registry", "system"].map(String::from).to_vec(),
            ignore_modules: ["uxtheme", "xmllite"].map(String::from).to_vec(),
            sequence_edges: true,
        }
    }
}

/// Arguments that identify an edge's endpoints and so are left out of `args`.
const IDENTITY_ARGS: [&str; 15] = [
    "process_identifier",
    "handle",
    "process_handle",
    "key_handle",
    "file_handle",
    "source_handle",
    "base_handle",
    "module_address",
    "base_address",
    "function_address",
    "module",
    "module_name",
    "function_name",
    "basename",
    "library",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HandleKind {
    File,
    Key,
}

/// State of the process whose calls are being read.
struct ProcState {
    info: ProcessInfo,
    /// P1: the process node, once one of its calls passed C1.
    node: Option<usize>,
    /// C3: the previous call that passed C1 and C2.
    prev: Option<Call>,
    /// S1: the api node of the previous call that reached `proc-api`.
    last_api: Option<usize>,
    /// H4: open handle lifetimes → their node.
    lifetimes: HashMap<(HandleKind, String), usize>,
}

pub struct GraphBuilder<'c> {
    cfg: &'c GraphConfig,
    categories: HashSet<&'c str>,
    graph: Graph,
    nodes: HashMap<(NodeKind, String), usize>,
    edges: HashMap<(EdgeKind, usize, usize), usize>,
    degree: Vec<u32>,
    /// Proc nodes that got their properties from P1.
    p1_nodes: HashSet<usize>,
    /// Every listed process by pid (the last listed wins).
    listed: HashMap<i64, ProcessInfo>,
    /// P1 → M2: lowercased process path → pid (the last visited wins).
    paths: HashMap<String, i64>,
    current: Option<ProcState>,
    calls_seen: u64,
    /// Edges the current call already counted: one call adds at most 1 to an
    /// edge even when two rules (M2 and T1) produce it.
    touched: Vec<usize>,
}

impl<'c> GraphBuilder<'c> {
    pub fn new(cfg: &'c GraphConfig) -> Self {
        GraphBuilder {
            cfg,
            categories: cfg.categories.iter().map(String::as_str).collect(),
            graph: Graph::default(),
            nodes: HashMap::new(),
            edges: HashMap::new(),
            degree: Vec::new(),
            p1_nodes: HashSet::new(),
            listed: HashMap::new(),
            paths: HashMap::new(),
            current: None,
            calls_seen: 0,
            touched: Vec::new(),
        }
    }

    /// Number of calls handed to the builder so far.
    pub fn calls_seen(&self) -> u64 {
        self.calls_seen
    }

    /// The finished graph: a target proc that is a listed process gets its
    /// properties; an empty graph is G1's "empty".
    pub fn finish(mut self) -> Outcome {
        for (i, node) in self.graph.nodes.iter_mut().enumerate() {
            if let NodeProps::Proc { pid, details } = &mut node.props {
                if !self.p1_nodes.contains(&i) {
                    if let Some(info) = self.listed.get(pid) {
                        *details = Some(details_of(info));
                    }
                }
            }
        }
        if self.graph.nodes.is_empty() {
            Outcome::Empty
        } else {
            Outcome::Built(self.graph)
        }
    }

    fn node(&mut self, kind: NodeKind, key: String, make: impl FnOnce() -> NodeProps) -> (usize, bool) {
        if let Some(&i) = self.nodes.get(&(kind, key.clone())) {
            return (i, false);
        }
        let i = self.graph.nodes.len();
        self.graph.nodes.push(Node {
            kind,
            key: key.clone(),
            props: make(),
        });
        self.degree.push(0);
        self.nodes.insert((kind, key), i);
        (i, true)
    }

    /// K1: undo the node made last, when nothing linked it.
    fn remove_last_node(&mut self, i: usize) {
        debug_assert_eq!(i + 1, self.graph.nodes.len());
        if let Some(node) = self.graph.nodes.pop() {
            self.nodes.remove(&(node.kind, node.key));
            self.degree.pop();
        }
    }

    /// Add one call's worth to the edge `(kind, from, to)`. Self-loops are dropped.
    fn edge(&mut self, kind: EdgeKind, from: usize, to: usize, call: Option<&Call>) -> bool {
        if from == to {
            return false;
        }
        match self.edges.get(&(kind, from, to)) {
            Some(&e) => {
                if !self.touched.contains(&e) {
                    self.touched.push(e);
                    self.graph.edges[e].count += 1;
                }
            }
            None => {
                let args = call.map(edge_args).unwrap_or_default();
                self.touched.push(self.graph.edges.len());
                self.edges.insert((kind, from, to), self.graph.edges.len());
                self.graph.edges.push(Edge {
                    kind,
                    from,
                    to,
                    count: 1,
                    args,
                });
                self.degree[from] += 1;
                self.degree[to] += 1;
            }
        }
        true
    }

    fn proc_node(&mut self, pid: i64) -> usize {
        self.node(NodeKind::Proc, pid.to_string(), || NodeProps::Proc {
            pid,
            details: None,
        })
        .0
    }

    fn handle_call(&mut self, call: Call) {
        let Some(state) = self.current.as_mut() else {
            return;
        };
        let pid = state.info.pid;

        // C1
        if !self.categories.contains(call.category.as_str()) {
            return;
        }
        // P1
        let proc_node = match state.node {
            Some(n) => n,
            None => {
                let info = state.info.clone();
                let n = self.proc_node(pid);
                self.graph.nodes[n].props = NodeProps::Proc {
                    pid,
                    details: Some(details_of(&info)),
                };
                self.p1_nodes.insert(n);
                if let Some(path) = info.path.as_deref().filter(|p| !p.is_empty()) {
                    self.paths.insert(path.to_lowercase(), pid);
                }
                let Some(state) = self.current.as_mut() else {
                    return;
                };
                state.node = Some(n);
                n
            }
        };
        // C2
        if call.failed {
            return;
        }
        // C3
        let Some(state) = self.current.as_mut() else {
            return;
        };
        if state.prev.as_ref().is_some_and(|prev| same_call(prev, &call)) {
            return;
        }
        state.prev = Some(call);
        let Some(call) = state.prev.clone() else {
            return;
        };

        // H5: NtClose links nothing and ends the lifetimes of its handle value.
        if call.api == "NtClose" {
            if let Some(address) = call.arg("handle").and_then(address_of) {
                state.lifetimes.remove(&(HandleKind::File, address.clone()));
                state.lifetimes.remove(&(HandleKind::Key, address));
            }
            return;
        }

        let display = display_name(&call);
        let (api, created) = self.node(NodeKind::Api, display.to_lowercase(), || NodeProps::Api {
            name: display.clone(),
            api: call.api.clone(),
            category: call.category.clone(),
        });
        let mut linked = false;

        // L1
        if let Some(module) = loader_module(&call) {
            linked |= self.link_module(&call, api, proc_node, pid, &module);
        }
        // T1
        if let Some(target) = call.arg("process_identifier") {
            linked = true;
            if let Some(target) = target.as_i64() {
                if target == pid {
                    self.edge(EdgeKind::ApiProc, api, proc_node, Some(&call));
                } else {
                    let t = self.proc_node(target);
                    self.edge(EdgeKind::ApiNproc, api, t, Some(&call));
                }
            }
        }
        // H1
        for (name, value) in &call.args {
            let kind = match name.as_str() {
                "file_handle" => HandleKind::File,
                "key_handle" => HandleKind::Key,
                _ => continue,
            };
            linked |= self.link_handle(&call, &display, api, pid, kind, value);
        }
        // H5: RegCloseKey ends the key-handle lifetime after linking it.
        if call.api == "RegCloseKey" {
            if let (Some(state), Some(address)) = (self.current.as_mut(), call.arg("key_handle").and_then(address_of)) {
                state.lifetimes.remove(&(HandleKind::Key, address));
            }
        }

        // K1
        if linked || self.degree[api] > 0 {
            self.edge(EdgeKind::ProcApi, proc_node, api, None);
            // S1
            let Some(state) = self.current.as_mut() else {
                return;
            };
            let prev = state.last_api.replace(api);
            if self.cfg.sequence_edges {
                if let Some(prev) = prev {
                    self.edge(EdgeKind::ApiApi, prev, api, None);
                }
            }
        } else if created {
            self.remove_last_node(api);
        }
    }

    /// L1 (M1–M3): link a loader call to the module (and process) it reaches.
    fn link_module(&mut self, call: &Call, api: usize, proc_node: usize, pid: i64, module: &str) -> bool {
        // M1
        if self.cfg.ignore_modules.iter().any(|m| m == module) {
            return false;
        }
        let mut linked = false;
        // M2
        if let Some(&owner) = self.paths.get(module) {
            if owner == pid {
                linked |= self.edge(EdgeKind::ApiProc, api, proc_node, Some(call));
            } else {
                let t = self.proc_node(owner);
                linked |= self.edge(EdgeKind::ApiNproc, api, t, Some(call));
            }
        }
        // M3
        if passes_n1(module) {
            let address = call.arg("module_address").and_then(address_of);
            let (m, _) = self.node(NodeKind::Module, module.to_owned(), || NodeProps::Module {
                name: module.to_owned(),
                address,
            });
            linked |= if call.api == "LdrGetProcedureAddress" {
                self.edge(EdgeKind::ModuleApi, m, api, Some(call))
            } else {
                self.edge(EdgeKind::ApiModule, api, m, Some(call))
            };
        }
        linked
    }

    /// H1–H4: link a call to the handle node its argument refers to.
    fn link_handle(
        &mut self,
        call: &Call,
        display: &str,
        api: usize,
        pid: i64,
        kind: HandleKind,
        value: &Value,
    ) -> bool {
        let Some(address) = address_of(value) else {
            return false;
        };
        let path_args: [&str; 2] = match kind {
            HandleKind::File => ["filepath", "dirpath"],
            HandleKind::Key => ["regkey", "path"],
        };
        let path = path_args
            .iter()
            .find_map(|a| call.arg(a).and_then(Value::as_str).filter(|p| !p.is_empty()))
            .map(str::to_owned);
        // N1 on the call's own path, else the address.
        if !passes_n1(path.as_deref().unwrap_or(&address).to_lowercase().as_str()) {
            return false;
        }
        let node_kind = match kind {
            HandleKind::File => NodeKind::FileHandle,
            HandleKind::Key => NodeKind::KeyHandle,
        };
        let lower_path = path.as_deref().map(str::to_lowercase).unwrap_or_default();
        let node = if is_null_address(&address) {
            // H3: keyed by the path (N1 guaranteed there is one).
            let (n, _) = self.node(node_kind, format!("{pid}:|{lower_path}"), || NodeProps::Handle {
                address: address.clone(),
                path: path.clone(),
                pid,
            });
            n
        } else {
            // H4: the open lifetime of this value, or a new one.
            let open = self
                .current
                .as_ref()
                .and_then(|s| s.lifetimes.get(&(kind, address.clone())).copied());
            match open {
                Some(n) => n,
                None => {
                    let (n, _) = self.node(node_kind, format!("{pid}:{address}|{lower_path}"), || {
                        NodeProps::Handle {
                            address: address.clone(),
                            path: path.clone(),
                            pid,
                        }
                    });
                    if let Some(state) = self.current.as_mut() {
                        state.lifetimes.insert((kind, address.clone()), n);
                    }
                    n
                }
            }
        };
        // H1: the node's path is the first one any of its calls carried.
        if let (
            NodeProps::Handle {
                path: node_path @ None, ..
            },
            Some(p),
        ) = (&mut self.graph.nodes[node].props, &path)
        {
            *node_path = Some(p.clone());
        }
        // H2
        let lower = display.to_lowercase();
        let inward = ["open", "set", "write", "create"].iter().any(|w| lower.contains(w));
        let edge = match (kind, inward) {
            (HandleKind::File, true) => (EdgeKind::ApiFileHandle, api, node),
            (HandleKind::File, false) => (EdgeKind::FileHandleApi, node, api),
            (HandleKind::Key, true) => (EdgeKind::ApiKeyHandle, api, node),
            (HandleKind::Key, false) => (EdgeKind::KeyHandleApi, node, api),
        };
        self.edge(edge.0, edge.1, edge.2, Some(call))
    }
}

impl CallSink for GraphBuilder<'_> {
    fn begin_process(&mut self, process: &ProcessInfo) {
        self.listed.insert(process.pid, process.clone());
        self.current = Some(ProcState {
            info: process.clone(),
            node: None,
            prev: None,
            last_api: None,
            lifetimes: HashMap::new(),
        });
    }

    fn call(&mut self, call: Call) -> Result<(), String> {
        self.calls_seen += 1;
        self.touched.clear();
        self.handle_call(call);
        Ok(())
    }

    fn end_process(&mut self) {
        self.current = None;
    }
}

fn details_of(info: &ProcessInfo) -> ProcDetails {
    ProcDetails {
        ppid: info.ppid,
        name: info.name.clone(),
        path: info.path.clone().unwrap_or_default(),
    }
}

/// C3: equal in everything but the time. Argument order does not matter.
fn same_call(a: &Call, b: &Call) -> bool {
    a.api == b.api && a.category == b.category && a.failed == b.failed && same_map(&a.args, &b.args) && a.rest == b.rest
}

fn same_map(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    if a == b {
        return true;
    }
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        return a.iter().all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2));
    }
    // Names are unique (first name wins): compare sorted, not pairwise, so
    // that a call with 100 000 arguments costs n log n, not n².
    fn sorted(m: &[(String, Value)]) -> Vec<&(String, Value)> {
        let mut v: Vec<&(String, Value)> = m.iter().collect();
        v.sort_unstable_by(|x, y| x.0.cmp(&y.0));
        v
    }
    sorted(a) == sorted(b)
}

/// A value as the text used in names: strings as they are, null as empty.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A1: the api node's display name.
fn display_name(call: &Call) -> String {
    let target = |arg: &str| text(call.arg(arg));
    match call.api.as_str() {
        "LdrLoadDll" => format!("LdrLoadDll({})", target("basename")),
        "LdrGetDllHandle" => format!("LdrGetDllHandle({})", target("module_name")),
        "LdrUnloadDll" => format!("LdrUnloadDll({})", target("library")),
        "LdrGetProcedureAddress" => {
            let function = target("function_name");
            let ordinal = match call.arg("ordinal") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match ordinal {
                Some(o) if function.is_empty() && o != 0 => {
                    format!("LdrGetProcedureAddress({}!#{o})", target("module"))
                }
                _ => format!("LdrGetProcedureAddress({}!{function})", target("module")),
            }
        }
        _ => call.api.clone(),
    }
}

/// L1: the lowercased module string of a loader call, `None` for other calls.
fn loader_module(call: &Call) -> Option<String> {
    let arg = match call.api.as_str() {
        "LdrLoadDll" => "basename",
        "LdrGetDllHandle" => "module_name",
        "LdrUnloadDll" => "library",
        "LdrGetProcedureAddress" => "module",
        _ => return None,
    };
    Some(text(call.arg(arg)).to_lowercase())
}

/// N1: the part after the last backslash is neither empty nor a null address.
fn passes_n1(lowercased: &str) -> bool {
    let last = lowercased.rsplit('\\').next().unwrap_or("");
    !last.is_empty() && !is_null_address(last)
}

/// Section 1: handles and addresses as lowercase text; integers as 0x + 8+ hex digits.
pub(crate) fn address_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Some(format!("0x{u:08x}"))
            } else if let Some(i) = n.as_i64() {
                // As Python's '0x%08x' % i: the sign inside the width.
                Some(format!("0x-{:07x}", i.unsigned_abs()))
            } else {
                Some(n.to_string())
            }
        }
        _ => None,
    }
}

/// Section 1: `0x` followed only by zeros, or only by `f`s (or nothing).
pub(crate) fn is_null_address(s: &str) -> bool {
    match s.strip_prefix("0x") {
        Some(rest) => rest.bytes().all(|b| b == b'0') || rest.bytes().all(|b| b == b'f'),
        None => false,
    }
}

fn edge_args(call: &Call) -> Vec<(String, Value)> {
    call.args
        .iter()
        .filter(|(n, _)| !IDENTITY_ARGS.contains(&n.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
