//! Durable acceptor state that changes only through records.
//!
//! A variant's durable state (promises, accepted values, its highest round) is never written field by field: a
//! handler hands a record to [`Journaled::record`], which applies it to the state in memory and keeps it for the
//! driver. After each input the driver takes the records ([`crate::Replica::take_records`]) and, before it sends
//! anything that input produced, makes them durable: the QUIC runtime appends them to its write-ahead log and
//! syncs, the simulator applies them to the copy that survives a crash. Recovery folds the same records through
//! the same [`DurableState::apply`], so the state read back from a log is the state the replica had, by
//! construction rather than by a second code path that could drift.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// A durable state and the records that change it.
pub trait DurableState: Clone + Debug + Default + PartialEq + Send + 'static {
    type Record: Clone + Debug + Send + Serialize + DeserializeOwned + 'static;
    /// Applies one record. Must be deterministic and must accept any record the variant writes, in any state
    /// (a log replayed after a crash reaches the same state as the replica that wrote it).
    fn apply(&mut self, record: Self::Record);

    /// Records that rebuild exactly this state from the default one: a log whose history has grown long (one
    /// record per promise and acceptance ever made, a state-machine copy per compaction) is rewritten as these,
    /// so it stays about as large as the state itself.
    fn checkpoint(&self) -> Vec<Self::Record>;
}

/// A durable state with the records made since the driver last took them.
#[derive(Clone, Debug, Default)]
pub struct Journaled<D: DurableState> {
    state: D,
    pending: Vec<D::Record>,
}

impl<D: DurableState> Journaled<D> {
    pub fn new(state: D) -> Self {
        Journaled {
            state,
            pending: Vec::new(),
        }
    }

    /// Applies a change and keeps it for the driver to persist.
    pub fn record(&mut self, r: D::Record) {
        self.pending.push(r.clone());
        self.state.apply(r);
    }

    /// Applies a change without keeping it: only the `AnswerWithoutPersisting` mutant does this, so the tests
    /// can show that the checker notices an acceptor that forgets what it answered.
    pub fn record_volatile(&mut self, r: D::Record) {
        self.state.apply(r);
    }

    /// Moves the records made since the last call into `into`, oldest first.
    pub fn take(&mut self, into: &mut Vec<D::Record>) {
        into.append(&mut self.pending);
    }
}

impl<D: DurableState> std::ops::Deref for Journaled<D> {
    type Target = D;
    fn deref(&self) -> &D {
        &self.state
    }
}

/// Rebuilds a durable state from its records, oldest first.
pub fn replay<D: DurableState>(records: impl IntoIterator<Item = D::Record>) -> D {
    let mut d = D::default();
    for r in records {
        d.apply(r);
    }
    d
}
