//! `graphmalw export neo4j-csv`: the Neo4j model as CSV files for
//! `neo4j-admin database import full`.
//!
//! The CSV is made from the very rows `graphmalw ingest` sends
//! ([`analysis_rows`](super::neo4j::rows::analysis_rows)), and its columns
//! and merge rules are read from the statements of
//! [`schema`](super::neo4j::schema), so the two cannot drift: a property that
//! ingest starts to set becomes a column here, and a row value of a type the
//! column does not declare is an error, not a silent change.
//!
//! # Files
//!
//! One node file per label (`nodes-<Label>.csv`) and one relationship file
//! per relationship type and end labels (`rels-<TYPE>-<Start>-<End>.csv`),
//! each with its header line. Only files that get rows are created.
//!
//! - Node header: `<key>:ID(<Label>)` (one ID space per label, since the keys
//!   differ per label; the key is stored as a property too), then the
//!   properties (`pid:long`, `score:double`, `attack:string[]`,
//!   `complete:boolean`, plain names for strings), then `:LABEL`.
//! - Relationship header: `:START_ID(<Label>)`, `:END_ID(<Label>)`, the
//!   properties, `:TYPE`.
//! - Strings are always quoted (`"` doubled inside), so an empty string stays
//!   an empty string; a null is an empty unquoted field (no property), as
//!   ingest's `SET n.p = null` leaves no property. Array elements are joined
//!   with `;`, the importer's default array delimiter.
//!
//! # What MERGE does, done here
//!
//! - Per analysis, rows with the same key (nodes) or the same type and ends
//!   (relationships) are one entity whose properties come from the last row,
//!   as `MERGE … SET` gives.
//! - Shared nodes (every label that is neither `:Analysis` nor a behaviour
//!   label: `:Sample`, `:File`, `:RegistryKey`, `:Dll`, `:Mutex`, `:Domain`,
//!   `:IpAddress`, `:Signature`) are written once across all reports. Their
//!   properties settle as ingest's statements say (least value, or greatest
//!   for a severity; a null never replaces a value), so the result does not
//!   depend on the order of the reports. Relationships between two shared
//!   nodes (`RESOLVES_TO`) are written once too.
//! - An analysis met twice (the same report bytes under two names) is
//!   written once, under the first name in input order, as ingest skips the
//!   repeat within one run.
//! - `:Analysis` gets `complete = true`: a bulk import holds whole analyses,
//!   so a later `graphmalw ingest` skips them as it skips its own.
//!
//! # Memory
//!
//! Behaviour rows (the bulk of the data) go straight to the files. What is
//! kept until the end: the key of every shared node and shared relationship
//! met (memory grows with the number of *distinct* shared values, not with
//! reports), the properties of shared nodes that settle (`:Sample`,
//! `:Signature`), and 32 bytes per analysis to recognise a repeated report.

use super::neo4j::rows::{Prop, Row, Rows};
use super::neo4j::schema::{schema_statements, ArgRead, CallArg, Label, Rel};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The array delimiter the files use (the importer's default).
pub const ARRAY_DELIMITER: char = ';';

/// A column's type, as written in the header (`name:long`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    String,
    Long,
    Double,
    Boolean,
    StringArray,
}

impl ColType {
    /// The header suffix (`""` for strings, the importer's default).
    pub fn suffix(self) -> &'static str {
        match self {
            ColType::String => "",
            ColType::Long => ":long",
            ColType::Double => ":double",
            ColType::Boolean => ":boolean",
            ColType::StringArray => ":string[]",
        }
    }

    /// The type of a property, by name: the model gives each name one type.
    pub fn of(prop: &str) -> ColType {
        match prop {
            "pid" | "ppid" | "size" | "task_id" | "nodes" | "edges" | "count" | "severity" => ColType::Long,
            p if CallArg::named(p).is_some_and(|a| a.read == ArgRead::Int) => ColType::Long,
            "score" => ColType::Double,
            "complete" => ColType::Boolean,
            "attack" => ColType::StringArray,
            _ => ColType::String,
        }
    }
}

/// How a property of a node settles when several rows carry it (read from
/// the `SET` clause of ingest's MERGE statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// `n.p = row.p`: the last row wins, a null included.
    Overwrite,
    /// The least non-null value.
    Least,
    /// The greatest non-null value.
    Greatest,
    /// A value ingest sets itself, not from the row (here: `complete`).
    Constant(&'static str),
}

