//! Raft's leader (section 5.3): it appends commands to its log as entries of its term, sends each follower the
//! entries from where that follower's log is believed to end (pipelined: the next send does not wait for the
//! last answer), backs up when the consistency check fails, and sends a snapshot to a follower that needs
//! entries it has compacted away. An entry commits when a majority holds it and it is of the leader's own
//! term (section 5.4.2, Figure 8); the entries before it commit with it.

use super::messages::{AppendEntries, Entry};
use super::{RaftMsg, RaftRecord, RaftReplica, RaftTimer, Role};
use crate::command::{Command, Value};
use crate::effects::Effects;
use crate::quorum::NodeSet;
use crate::replica::Mutation;
use crate::types::{NodeId, Peer, Slot, Time};

/// Most entries in one AppendEntries.
const CHUNK: usize = 256;

impl RaftReplica {
    /// Appends one entry of the current term to the leader's own log.
    pub(super) fn append_value(&mut self, value: Value) {
        let entry = Entry {
            term: self.d.term,
            value,
        };
        self.d.record(RaftRecord::Append {
            at: Slot(self.d.len()),
            entries: vec![entry],
        });
    }

    /// Appends waiting commands while fewer than `max_inflight` entries are uncommitted, then sends them.
    pub(super) fn try_append(&mut self, out: &mut Effects<RaftMsg, RaftTimer>) {
        let t = &self.setup.tuning;
        let (window, batch_max) = (t.max_inflight as u64, t.batch_max.max(1));
        let mut appended = false;
        loop {
            let Role::Leader(l) = &mut self.role else {
                return;
            };
            if l.pending.is_empty() || self.d.len().saturating_sub(self.commit) >= window {
                break;
            }
            let take = l.pending.len().min(batch_max);
            let batch: Vec<Command> = l.pending.drain(..take).collect();
            self.append_value(Value::batch(batch));
            appended = true;
        }
        if appended {
            self.send_all(out);
            self.advance_commit(out);
        }
    }

    /// Sends every follower what it has not been sent yet.
    pub(super) fn send_all(&mut self, out: &mut Effects<RaftMsg, RaftTimer>) {
        let others: Vec<NodeId> = self.others().collect();
        for f in others {
            let behind = match &self.role {
                Role::Leader(l) => l.next[f.0 as usize] < self.d.len(),
                _ => return,
            };
            if behind {
                self.send_append(f, out);
            }
        }
    }

    /// Sends `f` the entries from its next slot (or the state machine, if they are compacted away).
    fn send_append(&mut self, f: NodeId, out: &mut Effects<RaftMsg, RaftTimer>) {
        let (term, commit) = (self.d.term, Slot(self.commit));
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let i = f.0 as usize;
        let next = l.next[i];
        let prev_term = match self.d.term_before(next) {
            Some(t) if next >= self.d.base => t,
            _ => {
                self.send_snapshot(f, out);
                return;
            }
        };
        let entries = self.d.entries_from(next, CHUNK);
        l.next[i] = next + entries.len() as u64;
        out.send(
            Peer::Replica(f),
            RaftMsg::Append(AppendEntries {
                term,
                prev_len: Slot(next),
                prev_term,
                entries,
                commit,
            }),
        );
    }

    /// The state machine, for a follower that needs entries compacted away.
    fn send_snapshot(&mut self, f: NodeId, out: &mut Effects<RaftMsg, RaftTimer>) {
        let snap = self.learner.snapshot();
        let Some(last_term) = self.d.term_before(snap.upto.0) else {
            return;
        };
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        l.next[f.0 as usize] = snap.upto.0;
        let term = self.d.term;
        out.send(
            Peer::Replica(f),
            RaftMsg::InstallSnapshot {
                term,
                last_term,
                snap: Box::new(snap),
            },
        );
    }

