//! The etcd client layer: where each member answers ([`Endpoint`]), how faultline connects
//! to one member ([`connect`]), and the one error classifier ([`classify`]) that decides
//! whether a failed request certainly did not take effect ([`ErrorClass::Definite`]) or may
//! have ([`ErrorClass::Indefinite`]).
//!
//! The classifier is a table (Jepsen's `remap-errors`, etcd's robustness client): message
//! rules first, because etcd reuses one gRPC code for errors of both classes
//! (`Unavailable` is both "request timed out" and "connection refused"), then one row per
//! gRPC code. Anything unrecognised is indefinite: calling an unknown outcome a failure
//! would let the checker pass a history it should not.
//!
//! The workload, the observer and the consistency check all connect through [`connect`]
//! and read errors through [`classify`] (style.md point 5).

use std::time::Duration;

/// One member's client address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The member's name, `n1`..`n7`.
    pub member: String,
    /// Its client URL, e.g. `http://10.77.3.11:2379`.
    pub url: String,
}

/// The members clients may send to, as it changes during a run (members added, removed,
/// promoted). A roster made with [`Roster::fixed`] never changes.
#[derive(Debug, Clone)]
pub struct Roster(tokio::sync::watch::Receiver<Vec<Endpoint>>);

/// The runner's end of a [`Roster`]: publishes the new list after a membership change.
#[derive(Debug)]
pub struct RosterUpdater(tokio::sync::watch::Sender<Vec<Endpoint>>);

impl Roster {
    /// A roster and the updater that changes it.
    pub fn new(endpoints: Vec<Endpoint>) -> (RosterUpdater, Roster) {
        let (tx, rx) = tokio::sync::watch::channel(endpoints);
        (RosterUpdater(tx), Roster(rx))
    }

    /// A roster that never changes.
    pub fn fixed(endpoints: Vec<Endpoint>) -> Roster {
        Self::new(endpoints).1
    }

    /// The members now.
    pub fn current(&self) -> Vec<Endpoint> {
        self.0.borrow().clone()
    }

    /// The members, when they changed since this handle last looked.
    pub fn changed(&mut self) -> Option<Vec<Endpoint>> {
        if self.0.has_changed().unwrap_or(false) {
            Some(self.0.borrow_and_update().clone())
        } else {
            None
        }
    }
}

impl RosterUpdater {
    /// Publish a new list (no-op when it is the same).
    pub fn set(&self, endpoints: Vec<Endpoint>) {
        self.0.send_if_modified(|now| {
            if *now == endpoints {
                false
            } else {
                *now = endpoints;
                true
            }
        });
    }
}

/// HTTP/2 keep-alive ping interval. etcd refuses pings more often than every 5 s
/// (`--grpc-keepalive-min-time`) and pings on idle connections, so faultline pings only
/// while a request is open, and rarely.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Connect to one member.
///
/// One `etcd_client::Client` per member: a client given several endpoints load-balances
/// between them, and the history must say which member served each operation.
/// `timeout` bounds each request and the answer to a keep-alive ping; opening the
/// connection gets half of it, so that a member that cannot even be connected to fails the
/// request definitely ("connect failed": nothing was sent) before the request's own
/// deadline would make its outcome unknown.
/// Connecting is lazy: this returns at once and the first request opens the connection,
/// so an unreachable member shows up as that request's error, not here.
pub async fn connect(ep: &Endpoint, timeout: Duration) -> Result<etcd_client::Client, etcd_client::Error> {
    etcd_client::Client::connect([ep.url.as_str()], Some(options(timeout))).await
}

/// A connection for a watch stream: as [`connect`] (the timeout bounds opening the stream,
/// not its life); with `require_leader`, etcd's require-leader metadata, so that a member that
/// loses its leader cancels the stream ("no leader") instead of leaving it silent — what
/// Kubernetes asks of its watches. Without it the stream stays open on a cut-off member.
pub async fn connect_watch(ep: &Endpoint, timeout: Duration, require_leader: bool) -> Result<etcd_client::Client, etcd_client::Error> {
    etcd_client::Client::connect([ep.url.as_str()], Some(options(timeout).with_require_leader(require_leader))).await
}

