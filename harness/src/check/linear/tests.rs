use super::*;
use super::{jepsen, search, unique};
use paxos_variants::rng::DetRng;
use proptest::prelude::*;

fn op(process: u64, op: RegOp, outcome: Outcome, call: u64, ret: Option<u64>) -> Operation {
    Operation {
        process,
        op,
        outcome,
        call,
        ret,
    }
}

fn budget() -> Budget {
    Budget::default()
}

/// A history that is linearizable by construction: operations take effect one after another at increasing
/// points in time, each result computed from the register at its point, and each interval is stretched
/// around its point by a random amount (so many overlap). Some outcomes are then hidden (unknown).
fn linearizable_history(seed: u64, n: usize, processes: u64) -> Vec<Operation> {
    history_with(seed, n, processes, true)
}

fn history_with(seed: u64, n: usize, processes: u64, cas: bool) -> Vec<Operation> {
    let mut rng = DetRng::new(seed);
    let mut value: Option<u64> = None;
    let mut free_at = vec![0u64; processes as usize];
    let mut ops = Vec::new();
    let mut next_write = 1u64;
    for k in 0..n {
        let point = 100 + 10 * k as u64;
        // A process that is idle at this point.
        let Some(p) = (0..processes).find(|&p| free_at[p as usize] < point - 5) else {
            continue;
        };
        let call = point - 1 - rng.below(4);
        let ret = point + 1 + rng.below(40);
        free_at[p as usize] = ret;
        let (o, outcome) = match rng.below(if cas { 3 } else { 2 }) {
            0 => (RegOp::Read, Outcome::Read(value)),
            1 => {
                let x = next_write;
                next_write += 1;
                value = Some(x);
                (RegOp::Write(x), Outcome::Written)
            }
            _ => {
                let from = if rng.chance(0.5) {
                    value.unwrap_or(0)
                } else {
                    rng.below(next_write + 1)
                };
                let to = next_write;
                next_write += 1;
                if value == Some(from) {
                    value = Some(to);
                    (RegOp::Cas { from, to }, Outcome::CasOk)
                } else {
                    (RegOp::Cas { from, to }, Outcome::CasFailed)
                }
            }
        };
        ops.push(op(p, o, outcome, call, Some(ret)));
    }
    ops
}

#[test]
fn histories_built_from_a_sequential_order_are_linearizable() {
    for seed in 0..200 {
        let h = linearizable_history(seed, 60, 5);
        assert_eq!(check(&h, budget()), Verdict::Linearizable, "seed {seed}");
    }
}

#[test]
fn a_read_of_an_overwritten_value_is_caught_with_a_small_witness() {
    let mut h = linearizable_history(7, 80, 4);
    let end = h.iter().filter_map(|o| o.ret).max().unwrap_or(0);
    let old = h
        .iter()
        .rev()
        .find_map(|o| match (o.op, o.outcome) {
            (RegOp::Write(x), Outcome::Written) => Some(x),
            _ => None,
        })
        .expect("the history writes");
    h.push(op(
        9,
        RegOp::Write(1000),
        Outcome::Written,
        end + 10,
        Some(end + 20),
    ));
    h.push(op(
        9,
        RegOp::Read,
        Outcome::Read(Some(old)),
        end + 30,
        Some(end + 40),
    ));
    let Verdict::NotLinearizable { witness } = check(&h, budget()) else {
        panic!("a stale read passed");
    };
    let w: Vec<&Operation> = witness.iter().map(|&i| &h[i]).collect();
    assert!(w.len() <= 3, "witness too large: {w:?}");
    let sub: Vec<Operation> = w.iter().map(|o| (*o).clone()).collect();
    assert!(!check(&sub, budget()).is_linearizable(), "{w:?}");
    assert!(
        w.iter().any(|o| o.outcome == Outcome::Read(Some(old))),
        "{w:?}"
    );
}

#[test]
fn an_unknown_write_may_take_effect_or_not_but_not_twice() {
    let w = op(1, RegOp::Write(5), Outcome::Unknown, 0, None);
    let seen = op(2, RegOp::Read, Outcome::Read(Some(5)), 10, Some(11));
    let not_seen = op(3, RegOp::Read, Outcome::Read(None), 10, Some(11));
    assert!(check(&[w.clone(), seen.clone()], budget()).is_linearizable());
    assert!(check(&[w.clone(), not_seen.clone()], budget()).is_linearizable());
    // Seen, then not seen, then seen again: it cannot have taken effect twice.
    let h = vec![
        w,
        op(2, RegOp::Read, Outcome::Read(Some(5)), 10, Some(11)),
        op(3, RegOp::Read, Outcome::Read(None), 12, Some(13)),
    ];
    assert!(matches!(
        check(&h, budget()),
        Verdict::NotLinearizable { .. }
    ));
}

