use super::*;
use crate::check::verify::verify;
use crate::config::{self, Experiment};
use crate::model::ModelInput;
use paxos_variants::basic::Basic;
use paxos_variants::fast::Fast;
use paxos_variants::flexible::Flexible;
use paxos_variants::multi::Multi;
use std::path::Path;

/// Five replicas in three regions, one client in us-east, no jitter: the config of the latency-model test.
const WAN: &str = r#"
name = "model"
mode = "sim"
duration_s = 6
warmup_s = 1
seeds = [1]
[cluster]
replicas = ["us-east", "us-east", "us-west", "eu-west", "eu-west"]
clients = ["CLIENT_REGION"]
leader = LEADER
[network]
local_ms = 0.1
[[network.link]]
between = ["us-east", "us-west"]
ms = 31.0
[[network.link]]
between = ["us-east", "eu-west"]
ms = 38.0
[[network.link]]
between = ["us-west", "eu-west"]
ms = 68.0
[load]
mode = "closed"
clients = [1]
[sim]
cpu_us_per_msg = CPU
[[variant]]
name = "multi"
"#;

fn experiment(client_region: &str, leader: usize, cpu_us: f64) -> Experiment {
    let text = WAN
        .replace("CLIENT_REGION", client_region)
        .replace("LEADER", &leader.to_string())
        .replace("CPU", &format!("{cpu_us:.1}"));
    config::parse(&text, Path::new("model.toml")).unwrap()
}

/// The same spec the experiment runner would build for this run.
fn spec(exp: &Experiment, clients: usize, seed: u64) -> SimSpec {
    let plan = crate::experiment::RunPlan {
        variant: 0,
        clients,
        seed,
        jitter: None,
        storage: crate::storage::Storage::Memory,
    };
    crate::experiment::sim_spec_for(exp, &plan)
}

fn p50_us<V: Variant>(spec: SimSpec) -> f64 {
    p50s_us::<V>(spec).0
}

/// (reply p50, commit-learned p50) in microseconds, after checking the run.
fn p50s_us<V: Variant>(spec: SimSpec) -> (f64, f64) {
    let mut sim = Sim::<V>::new(spec);
    let statuses = sim.run();
    verify(&mut sim.history, &statuses);
    assert!(
        sim.history.violations.is_empty(),
        "{:?}",
        sim.history.violations
    );
    assert!(
        sim.metrics.ops > 10,
        "only {} ops measured",
        sim.metrics.ops
    );
    let p50 = |h: &hdrhistogram::Histogram<u64>| h.value_at_quantile(0.5) as f64 / 1000.0;
    (p50(&sim.metrics.latency_ns), p50(&sim.metrics.commit_ns))
}

