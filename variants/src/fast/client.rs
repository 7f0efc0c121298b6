//! The Fast Paxos client: it sends each command to every acceptor at once (so that a fast quorum can vote for
//! it without a leader in between) and is a learner of its own commands. Every acceptor sends it a copy of its
//! fast vote; a fast quorum of votes for the command in one slot and round means the command is chosen, and the
//! client reports it learned (two message delays after sending). The key-value result still comes in the
//! coordinator's reply, which completes the command. A command without a reply is sent to everyone again after
//! `retry`.

use super::{FastMsg, Round};
use crate::client::RetryTimer;
use crate::command::Command;
use crate::effects::Effects;
use crate::quorum::NodeSet;
use crate::replica::{Client, ClientSetup, ToClient};
use crate::types::{NodeId, Slot, Time};
use std::collections::BTreeMap;

#[derive(Debug)]
struct Pending {
    cmd: Command,
    attempt: u32,
    /// Fast votes heard for this command, by slot and round; emptied once the command is learned.
    votes: BTreeMap<(Slot, Round), NodeSet>,
    learned: bool,
}

#[derive(Debug)]
pub struct FastClient {
    setup: ClientSetup,
    /// The fast quorum size (every replica, should the quorum system not be a fast one).
    fast: usize,
    pending: BTreeMap<u64, Pending>,
    next_ack: u64,
}

impl FastClient {
    /// Every copy of a command is byte-identical, its ack included (fixed when it is submitted): acceptors and
    /// the coordinator compare values exactly, so a resend with a fresher ack would be a different value and
    /// collide with the first copy in the same slot.
    fn send(&self, cmd: &Command, out: &mut Effects<FastMsg, RetryTimer>) {
        // From a client, "every other replica" is every replica.
        out.broadcast(FastMsg::Request(cmd.clone()));
    }

    fn on_voted(
        &mut self,
        from: NodeId,
        (round, slot, seq, ack): (Round, Slot, u64, u64),
        out: &mut Effects<FastMsg, RetryTimer>,
    ) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        // A vote for another value (the same command with another ack) does not count towards this one.
        if p.learned || round.classic || ack != p.cmd.ack || from.0 as usize >= self.setup.n() {
            return;
        }
        let voters = p.votes.entry((slot, round)).or_default();
        voters.insert(from);
        if voters.len() >= self.fast {
            p.learned = true;
            p.votes.clear();
            out.learn(seq, slot);
        }
    }
}

impl Client for FastClient {
    type Msg = FastMsg;
    type Timer = RetryTimer;

    fn new(setup: ClientSetup) -> Self {
        let fast = setup.quorums.fast_size().unwrap_or(setup.n());
        FastClient {
            setup,
            fast,
            pending: BTreeMap::new(),
            next_ack: 0,
        }
    }

    fn submit(&mut self, _now: Time, mut cmd: Command, out: &mut Effects<FastMsg, RetryTimer>) {
        let seq = cmd.seq;
        cmd.ack = self.ack_floor().min(seq);
        self.next_ack = self.next_ack.max(seq + 1);
        self.send(&cmd, out);
        out.set_timer(self.setup.retry, RetryTimer::new(seq, 0));
        self.pending.insert(
            seq,
            Pending {
                cmd,
                attempt: 0,
                votes: BTreeMap::new(),
                learned: false,
            },
        );
    }

    fn on_message(
        &mut self,
        _now: Time,
        from: NodeId,
        msg: FastMsg,
        out: &mut Effects<FastMsg, RetryTimer>,
    ) {
        match msg {
            FastMsg::ToClient(ToClient::Reply { seq, reply })
                if self.pending.remove(&seq).is_some() =>
            {
                out.complete(seq, reply);
            }
            FastMsg::Voted {
                round,
                slot,
                seq,
                ack,
            } => self.on_voted(from, (round, slot, seq, ack), out),
            _ => {}
        }
    }

    fn on_timer(&mut self, _now: Time, t: RetryTimer, out: &mut Effects<FastMsg, RetryTimer>) {
        let Some(p) = self.pending.get_mut(&t.seq()) else {
            return;
        };
        if p.attempt != t.attempt() {
            return;
        }
        p.attempt += 1;
        let next = RetryTimer::new(t.seq(), p.attempt);
        let cmd = p.cmd.clone();
        self.send(&cmd, out);
        out.set_timer(self.setup.retry, next);
    }

    fn ack_floor(&self) -> u64 {
        self.pending.keys().next().copied().unwrap_or(self.next_ack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Op;
    use crate::quorum::QuorumSystem;
    use crate::types::{Ballot, ClientId};
    use std::time::Duration;

    fn client(n: usize) -> FastClient {
        FastClient::new(ClientSetup {
            id: ClientId(0),
            quorums: QuorumSystem::fast(n, None, None).unwrap(),
            initial_leader: NodeId(0),
            by_distance: (0..n as u32).map(NodeId).collect(),
            retry: Duration::from_millis(100),
            reads: crate::reads::ReadPath::Log,
        })
    }

    fn voted(slot: u64, ballot_round: u64, seq: u64) -> FastMsg {
        FastMsg::Voted {
            round: Round::fast(Ballot {
                round: ballot_round,
                node: NodeId(0),
            }),
            slot: Slot(slot),
            seq,
            ack: 0,
        }
    }

    #[test]
    fn a_fast_quorum_of_matching_votes_is_learned_once_and_nothing_less() {
        // N = 5: the fast quorum is 4.
        let mut c = client(5);
        let mut out = Effects::new();
        let cmd = Command {
            client: ClientId(0),
            seq: 0,
            ack: 0,
            op: Op::Get { key: 1 },
        };
        c.submit(Time(0), cmd, &mut out);
        out.clear();
        // Three votes in slot 7, one in slot 8, a duplicate, a vote from a replica that does not exist, one in
        // another round of slot 7, and one for the same command with another ack (another value): none of these
        // make a fast quorum.
        let other_ack = FastMsg::Voted {
            round: Round::fast(Ballot {
                round: 1,
                node: NodeId(0),
            }),
            slot: Slot(7),
            seq: 0,
            ack: 3,
        };
        c.on_message(Time(1), NodeId(3), other_ack, &mut out);
        for (from, msg) in [
            (0, voted(7, 1, 0)),
            (1, voted(7, 1, 0)),
            (1, voted(7, 1, 0)),
            (2, voted(7, 1, 0)),
            (3, voted(8, 1, 0)),
            (9, voted(7, 1, 0)),
            (4, voted(7, 2, 0)),
        ] {
            c.on_message(Time(1), NodeId(from), msg, &mut out);
        }
        assert!(out.learned.is_empty());
        c.on_message(Time(2), NodeId(4), voted(7, 1, 0), &mut out);
        assert_eq!(out.learned, vec![(0, Slot(7))]);
        // Learned once: a fifth vote adds nothing, and the reply still completes the command.
        c.on_message(Time(3), NodeId(3), voted(7, 1, 0), &mut out);
        assert_eq!(out.learned.len(), 1);
        assert!(out.completions.is_empty());
    }
}
