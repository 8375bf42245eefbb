//! A piece of a process's calls, parsed on another thread, as a plan the
//! builder replays against the whole graph in report order.
//!
//! Planning each call where it is parsed keeps the work that reads a call
//! (the rules of [`super::link`]) on the core that parsed it, and leaves the
//! builder what needs every call before: whether the process has its node
//! yet (P1), the degree K1 reads and S1's chain, the handle lifetimes open
//! when the piece starts (H4), and C3 for the piece's first call, planned
//! not knowing the call before it. Nodes are the piece's own, numbered in
//! the order the piece first reaches them; the builder finds or makes each
//! in the whole graph when the replay first reaches it, so nodes and edges
//! come in the order one thread gives them. A call is kept only when an
//! edge it reaches first in the piece may be new to the graph (the edge
//! then keeps its arguments), or to compare with the next (C3): a piece is
//! not held as parsed calls.

use super::link::{handle_key, Linker, Planner, Scratch};
use super::{is_null_address, module_address, HandleKind, IndexHasher};
use crate::model::graph::{EdgeKind, NodeKind, NodeProps};
use crate::report::{CallBuf, PlanPieces};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};

/// A string in [`Plan::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span(u32, u32);

/// One step of the replay, in the order one thread takes it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    /// P1, at the process's first call that passes C1 (if it has no node yet).
    P1,
    /// H5: the lifetimes of this handle value end (only the key ones for `RegCloseKey`).
    Close { address: Span, key_only: bool },
    /// A call that counts (C3) and is not `NtClose`: its api node.
    Api { node: u32 },
    /// An edge; `call` is the kept call ([`Plan::kept`]) whose arguments it
    /// keeps if it is new, [`NONE`] when the piece reached it before.
    Edge {
        kind: EdgeKind,
        from: u32,
        to: u32,
        call: u32,
    },
    /// H1: the node's path, if it has none.
    Path { node: u32, path: Span },
    /// K1 and S1 for the call's api node: whether the call linked it.
    Keep { linked: bool },
}

/// A node of the piece: the key it is found by in the whole graph, and what
/// it is made with when it is not there.
#[derive(Debug)]
pub(super) struct Local {
    pub(super) kind: NodeKind,
    pub(super) key: Span,
    pub(super) props: LocalProps,
    /// H4: the node of the lifetime open for this handle value when the
    /// builder reaches it, and the node keyed `key` (whose lifetime it
    /// then opens) otherwise.
    pub(super) lifetime: Option<Span>,
    /// The node entered before it under the same hash.
    next: u32,
    /// H4: its lifetime was not closed in the piece.
    open: bool,
    /// H1: a call of the piece gave it a path.
    has_path: bool,
}

#[derive(Debug)]
pub(super) enum LocalProps {
    Proc { pid: i64 },
    Api { name: Span, api: Span, category: Span },
    Module { address: Option<Span> },
    Handle { address: Span, path: Option<Span> },
}

pub(super) const NONE: u32 = u32::MAX;

/// C3: where the piece's previous call that counted is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum PrevAt {
    /// No call of the piece counted yet.
    #[default]
    None,
    /// In [`Plan::prev`].
    Own,
    /// In [`Plan::kept`].
    Kept(u32),
}

