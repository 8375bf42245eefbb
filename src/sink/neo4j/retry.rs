//! The retry decision: which database errors are transient, which are a
//! query running into a limit (time, memory) that no retry can fix, and the
//! backoff between attempts. Kept apart so it is tested on its own.

use std::time::Duration;

/// A limit a query ran into: final, whatever the retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// graphmalw's own time limit for one query (`query.timeout_secs`).
    Client(Duration),
    /// A time limit of the server: Neo4j's transaction timeout, ArcadeDB's
    /// command or regular expression timeout.
    ServerTime,
    /// A memory limit of the server: Neo4j's transaction or pool memory,
    /// ArcadeDB's query heap budget.
    Memory,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Client(d) => write!(f, "did not finish within its time limit of {} s", d.as_secs()),
            Limit::ServerTime => f.write_str("the server stopped it at its time limit"),
            Limit::Memory => f.write_str("the server stopped it at its memory limit"),
        }
    }
}

/// The server limit an error reports, if any (by Neo4j status code, or by
/// ArcadeDB's message, which comes with a generic code).
pub fn limit_of(err: &neo4rs::Error) -> Option<Limit> {
    match err {
        neo4rs::Error::Neo4j(e) => limit_of_code(e.code(), e.message()),
        neo4rs::Error::UnexpectedMessage(m) => limit_of_code(embedded_code(m).unwrap_or_default(), m),
        _ => None,
    }
}

/// [`limit_of`] by status code and message.
pub fn limit_of_code(code: &str, message: &str) -> Option<Limit> {
    let m = message.to_ascii_lowercase();
    if code.starts_with("Neo.ClientError.Transaction.TransactionTimedOut")
        || m.contains("regular expression operation aborted")
        || m.contains("regextimeout")
        || m.contains("arcadedb.command.timeout")
        || m.contains("timeoutexception")
        || m.contains("timeout on command")
    {
        Some(Limit::ServerTime)
    } else if matches!(
        code,
        "Neo.TransientError.General.MemoryPoolOutOfMemoryError"
            | "Neo.TransientError.General.TransactionOutOfMemoryError"
            | "Neo.TransientError.General.OutOfMemoryError"
    ) || m.contains("heap budget exceeded")
        || m.contains("outofmemoryerror")
    {
        Some(Limit::Memory)
    } else {
        None
    }
}

/// Is a failed read query worth another attempt? Only when the connection
/// failed (lost, reset, or a restarted server refusing the old session),
/// never when the query ran into a limit: it would only run into it again,
/// after keeping the server busy for as long once more.
pub fn is_query_retriable(err: &neo4rs::Error) -> bool {
    if limit_of(err).is_some() {
        return false;
    }
    match err {
        neo4rs::Error::IOError { .. } | neo4rs::Error::ConnectionError => true,
        neo4rs::Error::Neo4j(e) => is_stale_session(e.code(), e.message()),
        neo4rs::Error::UnexpectedMessage(m) => {
            is_stale_session(embedded_code(m).unwrap_or_default(), m) || is_connection_message(m)
        }
        _ => false,
    }
}

/// A server that restarts under a running client refuses the old session's
/// credentials, or answers a half-open connection from the wrong state; a
/// fresh connection works again. (Retries only happen after the credentials
/// were proved at connect time.)
fn is_stale_session(code: &str, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    match code {
        "Neo.ClientError.Security.AuthorizationExpired" | "Neo.ClientError.Security.TokenExpired" => true,
        "Neo.ClientError.Security.Unauthorized" => m.contains("no longer valid"),
        "Neo.ClientError.Request.Invalid" => m.contains("not expected in state"),
        _ => false,
    }
}

/// Is an error worth another attempt of the same batch?
///
/// Yes: lost or reset connections, timeouts, Neo4j's `TransientError`
/// class (deadlocks, leader switches, "database unavailable"), a cluster
/// member that is not the leader, a uniqueness race between two writers
/// (the retried MERGE then finds the node), a node that another writer's
/// transaction created and then rolled back (a deadlock's victim) between
/// this statement's index lookup and its read (`EntityNotFound`: the
/// retried MERGE finds or creates it again), and ArcadeDB's concurrency
/// conflicts. No: authentication, unknown database, syntax and every other
/// client error: retrying would only repeat them.
pub fn is_retriable(err: &neo4rs::Error) -> bool {
    match err {
        neo4rs::Error::IOError { .. } | neo4rs::Error::ConnectionError => true,
        neo4rs::Error::Neo4j(e) => is_retriable_code(e.code(), e.message()),
        // neo4rs reports a failed COMMIT as an unexpected message that
        // embeds the server's code and message; or the stream broke.
        neo4rs::Error::UnexpectedMessage(m) => {
            let code = embedded_code(m).unwrap_or_default();
            is_retriable_code(code, m) || is_connection_message(m)
        }
        _ => false,
    }
}

