//! `graphmalw export`: the graphs as files for other tools.
//!
//! - `neo4j-csv`: the Neo4j model (exactly what `ingest` writes) as CSV for
//!   `neo4j-admin database import full`, for a first load of a large archive.
//! - `graphml`: one GraphML file per report (Gephi, yEd, NetworkX).
//! - `jsonl`: one graph per line, types as integer indices, with a label
//!   (for PyTorch Geometric, DGL, NetworkX…).
//!
//! Reports go through the [pipeline](crate::pipeline): built on `jobs`
//! threads, then written in input order by one [`Output`] (the CSV writer,
//! the stream of lines; GraphML files are written by the workers), so the
//! output is the same bytes for the same inputs whatever the thread count,
//! and memory does not grow with the number of reports.

use super::{load_settings, GraphArgs, Target, EXIT_FAILED, EXIT_USAGE};
use crate::model::Analysis;
use crate::pipeline::{Done, FilesWritten, Found, Output, Tally};
use crate::settings::Settings;
use crate::sink::csv::{self as csvsink, CsvWriter};
use crate::sink::{graphml, jsonl};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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
    let Some(settings) = load_settings(config, |s| {
        graph_args.apply(s);
        Ok(())
    }) else {
        return EXIT_USAGE;
    };
    match action {
        ExportAction::Neo4jCsv(a) => neo4j_csv(&settings, a),
        ExportAction::Graphml(a) => graphml(&settings, a),
        ExportAction::Jsonl(a) => jsonl(&settings, a),
    }
}

// ---------------------------------------------------------------- neo4j-csv

/// The CSV files of the export: one writer, fed in input order.
struct CsvOutput<'a> {
    writer: CsvWriter,
    dir: &'a Path,
}

impl Output for CsvOutput<'_> {
    type Item = csvsink::Prepared;
    fn write(&mut self, found: &Found, prepared: csvsink::Prepared, tally: &mut Tally) -> Result<()> {
        let added = self
            .writer
            .add(prepared)
            .with_context(|| format!("writing the CSV files in {}", self.dir.display()))?;
        if added {
            tally.written += 1;
        } else {
            tally.skipped += 1;
            tracing::info!(
                "{}: the same report was exported earlier; skipped",
                found.path.display()
            );
        }
        Ok(())
    }
}

fn neo4j_csv(settings: &Settings, args: CsvArgs) -> i32 {
    if let Err(e) = prepare_csv_dir(&args.out, args.force) {
        eprintln!("error: {e:#}");
        return EXIT_USAGE;
    }
    let (found, walk_failed) = super::find(&args.paths);
    let writer = match CsvWriter::create(&args.out) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {}: {e}", args.out.display());
            return EXIT_USAGE;
        }
    };
    let mut out = CsvOutput { writer, dir: &args.out };
    let max_len = settings.limits.max_string_len;
    let marks = match settings.marks(false) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_USAGE;
        }
    };
    let mut tally = Tally {
        failed: walk_failed,
        ..Tally::default()
    };
    let bar = super::progress_bar("exporting", found.len() as u64);
    let prepare = |_: &Found, a: &Analysis| {
        Ok(Done::Ready(csvsink::prepare(
            a.meta.id.clone(),
            marks.rows(a, max_len),
        )?))
    };
    let result = settings.pipeline().run(&found, &bar, &mut tally, prepare, &mut out);
    bar.finish_and_clear();
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        return EXIT_FAILED;
    }
    let summary = match out.writer.finish(&args.database) {
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
        tally.line("exported", found.len()),
        args.out.display(),
        summary.files.len()
    );
    if summary.files.is_empty() {
        eprintln!("nothing to import");
        return super::exit_code(&tally);
    }
    // The commands on stdout, ready to paste (also in import.sh).
    println!("{}", csvsink::admin_command(&summary, &args.database));
    println!(
        "# then start Neo4j, create the database if it is not the default one, and add the schema:\n# {}",
        csvsink::schema_command(&summary, &args.database)
    );
    super::exit_code(&tally)
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
    super::output_file(out, relative, "graphml")
}

/// [`graphml_path`] for every report, in input order; two reports that
/// would write the same file (same name from two arguments) get `-2`, `-3`…
/// in input order, as `build` names them.
fn graphml_paths(found: Vec<Found>, out: &Path) -> Vec<Target> {
    let mut seen = std::collections::HashSet::new();
    found
        .into_iter()
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
            Target { found: f, path }
        })
        .collect()
}

