//! EPaxos (Moraru, Andersen and Kaminsky, "There Is More Consensus in Egalitarian Parliaments", SOSP 2013), as
//! the leaderless reference beside the Paxos family, with the recovery rules that "EPaxos Revisited" (Tollman,
//! Park and Ousterhout, NSDI 2021) spelled out.
//!
//! Every replica leads the commands its clients send it, in its own row of instances. A command carries
//! ordering attributes (a sequence number and the interfering instances it depends on):
//!
//! - [`conflicts`]: what interferes (same key, or same client) and the attributes a replica gives a command;
//! - [`leader`]: PreAccept to every replica; the fast path commits when a fast quorum (all replicas but one,
//!   the leader included: `2F` of `2F + 1`, the "simple" EPaxos of the paper's technical report) returned the
//!   leader's attributes unchanged; otherwise the slow path merges a majority's and runs a Paxos Accept round;
//! - [`voter`]: the other side of those rounds, with one promise per instance and ballot;
//! - [`recovery`]: explicit prepare of an instance whose leader went quiet while somebody waits for it;
//! - [`execute`]: execution by dependency graph (strongly connected components in dependency order, by
//!   sequence number inside one).
//!
//! The checker's slots are instances (`idx * n + leader`); a replica reports an instance as decided when it
//! learns it committed. The order of execution is not a log: the checker compares, key by key, the orders in
//! which the replicas ran their commands, and checks the client history as a black box.
//!
//! Not here yet: garbage collection of executed instances (the instance table grows with the run) and the
//! optimised fast quorum of `F + floor((F + 1) / 2)` with its try-pre-accept recovery.

use crate::client::NearestClient;
use crate::command::{Command, CommandId, Value};
use crate::effects::Effects;
use crate::journal::Journaled;
use crate::kv::{KvStore, Outcome};
use crate::replica::{
    Counters, DurableRecord, Mutation, Replica, ReplicaSetup, ReplicaStatus, Variant,
};
use crate::rng::DetRng;
use crate::roles::front::{self, Door};
use crate::types::{Ballot, NodeId, Peer, Slot, Time};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

pub mod conflicts;
pub mod durable;
pub mod execute;
mod leader;
pub mod messages;
mod recovery;
mod voter;

use conflicts::Conflicts;
pub use durable::{EpaxosDurable, EpaxosRecord};
use execute::{Committed, Executor};
pub use messages::{Attrs, EpaxosMsg, EpaxosTimer, InstanceId, Status, Voted};

pub struct Epaxos;

impl Variant for Epaxos {
    const NAME: &'static str = "epaxos";
    const QUORUMS: crate::quorum::QuorumKind = crate::quorum::QuorumKind::MajorityOnly;
    const TOTAL_ORDER: bool = false;
    type Msg = EpaxosMsg;
    type Replica = EpaxosReplica;
    type Client = NearestClient<EpaxosMsg>;
}

/// A round this replica coordinates for an instance: its own command's, or a recovery's.
#[derive(Debug)]
struct Coord {
    ballot: Ballot,
    value: Value,
    /// The attributes proposed (PreAccept) or being accepted (Accept).
    attrs: Attrs,
    phase: Phase,
    /// When the current phase's messages last went out.
    sent_at: Time,
    /// A recovery's PreAccept never takes the fast path.
    recovery: bool,
}

#[derive(Debug)]
enum Phase {
    /// Replies in arrival order (one per replica); `merged` is the proposal merged with all of them.
    PreAccept {
        replies: Vec<(NodeId, Attrs)>,
        merged: Attrs,
    },
    Accept {
        acks: crate::quorum::NodeSet,
    },
    Prepare {
        replies: Vec<(NodeId, Option<Voted>)>,
    },
}

#[derive(Debug)]
pub struct EpaxosReplica {
    setup: ReplicaSetup,
    d: Journaled<EpaxosDurable>,
    kv: KvStore,
    conflicts: Conflicts,
    exec: Executor,
    coords: HashMap<InstanceId, Coord>,
    /// The next index of this replica's own row.
    next_idx: u64,
    /// Client commands waiting for room in the window.
    queue: VecDeque<Command>,
    /// Commands this replica took from its clients and has not run: it answers them when it runs them.
    taken: BTreeSet<CommandId>,
    /// Per instance, the highest ballot round seen refused (a recovery starts above it).
    rounds: HashMap<InstanceId, u64>,
    rng: DetRng,
    counters: Counters,
}

/// The committed attributes, as the executor reads them.
struct View<'a>(&'a EpaxosDurable);

impl Committed for View<'_> {
    fn committed(&self, id: InstanceId) -> Option<&Attrs> {
        match self.0.vote(id) {
            Some(v) if v.status == Status::Committed => Some(&v.attrs),
            _ => None,
        }
    }
}

