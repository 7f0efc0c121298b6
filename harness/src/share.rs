//! One load generator's share of a run's clients (`run --cluster FILE --client-share INDEX/COUNT`), as it is
//! written beside that generator's own results, and the sum of a run's shares (`paxos-bench merge`).
//!
//! A share cannot judge the run alone: the replicas decided every share's commands, and a read may return a
//! value another share wrote. So it writes what the sum needs: its latency histograms in HdrHistogram's V2
//! serialized form (added exactly, so the merged p50/p99 are those of one histogram of all samples), its counts,
//! its message counts split into what its clients sent and what the replicas sent, its completions per 100 ms,
//! and its clients' history on a Unix-time clock. The merge checks the history of all shares together.
//!
//! `shares/<run>/` holds `share.json`, `latency.hdr`, `commit.hdr`, `read.hdr`, `write.hdr`, `cas.hdr`,
//! `region-<i>.hdr` and `history.jsonl` (one operation per line).

use crate::check::OpRecord;
use crate::metrics::MsgCount;
use crate::results::{render_histogram, RegionLatency, ResultRow, RunResult};
use crate::shard::Shard;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use paxos_variants::{Op, Reply, Slot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The folder of an output directory that holds its runs' shares.
pub const DIR: &str = "shares";
const FORMAT: &str = "paxos-bench client share 1";
const OP_KINDS: [&str; 3] = ["read", "write", "cas"];

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot merge run {run}: {message}")]
    Mismatch { run: String, message: String },
}

/// What a share knows beyond its own [`RunResult`].
#[derive(Debug, Clone)]
pub struct SharePart {
    pub shard: Shard,
    /// The Unix time (ns) of the zero of every other time here: the shares' clocks meet through it.
    pub clock_unix_ns: u64,
    /// When this run started on that clock (a session's later runs start later).
    pub run_start_ns: u64,
    /// The measurement window, from the run's start.
    pub window_ns: (u64, u64),
    pub commit: Histogram<u64>,
    /// Read, write and compare-and-set latencies with their counts.
    pub by_op: Vec<(u64, Histogram<u64>)>,
    /// Latency by client region, regions in the order of the run's `region_p50_us`.
    pub regions: Vec<(String, u64, Histogram<u64>)>,
    /// What this share's clients sent inside the window.
    pub client_messages: Vec<(String, MsgCount)>,
    /// What the replicas sent inside the window (every share sees all of it).
    pub replica_messages: Vec<(String, MsgCount)>,
    /// Every operation of this share's clients.
    pub records: Vec<ClientRecords>,
}

/// One client's operations: its id, and its records by sequence number.
pub type ClientRecords = (u32, Vec<OpRecord>);

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    run: String,
    shard: Shard,
    clock_unix_ns: u64,
    run_start_ns: u64,
    window_ns: (u64, u64),
    /// The share's own `results.csv` (header and row): its figures, and the replica-side cells.
    row_csv: String,
    op_counts: Vec<u64>,
    regions: Vec<(String, u64)>,
    client_messages: Vec<(String, u64, u64)>,
    replica_messages: Vec<(String, u64, u64)>,
    timeline: Vec<u64>,
    cpu_ms: Vec<f64>,
    notes: Vec<String>,
    jitter_swept: bool,
    wal_syncs: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordLine {
    client: u32,
    seq: u64,
    op: Op,
    invoked_ns: u64,
    completed: Option<(u64, Reply)>,
    learned: Option<(u64, Slot)>,
}

/// A run's name inside `shares/`: its histogram file's stem.
pub fn run_name(r: &RunResult) -> String {
    let h = crate::results::histogram_file_name(r);
    h.trim_end_matches(".hdr").to_string()
}

