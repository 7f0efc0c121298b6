//! Membership as a value: who is an acceptor and which of them are main. Cheap Paxos decides memberships through
//! the log (a [`Value::Config`](crate::command::Value::Config)), so they live beside the other quorum systems
//! rather than inside the protocol that changes them.
//!
//! In a configuration with members M and mains P, the quorums are P itself (when |P| >= ceil(|M| / 2)) and every
//! majority of M: P meets every majority, and majorities meet each other, so any two quorums intersect.

use crate::quorum::NodeSet;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};

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

    /// The configuration with `node` back as a main member.
    pub fn with_main(&self, node: NodeId) -> Membership {
        let bit = 1u64 << node.0;
        Membership {
            members: NodeSet(self.members.0 | bit),
            mains: NodeSet(self.mains.0 | bit),
        }
    }

    pub fn ids(set: NodeSet) -> impl Iterator<Item = NodeId> {
        (0..64u32)
            .filter(move |i| set.contains_index(*i as usize))
            .map(NodeId)
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

    fn every_pair_meets(m: &Membership, n: u32) {
        let quorums: Vec<NodeSet> = (0u64..(1 << n))
            .map(NodeSet)
            .filter(|s| m.is_quorum(*s))
            .collect();
        assert!(!quorums.is_empty(), "{m:?} has no quorum");
        for a in &quorums {
            for b in &quorums {
                assert!(a.0 & b.0 != 0, "{a:?} and {b:?} of {m:?}");
            }
        }
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
        every_pair_meets(&m, 5);
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
        every_pair_meets(&m, 5);
        // Another removal: the one main left is no quorum of three members; majorities are.
        let m2 = m.without(NodeId(2));
        assert!(!m2.mains_are_quorum());
        assert!(m2.is_quorum(set(&[0, 3])) && !m2.is_quorum(set(&[0])));
        every_pair_meets(&m2, 5);
    }

    #[test]
    fn a_main_added_back_restores_the_first_configuration() {
        let first = Membership {
            members: NodeSet::all(5),
            mains: set(&[0, 1, 2]),
        };
        let back = first.without(NodeId(1)).with_main(NodeId(1));
        assert_eq!(back, first);
        every_pair_meets(&back, 5);
        // Adding back into a configuration that lost two mains, one at a time.
        let two_gone = first.without(NodeId(1)).without(NodeId(2));
        let one_back = two_gone.with_main(NodeId(2));
        assert_eq!(one_back.mains, set(&[0, 2]));
        every_pair_meets(&one_back, 5);
    }
}
