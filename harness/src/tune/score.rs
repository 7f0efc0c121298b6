//! Scoring candidates with the analytic model: the latency of a client in each client region (the same
//! formulas as the report's model column), weighted into the objective; ranking with bounded memory (a heap of
//! the best few, and the best per fault-tolerance class for the Pareto plot); and, when the network has jitter
//! or the objective is a p99, a Monte Carlo of the model for the best few, since the jitter-free model has no
//! tail.

use super::space::Candidate;
use super::spec::{Objective, TuneSpec};
use crate::config::Topology;
use crate::model::{JitterDraw, ModelInput};
use crate::wan::LinkModel;
use paxos_variants::DetRng;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// Samples per client region in the Monte Carlo of the model.
pub const SAMPLES: usize = 2001;

/// A candidate with its model figures.
#[derive(Debug, Clone)]
pub struct Scored {
    pub cand: Candidate,
    /// Enumeration order: the last tie-break, so equal candidates always rank the same way.
    pub seq: u64,
    /// Per client region (the spec's order): modelled p50 and p99, microseconds.
    pub p50_us: Vec<f64>,
    pub p99_us: Vec<f64>,
    /// The objective in microseconds.
    pub objective_us: f64,
}

/// The model of one spec: its links, the regions' weights and the CPU cost per message.
pub struct Scorer<'a> {
    spec: &'a TuneSpec,
    links: LinkModel,
    cpu_ns: u64,
}

impl<'a> Scorer<'a> {
    pub fn new(spec: &'a TuneSpec) -> Scorer<'a> {
        Scorer {
            spec,
            links: LinkModel::new(&spec.network),
            cpu_ns: (spec.cpu_us_per_msg * 1000.0).round() as u64,
        }
    }

    fn topology(&self, c: &Candidate) -> Topology {
        Topology {
            // The model reads region indices only; names would be a copy per candidate.
            regions: Vec::new(),
            replica_region: c.placement.clone(),
            client_regions: self.spec.clients.iter().map(|(r, _)| *r).collect(),
            leader: c.leader,
        }
    }

    /// The jitter-free model: p50 = p99 = the modelled latency, per client region.
    pub fn score(&self, cand: &Candidate, seq: u64) -> Scored {
        let p50 = self.p50s(cand);
        let objective_us = self.weighted(&p50);
        Scored {
            cand: cand.clone(),
            seq,
            p99_us: p50.clone(),
            p50_us: p50,
            objective_us,
        }
    }

    /// The jitter-free objective alone, without copying the candidate (the search's hot path: most
    /// candidates are dropped on it).
    pub fn objective_only(&self, cand: &Candidate) -> f64 {
        self.weighted(&self.p50s(cand))
    }

    fn p50s(&self, cand: &Candidate) -> Vec<f64> {
        let topology = self.topology(cand);
        let model = crate::registry::info(cand.variant).map(|v| v.model_ns);
        (0..self.spec.clients.len())
            .map(|client| {
                let input = ModelInput {
                    topology: &topology,
                    links: &self.links,
                    quorums: &cand.quorums,
                    cpu_ns: self.cpu_ns,
                    client,
                    jitter: None,
                };
                model.map_or(f64::INFINITY, |m| m(&input) as f64 / 1000.0)
            })
            .collect()
    }

    /// With jitter: each region's p50 and p99 from [`SAMPLES`] evaluations of the model with every message's
    /// delay drawn as the simulator draws it. Deterministic in the spec's seed and the candidate's order.
    pub fn sample(&self, s: &mut Scored) {
        let sigma = self.links.jitter_ns();
        if sigma <= 0.0 {
            return;
        }
        let topology = self.topology(&s.cand);
        let Some(model) = crate::registry::info(s.cand.variant).map(|v| v.model_ns) else {
            return;
        };
        for client in 0..self.spec.clients.len() {
            let draw = RefCell::new(JitterDraw::random(
                DetRng::derive(self.spec.seed, s.seq.wrapping_mul(131) + client as u64),
                sigma,
            ));
            let input = ModelInput {
                topology: &topology,
                links: &self.links,
                quorums: &s.cand.quorums,
                cpu_ns: self.cpu_ns,
                client,
                jitter: Some(&draw),
            };
            let mut v: Vec<u64> = (0..SAMPLES).map(|_| model(&input)).collect();
            v.sort_unstable();
            let q = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
            s.p50_us[client] = q(0.5);
            s.p99_us[client] = q(0.99);
        }
        s.objective_us = self.objective(&s.p50_us, &s.p99_us);
    }

    /// The objective of per-region p50s and p99s.
    pub fn objective(&self, p50: &[f64], p99: &[f64]) -> f64 {
        match self.spec.objective {
            Objective::MeanP50 => self.weighted(p50),
            Objective::MeanP99 => self.weighted(p99),
        }
    }

    fn weighted(&self, per_region: &[f64]) -> f64 {
        let total = self.spec.total_weight();
        self.spec
            .clients
            .iter()
            .zip(per_region)
            .map(|((_, w), v)| w * v)
            .sum::<f64>()
            / total
    }
}

/// The order of candidates: lower objective first; on a tie, more crashes tolerated, then surviving a region
/// outage, then fewer replicas, then the variant listed first (the simpler protocol), then enumeration order.
pub fn rank(a: &Scored, b: &Scored) -> Ordering {
    rank_by(a.objective_us, a, b.objective_us, b)
}

/// [`rank`] with the objectives given (the simulator's, for confirmed candidates).
pub fn rank_by(oa: f64, a: &Scored, ob: f64, b: &Scored) -> Ordering {
    let variant_index = |s: &Scored| {
        crate::registry::VARIANTS
            .iter()
            .position(|v| v.name == s.cand.variant)
            .unwrap_or(usize::MAX)
    };
    oa.total_cmp(&ob)
        .then(b.cand.crashes_tolerated().cmp(&a.cand.crashes_tolerated()))
        .then(b.cand.survives_outage.cmp(&a.cand.survives_outage))
        .then(a.cand.n().cmp(&b.cand.n()))
        .then(variant_index(a).cmp(&variant_index(b)))
        .then(a.seq.cmp(&b.seq))
}

/// A heap entry ordered by [`rank`], worst on top, so the heap keeps the best `k`.
struct ByRank(Scored);

impl PartialEq for ByRank {
    fn eq(&self, other: &Self) -> bool {
        rank(&self.0, &other.0) == Ordering::Equal
    }
}
impl Eq for ByRank {}
impl PartialOrd for ByRank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByRank {
    fn cmp(&self, other: &Self) -> Ordering {
        rank(&self.0, &other.0)
    }
}

/// The best `k` candidates seen, in bounded memory.
pub struct TopK {
    k: usize,
    heap: BinaryHeap<ByRank>,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK {
            k: k.max(1),
            heap: BinaryHeap::new(),
        }
    }

