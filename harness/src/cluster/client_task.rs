//! One load-generating client as a tokio task: it issues commands by the closed- or open-loop rule, measures
//! each from its intended start (so an open loop's queueing shows up instead of being omitted), and records the
//! history the checker verifies. Its random stream is the simulator's for the same seed and client, so both
//! drivers issue the same commands.

use super::replica_task::sleep_until;
use super::timers::Timers;
use crate::check::OpRecord;
use crate::config::LoadKind;
use crate::load::{Seen, Workload};
use crate::metrics::OpKind;
use crate::net::inject::WanSender;
use crate::net::transport::LinkFinder;
use paxos_variants::step::{Outputs, Step};
use paxos_variants::{
    Client, ClientId, Command, Dest, DetRng, Effects, NodeId, Peer, Reply, Slot, Time, Value,
    Variant,
};
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
    /// What this client last saw of each key, for its compare-and-set commands.
    seen: Seen,
    outstanding: usize,
    schedule: Schedule,
}

impl<V: Variant> State<V> {
    fn issue(&mut self, now_ns: u64, intended_ns: u64) {
        let seq = self.records.len() as u64;
        let op = self
            .workload
            .next_op(&mut self.rng, self.id, seq, &self.seen);
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

    /// Carries out what the client's last input produced ([`Step::carry_out`]), then issues again for each
    /// completion when the loop is closed.
    fn flush(&mut self, now_ns: u64) {
        let step = Step::of_client(&self.proto, &mut self.out);
        let mut sink = ClientIo {
            records: &mut self.records,
            seen: &mut self.seen,
            timers: &mut self.timers,
            sender: &mut self.sender,
            links: &mut self.links,
            now_ns,
            finished: 0,
        };
        match step.carry_out(&mut sink) {
            Ok(()) => {}
            Err(never) => match never {},
        }
        let finished = sink.finished;
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

/// Where a client's outputs go: its history records and metrics, the network, its timers.
struct ClientIo<'a, T> {
    records: &'a mut Vec<OpRecord>,
    seen: &'a mut Seen,
    timers: &'a mut Timers<T>,
    sender: &'a mut WanSender,
    links: &'a mut LinkFinder,
    now_ns: u64,
    finished: usize,
}

impl<M: paxos_variants::Message, T> Outputs<M, T, ()> for ClientIo<'_, T> {
    type Error = std::convert::Infallible;
    fn persist(&mut self, records: &mut Vec<()>) -> Result<(), Self::Error> {
        records.clear();
        Ok(())
    }
    fn decided(&mut self, decisions: &mut Vec<(Slot, Value)>) -> Result<(), Self::Error> {
        decisions.clear();
        Ok(())
    }
    fn learned(&mut self, seq: u64, slot: Slot) {
        if let Some(rec) = self.records.get_mut(seq as usize) {
            rec.learned.get_or_insert((self.now_ns, slot));
        }
    }
    fn completed(&mut self, seq: u64, reply: Reply) {
        let Some(rec) = self.records.get_mut(seq as usize) else {
            return;
        };
        if rec.completed.is_none() {
            self.seen.observe(&rec.op, &reply);
            rec.completed = Some((self.now_ns, reply));
            let learned = rec.learned.map(|(t, _)| t);
            self.sender.metrics.record_op(
                OpKind::of(&rec.op),
                rec.invoked_ns,
                self.now_ns,
                learned,
            );
            self.finished += 1;
        }
    }
    fn send(&mut self, to: Dest, msg: M) {
        let links = &mut *self.links;
        self.sender.send(to, &msg, |p| links.find(p));
    }
    fn arm(&mut self, after: Duration, timer: T) {
        self.timers
            .set(self.now_ns + after.as_nanos() as u64, timer);
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
            seen: Seen::default(),
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
