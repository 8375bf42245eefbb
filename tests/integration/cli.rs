//! What a user of the command line relies on: exit codes (0 ok, 1 some input
//! failed, 2 usage), one named error per broken report while the others are
//! still built, the output formats, the graph options, and the settings
//! layers (file < environment < command line) with the password hidden.
//!
//! Reports are small and written inline into temporary directories; every
//! command runs in its own empty working directory (see `support::bin_in`).

use crate::support::{self, code, path_str, stderr, stdout};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

/// Cuckoo 2.x: a registry open, a file create, two loader calls (one of a
/// module ignored by default) and one process target.
const CUCKOO: &str = r#"{
  "info": {"id": 1, "version": "2.0.7"},
  "target": {"file": {"name": "a.exe", "sha256": "ab", "size": 10, "type": "PE32"}},
  "behavior": {"processes": [{
    "pid": 100, "ppid": 4, "process_name": "a.exe", "process_path": "C:\\a.exe",
    "calls": [
      {"category": "registry", "api": "RegOpenKeyExW", "status": 1, "return_value": 0, "time": 1, "tid": 1,
       "arguments": {"key_handle": "0x0000001c", "regkey": "HKEY_LOCAL_MACHINE\\Software\\X"}},
      {"category": "file", "api": "NtCreateFile", "status": 1, "return_value": 0, "time": 2, "tid": 1,
       "arguments": {"file_handle": "0x00000020", "filepath": "C:\\b.txt"}},
      {"category": "system", "api": "LdrLoadDll", "status": 1, "return_value": 0, "time": 3, "tid": 1,
       "arguments": {"basename": "kernel32", "module_address": "0x7c800000", "flags": 0}},
      {"category": "system", "api": "LdrLoadDll", "status": 1, "return_value": 0, "time": 4, "tid": 1,
       "arguments": {"basename": "uxtheme", "module_address": "0x7c900000", "flags": 0}},
      {"category": "process", "api": "NtOpenProcess", "status": 1, "return_value": 0, "time": 5, "tid": 1,
       "arguments": {"process_identifier": 300, "process_handle": "0x00000030"}}
    ]}]}
}"#;

/// CAPEv2: list arguments, CAPE names.
const CAPE: &str = r#"{
  "info": {"id": 7, "version": "2.4-CAPE"},
  "target": {"file": {"name": "b.exe", "sha256": "cd", "size": 20, "type": "PE32+"}},
  "behavior": {"processes": [{
    "process_id": 200, "parent_id": 100, "process_name": "b.exe", "module_path": "C:\\b.exe",
    "calls": [
      {"timestamp": "2024-01-01 00:00:00,001", "thread_id": "1", "category": "registry", "api": "RegOpenKeyExA",
       "status": true, "return": "0x00000000", "id": 1,
       "arguments": [{"name": "Registry", "value": "0x80000002"}, {"name": "SubKey", "value": "Software\\Y"},
                     {"name": "Handle", "value": "0x000000a0"}, {"name": "FullName", "value": "HKEY_LOCAL_MACHINE\\Software\\Y"}]},
      {"timestamp": "2024-01-01 00:00:00,002", "thread_id": "1", "category": "filesystem", "api": "NtCreateFile",
       "status": true, "return": "0x00000000", "id": 2,
       "arguments": [{"name": "FileHandle", "value": "0x000000b0"}, {"name": "FileName", "value": "C:\\c.txt"}]}
    ]}]}
}"#;

/// A report the sandbox wrote without behaviour (e.g. the sample did not run).
const NO_BEHAVIOUR: &str = r#"{"info": {"id": 3}, "target": {"file": {"name": "c.exe"}}}"#;

/// Processes whose calls all fail rule C1: an empty graph.
const NO_COUNTING_CALLS: &str = r#"{"behavior": {"processes": [{"pid": 5, "ppid": 1,
  "process_name": "d.exe", "calls": [{"category": "network", "api": "connect", "arguments": {}}]}]}}"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

fn tempdir() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Write `bytes` to `dir/name` (creating folders) and return the path.
fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create folder");
    }
    std::fs::write(&path, bytes).expect("write file");
    path
}

/// Run graphmalw in `cwd` with extra environment variables.
fn run_in(cwd: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    support::bin_in(cwd)
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .expect("graphmalw runs")
}

fn run(args: &[&str]) -> Output {
    support::run_isolated(args)
}

