//! The QUIC cluster of `mode = "quic"`: every replica a tokio task with its own quinn endpoint on 127.0.0.1 and
//! an ephemeral port, every client a task that talks to the replicas over QUIC with its own certificate, WAN
//! conditions injected at each sender, keys made in memory for the run. The run's inputs are the simulator's
//! [`SimSpec`], so a config means the same in both drivers, and its outputs are what the simulator's are: the
//! metrics, the history for the checker, and the replicas' final status.

pub mod client_task;
pub mod external;
pub mod fleet;
pub mod health;
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
use crate::sim::{Partitions, SimFault};
use crate::wan::LinkModel;
use client_task::Schedule;
use fleet::Fleet;
use paxos_variants::{ClientId, DetRng, NodeId, Peer, ReplicaSetup, ReplicaStatus, Variant};
use replica_task::{ReplicaEnd, ReplicaTask, Start};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::RwLock;
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
    #[error(transparent)]
    Wal(#[from] crate::storage::wal::WalError),
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
    /// What a reader of the results must know: replicas lost mid-run, the leader at the end.
    pub notes: Vec<String>,
    /// The write-ahead logs' counters summed over the replicas (`None`: memory storage).
    pub wal: Option<crate::storage::wal::WalStats>,
    /// A load generator that ran one share of the clients: what the merge needs besides the figures.
    pub share: Option<ShareClock>,
}

/// A client share's place and clock (see [`crate::share`]).
#[derive(Debug, Clone)]
pub struct ShareClock {
    pub shard: crate::shard::Shard,
    /// This share's client ids in the run.
    pub clients: std::ops::Range<u32>,
    /// The Unix time (ns) of the history's zero.
    pub clock_unix_ns: u64,
    /// When this run started on the history's clock.
    pub run_start_ns: u64,
    /// What the clients sent inside the window, and what the replicas sent.
    pub client_messages: Vec<(String, crate::metrics::MsgCount)>,
    pub replica_messages: Vec<(String, crate::metrics::MsgCount)>,
}

/// Runs one experiment run over QUIC on loopback, in a runtime of its own (two worker threads).
/// With `wal_dir`, each replica keeps a write-ahead log there (`replica-N.wal`), synced before it answers, and
/// a restarted replica recovers from it; without, the harness keeps a crashed replica's state in memory.
pub fn run_quic<V: Variant>(
    spec: &SimSpec,
    drain: Duration,
    wal_dir: Option<&std::path::Path>,
) -> Result<QuicOutcome, ClusterError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)?;
    rt.block_on(run_async::<V>(spec, drain, wal_dir))
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
        reads: spec.reads,
    }
}

pub(crate) fn add(total: &mut NetTotals, s: &NetStats) {
    total.frames_out += NetStats::get(&s.frames_out);
    total.bytes_out += NetStats::get(&s.bytes_out);
    total.refused += NetStats::get(&s.refused);
    total.bad_frames += NetStats::get(&s.bad_frames);
    total.dropped_unreachable += NetStats::get(&s.dropped_unreachable);
}

/// One replica of the in-process cluster: its transport, and its running task (absent while crashed).
struct Node<V: Variant> {
    id: usize,
    net: Option<Transport<V::Msg>>,
    job: Option<(watch::Sender<bool>, tokio::task::JoinHandle<ReplicaEnd<V>>)>,
    incarnation: u64,
    /// Memory storage: what a crashed incarnation left, kept by the harness.
    saved: Option<<V::Replica as paxos_variants::Replica>::Durable>,
    /// Write-ahead log storage: the replica's log file, read back at every start.
    wal: Option<std::path::PathBuf>,
    wal_stats: crate::storage::wal::WalStats,
    decisions: Vec<(paxos_variants::Slot, paxos_variants::Value)>,
    /// Per incarnation, the commands it ran (variants without a total order only).
    executions: Vec<(u32, Vec<(u64, paxos_variants::CommandId)>)>,
    handler_ns: u64,
    handled: u64,
}

