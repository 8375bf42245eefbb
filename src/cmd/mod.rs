//! The command line: argument parsing, logging set-up, and one module per
//! command.
//!
//! A command loads the [settings](crate::settings) with its options put in
//! (typed, [`GraphArgs::apply`], [`DbArgs::apply`]), runs the
//! [pipeline](crate::pipeline) into the output it chooses, and phrases the
//! summary. Commands return an exit code; only this layer prints errors.

mod baseline;
mod build;
mod config_show;
mod correlate;
mod export;
mod ingest;
mod query;
mod safelist;

use crate::pipeline::{find_reports, Found, Tally};
use crate::settings::Settings;
use crate::sink::neo4j::{Neo4jSettings, Secret};
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use tracing_subscriber::EnvFilter;

/// Exit codes.
pub const EXIT_OK: i32 = 0;
/// Some input failed; the rest was processed.
pub const EXIT_FAILED: i32 = 1;
/// Bad usage or settings: nothing was processed.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "graphmalw",
    version,
    about = "Sandbox reports (Cuckoo 2.x, CAPEv2) → behaviour graphs → Neo4j"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Settings file (default: ./graphmalw.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build one behaviour graph per report, as JSON, DOT or SVG.
    Build(build::BuildArgs),
    /// Build graphs in parallel and write them into Neo4j (batched, idempotent).
    Ingest(ingest::IngestArgs),
    /// Export graphs for bulk loading (neo4j-admin CSV) and machine learning (GraphML, JSON Lines).
    Export {
        #[command(subcommand)]
        format: export::ExportAction,
    },
    /// Campaigns: analyses linked by shared rare indicators, written back as :Campaign nodes.
    Correlate(correlate::CorrelateArgs),
    /// Mark analyses as a clean baseline, whose indicators never link samples.
    Baseline {
        #[command(subcommand)]
        action: baseline::BaselineAction,
    },
    /// The safelist of background indicators: apply it to the database, check a value.
    Safelist {
        #[command(subcommand)]
        action: safelist::SafelistAction,
    },
    /// The shipped hunting queries: list, show, run.
    Query {
        #[command(subcommand)]
        action: query::QueryAction,
    },
    /// Show settings.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Print the effective settings (defaults, file, environment) as TOML.
    Show,
}

/// Graph options shared by every command that builds graphs.
#[derive(clap::Args, Debug, Default)]
pub struct GraphArgs {
    /// Do not emit api-api sequence edges (rule S1).
    #[arg(long)]
    pub no_sequence_edges: bool,
    /// Call categories that count (rule C1), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "CAT,...")]
    pub categories: Option<Vec<String>>,
    /// Module strings ignored by loader calls (rule M1), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "MOD,...")]
    pub ignore_modules: Option<Vec<String>>,
    /// Cores to use (default: all): N reports at a time; a core left without
    /// a report helps with a big one's calls; with 1, one core only.
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
}

impl GraphArgs {
    /// Put the options given into `s`.
    pub fn apply(&self, s: &mut Settings) {
        if self.no_sequence_edges {
            s.graph.sequence_edges = false;
        }
        if let Some(c) = &self.categories {
            s.graph.categories = c.clone();
        }
        if let Some(m) = &self.ignore_modules {
            s.graph.ignore_modules = m.clone();
        }
        if let Some(j) = self.jobs {
            s.jobs = j;
        }
    }
}

/// Connection options shared by `ingest` and `query`.
#[derive(clap::Args, Debug, Default)]
pub struct DbArgs {
    /// Bolt URI (bolt://, bolt+s://, neo4j://, neo4j+s:// or host:port); env NEO4J_URI.
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
    /// User name; env NEO4J_USERNAME.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Read the password from the first line of standard input (else env NEO4J_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,
    /// Database name; env NEO4J_DATABASE.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
}

