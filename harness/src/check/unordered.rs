//! The end-of-run checks for a variant that decides no log (EPaxos). Its replicas order only interfering
//! commands, so there is no sequence of slots to replay. What must hold instead, and is checked here:
//!
//! - validity: every decided instance holds commands clients issued (as for a log);
//! - one order per key: any two replicas (and incarnations of one) that ran two commands on a key ran them in
//!   the same order; no incarnation ran a command twice;
//! - replies: the orders merged per key give each key's history; replaying it, every reply a client got must
//!   be the one the replay gives, and every completed command must have run somewhere.
//!
//! The last two need every command a replica ran; drivers that do not report them (replica processes) get
//! validity here, and agreement and the black box.
//!
//! Agreement on each instance's value is checked as decisions arrive ([`History::decision`]); linearizability
//! of what clients saw, by the black-box checker that runs for every variant.

use super::history::{History, Violation};
use bytes::Bytes;
use paxos_variants::{ClientId, CommandId, NodeId, Op, Reply};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub fn verify_unordered(h: &mut History) {
    let mut found = Vec::new();
    super::verify::validity(h, &mut found);
    if !h.executions_tracked {
        h.violations.extend(found);
        return;
    }
    // Per key, per (replica, incarnation): the commands in the order they ran.
    let mut by_key: BTreeMap<u64, Vec<(NodeId, Vec<CommandId>)>> = BTreeMap::new();
    for (&(node, _), ran) in &h.executions {
        let mut seen: BTreeSet<CommandId> = BTreeSet::new();
        let mut per_key: BTreeMap<u64, Vec<CommandId>> = BTreeMap::new();
        for &(key, id) in ran {
            if !seen.insert(id) {
                found.push(Violation::RanTwice {
                    client: id.client,
                    seq: id.seq,
                    node,
                });
                continue;
            }
            per_key.entry(key).or_default().push(id);
        }
        for (key, ids) in per_key {
            by_key.entry(key).or_default().push((node, ids));
        }
    }
    let mut expected: HashMap<CommandId, Reply> = HashMap::new();
    for (&key, runs) in &by_key {
        match merge(runs) {
            Ok(order) => replay(h, &order, &mut expected),
            Err((first, second, node_a, node_b)) => found.push(Violation::ExecutionOrder {
                key,
                first: (first.client, first.seq),
                second: (second.client, second.seq),
                node_a,
                node_b,
            }),
        }
    }
    for (c, ops) in h.ops.iter().enumerate() {
        let client = ClientId(c as u32);
        for (seq, rec) in ops.iter().enumerate() {
            let Some((_, got)) = &rec.completed else {
                continue;
            };
            let seq = seq as u64;
            match expected.get(&CommandId { client, seq }) {
                None => found.push(Violation::CompletedButNotDecided { client, seq }),
                Some(e) if e != got => found.push(Violation::WrongReply {
                    client,
                    seq,
                    got: super::verify::show(got),
                    expected: super::verify::show(e),
                }),
                Some(_) => {}
            }
        }
    }
    h.violations.extend(found);
}

/// One order of a key's commands that every run's order follows, or two commands two runs ordered
/// differently (and by whom).
fn merge(
    runs: &[(NodeId, Vec<CommandId>)],
) -> Result<Vec<CommandId>, (CommandId, CommandId, NodeId, NodeId)> {
    // Any two runs must agree on the commands they share: walking a's order, their positions in b rise.
    let positions: Vec<HashMap<CommandId, usize>> = runs
        .iter()
        .map(|(_, ids)| ids.iter().enumerate().map(|(i, &id)| (id, i)).collect())
        .collect();
    for (a, (node_a, ids_a)) in runs.iter().enumerate() {
        for (b, (node_b, _)) in runs.iter().enumerate().skip(a + 1) {
            let mut last: Option<(usize, CommandId)> = None;
            for &id in ids_a {
                let Some(&pos) = positions[b].get(&id) else {
                    continue;
                };
                if let Some((lp, lid)) = last {
                    if pos < lp {
                        return Err((lid, id, *node_a, *node_b));
                    }
                }
                last = Some((pos, id));
            }
        }
    }
    // Consistent runs: a topological order of "ran just before" edges (Kahn's algorithm, smallest first).
    let mut succ: HashMap<CommandId, BTreeSet<CommandId>> = HashMap::new();
    let mut indeg: BTreeMap<CommandId, usize> = BTreeMap::new();
    for (_, ids) in runs {
        for &id in ids {
            indeg.entry(id).or_insert(0);
        }
        for w in ids.windows(2) {
            if succ.entry(w[0]).or_default().insert(w[1]) {
                *indeg.entry(w[1]).or_insert(0) += 1;
            }
        }
    }
    let mut ready: BTreeSet<CommandId> = indeg
        .iter()
        .filter(|(_, &d)| d == 0)
        .map(|(&id, _)| id)
        .collect();
    let mut order = Vec::with_capacity(indeg.len());
    while let Some(id) = ready.pop_first() {
        order.push(id);
        for &next in succ.get(&id).into_iter().flatten() {
            if let Some(d) = indeg.get_mut(&next) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(next);
                }
            }
        }
    }
    Ok(order)
}

