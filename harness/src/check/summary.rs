//! The checker's summary as a file (`check --summary FILE`), and the merge of several such files.
//!
//! Seeds are independent, so a long check can be split over machines (`check --seed-shard INDEX/COUNT`, one
//! Kubernetes Indexed Job pod per shard) and the shards' summaries added afterwards. The merged summary is the
//! summary one run of the same seeds on one machine would have written: counts add, failing and undecided
//! seeds are listed by seed, and the seed ranges join. Anything that would make the sum meaningless (shards of
//! different faults or mutants, a seed checked twice, a variant missing from one shard) is refused.

use super::runner::CheckSummary;
pub use crate::shard::Shard;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What every summary file starts with, so that another JSON file is not mistaken for one.
pub const FORMAT: &str = "paxos-bench check summary 1";
/// The file name `check --summary DIR/` and `merge` use inside a directory.
pub const FILE_NAME: &str = "check-summary.json";

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a check summary: {message}")]
    Format { path: PathBuf, message: String },
    #[error("cannot merge {path}: {message}")]
    Mismatch { path: PathBuf, message: String },
    #[error("nothing to merge")]
    Empty,
}

/// A closed range of seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

/// Ranges covering `seeds`, consecutive seeds joined.
pub fn ranges(seeds: &[u64]) -> Vec<SeedRange> {
    let mut sorted = seeds.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<SeedRange> = Vec::new();
    for s in sorted {
        match out.last_mut() {
            Some(r) if r.last.checked_add(1) == Some(s) => r.last = s,
            _ => out.push(SeedRange { first: s, last: s }),
        }
    }
    out
}

/// A seed with a violation, and what was found (each violation as the checker prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingSeed {
    pub seed: u64,
    pub violations: Vec<String>,
}

/// One variant on one read path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub variant: String,
    pub reads: String,
    pub seeds_run: u64,
    pub issued: u64,
    pub completed: u64,
    pub decisions: u64,
    pub deliveries: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub black_box_refuted: u64,
    pub failing: Vec<FailingSeed>,
    pub undecided: Vec<u64>,
}

impl RunSummary {
    pub fn of(variant: &str, reads: &str, s: &CheckSummary) -> RunSummary {
        RunSummary {
            variant: variant.to_string(),
            reads: reads.to_string(),
            seeds_run: s.seeds_run as u64,
            issued: s.issued as u64,
            completed: s.completed as u64,
            decisions: s.decisions,
            deliveries: s.deliveries,
            dropped: s.dropped,
            duplicated: s.duplicated,
            crashes: s.crashes,
            partitions: s.partitions,
            black_box_refuted: s.black_box_refuted as u64,
            failing: s
                .failing
                .iter()
                .map(|o| FailingSeed {
                    seed: o.seed,
                    violations: o.violations.iter().map(|v| v.to_string()).collect(),
                })
                .collect(),
            undecided: s.undecided.clone(),
        }
    }

    fn add(&mut self, o: &RunSummary) {
        self.seeds_run += o.seeds_run;
        self.issued += o.issued;
        self.completed += o.completed;
        self.decisions += o.decisions;
        self.deliveries += o.deliveries;
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.crashes += o.crashes;
        self.partitions += o.partitions;
        self.black_box_refuted += o.black_box_refuted;
        self.failing.extend(o.failing.iter().cloned());
        self.failing.sort_by_key(|f| f.seed);
        self.undecided.extend(&o.undecided);
        self.undecided.sort_unstable();
    }
}

/// What `check --summary` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryFile {
    pub format: String,
    pub faults: String,
    pub mutant: Option<String>,
    /// The shard this file is, when the check ran as one; a merged summary has none.
    pub shard: Option<Shard>,
    /// The seeds every run below covered.
    pub seeds: Vec<SeedRange>,
    pub runs: Vec<RunSummary>,
}

