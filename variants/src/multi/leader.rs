//! Multi-Paxos's steady state at the leader: one Phase 2 round trip per slot, up to `max_inflight` slots in
//! flight, waiting commands batched into the next slot, heartbeats and retransmissions on each tick.

use super::reconfig::{InflightView, Reconfig};
use super::{Inflight, MultiMsg, MultiReplica, MultiTimer, Role};
use crate::command::{Command, Value};
use crate::effects::Effects;
use crate::quorum::{Membership, NodeSet};
use crate::roles::acceptor;
use crate::types::{Ballot, NodeId, Peer, Slot, Time};

impl<P: Reconfig> MultiReplica<P> {
    /// A Phase 2 quorum for `slot` (the policy also sees the values in flight before it).
    pub(super) fn phase2_quorum(&self, slot: Slot, acks: NodeSet) -> bool {
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

    /// Sends one slot's Accept to everyone and accepts it locally.
    pub(super) fn propose(
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
    pub(super) fn try_propose(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
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

    pub(super) fn decide(&mut self, slot: Slot, out: &mut Effects<MultiMsg, MultiTimer>) {
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

    /// Phase 2b at the leader: an acceptance of one of its slots.
    pub(super) fn on_accepted(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
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

    /// A heartbeat to the followers (to the ones the policy names), asking for a lease on the lease path.
    /// `targeted`: the commit index to pick the policy's recipients by; `None` sends to everyone.
    pub(super) fn send_heartbeat(
        &mut self,
        now: Time,
        targeted: Option<Slot>,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let commit = self.learner.first_undecided();
        let me = self.me();
        let leases = self.leases();
        let lease_len = self.setup.reads.lease;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let ballot = l.ballot;
        let heartbeat = if leases {
            l.lease.asked(now, me);
            self.grants.grant(ballot, now, lease_len);
            MultiMsg::LeaseAsk {
                ballot,
                commit,
                stamp: now,
            }
        } else {
            MultiMsg::Heartbeat { ballot, commit }
        };
        match targeted.and_then(|c| self.membership.heartbeat_to(c)) {
            Some(to) => {
                for r in Membership::ids(to).filter(|&r| r != me) {
                    out.send(Peer::Replica(r), heartbeat.clone());
                }
            }
            None => out.broadcast(heartbeat),
        }
    }

    /// The leader's tick: heartbeats, Accepts that waited too long sent again, and the membership change the
    /// policy may ask for.
    pub(super) fn leader_tick(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        let commit = self.learner.first_undecided();
        let retransmit = self.setup.tuning.retransmit;
        let me = self.me();
        self.send_heartbeat(now, Some(commit), out);
        let Role::Leader(l) = &mut self.role else {
            return;
        };
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
    }
}
