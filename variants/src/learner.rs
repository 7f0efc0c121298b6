//! The learner half of a replica: which slots are decided, and the state machine they are applied to, in order.
//! Shared by every variant so that "decided" and "applied" mean the same thing everywhere.

use crate::command::{Command, Value};
use crate::effects::Effects;
use crate::kv::{KvStore, Outcome};
use crate::types::Slot;

#[derive(Debug, Default)]
pub struct Learner {
    /// Decided values by slot; `None` is a slot not (yet) known to be decided.
    log: Vec<Option<Value>>,
    applied: u64,
    kv: KvStore,
}

impl Learner {
    pub fn new() -> Learner {
        Learner::default()
    }

    /// Records a decision. Returns false (and reports nothing) if the slot was already known.
    pub fn learn<M, T>(&mut self, slot: Slot, value: Value, out: &mut Effects<M, T>) -> bool {
        let i = slot.0 as usize;
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

    pub fn get(&self, slot: Slot) -> Option<&Value> {
        self.log.get(slot.0 as usize).and_then(|v| v.as_ref())
    }

    pub fn is_decided(&self, slot: Slot) -> bool {
        self.get(slot).is_some()
    }

    /// The first slot not applied yet; every slot below it is decided and applied.
    pub fn applied_upto(&self) -> Slot {
        Slot(self.applied)
    }

    /// The first slot not known to be decided (at or after `applied_upto`).
    pub fn first_undecided(&self) -> Slot {
        let mut s = self.applied as usize;
        while s < self.log.len() && self.log[s].is_some() {
            s += 1;
        }
        Slot(s as u64)
    }

    /// One past the highest slot known to be decided.
    pub fn known_end(&self) -> Slot {
        Slot(self.log.len() as u64)
    }

    /// Applies every decided slot in order up to the first gap, calling `f` for each command with its outcome.
    pub fn apply_ready(&mut self, mut f: impl FnMut(&Command, &Outcome)) {
        while let Some(Some(value)) = self.log.get(self.applied as usize) {
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
    /// a peer knows, even when the peer itself lags at an earlier slot.
    pub fn decided_from(&self, from: Slot, max: usize) -> Vec<(Slot, Value)> {
        self.log
            .iter()
            .enumerate()
            .skip(from.0 as usize)
            .filter_map(|(s, v)| v.as_ref().map(|v| (Slot(s as u64), v.clone())))
            .take(max)
            .collect()
    }

    /// Contiguous decided values from `from` (at most `max`), to help a replica that lags.
    pub fn decided_run(&self, from: Slot, max: usize) -> Vec<Value> {
        self.log
            .iter()
            .skip(from.0 as usize)
            .take(max)
            .map_while(|v| v.clone())
            .collect()
    }
}