/// Writes `r`'s share into `dir/shares/<run>/`.
pub fn write(dir: &Path, r: &RunResult, part: &SharePart) -> Result<(), ShareError> {
    let run = run_name(r);
    let base = dir.join(DIR).join(&run);
    let put = |name: &str, bytes: &[u8]| {
        let path = base.join(name);
        crate::results::write_atomic(&path, bytes).map_err(|source| ShareError::Write {
            path: path.clone(),
            source,
        })
    };
    let hist = |h: &Histogram<u64>| {
        render_histogram(h).map_err(|source| ShareError::Write {
            path: base.clone(),
            source,
        })
    };
    put("latency.hdr", &hist(&r.histogram)?)?;
    put("commit.hdr", &hist(&part.commit)?)?;
    for (name, (_, h)) in OP_KINDS.iter().zip(&part.by_op) {
        put(&format!("{name}.hdr"), &hist(h)?)?;
    }
    for (i, (_, _, h)) in part.regions.iter().enumerate() {
        put(&format!("region-{i}.hdr"), &hist(h)?)?;
    }
    let mut lines = String::new();
    for (client, records) in &part.records {
        for (seq, rec) in records.iter().enumerate() {
            let line = RecordLine {
                client: *client,
                seq: seq as u64,
                op: rec.op.clone(),
                invoked_ns: rec.invoked_ns,
                completed: rec.completed.clone(),
                learned: rec.learned,
            };
            lines.push_str(&serde_json::to_string(&line).unwrap_or_default());
            lines.push('\n');
        }
    }
    put("history.jsonl", lines.as_bytes())?;
    let row_csv = crate::results::render_results_csv(std::slice::from_ref(r)).map_err(|e| {
        ShareError::Write {
            path: base.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    })?;
    let counts = |v: &[(String, MsgCount)]| -> Vec<(String, u64, u64)> {
        v.iter()
            .map(|(k, c)| (k.clone(), c.count, c.bytes))
            .collect()
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        run: run.clone(),
        shard: part.shard,
        clock_unix_ns: part.clock_unix_ns,
        run_start_ns: part.run_start_ns,
        window_ns: part.window_ns,
        row_csv: String::from_utf8_lossy(&row_csv).into_owned(),
        op_counts: part.by_op.iter().map(|(n, _)| *n).collect(),
        regions: part
            .regions
            .iter()
            .map(|(name, n, _)| (name.clone(), *n))
            .collect(),
        client_messages: counts(&part.client_messages),
        replica_messages: counts(&part.replica_messages),
        timeline: r.timeline.clone(),
        cpu_ms: r.cpu_ms.clone(),
        notes: r.notes.clone(),
        jitter_swept: r.jitter_swept,
        wal_syncs: r.wal_syncs,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    json.push(b'\n');
    // The manifest last: a share whose manifest is there is complete.
    put("share.json", &json)
}

/// One run's share as read back.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where it was read from (for messages).
    pub dir: PathBuf,
    pub run: String,
    pub result: RunResult,
    pub part: SharePart,
}

/// Every share in the output directory `dir` (its `shares/*/`), by run name.
pub fn load_dir(dir: &Path) -> Result<Vec<Loaded>, ShareError> {
    let base = dir.join(DIR);
    let read_err = |path: &Path, message: String| ShareError::Read {
        path: path.to_path_buf(),
        message,
    };
    let entries = std::fs::read_dir(&base).map_err(|e| {
        read_err(
            &base,
            format!(
                "{e} (a load generator writes it when it runs with --client-share; this directory has none)"
            ),
        )
    })?;
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for run_dir in names {
        out.push(load_one(&run_dir)?);
    }
    if out.is_empty() {
        return Err(read_err(&base, "holds no shares".into()));
    }
    Ok(out)
}

fn load_one(run_dir: &Path) -> Result<Loaded, ShareError> {
    let read_err = |path: &Path, message: String| ShareError::Read {
        path: path.to_path_buf(),
        message,
    };
    let manifest_path = run_dir.join("share.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        read_err(
            &manifest_path,
            format!("{e} (the share is incomplete: its load generator may have died)"),
        )
    })?;
    let m: Manifest = serde_json::from_str(&text)
        .map_err(|e| read_err(&manifest_path, format!("not a share manifest: {e}")))?;
    if m.format != FORMAT {
        return Err(read_err(
            &manifest_path,
            format!("its format is `{}`, not `{FORMAT}`", m.format),
        ));
    }
    let hist = |name: &str| -> Result<Histogram<u64>, ShareError> {
        let path = run_dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| read_err(&path, e.to_string()))?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| read_err(&path, format!("not an HdrHistogram V2 histogram: {e:?}")))
    };
    let mut rd = csv::Reader::from_reader(m.row_csv.as_bytes());
    let row: ResultRow = rd
        .deserialize()
        .next()
        .ok_or_else(|| read_err(&manifest_path, "its row_csv holds no row".into()))?
        .map_err(|e| read_err(&manifest_path, format!("its row_csv: {e}")))?;
    let mut by_op = Vec::new();
    for (i, name) in OP_KINDS.iter().enumerate() {
        let n = m.op_counts.get(i).copied().unwrap_or(0);
        by_op.push((n, hist(&format!("{name}.hdr"))?));
    }
    let mut regions = Vec::new();
    for (i, (name, n)) in m.regions.iter().enumerate() {
        regions.push((name.clone(), *n, hist(&format!("region-{i}.hdr"))?));
    }
    let history_path = run_dir.join("history.jsonl");
    let text = std::fs::read_to_string(&history_path)
        .map_err(|e| read_err(&history_path, e.to_string()))?;
    let mut by_client: BTreeMap<u32, Vec<OpRecord>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: RecordLine = serde_json::from_str(line)
            .map_err(|e| read_err(&history_path, format!("line {}: {e}", i + 1)))?;
        let ops = by_client.entry(r.client).or_default();
        if r.seq != ops.len() as u64 {
            return Err(read_err(
                &history_path,
                format!(
                    "line {}: client {} operation {} follows {} operations (a share's history lists each \
                     client's operations in order)",
                    i + 1,
                    r.client,
                    r.seq,
                    ops.len()
                ),
            ));
        }
        ops.push(OpRecord {
            op: r.op,
            invoked_ns: r.invoked_ns,
            completed: r.completed,
            learned: r.learned,
        });
    }
    let counts = |v: &[(String, u64, u64)]| -> Vec<(String, MsgCount)> {
        v.iter()
            .map(|(k, c, b)| {
                (
                    k.clone(),
                    MsgCount {
                        count: *c,
                        bytes: *b,
                    },
                )
            })
            .collect()
    };
    let client_messages = counts(&m.client_messages);
    let replica_messages = counts(&m.replica_messages);
    let mut by_kind: BTreeMap<String, MsgCount> = BTreeMap::new();
    for (k, c) in client_messages.iter().chain(&replica_messages) {
        let e = by_kind.entry(k.clone()).or_default();
        e.count += c.count;
        e.bytes += c.bytes;
    }
    let result = RunResult {
        row,
        by_kind: by_kind.into_iter().collect(),
        histogram: hist("latency.hdr")?,
        timeline: m.timeline,
        cpu_ms: m.cpu_ms,
        notes: m.notes,
        jitter_swept: m.jitter_swept,
        wal_syncs: m.wal_syncs,
        by_region: Vec::new(),
        share: None,
    };
    Ok(Loaded {
        dir: run_dir.to_path_buf(),
        run: m.run,
        result,
        part: SharePart {
            shard: m.shard,
            clock_unix_ns: m.clock_unix_ns,
            run_start_ns: m.run_start_ns,
            window_ns: m.window_ns,
            commit: hist("commit.hdr")?,
            by_op,
            regions,
            client_messages,
            replica_messages,
            records: by_client.into_iter().collect(),
        },
    })
}

