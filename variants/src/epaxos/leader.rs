//! The command leader's side: PreAccept, the fast path (a fast quorum returned the attributes unchanged), the
//! slow path (a majority's attributes merged, then a Paxos Accept round), and the retransmissions that carry
//! both through lost messages.

use super::{Coord, EpaxosReplica, Phase};
use crate::command::Value;
use crate::effects::Effects;
use crate::quorum::NodeSet;
use crate::types::{Ballot, NodeId, Time};

use super::messages::{Attrs, EpaxosMsg, EpaxosTimer, InstanceId, Status};

impl EpaxosReplica {
    /// Starts a new instance of this replica's row for `value`.
    pub(super) fn propose(
        &mut self,
        now: Time,
        value: Value,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let id = InstanceId {
            leader: self.me(),
            idx: self.next_idx,
        };
        self.next_idx += 1;
        let attrs = self.conflicts.attrs_for(id, &value);
        let ballot = Ballot::new(0, self.me());
        self.pre_accept(now, id, ballot, value, attrs, false, out);
    }

    /// Votes for `value` with `attrs` at `ballot` here, then asks every other replica to.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pre_accept(
        &mut self,
        now: Time,
        id: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attrs,
        recovery: bool,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        self.record_vote(
            id,
            Status::PreAccepted,
            ballot,
            value.clone(),
            attrs.clone(),
        );
        out.broadcast(EpaxosMsg::PreAccept {
            id,
            ballot,
            value: value.clone(),
            attrs: attrs.clone(),
        });
        self.coords.insert(
            id,
            Coord {
                ballot,
                value,
                attrs: attrs.clone(),
                phase: Phase::PreAccept {
                    replies: Vec::new(),
                    merged: attrs,
                },
                sent_at: now,
                recovery,
            },
        );
        // A fast quorum of one (the mutant's, at three replicas) needs no reply.
        self.pre_accept_progress(now, id, false, out);
    }

    pub(super) fn on_pre_accept_ok(
        &mut self,
        now: Time,
        from: NodeId,
        id: InstanceId,
        ballot: Ballot,
        attrs: Attrs,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let Some(c) = self.coords.get_mut(&id) else {
            return;
        };
        let Phase::PreAccept { replies, merged } = &mut c.phase else {
            return;
        };
        if c.ballot != ballot || replies.iter().any(|(r, _)| *r == from) {
            return;
        }
        merged.merge(&attrs);
        replies.push((from, attrs));
        self.pre_accept_progress(now, id, false, out);
    }

    /// Takes the fast path when the first `N - 2` replies all returned the proposal unchanged; otherwise the
    /// slow path once a majority answered (at once when the fast path is ruled out, or when `timed_out`).
    pub(super) fn pre_accept_progress(
        &mut self,
        now: Time,
        id: InstanceId,
        timed_out: bool,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let (fast, slow) = (self.fast_replies(), self.slow_replies());
        let Some(c) = self.coords.get(&id) else {
            return;
        };
        let Phase::PreAccept { replies, merged } = &c.phase else {
            return;
        };
        if !c.recovery
            && replies.len() >= fast
            && replies[..fast].iter().all(|(_, a)| *a == c.attrs)
        {
            let (value, attrs) = (c.value.clone(), c.attrs.clone());
            self.counters.fast_paths += 1;
            self.commit_and_tell(now, id, value, attrs, out);
            return;
        }
        // A reply that changed the attributes rules the fast path out (so do the first `fast` replies
        // disagreeing, which this covers).
        let fast_ruled_out = c.recovery || replies.iter().any(|(_, a)| *a != c.attrs);
        if replies.len() >= slow && (fast_ruled_out || timed_out) {
            let merged = merged.clone();
            if !c.recovery {
                self.counters.collisions += 1;
            }
            self.accept(now, id, merged, out);
        }
    }

    /// The Paxos Accept round for `attrs` (the value is the coordinator's).
    pub(super) fn accept(
        &mut self,
        now: Time,
        id: InstanceId,
        attrs: Attrs,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let Some(c) = self.coords.get_mut(&id) else {
            return;
        };
        c.attrs = attrs.clone();
        let mut acks = NodeSet::EMPTY;
        acks.insert(self.setup.id);
        c.phase = Phase::Accept { acks };
        c.sent_at = now;
        let (ballot, value) = (c.ballot, c.value.clone());
        self.record_vote(id, Status::Accepted, ballot, value.clone(), attrs.clone());
        out.broadcast(EpaxosMsg::Accept {
            id,
            ballot,
            value,
            attrs,
        });
        self.accept_progress(now, id, out);
    }

    pub(super) fn on_accept_ok(
        &mut self,
        now: Time,
        from: NodeId,
        id: InstanceId,
        ballot: Ballot,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let Some(c) = self.coords.get_mut(&id) else {
            return;
        };
        let Phase::Accept { acks } = &mut c.phase else {
            return;
        };
        if c.ballot == ballot {
            acks.insert(from);
            self.accept_progress(now, id, out);
        }
    }

    fn accept_progress(
        &mut self,
        now: Time,
        id: InstanceId,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let majority = self.slow_replies() + 1;
        let Some(c) = self.coords.get(&id) else {
            return;
        };
        if matches!(&c.phase, Phase::Accept { acks } if acks.len() >= majority) {
            let (value, attrs) = (c.value.clone(), c.attrs.clone());
            if c.recovery {
                self.counters.recoveries += 1;
            }
            self.commit_and_tell(now, id, value, attrs, out);
        }
    }

    /// Somebody promised a higher ballot for `id`: this replica's round there is over (whoever took over
    /// finishes the instance, with this replica's value if it saw it).
    pub(super) fn on_nack(
        &mut self,
        now: Time,
        id: InstanceId,
        promised: Ballot,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let r = self.rounds.entry(id).or_default();
        *r = (*r).max(promised.round);
        if matches!(self.coords.get(&id), Some(c) if c.ballot < promised) {
            self.coords.remove(&id);
            self.flush(now, out);
        }
    }

    /// Sends the current phase again for rounds that have waited `retransmit`; a PreAccept that has a majority
    /// but no fast quorum by then takes the slow path.
    pub(super) fn retransmit(&mut self, now: Time, out: &mut Effects<EpaxosMsg, EpaxosTimer>) {
        let after = self.setup.tuning.retransmit;
        let mut due: Vec<InstanceId> = self
            .coords
            .iter()
            .filter(|(_, c)| now.0.saturating_sub(c.sent_at.0) >= after.as_nanos() as u64)
            .map(|(&id, _)| id)
            .collect();
        // In a fixed order: the simulator replays a seed exactly only if every output comes in the same order.
        due.sort_unstable();
        for id in due {
            if let Some(Coord {
                phase: Phase::PreAccept { .. },
                ..
            }) = self.coords.get(&id)
            {
                self.pre_accept_progress(now, id, true, out);
            }
            // Committed, or just moved on to the slow path (whose Accept went out now): nothing to resend.
            let Some(c) = self.coords.get_mut(&id).filter(|c| c.sent_at != now) else {
                continue;
            };
            c.sent_at = now;
            let msg = match &c.phase {
                Phase::PreAccept { .. } => EpaxosMsg::PreAccept {
                    id,
                    ballot: c.ballot,
                    value: c.value.clone(),
                    attrs: c.attrs.clone(),
                },
                Phase::Accept { .. } => EpaxosMsg::Accept {
                    id,
                    ballot: c.ballot,
                    value: c.value.clone(),
                    attrs: c.attrs.clone(),
                },
                Phase::Prepare { .. } => EpaxosMsg::Prepare {
                    id,
                    ballot: c.ballot,
                },
            };
            out.broadcast(msg);
        }
    }
}
