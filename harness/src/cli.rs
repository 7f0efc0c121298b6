//! The `paxos-bench` command line: it parses arguments and calls one library function per subcommand (most in
//! [`crate::jobs`]). With no arguments it runs the built-in default comparison.

use crate::check::scenario::FaultKinds;
use crate::check::summary::Shard;
use crate::config;
use crate::jobs;
use anyhow::Result;
use clap::{Parser, Subcommand};
use paxos_variants::Mutation;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
        /// With --cluster: run only share INDEX of COUNT (from 0) of each run's clients, the INDEX-th block of
        /// their ids, while other load generators run the rest; `paxos-bench merge` adds the shares and checks
        /// their history together.
        #[arg(long, requires = "cluster", value_name = "INDEX/COUNT", value_parser = parse_shard)]
        client_share: Option<Shard>,
        /// Write each run's client history in Jepsen's register format: FILE itself for a run of one key,
        /// otherwise FILE's stem followed by -LABEL-MODE-cCLIENTS-sSEED[-jJITTER_US][-wal]-key-KEY.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Record the rows in this results history (SQLite), default: the config's `[history] db`, else
        /// history.db beside the output directory.
        #[arg(long, value_name = "FILE")]
        history_db: Option<PathBuf>,
        /// Do not record this run in the results history.
        #[arg(long, conflicts_with = "history_db")]
        no_history_db: bool,
    },
    /// List the runs a results history holds, filtered, and draw a config's trend by commit (p50, p99 and
    /// throughput, one line per variant with the spread of repeated runs).
    History {
        /// The history database.
        #[arg(long, default_value = "reports/history.db")]
        db: PathBuf,
        /// Only this config: its experiment name or a prefix of its config hash.
        #[arg(long)]
        config: Option<String>,
        /// Only this variant label.
        #[arg(long)]
        variant: Option<String>,
        /// Only runs from the first recorded at FIRST to the last recorded at LAST (commit prefixes).
        #[arg(long, value_name = "FIRST..LAST")]
        commits: Option<String>,
        /// The trend's mode (default: sim if recorded, else the first).
        #[arg(long)]
        mode: Option<String>,
        /// The trend's client count (default: the smallest recorded).
        #[arg(long)]
        clients: Option<usize>,
        /// Draw the trend plots of --config into this directory (PNG and SVG).
        #[arg(long, value_name = "DIR", requires = "config")]
        plot: Option<PathBuf>,
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
        /// Serve a plain-HTTP health endpoint here (GET /healthz: the replica runs; GET /readyz: it also
        /// reaches a majority), for container health checks and Kubernetes probes.
        #[arg(long, value_name = "ADDR")]
        health: Option<std::net::SocketAddr>,
    },
    /// Make the files a container deployment of an experiment needs, from its config.
    Deploy {
        #[command(subcommand)]
        what: DeployCmd,
    },
    /// Ask a replica's health endpoint (`node --health ADDR`); exit 0 when it is healthy (or with --ready, ready),
    /// 1 when it answers that it is not, 2 when it cannot be reached. A container's health check.
    Health {
        addr: std::net::SocketAddr,
        /// Ask for readiness (a majority reachable) instead of liveness.
        #[arg(long)]
        ready: bool,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 2.0)]
        timeout_s: f64,
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
        /// Read paths to check: log, lease, quorum, or all (each variant with every path it offers).
        #[arg(long, default_value = "all")]
        reads: String,
        /// Also write every seed's client history here, one Jepsen register file per key
        /// (VARIANT-seed-SEED-key-KEY.log), for `check-history` or another checker.
        #[arg(long)]
        history_dir: Option<PathBuf>,
        /// Check only shard INDEX of COUNT (from 0) of the seeds: the INDEX-th of COUNT contiguous blocks. One
        /// machine or pod per shard; `paxos-bench merge` adds their summaries.
        #[arg(long, value_name = "INDEX/COUNT", value_parser = parse_shard)]
        seed_shard: Option<Shard>,
        /// Write the summary as JSON: FILE.json, or DIR/check-summary.json.
        #[arg(long, value_name = "PATH")]
        summary: Option<PathBuf>,
    },
    /// Add up what several machines or pods measured: check summaries of seed shards (`check --summary`) into
    /// the summary of all their seeds, or the output directories of load generators that each ran a share of
    /// the clients (`run --cluster --client-share`) into one results directory and report. Exits 1 when the
    /// merged check found a violation.
    Merge {
        /// Check summaries (files, or directories holding check-summary.json), or load generators' output
        /// directories.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Where the merged summary or results go (results default to reports/merged).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Load generators' shares: also read the replicas' decided logs from this cluster and check the merged
        /// history against them (agreement, validity, no acknowledged write lost).
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// With --cluster: which client certificate to ask the replicas with.
        #[arg(long, default_value_t = 0, requires = "cluster")]
        client: u32,
    },
    /// Decide whether Jepsen register histories (one register per file, `INFO  jepsen.util - PROCESS<TAB>TYPE<TAB>F<TAB>VALUE`
    /// lines, as `run --history` writes them or Jepsen wrote them for another system) are linearizable, from
    /// the client events alone. Exit 1 if any is not, 3 if any ran out of its budget, 0 if all are.
    CheckHistory {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seconds the search may take per file before it reports "unknown (budget)".
        #[arg(long, default_value_t = 10.0)]
        budget_s: f64,
    },
    /// Recommend a variant, cluster size, placement, leader and quorum sizes for a network and fault budget:
    /// the config's [tune] section says what may be chosen and what must be survived. Every candidate is scored
    /// with the analytic model; the best --top are confirmed in the simulator (with a leader crash).
    Tune {
        /// An experiment config with a [network] and a [tune] section.
        config: PathBuf,
        /// How many of the model's best to confirm in the simulator and show.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Write the winning configuration here, ready for `paxos-bench run`.
        #[arg(long, value_name = "FILE")]
        write_config: Option<PathBuf>,
        /// Output directory for the table, the plot and the config (default: reports/tune-<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also simulate every candidate within the budget and compare the best with the pick (small spaces).
        #[arg(long)]
        exhaustive: bool,
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
        /// How far a measured figure's median may move the wrong way (percent) before a significant move
        /// counts as a regression (the statistical gate; docs/REGRESSION.md gives its measured error rates).
        #[arg(long, default_value = "10%")]
        tolerance: String,
        /// Also write the comparison as a markdown table to this file (for a pull-request comment).
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Record CURRENT's rows in this results history (default: history.db beside CURRENT).
        #[arg(long, value_name = "FILE")]
        history_db: Option<PathBuf>,
        /// Do not record CURRENT in the results history.
        #[arg(long, conflicts_with = "history_db")]
        no_history_db: bool,
    },
    /// Write a results directory's figures in a CI dashboard's format: github-action-benchmark's custom tools
    /// (latencies with --tool customSmallerIsBetter, the default; throughput with customBiggerIsBetter) or
    /// Bencher Metric Format (bmf). One entry per configuration, the mean over its seeds.
    Export {
        /// A results directory (`run` or `merge` output).
        dir: PathBuf,
        /// github-action-benchmark or bmf.
        #[arg(long)]
        format: String,
        /// With github-action-benchmark: customSmallerIsBetter or customBiggerIsBetter.
        #[arg(long)]
        tool: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
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

#[derive(Subcommand, Debug)]
pub enum DeployCmd {
    /// Render CONFIG as a Docker Compose project in --out: docker-compose.yml, cluster/ (the experiment, a
    /// cluster file with the replicas' addresses on the project's network, keys from a new cluster CA) and
    /// results/; and as a kustomize folder in --out/kubernetes (the base and an overlay for the config). The
    /// config must plan one run (one client count, one seed, one storage).
    Render {
        config: PathBuf,
        /// The project's folder.
        #[arg(long)]
        out: PathBuf,
        /// The [[variant]] to deploy, when the config has several.
        #[arg(long)]
        variant: Option<String>,
        /// The image every container runs (scripts/docker-image.sh builds paxos-bench:local).
        #[arg(long, default_value = "paxos-bench:local")]
        image: String,
        /// Load-generator containers; each runs one share of the clients.
        #[arg(long, default_value_t = 2)]
        load_generators: u32,
        /// The project's private network (a /24); replica K gets host .(10+K).
        #[arg(long, default_value = "172.28.0.0/24")]
        subnet: String,
    },
    /// Write only the kustomize overlay for CONFIG into --out (kustomization.yaml, cluster.toml, experiment.toml,
    /// patch.yaml) over the base at --base; `deploy render` writes one with the base beside it.
    Overlay {
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The base's folder, from --out.
        #[arg(long, default_value = "../../base")]
        base: String,
        #[arg(long)]
        variant: Option<String>,
        #[arg(long, default_value_t = 2)]
        load_generators: u32,
    },
}

fn parse_mutant(s: &str) -> Result<Mutation, String> {
    Mutation::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
        format!("unknown mutant `{s}` (known: {})", names.join(", "))
    })
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s)
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
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each cause once: a library error that already names its cause in its message
/// is not followed by the same text again.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    use crate::jobs::{cluster_ops, tools};
    match cli.cmd {
        None => jobs::default_job(Path::new("reports/latest")).map(|()| ExitCode::SUCCESS),
        Some(Cmd::Run {
            config,
            out,
            mode: _,
            cluster: Some(cluster),
            kernel_path,
            client_share,
            history,
            history_db: _,
            no_history_db: _,
        }) => cluster_ops::run_config_on_cluster(
            &config,
            &cluster,
            out,
            kernel_path,
            client_share,
            history,
        ),
        Some(Cmd::Run {
            config,
            out,
            mode,
            cluster: None,
            kernel_path: _,
            client_share: _,
            history,
            history_db,
            no_history_db,
        }) => jobs::run_config(&config, mode, out, history, history_db, no_history_db),
        Some(Cmd::History {
            db,
            config,
            variant,
            commits,
            mode,
            clients,
            plot,
        }) => tools::history(
            &db,
            config,
            variant,
            commits.as_deref(),
            mode,
            clients,
            plot.as_deref(),
        ),
        Some(Cmd::Status { cluster, client }) => cluster_ops::status(&cluster, client),
        Some(Cmd::Partition {
            cluster,
            client,
            groups,
            seconds,
        }) => cluster_ops::partition(&cluster, client, &groups, seconds),
        Some(Cmd::Flood {
            cluster,
            client,
            seconds,
            max,
            concurrency,
        }) => cluster_ops::flood(&cluster, client, seconds, max, concurrency),
        Some(Cmd::NfqDelay {
            config,
            queue_base,
            max_seconds,
            plan,
            shorten,
        }) => tools::nfq_delay(&config, queue_base, max_seconds, plan, shorten.as_deref()),
        Some(Cmd::Node {
            cluster,
            id,
            kernel_path,
            health,
        }) => cluster_ops::node(&cluster, id, kernel_path, health),
        Some(Cmd::Deploy {
            what:
                DeployCmd::Render {
                    config,
                    out,
                    variant,
                    image,
                    load_generators,
                    subnet,
                },
        }) => tools::deploy_render(
            &config,
            &out,
            variant.as_deref(),
            &image,
            load_generators,
            &subnet,
        ),
        Some(Cmd::Deploy {
            what:
                DeployCmd::Overlay {
                    config,
                    out,
                    base,
                    variant,
                    load_generators,
                },
        }) => tools::deploy_overlay(&config, &out, &base, variant.as_deref(), load_generators),
        Some(Cmd::Health {
            addr,
            ready,
            timeout_s,
        }) => cluster_ops::health(addr, ready, timeout_s),
        Some(Cmd::Check {
            variant,
            seeds,
            first_seed,
            seed,
            faults,
            threads,
            mutant,
            reads,
            history_dir,
            seed_shard,
            summary,
        }) => {
            let seeds: Vec<u64> = match seed {
                Some(s) => vec![s],
                None => (first_seed..first_seed.saturating_add(seeds)).collect(),
            };
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let job = jobs::check::CheckJob {
                variant: &variant,
                faults,
                mutation: mutant.unwrap_or_default(),
                reads: &reads,
                threads,
                history_dir: history_dir.as_deref(),
                shard: seed_shard,
                summary: summary.as_deref(),
            };
            jobs::check::run_check(&job, &seeds)
        }
        Some(Cmd::Merge {
            inputs,
            out,
            cluster,
            client,
        }) => jobs::merge::merge(&inputs, out.as_deref(), cluster.as_deref(), client),
        Some(Cmd::Keys {
            out,
            replicas,
            clients,
        }) => tools::keys(&out, replicas, clients),
        Some(Cmd::Transport {
            round_trips,
            pipelined,
            payload,
            delay_us,
        }) => tools::transport(round_trips, pipelined, payload, delay_us),
        Some(Cmd::Report { dir }) => tools::report(&dir),
        Some(Cmd::Calibrate { out, replays, quic }) => {
            jobs::calibrate(&out, replays, quic).map(|()| ExitCode::SUCCESS)
        }
        Some(Cmd::Compare {
            baseline,
            current,
            tolerance,
            markdown,
            history_db,
            no_history_db,
        }) => {
            let db = jobs::history_db_for(history_db, no_history_db, None, &current);
            tools::compare(
                &baseline,
                &current,
                &tolerance,
                markdown.as_deref(),
                db.as_deref(),
            )
        }
        Some(Cmd::Export {
            dir,
            format,
            tool,
            out,
        }) => tools::export(&dir, &format, tool.as_deref(), out.as_deref()),
        Some(Cmd::Tune {
            config,
            top,
            write_config,
            out,
            exhaustive,
        }) => jobs::tune(&config, top, write_config.as_deref(), out, exhaustive),
        Some(Cmd::List) => tools::list(),
        Some(Cmd::CheckHistory { files, budget_s }) => tools::check_history(&files, budget_s),
    }
}
