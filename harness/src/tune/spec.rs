//! The `[tune]` section and the network it is scored on, validated into a [`TuneSpec`]. The rest of an
//! experiment file (`[cluster]`, `[load]`, `[[variant]]`) may be there or not: the tuner chooses those itself,
//! so a config that is only `[network]` plus `[tune]` works, and so does a full experiment with `[tune]` added.

use crate::config::{ConfigError, NetworkFile, NetworkSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most replicas a candidate may have: the region outage check and the grid arrangements enumerate subsets and
/// orders of the replicas, and past this the search space is larger than a person would read anyway.
pub const MAX_REPLICAS: usize = 15;

/// Most regions that may hold replicas.
pub const MAX_REGIONS: usize = 64;

/// `[tune]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneFile {
    /// Where replicas may be placed.
    pub regions: Vec<String>,
    /// The cluster sizes to consider: a list, or one number.
    #[serde(default)]
    pub replicas: Option<OneOrMany>,
    /// At most this many replicas in one region (default: no limit).
    pub max_per_region: Option<usize>,
    /// Share of clients per region; regions left out have none.
    pub client_weights: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    pub tolerate: TolerateFile,
    /// `mean_p50` or `mean_p99`, weighted over the client regions.
    pub objective: Option<String>,
    /// Which variants may be chosen (default: every one).
    pub variants: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(usize),
    Many(Vec<usize>),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TolerateFile {
    /// Any this many replicas may crash and both phases must still complete (default 1).
    pub crashes: Option<usize>,
    /// Losing every replica of any one region must leave both phases able to complete (default false).
    pub region_outage: Option<bool>,
}

/// What the search optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    MeanP50,
    MeanP99,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::MeanP50 => "mean_p50",
            Objective::MeanP99 => "mean_p99",
        }
    }
}

/// A validated `[tune]` with its network.
#[derive(Debug, Clone)]
pub struct TuneSpec {
    /// The experiment's name (`tune` when the file has none).
    pub name: String,
    /// Every region the search uses: the candidate replica regions first, then client regions not among them.
    pub regions: Vec<String>,
    /// How many of `regions` (the first ones) may hold replicas.
    pub replica_regions: usize,
    pub replicas: Vec<usize>,
    pub max_per_region: usize,
    /// (region index, weight) of every region with clients, weight > 0, in the order the file lists them.
    pub clients: Vec<(usize, f64)>,
    pub crashes: usize,
    pub region_outage: bool,
    pub objective: Objective,
    /// Registry names, in registry order.
    pub variants: Vec<&'static str>,
    /// Delays among `regions` and the impairments, as the simulator applies them.
    pub network: NetworkSpec,
    /// The network section as written, for the configs the tuner writes.
    pub network_file: NetworkFile,
    /// `[sim] cpu_us_per_msg` (default 5).
    pub cpu_us_per_msg: f64,
    /// The first of the file's seeds (default 1): the simulator runs that confirm candidates use it.
    pub seed: u64,
    /// The file, for error messages and for naming the output.
    pub file: PathBuf,
}

/// The parts of an experiment file the tuner reads; everything else in the file is left to `run`.
#[derive(Debug, Deserialize)]
struct TuneInput {
    name: Option<String>,
    network: NetworkFile,
    tune: TuneFile,
    #[serde(default)]
    sim: Option<SimPart>,
    #[serde(default)]
    seeds: Option<Vec<u64>>,
    #[serde(default)]
    cluster: Option<ClusterPart>,
}

#[derive(Debug, Deserialize)]
struct SimPart {
    cpu_us_per_msg: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct ClusterPart {
    clients: Option<Vec<String>>,
}

/// Reads and validates a tune config.
pub fn load(path: &Path) -> Result<TuneSpec, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates tune config text; `file` names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<TuneSpec, ConfigError> {
    let parse_err = |key: String, message: String| ConfigError::Parse {
        file: file.to_path_buf(),
        key,
        message,
    };
    let de = toml::Deserializer::parse(text)
        .map_err(|e| parse_err("(document)".into(), e.to_string()))?;
    let raw: TuneInput = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().message().trim().to_string();
        let key = if key == "." {
            "(top level)".into()
        } else {
            key
        };
        parse_err(key, message)
    })?;
    validate(raw, file)
}

