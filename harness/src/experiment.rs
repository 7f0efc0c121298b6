//! Turns a validated [`Experiment`] into runs (variant x client count x seed), runs each in the simulator with the
//! safety checker on, and collects one [`RunResult`] per run. A run whose history fails the checker yields an
//! error instead of figures: no number is shown for a protocol that was not correct in that run.

use crate::check::verify::{acknowledged_in_every_state, verify};
use crate::config::{Experiment, FaultAction, LoadSpec, Mode, Storage, VariantSpec};
use crate::metrics::MsgCount;
use crate::metrics::{Metrics, OpKind};
use crate::model::ModelInput;
use crate::registry::{expected_commit_p50_us, expected_p50_us, expected_read_p50_us};
use crate::results::{ResultRow, RunResult};
use crate::sim::{Sim, SimFault, SimSpec};
use crate::wan::LinkModel;
use crate::with_variant;
use paxos_variants::{Mutation, Variant};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("cannot write the client history {path}: {error}")]
    History { path: String, error: String },
    #[error("variant `{variant}`, {clients} clients, seed {seed}: the safety checker found {count} violation(s), first: {first}; no figures are reported for this run")]
    Unsafe {
        variant: String,
        clients: usize,
        seed: u64,
        count: usize,
        first: String,
    },
    #[error("variant `{variant}`, {clients} clients, seed {seed}: stopped at {at_ms} ms of virtual time because more than {limit} events were queued (a message storm); no figures are reported for this run")]
    Storm {
        variant: String,
        clients: usize,
        seed: u64,
        at_ms: u64,
        limit: usize,
    },
    #[error(
        "variant `{variant}`, {clients} clients, seed {seed}: the QUIC cluster failed: {message}"
    )]
    Cluster {
        variant: String,
        clients: usize,
        seed: u64,
        message: String,
    },
    #[error("unknown variant `{0}`")]
    UnknownVariant(String),
}

/// One run to do.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub variant: usize,
    pub clients: usize,
    pub seed: u64,
    /// A swept jitter replacing the network's (`[sweep] jitter_ms`).
    pub jitter: Option<Duration>,
    pub storage: Storage,
}

pub fn plan(exp: &Experiment) -> Vec<RunPlan> {
    let jitters: Vec<Option<Duration>> = if exp.jitter_sweep.is_empty() {
        vec![None]
    } else {
        exp.jitter_sweep.iter().copied().map(Some).collect()
    };
    let mut runs = Vec::new();
    for variant in 0..exp.variants.len() {
        for &storage in &exp.storage {
            for &jitter in &jitters {
                for &clients in &exp.client_counts {
                    for &seed in &exp.seeds {
                        runs.push(RunPlan {
                            variant,
                            clients,
                            seed,
                            jitter,
                            storage,
                        });
                    }
                }
            }
        }
    }
    runs
}

fn sim_spec(exp: &Experiment, v: &VariantSpec, plan: &RunPlan) -> SimSpec {
    let (clients, seed) = (plan.clients, plan.seed);
    let mut network = exp.network.clone();
    if let Some(j) = plan.jitter {
        network.jitter = j;
    }
    let faults = exp
        .faults
        .iter()
        .map(|f| {
            let action = match &f.action {
                FaultAction::Crash(r) => SimFault::Crash(*r),
                FaultAction::Restart(r) => SimFault::Restart(*r),
                FaultAction::Partition(g) => SimFault::Partition(g.clone()),
                FaultAction::Heal => SimFault::Heal,
            };
            (f.at, action)
        })
        .collect();
    SimSpec {
        topology: exp.topology_for(v),
        network,
        quorums: v.quorums.clone(),
        tuning: v.tuning.clone(),
        client_retry: v.client_retry,
        client_retry_spread: Duration::ZERO,
        cpu_per_msg: exp.cpu_per_msg,
        cpu_by_kind: crate::config::costs_for(&exp.cpu_profile, &v.name),
        injected_work: exp.injected_work,
        mutation: Mutation::None,
        seed,
        clients,
        load: LoadSpec {
            conflict: v.conflict.or(exp.load.conflict),
            ..exp.load.clone()
        },
        measure_from: exp.warmup,
        stop_issuing: exp.duration,
        end: exp.duration,
        end_when_drained: false,
        faults,
        reads: v.reads,
    }
}

