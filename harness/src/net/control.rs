//! The control channel: the load generator asks a replica process for its decided log and status at the end of
//! a run, so the checker can verify a multi-process run as it verifies an in-process one. A request travels on a
//! bidirectional stream of its own, apart from the protocol's frames, and only a client certificate may open
//! one.

use super::frame::{decode, encode, FrameError};
use paxos_variants::{ReplicaStatus, Slot, Value};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::oneshot;

/// Largest snapshot a client reads (a decided log of a long run with large payloads).
pub const MAX_SNAPSHOT: usize = 1 << 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum ControlRequest {
    /// Status and counters; with the decided log when `log` is set.
    Snapshot { log: bool },
    /// From now on, for `for_ms`, this replica sends protocol messages only to the replicas of its own group
    /// (a replica in no group sends to none); every replica told the same groups makes a partition that heals
    /// by itself. The answer is the replica's id.
    Partition { groups: Vec<Vec<u32>>, for_ms: u64 },
}

/// A replica's decided log and status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: u32,
    pub status: ReplicaStatus,
    /// Empty unless the log was asked for.
    pub decisions: Vec<(Slot, Value)>,
    /// Why the log could not be read back (a replica process keeps it in a file), when it was asked for.
    pub log_error: Option<String>,
    /// Messages and bytes this replica has sent since it started, by message type.
    pub sent_by_kind: Vec<(String, u64, u64)>,
    pub uptime_ms: u64,
    /// Wall time inside the protocol's handlers since the process started.
    pub handler_ms: f64,
    /// The process's CPU time (user + system) since it started, where the OS tells it.
    pub process_cpu_ms: Option<f64>,
    pub messages_handled: u64,
    /// Records this replica read back from its write-ahead log when it started (0: it started empty).
    pub recovered_records: u64,
}

/// A request handed to the replica task, with where its encoded answer goes.
pub struct ControlCall {
    pub req: ControlRequest,
    pub reply: oneshot::Sender<Vec<u8>>,
}

#[derive(Debug, Error)]
pub enum ControlError {
    #[error("cannot open a control stream: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("control stream: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("control stream: {0}")]
    Closed(#[from] quinn::ClosedStream),
    #[error("control stream: {0}")]
    Read(#[from] quinn::ReadToEndError),
    #[error("control reply: {0}")]
    Frame(#[from] FrameError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Sends one control request and reads its answer.
pub async fn call<T: serde::de::DeserializeOwned>(
    conn: &quinn::Connection,
    req: &ControlRequest,
    timeout: Duration,
) -> Result<T, ControlError> {
    let exchange = async {
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(&encode(req)?).await?;
        send.finish()?;
        let bytes = recv.read_to_end(MAX_SNAPSHOT).await?;
        Ok::<T, ControlError>(decode(&bytes)?)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ControlError::Timeout(timeout))?
}

/// The process's CPU time in milliseconds (Linux: utime + stime from /proc/self/stat).
pub fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Some((utime + stime) * 10.0)
}
