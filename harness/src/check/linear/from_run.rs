//! A run's client history as the black-box checker sees it: one register per key, with each written value
//! (bytes) numbered in the order writes were invoked, and each client's concurrent operations (a window of
//! several) on processes of their own, so that every process has one operation open at a time.

use super::{Operation, Outcome, RegOp};
use crate::check::history::History;
use bytes::Bytes;
use paxos_variants::{Op, Reply};
use std::collections::{BTreeMap, HashMap};

/// One register's operations, by key, in key order.
pub fn registers(h: &History) -> BTreeMap<u64, Vec<Operation>> {
    // Every operation in invocation order (client and sequence number break ties), so numbering is stable.
    let mut all: Vec<(u64, u64, u64)> = Vec::new();
    for (client, ops) in h.ops.iter().enumerate() {
        for (seq, r) in ops.iter().enumerate() {
            all.push((r.invoked_ns, client as u64, seq as u64));
        }
    }
    all.sort_unstable();

    let mut numbers: HashMap<(u64, Bytes), u64> = HashMap::new();
    let mut next_number: HashMap<u64, u64> = HashMap::new();
    let mut number = |key: u64, v: &Bytes| -> u64 {
        if let Some(n) = numbers.get(&(key, v.clone())) {
            return *n;
        }
        let n = next_number.entry(key).or_insert(0);
        *n += 1;
        numbers.insert((key, v.clone()), *n);
        *n
    };
    // Writes (and compare-and-set's new values) get their numbers first, in invocation order; a read of
    // bytes nobody wrote gets a fresh one.
    for &(_, c, s) in &all {
        match &h.ops[c as usize][s as usize].op {
            Op::Put { key, value }
            | Op::Cas {
                key, new: value, ..
            } => {
                number(*key, value);
            }
            Op::Get { .. } => {}
        }
    }

    // Processes: each client has lanes; an operation takes the first lane of its client that is free.
    let mut lanes: HashMap<u64, Vec<(u64, Option<u64>)>> = HashMap::new(); // client -> (process, busy until)
    let mut next_process = 0u64;
    let mut out: BTreeMap<u64, Vec<Operation>> = BTreeMap::new();
    for &(call, c, s) in &all {
        let r = &h.ops[c as usize][s as usize];
        let ret = r.completed.as_ref().map(|(t, _)| *t);
        let mine = lanes.entry(c).or_default();
        let process = match mine
            .iter_mut()
            .find(|(_, busy)| busy.is_some_and(|b| b < call))
        {
            Some(lane) => {
                lane.1 = ret;
                lane.0
            }
            None => {
                let p = next_process;
                next_process += 1;
                mine.push((p, ret));
                p
            }
        };
        let (key, op) = match &r.op {
            Op::Put { key, value } => (*key, RegOp::Write(number(*key, value))),
            Op::Get { key } => (*key, RegOp::Read),
            Op::Cas { key, expect, new } => (
                *key,
                RegOp::Cas {
                    from: number(*key, expect),
                    to: number(*key, new),
                },
            ),
        };
        let outcome = match (&r.completed, op) {
            (None, _) => Outcome::Unknown,
            (Some((_, Reply::Read { value, .. })), RegOp::Read) => {
                Outcome::Read(value.as_ref().map(|v| number(key, v)))
            }
            (Some((_, Reply::Written { .. })), RegOp::Write(_)) => Outcome::Written,
            (Some((_, Reply::Cas { ok: true, .. })), RegOp::Cas { .. }) => Outcome::CasOk,
            (Some((_, Reply::Cas { ok: false, .. })), RegOp::Cas { .. }) => Outcome::CasFailed,
            // A reply of the wrong kind: no register outcome explains it.
            (Some(_), _) => Outcome::Read(Some(u64::MAX)),
        };
        out.entry(key).or_default().push(Operation {
            process,
            op,
            outcome,
            call,
            ret,
        });
    }
    out
}
