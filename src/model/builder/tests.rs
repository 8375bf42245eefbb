//! One test (at least) per rule of `docs/graph-rules.md`, named after it.
//!
//! Reports are written inline, as small Cuckoo 2.x or CAPEv2 JSON texts, and
//! go through the real parser (`pipeline::build_report`) so that the
//! normalisation of section 1 is part of what is tested. A few tests drive
//! the builder directly through [`CallSink`] with hand-made [`Call`]s.
//! Graphs are compared as the exact list of node ids and of edges
//! (`"<type> <from> -> <to> x<count>"`), in insertion order.

use super::*;
use crate::model::Analysis;
use crate::pipeline::build_report;
use crate::report::{Format, ReadLimits};
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

// ---------------------------------------------------------------------------
// Report text

/// Every rendered call gets a fresh time (and CAPE id), so that rule C3 must
/// ignore them for any repeat to be skipped.
static CLOCK: AtomicU64 = AtomicU64::new(1);

fn tick() -> u64 {
    CLOCK.fetch_add(1, Ordering::Relaxed)
}

/// One call as JSON text, field order kept as written.
#[derive(Clone)]
struct RawCall {
    cape: bool,
    /// Field name → JSON text of its value.
    fields: Vec<(String, String)>,
}

impl RawCall {
    /// Set (or replace) a field of the call.
    fn with(mut self, name: &str, value: Value) -> Self {
        let text = value.to_string();
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = text,
            None => self.fields.push((name.to_owned(), text)),
        }
        self
    }

    fn render(&self) -> String {
        let mut fields = self.fields.clone();
        let t = tick();
        let has = |n: &str| self.fields.iter().any(|(f, _)| f == n);
        if self.cape {
            if !has("timestamp") {
                fields.insert(
                    0,
                    (
                        "timestamp".into(),
                        json!(format!("2024-01-01 00:00:00,{t:03}")).to_string(),
                    ),
                );
            }
            if !has("id") {
                fields.push(("id".into(), t.to_string()));
            }
        } else if !has("time") {
            fields.push(("time".into(), json!(1_700_000_000.0 + t as f64).to_string()));
        }
        object(&fields)
    }
}

fn object(fields: &[(String, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(n, v)| format!("{}: {v}", Value::from(n.as_str())))
        .collect();
    format!("{{{}}}", body.join(", "))
}

fn ordered_args(args: &[(&str, Value)]) -> String {
    let fields: Vec<(String, String)> = args.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    object(&fields)
}

/// A Cuckoo 2.x call; `arguments` is an object in the order given.
fn call(api: &str, category: &str, args: &[(&str, Value)]) -> RawCall {
    RawCall {
        cape: false,
        fields: vec![
            ("category".into(), json!(category).to_string()),
            ("status".into(), "1".into()),
            ("stacktrace".into(), "[]".into()),
            ("api".into(), json!(api).to_string()),
            ("return_value".into(), "0".into()),
            ("arguments".into(), ordered_args(args)),
            ("tid".into(), "1".into()),
            ("flags".into(), "{}".into()),
        ],
    }
}

/// A CAPEv2 call; `arguments` is a list of `{name, value}` (with a
/// `pretty_value` that must be ignored).
fn cape_call(api: &str, category: &str, args: &[(&str, Value)]) -> RawCall {
    let list: Vec<Value> = args
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v, "pretty_value": "PRETTY"}))
        .collect();
    RawCall {
        cape: true,
        fields: vec![
            ("thread_id".into(), json!("1").to_string()),
            ("caller".into(), json!("0x00401000").to_string()),
            ("parentcaller".into(), json!("0x00402000").to_string()),
            ("category".into(), json!(category).to_string()),
            ("api".into(), json!(api).to_string()),
            ("status".into(), "true".into()),
            ("return".into(), json!("0x00000000").to_string()),
            ("arguments".into(), Value::from(list).to_string()),
            ("repeated".into(), "0".into()),
        ],
    }
}

/// One entry of `behavior.processes`.
struct Proc {
    head: Vec<(String, String)>,
    calls: Vec<RawCall>,
    calls_at: Option<usize>,
}

impl Proc {
    fn with(mut self, name: &str, value: Value) -> Self {
        let text = value.to_string();
        match self.head.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = text,
            None => self.head.push((name.to_owned(), text)),
        }
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.head.retain(|(n, _)| n != name);
        self
    }

    /// Put `calls` at this position among the process's keys (default: last).
    fn calls_at(mut self, i: usize) -> Self {
        self.calls_at = Some(i);
        self
    }

    fn render(&self) -> String {
        let calls: Vec<String> = self.calls.iter().map(RawCall::render).collect();
        let mut fields = self.head.clone();
        let at = self.calls_at.unwrap_or(fields.len()).min(fields.len());
        fields.insert(at, ("calls".into(), format!("[{}]", calls.join(", "))));
        object(&fields)
    }
}

fn exe_name(path: &str) -> &str {
    path.rsplit('\\').next().filter(|n| !n.is_empty()).unwrap_or("x.exe")
}

/// A Cuckoo 2.x process: `pid`, `ppid` 1, `process_name`, `process_path`.
fn process(pid: i64, path: &str, calls: Vec<RawCall>) -> Proc {
    Proc {
        head: vec![
            ("pid".into(), pid.to_string()),
            ("ppid".into(), "1".into()),
            ("process_name".into(), json!(exe_name(path)).to_string()),
            ("process_path".into(), json!(path).to_string()),
        ],
        calls,
        calls_at: None,
    }
}

/// A CAPEv2 process: `process_id`, `process_name`, `parent_id` 1, `module_path`.
fn cape_process(pid: i64, path: &str, calls: Vec<RawCall>) -> Proc {
    Proc {
        head: vec![
            ("process_id".into(), pid.to_string()),
            ("process_name".into(), json!(exe_name(path)).to_string()),
            ("parent_id".into(), "1".into()),
            ("module_path".into(), json!(path).to_string()),
        ],
        calls,
        calls_at: None,
    }
}

fn report(processes: Vec<Proc>) -> String {
    let procs: Vec<String> = processes.iter().map(Proc::render).collect();
    format!(
        r#"{{"info": {{"id": 1}}, "behavior": {{"processes": [{}]}}}}"#,
        procs.join(",\n")
    )
}

const APP: &str = r"C:\app\a.exe";

// ---------------------------------------------------------------------------
// Common calls (Cuckoo 2.x names)

fn open_process(target: Value) -> RawCall {
    call(
        "NtOpenProcess",
        "process",
        &[
            ("process_handle", json!("0x00000050")),
            ("desired_access", json!("0x001fffff")),
            ("process_identifier", target),
        ],
    )
}

fn terminate_process(target: i64) -> RawCall {
    call(
        "NtTerminateProcess",
        "process",
        &[("process_identifier", json!(target))],
    )
}

fn create_file(handle: Value, path: &str) -> RawCall {
    call(
        "NtCreateFile",
        "file",
        &[("file_handle", handle), ("filepath", json!(path))],
    )
}

fn read_file(handle: Value) -> RawCall {
    call("NtReadFile", "file", &[("file_handle", handle), ("length", json!(16))])
}

fn write_file(handle: Value) -> RawCall {
    call("NtWriteFile", "file", &[("file_handle", handle), ("length", json!(16))])
}

fn close(handle: Value) -> RawCall {
    call("NtClose", "system", &[("handle", handle)])
}

fn open_key(handle: Value, key: &str) -> RawCall {
    call(
        "RegOpenKeyExW",
        "registry",
        &[
            ("base_handle", json!("0x80000002")),
            ("key_handle", handle),
            ("regkey", json!(key)),
        ],
    )
}

fn query_key(handle: Value) -> RawCall {
    call(
        "RegQueryValueExW",
        "registry",
        &[("key_handle", handle), ("type", json!(1))],
    )
}

fn close_key(handle: Value) -> RawCall {
    call("RegCloseKey", "registry", &[("key_handle", handle)])
}

fn load_dll(basename: &str) -> RawCall {
    call(
        "LdrLoadDll",
        "system",
        &[
            ("flags", json!(0)),
            ("basename", json!(basename)),
            ("module_address", json!("0x76000000")),
        ],
    )
}

fn get_proc_address(module: &str, function: &str, ordinal: Value) -> RawCall {
    call(
        "LdrGetProcedureAddress",
        "system",
        &[
            ("ordinal", ordinal),
            ("module", json!(module)),
            ("module_address", json!("0x76000000")),
            ("function_address", json!("0x76001234")),
            ("function_name", json!(function)),
        ],
    )
}

fn delay() -> RawCall {
    call(
        "NtDelayExecution",
        "system",
        &[("milliseconds", json!(100)), ("skipped", json!(0))],
    )
}

// ---------------------------------------------------------------------------
// Building and looking at graphs

/// Build a report, and check that its calls handed over in pieces
/// (planned not knowing the call before them) give the same graph.
fn analyse_with(text: &str, cfg: &GraphConfig) -> Analysis {
    let mut file = tempfile::Builder::new().suffix(".json").tempfile().expect("temp file");
    file.write_all(text.as_bytes()).expect("write report");
    let a =
        build_report(file.path(), cfg, ReadLimits::default()).unwrap_or_else(|e| panic!("report failed: {e}\n{text}"));
    pieces_agree(file.path(), cfg, &a.outcome);
    a
}

/// A report's processes and calls as the parser hands them.
#[derive(Default)]
struct Recorded(Vec<(ProcessInfo, Vec<CallBuf>)>);

impl CallSink for Recorded {
    type Piece = ();
    type Planner = ();
    fn planner(&self) {}
    fn begin_process(&mut self, p: &ProcessInfo) {
        self.0.push((p.clone(), Vec::new()));
    }
    fn call(&mut self, c: &mut CallBuf) -> Result<(), String> {
        if let Some((_, calls)) = self.0.last_mut() {
            calls.push(std::mem::take(c));
        }
        Ok(())
    }
    fn end_process(&mut self) {}
    fn uncompared_fields(&self) -> &'static [&'static str] {
        crate::model::rules::UNCOMPARED
    }
}

/// The graph of `recorded` with each process's first `alone` calls handed
/// one by one and the rest in pieces of `size`, each planned apart (as on
/// a helper thread).
fn built_in_pieces(recorded: &Recorded, cfg: &GraphConfig, alone: usize, size: usize) -> Outcome {
    let mut b = GraphBuilder::new(cfg);
    for (info, calls) in &recorded.0 {
        b.begin_process(info);
        let (first, rest) = calls.split_at(alone.min(calls.len()));
        for c in first {
            CallSink::call(&mut b, &mut c.clone()).expect("call accepted");
        }
        let planner = b.planner();
        for piece in rest.chunks(size) {
            let mut plan = Plan::default();
            crate::report::PlanPieces::begin(&planner, &mut plan);
            for c in piece {
                crate::report::PlanPieces::call(&planner, &mut c.clone(), &mut plan);
            }
            b.piece(&mut [], &mut plan).expect("piece accepted");
        }
        b.end_process();
    }
    b.finish()
}

/// The report at `path` built from pieces of 1, 2, 5 and 64 calls (after
/// 0 or 3 calls handed one by one) gives `expected`.
fn pieces_agree(path: &std::path::Path, cfg: &GraphConfig, expected: &Outcome) {
    pieces_agree_in(path, cfg, expected, &[(0, 1), (0, 2), (3, 5), (0, 64)]);
}

