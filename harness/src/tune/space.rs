//! The search space: every placement of N replicas over the candidate regions, every leader region, and every
//! quorum setting a variant takes (Flexible's q1/q2 pairs and grid arrangements, Fast's classic/fast sizes,
//! Cheap's auxiliary sets). Settings the quorum validator refuses, and settings another one beats on every
//! count (dominated), are counted by class in a [`Ledger`] rather than scored; the rest are handed to the
//! caller one at a time, so memory stays bounded however large the space.

use super::budget;
use super::spec::TuneSpec;
use paxos_variants::{QuorumError, QuorumKind, QuorumSystem, Variant};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Grids are searched up to this many replicas: their arrangements grow as N!, and the grids worth having
/// (2 x 2, 2 x 3) are small.
pub const MAX_GRID: usize = 6;

/// One configuration the tuner can recommend.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub variant: &'static str,
    /// The region (index into the spec's regions) of each replica, in replica order.
    pub placement: Vec<usize>,
    /// The initial leader (Basic Paxos has none: 0).
    pub leader: usize,
    pub quorums: QuorumSystem,
    /// Crashes after which a phase-1 (phase-2) quorum is still left, whichever replicas crash.
    pub crash_p1: usize,
    pub crash_p2: usize,
    /// Fast Paxos: crashes its fast path survives.
    pub fast_path: Option<usize>,
    /// Whether losing any one region leaves both phases able to complete.
    pub survives_outage: bool,
}

impl Candidate {
    /// Crashes tolerated with both phases completing.
    pub fn crashes_tolerated(&self) -> usize {
        self.crash_p1.min(self.crash_p2)
    }

    pub fn n(&self) -> usize {
        self.placement.len()
    }

    /// The quorum setting in the words of a config: `q1=4 q2=2`, `grid 2x3`, `fast 4 classic 3`, ...
    pub fn quorum_label(&self) -> String {
        match &self.quorums {
            QuorumSystem::Majority { n } => format!("majority {}", n / 2 + 1),
            QuorumSystem::Flexible { q1, q2, .. } => format!("q1={q1} q2={q2}"),
            QuorumSystem::Grid { rows, cols } => format!("grid {rows}x{cols}"),
            QuorumSystem::Fast { classic, fast, .. } => format!("fast={fast} classic={classic}"),
            QuorumSystem::Cheap { n, mains } => {
                let aux: Vec<String> = (0..*n)
                    .filter(|i| !mains.contains_index(*i))
                    .map(|i| i.to_string())
                    .collect();
                format!("aux [{}]", aux.join(","))
            }
        }
    }
}

/// Why settings or candidates were left out, by class, each with how many and one example.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    pub classes: BTreeMap<String, (u64, String)>,
}

impl Ledger {
    pub fn add(&mut self, class: String, example: impl FnOnce() -> String) {
        let e = self.classes.entry(class).or_insert_with(|| (0, example()));
        e.0 += 1;
    }
}

/// A quorum setting for N replicas, before it is placed.
#[derive(Debug, Clone)]
struct Setting {
    quorums: QuorumSystem,
    crash_p1: usize,
    crash_p2: usize,
    fast_path: Option<usize>,
}

impl Setting {
    fn new(quorums: QuorumSystem) -> Setting {
        Setting {
            crash_p1: budget::crashes_survived(&quorums, true),
            crash_p2: budget::crashes_survived(&quorums, false),
            fast_path: budget::fast_path_survives(&quorums),
            quorums,
        }
    }
}

/// The class of a validator refusal: the rule, without the numbers of one case.
fn refusal_class(e: &QuorumError) -> String {
    match e {
        QuorumError::NotIntersecting { .. } => {
            "q1 + q2 <= N: a phase-1 quorum could miss a phase-2 quorum".into()
        }
        QuorumError::FastUnsafe { rule, formula, .. } => {
            format!("breaks the rule that {rule} ({formula})")
        }
        QuorumError::TooManyAuxiliaries { .. } => {
            "more than (N - 1) / 2 auxiliaries: the main acceptors would not be a quorum".into()
        }
        other => other.to_string(),
    }
}

