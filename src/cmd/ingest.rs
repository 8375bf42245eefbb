//! `graphmalw ingest`: reports → graphs → Neo4j, as a pipeline.
//!
//! Worker threads read and build reports and turn each into parameter rows;
//! a bounded channel carries them to one async writer, which groups whole
//! analyses into batches of about `ingest.batch_size` rows and writes them
//! while the workers go on parsing. Memory is bounded by the channel, not by
//! the number of files. Per analysis the write protocol is: clear what an
//! earlier, interrupted run left; MERGE every node and relationship; then set
//! `complete = true`. A complete analysis is skipped unless `--force`.

use super::{load_settings, GraphArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::pipeline::{build_report, find_reports, Found};
use crate::settings::Settings;
use crate::sink::neo4j::{DbError, Neo4jSink, Written};
use crate::store::{analysis_rows, Label, Rel, Rows};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit code after Ctrl-C, as shells expect (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Report files or directories (searched recursively for *.json, *.json.gz).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Rows per UNWIND statement.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Rewrite analyses that are already complete.
    #[arg(long)]
    pub force: bool,
    /// Build everything and report what would be written, without a database.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
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
    pub fn overrides(&self, out: &mut Vec<(&'static str, config::Value)>) -> Result<(), String> {
        if let Some(u) = &self.uri {
            out.push(("neo4j.uri", u.clone().into()));
        }
        if let Some(u) = &self.user {
            out.push(("neo4j.user", u.clone().into()));
        }
        if let Some(d) = &self.database {
            out.push(("neo4j.database", d.clone().into()));
        }
        if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("reading the password from stdin: {e}"))?;
            let pw = line.trim_end_matches(['\r', '\n']).to_owned();
            if pw.is_empty() {
                return Err("--password-stdin: standard input held no password".into());
            }
            out.push(("neo4j.password", pw.into()));
        }
        Ok(())
    }
}

/// One built report on its way to the writer.
enum Item {
    Ready { id: String, report: PathBuf, rows: Rows },
    Skipped,
    Failed,
}

/// Totals for the summary.
#[derive(Default)]
struct Totals {
    ingested: usize,
    skipped: usize,
    failed: usize,
    nodes: u64,
    rels: u64,
    truncated: u64,
    planned_nodes: BTreeMap<&'static str, usize>,
    planned_rels: BTreeMap<&'static str, usize>,
}

pub fn run(config: Option<&Path>, args: IngestArgs) -> i32 {
    let mut overrides = Vec::new();
    args.graph.overrides(&mut overrides);
    if let Err(e) = args.db.overrides(&mut overrides) {
        eprintln!("error: {e}");
        return EXIT_USAGE;
    }
    if let Some(b) = args.batch_size {
        overrides.push(("ingest.batch_size", (b as u64).into()));
    }
    let Some(settings) = load_settings(config, &overrides) else {
        return EXIT_USAGE;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return EXIT_FAILED;
        }
    };
    runtime.block_on(ingest(settings, args))
}

