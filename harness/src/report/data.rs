//! Reading a results directory back: `results.csv`, `messages.csv`, `timeseries.csv`, the histograms,
//! `config.toml` and `environment.json`. The report is built from these files alone, so `paxos-bench report DIR`
//! can rebuild it on another machine, and the baseline comparison reads the same rows.

use super::environment::Environment;
use super::ReportError;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::results::ResultRow;

/// Rows that carry a mode and a storage. On reading, a run with a write-ahead log gets the mode `quic+wal`, so
/// every figure, table and comparison keeps it apart from the same run in memory without a second key.
pub trait Profiled {
    fn profile_parts(&mut self) -> (&mut String, &str);
}

fn fold_storage_into_mode<T: Profiled>(rows: &mut [T]) {
    for r in rows {
        let (mode, storage) = r.profile_parts();
        if storage != "memory" && !mode.ends_with(&format!("+{storage}")) {
            let joined = format!("{mode}+{storage}");
            *mode = joined;
        }
    }
}

macro_rules! profiled {
    ($($t:ty),*) => {$(
        impl Profiled for $t {
            fn profile_parts(&mut self) -> (&mut String, &str) {
                (&mut self.mode, &self.storage)
            }
        }
    )*};
}
profiled!(ResultRow, MessageRow, TimeRow);

/// One `messages.csv` row.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageRow {
    pub experiment: String,
    pub variant: String,
    pub mode: String,
    pub clients: usize,
    pub seed: u64,
    pub kind: String,
    pub count: u64,
    pub bytes: u64,
    pub per_op: Option<f64>,
    pub bytes_per_op: Option<f64>,
    pub jitter_ms: f64,
    #[serde(default = "crate::results::memory")]
    pub storage: String,
}

/// One `timeseries.csv` row.
#[derive(Debug, Clone, Deserialize)]
pub struct TimeRow {
    pub variant: String,
    pub mode: String,
    pub clients: usize,
    pub seed: u64,
    pub t_s: f64,
    pub ops_per_s: f64,
    pub jitter_ms: f64,
    #[serde(default = "crate::results::memory")]
    pub storage: String,
}

/// Everything a report shows.
pub struct RunData {
    pub dir: PathBuf,
    pub results: Vec<ResultRow>,
    pub messages: Vec<MessageRow>,
    pub timeseries: Vec<TimeRow>,
    /// By the `histogram` column's path.
    pub histograms: BTreeMap<String, Histogram<u64>>,
    pub config_text: Option<String>,
    pub notes: Vec<String>,
    pub environment: Option<Environment>,
}

pub fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, ReportError> {
    let text = std::fs::read(path).map_err(|err| ReportError::Read {
        path: path.to_path_buf(),
        err,
    })?;
    let mut r = csv::Reader::from_reader(text.as_slice());
    let mut rows = Vec::new();
    for (i, row) in r.deserialize().enumerate() {
        rows.push(row.map_err(|e| ReportError::Malformed {
            path: path.to_path_buf(),
            detail: format!("row {}: {e}", i + 1),
        })?);
    }
    Ok(rows)
}

/// The results table alone (what `compare` needs).
pub fn read_results(dir: &Path) -> Result<Vec<ResultRow>, ReportError> {
    let path = dir.join("results.csv");
    if !path.is_file() {
        return Err(ReportError::NotAResultsDir {
            dir: dir.to_path_buf(),
        });
    }
    let mut rows = read_csv(&path)?;
    fold_storage_into_mode(&mut rows);
    Ok(rows)
}

/// `messages.csv`, with the storage folded into the mode as for the results.
pub fn read_messages(dir: &Path) -> Result<Vec<MessageRow>, ReportError> {
    let mut rows = read_csv(&dir.join("messages.csv"))?;
    fold_storage_into_mode(&mut rows);
    Ok(rows)
}

/// The uncompressed V2 encoding's cookie and header length.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_HEADER: usize = 40;

fn read_histogram(dir: &Path, rel: &str) -> Result<Histogram<u64>, ReportError> {
    // The path comes from a file: it must stay inside the directory.
    if rel.contains("..") || Path::new(rel).is_absolute() {
        return Err(ReportError::Malformed {
            path: dir.join("results.csv"),
            detail: format!("histogram path `{rel}` leaves the directory"),
        });
    }
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).map_err(|err| ReportError::Read {
        path: path.clone(),
        err,
    })?;
    // The V2 header declares its payload length, which the decoder allocates before reading: a corrupted
    // length must not cost gigabytes. The harness writes uncompressed V2 only.
    let declared = bytes
        .get(4..8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let cookie = bytes
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    match (cookie, declared) {
        (Some(V2_COOKIE), Some(len)) if len.saturating_add(V2_HEADER) <= bytes.len() => {}
        _ => {
            return Err(ReportError::Malformed {
                path,
                detail: "not an uncompressed HdrHistogram V2 file, or its length field is wrong"
                    .into(),
            })
        }
    }
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| ReportError::Malformed {
            path,
            detail: format!("not an HdrHistogram V2 file: {e:?}"),
        })
}

pub fn load(dir: &Path) -> Result<RunData, ReportError> {
    let results = read_results(dir)?;
    let messages = read_messages(dir)?;
    let mut timeseries: Vec<TimeRow> = read_csv(&dir.join("timeseries.csv"))?;
    fold_storage_into_mode(&mut timeseries);
    let mut histograms = BTreeMap::new();
    for r in &results {
        if !histograms.contains_key(&r.histogram) {
            let h = read_histogram(dir, &r.histogram)?;
            histograms.insert(r.histogram.clone(), h);
        }
    }
    let config_text = std::fs::read_to_string(dir.join("config.toml")).ok();
    let notes = std::fs::read_to_string(dir.join("notes.txt"))
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default();
    let environment = Environment::read(dir)?;
    Ok(RunData {
        dir: dir.to_path_buf(),
        results,
        messages,
        timeseries,
        histograms,
        config_text,
        notes,
        environment,
    })
}
