//! Which figures a results directory gets, and their data: latency CDFs, throughput against latency, latency
//! by variant and network profile, the model beside the measurement, the quorum sweep, the failover timeline,
//! and messages and bytes per operation by type. A figure whose data the run does not have (no fault, one
//! client count, no quorum sweep) is left out rather than drawn empty.

use super::data::{ResultRow, RunData};
use super::palette;

use super::plots::{BarValue, Bars, Chart, Panels, Series, Stacked, XTicks, XyChart};
use crate::config::FaultAction;
use plotters::style::RGBColor;
use std::collections::{BTreeMap, BTreeSet};

pub struct Figure {
    /// File stem under `plots/`.
    pub stem: String,
    pub title: String,
    /// One or two sentences under the figure: what it shows and how to read it.
    pub caption: String,
    pub chart: Box<dyn Chart>,
}

/// A variant label's colour, fixed for the whole report.
pub struct Legend {
    labels: Vec<(String, RGBColor)>,
}

impl Legend {
    pub fn new(rows: &[ResultRow]) -> Legend {
        let mut order: Vec<(String, String)> = Vec::new();
        for r in rows {
            if !order.iter().any(|(l, _)| *l == r.variant) {
                order.push((r.variant.clone(), r.protocol.clone()));
            }
        }
        // A protocol's own colour when it has one label here; otherwise the next of the extra palette that no
        // such label has taken (Raft's and EPaxos's colours are in it).
        let unique = |protocol: &str| order.iter().filter(|(_, p)| p == protocol).count() == 1;
        let taken: Vec<RGBColor> = order
            .iter()
            .filter(|(_, p)| unique(p))
            .filter_map(|(_, p)| palette::protocol_colour(p))
            .collect();
        let mut extra = 0;
        let mut next_extra = || {
            let mut c = palette::extra_colour(extra);
            extra += 1;
            for _ in 0..palette::EXTRA_COLOURS {
                if !taken.contains(&c) {
                    break;
                }
                c = palette::extra_colour(extra);
                extra += 1;
            }
            c
        };
        let labels = order
            .iter()
            .map(|(label, protocol)| {
                let c = match palette::protocol_colour(protocol) {
                    Some(c) if unique(protocol) => c,
                    _ => next_extra(),
                };
                (label.clone(), c)
            })
            .collect();
        Legend { labels }
    }

    pub fn colour(&self, label: &str) -> RGBColor {
        self.labels
            .iter()
            .find(|(l, _)| l == label)
            .map_or(RGBColor(0, 0, 0), |(_, c)| *c)
    }

    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|(l, _)| l.as_str())
    }
}

/// Seeds averaged: one point per (mode, label, clients, jitter, quorum sizes). `key` is the group's first row as
/// `results.csv` has it: its identity columns (mode, variant, protocol, replicas, q1, q2, clients, jitter) are the
/// point's; its figures are one seed's and are not read here: the means below are.
#[derive(Debug, Clone)]
pub struct Point {
    pub key: ResultRow,
    pub seeds: usize,
    /// Completed operations in the window, mean over seeds.
    pub ops: f64,
    pub throughput: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub model_ms: Option<f64>,
    pub commit_p50_ms: Option<f64>,
    pub msgs_per_op: Option<f64>,
    pub bytes_per_op: Option<f64>,
    pub collisions: f64,
    pub recoveries: f64,
    pub reconfigurations: f64,
    pub max_stall_ms: f64,
    /// With a write-ahead log: `fdatasync` calls per committed operation, over all replicas.
    pub syncs_per_op: Option<f64>,
    /// Reads and writes apart (see `ResultRow`): p50s, the read model, read throughput, lease waits.
    pub read_p50_ms: Option<f64>,
    pub read_p99_ms: Option<f64>,
    pub read_model_ms: Option<f64>,
    pub write_p50_ms: Option<f64>,
    pub read_ops_s: f64,
    pub lease_waits: f64,
    pub lease_wait_ms: f64,
}

