//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The graphmalw binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_graphmalw"));
    // Tests never pick up a developer's own settings.
    c.env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("GRAPHMALW_") || k.starts_with("NEO4J_") {
            c.env_remove(k);
        }
    }
    c
}

/// Run graphmalw with arguments; panics only if it cannot start.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("graphmalw runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Bundled example reports.
pub fn examples() -> PathBuf {
    root().join("examples/reports")
}

/// Running in CI (`CI=true`): missing prerequisites are failures, not skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The shared real-report fixtures: `GRAPHMALW_FIXTURES`, else `../shared/fixtures`.
/// `None` (the test is skipped, loudly) only outside CI.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("GRAPHMALW_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/fixtures"));
    if dir.join("reports").is_dir() {
        return Some(dir);
    }
    assert!(
        !in_ci(),
        "fixture folder {} is missing (CI=true: this is a failure)",
        dir.display()
    );
    eprintln!(
        "SKIPPED: fixture folder {} not found; set GRAPHMALW_FIXTURES",
        dir.display()
    );
    None
}

/// A JSON graph as printed by `build --format json`.
pub fn build_json(report: &Path) -> serde_json::Value {
    let o = run(&["build", "--format", "json", report.to_str().expect("utf-8 path")]);
    assert!(o.status.success(), "build {} failed: {}", report.display(), stderr(&o));
    serde_json::from_slice(&o.stdout).expect("build prints JSON")
}

// ---- Added for the fixtures, cli and golden modules. ----

/// Environment variables of the parent that must never reach graphmalw in a
/// test: `GRAPHMALW_*` ones the tests themselves read (graphmalw rejects
/// unknown `GRAPHMALW_*` keys as invalid settings) and a developer's own
/// Neo4j connection settings (they would show in `config show`).
pub const TEST_ONLY_VARS: &[&str] = &[
    "GRAPHMALW_FIXTURES",
    "GRAPHMALW_BLESS",
    "NEO4J_URI",
    "NEO4J_USERNAME",
    "NEO4J_PASSWORD",
    "NEO4J_DATABASE",
];

/// `bin()` without [`TEST_ONLY_VARS`], run in `cwd` so that only a
/// `graphmalw.toml` the test put there is read. Paths given to it must be
/// absolute.
pub fn bin_in(cwd: &Path) -> Command {
    let mut c = bin();
    for k in TEST_ONLY_VARS {
        c.env_remove(k);
    }
    c.current_dir(cwd);
    c
}

/// Run graphmalw isolated from the developer's settings: an empty working
/// directory, no `GRAPHMALW_*` or `NEO4J_*` variables.
pub fn run_isolated(args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().expect("temporary directory");
    bin_in(cwd.path()).args(args).output().expect("graphmalw runs")
}

/// Like [`build_json`], isolated as [`run_isolated`].
pub fn build_json_isolated(report: &Path) -> serde_json::Value {
    let o = run_isolated(&["build", "--format", "json", path_str(report)]);
    assert!(
        o.status.success(),
        "build {} failed ({:?}): {}",
        report.display(),
        o.status.code(),
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).expect("build prints JSON")
}

/// A path as a command-line argument (the tests only use UTF-8 paths).
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The files directly in `dir` whose name ends with `suffix`, sorted.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, as sorted paths relative to it.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("readable directory") {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    if dir.is_dir() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// The exit code, failing the test when the process was killed by a signal.
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("graphmalw was killed: {:?}\n{}", o.status, stderr(o)))
}

// ---- Added for the hostile and faults modules. ----

/// Run `cmd` to its end, but for at most `limit`: past it the process is
/// killed and the test fails (a hang is a bug). Returns the output and how
/// long it took. stdin is closed.
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> (Output, std::time::Duration) {
    use std::io::Read;
    use std::process::Stdio;
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("graphmalw starts");
    // Drained on threads so a chatty child never blocks on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = err.join().unwrap_or_default();
            panic!(
                "graphmalw did not finish within {limit:?} (a hang); stderr so far:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    (output, started.elapsed())
}

/// Fail when anything graphmalw printed looks like a Rust panic.
pub fn assert_no_panic(o: &Output) {
    for text in [stdout(o), stderr(o)] {
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "graphmalw panicked:\n{text}"
        );
    }
}
