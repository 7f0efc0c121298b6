//! The `paxos-bench` command line: it parses arguments and calls one library function per subcommand (most in
//! [`crate::jobs`]). With no arguments it runs the built-in default comparison.

use crate::check::scenario::FaultKinds;
use crate::config;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use paxos_variants::{Mutation, VARIANT_NAMES};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The built-in default comparison (`paxos-bench` with no arguments).
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

#[derive(Parser, Debug)]
#[command(
    name = "paxos-bench",
    version,
    about = "Compare Paxos variants on latency and throughput"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run an experiment config and write its results.
    Run {
        /// The experiment's TOML file.
        config: PathBuf,
        /// Output directory (default: reports/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run in this mode instead of the one the file names.
        #[arg(long, value_enum)]
        mode: Option<config::Mode>,
        /// Drive replica processes started with `paxos-bench node` instead of an in-process cluster (the
        /// cluster's variant only; the config must place the same replicas in the same network).
        #[arg(long, conflicts_with = "mode")]
        cluster: Option<PathBuf>,
        /// With --cluster: inject nothing at the clients, because the kernel delays the packets
        /// (scripts/netns-cluster.sh).
        #[arg(long, requires = "cluster")]
        kernel_path: bool,
    },
    /// Show each replica process's status: alive, leader, slots applied.
    Status {
        #[arg(long)]
        cluster: PathBuf,
        /// Which client certificate to ask with.
        #[arg(long, default_value_t = 0)]
        client: u32,
    },
    /// Partition a cluster's replica processes for a while: each replica talks only to the replicas of its own
    /// --group (one in no group talks to none) until the partition heals by itself. Clients still reach all.
    Partition {
        #[arg(long)]
        cluster: PathBuf,
        /// Which client certificate to send the order with.
        #[arg(long, default_value_t = 0)]
        client: u32,
        /// Replica ids on one side, comma-separated; repeat for more sides (e.g. --group 0,1 --group 2).
        #[arg(long = "group", required = true)]
        groups: Vec<String>,
        /// How long the partition lasts.
        #[arg(long)]
        seconds: f64,
    },
    /// Flood a cluster's replicas with what a hostile peer sends (handshakes without a certificate, garbage
    /// frames from a member, UDP noise), bounded in time and count, and say how they answered.
    Flood {
        #[arg(long)]
        cluster: PathBuf,
        /// The member certificate the garbage frames are sent with (client-K in the cluster's keys); use one the
        /// load does not.
        #[arg(long)]
        client: u32,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Most attempts of each kind.
        #[arg(long, default_value_t = 100_000)]
        max: u64,
        /// Attempts of each kind in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Run one replica of a cluster as this process, until SIGINT or SIGTERM.
    Node {
        /// The cluster file: addresses, certificates, experiment and variant.
        #[arg(long)]
        cluster: PathBuf,
        /// This replica's id.
        #[arg(long)]
        id: u32,
        /// Inject nothing on what this replica sends: the kernel delays its packets (scripts/netns-cluster.sh).
        #[arg(long)]
        kernel_path: bool,
    },
    /// Hold packets queued by iptables NFQUEUE rules for each link's delay and jitter, and drop them by its
    /// loss, from a config's [network] (the kernel-path emulation of scripts/netns-cluster.sh; needs root).
    NfqDelay {
        config: PathBuf,
        /// The first queue number; the pair (a, b) of endpoints (replicas, then the clients) uses
        /// base + a * (replicas + 1) + b.
        #[arg(long, default_value_t = 1000)]
        queue_base: u16,
        /// Stop after this long at the latest (also on SIGINT or SIGTERM).
        #[arg(long, default_value_t = 3600.0)]
        max_seconds: f64,
        /// Only check the config and print the plan a script needs (endpoints, replicas, variant labels).
        #[arg(long)]
        plan: bool,
        /// Only write a short version of the config here (4 s runs, 1 s warm-up, one seed, one client) and exit.
        #[arg(long)]
        shorten: Option<PathBuf>,
    },
    /// Run the safety checker over many seeds with random faults.
    Check {
        /// A variant name, or "all".
        #[arg(long, default_value = "all")]
        variant: String,
        /// How many seeds to run.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 1)]
        first_seed: u64,
        /// Run just this one seed (to replay a failure).
        #[arg(long, conflicts_with_all = ["seeds", "first_seed"])]
        seed: Option<u64>,
        /// Fault kinds: all, none, or a comma list of loss, duplicate, reorder, partition, crash, pause.
        #[arg(long, default_value = "all", value_parser = parse_faults)]
        faults: FaultKinds,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Run a deliberately broken variant, to see the checker catch it.
        #[arg(long, hide = true, value_parser = parse_mutant)]
        mutant: Option<Mutation>,
    },
    /// List the variants and the fault kinds.
    List,
    /// Make a cluster CA and one certificate and key per replica and client.
    Keys {
        /// Directory to write ca.crt, replica-K.crt/.key and client-K.crt/.key into.
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        replicas: u32,
        #[arg(long, default_value_t = 64)]
        clients: u32,
    },
    /// Rebuild the plots, index.html and README.md of a results directory from its CSV and histogram files.
    Report {
        /// A directory written by `paxos-bench run`.
        dir: PathBuf,
    },
    /// Measure each variant's handler cost per message type (decode, handle, encode, replayed from a recorded
    /// run) and write it as the simulator's cost profile; then show Multi-Paxos's simulated throughput
    /// ceiling with it, and with --quic the throughput measured over QUIC on loopback beside it.
    Calibrate {
        /// Where the profile goes (point `[sim] cpu_profile` at it).
        #[arg(long, default_value = "reports/calibration/cpu-profile.toml")]
        out: PathBuf,
        /// Replays of each recorded trace; the median is kept.
        #[arg(long, default_value_t = 5)]
        replays: usize,
        /// Also run the ceiling workload over QUIC (5 s) and print the ratio.
        #[arg(long)]
        quic: bool,
    },
    /// Compare a results directory with a baseline: simulation rows must match exactly, QUIC rows within the
    /// tolerance and the baseline's spread over seeds. Exits 1 on a regression.
    Compare {
        baseline: PathBuf,
        current: PathBuf,
        /// How far a QUIC mean may move the wrong way (percent) before it counts as a regression.
        #[arg(long, default_value = "5%")]
        tolerance: String,
    },
    /// Measure the transport floor: round-trip time and pipelined rate of small messages over one of our QUIC
    /// connections on loopback.
    Transport {
        #[arg(long, default_value_t = 20_000)]
        round_trips: usize,
        #[arg(long, default_value_t = 1_000_000)]
        pipelined: u64,
        /// Payload bytes per message.
        #[arg(long, default_value_t = 64)]
        payload: usize,
        /// Inject this one-way delay (microseconds) on the ping-pong, through the WAN delayer.
        #[arg(long, default_value_t = 0)]
        delay_us: u64,
    },
}

