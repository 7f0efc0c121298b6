//! One step of a replica or a client, carried out in the only safe order, by every driver.
//!
//! What an input (or a group of inputs) produced leaves the [`Effects`] buffer only through
//! [`Step::carry_out`], which calls the driver's [`Outputs`] in a fixed order: the replica's durable records
//! first, then decisions, learned commands and completions, then sends, then timers. A driver cannot reach the
//! sends any other way, so "an acceptor answers before its promise is durable" cannot be written in a driver;
//! the simulator, the QUIC replica and client tasks and calibration all go through this one function (like
//! raft-rs's `Ready`, which separates what must be persisted from what may be sent).

use crate::command::{CommandId, Reply, Value};
use crate::effects::{Dest, Effects};
use crate::replica::{Client, Replica};
use crate::types::Slot;
use std::time::Duration;

/// What a driver does with one step's outputs. [`Step::carry_out`] calls these in declaration order.
pub trait Outputs<M, T, R> {
    type Error;
    /// Makes the records durable before anything else of the step happens (a write-ahead log appends and
    /// syncs; the simulator applies them to the copy that survives a crash). Takes them all (`records` is
    /// drained); called only when there are some.
    fn persist(&mut self, records: &mut Vec<R>) -> Result<(), Self::Error>;
    /// Slots the replica has learned to be decided, in the order it learned them (drained).
    fn decided(&mut self, decisions: &mut Vec<(Slot, Value)>) -> Result<(), Self::Error>;
    /// Commands the replica ran, with their keys, in order (drained); reported by variants whose replicas
    /// order only interfering commands ([`Variant::TOTAL_ORDER`](crate::replica::Variant) false). Only a
    /// checker has a use for them.
    fn executed(&mut self, executed: &mut Vec<(u64, CommandId)>) {
        executed.clear();
    }
    /// A client knows its command `seq` is chosen in `slot` before its reply came.
    fn learned(&mut self, seq: u64, slot: Slot);
    /// A client's command `seq` is answered.
    fn completed(&mut self, seq: u64, reply: Reply);
    fn send(&mut self, to: Dest, msg: M);
    /// All of a step's messages, in order (drained). A driver that only looks at them (calibration encodes
    /// each) may take the batch whole instead of one at a time.
    fn send_all(&mut self, sends: &mut Vec<(Dest, M)>) {
        for (to, msg) in sends.drain(..) {
            self.send(to, msg);
        }
    }
    fn arm(&mut self, after: Duration, timer: T);
}

/// One step's outputs: the records a replica made (none for a client) and its [`Effects`].
pub struct Step<'a, M, T, R> {
    records: Option<&'a mut Vec<R>>,
    out: &'a mut Effects<M, T>,
}

impl<'a, M, T, R> Step<'a, M, T, R> {
    /// A replica's step: its records are taken from it here, so none can be left behind.
    pub fn of_replica<Rep>(
        replica: &mut Rep,
        out: &'a mut Effects<M, T>,
        records: &'a mut Vec<R>,
    ) -> Self
    where
        Rep: Replica<Msg = M, Timer = T>,
        Rep::Durable: crate::journal::DurableState<Record = R>,
    {
        replica.take_records(records);
        Step {
            records: Some(records),
            out,
        }
    }

    /// A client's step: a client keeps nothing durable.
    pub fn of_client<C: Client<Msg = M, Timer = T>>(
        _client: &C,
        out: &'a mut Effects<M, T>,
    ) -> Self {
        Step { records: None, out }
    }

    /// Carries the step out in the only order there is: persist, then decisions, learned commands and
    /// completions, then sends, then timers. Stops at the first error, before anything is sent.
    pub fn carry_out<O: Outputs<M, T, R>>(self, o: &mut O) -> Result<(), O::Error> {
        if let Some(records) = self.records {
            if !records.is_empty() {
                o.persist(records)?;
                records.clear();
            }
        }
        let out = self.out;
        if !out.decisions.is_empty() {
            o.decided(&mut out.decisions)?;
            out.decisions.clear();
        }
        if !out.executed.is_empty() {
            o.executed(&mut out.executed);
            out.executed.clear();
        }
        // Most of these are empty after most inputs: skip setting up a drain for nothing (this loop runs once
        // per input in every driver, and the handler-cost gate measures it with the handlers).
        if !out.learned.is_empty() {
            for (seq, slot) in out.learned.drain(..) {
                o.learned(seq, slot);
            }
        }
        if !out.completions.is_empty() {
            for (seq, reply) in out.completions.drain(..) {
                o.completed(seq, reply);
            }
        }
        if !out.sends.is_empty() {
            o.send_all(&mut out.sends);
            out.sends.clear();
        }
        if !out.timers.is_empty() {
            for (after, timer) in out.timers.drain(..) {
                o.arm(after, timer);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Reply;

    /// Logs what it is asked to do, in order; can refuse to persist.
    #[derive(Default)]
    struct Log {
        calls: Vec<String>,
        refuse: bool,
    }

    impl Outputs<&'static str, u8, u32> for Log {
        type Error = ();
        fn persist(&mut self, records: &mut Vec<u32>) -> Result<(), ()> {
            self.calls.push(format!("persist {records:?}"));
            records.clear();
            if self.refuse {
                Err(())
            } else {
                Ok(())
            }
        }
        fn decided(&mut self, d: &mut Vec<(Slot, Value)>) -> Result<(), ()> {
            self.calls.push(format!("decided {}", d.len()));
            d.clear();
            Ok(())
        }
        fn learned(&mut self, seq: u64, _: Slot) {
            self.calls.push(format!("learned {seq}"));
        }
        fn completed(&mut self, seq: u64, _: Reply) {
            self.calls.push(format!("completed {seq}"));
        }
        fn send(&mut self, _: Dest, msg: &'static str) {
            self.calls.push(format!("send {msg}"));
        }
        fn arm(&mut self, _: Duration, t: u8) {
            self.calls.push(format!("arm {t}"));
        }
    }

    fn filled() -> Effects<&'static str, u8> {
        let mut out = Effects::new();
        // Pushed in the "wrong" order on purpose: the step's order is its own.
        out.set_timer(Duration::from_millis(1), 7);
        out.broadcast("accept");
        out.complete(3, Reply::Written { version: 1 });
        out.learn(2, Slot(1));
        out.decide(Slot(0), Value::Noop);
        out
    }

    #[test]
    fn a_step_persists_first_and_arms_timers_last() {
        let mut out = filled();
        let mut records = vec![1u32, 2];
        let step = Step {
            records: Some(&mut records),
            out: &mut out,
        };
        let mut log = Log::default();
        step.carry_out(&mut log).unwrap();
        assert_eq!(
            log.calls,
            [
                "persist [1, 2]",
                "decided 1",
                "learned 2",
                "completed 3",
                "send accept",
                "arm 7"
            ]
        );
        assert!(out.is_empty() && records.is_empty());
    }

    #[test]
    fn nothing_is_sent_when_persisting_fails() {
        let mut out = filled();
        let mut records = vec![9u32];
        let step = Step {
            records: Some(&mut records),
            out: &mut out,
        };
        let mut log = Log {
            refuse: true,
            ..Log::default()
        };
        assert!(step.carry_out(&mut log).is_err());
        assert_eq!(log.calls, ["persist [9]"]);
        assert_eq!(
            out.pending_sends().len(),
            1,
            "the send is still pending, not sent"
        );
    }
}
