//! The rules of `docs/graph-rules.md`, applied call by call.
//!
//! Rule names in comments (C1, H4, K1…) refer to that document; each rule has
//! a unit test named after it at the bottom of this file.

use super::graph::{Edge, EdgeKind, Graph, Node, NodeKind, NodeProps, ProcDetails};
use super::{rules, Outcome};
use crate::report::{ArgRef, Call, CallBuf, CallSink, ProcessInfo};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

/// The settings the rules depend on (the `[graph]` table of the settings).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphConfig {
    /// C1: call categories that count.
    pub categories: Vec<String>,
    /// M1: modules that link nothing, compared by their identity (Q3), so
    /// `uxtheme` also ignores `C:\\Windows\\System32\\UxTheme.dll`.
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
    /// C3: whether [`GraphBuilder::prev`] holds a call of this process.
    has_prev: bool,
    /// S1: the api node of the previous call that reached `proc-api`.
    last_api: Option<usize>,
}

/// A fast hasher for the builder's integer keys (node indices, never chosen
/// by a report); string keys keep the standard, DoS-resistant one.
#[derive(Default)]
struct IndexHasher(u64);

impl Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type EdgeMap = HashMap<(EdgeKind, usize, usize), usize, BuildHasherDefault<IndexHasher>>;

pub struct GraphBuilder<'c> {
    cfg: &'c GraphConfig,
    /// C1, as a list: four or so names are found faster by comparison than by hashing.
    categories: Vec<&'c str>,
    /// M1: the identities (Q3) of the configured ignore list.
    ignore_modules: Vec<String>,
    graph: Graph,
    /// Node key → index, one map per node kind (looked up by `&str`: no key is built to look).
    nodes: [HashMap<String, usize>; 5],
    edges: EdgeMap,
    degree: Vec<u32>,
    /// Per node: a proc node that got its properties from P1.
    p1: Vec<bool>,
    /// Every listed process by pid (the last listed wins).
    listed: HashMap<i64, ProcessInfo>,
    /// P1 → M2: lowercased process path → pid (the last visited wins).
    paths: HashMap<String, i64>,
    current: Option<ProcState>,
    /// C3: the previous call that passed C1 and C2 (reused buffer).
    prev: CallBuf,
    /// H4: open handle lifetimes of the current process, by address → their node.
    file_lifetimes: HashMap<String, usize>,
    key_lifetimes: HashMap<String, usize>,
    calls_seen: u64,
    /// Edges the current call already counted: one call adds at most 1 to an
    /// edge even when two rules (M2 and T1) produce it.
    touched: Vec<usize>,
    /// Scratch strings, reused for every call.
    display: String,
    api_key: String,
    module: String,
    identity: String,
    address: String,
    lower: String,
    hkey: String,
}

impl<'c> GraphBuilder<'c> {
    pub fn new(cfg: &'c GraphConfig) -> Self {
        GraphBuilder {
            cfg,
            categories: cfg.categories.iter().map(String::as_str).collect(),
            ignore_modules: cfg.ignore_modules.iter().filter_map(|m| module_identity(m)).collect(),
            graph: Graph::default(),
            nodes: Default::default(),
            edges: EdgeMap::default(),
            degree: Vec::new(),
            p1: Vec::new(),
            listed: HashMap::new(),
            paths: HashMap::new(),
            current: None,
            prev: CallBuf::default(),
            file_lifetimes: HashMap::new(),
            key_lifetimes: HashMap::new(),
            calls_seen: 0,
            touched: Vec::new(),
            display: String::new(),
            api_key: String::new(),
            module: String::new(),
            identity: String::new(),
            address: String::new(),
            lower: String::new(),
            hkey: String::new(),
        }
    }

    /// Number of calls handed to the builder so far.
    pub fn calls_seen(&self) -> u64 {
        self.calls_seen
    }

    /// Hand one owned call to the builder (as the parser hands a `CallBuf`).
    pub fn call(&mut self, call: Call) -> Result<(), String> {
        CallSink::call(self, &mut CallBuf::from_call(&call))
    }

