//! `paxos-bench run --cluster cluster.toml`: the load generator against replica processes started with
//! `paxos-bench node`. Its clients are the in-process run's clients; what the replicas did is asked of them over
//! the control channel: their message counters at the start and end of the measurement window (the figures are
//! the differences) and, after the run, their decided logs and status for the checker.
//!
//! A replica that stops answering mid-run does not stop the run while a quorum remains: the clients retry
//! elsewhere, the check uses the replicas still alive, and the run's notes say which replica was lost.

use super::client_task::Schedule;
use super::fleet::Fleet;
use super::{wait_connected, ClusterError, NetTotals, QuicOutcome, ReplicaReport};
use crate::check::{History, OpRecord};
use crate::config::cluster::ClusterSpec;
use crate::metrics::Metrics;
use crate::net::control::{call, ControlRequest, Snapshot};
use crate::net::inject::{DelayerThread, Regions};
use crate::net::tls::{identity_of, read_cert, read_key, Credentials, Identity};
use crate::net::transport::ConnFinder;
use crate::sim::SimSpec;
use paxos_variants::{ClientId, NodeId, Variant};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a run waits for every replica before it starts with a majority.
const START_WAIT: Duration = Duration::from_secs(5);
/// How long a replica has to answer a control request.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long it has to send its whole decided log (read back from its file; tens of MB after a long run).
const LOG_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the live replicas get, after the load stops, to learn every decided slot before they are judged.
const CONVERGE_WAIT: Duration = Duration::from_secs(15);

/// Runs against one live cluster share client ids and the checker's history, so each run's check also covers
/// the commands of the runs before it on the same replicas.
pub struct Session {
    pub cluster: ClusterSpec,
    ops: Vec<Vec<OpRecord>>,
    next_client: u32,
    /// The clock all runs' histories share, so that the checker sees their real-time order.
    epoch: Instant,
    /// The clients inject nothing: the kernel delays their packets (`scripts/netns-cluster.sh`).
    pub kernel_path: bool,
    /// This load generator runs only this share of each run's clients (`run --client-share`).
    pub share: Option<crate::shard::Shard>,
    /// The Unix time of `epoch`, so that shares on other processes or hosts can be put on one clock.
    clock_unix_ns: u64,
}

impl Session {
    pub fn new(cluster: ClusterSpec) -> Session {
        Session {
            cluster,
            ops: Vec::new(),
            next_client: 0,
            epoch: Instant::now(),
            kernel_path: false,
            share: None,
            clock_unix_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    }

    /// One run of `spec.clients` clients against the cluster.
    pub fn run<V: Variant>(
        &mut self,
        spec: &SimSpec,
        drain: Duration,
    ) -> Result<QuicOutcome, ClusterError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(ClusterError::Runtime)?;
        rt.block_on(self.run_async::<V>(spec, drain))
    }

