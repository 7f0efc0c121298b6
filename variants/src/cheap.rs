//! Cheap Paxos (Lamport and Massa, "Cheap Paxos", DSN 2004): Multi-Paxos with a main/auxiliary membership.
//!
//! N = 2f + 1 acceptors: f + 1 main ones, which also run the state machine, and f auxiliary ones, which only
//! help when a main acceptor fails. The quorums of a configuration are its mains (while they are at least half
//! of its members) and every majority of its members ([`Membership`]).
//!
//! What differs from Multi-Paxos, all in the policy [`CheapMembership`] that the Multi-Paxos core
//! ([`crate::multi`]) consults:
//! - Normal case: the leader sends its Accepts (and heartbeats) to the mains only, and the mains are its Phase 2
//!   quorum; the auxiliaries receive nothing but a sparse heartbeat (every [`SPARSE_HEARTBEAT`] ticks), so they
//!   redirect clients to the right leader and stay quiet.
//! - When a main stops answering, the leader's retransmissions go to every member, so a majority that includes
//!   auxiliaries completes the stuck slots, and the leader decides, through the log, a new configuration without
//!   that main ([`Value::Config`](crate::command::Value::Config)). The new configuration governs the slots after
//!   the one that decided it; the leader opens no slot past a pending reconfiguration until it is decided, and a
//!   new leader needs a Phase 1 quorum in every configuration its promises report. Commits wait while this
//!   happens: that is the stall the failover runs show.
//! - Phase 2 for a slot needs a quorum of its configuration and of every reconfiguration in flight before it
//!   (whichever way that one ends).
//!
//! Simplified: the auxiliaries keep what they accepted rather than dropping it once the mains have learned it.

use crate::client::LeaderClient;
use crate::command::Value;
use crate::multi::reconfig::{InflightView, Reconfig};
use crate::multi::{MultiMsg, MultiReplica};
use crate::quorum::{Membership, NodeSet, QuorumSystem};
use crate::replica::{Mutation, Variant};
use crate::types::{NodeId, Slot};

pub struct Cheap;

impl Variant for Cheap {
    const NAME: &'static str = "cheap";
    type Msg = MultiMsg;
    type Replica = MultiReplica<CheapMembership>;
    type Client = LeaderClient<MultiMsg>;
}

/// Every this many ticks the leader's heartbeat also goes to the non-main replicas.
pub const SPARSE_HEARTBEAT: u64 = 8;

/// Cheap Paxos's membership policy: the configurations, the change in flight, and the heartbeat pace.
#[derive(Clone, Debug)]
pub struct CheapMembership {
    cfg: Configs,
    reconfigurations: u64,
    /// Ticks as leader, to pace the occasional heartbeat to the non-main replicas.
    ticks: u64,
}

impl Reconfig for CheapMembership {
    fn new(quorums: &QuorumSystem) -> Self {
        let cfg = match *quorums {
            QuorumSystem::Cheap { n, mains } => Configs::new(n, mains),
            // Any other system: every replica a main, so the mains are the only quorum needed.
            ref q => Configs::new(q.n(), NodeSet::all(q.n())),
        };
        CheapMembership {
            cfg,
            reconfigurations: 0,
            ticks: 0,
        }
    }

    fn install(&mut self, configs: Vec<(Slot, Membership)>) {
        for (from, m) in configs {
            if let Some(slot) = from.0.checked_sub(1) {
                self.cfg.decided(Slot(slot), m);
            }
        }
    }

    fn decided_below(&self, upto: Slot) -> Vec<(Slot, Membership)> {
        self.cfg.decided_below(upto)
    }

    fn learned(&mut self, slot: Slot, value: &Value) {
        if self.cfg.pending == Some(slot) {
            self.cfg.pending = None;
            if matches!(value, Value::Config(_)) {
                self.reconfigurations += 1;
            }
        }
        if let Value::Config(m) = value {
            self.cfg.decided(slot, *m);
        }
    }