/// The report at `path` built from pieces of `size` calls after `alone`
/// calls handed one by one, for each `(alone, size)`, gives `expected`.
fn pieces_agree_in(path: &std::path::Path, cfg: &GraphConfig, expected: &Outcome, cases: &[(usize, usize)]) {
    let mut recorded = Recorded::default();
    crate::report::read_report(path, ReadLimits::default(), &mut recorded).expect("report read");
    let at = path.display();
    for &(alone, size) in cases {
        let got = built_in_pieces(&recorded, cfg, alone, size);
        match (expected, &got) {
            (Outcome::Built(a), Outcome::Built(b)) => {
                assert!(
                    a == b,
                    "{at}: pieces of {size} after {alone}: graphs differ\n{a:?}\n{b:?}"
                )
            }
            (Outcome::Built(_), _) | (Outcome::Empty, Outcome::Built(_)) => {
                panic!("{at}: pieces of {size} after {alone}: {got:?}, expected {expected:?}")
            }
            _ => {}
        }
    }
}

/// The real reports, in pieces of every size from 1 to 9 and planned apart,
/// give the graphs one run of calls gives (C3 across pieces, lifetimes
/// open when a piece starts, K1 on nodes linked in another piece).
#[test]
fn pieces_planned_apart_build_the_same_graph() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    let cfg = GraphConfig::default();
    let cases: Vec<(usize, usize)> = (1..=9).flat_map(|size| [(0, size), (4, size)]).collect();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fixture reports") {
        let path = entry.expect("entry").path();
        let expected = build_report(&path, &cfg, ReadLimits::default())
            .expect("report built")
            .outcome;
        if matches!(expected, Outcome::NoBehaviour) {
            continue;
        }
        assert!(
            matches!(expected, Outcome::Built(_)),
            "{}: {expected:?}",
            path.display()
        );
        pieces_agree_in(&path, &cfg, &expected, &cases);
        n += 1;
    }
    assert!(n >= 5, "{n} reports");
}

fn analyse(text: &str) -> Analysis {
    analyse_with(text, &GraphConfig::default())
}

fn graph_with(text: &str, cfg: &GraphConfig) -> Graph {
    match analyse_with(text, cfg).outcome {
        Outcome::Built(g) => g,
        other => panic!("expected a graph, got {other:?}"),
    }
}

fn graph(text: &str) -> Graph {
    graph_with(text, &GraphConfig::default())
}

/// Drive the builder directly, without the parser.
fn build_direct(cfg: &GraphConfig, processes: Vec<(ProcessInfo, Vec<Call>)>) -> Outcome {
    let mut b = GraphBuilder::new(cfg);
    for (info, calls) in processes {
        b.begin_process(&info);
        for c in calls {
            b.call(c).expect("call accepted");
        }
        b.end_process();
    }
    b.finish()
}

fn info(pid: i64, path: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid: Some(1),
        name: Some(exe_name(path).to_owned()),
        path: Some(path.to_owned()),
    }
}

fn mk(api: &str, category: &str, args: &[(&str, Value)]) -> Call {
    Call {
        api: api.into(),
        category: category.into(),
        args: args.iter().map(|(n, v)| (n.to_string(), v.clone())).collect(),
        last_error: None,
        rest: vec![],
    }
}

fn ids(g: &Graph) -> Vec<String> {
    g.nodes.iter().map(Node::id).collect()
}

fn edge_line(g: &Graph, e: &Edge) -> String {
    format!(
        "{} {} -> {} x{}",
        e.kind.as_str(),
        g.nodes[e.from].id(),
        g.nodes[e.to].id(),
        e.count
    )
}

fn edges(g: &Graph) -> Vec<String> {
    g.edges.iter().map(|e| edge_line(g, e)).collect()
}

/// The edges of the given types only, in insertion order.
fn edges_of(g: &Graph, kinds: &[&str]) -> Vec<String> {
    g.edges
        .iter()
        .filter(|e| kinds.contains(&e.kind.as_str()))
        .map(|e| edge_line(g, e))
        .collect()
}

const HANDLE_EDGES: [&str; 4] = ["api-file_handle", "file_handle-api", "api-key_handle", "key_handle-api"];
const MODULE_EDGES: [&str; 2] = ["api-module", "module-api"];

fn node<'g>(g: &'g Graph, id: &str) -> &'g Node {
    g.nodes
        .iter()
        .find(|n| n.id() == id)
        .unwrap_or_else(|| panic!("no node {id} in {:?}", ids(g)))
}

/// An edge's `args`, as a map (key order is not part of the contract).
fn args(g: &Graph, kind: &str, from: &str, to: &str) -> Value {
    let e = g
        .edges
        .iter()
        .find(|e| e.kind.as_str() == kind && g.nodes[e.from].id() == from && g.nodes[e.to].id() == to)
        .unwrap_or_else(|| panic!("no edge {kind} {from} -> {to} in {:?}", edges(g)));
    Value::Object(e.args.iter().cloned().collect())
}

fn proc_props(pid: i64, ppid: Option<i64>, name: &str, path: &str) -> NodeProps {
    NodeProps::Proc {
        pid,
        details: Some(ProcDetails {
            ppid,
            name: Some(name.into()),
            path: path.into(),
        }),
    }
}

fn handle_path(g: &Graph, id: &str) -> Option<String> {
    match &node(g, id).props {
        NodeProps::Handle { path, .. } => path.clone(),
        other => panic!("{id} is not a handle: {other:?}"),
    }
}

fn handle_address(g: &Graph, id: &str) -> String {
    match &node(g, id).props {
        NodeProps::Handle { address, .. } => address.clone(),
        other => panic!("{id} is not a handle: {other:?}"),
    }
}

/// `(name, api, category)` of every api node, in order.
fn api_nodes(g: &Graph) -> Vec<(String, String, String)> {
    g.nodes
        .iter()
        .filter_map(|n| match &n.props {
            NodeProps::Api { name, api, category } => Some((name.clone(), api.clone(), category.clone())),
            _ => None,
        })
        .collect()
}

fn api_names(g: &Graph) -> Vec<String> {
    api_nodes(g).into_iter().map(|(name, _, _)| name).collect()
}

// ---------------------------------------------------------------------------
// Section 2: which calls count

#[test]
fn rule_c1_only_listed_categories_count() {
    let text = report(vec![process(
        100,
        APP,
        vec![
            open_process(json!(200)),
            call("NtOpenThread", "threading", &[("process_identifier", json!(300))]),
        ],
    )]);
    let g = graph(&text);
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "proc-api proc:100 -> api:ntopenprocess x1",
        ]
    );

    // The list is configurable: then only the other call counts.
    let cfg = GraphConfig {
        categories: vec!["threading".into()],
        ..GraphConfig::default()
    };
    let g = graph_with(&text, &cfg);
    assert_eq!(ids(&g), ["proc:100", "api:ntopenthread", "proc:300"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenthread -> proc:300 x1",
            "proc-api proc:100 -> api:ntopenthread x1",
        ]
    );
}

#[test]
fn rule_c2_failed_calls_are_skipped() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            open_process(json!(200)).with("last_error", json!(5)),
            open_process(json!(300)).with("last_error", json!(0)),
            open_process(json!(400)),
            open_process(json!(500)).with("last_error", json!("87")),
        ],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:300", "proc:400"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:300 x1",
            "proc-api proc:100 -> api:ntopenprocess x2",
            "api-nproc api:ntopenprocess -> proc:400 x1",
        ]
    );
}

#[test]
fn rule_c2_cuckoo_status_is_never_used() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            open_process(json!(200)).with("status", json!(0)),
            open_process(json!(300)).with("status", json!(false)),
        ],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200", "proc:300"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "proc-api proc:100 -> api:ntopenprocess x2",
            "api-nproc api:ntopenprocess -> proc:300 x1",
        ]
    );
}

#[test]
fn rule_c2_cape_status_false_is_a_failure() {
    let open = |pid: &str| cape_call("NtOpenProcess", "process", &[("ProcessId", json!(pid))]);
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![open("200").with("status", json!(false)), open("300")],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:300"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:300 x1",
            "proc-api proc:100 -> api:ntopenprocess x1",
        ]
    );
}

#[test]
fn rule_c3_repeat_of_previous_call_is_skipped() {
    let a = open_process(json!(200));
    let b = terminate_process(200);
    let g = graph(&report(vec![process(100, APP, vec![a.clone(), a.clone(), b, a])]));
    assert_eq!(
        ids(&g),
        ["proc:100", "api:ntopenprocess", "proc:200", "api:ntterminateprocess"]
    );
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x2",
            "proc-api proc:100 -> api:ntopenprocess x2",
            "api-nproc api:ntterminateprocess -> proc:200 x1",
            "proc-api proc:100 -> api:ntterminateprocess x1",
            "api-api api:ntopenprocess -> api:ntterminateprocess x1",
            "api-api api:ntterminateprocess -> api:ntopenprocess x1",
        ]
    );
}

#[test]
fn rule_c3_previous_call_is_the_previous_one_that_passed_c1_and_c2() {
    let a = open_process(json!(200));
    let b = terminate_process(200);
    let g = graph(&report(vec![
        process(
            100,
            APP,
            vec![
                a.clone(),
                b.clone().with("last_error", json!(5)), // fails C2
                a.clone(),                              // repeat
                b.with("category", json!("threading")), // fails C1
                a.clone(),                              // repeat
            ],
        ),
        // Per process: the same call in another process is no repeat.
        process(300, r"C:\app\c.exe", vec![a]),
    ]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200", "proc:300"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x2",
            "proc-api proc:100 -> api:ntopenprocess x1",
            "proc-api proc:300 -> api:ntopenprocess x1",
        ]
    );
}

#[test]
fn rule_c3_calls_dropped_by_k1_or_closes_still_are_the_previous_call() {
    // A call that passed C1 and C2 is "previous" even when K1 drops its api
    // node or it is an NtClose that links nothing.
    let a = open_process(json!(200));
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![a.clone(), delay(), a.clone(), close(json!("0x10")), a],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x3",
            "proc-api proc:100 -> api:ntopenprocess x3",
        ]
    );
}

#[test]
fn rule_c3_time_is_ignored_but_tid_is_not() {
    let a = open_process(json!(200));
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            a.clone().with("time", json!(1.5)),
            a.clone().with("time", json!(99.25)), // repeat: only the time differs
            a.clone().with("tid", json!(2)),      // another thread: counts
            a.clone().with("tid", json!(2)),      // repeat
            a.with("tid", json!(1)),              // counts
        ],
    )]));
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x3",
            "proc-api proc:100 -> api:ntopenprocess x3",
        ]
    );
}

#[test]
fn rule_c3_every_other_field_of_the_call_counts() {
    let a = open_process(json!(200));
    let variants = [
        a.clone().with("status", json!(0)),
        a.clone().with("return_value", json!(5)),
        a.clone().with("stacktrace", json!(["kernel32.dll+0x10"])),
        a.clone().with("flags", json!({"desired_access": "PROCESS_ALL_ACCESS"})),
        a.clone().with("repeated", json!(2)),
        a.clone().with("last_error", json!(0)),
        a.clone().with("category", json!("system")),
        call(
            "NtOpenProcess",
            "process",
            &[
                ("process_handle", json!("0x00000050")),
                ("desired_access", json!("0x00000400")),
                ("process_identifier", json!(200)),
            ],
        ),
    ];
    let mut calls = vec![a.clone()];
    for v in &variants {
        calls.push(v.clone());
        calls.push(a.clone());
    }
    let n = calls.len();
    let g = graph(&report(vec![process(100, APP, calls)]));
    assert_eq!(
        edges(&g),
        [
            format!("api-nproc api:ntopenprocess -> proc:200 x{n}"),
            format!("proc-api proc:100 -> api:ntopenprocess x{n}"),
        ]
    );
}

