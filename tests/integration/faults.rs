//! Faults during ingest, against the real test database (see `db`): lost
//! and stalled connections (through a loopback proxy, `support::Proxy`),
//! Ctrl-C, a database stopped mid-run, servers that are wrong or absent,
//! and the password never printed. After each fault a re-run must leave
//! exactly the graph of a clean run (`db::big`): no loss, no duplicates.

use crate::db::{self, Conn};
use crate::support::{self, assert_no_panic, output_within, shell, stderr, stdout, Proxy};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The same database through another address (a proxy, or a wrong one).
fn via(c: &Conn, uri: &str) -> Conn {
    Conn {
        uri: uri.to_owned(),
        user: c.user.clone(),
        password: c.password.clone(),
        database: c.database.clone(),
    }
}

/// Short retry budget and timeouts, as the fault tests need them.
fn with_timeouts(cmd: &mut Command, retry_secs: u64, batch_timeout_secs: u64) -> &mut Command {
    cmd.env("GRAPHMALW_INGEST__RETRY_SECS", retry_secs.to_string())
        .env("GRAPHMALW_INGEST__BATCH_TIMEOUT_SECS", batch_timeout_secs.to_string())
        .env("GRAPHMALW_NEO4J__CONNECT_TIMEOUT_SECS", "5")
}

/// `ingest` of the whole interruption corpus (`db::big`) in small batches
/// on one worker, so that a fault lands in the middle of it.
fn slow_ingest_args(c: &Conn) -> Vec<String> {
    let mut v = vec!["ingest".to_owned()];
    v.extend(db::SLOW.iter().map(|s| s.to_string()));
    v.extend(db::big_args(c));
    v
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("graphmalw starts")
}

/// Wait for a spawned graphmalw, killing it (and failing) past `limit`.
fn wait_within(mut child: Child, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return (child.wait_with_output().expect("output"), started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!("graphmalw hung: still running after {limit:?}\n{}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The re-run after a fault, straight to the database: it completes, and
/// the database then holds exactly the clean graph.
fn rerun_equals_clean(c: &Conn, expected: &db::Snapshot, what: &str) {
    let args = db::big_args(c);
    let o = c.ingest(&db::strs(&args));
    assert_no_panic(&o);
    assert!(o.status.success(), "re-run after {what} failed:\n{}", stderr(&o));
    db::assert_same(&db::snapshot(c), expected, &format!("after {what} and a re-run"));
}

/// Wait for `child` as [`wait_within`] while `fault` runs beside it; `fault`
/// gets a function that tells whether the child still runs.
fn while_running(child: Child, limit: Duration, fault: impl FnOnce(&dyn Fn() -> bool) + Send) -> (Output, Duration) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| fault(&|| !done.load(std::sync::atomic::Ordering::SeqCst)));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_within(child, limit)));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        r.unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn sigint(child: &Child) {
    sigint_pid(child.id());
}

fn sigint_pid(pid: u32) {
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success(), "kill -INT {pid}");
}

