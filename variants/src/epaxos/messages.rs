//! EPaxos's messages, instance names, attributes and timer.

use crate::command::{Command, Value};
use crate::replica::{Message, ToClient};
use crate::roles::front;
use crate::types::{Ballot, NodeId, Slot};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An instance: the `idx`-th command slot of replica `leader` (every replica owns a row of instances).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstanceId {
    pub leader: NodeId,
    pub idx: u64,
}

impl InstanceId {
    /// Its place among the slots the checker sees: rows interleaved (`idx * n + leader`), so the slots of a
    /// run stay dense whichever replicas lead.
    pub fn slot(self, n: usize) -> Slot {
        Slot(self.idx * n as u64 + u64::from(self.leader.0))
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.leader.0, self.idx)
    }
}

/// The ordering attributes of an instance: its sequence number and the instances it depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attrs {
    pub seq: u64,
    /// Sorted, without repeats.
    pub deps: Vec<InstanceId>,
    /// The instance also depends on every earlier instance of its own row. Set only on a no-op that recovery
    /// chose because no replica it heard from had seen the instance: a replica that had seen it may have
    /// named it as the latest interfering instance of its row, standing for the earlier ones it depends on;
    /// the no-op keeps that chain unbroken.
    pub below: bool,
}

impl Attrs {
    /// Adds `other`'s dependencies and takes the larger sequence number.
    pub fn merge(&mut self, other: &Attrs) {
        self.seq = self.seq.max(other.seq);
        if other
            .deps
            .iter()
            .any(|d| self.deps.binary_search(d).is_err())
        {
            self.deps.extend_from_slice(&other.deps);
            self.deps.sort_unstable();
            self.deps.dedup();
        }
        self.below |= other.below;
    }
}

/// How far an instance has got at a replica.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    PreAccepted,
    Accepted,
    Committed,
}

/// What a replica holds of an instance: its value and attributes, how far they got, and under which ballot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Voted {
    pub status: Status,
    pub ballot: Ballot,
    pub value: Value,
    pub attrs: Attrs,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum EpaxosMsg {
    Request(Command),
    ToClient(ToClient),
    /// Phase 1: the command leader's value and attributes; the receiver answers with them merged with its own.
    PreAccept {
        id: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attrs,
    },
    PreAcceptOk {
        id: InstanceId,
        ballot: Ballot,
        attrs: Attrs,
    },
    /// The Paxos-Accept round of the slow path (and of recovery).
    Accept {
        id: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attrs,
    },
    AcceptOk {
        id: InstanceId,
        ballot: Ballot,
    },
    /// The receiver has promised a higher ballot for this instance.
    Nack {
        id: InstanceId,
        promised: Ballot,
    },
    Commit {
        id: InstanceId,
        value: Value,
        attrs: Attrs,
    },
    /// Explicit prepare: a replica takes over an instance whose leader seems gone.
    Prepare {
        id: InstanceId,
        ballot: Ballot,
    },
    PrepareOk {
        id: InstanceId,
        ballot: Ballot,
        vote: Option<Voted>,
    },
}

impl Message for EpaxosMsg {
    fn kind(&self) -> &'static str {
        match self {
            EpaxosMsg::Request(_) => "request",
            EpaxosMsg::ToClient(ToClient::Reply { .. }) => "reply",
            EpaxosMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            EpaxosMsg::ToClient(ToClient::ReadState { .. }) => "read-state",
            EpaxosMsg::PreAccept { .. } => "pre-accept",
            EpaxosMsg::PreAcceptOk { .. } => "pre-accept-ok",
            EpaxosMsg::Accept { .. } => "accept",
            EpaxosMsg::AcceptOk { .. } => "accept-ok",
            EpaxosMsg::Nack { .. } => "nack",
            EpaxosMsg::Commit { .. } => "commit",
            EpaxosMsg::Prepare { .. } => "prepare",
            EpaxosMsg::PrepareOk { .. } => "prepare-ok",
        }
    }
}

front::client_wire!(EpaxosMsg);

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EpaxosTimer {
    Tick,
}
