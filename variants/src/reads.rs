//! How a read may be answered without a log slot of its own, chosen per experiment (`[reads]` in a config).
//!
//! A read through the log costs what a write costs. The two other paths trade that round trip for an
//! assumption: a leader lease assumes clocks drift apart by at most a known rate (the rule and its arithmetic
//! are in [`crate::roles::lease`]); a quorum read assumes nothing but must hear from enough replicas that it
//! meets every phase-2 quorum, and then wait until what they had accepted is applied
//! ([`crate::roles::read_quorum`]).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The path a read takes.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ReadPath {
    /// Ordered through the log like a write.
    #[default]
    Log,
    /// Answered by a leader that holds a lease granted by a phase-2 quorum.
    Lease,
    /// The client asks a read quorum for the highest slot they accepted, and reads once it is applied.
    Quorum,
}

impl ReadPath {
    pub const ALL: [ReadPath; 3] = [ReadPath::Log, ReadPath::Lease, ReadPath::Quorum];

    /// Its name in a config and in result files.
    pub fn name(self) -> &'static str {
        match self {
            ReadPath::Log => "log",
            ReadPath::Lease => "lease",
            ReadPath::Quorum => "quorum",
        }
    }

    pub fn from_name(name: &str) -> Option<ReadPath> {
        ReadPath::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What a run on this path is called: `base` itself on the log, `base+PATH` on any other path, so that
    /// results, plots and history files of different paths never share a name.
    pub fn label(self, base: &str) -> String {
        match self {
            ReadPath::Log => base.to_string(),
            p => format!("{base}+{p}"),
        }
    }
}

impl std::fmt::Display for ReadPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The read settings every replica and client of a run shares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Reads {
    pub path: ReadPath,
    /// How long an acceptor's lease grant lasts on its own clock.
    pub lease: Duration,
    /// The most any node's clock rate may differ from true time, in parts per million. The lease arithmetic
    /// assumes it; the simulator's clocks drift by up to it.
    pub drift_ppm: u32,
}

/// The largest drift bound a config may give: beyond it a lease would be too short to be of use.
pub const MAX_DRIFT_PPM: u32 = 500_000;

impl Default for Reads {
    fn default() -> Self {
        Reads {
            path: ReadPath::Log,
            lease: Duration::from_secs(1),
            drift_ppm: 1_000,
        }
    }
}

impl Reads {
    pub fn log() -> Reads {
        Reads::default()
    }
}
