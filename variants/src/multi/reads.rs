//! Reads that skip the log, in Multi-Paxos (and so Flexible Paxos): leader leases granted with heartbeats and
//! waited out by the next leader, and the replica's half of quorum reads. The rules themselves are the roles'
//! ([`crate::roles::lease`], [`crate::roles::read_quorum`]); this file is where Multi-Paxos's messages carry them.

use super::reconfig::Reconfig;
use super::{MultiMsg, MultiReplica, MultiTimer, Role};
use crate::command::{Command, Op, Value};
use crate::effects::Effects;
use crate::reads::ReadPath;
use crate::replica::{Mutation, ToClient};
use crate::roles::front;
use crate::roles::lease::{held_for, wait_for};
use crate::roles::read_quorum::{pending_write, ReadProbe};
use crate::types::{Ballot, ClientId, NodeId, Peer, Slot, Time};
use std::time::Duration;

impl<P: Reconfig> MultiReplica<P> {
    pub(super) fn leases(&self) -> bool {
        self.setup.reads.path == ReadPath::Lease
    }

    /// What is left of this acceptor's grants that a candidate with `ballot` must wait out.
    pub(super) fn lease_left(&self, ballot: Ballot, now: Time) -> Option<Duration> {
        if !self.leases() {
            return None;
        }
        self.grants.left_for(ballot, now)
    }

    /// Until when (on this clock) a candidate waits for a grant with `left` to run on its grantor's clock.
    pub(super) fn lease_wait_until(&self, now: Time, left: Option<Duration>) -> Time {
        match left {
            Some(left) => now + wait_for(left, self.setup.reads.drift_ppm),
            None => Time::ZERO,
        }
    }

    /// The lease-wait timer: lead now if the wait is over (else wait on).
    pub(super) fn lease_waited(&mut self, now: Time, out: &mut Effects<MultiMsg, MultiTimer>) {
        if let Role::Candidate(c) = &mut self.role {
            if now < c.lease_wait {
                out.set_timer(c.lease_wait.saturating_since(now), MultiTimer::LeaseWait);
                return;
            }
        }
        self.retry_candidacy(now, out);
    }

    /// A leader under a lease answers a read from its state; `true` when it did. A read it cannot answer so
    /// goes through the log.
    pub(super) fn lease_read(
        &mut self,
        now: Time,
        cmd: &Command,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) -> bool {
        let Op::Get { key } = cmd.op else {
            return false;
        };
        if !self.leases() {
            return false;
        }
        let Role::Leader(l) = &self.role else {
            return false;
        };
        let mutant = self.setup.mutation == Mutation::LeaseReadAfterExpiry;
        if !l.lease.holds(now, mutant) || self.learner.applied_upto() < l.reads_from {
            self.read_counts.lease_misses += 1;
            return false;
        }
        self.read_counts.lease_reads += 1;
        front::reply(out, cmd, self.learner.kv().read(key));
        true
    }

    /// A heartbeat that asks for a lease: followed like a heartbeat, and granted if this acceptor still
    /// follows that ballot.
    pub(super) fn on_lease_ask(
        &mut self,
        now: Time,
        from: NodeId,
        ballot: Ballot,
        commit: Slot,
        stamp: Time,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        self.on_heartbeat(now, from, ballot, commit, out);
        if self.d.promised == ballot {
            self.grants.grant(ballot, now, self.setup.reads.lease);
            out.send(Peer::Replica(from), MultiMsg::LeaseGrant { ballot, stamp });
        }
    }

    pub(super) fn on_lease_grant(&mut self, from: NodeId, ballot: Ballot, stamp: Time) {
        let valid = held_for(self.setup.reads.lease, self.setup.reads.drift_ppm);
        let (membership, quorums) = (&self.membership, &self.setup.quorums);
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let slot = l.next_slot;
        l.lease.granted(ballot, stamp, from, valid, |set| {
            membership.is_phase2_quorum(quorums, slot, set, std::iter::empty)
        });
    }

    /// A client's quorum-read probe: answered now if this replica has applied far enough, else once it has.
    ///
    /// A slot a read waits for may lie beyond the leader's log: accepted under an old ballot by an acceptor
    /// the new leader's Phase 1 did not hear from. It is decided only when the log grows past it, so a leader
    /// asked to wait for it fills the slots up to it with no-ops rather than leave the read waiting for writes.
    pub(super) fn on_read_probe(
        &mut self,
        now: Time,
        client: ClientId,
        probe: ReadProbe,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        if probe.upto <= self.learner.applied_upto() {
            self.answer_probe(client, &probe, out);
            return;
        }
        if self.setup.mutation == Mutation::QuorumReadBeforeApply {
            // The mutant answers at once, as if it had applied that far.
            self.answer_probe_as_of(client, &probe, Some(probe.upto), out);
            return;
        }
        let upto = probe.upto;
        self.parked.park(client, probe);
        let room = self.setup.tuning.max_inflight;
        while let Role::Leader(l) = &mut self.role {
            if l.next_slot >= upto || l.inflight.len() >= room || self.membership.holds_new_slots()
            {
                break;
            }
            let slot = l.next_slot;
            l.next_slot = slot.next();
            self.propose(now, slot, Value::Noop, out);
        }
    }

    /// Answers the probes that were waiting for what was just applied.
    pub(super) fn answer_parked(&mut self, out: &mut Effects<MultiMsg, MultiTimer>) {
        for (client, probe) in self.parked.ready(self.learner.applied_upto()) {
            self.answer_probe(client, &probe, out);
        }
    }

    fn answer_probe(
        &self,
        client: ClientId,
        probe: &ReadProbe,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        self.answer_probe_as_of(client, probe, None, out)
    }

    /// `claim`: the applied point the answer claims (the mutant's lie); `None`: the truth.
    fn answer_probe_as_of(
        &self,
        client: ClientId,
        probe: &ReadProbe,
        claim: Option<Slot>,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let applied = self.learner.applied_upto();
        let unapplied = self.d.accepted.range(applied..).map(|(s, (_, v))| (s, v));
        let state = ToClient::ReadState {
            seq: probe.seq,
            applied: claim.unwrap_or(applied).max(applied),
            pending: pending_write(unapplied, probe.key),
            reply: self.learner.kv().read(probe.key),
        };
        out.send(Peer::Client(client), MultiMsg::ToClient(state));
    }
}
