//! `paxos-bench tune`, end to end through the binary: picks checked against answers worked out by hand, the
//! written config reproducing the tuner's figures through `run`, and bad input refused with a clear error.

use std::path::Path;
use std::process::{Command, Output};

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paxos-bench"))
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Three regions, one-way delays a-b 10 ms, a-c 30 ms, b-c 25 ms, 0.5 ms inside a region, no CPU cost: every
/// figure below is a sum of these delays.
const NETWORK: &str = r#"
name = "hand"
[network]
local_ms = 0.5
[[network.link]]
between = ["a", "b"]
ms = 10.0
[[network.link]]
between = ["a", "c"]
ms = 30.0
[[network.link]]
between = ["b", "c"]
ms = 25.0
[sim]
cpu_us_per_msg = 0.0
"#;

fn rows(dir: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(dir.join("tune.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    assert_eq!(&h[0], "rank");
    r.records().map(|x| x.unwrap()).collect()
}

fn column(dir: &Path, name: &str) -> usize {
    let mut r = csv::Reader::from_path(dir.join("tune.csv")).unwrap();
    r.headers().unwrap().iter().position(|h| h == name).unwrap()
}

/// Runs `tune` on `NETWORK` plus `tune`, returning the output directory's rank-1 row cells by column name.
fn tune(dir: &Path, name: &str, tune: &str, extra: &[&str]) -> (String, impl Fn(&str) -> String) {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, format!("{NETWORK}\n[tune]\n{tune}\n")).unwrap();
    let out = dir.join(name);
    let stdout = ok(bench()
        .arg("tune")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap());
    let first = rows(&out).into_iter().next().unwrap();
    let out2 = out.clone();
    (stdout, move |col: &str| {
        first[column(&out2, col)].to_string()
    })
}

#[test]
fn the_pick_is_the_answer_worked_out_by_hand_for_each_budget() {
    let dir = tempfile::tempdir().unwrap();
    // Clients only in a. One crash: two replicas in a and a majority of 3 commit inside a: 0.5 + 1 + 0.5 ms.
    // (Flexible q2 = 1 would need q1 = 3, which no crash leaves; q2 = 2 is the majority itself.)
    let (_, first) = tune(
        dir.path(),
        "one-crash",
        r#"regions = ["a", "b", "c"]
replicas = [3]
max_per_region = 2
client_weights = { a = 1 }
tolerate = { crashes = 1, region_outage = false }
variants = ["multi", "flexible"]"#,
        &[],
    );
    assert_eq!(first("variant"), "multi");
    assert_eq!(first("leader"), "a");
    assert_eq!(first("placement"), "a;a;b");
    assert_eq!(first("model_objective_us"), "2000.0");
    // The simulator agrees to the histogram's precision (3 significant digits).
    let sim: f64 = first("sim_objective_us").parse().unwrap();
    assert!((sim / 2000.0 - 1.0).abs() < 0.002, "{sim}");
    // One replica per region: the leader in a waits for b (20 ms round trip): 21 ms.
    let (_, first) = tune(
        dir.path(),
        "spread",
        r#"regions = ["a", "b", "c"]
replicas = [3]
max_per_region = 1
client_weights = { a = 1 }
variants = ["multi", "flexible"]"#,
        &[],
    );
    assert_eq!(
        (first("placement"), first("leader")),
        ("a;b;c".into(), "a".into())
    );
    assert_eq!(first("model_objective_us"), "21000.0");
    // A region outage with N = 3 or 5 and two per region: a majority of 5 on a, a, b, b, c survives losing a
    // (3 left) and still commits with b: 21 ms, like a, b, c, but it survives two crashes, so it wins the tie.
    // Flexible q1 = 4, q2 = 2 would commit inside a (2 ms) and survives one crash, but losing a leaves 3 < q1:
    // allowed under the crash budget above, refused under this one.
    let (stdout, first) = tune(
        dir.path(),
        "outage",
        r#"regions = ["a", "b", "c"]
replicas = [3, 5]
max_per_region = 2
client_weights = { a = 1 }
tolerate = { crashes = 1, region_outage = true }
variants = ["multi", "flexible"]"#,
        &[],
    );
    assert_eq!(first("variant"), "multi");
    assert_eq!(first("placement"), "a;a;b;b;c");
    assert_eq!(first("model_objective_us"), "21000.0");
    assert_eq!(first("survives_region_outage"), "true");
    assert!(
        stdout.contains("breaks the region-outage budget"),
        "{stdout}"
    );
    assert!(first("outage_recovery_ms").parse::<f64>().unwrap() > 0.0);
    // Clients in c weigh three times those in a: the leader moves to c's side.
    let (_, first) = tune(
        dir.path(),
        "weighted",
        r#"regions = ["a", "b", "c"]
replicas = [3]
max_per_region = 1
client_weights = { a = 1, c = 3 }
variants = ["multi"]"#,
        &[],
    );
    // Leader a: a sees 21, c sees 30 + 20 + 30 = 80: mean (21 + 240) / 4 = 65.25. Leader b: a sees 10 + 20 + 10
    // = 40, c sees 25 + 20 + 25 = 70: 62.5. Leader c: c's nearest is b (50 ms round trip): a sees 30 + 50 + 30
    // = 110, c sees 0.5 + 50 + 0.5 = 51: 65.75. So b.
    assert_eq!(first("leader"), "b");
    assert_eq!(first("model_objective_us"), "62500.0");
}

#[test]
fn the_written_config_reproduces_the_tuners_figures_through_run() {
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("best.toml");
    let (stdout, first) = tune(
        dir.path(),
        "repro",
        r#"regions = ["a", "b", "c"]
replicas = [3, 4, 5]
max_per_region = 2
client_weights = { a = 2, c = 1 }
objective = "mean_p50""#,
        &["--top", "3", "--write-config", written.to_str().unwrap()],
    );
    assert!(stdout.contains("pick:"), "{stdout}");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(
        text.contains("[[variant]]") && text.contains("[cluster]"),
        "{text}"
    );
    let run = dir.path().join("run");
    ok(bench()
        .arg("run")
        .arg(&written)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap());
    let mut r = csv::Reader::from_path(run.join("results.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let row = r.records().next().unwrap().unwrap();
    let cell = |name: &str| row[h.iter().position(|x| x == name).unwrap()].to_string();
    assert_eq!(cell("region_p50_us"), first("sim_region_p50_us"));
    assert_eq!(cell("region_p99_us"), first("sim_region_p99_us"));
    assert_eq!(cell("protocol"), first("variant"));
    // The plot and the list of what was left out are there.
    for f in [
        "pareto.png",
        "pareto.svg",
        "left-out.csv",
        "tuned.toml",
        "README.md",
    ] {
        assert!(dir.path().join("repro").join(f).exists(), "{f}");
    }
}

#[test]
fn exhaustive_simulation_finds_no_better_configuration_than_the_pick() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, _) = tune(
        dir.path(),
        "exhaustive",
        r#"regions = ["a", "b", "c"]
replicas = [3, 4]
max_per_region = 2
client_weights = { a = 1, b = 1, c = 1 }
variants = ["multi", "flexible"]"#,
        &["--exhaustive"],
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("exhaustive:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("the pick is +0.00% of it"), "{line}");
}

#[test]
fn bad_tune_input_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |text: &str| {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, text).unwrap();
        let out = bench()
            .arg("tune")
            .arg(&cfg)
            .arg("--out")
            .arg(dir.path().join("o"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = refused(NETWORK);
    assert!(e.contains("tune"), "{e}");
    // Two crashes out of three: no quorum pair both intersects and survives that.
    let e = refused(&format!(
        "{NETWORK}\n[tune]\nregions = [\"a\", \"b\", \"c\"]\nreplicas = [3]\ntolerate = {{ crashes = 2 }}\n"
    ));
    assert!(e.contains("no configuration meets the fault budget"), "{e}");
    assert!(e.contains("breaks the crash budget"), "{e}");
    let e = refused(&format!("{NETWORK}\n[tune]\nregions = [\"a\", \"mars\"]\n"));
    assert!(e.contains("no link between") && e.contains("mars"), "{e}");
    let out = bench()
        .arg("tune")
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    // No output directory is left half-written by a refused run.
    assert!(!dir.path().join("o").exists());
}
