//! The rules of `docs/graph-rules.md`, applied call by call.
//!
//! Rule names in comments (C1, H4, K1…) refer to that document; each rule has
//! a unit test named after it at the bottom of this file. The rules that
//! read one call (C1–C3, A1, L1, T1, H1–H5) are written once, in [`link`],
//! over a [`Linker`]: calls handed one by one go straight into the graph
//! ([`Whole`]); a big report's pieces, parsed on another thread, are planned
//! there ([`plan`]) and replayed here in report order, for the same graph.

mod link;
mod plan;

use super::graph::{Edge, EdgeKind, Graph, Node, NodeKind, NodeProps, ProcDetails};
use super::Outcome;
use crate::report::{ArgRef, Call, CallBuf, CallSink, ProcessInfo};
pub use link::Planner;
use link::{handle_key, Linker, Scratch};
use plan::Op;
pub use plan::Plan;
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

impl HandleKind {
    /// The kind of the node a handle of this kind links to.
    fn node_kind(self) -> NodeKind {
        match self {
            HandleKind::File => NodeKind::FileHandle,
            HandleKind::Key => NodeKind::KeyHandle,
        }
    }
}

/// M3: a new module node's address, from the call that makes it.
fn module_address(call: &CallBuf) -> Option<String> {
    call.arg("module_address").and_then(address_of_arg)
}

/// State of the process whose calls are being read.
struct ProcState {
    info: ProcessInfo,
    /// P1: the process node, once one of its calls passed C1.
    node: Option<usize>,
    /// S1: the api node of the previous call that reached `proc-api`.
    last_api: Option<usize>,
}

/// A fast hasher for the builder's integer keys (node indices, never chosen
/// by a report, and a plan's seeded hashes); string keys keep the standard,
/// DoS-resistant one.
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

/// A piece's node not found in the whole graph yet.
const UNSEEN: usize = usize::MAX;

pub struct GraphBuilder<'c> {
    /// The rules that read a call, and what they need.
    planner: Planner<'c>,
    /// The graph, and what the rules need of the calls before.
    whole: Whole<'c>,
}

/// The graph being built, and the state the rules need across calls: the
/// [`Linker`] of calls handed one by one, and where pieces are replayed.
struct Whole<'c> {
    cfg: &'c GraphConfig,
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
    /// C3: the previous call of the current process that counted, if any.
    prev: CallBuf,
    has_prev: bool,
    /// H4: open handle lifetimes of the current process, by address → their node.
    file_lifetimes: HashMap<String, usize>,
    key_lifetimes: HashMap<String, usize>,
    calls_seen: u64,
    /// The api node of the call being linked, and whether the call made it.
    api_created: bool,
    /// The nodes of the piece being replayed → theirs in the graph ([`UNSEEN`] until reached).
    seen: Vec<usize>,
    /// Edges the current call already counted: one call adds at most 1 to an
    /// edge even when two rules (M2 and T1) produce it.
    touched: Vec<usize>,
    scratch: Scratch,
    /// A handle node's key, being made.
    key: String,
}

impl<'c> GraphBuilder<'c> {
    pub fn new(cfg: &'c GraphConfig) -> Self {
        GraphBuilder {
            planner: Planner {
                categories: cfg.categories.iter().map(String::as_str).collect(),
                ignore_modules: cfg.ignore_modules.iter().filter_map(|m| module_identity(m)).collect(),
                pid: 0,
                paths: HashMap::new(),
            },
            whole: Whole {
                cfg,
                graph: Graph::default(),
                nodes: Default::default(),
                edges: EdgeMap::default(),
                degree: Vec::new(),
                p1: Vec::new(),
                listed: HashMap::new(),
                paths: HashMap::new(),
                current: None,
                prev: CallBuf::default(),
                has_prev: false,
                file_lifetimes: HashMap::new(),
                key_lifetimes: HashMap::new(),
                calls_seen: 0,
                api_created: false,
                seen: Vec::new(),
                touched: Vec::new(),
                scratch: Scratch::default(),
                key: String::new(),
            },
        }
    }

    /// Number of calls handed to the builder so far.
    pub fn calls_seen(&self) -> u64 {
        self.whole.calls_seen
    }

    /// Hand one owned call to the builder (as the parser hands a `CallBuf`).
    pub fn call(&mut self, call: Call) -> Result<(), String> {
        CallSink::call(self, &mut CallBuf::from_call(&call))
    }

    /// The finished graph: a target proc that is a listed process gets its
    /// properties; an empty graph is G1's "empty". A big graph's maps are
    /// freed on a lent core when one is idle.
    pub fn finish(self) -> Outcome {
        let mut w = self.whole;
        for (i, node) in w.graph.nodes.iter_mut().enumerate() {
            if let NodeProps::Proc { pid, details } = &mut node.props {
                if !w.p1[i] {
                    if let Some(info) = w.listed.get(pid) {
                        *details = Some(details_of(info));
                    }
                }
            }
        }
        if w.graph.is_big() {
            // Its maps hold a key for every node: freed beside the output.
            crate::report::drop_beside((std::mem::take(&mut w.nodes), std::mem::take(&mut w.edges)));
        }
        if w.graph.nodes.is_empty() {
            Outcome::Empty
        } else {
            Outcome::Built(w.graph)
        }
    }
}

