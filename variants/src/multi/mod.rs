//! Multi-Paxos (Lamport, "Paxos Made Simple", 2001, section 3).
//!
//! Message pattern: a leader runs Phase 1 once for every slot from its first undecided one
//! (`Prepare`/`Promise`), then each slot costs one Phase 2 round trip (`Accept`/`Accepted`). Clients send
//! `Request` to the replica they believe leads; others answer `Redirect`. Followers learn decisions from the
//! commit index carried on `Accept` and `Heartbeat` and fetch what they miss with `CatchUp`/`Decided`.
//!
//! Quorums: Phase 1 waits for a phase-1 quorum of promises, Phase 2 for a phase-2 quorum of acceptances, both
//! from the [`QuorumSystem`](crate::quorum::QuorumSystem) in the setup. With a majority system this is
//! Multi-Paxos; with a flexible or grid system it is Flexible Paxos, with no other change.
//!
//! Timers: one `Tick` every heartbeat interval. The leader sends heartbeats and retransmits Accepts that have
//! waited longer than `retransmit`; a follower that has heard nothing from a leader for its election timeout
//! (randomized in `[t, 2t)`) starts Phase 1 with a higher ballot; a candidate that has not won in that time tries
//! again higher, with its timeout doubled (up to 32x) so that elections converge even when the configured timeout
//! is shorter than the round trips.
//!
//! Pipelining and batching: up to `max_inflight` slots are in Phase 2 at once; commands that arrive while the
//! window is full wait and go out together, up to `batch_max` per slot, when a slot is decided. At low load every
//! slot carries one command, so the latency model holds exactly.
//!
//! Compaction: a replica persists its state machine with a truncation record and then forgets decided and
//! accepted values well behind what it applied (`Tuning::log_keep`, `compact_every`). A peer that lags behind
//! what a replica still holds gets a snapshot; a Promise reports the acceptor's compaction point, and a
//! candidate behind it learns those slots before it leads (Phase 1 cannot report values that were forgotten).
//!
//! Simplified: the initial leader runs a real Phase 1 at start (no pre-agreed first ballot); non-leaders
//! redirect rather than forward.

use crate::client::LeaderClient;
use crate::command::{Command, CommandId, Value};
use crate::effects::Effects;
use crate::journal::Journaled;
use crate::quorum::{Membership, NodeSet};
use crate::replica::{
    DurableRecord, Message, Mutation, Replica, ReplicaSetup, ReplicaStatus, ToClient, Variant,
};
use crate::roles::acceptor::{self, AcceptorLog, AcceptorRecord, StateUpTo};
use crate::roles::election::Election;
use crate::roles::front::{self, Door};
use crate::roles::learner::{CatchUp, Learner, Snapshot};
use crate::roles::phase1::{Highest, Next, Phase1};
use crate::types::{Ballot, NodeId, Peer, Slot, Time};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub mod reconfig;

use reconfig::{FixedMembership, InflightView, Reconfig};

/// Most decided values sent in one catch-up reply.
const CATCH_UP_CHUNK: usize = 256;

pub struct Multi;

