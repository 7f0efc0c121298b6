//! `paxos-bench export`: a results directory in the formats CI dashboards read, so that a team can chart this
//! suite's figures beside its other benchmarks.
//!
//! - github-action-benchmark's custom tools: a JSON array of `{name, unit, value, range, extra}`, one file per
//!   direction (`customSmallerIsBetter` for latencies, `customBiggerIsBetter` for throughput), since the action
//!   takes one tool per step.
//! - Bencher Metric Format: `{benchmark: {measure: {value, lower_value, upper_value}}}`, with Bencher's built-in
//!   measures `latency` (nanoseconds, the p50) and `throughput` (operations per second), and `p99-latency`.
//!
//! One entry per configuration (experiment, variant, quorums, mode, clients, jitter, storage), its figure the
//! mean over the seeds; the seeds' minimum and maximum give Bencher's bounds and the action's range.

use crate::results::ResultRow;
use serde_json::{json, Map, Value};

/// Which JSON to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// github-action-benchmark, latencies (`customSmallerIsBetter`).
    ActionSmaller,
    /// github-action-benchmark, throughput (`customBiggerIsBetter`).
    ActionBigger,
    /// Bencher Metric Format.
    Bmf,
}

impl Format {
    /// From `--format` and `--tool`.
    pub fn parse(format: &str, tool: Option<&str>) -> Result<Format, String> {
        match (format, tool) {
            ("github-action-benchmark", None | Some("customSmallerIsBetter")) => {
                Ok(Format::ActionSmaller)
            }
            ("github-action-benchmark", Some("customBiggerIsBetter")) => Ok(Format::ActionBigger),
            ("github-action-benchmark", Some(t)) => Err(format!(
                "--tool {t}: github-action-benchmark's custom tools are customSmallerIsBetter (latencies) \
                 and customBiggerIsBetter (throughput)"
            )),
            ("bmf", None) => Ok(Format::Bmf),
            ("bmf", Some(_)) => Err("--tool is for github-action-benchmark only".into()),
            (f, _) => Err(format!(
                "unknown format `{f}`: use github-action-benchmark or bmf"
            )),
        }
    }
}

/// One configuration's figures over its seeds.
struct Group<'a> {
    name: String,
    rows: Vec<&'a ResultRow>,
}

/// The name of a configuration: what a dashboard charts as one series.
fn name(r: &ResultRow) -> String {
    let mut n = format!(
        "{}/{}/n{}-q{}-{}/{}/c{}",
        r.experiment, r.variant, r.replicas, r.q1, r.q2, r.mode, r.clients
    );
    if r.jitter_ms > 0.0 {
        n.push_str(&format!("/jitter-{}ms", r.jitter_ms));
    }
    if r.storage != "memory" {
        n.push_str(&format!("/{}", r.storage));
    }
    n
}

fn groups(rows: &[ResultRow]) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    for r in rows {
        let n = name(r);
        match out.iter_mut().find(|g| g.name == n) {
            Some(g) => g.rows.push(r),
            None => out.push(Group {
                name: n,
                rows: vec![r],
            }),
        }
    }
    out
}

