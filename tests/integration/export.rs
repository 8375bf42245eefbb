//! `graphmalw export`: the neo4j-admin CSV, GraphML and JSON Lines files.
//!
//! The file formats are checked with real parsers (the `csv` crate, the
//! strict XML 1.0 parser `roxmltree`), their counts against the JSON graph of
//! `build --format json` and against `ingest --dry-run`, and the CSV against
//! what `graphmalw ingest` really wrote into the test database (that one test
//! needs `NEO4J_URI`, like the `db` module).

use crate::db;
use crate::support::{self, code, path_str, stderr, stdout};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

const NODE_TYPES: [&str; 5] = ["proc", "api", "module", "file_handle", "key_handle"];
const EDGE_TYPES: [&str; 12] = [
    "proc-api",
    "api-proc",
    "api-nproc",
    "api-api",
    "api-handle",
    "handle-api",
    "api-key_handle",
    "key_handle-api",
    "api-file_handle",
    "file_handle-api",
    "api-module",
    "module-api",
];

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn run(args: &[&str]) -> Output {
    support::run_isolated(args)
}

/// The corpus every export test uses: the examples and the real fixtures
/// (`support::real_reports`), as files.
fn corpus() -> Vec<PathBuf> {
    support::real_reports()
}

/// `graphmalw export <what> <corpus> <extra…>`, which must succeed.
fn export(what: &str, paths: &[PathBuf], extra: &[&str]) -> Output {
    let mut args = vec!["export", what];
    args.extend(paths.iter().map(|p| path_str(p)));
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(code(&o), 0, "export {what} failed: {}", stderr(&o));
    o
}

/// Node and edge counts per spec type over these reports, from `build --format json`.
fn json_counts(files: &[PathBuf]) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let mut nodes = BTreeMap::new();
    let mut edges = BTreeMap::new();
    for f in files {
        let o = run(&["build", "--format", "json", path_str(f)]);
        assert_eq!(code(&o), 0, "{}: {}", f.display(), stderr(&o));
        if o.stdout.is_empty() {
            continue;
        }
        let g: Value = serde_json::from_slice(&o.stdout).expect("json");
        for n in g["nodes"].as_array().into_iter().flatten() {
            *nodes.entry(n["type"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
        }
        for e in g["edges"].as_array().into_iter().flatten() {
            *edges.entry(e["type"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
        }
    }
    (nodes, edges)
}

/// `build --format json` of one report; `Null` when it has no graph.
fn json_graph(report: &Path) -> Value {
    let o = run(&["build", "--format", "json", path_str(report)]);
    assert_eq!(code(&o), 0, "{}: {}", report.display(), stderr(&o));
    if o.stdout.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&o.stdout).expect("build prints JSON")
}

// ------------------------------------------------------------------ CSV

/// One field: its text and whether it was quoted (an unquoted empty field
/// is a null for the importer, a quoted one an empty string).
#[derive(Debug, Clone, PartialEq)]
struct Field {
    text: String,
    quoted: bool,
}

/// RFC 4180 records with quote information (cross-checked against the
/// `csv` crate in [`read_csv`]).
fn records(text: &str) -> Vec<Vec<Field>> {
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut field = Field {
        text: String::new(),
        quoted: false,
    };
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.text.push('"');
                }
                '"' => in_quotes = false,
                c => field.text.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(
                    field.text.is_empty(),
                    "a quote inside an unquoted field: {:?}",
                    field.text
                );
                in_quotes = true;
                field.quoted = true;
            }
            ',' => record.push(std::mem::replace(
                &mut field,
                Field {
                    text: String::new(),
                    quoted: false,
                },
            )),
            '\n' => {
                record.push(std::mem::replace(
                    &mut field,
                    Field {
                        text: String::new(),
                        quoted: false,
                    },
                ));
                out.push(std::mem::take(&mut record));
            }
            c => field.text.push(c),
        }
    }
    assert!(!in_quotes, "unterminated quoted field");
    assert!(
        record.is_empty() && field.text.is_empty(),
        "the last line has no line break"
    );
    out
}

struct CsvFile {
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<Field>>,
}

