//! The one pipeline every command runs: find report files, read and build
//! each on worker threads, and hand the results to the command's
//! [`Output`] in input order.
//!
//! [`ordered_map`] is the parallel map (bounded: at most a window of results
//! waits for an earlier one), [`Pipeline::run`] puts the per-report step in
//! it, and [`Tally`] counts what became of each report. Commands choose the
//! output and phrase the summary; the only thing printed here is the error
//! of a report that could not be read or prepared.

use crate::model::{Analysis, Graph, GraphBuilder, GraphConfig, Outcome};
use crate::report::{read_report, read_report_bytes, ReadLimits, ReportError, ReportMeta};
use indicatif::ProgressBar;
use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

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

impl AsRef<Found> for Found {
    fn as_ref(&self) -> &Found {
        self
    }
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

/// Run `work` on every item on `jobs` threads and hand the results to
/// `consume` on the calling thread, in input order. At most a window of
/// results waits for an earlier one, so memory does not grow with the number
/// of items. `consume` returning `Err` stops the run (workers finish the item
/// in hand) and the error is returned.
pub fn ordered_map<I: Sync, T: Send, E>(
    items: &[I],
    jobs: usize,
    work: impl Fn(&I) -> T + Sync,
    mut consume: impl FnMut(&I, T) -> Result<(), E>,
) -> Result<(), E> {
    let requested = jobs.max(1);
    crate::report::set_cores(requested);
    let jobs = jobs.clamp(1, items.len().max(1));
    let window = jobs * 4;
    // Threads asked for and not running a report are lent to the reader of
    // a big report (both cores on one report): those never started, and
    // each worker that finds nothing left to start.
    let lent = AtomicUsize::new(requested - jobs);
    crate::report::lend(requested - jobs);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results `consume` has taken; workers wait until their index
    // is inside the window.
    let done = Mutex::new(0usize);
    let moved = Condvar::new();
    let (tx, rx) = mpsc::sync_channel::<(usize, T)>(window);
    let result = std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop, done, moved, work, lent) = (&next, &stop, &done, &moved, &work, &lent);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    lent.fetch_add(1, Ordering::SeqCst);
                    crate::report::lend(1);
                    break;
                }
                {
                    let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
                    while i >= *d + window && !stop.load(Ordering::Relaxed) {
                        d = moved.wait(d).unwrap_or_else(|e| e.into_inner());
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let out = work(&items[i]);
                if tx.send((i, out)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, T> = BTreeMap::new();
        let mut want = 0usize;
        let mut result = Ok(());
        'receive: for (i, out) in rx.iter() {
            pending.insert(i, out);
            while let Some(out) = pending.remove(&want) {
                if let Err(e) = consume(&items[want], out) {
                    result = Err(e);
                    break 'receive;
                }
                want += 1;
                *done.lock().unwrap_or_else(|e| e.into_inner()) = want;
                moved.notify_all();
            }
        }
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
            moved.notify_all();
        }
        // Dropping the receiver ends every worker blocked on a full channel.
        drop(rx);
        result
    });
    crate::report::reclaim(lent.load(Ordering::SeqCst));
    result
}

/// What a command made of one report on a worker thread.
#[derive(Debug)]
pub enum Done<T> {
    /// Ready for the output.
    Ready(T),
    /// Nothing to write (no graph, for an output of graphs).
    Nothing,
    /// Already in the output (a complete analysis in the database): not written again.
    Skipped,
    /// Could not be read or prepared; the error was printed.
    Failed,
}

/// What became of the reports, for a command's summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Written to the output.
    pub written: usize,
    /// Read, without behaviour (no processes).
    pub no_behaviour: usize,
    /// Read, with processes, but no node passed the rules.
    pub empty: usize,
    /// Not written because already there (complete, or the same report again).
    pub skipped: usize,
    /// Not readable, not preparable, not writable, or not found.
    pub failed: usize,
}

impl Tally {
    /// Both tallies together (of two stages of one run).
    pub fn plus(&self, other: &Tally) -> Tally {
        Tally {
            written: self.written + other.written,
            no_behaviour: self.no_behaviour + other.no_behaviour,
            empty: self.empty + other.empty,
            skipped: self.skipped + other.skipped,
            failed: self.failed + other.failed,
        }
    }

    /// `{verb} N, no behaviour N, empty N, failed N[, repeated N] (N reports)`.
    pub fn line(&self, verb: &str, reports: usize) -> String {
        let mut s = format!(
            "{verb} {}, no behaviour {}, empty {}, failed {}",
            self.written, self.no_behaviour, self.empty, self.failed
        );
        if self.skipped > 0 {
            s.push_str(&format!(", repeated {}", self.skipped));
        }
        s.push_str(&format!(" ({reports} reports)"));
        s
    }

