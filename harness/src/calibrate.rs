//! `paxos-bench calibrate`: what the real handler code costs per message, turned into the simulator's cost
//! profile, so simulated throughput ceilings follow the code instead of an assumed flat `cpu_us_per_msg`.
//!
//! Method. A short simulated run of each variant (five replicas in one region, 16 closed-loop clients) records
//! every input the leader and one follower handle. Each trace is then replayed into a fresh replica built with
//! the same setup, which reproduces the run exactly (replicas are deterministic state machines), and every
//! input is timed: decoding its frame, the handler, and encoding every message the handler sent. That is the
//! replica's own work per message with real state (batches, logs, the key-value store); what it leaves out is
//! the transport (QUIC, TLS, syscalls), which `paxos-bench transport` measures. The median of several replays
//! is kept, and the cost of reading the clock is subtracted. The transport's cost per message (our QUIC
//! connection's pipelined rate on loopback) is measured once and added to every message a replica receives.
//!
//! The criterion benchmarks (`cargo bench -p paxos-harness --bench handlers`) replay the same traces.

use crate::config::{self, Experiment};
use crate::experiment::{plan, sim_spec_for};
use crate::net::frame;
use crate::sim::{Input, InputTrace, Sim};
use crate::with_variant;
use paxos_variants::step::{Outputs, Step};
use paxos_variants::{Effects, Message, Replica, ReplicaSetup, Time, Variant};
use std::collections::BTreeMap;
use std::time::Instant;

/// The workload the traces come from: every variant, five replicas in one region with 0.1 ms links.
pub const CALIBRATION_CONFIG: &str = r#"
name = "calibration"
mode = "sim"
duration_s = 2
warmup_s = 0.5
seeds = [1]

[cluster]
replicas = ["dc", "dc", "dc", "dc", "dc"]
clients = ["dc"]
leader = 0

[network]
local_ms = 0.1

[load]
mode = "closed"
clients = [16]
payload_bytes = 64
write_fraction = 1.0
keys = 1000

[[variant]]
name = "multi"

[[variant]]
name = "basic"

[[variant]]
name = "flexible"
q1 = 4
q2 = 2

[[variant]]
name = "fast"

[[variant]]
name = "cheap"

[[variant]]
name = "raft"

[[variant]]
name = "epaxos"
"#;

pub fn calibration_experiment() -> Experiment {
    // A constant config that the tests parse: it cannot fail.
    config::parse(CALIBRATION_CONFIG, std::path::Path::new("<calibration>"))
        .unwrap_or_else(|e| unreachable!("the built-in calibration config is valid: {e}"))
}