/// One column of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub settle: Settle,
}

/// The columns of every label and relationship, from the schema's statements.
pub struct Tables {
    nodes: BTreeMap<Label, Vec<Column>>,
    rels: BTreeMap<Rel, Vec<Column>>,
}

/// Property columns (key excluded) of a label, read from its MERGE statement.
fn node_columns(label: Label) -> Vec<Column> {
    let stmt = label.merge_statement();
    let Some((_, sets)) = stmt.split_once(" SET ") else {
        return Vec::new();
    };
    sets.split(", ")
        .filter_map(|clause| {
            let rest = clause.strip_prefix("n.")?;
            let (p, expr) = rest.split_once(" = ")?;
            // The statement's property names are 'static in the schema
            // table; look the name up there so the column can borrow it.
            let name = static_name(label, p)?;
            let settle = if expr == format!("row.{p}") {
                Settle::Overwrite
            } else if expr.contains(&format!("row.{p} < n.{p}")) {
                Settle::Least
            } else if expr.contains(&format!("row.{p} > n.{p}")) {
                Settle::Greatest
            } else if p == "complete" {
                // Ingest writes `false` first and `true` as its last step; a
                // bulk import holds whole analyses, so it is complete.
                Settle::Constant("true")
            } else {
                Settle::Constant(leak_literal(expr))
            };
            Some(Column {
                name,
                ty: ColType::of(name),
                settle,
            })
        })
        .collect()
}

/// The `'static` spelling of a property name of the model.
fn static_name(label: Label, p: &str) -> Option<&'static str> {
    const EXTRA: [&str; 6] = ["name", "size", "md5", "sha1", "type", "complete"];
    label
        .properties()
        .iter()
        .copied()
        .chain(EXTRA)
        .find(|n| *n == p)
        .or_else(|| Some(Box::leak(p.to_owned().into_boxed_str())))
}

fn leak_literal(expr: &str) -> &'static str {
    Box::leak(expr.to_owned().into_boxed_str())
}

impl Tables {
    /// The tables, built once from the schema.
    pub fn get() -> &'static Tables {
        static T: OnceLock<Tables> = OnceLock::new();
        T.get_or_init(|| Tables {
            nodes: Label::ALL.iter().map(|l| (*l, node_columns(*l))).collect(),
            rels: Rel::all()
                .into_iter()
                .map(|r| {
                    let cols = r
                        .properties()
                        .iter()
                        .map(|p| Column {
                            name: p,
                            ty: ColType::of(p),
                            settle: Settle::Overwrite,
                        })
                        .collect();
                    (r, cols)
                })
                .collect(),
        })
    }

    pub fn node(&self, label: Label) -> &[Column] {
        self.nodes.get(&label).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn rel(&self, rel: Rel) -> &[Column] {
        self.rels.get(&rel).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Is this label one shared across analyses (written once)?
pub fn is_shared(label: Label) -> bool {
    label != Label::Analysis && !Label::BEHAVIOUR.contains(&label)
}

/// A file of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKey {
    Node(Label),
    Rel(Rel),
}

impl FileKey {
    pub fn file_name(self) -> String {
        match self {
            FileKey::Node(l) => format!("nodes-{}.csv", l.name()),
            FileKey::Rel(r) => {
                let (a, b) = r.ends();
                format!("rels-{}-{}-{}.csv", r.type_name(), a.name(), b.name())
            }
        }
    }

    /// The header line, without the line break.
    pub fn header(self) -> String {
        let t = Tables::get();
        let mut cols: Vec<String> = Vec::new();
        match self {
            FileKey::Node(l) => {
                cols.push(format!("{}:ID({})", l.key(), l.name()));
                cols.extend(t.node(l).iter().map(|c| format!("{}{}", c.name, c.ty.suffix())));
                cols.push(":LABEL".into());
            }
            FileKey::Rel(r) => {
                let (a, b) = r.ends();
                cols.push(format!(":START_ID({})", a.name()));
                cols.push(format!(":END_ID({})", b.name()));
                cols.extend(t.rel(r).iter().map(|c| format!("{}{}", c.name, c.ty.suffix())));
                cols.push(":TYPE".into());
            }
        }
        cols.join(",")
    }

    pub fn is_rel(self) -> bool {
        matches!(self, FileKey::Rel(_))
    }
}

/// A row that does not fit its file: the rows and the CSV tables disagree.
#[derive(Debug, thiserror::Error)]
#[error("internal: {0} (the CSV export and the ingest rows disagree)")]
pub struct ShapeError(String);

/// Formatted CSV lines for one file.
#[derive(Debug, Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub rows: u64,
    /// A field holds a line break (the import then needs `--multiline-fields`).
    pub multiline: bool,
}

