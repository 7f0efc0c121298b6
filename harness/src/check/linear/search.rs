//! The search for a linearization of one register's history: Wing & Gong's backtracking over the operations
//! that may go next, with Lowe's improvement of memoising every (set of linearized operations, register value)
//! configuration already explored, so that no configuration is expanded twice.
//!
//! The history is a list of call and return events in time order, kept as a doubly linked list: linearizing an
//! operation unlinks its two events, backtracking links them back (in reverse order, so the list is restored
//! exactly). The search walks the list from the front: a call may be linearized if the register allows its
//! result and the configuration is new; reaching a return means the operation returning there had to be
//! linearized already, so the last choice is undone.

use super::{Budget, Operation};
use std::collections::HashSet;
use std::time::Instant;

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Yes,
    /// No order exists. `stuck` is the operation whose return the search could not pass when it got
    /// furthest: where a witness is looked for.
    No {
        stuck: usize,
    },
    Unknown {
        explored: u64,
    },
}

const NIL: usize = usize::MAX;

#[derive(Clone, Copy)]
enum Event {
    Call(usize),
    Return(usize),
}

struct List {
    events: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_at: Vec<usize>,
    return_at: Vec<usize>,
}

impl List {
    /// The head sentinel is the last node.
    fn head(&self) -> usize {
        self.events.len()
    }

    fn unlink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        if n != NIL {
            self.prev[n] = x;
        }
    }

    fn lift(&mut self, op: usize) {
        self.unlink(self.call_at[op]);
        if self.return_at[op] != NIL {
            self.unlink(self.return_at[op]);
        }
    }

    fn unlift(&mut self, op: usize) {
        if self.return_at[op] != NIL {
            self.relink(self.return_at[op]);
        }
        self.relink(self.call_at[op]);
    }
}

fn build(ops: &[Operation]) -> List {
    // Calls sort before returns at the same time: operations that touch in time are concurrent.
    let mut timed: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
    for (i, o) in ops.iter().enumerate() {
        if o.is_inert() {
            continue;
        }
        timed.push((o.call, 0, i));
        if let Some(r) = o.ret {
            timed.push((r, 1, i));
        }
    }
    timed.sort_unstable();
    let m = timed.len();
    let mut list = List {
        events: Vec::with_capacity(m),
        next: vec![NIL; m + 1],
        prev: vec![NIL; m + 1],
        call_at: vec![NIL; ops.len()],
        return_at: vec![NIL; ops.len()],
    };
    for (k, &(_, kind, i)) in timed.iter().enumerate() {
        if kind == 0 {
            list.events.push(Event::Call(i));
            list.call_at[i] = k;
        } else {
            list.events.push(Event::Return(i));
            list.return_at[i] = k;
        }
        list.next[k] = if k + 1 < m { k + 1 } else { NIL };
        list.prev[k] = if k == 0 { m } else { k - 1 };
    }
    list.next[m] = if m > 0 { 0 } else { NIL };
    list
}

/// The same history with every value that no operation observes (no read returned it, no compare-and-set
/// compared against it) replaced by one value that nothing observes either. Which unobserved value the
/// register holds cannot change any outcome, so the verdict is the same, and configurations that differ only
/// in it become one: the memo then merges the many orders of concurrent writes that nobody read.
fn collapse_unobserved(ops: &[Operation]) -> Vec<Operation> {
    use super::{Outcome, RegOp};
    let mut observed = std::collections::HashSet::new();
    for o in ops {
        match (o.op, o.outcome) {
            (RegOp::Read, Outcome::Read(Some(v))) => {
                observed.insert(v);
            }
            (RegOp::Cas { from, .. }, _) => {
                observed.insert(from);
            }
            _ => {}
        }
    }
    // Distinct from every value in the history.
    let unobserved = (0..=u64::MAX)
        .rev()
        .find(|x| !observed.contains(x) && ops.iter().all(|o| o.written() != Some(*x)))
        .unwrap_or(u64::MAX);
    let hide = |v: u64| if observed.contains(&v) { v } else { unobserved };
    ops.iter()
        .map(|o| {
            let op = match o.op {
                RegOp::Write(x) => RegOp::Write(hide(x)),
                RegOp::Cas { from, to } => RegOp::Cas { from, to: hide(to) },
                RegOp::Read => RegOp::Read,
            };
            Operation { op, ..o.clone() }
        })
        .collect()
}

/// Whether `ops` (one register, initially empty) has a linearization, within `budget`.
pub fn linearizable(ops: &[Operation], budget: Budget) -> Found {
    let started = Instant::now();
    let ops = &collapse_unobserved(ops);
    let mut list = build(ops);
    let head = list.head();
    // Operations that never returned need not be placed: leaving them last is "never took effect".
    let must_place = ops
        .iter()
        .filter(|o| !o.is_inert() && o.ret.is_some())
        .count();
    let mut placed = 0usize;
    let mut value: Option<u64> = None;
    let mut linearized = vec![0u64; ops.len().div_ceil(64)];
    let mut seen: HashSet<(Vec<u64>, Option<u64>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<u64>)> = Vec::new();
    let (mut deepest, mut stuck) = (0usize, None::<usize>);
    let mut entry = list.next[head];
    let mut steps: u64 = 0;
    loop {
        if placed == must_place {
            return Found::Yes;
        }
        steps += 1;
        if steps % 1024 == 0 && started.elapsed() > budget.time {
            return Found::Unknown {
                explored: seen.len() as u64,
            };
        }
        let call = match (entry != NIL).then(|| list.events[entry]) {
            Some(Event::Call(i)) => Some(i),
            Some(Event::Return(i)) => {
                if stack.len() >= deepest || stuck.is_none() {
                    deepest = stack.len();
                    stuck = Some(i);
                }
                None
            }
            None => None,
        };
        if let Some(i) = call {
            if let Some(next_value) = ops[i].step(value) {
                linearized[i / 64] |= 1 << (i % 64);
                if seen.len() >= budget.max_states {
                    return Found::Unknown {
                        explored: seen.len() as u64,
                    };
                }
                if seen.insert((linearized.clone(), next_value)) {
                    stack.push((i, value));
                    value = next_value;
                    list.lift(i);
                    if ops[i].ret.is_some() {
                        placed += 1;
                    }
                    entry = list.next[head];
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
            }
            entry = list.next[entry];
            continue;
        }
        // A return of an operation not yet placed (or the end of the list): undo the last choice.
        let Some((j, before)) = stack.pop() else {
            return Found::No {
                stuck: stuck.unwrap_or(0),
            };
        };
        value = before;
        linearized[j / 64] &= !(1 << (j % 64));
        list.unlift(j);
        if ops[j].ret.is_some() {
            placed -= 1;
        }
        entry = list.next[list.call_at[j]];
    }
}
