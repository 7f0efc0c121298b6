//! Jepsen's history log format, read and written, so that histories move between this suite and other tools:
//! one event per line, `INFO  jepsen.util - PROCESS<TAB>TYPE<TAB>F<TAB>VALUE`, with TYPE one of `:invoke`,
//! `:ok`, `:fail`, `:info`, F one of `:read`, `:write`, `:cas`, and VALUE `nil`, an integer, `[FROM TO]` for a
//! compare-and-set, or a keyword such as `:timed-out`. One register per file.
//!
//! Reading follows the conventions of Jepsen's register tests (and of the checkers that publish verdicts on
//! them): `:fail` means the operation did not take effect (a failed read or write is dropped; a failed
//! compare-and-set says the value was not FROM), `:info` means the outcome is unknown, and an operation still
//! open at the end of the file is unknown too. Lines of other loggers and of processes that are not integers
//! (`:nemesis`) are skipped. Event times are line numbers.

use super::{Operation, Outcome, RegOp};
use std::collections::HashMap;
use std::fmt::Write as _;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum JepsenError {
    #[error("line {line}: {what}")]
    Line { line: usize, what: String },
    #[error("no client events (no `jepsen.util - PROCESS<TAB>:invoke...` lines)")]
    Empty,
}

const MARKER: &str = "jepsen.util - ";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Nil,
    Int(u64),
    Pair(u64, u64),
    Keyword(String),
}

fn parse_value(s: &str) -> Result<Value, String> {
    let s = s.trim();
    if s == "nil" {
        return Ok(Value::Nil);
    }
    if let Some(k) = s.strip_prefix(':') {
        return Ok(Value::Keyword(k.to_string()));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let parts: Vec<&str> = inner.split_whitespace().collect();
        let [a, b] = parts[..] else {
            return Err(format!("`{s}` is not a pair [FROM TO]"));
        };
        return Ok(Value::Pair(int(a)?, int(b)?));
    }
    Ok(Value::Int(int(s)?))
}

fn int(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("`{s}` is not a value (nil, a non-negative integer or [FROM TO])"))
}

struct Open {
    op: RegOp,
    call: u64,
}

