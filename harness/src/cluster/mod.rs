//! The QUIC cluster of `mode = "quic"`: every replica a tokio task with its own quinn endpoint on 127.0.0.1 and
//! an ephemeral port, every client a task that talks to the replicas over QUIC with its own certificate, WAN
//! conditions injected at each sender, keys made in memory for the run. The run's inputs are the simulator's
//! [`SimSpec`], so a config means the same in both drivers, and its outputs are what the simulator's are: the
//! metrics, the history for the checker, and the replicas' final status.

pub mod client_task;
pub mod external;
pub mod fleet;
pub mod node;
pub mod replica_task;
pub mod timers;

use crate::check::History;
use crate::metrics::Metrics;
use crate::net::inject::{DelayerThread, Regions, WanSender};
use crate::net::tls::{ClusterCa, Identity, TlsError};
use crate::net::transport::{AcceptPolicy, NetStats, Transport, INBOX};
use crate::net::{replica_endpoint, NetError};
use crate::sim::SimSpec;
use crate::wan::LinkModel;
use client_task::Schedule;
use fleet::Fleet;
use paxos_variants::{ClientId, DetRng, NodeId, Peer, ReplicaSetup, ReplicaStatus, Variant};
use replica_task::{ReplicaTask, Start};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{mpsc, watch};

/// How long the cluster may take to connect every pair before the run is abandoned.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the cluster did not connect within {secs} s; still missing: {missing}")]
    Connect { secs: u64, missing: String },
    #[error("a replica or client task failed: {0}")]
    Task(String),
    #[error("{0}")]
    Config(String),
}

/// What one replica did in a run.
#[derive(Debug, Clone)]
pub struct ReplicaReport {
    pub id: usize,
    /// Wall time inside the protocol's handlers, in milliseconds (QUIC and TLS work excluded).
    pub handler_ms: f64,
    pub messages_handled: u64,
    pub alive_at_end: bool,
    /// A replica process's whole CPU time (user + system, QUIC and TLS included) over the window.
    pub process_cpu_ms: Option<f64>,
}

/// Transport-level counts summed over every node of the run.
#[derive(Debug, Clone, Default)]
pub struct NetTotals {
    pub frames_out: u64,
    pub bytes_out: u64,
    pub refused: u64,
    pub bad_frames: u64,
    pub dropped_unreachable: u64,
    pub wan_dropped: u64,
    pub wan_duplicated: u64,
}

pub struct QuicOutcome {
    pub metrics: Metrics,
    pub history: History,
    pub statuses: Vec<(NodeId, ReplicaStatus)>,
    pub replicas: Vec<ReplicaReport>,
    pub net: NetTotals,
    /// Commands still unanswered when the run ended.
    pub pending: usize,
    pub wall: Duration,
}

/// Runs one experiment run over QUIC on loopback, in a runtime of its own (two worker threads).
pub fn run_quic<V: Variant>(spec: &SimSpec, drain: Duration) -> Result<QuicOutcome, ClusterError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)?;
    rt.block_on(run_async::<V>(spec, drain))
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The replica's setup, with the seed the simulator gives the same replica.
pub fn replica_setup(spec: &SimSpec, node: usize, incarnation: u64) -> ReplicaSetup {
    ReplicaSetup {
        id: NodeId(node as u32),
        quorums: spec.quorums.clone(),
        initial_leader: NodeId(spec.topology.leader as u32),
        tuning: spec.tuning.clone(),
        mutation: spec.mutation,
        seed: DetRng::derive(spec.seed, 1000 + node as u64 * 64 + incarnation).next_u64(),
    }
}

pub(crate) fn add(total: &mut NetTotals, s: &NetStats) {
    total.frames_out += NetStats::get(&s.frames_out);
    total.bytes_out += NetStats::get(&s.bytes_out);
    total.refused += NetStats::get(&s.refused);
    total.bad_frames += NetStats::get(&s.bad_frames);
    total.dropped_unreachable += NetStats::get(&s.dropped_unreachable);
}

