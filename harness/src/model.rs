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
use std::cell::RefCell;

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

/// The random source of a sampled evaluation of the model.
pub struct JitterDraw {
    pub rng: paxos_variants::DetRng,
    /// Standard deviation of one message's jitter, in nanoseconds.
    pub sigma_ns: f64,
}

impl ModelInput<'_> {
    /// One message's delay over a link whose base delay is `base`.
    fn delay(&self, base: u64) -> u64 {
        match self.jitter {
            None => base,
            Some(j) => {
                let mut j = j.borrow_mut();
                let sigma = j.sigma_ns;
                (base as f64 + j.rng.normal() * sigma).max(0.0) as u64
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
    /// takes part while the lease holds. This one round trip is often shorter than a few jitters (a client
    /// beside its leader), where the truncation of jitter at zero makes the median round trip longer than the
    /// sum of the delays, so its median is computed with the jitter (see [`round_trip_p50_ns`]).
    pub fn lease_read_ns(&self) -> u64 {
        let l = self.topology.leader;
        round_trip_p50_ns(self.d_cr(l), self.d_rc(l), self.links.jitter_ns()) + self.cpu_ns
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

/// The median of `max(0, a + J1) + max(0, b + J2)` with `J1`, `J2` independent `N(0, sigma)`: a round trip
/// over two links whose jitter the network truncates at zero (`wan.rs`). When both delays are over five jitters
/// the truncation does not matter and the median is `a + b`; otherwise both delays are discretised at
/// `sigma / 100` and convolved.
pub fn round_trip_p50_ns(a: u64, b: u64, sigma: f64) -> u64 {
    let (af, bf) = (a as f64, b as f64);
    if sigma <= 0.0 || (af >= 5.0 * sigma && bf >= 5.0 * sigma) {
        return a + b;
    }
    let h = sigma / 100.0;
    let pmf = |mean: f64| -> Vec<f64> {
        let k_max = ((mean + 8.0 * sigma) / h).ceil() as usize;
        let cdf = |x: f64| {
            if x < 0.0 {
                0.0
            } else {
                normal_cdf((x - mean) / sigma)
            }
        };
        (0..=k_max)
            .map(|k| cdf((k as f64 + 0.5) * h) - cdf((k as f64 - 0.5) * h))
            .collect()
    };
    let (pa, pb) = (pmf(af), pmf(bf));
    let mut sum = vec![0.0; pa.len() + pb.len()];
    for (i, x) in pa.iter().enumerate() {
        for (j, y) in pb.iter().enumerate() {
            sum[i + j] += x * y;
        }
    }
    let mut acc = 0.0;
    for (k, p) in sum.iter().enumerate() {
        acc += p;
        if acc >= 0.5 {
            return (k as f64 * h).round() as u64;
        }
    }
    a + b
}

/// The standard normal CDF, by the Abramowitz and Stegun approximation 7.1.26 of erf (error below 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_jittered_round_trip_has_the_median_its_samples_have() {
        assert_eq!(super::round_trip_p50_ns(250_000, 250_000, 0.0), 500_000);
        assert_eq!(
            super::round_trip_p50_ns(31_000_000, 31_000_000, 500_000.0),
            62_000_000
        );
        // Short links beside a large jitter: truncation at zero pushes the median up. Compare with samples.
        let mut rng = paxos_variants::DetRng::derive(7, 7);
        let (a, b, s) = (250_000.0, 250_000.0, 500_000.0);
        let mut v: Vec<f64> = (0..200_000)
            .map(|_| (a + rng.normal() * s).max(0.0) + (b + rng.normal() * s).max(0.0))
            .collect();
        v.sort_by(f64::total_cmp);
        let sampled = v[v.len() / 2];
        let modelled = super::round_trip_p50_ns(250_000, 250_000, s) as f64;
        assert!(
            (modelled / sampled - 1.0).abs() < 0.01,
            "{modelled} vs {sampled}"
        );
        assert!(modelled > a + b);
    }

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
