//! `paxos-bench merge`: what several machines or pods measured, added into one result. The inputs say what
//! they are: check summaries (a `.json` file, or a directory holding `check-summary.json`) are added by
//! [`super::check::merge_summaries`]; load generators' output directories (each ran one share of the clients
//! with `run --cluster --client-share`) by [`merge_runs`], which also checks the history of all shares together.

use crate::check::{linear, runner, verify, History, OpRecord};
use crate::config::{self, FaultAction};
use crate::results::{write_all, RunResult};
use crate::share::{self, Loaded};
use crate::with_variant;
use anyhow::{bail, Context, Result};
use paxos_variants::{NodeId, ReadPath, Variant};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the merged results go when `--out` is not given.
const DEFAULT_OUT: &str = "reports/merged";

pub fn merge(
    inputs: &[PathBuf],
    out: Option<&Path>,
    cluster: Option<&Path>,
    client: u32,
) -> Result<ExitCode> {
    let is_summary = |p: &Path| {
        p.extension().is_some_and(|e| e == "json")
            || p.join(crate::check::summary::FILE_NAME).is_file()
    };
    let summaries = inputs.iter().filter(|p| is_summary(p)).count();
    if summaries == inputs.len() {
        if cluster.is_some() {
            bail!("--cluster is for merging load generators' shares, not check summaries");
        }
        return super::check::merge_summaries(inputs, out);
    }
    if summaries > 0 {
        bail!("the inputs mix check summaries and load generators' directories; merge one kind at a time");
    }
    if let Some(p) = inputs.iter().find(|p| !p.join(share::DIR).is_dir()) {
        bail!(
            "{} is neither a check summary (FILE.json, or a directory with {}) nor a load generator's output \
             directory (one with {}/, written by `run --cluster FILE --client-share INDEX/COUNT`)",
            p.display(),
            crate::check::summary::FILE_NAME,
            share::DIR
        );
    }
    merge_runs(
        inputs,
        out.unwrap_or(Path::new(DEFAULT_OUT)),
        cluster,
        client,
    )
}

