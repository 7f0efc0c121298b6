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
