//! The report's two pages, `index.html` and `README.md`: what the run found (a few computed sentences, the
//! first screen), the figures, the full summary table and the environment. Both are rendered from the same
//! [`Page`], so they never disagree.

use super::environment::Environment;
use super::figures::Point;

pub struct PageFigure {
    pub stem: String,
    pub title: String,
    pub caption: String,
}

pub struct Page<'a> {
    pub title: String,
    /// Sentences computed from the rows (`findings.rs`), each with its figure.
    pub findings: Vec<String>,
    pub points: &'a [Point],
    pub figures: Vec<PageFigure>,
    pub config_text: Option<&'a str>,
    pub notes: &'a [String],
    pub environment: Option<&'a Environment>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| {
        if x < 10.0 {
            format!("{x:.3}")
        } else {
            format!("{x:.2}")
        }
    })
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.decimals$}"))
}

/// The summary table's header and rows, as text cells.
fn table(points: &[Point]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let jitter = points
        .iter()
        .any(|p| p.key.jitter_ms != points[0].key.jitter_ms);
    let fast = points.iter().any(|p| p.key.protocol == "fast");
    let cheap = points.iter().any(|p| p.key.protocol == "cheap");
    let mut head = vec!["mode", "variant", "clients"];
    if jitter {
        head.push("jitter ms");
    }
    head.extend(["ops/s", "p50 ms", "model p50 ms", "p99 ms"]);
    if fast {
        head.push("commit p50 ms");
    }
    head.extend(["msgs/op", "bytes/op"]);
    if fast {
        head.extend(["collisions", "recoveries"]);
    }
    if cheap {
        head.push("reconfigs");
    }
    head.extend(["max stall ms", "seeds"]);
    let rows = points
        .iter()
        .map(|p| {
            let mut r = vec![
                p.key.mode.clone(),
                p.key.variant.clone(),
                p.key.clients.to_string(),
            ];
            if jitter {
                r.push(format!("{}", p.key.jitter_ms));
            }
            r.extend([
                format!("{:.1}", p.throughput),
                ms(p.p50_ms),
                ms(p.model_ms),
                ms(p.p99_ms),
            ]);
            if fast {
                r.push(ms(p.commit_p50_ms));
            }
            r.extend([num(p.msgs_per_op, 2), num(p.bytes_per_op, 0)]);
            if fast {
                r.extend([
                    format!("{:.0}", p.collisions),
                    format!("{:.0}", p.recoveries),
                ]);
            }
            if cheap {
                r.push(format!("{:.0}", p.reconfigurations));
            }
            r.extend([format!("{:.0}", p.max_stall_ms), p.seeds.to_string()]);
            r
        })
        .collect();
    (head, rows)
}

/// Read paths side by side: every point that has reads, its read and write latency, the read model, and for
/// a path off the log how its read p50 compares with the same protocol's log reads.
fn read_paths(points: &[Point]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "mode",
        "variant",
        "reads",
        "clients",
        "read p50 ms",
        "model read p50 ms",
        "read p50 / model",
        "read p99 ms",
        "write p50 ms",
        "read p50 vs log reads",
        "reads/s",
        "lease waits",
        "lease wait ms",
    ];
    if !points
        .iter()
        .any(|p| p.key.reads != "log" && !p.key.reads.is_empty())
    {
        return (head, Vec::new());
    }
    let mut rows = Vec::new();
    for p in points.iter().filter(|p| p.read_p50_ms.is_some()) {
        let log = points.iter().find(|o| {
            o.key.reads == "log"
                && o.key.protocol == p.key.protocol
                && o.key.mode == p.key.mode
                && o.key.clients == p.key.clients
                && (o.key.q1, o.key.q2, o.key.replicas) == (p.key.q1, p.key.q2, p.key.replicas)
                && o.key.jitter_ms == p.key.jitter_ms
        });
        let vs_log = match (
            p.key.reads.as_str(),
            log.and_then(|l| l.read_p50_ms),
            p.read_p50_ms,
        ) {
            ("log", _, _) => "-".to_string(),
            (_, Some(l), Some(r)) => format!("{:+.2} ms", r - l),
            _ => "-".to_string(),
        };
        let ratio = match (p.read_p50_ms, p.read_model_ms) {
            (Some(r), Some(m)) if m > 0.0 => format!("{:.3}", r / m),
            _ => "-".into(),
        };
        rows.push(vec![
            p.key.mode.clone(),
            p.key.protocol.clone(),
            p.key.reads.clone(),
            p.key.clients.to_string(),
            ms(p.read_p50_ms),
            ms(p.read_model_ms),
            ratio,
            ms(p.read_p99_ms),
            ms(p.write_p50_ms),
            vs_log,
            format!("{:.1}", p.read_ops_s),
            format!("{:.0}", p.lease_waits),
            format!("{:.0}", p.lease_wait_ms),
        ]);
    }
    (head, rows)
}

