//! Run results and the files they are written to: `results.csv` (one row per run, stable column names, units in
//! the names), `messages.csv` (messages and bytes per operation by message type) and `histograms/` (each run's
//! latency histogram, HdrHistogram V2 encoding, nanoseconds). Renderers are pure functions to bytes; writing is
//! atomic per file (temporary file, then rename), so a failed run never leaves a half-written result.

use crate::metrics::MsgCount;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// One run's figures. `None` is a statistic that could not be computed (no operation completed).
#[derive(Debug, Clone)]
pub struct RunResult {
    pub experiment: String,
    pub variant: String,
    pub mode: String,
    pub replicas: usize,
    pub q1: usize,
    pub q2: usize,
    pub clients: usize,
    pub seed: u64,
    pub ops: u64,
    pub throughput_ops_s: f64,
    pub p50_us: Option<f64>,
    pub p90_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub p999_us: Option<f64>,
    pub max_us: Option<f64>,
    pub msgs_per_op: Option<f64>,
    pub bytes_per_op: Option<f64>,
    pub expected_p50_us: Option<f64>,
    /// The protocol behind the label.
    pub protocol: String,
    pub by_kind: Vec<(String, MsgCount)>,
    pub histogram: Histogram<u64>,
    /// Completions per 100 ms over the whole run, by completion time.
    pub timeline: Vec<u64>,
    /// Per replica, in milliseconds over the run: the simulator's modelled CPU cost; in-process QUIC, the
    /// measured wall time inside the protocol's handlers (the replicas share the process, so QUIC's own work
    /// cannot be split among them); replica processes, their whole CPU time over the measurement window.
    pub cpu_ms: Vec<f64>,
    /// What a reader must know about the run (a replica lost mid-run, the leader at the end).
    pub notes: Vec<String>,
    /// Protocol events over the whole run, summed over the replicas alive at the end (see `Counters`).
    pub collisions: u64,
    pub recoveries: u64,
    pub reconfigurations: u64,
    /// The run's network jitter (standard deviation, ms); `jitter_swept` when it came from `[sweep]`.
    pub jitter_ms: f64,
    pub jitter_swept: bool,
    /// Longest time without a completion inside the window (100 ms resolution).
    pub max_stall_ms: f64,
    /// When the client knew its command was chosen (Fast Paxos: a fast quorum of votes; others: the reply).
    pub commit_p50_us: Option<f64>,
    pub commit_p99_us: Option<f64>,
    /// The model's time until a client can know its command is chosen.
    pub expected_commit_p50_us: Option<f64>,
    /// Where acceptor state lived: `memory`, or `wal` (a write-ahead log synced before every answer).
    pub storage: String,
    /// With a write-ahead log: `fdatasync` calls summed over the replicas, over the whole run (warm-up and
    /// drain included).
    pub wal_syncs: Option<u64>,
}

/// The `results.csv` row, in the column order the documentation promises.
#[derive(Serialize)]
struct Row<'a> {
    experiment: &'a str,
    variant: &'a str,
    mode: &'a str,
    replicas: usize,
    q1: usize,
    q2: usize,
    clients: usize,
    seed: u64,
    ops: u64,
    throughput_ops_s: String,
    p50_us: String,
    p90_us: String,
    p99_us: String,
    p999_us: String,
    max_us: String,
    msgs_per_op: String,
    bytes_per_op: String,
    expected_p50_us: String,
    protocol: &'a str,
    collisions: u64,
    recoveries: u64,
    reconfigurations: u64,
    jitter_ms: String,
    max_stall_ms: String,
    commit_p50_us: String,
    commit_p99_us: String,
    expected_commit_p50_us: String,
    storage: &'a str,
    syncs_per_op: String,
    histogram: String,
}

pub const RESULTS_COLUMNS: &str = "experiment,variant,mode,replicas,q1,q2,clients,seed,ops,throughput_ops_s,p50_us,p90_us,p99_us,p999_us,max_us,msgs_per_op,bytes_per_op,expected_p50_us,protocol,collisions,recoveries,reconfigurations,jitter_ms,max_stall_ms,commit_p50_us,commit_p99_us,expected_commit_p50_us,storage,syncs_per_op,histogram";

/// Fixed precision, so a file is byte-identical for identical figures.
fn fmt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_default()
}

