//! The deterministic simulator: a discrete-event loop in virtual time that drives any [`Variant`].
//!
//! One seed fixes everything: each replica's random choices, each client's workload, and the network's delays,
//! losses and duplicates come from separate [`DetRng`] streams derived from it (one for the whole network), and
//! events at the same instant run in the order they were scheduled. Nothing reads a wall clock.
//!
//! Model: the network is [`LinkModel`] (region matrix, jitter, loss, duplication, reordering) plus partitions.
//! Each replica's CPU is a single FIFO server that spends `cpu_per_msg` on every message it handles (timers
//! are free); what a handler sends leaves when that time is spent, so a busy leader queues work as a real one
//! would. Clients cost nothing. A crash drops the replica's volatile state, its queued input and its timers and
//! keeps what the replica has persisted (the records it handed over after each input, applied in order); a
//! restart rebuilds the replica from that.
//!
//! The driver loop (the same in the QUIC runtime): take one input, call the handler with `now`, then carry out
//! its effects in order: record decisions and completions, send, arm timers.

mod faults;
mod hunt;
mod queue;

pub use faults::{Partitions, SimFault};
pub use hunt::Hunt;

use crate::check::{History, Violation};
use crate::config::{LoadKind, LoadSpec, NetworkSpec, Topology};
use crate::load::{Seen, Workload};
use crate::metrics::{Metrics, OpKind};
use crate::wan::LinkModel;
use paxos_variants::step::{Outputs, Step};
use paxos_variants::{
    Client, ClientId, ClientSetup, Command, CommandId, Dest, DetRng, DurableRecord, DurableState,
    Effects, Message, Mutation, NodeId, Peer, QuorumSystem, ReadPath, Reads, Replica, ReplicaSetup,
    ReplicaStatus, Reply, Slot, Time, Tuning, Value, Variant,
};
use queue::EventQueue;
use std::collections::VecDeque;
use std::time::Duration;

/// Everything a simulated run needs, independent of the variant.
#[derive(Debug, Clone)]
pub struct SimSpec {
    pub topology: Topology,
    pub network: NetworkSpec,
    pub quorums: QuorumSystem,
    pub tuning: Tuning,
    pub client_retry: Duration,
    /// Client `c` of `k` waits `client_retry + spread * c / k` instead (the checker staggers its clients so
    /// that some leave an unresponsive replica long before others; runs from a config use 0).
    pub client_retry_spread: Duration,
    pub cpu_per_msg: Duration,
    /// Measured costs by message type (`paxos-bench calibrate`), in place of `cpu_per_msg` for those types.
    pub cpu_by_kind: std::collections::BTreeMap<String, Duration>,
    /// `[inject] work_us_per_msg`: extra work per handled message (a deliberate slowdown; zero by default).
    pub injected_work: Duration,
    pub mutation: Mutation,
    pub seed: u64,
    pub clients: usize,
    pub load: LoadSpec,
    /// Measurement window: operations invoked from `measure_from` and completed by `stop_issuing` count.
    pub measure_from: Duration,
    /// Clients issue no new commands from here on.
    pub stop_issuing: Duration,
    /// The run ends here at the latest.
    pub end: Duration,
    /// End as soon as no command is pending after `stop_issuing` (the checker's liveness phase).
    pub end_when_drained: bool,
    pub faults: Vec<(Duration, SimFault)>,
    /// How reads go. On the lease path every replica's clock drifts within the bound it gives.
    pub reads: Reads,
}

/// Most events that may wait in the queue at once (about 125 bytes each). A protocol whose messages multiply
/// (a retry loop amplified by duplication, say) grows the queue without bound in finite virtual time; past this
/// the run stops and reports a message storm instead of exhausting memory.
pub const MAX_QUEUED_EVENTS: usize = 5_000_000;

/// Counters of what the simulator did, for the checker's summary and the speed benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    pub events: u64,
    pub deliveries: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub partitions: u64,
    pub end_ns: u64,
    /// The run was stopped because the event queue passed [`MAX_QUEUED_EVENTS`].
    pub storm: bool,
}

