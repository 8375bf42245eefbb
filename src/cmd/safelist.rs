//! `graphmalw safelist`: the safelist of background indicators, against the
//! database and against one value.
//!
//! Ingest marks the shared indicator nodes the safelist holds as it writes
//! them (`safelisted`, `safelist_reason`; `docs/correlation.md`), and the
//! shared-indicator queries skip marked nodes. When the list changes (an
//! entry added to `[[correlate.safelist]]` in the settings, a new release's
//! `data/safelist.toml`), `apply` brings every node already in the database
//! up to date, page by page, writing only the nodes whose mark changes;
//! `check` says whether one value is on the list, and why.

use super::{load_settings, runtime, DbArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::correlate::{Indicator, IndicatorKind};
use crate::settings::Settings;
use crate::sink::neo4j::Neo4jSink;
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
pub enum SafelistAction {
    /// Mark and unmark the indicator nodes in the database by the list of today
    /// (shipped list plus `[[correlate.safelist]]` entries).
    Apply {
        #[command(flatten)]
        db: DbArgs,
        /// Report what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Indicator nodes read per query.
        #[arg(long, default_value_t = 5000, value_name = "N")]
        page: usize,
    },
    /// Whether one indicator value is on the list, and why.
    Check {
        /// The kind of indicator: file, registry, mutex, domain, ip or dropped.
        #[arg(value_parser = kind_named)]
        kind: IndicatorKind,
        /// The value, as a report shows it (a path, key, mutex, domain, address or sha256).
        value: String,
    },
}

/// An [`IndicatorKind`] by its name on the command line.
fn kind_named(name: &str) -> Result<IndicatorKind, String> {
    let all = IndicatorKind::ALL;
    all.iter().copied().find(|k| k.as_str() == name).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|k| k.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

pub fn run(config: Option<&Path>, action: SafelistAction) -> i32 {
    let no_db = DbArgs::default();
    let db = match &action {
        SafelistAction::Apply { db, .. } => db,
        SafelistAction::Check { .. } => &no_db,
    };
    let Some(settings) = load_settings(config, |s| db.apply(&mut s.neo4j)) else {
        return EXIT_USAGE;
    };
    let result = match action {
        SafelistAction::Apply { dry_run, page, .. } => apply(&settings, dry_run, page.max(1)),
        SafelistAction::Check { kind, value } => check(&settings, kind, &value),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        EXIT_FAILED
    })
}

fn check(settings: &Settings, kind: IndicatorKind, value: &str) -> anyhow::Result<i32> {
    let safelist = settings.marks(false)?.safelist;
    let indicator = Indicator::new(kind, value);
    match safelist.reason(&indicator) {
        Some(reason) => println!("{indicator}: safelisted ({reason})"),
        None => println!("{indicator}: not safelisted"),
    }
    Ok(EXIT_OK)
}

/// What `apply` found for one kind.
#[derive(Default)]
struct Changes {
    read: usize,
    marked: usize,
    unmarked: usize,
}

fn apply(settings: &Settings, dry_run: bool, page: usize) -> anyhow::Result<i32> {
    let safelist = settings.marks(false)?.safelist;
    let rt = runtime()?;
    let sink = rt.block_on(Neo4jSink::connect(&settings.neo4j))?;
    for kind in IndicatorKind::ALL {
        let mut c = Changes::default();
        let mut after = String::new();
        loop {
            let nodes = rt.block_on(sink.marks_page(kind, &after, page))?;
            c.read += nodes.len();
            let changes: Vec<(String, Option<String>)> = nodes
                .iter()
                .filter_map(|(value, now)| {
                    let due = safelist.reason(&Indicator::new(kind, value));
                    (due != now.as_deref()).then(|| (value.clone(), due.map(str::to_owned)))
                })
                .collect();
            c.marked += changes.iter().filter(|(_, r)| r.is_some()).count();
            c.unmarked += changes.iter().filter(|(_, r)| r.is_none()).count();
            if !dry_run && !changes.is_empty() {
                rt.block_on(sink.set_marks(kind, &changes))?;
            }
            match nodes.last() {
                Some((last, _)) if nodes.len() >= page => after = last.clone(),
                _ => break,
            }
        }
        let verb = if dry_run { "would mark" } else { "marked" };
        println!(
            "safelist: {:<8} {} nodes read, {verb} {} safelisted, {} no longer",
            kind.as_str(),
            c.read,
            c.marked,
            c.unmarked
        );
    }
    if !dry_run {
        eprintln!("run `graphmalw correlate` to bring the campaigns up to date");
    }
    Ok(EXIT_OK)
}
