//! Real sandbox reports against the graphs they must give:
//! `reports/<name>.json.gz` → `expected/<name>.json`, or no graph at all when
//! there is no expected file. Every test runs over `tests/fixtures` (in the
//! repository, always) and then over the extra fixture folder when there is
//! one (`GRAPHMALW_FIXTURES`, else `../shared/fixtures`; see
//! `support::extra_fixtures`).
//!
//! The comparison follows spec section 5: the analysis header, the nodes
//! (ids, types, properties) and the edges (identity, count, args as maps),
//! in the same order, since the builder reproduces the insertion order
//! exactly. The report's `iocs` are not part of the expected files.

use crate::support;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `reports/<name>.json.gz` → `<name>`.
fn name_of(report: &Path) -> String {
    let file = report.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
    file.strip_suffix(".json.gz")
        .or_else(|| file.strip_suffix(".json"))
        .unwrap_or(file)
        .to_owned()
}

fn reports(dir: &Path) -> Vec<PathBuf> {
    support::files_ending(&dir.join("reports"), ".json.gz")
}

fn expected_path(dir: &Path, report: &Path) -> PathBuf {
    dir.join("expected").join(format!("{}.json", name_of(report)))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn array<'a>(graph: &'a Value, key: &str) -> &'a [Value] {
    graph[key].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn edge_identity(e: &Value) -> (String, String, String) {
    let s = |k: &str| e[k].as_str().unwrap_or("<missing>").to_owned();
    (s("type"), s("from"), s("to"))
}

