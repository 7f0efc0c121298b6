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

mod client;
pub mod recovery;

pub use client::FastClient;

use crate::command::{Command, CommandId, Value};
use crate::effects::Effects;
use crate::journal::{DurableState, Journaled};
use crate::quorum::NodeSet;
use crate::replica::{
    Counters, DurableRecord, Message, Mutation, Replica, ReplicaSetup, ReplicaStatus, ToClient,
    Variant,
};
use crate::roles::acceptor::{self, AcceptorLog, AcceptorRecord, HoldsLog};
use crate::roles::election::Election;
use crate::roles::front;
use crate::roles::learner::{CatchUp, Learner, Snapshot};
use crate::roles::phase1::{AllReports, Next, Phase1};
use crate::types::{Ballot, NodeId, Peer, Slot, Time};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Most requests an acceptor keeps while no fast round is open (the rest wait for the client's retry).
const MAX_WAITING: usize = 1024;

/// Most decided values sent in one catch-up reply.
const CATCH_UP_CHUNK: usize = 1024;

pub struct Fast;

impl Variant for Fast {
    const NAME: &'static str = "fast";
    type Msg = FastMsg;
    type Replica = FastReplica;
    type Client = FastClient;
}

/// A voting round: a ballot's fast round, then its classic (recovery) round.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Round {
    pub ballot: Ballot,
    pub classic: bool,
}

impl Round {
    fn fast(ballot: Ballot) -> Round {
        Round {
            ballot,
            classic: false,
        }
    }
    fn classic(ballot: Ballot) -> Round {
        Round {
            ballot,
            classic: true,
        }
    }
}

/// A vote as reported in a promise or a range recovery.
pub type Report = (Slot, Round, Value);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FastMsg {
    Request(Command),
    ToClient(ToClient),
    Prepare {
        ballot: Ballot,
        from: Slot,
    },
    Promise {
        ballot: Ballot,
        votes: Vec<Report>,
        /// The acceptor dropped its votes below this slot (all decided; see compaction).
        compacted: Slot,
    },
    Nack {
        promised: Ballot,
    },
    /// Fast voting is open in `ballot` from slot `from` on; also the heartbeat, with the commit index.
    Open {
        ballot: Ballot,
        from: Slot,
        commit: Slot,
    },
    Vote {
        round: Round,
        slot: Slot,
        value: Value,
    },
    /// A fast vote's copy for the client whose command it is (the 2b a learner gets). It names the exact value
    /// voted for: the command's sequence number and the ack it carried (the rest is fixed by the sequence number).
    Voted {
        round: Round,
        slot: Slot,
        seq: u64,
        ack: u64,
    },
    Propose {
        round: Round,
        slot: Slot,
        value: Value,
    },
    Recover {
        ballot: Ballot,
        from: Slot,
        to: Slot,
    },
    Recovered {
        ballot: Ballot,
        from: Slot,
        to: Slot,
        votes: Vec<Report>,
    },
    CatchUp {
        from: Slot,
    },
    Decided {
        from: Slot,
        values: Vec<Value>,
    },
    /// The state machine, for a peer that reached below what this replica still holds.
    Snapshot {
        snap: Box<Snapshot>,
    },
}

front::client_wire!(FastMsg);

impl Message for FastMsg {
    fn kind(&self) -> &'static str {
        match self {
            FastMsg::Request(_) => "request",
            FastMsg::ToClient(ToClient::Reply { .. }) => "reply",
            FastMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            FastMsg::Prepare { .. } => "prepare",
            FastMsg::Promise { .. } => "promise",
            FastMsg::Nack { .. } => "nack",
            FastMsg::Open { .. } => "open",
            FastMsg::Vote { round, .. } if round.classic => "vote_classic",
            FastMsg::Vote { .. } => "vote_fast",
            FastMsg::Voted { .. } => "vote_to_client",
            FastMsg::Propose { .. } => "propose",
            FastMsg::Recover { .. } => "recover",
            FastMsg::Recovered { .. } => "recovered",
            FastMsg::CatchUp { .. } => "catchup",
            FastMsg::Decided { .. } => "decided",
            FastMsg::Snapshot { .. } => "snapshot",
        }
    }
}

/// What an acceptor keeps across a crash: the common acceptor log (its acceptances are this protocol's votes),
/// and the promise a range recovery asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FastDurable {
    pub log: AcceptorLog<Round, Snapshot>,
    /// In this ballot, no fast vote below this slot.
    pub fast_floor: (Ballot, Slot),
}

