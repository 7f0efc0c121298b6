//! The black-box linearizability checker: it sees only what clients saw (who invoked what when, and what came
//! back, if anything) and decides whether some order of the operations, consistent with real time, explains
//! every result on a single register. Nothing here reads the replicas' logs, so it can judge histories of any
//! system, including ones written by Jepsen for another database ([`jepsen`]).
//!
//! One register per history: a multi-key history is split by key first (linearizability is compositional),
//! and each key is searched on its own ([`search`], after Wing & Gong and Lowe, with memoisation of the
//! (set of linearized operations, register value) pairs already explored, as Knossos and Porcupine do). A
//! search that runs out of its time budget is reported as unknown, never as linearizable. A history that is
//! not linearizable comes with a witness ([`witness`]): a small set of its operations that cannot be ordered
//! by themselves.

pub mod from_run;
pub mod jepsen;
pub mod search;
pub mod unique;
pub mod witness;

use std::fmt;
use std::time::Duration;

/// What a client asked of the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegOp {
    Read,
    Write(u64),
    /// Compare-and-set: if the value is `from`, make it `to`.
    Cas {
        from: u64,
        to: u64,
    },
}

/// What came back. `Unknown` is an indeterminate outcome (a timeout, a crash of the client's replica): the
/// operation may have taken effect at any time after its invocation, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A read's result: `None` is the register's initial empty value (`nil`).
    Read(Option<u64>),
    Written,
    CasOk,
    /// The compare failed: the value was not `from` when the operation took effect, and nothing changed.
    CasFailed,
    Unknown,
}

/// One operation of a history. Times only need to be ordered (nanoseconds in this suite, line numbers in a
/// Jepsen log): `a` precedes `b` in real time iff `a.ret < b.call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub process: u64,
    pub op: RegOp,
    pub outcome: Outcome,
    pub call: u64,
    /// `None` when the outcome is unknown: the operation never returned.
    pub ret: Option<u64>,
}

impl Operation {
    /// Applies the operation to register value `v`: the new value, or None if the outcome is impossible from
    /// `v`.
    pub fn step(&self, v: Option<u64>) -> Option<Option<u64>> {
        match (self.op, self.outcome) {
            (RegOp::Read, Outcome::Read(r)) => (r == v).then_some(v),
            (RegOp::Read, _) => Some(v),
            (RegOp::Write(x), Outcome::Written | Outcome::Unknown) => Some(Some(x)),
            (RegOp::Cas { from, to }, Outcome::CasOk) => (v == Some(from)).then_some(Some(to)),
            (RegOp::Cas { from, .. }, Outcome::CasFailed) => (v != Some(from)).then_some(v),
            // Indeterminate: if it took effect here, the compare decided what it did.
            (RegOp::Cas { from, to }, Outcome::Unknown) => {
                Some(if v == Some(from) { Some(to) } else { v })
            }
            // A write can only have written (or be unknown); any other pairing is a malformed history, which
            // constructors refuse; treat it as impossible.
            _ => None,
        }
    }

    /// Whether the operation constrains nothing and changes nothing (a read with no result), so a search may
    /// leave it out.
    pub fn is_inert(&self) -> bool {
        matches!((self.op, self.outcome), (RegOp::Read, Outcome::Unknown))
    }

    /// The value this operation saw, if its result depends on one value (a read's result, a successful
    /// compare's `from`).
    pub fn observed(&self) -> Option<u64> {
        match (self.op, self.outcome) {
            (RegOp::Read, Outcome::Read(v)) => v,
            (RegOp::Cas { from, .. }, Outcome::CasOk) => Some(from),
            _ => None,
        }
    }

    /// The value this operation may have written.
    pub fn written(&self) -> Option<u64> {
        match (self.op, self.outcome) {
            (RegOp::Write(x), _) => Some(x),
            (RegOp::Cas { to, .. }, Outcome::CasOk | Outcome::Unknown) => Some(to),
            _ => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            RegOp::Read => "read".to_string(),
            RegOp::Write(x) => format!("write {x}"),
            RegOp::Cas { from, to } => format!("cas {from}->{to}"),
        };
        let out = match self.outcome {
            Outcome::Read(None) => "nil".to_string(),
            Outcome::Read(Some(v)) => v.to_string(),
            Outcome::Written | Outcome::CasOk => "ok".into(),
            Outcome::CasFailed => "fail".into(),
            Outcome::Unknown => "unknown".into(),
        };
        match self.ret {
            Some(r) => write!(
                f,
                "process {}: {op} -> {out} [{}, {r}]",
                self.process, self.call
            ),
            None => write!(
                f,
                "process {}: {op} -> {out} [{}, never returned]",
                self.process, self.call
            ),
        }
    }
}

/// The verdict on one register's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// Not linearizable; `witness` indexes the history's operations: a set that cannot be ordered by itself.
    NotLinearizable {
        witness: Vec<usize>,
    },
    /// The budget ran out before the search finished: no verdict.
    Unknown {
        explored: u64,
    },
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// Limits for one history: the search gives up (unknown) after `time` or after memoising `max_states`
/// configurations, whichever comes first, so a pathological history cannot take the machine's memory.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    pub max_states: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            time: Duration::from_secs(10),
            max_states: 4_000_000,
        }
    }
}

/// Decides one register's history; on "not linearizable", also finds a small witness (within a further
/// share of the budget; if that runs out, the witness is the smallest found so far). Histories with a value
/// per write and no compare-and-set take the fast exact test ([`unique`]); its refutations are confirmed by
/// the search on the operations it names, and should one not be, the whole history is searched.
pub fn check(ops: &[Operation], budget: Budget) -> Verdict {
    if unique::applies(ops) {
        match unique::check(ops) {
            None => return Verdict::Linearizable,
            Some(conflict) => {
                let start = match conflict {
                    unique::Conflict::NeverWritten(r) => vec![r],
                    unique::Conflict::ReadBeforeWrite { read, write } => vec![write, read],
                    unique::Conflict::Zones(v) => v,
                };
                if let Some(witness) = witness::shrink(ops, &start, budget) {
                    return Verdict::NotLinearizable { witness };
                }
            }
        }
    }
    match search::linearizable(ops, budget) {
        search::Found::Yes => Verdict::Linearizable,
        search::Found::Unknown { explored } => Verdict::Unknown { explored },
        search::Found::No { stuck } => Verdict::NotLinearizable {
            witness: witness::minimal(ops, stuck, budget),
        },
    }
}

/// The history of one register, checked: for a report line.
#[derive(Debug, Clone)]
pub struct KeyVerdict {
    pub key: String,
    pub ops: usize,
    pub verdict: Verdict,
    pub elapsed: Duration,
}

impl KeyVerdict {
    /// One line: "linearizable", "NOT linearizable" with the witness, or "unknown (budget)".
    pub fn describe(&self, ops: &[Operation]) -> String {
        match &self.verdict {
            Verdict::Linearizable => format!("{}: linearizable ({} operations)", self.key, self.ops),
            Verdict::Unknown { explored } => format!(
                "{}: unknown (budget): {} operations, {explored} configurations explored in {:.1} s",
                self.key,
                self.ops,
                self.elapsed.as_secs_f64()
            ),
            Verdict::NotLinearizable { witness } => {
                let list: Vec<String> = witness
                    .iter()
                    .filter_map(|&i| ops.get(i))
                    .map(|o| format!("    {o}"))
                    .collect();
                format!(
                    "{}: NOT linearizable ({} operations); these {} cannot be ordered:\n{}",
                    self.key,
                    self.ops,
                    witness.len(),
                    list.join("\n")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests;
