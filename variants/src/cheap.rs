//! Cheap Paxos (Lamport and Massa, "Cheap Paxos", DSN 2004).
//!
//! N = 2f + 1 acceptors: f + 1 main ones, which also run the state machine, and f auxiliary ones, which only
//! help when a main acceptor fails. In a configuration with members M and mains P, the quorums are P itself
//! (when |P| >= ceil(|M| / 2)) and every majority of M: P meets every majority, and majorities meet each other,
//! so any two quorums intersect.
//!
//! Normal case: the leader sends its Accepts (and heartbeats) to the mains only, and P is its Phase 2 quorum;
//! the auxiliaries receive nothing. When a main stops answering, the leader's retransmissions go to every
//! member, so a majority that includes auxiliaries completes the stuck slots, and the leader decides, through
//! the log, a new configuration without that main ([`Value::Config`](crate::command::Value::Config)). The new
//! configuration governs the slots after the one that decided it; the leader opens no slot past a pending
//! reconfiguration until it is decided, and a new leader needs a Phase 1 quorum in every configuration its
//! promises report. Commits wait while this happens: that is the stall the failover runs show.
//!
//! The protocol is Multi-Paxos's code ([`crate::multi`]); this module holds the configurations, and the
//! variant's quorum system ([`QuorumSystem::Cheap`](crate::quorum::QuorumSystem::Cheap)) switches the
//! behaviour on.
//!
//! Simplified: a removed main does not rejoin (the paper adds it back with another reconfiguration), and the
//! auxiliaries keep what they accepted rather than dropping it once the mains have learned it.

use crate::client::LeaderClient;
use crate::multi::{MultiMsg, MultiReplica};
use crate::quorum::NodeSet;
use crate::replica::Variant;
use crate::types::{NodeId, Slot};
use serde::{Deserialize, Serialize};

pub struct Cheap;

impl Variant for Cheap {
    const NAME: &'static str = "cheap";
    type Msg = MultiMsg;
    type Replica = MultiReplica;
    type Client = LeaderClient<MultiMsg>;
}

/// One configuration: who is an acceptor, and which of them are main.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Membership {
    pub members: NodeSet,
    pub mains: NodeSet,
}

impl Membership {
    /// Whether the mains alone form a quorum of this configuration.
    pub fn mains_are_quorum(&self) -> bool {
        self.mains.len() >= self.members.len().div_ceil(2)
    }

    pub fn is_quorum(&self, set: NodeSet) -> bool {
        let inside = NodeSet(set.0 & self.members.0);
        let all_mains = self.mains.0 & !set.0 == 0;
        (self.mains_are_quorum() && all_mains) || inside.len() > self.members.len() / 2
    }

    /// The configuration without `node`.
    pub fn without(&self, node: NodeId) -> Membership {
        let bit = !(1u64 << node.0);
        Membership {
            members: NodeSet(self.members.0 & bit),
            mains: NodeSet(self.mains.0 & bit),
        }
    }

    pub fn ids(set: NodeSet) -> impl Iterator<Item = NodeId> {
        (0..64u32)
            .filter(move |i| set.contains_index(*i as usize))
            .map(NodeId)
    }
}

/// The configurations a replica knows, each with the first slot it governs.
#[derive(Clone, Debug)]
pub struct Configs {
    /// The initial auxiliaries (they never campaign to lead).
    pub auxiliaries: NodeSet,
    list: Vec<(Slot, Membership)>,
    /// A reconfiguration the leader has proposed and not yet seen decided: no later slot is opened meanwhile.
    pub pending: Option<Slot>,
}

impl Configs {
    pub fn new(n: usize, mains: NodeSet) -> Configs {
        let members = NodeSet::all(n);
        Configs {
            auxiliaries: mains.complement(n),
            list: vec![(Slot(0), Membership { members, mains })],
            pending: None,
        }
    }

    /// The reconfigurations decided in slots below `upto`, for a snapshot.
    pub fn decided_below(&self, upto: Slot) -> Vec<(Slot, Membership)> {
        self.list
            .iter()
            .skip(1)
            .filter(|(s, _)| *s <= upto)
            .copied()
            .collect()
    }

    /// The configuration governing `slot`, from the reconfigurations known to be decided before it.
    pub fn at(&self, slot: Slot) -> Membership {
        self.list
            .iter()
            .rev()
            .find(|(from, _)| *from <= slot)
            .map(|(_, m)| *m)
            .unwrap_or(self.list[0].1)
    }

    /// The configurations that govern `slot` and the slots after it, as far as they are known.
    pub fn from(&self, slot: Slot) -> impl Iterator<Item = Membership> + '_ {
        std::iter::once(self.at(slot)).chain(
            self.list
                .iter()
                .filter(move |(f, _)| *f > slot)
                .map(|(_, m)| *m),
        )
    }

    /// A reconfiguration decided in `slot`: it governs the slots after it.
    pub fn decided(&mut self, slot: Slot, m: Membership) {
        let from = slot.next();
        if self.list.iter().any(|(f, _)| *f == from) {
            return;
        }
        let at = self.list.partition_point(|(f, _)| *f < from);
        self.list.insert(at, (from, m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u32]) -> NodeSet {
        let mut s = NodeSet::EMPTY;
        for i in ids {
            s.insert(NodeId(*i));
        }
        s
    }

    #[test]
    fn the_mains_are_a_quorum_and_so_is_any_majority() {
        // n = 5: mains {0, 1, 2}, auxiliaries {3, 4}.
        let m = Membership {
            members: NodeSet::all(5),
            mains: set(&[0, 1, 2]),
        };
        assert!(m.is_quorum(set(&[0, 1, 2])));
        assert!(m.is_quorum(set(&[0, 3, 4])));
        assert!(!m.is_quorum(set(&[0, 1])));
        assert!(!m.is_quorum(set(&[3, 4])));
        // Every pair of quorums meets.
        let quorums: Vec<NodeSet> = (0u64..32)
            .map(NodeSet)
            .filter(|s| m.is_quorum(*s))
            .collect();
        for a in &quorums {
            for b in &quorums {
                assert!(a.0 & b.0 != 0, "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn removing_a_main_keeps_every_pair_of_quorums_meeting() {
        let m = Membership {
            members: NodeSet::all(5),
            mains: set(&[0, 1, 2]),
        }
        .without(NodeId(1));
        assert_eq!(m.members, set(&[0, 2, 3, 4]));
        assert!(m.mains_are_quorum() && m.is_quorum(set(&[0, 2])));
        let quorums: Vec<NodeSet> = (0u64..32)
            .map(NodeSet)
            .filter(|s| m.is_quorum(*s))
            .collect();
        for a in &quorums {
            for b in &quorums {
                assert!(a.0 & b.0 != 0);
            }
        }
        // Another removal: the one main left is no quorum of three members; majorities are.
        let m2 = m.without(NodeId(2));
        assert!(!m2.mains_are_quorum());
        assert!(m2.is_quorum(set(&[0, 3])) && !m2.is_quorum(set(&[0])));
    }

    #[test]
    fn a_decided_reconfiguration_governs_the_slots_after_it() {
        let mut c = Configs::new(3, set(&[0, 1]));
        let next = c.at(Slot(0)).without(NodeId(1));
        c.decided(Slot(7), next);
        assert_eq!(c.at(Slot(7)).mains, set(&[0, 1]));
        assert_eq!(c.at(Slot(8)), next);
        assert_eq!(c.auxiliaries, set(&[2]));
    }
}
