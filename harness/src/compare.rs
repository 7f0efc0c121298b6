//! `paxos-bench compare BASELINE CURRENT`: the regression check CI runs against the committed baseline.
//!
//! Simulation rows are deterministic: for the same seed, every latency percentile, operation count, message
//! and byte count and protocol counter must be identical, so any difference is reported and fails the check
//! (improvements included: a protocol whose behaviour changed needs a deliberate baseline update). Measured
//! rows (QUIC, kernel path) are grouped over their seeds (the repetitions) and go through the statistical gate
//! (`gate.rs`): a group regresses only when a Mann-Whitney U test finds its runs worse than the baseline's and
//! the ratio of medians is beyond the tolerance.

use crate::gate::{self, Better, GateVerdict};
use crate::report::data::{read_csv, read_results, MessageRow, ResultRow};
use crate::report::ReportError;
use std::collections::BTreeMap;
use std::path::Path;

/// What happened to one figure of one row (or group of rows).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Same,
    /// A simulation figure differs at all.
    Changed,
    /// A QUIC figure moved the wrong way beyond the tolerance and the spread.
    Regressed,
    Improved,
    /// In the baseline, not in the current results.
    Missing,
    /// In the current results only.
    New,
    /// Measured rows with too few runs on a side for the statistical gate to decide.
    Inconclusive,
}

impl Verdict {
    pub fn fails(&self) -> bool {
        matches!(
            self,
            Verdict::Changed | Verdict::Regressed | Verdict::Missing
        )
    }
}

#[derive(Debug, Clone)]
pub struct Line {
    /// experiment / variant / mode / clients / jitter / seed (sim) or "N seeds" (QUIC)
    pub what: String,
    pub metric: String,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    pub verdict: Verdict,
    /// The gate's ratio of medians, its interval and p-value (measured rows), or nothing.
    pub detail: String,
}

pub struct Comparison {
    pub lines: Vec<Line>,
    pub rows_compared: usize,
}

impl Comparison {
    pub fn failed(&self) -> bool {
        self.lines.iter().any(|l| l.verdict.fails())
    }
}

/// Identifies a row across runs: everything but the figures (and, for QUIC, the seed).
fn key(r: &ResultRow, with_seed: bool) -> String {
    let seed = if with_seed {
        format!(" seed {}", r.seed)
    } else {
        String::new()
    };
    format!(
        "{} / {} / {} / N={} q1={} q2={} / {} clients / jitter {} ms{seed}",
        r.experiment, r.variant, r.mode, r.replicas, r.q1, r.q2, r.clients, r.jitter_ms
    )
}

/// The figures a deterministic row must reproduce exactly.
fn sim_figures(r: &ResultRow) -> Vec<(&'static str, Option<f64>)> {
    vec![
        ("ops", Some(r.ops as f64)),
        ("p50_us", r.p50_us),
        ("p90_us", r.p90_us),
        ("p99_us", r.p99_us),
        ("p999_us", r.p999_us),
        ("max_us", r.max_us),
        ("msgs_per_op", r.msgs_per_op),
        ("bytes_per_op", r.bytes_per_op),
        ("expected_p50_us", r.expected_p50_us),
        ("commit_p50_us", r.commit_p50_us),
        ("commit_p99_us", r.commit_p99_us),
        ("expected_commit_p50_us", r.expected_commit_p50_us),
        ("collisions", Some(r.collisions as f64)),
        ("recoveries", Some(r.recoveries as f64)),
        ("reconfigurations", Some(r.reconfigurations as f64)),
        ("max_stall_ms", Some(r.max_stall_ms)),
    ]
}