async fn ingest(settings: Settings, args: IngestArgs) -> i32 {
    let started = Instant::now();
    // Ctrl-C is ours (exit 130, summary) from here on, not the default action
    // that kills the process: `ctrl_c()` installs its handler when first polled.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    tokio::select! {
        biased;
        _ = &mut ctrl_c => {
            eprintln!("interrupted before anything was written");
            return EXIT_INTERRUPTED;
        }
        _ = std::future::ready(()) => {}
    }
    let (found, walk_errors) = find_reports(&args.paths);
    for (path, e) in &walk_errors {
        eprintln!("error: {}: {e}", path.display());
    }

    let setup = async {
        let sink = if args.dry_run {
            None
        } else {
            let sink = Neo4jSink::connect(&settings.neo4j, &settings.ingest).await?;
            sink.ensure_schema().await?;
            Some(sink)
        };
        let complete = match (&sink, args.force) {
            (Some(s), false) => s.complete_analyses().await?,
            _ => HashSet::new(),
        };
        Ok::<_, DbError>((sink, complete))
    };
    let (sink, complete) = tokio::select! {
        r = setup => match r {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILED;
            }
        },
        _ = &mut ctrl_c => {
            eprintln!("interrupted before anything was written");
            return EXIT_INTERRUPTED;
        }
    };

    let jobs = settings.jobs().min(found.len().max(1));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(jobs * 2);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = spawn_workers(
        Arc::new(found.clone()),
        Arc::new(settings.clone()),
        Arc::new(complete),
        jobs,
        tx,
        stop.clone(),
    );

    let bar = progress_bar(found.len() as u64);
    let mut totals = Totals {
        failed: walk_errors.len(),
        ..Totals::default()
    };
    let mut pending: Vec<(String, PathBuf, Rows)> = Vec::new();
    let mut pending_rows = 0usize;
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut interrupted = false;
    let mut fatal: Option<DbError> = None;
    let mut last_log = Instant::now();
    let batch_size = settings.ingest.batch_size;

    // A batch waits for more analyses until it holds `batch_size` rows, but
    // never longer than this, so slow parsing still shows progress.
    const MAX_WAIT: Duration = Duration::from_millis(1000);
    const FLUSH_BATCHES: usize = 10;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let item = tokio::select! {
            item = rx.recv() => Some(item),
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => None,
            _ = &mut ctrl_c => {
                interrupted = true;
                stop.store(true, Ordering::Relaxed);
                bar.suspend(|| eprintln!("interrupted: stopping before the next batch"));
                Some(None)
            }
        };
        let timed_out = item.is_none();
        let item = item.flatten();
        let closed = item.is_none() && !timed_out;
        match item {
            Some(Item::Ready { id, report, rows }) => {
                bar.inc(1);
                if seen_ids.insert(id.clone()) {
                    pending_rows += rows.len();
                    pending.push((id, report, rows));
                } else {
                    totals.skipped += 1;
                }
            }
            Some(Item::Skipped) => {
                bar.inc(1);
                totals.skipped += 1;
            }
            Some(Item::Failed) => {
                bar.inc(1);
                totals.failed += 1;
            }
            None => {}
        }
        if pending.is_empty() {
            deadline = None;
        } else if deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + MAX_WAIT);
        }
        // Rows spread over some thirty statements (one per label and type), so a
        // flush gathers several batches' worth: each UNWIND then carries
        // hundreds of rows instead of a few dozen (measured in BENCHMARKS.md).
        let flush_now = !pending.is_empty() && (closed || timed_out || pending_rows >= batch_size * FLUSH_BATCHES);
        if flush_now && !interrupted {
            let batch = std::mem::take(&mut pending);
            pending_rows = 0;
            deadline = None;
            // Ctrl-C abandons a batch being written (a stalled database may
            // hold it for minutes); the re-run rewrites what it left.
            let written = tokio::select! {
                r = flush(sink.as_ref(), batch, &mut totals, &bar) => Some(r),
                _ = &mut ctrl_c => None,
            };
            match written {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    fatal = Some(e);
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                None => {
                    interrupted = true;
                    stop.store(true, Ordering::Relaxed);
                    bar.suspend(|| eprintln!("interrupted: abandoning the batch being written, then stopping"));
                    break;
                }
            }
        }
        update_bar(&bar, &totals, started);
        if bar.is_hidden() && last_log.elapsed() > Duration::from_secs(10) && !closed {
            last_log = Instant::now();
            eprintln!(
                "progress: {} analyses written, {} skipped, {} failed, {} nodes + {} relationships",
                totals.ingested, totals.skipped, totals.failed, totals.nodes, totals.rels
            );
        }
        if closed || interrupted {
            break;
        }
    }
    drop(rx);
    for w in workers {
        let _ = w.join();
    }
    bar.finish_and_clear();

    print_summary(&totals, args.dry_run, started.elapsed(), found.len());
    if let Some(e) = fatal {
        eprintln!("error: {e}");
        eprintln!("stopped: the database is not usable; run the same command again to write the rest");
        return EXIT_FAILED;
    }
    if interrupted {
        eprintln!("interrupted: run the same command again to write the rest");
        return EXIT_INTERRUPTED;
    }
    if totals.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn spawn_workers(
    found: Arc<Vec<Found>>,
    settings: Arc<Settings>,
    complete: Arc<HashSet<String>>,
    jobs: usize,
    tx: tokio::sync::mpsc::Sender<Item>,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    let next = Arc::new(AtomicUsize::new(0));
    (0..jobs)
        .map(|_| {
            let (found, settings, complete, tx, stop, next) = (
                found.clone(),
                settings.clone(),
                complete.clone(),
                tx.clone(),
                stop.clone(),
                next.clone(),
            );
            std::thread::spawn(move || {
                let cfg = settings.graph_config();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(item) = found.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let out = match build_report(&item.path, &cfg, settings.read_limits()) {
                        Err(e) => {
                            eprintln!("error: {e}");
                            Item::Failed
                        }
                        Ok(a) if complete.contains(&a.meta.id) => Item::Skipped,
                        Ok(a) => Item::Ready {
                            id: a.meta.id.clone(),
                            report: item.path.clone(),
                            rows: analysis_rows(&a, settings.limits.max_string_len),
                        },
                    };
                    if tx.blocking_send(out).is_err() {
                        break;
                    }
                }
            })
        })
        .collect()
}