/// The simulator spec of one planned run (also used by the speed benchmark).
pub fn sim_spec_for(exp: &Experiment, plan: &RunPlan) -> SimSpec {
    sim_spec(exp, &exp.variants[plan.variant], plan)
}

/// Runs one planned run in the simulator.
pub fn run_one(exp: &Experiment, plan: &RunPlan) -> Result<RunResult, RunError> {
    let v = &exp.variants[plan.variant];
    with_variant!(v.name.as_str(), V => match exp.mode {
        Mode::Sim => run_sim::<V>(exp, v, plan),
        Mode::Quic => run_quic::<V>(exp, v, plan),
    })
    .ok_or_else(|| RunError::UnknownVariant(v.name.clone()))?
}

/// Runs one planned run in the simulator and keeps its checked client history too (`paxos-bench tune` reads
/// its failover time from it). The figures are exactly those of [`run_one`].
pub fn run_sim_with_history(
    exp: &Experiment,
    plan: &RunPlan,
) -> Result<(RunResult, crate::check::History), RunError> {
    let v = &exp.variants[plan.variant];
    with_variant!(v.name.as_str(), V => run_sim_keeping::<V>(exp, v, plan))
        .ok_or_else(|| RunError::UnknownVariant(v.name.clone()))?
}

fn run_sim<V: Variant>(
    exp: &Experiment,
    v: &VariantSpec,
    plan: &RunPlan,
) -> Result<RunResult, RunError> {
    run_sim_keeping::<V>(exp, v, plan).map(|(r, _)| r)
}

fn run_sim_keeping<V: Variant>(
    exp: &Experiment,
    v: &VariantSpec,
    plan: &RunPlan,
) -> Result<(RunResult, crate::check::History), RunError> {
    let spec = sim_spec(exp, v, plan);
    let mut sim = Sim::<V>::new(spec);
    let statuses = sim.run();
    if sim.stats.storm {
        return Err(RunError::Storm {
            variant: v.label.clone(),
            clients: plan.clients,
            seed: plan.seed,
            at_ms: sim.now_ns() / 1_000_000,
            limit: crate::sim::MAX_QUEUED_EVENTS,
        });
    }
    let mut history = std::mem::take(&mut sim.history);
    let note = checked(exp, v, plan, &mut history, &statuses)?;
    let cpu_ms = sim.busy_ns().iter().map(|&b| b as f64 / 1e6).collect();
    let mut r = figures(exp, v, plan, &sim.metrics, cpu_ms, &statuses);
    r.set_regions(by_region(exp, &history, &sim.metrics));
    r.row.failover_ms = failover_ms(exp, &history);
    r.notes.extend(note);
    r.notes.extend(membership_note(&history));
    Ok((r, history))
}

/// How long a QUIC run's clients wait, after they stop issuing, for their last answers.
const QUIC_DRAIN: Duration = Duration::from_secs(2);