/// (mean, min, max) of a figure over the rows that have it.
fn spread(rows: &[&ResultRow], f: impl Fn(&ResultRow) -> Option<f64>) -> Option<(f64, f64, f64)> {
    let xs: Vec<f64> = rows.iter().filter_map(|r| f(r)).collect();
    if xs.is_empty() {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((mean, lo, hi))
}

/// Rounds to 3 decimals so that the JSON is stable and short.
fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub fn export(rows: &[ResultRow], format: Format) -> Value {
    match format {
        Format::ActionSmaller | Format::ActionBigger => action(rows, format),
        Format::Bmf => bmf(rows),
    }
}

fn action(rows: &[ResultRow], format: Format) -> Value {
    let mut out = Vec::new();
    for g in groups(rows) {
        let seeds = g.rows.len();
        let extra = |more: String| format!("seeds: {seeds}; {more}");
        let range = |(_, lo, hi): (f64, f64, f64), scale: f64| {
            (seeds > 1).then(|| format!("± {}", r3((hi - lo) / 2.0 / scale)))
        };
        let mut push =
            |name: String, unit: &str, stats: (f64, f64, f64), scale: f64, ex: String| {
                let mut e = Map::new();
                e.insert("name".into(), json!(name));
                e.insert("unit".into(), json!(unit));
                e.insert("value".into(), json!(r3(stats.0 / scale)));
                if let Some(rg) = range(stats, scale) {
                    e.insert("range".into(), json!(rg));
                }
                e.insert("extra".into(), json!(extra(ex)));
                out.push(Value::Object(e));
            };
        if format == Format::ActionSmaller {
            let model = spread(&g.rows, |r| r.expected_p50_us).map_or("no model".into(), |m| {
                format!("model p50 {} ms", r3(m.0 / 1000.0))
            });
            if let Some(s) = spread(&g.rows, |r| r.p50_us) {
                push(format!("{} p50", g.name), "ms", s, 1000.0, model);
            }
            if let Some(s) = spread(&g.rows, |r| r.p99_us) {
                push(format!("{} p99", g.name), "ms", s, 1000.0, "tail".into());
            }
        } else if let Some(s) = spread(&g.rows, |r| Some(r.throughput_ops_s)) {
            let ops: u64 = g.rows.iter().map(|r| r.ops).sum();
            push(
                format!("{} throughput", g.name),
                "ops/s",
                s,
                1.0,
                format!("{ops} operations in all"),
            );
        }
    }
    Value::Array(out)
}

fn bmf(rows: &[ResultRow]) -> Value {
    let mut out = Map::new();
    for g in groups(rows) {
        let mut measures = Map::new();
        let metric = |(mean, lo, hi): (f64, f64, f64), scale: f64| {
            json!({
                "value": r3(mean * scale),
                "lower_value": r3(lo * scale),
                "upper_value": r3(hi * scale),
            })
        };
        if let Some(s) = spread(&g.rows, |r| r.p50_us) {
            measures.insert("latency".into(), metric(s, 1000.0));
        }
        if let Some(s) = spread(&g.rows, |r| r.p99_us) {
            measures.insert("p99-latency".into(), metric(s, 1000.0));
        }
        if let Some(s) = spread(&g.rows, |r| Some(r.throughput_ops_s)) {
            measures.insert("throughput".into(), metric(s, 1.0));
        }
        out.insert(g.name, Value::Object(measures));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<ResultRow> {
        let base = crate::results::tests::sample_row();
        let mut a = base.clone();
        a.seed = 1;
        a.p50_us = Some(1000.0);
        a.p99_us = Some(3000.0);
        a.throughput_ops_s = 500.0;
        let mut b = base.clone();
        b.seed = 2;
        b.p50_us = Some(1200.0);
        b.p99_us = Some(3400.0);
        b.throughput_ops_s = 450.0;
        let mut c = base;
        c.variant = "fast".into();
        c.p50_us = None;
        c.p99_us = None;
        vec![a, b, c]
    }

    /// The fields github-action-benchmark reads from a custom tool's file: an array of objects with a string
    /// `name` and `unit` and a numeric `value`, optionally string `range` and `extra`, names unique.
    fn valid_action(v: &Value) -> Result<(), String> {
        let arr = v.as_array().ok_or("not an array")?;
        let mut names = std::collections::BTreeSet::new();
        for e in arr {
            let o = e.as_object().ok_or("an entry is not an object")?;
            for k in o.keys() {
                if !["name", "unit", "value", "range", "extra"].contains(&k.as_str()) {
                    return Err(format!("unknown field {k}"));
                }
            }
            let name = o.get("name").and_then(Value::as_str).ok_or("name")?;
            o.get("unit").and_then(Value::as_str).ok_or("unit")?;
            o.get("value").and_then(Value::as_f64).ok_or("value")?;
            for k in ["range", "extra"] {
                if o.get(k).is_some_and(|x| !x.is_string()) {
                    return Err(format!("{k} is not a string"));
                }
            }
            if !names.insert(name.to_string()) {
                return Err(format!("name {name} twice"));
            }
        }
        Ok(())
    }

    /// Bencher's published JSON schema for BMF (bencher.dev/bmf.json): an object of benchmarks, each an object
    /// of measures, each an object whose `value` is required and whose `value`, `lower_value` and `upper_value`
    /// are numbers. Bencher also limits a measure's slug to 64 characters and a benchmark's name to 1024.
    fn valid_bmf(v: &Value) -> Result<(), String> {
        let benches = v.as_object().ok_or("not an object")?;
        for (b, measures) in benches {
            if b.is_empty() || b.len() > 1024 {
                return Err(format!("benchmark name {b:?}"));
            }
            for (m, metric) in measures.as_object().ok_or("measures not an object")? {
                if m.is_empty() || m.len() > 64 {
                    return Err(format!("measure {m:?}"));
                }
                let o = metric.as_object().ok_or("metric not an object")?;
                o.get("value").and_then(Value::as_f64).ok_or("value")?;
                for k in ["value", "lower_value", "upper_value"] {
                    if o.get(k).is_some_and(|x| !x.is_number()) {
                        return Err(format!("{k} is not a number"));
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn github_action_benchmark_entries_have_the_documented_fields() {
        let small = export(&rows(), Format::ActionSmaller);
        valid_action(&small).unwrap();
        let arr = small.as_array().unwrap();
        // Two seeds of multi give one p50 and one p99; fast has no latency, so none.
        assert_eq!(arr.len(), 2, "{small:#}");
        assert_eq!(arr[0]["name"], "e/multi/n5-q3-3/sim/c1/jitter-0.5ms p50");
        assert_eq!(arr[0]["value"], 1.1);
        assert_eq!(arr[0]["range"], "± 0.1");
        assert_eq!(arr[0]["unit"], "ms");
        let big = export(&rows(), Format::ActionBigger);
        valid_action(&big).unwrap();
        assert_eq!(big[0]["value"], 475.0);
        assert_eq!(big[0]["unit"], "ops/s");
        assert_eq!(big.as_array().unwrap().len(), 2);
        // The validator can fail.
        assert!(valid_action(&json!([{"name": "x", "unit": "ms"}])).is_err());
        assert!(
            valid_action(&json!([{"name": "x", "unit": "ms", "value": 1, "range": 2}])).is_err()
        );
    }

    #[test]
    fn bmf_matches_the_published_schema_with_bounds_from_the_seeds() {
        let v = export(&rows(), Format::Bmf);
        valid_bmf(&v).unwrap();
        let m = &v["e/multi/n5-q3-3/sim/c1/jitter-0.5ms"];
        assert_eq!(m["latency"]["value"], 1_100_000.0);
        assert_eq!(m["latency"]["lower_value"], 1_000_000.0);
        assert_eq!(m["latency"]["upper_value"], 1_200_000.0);
        assert_eq!(m["throughput"]["value"], 475.0);
        assert!(v["e/fast/n5-q3-3/sim/c1/jitter-0.5ms"]
            .get("latency")
            .is_none());
        assert!(valid_bmf(&json!({"b": {"latency": {"lower_value": 1}}})).is_err());
        assert!(valid_bmf(&json!({"b": {"latency": {"value": "1"}}})).is_err());
    }

    #[test]
    fn formats_and_tools_are_named_or_refused() {
        assert_eq!(
            Format::parse("github-action-benchmark", Some("customBiggerIsBetter")),
            Ok(Format::ActionBigger)
        );
        assert_eq!(Format::parse("bmf", None), Ok(Format::Bmf));
        assert!(Format::parse("csv", None)
            .unwrap_err()
            .contains("unknown format `csv`"));
        assert!(Format::parse("github-action-benchmark", Some("biggerIsBetter")).is_err());
    }
}
