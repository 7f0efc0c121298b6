//! One replica as a tokio task: the driver loop of the simulator (take one input, call the handler with `now`,
//! persist its records, carry out its effects in order) with wall-clock time and the QUIC transport.
//!
//! With a write-ahead log the loop commits in groups: it handles every input already waiting (up to
//! [`GROUP_MAX`]), appends all their records, syncs once, and only then sends what they produced. Inputs that
//! arrive during a sync form the next group, so under load one `fdatasync` covers many commands.

use super::timers::Timers;
use crate::net::control::{process_cpu_ms, ControlCall, ControlRequest, Snapshot};
use crate::net::inject::WanSender;
use crate::net::transport::LinkFinder;
use crate::storage::decided::DecidedFile;
use crate::storage::wal::{Wal, WalError, WalStats};
use paxos_variants::step::{Outputs, Step};
use paxos_variants::{
    CommandId, Dest, DurableRecord, DurableState, Effects, Peer, Replica, ReplicaSetup,
    ReplicaStatus, Reply, Slot, Time, Value, Variant,
};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

type Msg<V> = <V as Variant>::Msg;
type RTimer<V> = <<V as Variant>::Replica as Replica>::Timer;
type Durable<V> = <<V as Variant>::Replica as Replica>::Durable;

/// Most inputs one group commit covers.
pub const GROUP_MAX: usize = 256;

/// How the replica starts: fresh, or from the durable state a crashed incarnation left.
pub enum Start<V: Variant> {
    New(ReplicaSetup),
    Recover(ReplicaSetup, Durable<V>),
}

/// What a replica task hands back when it stops.
pub struct ReplicaEnd<V: Variant> {
    pub status: ReplicaStatus,
    pub durable: Durable<V>,
    pub decisions: Vec<(Slot, Value)>,
    /// The commands it ran, with their keys, in order (variants without a total order only).
    pub executed: Vec<(u64, CommandId)>,
    pub sender: WanSender,
    /// Wall time spent inside the protocol's handlers (not in QUIC or TLS), in nanoseconds.
    pub handler_ns: u64,
    pub messages_handled: u64,
    /// The log's counters, when the replica had one.
    pub wal: Option<WalStats>,
    /// Why the replica stopped on its own (its log could not be written): it must not answer from state it
    /// could not persist, so it stops instead.
    pub failed: Option<String>,
}

pub struct ReplicaTask<V: Variant> {
    pub id: u32,
    pub start: Start<V>,
    /// Control requests (a replica process's snapshot requests); `None` in-process.
    pub control: Option<mpsc::Receiver<ControlCall>>,
    pub inbox: mpsc::Receiver<(Peer, Msg<V>)>,
    pub sender: WanSender,
    pub links: LinkFinder,
    pub stop: watch::Receiver<bool>,
    /// The replica's write-ahead log; `None`: memory storage.
    pub wal: Option<Wal>,
    /// Records read back from that log at start, for the status a process reports.
    pub recovered_records: u64,
    /// Where a replica process keeps its decisions for the checker (`None`: in memory, handed back at the end).
    pub decided: Option<DecidedFile>,
    /// Busy work after each handled message (`[inject] work_us_per_msg`; zero unless a config asks).
    pub injected_work: Duration,
}

/// Spends `d` of this thread's CPU on arithmetic: a slowdown the regression gate's error rates are measured
/// against, which costs what real handler work would (a sleep would free the core and hide it).
fn burn(d: Duration) {
    let until = Instant::now() + d;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while Instant::now() < until {
        for _ in 0..64 {
            x = std::hint::black_box(x.rotate_left(5) ^ x.wrapping_mul(0x100_0000_01b3));
        }
    }
    std::hint::black_box(x);
}

struct Driver<V: Variant> {
    out: Effects<Msg<V>, RTimer<V>>,
    records: Vec<DurableRecord<V::Replica>>,
    io: Io<V>,
}

/// Where a step's outputs go: the log, the decided file or memory, the network, the timers.
struct Io<V: Variant> {
    wal: Option<Wal>,
    timers: Timers<RTimer<V>>,
    decisions: Vec<(Slot, Value)>,
    executed: Vec<(u64, CommandId)>,
    decided: Option<DecidedFile>,
    sender: WanSender,
    links: LinkFinder,
}

