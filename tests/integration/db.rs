//! Ingest against a real Bolt server (never a mock).
//!
//! The server comes from `NEO4J_URI`, `NEO4J_USERNAME`, `NEO4J_PASSWORD`,
//! `NEO4J_DATABASE`: `scripts/test` starts a local ArcadeDB and sets them;
//! point them at a Neo4j 5 and the same tests run there. These tests EMPTY
//! that database. Without `NEO4J_URI` they fail with a message saying so.

use crate::support::{self, run, stderr, stdout};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Database tests run one at a time: each empties the database first.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct Conn {
    pub(crate) uri: String,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) database: String,
}

pub(crate) fn conn() -> Conn {
    let var = |k: &str, default: Option<&str>| {
        std::env::var(k).ok().or(default.map(String::from)).unwrap_or_else(|| {
            panic!(
                "{k} is not set: the database tests need a Bolt server. Run `scripts/test` \
                 (it starts a local ArcadeDB), or set NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD, \
                 NEO4J_DATABASE to a Neo4j 5 you may empty"
            )
        })
    };
    Conn {
        uri: var("NEO4J_URI", None),
        user: var("NEO4J_USERNAME", Some("neo4j")),
        password: var("NEO4J_PASSWORD", None),
        database: var("NEO4J_DATABASE", Some("neo4j")),
    }
}

impl Conn {
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = support::bin();
        c.args(args)
            .env("NEO4J_URI", &self.uri)
            .env("NEO4J_USERNAME", &self.user)
            .env("NEO4J_PASSWORD", &self.password)
            .env("NEO4J_DATABASE", &self.database);
        c
    }

    pub(crate) fn ingest(&self, args: &[&str]) -> std::process::Output {
        let mut full = vec!["ingest"];
        full.extend_from_slice(args);
        self.command(&full)
            .stdin(Stdio::null())
            .output()
            .expect("graphmalw runs")
    }

    /// `ingest ARGS`, which must succeed; its stderr (the summary).
    pub(crate) fn ingest_ok(&self, args: &[&str]) -> String {
        let o = self.ingest(args);
        assert!(o.status.success(), "ingest {args:?} failed: {}", stderr(&o));
        stderr(&o)
    }

    pub(crate) fn spawn_ingest(&self, args: &[&str]) -> Child {
        let mut full = vec!["ingest"];
        full.extend_from_slice(args);
        self.command(&full)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    }

    pub(crate) fn client(&self) -> neo4rs::Graph {
        let config = neo4rs::ConfigBuilder::default()
            .uri(self.uri.as_str())
            .user(self.user.as_str())
            .password(self.password.as_str())
            .db(self.database.as_str())
            .build()
            .expect("config");
        neo4rs::Graph::connect(config).unwrap_or_else(|e| panic!("cannot reach the test database at {}: {e}", self.uri))
    }
}

pub(crate) fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt")
    })
}

/// Run a query; each row as a JSON object of its columns.
pub(crate) fn query(g: &neo4rs::Graph, db: &str, cypher: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    rt().block_on(async {
        let mut txn = g.start_txn_on(db).await.expect("txn");
        let mut stream = txn
            .execute(neo4rs::query(cypher))
            .await
            .unwrap_or_else(|e| panic!("{cypher}: {e}"));
        let mut out = Vec::new();
        while let Some(row) = stream.next(txn.handle()).await.expect("row") {
            out.push(
                row.to::<serde_json::Map<String, serde_json::Value>>()
                    .expect("row as JSON"),
            );
        }
        txn.commit().await.expect("commit");
        out
    })
}

pub(crate) fn wipe(c: &Conn) {
    let g = c.client();
    loop {
        let r = query(
            &g,
            &c.database,
            "MATCH (n) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS n",
        );
        if r.first().and_then(|r| r.get("n")).and_then(|v| v.as_i64()).unwrap_or(0) == 0 {
            break;
        }
    }
}

