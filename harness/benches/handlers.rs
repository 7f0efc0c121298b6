//! Handler micro-benchmarks (criterion): each variant's leader and follower replaying a recorded run (decode,
//! handler, encode of what it sends; per input), the frame codec on a batch-carrying message, and the quorum
//! checks. `paxos-bench calibrate` measures the same replays to write the simulator's cost profile.
//! Run with `cargo bench -p paxos-harness --bench handlers`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use paxos_harness::calibrate::{calibration_experiment, record, replay, Recording, Role};
use paxos_harness::net::frame;
use paxos_harness::sim::Input;
use paxos_harness::{registry, with_variant};
use paxos_variants::{NodeId, NodeSet, QuorumSystem, Variant};
use std::hint::black_box;

fn bench_variant<V: Variant>(c: &mut Criterion) {
    let exp = calibration_experiment();
    let mut group = c.benchmark_group(format!("handlers/{}", V::NAME));
    group.sample_size(10);
    for role in [Role::Leader, Role::Follower] {
        let rec: Recording<V> = record::<V>(&exp, role);
        // Per input handled; the per-command figure is this times inputs / commands.
        group.throughput(Throughput::Elements(rec.trace.len() as u64));
        group.bench_function(
            format!(
                "{} ({} inputs, {} commands)",
                role.as_str(),
                rec.trace.len(),
                rec.commands
            ),
            |b| b.iter(|| black_box(replay(&rec, |_, _| {}))),
        );
    }
    group.finish();
}

fn codec(c: &mut Criterion) {
    let exp = calibration_experiment();
    let rec = record::<paxos_variants::multi::Multi>(&exp, Role::Follower);
    // The largest message the follower received: a batch-carrying Accept.
    let msg = rec
        .trace
        .iter()
        .filter_map(|(_, i)| match i {
            Input::Msg(_, m) => Some(m.clone()),
            Input::Timer(_) => None,
        })
        .max_by_key(paxos_harness::wire::frame_len)
        .unwrap_or_else(|| unreachable!("a recorded follower received messages"));
    let bytes = frame::encode(&msg).unwrap_or_default();
    let mut group = c.benchmark_group("frame_codec");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(format!("encode ({} B frame)", bytes.len()), |b| {
        b.iter(|| black_box(frame::encode(black_box(&msg))))
    });
    group.bench_function(format!("decode ({} B frame)", bytes.len()), |b| {
        b.iter(|| {
            black_box(frame::decode::<paxos_variants::multi::MultiMsg>(black_box(
                &bytes[4..],
            )))
        })
    });
    group.finish();
}

fn quorums(c: &mut Criterion) {
    let systems = [
        ("majority-5", QuorumSystem::majority(5)),
        ("flexible-7-q1=5-q2=3", QuorumSystem::flexible(7, 5, 3)),
        ("grid-3x3", QuorumSystem::grid(9, 3, 3)),
        ("fast-5", QuorumSystem::fast(5, None, None)),
    ];
    let mut group = c.benchmark_group("quorum_check");
    for (name, q) in systems {
        let Ok(q) = q else {
            unreachable!("constant, safe quorum systems")
        };
        let n = q.n() as u32;
        group.bench_function(name, |b| {
            b.iter_batched(
                || (0..n).map(NodeId).collect::<Vec<_>>(),
                |ids| {
                    // Acks arriving one by one, checked after each, as a leader does.
                    let mut acks = NodeSet::EMPTY;
                    let mut met = 0;
                    for id in ids {
                        acks.insert(id);
                        met += q.is_phase2_quorum(black_box(acks)) as u32;
                        met += q.is_phase1_quorum(black_box(acks)) as u32;
                    }
                    met
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// Every variant in the registry, so a new one is benchmarked by its registry line.
fn handlers(c: &mut Criterion) {
    for v in registry::VARIANTS {
        with_variant!(v.name, V => bench_variant::<V>(c));
    }
}

criterion_group!(benches, handlers, codec, quorums);
criterion_main!(benches);
