//! A task's pending timers, earliest first (ties in the order they were set, as in the simulator).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

struct Entry<T> {
    at_ns: u64,
    seq: u64,
    timer: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ns, self.seq) == (o.at_ns, o.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at_ns, self.seq).cmp(&(o.at_ns, o.seq))
    }
}

pub struct Timers<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
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
        self.heap.push(Reverse(Entry {
            at_ns,
            seq: self.seq,
            timer,
        }));
    }

    pub fn next_at(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.0.at_ns)
    }

    /// The earliest timer due at `now_ns`, if any.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<T> {
        if self.next_at()? <= now_ns {
            self.heap.pop().map(|e| e.0.timer)
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