enum Ev<M, RT, CT> {
    Deliver {
        from: Peer,
        to: Peer,
        msg: M,
    },
    ReplicaTimer {
        node: u32,
        incarnation: u32,
        timer: RT,
    },
    CpuFree {
        node: u32,
    },
    ClientTimer {
        client: u32,
        timer: CT,
    },
    Arrival {
        client: u32,
    },
    Fault(usize),
}

/// One input a replica handled, as the simulator delivered it.
#[derive(Debug, Clone)]
pub enum Input<M, RT> {
    Msg(Peer, M),
    Timer(RT),
}

/// A replica's inputs in order, with the virtual time each was handled at (see [`Sim::record_inputs`]).
pub type InputTrace<V> = Vec<(Time, Input<<V as Variant>::Msg, RTimer<V>>)>;

struct Node<R: Replica> {
    replica: Option<R>,
    saved: Option<R::Durable>,
    /// What this replica has made durable: its records applied in order, as a write-ahead log would hold them.
    /// A crash keeps exactly this.
    disk: R::Durable,
    incarnation: u32,
    busy_until: u64,
    inbox: VecDeque<Input<R::Msg, R::Timer>>,
    free_scheduled: bool,
    region: usize,
    /// CPU time spent on messages over the whole run.
    busy_total: u64,
    /// This node's clock (it survives restarts, as a machine's does).
    clock: Clock,
}

struct ClientSlot<C> {
    proto: C,
    rng: DetRng,
    region: usize,
    next_seq: u64,
    outstanding: usize,
    /// What this client last saw of each key, for its compare-and-set commands.
    seen: Seen,
}

type RTimer<V> = <<V as Variant>::Replica as Replica>::Timer;
type CTimer<V> = <<V as Variant>::Client as Client>::Timer;

pub struct Sim<V: Variant> {
    spec: SimSpec,
    now: u64,
    queue: EventQueue<Ev<V::Msg, RTimer<V>, CTimer<V>>>,
    nodes: Vec<Node<V::Replica>>,
    clients: Vec<ClientSlot<V::Client>>,
    links: LinkModel,
    net_rng: DetRng,
    partitions: Partitions,
    hunt: hunt::LeaderHunt,
    workload: Workload,
    out_r: Effects<V::Msg, RTimer<V>>,
    records: Vec<DurableRecord<V::Replica>>,
    out_c: Effects<V::Msg, CTimer<V>>,
    pub history: History,
    pub metrics: Metrics,
    pub stats: SimStats,
    /// The replica whose inputs are recorded, and what it handled (calibration replays it).
    record: Option<usize>,
    pub recorded: InputTrace<V>,
}

/// A node's clock: true (virtual) time scaled by a rate within the run's drift bound. Only the lease path
/// reads a clock for safety, so only its runs get drifting ones; every other run's clocks are exact.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// Parts per million fast (positive) or slow (negative).
    ppm: i64,
}

impl Clock {
    /// Node `i`'s clock for this run: at either end of the bound or anywhere between, from the seed.
    fn drawn(spec: &SimSpec, i: usize) -> Clock {
        let bound = spec.reads.drift_ppm as i64;
        if spec.reads.path != ReadPath::Lease || bound == 0 {
            return Clock { ppm: 0 };
        }
        let mut rng = DetRng::derive(spec.seed, 0xC10C + i as u64);
        let ppm = match rng.below(3) {
            0 => -bound,
            1 => bound,
            _ => rng.below(2 * bound as u64 + 1) as i64 - bound,
        };
        Clock { ppm }
    }

    /// What the clock reads at virtual time `t` (ns).
    fn at(&self, t: u64) -> Time {
        if self.ppm == 0 {
            return Time(t);
        }
        let t = t as i128;
        Time((t + t * self.ppm as i128 / 1_000_000) as u64)
    }

