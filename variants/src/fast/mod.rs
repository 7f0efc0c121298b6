//! Fast Paxos (Lamport, "Fast Paxos", Distributed Computing 19(2), 2006), run for a log of slots.
//!
//! Message pattern. A coordinator wins Phase 1 for every slot from its first undecided one (`Prepare`/`Promise`,
//! a classic quorum), re-proposes in a classic round whatever recovery requires for the slots the promises
//! report, and then opens a fast round for every later slot (`Open`, Lamport's "any" message, repeated as the
//! heartbeat). Clients send each command to every acceptor (`Request`). An acceptor votes for the first command
//! it receives in its next free slot and sends the vote (2b) to the coordinator (`Vote`). A command with a fast
//! quorum of matching votes is chosen two message delays after the client sent it. The coordinator learns it
//! then, executes it in log order and replies to the client (a third delay: the reply carries the key-value
//! result, which needs the log before it). The client learns it at the same two delays: every acceptor also
//! sends its fast vote to the command's client (`Voted`), and a fast quorum of them for one slot and round
//! means chosen (see [`FastClient`]).
//!
//! Collisions. Acceptors that receive commands in different orders vote for different commands in one slot. When
//! the coordinator's votes for a slot show that no command can reach a fast quorum any more, it recovers at once
//! (coordinated recovery, section 3.4): the fast round's votes from at least a classic quorum serve as the
//! promises of the next, classic round of the same ballot, and it proposes (`Propose`, 2a) the value
//! [`recovery::pick`] allows. A slot that stays undecided, or a hole in the log, is recovered with a range
//! recovery (`Recover`/`Recovered`): a classic quorum reports its votes in the range and promises not to vote
//! fast there again, and the coordinator proposes by the same rule (a no-op where nobody voted). Commands that
//! lost a collision are sent to every acceptor again by the coordinator; one that ends up chosen twice runs
//! once (the state machine's exactly-once table).
//!
//! Quorums: classic `c` and fast `f` from [`QuorumSystem::Fast`](crate::quorum::QuorumSystem::Fast), checked
//! when built (2c > n, c + f > n, c + 2f > 2n, 3f > 2n).
//!
//! Rounds: within a ballot the fast round comes first and the classic round of coordinated recovery second
//! ([`Round`]); an acceptor's promise covers both.
//!
//! Timers: one `Tick` per heartbeat interval: the coordinator sends `Open` (with its commit index), resends
//! unanswered classic proposals and recoveries after `retransmit`, and recovers slots stuck that long; a
//! follower starts an election after its randomized election timeout, as in Multi-Paxos. Followers learn the
//! decided log from the coordinator (`CatchUp`/`Decided`), since their own fast votes may have lost.
//!
//! Compaction, as in Multi-Paxos: past `Tuning::log_keep` + `compact_every` applied slots, a replica persists its
//! state machine and drops the decided values and votes behind `applied - log_keep`. It never votes or reports
//! in a slot it forgot: a `Propose`, `Recover` or `CatchUp` that reaches below it is answered with a snapshot,
//! and a `Promise` carries the acceptor's compaction point, so a candidate learns the slots below it before it
//! leads (their votes are gone, and recovering them from the remaining reports could pick another value).
//!
//! Simplified: no batching on the fast path (one command per vote).

mod candidate;
mod client;
mod compaction;
mod coordinator;
mod messages;
pub mod recovery;
mod voter;

pub use messages::{FastDurable, FastMsg, FastRecord, FastTimer, Report, Round};

pub use client::FastClient;

use crate::command::{Command, CommandId, Value};
use crate::effects::Effects;
use crate::journal::Journaled;
use crate::quorum::NodeSet;
use crate::replica::{
    Counters, DurableRecord, Mutation, Replica, ReplicaSetup, ReplicaStatus, Variant,
};
use crate::roles::acceptor;
use crate::roles::election::Election;
use crate::roles::front;
use crate::roles::learner::{CatchUp, Learner};
use crate::roles::phase1::{AllReports, Phase1};
use crate::types::{Ballot, NodeId, Peer, Slot, Time};
use std::collections::{BTreeMap, HashMap};