/// A CSV file, read twice: by the `csv` crate (a real parser: every record
/// must have the header's width) and by [`records`], which must agree.
fn read_csv(path: &Path) -> CsvFile {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = reader
        .headers()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .iter()
        .map(String::from)
        .collect();
    let parsed: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .iter()
                .map(String::from)
                .collect()
        })
        .collect();
    let mut all = records(&text);
    assert!(!all.is_empty(), "{}: no header", path.display());
    let rows = all.split_off(1);
    let texts: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|f| f.text.clone()).collect())
        .collect();
    assert_eq!(texts, parsed, "{}: the csv crate reads other values", path.display());
    assert!(!rows.is_empty(), "{}: a file without rows", path.display());
    CsvFile {
        name: path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned(),
        header,
        rows,
    }
}

fn read_export(dir: &Path) -> Vec<CsvFile> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("export folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files.iter().map(|p| read_csv(p)).collect()
}

/// `name:type` → (name, type); the importer's types that graphmalw uses.
fn split_column(col: &str) -> (&str, &str) {
    let (name, ty) = col.split_once(':').unwrap_or((col, "string"));
    assert!(
        ["string", "long", "double", "boolean", "string[]", "long[]"].contains(&ty),
        "column {col:?} has an unknown type"
    );
    (name, ty)
}

/// A field as the importer reads it (`None`: no property).
fn typed(field: &Field, ty: &str, what: &str) -> Option<Value> {
    if field.text.is_empty() && !field.quoted {
        return None;
    }
    Some(match ty {
        "string" => {
            assert!(field.quoted, "{what}: strings are always quoted");
            Value::String(field.text.clone())
        }
        "long" => json!(field
            .text
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("{what}: {:?} is not a long", field.text))),
        "double" => json!(field
            .text
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("{what}: {:?} is not a double", field.text))),
        "boolean" => json!(match field.text.as_str() {
            "true" => true,
            "false" => false,
            t => panic!("{what}: {t:?} is not a boolean"),
        }),
        "string[]" => Value::Array(field.text.split(';').map(|s| Value::String(s.to_owned())).collect()),
        "long[]" => Value::Array(
            field
                .text
                .split(';')
                .map(|s| {
                    json!(s
                        .parse::<i64>()
                        .unwrap_or_else(|_| panic!("{what}: {s:?} is not a long")))
                })
                .collect(),
        ),
        t => panic!("{what}: type {t}"),
    })
}

/// A node file's label, from `nodes-<Label>.csv`; a relationship file's
/// (type, start, end), from `rels-<TYPE>-<Start>-<End>.csv`.
enum Kind {
    Nodes(String),
    Rels(String, String, String),
}

fn kind_of(name: &str) -> Kind {
    let stem = name.strip_suffix(".csv").expect(".csv");
    if let Some(label) = stem.strip_prefix("nodes-") {
        return Kind::Nodes(label.to_owned());
    }
    let rest = stem
        .strip_prefix("rels-")
        .unwrap_or_else(|| panic!("unexpected file {name}"));
    let parts: Vec<&str> = rest.split('-').collect();
    assert_eq!(parts.len(), 3, "{name}");
    Kind::Rels(parts[0].into(), parts[1].into(), parts[2].into())
}

