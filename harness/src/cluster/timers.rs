//! A task's pending timers, earliest first (ties in the order they were set, as in the simulator).

use crate::net::due::Due;
use std::collections::BinaryHeap;

pub struct Timers<T> {
    heap: BinaryHeap<Due<T, u64>>,
    seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> Timers<T> {
    pub fn set(&mut self, at_ns: u64, timer: T) {
        self.seq += 1;
        self.heap.push(Due {
            at: at_ns,
            seq: self.seq,
            item: timer,
        });
    }

    pub fn next_at(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.at)
    }

    /// The earliest timer due at `now_ns`, if any.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<T> {
        if self.next_at()? <= now_ns {
            self.heap.pop().map(|e| e.item)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_pop_earliest_first_and_ties_in_order() {
        let mut t = Timers::default();
        t.set(30, 'c');
        t.set(10, 'a');
        t.set(10, 'b');
        assert_eq!(t.pop_due(5), None);
        assert_eq!(t.pop_due(20), Some('a'));
        assert_eq!(t.pop_due(20), Some('b'));
        assert_eq!(t.pop_due(20), None);
        assert_eq!(t.next_at(), Some(30));
    }
}