    fn client_credentials(
        &self,
        ids: std::ops::Range<u32>,
    ) -> Result<Vec<(ClientId, Credentials)>, ClusterError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (cert_path, key_path) = self.cluster.client_files(id);
            let cert = read_cert(&cert_path).map_err(|e| {
                ClusterError::Config(format!(
                    "{e} (client {id} of this session needs it; `paxos-bench keys --clients N` makes more)"
                ))
            })?;
            if identity_of(&cert)? != Identity::Client(id) {
                return Err(ClusterError::Config(format!(
                    "{} does not name client {id}",
                    cert_path.display()
                )));
            }
            out.push((
                ClientId(id),
                Credentials {
                    cert,
                    key: read_key(&key_path)?,
                },
            ));
        }
        Ok(out)
    }

    async fn run_async<V: Variant>(
        &mut self,
        spec: &SimSpec,
        drain: Duration,
    ) -> Result<QuicOutcome, ClusterError> {
        let n = self.cluster.replicas.len();
        let ca = read_cert(&self.cluster.ca)?;
        // A share runs its block of the run's client ids; the others run elsewhere at the same time.
        let all: Vec<u32> = (self.next_client..self.next_client + spec.clients as u32).collect();
        let mine = match self.share {
            Some(s) => s.take(&all),
            None => all,
        };
        let ids = match (mine.first(), mine.last()) {
            (Some(a), Some(b)) => *a..*b + 1,
            _ => {
                return Err(ClusterError::Config(format!(
                    "share {} of {} clients has no client: give the run at least as many clients as shares",
                    self.share.map(|s| format!("{}/{}", s.index, s.count)).unwrap_or_default(),
                    spec.clients
                )))
            }
        };
        let creds = self.client_credentials(ids.clone())?;
        let addrs: Vec<_> = self
            .cluster
            .replicas
            .iter()
            .map(|r| r.addr.clone())
            .collect();
        let mut fleet = Fleet::<V>::dial(&ca, creds, &addrs)?;
        // Every replica should be reachable; a run may still start without some, as long as a majority is.
        let mut notes = Vec::new();
        let deadline = Instant::now() + START_WAIT;
        while !fleet.missing(n).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let down: Vec<u32> = (0..n as u32)
            .filter(|&r| !fleet.nets.iter().all(|t| t.connected(Identity::Replica(r))))
            .collect();
        if !down.is_empty() {
            if n - down.len() <= n / 2 {
                wait_connected(|| fleet.missing(n)).await?;
            }
            notes.push(format!(
                "replica(s) {down:?} could not be reached when the run started; it ran with the others"
            ));
        }
        let Some(finder) = fleet.nets.first().map(|t| t.conn_finder()) else {
            return Err(ClusterError::Config(
                "a run needs at least one client".into(),
            ));
        };
        // Shares start together, so one may already see another's commands: the merge checks freshness.
        if self.next_client == 0 && self.share.is_none() {
            let before = ask_all(&finder, n, true).await;
            if let Some(s) = before.iter().flatten().find(|s| s.recovered_records > 0) {
                return Err(ClusterError::Config(format!(
                    "replica {} started from a write-ahead log left by an earlier session ({} records): its \
                     promises belong to another history, so remove the replicas' logs (the cluster file's `wal` \
                     paths) and start the processes afresh for a checked run",
                    s.id, s.recovered_records
                )));
            }
            // A fresh leader may have decided empty entries (Raft begins each term with one); those carry no
            // client's command and stay in the decided log the checker reads. Commands are another session's.
            let commands =
                |s: &&Snapshot| s.decisions.iter().any(|(_, v)| !v.commands().is_empty());
            if let Some(s) = before.iter().flatten().find(commands) {
                return Err(ClusterError::Config(format!(
                    "replica {} has already decided {} slots with commands in them: the checker needs the \
                     whole history, so start the replica processes afresh for a checked run",
                    s.id,
                    s.decisions.len()
                )));
            }
        }

        let exp = &self.cluster.experiment;
        let regions = Arc::new(Regions::for_topology(&exp.topology));
        let delayer = DelayerThread::start().map_err(ClusterError::Runtime)?;
        let epoch = Instant::now();
        let schedule = Schedule {
            stop_issuing_ns: spec.stop_issuing.as_nanos() as u64,
            end_ns: (spec.stop_issuing + drain).as_nanos() as u64,
            clients: spec.clients,
            inject: !self.kernel_path,
        };
        // The replicas' counters at the window's edges, taken while the load runs.
        let (from, to) = (spec.measure_from, spec.stop_issuing);
        let counters = tokio::spawn({
            let finder = finder.clone();
            async move {
                tokio::time::sleep_until((epoch + from).into()).await;
                let start = ask_all(&finder, n, false).await;
                tokio::time::sleep_until((epoch + to).into()).await;
                let end = ask_all(&finder, n, false).await;
                (start, end)
            }
        });
        let fleet_end = fleet
            .drive(spec, &regions, &delayer.handle(), epoch, schedule)
            .await?;
        let (start, end) = counters
            .await
            .map_err(|e| ClusterError::Task(e.to_string()))?;
        // A replica that was restarted or cut off may still be catching up: every live replica is judged on
        // the whole run, so give them a bounded time to reach the same slot first.
        let learners: Vec<usize> = (0..n)
            .filter(|r| !spec.quorums.never_learns(NodeId(*r as u32)))
            .collect();
        if let Some(waited) = converge(&finder, n, &learners, CONVERGE_WAIT).await {
            notes.push(format!(
                "the live replicas had not all applied the same slots {:.1} s after the load stopped",
                waited.as_secs_f64()
            ));
        }
        let finals = ask_all(&finder, n, true).await;
        if let Some(s) = finals.iter().flatten().find(|s| s.log_error.is_some()) {
            return Err(ClusterError::Config(format!(
                "replica {} could not hand over its decided slots: {}",
                s.id,
                s.log_error.as_deref().unwrap_or_default()
            )));
        }

        let mut metrics = fleet_end.metrics;
        let client_messages = kinds(&metrics);
        let mut replicas = Vec::with_capacity(n);
        for r in 0..n {
            let (s, e) = (&start[r], &end[r]);
            match (s, e) {
                (Some(s), Some(e)) => {
                    add_sent(&mut metrics, s, e);
                    replicas.push(ReplicaReport {
                        id: r,
                        handler_ms: (e.handler_ms - s.handler_ms).max(0.0),
                        messages_handled: e.messages_handled.saturating_sub(s.messages_handled),
                        alive_at_end: finals[r].is_some(),
                        process_cpu_ms: e
                            .process_cpu_ms
                            .zip(s.process_cpu_ms)
                            .map(|(e, s)| (e - s).max(0.0)),
                    });
                }
                _ => {
                    notes.push(format!(
                        "replica {r} did not answer at the {} of the measurement window: its messages are not \
                         counted",
                        if s.is_none() { "start" } else { "end" }
                    ));
                    replicas.push(ReplicaReport {
                        id: r,
                        handler_ms: 0.0,
                        messages_handled: 0,
                        alive_at_end: finals[r].is_some(),
                        process_cpu_ms: None,
                    });
                }
            }
        }
        let alive = finals.iter().flatten().count();
        for (r, f) in finals.iter().enumerate() {
            if f.is_none() {
                notes.push(format!(
                    "replica {r} was unreachable at the end of the run (it died or was killed mid-run); the run \
                     went on with {alive} of {n} replicas and the check used those"
                ));
            }
        }
        let leaders: Vec<u32> = finals
            .iter()
            .flatten()
            .filter(|s| s.status.is_leader)
            .map(|s| s.id)
            .collect();
        notes.push(match leaders.as_slice() {
            [] => "no live replica considered itself leader at the end".to_string(),
            l => format!(
                "leader at the end: replica {}",
                l.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });

        // The history: earlier runs' commands, then this run's, indexed by client id.
        let base = self.next_client as usize;
        let mut ops = std::mem::take(&mut self.ops);
        ops.resize(base + spec.clients, Vec::new());
        // This run's times count from its own epoch; the session's history counts from the session's.
        let shift = epoch.saturating_duration_since(self.epoch).as_nanos() as u64;
        for (i, e) in fleet_end.ends.into_iter().enumerate() {
            ops[ids.start as usize + i] = e
                .records
                .into_iter()
                .map(|mut r| {
                    r.invoked_ns += shift;
                    if let Some((t, _)) = r.completed.as_mut() {
                        *t += shift;
                    }
                    r
                })
                .collect();
        }
        let mut history = History::reading(0, spec.reads.path);
        // Replica processes do not report what they ran: for a variant without a total order, agreement,
        // validity and the black-box checker are what applies here.
        history.unordered = !V::TOTAL_ORDER;
        history.ops = ops.clone();
        self.ops = ops;
        self.next_client += spec.clients as u32;
        let mut statuses = Vec::new();
        for s in finals.iter().flatten() {
            for (slot, value) in &s.decisions {
                history.decision(NodeId(s.id), *slot, value);
            }
            statuses.push((NodeId(s.id), s.status.clone()));
        }
        let mut net = NetTotals {
            wan_dropped: fleet_end.wan_dropped,
            wan_duplicated: fleet_end.wan_duplicated,
            ..NetTotals::default()
        };
        fleet.shutdown(&mut net).await;
        drop(delayer);
        let share = self.share.map(|shard| {
            let all = kinds(&metrics);
            // The replicas' share of the counts: all minus what this share's clients sent.
            let replica_messages = all
                .iter()
                .filter_map(|(k, c)| {
                    let mine = client_messages
                        .iter()
                        .find(|(m, _)| m == k)
                        .map_or(crate::metrics::MsgCount::default(), |(_, c)| *c);
                    let rest = crate::metrics::MsgCount {
                        count: c.count.saturating_sub(mine.count),
                        bytes: c.bytes.saturating_sub(mine.bytes),
                    };
                    (rest.count > 0).then(|| (k.clone(), rest))
                })
                .collect();
            super::ShareClock {
                shard,
                clients: ids.clone(),
                clock_unix_ns: self.clock_unix_ns,
                run_start_ns: shift,
                client_messages: client_messages.clone(),
                replica_messages,
            }
        });
        Ok(QuicOutcome {
            metrics,
            history,
            statuses,
            replicas,
            net,
            pending: fleet_end.pending,
            notes,
            // Replica processes keep their own logs; their counters are not collected yet.
            wal: None,
            share,
        })
    }
}

