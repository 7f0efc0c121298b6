//! A config's figures commit by commit: p50, p99 and throughput, one line per variant through the mean at each
//! commit, over a shaded band from the lowest to the highest value that commit's runs gave (repeated runs and
//! seeds), so a drift shows as a slope and noise as the band's width.

use super::StoredRun;
use crate::report::figures::{Figure, Legend};
use crate::report::plots::{Band, Series, XTicks, XyChart};
use crate::results::ResultRow;

/// Which rows a trend follows: one mode and one client count (by default the run's first mode, simulation
/// first, and its smallest client count).
#[derive(Debug, Clone, Default)]
pub struct Pick {
    pub mode: Option<String>,
    pub clients: Option<usize>,
}

/// One commit's place on the x axis.
struct Commit {
    name: String,
    runs: Vec<usize>,
}

/// Commits in the order they were first recorded; a dirty tree is its own point (`abc123+dirty`).
fn commits(runs: &[StoredRun]) -> Vec<Commit> {
    let mut out: Vec<Commit> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let short: String = r.manifest.commit.chars().take(8).collect();
        let name = if r.manifest.dirty {
            format!("{short}+dirty")
        } else {
            short
        };
        match out.iter_mut().find(|c| c.name == name) {
            Some(c) => c.runs.push(i),
            None => out.push(Commit {
                name,
                runs: vec![i],
            }),
        }
    }
    out
}

/// The mode and client count a trend shows.
pub fn resolve(runs: &[StoredRun], pick: &Pick) -> Option<(String, usize)> {
    let rows = || runs.iter().flat_map(|r| r.rows.iter());
    let mode = match &pick.mode {
        Some(m) => m.clone(),
        None => {
            let mut modes: Vec<&str> = rows().map(|r| r.mode.as_str()).collect();
            modes.sort_by_key(|m| (*m != "sim", m.to_string()));
            modes.first()?.to_string()
        }
    };
    let clients = match pick.clients {
        Some(c) => c,
        None => rows().filter(|r| r.mode == mode).map(|r| r.clients).min()?,
    };
    Some((mode, clients))
}

/// The trend figures of `runs` (one config's, oldest first): empty when they hold no row of the pick.
pub fn figures(runs: &[StoredRun], experiment: &str, pick: &Pick) -> Vec<Figure> {
    let Some((mode, clients)) = resolve(runs, pick) else {
        return Vec::new();
    };
    let commits = commits(runs);
    let all_rows: Vec<ResultRow> = runs
        .iter()
        .flat_map(|r| r.rows.iter().cloned())
        .filter(|r| r.mode == mode && r.clients == clients)
        .collect();
    if all_rows.is_empty() {
        return Vec::new();
    }
    let legend = Legend::new(&all_rows);
    let names: Vec<String> = commits.iter().map(|c| c.name.clone()).collect();
    let clients_s = crate::report::figures::n_clients(clients);
    let n_runs = runs.len();
    type Metric = (
        &'static str,
        &'static str,
        &'static str,
        fn(&ResultRow) -> Option<f64>,
    );
    let metrics: [Metric; 3] = [
        ("p50", "p50 latency (ms)", "trend-p50", |r| {
            r.p50_us.map(|v| v / 1000.0)
        }),
        ("p99", "p99 latency (ms)", "trend-p99", |r| {
            r.p99_us.map(|v| v / 1000.0)
        }),
        ("throughput", "throughput (ops/s)", "trend-ops", |r| {
            Some(r.throughput_ops_s)
        }),
    ];
    let mut out = Vec::new();
    for (what, y_desc, stem, f) in metrics {
        let mut series = Vec::new();
        let mut bands = Vec::new();
        for label in legend.labels() {
            let mut line = Vec::new();
            let mut band = Vec::new();
            for (x, c) in commits.iter().enumerate() {
                let vals: Vec<f64> = c
                    .runs
                    .iter()
                    .flat_map(|&i| runs[i].rows.iter())
                    .filter(|r| r.variant == label && r.mode == mode && r.clients == clients)
                    .filter_map(f)
                    .collect();
                if vals.is_empty() {
                    continue;
                }
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                line.push((x as f64, mean));
                band.push((x as f64, lo, hi));
            }
            if line.is_empty() {
                continue;
            }
            bands.push(Band {
                colour: legend.colour(label),
                points: band,
            });
            series.push(Series {
                label: label.to_string(),
                colour: legend.colour(label),
                points: line,
                dashed: false,
                markers: true,
                in_legend: true,
            });
        }
        if series.is_empty() {
            continue;
        }
        out.push(Figure {
            stem: stem.to_string(),
            title: format!("{experiment}: {what} by commit, {mode}, {clients_s}"),
            caption: format!(
                "The {what} of each variant at each commit the history holds for this config ({} commits, {n_runs} \
                 recorded runs; oldest on the left, as recorded; +dirty: uncommitted changes). The line joins \
                 the means; the band spans the lowest to the highest value of that commit's runs and seeds.",
                names.len()
            ),
            chart: Box::new(XyChart {
                title: format!("{experiment}: {what} by commit ({mode}, {clients_s})"),
                x_desc: "commit".into(),
                y_desc: y_desc.into(),
                log_x: false,
                log_y: false,
                x_ticks: XTicks::Names(names.clone()),
                bands,
                series,
                marks: Vec::new(),
                style_note: None,
                legend_lower_right: false,
            }),
        });
    }
    out
}

/// A finding for the report: how this run's p50 moved against the previous run of the same config in the
/// history, at its largest move (or that nothing moved beyond `noise`).
pub fn against_previous(prev: &StoredRun, cur: &StoredRun, noise: f64) -> Option<String> {
    let mean = |rows: &[ResultRow], key: &ResultRow| {
        let xs: Vec<f64> = rows
            .iter()
            .filter(|r| {
                r.variant == key.variant
                    && r.mode == key.mode
                    && r.clients == key.clients
                    && r.jitter_ms == key.jitter_ms
                    && r.storage == key.storage
            })
            .filter_map(|r| r.p50_us)
            .collect();
        (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
    };
    let mut worst: Option<(f64, &ResultRow, f64, f64)> = None;
    let mut compared = 0;
    for r in &cur.rows {
        let (Some(now), Some(before)) = (mean(&cur.rows, r), mean(&prev.rows, r)) else {
            continue;
        };
        if before <= 0.0 {
            continue;
        }
        compared += 1;
        let change = now / before - 1.0;
        if worst.is_none_or(|w| change.abs() > w.0.abs()) {
            worst = Some((change, r, before, now));
        }
    }
    let (change, r, before, now) = worst?;
    let commit: String = prev.manifest.commit.chars().take(8).collect();
    if change.abs() <= noise {
        return Some(format!(
            "Against the previous run of this config in the history (commit {commit}), no p50 moved by more than \
             {:.1}% ({compared} rows compared).",
            noise * 100.0
        ));
    }
    Some(format!(
        "Against the previous run of this config in the history (commit {commit}), the largest move is {} \
         {} at {} clients: p50 {:+.1}% ({:.3} ms, was {:.3} ms).",
        r.mode,
        r.variant,
        r.clients,
        change * 100.0,
        now / 1000.0,
        before / 1000.0
    ))
}
