//! Where the figures were measured: CPU, cores, operating system, the suite's commit and the modes run. Written
//! as `environment.json` beside the results, so a rebuilt report still says which machine it describes.

use super::ReportError;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub cpu: String,
    pub cores: usize,
    pub os: String,
    /// `git describe`-style commit of the source tree, `+dirty` with uncommitted changes, or "unknown".
    pub commit: String,
    pub version: String,
    /// Seconds since the Unix epoch when the results were written.
    pub written_unix_s: u64,
    pub modes: Vec<String>,
    /// The disk's `fdatasync` time where the write-ahead logs were, measured in the same job (runs with
    /// storage = "wal" only).
    #[serde(default)]
    pub sync_floor: Option<crate::storage::SyncFloor>,
}

pub const FILE: &str = "environment.json";

impl Environment {
    /// This machine, now.
    pub fn capture(modes: Vec<String>) -> Environment {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let os = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|r| format!("{} {}", std::env::consts::OS, r.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.to_string());
        Environment {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os,
            commit: commit(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            written_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            modes,
            sync_floor: None,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and numbers always serializes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// `None` when the directory has no environment file (results from before it existed).
    pub fn read(dir: &Path) -> Result<Option<Environment>, ReportError> {
        let path = dir.join(FILE);
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ReportError::Malformed {
                path,
                detail: e.to_string(),
            })
    }

    /// The date written, as YYYY-MM-DD HH:MM UTC.
    pub fn written_utc(&self) -> String {
        format!("{} UTC", utc(self.written_unix_s))
    }
}

/// Unix seconds as YYYY-MM-DD HH:MM (UTC).
pub fn utc(s: u64) -> String {
    let (days, rem) = (s / 86_400, s % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's published algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}+dirty")
            } else {
                c
            }
        }
        _ => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_come_out_in_utc() {
        let mut e = Environment::capture(vec!["sim".into()]);
        e.written_unix_s = 1_795_565_100; // 2026-11-25 00:05 UTC
        assert_eq!(e.written_utc(), "2026-11-25 00:05 UTC");
        e.written_unix_s = 951_782_400; // 2000-02-29 00:00 UTC
        assert_eq!(e.written_utc(), "2000-02-29 00:00 UTC");
    }
}
