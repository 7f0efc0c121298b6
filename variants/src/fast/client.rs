//! The Fast Paxos client: it sends each command to every acceptor at once (so that a fast quorum can vote for
//! it without a leader in between) and takes the coordinator's reply. A command without a reply is sent to
//! everyone again after `retry`.

use super::FastMsg;
use crate::client::RetryTimer;
use crate::command::Command;
use crate::effects::Effects;
use crate::replica::{Client, ClientSetup, ToClient};
use crate::types::{NodeId, Time};
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct FastClient {
    setup: ClientSetup,
    pending: BTreeMap<u64, (Command, u32)>,
    next_ack: u64,
}

impl FastClient {
    fn send(&self, cmd: &Command, out: &mut Effects<FastMsg, RetryTimer>) {
        let mut cmd = cmd.clone();
        cmd.ack = self.ack_floor().min(cmd.seq);
        // From a client, "every other replica" is every replica.
        out.broadcast(FastMsg::Request(cmd));
    }
}

impl Client for FastClient {
    type Msg = FastMsg;
    type Timer = RetryTimer;

    fn new(setup: ClientSetup) -> Self {
        FastClient {
            setup,
            pending: BTreeMap::new(),
            next_ack: 0,
        }
    }

    fn submit(&mut self, _now: Time, cmd: Command, out: &mut Effects<FastMsg, RetryTimer>) {
        let seq = cmd.seq;
        self.next_ack = self.next_ack.max(seq + 1);
        self.send(&cmd, out);
        out.set_timer(self.setup.retry, RetryTimer::new(seq, 0));
        self.pending.insert(seq, (cmd, 0));
    }

    fn on_message(
        &mut self,
        _now: Time,
        _from: NodeId,
        msg: FastMsg,
        out: &mut Effects<FastMsg, RetryTimer>,
    ) {
        if let FastMsg::ToClient(ToClient::Reply { seq, reply }) = msg {
            if self.pending.remove(&seq).is_some() {
                out.complete(seq, reply);
            }
        }
    }

    fn on_timer(&mut self, _now: Time, t: RetryTimer, out: &mut Effects<FastMsg, RetryTimer>) {
        let Some((cmd, attempt)) = self.pending.get_mut(&t.seq()) else {
            return;
        };
        if *attempt != t.attempt() {
            return;
        }
        *attempt += 1;
        let next = RetryTimer::new(t.seq(), *attempt);
        let cmd = cmd.clone();
        self.send(&cmd, out);
        out.set_timer(self.setup.retry, next);
    }

    fn ack_floor(&self) -> u64 {
        self.pending.keys().next().copied().unwrap_or(self.next_ack)
    }
}
