//! Raft's messages and timer.

use crate::command::{Command, Value};
use crate::replica::{Message, ToClient};
use crate::roles::front;
use crate::roles::learner::Snapshot;
use crate::types::Slot;
use serde::{Deserialize, Serialize};

/// One log entry: the term of the leader that created it, and the slot's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub value: Value,
}

/// The leader's log from `prev_len` on; the entry before it (at `prev_len - 1`) has `prev_term`. Empty
/// entries make a heartbeat. `commit` is the leader's commit index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppendEntries {
    pub term: u64,
    pub prev_len: Slot,
    pub prev_term: u64,
    pub entries: Vec<Entry>,
    pub commit: Slot,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum RaftMsg {
    Request(Command),
    ToClient(ToClient),
    /// A candidate asks for a vote; `len` and `last_term` describe its log for the up-to-date rule.
    RequestVote {
        term: u64,
        len: Slot,
        last_term: u64,
    },
    Vote {
        term: u64,
        granted: bool,
    },
    Append(AppendEntries),
    /// `ok`: the follower's log now matches the leader's up to `len`. Not ok: the consistency check failed,
    /// and `len` is where the leader should try next (the follower's hint).
    AppendReply {
        term: u64,
        ok: bool,
        len: Slot,
    },
    /// The leader no longer holds the entries a follower needs: its state machine, and the term of the last
    /// entry it covers (the follower keeps its own later entries only if it holds that entry too).
    InstallSnapshot {
        term: u64,
        last_term: u64,
        snap: Box<Snapshot>,
    },
}

impl Message for RaftMsg {
    fn kind(&self) -> &'static str {
        match self {
            RaftMsg::Request(_) => "request",
            RaftMsg::ToClient(ToClient::Reply { .. }) => "reply",
            RaftMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            RaftMsg::ToClient(ToClient::ReadState { .. }) => "read-state",
            RaftMsg::RequestVote { .. } => "request-vote",
            RaftMsg::Vote { .. } => "vote",
            RaftMsg::Append(a) if a.entries.is_empty() => "heartbeat",
            RaftMsg::Append(_) => "append",
            RaftMsg::AppendReply { .. } => "append-reply",
            RaftMsg::InstallSnapshot { .. } => "snapshot",
        }
    }
}

front::client_wire!(RaftMsg);

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RaftTimer {
    Tick,
}
