//! Fast Paxos's value-pick rule (Lamport, "Fast Paxos", 2006, section 3.3), used by every recovery: after a
//! collision (coordinated recovery from the fast round's own votes), after a stuck slot (a range recovery), and
//! when a new coordinator takes over (Phase 1).
//!
//! Given the latest votes of a set Q of at least a classic quorum of acceptors for one slot: let k be the highest
//! round any of them voted in and V the values voted in k. If V is empty, any value is safe. If k is a classic
//! round, V has one value, and it is the one. If k is a fast round, a value v may have been chosen in k only if
//! it has at least |Q| + f - n votes in Q (a fast quorum of f minus the n - |Q| acceptors outside Q); the rule
//! c + 2f > 2n guarantees at most one value qualifies. Pick it if there is one; otherwise any value of V may be
//! picked (we take the one with most votes, ties to the smallest, so the choice is deterministic).

use super::Round;
use crate::command::Value;
use crate::types::NodeId;

/// The value recovery must propose for a slot, or `None` when any value is safe.
///
/// `votes` are the latest votes for the slot of the acceptors in Q (those of Q that never voted in it are
/// simply absent); `q` is |Q|, `n` the number of acceptors and `fast` the fast quorum size. `mutant` picks the
/// least-voted value of V regardless of the rule (a deliberately broken recovery the checker must catch).
pub fn pick(
    votes: &[(NodeId, Round, Value)],
    q: usize,
    n: usize,
    fast: usize,
    mutant: bool,
) -> Option<Value> {
    let k = votes.iter().map(|(_, r, _)| *r).max()?;
    let mut tally: Vec<(Value, usize)> = Vec::new();
    for (_, _, v) in votes.iter().filter(|(_, r, _)| *r == k) {
        match tally.iter_mut().find(|(x, _)| x == v) {
            Some((_, c)) => *c += 1,
            None => tally.push((v.clone(), 1)),
        }
    }
    // Deterministic order: most votes first, then by the value's first command id.
    tally.sort_by(|(a, ca), (b, cb)| cb.cmp(ca).then_with(|| key(a).cmp(&key(b))));
    if mutant {
        return tally.last().map(|(v, _)| v.clone());
    }
    if k.classic {
        return tally.first().map(|(v, _)| v.clone());
    }
    let threshold = (q + fast).saturating_sub(n);
    if let Some((v, _)) = tally.iter().find(|(_, c)| *c >= threshold.max(1)) {
        return Some(v.clone());
    }
    tally.first().map(|(v, _)| v.clone())
}

fn key(v: &Value) -> Option<(u32, u64)> {
    v.commands().first().map(|c| (c.client.0, c.seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Op};
    use crate::types::{Ballot, ClientId};

    fn cmd(c: u32) -> Value {
        Value::batch(vec![Command {
            client: ClientId(c),
            seq: 0,
            ack: 0,
            op: Op::Get { key: 0 },
        }])
    }

    fn fast_round(b: u64) -> Round {
        Round {
            ballot: Ballot::new(b, NodeId(0)),
            classic: false,
        }
    }

    fn classic_round(b: u64) -> Round {
        Round {
            ballot: Ballot::new(b, NodeId(0)),
            classic: true,
        }
    }

    #[test]
    fn a_value_that_may_have_been_chosen_fast_is_kept() {
        // n = 5, f = 4, Q = 3 acceptors: a value chosen by a fast quorum of 4 has >= 3 + 4 - 5 = 2 votes in Q.
        let votes = vec![
            (NodeId(0), fast_round(1), cmd(7)),
            (NodeId(1), fast_round(1), cmd(7)),
            (NodeId(2), fast_round(1), cmd(9)),
        ];
        assert_eq!(pick(&votes, 3, 5, 4, false), Some(cmd(7)));
        // The broken recovery takes the other one.
        assert_eq!(pick(&votes, 3, 5, 4, true), Some(cmd(9)));
    }

    #[test]
    fn the_highest_round_wins_and_a_classic_round_is_taken_as_is() {
        let votes = vec![
            (NodeId(0), fast_round(1), cmd(1)),
            (NodeId(1), fast_round(1), cmd(1)),
            (NodeId(2), classic_round(1), cmd(2)),
        ];
        assert_eq!(pick(&votes, 3, 5, 4, false), Some(cmd(2)));
        let later = vec![
            (NodeId(0), classic_round(1), cmd(2)),
            (NodeId(1), fast_round(2), cmd(3)),
        ];
        assert_eq!(pick(&later, 3, 5, 4, false), Some(cmd(3)));
    }

    #[test]
    fn no_votes_leave_the_choice_free_and_no_qualifier_takes_the_most_voted() {
        assert_eq!(pick(&[], 3, 5, 4, false), None);
        // Q = 3 of 5 with votes 1/1/1 for three values: none reaches 2, any may be taken; deterministic.
        let votes = vec![
            (NodeId(0), fast_round(1), cmd(5)),
            (NodeId(1), fast_round(1), cmd(4)),
            (NodeId(2), fast_round(1), cmd(6)),
        ];
        assert_eq!(pick(&votes, 3, 5, 4, false), Some(cmd(4)));
    }
}
