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
use crate::journal::{DurableState, Journaled};
use crate::quorum::NodeSet;
use crate::replica::{
    DurableRecord, Message, Mutation, Replica, ReplicaSetup, ReplicaStatus, ToClient, Variant,
};
use crate::rng::DetRng;
use crate::roles::front::{self, Door};
use crate::roles::learner::{CatchUp, Learner, Snapshot};
use crate::types::{Ballot, NodeId, Peer, Slot, Time};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

const CATCH_UP_CHUNK: usize = 256;

pub struct Basic;

impl Variant for Basic {
    const NAME: &'static str = "basic";
    type Msg = BasicMsg;
    type Replica = BasicReplica;
    type Client = NearestClient<BasicMsg>;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum BasicMsg {
    Request(Command),
    ToClient(ToClient),
    Prepare {
        slot: Slot,
        ballot: Ballot,
    },
    Promise {
        slot: Slot,
        ballot: Ballot,
        accepted: Option<(Ballot, Value)>,
    },
    Nack {
        slot: Slot,
        promised: Ballot,
    },
    Accept {
        slot: Slot,
        ballot: Ballot,
        value: Value,
    },
    Accepted {
        slot: Slot,
        ballot: Ballot,
    },
    Decide {
        slot: Slot,
        value: Value,
    },
    CatchUp {
        from: Slot,
    },
    Decided {
        entries: Vec<(Slot, Value)>,
    },
    /// The state machine, for a peer that asked about slots this replica has compacted away.
    Snapshot {
        snap: Box<Snapshot>,
    },
}

impl Message for BasicMsg {
    fn kind(&self) -> &'static str {
        match self {
            BasicMsg::Request(_) => "request",
            BasicMsg::ToClient(ToClient::Reply { .. }) => "reply",
            BasicMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            BasicMsg::Prepare { .. } => "prepare",
            BasicMsg::Promise { .. } => "promise",
            BasicMsg::Nack { .. } => "nack",
            BasicMsg::Accept { .. } => "accept",
            BasicMsg::Accepted { .. } => "accepted",
            BasicMsg::Decide { .. } => "decide",
            BasicMsg::CatchUp { .. } => "catchup",
            BasicMsg::Decided { .. } => "decided",
            BasicMsg::Snapshot { .. } => "snapshot",
        }
    }
}

front::client_wire!(BasicMsg);

/// One slot's acceptor state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlotAcceptor {
    pub promised: Ballot,
    pub accepted: Option<(Ballot, Value)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BasicDurable {
    pub slots: BTreeMap<Slot, SlotAcceptor>,
    /// Highest round this replica has used, so it never reuses a ballot after a restart.
    pub max_round: u64,
    /// The acceptor state of slots below this was dropped: they are decided, and `snapshot` holds their effect.
    pub compacted: Slot,
    pub snapshot: Option<Snapshot>,
}

/// One change to [`BasicDurable`], as the write-ahead log holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum BasicRecord {
    MaxRound(u64),
    Promised {
        slot: Slot,
        ballot: Ballot,
    },
    /// An acceptance, which also raises the slot's promise to its ballot.
    Accepted {
        slot: Slot,
        ballot: Ballot,
        value: Value,
    },
    /// Forget the slots below `upto` (decided, and applied in `snap`, whose slot is at least `upto`).
    Truncate {
        upto: Slot,
        snap: Box<Snapshot>,
    },
}

impl DurableState for BasicDurable {
    type Record = BasicRecord;
    fn apply(&mut self, r: BasicRecord) {
        match r {
            BasicRecord::MaxRound(m) => self.max_round = self.max_round.max(m),
            BasicRecord::Promised { slot, ballot } => {
                let st = self.slots.entry(slot).or_default();
                st.promised = st.promised.max(ballot);
            }
            BasicRecord::Accepted {
                slot,
                ballot,
                value,
            } => {
                let st = self.slots.entry(slot).or_default();
                st.promised = st.promised.max(ballot);
                st.accepted = Some((ballot, value));
            }
            BasicRecord::Truncate { upto, snap } => {
                if upto > self.compacted {
                    self.slots = self.slots.split_off(&upto);
                    self.compacted = upto;
                }
                if self.snapshot.as_ref().is_none_or(|s| s.upto < snap.upto) {
                    self.snapshot = Some(*snap);
                }
            }
        }
    }

