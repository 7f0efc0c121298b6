//! Confirming candidates in the simulator. Each candidate becomes an ordinary experiment config (the text
//! `--write-config` writes), parsed and run the way `paxos-bench run` runs it, with the safety checker on: so
//! the confirmed figures are exactly what `run` gives for that file. Besides the steady run, a leader crash
//! gives the failover time, and with a region-outage budget the loss of the leader's whole region gives the
//! time to recover, or "blocked" when no leader can be elected any more.

use super::space::Candidate;
use super::spec::TuneSpec;
use crate::check::History;
use crate::experiment::{plan, run_sim_with_history, RunError};
use paxos_variants::QuorumSystem;
use std::fmt::Write as _;
use std::path::Path;

/// Virtual seconds of a steady run, and of its warm-up.
pub const STEADY_S: f64 = 20.0;
pub const WARMUP_S: f64 = 2.0;
/// A fault run: the crash comes at `FAULT_AT_S` and the run lasts `FAULT_RUN_S`.
pub const FAULT_AT_S: f64 = 10.0;
pub const FAULT_RUN_S: f64 = 30.0;

/// What the simulator measured for one candidate.
#[derive(Debug, Clone)]
pub struct Confirmed {
    /// Per client region (the spec's order), microseconds.
    pub p50_us: Vec<Option<f64>>,
    pub p99_us: Vec<Option<f64>>,
    pub msgs_per_op: Option<f64>,
    pub ops: u64,
    /// Milliseconds without a completion after the leader crashed; `None`: commits never resumed.
    pub failover_ms: Option<Option<f64>>,
    /// The same after the leader's whole region was lost (only with a region-outage budget).
    pub outage_ms: Option<Option<f64>>,
}

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The experiment config of a candidate: replicas placed as it says, one closed-loop client in each client
/// region, the spec's network, and one `[[variant]]` with the quorum settings; `crash` lists the replicas that
/// crash at [`FAULT_AT_S`] (then the run lasts [`FAULT_RUN_S`]).
pub fn experiment_toml(spec: &TuneSpec, c: &Candidate, crash: &[usize]) -> String {
    let mut t = String::new();
    let regions = &spec.regions;
    let list = |items: Vec<String>| format!("[{}]", items.join(", "));
    let duration = if crash.is_empty() {
        STEADY_S
    } else {
        FAULT_RUN_S
    };
    let _ = writeln!(t, "name = {}", q(&format!("{}-tuned", spec.name)));
    let _ = writeln!(t, "mode = \"sim\"");
    let _ = writeln!(t, "duration_s = {duration:?}");
    let _ = writeln!(t, "warmup_s = {WARMUP_S:?}");
    let _ = writeln!(t, "seeds = [{}]", spec.seed);
    let _ = writeln!(t, "\n[cluster]");
    let _ = writeln!(
        t,
        "replicas = {}",
        list(c.placement.iter().map(|&r| q(&regions[r])).collect())
    );
    let _ = writeln!(
        t,
        "clients = {}",
        list(spec.clients.iter().map(|(r, _)| q(&regions[*r])).collect())
    );
    let _ = writeln!(t, "leader = {}", c.leader);
    let n = &spec.network_file;
    let _ = writeln!(t, "\n[network]");
    let _ = writeln!(t, "local_ms = {:?}", n.local_ms);
    let _ = writeln!(t, "jitter_ms = {:?}", n.jitter_ms);
    let _ = writeln!(t, "loss = {:?}", n.loss);
    let _ = writeln!(t, "duplicate = {:?}", n.duplicate);
    let _ = writeln!(t, "reorder = {:?}", n.reorder);
    let _ = writeln!(t, "reorder_ms = {:?}", n.reorder_ms);
    let used: Vec<&String> = c
        .placement
        .iter()
        .chain(spec.clients.iter().map(|(r, _)| r))
        .map(|&r| &regions[r])
        .collect();
    for link in &n.link {
        if link.between.iter().all(|r| used.contains(&r)) && link.between[0] != link.between[1] {
            let _ = writeln!(t, "\n[[network.link]]");
            let _ = writeln!(
                t,
                "between = [{}, {}]",
                q(&link.between[0]),
                q(&link.between[1])
            );
            let _ = writeln!(t, "ms = {:?}", link.ms);
        }
    }
    let _ = writeln!(t, "\n[load]");
    let _ = writeln!(t, "mode = \"closed\"");
    let _ = writeln!(t, "clients = [{}]", spec.clients.len());
    let _ = writeln!(t, "window = 1");
    let _ = writeln!(t, "payload_bytes = 64");
    let _ = writeln!(t, "write_fraction = 1.0");
    let _ = writeln!(t, "keys = 1000");
    let _ = writeln!(t, "\n[sim]");
    let _ = writeln!(t, "cpu_us_per_msg = {:?}", spec.cpu_us_per_msg);
    let _ = writeln!(t, "\n[[variant]]");
    let _ = writeln!(t, "name = {}", q(c.variant));
    let _ = writeln!(t, "label = \"tuned\"");
    match &c.quorums {
        QuorumSystem::Majority { .. } => {}
        QuorumSystem::Flexible { q1, q2, .. } => {
            let _ = writeln!(t, "q1 = {q1}\nq2 = {q2}");
        }
        QuorumSystem::Grid { rows, cols } => {
            let _ = writeln!(t, "grid = [{rows}, {cols}]");
        }
        QuorumSystem::Fast { classic, fast, .. } => {
            let _ = writeln!(t, "fast_quorum = {fast}\nclassic_quorum = {classic}");
        }
        QuorumSystem::Cheap { n, mains } => {
            let aux: Vec<String> = (0..*n)
                .filter(|i| !mains.contains_index(*i))
                .map(|i| i.to_string())
                .collect();
            let _ = writeln!(t, "auxiliaries = [{}]", aux.join(", "));
        }
    }
    for r in crash {
        let _ = writeln!(t, "\n[[fault]]\nat_s = {FAULT_AT_S:?}\ncrash = {r}");
    }
    t
}

