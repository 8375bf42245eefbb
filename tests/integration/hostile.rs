//! Hostile and broken input: reports are attacker-influenced data.
//!
//! Every bad input (the committed ones in `tests/bad-inputs/`, listed with
//! their expected error in `expected.tsv`, and the ones generated here
//! because they are huge or are not plain files) must give one clear error
//! line naming the file and the place, no panic, no hang; the good reports
//! beside them are still built, and the exit code is 1. Crashes found by the
//! fuzzer (`fuzz/run`) and cost blow-ups become regression tests here.

use crate::support::{self, assert_no_panic, output_within, path_str, stderr};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The committed bad inputs.
fn bad_inputs() -> PathBuf {
    support::root().join("tests/bad-inputs")
}

/// `expected.tsv`: file name → substring of its error line.
fn expected_errors() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(bad_inputs().join("expected.tsv")).expect("tests/bad-inputs/expected.tsv");
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (file, want) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("expected.tsv line {}: no TAB: {line}", n + 1));
        assert!(!want.is_empty(), "expected.tsv line {}: empty expectation", n + 1);
        assert!(
            map.insert(file.to_owned(), want.to_owned()).is_none(),
            "expected.tsv lists {file} twice"
        );
    }
    map
}

/// The graphmalw command with a clean environment, in a scratch folder.
fn graphmalw(cwd: &Path) -> std::process::Command {
    support::bin_in(cwd)
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// A call whose `filepath` argument is `value` (raw JSON text).
fn report_with_filepath(value_start: &str, value_end: &str, middle: impl FnOnce(&mut dyn Write)) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        br#"{"behavior": {"processes": [{"pid": 1, "ppid": 0, "process_name": "x", "process_path": "x", "calls": [{"api": "NtCreateFile", "category": "file", "arguments": {"file_handle": "0x10", "filepath": "#,
    );
    out.extend_from_slice(value_start.as_bytes());
    middle(&mut out);
    out.extend_from_slice(value_end.as_bytes());
    out.extend_from_slice(b"}}]}]}}");
    out
}

