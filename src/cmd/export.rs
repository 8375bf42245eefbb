//! `graphmalw export`: the graphs as files for other tools.
//!
//! - `neo4j-csv`: the Neo4j model (exactly what `ingest` writes) as CSV for
//!   `neo4j-admin database import full`, for a first load of a large archive.
//! - `graphml`: one GraphML file per report (Gephi, yEd, NetworkX).
//! - `jsonl`: one graph per line, types as integer indices, with a label
//!   (for PyTorch Geometric, DGL, NetworkX…).
//!
//! Reports are built on `jobs` threads; results are written by one thread in
//! input order (a small reorder window), so the output is the same bytes for
//! the same inputs whatever the thread count, and memory does not grow with
//! the number of reports.

use super::{load_settings, GraphArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::model::{Analysis, Outcome};
use crate::pipeline::{build_report, find_reports, Found};
use crate::settings::Settings;
use crate::sink::csv::{self as csvsink, CsvWriter};
use crate::sink::{graphml, jsonl};
use crate::store::analysis_rows;
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

#[derive(clap::Subcommand, Debug)]
pub enum ExportAction {
    /// CSV files for `neo4j-admin database import full` (an empty database, a large archive).
    #[command(name = "neo4j-csv")]
    Neo4jCsv(CsvArgs),
    /// One GraphML file per report (Gephi, yEd, NetworkX).
    Graphml(GraphmlArgs),
    /// One graph per line, types as integer indices, with a label (machine learning).
    Jsonl(JsonlArgs),
}

#[derive(clap::Args, Debug)]
pub struct CsvArgs {
    /// Report files or directories (searched recursively for *.json, *.json.gz).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Directory for the CSV files, `schema.cypher` and `import.sh`.
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Database name used in the printed commands.
    #[arg(long, value_name = "NAME", default_value = "neo4j")]
    pub database: String,
    /// Replace an earlier export in DIR.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(clap::Args, Debug)]
pub struct GraphmlArgs {
    /// Report files or directories (searched recursively for *.json, *.json.gz).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Directory for one `<report>.graphml` per report (subfolders kept).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(clap::Args, Debug)]
pub struct JsonlArgs {
    /// Report files or directories (searched recursively for *.json, *.json.gz).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output file (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Label of every graph (with --labels: of those whose sample is not in the file).
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
    /// CSV file of `sha256,label` lines: each graph's label by its sample's SHA-256.
    #[arg(long, value_name = "FILE.csv")]
    pub labels: Option<PathBuf>,
    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(config: Option<&Path>, action: ExportAction) -> i32 {
    let graph_args = match &action {
        ExportAction::Neo4jCsv(a) => &a.graph,
        ExportAction::Graphml(a) => &a.graph,
        ExportAction::Jsonl(a) => &a.graph,
    };
    let mut overrides = Vec::new();
    graph_args.overrides(&mut overrides);
    let Some(settings) = load_settings(config, &overrides) else {
        return EXIT_USAGE;
    };
    match action {
        ExportAction::Neo4jCsv(a) => neo4j_csv(&settings, a),
        ExportAction::Graphml(a) => graphml(&settings, a),
        ExportAction::Jsonl(a) => jsonl(&settings, a),
    }
}

/// What happened to each report, for the summary line.
#[derive(Default)]
struct Counts {
    exported: usize,
    no_behaviour: usize,
    empty: usize,
    failed: usize,
    repeated: usize,
}

impl Counts {
    fn outcome(&mut self, a: &Analysis) {
        match a.outcome {
            Outcome::Built(_) => {}
            Outcome::NoBehaviour => self.no_behaviour += 1,
            Outcome::Empty => self.empty += 1,
        }
    }

    fn line(&self, what: &str, reports: usize) -> String {
        let mut s = format!(
            "{what} {}, no behaviour {}, empty {}, failed {}",
            self.exported, self.no_behaviour, self.empty, self.failed
        );
        if self.repeated > 0 {
            s.push_str(&format!(", repeated {}", self.repeated));
        }
        s.push_str(&format!(" ({reports} reports)"));
        s
    }
}

/// Find the reports; print and count what could not be walked.
fn find(paths: &[PathBuf]) -> (Vec<Found>, usize) {
    let (found, errors) = find_reports(paths);
    for (p, e) in &errors {
        eprintln!("error: {}: {e}", p.display());
    }
    (found, errors.len())
}

/// Run `work` on every report on `jobs` threads and hand the results to
/// `consume` on this thread, in input order. At most a window of results
/// waits for an earlier one, so memory stays bounded. `consume` returning
/// `Err` stops the run.
fn for_each_ordered<T: Send>(
    found: &[Found],
    jobs: usize,
    bar: &ProgressBar,
    work: impl Fn(&Found) -> T + Sync,
    mut consume: impl FnMut(&Found, T) -> Result<()>,
) -> Result<()> {
    let jobs = jobs.clamp(1, found.len().max(1));
    let window = jobs * 4;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results `consume` has taken; workers wait until their index
    // is inside the window.
    let done = Mutex::new(0usize);
    let moved = Condvar::new();
    let (tx, rx) = mpsc::sync_channel::<(usize, T)>(window);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop, done, moved, work) = (&next, &stop, &done, &moved, &work);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= found.len() {
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
                let out = work(&found[i]);
                if tx.send((i, out)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, T> = BTreeMap::new();
        let mut want = 0usize;
        let mut result = Ok(());
        for (i, out) in rx.iter() {
            pending.insert(i, out);
            while let Some(out) = pending.remove(&want) {
                bar.inc(1);
                if let Err(e) = consume(&found[want], out) {
                    result = Err(e);
                    break;
                }
                want += 1;
                *done.lock().unwrap_or_else(|e| e.into_inner()) = want;
                moved.notify_all();
            }
            if result.is_err() {
                break;
            }
        }
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
            moved.notify_all();
        }
        // Dropping the receiver ends every worker blocked on a full channel.
        drop(rx);
        result
    })
}

// ---------------------------------------------------------------- neo4j-csv

enum CsvItem {
    Ready(csvsink::Prepared),
    Failed,
}

fn neo4j_csv(settings: &Settings, args: CsvArgs) -> i32 {
    if let Err(e) = prepare_csv_dir(&args.out, args.force) {
        eprintln!("error: {e:#}");
        return EXIT_USAGE;
    }
    let (found, walk_failed) = find(&args.paths);
    let mut writer = match CsvWriter::create(&args.out) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {}: {e}", args.out.display());
            return EXIT_USAGE;
        }
    };
    let cfg = settings.graph_config();
    let max_len = settings.limits.max_string_len;
    let counts = Mutex::new(Counts {
        failed: walk_failed,
        ..Counts::default()
    });
    let bar = super::progress_bar("exporting", found.len() as u64);
    let result = for_each_ordered(
        &found,
        settings.jobs(),
        &bar,
        |item| match build_report(&item.path, &cfg, settings.read_limits()) {
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e}"));
                CsvItem::Failed
            }
            Ok(a) => {
                if let Ok(mut c) = counts.lock() {
                    c.outcome(&a);
                }
                let id = a.meta.id.clone();
                match csvsink::prepare(id, analysis_rows(&a, max_len)) {
                    Ok(p) => CsvItem::Ready(p),
                    Err(e) => {
                        bar.suspend(|| eprintln!("error: {}: {e}", item.path.display()));
                        CsvItem::Failed
                    }
                }
            }
        },
        |item, out| {
            let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
            match out {
                CsvItem::Failed => c.failed += 1,
                CsvItem::Ready(p) => {
                    let added = writer
                        .add(p)
                        .with_context(|| format!("writing the CSV files in {}", args.out.display()))?;
                    if added {
                        c.exported += 1;
                    } else {
                        c.repeated += 1;
                        tracing::info!("{}: the same report was exported earlier; skipped", item.path.display());
                    }
                }
            }
            Ok(())
        },
    );
    bar.finish_and_clear();
    let counts = counts.into_inner().unwrap_or_default();
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        return EXIT_FAILED;
    }
    let summary = match writer.finish(&args.database) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: writing the CSV files in {}: {e}", args.out.display());
            return EXIT_FAILED;
        }
    };
    let nodes: u64 = summary.files.iter().filter(|f| !f.0.is_rel()).map(|f| f.2).sum();
    let rels: u64 = summary.files.iter().filter(|f| f.0.is_rel()).map(|f| f.2).sum();
    eprintln!(
        "{} → {}: {nodes} nodes, {rels} relationships in {} files",
        counts.line("exported", found.len()),
        args.out.display(),
        summary.files.len()
    );
    if summary.files.is_empty() {
        eprintln!("nothing to import");
        return if counts.failed > 0 { EXIT_FAILED } else { EXIT_OK };
    }
    // The commands on stdout, ready to paste (also in import.sh).
    println!("{}", csvsink::admin_command(&summary, &args.database));
    println!(
        "# then start Neo4j, create the database if it is not the default one, and add the schema:\n# {}",
        csvsink::schema_command(&summary, &args.database)
    );
    if counts.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// The output folder must not hold another export (files of labels this run
