//! `graphmalw ingest`: reports → graphs → Neo4j.
//!
//! The [pipeline](crate::pipeline) builds reports on worker threads and turns
//! each into parameter rows; a bounded channel carries them, in input order,
//! to one async writer while the workers go on parsing, so memory is bounded
//! by the channel, not by the number of files. The writer reacts to
//! [`Event`]s: a [`Batcher`] (pure, no I/O) gathers whole analyses until
//! they hold `ingest.flush_rows` rows or the oldest has waited a second,
//! and the group is written in statements of `ingest.statement_rows` rows,
//! `ingest.transaction_rows` rows per transaction. Per analysis the write
//! protocol is: clear what an earlier, interrupted run left; MERGE every node
//! and relationship; then set `complete = true`. A complete analysis is
//! skipped unless `--force`. Shutdown is a future passed in ([`run`] wires
//! Ctrl-C): it stops the run before the next group, or abandons the group
//! being written.

use super::{load_settings, DbArgs, GraphArgs, EXIT_FAILED, EXIT_USAGE};
use crate::model::Analysis;
use crate::pipeline::{Done, Found, Output, Tally};
use crate::settings::Settings;
use crate::sink::neo4j::{DbError, Neo4jSink, Written};
use crate::store::{Label, Marks, Rel, Rows};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Exit code after Ctrl-C, as shells expect (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Report files or directories (searched recursively for *.json, *.json.gz).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Rows per UNWIND statement and per transaction, a tenth of the rows
    /// gathered before a write (setting ingest.batch_size).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Rewrite analyses that are already complete.
    #[arg(long)]
    pub force: bool,
    /// Mark these analyses as a clean baseline: the indicators they hold never
    /// link samples (shared-indicator queries, `correlate`). With `--force`
    /// to mark analyses ingested before.
    #[arg(long)]
    pub baseline: bool,
    /// Build everything and report what would be written, without a database.
    #[arg(long)]
    pub dry_run: bool,
    /// Then run `graphmalw correlate` (settings `[correlate]`), so the
    /// campaigns and `indicator-clusters` cover what was just ingested.
    #[arg(long, conflicts_with = "dry_run")]
    pub correlate: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// One analysis built and ready for the database.
struct Ready {
    id: String,
    report: PathBuf,
    rows: Rows,
}

/// What the writer reacts to.
enum Event {
    /// An analysis arrived from the pipeline.
    Report(Ready),
    /// Every report has been built.
    Closed,
    /// The oldest waiting analysis has waited long enough.
    Due,
    /// The shutdown future completed.
    Shutdown,
}

/// Gathers whole analyses into groups to write, and decides when a group is
/// due. Pure: time comes in as a value.
struct Batcher<T> {
    /// A group is due once it holds this many rows…
    flush_rows: usize,
    /// …or once its first analysis has waited this long.
    max_wait: Duration,
    pending: Vec<T>,
    rows: usize,
    since: Option<Instant>,
    seen: HashSet<String>,
}

impl<T> Batcher<T> {
    fn new(flush_rows: usize, max_wait: Duration) -> Self {
        Batcher {
            flush_rows,
            max_wait,
            pending: Vec::new(),
            rows: 0,
            since: None,
            seen: HashSet::new(),
        }
    }

    /// Add an analysis of `rows` rows; `false` (and not added) when the same
    /// analysis came earlier in this run.
    fn push(&mut self, id: &str, rows: usize, item: T, now: Instant) -> bool {
        if !self.seen.insert(id.to_owned()) {
            return false;
        }
        self.since.get_or_insert(now);
        self.rows += rows;
        self.pending.push(item);
        true
    }

    /// When the waiting group falls due by time, if one waits.
    fn deadline(&self) -> Option<Instant> {
        self.since.map(|t| t + self.max_wait)
    }

    /// Should the waiting group be written now? (`closed`: nothing more comes.)
    fn is_due(&self, now: Instant, closed: bool) -> bool {
        !self.pending.is_empty()
            && (closed || self.rows >= self.flush_rows || self.deadline().is_some_and(|d| now >= d))
    }

    /// The waiting group, leaving none.
    fn take(&mut self) -> Vec<T> {
        self.rows = 0;
        self.since = None;
        std::mem::take(&mut self.pending)
    }
}

/// Totals for the summary: the pipeline's tally (written = ingested,
/// skipped = already complete or repeated) and what was sent.
#[derive(Default)]
struct Totals {
    tally: Tally,
    nodes: u64,
    rels: u64,
    truncated: u64,
    planned_nodes: BTreeMap<&'static str, usize>,
    planned_rels: BTreeMap<&'static str, usize>,
}

/// How the writer stopped.
enum End {
    Finished,
    Interrupted,
    /// The database is not usable.
    Fatal(DbError),
}

/// Run `ingest`; `shutdown` completing (Ctrl-C, as [`super::run`] wires
/// it) stops it with exit code 130.
pub fn run(config: Option<&Path>, args: IngestArgs, shutdown: impl Future<Output = ()>) -> i32 {
    let Some(settings) = load_settings(config, |s| {
        args.graph.apply(s);
        args.db.apply(&mut s.neo4j)?;
        if let Some(b) = args.batch_size {
            s.ingest.batch_size = b;
        }
        Ok(())
    }) else {
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
    let correlate = args.correlate;
    let code = runtime.block_on(ingest(settings.clone(), args, shutdown));
    drop(runtime);
    if code == super::EXIT_OK && correlate {
        return super::correlate::run_with(&settings, super::correlate::DEFAULT_PAGE);
    }
    code
}

/// Ingest every report; `shutdown` completing stops the run. It is polled
/// once before anything else, so that a signal handler it installs when
/// first polled is in place from the start.
async fn ingest(settings: Settings, args: IngestArgs, shutdown: impl Future<Output = ()>) -> i32 {
    let started = Instant::now();
    let marks = match settings.marks(args.baseline) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_USAGE;
        }
    };
    tokio::pin!(shutdown);
    tokio::select! {
        biased;
        _ = &mut shutdown => {
            eprintln!("interrupted before anything was written");
            return EXIT_INTERRUPTED;
        }
        _ = std::future::ready(()) => {}
    }
    let (found, walk_failed) = super::find(&args.paths);
    let (sink, complete) = tokio::select! {
        r = connect(&settings, &args) => match r {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILED;
            }
        },
        _ = &mut shutdown => {
            eprintln!("interrupted before anything was written");
            return EXIT_INTERRUPTED;
        }
    };

    let files = found.len();
    let bar = progress_bar(files as u64);
    let (tx, rx) = mpsc::channel::<Ready>(settings.jobs().min(files.max(1)) * 2);
    let (built_tx, built_rx) = watch::channel(Tally::default());
    let pipeline = {
        let (settings, bar) = (settings.clone(), bar.clone());
        let to_writer = ToWriter { tx, built: built_tx };
        std::thread::spawn(move || build_rows(&settings, &marks, found, complete, &bar, to_writer))
    };
    let mut totals = Totals {
        tally: Tally {
            failed: walk_failed,
            ..Tally::default()
        },
        ..Totals::default()
    };
    let batcher = Batcher::new(settings.ingest.flush_rows(), Duration::from_millis(1000));
    let progress = Progress {
        bar: &bar,
        built: built_rx,
        started,
    };
    let end = write_all(sink.as_ref(), rx, batcher, shutdown, &mut totals, &progress).await;
    // The writer dropped the receiver: the pipeline stops after the reports in hand.
    let built = pipeline.join().unwrap_or_default();
    bar.finish_and_clear();

    totals.tally = totals.tally.plus(&built);
    print_summary(&totals, args.dry_run, started.elapsed(), files);
    match end {
        End::Fatal(e) => {
            eprintln!("error: {e}");
            eprintln!("stopped: the database is not usable; run the same command again to write the rest");
            EXIT_FAILED
        }
        End::Interrupted => {
            eprintln!("interrupted: run the same command again to write the rest");
            EXIT_INTERRUPTED
        }
        End::Finished => super::exit_code(&totals.tally),
    }
}

