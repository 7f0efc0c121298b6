//! The `[reads]` section: which read paths an experiment compares, and the lease settings.
//!
//! ```toml
//! [reads]
//! path = "lease"                      # or "log", "quorum", or a list: ["log", "lease", "quorum"]
//! lease_ms = 1000                     # how long an acceptor's grant lasts on its clock
//! clock_drift = 0.001                 # the most a clock's rate may differ from true time (0.001 = 1 ms/s)
//! ```
//!
//! Each variant runs once per listed path it offers (the registry says which, and why not); a path other than
//! the log gets its own label, `LABEL+PATH`, so its rows, plots and baselines stay apart from the log's.

use super::{ms, Validator, VariantSpec, MAX_QUANTITY};
use crate::config::ConfigError;
use paxos_variants::reads::MAX_DRIFT_PPM;
use paxos_variants::roles::lease::held_for;
use paxos_variants::{ReadPath, Reads};
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadsFile {
    pub path: Option<PathField>,
    pub lease_ms: Option<f64>,
    pub clock_drift: Option<f64>,
}

/// `path = "lease"` or `path = ["log", "lease"]`.
#[derive(Debug, Clone)]
pub struct PathField(pub Vec<String>);

impl<'de> Deserialize<'de> for PathField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wrong = || {
            serde::de::Error::custom(
                "expected a read path (\"log\", \"lease\" or \"quorum\") or a list of them",
            )
        };
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(PathField(vec![s])),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(PathField),
            _ => Err(wrong()),
        }
    }
}

/// The validated section: the paths in the order listed, and the lease settings they share.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadsSpec {
    pub paths: Vec<ReadPath>,
    pub lease: std::time::Duration,
    pub drift_ppm: u32,
}

impl Default for ReadsSpec {
    fn default() -> Self {
        let d = Reads::default();
        ReadsSpec {
            paths: vec![ReadPath::Log],
            lease: d.lease,
            drift_ppm: d.drift_ppm,
        }
    }
}

impl ReadsSpec {
    pub fn with_path(&self, path: ReadPath) -> Reads {
        Reads {
            path,
            lease: self.lease,
            drift_ppm: self.drift_ppm,
        }
    }
}

impl Validator<'_> {
    pub(super) fn reads(&self, raw: &ReadsFile) -> Result<ReadsSpec, ConfigError> {
        let mut spec = ReadsSpec::default();
        if let Some(PathField(names)) = &raw.path {
            if names.is_empty() {
                return Err(self.err(
                    "reads.path",
                    "needs at least one of \"log\", \"lease\", \"quorum\"",
                ));
            }
            let mut seen = BTreeSet::new();
            spec.paths.clear();
            for name in names {
                let Some(p) = ReadPath::from_name(name) else {
                    return Err(self.err(
                        "reads.path",
                        format!(
                            "unknown read path `{name}` (known: \"log\", \"lease\", \"quorum\")"
                        ),
                    ));
                };
                if !seen.insert(p) {
                    return Err(self.err("reads.path", format!("\"{name}\" is listed twice")));
                }
                spec.paths.push(p);
            }
        }
        if let Some(l) = raw.lease_ms {
            if !l.is_finite() || l <= 0.0 || l > MAX_QUANTITY {
                return Err(self.err(
                    "reads.lease_ms",
                    format!("must be greater than 0 and at most {MAX_QUANTITY:e}, got {l}"),
                ));
            }
            spec.lease = ms(l);
        }
        if let Some(d) = raw.clock_drift {
            let max = MAX_DRIFT_PPM as f64 / 1e6;
            if !d.is_finite() || !(0.0..max).contains(&d) {
                return Err(self.err(
                    "reads.clock_drift",
                    format!("must be a rate from 0 up to (not including) {max}, got {d} (0.001 is 1 ms per second)"),
                ));
            }
            spec.drift_ppm = (d * 1e6).round() as u32;
        }
        Ok(spec)
    }

    /// The runs of one configured variant, one per listed read path it offers: the first path it offers keeps
    /// the label when it is the log, every other gets `LABEL+PATH`. A variant that offers none of the listed
    /// paths reads through the log, and `notes` says so.
    pub(super) fn with_read_paths(
        &self,
        i: usize,
        v: VariantSpec,
        reads: &ReadsSpec,
        notes: &mut Vec<String>,
    ) -> Result<Vec<VariantSpec>, ConfigError> {
        let info = crate::registry::info(&v.name);
        let offers = |p: ReadPath| p == ReadPath::Log || info.is_some_and(|i| i.offers(p));
        let mut out = Vec::new();
        for &p in &reads.paths {
            if !offers(p) {
                let why = info.map_or("", |i| i.no_read_paths_why);
                notes.push(format!(
                    "{}: {} reads do not apply ({why}); it reads through the log",
                    v.label, p
                ));
                continue;
            }
            if p == ReadPath::Lease {
                let held = held_for(reads.lease, reads.drift_ppm);
                if held <= v.tuning.heartbeat {
                    return Err(self.err(
                        "reads.lease_ms",
                        format!(
                            "a lease of {:?} ({:?} after the clock-drift allowance) does not outlast variant[{i}]'s \
                             heartbeat of {:?}: the leader would never hold it",
                            reads.lease, held, v.tuning.heartbeat
                        ),
                    ));
                }
            }
            let mut s = v.clone();
            s.reads = reads.with_path(p);
            s.label = p.label(&v.label);
            out.push(s);
        }
        if out.is_empty() {
            let mut s = v;
            s.reads = reads.with_path(ReadPath::Log);
            out.push(s);
        }
        Ok(out)
    }
}
