//! `paxos-bench check`: the safety checker over many seeds, one variant and read path after another, with a
//! line per run; optionally one shard of the seeds and a summary file that `paxos-bench merge` adds up.

use super::progress;
use crate::check::runner::{check_seeds, CheckSummary, Trial};
use crate::check::scenario::FaultKinds;
use crate::check::summary::{self, RunSummary, Shard, SummaryFile};
use crate::with_variant;
use anyhow::{bail, Context, Result};
use paxos_variants::{Mutation, ReadPath, VARIANT_NAMES};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// What a check is asked to do besides its seeds.
pub struct CheckJob<'a> {
    pub variant: &'a str,
    pub faults: FaultKinds,
    pub mutation: Mutation,
    pub reads: &'a str,
    pub threads: usize,
    pub history_dir: Option<&'a Path>,
    /// Run only this shard of the seeds.
    pub shard: Option<Shard>,
    /// Write the summary here (a directory gets `check-summary.json`).
    pub summary: Option<&'a Path>,
}

pub fn run_check(job: &CheckJob, all_seeds: &[u64]) -> Result<ExitCode> {
    let (faults, mutation) = (job.faults, job.mutation);
    let wanted: Vec<ReadPath> = match job.reads {
        "all" => ReadPath::ALL.to_vec(),
        name => match ReadPath::from_name(name) {
            Some(p) => vec![p],
            None => bail!("unknown read path `{name}` (known: log, lease, quorum, or all)"),
        },
    };
    if let Some(dir) = job.history_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the history directory {}", dir.display()))?;
    }
    let variant = job.variant;
    let names: Vec<&str> = if variant == "all" {
        VARIANT_NAMES.to_vec()
    } else if VARIANT_NAMES.contains(&variant) {
        vec![variant]
    } else {
        bail!(
            "unknown variant `{variant}` (known: {}, or all)",
            VARIANT_NAMES.join(", ")
        );
    };
    // Each variant on the log and every other wanted path it offers; a read-path mutant shows only on its path.
    let runs: Vec<(&str, ReadPath)> = names
        .iter()
        .flat_map(|&name| wanted.iter().map(move |&p| (name, p)))
        .filter(|&(name, p)| crate::registry::info(name).is_some_and(|i| i.offers(p)))
        .filter(|&(_, p)| mutation.read_path().is_none_or(|m| m == p))
        .collect();
    if runs.is_empty() {
        bail!(
            "nothing to check: {variant} offers no {} reads{}",
            job.reads,
            match mutation.read_path() {
                Some(p) => format!(" (the mutant {} lives on the {p} path)", mutation.name()),
                None => String::new(),
            }
        );
    }
    let seeds = match job.shard {
        Some(s) => s.take(all_seeds),
        None => all_seeds.to_vec(),
    };
    if let Some(s) = job.shard {
        println!(
            "shard {}/{}: {} of the {} seeds ({})",
            s.index,
            s.count,
            seeds.len(),
            all_seeds.len(),
            range_text(&seeds)
        );
    }
    // Where the summary goes is checked before hours of checking, not after.
    let summary_path = job.summary.map(summary_file);
    if let Some(path) = &summary_path {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    let mut file = SummaryFile {
        format: summary::FORMAT.to_string(),
        faults: faults.to_string(),
        mutant: match mutation {
            Mutation::None => None,
            m => Some(m.name().to_string()),
        },
        shard: job.shard,
        seeds: summary::ranges(&seeds),
        runs: Vec::new(),
    };
    for (name, path) in runs {
        let pb = progress(seeds.len() as u64, &format!("check {}", shown(name, path)));
        let tick = || pb.inc(1);
        let started = Instant::now();
        let trial = Trial {
            faults,
            mutation,
            path,
        };
        let summary: CheckSummary = with_variant!(name, V => check_seeds::<V>(&seeds, trial, job.threads, false, job.history_dir, &tick))
            .ok_or_else(|| anyhow::anyhow!("unknown variant `{name}`"))?;
        pb.finish_and_clear();
        let run = RunSummary::of(name, path.name(), &summary);
        print_run(&file, &run, Some(started.elapsed().as_secs_f64()));
        file.runs.push(run);
    }
    if let Some(path) = &summary_path {
        crate::results::write_atomic(path, &file.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("summary: {}", path.display());
    }
    Ok(exit_code(&file))
}

/// `paxos-bench merge` on check summaries: the sum, printed as one check's lines, and written to `out`.
pub fn merge_summaries(inputs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    let mut files = Vec::with_capacity(inputs.len());
    for p in inputs {
        files.push((p.clone(), SummaryFile::read(p)?));
    }
    let merged = summary::merge(&files)?;
    println!(
        "merged {} check summaries: {}",
        files.len(),
        merged
            .seeds
            .iter()
            .map(|r| format!("seeds {}..={}", r.first, r.last))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for run in &merged.runs {
        print_run(&merged, run, None);
    }
    if let Some(out) = out {
        let path = summary_file(out);
        crate::results::write_atomic(&path, &merged.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("summary: {}", path.display());
    }
    Ok(exit_code(&merged))
}

/// `check --summary PATH`: a path ending in `.json` is the file; anything else is a directory for it.
fn summary_file(p: &Path) -> PathBuf {
    if p.extension().is_some_and(|e| e == "json") {
        p.to_path_buf()
    } else {
        p.join(summary::FILE_NAME)
    }
}

fn exit_code(file: &SummaryFile) -> ExitCode {
    if file.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn shown(name: &str, path: ReadPath) -> String {
    match path {
        ReadPath::Log => name.to_string(),
        p => format!("{name} ({p} reads)"),
    }
}

fn range_text(seeds: &[u64]) -> String {
    match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if a == b => format!("seed {a}"),
        (Some(a), Some(b)) => format!("seeds {a}..={b}"),
        _ => "no seeds".into(),
    }
}

/// One run's line, the first violations with the command that replays each, and a budget warning.
fn print_run(file: &SummaryFile, run: &RunSummary, secs: Option<f64>) {
    let path = ReadPath::from_name(&run.reads).unwrap_or(ReadPath::Log);
    let shown = shown(&run.variant, path);
    let range = if file.seeds.len() == 1 {
        let r = file.seeds[0];
        range_text(&[r.first, r.last])
    } else {
        format!("{} seed ranges", file.seeds.len())
    };
    let (mutant, mutant_flag) = match &file.mutant {
        None => (String::new(), String::new()),
        Some(m) => (format!(", mutant {m}"), format!(" --mutant {m}")),
    };
    let faults = &file.faults;
    let time = secs.map(|s| format!(" | {s:.1} s")).unwrap_or_default();
    println!(
        "check {shown}: {} {range}, faults {faults}{mutant}: {} violating seed(s), {} refuted by the black box | {} commands issued, {} completed, {} decisions, {} deliveries, {} dropped, {} duplicated, {} crashes, {} partitions{time}",
        run.seeds_run,
        run.failing.len(),
        run.black_box_refuted,
        run.issued,
        run.completed,
        run.decisions,
        run.deliveries,
        run.dropped,
        run.duplicated,
        run.crashes,
        run.partitions,
    );
    for o in run.failing.iter().take(5) {
        println!(
            "  VIOLATION seed {}: {}",
            o.seed,
            o.violations.first().map_or("", |v| v.as_str())
        );
        println!(
            "  replay: paxos-bench check --variant {} --reads {path} --seed {} --faults {faults}{mutant_flag}",
            run.variant, o.seed
        );
    }
    if let Some(first) = run.undecided.first() {
        // Not a violation, but not a pass either: the black-box checker ran out of its budget.
        println!(
            "  UNDECIDED: the black-box checker ran out of its budget on {} seed(s), e.g. seed {first}: \
             those histories are neither shown linearizable nor refuted",
            run.undecided.len(),
        );
    }
}
