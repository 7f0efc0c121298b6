//! Leader leases: a leader answers reads from its own state while a phase-2 quorum has promised, on their own
//! clocks, not to help anyone else lead for a while.
//!
//! The rule, with lease length `L` and a drift bound `ρ` (every clock runs at a rate within `1 ± ρ` of true
//! time):
//!
//! - The leader stamps each lease request with its own clock `t0`. An acceptor that still follows the leader's
//!   ballot grants it until `its clock at receipt + L`. That grant lasts at least `L / (1 + ρ)` of true time
//!   after the leader sent the request.
//! - With grants for one request from a phase-2 quorum, the leader holds the lease until
//!   `t0 + L·(1 − ρ)/(1 + ρ)` on its clock: at most `L / (1 + ρ)` of true time after sending, so before any of
//!   those grants ends.
//! - Every phase-1 quorum meets every phase-2 quorum, so a candidate hears from at least one acceptor whose
//!   grant may still run. An acceptor reports what is left of its grants (on its clock, `r`) with its promise,
//!   and a new leader waits `r·(1 + ρ)/(1 − ρ)` on its own clock before it commits or answers a read: by then the
//!   grant, and so the old leader's lease, has ended in true time.
//! - A replica that restarts has forgotten its grants, so it reports a full `L` to the next candidate.
//! - A leader answers from its state only once it has applied every slot its Phase 1 found, so its state holds
//!   every write any earlier leader acknowledged.
//!
//! Grants are volatile: a lost grant only makes a candidate wait less if the acceptor also restarted, and a
//! restart reports a full lease.

use crate::quorum::NodeSet;
use crate::types::{Ballot, NodeId, Time};
use std::collections::BTreeMap;
use std::time::Duration;

const PPM: u128 = 1_000_000;

/// How long, on its own clock, a leader may rely on grants of length `lease`.
pub fn held_for(lease: Duration, drift_ppm: u32) -> Duration {
    let rho = drift_ppm.min(999_999) as u128;
    Duration::from_nanos((lease.as_nanos() * (PPM - rho) / (PPM + rho)) as u64)
}

/// How long, on its own clock, a new leader waits out a grant that had `left` to run on the grantor's clock.
pub fn wait_for(left: Duration, drift_ppm: u32) -> Duration {
    let rho = drift_ppm.min(999_999) as u128;
    let num = left.as_nanos() * (PPM + rho);
    let den = PPM - rho;
    Duration::from_nanos(num.div_ceil(den) as u64)
}

/// Rounds of lease requests a leader keeps waiting for grants; older ones are dropped (a later round renews).
const OPEN_ROUNDS: usize = 64;

/// The leader's side: the lease requests it has out and how long its lease holds.
#[derive(Debug, Clone)]
pub struct LeaseHolder {
    ballot: Ballot,
    rounds: BTreeMap<Time, NodeSet>,
    until: Option<Time>,
}

impl LeaseHolder {
    pub fn new(ballot: Ballot) -> LeaseHolder {
        LeaseHolder {
            ballot,
            rounds: BTreeMap::new(),
            until: None,
        }
    }

    /// A lease request stamped `stamp` goes out; the leader's own acceptor grants it at once.
    pub fn asked(&mut self, stamp: Time, me: NodeId) {
        let mut set = NodeSet::EMPTY;
        set.insert(me);
        self.rounds.insert(stamp, set);
        while self.rounds.len() > OPEN_ROUNDS {
            self.rounds.pop_first();
        }
    }

    /// `from` granted the request stamped `stamp`. With `is_quorum` grants the lease holds until
    /// `stamp + valid`.
    pub fn granted(
        &mut self,
        ballot: Ballot,
        stamp: Time,
        from: NodeId,
        valid: Duration,
        is_quorum: impl Fn(NodeSet) -> bool,
    ) {
        if ballot != self.ballot {
            return;
        }
        let Some(set) = self.rounds.get_mut(&stamp) else {
            return;
        };
        set.insert(from);
        if is_quorum(*set) {
            let until = stamp + valid;
            self.until = Some(self.until.map_or(until, |u| u.max(until)));
            // This round and every older one are settled: a later grant of them cannot extend the lease.
            self.rounds = self.rounds.split_off(&Time(stamp.0 + 1));
        }
    }

    /// Whether the lease holds at `now`. `ignore_expiry` is the mutant that keeps serving once it ever held one.
    pub fn holds(&self, now: Time, ignore_expiry: bool) -> bool {
        match self.until {
            Some(_) if ignore_expiry => true,
            Some(until) => now < until,
            None => false,
        }
    }
}

/// The acceptor's side: the grants it gave that may still run, by ballot.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    by_ballot: BTreeMap<Ballot, Time>,
    /// Until when a restarted acceptor assumes it granted someone a lease it no longer remembers.
    forgotten_until: Option<Time>,
}

