//! Multi-Paxos's messages, durable state and timer (shared by Flexible and Cheap Paxos, which are Multi-Paxos
//! with another quorum system or membership policy).

use crate::command::{Command, Value};
use crate::quorum::Membership;
use crate::replica::{Message, ToClient};
use crate::roles::acceptor::{AcceptorLog, AcceptorRecord, StateUpTo};
use crate::roles::front;
use crate::roles::learner::Snapshot;
use crate::roles::read_quorum::ReadProbe;
use crate::types::{Ballot, Slot, Time};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MultiMsg {
    Request(Command),
    ToClient(ToClient),
    Prepare {
        ballot: Ballot,
        from: Slot,
    },
    Promise {
        ballot: Ballot,
        accepted: Vec<(Slot, Ballot, Value)>,
        /// The acceptor forgot what it accepted below this slot (all decided, see compaction): a candidate
        /// behind it must learn those slots from a snapshot before it may lead.
        compacted: Slot,
    },
    Nack {
        promised: Ballot,
    },
    Accept {
        ballot: Ballot,
        slot: Slot,
        value: Value,
        commit: Slot,
    },
    Accepted {
        ballot: Ballot,
        slot: Slot,
    },
    Heartbeat {
        ballot: Ballot,
        commit: Slot,
    },
    /// A heartbeat that also asks for a lease (lease reads), stamped with the leader's clock.
    LeaseAsk {
        ballot: Ballot,
        commit: Slot,
        stamp: Time,
    },
    /// An acceptor grants the lease asked for at `stamp`.
    LeaseGrant {
        ballot: Ballot,
        stamp: Time,
    },
    /// A promise from an acceptor whose lease grant to another ballot may still run for `lease_left` on its
    /// clock: the candidate waits it out before it commits or reads (lease reads).
    PromiseLeased {
        ballot: Ballot,
        accepted: Vec<(Slot, Ballot, Value)>,
        compacted: Slot,
        lease_left: Duration,
    },
    /// A client's quorum-read probe.
    Read(ReadProbe),
    CatchUp {
        from: Slot,
    },
    Decided {
        from: Slot,
        values: Vec<Value>,
    },
    /// The answer to a `CatchUp` from below what the sender still holds: its state machine, and (Cheap Paxos)
    /// the reconfigurations decided before it.
    Snapshot {
        snap: Box<Snapshot>,
        configs: Vec<(Slot, Membership)>,
    },
}

impl Message for MultiMsg {
    fn kind(&self) -> &'static str {
        match self {
            MultiMsg::Request(_) => "request",
            MultiMsg::ToClient(ToClient::Reply { .. }) => "reply",
            MultiMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            MultiMsg::ToClient(ToClient::ReadState { .. }) => "read-state",
            MultiMsg::Prepare { .. } => "prepare",
            MultiMsg::Promise { .. } => "promise",
            MultiMsg::Nack { .. } => "nack",
            MultiMsg::Accept { .. } => "accept",
            MultiMsg::Accepted { .. } => "accepted",
            MultiMsg::Heartbeat { .. } => "heartbeat",
            MultiMsg::LeaseAsk { .. } => "lease-ask",
            MultiMsg::LeaseGrant { .. } => "lease-grant",
            MultiMsg::PromiseLeased { .. } => "promise",
            MultiMsg::Read(_) => "read",
            MultiMsg::CatchUp { .. } => "catchup",
            MultiMsg::Decided { .. } => "decided",
            MultiMsg::Snapshot { .. } => "snapshot",
        }
    }
}

front::client_wire!(MultiMsg, Read);

/// What an acceptor keeps across a crash: the common acceptor log, whose compactions persist the state
/// machine together with the reconfigurations decided before it.
pub type MultiDurable = AcceptorLog<Ballot, Durable>;

/// One change to [`MultiDurable`], as the write-ahead log holds it.
pub type MultiRecord = AcceptorRecord<Ballot, Durable>;

/// The state machine as persisted with a compaction, and (Cheap Paxos) the reconfigurations decided before it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Durable {
    pub snap: Snapshot,
    pub configs: Vec<(Slot, Membership)>,
}

impl StateUpTo for Durable {
    fn upto(&self) -> Slot {
        self.snap.upto
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MultiTimer {
    Tick,
    /// A candidate that won Phase 1 has waited out the earlier leader's lease.
    LeaseWait,
}
