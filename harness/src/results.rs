//! Run results and the files they are written to: `results.csv` (one row per run, stable column names, units in
//! the names), `messages.csv` (messages and bytes per operation by message type) and `histograms/` (each run's
//! latency histogram, HdrHistogram V2 encoding, nanoseconds). Renderers are pure functions to bytes; writing is
//! atomic per file (temporary file, then rename), so a failed run never leaves a half-written result.

use crate::metrics::MsgCount;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// One `results.csv` row: the one schema the writer, the report, the figures and `compare` share. Field order is
/// column order; the column list is derived from this type ([`results_columns`]); numbers are written with fixed
/// precision so that identical figures give a byte-identical file. `None` is a statistic that could not be
/// computed (no operation completed) and is written as an empty cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub experiment: String,
    pub variant: String,
    pub mode: String,
    pub replicas: usize,
    pub q1: usize,
    pub q2: usize,
    pub clients: usize,
    pub seed: u64,
    pub ops: u64,
    #[serde(serialize_with = "dec1")]
    pub throughput_ops_s: f64,
    #[serde(serialize_with = "opt1")]
    pub p50_us: Option<f64>,
    #[serde(serialize_with = "opt1")]
    pub p90_us: Option<f64>,
    #[serde(serialize_with = "opt1")]
    pub p99_us: Option<f64>,
    #[serde(serialize_with = "opt1")]
    pub p999_us: Option<f64>,
    #[serde(serialize_with = "opt1")]
    pub max_us: Option<f64>,
    #[serde(serialize_with = "opt3")]
    pub msgs_per_op: Option<f64>,
    #[serde(serialize_with = "opt1")]
    pub bytes_per_op: Option<f64>,
    #[serde(serialize_with = "opt1")]
    pub expected_p50_us: Option<f64>,
    /// The protocol behind the label.
    pub protocol: String,
    /// Protocol events over the whole run, summed over the replicas alive at the end (see `Counters`).
    pub collisions: u64,
    pub recoveries: u64,
    pub reconfigurations: u64,
    /// The run's network jitter (standard deviation, ms).
    #[serde(serialize_with = "dec3")]
    pub jitter_ms: f64,
    /// Longest time without a completion inside the window (100 ms resolution).
    #[serde(serialize_with = "dec0")]
    pub max_stall_ms: f64,
    /// When the client knew its command was chosen (Fast Paxos: a fast quorum of votes; others: the reply).
    #[serde(serialize_with = "opt1")]
    pub commit_p50_us: Option<f64>,
    #[serde(serialize_with = "opt1")]
    pub commit_p99_us: Option<f64>,
    /// The model's time until a client can know its command is chosen.
    #[serde(serialize_with = "opt1")]
    pub expected_commit_p50_us: Option<f64>,
    /// Where acceptor state lived: `memory`, or `wal` (a write-ahead log synced before every answer). Absent in
    /// files written before the write-ahead log existed: those ran in memory.
    #[serde(default = "memory")]
    pub storage: String,
    /// With a write-ahead log: `fdatasync` calls over the whole run divided by every completion of the run.
    #[serde(default, serialize_with = "opt3")]
    pub syncs_per_op: Option<f64>,
    /// The run's latency histogram, relative to the results directory.
    pub histogram: String,
    /// How reads went: `log`, `lease` or `quorum` (`[reads] path`). Absent in files written before read
    /// paths existed: those read through the log. The columns from here on are absent there too.
    #[serde(default = "log_reads")]
    pub reads: String,
    /// Reads (`Get`) completed in the window, their rate and latency, and the model's read latency for the path.
    #[serde(default)]
    pub read_ops: u64,
    #[serde(default, serialize_with = "dec1")]
    pub read_ops_s: f64,
    #[serde(default, serialize_with = "opt1")]
    pub read_p50_us: Option<f64>,
    #[serde(default, serialize_with = "opt1")]
    pub read_p99_us: Option<f64>,
    #[serde(default, serialize_with = "opt1")]
    pub expected_read_p50_us: Option<f64>,
    /// Writes (`Put`): count and latency (their model is `expected_p50_us`).
    #[serde(default)]
    pub write_ops: u64,
    #[serde(default, serialize_with = "opt1")]
    pub write_p50_us: Option<f64>,
    #[serde(default, serialize_with = "opt1")]
    pub write_p99_us: Option<f64>,
    /// Compare-and-set: count and latency.
    #[serde(default)]
    pub cas_ops: u64,
    #[serde(default, serialize_with = "opt1")]
    pub cas_p50_us: Option<f64>,
    #[serde(default, serialize_with = "opt1")]
    pub cas_p99_us: Option<f64>,
    /// Lease reads, over the whole run and the replicas alive at the end: reads a leader answered under its
    /// lease, reads that found it without one (and went through the log), and the waits of new leaders for an
    /// earlier lease to end (count and total milliseconds).
    #[serde(default)]
    pub lease_reads: u64,
    #[serde(default)]
    pub lease_misses: u64,
    #[serde(default)]
    pub lease_waits: u64,
    #[serde(default, serialize_with = "dec1")]
    pub lease_wait_ms: f64,
    /// Latency by client region inside the window, as `region=microseconds` pairs joined by `;` in the order
    /// `[cluster] clients` names the regions: what a client in each region saw (`paxos-bench tune` ranks
    /// configurations by these). Absent in files written before it existed.
    #[serde(default)]
    pub region_p50_us: String,
    #[serde(default)]
    pub region_p99_us: String,
    /// The analytic model's p50 for a client of each region (same regions and order as `region_p50_us`).
    #[serde(default)]
    pub region_model_p50_us: String,
    /// With a crash among the config's faults: from the first crash on, the longest time no client saw a
    /// command complete (ms): the failover time when the crash took the leader. Empty without a crash, or
    /// when commits never resumed.
    #[serde(default)]
    pub failover_ms: Option<f64>,
    /// The run's `load.conflict` (its `[[variant]] conflict` if it set one); empty when the workload has none.
    #[serde(default)]
    pub conflict: Option<f64>,
}