/// Most decided values sent in one catch-up reply.
const CATCH_UP_CHUNK: usize = 1024;

pub struct Fast;

impl Variant for Fast {
    const NAME: &'static str = "fast";
    const QUORUMS: crate::quorum::QuorumKind = crate::quorum::QuorumKind::FastClassic;
    type Msg = FastMsg;
    type Replica = FastReplica;
    type Client = FastClient;
}

#[derive(Debug)]
struct SlotVotes {
    fast: BTreeMap<NodeId, Value>,
    /// Our classic-round proposal, who accepted it, when it was last sent.
    classic: Option<(Value, NodeSet, Time)>,
    first_seen: Time,
}

#[derive(Debug)]
struct RangeRecovery {
    from: Slot,
    to: Slot,
    replied: NodeSet,
    votes: BTreeMap<Slot, Vec<(NodeId, Round, Value)>>,
    sent_at: Time,
}

#[derive(Debug)]
struct Coordinator {
    ballot: Ballot,
    open_from: Slot,
    slots: BTreeMap<Slot, SlotVotes>,
    range: Option<RangeRecovery>,
    /// The first undecided slot and since when it has been the first.
    stalled: (Slot, Time),
}

/// A candidacy: its reports are every vote per slot, for the recovery rule.
type Candidate = Phase1<AllReports<Round>>;

#[derive(Debug)]
enum Role {
    Follower,
    Candidate(Candidate),
    Leader(Coordinator),
}

#[derive(Debug)]
pub struct FastReplica {
    setup: ReplicaSetup,
    n: usize,
    classic: usize,
    fast: usize,
    d: Journaled<FastDurable>,
    learner: Learner,
    role: Role,
    /// Who leads as far as this replica knows, and when it runs itself.
    election: Election,
    commit_seen: Slot,
    /// The ballot whose `Open` this acceptor has seen and the slot fast voting starts at.
    open: Option<(Ballot, Slot)>,
    next_free: Slot,
    /// Commands this acceptor voted for, and where (checked against `d.votes` before it is trusted).
    voted: HashMap<CommandId, Slot>,
    /// Requests that arrived while no fast round was open here (before the first `Open`, or during an
    /// election): voted for as soon as one opens, instead of waiting for the client's retry.
    waiting: Vec<Command>,
    counters: Counters,
}

impl FastReplica {
    fn boot(setup: ReplicaSetup, d: FastDurable, now: Time) -> FastReplica {
        let n = setup.quorums.n();
        let classic = setup.quorums.q2_size();
        let fast = setup.quorums.fast_size().unwrap_or(n);
        // A restart begins from the last persisted state machine.
        let mut learner = Learner::new();
        if let Some(snap) = &d.log.snapshot {
            learner.install(snap.clone());
        }
        FastReplica {
            n,
            classic,
            fast,
            election: Election::new(setup.seed, setup.tuning.election_timeout, now),
            d: Journaled::new(d),
            learner,
            role: Role::Follower,
            commit_seen: Slot(0),
            open: None,
            next_free: Slot(0),
            voted: HashMap::new(),
            waiting: Vec::new(),
            counters: Counters::default(),
            setup,
        }
    }

    fn me(&self) -> NodeId {
        self.setup.id
    }

    fn mutant(&self) -> bool {
        self.setup.mutation == Mutation::FastRecoveryIgnoresQuorumRule
    }

    fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    fn own_ballot(&self) -> Option<Ballot> {
        match &self.role {
            Role::Follower => None,
            Role::Candidate(c) => Some(c.ballot),
            Role::Leader(l) => Some(l.ballot),
        }
    }

    /// Raises the promise to `b` (no record when it is already there).
    fn promise(&mut self, b: Ballot) {
        acceptor::promise(&mut self.d, b, false);
    }