#[test]
fn rule_c3_argument_order_is_not_part_of_the_call() {
    let forward = open_process(json!(200));
    let backward = call(
        "NtOpenProcess",
        "process",
        &[
            ("process_identifier", json!(200)),
            ("desired_access", json!("0x001fffff")),
            ("process_handle", json!("0x00000050")),
        ],
    );
    let g = graph(&report(vec![process(100, APP, vec![forward, backward])]));
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "proc-api proc:100 -> api:ntopenprocess x1",
        ]
    );
}

#[test]
fn rule_c3_field_order_is_not_part_of_the_call() {
    let a = open_process(json!(200));
    let xy = a.clone().with("x_field", json!("0x1")).with("y_field", json!([1, 2]));
    let yx = a.clone().with("y_field", json!([1, 2])).with("x_field", json!("0x1"));
    let yx2 = a.with("y_field", json!([1, 2])).with("x_field", json!("0x2"));
    let calls = vec![
        xy.clone(),
        yx,         // repeat: the same fields in another order
        yx2,        // counts: a value differs
        xy.clone(), // counts
        xy,         // repeat
    ];
    let g = graph(&report(vec![process(100, APP, calls)]));
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x3",
            "proc-api proc:100 -> api:ntopenprocess x3",
        ]
    );
}

#[test]
fn rule_c3_cape_id_and_timestamp_are_ignored_but_caller_is_not() {
    let a = cape_call("NtOpenProcess", "process", &[("ProcessId", json!("200"))]);
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![
            a.clone().with("id", json!(1)).with("timestamp", json!("t1")),
            a.clone().with("id", json!(2)).with("timestamp", json!("t2")), // repeat
            a.clone().with("caller", json!("0x00409999")),                 // counts
            a.clone()
                .with("caller", json!("0x00409999"))
                .with("parentcaller", json!("0x00408888")), // counts
            a.clone()
                .with("caller", json!("0x00409999"))
                .with("parentcaller", json!("0x00408888")), // repeat
            a.with("thread_id", json!("2")),                               // counts
        ],
    )]));
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x4",
            "proc-api proc:100 -> api:ntopenprocess x4",
        ]
    );
}

// ---------------------------------------------------------------------------
// P1

#[test]
fn rule_p1_process_node_only_when_a_call_passes_c1() {
    let g = graph(&report(vec![
        // No call passes C1: no node.
        process(
            100,
            APP,
            vec![call("NtOpenThread", "threading", &[("process_identifier", json!(300))])],
        ),
        // Its only call passes C1 but fails C2: a node, linked to nothing.
        process(
            200,
            r"C:\app\b.exe",
            vec![open_process(json!(300)).with("last_error", json!(5))],
        ),
        // No calls at all: no node.
        process(400, r"C:\app\d.exe", vec![]),
    ]));
    assert_eq!(ids(&g), ["proc:200"]);
    assert!(g.edges.is_empty(), "{:?}", edges(&g));
    assert_eq!(
        node(&g, "proc:200").props,
        proc_props(200, Some(1), "b.exe", r"C:\app\b.exe")
    );
}

#[test]
fn rule_p1_path_remembered_only_for_a_process_with_a_node() {
    let g = graph(&report(vec![
        process(100, APP, vec![call("NtOpenThread", "threading", &[])]),
        process(200, r"C:\app\b.exe", vec![delay()]),
        process(
            300,
            r"C:\app\c.exe",
            vec![load_dll(r"C:\app\a.exe"), load_dll(r"C:\app\b.exe")],
        ),
    ]));
    assert_eq!(
        ids(&g),
        [
            "proc:200",
            "proc:300",
            "api:ldrloaddll(a.exe)",
            "module:a.exe",
            "api:ldrloaddll(b.exe)",
            "module:b.exe",
        ]
    );
    assert_eq!(
        edges_of(&g, &["api-proc", "api-nproc"]),
        ["api-nproc api:ldrloaddll(b.exe) -> proc:200 x1"]
    );
}

#[test]
fn rule_p1_target_node_reused_and_gets_properties() {
    let g = graph(&report(vec![
        process(100, APP, vec![open_process(json!(200))]),
        process(200, r"C:\app\b.exe", vec![create_file(json!("0x10"), r"C:\x.txt")]).with("ppid", json!(100)),
    ]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntopenprocess",
            "proc:200",
            "api:ntcreatefile",
            r"file_handle:200:0x10|c:\x.txt",
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "proc-api proc:100 -> api:ntopenprocess x1",
            r"api-file_handle api:ntcreatefile -> file_handle:200:0x10|c:\x.txt x1",
            "proc-api proc:200 -> api:ntcreatefile x1",
        ]
    );
    assert_eq!(
        node(&g, "proc:200").props,
        proc_props(200, Some(100), "b.exe", r"C:\app\b.exe")
    );
}

#[test]
fn rule_p1_listed_target_gets_properties_without_its_own_node() {
    let g = graph(&report(vec![
        process(100, APP, vec![open_process(json!(200)), open_process(json!(999))]),
        // Listed after the call that targets it, and no call passes C1.
        process(200, r"C:\app\b.exe", vec![]).with("ppid", json!(100)),
    ]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200", "proc:999"]);
    assert_eq!(
        node(&g, "proc:200").props,
        proc_props(200, Some(100), "b.exe", r"C:\app\b.exe")
    );
    // Not a listed process: only its pid.
    assert_eq!(
        node(&g, "proc:999").props,
        NodeProps::Proc {
            pid: 999,
            details: None
        }
    );
}

#[test]
fn rule_p1_last_visited_process_wins_a_shared_path() {
    let g = graph(&report(vec![
        process(100, r"C:\x\same.exe", vec![load_dll(r"C:\x\same.exe")]),
        process(200, r"C:\X\SAME.EXE", vec![create_file(json!("0x10"), r"C:\t.txt")]),
        process(300, r"C:\app\c.exe", vec![load_dll(r"c:\x\same.exe")]),
    ]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ldrloaddll(same.exe)",
            "module:same.exe",
            "proc:200",
            "api:ntcreatefile",
            r"file_handle:200:0x10|c:\t.txt",
            "proc:300",
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "api-proc api:ldrloaddll(same.exe) -> proc:100 x1",
            "api-module api:ldrloaddll(same.exe) -> module:same.exe x2",
            "proc-api proc:100 -> api:ldrloaddll(same.exe) x1",
            r"api-file_handle api:ntcreatefile -> file_handle:200:0x10|c:\t.txt x1",
            "proc-api proc:200 -> api:ntcreatefile x1",
            "api-nproc api:ldrloaddll(same.exe) -> proc:200 x1",
            "proc-api proc:300 -> api:ldrloaddll(same.exe) x1",
        ]
    );
    // The display name holds the module's identity (A1, Q3).
    assert_eq!(api_names(&g), ["LdrLoadDll(same.exe)", "NtCreateFile"]);
}

#[test]
fn rule_p1_empty_or_missing_path_is_never_remembered() {
    // Were "" remembered, `LdrLoadDll()` (module "") would link the process.
    let g = graph(&report(vec![
        process(100, "", vec![load_dll(""), open_process(json!(100))]),
        cape_process(200, "", vec![cape_call("LdrLoadDll", "system", &[("Flags", json!(0))])]).without("module_path"),
    ]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200"]);
    assert_eq!(
        edges(&g),
        [
            "api-proc api:ntopenprocess -> proc:100 x1",
            "proc-api proc:100 -> api:ntopenprocess x1",
        ]
    );
}

// ---------------------------------------------------------------------------
// A1, N1

#[test]
fn rule_a1_loader_display_names() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            call(
                "LdrLoadDll",
                "system",
                &[
                    ("flags", json!(0)),
                    ("basename", json!("KERNEL32")),
                    ("module_address", json!("0x765a0000")),
                    ("module_name", json!("kernel32.dll")),
                ],
            ),
            call(
                "LdrGetDllHandle",
                "system",
                &[
                    ("module_name", json!("ntdll.dll")),
                    ("module_address", json!("0x77000000")),
                ],
            ),
            call(
                "LdrUnloadDll",
                "system",
                &[
                    ("library", json!("User32.dll")),
                    ("module_address", json!("0x75000000")),
                ],
            ),
            get_proc_address("kernel32", "IsWow64Process", json!(0)),
            create_file(json!("0x10"), r"C:\a.txt"),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ldrloaddll(kernel32.dll)",
            "module:kernel32.dll",
            "api:ldrgetdllhandle(ntdll.dll)",
            "module:ntdll.dll",
            "api:ldrunloaddll(user32.dll)",
            "module:user32.dll",
            "api:ldrgetprocedureaddress(kernel32.dll!iswow64process)",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\a.txt",
        ]
    );
    let api = |name: &str, raw: &str, category: &str| (name.into(), raw.into(), category.into());
    assert_eq!(
        api_nodes(&g),
        [
            api("LdrLoadDll(kernel32.dll)", "LdrLoadDll", "system"),
            api("LdrGetDllHandle(ntdll.dll)", "LdrGetDllHandle", "system"),
            api("LdrUnloadDll(user32.dll)", "LdrUnloadDll", "system"),
            api(
                "LdrGetProcedureAddress(kernel32.dll!IsWow64Process)",
                "LdrGetProcedureAddress",
                "system"
            ),
            api("NtCreateFile", "NtCreateFile", "file"),
        ]
    );
}

#[test]
fn rule_a1_ordinal_import() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            get_proc_address("WS2_32.dll", "", json!(115)),
            get_proc_address("WS2_32.dll", "", json!("23")),
            // Ordinal 0 or not a decimal number: no `#`.
            get_proc_address("WS2_32.dll", "", json!(0)),
            get_proc_address("WS2_32.dll", "", json!("0x17")),
            // A function name wins over the ordinal.
            get_proc_address("WS2_32.dll", "connect", json!(4)),
        ],
    )]));
    assert_eq!(
        api_names(&g),
        [
            "LdrGetProcedureAddress(ws2_32.dll!#115)",
            "LdrGetProcedureAddress(ws2_32.dll!#23)",
            "LdrGetProcedureAddress(ws2_32.dll!)",
            "LdrGetProcedureAddress(ws2_32.dll!connect)",
        ]
    );
    assert_eq!(
        edges_of(&g, &MODULE_EDGES),
        [
            "module-api module:ws2_32.dll -> api:ldrgetprocedureaddress(ws2_32.dll!#115) x1",
            "module-api module:ws2_32.dll -> api:ldrgetprocedureaddress(ws2_32.dll!#23) x1",
            "module-api module:ws2_32.dll -> api:ldrgetprocedureaddress(ws2_32.dll!) x2",
            "module-api module:ws2_32.dll -> api:ldrgetprocedureaddress(ws2_32.dll!connect) x1",
        ]
    );
}

