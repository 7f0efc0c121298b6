//! The acceptor's durable half, for protocols whose promise covers the whole log from one slot on (Multi-Paxos
//! and the protocols built on it, Fast Paxos): the ballot promised, what was accepted in each slot and in which
//! round, the highest round this replica ever used for its own ballots, and the compaction point with the state
//! machine as of it.
//!
//! Why one type: "a promise is never lowered", "a restarted replica never reuses a ballot" and "forgetting
//! accepted values is safe only behind a persisted state machine" are the same rules in every such protocol, and
//! a second copy of them is where they would drift. The round type `R` is the variant's: a ballot for Multi-Paxos,
//! a (ballot, fast or classic) round for Fast Paxos. The state type `S` is what a compaction persists: the state
//! machine, plus whatever the variant must keep beside it (Cheap Paxos's reconfigurations).
//!
//! Every change is an [`AcceptorRecord`] applied through [`Journaled`], so a state read back from the
//! write-ahead log is the state the replica had. Basic Paxos keeps a promise per slot instead and has its own
//! acceptor state (`crate::basic`).

use crate::command::Value;
use crate::journal::{DurableState, Journaled};
use crate::roles::learner::Snapshot;
use crate::types::{Ballot, NodeId, Slot};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a compaction persists: it says up to which slot it holds the effect of the decided log.
pub trait StateUpTo: Clone + std::fmt::Debug + PartialEq {
    fn upto(&self) -> Slot;
}

impl StateUpTo for Snapshot {
    fn upto(&self) -> Slot {
        self.upto
    }
}

/// An acceptor's durable state.
#[derive(Clone, Debug, PartialEq)]
pub struct AcceptorLog<R, S> {
    pub promised: Ballot,
    /// Each slot's latest acceptance (a vote, in Fast Paxos's words) and its round.
    pub accepted: BTreeMap<Slot, (R, Value)>,
    /// Highest round this replica has used for its own ballots, so it never reuses one after a restart.
    pub max_round: u64,
    /// Accepted values below this slot were dropped: those slots are decided, and `snapshot` holds their
    /// effect. A replica that restarts starts its state machine from it, so nothing decided is lost even when
    /// every replica restarts.
    pub compacted: Slot,
    pub snapshot: Option<S>,
}

impl<R, S> Default for AcceptorLog<R, S> {
    fn default() -> Self {
        AcceptorLog {
            promised: Ballot::default(),
            accepted: BTreeMap::new(),
            max_round: 0,
            compacted: Slot(0),
            snapshot: None,
        }
    }
}

/// One change to an [`AcceptorLog`], as the write-ahead log holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AcceptorRecord<R, S> {
    /// A promise, or this replica's own new ballot.
    Promised(Ballot),
    /// The highest round seen, so a restarted replica never reuses one of its ballots.
    MaxRound(u64),
    Accepted {
        slot: Slot,
        ballot: R,
        value: Value,
    },
    /// Forget what was accepted below `upto` (decided, and applied in `state`, whose slot is at least `upto`).
    Truncate {
        upto: Slot,
        state: Box<S>,
    },
}

impl<R: Copy, S: StateUpTo> AcceptorLog<R, S> {
    /// Applies one record; any record in any state, so that a replayed log rebuilds the state exactly.
    pub fn apply(&mut self, r: AcceptorRecord<R, S>) {
        match r {
            AcceptorRecord::Promised(b) => self.promised = b,
            AcceptorRecord::MaxRound(m) => self.max_round = self.max_round.max(m),
            AcceptorRecord::Accepted {
                slot,
                ballot,
                value,
            } => {
                self.accepted.insert(slot, (ballot, value));
            }
            AcceptorRecord::Truncate { upto, state } => {
                if upto > self.compacted {
                    self.accepted = self.accepted.split_off(&upto);
                    self.compacted = upto;
                }
                if self
                    .snapshot
                    .as_ref()
                    .is_none_or(|s| s.upto() < state.upto())
                {
                    self.snapshot = Some(*state);
                }
            }
        }
    }

    /// Records that rebuild exactly this state (see [`DurableState::checkpoint`]): the rounds first, then the
    /// compaction, then every acceptance still held.
    pub fn checkpoint(&self) -> Vec<AcceptorRecord<R, S>> {
        let mut out = vec![
            AcceptorRecord::MaxRound(self.max_round),
            AcceptorRecord::Promised(self.promised),
        ];
        if let Some(state) = &self.snapshot {
            out.push(AcceptorRecord::Truncate {
                upto: self.compacted,
                state: Box::new(state.clone()),
            });
        }
        out.extend(
            self.accepted
                .iter()
                .map(|(slot, (ballot, value))| AcceptorRecord::Accepted {
                    slot: *slot,
                    ballot: *ballot,
                    value: value.clone(),
                }),
        );
        out
    }

