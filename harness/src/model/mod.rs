//! The analytic latency model (`docs/PROTOCOLS.md` gives its formulas): the commit latency of one command
//! with one client, no contention and no loss, from the link matrix, the placement, the quorum system and the
//! per-message CPU cost. Reports print it beside each measured p50 so a reader can see they agree. The
//! functions here give the latency for given message delays; with jitter, [`jitter::median_ns`] integrates them
//! over the distribution of every message's delay.
//!
//! CPU costs are modelled as the simulator does: every message a replica handles costs `c`, handled in arrival
//! order. So waiting for a quorum of replies is a small FIFO computation: replies arrive at known times and each
//! takes `c` to handle; the quorum is complete when the reply that completes it has been handled. With `c = 0`
//! this is exactly "the q-th smallest round trip".

use crate::config::Topology;
use crate::wan::LinkModel;
use paxos_variants::{NodeId, NodeSet, QuorumSystem};
use std::cell::RefCell;

pub mod jitter;

pub struct ModelInput<'a> {
    pub topology: &'a Topology,
    pub links: &'a LinkModel,
    pub quorums: &'a QuorumSystem,
    pub cpu_ns: u64,
    /// The client whose latency is modelled (its region comes from the topology).
    pub client: usize,
    /// With a draw, every message's delay gets its own jitter, as the network gives it (normal, truncated at
    /// zero): one evaluation is then one sample of the latency, and many give its distribution (the p99 that
    /// `paxos-bench tune` ranks by). Without, the model is the jitter-free one above.
    pub jitter: Option<&'a RefCell<JitterDraw>>,
}

/// Where a sampled evaluation of the model takes each message's jitter from.
pub struct JitterDraw {
    /// Standard deviation of one message's jitter, in nanoseconds.
    pub sigma_ns: f64,
    source: Source,
}

enum Source {
    /// Random draws, as the simulator makes them (`paxos-bench tune`'s Monte Carlo of the tail).
    Random(paxos_variants::DetRng),
    /// One point of the quadrature in [`jitter`]: the standard normal value of each message in turn.
    Point { z: Vec<f64>, next: usize },
    /// No jitter; counts the messages, which sets the quadrature's dimension.
    Count(usize),
}

impl JitterDraw {
    pub fn random(rng: paxos_variants::DetRng, sigma_ns: f64) -> JitterDraw {
        JitterDraw {
            sigma_ns,
            source: Source::Random(rng),
        }
    }

    fn point(z: Vec<f64>, sigma_ns: f64) -> JitterDraw {
        JitterDraw {
            sigma_ns,
            source: Source::Point { z, next: 0 },
        }
    }

    fn counting(sigma_ns: f64) -> JitterDraw {
        JitterDraw {
            sigma_ns,
            source: Source::Count(0),
        }
    }

    fn draws(&self) -> usize {
        match &self.source {
            Source::Count(n) => *n,
            Source::Point { next, .. } => *next,
            Source::Random(_) => 0,
        }
    }

    /// The next message's jitter in units of sigma.
    fn normal(&mut self) -> f64 {
        match &mut self.source {
            Source::Random(rng) => rng.normal(),
            Source::Point { z, next } => {
                let v = z.get(*next).copied().unwrap_or(0.0);
                *next += 1;
                v
            }
            Source::Count(n) => {
                *n += 1;
                0.0
            }
        }
    }
}