/// Check every file against the header format of `neo4j-admin database
/// import`, and return the graph the import would make, in the form of the
/// `db` module's snapshot.
fn check_and_load(files: &[CsvFile]) -> db::Snapshot {
    let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
    let mut snap = db::Snapshot {
        labels: BTreeMap::new(),
        types: BTreeMap::new(),
        nodes: Vec::new(),
        rels: Vec::new(),
    };
    for f in files {
        let Kind::Nodes(label) = kind_of(&f.name) else { continue };
        let key_col = f.header.first().expect("key column");
        let (key, space) = key_col.split_once(':').expect("key:ID(Label)");
        assert_eq!(space, format!("ID({label})"), "{}: one ID space per label", f.name);
        assert_eq!(f.header.last().map(String::as_str), Some(":LABEL"), "{}", f.name);
        let cols: Vec<(&str, &str)> = f.header[1..f.header.len() - 1]
            .iter()
            .map(|c| split_column(c))
            .collect();
        let space_ids = ids.entry(label.clone()).or_default();
        for row in &f.rows {
            assert_eq!(row.len(), f.header.len(), "{}", f.name);
            assert_eq!(row.last().map(|l| l.text.as_str()), Some(label.as_str()), "{}", f.name);
            let id = typed(&row[0], "string", &f.name).expect("an id");
            let id = id.as_str().expect("string id").to_owned();
            assert!(space_ids.insert(id.clone()), "{}: id {id:?} twice", f.name);
            let mut props = Map::new();
            props.insert(key.to_owned(), Value::String(id));
            for ((name, ty), field) in cols.iter().zip(&row[1..]) {
                if let Some(v) = typed(field, ty, &f.name) {
                    props.insert((*name).to_owned(), v);
                }
            }
            *snap.labels.entry(label.clone()).or_insert(0) += 1;
            snap.nodes.push(format!("{label} {}", Value::Object(props)));
        }
    }
    for f in files {
        let Kind::Rels(ty, start, end) = kind_of(&f.name) else {
            continue;
        };
        assert_eq!(f.header[0], format!(":START_ID({start})"), "{}", f.name);
        assert_eq!(f.header[1], format!(":END_ID({end})"), "{}", f.name);
        assert_eq!(f.header.last().map(String::as_str), Some(":TYPE"), "{}", f.name);
        let cols: Vec<(&str, &str)> = f.header[2..f.header.len() - 1]
            .iter()
            .map(|c| split_column(c))
            .collect();
        let mut seen = HashSet::new();
        for row in &f.rows {
            assert_eq!(row.len(), f.header.len(), "{}", f.name);
            assert_eq!(row.last().map(|l| l.text.as_str()), Some(ty.as_str()), "{}", f.name);
            let (a, b) = (&row[0].text, &row[1].text);
            assert!(
                ids.get(&start).is_some_and(|s| s.contains(a)),
                "{}: no :{start} {a:?}",
                f.name
            );
            assert!(
                ids.get(&end).is_some_and(|s| s.contains(b)),
                "{}: no :{end} {b:?}",
                f.name
            );
            assert!(seen.insert((a.clone(), b.clone())), "{}: {a:?} → {b:?} twice", f.name);
            let mut props = Map::new();
            for ((name, t), field) in cols.iter().zip(&row[2..]) {
                if let Some(v) = typed(field, t, &f.name) {
                    props.insert((*name).to_owned(), v);
                }
            }
            *snap.types.entry(ty.clone()).or_insert(0) += 1;
            snap.rels.push(format!(
                "{ty} {} {} {}",
                Value::String(a.clone()),
                Value::String(b.clone()),
                Value::Object(props)
            ));
        }
    }
    snap.nodes.sort();
    snap.rels.sort();
    snap
}

fn export_csv(paths: &[PathBuf], dir: &Path, extra: &[&str]) -> (Output, Vec<CsvFile>) {
    let mut args = vec!["--out", path_str(dir)];
    args.extend_from_slice(extra);
    let o = export("neo4j-csv", paths, &args);
    (o, read_export(dir))
}

#[test]
fn csv_files_follow_the_import_header_format_and_print_the_command() {
    let dir = tempdir();
    let (o, files) = export_csv(&corpus(), dir.path(), &[]);
    let snap = check_and_load(&files);
    assert!(snap.labels.len() >= 10, "most labels are written: {:?}", snap.labels);
    let out = stdout(&o);
    assert!(out.starts_with("neo4j-admin database import full"), "{out}");
    for f in &files {
        let flag = if f.name.starts_with("nodes-") {
            "--nodes="
        } else {
            "--relationships="
        };
        let path = std::path::absolute(dir.path().join(&f.name)).expect("absolute");
        assert!(
            out.contains(&format!("{flag}{}", path.display())),
            "the command names {}: {out}",
            f.name
        );
    }
    assert!(out.contains("schema.cypher"), "{out}");
    let schema = std::fs::read_to_string(dir.path().join("schema.cypher")).expect("schema.cypher");
    assert!(schema.contains("CREATE CONSTRAINT api_uid IF NOT EXISTS FOR (n:Api) REQUIRE n.uid IS UNIQUE;"));
    let script = std::fs::read_to_string(dir.path().join("import.sh")).expect("import.sh");
    assert!(script.contains("neo4j-admin database import full"));
    // Headers as the documentation shows them.
    let header = |name: &str| {
        files
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} is written"))
            .header
            .join(",")
    };
    assert_eq!(header("nodes-Api.csv"), "uid:ID(Api),analysis,name,api,category,:LABEL");
    assert_eq!(
        header("rels-API_NPROC-Api-Process.csv"),
        ":START_ID(Api),:END_ID(Process),count:long,args,creation_flags:long,image,command_line,:TYPE"
    );
    let analyses = files.iter().find(|f| f.name == "nodes-Analysis.csv").expect("analyses");
    let complete = analyses
        .header
        .iter()
        .position(|h| h == "complete:boolean")
        .expect("a complete column");
    assert!(
        analyses.rows.iter().all(|r| r[complete].text == "true"),
        "complete = true"
    );
}