/// does not write would be left behind), unless `--force` clears it.
fn prepare_csv_dir(dir: &Path, force: bool) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| dir.display().to_string()),
    };
    let mut ours = Vec::new();
    for e in entries {
        let e = e.with_context(|| dir.display().to_string())?;
        if csvsink::is_export_file(&e.file_name().to_string_lossy()) {
            ours.push(e.path());
        }
    }
    if ours.is_empty() {
        return Ok(());
    }
    if !force {
        bail!(
            "{} already holds an export ({} files); remove them or pass --force",
            dir.display(),
            ours.len()
        );
    }
    for p in ours {
        std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- graphml

/// `<out>/<relative dir>/<stem>.graphml`, the stem without `.json`/`.json.gz`.
pub fn graphml_path(out: &Path, relative: &Path) -> PathBuf {
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem = [".json.gz", ".json", ".gz"]
        .iter()
        .find(|s| lower.ends_with(*s))
        .map_or(name.as_str(), |s| &name[..name.len() - s.len()]);
    let file = format!("{stem}.graphml");
    match relative.parent() {
        Some(p) => out.join(p).join(file),
        None => out.join(file),
    }
}

/// [`graphml_path`] for every report, in input order; two reports that
/// would write the same file (same name from two arguments) get `-2`, `-3`…
/// in input order, as `build` names them.
fn graphml_paths(found: &[Found], out: &Path) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    found
        .iter()
        .map(|f| {
            let first = graphml_path(out, &f.relative);
            let mut path = first.clone();
            let mut n = 1;
            while !seen.insert(path.to_string_lossy().to_lowercase()) {
                n += 1;
                let stem = first
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                path = first.with_file_name(format!("{stem}-{n}.graphml"));
            }
            path
        })
        .collect()
}

