//! `graphmalw query`: list, show and run the shipped hunting queries.

use super::{load_settings, DbArgs, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::queries::{self, Query};
use crate::sink::neo4j::retry::Limit;
use crate::sink::neo4j::{DbError, Neo4jSink};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

#[derive(clap::Subcommand, Debug)]
pub enum QueryAction {
    /// Table of the shipped queries: name, category, title.
    List,
    /// Print a query's Cypher (with its header), ready to paste into Neo4j Browser.
    Show { name: String },
    /// Run a query against the database and print its rows.
    Run(RunArgs),
    /// Check the query pack against the database: `EXPLAIN` each query with
    /// its default parameters; a syntax error or any server notification
    /// (deprecation, performance warning) fails the check.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Queries to check (default: all).
    pub names: Vec<String>,
    #[command(flatten)]
    pub db: DbArgs,
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
    /// Seconds the query may take (setting query.timeout_secs, default 60);
    /// past it the query fails, and is not retried.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
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
            list(&all);
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
            run_query(config, q, &params, &args)
        }
        QueryAction::Check(args) => {
            let mut chosen = Vec::new();
            for name in &args.names {
                let Some(q) = find(name) else { return EXIT_USAGE };
                chosen.push(q);
            }
            if chosen.is_empty() {
                chosen = all.iter().collect();
            }
            check(config, &args.db, &chosen)
        }
    }
}

/// `query list`: one line per query.
fn list(all: &[Query]) {
    let width = all.iter().map(|q| q.name.len()).max().unwrap_or(4);
    println!("{:width$}  {:12}  TITLE", "NAME", "CATEGORY");
    for q in all {
        println!("{:width$}  {:12}  {}", q.name, q.category, q.title);
    }
}

/// `query check`: EXPLAIN each query with its defaults; any notification
/// or error fails it.
fn check(config: Option<&Path>, db: &DbArgs, chosen: &[&Query]) -> i32 {
    with_database(config, db, None, |sink, limit| async move {
        let mut failed = 0;
        for q in chosen {
            let defaults = q.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
            match sink
                .query_rows(&format!("EXPLAIN {}", q.cypher), &defaults, limit)
                .await
            {
                Ok((_, notes)) if notes.is_empty() => println!("ok       {}", q.name),
                Ok((_, notes)) => {
                    failed += 1;
                    for note in notes {
                        println!("warning  {}: {note}", q.name);
                    }
                }
                Err(e) => {
                    failed += 1;
                    println!("error    {}: {e}", q.name);
                }
            }
        }
        println!("{} passed, {failed} failed", chosen.len() - failed);
        if failed == 0 {
            EXIT_OK
        } else {
            EXIT_FAILED
        }
    })
}

/// `query run`: the rows on stdout; on a limit, the error and what to do.
fn run_query(config: Option<&Path>, q: &Query, params: &HashMap<String, Value>, args: &RunArgs) -> i32 {
    with_database(config, &args.db, args.timeout, |sink, limit| async move {
        let (rows, notes) = match sink.query_rows(&q.cypher, params, limit).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: query {}: {e}", q.name);
                if let DbError::Limit { limit, .. } = &e {
                    eprintln!("hint: {}", limit_advice(q, limit));
                }
                return EXIT_FAILED;
            }
        };
        for note in notes {
            eprintln!("warning: query {}: {note}", q.name);
        }
        let mut out = std::io::stdout().lock();
        match print_rows(&mut out, q, &rows, args.format).and_then(|()| out.flush()) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("error: writing the rows: {e}");
                EXIT_FAILED
            }
        }
    })
}

/// Connect with the settings (and the command line's connection options
/// and `--timeout`) and run `work` with the time limit of one query; its
/// exit code, or the connection error's.
fn with_database<F, Fut>(config: Option<&Path>, db: &DbArgs, timeout_secs: Option<u64>, work: F) -> i32
where
    F: FnOnce(Neo4jSink, Duration) -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    let Some(settings) = load_settings(config, |s| {
        db.apply(&mut s.neo4j)?;
        if let Some(t) = timeout_secs {
            s.query.timeout_secs = t;
        }
        Ok(())
    }) else {
        return EXIT_USAGE;
    };
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    rt.block_on(async {
        match Neo4jSink::connect(&settings.neo4j).await {
            Ok(sink) => work(sink, Duration::from_secs(settings.query.timeout_secs)).await,
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_FAILED
            }
        }
    })
}

