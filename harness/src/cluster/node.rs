//! `paxos-bench node`: one replica as an OS process, for multi-process and multi-machine runs. It listens on its
//! address from `cluster.toml` with its own certificate, dials the replicas with higher ids, injects the
//! experiment's WAN conditions on what it sends, answers the load generator's snapshot requests, and runs until
//! it is told to stop (SIGINT or SIGTERM).
//!
//! With `storage = "wal"` in the experiment, the node keeps its acceptor state in a write-ahead log (synced
//! before it answers, see [`super::replica_task`]); started again after a crash, it reads the log back and
//! rejoins with every promise and acceptance it made. With memory storage a killed node must stay down: a Paxos
//! acceptor that comes back having forgotten its promises could break agreement.
//!
//! The slots it decides go to a file beside its log (`replica-K.decided`, see [`crate::storage::decided`]),
//! not to memory, so a node's footprint does not grow with the length of a run; the load generator reads them
//! through the control channel after the run.

use super::replica_task::{ReplicaTask, Start};
use super::{replica_setup, ClusterError};
use crate::config::cluster::ClusterSpec;
use crate::experiment::{sim_spec_for, RunPlan};
use crate::metrics::Metrics;
use crate::net::inject::{DelayerThread, Regions, WanSender};
use crate::net::replica_endpoint;
use crate::net::tls::{identity_of, read_cert, read_key, Credentials, Identity};
use crate::net::transport::{AcceptPolicy, Transport, INBOX};
use crate::sim::Partitions;
use crate::storage::decided::DecidedFile;
use crate::storage::{open_replica_log, Storage};
use crate::wan::LinkModel;
use crate::with_variant;
use paxos_variants::{DetRng, NodeId, Peer, Variant};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// How long a starting replica waits for the others before it starts without them.
const MESH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How a node came up: where it listens, and what it read back from its write-ahead log.
pub struct NodeUp {
    pub addr: SocketAddr,
    /// `Some(records)` when the node started again from a log that held its earlier state.
    pub recovered: Option<usize>,
}

