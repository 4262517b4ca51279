//! Probes that show a network fault took effect: a TCP connect from one member's namespace
//! to another's peer port. A partition drops packets (no answer within the timeout); a
//! healed link answers, with a connection or a refusal (a refusal also crossed the link).

use crate::cluster::netns;
use crate::error::Error;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// What a probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A packet came back (connected, or refused).
    Crossed,
    /// Nothing came back within the timeout: the packets were dropped.
    Blocked,
}

/// Connect from the namespace `from` to `to`, waiting at most `timeout`.
pub fn probe(from: PathBuf, to: SocketAddr, timeout: Duration) -> Result<Reach, Error> {
    netns::in_ns(&from, move || match TcpStream::connect_timeout(&to, timeout) {
        Ok(_) => Reach::Crossed,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Reach::Crossed,
        Err(_) => Reach::Blocked,
    })
}

/// Probe many links at once; results in the order given.
pub fn probe_all(links: &[(PathBuf, SocketAddr)], timeout: Duration) -> Result<Vec<Reach>, Error> {
    let handles: Vec<_> = links.iter().cloned().map(|(from, to)| std::thread::spawn(move || probe(from, to, timeout))).collect();
    handles.into_iter().map(|h| h.join().map_err(|_| Error::Harness("a probe thread panicked".into()))?).collect()
}
