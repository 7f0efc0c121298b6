//! What `tune` shows and writes: the ranked table (model and simulator figures side by side, marked as such),
//! what was left out and why, the plot of latency against fault tolerance, and the winner as a config.

use super::confirm::{self, experiment_toml};
use super::space::{placement_label, Ledger};
use super::{Outcome, Row};

use crate::report::plots::{self, Series, XTicks, XyChart};
use crate::results::write_atomic;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::Path;

fn ms(us: Option<f64>) -> String {
    us.map_or("-".into(), |u| format!("{:.2}", u / 1000.0))
}

/// What was left out, one class per line: count, class, one example.
pub fn ledger_text(l: &Ledger) -> String {
    let mut t = String::new();
    for (class, (count, example)) in &l.classes {
        let _ = writeln!(t, "  {count:>8}  {class}  (e.g. {example})");
    }
    t
}

fn leader_label(o: &Outcome, r: &Row) -> String {
    let c = &r.scored.cand;
    if c.variant == "basic" {
        "(none)".into()
    } else {
        o.spec.regions[c.placement[c.leader]].clone()
    }
}

fn tolerance_label(r: &Row) -> String {
    let c = &r.scored.cand;
    let mut s = format!("{}/{}", c.crash_p1, c.crash_p2);
    if let Some(f) = c.fast_path {
        let _ = write!(s, " fast {f}");
    }
    s
}

fn failover_label(v: Option<Option<f64>>) -> String {
    match v {
        None => "-".into(),
        Some(None) => "blocked".into(),
        Some(Some(ms)) => format!("{ms:.0}"),
    }
}

fn diff_label(model: f64, sim: Option<f64>) -> String {
    sim.map_or("-".into(), |s| {
        format!("{:+.2}%", (s / model - 1.0) * 100.0)
    })
}

/// The table a person reads at a glance, then each row's figures per client region.
pub fn table(o: &Outcome) -> String {
    let mut t = String::new();
    let obj = o.spec.objective.name();
    let _ = writeln!(
        t,
        "{:<3} {:<9} {:>2} {:<28} {:<12} {:<18} {:>9} {:>6} {:>11} {:>11} {:>8} {:>8} {:>9}",
        "#",
        "variant",
        "N",
        "placement",
        "leader",
        "quorums",
        "p1/p2",
        "outage",
        format!("model {}", if obj == "mean_p50" { "p50" } else { "p99" }),
        "sim",
        "sim-model",
        "msgs/op",
        "failover"
    );
    for (i, r) in o.rows.iter().enumerate() {
        let c = &r.scored.cand;
        let conf = r.confirmed.as_ref().ok();
        let _ = writeln!(
            t,
            "{:<3} {:<9} {:>2} {:<28} {:<12} {:<18} {:>9} {:>6} {:>11} {:>11} {:>8} {:>8} {:>9}",
            i + 1,
            c.variant,
            c.n(),
            placement_label(&o.spec, &c.placement),
            leader_label(o, r),
            c.quorum_label(),
            tolerance_label(r),
            if c.survives_outage { "yes" } else { "no" },
            ms(Some(r.scored.objective_us)),
            ms(r.sim_objective_us),
            diff_label(r.scored.objective_us, r.sim_objective_us),
            conf.and_then(|c| c.msgs_per_op)
                .map_or("-".into(), |m| format!("{m:.2}")),
            failover_label(conf.and_then(|c| c.failover_ms)),
        );
    }
    let _ = writeln!(
        t,
        "\nper client region, ms: p50 / p99 from the simulator, the model's in brackets{}",
        if o.sampled {
            " (the model sampled with the network's jitter)"
        } else {
            " (no jitter: the model's p99 is its p50)"
        }
    );
    for (i, r) in o.rows.iter().enumerate() {
        let mut line = format!("{:<3}", i + 1);
        match &r.confirmed {
            Err(e) => {
                let _ = write!(line, " the simulator gave no figures: {e}");
            }
            Ok(conf) => {
                for (k, (region, w)) in o.spec.clients.iter().enumerate() {
                    let _ = write!(
                        line,
                        " {} (w {}): {} / {} [{} / {}]",
                        o.spec.regions[*region],
                        w,
                        ms(conf.p50_us[k]),
                        ms(conf.p99_us[k]),
                        ms(Some(r.scored.p50_us[k])),
                        ms(Some(r.scored.p99_us[k])),
                    );
                }
                if let Some(out) = conf.outage_ms {
                    let _ = write!(
                        line,
                        "; leader's region lost: {}",
                        match out {
                            None => "blocked".into(),
                            Some(ms) => format!("recovered in {ms:.0} ms"),
                        }
                    );
                }
            }
        }
        let _ = writeln!(t, "{line}");
    }
    t
}