/// What to do about a query that ran into a limit: narrow it with its own
/// parameters, or raise the limit it ran into.
pub fn limit_advice(q: &Query, limit: &Limit) -> String {
    let narrow = if q.params.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = q.params.iter().map(|p| p.name.as_str()).collect();
        let example = if names.contains(&"analysis") {
            "; --param analysis=REPORT.json runs it on one analysis"
        } else {
            ""
        };
        format!(
            "narrow it with --param NAME=VALUE (it takes: {}{example}), or ",
            names.join(", ")
        )
    };
    let raise = match limit {
        Limit::Client(d) => format!(
            "allow it more time with --timeout SECS (setting query.timeout_secs, now {} s)",
            d.as_secs()
        ),
        Limit::ServerTime => "raise the server's time limit (Neo4j: db.transaction.timeout; \
                              ArcadeDB: arcadedb.command.timeout, arcadedb.command.regexTimeout)"
            .into(),
        Limit::Memory => "raise the server's memory limit (Neo4j: db.memory.transaction.max, \
                          dbms.memory.transaction.total.max; ArcadeDB: arcadedb.queryMaxHeapRAM)"
            .into(),
    };
    format!("the query was not retried: it would only fail again; {narrow}{raise}")
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
        RowFormat::Json => print_json(out, &cols, rows),
        RowFormat::Csv => print_csv(out, &cols, rows),
        RowFormat::Table => print_table(out, &cols, rows),
    }
}

/// An array of objects, columns in RETURN order (serde_json's own maps
/// would sort them).
fn print_json<W: Write>(out: &mut W, cols: &[String], rows: &[serde_json::Map<String, Value>]) -> std::io::Result<()> {
    let ordered: Vec<Vec<(String, Value)>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| (c.clone(), r.get(c).cloned().unwrap_or(Value::Null)))
                .collect()
        })
        .collect();
    let objects: Vec<crate::model::Args> = ordered.iter().map(|r| crate::model::Args(r)).collect();
    serde_json::to_writer_pretty(&mut *out, &objects)?;
    writeln!(out)
}

/// RFC 4180 CSV with a header line.
fn print_csv<W: Write>(out: &mut W, cols: &[String], rows: &[serde_json::Map<String, Value>]) -> std::io::Result<()> {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    writeln!(out, "{}", cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","))?;
    for r in rows {
        let line: Vec<String> = cols.iter().map(|c| quote(&cell(r.get(c)))).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// Aligned columns for a terminal: cells on one line, cut at 70 characters.
fn print_table<W: Write>(out: &mut W, cols: &[String], rows: &[serde_json::Map<String, Value>]) -> std::io::Result<()> {
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
    writeln!(out, "{}", line(cols))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Query {
        Query {
            file: "t.cypher".into(),
            name: "t".into(),
            title: "T".into(),
            category: "process".into(),
            attack: None,
            params: Vec::new(),
            returns: vec!["name".into(), "n".into()],
            description: String::new(),
            cypher: String::new(),
        }
    }

    fn printed(format: RowFormat) -> String {
        let rows: Vec<serde_json::Map<String, Value>> = vec![
            serde_json::from_str(r#"{"n": 2, "name": "a,\"b\"\nc"}"#).unwrap(),
            serde_json::from_str(r#"{"name": null, "n": 10, "extra": true}"#).unwrap(),
        ];
        let mut out = Vec::new();
        print_rows(&mut out, &query(), &rows, format).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_print_in_return_order_in_every_format() {
        assert_eq!(
            printed(RowFormat::Table),
            "name     n   extra\n-------  --  -----\na,\"b\" c  2\n         10  true\n(2 rows)\n"
        );
        assert_eq!(
            printed(RowFormat::Csv),
            "name,n,extra\n\"a,\"\"b\"\"\nc\",2,\n,10,true\n"
        );
        assert_eq!(
            printed(RowFormat::Json),
            "[\n  {\n    \"name\": \"a,\\\"b\\\"\\nc\",\n    \"n\": 2,\n    \"extra\": null\n  },\n  {\n    \"name\": null,\n    \"n\": 10,\n    \"extra\": true\n  }\n]\n"
        );
    }
}