    fn is_phase2_quorum<'a>(
        &self,
        _: &QuorumSystem,
        slot: Slot,
        acks: NodeSet,
        mut earlier: impl Iterator<Item = &'a Value>,
    ) -> bool {
        self.cfg.at(slot).is_quorum(acks)
            && earlier.all(|v| match v {
                Value::Config(m) => m.is_quorum(acks),
                _ => true,
            })
    }

    fn is_phase1_quorum<'a>(
        &self,
        _: &QuorumSystem,
        from: Slot,
        promises: NodeSet,
        mut reported: impl Iterator<Item = &'a Value>,
        mutation: Mutation,
    ) -> bool {
        if mutation == Mutation::CheapIgnoresReconfigurations {
            return self.cfg.at(from).is_quorum(promises);
        }
        self.cfg.from(from).all(|m| m.is_quorum(promises))
            && reported.all(|v| match v {
                Value::Config(m) => m.is_quorum(promises),
                _ => true,
            })
    }

    fn led(&mut self) {
        self.cfg.pending = None;
    }

    fn holds_new_slots(&self) -> bool {
        self.cfg.pending.is_some()
    }

    /// The mains only, unless this is a reconfiguration (it needs the auxiliaries).
    fn accept_to(&self, slot: Slot, value: &Value) -> Option<NodeSet> {
        let m = self.cfg.at(slot);
        Some(if matches!(value, Value::Config(_)) {
            m.members
        } else {
            m.mains
        })
    }

    /// Only the mains hear the leader every tick; the others (auxiliaries, removed mains) now and then.
    fn heartbeat_to(&mut self, commit: Slot) -> Option<NodeSet> {
        self.ticks += 1;
        if self.ticks % SPARSE_HEARTBEAT == 0 {
            None
        } else {
            Some(self.cfg.at(commit).mains)
        }
    }

    /// A main of the newest configuration that has left a slot unanswered for a whole retransmission period is
    /// configured out, one reconfiguration at a time. (Waiting longer would not help: the auxiliaries complete
    /// the slot at its first retransmission, so every later slot would pay the period again.)
    fn on_leader_tick<'a>(
        &mut self,
        me: NodeId,
        next_slot: Slot,
        inflight: impl Iterator<Item = InflightView<'a>> + Clone,
    ) -> Option<Membership> {
        let reconfiguring = self.cfg.pending.is_some()
            || inflight
                .clone()
                .any(|i| matches!(i.value, Value::Config(_)));
        let newest = self.cfg.at(next_slot);
        let silent = inflight
            .filter(|i| i.resends >= 1)
            .flat_map(|i| Membership::ids(NodeSet(newest.mains.0 & !i.acks.0)))
            .find(|&r| r != me);
        match (reconfiguring, silent) {
            (false, Some(m)) => {
                self.cfg.pending = Some(next_slot);
                Some(newest.without(m))
            }
            _ => None,
        }
    }

    fn heard_from(&mut self, _: NodeId) {}

    /// The initial auxiliaries never lead and need not learn the log.
    fn never_campaigns(&self, me: NodeId) -> bool {
        self.cfg.auxiliaries.contains(me)
    }

    fn reconfigurations(&self) -> u64 {
        self.reconfigurations
    }
}

/// The configurations a replica knows, each with the first slot it governs.
#[derive(Clone, Debug)]
struct Configs {
    /// The initial auxiliaries (they never campaign to lead).
    auxiliaries: NodeSet,
    list: Vec<(Slot, Membership)>,
    /// A reconfiguration the leader has proposed and not yet seen decided: no later slot is opened meanwhile.
    pending: Option<Slot>,
}

impl Configs {
    fn new(n: usize, mains: NodeSet) -> Configs {
        let members = NodeSet::all(n);
        Configs {
            auxiliaries: mains.complement(n),
            list: vec![(Slot(0), Membership { members, mains })],
            pending: None,
        }
    }

    /// The reconfigurations decided in slots below `upto`, for a snapshot.
    fn decided_below(&self, upto: Slot) -> Vec<(Slot, Membership)> {
        self.list
            .iter()
            .skip(1)
            .filter(|(s, _)| *s <= upto)
            .copied()
            .collect()
    }

    /// The configuration governing `slot`, from the reconfigurations known to be decided before it.
    fn at(&self, slot: Slot) -> Membership {
        self.list
            .iter()
            .rev()
            .find(|(from, _)| *from <= slot)
            .map(|(_, m)| *m)
            .unwrap_or(self.list[0].1)
    }

    /// The configurations that govern `slot` and the slots after it, as far as they are known.
    fn from(&self, slot: Slot) -> impl Iterator<Item = Membership> + '_ {
        std::iter::once(self.at(slot)).chain(
            self.list
                .iter()
                .filter(move |(f, _)| *f > slot)
                .map(|(_, m)| *m),
        )
    }

    /// A reconfiguration decided in `slot`: it governs the slots after it.
    fn decided(&mut self, slot: Slot, m: Membership) {
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
    fn a_decided_reconfiguration_governs_the_slots_after_it() {
        let mut c = Configs::new(3, set(&[0, 1]));
        let next = c.at(Slot(0)).without(NodeId(1));
        c.decided(Slot(7), next);
        assert_eq!(c.at(Slot(7)).mains, set(&[0, 1]));
        assert_eq!(c.at(Slot(8)), next);
        assert_eq!(c.auxiliaries, set(&[2]));
    }
}
