//! Flexible Paxos (Howard, Malkhi and Spiegelman, "Flexible Paxos: Quorum intersection revisited", 2016).
//!
//! The paper's observation: Multi-Paxos is safe as long as every Phase 1 quorum meets every Phase 2 quorum; the
//! Phase 2 quorums need not meet each other. So the leader election waits for a Q1 of promises and every
//! steady-state slot for a Q2 of acceptances, where |Q1| + |Q2| > N (size-based), or Q1 is a full column and Q2
//! a full row of a grid (every column meets every row in exactly one replica). A small Q2 makes commits faster
//! and cheaper; the price is a larger Q1, so an election needs more replicas alive.
//!
//! This variant is Multi-Paxos's own code ([`crate::multi`]) with the quorum system from the setup: Phase 1 asks
//! [`QuorumSystem::is_phase1_quorum`](crate::quorum::QuorumSystem::is_phase1_quorum), Phase 2
//! [`QuorumSystem::is_phase2_quorum`](crate::quorum::QuorumSystem::is_phase2_quorum). What differs from `multi`
//! is the quorum system a config may give it: `multi` is majority-only, `flexible` takes `q1`/`q2` or `grid`,
//! validated when the config is read (an unsafe pair is refused with both sizes and N).

use crate::client::LeaderClient;
use crate::multi::reconfig::FixedMembership;
use crate::multi::{MultiMsg, MultiReplica};
use crate::replica::Variant;

pub struct Flexible;

impl Variant for Flexible {
    const NAME: &'static str = "flexible";
    const QUORUMS: crate::quorum::QuorumKind = crate::quorum::QuorumKind::PhaseQuorums;
    type Msg = MultiMsg;
    type Replica = MultiReplica<FixedMembership>;
    type Client = LeaderClient<MultiMsg>;
}
