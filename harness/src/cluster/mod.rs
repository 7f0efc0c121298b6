//! The QUIC cluster of `mode = "quic"`: every replica a tokio task with its own quinn endpoint on 127.0.0.1 and
//! an ephemeral port, every client a task that talks to the replicas over QUIC with its own certificate, WAN
//! conditions injected at each sender, keys made in memory for the run. The run's inputs are the simulator's
//! [`SimSpec`], so a config means the same in both drivers, and its outputs are what the simulator's are: the
//! metrics, the history for the checker, and the replicas' final status.

pub mod client_task;
pub mod replica_task;
pub mod timers;

use crate::check::History;
use crate::metrics::Metrics;
use crate::net::inject::{DelayerThread, Regions, WanSender};
use crate::net::tls::{self, ClusterCa, Identity, TlsError};
use crate::net::transport::{AcceptPolicy, NetStats, Transport, INBOX};
use crate::net::{dial_endpoint, replica_endpoint, NetError};
use crate::sim::{replicas_by_distance, SimSpec};
use crate::wan::LinkModel;
use client_task::{ClientTask, Schedule};
use paxos_variants::{
    Client, ClientId, ClientSetup, DetRng, NodeId, Peer, ReplicaSetup, ReplicaStatus, Variant,
};
use replica_task::{ReplicaTask, Start};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{mpsc, watch};

/// Clients that share one UDP socket (each still has its own connections and certificate).
const CLIENTS_PER_ENDPOINT: usize = 16;
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
}

/// What one replica did in a run.
#[derive(Debug, Clone)]
pub struct ReplicaReport {
    pub id: usize,
    /// Wall time inside the protocol's handlers, in milliseconds (QUIC and TLS work excluded).
    pub handler_ms: f64,
    pub messages_handled: u64,
    pub alive_at_end: bool,
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

fn add(total: &mut NetTotals, s: &NetStats) {
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
        t.accept(AcceptPolicy {
            me: Identity::Replica(r),
            replicas: n as u32,
            clients_below: Some(clients as u32),
        });
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

    // Clients: a shared dialing endpoint per group, one certificate and connection set per client.
    let mut client_eps = Vec::new();
    for _ in 0..clients.div_ceil(CLIENTS_PER_ENDPOINT) {
        client_eps.push(dial_endpoint(loopback())?);
    }
    let mut client_net = Vec::with_capacity(clients);
    let mut client_inbox = Vec::with_capacity(clients);
    for c in 0..clients {
        let (creds, _, _) = ca.issue(Identity::Client(c as u32))?;
        let cfg = tls::client_config(&ca_der, &creds)?;
        let (tx, rx) = mpsc::channel(INBOX);
        let mut t = Transport::<V::Msg>::new(client_eps[c / CLIENTS_PER_ENDPOINT].clone(), cfg, tx);
        for (r, addr) in addrs.iter().enumerate() {
            t.dial(Identity::Replica(r as u32), *addr);
        }
        client_net.push(t);
        client_inbox.push(rx);
    }
    wait_connected(&replica_net, &client_net).await?;

    // The run's clock starts once every connection is up, so handshakes are not measured.
    let epoch = Instant::now();
    let sender = |me: Peer, stream: u64| WanSender {
        me,
        replicas: n,
        regions: regions.clone(),
        links: links.clone(),
        rng: DetRng::derive(spec.seed, stream),
        delayer: delayer.handle(),
        partitions: None,
        metrics: Metrics::new(ns(spec.measure_from), ns(spec.stop_issuing)),
        epoch,
        encode_errors: 0,
        dropped: 0,
        duplicated: 0,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut replica_jobs = Vec::with_capacity(n);
    for (r, inbox) in replica_inbox.into_iter().enumerate() {
        let task = ReplicaTask::<V> {
            start: Start::New(replica_setup(spec, r, 0)),
            inbox,
            sender: sender(Peer::Replica(NodeId(r as u32)), 2_000_000 + r as u64),
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
    let mut client_jobs = Vec::with_capacity(clients);
    for (c, inbox) in client_inbox.into_iter().enumerate() {
        let region = spec.topology.client_region(c);
        let setup = ClientSetup {
            id: ClientId(c as u32),
            n,
            initial_leader: NodeId(spec.topology.leader as u32),
            by_distance: replicas_by_distance(&links, &spec.topology, region),
            retry: spec.client_retry,
        };
        let task = ClientTask::<V> {
            id: ClientId(c as u32),
            proto: V::Client::new(setup),
            inbox,
            sender: sender(Peer::Client(ClientId(c as u32)), 3_000_000 + c as u64),
            links: client_net[c].link_finder(),
            workload: crate::load::Workload::new(spec.load.clone()),
            rng: DetRng::derive(spec.seed, 1_000_000 + c as u64),
            schedule,
        };
        client_jobs.push(tokio::spawn(task.run()));
    }

    let mut metrics = Metrics::new(ns(spec.measure_from), ns(spec.stop_issuing));
    let mut history = History::new(clients);
    let mut net = NetTotals::default();
    let mut pending = 0;
    for (c, job) in client_jobs.into_iter().enumerate() {
        let end = job.await.map_err(|e| ClusterError::Task(e.to_string()))?;
        metrics.merge(&end.sender.metrics);
        net.wan_dropped += end.sender.dropped;
        net.wan_duplicated += end.sender.duplicated;
        pending += end.pending;
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
        });
    }
    for t in client_net.into_iter().chain(replica_net) {
        add(&mut net, &t.stats);
        t.shutdown().await;
    }
    for ep in client_eps {
        ep.close(quinn::VarInt::from_u32(0), b"done");
    }
    drop(delayer);
    Ok(QuicOutcome {
        metrics,
        history,
        statuses,
        replicas,
        net,
        pending,
        wall: started.elapsed(),
    })
}

/// Waits until every replica pair and every client-replica pair has a live connection, both ways.
async fn wait_connected<M: paxos_variants::Message>(
    replicas: &[Transport<M>],
    clients: &[Transport<M>],
) -> Result<(), ClusterError> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let mut missing = Vec::new();
        for (i, t) in replicas.iter().enumerate() {
            for j in 0..replicas.len() {
                if i != j && !t.connected(Identity::Replica(j as u32)) {
                    missing.push(format!("replica {i} -> replica {j}"));
                }
            }
            for c in 0..clients.len() {
                if !t.connected(Identity::Client(c as u32)) {
                    missing.push(format!("replica {i} -> client {c}"));
                }
            }
        }
        for (c, t) in clients.iter().enumerate() {
            for r in 0..replicas.len() {
                if !t.connected(Identity::Replica(r as u32)) {
                    missing.push(format!("client {c} -> replica {r}"));
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let more = if missing.len() > 5 {
                format!(" and {} more", missing.len() - 5)
            } else {
                String::new()
            };
            missing.truncate(5);
            return Err(ClusterError::Connect {
                secs: CONNECT_TIMEOUT.as_secs(),
                missing: format!("{}{more}", missing.join(", ")),
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
