//! Interference: two commands interfere when they touch the same key or come from the same client. Keys are
//! the workload's (its key count and skew set the conflict rate). The client rule keeps one client's commands
//! in its order everywhere: a replica's exactly-once table drops a command the client has acknowledged, so a
//! replica that ran a client's later command before an earlier one would skip the earlier one for good.
//!
//! Per interference tag, the table keeps the latest instance of each row and the highest sequence number seen.
//! The latest of a row stands for the earlier ones: its own attributes name them (its leader knew its own row).

use super::messages::{Attrs, InstanceId};
use crate::command::Value;
use crate::types::{ClientId, NodeId};
use std::collections::HashMap;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    Key(u64),
    Client(ClientId),
}

/// The tags of a value's commands, without repeats.
pub fn tags(value: &Value) -> Vec<Tag> {
    let mut out = Vec::new();
    for c in value.commands() {
        for t in [Tag::Key(c.op.key()), Tag::Client(c.client)] {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

#[derive(Debug, Default)]
struct Seen {
    /// Per row (leader), the highest instance index with this tag.
    latest: Vec<(NodeId, u64)>,
    max_seq: u64,
}

#[derive(Debug, Default)]
pub struct Conflicts {
    by_tag: HashMap<Tag, Seen>,
}

impl Conflicts {
    /// The attributes this replica gives `id` (carrying `value`): every instance it knows that interferes,
    /// as the latest of each row, and a sequence number above theirs. `id` itself is left out.
    pub fn attrs_for(&self, id: InstanceId, value: &Value) -> Attrs {
        let mut a = Attrs::default();
        for t in tags(value) {
            let Some(s) = self.by_tag.get(&t) else {
                continue;
            };
            a.seq = a.seq.max(s.max_seq + 1);
            for &(leader, idx) in &s.latest {
                let d = InstanceId { leader, idx };
                if d != id {
                    a.deps.push(d);
                }
            }
        }
        a.seq = a.seq.max(1);
        a.deps.sort_unstable();
        a.deps.dedup();
        a
    }

    /// Notes that `id`, carrying `value`, has sequence number `seq`.
    pub fn note(&mut self, id: InstanceId, value: &Value, seq: u64) {
        for t in tags(value) {
            let s = self.by_tag.entry(t).or_default();
            s.max_seq = s.max_seq.max(seq);
            match s.latest.iter_mut().find(|(l, _)| *l == id.leader) {
                Some(e) => e.1 = e.1.max(id.idx),
                None => s.latest.push((id.leader, id.idx)),
            }
        }
    }
}
