//! Quorum reads, after "Paxos Quorum Reads" (Charapko, Ailijiang, Demirbas, 2019): no leader and no clock.
//!
//! A write is acknowledged only once a phase-2 quorum accepted its slot, and a read quorum meets every phase-2
//! quorum, so at least one replica the reader hears from has either applied that slot or accepted it. Each
//! replica answers with how far it has applied, the highest slot it accepted but has not applied that writes
//! the key, and the key's value in its state. The reader needs a state that has applied past both the highest
//! of those slots and the furthest any of them applied (a replica that applied the write may be the only one
//! that saw it): it takes the most advanced answer if that is enough, and otherwise asks every replica again to
//! answer once it has applied that far (the first to get there answers; the leader fills slots nobody writes).
//!
//! For majorities a read quorum is a majority; for Flexible Paxos it is `n − q2 + 1`, so a small q2 (cheap
//! writes) makes reads dear; for a grid it is a replica in every row.

use crate::command::{Reply, Value};
use crate::quorum::{NodeSet, QuorumSystem};
use crate::types::{ClientId, NodeId, Slot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A client's read request to one replica: answer once everything below `upto` is applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadProbe {
    pub seq: u64,
    pub key: u64,
    pub upto: Slot,
}

/// The highest slot at or above `applied` that this acceptor accepted with a write of `key`.
pub fn pending_write<'a>(
    accepted: impl DoubleEndedIterator<Item = (&'a Slot, &'a Value)>,
    key: u64,
) -> Option<Slot> {
    accepted
        .rev()
        .find(|(_, v)| {
            v.commands()
                .iter()
                .any(|c| c.op.key() == key && !matches!(c.op, crate::command::Op::Get { .. }))
        })
        .map(|(s, _)| *s)
}

/// Most probes a replica holds while it waits to apply; beyond it the oldest is dropped (its client retries).
const MAX_PARKED: usize = 4096;

/// Probes waiting for this replica to apply further.
#[derive(Debug, Default)]
pub struct Parked {
    waiting: Vec<(ClientId, ReadProbe)>,
}

impl Parked {
    pub fn park(&mut self, client: ClientId, probe: ReadProbe) {
        if self.waiting.len() >= MAX_PARKED {
            self.waiting.remove(0);
        }
        self.waiting.push((client, probe));
    }

    /// The probes that may be answered now that every slot below `applied` is applied.
    pub fn ready(&mut self, applied: Slot) -> Vec<(ClientId, ReadProbe)> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let (ready, wait) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(_, p)| p.upto <= applied);
        self.waiting = wait;
        ready
    }
}

/// One replica's answer to a probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadState {
    pub applied: Slot,
    pub pending: Option<Slot>,
    pub reply: Reply,
}

/// What a reader does after an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Wait,
    Done(Reply),
    /// Ask again, to be answered once everything below `upto` is applied; `node` answered furthest so far.
    AskAgain {
        node: NodeId,
        upto: Slot,
    },
}

/// A read in progress at the client.
#[derive(Debug, Default)]
pub struct Gathering {
    answers: BTreeMap<NodeId, ReadState>,
    /// Set once a read quorum has answered and the reader asked again: what it waits for.
    again: Option<Slot>,
}

impl Gathering {
    pub fn on_answer(&mut self, quorums: &QuorumSystem, from: NodeId, s: ReadState) -> Next {
        if let Some(upto) = self.again {
            // The replica asked again answers only once it applied that far.
            return if s.applied >= upto {
                Next::Done(s.reply)
            } else {
                Next::Wait
            };
        }
        self.answers.insert(from, s);
        let mut set = NodeSet::EMPTY;
        self.answers.keys().for_each(|&n| {
            set.insert(n);
        });
        if !quorums.is_read_quorum(set) {
            return Next::Wait;
        }
        let furthest = self.answers.values().map(|a| a.applied).max();
        let pending = self.answers.values().filter_map(|a| a.pending).max();
        let need = furthest
            .unwrap_or_default()
            .max(pending.map_or(Slot(0), Slot::next));
        // The most advanced answer, lowest id on ties.
        let Some((&node, best)) = self
            .answers
            .iter()
            .max_by_key(|(n, a)| (a.applied, std::cmp::Reverse(**n)))
        else {
            return Next::Wait;
        };
        if best.applied >= need {
            return Next::Done(best.reply.clone());
        }
        self.again = Some(need);
        Next::AskAgain { node, upto: need }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Op};
    use bytes::Bytes;