    /// The finished graph: a target proc that is a listed process gets its
    /// properties; an empty graph is G1's "empty". A big graph's maps are
    /// freed on a lent core when one is idle.
    pub fn finish(mut self) -> Outcome {
        for (i, node) in self.graph.nodes.iter_mut().enumerate() {
            if let NodeProps::Proc { pid, details } = &mut node.props {
                if !self.p1[i] {
                    if let Some(info) = self.listed.get(pid) {
                        *details = Some(details_of(info));
                    }
                }
            }
        }
        if self.graph.is_big() {
            // Its maps hold a key for every node: freed beside the output.
            crate::report::drop_beside((std::mem::take(&mut self.nodes), std::mem::take(&mut self.edges)));
        }
        if self.graph.nodes.is_empty() {
            Outcome::Empty
        } else {
            Outcome::Built(self.graph)
        }
    }

    fn node(&mut self, kind: NodeKind, key: &str, make: impl FnOnce() -> NodeProps) -> (usize, bool) {
        if let Some(&i) = self.nodes[kind.index()].get(key) {
            return (i, false);
        }
        let i = self.graph.nodes.len();
        self.graph.nodes.push(Node {
            kind,
            key: key.to_owned(),
            props: make(),
        });
        self.degree.push(0);
        self.p1.push(false);
        self.nodes[kind.index()].insert(key.to_owned(), i);
        (i, true)
    }

    /// K1: undo the node made last, when nothing linked it.
    fn remove_last_node(&mut self, i: usize) {
        debug_assert_eq!(i + 1, self.graph.nodes.len());
        if let Some(node) = self.graph.nodes.pop() {
            self.nodes[node.kind.index()].remove(&node.key);
            self.degree.pop();
            self.p1.pop();
        }
    }

    /// Add one call's worth to the edge `(kind, from, to)`. Self-loops are dropped.
    fn edge(&mut self, kind: EdgeKind, from: usize, to: usize, call: Option<&CallBuf>) -> bool {
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
        let mut buf = [0u8; 20];
        let key = decimal(pid, &mut buf);
        self.node(NodeKind::Proc, key, || NodeProps::Proc { pid, details: None })
            .0
    }

