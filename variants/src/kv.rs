//! The replicated state machine: a key-value store that applies each `(client, seq)` at most once.
//!
//! Each client's table keeps the replies of commands it has not yet acknowledged (`seq >= done_below`), so a
//! retried command gets the same reply without running again, even when a client has several commands in flight.

use crate::command::{Command, CommandId, Op, Reply};
use crate::types::ClientId;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran now and produced this reply.
    Executed(Reply),
    /// The command had already run; the cached reply if the client may still be waiting for it.
    Duplicate(Option<Reply>),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ClientTable {
    done_below: u64,
    replies: BTreeMap<u64, Reply>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvStore {
    data: HashMap<u64, (u64, Bytes)>,
    clients: BTreeMap<ClientId, ClientTable>,
    executed: u64,
    digest: u64,
}

fn read_from(data: &HashMap<u64, (u64, Bytes)>, key: u64) -> Reply {
    match data.get(&key) {
        Some((v, val)) => Reply::Read {
            version: *v,
            value: Some(val.clone()),
        },
        None => Reply::Read {
            version: 0,
            value: None,
        },
    }
}

impl KvStore {
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// Applies one command. Stale duplicates (already acknowledged by the client) are skipped silently.
    pub fn apply(&mut self, cmd: &Command) -> Outcome {
        let table = self.clients.entry(cmd.client).or_default();
        if cmd.seq < table.done_below {
            return Outcome::Duplicate(None);
        }
        if let Some(r) = table.replies.get(&cmd.seq) {
            return Outcome::Duplicate(Some(r.clone()));
        }
        let reply = match &cmd.op {
            Op::Put { key, value } => {
                let e = self.data.entry(*key).or_insert((0, Bytes::new()));
                e.0 += 1;
                e.1 = value.clone();
                Reply::Written { version: e.0 }
            }
            Op::Cas { key, expect, new } => match self.data.get_mut(key) {
                Some(e) if e.1 == *expect => {
                    e.0 += 1;
                    e.1 = new.clone();
                    Reply::Cas {
                        ok: true,
                        version: e.0,
                    }
                }
                other => Reply::Cas {
                    ok: false,
                    version: other.map_or(0, |e| e.0),
                },
            },
            Op::Get { key } => read_from(&self.data, *key),
        };
        table.replies.insert(cmd.seq, reply.clone());
        if cmd.ack > table.done_below {
            table.done_below = cmd.ack;
            table.replies = table.replies.split_off(&cmd.ack);
        }
        self.executed += 1;
        self.digest = mix(self.digest, cmd.client.0 as u64, cmd.seq, &reply);
        Outcome::Executed(reply)
    }

    /// The key as this state holds it, answered without a log slot (lease and quorum reads).
    pub fn read(&self, key: u64) -> Reply {
        read_from(&self.data, key)
    }

    /// The reply to a command that already ran and that the client has not acknowledged.
    pub fn cached_reply(&self, id: CommandId) -> Option<&Reply> {
        self.clients.get(&id.client)?.replies.get(&id.seq)
    }

    /// True when the client has acknowledged this command's reply: it will never wait for it again.
    pub fn is_acknowledged(&self, id: CommandId) -> bool {
        self.clients
            .get(&id.client)
            .is_some_and(|t| id.seq < t.done_below)
    }

    /// True when the command has run here (its reply is cached, or the client has acknowledged it): a replica
    /// that took a snapshot past a slot uses this to tell which of its own commands the snapshot carried.
    pub fn has_run(&self, id: CommandId) -> bool {
        self.is_acknowledged(id) || self.cached_reply(id).is_some()
    }

    /// Number of commands executed (duplicates excluded).
    pub fn executed(&self) -> u64 {
        self.executed
    }

    /// A digest of the sequence of executed commands and their replies: two stores that applied the same log
    /// prefix have the same digest. The checker compares it with its own replay of the log.
    pub fn digest(&self) -> u64 {
        self.digest
    }
}

fn mix(h: u64, a: u64, b: u64, reply: &Reply) -> u64 {
    let (v, tag) = match reply {
        Reply::Written { version } => (*version, 1),
        Reply::Read { version, .. } => (*version, 2),
        Reply::Cas { ok, version } => (*version, 3 + u64::from(*ok)),
    };
    let mut x = h ^ 0x9E37_79B9_7F4A_7C15;
    for w in [a, b, v, tag] {
        x = (x ^ w).wrapping_mul(0x100_0000_01B3).rotate_left(29);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(client: u32, seq: u64, ack: u64, key: u64) -> Command {
        Command {
            client: ClientId(client),
            seq,
            ack,
            op: Op::Put {
                key,
                value: Bytes::from(vec![seq as u8]),
            },
        }
    }

    #[test]
    fn a_command_runs_once_and_duplicates_get_the_same_reply() {
        let mut kv = KvStore::new();
        let c = put(1, 0, 0, 7);
        assert_eq!(
            kv.apply(&c),
            Outcome::Executed(Reply::Written { version: 1 })
        );
        assert_eq!(
            kv.apply(&c),
            Outcome::Duplicate(Some(Reply::Written { version: 1 }))
        );
        assert_eq!(kv.executed(), 1);
        // Another client's write to the same key bumps the version.
        assert_eq!(
            kv.apply(&put(2, 0, 0, 7)),
            Outcome::Executed(Reply::Written { version: 2 })
        );
    }

    #[test]
    fn compare_and_set_sets_only_on_a_match_and_runs_once() {
        let mut kv = KvStore::new();
        let cas = |seq: u64, expect: u8, new: u8| Command {
            client: ClientId(3),
            seq,
            ack: 0,
            op: Op::Cas {
                key: 7,
                expect: Bytes::from(vec![expect]),
                new: Bytes::from(vec![new]),
            },
        };
        // An absent key matches nothing.
        assert_eq!(
            kv.apply(&cas(0, 0, 9)),
            Outcome::Executed(Reply::Cas {
                ok: false,
                version: 0
            })
        );
        kv.apply(&put(1, 0, 0, 7)); // key 7 = [0], version 1
        assert_eq!(
            kv.apply(&cas(1, 5, 9)),
            Outcome::Executed(Reply::Cas {
                ok: false,
                version: 1
            })
        );
        let hit = cas(2, 0, 9);
        assert_eq!(
            kv.apply(&hit),
            Outcome::Executed(Reply::Cas {
                ok: true,
                version: 2
            })
        );
        // Retried: the cached reply, not a second compare (which would now fail).
        assert_eq!(
            kv.apply(&hit),
            Outcome::Duplicate(Some(Reply::Cas {
                ok: true,
                version: 2
            }))
        );
        let read = Command {
            client: ClientId(4),
            seq: 0,
            ack: 0,
            op: Op::Get { key: 7 },
        };
        assert_eq!(
            kv.apply(&read),
            Outcome::Executed(Reply::Read {
                version: 2,
                value: Some(Bytes::from(vec![9]))
            })
        );
    }

    #[test]
    fn acknowledged_replies_are_forgotten_and_their_retries_skipped() {
        let mut kv = KvStore::new();
        kv.apply(&put(1, 0, 0, 1));
        kv.apply(&put(1, 1, 1, 1)); // acknowledges seq 0
        assert!(kv
            .cached_reply(CommandId {
                client: ClientId(1),
                seq: 0
            })
            .is_none());
        assert!(kv.is_acknowledged(CommandId {
            client: ClientId(1),
            seq: 0
        }));
        assert_eq!(kv.apply(&put(1, 0, 0, 1)), Outcome::Duplicate(None));
        assert_eq!(kv.executed(), 2);
    }

    #[test]
    fn out_of_order_commands_of_one_client_each_run_once() {
        let mut kv = KvStore::new();
        kv.apply(&put(1, 2, 0, 1));
        kv.apply(&put(1, 1, 0, 1));
        assert!(matches!(
            kv.apply(&put(1, 2, 0, 1)),
            Outcome::Duplicate(Some(_))
        ));
        assert_eq!(kv.executed(), 2);
    }

    #[test]
    fn digest_depends_on_order() {
        let mut a = KvStore::new();
        let mut b = KvStore::new();
        a.apply(&put(1, 0, 0, 1));
        a.apply(&put(2, 0, 0, 1));
        b.apply(&put(2, 0, 0, 1));
        b.apply(&put(1, 0, 0, 1));
        assert_ne!(a.digest(), b.digest());
    }
}