#[test]
fn rule_a1_missing_target_counts_as_empty() {
    assert_eq!(display_name(&mk("LdrLoadDll", "system", &[])), "LdrLoadDll()");
    assert_eq!(
        display_name(&mk("LdrLoadDll", "system", &[("basename", Value::Null)])),
        "LdrLoadDll()"
    );
    assert_eq!(display_name(&mk("LdrGetDllHandle", "system", &[])), "LdrGetDllHandle()");
    assert_eq!(display_name(&mk("LdrUnloadDll", "system", &[])), "LdrUnloadDll()");
    assert_eq!(
        display_name(&mk(
            "LdrGetProcedureAddress",
            "system",
            &[("module", json!("kernel32.dll"))]
        )),
        "LdrGetProcedureAddress(kernel32.dll!)"
    );
    assert_eq!(
        display_name(&mk("LdrGetProcedureAddress", "system", &[])),
        "LdrGetProcedureAddress(!)"
    );

    // In a report: the call without a target does not stop anything.
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            call("LdrLoadDll", "system", &[("flags", json!(0))]),
            call(
                "LdrGetProcedureAddress",
                "system",
                &[("module", json!("kernel32.dll")), ("ordinal", json!(0))],
            ),
            open_process(json!(200)),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ldrgetprocedureaddress(kernel32.dll!)",
            "module:kernel32.dll",
            "api:ntopenprocess",
            "proc:200",
        ]
    );
}

#[test]
fn rule_n1_name_is_the_part_after_the_last_backslash() {
    assert!(passes_n1("kernel32.dll"));
    assert!(passes_n1(r"c:\windows\system32\kernel32.dll"));
    assert!(passes_n1(r"hkey_current_user\software\zones\0"));
    assert!(!passes_n1(""));
    assert!(!passes_n1(r"c:\dir\"));
    assert!(!passes_n1(r"\"));
    assert!(!passes_n1("0x00000000"));
    assert!(!passes_n1(r"c:\mods\0xffffffff"));
    assert!(!passes_n1("0x"));

    // Modules: no identity (Q3) when the last component is empty or a null
    // address; `0` passes and becomes `0.dll`.
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            load_dll(r"C:\dir\"),
            load_dll("0x00000000"),
            load_dll(r"C:\mods\0xFFFFFFFF"),
            load_dll(r"C:\Zones\0"),
        ],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ldrloaddll(0.dll)", "module:0.dll"]);
}

#[test]
fn rule_n1_handle_path_failing_links_nothing_and_opens_no_lifetime() {
    let zones = r"HKEY_CURRENT_USER\Software\Zones\0";
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            call(
                "NtQueryDirectoryFile",
                "file",
                &[("file_handle", json!("0x10")), ("dirpath", json!(r"C:\dir\"))],
            ),
            // No lifetime was opened: this makes its own node, keyed by the
            // address (which passes N1) with no path.
            read_file(json!("0x10")),
            open_key(json!("0x20"), zones),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntreadfile",
            "file_handle:100:0x10|",
            "api:regopenkeyexw",
            r"key_handle:100:0x20|hkey_current_user\software\zones\0",
        ]
    );
    assert_eq!(handle_path(&g, "file_handle:100:0x10|"), None);
}

// ---------------------------------------------------------------------------
// L1: M1–M3

#[test]
fn rule_l1_m1_ignored_module_links_nothing() {
    // The process path is "uxtheme" too, so M2 would link it were M1 not first.
    let g = graph(&report(vec![process(
        100,
        "UxTheme",
        vec![
            load_dll("UxTheme"),
            get_proc_address("xmllite", "CreateXmlReader", json!(0)),
            open_process(json!(200)),
        ],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200"]);
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "proc-api proc:100 -> api:ntopenprocess x1",
        ]
    );
}

#[test]
fn rule_m1_q3_ignore_list_compares_identities() {
    let text = report(vec![process(
        100,
        APP,
        vec![
            load_dll("uxtheme.dll"),
            load_dll(r"C:\Windows\System32\UxTheme.dll"),
            load_dll("UXTHEME"),
            load_dll("uxtheme.ocx"),
        ],
    )]);
    // Every spelling of uxtheme is ignored; another extension is another module.
    assert_eq!(
        ids(&graph(&text)),
        ["proc:100", "api:ldrloaddll(uxtheme.ocx)", "module:uxtheme.ocx"]
    );

    // The list is configurable, and its entries are compared by identity too.
    let cfg = GraphConfig {
        ignore_modules: vec![r"D:\elsewhere\UXTHEME.OCX".into()],
        ..GraphConfig::default()
    };
    assert_eq!(
        ids(&graph_with(&text, &cfg)),
        ["proc:100", "api:ldrloaddll(uxtheme.dll)", "module:uxtheme.dll"]
    );
}

#[test]
fn rule_m2_module_equal_to_a_process_path_links_the_process() {
    let g = graph(&report(vec![
        process(
            100,
            APP,
            vec![
                call(
                    "LdrGetDllHandle",
                    "system",
                    &[
                        ("module_name", json!(r"C:\APP\A.EXE")),
                        ("module_address", json!("0x00400000")),
                    ],
                ),
                // b.exe is not remembered yet (its process comes later).
                load_dll(r"C:\app\b.exe"),
            ],
        ),
        process(
            200,
            r"C:\app\b.exe",
            vec![get_proc_address(r"c:\app\a.exe", "Run", json!(0))],
        ),
    ]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ldrgetdllhandle(a.exe)",
            "module:a.exe",
            "api:ldrloaddll(b.exe)",
            "module:b.exe",
            "proc:200",
            "api:ldrgetprocedureaddress(a.exe!run)",
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "api-proc api:ldrgetdllhandle(a.exe) -> proc:100 x1",
            "api-module api:ldrgetdllhandle(a.exe) -> module:a.exe x1",
            "proc-api proc:100 -> api:ldrgetdllhandle(a.exe) x1",
            "api-module api:ldrloaddll(b.exe) -> module:b.exe x1",
            "proc-api proc:100 -> api:ldrloaddll(b.exe) x1",
            "api-api api:ldrgetdllhandle(a.exe) -> api:ldrloaddll(b.exe) x1",
            "api-nproc api:ldrgetprocedureaddress(a.exe!run) -> proc:100 x1",
            "module-api module:a.exe -> api:ldrgetprocedureaddress(a.exe!run) x1",
            "proc-api proc:200 -> api:ldrgetprocedureaddress(a.exe!run) x1",
        ]
    );
    // M2 edges carry the call's args too (minus identity ones).
    assert_eq!(
        args(&g, "api-nproc", "api:ldrgetprocedureaddress(a.exe!run)", "proc:100"),
        json!({"ordinal": 0})
    );
}

#[test]
fn rule_m3_module_edges_direction() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            call(
                "LdrLoadDll",
                "system",
                &[("basename", json!("a.dll")), ("module_address", json!(0x1000_0000))],
            ),
            call(
                "LdrGetDllHandle",
                "system",
                &[("module_name", json!("A.DLL")), ("module_address", json!("0x20000000"))],
            ),
            call(
                "LdrUnloadDll",
                "system",
                &[("library", json!("a.dll")), ("module_address", json!("0x30000000"))],
            ),
            get_proc_address("a.dll", "F", json!(0)),
        ],
    )]));
    assert_eq!(
        edges_of(&g, &MODULE_EDGES),
        [
            "api-module api:ldrloaddll(a.dll) -> module:a.dll x1",
            "api-module api:ldrgetdllhandle(a.dll) -> module:a.dll x1",
            "api-module api:ldrunloaddll(a.dll) -> module:a.dll x1",
            "module-api module:a.dll -> api:ldrgetprocedureaddress(a.dll!f) x1",
        ]
    );
    // Name: the lowercased module string; address: the first call's, normalised.
    assert_eq!(
        node(&g, "module:a.dll").props,
        NodeProps::Module {
            name: "a.dll".into(),
            address: Some("0x10000000".into())
        }
    );
}

// ---------------------------------------------------------------------------
// T1

#[test]
fn rule_t1_process_targets() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            open_process(json!(100)),
            open_process(json!(200)),
            open_process(json!("300")),
        ],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200", "proc:300"]);
    assert_eq!(
        edges(&g),
        [
            "api-proc api:ntopenprocess -> proc:100 x1",
            "proc-api proc:100 -> api:ntopenprocess x3",
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "api-nproc api:ntopenprocess -> proc:300 x1",
        ]
    );
    assert_eq!(
        args(&g, "api-nproc", "api:ntopenprocess", "proc:300"),
        json!({"desired_access": "0x001fffff"})
    );
}

#[test]
fn rule_q1_only_real_process_ids_make_targets() {
    let targets = [
        json!(0),
        json!(-5),
        json!(4_294_967_296u64),
        json!(140_707_423_587_496u64),
        json!(2.0),
        json!("+200"),
        json!(" 201"),
        json!("202 "),
        json!("-203"),
        json!("0x10"),
        json!(""),
        json!(null),
        json!({"pid": 5}),
        json!([7]),
        // Targets: an integer in range, digits only (leading zeros allowed).
        json!(4_294_967_295u64),
        json!("0300"),
    ];
    let g = graph(&report(vec![process(
        100,
        APP,
        targets.into_iter().map(open_process).collect(),
    )]));
    assert_eq!(
        ids(&g),
        ["proc:100", "api:ntopenprocess", "proc:4294967295", "proc:300"]
    );
    // Every call counted for K1 (C3 skipped none: each target differs).
    assert_eq!(
        edges(&g),
        [
            "proc-api proc:100 -> api:ntopenprocess x16",
            "api-nproc api:ntopenprocess -> proc:4294967295 x1",
            "api-nproc api:ntopenprocess -> proc:300 x1",
        ]
    );

    // Cuckoo's ExitProcess: NtTerminateProcess of process 0 keeps its api node
    // (K1) and draws no process 0.
    let g = graph(&report(vec![process(100, APP, vec![terminate_process(0)])]));
    assert_eq!(ids(&g), ["proc:100", "api:ntterminateprocess"]);
    assert_eq!(edges(&g), ["proc-api proc:100 -> api:ntterminateprocess x1"]);
}

#[test]
fn rule_q1_cape_pointer_sized_process_ids_make_no_process() {
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![
            cape_call(
                "NtCreateUserProcess",
                "process",
                &[("ProcessId", json!("140707423587496"))],
            ),
            cape_call("NtOpenProcess", "process", &[("ProcessId", json!("2000"))]),
        ],
    )]));
    assert_eq!(
        ids(&g),
        ["proc:100", "api:ntcreateuserprocess", "api:ntopenprocess", "proc:2000"]
    );
}

#[test]
fn rule_q2_enumeration_links_nothing_but_counts_for_k1() {
    let listing = |api: &str, pid: i64| call(api, "process", &[("process_identifier", json!(pid))]);
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            listing("Process32FirstW", 4),
            listing("Process32NextW", 200),
            listing("process32next", 201),
            listing("Process32First", 202),
            listing("Module32FirstW", 203),
            listing("Module32NextW", 204),
            listing("Module32First", 205),
            listing("MODULE32NEXT", 206),
            // The snapshot is where the caller chose the process: still a target.
            listing("CreateToolhelp32Snapshot", 300),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:process32firstw",
            "api:process32nextw",
            "api:process32next",
            "api:process32first",
            "api:module32firstw",
            "api:module32nextw",
            "api:module32first",
            "api:module32next",
            "api:createtoolhelp32snapshot",
            "proc:300",
        ]
    );
    assert_eq!(
        edges_of(&g, &["api-proc", "api-nproc"]),
        ["api-nproc api:createtoolhelp32snapshot -> proc:300 x1"]
    );
}

// ---------------------------------------------------------------------------
// H1–H5