#[test]
fn connections_cut_mid_batch_are_retried_without_loss_or_duplicates() {
    let _g = db::serial();
    let c = db::conn();
    let expected = db::big(&c).snapshot.clone();
    db::wipe(&c);
    let proxy = Proxy::start(&c.uri);
    let args = slow_ingest_args(&c);
    let mut cmd = via(&c, &proxy.uri()).command(&db::strs(&args));
    let child = spawn(with_timeouts(&mut cmd, 60, 10));
    // Cut every connection four times, each time inside a message.
    let (o, took) = while_running(child, Duration::from_secs(300), |running| {
        for (i, at) in [30_011u64, 120_007, 300_013, 700_001].into_iter().enumerate() {
            proxy.cut_when_sent(at);
            while proxy.cuts() <= i as u64 && running() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    assert_no_panic(&o);
    let err = stderr(&o);
    assert!(
        proxy.cuts() >= 4,
        "the proxy cut {} times (total sent {})",
        proxy.cuts(),
        proxy.bytes_sent()
    );
    assert!(
        o.status.success(),
        "lost connections are retried, not fatal ({took:?}):\n{err}"
    );
    assert!(err.contains("retrying"), "the retries are logged:\n{err}");
    db::assert_same(&db::snapshot(&c), &expected, "after connections cut mid-batch");
}

/// Wait (while the child runs) until the proxy has forwarded `bytes` more.
fn wait_sent(proxy: &Proxy, bytes: u64, running: &dyn Fn() -> bool) -> bool {
    let target = proxy.bytes_sent() + bytes;
    while proxy.bytes_sent() < target {
        if !running() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

#[test]
fn a_stalled_connection_times_out_and_the_batch_is_retried() {
    let _g = db::serial();
    let c = db::conn();
    let expected = db::big(&c).snapshot.clone();
    db::wipe(&c);
    let proxy = Proxy::start(&c.uri);
    let args = slow_ingest_args(&c);
    let mut cmd = via(&c, &proxy.uri()).command(&db::strs(&args));
    let child = spawn(with_timeouts(&mut cmd, 60, 2));
    let stalls = std::sync::atomic::AtomicU32::new(0);
    let (o, took) = while_running(child, Duration::from_secs(300), |running| {
        for _ in 0..2 {
            if !wait_sent(&proxy, 100_000, running) {
                return;
            }
            proxy.stall(true);
            stalls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(5));
            proxy.stall(false);
        }
    });
    assert_no_panic(&o);
    let err = stderr(&o);
    assert_eq!(stalls.into_inner(), 2, "the ingest ended before both stalls:\n{err}");
    assert!(
        o.status.success(),
        "stalls shorter than the retry budget are ridden out ({took:?}):\n{err}"
    );
    assert!(err.contains("no answer within 2s"), "the timeouts are logged:\n{err}");
    db::assert_same(&db::snapshot(&c), &expected, "after two stalls");
}

#[test]
fn a_connection_that_stays_stalled_ends_in_a_clear_error_within_the_retry_budget() {
    let _g = db::serial();
    let c = db::conn();
    let expected = db::big(&c).snapshot.clone();
    db::wipe(&c);
    let proxy = Proxy::start(&c.uri);
    let args = slow_ingest_args(&c);
    let mut cmd = via(&c, &proxy.uri()).command(&db::strs(&args));
    let child = spawn(with_timeouts(&mut cmd, 6, 2));
    let stalled_at = std::sync::Mutex::new(None);
    let (o, _) = while_running(child, Duration::from_secs(300), |running| {
        if wait_sent(&proxy, 100_000, running) {
            proxy.stall(true);
            *stalled_at.lock().expect("lock") = Some(Instant::now());
        }
    });
    let stalled_for = stalled_at
        .into_inner()
        .expect("lock")
        .expect("the ingest ended before the stall")
        .elapsed();
    assert_no_panic(&o);
    let err = stderr(&o);
    assert_eq!(support::code(&o), 1, "{err}");
    // Retry budget 6 s + one batch timeout 2 s + the last backoff, and some slack.
    assert!(
        stalled_for < Duration::from_secs(20),
        "stopped {stalled_for:?} after the stall:\n{err}"
    );
    assert!(err.contains("gave up after"), "says it gave up:\n{err}");
    assert!(err.contains("run the same command again"), "says what to do:\n{err}");
    assert!(err.contains("ingested "), "prints the summary so far:\n{err}");
    drop(proxy);
    rerun_equals_clean(&c, &expected, "a database that stopped answering");
}

fn assert_interrupted(o: &Output, took: Duration, limit: Duration) {
    assert_no_panic(o);
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(130), "Ctrl-C exits 130 ({:?}):\n{err}", o.status);
    assert!(took < limit, "Ctrl-C took {took:?} to take effect:\n{err}");
    assert!(err.contains("ingested "), "the summary so far is printed:\n{err}");
    assert!(err.contains("run the same command again"), "says how to finish:\n{err}");
}

#[test]
fn ctrl_c_prints_the_summary_exits_130_and_a_rerun_completes() {
    let _g = db::serial();
    let c = db::conn();
    let expected = db::big(&c).snapshot.clone();
    db::wipe(&c);
    let args = slow_ingest_args(&c);
    let mut child = spawn(&mut c.command(&db::strs(&args)));
    db::wait_for_progress(&c, &mut child, 300);
    sigint(&child);
    let (o, took) = wait_within(child, Duration::from_secs(60));
    assert_interrupted(&o, took, Duration::from_secs(10));
    assert!(
        db::complete_analyses(&c) < expected.labels["Analysis"],
        "Ctrl-C left work undone (else this test proves nothing)"
    );
    rerun_equals_clean(&c, &expected, "Ctrl-C");
}

#[test]
fn ctrl_c_abandons_a_batch_stuck_on_a_stalled_database() {
    let _g = db::serial();
    let c = db::conn();
    let expected = db::big(&c).snapshot.clone();
    db::wipe(&c);
    let proxy = Proxy::start(&c.uri);
    let args = slow_ingest_args(&c);
    let mut cmd = via(&c, &proxy.uri()).command(&db::strs(&args));
    // Without Ctrl-C this batch would wait 60 s, then be retried for 2 min.
    let child = spawn(with_timeouts(&mut cmd, 120, 60));
    let pid = child.id();
    let sent_at = std::sync::Mutex::new(None);
    let (o, _) = while_running(child, Duration::from_secs(120), |running| {
        if wait_sent(&proxy, 100_000, running) {
            proxy.stall(true);
            std::thread::sleep(Duration::from_millis(1500));
            *sent_at.lock().expect("lock") = Some(Instant::now());
            sigint_pid(pid);
        }
    });
    let took = sent_at
        .into_inner()
        .expect("lock")
        .expect("the ingest ended before the stall")
        .elapsed();
    assert_interrupted(&o, took, Duration::from_secs(10));
    drop(proxy);
    rerun_equals_clean(&c, &expected, "Ctrl-C during a stalled batch");
}

/// `GRAPHMALW_TEST_DB_RESTART` is `… restart` (scripts/arcadedb): the same
/// command with `stop` and `start`.
fn stop_start_commands() -> Option<(String, String)> {
    let restart = std::env::var("GRAPHMALW_TEST_DB_RESTART").ok();
    let Some(base) = restart.as_deref().and_then(|r| r.trim().strip_suffix("restart")) else {
        assert!(
            !support::in_ci(),
            "GRAPHMALW_TEST_DB_RESTART must be `scripts/arcadedb restart` (or another `… restart`) in CI"
        );
        eprintln!("SKIPPED: set GRAPHMALW_TEST_DB_RESTART to a `… restart` command for the test database");
        return None;
    };
    Some((format!("{base}stop"), format!("{base}start")))
}

#[test]
fn database_stopped_mid_ingest_is_a_clear_error_and_a_rerun_after_restart_completes() {
    let Some((stop, start)) = stop_start_commands() else {
        return;
    };
    let _g = db::serial();
    let c = db::conn();
    let expected = db::big(&c).snapshot.clone();
    db::wipe(&c);
    let mut args: Vec<String> = ["ingest", "--batch-size", "5", "--jobs", "1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(db::big_args(&c));
    let mut cmd = c.command(&db::strs(&args));
    let mut child = spawn(with_timeouts(&mut cmd, 5, 5));
    db::wait_for_progress(&c, &mut child, 100);
    let stopped = std::panic::catch_unwind(|| shell(&stop));
    let stopped_at = Instant::now();
    let (o, _) = wait_within(child, Duration::from_secs(120));
    let waited = stopped_at.elapsed();
    // Whatever happened, the database comes back for the other tests.
    shell(&start);
    if let Err(e) = stopped {
        std::panic::resume_unwind(e);
    }
    assert_no_panic(&o);
    let err = stderr(&o);
    assert_eq!(
        support::code(&o),
        1,
        "the ingest cannot finish without its database (did it end before the stop?):\n{err}"
    );
    // Retry budget 5 s + one batch timeout 5 s + backoff, and slack.
    assert!(
        waited < Duration::from_secs(30),
        "it stopped {waited:?} after the database:\n{err}"
    );
    assert!(
        err.contains("gave up after") && err.contains("stopped: the database is not usable"),
        "a clear error:\n{err}"
    );
    assert!(err.contains("run the same command again"), "says what to do:\n{err}");
    rerun_equals_clean(&c, &expected, "the database was stopped mid-ingest");
}

/// Run `args` with these connection settings (and a 3 s connect timeout);
/// it must fail within `limit` with an error line containing `want`.
fn connect_fails(uri: &str, user: &str, password: &str, database: &str, want: &str, limit: Duration) {
    for args in [
        vec!["ingest".to_owned(), support::examples().display().to_string()],
        vec!["query".to_owned(), "run".to_owned(), "anti-debug".to_owned()],
    ] {
        let mut cmd = support::bin();
        cmd.args(&args)
            .env("NEO4J_URI", uri)
            .env("NEO4J_USERNAME", user)
            .env("NEO4J_PASSWORD", password)
            .env("NEO4J_DATABASE", database)
            .env("GRAPHMALW_NEO4J__CONNECT_TIMEOUT_SECS", "3");
        let (o, took) = output_within(&mut cmd, Duration::from_secs(60));
        assert_no_panic(&o);
        let err = stderr(&o);
        assert_ne!(support::code(&o), 0, "{} against {uri}: {err}", args[0]);
        assert!(took < limit, "{} against {uri} took {took:?}:\n{err}", args[0]);
        assert!(
            err.lines().any(|l| l.starts_with("error: ") && l.contains(want)),
            "{} against {uri}: expected an error line with `{want}`:\n{err}",
            args[0]
        );
    }
}

#[test]
fn a_wrong_password_is_a_clear_error_within_seconds() {
    // Not while another test has stopped or is filling the database.
    let _g = db::serial();
    let c = db::conn();
    connect_fails(
        &c.uri,
        &c.user,
        "not-the-password",
        &c.database,
        "check the user and password",
        Duration::from_secs(10),
    );
}

#[test]
fn a_wrong_database_name_is_a_clear_error_within_seconds() {
    // Not while another test has stopped or is filling the database.
    let _g = db::serial();
    let c = db::conn();
    connect_fails(
        &c.uri,
        &c.user,
        &c.password,
        "no_such_database_here",
        "database not found",
        Duration::from_secs(10),
    );
}

#[test]
fn a_server_that_is_not_there_is_a_clear_error_within_seconds() {
    connect_fails(
        &support::closed_port(),
        "neo4j",
        "pw",
        "neo4j",
        "connection refused: is the server running",
        Duration::from_secs(10),
    );
}

#[test]
fn an_http_server_is_not_taken_for_bolt() {
    let http = support::fake_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    connect_fails(
        &http,
        "neo4j",
        "pw",
        "neo4j",
        "the server did not answer as a Bolt server",
        Duration::from_secs(10),
    );
}

#[test]
fn a_silent_server_times_out_at_the_connect_timeout() {
    let silent = support::fake_server(b"");
    connect_fails(
        &silent,
        "neo4j",
        "pw",
        "neo4j",
        "no answer within 3s (is it a Bolt server?)",
        Duration::from_secs(10),
    );
}

#[test]
fn a_tls_uri_to_a_plain_bolt_server_says_tls_failed() {
    // Not while another test has stopped or is filling the database.
    let _g = db::serial();
    let c = db::conn();
    let plain = c.uri.split_once("://").map_or(c.uri.as_str(), |(_, r)| r);
    for scheme in ["bolt+s", "neo4j+s", "bolt+ssc"] {
        connect_fails(
            &format!("{scheme}://{plain}"),
            &c.user,
            &c.password,
            &c.database,
            "TLS failed",
            Duration::from_secs(10),
        );
    }
}

/// The password at the most verbose level, in every command and failure:
/// never printed. Real runs use the real password as the marker.
#[test]
fn the_password_never_appears_in_anything_printed() {
    let _g = db::serial();
    let c = db::conn();
    const MARKER: &str = "Mk7hunter2Qz9x";
    let examples = support::examples().display().to_string();
    let with_db = |args: &[&str], uri: &str, password: &str| {
        let mut cmd = support::bin();
        cmd.args(args)
            .env("NEO4J_URI", uri)
            .env("NEO4J_USERNAME", &c.user)
            .env("NEO4J_PASSWORD", password)
            .env("NEO4J_DATABASE", &c.database)
            .env("GRAPHMALW_NEO4J__CONNECT_TIMEOUT_SECS", "3");
        cmd
    };
    let check = |what: &str, cmd: &mut Command, secret: &str| {
        let (o, _) = output_within(cmd, Duration::from_secs(120));
        assert_no_panic(&o);
        for (stream, text) in [("stdout", stdout(&o)), ("stderr", stderr(&o))] {
            assert!(!text.contains(secret), "{what}: the password is in {stream}:\n{text}");
        }
        o
    };
    let real = c.password.as_str();
    db::wipe(&c);
    let o = check(
        "ingest -vvv",
        &mut with_db(&["-vvv", "ingest", &examples], &c.uri, real),
        real,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = check(
        "ingest with RUST_LOG=trace",
        with_db(&["ingest", "--force", &examples], &c.uri, real).env("RUST_LOG", "trace"),
        real,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // --password-stdin, the documented way besides the environment.
    let mut cmd = with_db(
        &["-vvv", "ingest", "--force", "--password-stdin", &examples],
        &c.uri,
        "",
    );
    cmd.env_remove("NEO4J_PASSWORD");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{real}").expect("password to stdin");
    }
    let (o, _) = wait_within(child, Duration::from_secs(120));
    assert!(o.status.success(), "--password-stdin: {}", stderr(&o));
    for text in [stdout(&o), stderr(&o)] {
        assert!(
            !text.contains(real),
            "--password-stdin: the password is printed:\n{text}"
        );
    }
    let o = check(
        "query run -vvv",
        &mut with_db(&["-vvv", "query", "run", "anti-debug"], &c.uri, real),
        real,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Retries after lost connections log their errors.
    let proxy = Proxy::start(&c.uri);
    proxy.cut_when_sent(20_000);
    let o = check(
        "ingest -vvv through cut connections",
        &mut with_db(&["-vvv", "ingest", "--force", &examples], &proxy.uri(), real),
        real,
    );
    assert!(o.status.success() && proxy.cuts() == 1, "{}", stderr(&o));
    drop(proxy);

    // Failures, with the marker as the password.
    let plain = c.uri.split_once("://").map_or(c.uri.as_str(), |(_, r)| r).to_owned();
    let uri_with_password = format!("bolt://{}:{MARKER}@{}", c.user, support::closed_port());
    let http = support::fake_server(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    let silent = support::fake_server(b"");
    for (what, uri) in [
        ("wrong password", c.uri.clone()),
        ("nothing listening", support::closed_port()),
        ("an HTTP server", http),
        ("a silent server", silent),
        ("bolt+s to a plain server", format!("bolt+s://{plain}")),
        ("the password in the URI", uri_with_password.clone()),
    ] {
        for args in [
            vec!["-vvv", "ingest", examples.as_str()],
            vec!["-vvv", "query", "run", "anti-debug"],
        ] {
            let o = check(
                &format!("{} ({what})", args[1]),
                &mut with_db(&args, &uri, MARKER),
                MARKER,
            );
            assert_ne!(support::code(&o), 0, "{what}: {}", stderr(&o));
        }
    }
    // config show, with the password from each source.
    for (what, var, value) in [
        ("NEO4J_PASSWORD", "NEO4J_PASSWORD", MARKER.to_owned()),
        (
            "GRAPHMALW_NEO4J__PASSWORD",
            "GRAPHMALW_NEO4J__PASSWORD",
            MARKER.to_owned(),
        ),
        ("a URI with a password", "NEO4J_URI", uri_with_password.clone()),
    ] {
        let mut cmd = support::bin();
        cmd.args(["-vvv", "config", "show"]).env(var, value);
        let o = check(&format!("config show ({what})"), &mut cmd, MARKER);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

/// `bolt+s://` and `neo4j+s://` speak TLS and verify the certificate: through
/// a TLS proxy with the test certificate, trusted through `SSL_CERT_FILE`,
/// they work; without that trust they fail with a clear error.
#[test]
fn tls_uris_connect_over_tls_and_verify_the_certificate() {
    // Not while another test has stopped or is filling the database.
    let _g = db::serial();
    let c = db::conn();
    let tls = support::tls_proxy(&c.uri);
    let cert = support::tls_dir().join("cert.pem");
    for scheme in ["bolt+s", "neo4j+s"] {
        let uri = format!("{scheme}://{tls}");
        let mut cmd = via(&c, &uri).command(&["query", "run", "anti-debug", "--format", "json"]);
        cmd.env("SSL_CERT_FILE", &cert)
            .env("GRAPHMALW_NEO4J__CONNECT_TIMEOUT_SECS", "5");
        let (o, _) = output_within(&mut cmd, Duration::from_secs(60));
        assert_no_panic(&o);
        assert!(
            o.status.success(),
            "{uri} with the certificate trusted:\n{}",
            stderr(&o)
        );
        serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("query rows as JSON");

        let untrusted = tempfile::tempdir().expect("tempdir");
        let empty = untrusted.path().join("none.pem");
        std::fs::write(&empty, "").expect("write");
        let mut cmd = via(&c, &uri).command(&["query", "run", "anti-debug"]);
        cmd.env("SSL_CERT_FILE", &empty)
            .env("SSL_CERT_DIR", untrusted.path())
            .env("GRAPHMALW_NEO4J__CONNECT_TIMEOUT_SECS", "5");
        let (o, took) = output_within(&mut cmd, Duration::from_secs(60));
        assert_no_panic(&o);
        let err = stderr(&o);
        assert_ne!(support::code(&o), 0, "{uri} without trust must fail:\n{err}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert!(
            err.contains("TLS failed") && err.contains("SSL_CERT_FILE"),
            "{uri}: a clear certificate error:\n{err}"
        );
    }
}

/// Ctrl-C while connecting (to a server that never answers) ends at once
/// with 130, not after the connect timeout, and not by the signal's default.
#[test]
fn ctrl_c_while_connecting_exits_130_at_once() {
    let silent = support::fake_server(b"");
    let mut cmd = support::bin();
    cmd.args(["ingest", &support::examples().display().to_string()])
        .env("NEO4J_URI", &silent)
        .env("NEO4J_PASSWORD", "pw")
        .env("GRAPHMALW_NEO4J__CONNECT_TIMEOUT_SECS", "60");
    let child = spawn(&mut cmd);
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    sigint(&child);
    let (o, _) = wait_within(child, Duration::from_secs(30));
    assert_no_panic(&o);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{:?}:\n{err}", o.status);
    assert!(sent.elapsed() < Duration::from_secs(5), "{:?}", sent.elapsed());
    assert!(err.contains("interrupted before anything was written"), "{err}");
}
