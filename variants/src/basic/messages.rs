//! Basic Paxos's messages, per-slot acceptor state and timers.

use crate::command::{Command, Value};
use crate::journal::DurableState;
use crate::replica::{Message, ToClient};
use crate::roles::front;
use crate::roles::learner::Snapshot;
use crate::types::{Ballot, Slot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum BasicMsg {
    Request(Command),
    ToClient(ToClient),
    Prepare {
        slot: Slot,
        ballot: Ballot,
    },
    Promise {
        slot: Slot,
        ballot: Ballot,
        accepted: Option<(Ballot, Value)>,
    },
    Nack {
        slot: Slot,
        promised: Ballot,
    },
    Accept {
        slot: Slot,
        ballot: Ballot,
        value: Value,
    },
    Accepted {
        slot: Slot,
        ballot: Ballot,
    },
    Decide {
        slot: Slot,
        value: Value,
    },
    CatchUp {
        from: Slot,
    },
    Decided {
        entries: Vec<(Slot, Value)>,
    },
    /// The state machine, for a peer that asked about slots this replica has compacted away.
    Snapshot {
        snap: Box<Snapshot>,
    },
}

impl Message for BasicMsg {
    fn kind(&self) -> &'static str {
        match self {
            BasicMsg::Request(_) => "request",
            BasicMsg::ToClient(ToClient::Reply { .. }) => "reply",
            BasicMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            BasicMsg::ToClient(ToClient::ReadState { .. }) => "read-state",
            BasicMsg::Prepare { .. } => "prepare",
            BasicMsg::Promise { .. } => "promise",
            BasicMsg::Nack { .. } => "nack",
            BasicMsg::Accept { .. } => "accept",
            BasicMsg::Accepted { .. } => "accepted",
            BasicMsg::Decide { .. } => "decide",
            BasicMsg::CatchUp { .. } => "catchup",
            BasicMsg::Decided { .. } => "decided",
            BasicMsg::Snapshot { .. } => "snapshot",
        }
    }
}

front::client_wire!(BasicMsg);

/// One slot's acceptor state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlotAcceptor {
    pub promised: Ballot,
    pub accepted: Option<(Ballot, Value)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BasicDurable {
    pub slots: BTreeMap<Slot, SlotAcceptor>,
    /// Highest round this replica has used, so it never reuses a ballot after a restart.
    pub max_round: u64,
    /// The acceptor state of slots below this was dropped: they are decided, and `snapshot` holds their effect.
    pub compacted: Slot,
    pub snapshot: Option<Snapshot>,
}

/// One change to [`BasicDurable`], as the write-ahead log holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum BasicRecord {
    MaxRound(u64),
    Promised {
        slot: Slot,
        ballot: Ballot,
    },
    /// An acceptance, which also raises the slot's promise to its ballot.
    Accepted {
        slot: Slot,
        ballot: Ballot,
        value: Value,
    },
    /// Forget the slots below `upto` (decided, and applied in `snap`, whose slot is at least `upto`).
    Truncate {
        upto: Slot,
        snap: Box<Snapshot>,
    },
}

impl DurableState for BasicDurable {
    type Record = BasicRecord;
    fn apply(&mut self, r: BasicRecord) {
        match r {
            BasicRecord::MaxRound(m) => self.max_round = self.max_round.max(m),
            BasicRecord::Promised { slot, ballot } => {
                let st = self.slots.entry(slot).or_default();
                st.promised = st.promised.max(ballot);
            }
            BasicRecord::Accepted {
                slot,
                ballot,
                value,
            } => {
                let st = self.slots.entry(slot).or_default();
                st.promised = st.promised.max(ballot);
                st.accepted = Some((ballot, value));
            }
            BasicRecord::Truncate { upto, snap } => {
                if upto > self.compacted {
                    self.slots = self.slots.split_off(&upto);
                    self.compacted = upto;
                }
                if self.snapshot.as_ref().is_none_or(|s| s.upto < snap.upto) {
                    self.snapshot = Some(*snap);
                }
            }
        }
    }

    fn checkpoint(&self) -> Vec<BasicRecord> {
        let mut out = vec![BasicRecord::MaxRound(self.max_round)];
        if let Some(snap) = &self.snapshot {
            out.push(BasicRecord::Truncate {
                upto: self.compacted,
                snap: Box::new(snap.clone()),
            });
        }
        for (slot, st) in &self.slots {
            let slot = *slot;
            if let Some((ballot, value)) = &st.accepted {
                out.push(BasicRecord::Accepted {
                    slot,
                    ballot: *ballot,
                    value: value.clone(),
                });
            }
            if st.accepted.as_ref().is_none_or(|(b, _)| st.promised > *b) {
                out.push(BasicRecord::Promised {
                    slot,
                    ballot: st.promised,
                });
            }
        }
        out
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BasicTimer {
    Tick,
    Retry { slot: Slot, attempt: u32 },
}
