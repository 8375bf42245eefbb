//! The rules that read one call (C1–C3, A1, L1 with M1–M3, T1, H1–H5),
//! written once, for two [`Linker`]s: the graph itself
//! ([`super::Whole`]: calls handed one by one), and a [`super::Plan`] of a
//! piece of calls parsed on another thread, replayed on the graph later.

use super::{
    address_into, display_into, identity_in_place, is_enumeration, loader_arg, lower_into, passes_n1, process_target,
    text_into, HandleKind,
};
use crate::model::graph::EdgeKind;
use crate::model::rules;
use crate::report::{ArgRef, CallBuf};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Where the rules put what a call does.
pub(super) trait Linker {
    /// A node, as the linker numbers it.
    type Node: Copy;
    /// A call was handed over (whether it counts or not).
    fn handed(&mut self) {}
    /// C3: the previous call of the process that counted, if any is known.
    fn prev(&self) -> Option<&CallBuf>;
    /// C3: the call before the first one is not known (a piece).
    fn unknown(&self) -> bool {
        false
    }
    /// Strings reused for every call.
    fn scratch(&mut self) -> &mut Scratch;
    /// P1: a call of the process passed C1.
    fn p1(&mut self);
    /// H5: the lifetimes of this handle value end (only the key ones when `key_only`).
    fn close(&mut self, address: &str, key_only: bool);
    /// A call that counts (C3) and is not `NtClose`: its api node (A1).
    fn api(&mut self, key: &str, name: &str, api: &str, category: &str) -> Self::Node;
    fn proc(&mut self, pid: i64) -> Self::Node;
    /// M3: the module node of this identity; a new one takes its address from `call`.
    fn module(&mut self, identity: &str, call: &CallBuf) -> Self::Node;
    /// H3 (a null `address`: keyed by the path) or H4 (the lifetime open for
    /// `address`, else a new one): the handle node of process `pid`;
    /// `lower` is the call's path lowercased (empty when none).
    fn handle(&mut self, kind: HandleKind, address: &str, lower: &str, path: Option<&str>, pid: i64) -> Self::Node;
    /// H1: the node's path, if it has none.
    fn path(&mut self, node: Self::Node, path: &str);
    /// One call's worth of an edge; `slot` is where the call would be kept
    /// for its arguments. True when the call is needed for them.
    fn edge(&mut self, kind: EdgeKind, from: Self::Node, to: Self::Node, call: &CallBuf, slot: u32) -> bool;
    /// Where the current call would be kept.
    fn slot(&self) -> u32 {
        0
    }
    /// A call that counts is about to be linked.
    fn linking(&mut self) {}
    /// K1 and S1 for the call's api node: whether the call linked it.
    fn keep(&mut self, api: Self::Node, linked: bool);
    /// The call counted: it is the previous call now (C3), needed or not for
    /// its edges' arguments; the buffer is the linker's to keep. `first`:
    /// it was the first to count, not knowing the call before.
    fn counted(&mut self, call: &mut CallBuf, needed: bool, first: bool);
}

/// Strings reused for every call.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    display: String,
    api_key: String,
    module: String,
    identity: String,
    address: String,
    lower: String,
}

/// H3 and H4: a handle node's key, `{pid}:{address}|{path}` (no address for H3).
pub(super) fn handle_key(out: &mut String, pid: i64, address: &str, lower: &str) {
    out.clear();
    let _ = write!(out, "{pid}:{address}|{lower}");
}

/// The rules a call decides, and what they need; owns it all, so that it
/// can plan on any thread.
#[derive(Debug, Clone)]
pub struct Planner<'c> {
    /// C1, as a list: four or so names are found faster by comparison than by hashing.
    pub(super) categories: Vec<&'c str>,
    /// M1: the identities (Q3) of the configured ignore list.
    pub(super) ignore_modules: Vec<String>,
    /// The process whose calls these are.
    pub(super) pid: i64,
    /// M2: lowercased process path → pid, as the process's calls see it:
    /// the processes visited before it, and its own path (P1 precedes every
    /// link, and only a process's P1 adds to these).
    pub(super) paths: HashMap<String, i64>,
}