/// The settings of one variant for N replicas (refused and dominated ones go to the ledger).
fn settings(
    variant: &'static str,
    kind: QuorumKind,
    n: usize,
    ledger: &mut Ledger,
) -> Vec<Setting> {
    let mut out = Vec::new();
    let refused = |e: QuorumError, example: String, ledger: &mut Ledger| {
        ledger.add(
            format!(
                "{variant}: refused by the quorum validator: {}",
                refusal_class(&e)
            ),
            || format!("N={n} {example}: {e}"),
        );
    };
    let phase_pairs = |out: &mut Vec<Setting>,
                       ledger: &mut Ledger,
                       skip: Option<(usize, usize)>| {
        for q2 in 1..=n {
            for q1 in 1..=n {
                match QuorumSystem::flexible(n, q1, q2) {
                    Err(e) => ledger.add(
                        format!("{variant}: refused by the quorum validator: {}", refusal_class(&e)),
                        || format!("N={n} q1={q1} q2={q2}: {e}"),
                    ),
                    Ok(_) if q1 > n + 1 - q2 => ledger.add(
                        format!(
                            "{variant}: dominated: q1 above N + 1 - q2 adds no safety, survives fewer crashes \
                             and slows elections"
                        ),
                        || format!("N={n} q1={q1} q2={q2} (q1={} suffices)", n + 1 - q2),
                    ),
                    Ok(_) if skip == Some((q1, q2)) => {}
                    Ok(q) => out.push(Setting::new(q)),
                }
            }
        }
        for rows in 2..n {
            if n % rows != 0 || n / rows < 2 {
                continue;
            }
            let cols = n / rows;
            if n > MAX_GRID {
                ledger.add(
                    format!("{variant}: grids above {MAX_GRID} replicas are not searched"),
                    || format!("N={n} grid {rows}x{cols}"),
                );
                continue;
            }
            if let Ok(q) = QuorumSystem::grid(n, rows, cols) {
                out.push(Setting::new(q));
            }
        }
    };
    match kind {
        QuorumKind::MajorityOnly => out.push(Setting::new(QuorumSystem::Majority { n })),
        QuorumKind::PhaseQuorums => phase_pairs(&mut out, ledger, None),
        QuorumKind::AnyIntersecting => {
            // A majority is kept as such (its config needs no q1/q2); for odd N it is one of the pairs.
            let m = n / 2 + 1;
            if n % 2 == 1 {
                out.push(Setting::new(QuorumSystem::Majority { n }));
                phase_pairs(&mut out, ledger, Some((m, m)));
            } else {
                ledger.add(
                    format!("{variant}: dominated: a majority for even N (q1 = N/2 with q2 = N/2 + 1 is as safe)"),
                    || format!("N={n} majority {m}"),
                );
                phase_pairs(&mut out, ledger, None);
            }
        }
        QuorumKind::FastClassic => {
            for f in 1..=n {
                let mut found = false;
                for c in 1..=n {
                    match QuorumSystem::fast(n, Some(c), Some(f)) {
                        Err(e) => refused(e, format!("fast={f} classic={c}"), ledger),
                        Ok(_) if found => ledger.add(
                            format!(
                                "{variant}: dominated: a classic quorum larger than the smallest safe one for \
                                 its fast quorum"
                            ),
                            || format!("N={n} fast={f} classic={c}"),
                        ),
                        Ok(q) => {
                            found = true;
                            out.push(Setting::new(q));
                        }
                    }
                }
            }
        }
        QuorumKind::MainAuxiliary => {
            for a in 0..n {
                match QuorumSystem::cheap(n, Some((n - a..n).collect())) {
                    Err(e) => refused(e, format!("{a} auxiliaries"), ledger),
                    Ok(q) => out.push(Setting::new(q)),
                }
            }
        }
    }
    out
}

/// Every multiset of `n` regions out of the first `r`, at most `cap` each, in lexicographic order.
pub fn placements(r: usize, n: usize, cap: usize, visit: &mut impl FnMut(&[usize])) {
    fn go(
        r: usize,
        n: usize,
        cap: usize,
        from: usize,
        acc: &mut Vec<usize>,
        visit: &mut impl FnMut(&[usize]),
    ) {
        if acc.len() == n {
            visit(acc);
            return;
        }
        for region in from..r {
            let here = acc.iter().filter(|&&x| x == region).count();
            if here >= cap {
                continue;
            }
            acc.push(region);
            go(r, n, cap, region, acc, visit);
            acc.pop();
        }
    }
    go(r, n, cap, 0, &mut Vec::with_capacity(n), visit);
}

/// How many placements [`placements`] visits (counted, not enumerated, for the size of the space).
pub fn count_placements(r: usize, n: usize, cap: usize) -> u128 {
    // Ways to put n identical replicas into r regions with at most cap each: a small dynamic programme.
    let mut ways = vec![0u128; n + 1];
    ways[0] = 1;
    for _ in 0..r {
        let mut next = vec![0u128; n + 1];
        for (have, &w) in ways.iter().enumerate() {
            for k in 0..=cap.min(n - have) {
                next[have + k] += w;
            }
        }
        ways = next;
    }
    ways[n]
}