/// What every replica task needs that does not change between incarnations.
struct Shared<'a> {
    spec: &'a SimSpec,
    ca: &'a ClusterCa,
    regions: Arc<Regions>,
    links: LinkModel,
    delayer: crate::net::inject::Delayer,
    partitions: Arc<RwLock<Partitions>>,
    addrs: Vec<SocketAddr>,
    epoch: Instant,
    metrics: Metrics,
    wan: (u64, u64),
    notes: Vec<String>,
    /// Restarts from a log, for the notes (`start` only reads `self`).
    recoveries: std::sync::Mutex<Vec<String>>,
}

impl Shared<'_> {
    fn transport<M: paxos_variants::Message>(
        &self,
        r: u32,
        addr: SocketAddr,
        inbox: mpsc::Sender<(Peer, M)>,
    ) -> Result<Transport<M>, ClusterError> {
        let (creds, _, _) = self.ca.issue(Identity::Replica(r))?;
        let (ep, dial_cfg) = replica_endpoint(addr, &self.ca.cert_der(), &creds)?;
        let mut t = Transport::<M>::new(ep, dial_cfg, inbox);
        let policy = AcceptPolicy {
            me: Identity::Replica(r),
            replicas: self.spec.topology.n() as u32,
            clients_below: Some(self.spec.clients as u32),
        };
        t.accept(policy, None);
        Ok(t)
    }

    fn start<V: Variant>(
        &self,
        r: usize,
        node: &mut Node<V>,
        inbox: mpsc::Receiver<(Peer, V::Msg)>,
    ) -> Result<(), ClusterError> {
        let Some(net) = &node.net else {
            return Ok(());
        };
        let mut sender = WanSender::new(
            Peer::Replica(NodeId(r as u32)),
            self.spec.topology.n(),
            self.regions.clone(),
            self.links.clone(),
            DetRng::derive(
                self.spec.seed,
                2_000_000 + r as u64 + 4096 * node.incarnation,
            ),
            self.delayer.clone(),
            Metrics::new(ns(self.spec.measure_from), ns(self.spec.stop_issuing)),
            self.epoch,
        );
        sender.partitions = Some(self.partitions.clone());
        let setup = replica_setup(self.spec, r, node.incarnation);
        let mut recovered_records = 0;
        let (start, wal) = match &node.wal {
            None => match node.saved.take() {
                Some(d) => (Start::Recover(setup, d), None),
                None => (Start::New(setup), None),
            },
            // Reading and syncing a file blocks: let the runtime move other tasks off this thread meanwhile.
            Some(path) => match tokio::task::block_in_place(|| {
                crate::storage::open_replica_log::<V::Replica>(path, V::NAME)
            })? {
                (log, Some(prior)) => {
                    recovered_records = prior.records as u64;
                    if let Ok(mut notes) = self.recoveries.lock() {
                        notes.push(format!(
                            "replica {r} started again from its write-ahead log ({} records)",
                            prior.records
                        ));
                    }
                    (Start::Recover(setup, prior.durable), Some(log))
                }
                (log, None) => (Start::New(setup), Some(log)),
            },
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = ReplicaTask::<V> {
            id: r as u32,
            control: None,
            start,
            inbox,
            sender,
            links: net.link_finder(),
            stop: stop_rx,
            wal,
            recovered_records,
            decided: None,
            injected_work: self.spec.injected_work,
        };
        node.job = Some((stop_tx, tokio::spawn(task.run())));
        Ok(())
    }

    /// Stops a replica's task and takes what it leaves: its durable state, decisions and counters.
    async fn stop<V: Variant>(&mut self, node: &mut Node<V>) -> Option<ReplicaStatus> {
        let (stop, job) = node.job.take()?;
        let _ = stop.send(true);
        let end = job.await.ok()?;
        self.metrics.merge(&end.sender.metrics);
        self.wan.0 += end.sender.dropped;
        self.wan.1 += end.sender.duplicated;
        node.decisions.extend(end.decisions);
        if !end.executed.is_empty() {
            node.executions
                .push((node.incarnation as u32, end.executed));
        }
        node.handler_ns += end.handler_ns;
        node.handled += end.messages_handled;
        if let Some(w) = end.wal {
            node.wal_stats.syncs += w.syncs;
            node.wal_stats.records += w.records;
            node.wal_stats.bytes += w.bytes;
            node.wal_stats.sync_ns += w.sync_ns;
        }
        if node.wal.is_none() {
            node.saved = Some(end.durable);
        }
        if let Some(why) = end.failed {
            self.notes.push(format!(
                "replica {} stopped: its log failed: {why}",
                node.id
            ));
            // It stopped answering when its log failed: not alive at the end.
            return None;
        }
        Some(end.status)
    }

    async fn apply<V: Variant>(&mut self, nodes: &mut [Node<V>], fault: &SimFault) {
        match fault {
            SimFault::Crash(r) => {
                let Some(node) = nodes.get_mut(*r) else {
                    return;
                };
                self.stop(node).await;
                // A dead process: its connections go, so its peers notice.
                if let Some(net) = node.net.take() {
                    net.shutdown().await;
                }
            }
            SimFault::Restart(r) => {
                let Some(node) = nodes.get_mut(*r) else {
                    return;
                };
                if node.job.is_some() {
                    return;
                }
                node.incarnation += 1;
                let (tx, rx) = mpsc::channel(INBOX);
                // The same address as before, so peers' reconnection attempts find it; the old socket may take
                // a moment to be released.
                let mut bound = None;
                for _ in 0..100 {
                    match self.transport::<V::Msg>(*r as u32, self.addrs[*r], tx.clone()) {
                        Ok(t) => {
                            bound = Some(t);
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
                let Some(mut t) = bound else {
                    tracing::warn!("replica {r} could not listen again on {}", self.addrs[*r]);
                    return;
                };
                for (j, addr) in self.addrs.iter().enumerate().skip(r + 1) {
                    t.dial(Identity::Replica(j as u32), *addr);
                }
                node.net = Some(t);
                if let Err(e) = self.start(*r, node, rx) {
                    tracing::warn!("replica {r} could not restart: {e}");
                    self.notes
                        .push(format!("replica {r} could not restart: {e}"));
                }
            }
            SimFault::Partition(groups) => {
                if let Ok(mut p) = self.partitions.write() {
                    p.split(groups);
                }
            }
            SimFault::Block { from, to } => {
                if let Ok(mut p) = self.partitions.write() {
                    p.block(*from, *to);
                }
            }
            SimFault::Heal => {
                if let Ok(mut p) = self.partitions.write() {
                    p.heal();
                }
            }
            // Pauses and impairment changes are simulator-only; configs cannot ask for them.
            _ => {}
        }
    }
}

async fn run_async<V: Variant>(
    spec: &SimSpec,
    drain: Duration,
    wal_dir: Option<&std::path::Path>,
) -> Result<QuicOutcome, ClusterError> {
    let n = spec.topology.n();
    let clients = spec.clients;
    let ca = ClusterCa::generate()?;
    let ca_der = ca.cert_der();
    let delayer = DelayerThread::start().map_err(ClusterError::Runtime)?;
    let mut shared = Shared {
        spec,
        ca: &ca,
        regions: Arc::new(Regions::for_topology(&spec.topology)),
        links: LinkModel::new(&spec.network),
        delayer: delayer.handle(),
        partitions: Arc::new(RwLock::new(Partitions::new(n))),
        addrs: Vec::new(),
        epoch: Instant::now(),
        metrics: Metrics::new(ns(spec.measure_from), ns(spec.stop_issuing)),
        wan: (0, 0),
        notes: Vec::new(),
        recoveries: Default::default(),
    };

    // Replicas: endpoints, accept loops, then the mesh (lower id dials higher).
    let mut nodes: Vec<Node<V>> = Vec::with_capacity(n);
    let mut inboxes = Vec::with_capacity(n);
    for r in 0..n as u32 {
        let (tx, rx) = mpsc::channel(INBOX);
        let t = shared.transport::<V::Msg>(r, loopback(), tx)?;
        shared
            .addrs
            .push(t.local_addr().map_err(ClusterError::Runtime)?);
        nodes.push(Node {
            id: r as usize,
            net: Some(t),
            job: None,
            incarnation: 0,
            saved: None,
            wal: wal_dir.map(|d| crate::storage::wal_path(d, r)),
            wal_stats: Default::default(),
            decisions: Vec::new(),
            executions: Vec::new(),
            handler_ns: 0,
            handled: 0,
        });
        inboxes.push(rx);
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        if let Some(t) = &mut node.net {
            for (j, addr) in shared.addrs.iter().enumerate().skip(i + 1) {
                t.dial(Identity::Replica(j as u32), *addr);
            }
        }
    }
    let mut creds = Vec::with_capacity(clients);
    for c in 0..clients as u32 {
        creds.push((ClientId(c), ca.issue(Identity::Client(c))?.0));
    }
    let addrs: Vec<crate::net::addr::PeerAddr> = shared.addrs.iter().map(|a| (*a).into()).collect();
    let mut fleet = Fleet::<V>::dial(&ca_der, creds, &addrs)?;
    wait_connected(|| {
        let mut missing = fleet.missing(n);
        for (i, node) in nodes.iter().enumerate() {
            let Some(t) = &node.net else { continue };
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
    shared.epoch = Instant::now();
    let epoch = shared.epoch;
    for (r, inbox) in inboxes.into_iter().enumerate() {
        shared.start(r, &mut nodes[r], inbox)?;
    }
    let schedule = Schedule {
        stop_issuing_ns: ns(spec.stop_issuing),
        end_ns: ns(spec.stop_issuing + drain),
        clients,
        inject: true,
    };
    let regions = shared.regions.clone();
    let delayer_handle = delayer.handle();
    let load = fleet.drive(spec, &regions, &delayer_handle, epoch, schedule);
    let faults = async {
        for (at, fault) in &spec.faults {
            tokio::time::sleep_until((epoch + *at).into()).await;
            shared.apply(&mut nodes, fault).await;
        }
    };
    let (fleet_end, ()) = tokio::join!(load, faults);
    let fleet_end = fleet_end?;

    let mut history = History::reading(clients, spec.reads.path);
    history.unordered = !V::TOTAL_ORDER;
    history.executions_tracked = true;
    for (c, end) in fleet_end.ends.into_iter().enumerate() {
        history.ops[c] = end.records;
    }
    let mut statuses = Vec::with_capacity(n);
    let mut replicas = Vec::with_capacity(n);
    for (r, node) in nodes.iter_mut().enumerate() {
        let alive = shared.stop(node).await;
        for (slot, value) in &node.decisions {
            history.decision(NodeId(r as u32), *slot, value);
        }
        for (incarnation, ran) in &node.executions {
            history.executed(NodeId(r as u32), *incarnation, ran);
        }
        if let Some(status) = alive.clone() {
            statuses.push((NodeId(r as u32), status));
        }
        replicas.push(ReplicaReport {
            id: r,
            handler_ms: node.handler_ns as f64 / 1e6,
            messages_handled: node.handled,
            alive_at_end: alive.is_some(),
            process_cpu_ms: None,
        });
    }
    let mut metrics = fleet_end.metrics;
    metrics.merge(&shared.metrics);
    let mut net = NetTotals {
        wan_dropped: fleet_end.wan_dropped + shared.wan.0,
        wan_duplicated: fleet_end.wan_duplicated + shared.wan.1,
        ..NetTotals::default()
    };
    fleet.shutdown(&mut net).await;
    let wal_totals: Vec<_> = nodes.iter().map(|n| n.wal_stats).collect();
    for node in nodes {
        if let Some(t) = node.net {
            add(&mut net, &t.stats);
            t.shutdown().await;
        }
    }
    drop(delayer);
    let wal = wal_dir.map(|_| {
        let mut w = crate::storage::wal::WalStats::default();
        for s in &wal_totals {
            w.syncs += s.syncs;
            w.records += s.records;
            w.bytes += s.bytes;
            w.sync_ns += s.sync_ns;
        }
        w
    });
    Ok(QuicOutcome {
        metrics,
        history,
        statuses,
        replicas,
        net,
        pending: fleet_end.pending,
        notes: {
            let mut notes = shared.notes;
            notes.extend(shared.recoveries.into_inner().unwrap_or_default());
            notes
        },
        wal,
        share: None,
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