#[test]
fn rule_h1_path_from_filepath_dirpath_regkey_path() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            call(
                "NtCreateFile",
                "file",
                &[
                    ("file_handle", json!("0x10")),
                    ("dirpath", json!(r"C:\D")),
                    ("filepath", json!(r"C:\F.txt")),
                ],
            ),
            call(
                "NtCreateFile",
                "file",
                &[
                    ("file_handle", json!("0x20")),
                    ("filepath", json!("")),
                    ("dirpath", json!(r"C:\Dir")),
                ],
            ),
            // regkey / path are not paths of a file handle.
            call(
                "NtOpenFile",
                "file",
                &[
                    ("file_handle", json!("0x30")),
                    ("regkey", json!(r"HKEY_X\F")),
                    ("path", json!(r"C:\P")),
                ],
            ),
            call(
                "RegOpenKeyExW",
                "registry",
                &[
                    ("key_handle", json!("0x40")),
                    ("path", json!(r"HKEY_X\P")),
                    ("regkey", json!(r"HKEY_X\A")),
                ],
            ),
            call(
                "NtOpenKey",
                "registry",
                &[
                    ("key_handle", json!("0x50")),
                    ("regkey", json!("")),
                    ("path", json!(r"HKEY_X\B")),
                ],
            ),
            // filepath is not a path of a key handle.
            call(
                "NtOpenKey",
                "registry",
                &[("key_handle", json!("0x60")), ("filepath", json!(r"C:\K"))],
            ),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\f.txt",
            r"file_handle:100:0x20|c:\dir",
            "api:ntopenfile",
            "file_handle:100:0x30|",
            "api:regopenkeyexw",
            r"key_handle:100:0x40|hkey_x\a",
            "api:ntopenkey",
            r"key_handle:100:0x50|hkey_x\b",
            "key_handle:100:0x60|",
        ]
    );
    let paths: Vec<Option<String>> = g
        .nodes
        .iter()
        .filter(|n| matches!(n.props, NodeProps::Handle { .. }))
        .map(|n| handle_path(&g, &n.id()))
        .collect();
    let some = |p: &str| Some(p.to_owned());
    assert_eq!(
        paths,
        [
            some(r"C:\F.txt"),
            some(r"C:\Dir"),
            None,
            some(r"HKEY_X\A"),
            some(r"HKEY_X\B"),
            None
        ]
    );
}

#[test]
fn rule_h1_node_path_is_first_path_carried() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            read_file(json!("0x10")), // makes the node, no path
            call(
                "NtQueryInformationFile",
                "file",
                &[("file_handle", json!("0x10")), ("filepath", json!(r"C:\A.txt"))],
            ),
            call(
                "NtWriteFile",
                "file",
                &[("file_handle", json!("0x10")), ("filepath", json!(r"C:\B.txt"))],
            ),
            create_file(json!("0x20"), r"C:\X.txt"), // makes the node with a path
            call(
                "NtWriteFile",
                "file",
                &[("file_handle", json!("0x20")), ("filepath", json!(r"C:\Y.txt"))],
            ),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntreadfile",
            "file_handle:100:0x10|",
            "api:ntqueryinformationfile",
            "api:ntwritefile",
            "api:ntcreatefile",
            r"file_handle:100:0x20|c:\x.txt",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            "file_handle-api file_handle:100:0x10| -> api:ntreadfile x1",
            "file_handle-api file_handle:100:0x10| -> api:ntqueryinformationfile x1",
            "api-file_handle api:ntwritefile -> file_handle:100:0x10| x1",
            r"api-file_handle api:ntcreatefile -> file_handle:100:0x20|c:\x.txt x1",
            r"api-file_handle api:ntwritefile -> file_handle:100:0x20|c:\x.txt x1",
        ]
    );
    assert_eq!(
        node(&g, "file_handle:100:0x10|").props,
        NodeProps::Handle {
            address: "0x10".into(),
            path: Some(r"C:\A.txt".into()),
            pid: 100
        }
    );
    assert_eq!(
        handle_path(&g, r"file_handle:100:0x20|c:\x.txt"),
        Some(r"C:\X.txt".into())
    );
}

#[test]
fn rule_h2_direction_by_api_name() {
    let fh = || json!("0x10");
    let kh = || json!("0x20");
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            call(
                "NtOpenFile",
                "file",
                &[("file_handle", fh()), ("filepath", json!(r"C:\a"))],
            ),
            read_file(fh()),
            call("NtSetInformationFile", "file", &[("file_handle", fh())]),
            write_file(fh()),
            call("NtQueryInformationFile", "file", &[("file_handle", fh())]),
            call(
                "RegCreateKeyExW",
                "registry",
                &[("key_handle", kh()), ("regkey", json!("K"))],
            ),
            query_key(kh()),
            call("RegSetValueExW", "registry", &[("key_handle", kh())]),
            call("RegEnumKeyW", "registry", &[("key_handle", kh())]),
            // The display name decides, not the raw api name.
            call(
                "LdrGetProcedureAddress",
                "system",
                &[
                    ("module", json!("k.dll")),
                    ("function_name", json!("CreateFileW")),
                    ("file_handle", fh()),
                ],
            ),
            call(
                "LdrGetProcedureAddress",
                "system",
                &[
                    ("module", json!("k.dll")),
                    ("function_name", json!("ReadFile")),
                    ("file_handle", fh()),
                ],
            ),
        ],
    )]));
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-file_handle api:ntopenfile -> file_handle:100:0x10|c:\a x1",
            r"file_handle-api file_handle:100:0x10|c:\a -> api:ntreadfile x1",
            r"api-file_handle api:ntsetinformationfile -> file_handle:100:0x10|c:\a x1",
            r"api-file_handle api:ntwritefile -> file_handle:100:0x10|c:\a x1",
            r"file_handle-api file_handle:100:0x10|c:\a -> api:ntqueryinformationfile x1",
            "api-key_handle api:regcreatekeyexw -> key_handle:100:0x20|k x1",
            "key_handle-api key_handle:100:0x20|k -> api:regqueryvalueexw x1",
            "api-key_handle api:regsetvalueexw -> key_handle:100:0x20|k x1",
            "key_handle-api key_handle:100:0x20|k -> api:regenumkeyw x1",
            r"api-file_handle api:ldrgetprocedureaddress(k.dll!createfilew) -> file_handle:100:0x10|c:\a x1",
            r"file_handle-api file_handle:100:0x10|c:\a -> api:ldrgetprocedureaddress(k.dll!readfile) x1",
        ]
    );
}

#[test]
fn rule_q3_one_module_one_node() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            load_dll("kernel32"),
            load_dll("KERNEL32.DLL"),
            load_dll(r"C:\Windows\System32\kernel32.dll"),
            load_dll("C:/Windows/SysWOW64/Kernel32.dll"),
            get_proc_address("kernel32", "Sleep", json!(0)),
            get_proc_address("KERNEL32.dll", "Sleep", json!(0)),
            load_dll("wshom.ocx"),
            load_dll("C:\\dir\\"),
            load_dll("C:/mods/0x00000000"),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ldrloaddll(kernel32.dll)",
            "module:kernel32.dll",
            "api:ldrgetprocedureaddress(kernel32.dll!sleep)",
            "api:ldrloaddll(wshom.ocx)",
            "module:wshom.ocx",
        ]
    );
    assert_eq!(
        edges_of(&g, &MODULE_EDGES),
        [
            "api-module api:ldrloaddll(kernel32.dll) -> module:kernel32.dll x4",
            "module-api module:kernel32.dll -> api:ldrgetprocedureaddress(kernel32.dll!sleep) x2",
            "api-module api:ldrloaddll(wshom.ocx) -> module:wshom.ocx x1",
        ]
    );
    // A Cuckoo and a CAPE spelling of one import are one api node, named by identity.
    assert_eq!(api_names(&g)[1], "LdrGetProcedureAddress(kernel32.dll!Sleep)");
    // No identity: the display name keeps the string as given.
    assert_eq!(
        display_name(&mk("LdrLoadDll", "system", &[("basename", json!("C:\\Dir\\"))])),
        "LdrLoadDll(C:\\Dir\\)"
    );
}

#[test]
fn rule_q3_m2_still_compares_the_string_as_given() {
    // The identity `b.exe` is not process 200's path: no process link.
    let g = graph(&report(vec![
        process(200, r"C:\app\b.exe", vec![create_file(json!("0x10"), r"C:\t")]),
        process(100, APP, vec![load_dll("b.exe"), load_dll(r"C:\APP\B.EXE")]),
    ]));
    assert_eq!(
        edges_of(&g, &["api-proc", "api-nproc"]),
        ["api-nproc api:ldrloaddll(b.exe) -> proc:200 x1"]
    );
    assert_eq!(
        edges_of(&g, &MODULE_EDGES),
        ["api-module api:ldrloaddll(b.exe) -> module:b.exe x2"]
    );
}

#[test]
fn rule_q4_deleting_writes() {
    let kh = || json!("0x20");
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            open_key(kh(), "K"),
            call("RegDeleteValueA", "registry", &[("key_handle", kh())]),
            call("NtDeleteValueKey", "registry", &[("key_handle", kh())]),
            call("RegDeleteKeyW", "registry", &[("key_handle", kh())]),
            query_key(kh()),
        ],
    )]));
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            "api-key_handle api:regopenkeyexw -> key_handle:100:0x20|k x1",
            "api-key_handle api:regdeletevaluea -> key_handle:100:0x20|k x1",
            "api-key_handle api:ntdeletevaluekey -> key_handle:100:0x20|k x1",
            "api-key_handle api:regdeletekeyw -> key_handle:100:0x20|k x1",
            "key_handle-api key_handle:100:0x20|k -> api:regqueryvalueexw x1",
        ]
    );
}

#[test]
fn rule_h3_null_handle_keyed_by_path() {
    let g = graph(&report(vec![
        process(
            100,
            APP,
            vec![
                call(
                    "NtOpenKey",
                    "registry",
                    &[("key_handle", json!("0x00000000")), ("regkey", json!(r"HKEY_A\X"))],
                ),
                call(
                    "RegQueryValueExW",
                    "registry",
                    &[("key_handle", json!(0)), ("regkey", json!(r"HKEY_A\x"))],
                ),
                call(
                    "NtOpenKey",
                    "registry",
                    &[("key_handle", json!("0xFFFFFFFF")), ("regkey", json!(r"HKEY_A\Y"))],
                ),
                create_file(json!("0x"), r"C:\N.txt"),
                create_file(json!("0x0000000000000000"), r"C:\n.TXT"),
            ],
        ),
        // Null handles belong to their process too.
        process(
            200,
            r"C:\app\b.exe",
            vec![call(
                "NtOpenKey",
                "registry",
                &[("key_handle", json!("0x00000000")), ("regkey", json!(r"HKEY_A\X"))],
            )],
        ),
    ]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntopenkey",
            r"key_handle:100:|hkey_a\x",
            "api:regqueryvalueexw",
            r"key_handle:100:|hkey_a\y",
            "api:ntcreatefile",
            r"file_handle:100:|c:\n.txt",
            "proc:200",
            r"key_handle:200:|hkey_a\x",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-key_handle api:ntopenkey -> key_handle:100:|hkey_a\x x1",
            r"key_handle-api key_handle:100:|hkey_a\x -> api:regqueryvalueexw x1",
            r"api-key_handle api:ntopenkey -> key_handle:100:|hkey_a\y x1",
            r"api-file_handle api:ntcreatefile -> file_handle:100:|c:\n.txt x2",
            r"api-key_handle api:ntopenkey -> key_handle:200:|hkey_a\x x1",
        ]
    );
    assert_eq!(handle_address(&g, r"key_handle:100:|hkey_a\x"), "0x00000000");
    assert_eq!(handle_address(&g, r"key_handle:100:|hkey_a\y"), "0xffffffff");
    assert_eq!(handle_address(&g, r"file_handle:100:|c:\n.txt"), "0x");
    assert_eq!(handle_path(&g, r"key_handle:100:|hkey_a\x"), Some(r"HKEY_A\X".into()));
}