/// The next permutation in lexicographic order (duplicates give each distinct order once).
fn next_permutation(v: &mut [usize]) -> bool {
    let Some(i) = (1..v.len()).rev().find(|&i| v[i - 1] < v[i]) else {
        return false;
    };
    let j = (i..v.len()).rev().find(|&j| v[j] > v[i - 1]).unwrap_or(i);
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

/// The example text of a budget breach, made only when its class is first seen.
type Example<'a> = Box<dyn FnOnce() -> String + 'a>;

/// Why a candidate breaks the fault budget, if it does: the class, and an example of it.
fn budget_breach<'a>(spec: &'a TuneSpec, c: &'a Candidate) -> Option<(String, Example<'a>)> {
    let f = spec.crashes;
    for (phase, survived) in [(1, c.crash_p1), (2, c.crash_p2)] {
        if survived < f {
            return Some((
                format!(
                    "{}: breaks the crash budget: phase-{phase} quorums need more than N - {f} replicas",
                    c.variant
                ),
                Box::new(move || {
                    format!(
                        "N={} {}: survives {survived} crash(es) in phase {phase}",
                        c.n(),
                        c.quorum_label(),
                    )
                }),
            ));
        }
    }
    if spec.region_outage && !c.survives_outage {
        return Some((
            format!(
                "{}: breaks the region-outage budget: a region holds too many replicas for the quorums",
                c.variant
            ),
            Box::new(move || {
                let (region, phase) =
                    budget::region_outage_breaks(&c.quorums, &c.placement).unwrap_or((0, "a"));
                format!(
                    "N={} {} placed {}: losing {} leaves no {phase} quorum",
                    c.n(),
                    c.quorum_label(),
                    placement_label(spec, &c.placement),
                    spec.regions[region]
                )
            }),
        ));
    }
    None
}

/// `va x2, or, ca`.
pub fn placement_label(spec: &TuneSpec, placement: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < placement.len() {
        let r = placement[i];
        let k = placement[i..].iter().take_while(|&&x| x == r).count();
        parts.push(if k > 1 {
            format!("{} x{k}", spec.regions[r])
        } else {
            spec.regions[r].clone()
        });
        i += k;
    }
    parts.join(", ")
}