fn graphml(settings: &Settings, args: GraphmlArgs) -> i32 {
    let (found, walk_failed) = super::find(&args.paths);
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: {}: {e}", args.out.display());
        return EXIT_USAGE;
    }
    let targets = graphml_paths(found, &args.out);
    let mut tally = Tally {
        failed: walk_failed,
        ..Tally::default()
    };
    let bar = super::progress_bar("exporting", targets.len() as u64);
    // Each worker writes its report's file.
    let prepare = |t: &Target, a: &Analysis| -> Result<Done<()>> {
        let Some(g) = a.graph() else { return Ok(Done::Nothing) };
        if let Some(parent) = t.path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let file = std::fs::File::create(&t.path).with_context(|| format!("writing {}", t.path.display()))?;
        let mut w = BufWriter::with_capacity(256 * 1024, file);
        graphml::write_graphml(&mut w, a, g)
            .and_then(|_| w.flush())
            .with_context(|| format!("writing {}", t.path.display()))?;
        Ok(Done::Ready(()))
    };
    // Counting written files cannot fail: there is no error to report.
    let _ = settings
        .pipeline()
        .run(&targets, &bar, &mut tally, prepare, &mut FilesWritten);
    bar.finish_and_clear();
    eprintln!("{} → {}", tally.line("exported", targets.len()), args.out.display());
    super::exit_code(&tally)
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

/// The JSON lines: one writer (a file or standard output), fed in input order.
struct Lines {
    out: Box<dyn Write>,
    unlabelled: usize,
}

impl Output for Lines {
    /// A line, and whether it has a label.
    type Item = (Vec<u8>, bool);
    fn write(&mut self, _: &Found, (line, labelled): (Vec<u8>, bool), tally: &mut Tally) -> Result<()> {
        self.out.write_all(&line).context("writing the JSON lines")?;
        tally.written += 1;
        if !labelled {
            self.unlabelled += 1;
        }
        Ok(())
    }
}

/// Where the lines go: `--out FILE`, or standard output when absent or `-`.
fn open_lines(out: Option<&Path>) -> Result<Box<dyn Write>> {
    let Some(p) = out.filter(|p| p.as_os_str() != "-") else {
        return Ok(Box::new(BufWriter::with_capacity(256 * 1024, std::io::stdout().lock())));
    };
    if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    }
    let f = std::fs::File::create(p).with_context(|| p.display().to_string())?;
    Ok(Box::new(BufWriter::with_capacity(256 * 1024, f)))
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
    let (found, walk_failed) = super::find(&args.paths);
    let mut out = match open_lines(args.out.as_deref()) {
        Ok(w) => Lines { out: w, unlabelled: 0 },
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_USAGE;
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
    let mut tally = Tally {
        failed: walk_failed,
        ..Tally::default()
    };
    let bar = super::progress_bar("exporting", found.len() as u64);
    let prepare = |_: &Found, a: &Analysis| -> Result<Done<(Vec<u8>, bool)>> {
        let Some(g) = a.graph() else { return Ok(Done::Nothing) };
        let label = label_of(a);
        let mut buf = Vec::with_capacity(64 * (g.nodes.len() + g.edges.len()) + 1024);
        jsonl::write_line(&mut buf, a, g, label.as_deref())?;
        Ok(Done::Ready((buf, label.is_some())))
    };
    let result = settings.pipeline().run(&found, &bar, &mut tally, prepare, &mut out);
    bar.finish_and_clear();
    let result = result.and_then(|_| out.out.flush().context("writing the JSON lines"));
    if let Err(e) = result {
        let broken_pipe = e
            .chain()
            .any(|c| c.downcast_ref::<std::io::Error>().map(|io| io.kind()) == Some(std::io::ErrorKind::BrokenPipe));
        if !broken_pipe {
            eprintln!("error: {e:#}");
            return EXIT_FAILED;
        }
    }
    let mut line = tally.line("exported", found.len());
    if (args.label.is_some() || labels.is_some()) && out.unlabelled > 0 {
        line.push_str(&format!("; {} graphs without a label", out.unlabelled));
    }
    match &args.out {
        Some(p) if p.as_os_str() != "-" => eprintln!("{line} → {}", p.display()),
        _ => eprintln!("{line}"),
    }
    super::exit_code(&tally)
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
            graphml_paths(found, out)
                .into_iter()
                .map(|t| t.path)
                .collect::<Vec<_>>(),
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
}
