//! Phase 1 from the candidate's side, for protocols that run it once for the whole log from one slot on
//! (Multi-Paxos and the protocols built on it, Fast Paxos): a fresh ballot, promises counted, what the promisers
//! report accepted, and the compaction points they report.
//!
//! Why one type: the traps are the same in every variant. A promise for another ballot or a second promise from
//! one node must not count; a report below the candidate's first slot says nothing about what it must re-propose;
//! and below a promiser's compaction point the promises report nothing (those values were forgotten because they
//! are decided), so a candidate must learn those slots before it leads or it could propose over a decided value.
//!
//! What a quorum is, and which value the reports force, differ by protocol: the variant asks its quorum system
//! whether the promises win, and the [`Tally`] keeps the reports in the form its rule needs ([`Highest`]: Paxos's
//! highest-ballot value per slot; [`AllReports`]: every vote per slot, for Fast Paxos's recovery rule).

use crate::command::Value;
use crate::quorum::NodeSet;
use crate::types::{Ballot, NodeId, Slot, Time};
use std::collections::BTreeMap;

/// How a candidate keeps what promises report accepted, for the rule that picks what it must re-propose.
pub trait Tally<R>: Default {
    fn add(&mut self, from: NodeId, slot: Slot, round: R, value: Value);
    /// The highest slot any report named.
    fn last(&self) -> Option<Slot>;
}

/// Per slot, the value accepted in the highest round: the value Paxos's Phase 1 forces.
#[derive(Debug)]
pub struct Highest<R>(pub BTreeMap<Slot, (R, Value)>);

impl<R> Default for Highest<R> {
    fn default() -> Self {
        Highest(BTreeMap::new())
    }
}

impl<R: Ord> Tally<R> for Highest<R> {
    #[inline]
    fn add(&mut self, _from: NodeId, slot: Slot, round: R, value: Value) {
        match self.0.get(&slot) {
            Some((have, _)) if *have >= round => {}
            _ => {
                self.0.insert(slot, (round, value));
            }
        }
    }
    fn last(&self) -> Option<Slot> {
        self.0.keys().next_back().copied()
    }
}

/// Per slot, every report with who made it: Fast Paxos's recovery counts votes per value.
#[derive(Debug)]
pub struct AllReports<R>(pub BTreeMap<Slot, Vec<(NodeId, R, Value)>>);

impl<R> Default for AllReports<R> {
    fn default() -> Self {
        AllReports(BTreeMap::new())
    }
}

impl<R> Tally<R> for AllReports<R> {
    #[inline]
    fn add(&mut self, from: NodeId, slot: Slot, round: R, value: Value) {
        self.0.entry(slot).or_default().push((from, round, value));
    }
    fn last(&self) -> Option<Slot> {
        self.0.keys().next_back().copied()
    }
}

/// What a candidate whose promises make a quorum does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Lead,
    /// Wait for the slots below a promiser's compaction point (their decided values or a snapshot).
    Wait,
    /// As `Wait`, and ask every replica for the decided log from this slot (once; the variant asks again on
    /// its ticks, since answers may be lost).
    AskFrom(Slot),
}

/// A candidacy: one ballot's Phase 1 for every slot from `from` on.
#[derive(Debug)]
pub struct Phase1<T> {
    pub ballot: Ballot,
    pub from: Slot,
    pub promises: NodeSet,
    pub reports: T,
    pub started: Time,
    /// The highest compaction point a promise reported: below it the promises say nothing.
    compacted: Slot,
    asked: bool,
}

impl<T> Phase1<T> {
    /// A candidacy whose first promise is the candidate's own (its acceptor's reports and compaction point).
    pub fn start<R>(
        ballot: Ballot,
        from: Slot,
        now: Time,
        own: Vec<(Slot, R, Value)>,
        own_compacted: Slot,
    ) -> Self
    where
        T: Tally<R>,
    {
        let mut p = Phase1 {
            ballot,
            from,
            promises: NodeSet::EMPTY,
            reports: T::default(),
            started: now,
            compacted: Slot(0),
            asked: false,
        };
        p.promise(ballot.node, ballot, own, own_compacted);
        p
    }

    /// Counts a promise; false (and nothing counted) when it is for another ballot or a repeat.
    pub fn promise<R>(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        reports: Vec<(Slot, R, Value)>,
        compacted: Slot,
    ) -> bool
    where
        T: Tally<R>,
    {
        if self.ballot != ballot || !self.promises.insert(from) {
            return false;
        }
        self.compacted = self.compacted.max(compacted);
        for (slot, round, value) in reports {
            if slot >= self.from {
                self.reports.add(from, slot, round, value);
            }
        }
        true
    }