fn options(timeout: Duration) -> etcd_client::ConnectOptions {
    etcd_client::ConnectOptions::new()
        .with_connect_timeout(timeout / 2)
        .with_timeout(timeout)
        .with_keep_alive(KEEP_ALIVE_INTERVAL, timeout)
        .with_keep_alive_while_idle(false)
}

/// `GET path` from a member's client URL (etcd's HTTP endpoints: `/version`, `/metrics`):
/// the body of a 200 answer, `None` otherwise or after `timeout`. Spawned, so that the
/// socket is opened on one of the client runtime's workers (inside the client namespace)
/// even when the caller blocks on this future from another thread.
pub async fn http_get(ep: &Endpoint, path: &str, timeout: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = ep.url.strip_prefix("http://")?.trim_end_matches('/').to_string();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    let fetch = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(host.as_str()).await.ok()?;
        s.write_all(request.as_bytes()).await.ok()?;
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.ok()?;
        Some(body)
    });
    let answer = tokio::time::timeout(timeout, fetch).await.ok()?.ok()??;
    let page = String::from_utf8_lossy(&answer);
    let (head, body) = page.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_string()).or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_string()))
}

/// What a member's `/version` says: its server version and the cluster version
/// (`3.5.1`, `3.5.0`); the cluster version is `None` until the cluster has decided it.
pub async fn versions(ep: &Endpoint, timeout: Duration) -> Option<(String, Option<String>)> {
    parse_versions(&http_get(ep, "/version", timeout).await?)
}

/// `{"etcdserver":"3.5.1","etcdcluster":"3.5.0"}` (`"not_decided"` before the cluster has a
/// version).
pub fn parse_versions(body: &str) -> Option<(String, Option<String>)> {
    let v: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    let server = v.get("etcdserver")?.as_str()?.to_string();
    let cluster = v.get("etcdcluster").and_then(|c| c.as_str()).filter(|c| c.chars().next().is_some_and(|ch| ch.is_ascii_digit())).map(str::to_string);
    Some((server, cluster))
}

/// Delete every key under `prefix` through the first member that answers; how many went.
pub async fn delete_prefix(endpoints: &[Endpoint], prefix: &str) -> Result<i64, String> {
    let mut last = String::from("no member to send it to");
    for ep in endpoints {
        let attempt = async {
            let mut c = connect(ep, Duration::from_secs(5)).await?;
            c.delete(prefix, Some(etcd_client::DeleteOptions::new().with_prefix())).await
        };
        match tokio::time::timeout(Duration::from_secs(6), attempt).await {
            Ok(Ok(r)) => return Ok(r.deleted()),
            Ok(Err(e)) => last = format!("{}: {e}", ep.member),
            Err(_) => last = format!("{}: timed out", ep.member),
        }
    }
    Err(last)
}

/// Whether a failed request may have taken effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The operation certainly did not take effect (`fail` in the history).
    Definite,
    /// The operation may have taken effect, now or later (`info` for a write or cas; a
    /// read has no effect, so it is recorded as `fail`).
    Indefinite,
}

/// How a request failed, as the workload and the observer need to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// Definite or indefinite.
    pub class: ErrorClass,
    /// A short message for the history (`request timed out`, `connection refused`, ...).
    pub message: String,
    /// The connection is suspect (refused, broken, timed out): open a new one before the
    /// next request instead of queueing behind a stalled TCP connection.
    pub reconnect: bool,
}

/// A message rule: an error whose text contains `needle` (case-insensitive) is `class`,
/// recorded as `short`.
struct MessageRule {
    needle: &'static str,
    class: ErrorClass,
    short: &'static str,
    reconnect: bool,
}

const fn rule(needle: &'static str, class: ErrorClass, short: &'static str, reconnect: bool) -> MessageRule {
    MessageRule { needle, class, short, reconnect }
}

use ErrorClass::{Definite, Indefinite};