/// Runs replica `id` of the cluster until SIGINT or SIGTERM. `ready` is called once the replica listens.
/// With `health`, it also serves its health endpoint there (see [`super::health`]).
pub fn run_node(
    cluster: &ClusterSpec,
    id: u32,
    kernel_path: bool,
    health: Option<SocketAddr>,
    ready: impl FnOnce(NodeUp),
) -> Result<(), ClusterError> {
    let n = cluster.replicas.len();
    if id as usize >= n {
        return Err(ClusterError::Config(format!(
            "{}: there is no replica {id} (ids are 0..{n})",
            cluster.file.display()
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)?;
    let v = &cluster.experiment.variants[cluster.variant];
    if cluster.experiment.storage.len() != 1 {
        return Err(ClusterError::Config(format!(
            "{}: a replica process has one storage; give the experiment storage = \"memory\" or \"wal\", not a list",
            cluster.file.display()
        )));
    }
    with_variant!(v.name.as_str(), V => rt.block_on(node::<V>(cluster, id, kernel_path, health, ready)))
        .ok_or_else(|| ClusterError::Config(format!("unknown variant `{}`", v.name)))?
}

async fn node<V: Variant>(
    cluster: &ClusterSpec,
    id: u32,
    kernel_path: bool,
    health: Option<SocketAddr>,
    ready: impl FnOnce(NodeUp),
) -> Result<(), ClusterError> {
    let exp = &cluster.experiment;
    let me = &cluster.replicas[id as usize];
    let ca = read_cert(&cluster.ca)?;
    let creds = Credentials {
        cert: read_cert(&me.cert)?,
        key: read_key(&me.key)?,
    };
    let named = identity_of(&creds.cert)?;
    if named != Identity::Replica(id) {
        return Err(ClusterError::Config(format!(
            "{} names {}, not replica {id}",
            me.cert.display(),
            named.dns_name()
        )));
    }
    let (ep, dial_cfg) = replica_endpoint(me.addr.listen(), &ca, &creds)?;
    let (tx, inbox) = mpsc::channel(INBOX);
    let (ctl_tx, ctl_rx) = mpsc::channel(16);
    let mut net = Transport::<V::Msg>::new(ep, dial_cfg, tx);
    let policy = AcceptPolicy {
        me: Identity::Replica(id),
        replicas: cluster.replicas.len() as u32,
        clients_below: None,
    };
    net.accept(policy, Some(ctl_tx));
    for r in cluster.replicas.iter().filter(|r| r.id > id) {
        net.dial(Identity::Replica(r.id), r.addr.clone());
    }
    // Start the protocol once the other replicas are reachable, so that a slow start of one process does not
    // look like a dead leader; a replica that stays away is waited for only so long.
    let deadline = Instant::now() + MESH_WAIT;
    let others: Vec<u32> = cluster
        .replicas
        .iter()
        .map(|r| r.id)
        .filter(|&r| r != id)
        .collect();
    while !others.iter().all(|&r| net.connected(Identity::Replica(r))) && Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let plan = RunPlan {
        variant: cluster.variant,
        clients: 0,
        seed: exp.seeds[0],
        jitter: None,
        storage: crate::storage::Storage::Memory,
    };
    let spec = sim_spec_for(exp, &plan);
    let delayer = DelayerThread::start().map_err(ClusterError::Runtime)?;
    let mut sender = WanSender::new(
        Peer::Replica(NodeId(id)),
        cluster.replicas.len(),
        Arc::new(Regions::for_topology(&exp.topology)),
        // On the kernel path the packets are delayed in the kernel; injecting here too would apply it twice.
        LinkModel::new(&if kernel_path {
            exp.network.quiet()
        } else {
            exp.network.clone()
        }),
        DetRng::derive(spec.seed, 2_000_000 + id as u64),
        delayer.handle(),
        // A process counts everything it sends; the load generator takes differences over its window.
        Metrics::new(0, u64::MAX),
        Instant::now(),
    );
    // Partitions between replica processes come from the control channel (`paxos-bench partition`).
    sender.partitions = Some(Arc::new(RwLock::new(Partitions::new(
        cluster.replicas.len(),
    ))));
    let mut recovered = None;
    if let Some(dir) = me.wal.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let made =
                std::fs::create_dir_all(dir).and_then(|()| crate::storage::wal::sync_parent(dir));
            made.map_err(|e| {
                ClusterError::Config(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
    }
    let (start, wal) = if exp.storage == [Storage::Wal] {
        match open_replica_log::<V::Replica>(&me.wal, V::NAME)? {
            (log, Some(prior)) => {
                tracing::info!(
                    "replica {id}: recovered {} records from {} (start number {})",
                    prior.records,
                    me.wal.display(),
                    prior.boots + 1
                );
                let setup = replica_setup(&spec, id as usize, prior.boots);
                recovered = Some(prior.records);
                (Start::Recover(setup, prior.durable), Some(log))
            }
            (log, None) => (Start::New(replica_setup(&spec, id as usize, 0)), Some(log)),
        }
    } else {
        (Start::New(replica_setup(&spec, id as usize, 0)), None)
    };
    // A replica that starts again from its log keeps the decisions of its earlier incarnation.
    let decided = DecidedFile::open(&me.wal.with_extension("decided"), recovered.is_some())
        .map_err(|e| ClusterError::Config(e.to_string()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = ReplicaTask::<V> {
        id,
        control: Some(ctl_rx),
        start,
        wal,
        recovered_records: recovered.unwrap_or(0) as u64,
        decided: Some(decided),
        inbox,
        sender,
        links: net.link_finder(),
        stop: stop_rx,
        injected_work: spec.injected_work,
    };
    let mut job = tokio::spawn(task.run());
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    if let Some(addr) = health {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            ClusterError::Config(format!(
                "replica {id} cannot serve its health endpoint on {addr}: {e}"
            ))
        })?;
        tokio::spawn(super::health::serve(
            listener,
            super::health::HealthState {
                id,
                replicas: cluster.replicas.len() as u32,
                connected: {
                    let finder = net.conn_finder();
                    Arc::new(move |r| finder.connection(Identity::Replica(r)).is_some())
                },
                running: running.clone(),
            },
        ));
    }
    ready(NodeUp {
        addr: net.local_addr().map_err(ClusterError::Runtime)?,
        recovered,
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(ClusterError::Runtime)?;
    let ended = tokio::select! {
        _ = tokio::signal::ctrl_c() => None,
        _ = term.recv() => None,
        // The replica stops by itself only when its log failed: the process must not linger as if alive.
        end = &mut job => Some(end),
    };
    let end = match ended {
        Some(end) => end,
        None => {
            let _ = stop_tx.send(true);
            (&mut job).await
        }
    };
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    net.shutdown().await;
    drop(delayer);
    match end {
        Ok(end) => match end.failed {
            Some(why) => Err(ClusterError::Config(format!(
                "replica {id} stopped: it could not write what it must keep: {why}"
            ))),
            None => Ok(()),
        },
        Err(e) => Err(ClusterError::Task(e.to_string())),
    }
}
