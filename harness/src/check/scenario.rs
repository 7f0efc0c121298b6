//! One random fault scenario per seed, in ranges like those of the most trusted simulators: loss 0-30%,
//! duplication 0-50%, reordering, symmetric and asymmetric partitions, crash and restart, pauses; random cluster
//! size, placement, link delays and load. A run has a safety phase with faults, then heals a random quorum (its
//! crashed members restart, everything else stays cut off, loss stops) and must finish every pending command
//! within a bounded virtual time.

use crate::config::{LoadKind, LoadSpec, NetworkSpec, Topology};
use crate::sim::{Hunt, SimFault, SimSpec};
use paxos_variants::{DetRng, Mutation, QuorumSystem, ReadPath, Reads, Tuning};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How long clients issue commands while faults are injected.
pub const SAFETY_PHASE: Duration = Duration::from_secs(5);
/// How long, after healing, every pending command has to complete.
pub const LIVENESS_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultKinds {
    pub loss: bool,
    pub duplicate: bool,
    pub reorder: bool,
    pub partition: bool,
    pub crash: bool,
    pub pause: bool,
}

impl FaultKinds {
    pub const NAMES: &'static [&'static str] = &[
        "loss",
        "duplicate",
        "reorder",
        "partition",
        "crash",
        "pause",
    ];

    pub fn all() -> FaultKinds {
        FaultKinds {
            loss: true,
            duplicate: true,
            reorder: true,
            partition: true,
            crash: true,
            pause: true,
        }
    }
}