#[test]
fn a_failed_compare_says_the_value_was_different() {
    let h = vec![
        op(1, RegOp::Write(3), Outcome::Written, 0, Some(1)),
        op(
            2,
            RegOp::Cas { from: 3, to: 4 },
            Outcome::CasFailed,
            2,
            Some(3),
        ),
    ];
    assert!(!check(&h, budget()).is_linearizable());
    let h = vec![
        op(1, RegOp::Write(3), Outcome::Written, 0, Some(1)),
        op(2, RegOp::Cas { from: 3, to: 4 }, Outcome::CasOk, 2, Some(3)),
        op(3, RegOp::Read, Outcome::Read(Some(4)), 4, Some(5)),
    ];
    assert!(check(&h, budget()).is_linearizable());
}

#[test]
fn concurrent_operations_may_take_effect_in_either_order() {
    // Two overlapping writes; two later reads agree on the one that went last.
    let h = vec![
        op(1, RegOp::Write(1), Outcome::Written, 0, Some(10)),
        op(2, RegOp::Write(2), Outcome::Written, 1, Some(9)),
        op(3, RegOp::Read, Outcome::Read(Some(1)), 11, Some(12)),
        op(4, RegOp::Read, Outcome::Read(Some(1)), 13, Some(14)),
    ];
    assert!(check(&h, budget()).is_linearizable());
    // ... but not disagree once both writes are over.
    let h = vec![
        op(1, RegOp::Write(1), Outcome::Written, 0, Some(10)),
        op(2, RegOp::Write(2), Outcome::Written, 1, Some(9)),
        op(3, RegOp::Read, Outcome::Read(Some(1)), 11, Some(12)),
        op(4, RegOp::Read, Outcome::Read(Some(2)), 13, Some(14)),
    ];
    assert!(!check(&h, budget()).is_linearizable());
}

#[test]
fn an_exhausted_budget_is_unknown_never_linearizable() {
    // Twelve concurrent writes of which the reads demand an order no single sequence has, so the search
    // has to explore many subsets: with no time at all it must give up, not pass.
    let mut h: Vec<Operation> = (0..12)
        .map(|p| op(p, RegOp::Write(p + 1), Outcome::Written, 0, Some(1000)))
        .collect();
    // A compare that never succeeds keeps the history off the fast path, so the search is what is tested.
    h.push(op(
        40,
        RegOp::Cas { from: 99, to: 100 },
        Outcome::CasFailed,
        0,
        Some(1000),
    ));
    for (k, v) in [3u64, 5, 3].iter().enumerate() {
        let t = 2000 + 10 * k as u64;
        h.push(op(
            30 + k as u64,
            RegOp::Read,
            Outcome::Read(Some(*v)),
            t,
            Some(t + 1),
        ));
    }
    let none = Budget {
        time: std::time::Duration::ZERO,
        max_states: usize::MAX,
    };
    let v = check(&h, none);
    assert!(matches!(v, Verdict::Unknown { .. }), "with no time: {v:?}");
    let few = Budget {
        time: std::time::Duration::from_secs(60),
        max_states: 100,
    };
    assert!(matches!(check(&h, few), Verdict::Unknown { .. }));
    assert!(matches!(
        check(&h, budget()),
        Verdict::NotLinearizable { .. }
    ));
}

#[test]
fn jepsen_files_round_trip() {
    for seed in 0..20 {
        let mut h = linearizable_history(seed, 40, 4);
        // One hidden outcome of each kind: a write and a read with no return.
        h.push(op(7, RegOp::Write(77), Outcome::Unknown, 5000, None));
        h.push(op(8, RegOp::Read, Outcome::Unknown, 5001, None));
        let text = jepsen::write(&h);
        let back = jepsen::parse(&text).expect("our own file parses");
        assert_eq!(check(&back, budget()), check(&h, budget()), "seed {seed}");
        // Same operations (the read with no result is dropped, as a failed read).
        let key = |o: &Operation| (o.process, format!("{:?}{:?}", o.op, o.outcome));
        let mut a: Vec<_> = h.iter().filter(|o| !o.is_inert()).map(key).collect();
        let mut b: Vec<_> = back.iter().map(key).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "seed {seed}");
        // Real-time order survives the change of clock (nanoseconds to line numbers): pair the operations up
        // by invocation order (ties by process, as the file writes them).
        let mut x: Vec<&Operation> = h.iter().filter(|o| !o.is_inert()).collect();
        x.sort_by_key(|o| (o.call, o.process));
        let mut y: Vec<&Operation> = back.iter().collect();
        y.sort_by_key(|o| (o.call, o.process));
        let before = |a: &Operation, b: &Operation| a.ret.is_some_and(|r| r < b.call);
        for i in 0..x.len() {
            assert_eq!(
                (x[i].process, x[i].op, x[i].outcome),
                (y[i].process, y[i].op, y[i].outcome)
            );
            for j in 0..x.len() {
                assert_eq!(before(x[i], x[j]), before(y[i], y[j]), "seed {seed}");
            }
        }
    }
}