/// The classification by Neo4j status code and message.
pub fn is_retriable_code(code: &str, message: &str) -> bool {
    if code.starts_with("Neo.TransientError.") {
        // Neo4j itself says these two are final (the transaction was stopped on purpose).
        return !matches!(
            code,
            "Neo.TransientError.Transaction.Terminated" | "Neo.TransientError.Transaction.LockClientStopped"
        );
    }
    let m = message.to_ascii_lowercase();
    if is_stale_session(code, message) {
        return true;
    }
    match code {
        "Neo.ClientError.Cluster.NotALeader"
        | "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase"
        | "Neo.ClientError.Schema.ConstraintValidationFailed"
        | "Neo.ClientError.Statement.EntityNotFound" => true,
        "Neo.ClientError.Security.Unauthorized"
        | "Neo.ClientError.Database.DatabaseNotFound"
        | "Neo.ClientError.Statement.SyntaxError" => false,
        _ => {
            // ArcadeDB reports MVCC conflicts and duplicate keys of a concurrent
            // writer as database errors with these exception names.
            [
                "concurrentmodification",
                "needretry",
                "duplicatedkey",
                "deadlock",
                "timeout",
                "database unavailable",
            ]
            .iter()
            .any(|w| m.contains(w))
        }
    }
}

/// The `Neo.*` status code quoted inside a message, if any.
pub(crate) fn embedded_code(m: &str) -> Option<&str> {
    let start = m.find("Neo.")?;
    let rest = &m[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The server's `message` quoted inside neo4rs's debug text of a FAILURE
/// (`BoltString { value: "message" }: String(BoltString { value: "…" })`).
pub(crate) fn embedded_message(m: &str) -> Option<String> {
    const KEY: &str = "value: \"message\" }: String(BoltString { value: \"";
    let start = m.find(KEY)? + KEY.len();
    let rest = &m[start..];
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

fn is_connection_message(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    m.contains("connection") || m.contains("reset") || m.contains("broken pipe")
}

/// Exponential backoff: 100 ms doubling to at most 5 s per wait.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << attempt.min(6));
    Duration::from_millis(ms.min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_and_concurrency_errors_are_retried() {
        assert!(is_retriable_code("Neo.TransientError.Transaction.DeadlockDetected", ""));
        assert!(is_retriable_code("Neo.TransientError.General.DatabaseUnavailable", ""));
        assert!(is_retriable_code("Neo.ClientError.Cluster.NotALeader", ""));
        assert!(is_retriable_code(
            "Neo.ClientError.Statement.EntityNotFound",
            "Unable to load NODE 4:597f0f16-4c7d-4e63-b232-3643c641eea2:3531."
        ));
        assert!(is_retriable_code(
            "Neo.ClientError.Schema.ConstraintValidationFailed",
            "already exists"
        ));
        assert!(is_retriable_code(
            "Neo.DatabaseError.General.UnknownError",
            "com.arcadedb.exception.ConcurrentModificationException: Concurrent modification on page"
        ));
        assert!(is_retriable_code(
            "Neo.DatabaseError.General.UnknownError",
            "DuplicatedKeyException: Duplicated key"
        ));
    }

    #[test]
    fn a_restarted_server_refusing_the_old_session_is_retried() {
        let expired = "The credentials of this connection are no longer valid";
        assert!(is_retriable_code("Neo.ClientError.Security.Unauthorized", expired));
        assert!(is_retriable_code(
            "Neo.ClientError.Request.Invalid",
            "BEGIN not expected in state: AUTHENTICATION"
        ));
        assert!(is_retriable_code("Neo.ClientError.Security.AuthorizationExpired", ""));
        assert!(!is_retriable_code(
            "Neo.ClientError.Security.Unauthorized",
            "Authentication failed"
        ));
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        assert!(!is_retriable_code("Neo.ClientError.Security.Unauthorized", "timeout"));
        assert!(!is_retriable_code("Neo.ClientError.Database.DatabaseNotFound", ""));
        assert!(!is_retriable_code(
            "Neo.ClientError.Statement.SyntaxError",
            "Invalid input"
        ));
        assert!(!is_retriable_code("Neo.TransientError.Transaction.Terminated", ""));
        assert!(!is_retriable_code(
            "Neo.DatabaseError.General.UnknownError",
            "NullPointerException"
        ));
    }

    #[test]
    fn lost_connections_are_retried() {
        let reset = neo4rs::Error::IOError {
            detail: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        };
        assert!(is_retriable(&reset));
        assert!(is_retriable(&neo4rs::Error::ConnectionError));
        assert!(!is_retriable(&neo4rs::Error::AuthenticationError(
            "bad credentials".into()
        )));
    }

    #[test]
    fn a_failed_commit_is_classified_by_the_code_it_quotes() {
        let m = "unexpected response for COMMIT: Failure(Failure { metadata: BoltMap { value: {BoltString { value: \"message\" }: \
                 String(BoltString { value: \"Slot rebase not possible\" }), BoltString { value: \"code\" }: \
                 String(BoltString { value: \"Neo.TransientError.Transaction.DeadlockDetected\" })} } })";
        assert!(is_retriable(&neo4rs::Error::UnexpectedMessage(m.into())));
        let syntax = m.replace(
            "Neo.TransientError.Transaction.DeadlockDetected",
            "Neo.ClientError.Statement.SyntaxError",
        );
        assert!(!is_retriable(&neo4rs::Error::UnexpectedMessage(syntax)));
    }

    #[test]
    fn the_server_message_is_read_out_of_a_failure() {
        let m = "unexpected response for BEGIN: Failure(Failure { metadata: BoltMap { value: {BoltString { value: \"code\" }: \
                 String(BoltString { value: \"Neo.ClientError.Database.DatabaseNotFound\" }), BoltString { value: \"message\" }: \
                 String(BoltString { value: \"Cannot open database: \\\"x\\\" does not exist\" })} } })";
        assert_eq!(embedded_code(m), Some("Neo.ClientError.Database.DatabaseNotFound"));
        assert_eq!(
            embedded_message(m).as_deref(),
            Some("Cannot open database: \"x\" does not exist")
        );
        assert_eq!(embedded_message("no message here"), None);
    }

    #[test]
    fn limits_are_recognised_on_both_servers() {
        let neo4j = [
            ("Neo.ClientError.Transaction.TransactionTimedOut", Limit::ServerTime),
            (
                "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
                Limit::ServerTime,
            ),
            ("Neo.TransientError.General.MemoryPoolOutOfMemoryError", Limit::Memory),
            ("Neo.TransientError.General.TransactionOutOfMemoryError", Limit::Memory),
        ];
        for (code, limit) in neo4j {
            assert_eq!(
                limit_of_code(code, "The transaction has been terminated."),
                Some(limit),
                "{code}"
            );
        }
        let arcadedb = [
            ("Query heap budget exceeded (used 512MB)", Limit::Memory),
            (
                "Regular expression operation aborted (arcadedb.command.regexTimeout=5000ms)",
                Limit::ServerTime,
            ),
            (
                "com.arcadedb.exception.TimeoutException: timeout of 1000ms (arcadedb.command.timeout)",
                Limit::ServerTime,
            ),
        ];
        for (message, limit) in arcadedb {
            assert_eq!(
                limit_of_code("Neo.DatabaseError.General.UnknownError", message),
                Some(limit)
            );
        }
        assert_eq!(
            limit_of_code("Neo.ClientError.Statement.SyntaxError", "Invalid input"),
            None
        );
        assert_eq!(
            limit_of_code("Neo.TransientError.Transaction.DeadlockDetected", ""),
            None
        );
    }

    #[test]
    fn a_query_is_retried_only_when_its_connection_failed() {
        let neo4j = |code: &str, message: &str| {
            let m = format!(
                "unexpected response for PULL: Failure(Failure {{ metadata: BoltMap {{ value: {{BoltString {{ value: \"message\" }}: \
                 String(BoltString {{ value: \"{message}\" }}), BoltString {{ value: \"code\" }}: \
                 String(BoltString {{ value: \"{code}\" }})}} }} }})"
            );
            neo4rs::Error::UnexpectedMessage(m)
        };
        let reset = neo4rs::Error::IOError {
            detail: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        };
        assert!(is_query_retriable(&reset));
        assert!(is_query_retriable(&neo4rs::Error::ConnectionError));
        assert!(is_query_retriable(&neo4j(
            "Neo.ClientError.Security.AuthorizationExpired",
            ""
        )));
        // Final for a query, though ingest retries some: limits, transient and other errors.
        for (code, message, limit) in [
            (
                "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
                "pool is full",
                Some(Limit::Memory),
            ),
            (
                "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
                "timed out",
                Some(Limit::ServerTime),
            ),
            (
                "Neo.DatabaseError.General.UnknownError",
                "Query heap budget exceeded",
                Some(Limit::Memory),
            ),
            (
                "Neo.DatabaseError.General.UnknownError",
                "Regular expression operation aborted",
                Some(Limit::ServerTime),
            ),
            ("Neo.TransientError.Transaction.DeadlockDetected", "", None),
            ("Neo.ClientError.Statement.SyntaxError", "Invalid input", None),
        ] {
            assert!(!is_query_retriable(&neo4j(code, message)), "{code}: {message}");
            assert_eq!(limit_of(&neo4j(code, message)), limit, "{code}: {message}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_millis(5_000));
    }
}
