//! A follower's side of replication (section 5.3 and 7): the consistency check on the entry before the
//! leader's, truncation of a conflicting suffix (and nothing else: a late or repeated AppendEntries whose entries
//! this log already holds must not cut entries that came after them), the commit index learned up to what the
//! leader's message vouches for, and the leader's snapshot.

use super::messages::AppendEntries;
use super::{RaftMsg, RaftRecord, RaftReplica, RaftTimer};
use crate::effects::Effects;
use crate::roles::learner::Snapshot;
use crate::types::{NodeId, Peer, Slot, Time};

/// Most appends a follower keeps that arrived ahead of a gap.
const EARLY_MAX: usize = 64;

impl RaftReplica {
    /// A stale leader is told the current term (it steps down); a current one becomes the one this replica
    /// follows. Returns whether the message is of the current term.
    fn heard_from_leader(
        &mut self,
        now: Time,
        from: NodeId,
        term: u64,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) -> bool {
        if term < self.d.term {
            let reply = RaftMsg::AppendReply {
                term: self.d.term,
                ok: false,
                len: Slot(0),
            };
            out.send(Peer::Replica(from), reply);
            return false;
        }
        if term == self.d.term && self.is_leader() {
            // Only this replica leads its term.
            return false;
        }
        self.see_term(now, term, Some(from), out);
        self.election.heard_leader(now, from);
        true
    }

    pub(super) fn on_append(
        &mut self,
        now: Time,
        from: NodeId,
        a: AppendEntries,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        if !self.heard_from_leader(now, from, a.term, out) {
            return;
        }
        self.accept_append(from, a, out);
        // Appends that arrived ahead of the gap this one may have filled.
        while let Some(entry) = self.early.first_entry() {
            if *entry.key() > self.d.len() {
                break;
            }
            let a = entry.remove();
            if a.term == self.d.term {
                self.accept_append(from, a, out);
            }
        }
    }

    fn accept_append(
        &mut self,
        from: NodeId,
        a: AppendEntries,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        let p = a.prev_len.0;
        let reply = |ok, len| RaftMsg::AppendReply {
            term: a.term,
            ok,
            len: Slot(len),
        };
        if p > self.d.len() {
            // A gap: an earlier append is late or lost. Kept, so that a late one heals the gap without a
            // resend; the refusal tells a leader that does not know where this log ends.
            out.send(Peer::Replica(from), reply(false, self.d.len()));
            self.early.insert(p, a);
            if self.early.len() > EARLY_MAX {
                self.early.pop_last();
            }
            return;
        }
        // At or below the base the previous entry is compacted: committed, so the leader holds it too.
        if p > self.d.base {
            match self.d.term_at(p - 1) {
                Some(t) if t != a.prev_term => {
                    let hint = self.d.first_of_term_run(p - 1, t);
                    out.send(Peer::Replica(from), reply(false, hint));
                    return;
                }
                _ => {}
            }
        }
        let end = p + a.entries.len() as u64;
        let conflict = a.entries.iter().enumerate().find(|(k, e)| {
            let s = p + *k as u64;
            s >= self.d.base && self.d.term_at(s) != Some(e.term)
        });
        if let Some((k, _)) = conflict {
            let mut entries = a.entries;
            let rest = entries.split_off(k);
            self.d.record(RaftRecord::Append {
                at: Slot(p + k as u64),
                entries: rest,
            });
        }
        if a.commit.0.min(end) > self.commit {
            self.commit_to(a.commit.0.min(end), out);
        }
        out.send(Peer::Replica(from), reply(true, end));
    }

    pub(super) fn on_install_snapshot(
        &mut self,
        now: Time,
        from: NodeId,
        term: u64,
        last_term: u64,
        snap: Snapshot,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        if !self.heard_from_leader(now, from, term, out) {
            return;
        }
        let upto = snap.upto;
        if upto > self.learner.applied_upto() {
            // Persisted before anything of it is acted on; entries this log holds after it stay only if the
            // log holds the snapshot's last entry with the same term.
            self.d.record(RaftRecord::Snapshot {
                upto,
                upto_term: last_term,
                snap: Box::new(snap.clone()),
            });
            self.learner.install(snap);
            self.commit = self.commit.max(upto.0);
            self.apply(out);
        }
        let reply = RaftMsg::AppendReply {
            term,
            ok: true,
            len: upto,
        };
        out.send(Peer::Replica(from), reply);
    }
}