impl Variant for Multi {
    const NAME: &'static str = "multi";
    type Msg = MultiMsg;
    type Replica = MultiReplica<FixedMembership>;
    type Client = LeaderClient<MultiMsg>;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MultiMsg {
    Request(Command),
    ToClient(ToClient),
    Prepare {
        ballot: Ballot,
        from: Slot,
    },
    Promise {
        ballot: Ballot,
        accepted: Vec<(Slot, Ballot, Value)>,
        /// The acceptor forgot what it accepted below this slot (all decided, see compaction): a candidate
        /// behind it must learn those slots from a snapshot before it may lead.
        compacted: Slot,
    },
    Nack {
        promised: Ballot,
    },
    Accept {
        ballot: Ballot,
        slot: Slot,
        value: Value,
        commit: Slot,
    },
    Accepted {
        ballot: Ballot,
        slot: Slot,
    },
    Heartbeat {
        ballot: Ballot,
        commit: Slot,
    },
    CatchUp {
        from: Slot,
    },
    Decided {
        from: Slot,
        values: Vec<Value>,
    },
    /// The answer to a `CatchUp` from below what the sender still holds: its state machine, and (Cheap Paxos)
    /// the reconfigurations decided before it.
    Snapshot {
        snap: Box<Snapshot>,
        configs: Vec<(Slot, Membership)>,
    },
}

impl Message for MultiMsg {
    fn kind(&self) -> &'static str {
        match self {
            MultiMsg::Request(_) => "request",
            MultiMsg::ToClient(ToClient::Reply { .. }) => "reply",
            MultiMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            MultiMsg::Prepare { .. } => "prepare",
            MultiMsg::Promise { .. } => "promise",
            MultiMsg::Nack { .. } => "nack",
            MultiMsg::Accept { .. } => "accept",
            MultiMsg::Accepted { .. } => "accepted",
            MultiMsg::Heartbeat { .. } => "heartbeat",
            MultiMsg::CatchUp { .. } => "catchup",
            MultiMsg::Decided { .. } => "decided",
            MultiMsg::Snapshot { .. } => "snapshot",
        }
    }
}

front::client_wire!(MultiMsg);

/// What an acceptor keeps across a crash: the common acceptor log, whose compactions persist the state
/// machine together with the reconfigurations decided before it.
pub type MultiDurable = AcceptorLog<Ballot, Durable>;

/// One change to [`MultiDurable`], as the write-ahead log holds it.
pub type MultiRecord = AcceptorRecord<Ballot, Durable>;

/// The state machine as persisted with a compaction, and (Cheap Paxos) the reconfigurations decided before it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Durable {
    pub snap: Snapshot,
    pub configs: Vec<(Slot, Membership)>,
}

