//! The jobs behind the `paxos-bench` subcommands that run things: the built-in default comparison, an
//! experiment (in process or against replica processes), the safety checker over many seeds, and calibration.
//! Each shows progress, writes its files, and ends with a short table. `cli.rs` only parses arguments and calls
//! one of these, or one of [`cluster_ops`] (what acts on replica processes) and [`tools`] (keys, report,
//! compare, transport floor, kernel-path delayer, list).

pub mod check;
pub mod cluster_ops;
pub mod merge;
pub mod tools;

/// The built-in default comparison (`paxos-bench` with no arguments).
pub const DEFAULT_CONFIG: &str = include_str!("../default.toml");

use crate::config::{self, Experiment};
use crate::experiment::{plan, run_one};
use crate::results::{write_all, RunResult};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

pub fn progress(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    // Redraw while a long run is in progress, so the elapsed time keeps moving.
    pb.enable_steady_tick(std::time::Duration::from_millis(250));
    pb
}

/// `paxos-bench run CONFIG`: in process, in the file's mode or the one given.
/// Where a run records its rows: `--history-db`, else the config's `[history] db`, else `history.db` beside
/// the output directory; nowhere with `--no-history-db`.
pub fn history_db_for(
    flag: Option<PathBuf>,
    off: bool,
    config: Option<&Path>,
    out: &Path,
) -> Option<PathBuf> {
    if off {
        return None;
    }
    flag.or_else(|| config.map(Path::to_path_buf)).or_else(|| {
        Some(
            out.parent()
                .unwrap_or(Path::new("."))
                .join(crate::history::DEFAULT_FILE),
        )
    })
}

