//! Raft (Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm", USENIX ATC 2014), as a
//! reference baseline beside the Paxos family.
//!
//! What it shares with the Paxos variants is the suite's roles: the client door ([`front`]), the election
//! timing ([`Election`]: randomized timeouts in `[t, 2t)`), the learner and its snapshots ([`Learner`]) and
//! the write-ahead journal. What is Raft's own lives here:
//!
//! - [`log`]: the durable term, vote and log, and the up-to-date rule;
//! - [`vote`]: elections (RequestVote, one vote per term, granted only to a log at least as up to date);
//! - [`replicate`]: the leader (AppendEntries with the log-matching check, per-follower next and match
//!   positions, commitment of current-term entries by majority only: the rule of the paper's Figure 8);
//! - [`follower`]: the consistency check, conflict truncation and the leader's snapshots.
//!
//! A new leader appends an empty entry of its term at once (section 8 of the paper), so the entries of earlier
//! terms it holds commit as soon as that entry does, without waiting for a client. Pipelining and batching are
//! as in Multi-Paxos: up to `max_inflight` uncommitted entries, commands that wait go out together (up to
//! `batch_max` per entry). Followers answer clients with a redirect. No pre-vote (section 9.6 of Ongaro's
//! thesis): a replica cut off and brought back may raise the term and cost one election.

use crate::client::LeaderClient;
use crate::command::{Command, CommandId};
use crate::effects::Effects;
use crate::journal::Journaled;
use crate::quorum::NodeSet;
use crate::replica::{Counters, DurableRecord, Replica, ReplicaSetup, ReplicaStatus, Variant};
use crate::roles::election::Election;
use crate::roles::front::{self, Door};
use crate::roles::learner::Learner;
use crate::types::{NodeId, Peer, Slot, Time};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod follower;
pub mod log;
mod messages;
mod replicate;
mod vote;

pub use log::{RaftDurable, RaftRecord};
pub use messages::{AppendEntries, Entry, RaftMsg, RaftTimer};

pub struct Raft;

impl Variant for Raft {
    const NAME: &'static str = "raft";
    const QUORUMS: crate::quorum::QuorumKind = crate::quorum::QuorumKind::MajorityOnly;
    type Msg = RaftMsg;
    type Replica = RaftReplica;
    type Client = LeaderClient<RaftMsg>;
}

#[derive(Debug)]
struct Leader {
    /// Per replica: the next slot to send it.
    next: Vec<u64>,
    /// Per replica: how far its log is known to match this leader's.
    matched: Vec<u64>,
    /// Per replica: when its match last moved or its entries were last sent again.
    progress_at: Vec<Time>,
    /// Per replica: when a refusal last made this leader back up and send again. Refusals that follow within
    /// `retransmit` are answered by that resend (messages overtaking each other make a follower refuse every
    /// append after a gap, and resending for each would send the window many times over).
    backed_up_at: Vec<Option<Time>>,
    pending: VecDeque<Command>,
    /// Commands waiting or in the log under this leadership, so a retry is not appended twice.
    proposed: BTreeSet<CommandId>,
}

#[derive(Debug)]
struct Candidate {
    votes: NodeSet,
    started: Time,
    /// Client commands that arrived during the candidacy (appended once it leads).
    waiting: Vec<Command>,
}

#[derive(Debug)]
enum Role {
    Follower,
    Candidate(Candidate),
    Leader(Leader),
}

#[derive(Debug)]
pub struct RaftReplica {
    setup: ReplicaSetup,
    d: Journaled<RaftDurable>,
    learner: Learner,
    role: Role,
    election: Election,
    /// Slots below this are committed (and learned).
    commit: u64,
    /// Appends of the current term that arrived ahead of a gap in this log, by where they start.
    early: BTreeMap<u64, AppendEntries>,
}

impl RaftReplica {
    fn boot(setup: ReplicaSetup, d: RaftDurable, now: Time) -> Self {
        let election = Election::new(setup.seed, setup.tuning.election_timeout, now);
        let mut r = RaftReplica {
            d: Journaled::new(d),
            learner: Learner::new(),
            role: Role::Follower,
            election,
            commit: 0,
            early: BTreeMap::new(),
            setup,
        };
        // A restart begins from the persisted state machine; the committed entries after it come back as the
        // leader's commit index reaches this replica.
        if let Some(snap) = r.d.snapshot.clone() {
            r.learner.install(snap);
        }
        r.commit = r.learner.applied_upto().0;
        r
    }

    fn me(&self) -> NodeId {
        self.setup.id
    }

    fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    fn others(&self) -> impl Iterator<Item = NodeId> {
        let (me, n) = (self.me(), self.setup.n() as u32);
        (0..n).map(NodeId).filter(move |&r| r != me)
    }

    /// Any message of a later term makes this replica a follower in it; a leader of the current term
    /// (`leader`) ends a candidacy too.
    fn see_term(
        &mut self,
        now: Time,
        term: u64,
        leader: Option<NodeId>,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        if term > self.d.term {
            self.d.record(RaftRecord::Term {
                term,
                voted_for: None,
            });
            self.early.clear();
            self.step_down(now, leader, out);
        } else if term == self.d.term && leader.is_some() && !self.is_leader() {
            self.step_down(now, leader, out);
        }
    }

