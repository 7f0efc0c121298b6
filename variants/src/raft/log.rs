//! Raft's durable state: the current term, the vote given in it, and the log (with the snapshot that replaces
//! its compacted prefix). Every change is a [`RaftRecord`] applied through [`Journaled`](crate::journal), so
//! the state a restarted replica reads back from its write-ahead log is the one it had.
//!
//! Log positions are the suite's slots, from 0: the entry at slot `i` is decided when it is committed, and a
//! log of length `len` holds slots `0..len`. Raft's "index of the previous entry" is `prev_len - 1` here.

use super::messages::Entry;
use crate::journal::DurableState;
use crate::roles::learner::Snapshot;
use crate::types::{NodeId, Slot};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RaftDurable {
    pub term: u64,
    /// Whom this replica voted for in `term` (at most one candidate per term).
    pub voted_for: Option<NodeId>,
    /// Entries from slot `base` on.
    pub entries: Vec<Entry>,
    /// Slots below this are compacted: their effect is in `snapshot`.
    pub base: u64,
    /// The term of the entry at `base - 1` (0 when `base` is 0).
    pub base_term: u64,
    /// The state machine persisted with the last compaction or installed from a leader.
    pub snapshot: Option<Snapshot>,
}

/// One change to [`RaftDurable`], as the write-ahead log holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum RaftRecord {
    /// A new term, or a vote in the current one.
    Term {
        term: u64,
        voted_for: Option<NodeId>,
    },
    /// Drops every entry from `at` on, then appends `entries` there.
    Append { at: Slot, entries: Vec<Entry> },
    /// The entries below `upto` (whose last has `upto_term`) are replaced by `snap` (which covers at least
    /// them). If the log does not hold that entry with that term (a leader's snapshot of a log this replica
    /// diverged from), every entry goes.
    Snapshot {
        upto: Slot,
        upto_term: u64,
        snap: Box<Snapshot>,
    },
}

impl RaftDurable {
    /// One past the last slot in the log.
    pub fn len(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.base_term, |e| e.term)
    }

    /// The term of the entry at `slot`: `None` past the end, or below the snapshot's last entry (compacted,
    /// and so committed).
    pub fn term_at(&self, slot: u64) -> Option<u64> {
        if slot + 1 == self.base {
            return Some(self.base_term);
        }
        self.entry(slot).map(|e| e.term)
    }

    pub fn entry(&self, slot: u64) -> Option<&Entry> {
        let i = slot.checked_sub(self.base)?;
        self.entries.get(i as usize)
    }

    /// The term of the entry before `len` (0 for the empty prefix, `None` when compacted away).
    pub fn term_before(&self, len: u64) -> Option<u64> {
        match len {
            0 => Some(0),
            l => self.term_at(l - 1),
        }
    }

    /// The up-to-date rule of RequestVote (section 5.4.1): a log whose last entry has a later term is more up to
    /// date; with equal last terms, the longer one is.
    pub fn at_most_as_up_to_date_as(&self, len: u64, last_term: u64) -> bool {
        (last_term, len) >= (self.last_term(), self.len())
    }

    /// Entries from `from` on (at most `max`); empty when `from` is compacted away or past the end.
    pub fn entries_from(&self, from: u64, max: usize) -> Vec<Entry> {
        let Some(i) = from.checked_sub(self.base) else {
            return Vec::new();
        };
        self.entries
            .iter()
            .skip(i as usize)
            .take(max)
            .cloned()
            .collect()
    }

    /// The first slot of the run of entries with `term` that ends at `slot` (not below the log's base): a
    /// follower's hint, so the leader skips a whole term of conflicting entries at once (section 5.3).
    pub fn first_of_term_run(&self, slot: u64, term: u64) -> u64 {
        let mut s = slot;
        while s > self.base && self.entry(s - 1).is_some_and(|e| e.term == term) {
            s -= 1;
        }
        s
    }
}

impl DurableState for RaftDurable {
    type Record = RaftRecord;

