//! A hostile neighbour for robustness runs (`paxos-bench flood`): while honest clients load a cluster, it sends
//! the replicas what an attacker or a broken peer would, bounded in time and in count, and counts what
//! happened. Three kinds, round-robin over the replicas:
//! - connections without a client certificate (the TLS handshake must fail);
//! - connections from a cluster member that then send garbage frames (an oversized length, a length that
//!   lies, random bytes: the replica must close that connection and nothing else);
//! - raw UDP datagrams of random bytes at the QUIC port (QUIC must drop them).
//!
//! Loopback only: a target outside 127.0.0.0/8 and ::1 is refused. Every attempt is bounded in time, the flood
//! stops at its deadline, and each kind stops at its count.

use super::tls::{self, Credentials, Identity};
use super::transport::CLOSE_BAD_FRAME;
use super::{dial_endpoint, NetError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

pub struct FloodSpec {
    /// The replicas: id and address.
    pub targets: Vec<(u32, SocketAddr)>,
    pub ca: rustls::pki_types::CertificateDer<'static>,
    /// A member's credentials (a client certificate the cluster accepts), for the garbage frames.
    pub member: Credentials,
    pub duration: Duration,
    /// Most attempts of each kind, whatever the time.
    pub max_per_kind: u64,
    /// Attempts of each kind in flight at once.
    pub concurrency: usize,
}

#[derive(Debug, Error)]
pub enum FloodError {
    #[error("{0} is not a loopback address: the flood only targets this machine")]
    NotLoopback(SocketAddr),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Most attempts of one kind in flight at once.
pub const MAX_CONCURRENCY: usize = 64;

/// What the flood did and how the replicas answered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FloodCounts {
    pub no_cert_attempts: u64,
    /// Handshakes without a certificate that the replica refused (failed or closed by it).
    pub no_cert_refused: u64,
    /// Connections without a certificate that stayed open (must be 0).
    pub no_cert_admitted: u64,
    pub garbage_connections: u64,
    pub garbage_frames: u64,
    /// Garbage connections the replica closed for a bad frame (its own close code), as it must.
    pub garbage_closed: u64,
    pub udp_datagrams: u64,
}

#[derive(Default)]
struct Counters {
    no_cert_attempts: AtomicU64,
    no_cert_refused: AtomicU64,
    no_cert_admitted: AtomicU64,
    garbage_connections: AtomicU64,
    garbage_frames: AtomicU64,
    garbage_closed: AtomicU64,
    udp_datagrams: AtomicU64,
}

/// How long a replica gets to close a connection it should refuse.
const VERDICT: Duration = Duration::from_secs(2);
/// Longest one attempt may take, handshake included.
const ATTEMPT: Duration = Duration::from_secs(4);

/// Runs the flood until `duration` has passed or every kind has made `max_per_kind` attempts.
pub async fn flood(spec: &FloodSpec) -> Result<FloodCounts, FloodError> {
    if let Some((_, a)) = spec.targets.iter().find(|(_, a)| !a.ip().is_loopback()) {
        return Err(FloodError::NotLoopback(*a));
    }
    let c = Arc::new(Counters::default());
    let deadline = Instant::now() + spec.duration;
    let no_cert = no_cert_config(&spec.ca)?;
    let member = tls::client_config(&spec.ca, &spec.member)?;
    let ep = dial_endpoint(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    // One member connection at a time: the replica keeps one connection per identity, and a second one
    // would replace (close) the first before its bad frame is judged.
    let member_turn = Arc::new(tokio::sync::Mutex::new(()));
    let mut jobs = tokio::task::JoinSet::new();
    for worker in 0..spec.concurrency.clamp(1, MAX_CONCURRENCY) {
        let (c, ep, targets) = (c.clone(), ep.clone(), spec.targets.clone());
        let (no_cert, member, turn) = (no_cert.clone(), member.clone(), member_turn.clone());
        let max = spec.max_per_kind;
        jobs.spawn(async move {
            let mut i = worker;
            while Instant::now() < deadline {
                let (id, addr) = targets[i % targets.len()];
                i += 1;
                let name = Identity::Replica(id).dns_name();
                if c.no_cert_attempts.fetch_add(1, Relaxed) < max {
                    let _ = tokio::time::timeout(
                        ATTEMPT,
                        no_cert_attempt(&ep, &no_cert, addr, &name, &c),
                    )
                    .await;
                } else {
                    c.no_cert_attempts.fetch_sub(1, Relaxed);
                }
                if let Ok(_turn) = turn.try_lock() {
                    let n = c.garbage_connections.fetch_add(1, Relaxed);
                    if n < max {
                        let g = garbage(&ep, member.clone(), addr, &name, n, &c);
                        let _ = tokio::time::timeout(ATTEMPT, g).await;
                    } else {
                        c.garbage_connections.fetch_sub(1, Relaxed);
                    }
                }
                if c.udp_datagrams.load(Relaxed) < max {
                    udp(addr, i as u64, &c).await;
                }
                if c.no_cert_attempts.load(Relaxed) >= max
                    && c.garbage_connections.load(Relaxed) >= max
                    && c.udp_datagrams.load(Relaxed) >= max
                {
                    break;
                }
            }
        });
    }
    while jobs.join_next().await.is_some() {}
    ep.close(0u32.into(), b"done");
    Ok(FloodCounts {
        no_cert_attempts: c.no_cert_attempts.load(Relaxed),
        no_cert_refused: c.no_cert_refused.load(Relaxed),
        no_cert_admitted: c.no_cert_admitted.load(Relaxed),
        garbage_connections: c.garbage_connections.load(Relaxed),
        garbage_frames: c.garbage_frames.load(Relaxed),
        garbage_closed: c.garbage_closed.load(Relaxed),
        udp_datagrams: c.udp_datagrams.load(Relaxed),
    })
}

/// A handshake without a client certificate. The replica must refuse it: the handshake fails, or (TLS 1.3
/// lets the client finish first) the replica closes the connection right after.
async fn no_cert_attempt(
    ep: &quinn::Endpoint,
    cfg: &quinn::ClientConfig,
    addr: SocketAddr,
    name: &str,
    c: &Counters,
) {
    let Ok(connecting) = ep.connect_with(cfg.clone(), addr, name) else {
        return;
    };
    let refused = |e: &quinn::ConnectionError| !matches!(e, quinn::ConnectionError::TimedOut);
    match connecting.await {
        Err(e) if refused(&e) => {
            c.no_cert_refused.fetch_add(1, Relaxed);
        }
        Err(_) => {}
        Ok(conn) => match tokio::time::timeout(VERDICT, conn.closed()).await {
            Ok(e) if refused(&e) => {
                c.no_cert_refused.fetch_add(1, Relaxed);
            }
            Ok(_) => {}
            Err(_) => {
                c.no_cert_admitted.fetch_add(1, Relaxed);
                conn.close(0u32.into(), b"flood");
            }
        },
    }
}

/// A cheap deterministic byte stream (no RNG needed: the bytes only have to be wrong).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Connects as a member and sends one kind of bad frame; counts whether the replica closed the connection.
async fn garbage(
    ep: &quinn::Endpoint,
    cfg: quinn::ClientConfig,
    addr: SocketAddr,
    name: &str,
    seed: u64,
    c: &Counters,
) {
    let Ok(connecting) = ep.connect_with(cfg, addr, name) else {
        return;
    };
    let Ok(conn) = connecting.await else {
        return;
    };
    let frame = match seed % 3 {
        // A length far past any frame the transport accepts.
        0 => [0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3].to_vec(),
        // A length that promises more than the stream holds.
        1 => {
            let mut f = 200u32.to_le_bytes().to_vec();
            f.extend(noise(seed, 20));
            f
        }
        // A plausible length over bytes that do not decode (the first says a message kind no one has, so random
        // bytes cannot happen to form a valid message).
        _ => {
            let mut body = vec![0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
            body.extend(noise(seed, 43));
            let mut f = (body.len() as u32).to_le_bytes().to_vec();
            f.extend(body);
            f
        }
    };
    let mut sent = false;
    if let Ok(mut s) = conn.open_uni().await {
        sent = s.write_all(&frame).await.is_ok();
        let _ = s.finish();
    }
    if !sent {
        conn.close(0u32.into(), b"flood");
        return;
    }
    c.garbage_frames.fetch_add(1, Relaxed);
    match tokio::time::timeout(VERDICT, conn.closed()).await {
        Ok(quinn::ConnectionError::ApplicationClosed(a))
            if a.error_code == quinn::VarInt::from_u32(CLOSE_BAD_FRAME) =>
        {
            c.garbage_closed.fetch_add(1, Relaxed);
        }
        Ok(_) => {}
        Err(_) => conn.close(0u32.into(), b"flood"),
    }
}

async fn udp(addr: SocketAddr, seed: u64, c: &Counters) {
    let local = if addr.is_ipv4() {
        SocketAddr::from(([127, 0, 0, 1], 0))
    } else {
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))
    };
    let Ok(sock) = tokio::net::UdpSocket::bind(local).await else {
        return;
    };
    for k in 0..16 {
        let len = 20 + ((seed + k) % 1200) as usize;
        if sock.send_to(&noise(seed * 31 + k, len), addr).await.is_ok() {
            c.udp_datagrams.fetch_add(1, Relaxed);
        }
    }
}

/// TLS that trusts the cluster CA but presents no client certificate.
fn no_cert_config(
    ca: &rustls::pki_types::CertificateDer<'static>,
) -> Result<quinn::ClientConfig, NetError> {
    let bad = |e: String| NetError::Tls(tls::TlsError::Quic(e));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| bad(e.to_string()))?;
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| bad(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    c.alpn_protocols = vec![tls::ALPN.to_vec()];
    let qc =
        quinn::crypto::rustls::QuicClientConfig::try_from(c).map_err(|e| bad(e.to_string()))?;
    Ok(quinn::ClientConfig::new(Arc::new(qc)))
}