    /// The virtual time (ns) in which this clock advances by `d`, rounded up.
    fn true_time(&self, d: Duration) -> u64 {
        if self.ppm == 0 {
            return ns(d);
        }
        let num = d.as_nanos() * 1_000_000;
        let den = (1_000_000 + self.ppm) as u128;
        num.div_ceil(den) as u64
    }
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

impl<V: Variant> Sim<V> {
    pub fn new(spec: SimSpec) -> Self {
        let n = spec.topology.n();
        let links = LinkModel::new(&spec.network);
        let nodes = (0..n)
            .map(|i| Node {
                replica: None,
                saved: None,
                disk: Default::default(),
                incarnation: 0,
                busy_until: 0,
                inbox: VecDeque::new(),
                free_scheduled: false,
                region: spec.topology.replica_region[i],
                busy_total: 0,
                clock: Clock::drawn(&spec, i),
            })
            .collect();
        let clients = (0..spec.clients)
            .map(|c| {
                let region = spec.topology.client_region(c);
                let setup = ClientSetup {
                    id: ClientId(c as u32),
                    quorums: spec.quorums.clone(),
                    initial_leader: NodeId(spec.topology.leader as u32),
                    by_distance: replicas_by_distance(&links, &spec.topology, region),
                    retry: spec.client_retry
                        + spec
                            .client_retry_spread
                            .mul_f64(c as f64 / spec.clients.max(1) as f64),
                    reads: spec.reads.path,
                };
                ClientSlot {
                    proto: V::Client::new(setup),
                    rng: DetRng::derive(spec.seed, 1_000_000 + c as u64),
                    region,
                    next_seq: 0,
                    outstanding: 0,
                    seen: Seen::default(),
                }
            })
            .collect();
        let metrics = Metrics::new(ns(spec.measure_from), ns(spec.stop_issuing));
        Sim {
            now: 0,
            queue: EventQueue::new(),
            nodes,
            clients,
            net_rng: DetRng::derive(spec.seed, 1),
            partitions: Partitions::new(n),
            hunt: hunt::LeaderHunt::default(),
            workload: Workload::new(spec.load.clone()),
            out_r: Effects::new(),
            records: Vec::new(),
            out_c: Effects::new(),
            history: History {
                unordered: !V::TOTAL_ORDER,
                executions_tracked: true,
                ..History::reading(spec.clients, spec.reads.path)
            },
            metrics,
            stats: SimStats::default(),
            record: None,
            recorded: Vec::new(),
            links,
            spec,
        }
    }

    /// Records every input replica `node` handles from now on (into [`Sim::recorded`]); with no faults the
    /// trace replays into a fresh replica built from [`Sim::replica_setup`] exactly as it ran here.
    pub fn record_inputs(&mut self, node: usize) {
        self.record = Some(node);
    }

    pub fn replica_setup(&self, node: usize) -> ReplicaSetup {
        let incarnation = self.nodes[node].incarnation as u64;
        ReplicaSetup {
            id: NodeId(node as u32),
            quorums: self.spec.quorums.clone(),
            initial_leader: NodeId(self.spec.topology.leader as u32),
            tuning: self.spec.tuning.clone(),
            mutation: self.spec.mutation,
            seed: DetRng::derive(self.spec.seed, 1000 + node as u64 * 64 + incarnation).next_u64(),
            reads: self.spec.reads,
        }
    }

    /// Runs to the end and returns the final status of every live replica.
    pub fn run(&mut self) -> Vec<(NodeId, ReplicaStatus)> {
        for node in 0..self.nodes.len() {
            let setup = self.replica_setup(node);
            let replica = V::Replica::new(setup, self.nodes[node].clock.at(0), &mut self.out_r);
            self.nodes[node].replica = Some(replica);
            self.flush_replica(node);
        }
        for (i, (at, _)) in self.spec.faults.iter().enumerate() {
            self.queue.push(ns(*at), Ev::Fault(i));
        }
        match self.spec.load.kind {
            LoadKind::Closed { window } => {
                for c in 0..self.clients.len() {
                    for _ in 0..window {
                        self.issue(c, 0);
                    }
                }
            }
            LoadKind::Open { rate_per_s } => {
                let mean_gap = self.clients.len() as f64 / rate_per_s * 1e9;
                for c in 0..self.clients.len() {
                    let gap = self.clients[c].rng.exponential(mean_gap) as u64;
                    self.queue.push(gap, Ev::Arrival { client: c as u32 });
                }
            }
        }
        let end = ns(self.spec.end);
        let stop = ns(self.spec.stop_issuing);
        while let Some((t, ev)) = self.queue.pop() {
            if t > end {
                break;
            }
            self.now = t;
            self.stats.events += 1;
            self.handle(ev);
            if self.queue.len() > MAX_QUEUED_EVENTS {
                self.stats.storm = true;
                break;
            }
            if self.spec.end_when_drained && t >= stop && self.outstanding() == 0 {
                break;
            }
        }
        self.stats.end_ns = self.now;
        self.statuses()
    }