fn run_quic<V: Variant>(
    exp: &Experiment,
    v: &VariantSpec,
    plan: &RunPlan,
) -> Result<RunResult, RunError> {
    let spec = sim_spec(exp, v, plan);
    let cluster_err = |message: String| RunError::Cluster {
        variant: v.label.clone(),
        clients: plan.clients,
        seed: plan.seed,
        message,
    };
    // Each run's logs start empty and are removed after it: they hold acceptor state, not results.
    let wal_dir = match plan.storage {
        Storage::Memory => None,
        Storage::Wal => {
            let base = exp.wal_dir.clone().unwrap_or_else(|| "wal".into());
            let dir = base.join(format!(
                "{}-c{}-s{}",
                crate::config::file_safe(&v.label),
                plan.clients,
                plan.seed
            ));
            let fresh = (|| {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                std::fs::create_dir_all(&dir)
            })();
            fresh.map_err(|e| cluster_err(format!("cannot make {}: {e}", dir.display())))?;
            Some(dir)
        }
    };
    let out = crate::cluster::run_quic::<V>(&spec, QUIC_DRAIN, wal_dir.as_deref());
    if let Some(dir) = &wal_dir {
        let _ = std::fs::remove_dir_all(dir);
        if let Some(base) = dir.parent() {
            // Only when empty: the directory may be the user's.
            let _ = std::fs::remove_dir(base);
        }
    }
    let mut out = out.map_err(|e| cluster_err(e.to_string()))?;
    let note = checked(exp, v, plan, &mut out.history, &out.statuses)?;
    let cpu_ms = out.replicas.iter().map(|r| r.handler_ms).collect();
    let mut r = figures(exp, v, plan, &out.metrics, cpu_ms, &out.statuses);
    r.set_regions(by_region(exp, &out.history, &out.metrics));
    r.row.failover_ms = failover_ms(exp, &out.history);
    // The cluster's notes (a replica lost mid-run) first, then the run's own.
    r.notes = std::mem::take(&mut out.notes)
        .into_iter()
        .chain(std::mem::take(&mut r.notes))
        .collect();
    r.notes.extend(note);
    r.notes.extend(membership_note(&out.history));
    if let Some(w) = out.wal {
        r.wal_syncs = Some(w.syncs);
    }
    Ok(r)
}

/// Runs one planned run against replica processes (`run --cluster`); the plan's variant must be the cluster's.
pub fn run_external(
    exp: &Experiment,
    session: &mut crate::cluster::external::Session,
    plan: &RunPlan,
) -> Result<RunResult, RunError> {
    let v = &exp.variants[plan.variant];
    let spec = sim_spec(exp, v, plan);
    let cluster_err = |message: String| RunError::Cluster {
        variant: v.label.clone(),
        clients: plan.clients,
        seed: plan.seed,
        message,
    };
    let out = with_variant!(v.name.as_str(), V => session.run::<V>(&spec, QUIC_DRAIN))
        .ok_or_else(|| RunError::UnknownVariant(v.name.clone()))?;
    let mut out = out.map_err(|e| cluster_err(e.to_string()))?;
    if let Some(clock) = out.share.take() {
        return Ok(share_result(exp, v, plan, out, clock));
    }
    // Nothing acknowledged may be missing from a live replica's state (Cheap Paxos's auxiliaries keep none).
    let holders: Vec<_> = out
        .statuses
        .iter()
        .filter(|(id, _)| !spec.quorums.never_learns(*id))
        .cloned()
        .collect();
    let ack = acknowledged_in_every_state(&mut out.history, &holders);
    let note = checked(exp, v, plan, &mut out.history, &out.statuses)?;
    out.notes.extend(note);
    out.notes.push(format!(
        "acknowledged {} commands ({} writes), lost {}: each is in the final state of all {} live replicas \
         that run the state machine",
        ack.commands,
        ack.writes,
        ack.lost,
        holders.len()
    ));
    let mut r = figures(
        exp,
        v,
        plan,
        &out.metrics,
        process_cpu_ms(&out),
        &out.statuses,
    );
    r.set_regions(by_region(exp, &out.history, &out.metrics));
    r.row.failover_ms = failover_ms(exp, &out.history);
    // The cluster's notes (a replica lost mid-run) first, then the run's own.
    r.notes = std::mem::take(&mut out.notes)
        .into_iter()
        .chain(std::mem::take(&mut r.notes))
        .collect();
    r.notes.extend(membership_note(&out.history));
    Ok(r)
}

