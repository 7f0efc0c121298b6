//! Becoming Multi-Paxos's leader: a fresh ballot, Phase 1 over every slot from the first undecided one (the
//! [`Phase1`] role counts promises and keeps the highest-ballot report per slot), and, once the policy says the
//! promises win, the values Phase 1 forces re-proposed under the new ballot, holes filled with no-ops.

use super::reconfig::Reconfig;
use super::{Candidate, Leader, MultiMsg, MultiReplica, MultiTimer, Role};
use crate::command::Value;
use crate::effects::Effects;
use crate::replica::Mutation;
use crate::roles::acceptor;
use crate::roles::lease::LeaseHolder;
use crate::roles::phase1::{Next, Phase1};
use crate::types::{Ballot, NodeId, Slot, Time};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

impl<P: Reconfig> MultiReplica<P> {
    /// Whether the candidate's promises win Phase 1 (the policy also sees the values they reported).
    pub(super) fn candidate_won(&self) -> bool {
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

    pub(super) fn start_election(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
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
        let lease_wait = self.lease_wait_until(now, self.lease_left(ballot, now));
        self.role = Role::Candidate(Candidate {
            p1,
            waiting,
            lease_wait,
            won_at: None,
        });
        self.election.campaigning();
        out.broadcast(MultiMsg::Prepare { ballot, from });
        if self.candidate_won() {
            self.become_leader(now, out);
        }
    }

    pub(super) fn on_promise(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        (accepted, compacted): (Vec<(Slot, Ballot, Value)>, Slot),
        lease_left: Option<Duration>,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let wait = self.lease_wait_until(now, lease_left);
        let Role::Candidate(c) = &mut self.role else {
            return;
        };
        if !c.p1.promise(from, ballot, accepted, compacted) {
            return;
        }
        c.lease_wait = c.lease_wait.max(wait);
        if self.candidate_won() {
            self.become_leader(now, out);
        }
    }

    /// Phase 1 is won: re-propose, under our ballot, the highest-ballot value reported for every slot from
    /// `from` on, fill holes with no-ops, then serve clients.
    pub(super) fn become_leader(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
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
            // An earlier leader's lease may still run: neither commit nor read until it has ended.
            if now < c.lease_wait {
                if c.won_at.is_none() {
                    c.won_at = Some(now);
                    out.set_timer(c.lease_wait.saturating_since(now), MultiTimer::LeaseWait);
                }
                return;
            }
            if let Some(won) = c.won_at {
                self.read_counts.lease_waits += 1;
                self.read_counts.lease_wait_ns += now.saturating_since(won).as_nanos() as u64;
            }
        }
        let Role::Candidate(c) = std::mem::replace(&mut self.role, Role::Follower) else {
            return;
        };
        let Candidate { p1: c, waiting, .. } = c;
        let end = c.end(self.learner.known_end());
        let mut leader = Leader {
            ballot: c.ballot,
            next_slot: end,
            inflight: BTreeMap::new(),
            pending: VecDeque::new(),
            proposed: BTreeSet::new(),
            lease: LeaseHolder::new(c.ballot),
            reads_from: end,
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
        self.send_heartbeat(now, None, out);
        self.try_propose(now, out);
    }

    /// A candidate that was waiting to learn compacted slots may lead now.
    pub(super) fn retry_candidacy(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        if self.candidate_won() {
            self.become_leader(now, out);
        }
    }
}
