//! The example CI workflow (`.github/workflows/bench.yml`) may only name what this repository provides: every
//! `scripts/...` it runs exists, is executable and accepts the flags given, and every `paxos-bench` subcommand
//! it runs (through `cargo run ... --`) exists with every `--flag` given. A renamed script or flag fails here
//! rather than in a team's first pull request.

use clap::CommandFactory;
use paxos_harness::cli::Cli;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The shell commands of the workflow's `run:` steps (one per line of a block).
fn run_lines(yaml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block_indent: Option<usize> = None;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if let Some(i) = block_indent {
            if !t.is_empty() && indent > i {
                out.push(t.to_string());
                continue;
            }
            block_indent = None;
        }
        if let Some(rest) = t.strip_prefix("run:") {
            let rest = rest.trim();
            if rest == "|" {
                block_indent = Some(indent);
            } else if !rest.is_empty() {
                out.push(rest.to_string());
            }
        }
    }
    out
}

/// Problems with one command line, empty when it names only what exists.
fn problems(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let words: Vec<&str> = line.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(script) = w.strip_prefix("scripts/") {
            let path = root().join("scripts").join(script);
            match std::fs::metadata(&path) {
                Err(_) => found.push(format!("{line}: scripts/{script} does not exist")),
                Ok(m) => {
                    use std::os::unix::fs::PermissionsExt;
                    if m.permissions().mode() & 0o111 == 0 {
                        found.push(format!("{line}: scripts/{script} is not executable"));
                    }
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    for flag in words[i + 1..].iter().filter(|a| a.starts_with("--")) {
                        if !text.contains(&format!("\"{flag}\"")) {
                            found.push(format!("{line}: scripts/{script} does not take {flag}"));
                        }
                    }
                }
            }
        }
    }
    if words.first() == Some(&"cargo") && words.contains(&"run") {
        let Some(sep) = words.iter().position(|w| *w == "--") else {
            found.push(format!(
                "{line}: cargo run without -- before the subcommand"
            ));
            return found;
        };
        let args = &words[sep + 1..];
        let Some(sub) = args.first() else {
            found.push(format!("{line}: no subcommand"));
            return found;
        };
        let cli = Cli::command();
        let Some(cmd) = cli.find_subcommand(sub) else {
            found.push(format!("{line}: paxos-bench has no subcommand `{sub}`"));
            return found;
        };
        for flag in args.iter().filter_map(|a| a.strip_prefix("--")) {
            let flag = flag.split('=').next().unwrap_or(flag);
            if !cmd.get_arguments().any(|a| a.get_long() == Some(flag)) {
                found.push(format!("{line}: `paxos-bench {sub}` has no --{flag}"));
            }
        }
    }
    found
}

#[test]
fn every_command_the_bench_workflow_names_exists() {
    let path = root().join(".github/workflows/bench.yml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let lines = run_lines(&yaml);
    let ours: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("scripts/") || l.starts_with("cargo run"))
        .collect();
    // The regression check, the run and three exports.
    assert!(ours.len() >= 5, "{lines:#?}");
    let all: Vec<String> = ours.iter().flat_map(|l| problems(l)).collect();
    assert!(all.is_empty(), "{all:#?}");
}

#[test]
fn the_check_catches_a_missing_script_subcommand_or_flag() {
    assert!(!problems("scripts/no-such.sh").is_empty());
    assert!(!problems("scripts/regress.sh --no-such-flag").is_empty());
    assert!(!problems("cargo run --release -- no-such-command").is_empty());
    assert!(!problems("cargo run --release -- export out --no-such-flag x").is_empty());
    assert!(problems("cargo run --release -- export out --format bmf --out x").is_empty());
}