impl SummaryFile {
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn read(path: &Path) -> Result<SummaryFile, SummaryError> {
        let file = if path.is_dir() {
            path.join(FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| SummaryError::Read {
            path: file.clone(),
            source,
        })?;
        let s: SummaryFile = serde_json::from_str(&text).map_err(|e| SummaryError::Format {
            path: file.clone(),
            message: e.to_string(),
        })?;
        if s.format != FORMAT {
            return Err(SummaryError::Format {
                path: file,
                message: format!("its format is `{}`, not `{FORMAT}`", s.format),
            });
        }
        Ok(s)
    }

    /// Whether any run found a violation or left a history undecided.
    pub fn failed(&self) -> bool {
        self.runs
            .iter()
            .any(|r| !r.failing.is_empty() || !r.undecided.is_empty())
    }
}

/// Adds shard summaries into the summary of all their seeds. `files` pairs each summary with where it came
/// from (for the errors).
pub fn merge(files: &[(PathBuf, SummaryFile)]) -> Result<SummaryFile, SummaryError> {
    let ((_, first), rest) = files.split_first().ok_or(SummaryError::Empty)?;
    let mut out = first.clone();
    out.shard = None;
    let mut seen: Vec<(SeedRange, &Path)> = first
        .seeds
        .iter()
        .map(|r| (*r, files[0].0.as_path()))
        .collect();
    for (path, s) in rest {
        let mismatch = |message: String| SummaryError::Mismatch {
            path: path.clone(),
            message,
        };
        if s.faults != first.faults || s.mutant != first.mutant {
            return Err(mismatch(format!(
                "it checked faults `{}`{} but {} checked faults `{}`{}",
                s.faults,
                mutant_text(&s.mutant),
                files[0].0.display(),
                first.faults,
                mutant_text(&first.mutant)
            )));
        }
        let kinds = |f: &SummaryFile| -> Vec<(String, String)> {
            f.runs
                .iter()
                .map(|r| (r.variant.clone(), r.reads.clone()))
                .collect()
        };
        if kinds(s) != kinds(first) {
            return Err(mismatch(format!(
                "it checked {} but {} checked {}",
                describe_runs(s),
                files[0].0.display(),
                describe_runs(first)
            )));
        }
        for r in &s.seeds {
            if let Some((other, where_)) = seen
                .iter()
                .find(|(o, _)| o.first <= r.last && r.first <= o.last)
            {
                return Err(mismatch(format!(
                    "its seeds {}..={} overlap seeds {}..={} of {}: a seed would be counted twice",
                    r.first,
                    r.last,
                    other.first,
                    other.last,
                    where_.display()
                )));
            }
        }
        seen.extend(s.seeds.iter().map(|r| (*r, path.as_path())));
        for (a, b) in out.runs.iter_mut().zip(&s.runs) {
            a.add(b);
        }
    }
    let mut all: Vec<SeedRange> = seen.into_iter().map(|(r, _)| r).collect();
    all.sort();
    let mut joined: Vec<SeedRange> = Vec::new();
    for r in all {
        match joined.last_mut() {
            Some(j) if j.last.checked_add(1) == Some(r.first) => j.last = r.last,
            _ => joined.push(r),
        }
    }
    out.seeds = joined;
    // Shards that were given in a different order than their indices still merge to the same file.
    out.runs.iter_mut().for_each(|r| {
        r.failing.sort_by_key(|f| f.seed);
        r.undecided.sort_unstable();
    });
    if let Some(missing) = missing_shards(files) {
        return Err(SummaryError::Mismatch {
            path: files[0].0.clone(),
            message: missing,
        });
    }
    Ok(out)
}

/// When the files are shards of one check, every index of the count must be there exactly once.
fn missing_shards(files: &[(PathBuf, SummaryFile)]) -> Option<String> {
    let shards: Vec<Shard> = files.iter().filter_map(|(_, s)| s.shard).collect();
    let count = shards.first()?.count;
    if let Some(s) = shards.iter().find(|s| s.count != count) {
        return Some(format!(
            "the shards come from different splits ({}/{count} beside {}/{})",
            shards[0].index, s.index, s.count
        ));
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !shards.iter().any(|s| s.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "shard(s) {} are missing: the merged summary would not cover every seed",
            missing.join(", ")
        )
    })
}