/// Adds the load generators' shares run by run, checks the clients' history of all of them together (against
/// the replicas' decided logs when `cluster` is given, from the client events alone otherwise), and writes
/// the usual results and report into `out`.
pub fn merge_runs(
    inputs: &[PathBuf],
    out: &Path,
    cluster: Option<&Path>,
    client: u32,
) -> Result<ExitCode> {
    let mut config_text: Option<(PathBuf, String)> = None;
    let mut groups: BTreeMap<String, Vec<Loaded>> = BTreeMap::new();
    for dir in inputs {
        let path = dir.join("config.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {} (every run writes it)", path.display()))?;
        match &config_text {
            Some((first, t)) if *t != text => bail!(
                "{} and {} ran different configs: shares of one run must run the same file",
                path.display(),
                first.display()
            ),
            Some(_) => {}
            None => config_text = Some((path.clone(), text)),
        }
        for s in share::load_dir(dir)? {
            groups.entry(s.run.clone()).or_default().push(s);
        }
    }
    let Some((config_path, config_text)) = config_text else {
        bail!("nothing to merge");
    };
    let exp = config::parse(&config_text, &config_path)?;
    let origin = groups
        .values()
        .flatten()
        .map(|s| s.part.clock_unix_ns)
        .min()
        .unwrap_or(0);
    let mut runs: Vec<(RunResult, u64)> = Vec::new();
    let mut records: Vec<(u32, Vec<OpRecord>)> = Vec::new();
    for (_, shares) in groups {
        let start = shares
            .iter()
            .map(|s| s.part.clock_unix_ns + s.part.run_start_ns)
            .min()
            .unwrap_or(origin)
            - origin;
        let (r, recs) = share::merge_run(shares, origin)?;
        runs.push((r, start));
        records.extend(recs);
    }
    // The plan's order: variant as the config lists them, then storage, clients and seed.
    let position = |r: &RunResult| {
        exp.variants
            .iter()
            .position(|v| v.label == r.row.variant)
            .unwrap_or(usize::MAX)
    };
    runs.sort_by(|(a, _), (b, _)| {
        (position(a), &a.row.storage, a.row.clients, a.row.seed).cmp(&(
            position(b),
            &b.row.storage,
            b.row.clients,
            b.row.seed,
        ))
    });

    let Some((first, _)) = runs.first() else {
        bail!("nothing to merge");
    };
    let protocol = first.row.protocol.clone();
    let path = ReadPath::from_name(&first.row.reads).unwrap_or(ReadPath::Log);
    let total_order = with_variant!(protocol.as_str(), V => V::TOTAL_ORDER)
        .with_context(|| format!("unknown variant `{protocol}` in {}", config_path.display()))?;
    let mut history = History::reading(0, path);
    history.unordered = !total_order;
    for (c, recs) in records {
        let i = c as usize;
        if history.ops.len() <= i {
            history.ops.resize(i + 1, Vec::new());
        }
        if !history.ops[i].is_empty() {
            bail!("client {c} appears in two shares: the shares' client ids must not overlap");
        }
        history.ops[i] = recs;
    }
    let clients = history.ops.iter().filter(|o| !o.is_empty()).count();
    let mut check_note = match cluster {
        Some(file) => check_against_replicas(file, client, &mut history)?,
        None => format!(
            "the merged history of {clients} clients was checked from the client events alone (no --cluster: \
             the replicas' logs were not read)"
        ),
    };
    let registers = linear::from_run::registers(&history);
    let undecided = runner::black_box(&mut history, &registers, linear::Budget::default());
    if undecided > 0 {
        check_note.push_str(&format!(
            "; the black-box checker ran out of its budget on {undecided} key(s)"
        ));
    }
    if let Some(first) = history.violations.first() {
        println!(
            "merged history of {clients} clients: {} violation(s)",
            history.violations.len()
        );
        for v in history.violations.iter().take(5) {
            println!("  VIOLATION: {v}");
        }
        bail!(
            "the merged run is not safe ({} violation(s), first: {first}); no results were written",
            history.violations.len()
        );
    }
    println!("merged history of {clients} clients: {check_note}");

    let crash = exp
        .faults
        .iter()
        .filter(|f| matches!(f.action, FaultAction::Crash(_)))
        .map(|f| f.at.as_nanos() as u64)
        .min();
    let mut done = Vec::with_capacity(runs.len());
    for (mut r, start) in runs {
        // A crash the config scheduled, or else whatever stopped the clients (a container killed from outside):
        // the longest time no client of any share saw a completion.
        r.row.failover_ms = history.silence_after_ms(start + crash.unwrap_or(0));
        r.notes.push(check_note.clone());
        done.push(r);
    }
    write_all(out, &done, &config_text, None)?;
    super::print_summary(&done);
    super::finish_report(out, None)?;
    Ok(ExitCode::SUCCESS)
}

/// The full check of the merged history against what the replicas decided: agreement, validity, every
/// acknowledged command in every live replica's state, linearizability by the log's replay.
fn check_against_replicas(file: &Path, client: u32, history: &mut History) -> Result<String> {
    let cluster = config::cluster::load_cluster(file)?;
    let finals = crate::cluster::external::final_logs(&cluster, client)?;
    let v = &cluster.experiment.variants[cluster.variant];
    let mut statuses = Vec::new();
    for s in finals.iter().flatten() {
        if let Some(e) = &s.log_error {
            bail!(
                "replica {} could not hand over its decided slots: {e}",
                s.id
            );
        }
        for (slot, value) in &s.decisions {
            history.decision(NodeId(s.id), *slot, value);
        }
        statuses.push((NodeId(s.id), s.status.clone()));
    }
    let n = cluster.replicas.len();
    if statuses.len() * 2 <= n {
        bail!(
            "only {} of {n} replicas answered: the decided log cannot be read from a minority",
            statuses.len()
        );
    }
    let holders: Vec<_> = statuses
        .iter()
        .filter(|(id, _)| !v.quorums.never_learns(*id))
        .cloned()
        .collect();
    let ack = verify::acknowledged_in_every_state(history, &holders);
    verify::verify(history, &statuses);
    let down: Vec<String> = finals
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(r, _)| r.to_string())
        .collect();
    Ok(format!(
        "acknowledged {} commands ({} writes), lost {}: each is in the final state of all {} live replicas that \
         run the state machine{}; checked against the replicas' decided logs and linearizable",
        ack.commands,
        ack.writes,
        ack.lost,
        holders.len(),
        if down.is_empty() {
            String::new()
        } else {
            format!(" (replica(s) {} did not answer)", down.join(", "))
        }
    ))
}