fn json_out(o: &Output) -> Value {
    assert_eq!(code(o), 0, "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}

fn nodes_of_type<'a>(g: &'a Value, ty: &str) -> Vec<&'a Value> {
    g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["type"] == ty)
        .collect()
}

fn edges_of_type<'a>(g: &'a Value, ty: &str) -> Vec<&'a Value> {
    g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["type"] == ty)
        .collect()
}

fn node_ids(g: &Value) -> Vec<&str> {
    g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("node id"))
        .collect()
}

/// The `error: ` lines of stderr.
fn error_lines(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect()
}

/// Does `s` end with ` line <n> column <m>` (serde_json's position)?
fn has_line_column(s: &str) -> bool {
    let Some((_, rest)) = s.rsplit_once(" line ") else {
        return false;
    };
    let mut parts = rest.split(" column ");
    let (Some(line), Some(col), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    line.parse::<u64>().is_ok_and(|l| l >= 1) && col.parse::<u64>().is_ok()
}

/// A folder with two good reports (one gzip), one without behaviour, and
/// `broken` under `name`, built with `--out`: the good ones are built, the
/// broken one is one named error line, the exit code is 1.
/// Returns that error line.
fn broken_among_good(name: &str, broken: &[u8]) -> String {
    let tmp = tempdir();
    let input = tmp.path().join("in");
    write(&input, "good-cuckoo.json", CUCKOO);
    write(&input, "sub/good-cape.json.gz", gzip(CAPE.as_bytes()));
    write(&input, "no-behaviour.json", NO_BEHAVIOUR);
    write(&input, "notes.txt", "not a report");
    let broken_path = write(&input, name, broken);
    let out = tmp.path().join("out");
    let o = run(&["build", path_str(&input), "--out", path_str(&out)]);
    let err = stderr(&o);

    assert_eq!(code(&o), 1, "one input failed, so exit 1: {err}");
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(&o));
    let errors = error_lines(&o);
    assert_eq!(errors.len(), 1, "exactly one error line: {err}");
    let prefix = format!("error: {}: ", broken_path.display());
    assert!(
        errors[0].starts_with(&prefix),
        "the error names the file as `{prefix}`: {}",
        errors[0]
    );
    assert!(
        errors[0].len() > prefix.len() + 5,
        "and says what is wrong: {}",
        errors[0]
    );
    assert!(
        err.contains("built 2, no behaviour 1, empty 0, failed 1"),
        "summary: {err}"
    );
    assert_eq!(
        support::tree(&out),
        [
            PathBuf::from("good-cuckoo.graph.json"),
            PathBuf::from("sub/good-cape.graph.json")
        ],
        "one output per good report, sub-folders kept"
    );
    // The files are the graphs a single build prints.
    for (file, report) in [
        ("good-cuckoo.graph.json", "good-cuckoo.json"),
        ("sub/good-cape.graph.json", "sub/good-cape.json.gz"),
    ] {
        let written: Value =
            serde_json::from_slice(&std::fs::read(out.join(file)).expect("output file")).expect("JSON output file");
        let single = support::build_json_isolated(&input.join(report));
        assert_eq!(written, single, "{file}");
    }
    errors[0][prefix.len()..].to_owned()
}

fn half(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len() / 2]
}

#[test]
fn truncated_json_fails_that_file_only() {
    let msg = broken_among_good("truncated.json", half(CUCKOO));
    assert!(msg.contains("EOF while parsing"), "{msg}");
    assert!(msg.starts_with("at behavior.processes[0]"), "JSON path: {msg}");
    assert!(has_line_column(&msg), "line and column: {msg}");
}

#[test]
fn wrong_type_fails_that_file_only_and_names_the_json_path() {
    let msg = broken_among_good(
        "wrong-type.json",
        br#"{"behavior": {"processes": [{"pid": {}, "process_name": "x", "calls": []}]}}"#,
    );
    assert!(msg.starts_with("at behavior.processes[0]"), "JSON path: {msg}");
    assert!(msg.contains("pid"), "names the field: {msg}");
    assert!(msg.contains("object"), "says what it found: {msg}");
    assert!(has_line_column(&msg), "line and column: {msg}");
}

#[test]
fn wrong_type_of_a_string_field_names_its_full_json_path() {
    let msg = broken_among_good(
        "wrong-type.json",
        br#"{"behavior": {"processes": [{"pid": 5,
            "process_name": 7, "calls": []}]}}"#,
    );
    assert!(msg.starts_with("at behavior.processes[0].process_name: "), "{msg}");
    assert!(msg.ends_with("line 2 column 29"), "{msg}");
}