const READS_TEXT: &str = "Reads by path. log: a read takes a log slot like a write. lease: the leader answers from its state while a phase-2 quorum's grants hold (model: the client's round trip to the leader). quorum: the client asks every replica and reads once a read quorum (one meeting every phase-2 quorum) has answered and what they accepted is applied (model: the round trip to the nearest read quorum; waits for a pending write of the key are not modelled). vs log reads: this path's read p50 minus the same protocol's log-read p50 in the same run. lease waits: new leaders that waited out an earlier lease, and how long in all.";

/// The price of durability: each run with a write-ahead log beside the same run in memory.
fn durability(points: &[Point]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "variant",
        "clients",
        "p50 ms memory",
        "p50 ms wal",
        "p99 ms memory",
        "p99 ms wal",
        "ops/s memory",
        "ops/s wal",
        "wal / memory ops/s",
        "syncs/op",
    ];
    let mut rows = Vec::new();
    for w in points {
        let Some(base) = w.key.mode.strip_suffix("+wal") else {
            continue;
        };
        let Some(m) = points.iter().find(|m| {
            m.key.mode == base
                && m.key.variant == w.key.variant
                && m.key.clients == w.key.clients
                && m.key.jitter_ms == w.key.jitter_ms
                && (m.key.q1, m.key.q2, m.key.replicas) == (w.key.q1, w.key.q2, w.key.replicas)
        }) else {
            continue;
        };
        let ratio = if m.throughput > 0.0 {
            format!("{:.2}", w.throughput / m.throughput)
        } else {
            "-".into()
        };
        rows.push(vec![
            w.key.variant.clone(),
            w.key.clients.to_string(),
            ms(m.p50_ms),
            ms(w.p50_ms),
            ms(m.p99_ms),
            ms(w.p99_ms),
            format!("{:.1}", m.throughput),
            format!("{:.1}", w.throughput),
            ratio,
            num(w.syncs_per_op, 2),
        ]);
    }
    (head, rows)
}

fn durability_text(e: Option<&Environment>) -> String {
    let floor = match e.and_then(|e| e.sync_floor) {
        Some(f) => format!(
            " The disk's own fdatasync time, measured in the same job where the logs were written: p50 {:.0} us, \
             p99 {:.0} us ({} samples of a 64-byte append); no durable commit can be faster.",
            f.p50_us, f.p99_us, f.samples
        ),
        None => String::new(),
    };
    format!(
        "wal: every acceptor appends its promises and acceptances to a write-ahead log and syncs it \
         (fdatasync, one sync per group of inputs) before it answers; memory: the same runs with acceptor state \
         in memory. syncs/op: syncs over all replicas per committed operation.{floor}"
    )
}

fn environment_lines(e: Option<&Environment>) -> Vec<(String, String)> {
    match e {
        Some(e) => vec![
            ("CPU".into(), e.cpu.clone()),
            ("cores".into(), e.cores.to_string()),
            ("OS".into(), e.os.clone()),
            ("commit".into(), e.commit.clone()),
            ("paxos-bench".into(), e.version.clone()),
            ("modes".into(), e.modes.join(", ")),
            ("written".into(), e.written_utc()),
        ],
        None => vec![(
            "environment".into(),
            "not recorded (no environment.json beside the results)".into(),
        )],
    }
}

