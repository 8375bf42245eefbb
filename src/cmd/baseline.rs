//! `graphmalw baseline`: mark analyses already in the database as a clean
//! baseline (or unmark them), and list the marked ones.
//!
//! A baseline analysis is a run of clean software or an idle guest: what it
//! holds is background, so its indicators never link samples in the
//! shared-indicator queries and in `correlate` (`docs/correlation.md`).
//! `ingest --baseline` marks analyses while writing them; this command marks
//! them afterwards, without rewriting anything else.

use super::{load_settings, runtime, DbArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::settings::Settings;
use crate::sink::neo4j::{AnalysisRef, Neo4jSink};
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
pub enum BaselineAction {
    /// Mark analyses as a clean baseline.
    Mark(RefArgs),
    /// Remove the baseline mark.
    Unmark(RefArgs),
    /// List the baseline analyses.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct RefArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Analysis id (as `build` prints it), report file name or sample sha256.
    #[arg(required = true, value_name = "ANALYSIS")]
    pub refs: Vec<String>,
}

pub fn run(config: Option<&Path>, action: BaselineAction) -> i32 {
    let (db, refs, on) = match &action {
        BaselineAction::Mark(a) => (&a.db, Some(&a.refs), true),
        BaselineAction::Unmark(a) => (&a.db, Some(&a.refs), false),
        BaselineAction::List { db } => (db, None, false),
    };
    let Some(settings) = load_settings(config, |s| db.apply(&mut s.neo4j)) else {
        return EXIT_USAGE;
    };
    let result = match refs {
        Some(refs) => mark(&settings, refs, on),
        None => list(&settings),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        EXIT_FAILED
    })
}

/// Mark or unmark; a reference that names no analysis is an error, after
/// the others are done.
fn mark(settings: &Settings, refs: &[String], on: bool) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let changed = rt.block_on(async {
        let sink = Neo4jSink::connect(&settings.neo4j).await?;
        sink.set_baseline(refs, on).await
    })?;
    let what = if on {
        "marked as baseline"
    } else {
        "baseline mark removed"
    };
    for a in &changed {
        println!("{what}: {}", describe(a));
    }
    let missing: Vec<&String> = refs
        .iter()
        .filter(|r| !changed.iter().any(|a| &a.given == *r))
        .collect();
    for r in &missing {
        eprintln!(
            "error: no analysis in the database matches '{r}' (an analysis id, report file name or sample sha256)"
        );
    }
    if !changed.is_empty() {
        eprintln!("run `graphmalw correlate` to bring the campaigns up to date");
    }
    Ok(if missing.is_empty() { EXIT_OK } else { EXIT_FAILED })
}

fn list(settings: &Settings) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let marked = rt.block_on(async {
        let sink = Neo4jSink::connect(&settings.neo4j).await?;
        sink.baseline_analyses().await
    })?;
    for a in &marked {
        println!("{}", describe(a));
    }
    eprintln!("{} baseline analyses", marked.len());
    Ok(EXIT_OK)
}

fn describe(a: &AnalysisRef) -> String {
    format!("{} ({})", a.report.as_deref().unwrap_or("?"), a.id)
}
