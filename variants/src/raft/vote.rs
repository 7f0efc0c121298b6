//! Raft's elections (section 5.2 and 5.4.1): a follower that hears no leader for its randomized timeout starts a
//! new term, votes for itself and asks the others; each replica votes at most once per term, durably, and only
//! for a candidate whose log is at least as up to date as its own; a majority of votes makes a leader.

use super::{Candidate, Leader, RaftMsg, RaftRecord, RaftReplica, RaftTimer, Role};
use crate::command::Value;
use crate::effects::Effects;
use crate::quorum::NodeSet;
use crate::replica::Mutation;
use crate::roles::front::{self, Door};
use crate::types::{NodeId, Peer, Slot, Time};
use std::collections::{BTreeSet, VecDeque};

impl RaftReplica {
    pub(super) fn start_election(&mut self, now: Time, out: &mut Effects<RaftMsg, RaftTimer>) {
        let term = self.d.term + 1;
        let me = self.me();
        self.d.record(RaftRecord::Term {
            term,
            voted_for: Some(me),
        });
        let waiting = match std::mem::replace(&mut self.role, Role::Follower) {
            Role::Candidate(c) => c.waiting,
            Role::Leader(l) => l.pending.into_iter().collect(),
            Role::Follower => Vec::new(),
        };
        let mut votes = NodeSet::EMPTY;
        votes.insert(me);
        self.role = Role::Candidate(Candidate {
            votes,
            started: now,
            waiting,
        });
        self.election.campaigning();
        out.broadcast(RaftMsg::RequestVote {
            term,
            len: Slot(self.d.len()),
            last_term: self.d.last_term(),
        });
        if self.setup.quorums.is_phase1_quorum(votes) {
            self.become_leader(now, out);
        }
    }

    pub(super) fn on_request_vote(
        &mut self,
        now: Time,
        from: NodeId,
        term: u64,
        (len, last_term): (u64, u64),
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        self.see_term(now, term, None, out);
        let free = self.d.voted_for.is_none_or(|v| v == from);
        let up_to_date = self.setup.mutation == Mutation::RaftVotesForStaleLog
            || self.d.at_most_as_up_to_date_as(len, last_term);
        let granted = term == self.d.term && free && up_to_date;
        if granted {
            if self.d.voted_for.is_none() {
                self.d.record(RaftRecord::Term {
                    term,
                    voted_for: Some(from),
                });
            }
            // Give the candidate time to win before this replica runs itself.
            self.election.wait(now);
        }
        out.send(
            Peer::Replica(from),
            RaftMsg::Vote {
                term: self.d.term,
                granted,
            },
        );
    }

    pub(super) fn on_vote(
        &mut self,
        now: Time,
        from: NodeId,
        term: u64,
        granted: bool,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        self.see_term(now, term, None, out);
        if term != self.d.term || !granted {
            return;
        }
        let Role::Candidate(c) = &mut self.role else {
            return;
        };
        c.votes.insert(from);
        if self.setup.quorums.is_phase1_quorum(c.votes) {
            self.become_leader(now, out);
        }
    }

    fn become_leader(&mut self, now: Time, out: &mut Effects<RaftMsg, RaftTimer>) {
        let Role::Candidate(c) = std::mem::replace(&mut self.role, Role::Follower) else {
            return;
        };
        let n = self.setup.n();
        let len = self.d.len();
        let mut leader = Leader {
            next: vec![len; n],
            matched: vec![0; n],
            progress_at: vec![now; n],
            backed_up_at: vec![None; n],
            pending: VecDeque::new(),
            proposed: BTreeSet::new(),
        };
        for cmd in c.waiting {
            match front::admit(self.learner.kv(), &mut leader.proposed, &cmd) {
                Door::Answered(reply) => front::reply(out, &cmd, reply),
                Door::Known => {}
                Door::Take => leader.pending.push_back(cmd),
            }
        }
        self.role = Role::Leader(leader);
        self.election.won(self.me());
        // An empty entry of the new term: once it commits, so does every earlier entry this leader holds.
        if self.setup.mutation != Mutation::RaftCommitsEarlierTermByCount {
            self.append_value(Value::Noop);
        }
        self.try_append(out);
        self.send_all(out);
        self.advance_commit(out);
    }
}
