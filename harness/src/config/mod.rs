//! Experiment configs: the TOML schema, and the checks that turn a file into a [`Experiment`] or an error that
//! names the file and the key. Everything the drivers use comes from here, so a config means the same thing in
//! the simulator and (later) over QUIC.

pub mod cluster;
mod reads;

pub use crate::storage::Storage;
use paxos_variants::{QuorumError, QuorumKind, QuorumSystem, Tuning, Variant, VARIANT_NAMES};
pub use reads::{ReadsFile, ReadsSpec};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: key `{key}`: {message}")]
    Parse {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("{file}: key `{key}`: {message}")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Sim,
    Quic,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sim => "sim",
            Mode::Quic => "quic",
        }
    }
}

/// Most clients a QUIC run may have: each is a task with a certificate and a connection to every replica.
pub const MAX_QUIC_CLIENTS: usize = 1024;

/// Most keys a Zipf-skewed key space may have.
pub const MAX_ZIPF_KEYS: u64 = 10_000_000;

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    pub name: String,
    pub mode: Mode,
    pub duration_s: f64,
    #[serde(default)]
    pub warmup_s: f64,
    pub seeds: Vec<u64>,
    pub cluster: ClusterFile,
    pub network: NetworkFile,
    pub load: LoadFile,
    #[serde(default)]
    pub sim: SimFile,
    #[serde(rename = "variant")]
    pub variants: Vec<VariantFile>,
    #[serde(default, rename = "fault")]
    pub faults: Vec<FaultFile>,
    #[serde(default)]
    pub sweep: SweepFile,
    /// Where acceptor state lives in QUIC runs: "memory", "wal", or a list of both (one set of runs each).
    pub storage: Option<StorageField>,
    /// Directory for the write-ahead logs (default: `wal/` in the output directory).
    pub wal_dir: Option<PathBuf>,
    #[serde(default)]
    pub reads: ReadsFile,
    /// The search space of `paxos-bench tune` (read by that command only; a run ignores it).
    pub tune: Option<toml::Value>,
    #[serde(default)]
    pub history: HistoryFile,
    #[serde(default)]
    pub inject: InjectFile,
}

/// `[inject]`: a deliberate slowdown, to measure what the regression gate catches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectFile {
    /// Busy work (microseconds of CPU) each replica does for every message it handles, on top of handling
    /// it: real work in QUIC mode, the same cost added to each message's CPU time in the simulator.
    #[serde(default)]
    pub work_us_per_msg: f64,
}

/// `[history]`: where `run` records its rows (`--history-db` overrides, `--no-history-db` turns it off).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryFile {
    /// The SQLite file, relative to the config's directory (default: `history.db` beside the output).
    pub db: Option<PathBuf>,
}

/// `storage = "wal"` or `storage = ["memory", "wal"]`.
#[derive(Debug, Clone)]
pub struct StorageField(pub Vec<Storage>);

impl<'de> Deserialize<'de> for StorageField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let one = |s: &str| match s {
            "memory" => Ok(Storage::Memory),
            "wal" => Ok(Storage::Wal),
            other => Err(serde::de::Error::custom(format!(
                "unknown storage `{other}` (known: \"memory\", \"wal\")"
            ))),
        };
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(StorageField(vec![one(&s)?])),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => one(s),
                    _ => Err(serde::de::Error::custom(
                        "expected \"memory\" or \"wal\", or a list of them",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(StorageField),
            _ => Err(serde::de::Error::custom(
                "expected \"memory\" or \"wal\", or a list of them",
            )),
        }
    }
}

/// Extra dimensions of the run matrix.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// One set of runs per jitter (standard deviation, ms), replacing `network.jitter_ms`.
    #[serde(default)]
    pub jitter_ms: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// Region of each replica; N is the length.
    pub replicas: Vec<String>,
    /// Regions where clients sit, assigned round-robin.
    pub clients: Vec<String>,
    pub leader: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    #[serde(default = "default_local_ms")]
    pub local_ms: f64,
    #[serde(default)]
    pub jitter_ms: f64,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub duplicate: f64,
    /// Probability that a message is held back by up to `reorder_ms` extra, overtaking later ones.
    #[serde(default)]
    pub reorder: f64,
    #[serde(default)]
    pub reorder_ms: f64,
    #[serde(default)]
    pub link: Vec<LinkFile>,
}

