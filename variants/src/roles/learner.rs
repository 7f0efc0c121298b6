//! The learner half of a replica: which slots are decided, and the state machine they are applied to, in order.
//! Shared by every variant so that "decided" and "applied" mean the same thing everywhere.

use crate::command::{Command, Value};
use crate::effects::Effects;
use crate::kv::{KvStore, Outcome};
use crate::types::Slot;
use serde::{Deserialize, Serialize};

/// The state machine as of a slot: what a replica that has compacted its log sends to one that lags behind
/// what it still holds, instead of the decided values themselves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every slot below this is applied in `kv`.
    pub upto: Slot,
    pub kv: KvStore,
}

/// The answer to a peer that asks for the decided log from some slot on.
#[derive(Debug, PartialEq)]
pub enum CatchUp<T> {
    /// It asked from below what this replica still holds: only the state machine can tell it those slots.
    Snapshot,
    /// Decided values from where it asked.
    Values(T),
    /// Nothing known there yet (no answer: it asks again on its next tick).
    Nothing,
}

#[derive(Debug, Default)]
pub struct Learner {
    /// Decided values by slot, from `base` on; `None` is a slot not (yet) known to be decided.
    log: Vec<Option<Value>>,
    /// Slots below this were decided, applied and dropped from `log` ([`Learner::compact`]).
    base: u64,
    applied: u64,
    kv: KvStore,
}

impl Learner {
    pub fn new() -> Learner {
        Learner::default()
    }

    /// Records a decision. Returns false (and reports nothing) if the slot was already known.
    pub fn learn<M, T>(&mut self, slot: Slot, value: Value, out: &mut Effects<M, T>) -> bool {
        let Some(i) = slot.0.checked_sub(self.base) else {
            return false;
        };
        let i = i as usize;
        if self.log.len() <= i {
            self.log.resize(i + 1, None);
        }
        if self.log[i].is_some() {
            return false;
        }
        out.decide(slot, value.clone());
        self.log[i] = Some(value);
        true
    }

    /// The decided value of a slot still held; `None` for a slot not known decided, or compacted away.
    pub fn get(&self, slot: Slot) -> Option<&Value> {
        let i = slot.0.checked_sub(self.base)?;
        self.log.get(i as usize).and_then(|v| v.as_ref())
    }

    pub fn is_decided(&self, slot: Slot) -> bool {
        slot.0 < self.base || self.get(slot).is_some()
    }

    /// The first slot not applied yet; every slot below it is decided and applied.
    pub fn applied_upto(&self) -> Slot {
        Slot(self.applied)
    }

    /// Decided values held (slots from the base on).
    pub fn held(&self) -> u64 {
        self.log.len() as u64
    }

    /// The first slot whose value is still held: below it, only the state machine remembers.
    pub fn base(&self) -> Slot {
        Slot(self.base)
    }

    /// The first slot not known to be decided (at or after `applied_upto`).
    pub fn first_undecided(&self) -> Slot {
        let mut s = (self.applied - self.base) as usize;
        while s < self.log.len() && self.log[s].is_some() {
            s += 1;
        }
        Slot(self.base + s as u64)
    }

    /// One past the highest slot known to be decided.
    pub fn known_end(&self) -> Slot {
        Slot(self.base + self.log.len() as u64)
    }

    /// Applies every decided slot in order up to the first gap, calling `f` for each command with its outcome.
    pub fn apply_ready(&mut self, mut f: impl FnMut(&Command, &Outcome)) {
        while let Some(Some(value)) = self.log.get((self.applied - self.base) as usize) {
            for cmd in value.commands() {
                let outcome = self.kv.apply(cmd);
                f(cmd, &outcome);
            }
            self.applied += 1;
        }
    }

    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// Every decided slot at or after `from` (at most `max`), holes skipped: a replica that lags learns whatever
    /// a peer knows, even when the peer itself lags at an earlier slot. Compacted slots are not among them.
    pub fn decided_from(&self, from: Slot, max: usize) -> Vec<(Slot, Value)> {
        let skip = from.0.saturating_sub(self.base) as usize;
        self.log
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(|(i, v)| v.as_ref().map(|v| (Slot(self.base + i as u64), v.clone())))
            .take(max)
            .collect()
    }

