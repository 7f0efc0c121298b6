//! A replica process's health endpoint (`node --health ADDR`), for container health checks and Kubernetes
//! probes, and the probe that asks it (`paxos-bench health ADDR`, so an image needs no curl).
//!
//! Two plain-HTTP paths, no body to send: `/healthz` answers 200 while the replica task runs (liveness), and
//! `/readyz` answers 200 once the replica also has live connections to a majority of the cluster counting
//! itself (readiness: before that it cannot help a quorum), 503 otherwise. Both answer a line of JSON. The
//! server is a few lines over tokio's TCP listener rather than an HTTP framework: it answers one fixed GET,
//! reads at most 1 KiB of request within a second, and holds nothing per connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest request line read, and how long a client has to send it.
const MAX_REQUEST: usize = 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// What the endpoint reports on.
#[derive(Clone)]
pub struct HealthState {
    pub id: u32,
    pub replicas: u32,
    /// Whether this replica has a live connection to replica `r`.
    pub connected: Arc<dyn Fn(u32) -> bool + Send + Sync>,
    /// Cleared when the replica task ends.
    pub running: Arc<AtomicBool>,
}

impl HealthState {
    fn answer(&self, path: &str) -> (u16, String) {
        let running = self.running.load(Ordering::Relaxed);
        let connected = (0..self.replicas)
            .filter(|&r| r != self.id)
            .filter(|&r| (self.connected)(r))
            .count() as u32;
        let majority = (connected + 1) * 2 > self.replicas;
        let body = format!(
            "{{\"id\":{},\"running\":{running},\"peers_connected\":{connected},\"replicas\":{},\"majority\":{majority}}}",
            self.id, self.replicas
        );
        let ok = match path {
            "/healthz" => running,
            "/readyz" => running && majority,
            _ => return (404, "{\"error\":\"try /healthz or /readyz\"}".into()),
        };
        (if ok { 200 } else { 503 }, body)
    }
}

/// Serves the endpoint on `listener` until the runtime stops.
pub async fn serve(listener: tokio::net::TcpListener, state: HealthState) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_REQUEST];
            let mut len = 0;
            let read = tokio::time::timeout(READ_TIMEOUT, async {
                while len < buf.len() {
                    match stream.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => len += n,
                    }
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n")
                        || buf[..len].contains(&b'\n')
                    {
                        break;
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let line = String::from_utf8_lossy(&buf[..len]);
            let mut parts = line.split_whitespace();
            let (status, body) = match (parts.next(), parts.next()) {
                (Some("GET"), Some(path)) => state.answer(path),
                _ => (
                    400,
                    "{\"error\":\"send GET /healthz or GET /readyz\"}".into(),
                ),
            };
            let reason = match status {
                200 => "OK",
                404 => "Not Found",
                503 => "Service Unavailable",
                _ => "Bad Request",
            };
            let response = format!(
                "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}\n",
                body.len() + 1
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot reach the health endpoint at {addr}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the health endpoint at {addr} did not answer within {secs} s")]
    Timeout { addr: SocketAddr, secs: u64 },
    #[error("the health endpoint at {addr} answered something that is not HTTP: {line:?}")]
    Garbled { addr: SocketAddr, line: String },
}

/// Asks `addr` for `path`; the HTTP status and the body.
pub fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(u16, String), ProbeError> {
    use std::io::{Read, Write};
    let io = |source: std::io::Error| {
        if matches!(
            source.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            ProbeError::Timeout {
                addr,
                secs: timeout.as_secs().max(1),
            }
        } else {
            ProbeError::Connect { addr, source }
        }
    };
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(io)?;
    let mut text = String::new();
    s.take(64 * 1024).read_to_string(&mut text).map_err(io)?;
    let first = text.lines().next().unwrap_or_default().to_string();
    let status = first
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| first.starts_with("HTTP/1."))
        .ok_or(ProbeError::Garbled {
            addr,
            line: first.clone(),
        })?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(connected: &'static [u32], running: bool) -> HealthState {
        HealthState {
            id: 0,
            replicas: 5,
            connected: Arc::new(move |r| connected.contains(&r)),
            running: Arc::new(AtomicBool::new(running)),
        }
    }

    /// Serves `state` on a loopback port and asks it each of `paths`.
    fn ask(state: HealthState, paths: &[&str]) -> Vec<(u16, String)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(serve(listener, state));
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        let asked = std::thread::spawn(move || {
            paths
                .iter()
                .map(|p| probe(addr, p, Duration::from_secs(5)).unwrap())
                .collect::<Vec<_>>()
        });
        rt.block_on(async {
            while !asked.is_finished() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        asked.join().unwrap()
    }

    #[test]
    fn ready_only_with_a_majority_and_alive_while_running() {
        // Two of four peers plus itself: three of five, a majority.
        let got = ask(state(&[1, 3], true), &["/healthz", "/readyz", "/nope"]);
        assert_eq!(got[0].0, 200);
        assert_eq!(got[1].0, 200, "{}", got[1].1);
        assert!(got[1].1.contains("\"peers_connected\":2"), "{}", got[1].1);
        assert_eq!(got[2].0, 404);
        // One peer: two of five is not a majority; still alive.
        let got = ask(state(&[4], true), &["/healthz", "/readyz"]);
        assert_eq!((got[0].0, got[1].0), (200, 503));
        // A replica task that ended is neither.
        let got = ask(state(&[1, 2, 3, 4], false), &["/healthz", "/readyz"]);
        assert_eq!((got[0].0, got[1].0), (503, 503));
    }

    #[test]
    fn a_port_nobody_serves_is_an_error_that_names_it() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let e = probe(addr, "/healthz", Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
    }
}