fn mean(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let xs: Vec<f64> = v.flatten().collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Averages over seeds, in the results' own order.
pub fn points(rows: &[ResultRow]) -> Vec<Point> {
    let mut groups: Vec<(Point, Vec<&ResultRow>)> = Vec::new();
    for r in rows {
        let same = |p: &Point| {
            let k = &p.key;
            k.mode == r.mode
                && k.variant == r.variant
                && k.clients == r.clients
                && k.jitter_ms == r.jitter_ms
                && (k.q1, k.q2, k.replicas) == (r.q1, r.q2, r.replicas)
        };
        match groups.iter_mut().find(|(p, _)| same(p)) {
            Some((_, g)) => g.push(r),
            None => groups.push((
                Point {
                    key: r.clone(),
                    seeds: 0,
                    ops: 0.0,
                    throughput: 0.0,
                    p50_ms: None,
                    p99_ms: None,
                    model_ms: None,
                    commit_p50_ms: None,
                    msgs_per_op: None,
                    bytes_per_op: None,
                    collisions: 0.0,
                    recoveries: 0.0,
                    reconfigurations: 0.0,
                    max_stall_ms: 0.0,
                    syncs_per_op: None,
                    read_p50_ms: None,
                    read_p99_ms: None,
                    read_model_ms: None,
                    write_p50_ms: None,
                    read_ops_s: 0.0,
                    lease_waits: 0.0,
                    lease_wait_ms: 0.0,
                },
                vec![r],
            )),
        }
    }
    groups
        .into_iter()
        .map(|(mut p, g)| {
            let ms = |f: fn(&ResultRow) -> Option<f64>| {
                mean(g.iter().map(|r| f(r))).map(|us| us / 1000.0)
            };
            let n = g.len() as f64;
            p.seeds = g.len();
            p.throughput = g.iter().map(|r| r.throughput_ops_s).sum::<f64>() / n;
            p.ops = g.iter().map(|r| r.ops as f64).sum::<f64>() / n;
            p.p50_ms = ms(|r| r.p50_us);
            p.p99_ms = ms(|r| r.p99_us);
            p.model_ms = ms(|r| r.expected_p50_us);
            p.commit_p50_ms = ms(|r| r.commit_p50_us);
            p.msgs_per_op = mean(g.iter().map(|r| r.msgs_per_op));
            p.bytes_per_op = mean(g.iter().map(|r| r.bytes_per_op));
            p.syncs_per_op = mean(g.iter().map(|r| r.syncs_per_op));
            p.collisions = g.iter().map(|r| r.collisions as f64).sum::<f64>() / n;
            p.recoveries = g.iter().map(|r| r.recoveries as f64).sum::<f64>() / n;
            p.reconfigurations = g.iter().map(|r| r.reconfigurations as f64).sum::<f64>() / n;
            p.max_stall_ms = g.iter().map(|r| r.max_stall_ms).sum::<f64>() / n;
            p.read_p50_ms = ms(|r| r.read_p50_us);
            p.read_p99_ms = ms(|r| r.read_p99_us);
            p.read_model_ms = ms(|r| r.expected_read_p50_us);
            p.write_p50_ms = ms(|r| r.write_p50_us);
            p.read_ops_s = g.iter().map(|r| r.read_ops_s).sum::<f64>() / n;
            p.lease_waits = g.iter().map(|r| r.lease_waits as f64).sum::<f64>() / n;
            p.lease_wait_ms = g.iter().map(|r| r.lease_wait_ms).sum::<f64>() / n;
            p
        })
        .collect()
}

pub(crate) fn n_clients(c: usize) -> String {
    if c == 1 {
        "1 client".into()
    } else {
        format!("{c} clients")
    }
}

fn distinct<T: Ord + Clone>(it: impl Iterator<Item = T>) -> Vec<T> {
    it.collect::<BTreeSet<T>>().into_iter().collect()
}

/// Modes in a fixed order: simulation first.
fn modes(rows: &[ResultRow]) -> Vec<String> {
    let mut m = distinct(rows.iter().map(|r| r.mode.clone()));
    m.sort_by_key(|x| (x != "sim", x.clone()));
    m
}

/// The jitter a figure uses when the run swept several: the smallest (the network as configured).
fn base_jitter(rows: &[ResultRow], mode: &str) -> f64 {
    rows.iter()
        .filter(|r| r.mode == mode)
        .map(|r| r.jitter_ms)
        .fold(f64::INFINITY, f64::min)
}

fn jitter_note(rows: &[ResultRow], mode: &str) -> String {
    let js = distinct(
        rows.iter()
            .filter(|r| r.mode == mode)
            .map(|r| (r.jitter_ms * 1000.0).round() as u64),
    );
    if js.len() > 1 {
        format!(", jitter {} ms", base_jitter(rows, mode))
    } else {
        String::new()
    }
}

/// Most variants one figure shows (beyond that, colours repeat and the legend leaves the picture); the
/// summary table has them all.
const MAX_SERIES: usize = 10;

/// The caption's note when a figure shows only the first [`MAX_SERIES`] variants.
fn cut_note(legend: &Legend) -> String {
    let n = legend.labels().count();
    if n > MAX_SERIES {
        format!(" It shows the first {MAX_SERIES} of the run's {n} variants; the summary table has all.")
    } else {
        String::new()
    }
}

pub fn all(data: &RunData) -> Vec<Figure> {
    let rows = &data.results;
    let legend = Legend::new(rows);
    let pts = points(rows);
    let mut out = Vec::new();
    for mode in modes(rows) {
        cdfs(data, &legend, &mode, &mut out);
        if let Some(f) = throughput_latency(&pts, rows, &legend, &mode) {
            out.push(f);
        }
    }
    if let Some(f) = latency_by_profile(&pts, &legend) {
        out.push(f);
    }
    out.extend(model_vs_measured(&pts, rows, &legend));
    out.extend(by_region(rows, &legend));
    out.extend(throughput_by_conflict(&pts));
    out.extend(quorum_sweep(&pts, data));
    out.extend(failover(data, &legend));
    out.extend(failover_spread(rows, &legend));
    out.extend(messages(data, &legend));
    out
}

/// Latency CDFs per variant at the smallest and the largest client count, seeds merged, and beside each the
/// same distributions as percentiles on a "nines" axis (p50, p90, p99, p99.9, p99.99), where the tail that a
/// CDF squeezes into its top pixel gets as much room as the median.
fn cdfs(data: &RunData, legend: &Legend, mode: &str, out: &mut Vec<Figure>) {
    let j = base_jitter(&data.results, mode);
    let rows: Vec<&ResultRow> = data
        .results
        .iter()
        .filter(|r| r.mode == mode && r.jitter_ms == j)
        .collect();
    let counts = distinct(rows.iter().map(|r| r.clients));
    let picks: BTreeSet<usize> = counts
        .first()
        .into_iter()
        .chain(counts.last())
        .copied()
        .collect();
    for clients in picks {
        let clients_s = n_clients(clients);
        let mut merged_by_label = Vec::new();
        for label in legend.labels().take(MAX_SERIES) {
            let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
            for r in rows
                .iter()
                .filter(|r| r.variant == label && r.clients == clients)
            {
                if let Some(h) = data.histograms.get(&r.histogram) {
                    match &mut merged {
                        Some(m) => {
                            let _ = m.add(h);
                        }
                        None => merged = Some(h.clone()),
                    }
                }
            }
            if let Some(h) = merged.filter(|h| !h.is_empty()) {
                merged_by_label.push((label, h));
            }
        }
        if merged_by_label.is_empty() {
            continue;
        }
        let series = |points: fn(&hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)>| {
            merged_by_label
                .iter()
                .map(|(label, h)| Series {
                    label: label.to_string(),
                    colour: legend.colour(label),
                    points: points(h),
                    dashed: false,
                    markers: false,
                    in_legend: true,
                })
                .collect::<Vec<Series>>()
        };
        let note = jitter_note(&data.results, mode);
        out.push(Figure {
            stem: format!("latency-cdf-{mode}-c{clients}"),
            title: format!("Latency CDF, {mode}, {clients_s}{note}"),
            caption: format!(
                "The share of operations (y) that completed within a latency (x, log scale), per variant, \
                 {clients_s} (closed loop) in {mode} mode, all seeds together. Further left is faster; a \
                 long flat tail is a slow minority.{}",
                cut_note(legend)
            ),
            chart: Box::new(XyChart {
                title: format!("Latency CDF ({mode}, {clients_s}{note})"),
                x_desc: "latency (ms)".into(),
                y_desc: "operations completed (%)".into(),
                log_x: true,
                log_y: false,
                x_ticks: XTicks::Numbers,
                bands: Vec::new(),
                series: series(cdf_points),
                marks: Vec::new(),
                style_note: None,
                legend_lower_right: true,
            }),
        });
        out.push(Figure {
            stem: format!("latency-percentiles-{mode}-c{clients}"),
            title: format!("Latency by percentile, {mode}, {clients_s}{note}"),
            caption: format!(
                "The latency (y, log scale) at each percentile (x, in nines: 1 is p90, 2 is p99, 3 is p99.9, \
                 4 is p99.99; p50 sits at 0.3), per variant, {clients_s} (closed loop) in {mode} mode, all seeds \
                 together, read from the same histograms as the CDF. A line stops at the highest percentile \
                 its sample count resolves (p99.99 needs 10,000 operations).{}",
                cut_note(legend)
            ),
            chart: Box::new(XyChart {
                title: format!("Latency by percentile ({mode}, {clients_s}{note})"),
                x_desc: "percentile".into(),
                y_desc: "latency (ms)".into(),
                log_x: false,
                log_y: true,
                x_ticks: XTicks::Nines,
                bands: Vec::new(),
                series: series(nines_points),
                marks: Vec::new(),
                style_note: None,
                legend_lower_right: false,
            }),
        });
    }
}

/// The most nines a percentile plot shows (p99.999).
const MAX_NINES: f64 = 5.0;

/// (nines, latency ms) from a histogram in nanoseconds: nines = -log10(1 - q) for quantile q, in steps of 0.02
/// from the minimum (0) to the highest quantile the sample count resolves (1 - 1/count), at most p99.999.
pub fn nines_points(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    let n = h.len();
    if n == 0 {
        return Vec::new();
    }
    let top = (n as f64).log10().min(MAX_NINES);
    let steps = (top / 0.02).floor() as usize;
    let mut pts: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let nines = i as f64 * 0.02;
            let q = 1.0 - 10f64.powf(-nines);
            (nines, h.value_at_quantile(q) as f64 / 1e6)
        })
        .collect();
    if pts.last().is_some_and(|p| p.0 < top) {
        pts.push((
            top,
            h.value_at_quantile(1.0 - 10f64.powf(-top)) as f64 / 1e6,
        ));
    }
    pts
}

