//! Golden files: the JSON and DOT output of every example report in
//! `examples/reports/*.json`, byte for byte, in `tests/golden/<stem>.graph.json`
//! and `tests/golden/<stem>.dot`.
//!
//! The golden files change only by an explicit command: `scripts/bless`
//! (`GRAPHMALW_BLESS=1 cargo test --test integration golden`) rewrites them
//! from the current output, and removes those whose example is gone. Review
//! `git diff tests/golden` before committing.

use crate::support;
use std::path::{Path, PathBuf};

const BLESS_VAR: &str = "GRAPHMALW_BLESS";
const HOW_TO_BLESS: &str = "if the new output is right, regenerate the golden files with \
    `scripts/bless` (GRAPHMALW_BLESS=1 cargo test --test integration golden) \
    and review `git diff tests/golden`";

fn blessing() -> bool {
    std::env::var(BLESS_VAR).is_ok_and(|v| v == "1")
}

fn golden_dir() -> PathBuf {
    support::root().join("tests/golden")
}

/// The example reports, sorted; fails when there are none.
fn example_reports() -> Vec<PathBuf> {
    let dir = support::examples();
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let reports = support::files_ending(&dir, ".json");
    assert!(
        !reports.is_empty(),
        "no example reports in {}: nothing to compare",
        dir.display()
    );
    reports
}

fn stem(report: &Path) -> String {
    let name = report.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
    name.strip_suffix(".json").unwrap_or(name).to_owned()
}

/// Where and how two texts first differ: 1-based line number and both lines
/// (`<end of file>` for the shorter one). `None` when equal.
fn first_difference(expected: &[u8], actual: &[u8]) -> Option<(usize, String, String)> {
    if expected == actual {
        return None;
    }
    // Lines keep their newline, so a missing final newline differs too.
    let lines = |b: &'_ [u8]| -> Vec<Vec<u8>> { b.split_inclusive(|&c| c == b'\n').map(<[u8]>::to_vec).collect() };
    let (el, al) = (lines(expected), lines(actual));
    let n = (0..el.len().max(al.len()))
        .find(|&i| el.get(i) != al.get(i))
        .expect("different bytes differ in some line");
    // The lines as they are; quoted when that is the only way to see the
    // difference (whitespace, a carriage return, invalid UTF-8).
    let plain = |l: &[u8]| String::from_utf8_lossy(l.strip_suffix(b"\n").unwrap_or(l)).into_owned();
    let (pe, pa) = (el.get(n).map(|l| plain(l)), al.get(n).map(|l| plain(l)));
    let quote = pe == pa
        || [&pe, &pa].iter().any(|l| {
            l.as_deref()
                .is_some_and(|l| l.contains(['\r', '\u{fffd}']) || l.ends_with(' '))
        });
    let show = |raw: Option<&Vec<u8>>, text: Option<String>| match (raw, text) {
        (Some(raw), Some(text)) => {
            let text = if quote { format!("{text:?}") } else { text };
            if raw.ends_with(b"\n") {
                text
            } else {
                format!("{text} (no newline at end of file)")
            }
        }
        _ => "<end of file>".to_owned(),
    };
    Some((n + 1, show(el.get(n), pe), show(al.get(n), pa)))
}

/// Build every example in `format` and compare with (or, blessing, write)
/// `tests/golden/<stem>.<ext>`.
fn check(format: &str, ext: &str) {
    let dir = golden_dir();
    let bless = blessing();
    let mut problems = Vec::new();
    let mut wanted = Vec::new();
    for report in example_reports() {
        let golden = dir.join(format!("{}.{ext}", stem(&report)));
        wanted.push(golden.clone());
        let o = support::run_isolated(&["build", "--format", format, support::path_str(&report)]);
        assert_eq!(
            support::code(&o),
            0,
            "build --format {format} {}: {}",
            report.display(),
            support::stderr(&o)
        );
        assert!(!o.stdout.is_empty(), "{}: no {format} output", report.display());
        if bless {
            std::fs::create_dir_all(&dir).expect("create tests/golden");
            if std::fs::read(&golden).ok().as_deref() != Some(&o.stdout[..]) {
                std::fs::write(&golden, &o.stdout).unwrap_or_else(|e| panic!("writing {}: {e}", golden.display()));
                eprintln!("blessed {}", golden.display());
            }
            continue;
        }
        match std::fs::read(&golden) {
            Err(e) => problems.push(format!("{}: {e} (new example?)", golden.display())),
            Ok(expected) => {
                if let Some((line, want, got)) = first_difference(&expected, &o.stdout) {
                    problems.push(format!(
                        "{} differs from `build --format {format} {}` at line {line} (- golden, + output):\n  \
                         - {want}\n  + {got}",
                        golden.display(),
                        report.display()
                    ));
                }
            }
        }
    }
    // Golden files whose example is gone.
    if dir.is_dir() {
        for stale in support::files_ending(&dir, &format!(".{ext}")) {
            if wanted.contains(&stale) {
                continue;
            }
            if bless {
                std::fs::remove_file(&stale).unwrap_or_else(|e| panic!("removing {}: {e}", stale.display()));
                eprintln!("removed {}", stale.display());
            } else {
                problems.push(format!("{}: no example report for it", stale.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} golden {format} problem(s):\n{}\n\n{HOW_TO_BLESS}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn golden_json_of_the_examples() {
    check("json", "graph.json");
}

#[test]
fn golden_dot_of_the_examples() {
    check("dot", "dot");
}

#[test]
fn golden_diff_hint_names_the_first_differing_line() {
    assert_eq!(first_difference(b"a\nb\n", b"a\nb\n"), None);
    assert_eq!(
        first_difference(b"a\nb\nc\n", b"a\nB\nc\n"),
        Some((2, "b".into(), "B".into()))
    );
    assert_eq!(
        first_difference(b"a\n", b"a\nb\n"),
        Some((2, "<end of file>".into(), "b".into()))
    );
    assert_eq!(
        first_difference(b"a\n", b"a"),
        Some((1, "\"a\"".into(), "\"a\" (no newline at end of file)".into()))
    );
    assert_eq!(
        first_difference(b"a b\n", b"a b \n"),
        Some((1, "\"a b\"".into(), "\"a b \"".into()))
    );
    assert_eq!(
        first_difference(b"x\n", b"x\r\n"),
        Some((1, "\"x\"".into(), "\"x\\r\"".into()))
    );
    assert!(first_difference(b"\xfe\n", b"\xff\n").is_some());
}