    /// Whether a candidate with this objective could enter: not if it is worse than the worst kept.
    pub fn could_take(&self, objective_us: f64) -> bool {
        self.heap.len() < self.k
            || self
                .heap
                .peek()
                .is_some_and(|w| objective_us <= w.0.objective_us)
    }

    pub fn offer(&mut self, s: Scored) {
        if self.heap.len() < self.k {
            self.heap.push(ByRank(s));
        } else if let Some(worst) = self.heap.peek() {
            if rank(&s, &worst.0) == Ordering::Less {
                self.heap.pop();
                self.heap.push(ByRank(s));
            }
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        let mut v: Vec<Scored> = self.heap.into_iter().map(|b| b.0).collect();
        v.sort_by(rank);
        v
    }
}

/// The best candidate of each (variant, crashes tolerated, survives an outage) class, whether or not it meets
/// the budget: the points of the latency-against-fault-tolerance plot.
#[derive(Default)]
pub struct Front {
    pub best: BTreeMap<(usize, usize, bool), Scored>,
}

impl Front {
    fn key(c: &Candidate) -> (usize, usize, bool) {
        let v = crate::registry::VARIANTS
            .iter()
            .position(|v| v.name == c.variant)
            .unwrap_or(usize::MAX);
        (v, c.crashes_tolerated(), c.survives_outage)
    }

    /// Whether a candidate with this objective could replace its class's best.
    pub fn could_take(&self, c: &Candidate, objective_us: f64) -> bool {
        self.best
            .get(&Front::key(c))
            .is_none_or(|b| objective_us <= b.objective_us)
    }