fn args_map(e: &Value) -> Option<BTreeMap<String, Value>> {
    e["args"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Every way `got` differs from `expected`, as readable lines (empty: equal).
fn differences(expected: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if expected["analysis"] != got["analysis"] {
        out.push(format!(
            "analysis header differs:\n  expected {}\n  got      {}",
            expected["analysis"], got["analysis"]
        ));
    }
    for key in ["nodes", "edges"] {
        if !got[key].is_array() {
            out.push(format!("`{key}` is not an array in the output"));
        }
    }

    // Nodes: same ids in the same order, then the same objects.
    let (en, gn) = (array(expected, "nodes"), array(got, "nodes"));
    let ids = |v: &[Value]| -> Vec<String> { v.iter().map(|n| n["id"].to_string()).collect() };
    let (eids, gids) = (ids(en), ids(gn));
    if eids != gids {
        let (es, gs): (BTreeSet<_>, BTreeSet<_>) = (eids.iter().collect(), gids.iter().collect());
        let missing: Vec<_> = es.difference(&gs).take(5).collect();
        let extra: Vec<_> = gs.difference(&es).take(5).collect();
        let first = eids.iter().zip(&gids).position(|(a, b)| a != b);
        out.push(format!(
            "nodes differ: {} expected, {} built; missing {missing:?}, unexpected {extra:?}; \
             first position that differs: {first:?}",
            eids.len(),
            gids.len()
        ));
        if gids.len() != gs.len() {
            out.push("the output repeats a node id".into());
        }
    } else {
        for (e, g) in en.iter().zip(gn) {
            if e != g {
                out.push(format!("node {} differs:\n  expected {e}\n  got      {g}", e["id"]));
            }
        }
    }

    // Edges: same identities in the same order, then count and args.
    let (ee, ge) = (array(expected, "edges"), array(got, "edges"));
    let eks: Vec<_> = ee.iter().map(edge_identity).collect();
    let gks: Vec<_> = ge.iter().map(edge_identity).collect();
    let unique: BTreeSet<_> = gks.iter().collect();
    if unique.len() != gks.len() {
        out.push("an edge identity (type, from, to) appears more than once".into());
    }
    if eks != gks {
        let es: BTreeSet<_> = eks.iter().collect();
        let missing: Vec<_> = es.difference(&unique).take(5).collect();
        let extra: Vec<_> = unique.difference(&es).take(5).collect();
        let first = eks.iter().zip(&gks).position(|(a, b)| a != b);
        out.push(format!(
            "edges differ: {} expected, {} built; missing {missing:?}, unexpected {extra:?}; \
             first position that differs: {first:?}",
            eks.len(),
            gks.len()
        ));
    } else {
        for (e, g) in ee.iter().zip(ge) {
            let id = edge_identity(e);
            if e["count"] != g["count"] {
                out.push(format!(
                    "edge {id:?}: count {} expected, {} built",
                    e["count"], g["count"]
                ));
            }
            match (args_map(e), args_map(g)) {
                (Some(ea), Some(ga)) if ea == ga => {}
                _ => out.push(format!(
                    "edge {id:?}: args differ:\n  expected {}\n  got      {}",
                    e["args"], g["args"]
                )),
            }
            let keys = |v: &Value| -> BTreeSet<String> {
                v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
            };
            if keys(e) != keys(g) {
                out.push(format!(
                    "edge {id:?}: fields {:?} expected, {:?} built",
                    keys(e),
                    keys(g)
                ));
            }
        }
    }
    out
}

#[test]
fn fixture_folder_pairs_every_expected_graph_with_a_report() {
    for dir in support::fixture_dirs() {
        fixture_folder_pairs_every_expected_graph_with_a_report_in(&dir);
    }
}

fn fixture_folder_pairs_every_expected_graph_with_a_report_in(dir: &Path) {
    let reports = reports(dir);
    assert!(!reports.is_empty(), "no reports in {}", dir.join("reports").display());
    let names: BTreeSet<String> = reports.iter().map(|r| name_of(r)).collect();
    let expected = support::files_ending(&dir.join("expected"), ".json");
    assert!(!expected.is_empty(), "no expected graphs in {}", dir.display());
    for e in &expected {
        let name = name_of(e);
        assert!(
            names.contains(&name),
            "{} has no report reports/{name}.json.gz, so it is never checked",
            e.display()
        );
    }
}

#[test]
fn every_fixture_builds_exactly_its_expected_graph() {
    // Every folder is checked before failing, so one report shows every
    // difference there is.
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in support::fixture_dirs() {
        let mut here = 0;
        for report in reports(&dir) {
            let expected = expected_path(&dir, &report);
            if !expected.exists() {
                continue;
            }
            let got = support::build_json_isolated(&report);
            let diffs = differences(&read_json(&expected), &got);
            if !diffs.is_empty() {
                let shown: Vec<_> = diffs.iter().take(8).cloned().collect();
                failures.push(format!(
                    "{} ({} differences):\n{}",
                    report.display(),
                    diffs.len(),
                    shown.join("\n")
                ));
            }
            here += 1;
        }
        assert!(here > 0, "no fixture in {} has an expected graph", dir.display());
        checked += here;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn fixtures_without_an_expected_graph_have_no_behaviour() {
    for dir in support::fixture_dirs() {
        fixtures_without_an_expected_graph_have_no_behaviour_in(&dir);
    }
}

fn fixtures_without_an_expected_graph_have_no_behaviour_in(dir: &Path) {
    for report in reports(dir) {
        if expected_path(dir, &report).exists() {
            continue;
        }
        let o = support::run_isolated(&["build", "--format", "json", support::path_str(&report)]);
        let err = support::stderr(&o);
        assert_eq!(support::code(&o), 0, "{}: {err}", report.display());
        assert!(
            o.stdout.is_empty(),
            "{}: printed a graph: {}",
            report.display(),
            support::stdout(&o)
        );
        assert!(
            err.contains("no behaviour"),
            "{}: stderr does not say so: {err}",
            report.display()
        );
        assert!(!err.contains("error"), "{}: {err}", report.display());
    }
}

#[test]
fn building_a_fixture_twice_gives_identical_bytes() {
    for dir in support::fixture_dirs() {
        building_a_fixture_twice_gives_identical_bytes_in(&dir);
    }
}

fn building_a_fixture_twice_gives_identical_bytes_in(dir: &Path) {
    let mut checked = 0;
    for report in reports(dir) {
        if !expected_path(dir, &report).exists() {
            continue;
        }
        let args = ["build", "--format", "json", support::path_str(&report)];
        let first = support::run_isolated(&args);
        let second = support::run_isolated(&args);
        assert!(
            first.status.success() && second.status.success(),
            "{}",
            report.display()
        );
        assert!(!first.stdout.is_empty(), "{}: empty output", report.display());
        assert!(
            first.stdout == second.stdout,
            "{}: two builds differ ({} and {} bytes)",
            report.display(),
            first.stdout.len(),
            second.stdout.len()
        );
        checked += 1;
    }
    assert!(checked > 0, "nothing was built in {}", dir.display());
}

#[test]
fn building_the_fixture_folder_writes_one_graph_per_report() {
    for dir in support::fixture_dirs() {
        building_the_fixture_folder_writes_one_graph_per_report_in(&dir);
    }
}

fn building_the_fixture_folder_writes_one_graph_per_report_in(dir: &Path) {
    let out = tempfile::tempdir().expect("temporary directory");
    let reports = reports(dir);
    let o = support::run_isolated(&[
        "build",
        support::path_str(&dir.join("reports")),
        "--out",
        support::path_str(out.path()),
    ]);
    let err = support::stderr(&o);
    assert_eq!(support::code(&o), 0, "{err}");
    assert!(o.stdout.is_empty(), "stdout: {}", support::stdout(&o));

    let with_graph: Vec<&PathBuf> = reports.iter().filter(|r| expected_path(dir, r).exists()).collect();
    let summary = format!(
        "built {}, no behaviour {}, empty 0, failed 0",
        with_graph.len(),
        reports.len() - with_graph.len()
    );
    assert!(err.contains(&summary), "summary should say `{summary}`: {err}");

    let files: Vec<PathBuf> = with_graph
        .iter()
        .map(|r| PathBuf::from(format!("{}.graph.json", name_of(r))))
        .collect();
    assert_eq!(support::tree(out.path()), files, "files written to --out");
    for report in with_graph {
        let file = out.path().join(format!("{}.graph.json", name_of(report)));
        let single = support::build_json_isolated(report);
        assert!(
            read_json(&file) == single,
            "{} differs from `build {}`",
            file.display(),
            report.display()
        );
    }

    // One worker thread writes the same bytes as many.
    let serial = tempfile::tempdir().expect("temporary directory");
    let o = support::run_isolated(&[
        "build",
        "-j",
        "1",
        support::path_str(&dir.join("reports")),
        "--out",
        support::path_str(serial.path()),
    ]);
    assert_eq!(support::code(&o), 0, "{}", support::stderr(&o));
    assert_eq!(support::tree(serial.path()), files);
    for f in &files {
        let (a, b) = (
            std::fs::read(out.path().join(f)).unwrap(),
            std::fs::read(serial.path().join(f)).unwrap(),
        );
        assert!(a == b, "{}: -j 1 and the default give different bytes", f.display());
    }
}

/// The comparison itself: every kind of difference is caught, and key order
/// inside `args` is not one.
#[test]
fn fixture_comparison_catches_every_kind_of_difference() {
    let base = json!({
        "analysis": {"id": "ab", "report": "r.json.gz", "format": "cuckoo",
                     "sample": {"sha256": null, "name": null, "size": null, "type": null}},
        "nodes": [
            {"id": "proc:1", "type": "proc", "key": "1", "pid": 1, "ppid": 0, "name": "a", "path": "p"},
            {"id": "api:ntopenkey", "type": "api", "key": "ntopenkey", "name": "NtOpenKey",
             "api": "NtOpenKey", "category": "registry"},
            {"id": "key_handle:1:0x0000001c|", "type": "key_handle", "key": "1:0x0000001c|",
             "address": "0x0000001c", "path": null, "pid": 1}
        ],
        "edges": [
            {"type": "api-key_handle", "from": "api:ntopenkey", "to": "key_handle:1:0x0000001c|",
             "count": 2, "args": {"regkey": "x", "access": 1}},
            {"type": "proc-api", "from": "proc:1", "to": "api:ntopenkey", "count": 1, "args": {}}
        ]
    });
    let mut got = base.clone();
    got["iocs"] = json!({"mutexes": []});
    assert_eq!(differences(&base, &got), Vec::<String>::new(), "iocs are not compared");

    let mut reordered = base.clone();
    reordered["edges"][0]["args"] = serde_json::from_str(r#"{"access": 1, "regkey": "x"}"#).unwrap();
    assert_eq!(differences(&base, &reordered), Vec::<String>::new(), "args key order");

    type Mutation = (&'static str, fn(&mut Value));
    let mutations: &[Mutation] = &[
        ("analysis id", |g| g["analysis"]["id"] = json!("cd")),
        ("analysis sample", |g| g["analysis"]["sample"]["size"] = json!(3)),
        ("node order", |g| g["nodes"].as_array_mut().unwrap().swap(1, 2)),
        ("missing node", |g| {
            g["nodes"].as_array_mut().unwrap().pop();
        }),
        ("node type", |g| g["nodes"][2]["type"] = json!("file_handle")),
        ("node property", |g| g["nodes"][0]["ppid"] = json!(5)),
        ("extra node property", |g| g["nodes"][1]["x"] = json!(1)),
        ("edge order", |g| g["edges"].as_array_mut().unwrap().swap(0, 1)),
        ("edge type", |g| g["edges"][0]["type"] = json!("key_handle-api")),
        ("missing edge", |g| {
            g["edges"].as_array_mut().unwrap().pop();
        }),
        ("duplicate edge", |g| {
            let e = g["edges"][1].clone();
            g["edges"].as_array_mut().unwrap().push(e);
        }),
        ("edge count", |g| g["edges"][0]["count"] = json!(1)),
        ("edge arg value", |g| g["edges"][0]["args"]["access"] = json!(2)),
        ("edge extra arg", |g| g["edges"][1]["args"]["x"] = json!(null)),
        ("edge missing args", |g| {
            g["edges"][1].as_object_mut().unwrap().remove("args");
        }),
        ("edge extra field", |g| g["edges"][1]["weight"] = json!(1)),
        ("no edges array", |g| {
            g.as_object_mut().unwrap().remove("edges");
        }),
    ];
    for (what, mutate) in mutations {
        let mut got = base.clone();
        mutate(&mut got);
        assert!(
            !differences(&base, &got).is_empty(),
            "a difference in {what} went unnoticed"
        );
    }
}