    fn step_down(
        &mut self,
        now: Time,
        leader: Option<NodeId>,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        let old = std::mem::replace(&mut self.role, Role::Follower);
        let mut redirect = |cmd: &Command| front::redirect(out, cmd, leader);
        match old {
            Role::Leader(l) => {
                l.pending.iter().for_each(&mut redirect);
                // Commands in uncommitted entries may yet commit under the next leader; their clients retry
                // there and the state machine's exactly-once table answers a second copy.
                for s in self.commit..self.d.len() {
                    if let Some(e) = self.d.entry(s) {
                        e.value.commands().iter().for_each(&mut redirect);
                    }
                }
            }
            Role::Candidate(c) => c.waiting.iter().for_each(&mut redirect),
            Role::Follower => {}
        }
        match leader {
            Some(l) => self.election.stepped_down(now, l),
            None => self.election.stepped_down_unled(now),
        }
    }

    /// Learns the entries up to `upto` as committed (each is this slot's decision), then applies them.
    fn commit_to(&mut self, upto: u64, out: &mut Effects<RaftMsg, RaftTimer>) {
        let upto = upto.min(self.d.len());
        while self.commit < upto {
            let s = self.commit;
            if let Some(e) = self.d.entry(s) {
                self.learner.learn(Slot(s), e.value.clone(), out);
            }
            self.commit += 1;
        }
        self.apply(out);
    }

    /// Applies what is committed (the leader answers the clients), then compacts.
    fn apply(&mut self, out: &mut Effects<RaftMsg, RaftTimer>) {
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
        self.maybe_compact();
    }

    /// Replaces the log's applied prefix by the state machine, keeping `log_keep` entries for followers that
    /// lag a little (see [`Tuning::log_keep`](crate::replica::Tuning)).
    fn maybe_compact(&mut self) {
        let t = &self.setup.tuning;
        let Some(upto) = self.learner.compaction_due(t.log_keep, t.compact_every) else {
            return;
        };
        let Some(upto_term) = self.d.term_before(upto.0) else {
            return;
        };
        if let Some((upto, snap)) = self.learner.compact_if_due(t.log_keep, t.compact_every) {
            self.d.record(RaftRecord::Snapshot {
                upto,
                upto_term,
                snap: Box::new(snap),
            });
        }
    }

    fn on_request(&mut self, cmd: Command, out: &mut Effects<RaftMsg, RaftTimer>) {
        match &mut self.role {
            Role::Leader(l) => match front::admit(self.learner.kv(), &mut l.proposed, &cmd) {
                Door::Answered(reply) => front::reply(out, &cmd, reply),
                Door::Known => {}
                Door::Take => {
                    l.pending.push_back(cmd);
                    self.try_append(out);
                }
            },
            Role::Candidate(c) => c.waiting.push(cmd),
            Role::Follower => {
                let leader = self.election.leader().filter(|&l| l != self.me());
                front::redirect(out, &cmd, leader);
            }
        }
    }

    fn on_tick(&mut self, now: Time, out: &mut Effects<RaftMsg, RaftTimer>) {
        out.set_timer(self.setup.tuning.heartbeat, RaftTimer::Tick);
        match &self.role {
            Role::Leader(_) => self.leader_tick(now, out),
            Role::Candidate(c) => {
                if self.election.candidacy_timed_out(c.started, now) {
                    self.election.lost();
                    self.start_election(now, out);
                }
            }
            Role::Follower => {
                if self.election.follower_timed_out(now) {
                    self.start_election(now, out);
                }
            }
        }
    }
}

impl Replica for RaftReplica {
    type Msg = RaftMsg;
    type Timer = RaftTimer;
    type Durable = RaftDurable;

    fn new(setup: ReplicaSetup, now: Time, out: &mut Effects<RaftMsg, RaftTimer>) -> Self {
        let leads = setup.id == setup.initial_leader;
        let initial = setup.initial_leader;
        let mut r = Self::boot(setup, RaftDurable::default(), now);
        out.set_timer(r.setup.tuning.heartbeat, RaftTimer::Tick);
        if leads {
            r.start_election(now, out);
        } else {
            r.election.assume(initial);
        }
        r
    }

    fn recover(
        setup: ReplicaSetup,
        durable: RaftDurable,
        now: Time,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) -> Self {
        let r = Self::boot(setup, durable, now);
        out.set_timer(r.setup.tuning.heartbeat, RaftTimer::Tick);
        r
    }

    fn on_message(
        &mut self,
        now: Time,
        from: Peer,
        msg: RaftMsg,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        let from = match from {
            Peer::Client(c) => {
                // A client may only make requests, and only its own; anything else from it is dropped.
                if let Some(cmd) = front::own_request(c, msg) {
                    self.on_request(cmd, out);
                }
                return;
            }
            Peer::Replica(r) => r,
        };
        match msg {
            RaftMsg::Request(_) | RaftMsg::ToClient(_) => {}
            RaftMsg::RequestVote {
                term,
                len,
                last_term,
            } => self.on_request_vote(now, from, term, (len.0, last_term), out),
            RaftMsg::Vote { term, granted } => self.on_vote(now, from, term, granted, out),
            RaftMsg::Append(a) => self.on_append(now, from, a, out),
            RaftMsg::AppendReply { term, ok, len } => {
                self.on_append_reply(now, from, term, ok, len.0, out)
            }
            RaftMsg::InstallSnapshot {
                term,
                last_term,
                snap,
            } => self.on_install_snapshot(now, from, term, last_term, *snap, out),
        }
    }

    fn on_timer(&mut self, now: Time, timer: RaftTimer, out: &mut Effects<RaftMsg, RaftTimer>) {
        match timer {
            RaftTimer::Tick => self.on_tick(now, out),
        }
    }

    fn durable(&self) -> &RaftDurable {
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
            counters: Counters::default(),
            held_entries: self.learner.held() + self.d.entries.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests;
