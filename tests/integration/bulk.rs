//! Neo4j's limits and the bulk path, against the real server.
//!
//! - `long_values_fit_every_index`: values of 10 KB, 100 KB and 10 MB in every
//!   key and indexed property ingest without failing a batch, and every index
//!   stays ONLINE (Neo4j refuses an index entry over about 8 KB).
//! - `neo4j_admin_import_equals_ingest_and_ingest_then_skips`: `export
//!   neo4j-csv` loaded by `neo4j-admin database import full` (the command named
//!   by `GRAPHMALW_TEST_DB_IMPORT`, `scripts/neo4j import` in `scripts/test`)
//!   gives the graph `ingest` writes for the same reports, long values
//!   included, with every index ONLINE; `ingest` of the same reports then
//!   skips them all. ArcadeDB has no offline importer: `scripts/test` sets the
//!   variable empty there and the test says it was skipped; in CI the
//!   variable must be set (empty or not), so it cannot be forgotten.

use crate::db::{self, Conn};
use crate::support::{self, path_str, stderr};
use serde_json::{json, Value};
use std::path::Path;

/// Every key and indexed property of the model (docs/neo4j-model.md).
const INDEXED: [(&str, &str); 15] = [
    ("Analysis", "id"),
    ("Sample", "sha256"),
    ("Process", "uid"),
    ("Process", "name"),
    ("Api", "uid"),
    ("Api", "name"),
    ("Api", "api"),
    ("FileHandle", "path"),
    ("KeyHandle", "path"),
    ("File", "path"),
    ("RegistryKey", "path"),
    ("Dll", "name"),
    ("Mutex", "name"),
    ("Domain", "name"),
    ("Signature", "name"),
];

/// The lengths the index key limit is tested with.
const LENGTHS: [usize; 3] = [10_000, 100_000, 10_000_000];

/// `len` bytes of text mixing one-, two- and three-byte characters, so a cut
/// can fall inside a character; `tag` keeps values of different reports apart.
fn long(tag: &str, len: usize) -> String {
    let unit = "aé€";
    let mut s = format!("{tag}-");
    s.push_str(&unit.repeat((len - s.len()) / unit.len()));
    s
}

/// A report whose every key and indexed property is `len` bytes long: api
/// name, process name, file and registry paths, module, mutex, domain, IP
/// address and signature name.
fn long_values_report(len: usize) -> Value {
    let v = |what: &str| long(&format!("{what}{len}"), len);
    json!({
        "info": {"id": 1, "version": "2.0.7"},
        "target": {"file": {"sha256": format!("{:064x}", len), "name": v("sample")}},
        "signatures": [{"name": v("signature"), "description": v("description"), "severity": 2}],
        "network": {"hosts": [v("host")], "domains": [{"domain": v("domain"), "ip": "192.0.2.1"}]},
        "behavior": {
            "summary": {"mutex": [v("mutex")]},
            "processes": [{
                "pid": 100, "ppid": 4, "process_name": v("process"), "process_path": v("path"),
                "calls": [
                    {"category": "file", "api": v("NtCreateFile"), "status": 1, "return_value": 0,
                     "arguments": {"file_handle": "0x10", "filepath": v("file")}},
                    {"category": "registry", "api": "RegOpenKeyExW", "status": 1, "return_value": 0,
                     "arguments": {"key_handle": "0x20", "regkey": v("key")}},
                    {"category": "system", "api": "LdrLoadDll", "status": 1, "return_value": 0,
                     "arguments": {"basename": v("module"), "module_address": "0x10000000"}}
                ]
            }]
        }
    })
}

/// The long-value reports, written into `dir`.
fn write_long_value_reports(dir: &Path) {
    for len in LENGTHS {
        let text = serde_json::to_vec(&long_values_report(len)).expect("json");
        std::fs::write(dir.join(format!("long-{len}.json")), text).expect("write report");
    }
}

/// Every index of the database is ONLINE (none POPULATING or FAILED).
/// ArcadeDB answers `SHOW INDEXES` too.
fn assert_indexes_online(c: &Conn) {
    let rows = db::query(
        &c.client(),
        &c.database,
        "SHOW INDEXES YIELD name, state WHERE state <> 'ONLINE' RETURN name, state",
    );
    assert!(rows.is_empty(), "indexes not ONLINE: {rows:?}");
}

#[test]
fn long_values_fit_every_index() {
    let _g = db::serial();
    let c = db::conn();
    db::wipe(&c);
    let dir = tempfile::tempdir().expect("tempdir");
    write_long_value_reports(dir.path());
    let log = c.ingest_ok(&[path_str(dir.path())]);
    assert!(log.contains("long values truncated"), "{log}");
    // Everything arrived: one analysis, process, module… per report.
    let snap = db::snapshot(&c);
    for (label, _) in INDEXED {
        assert!(
            snap.labels.get(label).copied().unwrap_or(0) >= LENGTHS.len() as i64,
            "{label}: {:?}",
            snap.labels
        );
    }
    for (label, prop) in INDEXED {
        let over = db::query(
            &c.client(),
            &c.database,
            &format!("MATCH (n:{label}) WHERE size(n.{prop}) > 4000 RETURN count(n) AS n"),
        );
        assert_eq!(over[0]["n"], json!(0), "{label}.{prop} over 4000 characters");
    }
    assert_indexes_online(&c);
}

#[test]
fn neo4j_admin_import_equals_ingest_and_ingest_then_skips() {
    let _g = db::serial();
    let c = db::conn();
    // Set and empty: the backend has no offline importer (ArcadeDB); unset
    // is an oversight, which CI does not let pass.
    let import = std::env::var("GRAPHMALW_TEST_DB_IMPORT").unwrap_or_else(|_| {
        assert!(
            !support::in_ci(),
            "GRAPHMALW_TEST_DB_IMPORT must name the import command (scripts/neo4j import), \
             or be empty for a backend without one"
        );
        String::new()
    });
    if import.is_empty() {
        eprintln!("SKIPPED: no offline bulk import for this backend (GRAPHMALW_TEST_DB_IMPORT empty or unset)");
        return;
    }
    let long = tempfile::tempdir().expect("tempdir");
    write_long_value_reports(long.path());
    let mut reports = db::corpus_args();
    reports.push(long.path().display().to_string());
    let reports = db::strs(&reports);

    db::wipe(&c);
    c.ingest_ok(&reports);
    let ingested = db::snapshot(&c);

    let out = tempfile::tempdir().expect("tempdir");
    let csv = out.path().join("csv");
    let mut args = vec!["export", "neo4j-csv"];
    args.extend(reports.iter().copied());
    args.extend(["--out", path_str(&csv), "--database", &c.database]);
    let o = support::run(&args);
    assert!(o.status.success(), "export failed: {}", stderr(&o));

    support::shell(&format!("{import} '{}'", csv.display()));
    assert_indexes_online(&c);
    db::assert_same(&db::snapshot(&c), &ingested, "neo4j-admin import against ingest");

    // The import marked every analysis complete: ingest skips them all.
    let log = c.ingest_ok(&reports);
    let analyses = ingested.labels["Analysis"];
    assert!(
        log.contains("ingested 0 analyses") && log.contains(&format!("skipped {analyses} ")),
        "{log}"
    );
    db::assert_same(&db::snapshot(&c), &ingested, "ingest after the import");
}
