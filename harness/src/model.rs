//! The analytic latency model (`docs/PROTOCOLS.md` gives its formulas): the commit latency of one command
//! with one client, no contention, no jitter and no loss, from the link matrix, the placement, the quorum system
//! and the per-message CPU cost. Reports print it beside each measured p50 so a reader can see they agree.
//!
//! CPU costs are modelled as the simulator does: every message a replica handles costs `c`, handled in arrival
//! order. So waiting for a quorum of replies is a small FIFO computation: replies arrive at known times and each
//! takes `c` to handle; the quorum is complete when the reply that completes it has been handled. With `c = 0`
//! this is exactly "the q-th smallest round trip".

use crate::config::Topology;
use crate::wan::LinkModel;
use paxos_variants::{NodeId, NodeSet, QuorumSystem};

pub struct ModelInput<'a> {
    pub topology: &'a Topology,
    pub links: &'a LinkModel,
    pub quorums: &'a QuorumSystem,
    pub cpu_ns: u64,
    /// The client whose latency is modelled (its region comes from the topology).
    pub client: usize,
}

impl ModelInput<'_> {
    fn d_rr(&self, a: usize, b: usize) -> u64 {
        if a == b {
            return 0;
        }
        let t = self.topology;
        self.links.base_ns(t.replica_region[a], t.replica_region[b])
    }

    fn client_region(&self) -> usize {
        self.topology.client_region(self.client)
    }

    fn d_cr(&self, r: usize) -> u64 {
        self.links
            .base_ns(self.client_region(), self.topology.replica_region[r])
    }

    fn d_rc(&self, r: usize) -> u64 {
        self.links
            .base_ns(self.topology.replica_region[r], self.client_region())
    }

    /// The replica a Basic Paxos client reaches: the nearest, lowest id on ties.
    fn nearest(&self) -> usize {
        crate::sim::replicas_by_distance(self.links, self.topology, self.client_region())
            .first()
            .map_or(0, |n| n.0 as usize)
    }

    /// Time after `p` broadcasts (at time 0) until it has handled enough replies to form a quorum, where every
    /// replica answers after handling the request (cost `c`) and `p` counts itself at once.
    /// `busy` holds replies from an earlier phase still arriving at `p`, which occupy its CPU too.
    fn quorum_wait(
        &self,
        p: usize,
        start: u64,
        is_quorum: impl Fn(NodeSet) -> bool,
        busy: &mut Vec<u64>,
    ) -> u64 {
        let n = self.topology.n();
        let c = self.cpu_ns;
        let mut set = NodeSet::EMPTY;
        set.insert(NodeId(p as u32));
        let mut arrivals: Vec<(u64, Option<usize>)> = busy.drain(..).map(|t| (t, None)).collect();
        for a in (0..n).filter(|&a| a != p) {
            arrivals.push((start + self.d_rr(p, a) + c + self.d_rr(a, p), Some(a)));
        }
        arrivals.sort();
        if is_quorum(set) {
            busy.extend(arrivals.iter().map(|(t, _)| *t));
            return start;
        }
        let mut free = start;
        for (i, (t, who)) in arrivals.iter().enumerate() {
            free = free.max(*t) + c;
            if let Some(a) = who {
                set.insert(NodeId(*a as u32));
                if is_quorum(set) {
                    busy.extend(arrivals[i + 1..].iter().map(|(t, _)| *t));
                    return free;
                }
            }
        }
        u64::MAX / 4
    }

    /// Multi-Paxos (and Flexible Paxos): client to leader, one phase-2 quorum round, leader to client.
    pub fn multi_ns(&self) -> u64 {
        let l = self.topology.leader;
        let c = self.cpu_ns;
        let start = self.d_cr(l) + c;
        let decided = self.quorum_wait(
            l,
            start,
            |s| self.quorums.is_phase2_quorum(s),
            &mut Vec::new(),
        );
        decided + self.d_rc(l)
    }

    /// What reaches the Fast Paxos coordinator for one command, in arrival order: (time, is it the client's
    /// request itself) — the request, and every other acceptor's vote.
    fn fast_arrivals(&self) -> Vec<(u64, bool)> {
        let l = self.topology.leader;
        let c = self.cpu_ns;
        let mut arrivals: Vec<(u64, bool)> = vec![(self.d_cr(l), true)];
        for a in (0..self.topology.n()).filter(|&a| a != l) {
            arrivals.push((self.d_cr(a) + c + self.d_rr(a, l), false));
        }
        arrivals.sort();
        arrivals
    }

    fn fast_quorum(&self) -> usize {
        self.quorums.fast_size().unwrap_or(self.topology.n())
    }

    /// Fast Paxos, coordinator learns and replies: the client sends to every acceptor; each votes when it has
    /// handled the request and its vote travels to the coordinator, which counts its own vote as it handles the
    /// request. The command is decided when the coordinator has handled the fast quorum's f-th vote; the reply
    /// then goes back to the client.
    pub fn fast_ns(&self) -> u64 {
        let l = self.topology.leader;
        let c = self.cpu_ns;
        let f = self.fast_quorum();
        let arrivals = self.fast_arrivals();
        let (mut free, mut votes) = (0u64, 0usize);
        for (t, _) in arrivals {
            free = free.max(t) + c;
            votes += 1;
            if votes >= f {
                return free + self.d_rc(l);
            }
        }
        u64::MAX / 4
    }

    /// Fast Paxos, when the client knows its command is chosen: every acceptor sends its vote to the client too,
    /// so that is the fast quorum's `f`-th vote to arrive there, two message delays. A follower votes as the
    /// request arrives; the coordinator's request waits behind the votes that reach it first.
    pub fn fast_commit_ns(&self) -> u64 {
        let l = self.topology.leader;
        let n = self.topology.n();
        let c = self.cpu_ns;
        let f = self.fast_quorum();
        let mut free = 0u64;
        let mut coordinator_voted = 0;
        for (t, own) in self.fast_arrivals() {
            free = free.max(t) + c;
            if own {
                coordinator_voted = free;
                break;
            }
        }
        let mut at_client: Vec<u64> = (0..n)
            .map(|a| {
                let voted = if a == l {
                    coordinator_voted
                } else {
                    self.d_cr(a) + c
                };
                voted + self.d_rc(a)
            })
            .collect();
        at_client.sort_unstable();
        at_client
            .get(f.saturating_sub(1))
            .copied()
            .unwrap_or(u64::MAX / 4)
    }

    /// Cheap Paxos, normal case: the leader's Accepts go to the main acceptors only and it waits for all of
    /// them; with CPU costs, their replies queue at the leader in arrival order.
    pub fn cheap_ns(&self) -> u64 {
        let QuorumSystem::Cheap { n, mains } = *self.quorums else {
            return self.multi_ns();
        };
        let l = self.topology.leader;
        let c = self.cpu_ns;
        let start = self.d_cr(l) + c;
        let mut arrivals: Vec<u64> = (0..n)
            .filter(|&a| a != l && mains.contains_index(a))
            .map(|a| start + self.d_rr(l, a) + c + self.d_rr(a, l))
            .collect();
        arrivals.sort();
        let mut free = start;
        for t in arrivals {
            free = free.max(t) + c;
        }
        free + self.d_rc(l)
    }

    /// Basic Paxos: client to its nearest replica, a phase-1 and a phase-2 quorum round, back to the client.
    pub fn basic_ns(&self) -> u64 {
        let p = self.nearest();
        let c = self.cpu_ns;
        let start = self.d_cr(p) + c;
        let mut late = Vec::new();
        let promised = self.quorum_wait(p, start, |s| self.quorums.is_phase1_quorum(s), &mut late);
        let chosen = self.quorum_wait(p, promised, |s| self.quorums.is_phase2_quorum(s), &mut late);
        chosen + self.d_rc(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NetworkSpec;
    use std::time::Duration;

    /// Three regions: A-B 10 ms, A-C 40 ms, B-C 35 ms, local 1 ms.
    fn setup() -> (Topology, LinkModel) {
        let ms = |m: u64| Duration::from_millis(m);
        let delay = vec![
            vec![ms(1), ms(10), ms(40)],
            vec![ms(10), ms(1), ms(35)],
            vec![ms(40), ms(35), ms(1)],
        ];
        let net = NetworkSpec {
            delay,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_max: Duration::ZERO,
        };
        let topo = Topology {
            regions: vec!["a".into(), "b".into(), "c".into()],
            replica_region: vec![0, 0, 1, 2, 2],
            client_regions: vec![1],
            leader: 0,
        };
        (topo, LinkModel::new(&net))
    }

    #[test]
    fn multi_is_client_leg_plus_q2th_round_trip_without_cpu() {
        let (t, l) = setup();
        let q = QuorumSystem::majority(5).unwrap();
        let m = ModelInput {
            topology: &t,
            links: &l,
            quorums: &q,
            cpu_ns: 0,
            client: 0,
        };
        // Client in b -> leader 0 in a: 10 ms. Round trips from 0: [0 (itself), 2, 20, 80, 80]; the third
        // smallest is 20 ms; back to the client 10 ms.
        assert_eq!(m.multi_ns(), 40_000_000);
        // q2 = 2 takes the second smallest round trip (2 ms).
        let flex = QuorumSystem::flexible(5, 4, 2).unwrap();
        let m = ModelInput {
            quorums: &flex,
            ..m
        };
        assert_eq!(m.multi_ns(), 22_000_000);
    }

    #[test]
    fn basic_pays_two_round_trips_from_the_nearest_replica() {
        let (t, l) = setup();
        let q = QuorumSystem::majority(5).unwrap();
        let m = ModelInput {
            topology: &t,
            links: &l,
            quorums: &q,
            cpu_ns: 0,
            client: 0,
        };
        // Nearest to b is replica 2 (1 ms). Round trips from 2: [0, 20, 20, 70, 70]: third is 20 ms.
        assert_eq!(
            m.basic_ns(),
            1_000_000 + 20_000_000 + 20_000_000 + 1_000_000
        );
    }

    #[test]
    fn cpu_cost_queues_replies_that_arrive_together() {
        let (t, l) = setup();
        let q = QuorumSystem::majority(5).unwrap();
        let c = 100_000; // 0.1 ms
        let m = ModelInput {
            topology: &t,
            links: &l,
            quorums: &q,
            cpu_ns: c,
            client: 0,
        };
        // Request handled: 10 + 0.1. Replies: replica 1 at +2.1, replica 2 at +20.1 -> handled by +20.2.
        assert_eq!(
            m.multi_ns(),
            10_000_000 + c + 20_000_000 + 2 * c + 10_000_000
        );
    }
}
