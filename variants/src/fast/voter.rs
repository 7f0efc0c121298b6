//! Fast Paxos at an acceptor: a fast vote for the first command it receives in its next free slot of the open
//! fast round (sent to the coordinator and to the command's client), classic votes on the coordinator's
//! proposals, and the promise a range recovery asks for (no more fast votes below its end in this ballot).

use super::FastRecord;
use super::{FastMsg, FastReplica, FastTimer, Round};
use crate::command::{Command, CommandId, Value};
use crate::effects::Effects;
use crate::roles::acceptor;
use crate::types::{Ballot, NodeId, Peer, Slot, Time};

/// Most requests an acceptor keeps while no fast round is open (the rest wait for the client's retry).
const MAX_WAITING: usize = 1024;

impl FastReplica {
    /// Tells a replica acting under an older ballot which ballot this acceptor has promised.
    pub(super) fn nack(&self, to: NodeId, out: &mut Effects<FastMsg, FastTimer>) {
        out.send(
            Peer::Replica(to),
            FastMsg::Nack {
                promised: self.d.log.promised,
            },
        );
    }

    /// Whether this acceptor has a standing fast vote for `id` in an undecided slot of the current ballot.
    pub(super) fn has_live_vote(&self, id: CommandId) -> bool {
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
    pub(super) fn fast_vote(
        &mut self,
        now: Time,
        cmd: Command,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
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
    pub(super) fn vote_waiting(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        for cmd in std::mem::take(&mut self.waiting) {
            self.fast_vote(now, cmd, out);
        }
    }

    pub(super) fn on_propose(
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

    pub(super) fn on_recover(
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
}