impl Whole<'_> {
    /// Replay a piece's plan (the current process's next calls) in order,
    /// without the ops in `skip`.
    fn replay(&mut self, plan: &Plan, skip: Option<(usize, usize)>) {
        let mut seen = std::mem::take(&mut self.seen);
        seen.clear();
        seen.resize(plan.nodes.len(), UNSEEN);
        let mut api = None;
        for (at, op) in plan.ops.iter().enumerate() {
            if skip.is_some_and(|(from, to)| (from..to).contains(&at)) {
                continue;
            }
            match *op {
                Op::P1 => Linker::p1(self),
                Op::Close { address, key_only } => Linker::close(self, plan.str(address), key_only),
                Op::Api { node } => {
                    self.touched.clear();
                    let (at, created) = self.reach(plan, node, &mut seen);
                    self.api_created = created;
                    api = Some((at, node));
                }
                Op::Edge { kind, from, to, call } => {
                    let (from, _) = self.reach(plan, from, &mut seen);
                    let (to, _) = self.reach(plan, to, &mut seen);
                    let call = (call != plan::NONE).then(|| &plan.kept[call as usize]);
                    self.edge(kind, from, to, call);
                }
                Op::Path { node, path } => {
                    let (at, _) = self.reach(plan, node, &mut seen);
                    Linker::path(self, at, plan.str(path));
                }
                Op::Keep { linked } => {
                    if let Some((at, local)) = api.take() {
                        if !self.kept(at, linked) {
                            seen[local as usize] = UNSEEN;
                        }
                    }
                }
            }
        }
        self.seen = seen;
    }

    /// K1: keep the call's api node when the call linked it or it has an
    /// edge already (then `proc-api`, and S1), else undo it if the call
    /// made it (then `false`).
    fn kept(&mut self, api: usize, linked: bool) -> bool {
        // P1 made the process's node before any call of it was linked.
        let Some(proc_node) = self.current.as_ref().and_then(|s| s.node) else {
            return true;
        };
        if !linked && self.degree[api] == 0 {
            if self.api_created {
                self.remove_last_node(api);
                return false;
            }
            return true;
        }
        self.edge(EdgeKind::ProcApi, proc_node, api, None);
        // S1
        let prev = self.current.as_mut().and_then(|s| s.last_api.replace(api));
        if self.cfg.sequence_edges {
            if let Some(prev) = prev {
                self.edge(EdgeKind::ApiApi, prev, api, None);
            }
        }
        true
    }

    /// The graph's node for the plan's node `local`, found (or made) when the
    /// replay first reaches it; whether this made it.
    fn reach(&mut self, plan: &Plan, local: u32, seen: &mut [usize]) -> (usize, bool) {
        let at = seen[local as usize];
        if at != UNSEEN {
            return (at, false);
        }
        let node = &plan.nodes[local as usize];
        let made = |w: &mut Self| w.node(node.kind, plan.str(node.key), || plan.props(node));
        let (at, created) = match node.lifetime {
            Some(address) => self.lifetime(node.kind, plan.str(address), made),
            None => made(self),
        };
        seen[local as usize] = at;
        (at, created)
    }

    /// H4: the lifetime open for `address`, else the node `made` (whose
    /// lifetime it opens); whether this made it.
    fn lifetime(
        &mut self,
        kind: NodeKind,
        address: &str,
        made: impl FnOnce(&mut Self) -> (usize, bool),
    ) -> (usize, bool) {
        let lifetimes = match kind {
            NodeKind::FileHandle => &self.file_lifetimes,
            _ => &self.key_lifetimes,
        };
        if let Some(&at) = lifetimes.get(address) {
            return (at, false);
        }
        let made = made(self);
        let lifetimes = match kind {
            NodeKind::FileHandle => &mut self.file_lifetimes,
            _ => &mut self.key_lifetimes,
        };
        lifetimes.insert(address.to_owned(), made.0);
        made
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

    /// Add one call's worth to the edge `(kind, from, to)`; a new edge keeps
    /// the arguments of `call`. Self-loops are dropped.
    fn edge(&mut self, kind: EdgeKind, from: usize, to: usize, call: Option<&CallBuf>) {
        if from == to {
            return;
        }
        match self.edges.get(&(kind, from, to)) {
            Some(&e) => {
                if !self.touched.contains(&e) {
                    self.touched.push(e);
                    self.graph.edges[e].count += 1;
                }
            }
            None => {
                debug_assert!(
                    call.is_some() || matches!(kind, EdgeKind::ProcApi | EdgeKind::ApiApi),
                    "a new {kind:?} edge without its call"
                );
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
    }

    fn proc_node(&mut self, pid: i64) -> usize {
        let mut buf = [0u8; 20];
        let key = decimal(pid, &mut buf);
        self.node(NodeKind::Proc, key, || NodeProps::Proc { pid, details: None })
            .0
    }
}

/// Calls handed one by one go straight to the graph.
impl Linker for Whole<'_> {
    type Node = usize;

    fn prev(&self) -> Option<&CallBuf> {
        self.has_prev.then_some(&self.prev)
    }

    fn scratch(&mut self) -> &mut Scratch {
        &mut self.scratch
    }

    fn p1(&mut self) {
        let Some(info) = self
            .current
            .as_ref()
            .filter(|s| s.node.is_none())
            .map(|s| s.info.clone())
        else {
            return;
        };
        let n = self.proc_node(info.pid);
        self.graph.nodes[n].props = NodeProps::Proc {
            pid: info.pid,
            details: Some(details_of(&info)),
        };
        self.p1[n] = true;
        if let Some(path) = own_path(&info) {
            self.paths.insert(path, info.pid);
        }
        if let Some(state) = self.current.as_mut() {
            state.node = Some(n);
        }
    }

    fn close(&mut self, address: &str, key_only: bool) {
        if !key_only {
            self.file_lifetimes.remove(address);
        }
        self.key_lifetimes.remove(address);
    }

    fn api(&mut self, key: &str, name: &str, api: &str, category: &str) -> usize {
        self.touched.clear();
        let (n, created) = self.node(NodeKind::Api, key, || NodeProps::Api {
            name: name.to_owned(),
            api: api.to_owned(),
            category: category.to_owned(),
        });
        self.api_created = created;
        n
    }

    fn proc(&mut self, pid: i64) -> usize {
        self.proc_node(pid)
    }

    fn module(&mut self, identity: &str, call: &CallBuf) -> usize {
        self.node(NodeKind::Module, identity, || NodeProps::Module {
            name: identity.to_owned(),
            address: module_address(call),
        })
        .0
    }

    fn handle(&mut self, kind: HandleKind, address: &str, lower: &str, path: Option<&str>, pid: i64) -> usize {
        let node_kind = kind.node_kind();
        let null = is_null_address(address);
        let made = |w: &mut Self| {
            let mut key = std::mem::take(&mut w.key);
            handle_key(&mut key, pid, if null { "" } else { address }, lower);
            let made = w.node(node_kind, &key, || NodeProps::Handle {
                address: address.to_owned(),
                path: path.map(str::to_owned),
                pid,
            });
            w.key = key;
            made
        };
        if null {
            made(self).0
        } else {
            self.lifetime(node_kind, address, made).0
        }
    }

    fn path(&mut self, node: usize, path: &str) {
        if let NodeProps::Handle { path: p @ None, .. } = &mut self.graph.nodes[node].props {
            *p = Some(path.to_owned());
        }
    }

    fn edge(&mut self, kind: EdgeKind, from: usize, to: usize, call: &CallBuf, _: u32) -> bool {
        Whole::edge(self, kind, from, to, Some(call));
        false
    }

    fn keep(&mut self, api: usize, linked: bool) {
        self.kept(api, linked);
    }

    fn counted(&mut self, call: &mut CallBuf, _: bool, _: bool) {
        // The old buffer goes back to the parser.
        std::mem::swap(&mut self.prev, call);
        self.has_prev = true;
    }
}

/// P1 → M2: the process's path as M2 compares it, when it has one.
fn own_path(info: &ProcessInfo) -> Option<String> {
    info.path.as_deref().filter(|p| !p.is_empty()).map(str::to_lowercase)
}

impl<'c> CallSink for GraphBuilder<'c> {
    type Piece = Plan;
    type Planner = Planner<'c>;

    fn begin_process(&mut self, process: &ProcessInfo) {
        let w = &mut self.whole;
        w.listed.insert(process.pid, process.clone());
        w.current = Some(ProcState {
            info: process.clone(),
            node: None,
            last_api: None,
        });
        w.has_prev = false;
        w.file_lifetimes.clear();
        w.key_lifetimes.clear();
        // M2 as this process's calls see it (its own path from its P1 on).
        self.planner.pid = process.pid;
        self.planner.paths.clone_from(&w.paths);
        if let Some(path) = own_path(process) {
            self.planner.paths.insert(path, process.pid);
        }
    }

    fn call(&mut self, call: &mut CallBuf) -> Result<(), String> {
        self.whole.calls_seen += 1;
        self.planner.call(call, &mut self.whole);
        Ok(())
    }

    fn planner(&self) -> Planner<'c> {
        self.planner.clone()
    }

    fn piece(&mut self, _: &mut [CallBuf], piece: &mut Plan) -> Result<(), (usize, String)> {
        let w = &mut self.whole;
        w.calls_seen += piece.calls as u64;
        // C3: the piece's first call was planned not knowing the call before it.
        let skip = piece
            .first
            .filter(|_| w.has_prev && super::rules::repeats(&w.prev, &piece.first_call));
        w.replay(piece, skip);
        if let Some(prev) = piece.prev_mut() {
            std::mem::swap(prev, &mut w.prev);
            w.has_prev = true;
        }
        Ok(())
    }

    fn end_process(&mut self) {
        self.whole.current = None;
    }

    fn uncompared_fields(&self) -> &'static [&'static str] {
        super::rules::UNCOMPARED
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