impl<V: Variant> Driver<V> {
    /// Carries out what the inputs handled since the last call produced: their records are made durable
    /// (appended and synced; memory storage drops them, the harness keeps the state itself) before anything
    /// is sent ([`Step::carry_out`]). An error means the replica must stop.
    fn flush(&mut self, replica: &mut V::Replica, now_ns: u64) -> Result<(), String> {
        let step = Step::of_replica(replica, &mut self.out, &mut self.records);
        step.carry_out(&mut IoNow {
            io: &mut self.io,
            durable: replica.durable(),
            now_ns,
        })
    }

    /// Every decision this replica recorded, for the checker.
    fn decided_log(&self) -> Result<Vec<(Slot, Value)>, String> {
        match &self.io.decided {
            Some(file) => file.read_all().map_err(|e| e.to_string()),
            None => Ok(self.io.decisions.clone()),
        }
    }
}

/// [`Io`] at one moment, with the replica's durable state for a log rewrite.
struct IoNow<'a, V: Variant> {
    io: &'a mut Io<V>,
    durable: &'a Durable<V>,
    now_ns: u64,
}

impl<V: Variant> Outputs<Msg<V>, RTimer<V>, DurableRecord<V::Replica>> for IoNow<'_, V> {
    type Error = String;

    fn persist(&mut self, records: &mut Vec<DurableRecord<V::Replica>>) -> Result<(), String> {
        let Some(wal) = self.io.wal.as_mut() else {
            records.clear();
            return Ok(());
        };
        wal.append(records).map_err(|e| e.to_string())?;
        records.clear();
        // Grown well past its last rewrite: the log's history goes, a checkpoint of the state replaces it (at
        // this point everything in memory is in the log), so the file stays about the size of the state.
        let durable = self.durable;
        let checkpoint = |wal: &mut Wal| -> Result<(), WalError> {
            wal.sync()?;
            if wal.wants_rewrite() {
                wal.rewrite(&durable.checkpoint())?;
            }
            Ok(())
        };
        // The sync blocks this thread; let the runtime move other tasks off it meanwhile.
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| checkpoint(wal))
            }
            _ => checkpoint(wal),
        }
        .map_err(|e| e.to_string())
    }

    fn decided(&mut self, decisions: &mut Vec<(Slot, Value)>) -> Result<(), String> {
        match self.io.decided.as_mut() {
            Some(file) => {
                let r = file.append(decisions);
                decisions.clear();
                r.map_err(|e| e.to_string())
            }
            None => {
                self.io.decisions.append(decisions);
                Ok(())
            }
        }
    }

    fn executed(&mut self, ran: &mut Vec<(u64, CommandId)>) {
        self.io.executed.append(ran);
    }

    fn learned(&mut self, _: u64, _: Slot) {}
    fn completed(&mut self, _: u64, _: Reply) {}

    fn send(&mut self, to: Dest, msg: Msg<V>) {
        let links = &mut self.io.links;
        self.io.sender.send(to, &msg, |p| links.find(p));
    }

    fn arm(&mut self, after: Duration, timer: RTimer<V>) {
        self.io
            .timers
            .set(self.now_ns + after.as_nanos() as u64, timer);
    }
}

