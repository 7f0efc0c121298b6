//! What a run found, in a few sentences computed from its rows, for the top of the report: a reader should
//! learn the answer before meeting the full table. Each sentence carries its figure, and a sentence whose
//! data the run does not have is left out (a run of one variant has no "lowest p50 of all").

use super::figures::{n_clients, points, region_cell, Point};
use crate::results::ResultRow;
use std::collections::BTreeSet;

/// At most this many sentences: the findings are a first screen, not a second table.
pub const MAX: usize = 6;

/// How far a one-client p50 may be from the model before a finding names it.
const MODEL_DEPARTURE: f64 = 0.05;

/// The findings of `rows`, most general first; `extra` (a comparison with earlier runs) is appended when given.
pub fn findings(rows: &[ResultRow], extra: &[String]) -> Vec<String> {
    let all = points(rows);
    let Some(mode) = primary_mode(rows) else {
        return Vec::new();
    };
    let j = rows
        .iter()
        .filter(|r| r.mode == mode)
        .map(|r| r.jitter_ms)
        .fold(f64::INFINITY, f64::min);
    let here: Vec<&Point> = all
        .iter()
        .filter(|p| p.key.mode == mode && p.key.jitter_ms == j)
        .collect();
    let mut out: Vec<String> = [
        lowest_latency(&here, &mode),
        far_client(rows, &mode, j),
        throughput(&here, &mode),
        fast_collisions(&here, &mode),
        flexible_front(&here, &mode),
        model_departure(&all),
    ]
    .into_iter()
    .flatten()
    .collect();
    let room = MAX.saturating_sub(extra.len()).max(MAX / 2);
    out.truncate(room);
    out.extend(extra.iter().cloned());
    out.truncate(MAX);
    out
}

/// Simulation when the run has it (its figures are exact and repeatable), else the first mode.
fn primary_mode(rows: &[ResultRow]) -> Option<String> {
    let modes: BTreeSet<&str> = rows.iter().map(|r| r.mode.as_str()).collect();
    if modes.contains("sim") {
        return Some("sim".into());
    }
    modes.iter().next().map(|m| m.to_string())
}

pub fn fmt_ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3} ms")
    } else if v < 100.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// How much bigger `hi` is than `lo`: a percentage below 2x, a factor above.
fn how_much(lo: f64, hi: f64) -> String {
    if lo <= 0.0 {
        return "lower".into();
    }
    let r = hi / lo;
    if r < 2.0 {
        format!("{:.1}% below", (1.0 - lo / hi) * 100.0)
    } else {
        format!("{r:.1}x below")
    }
}

/// Points at one client count, sorted by a figure (those without it left out).
fn ranked<'a>(
    pts: &[&'a Point],
    clients: usize,
    f: impl Fn(&Point) -> Option<f64>,
) -> Vec<(&'a Point, f64)> {
    let mut v: Vec<(&Point, f64)> = pts
        .iter()
        .filter(|p| p.key.clients == clients)
        .filter_map(|p| f(p).map(|x| (*p, x)))
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    v
}

fn lowest_latency(pts: &[&Point], mode: &str) -> Option<String> {
    let clients = pts.iter().map(|p| p.key.clients).min()?;
    let r = ranked(pts, clients, |p| p.p50_ms);
    let (best, b) = *r.first()?;
    let (next, n) = *r.get(1)?;
    Some(format!(
        "At {} ({mode}), {} has the lowest p50, {}: {} {}, the next ({}).",
        n_clients(clients),
        best.key.variant,
        fmt_ms(b),
        how_much(b, n),
        next.key.variant,
        fmt_ms(n)
    ))
}

/// With clients in several regions: the region whose best p50 is the highest (the far client), and which
/// variant serves it best.
fn far_client(rows: &[ResultRow], mode: &str, jitter: f64) -> Option<String> {
    let here: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.mode == mode && r.jitter_ms == jitter && !r.region_p50_us.is_empty())
        .collect();
    let clients = here.iter().map(|r| r.clients).min()?;
    // (variant, region) -> p50 samples over seeds.
    let mut by: Vec<(String, String, Vec<f64>)> = Vec::new();
    for r in here.iter().filter(|r| r.clients == clients) {
        for (region, v) in region_cell(&r.region_p50_us) {
            let Some(v) = v else { continue };
            match by
                .iter_mut()
                .find(|(var, reg, _)| *var == r.variant && *reg == region)
            {
                Some((_, _, xs)) => xs.push(v),
                None => by.push((r.variant.clone(), region, vec![v])),
            }
        }
    }
    let regions: BTreeSet<&String> = by.iter().map(|(_, r, _)| r).collect();
    if regions.len() < 2 {
        return None;
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let ranked_in = |region: &str| {
        let mut v: Vec<(&str, f64)> = by
            .iter()
            .filter(|(_, r, _)| r == region)
            .map(|(var, _, xs)| (var.as_str(), mean(xs) / 1000.0))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v
    };
    let far = regions
        .iter()
        .max_by(|a, b| {
            let best = |r: &str| ranked_in(r).first().map_or(0.0, |x| x.1);
            best(a).total_cmp(&best(b))
        })?
        .to_string();
    let r = ranked_in(&far);
    let (best, b) = *r.first()?;
    let (next, n) = *r.get(1)?;
    Some(format!(
        "For the farthest client region, {far}, {best} has the lowest p50 at {} ({mode}), {}: {} {next} \
         ({}).",
        n_clients(clients),
        fmt_ms(b),
        how_much(b, n),
        fmt_ms(n)
    ))
}