    fn checkpoint(&self) -> Vec<BasicRecord> {
        let mut out = vec![BasicRecord::MaxRound(self.max_round)];
        if let Some(snap) = &self.snapshot {
            out.push(BasicRecord::Truncate {
                upto: self.compacted,
                snap: Box::new(snap.clone()),
            });
        }
        for (slot, st) in &self.slots {
            let slot = *slot;
            if let Some((ballot, value)) = &st.accepted {
                out.push(BasicRecord::Accepted {
                    slot,
                    ballot: *ballot,
                    value: value.clone(),
                });
            }
            if st.accepted.as_ref().is_none_or(|(b, _)| st.promised > *b) {
                out.push(BasicRecord::Promised {
                    slot,
                    ballot: st.promised,
                });
            }
        }
        out
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BasicTimer {
    Tick,
    Retry { slot: Slot, attempt: u32 },
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

    fn fresh_ballot(&mut self) -> Ballot {
        let round = self.d.max_round + 1;
        self.d.record(BasicRecord::MaxRound(round));
        Ballot::new(round, self.me())
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

    /// The lowest slot past every slot this replica has seen in use that is neither decided nor being proposed
    /// by us. Slots below that are someone else's (or were left open): proposing our commands there would
    /// only displace them again, so holes are closed by the stuck-slot no-ops instead.
    fn free_slot(&self) -> Slot {
        let mut s = self.learner.first_undecided().max(self.seen_end);
        while self.learner.is_decided(s) || self.proposals.contains_key(&s) {
            s = s.next();
        }
        s
    }

    fn start_proposals(&mut self, now: Time, out: &mut Effects<BasicMsg, BasicTimer>) {
        while !self.queue.is_empty() && self.proposals.len() < self.setup.tuning.max_inflight {
            let take = self.queue.len().min(self.setup.tuning.batch_max.max(1));
            let own: Vec<Command> = self.queue.drain(..take).collect();
            let slot = self.free_slot();
            self.proposals.insert(
                slot,
                Proposal {
                    ballot: Ballot::ZERO,
                    attempt: 0,
                    preempted: 0,
                    phase: Phase::BackingOff,
                    own,
                },
            );
            self.run_phase1(now, slot, out);
        }
    }

    /// (Re)starts a slot's instance with a fresh ballot.
    fn run_phase1(&mut self, now: Time, slot: Slot, out: &mut Effects<BasicMsg, BasicTimer>) {
        let ballot = self.fresh_ballot();
        let Some(p) = self.proposals.get_mut(&slot) else {
            return;
        };
        p.ballot = ballot;
        p.attempt += 1;
        p.phase = Phase::Preparing {
            promises: NodeSet::EMPTY,
            best: None,
        };
        let attempt = p.attempt;
        out.set_timer(
            self.setup.tuning.retransmit,
            BasicTimer::Retry { slot, attempt },
        );
        out.broadcast(BasicMsg::Prepare { slot, ballot });
        let me = self.me();
        let reply = self.acceptor_prepare(slot, ballot);
        self.on_acceptor_reply(now, me, reply, out);
    }

    fn acceptor_prepare(&mut self, slot: Slot, ballot: Ballot) -> BasicMsg {
        if slot < self.learner.base() {
            return self.snapshot_msg();
        }
        if let Some(v) = self.learner.get(slot) {
            return BasicMsg::Decide {
                slot,
                value: v.clone(),
            };
        }
        self.see_slot(slot);
        self.see_round(ballot.round);
        let (promised, accepted, known) = match self.d.slots.get(&slot) {
            Some(st) => (st.promised, st.accepted.clone(), true),
            None => (Ballot::default(), None, false),
        };
        // `>=`: a proposer resending its Prepare after a lost Promise gets the promise again. Ballots are unique
        // to one proposer and one attempt, so promising the same ballot twice promises nothing new.
        if ballot >= promised {
            if ballot > promised || !known {
                self.d.record(BasicRecord::Promised { slot, ballot });
            }
            BasicMsg::Promise {
                slot,
                ballot,
                accepted,
            }
        } else {
            BasicMsg::Nack { slot, promised }
        }
    }

    fn acceptor_accept(&mut self, slot: Slot, ballot: Ballot, value: Value) -> BasicMsg {
        if slot < self.learner.base() {
            return self.snapshot_msg();
        }
        self.see_slot(slot);
        self.see_round(ballot.round);
        let mutant = self.setup.mutation == Mutation::AcceptorIgnoresPromise;
        let promised = self
            .d
            .slots
            .get(&slot)
            .map_or(Ballot::default(), |st| st.promised);
        if ballot >= promised || mutant {
            self.d.record(BasicRecord::Accepted {
                slot,
                ballot,
                value,
            });
            BasicMsg::Accepted { slot, ballot }
        } else {
            BasicMsg::Nack { slot, promised }
        }
    }

    /// The proposer side: promises, acceptances, refusals and decisions for our instances.
    fn on_acceptor_reply(
        &mut self,
        now: Time,
        from: NodeId,
        msg: BasicMsg,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) {
        match msg {
            BasicMsg::Promise {
                slot,
                ballot,
                accepted,
            } => {
                let Some(p) = self.proposals.get_mut(&slot) else {
                    return;
                };
                let Phase::Preparing { promises, best } = &mut p.phase else {
                    return;
                };
                if p.ballot != ballot || !promises.insert(from) {
                    return;
                }
                if let Some((b, v)) = accepted {
                    if best.as_ref().is_none_or(|(have, _)| b > *have) {
                        *best = Some((b, v));
                    }
                }
                if !self.setup.quorums.is_phase1_quorum(*promises) {
                    return;
                }
                let value = match best.take() {
                    Some((_, v)) if self.setup.mutation != Mutation::IgnorePromisedValues => v,
                    _ => Value::batch(p.own.clone()),
                };
                p.phase = Phase::Accepting {
                    acks: NodeSet::EMPTY,
                    value: value.clone(),
                };
                p.attempt += 1;
                let attempt = p.attempt;
                out.set_timer(
                    self.setup.tuning.retransmit,
                    BasicTimer::Retry { slot, attempt },
                );
                out.broadcast(BasicMsg::Accept {
                    slot,
                    ballot,
                    value: value.clone(),
                });
                let me = self.me();
                let reply = self.acceptor_accept(slot, ballot, value);
                self.on_acceptor_reply(now, me, reply, out);
            }
            BasicMsg::Accepted { slot, ballot } => {
                let Some(p) = self.proposals.get_mut(&slot) else {
                    return;
                };
                let Phase::Accepting { acks, value } = &mut p.phase else {
                    return;
                };
                if p.ballot != ballot || !acks.insert(from) {
                    return;
                }
                if self.setup.quorums.is_phase2_quorum(*acks) {
                    let value = value.clone();
                    out.broadcast(BasicMsg::Decide {
                        slot,
                        value: value.clone(),
                    });
                    self.learn(now, slot, value, out);
                }
            }
            BasicMsg::Nack { slot, promised } => {
                self.see_round(promised.round);
                let Some(p) = self.proposals.get_mut(&slot) else {
                    return;
                };
                if promised <= p.ballot || matches!(p.phase, Phase::BackingOff) {
                    return;
                }
                // Pre-empted: wait a random, growing time before trying again higher.
                p.phase = Phase::BackingOff;
                p.attempt += 1;
                p.preempted += 1;
                let base = self.setup.tuning.backoff.as_nanos() as f64;
                let factor = (1u64 << p.preempted.min(6)) as f64 * (0.5 + self.rng.next_f64());
                let attempt = p.attempt;
                out.set_timer(
                    Duration::from_nanos((base * factor) as u64),
                    BasicTimer::Retry { slot, attempt },
                );
            }
            BasicMsg::Decide { slot, value } => self.learn(now, slot, value, out),
            BasicMsg::Snapshot { snap } => self.on_snapshot(now, *snap, out),
            _ => {}
        }
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

    /// A phase went unanswered: send its messages again under the same ballot (a fresh ballot would pre-empt
    /// the other proposers for nothing); after a pre-emption back-off, start over with a higher ballot.
    fn on_retry(
        &mut self,
        now: Time,
        slot: Slot,
        attempt: u32,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) {
        let Some(p) = self.proposals.get(&slot) else {
            return;
        };
        if p.attempt != attempt {
            return;
        }
        let ballot = p.ballot;
        let msg = match &p.phase {
            Phase::BackingOff => return self.run_phase1(now, slot, out),
            Phase::Preparing { .. } => BasicMsg::Prepare { slot, ballot },
            Phase::Accepting { value, .. } => BasicMsg::Accept {
                slot,
                ballot,
                value: value.clone(),
            },
        };
        out.broadcast(msg);
        out.set_timer(
            self.setup.tuning.retransmit,
            BasicTimer::Retry { slot, attempt },
        );
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
