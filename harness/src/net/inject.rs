//! WAN injection at the sender: every outgoing message gets its link's delay, jitter, loss and duplication from
//! the same [`LinkModel`] the simulator uses, before it enters QUIC.
//!
//! Delayed frames wait in one [`Delayer`] thread per process rather than in tokio timers, because tokio's timer
//! wheel rounds every sleep up to a whole millisecond: two rounded hops would add about 1 ms to a 62 ms WAN round
//! trip, a 1.6% error in exactly the figure this suite exists to measure. A condition-variable wait releases a
//! frame within the kernel's timer slack (about 50 us).

use super::due::Due;
use super::transport::Outbound;
use crate::metrics::Metrics;
use crate::sim::Partitions;
use crate::wan::LinkModel;
use bytes::Bytes;
use paxos_variants::{Dest, DetRng, Message, Peer};
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

type Held = Due<(Outbound, Bytes)>;

#[derive(Default)]
struct State {
    heap: BinaryHeap<Held>,
    seq: u64,
    stop: bool,
}

/// Longest the delayer wakes early to make up for its wake-up latency.
const MAX_LEAD_NS: f64 = 200_000.0;

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// Holds frames until their release time, on its own thread.
#[derive(Clone)]
pub struct Delayer {
    shared: Arc<Shared>,
}

