//! Multi-Paxos's compaction and snapshots: the state machine persisted (with Cheap Paxos's reconfigurations
//! decided before it) so that decided values can be forgotten, and sent to a peer that asks for slots this
//! replica no longer holds.

use super::reconfig::Reconfig;
use super::{Durable, MultiMsg, MultiReplica, MultiTimer};
use crate::effects::Effects;
use crate::quorum::Membership;
use crate::roles::acceptor;
use crate::roles::learner::Snapshot;
use crate::types::{NodeId, Peer, Slot, Time};

impl<P: Reconfig> MultiReplica<P> {
    /// Installs a state machine if it is ahead; returns whether it was.
    pub(super) fn take_state(&mut self, state: Durable) -> bool {
        if !self.learner.install(state.snap) {
            return false;
        }
        self.membership.install(state.configs);
        true
    }

    /// The state machine now, with the reconfigurations before it.
    pub(super) fn current_state(&self) -> Durable {
        self.with_configs(self.learner.snapshot())
    }

    /// A state machine with the reconfigurations decided before it.
    pub(super) fn with_configs(&self, snap: Snapshot) -> Durable {
        let configs = self.membership.decided_below(snap.upto);
        Durable { snap, configs }
    }

    /// A peer's state machine, for slots this replica lags behind and that peer no longer holds. Taken if it
    /// is ahead. A leader takes one too: an acceptor that already applied and forgot a slot the leader still
    /// has in flight answers its Accept with a snapshot, and those slots are decided.
    pub(super) fn on_snapshot(
        &mut self,
        now: Time,
        snap: Snapshot,
        configs: Vec<(Slot, Membership)>,
        out: &mut Effects<MultiMsg, MultiTimer>,
    ) {
        let upto = snap.upto;
        let state = Durable { snap, configs };
        if self.take_state(state.clone()) {
            // Persisted before anything of it is acted on, as a compaction: everything below it is decided.
            acceptor::truncate(&mut self.d, upto, state);
            self.apply(out);
            if self.is_leader() {
                // A leader's commit index vouches that the slots below it were decided under its ballot, and
                // followers learn from their acceptances of that ballot; slots learned here were decided under
                // some ballot, perhaps a later one. A fresh ballot keeps the index honest (and a stale leader
                // finds out it is one).
                self.start_election(now, out);
                return;
            }
        }
        self.retry_candidacy(now, out);
    }

    pub(super) fn send_snapshot(&self, to: NodeId, out: &mut Effects<MultiMsg, MultiTimer>) {
        let Durable { snap, configs } = self.current_state();
        out.send(
            Peer::Replica(to),
            MultiMsg::Snapshot {
                snap: Box::new(snap),
                configs,
            },
        );
    }

    /// Drops decided values and acceptances well behind what is applied (see [`Tuning::log_keep`]).
    pub(super) fn maybe_compact(&mut self) {
        let t = &self.setup.tuning;
        if let Some((upto, snap)) = self.learner.compact_if_due(t.log_keep, t.compact_every) {
            let state = self.with_configs(snap);
            acceptor::truncate(&mut self.d, upto, state);
        }
    }
}