    fn observe_ballot(&mut self, now: Time, b: Ballot) {
        acceptor::see_round(&mut self.d, b.round);
        if self.own_ballot().is_some_and(|mine| mine < b) {
            self.role = Role::Follower;
            self.election.stepped_down(now, b.node);
        }
    }

    fn heard_from_leader(&mut self, now: Time, ballot: Ballot) {
        if ballot.node != self.me() {
            self.election.heard_leader(now, ballot.node);
        }
    }

    /// Sends to `to`, or handles it here when `to` is this replica (the coordinator is also an acceptor).
    fn send_or_self(
        &mut self,
        now: Time,
        to: NodeId,
        msg: FastMsg,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        if to == self.me() {
            self.on_replica_message(now, to, msg, out);
        } else {
            out.send(Peer::Replica(to), msg);
        }
    }

    // ---- acceptor ----

    // ---- coordinator ----

    /// Applies what is decided (the coordinator answers the clients), then compacts.
    fn apply(&mut self, out: &mut Effects<FastMsg, FastTimer>) {
        self.apply_decided(out);
        self.maybe_compact();
    }

    fn apply_decided(&mut self, out: &mut Effects<FastMsg, FastTimer>) {
        let leads = self.is_leader();
        self.learner.apply_ready(|cmd, outcome| {
            if !leads {
                return;
            }
            if let Some(reply) = front::reply_for(outcome) {
                front::reply(out, cmd, reply);
            }
        });
    }

    // ---- elections ----

    fn on_tick(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        out.set_timer(self.setup.tuning.heartbeat, FastTimer::Tick);
        let commit = self.learner.first_undecided();
        let c = self.classic;
        self.voted.retain(|_, s| *s >= commit);
        if self.is_leader() {
            self.coordinator_tick(now, out);
            return;
        }
        match &mut self.role {
            Role::Leader(_) => return,
            Role::Candidate(cand) => {
                if self.election.candidacy_timed_out(cand.started, now) {
                    self.election.lost();
                    self.start_election(now, out);
                } else if cand.promises.len() >= c && commit < cand.compacted() {
                    // Waiting to learn compacted slots before leading: ask again (answers may be lost).
                    out.broadcast(FastMsg::CatchUp { from: commit });
                }
                return;
            }
            Role::Follower => {
                if self.election.follower_timed_out(now) {
                    self.start_election(now, out);
                    return;
                }
            }
        }
        self.catch_up(out);
    }

    fn catch_up(&self, out: &mut Effects<FastMsg, FastTimer>) {
        let first = self.learner.first_undecided();
        if self.commit_seen > first {
            if let Some(l) = self.election.leader().filter(|&l| l != self.me()) {
                out.send(Peer::Replica(l), FastMsg::CatchUp { from: first });
            }
        }
    }