/// The shares of one run added into the run, and its clients' records on a common clock whose zero is
/// `origin_unix_ns` (the earliest share clock of the whole merge).
pub fn merge_run(
    mut shares: Vec<Loaded>,
    origin_unix_ns: u64,
) -> Result<(RunResult, Vec<ClientRecords>), ShareError> {
    let run = shares.first().map(|s| s.run.clone()).unwrap_or_default();
    let mismatch = |message: String| ShareError::Mismatch {
        run: run.clone(),
        message,
    };
    shares.sort_by_key(|s| s.part.shard.index);
    let count = shares[0].part.shard.count;
    for (i, s) in shares.iter().enumerate() {
        if s.part.shard.count != count {
            return Err(mismatch(format!(
                "{} is share {}/{} but {} is share {}/{count}: they come from different splits",
                s.dir.display(),
                s.part.shard.index,
                s.part.shard.count,
                shares[0].dir.display(),
                shares[0].part.shard.index
            )));
        }
        if s.part.shard.index != i as u64 {
            let what = if s.part.shard.index < i as u64 {
                format!(
                    "share {}/{count} is given twice ({} and {})",
                    s.part.shard.index,
                    shares[i - 1].dir.display(),
                    s.dir.display()
                )
            } else {
                format!("share {i}/{count} is missing")
            };
            return Err(mismatch(what));
        }
    }
    if shares.len() as u64 != count {
        return Err(mismatch(format!(
            "share(s) {} of {count} are missing",
            (shares.len() as u64..count)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let first = &shares[0];
    let same = |a: &ResultRow, b: &ResultRow| {
        (
            &a.experiment,
            &a.variant,
            &a.mode,
            a.replicas,
            a.clients,
            a.seed,
            &a.storage,
        ) == (
            &b.experiment,
            &b.variant,
            &b.mode,
            b.replicas,
            b.clients,
            b.seed,
            &b.storage,
        )
    };
    if let Some(s) = shares
        .iter()
        .find(|s| !same(&s.result.row, &first.result.row))
    {
        return Err(mismatch(format!(
            "{} ran {} with {} clients, seed {}, but {} ran {} with {} clients, seed {}",
            s.dir.display(),
            s.result.row.variant,
            s.result.row.clients,
            s.result.row.seed,
            first.dir.display(),
            first.result.row.variant,
            first.result.row.clients,
            first.result.row.seed
        )));
    }

    // Replica-side figures (their messages, CPU, protocol counters, syncs) are the same cluster seen by every
    // share over the same window: share 0's are kept. Client-side figures add.
    let mut out = first.result.clone();
    let mut latency = crate::metrics::new_histogram();
    let mut commit = crate::metrics::new_histogram();
    let mut by_op: Vec<(u64, Histogram<u64>)> = (0..OP_KINDS.len())
        .map(|_| (0, crate::metrics::new_histogram()))
        .collect();
    let mut regions: Vec<(String, u64, Histogram<u64>)> = Vec::new();
    let mut by_kind: BTreeMap<String, MsgCount> = BTreeMap::new();
    let (mut ops, mut thr, mut read_thr) = (0u64, 0.0, 0.0);
    let mut timeline: Vec<u64> = Vec::new();
    let mut records = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let run_start = |s: &Loaded| s.part.clock_unix_ns + s.part.run_start_ns;
    let earliest = shares.iter().map(run_start).min().unwrap_or(0);
    let spread_ms = (shares.iter().map(run_start).max().unwrap_or(0) - earliest) as f64 / 1e6;
    for s in &shares {
        add(&mut latency, &s.result.histogram);
        add(&mut commit, &s.part.commit);
        for (a, b) in by_op.iter_mut().zip(&s.part.by_op) {
            a.0 += b.0;
            add(&mut a.1, &b.1);
        }
        for (name, n, h) in &s.part.regions {
            match regions.iter_mut().find(|(r, _, _)| r == name) {
                Some(r) => {
                    r.1 += n;
                    add(&mut r.2, h);
                }
                None => regions.push((name.clone(), *n, h.clone())),
            }
        }
        let replica = if s.part.shard.index == 0 {
            &s.part.replica_messages[..]
        } else {
            &[]
        };
        for (k, c) in s.part.client_messages.iter().chain(replica) {
            let e = by_kind.entry(k.clone()).or_default();
            e.count += c.count;
            e.bytes += c.bytes;
        }
        ops += s.result.row.ops;
        thr += s.result.row.throughput_ops_s;
        read_thr += s.result.row.read_ops_s;
        // Completions per 100 ms, aligned on the earliest share's start.
        let shift = ((run_start(s) - earliest) as f64 / crate::metrics::TIMELINE_BUCKET_NS as f64)
            .round() as usize;
        if timeline.len() < s.result.timeline.len() + shift {
            timeline.resize(s.result.timeline.len() + shift, 0);
        }
        for (i, c) in s.result.timeline.iter().enumerate() {
            timeline[i + shift] += c;
        }
        let to_origin = (s.part.clock_unix_ns as i128) - (origin_unix_ns as i128);
        let shift_ns = |t: u64| (t as i128 + to_origin).max(0) as u64;
        for (client, recs) in &s.part.records {
            let recs: Vec<OpRecord> = recs
                .iter()
                .cloned()
                .map(|mut r| {
                    r.invoked_ns = shift_ns(r.invoked_ns);
                    if let Some((t, _)) = r.completed.as_mut() {
                        *t = shift_ns(*t);
                    }
                    if let Some((t, _)) = r.learned.as_mut() {
                        *t = shift_ns(*t);
                    }
                    r
                })
                .collect();
            records.push((*client, recs));
        }
        for n in &s.result.notes {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
    }
    let q = |h: &Histogram<u64>, n: u64, q: f64| {
        (n > 0).then(|| h.value_at_quantile(q) as f64 / 1000.0)
    };
    let row = &mut out.row;
    row.ops = ops;
    row.throughput_ops_s = thr;
    row.p50_us = q(&latency, ops, 0.5);
    row.p90_us = q(&latency, ops, 0.9);
    row.p99_us = q(&latency, ops, 0.99);
    row.p999_us = q(&latency, ops, 0.999);
    row.max_us = (ops > 0).then(|| latency.max() as f64 / 1000.0);
    row.commit_p50_us = q(&commit, ops, 0.5);
    row.commit_p99_us = q(&commit, ops, 0.99);
    let total: MsgCount = by_kind.values().fold(MsgCount::default(), |a, c| MsgCount {
        count: a.count + c.count,
        bytes: a.bytes + c.bytes,
    });
    row.msgs_per_op = (ops > 0).then(|| total.count as f64 / ops as f64);
    row.bytes_per_op = (ops > 0).then(|| total.bytes as f64 / ops as f64);
    let [(r_n, r_h), (w_n, w_h), (c_n, c_h)] = [&by_op[0], &by_op[1], &by_op[2]];
    row.read_ops = *r_n;
    row.read_ops_s = read_thr;
    row.read_p50_us = q(r_h, *r_n, 0.5);
    row.read_p99_us = q(r_h, *r_n, 0.99);
    row.write_ops = *w_n;
    row.write_p50_us = q(w_h, *w_n, 0.5);
    row.write_p99_us = q(w_h, *w_n, 0.99);
    row.cas_ops = *c_n;
    row.cas_p50_us = q(c_h, *c_n, 0.5);
    row.cas_p99_us = q(c_h, *c_n, 0.99);
    // Share 0's window, on the merged timeline (which starts at the earliest share's start).
    let w0 = run_start(first) - earliest;
    row.max_stall_ms = crate::metrics::longest_stall_ms(
        &timeline,
        first.part.window_ns.0 + w0,
        first.part.window_ns.1 + w0,
    );
    out.histogram = latency;
    out.by_kind = by_kind.into_iter().collect();
    out.timeline = timeline;
    out.notes = notes;
    out.notes.push(format!(
        "merged from {count} load generators (client shares), which started within {spread_ms:.0} ms of each \
         other; latency and counts are their sum, the replicas' messages, CPU and counters are those share 0 \
         measured"
    ));
    out.set_regions(
        regions
            .iter()
            .map(|(name, n, h)| RegionLatency::of(name.clone(), *n, h))
            .collect(),
    );
    Ok((out, records))
}

/// Adds `b` into `a`; both come from [`crate::metrics::new_histogram`] or a V2 file, so their bounds allow it,
/// and a histogram read back with other bounds is added value by value.
fn add(a: &mut Histogram<u64>, b: &Histogram<u64>) {
    if a.add(b).is_err() {
        for v in b.iter_recorded() {
            let _ = a.record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The merged percentiles are those of one histogram of every sample, also after a V2 round trip.
    #[test]
    fn shares_add_exactly_to_one_histogram_of_all_samples() {
        let mut rng = paxos_variants::DetRng::derive(7, 1);
        let mut whole = crate::metrics::new_histogram();
        let mut parts: Vec<Histogram<u64>> =
            (0..3).map(|_| crate::metrics::new_histogram()).collect();
        for i in 0..30_000u64 {
            // Three shares with different spreads, so no share alone has the merged quantiles.
            let v = 50_000 + (rng.below(1_000_000) * (1 + i % 3)) + (i % 7) * 13;
            whole.record(v).unwrap();
            parts[(i % 3) as usize].record(v).unwrap();
        }
        let mut merged = crate::metrics::new_histogram();
        for p in &parts {
            let bytes = render_histogram(p).unwrap();
            let back: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .unwrap();
            add(&mut merged, &back);
        }
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                merged.value_at_quantile(q),
                whole.value_at_quantile(q),
                "q {q}"
            );
        }
        assert_eq!(merged.len(), whole.len());
        assert_ne!(
            parts[0].value_at_quantile(0.99),
            whole.value_at_quantile(0.99),
            "a share alone differs, so the test can fail"
        );
    }
}