/// The inputs too big or too strange to commit, made in `dir`; returns
/// file name (relative to `dir`) → expected error substring.
fn generate_bad_inputs(dir: &Path) -> BTreeMap<String, String> {
    let mut want = BTreeMap::new();
    let mut expect = |name: &str, msg: &str| {
        want.insert(name.to_owned(), msg.to_owned());
    };

    // 100 000 levels of nesting inside an argument value.
    let depth = 100_000;
    write(
        &dir.join("deep-nesting.json"),
        &report_with_filepath("", "", |w| {
            w.write_all(&vec![b'['; depth]).expect("write");
            w.write_all(&vec![b']'; depth]).expect("write");
        }),
    );
    expect(
        "deep-nesting.json",
        "at behavior.processes[0].calls[0].arguments.filepath[0][0]",
    );
    expect("deep-nesting.json", "recursion limit exceeded");
    // ... and as the whole document.
    write(&dir.join("deep-root.json"), &vec![b'{'; depth]);
    expect("deep-root.json", "key must be a string at line 1 column 2");

    // One 200 MB string: more than the 64 MiB limit the test sets.
    let path = dir.join("huge-string.json");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let head = report_with_filepath("\"", "", |_| {});
        f.write_all(&head[..head.len() - b"}}]}]}}".len()]).expect("write");
        let chunk = vec![b'A'; 1 << 20];
        for _ in 0..200 {
            f.write_all(&chunk).expect("write");
        }
        f.write_all(b"\"}}]}]}}").expect("write");
        f.flush().expect("flush");
    }
    expect(
        "huge-string.json",
        "report is larger than the limit of 67108864 bytes (limits.max_report_bytes)",
    );

    // A gzip bomb: 300 KB that inflate to 300 MB of spaces.
    {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(b"{\"behavior\": {\"processes\": []}, \"x\": \"")
            .expect("gzip");
        let spaces = vec![b' '; 1 << 20];
        for _ in 0..300 {
            e.write_all(&spaces).expect("gzip");
        }
        e.write_all(b"\"}").expect("gzip");
        write(&dir.join("gzip-bomb.json.gz"), &e.finish().expect("gzip"));
    }
    expect(
        "gzip-bomb.json.gz",
        "report is larger than the limit of 67108864 bytes (limits.max_report_bytes)",
    );

    // Corrupt gzip: bytes flipped in the middle of the deflate stream, and a cut one.
    let good = std::fs::read(support::examples().join("dropper-cuckoo.json")).expect("example");
    let mut gz = gzip(&good);
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 16] {
        *b ^= 0x55;
    }
    write(&dir.join("corrupt.json.gz"), &gz);
    expect("corrupt.json.gz", "corrupt gzip data: ");
    let gz = gzip(&good);
    write(&dir.join("cut.json.gz"), &gz[..gz.len() - 100]);
    expect("cut.json.gz", "corrupt gzip data: ");
    write(
        &dir.join("header-only.json.gz"),
        &[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff],
    );
    expect("header-only.json.gz", "corrupt gzip data: ");

    // A key of 1 MB in the path of an error: the error line stays short.
    let mut long_key = b"{\"behavior\": {\"processes\": [{\"pid\": 1, \"".to_vec();
    long_key.extend(std::iter::repeat_n(b'k', 1 << 20));
    long_key.extend_from_slice(b"\": NaN}]}}");
    write(&dir.join("huge-key.json"), &long_key);
    expect(
        "huge-key.json",
        "NaN is not a JSON number: expected value at line 1 column",
    );
    // A 1 MB string quoted in a type error.
    let mut long_value = b"{\"behavior\": {\"processes\": [{\"pid\": 1, \"calls\": \"".to_vec();
    long_value.extend(std::iter::repeat_n(b'v', 1 << 20));
    long_value.extend_from_slice(b"\"}]}}");
    write(&dir.join("huge-wrong-type.json"), &long_value);
    expect(
        "huge-wrong-type.json",
        "at behavior.processes[0].calls: invalid type: string \"vvvv",
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        // A directory symlink loop, and a file symlink that points at itself.
        std::fs::create_dir_all(dir.join("loop/inner")).expect("mkdir");
        symlink("..", dir.join("loop/inner/up")).expect("symlink");
        expect("loop/inner/up", "directory already visited (symlink loop?); skipped");
        symlink("self.json", dir.join("self.json")).expect("symlink");
        expect("self.json", "Too many levels of symbolic links");
        symlink("/nonexistent/graphmalw/report.json", dir.join("dangling.json")).expect("symlink");
        expect("dangling.json", "No such file or directory");
        // Files that never end or never open: they must not hang the run.
        symlink("/dev/zero", dir.join("dev-zero.json")).expect("symlink");
        expect(
            "dev-zero.json",
            "not a regular file (a FIFO, socket or device); skipped",
        );
        let fifo = dir.join("fifo.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        expect("fifo.json", "not a regular file (a FIFO, socket or device); skipped");
    }
    // Unreadable: the tests run as root, so permission bits do not stop a
    // read. /proc/self/mem is a regular file whose first page (address 0)
    // is never mapped: opening works, reading fails with EIO.
    #[cfg(target_os = "linux")]
    {
        std::os::unix::fs::symlink("/proc/self/mem", dir.join("unreadable.json")).expect("symlink");
        expect("unreadable.json", "cannot read: Input/output error");
    }
    want
}

/// Every committed bad input is in `expected.tsv`, and the other way round.
#[test]
fn every_committed_bad_input_has_an_expected_error() {
    let expected = expected_errors();
    let files: Vec<String> = std::fs::read_dir(bad_inputs())
        .expect("tests/bad-inputs")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.tsv")
        .collect();
    assert!(
        files.len() >= 30,
        "at least 30 committed bad inputs, found {}",
        files.len()
    );
    for f in &files {
        assert!(expected.contains_key(f), "tests/bad-inputs/{f} is not in expected.tsv");
    }
    for f in expected.keys() {
        assert!(
            files.contains(f),
            "expected.tsv lists {f}, which is not in tests/bad-inputs"
        );
    }
}