/// Message rules, checked in order before the code table. The etcd messages are those of
/// etcd's `api/v3rpc/rpctypes` (3.4); the transport ones are tonic's and hyper's.
const MESSAGE_RULES: &[MessageRule] = &[
    // etcd: the proposal may be in the log; it may still be applied.
    rule("request timed out", Indefinite, "request timed out", false),
    rule("leader changed", Indefinite, "leader changed", false),
    rule("no leader", Indefinite, "no leader", false),
    rule("server stopped", Indefinite, "server stopped", true),
    rule("request cancelled", Indefinite, "request cancelled", false),
    // etcd: the same message whether the quota check refused the request before proposing it
    // or the apply that crossed the quota applied it and then answered NOSPACE (3.4's
    // `quotaApplierV3` applies the put or txn, then returns ErrNoSpace); the run
    // `quota-full-and-recover` read back a value whose write had been refused this way.
    rule("database space exceeded", Indefinite, "database space exceeded", false),
    // etcd: refused before anything was proposed.
    rule("request is too large", Definite, "request is too large", false),
    rule("too many requests", Definite, "too many requests", false),
    rule("too many operations in txn", Definite, "too many operations in txn", false),
    rule("duplicate key given in txn", Definite, "duplicate key in txn", false),
    rule("required revision has been compacted", Definite, "revision compacted", false),
    rule("required revision is a future revision", Definite, "future revision", false),
    rule("permission denied", Definite, "permission denied", false),
    // gRPC deadlines, ours (tonic's request timeout) or the server's.
    rule("timeout expired", Indefinite, "timeout", true),
    rule("deadline exceeded", Indefinite, "deadline exceeded", true),
    rule("context canceled", Indefinite, "context canceled", false),
    // The connection was never made, so nothing was sent.
    rule("connection refused", Definite, "connection refused", true),
    rule("error trying to connect", Definite, "connect failed", true),
    rule("tcp connect error", Definite, "connect failed", true),
    rule("no route to host", Definite, "no route to host", true),
    rule("network is unreachable", Definite, "network unreachable", true),
    // The connection broke with the request possibly on the wire.
    rule("connection reset", Indefinite, "connection reset", true),
    rule("broken pipe", Indefinite, "broken pipe", true),
    rule("connection closed", Indefinite, "connection closed", true),
    rule("connection aborted", Indefinite, "connection aborted", true),
    rule("transport error", Indefinite, "transport error", true),
    rule("h2 protocol error", Indefinite, "h2 protocol error", true),
];

/// The gRPC codes (`google.golang.org/grpc/codes`), their names and classes, indexed by code.
const CODE_TABLE: [(&str, ErrorClass, bool); 17] = [
    ("ok", Indefinite, false),                // 0: an error with OK is nonsense: unknown
    ("cancelled", Indefinite, true),          // 1
    ("unknown", Indefinite, true),            // 2
    ("invalid argument", Definite, false),    // 3
    ("deadline exceeded", Indefinite, true),  // 4
    ("not found", Definite, false),           // 5
    ("already exists", Definite, false),      // 6
    ("permission denied", Definite, false),   // 7
    ("resource exhausted", Definite, false),  // 8
    ("failed precondition", Definite, false), // 9
    ("aborted", Indefinite, false),           // 10
    ("out of range", Definite, false),        // 11
    ("unimplemented", Definite, false),       // 12
    ("internal", Indefinite, true),           // 13
    ("unavailable", Indefinite, true),        // 14
    ("data loss", Indefinite, false),         // 15
    ("unauthenticated", Definite, false),     // 16
];

/// The longest message kept in the history for an error no rule names.
const MAX_MESSAGE: usize = 120;

/// Classify a failed request: definite or indefinite, and a short message for the history.
pub fn classify(err: &etcd_client::Error) -> (ErrorClass, String) {
    let c = classify_full(err);
    (c.class, c.message)
}

/// Whether the connection that produced `err` should be replaced before the next request.
pub fn needs_reconnect(err: &etcd_client::Error) -> bool {
    classify_full(err).reconnect
}

/// The classification a request timed out by faultline's own `op_timeout` gets.
pub fn timeout() -> Classified {
    Classified { class: Indefinite, message: "timeout".to_string(), reconnect: true }
}