/// One change to [`FastDurable`], as the write-ahead log holds it. Its own enum rather than the common one
/// with an extra case, so that the log's encoding stays what it was before the acceptor became a role.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FastRecord {
    Promised(Ballot),
    MaxRound(u64),
    Vote {
        slot: Slot,
        round: Round,
        value: Value,
    },
    FastFloor {
        ballot: Ballot,
        slot: Slot,
    },
    /// Forget the votes below `upto` (decided, and applied in `snap`, whose slot is at least `upto`).
    Truncate {
        upto: Slot,
        snap: Box<Snapshot>,
    },
}

impl DurableState for FastDurable {
    type Record = FastRecord;
    fn apply(&mut self, r: FastRecord) {
        let r = match r {
            FastRecord::FastFloor { ballot, slot } => {
                self.fast_floor = (ballot, slot);
                return;
            }
            FastRecord::Promised(b) => AcceptorRecord::Promised(b),
            FastRecord::MaxRound(m) => AcceptorRecord::MaxRound(m),
            FastRecord::Vote { slot, round, value } => AcceptorRecord::Accepted {
                slot,
                ballot: round,
                value,
            },
            FastRecord::Truncate { upto, snap } => AcceptorRecord::Truncate { upto, state: snap },
        };
        self.log.apply(r);
    }

    fn checkpoint(&self) -> Vec<FastRecord> {
        let mut out: Vec<FastRecord> = self.log.checkpoint().into_iter().map(Self::wrap).collect();
        // After the rounds, as the log has always been written.
        let (ballot, slot) = self.fast_floor;
        out.insert(2, FastRecord::FastFloor { ballot, slot });
        out
    }
}

