//! Raft replica unit tests, driven message by message: the rules a whole-cluster run exercises only by chance.

use super::*;
use crate::command::{Op, Value};
use crate::effects::Dest;
use crate::journal::DurableState;
use crate::quorum::QuorumSystem;
use crate::replica::{Mutation, ToClient, Tuning};
use crate::types::ClientId;

fn setup(id: u32, n: usize, mutation: Mutation) -> ReplicaSetup {
    ReplicaSetup {
        id: NodeId(id),
        quorums: QuorumSystem::Majority { n },
        initial_leader: NodeId(0),
        tuning: Tuning::default(),
        mutation,
        seed: 5,
        reads: crate::reads::Reads::log(),
    }
}

/// A replica restarted with a log of entries of these terms, in term `term`.
fn with_log(id: u32, mutation: Mutation, term: u64, terms: &[u64]) -> RaftReplica {
    let mut d = RaftDurable::default();
    d.apply(RaftRecord::Term {
        term,
        voted_for: None,
    });
    d.apply(RaftRecord::Append {
        at: Slot(0),
        entries: terms.iter().map(|&t| e(t)).collect(),
    });
    RaftReplica::recover(setup(id, 3, mutation), d, Time(0), &mut Effects::new())
}

fn e(term: u64) -> Entry {
    Entry {
        term,
        value: Value::Noop,
    }
}

fn put(client: u32) -> Command {
    Command {
        client: ClientId(client),
        seq: 0,
        ack: 0,
        op: Op::Put {
            key: 1,
            value: bytes::Bytes::from_static(b"v"),
        },
    }
}

fn append(term: u64, prev_len: u64, prev_term: u64, terms: &[u64], commit: u64) -> RaftMsg {
    RaftMsg::Append(AppendEntries {
        term,
        prev_len: Slot(prev_len),
        prev_term,
        entries: terms.iter().map(|&t| e(t)).collect(),
        commit: Slot(commit),
    })
}

/// The one message sent, to replica `to`.
fn only_to(out: &mut Effects<RaftMsg, RaftTimer>, to: u32) -> RaftMsg {
    let sends = out.pending_sends().to_vec();
    out.clear();
    match sends.as_slice() {
        [(Dest::To(Peer::Replica(r)), m)] if r.0 == to => m.clone(),
        other => panic!("expected one message to replica {to}, got {other:?}"),
    }
}

fn terms(r: &RaftReplica) -> Vec<u64> {
    r.d.entries.iter().map(|e| e.term).collect()
}

#[test]
fn a_one_replica_cluster_leads_at_once_and_answers_from_its_own_log() {
    let mut out = Effects::new();
    let mut r = RaftReplica::new(setup(0, 1, Mutation::None), Time(0), &mut out);
    assert!(r.is_leader());
    out.clear();
    let c = ClientId(3);
    r.on_message(Time(1), Peer::Client(c), RaftMsg::Request(put(3)), &mut out);
    let replied = out
        .pending_sends()
        .iter()
        .any(|(_, m)| matches!(m, RaftMsg::ToClient(ToClient::Reply { .. })));
    assert!(replied, "{:?}", out.pending_sends());
    // The empty entry of term 1, then the command.
    assert_eq!((r.commit, terms(&r)), (2, vec![1, 1]));
}