    /// Contiguous decided values from `from` (at most `max`), to help a replica that lags; empty when `from`
    /// was compacted away (send a [`Snapshot`] instead).
    pub fn decided_run(&self, from: Slot, max: usize) -> Vec<Value> {
        let Some(skip) = from.0.checked_sub(self.base) else {
            return Vec::new();
        };
        self.log
            .iter()
            .skip(skip as usize)
            .take(max)
            .map_while(|v| v.clone())
            .collect()
    }

    /// Serving catch-up to a peer of a leader-based log: the contiguous run from `from` (see
    /// [`Learner::decided_run`]), or the snapshot when `from` was compacted away.
    pub fn catch_up_run(&self, from: Slot, max: usize) -> CatchUp<Vec<Value>> {
        if from < self.base() {
            return CatchUp::Snapshot;
        }
        let run = self.decided_run(from, max);
        if run.is_empty() {
            CatchUp::Nothing
        } else {
            CatchUp::Values(run)
        }
    }

    /// Serving catch-up where the log has holes (Basic Paxos decides slots out of order): every decided slot
    /// from `from` (see [`Learner::decided_from`]), or the snapshot when `from` was compacted away.
    pub fn catch_up_entries(&self, from: Slot, max: usize) -> CatchUp<Vec<(Slot, Value)>> {
        if from < self.base() {
            return CatchUp::Snapshot;
        }
        let entries = self.decided_from(from, max);
        if entries.is_empty() {
            CatchUp::Nothing
        } else {
            CatchUp::Values(entries)
        }
    }

    /// The slot to compact up to, once `every` applied slots have piled up past the `keep` most recent ones
    /// (never with `every` 0): compacting in steps, not on every slot, keeps the snapshots it persists rare.
    pub fn compaction_due(&self, keep: usize, every: usize) -> Option<Slot> {
        if every == 0 {
            return None;
        }
        let due = self
            .base
            .saturating_add(keep as u64)
            .saturating_add(every as u64);
        (self.applied >= due).then(|| Slot(self.applied - keep as u64))
    }

    /// Compacts if [`Learner::compaction_due`] says so, returning the point and the state machine as it was
    /// just before: the caller persists both, since the values dropped here live on only in that state.
    pub fn compact_if_due(&mut self, keep: usize, every: usize) -> Option<(Slot, Snapshot)> {
        let upto = self.compaction_due(keep, every)?;
        let snap = self.snapshot();
        self.compact(upto);
        Some((upto, snap))
    }

    /// Drops the decided values below `upto` (at most up to what is applied): the state machine holds them.
    pub fn compact(&mut self, upto: Slot) {
        let upto = upto.0.min(self.applied);
        if upto <= self.base {
            return;
        }
        self.log.drain(..(upto - self.base) as usize);
        self.base = upto;
    }