impl<V: Variant> ReplicaTask<V> {
    pub async fn run(self) -> ReplicaEnd<V> {
        let ReplicaTask {
            id,
            start,
            mut control,
            mut inbox,
            sender,
            links,
            mut stop,
            wal,
            recovered_records,
            decided,
            injected_work,
        } = self;
        let epoch = sender.epoch;
        let now_ns = || epoch.elapsed().as_nanos() as u64;
        let grouped = wal.is_some();
        let mut d = Driver::<V> {
            out: Effects::new(),
            records: Vec::new(),
            io: Io {
                wal,
                timers: Timers::default(),
                decisions: Vec::new(),
                executed: Vec::new(),
                decided,
                sender,
                links,
            },
        };
        let now = now_ns();
        let mut replica = match start {
            Start::New(setup) => V::Replica::new(setup, Time(now), &mut d.out),
            Start::Recover(setup, durable) => {
                V::Replica::recover(setup, durable, Time(now), &mut d.out)
            }
        };
        let mut failed = d.flush(&mut replica, now).err();
        let mut handler_ns = 0u64;
        let mut handled = 0u64;
        // When a partition a control request made ends (it heals on the next event after that).
        let mut heal_at: Option<Instant> = None;
        while failed.is_none() {
            if heal_at.is_some_and(|at| Instant::now() >= at) {
                heal_at = None;
                if let Some(p) = &d.io.sender.partitions {
                    if let Ok(mut p) = p.write() {
                        p.heal();
                    }
                }
            }
            let wake =
                d.io.timers
                    .next_at()
                    .map(|at| epoch + Duration::from_nanos(at))
                    .into_iter()
                    .chain(heal_at)
                    .min();
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                call = recv_control(&mut control) => {
                    let Some(call) = call else {
                        control = None;
                        continue;
                    };
                    let log = match call.req {
                        ControlRequest::Snapshot { log } => log,
                        ControlRequest::Partition { groups, for_ms } => {
                            let groups: Vec<Vec<usize>> = groups
                                .iter()
                                .map(|g| g.iter().map(|r| *r as usize).collect())
                                .collect();
                            if let Some(p) = &d.io.sender.partitions {
                                if let Ok(mut p) = p.write() {
                                    p.split(&groups);
                                }
                            }
                            heal_at = Instant::now().checked_add(Duration::from_millis(for_ms));
                            let _ = call.reply.send(postcard::to_allocvec(&id).unwrap_or_default());
                            continue;
                        }
                    };
                    let (decisions, log_error) = match log.then(|| d.decided_log()) {
                        Some(Ok(all)) => (all, None),
                        Some(Err(e)) => (Vec::new(), Some(e)),
                        None => (Vec::new(), None),
                    };
                    let snap = Snapshot {
                        id,
                        status: replica.status(),
                        decisions,
                        log_error,
                        sent_by_kind: d
                            .io
                            .sender
                            .metrics
                            .by_kind
                            .iter()
                            .map(|(k, c)| (k.to_string(), c.count, c.bytes))
                            .collect(),
                        uptime_ms: epoch.elapsed().as_millis() as u64,
                        handler_ms: handler_ns as f64 / 1e6,
                        process_cpu_ms: process_cpu_ms(),
                        messages_handled: handled,
                        recovered_records,
                    };
                    // Encoding our own plain data cannot fail; an empty answer reads as a broken snapshot.
                    let _ = call.reply.send(postcard::to_allocvec(&snap).unwrap_or_default());
                }
                m = inbox.recv() => {
                    let Some(mut next) = m else { break };
                    let mut now = 0;
                    for _ in 0..GROUP_MAX {
                        let (from, msg) = next;
                        let t0 = Instant::now();
                        now = t0.saturating_duration_since(epoch).as_nanos() as u64;
                        replica.on_message(Time(now), from, msg, &mut d.out);
                        if !injected_work.is_zero() {
                            burn(injected_work);
                        }
                        handler_ns += t0.elapsed().as_nanos() as u64;
                        handled += 1;
                        if !grouped {
                            break;
                        }
                        match inbox.try_recv() {
                            Ok(m) => next = m,
                            Err(_) => break,
                        }
                    }
                    // A busy inbox must not starve the timers (heartbeats, retransmission, elections).
                    while let Some(t) = d.io.timers.pop_due(now) {
                        replica.on_timer(Time(now), t, &mut d.out);
                    }
                    failed = d.flush(&mut replica, now).err();
                }
                _ = sleep_until(wake), if wake.is_some() => {
                    let now = now_ns();
                    while let Some(t) = d.io.timers.pop_due(now) {
                        replica.on_timer(Time(now), t, &mut d.out);
                    }
                    failed = d.flush(&mut replica, now).err();
                }
            }
        }
        ReplicaEnd {
            status: replica.status(),
            durable: replica.durable().clone(),
            decisions: d.io.decisions,
            executed: d.io.executed,
            sender: d.io.sender,
            handler_ns,
            messages_handled: handled,
            wal: d.io.wal.map(|w| w.stats),
            failed,
        }
    }
}

async fn recv_control(c: &mut Option<mpsc::Receiver<ControlCall>>) -> Option<ControlCall> {
    match c {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
