//! Tripwires for restructuring: digests of what the simulator and the checker produce, per variant, pinned in
//! `tests/tripwire/*.txt`. Moving code (roles, drivers, registries) must leave every digest byte-identical; a
//! change of behaviour shows up here as the exact (config, variant) rows or checker seeds that moved.
//!
//! Pinned:
//! - for the built-in default config and `bench-configs/` failover, quorum-sweep, contention and wan-5region,
//!   run in the simulator: each run's `results.csv`, `messages.csv`, `timeseries.csv` and `replicas.csv` rows
//!   and notes, folded per variant label;
//! - for seeds 1..=200 of `paxos-bench check --faults all`: each seed's violations, operation and decision
//!   counts and simulator statistics (events, deliveries, drops, duplicates, crashes, restarts, end time),
//!   folded per variant.
//!
//! `TRIPWIRE_UPDATE=1 cargo test --test tripwire` rewrites the files; a commit that does so says why.

use paxos_harness::check::runner::{check_seed, Trial};
use paxos_harness::check::scenario::FaultKinds;
use paxos_harness::config::{self, Mode};
use paxos_harness::experiment::{plan, run_one};
use paxos_harness::results::{
    render_messages_csv, render_replicas_csv, render_results_csv, render_timeseries_csv,
};
use paxos_harness::with_variant;
use paxos_variants::{Mutation, ReadPath, VARIANT_NAMES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// FNV-1a, 64 bits: stable across Rust releases and platforms, unlike the standard library's hasher.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn eat(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn pinned_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("tripwire")
        .join(format!("{name}.txt"))
}

/// Compares `got` (key -> digest) with the pinned file, or rewrites it under `TRIPWIRE_UPDATE=1`.
fn pin(name: &str, got: &BTreeMap<String, String>) {
    let path = pinned_file(name);
    let text: String = got.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    if std::env::var_os("TRIPWIRE_UPDATE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let want: BTreeMap<String, String> = pinned
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let moved: Vec<String> = want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| want.get(*k) != got.get(*k))
        .map(|k| {
            format!(
                "  {k}: pinned {} now {}",
                want.get(k).map_or("(none)", String::as_str),
                got.get(k).map_or("(none)", String::as_str)
            )
        })
        .collect();
    assert!(
        moved.is_empty(),
        "tripwire {name} moved ({}):\n{}",
        path.display(),
        moved.join("\n")
    );
}

/// Runs every planned run of a config in the simulator and digests the result rows per variant label.
fn results_digests(name: &str, text: &str) -> BTreeMap<String, String> {
    let exp = config::parse_as(text, Path::new(name), Some(Mode::Sim))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut per_label: BTreeMap<String, Fnv> = BTreeMap::new();
    for p in plan(&exp) {
        let r = run_one(&exp, &p).unwrap_or_else(|e| panic!("{name}: {e}"));
        let h = per_label
            .entry(format!("{}/{}", r.row.protocol, r.row.variant))
            .or_insert_with(Fnv::new);
        let one = std::slice::from_ref(&r);
        h.eat(&render_results_csv(one).unwrap());
        h.eat(&render_messages_csv(one).unwrap());
        h.eat(&render_timeseries_csv(one).unwrap());
        h.eat(&render_replicas_csv(one).unwrap());
        for n in &r.notes {
            h.eat(n.as_bytes());
        }
    }
    per_label
        .into_iter()
        .map(|(k, h)| (k, format!("{:016x}", h.0)))
        .collect()
}

fn bench_config(file: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("bench-configs")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (file.to_string(), text)
}

#[test]
fn default_config_results_are_pinned() {
    let got = results_digests("default", paxos_harness::jobs::DEFAULT_CONFIG);
    pin("default", &got);
}

#[test]
fn failover_results_are_pinned() {
    let (name, text) = bench_config("failover.toml");
    pin("failover", &results_digests(&name, &text));
}

#[test]
fn quorum_sweep_results_are_pinned() {
    let (name, text) = bench_config("quorum-sweep.toml");
    pin("quorum-sweep", &results_digests(&name, &text));
}

#[test]
fn contention_results_are_pinned() {
    let (name, text) = bench_config("contention.toml");
    pin("contention", &results_digests(&name, &text));
}

#[test]
fn wan_5region_results_are_pinned() {
    let (name, text) = bench_config("wan-5region.toml");
    pin("wan-5region", &results_digests(&name, &text));
}

/// Seeds 1..=200 of the checker with every fault kind: one digest per variant over every seed's outcome.
#[test]
fn checker_outcomes_over_200_faulty_seeds_are_pinned() {
    let mut got = BTreeMap::new();
    for name in VARIANT_NAMES {
        let digest = with_variant!(*name, V => {
            let mut h = Fnv::new();
            let mut failing = 0;
            for seed in 1..=200u64 {
                let o = check_seed::<V>(
                    seed,
                    Trial {
                        faults: FaultKinds::all(),
                        mutation: Mutation::None,
                        path: ReadPath::Log,
                    },
                );
                failing += usize::from(!o.violations.is_empty());
                h.eat(
                    format!(
                        "{seed} {:?} {} {} {} {:?}\n",
                        o.violations, o.issued, o.completed, o.decisions, o.stats
                    )
                    .as_bytes(),
                );
            }
            assert_eq!(failing, 0, "{name}: {failing} of 200 seeds failed the checker");
            format!("{:016x}", h.0)
        })
        .unwrap();
        got.insert(format!("check/{name}"), digest);
    }
    pin("checker", &got);
}