    /// What this acceptor accepted from `from` on (up to `to`, inclusive, when given): a promise's report.
    pub fn reports(&self, from: Slot, to: Option<Slot>) -> Vec<(Slot, R, Value)> {
        self.accepted
            .range(from..)
            .take_while(|(s, _)| to.is_none_or(|t| **s <= t))
            .map(|(s, (r, v))| (*s, *r, v.clone()))
            .collect()
    }
}

/// A durable state that holds an [`AcceptorLog`] and takes its records.
pub trait HoldsLog<R, S>: DurableState {
    fn log(&self) -> &AcceptorLog<R, S>;
    fn wrap(r: AcceptorRecord<R, S>) -> Self::Record;
}

/// The round types and persisted states an [`AcceptorLog`] can be the whole durable state of.
pub trait LogRound:
    Copy + std::fmt::Debug + PartialEq + Send + Serialize + DeserializeOwned + 'static
{
}
impl<R: Copy + std::fmt::Debug + PartialEq + Send + Serialize + DeserializeOwned + 'static> LogRound
    for R
{
}

/// A protocol whose durable state is exactly the log (Multi-Paxos) uses it as is.
impl<R: LogRound, S: StateUpTo + Send + Serialize + DeserializeOwned + 'static> DurableState
    for AcceptorLog<R, S>
{
    type Record = AcceptorRecord<R, S>;
    fn apply(&mut self, r: AcceptorRecord<R, S>) {
        AcceptorLog::apply(self, r)
    }
    fn checkpoint(&self) -> Vec<AcceptorRecord<R, S>> {
        AcceptorLog::checkpoint(self)
    }
}

impl<R: LogRound, S: StateUpTo + Send + Serialize + DeserializeOwned + 'static> HoldsLog<R, S>
    for AcceptorLog<R, S>
{
    fn log(&self) -> &AcceptorLog<R, S> {
        self
    }
    fn wrap(r: AcceptorRecord<R, S>) -> AcceptorRecord<R, S> {
        r
    }
}

/// Phase 1b, the durable half: raises the promise to `b`, with no record when it is already there. `volatile`
/// is the `AnswerWithoutPersisting` mutant: the promise holds in memory but never reaches the log.
pub fn promise<R, S, D: HoldsLog<R, S>>(d: &mut Journaled<D>, b: Ballot, volatile: bool) {
    if b <= d.log().promised {
        return;
    }
    let r = D::wrap(AcceptorRecord::Promised(b));
    if volatile {
        d.record_volatile(r);
    } else {
        d.record(r);
    }
}

/// What a promise reports: every acceptance from the candidate's first slot on, and the compaction point
/// below which this acceptor reports nothing (see [`crate::roles::phase1`]).
pub type PromiseReport<R> = (Vec<(Slot, R, Value)>, Slot);

/// Phase 1b: promises `ballot` when it is above the current promise and returns what the promise reports;
/// otherwise the promise that refuses it (for a `Nack`).
pub fn prepare<R: Copy, S: StateUpTo, D: HoldsLog<R, S>>(
    d: &mut Journaled<D>,
    ballot: Ballot,
    from: Slot,
    volatile: bool,
) -> Result<PromiseReport<R>, Ballot> {
    let promised = d.log().promised;
    if ballot <= promised {
        return Err(promised);
    }
    promise(d, ballot, volatile);
    Ok((d.log().reports(from, None), d.log().compacted))
}

/// Notes a round seen in a peer's ballot, so this replica's next ballot is above it even after a restart.
pub fn see_round<R, S, D: HoldsLog<R, S>>(d: &mut Journaled<D>, round: u64) {
    if round > d.log().max_round {
        d.record(D::wrap(AcceptorRecord::MaxRound(round)));
    }
}

/// A ballot of this replica above every ballot it has promised or used, recorded (round first) and promised
/// to itself before anyone hears of it.
pub fn new_ballot<R, S, D: HoldsLog<R, S>>(
    d: &mut Journaled<D>,
    me: NodeId,
    volatile: bool,
) -> Ballot {
    let round = d.log().promised.round.max(d.log().max_round) + 1;
    let ballot = Ballot::new(round, me);
    d.record(D::wrap(AcceptorRecord::MaxRound(round)));
    promise(d, ballot, volatile);
    ballot
}

