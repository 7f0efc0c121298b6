//! The end-of-run checks. The decided log is a total order, so linearizability needs no search: replay the log
//! through a fresh state machine, and every operation's linearization point is the first slot that carries it.
//!
//! - validity: every decided command is one a client issued, with the same operation;
//! - exactly-once and state: every live replica's state digest equals the replay's after the same prefix (a
//!   replica that ran a command twice, or skipped one, diverges);
//! - linearizability: every reply equals the replay's output for that command, every completed command is in
//!   the log, and if A completed before B was invoked then A precedes B in the log;
//! - learning: a command a client learned chosen in a slot (before its reply) is in that slot's decided value;
//! - reads answered outside the log (lease and quorum reads): each returns the key as some write in the log
//!   left it, and some point of the log between that write and the key's next one lies within the read's
//!   real-time window (after every command that completed before it was invoked, before every command invoked
//!   after it completed). The order between two reads is then left to the black-box checker.

use super::history::{describe, History, Violation};
use paxos_variants::kv::{KvStore, Outcome};
use paxos_variants::{ClientId, NodeId, ReplicaStatus, Reply, Slot};
use std::collections::HashMap;

pub(super) fn show(r: &Reply) -> String {
    match r {
        Reply::Written { version } => format!("written v{version}"),
        Reply::Read { version, .. } => format!("read v{version}"),
        Reply::Cas { ok: true, version } => format!("compare-and-set ok, v{version}"),
        Reply::Cas { ok: false, version } => format!("compare-and-set failed at v{version}"),
    }
}

/// A position in the log: (slot, index within the slot).
type Pos = (u64, u32);

/// A stretch of the log between two positions (`None`: its start, or its end).
type Window = (Option<Pos>, Option<Pos>);

/// A command in the log: (position, invoked, completed, id).
type Placed = (Pos, u64, Option<u64>, (ClientId, u64));

