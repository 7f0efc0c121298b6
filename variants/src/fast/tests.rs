//! Fast Paxos replica unit tests: the acceptor's fast vote, the coordinator's fast decision and its collision
//! recovery, driven message by message on a three-replica cluster (classic quorum 2, fast quorum 3).

use super::*;
use crate::command::Op;
use crate::effects::Dest;
use crate::quorum::QuorumSystem;
use crate::replica::Tuning;
use crate::types::ClientId;

fn setup(id: u32) -> ReplicaSetup {
    ReplicaSetup {
        id: NodeId(id),
        quorums: QuorumSystem::Fast {
            n: 3,
            classic: 2,
            fast: 3,
        },
        initial_leader: NodeId(0),
        tuning: Tuning::default(),
        mutation: Mutation::None,
        seed: 7,
        reads: crate::reads::Reads::log(),
    }
}

fn cmd(client: u32, key: u64) -> Command {
    Command {
        client: ClientId(client),
        seq: 1,
        ack: 0,
        op: Op::Put {
            key,
            value: bytes::Bytes::from_static(b"v"),
        },
    }
}

fn sends(out: &Effects<FastMsg, FastTimer>) -> Vec<(Dest, FastMsg)> {
    out.pending_sends().to_vec()
}

/// Replica 0 after winning Phase 1 with replica 1's promise: the coordinator of ballot `b`.
fn coordinator() -> (FastReplica, Ballot, Effects<FastMsg, FastTimer>) {
    let mut out = Effects::new();
    let mut r = FastReplica::new(setup(0), Time(0), &mut out);
    let ballot = sends(&out)
        .iter()
        .find_map(|(_, m)| match m {
            FastMsg::Prepare { ballot, .. } => Some(*ballot),
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "the initial leader sent no Prepare: {:?}",
                out.pending_sends()
            )
        });
    out.clear();
    let promise = FastMsg::Promise {
        ballot,
        votes: vec![],
        compacted: Slot(0),
    };
    r.on_message(Time(1), Peer::Replica(NodeId(1)), promise, &mut out);
    assert!(
        r.is_leader(),
        "a classic quorum of promises did not make it lead"
    );
    assert!(sends(&out)
        .iter()
        .any(|(_, m)| matches!(m, FastMsg::Open { from: Slot(0), .. })));
    out.clear();
    (r, ballot, out)
}

/// Replica 1 with the fast round of `ballot` open from slot 0.
fn acceptor(ballot: Ballot) -> (FastReplica, Effects<FastMsg, FastTimer>) {
    let mut out = Effects::new();
    let mut r = FastReplica::new(setup(1), Time(0), &mut out);
    let open = FastMsg::Open {
        ballot,
        from: Slot(0),
        commit: Slot(0),
    };
    r.on_message(Time(1), Peer::Replica(NodeId(0)), open, &mut out);
    out.clear();
    (r, out)
}

#[test]
fn an_acceptor_votes_once_per_command_to_the_coordinator_and_the_client() {
    let ballot = Ballot::new(1, NodeId(0));
    let (mut r, mut out) = acceptor(ballot);
    r.on_message(
        Time(2),
        Peer::Client(ClientId(5)),
        FastMsg::Request(cmd(5, 1)),
        &mut out,
    );
    let s = sends(&out);
    assert!(s
        .iter()
        .any(|(d, m)| *d == Dest::To(Peer::Replica(NodeId(0)))
            && matches!(m, FastMsg::Vote { slot: Slot(0), round, .. } if !round.classic)));
    assert!(s
        .iter()
        .any(|(d, m)| *d == Dest::To(Peer::Client(ClientId(5)))
            && matches!(m, FastMsg::Voted { slot: Slot(0), .. })));
    out.clear();
    // The client's retry (or the coordinator's resend) gets no second vote while the first stands.
    r.on_message(
        Time(3),
        Peer::Client(ClientId(5)),
        FastMsg::Request(cmd(5, 1)),
        &mut out,
    );
    assert!(out.pending_sends().is_empty(), "{:?}", out.pending_sends());
    // A different command goes to the next free slot.
    r.on_message(
        Time(4),
        Peer::Client(ClientId(6)),
        FastMsg::Request(cmd(6, 2)),
        &mut out,
    );
    assert!(sends(&out)
        .iter()
        .any(|(_, m)| matches!(m, FastMsg::Vote { slot: Slot(1), .. })));
}

#[test]
fn a_request_before_any_fast_round_waits_and_is_voted_when_one_opens() {
    let mut out = Effects::new();
    let mut r = FastReplica::new(setup(2), Time(0), &mut out);
    out.clear();
    r.on_message(
        Time(1),
        Peer::Client(ClientId(5)),
        FastMsg::Request(cmd(5, 1)),
        &mut out,
    );
    assert!(out.pending_sends().is_empty());
    let open = FastMsg::Open {
        ballot: Ballot::new(1, NodeId(0)),
        from: Slot(3),
        commit: Slot(0),
    };
    r.on_message(Time(2), Peer::Replica(NodeId(0)), open, &mut out);
    assert!(sends(&out)
        .iter()
        .any(|(_, m)| matches!(m, FastMsg::Vote { slot: Slot(3), .. })));
}

#[test]
fn a_fast_quorum_of_matching_votes_decides_and_a_collision_is_recovered_in_the_classic_round() {
    let (mut co, ballot, mut out) = coordinator();
    let round = Round {
        ballot,
        classic: false,
    };
    let a = Value::batch(vec![cmd(5, 1)]);
    let b = Value::batch(vec![cmd(6, 1)]);
    // Slot 0: all three acceptors voted for `a`.
    for n in 0..3 {
        let vote = FastMsg::Vote {
            round,
            slot: Slot(0),
            value: a.clone(),
        };
        co.on_message(Time(2), Peer::Replica(NodeId(n)), vote, &mut out);
    }
    assert_eq!(out.pending_decisions(), [(Slot(0), a.clone())]);
    out.clear();
    // Slot 1: votes split, so no value can reach the fast quorum of 3; two votes are a classic quorum, and the
    // coordinator proposes in the classic round of the same ballot at once.
    for (n, v) in [(1, &a), (2, &b)] {
        let vote = FastMsg::Vote {
            round,
            slot: Slot(1),
            value: v.clone(),
        };
        co.on_message(Time(3), Peer::Replica(NodeId(n)), vote, &mut out);
    }
    assert!(out.pending_decisions().is_empty());
    assert!(
        sends(&out).iter().any(|(d, m)| *d == Dest::OtherReplicas
            && matches!(m, FastMsg::Propose { slot: Slot(1), round, .. } if round.classic)),
        "{:?}",
        out.pending_sends()
    );
    assert_eq!(co.status().counters.collisions, 1);
}