/// Replays one key's commands in `order` on a register and notes the reply each should have got.
fn replay(h: &History, order: &[CommandId], expected: &mut HashMap<CommandId, Reply>) {
    let mut version = 0u64;
    let mut value: Option<Bytes> = None;
    for &id in order {
        let Some(rec) = h.op(id.client, id.seq) else {
            continue;
        };
        let reply = match &rec.op {
            Op::Put { value: v, .. } => {
                version += 1;
                value = Some(v.clone());
                Reply::Written { version }
            }
            Op::Get { .. } => Reply::Read {
                version,
                value: value.clone(),
            },
            Op::Cas { expect, new, .. } => {
                if value.as_ref() == Some(expect) {
                    version += 1;
                    value = Some(new.clone());
                    Reply::Cas { ok: true, version }
                } else {
                    Reply::Cas { ok: false, version }
                }
            }
        };
        expected.insert(id, reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::History;

    fn id(c: u32, seq: u64) -> CommandId {
        CommandId {
            client: ClientId(c),
            seq,
        }
    }

    fn put(h: &mut History, c: u32, seq: u64, done: Option<u64>) {
        let value = Bytes::from(format!("{c}-{seq}"));
        h.invoke(ClientId(c), seq, Op::Put { key: 1, value }, 10 * seq);
        if let Some(version) = done {
            h.complete(ClientId(c), seq, Reply::Written { version }, 10 * seq + 5);
        }
    }

    #[test]
    fn agreeing_orders_pass_and_their_replies_are_checked() {
        let mut h = History::new(2);
        h.unordered = true;
        h.executions_tracked = true;
        put(&mut h, 0, 0, Some(1));
        put(&mut h, 1, 0, Some(2));
        h.executed(NodeId(0), 0, &[(1, id(0, 0)), (1, id(1, 0))]);
        h.executed(NodeId(1), 0, &[(1, id(0, 0))]);
        h.executed(NodeId(1), 1, &[(1, id(0, 0)), (1, id(1, 0))]);
        verify_unordered(&mut h);
        assert!(h.violations.is_empty(), "{:?}", h.violations);
    }

    #[test]
    fn opposite_orders_a_wrong_reply_a_double_run_and_a_reply_without_a_run_are_caught() {
        let mut h = History::new(3);
        h.executions_tracked = true;
        put(&mut h, 0, 0, Some(1));
        put(&mut h, 1, 0, Some(1));
        h.executed(NodeId(0), 0, &[(1, id(0, 0)), (1, id(1, 0))]);
        h.executed(NodeId(2), 0, &[(1, id(1, 0)), (1, id(0, 0))]);
        verify_unordered(&mut h);
        assert!(h
            .violations
            .iter()
            .any(|v| matches!(v, Violation::ExecutionOrder { key: 1, .. })));
        assert!(h
            .violations
            .iter()
            .all(|v| !matches!(v, Violation::WrongReply { .. })));

        let mut h = History::new(3);
        h.executions_tracked = true;
        put(&mut h, 0, 0, Some(1));
        put(&mut h, 1, 0, Some(1)); // should be version 2
        put(&mut h, 2, 0, Some(3)); // never ran anywhere
        h.executed(NodeId(0), 0, &[(1, id(0, 0)), (1, id(1, 0)), (1, id(0, 0))]);
        verify_unordered(&mut h);
        let kinds: Vec<&Violation> = h.violations.iter().collect();
        assert!(
            kinds
                .iter()
                .any(|v| matches!(v, Violation::RanTwice { .. })),
            "{kinds:?}"
        );
        assert!(kinds.iter().any(|v| matches!(
            v,
            Violation::WrongReply {
                client: ClientId(1),
                ..
            }
        )));
        assert!(kinds.iter().any(|v| matches!(
            v,
            Violation::CompletedButNotDecided {
                client: ClientId(2),
                ..
            }
        )));
    }
}