#[test]
fn csv_counts_match_the_json_graph_and_the_dry_run() {
    let dir = tempdir();
    let (_, files) = export_csv(&corpus(), dir.path(), &[]);
    let snap = check_and_load(&files);
    let reports = corpus();
    let (nodes, edges) = json_counts(&reports);
    for t in NODE_TYPES {
        assert_eq!(
            snap.labels.get(db::label_of(t)).copied().unwrap_or(0),
            nodes.get(t).copied().unwrap_or(0),
            "nodes of type {t}"
        );
    }
    for t in EDGE_TYPES {
        let ty = t.to_uppercase().replace('-', "_");
        assert_eq!(
            snap.types.get(&ty).copied().unwrap_or(0),
            edges.get(t).copied().unwrap_or(0),
            "relationships of type {ty}"
        );
    }
    assert_eq!(
        snap.labels["Analysis"],
        reports.len() as i64,
        "one :Analysis per report"
    );
    assert_eq!(snap.types.get("HAS_PROCESS"), nodes.get("proc"));

    // The dry run counts rows before MERGE: the same for everything that
    // belongs to one analysis, at least as many for shared nodes.
    let mut args = vec!["ingest", "--dry-run", "--uri", "127.0.0.1:1"];
    let paths = corpus();
    args.extend(paths.iter().map(|p| path_str(p)));
    let o = run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut planned_nodes = BTreeMap::new();
    let mut planned_rels: BTreeMap<String, i64> = BTreeMap::new();
    for line in stdout(&o).lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        let n: i64 = parts[2].parse().expect("a count");
        match parts[0] {
            "node" => {
                planned_nodes.insert(parts[1].to_owned(), n);
            }
            // REFERS_TO and CONTACTED are one type over several files.
            _ => *planned_rels.entry(parts[1].to_owned()).or_insert(0) += n,
        }
    }
    assert_eq!(
        planned_nodes.keys().collect::<BTreeSet<_>>(),
        snap.labels.keys().collect::<BTreeSet<_>>()
    );
    for (label, n) in &planned_nodes {
        let got = snap.labels[label];
        if ["Analysis", "Process", "Api", "Module", "FileHandle", "KeyHandle"].contains(&label.as_str()) {
            assert_eq!(got, *n, ":{label}");
        } else {
            assert!(
                got <= *n && got > 0,
                ":{label}: {got} written once each, {n} rows planned"
            );
        }
    }
    assert_eq!(
        planned_rels.keys().collect::<BTreeSet<_>>(),
        snap.types.keys().collect::<BTreeSet<_>>()
    );
    for (ty, n) in &planned_rels {
        let got = snap.types[ty];
        if ty == "RESOLVES_TO" || ty == "CONTACTED" || ty == "CREATED_MUTEX" {
            assert!(got <= *n && got > 0, ":{ty}: {got} vs {n} planned");
        } else {
            assert_eq!(got, *n, ":{ty}");
        }
    }
}

#[test]
fn csv_describes_exactly_the_graph_ingest_writes() {
    let _g = db::serial();
    let c = db::conn();
    let expected = db::clean(&c);
    let paths: Vec<PathBuf> = db::corpus_args().into_iter().map(PathBuf::from).collect();
    let dir = tempdir();
    let (_, files) = export_csv(&paths, dir.path(), &[]);
    let got = check_and_load(&files);
    db::assert_same(&got, expected, "the CSV export against the database after ingest");
}