fn validate(raw: TuneInput, file: &Path) -> Result<TuneSpec, ConfigError> {
    let err = |key: &str, message: String| ConfigError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let t = raw.tune;
    if t.regions.is_empty() {
        return Err(err("tune.regions", "needs at least one region".into()));
    }
    if t.regions.len() > MAX_REGIONS {
        return Err(err(
            "tune.regions",
            format!("{} regions: at most {MAX_REGIONS}", t.regions.len()),
        ));
    }
    let mut regions: Vec<String> = Vec::new();
    for (i, r) in t.regions.iter().enumerate() {
        if r.trim().is_empty() {
            return Err(err(
                &format!("tune.regions[{i}]"),
                "a region name must not be empty".into(),
            ));
        }
        if regions.contains(r) {
            return Err(err("tune.regions", format!("`{r}` is listed twice")));
        }
        regions.push(r.clone());
    }
    let replica_regions = regions.len();
    let replicas = match t.replicas {
        None => vec![3, 5],
        Some(OneOrMany::One(n)) => vec![n],
        Some(OneOrMany::Many(v)) => v,
    };
    if replicas.is_empty() {
        return Err(err(
            "tune.replicas",
            "needs at least one cluster size".into(),
        ));
    }
    let mut sizes = Vec::new();
    for &n in &replicas {
        if n == 0 || n > MAX_REPLICAS {
            return Err(err(
                "tune.replicas",
                format!("{n} replicas: each size must be between 1 and {MAX_REPLICAS}"),
            ));
        }
        if sizes.contains(&n) {
            return Err(err("tune.replicas", format!("{n} is listed twice")));
        }
        sizes.push(n);
    }
    sizes.sort_unstable();
    let max_per_region = match t.max_per_region {
        Some(0) => {
            return Err(err(
                "tune.max_per_region",
                "must be at least 1 (0 places no replica anywhere)".into(),
            ))
        }
        Some(m) => m,
        None => MAX_REPLICAS,
    };
    if sizes.iter().all(|&n| n > max_per_region * replica_regions) {
        return Err(err(
            "tune.replicas",
            format!(
                "no size fits: {} region(s) with at most {max_per_region} replica(s) each hold at most {}",
                replica_regions,
                max_per_region * replica_regions
            ),
        ));
    }
    // Client regions: the weights, else the [cluster] clients, else every candidate region alike.
    let weights: Vec<(String, f64)> = match (&t.client_weights, raw.cluster.and_then(|c| c.clients))
    {
        (Some(w), _) => {
            let mut listed = Vec::new();
            // Keep the file's order for candidate regions first, then the rest by name (a TOML table has none).
            for r in &regions {
                if let Some(&x) = w.get(r) {
                    listed.push((r.clone(), x));
                }
            }
            for (r, &x) in w {
                if !regions.contains(r) {
                    listed.push((r.clone(), x));
                }
            }
            listed
        }
        (None, Some(clients)) if !clients.is_empty() => {
            let mut listed: Vec<(String, f64)> = Vec::new();
            for c in clients {
                match listed.iter_mut().find(|(r, _)| *r == c) {
                    Some((_, w)) => *w += 1.0,
                    None => listed.push((c, 1.0)),
                }
            }
            listed
        }
        _ => regions.iter().map(|r| (r.clone(), 1.0)).collect(),
    };
    let mut clients = Vec::new();
    for (r, w) in weights {
        if !w.is_finite() || w < 0.0 {
            return Err(err(
                &format!("tune.client_weights.{r}"),
                format!("must be a number >= 0, got {w}"),
            ));
        }
        if r.trim().is_empty() {
            return Err(err(
                "tune.client_weights",
                "a region name must not be empty".into(),
            ));
        }
        if w == 0.0 {
            continue;
        }
        let i = match regions.iter().position(|x| *x == r) {
            Some(i) => i,
            None => {
                regions.push(r.clone());
                regions.len() - 1
            }
        };
        clients.push((i, w));
    }
    if clients.is_empty() {
        return Err(err(
            "tune.client_weights",
            "every weight is 0: at least one region needs clients".into(),
        ));
    }
    let crashes = t.tolerate.crashes.unwrap_or(1);
    let region_outage = t.tolerate.region_outage.unwrap_or(false);
    if sizes.iter().all(|&n| crashes >= n) {
        return Err(err(
            "tune.tolerate.crashes",
            format!(
                "{crashes} crashes: no cluster size in tune.replicas ({}) can lose that many and keep a replica",
                list(&sizes)
            ),
        ));
    }
    if region_outage && replica_regions < 2 {
        return Err(err(
            "tune.tolerate.region_outage",
            "needs at least two regions in tune.regions: with one, an outage takes every replica"
                .into(),
        ));
    }
    let objective = match t.objective.as_deref() {
        None | Some("mean_p50") => Objective::MeanP50,
        Some("mean_p99") => Objective::MeanP99,
        Some(other) => {
            return Err(err(
                "tune.objective",
                format!("unknown objective `{other}` (known: \"mean_p50\", \"mean_p99\")"),
            ))
        }
    };
    let all: Vec<&'static str> = crate::registry::VARIANTS.iter().map(|v| v.name).collect();
    let variants = match &t.variants {
        None => all.clone(),
        Some(names) => {
            if names.is_empty() {
                return Err(err("tune.variants", "needs at least one variant".into()));
            }
            let mut chosen = Vec::new();
            for (i, n) in names.iter().enumerate() {
                let Some(v) = all.iter().find(|v| **v == n.as_str()) else {
                    return Err(err(
                        &format!("tune.variants[{i}]"),
                        format!("unknown variant `{n}` (known: {})", all.join(", ")),
                    ));
                };
                if chosen.contains(v) {
                    return Err(err("tune.variants", format!("`{n}` is listed twice")));
                }
                chosen.push(*v);
            }
            // Registry order, so ties break the same way whatever order the file lists them in.
            all.iter().copied().filter(|v| chosen.contains(v)).collect()
        }
    };
    let network = network_among(&raw.network, &regions, file)?;
    let cpu_us_per_msg = raw
        .sim
        .and_then(|s| s.cpu_us_per_msg)
        .unwrap_or(crate::tune::DEFAULT_CPU_US);
    if !cpu_us_per_msg.is_finite() || cpu_us_per_msg < 0.0 {
        return Err(err(
            "sim.cpu_us_per_msg",
            format!("must be >= 0, got {cpu_us_per_msg}"),
        ));
    }
    let name = raw.name.unwrap_or_else(|| "tune".into());
    if name.trim().is_empty() {
        return Err(err("name", "must not be empty".into()));
    }
    Ok(TuneSpec {
        name,
        regions,
        replica_regions,
        replicas: sizes,
        max_per_region,
        clients,
        crashes,
        region_outage,
        objective,
        variants,
        network,
        network_file: raw.network,
        cpu_us_per_msg,
        seed: raw.seeds.and_then(|s| s.first().copied()).unwrap_or(1),
        file: file.to_path_buf(),
    })
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The network among `regions` only: a published matrix may list more regions than the search uses, so links
/// to others are left out; a link missing between two regions the search uses is an error naming them.
fn network_among(
    net: &NetworkFile,
    regions: &[String],
    file: &Path,
) -> Result<NetworkSpec, ConfigError> {
    let mut used = net.clone();
    used.link
        .retain(|l| l.between.iter().all(|r| regions.contains(r)));
    let topology = crate::config::Topology {
        regions: regions.to_vec(),
        replica_region: vec![0],
        client_regions: vec![0],
        leader: 0,
    };
    crate::config::network_for(&used, &topology, file)
}

impl TuneSpec {
    /// The one-way delay between two regions.
    pub fn delay(&self, a: usize, b: usize) -> Duration {
        self.network.delay[a][b]
    }

    /// Sum of the client weights.
    pub fn total_weight(&self) -> f64 {
        self.clients.iter().map(|(_, w)| w).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: &str = r#"
[network]
local_ms = 0.5
[[network.link]]
between = ["a", "b"]
ms = 10.0
[[network.link]]
between = ["a", "c"]
ms = 20.0
[[network.link]]
between = ["b", "c"]
ms = 15.0
[[network.link]]
between = ["c", "far"]
ms = 99.0
"#;

    fn parse_tune(tune: &str) -> Result<TuneSpec, ConfigError> {
        parse(&format!("{NET}\n[tune]\n{tune}"), Path::new("t.toml"))
    }

    #[test]
    fn the_documented_form_parses_with_its_defaults() {
        let s = parse_tune(
            r#"regions = ["a", "b", "c"]
replicas = [3, 5]
max_per_region = 2
client_weights = { a = 2, b = 1 }
tolerate = { crashes = 1, region_outage = false }
objective = "mean_p50"
variants = ["multi", "flexible", "fast", "cheap", "basic"]"#,
        )
        .unwrap();
        assert_eq!(s.replicas, vec![3, 5]);
        assert_eq!(s.clients, vec![(0, 2.0), (1, 1.0)]);
        assert_eq!(s.variants.len(), 5);
        // A link to a region the search does not use is left out, not an error.
        assert_eq!(s.network.delay.len(), 3);
        assert_eq!(s.delay(1, 2), Duration::from_millis(15));
        let d = parse_tune(r#"regions = ["a", "b"]"#).unwrap();
        assert_eq!((d.crashes, d.region_outage), (1, false));
        assert_eq!(d.objective, Objective::MeanP50);
        assert_eq!(d.clients, vec![(0, 1.0), (1, 1.0)]);
    }

    #[test]
    fn a_client_region_outside_the_candidates_joins_the_network() {
        let s = parse_tune(
            r#"regions = ["a", "b"]
client_weights = { c = 1 }"#,
        )
        .unwrap();
        assert_eq!(s.regions, vec!["a", "b", "c"]);
        assert_eq!((s.replica_regions, s.clients.clone()), (2, vec![(2, 1.0)]));
    }

    #[test]
    fn bad_sections_name_the_key_and_the_problem() {
        let cases = [
            (r#"regions = []"#, "tune.regions"),
            (r#"regions = ["a", "a"]"#, "listed twice"),
            (
                r#"regions = ["a", "b"]
replicas = [0]"#,
                "between 1 and",
            ),
            (
                r#"regions = ["a"]
replicas = [3]
max_per_region = 2"#,
                "no size fits",
            ),
            (
                r#"regions = ["a", "b"]
objective = "fastest""#,
                "unknown objective",
            ),
            (
                r#"regions = ["a", "b"]
variants = ["zab"]"#,
                "unknown variant `zab`",
            ),
            (
                r#"regions = ["a", "b"]
client_weights = { a = -1 }"#,
                "must be a number >= 0",
            ),
            (
                r#"regions = ["a", "b"]
client_weights = { a = 0 }"#,
                "every weight is 0",
            ),
            (r#"regions = ["a", "nowhere"]"#, "no link between"),
            (
                r#"regions = ["a", "b"]
replicas = [3]
tolerate = { crashes = 3 }"#,
                "tune.tolerate.crashes",
            ),
            (
                r#"regions = ["a"]
tolerate = { region_outage = true }"#,
                "region_outage",
            ),
            (
                r#"regions = ["a", "b"]
colour = "red""#,
                "unknown field `colour`",
            ),
            (
                r#"regions = ["a", "b"]
max_per_region = 0"#,
                "at least 1",
            ),
        ];
        for (tune, want) in cases {
            let e = parse_tune(tune).unwrap_err().to_string();
            assert!(e.contains(want), "{tune}: {e}");
            assert!(e.starts_with("t.toml"), "{e}");
        }
        let e = parse(NET, Path::new("t.toml")).unwrap_err().to_string();
        assert!(e.contains("tune"), "{e}");
    }
}