/// (latency ms, cumulative %) from a histogram in nanoseconds, at most about 400 points.
pub fn cdf_points(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    let total = h.len() as f64;
    let mut pts = Vec::new();
    let mut seen = 0u64;
    let recorded = h.iter_recorded().count();
    // A step function where values are few (a straight line between two far-apart values would suggest
    // latencies nobody measured); thinned to about 400 points where they are many.
    let steps = recorded <= 200;
    for v in h.iter_recorded() {
        let before = seen as f64 / total * 100.0;
        seen += v.count_at_value();
        let ms = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
        if steps || pts.is_empty() {
            pts.push((ms, before));
        }
        pts.push((ms, seen as f64 / total * 100.0));
    }
    let step = pts.len().div_ceil(400).max(1);
    let last = pts.last().copied();
    let mut thin: Vec<(f64, f64)> = pts.into_iter().step_by(step).collect();
    if let Some(l) = last {
        if thin.last() != Some(&l) {
            thin.push(l);
        }
    }
    thin
}

fn throughput_latency(
    pts: &[Point],
    rows: &[ResultRow],
    legend: &Legend,
    mode: &str,
) -> Option<Figure> {
    let j = base_jitter(rows, mode);
    let here: Vec<&Point> = pts
        .iter()
        .filter(|p| p.key.mode == mode && p.key.jitter_ms == j)
        .collect();
    if distinct(here.iter().map(|p| p.key.clients)).len() < 2 {
        return None;
    }
    let mut series = Vec::new();
    for label in legend.labels().take(MAX_SERIES) {
        let mut mine: Vec<&&Point> = here.iter().filter(|p| p.key.variant == label).collect();
        mine.sort_by_key(|p| p.key.clients);
        let line = |f: fn(&Point) -> Option<f64>| -> Vec<(f64, f64)> {
            mine.iter()
                .filter_map(|p| f(p).map(|y| (p.throughput, y)))
                .filter(|(x, _)| *x > 0.0)
                .collect()
        };
        let (p50, p99) = (line(|p| p.p50_ms), line(|p| p.p99_ms));
        if p50.is_empty() {
            continue;
        }
        let colour = legend.colour(label);
        series.push(Series {
            label: label.to_string(),
            colour,
            points: p50,
            dashed: false,
            markers: true,
            in_legend: true,
        });
        series.push(Series {
            label: format!("{label} p99"),
            colour,
            points: p99,
            dashed: true,
            markers: false,
            in_legend: false,
        });
    }
    if series.is_empty() {
        return None;
    }
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let (lo, hi) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let note = jitter_note(rows, mode);
    Some(Figure {
        stem: format!("throughput-latency-{mode}"),
        title: format!("Throughput against latency as load grows, {mode}{note}"),
        caption: "Each point is one closed-loop client count (more clients to the right). Solid lines with \
                  dots are p50, dashed lines p99. A curve that turns upward has reached the variant's \
                  throughput ceiling: more load only adds queueing."
            .into(),
        chart: Box::new(XyChart {
            title: format!("Throughput vs latency ({mode}{note})"),
            x_desc: "throughput (operations/s)".into(),
            y_desc: "latency (ms)".into(),
            log_x: hi > 20.0 * lo,
            log_y: true,
            x_ticks: XTicks::Numbers,
            bands: Vec::new(),
            series,
            marks: Vec::new(),
            style_note: Some("solid: p50, dashed: p99".into()),
            legend_lower_right: false,
        }),
    })
}

