//! What the checker sees of a run: every decision every replica reported, and every client operation with its
//! invocation and completion times. Agreement is checked as decisions arrive; the rest at the end
//! ([`super::verify`]).

use paxos_variants::{ClientId, CommandId, NodeId, Op, Reply, Slot, Value};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone)]
pub struct OpRecord {
    pub op: Op,
    pub invoked_ns: u64,
    pub completed: Option<(u64, Reply)>,
    /// When and in which slot the client learned its command chosen before the reply (Fast Paxos).
    pub learned: Option<(u64, Slot)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    Agreement {
        slot: Slot,
        node: NodeId,
        first: String,
        second: String,
    },
    Validity {
        slot: Slot,
        what: String,
    },
    CompletedButNotDecided {
        client: ClientId,
        seq: u64,
    },
    WrongReply {
        client: ClientId,
        seq: u64,
        got: String,
        expected: String,
    },
    /// A read answered outside the log (lease or quorum read) that no point of the log explains.
    OffLogRead {
        client: ClientId,
        seq: u64,
        detail: String,
    },
    RealTimeOrder {
        earlier: (ClientId, u64),
        later: (ClientId, u64),
    },
    /// The log's replay ran one command twice: the exactly-once table failed.
    ExecutedTwice {
        client: ClientId,
        seq: u64,
        slot: Slot,
    },
    StateDivergence {
        node: NodeId,
        applied_upto: Slot,
        detail: String,
    },
    /// A client learned its command chosen in a slot that was decided otherwise.
    LearnedButNotChosen {
        client: ClientId,
        seq: u64,
        slot: Slot,
        decided: String,
    },
    /// A replica crashed holding acceptor state it had answered from but never persisted.
    Unpersisted {
        node: NodeId,
        at_ms: u64,
    },
    Liveness {
        pending: usize,
        after_ms: u64,
    },
    /// An acknowledged command that a live replica running the state machine had not applied at the end.
    Lost {
        client: ClientId,
        seq: u64,
        node: NodeId,
        slot: Option<Slot>,
        applied_upto: Slot,
    },
    Storm {
        at_ms: u64,
    },
    /// The black-box checker, from the client history alone: no order of one key's operations explains what
    /// the clients saw. `witness` lists operations that cannot be ordered by themselves.
    NotLinearizable {
        key: u64,
        witness: Vec<String>,
    },
    /// Variants without a total order (EPaxos): two replicas ran two commands on one key in opposite orders.
    ExecutionOrder {
        key: u64,
        first: (ClientId, u64),
        second: (ClientId, u64),
        node_a: NodeId,
        node_b: NodeId,
    },
    /// Variants without a total order: one replica incarnation ran a command twice.
    RanTwice {
        client: ClientId,
        seq: u64,
        node: NodeId,
    },
    /// `check --history-dir`: a history file could not be written.
    HistoryNotWritten {
        path: String,
        error: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Agreement { slot, node, first, second } => write!(
                f,
                "agreement: slot {} was decided as {first}, but replica {} decided {second}",
                slot.0, node.0
            ),
            Violation::Validity { slot, what } => {
                write!(f, "validity: slot {} holds {what}, which no client proposed", slot.0)
            }
            Violation::CompletedButNotDecided { client, seq } => write!(
                f,
                "linearizability: client {} got a reply to command {seq}, which is in no decided slot",
                client.0
            ),
            Violation::WrongReply { client, seq, got, expected } => write!(
                f,
                "linearizability: client {} command {seq} got {got}, but the log's state machine gives {expected}",
                client.0
            ),
            Violation::OffLogRead { client, seq, detail } => write!(
                f,
                "linearizability: client {} read {seq}, answered outside the log, {detail}",
                client.0
            ),
            Violation::RealTimeOrder { earlier, later } => write!(
                f,
                "linearizability: client {} command {} completed before client {} command {} was invoked, \
                 yet the log orders it after",
                earlier.0 .0, earlier.1, later.0 .0, later.1
            ),
            Violation::ExecutionOrder { key, first, second, node_a, node_b } => write!(
                f,
                "execution order: on key {key}, replica {} ran client {} command {} before client {} command {}, \
                 replica {} the other way round",
                node_a.0, first.0 .0, first.1, second.0 .0, second.1, node_b.0
            ),
            Violation::RanTwice { client, seq, node } => write!(
                f,
                "exactly-once: replica {} ran client {} command {seq} twice",
                node.0, client.0
            ),
            Violation::ExecutedTwice { client, seq, slot } => write!(
                f,
                "exactly-once: client {} command {seq} ran a second time in slot {}",
                client.0, slot.0
            ),
            Violation::StateDivergence { node, applied_upto, detail } => write!(
                f,
                "exactly-once/state: replica {} after applying {} slots {detail}",
                node.0, applied_upto.0
            ),
            Violation::Storm { at_ms } => write!(
                f,
                "message storm: more than {} events queued at {at_ms} ms of virtual time; messages multiply",
                crate::sim::MAX_QUEUED_EVENTS
            ),
            Violation::LearnedButNotChosen { client, seq, slot, decided } => write!(
                f,
                "agreement: client {} learned its command {seq} chosen in slot {}, but the slot was decided as {decided}",
                client.0, slot.0
            ),
            Violation::Unpersisted { node, at_ms } => write!(
                f,
                "durability: replica {} crashed at {at_ms} ms holding acceptor state it had not persisted, yet had \
                 answered from it",
                node.0
            ),
            Violation::Lost { client, seq, node, slot, applied_upto } => match slot {
                Some(s) => write!(
                    f,
                    "lost: client {} command {seq} was acknowledged (slot {}), but live replica {} ended having \
                     applied only {} slots",
                    client.0, s.0, node.0, applied_upto.0
                ),
                None => write!(
                    f,
                    "lost: client {} command {seq} was acknowledged, but it is in no decided slot (replica {})",
                    client.0, node.0
                ),
            },
            Violation::NotLinearizable { key, witness } => write!(
                f,
                "linearizability (black box): key {key}: these {} client operations cannot be ordered: {}",
                witness.len(),
                witness.join("; ")
            ),
            Violation::HistoryNotWritten { path, error } => {
                write!(f, "history file {path} could not be written: {error}")
            }
            Violation::Liveness { pending, after_ms } => write!(
                f,
                "liveness: {pending} operations still pending {after_ms} ms after a quorum was healed"
            ),
        }
    }
}

pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Noop => "no-op".into(),
        Value::Config(m) => format!("config(members {:#b}, mains {:#b})", m.members.0, m.mains.0),
        Value::Batch(cmds) => {
            let ids: Vec<String> = cmds
                .iter()
                .take(4)
                .map(|c| format!("c{}#{}", c.client.0, c.seq))
                .collect();
            let more = if cmds.len() > 4 { ", ..." } else { "" };
            format!("[{}{more}]", ids.join(", "))
        }
    }
}

#[derive(Debug, Default)]
pub struct History {
    /// The first decision reported for each slot; every later report must equal it.
    pub chosen: Vec<Option<Value>>,
    /// Per client, per sequence number (issued densely from 0).
    pub ops: Vec<Vec<OpRecord>>,
    pub violations: Vec<Violation>,
    pub decisions_seen: u64,
    /// Reads may be answered outside the log (lease or quorum reads): a read missing from the log is checked
    /// against the log's states instead of being a violation.
    pub off_log_reads: bool,
    /// The variant decides no log (EPaxos): decisions name its instances, and what replicas ran is checked
    /// through `executions` instead of by replaying the decisions in slot order.
    pub unordered: bool,
    /// Per (replica, incarnation), the commands it ran with their keys, in order (unordered variants only).
    pub executions: BTreeMap<(NodeId, u32), Vec<(u64, CommandId)>>,
    /// The driver reports every command a replica runs (the simulator and in-process clusters do; replica
    /// processes do not), so the per-key order and reply checks apply.
    pub executions_tracked: bool,
}