/// Everything in the database, in a form two runs can be compared by.
#[derive(Debug, PartialEq, Clone)]
pub(crate) struct Snapshot {
    pub(crate) labels: BTreeMap<String, i64>,
    pub(crate) types: BTreeMap<String, i64>,
    /// Sorted canonical text of every node (labels + properties) and
    /// relationship (type, end keys, properties): the property checksum.
    pub(crate) nodes: Vec<String>,
    pub(crate) rels: Vec<String>,
}

const END_KEY: &str = "coalesce(a.uid, a.id, a.sha256, a.path, a.name, a.address, a.key)";

pub(crate) fn snapshot(c: &Conn) -> Snapshot {
    let g = c.client();
    let mut labels = BTreeMap::new();
    let mut nodes = Vec::new();
    for r in query(&g, &c.database, "MATCH (n) RETURN labels(n) AS l, properties(n) AS p") {
        let l = r["l"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned();
        *labels.entry(l.clone()).or_insert(0) += 1;
        nodes.push(format!("{l} {}", canonical(&r["p"])));
    }
    let mut types = BTreeMap::new();
    let mut rels = Vec::new();
    let q = format!(
        "MATCH (a)-[r]->(b) RETURN type(r) AS t, {END_KEY} AS a, {} AS b, properties(r) AS p",
        END_KEY.replace("a.", "b.")
    );
    for r in query(&g, &c.database, &q) {
        let t = r["t"].as_str().unwrap_or("?").to_owned();
        *types.entry(t.clone()).or_insert(0) += 1;
        rels.push(format!("{t} {} {} {}", r["a"], r["b"], canonical(&r["p"])));
    }
    nodes.sort();
    rels.sort();
    Snapshot {
        labels,
        types,
        nodes,
        rels,
    }
}

/// JSON with object keys sorted (serde_json's map is ordered by key).
fn canonical(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(crate) fn assert_same(actual: &Snapshot, expected: &Snapshot, what: &str) {
    assert_eq!(actual.labels, expected.labels, "{what}: node counts per label differ");
    assert_eq!(
        actual.types, expected.types,
        "{what}: relationship counts per type differ"
    );
    if actual.nodes != expected.nodes {
        let diff: Vec<_> = actual
            .nodes
            .iter()
            .filter(|n| !expected.nodes.contains(n))
            .take(3)
            .collect();
        panic!("{what}: node properties differ, e.g. {diff:?}");
    }
    if actual.rels != expected.rels {
        let diff: Vec<_> = actual
            .rels
            .iter()
            .filter(|n| !expected.rels.contains(n))
            .take(3)
            .collect();
        panic!("{what}: relationship properties differ, e.g. {diff:?}");
    }
}

/// The reports the database tests ingest (not those that interrupt an
/// ingest: see [`big`]): the examples and the real fixtures, as files.
pub(crate) fn corpus() -> Vec<PathBuf> {
    support::real_reports()
}

pub(crate) fn corpus_args() -> Vec<String> {
    support::args_of(&corpus())
}

pub(crate) fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The graph one clean ingest of the corpus makes (computed once).
pub(crate) fn clean(c: &Conn) -> &'static Snapshot {
    static CLEAN: OnceLock<Snapshot> = OnceLock::new();
    CLEAN.get_or_init(|| {
        wipe(c);
        let args = corpus_args();
        c.ingest_ok(&strs(&args));
        snapshot(c)
    })
}

/// `ingest` options that make a run slow enough to interrupt: small batches
/// on one worker.
pub(crate) const SLOW: [&str; 4] = ["--batch-size", "25", "--jobs", "1"];

/// A slow ingest ([`SLOW`]) of the interruption corpus takes at least this
/// long on the machine running the tests. The interruptions come at the
/// first signs of progress (a few hundred nodes, or 30 KB to 200 KB sent):
/// a small fraction of it.
const MIN_SLOW_INGEST: Duration = Duration::from_secs(8);
/// The synthetic reports of the interruption corpus (`graphmalw-synth
/// corpus`, seeded: the same bytes everywhere; report `i` of a bigger corpus
/// is report `i` of a smaller one).
const SYNTH_SEED: &str = "12";
const SYNTH_SIZE: &str = "256K";
const SYNTH_FIRST_COUNT: u64 = 16;
const SYNTH_MAX_COUNT: u64 = 1024;

/// The corpus of the tests that interrupt an ingest (kill, database restart
/// and stop, cut and stalled connections, Ctrl-C) or run several at once,
/// and the graph one clean ingest of it makes.
pub(crate) struct Big {
    /// `ingest` arguments: the examples' and the synthetic reports' files.
    pub(crate) args: Vec<String>,
    pub(crate) snapshot: Snapshot,
}

/// The interruption corpus, made once per test run with the repository's
/// own generator, so that these tests never depend on anything outside the
/// repository: synthetic reports beside the examples, scaled up on this
/// machine until a slow ingest of it ([`SLOW`], the settings the
/// interrupted runs use) takes [`MIN_SLOW_INGEST`]. That ingest is also the
/// clean run the interrupted ones are compared with. Each test still
/// checks that its interruption landed mid-way (the ingest was running when
/// it came, and work was left undone), so a machine too fast for the
/// scaling fails rather than passing without testing anything.
pub(crate) fn big(c: &Conn) -> &'static Big {
    static BIG: OnceLock<Big> = OnceLock::new();
    BIG.get_or_init(|| {
        let mut count = SYNTH_FIRST_COUNT;
        loop {
            // Files, not folders, so that a test can reverse their order.
            let args = support::args_of(&report_files(&[support::examples(), synth_corpus(count)]));
            wipe(c);
            let mut slow = SLOW.to_vec();
            slow.extend(strs(&args));
            let started = Instant::now();
            let o = c.ingest(&slow);
            let took = started.elapsed();
            assert!(
                o.status.success(),
                "clean ingest of the interruption corpus failed: {}",
                stderr(&o)
            );
            if took >= MIN_SLOW_INGEST {
                // Past the test harness's capture: the run shows its scale.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: interruption corpus: the examples and {count} synthetic reports of ~{SYNTH_SIZE}; \
                     a slow ingest of it took {:.1}s",
                    took.as_secs_f64()
                );
                return Big {
                    args,
                    snapshot: snapshot(c),
                };
            }
            assert!(
                count < SYNTH_MAX_COUNT,
                "even {count} synthetic reports ingest in {took:?} (< {MIN_SLOW_INGEST:?}): \
                 too fast to interrupt mid-way"
            );
            // Scale by what the measured time says is missing (at least
            // double), with some room.
            let factor = (MIN_SLOW_INGEST.as_secs_f64() / took.as_secs_f64().max(0.01) * 1.25).ceil();
            count = (count * factor.clamp(2.0, 16.0) as u64).min(SYNTH_MAX_COUNT);
        }
    })
}