impl Planner<'_> {
    /// The process's next call. Its buffer is the linker's to keep: what
    /// `call` holds afterwards is for the parser to fill again.
    pub(super) fn call<L: Linker>(&self, call: &mut CallBuf, l: &mut L) {
        l.handed();
        // C1
        if !rules::listed(&self.categories, call) {
            return;
        }
        // P1
        l.p1();
        // C2
        if rules::failed(call) {
            return;
        }
        // C3
        let first = match l.prev() {
            Some(prev) if rules::repeats(prev, call) => return,
            Some(_) => false,
            None => l.unknown(),
        };
        l.linking();
        let mut s = std::mem::take(l.scratch());
        let needed = self.link_call(call, l, &mut s);
        *l.scratch() = s;
        l.counted(call, needed, first);
    }

    /// The rules after C3, for a call that counts: whether an edge needs
    /// its arguments.
    fn link_call<L: Linker>(&self, call: &CallBuf, l: &mut L, s: &mut Scratch) -> bool {
        // H5: NtClose links nothing and ends the lifetimes of its handle value.
        if call.api() == "NtClose" {
            if let Some(h) = call.arg("handle") {
                if address_into(h, &mut s.address) {
                    l.close(&s.address, false);
                }
            }
            return false;
        }
        display_into(call, &mut s.display);
        lower_into(&s.display, &mut s.api_key);
        let api = l.api(&s.api_key, &s.display, call.api(), call.category());
        let mut linked = false;
        let mut needed = false;

        // L1
        if let Some(arg) = loader_arg(call.api()) {
            text_into(call.arg(arg), &mut s.lower);
            lower_into(&s.lower, &mut s.module);
            let (l1, n) = self.link_module(call, api, l, s);
            linked |= l1;
            needed |= n;
        }
        // T1: any `process_identifier` counts for K1; only a real process id
        // (Q1) of a call that acts on a process (Q2) makes a target.
        if let Some(target) = call.arg("process_identifier") {
            linked = true;
            if let Some(target) = process_target(target).filter(|_| !is_enumeration(call.api())) {
                let kind = if target == self.pid {
                    EdgeKind::ApiProc
                } else {
                    EdgeKind::ApiNproc
                };
                let t = l.proc(target);
                let slot = l.slot();
                needed |= l.edge(kind, api, t, call, slot);
            }
        }
        // H1
        for (name, value) in call.args() {
            let kind = match name {
                "file_handle" => HandleKind::File,
                "key_handle" => HandleKind::Key,
                _ => continue,
            };
            if let Some(first) = self.link_handle(call, api, kind, value, l, s) {
                linked = true;
                needed |= first;
            }
        }
        // H5: RegCloseKey ends the key-handle lifetime after linking it.
        if call.api() == "RegCloseKey" {
            if let Some(h) = call.arg("key_handle") {
                if address_into(h, &mut s.address) {
                    l.close(&s.address, true);
                }
            }
        }
        // K1 and S1
        l.keep(api, linked);
        needed
    }

    /// L1 (M1–M3): link a loader call to the module (and process) it
    /// reaches; the lowercased module string is in `s.module`. Whether it
    /// linked, and whether an edge needs the call's arguments.
    fn link_module<L: Linker>(&self, call: &CallBuf, api: L::Node, l: &mut L, s: &mut Scratch) -> (bool, bool) {
        s.identity.clear();
        s.identity.push_str(&s.module);
        let identity = identity_in_place(&mut s.identity, 0).then_some(s.identity.as_str());
        // M1, by identity (Q3).
        if identity.is_some_and(|id| self.ignore_modules.iter().any(|m| m == id)) {
            return (false, false);
        }
        let (mut linked, mut needed) = (false, false);
        let slot = l.slot();
        // M2
        if let Some(&owner) = self.paths.get(s.module.as_str()) {
            let kind = if owner == self.pid {
                EdgeKind::ApiProc
            } else {
                EdgeKind::ApiNproc
            };
            let t = l.proc(owner);
            needed |= l.edge(kind, api, t, call, slot);
            linked = true;
        }
        // M3, keyed by the module's identity (Q3).
        if let Some(identity) = identity {
            let m = l.module(identity, call);
            needed |= if call.api() == "LdrGetProcedureAddress" {
                l.edge(EdgeKind::ModuleApi, m, api, call, slot)
            } else {
                l.edge(EdgeKind::ApiModule, api, m, call, slot)
            };
            linked = true;
        }
        (linked, needed)
    }

    /// H1–H4: link a call to the handle node its argument refers to: `None`
    /// when it links nothing, else whether the edge needs the call's arguments.
    fn link_handle<L: Linker>(
        &self,
        call: &CallBuf,
        api: L::Node,
        kind: HandleKind,
        value: ArgRef<'_>,
        l: &mut L,
        s: &mut Scratch,
    ) -> Option<bool> {
        if !address_into(value, &mut s.address) {
            return None;
        }
        let path_args: [&str; 2] = match kind {
            HandleKind::File => ["filepath", "dirpath"],
            HandleKind::Key => ["regkey", "path"],
        };
        let path: Option<&str> = path_args
            .iter()
            .find_map(|a| call.arg(a).and_then(|v| v.as_str()).filter(|p| !p.is_empty()));
        // N1 on the call's own path, else the address.
        lower_into(path.unwrap_or(&s.address), &mut s.lower);
        if !passes_n1(&s.lower) {
            return None;
        }
        // `s.lower` now becomes the lowercased path (empty when none).
        match path {
            Some(p) => lower_into(p, &mut s.lower),
            None => s.lower.clear(),
        }
        let node = l.handle(kind, &s.address, &s.lower, path, self.pid);
        // H1: the node's path is the first one any of its calls carried.
        if let Some(p) = path {
            l.path(node, p);
        }
        // H2 (with Q4: deleting writes)
        let inward = ["open", "set", "write", "create", "delete"]
            .iter()
            .any(|w| s.api_key.contains(w));
        let (edge, from, to) = match (kind, inward) {
            (HandleKind::File, true) => (EdgeKind::ApiFileHandle, api, node),
            (HandleKind::File, false) => (EdgeKind::FileHandleApi, node, api),
            (HandleKind::Key, true) => (EdgeKind::ApiKeyHandle, api, node),
            (HandleKind::Key, false) => (EdgeKind::KeyHandleApi, node, api),
        };
        let slot = l.slot();
        Some(l.edge(edge, from, to, call, slot))
    }
}