#[test]
fn invalid_utf8_fails_that_file_only() {
    let msg = broken_among_good(
        "latin1.json",
        b"{\"behavior\": {\"processes\": [{\"pid\": 5, \"process_name\": \"caf\xe9.exe\"}]}}",
    );
    assert!(msg.starts_with("at behavior.processes[0].process_name: "), "{msg}");
    assert!(msg.contains("unicode") || msg.contains("UTF-8"), "{msg}");
    assert!(has_line_column(&msg), "line and column: {msg}");
}

#[test]
fn empty_file_fails_that_file_only() {
    let msg = broken_among_good("empty.json", b"");
    assert!(msg.contains("EOF while parsing"), "{msg}");
    assert!(has_line_column(&msg), "line and column: {msg}");
}

#[test]
fn json_gz_that_is_not_gzip_fails_that_file_only() {
    broken_among_good("not-gzip.json.gz", b"PK\x03\x04 this is a zip, not gzip");
}

#[test]
fn truncated_gzip_fails_that_file_only() {
    let gz = gzip(CUCKOO.as_bytes());
    let msg = broken_among_good("truncated.json.gz", &gz[..gz.len() / 2]);
    assert!(msg.contains("gzip"), "{msg}");
}

#[test]
fn every_broken_file_is_reported_and_counted() {
    let tmp = tempdir();
    let input = tmp.path().join("in");
    write(&input, "good.json", CUCKOO);
    let broken = [
        write(&input, "a-truncated.json", half(CUCKOO)),
        write(
            &input,
            "b-wrong-type.json",
            br#"{"behavior": {"processes": [{"pid": {}}]}}"#,
        ),
        write(
            &input,
            "c-latin1.json",
            b"{\"behavior\": {\"processes\": [{\"pid\": 1, \"process_name\": \"\xe9\"}]}}",
        ),
        write(&input, "d-empty.json", b""),
        write(&input, "e-not-gzip.json.gz", b"hello"),
    ];
    let out = tmp.path().join("out");
    let o = run(&["build", "-j", "3", path_str(&input), "--out", path_str(&out)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let mut errors = error_lines(&o);
    errors.sort();
    assert_eq!(errors.len(), broken.len(), "{}", stderr(&o));
    for (line, path) in errors.iter().zip(&broken) {
        assert!(line.starts_with(&format!("error: {}: ", path.display())), "{line}");
    }
    assert!(
        stderr(&o).contains("built 1, no behaviour 0, empty 0, failed 5"),
        "{}",
        stderr(&o)
    );
    assert_eq!(support::tree(&out), [PathBuf::from("good.graph.json")]);
}

#[test]
fn a_single_broken_file_exits_1_with_its_error() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", br#"{"behavior": {"processes": [{"pid": {}}]}}"#);
    let o = run(&["build", path_str(&path)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(&o));
    let errors = error_lines(&o);
    assert_eq!(errors.len(), 1, "{}", stderr(&o));
    assert!(
        errors[0].starts_with(&format!("error: {}: at behavior.processes[0]", path.display())),
        "{}",
        errors[0]
    );
    assert!(has_line_column(&errors[0]), "{}", errors[0]);
}

/// Regression: a JSON type error inside a process must name the field in the
/// path (`behavior.processes[0].pid`), as it does for `process_name`.
#[test]

fn wrong_type_of_pid_names_the_pid_in_the_json_path() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", br#"{"behavior": {"processes": [{"pid": {}}]}}"#);
    let o = run(&["build", path_str(&path)]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("at behavior.processes[0].pid: "), "{}", stderr(&o));
}

/// Regression: a truncated report's JSON path must not end in `?`.
#[test]

fn truncated_json_path_has_no_placeholder() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", br#"{"behavior":{"processes":[{"pid":1,"#);
    let o = run(&["build", path_str(&path)]);
    assert_eq!(code(&o), 1);
    assert!(!stderr(&o).contains(".?"), "{}", stderr(&o));
}

/// Regression: one missing file is a failed input (exit 1, named), not a
/// usage error about --out.
#[test]

fn a_missing_report_is_a_failed_input() {
    let tmp = tempdir();
    let path = tmp.path().join("missing.json");
    let o = run(&["build", path_str(&path)]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&format!("error: {}: ", path.display())), "{err}");
    assert!(!err.contains("--out"), "{err}");
}

#[test]
fn a_missing_report_among_others_is_named_and_counted() {
    let tmp = tempdir();
    let good = write(tmp.path(), "good.json", CUCKOO);
    let missing = tmp.path().join("missing.json");
    let out = tmp.path().join("out");
    let o = run(&["build", path_str(&good), path_str(&missing), "--out", path_str(&out)]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains(&format!("error: {}: ", missing.display())), "{err}");
    assert!(err.contains("built 1, no behaviour 0, empty 0, failed 1"), "{err}");
    assert_eq!(support::tree(&out), [PathBuf::from("good.graph.json")]);
}

/// Regression: two reports with the same file name in different folders
/// must not be written to the same output file.
#[test]

fn reports_with_the_same_name_get_separate_outputs() {
    let tmp = tempdir();
    let a = write(tmp.path(), "a/r.json", CUCKOO);
    let b = write(tmp.path(), "b/r.json", CAPE);
    let out = tmp.path().join("out");
    let o = run(&["build", path_str(&a), path_str(&b), "--out", path_str(&out)]);
    let outputs = support::tree(&out);
    assert!(
        code(&o) != 0 || outputs.len() == 2,
        "exit {:?}, outputs {outputs:?}: {}",
        o.status.code(),
        stderr(&o)
    );
}

#[test]
fn a_report_without_behaviour_is_not_an_error() {
    let tmp = tempdir();
    for (name, text) in [
        ("r.json", NO_BEHAVIOUR),
        ("no-processes.json", r#"{"behavior": {"processes": []}}"#),
    ] {
        let path = write(tmp.path(), name, text);
        let o = run(&["build", path_str(&path)]);
        let err = stderr(&o);
        assert_eq!(code(&o), 0, "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}: stdout: {}", stdout(&o));
        assert!(err.contains("no behaviour"), "{name}: {err}");
        assert!(err.contains(name), "{name}: names the file: {err}");
        assert!(error_lines(&o).is_empty(), "{name}: {err}");
    }
}

#[test]
fn a_report_where_no_call_counts_is_an_empty_graph() {
    let tmp = tempdir();
    let path = write(tmp.path(), "in/r.json", NO_COUNTING_CALLS);
    let o = run(&["build", path_str(&path)]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(&o));
    assert!(err.contains("empty graph"), "{err}");

    let out = tmp.path().join("out");
    let o = run(&["build", path_str(&tmp.path().join("in")), "--out", path_str(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("built 0, no behaviour 0, empty 1, failed 0"),
        "{}",
        stderr(&o)
    );
    assert!(support::tree(&out).is_empty(), "no output for an empty graph");
}

#[test]
fn several_reports_without_out_is_a_usage_error() {
    let tmp = tempdir();
    let a = write(tmp.path(), "in/a.json", CUCKOO);
    let b = write(tmp.path(), "in/b.json", CAPE);
    for args in [
        vec!["build", path_str(&a), path_str(&b)],
        vec!["build", path_str(a.parent().unwrap())],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        assert!(err.contains("--out"), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}: stdout: {}", stdout(&o));
    }
}

#[test]
fn bad_command_line_is_a_usage_error() {
    let tmp = tempdir();
    let a = write(tmp.path(), "a.json", CUCKOO);
    for args in [
        vec!["build", "--format", "xml", path_str(&a)],
        vec!["build"],
        vec!["build", "--no-such-flag", path_str(&a)],
        vec!["nonsense"],
    ] {
        let o = run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn json_output_is_the_graph_of_the_report() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let g = json_out(&run(&["build", path_str(&path)]));
    assert_eq!(g["analysis"]["report"], "r.json");
    assert_eq!(g["analysis"]["format"], "cuckoo");
    assert_eq!(g["analysis"]["sample"]["name"], "a.exe");
    let id = g["analysis"]["id"].as_str().expect("analysis id");
    assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(
        node_ids(&g),
        [
            "proc:100",
            "api:regopenkeyexw",
            "key_handle:100:0x0000001c|hkey_local_machine\\software\\x",
            "api:ntcreatefile",
            "file_handle:100:0x00000020|c:\\b.txt",
            "api:ldrloaddll(kernel32.dll)",
            "module:kernel32.dll",
            "api:ntopenprocess",
            "proc:300",
        ]
    );

    let cape = write(tmp.path(), "c.json.gz", gzip(CAPE.as_bytes()));
    let g = json_out(&run(&["build", path_str(&cape)]));
    assert_eq!(g["analysis"]["format"], "cape");
    assert_eq!(g["analysis"]["report"], "c.json.gz");
    assert_eq!(nodes_of_type(&g, "key_handle").len(), 1);
    assert_eq!(nodes_of_type(&g, "file_handle").len(), 1);
}

#[test]
fn dot_output_is_a_digraph() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let o = run(&["build", "--format", "dot", path_str(&path)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dot = stdout(&o);
    assert!(dot.starts_with("digraph "), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
    assert!(dot.contains("n0 [label=\"0 a.exe\", shape=octagon"), "{dot}");
    assert!(
        dot.contains("label=\"2 0x0000001c\""),
        "handles show their address: {dot}"
    );

    let o = run(&["build", "--format", "dot", "--handle-label", "path", path_str(&path)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(r#"label="2 HKEY_LOCAL_MACHINE\\Software\\X""#),
        "--handle-label path: {}",
        stdout(&o)
    );

    let out = tmp.path().join("out");
    let o = run(&["build", "-f", "dot", path_str(&path), "--out", path_str(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(support::tree(&out), [PathBuf::from("r.dot")]);
    assert_eq!(std::fs::read_to_string(out.join("r.dot")).unwrap(), dot);
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| d.join(program).is_file() || d.join(format!("{program}.exe")).is_file())
    })
}

#[test]
fn svg_output_with_graphviz() {
    if !on_path("dot") {
        assert!(!support::in_ci(), "CI=true: Graphviz `dot` must be installed");
        eprintln!("SKIPPED: Graphviz `dot` is not on PATH; SVG output is not tested");
        return;
    }
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let o = run(&["build", "--format", "svg", path_str(&path)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let svg = stdout(&o);
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    assert!(svg.contains("RegOpenKeyExW"), "{svg}");
}

#[test]
fn svg_without_graphviz_says_how_to_install_it() {
    let tmp = tempdir();
    let empty_path = tmp.path().join("bin");
    std::fs::create_dir(&empty_path).unwrap();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let o = run_in(
        tmp.path(),
        &[("PATH", path_str(&empty_path))],
        &["build", "--format", "svg", path_str(&path)],
    );
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(&o));
    assert!(err.starts_with(&format!("error: {}: ", path.display())), "{err}");
    assert!(err.contains("Graphviz"), "{err}");
    assert!(err.contains("install"), "{err}");
    assert!(err.contains("--format dot"), "{err}");
}

#[test]
fn no_sequence_edges_drops_only_the_api_api_edges() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let with = json_out(&run(&["build", path_str(&path)]));
    let without = json_out(&run(&["build", "--no-sequence-edges", path_str(&path)]));
    assert!(!edges_of_type(&with, "api-api").is_empty(), "on by default");
    assert!(edges_of_type(&without, "api-api").is_empty());
    let other = |g: &Value| -> Vec<Value> {
        g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] != "api-api")
            .cloned()
            .collect()
    };
    assert_eq!(other(&with), other(&without));
    assert_eq!(with["nodes"], without["nodes"]);
}

#[test]
fn categories_keep_only_those_apis() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let all = json_out(&run(&["build", path_str(&path)]));
    let categories = |g: &Value| -> Vec<String> {
        nodes_of_type(g, "api")
            .iter()
            .map(|n| n["category"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(categories(&all).iter().any(|c| c != "registry"));
    let registry = json_out(&run(&["build", "--categories", "registry", path_str(&path)]));
    assert_eq!(categories(&registry), ["registry"]);
    let two = json_out(&run(&["build", "--categories", "registry,file", path_str(&path)]));
    assert_eq!(categories(&two), ["registry", "file"]);
}

#[test]
fn ignore_modules_replaces_the_default_list() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let modules = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["build"];
        args.extend_from_slice(extra);
        args.push(path_str(&path));
        let g = json_out(&run(&args));
        nodes_of_type(&g, "module")
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(modules(&[]), ["module:kernel32.dll"], "uxtheme is ignored by default");
    assert_eq!(modules(&["--ignore-modules", "kernel32"]), ["module:uxtheme.dll"]);
    assert_eq!(
        modules(&["--ignore-modules", r"C:\Windows\KERNEL32.DLL,xmllite"]),
        ["module:uxtheme.dll"],
        "compared by module identity (rule Q3)"
    );
    assert_eq!(modules(&["--ignore-modules", "kernel32,uxtheme"]), Vec::<String>::new());
}

fn config_show(cwd: &Path, envs: &[(&str, &str)]) -> (String, toml::Table) {
    let o = run_in(cwd, envs, &["config", "show"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let table = text
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("config show prints TOML ({e}): {text}"));
    (text, table)
}

#[test]
fn config_show_prints_every_section_as_toml() {
    let tmp = tempdir();
    let (text, t) = config_show(tmp.path(), &[]);
    for section in ["graph", "output", "limits", "neo4j", "ingest", "query", "correlate"] {
        assert!(text.contains(&format!("\n[{section}]\n")), "[{section}]: {text}");
        assert!(t[section].is_table(), "{section}");
    }
    assert_eq!(t["graph"]["sequence_edges"].as_bool(), Some(true));
    assert_eq!(t["output"]["format"].as_str(), Some("json"));
    assert_eq!(t["query"]["timeout_secs"].as_integer(), Some(60));
    let ignored: Vec<&str> = t["graph"]["ignore_modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ignored, ["uxtheme", "xmllite"]);
}

#[test]
fn environment_variables_change_the_settings() {
    let tmp = tempdir();
    let (text, t) = config_show(
        tmp.path(),
        &[
            ("GRAPHMALW_GRAPH__SEQUENCE_EDGES", "false"),
            ("GRAPHMALW_GRAPH__CATEGORIES", "registry,file"),
            ("GRAPHMALW_INGEST__BATCH_SIZE", "5"),
            ("NEO4J_URI", "bolt://db.example:7687"),
        ],
    );
    assert!(text.contains("sequence_edges = false"), "{text}");
    assert_eq!(t["graph"]["categories"].as_array().unwrap().len(), 2, "{text}");
    assert_eq!(t["ingest"]["batch_size"].as_integer(), Some(5), "{text}");
    assert_eq!(t["neo4j"]["uri"].as_str(), Some("bolt://db.example:7687"));
}

#[test]
fn settings_file_in_the_working_directory_is_read() {
    let tmp = tempdir();
    write(
        tmp.path(),
        "graphmalw.toml",
        "[graph]\nsequence_edges = false\ncategories = [\"file\"]\n[output]\nformat = \"dot\"\n",
    );
    let (text, t) = config_show(tmp.path(), &[]);
    assert!(text.contains("sequence_edges = false"), "{text}");
    assert_eq!(t["output"]["format"].as_str(), Some("dot"));

    // ... and `build` uses it.
    let path = write(tmp.path(), "r.json", CUCKOO);
    let o = run_in(tmp.path(), &[], &["build", path_str(&path)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("digraph"), "{}", stdout(&o));

    // --config names another file instead.
    let other = write(tmp.path(), "other.toml", "[graph]\nsequence_edges = true\n");
    let o = run_in(tmp.path(), &[], &["--config", path_str(&other), "config", "show"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("sequence_edges = true"), "{}", stdout(&o));
    assert!(stdout(&o).contains("format = \"json\""), "{}", stdout(&o));
}

#[test]
fn users_add_safelist_entries_in_the_settings() {
    let tmp = tempdir();
    write(
        tmp.path(),
        "graphmalw.toml",
        "[correlate]\nmax_df = 20\n[[correlate.safelist]]\nkind = \"domain\"\nreason = \"our proxy\"\npatterns = [\"*.proxy.example\"]\n",
    );
    let (text, t) = config_show(tmp.path(), &[]);
    assert_eq!(t["correlate"]["max_df"].as_integer(), Some(20), "{text}");
    let entry = &t["correlate"]["safelist"][0];
    assert_eq!(entry["kind"].as_str(), Some("domain"), "{text}");
    assert_eq!(entry["patterns"][0].as_str(), Some("*.proxy.example"), "{text}");

    // A pattern the safelist cannot read is a usage error, named.
    write(
        tmp.path(),
        "graphmalw.toml",
        "[[correlate.safelist]]\nkind = \"mutex\"\nreason = \"x\"\npatterns = [\"a*b*c\"]\n",
    );
    let o = run_in(tmp.path(), &[], &["config", "show"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("correlate.safelist"), "{}", stderr(&o));
}

/// `safelist check` answers from the shipped list plus the user's entries,
/// with the reason, and names the kinds when given another.
#[test]
fn safelist_check_says_whether_a_value_is_listed_and_why() {
    let tmp = tempdir();
    let o = run_in(tmp.path(), &[], &["safelist", "check", "ip", "8.8.8.8"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("ip:8.8.8.8: safelisted (Public and sandbox resolvers"),
        "{}",
        stdout(&o)
    );
    write(
        tmp.path(),
        "graphmalw.toml",
        "[[correlate.safelist]]\nkind = \"domain\"\nreason = \"our proxy\"\npatterns = [\"*.proxy.example\"]\n",
    );
    let o = run_in(tmp.path(), &[], &["safelist", "check", "domain", "Gw.Proxy.Example"]);
    assert_eq!(stdout(&o), "domain:gw.proxy.example: safelisted (our proxy)\n");
    let o = run_in(tmp.path(), &[], &["safelist", "check", "domain", "evil.example"]);
    assert_eq!(stdout(&o), "domain:evil.example: not safelisted\n");
    let o = run_in(tmp.path(), &[], &["safelist", "check", "url", "x"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("one of file, registry, mutex, domain, ip, dropped"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn broken_settings_are_a_usage_error() {
    let tmp = tempdir();
    let path = write(tmp.path(), "r.json", CUCKOO);
    let missing = tmp.path().join("missing.toml");
    let o = run_in(tmp.path(), &[], &["--config", path_str(&missing), "config", "show"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));

    write(tmp.path(), "graphmalw.toml", "[graph]\nsequense_edges = false\n");
    for args in [vec!["config", "show"], vec!["build", path_str(&path)]] {
        let o = run_in(tmp.path(), &[], &args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("sequense_edges"), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn command_line_beats_environment_beats_file() {
    let tmp = tempdir();
    write(
        tmp.path(),
        "graphmalw.toml",
        "[graph]\ncategories = [\"file\"]\nsequence_edges = false\n",
    );
    let path = write(tmp.path(), "r.json", CUCKOO);
    let build = |envs: &[(&str, &str)], extra: &[&str]| -> Value {
        let mut args = vec!["build"];
        args.extend_from_slice(extra);
        args.push(path_str(&path));
        json_out(&run_in(tmp.path(), envs, &args))
    };
    let categories = |g: &Value| -> Vec<String> {
        nodes_of_type(g, "api")
            .iter()
            .map(|n| n["category"].as_str().unwrap().to_owned())
            .collect()
    };
    let env = [("GRAPHMALW_GRAPH__CATEGORIES", "registry,system")];

    assert_eq!(categories(&build(&[], &[])), ["file"], "the file");
    assert_eq!(
        categories(&build(&env, &[])),
        ["registry", "system"],
        "environment over file"
    );
    assert_eq!(
        categories(&build(&env, &["--categories", "process"])),
        ["process"],
        "command line over environment"
    );

    let file_only = build(&[], &["--categories", "registry,file"]);
    assert!(
        edges_of_type(&file_only, "api-api").is_empty(),
        "file: no sequence edges"
    );
    let seq = [("GRAPHMALW_GRAPH__SEQUENCE_EDGES", "true")];
    assert!(
        !edges_of_type(&build(&seq, &["--categories", "registry,file"]), "api-api").is_empty(),
        "environment over file"
    );
    assert!(
        edges_of_type(
            &build(&seq, &["--categories", "registry,file", "--no-sequence-edges"]),
            "api-api"
        )
        .is_empty(),
        "command line over environment"
    );
}

#[test]
fn the_neo4j_password_is_never_shown() {
    let tmp = tempdir();
    write(tmp.path(), "graphmalw.toml", "[neo4j]\npassword = \"file-marker\"\n");
    for envs in [
        vec![],
        vec![("NEO4J_PASSWORD", "marker")],
        vec![("GRAPHMALW_NEO4J__PASSWORD", "env-marker")],
    ] {
        let (text, t) = config_show(tmp.path(), &envs);
        assert!(!text.contains("marker"), "{envs:?}: {text}");
        assert_eq!(t["neo4j"]["password"].as_str(), Some("********"), "{envs:?}");
    }
    let (_, t) = config_show(tempdir().path(), &[]);
    assert_eq!(t["neo4j"]["password"].as_str(), Some(""), "no password set");

    let (text, _) = config_show(tempdir().path(), &[("NEO4J_PASSWORD", "marker")]);
    assert!(!text.contains("marker"), "{text}");
    assert!(text.contains("password = \"********\""), "{text}");
}
