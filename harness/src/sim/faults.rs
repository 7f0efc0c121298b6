//! Faults the simulator can inject, and the partition state they leave behind. Partitions cut replica-to-replica
//! links only; clients keep reaching every replica (a client cut off from a quorum would only time out).

#[derive(Debug, Clone, PartialEq)]
pub enum SimFault {
    /// The replica stops; volatile state, queued input and timers are lost.
    Crash(usize),
    /// The replica comes back from its durable state.
    Restart(usize),
    /// Replicas talk only within their group (replacing earlier partitions and blocks); replicas in no group
    /// are cut off from all.
    Partition(Vec<Vec<usize>>),
    /// One direction of one link is cut (an asymmetric partition).
    Block { from: usize, to: usize },
    /// The replica that believes it leads and can still reach another is cut off from every other replica
    /// (replacing earlier partitions, so a leader cut off before is let back in). A nemesis that hunts
    /// leaders: chains of short leaderships are where a log's commit rule is tested (Raft's Figure 8).
    IsolateLeader,
    /// Arms a trigger of the leader hunt (see [`super::hunt`]): the replica it fires on is cut off as
    /// `IsolateLeader` cuts one off. Triggers fire only while clients issue commands.
    Hunt(super::hunt::Hunt),
    /// All partitions and blocks are lifted.
    Heal,
    /// The replica's CPU stalls (a GC pause, a slow disk): its input waits.
    Pause { node: usize, for_ns: u64 },
    /// Loss, duplication and reordering stop.
    Calm,
    Impair {
        loss: f64,
        duplicate: f64,
        reorder: f64,
        reorder_max_ns: f64,
    },
}

/// Which directed replica links are cut.
#[derive(Debug, Clone)]
pub struct Partitions {
    n: usize,
    cut: Vec<bool>,
    any: bool,
}

impl Partitions {
    pub fn new(n: usize) -> Partitions {
        Partitions {
            n,
            cut: vec![false; n * n],
            any: false,
        }
    }

    pub fn blocked(&self, from: usize, to: usize) -> bool {
        self.any && self.cut[from * self.n + to]
    }

    /// Replaces every earlier cut: from now on replicas talk only within their group.
    pub fn split(&mut self, groups: &[Vec<usize>]) {
        self.heal();
        let mut group_of = vec![usize::MAX; self.n];
        for (g, members) in groups.iter().enumerate() {
            for &r in members {
                if r < self.n {
                    group_of[r] = g;
                }
            }
        }
        for a in 0..self.n {
            for b in 0..self.n {
                if a != b && (group_of[a] != group_of[b] || group_of[a] == usize::MAX) {
                    self.cut[a * self.n + b] = true;
                    self.any = true;
                }
            }
        }
    }

    pub fn block(&mut self, from: usize, to: usize) {
        if from < self.n && to < self.n && from != to {
            self.cut[from * self.n + to] = true;
            self.any = true;
        }
    }

    pub fn heal(&mut self) {
        self.cut.iter_mut().for_each(|c| *c = false);
        self.any = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_across_groups_only() {
        let mut p = Partitions::new(5);
        p.split(&[vec![0, 1], vec![2, 3]]);
        assert!(!p.blocked(0, 1) && !p.blocked(3, 2));
        assert!(p.blocked(1, 2) && p.blocked(2, 1));
        assert!(
            p.blocked(4, 0) && p.blocked(0, 4),
            "a replica in no group is isolated"
        );
        p.heal();
        assert!(!p.blocked(1, 2));
    }

    #[test]
    fn block_is_one_way() {
        let mut p = Partitions::new(3);
        p.block(0, 2);
        assert!(p.blocked(0, 2));
        assert!(!p.blocked(2, 0));
    }
}