fn default_local_ms() -> f64 {
    0.1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFile {
    pub between: [String; 2],
    pub ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    Closed,
    Open,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFile {
    pub mode: LoadMode,
    /// One run per value.
    pub clients: Vec<usize>,
    /// Open loop: total arrivals per second across all clients.
    pub rate: Option<f64>,
    /// Closed loop: commands each client keeps outstanding.
    #[serde(default = "one")]
    pub window: usize,
    #[serde(default = "default_payload")]
    pub payload_bytes: usize,
    #[serde(default = "default_write_fraction")]
    pub write_fraction: f64,
    /// Share of compare-and-set commands (the rest after writes and these are reads).
    #[serde(default)]
    pub cas_fraction: f64,
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// Zipf exponent of key popularity; 0 is uniform, 0.99 is the usual "skewed" setting.
    #[serde(default)]
    pub zipf: f64,
    /// The EPaxos papers' conflict rate: this share of commands goes to one key every client shares, the rest
    /// to a key of the client's own. Replaces `keys` and `zipf` when given.
    #[serde(default)]
    pub conflict: Option<f64>,
}

fn one() -> usize {
    1
}
fn default_payload() -> usize {
    64
}
fn default_write_fraction() -> f64 {
    1.0
}
fn default_keys() -> u64 {
    1000
}

/// Simulator-only knobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFile {
    /// CPU time a replica spends on each message it handles. A modelling assumption until it is calibrated
    /// from the handler micro-benchmarks.
    #[serde(default = "default_cpu_us")]
    pub cpu_us_per_msg: f64,
    /// A cost profile written by `paxos-bench calibrate` (path relative to this file): per variant and message
    /// type, the measured cost in microseconds, used instead of `cpu_us_per_msg` for the types it lists.
    pub cpu_profile: Option<String>,
}

fn default_cpu_us() -> f64 {
    5.0
}

impl Default for SimFile {
    fn default() -> Self {
        SimFile {
            cpu_us_per_msg: default_cpu_us(),
            cpu_profile: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    pub name: String,
    /// Name shown in results; defaults to `name`. Lets one file compare, say, two batch sizes.
    pub label: Option<String>,
    /// Run on the first this many replicas of `[cluster]` (default: all), so one file can compare cluster sizes.
    pub replicas: Option<usize>,
    pub q1: Option<usize>,
    pub q2: Option<usize>,
    pub grid: Option<[usize; 2]>,
    /// Fast Paxos: fast and classic quorum sizes (defaults: the smallest safe sizes for N).
    pub fast_quorum: Option<usize>,
    pub classic_quorum: Option<usize>,
    /// Cheap Paxos: how many auxiliary acceptors (default (N - 1) / 2), or which ones (default: the last).
    pub auxiliary: Option<usize>,
    pub auxiliaries: Option<Vec<usize>>,
    pub batch_max: Option<usize>,
    pub max_inflight: Option<usize>,
    pub heartbeat_ms: Option<f64>,
    pub election_timeout_ms: Option<f64>,
    pub retransmit_ms: Option<f64>,
    pub backoff_ms: Option<f64>,
    pub client_retry_ms: Option<f64>,
    /// Log compaction (Multi, Flexible, Cheap): slots kept behind what is applied, and how many more pile up
    /// before a compaction (0: never compact).
    pub log_keep: Option<usize>,
    pub compact_every: Option<usize>,
    /// This variant's runs use this `load.conflict` instead of `[load]`'s, so that one file can set a
    /// leaderless protocol at several conflict rates beside a leader's run.
    pub conflict: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    pub at_s: f64,
    pub crash: Option<usize>,
    pub restart: Option<usize>,
    /// Groups of replicas that can only talk within their group.
    pub partition: Option<Vec<Vec<usize>>>,
    #[serde(default)]
    pub heal: bool,
}

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub name: String,
    pub mode: Mode,
    pub duration: Duration,
    pub warmup: Duration,
    pub seeds: Vec<u64>,
    pub topology: Topology,
    pub network: NetworkSpec,
    pub load: LoadSpec,
    pub client_counts: Vec<usize>,
    pub cpu_per_msg: Duration,
    /// From `[sim] cpu_profile`: variant name -> message type -> measured cost.
    pub cpu_profile: CpuProfile,
    pub variants: Vec<VariantSpec>,
    pub faults: Vec<Fault>,
    /// Jitters to sweep (empty: the network's own jitter only).
    pub jitter_sweep: Vec<Duration>,
    /// One set of runs per storage (memory only, unless the config asks for the write-ahead log).
    pub storage: Vec<Storage>,
    /// Where the write-ahead logs go; `None`: the runner picks `wal/` in the output directory.
    pub wal_dir: Option<PathBuf>,
    /// `run --history FILE` (not a key of the file): write each run's client history in Jepsen's format.
    pub history: Option<PathBuf>,
    /// `[history] db`: the results history this config's runs record into.
    pub history_db: Option<PathBuf>,
    /// `[inject] work_us_per_msg`: busy work per handled message (zero unless the config asks).
    pub injected_work: Duration,
    /// The `[reads]` section (each variant's runs already carry their path in [`VariantSpec::reads`]).
    pub reads: ReadsSpec,
    /// What the config asked for that a variant cannot do, and what it does instead (printed with the run).
    pub notes: Vec<String>,
}

/// A label as it appears in file names: characters other than A-Z, a-z, 0-9, `-` and `_` become `_`.
pub fn file_safe(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Measured per-message costs: variant name -> message type -> cost, and [`TRANSPORT_TABLE`] -> `per_message`
/// -> the transport's cost, added to every message a replica receives.
pub type CpuProfile = BTreeMap<String, BTreeMap<String, Duration>>;

pub const TRANSPORT_TABLE: &str = "transport";

/// The costs the simulator charges a variant's replicas per message type (handler plus transport).
pub fn costs_for(profile: &CpuProfile, variant: &str) -> BTreeMap<String, Duration> {
    let transport = profile
        .get(TRANSPORT_TABLE)
        .and_then(|t| t.get("per_message"))
        .copied()
        .unwrap_or_default();
    profile
        .get(variant)
        .map(|m| m.iter().map(|(k, d)| (k.clone(), *d + transport)).collect())
        .unwrap_or_default()
}

/// Reads a cost profile (`paxos-bench calibrate`'s format: a table per variant, `kind = microseconds`).
pub fn parse_cpu_profile(text: &str, file: &Path) -> Result<CpuProfile, ConfigError> {
    let v = Validator {
        file,
        resolve_files: false,
    };
    let raw: BTreeMap<String, BTreeMap<String, f64>> =
        toml::from_str(text).map_err(|e| v.err("", e.message().to_string()))?;
    let mut out = CpuProfile::new();
    for (variant, kinds) in raw {
        if variant == TRANSPORT_TABLE {
            if let Some(k) = kinds.keys().find(|k| *k != "per_message") {
                return Err(v.err(format!("{variant}.{k}"), "unknown key (known: per_message)"));
            }
        } else if !paxos_variants::VARIANT_NAMES.contains(&variant.as_str()) {
            return Err(v.err(
                variant.clone(),
                format!(
                    "unknown variant (known: {}, or {TRANSPORT_TABLE})",
                    paxos_variants::VARIANT_NAMES.join(", ")
                ),
            ));
        }
        let mut costs = BTreeMap::new();
        for (kind, us) in kinds {
            let us = v.non_negative(&format!("{variant}.{kind}"), us)?;
            costs.insert(kind, Duration::from_secs_f64(us / 1e6));
        }
        out.insert(variant, costs);
    }
    Ok(out)
}

/// Where replicas and clients sit.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Region names, in order of first appearance (replicas, then clients).
    pub regions: Vec<String>,
    pub replica_region: Vec<usize>,
    /// Client regions, assigned round-robin to clients.
    pub client_regions: Vec<usize>,
    pub leader: usize,
}

impl Topology {
    pub fn n(&self) -> usize {
        self.replica_region.len()
    }

    pub fn client_region(&self, client: usize) -> usize {
        self.client_regions[client % self.client_regions.len()]
    }
}

/// One-way delays between regions and the impairments every link gets.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// `delay[a][b]`: one-way delay from region a to region b (`delay[a][a]` is the in-region delay).
    pub delay: Vec<Vec<Duration>>,
    pub jitter: Duration,
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    pub reorder_max: Duration,
}

impl NetworkSpec {
    /// The same regions with nothing injected: for senders whose packets the kernel delays instead
    /// (`--kernel-path`), so the conditions are applied once, not twice.
    pub fn quiet(&self) -> NetworkSpec {
        let r = self.delay.len();
        NetworkSpec {
            delay: vec![vec![Duration::ZERO; r]; r],
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_max: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoadKind {
    Closed { window: usize },
    Open { rate_per_s: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    pub kind: LoadKind,
    pub payload_bytes: usize,
    pub write_fraction: f64,
    /// Share of compare-and-set commands; `write_fraction + cas_fraction <= 1`, the rest are reads.
    pub cas_fraction: f64,
    pub keys: u64,
    /// Zipf exponent of key popularity (0: uniform).
    pub zipf: f64,
    /// The share of commands on the one shared key (key 0); the others go to key `1 + client id`. `None`:
    /// keys are drawn from `keys` (and `zipf`).
    pub conflict: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VariantSpec {
    pub name: String,
    pub label: String,
    /// The variant runs on the first `replicas` replicas of the cluster.
    pub replicas: usize,
    pub quorums: QuorumSystem,
    pub tuning: Tuning,
    pub client_retry: Duration,
    /// How this run's reads go (the `[reads]` path; the log unless the variant offers it).
    pub reads: paxos_variants::Reads,
    /// `[[variant]] conflict`: this variant's `load.conflict`, in place of `[load]`'s.
    pub conflict: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    Crash(usize),
    Restart(usize),
    Partition(Vec<Vec<usize>>),
    Heal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub at: Duration,
    pub action: FaultAction,
}

impl Experiment {
    /// Where a variant's replicas and clients sit: the first `v.replicas` replicas of the cluster.
    pub fn topology_for(&self, v: &VariantSpec) -> Topology {
        let mut t = self.topology.clone();
        t.replica_region.truncate(v.replicas);
        t
    }

    /// Runs the experiment in another mode than its file names (`paxos-bench run --mode`), with that mode's
    /// checks; `file` is only used in error messages.
    pub fn override_mode(&mut self, mode: Mode, file: &Path) -> Result<(), ConfigError> {
        let v = Validator {
            file,
            resolve_files: false,
        };
        if mode == Mode::Quic {
            v.quic_limits(&self.client_counts)?;
        }
        v.storage_for(mode, &self.storage)?;
        self.mode = mode;
        Ok(())
    }
}

/// A `[network]` section validated against the regions of `topology` (`paxos-bench tune` places replicas
/// itself, so it names the regions); `file` is only used in error messages.
pub fn network_for(
    n: &NetworkFile,
    topology: &Topology,
    file: &Path,
) -> Result<NetworkSpec, ConfigError> {
    Validator {
        file,
        resolve_files: false,
    }
    .network(n, topology)
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
    load_as(path, None)
}

/// Reads a config file to run in `mode` instead of its own (see [`parse_as`]).
pub fn load_as(path: &Path, mode: Option<Mode>) -> Result<Experiment, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_as(&text, path, mode)
}

/// Parses and validates config text; `file` is only used in error messages.
pub fn parse(text: &str, file: &Path) -> Result<Experiment, ConfigError> {
    parse_as(text, file, None)
}

/// Like [`parse`], run in `mode` instead of the file's (`paxos-bench run --mode`): the checks are those of the
/// mode it will run in.
pub fn parse_as(text: &str, file: &Path, mode: Option<Mode>) -> Result<Experiment, ConfigError> {
    let mut raw = parse_raw(text, file)?;
    if let Some(m) = mode {
        raw.mode = m;
    }
    Validator {
        file,
        resolve_files: true,
    }
    .experiment(raw)
}

fn parse_raw(text: &str, file: &Path) -> Result<ExperimentFile, ConfigError> {
    let parse_err = |key: String, message: String| ConfigError::Parse {
        file: file.to_path_buf(),
        key,
        message,
    };
    let de = toml::Deserializer::parse(text)
        .map_err(|e| parse_err("(document)".into(), e.to_string()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." {
            "(top level)".into()
        } else {
            key
        };
        parse_err(key, e.into_inner().message().trim().to_string())
    })
}

/// Parses a config without reading the files it names (its cost profile is left out): for reading back the
/// copy in a results directory, where such paths no longer resolve.
pub fn parse_unresolved(text: &str, file: &Path) -> Result<Experiment, ConfigError> {
    let mut raw: ExperimentFile = parse_raw(text, file)?;
    // The copy's runs are done; a sim config that ran with `--mode quic` and a log must still read back.
    if raw
        .storage
        .as_ref()
        .is_some_and(|s| s.0.contains(&Storage::Wal))
    {
        raw.mode = Mode::Quic;
    }
    Validator {
        file,
        resolve_files: false,
    }
    .experiment(raw)
}

struct Validator<'a> {
    file: &'a Path,
    /// Whether files the config names (a cost profile) are read; off when a results directory's copy of a
    /// config is read back only for its schedule.
    resolve_files: bool,
}

/// Largest cost profile read (a profile is a few kilobytes; this stops `/dev/zero` and the like).
const MAX_PROFILE_BYTES: u64 = 1 << 20;

fn read_bounded(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    let n = std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    if n as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(text)
}

/// The largest time, delay or cost a config may give (in its own unit: seconds, milliseconds or microseconds).
const MAX_QUANTITY: f64 = 1e9;

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v / 1000.0)
}

impl Validator<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// Times, delays and costs: finite, not negative, and below [`MAX_QUANTITY`] (a larger one is a typo, and
    /// would overflow a `Duration`).
    fn non_negative(&self, key: &str, v: f64) -> Result<f64, ConfigError> {
        if !v.is_finite() || !(0.0..=MAX_QUANTITY).contains(&v) {
            return Err(self.err(
                key,
                format!("must be a number from 0 to {MAX_QUANTITY:e}, got {v}"),
            ));
        }
        Ok(v)
    }

    fn probability(&self, key: &str, v: f64) -> Result<f64, ConfigError> {
        if !(0.0..1.0).contains(&v) {
            return Err(self.err(key, format!("must be a probability in [0, 1), got {v}")));
        }
        Ok(v)
    }

    fn experiment(&self, raw: ExperimentFile) -> Result<Experiment, ConfigError> {
        if raw.name.trim().is_empty() {
            return Err(self.err("name", "must not be empty"));
        }
        let duration_s = self.non_negative("duration_s", raw.duration_s)?;
        if duration_s == 0.0 {
            return Err(self.err("duration_s", "must be greater than 0"));
        }
        let warmup_s = self.non_negative("warmup_s", raw.warmup_s)?;
        if warmup_s >= duration_s {
            return Err(self.err(
                "warmup_s",
                format!("{warmup_s} must be less than duration_s = {duration_s}"),
            ));
        }
        if raw.seeds.is_empty() {
            return Err(self.err("seeds", "needs at least one seed"));
        }
        let mut seen = BTreeSet::new();
        if let Some(s) = raw.seeds.iter().find(|s| !seen.insert(**s)) {
            return Err(self.err("seeds", format!("seed {s} is listed twice")));
        }
        let topology = self.topology(&raw.cluster)?;
        let network = self.network(&raw.network, &topology)?;
        let (load, client_counts) = self.load(&raw.load)?;
        let cpu_us = self.non_negative("sim.cpu_us_per_msg", raw.sim.cpu_us_per_msg)?;
        let cpu_profile = match &raw.sim.cpu_profile {
            None => CpuProfile::new(),
            Some(_) if !self.resolve_files => CpuProfile::new(),
            Some(rel) => {
                let path = self.file.parent().unwrap_or(Path::new(".")).join(rel);
                let text = read_bounded(&path, MAX_PROFILE_BYTES).map_err(|e| {
                    self.err(
                        "sim.cpu_profile",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                parse_cpu_profile(&text, &path)?
            }
        };
        if raw.variants.is_empty() {
            return Err(self.err("variant", "needs at least one [[variant]]"));
        }
        let reads = self.reads(&raw.reads)?;
        let mut notes = Vec::new();
        let mut labels = BTreeSet::new();
        let mut variants = Vec::new();
        for (i, v) in raw.variants.iter().enumerate() {
            let n_v = v.replicas.unwrap_or(topology.n());
            if n_v == 0 || n_v > topology.n() {
                return Err(self.err(
                    format!("variant[{i}].replicas"),
                    format!(
                        "{n_v} must be between 1 and the {} replicas of [cluster]",
                        topology.n()
                    ),
                ));
            }
            if topology.leader >= n_v {
                return Err(self.err(
                    format!("variant[{i}].replicas"),
                    format!(
                        "the initial leader, replica {}, is not among the first {n_v} replicas",
                        topology.leader
                    ),
                ));
            }
            let spec = self.variant(i, v, n_v)?;
            if let Some(x) = v.conflict {
                let k = format!("variant[{i}].conflict");
                if !x.is_finite() || !(0.0..=1.0).contains(&x) {
                    return Err(self.err(k, format!("must be in [0, 1], got {x}")));
                }
                if load.zipf > 0.0 {
                    return Err(self.err(
                        k,
                        "sets the keys itself (one shared, one per client): leave out load.zipf",
                    ));
                }
            }
            for spec in self.with_read_paths(i, spec, &reads, &mut notes)? {
                let safe = file_safe(&spec.label);
                if let Some(other) = variants
                    .iter()
                    .find(|o: &&VariantSpec| o.label != spec.label && file_safe(&o.label) == safe)
                {
                    return Err(self.err(
                    format!("variant[{i}].label"),
                    format!(
                        "`{}` and `{}` would share result file names (`{safe}`); labels may differ in more than \
                         characters outside A-Z, a-z, 0-9, - and _",
                        spec.label, other.label
                    ),
                ));
                }
                if !labels.insert(spec.label.clone()) {
                    return Err(self.err(
                        format!("variant[{i}].label"),
                        format!(
                            "`{}` appears twice; give each [[variant]] a distinct label",
                            spec.label
                        ),
                    ));
                }
                variants.push(spec);
            }
        }
        let faults = raw
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| self.fault(i, f, topology.n(), duration_s))
            .collect::<Result<Vec<_>, _>>()?;
        if raw.mode == Mode::Quic {
            self.quic_limits(&client_counts)?;
        }
        let mut jitter_sweep = Vec::new();
        for (i, &j) in raw.sweep.jitter_ms.iter().enumerate() {
            let j = self.non_negative(&format!("sweep.jitter_ms[{i}]"), j)?;
            let d = ms(j);
            if jitter_sweep.contains(&d) {
                return Err(self.err("sweep.jitter_ms", format!("{j} is listed twice")));
            }
            jitter_sweep.push(d);
        }
        let storage = match &raw.storage {
            None => vec![Storage::Memory],
            Some(StorageField(list)) => list.clone(),
        };
        self.storage_for(raw.mode, &storage)?;
        let relative = |d: &PathBuf| {
            if self.resolve_files {
                self.file.parent().unwrap_or(Path::new(".")).join(d)
            } else {
                d.clone()
            }
        };
        let wal_dir = raw.wal_dir.as_ref().map(relative);
        let history_db = raw.history.db.as_ref().map(relative);
        let work_us = self.non_negative("inject.work_us_per_msg", raw.inject.work_us_per_msg)?;
        if work_us > 100_000.0 {
            return Err(self.err(
                "inject.work_us_per_msg",
                format!("{work_us} us of work per message would stall every run; at most 100000"),
            ));
        }
        Ok(Experiment {
            name: raw.name,
            mode: raw.mode,
            duration: Duration::from_secs_f64(duration_s),
            warmup: Duration::from_secs_f64(warmup_s),
            seeds: raw.seeds,
            topology,
            network,
            load,
            client_counts,
            cpu_per_msg: Duration::from_secs_f64(cpu_us / 1e6),
            cpu_profile,
            variants,
            faults,
            jitter_sweep,
            storage,
            wal_dir,
            history: None,
            history_db,
            injected_work: Duration::from_secs_f64(work_us / 1e6),
            reads,
            notes,
        })
    }

    fn storage_for(&self, mode: Mode, storage: &[Storage]) -> Result<(), ConfigError> {
        if storage.is_empty() {
            return Err(self.err("storage", "needs at least one of \"memory\", \"wal\""));
        }
        let mut seen = BTreeSet::new();
        if let Some(s) = storage.iter().find(|s| !seen.insert(**s)) {
            return Err(self.err("storage", format!("\"{}\" is listed twice", s.as_str())));
        }
        if mode == Mode::Sim && storage.contains(&Storage::Wal) {
            return Err(self.err(
                "storage",
                "\"wal\" needs mode = \"quic\": the simulator has no disk (its crashes keep exactly what was \
                 persisted, at no cost)",
            ));
        }
        Ok(())
    }

    fn quic_limits(&self, client_counts: &[usize]) -> Result<(), ConfigError> {
        if let Some(c) = client_counts.iter().find(|&&c| c > MAX_QUIC_CLIENTS) {
            return Err(self.err(
                "load.clients",
                format!("{c} clients in mode = \"quic\": at most {MAX_QUIC_CLIENTS} (each has its own connections and certificate)"),
            ));
        }
        Ok(())
    }

    fn topology(&self, c: &ClusterFile) -> Result<Topology, ConfigError> {
        if c.replicas.is_empty() {
            return Err(self.err("cluster.replicas", "needs at least one replica"));
        }
        if c.replicas.len() > paxos_variants::quorum::MAX_REPLICAS {
            return Err(self.err(
                "cluster.replicas",
                format!(
                    "{} replicas is more than the supported 64",
                    c.replicas.len()
                ),
            ));
        }
        if c.clients.is_empty() {
            return Err(self.err("cluster.clients", "needs at least one client region"));
        }
        let mut regions: Vec<String> = Vec::new();
        let mut index = |name: &str, key: String| -> Result<usize, ConfigError> {
            if name.trim().is_empty() {
                return Err(self.err(key, "a region name must not be empty"));
            }
            Ok(match regions.iter().position(|r| r == name) {
                Some(i) => i,
                None => {
                    regions.push(name.to_string());
                    regions.len() - 1
                }
            })
        };
        let replica_region = c
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| index(r, format!("cluster.replicas[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let client_regions = c
            .clients
            .iter()
            .enumerate()
            .map(|(i, r)| index(r, format!("cluster.clients[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let leader = c.leader.unwrap_or(0);
        if leader >= replica_region.len() {
            return Err(self.err(
                "cluster.leader",
                format!(
                    "{leader} is not a replica (replicas are 0..{})",
                    replica_region.len() - 1
                ),
            ));
        }
        Ok(Topology {
            regions,
            replica_region,
            client_regions,
            leader,
        })
    }

    fn network(&self, n: &NetworkFile, t: &Topology) -> Result<NetworkSpec, ConfigError> {
        let local = self.non_negative("network.local_ms", n.local_ms)?;
        let jitter = self.non_negative("network.jitter_ms", n.jitter_ms)?;
        let loss = self.probability("network.loss", n.loss)?;
        let duplicate = self.probability("network.duplicate", n.duplicate)?;
        let reorder = self.probability("network.reorder", n.reorder)?;
        let reorder_ms = self.non_negative("network.reorder_ms", n.reorder_ms)?;
        let r = t.regions.len();
        let mut delay: Vec<Vec<Option<Duration>>> = vec![vec![None; r]; r];
        for (a, row) in delay.iter_mut().enumerate() {
            row[a] = Some(ms(local));
        }
        for (i, link) in n.link.iter().enumerate() {
            let key = format!("network.link[{i}]");
            let [a, b] = &link.between;
            let find = |name: &String| {
                t.regions.iter().position(|r| r == name).ok_or_else(|| {
                    self.err(
                        format!("{key}.between"),
                        format!(
                            "unknown region `{name}`: no replica or client is there (regions: {})",
                            t.regions.join(", ")
                        ),
                    )
                })
            };
            let (ia, ib) = (find(a)?, find(b)?);
            if ia == ib {
                return Err(self.err(
                    format!("{key}.between"),
                    format!("links `{a}` to itself; the delay inside a region is network.local_ms"),
                ));
            }
            let d = self.non_negative(&format!("{key}.ms"), link.ms)?;
            if delay[ia][ib].is_some() {
                return Err(self.err(
                    format!("{key}.between"),
                    format!("the link between `{a}` and `{b}` is given twice"),
                ));
            }
            delay[ia][ib] = Some(ms(d));
            delay[ib][ia] = Some(ms(d));
        }
        let mut full = vec![vec![Duration::ZERO; r]; r];
        for a in 0..r {
            for b in 0..r {
                full[a][b] = delay[a][b].ok_or_else(|| {
                    self.err(
                        "network.link",
                        format!(
                            "no link between `{}` and `{}`; add a [[network.link]] with between = [\"{}\", \"{}\"]",
                            t.regions[a], t.regions[b], t.regions[a], t.regions[b]
                        ),
                    )
                })?;
            }
        }
        Ok(NetworkSpec {
            delay: full,
            jitter: ms(jitter),
            loss,
            duplicate,
            reorder,
            reorder_max: ms(reorder_ms),
        })
    }

    fn load(&self, l: &LoadFile) -> Result<(LoadSpec, Vec<usize>), ConfigError> {
        if l.clients.is_empty() {
            return Err(self.err("load.clients", "needs at least one client count"));
        }
        if let Some(c) = l.clients.iter().find(|c| **c == 0 || **c > 100_000) {
            return Err(self.err(
                "load.clients",
                format!("{c} clients: each count must be between 1 and 100000"),
            ));
        }
        let kind = match l.mode {
            LoadMode::Closed => {
                if l.rate.is_some() {
                    return Err(self.err("load.rate", "only applies to mode = \"open\""));
                }
                if l.window == 0 {
                    return Err(self.err("load.window", "must be at least 1"));
                }
                LoadKind::Closed { window: l.window }
            }
            LoadMode::Open => {
                let rate = l.rate.ok_or_else(|| {
                    self.err(
                        "load.rate",
                        "mode = \"open\" needs a rate (operations per second)",
                    )
                })?;
                if !rate.is_finite() || rate <= 0.0 {
                    return Err(
                        self.err("load.rate", format!("must be greater than 0, got {rate}"))
                    );
                }
                LoadKind::Open { rate_per_s: rate }
            }
        };
        if !(0.0..=1.0).contains(&l.write_fraction) {
            return Err(self.err(
                "load.write_fraction",
                format!("must be in [0, 1], got {}", l.write_fraction),
            ));
        }
        if !(0.0..=1.0).contains(&l.cas_fraction) {
            return Err(self.err(
                "load.cas_fraction",
                format!("must be in [0, 1], got {}", l.cas_fraction),
            ));
        }
        if l.write_fraction + l.cas_fraction > 1.0 + 1e-9 {
            return Err(self.err(
                "load.cas_fraction",
                format!(
                    "write_fraction + cas_fraction must be at most 1 (the rest are reads), got {} + {}",
                    l.write_fraction, l.cas_fraction
                ),
            ));
        }
        if l.keys == 0 {
            return Err(self.err("load.keys", "must be at least 1"));
        }
        if !l.zipf.is_finite() || !(0.0..=10.0).contains(&l.zipf) {
            return Err(self.err("load.zipf", format!("must be in [0, 10], got {}", l.zipf)));
        }
        if l.zipf > 0.0 && l.keys > MAX_ZIPF_KEYS {
            return Err(self.err(
                "load.keys",
                format!("at most {MAX_ZIPF_KEYS} keys with a zipf skew (its table is kept in memory), got {}", l.keys),
            ));
        }
        if let Some(x) = l.conflict {
            if !x.is_finite() || !(0.0..=1.0).contains(&x) {
                return Err(self.err("load.conflict", format!("must be in [0, 1], got {x}")));
            }
            if l.zipf > 0.0 {
                return Err(self.err(
                    "load.conflict",
                    "sets the keys itself (one shared, one per client): leave out load.zipf",
                ));
            }
        }
        if l.payload_bytes > 1 << 20 {
            return Err(self.err("load.payload_bytes", "must be at most 1 MiB"));
        }
        Ok((
            LoadSpec {
                kind,
                payload_bytes: l.payload_bytes,
                write_fraction: l.write_fraction,
                cas_fraction: l.cas_fraction,
                keys: l.keys,
                zipf: l.zipf,
                conflict: l.conflict,
            },
            l.clients.clone(),
        ))
    }

    fn variant(&self, i: usize, v: &VariantFile, n: usize) -> Result<VariantSpec, ConfigError> {
        let key = |k: &str| format!("variant[{i}].{k}");
        let Some(kind) = crate::with_variant!(v.name.as_str(), V => V::QUORUMS) else {
            return Err(self.err(
                key("name"),
                format!(
                    "unknown variant `{}` (known: {})",
                    v.name,
                    VARIANT_NAMES.join(", ")
                ),
            ));
        };
        let quorum_err = |k: &str, e: QuorumError| self.err(key(k), e.to_string());
        if kind != QuorumKind::FastClassic
            && (v.fast_quorum.is_some() || v.classic_quorum.is_some())
        {
            let k = if v.fast_quorum.is_some() {
                "fast_quorum"
            } else {
                "classic_quorum"
            };
            return Err(self.err(
                key(k),
                "only Fast Paxos (name = \"fast\") has fast and classic quorums",
            ));
        }
        if kind == QuorumKind::FastClassic && (v.q1.is_some() || v.q2.is_some() || v.grid.is_some())
        {
            let k = if v.grid.is_some() { "grid" } else { "q1" };
            return Err(self.err(
                key(k),
                "Fast Paxos sizes its quorums with fast_quorum and classic_quorum",
            ));
        }
        if kind != QuorumKind::MainAuxiliary && (v.auxiliary.is_some() || v.auxiliaries.is_some()) {
            let k = if v.auxiliary.is_some() {
                "auxiliary"
            } else {
                "auxiliaries"
            };
            return Err(self.err(
                key(k),
                "only Cheap Paxos (name = \"cheap\") has auxiliary acceptors",
            ));
        }
        let quorums = match (v.q1, v.q2, v.grid) {
            _ if kind == QuorumKind::MainAuxiliary => {
                if v.q1.is_some() || v.q2.is_some() || v.grid.is_some() {
                    return Err(self.err(
                        key("q1"),
                        "Cheap Paxos's quorums come from its main and auxiliary acceptors",
                    ));
                }
                let aux = match (v.auxiliary, &v.auxiliaries) {
                    (Some(f), Some(list)) if f != list.len() => {
                        return Err(self.err(
                            key("auxiliary"),
                            format!("says {f} but auxiliaries lists {}", list.len()),
                        ))
                    }
                    (_, Some(list)) => Some(list.clone()),
                    (Some(f), None) => Some((n.saturating_sub(f)..n).collect()),
                    (None, None) => None,
                };
                let k = if v.auxiliaries.is_some() {
                    "auxiliaries"
                } else {
                    "auxiliary"
                };
                QuorumSystem::cheap(n, aux).map_err(|e| quorum_err(k, e))?
            }
            _ if kind == QuorumKind::FastClassic => {
                QuorumSystem::fast(n, v.classic_quorum, v.fast_quorum).map_err(|e| {
                    let k = match e {
                        QuorumError::SizeOutOfRange {
                            which: "classic_quorum",
                            ..
                        } => "classic_quorum",
                        _ => "fast_quorum",
                    };
                    quorum_err(k, e)
                })?
            }
            (None, None, None) => QuorumSystem::majority(n).map_err(|e| quorum_err("name", e))?,
            (Some(q1), Some(q2), None) => {
                QuorumSystem::flexible(n, q1, q2).map_err(|e| quorum_err("q1", e))?
            }
            (None, None, Some([rows, cols])) => {
                QuorumSystem::grid(n, rows, cols).map_err(|e| quorum_err("grid", e))?
            }
            (_, _, Some(_)) => {
                return Err(self.err(key("grid"), "give either grid or q1/q2, not both"))
            }
            (Some(_), None, _) => return Err(self.err(key("q2"), "q1 needs q2 beside it")),
            (None, Some(_), _) => return Err(self.err(key("q1"), "q2 needs q1 beside it")),
        };
        match (kind, &quorums) {
            (QuorumKind::MajorityOnly, QuorumSystem::Flexible { .. }) => {
                return Err(self.err(
                    key("q1"),
                    "Multi-Paxos uses majority quorums; q1/q2 make it Flexible Paxos: name = \"flexible\"",
                ))
            }
            (QuorumKind::MajorityOnly, QuorumSystem::Grid { .. }) => {
                return Err(self.err(
                    key("grid"),
                    "Multi-Paxos uses majority quorums; a grid makes it Flexible Paxos: name = \"flexible\"",
                ))
            }
            (QuorumKind::PhaseQuorums, QuorumSystem::Majority { .. }) => {
                return Err(self.err(
                    key("name"),
                    "Flexible Paxos needs its quorums: q1 and q2 (q1 + q2 > N), or grid = [rows, cols]",
                ))
            }
            _ => {}
        }
        let d = Tuning::default();
        let dur = |k: &str, v: Option<f64>, default: Duration| -> Result<Duration, ConfigError> {
            match v {
                None => Ok(default),
                Some(x) if x.is_finite() && x > 0.0 && x <= MAX_QUANTITY => Ok(ms(x)),
                Some(x) => Err(self.err(
                    key(k),
                    format!("must be greater than 0 and at most {MAX_QUANTITY:e}, got {x}"),
                )),
            }
        };
        let count = |k: &str, v: Option<usize>, default: usize| -> Result<usize, ConfigError> {
            match v {
                None => Ok(default),
                Some(0) => Err(self.err(key(k), "must be at least 1")),
                Some(x) => Ok(x),
            }
        };
        let tuning = Tuning {
            heartbeat: dur("heartbeat_ms", v.heartbeat_ms, d.heartbeat)?,
            election_timeout: dur(
                "election_timeout_ms",
                v.election_timeout_ms,
                d.election_timeout,
            )?,
            retransmit: dur("retransmit_ms", v.retransmit_ms, d.retransmit)?,
            batch_max: count("batch_max", v.batch_max, d.batch_max)?,
            max_inflight: count("max_inflight", v.max_inflight, d.max_inflight)?,
            backoff: dur("backoff_ms", v.backoff_ms, d.backoff)?,
            log_keep: v.log_keep.unwrap_or(d.log_keep),
            compact_every: v.compact_every.unwrap_or(d.compact_every),
        };
        for (k, x) in [
            ("log_keep", tuning.log_keep),
            ("compact_every", tuning.compact_every),
        ] {
            if x as f64 > MAX_QUANTITY {
                return Err(self.err(
                    key(k),
                    format!("{x} slots is past the {MAX_QUANTITY:e} limit"),
                ));
            }
        }
        if tuning.election_timeout <= tuning.heartbeat {
            return Err(self.err(
                key("election_timeout_ms"),
                "must be longer than heartbeat_ms, or followers depose a healthy leader",
            ));
        }
        Ok(VariantSpec {
            name: v.name.clone(),
            label: v.label.clone().unwrap_or_else(|| v.name.clone()),
            replicas: n,
            quorums,
            tuning,
            client_retry: dur(
                "client_retry_ms",
                v.client_retry_ms,
                Duration::from_millis(1000),
            )?,
            reads: paxos_variants::Reads::log(),
            conflict: v.conflict,
        })
    }

    fn fault(
        &self,
        i: usize,
        f: &FaultFile,
        n: usize,
        duration_s: f64,
    ) -> Result<Fault, ConfigError> {
        let key = |k: &str| format!("fault[{i}].{k}");
        let at = self.non_negative(&key("at_s"), f.at_s)?;
        if at >= duration_s {
            return Err(self.err(
                key("at_s"),
                format!("{at} is not before duration_s = {duration_s}"),
            ));
        }
        let replica = |k: &str, r: usize| {
            if r < n {
                Ok(r)
            } else {
                Err(self.err(
                    key(k),
                    format!("{r} is not a replica (replicas are 0..{})", n - 1),
                ))
            }
        };
        let mut actions = Vec::new();
        if let Some(r) = f.crash {
            actions.push(FaultAction::Crash(replica("crash", r)?));
        }
        if let Some(r) = f.restart {
            actions.push(FaultAction::Restart(replica("restart", r)?));
        }
        if let Some(groups) = &f.partition {
            let mut seen = BTreeMap::new();
            for (g, group) in groups.iter().enumerate() {
                for &r in group {
                    replica("partition", r)?;
                    if let Some(prev) = seen.insert(r, g) {
                        return Err(self.err(
                            key("partition"),
                            format!("replica {r} is in group {prev} and group {g}"),
                        ));
                    }
                }
            }
            actions.push(FaultAction::Partition(groups.clone()));
        }
        if f.heal {
            actions.push(FaultAction::Heal);
        }
        match actions.len() {
            1 => Ok(Fault {
                at: Duration::from_secs_f64(at),
                action: actions.remove(0),
            }),
            0 => Err(self.err(key("at_s"), "a fault needs one of crash, restart, partition or heal = true")),
            _ => Err(self.err(key("at_s"), "one [[fault]] does one thing: split crash/restart/partition/heal into separate entries")),
        }
    }
}

#[cfg(test)]
mod tests;
