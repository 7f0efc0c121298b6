//! The sans-I/O interface between a variant and its drivers (the simulator and the QUIC runtime).
//!
//! A variant is two state machines sharing one message type: the replica (acceptor, proposer and learner in one)
//! and the client library that decides where commands go and when they are done. Every input carries `now`;
//! outputs go into a caller-owned [`Effects`]. Client requests reach a replica as messages from a
//! [`Peer::Client`], so there is exactly one input path for the network.

use crate::command::{Command, Reply};
use crate::effects::Effects;
use crate::journal::DurableState;
use crate::quorum::QuorumSystem;
use crate::reads::{ReadPath, Reads};
use crate::types::{NodeId, Peer, Slot, Time};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::time::Duration;

/// A protocol message. `kind` names it for the per-message-type counters.
pub trait Message: Clone + Debug + Serialize + DeserializeOwned + Send + 'static {
    fn kind(&self) -> &'static str;
}

/// Deliberate bugs, kept so that the tests can prove the checker catches them. Never set by a config file.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Mutation {
    #[default]
    None,
    /// An acceptor accepts a value even under a ballot lower than the one it promised.
    AcceptorIgnoresPromise,
    /// A new leader (or a Basic Paxos proposer) proposes its own value instead of the highest-ballot value
    /// reported in the promises.
    IgnorePromisedValues,
    /// The harness gives Flexible Paxos phase-1 and phase-2 quorums that do not intersect (q1 + q2 = N),
    /// bypassing the validation a config gets; the replicas themselves run unchanged.
    NonIntersectingQuorums,
    /// Fast Paxos recovery takes the least-voted value of the highest round instead of the one a fast quorum
    /// may have chosen.
    FastRecoveryIgnoresQuorumRule,
    /// A Cheap Paxos candidate wins Phase 1 with a quorum of its first slot's configuration alone, ignoring the
    /// reconfigurations decided or reported after it.
    CheapIgnoresReconfigurations,
    /// A Multi-Paxos-family acceptor answers a Prepare without making its promise durable: after a crash it
    /// has forgotten the promise and may accept a lower ballot's value.
    AnswerWithoutPersisting,
    /// A Multi-Paxos-family or Fast Paxos candidate leads without first learning the slots a promiser has
    /// compacted away, and fills them as if nobody had accepted anything there.
    LeadPastCompaction,
    /// A leader keeps answering reads from its state after its lease ran out (lease reads).
    LeaseReadAfterExpiry,
    /// A replica asked to answer a quorum read once it has applied a slot answers at once (quorum reads).
    QuorumReadBeforeApply,
    /// A Raft replica grants its vote without the up-to-date check: a candidate missing committed entries can
    /// win and overwrite them.
    RaftVotesForStaleLog,
    /// A Raft leader commits entries of earlier terms by counting the replicas that hold them, the rule the
    /// paper's Figure 8 shows unsafe; needing no entry of its own term to commit them, it appends no empty
    /// entry on election either (as designs with this rule do).
    RaftCommitsEarlierTermByCount,
    /// An EPaxos command leader takes the fast path with a fast quorum one replica smaller than `N - 1`.
    EpaxosFastQuorumTooSmall,
    /// An EPaxos replica runs a committed instance without waiting for the dependencies it has not seen
    /// committed.
    EpaxosExecutesWithoutDependency,
}

impl Mutation {
    /// Every mutant (all but `None`).
    pub const ALL: [Mutation; 13] = [
        Mutation::AcceptorIgnoresPromise,
        Mutation::IgnorePromisedValues,
        Mutation::NonIntersectingQuorums,
        Mutation::FastRecoveryIgnoresQuorumRule,
        Mutation::CheapIgnoresReconfigurations,
        Mutation::AnswerWithoutPersisting,
        Mutation::LeadPastCompaction,
        Mutation::LeaseReadAfterExpiry,
        Mutation::QuorumReadBeforeApply,
        Mutation::RaftVotesForStaleLog,
        Mutation::RaftCommitsEarlierTermByCount,
        Mutation::EpaxosFastQuorumTooSmall,
        Mutation::EpaxosExecutesWithoutDependency,
    ];