fn mutant_text(m: &Option<String>) -> String {
    m.as_ref()
        .map(|m| format!(" with mutant {m}"))
        .unwrap_or_default()
}

fn describe_runs(f: &SummaryFile) -> String {
    let v: Vec<String> = f
        .runs
        .iter()
        .map(|r| format!("{} ({} reads)", r.variant, r.reads))
        .collect();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(variant: &str, seeds_run: u64, failing: &[u64]) -> RunSummary {
        RunSummary {
            variant: variant.into(),
            reads: "log".into(),
            seeds_run,
            issued: seeds_run * 10,
            completed: seeds_run * 9,
            decisions: seeds_run * 8,
            deliveries: seeds_run * 100,
            dropped: seeds_run,
            duplicated: 2 * seeds_run,
            crashes: 3 * seeds_run,
            partitions: 4 * seeds_run,
            black_box_refuted: 0,
            failing: failing
                .iter()
                .map(|&seed| FailingSeed {
                    seed,
                    violations: vec![format!("bad at {seed}")],
                })
                .collect(),
            undecided: Vec::new(),
        }
    }

    fn file(shard: Option<Shard>, seeds: &[u64], failing: &[u64]) -> SummaryFile {
        SummaryFile {
            format: FORMAT.into(),
            faults: "all".into(),
            mutant: None,
            shard,
            seeds: ranges(seeds),
            runs: vec![run("multi", seeds.len() as u64, failing)],
        }
    }

    #[test]
    fn merged_shards_equal_the_unsharded_summary() {
        let whole = file(None, &(1..=10).collect::<Vec<_>>(), &[2, 9]);
        let a = file(Some(Shard { index: 0, count: 2 }), &[1, 2, 3, 4, 5], &[2]);
        let b = file(Some(Shard { index: 1, count: 2 }), &[6, 7, 8, 9, 10], &[9]);
        // In either order.
        for pair in [[a.clone(), b.clone()], [b.clone(), a.clone()]] {
            let files: Vec<(PathBuf, SummaryFile)> = pair
                .into_iter()
                .enumerate()
                .map(|(i, f)| (PathBuf::from(format!("s{i}.json")), f))
                .collect();
            assert_eq!(merge(&files).unwrap(), whole);
        }
    }

    #[test]
    fn overlapping_missing_or_different_shards_are_refused() {
        let a = file(Some(Shard { index: 0, count: 2 }), &[1, 2, 3], &[]);
        let b = file(Some(Shard { index: 1, count: 2 }), &[3, 4], &[]);
        let err = merge(&[("a".into(), a.clone()), ("b".into(), b)]).unwrap_err();
        assert!(err.to_string().contains("overlap"), "{err}");

        let err = merge(&[("a".into(), a.clone())]).unwrap_err();
        assert!(err.to_string().contains("1/2 are missing"), "{err}");

        let mut c = file(Some(Shard { index: 1, count: 2 }), &[4, 5], &[]);
        c.mutant = Some("multi-skips-prepare".into());
        let err = merge(&[("a".into(), a.clone()), ("c".into(), c)]).unwrap_err();
        assert!(err.to_string().contains("with mutant"), "{err}");

        let mut d = file(Some(Shard { index: 1, count: 2 }), &[4, 5], &[]);
        d.runs[0].variant = "raft".into();
        let err = merge(&[("a".into(), a), ("d".into(), d)]).unwrap_err();
        assert!(err.to_string().contains("raft (log reads)"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_summary_is_named() {
        let dir = std::env::temp_dir().join(format!("summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.json");
        std::fs::write(&path, "{\"format\": \"something else\"}").unwrap();
        let err = SummaryFile::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("x.json") && err.contains("not a check summary"),
            "{err}"
        );
        let good = file(None, &[1], &[]);
        std::fs::write(dir.join(FILE_NAME), good.to_json()).unwrap();
        assert_eq!(SummaryFile::read(&dir).unwrap(), good);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