fn report(sample_name: &str, size: Option<u64>, severity: i64, description: &str, extra_mutex: &str) -> Value {
    json!({
        "info": {"id": 1, "version": "2.0.7"},
        "target": {"file": {"sha256": "ab".repeat(32), "name": sample_name, "size": size, "type": "PE32"}},
        "signatures": [{"name": "sig", "description": description, "severity": severity}],
        "behavior": {
            "processes": [{
                "pid": 100, "ppid": 4, "process_name": sample_name, "process_path": "C:\\a.exe",
                "calls": [{"category": "registry", "api": "RegOpenKeyExW", "status": 1, "return_value": 0,
                           "time": 1, "tid": 1,
                           "arguments": {"key_handle": "0x0000001c", "regkey": "HKEY_LOCAL_MACHINE\\Software\\X"}}]
            }],
            "summary": {"mutex": ["shared-mutex", extra_mutex]}
        }
    })
}

#[test]
fn csv_writes_shared_nodes_once_and_settles_their_properties() {
    let src = tempdir();
    let a = serde_json::to_vec(&report("b.exe", Some(10), 2, "zzz", "only-a")).expect("json");
    std::fs::write(src.path().join("a.json"), &a).expect("write");
    // The same bytes again: one analysis, written once.
    std::fs::write(src.path().join("a-copy.json"), &a).expect("write");
    let b = serde_json::to_vec(&report("a.exe", None, 3, "aaa", "only-b")).expect("json");
    std::fs::write(src.path().join("b.json"), &b).expect("write");
    let dir = tempdir();
    let (o, files) = export_csv(&[src.path().to_path_buf()], dir.path(), &[]);
    assert!(stderr(&o).contains("repeated 1"), "{}", stderr(&o));
    let snap = check_and_load(&files);
    assert_eq!(snap.labels["Analysis"], 2);
    assert_eq!(snap.labels["Sample"], 1);
    assert_eq!(snap.labels["RegistryKey"], 1);
    assert_eq!(snap.labels["Mutex"], 3);
    assert_eq!(snap.labels["Signature"], 1);
    assert_eq!(snap.types["CREATED_MUTEX"], 4);
    let sample = snap.nodes.iter().find(|n| n.starts_with("Sample ")).expect("sample");
    // Least name, a null size never wins, as ingest's statements settle them.
    assert_eq!(
        sample,
        &format!(
            "Sample {}",
            json!({"name": "a.exe", "sha256": "ab".repeat(32), "size": 10, "type": "PE32"})
        )
    );
    let sig = snap
        .nodes
        .iter()
        .find(|n| n.starts_with("Signature "))
        .expect("signature");
    assert_eq!(
        sig,
        &format!(
            "Signature {}",
            json!({"description": "aaa", "name": "sig", "severity": 3})
        )
    );
}

#[test]
fn csv_output_is_the_same_whatever_the_thread_count() {
    let (one, four) = (tempdir(), tempdir());
    export_csv(&corpus(), one.path(), &["-j", "1"]);
    export_csv(&corpus(), four.path(), &["-j", "4"]);
    let names = support::tree(one.path());
    assert_eq!(names, support::tree(four.path()));
    for n in names {
        if n.to_string_lossy().ends_with(".csv") {
            assert!(
                std::fs::read(one.path().join(&n)).ok() == std::fs::read(four.path().join(&n)).ok(),
                "{} differs between -j 1 and -j 4",
                n.display()
            );
        }
    }
}

#[test]
fn csv_refuses_to_mix_with_an_earlier_export_unless_forced() {
    let dir = tempdir();
    let examples = [support::examples()];
    export_csv(&examples, dir.path(), &[]);
    let mut args = vec![
        "export",
        "neo4j-csv",
        path_str(&examples[0]),
        "--out",
        path_str(dir.path()),
    ];
    let o = run(&args);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    args.push("--force");
    assert_eq!(code(&run(&args)), 0);
}