/// Copy the committed bad inputs, generate the rest, add good reports, and
/// build the lot with a 64 MiB report limit.
#[test]
fn bad_inputs_each_fail_alone_with_a_clear_error_and_the_good_reports_are_built() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, msg) in expected_errors() {
        std::fs::create_dir_all(&input).expect("mkdir");
        std::fs::copy(bad_inputs().join(&file), input.join(&file)).expect("copy");
        want.entry(file).or_default().push(msg);
    }
    let generated = generate_bad_inputs(&input);
    for (file, msg) in generated {
        want.entry(file).or_default().push(msg);
    }
    // The good ones: plain, gzip, and a report whose ignored section is
    // nested 100 000 levels deep (skipped, not an error).
    let good = std::fs::read(support::examples().join("dropper-cuckoo.json")).expect("example");
    write(&input.join("good/dropper.json"), &good);
    let cape = std::fs::read(support::examples().join("injector-cape.json")).expect("example");
    write(&input.join("good/injector.json.gz"), &gzip(&cape));
    let mut deep_ignored = b"{\"static\": ".to_vec();
    deep_ignored.extend(std::iter::repeat_n(b"{\"a\": ".as_slice(), 100_000).flatten());
    deep_ignored.push(b'1');
    deep_ignored.extend(std::iter::repeat_n(b'}', 100_000));
    deep_ignored.extend_from_slice(b", \"behavior\": {}}");
    write(&input.join("good/deep-ignored.json"), &deep_ignored);

    let out = tmp.path().join("out");
    let (o, took) = output_within(
        graphmalw(tmp.path())
            .args(["build", "-j", "2", path_str(&input), "--out", path_str(&out)])
            .env("GRAPHMALW_LIMITS__MAX_REPORT_BYTES", (64u64 << 20).to_string()),
        Duration::from_secs(180),
    );
    let err = stderr(&o);
    assert_no_panic(&o);
    assert_eq!(support::code(&o), 1, "bad inputs make the exit code 1:\n{err}");

    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    for line in &errors {
        assert!(
            line.len() < 1200,
            "error lines stay short: {} bytes: {}…",
            line.len(),
            &line[..200]
        );
    }
    for (file, msgs) in &want {
        let prefix = format!("error: {}: ", input.join(file).display());
        let lines: Vec<&&str> = errors.iter().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(lines.len(), 1, "exactly one error line for {file}:\n{err}");
        for msg in msgs {
            assert!(
                lines[0].contains(msg.as_str()),
                "{file}: expected `{msg}` in:\n{}",
                lines[0]
            );
        }
    }
    assert_eq!(
        errors.len(),
        want.len(),
        "one error line per bad input, nothing else:\n{err}"
    );
    assert!(
        err.contains(&format!("built 2, no behaviour 1, empty 0, failed {}", want.len())),
        "summary counts every failure:\n{err}"
    );
    let mut outputs = support::tree(&out);
    outputs.sort();
    assert_eq!(
        outputs,
        [
            PathBuf::from("good/dropper.graph.json"),
            PathBuf::from("good/injector.graph.json")
        ]
    );
    let built: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("good/dropper.graph.json")).expect("output")).expect("JSON");
    assert_eq!(built["analysis"]["report"], "dropper.json");
    assert!(took < Duration::from_secs(120), "bad inputs took {took:?}");
}

/// The same inputs through `ingest --dry-run`: the same errors, exit 1.
#[test]
fn ingest_reports_bad_inputs_and_goes_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    let expected = expected_errors();
    for file in expected.keys() {
        std::fs::copy(bad_inputs().join(file), input.join(file)).expect("copy");
    }
    std::fs::copy(support::examples().join("stealer-cape.json"), input.join("good.json")).expect("copy");
    let (o, _) = output_within(
        graphmalw(tmp.path()).args(["ingest", "--dry-run", "--uri", "127.0.0.1:1", path_str(&input)]),
        Duration::from_secs(120),
    );
    let err = stderr(&o);
    assert_no_panic(&o);
    assert_eq!(support::code(&o), 1, "{err}");
    for (file, msg) in &expected {
        let prefix = format!("error: {}: ", input.join(file).display());
        assert!(
            err.lines().any(|l| l.starts_with(&prefix) && l.contains(msg.as_str())),
            "{file}: `{msg}` not in:\n{err}"
        );
    }
    assert!(
        err.contains(&format!(
            "would ingest 1 analyses, skipped 0 (already complete or repeated), failed {}",
            expected.len()
        )),
        "{err}"
    );
}