impl FromStr for FaultKinds {
    type Err = String;
    fn from_str(s: &str) -> Result<FaultKinds, String> {
        match s {
            "all" => return Ok(FaultKinds::all()),
            "none" => return Ok(FaultKinds::default()),
            _ => {}
        }
        let mut k = FaultKinds::default();
        for part in s.split(',').map(str::trim) {
            match part {
                "loss" => k.loss = true,
                "duplicate" => k.duplicate = true,
                "reorder" => k.reorder = true,
                "partition" => k.partition = true,
                "crash" => k.crash = true,
                "pause" => k.pause = true,
                other => {
                    return Err(format!(
                        "unknown fault kind `{other}`: use all, none, or a comma list of {}",
                        FaultKinds::NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(k)
    }
}

impl fmt::Display for FaultKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == FaultKinds::all() {
            return write!(f, "all");
        }
        let on = [
            (self.loss, "loss"),
            (self.duplicate, "duplicate"),
            (self.reorder, "reorder"),
            (self.partition, "partition"),
            (self.crash, "crash"),
            (self.pause, "pause"),
        ];
        let names: Vec<&str> = on.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        if names.is_empty() {
            write!(f, "none")
        } else {
            write!(f, "{}", names.join(","))
        }
    }
}

fn ms_range(rng: &mut DetRng, lo: f64, hi: f64) -> Duration {
    Duration::from_secs_f64((lo + rng.next_f64() * (hi - lo)) / 1000.0)
}

/// The replicas that stay up for the liveness phase: enough to hold a phase-1 and a phase-2 quorum.
fn survivors(q: &QuorumSystem, order: &[usize], rng: &mut DetRng) -> Vec<usize> {
    match *q {
        QuorumSystem::Majority { n } => order[..n / 2 + 1].to_vec(),
        QuorumSystem::Fast { classic, .. } => order[..classic].to_vec(),
        // Cheap Paxos is live only while the set of working replicas does not move too fast (the paper's
        // assumption): a random majority may hold no quorum of the configuration it has reached, so the
        // liveness phase brings every replica back.
        QuorumSystem::Cheap { n, .. } => (0..n).collect(),
        QuorumSystem::Flexible { q1, q2, .. } => order[..q1.max(q2)].to_vec(),
        QuorumSystem::Grid { rows, cols } => {
            let (col, row) = (
                rng.below(cols as u64) as usize,
                rng.below(rows as u64) as usize,
            );
            let mut set: Vec<usize> = (0..rows).map(|r| r * cols + col).collect();
            set.extend(
                (0..cols)
                    .map(|c| row * cols + c)
                    .filter(|i| i % cols != col),
            );
            set
        }
    }
}

/// The scenario of one seed for a variant (only Flexible Paxos's quorums depend on the variant) and read path.
/// On the lease path the lease length (0.4 to 2 election timeouts) and the clock-drift bound (none, 0.1%,
/// 5% or 20%) are drawn too, from a stream of their own, and the simulator drifts every clock within it.
pub fn scenario(
    seed: u64,
    kinds: FaultKinds,
    mutation: Mutation,
    variant: &str,
    path: ReadPath,
) -> SimSpec {
    let mut rng = DetRng::derive(seed, 0xC4EC);
    let n = [3usize, 5][rng.below(2) as usize];
    let (n, quorums) = match crate::registry::info(variant) {
        Some(v) => (v.scenario_quorums)(seed, n, mutation),
        None => (n, QuorumSystem::Majority { n }),
    };
    // A leader cut off from its peers can be replaced only if a phase-1 quorum exists without it, and that
    // replacement is what the lease path is tested on: there, Flexible Paxos's q1 = n (possible when q2 > 1)
    // usually becomes n - 1. A stream of its own.
    let quorums = match quorums {
        QuorumSystem::Flexible { n, q1, q2 }
            if path == ReadPath::Lease
                && q1 == n
                && q2 > 1
                && DetRng::derive(seed, 0x0_1E55).chance(0.7) =>
        {
            QuorumSystem::Flexible { n, q1: n - 1, q2 }
        }
        q => q,
    };
    let regions = 1 + rng.below(3) as usize;
    let replica_region: Vec<usize> = (0..n).map(|_| rng.below(regions as u64) as usize).collect();
    let client_regions: Vec<usize> = (0..1 + rng.below(regions as u64) as usize)
        .map(|_| rng.below(regions as u64) as usize)
        .collect();
    let local = ms_range(&mut rng, 0.05, 1.0);
    let mut delay = vec![vec![local; regions]; regions];
    for (a, b) in (0..regions).flat_map(|a| (a + 1..regions).map(move |b| (a, b))) {
        let d = ms_range(&mut rng, 1.0, 60.0);
        delay[a][b] = d;
        delay[b][a] = d;
    }
    let pick = |rng: &mut DetRng, on: bool, hi: f64| if on { rng.next_f64() * hi } else { 0.0 };
    let network = NetworkSpec {
        delay,
        jitter: if kinds.reorder {
            ms_range(&mut rng, 0.0, 5.0)
        } else {
            Duration::ZERO
        },
        loss: pick(&mut rng, kinds.loss, 0.3),
        duplicate: pick(&mut rng, kinds.duplicate, 0.5),
        reorder: pick(&mut rng, kinds.reorder, 0.3),
        reorder_max: Duration::from_millis(50),
    };
    let topology = Topology {
        regions: (0..regions).map(|r| format!("r{r}")).collect(),
        replica_region,
        client_regions,
        leader: rng.below(n as u64) as usize,
    };
    let mut clients = 1 + rng.below(8) as usize;
    let window = 1 + rng.below(2) as usize;
    let write_fraction = 0.5 + rng.next_f64() * 0.5;
    // Compare-and-set in half the scenarios with at most six commands in flight, drawn from a stream of its own
    // so that every other draw stays as it was. (With compare-and-set the black-box checker needs its general
    // search, whose cost grows exponentially with the commands in flight; six keep it well inside its budget.)
    let mut cas_rng = DetRng::derive(seed, 0xCA5);
    let cas_share = if clients * window <= 6 && cas_rng.chance(0.5) {
        0.2 + cas_rng.next_f64() * 0.6
    } else {
        0.0
    };
    let mut load = LoadSpec {
        kind: LoadKind::Closed { window },
        payload_bytes: 16,
        write_fraction,
        cas_fraction: (1.0 - write_fraction) * cas_share,
        keys: 1 + rng.below(8),
        zipf: 0.0,
        conflict: None,
    };
    // Off the log, reads are what is under test: more of them, on fewer keys, so that a read meets a write of
    // its key in flight (a stream of its own, so the log path's scenarios stay as they were).
    let mut client_retry_spread = Duration::ZERO;
    if path != ReadPath::Log {
        let mut reads_rng = DetRng::derive(seed, 0x2EAD);
        // Clients that give up on an unresponsive replica at different times: some write through a new leader
        // while others still read from the old one (with two commands in flight, one keeps reading while the
        // other waits), which is how a stale leader's reads meet newer writes.
        client_retry_spread = ms_range(&mut reads_rng, 0.0, 3000.0);
        let writes = 0.2 + reads_rng.next_f64() * 0.6;
        load.write_fraction = writes;
        load.keys = 1 + reads_rng.below(3);
        // At least two clients, each with two commands in flight: one can keep reading while the other waits.
        clients = clients.max(2);
        load.kind = LoadKind::Closed { window: 2 };
        load.cas_fraction = if clients * 2 <= 6 {
            (1.0 - writes) * cas_share
        } else {
            0.0
        };
    }

    let safety_ms = SAFETY_PHASE.as_millis() as f64;
    let mut faults: Vec<(Duration, SimFault)> = Vec::new();
    if kinds.partition {
        for _ in 0..rng.below(4) {
            let at = ms_range(&mut rng, 0.0, safety_ms);
            let fault = if rng.chance(0.5) {
                let groups = 2 + rng.below(2) as usize;
                let mut g: Vec<Vec<usize>> = vec![Vec::new(); groups];
                for r in 0..n {
                    g[rng.below(groups as u64) as usize].push(r);
                }
                SimFault::Partition(g)
            } else {
                let from = rng.below(n as u64) as usize;
                let to = (from + 1 + rng.below(n as u64 - 1) as usize) % n;
                SimFault::Block { from, to }
            };
            faults.push((at, fault));
            faults.push((at + ms_range(&mut rng, 100.0, 1000.0), SimFault::Heal));
        }
    }
    if kinds.crash {
        for _ in 0..rng.below(4) {
            let r = rng.below(n as u64) as usize;
            let at = ms_range(&mut rng, 0.0, safety_ms);
            faults.push((at, SimFault::Crash(r)));
            if rng.chance(0.7) {
                faults.push((at + ms_range(&mut rng, 50.0, 1500.0), SimFault::Restart(r)));
            }
        }
    }
    if kinds.pause {
        for _ in 0..rng.below(3) {
            let node = rng.below(n as u64) as usize;
            let at = ms_range(&mut rng, 0.0, safety_ms);
            let for_ns = ms_range(&mut rng, 50.0, 500.0).as_nanos() as u64;
            faults.push((at, SimFault::Pause { node, for_ns }));
        }
    }
    // Off the log, most seeds also cut the first leader off from the other replicas (not from the clients)
    // for a while: it may still believe it leads, and its readers must not see the past once a successor
    // commits. A stream of its own, so the draws above stay put.
    if path != ReadPath::Log && kinds.partition {
        let mut cut = DetRng::derive(seed, 0x150_1A7E);
        if cut.chance(0.8) {
            let at = ms_range(&mut cut, 100.0, 2000.0);
            let others: Vec<usize> = (0..n).filter(|&r| r != topology.leader).collect();
            faults.push((at, SimFault::Partition(vec![others])));
            faults.push((at + ms_range(&mut cut, 1000.0, 3000.0), SimFault::Heal));
        }
    }
    // Variants whose commit rule only a chain of short leaderships tests (Raft's Figure 8) have most seeds hunt
    // the leader, one to three times: whichever replica leads is cut off from the others (its clients still
    // reach it, so its log grows alone); the next replica elected is cut off in the step it wins, letting the
    // first back in; the leader after that is cut off in the step it first commits, letting the second back
    // in. A stream of its own, so the draws above stay put.
    let hunts = crate::registry::info(variant).is_some_and(|v| v.hunts_leaders);
    if hunts && kinds.partition {
        let mut hunt = DetRng::derive(seed, 0x4E_3E515);
        if hunt.chance(0.8) {
            for _ in 0..1 + hunt.below(3) {
                let at = ms_range(&mut hunt, 100.0, safety_ms - 500.0);
                faults.push((at, SimFault::IsolateLeader));
                faults.push((at, SimFault::Hunt(Hunt::Elected)));
                faults.push((at, SimFault::Hunt(Hunt::FirstCommit)));
            }
        }
    }
    // Heal a random majority: it is reconnected and restarted, loss stops, the rest stays cut off.
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let quorum = survivors(&quorums, &order, &mut rng);
    faults.push((SAFETY_PHASE, SimFault::Heal));
    faults.push((SAFETY_PHASE, SimFault::Calm));
    if quorum.len() < n {
        faults.push((SAFETY_PHASE, SimFault::Partition(vec![quorum.clone()])));
    }
    for &r in &quorum {
        faults.push((SAFETY_PHASE, SimFault::Restart(r)));
    }
    // Faults at the same instant run in list order; sort stably by time so the heal steps keep theirs.
    faults.sort_by_key(|(t, _)| *t);

    let mut compaction = DetRng::derive(seed, 0xC0_4AC7);
    // Some seeds get election timeouts shorter than their round trips: election storms and duelling leaders.
    let election = ms_range(&mut rng, 40.0, 300.0);
    let tuning = Tuning {
        heartbeat: election / 5,
        election_timeout: election,
        retransmit: Duration::from_millis(100),
        backoff: Duration::from_millis(10),
        // Compaction far more eagerly than in a benchmark, so lagging and restarted replicas meet snapshots and
        // candidates meet acceptors that forgot decided slots. A stream of its own: the draws above stay put.
        log_keep: [1, 4, 32][compaction.below(3) as usize],
        compact_every: [2, 8, 64][compaction.below(3) as usize],
        ..Tuning::default()
    };
    let mut lease_rng = DetRng::derive(seed, 0x1EA5E);
    let drift_ppm = [0, 1_000, 50_000, 200_000][lease_rng.below(4) as usize];
    let reads = Reads {
        path,
        lease: election.mul_f64(0.4 + lease_rng.next_f64() * 1.6),
        drift_ppm,
    };
    SimSpec {
        quorums,
        topology,
        network,
        tuning,
        client_retry: Duration::from_millis(400),
        client_retry_spread,
        cpu_per_msg: Duration::from_micros(rng.below(20)),
        cpu_by_kind: Default::default(),
        injected_work: Duration::ZERO,
        mutation,
        seed,
        clients,
        load,
        measure_from: Duration::ZERO,
        stop_issuing: SAFETY_PHASE,
        end: SAFETY_PHASE + LIVENESS_DEADLINE,
        end_when_drained: true,
        faults,
        reads,
    }
}
