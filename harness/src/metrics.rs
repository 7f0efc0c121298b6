//! What a run measured: the latency distribution (hdrhistogram, nanoseconds), completed operations, and
//! messages and bytes sent by message type, all within the measurement window (warm-up excluded).

use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// Longest latency the histogram tracks: one hour, in nanoseconds.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgCount {
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Metrics {
    /// Latencies of operations invoked and completed inside the window, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    pub ops: u64,
    pub by_kind: BTreeMap<&'static str, MsgCount>,
    pub window_start_ns: u64,
    pub window_end_ns: u64,
}

impl Metrics {
    pub fn new(window_start_ns: u64, window_end_ns: u64) -> Metrics {
        Metrics {
            // 3 significant digits: a reported percentile is within 0.1% of the true sample.
            latency_ns: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .unwrap_or_else(|_| unreachable!("constant, valid histogram bounds")),
            ops: 0,
            by_kind: BTreeMap::new(),
            window_start_ns,
            window_end_ns,
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

    /// An operation intended at `start_ns` completed at `end_ns`.
    pub fn record_op(&mut self, start_ns: u64, end_ns: u64) {
        if self.in_window(start_ns) && end_ns <= self.window_end_ns {
            self.ops += 1;
            let _ = self
                .latency_ns
                .record(end_ns.saturating_sub(start_ns).clamp(1, MAX_LATENCY_NS));
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