#[test]
fn malformed_jepsen_files_are_refused_with_the_line() {
    let bad = [
        ("INFO  jepsen.util - 1\t:ok\t:read\t3\n", "never invoked"),
        (
            "INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\n",
            "invokes again",
        ),
        ("INFO  jepsen.util - 1\t:invoke\t:write\tx\n", "not a value"),
        ("INFO  jepsen.util - 1\t:invoke\t:cas\t[1]\n", "not a pair"),
        ("INFO  jepsen.util - 1\t:invoke\t:append\t3\n", ":append"),
        ("INFO  jepsen.util - 1\t:done\t:read\t3\n", ":done"),
        ("INFO  jepsen.util - 1 :invoke\n", "expected PROCESS"),
        ("hello\n", "no client events"),
    ];
    for (text, what) in bad {
        let e = jepsen::parse(text).expect_err(text).to_string();
        assert!(e.contains(what), "{text:?}: {e}");
    }
    // Other loggers and the nemesis are skipped.
    let ok = "INFO  jepsen.core - starting\nINFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
              INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n";
    assert_eq!(jepsen::parse(ok).map(|h| h.len()), Ok(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Changing one read's result in a linearizable history to a value never written is always caught,
    /// and the witness contains that read.
    #[test]
    fn a_read_of_a_value_never_written_is_always_caught(seed in 0u64..10_000, pick in 0usize..1000) {
        let mut h = linearizable_history(seed, 50, 5);
        let reads: Vec<usize> = (0..h.len()).filter(|&i| h[i].op == RegOp::Read).collect();
        prop_assume!(!reads.is_empty());
        let r = reads[pick % reads.len()];
        h[r].outcome = Outcome::Read(Some(999_999));
        match check(&h, budget()) {
            Verdict::NotLinearizable { witness } => prop_assert!(witness.contains(&r)),
            other => prop_assert!(false, "not caught: {:?}", other),
        }
    }

    /// The witness is evidence on its own: the operations it names cannot be ordered.
    #[test]
    fn a_witness_cannot_be_ordered_by_itself(seed in 0u64..10_000, pick in 0usize..1000) {
        let mut h = linearizable_history(seed, 50, 5);
        let reads: Vec<usize> = (0..h.len()).filter(|&i| matches!(h[i].outcome, Outcome::Read(Some(_)))).collect();
        prop_assume!(!reads.is_empty());
        let r = reads[pick % reads.len()];
        // A stale read: make it return nil, the initial value, though a write completed before it.
        h[r].outcome = Outcome::Read(None);
        if let Verdict::NotLinearizable { witness } = check(&h, budget()) {
            let sub: Vec<Operation> = witness.iter().map(|&i| h[i].clone()).collect();
            prop_assert!(!check(&sub, budget()).is_linearizable());
        }
    }
}

/// A random history of a read/write register with a value per write, linearizable or not: intervals at random,
/// reads of random written values (or nil), some outcomes unknown.
fn random_unique_history(seed: u64, n: usize) -> Vec<Operation> {
    let mut rng = DetRng::new(seed);
    let mut ops = Vec::new();
    let mut written = vec![];
    for k in 0..n {
        let call = rng.below(60);
        let ret = call + rng.below(25);
        let unknown = rng.chance(0.1);
        if rng.chance(0.5) {
            let x = k as u64 + 1;
            written.push(x);
            let (outcome, ret) = if unknown {
                (Outcome::Unknown, None)
            } else {
                (Outcome::Written, Some(ret))
            };
            ops.push(op(k as u64, RegOp::Write(x), outcome, call, ret));
        } else {
            let v = if written.is_empty() || rng.chance(0.2) {
                None
            } else {
                Some(written[rng.below(written.len() as u64) as usize])
            };
            ops.push(op(k as u64, RegOp::Read, Outcome::Read(v), call, Some(ret)));
        }
    }
    ops
}

#[test]
fn the_fast_test_and_the_search_agree() {
    let (mut yes, mut no) = (0, 0);
    for seed in 0..4000 {
        let h = random_unique_history(seed, 2 + (seed % 9) as usize);
        assert!(unique::applies(&h));
        let fast = unique::check(&h).is_none();
        let slow = search::linearizable(&h, budget()) == search::Found::Yes;
        assert_eq!(fast, slow, "seed {seed}: {h:#?}");
        if fast {
            yes += 1;
        } else {
            no += 1;
        }
    }
    // Both verdicts were exercised, many times.
    assert!(yes > 500 && no > 500, "{yes} linearizable, {no} not");
    // And on histories linearizable by construction, with many concurrent operations.
    for seed in 0..200 {
        let h = history_with(seed, 300, 16, false);
        assert!(unique::applies(&h));
        assert_eq!(unique::check(&h), None, "seed {seed}");
    }
}