    /// Apply the rules to one call; `true` when it becomes C3's previous call
    /// (the caller then keeps it in `self.prev`).
    fn handle_call(&mut self, call: &CallBuf) -> bool {
        let Some(state) = self.current.as_mut() else {
            return false;
        };
        let pid = state.info.pid;

        // C1
        if !rules::listed(&self.categories, call) {
            return false;
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
                self.p1[n] = true;
                if let Some(path) = info.path.as_deref().filter(|p| !p.is_empty()) {
                    self.paths.insert(path.to_lowercase(), pid);
                }
                let Some(state) = self.current.as_mut() else {
                    return false;
                };
                state.node = Some(n);
                n
            }
        };
        // C2
        if rules::failed(call) {
            return false;
        }
        // C3
        let Some(state) = self.current.as_mut() else {
            return false;
        };
        if state.has_prev && rules::repeats(&self.prev, call) {
            return false;
        }
        state.has_prev = true;
        self.link_call(call, pid, proc_node);
        true
    }

    /// The rules after C3, for a call that counts.
    fn link_call(&mut self, call: &CallBuf, pid: i64, proc_node: usize) {
        // H5: NtClose links nothing and ends the lifetimes of its handle value.
        if call.api() == "NtClose" {
            if let Some(h) = call.arg("handle") {
                if address_into(h, &mut self.address) {
                    self.file_lifetimes.remove(self.address.as_str());
                    self.key_lifetimes.remove(self.address.as_str());
                }
            }
            return;
        }

        display_into(call, &mut self.display);
        lower_into(&self.display, &mut self.api_key);
        let api_key = std::mem::take(&mut self.api_key);
        let display = std::mem::take(&mut self.display);
        let (api, created) = self.node(NodeKind::Api, &api_key, || NodeProps::Api {
            name: display.clone(),
            api: call.api().to_owned(),
            category: call.category().to_owned(),
        });
        self.api_key = api_key;
        self.display = display;
        let mut linked = false;

        // L1
        if let Some(arg) = loader_arg(call.api()) {
            text_into(call.arg(arg), &mut self.lower);
            lower_into(&self.lower, &mut self.module);
            linked |= self.link_module(call, api, proc_node, pid);
        }
        // T1: any `process_identifier` counts for K1; only a real process id
        // (Q1) of a call that acts on a process (Q2) makes a target.
        if let Some(target) = call.arg("process_identifier") {
            linked = true;
            if let Some(target) = process_target(target).filter(|_| !is_enumeration(call.api())) {
                if target == pid {
                    self.edge(EdgeKind::ApiProc, api, proc_node, Some(call));
                } else {
                    let t = self.proc_node(target);
                    self.edge(EdgeKind::ApiNproc, api, t, Some(call));
                }
            }
        }
        // H1
        for (name, value) in call.args() {
            let kind = match name {
                "file_handle" => HandleKind::File,
                "key_handle" => HandleKind::Key,
                _ => continue,
            };
            linked |= self.link_handle(call, api, pid, kind, value);
        }
        // H5: RegCloseKey ends the key-handle lifetime after linking it.
        if call.api() == "RegCloseKey" {
            if let Some(h) = call.arg("key_handle") {
                if address_into(h, &mut self.address) {
                    self.key_lifetimes.remove(self.address.as_str());
                }
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

    /// L1 (M1–M3): link a loader call to the module (and process) it reaches;
    /// the lowercased module string is in `self.module`.
    fn link_module(&mut self, call: &CallBuf, api: usize, proc_node: usize, pid: i64) -> bool {
        let module = std::mem::take(&mut self.module);
        let mut identity = std::mem::take(&mut self.identity);
        identity.clear();
        identity.push_str(&module);
        let has_identity = identity_in_place(&mut identity, 0);
        let linked = self.link_module_named(call, api, (proc_node, pid), &module, has_identity.then_some(&*identity));
        self.module = module;
        self.identity = identity;
        linked
    }

    /// L1 for the module string `module` (lowercased) and its identity (Q3).
    fn link_module_named(
        &mut self,
        call: &CallBuf,
        api: usize,
        (proc_node, pid): (usize, i64),
        module: &str,
        identity: Option<&str>,
    ) -> bool {
        // M1, by identity (Q3).
        if identity.is_some_and(|id| self.ignore_modules.iter().any(|m| m == id)) {
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
        // M3, keyed by the module's identity (Q3).
        if let Some(identity) = identity {
            let (m, _) = self.node(NodeKind::Module, identity, || NodeProps::Module {
                name: identity.to_owned(),
                address: call.arg("module_address").and_then(address_of_arg),
            });
            linked |= if call.api() == "LdrGetProcedureAddress" {
                self.edge(EdgeKind::ModuleApi, m, api, Some(call))
            } else {
                self.edge(EdgeKind::ApiModule, api, m, Some(call))
            };
        }
        linked
    }

    /// H1–H4: link a call to the handle node its argument refers to.
    fn link_handle(&mut self, call: &CallBuf, api: usize, pid: i64, kind: HandleKind, value: ArgRef<'_>) -> bool {
        if !address_into(value, &mut self.address) {
            return false;
        }
        let path_args: [&str; 2] = match kind {
            HandleKind::File => ["filepath", "dirpath"],
            HandleKind::Key => ["regkey", "path"],
        };
        let path: Option<&str> = path_args
            .iter()
            .find_map(|a| call.arg(a).and_then(|v| v.as_str()).filter(|p| !p.is_empty()));
        // N1 on the call's own path, else the address.
        lower_into(path.unwrap_or(&self.address), &mut self.lower);
        if !passes_n1(&self.lower) {
            return false;
        }
        let node_kind = match kind {
            HandleKind::File => NodeKind::FileHandle,
            HandleKind::Key => NodeKind::KeyHandle,
        };
        // `self.lower` now becomes the lowercased path (empty when none).
        match path {
            Some(p) => lower_into(p, &mut self.lower),
            None => self.lower.clear(),
        }
        let address = std::mem::take(&mut self.address);
        let mut hkey = std::mem::take(&mut self.hkey);
        let make = || NodeProps::Handle {
            address: address.clone(),
            path: path.map(str::to_owned),
            pid,
        };
        let node = if is_null_address(&address) {
            // H3: keyed by the path (N1 guaranteed there is one).
            hkey.clear();
            let _ = write!(hkey, "{pid}:|{}", self.lower);
            self.node(node_kind, &hkey, make).0
        } else {
            // H4: the open lifetime of this value, or a new one.
            let lifetimes = match kind {
                HandleKind::File => &self.file_lifetimes,
                HandleKind::Key => &self.key_lifetimes,
            };
            match lifetimes.get(address.as_str()).copied() {
                Some(n) => n,
                None => {
                    hkey.clear();
                    let _ = write!(hkey, "{pid}:{address}|{}", self.lower);
                    let (n, _) = self.node(node_kind, &hkey, make);
                    let lifetimes = match kind {
                        HandleKind::File => &mut self.file_lifetimes,
                        HandleKind::Key => &mut self.key_lifetimes,
                    };
                    lifetimes.insert(address.clone(), n);
                    n
                }
            }
        };
        self.address = address;
        self.hkey = hkey;
        // H1: the node's path is the first one any of its calls carried.
        if let (
            NodeProps::Handle {
                path: node_path @ None, ..
            },
            Some(p),
        ) = (&mut self.graph.nodes[node].props, path)
        {
            *node_path = Some(p.to_owned());
        }
        // H2 (with Q4: deleting writes)
        let inward = ["open", "set", "write", "create", "delete"]
            .iter()
            .any(|w| self.api_key.contains(w));
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
            has_prev: false,
            last_api: None,
        });
        self.file_lifetimes.clear();
        self.key_lifetimes.clear();
    }

    fn call(&mut self, call: &mut CallBuf) -> Result<(), String> {
        self.calls_seen += 1;
        self.touched.clear();
        if self.handle_call(call) {
            // C3: this call is the previous one now; its buffer is kept, the
            // old one goes back to the parser.
            std::mem::swap(&mut self.prev, call);
        }
        Ok(())
    }

    fn end_process(&mut self) {
        self.current = None;
    }

    fn uncompared_fields(&self) -> &'static [&'static str] {
        rules::UNCOMPARED
    }
}

