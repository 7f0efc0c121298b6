use super::*;
use proptest::prelude::*;

#[test]
fn majority_sizes() {
    let q = QuorumSystem::majority(5).unwrap();
    assert_eq!((q.q1_size(), q.q2_size()), (3, 3));
    assert!(q.is_phase2_quorum(NodeSet(0b00111)));
    assert!(!q.is_phase2_quorum(NodeSet(0b00011)));
    assert_eq!(QuorumSystem::majority(4).unwrap().q1_size(), 3);
}

#[test]
fn unsafe_flexible_is_refused_with_both_sizes_and_n() {
    let err = QuorumSystem::flexible(5, 2, 3).unwrap_err();
    assert_eq!(err, QuorumError::NotIntersecting { q1: 2, q2: 3, n: 5 });
    let msg = err.to_string();
    assert!(msg.contains("q1 + q2 = 5 must exceed n = 5"), "{msg}");
    assert!(msg.contains("q1 = 2") && msg.contains("q2 = 3"), "{msg}");
}

#[test]
fn impossible_sizes_are_refused() {
    assert!(matches!(
        QuorumSystem::flexible(3, 4, 1),
        Err(QuorumError::SizeOutOfRange {
            which: "q1",
            size: 4,
            n: 3
        })
    ));
    assert!(matches!(
        QuorumSystem::flexible(3, 3, 0),
        Err(QuorumError::SizeOutOfRange { which: "q2", .. })
    ));
    assert_eq!(QuorumSystem::majority(0), Err(QuorumError::NoReplicas));
    assert!(QuorumSystem::majority(65).is_err());
    assert!(matches!(
        QuorumSystem::grid(6, 2, 2),
        Err(QuorumError::GridSizeMismatch { .. })
    ));
    assert!(matches!(
        QuorumSystem::grid(0, 0, 3),
        Err(QuorumError::NoReplicas)
    ));
    assert!(matches!(
        QuorumSystem::grid(3, 0, 3),
        Err(QuorumError::EmptyGrid { .. })
    ));
}

#[test]
fn grid_columns_meet_rows_in_exactly_one_replica() {
    let g = QuorumSystem::grid(6, 2, 3).unwrap();
    // Column 1 = replicas 1 and 4; row 1 = replicas 3, 4, 5.
    assert!(g.is_phase1_quorum(NodeSet(0b010010)));
    assert!(!g.is_phase1_quorum(NodeSet(0b000011)));
    assert!(g.is_phase2_quorum(NodeSet(0b111000)));
    assert_eq!((g.q1_size(), g.q2_size()), (2, 3));
    assert!(exhaustive_intersection_check(&g).is_ok());
    for col in 0..3 {
        for row in 0..2 {
            let c = (0..2).fold(0u64, |m, r| m | 1 << (r * 3 + col));
            let r = (0..3).fold(0u64, |m, k| m | 1 << (row * 3 + k));
            assert_eq!((c & r).count_ones(), 1);
        }
    }
}

#[test]
fn the_exhaustive_check_finds_a_counterexample_when_there_is_one() {
    // Built directly, bypassing the constructor's validation.
    let bad = QuorumSystem::Flexible { n: 5, q1: 2, q2: 3 };
    let (a, b) = exhaustive_intersection_check(&bad).unwrap_err();
    assert_eq!(a.0 & b.0, 0);
    assert!(bad.is_phase1_quorum(a) && bad.is_phase2_quorum(b));
}

proptest! {
    #[test]
    fn flexible_constructor_agrees_with_exhaustive_proof(n in 1usize..10, q1 in 0usize..11, q2 in 0usize..11) {
        let built = QuorumSystem::flexible(n, q1, q2);
        let in_range = (1..=n).contains(&q1) && (1..=n).contains(&q2);
        if in_range {
            let proved = exhaustive_intersection_check(&QuorumSystem::Flexible { n, q1, q2 }).is_ok();
            prop_assert_eq!(built.is_ok(), proved);
        } else {
            prop_assert!(built.is_err());
        }
    }

    #[test]
    fn every_valid_grid_is_safe(rows in 1usize..5, cols in 1usize..5) {
        let g = QuorumSystem::grid(rows * cols, rows, cols).unwrap();
        prop_assert!(exhaustive_intersection_check(&g).is_ok());
    }
}

#[test]
fn fast_defaults_are_the_smallest_safe_sizes() {
    for (n, c, f) in [(3, 2, 3), (5, 3, 4), (7, 4, 6)] {
        let q = QuorumSystem::fast(n, None, None).unwrap();
        assert_eq!(
            q,
            QuorumSystem::Fast {
                n,
                classic: c,
                fast: f
            },
            "n = {n}"
        );
    }
    assert!(QuorumSystem::fast(7, Some(5), Some(5)).is_ok());
}

#[test]
fn an_unsafe_fast_pair_names_the_broken_rule() {
    // A fast quorum of plain majority size: a classic quorum may meet two fast quorums in no common replica.
    let e = QuorumSystem::fast(5, Some(3), Some(3))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("classic_quorum = 3 and fast_quorum = 3 with n = 5"),
        "{e}"
    );
    assert!(e.contains("c + 2f > 2n"), "{e}");
    let e = QuorumSystem::fast(4, Some(2), Some(4))
        .unwrap_err()
        .to_string();
    assert!(e.contains("2c > n"), "{e}");
}

/// Every replica subset of size `k` of `n`, as node sets.
fn subsets(n: usize, k: usize) -> Vec<NodeSet> {
    (0u64..1 << n)
        .filter(|m| m.count_ones() as usize == k)
        .map(NodeSet)
        .collect()
}

#[test]
fn the_fast_rules_are_exactly_the_intersections_recovery_needs() {
    // For small n, check the size rules against the sets themselves: accepted pairs have every required
    // intersection, refused pairs miss one.
    for n in 1..=6usize {
        for c in 1..=n {
            for f in 1..=n {
                let cs = subsets(n, c);
                let fs = subsets(n, f);
                let meets = |a: NodeSet, b: NodeSet| a.0 & b.0 != 0;
                let two_classic = cs.iter().all(|&a| cs.iter().all(|&b| meets(a, b)));
                let classic_fast = cs.iter().all(|&a| fs.iter().all(|&b| meets(a, b)));
                let classic_two_fast = cs
                    .iter()
                    .all(|&a| fs.iter().all(|&b| fs.iter().all(|&d| a.0 & b.0 & d.0 != 0)));
                let three_fast = fs
                    .iter()
                    .all(|&a| fs.iter().all(|&b| fs.iter().all(|&d| a.0 & b.0 & d.0 != 0)));
                let safe = two_classic && classic_fast && classic_two_fast && three_fast;
                assert_eq!(
                    QuorumSystem::fast(n, Some(c), Some(f)).is_ok(),
                    safe,
                    "n = {n}, c = {c}, f = {f}"
                );
            }
        }
    }
}