impl HoldsLog<Round, Snapshot> for FastDurable {
    fn log(&self) -> &AcceptorLog<Round, Snapshot> {
        &self.log
    }
    fn wrap(r: AcceptorRecord<Round, Snapshot>) -> FastRecord {
        match r {
            AcceptorRecord::Promised(b) => FastRecord::Promised(b),
            AcceptorRecord::MaxRound(m) => FastRecord::MaxRound(m),
            AcceptorRecord::Accepted {
                slot,
                ballot,
                value,
            } => FastRecord::Vote {
                slot,
                round: ballot,
                value,
            },
            AcceptorRecord::Truncate { upto, state } => FastRecord::Truncate { upto, snap: state },
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FastTimer {
    Tick,
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

    /// Tells a replica acting under an older ballot which ballot this acceptor has promised.
    fn nack(&self, to: NodeId, out: &mut Effects<FastMsg, FastTimer>) {
        out.send(
            Peer::Replica(to),
            FastMsg::Nack {
                promised: self.d.log.promised,
            },
        );
    }

    /// Whether this acceptor has a standing fast vote for `id` in an undecided slot of the current ballot.
    fn has_live_vote(&self, id: CommandId) -> bool {
        self.voted.get(&id).is_some_and(|s| {
            !self.learner.is_decided(*s)
                && self
                    .d
                    .log
                    .accepted
                    .get(s)
                    .is_some_and(|(r, v)| r.ballot == self.d.log.promised && v.contains(id))
        })
    }

    /// Votes for `cmd` in this acceptor's next free slot of the open fast round. A command it has a standing
    /// vote for is not voted again (even when the coordinator resends it after a collision): voting every resend
    /// anew multiplies collisions.
    fn fast_vote(&mut self, now: Time, cmd: Command, out: &mut Effects<FastMsg, FastTimer>) {
        let b = self.d.log.promised;
        let id = cmd.id();
        let open_from = match self.open {
            Some((ob, from)) if ob == b => from,
            _ => {
                if self.waiting.len() < MAX_WAITING && !self.waiting.iter().any(|c| c.id() == id) {
                    self.waiting.push(cmd);
                }
                return;
            }
        };
        if self.has_live_vote(id)
            || self.learner.kv().is_acknowledged(id)
            || self.learner.kv().cached_reply(id).is_some()
        {
            return;
        }
        let floor = if self.d.fast_floor.0 == b {
            self.d.fast_floor.1
        } else {
            Slot(0)
        };
        let round = Round::fast(b);
        let mut s = self
            .next_free
            .max(open_from)
            .max(floor)
            .max(self.learner.first_undecided())
            .max(self.commit_seen);
        while self.learner.is_decided(s)
            || self
                .d
                .log
                .accepted
                .get(&s)
                .is_some_and(|(r, _)| *r >= round)
        {
            s = s.next();
        }
        let (client, seq, ack) = (cmd.client, cmd.seq, cmd.ack);
        let value = Value::batch(vec![cmd]);
        acceptor::accept(&mut self.d, s, round, value.clone());
        self.voted.insert(id, s);
        self.next_free = s.next();
        // The client is a learner too: a fast quorum of these tells it its command is chosen, two message
        // delays after it sent it.
        out.send(
            Peer::Client(client),
            FastMsg::Voted {
                round,
                slot: s,
                seq,
                ack,
            },
        );
        let vote = FastMsg::Vote {
            round,
            slot: s,
            value,
        };
        self.send_or_self(now, b.node, vote, out);
    }

    /// Votes for the requests that waited for a fast round to open (in arrival order).
    fn vote_waiting(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        for cmd in std::mem::take(&mut self.waiting) {
            self.fast_vote(now, cmd, out);
        }
    }

    fn on_propose(
        &mut self,
        now: Time,
        from: NodeId,
        round: Round,
        slot: Slot,
        value: Value,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        if round.ballot < self.d.log.promised || !round.classic {
            self.nack(from, out);
            return;
        }
        if slot < self.learner.base() {
            // Decided, applied and forgotten here: the coordinator has not heard it was decided.
            self.send_snapshot(from, out);
            return;
        }
        match self.d.log.accepted.get(&slot) {
            Some((r, v)) if *r == round && *v != value => return,
            Some((r, _)) if *r > round => return,
            _ => {}
        }
        if round.ballot > self.d.log.promised {
            self.promise(round.ballot);
            self.observe_ballot(now, round.ballot);
        }
        self.heard_from_leader(now, round.ballot);
        acceptor::accept(&mut self.d, slot, round, value.clone());
        self.send_or_self(now, from, FastMsg::Vote { round, slot, value }, out);
    }

    fn on_recover(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        range: (Slot, Slot),
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        let (lo, hi) = range;
        if ballot < self.d.log.promised {
            self.nack(from, out);
            return;
        }
        if ballot > self.d.log.promised {
            self.promise(ballot);
            self.observe_ballot(now, ballot);
        }
        if lo < self.learner.base() {
            // Votes below the base are gone: reporting none there could let the coordinator pick another value.
            self.send_snapshot(from, out);
            return;
        }
        let floor = if self.d.fast_floor.0 == ballot {
            self.d.fast_floor.1
        } else {
            Slot(0)
        };
        if self.d.fast_floor != (ballot, floor.max(hi.next())) {
            self.d.record(FastRecord::FastFloor {
                ballot,
                slot: floor.max(hi.next()),
            });
        }
        self.next_free = self.next_free.max(hi.next());
        let votes = self.d.log.reports(lo, Some(hi));
        let reply = FastMsg::Recovered {
            ballot,
            from: lo,
            to: hi,
            votes,
        };
        self.send_or_self(now, from, reply, out);
    }

    // ---- coordinator ----

    fn on_vote(
        &mut self,
        now: Time,
        from: NodeId,
        round: Round,
        slot: Slot,
        value: Value,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        let (c, f, n, mutant) = (self.classic, self.fast, self.n, self.mutant());
        if self.learner.is_decided(slot) {
            if let Role::Leader(co) = &mut self.role {
                co.slots.remove(&slot);
            }
            return;
        }
        let Role::Leader(co) = &mut self.role else {
            return;
        };
        if round.ballot != co.ballot {
            return;
        }
        let sv = co.slots.entry(slot).or_insert_with(|| SlotVotes {
            fast: BTreeMap::new(),
            classic: None,
            first_seen: now,
        });
        if round.classic {
            let Some((v, acks, _)) = &mut sv.classic else {
                return;
            };
            if *v != value {
                return;
            }
            acks.insert(from);
            if acks.len() >= c {
                let v = v.clone();
                self.counters.recoveries += 1;
                self.decide(now, slot, v, out);
            }
            return;
        }
        // The slot's first collision: a second distinct command among its fast votes.
        let unanimous_so_far = sv.fast.values().all(|v| sv.fast.values().next() == Some(v));
        if !sv.fast.is_empty() && unanimous_so_far && !sv.fast.values().any(|v| *v == value) {
            self.counters.collisions += 1;
        }
        sv.fast.insert(from, value.clone());
        let matching = sv.fast.values().filter(|v| **v == value).count();
        if matching >= f {
            self.decide(now, slot, value, out);
            return;
        }
        // A collision: no value can still reach a fast quorum. With a classic quorum of votes in hand,
        // recover at once in this ballot's classic round.
        let voters = sv.fast.len();
        let best = sv
            .fast
            .values()
            .map(|v| sv.fast.values().filter(|w| *w == v).count())
            .max()
            .unwrap_or(0);
        if best + (n - voters) < f && voters >= c && sv.classic.is_none() {
            let votes: Vec<_> = sv
                .fast
                .iter()
                .map(|(a, v)| (*a, round, v.clone()))
                .collect();
            if let Some(v) = recovery::pick(&votes, voters, n, f, mutant) {
                self.propose_classic(now, slot, v, out);
            }
        }
    }

    /// Proposes `value` for `slot` in the classic round of our ballot (at most once per slot).
    fn propose_classic(
        &mut self,
        now: Time,
        slot: Slot,
        value: Value,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        let me = self.me();
        let Role::Leader(co) = &mut self.role else {
            return;
        };
        let round = Round::classic(co.ballot);
        let sv = co.slots.entry(slot).or_insert_with(|| SlotVotes {
            fast: BTreeMap::new(),
            classic: None,
            first_seen: now,
        });
        if sv.classic.is_some() {
            return;
        }
        sv.classic = Some((value.clone(), NodeSet::EMPTY, now));
        out.broadcast(FastMsg::Propose {
            round,
            slot,
            value: value.clone(),
        });
        // Our own acceptor votes too.
        self.on_propose(now, me, round, slot, value, out);
    }

    fn decide(
        &mut self,
        now: Time,
        slot: Slot,
        value: Value,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        if !self.learner.learn(slot, value.clone(), out) {
            if let Role::Leader(co) = &mut self.role {
                co.slots.remove(&slot);
            }
            return;
        }
        let Role::Leader(co) = &mut self.role else {
            return;
        };
        let losers: Vec<Command> = co
            .slots
            .remove(&slot)
            .map(|sv| {
                let mut seen = Vec::new();
                for v in sv.fast.values() {
                    for cmd in v.commands() {
                        if !value.contains(cmd.id())
                            && !seen.iter().any(|c: &Command| c.id() == cmd.id())
                        {
                            seen.push(cmd.clone());
                        }
                    }
                }
                seen
            })
            .unwrap_or_default();
        self.apply(out);
        // Commands that lost this slot are sent to every acceptor again (and voted here), unless done already.
        for cmd in losers {
            let id = cmd.id();
            if self.learner.kv().is_acknowledged(id) || self.learner.kv().cached_reply(id).is_some()
            {
                continue;
            }
            out.broadcast(FastMsg::Request(cmd.clone()));
            self.fast_vote(now, cmd, out);
        }
    }

    /// Applies what is decided (the coordinator answers the clients), then compacts.
    fn apply(&mut self, out: &mut Effects<FastMsg, FastTimer>) {
        self.apply_decided(out);
        self.maybe_compact();
    }

    /// Drops decided values and votes well behind what is applied (see `Tuning::log_keep`).
    fn maybe_compact(&mut self) {
        let t = &self.setup.tuning;
        if let Some((upto, snap)) = self.learner.compact_if_due(t.log_keep, t.compact_every) {
            acceptor::truncate(&mut self.d, upto, snap);
        }
    }

    fn send_snapshot(&self, to: NodeId, out: &mut Effects<FastMsg, FastTimer>) {
        out.send(
            Peer::Replica(to),
            FastMsg::Snapshot {
                snap: Box::new(self.learner.snapshot()),
            },
        );
    }

    /// A peer's state machine, for slots this replica lags behind and that the peer forgot. Taken if it is
    /// ahead, and persisted (as a compaction) before anything of it is acted on. A coordinator takes one too:
    /// an acceptor asked about a slot it forgot answers with it, and those slots are decided.
    fn on_snapshot(&mut self, now: Time, snap: Snapshot, out: &mut Effects<FastMsg, FastTimer>) {
        let upto = snap.upto;
        if self.learner.install(snap.clone()) {
            acceptor::truncate(&mut self.d, upto, snap);
            self.apply(out);
        }
        // Whether or not it was ahead, it says the slots below it are decided: a coordinator stops proposing
        // and recovering there (an acceptor that forgot them answers with a snapshot, never a vote).
        let applied = self.learner.applied_upto();
        let mut orphans = Vec::new();
        if let Role::Leader(co) = &mut self.role {
            let rest = co.slots.split_off(&applied);
            for sv in std::mem::replace(&mut co.slots, rest).into_values() {
                for v in sv.fast.values().chain(sv.classic.as_ref().map(|c| &c.0)) {
                    orphans.extend(v.commands().iter().cloned());
                }
            }
            if co.range.as_ref().is_some_and(|rr| rr.from < applied) {
                co.range = None;
            }
        }
        // Commands that were voted into those slots but did not run there go out again, as after a collision.
        let mut sent = std::collections::HashSet::new();
        for cmd in orphans {
            let id = cmd.id();
            if self.learner.kv().has_run(id) || !sent.insert(id) {
                continue;
            }
            out.broadcast(FastMsg::Request(cmd.clone()));
            self.fast_vote(now, cmd, out);
        }
        self.retry_candidacy(now, out);
    }

    /// A candidate that was waiting to learn compacted slots may lead now.
    fn retry_candidacy(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        if matches!(&self.role, Role::Candidate(c) if c.promises.len() >= self.classic) {
            self.become_leader(now, out);
        }
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

    fn start_range_recovery(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        let me = self.me();
        let from = self.learner.first_undecided();
        let Role::Leader(co) = &mut self.role else {
            return;
        };
        let to = co
            .slots
            .keys()
            .next_back()
            .copied()
            .unwrap_or(from)
            .max(co.open_from)
            .max(from);
        co.stalled = (from, now);
        co.range = Some(RangeRecovery {
            from,
            to,
            replied: NodeSet::EMPTY,
            votes: BTreeMap::new(),
            sent_at: now,
        });
        let ballot = co.ballot;
        out.broadcast(FastMsg::Recover { ballot, from, to });
        self.on_recover(now, me, ballot, (from, to), out);
    }

    fn on_recovered(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        range: (Slot, Slot),
        votes: Vec<Report>,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        let (c, f, n, mutant) = (self.classic, self.fast, self.n, self.mutant());
        let Role::Leader(co) = &mut self.role else {
            return;
        };
        let Some(rr) = &mut co.range else {
            return;
        };
        if co.ballot != ballot || (rr.from, rr.to) != range || !rr.replied.insert(from) {
            return;
        }
        for (s, r, v) in votes {
            rr.votes.entry(s).or_default().push((from, r, v));
        }
        if rr.replied.len() < c {
            return;
        }
        let Some(rr) = co.range.take() else {
            return;
        };
        let q = rr.replied.len();
        for s in rr.from.0..=rr.to.0 {
            let slot = Slot(s);
            let taken = self.learner.is_decided(slot)
                || matches!(&self.role, Role::Leader(co) if co.slots.get(&slot).is_some_and(|sv| sv.classic.is_some()));
            if taken {
                continue;
            }
            let reports = rr.votes.get(&slot).map(Vec::as_slice).unwrap_or_default();
            let value = recovery::pick(reports, q, n, f, mutant).unwrap_or(Value::Noop);
            self.propose_classic(now, slot, value, out);
        }
    }

    // ---- elections ----

    fn start_election(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        let ballot = acceptor::new_ballot(&mut self.d, self.setup.id, false);
        let from = self.learner.first_undecided();
        let own = self.d.log.reports(from, None);
        let p1 = Phase1::start(ballot, from, now, own, self.d.log.compacted);
        let won = p1.promises.len() >= self.classic;
        self.role = Role::Candidate(p1);
        self.open = None;
        self.election.campaigning();
        out.broadcast(FastMsg::Prepare { ballot, from });
        if won {
            self.become_leader(now, out);
        }
    }

    fn on_promise(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        votes: Vec<Report>,
        compacted: Slot,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        let Role::Candidate(c) = &mut self.role else {
            return;
        };
        if !c.promise(from, ballot, votes, compacted) {
            return;
        }
        if c.promises.len() >= self.classic {
            self.become_leader(now, out);
        }
    }

    /// Phase 1 is won: every reported slot gets the value recovery allows (a no-op where none was voted), in
    /// the classic round of our ballot; every later slot is opened for fast voting.
    fn become_leader(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        let first = self.learner.first_undecided();
        if let Role::Candidate(c) = &mut self.role {
            // Slots below a promiser's compaction point are decided, but their votes are gone from its report:
            // lead only once we know them (asked of everyone here once, then on each tick; their arrival
            // retries).
            let mutant = self.setup.mutation == Mutation::LeadPastCompaction;
            match c.next(first, mutant) {
                Next::Lead => {}
                Next::Wait => return,
                Next::AskFrom(from) => {
                    out.broadcast(FastMsg::CatchUp { from });
                    return;
                }
            }
        }
        let Role::Candidate(c) = std::mem::replace(&mut self.role, Role::Follower) else {
            return;
        };
        // Fast voting opens past every reported vote and past every slot learned decided (while waiting for
        // compacted slots, say): promisers that compacted report no vote there, yet the slots are taken.
        let end = c.end(self.learner.known_end());
        let q = c.promises.len();
        let mut recovered = Vec::new();
        for s in c.from.0..end.0 {
            let slot = Slot(s);
            // A slot this replica already knows to be decided needs no proposal; followers catch up.
            if self.learner.is_decided(slot) {
                continue;
            }
            let reports = c
                .reports
                .0
                .get(&slot)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let value =
                recovery::pick(reports, q, self.n, self.fast, self.mutant()).unwrap_or(Value::Noop);
            recovered.push((slot, value));
        }
        self.role = Role::Leader(Coordinator {
            ballot: c.ballot,
            open_from: end,
            slots: BTreeMap::new(),
            range: None,
            stalled: (self.learner.first_undecided(), now),
        });
        self.election.won(self.me());
        for (slot, value) in recovered {
            self.propose_classic(now, slot, value, out);
        }
        self.open = Some((c.ballot, end));
        self.next_free = self.next_free.max(end);
        self.vote_waiting(now, out);
        out.broadcast(FastMsg::Open {
            ballot: c.ballot,
            from: end,
            commit: self.learner.first_undecided(),
        });
    }

    fn on_tick(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        out.set_timer(self.setup.tuning.heartbeat, FastTimer::Tick);
        let commit = self.learner.first_undecided();
        let retransmit = self.setup.tuning.retransmit;
        let (c, f, n, mutant) = (self.classic, self.fast, self.n, self.mutant());
        self.voted.retain(|_, s| *s >= commit);
        match &mut self.role {
            Role::Leader(co) => {
                out.broadcast(FastMsg::Open {
                    ballot: co.ballot,
                    from: co.open_from,
                    commit,
                });
                if co.stalled.0 != commit {
                    co.stalled = (commit, now);
                }
                let ballot = co.ballot;
                let mut recover_now = Vec::new();
                for (slot, sv) in co.slots.iter_mut() {
                    match &mut sv.classic {
                        Some((v, _, sent)) => {
                            if now.saturating_since(*sent) >= retransmit {
                                *sent = now;
                                out.broadcast(FastMsg::Propose {
                                    round: Round::classic(ballot),
                                    slot: *slot,
                                    value: v.clone(),
                                });
                            }
                        }
                        None => {
                            let stuck = now.saturating_since(sv.first_seen) >= retransmit;
                            if stuck && sv.fast.len() >= c {
                                let votes: Vec<_> = sv
                                    .fast
                                    .iter()
                                    .map(|(a, v)| (*a, Round::fast(ballot), v.clone()))
                                    .collect();
                                if let Some(v) = recovery::pick(&votes, votes.len(), n, f, mutant) {
                                    recover_now.push((*slot, v));
                                }
                            }
                        }
                    }
                }
                // The log is stuck at its first undecided slot while later slots have votes: a hole, or a slot
                // with too few votes to recover from them.
                let stalled = now.saturating_since(co.stalled.1) >= retransmit
                    && co.slots.keys().next_back().is_some_and(|s| *s >= commit);
                // An unanswered range recovery is sent again for the same range, so replies keep counting.
                let mut resend = None;
                if let Some(rr) = &mut co.range {
                    if now.saturating_since(rr.sent_at) >= retransmit {
                        rr.sent_at = now;
                        resend = Some(FastMsg::Recover {
                            ballot,
                            from: rr.from,
                            to: rr.to,
                        });
                    }
                }
                let start_range = co.range.is_none() && stalled;
                if let Some(m) = resend {
                    out.broadcast(m);
                }
                for (slot, v) in recover_now {
                    self.propose_classic(now, slot, v, out);
                }
                if start_range {
                    self.start_range_recovery(now, out);
                }
                return;
            }
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