#[test]
fn rule_h3_null_handle_without_path_makes_no_node() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            read_file(json!("0x00000000")),
            read_file(json!(0)),
            read_file(json!("0xFFFFFFFFFFFFFFFF")),
            call(
                "NtQueryKey",
                "registry",
                &[("key_handle", json!("0x00000000")), ("regkey", json!(""))],
            ),
        ],
    )]));
    assert_eq!(ids(&g), ["proc:100"]);
    assert!(g.edges.is_empty(), "{:?}", edges(&g));
}

#[test]
fn rule_h4_lifetime_until_close() {
    let g = graph(&report(vec![
        process(
            100,
            APP,
            vec![
                create_file(json!("0x10"), r"C:\A.txt"),
                // Same lifetime: same node, whatever path it carries.
                call(
                    "NtWriteFile",
                    "file",
                    &[("file_handle", json!("0x10")), ("filepath", json!(r"C:\B.txt"))],
                ),
                close(json!("0x10")),
                // A new lifetime, keyed by its own first path.
                create_file(json!("0x10"), r"C:\B.txt"),
                call(
                    "NtWriteFile",
                    "file",
                    &[("file_handle", json!("0x10")), ("filepath", json!(r"C:\A.txt"))],
                ),
            ],
        ),
        // The same value in another process is another handle.
        process(200, r"C:\app\b.exe", vec![create_file(json!("0x10"), r"C:\A.txt")]),
    ]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\a.txt",
            "api:ntwritefile",
            r"file_handle:100:0x10|c:\b.txt",
            "proc:200",
            r"file_handle:200:0x10|c:\a.txt",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-file_handle api:ntcreatefile -> file_handle:100:0x10|c:\a.txt x1",
            r"api-file_handle api:ntwritefile -> file_handle:100:0x10|c:\a.txt x1",
            r"api-file_handle api:ntcreatefile -> file_handle:100:0x10|c:\b.txt x1",
            r"api-file_handle api:ntwritefile -> file_handle:100:0x10|c:\b.txt x1",
            r"api-file_handle api:ntcreatefile -> file_handle:200:0x10|c:\a.txt x1",
        ]
    );
}

#[test]
fn rule_h4_file_and_key_handles_with_same_value_are_separate() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            open_key(json!("0x10"), r"HKEY_A\K"),
            read_file(json!("0x10")),
            query_key(json!("0x10")),
            call(
                "NtQueryInformationFile",
                "file",
                &[("file_handle", json!("0x10")), ("filepath", json!(r"C:\F"))],
            ),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:regopenkeyexw",
            r"key_handle:100:0x10|hkey_a\k",
            "api:ntreadfile",
            "file_handle:100:0x10|",
            "api:regqueryvalueexw",
            "api:ntqueryinformationfile",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-key_handle api:regopenkeyexw -> key_handle:100:0x10|hkey_a\k x1",
            "file_handle-api file_handle:100:0x10| -> api:ntreadfile x1",
            r"key_handle-api key_handle:100:0x10|hkey_a\k -> api:regqueryvalueexw x1",
            "file_handle-api file_handle:100:0x10| -> api:ntqueryinformationfile x1",
        ]
    );
}

#[test]
fn rule_h4_reopened_same_path_shares_node() {
    let k = r"HKEY_A\Loop";
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            open_key(json!("0xd8"), k),
            query_key(json!("0xd8")),
            close_key(json!("0xd8")),
            open_key(json!("0xd8"), k),
            query_key(json!("0xd8")),
            close_key(json!("0xd8")),
            // The value reused for another key: another node.
            open_key(json!("0xd8"), r"HKEY_A\Other"),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:regopenkeyexw",
            r"key_handle:100:0xd8|hkey_a\loop",
            "api:regqueryvalueexw",
            "api:regclosekey",
            r"key_handle:100:0xd8|hkey_a\other",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-key_handle api:regopenkeyexw -> key_handle:100:0xd8|hkey_a\loop x2",
            r"key_handle-api key_handle:100:0xd8|hkey_a\loop -> api:regqueryvalueexw x2",
            r"key_handle-api key_handle:100:0xd8|hkey_a\loop -> api:regclosekey x2",
            r"api-key_handle api:regopenkeyexw -> key_handle:100:0xd8|hkey_a\other x1",
        ]
    );
}

#[test]
fn rule_h5_ntclose_closes_both_kinds() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            create_file(json!("0x10"), r"C:\A"),
            open_key(json!("0x10"), "K"),
            close(json!("0x10")),
            read_file(json!("0x10")),
            query_key(json!("0x10")),
        ],
    )]));
    // NtClose itself makes no node and is not part of the sequence.
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\a",
            "api:regopenkeyexw",
            "key_handle:100:0x10|k",
            "api:ntreadfile",
            "file_handle:100:0x10|",
            "api:regqueryvalueexw",
            "key_handle:100:0x10|",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-file_handle api:ntcreatefile -> file_handle:100:0x10|c:\a x1",
            "api-key_handle api:regopenkeyexw -> key_handle:100:0x10|k x1",
            "file_handle-api file_handle:100:0x10| -> api:ntreadfile x1",
            "key_handle-api key_handle:100:0x10| -> api:regqueryvalueexw x1",
        ]
    );
    assert_eq!(
        edges_of(&g, &["api-api"]),
        [
            "api-api api:ntcreatefile -> api:regopenkeyexw x1",
            "api-api api:regopenkeyexw -> api:ntreadfile x1",
            "api-api api:ntreadfile -> api:regqueryvalueexw x1",
        ]
    );
}

#[test]
fn rule_h5_regclosekey_links_then_closes_key_only() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            create_file(json!("0x10"), r"C:\A"),
            open_key(json!("0x10"), "K"),
            close_key(json!("0x10")),
            read_file(json!("0x10")), // the file lifetime is still open
            query_key(json!("0x10")), // the key lifetime is not
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\a",
            "api:regopenkeyexw",
            "key_handle:100:0x10|k",
            "api:regclosekey",
            "api:ntreadfile",
            "api:regqueryvalueexw",
            "key_handle:100:0x10|",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-file_handle api:ntcreatefile -> file_handle:100:0x10|c:\a x1",
            "api-key_handle api:regopenkeyexw -> key_handle:100:0x10|k x1",
            "key_handle-api key_handle:100:0x10|k -> api:regclosekey x1",
            r"file_handle-api file_handle:100:0x10|c:\a -> api:ntreadfile x1",
            "key_handle-api key_handle:100:0x10| -> api:regqueryvalueexw x1",
        ]
    );
}

#[test]
fn rule_h5_skipped_close_closes_nothing() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            create_file(json!("0x10"), r"C:\A"),
            close(json!("0x10")).with("last_error", json!(6)), // C2
            create_file(json!("0x10"), r"C:\B"),
            close(json!("0x10")).with("category", json!("misc")), // C1
            write_file(json!("0x10")),
            open_key(json!("0x20"), "K"),
            close_key(json!("0x20")).with("last_error", json!(6)), // C2
            query_key(json!("0x20")),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\a",
            "api:ntwritefile",
            "api:regopenkeyexw",
            "key_handle:100:0x20|k",
            "api:regqueryvalueexw",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-file_handle api:ntcreatefile -> file_handle:100:0x10|c:\a x2",
            r"api-file_handle api:ntwritefile -> file_handle:100:0x10|c:\a x1",
            "api-key_handle api:regopenkeyexw -> key_handle:100:0x20|k x1",
            "key_handle-api key_handle:100:0x20|k -> api:regqueryvalueexw x1",
        ]
    );
}

// ---------------------------------------------------------------------------
// K1, S1, G1

#[test]
fn rule_k1_unlinked_api_node_removed() {
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            delay(),
            read_file(json!("0x10")),
            delay().with("tid", json!(2)),
            write_file(json!("0x10")),
        ],
    )]));
    assert_eq!(
        ids(&g),
        ["proc:100", "api:ntreadfile", "file_handle:100:0x10|", "api:ntwritefile"]
    );
    assert_eq!(
        edges(&g),
        [
            "file_handle-api file_handle:100:0x10| -> api:ntreadfile x1",
            "proc-api proc:100 -> api:ntreadfile x1",
            "api-file_handle api:ntwritefile -> file_handle:100:0x10| x1",
            "proc-api proc:100 -> api:ntwritefile x1",
            "api-api api:ntreadfile -> api:ntwritefile x1",
        ]
    );

    // The same through the builder directly: the node is really gone, not
    // just hidden (the next node takes its place).
    let outcome = build_direct(
        &GraphConfig::default(),
        vec![(
            info(100, APP),
            vec![
                mk("NtDelayExecution", "system", &[]),
                mk("NtOpenProcess", "process", &[("process_identifier", json!(200))]),
            ],
        )],
    );
    let Outcome::Built(g) = outcome else {
        panic!("expected a graph, got {outcome:?}")
    };
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200"]);
}

#[test]
fn rule_k1_api_with_existing_edge_gets_proc_api() {
    let g = graph(&report(vec![
        process(
            100,
            APP,
            vec![
                read_file(json!("0x10")),
                write_file(json!("0x10")),
                read_file(json!("0x00000000")), // links nothing, but its node has edges
            ],
        ),
        process(200, r"C:\app\b.exe", vec![read_file(json!("0x00000000"))]),
    ]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntreadfile",
            "file_handle:100:0x10|",
            "api:ntwritefile",
            "proc:200"
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "file_handle-api file_handle:100:0x10| -> api:ntreadfile x1",
            "proc-api proc:100 -> api:ntreadfile x2",
            "api-file_handle api:ntwritefile -> file_handle:100:0x10| x1",
            "proc-api proc:100 -> api:ntwritefile x1",
            "api-api api:ntreadfile -> api:ntwritefile x1",
            "api-api api:ntwritefile -> api:ntreadfile x1",
            "proc-api proc:200 -> api:ntreadfile x1",
        ]
    );
}

fn sequence_report() -> String {
    report(vec![
        process(
            100,
            APP,
            vec![
                open_process(json!(200)),
                read_file(json!("0x10")),
                delay(), // dropped by K1: not part of the sequence
                open_process(json!(200)),
                read_file(json!("0x10")),
                open_process(json!(300)),
                open_process(json!(400)), // ntopenprocess -> itself: no self-loop
            ],
        ),
        // Another process starts its own sequence.
        process(500, r"C:\app\e.exe", vec![read_file(json!("0x20"))]),
    ])
}

#[test]
fn rule_s1_sequence_edges_with_counts_no_self_loops() {
    let g = graph(&sequence_report());
    assert_eq!(
        edges_of(&g, &["api-api"]),
        [
            "api-api api:ntopenprocess -> api:ntreadfile x2",
            "api-api api:ntreadfile -> api:ntopenprocess x2",
        ]
    );
    assert_eq!(args(&g, "api-api", "api:ntopenprocess", "api:ntreadfile"), json!({}));
}

