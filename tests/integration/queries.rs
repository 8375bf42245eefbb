//! The hunting queries (`cypher/*.cypher`) against a real database, through
//! the real CLI: `graphmalw query run NAME --format json --param key=value`.
//!
//! `every_query_finds_its_hits_and_not_its_non_hits` empties the database
//! named by the `NEO4J_*` settings (under the `db` module's lock), ingests the
//! examples and the real fixtures (`db::corpus`) once, and runs each query's case: at least one
//! true hit, asserted with exact values, and at least one true non-hit. The
//! example reports are written so that every query has both, so the expected
//! values come from them alone and hold with or without the extra fixture folder;
//! where a result depends on how many analyses the database holds, the case
//! passes the parameters that make it exact. It also checks that every column
//! a query's header declares under `returns` comes back from the database and
//! that no undeclared one does.
//!
//! Before the cases, `graphmalw query check` must pass: `EXPLAIN` of every
//! query with its defaults gives no error and no server notification (Neo4j
//! reports deprecated syntax and cartesian products that way), and no query
//! run of a case may print a warning.
//!
//! `every_shipped_query_has_a_case_here` fails when `graphmalw query list`
//! shows a query without a case below (or a case names no query), so a query
//! cannot be added without its test.

use crate::db;
use crate::support::{self, stderr, stdout};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

type Row = serde_json::Map<String, Value>;

const DROPPER: &str = "dropper-cuckoo.json";
const INJECTOR: &str = "injector-cape.json";
const STEALER: &str = "stealer-cape.json";
/// The stealer's sample, which the dropper and the injector drop.
const STEALER_SHA256: &str = "5ba80d5245b65bdbe28e24b6df3324be9bbfa6d96530581a03c6dcb59e603057";
/// The dropper's config file: dropped, but never analysed.
const WHS_DAT_SHA256: &str = "2f1b25c43dcc61c54873e379e9a6ffea0ece671cf7da2a5e0e1b78933c639569";
const DROPPED_PATH: &str = r"C:\Users\Louise\AppData\Roaming\svchost32.exe";
const RUN_KEY: &str = r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run";
const WINLOGON_KEY: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon";
/// A report of the extra fixture folder only (not permissively licensed, so
/// never in the repository).
const PAFISH: &str = "cuckoo2-tfe-pafish.json.gz";
const THE_THREE: [&str; 3] = ["invoice_7731.exe", "payroll_update.exe", "svchost32.exe"];

/// A query's case: runs it and asserts its hits and non-hits.
type Case = fn(&Ctx);

/// Every shipped query and its case. Keep in step with `cypher/`.
const CASES: &[(&str, Case)] = &[
    ("anti-debug", anti_debug),
    ("anti-vm-probes", anti_vm_probes),
    ("api-similarity", api_similarity),
    ("campaigns", campaigns),
    ("drop-chains", drop_chains),
    ("dynamic-api-resolution", dynamic_api_resolution),
    ("files-written-then-executed", files_written_then_executed),
    ("indicator-clusters", indicator_clusters),
    ("loaded-dlls", loaded_dlls),
    ("nearest-neighbours", nearest_neighbours),
    ("network-contacts", network_contacts),
    ("ordinal-imports", ordinal_imports),
    ("persistence-registry", persistence_registry),
    ("process-hollowing", process_hollowing),
    ("process-tree", process_tree),
    ("remote-injection", remote_injection),
    ("self-deletion", self_deletion),
    ("shared-files", shared_files),
    ("shared-mutexes", shared_mutexes),
    ("shared-network", shared_network),
    ("shared-registry-keys", shared_registry_keys),
    ("signatures", signatures),
    ("top-apis", top_apis),
    ("triage-overview", triage_overview),
    ("unique-behaviours", unique_behaviours),
];

/// What a case works with.
struct Ctx {
    conn: db::Conn,
    /// Report file name → analysis id (from triage-overview).
    ids: BTreeMap<String, String>,
    /// Analyses in the database.
    total: usize,
    /// The pafish report (extra fixture folder only) was ingested too.
    pafish: bool,
    /// Query name → the columns that were non-null in some row it returned.
    seen: RefCell<BTreeMap<String, BTreeSet<String>>>,
}

impl Ctx {
    /// `graphmalw query run NAME --format json --param k=v …`, as rows.
    #[track_caller]
    fn run(&self, name: &str, params: &[(&str, &str)]) -> Vec<Row> {
        let kv: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["query", "run", name, "--format", "json"];
        for p in &kv {
            args.extend(["--param", p.as_str()]);
        }
        let o = self.conn.command(&args).output().expect("graphmalw runs");
        assert!(
            o.status.success(),
            "query run {name} {params:?} failed ({:?}): {}",
            o.status.code(),
            stderr(&o)
        );
        // Neo4j's notifications (deprecations, performance hints) come out as warnings.
        assert!(
            !stderr(&o).contains("warning:"),
            "query run {name} {params:?}: the server sent notifications:\n{}",
            stderr(&o)
        );
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("query run {name}: output is not JSON ({e}): {}", stdout(&o)));
        let rows: Vec<Row> = v
            .as_array()
            .unwrap_or_else(|| panic!("query run {name}: not an array of rows"))
            .iter()
            .map(|r| r.as_object().expect("a row is an object").clone())
            .collect();
        let mut seen = self.seen.borrow_mut();
        let cols = seen.entry(name.to_owned()).or_default();
        for r in &rows {
            cols.extend(r.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k.clone()));
        }
        rows
    }

    fn id(&self, report: &str) -> &str {
        self.ids
            .get(report)
            .unwrap_or_else(|| panic!("no analysis of {report} in the database"))
    }
}

