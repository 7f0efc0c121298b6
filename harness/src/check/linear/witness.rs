//! A witness for a history that is not linearizable: a small subset of its operations that cannot be ordered
//! by themselves.
//!
//! Not every subset is fair evidence: dropping the write a read saw would make that read look wrong by itself.
//! A subset is kept *closed*: with every operation that reads or compares against value `v`, it holds every
//! operation that may have written `v`; and a compare that failed against `v` is left out when the subset
//! holds a writer of `v`. The restriction of a linearization of the whole history to a closed subset is a
//! linearization of the subset (each read's last preceding write is kept, real-time order is kept), so a closed
//! subset that cannot be ordered proves the whole history cannot.
//!
//! The search starts from the operation the checker got stuck on and the operations around it in time,
//! widening until the subset is not linearizable, then drops operations one at a time while it stays so.

use super::search::{linearizable, Found};
use super::{Budget, Operation};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A witness, as indexes into `ops` in time order. Bounded by `budget.time` (and at most 5 s): when time runs
/// out the smallest closed subset found so far is returned, at worst the whole history.
pub fn minimal(ops: &[Operation], stuck: usize, budget: Budget) -> Vec<usize> {
    let deadline = Instant::now() + budget.time.min(Duration::from_secs(5));
    let fails = |s: &BTreeSet<usize>| cannot_be_ordered(ops, s, deadline, budget.max_states);

    let everything: BTreeSet<usize> = (0..ops.len()).filter(|&i| !ops[i].is_inert()).collect();
    let mut set = None;
    let mut width = 4usize;
    while set.is_none() && Instant::now() < deadline {
        let s = close(ops, around(ops, stuck, width));
        if fails(&s) {
            set = Some(s);
        } else if width > ops.len() {
            break;
        }
        width = width.saturating_mul(4);
    }
    let Some(set) = set else {
        return everything.into_iter().collect();
    };
    shrink_from(ops, set, deadline, &fails)
}

/// Shrinks `start`, a closed set of operations that cannot be ordered, as [`minimal`] does; None if `start`
/// can in fact be ordered (or the budget ran out before that was known).
pub fn shrink(ops: &[Operation], start: &[usize], budget: Budget) -> Option<Vec<usize>> {
    let deadline = Instant::now() + budget.time.min(Duration::from_secs(5));
    let fails = |s: &BTreeSet<usize>| cannot_be_ordered(ops, s, deadline, budget.max_states);
    let set = close(ops, start.iter().copied().collect());
    fails(&set).then(|| shrink_from(ops, set, deadline, &fails))
}

fn shrink_from(
    ops: &[Operation],
    mut set: BTreeSet<usize>,
    deadline: Instant,
    fails: &dyn Fn(&BTreeSet<usize>) -> bool,
) -> Vec<usize> {
    // Drop one operation at a time (latest first, reads before writes); keep a drop that leaves the subset
    // closed and still impossible to order.
    let mut changed = true;
    while changed && Instant::now() < deadline {
        changed = false;
        let mut order: Vec<usize> = set.iter().copied().collect();
        order.sort_by_key(|&i| (ops[i].written().is_some(), std::cmp::Reverse(ops[i].call)));
        for i in order {
            if !set.contains(&i) {
                continue;
            }
            let mut smaller = set.clone();
            smaller.remove(&i);
            let smaller = close(ops, smaller);
            if smaller.contains(&i) || smaller.len() >= set.len() {
                continue;
            }
            if fails(&smaller) {
                set = smaller;
                changed = true;
            }
        }
    }
    let mut out: Vec<usize> = set.into_iter().collect();
    out.sort_by_key(|&i| (ops[i].call, i));
    out
}

/// Whether the operations `set` of `ops`, by themselves, have no linearization (false also when the deadline
/// passes first: only a proof counts).
fn cannot_be_ordered(
    ops: &[Operation],
    set: &BTreeSet<usize>,
    deadline: Instant,
    max_states: usize,
) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return false;
    }
    let sub: Vec<Operation> = set.iter().map(|&i| ops[i].clone()).collect();
    let b = Budget {
        time: left,
        max_states,
    };
    matches!(linearizable(&sub, b), Found::No { .. })
}

/// The stuck operation, those overlapping it in time, and the `width` operations that returned last before it
/// was invoked.
fn around(ops: &[Operation], stuck: usize, width: usize) -> BTreeSet<usize> {
    let s = &ops[stuck];
    let end = s.ret.unwrap_or(u64::MAX);
    let mut set: BTreeSet<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.is_inert() && o.call <= end && o.ret.is_none_or(|r| r >= s.call))
        .map(|(i, _)| i)
        .collect();
    set.insert(stuck);
    let mut before: Vec<(u64, usize)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o.ret {
            Some(r) if r < s.call && !o.is_inert() => Some((r, i)),
            _ => None,
        })
        .collect();
    before.sort_unstable_by(|a, b| b.cmp(a));
    set.extend(before.into_iter().take(width).map(|(_, i)| i));
    set
}

/// The smallest closed superset of `set` (see the module comment), less the failed compares it cannot keep.
fn close(ops: &[Operation], mut set: BTreeSet<usize>) -> BTreeSet<usize> {
    loop {
        let needed: BTreeSet<u64> = set.iter().filter_map(|&i| ops[i].observed()).collect();
        let before = set.len();
        for (i, o) in ops.iter().enumerate() {
            if o.written().is_some_and(|w| needed.contains(&w)) {
                set.insert(i);
            }
        }
        if set.len() == before {
            break;
        }
    }
    let written: BTreeSet<u64> = set.iter().filter_map(|&i| ops[i].written()).collect();
    set.retain(|&i| match (ops[i].op, ops[i].outcome) {
        (super::RegOp::Cas { from, .. }, super::Outcome::CasFailed) => !written.contains(&from),
        _ => true,
    });
    set
}
