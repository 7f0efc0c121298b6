//! The answering side of every round: a replica votes for an instance under a ballot no lower than the one it
//! promised, durably, before it answers; once it knows an instance committed, it only repeats the commit.

use super::durable::EpaxosRecord;
use super::messages::{Attrs, EpaxosMsg, EpaxosTimer, InstanceId, Status};
use super::EpaxosReplica;
use crate::command::Value;
use crate::effects::Effects;
use crate::types::{Ballot, NodeId, Peer};

impl EpaxosReplica {
    /// Tells `to` the commit of `id` if this replica knows it (and answers nothing else then).
    fn repeat_commit(
        &self,
        to: NodeId,
        id: InstanceId,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) -> bool {
        match self.d.vote(id) {
            Some(v) if v.status == Status::Committed => {
                out.send(
                    Peer::Replica(to),
                    EpaxosMsg::Commit {
                        id,
                        value: v.value.clone(),
                        attrs: v.attrs.clone(),
                    },
                );
                true
            }
            _ => false,
        }
    }

    /// Whether this replica may answer a round of `ballot` for `id`: not once it knows the commit (it repeats
    /// that instead) nor under a ballot lower than its promise (it refuses, naming the promise).
    fn answers(
        &self,
        from: NodeId,
        id: InstanceId,
        ballot: Ballot,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) -> bool {
        if self.repeat_commit(from, id, out) {
            return false;
        }
        if ballot < self.d.promised(id) {
            self.refuse(from, id, out);
            return false;
        }
        true
    }

    fn refuse(&self, to: NodeId, id: InstanceId, out: &mut Effects<EpaxosMsg, EpaxosTimer>) {
        out.send(
            Peer::Replica(to),
            EpaxosMsg::Nack {
                id,
                promised: self.d.promised(id),
            },
        );
    }

    pub(super) fn on_pre_accept(
        &mut self,
        from: NodeId,
        id: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attrs,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        if !self.answers(from, id, ballot, out) {
            return;
        }
        // A repeated PreAccept of the same round gets the same answer: attributes computed again now would
        // name instances that arrived since, and the leader would count two different answers from one replica.
        let attrs = match self.d.vote(id) {
            Some(v) if v.ballot == ballot && v.status == Status::PreAccepted => v.attrs.clone(),
            Some(v) if v.ballot == ballot => return,
            _ => {
                let mut merged = attrs;
                merged.merge(&self.conflicts.attrs_for(id, &value));
                self.record_vote(id, Status::PreAccepted, ballot, value, merged.clone());
                merged
            }
        };
        out.send(
            Peer::Replica(from),
            EpaxosMsg::PreAcceptOk { id, ballot, attrs },
        );
    }

    pub(super) fn on_accept(
        &mut self,
        from: NodeId,
        id: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attrs,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        if !self.answers(from, id, ballot, out) {
            return;
        }
        self.record_vote(id, Status::Accepted, ballot, value, attrs);
        out.send(Peer::Replica(from), EpaxosMsg::AcceptOk { id, ballot });
    }

    /// Explicit prepare: promise `ballot` (durably) and report what this replica holds of `id`.
    pub(super) fn on_prepare(
        &mut self,
        from: NodeId,
        id: InstanceId,
        ballot: Ballot,
        out: &mut Effects<EpaxosMsg, EpaxosTimer>,
    ) {
        if !self.answers(from, id, ballot, out) {
            return;
        }
        if ballot > self.d.promised(id) {
            self.d.record(EpaxosRecord::Promise { id, ballot });
        }
        // A round this replica coordinated under a lower ballot is over.
        if matches!(self.coords.get(&id), Some(c) if c.ballot < ballot) {
            self.coords.remove(&id);
        }
        out.send(
            Peer::Replica(from),
            EpaxosMsg::PrepareOk {
                id,
                ballot,
                vote: self.d.vote(id).cloned(),
            },
        );
    }
}
