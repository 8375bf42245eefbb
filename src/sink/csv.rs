//! `graphmalw export neo4j-csv`: the Neo4j model as CSV files for
//! `neo4j-admin database import full`.
//!
//! The CSV is made from the very rows `graphmalw ingest` sends
//! ([`analysis_rows`](crate::store::rows::analysis_rows)), and its files,
//! headers, column types and settle rules are those of the model's table
//! ([`store::import`](crate::store::import)), the table ingest's statements
//! are generated from, so the two cannot drift: a property that ingest
//! starts to set becomes a column here, and a row value of a type the
//! column does not declare is an error, not a silent change. This module
//! formats and writes the files.
//!
//! # Files
//!
//! One node file per label (`nodes-<Label>.csv`) and one relationship file
//! per relationship type and end labels (`rels-<TYPE>-<Start>-<End>.csv`),
//! each with its header line. Only files that get rows are created.
//!
//! - Headers ([`FileKey::header`]): `<key>:ID(<Label>)` (one ID space per
//!   label, since the keys differ per label; the key is stored as a property
//!   too) or `:START_ID(<Label>),:END_ID(<Label>)`, then the typed properties
//!   (`pid:long`, `score:double`, `attack:string[]`, `complete:boolean`,
//!   plain names for strings), then `:LABEL` or `:TYPE`.
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
//!   properties settle as the table says ingest's statements do (least
//!   value, or greatest for a severity; a null never replaces a value), so the result does not
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

use crate::store::{schema_statements, Label, Prop, Rel, Row, Rows, Settle, Type};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use crate::store::FileKey;

/// The array delimiter the files use (the importer's default).
pub const ARRAY_DELIMITER: char = ';';

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
fn field(out: &mut Vec<u8>, ty: Type, v: &Prop, multiline: &mut bool, what: &str) -> Result<(), ShapeError> {
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
        (Type::String, Prop::Str(s)) => quoted(out, s, multiline),
        (Type::Boolean, Prop::Bool(b)) => {
            let _ = write!(out, "{b}");
        }
        (Type::Long, Prop::Int(i)) => {
            let _ = write!(out, "{i}");
        }
        (Type::Double, Prop::Float(f)) => {
            if f.is_finite() {
                let _ = write!(out, "{f:?}");
            }
        }
        (Type::Double, Prop::Int(i)) => {
            let _ = write!(out, "{i}");
        }
        (Type::StringArray, Prop::List(items)) => {
            if !items.is_empty() {
                let joined = items.join(&ARRAY_DELIMITER.to_string());
                quoted(out, &joined, multiline);
            }
        }
        (Type::LongArray, Prop::Ints(items)) => {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(ARRAY_DELIMITER as u8);
                }
                let _ = write!(out, "{v}");
            }
        }
        (ty, v) => return Err(ShapeError(format!("{what}: value {v:?} in a column of type {ty:?}"))),
    }
    Ok(())
}

/// A node row as one CSV line.
fn node_line(out: &mut Chunk, label: Label, row: &Row) -> Result<(), ShapeError> {
    let cols = label.properties();
    let key = get(row, label.key()).ok_or_else(|| ShapeError(format!(":{} row without its key", label.name())))?;
    for (name, _) in row {
        if *name != label.key() && !cols.iter().any(|c| c.name == *name) {
            return Err(ShapeError(format!(":{} property {name} has no column", label.name())));
        }
    }
    let what = label.name();
    field(&mut out.bytes, Type::String, key, &mut out.multiline, what)?;
    for c in cols {
        out.bytes.push(b',');
        match c.settle {
            Settle::Constant { import, .. } => out.bytes.extend_from_slice(import.as_bytes()),
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
    let cols = rel.properties();
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
            Some(p @ Prop::Str(_)) => field(&mut out.bytes, Type::String, p, &mut out.multiline, what)?,
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
        if label.is_shared() {
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
        if a.is_shared() && b.is_shared() {
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
            let cols = label.properties();
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
                        if c.settle.replaces(cur, &new) {
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

    #[test]
    fn relationships_between_shared_nodes_carry_no_properties() {
        // The writer keeps the first of them; that is only right while they
        // have nothing to settle.
        for r in Rel::all() {
            let (a, b) = r.ends();
            if a.is_shared() && b.is_shared() {
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
