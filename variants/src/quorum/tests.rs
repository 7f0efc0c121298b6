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
