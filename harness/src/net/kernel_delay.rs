//! The kernel-path delayer (`paxos-bench nfq-delay`): WAN conditions applied to real packets in the kernel's
//! path instead of to messages at the sender. `scripts/netns-cluster.sh` routes every packet between the
//! replicas' and the clients' network namespaces through one hub namespace, whose iptables FORWARD rules send
//! the packets of each (source, destination) pair to their own NFQUEUE. This program holds each packet for its
//! link's delay plus jitter, drops it with the link's loss rate, and lets it go: the same [`LinkModel`] the
//! simulator and the in-process injection use, read from the same `[network]` section. Used where the kernel
//! has no `tc netem` (these machines: `CONFIG_NET_SCH_NETEM` is not set).
//!
//! Queue numbering: endpoints are the replicas `0..n` and then the clients (`n`); the pair (a, b) uses queue
//! `base + a * (n + 1) + b`. It works on packets, not messages: a lost packet is retransmitted by QUIC (a delay,
//! not a lost message), so `loss` means packet loss here; duplication and reordering are refused. Jitter is
//! drawn per packet, so with jitter > 0 the packets of one message can arrive out of order and QUIC may wait
//! for the last of them: kernel-path latency then sits above the per-message injection's. A packet's delay
//! counts from when the delayer takes it from the queue (within about 50 us of its arrival).

use super::due::Due;
use crate::config::Experiment;
use crate::wan::LinkModel;
use paxos_variants::DetRng;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DelayError {
    #[error("{0}")]
    Unsupported(String),
    #[error("NFQUEUE: {what}: {source} (needs root and the kernel's nfnetlink_queue)")]
    Queue {
        what: String,
        source: std::io::Error,
    },
}

/// What the delayer did.
#[derive(Debug, Default, Clone, Copy)]
pub struct DelayStats {
    pub packets: u64,
    pub dropped: u64,
    /// How late packets were let go, beyond their due time (mean and max, microseconds).
    pub mean_late_us: f64,
    pub max_late_us: f64,
}

/// The region of each endpoint: the replicas', then the clients' (which must be one region).
pub fn endpoint_regions(exp: &Experiment) -> Result<Vec<usize>, DelayError> {
    let mut clients = exp.topology.client_regions.clone();
    clients.dedup();
    let [client] = clients[..] else {
        return Err(DelayError::Unsupported(
            "the kernel path puts all clients in one network namespace, so [cluster] clients must name one region"
                .into(),
        ));
    };
    let mut r = exp.topology.replica_region.clone();
    r.push(client);
    Ok(r)
}

/// A short version of an experiment's text, for a quick check: 4 s runs with 1 s of warm-up, one seed, one
/// client, no sweep. Everything else (the network above all) is kept.
pub fn shorten(text: &str) -> Result<String, toml::de::Error> {
    let mut t: toml::Table = toml::from_str(text)?;
    t.insert("duration_s".into(), toml::Value::Float(4.0));
    t.insert("warmup_s".into(), toml::Value::Float(1.0));
    t.insert(
        "seeds".into(),
        toml::Value::Array(vec![toml::Value::Integer(1)]),
    );
    t.remove("sweep");
    if let Some(toml::Value::Table(load)) = t.get_mut("load") {
        load.insert(
            "clients".into(),
            toml::Value::Array(vec![toml::Value::Integer(1)]),
        );
    }
    // A table of plain values always serializes.
    Ok(toml::to_string(&t).unwrap_or_default())
}

/// Whether the kernel path can run this experiment; the number of endpoints (replicas and the clients).
pub fn check(exp: &Experiment) -> Result<usize, DelayError> {
    let n = &exp.network;
    if n.duplicate > 0.0 || n.reorder > 0.0 {
        return Err(DelayError::Unsupported(
            "the kernel path applies delay, jitter and loss; duplicate and reorder must be 0"
                .into(),
        ));
    }
    if !exp.jitter_sweep.is_empty() {
        return Err(DelayError::Unsupported(
            "the kernel path delays with one [network] jitter for the whole job; remove [sweep] jitter_ms".into(),
        ));
    }
    if exp.storage.len() != 1 {
        return Err(DelayError::Unsupported(
            "replica processes have one storage; give storage = \"memory\" or \"wal\", not a list"
                .into(),
        ));
    }
    if let Some(v) = exp.variants.iter().find(|v| v.replicas != exp.topology.n()) {
        return Err(DelayError::Unsupported(format!(
            "variant {} runs {} of the {} replicas; the kernel path runs whole clusters only",
            v.label,
            v.replicas,
            exp.topology.n()
        )));
    }
    if let Some(v) = exp
        .variants
        .iter()
        .find(|v| crate::config::file_safe(&v.label) != v.label)
    {
        return Err(DelayError::Unsupported(format!(
            "variant label `{}` is used in file names; keep to A-Z, a-z, 0-9, - and _",
            v.label
        )));
    }
    if !exp.faults.is_empty() {
        return Err(DelayError::Unsupported(
            "the kernel path runs no [[fault]] schedule (replica processes are driven from outside)".into(),
        ));
    }
    Ok(endpoint_regions(exp)?.len())
}