/// Compares two results directories. `tolerance` is a fraction (0.05 for 5%).
pub fn compare(baseline: &Path, current: &Path, tolerance: f64) -> Result<Comparison, ReportError> {
    let base = read_results(baseline)?;
    let cur = read_results(current)?;
    if base.is_empty() {
        return Err(ReportError::Malformed {
            path: baseline.join("results.csv"),
            detail: "the baseline has no rows: nothing to compare against".into(),
        });
    }
    for (dir, rows) in [(baseline, &base), (current, &cur)] {
        let mut seen = std::collections::BTreeSet::new();
        for r in rows {
            if !seen.insert(key(r, true)) {
                return Err(ReportError::Malformed {
                    path: dir.join("results.csv"),
                    detail: format!("row `{}` appears twice", key(r, true)),
                });
            }
        }
    }
    let mut lines = Vec::new();
    let mut rows_compared = 0;

    // Simulation: row by row, seed included.
    let sim = |rows: &[ResultRow]| -> BTreeMap<String, ResultRow> {
        rows.iter()
            .filter(|r| r.mode == "sim")
            .map(|r| (key(r, true), r.clone()))
            .collect()
    };
    let (bs, cs) = (sim(&base), sim(&cur));
    for (k, b) in &bs {
        let Some(c) = cs.get(k) else {
            lines.push(missing_or_new(k, Verdict::Missing));
            continue;
        };
        rows_compared += 1;
        for ((metric, bv), (_, cv)) in sim_figures(b).into_iter().zip(sim_figures(c)) {
            let verdict = if bv == cv {
                Verdict::Same
            } else {
                Verdict::Changed
            };
            lines.push(Line {
                what: k.clone(),
                metric: metric.into(),
                baseline: bv,
                current: cv,
                verdict,
                detail: String::new(),
            });
        }
    }
    for k in cs.keys().filter(|k| !bs.contains_key(*k)) {
        lines.push(missing_or_new(k, Verdict::New));
    }
    lines.extend(compare_message_kinds(baseline, current)?);

    // QUIC: groups over seeds, with the tolerance and the baseline's spread.
    let quic = |rows: &[ResultRow]| -> BTreeMap<String, Vec<ResultRow>> {
        let mut m: BTreeMap<String, Vec<ResultRow>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.mode != "sim") {
            m.entry(key(r, false)).or_default().push(r.clone());
        }
        m
    };
    let (bq, cq) = (quic(&base), quic(&cur));
    for (k, b) in &bq {
        let Some(c) = cq.get(k) else {
            lines.push(missing_or_new(k, Verdict::Missing));
            continue;
        };
        rows_compared += c.len();
        let what = format!("{k} ({} vs {} runs)", b.len(), c.len());
        type Get = fn(&ResultRow) -> Option<f64>;
        let figures: [(&str, Get, Better); 3] = [
            ("p50_us", |r| r.p50_us, Better::Lower),
            ("p99_us", |r| r.p99_us, Better::Lower),
            (
                "throughput_ops_s",
                |r| Some(r.throughput_ops_s),
                Better::Higher,
            ),
        ];
        for (metric, get, better) in figures {
            let bv: Vec<f64> = b.iter().filter_map(get).collect();
            let cv: Vec<f64> = c.iter().filter_map(get).collect();
            let (bm, cm) = (
                (!bv.is_empty()).then(|| gate::median(&bv)),
                (!cv.is_empty()).then(|| gate::median(&cv)),
            );
            let (verdict, detail) = match (bm, cm) {
                (Some(_), Some(_)) => {
                    let d = gate::decide(&bv, &cv, better, tolerance);
                    let verdict = match d.verdict {
                        GateVerdict::Same => Verdict::Same,
                        GateVerdict::Regressed => Verdict::Regressed,
                        GateVerdict::Improved => Verdict::Improved,
                        GateVerdict::TooFewRuns => Verdict::Inconclusive,
                    };
                    let detail = if d.verdict == GateVerdict::TooFewRuns {
                        format!(
                            "{}; too few runs to decide (the gate needs {} a side)",
                            d.detail(),
                            gate::MIN_RUNS
                        )
                    } else {
                        d.detail()
                    };
                    (verdict, detail)
                }
                (None, None) => (Verdict::Same, String::new()),
                // A figure that could not be computed (no operation completed) where there was one.
                (Some(_), None) => (Verdict::Regressed, "no value now".into()),
                (None, Some(_)) => (Verdict::Improved, "no value before".into()),
            };
            lines.push(Line {
                what: what.clone(),
                metric: metric.into(),
                baseline: bm,
                current: cm,
                verdict,
                detail,
            });
        }
    }
    for k in cq.keys().filter(|k| !bq.contains_key(*k)) {
        lines.push(missing_or_new(k, Verdict::New));
    }
    Ok(Comparison {
        lines,
        rows_compared,
    })
}