/// A 20 MB value within the report limit is built, and cut (and counted)
/// in the database rows at `limits.max_string_len`.
#[test]
fn long_strings_are_truncated_with_a_marker_and_counted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let report = tmp.path().join("long.json");
    write(
        &report,
        &report_with_filepath("\"C:\\\\", "\"", |w| {
            w.write_all(&vec![b'x'; 20 << 20]).expect("write");
        }),
    );
    let (o, _) = output_within(
        graphmalw(tmp.path())
            .args(["ingest", "--dry-run", "--uri", "127.0.0.1:1", path_str(&report)])
            .env("GRAPHMALW_LIMITS__MAX_STRING_LEN", "1000"),
        Duration::from_secs(120),
    );
    assert_no_panic(&o);
    let err = stderr(&o);
    assert_eq!(support::code(&o), 0, "{err}");
    assert!(
        err.contains("long values truncated"),
        "the summary counts truncations: {err}"
    );
    // build keeps the whole value (files have no length limit).
    let (o, _) = output_within(
        graphmalw(tmp.path()).args(["build", path_str(&report)]),
        Duration::from_secs(120),
    );
    assert_eq!(support::code(&o), 0, "{}", stderr(&o));
    assert!(o.stdout.len() > 20 << 20, "the graph keeps the full path");
}

// ---- Cost blow-ups: each of these took minutes (n²) before the fix. ----

fn build_within(name: &str, bytes: &[u8], limit: Duration) -> std::process::Output {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(name);
    write(&path, bytes);
    let (o, took) = output_within(graphmalw(tmp.path()).args(["build", path_str(&path)]), limit);
    assert_no_panic(&o);
    assert_eq!(support::code(&o), 0, "{name}: {}", stderr(&o));
    assert!(took < limit, "{name} took {took:?}");
    o
}

/// Regression: arguments were deduplicated pairwise (first name wins), so a
/// call with 100 000 arguments took 40 s (Cuckoo object) to 90 s (CAPE list).
#[test]
fn a_call_with_100_000_arguments_is_linear() {
    let n = 100_000;
    let object: serde_json::Map<String, serde_json::Value> =
        (0..n).map(|i| (format!("a{i}"), serde_json::json!(i))).collect();
    let cuckoo = serde_json::json!({"behavior": {"processes": [{"pid": 1, "ppid": 0, "process_name": "x",
        "process_path": "x", "calls": [{"api": "NtCreateFile", "category": "file", "arguments": object}]}]}});
    build_within(
        "many-args.json",
        &serde_json::to_vec(&cuckoo).expect("json"),
        Duration::from_secs(20),
    );
    let list: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"name": format!("a{}", i % (n / 2)), "value": i}))
        .collect();
    let cape = serde_json::json!({"behavior": {"processes": [{"process_id": 1, "parent_id": 0, "process_name": "x",
        "module_path": "x", "calls": [{"api": "NtCreateFile", "category": "filesystem", "arguments": list}]}]}});
    build_within(
        "many-args-cape.json",
        &serde_json::to_vec(&cape).expect("json"),
        Duration::from_secs(20),
    );
}

/// Regression: rule C3 compared two calls' arguments pairwise, so two calls
/// with 50 000 arguments in opposite orders took n² comparisons.
#[test]
fn repeated_calls_with_reordered_arguments_compare_in_n_log_n() {
    let n = 50_000;
    let call = |rev: bool| {
        let mut args: Vec<String> = (0..n).map(|i| format!("\"a{i}\": {i}")).collect();
        if rev {
            args.reverse();
        }
        format!(
            "{{\"api\": \"NtCreateFile\", \"category\": \"file\", \"arguments\": {{\"file_handle\": \"0x10\", \
             \"filepath\": \"C:\\\\x\", {}}}}}",
            args.join(", ")
        )
    };
    let calls: Vec<String> = (0..6).map(|i| call(i % 2 == 1)).collect();
    let report = format!(
        "{{\"behavior\": {{\"processes\": [{{\"pid\": 1, \"ppid\": 0, \"process_name\": \"x\", \
         \"process_path\": \"x\", \"calls\": [{}]}}]}}}}",
        calls.join(", ")
    );
    let o = build_within("reordered.json", report.as_bytes(), Duration::from_secs(30));
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let counts: Vec<i64> = g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["type"] == "proc-api")
        .map(|e| e["count"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [1], "C3: the five repeats are one call");
}