    fn on_replica_message(
        &mut self,
        now: Time,
        from: NodeId,
        msg: FastMsg,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        match msg {
            FastMsg::ToClient(_) | FastMsg::Voted { .. } => {}
            // A coordinator resends commands that lost a collision.
            FastMsg::Request(cmd) => self.fast_vote(now, cmd, out),
            FastMsg::Prepare {
                ballot,
                from: start,
            } => match acceptor::prepare(&mut self.d, ballot, start, false) {
                Ok((votes, compacted)) => {
                    self.observe_ballot(now, ballot);
                    self.election.wait(now);
                    let promise = FastMsg::Promise {
                        ballot,
                        votes,
                        compacted,
                    };
                    out.send(Peer::Replica(from), promise);
                }
                Err(_) => self.nack(from, out),
            },
            FastMsg::Promise {
                ballot,
                votes,
                compacted,
            } => self.on_promise(now, from, ballot, votes, compacted, out),
            FastMsg::Nack { promised } => self.observe_ballot(now, promised),
            FastMsg::Open {
                ballot,
                from: start,
                commit,
            } => {
                if ballot < self.d.log.promised {
                    self.nack(from, out);
                    return;
                }
                self.promise(ballot);
                self.observe_ballot(now, ballot);
                self.heard_from_leader(now, ballot);
                // The commit index first: a waiting command must not be voted into a slot already decided.
                self.commit_seen = self.commit_seen.max(commit);
                if self.open.is_none_or(|(b, _)| b != ballot) {
                    self.open = Some((ballot, start));
                    self.vote_waiting(now, out);
                }
                if !self.is_leader() {
                    self.catch_up(out);
                }
            }
            FastMsg::Vote { round, slot, value } => {
                self.on_vote(now, from, round, slot, value, out)
            }
            FastMsg::Propose { round, slot, value } => {
                self.on_propose(now, from, round, slot, value, out)
            }
            FastMsg::Recover {
                ballot,
                from: lo,
                to: hi,
            } => self.on_recover(now, from, ballot, (lo, hi), out),
            FastMsg::Recovered {
                ballot,
                from: lo,
                to: hi,
                votes,
            } => self.on_recovered(now, from, ballot, (lo, hi), votes, out),
            FastMsg::Snapshot { snap } => self.on_snapshot(now, *snap, out),
            FastMsg::CatchUp { from: start } => {
                match self.learner.catch_up_run(start, CATCH_UP_CHUNK) {
                    CatchUp::Snapshot => self.send_snapshot(from, out),
                    CatchUp::Values(values) => {
                        let decided = FastMsg::Decided {
                            from: start,
                            values,
                        };
                        out.send(Peer::Replica(from), decided);
                    }
                    CatchUp::Nothing => {}
                }
            }
            FastMsg::Decided {
                from: start,
                values,
            } => {
                // A coordinator decides from votes of its own ballot only.
                if self.is_leader() {
                    return;
                }
                for (i, v) in values.into_iter().enumerate() {
                    self.learner.learn(Slot(start.0 + i as u64), v, out);
                }
                self.apply(out);
                self.catch_up(out);
                self.retry_candidacy(now, out);
            }
        }
    }
}

impl Replica for FastReplica {
    type Msg = FastMsg;
    type Timer = FastTimer;
    type Durable = FastDurable;

    fn new(setup: ReplicaSetup, now: Time, out: &mut Effects<FastMsg, FastTimer>) -> Self {
        let leads = setup.id == setup.initial_leader;
        let initial = setup.initial_leader;
        let mut r = FastReplica::boot(setup, FastDurable::default(), now);
        out.set_timer(r.setup.tuning.heartbeat, FastTimer::Tick);
        if leads {
            r.start_election(now, out);
        } else {
            r.election.assume(initial);
        }
        r
    }

    fn recover(
        setup: ReplicaSetup,
        durable: FastDurable,
        now: Time,
        out: &mut Effects<FastMsg, FastTimer>,
    ) -> Self {
        let r = FastReplica::boot(setup, durable, now);
        out.set_timer(r.setup.tuning.heartbeat, FastTimer::Tick);
        r
    }

    fn on_message(
        &mut self,
        now: Time,
        from: Peer,
        msg: FastMsg,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        match from {
            Peer::Client(c) => {
                // A client may only make requests, and only its own.
                let Some(cmd) = front::own_request(c, msg) else {
                    return;
                };
                if self.is_leader() {
                    if let Some(reply) = front::cached(self.learner.kv(), cmd.id()) {
                        front::reply(out, &cmd, reply);
                        return;
                    }
                }
                self.fast_vote(now, cmd, out);
            }
            Peer::Replica(r) => self.on_replica_message(now, r, msg, out),
        }
    }

    fn on_timer(&mut self, now: Time, timer: FastTimer, out: &mut Effects<FastMsg, FastTimer>) {
        match timer {
            FastTimer::Tick => self.on_tick(now, out),
        }
    }

    fn durable(&self) -> &FastDurable {
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
            counters: self.counters,
            held_entries: self.learner.held() + self.d.log.accepted.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests;