pub(crate) fn log_reads() -> String {
    "log".into()
}

pub(crate) fn memory() -> String {
    "memory".into()
}

fn fixed<S: serde::Serializer>(v: Option<f64>, decimals: usize, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.map(|x| format!("{x:.decimals$}")).unwrap_or_default())
}
fn dec0<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    fixed(Some(*v), 0, s)
}
fn dec1<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    fixed(Some(*v), 1, s)
}
fn dec3<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    fixed(Some(*v), 3, s)
}
fn opt1<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    fixed(*v, 1, s)
}
fn opt3<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    fixed(*v, 3, s)
}

/// The columns of `results.csv`, in order, as [`ResultRow`] declares them.
pub fn results_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut w = csv::Writer::from_writer(Vec::new());
        let empty = ResultRow::default();
        // Serializing plain strings and numbers into memory cannot fail.
        let _ = w.serialize(&empty);
        let bytes = w.into_inner().unwrap_or_default();
        let text = String::from_utf8(bytes).unwrap_or_default();
        text.lines().next().unwrap_or_default().to_string()
    })
}

/// One run: its `results.csv` row and what the other files hold (messages by type, the histogram, the
/// timeline, CPU per replica, notes).
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The row as `results.csv` has it, but for its derived cells (`syncs_per_op`, `histogram`), which
    /// [`RunResult::csv_row`] fills in.
    pub row: ResultRow,
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
    /// Whether the jitter came from `[sweep]` (then it is part of the histogram's file name).
    pub jitter_swept: bool,
    /// With a write-ahead log: `fdatasync` calls summed over the replicas, over the whole run (warm-up and
    /// drain included).
    pub wal_syncs: Option<u64>,
    /// Latency by client region (the row's `region_*` cells, as numbers).
    pub by_region: Vec<RegionLatency>,
    /// When a load generator ran one share of the clients: what `paxos-bench merge` needs besides the figures
    /// (written to `shares/`).
    pub share: Option<Box<crate::share::SharePart>>,
}

/// What the clients of one region saw inside the window.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionLatency {
    pub region: String,
    pub ops: u64,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
}

impl RegionLatency {
    /// A region's p50 and p99 from its latency histogram (nanoseconds) of `ops` operations.
    pub fn of(region: String, ops: u64, h: &Histogram<u64>) -> RegionLatency {
        let q = |q: f64| (ops > 0).then(|| h.value_at_quantile(q) as f64 / 1000.0);
        RegionLatency {
            region,
            ops,
            p50_us: q(0.5),
            p99_us: q(0.99),
        }
    }