#[test]
fn a_follower_checks_the_previous_entry_hints_the_conflicting_term_and_cuts_only_a_conflict() {
    let mut r = with_log(1, Mutation::None, 3, &[1, 2, 2, 2]);
    let mut out = Effects::new();
    let leader = Peer::Replica(NodeId(0));
    // The leader's entry at slot 3 is of term 3: the check fails, and the hint skips the whole run of term 2.
    r.on_message(Time(1), leader, append(4, 4, 3, &[4], 0), &mut out);
    assert!(matches!(
        only_to(&mut out, 0),
        RaftMsg::AppendReply {
            ok: false,
            len: Slot(1),
            term: 4
        }
    ));
    // Too far: the hint is the end of this log.
    r.on_message(Time(2), leader, append(4, 9, 4, &[], 0), &mut out);
    assert!(matches!(
        only_to(&mut out, 0),
        RaftMsg::AppendReply {
            ok: false,
            len: Slot(4),
            ..
        }
    ));
    // From slot 1: slot 1 matches, slot 2 conflicts; everything from slot 2 is replaced.
    r.on_message(Time(3), leader, append(4, 1, 1, &[2, 3, 4], 2), &mut out);
    assert!(matches!(
        only_to(&mut out, 0),
        RaftMsg::AppendReply {
            ok: true,
            len: Slot(4),
            ..
        }
    ));
    assert_eq!(terms(&r), [1, 2, 3, 4]);
    assert_eq!(r.commit, 2, "committed up to the leader's index");
    // A late copy of an earlier append whose entries this log holds does not cut the entries after them.
    r.on_message(Time(4), leader, append(4, 1, 1, &[2], 2), &mut out);
    assert!(matches!(
        only_to(&mut out, 0),
        RaftMsg::AppendReply {
            ok: true,
            len: Slot(2),
            ..
        }
    ));
    assert_eq!(terms(&r), [1, 2, 3, 4]);
    // A heartbeat vouches for the commit index only as far as its previous entry.
    r.on_message(Time(5), leader, append(4, 3, 3, &[], 9), &mut out);
    assert_eq!(r.commit, 3);
    out.clear();
    // A leader of an older term is told the current one.
    r.on_message(Time(6), leader, append(2, 0, 0, &[2], 0), &mut out);
    assert!(matches!(
        only_to(&mut out, 0),
        RaftMsg::AppendReply {
            ok: false,
            term: 4,
            ..
        }
    ));
}

