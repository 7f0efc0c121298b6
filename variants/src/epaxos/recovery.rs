//! Explicit prepare: a replica that has waited too long for an instance it depends on takes it over under a
//! higher ballot, learns what a majority holds of it, and finishes it:
//!
//! 1. somebody has it committed: commit that;
//! 2. somebody accepted it: run Accept with the attributes of the highest ballot accepted;
//! 3. the leader did not answer, and at least a majority less one of the answers (`F` when `N = 2F + 1`) pre-accepted it in the leader's own round with the
//!    same attributes, attributes that every other pre-accepting answer contains: the fast path may have
//!    committed exactly these, so run Accept with them. (The leader's proposal is contained in every answer
//!    to it, and equals the answers of a fast quorum if the fast path was taken; so such attributes are the
//!    only ones that fast path could have committed.) The leader's own answer shows it had not committed,
//!    and from then on it cannot: it promised this higher ballot;
//! 4. somebody pre-accepted it otherwise: start again from PreAccept with its command (no fast path);
//! 5. nobody saw it: commit a no-op, which waits for every earlier instance of its row (see
//!    [`Attrs::below`]).

use super::durable::EpaxosRecord;
use super::messages::{Attrs, EpaxosMsg, EpaxosTimer, InstanceId, Status, Voted};
use super::{Coord, EpaxosReplica, Phase};
use crate::command::Value;
use crate::effects::Effects;
use crate::types::{Ballot, NodeId, Time};

/// `a`'s attributes are contained in `b`'s.
fn within(a: &Attrs, b: &Attrs) -> bool {
    a.seq <= b.seq
        && a.deps.iter().all(|d| b.deps.binary_search(d).is_ok())
        && (!a.below || b.below)
}

impl EpaxosReplica {
    /// Starts recovering the instances something here has waited for longer than its recovery delay.
    pub(super) fn recover_stalled(&mut self, now: Time, out: &mut Effects<EpaxosMsg, EpaxosTimer>) {
        let base = self.setup.tuning.retransmit;
        let mut due: Vec<InstanceId> = self
            .exec
            .waiting_for
            .iter()
            .filter(|(id, since)| {
                !self.coords.contains_key(id)
                    && now.0.saturating_sub(since.0) >= base.as_nanos() as u64
            })
            .map(|(&id, _)| id)
            .collect();
        due.sort_unstable();
        for id in due {
            // Spread the replicas that wait for the same instance, so that one usually finishes it alone.
            let wait = self.random_delay(base);
            if let Some(since) = self.exec.waiting_for.get_mut(&id) {
                *since = Time(now.0 + wait.as_nanos() as u64);
            }
            self.start_recovery(now, id, out);
        }
    }

    pub(super) fn start_recovery(
        &mut self,
        now: Time,
        id: InstanceId,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let round = self
            .d
            .promised(id)
            .round
            .max(self.rounds.get(&id).copied().unwrap_or(0))
            + 1;
        let ballot = Ballot::new(round, self.me());
        self.d.record(EpaxosRecord::Promise { id, ballot });
        let own = self.d.vote(id).cloned();
        let (value, attrs) = own.as_ref().map_or((Value::Noop, Attrs::default()), |v| {
            (v.value.clone(), v.attrs.clone())
        });
        self.coords.insert(
            id,
            Coord {
                ballot,
                value,
                attrs,
                phase: Phase::Prepare {
                    replies: vec![(self.me(), own)],
                },
                sent_at: now,
                recovery: true,
            },
        );
        out.broadcast(EpaxosMsg::Prepare { id, ballot });
    }

    pub(super) fn on_prepare_ok(
        &mut self,
        now: Time,
        from: NodeId,
        id: InstanceId,
        ballot: Ballot,
        vote: Option<Voted>,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let majority = self.slow_replies() + 1;
        let Some(c) = self.coords.get_mut(&id) else {
            return;
        };
        let Phase::Prepare { replies } = &mut c.phase else {
            return;
        };
        if c.ballot != ballot || replies.iter().any(|(r, _)| *r == from) {
            return;
        }
        replies.push((from, vote));
        if replies.len() < majority {
            return;
        }
        let replies = std::mem::take(replies);
        self.decide_recovery(now, id, ballot, replies, out);
    }

    fn decide_recovery(
        &mut self,
        now: Time,
        id: InstanceId,
        ballot: Ballot,
        replies: Vec<(NodeId, Option<Voted>)>,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        let votes: Vec<(NodeId, &Voted)> = replies
            .iter()
            .filter_map(|(r, v)| v.as_ref().map(|v| (*r, v)))
            .collect();
        // 1. Committed somewhere.
        if let Some((_, v)) = votes.iter().find(|(_, v)| v.status == Status::Committed) {
            let (value, attrs) = (v.value.clone(), v.attrs.clone());
            self.commit_and_tell(now, id, value, attrs, out);
            return;
        }
        // 2. Accepted somewhere: the highest ballot's.
        if let Some((_, v)) = votes
            .iter()
            .filter(|(_, v)| v.status == Status::Accepted)
            .max_by_key(|(_, v)| v.ballot)
        {
            let (value, attrs) = (v.value.clone(), v.attrs.clone());
            return self.recover_with(now, id, value, attrs, out);
        }
        let pre: Vec<&Voted> = votes
            .iter()
            .filter(|(_, v)| v.status == Status::PreAccepted)
            .map(|(_, v)| *v)
            .collect();
        // 3. Perhaps committed on the fast path.
        let leader_answered = replies.iter().any(|(r, _)| *r == id.leader);
        if !leader_answered {
            let default = Ballot::new(0, id.leader);
            let in_leader_round: Vec<&Voted> = pre
                .iter()
                .copied()
                .filter(|v| v.ballot == default)
                .collect();
            // A fast quorum leaves out at most one replica besides the leader: if the fast path was taken, all
            // answers here but at most one (a majority less one, at least) hold its attributes.
            let f = self.slow_replies();
            let candidate = in_leader_round.iter().find(|v| {
                in_leader_round
                    .iter()
                    .filter(|w| w.attrs == v.attrs)
                    .count()
                    >= f
                    && pre.iter().all(|w| within(&v.attrs, &w.attrs))
            });
            if let Some(v) = candidate {
                let (value, attrs) = (v.value.clone(), v.attrs.clone());
                return self.recover_with(now, id, value, attrs, out);
            }
        }
        // 4. Seen but not chosen: start over from PreAccept, without the fast path.
        if let Some(v) = pre.first() {
            let value = v.value.clone();
            let mut attrs = self.conflicts.attrs_for(id, &value);
            for w in &pre {
                attrs.merge(&w.attrs);
            }
            self.coords.remove(&id);
            self.pre_accept(now, id, ballot, value, attrs, true, out);
            return;
        }
        // 5. Nobody saw it.
        let attrs = Attrs {
            seq: 0,
            deps: Vec::new(),
            below: true,
        };
        self.recover_with(now, id, Value::Noop, attrs, out);
    }

    /// Finishes a recovery with an Accept round for `value` and `attrs`.
    fn recover_with(
        &mut self,
        now: Time,
        id: InstanceId,
        value: Value,
        attrs: Attrs,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        if let Some(c) = self.coords.get_mut(&id) {
            c.value = value;
        }
        self.accept(now, id, attrs, out);
    }
}