/// Regression: techniques were attached to every copy of a signature with a
/// linear `contains`, so 20 000 copies × 20 000 techniques never finished.
#[test]
fn repeated_signatures_and_techniques_are_deduplicated_in_linear_time() {
    let n = 20_000;
    let sigs: Vec<serde_json::Value> = (0..n)
        .map(|_| serde_json::json!({"name": "evil", "severity": 3}))
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("T{i}")).collect();
    let report = serde_json::json!({
        "signatures": sigs,
        "ttps": [{"signature": "evil", "ttps": ids}],
        "behavior": {"processes": [{"process_id": 1, "parent_id": 0, "process_name": "x", "module_path": "x",
            "calls": [{"api": "NtCreateFile", "category": "filesystem", "arguments": [
                {"name": "FileHandle", "value": "0x10"}, {"name": "FileName", "value": "C:\\x"}]}]}]}
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("sigs.json");
    write(&path, &serde_json::to_vec(&report).expect("json"));
    let limit = Duration::from_secs(20);
    let (o, took) = output_within(
        graphmalw(tmp.path()).args(["ingest", "--dry-run", "--uri", "127.0.0.1:1", path_str(&path)]),
        limit,
    );
    assert_no_panic(&o);
    assert_eq!(support::code(&o), 0, "{}", stderr(&o));
    assert!(took < limit, "took {took:?}");
}

/// Every JSON type (and odd strings) in every argument the builder reads:
/// not an error (the spec reads what it can), never a panic, and every
/// output (JSON, DOT, database rows) is still produced.
#[test]
fn arguments_of_every_type_in_every_argument_the_builder_reads() {
    let weird = [
        serde_json::json!({}),
        serde_json::json!([]),
        serde_json::json!(true),
        serde_json::Value::Null,
        serde_json::json!(1.5),
        serde_json::json!(-1),
        serde_json::json!(u64::MAX),
        serde_json::json!(""),
        serde_json::json!("0x"),
        serde_json::json!("\u{0}"),
        serde_json::json!("💥\u{202e}\"'\\"),
    ];
    let apis: [(&str, &str, &[&str]); 8] = [
        ("NtCreateFile", "file", &["file_handle", "filepath"]),
        ("NtOpenKey", "registry", &["key_handle", "regkey"]),
        ("RegOpenKeyExW", "registry", &["base_handle", "key_handle", "regkey"]),
        ("LdrLoadDll", "system", &["basename", "module_address", "module_name"]),
        (
            "LdrGetProcedureAddress",
            "system",
            &[
                "module",
                "module_address",
                "function_name",
                "ordinal",
                "function_address",
            ],
        ),
        ("NtOpenProcess", "process", &["process_handle", "process_identifier"]),
        ("NtClose", "system", &["handle"]),
        (
            "CreateProcessInternalW",
            "process",
            &["process_identifier", "process_handle", "thread_handle", "filepath"],
        ),
    ];
    let mut calls = Vec::new();
    for (api, category, names) in apis {
        for w in &weird {
            // A pid argument that is not an integer is a per-file error (tested above).
            let args: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .filter(|n| **n != "process_identifier" || w.as_i64().is_some())
                .map(|n| (n.to_string(), w.clone()))
                .collect();
            calls.push(serde_json::json!({"api": api, "category": category, "arguments": args}));
        }
    }
    let report = serde_json::json!({"behavior": {"processes": [
        {"pid": 1, "ppid": 0, "process_name": "x", "process_path": "x", "calls": calls}]}});
    let bytes = serde_json::to_vec(&report).expect("json");
    let o = build_within("weird-args.json", &bytes, Duration::from_secs(30));
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the JSON output parses");
    assert!(g["nodes"].as_array().is_some_and(|n| n.len() > 10), "a graph: {g}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("weird-args.json");
    write(&path, &bytes);
    for args in [
        vec!["build", "--format", "dot", path_str(&path)],
        vec!["ingest", "--dry-run", "--uri", "127.0.0.1:1", path_str(&path)],
    ] {
        let (o, _) = output_within(graphmalw(tmp.path()).args(&args), Duration::from_secs(30));
        assert_no_panic(&o);
        assert_eq!(support::code(&o), 0, "{args:?}: {}", stderr(&o));
    }
}
