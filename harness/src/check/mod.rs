//! The safety checker: the run's history ([`history`]), the end-of-run checks ([`verify`]), and the random
//! fault scenarios that `paxos-bench check` runs over many seeds ([`scenario`], [`runner`]).

pub mod history;
pub mod linear;
pub mod runner;
pub mod scenario;
pub mod summary;
pub mod unordered;
pub mod verify;

pub use history::{History, OpRecord, Violation};