    /// The `region=value;...` cell of one quantile.
    pub fn cell(all: &[RegionLatency], q: impl Fn(&RegionLatency) -> Option<f64>) -> String {
        all.iter()
            .map(|r| {
                let v = q(r).map(|x| format!("{x:.1}")).unwrap_or_default();
                format!("{}={v}", r.region)
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

impl RunResult {
    /// Sets the latency by client region and the row's cells that show it.
    pub fn set_regions(&mut self, regions: Vec<RegionLatency>) {
        self.row.region_p50_us = RegionLatency::cell(&regions, |r| r.p50_us);
        self.row.region_p99_us = RegionLatency::cell(&regions, |r| r.p99_us);
        self.by_region = regions;
    }

    /// The complete `results.csv` row.
    pub fn csv_row(&self) -> ResultRow {
        let mut row = self.row.clone();
        // Syncs are counted over the whole run, so they are divided by every completion of the run too.
        row.syncs_per_op = match (self.wal_syncs, self.timeline.iter().sum::<u64>()) {
            (Some(s), done) if done > 0 => Some(s as f64 / done as f64),
            _ => None,
        };
        row.histogram = format!("histograms/{}", histogram_file_name(self));
        row
    }
}

pub fn render_results_csv(runs: &[RunResult]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in runs {
        w.serialize(r.csv_row())?;
    }
    if runs.is_empty() {
        w.write_record(results_columns().split(','))?;
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
                if r.row.ops == 0 {
                    String::new()
                } else {
                    format!("{:.3}", x as f64 / r.row.ops as f64)
                }
            };
            w.write_record([
                r.row.experiment.clone(),
                r.row.variant.clone(),
                r.row.mode.clone(),
                r.row.clients.to_string(),
                r.row.seed.to_string(),
                kind.clone(),
                c.count.to_string(),
                c.bytes.to_string(),
                per(c.count),
                per(c.bytes),
                format!("{:.3}", r.row.jitter_ms),
                r.row.storage.clone(),
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
                r.row.experiment.clone(),
                r.row.variant.clone(),
                r.row.mode.clone(),
                r.row.clients.to_string(),
                r.row.seed.to_string(),
                format!("{:.1}", i as f64 * bucket_s),
                format!("{:.0}", *count as f64 / bucket_s),
                format!("{:.3}", r.row.jitter_ms),
                r.row.storage.clone(),
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
            let per_op = if r.row.ops == 0 {
                String::new()
            } else {
                format!("{:.3}", ms * 1000.0 / r.row.ops as f64)
            };
            w.write_record([
                r.row.experiment.clone(),
                r.row.variant.clone(),
                r.row.mode.clone(),
                r.row.clients.to_string(),
                r.row.seed.to_string(),
                i.to_string(),
                format!("{ms:.3}"),
                per_op,
                format!("{:.3}", r.row.jitter_ms),
                r.row.storage.clone(),
            ])?;
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

pub fn histogram_file_name(r: &RunResult) -> String {
    let safe = crate::config::file_safe(&r.row.variant);
    let mode = match r.row.storage.as_str() {
        "memory" => r.row.mode.clone(),
        other => format!("{}-{other}", r.row.mode),
    };
    if r.jitter_swept {
        format!(
            "{safe}-{mode}-j{}us-c{}-s{}.hdr",
            (r.row.jitter_ms * 1000.0).round() as u64,
            r.row.clients,
            r.row.seed
        )
    } else {
        format!("{safe}-{mode}-c{}-s{}.hdr", r.row.clients, r.row.seed)
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
        if let Some(part) = &r.share {
            crate::share::write(dir, r, part)?;
        }
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
                r.row.variant, r.row.clients, r.row.seed
            ));
        }
    }
    let path = dir.join("notes.txt");
    write_atomic(&path, notes.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut modes: Vec<String> = Vec::new();
    for r in runs {
        if !modes.contains(&r.row.mode) {
            modes.push(r.row.mode.clone());
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
pub(crate) mod tests {
    use super::*;

    /// A complete row for tests elsewhere to vary.
    pub(crate) fn sample_row() -> ResultRow {
        result().row
    }

    fn result() -> RunResult {
        RunResult {
            row: ResultRow {
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
                collisions: 3,
                recoveries: 2,
                reconfigurations: 0,
                jitter_ms: 0.5,
                max_stall_ms: 300.0,
                commit_p50_us: Some(800.0),
                commit_p99_us: Some(1900.0),
                expected_commit_p50_us: Some(790.0),
                storage: "memory".into(),
                syncs_per_op: None,
                histogram: String::new(),
                reads: "lease".into(),
                read_ops: 4,
                read_ops_s: 2.0,
                read_p50_us: Some(300.5),
                read_p99_us: None,
                expected_read_p50_us: Some(400.0),
                write_ops: 6,
                write_p50_us: Some(1250.0),
                lease_reads: 4,
                lease_misses: 1,
                lease_waits: 1,
                lease_wait_ms: 812.5,
                ..ResultRow::default()
            },
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
            jitter_swept: false,
            wal_syncs: None,
            by_region: Vec::new(),
            share: None,
        }
    }

    /// The column names and order every reader of `results.csv` relies on.
    const PROMISED_COLUMNS: &str = "experiment,variant,mode,replicas,q1,q2,clients,seed,ops,throughput_ops_s,p50_us,p90_us,p99_us,p999_us,max_us,msgs_per_op,bytes_per_op,expected_p50_us,protocol,collisions,recoveries,reconfigurations,jitter_ms,max_stall_ms,commit_p50_us,commit_p99_us,expected_commit_p50_us,storage,syncs_per_op,histogram,reads,read_ops,read_ops_s,read_p50_us,read_p99_us,expected_read_p50_us,write_ops,write_p50_us,write_p99_us,cas_ops,cas_p50_us,cas_p99_us,lease_reads,lease_misses,lease_waits,lease_wait_ms,region_p50_us,region_p99_us,region_model_p50_us,failover_ms,conflict";

    #[test]
    fn results_csv_has_the_promised_columns_in_order() {
        let mut r = result();
        r.set_regions(vec![
            RegionLatency {
                region: "us-east".into(),
                ops: 6,
                p50_us: Some(1250.0),
                p99_us: None,
            },
            RegionLatency {
                region: "eu-west".into(),
                ops: 4,
                p50_us: Some(3000.5),
                p99_us: Some(4100.0),
            },
        ]);
        let bytes = render_results_csv(&[r]).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), PROMISED_COLUMNS);
        assert_eq!(
            lines.next().unwrap(),
            "e,multi,sim,5,3,3,1,7,10,5.0,1234.5,2000.0,,,,10.000,500.2,1200.0,multi,3,2,0,0.500,300,800.0,1900.0,790.0,memory,,histograms/multi-sim-c1-s7.hdr,lease,4,2.0,300.5,,400.0,6,1250.0,,0,,,4,1,1,812.5,us-east=1250.0;eu-west=3000.5,us-east=;eu-west=4100.0,,,"
        );
        // A run with a write-ahead log: its storage, its syncs per operation, and a histogram of its own.
        let mut w = result();
        w.row.mode = "quic".into();
        w.row.storage = "wal".into();
        w.wal_syncs = Some(25);
        let text = String::from_utf8(render_results_csv(&[w]).unwrap()).unwrap();
        assert!(
            text.contains(",790.0,wal,2.500,histograms/multi-quic-wal-c1-s7.hdr,lease,"),
            "{text}"
        );
    }

    #[test]
    fn a_written_row_reads_back_as_the_same_row() {
        let mut r = result();
        // A value already at the column's precision reads back exactly.
        r.row.bytes_per_op = Some(500.5);
        let bytes = render_results_csv(std::slice::from_ref(&r)).unwrap();
        let mut rd = csv::Reader::from_reader(bytes.as_slice());
        let back: Vec<ResultRow> = rd.deserialize().collect::<Result<_, _>>().unwrap();
        assert_eq!(back, vec![r.csv_row()]);
        assert_eq!(results_columns(), PROMISED_COLUMNS);
    }

    #[test]
    fn an_empty_result_set_still_has_a_header() {
        let text = String::from_utf8(render_results_csv(&[]).unwrap()).unwrap();
        assert_eq!(text.trim(), PROMISED_COLUMNS);
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
