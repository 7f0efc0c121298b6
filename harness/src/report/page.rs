//! The report's two pages, `index.html` and `README.md`: the experiment, the summary table, the figures and the
//! environment. Both are rendered from the same [`Page`], so they never disagree.

use super::environment::Environment;
use super::figures::Point;

pub struct PageFigure {
    pub stem: String,
    pub title: String,
    pub caption: String,
}

pub struct Page<'a> {
    pub title: String,
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
    let jitter = points.iter().any(|p| p.jitter_ms != points[0].jitter_ms);
    let fast = points.iter().any(|p| p.protocol == "fast");
    let cheap = points.iter().any(|p| p.protocol == "cheap");
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
            let mut r = vec![p.mode.clone(), p.label.clone(), p.clients.to_string()];
            if jitter {
                r.push(format!("{}", p.jitter_ms));
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

const LEGEND_TEXT: &str = "Figures are means over seeds. p50/p99: latency percentiles from each run's \
    HdrHistogram. model: the analytic latency (one client, no contention). commit: when a client knew its \
    command was chosen (Fast Paxos learns it from the acceptors' votes before the reply). max stall: the \
    longest time without a completion in the measurement window.";

impl Page<'_> {
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
        h.push_str("<h2>Summary</h2>\n<table>\n<tr>");
        for c in &head {
            h.push_str(&format!("<th>{}</th>", esc(c)));
        }
        h.push_str("</tr>\n");
        for r in &rows {
            h.push_str("<tr>");
            for c in r {
                h.push_str(&format!("<td>{}</td>", esc(c)));
            }
            h.push_str("</tr>\n");
        }
        h.push_str(&format!("</table>\n<p>{}</p>\n", esc(LEGEND_TEXT)));
        if !self.notes.is_empty() {
            h.push_str("<h2>Notes</h2>\n<ul>\n");
            for n in self.notes {
                h.push_str(&format!("<li>{}</li>\n", esc(n)));
            }
            h.push_str("</ul>\n");
        }
        h.push_str("<h2>Figures</h2>\n");
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
        let cell = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
        let mut m = format!("# {}\n\n## Summary\n\n", self.title);
        m.push_str(&format!(
            "| {} |\n",
            head.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        ));
        m.push_str(&format!("|{}\n", " --- |".repeat(head.len())));
        for r in &rows {
            m.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        m.push_str(&format!("\n{LEGEND_TEXT}\n\n"));
        if !self.notes.is_empty() {
            m.push_str("## Notes\n\n");
            for n in self.notes {
                m.push_str(&format!("- {}\n", n.replace(['\n', '\r'], " ")));
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