    /// Every heartbeat: a follower whose match has not moved for `retransmit` while it lags is sent its entries
    /// again from where it is known to match; the others get a heartbeat at their match, which always passes
    /// the consistency check and carries the commit index.
    pub(super) fn leader_tick(&mut self, now: Time, out: &mut Effects<RaftMsg, RaftTimer>) {
        let (term, commit, len) = (self.d.term, Slot(self.commit), self.d.len());
        let retransmit = self.setup.tuning.retransmit;
        let others: Vec<NodeId> = self.others().collect();
        for f in others {
            let i = f.0 as usize;
            let Role::Leader(l) = &mut self.role else {
                return;
            };
            if l.matched[i] < len && now.saturating_since(l.progress_at[i]) >= retransmit {
                l.next[i] = l.matched[i];
                l.progress_at[i] = now;
                self.send_append(f, out);
                continue;
            }
            let matched = l.matched[i];
            let (prev_len, prev_term) = match self.d.term_before(matched) {
                Some(t) => (matched, t),
                None => (0, 0),
            };
            out.send(
                Peer::Replica(f),
                RaftMsg::Append(AppendEntries {
                    term,
                    prev_len: Slot(prev_len),
                    prev_term,
                    entries: Vec::new(),
                    commit,
                }),
            );
        }
    }

    pub(super) fn on_append_reply(
        &mut self,
        now: Time,
        from: NodeId,
        term: u64,
        ok: bool,
        len: u64,
        out: &mut Effects<RaftMsg, RaftTimer>,
    ) {
        self.see_term(now, term, None, out);
        if term != self.d.term {
            return;
        }
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let i = from.0 as usize;
        if ok {
            l.next[i] = l.next[i].max(len);
            if len > l.matched[i] {
                l.matched[i] = len;
                l.progress_at[i] = now;
                let before = self.commit;
                self.advance_commit(out);
                if self.commit > before {
                    // Room in the window: waiting commands go out (to every follower).
                    self.try_append(out);
                }
            }
            let behind = matches!(&self.role, Role::Leader(l) if l.next[i] < self.d.len());
            if behind {
                self.send_append(from, out);
            }
        } else if len < l.next[i] {
            // The consistency check failed before `next`: back up to the follower's hint (never below what
            // it is known to match) and send from there, once per `retransmit`.
            let recent = l.backed_up_at[i]
                .is_some_and(|t| now.saturating_since(t) < self.setup.tuning.retransmit);
            if recent {
                return;
            }
            l.backed_up_at[i] = Some(now);
            l.next[i] = len.max(l.matched[i]);
            l.progress_at[i] = now;
            self.send_append(from, out);
        }
    }

    /// Commits the longest prefix a majority holds, if its last entry is of this leader's term.
    pub(super) fn advance_commit(&mut self, out: &mut Effects<RaftMsg, RaftTimer>) {
        let Role::Leader(l) = &self.role else {
            return;
        };
        let (me, len) = (self.me().0 as usize, self.d.len());
        let held = |i: usize| if i == me { len } else { l.matched[i] };
        let n = self.setup.n();
        // The largest length a quorum holds: try each replica's match, longest first (on the stack: this runs
        // on every acknowledgement, and a cluster has at most 64 replicas).
        let mut lens = [0u64; 64];
        let n = n.min(64);
        (0..n).for_each(|i| lens[i] = held(i));
        let lens = &mut lens[..n];
        lens.sort_unstable_by(|a, b| b.cmp(a));
        let quorum = lens
            .iter()
            .copied()
            .filter(|&m| m > self.commit)
            .find(|&m| {
                let mut set = NodeSet::EMPTY;
                for i in (0..n).filter(|&i| held(i) >= m) {
                    set.insert(NodeId(i as u32));
                }
                self.setup.quorums.is_phase2_quorum(set)
            });
        let Some(upto) = quorum else {
            return;
        };
        let counting = self.setup.mutation == Mutation::RaftCommitsEarlierTermByCount;
        if counting || self.d.term_at(upto - 1) == Some(self.d.term) {
            self.commit_to(upto, out);
        }
    }
}
