//! `graphmalw correlate`: campaigns of analyses linked by shared rare
//! indicators, computed by graphmalw and written back as `:Campaign` nodes
//! (`docs/correlation.md`, section 3).
//!
//! The database gives the indicator nodes one page at a time (keyset
//! pagination on each label's key, safelisted nodes left out, holders only
//! for indicators held by at most the df limit: `correlate.max_share` of the
//! analyses, or `correlate.max_df`), so it never
//! holds more than a page; graphmalw holds the pair weights of
//! [`campaigns_from_rows`], which re-checks the safelist and drops what a
//! baseline analysis holds. The campaigns then replace every earlier one:
//! campaign ids come from their members, so a re-run over the same database
//! gives the same graph.

use super::{load_settings, runtime, DbArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::correlate::cluster::{campaigns_from_rows, Campaign, IndicatorRow, RowCounts};
use crate::correlate::IndicatorKind;
use crate::settings::Settings;
use crate::sink::neo4j::{DbError, Neo4jSink};
use crate::store::{campaign_rows, Label};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

#[derive(clap::Args, Debug)]
pub struct CorrelateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Indicator nodes read per query.
    #[arg(long, default_value_t = DEFAULT_PAGE, value_name = "N")]
    pub page: usize,
    /// Indicators held by more than this share of the analyses never link (setting correlate.max_share)…
    #[arg(long, value_name = "SHARE")]
    pub max_share: Option<f64>,
    /// …unless held by at most this many analyses (setting correlate.max_df).
    #[arg(long, value_name = "N")]
    pub max_df: Option<usize>,
    /// Shared idf weight that links two analyses (setting correlate.min_weight).
    #[arg(long, value_name = "W")]
    pub min_weight: Option<f64>,
    /// Shared indicators that link two analyses, at least (setting correlate.min_shared).
    #[arg(long, value_name = "N")]
    pub min_shared: Option<u32>,
    /// Shared weight over the geometric mean of both analyses' rare weight, at least (setting correlate.min_similarity).
    #[arg(long, value_name = "S")]
    pub min_similarity: Option<f64>,
}

/// Indicator nodes read per query, unless `--page` says otherwise.
pub const DEFAULT_PAGE: usize = 2000;

pub fn run(config: Option<&Path>, args: CorrelateArgs) -> i32 {
    let Some(settings) = load_settings(config, |s| {
        args.db.apply(&mut s.neo4j)?;
        let c = &mut s.correlate;
        c.max_share = args.max_share.unwrap_or(c.max_share);
        c.max_df = args.max_df.unwrap_or(c.max_df);
        c.min_similarity = args.min_similarity.unwrap_or(c.min_similarity);
        c.min_weight = args.min_weight.unwrap_or(c.min_weight);
        c.min_shared = args.min_shared.unwrap_or(c.min_shared);
        Ok(())
    }) else {
        return EXIT_USAGE;
    };
    run_with(&settings, args.page)
}

/// Correlate with these settings (also `ingest --correlate`); the exit code.
pub fn run_with(settings: &Settings, page: usize) -> i32 {
    match correlate(settings, page.max(1)) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILED
        }
    }
}

fn correlate(settings: &Settings, page: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let rt = &runtime()?;
    let filter = settings.correlate.noise_filter()?;
    let params = settings.correlate.cluster_params();
    let limit = Duration::from_secs(settings.query.timeout_secs);
    let sink = rt.block_on(Neo4jSink::connect(&settings.neo4j))?;
    rt.block_on(sink.ensure_schema())?;
    let (corpus, baseline) = rt.block_on(corpus(&sink, limit))?;
    let df_limit = params.df_limit(corpus);
    let mut pages = Pages {
        rt,
        sink: &sink,
        limit,
        page,
        max_df: df_limit,
        kinds: IndicatorKind::ALL.iter(),
        current: None,
        buf: VecDeque::new(),
        error: None,
    };
    let (campaigns, counts) = campaigns_from_rows(&mut pages, corpus, &baseline, &filter, params);
    if let Some(e) = pages.error {
        return Err(e.into());
    }
    let rows = campaign_rows(&campaigns, &params.describe());
    rt.block_on(sink.replace_label(Label::Campaign, &rows))?;
    print_summary(
        (corpus, baseline.len(), df_limit),
        &counts,
        &campaigns,
        started.elapsed(),
    );
    Ok(())
}