    fn outstanding(&self) -> usize {
        self.clients.iter().map(|c| c.outstanding).sum()
    }

    pub fn statuses(&self) -> Vec<(NodeId, ReplicaStatus)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.replica.as_ref().map(|r| (NodeId(i as u32), r.status())))
            .collect()
    }

    /// Each replica's CPU time spent on messages, in nanoseconds.
    pub fn busy_ns(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.busy_total).collect()
    }

    pub fn now_ns(&self) -> u64 {
        self.now
    }

    fn handle(&mut self, ev: Ev<V::Msg, RTimer<V>, CTimer<V>>) {
        match ev {
            Ev::Deliver { from, to, msg } => {
                self.stats.deliveries += 1;
                match to {
                    Peer::Replica(r) => self.replica_input(r.0 as usize, Input::Msg(from, msg)),
                    Peer::Client(c) => {
                        let Peer::Replica(from) = from else { return };
                        let slot = &mut self.clients[c.0 as usize];
                        slot.proto
                            .on_message(Time(self.now), from, msg, &mut self.out_c);
                        self.flush_client(c.0 as usize);
                    }
                }
            }
            Ev::ReplicaTimer {
                node,
                incarnation,
                timer,
            } => {
                let n = node as usize;
                if self.nodes[n].incarnation == incarnation {
                    self.replica_input(n, Input::Timer(timer));
                }
            }
            Ev::CpuFree { node } => {
                let n = node as usize;
                self.nodes[n].free_scheduled = false;
                if let Some(input) = self.nodes[n].inbox.pop_front() {
                    self.process(n, input);
                }
            }
            Ev::ClientTimer { client, timer } => {
                let c = client as usize;
                self.clients[c]
                    .proto
                    .on_timer(Time(self.now), timer, &mut self.out_c);
                self.flush_client(c);
            }
            Ev::Arrival { client } => {
                let c = client as usize;
                if self.now < ns(self.spec.stop_issuing) {
                    self.issue(c, self.now);
                    if let LoadKind::Open { rate_per_s } = self.spec.load.kind {
                        let mean_gap = self.clients.len() as f64 / rate_per_s * 1e9;
                        let gap = self.clients[c].rng.exponential(mean_gap) as u64;
                        self.queue
                            .push(self.now + gap.max(1), Ev::Arrival { client });
                    }
                }
            }
            Ev::Fault(i) => {
                let fault = self.spec.faults[i].1.clone();
                self.apply_fault(fault);
            }
        }
    }

    /// A client starts a new command, intended at `intended` (open loop: the arrival time).
    fn issue(&mut self, c: usize, intended: u64) {
        let slot = &mut self.clients[c];
        let seq = slot.next_seq;
        slot.next_seq += 1;
        slot.outstanding += 1;
        let client = ClientId(c as u32);
        let op = self
            .workload
            .next_op(&mut slot.rng, client, seq, &slot.seen);
        self.history.invoke(client, seq, op.clone(), intended);
        let cmd = Command {
            client,
            seq,
            ack: 0,
            op,
        };
        slot.proto.submit(Time(self.now), cmd, &mut self.out_c);
        self.flush_client(c);
    }

    fn replica_input(&mut self, n: usize, input: Input<V::Msg, RTimer<V>>) {
        let node = &mut self.nodes[n];
        if node.replica.is_none() {
            self.stats.dropped += matches!(input, Input::Msg(..)) as u64;
            return;
        }
        if node.busy_until > self.now || !node.inbox.is_empty() {
            node.inbox.push_back(input);
            if !node.free_scheduled {
                node.free_scheduled = true;
                let at = node.busy_until.max(self.now);
                self.queue.push(at, Ev::CpuFree { node: n as u32 });
            }
            return;
        }
        self.process(n, input);
    }

    /// Handles one input on an idle CPU: the handler sees the time its work is done.
    fn process(&mut self, n: usize, input: Input<V::Msg, RTimer<V>>) {
        let cost = match &input {
            Input::Msg(..) if self.spec.cpu_by_kind.is_empty() => ns(self.spec.cpu_per_msg),
            Input::Msg(_, m) => self
                .spec
                .cpu_by_kind
                .get(m.kind())
                .map_or(ns(self.spec.cpu_per_msg), |d| ns(*d)),
            Input::Timer(_) => 0,
        } + match &input {
            Input::Msg(..) => ns(self.spec.injected_work),
            Input::Timer(_) => 0,
        };
        let done = self.now.max(self.nodes[n].busy_until) + cost;
        if self.record == Some(n) && self.nodes[n].replica.is_some() {
            self.recorded.push((Time(done), input.clone()));
        }
        let node = &mut self.nodes[n];
        node.busy_until = done;
        node.busy_total += cost;
        let Some(replica) = node.replica.as_mut() else {
            return;
        };
        let local = node.clock.at(done);
        match input {
            Input::Msg(from, msg) => replica.on_message(local, from, msg, &mut self.out_r),
            Input::Timer(t) => replica.on_timer(local, t, &mut self.out_r),
        }
        // The hunt cuts its prey off before the step's messages leave (its replies to clients still do).
        if !self.hunt.idle() && self.now < ns(self.spec.stop_issuing) {
            let status = replica.status();
            if self.hunt.fires(n, &status) {
                self.isolate(n);
            }
        }
        let saved_now = self.now;
        self.now = done;
        self.flush_replica(n);
        self.now = saved_now;
        let node = &mut self.nodes[n];
        if !node.inbox.is_empty() && !node.free_scheduled {
            node.free_scheduled = true;
            self.queue.push(done, Ev::CpuFree { node: n as u32 });
        }
    }

    /// Cuts replica `n` off from every other replica, replacing earlier partitions.
    fn isolate(&mut self, n: usize) {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|&j| j != n).collect();
        self.partitions.split(&[others]);
        self.stats.partitions += 1;
    }

    /// Carries out what replica `n`'s last input produced (see [`Step::carry_out`] for the order).
    fn flush_replica(&mut self, n: usize) {
        let mut out = std::mem::take(&mut self.out_r);
        let mut records = std::mem::take(&mut self.records);
        if let Some(replica) = self.nodes[n].replica.as_mut() {
            let step = Step::of_replica(replica, &mut out, &mut records);
            match step.carry_out(&mut ReplicaOut { sim: self, n }) {
                Ok(()) => {}
                Err(never) => match never {},
            }
        }
        out.clear();
        self.out_r = out;
        self.records = records;
    }

    /// Carries out what client `c`'s last input produced; a closed-loop client issues again for each
    /// completion.
    fn flush_client(&mut self, c: usize) {
        let mut out = std::mem::take(&mut self.out_c);
        let mut sink = ClientOut {
            sim: self,
            c,
            finished: 0,
        };
        let step = Step::of_client(&sink.sim.clients[c].proto, &mut out);
        match step.carry_out(&mut sink) {
            Ok(()) => {}
            Err(never) => match never {},
        }
        let finished = sink.finished;
        self.out_c = out;
        self.clients[c].outstanding -= finished;
        if let LoadKind::Closed { .. } = self.spec.load.kind {
            if self.now < ns(self.spec.stop_issuing) {
                for _ in 0..finished {
                    self.issue(c, self.now);
                }
            }
        }
    }

    fn region_of(&self, p: Peer) -> usize {
        match p {
            Peer::Replica(r) => self.nodes[r.0 as usize].region,
            Peer::Client(c) => self.clients[c.0 as usize].region,
        }
    }

    /// `OtherReplicas` from a client means every replica.
    fn transmit_to(&mut self, from: Peer, dest: Dest, msg: V::Msg) {
        let bytes = crate::wire::frame_len(&msg);
        match dest {
            Dest::To(to) => self.transmit(from, to, msg, bytes),
            Dest::OtherReplicas => {
                let me = match from {
                    Peer::Replica(r) => Some(r.0 as usize),
                    Peer::Client(_) => None,
                };
                let last = (0..self.nodes.len()).rev().find(|&r| Some(r) != me);
                let Some(last) = last else { return };
                for r in (0..last).filter(|&r| Some(r) != me) {
                    self.transmit(from, Peer::Replica(NodeId(r as u32)), msg.clone(), bytes);
                }
                self.transmit(from, Peer::Replica(NodeId(last as u32)), msg, bytes);
            }
        }
    }

    fn transmit(&mut self, from: Peer, to: Peer, msg: V::Msg, bytes: u64) {
        self.metrics.record_send(self.now, msg.kind(), bytes, 1);
        if let (Peer::Replica(a), Peer::Replica(b)) = (from, to) {
            if self.partitions.blocked(a.0 as usize, b.0 as usize) {
                self.stats.dropped += 1;
                return;
            }
        }
        let (rf, rt) = (self.region_of(from), self.region_of(to));
        let transit = self.links.transit(&mut self.net_rng, rf, rt);
        match (transit.first, transit.duplicate) {
            (None, None) => self.stats.dropped += 1,
            (Some(d), None) | (None, Some(d)) => {
                self.queue.push(self.now + d, Ev::Deliver { from, to, msg });
            }
            (Some(d1), Some(d2)) => {
                self.stats.duplicated += 1;
                self.queue.push(
                    self.now + d1,
                    Ev::Deliver {
                        from,
                        to,
                        msg: msg.clone(),
                    },
                );
                self.queue
                    .push(self.now + d2, Ev::Deliver { from, to, msg });
            }
        }
    }

    fn apply_fault(&mut self, fault: SimFault) {
        match fault {
            SimFault::Crash(r) => {
                let node = &mut self.nodes[r];
                if let Some(replica) = node.replica.take() {
                    // Records are persisted after every input, so memory and disk must agree between inputs.
                    if replica.durable() != &node.disk {
                        self.history.violations.push(Violation::Unpersisted {
                            node: NodeId(r as u32),
                            at_ms: self.now / 1_000_000,
                        });
                    }
                    node.saved = Some(node.disk.clone());
                    node.inbox.clear();
                    self.hunt.crashed(r);
                    node.incarnation += 1;
                    self.stats.crashes += 1;
                }
            }
            SimFault::Restart(r) => {
                if self.nodes[r].replica.is_some() {
                    return;
                }
                let setup = self.replica_setup(r);
                let node = &mut self.nodes[r];
                // A new process: a pause of the crashed one does not carry over.
                node.busy_until = self.now;
                let replica = match node.saved.take() {
                    Some(d) => {
                        V::Replica::recover(setup, d, node.clock.at(self.now), &mut self.out_r)
                    }
                    None => V::Replica::new(setup, node.clock.at(self.now), &mut self.out_r),
                };
                self.nodes[r].replica = Some(replica);
                self.stats.restarts += 1;
                self.flush_replica(r);
            }
            SimFault::Partition(groups) => {
                self.partitions.split(&groups);
                self.stats.partitions += 1;
            }
            SimFault::Block { from, to } => {
                self.partitions.block(from, to);
                self.stats.partitions += 1;
            }
            SimFault::IsolateLeader => {
                let n = self.nodes.len();
                let reaches_another =
                    |p: &Partitions, i: usize| (0..n).any(|j| j != i && !p.blocked(i, j));
                let leader = (0..n).find(|&i| {
                    let leads = self.nodes[i]
                        .replica
                        .as_ref()
                        .is_some_and(|r| r.status().is_leader);
                    leads && reaches_another(&self.partitions, i)
                });
                if let Some(l) = leader {
                    self.isolate(l);
                }
            }
            SimFault::Hunt(h) => {
                let statuses = self
                    .nodes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, node)| node.replica.as_ref().map(|r| (i, r.status())));
                self.hunt.arm(h, statuses);
            }
            SimFault::Heal => self.partitions.heal(),
            SimFault::Pause { node, for_ns } => {
                let n = &mut self.nodes[node];
                if n.replica.is_some() {
                    n.busy_until = n.busy_until.max(self.now) + for_ns;
                }
            }
            SimFault::Calm => self.links.calm(),
            SimFault::Impair {
                loss,
                duplicate,
                reorder,
                reorder_max_ns,
            } => self
                .links
                .set_impairments(loss, duplicate, reorder, reorder_max_ns),
        }
    }
}