/// [`classify`] with the reconnect advice.
pub fn classify_full(err: &etcd_client::Error) -> Classified {
    use etcd_client::Error as E;
    match err {
        E::GRpcStatus(status) => classify_status(i32::from(status.code()), &with_sources(status.message(), status)),
        E::TransportError(e) => by_message(&with_sources(&e.to_string(), e)).unwrap_or_else(|| fallback(Indefinite, true, &e.to_string())),
        E::IoError(e) => by_message(&e.to_string()).unwrap_or_else(|| fallback(Indefinite, true, &e.to_string())),
        // Refused by the client library before anything was sent.
        E::InvalidArgs(_) | E::InvalidUri(_) | E::InvalidMetadataValue(_) | E::EndpointError(_) | E::EndpointsNotManaged => {
            fallback(Definite, false, &err.to_string())
        }
        // A response that could not be decoded arrived after the request took effect.
        E::Utf8Error(_) => fallback(Indefinite, false, &err.to_string()),
        _ => by_message(&err.to_string()).unwrap_or_else(|| fallback(Indefinite, true, &err.to_string())),
    }
}

/// Classify a gRPC status by its code (`0..=16`) and message: the table itself, without
/// the client library's types, so that every row can be tested.
pub fn classify_status(code: i32, message: &str) -> Classified {
    if let Some(c) = by_message(message) {
        return c;
    }
    let row = usize::try_from(code).ok().and_then(|i| CODE_TABLE.get(i));
    match row {
        Some(&(name, class, reconnect)) => {
            let text = if message.is_empty() { name.to_string() } else { format!("{name}: {message}") };
            fallback(class, reconnect, &text)
        }
        None => fallback(Indefinite, true, &format!("grpc code {code}: {message}")),
    }
}

fn by_message(text: &str) -> Option<Classified> {
    let lower = text.to_ascii_lowercase();
    MESSAGE_RULES.iter().find(|r| lower.contains(r.needle)).map(|r| Classified { class: r.class, message: r.short.to_string(), reconnect: r.reconnect })
}

fn fallback(class: ErrorClass, reconnect: bool, text: &str) -> Classified {
    let first_line = text.lines().next().unwrap_or("");
    let message = match first_line.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}…", &first_line[..cut]),
        None => first_line.to_string(),
    };
    Classified { class, message, reconnect }
}

