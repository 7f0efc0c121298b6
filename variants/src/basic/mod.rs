//! Basic Paxos: one full single-decree instance per log slot (Lamport, "Paxos Made Simple", 2001, section 2).
//!
//! Message pattern, per slot: the replica a client reached becomes that command's proposer. It picks the lowest
//! slot it believes free and runs `Prepare`/`Promise` (phase-1 quorum) then `Accept`/`Accepted` (phase-2 quorum)
//! with a fresh ballot; if a promise reports a value already accepted there, it must finish that value instead and
//! moves its own commands to another slot. A chosen value is announced with `Decide`. Every command therefore
//! pays two round trips: the cost of having no stable leader.
//!
//! Duelling: proposers that pre-empt each other (a `Nack` carries the higher ballot) back off for a random time
//! that doubles with each pre-emption, which bounds the livelock.
//!
//! Timers: one `Tick` every heartbeat interval asks a peer for decided slots this replica lacks (`CatchUp`) and,
//! when a slot has stayed undecided for a whole election timeout, proposes a no-op there (which finishes any value
//! an abandoned proposer left behind); a `Retry` per instance sends a phase's messages again, under the same
//! ballot, when they went unanswered for `retransmit`, and starts over with a higher ballot after a pre-emption
//! back-off.
//!
//! An acceptor that already knows a slot's decision answers a `Prepare` with `Decide`, so a late proposer learns
//! it in one round trip.
//!
//! Compaction: once `Tuning::compact_every` applied slots have piled up past `Tuning::log_keep`, a replica
//! persists its state machine and forgets the decided values and the per-slot acceptor state behind
//! `applied - log_keep`. It never promises or accepts in a slot it forgot: a `Prepare`, `Accept` or `CatchUp`
//! for one is answered with a snapshot, so every phase-1 quorum for such a slot is made of acceptors that still
//! hold what they accepted there, and the asker learns the slot is decided.

use crate::client::NearestClient;
use crate::command::{Command, CommandId, Value};
use crate::effects::Effects;
use crate::journal::Journaled;
use crate::quorum::NodeSet;
use crate::replica::{DurableRecord, Replica, ReplicaSetup, ReplicaStatus, ToClient, Variant};
use crate::rng::DetRng;
use crate::roles::front::{self, Door};
use crate::roles::learner::{CatchUp, Learner, Snapshot};
use crate::types::{Ballot, NodeId, Peer, Slot, Time};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod acceptor;
mod messages;
mod proposer;

pub use messages::{BasicDurable, BasicMsg, BasicRecord, BasicTimer, SlotAcceptor};

const CATCH_UP_CHUNK: usize = 256;

pub struct Basic;

impl Variant for Basic {
    const NAME: &'static str = "basic";
    const QUORUMS: crate::quorum::QuorumKind = crate::quorum::QuorumKind::AnyIntersecting;
    type Msg = BasicMsg;
    type Replica = BasicReplica;
    type Client = NearestClient<BasicMsg>;
}

#[derive(Debug)]
enum Phase {
    Preparing {
        promises: NodeSet,
        best: Option<(Ballot, Value)>,
    },
    Accepting {
        acks: NodeSet,
        value: Value,
    },
    BackingOff,
}

#[derive(Debug)]
struct Proposal {
    ballot: Ballot,
    /// Bumped on every restart or back-off, so a stale `Retry` timer is recognised.
    attempt: u32,
    preempted: u32,
    phase: Phase,
    /// This replica's client commands that it wants in this slot.
    own: Vec<Command>,
}

#[derive(Debug)]
pub struct BasicReplica {
    setup: ReplicaSetup,
    rng: DetRng,
    d: Journaled<BasicDurable>,
    learner: Learner,
    proposals: BTreeMap<Slot, Proposal>,
    queue: VecDeque<Command>,
    /// Commands this replica took from a client and must answer once applied.
    mine: BTreeSet<CommandId>,
    /// One past the highest slot seen in any acceptor message or decision: beyond our decided prefix means we
    /// lag, and our own commands go at or after it.
    seen_end: Slot,
    /// The first undecided slot and since when it has been so.
    stuck_since: (Slot, Time),
}

impl BasicReplica {
    fn boot(setup: ReplicaSetup, d: BasicDurable, now: Time) -> Self {
        // After a restart the acceptor's durable slots show how far the log had got, and the state machine
        // starts from the last persisted snapshot.
        let seen_end = d
            .slots
            .keys()
            .next_back()
            .map_or(Slot(0), |s| s.next())
            .max(d.compacted);
        let mut learner = Learner::new();
        if let Some(snap) = &d.snapshot {
            learner.install(snap.clone());
        }
        BasicReplica {
            rng: DetRng::new(setup.seed),
            setup,
            d: Journaled::new(d),
            learner,
            proposals: BTreeMap::new(),
            queue: VecDeque::new(),
            mine: BTreeSet::new(),
            seen_end,
            stuck_since: (Slot(0), now),
        }
    }