#[test]
fn rule_s1_can_be_turned_off() {
    let on = graph(&sequence_report());
    let cfg = GraphConfig {
        sequence_edges: false,
        ..GraphConfig::default()
    };
    let off = graph_with(&sequence_report(), &cfg);
    assert_eq!(ids(&off), ids(&on));
    assert!(edges_of(&on, &["api-api"]).len() == 2);
    let mut without_sequence = edges(&on);
    without_sequence.retain(|e| !e.starts_with("api-api "));
    assert_eq!(edges(&off), without_sequence);
}

#[test]
fn rule_g1_empty_graph() {
    let a = analyse(&report(vec![
        process(100, APP, vec![call("NtOpenThread", "threading", &[])]),
        process(200, APP, vec![]),
    ]));
    assert!(matches!(a.outcome, Outcome::Empty), "{:?}", a.outcome);
    assert_eq!(a.meta.processes, 2);
}

#[test]
fn no_behaviour_or_no_processes_is_no_graph() {
    for text in [
        r#"{"info": {"version": "2.0.7"}}"#,
        r#"{"behavior": {}}"#,
        r#"{"behavior": {"processes": []}}"#,
    ] {
        let a = analyse(text);
        assert!(matches!(a.outcome, Outcome::NoBehaviour), "{text}: {:?}", a.outcome);
    }
}

// ---------------------------------------------------------------------------
// Section 4: edge identity, count, args

#[test]
fn rule_edges_args_of_first_call_minus_identity_args() {
    let mut identity: Vec<(&str, Value)> = IDENTITY_ARGS
        .iter()
        .map(|&n| (n, json!(format!("0x{:08x}", 0x100 + n.len()))))
        .collect();
    identity.retain(|(n, _)| !matches!(*n, "process_identifier" | "file_handle" | "key_handle"));
    identity.push(("process_identifier", json!(200)));
    identity.push(("keep", json!(1)));
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            call(
                "NtCreateFile",
                "file",
                &[
                    ("file_handle", json!("0x10")),
                    ("filepath", json!(r"C:\A")),
                    ("desired_access", json!("0x80")),
                    ("share_access", json!(3)),
                ],
            ),
            call(
                "NtWriteFile",
                "file",
                &[("file_handle", json!("0x10")), ("buffer", json!("first"))],
            ),
            read_file(json!("0x10")),
            call(
                "NtWriteFile",
                "file",
                &[("file_handle", json!("0x10")), ("buffer", json!("second"))],
            ),
            call("NtOpenProcess", "process", &identity),
            call(
                "LdrLoadDll",
                "system",
                &[
                    ("flags", json!(0)),
                    ("basename", json!("kernel32")),
                    ("module_address", json!("0x765a0000")),
                    ("module_name", json!("kernel32.dll")),
                    ("stack_pivoted", json!(0)),
                ],
            ),
            get_proc_address("kernel32", "IsWow64Process", json!(0)),
        ],
    )]));
    let fh = r"file_handle:100:0x10|c:\a";
    assert_eq!(
        args(&g, "api-file_handle", "api:ntcreatefile", fh),
        json!({"filepath": r"C:\A", "desired_access": "0x80", "share_access": 3})
    );
    // One edge per identity: the second write counts, its args do not.
    assert_eq!(
        edges_of(&g, &["api-file_handle"]),
        [
            format!("api-file_handle api:ntcreatefile -> {fh} x1"),
            format!("api-file_handle api:ntwritefile -> {fh} x2"),
        ]
    );
    assert_eq!(
        args(&g, "api-file_handle", "api:ntwritefile", fh),
        json!({"buffer": "first"})
    );
    assert_eq!(
        args(&g, "api-nproc", "api:ntopenprocess", "proc:200"),
        json!({"keep": 1})
    );
    assert_eq!(
        args(&g, "api-module", "api:ldrloaddll(kernel32.dll)", "module:kernel32.dll"),
        json!({"flags": 0, "stack_pivoted": 0})
    );
    assert_eq!(
        args(
            &g,
            "module-api",
            "module:kernel32.dll",
            "api:ldrgetprocedureaddress(kernel32.dll!iswow64process)"
        ),
        json!({"ordinal": 0})
    );
    // proc-api and api-api edges never carry args.
    let carrying: Vec<String> = g
        .edges
        .iter()
        .filter(|e| matches!(e.kind, EdgeKind::ProcApi | EdgeKind::ApiApi) && !e.args.is_empty())
        .map(|e| edge_line(&g, e))
        .collect();
    assert!(carrying.is_empty(), "{carrying:?}");
    assert!(g.edges.iter().any(|e| e.kind == EdgeKind::ApiApi));
    // No self-loops.
    assert!(g.edges.iter().all(|e| e.from != e.to));
}

#[test]
fn edge_identity_includes_the_type() {
    // The same (api, proc) pair as api-nproc (from another process) and as
    // api-proc (from the process itself): two edges.
    let g = graph(&report(vec![
        process(100, APP, vec![open_process(json!(200))]),
        process(200, r"C:\app\b.exe", vec![open_process(json!(200))]),
    ]));
    assert_eq!(
        edges(&g),
        [
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "proc-api proc:100 -> api:ntopenprocess x1",
            "api-proc api:ntopenprocess -> proc:200 x1",
            "proc-api proc:200 -> api:ntopenprocess x1",
        ]
    );
}

// ---------------------------------------------------------------------------
// Section 1: addresses

#[test]
fn address_integers_become_0x_hex_and_strings_are_lowercased() {
    assert_eq!(address_of(&json!(420)).as_deref(), Some("0x000001a4"));
    assert_eq!(address_of(&json!(0)).as_deref(), Some("0x00000000"));
    assert_eq!(address_of(&json!(0x1_2345_6789_u64)).as_deref(), Some("0x123456789"));
    assert_eq!(address_of(&json!("0x000001A4")).as_deref(), Some("0x000001a4"));
    assert_eq!(address_of(&json!("0XABC")).as_deref(), Some("0xabc"));
    // Strings are taken as they are (no padding, no prefix added).
    assert_eq!(address_of(&json!("1A4")).as_deref(), Some("1a4"));
    assert_eq!(address_of(&json!("0x1a4")).as_deref(), Some("0x1a4"));
    assert_eq!(address_of(&Value::Null), None);

    // In a graph: integer and string forms are one lifetime.
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            create_file(json!(420), r"C:\A"),
            write_file(json!("0x000001A4")),
            close(json!(420)),
            read_file(json!("0x000001a4")),
            read_file(json!(4_294_967_296_u64)),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntcreatefile",
            r"file_handle:100:0x000001a4|c:\a",
            "api:ntwritefile",
            "api:ntreadfile",
            "file_handle:100:0x000001a4|",
            "file_handle:100:0x100000000|",
        ]
    );
    assert_eq!(handle_address(&g, r"file_handle:100:0x000001a4|c:\a"), "0x000001a4");
}

#[test]
fn null_address_forms() {
    for null in [
        "0x",
        "0x0",
        "0x00000000",
        "0x0000000000000000",
        "0xffffffff",
        "0xffffffffffffffff",
        "0xf",
    ] {
        assert!(is_null_address(null), "{null}");
    }
    for not_null in [
        "0x0000000f",
        "0xf0",
        "0xfffffffe",
        "0",
        "",
        "ffffffff",
        "0x00000001",
        "null",
    ] {
        assert!(!is_null_address(not_null), "{not_null}");
    }
    // After normalisation: integer 0 and an upper-case string are null too
    // (H3: without a path they make no node).
    let g = graph(&report(vec![process(
        100,
        APP,
        vec![
            read_file(json!(0)),
            read_file(json!("0XFFFFFFFF")),
            open_process(json!(200)),
        ],
    )]));
    assert_eq!(ids(&g), ["proc:100", "api:ntopenprocess", "proc:200"]);
}

// ---------------------------------------------------------------------------
// Section 1: CAPE normalisation and format detection

#[test]
fn cape_process_fields_and_categories_are_normalised() {
    let text = report(vec![cape_process(
        100,
        APP,
        vec![
            cape_call(
                "NtCreateFile",
                "filesystem",
                &[
                    ("FileHandle", json!("0x00000010")),
                    ("DesiredAccess", json!("0x00100080")),
                    ("FileName", json!(r"C:\A.txt")),
                ],
            ),
            cape_call("NtCreateMutant", "synchronization", &[("MutexName", json!("m"))]),
        ],
    )]);
    let a = analyse(&text);
    assert_eq!(a.meta.format, Some(Format::Cape));
    let Outcome::Built(g) = a.outcome else {
        panic!("expected a graph, got {:?}", a.outcome)
    };
    assert_eq!(
        ids(&g),
        ["proc:100", "api:ntcreatefile", r"file_handle:100:0x00000010|c:\a.txt"]
    );
    assert_eq!(node(&g, "proc:100").props, proc_props(100, Some(1), "a.exe", APP));
    assert_eq!(
        api_nodes(&g),
        [("NtCreateFile".into(), "NtCreateFile".into(), "file".into())]
    );
    // `pretty_value` is ignored; unmapped names keep their CAPE name.
    assert_eq!(
        args(
            &g,
            "api-file_handle",
            "api:ntcreatefile",
            r"file_handle:100:0x00000010|c:\a.txt"
        ),
        json!({"DesiredAccess": "0x00100080", "filepath": r"C:\A.txt"})
    );

    // `synchronization` is `synchronisation` for C1.
    let cfg = |c: &str| GraphConfig {
        categories: vec![c.into()],
        ..GraphConfig::default()
    };
    assert_eq!(ids(&graph_with(&text, &cfg("synchronisation"))), ["proc:100"]);
    assert!(matches!(
        analyse_with(&text, &cfg("synchronization")).outcome,
        Outcome::Empty
    ));
    assert!(matches!(
        analyse_with(&text, &cfg("filesystem")).outcome,
        Outcome::Empty
    ));
}

#[test]
fn cape_arguments_list_first_name_wins() {
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![
            cape_call(
                "NtCreateFile",
                "filesystem",
                &[
                    ("FileHandle", json!("0x10")),
                    ("FileName", json!(r"C:\first.txt")),
                    ("FileName", json!(r"C:\second.txt")),
                ],
            ),
            // Both map to `filepath`: the first wins, the other keeps its name.
            cape_call(
                "NtOpenFile",
                "filesystem",
                &[
                    ("FileHandle", json!("0x20")),
                    ("HandleName", json!(r"C:\h.txt")),
                    ("FileName", json!(r"C:\f.txt")),
                ],
            ),
            // No FileHandle: FileName is not a path.
            cape_call(
                "NtQueryAttributesFile",
                "filesystem",
                &[("FileName", json!(r"C:\q.txt"))],
            ),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\first.txt",
            "api:ntopenfile",
            r"file_handle:100:0x20|c:\h.txt",
        ]
    );
    assert_eq!(
        args(
            &g,
            "api-file_handle",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\first.txt"
        ),
        json!({"filepath": r"C:\first.txt"})
    );
    assert_eq!(
        args(
            &g,
            "api-file_handle",
            "api:ntopenfile",
            r"file_handle:100:0x20|c:\h.txt"
        ),
        json!({"filepath": r"C:\h.txt", "FileName": r"C:\f.txt"})
    );
}