fn parse_mutant(s: &str) -> Result<Mutation, String> {
    Mutation::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
        format!("unknown mutant `{s}` (known: {})", names.join(", "))
    })
}

fn parse_faults(s: &str) -> Result<FaultKinds, String> {
    s.parse()
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Transport warnings (a refused peer, a bad frame) go to stderr; RUST_LOG overrides the level.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        None => {
            crate::jobs::default_job(Path::new("reports/latest"))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Status { cluster, client }) => {
            let spec = config::cluster::load_cluster(&cluster)?;
            let all = crate::cluster::external::cluster_status(&spec, client)?;
            println!(
                "{:<8} {:<22} {:<11} {:>8} {:>10}",
                "replica", "address", "state", "applied", "uptime s"
            );
            for (r, s) in spec.replicas.iter().zip(&all) {
                match s {
                    Some(s) => println!(
                        "{:<8} {:<22} {:<11} {:>8} {:>10.1}",
                        r.id,
                        r.addr.to_string(),
                        if s.status.is_leader {
                            "leader"
                        } else {
                            "follower"
                        },
                        s.status.applied_upto.0,
                        s.uptime_ms as f64 / 1000.0
                    ),
                    None => println!(
                        "{:<8} {:<22} {:<11}",
                        r.id,
                        r.addr.to_string(),
                        "unreachable"
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Partition {
            cluster,
            client,
            groups,
            seconds,
        }) => {
            if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
                bail!("--seconds must be a positive number of seconds up to a day, not {seconds}");
            }
            let groups = parse_groups(&groups)?;
            let spec = config::cluster::load_cluster(&cluster)?;
            let took = crate::cluster::external::partition_cluster(
                &spec,
                client,
                &groups,
                (seconds * 1000.0) as u64,
            )?;
            for (r, ok) in took.iter().enumerate() {
                println!(
                    "replica {r}: {}",
                    if *ok {
                        format!("partitioned for {seconds} s")
                    } else {
                        "did not answer (it keeps talking to everyone)".into()
                    }
                );
            }
            // A replica that missed the order keeps sending across the cut: a one-way partition, not the one asked.
            Ok(if took.iter().all(|t| *t) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Cmd::Flood {
            cluster,
            client,
            seconds,
            max,
            concurrency,
        }) => {
            if !(seconds > 0.0 && seconds <= 3600.0) {
                bail!("--seconds must be in (0, 3600], not {seconds}");
            }
            let spec = config::cluster::load_cluster(&cluster)?;
            let (cert, key) = spec.client_files(client);
            let flood = crate::net::flood::FloodSpec {
                targets: spec.replicas.iter().map(|r| (r.id, r.addr)).collect(),
                ca: crate::net::tls::read_cert(&spec.ca)?,
                member: crate::net::tls::Credentials {
                    cert: crate::net::tls::read_cert(&cert)?,
                    key: crate::net::tls::read_key(&key)?,
                },
                duration: std::time::Duration::from_secs_f64(seconds),
                max_per_kind: max,
                concurrency,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            let c = rt.block_on(crate::net::flood::flood(&flood))?;
            println!(
                "flood: {} handshakes without a certificate ({} refused, {} admitted), {} member connections with \
                 {} garbage frames ({} closed by the replica for a bad frame), {} UDP datagrams of noise",
                c.no_cert_attempts,
                c.no_cert_refused,
                c.no_cert_admitted,
                c.garbage_connections,
                c.garbage_frames,
                c.garbage_closed,
                c.udp_datagrams
            );
            Ok(if c.no_cert_admitted > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Cmd::NfqDelay {
            config,
            queue_base,
            max_seconds,
            plan,
            shorten,
        }) => {
            if let Some(to) = shorten {
                let text = std::fs::read_to_string(&config)
                    .with_context(|| format!("cannot read {}", config.display()))?;
                let short = crate::net::kernel_delay::shorten(&text)
                    .with_context(|| format!("{}: not a TOML experiment", config.display()))?;
                crate::results::write_atomic(&to, short.as_bytes())
                    .with_context(|| format!("cannot write {}", to.display()))?;
                return Ok(ExitCode::SUCCESS);
            }
            if !(max_seconds > 0.0 && max_seconds <= 86_400.0) {
                bail!("--max-seconds must be in (0, 86400], not {max_seconds}");
            }
            let exp = config::load_as(&config, Some(config::Mode::Quic))?;
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
        Some(Cmd::Node {
            cluster,
            id,
            kernel_path,
        }) => {
            let spec = config::cluster::load_cluster(&cluster)?;
            crate::cluster::node::run_node(&spec, id, kernel_path, |up| {
                if let Some(n) = up.recovered {
                    eprintln!("replica {id} recovered {n} records from its write-ahead log");
                }
                eprintln!("replica {id} listening on {}", up.addr);
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Run {
            config,
            out,
            mode: _,
            cluster: Some(cluster),
            kernel_path,
        }) => {
            let spec = config::cluster::load_cluster(&cluster)?;
            let exp = config::load_as(&config, Some(config::Mode::Quic))?;
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("cannot read {}", config.display()))?;
            let theirs = &spec.experiment;
            let label = &theirs.variants[spec.variant].label;
            let Some(variant) = exp.variants.iter().position(|v| &v.label == label) else {
                bail!(
                    "{} has no [[variant]] labelled `{label}`, which the cluster runs",
                    config.display()
                );
            };
            if exp.storage != theirs.storage {
                bail!(
                    "{} says storage = {:?} but the cluster's replicas run with {:?}; a replica process has one \
                     storage, so give the same single value in both",
                    config.display(),
                    exp.storage,
                    theirs.storage
                );
            }
            if exp.topology != theirs.topology
                || exp.network != theirs.network
                || exp.variants[variant] != theirs.variants[spec.variant]
            {
                bail!(
                    "{} and the cluster's experiment differ in [cluster], [network] or the `{label}` variant;                      the replicas run what the cluster's experiment says, so run with that file",
                    config.display()
                );
            }
            let out = out.unwrap_or_else(|| PathBuf::from("reports").join(&exp.name));
            crate::jobs::run_on_cluster(&exp, variant, spec, &text, &out, kernel_path)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Run {
            config,
            out,
            mode,
            cluster: None,
            kernel_path: _,
        }) => {
            let exp = config::load_as(&config, mode)?;
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("cannot read {}", config.display()))?;
            let out = out.unwrap_or_else(|| PathBuf::from("reports").join(&exp.name));
            crate::jobs::run_experiment(&exp, &text, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Check {
            variant,
            seeds,
            first_seed,
            seed,
            faults,
            threads,
            mutant,
        }) => {
            let seeds: Vec<u64> = match seed {
                Some(s) => vec![s],
                None => (first_seed..first_seed.saturating_add(seeds)).collect(),
            };
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let mutation = mutant.unwrap_or_default();
            crate::jobs::run_check(&variant, &seeds, faults, mutation, threads)
        }
        Some(Cmd::Keys {
            out,
            replicas,
            clients,
        }) => {
            if replicas == 0 {
                bail!("--replicas must be at least 1");
            }
            let files = crate::net::tls::write_keys(&out, replicas, clients)?;
            println!(
                "wrote {} files to {} (cluster CA, {replicas} replica and {clients} client certificates)",
                files.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Transport {
            round_trips,
            pipelined,
            payload,
            delay_us,
        }) => {
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
        Some(Cmd::Report { dir }) => {
            let built = crate::report::build(&dir)?;
            println!(
                "report: {} ({} figures: {})",
                built.index.display(),
                built.figures.len(),
                built.figures.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Calibrate { out, replays, quic }) => {
            crate::jobs::calibrate(&out, replays, quic)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Compare {
            baseline,
            current,
            tolerance,
        }) => {
            let tol = crate::compare::parse_tolerance(&tolerance).map_err(anyhow::Error::msg)?;
            let c = crate::compare::compare(&baseline, &current, tol)?;
            print!("{}", crate::compare::render(&c));
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
        Some(Cmd::List) => {
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
    }
}

/// `--group 0,1 --group 2` arrives as ["0,1", "2"]: one side per argument.
fn parse_groups(args: &[String]) -> Result<Vec<Vec<u32>>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for g in args {
        let mut side = Vec::new();
        for id in g.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let r: u32 = id
                .parse()
                .map_err(|_| anyhow::anyhow!("--group {g}: `{id}` is not a replica id"))?;
            if !seen.insert(r) {
                bail!("--group: replica {r} is in more than one group");
            }
            side.push(r);
        }
        out.push(side);
    }
    Ok(out)
}
