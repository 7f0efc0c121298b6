//! Something held until an instant, for the delayers' heaps (the message delayer of `inject`, the packet
//! delayer of `kernel_delay`).

use std::time::Instant;

/// An item due at `at`. Ordered in reverse, so a `BinaryHeap` (a max-heap) pops the earliest first, and ties
/// in the order they were pushed (`seq`).
pub struct Due<T> {
    pub at: Instant,
    pub seq: u64,
    pub item: T,
}

impl<T> PartialEq for Due<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<T> Eq for Due<T> {}
impl<T> PartialOrd for Due<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Due<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
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