/// Why a confirmation run gave no figures.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("the config written for it does not load: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Runs one config text in the simulator (as `run` does) and returns its result and client history.
fn simulate(text: &str) -> Result<(crate::results::RunResult, History), ConfirmError> {
    let exp = crate::config::parse(text, Path::new("(tuned config)"))?;
    let runs = plan(&exp);
    let Some(first) = runs.first() else {
        return Err(RunError::UnknownVariant("(no run planned)".into()).into());
    };
    Ok(run_sim_with_history(&exp, first)?)
}

/// The steady figures of a candidate (and, with `faults`, its failover and outage times).
pub fn confirm(spec: &TuneSpec, c: &Candidate, faults: bool) -> Result<Confirmed, ConfirmError> {
    let (steady, _) = simulate(&experiment_toml(spec, c, &[]))?;
    let by_region = |name: &str| steady.by_region.iter().find(|r| r.region == name);
    let regions: Vec<&String> = spec
        .clients
        .iter()
        .map(|(r, _)| &spec.regions[*r])
        .collect();
    let mut out = Confirmed {
        p50_us: regions
            .iter()
            .map(|r| by_region(r).and_then(|x| x.p50_us))
            .collect(),
        p99_us: regions
            .iter()
            .map(|r| by_region(r).and_then(|x| x.p99_us))
            .collect(),
        msgs_per_op: steady.row.msgs_per_op,
        ops: steady.row.ops,
        failover_ms: None,
        outage_ms: None,
    };
    if faults {
        let (_, h) = simulate(&experiment_toml(spec, c, &[c.leader]))?;
        out.failover_ms = Some(recovery_ms(&h, FAULT_AT_S));
        if spec.region_outage {
            let region = c.placement[c.leader];
            let lost: Vec<usize> = (0..c.n()).filter(|&i| c.placement[i] == region).collect();
            let (_, h) = simulate(&experiment_toml(spec, c, &lost))?;
            out.outage_ms = Some(recovery_ms(&h, FAULT_AT_S));
        }
    }
    Ok(out)
}