impl History {
    /// The longest time without a completion (any client) from `at_ns` (a fault) to the last completion, in
    /// milliseconds: the failover time when the fault took the leader. `None` when no command invoked after
    /// `at_ns` completed (commits never resumed).
    pub fn silence_after_ms(&self, at_ns: u64) -> Option<f64> {
        let mut done: Vec<u64> = Vec::new();
        let mut resumed = false;
        for op in self.ops.iter().flatten() {
            if let Some((end, _)) = op.completed {
                if end >= at_ns {
                    done.push(end);
                    resumed |= op.invoked_ns >= at_ns;
                }
            }
        }
        if !resumed {
            return None;
        }
        done.sort_unstable();
        let mut last = at_ns;
        let mut gap = 0;
        for t in done {
            gap = gap.max(t - last);
            last = t;
        }
        Some(gap as f64 / 1e6)
    }

    pub fn new(clients: usize) -> History {
        History {
            ops: vec![Vec::new(); clients],
            ..History::default()
        }
    }

    /// A history of a run whose reads take `path`.
    pub fn reading(clients: usize, path: paxos_variants::ReadPath) -> History {
        History {
            off_log_reads: path != paxos_variants::ReadPath::Log,
            ..History::new(clients)
        }
    }

    pub fn decision(&mut self, node: NodeId, slot: Slot, value: &Value) {
        self.decisions_seen += 1;
        let i = slot.0 as usize;
        if self.chosen.len() <= i {
            self.chosen.resize(i + 1, None);
        }
        match &self.chosen[i] {
            None => self.chosen[i] = Some(value.clone()),
            Some(first) if first == value => {}
            Some(first) => {
                let v = Violation::Agreement {
                    slot,
                    node,
                    first: describe(first),
                    second: describe(value),
                };
                self.violations.push(v);
            }
        }
    }

    pub fn executed(&mut self, node: NodeId, incarnation: u32, ran: &[(u64, CommandId)]) {
        self.executions
            .entry((node, incarnation))
            .or_default()
            .extend_from_slice(ran);
    }

    pub fn invoke(&mut self, client: ClientId, seq: u64, op: Op, now_ns: u64) {
        let ops = &mut self.ops[client.0 as usize];
        debug_assert_eq!(ops.len() as u64, seq, "sequence numbers are issued densely");
        ops.push(OpRecord {
            op,
            invoked_ns: now_ns,
            completed: None,
            learned: None,
        });
    }

    /// Records a completion; returns the invocation time, or None for a duplicate or unknown completion.
    pub fn complete(
        &mut self,
        client: ClientId,
        seq: u64,
        reply: Reply,
        now_ns: u64,
    ) -> Option<u64> {
        let rec = self.ops.get_mut(client.0 as usize)?.get_mut(seq as usize)?;
        if rec.completed.is_some() {
            return None;
        }
        rec.completed = Some((now_ns, reply));
        Some(rec.invoked_ns)
    }

    /// Records that a client learned its command chosen in `slot` (the first time only); returns the invocation
    /// time, or None for a repeat or an unknown command.
    pub fn learned(&mut self, client: ClientId, seq: u64, slot: Slot, now_ns: u64) -> Option<u64> {
        let rec = self.ops.get_mut(client.0 as usize)?.get_mut(seq as usize)?;
        if rec.learned.is_some() {
            return None;
        }
        rec.learned = Some((now_ns, slot));
        Some(rec.invoked_ns)
    }

    pub fn pending(&self) -> usize {
        self.ops
            .iter()
            .flatten()
            .filter(|r| r.completed.is_none())
            .count()
    }

    pub fn completed(&self) -> usize {
        self.ops
            .iter()
            .flatten()
            .filter(|r| r.completed.is_some())
            .count()
    }

    pub fn op(&self, client: ClientId, seq: u64) -> Option<&OpRecord> {
        self.ops.get(client.0 as usize)?.get(seq as usize)
    }
}