/// The simulator as a replica's outputs: records to the copy that survives a crash, decisions to the checker's
/// history, messages onto the simulated network, timers into the event queue.
struct ReplicaOut<'s, V: Variant> {
    sim: &'s mut Sim<V>,
    n: usize,
}

impl<V: Variant> Outputs<V::Msg, RTimer<V>, DurableRecord<V::Replica>> for ReplicaOut<'_, V> {
    type Error = std::convert::Infallible;
    fn persist(&mut self, records: &mut Vec<DurableRecord<V::Replica>>) -> Result<(), Self::Error> {
        let node = &mut self.sim.nodes[self.n];
        for r in records.drain(..) {
            node.disk.apply(r);
        }
        Ok(())
    }
    fn decided(&mut self, decisions: &mut Vec<(Slot, Value)>) -> Result<(), Self::Error> {
        for (slot, value) in decisions.drain(..) {
            self.sim
                .history
                .decision(NodeId(self.n as u32), slot, &value);
        }
        Ok(())
    }
    fn executed(&mut self, ran: &mut Vec<(u64, CommandId)>) {
        let incarnation = self.sim.nodes[self.n].incarnation;
        self.sim
            .history
            .executed(NodeId(self.n as u32), incarnation, ran);
        ran.clear();
    }
    fn learned(&mut self, _: u64, _: Slot) {}
    fn completed(&mut self, _: u64, _: Reply) {}
    fn send(&mut self, to: Dest, msg: V::Msg) {
        self.sim
            .transmit_to(Peer::Replica(NodeId(self.n as u32)), to, msg);
    }
    fn arm(&mut self, after: Duration, timer: RTimer<V>) {
        let node = &self.sim.nodes[self.n];
        let incarnation = node.incarnation;
        let after = node.clock.true_time(after);
        self.sim.queue.push(
            self.sim.now + after,
            Ev::ReplicaTimer {
                node: self.n as u32,
                incarnation,
                timer,
            },
        );
    }
}

