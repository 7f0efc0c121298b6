//! Fast Paxos's coordinator: counting fast votes (a fast quorum of one value decides it), collision recovery
//! in the classic round of the same ballot (coordinated recovery, section 3.4 of the paper), range recovery for
//! holes and stuck slots, and the coordinator's tick.

use super::{
    recovery, FastMsg, FastReplica, FastTimer, RangeRecovery, Report, Role, Round, SlotVotes,
};
use crate::command::{Command, Value};
use crate::effects::Effects;
use crate::quorum::NodeSet;
use crate::types::{Ballot, NodeId, Slot, Time};
use std::collections::BTreeMap;

impl FastReplica {
    pub(super) fn on_vote(
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
    pub(super) fn propose_classic(
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

    pub(super) fn decide(
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

    pub(super) fn start_range_recovery(
        &mut self,
        now: Time,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
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

    pub(super) fn on_recovered(
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

    /// The coordinator's tick: `Open` with the commit index, classic proposals sent again, slots stuck with
    /// enough votes recovered, and a range recovery when the log is stuck at a hole.
    pub(super) fn coordinator_tick(&mut self, now: Time, out: &mut Effects<FastMsg, FastTimer>) {
        let commit = self.learner.first_undecided();
        let retransmit = self.setup.tuning.retransmit;
        let (c, f, n, mutant) = (self.classic, self.fast, self.n, self.mutant());
        let Role::Leader(co) = &mut self.role else {
            return;
        };
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
    }
}
