//! The CI gate on handler cost: instructions executed (callgrind, through gungraun) replaying each variant's
//! recorded leader and follower traces. Instruction counts, unlike wall-clock time, repeat on a shared,
//! noisy machine, so a limit can be tight: each replay may execute at most 5% more instructions than the
//! committed baseline in `handler_ir_baseline.toml` (gungraun exits 3 otherwise).
//!
//! `scripts/handler-cost.sh` runs it (and installs gungraun-runner); `scripts/handler-cost.sh --update`
//! rewrites the baseline, in a commit that says why handler cost moved.

use gungraun::{
    library_benchmark, library_benchmark_group, main, Callgrind, EventKind, LibraryBenchmarkConfig,
};
use paxos_harness::calibrate::{gate_experiment, record, replay_untimed, Recording, Role};
use paxos_variants::basic::Basic;
use paxos_variants::cheap::Cheap;
use paxos_variants::epaxos::Epaxos;
use paxos_variants::fast::Fast;
use paxos_variants::flexible::Flexible;
use paxos_variants::multi::Multi;
use paxos_variants::raft::Raft;
use paxos_variants::Variant;
use std::hint::black_box;

/// How far above the baseline a replay's instruction count may go.
const ALLOWED: f64 = 1.05;

const BASELINE: &str = include_str!("handler_ir_baseline.toml");

/// The limit for one benchmark id, from the committed baseline (none while updating it, or for a new id).
fn limit(id: &str) -> LibraryBenchmarkConfig {
    let mut config = LibraryBenchmarkConfig::default();
    let baseline = BASELINE.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim().trim_matches('"') == id).then(|| v.trim().parse::<u64>().ok())?
    });
    if std::env::var_os("PAXOS_IR_UPDATE").is_some() {
        return config;
    }
    // A benchmark without a baseline would pass unchecked: refuse it until the baseline is updated.
    let Some(ir) = baseline else {
        panic!("no baseline for `{id}` in handler_ir_baseline.toml: run scripts/handler-cost.sh --update");
    };
    let max = (ir as f64 * ALLOWED) as u64;
    config.tool(Callgrind::default().hard_limits([(EventKind::Ir, max)]));
    config
}

/// Fewest commands a recorded trace must hold: a replay that shrank (a variant that stopped working) would
/// otherwise pass the upper limit with room to spare.
const MIN_COMMANDS: u64 = 2_000;

fn rec<V: Variant>(role: Role) -> Recording<V> {
    let r = record::<V>(&gate_experiment(), role);
    assert!(
        r.commands >= MIN_COMMANDS,
        "{} {}: only {} commands completed in the recorded run (at least {MIN_COMMANDS} expected)",
        V::NAME,
        role.as_str(),
        r.commands
    );
    r
}

#[library_benchmark]
#[bench::multi_leader(args = (Role::Leader), setup = rec::<Multi>, config = limit("multi_leader"))]
#[bench::multi_follower(args = (Role::Follower), setup = rec::<Multi>, config = limit("multi_follower"))]
fn replay_multi(r: Recording<Multi>) -> u64 {
    black_box(replay_untimed(&r))
}

#[library_benchmark]
#[bench::basic_leader(args = (Role::Leader), setup = rec::<Basic>, config = limit("basic_leader"))]
#[bench::basic_follower(args = (Role::Follower), setup = rec::<Basic>, config = limit("basic_follower"))]
fn replay_basic(r: Recording<Basic>) -> u64 {
    black_box(replay_untimed(&r))
}

#[library_benchmark]
#[bench::flexible_leader(args = (Role::Leader), setup = rec::<Flexible>, config = limit("flexible_leader"))]
#[bench::flexible_follower(args = (Role::Follower), setup = rec::<Flexible>, config = limit("flexible_follower"))]
fn replay_flexible(r: Recording<Flexible>) -> u64 {
    black_box(replay_untimed(&r))
}

#[library_benchmark]
#[bench::fast_leader(args = (Role::Leader), setup = rec::<Fast>, config = limit("fast_leader"))]
#[bench::fast_follower(args = (Role::Follower), setup = rec::<Fast>, config = limit("fast_follower"))]
fn replay_fast(r: Recording<Fast>) -> u64 {
    black_box(replay_untimed(&r))
}

#[library_benchmark]
#[bench::cheap_leader(args = (Role::Leader), setup = rec::<Cheap>, config = limit("cheap_leader"))]
#[bench::cheap_follower(args = (Role::Follower), setup = rec::<Cheap>, config = limit("cheap_follower"))]
fn replay_cheap(r: Recording<Cheap>) -> u64 {
    black_box(replay_untimed(&r))
}

#[library_benchmark]
#[bench::raft_leader(args = (Role::Leader), setup = rec::<Raft>, config = limit("raft_leader"))]
#[bench::raft_follower(args = (Role::Follower), setup = rec::<Raft>, config = limit("raft_follower"))]
fn replay_raft(r: Recording<Raft>) -> u64 {
    black_box(replay_untimed(&r))
}

#[library_benchmark]
#[bench::epaxos_leader(args = (Role::Leader), setup = rec::<Epaxos>, config = limit("epaxos_leader"))]
#[bench::epaxos_follower(args = (Role::Follower), setup = rec::<Epaxos>, config = limit("epaxos_follower"))]
fn replay_epaxos(r: Recording<Epaxos>) -> u64 {
    black_box(replay_untimed(&r))
}

library_benchmark_group!(
    name = handlers;
    benchmarks = replay_multi, replay_basic, replay_flexible, replay_fast, replay_cheap, replay_raft,
        replay_epaxos
);

main!(library_benchmark_groups = handlers);