/// The plan of one piece of calls, reused from one piece to the next.
#[derive(Debug, Default)]
pub struct Plan {
    pub(super) ops: Vec<Op>,
    pub(super) nodes: Vec<Local>,
    /// The process whose calls these are.
    pub(super) pid: i64,
    /// Calls planned (whether they count or not).
    pub(super) calls: usize,
    /// Calls whose arguments an edge may keep: the first `n_kept`.
    pub(super) kept: Vec<CallBuf>,
    pub(super) n_kept: usize,
    /// C3: the previous call that counted, when not kept.
    pub(super) prev: CallBuf,
    pub(super) prev_at: PrevAt,
    /// C3: the ops of the piece's first call that passed C1 and C2 (the
    /// builder skips them if that call, a copy in `first_call`, repeats the
    /// call before the piece).
    pub(super) first: Option<(usize, usize)>,
    pub(super) first_call: CallBuf,
    /// Where the ops of the call being planned start.
    first_start: usize,
    /// P1 was planned.
    listed: bool,
    /// Edges the piece reached (kind and its nodes, packed).
    edges: HashSet<u64, BuildHasherDefault<IndexHasher>>,
    text: String,
    /// A handle node's key, being made.
    key: String,
    /// Hash of a node's key (or of a lifetime's handle value) → the node
    /// entered last with it (the others are chained by `next`).
    index: HashMap<u64, u32, BuildHasherDefault<IndexHasher>>,
    /// The seed of those hashes, chosen at random (report text is hashed;
    /// equal hashes only make a chain longer, within one piece).
    seed: Seed,
    scratch: Scratch,
}

/// A random seed, one per plan.
#[derive(Debug)]
struct Seed(u64);

impl Default for Seed {
    fn default() -> Self {
        Seed(RandomState::new().hash_one(0x5eed_u64))
    }
}

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// A word at a time: the keys are short, and a plan's index lives for one piece.
fn hash_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(b)).wrapping_mul(MIX);
    }
    let mut b = [0u8; 8];
    let tail = words.remainder();
    b[..tail.len()].copy_from_slice(tail);
    h = (h.rotate_left(23) ^ u64::from_le_bytes(b)).wrapping_mul(MIX);
    (h.rotate_left(23) ^ bytes.len() as u64).wrapping_mul(MIX)
}

/// What a lifetime is entered under in the index, beside the node kinds.
const FILE_LIFETIME: u8 = 16;
const KEY_LIFETIME: u8 = 17;

impl Plan {
    /// A string of a node.
    pub(super) fn str(&self, s: Span) -> &str {
        &self.text[s.0 as usize..s.1 as usize]
    }

    fn push(&mut self, s: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Span(start, self.text.len() as u32)
    }

    /// Start a piece of process `pid`'s calls.
    fn start(&mut self, pid: i64) {
        self.ops.clear();
        self.nodes.clear();
        self.text.clear();
        self.index.clear();
        self.edges.clear();
        self.pid = pid;
        self.calls = 0;
        self.n_kept = 0;
        self.prev_at = PrevAt::None;
        self.first = None;
        self.listed = false;
    }

    /// The previous call that counted, if any.
    pub(super) fn prev(&self) -> Option<&CallBuf> {
        match self.prev_at {
            PrevAt::None => None,
            PrevAt::Own => Some(&self.prev),
            PrevAt::Kept(i) => Some(&self.kept[i as usize]),
        }
    }

    /// The previous call that counted, out of the plan (the builder keeps it).
    pub(super) fn prev_mut(&mut self) -> Option<&mut CallBuf> {
        match self.prev_at {
            PrevAt::None => None,
            PrevAt::Own => Some(&mut self.prev),
            PrevAt::Kept(i) => Some(&mut self.kept[i as usize]),
        }
    }

    fn hash(&self, tag: u8, key: &str) -> u64 {
        let h = hash_bytes(self.seed.0 ^ u64::from(tag), key.as_bytes());
        h ^ (h >> 29)
    }

    /// The node entered under hash `h` that `is` accepts.
    fn find(&self, h: u64, is: impl Fn(&Local) -> bool) -> Option<u32> {
        let mut at = self.index.get(&h).copied().unwrap_or(NONE);
        while at != NONE {
            let local = &self.nodes[at as usize];
            if is(local) {
                return Some(at);
            }
            at = local.next;
        }
        None
    }

    fn enter(&mut self, h: u64, kind: NodeKind, key: Span, props: LocalProps, lifetime: Option<Span>) -> u32 {
        let at = self.nodes.len() as u32;
        let next = self.index.insert(h, at).unwrap_or(NONE);
        self.nodes.push(Local {
            kind,
            key,
            props,
            lifetime,
            next,
            open: true,
            has_path: false,
        });
        at
    }