/// Connect, set up the schema and read which analyses are complete (none
/// to skip with `--force`); no database on a dry run.
async fn connect(settings: &Settings, args: &IngestArgs) -> Result<(Option<Neo4jSink>, HashSet<String>), DbError> {
    if args.dry_run {
        return Ok((None, HashSet::new()));
    }
    let sink = Neo4jSink::connect(&settings.neo4j).await?.with_writes(&settings.ingest);
    sink.ensure_schema().await?;
    let complete = if args.force {
        HashSet::new()
    } else {
        sink.complete_analyses().await?
    };
    Ok((Some(sink), complete))
}

/// The channel to the writer, as the pipeline's output, and the pipeline's
/// tally so far for the writer's progress display.
struct ToWriter {
    tx: mpsc::Sender<Ready>,
    built: watch::Sender<Tally>,
}

impl Output for ToWriter {
    type Item = Ready;
    fn write(&mut self, _: &Found, ready: Ready, _: &mut Tally) -> anyhow::Result<()> {
        // Counted by the writer, once written.
        self.tx
            .blocking_send(ready)
            .map_err(|_| anyhow::anyhow!("the writer stopped"))
    }

    fn progress(&mut self, tally: &Tally) {
        self.built.send_replace(*tally);
    }
}

/// On a thread of its own: build every report not complete yet into rows
/// for the writer. Returns the pipeline's tally (failed and skipped reports).
fn build_rows(
    settings: &Settings,
    marks: &Marks,
    found: Vec<Found>,
    complete: HashSet<String>,
    bar: &ProgressBar,
    mut to_writer: ToWriter,
) -> Tally {
    let max_len = settings.limits.max_string_len;
    let prepare = |item: &Found, a: &Analysis| {
        Ok(if complete.contains(&a.meta.id) {
            Done::Skipped
        } else {
            Done::Ready(Ready {
                id: a.meta.id.clone(),
                report: item.path.clone(),
                rows: marks.rows(a, max_len),
            })
        })
    };
    let mut tally = Tally::default();
    // An error here only means the writer stopped; it says why itself.
    let _ = settings
        .pipeline()
        .run(&found, bar, &mut tally, prepare, &mut to_writer);
    tally
}

