//! The one place where Multi-Paxos lets its membership move: a policy type parameter of
//! [`MultiReplica`](super::MultiReplica). Multi and Flexible Paxos use [`FixedMembership`] (every call is a
//! constant or one quorum check, inlined away); Cheap Paxos plugs in its main/auxiliary policy
//! ([`crate::cheap::CheapMembership`]). The core asks the policy whenever a rule depends on who the acceptors
//! are: which replicas a message goes to, what counts as a quorum for a slot, when to change the membership.

use crate::command::Value;
use crate::quorum::{Membership, NodeSet, QuorumSystem};
use crate::replica::{Mutation, ReplicaSetup};
use crate::types::{NodeId, Slot, Time};
use std::fmt::Debug;

/// What the leader knows of one slot it has in Phase 2, as a policy sees it.
#[derive(Clone, Copy)]
pub struct InflightView<'a> {
    pub value: &'a Value,
    /// Acceptances so far (the leader's own included).
    pub acks: NodeSet,
    /// How many times its Accept went out again unanswered.
    pub resends: u32,
}

/// A membership policy for the Multi-Paxos core.
pub trait Reconfig: Debug + Send + 'static {
    fn new(setup: &ReplicaSetup) -> Self;

    /// Takes the reconfigurations a snapshot carries (each with the first slot it governs).
    fn install(&mut self, configs: Vec<(Slot, Membership)>);

    /// The reconfigurations decided below `upto`, to travel with a snapshot of the state machine.
    fn decided_below(&self, upto: Slot) -> Vec<(Slot, Membership)>;

    /// A decided value has been learned (in slot order or not).
    fn learned(&mut self, slot: Slot, value: &Value);

    /// Whether `acks` completes Phase 2 for `slot`, given the values this leader has in flight below it
    /// (`earlier` lists them; it is called only by a policy that needs them, since finding them costs a search).
    fn is_phase2_quorum<'a, I: Iterator<Item = &'a Value>>(
        &self,
        quorums: &QuorumSystem,
        slot: Slot,
        acks: NodeSet,
        earlier: impl FnOnce() -> I,
    ) -> bool;

    /// Whether `promises` win Phase 1 for every slot from `from` on, given the values the promises reported.
    fn is_phase1_quorum<'a>(
        &self,
        quorums: &QuorumSystem,
        from: Slot,
        promises: NodeSet,
        reported: impl Iterator<Item = &'a Value>,
        mutation: Mutation,
    ) -> bool;

    /// This replica has just won Phase 1: a change an earlier leadership left pending is settled by Phase 1's
    /// own rule (re-proposed or not), not by this replica's memory of it.
    fn led(&mut self, now: Time);

    /// Whether the leader must open no new slot now (a membership change is waiting to be decided).
    fn holds_new_slots(&self) -> bool;

    /// Where an Accept for `slot` goes: `None` is every other replica.
    fn accept_to(&self, slot: Slot, value: &Value) -> Option<NodeSet>;

    /// Where this tick's heartbeat goes: `None` is every other replica.
    fn heartbeat_to(&mut self, commit: Slot) -> Option<NodeSet>;

    /// Once per leader tick, after retransmissions: a membership to propose in `next_slot`, if one is due. The
    /// policy then treats that slot as its pending change.
    fn on_leader_tick<'a>(
        &mut self,
        me: NodeId,
        now: Time,
        next_slot: Slot,
        inflight: impl Iterator<Item = InflightView<'a>> + Clone,
    ) -> Option<Membership>;

    /// The leader heard from `node`: an acceptance of `accepted` under its ballot, or (`None`) a request for the
    /// log, which a replica sends only while it hears a leader. A policy can bring a returning replica back.
    fn heard_from(&mut self, node: NodeId, accepted: Option<Slot>, now: Time);

    /// Whether `me` never runs for leader.
    fn never_campaigns(&self, me: NodeId) -> bool;

    /// Membership changes this replica proposed and saw decided.
    fn reconfigurations(&self) -> u64;
}

/// Multi and Flexible Paxos: the acceptors never change; quorums are the setup's.
#[derive(Debug, Default)]
pub struct FixedMembership;

impl Reconfig for FixedMembership {
    fn new(_: &ReplicaSetup) -> Self {
        FixedMembership
    }
    fn install(&mut self, _: Vec<(Slot, Membership)>) {}
    fn decided_below(&self, _: Slot) -> Vec<(Slot, Membership)> {
        Vec::new()
    }
    fn learned(&mut self, _: Slot, _: &Value) {}
    fn is_phase2_quorum<'a, I: Iterator<Item = &'a Value>>(
        &self,
        quorums: &QuorumSystem,
        _: Slot,
        acks: NodeSet,
        _: impl FnOnce() -> I,
    ) -> bool {
        quorums.is_phase2_quorum(acks)
    }
    fn is_phase1_quorum<'a>(
        &self,
        quorums: &QuorumSystem,
        _: Slot,
        promises: NodeSet,
        _: impl Iterator<Item = &'a Value>,
        _: Mutation,
    ) -> bool {
        quorums.is_phase1_quorum(promises)
    }
    fn led(&mut self, _: Time) {}
    fn holds_new_slots(&self) -> bool {
        false
    }
    fn accept_to(&self, _: Slot, _: &Value) -> Option<NodeSet> {
        None
    }
    fn heartbeat_to(&mut self, _: Slot) -> Option<NodeSet> {
        None
    }
    fn on_leader_tick<'a>(
        &mut self,
        _: NodeId,
        _: Time,
        _: Slot,
        _: impl Iterator<Item = InflightView<'a>> + Clone,
    ) -> Option<Membership> {
        None
    }
    fn heard_from(&mut self, _: NodeId, _: Option<Slot>, _: Time) {}
    fn never_campaigns(&self, _: NodeId) -> bool {
        false
    }
    fn reconfigurations(&self) -> u64 {
        0
    }
}