    fn me(&self) -> NodeId {
        self.setup.id
    }

    /// Notes a round seen in a peer's message (no record when it is not new).
    fn see_round(&mut self, round: u64) {
        if round > self.d.max_round {
            self.d.record(BasicRecord::MaxRound(round));
        }
    }

    fn see_slot(&mut self, slot: Slot) {
        self.seen_end = self.seen_end.max(slot.next());
    }

    /// The state machine as of everything applied here (the learner's base is never above it, so it covers
    /// every slot this acceptor forgot).
    fn snapshot_msg(&self) -> BasicMsg {
        BasicMsg::Snapshot {
            snap: Box::new(self.learner.snapshot()),
        }
    }

    /// A peer's state machine, for slots it forgot: taken if it is ahead, and persisted (as a compaction)
    /// before anything of it is acted on. Either way our instances below what is applied are over; their
    /// commands that did not run go back in the queue, and those that ran are answered from the state machine.
    fn on_snapshot(&mut self, now: Time, snap: Snapshot, out: &mut Effects<BasicMsg, BasicTimer>) {
        let upto = snap.upto;
        if self.learner.install(snap.clone()) {
            self.d.record(BasicRecord::Truncate {
                upto,
                snap: Box::new(snap),
            });
            self.see_slot(Slot(upto.0.saturating_sub(1)));
        }
        let rest = self.proposals.split_off(&self.learner.applied_upto());
        let done = std::mem::replace(&mut self.proposals, rest);
        for p in done.into_values() {
            for cmd in p.own.into_iter().rev() {
                if !self.learner.kv().has_run(cmd.id()) {
                    self.queue.push_front(cmd);
                }
            }
        }
        let kv = self.learner.kv();
        self.queue.retain(|c| !kv.has_run(c.id()));
        self.mine.retain(|id| {
            if kv.is_acknowledged(*id) {
                return false;
            }
            let Some(reply) = kv.cached_reply(*id) else {
                return true;
            };
            out.send(
                Peer::Client(id.client),
                BasicMsg::ToClient(ToClient::Reply {
                    seq: id.seq,
                    reply: reply.clone(),
                }),
            );
            false
        });
        self.apply(out);
        self.start_proposals(now, out);
    }

    /// Drops decided values and acceptor state well behind what is applied (see `Tuning::log_keep`).
    fn maybe_compact(&mut self) {
        let t = &self.setup.tuning;
        if let Some((upto, snap)) = self.learner.compact_if_due(t.log_keep, t.compact_every) {
            let snap = Box::new(snap);
            self.d.record(BasicRecord::Truncate { upto, snap });
        }
    }

    /// A slot is decided: finish our instance there and put back any of our commands it did not carry.
    fn learn(
        &mut self,
        now: Time,
        slot: Slot,
        value: Value,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) {
        self.see_slot(slot);
        self.learner.learn(slot, value, out);
        if let Some(p) = self.proposals.remove(&slot) {
            let decided = self.learner.get(slot).cloned().unwrap_or(Value::Noop);
            for cmd in p.own.into_iter().rev() {
                if !decided.contains(cmd.id()) && !self.learner.kv().has_run(cmd.id()) {
                    self.queue.push_front(cmd);
                }
            }
        }
        self.apply(out);
        self.start_proposals(now, out);
    }

    /// Applies what is decided (answering this replica's clients), then compacts.
    fn apply(&mut self, out: &mut Effects<BasicMsg, BasicTimer>) {
        self.apply_decided(out);
        self.maybe_compact();
    }

    fn apply_decided(&mut self, out: &mut Effects<BasicMsg, BasicTimer>) {
        let mine = &mut self.mine;
        self.learner.apply_ready(|cmd, outcome| {
            if !mine.remove(&cmd.id()) {
                return;
            }
            if let Some(reply) = front::reply_for(outcome) {
                front::reply(out, cmd, reply);
            }
        });
    }

    fn on_request(&mut self, now: Time, cmd: Command, out: &mut Effects<BasicMsg, BasicTimer>) {
        match front::admit(self.learner.kv(), &mut self.mine, &cmd) {
            Door::Answered(reply) => front::reply(out, &cmd, reply),
            Door::Known => {}
            Door::Take => {
                self.queue.push_back(cmd);
                self.start_proposals(now, out);
            }
        }
    }