pub fn run_config(
    config: &Path,
    mode: Option<config::Mode>,
    out: Option<PathBuf>,
    history: Option<PathBuf>,
    history_db: Option<PathBuf>,
    no_history_db: bool,
) -> Result<ExitCode> {
    let mut exp = config::load_as(config, mode)?;
    exp.history = history;
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let out = out.unwrap_or_else(|| PathBuf::from("reports").join(&exp.name));
    let db = history_db_for(history_db, no_history_db, exp.history_db.as_deref(), &out);
    run_experiment(&exp, &text, &out, db.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_experiment(
    exp: &Experiment,
    config_text: &str,
    out: &Path,
    history_db: Option<&Path>,
) -> Result<()> {
    let mut exp = exp.clone();
    let floor = prepare_storage(&mut exp, out)?;
    let done = execute(&exp)?;
    write_all(out, &done, config_text, floor)?;
    print_summary(&done);
    record_history(history_db, "run", out)?;
    finish_report(out, history_db)
}

/// Appends a results directory to the results history, and says so.
pub fn record_history(db: Option<&Path>, command: &str, out: &Path) -> Result<()> {
    let Some(db) = db else { return Ok(()) };
    match crate::history::record(db, command, out)? {
        Some(id) => println!("history: recorded as run {id} in {}", db.display()),
        None => println!("history: {} is already in {}", out.display(), db.display()),
    }
    Ok(())
}

/// The main job (`paxos-bench` with no arguments): the built-in comparison in simulation, then the same
/// cluster for a short time over QUIC on loopback, into one results directory and one report.
pub fn default_job(out: &Path) -> Result<()> {
    let started = Instant::now();
    let sim = config::parse(DEFAULT_CONFIG, Path::new("<built-in default config>"))?;
    let mut quic = sim.clone();
    quic.override_mode(config::Mode::Quic, Path::new("<built-in default config>"))?;
    quic.duration = std::time::Duration::from_secs(DEFAULT_QUIC_SECONDS);
    quic.warmup = std::time::Duration::from_secs(1);
    quic.client_counts = DEFAULT_QUIC_CLIENTS.to_vec();
    quic.seeds.truncate(1);
    // The price of durability: every QUIC run once in memory and once with a synced write-ahead log.
    quic.storage = vec![config::Storage::Memory, config::Storage::Wal];
    let floor = prepare_storage(&mut quic, out)?;
    let mut done = execute(&sim)?;
    done.extend(execute(&quic)?);
    write_all(out, &done, DEFAULT_CONFIG, floor)?;
    print_summary(&done);
    let db = history_db_for(None, false, None, out);
    record_history(db.as_deref(), "run", out)?;
    finish_report(out, db.as_deref())?;
    println!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Picks where a run's write-ahead logs go (`wal/` in the output directory unless the config names one) and
/// measures that disk's `fdatasync` time, the floor under every durable commit. Nothing to do in memory.
fn prepare_storage(exp: &mut Experiment, out: &Path) -> Result<Option<crate::storage::SyncFloor>> {
    if !exp.storage.contains(&config::Storage::Wal) {
        return Ok(None);
    }
    let dir = exp.wal_dir.get_or_insert_with(|| out.join("wal")).clone();
    let floor = crate::storage::sync_floor(&dir, SYNC_FLOOR_SAMPLES)
        .with_context(|| format!("cannot measure fdatasync in {}", dir.display()))?;
    let _ = std::fs::remove_dir(&dir);
    println!(
        "fdatasync floor in {}: p50 {:.0} us, p99 {:.0} us ({} samples)",
        dir.display(),
        floor.p50_us,
        floor.p99_us,
        floor.samples
    );
    Ok(Some(floor))
}

/// Appends and syncs timed to find the disk's floor.
const SYNC_FLOOR_SAMPLES: usize = 200;

/// The QUIC part of the main job: short runs at two client counts (see the default config's header).
const DEFAULT_QUIC_SECONDS: u64 = 3;

const DEFAULT_QUIC_CLIENTS: &[usize] = &[1, 16];

/// Runs every planned run of an experiment (simulated runs in parallel, QUIC runs one at a time).
fn execute(exp: &Experiment) -> Result<Vec<RunResult>> {
    for note in &exp.notes {
        println!("note: {note}");
    }
    let runs = plan(exp);
    let pb = progress(
        runs.len() as u64,
        &format!("{} ({})", exp.name, exp.mode.as_str()),
    );
    let results: Mutex<Vec<Option<Result<RunResult, String>>>> = Mutex::new(vec![None; runs.len()]);
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Simulated runs are independent and deterministic, so they share the cores; QUIC runs measure wall-clock
    // time and each needs the whole machine.
    let threads = match exp.mode {
        config::Mode::Sim => std::thread::available_parallelism().map_or(1, |n| n.get()),
        config::Mode::Quic => 1,
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(p) = runs.get(i) else { return };
                pb.set_message(format!(
                    "{} clients={} seed={}",
                    exp.variants[p.variant].label, p.clients, p.seed
                ));
                let r = run_one(exp, p).map_err(|e| e.to_string());
                if let Ok(mut v) = results.lock() {
                    v[i] = Some(r);
                }
                pb.inc(1);
            });
        }
    });
    pb.finish_and_clear();
    let mut done = Vec::with_capacity(runs.len());
    for r in results.into_inner().unwrap_or_default() {
        match r {
            Some(Ok(r)) => done.push(r),
            Some(Err(e)) => bail!("{e}"),
            None => bail!("a run did not finish"),
        }
    }
    Ok(done)
}

/// Builds the report of a results directory (with its config's trend when the history has one) and says
/// where it is.
fn finish_report(out: &Path, history_db: Option<&Path>) -> Result<()> {
    println!("results: {}", out.join("results.csv").display());
    let built = crate::report::build_with_history(out, history_db)?;
    println!(
        "report: {} ({} figures in {})",
        built.index.display(),
        built.figures.len(),
        out.join("plots").display()
    );
    Ok(())
}

