//! A fast exact test for the histories this suite writes: a read/write register whose every write writes a
//! value of its own. Then each read names the write it saw, and the history is linearizable iff the zones of
//! its clusters fit (Gibbons & Korach, "Testing shared memories", SIAM J. Computing 1997): a cluster is a write
//! with the reads of its value; it must be linearized from its earliest return `f` to its latest invocation
//! `s`. When `f < s` the cluster spans [f, s] (a forward zone); otherwise it fits at one point of [s, f] (a
//! backward zone). Two forward zones may not overlap, and a backward zone may not lie inside a forward zone.
//! The initial empty value is a cluster whose write is before everything.
//!
//! This runs in O(n log n) where the general search is exponential in the number of concurrent operations,
//! which a fault-heavy run has plenty of. Histories it does not apply to (compare-and-set, repeated values)
//! go to the search; a test checks both give the same verdict on random histories.

use super::{Operation, Outcome, RegOp};
use std::collections::HashMap;

/// A reason the history cannot be linearized, naming the operations involved (indexes into the history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A read of a value no operation wrote.
    NeverWritten(usize),
    /// A read that returned before the write of its value was invoked.
    ReadBeforeWrite { read: usize, write: usize },
    /// Two clusters that must each span a stretch of time overlap, or one that fits at a point lies inside
    /// another's span: the operations of both clusters.
    Zones(Vec<usize>),
}

/// Whether [`check`] applies: no compare-and-set, and no value written twice.
pub fn applies(ops: &[Operation]) -> bool {
    let mut seen = std::collections::HashSet::new();
    ops.iter().all(|o| match o.op {
        RegOp::Cas { .. } => false,
        RegOp::Write(x) => seen.insert(x),
        RegOp::Read => true,
    })
}

#[derive(Debug, Clone, Copy)]
struct Zone {
    /// Earliest return of the cluster (`i128` so the initial value's write can sit at minus infinity).
    f: i128,
    /// Latest invocation.
    s: i128,
    cluster: usize,
}

/// Decides a history for which [`applies`] holds: None if linearizable.
pub fn check(ops: &[Operation]) -> Option<Conflict> {
    const NEG_INF: i128 = i128::MIN / 2;
    const POS_INF: i128 = i128::MAX / 2;
    let ret = |o: &Operation| o.ret.map_or(POS_INF, i128::from);
    // Clusters: 0 is the initial value; then one per write whose value is read (an unread write of unknown
    // outcome may be left out: it can always go last).
    let mut writer: HashMap<u64, usize> = HashMap::new();
    for (i, o) in ops.iter().enumerate() {
        if let RegOp::Write(x) = o.op {
            writer.insert(x, i);
        }
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new()];
    let mut cluster_of_write: HashMap<usize, usize> = HashMap::new();
    for (i, o) in ops.iter().enumerate() {
        let Outcome::Read(v) = o.outcome else {
            continue;
        };
        if o.op != RegOp::Read {
            continue;
        }
        let c = match v {
            None => 0,
            Some(x) => {
                let Some(&w) = writer.get(&x) else {
                    return Some(Conflict::NeverWritten(i));
                };
                if o.ret.is_some_and(|r| r < ops[w].call) {
                    return Some(Conflict::ReadBeforeWrite { read: i, write: w });
                }
                *cluster_of_write.entry(w).or_insert_with(|| {
                    members.push(vec![w]);
                    members.len() - 1
                })
            }
        };
        members[c].push(i);
    }
    // Writes nobody read, but which completed, are clusters of their own: they still overwrite.
    for (i, o) in ops.iter().enumerate() {
        if matches!(o.op, RegOp::Write(_))
            && o.outcome == Outcome::Written
            && !cluster_of_write.contains_key(&i)
        {
            members.push(vec![i]);
        }
    }
    let mut forward: Vec<Zone> = Vec::new();
    let mut backward: Vec<Zone> = Vec::new();
    for (c, m) in members.iter().enumerate() {
        if m.is_empty() {
            continue;
        }
        let mut f = m.iter().map(|&i| ret(&ops[i])).min().unwrap_or(POS_INF);
        let s = m
            .iter()
            .map(|&i| i128::from(ops[i].call))
            .max()
            .unwrap_or(NEG_INF);
        if c == 0 {
            f = NEG_INF;
        }
        let z = Zone { f, s, cluster: c };
        if f < s {
            forward.push(z);
        } else {
            backward.push(z);
        }
    }
    // Forward zones, sorted by start, must not overlap (touching is fine: ties may be ordered either way).
    forward.sort_by_key(|z| (z.f, z.s));
    let both = |a: usize, b: usize| {
        let mut v: Vec<usize> = members[a].iter().chain(&members[b]).copied().collect();
        v.sort_by_key(|&i| (ops[i].call, i));
        Conflict::Zones(v)
    };
    // The furthest-reaching earlier zone is all that can overlap the next one.
    let mut reach: Option<Zone> = None;
    for z in &forward {
        if let Some(r) = reach {
            if z.f < r.s {
                return Some(both(r.cluster, z.cluster));
            }
        }
        if reach.is_none_or(|r| z.s > r.s) {
            reach = Some(*z);
        }
    }
    // A backward zone [s, f] lies inside a forward zone [F, S] when F < s and f < S. Forward zones are
    // disjoint and sorted, so the only candidate is the last one starting before s.
    for b in &backward {
        let i = forward.partition_point(|z| z.f < b.s);
        if i > 0 {
            let z = forward[i - 1];
            if b.f < z.s {
                return Some(both(z.cluster, b.cluster));
            }
        }
    }
    None
}