impl ModelInput<'_> {
    /// One message's delay over a link whose base delay is `base`.
    fn delay(&self, base: u64) -> u64 {
        match self.jitter {
            None => base,
            Some(j) => {
                let mut j = j.borrow_mut();
                let sigma = j.sigma_ns;
                (base as f64 + j.normal() * sigma).max(0.0) as u64
            }
        }
    }

    fn d_rr(&self, a: usize, b: usize) -> u64 {
        if a == b {
            return 0;
        }
        let t = self.topology;
        self.delay(self.links.base_ns(t.replica_region[a], t.replica_region[b]))
    }

    fn client_region(&self) -> usize {
        self.topology.client_region(self.client)
    }

    fn d_cr(&self, r: usize) -> u64 {
        self.delay(
            self.links
                .base_ns(self.client_region(), self.topology.replica_region[r]),
        )
    }

    fn d_rc(&self, r: usize) -> u64 {
        self.delay(
            self.links
                .base_ns(self.topology.replica_region[r], self.client_region()),
        )
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

    /// A lease read: the client's request to the leader, handled there, and the answer back; no other replica
    /// takes part while the lease holds.
    pub fn lease_read_ns(&self) -> u64 {
        let l = self.topology.leader;
        self.d_cr(l) + self.cpu_ns + self.d_rc(l)
    }

    /// A quorum read: the client probes every replica; each answers once it has handled the probe, and the
    /// read is done when the answers it has form a read quorum (one that meets every phase-2 quorum). With
    /// one command at a time no write of the key is in flight, so nothing is left to wait for; under load a
    /// read that finds one waits until that slot is applied, which this model leaves out.
    pub fn quorum_read_ns(&self) -> u64 {
        let n = self.topology.n();
        let mut answers: Vec<(u64, usize)> = (0..n)
            .map(|r| (self.d_cr(r) + self.cpu_ns + self.d_rc(r), r))
            .collect();
        answers.sort();
        let mut set = NodeSet::EMPTY;
        for (t, r) in answers {
            set.insert(NodeId(r as u32));
            if self.quorums.is_read_quorum(set) {
                return t;
            }
        }
        u64::MAX / 4
    }

    fn fast_quorum(&self) -> usize {
        self.quorums.fast_size().unwrap_or(self.topology.n())
    }

    /// Fast Paxos, one command: (when the coordinator's reply reaches the client, when the client knows the
    /// command is chosen). The client sends to every acceptor; each votes when it has handled the request, and
    /// its vote goes both to the coordinator and to the client. The coordinator counts its own vote as it
    /// handles the request, decides when it has handled the fast quorum's f-th vote and replies. The client
    /// knows its command is chosen at the f-th vote to reach it, or at the reply if that comes first. Each
    /// message's delay is taken once, since with jitter the request to an acceptor is one message on both
    /// paths.
    fn fast_times(&self) -> (u64, u64) {
        let l = self.topology.leader;
        let n = self.topology.n();
        let c = self.cpu_ns;
        let f = self.fast_quorum();
        let request: Vec<u64> = (0..n).map(|a| self.d_cr(a)).collect();
        let mut arrivals: Vec<(u64, bool)> = vec![(request[l], true)];
        for a in (0..n).filter(|&a| a != l) {
            arrivals.push((request[a] + c + self.d_rr(a, l), false));
        }
        arrivals.sort();
        let (mut free, mut votes) = (0u64, 0usize);
        let (mut own_vote, mut decided) = (u64::MAX / 4, u64::MAX / 4);
        for (t, own) in arrivals {
            free = free.max(t) + c;
            votes += 1;
            if own {
                own_vote = free;
            }
            if votes == f {
                decided = free;
            }
        }
        let reply = decided.saturating_add(self.d_rc(l));
        let mut at_client: Vec<u64> = (0..n)
            .map(|a| {
                let voted = if a == l { own_vote } else { request[a] + c };
                voted.saturating_add(self.d_rc(a))
            })
            .collect();
        at_client.sort_unstable();
        let learned = at_client
            .get(f.saturating_sub(1))
            .copied()
            .unwrap_or(u64::MAX / 4);
        (reply, learned.min(reply))
    }

    /// Fast Paxos, coordinator learns and replies (see [`Self::fast_times`]).
    pub fn fast_ns(&self) -> u64 {
        self.fast_times().0
    }

    /// Fast Paxos, when the client knows its command is chosen: usually the fast quorum's f-th vote to reach
    /// it, two message delays (see [`Self::fast_times`]).
    pub fn fast_commit_ns(&self) -> u64 {
        self.fast_times().1
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

    /// EPaxos with nothing in conflict: the client's nearest replica leads its command, and commits when a fast
    /// quorum (all replicas but one, itself included: `2F` of `2F + 1`) has answered its PreAccept; it runs the command at once (no
    /// dependency is pending) and answers.
    pub fn epaxos_ns(&self) -> u64 {
        self.epaxos_with(false)
    }

    /// EPaxos when the fast quorum's answers differ (a conflict): a majority's PreAccept answers, then an
    /// Accept round to a majority, before the reply.
    pub fn epaxos_slow_ns(&self) -> u64 {
        self.epaxos_with(true)
    }

    fn epaxos_with(&self, slow: bool) -> u64 {
        let p = self.nearest();
        let n = self.topology.n();
        let fast = (n - 1).max(1);
        let majority = n / 2 + 1;
        let start = self.d_cr(p) + self.cpu_ns;
        let mut late = Vec::new();
        let pre = if slow { majority } else { fast };
        let mut t = self.quorum_wait(p, start, |s| s.len() >= pre, &mut late);
        if slow {
            t = self.quorum_wait(p, t, |s| s.len() >= majority, &mut late);
        }
        t + self.d_rc(p)
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
            jitter: None,
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
            jitter: None,
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
            jitter: None,
        };
        // Request handled: 10 + 0.1. Replies: replica 1 at +2.1, replica 2 at +20.1 -> handled by +20.2.
        assert_eq!(
            m.multi_ns(),
            10_000_000 + c + 20_000_000 + 2 * c + 10_000_000
        );
    }
}
