//! The client library of the variants where a client talks to one replica at a time: leader-based variants
//! (a non-leader redirects) and Basic Paxos (the nearest replica proposes). A command without an answer is sent
//! again, to the next replica, after `retry`; the replicas' exactly-once table makes the retry harmless. A redirect
//! is followed at once only once per attempt (see `Pending::redirected`). On the quorum-read path a read goes
//! to every replica instead and ends when a read quorum's answers allow it (`roles::read_quorum`).

use crate::command::{Command, Op};
use crate::effects::Effects;
use crate::reads::ReadPath;
use crate::replica::{Client, ClientSetup, ToClient};
use crate::roles::read_quorum::{Gathering, Next, ReadProbe, ReadState};
use crate::types::{NodeId, Peer, Slot, Time};
use std::collections::BTreeMap;
use std::marker::PhantomData;

pub use crate::roles::front::ClientWire;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RetryTimer {
    seq: u64,
    attempt: u32,
}

impl RetryTimer {
    pub fn new(seq: u64, attempt: u32) -> RetryTimer {
        RetryTimer { seq, attempt }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[derive(Debug)]
struct Pending {
    cmd: Command,
    attempt: u32,
    /// Whether this attempt already followed a redirect at once. Only the first redirect of an attempt is
    /// followed immediately: two replicas that name each other as leader (no leader yet), with duplicated
    /// messages, would otherwise bounce the command between them without end.
    redirected: bool,
    /// A quorum read in progress (this attempt's answers).
    read: Option<Gathering>,
}

/// `NEAREST = false`: start at the believed leader (redirects move it). `NEAREST = true`: start at the nearest
/// replica, which proposes for the client.
#[derive(Debug)]
pub struct DirectClient<M, const NEAREST: bool> {
    setup: ClientSetup,
    /// Index into `setup.by_distance` (Nearest) or the believed leader (Leader).
    current: NodeId,
    pending: BTreeMap<u64, Pending>,
    next_ack: u64,
    _msg: PhantomData<M>,
}

pub type LeaderClient<M> = DirectClient<M, false>;
pub type NearestClient<M> = DirectClient<M, true>;

impl<M: ClientWire, const NEAREST: bool> Client for DirectClient<M, NEAREST> {
    type Msg = M;
    type Timer = RetryTimer;

    fn new(setup: ClientSetup) -> Self {
        let current = if NEAREST {
            setup.by_distance.first().copied().unwrap_or(NodeId(0))
        } else {
            setup.initial_leader
        };
        DirectClient {
            setup,
            current,
            pending: BTreeMap::new(),
            next_ack: 0,
            _msg: PhantomData,
        }
    }

    fn submit(&mut self, now: Time, cmd: Command, out: &mut Effects<M, RetryTimer>) {
        self.submit_cmd(now, cmd, out)
    }

    fn on_message(&mut self, now: Time, from: NodeId, msg: M, out: &mut Effects<M, RetryTimer>) {
        self.handle(now, from, msg, out)
    }

    fn on_timer(&mut self, now: Time, t: RetryTimer, out: &mut Effects<M, RetryTimer>) {
        self.retry(now, t, out)
    }

    fn ack_floor(&self) -> u64 {
        // Every command below the lowest pending one has been answered (sequence numbers are issued in order).
        self.pending.keys().next().copied().unwrap_or(self.next_ack)
    }
}

impl<M: ClientWire, const NEAREST: bool> DirectClient<M, NEAREST> {
    fn send(&self, cmd: &Command, out: &mut Effects<M, RetryTimer>) {
        let mut cmd = cmd.clone();
        cmd.ack = self.ack_floor().min(cmd.seq);
        out.send(Peer::Replica(self.current), M::request(cmd));
    }

    fn rotate(&mut self) {
        let order = &self.setup.by_distance;
        if order.is_empty() {
            self.current = NodeId((self.current.0 + 1) % self.setup.n().max(1) as u32);
            return;
        }
        let i = order.iter().position(|&r| r == self.current).unwrap_or(0);
        self.current = order[(i + 1) % order.len()];
    }

    /// Sends a quorum-read probe for `cmd` to every replica; `false` if it is no read or reads go elsewhere.
    fn probe_all(&self, cmd: &Command, out: &mut Effects<M, RetryTimer>) -> bool {
        let Op::Get { key } = cmd.op else {
            return false;
        };
        self.setup.reads == ReadPath::Quorum && self.probe_every(cmd.seq, key, Slot(0), out)
    }

    /// Asks every replica to answer read `seq` of `key` once it has applied everything below `upto`; `false`
    /// (nothing sent) if the variant has no quorum reads.
    fn probe_every(
        &self,
        seq: u64,
        key: u64,
        upto: Slot,
        out: &mut Effects<M, RetryTimer>,
    ) -> bool {
        let Some(probe) = M::read_probe(ReadProbe { seq, key, upto }) else {
            return false;
        };
        for r in 0..self.setup.n() {
            out.send(Peer::Replica(NodeId(r as u32)), probe.clone());
        }
        true
    }

    fn submit_cmd(&mut self, _now: Time, cmd: Command, out: &mut Effects<M, RetryTimer>) {
        let seq = cmd.seq;
        self.next_ack = self.next_ack.max(seq + 1);
        let read = self.probe_all(&cmd, out).then(Gathering::default);
        if read.is_none() {
            self.send(&cmd, out);
        }
        out.set_timer(self.setup.retry, RetryTimer { seq, attempt: 0 });
        self.pending.insert(
            seq,
            Pending {
                cmd,
                attempt: 0,
                redirected: false,
                read,
            },
        );
    }

    fn on_read_state(
        &mut self,
        from: NodeId,
        seq: u64,
        state: ReadState,
        out: &mut Effects<M, RetryTimer>,
    ) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        let (Some(g), Op::Get { key }) = (p.read.as_mut(), &p.cmd.op) else {
            return;
        };
        let key = *key;
        match g.on_answer(&self.setup.quorums, from, state) {
            Next::Wait => {}
            Next::Done(reply) => {
                self.pending.remove(&seq);
                out.complete(seq, reply);
            }
            Next::AskAgain { upto, .. } => {
                // Every replica, not only the most advanced: the first to apply that far answers, and the
                // leader, whoever it is now, makes the log reach a slot nobody is writing to (see the
                // Multi-Paxos replica's `on_read_probe`).
                self.probe_every(seq, key, upto, out);
            }
        }
    }

    fn handle(&mut self, _now: Time, from: NodeId, msg: M, out: &mut Effects<M, RetryTimer>) {
        match msg.to_client() {
            Some(ToClient::Reply { seq, reply }) if self.pending.contains_key(&seq) => {
                self.pending.remove(&seq);
                self.current = from;
                out.complete(seq, reply);
            }
            Some(ToClient::Redirect { seq, leader }) => {
                if !self.pending.contains_key(&seq) {
                    return;
                }
                match leader {
                    Some(l) if l != from => self.current = l,
                    _ => {
                        if self.current == from {
                            self.rotate();
                        }
                    }
                }
                // Resend at once to the new target, once per attempt; the retry timer does the rest.
                if let Some(p) = self.pending.get_mut(&seq) {
                    if !p.redirected {
                        p.redirected = true;
                        let cmd = p.cmd.clone();
                        self.send(&cmd, out);
                    }
                }
            }
            Some(ToClient::ReadState {
                seq,
                applied,
                pending,
                reply,
            }) => {
                let state = ReadState {
                    applied,
                    pending,
                    reply,
                };
                self.on_read_state(from, seq, state, out);
            }
            Some(ToClient::Reply { .. }) | None => {}
        }
    }

    fn retry(&mut self, _now: Time, t: RetryTimer, out: &mut Effects<M, RetryTimer>) {
        let Some(p) = self.pending.get_mut(&t.seq) else {
            return;
        };
        if p.attempt != t.attempt {
            return;
        }
        p.attempt += 1;
        p.redirected = false;
        let attempt = p.attempt;
        let cmd = p.cmd.clone();
        if p.read.is_some() {
            // A quorum read starts over: answers from the last attempt may be from replicas gone since.
            p.read = Some(Gathering::default());
            self.probe_all(&cmd, out);
        } else {
            self.rotate();
            self.send(&cmd, out);
        }
        out.set_timer(
            self.setup.retry,
            RetryTimer {
                seq: t.seq,
                attempt,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Op;
    use crate::effects::Dest;
    use crate::multi::MultiMsg;
    use crate::types::ClientId;
    use std::time::Duration;

    fn client() -> LeaderClient<MultiMsg> {
        LeaderClient::new(ClientSetup {
            id: ClientId(0),
            quorums: crate::quorum::QuorumSystem::majority(3).unwrap(),
            initial_leader: NodeId(0),
            by_distance: vec![NodeId(0), NodeId(1), NodeId(2)],
            retry: Duration::from_millis(100),
            reads: ReadPath::Log,
        })
    }

    fn redirect(leader: u32) -> MultiMsg {
        MultiMsg::ToClient(ToClient::Redirect {
            seq: 0,
            leader: Some(NodeId(leader)),
        })
    }

    fn sends_to(out: &Effects<MultiMsg, RetryTimer>) -> Vec<Dest> {
        out.sends.iter().map(|(d, _)| *d).collect()
    }

    #[test]
    fn replicas_that_name_each_other_cannot_bounce_a_command_forever() {
        let mut c = client();
        let mut out = Effects::new();
        let cmd = Command {
            client: ClientId(0),
            seq: 0,
            ack: 0,
            op: Op::Get { key: 1 },
        };
        c.submit(Time(0), cmd, &mut out);
        out.clear();
        // 0 says "ask 1": followed at once.
        c.on_message(Time(1), NodeId(0), redirect(1), &mut out);
        assert_eq!(sends_to(&out), vec![Dest::To(Peer::Replica(NodeId(1)))]);
        out.clear();
        // 1 says "ask 0", and a duplicate of it arrives: neither is resent before the retry timer.
        c.on_message(Time(2), NodeId(1), redirect(0), &mut out);
        c.on_message(Time(3), NodeId(1), redirect(0), &mut out);
        assert!(out.sends.is_empty());
        // The retry timer sends again, and the next attempt may follow one redirect again.
        c.on_timer(Time(100), RetryTimer { seq: 0, attempt: 0 }, &mut out);
        assert_eq!(out.sends.len(), 1);
        out.clear();
        c.on_message(Time(101), NodeId(1), redirect(2), &mut out);
        assert_eq!(sends_to(&out), vec![Dest::To(Peer::Replica(NodeId(2)))]);
    }
}