/// The analytic model's latency in microseconds for the config's first variant.
fn modelled_us(exp: &Experiment, latency_ns: impl Fn(&ModelInput<'_>) -> u64) -> f64 {
    let links = LinkModel::new(&exp.network);
    let input = ModelInput {
        topology: &exp.topology,
        links: &links,
        quorums: &exp.variants[0].quorums,
        cpu_ns: exp.cpu_per_msg.as_nanos() as u64,
        client: 0,
        jitter: None,
    };
    latency_ns(&input) as f64 / 1000.0
}

fn assert_within_1pct(measured: f64, expected: f64, what: &str) {
    let err = (measured - expected).abs() / expected;
    assert!(
        err < 0.01,
        "{what}: measured p50 {measured} us, model {expected} us ({:.3}% off)",
        err * 100.0
    );
}

#[test]
fn multi_p50_equals_the_analytic_commit_latency() {
    for (region, leader, cpu) in [
        ("us-east", 0, 0.0),
        ("us-east", 0, 20.0),
        ("eu-west", 0, 5.0),
        ("us-west", 3, 50.0),
    ] {
        let exp = experiment(region, leader, cpu);
        let measured = p50_us::<Multi>(spec(&exp, 1, 1));
        let expected = modelled_us(&exp, |m| m.multi_ns());
        assert_within_1pct(
            measured,
            expected,
            &format!("multi, client in {region}, leader {leader}, cpu {cpu} us"),
        );
    }
}

/// Raft commits as Multi-Paxos does (client to leader, a majority round trip, back), so the same model holds.
#[test]
fn raft_p50_equals_the_multi_paxos_commit_model() {
    for (region, leader, cpu) in [
        ("us-east", 0, 0.0),
        ("eu-west", 0, 5.0),
        ("us-west", 3, 50.0),
    ] {
        let exp = experiment(region, leader, cpu);
        let measured = p50_us::<paxos_variants::raft::Raft>(spec(&exp, 1, 1));
        let expected = modelled_us(&exp, |m| m.multi_ns());
        assert_within_1pct(
            measured,
            expected,
            &format!("raft, client in {region}, leader {leader}, cpu {cpu} us"),
        );
    }
}

/// EPaxos with one client (no command of another client to conflict with): its nearest replica's fast-quorum
/// round trip, whatever replica the config calls the leader; so a far client gains over Multi-Paxos.
#[test]
fn epaxos_p50_equals_its_fast_path_model_and_beats_multi_for_a_far_client() {
    use paxos_variants::epaxos::Epaxos;
    for (region, leader, cpu) in [
        ("us-east", 0, 0.0),
        ("eu-west", 0, 5.0),
        ("us-west", 3, 50.0),
    ] {
        let exp = experiment(region, leader, cpu);
        let measured = p50_us::<Epaxos>(spec(&exp, 1, 1));
        let expected = modelled_us(&exp, |m| m.epaxos_ns());
        assert_within_1pct(
            measured,
            expected,
            &format!("epaxos, client in {region}, cpu {cpu} us"),
        );
    }
    let exp = experiment("eu-west", 0, 0.0);
    let epaxos = p50_us::<Epaxos>(spec(&exp, 1, 1));
    let multi = p50_us::<Multi>(spec(&exp, 1, 1));
    assert!(
        epaxos < multi,
        "a client far from the leader: epaxos {epaxos} us, multi {multi} us"
    );
}

#[test]
fn basic_p50_equals_its_model_and_shows_the_second_round_trip() {
    for (region, cpu) in [("us-east", 0.0), ("us-west", 10.0), ("eu-west", 5.0)] {
        let exp = experiment(region, 0, cpu);
        let basic = p50_us::<Basic>(spec(&exp, 1, 1));
        assert_within_1pct(
            basic,
            modelled_us(&exp, |m| m.basic_ns()),
            &format!("basic, client in {region}"),
        );
    }
    // Client and leader both in us-east: Multi pays one quorum round trip (62 ms to us-west), Basic two.
    let exp = experiment("us-east", 0, 0.0);
    let multi = p50_us::<Multi>(spec(&exp, 1, 1));
    let basic = p50_us::<Basic>(spec(&exp, 1, 1));
    let rtt_us = 62_000.0;
    assert!(
        (basic - multi - rtt_us).abs() / rtt_us < 0.01,
        "basic {basic} us, multi {multi} us"
    );
}

/// Two regions whose links are short beside their jitter (0.25 ms local, 0.6 ms between, 0.5 ms of jitter),
/// where the k-th fastest of several jittered replies and the truncation of jitter at zero move the median far
/// from the jitter-free model: the model integrated over the jitter must still meet the simulator within 2%.
#[test]
fn with_jitter_the_integrated_model_meets_the_simulated_p50() {
    const LAN: &str = r#"
name = "jitter-model"
mode = "sim"
duration_s = 6
warmup_s = 1
seeds = [1]
[cluster]
replicas = ["a", "a", "b", "b", "b"]
clients = ["a"]
leader = 0
[network]
local_ms = 0.25
jitter_ms = 0.5
[[network.link]]
between = ["a", "b"]
ms = 0.6
[load]
mode = "closed"
clients = [1]
[sim]
cpu_us_per_msg = 5.0
[[variant]]
name = "multi"
"#;
    let exp = config::parse(LAN, Path::new("jitter-model.toml")).unwrap();
    let flexible = QuorumSystem::flexible(5, 4, 2).unwrap();
    let majority = exp.variants[0].quorums.clone();
    let links = LinkModel::new(&exp.network);
    let model = |quorums: &QuorumSystem, f: &dyn Fn(&ModelInput<'_>) -> u64| {
        let input = ModelInput {
            topology: &exp.topology,
            links: &links,
            quorums,
            cpu_ns: exp.cpu_per_msg.as_nanos() as u64,
            client: 0,
            jitter: None,
        };
        (
            crate::model::jitter::median_ns(&input, f) as f64 / 1000.0,
            f(&input) as f64 / 1000.0,
        )
    };
    let mut with_flexible = spec(&exp, 1, 1);
    with_flexible.quorums = flexible.clone();
    let cases = [
        (
            "multi",
            p50_us::<Multi>(spec(&exp, 1, 1)),
            model(&majority, &|m| m.multi_ns()),
        ),
        (
            "flexible q2=2",
            p50_us::<Flexible>(with_flexible),
            model(&flexible, &|m| m.multi_ns()),
        ),
        (
            "basic",
            p50_us::<Basic>(spec(&exp, 1, 1)),
            model(&majority, &|m| m.basic_ns()),
        ),
        (
            "fast (learned from the votes)",
            p50s_us::<Fast>(spec(&exp, 1, 1)).1,
            model(&majority, &|m| m.fast_commit_ns()),
        ),
    ];
    let mut far_from_flat = 0;
    for (what, measured, (integrated, flat)) in cases {
        eprintln!("{what}: simulated {measured} us, model {integrated} us (jitter-free {flat} us)");
        let err = (measured / integrated - 1.0).abs();
        assert!(
            err < 0.02,
            "{what}: simulated {measured} us, model {integrated} us"
        );
        if (measured / flat - 1.0).abs() > 0.05 {
            far_from_flat += 1;
        }
    }
    // The config is one where the jitter-free model is wrong, or the test would prove nothing.
    assert_eq!(
        far_from_flat, 4,
        "the jitter-free model was within 5% somewhere"
    );
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_does_not() {
    let mut exp = experiment("us-east", 0, 5.0);
    exp.network.jitter = Duration::from_millis(3);
    exp.network.loss = 0.05;
    let run = |seed| {
        let mut sim = Sim::<Multi>::new(spec(&exp, 8, seed));
        sim.run();
        let decided: Vec<String> = sim
            .history
            .chosen
            .iter()
            .map(|v| format!("{v:?}"))
            .collect();
        (
            sim.stats,
            sim.metrics.ops,
            decided,
            sim.metrics.latency_ns.value_at_quantile(0.99),
        )
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn a_busy_leader_queues_work() {
    // 5 replicas in one region, 64 clients: with 200 us per message the leader's CPU is the bottleneck, so
    // throughput is bounded by 1 / (cost x messages the leader handles per command) and latency grows.
    let text = r#"
name = "cpu"
mode = "sim"
duration_s = 3
warmup_s = 1
seeds = [1]
[cluster]
replicas = ["a", "a", "a", "a", "a"]
clients = ["a"]
[network]
local_ms = 0.1
[load]
mode = "closed"
clients = [64]
[sim]
cpu_us_per_msg = 200.0
[[variant]]
name = "multi"
batch_max = 1
"#;
    let exp = config::parse(text, Path::new("cpu.toml")).unwrap();
    let mut sim = Sim::<Multi>::new(spec(&exp, 64, 1));
    sim.run();
    let throughput = sim.metrics.ops as f64 / sim.metrics.window_s();
    // Without batching the leader handles 1 request + 4 acceptances per command: at most 1000 commands/s.
    assert!(throughput <= 1000.0 * 1.01, "throughput {throughput}");
    assert!(throughput > 600.0, "throughput {throughput}");
}

#[test]
fn a_crashed_replica_keeps_its_promises_and_the_cluster_goes_on() {
    let mut exp = experiment("us-east", 0, 5.0);
    exp.duration = Duration::from_secs(8);
    let mut s = spec(&exp, 4, 3);
    // Crash the leader, then a follower; restart both.
    s.faults = vec![
        (Duration::from_secs(2), SimFault::Crash(0)),
        (Duration::from_secs(3), SimFault::Crash(2)),
        (Duration::from_millis(4500), SimFault::Restart(0)),
        (Duration::from_millis(5000), SimFault::Restart(2)),
    ];
    let mut sim = Sim::<Multi>::new(s);
    let statuses = sim.run();
    verify(&mut sim.history, &statuses);
    assert!(
        sim.history.violations.is_empty(),
        "{:?}",
        sim.history.violations
    );
    assert_eq!(sim.stats.crashes, 2);
    assert_eq!(statuses.len(), 5);
    assert!(statuses.iter().any(|(_, st)| st.is_leader));
    // Commands kept completing after the leader died (a new leader took over).
    let late = sim
        .history
        .ops
        .iter()
        .flatten()
        .filter(|r| {
            r.completed
                .as_ref()
                .is_some_and(|(t, _)| *t > 4_000_000_000)
        })
        .count();
    assert!(late > 20, "only {late} commands completed after the crash");
}

#[test]
fn a_partitioned_minority_cannot_stop_the_majority() {
    let exp = experiment("us-east", 0, 5.0);
    let mut s = spec(&exp, 2, 5);
    s.faults = vec![(
        Duration::from_secs(1),
        SimFault::Partition(vec![vec![0, 1, 3], vec![2, 4]]),
    )];
    let mut sim = Sim::<Basic>::new(s);
    let statuses = sim.run();
    verify(&mut sim.history, &statuses);
    assert!(
        sim.history.violations.is_empty(),
        "{:?}",
        sim.history.violations
    );
    assert!(sim.metrics.ops > 20);
}

#[test]
fn flexible_p50_falls_as_q2_shrinks_and_matches_its_model() {
    let mut exp = experiment("us-east", 0, 5.0);
    let mut last = f64::MAX;
    let mut by_q2 = Vec::new();
    for q2 in (1..=5).rev() {
        exp.variants[0].name = "flexible".into();
        exp.variants[0].quorums = QuorumSystem::flexible(5, 6 - q2, q2).unwrap();
        let measured = p50_us::<Flexible>(spec(&exp, 1, 1));
        assert_within_1pct(
            measured,
            modelled_us(&exp, |m| m.multi_ns()),
            &format!("flexible q2 = {q2}"),
        );
        assert!(
            measured <= last * 1.001,
            "q2 = {q2}: {measured} us after {last} us"
        );
        last = measured;
        by_q2.push((q2, measured));
    }
    // From the us-east leader: q2 = 3 needs us-west (62 ms round trip), q2 = 2 only the other us-east replica.
    let p = |q: usize| {
        by_q2
            .iter()
            .find(|(q2, _)| *q2 == q)
            .map(|(_, p)| *p)
            .unwrap()
    };
    assert!(p(3) > 60_000.0 && p(2) < 2_000.0, "{by_q2:?}");
}

#[test]
fn fast_p50_matches_its_model_and_beats_multi_only_far_from_the_leader() {
    let mut by_region = Vec::new();
    for (region, leader, cpu) in [
        ("us-east", 0, 0.0),
        ("eu-west", 0, 5.0),
        ("us-west", 3, 20.0),
    ] {
        let mut exp = experiment(region, leader, cpu);
        let multi = p50_us::<Multi>(spec(&exp, 1, 1));
        exp.variants[0].name = "fast".into();
        exp.variants[0].quorums = QuorumSystem::fast(5, None, None).unwrap();
        let (fast, fast_commit) = p50s_us::<Fast>(spec(&exp, 1, 1));
        assert_within_1pct(
            fast,
            modelled_us(&exp, |m| m.fast_ns()),
            &format!("fast, client in {region}"),
        );
        // The client itself learns the command chosen from the acceptors' votes, two delays after sending.
        assert_within_1pct(
            fast_commit,
            modelled_us(&exp, |m| m.fast_commit_ns()),
            &format!("fast commit learned, client in {region}"),
        );
        assert!(fast_commit < fast, "{fast_commit} vs {fast}");
        by_region.push((region, multi, fast));
    }
    // Client beside the leader: Multi waits for one quorum round trip (62 ms), Fast for a fast quorum of 4 of
    // 5, which needs eu-west (76 ms): Multi is faster. Client in eu-west, leader in us-east: Multi pays the
    // client leg twice plus the round trip, Fast the client leg twice only: Fast is faster.
    let (_, m_east, f_east) = by_region[0];
    let (_, m_eu, f_eu) = by_region[1];
    assert!(m_east < f_east, "{by_region:?}");
    assert!(f_eu < m_eu, "{by_region:?}");
}

#[test]
fn cheap_p50_matches_its_model_and_it_sends_fewer_messages_than_multi() {
    for (region, leader, cpu) in [
        ("us-east", 0, 0.0),
        ("eu-west", 0, 5.0),
        ("us-east", 1, 20.0),
    ] {
        let mut exp = experiment(region, leader, cpu);
        let mut multi = Sim::<Multi>::new(spec(&exp, 1, 1));
        multi.run();
        exp.variants[0].name = "cheap".into();
        exp.variants[0].quorums = QuorumSystem::cheap(5, None).unwrap();
        let cheap = p50_us::<paxos_variants::cheap::Cheap>(spec(&exp, 1, 1));
        assert_within_1pct(
            cheap,
            modelled_us(&exp, |m| m.cheap_ns()),
            &format!("cheap, client in {region}"),
        );
        let mut sim = Sim::<paxos_variants::cheap::Cheap>::new(spec(&exp, 1, 1));
        sim.run();
        let per_op = |m: &Metrics| m.total_messages().count as f64 / m.ops as f64;
        let (c, m) = (per_op(&sim.metrics), per_op(&multi.metrics));
        assert!(c < m, "cheap {c} messages per op, multi {m}");
    }
}

/// Cheap Paxos on the five-replica WAN config (16 clients, seed 1) with `faults`, checked: the finished run and
/// the reconfigurations its replicas count.
fn checked_cheap_run(faults: &[(Duration, SimFault)]) -> (Sim<paxos_variants::cheap::Cheap>, u64) {
    let mut exp = experiment("us-east", 0, 5.0);
    exp.variants[0].name = "cheap".into();
    exp.variants[0].quorums = QuorumSystem::cheap(5, None).unwrap();
    let mut s = spec(&exp, 16, 1);
    s.faults.extend_from_slice(faults);
    let mut sim = Sim::<paxos_variants::cheap::Cheap>::new(s);
    let statuses = sim.run();
    verify(&mut sim.history, &statuses);
    assert!(
        sim.history.violations.is_empty(),
        "{:?}",
        sim.history.violations
    );
    let reconfigs = statuses
        .iter()
        .map(|(_, st)| st.counters.reconfigurations)
        .sum();
    (sim, reconfigs)
}

#[test]
fn cheap_paxos_configures_a_crashed_main_out_and_commits_again_at_full_rate() {
    let (sim, reconfigs) = checked_cheap_run(&[(Duration::from_secs(3), SimFault::Crash(1))]);
    assert_eq!(reconfigs, 1);
    // 100 ms buckets: a stall of a few buckets after 3 s, then every bucket commits again.
    let t = &sim.metrics.timeline;
    let stalled = (30..40)
        .filter(|&i| t.get(i).copied().unwrap_or(0) == 0)
        .count();
    assert!((1..=5).contains(&stalled), "{:?}", &t[28..45]);
    assert!(
        (40..58).all(|i| t.get(i).copied().unwrap_or(0) > 0),
        "{:?}",
        &t[38..60]
    );
}

/// The paper's repaired replica: a main configured out after a crash comes back after its restart, within a
/// bounded time, and the configuration is the first one again (the auxiliaries idle).
#[test]
fn cheap_paxos_brings_a_returning_main_back() {
    let first = match QuorumSystem::cheap(5, None).unwrap() {
        QuorumSystem::Cheap { n, mains } => paxos_variants::quorum::Membership {
            members: paxos_variants::NodeSet::all(n),
            mains,
        },
        ref q => panic!("not a Cheap Paxos system: {q:?}"),
    };
    let (sim, reconfigs) = checked_cheap_run(&[
        (Duration::from_secs(2), SimFault::Crash(1)),
        (Duration::from_secs(3), SimFault::Restart(1)),
    ]);
    let configs: Vec<paxos_variants::quorum::Membership> = sim
        .history
        .chosen
        .iter()
        .flatten()
        .filter_map(|v| match v {
            paxos_variants::Value::Config(m) => Some(*m),
            _ => None,
        })
        .collect();
    assert_eq!(
        configs,
        vec![first.without(NodeId(1)), first],
        "configured out, then back in"
    );
    assert_eq!(reconfigs, 2);
    // Back within the 3 s left after the restart, and committing in every 100 ms bucket of the last second.
    let t = &sim.metrics.timeline;
    assert!(
        (50..60).all(|i| t.get(i).copied().unwrap_or(0) > 0),
        "{:?}",
        &t[28..60]
    );
}

/// The checker's scenario of `seed` (every fault kind, reads through the log), ready to run.
fn faulty_sim<V: Variant>(seed: u64) -> Sim<V> {
    use crate::check::scenario::{scenario, FaultKinds};
    Sim::<V>::new(scenario(
        seed,
        FaultKinds::all(),
        Mutation::None,
        V::NAME,
        paxos_variants::ReadPath::Log,
    ))
}

/// A digest of one faulty run: its decided log (wire encoding) and its counters.
fn trace_digest<V: Variant>(seed: u64) -> u64 {
    let mut sim = faulty_sim::<V>(seed);
    sim.run();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
        }
    };
    for v in &sim.history.chosen {
        eat(&postcard::to_allocvec(v).unwrap());
    }
    let s = sim.stats;
    for x in [
        s.events,
        s.deliveries,
        s.dropped,
        s.duplicated,
        s.crashes,
        s.restarts,
        s.end_ns,
    ] {
        eat(&x.to_le_bytes());
    }
    h
}

/// Tripwires: one faulty seed per variant pins the whole trace. A change to a protocol's behaviour, the
/// simulator's event order or the random streams moves these; update them deliberately, saying why.
#[test]
fn one_seed_per_variant_pins_its_trace() {
    let got = [
        trace_digest::<Multi>(42),
        trace_digest::<Basic>(42),
        trace_digest::<Flexible>(42),
        trace_digest::<Fast>(42),
        trace_digest::<paxos_variants::cheap::Cheap>(42),
    ];
    assert_eq!(
        got,
        [
            6758831970781667278,
            5235022920316541020,
            4573762134064234333,
            4735195363803601715,
            10732238133061197953
        ],
        "trace digests moved"
    );
}

/// What a replica hands over as records is all of its durable state: folding them, in order, from empty gives
/// exactly the state the replica holds, for every variant, at the end of a faulty run.
type DurableOf<V> = <<V as Variant>::Replica as paxos_variants::Replica>::Durable;

fn disk_matches_memory<V: Variant>(seed: u64) {
    let mut sim = faulty_sim::<V>(seed);
    sim.run();
    let mut live = 0;
    for node in &sim.nodes {
        if let Some(r) = &node.replica {
            assert_eq!(r.durable(), &node.disk, "{} seed {seed}", V::NAME);
            // A log rewritten as the state's checkpoint reads back as the same state.
            let again: DurableOf<V> = paxos_variants::journal::replay(node.disk.checkpoint());
            assert_eq!(again, node.disk, "{} seed {seed}: checkpoint", V::NAME);
            live += 1;
        }
    }
    assert!(live > 0);
    assert!(
        sim.history.violations.is_empty(),
        "{:?}",
        sim.history.violations
    );
}

#[test]
fn every_variant_persists_all_of_its_durable_state_as_records() {
    for seed in [3, 42] {
        disk_matches_memory::<Multi>(seed);
        disk_matches_memory::<Basic>(seed);
        disk_matches_memory::<Flexible>(seed);
        disk_matches_memory::<Fast>(seed);
        disk_matches_memory::<paxos_variants::cheap::Cheap>(seed);
        disk_matches_memory::<paxos_variants::raft::Raft>(seed);
    }
}

/// With log compaction, what a replica holds stays bounded however long the run: 60 s of virtual time and
/// thousands of slots end with every replica of every variant holding at most `log_keep + compact_every`
/// decided values and as many acceptor entries (plus what is in flight), while with compaction off a replica
/// holds every slot. A replica down for 20 s comes back through a snapshot, and every run checks.
#[test]
fn compaction_keeps_what_a_replica_holds_bounded_and_a_restarted_one_catches_up() {
    let mut exp = experiment("us-east", 0, 5.0);
    exp.duration = Duration::from_secs(60);
    exp.faults = vec![
        config::Fault {
            at: Duration::from_secs(10),
            action: config::FaultAction::Crash(2),
        },
        config::Fault {
            at: Duration::from_secs(30),
            action: config::FaultAction::Restart(2),
        },
    ];
    let mut spec = spec(&exp, 64, 1);
    spec.tuning.log_keep = 64;
    spec.tuning.compact_every = 256;
    bounded_with_compaction::<Multi>(&spec);
    bounded_with_compaction::<Basic>(&spec);
    bounded_with_compaction::<Fast>(&spec);
    bounded_with_compaction::<paxos_variants::cheap::Cheap>(&spec);
    bounded_with_compaction::<paxos_variants::raft::Raft>(&spec);
    let mut off = spec;
    off.tuning.compact_every = 0;
    let (keep, every) = (off.tuning.log_keep as u64, 256);
    let held = Sim::<Multi>::new(off)
        .run()
        .iter()
        .map(|(_, s)| s.held_entries)
        .max()
        .unwrap_or(0);
    assert!(
        held > 4 * (keep + every),
        "without compaction multi holds {held}"
    );
}

fn bounded_with_compaction<V: Variant>(spec: &SimSpec) {
    let (keep, every) = (
        spec.tuning.log_keep as u64,
        spec.tuning.compact_every as u64,
    );
    let mut sim = Sim::<V>::new(spec.clone());
    let statuses = sim.run();
    verify(&mut sim.history, &statuses);
    let name = V::NAME;
    assert!(
        sim.history.violations.is_empty(),
        "{name}: {:?}",
        sim.history.violations
    );
    let slots = sim.history.chosen.len() as u64;
    assert!(slots > 4 * (keep + every), "{name}: only {slots} slots");
    assert_eq!(statuses.len(), 5);
    for (id, st) in &statuses {
        let bound = 2 * (keep + every) + 2 * spec.tuning.max_inflight as u64;
        assert!(
            st.held_entries <= bound,
            "{name}: {id:?} holds {} (bound {bound})",
            st.held_entries
        );
        assert!(
            st.applied_upto.0 + keep + every >= slots,
            "{name}: {id:?} lags: {st:?}"
        );
    }
    let snapshots = sim.metrics.by_kind.iter().find(|(k, _)| **k == "snapshot");
    assert!(
        snapshots.is_some_and(|(_, c)| c.count > 0),
        "{name}: no snapshot was sent"
    );
}