enum Done {
    Exported,
    Skipped,
    Failed,
}

fn graphml(settings: &Settings, args: GraphmlArgs) -> i32 {
    let (found, walk_failed) = find(&args.paths);
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: {}: {e}", args.out.display());
        return EXIT_USAGE;
    }
    let cfg = settings.graph_config();
    let counts = Mutex::new(Counts {
        failed: walk_failed,
        ..Counts::default()
    });
    let bar = super::progress_bar("exporting", found.len() as u64);
    let paths = graphml_paths(&found, &args.out);
    let path_of: HashMap<&Path, &PathBuf> = found.iter().map(|f| f.path.as_path()).zip(&paths).collect();
    let write = |a: &Analysis, item: &Found| -> Result<()> {
        let Some(g) = a.graph() else { return Ok(()) };
        let path = path_of
            .get(item.path.as_path())
            .map_or_else(|| graphml_path(&args.out, &item.relative), |p| (*p).clone());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let file = std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
        let mut w = BufWriter::with_capacity(256 * 1024, file);
        graphml::write_graphml(&mut w, a, g)
            .and_then(|_| w.flush())
            .with_context(|| format!("writing {}", path.display()))
    };
    let _ = for_each_ordered(
        &found,
        settings.jobs(),
        &bar,
        |item| match build_report(&item.path, &cfg, settings.read_limits()) {
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e}"));
                Done::Failed
            }
            Ok(a) => {
                if let Ok(mut c) = counts.lock() {
                    c.outcome(&a);
                }
                match write(&a, item) {
                    Ok(()) if a.graph().is_some() => Done::Exported,
                    Ok(()) => Done::Skipped,
                    Err(e) => {
                        bar.suspend(|| eprintln!("error: {}: {e:#}", item.path.display()));
                        Done::Failed
                    }
                }
            }
        },
        |_, d| {
            let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
            match d {
                Done::Exported => c.exported += 1,
                Done::Skipped => {}
                Done::Failed => c.failed += 1,
            }
            Ok(())
        },
    );
    bar.finish_and_clear();
    let counts = counts.into_inner().unwrap_or_default();
    eprintln!("{} → {}", counts.line("exported", found.len()), args.out.display());
    if counts.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