async fn run_async<V: Variant>(
    spec: &SimSpec,
    drain: Duration,
) -> Result<QuicOutcome, ClusterError> {
    let started = Instant::now();
    let n = spec.topology.n();
    let clients = spec.clients;
    let ca = ClusterCa::generate()?;
    let ca_der = ca.cert_der();
    let links = LinkModel::new(&spec.network);
    let regions = Arc::new(Regions {
        replica: spec.topology.replica_region.clone(),
        client: spec.topology.client_regions.clone(),
    });
    let delayer = DelayerThread::start().map_err(ClusterError::Runtime)?;

    // Replicas: endpoints, accept loops, then the mesh (lower id dials higher).
    let mut replica_net = Vec::with_capacity(n);
    let mut replica_inbox = Vec::with_capacity(n);
    for r in 0..n as u32 {
        let (creds, _, _) = ca.issue(Identity::Replica(r))?;
        let (ep, dial_cfg) = replica_endpoint(loopback(), &ca_der, &creds)?;
        let (tx, rx) = mpsc::channel(INBOX);
        let mut t = Transport::<V::Msg>::new(ep, dial_cfg, tx);
        let policy = AcceptPolicy {
            me: Identity::Replica(r),
            replicas: n as u32,
            clients_below: Some(clients as u32),
        };
        t.accept(policy, None);
        replica_net.push(t);
        replica_inbox.push(rx);
    }
    let addrs = replica_net
        .iter()
        .map(|t| t.local_addr())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ClusterError::Runtime)?;
    for (i, t) in replica_net.iter_mut().enumerate() {
        for (j, addr) in addrs.iter().enumerate().skip(i + 1) {
            t.dial(Identity::Replica(j as u32), *addr);
        }
    }
    let mut creds = Vec::with_capacity(clients);
    for c in 0..clients as u32 {
        creds.push((ClientId(c), ca.issue(Identity::Client(c))?.0));
    }
    let mut fleet = Fleet::<V>::dial(&ca_der, creds, &addrs)?;
    wait_connected(|| {
        let mut missing = fleet.missing(n);
        for (i, t) in replica_net.iter().enumerate() {
            for j in (0..n).filter(|&j| j != i) {
                if !t.connected(Identity::Replica(j as u32)) {
                    missing.push(format!("replica {i} -> replica {j}"));
                }
            }
            for c in 0..clients {
                if !t.connected(Identity::Client(c as u32)) {
                    missing.push(format!("replica {i} -> client {c}"));
                }
            }
        }
        missing
    })
    .await?;

    // The run's clock starts once every connection is up, so handshakes are not measured.
    let epoch = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut replica_jobs = Vec::with_capacity(n);
    for (r, inbox) in replica_inbox.into_iter().enumerate() {
        let sender = WanSender {
            me: Peer::Replica(NodeId(r as u32)),
            replicas: n,
            regions: regions.clone(),
            links: links.clone(),
            rng: DetRng::derive(spec.seed, 2_000_000 + r as u64),
            delayer: delayer.handle(),
            partitions: None,
            metrics: Metrics::new(ns(spec.measure_from), ns(spec.stop_issuing)),
            epoch,
            encode_errors: 0,
            dropped: 0,
            duplicated: 0,
        };
        let task = ReplicaTask::<V> {
            id: r as u32,
            control: None,
            start: Start::New(replica_setup(spec, r, 0)),
            inbox,
            sender,
            links: replica_net[r].link_finder(),
            stop: stop_rx.clone(),
        };
        replica_jobs.push(tokio::spawn(task.run()));
    }
    let schedule = Schedule {
        stop_issuing_ns: ns(spec.stop_issuing),
        end_ns: ns(spec.stop_issuing + drain),
        clients,
    };
    let fleet_end = fleet
        .drive(spec, &regions, &delayer.handle(), epoch, schedule)
        .await?;
    let mut metrics = fleet_end.metrics;
    let mut history = History::new(clients);
    let mut net = NetTotals {
        wan_dropped: fleet_end.wan_dropped,
        wan_duplicated: fleet_end.wan_duplicated,
        ..NetTotals::default()
    };
    for (c, end) in fleet_end.ends.into_iter().enumerate() {
        history.ops[c] = end.records;
    }
    let _ = stop_tx.send(true);
    let mut statuses = Vec::with_capacity(n);
    let mut replicas = Vec::with_capacity(n);
    for (r, job) in replica_jobs.into_iter().enumerate() {
        let end = job.await.map_err(|e| ClusterError::Task(e.to_string()))?;
        metrics.merge(&end.sender.metrics);
        net.wan_dropped += end.sender.dropped;
        net.wan_duplicated += end.sender.duplicated;
        for (slot, value) in &end.decisions {
            history.decision(NodeId(r as u32), *slot, value);
        }
        statuses.push((NodeId(r as u32), end.status));
        replicas.push(ReplicaReport {
            id: r,
            handler_ms: end.handler_ns as f64 / 1e6,
            messages_handled: end.messages_handled,
            alive_at_end: true,
            process_cpu_ms: None,
        });
    }
    fleet.shutdown(&mut net).await;
    for t in replica_net {
        add(&mut net, &t.stats);
        t.shutdown().await;
    }
    drop(delayer);
    Ok(QuicOutcome {
        metrics,
        history,
        statuses,
        replicas,
        net,
        pending: fleet_end.pending,
        wall: started.elapsed(),
    })
}

/// Waits until `missing` reports no connection still down.
pub(crate) async fn wait_connected(
    mut missing: impl FnMut() -> Vec<String>,
) -> Result<(), ClusterError> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let mut m = missing();
        if m.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let more = if m.len() > 5 {
                format!(" and {} more", m.len() - 5)
            } else {
                String::new()
            };
            m.truncate(5);
            return Err(ClusterError::Connect {
                secs: CONNECT_TIMEOUT.as_secs(),
                missing: format!("{}{more}", m.join(", ")),
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
