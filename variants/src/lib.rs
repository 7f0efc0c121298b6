//! Paxos variants as sans-I/O state machines.
//!
//! Nothing in this crate touches a socket, a clock or a thread: every input carries `now`, every output goes into
//! an [`Effects`](effects::Effects) buffer, and randomness comes from a seeded [`DetRng`](rng::DetRng). The same
//! code is driven by the deterministic simulator and by the QUIC runtime in `paxos-harness`.
//!
//! Where things are:
//! - [`replica`]: the `Replica`, `Client` and `Variant` traits, setup and tuning, test-only mutations.
//! - [`quorum`]: validated quorum systems (majority, flexible, grid, fast/classic) and Cheap Paxos's
//!   memberships.
//! - [`basic`], [`multi`], [`fast`]: the protocols. [`flexible`] is the Multi-Paxos core with another quorum
//!   system; [`cheap`] is the Multi-Paxos core with a main/auxiliary membership policy
//!   ([`multi::reconfig`]).
//! - [`raft`]: Raft, a reference baseline built from the same roles (client door, election timing, learner,
//!   journal) with its own log, elections and replication.
//! - [`effects`], [`step`]: what a handler produces, and the one order a driver carries it out in.
//! - [`roles`]: the parts the protocols are made of, each written once: the client door, the election timing,
//!   the learner (decided log, catch-up, snapshots, compaction).
//! - [`journal`]: durable acceptor state that changes only through records the drivers persist.
//! - [`reads`]: the read paths (log, leader lease, quorum read) and their settings.
//! - [`kv`]: the exactly-once key-value state machine the learner applies to.
//! - [`client`]: the client library of the variants whose clients talk to one replica at a time.

pub mod basic;
pub mod cheap;
pub mod client;
pub mod command;
pub mod effects;
pub mod epaxos;
pub mod fast;
pub mod flexible;
pub mod journal;
pub mod kv;
pub mod multi;
pub mod quorum;
pub mod raft;
pub mod reads;
pub mod replica;
pub mod rng;
pub mod roles;
pub mod step;
pub mod types;

pub use command::{Command, CommandId, Op, Reply, Value};
pub use effects::{Dest, Effects};
pub use journal::{DurableState, Journaled};
pub use quorum::{NodeSet, QuorumError, QuorumKind, QuorumSystem};
pub use reads::{ReadPath, Reads};
pub use replica::{
    Client, ClientSetup, DurableRecord, Message, Mutation, Replica, ReplicaSetup, ReplicaStatus,
    Tuning, Variant,
};
pub use rng::DetRng;
pub use types::{Ballot, ClientId, NodeId, Peer, Slot, Time};

/// The variants this crate implements, by the name a config uses.
pub const VARIANT_NAMES: &[&str] = &[
    basic::Basic::NAME,
    multi::Multi::NAME,
    flexible::Flexible::NAME,
    fast::Fast::NAME,
    cheap::Cheap::NAME,
    raft::Raft::NAME,
    epaxos::Epaxos::NAME,
];
