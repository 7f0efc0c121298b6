//! `paxos-bench tune`: recommends a variant, cluster size, placement, leader and quorum sizes for a user's
//! network and fault budget. The search enumerates every configuration ([`space`]), drops what the quorum
//! validator refuses or the budget rules out ([`budget`]), scores the rest with the analytic model ([`score`]),
//! confirms the best few in the simulator with a leader crash ([`confirm`]) and writes a ranked table, a
//! latency-against-fault-tolerance plot and the winner as a ready-to-run config ([`output`]).

pub mod budget;
pub mod confirm;
pub mod output;
pub mod score;
pub mod space;
pub mod spec;

use confirm::Confirmed;
use score::{Front, Scored, Scorer, TopK};
use space::{Candidate, Ledger};
use spec::TuneSpec;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `[sim] cpu_us_per_msg` when the file has none (the experiment default).
pub const DEFAULT_CPU_US: f64 = 5.0;

/// How many of the model's best are kept for the Monte Carlo and for confirmation; the rest are counted only.
pub const MODEL_KEEP: usize = 200;

/// Most candidates `--exhaustive` simulates (each is a 20 s simulated run).
pub const MAX_EXHAUSTIVE: usize = 50_000;

/// Objectives closer than this (microseconds) count as equal when confirmed rows are ranked, so that a few
/// microseconds of simulated CPU queueing do not reorder configurations the model calls equal.
pub const SIM_TIE_US: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct Options {
    /// Rows confirmed in the simulator and shown.
    pub top: usize,
    /// Also simulate every candidate within the budget and compare the best with the pick.
    pub exhaustive: bool,
    pub threads: usize,
}

/// A ranked row: the model's figures and, once confirmed, the simulator's.
#[derive(Debug, Clone)]
pub struct Row {
    pub scored: Scored,
    pub confirmed: Result<Confirmed, String>,
    /// The objective from the simulator's per-region figures.
    pub sim_objective_us: Option<f64>,
}

/// `--exhaustive`: the best configuration when every candidate is simulated.
#[derive(Debug, Clone)]
pub struct Exhaustive {
    pub simulated: usize,
    pub best: Row,
    pub wall: Duration,
}

/// Everything `tune` found.
pub struct Outcome {
    pub spec: TuneSpec,
    pub ledger: Ledger,
    /// Candidates the validator accepted (and no other setting dominates), and of them those within the budget.
    pub valid: u64,
    pub in_budget: u64,
    /// Confirmed rows, best first; the pick is the first without an error.
    pub rows: Vec<Row>,
    pub front: Front,
    pub model_wall: Duration,
    pub confirm_wall: Duration,
    pub exhaustive: Option<Exhaustive>,
    /// Whether the model was sampled with jitter (its p99 differs from its p50).
    pub sampled: bool,
}

impl Outcome {
    pub fn pick(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.confirmed.is_ok())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{file}: no configuration meets the fault budget (tolerate crashes = {crashes}{outage}); what was left out and why:\n{why}")]
    NothingFits {
        file: String,
        crashes: usize,
        outage: &'static str,
        why: String,
    },
    #[error("{file}: every confirmed configuration failed in the simulator; first: {first}")]
    AllFailed { file: String, first: String },
    #[error("{file}: --exhaustive would simulate {count} candidates, more than {MAX_EXHAUSTIVE}; narrow [tune] (regions, replicas, max_per_region, variants)")]
    TooLarge { file: String, count: u64 },
}

/// Runs `f` over `items` on `threads` threads, results in item order; `tick` is called after each.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
    tick: impl Fn() + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut o) = out.lock() {
                    o[i] = Some(r);
                }
                tick();
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn row(spec: &TuneSpec, scorer: &Scorer<'_>, scored: Scored, faults: bool) -> Row {
    let confirmed = confirm::confirm(spec, &scored.cand, faults).map_err(|e| e.to_string());
    let sim_objective_us = confirmed.as_ref().ok().and_then(|c| {
        let p50: Option<Vec<f64>> = c.p50_us.iter().copied().collect();
        let p99: Option<Vec<f64>> = c.p99_us.iter().copied().collect();
        Some(scorer.objective(&p50?, &p99?))
    });
    Row {
        scored,
        confirmed,
        sim_objective_us,
    }
}