/// The summary printed after the table: the space, the pick, and the exhaustive comparison if asked.
pub fn summary(o: &Outcome) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "searched {} configuration(s) with the model in {:.2} s: {} within the budget (crashes = {}, region outage = {}); \
         the best {} confirmed in the simulator in {:.1} s",
        o.valid,
        o.model_wall.as_secs_f64(),
        o.in_budget,
        o.spec.crashes,
        o.spec.region_outage,
        o.rows.len(),
        o.confirm_wall.as_secs_f64()
    );
    if !o.ledger.classes.is_empty() {
        let _ = writeln!(t, "left out (count, why, an example):");
        t.push_str(&ledger_text(&o.ledger));
    }
    if let Some(p) = o.pick() {
        let c = &p.scored.cand;
        let _ = writeln!(
            t,
            "pick: {} on {} replicas ({}), leader {}, {}: {} {} ms in the simulator (model {} ms)",
            c.variant,
            c.n(),
            placement_label(&o.spec, &c.placement),
            leader_label(o, p),
            c.quorum_label(),
            o.spec.objective.name(),
            ms(p.sim_objective_us),
            ms(Some(p.scored.objective_us)),
        );
    }
    if let Some(x) = &o.exhaustive {
        let c = &x.best.scored.cand;
        let pick = o.pick().and_then(|p| p.sim_objective_us);
        let best = x.best.sim_objective_us;
        let _ = writeln!(
            t,
            "exhaustive: simulated all {} candidate(s) in {:.1} s; best: {} on {} replicas ({}), leader {}, {}: {} ms; \
             the pick is {} of it{}",
            x.simulated,
            x.wall.as_secs_f64(),
            c.variant,
            c.n(),
            placement_label(&o.spec, &c.placement),
            leader_label(o, &x.best),
            c.quorum_label(),
            ms(best),
            match (pick, best) {
                (Some(p), Some(b)) => format!("{:+.2}%", (p / b - 1.0) * 100.0),
                _ => "-".into(),
            },
            if o.pick().map(|p| &p.scored.cand) == Some(c) {
                " (the same configuration)"
            } else {
                ""
            }
        );
    }
    t
}

/// The winner's config, with what the tuner measured as comments.
pub fn winning_config(o: &Outcome) -> Option<String> {
    let p = o.pick()?;
    let c = &p.scored.cand;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by `paxos-bench tune {}`: the best configuration for {} over the client regions, with \
         both phases surviving {} crash(es){}.",
        o.spec.file.display(),
        o.spec.objective.name(),
        o.spec.crashes,
        if o.spec.region_outage {
            " and the loss of any one region"
        } else {
            ""
        }
    );
    let _ = writeln!(
        t,
        "# {} on {} replicas ({}), leader in {}, {}. Model: {} ms; simulator (this file, seed {}): {} ms.",
        c.variant,
        c.n(),
        placement_label(&o.spec, &c.placement),
        leader_label(o, p),
        c.quorum_label(),
        ms(Some(p.scored.objective_us)),
        o.spec.seed,
        ms(p.sim_objective_us)
    );
    if let Ok(conf) = &p.confirmed {
        for (k, (region, _)) in o.spec.clients.iter().enumerate() {
            let _ = writeln!(
                t,
                "#   clients in {}: p50 {} ms, p99 {} ms (results.csv region_p50_us / region_p99_us)",
                o.spec.regions[*region],
                ms(conf.p50_us[k]),
                ms(conf.p99_us[k])
            );
        }
        let _ = writeln!(
            t,
            "# Leader crash at {} s (add `[[fault]] at_s = {:?}, crash = {}` and duration_s = {:?}): {} ms without a \
             commit.",
            confirm::FAULT_AT_S,
            confirm::FAULT_AT_S,
            c.leader,
            confirm::FAULT_RUN_S,
            failover_label(conf.failover_ms)
        );
    }
    t.push_str(&experiment_toml(&o.spec, c, &[]));
    Some(t)
}

#[derive(serde::Serialize)]
struct CsvRow {
    rank: usize,
    variant: String,
    replicas: usize,
    placement: String,
    leader: String,
    quorums: String,
    q1: usize,
    q2: usize,
    crashes_phase1: usize,
    crashes_phase2: usize,
    fast_path_crashes: String,
    survives_region_outage: bool,
    model_objective_us: String,
    sim_objective_us: String,
    sim_minus_model_pct: String,
    model_region_p50_us: String,
    sim_region_p50_us: String,
    model_region_p99_us: String,
    sim_region_p99_us: String,
    msgs_per_op: String,
    failover_ms: String,
    outage_recovery_ms: String,
    error: String,
}

