//! `mode = "quic"` end to end through the binary: the in-process QUIC cluster runs the same configs as the
//! simulator, and for a WAN config with one client and no jitter both drivers measure the same p50.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paxos-bench"))
}

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-configs")
}

fn run(config: &Path, mode: &str, out: &Path) -> String {
    let o = bench()
        .arg("run")
        .arg(config)
        .args(["--mode", mode, "--out"])
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

/// results.csv rows as column-name maps.
fn rows(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

/// A bench config made shorter for a test: one seed, the given client counts, a short window.
fn shortened(name: &str, duration_s: u32, clients: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(configs().join(name)).unwrap();
    let mut out = String::new();
    let mut section = String::new();
    for line in text.lines() {
        if line.starts_with('[') {
            section = line.to_string();
        }
        let line = if line.starts_with("duration_s") {
            format!("duration_s = {duration_s}")
        } else if line.starts_with("warmup_s") {
            "warmup_s = 1".to_string()
        } else if line.starts_with("seeds") {
            "seeds = [1]".to_string()
        } else if section == "[load]" && line.starts_with("clients = [") {
            format!("clients = {clients}")
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn the_quic_driver_and_the_simulator_agree_on_a_wan_p50() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shortened("wan-3region.toml", 5, "[1]", dir.path());
    run(&cfg, "sim", &dir.path().join("sim"));
    let stdout = run(&cfg, "quic", &dir.path().join("quic"));
    let sim = rows(&dir.path().join("sim"));
    let quic = rows(&dir.path().join("quic"));
    assert_eq!(sim.len(), 2);
    assert_eq!(quic.len(), 2, "{stdout}");
    for (s, q) in sim.iter().zip(&quic) {
        assert_eq!(s["variant"], q["variant"]);
        assert_eq!(q["mode"], "quic");
        let (ps, pq): (f64, f64) = (s["p50_us"].parse().unwrap(), q["p50_us"].parse().unwrap());
        let err = (pq - ps).abs() / ps;
        assert!(
            err < 0.05,
            "{}: QUIC p50 {pq} us vs simulated {ps} us ({:.2}% apart)",
            s["variant"],
            err * 100.0
        );
        assert!(q["ops"].parse::<u64>().unwrap() > 10, "{q:?}");
    }
}

#[test]
fn quick_runs_over_quic_with_rows_for_both_variants_and_a_time_series() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shortened("quick.toml", 2, "[1, 8]", dir.path());
    let out = dir.path().join("out");
    let stdout = run(&cfg, "quic", &out);
    let rows = rows(&out);
    assert_eq!(rows.len(), 4, "{stdout}");
    for r in &rows {
        assert_eq!(r["mode"], "quic");
        assert!(r["ops"].parse::<u64>().unwrap() > 0, "{r:?}");
        assert!(r["msgs_per_op"].parse::<f64>().unwrap() > 2.0, "{r:?}");
    }
    let variants: Vec<&str> = rows.iter().map(|r| r["variant"].as_str()).collect();
    assert!(variants.contains(&"multi") && variants.contains(&"basic"));
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert!(
        ts.starts_with("experiment,variant,mode,clients,seed,t_s,ops_per_s,jitter_ms,storage\n")
    );
    assert!(ts.lines().count() > 4 * 15, "{ts}");
    let cpu = std::fs::read_to_string(out.join("replicas.csv")).unwrap();
    // 4 runs x 3 replicas, plus the header.
    assert_eq!(cpu.lines().count(), 13, "{cpu}");
}

#[test]
fn a_fault_schedule_runs_over_quic_and_the_history_still_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shortened("quick.toml", 5, "[4]", dir.path());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "\n[[fault]]\nat_s = 1.5\ncrash = 2\n\n[[fault]]\nat_s = 2.5\nrestart = 2\n\n\
         [[fault]]\nat_s = 3.0\npartition = [[0], [1, 2]]\n\n[[fault]]\nat_s = 3.8\nheal = true\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let out = dir.path().join("out");
    let stdout = run(&cfg, "quic", &out);
    let rows = rows(&out);
    assert_eq!(rows.len(), 2, "{stdout}");
    for r in &rows {
        assert!(r["ops"].parse::<u64>().unwrap() > 0, "{r:?}");
    }
    // The partition cut the leader (replica 0) off from both others: Multi-Paxos stalls and elects anew.
    let multi = rows.iter().find(|r| r["variant"] == "multi").unwrap();
    assert!(
        multi["max_stall_ms"].parse::<f64>().unwrap() >= 100.0,
        "{multi:?}"
    );
}

/// With `storage = "wal"` the leader is killed and started again mid-run: it comes back from its log (a note
/// says how many records it read), the run's history still checks, the results say `wal` with the syncs per
/// operation, and the logs are gone afterwards (they are acceptor state, not results).
#[test]
fn a_leader_restarted_from_its_write_ahead_log_rejoins_and_the_history_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shortened("quick.toml", 4, "[4]", dir.path());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replacen("seeds =", "storage = \"wal\"\nseeds =", 1);
    text.push_str("\n[[fault]]\nat_s = 1.5\ncrash = 0\n\n[[fault]]\nat_s = 2.2\nrestart = 0\n");
    std::fs::write(&cfg, text).unwrap();
    let out = dir.path().join("out");
    let stdout = run(&cfg, "quic", &out);
    let rows = rows(&out);
    assert_eq!(rows.len(), 2, "{stdout}");
    for r in &rows {
        assert_eq!(r["storage"], "wal", "{r:?}");
        assert!(r["ops"].parse::<u64>().unwrap() > 0, "{r:?}");
        assert!(r["syncs_per_op"].parse::<f64>().unwrap() > 0.0, "{r:?}");
        assert!(r["histogram"].contains("-quic-wal-"), "{r:?}");
    }
    let notes = std::fs::read_to_string(out.join("notes.txt")).unwrap();
    let recovered: Vec<&str> = notes
        .lines()
        .filter(|l| l.contains("replica 0 started again from its write-ahead log"))
        .collect();
    assert_eq!(recovered.len(), 2, "{notes}");
    assert!(!out.join("wal").exists());
    let env = std::fs::read_to_string(out.join("environment.json")).unwrap();
    assert!(env.contains("\"sync_floor\""), "{env}");
}