impl StateUpTo for Durable {
    fn upto(&self) -> Slot {
        self.snap.upto
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MultiTimer {
    Tick,
}

#[derive(Debug)]
struct Inflight {
    value: Value,
    acks: NodeSet,
    sent_at: Time,
    /// How many times it has been retransmitted.
    resends: u32,
}

#[derive(Debug)]
struct Leader {
    ballot: Ballot,
    next_slot: Slot,
    inflight: BTreeMap<Slot, Inflight>,
    pending: VecDeque<Command>,
    /// Commands waiting or in flight under this leadership, so a retry is not proposed twice.
    proposed: BTreeSet<CommandId>,
}

/// A candidacy, and the client commands that arrived during it (proposed once it leads).
#[derive(Debug)]
struct Candidate {
    p1: Phase1<Highest<Ballot>>,
    waiting: Vec<Command>,
}

#[derive(Debug)]
enum Role {
    Follower,
    Candidate(Candidate),
    Leader(Leader),
}

/// A Multi-Paxos replica whose membership follows the policy `P` (fixed for Multi and Flexible Paxos, Cheap
/// Paxos's main/auxiliary sets for Cheap Paxos).
#[derive(Debug)]
pub struct MultiReplica<P: Reconfig = FixedMembership> {
    setup: ReplicaSetup,
    d: Journaled<MultiDurable>,
    learner: Learner,
    role: Role,
    /// Who leads as far as this replica knows, and when it runs itself.
    election: Election,
    /// Highest commit index heard from a leader.
    commit_seen: Slot,
    /// Who the acceptors are, and how that changes.
    membership: P,
}

impl<P: Reconfig> MultiReplica<P> {
    fn boot(setup: ReplicaSetup, d: MultiDurable, now: Time) -> Self {
        let membership = P::new(&setup);
        let election = Election::new(setup.seed, setup.tuning.election_timeout, now);
        let mut r = MultiReplica {
            d: Journaled::new(d),
            learner: Learner::new(),
            role: Role::Follower,
            election,
            commit_seen: Slot(0),
            membership,
            setup,
        };
        // A restart begins from the last persisted state machine; the decided slots after it come back
        // through catch-up and Phase 1.
        if let Some(state) = r.d.snapshot.clone() {
            r.take_state(state);
        }
        r
    }

    /// Installs a state machine if it is ahead; returns whether it was.
    fn take_state(&mut self, state: Durable) -> bool {
        if !self.learner.install(state.snap) {
            return false;
        }
        self.membership.install(state.configs);
        true
    }

    /// The state machine now, with the reconfigurations before it.
    fn current_state(&self) -> Durable {
        self.with_configs(self.learner.snapshot())
    }

    /// A state machine with the reconfigurations decided before it.
    fn with_configs(&self, snap: Snapshot) -> Durable {
        let configs = self.membership.decided_below(snap.upto);
        Durable { snap, configs }
    }

    fn me(&self) -> NodeId {
        self.setup.id
    }

    /// A Phase 2 quorum for `slot` (the policy also sees the values in flight before it).
    fn phase2_quorum(&self, slot: Slot, acks: NodeSet) -> bool {
        let role = &self.role;
        self.membership
            .is_phase2_quorum(&self.setup.quorums, slot, acks, || {
                let earlier = match role {
                    Role::Leader(l) => Some(l.inflight.range(..slot).map(|(_, inf)| &inf.value)),
                    _ => None,
                };
                earlier.into_iter().flatten()
            })
    }

    /// Whether the candidate's promises win Phase 1 (the policy also sees the values they reported).
    fn candidate_won(&self) -> bool {
        let Role::Candidate(c) = &self.role else {
            return false;
        };
        self.membership.is_phase1_quorum(
            &self.setup.quorums,
            c.p1.from,
            c.p1.promises,
            c.p1.reports.0.values().map(|(_, v)| v),
            self.setup.mutation,
        )
    }

    /// A replica asks this one for the log: as leader, that is a sign of life the policy may act on.
    fn heard_from_catching_up(&mut self, now: Time, from: NodeId) {
        if self.is_leader() {
            self.membership.heard_from(from, None, now);
        }
    }

    /// Bookkeeping for a value just learned (a decided reconfiguration takes effect after its slot).
    fn learned(&mut self, slot: Slot, value: &Value) {
        self.membership.learned(slot, value);
    }

    fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    fn own_ballot(&self) -> Option<Ballot> {
        match &self.role {
            Role::Follower => None,
            Role::Candidate(c) => Some(c.p1.ballot),
            Role::Leader(l) => Some(l.ballot),
        }
    }

    /// Raises the promise to `b` (a no-op, and no record, when it is already there).
    fn promise(&mut self, b: Ballot) {
        let volatile = self.setup.mutation == Mutation::AnswerWithoutPersisting;
        acceptor::promise(&mut self.d, b, volatile);
    }

    /// Any sign of a ballot above ours ends our candidacy or leadership.
    fn observe_ballot(&mut self, now: Time, b: Ballot, out: &mut Effects<MultiMsg, MultiTimer>) {
        acceptor::see_round(&mut self.d, b.round);
        if self.own_ballot().is_some_and(|mine| mine < b) {
            self.step_down(now, b.node, out);
        }
    }

    fn step_down(
        &mut self,
        now: Time,
        new_leader: NodeId,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let old = std::mem::replace(&mut self.role, Role::Follower);
        let leader = Some(new_leader);
        let mut redirect = |cmd: &Command| front::redirect(out, cmd, leader);
        match old {
            Role::Leader(l) => {
                l.pending.iter().for_each(&mut redirect);
                l.inflight
                    .values()
                    .flat_map(|i| i.value.commands())
                    .for_each(&mut redirect);
            }
            Role::Candidate(c) => c.waiting.iter().for_each(&mut redirect),
            Role::Follower => {}
        }
        self.election.stepped_down(now, new_leader);
    }

    fn start_election(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        let volatile = self.setup.mutation == Mutation::AnswerWithoutPersisting;
        let ballot = acceptor::new_ballot(&mut self.d, self.setup.id, volatile);
        let from = self.learner.first_undecided();
        let waiting = match std::mem::replace(&mut self.role, Role::Follower) {
            Role::Candidate(c) => c.waiting,
            Role::Leader(l) => l.pending.into_iter().collect(),
            Role::Follower => Vec::new(),
        };
        let own = self.d.reports(from, None);
        let p1 = Phase1::start(ballot, from, now, own, self.d.compacted);
        self.role = Role::Candidate(Candidate { p1, waiting });
        self.election.campaigning();
        out.broadcast(MultiMsg::Prepare { ballot, from });
        if self.candidate_won() {
            self.become_leader(now, out);
        }
    }

    fn on_promise(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        accepted: Vec<(Slot, Ballot, Value)>,
        compacted: Slot,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let Role::Candidate(c) = &mut self.role else {
            return;
        };
        if !c.p1.promise(from, ballot, accepted, compacted) {
            return;
        }
        if self.candidate_won() {
            self.become_leader(now, out);
        }
    }

    /// Phase 1 is won: re-propose, under our ballot, the highest-ballot value reported for every slot from
    /// `from` on, fill holes with no-ops, then serve clients.
    fn become_leader(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        let first = self.learner.first_undecided();
        if let Role::Candidate(c) = &mut self.role {
            // Slots below a promiser's compaction point are decided, but no promise reports their values: lead
            // only once we know them, from a snapshot or decided values (asked of everyone here once, then on
            // each tick; their arrival retries).
            let mutant = self.setup.mutation == Mutation::LeadPastCompaction;
            match c.p1.next(first, mutant) {
                Next::Lead => {}
                Next::Wait => return,
                Next::AskFrom(from) => {
                    out.broadcast(MultiMsg::CatchUp { from });
                    return;
                }
            }
        }
        let Role::Candidate(c) = std::mem::replace(&mut self.role, Role::Follower) else {
            return;
        };
        let Candidate { p1: c, waiting } = c;
        let end = c.end(self.learner.known_end());
        let mut leader = Leader {
            ballot: c.ballot,
            next_slot: end,
            inflight: BTreeMap::new(),
            pending: VecDeque::new(),
            proposed: BTreeSet::new(),
        };
        let ignore_reports = self.setup.mutation == Mutation::IgnorePromisedValues;
        let mut recovered = Vec::new();
        // Slots this replica already knows decided (it may have learned some while campaigning) are not
        // proposed again: acceptors that applied and compacted them would refuse, and followers learn them by
        // catch-up (the commit index only vouches for slots decided under this leader's ballot).
        for s in c.from.max(self.learner.first_undecided()).0..end.0 {
            let slot = Slot(s);
            let value = if let Some(v) = self.learner.get(slot) {
                v.clone()
            } else {
                match c.reports.0.get(&slot) {
                    Some((_, v)) if !ignore_reports => v.clone(),
                    _ => Value::Noop,
                }
            };
            recovered.push((slot, value));
        }
        for cmd in waiting {
            if leader.proposed.insert(cmd.id()) {
                leader.pending.push_back(cmd);
            }
        }
        self.role = Role::Leader(leader);
        self.membership.led(now);
        self.election.won(self.me());
        for (slot, value) in recovered {
            self.propose(now, slot, value, out);
        }
        let commit = self.learner.first_undecided();
        out.broadcast(MultiMsg::Heartbeat {
            ballot: c.ballot,
            commit,
        });
        self.try_propose(now, out);
    }

    /// Sends one slot's Accept to everyone and accepts it locally.
    fn propose(
        &mut self,
        now: Time,
        slot: Slot,
        value: Value,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let me = self.me();
        let commit = self.learner.first_undecided();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let ballot = l.ballot;
        acceptor::accept(&mut self.d, slot, ballot, value.clone());
        let mut acks = NodeSet::EMPTY;
        acks.insert(me);
        let accept = MultiMsg::Accept {
            ballot,
            slot,
            value: value.clone(),
            commit,
        };
        match self.membership.accept_to(slot, &value) {
            Some(to) => {
                for r in Membership::ids(to).filter(|&r| r != me) {
                    out.send(Peer::Replica(r), accept.clone());
                }
            }
            None => out.broadcast(accept),
        }
        l.inflight.insert(
            slot,
            Inflight {
                value,
                acks,
                sent_at: now,
                resends: 0,
            },
        );
        if self.phase2_quorum(slot, acks) {
            self.decide(slot, out);
        }
    }

    /// Opens new slots for waiting commands while the pipeline has room.
    fn try_propose(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        loop {
            let Role::Leader(l) = &mut self.role else {
                return;
            };
            if l.pending.is_empty()
                || l.inflight.len() >= self.setup.tuning.max_inflight
                || self.membership.holds_new_slots()
            {
                return;
            }
            let take = l.pending.len().min(self.setup.tuning.batch_max.max(1));
            let batch: Vec<Command> = l.pending.drain(..take).collect();
            let slot = l.next_slot;
            l.next_slot = slot.next();
            self.propose(now, slot, Value::batch(batch), out);
        }
    }

    fn decide(&mut self, slot: Slot, out: &mut Effects<MultiMsg, MultiTimer>) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let Some(inf) = l.inflight.remove(&slot) else {
            return;
        };
        self.learned(slot, &inf.value);
        self.learner.learn(slot, inf.value, out);
        self.apply(out);
    }

    /// A peer's state machine, for slots this replica lags behind and that peer no longer holds. Taken if it
    /// is ahead. A leader takes one too: an acceptor that already applied and forgot a slot the leader still
    /// has in flight answers its Accept with a snapshot, and those slots are decided.
    fn on_snapshot(
        &mut self,
        now: Time,
        snap: Snapshot,
        configs: Vec<(Slot, Membership)>,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let upto = snap.upto;
        let state = Durable { snap, configs };
        if self.take_state(state.clone()) {
            // Persisted before anything of it is acted on, as a compaction: everything below it is decided.
            acceptor::truncate(&mut self.d, upto, state);
            self.apply(out);
            if self.is_leader() {
                // A leader's commit index vouches that the slots below it were decided under its ballot, and
                // followers learn from their acceptances of that ballot; slots learned here were decided under
                // some ballot, perhaps a later one. A fresh ballot keeps the index honest (and a stale leader
                // finds out it is one).
                self.start_election(now, out);
                return;
            }
        }
        self.retry_candidacy(now, out);
    }

    /// A candidate that was waiting to learn compacted slots may lead now.
    fn retry_candidacy(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        if self.candidate_won() {
            self.become_leader(now, out);
        }
    }

    fn send_snapshot(&self, to: NodeId, out: &mut Effects<MultiMsg, MultiTimer>) {
        let Durable { snap, configs } = self.current_state();
        out.send(
            Peer::Replica(to),
            MultiMsg::Snapshot {
                snap: Box::new(snap),
                configs,
            },
        );
    }

    /// Drops decided values and acceptances well behind what is applied (see [`Tuning::log_keep`]).
    fn maybe_compact(&mut self) {
        let t = &self.setup.tuning;
        if let Some((upto, snap)) = self.learner.compact_if_due(t.log_keep, t.compact_every) {
            let state = self.with_configs(snap);
            acceptor::truncate(&mut self.d, upto, state);
        }
    }

    /// Applies what is decided (the leader answers the clients), then compacts.
    fn apply(&mut self, out: &mut Effects<MultiMsg, MultiTimer>) {
        self.apply_decided(out);
        self.maybe_compact();
    }

    fn apply_decided(&mut self, out: &mut Effects<MultiMsg, MultiTimer>) {
        let role = &mut self.role;
        self.learner.apply_ready(|cmd, outcome| {
            let Role::Leader(l) = role else {
                return;
            };
            l.proposed.remove(&cmd.id());
            if let Some(reply) = front::reply_for(outcome) {
                front::reply(out, cmd, reply);
            }
        });
    }

    fn on_request(&mut self, now: Time, cmd: Command, out: &mut Effects<MultiMsg, MultiTimer>) {
        match &mut self.role {
            Role::Leader(l) => match front::admit(self.learner.kv(), &mut l.proposed, &cmd) {
                Door::Answered(reply) => front::reply(out, &cmd, reply),
                Door::Known => {}
                Door::Take => {
                    l.pending.push_back(cmd);
                    self.try_propose(now, out);
                }
            },
            Role::Candidate(c) => c.waiting.push(cmd),
            Role::Follower => {
                let leader = self.election.leader().filter(|&l| l != self.setup.id);
                front::redirect(out, &cmd, leader);
            }
        }
    }

    fn heard_from_leader(&mut self, now: Time, ballot: Ballot) {
        if ballot.node != self.me() {
            self.election.heard_leader(now, ballot.node);
        }
    }

    /// Slots below `commit` are decided under `ballot`; those we accepted under that same ballot hold the
    /// decided value. For the others we ask the leader.
    fn learn_commit(
        &mut self,
        ballot: Ballot,
        commit: Slot,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        self.commit_seen = self.commit_seen.max(commit);
        let mut s = self.learner.first_undecided();
        while s < commit {
            if !self.learner.is_decided(s) {
                match self.d.accepted.get(&s) {
                    Some((b, v)) if *b == ballot => {
                        let v = v.clone();
                        self.learned(s, &v);
                        self.learner.learn(s, v, out);
                    }
                    _ => break,
                }
            }
            s = s.next();
        }
        self.apply(out);
    }

    /// Phase 2 at an acceptor: `entry` is the proposed (slot, value).
    fn on_accept(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        entry: (Slot, Value),
        commit: Slot,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let (slot, value) = entry;
        let current = ballot >= self.d.promised;
        // Decided and applied here, and forgotten by this acceptor: a leader of the current ballot has not
        // heard it was decided (it lost the answers). Tell it with the state machine; a stale leader gets the
        // refusal below instead.
        if slot < self.d.compacted && current {
            if slot < self.learner.base() {
                self.send_snapshot(from, out);
            }
            return;
        }
        if !current && self.setup.mutation != Mutation::AcceptorIgnoresPromise {
            out.send(
                Peer::Replica(from),
                MultiMsg::Nack {
                    promised: self.d.promised,
                },
            );
            return;
        }
        acceptor::accept(&mut self.d, slot, ballot, value);
        out.send(Peer::Replica(from), MultiMsg::Accepted { ballot, slot });
        if current {
            self.promise(ballot);
            self.observe_ballot(now, ballot, out);
            self.heard_from_leader(now, ballot);
            self.learn_commit(ballot, commit, out);
        }
    }

    fn on_tick(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        out.set_timer(self.setup.tuning.heartbeat, MultiTimer::Tick);
        let commit = self.learner.first_undecided();
        let retransmit = self.setup.tuning.retransmit;
        let me = self.me();
        match &mut self.role {
            Role::Leader(l) => {
                let heartbeat = MultiMsg::Heartbeat {
                    ballot: l.ballot,
                    commit,
                };
                match self.membership.heartbeat_to(commit) {
                    Some(to) => {
                        for r in Membership::ids(to).filter(|&r| r != me) {
                            out.send(Peer::Replica(r), heartbeat.clone());
                        }
                    }
                    None => out.broadcast(heartbeat),
                }
                // Unanswered Accepts go to everyone again: in Cheap Paxos that brings in the auxiliaries.
                for (slot, inf) in l.inflight.iter_mut() {
                    if now.saturating_since(inf.sent_at) >= retransmit {
                        inf.sent_at = now;
                        inf.resends += 1;
                        out.broadcast(MultiMsg::Accept {
                            ballot: l.ballot,
                            slot: *slot,
                            value: inf.value.clone(),
                            commit,
                        });
                    }
                }
                // A membership change the policy wants (Cheap Paxos: a silent main is configured out).
                let views = l.inflight.values().map(|i| InflightView {
                    value: &i.value,
                    acks: i.acks,
                    resends: i.resends,
                });
                if let Some(m) = self.membership.on_leader_tick(me, now, l.next_slot, views) {
                    let slot = l.next_slot;
                    l.next_slot = slot.next();
                    self.propose(now, slot, Value::Config(m), out);
                }
                return;
            }
            Role::Candidate(c) => {
                if self.election.candidacy_timed_out(c.p1.started, now) {
                    self.election.lost();
                    self.start_election(now, out);
                } else if c.p1.promises.len() > 1 && commit < c.p1.compacted() {
                    // Waiting to learn compacted slots before leading: ask again (answers may be lost).
                    out.broadcast(MultiMsg::CatchUp { from: commit });
                }
                return;
            }
            Role::Follower => {
                // Cheap Paxos's auxiliaries never lead and need not learn the log.
                if self.membership.never_campaigns(me) {
                    return;
                }
                if self.election.follower_timed_out(now) {
                    self.start_election(now, out);
                    return;
                }
            }
        }
        if self.commit_seen > commit {
            if let Some(l) = self.election.leader().filter(|&l| l != self.me()) {
                out.send(Peer::Replica(l), MultiMsg::CatchUp { from: commit });
            }
        }
    }
}

impl<P: Reconfig> Replica for MultiReplica<P> {
    type Msg = MultiMsg;
    type Timer = MultiTimer;
    type Durable = MultiDurable;