    fn count<T>(&mut self, done: &Done<T>) {
        match done {
            Done::Ready(_) | Done::Nothing => {}
            Done::Skipped => self.skipped += 1,
            Done::Failed => self.failed += 1,
        }
    }
}

/// Where a command's prepared results go, one at a time and in input order
/// (a CSV writer, a stream of lines, a database writer…).
pub trait Output {
    type Item: Send;
    /// Take one prepared report; count it in `tally` (written, or skipped as
    /// a repeat). `Err` stops the run.
    fn write(&mut self, found: &Found, item: Self::Item, tally: &mut Tally) -> anyhow::Result<()>;

    /// After each report, the tally so far (for an output that shows
    /// progress elsewhere).
    fn progress(&mut self, _tally: &Tally) {}
}

/// The output of commands whose workers write one file per report
/// themselves: it only counts them.
pub struct FilesWritten;

impl Output for FilesWritten {
    type Item = ();
    fn write(&mut self, _: &Found, (): (), tally: &mut Tally) -> anyhow::Result<()> {
        tally.written += 1;
        Ok(())
    }
}

/// The per-report step and how many threads run it.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub graph: GraphConfig,
    pub limits: ReadLimits,
    pub jobs: usize,
}

/// One report's result on its way from a worker to the output.
struct Reported<T> {
    shape: Option<Shape>,
    done: Done<T>,
}

#[derive(Clone, Copy)]
enum Shape {
    NoBehaviour,
    Empty,
}

impl Pipeline {
    /// Build every report on the worker threads, make each analysis ready
    /// with `prepare` (there too), and write the results to `out` in input
    /// order, counting into `tally` and ticking `bar`. An error of `prepare`
    /// fails that report only; an error of `out` stops the run and is returned.
    pub fn run<I: AsRef<Found> + Sync, O: Output>(
        &self,
        items: &[I],
        bar: &ProgressBar,
        tally: &mut Tally,
        prepare: impl Fn(&I, &Analysis) -> anyhow::Result<Done<O::Item>> + Sync,
        out: &mut O,
    ) -> anyhow::Result<()> {
        let work = |entry: &I| {
            let item = entry.as_ref();
            let analysis = match build_report(&item.path, &self.graph, self.limits) {
                Ok(a) => a,
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {e}"));
                    return Reported {
                        shape: None,
                        done: Done::Failed,
                    };
                }
            };
            let shape = match analysis.outcome {
                Outcome::Built(_) => None,
                Outcome::NoBehaviour => Some(Shape::NoBehaviour),
                Outcome::Empty => Some(Shape::Empty),
            };
            let done = prepare(entry, &analysis).unwrap_or_else(|e| {
                bar.suspend(|| eprintln!("error: {}: {e:#}", item.path.display()));
                Done::Failed
            });
            if analysis.graph().is_some_and(Graph::is_big) {
                crate::report::drop_beside(analysis);
            }
            Reported { shape, done }
        };
        ordered_map(items, self.jobs, work, |entry, r: Reported<O::Item>| {
            bar.inc(1);
            match r.shape {
                Some(Shape::NoBehaviour) => tally.no_behaviour += 1,
                Some(Shape::Empty) => tally.empty += 1,
                None => {}
            }
            tally.count(&r.done);
            if let Done::Ready(ready) = r.done {
                out.write(entry.as_ref(), ready, tally)?;
            }
            out.progress(tally);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_results_come_in_input_order() {
        let items: Vec<u64> = (0..50).collect();
        let mut seen = Vec::new();
        ordered_map(
            &items,
            4,
            |&i| {
                // Later items finish first.
                std::thread::sleep(std::time::Duration::from_micros((50 - i) * 50));
                i
            },
            |_, i| {
                seen.push(i);
                Ok::<(), ()>(())
            },
        )
        .expect("runs");
        assert_eq!(seen, items);
    }

    #[test]
    fn a_failing_consumer_stops_the_run() {
        let items: Vec<u64> = (0..100).collect();
        let worked = AtomicUsize::new(0);
        let r = ordered_map(
            &items,
            3,
            |_| worked.fetch_add(1, Ordering::Relaxed),
            |_, _| Err("disk full"),
        );
        assert_eq!(r, Err("disk full"));
        assert!(worked.load(Ordering::Relaxed) < 100, "workers stopped early");
    }

    #[test]
    fn the_tally_line_names_repeats_only_when_there_are_some() {
        let mut t = Tally {
            written: 3,
            no_behaviour: 1,
            empty: 2,
            failed: 1,
            ..Tally::default()
        };
        assert_eq!(
            t.line("built", 7),
            "built 3, no behaviour 1, empty 2, failed 1 (7 reports)"
        );
        t.skipped = 2;
        assert_eq!(
            t.line("exported", 9),
            "exported 3, no behaviour 1, empty 2, failed 1, repeated 2 (9 reports)"
        );
    }
}