/// Per message type and row: (messages, bytes).
type KindCounts = BTreeMap<String, (u64, u64)>;

/// Simulation message counts by type, so a change says which message moved (`messages.csv`; a directory
/// without the file is compared on results.csv alone).
fn compare_message_kinds(baseline: &Path, current: &Path) -> Result<Vec<Line>, ReportError> {
    let load = |dir: &Path| -> Result<Option<KindCounts>, ReportError> {
        let path = dir.join("messages.csv");
        if !path.is_file() {
            return Ok(None);
        }
        let rows: Vec<MessageRow> = read_csv(&path)?;
        Ok(Some(
            rows.into_iter()
                .filter(|m| m.mode == "sim")
                .map(|m| {
                    let k = format!(
                        "{} / {} / sim / {} clients / jitter {} ms seed {} / {}",
                        m.experiment, m.variant, m.clients, m.jitter_ms, m.seed, m.kind
                    );
                    (k, (m.count, m.bytes))
                })
                .collect(),
        ))
    };
    let (b, c) = match (load(baseline)?, load(current)?) {
        (Some(b), Some(c)) => (b, c),
        (None, _) => return Ok(Vec::new()),
        (Some(_), None) => {
            return Ok(vec![Line {
                what: format!("{}", current.join("messages.csv").display()),
                metric: "messages.csv".into(),
                baseline: None,
                current: None,
                verdict: Verdict::Missing,
                detail: String::new(),
            }])
        }
    };
    let mut lines = Vec::new();
    for k in b.keys().chain(c.keys().filter(|k| !b.contains_key(*k))) {
        let (bv, cv) = (b.get(k).copied(), c.get(k).copied());
        let (what, kind) = k.rsplit_once(" / ").unwrap_or((k.as_str(), ""));
        for (unit, pick) in [("msgs", 0), ("bytes", 1)] {
            let get = |v: Option<(u64, u64)>| v.map(|(n, b)| if pick == 0 { n } else { b } as f64);
            if get(bv) != get(cv) {
                lines.push(Line {
                    what: what.to_string(),
                    metric: format!("{kind} {unit}"),
                    baseline: get(bv),
                    current: get(cv),
                    verdict: Verdict::Changed,
                    detail: String::new(),
                });
            }
        }
    }
    Ok(lines)
}

fn missing_or_new(k: &str, v: Verdict) -> Line {
    Line {
        what: k.to_string(),
        metric: "row".into(),
        baseline: None,
        current: None,
        verdict: v,
        detail: String::new(),
    }
}

/// "5%", "5", "0.5%" as a fraction.
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    let t = s.trim();
    // With or without the sign, the number is in percent.
    let num = t.strip_suffix('%').map_or(t, str::trim);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("tolerance `{s}` is not a number of percent (for example 5%)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("tolerance `{s}` must be zero or more percent"));
    }
    Ok(v / 100.0)
}

/// How far a figure moved, in percent of the baseline.
fn change(l: &Line) -> String {
    match (l.baseline, l.current) {
        (Some(b), Some(c)) if b != 0.0 => format!("{:+.2}%", (c - b) / b * 100.0),
        _ => "-".into(),
    }
}

/// What both renderings list: every difference, and every measured figure (its gate result says how close
/// it came); with the counts of differences and failures.
struct Listed<'a> {
    shown: Vec<&'a Line>,
    differences: usize,
    failing: usize,
}