/// The writer: take analyses from `rx`, write each group the batcher
/// makes, until the pipeline is done, `shutdown` completes or the database
/// fails for good.
async fn write_all(
    sink: Option<&Neo4jSink>,
    mut rx: mpsc::Receiver<Ready>,
    mut batcher: Batcher<Ready>,
    shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    totals: &mut Totals,
    progress: &Progress<'_>,
) -> End {
    let bar = progress.bar;
    let mut shutdown = shutdown;
    let mut closed = false;
    let mut last_log = Instant::now();
    while !closed {
        let deadline = batcher.deadline().map(tokio::time::Instant::from_std);
        let event = tokio::select! {
            r = rx.recv() => r.map_or(Event::Closed, Event::Report),
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => Event::Due,
            _ = &mut shutdown => Event::Shutdown,
        };
        match event {
            Event::Report(ready) => {
                let (id, rows) = (ready.id.clone(), ready.rows.len());
                if !batcher.push(&id, rows, ready, Instant::now()) {
                    totals.tally.skipped += 1;
                }
            }
            Event::Closed => closed = true,
            Event::Due => {}
            Event::Shutdown => {
                bar.suspend(|| eprintln!("interrupted: stopping before the next batch"));
                return End::Interrupted;
            }
        }
        if batcher.is_due(Instant::now(), closed) {
            // Shutdown abandons a group being written (a stalled database may
            // hold it for minutes); the re-run rewrites what it left.
            tokio::select! {
                r = flush(sink, batcher.take(), totals, bar) => if let Err(e) = r {
                    return End::Fatal(e);
                },
                _ = &mut shutdown => {
                    bar.suspend(|| eprintln!("interrupted: abandoning the batch being written, then stopping"));
                    return End::Interrupted;
                }
            }
        }
        progress.show(totals);
        if bar.is_hidden() && last_log.elapsed() > Duration::from_secs(10) && !closed {
            last_log = Instant::now();
            let t = progress.tally(totals);
            eprintln!(
                "progress: {} analyses written, {} skipped, {} failed, {} nodes + {} relationships",
                t.written, t.skipped, t.failed, totals.nodes, totals.rels
            );
        }
    }
    End::Finished
}

/// Write one group of whole analyses. A permanent error in a group of
/// several is narrowed down by writing them one by one; a database that
/// stays unreachable past the retry budget ends the ingest (`Err`).
async fn flush(
    sink: Option<&Neo4jSink>,
    batch: Vec<Ready>,
    totals: &mut Totals,
    bar: &ProgressBar,
) -> Result<(), DbError> {
    let Some(sink) = sink else {
        for Ready { rows, .. } in batch {
            count_plan(totals, &rows);
            totals.tally.written += 1;
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
            bar.suspend(|| eprintln!("error: {}: {e}", batch[0].report.display()));
            totals.tally.failed += 1;
            Ok(())
        }
        Err(_) => {
            for one in batch {
                let single = vec![one];
                match write_group(sink, &single, totals, bar).await {
                    Ok(()) => {}
                    Err(e @ DbError::GaveUp { .. }) => return Err(e),
                    Err(e) => {
                        bar.suspend(|| eprintln!("error: {}: {e}", single[0].report.display()));
                        totals.tally.failed += 1;
                    }
                }
            }
            Ok(())
        }
    }
}