/// Reads a Jepsen history of one register.
pub fn parse(text: &str) -> Result<Vec<Operation>, JepsenError> {
    let mut open: HashMap<u64, Open> = HashMap::new();
    let mut ops: Vec<Operation> = Vec::new();
    let mut events = 0usize;
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        let err = |what: String| JepsenError::Line { line: lineno, what };
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let rest = &line[at + MARKER.len()..];
        // Tabs separate the fields; some published logs have them expanded to spaces.
        let owned: Vec<String> = if rest.contains('\t') {
            rest.splitn(4, '\t').map(str::to_string).collect()
        } else {
            let tokens: Vec<&str> = rest.split_whitespace().collect();
            match tokens.len() {
                0..=3 => tokens.iter().map(|t| t.to_string()).collect(),
                _ => {
                    let mut v: Vec<String> = tokens[..3].iter().map(|t| t.to_string()).collect();
                    v.push(tokens[3..].join(" "));
                    v
                }
            }
        };
        let fields: Vec<&str> = owned.iter().map(String::as_str).collect();
        let [process, kind, f, value] = fields[..] else {
            return Err(err(format!(
                "expected PROCESS, TYPE, F and VALUE separated by tabs, found `{rest}`"
            )));
        };
        let Ok(process) = process.trim().parse::<u64>() else {
            if process.trim().starts_with(':') {
                continue; // :nemesis and other non-client processes
            }
            return Err(err(format!("process `{process}` is not an integer")));
        };
        let value = parse_value(value).map_err(&err)?;
        let t = lineno as u64;
        events += 1;
        match kind.trim() {
            ":invoke" => {
                let op = match (f.trim(), &value) {
                    (":read", _) => RegOp::Read,
                    (":write", Value::Int(x)) => RegOp::Write(*x),
                    (":cas", Value::Pair(a, b)) => RegOp::Cas { from: *a, to: *b },
                    (":write" | ":cas", v) => {
                        return Err(err(format!("{} with value {v:?}", f.trim())))
                    }
                    (other, _) => {
                        return Err(err(format!(
                            "operation `{other}` is not :read, :write or :cas"
                        )))
                    }
                };
                if open.insert(process, Open { op, call: t }).is_some() {
                    return Err(err(format!(
                        "process {process} invokes again before its last operation completed"
                    )));
                }
            }
            k @ (":ok" | ":fail" | ":info") => {
                let Some(o) = open.remove(&process) else {
                    return Err(err(format!(
                        "process {process} completes an operation it never invoked"
                    )));
                };
                let outcome = match (k, o.op, &value) {
                    (":ok", RegOp::Read, Value::Nil) => Outcome::Read(None),
                    (":ok", RegOp::Read, Value::Int(v)) => Outcome::Read(Some(*v)),
                    (":ok", RegOp::Read, v) => {
                        return Err(err(format!("a read returned {v:?}")));
                    }
                    (":ok", RegOp::Write(_), _) => Outcome::Written,
                    (":ok", RegOp::Cas { .. }, _) => Outcome::CasOk,
                    (":fail", RegOp::Cas { .. }, _) => Outcome::CasFailed,
                    // A failed read or write did not happen: it constrains nothing.
                    (":fail", _, _) => continue,
                    _ => Outcome::Unknown,
                };
                let ret = (outcome != Outcome::Unknown).then_some(t);
                ops.push(Operation {
                    process,
                    op: o.op,
                    outcome,
                    call: o.call,
                    ret,
                });
            }
            other => {
                return Err(err(format!(
                    "type `{other}` is not :invoke, :ok, :fail or :info"
                )))
            }
        }
    }
    if events == 0 {
        return Err(JepsenError::Empty);
    }
    // Still open at the end: unknown.
    let mut left: Vec<(u64, Open)> = open.into_iter().collect();
    left.sort_by_key(|(p, o)| (o.call, *p));
    for (process, o) in left {
        ops.push(Operation {
            process,
            op: o.op,
            outcome: Outcome::Unknown,
            call: o.call,
            ret: None,
        });
    }
    ops.sort_by_key(|o| (o.call, o.process));
    Ok(ops)
}

fn f_and_args(op: RegOp) -> (&'static str, String) {
    match op {
        RegOp::Read => (":read", "nil".into()),
        RegOp::Write(x) => (":write", x.to_string()),
        RegOp::Cas { from, to } => (":cas", format!("[{from} {to}]")),
    }
}

/// Writes one register's history. Events are ordered by time, an invocation before a completion at the same
/// time (so the two stay concurrent, as the checker treats them); operations that never returned get their
/// `:info` (or, for a read, `:fail ... :timed-out`) after every other event. Each process must have at most
/// one operation open at a time, as Jepsen requires.
pub fn write(ops: &[Operation]) -> String {
    let mut ev: Vec<(u64, u8, u64, usize)> = Vec::with_capacity(2 * ops.len());
    for (i, o) in ops.iter().enumerate() {
        ev.push((o.call, 0, o.process, i));
        ev.push((o.ret.unwrap_or(u64::MAX), 1, o.process, i));
    }
    ev.sort_unstable();
    let mut out = String::new();
    for (_, kind, _, i) in ev {
        let o = &ops[i];
        let (f, args) = f_and_args(o.op);
        let (ty, value) = if kind == 0 {
            (":invoke", args)
        } else {
            match o.outcome {
                Outcome::Read(None) => (":ok", "nil".into()),
                Outcome::Read(Some(v)) => (":ok", v.to_string()),
                Outcome::Written | Outcome::CasOk => (":ok", args),
                Outcome::CasFailed => (":fail", args),
                Outcome::Unknown if o.op == RegOp::Read => (":fail", ":timed-out".into()),
                Outcome::Unknown => (":info", ":timed-out".into()),
            }
        };
        let _ = writeln!(out, "INFO  jepsen.util - {}\t{ty}\t{f}\t{value}", o.process);
    }
    out
}