    fn on_tick(&mut self, now: Time, out: &mut Effects<BasicMsg, BasicTimer>) {
        out.set_timer(self.setup.tuning.heartbeat, BasicTimer::Tick);
        let first = self.learner.first_undecided();
        if self.stuck_since.0 != first {
            self.stuck_since = (first, now);
        }
        let stuck_for = now.saturating_since(self.stuck_since.1);
        // Behind: a later slot is decided, or this one has been open for long (its Decide may have been lost).
        let lagging = self.learner.known_end() > first
            || (self.seen_end > first && stuck_for >= self.setup.tuning.election_timeout / 2);
        if !lagging {
            return;
        }
        let n = self.setup.n() as u64;
        if n > 1 {
            let peer = (self.me().0 as u64 + 1 + self.rng.below(n - 1)) % n;
            out.send(
                Peer::Replica(NodeId(peer as u32)),
                BasicMsg::CatchUp { from: first },
            );
        }
        if stuck_for >= self.setup.tuning.election_timeout {
            // Nobody finished these slots: propose no-ops there, which complete whatever was accepted. All open
            // slots at once (up to the pipeline), so a replica that lost its log catches up at pipeline speed.
            self.stuck_since = (first, now);
            let end = self.seen_end.max(self.learner.known_end());
            let open: Vec<Slot> = (first.0..end.0)
                .map(Slot)
                .filter(|s| !self.learner.is_decided(*s) && !self.proposals.contains_key(s))
                .take(
                    self.setup
                        .tuning
                        .max_inflight
                        .saturating_sub(self.proposals.len())
                        .max(1),
                )
                .collect();
            for slot in open {
                self.proposals.insert(
                    slot,
                    Proposal {
                        ballot: Ballot::ZERO,
                        attempt: 0,
                        preempted: 0,
                        phase: Phase::BackingOff,
                        own: Vec::new(),
                    },
                );
                self.run_phase1(now, slot, out);
            }
        }
    }
}

impl Replica for BasicReplica {
    type Msg = BasicMsg;
    type Timer = BasicTimer;
    type Durable = BasicDurable;

    fn new(setup: ReplicaSetup, now: Time, out: &mut Effects<BasicMsg, BasicTimer>) -> Self {
        let r = BasicReplica::boot(setup, BasicDurable::default(), now);
        out.set_timer(r.setup.tuning.heartbeat, BasicTimer::Tick);
        r
    }

    fn recover(
        setup: ReplicaSetup,
        durable: BasicDurable,
        now: Time,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) -> Self {
        let r = BasicReplica::boot(setup, durable, now);
        out.set_timer(r.setup.tuning.heartbeat, BasicTimer::Tick);
        r
    }

    fn on_message(
        &mut self,
        now: Time,
        from: Peer,
        msg: BasicMsg,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) {
        let from = match from {
            Peer::Client(c) => {
                // A client may only make requests, and only its own.
                if let Some(cmd) = front::own_request(c, msg) {
                    self.on_request(now, cmd, out);
                }
                return;
            }
            Peer::Replica(r) => r,
        };
        match msg {
            BasicMsg::Prepare { slot, ballot } => {
                let reply = self.acceptor_prepare(slot, ballot);
                out.send(Peer::Replica(from), reply);
            }
            BasicMsg::Accept {
                slot,
                ballot,
                value,
            } => {
                let reply = self.acceptor_accept(slot, ballot, value);
                out.send(Peer::Replica(from), reply);
            }
            BasicMsg::CatchUp { from: start } => {
                match self.learner.catch_up_entries(start, CATCH_UP_CHUNK) {
                    CatchUp::Snapshot => out.send(Peer::Replica(from), self.snapshot_msg()),
                    CatchUp::Values(entries) => {
                        out.send(Peer::Replica(from), BasicMsg::Decided { entries })
                    }
                    CatchUp::Nothing => {}
                }
            }
            BasicMsg::Decided { entries } => {
                for (slot, v) in entries {
                    self.learn(now, slot, v, out);
                }
            }
            BasicMsg::Request(_) | BasicMsg::ToClient(_) => {}
            reply => self.on_acceptor_reply(now, from, reply, out),
        }
    }

    fn on_timer(&mut self, now: Time, timer: BasicTimer, out: &mut Effects<BasicMsg, BasicTimer>) {
        match timer {
            BasicTimer::Tick => self.on_tick(now, out),
            BasicTimer::Retry { slot, attempt } => self.on_retry(now, slot, attempt, out),
        }
    }

    fn durable(&self) -> &BasicDurable {
        &self.d
    }

    fn take_records(&mut self, into: &mut Vec<DurableRecord<Self>>) {
        self.d.take(into)
    }

    fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            applied_upto: self.learner.applied_upto(),
            state_digest: self.learner.kv().digest(),
            is_leader: false,
            counters: Default::default(),
            held_entries: self.learner.held() + self.d.slots.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests;