fn details_of(info: &ProcessInfo) -> ProcDetails {
    ProcDetails {
        ppid: info.ppid,
        name: info.name.clone(),
        path: info.path.clone().unwrap_or_default(),
    }
}

/// `i` in decimal, written into `buf` (no allocation).
fn decimal(i: i64, buf: &mut [u8; 20]) -> &str {
    let mut n = i.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("")
}

/// `s.to_lowercase()` into `out`, without allocating for ASCII text.
fn lower_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&s.to_lowercase());
    }
}

/// A value as the text used in names: strings as they are, null as empty,
/// anything else as JSON.
fn text_into(v: Option<ArgRef<'_>>, out: &mut String) {
    out.clear();
    push_text(v, out);
}

fn push_text(v: Option<ArgRef<'_>>, out: &mut String) {
    match v {
        None | Some(ArgRef::Null) => {}
        Some(ArgRef::Str(s)) => out.push_str(s),
        Some(ArgRef::U64(u)) => {
            let _ = write!(out, "{u}");
        }
        Some(ArgRef::I64(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(other) => out.push_str(&other.to_value().to_string()),
    }
}

/// A1: the api node's display name.
fn display_into(call: &CallBuf, out: &mut String) {
    out.clear();
    let target = |arg: &str, out: &mut String| push_text(call.arg(arg), out);
    // A1 with Q3: the module part is the module's identity, else the string as given.
    let module = |arg: &str, out: &mut String| {
        let start = out.len();
        push_text(call.arg(arg), out);
        if !identity_in_place(out, start) {
            out.truncate(start);
            push_text(call.arg(arg), out);
        }
    };
    match call.api() {
        "LdrLoadDll" => {
            out.push_str("LdrLoadDll(");
            module("basename", out);
            out.push(')');
        }
        "LdrGetDllHandle" => {
            out.push_str("LdrGetDllHandle(");
            module("module_name", out);
            out.push(')');
        }
        "LdrUnloadDll" => {
            out.push_str("LdrUnloadDll(");
            module("library", out);
            out.push(')');
        }
        "LdrGetProcedureAddress" => {
            out.push_str("LdrGetProcedureAddress(");
            module("module", out);
            out.push('!');
            let before = out.len();
            target("function_name", out);
            let ordinal = match call.arg("ordinal") {
                Some(ArgRef::Str(s)) => s.trim().parse::<i64>().ok(),
                Some(n) => n.as_i64(),
                None => None,
            };
            match ordinal {
                Some(o) if out.len() == before && o != 0 => {
                    let _ = write!(out, "#{o}");
                }
                _ => {}
            }
            out.push(')');
        }
        api => out.push_str(api),
    }
}

/// [`display_into`] for an owned call.
#[cfg(test)]
pub(crate) fn display_name(call: &Call) -> String {
    let mut s = String::new();
    display_into(&CallBuf::from_call(call), &mut s);
    s
}

/// L1: the argument naming the module of a loader call, `None` for other calls.
fn loader_arg(api: &str) -> Option<&'static str> {
    Some(match api {
        "LdrLoadDll" => "basename",
        "LdrGetDllHandle" => "module_name",
        "LdrUnloadDll" => "library",
        "LdrGetProcedureAddress" => "module",
        _ => return None,
    })
}

/// Q1: a `process_identifier` that names a real process: a JSON integer, or a
/// string of ASCII digits only (no sign, no spaces), in 1..=4294967295.
fn process_target(v: ArgRef<'_>) -> Option<i64> {
    let id = match v {
        ArgRef::U64(u) => u,
        ArgRef::I64(i) => u64::try_from(i).ok()?,
        // Digits only: `str::parse` alone would take a `+` sign. A value too
        // long for u64 is out of range anyway.
        ArgRef::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse::<u64>().ok()?,
        _ => return None,
    };
    (1..=u64::from(u32::MAX)).contains(&id).then_some(id as i64)
}

/// Q2: process and module enumeration names a process the caller listed,
/// not one it acted on.
fn is_enumeration(api: &str) -> bool {
    const LISTING: [&str; 8] = [
        "process32first",
        "process32firstw",
        "process32next",
        "process32nextw",
        "module32first",
        "module32firstw",
        "module32next",
        "module32nextw",
    ];
    LISTING.iter().any(|l| l.eq_ignore_ascii_case(api))
}

/// Q3: a module's identity: the last path component (split on `\\` and `/`),
/// lowercased, with `.dll` appended when it has no `.`; `None` when that
/// component is empty or a null address.
fn module_identity(module: &str) -> Option<String> {
    let mut identity = module.to_owned();
    identity_in_place(&mut identity, 0).then_some(identity)
}

/// [`module_identity`] of `s[start..]`, in place (no allocation for ASCII
/// text); `false`, with `s[start..]` left undefined, when it has none.
fn identity_in_place(s: &mut String, start: usize) -> bool {
    if let Some(sep) = s[start..].rfind(['\\', '/']) {
        s.drain(start..start + sep + 1);
    }
    if s[start..].is_ascii() {
        s[start..].make_ascii_lowercase();
    } else {
        let lower = s[start..].to_lowercase();
        s.truncate(start);
        s.push_str(&lower);
    }
    if s.len() == start || is_null_address(&s[start..]) {
        return false;
    }
    if !s[start..].contains('.') {
        s.push_str(".dll");
    }
    true
}

/// N1: the part after the last backslash is neither empty nor a null address.
fn passes_n1(lowercased: &str) -> bool {
    let last = lowercased.rsplit('\\').next().unwrap_or("");
    !last.is_empty() && !is_null_address(last)
}

/// Section 1: handles and addresses as lowercase text; integers as 0x + 8+ hex digits.
fn address_into(v: ArgRef<'_>, out: &mut String) -> bool {
    out.clear();
    match v {
        ArgRef::Str(s) => lower_into(s, out),
        ArgRef::U64(u) => {
            let _ = write!(out, "0x{u:08x}");
        }
        // As Python's '0x%08x' % i: the sign inside the width.
        ArgRef::I64(i) => {
            let _ = write!(out, "0x-{:07x}", i.unsigned_abs());
        }
        ArgRef::F64(_) => out.push_str(&v.to_value().to_string()),
        _ => return false,
    }
    true
}

fn address_of_arg(v: ArgRef<'_>) -> Option<String> {
    let mut s = String::new();
    address_into(v, &mut s).then_some(s)
}

/// [`address_into`] for a `Value`.
#[cfg(test)]
pub(crate) fn address_of(v: &Value) -> Option<String> {
    address_of_arg(ArgRef::from_value(v))
}

/// Section 1: `0x` followed only by zeros, or only by `f`s (or nothing).
pub(crate) fn is_null_address(s: &str) -> bool {
    match s.strip_prefix("0x") {
        Some(rest) => rest.bytes().all(|b| b == b'0') || rest.bytes().all(|b| b == b'f'),
        None => false,
    }
}

/// The arguments of the first call that made an edge, minus identity arguments.
fn edge_args(call: &CallBuf) -> Vec<(String, Value)> {
    call.args()
        .filter(|(n, _)| !IDENTITY_ARGS.contains(n))
        .map(|(n, v)| (n.to_owned(), v.to_value()))
        .collect()
}

#[cfg(test)]
mod tests;
