//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The graphmalw binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_graphmalw"));
    // Tests never pick up a developer's own settings.
    c.env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("GRAPHMALW_") || k.starts_with("NEO4J_") {
            c.env_remove(k);
        }
    }
    c
}

/// Run graphmalw with arguments; panics only if it cannot start.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("graphmalw runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Bundled example reports.
pub fn examples() -> PathBuf {
    root().join("examples/reports")
}

/// Running in CI (`CI=true`): missing prerequisites are failures, not skips.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The real-report fixtures kept in the repository, `tests/fixtures`
/// (`reports/<name>.json.gz`, `expected/<name>.json`; sources and licences in
/// its SOURCES.md). Always there: these are the required ones.
pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

/// A further fixture folder of the same layout that the fixture and database
/// tests also run over when it is there: `GRAPHMALW_FIXTURES`, else
/// `../shared/fixtures` beside the repository. When there is none, one line
/// on stderr (once per test run) says the extra fixtures were skipped, and
/// nothing fails, in CI too. A `GRAPHMALW_FIXTURES` that names no such
/// folder is a mistake and fails (a relative one is taken from the
/// repository root, where `cargo test` runs the tests).
pub fn extra_fixtures() -> Option<PathBuf> {
    static EXTRA: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    EXTRA
        .get_or_init(|| {
            if let Some(v) = std::env::var_os("GRAPHMALW_FIXTURES") {
                let dir = root().join(v);
                assert!(
                    dir.join("reports").is_dir(),
                    "GRAPHMALW_FIXTURES={} has no reports/ folder",
                    dir.display()
                );
                return Some(dir);
            }
            let dir = root().join("../shared/fixtures");
            if dir.join("reports").is_dir() {
                return Some(dir);
            }
            // Straight to the process's stderr, past the test harness's
            // capture, so the line shows in a passing run too.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "note: extra fixtures skipped (no ../shared/fixtures beside the repository, \
                 GRAPHMALW_FIXTURES not set): the fixture tests use tests/fixtures only"
            );
            None
        })
        .clone()
}

/// Every fixture folder to check: `tests/fixtures`, then the extra one when
/// there (unless it is the same folder).
pub fn fixture_dirs() -> Vec<PathBuf> {
    let mut v = vec![fixtures()];
    if let Some(extra) = extra_fixtures() {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same(&extra, &v[0]) {
            v.push(extra);
        }
    }
    v
}

/// The real reports the database and export tests use, as sorted files: the
/// examples, the in-repo fixtures, and the extra fixtures' reports that are
/// not byte for byte one of those (the same bytes are the same analysis).
pub fn real_reports() -> Vec<PathBuf> {
    static REPORTS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    REPORTS
        .get_or_init(|| {
            let reports_in = |dir: &Path| {
                let mut v = files_ending(dir, ".json");
                v.extend(files_ending(dir, ".json.gz"));
                v
            };
            let mut v = reports_in(&examples());
            v.extend(reports_in(&fixtures().join("reports")));
            let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            let known: Vec<Vec<u8>> = v.iter().map(|p| read(p)).collect();
            for extra in fixture_dirs().iter().skip(1) {
                for p in reports_in(&extra.join("reports")) {
                    if !known.contains(&read(&p)) {
                        v.push(p);
                    }
                }
            }
            v.sort();
            v
        })
        .clone()
}

/// Paths as command-line arguments.
pub fn args_of(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// A JSON graph as printed by `build --format json`.
pub fn build_json(report: &Path) -> serde_json::Value {
    let o = run(&["build", "--format", "json", report.to_str().expect("utf-8 path")]);
    assert!(o.status.success(), "build {} failed: {}", report.display(), stderr(&o));
    serde_json::from_slice(&o.stdout).expect("build prints JSON")
}

// ---- Added for the fixtures, cli and golden modules. ----

/// Environment variables of the parent that must never reach graphmalw in a
/// test: `GRAPHMALW_*` ones the tests themselves read (graphmalw rejects
/// unknown `GRAPHMALW_*` keys as invalid settings) and a developer's own
/// Neo4j connection settings (they would show in `config show`).
pub const TEST_ONLY_VARS: &[&str] = &[
    "GRAPHMALW_FIXTURES",
    "GRAPHMALW_BLESS",
    "NEO4J_URI",
    "NEO4J_USERNAME",
    "NEO4J_PASSWORD",
    "NEO4J_DATABASE",
];

/// `bin()` without [`TEST_ONLY_VARS`], run in `cwd` so that only a
/// `graphmalw.toml` the test put there is read. Paths given to it must be
/// absolute.
pub fn bin_in(cwd: &Path) -> Command {
    let mut c = bin();
    for k in TEST_ONLY_VARS {
        c.env_remove(k);
    }
    c.current_dir(cwd);
    c
}

/// Run graphmalw isolated from the developer's settings: an empty working
/// directory, no `GRAPHMALW_*` or `NEO4J_*` variables.
pub fn run_isolated(args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().expect("temporary directory");
    bin_in(cwd.path()).args(args).output().expect("graphmalw runs")
}

/// Like [`build_json`], isolated as [`run_isolated`].
pub fn build_json_isolated(report: &Path) -> serde_json::Value {
    let o = run_isolated(&["build", "--format", "json", path_str(report)]);
    assert!(
        o.status.success(),
        "build {} failed ({:?}): {}",
        report.display(),
        o.status.code(),
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).expect("build prints JSON")
}

/// A path as a command-line argument (the tests only use UTF-8 paths).
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The files directly in `dir` whose name ends with `suffix`, sorted.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, as sorted paths relative to it.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("readable directory") {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    if dir.is_dir() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// The exit code, failing the test when the process was killed by a signal.
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("graphmalw was killed: {:?}\n{}", o.status, stderr(o)))
}

