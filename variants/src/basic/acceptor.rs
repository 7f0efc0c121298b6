//! Basic Paxos's acceptor: one single-decree acceptor per slot, each with its own promise. A slot this replica
//! knows decided is answered with the decision, and a slot it compacted away with the state machine, so that
//! it never promises or accepts where it forgot what it accepted.

use super::{BasicMsg, BasicRecord, BasicReplica};
use crate::command::Value;
use crate::replica::Mutation;
use crate::types::{Ballot, Slot};

impl BasicReplica {
    pub(super) fn acceptor_prepare(&mut self, slot: Slot, ballot: Ballot) -> BasicMsg {
        if slot < self.learner.base() {
            return self.snapshot_msg();
        }
        if let Some(v) = self.learner.get(slot) {
            return BasicMsg::Decide {
                slot,
                value: v.clone(),
            };
        }
        self.see_slot(slot);
        self.see_round(ballot.round);
        let (promised, accepted, known) = match self.d.slots.get(&slot) {
            Some(st) => (st.promised, st.accepted.clone(), true),
            None => (Ballot::default(), None, false),
        };
        // `>=`: a proposer resending its Prepare after a lost Promise gets the promise again. Ballots are unique
        // to one proposer and one attempt, so promising the same ballot twice promises nothing new.
        if ballot >= promised {
            if ballot > promised || !known {
                self.d.record(BasicRecord::Promised { slot, ballot });
            }
            BasicMsg::Promise {
                slot,
                ballot,
                accepted,
            }
        } else {
            BasicMsg::Nack { slot, promised }
        }
    }

    pub(super) fn acceptor_accept(&mut self, slot: Slot, ballot: Ballot, value: Value) -> BasicMsg {
        if slot < self.learner.base() {
            return self.snapshot_msg();
        }
        self.see_slot(slot);
        self.see_round(ballot.round);
        let mutant = self.setup.mutation == Mutation::AcceptorIgnoresPromise;
        let promised = self
            .d
            .slots
            .get(&slot)
            .map_or(Ballot::default(), |st| st.promised);
        if ballot >= promised || mutant {
            self.d.record(BasicRecord::Accepted {
                slot,
                ballot,
                value,
            });
            BasicMsg::Accepted { slot, ballot }
        } else {
            BasicMsg::Nack { slot, promised }
        }
    }
}