/// The failover time after the fault at `at_s` (see [`History::silence_after_ms`]).
pub fn recovery_ms(h: &History, at_s: f64) -> Option<f64> {
    h.silence_after_ms((at_s * 1e9) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TuneSpec {
        super::super::spec::parse(
            r#"
name = "t"
[network]
local_ms = 0.25
[[network.link]]
between = ["a", "b"]
ms = 10.0
[[network.link]]
between = ["a", "c"]
ms = 40.0
[[network.link]]
between = ["b", "c"]
ms = 35.5
[[network.link]]
between = ["c", "elsewhere"]
ms = 1.0
[tune]
regions = ["a", "b", "c"]
client_weights = { a = 1, c = 1 }
"#,
            Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn every_kind_of_candidate_writes_a_config_that_loads_with_its_quorums() {
        let s = spec();
        let base = Candidate {
            variant: "multi",
            placement: vec![0, 1, 2],
            leader: 1,
            quorums: QuorumSystem::Majority { n: 3 },
            crash_p1: 1,
            crash_p2: 1,
            fast_path: None,
            survives_outage: true,
        };
        let cases = [
            ("multi", QuorumSystem::Majority { n: 3 }, vec![0, 1, 2]),
            (
                "flexible",
                QuorumSystem::flexible(3, 3, 1).unwrap(),
                vec![0, 1, 2],
            ),
            (
                "flexible",
                QuorumSystem::grid(4, 2, 2).unwrap(),
                vec![0, 1, 2, 2],
            ),
            (
                "fast",
                QuorumSystem::fast(3, Some(2), Some(3)).unwrap(),
                vec![0, 1, 2],
            ),
            (
                "cheap",
                QuorumSystem::cheap(3, Some(vec![0])).unwrap(),
                vec![0, 1, 2],
            ),
            (
                "basic",
                QuorumSystem::flexible(3, 2, 2).unwrap(),
                vec![0, 1, 2],
            ),
        ];
        for (variant, quorums, placement) in cases {
            let c = Candidate {
                variant,
                quorums: quorums.clone(),
                placement,
                ..base.clone()
            };
            let text = experiment_toml(&s, &c, &[1]);
            let exp = crate::config::parse(&text, Path::new("x.toml"))
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            let v = &exp.variants[0];
            assert_eq!((v.name.as_str(), &v.quorums), (variant, &quorums), "{text}");
            assert_eq!(exp.topology.leader, 1);
            assert_eq!(exp.client_counts, vec![2]);
            assert_eq!(exp.faults.len(), 1);
            // The link to a region nobody uses is left out (a config may not name it).
            assert!(!text.contains("elsewhere"));
            assert!(text.contains("ms = 35.5"));
        }
    }

    #[test]
    fn a_leader_crash_shows_as_a_stall_and_a_lost_quorum_as_blocked() {
        let s = spec();
        let c = Candidate {
            variant: "multi",
            placement: vec![0, 1, 2],
            leader: 0,
            quorums: QuorumSystem::Majority { n: 3 },
            crash_p1: 1,
            crash_p2: 1,
            fast_path: None,
            survives_outage: true,
        };
        let got = confirm(&s, &c, true).unwrap();
        let failover = got.failover_ms.flatten().unwrap();
        // At least one election timeout (500 ms by default), and it ends.
        assert!(failover > 500.0 && failover < 10_000.0, "{failover}");
        assert!(got.p50_us.iter().all(|p| p.is_some()));
        // Flexible q1 = 3 of 3: after the leader crashes no new leader can be elected.
        let stuck = Candidate {
            variant: "flexible",
            quorums: QuorumSystem::flexible(3, 3, 1).unwrap(),
            crash_p1: 0,
            crash_p2: 2,
            ..c
        };
        let got = confirm(&s, &stuck, true).unwrap();
        assert_eq!(got.failover_ms, Some(None));
    }
}
