//! The transport floor: what one of our QUIC connections costs before any protocol runs on it. Two transports
//! (as replicas 0 and 1, mutual TLS, frames, the same writer and reader tasks a cluster uses) on loopback:
//! a ping-pong of small messages gives the round-trip time, and a one-way stream of them with a bounded number
//! in flight gives the pipelined message rate. `paxos-bench transport` prints both. With an injected one-way
//! delay, the ping-pong goes through the WAN delayer as a cluster's messages do, and the round trip minus twice
//! the delay is what injection and the transport add to every configured link.

use super::frame::encode;
use super::inject::{Delayer, DelayerThread};
use super::tls::{ClusterCa, Identity};
use super::transport::{AcceptPolicy, Outbound, Transport, INBOX};
use super::{replica_endpoint, NetError};
use bytes::Bytes;
use hdrhistogram::Histogram;
use paxos_variants::{Message, Peer};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Round trips not measured while connections and caches warm up.
const WARMUP_ROUND_TRIPS: usize = 1000;
/// Most pipelined messages in flight at once (well below a link's queue, so none is dropped).
const PIPELINE_WINDOW: u64 = 20_000;

/// Sends now, or through the delayer when a delay is injected.
fn send(delayer: &Delayer, delay: Duration, to: &Outbound, frame: Bytes) {
    if delay.is_zero() {
        to.push(frame);
    } else {
        delayer.hold(Instant::now() + delay, to, frame);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    pub seq: u64,
    /// Ping-pong probes are echoed; pipelined ones are only counted.
    pub echo: bool,
    pub data: Bytes,
}

impl Message for Probe {
    fn kind(&self) -> &'static str {
        "probe"
    }
}

#[derive(Debug, Clone)]
pub struct Floor {
    pub payload_bytes: usize,
    pub frame_bytes: usize,
    pub round_trips: usize,
    pub rtt_p50_us: f64,
    pub rtt_p99_us: f64,
    pub rtt_mean_us: f64,
    /// The one-way delay injected on both directions of the ping-pong.
    pub delay_us: f64,
    pub pipelined: u64,
    pub pipelined_msgs_per_s: f64,
    pub pipelined_mib_per_s: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum FloorError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the two endpoints did not connect within 10 s")]
    NoConnection,
    #[error("the echo side stopped answering")]
    Lost,
}

/// Measures the floor in a runtime of its own with two worker threads, as a cluster run has.
pub fn measure(
    round_trips: usize,
    pipelined: u64,
    payload: usize,
    delay: Duration,
) -> Result<Floor, FloorError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The measuring loop runs as a task on the workers, as replicas and clients do, not on the blocked
    // main thread (whose every wake-up would cost a cross-thread unpark).
    rt.block_on(async move {
        tokio::spawn(measure_async(round_trips, pipelined, payload, delay))
            .await
            .map_err(|e| FloorError::Io(std::io::Error::other(e.to_string())))?
    })
}