/// CPU per replica of a run against replica processes: a process's CPU time is known whole (QUIC and TLS
/// included), so it is preferred to the time inside the handlers.
fn process_cpu_ms(out: &crate::cluster::QuicOutcome) -> Vec<f64> {
    out.replicas
        .iter()
        .map(|r| r.process_cpu_ms.unwrap_or(r.handler_ms))
        .collect()
}

/// One load generator's share of a run against replica processes: its own figures, and what the merge of all
/// shares needs. It is not checked here: the replicas decided every share's commands, so only the merge, with
/// every share's history, can tell whether they are valid and linearizable.
fn share_result(
    exp: &Experiment,
    v: &VariantSpec,
    plan: &RunPlan,
    mut out: crate::cluster::QuicOutcome,
    clock: crate::cluster::ShareClock,
) -> RunResult {
    let mut r = figures(
        exp,
        v,
        plan,
        &out.metrics,
        process_cpu_ms(&out),
        &out.statuses,
    );
    let regions = region_histograms(exp, &out.history, &out.metrics);
    r.set_regions(
        regions
            .iter()
            .map(|(name, ops, h)| crate::results::RegionLatency::of(name.clone(), *ops, h))
            .collect(),
    );
    r.row.failover_ms =
        failover_ms(exp, &out.history).or_else(|| out.history.silence_after_ms(clock.run_start_ns));
    r.notes = std::mem::take(&mut out.notes)
        .into_iter()
        .chain(std::mem::take(&mut r.notes))
        .collect();
    r.notes.push(format!(
        "client share {}/{}: clients {}..{} of this run's {}; not checked alone (the other shares' commands are \
         in the same logs): `paxos-bench merge` checks all shares' history together",
        clock.shard.index,
        clock.shard.count,
        clock.clients.start,
        clock.clients.end,
        plan.clients
    ));
    let m = &out.metrics;
    let by_op = [OpKind::Read, OpKind::Write, OpKind::Cas]
        .iter()
        .map(|k| (m.op(*k).ops, m.op(*k).latency_ns.clone()))
        .collect();
    let records = clock
        .clients
        .clone()
        .map(|c| {
            let recs = out.history.ops.get(c as usize).cloned().unwrap_or_default();
            (c, recs)
        })
        .collect();
    r.share = Some(Box::new(crate::share::SharePart {
        shard: clock.shard,
        clock_unix_ns: clock.clock_unix_ns,
        run_start_ns: clock.run_start_ns,
        window_ns: (m.window_start_ns, m.window_end_ns),
        commit: m.commit_ns.clone(),
        by_op,
        regions,
        client_messages: clock.client_messages,
        replica_messages: clock.replica_messages,
        records,
    }));
    r
}

