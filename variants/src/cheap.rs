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
//! - A main that was configured out and is heard from again (it acknowledges a retransmitted Accept of a slot
//!   the smaller configuration governs, or asks for the log after hearing a sparse heartbeat) is brought back
//!   with another reconfiguration, as the paper does with a repaired replica; once every main is back, the
//!   auxiliaries are idle again.
//!
//! Simplified: the auxiliaries keep what they accepted rather than dropping it once the mains have learned it.

use crate::client::LeaderClient;
use crate::command::Value;
use crate::multi::reconfig::{InflightView, Reconfig};
use crate::multi::{MultiMsg, MultiReplica};
use crate::quorum::{Membership, NodeSet, QuorumSystem};
use crate::replica::{Mutation, ReplicaSetup, Variant};
use crate::types::{NodeId, Slot, Time};

pub struct Cheap;

impl Variant for Cheap {
    const NAME: &'static str = "cheap";
    const QUORUMS: crate::quorum::QuorumKind = crate::quorum::QuorumKind::MainAuxiliary;
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
    /// Mains configured out that this leader has heard from since: each comes back with a reconfiguration.
    returning: NodeSet,
    /// As leader: when each replica last acknowledged an Accept of this leadership or asked for the log.
    last_heard: Vec<Time>,
    /// As leader: since when each main has been suspected of having failed (it missed a retransmitted slot).
    suspect: Vec<Option<Time>>,
}