/// Does `row` hold every key of `pattern` with an equal value? A list in the
/// pattern matches a list with the same elements in any order.
fn matches(row: &Row, pattern: &Value) -> bool {
    pattern
        .as_object()
        .expect("a pattern is a JSON object")
        .iter()
        .all(|(k, want)| {
            let got = row.get(k).unwrap_or(&Value::Null);
            match (want, got) {
                (Value::Array(w), Value::Array(g)) => sorted(w) == sorted(g),
                _ => want == got,
            }
        })
}

fn sorted(v: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(Value::to_string).collect();
    s.sort();
    s
}

fn show(rows: &[&Row]) -> String {
    let mut s: Vec<String> = rows
        .iter()
        .take(25)
        .map(|r| Value::Object((*r).clone()).to_string())
        .collect();
    if rows.len() > 25 {
        s.push(format!("… and {} more", rows.len() - 25));
    }
    if s.is_empty() {
        s.push("(no rows)".into());
    }
    s.join("\n  ")
}

/// The first row matching `pattern`; fails (showing the rows) when none does.
#[track_caller]
fn hit(rows: &[Row], pattern: Value) -> &Row {
    rows.iter().find(|r| matches(r, &pattern)).unwrap_or_else(|| {
        panic!(
            "expected a row matching {pattern}, got:\n  {}",
            show(&rows.iter().collect::<Vec<_>>())
        )
    })
}

/// Fails when a row matches `pattern`.
#[track_caller]
fn no_hit(rows: &[Row], pattern: Value) {
    let found: Vec<&Row> = rows.iter().filter(|r| matches(r, &pattern)).collect();
    assert!(
        found.is_empty(),
        "expected no row matching {pattern}, got:\n  {}",
        show(&found)
    );
}

/// A list cell as strings, in the order returned.
fn strings(row: &Row, key: &str) -> Vec<String> {
    row.get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("`{key}` is not a list in {row:?}"))
        .iter()
        .map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn all_of(rows: &[Row], key: &str, value: Value) {
    assert!(!rows.is_empty(), "expected rows, got none");
    for r in rows {
        assert_eq!(r.get(key), Some(&value), "every row has {key} = {value}: {r:?}");
    }
}

/// The `returns` columns of a query's header, from `graphmalw query show`.
fn declared_returns(name: &str) -> Vec<String> {
    let o = support::run(&["query", "show", name]);
    assert!(o.status.success(), "query show {name}: {}", stderr(&o));
    stdout(&o)
        .lines()
        .find_map(|l| l.trim().strip_prefix("// returns:"))
        .unwrap_or_else(|| panic!("{name}: no `// returns:` line"))
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect()
}

