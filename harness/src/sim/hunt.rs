//! A nemesis that hunts leaders by what they do rather than by the clock: armed triggers that cut a replica
//! off from the others in the very step it is elected, or in the step its commit point first moves as leader.
//! The moments between are where a log's commit rule is tested (Raft's Figure 8: an entry of an earlier term
//! that a new leader brought to a majority, and a rival elected before the new leader's own term reached
//! anyone), and a clock-driven fault lands in them too rarely to test them.

use paxos_variants::ReplicaStatus;
use std::collections::VecDeque;

/// When an armed trigger fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hunt {
    /// In the step a replica becomes leader (before anything it sends in that step leaves).
    Elected,
    /// In the step a leader applies a slot it had not applied when it was elected (or when the hunt was
    /// armed, if it led then).
    FirstCommit,
}

/// The triggers armed, fired one at a time in the order they were armed, and what each replica was when last
/// seen.
#[derive(Debug, Default)]
pub struct LeaderHunt {
    armed: VecDeque<Hunt>,
    /// Per replica: the slot it had applied up to when last seen to start leading, while it leads.
    led_from: Vec<Option<u64>>,
}

impl LeaderHunt {
    pub fn idle(&self) -> bool {
        self.armed.is_empty()
    }

    /// Arms `hunt` behind those already armed. The first trigger armed notes who leads now, so that only a
    /// change from here on fires it.
    pub fn arm(&mut self, hunt: Hunt, statuses: impl Iterator<Item = (usize, ReplicaStatus)>) {
        if self.armed.is_empty() {
            self.led_from.clear();
            for (i, s) in statuses {
                if self.led_from.len() <= i {
                    self.led_from.resize(i + 1, None);
                }
                self.led_from[i] = s.is_leader.then_some(s.applied_upto.0);
            }
        }
        self.armed.push_back(hunt);
    }

    /// Replica `n` after a step: whether the trigger at the head fires on it (and is used up).
    pub fn fires(&mut self, n: usize, s: &ReplicaStatus) -> bool {
        let Some(&head) = self.armed.front() else {
            return false;
        };
        if self.led_from.len() <= n {
            self.led_from.resize(n + 1, None);
        }
        let was = self.led_from[n];
        self.led_from[n] = match (was, s.is_leader) {
            (_, false) => None,
            (None, true) => Some(s.applied_upto.0),
            (Some(from), true) => Some(from),
        };
        let fire = match (head, was, s.is_leader) {
            (Hunt::Elected, None, true) => true,
            (Hunt::FirstCommit, Some(from), true) => s.applied_upto.0 > from,
            _ => false,
        };
        if fire {
            self.armed.pop_front();
            // The next trigger starts from here: the leader just cut off is a leader no longer to it.
            self.led_from[n] = None;
        }
        fire
    }

    /// A crashed replica leads no longer.
    pub fn crashed(&mut self, n: usize) {
        if let Some(l) = self.led_from.get_mut(n) {
            *l = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paxos_variants::Slot;

    fn st(leader: bool, applied: u64) -> ReplicaStatus {
        ReplicaStatus {
            applied_upto: Slot(applied),
            state_digest: 0,
            is_leader: leader,
            counters: Default::default(),
            held_entries: 0,
        }
    }

    #[test]
    fn triggers_fire_in_order_each_on_its_own_event() {
        let mut h = LeaderHunt::default();
        // Replica 0 leads when the hunt is armed: its next commit is not an election.
        h.arm(
            Hunt::Elected,
            [(0, st(true, 5)), (1, st(false, 5))].into_iter(),
        );
        h.arm(Hunt::FirstCommit, std::iter::empty());
        assert!(
            !h.fires(0, &st(true, 6)),
            "an old leader's commit is no election"
        );
        assert!(h.fires(1, &st(true, 5)), "replica 1 is elected");
        assert!(
            !h.fires(1, &st(true, 6)),
            "the leader just cut off does not count as leading"
        );
        assert!(
            !h.fires(2, &st(true, 5)),
            "replica 2 is elected: not yet a commit"
        );
        assert!(h.fires(2, &st(true, 6)), "replica 2's first commit");
        assert!(h.idle());
        assert!(!h.fires(2, &st(true, 0)), "nothing armed fires nothing");
    }
}