impl Reconfig for CheapMembership {
    fn new(setup: &ReplicaSetup) -> Self {
        let cfg = match setup.quorums {
            QuorumSystem::Cheap { n, mains } => Configs::new(n, mains),
            // Any other system: every replica a main, so the mains are the only quorum needed.
            ref q => Configs::new(q.n(), NodeSet::all(q.n())),
        };
        CheapMembership {
            cfg,
            reconfigurations: 0,
            ticks: 0,
            returning: NodeSet::EMPTY,
            last_heard: vec![Time::ZERO; setup.n()],
            suspect: vec![None; setup.n()],
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

    fn is_phase2_quorum<'a, I: Iterator<Item = &'a Value>>(
        &self,
        _: &QuorumSystem,
        slot: Slot,
        acks: NodeSet,
        earlier: impl FnOnce() -> I,
    ) -> bool {
        self.cfg.at(slot).is_quorum(acks)
            && earlier().all(|v| match v {
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

    fn led(&mut self, now: Time) {
        self.cfg.pending = None;
        self.last_heard.fill(now);
        self.suspect.fill(None);
    }

    fn holds_new_slots(&self) -> bool {
        self.cfg.pending.is_some()
    }

    /// The mains only, unless this is a reconfiguration (it needs the auxiliaries) or the mains left are no
    /// longer a quorum of their configuration (then the slot needs a majority of the members).
    fn accept_to(&self, slot: Slot, value: &Value) -> Option<NodeSet> {
        let m = self.cfg.at(slot);
        Some(
            if matches!(value, Value::Config(_)) || !m.mains_are_quorum() {
                m.members
            } else {
                m.mains
            },
        )
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

    /// A main of the newest configuration that misses a retransmitted slot twice, with no word from it in
    /// between, is configured out, one reconfiguration at a time: the first miss makes it a suspect (its Accept
    /// may just have been lost, and the retransmission gives it a second chance), the second, at a later
    /// retransmission, removes it. (Waiting for more would not help: the auxiliaries complete each stuck slot
    /// at its first retransmission, so every later slot would pay the period again.) When nobody is to go, a
    /// returned main comes back.
    fn on_leader_tick<'a>(
        &mut self,
        me: NodeId,
        now: Time,
        next_slot: Slot,
        inflight: impl Iterator<Item = InflightView<'a>> + Clone,
    ) -> Option<Membership> {
        let reconfiguring = self.cfg.pending.is_some()
            || inflight
                .clone()
                .any(|i| matches!(i.value, Value::Config(_)));
        let newest = self.cfg.at(next_slot);
        let mut missing = NodeSet::EMPTY;
        for i in inflight.filter(|i| i.resends >= 1) {
            missing.0 |= newest.mains.0 & !i.acks.0;
        }
        let mut silent = None;
        for r in Membership::ids(missing).filter(|&r| r != me) {
            let i = r.0 as usize;
            let heard = self.last_heard.get(i).copied().unwrap_or(Time::ZERO);
            match self.suspect.get(i).copied().flatten() {
                Some(since) if heard < since && since < now => {
                    silent = silent.or(Some(r));
                }
                _ => {
                    if let Some(s) = self.suspect.get_mut(i) {
                        *s = Some(now);
                    }
                }
            }
        }
        if reconfiguring {
            return None;
        }
        let change = match silent {
            Some(m) => newest.without(m),
            // Nobody to configure out: bring back a main that returned (the lowest id first).
            None => {
                let back =
                    Membership::ids(self.returning).find(|&r| !newest.members.contains(r))?;
                self.returning = NodeSet(self.returning.0 & !(1u64 << back.0));
                newest.with_main(back)
            }
        };
        self.cfg.pending = Some(next_slot);
        Some(change)
    }

    /// A main that was configured out and is heard from again (it acknowledged an Accept of a slot the
    /// configuration without it governs, or asked for the log) is brought back at the next tick.
    fn heard_from(&mut self, node: NodeId, accepted: Option<Slot>, now: Time) {
        if let Some(t) = self.last_heard.get_mut(node.0 as usize) {
            *t = now;
        }
        if self.cfg.auxiliaries.contains(node) {
            return;
        }
        let (from, newest) = self.cfg.newest();
        if newest.members.contains(node) {
            return;
        }
        if accepted.is_none_or(|slot| slot >= from) {
            self.returning.insert(node);
        }
    }

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

    /// The newest configuration known, with the first slot it governs.
    fn newest(&self) -> (Slot, Membership) {
        self.list
            .last()
            .copied()
            .unwrap_or((Slot(0), self.list[0].1))
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

    fn policy() -> CheapMembership {
        let setup = ReplicaSetup {
            id: NodeId(0),
            quorums: QuorumSystem::cheap(5, None).unwrap(),
            initial_leader: NodeId(0),
            tuning: crate::replica::Tuning::default(),
            mutation: Mutation::None,
            seed: 1,
            reads: crate::reads::Reads::log(),
        };
        let mut p = CheapMembership::new(&setup);
        p.led(Time(0));
        p
    }

    /// One slot in flight, retransmitted, acknowledged by `acks`.
    fn stuck<'a>(value: &'a Value, acks: &[u32]) -> Vec<InflightView<'a>> {
        vec![InflightView {
            value,
            acks: set(acks),
            resends: 1,
        }]
    }

    fn ms(t: u64) -> Time {
        Time(t * 1_000_000)
    }

    #[test]
    fn a_main_that_misses_two_retransmissions_in_silence_is_configured_out() {
        let mut p = policy();
        let v = Value::Noop;
        // First miss: a suspect only.
        assert_eq!(
            p.on_leader_tick(
                NodeId(0),
                ms(300),
                Slot(5),
                stuck(&v, &[0, 2, 3]).into_iter()
            ),
            None
        );
        // Not heard from since, and it misses again later: out.
        let change = p.on_leader_tick(
            NodeId(0),
            ms(650),
            Slot(6),
            stuck(&v, &[0, 2, 4]).into_iter(),
        );
        assert_eq!(change, Some(p.cfg.at(Slot(0)).without(NodeId(1))));
        assert!(
            p.holds_new_slots(),
            "nothing opens past a pending reconfiguration"
        );
    }

    #[test]
    fn a_live_main_whose_one_answer_was_lost_stays() {
        let mut p = policy();
        let v = Value::Noop;
        assert_eq!(
            p.on_leader_tick(
                NodeId(0),
                ms(300),
                Slot(5),
                stuck(&v, &[0, 2, 3]).into_iter()
            ),
            None
        );
        // It answers the retransmission; a later loss starts a fresh suspicion instead of removing it.
        p.heard_from(NodeId(1), Some(Slot(5)), ms(310));
        assert_eq!(
            p.on_leader_tick(
                NodeId(0),
                ms(900),
                Slot(9),
                stuck(&v, &[0, 2, 3]).into_iter()
            ),
            None
        );
        assert!(!p.holds_new_slots());
    }

    #[test]
    fn a_returning_main_is_brought_back_once_the_removal_is_decided() {
        let mut p = policy();
        let first = p.cfg.at(Slot(0));
        let without = first.without(NodeId(1));
        // The removal, decided in slot 5 (it was this leader's pending change).
        p.cfg.pending = Some(Slot(5));
        p.learned(Slot(5), &Value::Config(without));
        assert_eq!(p.reconfigurations(), 1);
        assert_eq!(p.accept_to(Slot(6), &Value::Noop), Some(without.mains));
        // A stale acceptance from before the removal is no sign of return; a request for the log is.
        p.heard_from(NodeId(1), Some(Slot(4)), ms(1000));
        assert_eq!(
            p.on_leader_tick(NodeId(0), ms(1050), Slot(7), std::iter::empty()),
            None
        );
        p.heard_from(NodeId(1), None, ms(1100));
        let back = p.on_leader_tick(NodeId(0), ms(1150), Slot(7), std::iter::empty());
        assert_eq!(back, Some(first));
        p.learned(Slot(7), &Value::Config(first));
        assert_eq!(p.reconfigurations(), 2);
        assert_eq!(
            p.accept_to(Slot(8), &Value::Noop),
            Some(first.mains),
            "auxiliaries idle again"
        );
    }

    #[test]
    fn an_auxiliary_is_never_brought_in_as_a_main() {
        let mut p = policy();
        p.heard_from(NodeId(4), None, ms(10));
        assert_eq!(
            p.on_leader_tick(NodeId(0), ms(50), Slot(1), std::iter::empty()),
            None
        );
        assert!(p.never_campaigns(NodeId(4)) && !p.never_campaigns(NodeId(1)));
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
