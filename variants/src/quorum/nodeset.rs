use crate::types::NodeId;

/// A set of replicas as a bit mask (replica `i` is bit `i`); quorum checks run on every acknowledgement, so they
/// must not allocate.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeSet(pub u64);

impl NodeSet {
    pub const EMPTY: NodeSet = NodeSet(0);

    pub fn all(n: usize) -> NodeSet {
        if n >= 64 {
            NodeSet(u64::MAX)
        } else {
            NodeSet((1u64 << n) - 1)
        }
    }

    pub fn insert(&mut self, node: NodeId) -> bool {
        let bit = 1u64 << node.0;
        let fresh = self.0 & bit == 0;
        self.0 |= bit;
        fresh
    }

    pub fn contains(&self, node: NodeId) -> bool {
        self.contains_index(node.0 as usize)
    }

    pub fn contains_index(&self, i: usize) -> bool {
        i < 64 && self.0 & (1u64 << i) != 0
    }

    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn complement(&self, n: usize) -> NodeSet {
        NodeSet(!self.0 & NodeSet::all(n).0)
    }
}