/// The simulator as a client's outputs: what the client learned and completed goes to the history and the
/// metrics, messages onto the network, timers into the queue.
struct ClientOut<'s, V: Variant> {
    sim: &'s mut Sim<V>,
    c: usize,
    finished: usize,
}

impl<V: Variant> Outputs<V::Msg, CTimer<V>, ()> for ClientOut<'_, V> {
    type Error = std::convert::Infallible;
    fn persist(&mut self, records: &mut Vec<()>) -> Result<(), Self::Error> {
        records.clear();
        Ok(())
    }
    fn decided(&mut self, decisions: &mut Vec<(Slot, Value)>) -> Result<(), Self::Error> {
        decisions.clear();
        Ok(())
    }
    fn learned(&mut self, seq: u64, slot: Slot) {
        let now = self.sim.now;
        self.sim
            .history
            .learned(ClientId(self.c as u32), seq, slot, now);
    }
    fn completed(&mut self, seq: u64, reply: Reply) {
        let (id, now) = (ClientId(self.c as u32), self.sim.now);
        if let (Some(r), Some(slot)) = (
            self.sim.history.op(id, seq),
            self.sim.clients.get_mut(self.c),
        ) {
            slot.seen.observe(&r.op, &reply);
        }
        if let Some(invoked) = self.sim.history.complete(id, seq, reply, now) {
            if let Some(rec) = self.sim.history.op(id, seq) {
                let (kind, learned) = (OpKind::of(&rec.op), rec.learned.map(|(t, _)| t));
                self.sim.metrics.record_op(kind, invoked, now, learned);
            }
            self.finished += 1;
        }
    }
    fn send(&mut self, to: Dest, msg: V::Msg) {
        self.sim
            .transmit_to(Peer::Client(ClientId(self.c as u32)), to, msg);
    }
    fn arm(&mut self, after: Duration, timer: CTimer<V>) {
        self.sim.queue.push(
            self.sim.now + ns(after),
            Ev::ClientTimer {
                client: self.c as u32,
                timer,
            },
        );
    }
}

/// Replicas ordered by the one-way delay from a client's region (lowest id first on ties).
pub fn replicas_by_distance(links: &LinkModel, t: &Topology, client_region: usize) -> Vec<NodeId> {
    let mut order: Vec<usize> = (0..t.n()).collect();
    order.sort_by_key(|&r| (links.base_ns(client_region, t.replica_region[r]), r));
    order.into_iter().map(|r| NodeId(r as u32)).collect()
}

#[cfg(test)]
mod tests;