/// p50 bars with p99 whiskers per variant, for each network profile (mode and jitter) at the smallest client
/// count the profiles share.
fn latency_by_profile(pts: &[Point], legend: &Legend) -> Option<Figure> {
    let clients = pts.iter().map(|p| p.key.clients).min()?;
    let clients_s = n_clients(clients);
    let mut profiles: Vec<(String, f64)> =
        distinct(pts.iter().filter(|p| p.key.clients == clients).map(|p| {
            (
                p.key.mode.clone(),
                (p.key.jitter_ms * 1000.0).round() as u64,
            )
        }))
        .into_iter()
        .map(|(m, j)| (m, j as f64 / 1000.0))
        .collect();
    profiles.sort_by(|a, b| {
        (a.0 != "sim", &a.0)
            .cmp(&(b.0 != "sim", &b.0))
            .then(a.1.total_cmp(&b.1))
    });
    let labels: Vec<&str> = legend.labels().take(MAX_SERIES).collect();
    // One bar per label and profile: a sweep's labels share a profile, so each keeps its first point.
    let values: Vec<Vec<Option<BarValue>>> = profiles
        .iter()
        .map(|(mode, j)| {
            labels
                .iter()
                .map(|l| {
                    pts.iter()
                        .find(|p| {
                            p.key.variant == *l
                                && p.key.mode == *mode
                                && p.key.clients == clients
                                && p.key.jitter_ms == *j
                        })
                        .and_then(|p| {
                            p.p50_ms.map(|v| BarValue {
                                value: v,
                                upper: p.p99_ms,
                                marker: None,
                            })
                        })
                })
                .collect()
        })
        .collect();
    let categories = profiles
        .iter()
        .map(|(m, j)| {
            if *j > 0.0 {
                format!("{m}, jitter {j} ms")
            } else {
                m.clone()
            }
        })
        .collect();
    Some(Figure {
        stem: "latency-by-profile".into(),
        title: format!("p50 and p99 by variant and network profile, {clients_s}"),
        caption: "Bars are p50, whiskers reach p99, for each variant under each network profile the run has \
                  (simulation and QUIC, and each swept jitter)."
            .to_string()
            + &cut_note(legend),
        chart: Box::new(Bars {
            title: format!("p50 (bar) and p99 (whisker), {clients_s}"),
            y_desc: "latency (ms)".into(),
            log_y: true,
            categories,
            series: labels.iter().map(|l| (l.to_string(), legend.colour(l))).collect(),
            values,
            upper_label: Some("p99".into()),
            marker_label: None,
        }),
    })
}

/// Measured p50 beside the analytic model, per client count, in each mode.
fn model_vs_measured(pts: &[Point], rows: &[ResultRow], legend: &Legend) -> Vec<Figure> {
    let mut out = Vec::new();
    for mode in modes(rows) {
        let j = base_jitter(rows, &mode);
        let here: Vec<&Point> = pts
            .iter()
            .filter(|p| p.key.mode == mode && p.key.jitter_ms == j && p.model_ms.is_some())
            .collect();
        if here.is_empty() {
            continue;
        }
        let counts = distinct(here.iter().map(|p| p.key.clients));
        let labels: Vec<&str> = legend
            .labels()
            .filter(|l| here.iter().any(|p| p.key.variant == *l))
            .take(MAX_SERIES)
            .collect();
        let values = counts
            .iter()
            .map(|c| {
                labels
                    .iter()
                    .map(|l| {
                        here.iter()
                            .find(|p| p.key.variant == *l && p.key.clients == *c)
                            .and_then(|p| {
                                p.p50_ms.map(|v| BarValue {
                                    value: v,
                                    upper: None,
                                    marker: p.model_ms,
                                })
                            })
                    })
                    .collect()
            })
            .collect();
        let note = jitter_note(rows, &mode);
        out.push(Figure {
            stem: format!("model-vs-measured-{mode}"),
            title: format!("Measured p50 beside the analytic model, {mode}{note}"),
            caption: "Bars are the measured p50; the black line across each bar is the analytic model's \
                      expectation (one client, no contention: message delays along the critical path plus \
                      per-message CPU, with jitter the median over every message's jitter). At one client they should meet; with more clients the gap is \
                      queueing and contention the model leaves out."
                .into(),
            chart: Box::new(Bars {
                title: format!("Measured p50 and model ({mode}{note})"),
                y_desc: "p50 latency (ms)".into(),
                log_y: true,
                categories: counts.iter().map(|c| n_clients(*c)).collect(),
                series: labels.iter().map(|l| (l.to_string(), legend.colour(l))).collect(),
                values,
                upper_label: None,
                marker_label: Some("model".into()),
            }),
        });
    }
    out
}

/// The numbers of a `region=value;...` cell, by region (an empty value is no number).
pub(crate) fn region_cell(cell: &str) -> Vec<(String, Option<f64>)> {
    cell.split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().ok()))
        .collect()
}