impl DbArgs {
    /// Put the options given into `neo`; `--password-stdin` reads the password here.
    pub fn apply(&self, neo: &mut Neo4jSettings) -> anyhow::Result<()> {
        if let Some(u) = &self.uri {
            neo.uri = u.clone();
        }
        if let Some(u) = &self.user {
            neo.user = u.clone();
        }
        if let Some(d) = &self.database {
            neo.database = d.clone();
        }
        if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| anyhow::anyhow!("reading the password from stdin: {e}"))?;
            let pw = line.trim_end_matches(['\r', '\n']).to_owned();
            anyhow::ensure!(!pw.is_empty(), "--password-stdin: standard input held no password");
            neo.password = Secret::new(pw);
        }
        Ok(())
    }
}

/// A report and the file a command writes for it.
pub(crate) struct Target {
    found: Found,
    path: PathBuf,
}

impl AsRef<Found> for Target {
    fn as_ref(&self) -> &Found {
        &self.found
    }
}

/// `<out>/<relative dir>/<stem>.<ext>`: the file a command writes for the
/// report found at `relative`, its stem without `.json`/`.json.gz`/`.gz`.
fn output_file(out: &Path, relative: &Path, ext: &str) -> PathBuf {
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem = [".json.gz", ".json", ".gz"]
        .iter()
        .find(|s| lower.ends_with(*s))
        .map_or(name.as_str(), |s| &name[..name.len() - s.len()]);
    let file = format!("{stem}.{ext}");
    match relative.parent() {
        Some(p) => out.join(p).join(file),
        None => out.join(file),
    }
}

/// Find the reports under `paths`; print what could not be walked and
/// return how many, to count as failed.
fn find(paths: &[PathBuf]) -> (Vec<Found>, usize) {
    let (found, errors) = find_reports(paths);
    for (p, e) in &errors {
        eprintln!("error: {}: {e}", p.display());
    }
    (found, errors.len())
}

/// The exit code after a run that processed everything it could.
fn exit_code(tally: &Tally) -> i32 {
    if tally.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// A bar over `len` reports on a terminal; hidden when stderr is not one
/// (piped output stays quiet) or there is only one report.
fn progress_bar(verb: &str, len: u64) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressStyle};
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) || len < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{{spinner}} {verb} [{{bar:30}}] {{pos}}/{{len}} reports {{per_sec}} eta {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Parse the command line, run the command, return the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    run(cli)
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "graphmalw={level},{}",
            if verbose >= 3 { "info" } else { "warn" }
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// The single-threaded async runtime of a command that talks to the
/// database one statement at a time (`correlate`, `baseline`, `safelist`,
/// `query`); `ingest` runs its own, with worker threads.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// The settings, with the command line's options put in by `change`;
/// `None` (the error printed) when they cannot be read or are not valid.
fn load_settings(
    cli_config: Option<&std::path::Path>,
    change: impl FnOnce(&mut Settings) -> anyhow::Result<()>,
) -> Option<Settings> {
    match Settings::load(cli_config, change) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("error: {e:#}");
            None
        }
    }
}

/// Completes on Ctrl-C. Once polled, Ctrl-C is the command's (a summary,
/// exit 130) instead of the default action that kills the process:
/// `tokio::signal::ctrl_c` installs its handler when first polled.
async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Build(args) => build::run(cli.config.as_deref(), args),
        Command::Ingest(args) => ingest::run(cli.config.as_deref(), args, ctrl_c()),
        Command::Export { format } => export::run(cli.config.as_deref(), format),
        Command::Correlate(args) => correlate::run(cli.config.as_deref(), args),
        Command::Baseline { action } => baseline::run(cli.config.as_deref(), action),
        Command::Safelist { action } => safelist::run(cli.config.as_deref(), action),
        Command::Query { action } => query::run(cli.config.as_deref(), action),
        Command::Config {
            action: ConfigAction::Show,
        } => config_show::run(cli.config.as_deref()),
    }
}