fn listed(c: &Comparison) -> Listed<'_> {
    Listed {
        shown: c
            .lines
            .iter()
            .filter(|l| l.verdict != Verdict::Same || !l.detail.is_empty())
            .collect(),
        differences: c
            .lines
            .iter()
            .filter(|l| l.verdict != Verdict::Same)
            .count(),
        failing: c.lines.iter().filter(|l| l.verdict.fails()).count(),
    }
}

/// A figure in the tables, or "-" when there is none.
fn figure(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.3}"))
}

/// The table `compare` prints: the lines [`listed`] picks, then the counts.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let Listed {
        shown,
        differences,
        failing,
    } = listed(c);
    if !shown.is_empty() {
        out.push_str(&format!(
            "{:<10} {:<18} {:>14} {:>14} {:>9}  {}\n",
            "verdict", "figure", "baseline", "current", "change", "row"
        ));
    }
    for l in &shown {
        let change = change(l);
        out.push_str(&format!(
            "{:<10} {:<18} {:>14} {:>14} {:>9}  {}{}\n",
            format!("{:?}", l.verdict).to_lowercase(),
            l.metric,
            figure(l.baseline),
            figure(l.current),
            change,
            l.what,
            if l.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", l.detail)
            }
        ));
    }
    out.push_str(&format!(
        "{} rows compared, {} figures checked, {} differences, {} failing\n",
        c.rows_compared,
        c.lines.len(),
        differences,
        failing
    ));
    out
}

/// The comparison as a markdown table for a pull-request comment: a verdict line, then the lines [`listed`]
/// picks (at most 50; a last line says how many more).
pub fn render_markdown(c: &Comparison) -> String {
    const SHOWN: usize = 50;
    let Listed {
        shown,
        differences,
        failing,
    } = listed(c);
    let mut out = format!(
        "### paxos-bench regression check: {}\n\n{} rows compared, {} figures checked, {} differences, {} \
         failing.\n\n",
        if failing > 0 { "regression" } else { "no regression" },
        c.rows_compared,
        c.lines.len(),
        differences,
        failing
    );
    if shown.is_empty() {
        return out;
    }
    out.push_str(
        "| verdict | figure | baseline | current | change | row | gate |\n|---|---|---:|---:|---:|---|---|\n",
    );
    for l in shown.iter().take(SHOWN) {
        let change = change(l);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            format!("{:?}", l.verdict).to_lowercase(),
            l.metric,
            figure(l.baseline),
            figure(l.current),
            change,
            l.what.replace('|', "/"),
            l.detail
        ));
    }
    if shown.len() > SHOWN {
        out.push_str(&format!(
            "\n{} more lines not shown.\n",
            shown.len() - SHOWN
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_table_has_a_verdict_and_one_row_per_difference() {
        let line = |verdict: Verdict| Line {
            what: "quick / multi | sim".into(),
            metric: "p50_us".into(),
            baseline: Some(100.0),
            current: Some(110.0),
            verdict,
            detail: String::new(),
        };
        let c = Comparison {
            lines: vec![line(Verdict::Same), line(Verdict::Changed)],
            rows_compared: 2,
        };
        let md = render_markdown(&c);
        assert!(
            md.starts_with("### paxos-bench regression check: regression\n"),
            "{md}"
        );
        assert!(
            md.contains("| changed | p50_us | 100.000 | 110.000 | +10.00% | quick / multi / sim |"),
            "{md}"
        );
        assert_eq!(md.matches("| changed |").count(), 1);
        let ok = Comparison {
            lines: vec![line(Verdict::Same)],
            rows_compared: 1,
        };
        assert!(render_markdown(&ok).contains("no regression"));
    }

    #[test]
    fn tolerances_parse_as_percent() {
        assert_eq!(parse_tolerance("5%"), Ok(0.05));
        assert_eq!(parse_tolerance("2.5"), Ok(0.025));
        assert!(parse_tolerance("-1%").is_err());
        assert!(parse_tolerance("lots").is_err());
    }
}