fn html_table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut h = String::from("<table>\n<tr>");
    for c in head {
        h.push_str(&format!("<th>{}</th>", esc(c)));
    }
    h.push_str("</tr>\n");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            h.push_str(&format!("<td>{}</td>", esc(c)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

fn md_table(head: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut m = line(head.iter().map(|c| cell(c)).collect());
    m.push_str(&format!("|{}\n", " --- |".repeat(head.len())));
    for r in rows {
        m.push_str(&line(r.iter().map(|c| cell(c)).collect()));
    }
    m
}

const LEGEND_TEXT: &str = "Figures are means over seeds. p50/p99: latency percentiles from each run's \
    HdrHistogram. model: the analytic latency (one client, no contention). commit: when a client knew its \
    command was chosen (Fast Paxos learns it from the acceptors' votes before the reply). max stall: the \
    longest time without a completion in the measurement window.";

impl Page<'_> {
    fn html_figures(&self) -> String {
        let mut h = String::from("<h2>Figures</h2>\n");
        for f in &self.figures {
            h.push_str(&format!(
                "<figure id=\"{stem}\">\n<h3>{title}</h3>\n<a href=\"plots/{stem}.svg\"><img src=\"plots/{stem}.png\" \
                 alt=\"{title}\" width=\"960\"></a>\n<figcaption>{caption} \
                 (<a href=\"plots/{stem}.svg\">SVG</a>)</figcaption>\n</figure>\n",
                stem = esc(&f.stem),
                title = esc(&f.title),
                caption = esc(&f.caption),
            ));
        }
        h
    }

    pub fn html(&self) -> String {
        let (head, rows) = table(self.points);
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str(&format!("<title>{}</title>\n", esc(&self.title)));
        h.push_str(
            "<style>\nbody{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\n\
             table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;\
             text-align:right}th{background:#f2f2f2}td:nth-child(-n+2){text-align:left}\n\
             figure{margin:2em 0}figure img{max-width:100%;border:1px solid #ddd}\
             figcaption{font-size:14px;color:#444}\npre{background:#f6f6f6;padding:1em;overflow:auto;\
             font-size:12px}\n</style>\n</head>\n<body>\n",
        );
        h.push_str(&format!("<h1>{}</h1>\n", esc(&self.title)));
        if !self.findings.is_empty() {
            h.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n<ol>\n");
            for f in &self.findings {
                h.push_str(&format!("<li>{}</li>\n", esc(f)));
            }
            h.push_str("</ol>\n</section>\n");
        }
        h.push_str(&self.html_figures());
        h.push_str("<h2>Summary</h2>\n");
        h.push_str(&html_table(&head, &rows));
        h.push_str(&format!("<p>{}</p>\n", esc(LEGEND_TEXT)));
        let (dhead, drows) = durability(self.points);
        if !drows.is_empty() {
            h.push_str("<h2>The price of durability</h2>\n");
            h.push_str(&html_table(&dhead, &drows));
            h.push_str(&format!(
                "<p>{}</p>\n",
                esc(&durability_text(self.environment))
            ));
        }
        let (rhead, rrows) = read_paths(self.points);
        if !rrows.is_empty() {
            h.push_str("<h2>Read paths</h2>\n");
            h.push_str(&html_table(&rhead, &rrows));
            h.push_str(&format!("<p>{}</p>\n", esc(READS_TEXT)));
        }
        if !self.notes.is_empty() {
            h.push_str("<h2>Notes</h2>\n<ul>\n");
            for n in self.notes {
                h.push_str(&format!("<li>{}</li>\n", esc(n)));
            }
            h.push_str("</ul>\n");
        }
        h.push_str("<h2>Environment</h2>\n<table>\n");
        for (k, v) in environment_lines(self.environment) {
            h.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>\n",
                esc(&k),
                esc(&v)
            ));
        }
        h.push_str("</table>\n");
        if let Some(c) = self.config_text {
            h.push_str(&format!("<h2>Config</h2>\n<pre>{}</pre>\n", esc(c)));
        }
        h.push_str(
            "<p>Data: results.csv, messages.csv, timeseries.csv, replicas.csv, histograms/. \
             Rebuild this page with <code>paxos-bench report DIR</code>.</p>\n</body>\n</html>\n",
        );
        h
    }

    pub fn markdown(&self) -> String {
        let (head, rows) = table(self.points);
        let mut m = format!("# {}\n\n", self.title);
        if !self.findings.is_empty() {
            m.push_str("## Findings\n\n");
            for (i, f) in self.findings.iter().enumerate() {
                m.push_str(&format!("{}. {}\n", i + 1, f.replace(['\n', '\r'], " ")));
            }
            m.push('\n');
        }
        m.push_str("## Figures\n\n");
        for f in &self.figures {
            m.push_str(&format!(
                "### {}\n\n![{}](plots/{}.png)\n\n{} ([SVG](plots/{}.svg))\n\n",
                f.title, f.title, f.stem, f.caption, f.stem
            ));
        }
        m.push_str("## Summary\n\n");
        m.push_str(&md_table(&head, &rows));
        m.push_str(&format!("\n{LEGEND_TEXT}\n\n"));
        let (dhead, drows) = durability(self.points);
        if !drows.is_empty() {
            m.push_str("## The price of durability\n\n");
            m.push_str(&md_table(&dhead, &drows));
            m.push_str(&format!("\n{}\n\n", durability_text(self.environment)));
        }
        let (rhead, rrows) = read_paths(self.points);
        if !rrows.is_empty() {
            m.push_str("## Read paths\n\n");
            m.push_str(&md_table(&rhead, &rrows));
            m.push_str(&format!("\n{READS_TEXT}\n\n"));
        }
        if !self.notes.is_empty() {
            m.push_str("## Notes\n\n");
            for n in self.notes {
                m.push_str(&format!("- {}\n", n.replace(['\n', '\r'], " ")));
            }
            m.push('\n');
        }
        m.push_str("## Environment\n\n");
        for (k, v) in environment_lines(self.environment) {
            m.push_str(&format!("- {k}: {v}\n"));
        }
        if let Some(c) = self.config_text {
            m.push_str(&format!("\n## Config\n\n```toml\n{}\n```\n", c.trim_end()));
        }
        m.push_str(
            "\nData: results.csv, messages.csv, timeseries.csv, replicas.csv, histograms/. Rebuild with \
             `paxos-bench report DIR`.\n",
        );
        m
    }
}
