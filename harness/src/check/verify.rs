//! The end-of-run checks. The decided log is a total order, so linearizability needs no search: replay the log
//! through a fresh state machine, and every operation's linearization point is the first slot that carries it.
//!
//! - validity: every decided command is one a client issued, with the same operation;
//! - exactly-once and state: every live replica's state digest equals the replay's after the same prefix (a
//!   replica that ran a command twice, or skipped one, diverges);
//! - linearizability: every reply equals the replay's output for that command, every completed command is in
//!   the log, and if A completed before B was invoked then A precedes B in the log;
//! - learning: a command a client learned chosen in a slot (before its reply) is in that slot's decided value.

use super::history::{describe, History, Violation};
use paxos_variants::kv::{KvStore, Outcome};
use paxos_variants::{ClientId, NodeId, ReplicaStatus, Reply, Slot};
use std::collections::HashMap;

fn show(r: &Reply) -> String {
    match r {
        Reply::Written { version } => format!("written v{version}"),
        Reply::Read { version, .. } => format!("read v{version}"),
        Reply::Cas { ok: true, version } => format!("compare-and-set ok, v{version}"),
        Reply::Cas { ok: false, version } => format!("compare-and-set failed at v{version}"),
    }
}

/// A command in the log: (position, invoked, completed, id).
type Placed = ((u64, u32), u64, Option<u64>, (ClientId, u64));

/// Runs every end-of-run check and appends what it finds to the history's violations.
pub fn verify(h: &mut History, replicas: &[(NodeId, ReplicaStatus)]) {
    let mut found = Vec::new();
    let mut kv = KvStore::new();
    // Position (slot, index within the slot) and reply of each command's first application.
    let mut first: HashMap<(ClientId, u64), ((u64, u32), Reply)> = HashMap::new();
    // Validity covers every decided slot, also those after a slot nobody reported.
    for (s, value) in h.chosen.iter().enumerate() {
        let Some(value) = value else { continue };
        for cmd in value.commands() {
            match h.op(cmd.client, cmd.seq) {
                Some(rec) if rec.op == cmd.op => {}
                _ => found.push(Violation::Validity {
                    slot: Slot(s as u64),
                    what: format!(
                        "command c{}#{} in {}",
                        cmd.client.0,
                        cmd.seq,
                        describe(value)
                    ),
                }),
            }
        }
    }
    // The replay covers the contiguous decided prefix. Exactly-once is checked here independently of the
    // store's own duplicate table: a command the store runs twice is a violation even if every replica agrees.
    let mut digest_after = vec![kv.digest()];
    for (s, entry) in h.chosen.iter().enumerate() {
        let Some(value) = entry else { break };
        for (i, cmd) in value.commands().iter().enumerate() {
            if let Outcome::Executed(reply) = kv.apply(cmd) {
                let pos = ((s as u64, i as u32), reply);
                if first.insert((cmd.client, cmd.seq), pos).is_some() {
                    found.push(Violation::ExecutedTwice {
                        client: cmd.client,
                        seq: cmd.seq,
                        slot: Slot(s as u64),
                    });
                }
            }
        }
        digest_after.push(kv.digest());
    }

    for (node, st) in replicas {
        match digest_after.get(st.applied_upto.0 as usize) {
            Some(d) if *d == st.state_digest => {}
            Some(_) => found.push(Violation::StateDivergence {
                node: *node,
                applied_upto: st.applied_upto,
                detail: "has a state different from the decided log's".into(),
            }),
            None => found.push(Violation::StateDivergence {
                node: *node,
                applied_upto: st.applied_upto,
                detail: format!(
                    "applied slots that were never reported decided (decided prefix: {})",
                    digest_after.len() - 1
                ),
            }),
        }
    }

    let mut placed: Vec<Placed> = Vec::new();
    for (c, ops) in h.ops.iter().enumerate() {
        let client = ClientId(c as u32);
        for (seq, rec) in ops.iter().enumerate() {
            let seq = seq as u64;
            let pos = first.get(&(client, seq));
            if let Some((t, reply)) = &rec.completed {
                match pos {
                    None => found.push(Violation::CompletedButNotDecided { client, seq }),
                    Some((_, expected)) if expected != reply => found.push(Violation::WrongReply {
                        client,
                        seq,
                        got: show(reply),
                        expected: show(expected),
                    }),
                    Some(_) => {}
                }
                let _ = t;
            }
            if let Some((_, slot)) = rec.learned {
                let decided = h.chosen.get(slot.0 as usize).and_then(|v| v.as_ref());
                if let Some(v) = decided {
                    if !v
                        .commands()
                        .iter()
                        .any(|c| c.client == client && c.seq == seq)
                    {
                        found.push(Violation::LearnedButNotChosen {
                            client,
                            seq,
                            slot,
                            decided: describe(v),
                        });
                    }
                }
            }
            if let Some((p, _)) = pos {
                placed.push((
                    *p,
                    rec.invoked_ns,
                    rec.completed.as_ref().map(|c| c.0),
                    (client, seq),
                ));
            }
        }
    }
    // Walk the log backwards keeping the earliest completion among later commands: a command invoked after
    // that completion is ordered against real time.
    placed.sort_unstable_by_key(|p| p.0);
    let mut earliest_later: Option<(u64, (ClientId, u64))> = None;
    for &(_, invoked, completed, id) in placed.iter().rev() {
        if let Some((done, earlier)) = earliest_later {
            if done < invoked {
                found.push(Violation::RealTimeOrder { earlier, later: id });
                break;
            }
        }
        if let Some(c) = completed {
            if earliest_later.is_none_or(|(d, _)| c < d) {
                earliest_later = Some((c, id));
            }
        }
    }
    h.violations.extend(found);
}

