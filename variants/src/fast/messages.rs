//! Fast Paxos's messages, rounds, durable state and timer.

use crate::command::{Command, Value};
use crate::journal::DurableState;
use crate::replica::{Message, ToClient};
use crate::roles::acceptor::{AcceptorLog, AcceptorRecord, HoldsLog};
use crate::roles::front;
use crate::roles::learner::Snapshot;
use crate::types::{Ballot, Slot};
use serde::{Deserialize, Serialize};

/// A voting round: a ballot's fast round, then its classic (recovery) round.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Round {
    pub ballot: Ballot,
    pub classic: bool,
}

impl Round {
    pub(crate) fn fast(ballot: Ballot) -> Round {
        Round {
            ballot,
            classic: false,
        }
    }
    pub(crate) fn classic(ballot: Ballot) -> Round {
        Round {
            ballot,
            classic: true,
        }
    }
}

/// A vote as reported in a promise or a range recovery.
pub type Report = (Slot, Round, Value);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FastMsg {
    Request(Command),
    ToClient(ToClient),
    Prepare {
        ballot: Ballot,
        from: Slot,
    },
    Promise {
        ballot: Ballot,
        votes: Vec<Report>,
        /// The acceptor dropped its votes below this slot (all decided; see compaction).
        compacted: Slot,
    },
    Nack {
        promised: Ballot,
    },
    /// Fast voting is open in `ballot` from slot `from` on; also the heartbeat, with the commit index.
    Open {
        ballot: Ballot,
        from: Slot,
        commit: Slot,
    },
    Vote {
        round: Round,
        slot: Slot,
        value: Value,
    },
    /// A fast vote's copy for the client whose command it is (the 2b a learner gets). It names the exact value
    /// voted for: the command's sequence number and the ack it carried (the rest is fixed by the sequence number).
    Voted {
        round: Round,
        slot: Slot,
        seq: u64,
        ack: u64,
    },
    Propose {
        round: Round,
        slot: Slot,
        value: Value,
    },
    Recover {
        ballot: Ballot,
        from: Slot,
        to: Slot,
    },
    Recovered {
        ballot: Ballot,
        from: Slot,
        to: Slot,
        votes: Vec<Report>,
    },
    CatchUp {
        from: Slot,
    },
    Decided {
        from: Slot,
        values: Vec<Value>,
    },
    /// The state machine, for a peer that reached below what this replica still holds.
    Snapshot {
        snap: Box<Snapshot>,
    },
}

front::client_wire!(FastMsg);

impl Message for FastMsg {
    fn kind(&self) -> &'static str {
        match self {
            FastMsg::Request(_) => "request",
            FastMsg::ToClient(ToClient::Reply { .. }) => "reply",
            FastMsg::ToClient(ToClient::Redirect { .. }) => "redirect",
            FastMsg::ToClient(ToClient::ReadState { .. }) => "read-state",
            FastMsg::Prepare { .. } => "prepare",
            FastMsg::Promise { .. } => "promise",
            FastMsg::Nack { .. } => "nack",
            FastMsg::Open { .. } => "open",
            FastMsg::Vote { round, .. } if round.classic => "vote_classic",
            FastMsg::Vote { .. } => "vote_fast",
            FastMsg::Voted { .. } => "vote_to_client",
            FastMsg::Propose { .. } => "propose",
            FastMsg::Recover { .. } => "recover",
            FastMsg::Recovered { .. } => "recovered",
            FastMsg::CatchUp { .. } => "catchup",
            FastMsg::Decided { .. } => "decided",
            FastMsg::Snapshot { .. } => "snapshot",
        }
    }
}

/// What an acceptor keeps across a crash: the common acceptor log (its acceptances are this protocol's votes),
/// and the promise a range recovery asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FastDurable {
    pub log: AcceptorLog<Round, Snapshot>,
    /// In this ballot, no fast vote below this slot.
    pub fast_floor: (Ballot, Slot),
}

/// One change to [`FastDurable`], as the write-ahead log holds it. Its own enum rather than the common one
/// with an extra case, so that the log's encoding stays what it was before the acceptor became a role.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FastRecord {
    Promised(Ballot),
    MaxRound(u64),
    Vote {
        slot: Slot,
        round: Round,
        value: Value,
    },
    FastFloor {
        ballot: Ballot,
        slot: Slot,
    },
    /// Forget the votes below `upto` (decided, and applied in `snap`, whose slot is at least `upto`).
    Truncate {
        upto: Slot,
        snap: Box<Snapshot>,
    },
}

impl DurableState for FastDurable {
    type Record = FastRecord;
    fn apply(&mut self, r: FastRecord) {
        let r = match r {
            FastRecord::FastFloor { ballot, slot } => {
                self.fast_floor = (ballot, slot);
                return;
            }
            FastRecord::Promised(b) => AcceptorRecord::Promised(b),
            FastRecord::MaxRound(m) => AcceptorRecord::MaxRound(m),
            FastRecord::Vote { slot, round, value } => AcceptorRecord::Accepted {
                slot,
                ballot: round,
                value,
            },
            FastRecord::Truncate { upto, snap } => AcceptorRecord::Truncate { upto, state: snap },
        };
        self.log.apply(r);
    }

    fn checkpoint(&self) -> Vec<FastRecord> {
        let mut out: Vec<FastRecord> = self.log.checkpoint().into_iter().map(Self::wrap).collect();
        // After the rounds, as the log has always been written.
        let (ballot, slot) = self.fast_floor;
        out.insert(2, FastRecord::FastFloor { ballot, slot });
        out
    }
}

impl HoldsLog<Round, Snapshot> for FastDurable {
    fn log(&self) -> &AcceptorLog<Round, Snapshot> {
        &self.log
    }
    fn wrap(r: AcceptorRecord<Round, Snapshot>) -> FastRecord {
        match r {
            AcceptorRecord::Promised(b) => FastRecord::Promised(b),
            AcceptorRecord::MaxRound(m) => FastRecord::MaxRound(m),
            AcceptorRecord::Accepted {
                slot,
                ballot,
                value,
            } => FastRecord::Vote {
                slot,
                round: ballot,
                value,
            },
            AcceptorRecord::Truncate { upto, state } => FastRecord::Truncate { upto, snap: state },
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FastTimer {
    Tick,
}