/// p50 (and p99) per client region beside the model for that region, per variant, at the smallest client count
/// and the network's own jitter, seeds averaged: where a leader's placement favours some clients and a
/// leaderless protocol does not.
fn by_region(rows: &[ResultRow], legend: &Legend) -> Vec<Figure> {
    let mut out = Vec::new();
    for mode in modes(rows) {
        let j = base_jitter(rows, &mode);
        let here: Vec<&ResultRow> = rows
            .iter()
            .filter(|r| r.mode == mode && r.jitter_ms == j && !r.region_p50_us.is_empty())
            .collect();
        let Some(clients) = here.iter().map(|r| r.clients).min() else {
            continue;
        };
        let here: Vec<&ResultRow> = here.into_iter().filter(|r| r.clients == clients).collect();
        let Some(regions) = here
            .iter()
            .map(|r| region_cell(&r.region_p50_us))
            .find(|c| c.len() >= 2)
            .map(|c| c.into_iter().map(|(k, _)| k).collect::<Vec<String>>())
        else {
            continue;
        };
        let labels: Vec<&str> = legend
            .labels()
            .filter(|l| here.iter().any(|r| r.variant == *l))
            .take(MAX_SERIES)
            .collect();
        // The mean over the label's seeds of one region's value in one column.
        let mean_of = |label: &str, region: &str, col: fn(&ResultRow) -> &str| {
            mean(here.iter().filter(|r| r.variant == label).map(|r| {
                region_cell(col(r))
                    .into_iter()
                    .find(|(k, _)| k == region)
                    .and_then(|(_, v)| v)
            }))
        };
        let values: Vec<Vec<Option<BarValue>>> = regions
            .iter()
            .map(|region| {
                labels
                    .iter()
                    .map(|l| {
                        mean_of(l, region, |r| &r.region_p50_us).map(|p50| BarValue {
                            value: p50 / 1000.0,
                            upper: mean_of(l, region, |r| &r.region_p99_us).map(|x| x / 1000.0),
                            marker: mean_of(l, region, |r| &r.region_model_p50_us)
                                .map(|x| x / 1000.0),
                        })
                    })
                    .collect()
            })
            .collect();
        let clients_s = n_clients(clients);
        let note = jitter_note(rows, &mode);
        out.push(Figure {
            stem: format!("latency-by-region-{mode}"),
            title: format!("p50 by client region beside the model, {mode}, {clients_s}{note}"),
            caption: "For the clients of each region (the config's `[cluster] clients`): bars are the measured \
                      p50, whiskers reach p99, and the black line across a bar is the analytic model for a \
                      client there. A leader-based protocol is fast for clients near its leader; a leaderless \
                      one gives each region its own nearest replica's quorum round trip, until conflicts add \
                      a slow path. EPaxos's model is its conflict-free fast path."
                .to_string()
                + &cut_note(legend),
            chart: Box::new(Bars {
                title: format!("p50 (bar), p99 (whisker) and model by client region ({mode})"),
                y_desc: "latency (ms)".into(),
                log_y: true,
                categories: regions.clone(),
                series: labels.iter().map(|l| (l.to_string(), legend.colour(l))).collect(),
                values,
                upper_label: Some("p99".into()),
                marker_label: Some("model".into()),
            }),
        });
    }
    out
}

/// Flexible Paxos's sweep: p50 against q2, and the stall after the faults against q1, one line per N.
fn quorum_sweep(pts: &[Point], data: &RunData) -> Vec<Figure> {
    let flex: Vec<&Point> = pts
        .iter()
        .filter(|p| p.key.protocol == "flexible")
        .collect();
    if distinct(flex.iter().map(|p| (p.key.q1, p.key.q2, p.key.replicas))).len() < 3 {
        return Vec::new();
    }
    let clients = flex.iter().map(|p| p.key.clients).min().unwrap_or(1);
    let clients_s = n_clients(clients);
    // The Flexible rows' own first mode (simulation first) and the network's own jitter.
    let mode = if flex.iter().any(|p| p.key.mode == "sim") {
        "sim".to_string()
    } else {
        flex.first().map(|p| p.key.mode.clone()).unwrap_or_default()
    };
    let jitter = flex
        .iter()
        .filter(|p| p.key.mode == mode)
        .map(|p| p.key.jitter_ms)
        .fold(f64::INFINITY, f64::min);
    let flex: Vec<&&Point> = flex
        .iter()
        .filter(|p| p.key.clients == clients && p.key.mode == mode && p.key.jitter_ms == jitter)
        .collect();
    let ns = distinct(flex.iter().map(|p| p.key.replicas));
    // by N: x -> values
    let line = |n: usize, x: fn(&Point) -> usize, y: fn(&Point) -> Option<f64>, best: bool| {
        let mut by_x: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for p in flex.iter().filter(|p| p.key.replicas == n) {
            if let Some(v) = y(p) {
                by_x.entry(x(p)).or_default().push(v);
            }
        }
        by_x.into_iter()
            .map(|(x, v)| {
                let y = if best {
                    v.iter().copied().fold(f64::MAX, f64::min)
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                };
                (x as f64, y)
            })
            .collect::<Vec<_>>()
    };
    let mk = |points: Vec<(f64, f64)>, i: usize, n: usize| Series {
        label: format!("N = {n}"),
        colour: palette::kind_colour(i),
        points,
        dashed: false,
        markers: true,
        in_legend: true,
    };
    let mut out = vec![Figure {
        stem: "quorum-latency-q2".into(),
        title: format!("Flexible Paxos: p50 against the phase-2 quorum q2 ({mode}, {clients_s})"),
        caption: "Commit latency is the leader's round trip to its q2-th nearest acceptor, so it falls as q2 \
                  shrinks; every q1 paired with a q2 is averaged into one point (they do not change the steady \
                  state)."
            .into(),
        chart: Box::new(XyChart {
            title: format!("p50 against q2 ({mode}, {clients_s})"),
            x_desc: "q2 (phase-2 quorum size)".into(),
            y_desc: "p50 latency (ms)".into(),
            log_x: false,
            log_y: true,
            x_ticks: XTicks::Numbers,
            bands: Vec::new(),
            series: ns
                .iter()
                .enumerate()
                .map(|(i, &n)| mk(line(n, |p| p.key.q2, |p| p.p50_ms, false), i, n))
                .collect(),
            marks: Vec::new(),
            style_note: None,
            legend_lower_right: false,
        }),
    }];
    let has_faults = fault_marks(data).is_some_and(|m| !m.is_empty());
    if has_faults {
        out.push(Figure {
            stem: "quorum-election-q1".into(),
            title: format!("Flexible Paxos: time without commits after the fault, against q1 ({mode})"),
            caption: "After the leader crashes a new leader needs q1 promises; the longest time without a \
                      commit (100 ms resolution), best over the q2 paired with each q1, grows with q1, and at \
                      q1 = N no leader can be elected: the stall lasts to the end of the run. The smallest q1 \
                      stalls too, because it forces q2 = N, and a crashed replica leaves no phase-2 quorum."
                .into(),
            chart: Box::new(XyChart {
                title: format!("Longest stall against q1 ({mode}, {clients_s})"),
                x_desc: "q1 (phase-1 quorum size)".into(),
                y_desc: "longest time without a commit (ms)".into(),
                log_x: false,
                log_y: false,
                x_ticks: XTicks::Numbers,
                bands: Vec::new(),
                series: ns
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| mk(line(n, |p| p.key.q1, |p| Some(p.max_stall_ms), true), i, n))
                    .collect(),
                marks: Vec::new(),
                style_note: None,
                legend_lower_right: false,
            }),
        });
    }
    out
}