    /// Its name on the command line (`paxos-bench check --mutant NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Mutation::None => "none",
            Mutation::AcceptorIgnoresPromise => "acceptor-ignores-promise",
            Mutation::IgnorePromisedValues => "ignore-promised-values",
            Mutation::NonIntersectingQuorums => "non-intersecting-quorums",
            Mutation::FastRecoveryIgnoresQuorumRule => "fast-recovery-ignores-quorum-rule",
            Mutation::CheapIgnoresReconfigurations => "cheap-ignores-reconfigurations",
            Mutation::AnswerWithoutPersisting => "answer-without-persisting",
            Mutation::LeadPastCompaction => "lead-past-compaction",
            Mutation::LeaseReadAfterExpiry => "lease-read-after-expiry",
            Mutation::QuorumReadBeforeApply => "quorum-read-before-apply",
            Mutation::RaftVotesForStaleLog => "raft-votes-for-stale-log",
            Mutation::RaftCommitsEarlierTermByCount => "raft-commits-earlier-term-by-count",
            Mutation::EpaxosFastQuorumTooSmall => "epaxos-fast-quorum-too-small",
            Mutation::EpaxosExecutesWithoutDependency => "epaxos-executes-without-dependency",
        }
    }

    /// The read path a mutant lives on: it can only show on runs that read that way.
    pub fn read_path(self) -> Option<ReadPath> {
        match self {
            Mutation::LeaseReadAfterExpiry => Some(ReadPath::Lease),
            Mutation::QuorumReadBeforeApply => Some(ReadPath::Quorum),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Mutation> {
        Mutation::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Timing knobs. Defaults suit WAN round trips of up to a few hundred milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Tuning {
    pub heartbeat: Duration,
    /// An election starts after this long without hearing from the leader, randomized in `[t, 2t)`.
    pub election_timeout: Duration,
    /// An unanswered Accept or Prepare is sent again after this long.
    pub retransmit: Duration,
    /// Most commands in one log slot.
    pub batch_max: usize,
    /// Most slots a leader (or Basic Paxos proposer) has in flight at once.
    pub max_inflight: usize,
    /// Basic Paxos: first back-off after being pre-empted; it doubles with each retry, randomized.
    pub backoff: Duration,
    /// Log compaction (every variant): decided values and acceptor state kept behind what is applied, for peers
    /// that lag a little; older ones live only in the state machine, and a peer further behind gets a snapshot.
    pub log_keep: usize,
    /// Compact once this many applied slots past `log_keep` have piled up (0: never compact).
    pub compact_every: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            heartbeat: Duration::from_millis(50),
            election_timeout: Duration::from_millis(500),
            retransmit: Duration::from_millis(300),
            batch_max: 64,
            max_inflight: 32,
            backoff: Duration::from_millis(20),
            log_keep: 256,
            compact_every: 1024,
        }
    }
}

/// Everything fixed about one replica for its lifetime.
#[derive(Clone, Debug)]
pub struct ReplicaSetup {
    pub id: NodeId,
    pub quorums: QuorumSystem,
    /// The replica that leads first (leader-based variants).
    pub initial_leader: NodeId,
    pub tuning: Tuning,
    pub mutation: Mutation,
    /// Seed for this replica incarnation's random choices (back-offs, election timeouts).
    pub seed: u64,
    /// How reads are answered (variants that offer only the log ignore it).
    pub reads: Reads,
}

impl ReplicaSetup {
    pub fn n(&self) -> usize {
        self.quorums.n()
    }
}

/// What the checker and the reports can see of a replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReplicaStatus {
    /// Every slot below this has been applied to the state machine.
    pub applied_upto: Slot,
    pub state_digest: u64,
    pub is_leader: bool,
    pub counters: Counters,
    /// Log entries this replica holds: decided values its learner keeps plus values its acceptor keeps. Bounded
    /// by log compaction (`Tuning::log_keep`, `compact_every`); it grows with the run when compaction is off.
    pub held_entries: u64,
}

/// Protocol events a run reports, counted by the replica that saw them (volatile: a crash loses its counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counters {
    /// Fast Paxos: slots in which the coordinator saw fast votes for different commands.
    pub collisions: u64,
    /// Fast Paxos: slots the coordinator decided through a recovery (classic) round.
    pub recoveries: u64,
    /// EPaxos: instances this replica led that committed on the fast path (its slow paths are `collisions`,
    /// its explicit prepares finished `recoveries`).
    #[serde(default)]
    pub fast_paths: u64,
    /// Cheap Paxos: configuration changes this replica proposed and saw decided.
    pub reconfigurations: u64,
    /// Lease reads: reads this replica answered as leader from its state under a lease.
    pub lease_reads: u64,
    /// Lease reads: reads that reached the leader while it held no lease, and went through the log.
    pub lease_misses: u64,
    /// Lease reads: times this replica, having won Phase 1, waited out an earlier leader's lease.
    pub lease_waits: u64,
    /// Lease reads: how long those waits lasted in all, in nanoseconds of this replica's clock.
    pub lease_wait_ns: u64,
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        self.collisions += o.collisions;
        self.recoveries += o.recoveries;
        self.fast_paths += o.fast_paths;
        self.reconfigurations += o.reconfigurations;
        self.lease_reads += o.lease_reads;
        self.lease_misses += o.lease_misses;
        self.lease_waits += o.lease_waits;
        self.lease_wait_ns += o.lease_wait_ns;
    }
}