/// Runs the cluster variant's planned runs, one after another, against replica processes.
pub fn run_on_cluster(
    exp: &Experiment,
    variant: usize,
    cluster: config::cluster::ClusterSpec,
    config_text: &str,
    out: &Path,
    kernel_path: bool,
    share: Option<crate::shard::Shard>,
) -> Result<()> {
    let runs: Vec<_> = plan(exp)
        .into_iter()
        .filter(|p| p.variant == variant)
        .collect();
    let pb = progress(runs.len() as u64, &format!("{} (cluster)", exp.name));
    let mut session = crate::cluster::external::Session::new(cluster);
    // On the kernel path the clients inject nothing (the kernel delays their packets).
    session.kernel_path = kernel_path;
    session.share = share;
    let mut done = Vec::with_capacity(runs.len());
    for p in &runs {
        pb.set_message(format!("clients={} seed={}", p.clients, p.seed));
        done.push(crate::experiment::run_external(exp, &mut session, p)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    write_all(out, &done, config_text, None)?;
    print_summary(&done);
    // Not recorded in the history: a share is part of a run, and replica processes often run elsewhere;
    // `compare` records a merged directory.
    finish_report(out, None)
}

fn ms(v: Option<f64>) -> String {
    v.map(|us| format!("{:.2}", us / 1000.0))
        .unwrap_or_else(|| "-".into())
}

/// `commit ms` is the p50 of when the client knew its command was chosen: the reply, except for Fast Paxos,
/// whose client counts the acceptors' votes.
fn print_summary(runs: &[RunResult]) {
    println!(
        "{:<8} {:<12} {:>7} {:>5} {:>8} {:>10} {:>9} {:>9} {:>10} {:>10} {:>8}",
        "mode",
        "variant",
        "clients",
        "seed",
        "ops",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "model ms",
        "commit ms",
        "msgs/op"
    );
    for r in runs {
        println!(
            "{:<8} {:<12} {:>7} {:>5} {:>8} {:>10.1} {:>9} {:>9} {:>10} {:>10} {:>8}",
            match r.row.storage.as_str() {
                "memory" => r.row.mode.clone(),
                s => format!("{}+{s}", r.row.mode),
            },
            r.row.variant,
            r.row.clients,
            r.row.seed,
            r.row.ops,
            r.row.throughput_ops_s,
            ms(r.row.p50_us),
            ms(r.row.p99_us),
            ms(r.row.expected_p50_us),
            ms(r.row.commit_p50_us),
            r.row.msgs_per_op.map_or("-".into(), |m| format!("{m:.2}")),
        );
    }
    for r in runs {
        for n in &r.notes {
            println!(
                "note: {} clients={} seed={}: {n}",
                r.row.variant, r.row.clients, r.row.seed
            );
        }
    }
}

/// The ceiling workload of `calibrate`: Multi-Paxos, three replicas with no network delay, 64 closed-loop
/// clients, so throughput is bounded by the replicas' work alone.
const CEILING_CONFIG: &str = r#"
name = "ceiling"
mode = "sim"
duration_s = 5
warmup_s = 1
seeds = [1]

[cluster]
replicas = ["local", "local", "local"]
clients = ["local"]
leader = 0

[network]
local_ms = 0.0

[load]
mode = "closed"
clients = [64]
payload_bytes = 64
write_fraction = 1.0
keys = 1000

[[variant]]
name = "multi"
"#;

pub fn calibrate(out: &Path, replays: usize, quic: bool) -> Result<()> {
    let pb = progress(1, "calibrate");
    pb.set_message("recording and replaying each variant's traces");
    let costs = crate::calibrate::measure(replays);
    pb.finish_and_clear();
    println!(
        "{:<9} {:<15} {:>9} {:>10}",
        "variant", "message", "measured", "us/msg"
    );
    for v in &costs {
        for k in &v.kinds {
            println!(
                "{:<9} {:<15} {:>9} {:>10.3}",
                v.variant,
                k.kind,
                k.messages,
                k.mean_ns / 1000.0
            );
        }
        for (role, ns) in &v.per_command_ns {
            println!(
                "{:<9} {:<15} {:>9} {:>10.3}",
                v.variant,
                format!("{} per cmd", role.as_str()),
                "",
                ns / 1000.0
            );
        }
    }
    let env = crate::report::environment::Environment::capture(vec!["calibrate".into()]);
    let header = format!(
        "Written by paxos-bench calibrate ({replays} replays, median kept): per variant, each message type's{nl}\
         measured handler cost in microseconds (decode + handler + encode of what it sends), and the{nl}\
         transport's cost per message, which the simulator adds to each.{nl}\
         CPU: {} ({} cores); commit {}; {}.{nl}\
         Use it from a config with [sim] cpu_profile = \"<path to this file>\".",
        env.cpu,
        env.cores,
        env.commit,
        env.written_utc(),
        nl = '\n'
    );
    // The transport's own cost per message: our QUIC connection's pipelined rate on loopback (encode, encrypt,
    // send, receive, decrypt, frame), charged to the replica that receives the message.
    let floor = crate::net::floor::measure(1_000, 300_000, 64, std::time::Duration::ZERO)?;
    let transport_us = 1e6 / floor.pipelined_msgs_per_s.max(1.0);
    println!(
        "transport: {:.0} msg/s pipelined over one QUIC connection: {transport_us:.3} us per message",
        floor.pipelined_msgs_per_s
    );
    let text = crate::calibrate::render_profile(&costs, transport_us, &header);
    crate::results::write_atomic(out, text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("profile: {}", out.display());

    let profile = config::parse_cpu_profile(&text, out)?;
    let mut exp = config::parse(CEILING_CONFIG, Path::new("<ceiling>"))?;
    let flat = execute(&exp)?;
    let mut handlers_only = profile.clone();
    handlers_only.remove(config::TRANSPORT_TABLE);
    exp.cpu_profile = handlers_only;
    let handlers = execute(&exp)?;
    exp.cpu_profile = profile;
    let calibrated = execute(&exp)?;
    let thr = |r: &[RunResult]| r.first().map_or(0.0, |r| r.row.throughput_ops_s);
    println!(
        "Multi-Paxos ceiling (3 replicas, no delay, 64 clients), simulated: {:.0} ops/s with the calibrated \
         profile (handlers and transport), {:.0} ops/s with the handlers alone, {:.0} ops/s with the flat {} us \
         per message",
        thr(&calibrated),
        thr(&handlers),
        thr(&flat),
        exp.cpu_per_msg.as_secs_f64() * 1e6
    );
    if quic {
        exp.override_mode(config::Mode::Quic, Path::new("<ceiling>"))?;
        let measured = execute(&exp)?;
        println!(
            "measured over QUIC on loopback: {:.0} ops/s; simulated / measured = {:.2}",
            thr(&measured),
            thr(&calibrated) / thr(&measured).max(1e-9)
        );
    }
    Ok(())
}

/// `paxos-bench tune`: search, confirm, print the table and write the files.
pub fn tune(
    config: &Path,
    top: usize,
    write_config: Option<&Path>,
    out: Option<PathBuf>,
    exhaustive: bool,
) -> Result<ExitCode> {
    if top == 0 {
        bail!("--top must be at least 1");
    }
    let spec = crate::tune::spec::load(config)?;
    let out = out.unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("tune-{}", config::file_safe(&spec.name)))
    });
    let opts = crate::tune::Options {
        top,
        exhaustive,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let outcome = crate::tune::tune(spec, &opts, true)?;
    print!("{}", crate::tune::output::table(&outcome));
    println!();
    print!("{}", crate::tune::output::summary(&outcome));
    crate::tune::output::write(&outcome, &out)?;
    if let Some(file) = write_config {
        let text = crate::tune::output::winning_config(&outcome)
            .context("no configuration was confirmed, so none is written")?;
        crate::results::write_atomic(file, text.as_bytes())
            .with_context(|| format!("cannot write {}", file.display()))?;
        println!("wrote {}", file.display());
    }
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}
