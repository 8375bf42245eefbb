//! `graphmalw query`: list, show and run the shipped hunting queries.

use super::ingest::DbArgs;
use super::{load_settings, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::queries::{self, Query};
use crate::sink::neo4j::Neo4jSink;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

#[derive(clap::Subcommand, Debug)]
pub enum QueryAction {
    /// Table of the shipped queries: name, category, title.
    List,
    /// Print a query's Cypher (with its header), ready to paste into Neo4j Browser.
    Show { name: String },
    /// Run a query against the database and print its rows.
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Query name (see `graphmalw query list`).
    pub name: String,
    /// Parameter value, `key=value` (value as JSON when it parses, else a string); repeatable.
    #[arg(short, long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: RowFormat,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RowFormat {
    Table,
    Json,
    Csv,
}

pub fn run(config: Option<&Path>, action: QueryAction) -> i32 {
    let all = match queries::all() {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: query pack: {e}");
            return EXIT_FAILED;
        }
    };
    let find = |name: &str| -> Option<&Query> {
        let found = all.iter().find(|q| q.name == name);
        if found.is_none() {
            eprintln!("error: no query named `{name}`; `graphmalw query list` shows them");
        }
        found
    };
    match action {
        QueryAction::List => {
            let width = all.iter().map(|q| q.name.len()).max().unwrap_or(4);
            println!("{:width$}  {:12}  TITLE", "NAME", "CATEGORY");
            for q in &all {
                println!("{:width$}  {:12}  {}", q.name, q.category, q.title);
            }
            EXIT_OK
        }
        QueryAction::Show { name } => match find(&name) {
            Some(q) => {
                print!("{}", q.cypher);
                EXIT_OK
            }
            None => EXIT_USAGE,
        },
        QueryAction::Run(args) => {
            let Some(q) = find(&args.name) else { return EXIT_USAGE };
            let params = match resolve_params(q, &args.params) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            };
            let mut overrides = Vec::new();
            if let Err(e) = args.db.overrides(&mut overrides) {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
            let Some(settings) = load_settings(config, &overrides) else {
                return EXIT_USAGE;
            };
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_FAILED;
                }
            };
            let rows = rt.block_on(async {
                let sink = Neo4jSink::connect(&settings.neo4j, &settings.ingest).await?;
                sink.query_rows(&q.cypher, &params).await
            });
            match rows {
                Ok(rows) => {
                    let mut out = std::io::stdout().lock();
                    let _ = print_rows(&mut out, q, &rows, args.format);
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("error: query {}: {e}", q.name);
                    EXIT_FAILED
                }
            }
        }
    }
}

/// Declared defaults, overridden by `--param key=value`.
pub fn resolve_params(q: &Query, given: &[String]) -> Result<HashMap<String, Value>, String> {
    let mut params: HashMap<String, Value> = q.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
    for kv in given {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--param {kv}: expected KEY=VALUE"))?;
        if !params.contains_key(k) {
            let known: Vec<&str> = q.params.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "query {} has no parameter `{k}` (it has: {})",
                q.name,
                known.join(", ")
            ));
        }
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        params.insert(k.to_owned(), value);
    }
    Ok(params)
}

fn columns(q: &Query, rows: &[serde_json::Map<String, Value>]) -> Vec<String> {
    let mut cols = q.returns.clone();
    for r in rows {
        for k in r.keys() {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub fn print_rows<W: Write>(
    out: &mut W,
    q: &Query,
    rows: &[serde_json::Map<String, Value>],
    format: RowFormat,
) -> std::io::Result<()> {
    let cols = columns(q, rows);
    match format {
        RowFormat::Json => {
            // Columns in RETURN order (serde_json's own maps would sort them).
            let ordered: Vec<Vec<(String, Value)>> = rows
                .iter()
                .map(|r| {
                    cols.iter()
                        .map(|c| (c.clone(), r.get(c).cloned().unwrap_or(Value::Null)))
                        .collect()
                })
                .collect();
            let objects: Vec<crate::sink::json::Args> = ordered.iter().map(|r| crate::sink::json::Args(r)).collect();
            serde_json::to_writer_pretty(&mut *out, &objects)?;
            writeln!(out)
        }
        RowFormat::Csv => {
            let quote = |s: &str| {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_owned()
                }
            };
            writeln!(out, "{}", cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","))?;
            for r in rows {
                writeln!(
                    out,
                    "{}",
                    cols.iter()
                        .map(|c| quote(&cell(r.get(c))))
                        .collect::<Vec<_>>()
                        .join(",")
                )?;
            }
            Ok(())
        }
        RowFormat::Table => {
            const MAX: usize = 70;
            let shown = |s: String| -> String {
                let s = s.replace(['\n', '\r', '\t'], " ");
                if s.chars().count() > MAX {
                    format!("{}…", s.chars().take(MAX - 1).collect::<String>())
                } else {
                    s
                }
            };
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| cols.iter().map(|c| shown(cell(r.get(c)))).collect())
                .collect();
            let widths: Vec<usize> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([c.len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |vals: &[String]| -> String {
                vals.iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v}{}", " ".repeat(w.saturating_sub(v.chars().count()))))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            writeln!(out, "{}", line(&cols))?;
            writeln!(
                out,
                "{}",
                line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>())
            )?;
            for r in &cells {
                writeln!(out, "{}", line(r))?;
            }
            writeln!(out, "({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" })
        }
    }
}