/// Runs until `stop` is set or `max` has passed; then lets every held packet go.
pub fn run(
    exp: &Experiment,
    base: u16,
    max: Duration,
    stop: &AtomicBool,
) -> Result<DelayStats, DelayError> {
    let n = &exp.network;
    check(exp)?;
    let regions = endpoint_regions(exp)?;
    let ends = regions.len();
    let model = LinkModel::new(n);
    let mut rng = DetRng::derive(exp.seeds.first().copied().unwrap_or(1), 7_000_000);
    let qerr = |what: String| move |source| DelayError::Queue { what, source };
    let queues = u16::try_from(ends * ends)
        .ok()
        .filter(|k| base.checked_add(*k).is_some())
        .ok_or_else(|| {
            DelayError::Unsupported(format!(
                "{ends} endpoints need {} queues from {base}: past queue 65535",
                ends * ends
            ))
        })?;
    let mut q = nfq::Queue::open().map_err(qerr("open".into()))?;
    for k in 0..queues {
        let num = base + k;
        q.bind(num).map_err(qerr(format!("bind queue {num}")))?;
        q.set_queue_max_len(num, 16_384)
            .map_err(qerr(format!("size queue {num}")))?;
        // The payload is never read or changed: copy only a header's worth, so held packets stay small.
        q.set_copy_range(num, 64)
            .map_err(qerr(format!("copy range of queue {num}")))?;
    }
    q.set_nonblocking(true);
    let started = Instant::now();
    let mut held: BinaryHeap<Due<nfq::Message>> = BinaryHeap::new();
    let (mut seq, mut stats, mut late_sum) = (0u64, DelayStats::default(), 0f64);
    loop {
        let done = stop.load(Ordering::Relaxed) || started.elapsed() >= max;
        loop {
            match q.recv() {
                Ok(mut msg) => {
                    stats.packets += 1;
                    let k = msg.get_queue_num().wrapping_sub(base) as usize;
                    let (from, to) = (k / ends, k % ends);
                    let delay = match (regions.get(from), regions.get(to)) {
                        (Some(&a), Some(&b)) => model.transit(&mut rng, a, b).first,
                        _ => Some(0),
                    };
                    match delay {
                        Some(ns) if !done => {
                            seq += 1;
                            let at = Instant::now() + Duration::from_nanos(ns);
                            held.push(Due { at, seq, item: msg });
                        }
                        Some(_) => {
                            msg.set_verdict(nfq::Verdict::Accept);
                            q.verdict(msg).map_err(qerr("verdict".into()))?;
                        }
                        None => {
                            stats.dropped += 1;
                            msg.set_verdict(nfq::Verdict::Drop);
                            q.verdict(msg).map_err(qerr("verdict".into()))?;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(qerr("receive".into())(e)),
            }
        }
        let now = Instant::now();
        while held.peek().is_some_and(|h| h.at <= now || done) {
            let Some(mut h) = held.pop() else {
                break;
            };
            let late = now.saturating_duration_since(h.at).as_secs_f64() * 1e6;
            late_sum += late;
            stats.max_late_us = stats.max_late_us.max(late);
            h.item.set_verdict(nfq::Verdict::Accept);
            q.verdict(h.item).map_err(qerr("verdict".into()))?;
        }
        if done {
            break;
        }
        // Sleep until the next packet is due, but wake often enough to take new packets in.
        let nap = held
            .peek()
            .map_or(IDLE, |h| h.at.saturating_duration_since(now).min(IDLE));
        if !nap.is_zero() {
            std::thread::sleep(nap);
        }
    }
    let released = stats.packets - stats.dropped;
    stats.mean_late_us = if released > 0 {
        late_sum / released as f64
    } else {
        0.0
    };
    Ok(stats)
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// A flag that SIGINT and SIGTERM set, so the delayer lets its held packets go and exits cleanly.
pub fn stop_on_signals() -> &'static AtomicBool {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    &STOP
}

/// Longest sleep between looks at the queues: what a new packet may wait beyond its delay to be taken in.
const IDLE: Duration = Duration::from_micros(50);