async fn write_group(sink: &Neo4jSink, batch: &[Ready], totals: &mut Totals, bar: &ProgressBar) -> Result<(), DbError> {
    let ids: Vec<String> = batch.iter().map(|r| r.id.clone()).collect();
    let earlier = sink.existing_analyses(&ids).await?;
    if !earlier.is_empty() {
        let earlier: Vec<String> = earlier.into_iter().collect();
        sink.clear_analyses(&earlier).await?;
    }
    let mut merged = Rows::default();
    for ready in batch {
        merged.append(ready.rows.clone());
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
    totals.tally.written += batch.len();
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

/// What the writer shows while it runs: its own totals with the
/// pipeline's tally so far.
struct Progress<'a> {
    bar: &'a ProgressBar,
    built: watch::Receiver<Tally>,
    started: Instant,
}

impl Progress<'_> {
    /// The counts so far: the writer's and the pipeline's.
    fn tally(&self, totals: &Totals) -> Tally {
        totals.tally.plus(&self.built.borrow())
    }

    fn show(&self, totals: &Totals) {
        if self.bar.is_hidden() {
            return;
        }
        let t = self.tally(totals);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        self.bar.set_message(format!(
            "| {} analyses written | {:.0} nodes/s {:.0} rels/s | {} errors",
            t.written,
            totals.nodes as f64 / secs,
            totals.rels as f64 / secs,
            t.failed
        ));
    }
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
        t.tally.written,
        t.tally.skipped,
        t.tally.failed,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        // A fixed origin: only differences matter to the batcher.
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(Instant::now) + Duration::from_millis(ms)
    }

    #[test]
    fn a_group_is_due_once_it_holds_flush_rows() {
        let mut b = Batcher::new(100, Duration::from_secs(1));
        assert!(b.push("a", 60, 'a', at(0)));
        assert!(!b.is_due(at(1), false));
        assert!(b.push("b", 40, 'b', at(2)));
        assert!(b.is_due(at(2), false));
        assert_eq!(b.take(), vec!['a', 'b']);
        assert!(!b.is_due(at(3), true), "nothing waits");
        assert_eq!(b.deadline(), None);
    }

    #[test]
    fn a_group_is_due_when_its_first_analysis_has_waited_long_enough() {
        let mut b = Batcher::new(1000, Duration::from_secs(1));
        b.push("a", 1, (), at(0));
        b.push("b", 1, (), at(900));
        assert_eq!(b.deadline(), Some(at(1000)));
        assert!(!b.is_due(at(999), false));
        assert!(b.is_due(at(1000), false));
        b.take();
        b.push("c", 1, (), at(1500));
        assert_eq!(
            b.deadline(),
            Some(at(2500)),
            "the clock starts again with the next group"
        );
    }

    #[test]
    fn the_last_group_is_due_when_nothing_more_comes() {
        let mut b = Batcher::new(1000, Duration::from_secs(1));
        b.push("a", 1, (), at(0));
        assert!(b.is_due(at(0), true));
    }

    #[test]
    fn the_same_analysis_twice_is_written_once() {
        let mut b = Batcher::new(1000, Duration::from_secs(1));
        assert!(b.push("a", 5, 1, at(0)));
        b.take();
        assert!(!b.push("a", 5, 2, at(1)), "a repeat, even after its group was taken");
        assert!(b.take().is_empty());
    }

    #[tokio::test]
    async fn shutdown_before_anything_is_written_exits_130() {
        let args = IngestArgs {
            paths: vec![PathBuf::from("does-not-matter")],
            db: DbArgs::default(),
            batch_size: None,
            force: false,
            baseline: false,
            dry_run: true,
            correlate: false,
            graph: GraphArgs::default(),
        };
        let code = ingest(Settings::default(), args, std::future::ready(())).await;
        assert_eq!(code, EXIT_INTERRUPTED);
    }
}
