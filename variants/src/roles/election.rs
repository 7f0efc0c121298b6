//! Who leads, as far as this replica knows, and when it stops waiting for a leader and runs itself: the
//! leader-election timing of every leader-based variant (Multi, Flexible, Cheap and Fast Paxos).
//!
//! A follower that has heard nothing from a leader for its election timeout starts Phase 1. The timeout is
//! randomized in `[t, 2t)` so that candidates rarely collide, and every election lost in a row doubles `t` (up to
//! 32 times the configured value), so that candidates whose round trips are longer than the configured timeout
//! stop pre-empting each other; hearing a leader, or winning, resets it. The random draws come from the
//! replica's own seeded stream, in the order the replica asks for them, so a run stays a function of its seed.

use crate::rng::DetRng;
use crate::types::{NodeId, Time};
use std::time::Duration;

/// Most doublings of the election timeout after lost elections (2^5 = 32 times the configured value).
const MAX_DOUBLINGS: u32 = 5;

#[derive(Debug)]
pub struct Election {
    rng: DetRng,
    /// The configured timeout `t`.
    base: Duration,
    /// This round's randomized timeout.
    timeout: Duration,
    /// Elections lost in a row.
    failed: u32,
    /// When this replica last heard a leader (or gave a candidate a chance).
    last_contact: Time,
    /// The replica this one believes leads.
    leader: Option<NodeId>,
}

impl Election {
    /// A replica's election timing, with its first timeout drawn.
    pub fn new(seed: u64, base: Duration, now: Time) -> Election {
        let mut e = Election {
            rng: DetRng::new(seed),
            base,
            timeout: Duration::ZERO,
            failed: 0,
            last_contact: now,
            leader: None,
        };
        e.redraw();
        e
    }

    /// Draws this round's timeout: `t` doubled once per election lost in a row, plus up to as much again.
    pub fn redraw(&mut self) {
        let base = (self.base.as_nanos() as u64) << self.failed.min(MAX_DOUBLINGS);
        self.timeout = Duration::from_nanos(base + self.rng.below(base.max(1)));
    }

    #[inline]
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// Believes `leader` leads (the initial leader, before anything is heard).
    pub fn assume(&mut self, leader: NodeId) {
        self.leader = Some(leader);
    }

    /// A message of a leader's current ballot arrived.
    #[inline]
    pub fn heard_leader(&mut self, now: Time, leader: NodeId) {
        self.leader = Some(leader);
        self.last_contact = now;
        self.failed = 0;
    }

    /// A higher ballot ended this replica's candidacy or leadership: `leader` is the one to follow now.
    pub fn stepped_down(&mut self, now: Time, leader: NodeId) {
        self.leader = Some(leader);
        self.last_contact = now;
        self.redraw();
    }

    /// A later round ended this replica's candidacy or leadership without naming a leader (Raft: another
    /// candidate's term): like [`Election::stepped_down`], it gives that round a fresh timeout before running
    /// itself, so two candidates whose round trips exceed the timeout do not pre-empt each other forever.
    pub fn stepped_down_unled(&mut self, now: Time) {
        self.leader = None;
        self.last_contact = now;
        self.redraw();
    }

    /// This replica has just started Phase 1: nobody is known to lead, and a fresh timeout runs.
    pub fn campaigning(&mut self) {
        self.leader = None;
        self.redraw();
    }

    /// This replica's candidacy timed out without winning.
    pub fn lost(&mut self) {
        self.failed += 1;
    }

    /// This replica won Phase 1.
    pub fn won(&mut self, me: NodeId) {
        self.leader = Some(me);
        self.failed = 0;
    }

    /// Gives a candidate time to win before this replica runs itself (it promised the candidate's ballot).
    #[inline]
    pub fn wait(&mut self, now: Time) {
        self.last_contact = now;
    }

    /// A follower that has heard no leader for its timeout should run.
    #[inline]
    pub fn follower_timed_out(&self, now: Time) -> bool {
        now.saturating_since(self.last_contact) >= self.timeout
    }

    /// A candidate that started at `started` and has not won within its timeout should try again higher.
    #[inline]
    pub fn candidacy_timed_out(&self, started: Time, now: Time) -> bool {
        now.saturating_since(started) >= self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_millis(100);

    fn at(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }

    #[test]
    fn the_timeout_is_randomized_in_t_to_2t_and_doubles_with_each_lost_election() {
        let mut e = Election::new(7, T, at(0));
        for _ in 0..50 {
            e.redraw();
            assert!(e.timeout >= T && e.timeout < 2 * T, "{:?}", e.timeout);
        }
        e.lost();
        e.lost();
        e.redraw();
        assert!(e.timeout >= 4 * T && e.timeout < 8 * T, "{:?}", e.timeout);
        for _ in 0..10 {
            e.lost();
        }
        e.redraw();
        assert!(e.timeout < 64 * T, "capped at 32 t: {:?}", e.timeout);
        e.won(NodeId(1));
        e.redraw();
        assert!(e.timeout < 2 * T && e.leader() == Some(NodeId(1)));
    }

    #[test]
    fn a_follower_runs_only_after_hearing_nothing_for_its_timeout() {
        let mut e = Election::new(3, T, at(0));
        e.assume(NodeId(0));
        assert!(!e.follower_timed_out(at(99)));
        assert!(e.follower_timed_out(at(200)));
        e.heard_leader(at(150), NodeId(2));
        assert!(!e.follower_timed_out(at(200)) && e.leader() == Some(NodeId(2)));
        e.campaigning();
        assert_eq!(e.leader(), None);
        assert!(!e.candidacy_timed_out(at(300), at(350)));
        assert!(e.candidacy_timed_out(at(300), at(500)));
    }

    #[test]
    fn the_same_seed_draws_the_same_timeouts() {
        let draws = |seed| {
            let mut e = Election::new(seed, T, at(0));
            (0..5)
                .map(|_| {
                    e.redraw();
                    e.timeout
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(11), draws(11));
        assert_ne!(draws(11), draws(12));
    }
}