    fn new(setup: ReplicaSetup, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) -> Self {
        let leads = setup.id == setup.initial_leader;
        let initial = setup.initial_leader;
        let mut r = Self::boot(setup, MultiDurable::default(), now);
        out.set_timer(r.setup.tuning.heartbeat, MultiTimer::Tick);
        if leads {
            r.start_election(now, out);
        } else {
            r.election.assume(initial);
        }
        r
    }

    fn recover(
        setup: ReplicaSetup,
        durable: MultiDurable,
        now: Time,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) -> Self {
        let r = Self::boot(setup, durable, now);
        out.set_timer(r.setup.tuning.heartbeat, MultiTimer::Tick);
        r
    }

    fn on_message(
        &mut self,
        now: Time,
        from: Peer,
        msg: MultiMsg,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let from = match from {
            Peer::Client(c) => {
                // A client may only make requests, and only its own; anything else from it is dropped.
                if let Some(cmd) = front::own_request(c, msg) {
                    self.on_request(now, cmd, out);
                }
                return;
            }
            Peer::Replica(r) => r,
        };
        match msg {
            MultiMsg::Request(_) | MultiMsg::ToClient(_) => {}
            MultiMsg::Prepare {
                ballot,
                from: start,
            } => {
                let volatile = self.setup.mutation == Mutation::AnswerWithoutPersisting;
                match acceptor::prepare(&mut self.d, ballot, start, volatile) {
                    Ok((accepted, compacted)) => {
                        self.observe_ballot(now, ballot, out);
                        // Give the candidate time to win before we try ourselves.
                        self.election.wait(now);
                        let promise = MultiMsg::Promise {
                            ballot,
                            accepted,
                            compacted,
                        };
                        out.send(Peer::Replica(from), promise);
                    }
                    Err(promised) => out.send(Peer::Replica(from), MultiMsg::Nack { promised }),
                }
            }
            MultiMsg::Promise {
                ballot,
                accepted,
                compacted,
            } => self.on_promise(now, from, ballot, accepted, compacted, out),
            MultiMsg::Nack { promised } => self.observe_ballot(now, promised, out),
            MultiMsg::Accept {
                ballot,
                slot,
                value,
                commit,
            } => self.on_accept(now, from, ballot, (slot, value), commit, out),
            MultiMsg::Accepted { ballot, slot } => {
                let Role::Leader(l) = &mut self.role else {
                    return;
                };
                if l.ballot != ballot {
                    return;
                }
                self.membership.heard_from(from, Some(slot), now);
                let Some(inf) = l.inflight.get_mut(&slot) else {
                    return;
                };
                inf.acks.insert(from);
                let acks = inf.acks;
                if self.phase2_quorum(slot, acks) {
                    self.decide(slot, out);
                    self.try_propose(now, out);
                }
            }
            MultiMsg::Heartbeat { ballot, commit } => {
                if ballot >= self.d.promised {
                    self.promise(ballot);
                    self.observe_ballot(now, ballot, out);
                    self.heard_from_leader(now, ballot);
                    self.learn_commit(ballot, commit, out);
                } else {
                    out.send(
                        Peer::Replica(from),
                        MultiMsg::Nack {
                            promised: self.d.promised,
                        },
                    );
                }
            }
            MultiMsg::Snapshot { snap, configs } => self.on_snapshot(now, *snap, configs, out),
            MultiMsg::CatchUp { from: start } => {
                self.heard_from_catching_up(now, from);
                match self.learner.catch_up_run(start, CATCH_UP_CHUNK) {
                    CatchUp::Snapshot => self.send_snapshot(from, out),
                    CatchUp::Values(values) => {
                        let decided = MultiMsg::Decided {
                            from: start,
                            values,
                        };
                        out.send(Peer::Replica(from), decided);
                    }
                    CatchUp::Nothing => {}
                }
            }
            MultiMsg::Decided {
                from: start,
                values,
            } => {
                // A leader's commit index vouches that every slot below it was decided under the leader's own
                // ballot; a value learned here may have been chosen under another, so a leader never takes it.
                if self.is_leader() {
                    return;
                }
                for (i, v) in values.into_iter().enumerate() {
                    let slot = Slot(start.0 + i as u64);
                    self.learned(slot, &v);
                    self.learner.learn(slot, v, out);
                }
                self.apply(out);
                self.retry_candidacy(now, out);
            }
        }
    }