    /// The piece's node keyed `key` (not a lifetime), made with `props` when new.
    fn keyed(&mut self, kind: NodeKind, key: &str, props: impl FnOnce(&mut Self) -> LocalProps) -> u32 {
        let h = self.hash(kind as u8, key);
        if let Some(at) = self.find(h, |l| l.kind == kind && l.lifetime.is_none() && self.str(l.key) == key) {
            return at;
        }
        let key = self.push(key);
        let props = props(self);
        self.enter(h, kind, key, props, None)
    }

    fn proc_node(&mut self, pid: i64) -> u32 {
        let mut buf = [0u8; 20];
        self.keyed(NodeKind::Proc, super::decimal(pid, &mut buf), |_| LocalProps::Proc {
            pid,
        })
    }

    /// The api node of this name (A1) and these properties: a call whose
    /// node K1 drops leaves the next call to make it with its own.
    fn api_node(&mut self, key: &str, name: &str, api: &str, category: &str) -> u32 {
        let h = self.hash(NodeKind::Api as u8, key);
        let same = |l: &Local| match l.props {
            LocalProps::Api {
                name: n,
                api: a,
                category: c,
            } => self.str(n) == name && self.str(a) == api && self.str(c) == category,
            _ => false,
        };
        if let Some(at) = self.find(h, same) {
            return at;
        }
        let key = self.push(key);
        let props = LocalProps::Api {
            name: self.push(name),
            api: self.push(api),
            category: self.push(category),
        };
        self.enter(h, NodeKind::Api, key, props, None)
    }

    fn lifetime_tag(kind: HandleKind) -> u8 {
        match kind {
            HandleKind::File => FILE_LIFETIME,
            HandleKind::Key => KEY_LIFETIME,
        }
    }

    /// H4: the node of the lifetime of `address` opened in the piece and not closed.
    fn open_lifetime(&self, kind: HandleKind, address: &str) -> Option<u32> {
        let h = self.hash(Self::lifetime_tag(kind), address);
        self.find(h, |l| {
            l.open && l.lifetime.is_some_and(|a| self.str(a) == address) && l.kind == kind.node_kind()
        })
    }

    /// H4: a lifetime of `address` the piece did not open: the one open when
    /// the builder reaches it, else the node keyed `key` (which opens it).
    fn lifetime(&mut self, kind: HandleKind, address: &str, key: &str, path: Option<&str>) -> u32 {
        let h = self.hash(Self::lifetime_tag(kind), address);
        let key = self.push(key);
        let address = self.push(address);
        let props = LocalProps::Handle {
            address,
            path: path.map(|p| self.push(p)),
        };
        self.enter(h, kind.node_kind(), key, props, Some(address))
    }

    /// H5: the piece's lifetimes of `address` end.
    fn close(&mut self, address: &str, key_only: bool) {
        let kinds: &[HandleKind] = if key_only {
            &[HandleKind::Key]
        } else {
            &[HandleKind::File, HandleKind::Key]
        };
        for &kind in kinds {
            if let Some(at) = self.open_lifetime(kind, address) {
                self.nodes[at as usize].open = false;
            }
        }
        let address = self.push(address);
        self.ops.push(Op::Close { address, key_only });
    }

    /// What the builder makes a piece's node with.
    pub(super) fn props(&self, local: &Local) -> NodeProps {
        match local.props {
            LocalProps::Proc { pid } => NodeProps::Proc { pid, details: None },
            LocalProps::Api { name, api, category } => NodeProps::Api {
                name: self.str(name).to_owned(),
                api: self.str(api).to_owned(),
                category: self.str(category).to_owned(),
            },
            LocalProps::Module { address } => NodeProps::Module {
                name: self.str(local.key).to_owned(),
                address: address.map(|a| self.str(a).to_owned()),
            },
            LocalProps::Handle { address, path } => NodeProps::Handle {
                address: self.str(address).to_owned(),
                path: path.map(|p| self.str(p).to_owned()),
                pid: self.pid,
            },
        }
    }
}