fn throughput(pts: &[&Point], mode: &str) -> Option<String> {
    let clients = pts.iter().map(|p| p.key.clients).max()?;
    let r = ranked(pts, clients, |p| {
        (p.throughput > 0.0).then_some(-p.throughput)
    });
    let (best, b) = *r.first()?;
    let (next, n) = *r.get(1)?;
    let (b, n) = (-b, -n);
    let gap = if b / n < 2.0 {
        format!("{:.1}% more than", (b / n - 1.0) * 100.0)
    } else {
        format!("{:.1}x", b / n)
    };
    Some(format!(
        "At {} ({mode}), {} has the highest throughput, {} ops/s: {gap} {}, the next ({} ops/s).",
        n_clients(clients),
        best.key.variant,
        thousands(b),
        next.key.variant,
        thousands(n)
    ))
}

fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fast_collisions(pts: &[&Point], mode: &str) -> Option<String> {
    let fast: Vec<&&Point> = pts.iter().filter(|p| p.key.protocol == "fast").collect();
    let top = fast.iter().max_by_key(|p| p.key.clients)?;
    let low = fast.iter().min_by_key(|p| p.key.clients)?;
    if top.ops <= 0.0 {
        return None;
    }
    let mut s = format!(
        "At {} ({mode}), {} recorded {:.2} collisions per completed command ({} collisions counted by the \
         replicas over the run, {} commands completed)",
        n_clients(top.key.clients),
        top.key.variant,
        top.collisions / top.ops,
        thousands(top.collisions),
        thousands(top.ops)
    );
    if let (Some(a), Some(b)) = (low.p50_ms, top.p50_ms) {
        if low.key.clients < top.key.clients {
            s.push_str(&format!(
                ", and its p50 went from {} at {} to {}",
                fmt_ms(a),
                n_clients(low.key.clients),
                fmt_ms(b)
            ));
        }
    }
    s.push('.');
    Some(s)
}

/// Flexible and Multi-Paxos settings at the smallest client count on the front of one-client p50 against
/// crashes survived (N minus the larger quorum): which quorum choices are worth having.
fn flexible_front(pts: &[&Point], mode: &str) -> Option<String> {
    let clients = pts.iter().map(|p| p.key.clients).min()?;
    let family: Vec<(&Point, f64, usize)> = pts
        .iter()
        .filter(|p| p.key.clients == clients)
        .filter(|p| p.key.protocol == "flexible" || p.key.protocol == "multi")
        .filter_map(|p| {
            let tolerated = p.key.replicas.saturating_sub(p.key.q1.max(p.key.q2));
            p.p50_ms.map(|v| (*p, v, tolerated))
        })
        .collect();
    if !family.iter().any(|(p, _, _)| p.key.protocol == "flexible") || family.len() < 2 {
        return None;
    }
    let dominated = |(_, v, t): &(&Point, f64, usize)| {
        family
            .iter()
            .any(|(_, v2, t2)| v2 <= v && t2 >= t && (v2 < v || t2 > t))
    };
    let mut front: Vec<&(&Point, f64, usize)> = family.iter().filter(|x| !dominated(x)).collect();
    front.sort_by(|a, b| a.1.total_cmp(&b.1));
    let front: Vec<String> = front
        .into_iter()
        .map(|(p, v, t)| {
            format!(
                "{} q1={} q2={} ({}, survives {t} crash{})",
                p.key.variant,
                p.key.q1,
                p.key.q2,
                fmt_ms(*v),
                if *t == 1 { "" } else { "es" }
            )
        })
        .collect();
    let off = family.len() - front.len();
    Some(format!(
        "On the front of p50 at {} ({mode}) against crashes survived: {}{}.",
        n_clients(clients),
        front.join("; "),
        if off > 0 {
            format!("; {off} other quorum setting{} dominated", plural(off))
        } else {
            String::new()
        }
    ))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        " is"
    } else {
        "s are"
    }
}