/// The message followed by the error's source chain, so that rules see e.g. the
/// "Connection refused" hidden under a "transport error".
fn with_sources(message: &str, err: &dyn std::error::Error) -> String {
    let mut text = message.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_pages_parse_with_an_undecided_cluster_version() {
        assert_eq!(super::parse_versions(r#"{"etcdserver":"3.5.1","etcdcluster":"3.5.0"}"#), Some(("3.5.1".to_string(), Some("3.5.0".to_string()))));
        assert_eq!(super::parse_versions(r#"{"etcdserver":"3.4.23","etcdcluster":"not_decided"}"#), Some(("3.4.23".to_string(), None)));
        assert_eq!(super::parse_versions("404 page not found"), None);
    }

    use super::*;

    /// One row per gRPC code, with a message no rule names: the code decides.
    #[test]
    fn every_grpc_code_has_a_class() {
        let expected = [
            (0, Indefinite),
            (1, Indefinite),
            (2, Indefinite),
            (3, Definite),
            (4, Indefinite),
            (5, Definite),
            (6, Definite),
            (7, Definite),
            (8, Definite),
            (9, Definite),
            (10, Indefinite),
            (11, Definite),
            (12, Definite),
            (13, Indefinite),
            (14, Indefinite),
            (15, Indefinite),
            (16, Definite),
            (17, Indefinite),
            (-1, Indefinite),
        ];
        for (code, class) in expected {
            let c = classify_status(code, "something odd");
            assert_eq!(c.class, class, "code {code}");
            assert!(c.message.ends_with("something odd"), "code {code}: {}", c.message);
        }
        assert_eq!(classify_status(14, "").message, "unavailable");
    }

    /// etcd's own messages, with the codes etcd sends them with (rpctypes, 3.4).
    #[test]
    fn etcd_messages_decide_before_codes() {
        let table = [
            (14, "etcdserver: request timed out", Indefinite, "request timed out"),
            (14, "etcdserver: request timed out, possibly due to previous leader failure", Indefinite, "request timed out"),
            (14, "etcdserver: request timed out, possibly due to connection lost", Indefinite, "request timed out"),
            (14, "etcdserver: leader changed", Indefinite, "leader changed"),
            (14, "etcdserver: no leader", Indefinite, "no leader"),
            (14, "etcdserver: server stopped", Indefinite, "server stopped"),
            (1, "etcdserver: request cancelled", Indefinite, "request cancelled"),
            (3, "etcdserver: request is too large", Definite, "request is too large"),
            (8, "etcdserver: too many requests", Definite, "too many requests"),
            (8, "etcdserver: mvcc: database space exceeded", Indefinite, "database space exceeded"),
            (3, "etcdserver: too many operations in txn request", Definite, "too many operations in txn"),
            (3, "etcdserver: duplicate key given in txn request", Definite, "duplicate key in txn"),
            (11, "etcdserver: mvcc: required revision has been compacted", Definite, "revision compacted"),
            (11, "etcdserver: mvcc: required revision is a future revision", Definite, "future revision"),
            (7, "etcdserver: permission denied", Definite, "permission denied"),
            (4, "context deadline exceeded", Indefinite, "deadline exceeded"),
            (1, "context canceled", Indefinite, "context canceled"),
            (1, "Timeout expired", Indefinite, "timeout"),
        ];
        for (code, msg, class, short) in table {
            let c = classify_status(code, msg);
            assert_eq!((c.class, c.message.as_str()), (class, short), "{msg}");
        }
    }

    /// What tonic and hyper say when the connection fails: before sending is definite,
    /// after is not.
    #[test]
    fn transport_messages_split_on_whether_the_request_left() {
        let table = [
            (14, "tcp connect error: Connection refused (os error 111)", Definite),
            (14, "error trying to connect: tcp connect error: No route to host (os error 113)", Definite),
            (14, "transport error: connection reset by peer", Indefinite),
            (13, "h2 protocol error: error reading a body from connection: broken pipe", Indefinite),
            (2, "transport error", Indefinite),
            (14, "connection closed before message completed", Indefinite),
        ];
        for (code, msg, class) in table {
            let c = classify_status(code, msg);
            assert_eq!(c.class, class, "{msg}");
            assert!(c.reconnect, "{msg} should reconnect");
        }
        assert!(!classify_status(14, "etcdserver: leader changed").reconnect);
    }

    /// The classifier reached through `etcd_client::Error` itself. tonic is not a direct
    /// dependency, so statuses are built through tonic's `From<io::Error>`.
    #[test]
    fn client_errors_are_classified() {
        use std::io::{Error as IoError, ErrorKind};
        let status = |kind, msg: &str| etcd_client::Error::GRpcStatus(IoError::new(kind, msg.to_string()).into());

        let refused = status(ErrorKind::ConnectionRefused, "tcp connect error: Connection refused (os error 111)");
        assert_eq!(classify(&refused), (Definite, "connection refused".to_string()));
        assert!(needs_reconnect(&refused));

        let too_large = status(ErrorKind::InvalidInput, "etcdserver: request is too large");
        assert_eq!(classify(&too_large), (Definite, "request is too large".to_string()));

        let timed_out = status(ErrorKind::ConnectionReset, "etcdserver: request timed out");
        assert_eq!(classify(&timed_out), (Indefinite, "request timed out".to_string()));

        let odd = status(ErrorKind::Other, "the moon is full");
        assert_eq!(classify(&odd), (Indefinite, "unknown: the moon is full".to_string()));

        let not_found = status(ErrorKind::NotFound, "etcdserver: requested lease not found");
        assert_eq!(classify(&not_found).0, Definite);

        let args = etcd_client::Error::InvalidArgs("empty endpoints".into());
        assert_eq!(classify(&args).0, Definite);

        let io = etcd_client::Error::IoError(IoError::new(ErrorKind::BrokenPipe, "broken pipe"));
        assert_eq!(classify(&io), (Indefinite, "broken pipe".to_string()));

        let internal = etcd_client::Error::Internal("something".into());
        assert_eq!(classify(&internal).0, Indefinite);
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(500);
        let c = classify_status(2, &long);
        assert!(c.message.chars().count() <= MAX_MESSAGE + 1, "{}", c.message.len());
        assert!(c.message.ends_with('…'));
    }
}
