//! What a run measured: the latency distribution (hdrhistogram, nanoseconds), completed operations, and
//! messages and bytes sent by message type, all within the measurement window (warm-up excluded).

use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// Longest latency the histogram tracks: one hour, in nanoseconds.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;
/// Width of one bucket of the completions time series.
pub const TIMELINE_BUCKET_NS: u64 = 100_000_000;
/// Longest run the time series covers (one day), so a bogus timestamp cannot allocate without bound.
const TIMELINE_MAX_BUCKETS: u64 = 864_000;

/// The longest stretch of whole 100 ms buckets without a completion inside the window `[start_ns, end_ns)`,
/// in milliseconds.
pub fn longest_stall_ms(timeline: &[u64], start_ns: u64, end_ns: u64) -> f64 {
    let b = TIMELINE_BUCKET_NS;
    let (first, last) = (start_ns.div_ceil(b), end_ns / b);
    let (mut run, mut best) = (0u64, 0u64);
    for i in first..last {
        if timeline.get(i as usize).copied().unwrap_or(0) == 0 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    (best * b) as f64 / 1e6
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgCount {
    pub count: u64,
    pub bytes: u64,
}

/// The three kinds of operation a result reports apart: their latencies differ by design (a lease or quorum
/// read skips the log; a write never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Read,
    Write,
    Cas,
}

impl OpKind {
    pub fn of(op: &paxos_variants::Op) -> OpKind {
        match op {
            paxos_variants::Op::Get { .. } => OpKind::Read,
            paxos_variants::Op::Put { .. } => OpKind::Write,
            paxos_variants::Op::Cas { .. } => OpKind::Cas,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The latencies of one kind of operation, inside the window.
#[derive(Debug, Clone)]
pub struct OpLatency {
    pub ops: u64,
    pub latency_ns: Histogram<u64>,
}

impl OpLatency {
    fn new() -> OpLatency {
        OpLatency {
            ops: 0,
            latency_ns: new_histogram(),
        }
    }

    /// The `q` quantile in microseconds, if any operation of this kind completed.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        (self.ops > 0).then(|| self.latency_ns.value_at_quantile(q) as f64 / 1000.0)
    }
}

#[derive(Debug, Clone)]
pub struct Metrics {
    /// Latencies of operations invoked and completed inside the window, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// For the same operations: the time until the client knew its command was chosen. That is the reply,
    /// except for a Fast Paxos client, which learns it from a fast quorum of votes before the reply.
    pub commit_ns: Histogram<u64>,
    pub ops: u64,
    pub by_kind: BTreeMap<&'static str, MsgCount>,
    pub window_start_ns: u64,
    pub window_end_ns: u64,
    /// Completions per [`TIMELINE_BUCKET_NS`] over the whole run (warm-up and drain included), by completion time.
    pub timeline: Vec<u64>,
    /// The same operations as `latency_ns`, by kind (read, write, compare-and-set).
    by_op: [OpLatency; 3],
}

impl Metrics {
    pub fn new(window_start_ns: u64, window_end_ns: u64) -> Metrics {
        Metrics {
            latency_ns: new_histogram(),
            commit_ns: new_histogram(),
            ops: 0,
            by_kind: BTreeMap::new(),
            window_start_ns,
            window_end_ns,
            timeline: Vec::new(),
            by_op: [OpLatency::new(), OpLatency::new(), OpLatency::new()],
        }
    }

    /// The latencies of one kind of operation.
    pub fn op(&self, kind: OpKind) -> &OpLatency {
        &self.by_op[kind.index()]
    }

    /// Adds another part of the same run (another client's or replica's counters).
    pub fn merge(&mut self, other: &Metrics) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency_ns.add(&other.latency_ns);
        let _ = self.commit_ns.add(&other.commit_ns);
        self.ops += other.ops;
        for (a, b) in self.by_op.iter_mut().zip(&other.by_op) {
            let _ = a.latency_ns.add(&b.latency_ns);
            a.ops += b.ops;
        }
        for (k, c) in &other.by_kind {
            let e = self.by_kind.entry(k).or_default();
            e.count += c.count;
            e.bytes += c.bytes;
        }
        if self.timeline.len() < other.timeline.len() {
            self.timeline.resize(other.timeline.len(), 0);
        }
        for (a, b) in self.timeline.iter_mut().zip(&other.timeline) {
            *a += b;
        }
    }

    pub fn in_window(&self, t_ns: u64) -> bool {
        t_ns >= self.window_start_ns && t_ns < self.window_end_ns
    }

    pub fn record_send(&mut self, t_ns: u64, kind: &'static str, bytes: u64, copies: u64) {
        if self.in_window(t_ns) {
            let e = self.by_kind.entry(kind).or_default();
            e.count += copies;
            e.bytes += bytes * copies;
        }
    }

    /// An operation of `kind` intended at `start_ns` completed at `end_ns`; its client learned it chosen at
    /// `learned_ns` if that was before the reply.
    pub fn record_op(&mut self, kind: OpKind, start_ns: u64, end_ns: u64, learned_ns: Option<u64>) {
        let bucket = end_ns / TIMELINE_BUCKET_NS;
        if bucket < TIMELINE_MAX_BUCKETS {
            let b = bucket as usize;
            if self.timeline.len() <= b {
                self.timeline.resize(b + 1, 0);
            }
            self.timeline[b] += 1;
        }
        if self.in_window(start_ns) && end_ns <= self.window_end_ns {
            self.ops += 1;
            let since_start = |t: u64| t.saturating_sub(start_ns).clamp(1, MAX_LATENCY_NS);
            let _ = self.latency_ns.record(since_start(end_ns));
            let by_op = &mut self.by_op[kind.index()];
            by_op.ops += 1;
            let _ = by_op.latency_ns.record(since_start(end_ns));
            let commit = learned_ns.map_or(end_ns, |l| l.min(end_ns));
            let _ = self.commit_ns.record(since_start(commit));
        }
    }

    pub fn total_messages(&self) -> MsgCount {
        self.by_kind
            .values()
            .fold(MsgCount::default(), |a, m| MsgCount {
                count: a.count + m.count,
                bytes: a.bytes + m.bytes,
            })
    }

    pub fn window_s(&self) -> f64 {
        (self.window_end_ns - self.window_start_ns) as f64 / 1e9
    }
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    // 3 significant digits: a reported percentile is within 0.1% of the true sample.
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
        .unwrap_or_else(|_| unreachable!("constant, valid histogram bounds"))
}

/// Most distinct message-type names taken from other processes; more are counted as "other".
const MAX_INTERNED: usize = 256;

/// A `'static` name for a message type reported by a replica process (its counters arrive as strings). Names
/// are kept once each and their number is bounded, so a misbehaving peer cannot grow memory through them.
pub fn intern(name: &str) -> &'static str {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let Ok(mut names) = NAMES.lock() else {
        return "other";
    };
    if let Some(n) = names.get(name) {
        return n;
    }
    if names.len() >= MAX_INTERNED {
        return "other";
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}
