//! Simulator speed: simulated message deliveries per second of wall time on one core, for 5 replicas in three
//! regions and 64 closed-loop clients (the wan-3region placement). Criterion reports it as "elements/s".
//! Run with `cargo bench -p paxos-harness --bench sim_speed`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use paxos_harness::config;
use paxos_harness::experiment::{plan, sim_spec_for};
use paxos_harness::sim::Sim;
use paxos_harness::with_variant;
use paxos_variants::Variant;
use std::path::Path;

fn deliveries<V: Variant>(spec: &paxos_harness::sim::SimSpec) -> u64 {
    let mut sim = Sim::<V>::new(spec.clone());
    sim.run();
    sim.stats.deliveries
}

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-configs/wan-3region.toml");
    let mut exp = config::load(&path).expect("bench-configs/wan-3region.toml must be valid");
    exp.duration = std::time::Duration::from_secs(5);
    exp.warmup = std::time::Duration::from_secs(1);
    exp.client_counts = vec![64];
    let mut group = c.benchmark_group("sim_speed_5_replicas_64_clients");
    group.sample_size(10);
    for p in plan(&exp).iter().filter(|p| p.seed == exp.seeds[0]) {
        let spec = sim_spec_for(&exp, p);
        let name = exp.variants[p.variant].name.clone();
        let n = with_variant!(name.as_str(), V => deliveries::<V>(&spec))
            .expect("variant names in a validated config dispatch");
        group.throughput(Throughput::Elements(n));
        group.bench_function(&name, |b| {
            b.iter(|| with_variant!(name.as_str(), V => deliveries::<V>(&spec)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