/// The model is one client with no contention, so it is compared at one client only, in every mode.
fn model_departure(all: &[Point]) -> Option<String> {
    let mut rows: Vec<(&Point, f64)> = all
        .iter()
        .filter(|p| p.key.clients == 1)
        .filter_map(|p| {
            let measured = p.write_p50_ms.or(p.p50_ms)?;
            let model = p.model_ms.filter(|m| *m > 0.0)?;
            Some((p, measured / model - 1.0))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let off: Vec<&(&Point, f64)> = rows
        .iter()
        .filter(|(_, e)| e.abs() > MODEL_DEPARTURE)
        .collect();
    let name = |p: &Point| format!("{} {}", p.key.mode, p.key.variant);
    if off.is_empty() {
        let (p, e) = rows[0];
        return Some(format!(
            "Every one-client p50 is within {:.1}% of the analytic model ({} rows; the largest gap is {}, {:+.1}%).",
            e.abs() * 100.0,
            rows.len(),
            name(p),
            e * 100.0
        ));
    }
    let worst: Vec<String> = off
        .iter()
        .take(3)
        .map(|(p, e)| {
            format!(
                "{} {:+.1}% ({} against {})",
                name(p),
                e * 100.0,
                fmt_ms(p.write_p50_ms.or(p.p50_ms).unwrap_or(0.0)),
                fmt_ms(p.model_ms.unwrap_or(0.0))
            )
        })
        .collect();
    Some(format!(
        "The measured p50 departs from the model by more than {:.0}% in {} of {} one-client rows, most in {}.",
        MODEL_DEPARTURE * 100.0,
        off.len(),
        rows.len(),
        worst.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(variant: &str, protocol: &str, clients: usize, p50_us: f64, ops_s: f64) -> ResultRow {
        let mut r = crate::results::tests::sample_row();
        r.variant = variant.into();
        r.protocol = protocol.into();
        r.mode = "sim".into();
        r.clients = clients;
        r.p50_us = Some(p50_us);
        r.write_p50_us = Some(p50_us);
        r.throughput_ops_s = ops_s;
        r.expected_p50_us = Some(p50_us);
        r.region_p50_us = String::new();
        r.collisions = 0;
        r
    }

    #[test]
    fn findings_name_the_winner_and_the_margin_from_the_rows() {
        let mut rows = vec![
            row("multi", "multi", 1, 62_000.0, 16.0),
            row("flexible", "flexible", 1, 1_330.0, 700.0),
            row("multi", "multi", 64, 63_000.0, 980.0),
            row("flexible", "flexible", 64, 2_250.0, 27_700.0),
            row("fast", "fast", 1, 76_000.0, 13.0),
            row("fast", "fast", 64, 126_000.0, 330.0),
        ];
        rows[5].collisions = 300;
        rows[5].ops = 3000;
        rows[1].q1 = 4;
        rows[1].q2 = 2;
        rows[0].q1 = 3;
        rows[0].q2 = 3;
        for r in &mut rows {
            r.replicas = 5;
        }
        // One row off its model by 10%.
        rows[4].expected_p50_us = Some(69_090.9);
        let f = findings(&rows, &[]);
        assert!((3..=MAX).contains(&f.len()), "{f:#?}");
        assert_eq!(
            f[0],
            "At 1 client (sim), flexible has the lowest p50, 1.33 ms: 46.6x below multi, the next (62.00 ms)."
        );
        assert!(
            f.iter()
                .any(|s| s
                    .contains("flexible has the highest throughput, 27,700 ops/s: 28.3x multi")),
            "{f:#?}"
        );
        assert!(
            f.iter().any(|s| s
                .contains("fast recorded 0.10 collisions per completed command (300 collisions")),
            "{f:#?}"
        );
        assert!(f.iter().any(|s| s.contains("flexible q1=4 q2=2 (1.33 ms, survives 1 crash); multi q1=3 q2=3 (62.00 ms, survives 2 crashes)")), "{f:#?}");
        assert!(f.iter().any(|s| s.contains("departs from the model by more than 5% in 1 of 3 one-client rows, most in sim fast +10.0%")), "{f:#?}");
    }

    #[test]
    fn a_run_with_one_variant_gets_no_ranking_and_extra_findings_come_last() {
        let rows = vec![row("multi", "multi", 1, 800.0, 1000.0)];
        let f = findings(&rows, &["Against the history: nothing moved.".into()]);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].starts_with("Every one-client p50 is within 0.0% of the analytic model"));
        assert_eq!(f[1], "Against the history: nothing moved.");
    }
}
