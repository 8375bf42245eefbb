//! The retry decision: which database errors are transient, and the
//! backoff between attempts. Kept apart so it is tested on its own.

use std::time::Duration;

/// Is an error worth another attempt of the same batch?
///
/// Yes: lost or reset connections, timeouts, Neo4j's `TransientError`
/// class (deadlocks, leader switches, "database unavailable"), a cluster
/// member that is not the leader, a uniqueness race between two writers
/// (the retried MERGE then finds the node), and ArcadeDB's concurrency
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
    match code {
        // A server that restarts under a running ingest refuses the old
        // session's credentials, or answers a half-open connection from the
        // wrong state; a fresh connection works again. (Retries only happen
        // after the credentials were proved at connect time.)
        "Neo.ClientError.Security.AuthorizationExpired" | "Neo.ClientError.Security.TokenExpired" => true,
        "Neo.ClientError.Security.Unauthorized" if m.contains("no longer valid") => true,
        "Neo.ClientError.Request.Invalid" if m.contains("not expected in state") => true,
        "Neo.ClientError.Cluster.NotALeader"
        | "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase"
        | "Neo.ClientError.Schema.ConstraintValidationFailed" => true,
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
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_millis(5_000));
    }
}