async fn measure_async(
    round_trips: usize,
    pipelined: u64,
    payload: usize,
    delay: Duration,
) -> Result<Floor, FloorError> {
    let ca = ClusterCa::generate()?;
    let ca_der = ca.cert_der();
    let lo = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut nodes = Vec::new();
    let mut inboxes = Vec::new();
    for r in 0..2u32 {
        let (creds, _, _) = ca.issue(Identity::Replica(r))?;
        let (ep, cfg) = replica_endpoint(lo, &ca_der, &creds)?;
        let (tx, rx) = mpsc::channel(INBOX);
        let mut t = Transport::<Probe>::new(ep, cfg, tx);
        t.accept(
            AcceptPolicy {
                me: Identity::Replica(r),
                replicas: 2,
                clients_below: Some(0),
            },
            None,
        );
        nodes.push(t);
        inboxes.push(rx);
    }
    let addr_b = nodes[1].local_addr()?;
    nodes[0].dial(Identity::Replica(1), addr_b);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(nodes[0].connected(Identity::Replica(1)) && nodes[1].connected(Identity::Replica(0))) {
        if Instant::now() > deadline {
            return Err(FloorError::NoConnection);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (Some(a_to_b), Some(b_to_a)) = (
        nodes[0].outbound(Identity::Replica(1)),
        nodes[1].outbound(Identity::Replica(0)),
    ) else {
        return Err(FloorError::NoConnection);
    };
    let mut inbox_b = inboxes.pop().ok_or(FloorError::Lost)?;
    let mut inbox_a = inboxes.pop().ok_or(FloorError::Lost)?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let delayer = DelayerThread::start()?;
    let (hold_a, hold_b) = (delayer.handle(), delayer.handle());
    let echo = tokio::spawn(async move {
        while let Some((_, p)) = inbox_b.recv().await {
            if p.echo {
                if let Ok(f) = encode(&p) {
                    send(&hold_b, delay, &b_to_a, f);
                }
            } else {
                counter.fetch_add(1, Relaxed);
            }
        }
    });

    let data = Bytes::from(vec![0xA5u8; payload]);
    let frame_bytes = encode(&Probe {
        seq: 0,
        echo: true,
        data: data.clone(),
    })
    .map(|f| f.len())
    .unwrap_or(0);
    let mut rtt = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    for seq in 0..(WARMUP_ROUND_TRIPS + round_trips) as u64 {
        let probe = Probe {
            seq,
            echo: true,
            data: data.clone(),
        };
        let frame = encode(&probe).map_err(|e| std::io::Error::other(e.to_string()))?;
        let t0 = Instant::now();
        send(&hold_a, delay, &a_to_b, frame);
        let got = tokio::time::timeout(Duration::from_secs(5), inbox_a.recv()).await;
        match got {
            Ok(Some((Peer::Replica(_), p))) if p.seq == seq => {}
            _ => return Err(FloorError::Lost),
        }
        if seq >= WARMUP_ROUND_TRIPS as u64 {
            let _ = rtt.record((t0.elapsed().as_nanos() as u64).max(1));
        }
    }

    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < pipelined {
        while sent - received.load(Relaxed) >= PIPELINE_WINDOW {
            if t0.elapsed() > Duration::from_secs(60) {
                return Err(FloorError::Lost);
            }
            tokio::task::yield_now().await;
        }
        let probe = Probe {
            seq: sent,
            echo: false,
            data: data.clone(),
        };
        let frame = encode(&probe).map_err(|e| std::io::Error::other(e.to_string()))?;
        a_to_b.push(frame);
        sent += 1;
    }
    while received.load(Relaxed) < pipelined {
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(FloorError::Lost);
        }
        tokio::task::yield_now().await;
    }
    let secs = t0.elapsed().as_secs_f64();
    echo.abort();
    for n in nodes {
        n.shutdown().await;
    }
    let us = |q: f64| rtt.value_at_quantile(q) as f64 / 1000.0;
    Ok(Floor {
        payload_bytes: payload,
        frame_bytes,
        round_trips,
        rtt_p50_us: us(0.5),
        rtt_p99_us: us(0.99),
        rtt_mean_us: rtt.mean() / 1000.0,
        delay_us: delay.as_secs_f64() * 1e6,
        pipelined,
        pipelined_msgs_per_s: pipelined as f64 / secs,
        pipelined_mib_per_s: pipelined as f64 * frame_bytes as f64 / secs / (1 << 20) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small measurement completes and its figures are internally consistent (not a timing assertion).
    #[test]
    fn a_small_floor_measurement_runs_end_to_end() {
        let f = measure(200, 5_000, 64, Duration::ZERO).unwrap();
        assert_eq!(f.round_trips, 200);
        assert!(f.rtt_p50_us > 0.0 && f.rtt_p50_us <= f.rtt_p99_us);
        assert!(f.pipelined_msgs_per_s > 0.0);
        assert!(f.frame_bytes > 64);
        // Through the delayer, a round trip takes the two injected delays (less at most the delayer's bounded
        // early wake-up on each).
        let d = measure(50, 10, 64, Duration::from_millis(2)).unwrap();
        assert!(d.rtt_p50_us >= 3600.0, "{d:?}");
    }
}