/// Persists a compaction: `state` holds the effect of every slot below `upto`.
pub fn truncate<R, S, D: HoldsLog<R, S>>(d: &mut Journaled<D>, upto: Slot, state: S) {
    d.record(D::wrap(AcceptorRecord::Truncate {
        upto,
        state: Box::new(state),
    }));
}

/// Phase 2b, the durable half: what this acceptor accepted in `slot`.
pub fn accept<R, S, D: HoldsLog<R, S>>(d: &mut Journaled<D>, slot: Slot, round: R, value: Value) {
    d.record(D::wrap(AcceptorRecord::Accepted {
        slot,
        ballot: round,
        value,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::replay;
    use crate::kv::KvStore;

    type Log = AcceptorLog<Ballot, Snapshot>;
    type Rec = AcceptorRecord<Ballot, Snapshot>;

    fn snap(upto: u64) -> Snapshot {
        Snapshot {
            upto: Slot(upto),
            kv: KvStore::default(),
        }
    }

    fn taken(d: &mut Journaled<Log>) -> Vec<Rec> {
        let mut v = Vec::new();
        d.take(&mut v);
        v
    }

    #[test]
    fn a_promise_is_never_lowered_and_a_repeat_writes_nothing() {
        let mut d = Journaled::new(Log::default());
        promise(&mut d, Ballot::new(3, NodeId(1)), false);
        promise(&mut d, Ballot::new(2, NodeId(2)), false);
        promise(&mut d, Ballot::new(3, NodeId(1)), false);
        assert_eq!(d.promised, Ballot::new(3, NodeId(1)));
        assert_eq!(taken(&mut d).len(), 1);
    }

    #[test]
    fn phase_1b_reports_from_the_asked_slot_or_refuses_with_the_higher_promise() {
        let mut d = Journaled::new(Log::default());
        let b1 = Ballot::new(1, NodeId(0));
        for s in 0..4 {
            accept(&mut d, Slot(s), b1, Value::Noop);
        }
        let (reports, compacted) = prepare(&mut d, Ballot::new(2, NodeId(1)), Slot(2), false)
            .unwrap_or_else(|b| panic!("refused by {b:?}"));
        assert_eq!(
            reports.iter().map(|r| r.0).collect::<Vec<_>>(),
            [Slot(2), Slot(3)]
        );
        assert_eq!(compacted, Slot(0));
        assert_eq!(d.promised, Ballot::new(2, NodeId(1)));
        let refused = prepare(&mut d, Ballot::new(2, NodeId(0)), Slot(0), false);
        assert_eq!(refused.err(), Some(Ballot::new(2, NodeId(1))));
        assert!(prepare(&mut d, Ballot::new(2, NodeId(1)), Slot(0), false).is_err());
    }

    #[test]
    fn a_volatile_promise_holds_in_memory_but_is_not_kept_for_the_log() {
        let mut d = Journaled::new(Log::default());
        promise(&mut d, Ballot::new(1, NodeId(0)), true);
        assert_eq!(d.promised, Ballot::new(1, NodeId(0)));
        assert!(taken(&mut d).is_empty());
    }

    #[test]
    fn a_new_ballot_is_above_everything_promised_or_used_and_survives_a_replay() {
        let mut d = Journaled::new(Log::default());
        see_round(&mut d, 7);
        promise(&mut d, Ballot::new(4, NodeId(2)), false);
        let b = new_ballot(&mut d, NodeId(0), false);
        assert_eq!(b, Ballot::new(8, NodeId(0)));
        let records = taken(&mut d);
        let back: Log = replay(records);
        assert_eq!(back, *d);
        // A restarted replica does not reuse it, even with the promise above it lost.
        let mut again = Journaled::new(back);
        assert!(new_ballot(&mut again, NodeId(0), false) > b);
    }

    #[test]
    fn truncation_forgets_only_below_the_point_and_keeps_the_newest_state() {
        let mut d = Journaled::new(Log::default());
        for s in 0..6 {
            accept(&mut d, Slot(s), Ballot::new(1, NodeId(0)), Value::Noop);
        }
        truncate(&mut d, Slot(4), snap(4));
        truncate(&mut d, Slot(2), snap(2));
        assert_eq!(d.compacted, Slot(4));
        assert_eq!(d.snapshot.as_ref().map(|s| s.upto), Some(Slot(4)));
        assert_eq!(
            d.accepted.keys().copied().collect::<Vec<_>>(),
            [Slot(4), Slot(5)]
        );
        assert_eq!(d.reports(Slot(0), Some(Slot(4))).len(), 1);
        // The checkpoint rebuilds exactly this state.
        let rebuilt: Log = replay(d.checkpoint());
        assert_eq!(rebuilt, *d);
    }
}