/// Cheap Paxos: the membership changes the run decided, in log order, and the membership at the end, so a
/// reader sees a main configured out and whether it came back.
fn membership_note(history: &crate::check::History) -> Option<String> {
    let ids = |set: paxos_variants::NodeSet| {
        paxos_variants::quorum::Membership::ids(set)
            .map(|n| n.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let changes: Vec<(usize, paxos_variants::quorum::Membership)> = history
        .chosen
        .iter()
        .enumerate()
        .filter_map(|(slot, v)| match v {
            Some(paxos_variants::Value::Config(m)) => Some((slot, *m)),
            _ => None,
        })
        .collect();
    let (_, last) = changes.last()?;
    let steps: Vec<String> = changes
        .iter()
        .map(|(slot, m)| format!("slot {slot}: mains {{{}}}", ids(m.mains)))
        .collect();
    Some(format!(
        "{} membership change(s) decided ({}); at the end mains {{{}}} of members {{{}}}",
        changes.len(),
        steps.join(", "),
        ids(last.mains),
        ids(last.members)
    ))
}

/// Runs the checkers over a finished run's history (the log checks, then the black-box checker on the client
/// history alone); a violation means no figures. Writes the client history when `run --history` asked for it.
/// Returns a note when the black-box checker could not decide a key within its budget.
fn checked(
    exp: &Experiment,
    v: &VariantSpec,
    plan: &RunPlan,
    history: &mut crate::check::History,
    statuses: &[(paxos_variants::NodeId, paxos_variants::ReplicaStatus)],
) -> Result<Option<String>, RunError> {
    verify(history, statuses);
    let registers = crate::check::linear::from_run::registers(history);
    let undecided = crate::check::runner::black_box(
        history,
        &registers,
        crate::check::linear::Budget::default(),
    );
    if let Some(path) = &exp.history {
        write_history(exp, v, plan, &registers, path)?;
    }
    match history.violations.first() {
        Some(first) => Err(RunError::Unsafe {
            variant: v.label.clone(),
            clients: plan.clients,
            seed: plan.seed,
            count: history.violations.len(),
            first: first.to_string(),
        }),
        None => Ok((undecided > 0).then(|| {
            format!(
                "{} clients={} seed={}: the black-box checker ran out of its budget on {undecided} key(s): \
                 neither shown linearizable nor refuted",
                v.label, plan.clients, plan.seed
            )
        })),
    }
}

/// `run --history FILE`: a run with one key writes FILE; otherwise each run and key gets
/// `STEM-LABEL-MODE-cCLIENTS-sSEED[-jJITTER][-wal]-key-KEY.EXT` beside it.
fn write_history(
    exp: &Experiment,
    v: &VariantSpec,
    plan: &RunPlan,
    registers: &std::collections::BTreeMap<u64, Vec<crate::check::linear::Operation>>,
    path: &std::path::Path,
) -> Result<(), RunError> {
    let single = registers.len() <= 1 && self::plan(exp).len() == 1;
    for (key, ops) in registers {
        let file = if single {
            path.to_path_buf()
        } else {
            let stem = path
                .file_stem()
                .map_or_else(|| "history".into(), |s| s.to_string_lossy().to_string());
            let ext = path
                .extension()
                .map_or_else(|| "log".into(), |e| e.to_string_lossy().to_string());
            let jitter = plan
                .jitter
                .map(|j| format!("-j{}", j.as_micros()))
                .unwrap_or_default();
            let wal = if plan.storage == Storage::Wal {
                "-wal"
            } else {
                ""
            };
            path.with_file_name(format!(
                "{stem}-{}-{}-c{}-s{}{jitter}{wal}-key-{key}.{ext}",
                crate::config::file_safe(&v.label),
                format!("{:?}", exp.mode).to_lowercase(),
                plan.clients,
                plan.seed
            ))
        };
        crate::results::write_atomic(&file, crate::check::linear::jepsen::write(ops).as_bytes())
            .map_err(|e| RunError::History {
                path: file.display().to_string(),
                error: e.to_string(),
            })?;
    }
    Ok(())
}

/// The latency the clients of each region saw, from the client history, for the operations the metrics count
/// (invoked inside the window and completed by its end), regions in the order `[cluster] clients` names them.
fn by_region(
    exp: &Experiment,
    history: &crate::check::History,
    m: &Metrics,
) -> Vec<crate::results::RegionLatency> {
    region_histograms(exp, history, m)
        .into_iter()
        .map(|(region, ops, h)| crate::results::RegionLatency::of(region, ops, &h))
        .collect()
}

/// [`by_region`]'s histograms: (region, operations, latency in ns).
fn region_histograms(
    exp: &Experiment,
    history: &crate::check::History,
    m: &Metrics,
) -> Vec<(String, u64, hdrhistogram::Histogram<u64>)> {
    let t = &exp.topology;
    let mut order: Vec<usize> = Vec::new();
    for &r in &t.client_regions {
        if !order.contains(&r) {
            order.push(r);
        }
    }
    let mut hists: Vec<(u64, hdrhistogram::Histogram<u64>)> = order
        .iter()
        .map(|_| (0, crate::metrics::new_histogram()))
        .collect();
    for (c, ops) in history.ops.iter().enumerate() {
        let Some(slot) = order.iter().position(|&r| r == t.client_region(c)) else {
            continue;
        };
        for op in ops {
            if let Some((end, _)) = op.completed {
                if m.in_window(op.invoked_ns) && end <= m.window_end_ns {
                    let (n, h) = &mut hists[slot];
                    *n += 1;
                    let _ = h.record(end.saturating_sub(op.invoked_ns).max(1));
                }
            }
        }
    }
    order
        .iter()
        .zip(hists)
        .map(|(&r, (ops, h))| (t.regions[r].clone(), ops, h))
        .collect()
}

/// The longest stretch without a single completion inside the measurement window, in milliseconds (at the
/// time series' 100 ms resolution): a leader election or a reconfiguration shows up here.
/// The failover time of a run whose config crashes a replica: the clients' longest silence from the first
/// crash on.
fn failover_ms(exp: &Experiment, history: &crate::check::History) -> Option<f64> {
    let first_crash = exp
        .faults
        .iter()
        .filter(|f| matches!(f.action, FaultAction::Crash(_)))
        .map(|f| f.at)
        .min()?;
    history.silence_after_ms(first_crash.as_nanos() as u64)
}

fn max_stall_ms(m: &Metrics) -> f64 {
    crate::metrics::longest_stall_ms(&m.timeline, m.window_start_ns, m.window_end_ns)
}

/// The figures of a checked run, the same way for both drivers.
fn figures(
    exp: &Experiment,
    v: &VariantSpec,
    plan: &RunPlan,
    m: &Metrics,
    cpu_ms: Vec<f64>,
    statuses: &[(paxos_variants::NodeId, paxos_variants::ReplicaStatus)],
) -> RunResult {
    let mut counters = paxos_variants::replica::Counters::default();
    for (_, s) in statuses {
        counters += s.counters;
    }
    let mut notes = Vec::new();
    let led = counters.fast_paths + counters.collisions;
    if v.name == "epaxos" && led > 0 {
        notes.push(format!(
            "{} of {led} instances led over the whole run took the fast path ({:.1}%), {} the slow path; {} \
             recovered by explicit prepare (counts of the replicas alive at the end)",
            counters.fast_paths,
            100.0 * counters.fast_paths as f64 / led as f64,
            counters.collisions,
            counters.recoveries,
        ));
    }
    let jitter = plan.jitter.unwrap_or(exp.network.jitter);
    // The model integrates over the jitter this run has (a sweep's own, not the network section's).
    let links = LinkModel::new(&crate::config::NetworkSpec {
        jitter,
        ..exp.network.clone()
    });
    let topology = exp.topology_for(v);
    let model = ModelInput {
        topology: &topology,
        links: &links,
        quorums: &v.quorums,
        cpu_ns: model_cpu_ns(exp, v),
        client: 0,
        jitter: None,
    };
    let h = &m.latency_ns;
    // The model for a client of each region, in the order of `region_p50_us` (first client of the region),
    // written as that cell is.
    let mut region_model: Vec<crate::results::RegionLatency> = Vec::new();
    for c in 0..topology.client_regions.len() {
        let region = &topology.regions[topology.client_region(c)];
        if region_model.iter().any(|x| x.region == *region) {
            continue;
        }
        let here = ModelInput {
            client: c,
            topology: &topology,
            links: &links,
            quorums: &v.quorums,
            cpu_ns: model.cpu_ns,
            jitter: None,
        };
        region_model.push(crate::results::RegionLatency {
            region: region.clone(),
            ops: 0,
            p50_us: expected_p50_us(&v.name, &here),
            p99_us: None,
        });
    }
    let region_model_p50_us = crate::results::RegionLatency::cell(&region_model, |r| r.p50_us);
    let us = |q: f64| {
        if m.ops == 0 {
            None
        } else {
            Some(h.value_at_quantile(q) as f64 / 1000.0)
        }
    };
    let commit_us = |q: f64| {
        if m.ops == 0 {
            None
        } else {
            Some(m.commit_ns.value_at_quantile(q) as f64 / 1000.0)
        }
    };
    let total = m.total_messages();
    let (reads, writes, cas) = (m.op(OpKind::Read), m.op(OpKind::Write), m.op(OpKind::Cas));
    let per_op = |x: u64| {
        if m.ops == 0 {
            None
        } else {
            Some(x as f64 / m.ops as f64)
        }
    };
    RunResult {
        row: ResultRow {
            experiment: exp.name.clone(),
            variant: v.label.clone(),
            mode: exp.mode.as_str().to_string(),
            replicas: v.replicas,
            q1: v.quorums.q1_size(),
            q2: v.quorums.q2_size(),
            clients: plan.clients,
            seed: plan.seed,
            ops: m.ops,
            throughput_ops_s: m.ops as f64 / m.window_s(),
            p50_us: us(0.5),
            p90_us: us(0.9),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: if m.ops == 0 {
                None
            } else {
                Some(h.max() as f64 / 1000.0)
            },
            msgs_per_op: per_op(total.count),
            bytes_per_op: per_op(total.bytes),
            expected_p50_us: expected_p50_us(&v.name, &model),
            protocol: v.name.clone(),
            collisions: counters.collisions,
            recoveries: counters.recoveries,
            reconfigurations: counters.reconfigurations,
            jitter_ms: jitter.as_secs_f64() * 1000.0,
            max_stall_ms: max_stall_ms(m),
            commit_p50_us: commit_us(0.5),
            commit_p99_us: commit_us(0.99),
            expected_commit_p50_us: expected_commit_p50_us(&v.name, &model),
            storage: plan.storage.as_str().to_string(),
            // Derived when the row is written (RunResult::csv_row).
            syncs_per_op: None,
            histogram: String::new(),
            reads: v.reads.path.name().to_string(),
            read_ops: reads.ops,
            read_ops_s: reads.ops as f64 / m.window_s(),
            read_p50_us: reads.quantile_us(0.5),
            read_p99_us: reads.quantile_us(0.99),
            expected_read_p50_us: expected_read_p50_us(&v.name, v.reads.path, &model),
            write_ops: writes.ops,
            write_p50_us: writes.quantile_us(0.5),
            write_p99_us: writes.quantile_us(0.99),
            cas_ops: cas.ops,
            cas_p50_us: cas.quantile_us(0.5),
            cas_p99_us: cas.quantile_us(0.99),
            lease_reads: counters.lease_reads,
            lease_misses: counters.lease_misses,
            lease_waits: counters.lease_waits,
            lease_wait_ms: counters.lease_wait_ns as f64 / 1e6,
            // Set with the history (RunResult::set_regions).
            region_p50_us: String::new(),
            region_p99_us: String::new(),
            region_model_p50_us,
            // Set with the history (RunResult::set_failover).
            failover_ms: None,
            conflict: v.conflict.or(exp.load.conflict),
        },
        by_kind: m
            .by_kind
            .iter()
            .map(|(k, c)| (k.to_string(), *c))
            .collect::<Vec<(String, MsgCount)>>(),
        histogram: h.clone(),
        timeline: m.timeline.clone(),
        cpu_ms,
        notes,
        jitter_swept: plan.jitter.is_some(),
        wal_syncs: None,
        by_region: Vec::new(),
        share: None,
    }
}

/// The per-message cost the analytic model assumes: the flat `cpu_us_per_msg`, or with a measured profile the
/// mean of the variant's measured costs (the model has one cost for every message, so it is then approximate).
fn model_cpu_ns(exp: &Experiment, v: &VariantSpec) -> u64 {
    match Some(crate::config::costs_for(&exp.cpu_profile, &v.name)).filter(|m| !m.is_empty()) {
        Some(costs) => {
            let total: u128 = costs.values().map(|d| d.as_nanos()).sum();
            (total / costs.len() as u128) as u64
        }
        None => exp.cpu_per_msg.as_nanos() as u64,
    }
}
