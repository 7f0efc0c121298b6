//! Multi-Paxos replica unit tests.

use super::*;
use crate::command::Op;
use crate::quorum::QuorumSystem;
use crate::replica::{ToClient, Tuning};
use crate::types::ClientId;

fn solo() -> (MultiReplica, Effects<MultiMsg, MultiTimer>) {
    let setup = ReplicaSetup {
        id: NodeId(0),
        quorums: QuorumSystem::Majority { n: 1 },
        initial_leader: NodeId(0),
        tuning: Tuning::default(),
        mutation: Mutation::None,
        seed: 1,
        reads: crate::reads::Reads::log(),
    };
    let mut out = Effects::new();
    let r = MultiReplica::new(setup, Time(0), &mut out);
    out.clear();
    (r, out)
}

fn put(client: u32) -> MultiMsg {
    MultiMsg::Request(Command {
        client: ClientId(client),
        seq: 0,
        ack: 0,
        op: Op::Put {
            key: 1,
            value: bytes::Bytes::from_static(b"v"),
        },
    })
}

#[test]
fn a_client_cannot_submit_in_another_clients_name() {
    let (mut r, mut out) = solo();
    assert!(r.is_leader(), "a one-replica cluster leads at once");
    r.on_message(Time(1), Peer::Client(ClientId(1)), put(2), &mut out);
    assert!(
        out.is_empty(),
        "a request for client 2 from client 1 was handled: {:?}",
        out.sends
    );
    r.on_message(Time(2), Peer::Client(ClientId(2)), put(2), &mut out);
    assert!(
        out.sends
            .iter()
            .any(|(_, m)| matches!(m, MultiMsg::ToClient(ToClient::Reply { .. }))),
        "{:?}",
        out.sends
    );
}
