//! The safety checker, end to end: every variant passes 500 seeds with every fault kind, and every kept mutant
//! is caught (through the library, and through `paxos-bench check --mutant` with its replay line).

use paxos_harness::check::runner::{check_seeds, Trial};
use paxos_harness::check::scenario::FaultKinds;
use paxos_harness::check::Violation;
use paxos_harness::{registry, with_variant};
use paxos_variants::multi::Multi;
use paxos_variants::{Mutation, ReadPath, Variant};
use std::process::Command;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paxos-bench"))
}

#[test]
fn every_variant_passes_500_seeds_with_all_faults() {
    let out = bench()
        .args([
            "check",
            "--variant",
            "all",
            "--seeds",
            "500",
            "--faults",
            "all",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for v in paxos_variants::VARIANT_NAMES {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("check {v}:")))
            .unwrap_or_else(|| panic!("no summary line for {v}: {stdout}"));
        assert!(
            line.contains("500 seeds") && line.contains(" 0 violating seed(s)"),
            "{line}"
        );
        // The faults really happened.
        for word in ["crashes", "partitions", "duplicated", "dropped"] {
            let n: u64 = line
                .split(" | ")
                .nth(1)
                .and_then(|part| part.split(", ").find(|f| f.ends_with(word)))
                .and_then(|f| f.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(n > 0, "no {word} in {line}");
        }
    }
}

fn trial(mutation: Mutation, path: ReadPath) -> Trial {
    Trial {
        faults: FaultKinds::all(),
        mutation,
        path,
    }
}

fn caught<V: Variant>(mutation: Mutation) -> Vec<u64> {
    caught_within::<V>(mutation, 500)
}

/// The failing seeds among 1..=`seeds` (the search stops at the first).
fn caught_within<V: Variant>(mutation: Mutation, seeds: u64) -> Vec<u64> {
    let seeds: Vec<u64> = (1..=seeds).collect();
    let path = mutation.read_path().unwrap_or(ReadPath::Log);
    let s = check_seeds::<V>(&seeds, trial(mutation, path), 2, true, None, &|| {});
    s.failing.iter().map(|o| o.seed).collect()
}

/// The read-path mutants are refuted from the clients' history alone, within 200 seeds, on every variant that
/// offers the path; and the same seeds pass without the mutant.
#[test]
fn read_path_mutants_are_refuted_by_the_black_box_alone() {
    let mut missed = Vec::new();
    for v in registry::VARIANTS {
        for m in [
            Mutation::LeaseReadAfterExpiry,
            Mutation::QuorumReadBeforeApply,
        ] {
            let Some(path) = m.read_path().filter(|p| v.read_paths.contains(p)) else {
                continue;
            };
            let seeds: Vec<u64> = (1..=200).collect();
            let run = |m| {
                with_variant!(v.name, V => check_seeds::<V>(&seeds, trial(m, path), 2, false, None, &|| {}))
                    .unwrap_or_else(|| panic!("{} does not dispatch", v.name))
            };
            let broken = run(m);
            let refuted: Vec<u64> = broken
                .failing
                .iter()
                .filter(|o| {
                    o.violations
                        .iter()
                        .any(|x| matches!(x, Violation::NotLinearizable { .. }))
                })
                .map(|o| o.seed)
                .collect();
            if refuted.is_empty() {
                missed.push(format!("{} {m:?}", v.name));
                continue;
            }
            let clean = with_variant!(v.name, V => check_seeds::<V>(&refuted, trial(Mutation::None, path), 2, false, None, &|| {}))
                .unwrap_or_else(|| panic!("{} does not dispatch", v.name));
            assert!(
                clean.failing.is_empty(),
                "{} {path} fails without the mutant",
                v.name
            );
        }
    }
    assert!(
        missed.is_empty(),
        "not refuted by the black box within 200 seeds: {missed:?}"
    );
}

/// Every mutant the registry lists for a variant is caught within its seed range: the checker can fail, for
/// every kind of bug it is meant to see. A new variant's mutants join this test by their registry line.
#[test]
fn every_registered_mutant_is_caught_within_its_seeds() {
    let mut missed = Vec::new();
    for v in registry::VARIANTS {
        for &(mutation, seeds) in v.mutants {
            let failing = with_variant!(v.name, V => caught_within::<V>(mutation, seeds))
                .unwrap_or_else(|| panic!("{} does not dispatch", v.name));
            if failing.is_empty() {
                missed.push(format!("{} {mutation:?} within {seeds} seeds", v.name));
            }
        }
    }
    assert!(missed.is_empty(), "mutants not caught: {missed:?}");
}

#[test]
fn every_variant_has_a_mutant_and_each_mutant_is_registered() {
    let mut registered = std::collections::BTreeSet::new();
    for v in registry::VARIANTS {
        assert!(
            !v.mutants.is_empty(),
            "{} has no mutant for the checker to catch",
            v.name
        );
        registered.extend(v.mutants.iter().map(|(m, _)| format!("{m:?}")));
    }
    for m in Mutation::ALL {
        assert!(
            registered.contains(&format!("{m:?}")),
            "{m:?} is in no variant's registry line"
        );
    }
}

#[test]
fn an_acceptor_that_answers_without_persisting_its_promise_is_caught_for_that_reason() {
    let failing = caught::<Multi>(Mutation::AnswerWithoutPersisting);
    assert!(!failing.is_empty());
    // The same seeds pass without the mutant, so it is the unpersisted promise that the checker sees.
    let seeds: Vec<u64> = failing.iter().copied().take(20).collect();
    let clean = check_seeds::<Multi>(
        &seeds,
        trial(Mutation::None, ReadPath::Log),
        2,
        true,
        None,
        &|| {},
    );
    assert!(clean.failing.is_empty());
}

#[test]
fn the_cli_reports_a_violating_seed_with_its_replay_command_and_exits_1() {
    let out = bench()
        .args([
            "check",
            "--variant",
            "multi",
            "--seeds",
            "20",
            "--mutant",
            "ignore-promised-values",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let seed_line = stdout
        .lines()
        .find(|l| l.contains("VIOLATION seed"))
        .expect("a violation");
    assert!(
        seed_line.contains("agreement") || seed_line.contains("linearizability"),
        "{seed_line}"
    );
    let replay = stdout
        .lines()
        .find(|l| l.contains("replay:"))
        .expect("a replay line");
    // The replay command reproduces the failure on its own.
    let args: Vec<&str> = replay
        .split("paxos-bench ")
        .nth(1)
        .unwrap()
        .split(' ')
        .collect();
    let again = bench().args(&args).output().unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn an_unknown_variant_or_fault_kind_is_refused() {
    for (args, needle) in [
        (["check", "--variant", "zab"], "unknown variant `zab`"),
        (
            ["check", "--faults", "meteor"],
            "unknown fault kind `meteor`",
        ),
    ] {
        let out = bench().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// `check --history-dir` writes every seed's client history as Jepsen files, and `check-history` on them gives
/// the verdicts of the black-box checker inside `check`: on a clean variant every file is linearizable, and
/// under a mutant the seeds with a refuted file are as many as `check` says the black box refuted.
#[test]
fn exported_histories_get_the_same_verdicts_from_check_history() {
    let dir = std::env::temp_dir().join(format!("paxos-bench-hist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (mutant, sub) in [(None, "clean"), (Some("ignore-promised-values"), "mutant")] {
        let d = dir.join(sub);
        let mut cmd = bench();
        cmd.args([
            "check",
            "--variant",
            "multi",
            "--reads",
            "log",
            "--seeds",
            "100",
            "--history-dir",
        ])
        .arg(&d);
        if let Some(m) = mutant {
            cmd.args(["--mutant", m]);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let refuted: usize = stdout
            .split(" refuted by the black box")
            .next()
            .and_then(|head| head.rsplit(", ").next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no black-box count: {stdout}"));
        let files: Vec<std::path::PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            files.len() >= 100,
            "one file per seed and key: {}",
            files.len()
        );
        let out = bench().arg("check-history").args(&files).output().unwrap();
        let verdicts = String::from_utf8_lossy(&out.stdout).to_string();
        let mut bad_seeds: Vec<&str> = verdicts
            .lines()
            .filter(|l| l.contains("NOT linearizable"))
            .filter_map(|l| l.split("-seed-").nth(1)?.split("-key-").next())
            .collect();
        bad_seeds.sort();
        bad_seeds.dedup();
        assert_eq!(bad_seeds.len(), refuted, "{stdout}\n{verdicts}");
        match mutant {
            None => {
                // The scenarios' compare-and-set commands were in these histories, both outcomes of them.
                let all: String = files
                    .iter()
                    .map(|f| std::fs::read_to_string(f).unwrap())
                    .collect();
                assert!(
                    all.contains(":ok\t:cas\t["),
                    "no successful compare-and-set"
                );
                assert!(all.contains(":fail\t:cas\t["), "no failed compare-and-set");
                assert_eq!(refuted, 0);
                assert_eq!(out.status.code(), Some(0), "{verdicts}");
            }
            Some(_) => {
                assert!(refuted > 0, "the mutant was not refuted: {stdout}");
                assert_eq!(out.status.code(), Some(1));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Seeds split over shards (`check --seed-shard`, one pod each on Kubernetes) merge to exactly the summary one
/// unsharded run of the same seeds writes, violations included.
#[test]
fn sharded_checks_merge_to_the_unsharded_summary() {
    let dir = std::env::temp_dir().join(format!("shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let common = [
        "check",
        "--variant",
        "multi",
        "--reads",
        "log",
        "--seeds",
        "40",
        "--first-seed",
        "5",
        "--mutant",
        "ignore-promised-values",
    ];
    let whole = dir.join("whole.json");
    let out = bench()
        .args(common)
        .arg("--summary")
        .arg(&whole)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the mutant is caught");
    let mut shards = Vec::new();
    for i in [2, 0, 1] {
        let d = dir.join(format!("shard-{i}"));
        let out = bench()
            .args(common)
            .args(["--seed-shard", &format!("{i}/3"), "--summary"])
            .arg(&d)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("shard {i}/3: ")), "{stdout}");
        shards.push(d);
    }
    let merged = dir.join("merged.json");
    let out = bench()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("seeds 5..=44"), "{stdout}");
    assert!(stdout.contains("VIOLATION seed"), "{stdout}");
    let a: serde_json::Value = serde_json::from_slice(&std::fs::read(&whole).unwrap()).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    assert!(
        a["runs"][0]["failing"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{a}"
    );
    assert_eq!(a, b);
    // Two shards only: the third is missing, and the merge says so instead of summing part of the seeds.
    let out = bench().arg("merge").args(&shards[..2]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1/3 are missing"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