/// One analysis, ready for the writer: the lines only it can have, already
/// formatted (built on a worker thread), and its shared rows, which the
/// writer dedupes across analyses.
#[derive(Debug)]
pub struct Prepared {
    pub id: String,
    pub chunks: Vec<(FileKey, Chunk)>,
    pub shared_nodes: Vec<(Label, Row)>,
    pub shared_rels: Vec<(Rel, Row)>,
}

fn get<'a>(row: &'a Row, name: &str) -> Option<&'a Prop> {
    row.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn str_of<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    match get(row, name) {
        Some(Prop::Str(s)) => Some(s),
        _ => None,
    }
}

/// Write one field; `multiline` is set when a string holds a line break.
fn field(out: &mut Vec<u8>, ty: ColType, v: &Prop, multiline: &mut bool, what: &str) -> Result<(), ShapeError> {
    fn quoted(out: &mut Vec<u8>, s: &str, multiline: &mut bool) {
        out.push(b'"');
        for b in s.bytes() {
            match b {
                b'"' => out.extend_from_slice(b"\"\""),
                b'\n' | b'\r' => {
                    *multiline = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        out.push(b'"');
    }
    match (ty, v) {
        (_, Prop::Null) => {}
        (ColType::String, Prop::Str(s)) => quoted(out, s, multiline),
        (ColType::Long, Prop::Int(i)) => {
            let _ = write!(out, "{i}");
        }
        (ColType::Double, Prop::Float(f)) => {
            if f.is_finite() {
                let _ = write!(out, "{f:?}");
            }
        }
        (ColType::Double, Prop::Int(i)) => {
            let _ = write!(out, "{i}");
        }
        (ColType::StringArray, Prop::List(items)) => {
            if !items.is_empty() {
                let joined = items.join(&ARRAY_DELIMITER.to_string());
                quoted(out, &joined, multiline);
            }
        }
        (ty, v) => return Err(ShapeError(format!("{what}: value {v:?} in a column of type {ty:?}"))),
    }
    Ok(())
}

/// A node row as one CSV line.
fn node_line(out: &mut Chunk, label: Label, row: &Row) -> Result<(), ShapeError> {
    let cols = Tables::get().node(label);
    let key = get(row, label.key()).ok_or_else(|| ShapeError(format!(":{} row without its key", label.name())))?;
    for (name, _) in row {
        if *name != label.key() && !cols.iter().any(|c| c.name == *name) {
            return Err(ShapeError(format!(":{} property {name} has no column", label.name())));
        }
    }
    let what = label.name();
    field(&mut out.bytes, ColType::String, key, &mut out.multiline, what)?;
    for c in cols {
        out.bytes.push(b',');
        match c.settle {
            Settle::Constant(lit) => out.bytes.extend_from_slice(lit.as_bytes()),
            _ => field(
                &mut out.bytes,
                c.ty,
                get(row, c.name).unwrap_or(&Prop::Null),
                &mut out.multiline,
                what,
            )?,
        }
    }
    out.bytes.push(b',');
    out.bytes.extend_from_slice(label.name().as_bytes());
    out.bytes.push(b'\n');
    out.rows += 1;
    Ok(())
}

/// A relationship row as one CSV line.
fn rel_line(out: &mut Chunk, rel: Rel, row: &Row) -> Result<(), ShapeError> {
    let cols = Tables::get().rel(rel);
    let what = rel.type_name();
    for (name, _) in row {
        if *name != "from" && *name != "to" && !cols.iter().any(|c| c.name == *name) {
            return Err(ShapeError(format!(":{what} property {name} has no column")));
        }
    }
    for (i, end) in ["from", "to"].iter().enumerate() {
        if i > 0 {
            out.bytes.push(b',');
        }
        match get(row, end) {
            Some(p @ Prop::Str(_)) => field(&mut out.bytes, ColType::String, p, &mut out.multiline, what)?,
            _ => return Err(ShapeError(format!(":{what} row without `{end}`"))),
        }
    }
    for c in cols {
        out.bytes.push(b',');
        field(
            &mut out.bytes,
            c.ty,
            get(row, c.name).unwrap_or(&Prop::Null),
            &mut out.multiline,
            what,
        )?;
    }
    out.bytes.push(b',');
    out.bytes.extend_from_slice(what.as_bytes());
    out.bytes.push(b'\n');
    out.rows += 1;
    Ok(())
}

/// Positions of the rows that survive MERGE, in first-seen order, each the
/// last row of its identity (the one whose `SET` is applied last).
fn merged<'a, K: std::hash::Hash + Eq + 'a>(rows: &'a [Row], key: impl Fn(&'a Row) -> Option<K>) -> Vec<usize> {
    let mut first: HashMap<K, usize> = HashMap::with_capacity(rows.len());
    let mut winner: Vec<usize> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match key(row) {
            Some(k) => match first.get(&k) {
                Some(&pos) => winner[pos] = i,
                None => {
                    first.insert(k, winner.len());
                    winner.push(i);
                }
            },
            None => winner.push(i),
        }
    }
    winner
}

/// Turn one analysis's rows into CSV lines (worker side).
pub fn prepare(id: String, rows: Rows) -> Result<Prepared, ShapeError> {
    let mut chunks = Vec::new();
    let mut shared_nodes = Vec::new();
    let mut shared_rels = Vec::new();
    for (label, list) in rows.nodes {
        if is_shared(label) {
            shared_nodes.extend(list.into_iter().map(|r| (label, r)));
            continue;
        }
        let mut chunk = Chunk::default();
        for i in merged(&list, |r| str_of(r, label.key())) {
            node_line(&mut chunk, label, &list[i])?;
        }
        chunks.push((FileKey::Node(label), chunk));
    }
    for (rel, list) in rows.rels {
        let (a, b) = rel.ends();
        if is_shared(a) && is_shared(b) {
            shared_rels.extend(list.into_iter().map(|r| (rel, r)));
            continue;
        }
        let mut chunk = Chunk::default();
        for i in merged(&list, |r| Some((str_of(r, "from")?, str_of(r, "to")?))) {
            rel_line(&mut chunk, rel, &list[i])?;
        }
        chunks.push((FileKey::Rel(rel), chunk));
    }
    Ok(Prepared {
        id,
        chunks,
        shared_nodes,
        shared_rels,
    })
}

/// Does `new` replace `old` under this rule (the CASE of ingest's statement)?
fn replaces(rule: Settle, old: &Prop, new: &Prop) -> bool {
    use std::cmp::Ordering;
    let ord = |a: &Prop, b: &Prop| -> Option<Ordering> {
        match (a, b) {
            (Prop::Str(x), Prop::Str(y)) => Some(x.cmp(y)),
            (Prop::Int(x), Prop::Int(y)) => Some(x.cmp(y)),
            (Prop::Float(x), Prop::Float(y)) => x.partial_cmp(y),
            (Prop::Int(x), Prop::Float(y)) => (*x as f64).partial_cmp(y),
            (Prop::Float(x), Prop::Int(y)) => x.partial_cmp(&(*y as f64)),
            _ => None,
        }
    };
    match rule {
        Settle::Overwrite => true,
        Settle::Constant(_) => false,
        Settle::Least | Settle::Greatest => match (old, new) {
            (_, Prop::Null) => false,
            (Prop::Null, _) => true,
            _ => {
                let want = if rule == Settle::Least {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                ord(new, old) == Some(want)
            }
        },
    }
}

/// Shared nodes whose properties settle: kept until the end.
#[derive(Default)]
struct Settled {
    index: HashMap<String, usize>,
    rows: Vec<Row>,
}

/// The open files and everything deduped across analyses (writer side).
pub struct CsvWriter {
    dir: PathBuf,
    files: BTreeMap<FileKey, (BufWriter<File>, u64)>,
    multiline: bool,
    analyses: HashSet<[u8; 32]>,
    shared_keys: HashSet<(Label, String)>,
    settled: BTreeMap<Label, Settled>,
    shared_rels: HashSet<(Rel, String, String)>,
}

/// What [`CsvWriter::finish`] wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Every file, with the number of rows under its header.
    pub files: Vec<(FileKey, PathBuf, u64)>,
    /// Some field holds a line break: the import needs `--multiline-fields=true`.
    pub multiline: bool,
    /// `schema.cypher`: the constraints and indexes ingest creates.
    pub schema: PathBuf,
    /// `import.sh`: the `neo4j-admin` command.
    pub script: PathBuf,
}

/// The files an export leaves in its folder (for `--force`).
pub fn is_export_file(name: &str) -> bool {
    (name.starts_with("nodes-") || name.starts_with("rels-")) && name.ends_with(".csv")
        || name == "schema.cypher"
        || name == "import.sh"
}

/// 32 bytes that stand for an analysis id (its BLAKE3 hex, decoded).
fn id_digest(id: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let hex = id.as_bytes();
    let decoded = hex.len() == 64
        && hex.chunks(2).enumerate().all(|(i, pair)| {
            let s = std::str::from_utf8(pair).ok();
            match s.and_then(|s| u8::from_str_radix(s, 16).ok()) {
                Some(b) => {
                    out[i] = b;
                    true
                }
                None => false,
            }
        });
    if decoded {
        out
    } else {
        blake3::hash(id.as_bytes()).into()
    }
}

impl CsvWriter {
    /// Write into `dir` (created if missing). Paths in the commands and in
    /// `import.sh` are absolute, so they run from anywhere.
    pub fn create(dir: &Path) -> io::Result<CsvWriter> {
        std::fs::create_dir_all(dir)?;
        Ok(CsvWriter {
            dir: std::path::absolute(dir)?,
            files: BTreeMap::new(),
            multiline: false,
            analyses: HashSet::new(),
            shared_keys: HashSet::new(),
            settled: BTreeMap::new(),
            shared_rels: HashSet::new(),
        })
    }

    fn write(&mut self, key: FileKey, chunk: &Chunk) -> io::Result<()> {
        if chunk.rows == 0 {
            return Ok(());
        }
        self.multiline |= chunk.multiline;
        let (file, rows) = match self.files.entry(key) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let path = self.dir.join(key.file_name());
                let mut w = BufWriter::with_capacity(256 * 1024, File::create(&path)?);
                w.write_all(key.header().as_bytes())?;
                w.write_all(b"\n")?;
                e.insert((w, 0))
            }
        };
        file.write_all(&chunk.bytes)?;
        *rows += chunk.rows;
        Ok(())
    }

    /// Add one analysis. `Ok(false)`: the analysis was already written
    /// (a repeated report), nothing was added.
    pub fn add(&mut self, p: Prepared) -> io::Result<bool> {
        if !self.analyses.insert(id_digest(&p.id)) {
            return Ok(false);
        }
        for (key, chunk) in &p.chunks {
            self.write(*key, chunk)?;
        }
        let invalid = |e: ShapeError| io::Error::new(io::ErrorKind::InvalidData, e);
        for (label, row) in p.shared_nodes {
            let Some(key) = str_of(&row, label.key()).map(str::to_owned) else {
                return Err(invalid(ShapeError(format!(":{} row without its key", label.name()))));
            };
            let cols = Tables::get().node(label);
            if cols.is_empty() {
                // Nothing to settle: written as soon as it is first met.
                if self.shared_keys.insert((label, key)) {
                    let mut chunk = Chunk::default();
                    node_line(&mut chunk, label, &row).map_err(invalid)?;
                    self.write(FileKey::Node(label), &chunk)?;
                }
                continue;
            }
            let s = self.settled.entry(label).or_default();
            match s.index.get(&key) {
                None => {
                    s.index.insert(key, s.rows.len());
                    s.rows.push(row);
                }
                Some(&i) => {
                    let old = &mut s.rows[i];
                    for c in cols {
                        let new = get(&row, c.name).cloned().unwrap_or(Prop::Null);
                        let cur = get(old, c.name).unwrap_or(&Prop::Null);
                        if replaces(c.settle, cur, &new) {
                            match old.iter_mut().find(|(k, _)| *k == c.name) {
                                Some((_, v)) => *v = new,
                                None => old.push((c.name, new)),
                            }
                        }
                    }
                }
            }
        }
        for (rel, row) in p.shared_rels {
            let (Some(from), Some(to)) = (str_of(&row, "from"), str_of(&row, "to")) else {
                return Err(invalid(ShapeError(format!(
                    ":{} row without its ends",
                    rel.type_name()
                ))));
            };
            // Between two shared nodes: one relationship across all
            // analyses; the model gives these no properties to settle.
            if self.shared_rels.insert((rel, from.to_owned(), to.to_owned())) {
                let mut chunk = Chunk::default();
                rel_line(&mut chunk, rel, &row).map_err(invalid)?;
                self.write(FileKey::Rel(rel), &chunk)?;
            }
        }
        Ok(true)
    }

    /// Write the settled shared nodes, `schema.cypher` and `import.sh`, and
    /// close every file.
    pub fn finish(mut self, database: &str) -> io::Result<Summary> {
        let settled = std::mem::take(&mut self.settled);
        for (label, s) in settled {
            let mut chunk = Chunk::default();
            for row in &s.rows {
                node_line(&mut chunk, label, row).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            self.write(FileKey::Node(label), &chunk)?;
        }
        let mut files = Vec::new();
        for (key, (mut w, rows)) in std::mem::take(&mut self.files) {
            w.flush()?;
            files.push((key, self.dir.join(key.file_name()), rows));
        }
        let schema = self.dir.join("schema.cypher");
        let mut text = String::from(
            "// The constraints and indexes `graphmalw ingest` creates; run once after the import:\n\
             // cypher-shell -d <database> -f schema.cypher\n",
        );
        for s in schema_statements() {
            text.push_str(&s);
            text.push_str(";\n");
        }
        std::fs::write(&schema, text)?;
        let mut summary = Summary {
            files,
            multiline: self.multiline,
            schema: schema.clone(),
            script: self.dir.join("import.sh"),
        };
        let script = format!(
            "#!/bin/sh\n# Written by graphmalw export neo4j-csv. Run with Neo4j stopped, into a database\n\
             # that does not exist yet; then start Neo4j and create the schema:\n#   {}\n{}\n",
            schema_command(&summary, database),
            admin_command(&summary, database)
        );
        std::fs::write(&summary.script, script)?;
        summary.files.sort_by_key(|(k, _, _)| (k.is_rel(), *k));
        Ok(summary)
    }
}