// ---------------------------------------------------------------- jsonl

/// Read a `sha256,label` CSV file: optional header line (`sha256,…`), blank
/// lines and `#` comments ignored, fields may be quoted. Hashes are compared
/// in lower case; a hash given twice with two labels is an error.
pub fn read_labels(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut map: HashMap<String, String> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields =
            split_csv_line(line).with_context(|| format!("{}:{}: unbalanced quotes", path.display(), n + 1))?;
        let (sha, label) = match fields.as_slice() {
            [sha, label, ..] => (sha.trim().to_lowercase(), label.trim().to_owned()),
            _ => bail!("{}:{}: expected `sha256,label`", path.display(), n + 1),
        };
        if n == 0 && sha == "sha256" {
            continue;
        }
        if let Some(old) = map.get(&sha) {
            if *old != label {
                bail!(
                    "{}:{}: {sha} has two labels ({old:?} and {label:?})",
                    path.display(),
                    n + 1
                );
            }
        }
        map.insert(sha, label);
    }
    Ok(map)
}

/// The fields of one CSV line (RFC 4180 quoting); `None` on an open quote.
fn split_csv_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

enum Line {
    Bytes(Vec<u8>, bool),
    Skipped,
    Failed,
}

fn jsonl(settings: &Settings, args: JsonlArgs) -> i32 {
    let labels = match &args.labels {
        None => None,
        Some(p) => match read_labels(p) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("error: {e:#}");
                return EXIT_USAGE;
            }
        },
    };
    let (found, walk_failed) = find(&args.paths);
    let mut out: Box<dyn Write> = match &args.out {
        None => Box::new(BufWriter::with_capacity(256 * 1024, std::io::stdout().lock())),
        Some(p) if p.as_os_str() == "-" => Box::new(BufWriter::with_capacity(256 * 1024, std::io::stdout().lock())),
        Some(p) => {
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Err(e) = std::fs::create_dir_all(parent) {
                    eprintln!("error: {}: {e}", parent.display());
                    return EXIT_USAGE;
                }
            }
            match std::fs::File::create(p) {
                Ok(f) => Box::new(BufWriter::with_capacity(256 * 1024, f)),
                Err(e) => {
                    eprintln!("error: {}: {e}", p.display());
                    return EXIT_USAGE;
                }
            }
        }
    };
    let label_of = |a: &Analysis| -> Option<String> {
        let from_file = labels.as_ref().and_then(|m| {
            a.meta
                .sample
                .sha256
                .as_ref()
                .and_then(|s| m.get(&s.to_lowercase()).cloned())
        });
        from_file.or_else(|| args.label.clone())
    };
    let cfg = settings.graph_config();
    let counts = Mutex::new(Counts {
        failed: walk_failed,
        ..Counts::default()
    });
    let mut unlabelled = 0usize;
    let bar = super::progress_bar("exporting", found.len() as u64);
    let result = for_each_ordered(
        &found,
        settings.jobs(),
        &bar,
        |item| match build_report(&item.path, &cfg, settings.read_limits()) {
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e}"));
                Line::Failed
            }
            Ok(a) => {
                if let Ok(mut c) = counts.lock() {
                    c.outcome(&a);
                }
                let Some(g) = a.graph() else { return Line::Skipped };
                let label = label_of(&a);
                let mut buf = Vec::with_capacity(64 * (g.nodes.len() + g.edges.len()) + 1024);
                match jsonl::write_line(&mut buf, &a, g, label.as_deref()) {
                    Ok(()) => Line::Bytes(buf, label.is_some()),
                    Err(e) => {
                        bar.suspend(|| eprintln!("error: {}: {e}", item.path.display()));
                        Line::Failed
                    }
                }
            }
        },
        |_, line| {
            let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
            match line {
                Line::Bytes(b, labelled) => {
                    out.write_all(&b).context("writing the JSON lines")?;
                    c.exported += 1;
                    if !labelled {
                        unlabelled += 1;
                    }
                }
                Line::Skipped => {}
                Line::Failed => c.failed += 1,
            }
            Ok(())
        },
    );
    bar.finish_and_clear();
    let result = result.and_then(|_| out.flush().context("writing the JSON lines"));
    let counts = counts.into_inner().unwrap_or_default();
    if let Err(e) = result {
        let broken_pipe = e
            .chain()
            .any(|c| c.downcast_ref::<std::io::Error>().map(|io| io.kind()) == Some(std::io::ErrorKind::BrokenPipe));
        if !broken_pipe {
            eprintln!("error: {e:#}");
            return EXIT_FAILED;
        }
    }
    let mut line = counts.line("exported", found.len());
    if (args.label.is_some() || labels.is_some()) && unlabelled > 0 {
        line.push_str(&format!("; {unlabelled} graphs without a label"));
    }
    match &args.out {
        Some(p) if p.as_os_str() != "-" => eprintln!("{line} → {}", p.display()),
        _ => eprintln!("{line}"),
    }
    if counts.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphml_names_replace_the_report_suffix_and_keep_subfolders() {
        let out = Path::new("out");
        assert_eq!(
            graphml_path(out, Path::new("a/r.json.gz")),
            Path::new("out/a/r.graphml")
        );
        assert_eq!(graphml_path(out, Path::new("R.JSON")), Path::new("out/R.graphml"));
        assert_eq!(graphml_path(out, Path::new("report")), Path::new("out/report.graphml"));
        let found: Vec<Found> = ["a/r.json", "b/r.json.gz", "R.json"]
            .iter()
            .map(|p| Found {
                path: PathBuf::from(p),
                relative: PathBuf::from(Path::new(p).file_name().unwrap_or_default()),
            })
            .collect();
        assert_eq!(
            graphml_paths(&found, out),
            vec![
                PathBuf::from("out/r.graphml"),
                PathBuf::from("out/r-2.graphml"),
                PathBuf::from("out/R-3.graphml")
            ]
        );
    }

    #[test]
    fn csv_lines_split_with_quotes() {
        assert_eq!(split_csv_line("a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(
            split_csv_line(r#"a,"x, ""y""",c"#).unwrap(),
            vec!["a", r#"x, "y""#, "c"]
        );
        assert!(split_csv_line(r#"a,"open"#).is_none());
    }

    #[test]
    fn ordered_results_come_in_input_order() {
        let found: Vec<Found> = (0..50)
            .map(|i| Found {
                path: PathBuf::from(i.to_string()),
                relative: PathBuf::from(i.to_string()),
            })
            .collect();
        let mut seen = Vec::new();
        for_each_ordered(
            &found,
            4,
            &ProgressBar::hidden(),
            |f| {
                let i: u64 = f.path.to_string_lossy().parse().unwrap_or(0);
                // Later items finish first.
                std::thread::sleep(std::time::Duration::from_micros((50 - i) * 50));
                i
            },
            |_, i| {
                seen.push(i);
                Ok(())
            },
        )
        .expect("runs");
        assert_eq!(seen, (0..50).collect::<Vec<u64>>());
    }

    #[test]
    fn a_failing_consumer_stops_the_run() {
        let found: Vec<Found> = (0..100)
            .map(|i| Found {
                path: PathBuf::from(i.to_string()),
                relative: PathBuf::from(i.to_string()),
            })
            .collect();
        let worked = AtomicUsize::new(0);
        let r = for_each_ordered(
            &found,
            3,
            &ProgressBar::hidden(),
            |_| worked.fetch_add(1, Ordering::Relaxed),
            |_, _| bail!("disk full"),
        );
        assert!(r.is_err());
        assert!(worked.load(Ordering::Relaxed) < 100, "workers stopped early");
    }
}
