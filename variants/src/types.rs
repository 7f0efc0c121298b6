//! Newtypes shared by every variant. They exist so that a slot can never be passed where a replica id is expected,
//! and so that a ballot's ordering (round first, then replica id) is written down once.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A replica (acceptor/proposer/learner), numbered `0..n` in config order.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct NodeId(pub u32);

/// A client of the replicated service. Client ids are a separate space from replica ids.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientId(pub u32);

/// A position in the replicated log.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Slot(pub u64);

impl Slot {
    pub fn next(self) -> Slot {
        Slot(self.0 + 1)
    }
}

/// A ballot `(round, node)`, ordered lexicographically so two proposers never share one.
/// Round 0 is reserved for "nothing promised yet".
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    pub round: u64,
    pub node: NodeId,
}

impl Ballot {
    pub const ZERO: Ballot = Ballot {
        round: 0,
        node: NodeId(0),
    };

    pub fn new(round: u64, node: NodeId) -> Ballot {
        Ballot { round, node }
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.round, self.node.0)
    }
}

/// A point in time in nanoseconds since the start of a run. Variants never read a clock: every input carries `now`,
/// so the simulator's virtual time and the QUIC runtime's wall time drive the same code.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);

    pub fn from_duration(d: Duration) -> Time {
        Time(d.as_nanos() as u64)
    }

    pub fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.as_nanos() as u64))
    }
}

/// Where a message comes from or goes to: replicas and clients share the network but not an id space.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Peer {
    Replica(NodeId),
    Client(ClientId),
}