/// Write one group of whole analyses. A permanent error in a group of
/// several is narrowed down by writing them one by one; a database that
/// stays unreachable past the retry budget ends the ingest (`Err`).
async fn flush(
    sink: Option<&Neo4jSink>,
    batch: Vec<(String, PathBuf, Rows)>,
    totals: &mut Totals,
    bar: &ProgressBar,
) -> Result<(), DbError> {
    let Some(sink) = sink else {
        for (_, _, rows) in batch {
            count_plan(totals, &rows);
            totals.ingested += 1;
            totals.nodes += rows.node_rows() as u64;
            totals.rels += rows.rel_rows() as u64;
            totals.truncated += rows.truncated;
        }
        return Ok(());
    };
    match write_group(sink, &batch, totals, bar).await {
        Ok(()) => Ok(()),
        Err(e @ DbError::GaveUp { .. }) | Err(e @ DbError::Connect { .. }) => Err(e),
        Err(e) if batch.len() == 1 => {
            let (_, report, _) = &batch[0];
            bar.suspend(|| eprintln!("error: {}: {e}", report.display()));
            totals.failed += 1;
            Ok(())
        }
        Err(_) => {
            for one in batch {
                let single = vec![one];
                match write_group(sink, &single, totals, bar).await {
                    Ok(()) => {}
                    Err(e @ DbError::GaveUp { .. }) => return Err(e),
                    Err(e) => {
                        bar.suspend(|| eprintln!("error: {}: {e}", single[0].1.display()));
                        totals.failed += 1;
                    }
                }
            }
            Ok(())
        }
    }
}

async fn write_group(
    sink: &Neo4jSink,
    batch: &[(String, PathBuf, Rows)],
    totals: &mut Totals,
    bar: &ProgressBar,
) -> Result<(), DbError> {
    let ids: Vec<String> = batch.iter().map(|(id, _, _)| id.clone()).collect();
    let earlier = sink.existing_analyses(&ids).await?;
    if !earlier.is_empty() {
        let earlier: Vec<String> = earlier.into_iter().collect();
        sink.clear_analyses(&earlier).await?;
    }
    let mut merged = Rows::default();
    for (_, _, rows) in batch {
        merged.append(rows.clone());
    }
    let counted = std::cell::Cell::new(Written::default());
    sink.write(&merged, |w| {
        let mut c = counted.get();
        c.nodes += w.nodes;
        c.rels += w.rels;
        counted.set(c);
        bar.tick();
    })
    .await?;
    sink.mark_complete(&ids).await?;
    let w = counted.get();
    totals.ingested += batch.len();
    totals.nodes += w.nodes;
    totals.rels += w.rels;
    totals.truncated += merged.truncated;
    Ok(())
}

fn count_plan(totals: &mut Totals, rows: &Rows) {
    for (l, r) in &rows.nodes {
        *totals.planned_nodes.entry(Label::name(*l)).or_default() += r.len();
    }
    for (t, r) in &rows.rels {
        *totals.planned_rels.entry(Rel::type_name(*t)).or_default() += r.len();
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:25}] {pos}/{len} files {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn update_bar(bar: &ProgressBar, t: &Totals, started: Instant) {
    if bar.is_hidden() {
        return;
    }
    let secs = started.elapsed().as_secs_f64().max(0.001);
    bar.set_message(format!(
        "| {} analyses written | {:.0} nodes/s {:.0} rels/s | {} errors",
        t.ingested,
        t.nodes as f64 / secs,
        t.rels as f64 / secs,
        t.failed
    ));
}

fn print_summary(t: &Totals, dry_run: bool, elapsed: Duration, files: usize) {
    let secs = elapsed.as_secs_f64();
    if dry_run {
        eprintln!("dry run: nothing was written");
        for (label, n) in &t.planned_nodes {
            println!("node\t{label}\t{n}");
        }
        for (ty, n) in &t.planned_rels {
            println!("relationship\t{ty}\t{n}");
        }
    }
    eprintln!(
        "{} {} analyses, skipped {} (already complete or repeated), failed {} — {} files in {:.1}s",
        if dry_run { "would ingest" } else { "ingested" },
        t.ingested,
        t.skipped,
        t.failed,
        files,
        secs
    );
    eprintln!(
        "{} {} node rows and {} relationship rows ({:.0} rows/s){}",
        if dry_run { "would write" } else { "wrote" },
        t.nodes,
        t.rels,
        (t.nodes + t.rels) as f64 / secs.max(0.001),
        if t.truncated > 0 {
            format!(", {} long values truncated", t.truncated)
        } else {
            String::new()
        }
    );
}
