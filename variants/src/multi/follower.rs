//! Multi-Paxos at an acceptor that follows a leader: Phase 2b (accept, or refuse a stale ballot), heartbeats,
//! and learning decisions from the commit index the leader piggybacks on both.

use super::reconfig::Reconfig;
use super::{MultiMsg, MultiReplica, MultiTimer};
use crate::command::Value;
use crate::effects::Effects;
use crate::replica::Mutation;
use crate::roles::acceptor;
use crate::types::{Ballot, NodeId, Peer, Slot, Time};

impl<P: Reconfig> MultiReplica<P> {
    pub(super) fn heard_from_leader(&mut self, now: Time, ballot: Ballot) {
        if ballot.node != self.me() {
            self.election.heard_leader(now, ballot.node);
        }
    }

    /// Slots below `commit` are decided under `ballot`; those we accepted under that same ballot hold the
    /// decided value. For the others we ask the leader.
    pub(super) fn learn_commit(
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
    pub(super) fn on_accept(
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

    /// A leader's heartbeat: its ballot is promised (or refused, if stale) and its commit index learned from.
    pub(super) fn on_heartbeat(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        commit: Slot,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        if ballot >= self.d.promised {
            self.promise(ballot);
            self.observe_ballot(now, ballot, out);
            self.heard_from_leader(now, ballot);
            self.learn_commit(ballot, commit, out);
        } else {
            let promised = self.d.promised;
            out.send(Peer::Replica(from), MultiMsg::Nack { promised });
        }
    }
}