    /// The compaction point the candidate must know the log up to before it leads.
    pub fn compacted(&self) -> Slot {
        self.compacted
    }

    /// With a quorum of promises in hand: lead, or first learn what lies below a compaction point.
    /// `unsafe_skip` is the `LeadPastCompaction` mutant, which leads at once.
    pub fn next(&mut self, first_undecided: Slot, unsafe_skip: bool) -> Next {
        if first_undecided >= self.compacted || unsafe_skip {
            Next::Lead
        } else if self.asked {
            Next::Wait
        } else {
            self.asked = true;
            Next::AskFrom(first_undecided)
        }
    }

    /// One past the last slot Phase 1 covers: past every report, and past what the candidate already knows
    /// decided. Everything from here on is free.
    pub fn end<R>(&self, known_end: Slot) -> Slot
    where
        T: Tally<R>,
    {
        self.reports
            .last()
            .map_or(self.from, |s| s.next())
            .max(self.from)
            .max(known_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Op};
    use crate::types::ClientId;

    fn b(round: u64, node: u32) -> Ballot {
        Ballot::new(round, NodeId(node))
    }

    fn put(seq: u64) -> Value {
        Value::batch(vec![Command {
            client: ClientId(1),
            seq,
            ack: seq,
            op: Op::Put {
                key: 1,
                value: bytes::Bytes::from_static(b"v"),
            },
        }])
    }

    #[test]
    fn only_one_promise_per_node_for_this_ballot_counts() {
        let mut p: Phase1<Highest<Ballot>> =
            Phase1::start(b(5, 0), Slot(3), Time(0), vec![], Slot(0));
        assert!(p.promise(NodeId(1), b(5, 0), vec![], Slot(0)));
        assert!(!p.promise(NodeId(1), b(5, 0), vec![], Slot(0)));
        assert!(!p.promise(NodeId(2), b(4, 0), vec![], Slot(0)));
        assert_eq!(p.promises.len(), 2);
    }

    #[test]
    fn the_highest_ballot_value_per_slot_is_kept_and_reports_below_the_start_are_ignored() {
        let mut p: Phase1<Highest<Ballot>> = Phase1::start(
            b(9, 0),
            Slot(3),
            Time(0),
            vec![(Slot(3), b(2, 0), put(1))],
            Slot(0),
        );
        p.promise(
            NodeId(1),
            b(9, 0),
            vec![(Slot(2), b(8, 1), put(7)), (Slot(3), b(4, 2), put(2))],
            Slot(0),
        );
        p.promise(
            NodeId(2),
            b(9, 0),
            vec![(Slot(3), b(3, 1), put(3))],
            Slot(0),
        );
        assert_eq!(p.reports.0.get(&Slot(3)), Some(&(b(4, 2), put(2))));
        assert!(!p.reports.0.contains_key(&Slot(2)));
        assert_eq!(p.end(Slot(0)), Slot(4));
        assert_eq!(p.end(Slot(10)), Slot(10));
    }

    #[test]
    fn every_report_is_kept_with_its_sender_for_recovery() {
        let mut p: Phase1<AllReports<u8>> = Phase1::start(
            b(1, 0),
            Slot(0),
            Time(0),
            vec![(Slot(0), 1, put(1))],
            Slot(0),
        );
        p.promise(NodeId(1), b(1, 0), vec![(Slot(0), 1, put(2))], Slot(0));
        let votes = &p.reports.0[&Slot(0)];
        assert_eq!(votes.len(), 2);
        assert_eq!(votes[1].0, NodeId(1));
    }

    #[test]
    fn a_candidate_behind_a_compaction_point_asks_once_then_waits_and_the_mutant_leads() {
        let mut p: Phase1<Highest<Ballot>> =
            Phase1::start(b(2, 0), Slot(1), Time(0), vec![], Slot(0));
        p.promise(NodeId(1), b(2, 0), vec![], Slot(40));
        assert_eq!(p.compacted(), Slot(40));
        assert_eq!(p.next(Slot(1), false), Next::AskFrom(Slot(1)));
        assert_eq!(p.next(Slot(1), false), Next::Wait);
        assert_eq!(p.next(Slot(1), true), Next::Lead);
        assert_eq!(p.next(Slot(40), false), Next::Lead);
    }
}