pub(crate) fn big_args(c: &Conn) -> Vec<String> {
    big(c).args.clone()
}

/// `count` synthetic reports in a folder of this test process under the
/// target directory (`CARGO_TARGET_TMPDIR`), made anew. Folders left by
/// processes that are gone are removed.
fn synth_corpus(count: u64) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mine = format!("synth-corpus-{}", std::process::id());
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix("synth-corpus-") else {
                continue;
            };
            if name != mine && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = tmp.join(mine);
    let _ = std::fs::remove_dir_all(&dir);
    // The generator's own `corpus` command, in this process.
    let count = count.to_string();
    let dir_arg = dir.to_string_lossy();
    let args = [
        "--count", &count, "--size", SYNTH_SIZE, "--seed", SYNTH_SEED, "--shape", "mix", "-o", &dir_arg,
    ];
    if let Err(e) = graphmalw_synth::cmd_corpus(&args.map(String::from)) {
        panic!("graphmalw-synth corpus failed: {e:#}");
    }
    dir
}

fn report_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for p in paths {
        if p.is_file() {
            v.push(p.clone());
            continue;
        }
        for e in std::fs::read_dir(p).expect("read dir").flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.ends_with(".json") || n.ends_with(".json.gz") {
                v.push(e.path());
            }
        }
    }
    v.sort();
    v
}