// ---- Added for the hostile and faults modules. ----

/// Run `cmd` to its end, but for at most `limit`: past it the process is
/// killed and the test fails (a hang is a bug). Returns the output and how
/// long it took. stdin is closed.
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> (Output, std::time::Duration) {
    use std::io::Read;
    use std::process::Stdio;
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("graphmalw starts");
    // Drained on threads so a chatty child never blocks on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = err.join().unwrap_or_default();
            panic!(
                "graphmalw did not finish within {limit:?} (a hang); stderr so far:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    (output, started.elapsed())
}

/// Fail when anything graphmalw printed looks like a Rust panic.
pub fn assert_no_panic(o: &Output) {
    for text in [stdout(o), stderr(o)] {
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "graphmalw panicked:\n{text}"
        );
    }
}

/// A loopback TCP proxy in front of a real server, for fault tests: it
/// forwards bytes both ways until told to cut every connection (now, or
/// when the client has sent a given number of bytes, in the middle of a
/// message), to stall (stop moving bytes, keep the sockets open), or to
/// refuse (accept and close at once).
pub struct Proxy {
    addr: std::net::SocketAddr,
    shared: std::sync::Arc<ProxyShared>,
}

#[derive(Default)]
struct ProxyShared {
    stalled: std::sync::atomic::AtomicBool,
    refusing: std::sync::atomic::AtomicBool,
    stop: std::sync::atomic::AtomicBool,
    /// Client → server bytes so far.
    up: std::sync::atomic::AtomicU64,
    /// Cut everything when `up` reaches this (0: never).
    cut_at: std::sync::atomic::AtomicU64,
    cuts: std::sync::atomic::AtomicU64,
    /// Stall when the client sends bytes holding this (once).
    stall_marker: std::sync::Mutex<Option<Vec<u8>>>,
    accepted: std::sync::atomic::AtomicU64,
    open: std::sync::Mutex<Vec<std::net::TcpStream>>,
}

impl ProxyShared {
    fn cut_all(&self) {
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(|e| e.into_inner()));
        for s in open {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        self.cuts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Proxy {
    /// Listen on a free loopback port and forward to `target` (`host:port`,
    /// or a `bolt://host:port` URI).
    pub fn start(target: &str) -> Proxy {
        use std::sync::atomic::Ordering::SeqCst;
        let target = target.split_once("://").map_or(target, |(_, r)| r).to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy listens");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let shared = std::sync::Arc::new(ProxyShared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            while !s.stop.load(SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => continue,
                };
                s.accepted.fetch_add(1, SeqCst);
                if s.refusing.load(SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let _ = client.set_nonblocking(false);
                for sock in [&client, &server] {
                    let _ = sock.set_read_timeout(Some(std::time::Duration::from_millis(20)));
                    let _ = sock.set_nodelay(true);
                }
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                ) else {
                    continue;
                };
                s.open.lock().unwrap_or_else(|e| e.into_inner()).extend([c3, s3]);
                let (up, down) = (s.clone(), s.clone());
                std::thread::spawn(move || pump(client, s2, true, &up));
                std::thread::spawn(move || pump(server, c2, false, &down));
            }
        });
        Proxy { addr, shared }
    }

    /// `host:port` to give graphmalw.
    pub fn uri(&self) -> String {
        self.addr.to_string()
    }

    /// Stop (true) or resume (false) moving bytes on every connection.
    pub fn stall(&self, on: bool) {
        self.shared.stalled.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stall every connection (as [`Proxy::stall`]) when the client sends a
    /// chunk holding `marker`, before that chunk is forwarded: the server
    /// never sees the request, the client never gets an answer. Once.
    pub fn stall_on(&self, marker: &[u8]) {
        *self.shared.stall_marker.lock().unwrap_or_else(|e| e.into_inner()) = Some(marker.to_vec());
    }

    /// Close new connections at once (true), or forward them again (false).
    pub fn refuse(&self, on: bool) {
        self.shared.refusing.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Cut every open connection now.
    pub fn cut_now(&self) {
        self.shared.cut_all();
    }

    /// Cut every open connection when the client side has sent `bytes` in all
    /// (mid-message: only the bytes up to that count are forwarded).
    pub fn cut_when_sent(&self, bytes: u64) {
        self.shared
            .cut_at
            .store(bytes.max(1), std::sync::atomic::Ordering::SeqCst);
    }

    /// Client → server bytes forwarded so far.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.up.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many times every connection was cut.
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.cut_all();
    }
}

fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream, upstream: bool, s: &ProxyShared) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering::SeqCst;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if s.stop.load(SeqCst) {
            break;
        }
        if s.stalled.load(SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(5));
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        let mut chunk = &buf[..n];
        let mut cut = false;
        if upstream {
            let mut marker = s.stall_marker.lock().unwrap_or_else(|e| e.into_inner());
            if marker
                .as_ref()
                .is_some_and(|m| chunk.windows(m.len()).any(|w| w == m.as_slice()))
            {
                *marker = None;
                s.stalled.store(true, SeqCst);
            }
            drop(marker);
            let before = s.up.fetch_add(n as u64, SeqCst);
            let at = s.cut_at.load(SeqCst);
            if at > 0 && before + n as u64 >= at && s.cut_at.compare_exchange(at, 0, SeqCst, SeqCst).is_ok() {
                chunk = &chunk[..(at.saturating_sub(before) as usize).min(n)];
                cut = true;
            }
        }
        while s.stalled.load(SeqCst) && !s.stop.load(SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if to.write_all(chunk).is_err() {
            break;
        }
        if cut {
            s.cut_all();
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// A loopback server that is not Bolt: it answers every connection with
/// `reply` (then closes), or, with an empty `reply`, stays silent and keeps
/// the connection open. Returns its `host:port`; it lives as long as the test.
pub fn fake_server(reply: &'static [u8]) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        let mut silent = Vec::new();
        for mut c in listener.incoming().flatten() {
            if reply.is_empty() {
                silent.push(c);
            } else {
                let _ = c.write_all(reply);
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        }
    });
    addr
}

/// A loopback address where nothing listens (bound, then released).
pub fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    l.local_addr().expect("address").to_string()
}

/// A throwaway self-signed certificate for 127.0.0.1/localhost and its key
/// (`cert.pem`, `key.pem`), made once per test run with the openssl CLI, so
/// no private key lives in the repository.
pub fn tls_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ])
            .args(["-keyout", "key.pem", "-out", "cert.pem", "-days", "2"])
            .args(["-subj", "/CN=graphmalw test server"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args([
                "-addext",
                "extendedKeyUsage=serverAuth",
                "-addext",
                "keyUsage=digitalSignature",
            ])
            .current_dir(dir.path())
            .output()
            .expect("the openssl command is needed by the TLS tests");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
    .to_path_buf()
}

/// A loopback TLS server in front of a plain Bolt server: it terminates TLS
/// with the test certificate (`tls_dir()`, for 127.0.0.1) and forwards the
/// bytes. Returns its `127.0.0.1:port`; it lives as long as the test.
pub fn tls_proxy(target: &str) -> String {
    use std::io::{Read, Write};
    let target = target.split_once("://").map_or(target, |(_, r)| r).to_owned();
    let dir = tls_dir();
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(dir.join("cert.pem")).expect("cert.pem"),
    ))
    .collect::<Result<_, _>>()
    .expect("certificate");
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(dir.join("key.pem")).expect("key.pem"),
    ))
    .expect("key")
    .expect("a key in key.pem");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("TLS config");
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (config, target) = (config.clone(), target.clone());
            std::thread::spawn(move || {
                let Ok(mut server) = std::net::TcpStream::connect(&target) else {
                    return;
                };
                for s in [&client, &server] {
                    let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(10)));
                }
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, client);
                let mut buf = vec![0u8; 16 * 1024];
                let idle = |e: &std::io::Error| {
                    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
                };
                loop {
                    match tls.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if server.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => break,
                    }
                    match server.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                                break;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => break,
                    }
                }
            });
        }
    });
    addr
}

/// Run a shell command from the repository root (a database restart or
/// import named by the environment); panics with its output when it fails.
pub fn shell(cmd: &str) {
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(root())
        .output()
        .expect("sh runs");
    assert!(
        o.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
