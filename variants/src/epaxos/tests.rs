//! EPaxos replica unit tests on a tiny in-memory network: the paths a whole-cluster run takes only by chance
//! (fast path, slow path on a conflict, recovery of a silent leader's instance, the mutants' broken rules).

use super::*;
use crate::command::Op;
use crate::effects::Dest;
use crate::quorum::QuorumSystem;
use crate::replica::{ToClient, Tuning};
use crate::types::ClientId;

fn setup(id: u32, n: usize, mutation: Mutation) -> ReplicaSetup {
    ReplicaSetup {
        id: NodeId(id),
        quorums: QuorumSystem::Majority { n },
        initial_leader: NodeId(0),
        tuning: Tuning::default(),
        mutation,
        seed: 7,
        reads: crate::reads::Reads::log(),
    }
}

fn put(client: u32, key: u64) -> Command {
    Command {
        client: ClientId(client),
        seq: 0,
        ack: 0,
        op: Op::Put {
            key,
            value: bytes::Bytes::from_static(b"v"),
        },
    }
}

type Out = Effects<EpaxosMsg, EpaxosTimer>;

/// Replicas and the messages between them, delivered when the test says so.
struct Net {
    nodes: Vec<EpaxosReplica>,
    /// (from, to, message) not yet delivered.
    wire: Vec<(u32, u32, EpaxosMsg)>,
    /// Replies to clients, by replica.
    replies: Vec<(u32, ToClient)>,
    /// Per replica, the commands it ran in order.
    ran: Vec<Vec<CommandId>>,
    commits: Vec<(u32, Slot)>,
}

impl Net {
    fn new(n: usize, mutation: Mutation) -> Net {
        let nodes = (0..n as u32)
            .map(|i| EpaxosReplica::new(setup(i, n, mutation), Time(0), &mut Out::new()))
            .collect();
        Net {
            nodes,
            wire: Vec::new(),
            replies: Vec::new(),
            ran: vec![Vec::new(); n],
            commits: Vec::new(),
        }
    }

    fn take(&mut self, from: u32, out: &mut Out) {
        let n = self.nodes.len() as u32;
        for (dest, msg) in out.sends.drain(..) {
            match dest {
                Dest::OtherReplicas => {
                    for to in (0..n).filter(|&t| t != from) {
                        self.wire.push((from, to, msg.clone()));
                    }
                }
                Dest::To(Peer::Replica(to)) => self.wire.push((from, to.0, msg)),
                Dest::To(Peer::Client(_)) => {
                    if let EpaxosMsg::ToClient(t) = msg {
                        self.replies.push((from, t));
                    }
                }
            }
        }
        for (_, id) in out.executed.drain(..) {
            self.ran[from as usize].push(id);
        }
        for (slot, _) in out.decisions.drain(..) {
            self.commits.push((from, slot));
        }
    }

    fn request(&mut self, at: u32, cmd: Command) {
        let mut out = Out::new();
        let c = cmd.client;
        self.nodes[at as usize].on_message(
            Time(1),
            Peer::Client(c),
            EpaxosMsg::Request(cmd),
            &mut out,
        );
        self.take(at, &mut out);
    }

    /// Delivers every queued message between live replicas (`cut` lose theirs), until none is left.
    fn settle(&mut self, now: Time, cut: &[u32]) {
        while !self.wire.is_empty() {
            let batch = std::mem::take(&mut self.wire);
            for (from, to, msg) in batch {
                if cut.contains(&from) || cut.contains(&to) {
                    continue;
                }
                let mut out = Out::new();
                self.nodes[to as usize].on_message(now, Peer::Replica(NodeId(from)), msg, &mut out);
                self.take(to, &mut out);
            }
        }
    }

    fn tick(&mut self, node: u32, now: Time) {
        let mut out = Out::new();
        self.nodes[node as usize].on_timer(now, EpaxosTimer::Tick, &mut out);
        self.take(node, &mut out);
    }
}

#[test]
fn a_lone_command_commits_on_the_fast_path_and_runs_everywhere() {
    let mut net = Net::new(5, Mutation::None);
    net.request(2, put(1, 9));
    net.settle(Time(2), &[]);
    assert!(matches!(net.replies[..], [(2, ToClient::Reply { .. })]));
    assert_eq!(net.nodes[2].counters.collisions, 0, "no slow path");
    for r in 0..5 {
        assert_eq!(net.ran[r].len(), 1, "replica {r} ran it");
        assert!(net.commits.contains(&(
            r as u32,
            InstanceId {
                leader: NodeId(2),
                idx: 0
            }
            .slot(5)
        )));
    }
}

