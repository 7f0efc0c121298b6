//! The paxos-bench harness: it drives the variants of `paxos-variants`.
//!
//! - [`config`]: experiment TOML files, validated into [`config::Experiment`].
//! - [`wan`]: where WAN delay, jitter, loss and duplication are decided for each message.
//! - [`sim`]: the deterministic discrete-event simulator.
//! - [`net`], [`cluster`]: the QUIC transport and the in-process QUIC cluster of `mode = "quic"`.
//! - [`check`]: the safety checker and the random fault scenarios of `paxos-bench check`.
//! - [`load`], [`metrics`], [`model`]: the workload, what is measured, and the analytic expectation.
//! - [`experiment`], [`results`]: running a config and writing `results.csv` and friends.
//! - [`report`]: plots and the HTML and markdown report, from the result files; [`compare`]: the regression
//!   check against a baseline.
//! - [`storage`]: where acceptor state lives in QUIC runs (memory, or a synced write-ahead log).
//! - [`calibrate`]: measured handler costs per message type, as the simulator's cost profile.
//! - [`registry`]: every variant described once (name, colour, model, checker scenario quorums).
//! - [`jobs`]: the jobs behind the subcommands (default comparison, experiment, check, calibrate).
//! - [`cli`]: the `paxos-bench` command line: parses arguments and calls one function per subcommand.

pub mod calibrate;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod deploy;
pub mod dispatch;
pub mod experiment;
pub mod export;
pub mod gate;
pub mod history;
pub mod jobs;
pub mod load;
pub mod metrics;
pub mod model;
pub mod net;
pub mod registry;
pub mod report;
pub mod results;
pub mod shard;
pub mod share;
pub mod sim;
pub mod storage;
pub mod tune;
pub mod wan;
pub mod wire;
