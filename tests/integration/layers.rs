//! The crate's layering, checked: data flows one way, report → model → store
//! → sink → pipeline → settings → cmd (src/lib.rs `# Layout`), so a module
//! may use the modules below it and never one above it. Read from the source
//! text: every `crate::<module>` a module's non-test code names.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up. A module may name the modules
/// before it in this list; `queries` (the bundled query texts) has no
/// dependencies and may be used from anywhere above it.
const LAYERS: &[&str] = &[
    "queries",
    "report",
    "model",
    "correlate",
    "store",
    "sink",
    "pipeline",
    "settings",
    "cmd",
];

/// Non-test code of a file: what stands before its first `#[cfg(test)]`,
/// comments left out (a doc link to a module above is not a use of it).
fn code_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text,
    };
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file under src/ belongs to (`src/sink/csv.rs` → `sink`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && p.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(p);
        }
    }
}

/// Every `crate::name` in a text (`use crate::{a, b}` counts as a and b).
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        } else {
            names.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    names.retain(|n| LAYERS.contains(&n.as_str()));
    names
}

#[test]
fn no_module_uses_a_module_above_it() {
    let src = crate::support::root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for f in &files {
        let module = module_of(&src, f);
        let Some(level) = LAYERS.iter().position(|l| *l == module) else {
            continue; // lib.rs, main.rs: the roots
        };
        for used in named_modules(&code_of(f)) {
            let used_level = LAYERS.iter().position(|l| *l == used).unwrap();
            if used_level > level {
                wrong.push(format!(
                    "{} uses crate::{used}",
                    f.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_module_has_a_layer() {
    let src = crate::support::root().join("src");
    let mut missing = Vec::new();
    for e in fs::read_dir(&src).unwrap() {
        let name = e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if !["lib", "main", "bin"].contains(&name.as_str()) && !LAYERS.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "modules missing from LAYERS: {missing:?}");
}
