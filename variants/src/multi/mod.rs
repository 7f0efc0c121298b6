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
//! Reads (`ReplicaSetup::reads`): through the log like writes; under a leader lease, answered by the leader
//! from its state (renewed with each heartbeat, waited out by the next leader); or by quorum read, where any
//! replica answers a client's probe with what it accepted and applied (see `reads.rs`).
//!
//! Simplified: the initial leader runs a real Phase 1 at start (no pre-agreed first ballot); non-leaders
//! redirect rather than forward.

use crate::client::LeaderClient;
use crate::command::{Command, CommandId, Value};
use crate::effects::Effects;
use crate::journal::Journaled;
use crate::quorum::NodeSet;
use crate::reads::ReadPath;
use crate::replica::{
    Counters, DurableRecord, Mutation, Replica, ReplicaSetup, ReplicaStatus, Variant,
};
use crate::roles::acceptor;
use crate::roles::election::Election;
use crate::roles::front::{self, Door};
use crate::roles::learner::{CatchUp, Learner};
use crate::roles::lease::{Grants, LeaseHolder};
use crate::roles::phase1::{Highest, Phase1};
use crate::roles::read_quorum::Parked;
use crate::types::{Ballot, NodeId, Peer, Slot, Time};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod candidate;
mod compaction;
mod follower;
mod leader;
mod messages;
mod reads;
pub mod reconfig;

pub use messages::{Durable, MultiDurable, MultiMsg, MultiRecord, MultiTimer};

use reconfig::{FixedMembership, Reconfig};

/// Most decided values sent in one catch-up reply.
const CATCH_UP_CHUNK: usize = 256;

pub struct Multi;

impl Variant for Multi {
    const NAME: &'static str = "multi";
    const QUORUMS: crate::quorum::QuorumKind = crate::quorum::QuorumKind::MajorityOnly;
    type Msg = MultiMsg;
    type Replica = MultiReplica<FixedMembership>;
    type Client = LeaderClient<MultiMsg>;
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
    /// Lease reads: the grants this leadership holds.
    lease: LeaseHolder,
    /// Lease reads: the end of what Phase 1 found; reads are answered locally only once all of it is applied.
    reads_from: Slot,
}

/// A candidacy, and the client commands that arrived during it (proposed once it leads).
#[derive(Debug)]
struct Candidate {
    p1: Phase1<Highest<Ballot>>,
    waiting: Vec<Command>,
    /// Lease reads: until when (on this clock) an earlier leader's lease may still run.
    lease_wait: Time,
    /// Lease reads: when Phase 1 was won while a lease still ran (the wait timer is armed).
    won_at: Option<Time>,
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
    /// Lease reads: the grants this acceptor gave (volatile).
    grants: Grants,
    /// Quorum reads: probes waiting for this replica to apply further.
    parked: Parked,
    /// Read counters (lease reads, misses, waits).
    read_counts: Counters,
}

impl<P: Reconfig> MultiReplica<P> {
    fn boot(setup: ReplicaSetup, d: MultiDurable, now: Time, restarted: bool) -> Self {
        let membership = P::new(&setup);
        let election = Election::new(setup.seed, setup.tuning.election_timeout, now);
        // A restarted acceptor may have granted a lease it no longer remembers.
        let grants = if restarted && setup.reads.path == ReadPath::Lease {
            Grants::after_restart(now, setup.reads.lease)
        } else {
            Grants::default()
        };
        let mut r = MultiReplica {
            d: Journaled::new(d),
            learner: Learner::new(),
            role: Role::Follower,
            election,
            commit_seen: Slot(0),
            membership,
            grants,
            parked: Parked::default(),
            read_counts: Counters::default(),
            setup,
        };
        // A restart begins from the last persisted state machine; the decided slots after it come back
        // through catch-up and Phase 1.
        if let Some(state) = r.d.snapshot.clone() {
            r.take_state(state);
        }
        r
    }

    fn me(&self) -> NodeId {
        self.setup.id
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

    /// Applies what is decided (the leader answers the clients), then compacts.
    fn apply(&mut self, out: &mut Effects<MultiMsg, MultiTimer>) {
        self.apply_decided(out);
        self.answer_parked(out);
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
        if self.lease_read(now, &cmd, out) {
            return;
        }
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

    fn on_tick(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        out.set_timer(self.setup.tuning.heartbeat, MultiTimer::Tick);
        let commit = self.learner.first_undecided();
        if self.is_leader() {
            self.leader_tick(now, out);
            return;
        }
        match &mut self.role {
            Role::Leader(_) => return,
            Role::Candidate(c) => {
                // Phase 1 is won and the lease wait is running: this candidacy is not stuck.
                if c.won_at.is_some() {
                    return;
                }
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
                if self.membership.never_campaigns(self.setup.id) {
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
        let mut r = Self::boot(setup, MultiDurable::default(), now, false);
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
        let r = Self::boot(setup, durable, now, true);
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
                if let MultiMsg::Read(probe) = msg {
                    self.on_read_probe(now, c, probe, out);
                    return;
                }
                // A client may only make requests, and only its own; anything else from it is dropped.
                if let Some(cmd) = front::own_request(c, msg) {
                    self.on_request(now, cmd, out);
                }
                return;
            }
            Peer::Replica(r) => r,
        };
        match msg {
            MultiMsg::Request(_) | MultiMsg::ToClient(_) | MultiMsg::Read(_) => {}
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
                        let promise = match self.lease_left(ballot, now) {
                            Some(lease_left) => MultiMsg::PromiseLeased {
                                ballot,
                                accepted,
                                compacted,
                                lease_left,
                            },
                            None => MultiMsg::Promise {
                                ballot,
                                accepted,
                                compacted,
                            },
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
            } => self.on_promise(now, from, ballot, (accepted, compacted), None, out),
            MultiMsg::PromiseLeased {
                ballot,
                accepted,
                compacted,
                lease_left,
            } => self.on_promise(
                now,
                from,
                ballot,
                (accepted, compacted),
                Some(lease_left),
                out,
            ),
            MultiMsg::LeaseAsk {
                ballot,
                commit,
                stamp,
            } => self.on_lease_ask(now, from, ballot, commit, stamp, out),
            MultiMsg::LeaseGrant { ballot, stamp } => self.on_lease_grant(from, ballot, stamp),
            MultiMsg::Nack { promised } => self.observe_ballot(now, promised, out),
            MultiMsg::Accept {
                ballot,
                slot,
                value,
                commit,
            } => self.on_accept(now, from, ballot, (slot, value), commit, out),
            MultiMsg::Accepted { ballot, slot } => self.on_accepted(now, from, ballot, slot, out),
            MultiMsg::Heartbeat { ballot, commit } => {
                self.on_heartbeat(now, from, ballot, commit, out)
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
            MultiTimer::LeaseWait => self.lease_waited(now, out),
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
            counters: Counters {
                reconfigurations: self.membership.reconfigurations(),
                ..self.read_counts
            },
            held_entries: self.learner.held() + self.d.accepted.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests;