/// Confirmed rows best first: by the simulator's objective (within [`SIM_TIE_US`] counts as equal), then
/// the model's tie-breaks; rows the simulator could not confirm last.
fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| match (a.sim_objective_us, b.sim_objective_us) {
        (Some(x), Some(y)) => {
            let (x, y) = ((x / SIM_TIE_US).round(), (y / SIM_TIE_US).round());
            score::rank_by(x, &a.scored, y, &b.scored)
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => score::rank(&a.scored, &b.scored),
    });
}

/// The whole search; `progress` says whether to draw progress bars.
pub fn tune(spec: TuneSpec, opts: &Options, progress: bool) -> Result<Outcome, TuneError> {
    let file = spec.file.display().to_string();
    let scorer = Scorer::new(&spec);
    let started = Instant::now();
    let mut ledger = Ledger::default();
    let mut front = Front::default();
    let keep = MODEL_KEEP.max(opts.top);
    let mut top = TopK::new(keep);
    let (mut valid, mut in_budget) = (0u64, 0u64);
    let mut all_in_budget: Vec<Candidate> = Vec::new();
    let mut too_many = false;
    space::enumerate(&spec, &mut ledger, &mut |c, breach| {
        let seq = valid;
        valid += 1;
        let objective = scorer.objective_only(c);
        let to_front = front.could_take(c, objective);
        let to_top = breach.is_none() && top.could_take(objective);
        if to_front || to_top {
            let s = scorer.score(c, seq);
            if to_front {
                front.offer(&s);
            }
            if to_top {
                top.offer(s);
            }
        }
        if breach.is_none() {
            in_budget += 1;
            if opts.exhaustive {
                if all_in_budget.len() < MAX_EXHAUSTIVE {
                    all_in_budget.push(c.clone());
                } else {
                    too_many = true;
                }
            }
        }
    });
    if in_budget == 0 {
        let why = output::ledger_text(&ledger);
        return Err(TuneError::NothingFits {
            file,
            crashes: spec.crashes,
            outage: if spec.region_outage {
                ", region_outage = true"
            } else {
                ""
            },
            why,
        });
    }
    if too_many {
        return Err(TuneError::TooLarge {
            file,
            count: in_budget,
        });
    }
    let sampled = scorer_samples(&spec);
    let mut best = top.into_sorted();
    if sampled {
        for s in &mut best {
            scorer.sample(s);
        }
        best.sort_by(score::rank);
        let mut points: Vec<Scored> = front.best.values().cloned().collect();
        for s in &mut points {
            scorer.sample(s);
        }
        front = Front::default();
        for s in &points {
            front.offer(s);
        }
    }
    let model_wall = started.elapsed();
    let chosen: Vec<Scored> = best.into_iter().take(opts.top.max(1)).collect();
    let started = Instant::now();
    let bar = progress_bar(progress, chosen.len(), "confirming in the simulator");
    let mut rows = parallel_map(
        &chosen,
        opts.threads,
        |s| row(&spec, &scorer, s.clone(), true),
        || bar.inc(1),
    );
    bar.finish_and_clear();
    sort_rows(&mut rows);
    let confirm_wall = started.elapsed();
    if rows.iter().all(|r| r.confirmed.is_err()) {
        let first = rows
            .first()
            .and_then(|r| r.confirmed.as_ref().err().cloned())
            .unwrap_or_default();
        return Err(TuneError::AllFailed { file, first });
    }
    let exhaustive = if opts.exhaustive {
        let started = Instant::now();
        let bar = progress_bar(progress, all_in_budget.len(), "simulating every candidate");
        let scored: Vec<Scored> = all_in_budget
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut s = scorer.score(c, i as u64);
                if sampled {
                    scorer.sample(&mut s);
                }
                s
            })
            .collect();
        let mut all = parallel_map(
            &scored,
            opts.threads,
            |s| row(&spec, &scorer, s.clone(), false),
            || bar.inc(1),
        );
        bar.finish_and_clear();
        sort_rows(&mut all);
        all.into_iter().next().map(|best| Exhaustive {
            simulated: scored.len(),
            best,
            wall: started.elapsed(),
        })
    } else {
        None
    };
    Ok(Outcome {
        spec,
        ledger,
        valid,
        in_budget,
        rows,
        front,
        model_wall,
        confirm_wall,
        exhaustive,
        sampled,
    })
}

/// Whether the model needs sampling: a jittered network, or a p99 objective (a jitter-free p99 is its p50).
fn scorer_samples(spec: &TuneSpec) -> bool {
    spec.network.jitter > Duration::ZERO
}

fn progress_bar(progress: bool, len: usize, what: &str) -> indicatif::ProgressBar {
    if !progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}
