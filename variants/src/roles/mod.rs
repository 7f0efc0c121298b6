//! The parts every protocol is made of, each written once and composed by the variants. A role holds no
//! message type of its own: it decides, and the variant turns the decision into its messages through the small
//! traits the roles define (for example [`front::ClientWire`]).
//!
//! - [`acceptor`]: the acceptor's durable state for protocols with one promise over the log (promise, rounds
//!   used, acceptances, compaction) and the records that change it.
//! - [`election`]: who leads as far as a replica knows, and when it runs itself (randomized, backed-off
//!   election timeouts).
//! - [`front`]: the client door (only a client's own requests, answers from the reply cache, exactly-once by
//!   (client, seq), replies once applied, redirects).
//! - [`learner`]: the decided log and the state machine it is applied to, in order: which slots are decided,
//!   catch-up runs for a peer that lags, snapshots, and when and how far to compact.
//! - [`lease`]: leader leases (grants, how long a leader may rely on them, how long a successor waits).
//! - [`read_quorum`]: quorum reads (what a replica answers, what a reader makes of a read quorum's answers).
//! - [`phase1`]: a candidacy (promises counted once per node and ballot, reports kept for the variant's rule,
//!   the compaction points below which it must learn the log before it leads).

pub mod acceptor;
pub mod election;
pub mod front;
pub mod learner;
pub mod lease;
pub mod phase1;
pub mod read_quorum;