impl EpaxosReplica {
    fn boot(setup: ReplicaSetup, d: EpaxosDurable) -> Self {
        let skip = setup.mutation == Mutation::EpaxosExecutesWithoutDependency;
        EpaxosReplica {
            exec: Executor::new(setup.n(), skip),
            rng: DetRng::derive(setup.seed, 0xE9A),
            d: Journaled::new(d),
            kv: KvStore::new(),
            conflicts: Conflicts::default(),
            coords: HashMap::new(),
            next_idx: 0,
            queue: VecDeque::new(),
            taken: BTreeSet::new(),
            rounds: HashMap::new(),
            counters: Counters::default(),
            setup,
        }
    }

    fn me(&self) -> NodeId {
        self.setup.id
    }

    fn n(&self) -> usize {
        self.setup.n()
    }

    /// Replies (besides the leader's own) the fast path needs: `N - 2`, for a fast quorum of all replicas but
    /// one (`2F` when `N = 2F + 1`). Recovery relies on it: a majority that misses the leader then still holds
    /// all but one of the fast quorum's answers, enough to recognise the attributes it committed.
    fn fast_replies(&self) -> usize {
        let fast_quorum = self.n() - 1;
        let fast_quorum = if self.setup.mutation == Mutation::EpaxosFastQuorumTooSmall {
            fast_quorum - 1
        } else {
            fast_quorum
        };
        fast_quorum.saturating_sub(1)
    }

    /// Replies (besides the coordinator's own) that make a majority.
    fn slow_replies(&self) -> usize {
        self.n() / 2
    }

    fn own_in_flight(&self) -> usize {
        self.coords.values().filter(|c| !c.recovery).count()
    }

    fn on_request(&mut self, now: Time, cmd: Command, out: &mut Effects<EpaxosMsg, EpaxosTimer>) {
        match front::admit(&self.kv, &mut self.taken, &cmd) {
            Door::Answered(reply) => front::reply(out, &cmd, reply),
            Door::Known => {}
            Door::Take => {
                self.queue.push_back(cmd);
                self.flush(now, out);
            }
        }
    }

    /// Starts instances for waiting commands while the window has room, up to `batch_max` per instance.
    fn flush(&mut self, now: Time, out: &mut Effects<EpaxosMsg, EpaxosTimer>) {
        let t = &self.setup.tuning;
        let (window, batch) = (t.max_inflight.max(1), t.batch_max.max(1));
        while !self.queue.is_empty() && self.own_in_flight() < window {
            let take = self.queue.len().min(batch);
            let cmds: Vec<Command> = self.queue.drain(..take).collect();
            self.propose(now, Value::batch(cmds), out);
        }
    }

    /// Marks `id` committed with `value` and `attrs` (the first time), reports the decision and runs what can
    /// run.
    fn commit(
        &mut self,
        now: Time,
        id: InstanceId,
        value: Value,
        attrs: Attrs,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        if let Some(mine) = self.d.vote(id) {
            if mine.status == Status::Committed {
                return;
            }
            // A command of this replica's own that lost its instance (recovered as a no-op) may be taken
            // again.
            if id.leader == self.setup.id {
                for c in mine.value.commands() {
                    if !value.contains(c.id()) {
                        self.taken.remove(&c.id());
                    }
                }
            }
        }
        let ballot = self.d.promised(id);
        self.record_vote(id, Status::Committed, ballot, value.clone(), attrs);
        self.coords.remove(&id);
        self.rounds.remove(&id);
        out.decide(id.slot(self.n()), value);
        self.exec.committed(id);
        self.execute(now, out);
        self.flush(now, out);
    }

    /// Commits `id` here and tells every other replica.
    fn commit_and_tell(
        &mut self,
        now: Time,
        id: InstanceId,
        value: Value,
        attrs: Attrs,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        out.broadcast(EpaxosMsg::Commit {
            id,
            value: value.clone(),
            attrs: attrs.clone(),
        });
        self.commit(now, id, value, attrs, out);
    }

    /// Makes a vote durable (it promises its ballot too) and notes its attributes in the conflict table.
    fn record_vote(
        &mut self,
        id: InstanceId,
        status: Status,
        ballot: Ballot,
        value: Value,
        attrs: Attrs,
    ) {
        self.conflicts.note(id, &value, attrs.seq);
        self.d.record(EpaxosRecord::Vote {
            id,
            vote: Voted {
                status,
                ballot,
                value,
                attrs,
            },
        });
    }

