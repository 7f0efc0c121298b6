//! `paxos-bench check-history` on histories written by Jepsen for another system (etcd), whose verdicts were
//! published with an open-source checker, and on broken files.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paxos-bench"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/jepsen")
        .join(name)
}

/// (file, linearizable) as published (tests/jepsen/README.md).
const PUBLISHED: [(&str, bool); 12] = [
    ("etcd_000.log", false),
    ("etcd_001.log", false),
    ("etcd_002.log", true),
    ("etcd_003.log", false),
    ("etcd_005.log", true),
    ("etcd_007.log", true),
    ("etcd_018.log", true),
    ("etcd_022.log", false),
    ("etcd_025.log", true),
    ("etcd_040.log", false),
    ("etcd_099.log", false),
    ("etcd_100.log", true),
];

#[test]
fn etcd_histories_get_their_published_verdicts() {
    for (name, linearizable) in PUBLISHED {
        let out = bin()
            .args(["check-history", "--budget-s", "60"])
            .arg(fixture(name))
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout);
        if linearizable {
            assert_eq!(out.status.code(), Some(0), "{name}: {text}");
            assert!(text.contains(": linearizable ("), "{name}: {text}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{name}: {text}");
            assert!(text.contains("NOT linearizable"), "{name}: {text}");
            assert!(text.contains("cannot be ordered"), "{name}: {text}");
        }
    }
}

#[test]
fn several_files_at_once_exit_1_if_any_is_not_linearizable() {
    let out = bin()
        .arg("check-history")
        .arg(fixture("etcd_002.log"))
        .arg(fixture("etcd_000.log"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.matches("etcd_0").count(), 2, "{text}");
}

#[test]
fn broken_and_missing_files_are_named_and_nothing_is_judged() {
    let dir = std::env::temp_dir().join(format!("paxos-bench-ch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let broken = dir.join("broken.log");
    std::fs::write(
        &broken,
        "INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 2\t:ok\t:read\t3\n",
    )
    .expect("write");
    let out = bin()
        .arg("check-history")
        .arg(fixture("etcd_002.log"))
        .arg(&broken)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("broken.log") && err.contains("line 2"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "a verdict was printed before the error"
    );
    let out = bin()
        .arg("check-history")
        .arg(dir.join("missing.log"))
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("cannot read") && err.contains("missing.log"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run --history FILE` writes the client history of a run (simulated and over QUIC) in Jepsen's format, and
/// `check-history` finds it linearizable; with several keys each gets a file of its own.
#[test]
fn run_writes_histories_that_check_history_accepts() {
    let dir = std::env::temp_dir().join(format!("paxos-bench-runhist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = |keys: u64| {
        format!(
            "name = \"hist\"\nmode = \"sim\"\nduration_s = 2\nwarmup_s = 0.5\nseeds = [3]\n\
             [cluster]\nreplicas = [\"a\", \"a\", \"b\"]\nclients = [\"a\", \"b\"]\n\
             [network]\nlocal_ms = 0.2\n[[network.link]]\nbetween = [\"a\", \"b\"]\nms = 1.0\n\
             [load]\nmode = \"closed\"\nclients = [4]\nwrite_fraction = 0.5\ncas_fraction = 0.3\nkeys = {keys}\n\
             [[variant]]\nname = \"multi\"\n"
        )
    };
    for mode in ["sim", "quic"] {
        let cfg = dir.join(format!("one-{mode}.toml"));
        std::fs::write(&cfg, config(1)).expect("config");
        let file = dir.join(format!("one-{mode}.log"));
        let out = bin()
            .arg("run")
            .arg(&cfg)
            .args(["--mode", mode, "--out"])
            .arg(dir.join(format!("out-{mode}")))
            .arg("--history")
            .arg(&file)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&file).expect("the history file");
        assert!(
            text.contains(":invoke\t:cas\t["),
            "{mode}: no compare-and-set"
        );
        let out = bin()
            .arg("check-history")
            .arg(&file)
            .output()
            .expect("runs");
        let verdict = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{mode}: {verdict}");
        assert!(verdict.contains(": linearizable ("), "{verdict}");
    }
    // Three keys: one file per key, named after the run.
    let cfg = dir.join("three.toml");
    std::fs::write(&cfg, config(3)).expect("config");
    let out = bin()
        .arg("run")
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("out-three"))
        .arg("--history")
        .arg(dir.join("three.log"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for key in 0..3 {
        let f = dir.join(format!("three-multi-sim-c4-s3-key-{key}.log"));
        assert!(f.exists(), "{} missing", f.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