#[test]
fn csv_with_line_breaks_in_values_asks_for_multiline_fields() {
    let src = tempdir();
    let mut r = report("two\nlines.exe", Some(1), 1, "d", "m");
    r["behavior"]["processes"][0]["process_path"] = json!("C:\\x\r\n\"quoted\"\\");
    std::fs::write(src.path().join("r.json"), serde_json::to_vec(&r).expect("json")).expect("write");
    let dir = tempdir();
    let (o, files) = export_csv(&[src.path().to_path_buf()], dir.path(), &[]);
    assert!(stdout(&o).contains("--multiline-fields=true"), "{}", stdout(&o));
    let snap = check_and_load(&files);
    let proc_ = snap.nodes.iter().find(|n| n.starts_with("Process ")).expect("process");
    assert!(proc_.contains(r#""path":"C:\\x\r\n\"quoted\"\\""#), "{proc_}");
    let examples = tempdir();
    let (o, _) = export_csv(&[support::examples()], examples.path(), &[]);
    assert!(!stdout(&o).contains("multiline"), "only when needed: {}", stdout(&o));
}

// ------------------------------------------------------------------ GraphML

const GRAPHML_NS: &str = "http://graphml.graphdrawing.org/xmlns";

/// A parsed GraphML graph: node ids with their data, edges with theirs.
struct Gml {
    graph: BTreeMap<String, String>,
    nodes: Vec<(String, BTreeMap<String, String>)>,
    edges: Vec<(String, String, BTreeMap<String, String>)>,
}

fn parse_graphml(text: &str) -> Gml {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "graphml");
    assert_eq!(root.tag_name().namespace(), Some(GRAPHML_NS));
    // Every <data key> must be declared, for its domain, with a known type.
    let mut keys: HashMap<String, (String, String)> = HashMap::new();
    for k in root.children().filter(|n| n.has_tag_name((GRAPHML_NS, "key"))) {
        let ty = k.attribute("attr.type").expect("attr.type");
        assert!(["string", "long", "int", "double", "boolean"].contains(&ty), "{ty}");
        let id = k.attribute("id").expect("key id").to_owned();
        let dom = k.attribute("for").expect("for").to_owned();
        let name = k.attribute("attr.name").expect("attr.name").to_owned();
        assert!(keys.insert(id, (dom, name)).is_none(), "key declared twice");
    }
    let data = |n: roxmltree::Node, domain: &str| -> BTreeMap<String, String> {
        n.children()
            .filter(|c| c.has_tag_name((GRAPHML_NS, "data")))
            .map(|d| {
                let key = d.attribute("key").expect("data key");
                let (dom, name) = keys.get(key).unwrap_or_else(|| panic!("undeclared key {key}"));
                assert_eq!(dom, domain, "key {key} used on a {domain}");
                (name.clone(), d.text().unwrap_or("").to_owned())
            })
            .collect()
    };
    let graph = root
        .children()
        .find(|n| n.has_tag_name((GRAPHML_NS, "graph")))
        .expect("<graph>");
    assert_eq!(graph.attribute("edgedefault"), Some("directed"));
    let nodes: Vec<_> = graph
        .children()
        .filter(|n| n.has_tag_name((GRAPHML_NS, "node")))
        .map(|n| (n.attribute("id").expect("node id").to_owned(), data(n, "node")))
        .collect();
    let ids: HashSet<&str> = nodes.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), nodes.len(), "node ids are unique");
    let edges: Vec<_> = graph
        .children()
        .filter(|n| n.has_tag_name((GRAPHML_NS, "edge")))
        .map(|e| {
            let (s, t) = (
                e.attribute("source").expect("source"),
                e.attribute("target").expect("target"),
            );
            assert!(
                ids.contains(s) && ids.contains(t),
                "edge {s} → {t} between declared nodes"
            );
            (s.to_owned(), t.to_owned(), data(e, "edge"))
        })
        .collect();
    Gml {
        graph: data(graph, "graph"),
        nodes,
        edges,
    }
}