    pub fn offer(&mut self, s: &Scored) {
        let key = Front::key(&s.cand);
        match self.best.get(&key) {
            Some(b) if rank(b, s) != Ordering::Greater => {}
            _ => {
                self.best.insert(key, s.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paxos_variants::QuorumSystem;

    fn spec(jitter: f64, objective: &str) -> TuneSpec {
        super::super::spec::parse(
            &format!(
                r#"
[network]
local_ms = 0.5
jitter_ms = {jitter}
[[network.link]]
between = ["a", "b"]
ms = 10.0
[[network.link]]
between = ["a", "c"]
ms = 40.0
[[network.link]]
between = ["b", "c"]
ms = 35.0
[sim]
cpu_us_per_msg = 0.0
[tune]
regions = ["a", "b", "c"]
client_weights = {{ a = 3, c = 1 }}
objective = "{objective}"
"#
            ),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    fn multi(placement: Vec<usize>, leader: usize) -> Candidate {
        let n = placement.len();
        Candidate {
            variant: "multi",
            placement,
            leader,
            quorums: QuorumSystem::Majority { n },
            crash_p1: 1,
            crash_p2: 1,
            fast_path: None,
            survives_outage: true,
        }
    }

    #[test]
    fn the_objective_is_the_weighted_mean_of_each_regions_model_latency() {
        let s = spec(0.0, "mean_p50");
        let scored = Scorer::new(&s).score(&multi(vec![0, 1, 2], 0), 0);
        // Leader in a; majority = a + b (10 ms away): commit = 2 x 10 ms. Client in a: 0.5 + 20 + 0.5 ms.
        // Client in c: 40 + 20 + 40 ms.
        assert_eq!(scored.p50_us, vec![21_000.0, 100_000.0]);
        assert_eq!(scored.objective_us, (3.0 * 21_000.0 + 100_000.0) / 4.0);
    }

    #[test]
    fn with_jitter_the_sampled_model_agrees_with_the_simulator() {
        let s = spec(2.0, "mean_p99");
        let scorer = Scorer::new(&s);
        let cand = multi(vec![0, 1, 2], 0);
        let mut scored = scorer.score(&cand, 3);
        let flat = scored.p50_us.clone();
        scorer.sample(&mut scored);
        // Jitter truncated at zero lengthens the short legs (0.5 ms local delays beside a 2 ms jitter): the
        // sampled median is above the jitter-free one, and a tail appears.
        assert!(scored.p50_us[0] > flat[0]);
        assert!(scored.p99_us[1] > scored.p50_us[1] + 2_000.0);
        assert_eq!(
            scored.objective_us,
            (3.0 * scored.p99_us[0] + scored.p99_us[1]) / 4.0
        );
        let sim = super::super::confirm::confirm(&s, &cand, false).unwrap();
        for k in 0..2 {
            let (m50, s50) = (scored.p50_us[k], sim.p50_us[k].unwrap());
            let (m99, s99) = (scored.p99_us[k], sim.p99_us[k].unwrap());
            eprintln!("region {k}: p50 model {m50} sim {s50}; p99 model {m99} sim {s99}");
            assert!((m50 / s50 - 1.0).abs() < 0.02, "p50 {m50} vs {s50}");
            assert!((m99 / s99 - 1.0).abs() < 0.10, "p99 {m99} vs {s99}");
        }
    }

    #[test]
    fn top_k_keeps_the_best_and_ties_prefer_tolerance_then_fewer_replicas() {
        let s = spec(0.0, "mean_p50");
        let scorer = Scorer::new(&s);
        let mut top = TopK::new(2);
        for (i, c) in [
            multi(vec![2, 2, 2], 2),
            multi(vec![0, 1, 2], 0),
            multi(vec![0, 0, 1], 0),
            multi(vec![0, 0, 1, 1, 2], 0),
        ]
        .into_iter()
        .enumerate()
        {
            let mut sc = scorer.score(&c, i as u64);
            if c.n() == 5 {
                sc.cand.crash_p1 = 2;
                sc.cand.crash_p2 = 2;
            }
            top.offer(sc);
        }
        let best = top.into_sorted();
        assert_eq!(best.len(), 2);
        assert!(best[0].objective_us <= best[1].objective_us);
        assert_ne!(best[0].cand.placement, vec![2, 2, 2]);
    }
}
