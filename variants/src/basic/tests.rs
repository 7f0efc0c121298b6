//! Basic Paxos replica unit tests: the per-slot acceptor's rules and the proposer's duty to finish a value a
//! promise reports, driven message by message on three replicas (majority quorums).

use super::*;
use crate::command::Op;
use crate::effects::Dest;
use crate::quorum::QuorumSystem;
use crate::replica::{Mutation, Tuning};
use crate::types::ClientId;

fn replica(id: u32, mutation: Mutation) -> (BasicReplica, Effects<BasicMsg, BasicTimer>) {
    let setup = ReplicaSetup {
        id: NodeId(id),
        quorums: QuorumSystem::Majority { n: 3 },
        initial_leader: NodeId(0),
        tuning: Tuning::default(),
        mutation,
        seed: 3,
        reads: crate::reads::Reads::log(),
    };
    let mut out = Effects::new();
    let r = BasicReplica::new(setup, Time(0), &mut out);
    out.clear();
    (r, out)
}

fn put(client: u32) -> Command {
    Command {
        client: ClientId(client),
        seq: 1,
        ack: 0,
        op: Op::Put {
            key: 1,
            value: bytes::Bytes::from_static(b"v"),
        },
    }
}

fn only_reply(out: &mut Effects<BasicMsg, BasicTimer>) -> BasicMsg {
    let sends = out.pending_sends().to_vec();
    out.clear();
    match sends.as_slice() {
        [(Dest::To(Peer::Replica(NodeId(9))), m)] => m.clone(),
        other => panic!("expected one reply to replica 9, got {other:?}"),
    }
}

#[test]
fn a_slot_acceptor_keeps_its_promise_and_reports_what_it_accepted() {
    let (mut r, mut out) = replica(1, Mutation::None);
    let from = Peer::Replica(NodeId(9));
    let (b1, b2) = (Ballot::new(1, NodeId(9)), Ballot::new(2, NodeId(8)));
    let value = Value::batch(vec![put(4)]);
    let prepare = |ballot| BasicMsg::Prepare {
        slot: Slot(5),
        ballot,
    };
    r.on_message(Time(1), from, prepare(b2), &mut out);
    assert!(
        matches!(only_reply(&mut out), BasicMsg::Promise { ballot, accepted: None, .. } if ballot == b2)
    );
    // A lower ballot is refused in both phases, naming the promise.
    r.on_message(Time(2), from, prepare(b1), &mut out);
    assert!(matches!(only_reply(&mut out), BasicMsg::Nack { promised, .. } if promised == b2));
    let accept = |ballot| BasicMsg::Accept {
        slot: Slot(5),
        ballot,
        value: value.clone(),
    };
    r.on_message(Time(3), from, accept(b1), &mut out);
    assert!(matches!(only_reply(&mut out), BasicMsg::Nack { .. }));
    r.on_message(Time(4), from, accept(b2), &mut out);
    assert!(matches!(only_reply(&mut out), BasicMsg::Accepted { ballot, .. } if ballot == b2));
    // A later proposer is told what was accepted; another slot is untouched.
    r.on_message(Time(5), from, prepare(Ballot::new(3, NodeId(9))), &mut out);
    assert!(
        matches!(only_reply(&mut out), BasicMsg::Promise { accepted: Some((b, v)), .. } if b == b2 && v == value)
    );
    r.on_message(
        Time(6),
        from,
        BasicMsg::Prepare {
            slot: Slot(6),
            ballot: b1,
        },
        &mut out,
    );
    assert!(matches!(
        only_reply(&mut out),
        BasicMsg::Promise { accepted: None, .. }
    ));
}

#[test]
fn a_decided_slot_answers_a_prepare_with_its_decision() {
    let (mut r, mut out) = replica(1, Mutation::None);
    let value = Value::batch(vec![put(4)]);
    let decide = BasicMsg::Decide {
        slot: Slot(0),
        value: value.clone(),
    };
    r.on_message(Time(1), Peer::Replica(NodeId(2)), decide, &mut out);
    out.clear();
    let prepare = BasicMsg::Prepare {
        slot: Slot(0),
        ballot: Ballot::new(7, NodeId(9)),
    };
    r.on_message(Time(2), Peer::Replica(NodeId(9)), prepare, &mut out);
    assert!(matches!(only_reply(&mut out), BasicMsg::Decide { value: v, .. } if v == value));
}

/// Replica 0 takes a client command, and replica 1's promise reports `reported` accepted in that slot: what
/// does replica 0 propose in Phase 2?
fn proposed_after_a_reported_value(mutation: Mutation) -> (Value, Value, BasicReplica) {
    let (mut r, mut out) = replica(0, mutation);
    r.on_message(
        Time(1),
        Peer::Client(ClientId(5)),
        BasicMsg::Request(put(5)),
        &mut out,
    );
    let (slot, ballot) = out
        .pending_sends()
        .iter()
        .find_map(|(_, m)| match m {
            BasicMsg::Prepare { slot, ballot } => Some((*slot, *ballot)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Prepare: {:?}", out.pending_sends()));
    out.clear();
    let reported = Value::batch(vec![put(6)]);
    let promise = BasicMsg::Promise {
        slot,
        ballot,
        accepted: Some((Ballot::new(0, NodeId(2)), reported.clone())),
    };
    r.on_message(Time(2), Peer::Replica(NodeId(1)), promise, &mut out);
    let proposed = out
        .pending_sends()
        .iter()
        .find_map(|(_, m)| match m {
            BasicMsg::Accept { value, .. } => Some(value.clone()),
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no Accept after a quorum of promises: {:?}",
                out.pending_sends()
            )
        });
    (reported, proposed, r)
}

#[test]
fn a_proposer_finishes_a_reported_value_and_moves_its_own_command_on() {
    let (reported, proposed, mut r) = proposed_after_a_reported_value(Mutation::None);
    assert_eq!(proposed, reported);
    let mut out = Effects::new();
    let accepted = BasicMsg::Accepted {
        slot: Slot(0),
        ballot: r.proposals[&Slot(0)].ballot,
    };
    r.on_message(Time(3), Peer::Replica(NodeId(1)), accepted, &mut out);
    assert_eq!(out.pending_decisions(), [(Slot(0), reported)]);
    // The client's command was not lost: it runs a new instance in the next slot.
    assert!(out
        .pending_sends()
        .iter()
        .any(|(_, m)| matches!(m, BasicMsg::Prepare { slot: Slot(1), .. })));
}

#[test]
fn the_mutant_that_ignores_reported_values_proposes_its_own_and_this_test_sees_it() {
    let (reported, proposed, _) = proposed_after_a_reported_value(Mutation::IgnorePromisedValues);
    assert_ne!(proposed, reported);
}