/// `s` quoted for a POSIX shell when it needs it.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `neo4j-admin database import full` command for these files.
pub fn admin_command(summary: &Summary, database: &str) -> String {
    let mut parts = vec!["neo4j-admin database import full".to_owned()];
    for (key, path, _) in &summary.files {
        let flag = if key.is_rel() { "--relationships" } else { "--nodes" };
        parts.push(format!("{flag}={}", sh_quote(&path.display().to_string())));
    }
    parts.push("--id-type=string".into());
    parts.push(format!("--array-delimiter={}", sh_quote(&ARRAY_DELIMITER.to_string())));
    parts.push("--legacy-style-quoting=false".into());
    if summary.multiline {
        parts.push("--multiline-fields=true".into());
    }
    parts.push(sh_quote(database));
    parts.join(" \\\n  ")
}

/// The command that creates the schema after the import.
pub fn schema_command(summary: &Summary, database: &str) -> String {
    format!(
        "cypher-shell -d {} -f {}",
        sh_quote(database),
        sh_quote(&summary.schema.display().to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EdgeKind;

    #[test]
    fn columns_follow_the_ingest_statements() {
        let t = Tables::get();
        for l in Label::ALL {
            let names: Vec<&str> = t.node(l).iter().map(|c| c.name).collect();
            let mut want: Vec<&str> = match l {
                Label::Sample => vec!["name", "size", "md5", "sha1", "type"],
                _ => l.properties().to_vec(),
            };
            if l == Label::Analysis {
                want.push("complete");
            }
            assert_eq!(names, want, ":{}", l.name());
        }
        let rule = |l: Label, p: &str| t.node(l).iter().find(|c| c.name == p).map(|c| c.settle);
        assert_eq!(rule(Label::Sample, "size"), Some(Settle::Least));
        assert_eq!(rule(Label::Signature, "severity"), Some(Settle::Greatest));
        assert_eq!(rule(Label::Signature, "description"), Some(Settle::Least));
        assert_eq!(rule(Label::Analysis, "complete"), Some(Settle::Constant("true")));
        assert_eq!(rule(Label::Process, "pid"), Some(Settle::Overwrite));
    }

    #[test]
    fn headers_use_id_spaces_and_types() {
        assert_eq!(
            FileKey::Node(Label::Process).header(),
            "uid:ID(Process),analysis,pid:long,ppid:long,name,path,:LABEL"
        );
        assert_eq!(
            FileKey::Node(Label::Analysis).header(),
            "id:ID(Analysis),report,format,task_id:long,started,score:double,nodes:long,edges:long,complete:boolean,:LABEL"
        );
        assert_eq!(FileKey::Node(Label::File).header(), "path:ID(File),:LABEL");
        assert_eq!(
            FileKey::Rel(Rel::Behaviour(EdgeKind::ApiProc)).header(),
            ":START_ID(Api),:END_ID(Process),count:long,args,:TYPE"
        );
        assert_eq!(
            FileKey::Rel(Rel::Matched).header(),
            ":START_ID(Analysis),:END_ID(Signature),severity:long,attack:string[],:TYPE"
        );
        assert_eq!(
            FileKey::Rel(Rel::FileRefersTo).file_name(),
            "rels-REFERS_TO-FileHandle-File.csv"
        );
    }

    #[test]
    fn every_relationship_file_name_is_distinct() {
        let names: HashSet<String> = Rel::all().into_iter().map(|r| FileKey::Rel(r).file_name()).collect();
        assert_eq!(names.len(), Rel::all().len());
    }

    #[test]
    fn relationships_between_shared_nodes_carry_no_properties() {
        // The writer keeps the first of them; that is only right while they
        // have nothing to settle.
        for r in Rel::all() {
            let (a, b) = r.ends();
            if is_shared(a) && is_shared(b) {
                assert!(r.properties().is_empty(), "{r:?}");
            }
        }
    }

    #[test]
    fn strings_are_quoted_nulls_are_empty_and_types_are_checked() {
        let mut c = Chunk::default();
        let row: Row = vec![
            ("uid", Prop::Str("a/proc:1".into())),
            ("analysis", Prop::Str("a".into())),
            ("pid", Prop::Int(1)),
            ("ppid", Prop::Null),
            ("name", Prop::Str("say \"hi\"\nthere".into())),
            ("path", Prop::Str(String::new())),
        ];
        node_line(&mut c, Label::Process, &row).expect("fits");
        assert_eq!(
            String::from_utf8(c.bytes).expect("utf-8"),
            "\"a/proc:1\",\"a\",1,,\"say \"\"hi\"\"\nthere\",\"\",Process\n"
        );
        assert!(c.multiline);
        let mut bad = row.clone();
        bad[2].1 = Prop::Str("1".into());
        assert!(node_line(&mut Chunk::default(), Label::Process, &bad).is_err());
        let mut extra = row;
        extra.push(("colour", Prop::Null));
        assert!(node_line(&mut Chunk::default(), Label::Process, &extra).is_err());
    }

    #[test]
    fn settling_keeps_the_least_non_null_value() {
        use Settle::*;
        assert!(replaces(Least, &Prop::Null, &Prop::Str("b".into())));
        assert!(replaces(Least, &Prop::Str("b".into()), &Prop::Str("a".into())));
        assert!(!replaces(Least, &Prop::Str("a".into()), &Prop::Str("b".into())));
        assert!(!replaces(Least, &Prop::Str("a".into()), &Prop::Null));
        assert!(replaces(Greatest, &Prop::Int(2), &Prop::Int(3)));
        assert!(!replaces(Greatest, &Prop::Int(3), &Prop::Null));
        assert!(replaces(Overwrite, &Prop::Int(3), &Prop::Null));
    }

    #[test]
    fn repeated_rows_merge_into_the_last() {
        let rows: Vec<Row> = vec![
            vec![("from", Prop::Str("a".into())), ("to", Prop::Str("x".into()))],
            vec![("from", Prop::Str("a".into())), ("to", Prop::Str("y".into()))],
            vec![("from", Prop::Str("a".into())), ("to", Prop::Str("x".into()))],
        ];
        assert_eq!(
            merged(&rows, |r| Some((str_of(r, "from")?, str_of(r, "to")?))),
            vec![2, 1]
        );
    }

    #[test]
    fn analysis_ids_are_kept_as_32_bytes() {
        let id = "ab".repeat(32);
        assert_eq!(id_digest(&id), [0xab; 32]);
        assert_ne!(id_digest("not hex"), id_digest("not hex either"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("/tmp/out/nodes-Api.csv"), "/tmp/out/nodes-Api.csv");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(";"), "';'");
    }
}