/// How many analyses the database holds, and the ids of the baseline ones.
async fn corpus(sink: &Neo4jSink, limit: Duration) -> Result<(usize, HashSet<String>), DbError> {
    let cypher = "MATCH (a:Analysis) RETURN count(a) AS n, collect(CASE WHEN a.baseline THEN a.id END) AS baseline";
    let (rows, _) = sink.query_rows(cypher, &HashMap::new(), limit).await?;
    let row = rows.into_iter().next().unwrap_or_default();
    let n = row.get("n").and_then(Value::as_u64).unwrap_or(0) as usize;
    Ok((n, strings(row.get("baseline"))))
}

fn strings(v: Option<&Value>) -> HashSet<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The indicator rows of every kind, read a page at a time as the
/// correlator asks for them. A database error ends the rows and is kept in
/// `error`.
struct Pages<'a> {
    rt: &'a Runtime,
    sink: &'a Neo4jSink,
    limit: Duration,
    page: usize,
    max_df: usize,
    kinds: std::slice::Iter<'static, IndicatorKind>,
    /// The kind being read and the key its next page starts after.
    current: Option<(IndicatorKind, String)>,
    buf: VecDeque<IndicatorRow>,
    error: Option<DbError>,
}

impl Pages<'_> {
    /// One page of `kind` after `after`: its rows, and the key the next page
    /// starts after (none when this was the last page).
    fn fetch(&self, kind: IndicatorKind, after: &str) -> Result<(Vec<IndicatorRow>, Option<String>), DbError> {
        let params = HashMap::from([
            ("after".to_owned(), json!(after)),
            ("page".to_owned(), json!(self.page)),
            ("max_df".to_owned(), json!(self.max_df)),
        ]);
        let cypher = Label::holders_statement(kind);
        let (rows, _) = self.rt.block_on(self.sink.query_rows(&cypher, &params, self.limit))?;
        let full = rows.len() >= self.page;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(value) = row.get("value").and_then(Value::as_str) else {
                continue;
            };
            out.push(IndicatorRow {
                kind,
                value: value.to_owned(),
                holders: strings(row.get("holders")).into_iter().collect(),
            });
        }
        let next = out.last().filter(|_| full).map(|r| r.value.clone());
        Ok((out, next))
    }
}

impl Iterator for Pages<'_> {
    type Item = IndicatorRow;

    fn next(&mut self) -> Option<IndicatorRow> {
        loop {
            if let Some(row) = self.buf.pop_front() {
                return Some(row);
            }
            if self.error.is_some() {
                return None;
            }
            let (kind, after) = match self.current.take() {
                Some(c) => c,
                None => (*self.kinds.next()?, String::new()),
            };
            match self.fetch(kind, &after) {
                Ok((rows, next)) => {
                    self.current = next.map(|n| (kind, n));
                    self.buf.extend(rows);
                }
                Err(e) => self.error = Some(e),
            }
        }
    }
}

/// `(analyses, baseline analyses, df limit)`, what was done with the rows, and the result.
fn print_summary(
    (corpus, baseline, df_limit): (usize, usize, usize),
    n: &RowCounts,
    campaigns: &[Campaign],
    took: Duration,
) {
    println!(
        "correlate: {corpus} analyses ({baseline} baseline); {} shared indicators read: {} safelisted, \
         {} held by a baseline, {} unshared or held by more than {} analyses, {} used",
        n.read, n.safelisted, n.baseline, n.out_of_range, df_limit, n.used
    );
    let largest = campaigns.iter().map(|c| c.members.len()).max().unwrap_or(0);
    let members: usize = campaigns.iter().map(|c| c.members.len()).sum();
    println!(
        "correlate: {} campaigns of {members} analyses (largest {largest}) written, replacing earlier ones, in {:.1}s",
        campaigns.len(),
        took.as_secs_f64()
    );
}