#[test]
fn graphml_parses_with_a_strict_xml_parser_and_matches_the_json_graph() {
    let dir = tempdir();
    export("graphml", &corpus(), &["--out", path_str(dir.path())]);
    let mut checked = 0;
    for report in corpus() {
        let g = json_graph(&report);
        let name = report.file_name().and_then(|n| n.to_str()).expect("name");
        let stem = name.trim_end_matches(".gz").trim_end_matches(".json");
        let path = dir.path().join(format!("{stem}.graphml"));
        if g.is_null() || g["nodes"].as_array().is_none_or(|n| n.is_empty()) {
            assert!(!path.exists(), "no graph, no file: {}", path.display());
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let gml = parse_graphml(&text);
        assert_eq!(
            gml.graph.get("analysis"),
            g["analysis"]["id"].as_str().map(String::from).as_ref()
        );
        let jnodes = g["nodes"].as_array().expect("nodes");
        let jedges = g["edges"].as_array().expect("edges");
        assert_eq!(gml.nodes.len(), jnodes.len(), "{name}: nodes");
        assert_eq!(gml.edges.len(), jedges.len(), "{name}: edges");
        let mut index = HashMap::new();
        for ((id, d), j) in gml.nodes.iter().zip(jnodes) {
            assert_eq!(d["node_id"], j["id"].as_str().expect("id"), "{name}");
            assert_eq!(d["type"], j["type"].as_str().expect("type"), "{name}");
            if j["type"] == "api" {
                assert_eq!(d["name"], j["name"].as_str().expect("name"));
                assert_eq!(d["api"], j["api"].as_str().expect("api"));
            }
            index.insert(id.clone(), d["node_id"].clone());
        }
        for ((s, t, d), j) in gml.edges.iter().zip(jedges) {
            assert_eq!(index[s], j["from"].as_str().expect("from"));
            assert_eq!(index[t], j["to"].as_str().expect("to"));
            assert_eq!(d["type"], j["type"].as_str().expect("type"));
            assert_eq!(d["count"], j["count"].to_string());
            let args: Value = serde_json::from_str(&d["args"]).expect("args is JSON");
            assert_eq!(args, j["args"], "{name}: args");
        }
        checked += 1;
    }
    assert!(checked >= 3, "graphs were compared");
}

#[test]
fn graphml_escapes_markup_and_replaces_characters_xml_cannot_carry() {
    // The parser really is strict: a raw control character is refused.
    assert!(roxmltree::Document::parse("<a>\u{1}</a>").is_err());
    let hostile = "<b>&amp; \"q\" 'a' ]]> \u{0}nul \u{1b}esc\ttab\nlf\rcr \u{fffe} ünï 🦀";
    let src = tempdir();
    let mut r = report(hostile, Some(1), 1, "d", "m");
    r["behavior"]["processes"][0]["calls"][0]["arguments"]["regkey"] = json!(hostile);
    std::fs::write(src.path().join("h.json"), serde_json::to_vec(&r).expect("json")).expect("write");
    let dir = tempdir();
    export("graphml", &[src.path().to_path_buf()], &["--out", path_str(dir.path())]);
    let text = std::fs::read_to_string(dir.path().join("h.graphml")).expect("h.graphml");
    let gml = parse_graphml(&text);
    let expect = "<b>&amp; \"q\" 'a' ]]> \u{2400}nul \u{241b}esc\ttab\nlf\rcr \u{fffd} ünï 🦀";
    let proc_ = &gml.nodes.iter().find(|(_, d)| d["type"] == "proc").expect("proc").1;
    assert_eq!(
        proc_["name"], expect,
        "the process name round-trips, control characters replaced"
    );
    let key = &gml
        .nodes
        .iter()
        .find(|(_, d)| d["type"] == "key_handle")
        .expect("key")
        .1;
    assert_eq!(key["path"], expect);
}

// ------------------------------------------------------------------ JSON Lines

fn jsonl_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn jsonl_lines_match_the_json_graph() {
    let dir = tempdir();
    let out = dir.path().join("graphs.jsonl");
    export("jsonl", &corpus(), &["--out", path_str(&out)]);
    let text = std::fs::read_to_string(&out).expect("jsonl");
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let mut by_report: HashMap<String, &Value> = HashMap::new();
    for l in &lines {
        assert_eq!(l["node_types"], json!(NODE_TYPES));
        assert_eq!(l["edge_types"], json!(EDGE_TYPES));
        assert_eq!(l["label"], Value::Null);
        by_report.insert(l["report"].as_str().expect("report").to_owned(), l);
    }
    let mut with_graph = 0;
    for report in corpus() {
        let g = json_graph(&report);
        let name = report.file_name().and_then(|n| n.to_str()).expect("name");
        let Some(jnodes) = g["nodes"].as_array().filter(|n| !n.is_empty()) else {
            assert!(!by_report.contains_key(name), "{name}: no graph, no line");
            continue;
        };
        with_graph += 1;
        let l = by_report.get(name).unwrap_or_else(|| panic!("{name} has a line"));
        assert_eq!(l["analysis"], g["analysis"]["id"]);
        assert_eq!(l["sample"], g["analysis"]["sample"]["sha256"]);
        let nodes = l["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), jnodes.len(), "{name}");
        let mut ids = Vec::new();
        for (n, j) in nodes.iter().zip(jnodes) {
            let t = n["type"].as_u64().expect("type index") as usize;
            assert_eq!(NODE_TYPES[t], j["type"].as_str().expect("type"), "{name}");
            assert!(n["name"].is_string());
            if j["type"] == "api" || j["type"] == "module" {
                assert_eq!(n["name"], j["name"]);
            }
            ids.push(j["id"].as_str().expect("id"));
        }
        let edges = l["edges"].as_array().expect("edges");
        let jedges = g["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), jedges.len(), "{name}");
        for (e, j) in edges.iter().zip(jedges) {
            let e: Vec<u64> = e
                .as_array()
                .expect("[src, dst, type, count]")
                .iter()
                .map(|v| v.as_u64().expect("integer"))
                .collect();
            assert_eq!(e.len(), 4);
            assert_eq!(ids[e[0] as usize], j["from"].as_str().expect("from"));
            assert_eq!(ids[e[1] as usize], j["to"].as_str().expect("to"));
            assert_eq!(EDGE_TYPES[e[2] as usize], j["type"].as_str().expect("type"));
            assert_eq!(json!(e[3]), j["count"]);
        }
    }
    assert_eq!(lines.len(), with_graph, "one line per graph");
}

#[test]
fn jsonl_labels_come_from_the_option_or_the_mapping_file() {
    let dir = tempdir();
    let examples = [support::examples()];
    let o = export("jsonl", &examples, &["--label", "malicious"]);
    let lines = jsonl_lines(&o);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["label"] == "malicious"));

    let first_sample = lines[0]["sample"].as_str().expect("a sample").to_owned();
    let labels = dir.path().join("labels.csv");
    std::fs::write(
        &labels,
        format!(
            "sha256,label\n# a comment\n{},\"agent, tesla\"\n",
            first_sample.to_uppercase()
        ),
    )
    .expect("write");
    let o = export(
        "jsonl",
        &examples,
        &["--labels", path_str(&labels), "--label", "unknown"],
    );
    for l in jsonl_lines(&o) {
        let want = if l["sample"] == first_sample.as_str() {
            "agent, tesla"
        } else {
            "unknown"
        };
        assert_eq!(l["label"], want, "{}", l["report"]);
    }
    let o = export("jsonl", &examples, &["--labels", path_str(&labels)]);
    let lines = jsonl_lines(&o);
    assert!(lines.iter().any(|l| l["label"].is_null()), "no fallback: null");
    assert!(stderr(&o).contains("without a label"), "{}", stderr(&o));

    std::fs::write(&labels, format!("{first_sample},a\n{first_sample},b\n")).expect("write");
    let o = run(&["export", "jsonl", path_str(&examples[0]), "--labels", path_str(&labels)]);
    assert_eq!(code(&o), 2, "two labels for one sample: {}", stderr(&o));
    assert!(stderr(&o).contains("two labels"), "{}", stderr(&o));
}

#[test]
fn exports_count_broken_reports_and_go_on() {
    let src = tempdir();
    std::fs::write(src.path().join("broken.json"), b"{\"behavior\": [").expect("write");
    std::fs::copy(
        support::examples().join("dropper-cuckoo.json"),
        src.path().join("good.json"),
    )
    .expect("copy");
    let out = tempdir();
    for (what, extra) in [
        ("neo4j-csv", vec!["--out", path_str(&out.path().join("csv"))]),
        ("graphml", vec!["--out", path_str(&out.path().join("gml"))]),
        ("jsonl", vec![]),
    ] {
        let mut args = vec!["export", what, path_str(src.path())];
        args.extend(extra);
        let o = run(&args);
        assert_eq!(code(&o), 1, "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains("broken.json"), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains("exported 1,"), "{what}: {}", stderr(&o));
    }
    assert!(out.path().join("gml/good.graphml").exists());
}