fn vote(r: &mut RaftReplica, from: u32, term: u64, len: u64, last_term: u64) -> bool {
    let mut out = Effects::new();
    let ask = RaftMsg::RequestVote {
        term,
        len: Slot(len),
        last_term,
    };
    r.on_message(Time(1), Peer::Replica(NodeId(from)), ask, &mut out);
    match only_to(&mut out, from) {
        RaftMsg::Vote { granted, .. } => granted,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_vote_goes_once_per_term_durably_and_only_to_a_log_at_least_as_up_to_date() {
    let mut r = with_log(1, Mutation::None, 1, &[1, 2]);
    assert!(
        !vote(&mut r, 2, 3, 5, 1),
        "a longer log of an earlier last term"
    );
    assert!(
        !vote(&mut r, 2, 3, 1, 2),
        "a shorter log of the same last term"
    );
    assert!(vote(&mut r, 2, 3, 2, 2));
    assert!(vote(&mut r, 2, 3, 2, 2), "asked again, the same candidate");
    assert!(!vote(&mut r, 0, 3, 9, 9), "one vote per term");
    let mut records = Vec::new();
    r.take_records(&mut records);
    let restarted = crate::journal::replay::<RaftDurable>(records.into_iter().chain(
        // The log itself was on disk before (see `with_log`).
        std::iter::once(RaftRecord::Append {
            at: Slot(0),
            entries: vec![e(1), e(2)],
        }),
    ));
    assert_eq!((restarted.term, restarted.voted_for), (3, Some(NodeId(2))));
    assert!(
        vote(&mut r, 0, 4, 1, 3),
        "a later last term is more up to date"
    );

    let mut mutant = with_log(1, Mutation::RaftVotesForStaleLog, 1, &[1, 2]);
    assert!(vote(&mut mutant, 2, 3, 1, 1), "the mutant skips the check");
}

/// Replica 0 with a log of terms [1, 2], elected in term 3 by replica 1's vote.
fn elected(mutation: Mutation) -> (RaftReplica, Effects<RaftMsg, RaftTimer>) {
    let mut r = with_log(0, mutation, 2, &[1, 2]);
    let mut out = Effects::new();
    r.start_election(Time(1), &mut out);
    out.clear();
    let granted = RaftMsg::Vote {
        term: 3,
        granted: true,
    };
    r.on_message(Time(2), Peer::Replica(NodeId(1)), granted, &mut out);
    assert!(r.is_leader());
    out.clear();
    (r, out)
}

fn acked(r: &mut RaftReplica, out: &mut Effects<RaftMsg, RaftTimer>, len: u64) {
    let reply = RaftMsg::AppendReply {
        term: 3,
        ok: true,
        len: Slot(len),
    };
    r.on_message(Time(3), Peer::Replica(NodeId(1)), reply, out);
}

#[test]
fn a_leader_commits_an_earlier_terms_entry_only_with_one_of_its_own_figure_8() {
    let (mut r, mut out) = elected(Mutation::None);
    assert_eq!(terms(&r), [1, 2, 3], "the new term's empty entry");
    acked(&mut r, &mut out, 2);
    assert_eq!(
        r.commit, 0,
        "a majority holds slot 1, of term 2: not committed by counting"
    );
    acked(&mut r, &mut out, 3);
    assert_eq!(
        r.commit, 3,
        "the term-3 entry commits, and the earlier ones with it"
    );
}

#[test]
fn the_counting_mutant_commits_an_earlier_terms_entry_with_no_entry_of_its_own() {
    let (mut r, mut out) = elected(Mutation::RaftCommitsEarlierTermByCount);
    assert_eq!(terms(&r), [1, 2], "no empty entry on election");
    acked(&mut r, &mut out, 2);
    assert_eq!(r.commit, 2, "slot 1, of term 2, committed by counting");
}

#[test]
fn a_follower_behind_the_leaders_compaction_gets_the_state_machine() {
    let mut out = Effects::new();
    let mut s = setup(0, 3, Mutation::None);
    s.tuning.log_keep = 2;
    s.tuning.compact_every = 2;
    let mut r = RaftReplica::new(s, Time(0), &mut out);
    let vote = RaftMsg::Vote {
        term: 1,
        granted: true,
    };
    r.on_message(Time(1), Peer::Replica(NodeId(1)), vote, &mut out);
    for c in 0..8 {
        r.on_message(
            Time(2),
            Peer::Client(ClientId(c)),
            RaftMsg::Request(put(c)),
            &mut out,
        );
        let len = r.d.len();
        let reply = RaftMsg::AppendReply {
            term: 1,
            ok: true,
            len: Slot(len),
        };
        r.on_message(Time(3), Peer::Replica(NodeId(1)), reply, &mut out);
    }
    assert!(r.d.base > 0, "compacted: base {}", r.d.base);
    out.clear();
    // Replica 2 has nothing: backing up to slot 0 finds it compacted, so the snapshot goes.
    let fail = RaftMsg::AppendReply {
        term: 1,
        ok: false,
        len: Slot(0),
    };
    r.on_message(Time(4), Peer::Replica(NodeId(2)), fail, &mut out);
    let RaftMsg::InstallSnapshot {
        snap, last_term, ..
    } = only_to(&mut out, 2)
    else {
        panic!("expected a snapshot");
    };
    assert_eq!((snap.upto, last_term), (r.learner.applied_upto(), 1));

    let mut f = RaftReplica::new(setup(2, 3, Mutation::None), Time(0), &mut out);
    out.clear();
    let install = RaftMsg::InstallSnapshot {
        term: 1,
        last_term,
        snap: snap.clone(),
    };
    f.on_message(Time(5), Peer::Replica(NodeId(0)), install, &mut out);
    assert!(matches!(
        only_to(&mut out, 0),
        RaftMsg::AppendReply { ok: true, len, .. } if len == snap.upto
    ));
    assert_eq!(f.learner.kv().digest(), snap.kv.digest());
    assert_eq!((f.d.base, f.commit), (snap.upto.0, snap.upto.0));
}

#[test]
fn an_append_that_overtakes_an_earlier_one_waits_for_it_instead_of_needing_a_resend() {
    let mut r = with_log(1, Mutation::None, 1, &[1]);
    let mut out = Effects::new();
    let leader = Peer::Replica(NodeId(0));
    // Slot 2 arrives before slot 1: refused (the leader learns where this log ends) and kept.
    r.on_message(Time(1), leader, append(1, 2, 1, &[1], 0), &mut out);
    assert!(matches!(
        only_to(&mut out, 0),
        RaftMsg::AppendReply {
            ok: false,
            len: Slot(1),
            ..
        }
    ));
    // Slot 1 arrives: both are taken, and both answered.
    r.on_message(Time(2), leader, append(1, 1, 1, &[1], 0), &mut out);
    let oks: Vec<u64> = out
        .pending_sends()
        .iter()
        .filter_map(|(_, m)| match m {
            RaftMsg::AppendReply { ok: true, len, .. } => Some(len.0),
            _ => None,
        })
        .collect();
    assert_eq!(oks, [2, 3]);
    assert_eq!(terms(&r), [1, 1, 1]);
}