pub trait Replica: Sized + Send + 'static {
    type Msg: Message;
    type Timer: Copy + Debug + Send + 'static;
    /// The state that survives a crash: what an acceptor has promised and accepted, and the highest round its
    /// proposer has used. It changes only through records ([`crate::journal`]).
    type Durable: DurableState;

    fn new(setup: ReplicaSetup, now: Time, out: &mut Effects<Self::Msg, Self::Timer>) -> Self;
    /// Restart after a crash: volatile state is gone, `durable` is what was on disk.
    fn recover(
        setup: ReplicaSetup,
        durable: Self::Durable,
        now: Time,
        out: &mut Effects<Self::Msg, Self::Timer>,
    ) -> Self;
    fn on_message(
        &mut self,
        now: Time,
        from: Peer,
        msg: Self::Msg,
        out: &mut Effects<Self::Msg, Self::Timer>,
    );
    fn on_timer(
        &mut self,
        now: Time,
        timer: Self::Timer,
        out: &mut Effects<Self::Msg, Self::Timer>,
    );
    fn durable(&self) -> &Self::Durable;
    /// Moves the durable changes made since the last call into `into`, oldest first. A driver calls it after
    /// every input and makes them durable before it carries out any send of that input.
    fn take_records(&mut self, into: &mut Vec<DurableRecord<Self>>);
    fn status(&self) -> ReplicaStatus;
}

/// The record type of a replica's durable state.
pub type DurableRecord<R> = <<R as Replica>::Durable as DurableState>::Record;

/// Fixed facts a client library needs.
#[derive(Clone, Debug)]
pub struct ClientSetup {
    pub id: crate::types::ClientId,
    /// The replicas' quorum system (its `n`, and for Fast Paxos the fast quorum a client counts votes against).
    pub quorums: QuorumSystem,
    pub initial_leader: NodeId,
    /// Replicas ordered from nearest to farthest from this client (lowest id first on ties).
    pub by_distance: Vec<NodeId>,
    /// A command with no answer is sent again (to another replica) after this long.
    pub retry: Duration,
    /// How this client reads (a quorum read is the client's own work).
    pub reads: ReadPath,
}

impl ClientSetup {
    pub fn n(&self) -> usize {
        self.quorums.n()
    }
}

pub trait Client: Sized + Send + 'static {
    type Msg: Message;
    type Timer: Copy + Debug + Send + 'static;

    fn new(setup: ClientSetup) -> Self;
    /// Start a command. Its reply arrives later as a completion in `out`; a client that can tell its command is
    /// chosen before the reply (Fast Paxos) also reports that, as a learned command.
    fn submit(&mut self, now: Time, cmd: Command, out: &mut Effects<Self::Msg, Self::Timer>);
    fn on_message(
        &mut self,
        now: Time,
        from: NodeId,
        msg: Self::Msg,
        out: &mut Effects<Self::Msg, Self::Timer>,
    );
    fn on_timer(
        &mut self,
        now: Time,
        timer: Self::Timer,
        out: &mut Effects<Self::Msg, Self::Timer>,
    );
    /// Lowest sequence number not yet answered (commands below it are all done).
    fn ack_floor(&self) -> u64;
}

/// A variant: its replica and client sharing one message type.
pub trait Variant: 'static {
    const NAME: &'static str;
    /// The quorum settings a config may give it.
    const QUORUMS: crate::quorum::QuorumKind;
    /// Its replicas decide one log, in one order for every command. False for a variant that orders only
    /// interfering commands (EPaxos): its decisions name instances, not log positions, and the checker
    /// compares the orders in which replicas ran commands key by key instead of replaying a log.
    const TOTAL_ORDER: bool = true;
    type Msg: Message;
    type Replica: Replica<Msg = Self::Msg>;
    type Client: Client<Msg = Self::Msg>;
}

/// Replies a replica sends to a client, shared by the variants whose clients talk to one replica at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum ToClient {
    Reply {
        seq: u64,
        reply: Reply,
    },
    /// "I am not the leader; try this one" (or any other replica when the leader is unknown).
    Redirect {
        seq: u64,
        leader: Option<NodeId>,
    },
    /// A replica's answer to a quorum read: how far it has applied, the highest slot it accepted but has not
    /// applied that writes the key, and the key in its state.
    ReadState {
        seq: u64,
        applied: Slot,
        pending: Option<Slot>,
        reply: Reply,
    },
}

#[cfg(test)]
mod tests {
    use super::Mutation;

    #[test]
    fn every_mutant_has_its_own_name_and_is_found_by_it() {
        for m in Mutation::ALL {
            assert_ne!(m, Mutation::None);
            assert_eq!(Mutation::from_name(m.name()), Some(m));
        }
        assert_eq!(Mutation::from_name("none"), None);
        assert_eq!(Mutation::from_name("nope"), None);
    }
}