/// The faults of the run's config, as (time s, what), or None when the config cannot be read.
fn fault_marks(data: &RunData) -> Option<Vec<(f64, String)>> {
    Some(faults_and_warmup(data)?.0)
}

/// Faults as (time s, what), then warm-up and duration in seconds.
type Schedule = (Vec<(f64, String)>, f64, f64);

/// The config's faults, warm-up and duration (s). The copy in the results directory is read without the files
/// it names (a cost profile's relative path does not resolve there).
fn faults_and_warmup(data: &RunData) -> Option<Schedule> {
    let text = data.config_text.as_ref()?;
    let exp = crate::config::parse_unresolved(text, &data.dir.join("config.toml")).ok()?;
    let marks = exp
        .faults
        .iter()
        .map(|f| {
            let what = match &f.action {
                FaultAction::Crash(r) => format!("crash {r}"),
                FaultAction::Restart(r) => format!("restart {r}"),
                FaultAction::Partition(_) => "partition".into(),
                FaultAction::Heal => "heal".into(),
            };
            (f.at.as_secs_f64(), what)
        })
        .collect();
    Some((marks, exp.warmup.as_secs_f64(), exp.duration.as_secs_f64()))
}

/// The time series stops at a run's last completion: a variant that never recovers must still show its zeros
/// to the end of the run.
fn pad_to(mut points: Vec<(f64, f64)>, duration_s: f64) -> Vec<(f64, f64)> {
    let step = crate::metrics::TIMELINE_BUCKET_NS as f64 / 1e9;
    let mut t = points.last().map_or(0.0, |p| p.0 + step);
    while t < duration_s - step / 2.0 && points.len() < 1_000_000 {
        points.push((t, 0.0));
        t += step;
    }
    points
}

