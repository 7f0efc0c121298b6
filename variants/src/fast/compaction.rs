//! Fast Paxos's compaction and snapshots, as in Multi-Paxos: the state machine persisted so decided values and
//! votes can be forgotten, and sent to a peer that reaches below what this replica holds. A coordinator that
//! learns slots from a snapshot stops proposing and recovering there, and sends their orphaned commands again.

use super::{FastMsg, FastReplica, FastTimer, Role};
use crate::effects::Effects;
use crate::roles::acceptor;
use crate::roles::learner::Snapshot;
use crate::types::{NodeId, Peer, Time};

impl FastReplica {
    /// Drops decided values and votes well behind what is applied (see `Tuning::log_keep`).
    pub(super) fn maybe_compact(&mut self) {
        let t = &self.setup.tuning;
        if let Some((upto, snap)) = self.learner.compact_if_due(t.log_keep, t.compact_every) {
            acceptor::truncate(&mut self.d, upto, snap);
        }
    }

    pub(super) fn send_snapshot(&self, to: NodeId, out: &mut Effects<FastMsg, FastTimer>) {
        out.send(
            Peer::Replica(to),
            FastMsg::Snapshot {
                snap: Box::new(self.learner.snapshot()),
            },
        );
    }

    /// A peer's state machine, for slots this replica lags behind and that the peer forgot. Taken if it is
    /// ahead, and persisted (as a compaction) before anything of it is acted on. A coordinator takes one too:
    /// an acceptor asked about a slot it forgot answers with it, and those slots are decided.
    pub(super) fn on_snapshot(
        &mut self,
        now: Time,
        snap: Snapshot,
        out: &mut Effects<FastMsg, FastTimer>,
    ) {
        let upto = snap.upto;
        if self.learner.install(snap.clone()) {
            acceptor::truncate(&mut self.d, upto, snap);
            self.apply(out);
        }
        // Whether or not it was ahead, it says the slots below it are decided: a coordinator stops proposing
        // and recovering there (an acceptor that forgot them answers with a snapshot, never a vote).
        let applied = self.learner.applied_upto();
        let mut orphans = Vec::new();
        if let Role::Leader(co) = &mut self.role {
            let rest = co.slots.split_off(&applied);
            for sv in std::mem::replace(&mut co.slots, rest).into_values() {
                for v in sv.fast.values().chain(sv.classic.as_ref().map(|c| &c.0)) {
                    orphans.extend(v.commands().iter().cloned());
                }
            }
            if co.range.as_ref().is_some_and(|rr| rr.from < applied) {
                co.range = None;
            }
        }
        // Commands that were voted into those slots but did not run there go out again, as after a collision.
        let mut sent = std::collections::HashSet::new();
        for cmd in orphans {
            let id = cmd.id();
            if self.learner.kv().has_run(id) || !sent.insert(id) {
                continue;
            }
            out.broadcast(FastMsg::Request(cmd.clone()));
            self.fast_vote(now, cmd, out);
        }
        self.retry_candidacy(now, out);
    }
}