    fn read(version: u64) -> Reply {
        Reply::Read {
            version,
            value: Some(Bytes::from(version.to_string())),
        }
    }

    fn state(applied: u64, pending: Option<u64>, version: u64) -> ReadState {
        ReadState {
            applied: Slot(applied),
            pending: pending.map(Slot),
            reply: read(version),
        }
    }

    #[test]
    fn the_most_advanced_answer_of_a_read_quorum_is_taken_when_nothing_newer_is_pending() {
        let q = QuorumSystem::majority(5).unwrap();
        let mut g = Gathering::default();
        assert_eq!(g.on_answer(&q, NodeId(1), state(7, None, 2)), Next::Wait);
        assert_eq!(g.on_answer(&q, NodeId(3), state(9, None, 3)), Next::Wait);
        // Three of five: replica 3 applied furthest, and nobody has a pending write of the key.
        assert_eq!(
            g.on_answer(&q, NodeId(4), state(5, Some(4), 1)),
            Next::Done(read(3))
        );
    }

    #[test]
    fn a_pending_write_beyond_every_state_sends_the_reader_back_to_wait_for_it() {
        let q = QuorumSystem::majority(3).unwrap();
        let mut g = Gathering::default();
        g.on_answer(&q, NodeId(0), state(4, Some(6), 1));
        let next = g.on_answer(&q, NodeId(2), state(5, None, 1));
        assert_eq!(
            next,
            Next::AskAgain {
                node: NodeId(2),
                upto: Slot(7)
            }
        );
        assert_eq!(g.on_answer(&q, NodeId(2), state(6, None, 1)), Next::Wait);
        assert_eq!(
            g.on_answer(&q, NodeId(2), state(7, None, 2)),
            Next::Done(read(2))
        );
    }

    #[test]
    fn flexible_read_quorums_follow_q2() {
        // n = 5, q2 = 2: a read must meet every pair, so it needs 4 answers; q2 = 4 needs only 2.
        let small_q2 = QuorumSystem::flexible(5, 4, 2).unwrap();
        let large_q2 = QuorumSystem::flexible(5, 2, 4).unwrap();
        let mut g = Gathering::default();
        for n in 0..3 {
            assert_eq!(
                g.on_answer(&small_q2, NodeId(n), state(1, None, 0)),
                Next::Wait
            );
        }
        assert_ne!(
            g.on_answer(&small_q2, NodeId(3), state(1, None, 0)),
            Next::Wait
        );
        let mut g = Gathering::default();
        assert_eq!(
            g.on_answer(&large_q2, NodeId(0), state(1, None, 0)),
            Next::Wait
        );
        assert_ne!(
            g.on_answer(&large_q2, NodeId(1), state(1, None, 0)),
            Next::Wait
        );
    }

    #[test]
    fn only_writes_of_the_key_count_as_pending() {
        let cmd = |key, op: fn(u64) -> Op| Command {
            client: ClientId(0),
            seq: key,
            ack: 0,
            op: op(key),
        };
        let put = |k| Op::Put {
            key: k,
            value: Bytes::new(),
        };
        let get = |k| Op::Get { key: k };
        let log: BTreeMap<Slot, Value> = [
            (Slot(3), Value::batch(vec![cmd(1, put)])),
            (Slot(4), Value::batch(vec![cmd(2, put)])),
            (Slot(5), Value::batch(vec![cmd(1, get)])),
        ]
        .into_iter()
        .collect();
        assert_eq!(pending_write(log.iter(), 1), Some(Slot(3)));
        assert_eq!(pending_write(log.iter(), 2), Some(Slot(4)));
        assert_eq!(pending_write(log.iter(), 9), None);
    }

    #[test]
    fn parked_probes_leave_once_applied_far_enough() {
        let mut p = Parked::default();
        let probe = |seq, upto| ReadProbe {
            seq,
            key: 1,
            upto: Slot(upto),
        };
        p.park(ClientId(1), probe(0, 5));
        p.park(ClientId(2), probe(1, 9));
        assert!(p.ready(Slot(4)).is_empty());
        assert_eq!(p.ready(Slot(5)).len(), 1);
        assert_eq!(p.ready(Slot(9)), vec![(ClientId(2), probe(1, 9))]);
    }
}
