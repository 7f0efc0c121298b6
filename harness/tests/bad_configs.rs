//! Every kind of mistake in an experiment file or a cluster file gives exactly one clear error, naming the
//! file and the key, exits 2, and writes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paxos-bench"))
}

fn quick() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-configs/quick.toml"),
    )
    .unwrap()
}

/// Writes `quick.toml` with `from` replaced by `to`, runs it, and returns stderr (after checking exit 2, one
/// error line, and no output directory).
fn refused(dir: &Path, name: &str, from: &str, to: &str) -> String {
    let text = quick();
    assert!(text.contains(from), "{from}");
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, text.replacen(from, to, 1)).unwrap();
    let out_dir = dir.join(format!("out-{name}"));
    let out = bench()
        .arg("run")
        .arg(&cfg)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{name}: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{name}: one error line, got: {err}"
    );
    assert!(err.contains(&format!("{name}.toml")), "{name}: {err}");
    assert!(!out_dir.exists(), "{name}: a refused config wrote output");
    err
}

#[test]
fn every_kind_of_config_mistake_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "unsafe_quorum",
            "name = \"multi\"",
            "name = \"flexible\"\nq1 = 1\nq2 = 1",
            &["variant[0].q1", "q1 + q2 = 2", "n = 3"],
        ),
        (
            "unknown_region",
            "between = [\"us-east\", \"us-west\"]",
            "between = [\"us-east\", \"mars\"]",
            &["network.link[0].between", "mars"],
        ),
        (
            "negative_delay",
            "ms = 31.0",
            "ms = -3.0",
            &["network.link[0].ms", "-3"],
        ),
        (
            "negative_jitter",
            "jitter_ms = 0.2",
            "jitter_ms = -1",
            &["network.jitter_ms"],
        ),
        (
            "zero_duration",
            "duration_s = 5",
            "duration_s = 0",
            &["duration_s", "greater than 0"],
        ),
        (
            "duplicate_seed",
            "seeds = [1, 2]",
            "seeds = [1, 1]",
            &["seeds", "twice"],
        ),
        (
            "duplicate_label",
            "name = \"basic\"",
            "name = \"multi\"",
            &["variant[1].label", "twice"],
        ),
        (
            "bad_leader",
            "leader = 0",
            "leader = 7",
            &["cluster.leader", "7"],
        ),
        (
            "bad_loss",
            "loss = 0.0",
            "loss = 1.5",
            &["network.loss", "1.5"],
        ),
        (
            "zero_clients",
            "clients = [1, 8]",
            "clients = [0]",
            &["load.clients"],
        ),
        (
            "bad_conflict",
            "clients = [1, 8]",
            "clients = [1, 8]\nconflict = 1.5",
            &["load.conflict", "1.5"],
        ),
        (
            "bad_variant_conflict",
            "name = \"basic\"",
            "name = \"basic\"\nconflict = -0.1",
            &["variant[", "].conflict", "-0.1"],
        ),
        (
            "unknown_key",
            "mode = \"sim\"",
            "mode = \"sim\"\ntypo_key = 3",
            &["typo_key"],
        ),
        (
            "unknown_variant",
            "name = \"basic\"",
            "name = \"paxos9\"",
            &["paxos9"],
        ),
        (
            "bad_mode",
            "mode = \"sim\"",
            "mode = \"carrier-pigeon\"",
            &["mode"],
        ),
        (
            "huge_log_keep",
            "name = \"basic\"",
            "name = \"basic\"\nlog_keep = 99999999999",
            &["variant[1].log_keep", "limit"],
        ),
        (
            "unknown_read_path",
            "[cluster]",
            "[reads]\npath = \"stale\"\n\n[cluster]",
            &["reads.path", "stale", "log", "lease", "quorum"],
        ),
        (
            "read_path_twice",
            "[cluster]",
            "[reads]\npath = [\"lease\", \"lease\"]\n\n[cluster]",
            &["reads.path", "twice"],
        ),
        (
            "read_path_not_text",
            "[cluster]",
            "[reads]\npath = 3\n\n[cluster]",
            &["read path"],
        ),
        (
            "zero_lease",
            "[cluster]",
            "[reads]\npath = \"lease\"\nlease_ms = 0\n\n[cluster]",
            &["reads.lease_ms", "greater than 0"],
        ),
        (
            "lease_within_heartbeat",
            "[cluster]",
            "[reads]\npath = \"lease\"\nlease_ms = 40\n\n[cluster]",
            &["reads.lease_ms", "heartbeat"],
        ),
        (
            "clock_drift_too_large",
            "[cluster]",
            "[reads]\npath = \"lease\"\nclock_drift = 0.7\n\n[cluster]",
            &["reads.clock_drift", "0.7"],
        ),
        (
            "unknown_reads_key",
            "[cluster]",
            "[reads]\nlease_length = 5\n\n[cluster]",
            &["lease_length"],
        ),
        (
            "unknown_storage",
            "mode = \"sim\"",
            "mode = \"quic\"\nstorage = \"tape\"",
            &["storage", "tape", "memory", "wal"],
        ),
        (
            "wal_in_the_simulator",
            "mode = \"sim\"",
            "mode = \"sim\"\nstorage = [\"memory\", \"wal\"]",
            &["storage", "needs mode = \"quic\""],
        ),
        (
            "storage_twice",
            "mode = \"sim\"",
            "mode = \"quic\"\nstorage = [\"wal\", \"wal\"]",
            &["storage", "twice"],
        ),
        (
            "no_storage",
            "mode = \"sim\"",
            "mode = \"quic\"\nstorage = []",
            &["storage", "at least one"],
        ),
    ];
    for (name, from, to, wants) in cases {
        let err = refused(d, name, from, to);
        for w in *wants {
            assert!(err.contains(w), "{name}: `{w}` missing from: {err}");
        }
    }
}

fn cluster_file(dir: &Path, second_id: u32, second_port: u16) -> PathBuf {
    let text = format!(
        r#"experiment = "experiment.toml"
variant = "multi"
ca = "keys/ca.crt"
client_keys = "keys"
[[replica]]
id = 0
addr = "127.0.0.1:7100"
cert = "keys/replica-0.crt"
key = "keys/replica-0.key"
[[replica]]
id = {second_id}
addr = "127.0.0.1:{second_port}"
cert = "keys/replica-1.crt"
key = "keys/replica-1.key"
[[replica]]
id = 2
addr = "127.0.0.1:7102"
cert = "keys/replica-2.crt"
key = "keys/replica-2.key"
"#
    );
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_kind_of_cluster_file_mistake_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keys = bench()
        .args(["keys", "--replicas", "3", "--clients", "2", "--out"])
        .arg(d.join("keys"))
        .output()
        .unwrap();
    assert!(keys.status.success(), "{keys:?}");
    std::fs::write(d.join("experiment.toml"), quick()).unwrap();
    for (id, port, wants) in [
        (0u32, 7101u16, ["replica[1].id", "listed twice"]),
        (1, 7100, ["replica", "used by two replicas"]),
        (5, 7101, ["replica[1].id", "5"]),
    ] {
        let cluster = cluster_file(d, id, port);
        let out = bench()
            .arg("status")
            .arg("--cluster")
            .arg(&cluster)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("cluster.toml"), "{err}");
        for w in wants {
            assert!(err.contains(w), "`{w}` missing from: {err}");
        }
    }
}
