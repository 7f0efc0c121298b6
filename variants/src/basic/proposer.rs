//! Basic Paxos's proposer: the replica a client reached runs a full instance (Phase 1, then Phase 2) with a fresh
//! ballot in the lowest slot it believes free. A promise that reports an accepted value makes it finish that
//! value and move its own commands on; pre-emption backs off for a random, doubling time; unanswered phases are
//! sent again under the same ballot.

use super::{BasicMsg, BasicRecord, BasicReplica, BasicTimer, Phase, Proposal};
use crate::command::{Command, Value};
use crate::effects::Effects;
use crate::quorum::NodeSet;
use crate::replica::Mutation;
use crate::types::{Ballot, NodeId, Slot, Time};
use std::time::Duration;

impl BasicReplica {
    pub(super) fn fresh_ballot(&mut self) -> Ballot {
        let round = self.d.max_round + 1;
        self.d.record(BasicRecord::MaxRound(round));
        Ballot::new(round, self.me())
    }

    /// The lowest slot past every slot this replica has seen in use that is neither decided nor being proposed
    /// by us. Slots below that are someone else's (or were left open): proposing our commands there would
    /// only displace them again, so holes are closed by the stuck-slot no-ops instead.
    pub(super) fn free_slot(&self) -> Slot {
        let mut s = self.learner.first_undecided().max(self.seen_end);
        while self.learner.is_decided(s) || self.proposals.contains_key(&s) {
            s = s.next();
        }
        s
    }

    pub(super) fn start_proposals(&mut self, now: Time, out: &mut Effects<BasicMsg, BasicTimer>) {
        while !self.queue.is_empty() && self.proposals.len() < self.setup.tuning.max_inflight {
            let take = self.queue.len().min(self.setup.tuning.batch_max.max(1));
            let own: Vec<Command> = self.queue.drain(..take).collect();
            let slot = self.free_slot();
            self.proposals.insert(
                slot,
                Proposal {
                    ballot: Ballot::ZERO,
                    attempt: 0,
                    preempted: 0,
                    phase: Phase::BackingOff,
                    own,
                },
            );
            self.run_phase1(now, slot, out);
        }
    }

    /// (Re)starts a slot's instance with a fresh ballot.
    pub(super) fn run_phase1(
        &mut self,
        now: Time,
        slot: Slot,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) {
        let ballot = self.fresh_ballot();
        let Some(p) = self.proposals.get_mut(&slot) else {
            return;
        };
        p.ballot = ballot;
        p.attempt += 1;
        p.phase = Phase::Preparing {
            promises: NodeSet::EMPTY,
            best: None,
        };
        let attempt = p.attempt;
        out.set_timer(
            self.setup.tuning.retransmit,
            BasicTimer::Retry { slot, attempt },
        );
        out.broadcast(BasicMsg::Prepare { slot, ballot });
        let me = self.me();
        let reply = self.acceptor_prepare(slot, ballot);
        self.on_acceptor_reply(now, me, reply, out);
    }

    /// The proposer side: promises, acceptances, refusals and decisions for our instances.
    pub(super) fn on_acceptor_reply(
        &mut self,
        now: Time,
        from: NodeId,
        msg: BasicMsg,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) {
        match msg {
            BasicMsg::Promise {
                slot,
                ballot,
                accepted,
            } => {
                let Some(p) = self.proposals.get_mut(&slot) else {
                    return;
                };
                let Phase::Preparing { promises, best } = &mut p.phase else {
                    return;
                };
                if p.ballot != ballot || !promises.insert(from) {
                    return;
                }
                if let Some((b, v)) = accepted {
                    if best.as_ref().is_none_or(|(have, _)| b > *have) {
                        *best = Some((b, v));
                    }
                }
                if !self.setup.quorums.is_phase1_quorum(*promises) {
                    return;
                }
                let value = match best.take() {
                    Some((_, v)) if self.setup.mutation != Mutation::IgnorePromisedValues => v,
                    _ => Value::batch(p.own.clone()),
                };
                p.phase = Phase::Accepting {
                    acks: NodeSet::EMPTY,
                    value: value.clone(),
                };
                p.attempt += 1;
                let attempt = p.attempt;
                out.set_timer(
                    self.setup.tuning.retransmit,
                    BasicTimer::Retry { slot, attempt },
                );
                out.broadcast(BasicMsg::Accept {
                    slot,
                    ballot,
                    value: value.clone(),
                });
                let me = self.me();
                let reply = self.acceptor_accept(slot, ballot, value);
                self.on_acceptor_reply(now, me, reply, out);
            }
            BasicMsg::Accepted { slot, ballot } => {
                let Some(p) = self.proposals.get_mut(&slot) else {
                    return;
                };
                let Phase::Accepting { acks, value } = &mut p.phase else {
                    return;
                };
                if p.ballot != ballot || !acks.insert(from) {
                    return;
                }
                if self.setup.quorums.is_phase2_quorum(*acks) {
                    let value = value.clone();
                    out.broadcast(BasicMsg::Decide {
                        slot,
                        value: value.clone(),
                    });
                    self.learn(now, slot, value, out);
                }
            }
            BasicMsg::Nack { slot, promised } => {
                self.see_round(promised.round);
                let Some(p) = self.proposals.get_mut(&slot) else {
                    return;
                };
                if promised <= p.ballot || matches!(p.phase, Phase::BackingOff) {
                    return;
                }
                // Pre-empted: wait a random, growing time before trying again higher.
                p.phase = Phase::BackingOff;
                p.attempt += 1;
                p.preempted += 1;
                let base = self.setup.tuning.backoff.as_nanos() as f64;
                let factor = (1u64 << p.preempted.min(6)) as f64 * (0.5 + self.rng.next_f64());
                let attempt = p.attempt;
                out.set_timer(
                    Duration::from_nanos((base * factor) as u64),
                    BasicTimer::Retry { slot, attempt },
                );
            }
            BasicMsg::Decide { slot, value } => self.learn(now, slot, value, out),
            BasicMsg::Snapshot { snap } => self.on_snapshot(now, *snap, out),
            _ => {}
        }
    }

    /// A phase went unanswered: send its messages again under the same ballot (a fresh ballot would pre-empt
    /// the other proposers for nothing); after a pre-emption back-off, start over with a higher ballot.
    pub(super) fn on_retry(
        &mut self,
        now: Time,
        slot: Slot,
        attempt: u32,
        out: &mut Effects<BasicMsg, BasicTimer>,
    ) {
        let Some(p) = self.proposals.get(&slot) else {
            return;
        };
        if p.attempt != attempt {
            return;
        }
        let ballot = p.ballot;
        let msg = match &p.phase {
            Phase::BackingOff => return self.run_phase1(now, slot, out),
            Phase::Preparing { .. } => BasicMsg::Prepare { slot, ballot },
            Phase::Accepting { value, .. } => BasicMsg::Accept {
                slot,
                ballot,
                value: value.clone(),
            },
        };
        out.broadcast(msg);
        out.set_timer(
            self.setup.tuning.retransmit,
            BasicTimer::Retry { slot, attempt },
        );
    }
}