fn cell(o: &Outcome, v: &[Option<f64>]) -> String {
    o.spec
        .clients
        .iter()
        .zip(v)
        .map(|((r, _), x)| {
            format!(
                "{}={}",
                o.spec.regions[*r],
                x.map(|x| format!("{x:.1}")).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn csv(o: &Outcome) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for (i, r) in o.rows.iter().enumerate() {
        let c = &r.scored.cand;
        let conf = r.confirmed.as_ref().ok();
        let none = vec![None; o.spec.clients.len()];
        let model = |v: &[f64]| cell(o, &v.iter().map(|x| Some(*x)).collect::<Vec<_>>());
        w.serialize(CsvRow {
            rank: i + 1,
            variant: c.variant.to_string(),
            replicas: c.n(),
            placement: c
                .placement
                .iter()
                .map(|&x| o.spec.regions[x].clone())
                .collect::<Vec<_>>()
                .join(";"),
            leader: leader_label(o, r),
            quorums: c.quorum_label(),
            q1: c.quorums.q1_size(),
            q2: c.quorums.q2_size(),
            crashes_phase1: c.crash_p1,
            crashes_phase2: c.crash_p2,
            fast_path_crashes: c.fast_path.map(|f| f.to_string()).unwrap_or_default(),
            survives_region_outage: c.survives_outage,
            model_objective_us: format!("{:.1}", r.scored.objective_us),
            sim_objective_us: r
                .sim_objective_us
                .map(|x| format!("{x:.1}"))
                .unwrap_or_default(),
            sim_minus_model_pct: r
                .sim_objective_us
                .map(|s| format!("{:.3}", (s / r.scored.objective_us - 1.0) * 100.0))
                .unwrap_or_default(),
            model_region_p50_us: model(&r.scored.p50_us),
            sim_region_p50_us: cell(o, conf.map_or(&none, |c| &c.p50_us)),
            model_region_p99_us: model(&r.scored.p99_us),
            sim_region_p99_us: cell(o, conf.map_or(&none, |c| &c.p99_us)),
            msgs_per_op: conf
                .and_then(|c| c.msgs_per_op)
                .map(|m| format!("{m:.3}"))
                .unwrap_or_default(),
            failover_ms: conf
                .map(|c| failover_label(c.failover_ms))
                .unwrap_or_default(),
            outage_recovery_ms: conf
                .map(|c| failover_label(c.outage_ms))
                .unwrap_or_default(),
            error: r.confirmed.as_ref().err().cloned().unwrap_or_default(),
        })?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Latency against fault tolerance: for each variant, the best objective (model) of the configurations that
/// survive at least x crashes (within the rest of the budget or not), with the budget marked.
fn pareto(o: &Outcome) -> XyChart {
    let mut series = Vec::new();
    for (vi, v) in crate::registry::VARIANTS.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for ((i, f, _), s) in &o.front.best {
            if *i != vi {
                continue;
            }
            let y = s.objective_us / 1000.0;
            match pts.iter_mut().find(|p| p.0 == *f as f64) {
                Some(p) => p.1 = p.1.min(y),
                None => pts.push((*f as f64, y)),
            }
        }
        if pts.is_empty() {
            continue;
        }
        // At least f crashes: a configuration that survives more also counts for fewer, so each line only
        // rises with f (the trade-off curve).
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        for i in (0..pts.len().saturating_sub(1)).rev() {
            pts[i].1 = pts[i].1.min(pts[i + 1].1);
        }
        series.push(Series {
            label: v.name.to_string(),
            colour: v.colour,
            points: pts,
            dashed: false,
            markers: true,
            in_legend: true,
        });
    }
    XyChart {
        title: format!(
            "{}: best {} (model) tolerating at least x crashes",
            o.spec.name,
            o.spec.objective.name()
        ),
        x_desc: "crashes tolerated with both phases completing".into(),
        y_desc: format!("{}, ms (model)", o.spec.objective.name()),
        log_x: false,
        log_y: false,
        x_ticks: XTicks::Numbers,
        bands: Vec::new(),
        series,
        marks: vec![(o.spec.crashes as f64, "budget".into())],
        style_note: None,
        legend_lower_right: false,
    }
}

/// Writes `tune.csv`, `left-out.csv`, `pareto.png`/`.svg`, `tuned.toml` and `README.md` into `dir`.
pub fn write(o: &Outcome, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        write_atomic(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    put("tune.csv", &csv(o)?)?;
    let mut left = csv::Writer::from_writer(Vec::new());
    left.write_record(["count", "why", "example"])?;
    for (class, (count, example)) in &o.ledger.classes {
        left.write_record([count.to_string(), class.clone(), example.clone()])?;
    }
    put(
        "left-out.csv",
        &left.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;
    plots::save(&pareto(o), dir, "pareto").map_err(|e| anyhow::anyhow!(e))?;
    if let Some(cfg) = winning_config(o) {
        put("tuned.toml", cfg.as_bytes())?;
    }
    let readme = format!(
        "# tune: {}\n\n```\n{}\n{}```\n\n![latency against fault tolerance](pareto.png)\n\nFiles: `tune.csv` (the \
         table, per-region figures from the model and the simulator), `left-out.csv` (what was not scored and \
         why), `tuned.toml` (the pick, ready for `paxos-bench run`).\n",
        o.spec.name,
        table(o),
        summary(o)
    );
    put("README.md", readme.as_bytes())?;
    Ok(())
}
