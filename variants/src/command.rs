//! What clients ask for and what the log holds.

use crate::types::ClientId;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// An operation on the key-value store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Put {
        key: u64,
        value: Bytes,
    },
    Get {
        key: u64,
    },
    /// Compare-and-set: if the key holds `expect`, it becomes `new`; otherwise nothing changes.
    Cas {
        key: u64,
        expect: Bytes,
        new: Bytes,
    },
}

impl Op {
    pub fn key(&self) -> u64 {
        match self {
            Op::Put { key, .. } | Op::Get { key } | Op::Cas { key, .. } => *key,
        }
    }
}

/// A client command. `(client, seq)` identifies it, so a command proposed twice is applied once.
/// `ack` tells the replicas that every `seq < ack` has been answered, so they may forget those replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub client: ClientId,
    pub seq: u64,
    pub ack: u64,
    pub op: Op,
}

impl Command {
    pub fn id(&self) -> CommandId {
        CommandId {
            client: self.client,
            seq: self.seq,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CommandId {
    pub client: ClientId,
    pub seq: u64,
}

/// The value of one log slot: a no-op (filling a hole after a leader change) or a batch of commands.
/// Batches are shared (`Arc`) because the same value travels to every acceptor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    Noop,
    Batch(Arc<[Command]>),
    /// Cheap Paxos: the configuration that governs the slots after this one.
    Config(crate::quorum::Membership),
}

impl Value {
    pub fn batch(cmds: Vec<Command>) -> Value {
        if cmds.is_empty() {
            Value::Noop
        } else {
            Value::Batch(cmds.into())
        }
    }

    pub fn commands(&self) -> &[Command] {
        match self {
            Value::Noop | Value::Config(_) => &[],
            Value::Batch(c) => c,
        }
    }

    pub fn contains(&self, id: CommandId) -> bool {
        self.commands().iter().any(|c| c.id() == id)
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Noop, Value::Noop) => true,
            (Value::Batch(a), Value::Batch(b)) => Arc::ptr_eq(a, b) || a[..] == b[..],
            (Value::Config(a), Value::Config(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

/// The state machine's answer. Writes return the key's new version and reads the version and value, so the
/// checker can tell from any reply where in the log the operation took effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Written {
        version: u64,
    },
    Read {
        version: u64,
        value: Option<Bytes>,
    },
    /// A compare-and-set: `ok` if it set the value; `version` is the key's version after it.
    Cas {
        ok: bool,
        version: u64,
    },
}