impl Grants {
    /// A restarted acceptor: it may have granted a lease just before it crashed.
    pub fn after_restart(now: Time, lease: Duration) -> Grants {
        Grants {
            by_ballot: BTreeMap::new(),
            forgotten_until: Some(now + lease),
        }
    }

    /// Grants the leader of `ballot` a lease from `now` for `lease` (on this clock).
    pub fn grant(&mut self, ballot: Ballot, now: Time, lease: Duration) {
        let until = now + lease;
        let e = self.by_ballot.entry(ballot).or_insert(until);
        *e = (*e).max(until);
        self.by_ballot.retain(|_, u| *u > now);
    }

    /// What is left, on this clock, of the grants a candidate with `ballot` must wait out: every grant to
    /// another ballot, and a forgotten one.
    pub fn left_for(&self, ballot: Ballot, now: Time) -> Option<Duration> {
        let other = self
            .by_ballot
            .iter()
            .filter(|(b, _)| **b != ballot)
            .map(|(_, u)| *u);
        let until = other.chain(self.forgotten_until).max()?;
        (until > now).then(|| until.saturating_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn the_leader_relies_on_less_than_it_was_granted_and_a_successor_waits_for_more() {
        assert_eq!(held_for(ms(1000), 0), ms(1000));
        assert_eq!(wait_for(ms(1000), 0), ms(1000));
        // 10% drift: 1000 · 0.9/1.1 and 1000 · 1.1/0.9.
        assert_eq!(held_for(ms(1000), 100_000).as_micros(), 818_181);
        assert_eq!(wait_for(ms(1000), 100_000).as_micros(), 1_222_222);
    }

    /// The worst case of the rule, in true time: the leader's clock runs slow, so its lease looks longer; the
    /// grantor's runs fast, so its grant ends sooner. The lease must still end first.
    #[test]
    fn with_clocks_at_opposite_ends_of_the_bound_the_lease_ends_before_every_grant() {
        for ppm in [0u32, 1_000, 100_000, 400_000] {
            let rho = ppm as f64 / 1e6;
            let lease = 1.0;
            // Leader's clock runs at 1 − ρ: its held_for on its clock lasts held/(1 − ρ) of true time.
            let held = held_for(Duration::from_secs_f64(lease), ppm).as_secs_f64();
            let lease_ends_true = held / (1.0 - rho);
            // Grantor's clock runs at 1 + ρ and received the request at true time 0 (at the earliest).
            let grant_ends_true = lease / (1.0 + rho);
            assert!(lease_ends_true <= grant_ends_true + 1e-9, "ppm {ppm}");
            // A successor whose clock runs fast (1 + ρ) learns what is left, r, from a grantor whose clock runs
            // slow (1 − ρ): the grant may last r/(1 − ρ) of true time; the wait lasts wait/(1 + ρ).
            let r = 0.3;
            let wait = wait_for(Duration::from_secs_f64(r), ppm).as_secs_f64();
            assert!(wait / (1.0 + rho) >= r / (1.0 - rho) - 1e-9, "ppm {ppm}");
        }
    }

    #[test]
    fn a_lease_needs_a_quorum_of_grants_for_one_request_and_ends_on_time() {
        let b = Ballot::new(3, NodeId(0));
        let mut h = LeaseHolder::new(b);
        let majority = |s: NodeSet| s.len() >= 2;
        h.asked(Time(100), NodeId(0));
        assert!(!h.holds(Time(100), false));
        // A grant under another ballot, or for a request never sent, counts for nothing.
        h.granted(
            Ballot::new(2, NodeId(1)),
            Time(100),
            NodeId(1),
            ms(1),
            majority,
        );
        h.granted(b, Time(99), NodeId(1), ms(1), majority);
        assert!(!h.holds(Time(101), false));
        h.granted(b, Time(100), NodeId(2), ms(1), majority);
        assert!(h.holds(Time(101), false));
        let end = Time(100) + ms(1);
        assert!(!h.holds(end, false), "the lease ends at stamp + valid");
        assert!(h.holds(end, true), "only the mutant serves after it ends");
    }

    #[test]
    fn an_acceptor_reports_grants_to_other_ballots_and_a_forgotten_one() {
        let old = Ballot::new(1, NodeId(0));
        let new = Ballot::new(2, NodeId(1));
        let mut g = Grants::default();
        assert_eq!(g.left_for(new, Time(0)), None);
        g.grant(old, Time(0), ms(10));
        assert_eq!(g.left_for(new, Time(0) + ms(4)), Some(ms(6)));
        assert_eq!(
            g.left_for(old, Time(0) + ms(4)),
            None,
            "its own grant is no obstacle"
        );
        assert_eq!(
            g.left_for(new, Time(0) + ms(10)),
            None,
            "an ended grant is none"
        );
        let r = Grants::after_restart(Time(0) + ms(50), ms(10));
        assert_eq!(r.left_for(new, Time(0) + ms(55)), Some(ms(5)));
    }
}
