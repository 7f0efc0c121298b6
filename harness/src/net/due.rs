//! Something held until a time, for the heaps of the delayers (`inject`, `kernel_delay`) and of a replica
//! task's timers (`cluster::timers`, on nanoseconds since the run's epoch).

use std::time::Instant;

/// An item due at `at`. Ordered in reverse, so a `BinaryHeap` (a max-heap) pops the earliest first, and ties
/// in the order they were pushed (`seq`).
pub struct Due<T, At = Instant> {
    pub at: At,
    pub seq: u64,
    pub item: T,
}

impl<T, At: Ord> PartialEq for Due<T, At> {
    fn eq(&self, o: &Self) -> bool {
        (&self.at, self.seq) == (&o.at, o.seq)
    }
}
impl<T, At: Ord> Eq for Due<T, At> {}
impl<T, At: Ord> PartialOrd for Due<T, At> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T, At: Ord> Ord for Due<T, At> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (&o.at, o.seq).cmp(&(&self.at, self.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BinaryHeap;
    use std::time::Duration;

    #[test]
    fn the_heap_pops_the_earliest_and_ties_in_push_order() {
        let t = Instant::now();
        let mut h = BinaryHeap::new();
        for (seq, (ms, item)) in [(5, 'a'), (1, 'b'), (5, 'c'), (3, 'd')]
            .into_iter()
            .enumerate()
        {
            h.push(Due {
                at: t + Duration::from_millis(ms),
                seq: seq as u64,
                item,
            });
        }
        let order: String = std::iter::from_fn(|| h.pop().map(|d| d.item)).collect();
        assert_eq!(order, "bdac");
    }
}