pub fn render_results_csv(runs: &[RunResult]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in runs {
        w.serialize(Row {
            experiment: &r.experiment,
            variant: &r.variant,
            mode: &r.mode,
            replicas: r.replicas,
            q1: r.q1,
            q2: r.q2,
            clients: r.clients,
            seed: r.seed,
            ops: r.ops,
            throughput_ops_s: fmt(Some(r.throughput_ops_s), 1),
            p50_us: fmt(r.p50_us, 1),
            p90_us: fmt(r.p90_us, 1),
            p99_us: fmt(r.p99_us, 1),
            p999_us: fmt(r.p999_us, 1),
            max_us: fmt(r.max_us, 1),
            msgs_per_op: fmt(r.msgs_per_op, 3),
            bytes_per_op: fmt(r.bytes_per_op, 1),
            expected_p50_us: fmt(r.expected_p50_us, 1),
            protocol: &r.protocol,
            collisions: r.collisions,
            recoveries: r.recoveries,
            reconfigurations: r.reconfigurations,
            jitter_ms: format!("{:.3}", r.jitter_ms),
            max_stall_ms: format!("{:.0}", r.max_stall_ms),
            commit_p50_us: fmt(r.commit_p50_us, 1),
            commit_p99_us: fmt(r.commit_p99_us, 1),
            expected_commit_p50_us: fmt(r.expected_commit_p50_us, 1),
            storage: &r.storage,
            // Syncs are counted over the whole run, so they are divided by every completion of the run too.
            syncs_per_op: match (r.wal_syncs, r.timeline.iter().sum::<u64>()) {
                (Some(s), done) if done > 0 => format!("{:.3}", s as f64 / done as f64),
                _ => String::new(),
            },
            histogram: format!("histograms/{}", histogram_file_name(r)),
        })?;
    }
    if runs.is_empty() {
        w.write_record(RESULTS_COLUMNS.split(','))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

pub fn render_messages_csv(runs: &[RunResult]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "experiment",
        "variant",
        "mode",
        "clients",
        "seed",
        "kind",
        "count",
        "bytes",
        "per_op",
        "bytes_per_op",
        "jitter_ms",
        "storage",
    ])?;
    for r in runs {
        for (kind, c) in &r.by_kind {
            let per = |x: u64| {
                if r.ops == 0 {
                    String::new()
                } else {
                    format!("{:.3}", x as f64 / r.ops as f64)
                }
            };
            w.write_record([
                r.experiment.clone(),
                r.variant.clone(),
                r.mode.clone(),
                r.clients.to_string(),
                r.seed.to_string(),
                kind.clone(),
                c.count.to_string(),
                c.bytes.to_string(),
                per(c.count),
                per(c.bytes),
                format!("{:.3}", r.jitter_ms),
                r.storage.clone(),
            ])?;
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// `timeseries.csv`: completions per 100 ms bucket, as a rate, over each whole run (warm-up included).
pub fn render_timeseries_csv(runs: &[RunResult]) -> Result<Vec<u8>, csv::Error> {
    let bucket_s = crate::metrics::TIMELINE_BUCKET_NS as f64 / 1e9;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "experiment",
        "variant",
        "mode",
        "clients",
        "seed",
        "t_s",
        "ops_per_s",
        "jitter_ms",
        "storage",
    ])?;
    for r in runs {
        for (i, count) in r.timeline.iter().enumerate() {
            w.write_record([
                r.experiment.clone(),
                r.variant.clone(),
                r.mode.clone(),
                r.clients.to_string(),
                r.seed.to_string(),
                format!("{:.1}", i as f64 * bucket_s),
                format!("{:.0}", *count as f64 / bucket_s),
                format!("{:.3}", r.jitter_ms),
                r.storage.clone(),
            ])?;
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// `replicas.csv`: each replica's CPU time on protocol messages, in total and per committed operation.
pub fn render_replicas_csv(runs: &[RunResult]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "experiment",
        "variant",
        "mode",
        "clients",
        "seed",
        "replica",
        "cpu_ms",
        "cpu_us_per_op",
        "jitter_ms",
        "storage",
    ])?;
    for r in runs {
        for (i, ms) in r.cpu_ms.iter().enumerate() {
            let per_op = if r.ops == 0 {
                String::new()
            } else {
                format!("{:.3}", ms * 1000.0 / r.ops as f64)
            };
            w.write_record([
                r.experiment.clone(),
                r.variant.clone(),
                r.mode.clone(),
                r.clients.to_string(),
                r.seed.to_string(),
                i.to_string(),
                format!("{ms:.3}"),
                per_op,
                format!("{:.3}", r.jitter_ms),
                r.storage.clone(),
            ])?;
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

pub fn histogram_file_name(r: &RunResult) -> String {
    let safe = crate::config::file_safe(&r.variant);
    let mode = match r.storage.as_str() {
        "memory" => r.mode.clone(),
        other => format!("{}-{other}", r.mode),
    };
    if r.jitter_swept {
        format!(
            "{safe}-{mode}-j{}us-c{}-s{}.hdr",
            (r.jitter_ms * 1000.0).round() as u64,
            r.clients,
            r.seed
        )
    } else {
        format!("{safe}-{mode}-c{}-s{}.hdr", r.clients, r.seed)
    }
}

pub fn render_histogram(h: &Histogram<u64>) -> Result<Vec<u8>, std::io::Error> {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    Ok(buf)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Writes every result file of an experiment into `dir`.
/// `sync_floor`: the disk's measured `fdatasync` time, when runs used a write-ahead log.
pub fn write_all(
    dir: &Path,
    runs: &[RunResult],
    config_text: &str,
    sync_floor: Option<crate::storage::SyncFloor>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for r in runs {
        let path = dir.join("histograms").join(histogram_file_name(r));
        write_atomic(&path, &render_histogram(&r.histogram)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let files: [(&str, Vec<u8>); 5] = [
        ("messages.csv", render_messages_csv(runs)?),
        ("timeseries.csv", render_timeseries_csv(runs)?),
        ("replicas.csv", render_replicas_csv(runs)?),
        ("config.toml", config_text.as_bytes().to_vec()),
        ("results.csv", render_results_csv(runs)?),
    ];
    let mut notes = String::new();
    for r in runs {
        for n in &r.notes {
            notes.push_str(&format!(
                "{} clients={} seed={}: {n}\n",
                r.variant, r.clients, r.seed
            ));
        }
    }
    let path = dir.join("notes.txt");
    write_atomic(&path, notes.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut modes: Vec<String> = Vec::new();
    for r in runs {
        if !modes.contains(&r.mode) {
            modes.push(r.mode.clone());
        }
    }
    let mut env = crate::report::environment::Environment::capture(modes);
    env.sync_floor = sync_floor;
    let path = dir.join(crate::report::environment::FILE);
    write_atomic(&path, &env.to_json())
        .with_context(|| format!("cannot write {}", path.display()))?;
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> RunResult {
        RunResult {
            experiment: "e".into(),
            variant: "multi".into(),
            mode: "sim".into(),
            replicas: 5,
            q1: 3,
            q2: 3,
            clients: 1,
            seed: 7,
            ops: 10,
            throughput_ops_s: 5.0,
            p50_us: Some(1234.5),
            p90_us: Some(2000.0),
            p99_us: None,
            p999_us: None,
            max_us: None,
            msgs_per_op: Some(10.0),
            bytes_per_op: Some(500.25),
            expected_p50_us: Some(1200.0),
            protocol: "multi".into(),
            by_kind: vec![(
                "accept".into(),
                MsgCount {
                    count: 40,
                    bytes: 4000,
                },
            )],
            histogram: Histogram::new(3).unwrap(),
            timeline: vec![0, 4, 6],
            cpu_ms: vec![1.5, 0.25],
            notes: Vec::new(),
            collisions: 3,
            recoveries: 2,
            reconfigurations: 0,
            jitter_ms: 0.5,
            jitter_swept: false,
            max_stall_ms: 300.0,
            commit_p50_us: Some(800.0),
            commit_p99_us: Some(1900.0),
            expected_commit_p50_us: Some(790.0),
            storage: "memory".into(),
            wal_syncs: None,
        }
    }

    #[test]
    fn results_csv_has_the_promised_columns_in_order() {
        let bytes = render_results_csv(&[result()]).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), RESULTS_COLUMNS);
        assert_eq!(
            lines.next().unwrap(),
            "e,multi,sim,5,3,3,1,7,10,5.0,1234.5,2000.0,,,,10.000,500.2,1200.0,multi,3,2,0,0.500,300,800.0,1900.0,790.0,memory,,histograms/multi-sim-c1-s7.hdr"
        );
        // A run with a write-ahead log: its storage, its syncs per operation, and a histogram of its own.
        let mut w = result();
        w.mode = "quic".into();
        w.storage = "wal".into();
        w.wal_syncs = Some(25);
        let text = String::from_utf8(render_results_csv(&[w]).unwrap()).unwrap();
        assert!(
            text.ends_with(",790.0,wal,2.500,histograms/multi-quic-wal-c1-s7.hdr\n"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_result_set_still_has_a_header() {
        let text = String::from_utf8(render_results_csv(&[]).unwrap()).unwrap();
        assert_eq!(text.trim(), RESULTS_COLUMNS);
    }

    #[test]
    fn timeseries_and_replica_files_give_rates_and_per_op_costs() {
        let t = String::from_utf8(render_timeseries_csv(&[result()]).unwrap()).unwrap();
        assert!(t.contains("e,multi,sim,1,7,0.1,40,0.500,memory\n"), "{t}");
        assert!(t.contains("e,multi,sim,1,7,0.2,60,0.500,memory\n"), "{t}");
        let r = String::from_utf8(render_replicas_csv(&[result()]).unwrap()).unwrap();
        assert!(
            r.contains("e,multi,sim,1,7,0,1.500,150.000,0.500,memory\n"),
            "{r}"
        );
    }

    #[test]
    fn messages_csv_gives_per_op_figures() {
        let text = String::from_utf8(render_messages_csv(&[result()]).unwrap()).unwrap();
        assert!(
            text.contains("e,multi,sim,1,7,accept,40,4000,4.000,400.000,0.500,memory"),
            "{text}"
        );
    }
}