/// Messages by kind, as counted so far.
fn kinds(m: &Metrics) -> Vec<(String, crate::metrics::MsgCount)> {
    m.by_kind.iter().map(|(k, c)| (k.to_string(), *c)).collect()
}

/// Waits until every answering replica in `learners` has applied the same number of slots, or `limit` passes;
/// returns how long it waited when they still differ.
async fn converge(
    finder: &ConnFinder,
    n: usize,
    learners: &[usize],
    limit: Duration,
) -> Option<Duration> {
    let t0 = Instant::now();
    loop {
        let all = ask_all(finder, n, false).await;
        let applied: Vec<u64> = learners
            .iter()
            .filter_map(|r| all[*r].as_ref())
            .map(|s| s.status.applied_upto.0)
            .collect();
        if applied.iter().min() == applied.iter().max() {
            return None;
        }
        if t0.elapsed() >= limit {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every replica's snapshot, asked of all at once over their current connections; `None` for those that do
/// not answer in time.
async fn ask_all(finder: &ConnFinder, n: usize, log: bool) -> Vec<Option<Snapshot>> {
    let limit = if log { LOG_TIMEOUT } else { CONTROL_TIMEOUT };
    ask_each(finder, n, &ControlRequest::Snapshot { log }, limit).await
}

/// One control request sent to every replica at once; each answer by replica id, `None` for a replica that is
/// not connected or does not answer within `limit`.
async fn ask_each<T: serde::de::DeserializeOwned + Send + 'static>(
    finder: &ConnFinder,
    n: usize,
    req: &ControlRequest,
    limit: Duration,
) -> Vec<Option<T>> {
    let mut jobs = tokio::task::JoinSet::new();
    for r in 0..n {
        let conn = finder.connection(Identity::Replica(r as u32));
        let req = req.clone();
        jobs.spawn(async move {
            let answer = match conn {
                Some(c) => call::<T>(&c, &req, limit).await.ok(),
                None => None,
            };
            (r, answer)
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(done) = jobs.join_next().await {
        if let Ok((r, answer)) = done {
            out[r] = answer;
        }
    }
    out
}

/// Adds what a replica sent between two snapshots to the run's message counts.
fn add_sent(m: &mut Metrics, start: &Snapshot, end: &Snapshot) {
    let before: BTreeMap<&str, (u64, u64)> = start
        .sent_by_kind
        .iter()
        .map(|(k, c, b)| (k.as_str(), (*c, *b)))
        .collect();
    for (kind, count, bytes) in &end.sent_by_kind {
        let (c0, b0) = before.get(kind.as_str()).copied().unwrap_or((0, 0));
        // Message kinds are a variant's static names; leak-free lookup of the interned name.
        let name = crate::metrics::intern(kind);
        let e = m.by_kind.entry(name).or_default();
        e.count += count.saturating_sub(c0);
        e.bytes += bytes.saturating_sub(b0);
    }
}

/// The status of every replica of a cluster (`paxos-bench status`), asked with client `client`'s certificate;
/// `None` for a replica that does not answer.
pub fn cluster_status(
    cluster: &ClusterSpec,
    client: u32,
) -> Result<Vec<Option<Snapshot>>, ClusterError> {
    let n = cluster.replicas.len();
    control_runtime()?.block_on(async {
        let fleet = control_fleet(cluster, client).await?;
        let Some(finder) = fleet.nets.first().map(|t| t.conn_finder()) else {
            return Ok(vec![None; n]);
        };
        let out = ask_all(&finder, n, false).await;
        fleet.shutdown(&mut NetTotals::default()).await;
        Ok(out)
    })
}

fn control_runtime() -> Result<tokio::runtime::Runtime, ClusterError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)
}

/// Connections to every replica with client `client`'s certificate, for control requests only; waits (a
/// bounded time) until all are up.
async fn control_fleet(
    cluster: &ClusterSpec,
    client: u32,
) -> Result<Fleet<paxos_variants::multi::Multi>, ClusterError> {
    let s = Session::new(cluster.clone());
    let creds = s.client_credentials(client..client + 1)?;
    let addrs: Vec<_> = cluster.replicas.iter().map(|r| r.addr.clone()).collect();
    // Any message type will do: only control streams are used.
    let fleet =
        Fleet::<paxos_variants::multi::Multi>::dial(&read_cert(&cluster.ca)?, creds, &addrs)?;
    let deadline = Instant::now() + CONTROL_TIMEOUT;
    while !fleet.missing(addrs.len()).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(fleet)
}

/// Splits a cluster's replica processes into `groups` for `for_ms` (`paxos-bench partition`): each replica
/// sends protocol messages only within its group until the partition heals by itself. Returns, per replica,
/// whether it took the order (a replica that does not answer keeps talking to everyone).
pub fn partition_cluster(
    cluster: &ClusterSpec,
    client: u32,
    groups: &[Vec<u32>],
    for_ms: u64,
) -> Result<Vec<bool>, ClusterError> {
    let n = cluster.replicas.len();
    if let Some(r) = groups.iter().flatten().find(|r| **r as usize >= n) {
        return Err(ClusterError::Config(format!(
            "{}: there is no replica {r} (ids are 0..{n})",
            cluster.file.display()
        )));
    }
    control_runtime()?.block_on(async {
        let fleet = control_fleet(cluster, client).await?;
        let Some(finder) = fleet.nets.first().map(|t| t.conn_finder()) else {
            return Ok(vec![false; n]);
        };
        let req = ControlRequest::Partition {
            groups: groups.to_vec(),
            for_ms,
        };
        // A replica answers with its id: the order reached the replica it was meant for.
        let out = ask_each::<u32>(&finder, n, &req, CONTROL_TIMEOUT)
            .await
            .into_iter()
            .enumerate()
            .map(|(r, id)| id == Some(r as u32))
            .collect();
        fleet.shutdown(&mut NetTotals::default()).await;
        Ok(out)
    })
}

/// Every replica's status and whole decided log, asked with client `client`'s certificate, after waiting (a
/// bounded time) for the live learners to apply the same slots; `None` for a replica that does not answer.
/// What `paxos-bench merge --cluster` checks the merged shares against.
pub fn final_logs(
    cluster: &ClusterSpec,
    client: u32,
) -> Result<Vec<Option<Snapshot>>, ClusterError> {
    let n = cluster.replicas.len();
    let quorums = cluster.experiment.variants[cluster.variant].quorums.clone();
    control_runtime()?.block_on(async {
        let fleet = control_fleet(cluster, client).await?;
        let Some(finder) = fleet.nets.first().map(|t| t.conn_finder()) else {
            return Ok(vec![None; n]);
        };
        let learners: Vec<usize> = (0..n)
            .filter(|r| !quorums.never_learns(NodeId(*r as u32)))
            .collect();
        let _ = converge(&finder, n, &learners, CONVERGE_WAIT).await;
        let out = ask_all(&finder, n, true).await;
        fleet.shutdown(&mut NetTotals::default()).await;
        Ok(out)
    })
}
