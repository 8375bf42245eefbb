//! `graphmalw build`: reports → graph files (or stdout for one report).
//!
//! With `--out DIR`, the pipeline's workers write one JSON, DOT or SVG file
//! per report, named after it ([`output_path`]); one report without `--out`
//! goes to standard output.

use super::{load_settings, GraphArgs, Target, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::model::{Analysis, Graph, Outcome};
use crate::pipeline::{build_report, Done, FilesWritten, Found, Tally};
use crate::settings::Settings;
use crate::sink::{dot, json, svg, HandleLabel, OutputFormat};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Report files (`report.json`, `*.json.gz`) or directories (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Directory for one output file per report (needed for several reports).
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Label handle nodes in DOT/SVG with their address or their full path.
    #[arg(long, value_enum)]
    pub handle_label: Option<HandleLabel>,
    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(config: Option<&Path>, args: BuildArgs) -> i32 {
    let Some(settings) = load_settings(config, |s| {
        args.graph.apply(s);
        if let Some(f) = args.format {
            s.output.format = f;
        }
        if let Some(h) = args.handle_label {
            s.output.handle_label = h;
        }
        Ok(())
    }) else {
        return EXIT_USAGE;
    };

    let (found, walk_failed) = super::find(&args.paths);
    if args.out.is_none() {
        if args.paths.len() != 1 || args.paths[0].is_dir() {
            eprintln!("error: --out DIR is needed to build several reports or a directory (one output file each)");
            return EXIT_USAGE;
        }
        // One file to stdout; a missing one was reported above.
        return match found.first() {
            Some(item) => build_to_stdout(&item.path, &settings),
            None => EXIT_FAILED,
        };
    }
    let out_dir = args.out.unwrap_or_default();
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("error: {}: {e}", out_dir.display());
        return EXIT_USAGE;
    }

    let targets = output_paths(found, &out_dir, settings.output.format);
    let mut tally = Tally {
        failed: walk_failed,
        ..Tally::default()
    };
    let bar = super::progress_bar("building", targets.len() as u64);
    // Each worker writes its report's file; a failed write fails that report only.
    let prepare = |t: &Target, analysis: &Analysis| match &analysis.outcome {
        Outcome::Built(_) => write_output(analysis, &settings, &t.path).map(Done::Ready),
        Outcome::NoBehaviour => {
            tracing::info!("{}: no behaviour (no processes): no graph", t.found.path.display());
            Ok(Done::Nothing)
        }
        Outcome::Empty => {
            tracing::info!(
                "{}: empty graph (no call passed the rules): no graph",
                t.found.path.display()
            );
            Ok(Done::Nothing)
        }
    };
    // Counting written files cannot fail: there is no error to report.
    let _ = settings
        .pipeline()
        .run(&targets, &bar, &mut tally, prepare, &mut FilesWritten);
    bar.finish_and_clear();
    eprintln!("{} → {}", tally.line("built", targets.len()), out_dir.display());
    super::exit_code(&tally)
}

fn build_to_stdout(path: &Path, settings: &Settings) -> i32 {
    let cfg = settings.graph_config();
    // One report on this thread: the other cores asked for parse its pieces.
    let lent = settings.jobs().saturating_sub(1);
    crate::report::set_cores(settings.jobs());
    crate::report::lend(lent);
    let built = build_report(path, &cfg, settings.read_limits());
    crate::report::reclaim(lent);
    match built {
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILED
        }
        Ok(analysis) => match &analysis.outcome {
            Outcome::Built(graph) => {
                let mut stdout = std::io::stdout().lock();
                let written = match settings.output.format {
                    // Streamed, as files are: the text of a big graph is not
                    // held whole in memory (82 MB for a 1 GiB report's).
                    OutputFormat::Json | OutputFormat::Dot => {
                        let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut stdout);
                        stream_graph(&mut out, &analysis, graph, settings).and_then(|()| out.flush())
                    }
                    OutputFormat::Svg => match render(&analysis, settings) {
                        Ok(bytes) => stdout.write_all(&bytes).and_then(|()| stdout.flush()),
                        Err(e) => {
                            eprintln!("error: {}: {e:#}", path.display());
                            return EXIT_FAILED;
                        }
                    },
                };
                match written {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                        eprintln!("error: writing to stdout: {e}");
                        EXIT_FAILED
                    }
                    _ => EXIT_OK,
                }
            }
            Outcome::NoBehaviour => {
                eprintln!("{}: no behaviour (no processes): no graph", path.display());
                EXIT_OK
            }
            Outcome::Empty => {
                eprintln!("{}: empty graph (no call passed the rules): no graph", path.display());
                EXIT_OK
            }
        },
    }
}

