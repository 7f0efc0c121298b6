//! Runs the checker over many seeds, on every core, and summarises. Results are gathered by seed, so the summary
//! is the same however the seeds were spread over threads.

use super::history::{History, Violation};
use super::linear::{self, Budget, Operation, Verdict};
use super::scenario::{scenario, FaultKinds, LIVENESS_DEADLINE};
use super::verify::verify;
use crate::sim::{Sim, SimStats};
use paxos_variants::{Mutation, ReadPath, Variant};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone)]
pub struct SeedOutcome {
    pub seed: u64,
    pub violations: Vec<Violation>,
    pub issued: usize,
    pub completed: usize,
    pub decisions: u64,
    pub stats: SimStats,
    /// The black-box checker's count of keys whose history it could not decide within its budget.
    pub undecided_keys: usize,
}

/// Runs one seed's scenario and every check on it.
pub fn check_seed<V: Variant>(seed: u64, trial: Trial) -> SeedOutcome {
    check_seed_in::<V>(seed, trial, None)
}

/// [`check_seed`], also writing the client history, one Jepsen file per key, into `history_dir` as
/// `VARIANT-seed-SEED-key-KEY.log` (`VARIANT+PATH-...` off the log path). A file that cannot be written is a
/// violation of its own, so that it is seen.
pub fn check_seed_in<V: Variant>(
    seed: u64,
    trial: Trial,
    history_dir: Option<&Path>,
) -> SeedOutcome {
    let spec = scenario(seed, trial.faults, trial.mutation, V::NAME, trial.path);
    let stop = spec.stop_issuing;
    let mut sim = Sim::<V>::new(spec);
    let statuses = sim.run();
    let mut history = std::mem::take(&mut sim.history);
    verify(&mut history, &statuses);
    let registers = linear::from_run::registers(&history);
    let undecided_keys = black_box(&mut history, &registers, Budget::default());
    if let Some(dir) = history_dir {
        let name = trial.path.label(V::NAME);
        for (key, ops) in &registers {
            let path = dir.join(format!("{name}-seed-{seed}-key-{key}.log"));
            if let Err(e) =
                crate::results::write_atomic(&path, linear::jepsen::write(ops).as_bytes())
            {
                history.violations.push(Violation::HistoryNotWritten {
                    path: path.display().to_string(),
                    error: e.to_string(),
                });
            }
        }
    }
    let pending = history.pending();
    if sim.stats.storm {
        history.violations.push(Violation::Storm {
            at_ms: sim.now_ns() / 1_000_000,
        });
    } else if pending > 0 {
        history.violations.push(Violation::Liveness {
            pending,
            after_ms: (sim.now_ns().saturating_sub(stop.as_nanos() as u64)) / 1_000_000,
        });
    }
    debug_assert!(sim.now_ns() <= (stop + LIVENESS_DEADLINE).as_nanos() as u64);
    SeedOutcome {
        seed,
        issued: history.ops.iter().map(Vec::len).sum(),
        completed: history.completed(),
        decisions: history.decisions_seen,
        violations: history.violations,
        stats: sim.stats,
        undecided_keys,
    }
}

/// Checks the client history alone (`registers`, as [`linear::from_run::registers`] splits `history`), key by
/// key, and adds a violation to `history` for every key that is not linearizable; returns how many keys ran
/// out of budget (neither proved nor refuted).
pub fn black_box(
    history: &mut History,
    registers: &BTreeMap<u64, Vec<Operation>>,
    budget: Budget,
) -> usize {
    let mut undecided = 0;
    for (&key, ops) in registers {
        match linear::check(ops, budget) {
            Verdict::Linearizable => {}
            Verdict::Unknown { .. } => undecided += 1,
            Verdict::NotLinearizable { witness } => {
                history.violations.push(Violation::NotLinearizable {
                    key,
                    witness: witness.iter().map(|&i| ops[i].to_string()).collect(),
                })
            }
        }
    }
    undecided
}

#[derive(Debug, Clone, Default)]
pub struct CheckSummary {
    pub seeds_run: usize,
    pub failing: Vec<SeedOutcome>,
    pub issued: usize,
    pub completed: usize,
    pub decisions: u64,
    pub deliveries: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub duplicated: u64,
    pub dropped: u64,
    /// Seeds with a key the black-box checker could not decide within its budget.
    pub undecided: Vec<u64>,
    /// Seeds the black-box checker refuted from the client history alone.
    pub black_box_refuted: usize,
}

/// What a batch of seeds runs: which faults, which deliberate bug (if any), which read path.
#[derive(Debug, Clone, Copy)]
pub struct Trial {
    pub faults: FaultKinds,
    pub mutation: Mutation,
    pub path: ReadPath,
}

/// Checks `seeds` on `threads` threads. With `stop_at_first`, seeds not yet started when a violation is found
/// are skipped. `progress` is called once per finished seed.
pub fn check_seeds<V: Variant>(
    seeds: &[u64],
    trial: Trial,
    threads: usize,
    stop_at_first: bool,
    history_dir: Option<&Path>,
    progress: &(dyn Fn() + Sync),
) -> CheckSummary {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let outcomes = Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { return };
                let out = check_seed_in::<V>(seed, trial, history_dir);
                if stop_at_first && !out.violations.is_empty() {
                    stop.store(true, Ordering::Relaxed);
                }
                progress();
                if let Ok(mut v) = outcomes.lock() {
                    v.push(out);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|o| o.seed);
    let mut sum = CheckSummary::default();
    for o in outcomes {
        sum.seeds_run += 1;
        sum.issued += o.issued;
        sum.completed += o.completed;
        sum.decisions += o.decisions;
        sum.deliveries += o.stats.deliveries;
        sum.crashes += o.stats.crashes;
        sum.partitions += o.stats.partitions;
        sum.duplicated += o.stats.duplicated;
        sum.dropped += o.stats.dropped;
        if o.violations
            .iter()
            .any(|v| matches!(v, Violation::NotLinearizable { .. }))
        {
            sum.black_box_refuted += 1;
        }
        if o.undecided_keys > 0 {
            sum.undecided.push(o.seed);
        }
        if !o.violations.is_empty() {
            sum.failing.push(o);
        }
    }
    sum
}