/// Calls `visit` with every candidate the validator accepts and no other setting dominates, and with the
/// reason it breaks the fault budget (`None`: within it). Refused and dominated settings, and sizes no
/// placement allows, go to `ledger`.
pub fn enumerate(
    spec: &TuneSpec,
    ledger: &mut Ledger,
    visit: &mut impl FnMut(&Candidate, Option<&str>),
) {
    let r = spec.replica_regions;
    for &n in &spec.replicas {
        if n > r * spec.max_per_region {
            ledger.add(
                format!(
                    "N = {n}: more replicas than {r} region(s) with at most {} each can hold",
                    spec.max_per_region
                ),
                || format!("N={n}"),
            );
            continue;
        }
        let per_variant: Vec<(&'static str, Vec<Setting>)> = spec
            .variants
            .iter()
            .map(|&v| {
                let kind =
                    crate::with_variant!(v, V => V::QUORUMS).unwrap_or(QuorumKind::MajorityOnly);
                (v, settings(v, kind, n, ledger))
            })
            .collect();
        let mut grids = GridCache::new();
        placements(r, n, spec.max_per_region, &mut |placement| {
            for (variant, sets) in &per_variant {
                for s in sets {
                    place(spec, variant, s, placement, &mut grids, ledger, visit);
                }
            }
        });
    }
}

/// Grid arrangements by (rows, cols, placement pattern).
type GridCache = HashMap<(usize, usize, Vec<usize>), Vec<(Vec<usize>, usize)>>;

/// The candidates of one setting on one placement: one per leader region, grid arrangement or auxiliary set.
fn place(
    spec: &TuneSpec,
    variant: &'static str,
    s: &Setting,
    placement: &[usize],
    grids: &mut GridCache,
    ledger: &mut Ledger,
    visit: &mut impl FnMut(&Candidate, Option<&str>),
) {
    let n = placement.len();
    let mut emit = |order: Vec<usize>, leader: usize, quorums: QuorumSystem| {
        let c = Candidate {
            variant,
            survives_outage: budget::region_outage_breaks(&quorums, &order).is_none(),
            placement: order,
            leader,
            quorums,
            crash_p1: s.crash_p1,
            crash_p2: s.crash_p2,
            fast_path: s.fast_path,
        };
        let breach = budget_breach(spec, &c);
        match breach {
            Some((class, example)) => {
                ledger.add(class.clone(), example);
                visit(&c, Some(&class));
            }
            None => visit(&c, None),
        };
    };
    // The first replica of each region present: replicas of one region are interchangeable as leaders.
    let leaders: Vec<usize> = (0..n)
        .filter(|&i| i == 0 || placement[i] != placement[i - 1])
        .collect();
    match &s.quorums {
        QuorumSystem::Grid { rows, cols } => {
            // Which arrangements are distinct depends only on which replicas share a region, so the search
            // over orders is done once per pattern (regions renamed 0, 1, 2, ... in order) and reused.
            let mut pattern = Vec::with_capacity(n);
            for (i, &r) in placement.iter().enumerate() {
                let next = pattern
                    .last()
                    .map_or(0, |&p| if r == placement[i - 1] { p } else { p + 1 });
                pattern.push(next);
            }
            let key = (*rows, *cols, pattern);
            if !grids.contains_key(&key) {
                let arrangements = grid_arrangements(&key.2, *rows, *cols);
                grids.insert(key.clone(), arrangements);
            }
            // The pattern's first replica of each label is the placement's first of that region.
            let first: Vec<usize> = (0..n)
                .filter(|&i| i == 0 || placement[i] != placement[i - 1])
                .map(|i| placement[i])
                .collect();
            for (order, leader) in grids.get(&key).into_iter().flatten() {
                emit(
                    order.iter().map(|&l| first[l]).collect(),
                    *leader,
                    s.quorums.clone(),
                );
            }
        }
        QuorumSystem::Cheap { n, mains } => {
            let aux = n - mains.len();
            for &leader in &leaders {
                let others: Vec<usize> = (0..*n).filter(|&i| i != leader).collect();
                let mut seen = HashSet::new();
                combinations(others.len(), aux, &mut |pick| {
                    let chosen: Vec<usize> = pick.iter().map(|&k| others[k]).collect();
                    let regions: Vec<usize> = chosen.iter().map(|&i| placement[i]).collect();
                    if !seen.insert(regions) {
                        return;
                    }
                    // The count was validated with the setting and the indices are replicas: it cannot fail.
                    if let Ok(q) = QuorumSystem::cheap(*n, Some(chosen)) {
                        emit(placement.to_vec(), leader, q);
                    }
                });
            }
        }
        q if variant == "basic" => emit(placement.to_vec(), 0, q.clone()),
        q => {
            for &leader in &leaders {
                emit(placement.to_vec(), leader, q.clone());
            }
        }
    }
}

/// The distinct arrangements of a placement pattern in a grid, each with a leader cell.
fn grid_arrangements(pattern: &[usize], rows: usize, cols: usize) -> Vec<(Vec<usize>, usize)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut order = pattern.to_vec();
    loop {
        for leader in 0..order.len() {
            if seen.insert(grid_key(&order, rows, cols, leader)) {
                out.push((order.clone(), leader));
            }
        }
        if !next_permutation(&mut order) {
            break;
        }
    }
    out
}

/// What tells two grid arrangements apart for latency and the budget: the regions of each row and column
/// (as multisets, in any order), and the leader's region, row and column.
fn grid_key(order: &[usize], rows: usize, cols: usize, leader: usize) -> Vec<Vec<usize>> {
    let row = |r: usize| {
        let mut v: Vec<usize> = (0..cols).map(|c| order[r * cols + c]).collect();
        v.sort_unstable();
        v
    };
    let col = |c: usize| {
        let mut v: Vec<usize> = (0..rows).map(|r| order[r * cols + c]).collect();
        v.sort_unstable();
        v
    };
    let mut rs: Vec<Vec<usize>> = (0..rows).map(row).collect();
    rs.sort();
    let mut cs: Vec<Vec<usize>> = (0..cols).map(col).collect();
    cs.sort();
    let mut key = vec![vec![order[leader]], row(leader / cols), col(leader % cols)];
    key.extend(rs);
    key.push(Vec::new());
    key.extend(cs);
    key
}