/// What the end-of-run durability check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acknowledged {
    /// Commands whose client got a reply.
    pub commands: usize,
    /// Of them, writes.
    pub writes: usize,
    /// Acknowledged commands missing from the final state of at least one of the replicas checked.
    pub lost: usize,
}

/// Every acknowledged command must be in the final state of every replica in `replicas` (the live ones that run
/// the state machine): in a decided slot below what the replica has applied. The state check of [`verify`]
/// already shows that what a replica applied is the log's prefix, so this makes "not lost" mean "in its state".
/// Lost commands are added to the history's violations (the first few) and counted.
pub fn acknowledged_in_every_state(
    h: &mut History,
    replicas: &[(NodeId, ReplicaStatus)],
) -> Acknowledged {
    let mut slot_of: HashMap<(ClientId, u64), u64> = HashMap::new();
    for (s, value) in h.chosen.iter().enumerate() {
        for cmd in value.iter().flat_map(|v| v.commands()) {
            slot_of.entry((cmd.client, cmd.seq)).or_insert(s as u64);
        }
    }
    let mut out = Acknowledged::default();
    let mut found = Vec::new();
    for (c, ops) in h.ops.iter().enumerate() {
        let client = ClientId(c as u32);
        for (seq, rec) in ops.iter().enumerate() {
            if rec.completed.is_none() {
                continue;
            }
            let seq = seq as u64;
            out.commands += 1;
            if matches!(
                (&rec.op, &rec.completed),
                (paxos_variants::Op::Put { .. }, _) | (_, Some((_, Reply::Cas { ok: true, .. })))
            ) {
                out.writes += 1;
            }
            let slot = slot_of.get(&(client, seq)).copied();
            let missing = replicas
                .iter()
                .find(|(_, st)| slot.is_none_or(|s| s >= st.applied_upto.0));
            if let Some((node, st)) = missing {
                out.lost += 1;
                if found.len() < 10 {
                    found.push(Violation::Lost {
                        client,
                        seq,
                        node: *node,
                        slot: slot.map(Slot),
                        applied_upto: st.applied_upto,
                    });
                }
            }
        }
    }
    h.violations.extend(found);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use paxos_variants::{Command, Op, Value};

    fn put(c: u32, seq: u64, key: u64) -> Command {
        Command {
            client: ClientId(c),
            seq,
            ack: 0,
            op: Op::Put {
                key,
                value: Bytes::from_static(b"v"),
            },
        }
    }

    /// (command, invoked, completion)
    type Case = (Command, u64, Option<(u64, Reply)>);

    fn history_with(cmds: &[Case]) -> History {
        let mut h = History::new(3);
        for (cmd, inv, done) in cmds {
            h.invoke(cmd.client, cmd.seq, cmd.op.clone(), *inv);
            if let Some((t, r)) = done {
                h.complete(cmd.client, cmd.seq, r.clone(), *t);
            }
        }
        h
    }

    fn w(v: u64) -> Reply {
        Reply::Written { version: v }
    }

    #[test]
    fn a_correct_history_passes() {
        let a = put(0, 0, 1);
        let b = put(1, 0, 1);
        let mut h = history_with(&[
            (a.clone(), 0, Some((10, w(1)))),
            (b.clone(), 20, Some((30, w(2)))),
        ]);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![a.clone()]));
        h.decision(NodeId(1), Slot(0), &Value::batch(vec![a]));
        h.decision(NodeId(0), Slot(1), &Value::batch(vec![b]));
        verify(&mut h, &[]);
        assert!(h.violations.is_empty(), "{:?}", h.violations);
    }

    #[test]
    fn a_command_learned_in_a_slot_decided_otherwise_is_caught() {
        // Client 0 learned its command chosen in slot 0 (a fast quorum of votes, it believed), but slot 0 was
        // decided as client 1's command and client 0's went to slot 1.
        let a = put(0, 0, 1);
        let b = put(1, 0, 2);
        let mut h = history_with(&[(a.clone(), 0, Some((30, w(1)))), (b.clone(), 0, None)]);
        h.learned(ClientId(0), 0, Slot(0), 20);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![b]));
        h.decision(NodeId(0), Slot(1), &Value::batch(vec![a.clone()]));
        verify(&mut h, &[]);
        assert!(
            matches!(
                h.violations[..],
                [Violation::LearnedButNotChosen { slot: Slot(0), .. }]
            ),
            "{:?}",
            h.violations
        );
        // Learned in the slot that holds it: fine.
        let mut h = history_with(&[(a.clone(), 0, Some((30, w(1))))]);
        h.learned(ClientId(0), 0, Slot(0), 20);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![a]));
        verify(&mut h, &[]);
        assert!(h.violations.is_empty(), "{:?}", h.violations);
    }

    #[test]
    fn disagreement_is_caught() {
        let mut h = History::new(2);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![put(0, 0, 1)]));
        h.decision(NodeId(1), Slot(0), &Value::batch(vec![put(1, 0, 1)]));
        assert!(matches!(h.violations[0], Violation::Agreement { .. }));
    }

    #[test]
    fn an_invented_command_is_caught() {
        let mut h = History::new(2);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![put(1, 0, 1)]));
        verify(&mut h, &[]);
        assert!(matches!(h.violations[0], Violation::Validity { .. }));
    }

    #[test]
    fn real_time_inversion_is_caught() {
        // a completes at 10, b is invoked at 20, but the log puts b first.
        let a = put(0, 0, 1);
        let b = put(1, 0, 2);
        let mut h = history_with(&[
            (a.clone(), 0, Some((10, w(1)))),
            (b.clone(), 20, Some((30, w(1)))),
        ]);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![b]));
        h.decision(NodeId(0), Slot(1), &Value::batch(vec![a]));
        verify(&mut h, &[]);
        assert!(
            h.violations
                .iter()
                .any(|v| matches!(v, Violation::RealTimeOrder { .. })),
            "{:?}",
            h.violations
        );
    }

    #[test]
    fn a_wrong_reply_and_an_undecided_completion_are_caught() {
        let a = put(0, 0, 1);
        let b = put(1, 0, 1);
        let mut h = history_with(&[(a.clone(), 0, Some((10, w(7)))), (b, 0, Some((10, w(1))))]);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![a]));
        verify(&mut h, &[]);
        assert!(h
            .violations
            .iter()
            .any(|v| matches!(v, Violation::WrongReply { .. })));
        assert!(h
            .violations
            .iter()
            .any(|v| matches!(v, Violation::CompletedButNotDecided { .. })));
    }

    #[test]
    fn a_replica_that_applied_twice_diverges() {
        let a = put(0, 0, 1);
        let mut h = history_with(&[(a.clone(), 0, None)]);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![a.clone()]));
        let mut twice = KvStore::new();
        twice.apply(&a);
        let mut again = a.clone();
        again.seq = 99; // what a broken dedup would do: run it as new
        twice.apply(&again);
        let st = ReplicaStatus {
            applied_upto: Slot(1),
            state_digest: twice.digest(),
            is_leader: false,
            counters: Default::default(),
            held_entries: 1,
        };
        verify(&mut h, &[(NodeId(0), st)]);
        assert!(matches!(h.violations[0], Violation::StateDivergence { .. }));
    }

    #[test]
    fn an_acknowledged_command_a_live_replica_has_not_applied_is_lost() {
        let a = put(0, 0, 1);
        let b = put(1, 0, 2);
        let mut h = history_with(&[
            (a.clone(), 0, Some((10, w(1)))),
            (b.clone(), 20, Some((30, w(1)))),
        ]);
        h.decision(NodeId(0), Slot(0), &Value::batch(vec![a]));
        h.decision(NodeId(0), Slot(1), &Value::batch(vec![b]));
        let st = |applied| ReplicaStatus {
            applied_upto: Slot(applied),
            state_digest: 0,
            is_leader: false,
            counters: Default::default(),
            held_entries: 0,
        };
        let all = acknowledged_in_every_state(&mut h, &[(NodeId(0), st(2)), (NodeId(1), st(2))]);
        assert_eq!((all.commands, all.writes, all.lost), (2, 2, 0));
        assert!(h.violations.is_empty());
        // Replica 1 ended one slot short: client 1's acknowledged write is not in its state.
        let short = acknowledged_in_every_state(&mut h, &[(NodeId(0), st(2)), (NodeId(1), st(1))]);
        assert_eq!(short.lost, 1);
        assert!(matches!(
            h.violations[..],
            [Violation::Lost {
                node: NodeId(1),
                slot: Some(Slot(1)),
                ..
            }]
        ));
        // An acknowledged command in no decided slot is lost everywhere.
        let mut h = history_with(&[(put(2, 0, 3), 0, Some((10, w(1))))]);
        let none = acknowledged_in_every_state(&mut h, &[(NodeId(0), st(5))]);
        assert_eq!(none.lost, 1);
        assert!(h.violations[0].to_string().contains("in no decided slot"));
    }
}
