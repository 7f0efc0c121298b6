//! Every variant the harness runs, described once: its name, its colour in every plot, its analytic latency
//! model, and the quorum system a random checker scenario gives it. The plots, the model column, the checker and
//! `paxos-bench list` read this table instead of each keeping its own list; `dispatch.rs` maps the same names
//! to the variant types (a test keeps the two in step).

use crate::model::jitter::median_ns;
use crate::model::ModelInput;
use paxos_variants::{DetRng, Mutation, QuorumSystem, ReadPath};
use plotters::style::RGBColor;

/// What the harness knows about one variant beyond its code.
pub struct VariantInfo {
    /// The name a config uses (`[[variant]] name`), and the variant type's `NAME`.
    pub name: &'static str,
    /// One line for `paxos-bench list`.
    pub summary: &'static str,
    /// Its colour in every plot (Okabe and Ito's colour-blind-safe palette), so a reader learns it once.
    pub colour: RGBColor,
    /// The modelled commit latency of one command with one client (nanoseconds), until the reply.
    pub model_ns: fn(&ModelInput<'_>) -> u64,
    /// Until the client can know its command is chosen (Fast Paxos's clients count votes; others: the reply).
    pub commit_model_ns: fn(&ModelInput<'_>) -> u64,
    /// The cluster size and quorum system of a checker scenario with `n` replicas drawn, for this seed (the
    /// mutation lets a deliberately broken quorum choice through).
    pub scenario_quorums: fn(seed: u64, n: usize, mutation: Mutation) -> (usize, QuorumSystem),
    /// Whether its checker scenarios add a nemesis that cuts off whichever replica leads, several times over
    /// (`SimFault::IsolateLeader`): Raft's commit rule is reached only through chains of short leaderships.
    pub hunts_leaders: bool,
    /// The deliberately broken versions the checker must catch in this variant, each with the number of seeds
    /// (from 1, every fault kind) within which it must find a violation (`harness/tests/cli_check.rs`).
    pub mutants: &'static [(Mutation, u64)],
    /// The read paths it offers besides the log (`[reads] path`).
    pub read_paths: &'static [ReadPath],
    /// Why the others do not apply to it, for the note a run prints when a config asks for them.
    pub no_read_paths_why: &'static str,
}

/// The variants, in the order runs and reports list them.
pub const VARIANTS: &[VariantInfo] = &[
    VariantInfo {
        name: "basic",
        summary: "Basic Paxos: a full single-decree instance per slot, by whichever replica a client reached",
        colour: RGBColor(230, 159, 0),
        model_ns: |m| m.basic_ns(),
        commit_model_ns: |m| m.basic_ns(),
        scenario_quorums: majority,
        hunts_leaders: false,
        mutants: &[(Mutation::AcceptorIgnoresPromise, 500), (Mutation::IgnorePromisedValues, 500)],
        read_paths: &[],
        no_read_paths_why: "no stable leader holds a lease, and quorum reads are not built for its per-slot \
                            proposers",
    },
    VariantInfo {
        name: "multi",
        summary: "Multi-Paxos: a stable leader, one Phase 2 round trip per slot",
        colour: RGBColor(0, 114, 178),
        model_ns: |m| m.multi_ns(),
        commit_model_ns: |m| m.multi_ns(),
        scenario_quorums: majority,
        hunts_leaders: false,
        mutants: &[
            (Mutation::AcceptorIgnoresPromise, 500),
            (Mutation::IgnorePromisedValues, 500),
            (Mutation::AnswerWithoutPersisting, 500),
            (Mutation::LeadPastCompaction, 2000),
            (Mutation::LeaseReadAfterExpiry, 200),
            (Mutation::QuorumReadBeforeApply, 200),
        ],
        read_paths: &[ReadPath::Lease, ReadPath::Quorum],
        no_read_paths_why: "",
    },
    VariantInfo {
        name: "flexible",
        summary: "Flexible Paxos: Multi-Paxos with phase-1 and phase-2 quorums that need only meet each other",
        colour: RGBColor(0, 158, 115),
        model_ns: |m| m.multi_ns(),
        commit_model_ns: |m| m.multi_ns(),
        scenario_quorums: flexible,
        hunts_leaders: false,
        mutants: &[
            (Mutation::NonIntersectingQuorums, 500),
            (Mutation::LeadPastCompaction, 500),
            (Mutation::LeaseReadAfterExpiry, 200),
            (Mutation::QuorumReadBeforeApply, 200),
        ],
        read_paths: &[ReadPath::Lease, ReadPath::Quorum],
        no_read_paths_why: "",
    },
    VariantInfo {
        name: "fast",
        summary: "Fast Paxos: clients send to every acceptor; a fast quorum chooses in two message delays",
        colour: RGBColor(213, 94, 0),
        model_ns: |m| m.fast_ns(),
        commit_model_ns: |m| m.fast_commit_ns(),
        scenario_quorums: fast,
        hunts_leaders: false,
        mutants: &[
            (Mutation::FastRecoveryIgnoresQuorumRule, 500),
            // Fast quorums leave more copies of a slot: the bug shows about once in a thousand seeds.
            (Mutation::LeadPastCompaction, 6000),
        ],
        read_paths: &[],
        no_read_paths_why: "a fast quorum chooses a value without the leader, so no lease holder knows the latest \
                            write; quorum reads are not built for its fast rounds",
    },
    VariantInfo {
        name: "cheap",
        summary: "Cheap Paxos: f+1 main acceptors carry the load; f auxiliaries step in when a main fails",
        colour: RGBColor(204, 121, 167),
        model_ns: |m| m.cheap_ns(),
        commit_model_ns: |m| m.cheap_ns(),
        scenario_quorums: cheap,
        hunts_leaders: false,
        mutants: &[
            (Mutation::CheapIgnoresReconfigurations, 1000),
            (Mutation::LeaseReadAfterExpiry, 200),
        ],
        read_paths: &[ReadPath::Lease],
        no_read_paths_why: "its phase-2 quorums move with reconfiguration and its auxiliaries never apply the \
                            log, so a client cannot know which replicas a quorum read must reach",
    },
    VariantInfo {
        name: "raft",
        summary: "Raft: a baseline; terms, logs matched entry by entry, commit only of the leader's own term",
        colour: RGBColor(86, 180, 233),
        // A command commits as in Multi-Paxos: the client to the leader, one round trip to a majority, back.
        model_ns: |m| m.multi_ns(),
        commit_model_ns: |m| m.multi_ns(),
        scenario_quorums: majority,
        hunts_leaders: true,
        mutants: &[
            (Mutation::RaftVotesForStaleLog, 200),
            (Mutation::RaftCommitsEarlierTermByCount, 200),
        ],
        read_paths: &[],
        no_read_paths_why: "it is here as the reference Raft of the paper, whose reads go through the log",
    },
    VariantInfo {
        name: "epaxos",
        summary: "EPaxos: leaderless; each replica leads its clients' commands, one round trip to a fast quorum \
                  when nothing conflicts",
        colour: RGBColor(0, 0, 0),
        // With nothing in conflict: client to its nearest replica, the fast quorum's round trip, back.
        model_ns: |m| m.epaxos_ns(),
        commit_model_ns: |m| m.epaxos_ns(),
        scenario_quorums: majority_even_too,
        hunts_leaders: false,
        mutants: &[
            (Mutation::EpaxosFastQuorumTooSmall, 200),
            (Mutation::EpaxosExecutesWithoutDependency, 200),
        ],
        read_paths: &[],
        no_read_paths_why: "no replica leads the others, so none holds a lease, and its replicas apply \
                            commands in different orders, so no applied position answers a quorum read",
    },
];

impl VariantInfo {
    /// Whether it can read by `path` (every variant reads through the log).
    pub fn offers(&self, path: ReadPath) -> bool {
        path == ReadPath::Log || self.read_paths.contains(&path)
    }
}

/// The description of the variant named `name`.
pub fn info(name: &str) -> Option<&'static VariantInfo> {
    VARIANTS.iter().find(|v| v.name == name)
}

fn majority(_: u64, n: usize, _: Mutation) -> (usize, QuorumSystem) {
    (n, QuorumSystem::Majority { n })
}

/// A majority of 3, 4 or 5: EPaxos's quorums depend on N in ways an even N tests apart (its fast quorum is
/// all replicas but one, a majority is `N / 2 + 1`). Four replicas in one seed of three, on a stream of its own.
fn majority_even_too(seed: u64, n: usize, _: Mutation) -> (usize, QuorumSystem) {
    let n = if paxos_variants::DetRng::derive(seed, 0xE7E4).below(3) == 0 {
        4
    } else {
        n
    };
    (n, QuorumSystem::Majority { n })
}

/// The smallest safe sizes (classic: a majority); always valid for 3 and 5.
fn fast(_: u64, n: usize, _: Mutation) -> (usize, QuorumSystem) {
    (
        n,
        QuorumSystem::fast(n, None, None).unwrap_or(QuorumSystem::Majority { n }),
    )
}

fn cheap(_: u64, n: usize, _: Mutation) -> (usize, QuorumSystem) {
    (
        n,
        QuorumSystem::cheap(n, None).unwrap_or(QuorumSystem::Majority { n }),
    )
}

/// A random safe q1/q2 pair or grid per seed; the `NonIntersectingQuorums` mutant gets q1 + q2 = n.
fn flexible(seed: u64, n: usize, mutation: Mutation) -> (usize, QuorumSystem) {
    let mut q = DetRng::derive(seed, 0xF1E7);
    if mutation == Mutation::NonIntersectingQuorums {
        let q2 = 1 + q.below(n as u64 - 1) as usize;
        return (n, QuorumSystem::Flexible { n, q1: n - q2, q2 });
    }
    if q.chance(0.3) {
        let (rows, cols) = [(2, 2), (2, 3), (3, 2)][q.below(3) as usize];
        return (rows * cols, QuorumSystem::Grid { rows, cols });
    }
    let q2 = 1 + q.below(n as u64) as usize;
    let q1 = n + 1 - q2 + q.below(q2 as u64) as usize;
    (n, QuorumSystem::Flexible { n, q1, q2 })
}

/// The modelled p50 in microseconds for a variant, or None if the variant has no model yet. With jitter on the
/// network it is the median over every message's jitter (`model::jitter`).
pub fn expected_p50_us(variant: &str, input: &ModelInput<'_>) -> Option<f64> {
    let v = info(variant)?;
    Some(median_ns(input, &v.model_ns) as f64 / 1000.0)
}

/// The modelled p50 of a read in microseconds: a write's on the log path, else the path's own model (a lease
/// read: the client's round trip to the leader; a quorum read: its round trip to its nearest read quorum).
pub fn expected_read_p50_us(variant: &str, path: ReadPath, input: &ModelInput<'_>) -> Option<f64> {
    let ns = match path {
        ReadPath::Log => median_ns(input, &info(variant)?.model_ns),
        ReadPath::Lease => median_ns(input, &|m| m.lease_read_ns()),
        ReadPath::Quorum => median_ns(input, &|m| m.quorum_read_ns()),
    };
    Some(ns as f64 / 1000.0)
}

/// The modelled time until a client knows its command is chosen, in microseconds: the reply, except for Fast
/// Paxos, whose client learns from the acceptors' votes.
pub fn expected_commit_p50_us(variant: &str, input: &ModelInput<'_>) -> Option<f64> {
    let v = info(variant)?;
    Some(median_ns(input, &v.commit_model_ns) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::with_variant;
    use paxos_variants::{Variant, VARIANT_NAMES};

    #[test]
    fn the_registry_and_the_variants_crate_name_the_same_variants_and_each_dispatches() {
        let names: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
        assert_eq!(names, VARIANT_NAMES.to_vec());
        for v in VARIANTS {
            assert_eq!(with_variant!(v.name, V => V::NAME), Some(v.name));
        }
    }

    #[test]
    fn every_variant_has_its_own_colour() {
        for (i, a) in VARIANTS.iter().enumerate() {
            for b in &VARIANTS[i + 1..] {
                assert_ne!(a.colour, b.colour, "{} and {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn scenario_quorums_are_valid_unless_a_mutant_asks_otherwise() {
        for v in VARIANTS {
            for seed in 0..200 {
                for n in [3, 5] {
                    let (n2, q) = (v.scenario_quorums)(seed, n, Mutation::None);
                    assert_eq!(q.n(), n2, "{}: {q:?}", v.name);
                    assert!(
                        paxos_variants::quorum::exhaustive_intersection_check(&q).is_ok(),
                        "{} seed {seed}: {q:?}",
                        v.name
                    );
                }
            }
        }
    }
}