/// Owns the delayer's thread; dropping it stops the thread (frames still held are dropped, as a network
/// that is switched off would drop them).
pub struct DelayerThread {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DelayerThread {
    pub fn start() -> std::io::Result<DelayerThread> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("wan-delayer".into())
            .spawn(move || release_loop(&s))?;
        Ok(DelayerThread {
            shared,
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> Delayer {
        Delayer {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for DelayerThread {
    fn drop(&mut self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.stop = true;
            st.heap.clear();
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Asks the kernel for 1 ns timer slack on this thread (the default, 50 us, would be added to every hold).
fn precise_timers() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Releases frames when due. A sleeping thread wakes some tens of microseconds after it asked to; the loop
/// learns that lateness (a moving average of how late it woke) and asks to wake that much early, so frames
/// leave centred on their release time instead of consistently after it.
fn release_loop(shared: &Shared) {
    precise_timers();
    let mut lead_ns = 0.0f64;
    let Ok(mut st) = shared.state.lock() else {
        return;
    };
    loop {
        if st.stop {
            return;
        }
        // We woke about `lead` before the earliest frame's time, which is when it would have left had the wake-up
        // been punctual; frames due within the lead go now, so a release is never late by the wake-up latency and
        // never early by more than the lead.
        let horizon = Instant::now() + Duration::from_nanos(lead_ns as u64);
        while st.heap.peek().is_some_and(|h| h.at <= horizon) {
            if let Some(h) = st.heap.pop() {
                let (to, frame) = h.item;
                to.push(frame);
            }
        }
        let now = Instant::now();
        let wake_at = st.heap.peek().map(|h| {
            h.at.checked_sub(Duration::from_nanos(lead_ns as u64))
                .unwrap_or(h.at)
        });
        st = match wake_at {
            Some(at) => match shared
                .wake
                .wait_timeout(st, at.saturating_duration_since(now))
            {
                Ok((g, timeout)) => {
                    if timeout.timed_out() {
                        let late = Instant::now().saturating_duration_since(at).as_nanos() as f64;
                        lead_ns = (lead_ns * 0.9 + late * 0.1).min(MAX_LEAD_NS);
                    }
                    g
                }
                Err(_) => return,
            },
            None => match shared.wake.wait(st) {
                Ok(g) => g,
                Err(_) => return,
            },
        };
    }
}

impl Delayer {
    pub fn hold(&self, at: Instant, to: &Outbound, frame: Bytes) {
        let Ok(mut st) = self.shared.state.lock() else {
            return;
        };
        let seq = st.seq;
        st.seq += 1;
        let earliest = st.heap.peek().is_none_or(|h| at < h.at);
        st.heap.push(Held {
            at,
            seq,
            item: (to.clone(), frame),
        });
        drop(st);
        if earliest {
            self.shared.wake.notify_one();
        }
    }
}

/// Where a peer sits, for looking up link delays.
#[derive(Clone, Debug)]
pub struct Regions {
    pub replica: Vec<usize>,
    /// Client regions, assigned round-robin by client id.
    pub client: Vec<usize>,
}

impl Regions {
    pub fn for_topology(t: &crate::config::Topology) -> Regions {
        Regions {
            replica: t.replica_region.clone(),
            client: t.client_regions.clone(),
        }
    }

    pub fn of(&self, p: Peer) -> usize {
        match p {
            Peer::Replica(r) => self.replica.get(r.0 as usize).copied().unwrap_or(0),
            Peer::Client(c) => {
                if self.client.is_empty() {
                    0
                } else {
                    self.client[c.0 as usize % self.client.len()]
                }
            }
        }
    }
}

/// One sender's side of the network: it encodes each message once, counts it, and for every copy that the link
/// model lets through either writes it to the peer's link now or hands it to the delayer.
pub struct WanSender {
    pub me: Peer,
    pub replicas: usize,
    pub regions: Arc<Regions>,
    pub links: LinkModel,
    pub rng: DetRng,
    pub delayer: Delayer,
    pub partitions: Option<Arc<RwLock<Partitions>>>,
    pub metrics: Metrics,
    pub epoch: Instant,
    /// Frames this sender could not encode (a bug, counted rather than panicking).
    pub encode_errors: u64,
    /// Copies dropped by the loss model or a partition.
    pub dropped: u64,
    pub duplicated: u64,
}

impl WanSender {
    /// A sender with no partitions and zeroed counters.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        me: Peer,
        replicas: usize,
        regions: Arc<Regions>,
        links: LinkModel,
        rng: DetRng,
        delayer: Delayer,
        metrics: Metrics,
        epoch: Instant,
    ) -> WanSender {
        WanSender {
            me,
            replicas,
            regions,
            links,
            rng,
            delayer,
            partitions: None,
            metrics,
            epoch,
            encode_errors: 0,
            dropped: 0,
            duplicated: 0,
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Sends one message; `outbound` finds the link to a peer (None: no link, the copy is lost).
    pub fn send<M: Message>(
        &mut self,
        dest: Dest,
        msg: &M,
        mut outbound: impl FnMut(Peer) -> Option<Outbound>,
    ) {
        let frame = match super::frame::encode(msg) {
            Ok(f) => f,
            Err(_) => {
                self.encode_errors += 1;
                return;
            }
        };
        let now = Instant::now();
        let now_ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        let kind = msg.kind();
        let bytes = frame.len() as u64;
        let mut one = |s: &mut Self, to: Peer| {
            s.metrics.record_send(now_ns, kind, bytes, 1);
            if let (Peer::Replica(a), Peer::Replica(b), Some(p)) = (s.me, to, &s.partitions) {
                if p.read()
                    .is_ok_and(|p| p.blocked(a.0 as usize, b.0 as usize))
                {
                    s.dropped += 1;
                    return;
                }
            }
            let Some(link) = outbound(to) else {
                s.dropped += 1;
                return;
            };
            let (rf, rt) = (s.regions.of(s.me), s.regions.of(to));
            let t = s.links.transit(&mut s.rng, rf, rt);
            let copies = [t.first, t.duplicate];
            if copies.iter().all(Option::is_none) {
                s.dropped += 1;
            }
            if copies.iter().all(Option::is_some) {
                s.duplicated += 1;
            }
            for d in copies.into_iter().flatten() {
                if d == 0 {
                    link.push(frame.clone());
                } else {
                    s.delayer
                        .hold(now + Duration::from_nanos(d), &link, frame.clone());
                }
            }
        };
        match dest {
            Dest::To(to) => one(self, to),
            Dest::OtherReplicas => {
                for r in 0..self.replicas as u32 {
                    let to = Peer::Replica(paxos_variants::NodeId(r));
                    if to != self.me {
                        one(self, to);
                    }
                }
            }
        }
    }
}