/// Node and edge counts per spec type over the corpus, from `build --format json`.
fn build_counts(files: &[PathBuf]) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let mut nodes = BTreeMap::new();
    let mut edges = BTreeMap::new();
    for f in files {
        let o = run(&["build", "--format", "json", f.to_str().unwrap_or_default()]);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        if o.stdout.is_empty() {
            continue;
        }
        let g: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        for n in g["nodes"].as_array().into_iter().flatten() {
            *nodes.entry(n["type"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
        }
        for e in g["edges"].as_array().into_iter().flatten() {
            *edges.entry(e["type"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
        }
    }
    (nodes, edges)
}

/// The database label of a spec node type.
pub(crate) fn label_of(spec_type: &str) -> &'static str {
    match spec_type {
        "proc" => "Process",
        "api" => "Api",
        "module" => "Module",
        "file_handle" => "FileHandle",
        "key_handle" => "KeyHandle",
        other => panic!("unknown node type {other}"),
    }
}

#[test]
fn ingest_counts_equal_what_build_says() {
    let _g = serial();
    let c = conn();
    let snap = clean(&c).clone();
    let files = report_files(&corpus());
    let (nodes, edges) = build_counts(&files);
    for (t, n) in &nodes {
        assert_eq!(snap.labels.get(label_of(t)), Some(n), "nodes of type {t}");
    }
    for (t, n) in &edges {
        let ty = t.to_uppercase().replace('-', "_");
        assert_eq!(snap.types.get(&ty), Some(n), "relationships of type {ty}");
    }
    assert_eq!(
        snap.labels.get("Analysis"),
        Some(&(files.len() as i64)),
        "one :Analysis per report"
    );
    assert_eq!(
        snap.types.get("HAS_PROCESS"),
        nodes.get("proc"),
        "every process hangs off its analysis"
    );
    let g = c.client();
    let incomplete = query(
        &g,
        &c.database,
        "MATCH (a:Analysis) WHERE a.complete <> true RETURN count(*) AS n",
    );
    assert_eq!(incomplete[0]["n"], 0, "every analysis is marked complete");
}

#[test]
fn dry_run_plans_what_build_says_without_a_database() {
    let files = report_files(&corpus());
    let (nodes, _) = build_counts(&files);
    let args = corpus_args();
    let mut full = vec!["ingest", "--dry-run", "--uri", "127.0.0.1:1"];
    full.extend(strs(&args));
    let o = run(&full);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for (t, n) in &nodes {
        assert!(
            out.contains(&format!("node\t{}\t{n}\n", label_of(t))),
            "dry run plans {n} {t}: {out}"
        );
    }
    assert!(stderr(&o).contains("dry run: nothing was written"));
}

#[test]
fn reingest_skips_and_force_rewrites_to_the_same_graph() {
    let _g = serial();
    let c = conn();
    let expected = clean(&c).clone();
    wipe(&c);
    let args = corpus_args();
    assert!(c.ingest(&strs(&args)).status.success());
    let again = c.ingest(&strs(&args));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("ingested 0 analyses"),
        "second run skips: {}",
        stderr(&again)
    );
    assert_same(&snapshot(&c), &expected, "after a second ingest");
    let mut forced = vec!["--force"];
    forced.extend(strs(&args));
    let f = c.ingest(&forced);
    assert!(f.status.success(), "{}", stderr(&f));
    assert!(
        !stderr(&f).contains("ingested 0 analyses"),
        "--force rewrites: {}",
        stderr(&f)
    );
    assert_same(&snapshot(&c), &expected, "after --force");
}

pub(crate) fn count_nodes(c: &Conn, g: &neo4rs::Graph) -> i64 {
    query(g, &c.database, "MATCH (n) RETURN count(n) AS n")[0]["n"]
        .as_i64()
        .unwrap_or(0)
}

/// Wait until the database holds more than `min` nodes (the ingest is under
/// way), failing if the ingest ends first: whatever interrupts it next
/// lands mid-way (the callers then check that work was left undone).
pub(crate) fn wait_for_progress(c: &Conn, child: &mut Child, min: i64) {
    let g = c.client();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended_early = "ingest finished before it could be interrupted (the interruption corpus is too small \
                       for this machine: see db::big)";
    while count_nodes(c, &g) <= min {
        assert!(child.try_wait().expect("wait").is_none(), "{ended_early}");
        assert!(Instant::now() < deadline, "ingest made no progress in 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.try_wait().expect("wait").is_none(), "{ended_early}");
}

pub(crate) fn complete_analyses(c: &Conn) -> i64 {
    let g = c.client();
    query(
        &g,
        &c.database,
        "MATCH (a:Analysis) WHERE a.complete = true RETURN count(*) AS n",
    )[0]["n"]
        .as_i64()
        .unwrap_or(0)
}

#[test]
fn sigkill_midway_then_rerun_equals_a_clean_run() {
    let _g = serial();
    let c = conn();
    let expected = big(&c).snapshot.clone();
    wipe(&c);
    let args = big_args(&c);
    let mut slow = SLOW.to_vec();
    slow.extend(strs(&args));
    // The second run is killed once it has written 400 nodes past the first.
    for more_nodes in [0, 400] {
        let min_nodes = count_nodes(&c, &c.client()) + more_nodes;
        let mut child = c.spawn_ingest(&slow);
        wait_for_progress(&c, &mut child, min_nodes);
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
    assert!(
        complete_analyses(&c) < expected.labels["Analysis"],
        "the kills left work undone"
    );
    c.ingest_ok(&strs(&args));
    assert_same(&snapshot(&c), &expected, "after SIGKILL and re-run");
}

#[test]
fn database_restart_midway_then_rerun_equals_a_clean_run() {
    let Some(restart) = std::env::var("GRAPHMALW_TEST_DB_RESTART").ok() else {
        assert!(
            !support::in_ci(),
            "GRAPHMALW_TEST_DB_RESTART must name the restart command in CI"
        );
        eprintln!("SKIPPED: set GRAPHMALW_TEST_DB_RESTART to a command that restarts the test database");
        return;
    };
    let _g = serial();
    let c = conn();
    let expected = big(&c).snapshot.clone();
    wipe(&c);
    let args = big_args(&c);
    let mut slow = SLOW.to_vec();
    slow.extend(strs(&args));
    let mut child = c.spawn_ingest(&slow);
    wait_for_progress(&c, &mut child, 200);
    support::shell(&restart);
    let first = child.wait_with_output().expect("ingest ends");
    // The ingest rides out the restart with retries (which shows that the
    // restart came in the middle of it), or stops with a clear error.
    let err = stderr(&first);
    if first.status.success() {
        assert!(
            err.contains("retrying"),
            "the ingest never met the restart (it ended before?):\n{err}"
        );
    } else {
        assert!(
            err.contains("gave up") || err.contains("run the same command again"),
            "unclear failure: {err}"
        );
    }
    c.ingest_ok(&strs(&args));
    assert_same(&snapshot(&c), &expected, "after a database restart and re-run");
}

#[test]
fn concurrent_ingesters_make_no_duplicates() {
    let _g = serial();
    let c = conn();
    let expected = big(&c).snapshot.clone();
    wipe(&c);
    let args = big_args(&c);
    let mut a = vec!["--batch-size", "50"];
    a.extend(strs(&args));
    let mut b = vec!["--batch-size", "80"];
    b.extend(strs(&args).into_iter().rev());
    // Two in the same order collide on every analysis; the third meets them midway.
    let children = [c.spawn_ingest(&a), c.spawn_ingest(&a), c.spawn_ingest(&b)];
    for (i, child) in children.into_iter().enumerate() {
        let o = child.wait_with_output().expect("ingester ends");
        assert!(o.status.success(), "ingester {i}: {}", stderr(&o));
    }
    let g = c.client();
    for (label, key) in [
        ("Api", "uid"),
        ("File", "path"),
        ("Dll", "name"),
        ("Sample", "sha256"),
        ("Analysis", "id"),
    ] {
        let r = query(
            &g,
            &c.database,
            &format!("MATCH (n:{label}) RETURN count(n) AS n, count(DISTINCT n.{key}) AS d"),
        );
        assert_eq!(r[0]["n"], r[0]["d"], "duplicate :{label} nodes");
    }
    assert_same(&snapshot(&c), &expected, "after concurrent ingesters");
}

/// Values that would break string-built Cypher: they must arrive as plain data.
const HOSTILE: [&str; 6] = [
    "x' }) MATCH (n) DETACH DELETE n //",
    "back\\slash \"quoted\" 'single'",
    "$rows } {param} // comment",
    "MATCH (n) DETACH DELETE n",
    "line\nbreak\ttab \u{0} nul",
    "ünïcødé 🦀 \u{202e}rtl",
];

fn hostile_report(dir: &Path) -> PathBuf {
    let calls: Vec<serde_json::Value> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, s)| {
            serde_json::json!({
                "category": "registry", "api": "RegOpenKeyExW", "status": 1, "return_value": 0,
                "time": i, "tid": 1,
                "arguments": {"key_handle": format!("0x{:08x}", 0x100 + i), "regkey": s, "value": s}
            })
        })
        .collect();
    let report = serde_json::json!({
        "info": {"id": 1, "version": "2.0.7"},
        "target": {"file": {"sha256": "ab".repeat(32), "name": HOSTILE[0]}},
        "behavior": {"processes": [{
            "pid": 4242, "ppid": 1, "process_name": HOSTILE[0], "process_path": HOSTILE[1], "calls": calls
        }], "summary": {"mutex": HOSTILE}},
    });
    let p = dir.join("hostile.json");
    std::fs::write(&p, serde_json::to_vec(&report).expect("json")).expect("write");
    p
}

#[test]
fn hostile_strings_round_trip_as_plain_values() {
    let _g = serial();
    let c = conn();
    wipe(&c);
    let dir = tempfile::tempdir().expect("tempdir");
    let report = hostile_report(dir.path());
    c.ingest_ok(&[report.to_str().unwrap_or_default()]);
    let g = c.client();
    let procs = query(
        &g,
        &c.database,
        "MATCH (p:Process) RETURN p.name AS name, p.path AS path",
    );
    assert_eq!(procs.len(), 1);
    assert_eq!(procs[0]["name"], HOSTILE[0]);
    assert_eq!(procs[0]["path"], HOSTILE[1]);
    let mut keys: Vec<String> = query(&g, &c.database, "MATCH (k:RegistryKey) RETURN k.path AS p")
        .iter()
        .filter_map(|r| r["p"].as_str().map(String::from))
        .collect();
    keys.sort();
    let mut want: Vec<String> = HOSTILE.iter().map(|s| s.to_lowercase()).collect();
    want.sort();
    assert_eq!(keys, want, "registry keys round-trip");
    let mut mutexes: Vec<String> = query(&g, &c.database, "MATCH (m:Mutex) RETURN m.name AS n")
        .iter()
        .filter_map(|r| r["n"].as_str().map(String::from))
        .collect();
    mutexes.sort();
    let mut want: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(mutexes, want, "mutexes round-trip");
    let args = query(&g, &c.database, "MATCH ()-[r:API_KEY_HANDLE]->() RETURN r.args AS a");
    let mut values: Vec<String> = args
        .iter()
        .filter_map(|r| r["a"].as_str())
        .filter_map(|a| serde_json::from_str::<serde_json::Value>(a).ok())
        .filter_map(|v| v["value"].as_str().map(String::from))
        .collect();
    values.sort();
    assert_eq!(values, want, "edge args round-trip as JSON");
    // Nothing was deleted or added besides this one analysis.
    let (nodes, _) = build_counts(&[report]);
    let total: i64 = nodes.values().sum();
    let behaviour = query(
        &g,
        &c.database,
        "MATCH (n) WHERE n.analysis IS NOT NULL RETURN count(n) AS n",
    );
    assert_eq!(behaviour[0]["n"].as_i64(), Some(total));
}

/// `(campaign id, sorted member report names)` of every `:Campaign`.
fn campaigns(c: &Conn) -> Vec<(String, Vec<String>)> {
    let rows = query(
        &c.client(),
        &c.database,
        "MATCH (k:Campaign)<-[:IN_CAMPAIGN]-(a:Analysis) WITH k, a ORDER BY a.report \
         RETURN k.id AS id, collect(a.report) AS reports ORDER BY id",
    );
    rows.iter()
        .map(|r| {
            let reports = r["reports"].as_array().expect("a list");
            let reports = reports.iter().map(|v| v.as_str().unwrap_or_default().to_owned());
            (r["id"].as_str().unwrap_or_default().to_owned(), reports.collect())
        })
        .collect()
}

/// The indicators `indicator-clusters` lists for the one campaign.
fn shared_in_campaign(c: &Conn) -> Vec<String> {
    let o = c
        .command(&["query", "run", "indicator-clusters", "--format", "json"])
        .output()
        .expect("graphmalw runs");
    assert!(o.status.success(), "indicator-clusters: {}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON rows");
    let indicators = rows[0]["indicators"].as_array().expect("one campaign, with indicators");
    indicators
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

fn correlate_ok(c: &Conn) -> String {
    // In three analyses an indicator two hold weighs ln 3/2 (one all three
    // hold weighs nothing): a low weight lets the examples link.
    let o = c
        .command(&["correlate", "--min-weight", "1", "--page", "7"])
        .output()
        .expect("graphmalw runs");
    assert!(o.status.success(), "correlate failed: {}", stderr(&o));
    stdout(&o)
}

/// `correlate` reads indicator holders page by page, writes the examples'
/// planted campaign as one `:Campaign`, gives the same graph when run again,
/// replaces campaigns it no longer finds, and never links through what a
/// baseline analysis holds.
#[test]
fn correlate_writes_campaigns_and_replaces_them_idempotently() {
    let _g = serial();
    let c = conn();
    wipe(&c);
    let examples = support::args_of(&[support::examples()]);
    c.ingest_ok(&strs(&examples));
    let summary = correlate_ok(&c);
    assert!(summary.contains("3 analyses (0 baseline)"), "{summary}");
    // The dropper and the stealer share six indicators, three of them with
    // the injector too, which therefore link it to neither.
    assert!(summary.contains("1 campaigns of 2 analyses"), "{summary}");
    let pair = ["dropper-cuckoo.json", "stealer-cape.json"];
    let found = campaigns(&c);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, pair, "{found:?}");
    // Safelisted background is marked on its shared node.
    let marked = query(
        &c.client(),
        &c.database,
        "MATCH (i:IpAddress {address: '8.8.8.8'}) RETURN i.safelisted AS s, i.safelist_reason AS r",
    );
    assert_eq!(marked[0]["s"], serde_json::json!(true), "{marked:?}");

    // `indicator-clusters` leaves out what a baseline analysis holds: the
    // injector, marked in place, holds three of the pair's shared indicators
    // (not the domain: only the pair holds it).
    let baseline = |verb: &str| {
        let o = c
            .command(&["baseline", verb, "injector-cape.json"])
            .output()
            .expect("graphmalw runs");
        assert!(o.status.success(), "baseline {verb}: {}", stderr(&o));
    };
    let domain = |list: &[String]| {
        list.iter()
            .any(|i| i.starts_with("domain:telemetry-update.example.net ("))
    };
    let listed = shared_in_campaign(&c);
    assert!(domain(&listed), "{listed:?}");
    baseline("mark");
    let background = shared_in_campaign(&c);
    assert!(background.len() < listed.len(), "{background:?} against {listed:?}");
    assert!(
        background.iter().all(|i| listed.contains(i)),
        "{background:?} against {listed:?}"
    );
    assert!(domain(&background), "{background:?}");
    baseline("unmark");
    assert_eq!(shared_in_campaign(&c), listed);

    let once = snapshot(&c);
    correlate_ok(&c);
    assert_same(&snapshot(&c), &once, "a second correlate run");

    // A campaign of an earlier run that this one does not find goes.
    query(
        &c.client(),
        &c.database,
        "MATCH (a:Analysis {report: 'stealer-cape.json'}) \
         CREATE (a)-[:IN_CAMPAIGN]->(:Campaign {id: 'campaign-stale', members: 1})",
    );
    correlate_ok(&c);
    assert_same(&snapshot(&c), &once, "correlate after a stale campaign");

    // The stealer as a clean baseline: what it holds links nobody, and it is
    // no member.
    let stealer: Vec<String> = support::args_of(&[support::examples().join("stealer-cape.json")]);
    let mut args = vec!["--baseline", "--force"];
    args.extend(strs(&stealer));
    c.ingest_ok(&args);
    let summary = correlate_ok(&c);
    assert!(summary.contains("(1 baseline)"), "{summary}");
    let found = campaigns(&c);
    assert!(found.iter().all(|(_, m)| !m.contains(&pair[1].to_owned())), "{found:?}");
}

/// `baseline mark` marks analyses already ingested (by report name, id or
/// sample sha256) without rewriting them, `list` shows them, `unmark` takes
/// the mark back, and a reference that names nothing fails after the rest.
#[test]
fn baseline_marks_lists_and_unmarks_analyses_in_place() {
    let _g = serial();
    let c = conn();
    wipe(&c);
    let examples = support::args_of(&[support::examples()]);
    c.ingest_ok(&strs(&examples));
    correlate_ok(&c);
    let before = snapshot(&c);
    let run = |args: &[&str]| c.command(args).output().expect("graphmalw runs");

    let o = run(&["baseline", "mark", "stealer-cape.json", "no-such-report.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("marked as baseline: stealer-cape.json ("),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("'no-such-report.json'"), "{}", stderr(&o));
    let o = run(&["baseline", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(stdout(&o).starts_with("stealer-cape.json ("), "{}", stdout(&o));
    let summary = correlate_ok(&c);
    assert!(summary.contains("(1 baseline)"), "{summary}");

    let o = run(&["baseline", "unmark", "stealer-cape.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["baseline", "list"]);
    assert_eq!(stdout(&o), "", "{}", stdout(&o));
    correlate_ok(&c);
    assert_same(&snapshot(&c), &before, "marking and unmarking a baseline");
}

/// `safelist apply` brings the marks of nodes already in the database up to
/// the list of today: an entry added in the settings marks the node it
/// names (`--dry-run` only counts it), and without the entry the mark goes,
/// giving back the graph ingest wrote.
#[test]
fn safelist_apply_marks_and_unmarks_nodes_already_ingested() {
    let _g = serial();
    let c = conn();
    wipe(&c);
    let examples = support::args_of(&[support::examples()]);
    c.ingest_ok(&strs(&examples));
    let before = snapshot(&c);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("graphmalw.toml");
    std::fs::write(
        &config,
        "[[correlate.safelist]]\nkind = \"mutex\"\nreason = \"our test agent\"\npatterns = [\"Global\\\\RgSvc_*\"]\n",
    )
    .expect("settings written");
    let config = config.to_str().unwrap_or_default();
    let mark = |m: &str| {
        let cypher = format!("MATCH (m:Mutex {{name: '{m}'}}) RETURN m.safelisted AS s, m.safelist_reason AS r");
        query(&c.client(), &c.database, &cypher)[0].clone()
    };
    let mutex = "Global\\\\RgSvc_Mtx_51A2";

    let o = c
        .command(&["--config", config, "safelist", "apply", "--dry-run"])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("mutex    2 nodes read, would mark 1 safelisted"),
        "{}",
        stdout(&o)
    );
    assert_eq!(mark(mutex)["s"], serde_json::Value::Null);

    let o = c
        .command(&["--config", config, "safelist", "apply", "--page", "1"])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mark(mutex)["s"], serde_json::json!(true));
    assert_eq!(mark(mutex)["r"], serde_json::json!("our test agent"));
    assert_eq!(mark("Global\\\\WHS_7d3f0a2c")["s"], serde_json::Value::Null);

    let o = c.command(&["safelist", "apply"]).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("mutex    2 nodes read, marked 0 safelisted, 1 no longer"),
        "{}",
        stdout(&o)
    );
    assert_same(&snapshot(&c), &before, "safelist apply with and without an entry");
}
