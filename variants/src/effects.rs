//! The output buffer every handler writes into. The driver owns it, hands it to each input and reuses it, so a
//! handler never allocates a fresh `Vec` per call. What is in it leaves only through
//! [`Step::carry_out`](crate::step::Step::carry_out), in the order persist, decide, send, arm.

use crate::command::{CommandId, Reply, Value};
use crate::types::{Peer, Slot};
use std::time::Duration;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    To(Peer),
    /// Every replica except the sender.
    OtherReplicas,
}

#[derive(Debug)]
pub struct Effects<M, T> {
    pub(crate) sends: Vec<(Dest, M)>,
    pub(crate) timers: Vec<(Duration, T)>,
    /// Slots this replica has just learned to be decided (each reported once per replica incarnation).
    pub(crate) decisions: Vec<(Slot, Value)>,
    /// Client side: commands whose reply arrived, by sequence number.
    pub(crate) completions: Vec<(u64, Reply)>,
    /// Client side: commands the client knows to be chosen, and in which slot, before their reply arrived
    /// (a Fast Paxos client that has counted a fast quorum of votes). The checker holds the client to it.
    pub(crate) learned: Vec<(u64, Slot)>,
    /// Replica side, variants without a total order (EPaxos): commands this replica just ran, with the key
    /// each touched, in the order it ran them. The checker compares these orders key by key across replicas.
    pub(crate) executed: Vec<(u64, CommandId)>,
}

impl<M, T> Default for Effects<M, T> {
    fn default() -> Self {
        Effects {
            sends: Vec::new(),
            timers: Vec::new(),
            decisions: Vec::new(),
            completions: Vec::new(),
            learned: Vec::new(),
            executed: Vec::new(),
        }
    }
}

impl<M, T> Effects<M, T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn send(&mut self, to: Peer, msg: M) {
        self.sends.push((Dest::To(to), msg));
    }

    pub fn broadcast(&mut self, msg: M) {
        self.sends.push((Dest::OtherReplicas, msg));
    }

    pub fn set_timer(&mut self, after: Duration, timer: T) {
        self.timers.push((after, timer));
    }

    pub fn decide(&mut self, slot: Slot, value: Value) {
        self.decisions.push((slot, value));
    }

    pub fn complete(&mut self, seq: u64, reply: Reply) {
        self.completions.push((seq, reply));
    }

    pub fn executed(&mut self, key: u64, id: CommandId) {
        self.executed.push((key, id));
    }

    pub fn learn(&mut self, seq: u64, slot: Slot) {
        self.learned.push((seq, slot));
    }

    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
            && self.timers.is_empty()
            && self.decisions.is_empty()
            && self.completions.is_empty()
            && self.learned.is_empty()
    }

    /// The messages waiting to go out, to look at (tests, traces); only [`Step::carry_out`](crate::step::Step::carry_out) sends them.
    pub fn pending_sends(&self) -> &[(Dest, M)] {
        &self.sends
    }

    /// The decisions waiting to be reported, to look at.
    pub fn pending_decisions(&self) -> &[(Slot, Value)] {
        &self.decisions
    }

    /// Drops everything pending (a driver that discards a step's outputs, as a crash would).
    pub fn clear(&mut self) {
        self.sends.clear();
        self.timers.clear();
        self.decisions.clear();
        self.completions.clear();
        self.learned.clear();
    }
}