/// Runs every end-of-run check and appends what it finds to the history's violations.
pub fn verify(h: &mut History, replicas: &[(NodeId, ReplicaStatus)]) {
    if h.unordered {
        return super::unordered::verify_unordered(h);
    }
    let mut found = Vec::new();
    let mut kv = KvStore::new();
    // Position (slot, index within the slot) and reply of each command's first application.
    let mut first: HashMap<(ClientId, u64), (Pos, Reply)> = HashMap::new();
    validity(h, &mut found);
    // The replay covers the contiguous decided prefix. Exactly-once is checked here independently of the
    // store's own duplicate table: a command the store runs twice is a violation even if every replica agrees.
    let mut digest_after = vec![kv.digest()];
    let mut writes = Writes::default();
    for (s, entry) in h.chosen.iter().enumerate() {
        let Some(value) = entry else { break };
        for (i, cmd) in value.commands().iter().enumerate() {
            if let Outcome::Executed(reply) = kv.apply(cmd) {
                writes.note(cmd, &reply, (s as u64, i as u32));
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
    let mut off_log: Vec<(ClientId, u64)> = Vec::new();
    for (c, ops) in h.ops.iter().enumerate() {
        let client = ClientId(c as u32);
        for (seq, rec) in ops.iter().enumerate() {
            let seq = seq as u64;
            let pos = first.get(&(client, seq));
            // When reads may skip the log, every read is checked against the log's states: one that went
            // through the log may also have been answered, earlier, by a retry that did not.
            if h.off_log_reads && matches!(rec.op, paxos_variants::Op::Get { .. }) {
                if let Some((_, reply)) = &rec.completed {
                    off_log.push((client, seq));
                    if let Some(d) = writes.explains(reply, &rec.op) {
                        found.push(Violation::OffLogRead {
                            client,
                            seq,
                            detail: d,
                        });
                    }
                }
                continue;
            }
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
    found.extend(off_log_in_time(h, &placed, &writes, &off_log));
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

/// Where in the log each key took each version, and the value it took: the log's states of every key.
#[derive(Default)]
struct Writes {
    /// key -> position and value of versions 1, 2, ... in order.
    by_key: HashMap<u64, Vec<(Pos, bytes::Bytes)>>,
}

impl Writes {
    fn note(&mut self, cmd: &paxos_variants::Command, reply: &Reply, pos: Pos) {
        use paxos_variants::Op;
        let value = match (&cmd.op, reply) {
            (Op::Put { value, .. }, Reply::Written { .. }) => value.clone(),
            (Op::Cas { new, .. }, Reply::Cas { ok: true, .. }) => new.clone(),
            _ => return,
        };
        self.by_key
            .entry(cmd.op.key())
            .or_default()
            .push((pos, value));
    }

    /// The key's writes in log order: the one at index `i` made version `i + 1`.
    fn of(&self, key: u64) -> &[(Pos, bytes::Bytes)] {
        self.by_key.get(&key).map_or(&[], |w| &w[..])
    }

    /// The log positions between which a read of `key` at `version` may sit: after the write that made the
    /// version (None: from the start) and before the next (None: to the end).
    fn window(&self, key: u64, version: u64) -> Window {
        let w = self.of(key);
        let after = version
            .checked_sub(1)
            .and_then(|i| w.get(i as usize))
            .map(|(p, _)| *p);
        let before = w.get(version as usize).map(|(p, _)| *p);
        (after, before)
    }

    /// Why the log never held what `reply` says of the key, if it did not.
    fn explains(&self, reply: &Reply, op: &paxos_variants::Op) -> Option<String> {
        let Reply::Read { version, value } = reply else {
            return Some(format!("got {}", show(reply)));
        };
        let key = op.key();
        let w = self.of(key);
        let expected = match version.checked_sub(1) {
            None => None,
            Some(i) => match w.get(i as usize) {
                Some((_, v)) => Some(v.clone()),
                None => {
                    return Some(format!(
                        "read version {version} of key {key}, which the decided log never reached (it has {})",
                        w.len()
                    ))
                }
            },
        };
        (expected != *value).then(|| format!("read a value of key {key} at version {version} that the log's write of that version did not write"))
    }
}

/// Reads answered outside the log, against real time (see the module's list). Linearizability is local (a
/// history is linearizable when each key's is), so only the key's own logged commands constrain a read: it
/// needs a point of the key's log order after the write it saw and after every command of the key completed
/// before it was invoked, and before the key's next write and every command of the key invoked after it
/// completed.
fn off_log_in_time(
    h: &History,
    placed: &[Placed],
    writes: &Writes,
    reads: &[(ClientId, u64)],
) -> Vec<Violation> {
    if reads.is_empty() {
        return Vec::new();
    }
    let mut keys: HashMap<u64, KeyTimes> = HashMap::new();
    for &(p, inv, done, (client, seq)) in placed {
        if let Some(rec) = h.op(client, seq) {
            let k = keys.entry(rec.op.key()).or_default();
            k.by_invoked.push((inv, p));
            if let Some(d) = done {
                k.by_done.push((d, p));
            }
        }
    }
    keys.values_mut().for_each(KeyTimes::prepare);
    let none = KeyTimes::default();
    let mut found = Vec::new();
    for &(client, seq) in reads {
        let Some(rec) = h.op(client, seq) else {
            continue;
        };
        let Some((done, Reply::Read { version, .. })) = &rec.completed else {
            continue;
        };
        let key = rec.op.key();
        let times = keys.get(&key).unwrap_or(&none);
        let (after_write, before_write) = writes.window(key, *version);
        let (lo, hi) = times.window(rec.invoked_ns, *done);
        let from = after_write.max(lo);
        let to = match (before_write, hi) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                let slot = |p: Option<Pos>, none: &str| {
                    p.map_or(none.to_string(), |p| format!("slot {}", p.0))
                };
                let why = format!(
                    "saw version {version} of key {key}, which the log held from {} to {}, but the key's commands \
                     put the read after {} and before {}",
                    slot(after_write, "the start"),
                    slot(before_write, "the end"),
                    slot(lo, "the start"),
                    slot(hi, "the end"),
                );
                found.push(Violation::OffLogRead {
                    client,
                    seq,
                    detail: why,
                });
                if found.len() >= 10 {
                    break;
                }
            }
        }
    }
    found
}

/// One key's logged commands in time order, for [`off_log_in_time`].
#[derive(Default)]
struct KeyTimes {
    /// (completed, position), sorted, and the latest position among the first i.
    by_done: Vec<(u64, Pos)>,
    latest: Vec<Pos>,
    /// (invoked, position), sorted, and the earliest position among those from i on.
    by_invoked: Vec<(u64, Pos)>,
    earliest: Vec<Pos>,
}

impl KeyTimes {
    fn prepare(&mut self) {
        self.by_done.sort_unstable();
        self.latest = Vec::with_capacity(self.by_done.len());
        for &(_, p) in &self.by_done {
            let l = self.latest.last().map_or(p, |&l| l.max(p));
            self.latest.push(l);
        }
        self.by_invoked.sort_unstable();
        self.earliest = vec![(u64::MAX, u32::MAX); self.by_invoked.len()];
        for i in (0..self.by_invoked.len()).rev() {
            let next = self
                .earliest
                .get(i + 1)
                .copied()
                .unwrap_or((u64::MAX, u32::MAX));
            self.earliest[i] = self.by_invoked[i].1.min(next);
        }
    }

    /// The latest position among commands completed before `invoked`, and the earliest among those invoked
    /// after `done`.
    fn window(&self, invoked: u64, done: u64) -> Window {
        let n = self.by_done.partition_point(|&(d, _)| d < invoked);
        let lo = n.checked_sub(1).map(|i| self.latest[i]);
        let m = self.by_invoked.partition_point(|&(inv, _)| inv <= done);
        let hi = self.earliest.get(m).copied();
        (lo, hi)
    }
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
            // A read answered outside the log changed nothing that could be lost.
            if h.off_log_reads && matches!(rec.op, paxos_variants::Op::Get { .. }) {
                continue;
            }
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

/// Validity: every decided slot (also those after a slot nobody reported) holds only commands a client
/// issued, with the operation it issued.
pub(super) fn validity(h: &History, found: &mut Vec<Violation>) {
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