    fn on_timer(&mut self, now: Time, timer: MultiTimer, out: &mut Effects<MultiMsg, MultiTimer>) {
        match timer {
            MultiTimer::Tick => self.on_tick(now, out),
        }
    }

    fn durable(&self) -> &MultiDurable {
        &self.d
    }

    fn take_records(&mut self, into: &mut Vec<DurableRecord<Self>>) {
        self.d.take(into)
    }

    fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            applied_upto: self.learner.applied_upto(),
            state_digest: self.learner.kv().digest(),
            is_leader: self.is_leader(),
            counters: crate::replica::Counters {
                reconfigurations: self.membership.reconfigurations(),
                ..Default::default()
            },
            held_entries: self.learner.held() + self.d.accepted.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Op;
    use crate::quorum::QuorumSystem;
    use crate::replica::Tuning;
    use crate::types::ClientId;

    fn solo() -> (MultiReplica, Effects<MultiMsg, MultiTimer>) {
        let setup = ReplicaSetup {
            id: NodeId(0),
            quorums: QuorumSystem::Majority { n: 1 },
            initial_leader: NodeId(0),
            tuning: Tuning::default(),
            mutation: Mutation::None,
            seed: 1,
        };
        let mut out = Effects::new();
        let r = MultiReplica::new(setup, Time(0), &mut out);
        out.clear();
        (r, out)
    }

    fn put(client: u32) -> MultiMsg {
        MultiMsg::Request(Command {
            client: ClientId(client),
            seq: 0,
            ack: 0,
            op: Op::Put {
                key: 1,
                value: bytes::Bytes::from_static(b"v"),
            },
        })
    }

    #[test]
    fn a_client_cannot_submit_in_another_clients_name() {
        let (mut r, mut out) = solo();
        assert!(r.is_leader(), "a one-replica cluster leads at once");
        r.on_message(Time(1), Peer::Client(ClientId(1)), put(2), &mut out);
        assert!(
            out.is_empty(),
            "a request for client 2 from client 1 was handled: {:?}",
            out.sends
        );
        r.on_message(Time(2), Peer::Client(ClientId(2)), put(2), &mut out);
        assert!(
            out.sends
                .iter()
                .any(|(_, m)| matches!(m, MultiMsg::ToClient(ToClient::Reply { .. }))),
            "{:?}",
            out.sends
        );
    }
}
