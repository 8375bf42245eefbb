//! The per-report step shared by every command: find report files, then
//! read one and build its graph. No output happens here.

use crate::model::{Analysis, GraphBuilder, GraphConfig, Outcome};
use crate::report::{read_report, read_report_bytes, ReadLimits, ReportError, ReportMeta};
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// Read one report and build its graph.
pub fn build_report(path: &Path, cfg: &GraphConfig, limits: ReadLimits) -> Result<Analysis, ReportError> {
    let mut builder = GraphBuilder::new(cfg);
    let meta = read_report(path, limits, &mut builder)?;
    Ok(finish(meta, builder))
}

/// [`build_report`] on bytes in memory (plain or gzip JSON) known by `name`:
/// the same parser and builder without the file system (used by the fuzz target).
pub fn build_bytes(bytes: &[u8], name: &str, cfg: &GraphConfig, limits: ReadLimits) -> Result<Analysis, ReportError> {
    let mut builder = GraphBuilder::new(cfg);
    let meta = read_report_bytes(name, bytes, limits, &mut builder)?;
    Ok(finish(meta, builder))
}

fn finish(meta: ReportMeta, builder: GraphBuilder<'_>) -> Analysis {
    let outcome = if !meta.has_behavior || meta.processes == 0 {
        Outcome::NoBehaviour
    } else {
        builder.finish()
    };
    Analysis { meta, outcome }
}

/// A report found on disk, with the path to name it by relative to the
/// argument it was found under (used to lay out output files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub relative: PathBuf,
}

/// Is this file name a report (`*.json` or `*.json.gz`)?
pub fn is_report_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".json") || lower.ends_with(".json.gz")
}

/// Expand the command-line paths: files as given, directories walked
/// recursively for report files (sorted, symlink loops cut). Problems are
/// returned beside the files so the caller can report them and go on.
pub fn find_reports(paths: &[PathBuf]) -> (Vec<Found>, Vec<(PathBuf, io::Error)>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for root in paths {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => {
                let mut visited = HashSet::new();
                walk(root, root, &mut visited, &mut found, &mut errors);
            }
            Ok(_) => found.push(Found {
                path: root.clone(),
                relative: root.file_name().map(PathBuf::from).unwrap_or_else(|| root.clone()),
            }),
            Err(e) => errors.push((root.clone(), e)),
        }
    }
    (found, errors)
}

fn walk(
    root: &Path,
    dir: &Path,
    visited: &mut HashSet<PathBuf>,
    found: &mut Vec<Found>,
    errors: &mut Vec<(PathBuf, io::Error)>,
) {
    match dir.canonicalize() {
        Ok(real) => {
            if !visited.insert(real) {
                errors.push((
                    dir.to_path_buf(),
                    io::Error::other("directory already visited (symlink loop?); skipped"),
                ));
                return;
            }
        }
        Err(e) => {
            errors.push((dir.to_path_buf(), e));
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<_> = rd
                .filter_map(|e| e.map_err(|e| errors.push((dir.to_path_buf(), e))).ok())
                .collect();
            v.sort_by_key(|e| e.file_name());
            v
        }
        Err(e) => {
            errors.push((dir.to_path_buf(), e));
            return;
        }
    };
    for entry in entries {
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(root, &path, visited, found, errors),
            Ok(_) => {
                if is_report_name(&entry.file_name().to_string_lossy()) {
                    let relative = path
                        .strip_prefix(root)
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|_| path.clone());
                    found.push(Found { path, relative });
                }
            }
            Err(e) => errors.push((path, e)),
        }
    }
}