    /// The state machine as of everything applied.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            upto: Slot(self.applied),
            kv: self.kv.clone(),
        }
    }

    /// Takes a peer's snapshot if it is ahead of what this replica has applied; decided values at or past its
    /// slot are kept. Returns whether it was taken (then [`Learner::apply_ready`] may apply more).
    pub fn install(&mut self, snap: Snapshot) -> bool {
        let upto = snap.upto.0;
        if upto <= self.applied {
            return false;
        }
        let drop = ((upto - self.base) as usize).min(self.log.len());
        self.log.drain(..drop);
        self.base = upto;
        self.applied = upto;
        self.kv = snap.kv;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Op};
    use crate::types::ClientId;

    fn put(seq: u64) -> Value {
        Value::batch(vec![Command {
            client: ClientId(1),
            seq,
            ack: seq,
            op: Op::Put {
                key: seq % 3,
                value: bytes::Bytes::from_static(b"v"),
            },
        }])
    }

    fn learner_with(n: u64) -> Learner {
        let mut l = Learner::new();
        let mut out: Effects<(), ()> = Effects::new();
        for s in 0..n {
            l.learn(Slot(s), put(s), &mut out);
        }
        l.apply_ready(|_, _| {});
        l
    }

    #[test]
    fn compaction_keeps_the_state_and_the_slots_past_it() {
        let mut l = learner_with(10);
        let digest = l.kv().digest();
        l.compact(Slot(6));
        assert_eq!(
            (l.base(), l.applied_upto(), l.first_undecided()),
            (Slot(6), Slot(10), Slot(10))
        );
        assert!(l.is_decided(Slot(2)) && l.get(Slot(2)).is_none());
        assert_eq!(l.get(Slot(7)), Some(&put(7)));
        assert!(l.decided_run(Slot(3), 10).is_empty());
        assert_eq!(l.decided_run(Slot(8), 10).len(), 2);
        assert_eq!(
            l.decided_from(Slot(0), 10).first().map(|e| e.0),
            Some(Slot(6))
        );
        let mut out: Effects<(), ()> = Effects::new();
        assert!(
            !l.learn(Slot(1), put(1), &mut out),
            "a compacted slot is known"
        );
        assert_eq!(l.kv().digest(), digest);
        // Never past what is applied.
        l.compact(Slot(99));
        assert_eq!(l.base(), Slot(10));
    }

    #[test]
    fn compaction_is_due_in_steps_past_what_is_kept() {
        let mut l = learner_with(10);
        assert_eq!(l.compaction_due(4, 8), None);
        assert_eq!(l.compaction_due(4, 6), Some(Slot(6)));
        assert_eq!(l.compaction_due(4, 0), None, "0 turns compaction off");
        l.compact(Slot(6));
        assert_eq!(l.compaction_due(4, 6), None, "the next step is 6 slots on");
        assert_eq!(l.compaction_due(usize::MAX, usize::MAX), None);
        // Compacting when due hands back the state machine as of everything applied.
        let mut l = learner_with(10);
        let digest = l.kv().digest();
        assert!(l.compact_if_due(4, 8).is_none());
        let (upto, snap) = l.compact_if_due(4, 6).unwrap();
        assert_eq!((upto, snap.upto, l.base()), (Slot(6), Slot(10), Slot(6)));
        assert_eq!(snap.kv.digest(), digest);
    }

    #[test]
    fn a_lagging_replica_catches_up_from_a_snapshot() {
        let ahead = learner_with(20);
        let mut behind = learner_with(4);
        let mut out: Effects<(), ()> = Effects::new();
        // It already knows slot 25, past the snapshot: that is kept.
        behind.learn(Slot(25), put(25), &mut out);
        assert!(behind.install(ahead.snapshot()));
        assert_eq!(behind.applied_upto(), Slot(20));
        assert_eq!(behind.kv().digest(), ahead.kv().digest());
        assert_eq!(behind.get(Slot(25)), Some(&put(25)));
        for s in 20..25 {
            behind.learn(Slot(s), put(s), &mut out);
        }
        behind.apply_ready(|_, _| {});
        assert_eq!(behind.applied_upto(), Slot(26));
        // An older snapshot changes nothing.
        assert!(!behind.install(learner_with(3).snapshot()));
        assert_eq!(behind.applied_upto(), Slot(26));
    }

    #[test]
    fn catch_up_serves_a_run_or_the_snapshot_below_the_base() {
        let mut l = learner_with(10);
        assert_eq!(l.catch_up_run(Slot(10), 8), CatchUp::Nothing);
        assert!(matches!(l.catch_up_run(Slot(7), 8), CatchUp::Values(v) if v.len() == 3));
        l.compact(Slot(5));
        assert_eq!(l.catch_up_run(Slot(4), 8), CatchUp::Snapshot);
        assert_eq!(l.catch_up_entries(Slot(4), 8), CatchUp::Snapshot);
        assert!(
            matches!(l.catch_up_entries(Slot(8), 1), CatchUp::Values(v) if v == [(Slot(8), put(8))])
        );
    }
}