/// A piece parsed on another thread: planned not knowing the call before it.
impl PlanPieces<Plan> for Planner<'_> {
    fn begin(&self, plan: &mut Plan) {
        plan.start(self.pid);
    }

    fn call(&self, call: &mut CallBuf, plan: &mut Plan) -> bool {
        Planner::call(self, call, plan);
        false
    }
}

impl Linker for Plan {
    type Node = u32;

    fn handed(&mut self) {
        self.calls += 1;
    }

    fn prev(&self) -> Option<&CallBuf> {
        Plan::prev(self)
    }

    fn unknown(&self) -> bool {
        true
    }

    fn scratch(&mut self) -> &mut Scratch {
        &mut self.scratch
    }

    fn p1(&mut self) {
        // The builder knows whether it was done before the piece.
        if !self.listed {
            self.listed = true;
            self.ops.push(Op::P1);
        }
    }

    fn close(&mut self, address: &str, key_only: bool) {
        Plan::close(self, address, key_only);
    }

    fn api(&mut self, key: &str, name: &str, api: &str, category: &str) -> u32 {
        let node = self.api_node(key, name, api, category);
        self.ops.push(Op::Api { node });
        node
    }

    fn proc(&mut self, pid: i64) -> u32 {
        self.proc_node(pid)
    }

    fn module(&mut self, identity: &str, call: &CallBuf) -> u32 {
        self.keyed(NodeKind::Module, identity, |plan| LocalProps::Module {
            address: module_address(call).map(|a| plan.push(&a)),
        })
    }

    fn handle(&mut self, kind: HandleKind, address: &str, lower: &str, path: Option<&str>, pid: i64) -> u32 {
        let mut key = std::mem::take(&mut self.key);
        let node = if is_null_address(address) {
            handle_key(&mut key, pid, "", lower);
            self.keyed(kind.node_kind(), &key, |plan| LocalProps::Handle {
                address: plan.push(address),
                path: path.map(|p| plan.push(p)),
            })
        } else {
            match self.open_lifetime(kind, address) {
                Some(n) => n,
                None => {
                    handle_key(&mut key, pid, address, lower);
                    self.lifetime(kind, address, &key, path)
                }
            }
        };
        self.key = key;
        node
    }

    fn path(&mut self, node: u32, path: &str) {
        // Only the first path of the piece can be the node's first.
        if !self.nodes[node as usize].has_path {
            self.nodes[node as usize].has_path = true;
            let path = self.push(path);
            self.ops.push(Op::Path { node, path });
        }
    }

    /// True when the piece had not reached this edge: only then may it be
    /// new to the graph, and keep the call's arguments.
    fn edge(&mut self, kind: EdgeKind, from: u32, to: u32, _: &CallBuf, slot: u32) -> bool {
        let packed = (kind as u64) << 58 | u64::from(from) << 29 | u64::from(to);
        let first = self.edges.insert(packed);
        self.ops.push(Op::Edge {
            kind,
            from,
            to,
            call: if first { slot } else { NONE },
        });
        first
    }

    fn slot(&self) -> u32 {
        self.n_kept as u32
    }

    fn keep(&mut self, _: u32, linked: bool) {
        self.ops.push(Op::Keep { linked });
    }

    fn linking(&mut self) {
        self.first_start = self.ops.len();
    }

    fn counted(&mut self, call: &mut CallBuf, needed: bool, first: bool) {
        if first {
            // Its ops are skipped if it repeats the call before the piece;
            // its nodes are its own, so that the next calls then reach them
            // first, with their own properties.
            self.first = Some((self.first_start, self.ops.len()));
            self.first_call.clone_from(call);
            self.index.clear();
        }
        if needed {
            if self.n_kept == self.kept.len() {
                self.kept.push(CallBuf::default());
            }
            std::mem::swap(&mut self.kept[self.n_kept], call);
            self.prev_at = PrevAt::Kept(self.n_kept as u32);
            self.n_kept += 1;
        } else {
            std::mem::swap(&mut self.prev, call);
            self.prev_at = PrevAt::Own;
        }
    }
}