#[test]
fn every_query_finds_its_hits_and_not_its_non_hits() {
    let _g = db::serial();
    let conn = db::conn();
    db::wipe(&conn);
    let reports = db::corpus();
    let args = support::args_of(&reports);
    conn.ingest_ok(&db::strs(&args));
    // The campaigns the `campaigns` case reads (and the types it names exist).
    // A minimum weight the pair of the examples reaches whatever the corpus
    // (idf weights grow with it: tests/fixtures alone or with extra fixtures).
    let correlate = conn
        .command(&["correlate", "--min-weight", "6"])
        .output()
        .expect("graphmalw runs");
    assert!(correlate.status.success(), "correlate: {}", stderr(&correlate));

    // EXPLAIN of every query, with its defaults: no error and no notification
    // (on Neo4j 5.26: no deprecated syntax, no cartesian product…).
    let check = conn.command(&["query", "check"]).output().expect("graphmalw runs");
    let report = stdout(&check);
    assert!(
        check.status.success() && report.contains(&format!("{} passed, 0 failed", CASES.len())),
        "query check ({:?}):\n{report}{}",
        check.status.code(),
        stderr(&check)
    );

    let mut ctx = Ctx {
        conn,
        ids: BTreeMap::new(),
        total: 0,
        pafish: reports.iter().any(|r| r.ends_with(PAFISH)),
        seen: RefCell::new(BTreeMap::new()),
    };
    let overview = ctx.run("triage-overview", &[]);
    assert_eq!(overview.len(), reports.len(), "one triage row per ingested report");
    ctx.total = overview.len();
    for r in &overview {
        let (Some(report), Some(id)) = (r["report"].as_str(), r["analysis"].as_str()) else {
            panic!("triage-overview row without report or analysis: {r:?}");
        };
        ctx.ids.insert(report.to_owned(), id.to_owned());
    }

    let mut failed = Vec::new();
    for (name, case) in CASES {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&ctx)));
        if let Err(e) = outcome {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{name}: {msg}"));
        }
    }
    // Each query's rows carry exactly the columns its header declares.
    for (name, _) in CASES {
        let declared: BTreeSet<String> = declared_returns(name).into_iter().collect();
        let seen = ctx.seen.borrow().get(*name).cloned().unwrap_or_default();
        let undeclared: Vec<_> = seen.difference(&declared).collect();
        let never: Vec<_> = declared.difference(&seen).collect();
        if !undeclared.is_empty() || !never.is_empty() {
            failed.push(format!(
                "{name}: returned undeclared columns {undeclared:?}; declared columns never returned (always null): {never:?}"
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} query checks failed:\n\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n\n")
    );
}

/// A report of empty strings where names usually are: a function resolved
/// with an empty name and ordinal 0 (`LdrGetProcedureAddress(kernel32.dll!)`),
/// loader calls without a target, an unnamed process without a path, empty
/// mutex and signature texts. Every query of the pack must still run: no
/// `left(x, size(x) - 1)` of an empty string, no split of a missing part.
fn empty_names_report() -> Value {
    let call = |api: &str, args: Value| json!({"category": "system", "api": api, "status": 1, "return_value": 0, "arguments": args});
    json!({
        "info": {"id": 7, "version": "2.0.7"},
        "target": {"file": {"sha256": "cd".repeat(32), "name": ""}},
        "signatures": [{"name": "", "description": "", "severity": 1}],
        "behavior": {
            "summary": {"mutex": [""]},
            "processes": [{
                "pid": 700, "ppid": 4, "process_name": "", "process_path": "",
                "calls": [
                    call("LdrGetProcedureAddress", json!({"module": "kernel32.dll", "function_name": "", "ordinal": 0})),
                    call("LdrGetProcedureAddress", json!({"module": "kernel32.dll", "function_name": "a", "ordinal": 0})),
                    call("LdrLoadDll", json!({"basename": "", "module_address": "0x10000000"})),
                    call("LdrGetDllHandle", json!({"module_name": "ntdll.dll"})),
                    {"category": "process", "api": "CreateProcessInternalW", "status": 1, "return_value": 0,
                     "arguments": {"process_identifier": 701, "application_name": "", "command_line": ""}},
                    {"category": "registry", "api": "RegSetValueExW", "status": 1, "return_value": 0,
                     "arguments": {"key_handle": "0x0", "regkey": "", "value_name": ""}}
                ]
            }]
        }
    })
}

#[test]
fn empty_strings_in_names_do_not_break_any_query() {
    let _g = db::serial();
    let conn = db::conn();
    db::wipe(&conn);
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("empty-names.json");
    std::fs::write(&report, serde_json::to_vec(&empty_names_report()).expect("json")).expect("write");
    conn.ingest_ok(&[support::path_str(&report), support::path_str(&support::examples())]);
    let graph = support::build_json(&report);
    assert!(
        graph.to_string().contains("LdrGetProcedureAddress(kernel32.dll!)"),
        "the report should hold an empty function name: {graph}"
    );
    let mut failed = Vec::new();
    for (name, _) in CASES {
        let o = conn
            .command(&["query", "run", name, "--format", "json"])
            .output()
            .expect("graphmalw runs");
        if !o.status.success() || stderr(&o).contains("warning:") {
            failed.push(format!("{name}: {}", stderr(&o)));
        }
    }
    assert!(
        failed.is_empty(),
        "queries that failed on empty names:\n{}",
        failed.join("\n")
    );
}

/// A query past its time limit fails once and clearly: exit 1 soon after the
/// limit, one error that names the limit, advice naming the query's own
/// parameters and the setting, no retry. The proxy holds the query back from
/// the server (after the connection check went through), so it is slow on
/// every backend and whatever the database holds.
#[test]
fn a_query_past_its_time_limit_fails_once_with_advice() {
    let c = db::conn();
    let proxy = support::Proxy::start(&c.uri);
    proxy.stall_on(b"// name: self-deletion");
    let via = db::Conn {
        uri: proxy.uri(),
        ..db::conn()
    };
    let mut cmd = via.command(&["query", "run", "self-deletion", "--timeout", "2"]);
    let (o, took) = support::output_within(&mut cmd, Duration::from_secs(60));
    support::assert_no_panic(&o);
    let err = stderr(&o);
    assert_eq!(support::code(&o), 1, "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}:\n{err}"
    );
    assert!(
        err.contains("error: query self-deletion: running the query: did not finish within its time limit of 2 s"),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "reported once:\n{err}");
    assert!(!err.contains("retrying"), "not retried:\n{err}");
    assert!(
        err.contains("narrow it with --param NAME=VALUE (it takes: analysis;"),
        "names the query's parameters:\n{err}"
    );
    assert!(
        err.contains("--timeout SECS (setting query.timeout_secs, now 2 s)"),
        "names the setting:\n{err}"
    );
    assert_eq!(proxy.accepted(), 1, "one connection, never a second attempt");
}

#[test]
fn every_shipped_query_has_a_case_here() {
    let o = support::run(&["query", "list"]);
    assert!(o.status.success(), "query list: {}", stderr(&o));
    let listed: BTreeSet<String> = stdout(&o)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    assert!(listed.len() >= 20, "the pack has at least 20 queries: {listed:?}");
    let cases: BTreeSet<String> = CASES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(cases.len(), CASES.len(), "a query has two cases");
    let untested: Vec<_> = listed.difference(&cases).collect();
    let unknown: Vec<_> = cases.difference(&listed).collect();
    assert!(
        untested.is_empty() && unknown.is_empty(),
        "queries without a case in tests/integration/queries.rs: {untested:?}; cases for no shipped query: {unknown:?}"
    );
}

// ---- One case per query: true hits with exact values, and true non-hits. ----

fn process_tree(c: &Ctx) {
    let rows = c.run("process-tree", &[("analysis", c.id(DROPPER))]);
    all_of(&rows, "report", json!(DROPPER));
    assert_eq!(rows.len(), 2, "the dropper and its child: {rows:?}");
    assert_eq!(rows[0]["pid"], 2412, "tree order: the root first");
    hit(
        &rows,
        json!({"pid": 2412, "ppid": 1396, "depth": 0, "name": "payroll_update.exe",
               "lineage": "payroll_update.exe (2412)", "created_by": []}),
    );
    hit(
        &rows,
        json!({"pid": 2996, "ppid": 2412, "depth": 1, "name": "svchost32.exe", "path": DROPPED_PATH,
               "lineage": "payroll_update.exe (2412) > svchost32.exe (2996)",
               "created_by": ["CreateProcessInternalW by 2412"]}),
    );
    let all = c.run("process-tree", &[]);
    hit(
        &all,
        json!({"report": INJECTOR, "pid": 3104, "depth": 1, "name": "RegAsm.exe",
               "lineage": "invoice_7731.exe (2948) > RegAsm.exe (3104)"}),
    );
    // Started but not followed by the sandbox: named from the creation call's arguments.
    hit(
        &all,
        json!({"report": INJECTOR, "pid": 3376, "ppid": null, "name": "svchost32.exe", "path": DROPPED_PATH,
               "created_by": ["CreateProcessInternalW by 2948", "CreateProcessInternalW by 3104"]}),
    );
    // Only opened (NtOpenProcess), never created: not part of the tree.
    no_hit(&all, json!({"report": INJECTOR, "pid": 1876}));
}

fn remote_injection(c: &Ctx) {
    let rows = c.run("remote-injection", &[]);
    hit(
        &rows,
        json!({"report": INJECTOR, "analysis": c.id(INJECTOR), "source_pid": 2948, "source": "invoice_7731.exe",
               "target_pid": 3104, "target": "RegAsm.exe",
               "apis": ["NtAllocateVirtualMemory", "NtUnmapViewOfSection", "NtWriteVirtualMemory", "WriteProcessMemory"],
               "calls": 6}),
    );
    // NtOpenProcess is not injection; creating a child is not either.
    no_hit(&rows, json!({"report": INJECTOR, "target_pid": 1876}));
    no_hit(&rows, json!({"report": INJECTOR, "target_pid": 3376}));
    no_hit(&rows, json!({"report": DROPPER}));
    let one = c.run("remote-injection", &[("analysis", STEALER)]);
    assert!(one.is_empty(), "the stealer injects nothing: {one:?}");
}

fn process_hollowing(c: &Ctx) {
    let rows = c.run("process-hollowing", &[("analysis", INJECTOR)]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = hit(
        &rows,
        json!({"report": INJECTOR, "parent_pid": 2948, "parent": "invoice_7731.exe", "target_pid": 3104,
               "target": "RegAsm.exe", "target_path": r"C:\Windows\Microsoft.NET\Framework\v4.0.30319\RegAsm.exe",
               "suspended": true}),
    );
    assert_eq!(
        r["steps"],
        json!(["create", "unmap", "allocate", "write"]),
        "steps in order"
    );
    let all = c.run("process-hollowing", &[]);
    // The dropper creates and runs a child but never unmaps or writes it.
    no_hit(&all, json!({"report": DROPPER}));
    no_hit(&all, json!({"report": INJECTOR, "target_pid": 3376}));
}

fn dynamic_api_resolution(c: &Ctx) {
    let rows = c.run("dynamic-api-resolution", &[]);
    hit(
        &rows,
        json!({"report": DROPPER, "pid": 2412, "process": "payroll_update.exe", "module": "kernel32.dll",
               "function": "CreateRemoteThread", "calls": 1}),
    );
    hit(
        &rows,
        json!({"report": INJECTOR, "pid": 2948, "module": "ntdll.dll", "function": "NtUnmapViewOfSection", "calls": 1}),
    );
    // From LdrGetProcedureAddressForCaller, which the spec folds into LdrGetProcedureAddress.
    hit(
        &rows,
        json!({"report": STEALER, "pid": 4020, "module": "crypt32.dll", "function": "CryptUnprotectData"}),
    );
    // Resolved, but not sensitive; and ordinals name no function.
    no_hit(&rows, json!({"report": DROPPER, "function": "Sleep"}));
    assert!(
        rows.iter()
            .all(|r| !r["function"].as_str().unwrap_or("#").starts_with('#')),
        "an ordinal is no function name"
    );
    let sleep = c.run(
        "dynamic-api-resolution",
        &[("analysis", c.id(DROPPER)), ("functions", r#"["sleep"]"#)],
    );
    assert_eq!(sleep.len(), 1, "{sleep:?}");
    hit(
        &sleep,
        json!({"report": DROPPER, "pid": 2996, "process": "svchost32.exe", "function": "Sleep", "calls": 2}),
    );
}

fn anti_debug(c: &Ctx) {
    let rows = c.run("anti-debug", &[]);
    hit(
        &rows,
        json!({"report": DROPPER, "pid": 2412, "process": "payroll_update.exe", "function": "IsDebuggerPresent",
               "how": "resolved"}),
    );
    hit(
        &rows,
        json!({"report": INJECTOR, "pid": 2948, "function": "NtQueryInformationProcess", "how": "resolved"}),
    );
    no_hit(&rows, json!({"report": STEALER}));
    no_hit(&rows, json!({"report": DROPPER, "pid": 2996}));
}

fn anti_vm_probes(c: &Ctx) {
    let rows = c.run("anti-vm-probes", &[]);
    hit(
        &rows,
        json!({"report": DROPPER, "pid": 2996, "process": "svchost32.exe", "kind": "registry",
               "target": r"HKEY_LOCAL_MACHINE\HARDWARE\ACPI\DSDT\VBOX__", "indicator": "vbox", "apis": ["NtOpenKey"]}),
    );
    // The stealer's VMware probe failed (CAPE status false) and rule C2 drops failed calls.
    no_hit(&rows, json!({"report": STEALER}));
    no_hit(&rows, json!({"report": INJECTOR}));
    no_hit(&rows, json!({"report": DROPPER, "pid": 2412}));
    if c.pafish {
        let pafish = PAFISH;
        hit(
            &rows,
            json!({"report": pafish, "kind": "module", "target": "sbiedll.dll", "indicator": "sbiedll"}),
        );
        hit(
            &rows,
            json!({"report": pafish, "kind": "file", "target": r"\??\VBoxMiniRdrDN", "indicator": "vbox"}),
        );
    }
}

fn persistence_registry(c: &Ctx) {
    let rows = c.run("persistence-registry", &[]);
    hit(
        &rows,
        json!({"report": DROPPER, "pid": 2412, "process": "payroll_update.exe", "mechanism": "run-key",
               "key": RUN_KEY, "writes": 1}),
    );
    let stealer = hit(
        &rows,
        json!({"report": STEALER, "pid": 4020, "mechanism": "run-key", "key": RUN_KEY,
               "apis": ["RegCloseKey", "RegCreateKeyExW", "RegSetValueExW"]}),
    );
    let first = stealer["first_write"].as_str().unwrap_or_default();
    assert!(
        first.contains(r#""ValueName":"WindowsHostSvc""#) && first.contains("svchost32.exe"),
        "{first}"
    );
    hit(
        &rows,
        json!({"report": INJECTOR, "pid": 3104, "process": "RegAsm.exe", "mechanism": "service",
               "key": r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\RegSvcHost", "writes": 4}),
    );
    hit(
        &rows,
        json!({"report": INJECTOR, "pid": 3104, "mechanism": "ifeo", "apis": ["NtCreateKey", "NtSetValueKey"],
               "key": r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\MsMpEng.exe"}),
    );
    // Reading Run (the dropper's child), opening it (the injector) or reading
    // Winlogon's credentials (the stealer) is not persistence.
    no_hit(&rows, json!({"report": DROPPER, "pid": 2996}));
    no_hit(&rows, json!({"report": INJECTOR, "mechanism": "run-key"}));
    no_hit(&rows, json!({"report": STEALER, "mechanism": "winlogon"}));
}

fn files_written_then_executed(c: &Ctx) {
    let rows = c.run("files-written-then-executed", &[]);
    hit(
        &rows,
        json!({"report": DROPPER, "writer_pid": 2412, "writer": "payroll_update.exe", "path": DROPPED_PATH,
               "pid": 2996, "process": "svchost32.exe", "how": ["CreateProcessInternalW", "image"]}),
    );
    hit(
        &rows,
        json!({"report": INJECTOR, "writer_pid": 3104, "writer": "RegAsm.exe", "path": DROPPED_PATH,
               "pid": 3376, "process": "svchost32.exe", "how": ["CreateProcessInternalW"]}),
    );
    // The stealer writes the same file but never runs it; whs.dat is data.
    no_hit(&rows, json!({"report": STEALER}));
    no_hit(&rows, json!({"path": r"C:\Users\Louise\AppData\Roaming\whs.dat"}));
}

fn self_deletion(c: &Ctx) {
    let rows = c.run("self-deletion", &[]);
    hit(
        &rows,
        json!({"report": DROPPER, "pid": 2996, "process": "svchost32.exe",
               "path": r"C:\Users\Louise\AppData\Local\Temp\payroll_update.exe",
               "image_of_pid": 2412, "image_of": "payroll_update.exe", "api": "NtSetInformationFile"}),
    );
    // The stealer deletes a temporary copy of the browser cookies, not itself.
    no_hit(&rows, json!({"report": STEALER}));
    no_hit(&rows, json!({"report": INJECTOR}));
}

fn loaded_dlls(c: &Ctx) {
    let rows = c.run("loaded-dlls", &[("analysis", c.id(DROPPER))]);
    all_of(&rows, "report", json!(DROPPER));
    hit(
        &rows,
        json!({"dll": "kernel32.dll", "loaded_by": ["LdrGetDllHandle"], "functions": 5}),
    );
    hit(
        &rows,
        json!({"dll": "ws2_32.dll", "loaded_by": ["LdrLoadDll", "LdrUnloadDll"], "functions": 1}),
    );
    // uxtheme is in the default module ignore list (rule M1); crypt32 is the stealer's.
    no_hit(&rows, json!({"dll": "uxtheme.dll"}));
    no_hit(&rows, json!({"dll": "crypt32.dll"}));
    let stealer = c.run("loaded-dlls", &[("analysis", STEALER)]);
    // The ignore list compares module identities (rule Q3): a full path is ignored too.
    no_hit(&stealer, json!({"dll": "uxtheme.dll"}));
    hit(&stealer, json!({"dll": "advapi32.dll", "loaded_by": ["LdrLoadDll"]}));
    hit(&stealer, json!({"dll": "crypt32.dll", "functions": 1}));
}

fn ordinal_imports(c: &Ctx) {
    let rows = c.run("ordinal-imports", &[]);
    hit(
        &rows,
        json!({"report": DROPPER, "pid": 2412, "process": "payroll_update.exe", "module": "ws2_32.dll", "ordinal": 115, "calls": 1}),
    );
    hit(
        &rows,
        json!({"report": INJECTOR, "pid": 2948, "module": "oleaut32.dll", "ordinal": 6}),
    );
    hit(
        &rows,
        json!({"report": STEALER, "pid": 4020, "module": "ws2_32.dll", "ordinal": 115}),
    );
    // kernel32 functions are all resolved by name.
    no_hit(&rows, json!({"report": DROPPER, "module": "kernel32.dll"}));
}

fn network_contacts(c: &Ctx) {
    let rows = c.run("network-contacts", &[("analysis", c.id(STEALER))]);
    all_of(&rows, "report", json!(STEALER));
    hit(
        &rows,
        json!({"kind": "domain", "indicator": "panel.example.org", "resolves_to": ["192.0.2.81"],
               "resolved_from": [], "seen_in": 1}),
    );
    hit(
        &rows,
        json!({"kind": "ip", "indicator": "203.0.113.47", "resolved_from": ["telemetry-update.example.net"], "seen_in": 2}),
    );
    // The injector's host.
    no_hit(&rows, json!({"indicator": "cdn.example.com"}));
}

/// A max_share that makes an indicator seen in `n` analyses noise, and one
/// seen in `n - 1` not.
fn share_below(c: &Ctx, n: usize) -> String {
    format!("{}", (n as f64 - 0.5) / c.total as f64)
}

fn shared_files(c: &Ctx) {
    let path = DROPPED_PATH.to_lowercase();
    let rows = c.run("shared-files", &[]);
    hit(&rows, json!({"path": path, "analyses": 3, "samples": THE_THREE}));
    // Written by the dropper alone.
    no_hit(&rows, json!({"path": r"c:\users\louise\appdata\roaming\whs.dat"}));
    let four = c.run("shared-files", &[("min_analyses", "4")]);
    no_hit(&four, json!({"path": path}));
    let noise = c.run(
        "shared-files",
        &[("max_share", share_below(c, 3).as_str()), ("min_corpus", "0")],
    );
    no_hit(&noise, json!({"path": path}));
}

fn shared_registry_keys(c: &Ctx) {
    let key = RUN_KEY.to_lowercase();
    let rows = c.run("shared-registry-keys", &[]);
    hit(&rows, json!({"key": key, "analyses": 3, "samples": THE_THREE}));
    // Only the stealer reads Winlogon.
    no_hit(&rows, json!({"key": WINLOGON_KEY.to_lowercase()}));
    let noise = c.run(
        "shared-registry-keys",
        &[("max_share", share_below(c, 3).as_str()), ("min_corpus", "0")],
    );
    no_hit(&noise, json!({"key": key}));
}

fn shared_mutexes(c: &Ctx) {
    let rows = c.run("shared-mutexes", &[]);
    hit(
        &rows,
        json!({"mutex": r"Global\WHS_7d3f0a2c", "analyses": 2, "samples": ["payroll_update.exe", "svchost32.exe"]}),
    );
    // The injector's own mutex.
    no_hit(&rows, json!({"mutex": r"Global\RgSvc_Mtx_51A2"}));
}

fn shared_network(c: &Ctx) {
    let rows = c.run("shared-network", &[]);
    let pair = ["payroll_update.exe", "svchost32.exe"];
    hit(
        &rows,
        json!({"kind": "domain", "indicator": "telemetry-update.example.net", "analyses": 2, "samples": pair}),
    );
    hit(
        &rows,
        json!({"kind": "ip", "indicator": "203.0.113.47", "analyses": 2, "samples": pair}),
    );
    no_hit(&rows, json!({"indicator": "cdn.example.com"}));
    // The sandbox's resolver is in every example, and safelisted: never a link.
    no_hit(&rows, json!({"indicator": "8.8.8.8"}));
    let noise = c.run(
        "shared-network",
        &[("max_share", share_below(c, 2).as_str()), ("min_corpus", "0")],
    );
    no_hit(&noise, json!({"indicator": "telemetry-update.example.net"}));
}

fn indicator_clusters(c: &Ctx) {
    // The campaigns `correlate --min-weight 6` wrote, with what links them.
    let rows = c.run("indicator-clusters", &[]);
    let pair = rows
        .iter()
        .find(|r| {
            let reports = strings(r, "reports");
            reports.contains(&DROPPER.to_owned()) && reports.contains(&STEALER.to_owned())
        })
        .unwrap_or_else(|| panic!("no campaign holds the dropper and the stealer: {rows:?}"));
    let indicators = strings(pair, "indicators");
    for shared in ["domain:telemetry-update.example.net (", "ip:203.0.113.47 ("] {
        assert!(
            indicators.iter().any(|i| i.starts_with(shared)),
            "{shared}: {indicators:?}"
        );
    }
    // The sandbox's resolver is in every example, and safelisted: never listed.
    assert!(
        indicators.iter().all(|i| !i.starts_with("ip:8.8.8.8 ")),
        "{indicators:?}"
    );
    let campaigns = c.run("campaigns", &[]);
    assert_eq!(rows.len(), campaigns.len(), "one row per campaign: {rows:?}");
    let few = c.run("indicator-clusters", &[("max_indicators", "1")]);
    assert!(few.iter().all(|r| strings(r, "indicators").len() <= 1), "{few:?}");
    let large = c.run("indicator-clusters", &[("min_analyses", "1000")]);
    assert!(large.is_empty(), "{large:?}");
}

fn campaigns(c: &Ctx) {
    let rows = c.run("campaigns", &[]);
    // `correlate --min-weight 6` ran after the ingest. The dropper and the
    // stealer share six indicators that only they hold (the injector three
    // with each, which may or may not weigh enough, depending on how many
    // analyses the corpus holds).
    let pair = hit(
        &rows,
        json!({"found_with": "max_share=0.1 max_df=50 min_weight=6 min_shared=3 min_similarity=0.3"}),
    );
    let reports = strings(pair, "reports");
    assert!(
        reports.contains(&DROPPER.to_owned()) && reports.contains(&STEALER.to_owned()),
        "{rows:?}"
    );
    let large = c.run("campaigns", &[("min_analyses", "1000")]);
    assert!(large.is_empty(), "{large:?}");
}

fn api_similarity(c: &Ctx) {
    let rows = c.run("api-similarity", &[]);
    let r = hit(
        &rows,
        json!({"report_a": DROPPER, "sample_a": "payroll_update.exe", "report_b": STEALER, "sample_b": "svchost32.exe",
               "shared": 12, "apis_a": 25, "apis_b": 17}),
    );
    assert_eq!(r["jaccard"].as_f64(), Some(0.4), "12 / (25 + 17 - 12)");
    hit(&rows, json!({"report_a": DROPPER, "report_b": INJECTOR, "shared": 14}));
    // 11 / (33 + 17 - 11) = 0.282: under the default 0.3.
    no_hit(&rows, json!({"report_a": INJECTOR, "report_b": STEALER}));
    let jaccards: Vec<f64> = rows.iter().filter_map(|r| r["jaccard"].as_f64()).collect();
    assert!(
        jaccards.windows(2).all(|w| w[0] >= w[1]),
        "most similar first: {jaccards:?}"
    );
    assert!(jaccards.iter().all(|j| *j >= 0.3 && *j <= 1.0), "{jaccards:?}");
    let low = c.run("api-similarity", &[("min_jaccard", "0.2")]);
    let r = hit(&low, json!({"report_a": INJECTOR, "report_b": STEALER, "shared": 11}));
    assert_eq!(r["jaccard"].as_f64(), Some(0.282));
}

fn nearest_neighbours(c: &Ctx) {
    let rows = c.run("nearest-neighbours", &[("analysis", STEALER)]);
    all_of(&rows, "report", json!(STEALER));
    assert!(!rows.is_empty() && rows.len() <= 3, "k = 3: {rows:?}");
    let first = hit(
        &rows,
        json!({"sample": "svchost32.exe", "rank": 1, "neighbour_report": DROPPER,
               "neighbour_sample": "payroll_update.exe", "shared": 12}),
    );
    assert_eq!(first["jaccard"].as_f64(), Some(0.4));
    hit(&rows, json!({"rank": 2, "neighbour_report": INJECTOR, "shared": 11}));
    no_hit(&rows, json!({"neighbour_report": STEALER}));
    // By sample hash, one neighbour.
    let one = c.run("nearest-neighbours", &[("analysis", STEALER_SHA256), ("k", "1")]);
    assert_eq!(one.len(), 1, "{one:?}");
    hit(&one, json!({"report": STEALER, "rank": 1, "neighbour_report": DROPPER}));
}

fn unique_behaviours(c: &Ctx) {
    let rows = c.run("unique-behaviours", &[("analysis", c.id(STEALER))]);
    all_of(&rows, "report", json!(STEALER));
    hit(&rows, json!({"kind": "domain", "value": "panel.example.org"}));
    hit(&rows, json!({"kind": "registry", "value": WINLOGON_KEY.to_lowercase()}));
    hit(
        &rows,
        json!({"kind": "api", "value": "ldrgetprocedureaddress(crypt32.dll!cryptunprotectdata)"}),
    );
    hit(
        &rows,
        json!({"kind": "file", "value": r"c:\users\louise\appdata\local\google\chrome\user data\default\login data"}),
    );
    // Shared with the dropper (and the injector).
    no_hit(
        &rows,
        json!({"kind": "domain", "value": "telemetry-update.example.net"}),
    );
    no_hit(&rows, json!({"kind": "file", "value": DROPPED_PATH.to_lowercase()}));
    // wininet (Cuckoo) and wininet.dll (CAPE) are one :Dll, loaded in all three examples.
    no_hit(&rows, json!({"kind": "dll", "value": "wininet.dll"}));
    let mutexes = c.run("unique-behaviours", &[("kinds", r#"["mutex"]"#)]);
    all_of(&mutexes, "kind", json!("mutex"));
    hit(&mutexes, json!({"report": INJECTOR, "value": r"Global\RgSvc_Mtx_51A2"}));
    // Taken by the dropper and the stealer: not unique.
    no_hit(&mutexes, json!({"value": r"Global\WHS_7d3f0a2c"}));
}

fn drop_chains(c: &Ctx) {
    let rows = c.run("drop-chains", &[]);
    let r = hit(
        &rows,
        json!({"first_report": DROPPER, "first_sample": "payroll_update.exe", "last_report": STEALER,
               "last_sample": "svchost32.exe", "hops": 1, "dropped": [STEALER_SHA256], "paths": [DROPPED_PATH]}),
    );
    assert_eq!(
        r["chain"],
        json!(["payroll_update.exe", "svchost32.exe"]),
        "chain in order"
    );
    hit(
        &rows,
        json!({"first_report": INJECTOR, "last_report": STEALER, "hops": 1, "dropped": [STEALER_SHA256],
               "chain": ["invoice_7731.exe", "svchost32.exe"]}),
    );
    // The stealer drops a copy of itself: no chain. whs.dat was never analysed.
    no_hit(&rows, json!({"first_report": STEALER}));
    assert!(
        rows.iter()
            .all(|r| !strings(r, "dropped").contains(&WHS_DAT_SHA256.to_owned())),
        "{rows:?}"
    );
    let through = c.run("drop-chains", &[("analysis", INJECTOR)]);
    assert_eq!(through.len(), 1, "{through:?}");
    hit(&through, json!({"first_report": INJECTOR, "last_report": STEALER}));
}

fn triage_overview(c: &Ctx) {
    let rows = c.run("triage-overview", &[("analysis", INJECTOR)]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = hit(
        &rows,
        json!({"report": INJECTOR, "analysis": c.id(INJECTOR), "format": "cape", "sample": "invoice_7731.exe",
               "score": 8.2, "processes": 2, "signatures": 6, "max_severity": 3, "mutexes": 1, "hosts": 3,
               "dropped": 1}),
    );
    assert_eq!(
        r["top_dlls"],
        json!([
            "ntdll.dll",
            "kernel32.dll",
            "advapi32.dll",
            "wininet.dll",
            "oleaut32.dll"
        ]),
        "by functions resolved, then by name"
    );
    assert_eq!(
        strings(r, "top_apis")[..2],
        ["RegSetValueExW".to_owned(), "NtWriteVirtualMemory".to_owned()],
        "by calls: {r:?}"
    );
    let two = c.run("triage-overview", &[("analysis", INJECTOR), ("top", "2")]);
    assert_eq!(strings(&two[0], "top_dlls"), ["ntdll.dll", "kernel32.dll"]);
    let all = c.run("triage-overview", &[]);
    hit(
        &all,
        json!({"report": STEALER, "sample": "svchost32.exe", "processes": 1, "signatures": 6, "hosts": 5, "dropped": 2}),
    );
    // The dropper contacted no fourth host and matched no severity-4 signature.
    no_hit(&all, json!({"report": DROPPER, "hosts": 4}));
    hit(&all, json!({"report": DROPPER, "max_severity": 3, "mutexes": 1}));
    // A report without behaviour (tests/fixtures): listed, with an empty graph.
    hit(
        &all,
        json!({"report": "cape-v2.2-77c961050aa252d6.json.gz", "processes": 0, "nodes": 0, "top_apis": []}),
    );
}

fn signatures(c: &Ctx) {
    let rows = c.run("signatures", &[("analysis", INJECTOR), ("min_severity", "3")]);
    let names: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r["signature"].as_str().map(String::from))
        .collect();
    assert_eq!(
        names,
        set(&["injection_runpe", "persistence_ifeo", "persistence_service"]),
        "{rows:?}"
    );
    hit(
        &rows,
        json!({"report": INJECTOR, "signature": "injection_runpe", "severity": 3, "attack": ["T1055", "T1055.012"],
               "seen_in": 1}),
    );
    let all = c.run("signatures", &[("analysis", INJECTOR)]);
    // This report rates network_http 1; the shared :Signature keeps the dropper's 2.
    hit(
        &all,
        json!({"signature": "network_http", "severity": 1, "attack": ["T1071.001"], "seen_in": 2}),
    );
    let two = c.run("signatures", &[("analysis", INJECTOR), ("min_severity", "2")]);
    no_hit(&two, json!({"signature": "network_http"}));
    hit(
        &two,
        json!({"signature": "dropper", "severity": 2, "attack": ["T1105"]}),
    );
}

fn top_apis(c: &Ctx) {
    let rows = c.run("top-apis", &[("analysis", DROPPER), ("limit", "5")]);
    assert_eq!(rows.len(), 5, "limit: {rows:?}");
    assert!(
        matches(
            &rows[0],
            &json!({"api": "LdrGetProcedureAddress", "category": "system", "calls": 8, "processes": 2, "analyses": 1})
        ),
        "most called first: {rows:?}"
    );
    hit(
        &rows,
        json!({"api": "NtWriteFile", "category": "file", "calls": 3, "processes": 2}),
    );
    let every = c.run("top-apis", &[("analysis", DROPPER), ("limit", "1000")]);
    // The stealer and the injector read files; the dropper never does.
    no_hit(&every, json!({"api": "NtReadFile"}));
    let all = c.run("top-apis", &[("limit", "1000")]);
    let reads = hit(&all, json!({"api": "NtReadFile"}));
    assert!(reads["analyses"].as_u64() >= Some(2), "{reads:?}");
}