/// The output file for a report: its relative path under `out`, with the
/// `.json`/`.json.gz` suffix replaced.
pub fn output_path(out: &Path, relative: &Path, format: OutputFormat) -> PathBuf {
    let ext = match format {
        OutputFormat::Json => "graph.json",
        OutputFormat::Dot => "dot",
        OutputFormat::Svg => "svg",
    };
    super::output_file(out, relative, ext)
}

/// Output paths for every report, in input order. Two reports that would
/// write the same file (same name from two arguments) get `-2`, `-3`… in
/// input order, so nothing is overwritten and the names are deterministic.
fn output_paths(found: Vec<Found>, out_dir: &Path, format: OutputFormat) -> Vec<Target> {
    let mut seen = std::collections::HashSet::new();
    found
        .into_iter()
        .map(|f| {
            let first = output_path(out_dir, &f.relative, format);
            let mut path = first.clone();
            let mut n = 1;
            while !seen.insert(path.to_string_lossy().to_lowercase()) {
                n += 1;
                let name = first
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let (stem, ext) = name.split_once('.').unwrap_or((&name, ""));
                path = first.with_file_name(format!("{stem}-{n}.{ext}"));
            }
            Target { found: f, path }
        })
        .collect()
}

fn write_output(analysis: &Analysis, settings: &Settings, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let graph = match (analysis.graph(), settings.output.format) {
        (Some(g), OutputFormat::Json | OutputFormat::Dot) => g,
        _ => {
            let bytes = render(analysis, settings)?;
            return std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()));
        }
    };
    // JSON and DOT are written as they are produced, not rendered whole
    // first: memory follows the graph, not the size of its text.
    let file = std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    stream_graph(&mut out, analysis, graph, settings)
        .and_then(|()| out.flush())
        .with_context(|| format!("writing {}", path.display()))
}

/// Write a graph as JSON, or as DOT for any other format, as it is
/// produced; a big JSON graph in halves on two threads when a core is
/// left idle by the other workers.
fn stream_graph(out: &mut impl Write, analysis: &Analysis, graph: &Graph, settings: &Settings) -> std::io::Result<()> {
    match settings.output.format {
        OutputFormat::Json => json::write_graph_with(out, analysis, graph, crate::report::borrow_one),
        _ => dot::write_dot(out, graph, settings.output.handle_label, &analysis.meta.report),
    }
}

/// The bytes of one graph in the configured format.
pub fn render(analysis: &Analysis, settings: &Settings) -> Result<Vec<u8>> {
    let Some(graph) = analysis.graph() else {
        return Ok(Vec::new());
    };
    let mut buf = Vec::new();
    match settings.output.format {
        OutputFormat::Json => json::write_graph(&mut buf, analysis, graph)?,
        OutputFormat::Dot => dot::write_dot(&mut buf, graph, settings.output.handle_label, &analysis.meta.report)?,
        OutputFormat::Svg => {
            dot::write_dot(&mut buf, graph, settings.output.handle_label, &analysis.meta.report)?;
            buf = svg::render_svg(&buf)?;
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_replace_the_report_suffix_and_keep_subfolders() {
        let out = Path::new("out");
        assert_eq!(
            output_path(out, Path::new("a/r.json.gz"), OutputFormat::Json),
            Path::new("out/a/r.graph.json")
        );
        assert_eq!(
            output_path(out, Path::new("r.json"), OutputFormat::Dot),
            Path::new("out/r.dot")
        );
        assert_eq!(
            output_path(out, Path::new("report"), OutputFormat::Svg),
            Path::new("out/report.svg")
        );
    }
}
