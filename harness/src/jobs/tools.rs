//! The subcommands that make or read files and measure the machine rather than run an experiment: cluster
//! keys, the report of a results directory, the comparison with a baseline, the transport floor, the
//! kernel-path packet delayer, and the list of variants.

use crate::check::scenario::FaultKinds;
use crate::config;
use anyhow::{bail, Context, Result};
use paxos_variants::VARIANT_NAMES;
use std::path::Path;
use std::process::ExitCode;

/// `paxos-bench list`: each variant with its summary and the mutants the checker must catch, and the fault
/// kinds.
pub fn list() -> Result<ExitCode> {
    println!("variants: {}", VARIANT_NAMES.join(", "));
    for v in crate::registry::VARIANTS {
        println!("  {:<9} {}", v.name, v.summary);
        let mutants: Vec<&str> = v.mutants.iter().map(|(m, _)| m.name()).collect();
        println!(
            "  {:<9} mutants the checker catches: {}",
            "",
            mutants.join(", ")
        );
    }
    println!("fault kinds: {}", FaultKinds::NAMES.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench keys`.
pub fn keys(out: &Path, replicas: u32, clients: u32) -> Result<ExitCode> {
    if replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    let files = crate::net::tls::write_keys(out, replicas, clients)?;
    println!(
        "wrote {} files to {} (cluster CA, {replicas} replica and {clients} client certificates)",
        files.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench deploy render CONFIG --out DIR`: a Docker Compose project for the config.
pub fn deploy_render(
    config: &Path,
    out: &Path,
    variant: Option<&str>,
    image: &str,
    load_generators: u32,
    subnet: &str,
) -> Result<ExitCode> {
    use crate::deploy::{compose, Plan};
    let subnet = compose::parse_subnet(subnet).map_err(anyhow::Error::msg)?;
    let plan = Plan::load(config, variant, load_generators)?;
    let opts = compose::ComposeOptions {
        image: image.to_string(),
        subnet,
    };
    let done = compose::render(&plan, &opts, out)?;
    let k8s = crate::deploy::kubernetes::render(&plan, &out.join("kubernetes"))?;
    println!(
        "kubernetes: {k8s} files in {} (kubectl kustomize {0}; the image and the Secret paxos-keys first, docs/DEPLOY.md)",
        out.join("kubernetes").display()
    );
    println!(
        "rendered {} ({} replicas of {}, {} load generators for {} clients) in {} files: {} and {}",
        plan.exp.name,
        plan.replicas,
        plan.label(),
        plan.load_generators,
        plan.clients,
        done.files,
        done.compose_file.display(),
        done.cluster_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench deploy overlay CONFIG --out DIR`: a kustomize overlay over an existing base.
pub fn deploy_overlay(
    config: &Path,
    out: &Path,
    base: &str,
    variant: Option<&str>,
    load_generators: u32,
) -> Result<ExitCode> {
    let plan = crate::deploy::Plan::load(config, variant, load_generators)?;
    let files = crate::deploy::kubernetes::overlay(&plan, base);
    for (name, text) in &files {
        let path = out.join(name);
        // The experiment may already be the file in the overlay's folder.
        if path.exists() && std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        crate::results::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "overlay for {} ({} replicas of {}) in {}",
        plan.exp.name,
        plan.replicas,
        plan.label(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench report DIR`.
pub fn report(dir: &Path) -> Result<ExitCode> {
    let built = crate::report::build(dir)?;
    println!(
        "report: {} ({} figures: {})",
        built.index.display(),
        built.figures.len(),
        built.figures.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench compare BASELINE CURRENT`: exits 1 on a regression.
pub fn compare(
    baseline: &Path,
    current: &Path,
    tolerance: &str,
    markdown: Option<&Path>,
    history_db: Option<&Path>,
) -> Result<ExitCode> {
    let tol = crate::compare::parse_tolerance(tolerance).map_err(anyhow::Error::msg)?;
    let c = crate::compare::compare(baseline, current, tol)?;
    super::record_history(history_db, "compare", current)?;
    print!("{}", crate::compare::render(&c));
    if let Some(path) = markdown {
        crate::results::write_atomic(path, crate::compare::render_markdown(&c).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if c.failed() {
        println!(
            "regression against {}: if the change is deliberate, update the baseline in the same \
             commit (scripts/regress.sh --update) and say why",
            baseline.display()
        );
        Ok(ExitCode::from(1))
    } else {
        println!("no regression against {}", baseline.display());
        Ok(ExitCode::SUCCESS)
    }
}

/// `paxos-bench transport`: the round trip and pipelined rate of one of our QUIC connections on loopback.
pub fn transport(
    round_trips: usize,
    pipelined: u64,
    payload: usize,
    delay_us: u64,
) -> Result<ExitCode> {
    if round_trips == 0 {
        bail!("--round-trips must be at least 1");
    }
    let delay = std::time::Duration::from_micros(delay_us);
    let f = crate::net::floor::measure(round_trips, pipelined, payload, delay)?;
    println!(
        "transport floor (QUIC + mutual TLS on 127.0.0.1, {} B payload, {} B frame)",
        f.payload_bytes, f.frame_bytes
    );
    println!(
        "  round trip: p50 {:.1} us, p99 {:.1} us, mean {:.1} us over {} round trips",
        f.rtt_p50_us, f.rtt_p99_us, f.rtt_mean_us, f.round_trips
    );
    if delay_us > 0 {
        println!(
            "  injected {delay_us} us each way: round trip minus the two delays = {:.1} us at p50",
            f.rtt_p50_us - 2.0 * f.delay_us
        );
    }
    println!(
        "  pipelined one way: {:.0} msg/s ({:.1} MiB/s of frames) over {} messages",
        f.pipelined_msgs_per_s, f.pipelined_mib_per_s, f.pipelined
    );
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench nfq-delay`: the kernel path's delayer (scripts/netns-cluster.sh). With `shorten` it only writes
/// a short version of the config (4 s runs, one seed, one client); with `plan` it only checks the config and
/// prints what a script needs (endpoints, replicas, client certificates, variants).
pub fn nfq_delay(
    config: &Path,
    queue_base: u16,
    max_seconds: f64,
    plan: bool,
    shorten: Option<&Path>,
) -> Result<ExitCode> {
    if let Some(to) = shorten {
        let text = std::fs::read_to_string(config)
            .with_context(|| format!("cannot read {}", config.display()))?;
        let short = crate::net::kernel_delay::shorten(&text)
            .with_context(|| format!("{}: not a TOML experiment", config.display()))?;
        crate::results::write_atomic(to, short.as_bytes())
            .with_context(|| format!("cannot write {}", to.display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    if !(max_seconds > 0.0 && max_seconds <= 86_400.0) {
        bail!("--max-seconds must be in (0, 86400], not {max_seconds}");
    }
    let exp = config::load_as(config, Some(config::Mode::Quic))?;
    if plan {
        let ends = crate::net::kernel_delay::check(&exp)?;
        println!("endpoints {ends}");
        println!("replicas {}", exp.topology.n());
        // One `run --cluster` gives each run's clients fresh ids, so it needs this many certificates.
        println!(
            "clients {}",
            exp.client_counts.iter().sum::<usize>() * exp.seeds.len()
        );
        for v in &exp.variants {
            println!("variant {} {}", v.label, v.replicas);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stop = crate::net::kernel_delay::stop_on_signals();
    let stats = crate::net::kernel_delay::run(
        &exp,
        queue_base,
        std::time::Duration::from_secs_f64(max_seconds),
        stop,
    )?;
    println!(
        "nfq-delay: {} packets, {} dropped; released {:.0} us late on average, {:.0} us at most",
        stats.packets, stats.dropped, stats.mean_late_us, stats.max_late_us
    );
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench check-history FILE...`: each Jepsen register history decided by the black-box checker.
/// Exits 1 if any is not linearizable, 3 if none is but some ran out of budget, 0 if all are linearizable.
pub fn check_history(files: &[std::path::PathBuf], budget_s: f64) -> Result<ExitCode> {
    use crate::check::linear::{self, jepsen, Budget, KeyVerdict, Verdict};
    if !(budget_s.is_finite() && budget_s > 0.0 && budget_s <= 86_400.0) {
        bail!("--budget-s must be in (0, 86400], not {budget_s}");
    }
    let budget = Budget {
        time: std::time::Duration::from_secs_f64(budget_s),
        ..Budget::default()
    };
    // Read and parse every file first, so a bad file stops the command before any verdict is printed.
    let mut histories = Vec::with_capacity(files.len());
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let ops = jepsen::parse(&text).with_context(|| format!("{}", f.display()))?;
        histories.push((f, ops));
    }
    let (mut bad, mut undecided) = (0, 0);
    for (f, ops) in histories {
        let started = std::time::Instant::now();
        let verdict = linear::check(&ops, budget);
        let kv = KeyVerdict {
            key: f.display().to_string(),
            ops: ops.len(),
            elapsed: started.elapsed(),
            verdict,
        };
        match kv.verdict {
            Verdict::Linearizable => {}
            Verdict::NotLinearizable { .. } => bad += 1,
            Verdict::Unknown { .. } => undecided += 1,
        }
        println!("{} ({:.3} s)", kv.describe(&ops), kv.elapsed.as_secs_f64());
    }
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else if undecided > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// `paxos-bench export DIR --format F [--tool T] [--out FILE]`.
pub fn export(
    dir: &Path,
    format: &str,
    tool: Option<&str>,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let format = crate::export::Format::parse(format, tool).map_err(anyhow::Error::msg)?;
    let rows = crate::report::data::read_results(dir)?;
    let json = crate::export::export(&rows, format);
    let text = serde_json::to_string_pretty(&json)? + "\n";
    match out {
        Some(path) => {
            crate::results::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench history`: the recorded runs, filtered, and with --plot the trend of one config.
pub fn history(
    db: &Path,
    config: Option<String>,
    variant: Option<String>,
    commits: Option<&str>,
    mode: Option<String>,
    clients: Option<usize>,
    plot: Option<&Path>,
) -> Result<ExitCode> {
    use crate::history::{trend, Filter, History};
    let filter = Filter {
        config: config.clone(),
        variant,
        commits: commits.map(Filter::parse_commits).transpose()?,
    };
    let h = History::open_existing(db)?;
    let runs = h.runs(&filter)?;
    println!(
        "{:>5}  {:<19}  {:<8}  {:<14}  {:<16}  {:<16}  {:>4}  {:>9}  seeds",
        "run", "written (UTC)", "command", "commit", "config", "hash", "rows", "mean p50"
    );
    for r in &runs {
        let m = &r.manifest;
        let p50s: Vec<f64> = r.rows.iter().filter_map(|x| x.p50_us).collect();
        let mean = if p50s.is_empty() {
            "-".to_string()
        } else {
            format!(
                "{:.3}",
                p50s.iter().sum::<f64>() / p50s.len() as f64 / 1000.0
            )
        };
        let commit: String = m.commit.chars().take(12).collect();
        println!(
            "{:>5}  {:<19}  {:<8}  {:<14}  {:<16}  {:<16}  {:>4}  {:>9}  {}",
            r.id,
            crate::report::environment::utc(m.written_unix_s),
            m.command,
            if m.dirty {
                format!("{commit}+")
            } else {
                commit
            },
            m.experiment,
            m.config_hash,
            r.rows.len(),
            mean,
            m.seeds
        );
    }
    println!("{} runs in {}", runs.len(), db.display());
    if let (Some(dir), Some(name)) = (plot, config) {
        let figs = trend::figures(&runs, &name, &trend::Pick { mode, clients });
        if figs.is_empty() {
            bail!("no recorded rows of {name} for a trend (check --config, --mode and --clients)");
        }
        for f in &figs {
            crate::report::plots::save(f.chart.as_ref(), dir, &f.stem)
                .map_err(anyhow::Error::msg)?;
            println!("trend: {}", dir.join(format!("{}.png", f.stem)).display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
