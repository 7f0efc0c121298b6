//! The results history through the command line: two `paxos-bench run`s at once into one database lose
//! nothing, `paxos-bench history` lists and plots them, a later run's report carries the trend and a finding
//! against the previous run, `--no-history-db` records nothing, and a missing database is named.

use paxos_harness::history::{Filter, History};
use std::path::Path;
use std::process::{Command, Output};

fn bench(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paxos-bench"));
    c.args(args);
    c
}

fn quick() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bench-configs/quick.toml")
        .display()
        .to_string()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn runs_record_into_the_history_concurrently_and_the_report_shows_the_trend() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let db_s = db.display().to_string();
    let out = |n: &str| dir.path().join(n).display().to_string();

    // Two runs at once, into one database.
    let spawn = |name: &str| {
        bench(&[
            "run",
            &quick(),
            "--mode",
            "sim",
            "--out",
            &out(name),
            "--history-db",
            &db_s,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    ok(&a.wait_with_output().unwrap());
    ok(&b.wait_with_output().unwrap());
    let h = History::open(&db).unwrap();
    let runs = h.runs(&Filter::default()).unwrap();
    let rows_a = std::fs::read_to_string(dir.path().join("a/results.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r.rows.len() == rows_a),
        "{rows_a} rows each"
    );
    assert_eq!(h.integrity().unwrap(), "ok");

    // A third run: its report has the trend and compares with the run before it.
    ok(&bench(&[
        "run",
        &quick(),
        "--mode",
        "sim",
        "--out",
        &out("c"),
        "--history-db",
        &db_s,
    ])
    .output()
    .unwrap());
    let readme = std::fs::read_to_string(dir.path().join("c/README.md")).unwrap();
    assert!(
        readme.contains("Against the previous run of this config in the history"),
        "{readme}"
    );
    // Simulation is exact: nothing moved.
    assert!(readme.contains("no p50 moved"), "{readme}");
    assert!(dir.path().join("c/plots/trend-p50.png").exists());

    // The listing and the plots.
    let plots = out("trend");
    let listed = bench(&[
        "history", "--db", &db_s, "--config", "quick", "--plot", &plots,
    ])
    .output()
    .unwrap();
    ok(&listed);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("3 runs in"), "{text}");
    for stem in ["trend-p50", "trend-p99", "trend-ops"] {
        assert!(
            dir.path().join(format!("trend/{stem}.png")).exists(),
            "{stem}"
        );
    }

    // Opting out records nothing.
    ok(&bench(&[
        "run",
        &quick(),
        "--mode",
        "sim",
        "--out",
        &out("d"),
        "--no-history-db",
    ])
    .output()
    .unwrap());
    assert_eq!(
        History::open(&db)
            .unwrap()
            .runs(&Filter::default())
            .unwrap()
            .len(),
        3
    );

    // A compare of a recorded directory does not record it twice.
    ok(
        &bench(&["compare", &out("a"), &out("b"), "--history-db", &db_s])
            .output()
            .unwrap(),
    );
    assert_eq!(
        History::open(&db)
            .unwrap()
            .runs(&Filter::default())
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn a_missing_history_or_a_bad_range_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db").display().to_string();
    let o = bench(&["history", "--db", &missing]).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("none.db does not exist"), "{err}");
    assert!(
        !dir.path().join("none.db").exists(),
        "listing must not create the file"
    );

    let db = dir.path().join("h.db");
    History::open(&db).unwrap();
    let o = bench(&[
        "history",
        "--db",
        &db.display().to_string(),
        "--commits",
        "abc",
    ])
    .output()
    .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("commit range `abc`"));
}