#[test]
fn cape_key_handle_arguments() {
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![
            cape_call(
                "RegOpenKeyExW",
                "registry",
                &[
                    ("Registry", json!("0xffffffff80000002")),
                    ("SubKey", json!(r"Software\X")),
                    ("Handle", json!("0x000000b8")),
                    ("FullName", json!(r"HKEY_LOCAL_MACHINE\Software\X")),
                ],
            ),
            cape_call(
                "NtOpenKey",
                "registry",
                &[
                    ("KeyHandle", json!("0x000001c0")),
                    ("DesiredAccess", json!("0x00020019")),
                    ("ObjectAttributes", json!(r"HKEY_LOCAL_MACHINE\System\Y")),
                ],
            ),
            cape_call(
                "NtOpenKey",
                "registry",
                &[
                    ("ObjectAttributes", json!("A")),
                    ("KeyHandle", json!("0x000001d0")),
                    ("FullName", json!(r"HKEY_B")),
                ],
            ),
            // Not a Reg api: Handle is no key handle.
            cape_call("NtQueryObject", "system", &[("Handle", json!("0x000001e0"))]),
            cape_call("RegCloseKey", "registry", &[("Handle", json!("0x000000b8"))]),
            cape_call("RegQueryValueExW", "registry", &[("Handle", json!("0x000000b8"))]),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:regopenkeyexw",
            r"key_handle:100:0x000000b8|hkey_local_machine\software\x",
            "api:ntopenkey",
            r"key_handle:100:0x000001c0|hkey_local_machine\system\y",
            "key_handle:100:0x000001d0|hkey_b",
            "api:regclosekey",
            "api:regqueryvalueexw",
            "key_handle:100:0x000000b8|",
        ]
    );
    assert_eq!(
        edges_of(&g, &HANDLE_EDGES),
        [
            r"api-key_handle api:regopenkeyexw -> key_handle:100:0x000000b8|hkey_local_machine\software\x x1",
            r"api-key_handle api:ntopenkey -> key_handle:100:0x000001c0|hkey_local_machine\system\y x1",
            "api-key_handle api:ntopenkey -> key_handle:100:0x000001d0|hkey_b x1",
            r"key_handle-api key_handle:100:0x000000b8|hkey_local_machine\software\x -> api:regclosekey x1",
            "key_handle-api key_handle:100:0x000000b8| -> api:regqueryvalueexw x1",
        ]
    );
    // Registry → base_handle, an identity argument.
    assert_eq!(
        args(
            &g,
            "api-key_handle",
            "api:regopenkeyexw",
            r"key_handle:100:0x000000b8|hkey_local_machine\software\x"
        ),
        json!({"SubKey": r"Software\X", "regkey": r"HKEY_LOCAL_MACHINE\Software\X"})
    );
    assert_eq!(
        args(
            &g,
            "api-key_handle",
            "api:ntopenkey",
            "key_handle:100:0x000001d0|hkey_b"
        ),
        json!({"ObjectAttributes": "A", "regkey": "HKEY_B"})
    );
}

#[test]
fn cape_loader_arguments() {
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![
            cape_call(
                "LdrLoadDll",
                "system",
                &[
                    ("Flags", json!("0x00000000")),
                    ("FileName", json!(r"C:\Windows\system32\CRYPTBASE.dll")),
                    ("BaseAddress", json!("0x75000000")),
                ],
            ),
            cape_call(
                "LdrGetDllHandle",
                "system",
                &[("FileName", json!("ntdll.dll")), ("ModuleHandle", json!("0x77000000"))],
            ),
            cape_call(
                "LdrGetProcedureAddressForCaller",
                "system",
                &[
                    ("ModuleName", json!("kernel32.dll")),
                    ("ModuleHandle", json!("0x76000000")),
                    ("FunctionName", json!("")),
                    ("Ordinal", json!("17")),
                    ("FunctionAddress", json!("0x76001000")),
                ],
            ),
            cape_call(
                "LdrGetProcedureAddress",
                "system",
                &[
                    ("ModuleName", json!("kernel32.dll")),
                    ("ModuleHandle", json!("0x76000000")),
                    ("FunctionName", json!("Sleep")),
                    ("Ordinal", json!("0")),
                    ("FunctionAddress", json!("0x76002000")),
                ],
            ),
            cape_call(
                "LdrUnloadDll",
                "system",
                &[("FileName", json!("ntdll.dll")), ("ModuleHandle", json!("0x77000000"))],
            ),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ldrloaddll(cryptbase.dll)",
            "module:cryptbase.dll",
            "api:ldrgetdllhandle(ntdll.dll)",
            "module:ntdll.dll",
            "api:ldrgetprocedureaddress(kernel32.dll!#17)",
            "module:kernel32.dll",
            "api:ldrgetprocedureaddress(kernel32.dll!sleep)",
            "api:ldrunloaddll(ntdll.dll)",
        ]
    );
    assert_eq!(
        edges_of(&g, &MODULE_EDGES),
        [
            "api-module api:ldrloaddll(cryptbase.dll) -> module:cryptbase.dll x1",
            "api-module api:ldrgetdllhandle(ntdll.dll) -> module:ntdll.dll x1",
            "module-api module:kernel32.dll -> api:ldrgetprocedureaddress(kernel32.dll!#17) x1",
            "module-api module:kernel32.dll -> api:ldrgetprocedureaddress(kernel32.dll!sleep) x1",
            "api-module api:ldrunloaddll(ntdll.dll) -> module:ntdll.dll x1",
        ]
    );
    // ForCaller is treated as LdrGetProcedureAddress.
    assert_eq!(
        api_nodes(&g)[2],
        (
            "LdrGetProcedureAddress(kernel32.dll!#17)".into(),
            "LdrGetProcedureAddress".into(),
            "system".into()
        )
    );
    assert_eq!(
        node(&g, "module:cryptbase.dll").props,
        NodeProps::Module {
            name: "cryptbase.dll".into(),
            address: Some("0x75000000".into())
        }
    );
    assert_eq!(
        args(
            &g,
            "module-api",
            "module:kernel32.dll",
            "api:ldrgetprocedureaddress(kernel32.dll!#17)"
        ),
        json!({"ordinal": "17"})
    );
    assert_eq!(
        args(
            &g,
            "api-module",
            "api:ldrloaddll(cryptbase.dll)",
            "module:cryptbase.dll"
        ),
        json!({"Flags": "0x00000000"})
    );
}

#[test]
fn cape_process_identifier_and_ntclose() {
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![
            cape_call(
                "NtOpenProcess",
                "process",
                &[
                    ("ProcessHandle", json!("0x00000050")),
                    ("DesiredAccess", json!("0x00000400")),
                    ("ProcessIdentifier", json!("200")),
                ],
            ),
            cape_call("NtOpenProcess", "process", &[("ProcessId", json!(300))]),
            cape_call(
                "NtCreateFile",
                "filesystem",
                &[("FileHandle", json!("0x10")), ("FileName", json!(r"C:\A"))],
            ),
            cape_call("NtClose", "system", &[("Handle", json!("0x10"))]),
            cape_call(
                "NtCreateFile",
                "filesystem",
                &[("FileHandle", json!("0x10")), ("FileName", json!(r"C:\B"))],
            ),
        ],
    )]));
    assert_eq!(
        ids(&g),
        [
            "proc:100",
            "api:ntopenprocess",
            "proc:200",
            "proc:300",
            "api:ntcreatefile",
            r"file_handle:100:0x10|c:\a",
            r"file_handle:100:0x10|c:\b",
        ]
    );
    assert_eq!(
        edges_of(&g, &["api-nproc"]),
        [
            "api-nproc api:ntopenprocess -> proc:200 x1",
            "api-nproc api:ntopenprocess -> proc:300 x1",
        ]
    );
    // ProcessHandle has no Cuckoo name in the table: it keeps its CAPE name.
    assert_eq!(
        args(&g, "api-nproc", "api:ntopenprocess", "proc:200"),
        json!({"ProcessHandle": "0x00000050", "DesiredAccess": "0x00000400"})
    );
}

#[test]
fn format_process_id_means_cape() {
    let create = || {
        cape_call(
            "NtCreateFile",
            "file",
            &[("FileHandle", json!("0x10")), ("FileName", json!(r"C:\A"))],
        )
    };
    // List arguments under CAPE names, first process with `process_id`:
    // normalised.
    let cape = analyse(&report(vec![cape_process(100, APP, vec![create()])]));
    assert_eq!(cape.meta.format, Some(Format::Cape));
    assert_eq!(
        ids(cape.graph().expect("graph")),
        ["proc:100", "api:ntcreatefile", r"file_handle:100:0x10|c:\a"]
    );

    // The same calls under a first process with `pid`: Cuckoo names are
    // expected, nothing is renamed, so nothing links.
    let cuckoo = analyse(&report(vec![
        process(100, APP, vec![create()]),
        cape_process(200, APP, vec![create()]),
    ]));
    assert_eq!(cuckoo.meta.format, Some(Format::Cuckoo));
    assert_eq!(ids(cuckoo.graph().expect("graph")), ["proc:100", "proc:200"]);

    // The same when `calls` comes before `process_id` (the calls wait).
    let late = analyse(&report(vec![cape_process(100, APP, vec![create()]).calls_at(0)]));
    assert_eq!(late.meta.format, Some(Format::Cape));
    assert_eq!(
        ids(late.graph().expect("graph")),
        ["proc:100", "api:ntcreatefile", r"file_handle:100:0x10|c:\a"]
    );
}

#[test]
fn format_without_processes_comes_from_info_version() {
    let cases = [
        (
            r#"{"info": {"version": "2.4-CAPE"}, "behavior": {"processes": []}}"#,
            Format::Cape,
        ),
        (
            r#"{"behavior": {"processes": []}, "info": {"version": "1.3-CAPE"}}"#,
            Format::Cape,
        ),
        (r#"{"info": {"version": "2.4-CAPE"}}"#, Format::Cape),
        (
            r#"{"info": {"version": "2.0.7"}, "behavior": {"processes": []}}"#,
            Format::Cuckoo,
        ),
        (r#"{"behavior": {"processes": []}}"#, Format::Cuckoo),
    ];
    for (text, format) in cases {
        let a = analyse(text);
        assert_eq!(a.meta.format, Some(format), "{text}");
        assert!(matches!(a.outcome, Outcome::NoBehaviour), "{text}");
    }
}

#[test]
fn format_cuckoo1_processes_have_an_empty_path() {
    let g = graph(&report(vec![cape_process(
        100,
        APP,
        vec![cape_call("NtOpenProcess", "process", &[("ProcessId", json!("200"))])],
    )
    .without("module_path")]));
    assert_eq!(node(&g, "proc:100").props, proc_props(100, Some(1), "a.exe", ""));
}

#[test]
fn process_key_order_does_not_change_the_graph() {
    // The same process with `calls` at every position among its keys: the
    // path must be known to P1 (node property, M2) whichever comes first.
    let calls = || vec![load_dll(r"C:\app\a.exe"), create_file(json!("0x10"), r"C:\A")];
    let expected_ids = [
        "proc:100",
        "api:ldrloaddll(a.exe)",
        "module:a.exe",
        "api:ntcreatefile",
        r"file_handle:100:0x10|c:\a",
    ];
    for at in 0..=4 {
        for p in [process(100, APP, calls()), cape_process(100, APP, calls())] {
            let g = graph(&report(vec![p.calls_at(at)]));
            assert_eq!(ids(&g), expected_ids, "calls at {at}");
            assert_eq!(
                edges_of(&g, &["api-proc"]),
                ["api-proc api:ldrloaddll(a.exe) -> proc:100 x1"],
                "calls at {at}"
            );
            assert_eq!(
                node(&g, "proc:100").props,
                proc_props(100, Some(1), "a.exe", APP),
                "calls at {at}"
            );
        }
    }
}