#[test]
fn concurrent_conflicting_commands_take_the_slow_path_and_run_in_one_order() {
    let mut net = Net::new(3, Mutation::None);
    // Both leaders pre-accept before hearing of the other: each one's peer saw the other command first.
    net.request(0, put(1, 4));
    net.request(1, put(2, 4));
    net.settle(Time(2), &[]);
    let slow = net.nodes.iter().map(|r| r.counters.collisions).sum::<u64>();
    assert!(slow >= 1, "a conflict shows as a slow path");
    assert_eq!(net.ran[0].len(), 2);
    assert_eq!(net.ran[0], net.ran[1]);
    assert_eq!(net.ran[0], net.ran[2]);
}

#[test]
fn non_interfering_commands_need_no_common_order() {
    let mut net = Net::new(3, Mutation::None);
    net.request(0, put(1, 1));
    net.request(1, put(2, 2));
    net.settle(Time(2), &[]);
    assert_eq!(
        net.nodes.iter().map(|r| r.counters.collisions).sum::<u64>(),
        0
    );
    for r in 0..3 {
        assert_eq!(net.ran[r].len(), 2);
    }
}

#[test]
fn an_instance_whose_leader_went_silent_is_recovered_by_a_replica_that_waits_for_it() {
    let mut net = Net::new(3, Mutation::None);
    // Replica 0 pre-accepts a command on key 5 and reaches replica 1 only, then is cut off for good.
    net.request(0, put(1, 5));
    let to_one: Vec<EpaxosMsg> = std::mem::take(&mut net.wire)
        .into_iter()
        .filter(|(_, to, _)| *to == 1)
        .map(|(_, _, m)| m)
        .collect();
    for msg in to_one {
        let mut out = Out::new();
        net.nodes[1].on_message(Time(2), Peer::Replica(NodeId(0)), msg, &mut out);
        net.take(1, &mut out);
    }
    net.wire.clear();
    // Replica 1 then leads a command on the same key: it depends on replica 0's instance.
    net.request(1, put(2, 5));
    net.settle(Time(3), &[0]);
    assert!(
        net.replies.is_empty(),
        "blocked on the silent leader instance: {:?} {:?}",
        net.replies,
        net.ran
    );
    // After waiting, replica 1 (or 2) recovers it; both commands then run, 0's first (1's depends on it).
    for step in 1..20u64 {
        let now = Time(step * 200_000_000);
        net.tick(1, now);
        net.tick(2, now);
        net.settle(now, &[0]);
    }
    assert_eq!(net.ran[1].len(), 2, "{:?}", net.ran);
    assert_eq!(net.ran[1], net.ran[2]);
    assert_eq!(net.ran[1][0].client, ClientId(1));
    assert!(net.nodes.iter().map(|r| r.counters.recoveries).sum::<u64>() >= 1);
    assert!(matches!(net.replies[..], [(1, ToClient::Reply { .. })]));
}

#[test]
fn the_small_fast_quorum_mutant_commits_conflicting_commands_in_two_orders() {
    // At three replicas the mutant's fast quorum is the leader alone: both commands commit at once, neither
    // depending on the other, and each leader runs its own first.
    let mut net = Net::new(3, Mutation::EpaxosFastQuorumTooSmall);
    net.request(0, put(1, 4));
    net.request(1, put(2, 4));
    net.settle(Time(2), &[]);
    assert_eq!(net.ran[0].len(), 2);
    assert_ne!(net.ran[0], net.ran[1]);
    let mut sound = Net::new(3, Mutation::None);
    sound.request(0, put(1, 4));
    sound.request(1, put(2, 4));
    sound.settle(Time(2), &[]);
    assert_eq!(sound.ran[0], sound.ran[1]);
}

#[test]
fn a_restarted_replica_runs_its_committed_instances_again_from_its_durable_state() {
    let mut net = Net::new(3, Mutation::None);
    net.request(0, put(1, 4));
    net.request(1, put(2, 4));
    net.settle(Time(2), &[]);
    let d = net.nodes[2].durable().clone();
    let mut out = Out::new();
    let back = EpaxosReplica::recover(setup(2, 3, Mutation::None), d, Time(3), &mut out);
    let ran: Vec<CommandId> = out.executed.iter().map(|(_, id)| *id).collect();
    assert_eq!(ran, net.ran[2]);
    assert_eq!(back.kv.digest(), net.nodes[2].kv.digest());
    assert_eq!(out.decisions.len(), 2);
}
