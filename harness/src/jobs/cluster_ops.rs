//! The subcommands that act on a running cluster of replica processes (`paxos-bench node` per replica): start
//! one replica, ask each for its status, partition them for a while, flood them with hostile traffic, and run an
//! experiment against them.

use crate::config::{self, cluster::load_cluster};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `paxos-bench node`: this process is replica `id` until SIGINT or SIGTERM.
pub fn node(
    cluster: &Path,
    id: u32,
    kernel_path: bool,
    health: Option<std::net::SocketAddr>,
) -> Result<ExitCode> {
    let spec = load_cluster(cluster)?;
    crate::cluster::node::run_node(&spec, id, kernel_path, health, |up| {
        if let Some(n) = up.recovered {
            eprintln!("replica {id} recovered {n} records from its write-ahead log");
        }
        eprintln!("replica {id} listening on {}", up.addr);
        if let Some(h) = health {
            eprintln!("replica {id} health endpoint on http://{h}/healthz and /readyz");
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `paxos-bench health ADDR`: the answer of a replica's health endpoint, as an exit status.
pub fn health(addr: std::net::SocketAddr, ready: bool, timeout_s: f64) -> Result<ExitCode> {
    if !(timeout_s.is_finite() && timeout_s > 0.0) {
        bail!("--timeout-s must be a positive number of seconds, not {timeout_s}");
    }
    let path = if ready { "/readyz" } else { "/healthz" };
    let (status, body) =
        crate::cluster::health::probe(addr, path, std::time::Duration::from_secs_f64(timeout_s))?;
    println!("{status} {body}");
    Ok(if status == 200 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `paxos-bench status`: one line per replica (state, slots applied, uptime), "unreachable" for one that does
/// not answer.
pub fn status(cluster: &Path, client: u32) -> Result<ExitCode> {
    let spec = load_cluster(cluster)?;
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

/// `paxos-bench partition`: exits 1 when a replica did not take the order, because the partition is then
/// one-way (that replica keeps sending across the cut), not the one asked for.
pub fn partition(cluster: &Path, client: u32, groups: &[String], seconds: f64) -> Result<ExitCode> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        bail!("--seconds must be a positive number of seconds up to a day, not {seconds}");
    }
    let groups = parse_groups(groups)?;
    let spec = load_cluster(cluster)?;
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
    Ok(if took.iter().all(|t| *t) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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

/// `paxos-bench flood`: exits 1 if a handshake without a certificate was admitted.
pub fn flood(
    cluster: &Path,
    client: u32,
    seconds: f64,
    max: u64,
    concurrency: usize,
) -> Result<ExitCode> {
    if !(seconds > 0.0 && seconds <= 3600.0) {
        bail!("--seconds must be in (0, 3600], not {seconds}");
    }
    let spec = load_cluster(cluster)?;
    let (cert, key) = spec.client_files(client);
    let mut targets = Vec::new();
    for r in &spec.replicas {
        let addr = r
            .addr
            .resolve_now()
            .with_context(|| format!("cannot look up replica {}'s address {}", r.id, r.addr))?;
        targets.push((r.id, addr));
    }
    let flood = crate::net::flood::FloodSpec {
        targets,
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

/// `paxos-bench run CONFIG --cluster FILE`: the config must describe what the replicas run (same placement,
/// network, storage and variant), or the figures would be labelled with settings the cluster does not have.
pub fn run_config_on_cluster(
    config: &Path,
    cluster: &Path,
    out: Option<PathBuf>,
    kernel_path: bool,
    share: Option<crate::shard::Shard>,
    history: Option<PathBuf>,
) -> Result<ExitCode> {
    let spec = load_cluster(cluster)?;
    let mut exp = config::load_as(config, Some(config::Mode::Quic))?;
    exp.history = history;
    let text = std::fs::read_to_string(config)
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
            "{} and the cluster's experiment differ in [cluster], [network] or the `{label}` variant; \
             the replicas run what the cluster's experiment says, so run with that file",
            config.display()
        );
    }
    let out = out.unwrap_or_else(|| PathBuf::from("reports").join(&exp.name));
    super::run_on_cluster(&exp, variant, spec, &text, &out, kernel_path, share)?;
    Ok(ExitCode::SUCCESS)
}
