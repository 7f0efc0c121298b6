//! Where acceptor state lives in a QUIC run: in memory (the harness hands it to a restarted replica, as if the
//! disk were infinitely fast), or in a write-ahead log per replica, synced before the replica answers.
//! [`sync_floor`] measures the disk's own `fdatasync` time, the floor under any durable commit.

pub mod decided;
pub mod wal;

use paxos_variants::{DurableRecord, Replica};
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Memory,
    Wal,
}

impl Storage {
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Memory => "memory",
            Storage::Wal => "wal",
        }
    }
}

/// The log file of replica `id` in `dir`.
pub fn wal_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("replica-{id}.wal"))
}

/// What a replica's log held when it started again.
pub struct Prior<D> {
    pub durable: D,
    /// Starts before this one: the new incarnation's number.
    pub boots: u64,
    pub records: usize,
}

/// An open log, and what it held before (`None`: it is new).
pub type OpenedLog<D> = (wal::Wal, Option<Prior<D>>);

/// Opens replica `R`'s log at `path` and folds what it holds: `None` for a new log.
pub fn open_replica_log<R: Replica>(
    path: &Path,
    variant: &str,
) -> Result<OpenedLog<R::Durable>, wal::WalError> {
    let (log, rec) = wal::Wal::open::<DurableRecord<R>>(path, variant)?;
    if rec.torn_bytes > 0 {
        tracing::warn!(
            "{}: cut off {} bytes of a write torn by a crash (never synced, so never answered from)",
            path.display(),
            rec.torn_bytes
        );
    }
    let prior = (rec.boots > 0).then(|| Prior {
        records: rec.records.len(),
        durable: paxos_variants::journal::replay::<R::Durable>(rec.records),
        boots: rec.boots,
    });
    Ok((log, prior))
}

/// The disk's `fdatasync` time for small appends, as a log of one record per sync would see it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SyncFloor {
    pub samples: usize,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// Appends 64 bytes and syncs, `samples` times, in a scratch file in `dir` (removed after).
pub fn sync_floor(dir: &Path, samples: usize) -> std::io::Result<SyncFloor> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(".sync-floor-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        let mut us = Vec::with_capacity(samples);
        for _ in 0..samples.max(1) {
            let t0 = Instant::now();
            f.write_all(&[0x5a; 64])?;
            f.sync_data()?;
            us.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        us.sort_by(f64::total_cmp);
        let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
        Ok(SyncFloor {
            samples: us.len(),
            p50_us: at(0.5),
            p99_us: at(0.99),
        })
    })();
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_floor_is_measured_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let f = sync_floor(dir.path(), 20).unwrap();
        assert_eq!(f.samples, 20);
        assert!(f.p50_us > 0.0 && f.p99_us >= f.p50_us);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
