//! Becoming Fast Paxos's coordinator: Phase 1 over every slot from the first undecided one (the [`Phase1`] role
//! keeps every reported vote), the value [`recovery::pick`] allows proposed for each reported slot in the classic
//! round, and fast voting opened past them.

use super::{recovery, Coordinator, FastMsg, FastReplica, FastTimer, Report, Role};
use crate::command::Value;
use crate::effects::Effects;
use crate::replica::Mutation;
use crate::roles::acceptor;
use crate::roles::phase1::{Next, Phase1};
use crate::types::{Ballot, NodeId, Slot, Time};
use std::collections::BTreeMap;

impl FastReplica {
    pub(super) fn start_election(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
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

    pub(super) fn on_promise(
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
    pub(super) fn become_leader(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
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

    /// A candidate that was waiting to learn compacted slots may lead now.
    pub(super) fn retry_candidacy(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        if matches!(&self.role, Role::Candidate(c) if c.promises.len() >= self.classic) {
            self.become_leader(now, out);
        }
    }
}
