//! One load-generating client as a tokio task: it issues commands by the closed- or open-loop rule, measures
//! each from its intended start (so an open loop's queueing shows up instead of being omitted), and records the
//! history the checker verifies. Its random stream is the simulator's for the same seed and client, so both
//! drivers issue the same commands.

use super::replica_task::sleep_until;
use super::timers::Timers;
use crate::check::OpRecord;
use crate::config::LoadKind;
use crate::load::Workload;
use crate::net::inject::WanSender;
use crate::net::transport::LinkFinder;
use paxos_variants::{Client, ClientId, Command, DetRng, Effects, NodeId, Peer, Time, Variant};
use std::time::Duration;
use tokio::sync::mpsc;

type Msg<V> = <V as Variant>::Msg;
type CTimer<V> = <<V as Variant>::Client as Client>::Timer;

/// When a client issues and when it gives up, in nanoseconds since the run's epoch.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub stop_issuing_ns: u64,
    /// Hard end: commands still pending then stay pending in the history.
    pub end_ns: u64,
    /// Clients in the run (an open loop's rate is shared among them).
    pub clients: usize,
    /// Whether the clients inject the WAN conditions on what they send (off on the kernel path, where the
    /// kernel delays the packets; the clients still pick replicas by the configured distances).
    pub inject: bool,
}

pub struct ClientEnd {
    pub records: Vec<OpRecord>,
    pub sender: WanSender,
    pub pending: usize,
}

pub struct ClientTask<V: Variant> {
    pub id: ClientId,
    pub proto: V::Client,
    pub inbox: mpsc::Receiver<(Peer, Msg<V>)>,
    pub sender: WanSender,
    pub links: LinkFinder,
    pub workload: Workload,
    pub rng: DetRng,
    pub schedule: Schedule,
}

struct State<V: Variant> {
    id: ClientId,
    proto: V::Client,
    out: Effects<Msg<V>, CTimer<V>>,
    timers: Timers<CTimer<V>>,
    sender: WanSender,
    links: LinkFinder,
    workload: Workload,
    rng: DetRng,
    records: Vec<OpRecord>,
    outstanding: usize,
    schedule: Schedule,
}

impl<V: Variant> State<V> {
    fn issue(&mut self, now_ns: u64, intended_ns: u64) {
        let seq = self.records.len() as u64;
        let op = self.workload.next_op(&mut self.rng, self.id, seq);
        self.records.push(OpRecord {
            op: op.clone(),
            invoked_ns: intended_ns,
            completed: None,
            learned: None,
        });
        self.outstanding += 1;
        let cmd = Command {
            client: self.id,
            seq,
            ack: 0,
            op,
        };
        self.proto.submit(Time(now_ns), cmd, &mut self.out);
        self.flush(now_ns);
    }

    fn flush(&mut self, now_ns: u64) {
        let mut finished = 0;
        for (seq, slot) in self.out.learned.drain(..) {
            if let Some(rec) = self.records.get_mut(seq as usize) {
                rec.learned.get_or_insert((now_ns, slot));
            }
        }
        for (seq, reply) in self.out.completions.drain(..) {
            let Some(rec) = self.records.get_mut(seq as usize) else {
                continue;
            };
            if rec.completed.is_none() {
                rec.completed = Some((now_ns, reply));
                let learned = rec.learned.map(|(t, _)| t);
                self.sender
                    .metrics
                    .record_op(rec.invoked_ns, now_ns, learned);
                finished += 1;
            }
        }
        let links = &mut self.links;
        for (dest, msg) in self.out.sends.drain(..) {
            self.sender.send(dest, &msg, |p| links.find(p));
        }
        for (after, t) in self.out.timers.drain(..) {
            self.timers.set(now_ns + after.as_nanos() as u64, t);
        }
        self.out.decisions.clear();
        self.outstanding -= finished;
        if let LoadKind::Closed { .. } = self.workload.spec().kind {
            if now_ns < self.schedule.stop_issuing_ns {
                for _ in 0..finished {
                    self.issue(now_ns, now_ns);
                }
            }
        }
    }
}

impl<V: Variant> ClientTask<V> {
    pub async fn run(self) -> ClientEnd {
        let epoch = self.sender.epoch;
        let now_ns = || epoch.elapsed().as_nanos() as u64;
        let mut inbox = self.inbox;
        let sched = self.schedule;
        let mut s = State::<V> {
            id: self.id,
            proto: self.proto,
            out: Effects::new(),
            timers: Timers::default(),
            sender: self.sender,
            links: self.links,
            workload: self.workload,
            rng: self.rng,
            records: Vec::new(),
            outstanding: 0,
            schedule: sched,
        };
        // Open loop: exponential gaps at the per-client share of the rate, drawn as the simulator draws them.
        let mean_gap = match s.workload.spec().kind {
            LoadKind::Open { rate_per_s } => Some(sched.clients as f64 / rate_per_s * 1e9),
            LoadKind::Closed { .. } => None,
        };
        let mut next_arrival = None;
        match (s.workload.spec().kind.clone(), mean_gap) {
            (LoadKind::Closed { window }, _) => {
                for _ in 0..window {
                    let now = now_ns();
                    s.issue(now, now);
                }
            }
            (LoadKind::Open { .. }, Some(gap)) => {
                next_arrival = Some(s.rng.exponential(gap) as u64)
            }
            _ => {}
        }
        loop {
            let now = now_ns();
            if now >= sched.end_ns || (now >= sched.stop_issuing_ns && s.outstanding == 0) {
                break;
            }
            let stop_mark = if now < sched.stop_issuing_ns {
                sched.stop_issuing_ns
            } else {
                sched.end_ns
            };
            let wake_ns = [s.timers.next_at(), next_arrival, Some(stop_mark)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(sched.end_ns);
            let wake = epoch + Duration::from_nanos(wake_ns);
            tokio::select! {
                biased;
                m = inbox.recv() => {
                    let Some((from, msg)) = m else { break };
                    let Peer::Replica(from) = from else { continue };
                    let now = now_ns();
                    s.proto.on_message(Time(now), NodeId(from.0), msg, &mut s.out);
                    s.flush(now);
                    // Replies arriving back to back must not starve retries.
                    while let Some(t) = s.timers.pop_due(now) {
                        s.proto.on_timer(Time(now), t, &mut s.out);
                        s.flush(now);
                    }
                }
                _ = sleep_until(Some(wake)) => {
                    let now = now_ns();
                    while let Some(t) = s.timers.pop_due(now) {
                        s.proto.on_timer(Time(now), t, &mut s.out);
                        s.flush(now);
                    }
                    // Every arrival that is due is issued, stamped with its intended time.
                    while let (Some(at), Some(gap)) = (next_arrival, mean_gap) {
                        if at > now || at >= sched.stop_issuing_ns {
                            if at >= sched.stop_issuing_ns { next_arrival = None; }
                            break;
                        }
                        s.issue(now, at);
                        next_arrival = Some(at.saturating_add((s.rng.exponential(gap) as u64).max(1)));
                    }
                }
            }
        }
        ClientEnd {
            pending: s.outstanding,
            records: s.records,
            sender: s.sender,
        }
    }
}