    fn apply(&mut self, record: RaftRecord) {
        match record {
            RaftRecord::Term { term, voted_for } => {
                self.term = term;
                self.voted_for = voted_for;
            }
            RaftRecord::Append { at, entries } => {
                let mut entries = entries.into_iter();
                // Entries below the base are compacted (committed, hence the same as these): skip them.
                let skip = self.base.saturating_sub(at.0);
                entries.by_ref().take(skip as usize).for_each(drop);
                let at = at.0.max(self.base);
                self.entries.truncate((at - self.base) as usize);
                self.entries.extend(entries);
            }
            RaftRecord::Snapshot {
                upto,
                upto_term,
                snap,
            } => {
                if upto.0 <= self.base {
                    return;
                }
                if self.term_at(upto.0 - 1) == Some(upto_term) {
                    self.entries.drain(..(upto.0 - self.base) as usize);
                } else {
                    self.entries.clear();
                }
                self.base = upto.0;
                self.base_term = upto_term;
                self.snapshot = Some(*snap);
            }
        }
    }

    fn checkpoint(&self) -> Vec<RaftRecord> {
        let mut records = vec![RaftRecord::Term {
            term: self.term,
            voted_for: self.voted_for,
        }];
        if let Some(snap) = &self.snapshot {
            records.push(RaftRecord::Snapshot {
                upto: Slot(self.base),
                upto_term: self.base_term,
                snap: Box::new(snap.clone()),
            });
        }
        records.push(RaftRecord::Append {
            at: Slot(self.base),
            entries: self.entries.clone(),
        });
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Value;
    use crate::journal::replay;
    use crate::kv::KvStore;

    fn e(term: u64) -> Entry {
        Entry {
            term,
            value: Value::Noop,
        }
    }

    fn log_of(terms: &[u64]) -> RaftDurable {
        let mut d = RaftDurable::default();
        d.apply(RaftRecord::Append {
            at: Slot(0),
            entries: terms.iter().map(|&t| e(t)).collect(),
        });
        d
    }

    fn terms(d: &RaftDurable) -> Vec<u64> {
        d.entries.iter().map(|e| e.term).collect()
    }

    #[test]
    fn an_append_truncates_from_its_slot_and_skips_what_is_compacted() {
        let mut d = log_of(&[1, 1, 2, 2]);
        d.apply(RaftRecord::Append {
            at: Slot(2),
            entries: vec![e(3)],
        });
        assert_eq!(terms(&d), [1, 1, 3]);
        let snap = Snapshot {
            upto: Slot(2),
            kv: KvStore::default(),
        };
        d.apply(RaftRecord::Snapshot {
            upto: Slot(2),
            upto_term: 1,
            snap: Box::new(snap),
        });
        assert_eq!((d.base, d.base_term, terms(&d)), (2, 1, vec![3]));
        // A leader resending from slot 1: the compacted slot 1 is skipped, slot 2 onwards replaced.
        d.apply(RaftRecord::Append {
            at: Slot(1),
            entries: vec![e(1), e(4), e(4)],
        });
        assert_eq!((d.len(), terms(&d)), (4, vec![4, 4]));
        assert_eq!(d.term_at(1), Some(1));
        assert_eq!(d.term_at(0), None, "compacted");
        assert_eq!(d.term_before(0), Some(0));
    }

    #[test]
    fn a_snapshot_keeps_the_entries_after_it_only_when_the_log_holds_its_last_entry() {
        let snap = |upto| {
            Box::new(Snapshot {
                upto: Slot(upto),
                kv: KvStore::default(),
            })
        };
        let mut d = log_of(&[1, 1, 2, 2]);
        d.apply(RaftRecord::Snapshot {
            upto: Slot(3),
            upto_term: 2,
            snap: snap(3),
        });
        assert_eq!((d.base, terms(&d)), (3, vec![2]));
        let mut diverged = log_of(&[1, 1, 2, 2]);
        diverged.apply(RaftRecord::Snapshot {
            upto: Slot(3),
            upto_term: 3,
            snap: snap(3),
        });
        assert_eq!((diverged.len(), diverged.last_term()), (3, 3));
        // An older snapshot than the base changes nothing.
        let before = d.clone();
        d.apply(RaftRecord::Snapshot {
            upto: Slot(2),
            upto_term: 1,
            snap: snap(2),
        });
        assert_eq!(d, before);
        assert_eq!(replay::<RaftDurable>(d.checkpoint()), d);
    }

    #[test]
    fn the_up_to_date_rule_compares_last_terms_then_lengths() {
        let d = log_of(&[1, 2, 2]);
        assert!(d.at_most_as_up_to_date_as(3, 2));
        assert!(
            d.at_most_as_up_to_date_as(1, 3),
            "a later last term wins over length"
        );
        assert!(!d.at_most_as_up_to_date_as(2, 2));
        assert!(!d.at_most_as_up_to_date_as(9, 1));
        assert_eq!(d.first_of_term_run(3, 2), 1);
    }
}