    /// Runs every committed instance whose dependencies allow it; answers the commands this replica took.
    fn execute(&mut self, now: Time, out: &mut Effects<EpaxosMsg, EpaxosTimer>) {
        let order = self.exec.ready(now, &View(&self.d));
        for id in order {
            let Some(v) = self.d.vote(id) else { continue };
            for cmd in v.value.commands() {
                let outcome = self.kv.apply(cmd);
                if matches!(outcome, Outcome::Executed(_)) {
                    out.executed(cmd.op.key(), cmd.id());
                }
                if self.taken.remove(&cmd.id()) {
                    if let Some(reply) = front::reply_for(&outcome) {
                        front::reply(out, cmd, reply);
                    }
                }
            }
        }
    }

    fn on_tick(&mut self, now: Time, out: &mut Effects<EpaxosMsg, EpaxosTimer>) {
        out.set_timer(self.setup.tuning.heartbeat, EpaxosTimer::Tick);
        self.retransmit(now, out);
        self.recover_stalled(now, out);
    }

    /// The slot floor the checker sees: every instance slot below it has run here.
    fn applied_upto(&self) -> Slot {
        let n = self.n() as u64;
        let floor = self
            .exec
            .floors()
            .iter()
            .enumerate()
            .map(|(row, &f)| f * n + row as u64)
            .min()
            .unwrap_or(0);
        Slot(floor)
    }

    fn random_delay(&mut self, base: Duration) -> Duration {
        base + Duration::from_nanos(self.rng.below(base.as_nanos().max(1) as u64))
    }
}

impl Replica for EpaxosReplica {
    type Msg = EpaxosMsg;
    type Timer = EpaxosTimer;
    type Durable = EpaxosDurable;

    fn new(setup: ReplicaSetup, _now: Time, out: &mut Effects<EpaxosMsg, EpaxosTimer>) -> Self {
        let r = Self::boot(setup, EpaxosDurable::default());
        out.set_timer(r.setup.tuning.heartbeat, EpaxosTimer::Tick);
        r
    }

    fn recover(
        setup: ReplicaSetup,
        durable: EpaxosDurable,
        now: Time,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) -> Self {
        let mut r = Self::boot(setup, durable.clone());
        let me = r.me();
        let n = r.n();
        for (&id, inst) in &durable.instances {
            if id.leader == me {
                r.next_idx = r.next_idx.max(id.idx + 1);
            }
            let Some(v) = &inst.vote else { continue };
            r.conflicts.note(id, &v.value, v.attrs.seq);
            if v.status == Status::Committed {
                out.decide(id.slot(n), v.value.clone());
                r.exec.committed(id);
            }
        }
        r.execute(now, out);
        out.set_timer(r.setup.tuning.heartbeat, EpaxosTimer::Tick);
        r
    }

    fn on_message(
        &mut self,
        now: Time,
        from: Peer,
        msg: EpaxosMsg,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let from = match from {
            Peer::Client(c) => {
                if let Some(cmd) = front::own_request(c, msg) {
                    self.on_request(now, cmd, out);
                }
                return;
            }
            Peer::Replica(r) => r,
        };
        match msg {
            EpaxosMsg::Request(_) | EpaxosMsg::ToClient(_) => {}
            EpaxosMsg::PreAccept {
                id,
                ballot,
                value,
                attrs,
            } => self.on_pre_accept(from, id, ballot, value, attrs, out),
            EpaxosMsg::PreAcceptOk { id, ballot, attrs } => {
                self.on_pre_accept_ok(now, from, id, ballot, attrs, out)
            }
            EpaxosMsg::Accept {
                id,
                ballot,
                value,
                attrs,
            } => self.on_accept(from, id, ballot, value, attrs, out),
            EpaxosMsg::AcceptOk { id, ballot } => self.on_accept_ok(now, from, id, ballot, out),
            EpaxosMsg::Nack { id, promised } => self.on_nack(now, id, promised, out),
            EpaxosMsg::Commit { id, value, attrs } => self.commit(now, id, value, attrs, out),
            EpaxosMsg::Prepare { id, ballot } => self.on_prepare(from, id, ballot, out),
            EpaxosMsg::PrepareOk { id, ballot, vote } => {
                self.on_prepare_ok(now, from, id, ballot, vote, out)
            }
        }
    }

    fn on_timer(
        &mut self,
        now: Time,
        timer: EpaxosTimer,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        match timer {
            EpaxosTimer::Tick => self.on_tick(now, out),
        }
    }

    fn durable(&self) -> &EpaxosDurable {
        &self.d
    }

    fn take_records(&mut self, into: &mut Vec<DurableRecord<Self>>) {
        self.d.take(into)
    }

    fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            applied_upto: self.applied_upto(),
            state_digest: self.kv.digest(),
            is_leader: false,
            counters: self.counters,
            held_entries: self.d.instances.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests;