/// One replica's recorded inputs, ready to replay: its setup, the inputs, and each message input's frame
/// payload (so a replay decodes what the transport would hand it).
pub struct Recording<V: Variant> {
    pub variant: &'static str,
    pub role: Role,
    pub setup: ReplicaSetup,
    pub trace: InputTrace<V>,
    pub payloads: Vec<Option<Vec<u8>>>,
    /// Commands completed in the recorded run (for costs per command).
    pub commands: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Leader,
    Follower,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// Runs the calibration workload for `V` and records replica `node`'s inputs.
pub fn record<V: Variant>(exp: &Experiment, role: Role) -> Recording<V> {
    let p = plan(exp)
        .into_iter()
        .find(|p| exp.variants[p.variant].name == V::NAME)
        .unwrap_or_else(|| unreachable!("the calibration config runs every variant"));
    let spec = sim_spec_for(exp, &p);
    let node = match role {
        Role::Leader => spec.topology.leader,
        // The last replica: a plain acceptor in every variant (Cheap Paxos: an auxiliary, which is idle, so
        // take a main that is not the leader).
        Role::Follower if V::NAME == "cheap" => (spec.topology.leader + 1) % spec.topology.n(),
        Role::Follower => spec.topology.n() - 1,
    };
    let mut sim = Sim::<V>::new(spec);
    sim.record_inputs(node);
    let setup = sim.replica_setup(node);
    sim.run();
    let trace = std::mem::take(&mut sim.recorded);
    let payloads = trace
        .iter()
        .map(|(_, input)| match input {
            Input::Msg(_, m) => frame::encode(m).ok().map(|f| f[4..].to_vec()),
            Input::Timer(_) => None,
        })
        .collect();
    Recording {
        variant: V::NAME,
        role,
        setup,
        trace,
        payloads,
        // Every command completed in the run (the trace covers the whole run, warm-up included).
        commands: (sim.history.completed() as u64).max(1),
    }
}

/// The instruction-count gate's workload: the calibration workload, shortened so that a replay under
/// callgrind takes seconds.
pub fn gate_experiment() -> Experiment {
    let mut exp = calibration_experiment();
    exp.duration = std::time::Duration::from_millis(300);
    exp.warmup = std::time::Duration::from_millis(100);
    exp
}

/// [`replay`] without reading the clock (for instruction counts, which a clock read would blur).
pub fn replay_untimed<V: Variant>(rec: &Recording<V>) -> u64 {
    replay_with::<V, false>(rec, |_, _| {})
}

/// Replays a recording into a fresh replica: decode, handle, encode what it sent. Returns the number of frames
/// encoded (so the work cannot be optimized away). `time` is called around each input with its kind.
pub fn replay<V: Variant>(rec: &Recording<V>, time: impl FnMut(Option<&'static str>, u64)) -> u64 {
    replay_with::<V, true>(rec, time)
}

fn replay_with<V: Variant, const TIMED: bool>(
    rec: &Recording<V>,
    mut time: impl FnMut(Option<&'static str>, u64),
) -> u64 {
    let mut out = Effects::new();
    let mut replica = V::Replica::new(rec.setup.clone(), Time(0), &mut out);
    out.clear();
    let mut records = Vec::new();
    let mut encoded = 0u64;
    for ((at, input), payload) in rec.trace.iter().zip(&rec.payloads) {
        let start = TIMED.then(Instant::now);
        let kind = match (input, payload) {
            (Input::Msg(from, m), Some(bytes)) => {
                let msg: V::Msg = frame::decode(bytes).unwrap_or_else(|_| m.clone());
                let kind = msg.kind();
                replica.on_message(*at, *from, msg, &mut out);
                Some(kind)
            }
            (Input::Msg(from, m), None) => {
                replica.on_message(*at, *from, m.clone(), &mut out);
                Some(m.kind())
            }
            (Input::Timer(t), _) => {
                replica.on_timer(*at, *t, &mut out);
                None
            }
        };
        // As a memory-storage driver does after every input, with each message encoded as it would be sent.
        let step = Step::of_replica(&mut replica, &mut out, &mut records);
        let mut encoder = Encoder {
            encoded: &mut encoded,
        };
        match step.carry_out(&mut encoder) {
            Ok(()) => {}
            Err(never) => match never {},
        }
        if let Some(start) = start {
            time(kind, start.elapsed().as_nanos() as u64);
        }
    }
    encoded
}

/// A replay's outputs: records dropped (memory storage), each message encoded as for the wire.
struct Encoder<'a> {
    encoded: &'a mut u64,
}

impl<M: paxos_variants::Message, T, R> Outputs<M, T, R> for Encoder<'_> {
    type Error = std::convert::Infallible;
    fn persist(&mut self, records: &mut Vec<R>) -> Result<(), Self::Error> {
        records.clear();
        Ok(())
    }
    fn decided(
        &mut self,
        decisions: &mut Vec<(paxos_variants::Slot, paxos_variants::Value)>,
    ) -> Result<(), Self::Error> {
        decisions.clear();
        Ok(())
    }
    fn learned(&mut self, _: u64, _: paxos_variants::Slot) {}
    fn completed(&mut self, _: u64, _: paxos_variants::Reply) {}
    fn send(&mut self, _: paxos_variants::Dest, msg: M) {
        if frame::encode(&msg).is_ok() {
            *self.encoded += 1;
        }
    }
    fn send_all(&mut self, sends: &mut Vec<(paxos_variants::Dest, M)>) {
        for (_, msg) in sends.iter() {
            if frame::encode(msg).is_ok() {
                *self.encoded += 1;
            }
        }
        sends.clear();
    }
    fn arm(&mut self, _: std::time::Duration, _: T) {}
}

/// What one message type costs, measured.
#[derive(Debug, Clone)]
pub struct KindCost {
    pub kind: String,
    /// Messages of this type in the traces (leader and follower together).
    pub messages: u64,
    pub mean_ns: f64,
}

#[derive(Debug, Clone)]
pub struct VariantCosts {
    pub variant: &'static str,
    pub kinds: Vec<KindCost>,
    /// Total replica work per committed command, by role (timers included).
    pub per_command_ns: Vec<(Role, f64)>,
}

/// Per message type: (messages, total ns) in one replay.
type KindTotals = BTreeMap<&'static str, (u64, f64)>;

/// What timing one input adds to it: one clock read (the loop below makes two per turn, so half of its cost),
/// subtracted from every timed input.
fn clock_overhead_ns() -> f64 {
    let n = 100_000;
    let start = Instant::now();
    let mut sink = 0u128;
    for _ in 0..n {
        let t = Instant::now();
        sink = sink.wrapping_add(t.elapsed().as_nanos());
    }
    std::hint::black_box(sink);
    start.elapsed().as_nanos() as f64 / n as f64 / 2.0
}

fn measure_variant<V: Variant>(exp: &Experiment, replays: usize, overhead: f64) -> VariantCosts {
    let mut per_kind: BTreeMap<&'static str, (u64, Vec<f64>)> = BTreeMap::new();
    let mut per_command = Vec::new();
    for role in [Role::Leader, Role::Follower] {
        let rec = record::<V>(exp, role);
        // Per replay: kind -> (count, total ns); whole-trace total.
        let mut runs: Vec<(KindTotals, f64)> = Vec::new();
        for _ in 0..replays {
            let mut kinds = KindTotals::new();
            let mut total = 0.0;
            let encoded = replay(&rec, |kind, ns| {
                let ns = (ns as f64 - overhead).max(0.0);
                total += ns;
                if let Some(k) = kind {
                    let e = kinds.entry(k).or_default();
                    e.0 += 1;
                    e.1 += ns;
                }
            });
            std::hint::black_box(encoded);
            runs.push((kinds, total));
        }
        // The median replay by total time stands for the role.
        runs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (kinds, total) = &runs[runs.len() / 2];
        per_command.push((role, total / rec.commands as f64));
        for (k, (count, ns)) in kinds {
            let e = per_kind.entry(k).or_default();
            e.0 += count;
            e.1.push(*ns);
        }
    }
    let kinds = per_kind
        .into_iter()
        .map(|(k, (count, totals))| KindCost {
            kind: k.to_string(),
            messages: count,
            mean_ns: totals.iter().sum::<f64>() / count.max(1) as f64,
        })
        .collect();
    VariantCosts {
        variant: V::NAME,
        kinds,
        per_command_ns: per_command,
    }
}

/// Measures every variant. `replays` replays of each trace; the median is kept.
pub fn measure(replays: usize) -> Vec<VariantCosts> {
    let exp = calibration_experiment();
    let overhead = clock_overhead_ns();
    paxos_variants::VARIANT_NAMES
        .iter()
        .filter_map(
            |name| with_variant!(*name, V => measure_variant::<V>(&exp, replays.max(1), overhead)),
        )
        .collect()
}

/// The profile file `[sim] cpu_profile` reads: a table per variant, `kind = microseconds`.
pub fn render_profile(costs: &[VariantCosts], transport_us: f64, header: &str) -> String {
    let mut s = String::new();
    for line in header.lines() {
        s.push_str(&format!("# {line}\n"));
    }
    s.push_str(&format!(
        "\n# Added to every message a replica receives: the transport's measured cost per message.\n[{}]\nper_message = {transport_us:.3}\n",
        config::TRANSPORT_TABLE
    ));
    for v in costs {
        s.push_str(&format!("\n[{}]\n", v.variant));
        for k in &v.kinds {
            s.push_str(&format!(
                "{} = {:.3}   # {} messages measured\n",
                k.kind,
                k.mean_ns / 1000.0,
                k.messages
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use paxos_variants::multi::Multi;

    #[test]
    fn a_recorded_trace_replays_into_the_same_state() {
        let exp = calibration_experiment();
        let rec = record::<Multi>(&exp, Role::Follower);
        assert!(rec.trace.len() > 1000, "{} inputs", rec.trace.len());
        assert!(rec.payloads.iter().any(Option::is_some));
        // Replaying twice gives the same replica state: the replay is the recorded run.
        let digest = |rec: &Recording<Multi>| {
            let mut out = Effects::new();
            let mut r = <Multi as Variant>::Replica::new(rec.setup.clone(), Time(0), &mut out);
            for (at, input) in &rec.trace {
                match input {
                    Input::Msg(from, m) => r.on_message(*at, *from, m.clone(), &mut out),
                    Input::Timer(t) => r.on_timer(*at, *t, &mut out),
                }
                out.clear();
            }
            r.status()
        };
        let (a, b) = (digest(&rec), digest(&rec));
        assert_eq!(a, b);
        assert!(a.applied_upto.0 > 100, "{a:?}");
    }

    #[test]
    fn the_profile_parses_back_as_a_config_profile() {
        let costs = vec![VariantCosts {
            variant: "multi",
            kinds: vec![KindCost {
                kind: "accept".into(),
                messages: 10,
                mean_ns: 1234.0,
            }],
            per_command_ns: vec![(Role::Leader, 5000.0)],
        }];
        let text = render_profile(&costs, 0.5, "test");
        let p = config::parse_cpu_profile(&text, std::path::Path::new("p.toml")).unwrap();
        assert_eq!(p["multi"]["accept"], std::time::Duration::from_nanos(1234));
        assert_eq!(
            p["transport"]["per_message"],
            std::time::Duration::from_nanos(500)
        );
        // Unknown variants and negative costs are refused by name.
        let err =
            config::parse_cpu_profile("[paxos9]\naccept = 1.0\n", std::path::Path::new("p.toml"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("paxos9"), "{err}");
        let err =
            config::parse_cpu_profile("[multi]\naccept = -1.0\n", std::path::Path::new("p.toml"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("multi.accept"), "{err}");
    }
}
