use super::{NodeSet, QuorumSystem};

/// Proves by enumeration that every phase-1 quorum meets every phase-2 quorum. Quorum predicates are monotone,
/// so it is enough that no phase-1 quorum's complement holds a phase-2 quorum: 2^n subsets instead of 4^n pairs.
/// Returns a counterexample `(q1_set, q2_set)` if there is one. Practical up to n of about 20.
pub fn exhaustive_intersection_check(qs: &QuorumSystem) -> Result<(), (NodeSet, NodeSet)> {
    let n = qs.n();
    assert!(n <= 24, "exhaustive check is for small clusters");
    for mask in 0..(1u64 << n) {
        let a = NodeSet(mask);
        if qs.is_phase1_quorum(a) {
            let rest = a.complement(n);
            if qs.is_phase2_quorum(rest) {
                return Err((a, rest));
            }
        }
    }
    Ok(())
}