/// Throughput per 100 ms with the faults marked, at the largest client count, first seed.
fn failover(data: &RunData, legend: &Legend) -> Vec<Figure> {
    let Some((marks, _, duration)) = faults_and_warmup(data).filter(|(m, _, _)| !m.is_empty())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for mode in modes(&data.results) {
        let rows: Vec<&ResultRow> = data.results.iter().filter(|r| r.mode == mode).collect();
        let Some(clients) = rows.iter().map(|r| r.clients).max() else {
            continue;
        };
        let clients_s = n_clients(clients);
        let seed = rows.iter().map(|r| r.seed).min().unwrap_or(0);
        let j = base_jitter(&data.results, &mode);
        let labels: Vec<&str> = legend.labels().collect();
        // A quorum sweep has dozens of labels: the timeline shows at most eight, in order.
        let series: Vec<Series> = labels
            .iter()
            .take(8)
            .filter_map(|l| {
                let points: Vec<(f64, f64)> = data
                    .timeseries
                    .iter()
                    .filter(|t| {
                        t.variant == *l
                            && t.mode == mode
                            && t.clients == clients
                            && t.seed == seed
                            && t.jitter_ms == j
                    })
                    .map(|t| (t.t_s, t.ops_per_s))
                    .collect();
                let points = pad_to(points, duration);
                (!points.is_empty()).then(|| Series {
                    label: l.to_string(),
                    colour: legend.colour(l),
                    points,
                    dashed: false,
                    markers: false,
                    in_legend: true,
                })
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        // One panel per variant, each on its own scale: their rates differ a hundredfold.
        let panels = series
            .into_iter()
            .map(|one| XyChart {
                title: one.label.clone(),
                x_desc: "time since start (s)".into(),
                y_desc: "ops/s".into(),
                log_x: false,
                log_y: false,
                x_ticks: XTicks::Numbers,
                bands: Vec::new(),
                series: vec![Series {
                    in_legend: false,
                    ..one
                }],
                marks: marks.clone(),
                style_note: None,
                legend_lower_right: false,
            })
            .collect();
        out.push(Figure {
            stem: format!("failover-timeline-{mode}"),
            title: format!("Failover timeline, {mode}, {clients_s}, seed {seed}"),
            caption: "Completed operations per second in each 100 ms bucket over the whole run (warm-up \
                      included), one panel per variant on its own scale, with each scheduled fault marked. A \
                      drop to zero after a mark is the stall the fault caused, and its width is the time to \
                      recover (an election, or Cheap Paxos's reconfiguration); a lower level after it is the \
                      slower quorum that is left. With WAN round trips near 100 ms a bucket holds zero, one or \
                      two rounds of completions, hence the comb."
                .into(),
            chart: Box::new(Panels { panels }),
        });
    }
    out
}

/// Throughput against the conflict rate, one line per protocol run at two or more rates (EPaxos at its
/// `[[variant]] conflict` settings), at the largest client count; a protocol run at one rate (a leader-based
/// baseline, which conflicts do not slow) is a dashed level across the range.
fn throughput_by_conflict(pts: &[Point]) -> Vec<Figure> {
    let mut out = Vec::new();
    for mode in distinct(pts.iter().map(|p| p.key.mode.clone())) {
        let here: Vec<&Point> = pts.iter().filter(|p| p.key.mode == mode).collect();
        let Some(clients) = here.iter().map(|p| p.key.clients).max() else {
            continue;
        };
        let here: Vec<&Point> = here
            .into_iter()
            .filter(|p| p.key.clients == clients)
            .collect();
        let protocols = distinct(here.iter().map(|p| p.key.protocol.clone()));
        let rates = |proto: &str| -> Vec<(f64, f64)> {
            let mut v: Vec<(f64, f64)> = here
                .iter()
                .filter(|p| p.key.protocol == proto)
                .filter_map(|p| p.key.conflict.map(|c| (100.0 * c, p.throughput)))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v
        };
        let swept: Vec<&String> = protocols
            .iter()
            .filter(|p| distinct(rates(p).iter().map(|(c, _)| (*c * 1000.0) as u64)).len() >= 2)
            .collect();
        if swept.is_empty() {
            continue;
        }
        let all: Vec<f64> = swept
            .iter()
            .flat_map(|p| rates(p))
            .map(|(c, _)| c)
            .collect();
        let (lo, hi) = all
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let mut series = Vec::new();
        for proto in &protocols {
            let colour = palette::protocol_colour(proto).unwrap_or(RGBColor(0, 0, 0));
            if swept.contains(&proto) {
                series.push(Series {
                    label: proto.clone(),
                    colour,
                    points: rates(proto),
                    dashed: false,
                    markers: true,
                    in_legend: true,
                });
            } else if let Some(p) = here.iter().find(|p| p.key.protocol == *proto) {
                series.push(Series {
                    label: format!("{proto} (one rate)"),
                    colour,
                    points: vec![(lo, p.throughput), (hi, p.throughput)],
                    dashed: true,
                    markers: false,
                    in_legend: true,
                });
            }
        }
        let clients_s = n_clients(clients);
        out.push(Figure {
            stem: format!("throughput-by-conflict-{mode}"),
            title: format!("Throughput against the conflict rate, {mode}, {clients_s}"),
            caption: "Operations per second (y) against the share of commands on the one key every client \
                      shares (x, `conflict`), seeds averaged. A leaderless protocol loses its fast path as \
                      conflicts rise: slow paths add a round, and a command waits for the interfering ones \
                      it depends on. A dashed level is a protocol run at one rate only."
                .into(),
            chart: linear_chart(
                format!("Throughput vs conflict rate ({mode}, {clients_s})"),
                "conflict rate (%)",
                "throughput (operations/s)",
                series,
            ),
        });
    }
    out
}

/// Lines on linear axes with the legend in the lower right (where rising and falling curves leave room).
fn linear_chart(title: String, x_desc: &str, y_desc: &str, series: Vec<Series>) -> Box<XyChart> {
    Box::new(XyChart {
        title,
        x_desc: x_desc.into(),
        y_desc: y_desc.into(),
        log_x: false,
        log_y: false,
        x_ticks: XTicks::Numbers,
        bands: Vec::new(),
        series,
        marks: Vec::new(),
        style_note: None,
        legend_lower_right: true,
    })
}

/// Fewest seeds with a failover time for the spread of failover times to be drawn.
const SPREAD_MIN_SEEDS: usize = 5;

/// The failover time's spread over seeds, per variant, at the largest client count: each seed draws its own
/// election timeouts, so many seeds show the distribution a single timeline hides.
fn failover_spread(rows: &[ResultRow], legend: &Legend) -> Vec<Figure> {
    let mut out = Vec::new();
    for mode in modes(rows) {
        let j = base_jitter(rows, &mode);
        let here: Vec<&ResultRow> = rows
            .iter()
            .filter(|r| r.mode == mode && r.jitter_ms == j && r.failover_ms.is_some())
            .collect();
        let Some(clients) = here.iter().map(|r| r.clients).max() else {
            continue;
        };
        let mut series = Vec::new();
        for label in legend.labels().take(MAX_SERIES) {
            let mut times: Vec<f64> = here
                .iter()
                .filter(|r| r.variant == label && r.clients == clients)
                .filter_map(|r| r.failover_ms)
                .collect();
            if times.len() < SPREAD_MIN_SEEDS {
                continue;
            }
            times.sort_by(f64::total_cmp);
            let n = times.len() as f64;
            // A step per seed: the share of seeds whose failover took at most x.
            let mut points = Vec::new();
            for (i, &t) in times.iter().enumerate() {
                points.push((t, 100.0 * i as f64 / n));
                points.push((t, 100.0 * (i + 1) as f64 / n));
            }
            series.push(Series {
                label: format!("{label} (median {:.0} ms)", times[times.len() / 2]),
                colour: legend.colour(label),
                points,
                dashed: false,
                markers: false,
                in_legend: true,
            });
        }
        if series.is_empty() {
            continue;
        }
        let clients_s = n_clients(clients);
        out.push(Figure {
            stem: format!("failover-spread-{mode}"),
            title: format!("Failover time over seeds, {mode}, {clients_s}"),
            caption: "For each seed, the longest time no client saw a command complete from the first crash \
                      on (`failover_ms` in results.csv); the curve is the share of seeds (y) whose failover \
                      took at most x. When the crash takes the leader, this is failure detection (the election \
                      timeout, drawn afresh by each seed) plus the election and the first commit; the legend's \
                      median is the middle seed's."
                .to_string()
                + &cut_note(legend),
            chart: linear_chart(
                format!("Failover time, share of seeds ({mode}, {clients_s})"),
                "failover time (ms)",
                "seeds (%)",
                series,
            ),
        });
    }
    out
}

/// Messages and bytes per operation by message type, per variant, at the largest client count.
fn messages(data: &RunData, legend: &Legend) -> Vec<Figure> {
    let Some(mode) = modes(&data.results).into_iter().next() else {
        return Vec::new();
    };
    let rows: Vec<&ResultRow> = data.results.iter().filter(|r| r.mode == mode).collect();
    let Some(clients) = rows.iter().map(|r| r.clients).max() else {
        return Vec::new();
    };
    let clients_s = n_clients(clients);
    let seed = rows.iter().map(|r| r.seed).min().unwrap_or(0);
    let j = base_jitter(&data.results, &mode);
    let here: Vec<_> = data
        .messages
        .iter()
        .filter(|m| m.mode == mode && m.clients == clients && m.seed == seed && m.jitter_ms == j)
        .collect();
    let labels: Vec<&str> = legend
        .labels()
        .filter(|l| here.iter().any(|m| m.variant == *l))
        .take(12)
        .collect();
    if labels.is_empty() {
        return Vec::new();
    }
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for m in &here {
        *totals.entry(m.kind.as_str()).or_default() += m.per_op.unwrap_or(0.0);
    }
    let mut kinds: Vec<&str> = totals.keys().copied().collect();
    kinds.sort_by(|a, b| totals[b].total_cmp(&totals[a]).then(a.cmp(b)));
    let table = |f: fn(&super::data::MessageRow) -> Option<f64>| -> Vec<Vec<f64>> {
        labels
            .iter()
            .map(|l| {
                kinds
                    .iter()
                    .map(|k| {
                        here.iter()
                            .find(|m| m.variant == *l && m.kind == *k)
                            .and_then(|m| f(m))
                            .unwrap_or(0.0)
                    })
                    .collect()
            })
            .collect()
    };
    let kind_colours: Vec<(String, RGBColor)> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| (k.to_string(), palette::kind_colour(i)))
        .collect();
    let categories: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    let what = format!("{mode}, {clients_s}, seed {seed}");
    vec![
        Figure {
            stem: "messages-per-op".into(),
            title: format!("Messages per operation by type, {what}"),
            caption: "Every message sent in the measurement window by anyone (clients included), divided by \
                      the operations completed, stacked by message type. Heartbeats and batching make it \
                      depend on load."
                .into(),
            chart: Box::new(Stacked {
                title: format!("Messages per operation ({what})"),
                y_desc: "messages per operation".into(),
                categories: categories.clone(),
                kinds: kind_colours.clone(),
                values: table(|m| m.per_op),
            }),
        },
        Figure {
            stem: "bytes-per-op".into(),
            title: format!("Bytes per operation by message type, {what}"),
            caption: "Wire bytes (4-byte length and the postcard encoding) per operation, stacked by message \
                      type."
                .into(),
            chart: Box::new(Stacked {
                title: format!("Bytes per operation ({what})"),
                y_desc: "bytes per operation".into(),
                categories,
                kinds: kind_colours,
                values: table(|m| m.bytes_per_op),
            }),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(variant: &str, protocol: &str, seed: u64) -> ResultRow {
        ResultRow {
            variant: variant.into(),
            protocol: protocol.into(),
            mode: "sim".into(),
            clients: 5,
            seed,
            ops: 100,
            throughput_ops_s: 1000.0,
            p50_us: Some(1000.0),
            ..ResultRow::default()
        }
    }

    fn stems(figs: &[Figure]) -> Vec<&str> {
        figs.iter().map(|f| f.stem.as_str()).collect()
    }

    #[test]
    fn the_region_figure_needs_two_regions_and_puts_each_regions_model_on_its_bar() {
        let mut r = row("epaxos", "epaxos", 1);
        r.region_p50_us = "a=2000.0;b=4000.0".into();
        r.region_p99_us = "a=3000.0;b=;".into();
        r.region_model_p50_us = "a=1900.0;b=".into();
        let legend = Legend::new(std::slice::from_ref(&r));
        let figs = by_region(std::slice::from_ref(&r), &legend);
        assert_eq!(stems(&figs), ["latency-by-region-sim"]);
        let mut one = r.clone();
        one.region_p50_us = "a=2000.0".into();
        assert!(
            by_region(&[one], &legend).is_empty(),
            "one region: no figure"
        );
        let cell = region_cell(&r.region_model_p50_us);
        assert_eq!(
            cell,
            [("a".to_string(), Some(1900.0)), ("b".to_string(), None)]
        );
    }

    #[test]
    fn the_failover_spread_needs_five_seeds_of_a_variant() {
        let rows: Vec<ResultRow> = (1..=5)
            .map(|s| ResultRow {
                failover_ms: Some(500.0 + s as f64),
                ..row("raft", "raft", s)
            })
            .collect();
        let legend = Legend::new(&rows);
        assert_eq!(
            stems(&failover_spread(&rows, &legend)),
            ["failover-spread-sim"]
        );
        assert!(failover_spread(&rows[..4], &legend).is_empty());
    }

    #[test]
    fn throughput_by_conflict_draws_a_protocol_run_at_two_rates_or_more() {
        let at = |label: &str, c: f64| ResultRow {
            conflict: Some(c),
            ..row(label, "epaxos", 1)
        };
        let rows = vec![row("multi", "multi", 1), at("epaxos 0%", 0.0)];
        assert!(throughput_by_conflict(&points(&rows)).is_empty());
        let rows = vec![
            row("multi", "multi", 1),
            at("epaxos 0%", 0.0),
            at("epaxos 50%", 0.5),
        ];
        let figs = throughput_by_conflict(&points(&rows));
        assert_eq!(stems(&figs), ["throughput-by-conflict-sim"]);
    }
}