/// Every `k`-subset of `0..n`, as sorted indices.
fn combinations(n: usize, k: usize, visit: &mut impl FnMut(&[usize])) {
    if k > n {
        return;
    }
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        visit(&idx);
        let mut i = k;
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            if idx[i] < n - k + i {
                idx[i] += 1;
                for j in i + 1..k {
                    idx[j] = idx[j - 1] + 1;
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_are_the_capped_multisets_and_their_count_agrees() {
        for (r, n, cap) in [(3, 3, 2), (5, 5, 2), (4, 3, 3), (2, 4, 2), (6, 4, 1)] {
            let mut seen = Vec::new();
            placements(r, n, cap, &mut |p| seen.push(p.to_vec()));
            assert_eq!(
                seen.len() as u128,
                count_placements(r, n, cap),
                "{r} {n} {cap}"
            );
            for p in &seen {
                assert!(p.windows(2).all(|w| w[0] <= w[1]));
                assert!((0..r).all(|x| p.iter().filter(|&&y| y == x).count() <= cap));
            }
        }
        // 3 regions, 3 replicas, at most 2 each: 10 multisets minus the 3 with all in one region.
        assert_eq!(count_placements(3, 3, 2), 7);
    }

    #[test]
    fn flexible_keeps_the_smallest_q1_for_each_q2_and_says_why_it_drops_the_rest() {
        let mut ledger = Ledger::default();
        let s = settings("flexible", QuorumKind::PhaseQuorums, 5, &mut ledger);
        let pairs: Vec<(usize, usize)> = s
            .iter()
            .filter_map(|s| match s.quorums {
                QuorumSystem::Flexible { q1, q2, .. } => Some((q1, q2)),
                _ => None,
            })
            .collect();
        assert_eq!(pairs, vec![(5, 1), (4, 2), (3, 3), (2, 4), (1, 5)]);
        let refused: u64 = ledger
            .classes
            .iter()
            .filter(|(k, _)| k.contains("q1 + q2 <= N"))
            .map(|(_, v)| v.0)
            .sum();
        // Pairs with q1 + q2 <= 5 among 25.
        assert_eq!(refused, 10);
        assert!(ledger.classes.keys().any(|k| k.contains("dominated")));
        // 4 replicas: the 2x2 grid as well.
        let s = settings("flexible", QuorumKind::PhaseQuorums, 4, &mut ledger);
        assert!(s
            .iter()
            .any(|s| s.quorums == QuorumSystem::Grid { rows: 2, cols: 2 }));
    }

    #[test]
    fn fast_settings_are_exactly_the_validators_smallest_classic_per_fast_size() {
        let mut ledger = Ledger::default();
        let s = settings("fast", QuorumKind::FastClassic, 5, &mut ledger);
        for set in &s {
            let QuorumSystem::Fast { classic, fast, .. } = set.quorums else {
                panic!()
            };
            assert!(QuorumSystem::fast(5, Some(classic), Some(fast)).is_ok());
            assert!(QuorumSystem::fast(5, Some(classic - 1), Some(fast)).is_err() || classic == 1);
        }
        assert!(s
            .iter()
            .any(|s| s.quorums == QuorumSystem::fast(5, None, None).unwrap()));
        assert!(
            ledger.classes.keys().any(|k| k.contains("3f > 2n")),
            "{:?}",
            ledger.classes
        );
    }

    #[test]
    fn grid_arrangements_and_cheap_auxiliaries_are_enumerated_once_each() {
        let spec = super::super::spec::parse(
            r#"
[network]
[[network.link]]
between = ["a", "b"]
ms = 10.0
[tune]
regions = ["a", "b"]
replicas = [4]
max_per_region = 2
variants = ["flexible", "cheap"]
tolerate = { crashes = 0 }
"#,
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let mut grids = Vec::new();
        let mut cheap = Vec::new();
        enumerate(&spec, &mut Ledger::default(), &mut |c, _| match c.quorums {
            QuorumSystem::Grid { .. } => grids.push((c.placement.clone(), c.leader)),
            QuorumSystem::Cheap { .. } => cheap.push(c.quorum_label()),
            _ => {}
        });
        // Placement a, a, b, b in a 2x2 grid: rows {a,a},{b,b} or {a,b},{a,b}; a leader in a or b, and in the
        // second shape its row and column are both mixed: 2 + ... arrangements, each once.
        let distinct: HashSet<_> = grids.iter().collect();
        assert_eq!(distinct.len(), grids.len());
        assert!(!grids.is_empty());
        // Cheap with 4 replicas: 0 or 1 auxiliary (at most (4 - 1) / 2).
        assert!(cheap.iter().any(|l| l == "aux []"));
        assert!(cheap.iter().all(|l| l.matches(',').count() == 0));
    }
}
