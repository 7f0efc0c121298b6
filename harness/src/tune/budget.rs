//! The fault budget: how many crashes each phase of a quorum system survives, and whether a placement survives
//! the loss of a whole region. "Survives" means the replicas left still hold a phase-1 quorum (a new leader can
//! be elected) and a phase-2 quorum (commands can still be chosen): both phases must be able to complete.

use paxos_variants::{NodeId, NodeSet, QuorumSystem};

/// The most crashes after which every choice of survivors still holds a quorum of the kind `is_quorum` tests.
/// Sized systems need no search (n - q); grids and Cheap Paxos's main sets are searched over crash sets.
pub fn crashes_survived(q: &QuorumSystem, phase1: bool) -> usize {
    let n = q.n();
    match q {
        QuorumSystem::Majority { .. }
        | QuorumSystem::Flexible { .. }
        | QuorumSystem::Fast { .. } => n - if phase1 { q.q1_size() } else { q.q2_size() },
        QuorumSystem::Grid { .. } | QuorumSystem::Cheap { .. } => {
            let ok = |s: NodeSet| {
                if phase1 {
                    q.is_phase1_quorum(s)
                } else {
                    q.is_phase2_quorum(s)
                }
            };
            let mut f = 0;
            while f < n && every_crash_set_leaves(n, f + 1, &ok) {
                f += 1;
            }
            f
        }
    }
}

/// Whether every set of `f` crashed replicas out of `n` leaves survivors for which `ok` holds.
fn every_crash_set_leaves(n: usize, f: usize, ok: &impl Fn(NodeSet) -> bool) -> bool {
    let all = NodeSet::all(n);
    let mut idx: Vec<usize> = (0..f).collect();
    loop {
        let mut crashed = NodeSet::EMPTY;
        for &i in &idx {
            crashed.insert(NodeId(i as u32));
        }
        if !ok(NodeSet(all.0 & !crashed.0)) {
            return false;
        }
        // Next combination in lexicographic order.
        let mut i = f;
        loop {
            if i == 0 {
                return true;
            }
            i -= 1;
            if idx[i] < n - f + i {
                idx[i] += 1;
                for j in i + 1..f {
                    idx[j] = idx[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// Crashes the fast path of Fast Paxos survives (its commands then still take two message delays); other
/// variants have none.
pub fn fast_path_survives(q: &QuorumSystem) -> Option<usize> {
    q.fast_size().map(|f| q.n() - f)
}

/// The first region (in placement order) whose loss leaves no phase-1 or no phase-2 quorum, and which phase.
pub fn region_outage_breaks(
    q: &QuorumSystem,
    placement: &[usize],
) -> Option<(usize, &'static str)> {
    let mut seen = Vec::new();
    for &r in placement {
        if seen.contains(&r) {
            continue;
        }
        seen.push(r);
        let mut left = NodeSet::EMPTY;
        for (i, &x) in placement.iter().enumerate() {
            if x != r {
                left.insert(NodeId(i as u32));
            }
        }
        if !q.is_phase1_quorum(left) {
            return Some((r, "phase-1"));
        }
        if !q.is_phase2_quorum(left) {
            return Some((r, "phase-2"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_systems_survive_n_minus_their_quorum() {
        let q = QuorumSystem::flexible(5, 4, 2).unwrap();
        assert_eq!(
            (crashes_survived(&q, true), crashes_survived(&q, false)),
            (1, 3)
        );
        let m = QuorumSystem::majority(4).unwrap();
        assert_eq!(crashes_survived(&m, true), 1);
        let f = QuorumSystem::fast(5, None, None).unwrap();
        assert_eq!(fast_path_survives(&f), Some(1));
        assert_eq!(crashes_survived(&f, false), 2);
    }

    #[test]
    fn a_grid_loses_a_phase_with_one_crash_per_row_or_column() {
        // Phase 1 is a full column, phase 2 a full row: 2 rows x 3 columns.
        let g = QuorumSystem::grid(6, 2, 3).unwrap();
        // Killing every column takes 3 crashes, so 2 are survived; every row: 2 crashes, 1 survived.
        assert_eq!(crashes_survived(&g, true), 2);
        assert_eq!(crashes_survived(&g, false), 1);
    }

    #[test]
    fn cheap_paxos_survives_what_a_majority_does() {
        let c = QuorumSystem::cheap(5, None).unwrap();
        assert_eq!(crashes_survived(&c, true), 2);
        assert_eq!(crashes_survived(&c, false), 2);
    }

    #[test]
    fn a_region_outage_is_survived_only_with_quorums_outside_every_region() {
        let m = QuorumSystem::majority(5).unwrap();
        // Two in region 0, two in 1, one in 2: losing any region leaves 3 of 5.
        assert_eq!(region_outage_breaks(&m, &[0, 0, 1, 1, 2]), None);
        // Three in region 0: losing it leaves 2.
        assert_eq!(
            region_outage_breaks(&m, &[0, 0, 0, 1, 2]),
            Some((0, "phase-1"))
        );
        let f = QuorumSystem::flexible(5, 4, 2).unwrap();
        assert_eq!(
            region_outage_breaks(&f, &[0, 0, 1, 1, 2]),
            Some((0, "phase-1"))
        );
        let f = QuorumSystem::flexible(5, 2, 4).unwrap();
        assert_eq!(
            region_outage_breaks(&f, &[0, 0, 1, 1, 2]),
            Some((0, "phase-2"))
        );
    }
}
