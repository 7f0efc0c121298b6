//! The client door of a replica. Every variant takes client requests the same way, so this is written once:
//!
//! - a request counts only when it comes from the client it names (a sender's identity is its connection's,
//!   never a field of the message);
//! - a command that already ran is answered from the state machine's reply cache, without running again;
//! - a command the client has acknowledged, or one this replica has already taken, is dropped (the first copy
//!   will be answered);
//! - a command taken is answered once it is applied, with the state machine's reply;
//! - a replica that will not take it (not the leader) redirects the client.

use crate::command::{Command, CommandId, Reply};
use crate::effects::Effects;
use crate::kv::{KvStore, Outcome};
use crate::replica::{Message, ToClient};
use crate::types::{ClientId, NodeId, Peer};
use std::collections::BTreeSet;

/// How a variant's message type carries client traffic.
pub trait ClientWire: Message {
    fn request(cmd: Command) -> Self;
    fn to_client(self) -> Option<ToClient>;
    /// A message to a client.
    fn for_client(t: ToClient) -> Self;
    /// The command, if this is a request.
    fn into_request(self) -> Option<Command>;
    /// A quorum-read probe, for variants that answer them (`None`: reads go through the variant's own path).
    fn read_probe(_probe: crate::roles::read_quorum::ReadProbe) -> Option<Self> {
        None
    }
}

/// Implements [`ClientWire`] for a message enum whose client traffic is its `Request(Command)` and
/// `ToClient(ToClient)` variants, as every variant's is.
macro_rules! client_wire {
    ($msg:ident, $probe:ident) => {
        $crate::roles::front::client_wire!(@impl $msg,
            fn read_probe(p: $crate::roles::read_quorum::ReadProbe) -> Option<Self> {
                Some($msg::$probe(p))
            }
        );
    };
    ($msg:ident) => {
        $crate::roles::front::client_wire!(@impl $msg,);
    };
    (@impl $msg:ident, $($extra:item)*) => {
        impl $crate::roles::front::ClientWire for $msg {
            fn request(cmd: $crate::command::Command) -> Self {
                $msg::Request(cmd)
            }
            fn to_client(self) -> Option<$crate::replica::ToClient> {
                match self {
                    $msg::ToClient(t) => Some(t),
                    _ => None,
                }
            }
            fn for_client(t: $crate::replica::ToClient) -> Self {
                $msg::ToClient(t)
            }
            fn into_request(self) -> Option<$crate::command::Command> {
                match self {
                    $msg::Request(cmd) => Some(cmd),
                    _ => None,
                }
            }
            $($extra)*
        }
    };
}
pub(crate) use client_wire;

/// What to do with a client's request.
#[derive(Debug, PartialEq)]
pub enum Door {
    /// It ran already: this is its reply (send it again).
    Answered(Reply),
    /// Acknowledged by its client, or already taken here: nothing to do.
    Known,
    /// New here: take it (propose it, vote for it).
    Take,
}

/// The request in a client's message, if it is one in the sender's own name.
#[inline]
pub fn own_request<M: ClientWire>(from: ClientId, msg: M) -> Option<Command> {
    msg.into_request().filter(|cmd| cmd.client == from)
}

/// Whether the state machine already answered `id`: its cached reply.
#[inline]
pub fn cached(kv: &KvStore, id: CommandId) -> Option<Reply> {
    kv.cached_reply(id).cloned()
}

/// Decides a request's fate; a command taken is added to `taken`, so a retry is not taken twice.
#[inline]
pub fn admit(kv: &KvStore, taken: &mut BTreeSet<CommandId>, cmd: &Command) -> Door {
    let id = cmd.id();
    if let Some(reply) = cached(kv, id) {
        return Door::Answered(reply);
    }
    if kv.is_acknowledged(id) || !taken.insert(id) {
        return Door::Known;
    }
    Door::Take
}

/// The reply an applied command gets: its result, or the first copy's for a duplicate; `None` when the client
/// has acknowledged it already (nobody is waiting).
#[inline]
pub fn reply_for(outcome: &Outcome) -> Option<Reply> {
    match outcome {
        Outcome::Executed(r) | Outcome::Duplicate(Some(r)) => Some(r.clone()),
        Outcome::Duplicate(None) => None,
    }
}

/// Sends `reply` for `cmd` to its client.
#[inline]
pub fn reply<M: ClientWire, T>(out: &mut Effects<M, T>, cmd: &Command, reply: Reply) {
    out.send(
        Peer::Client(cmd.client),
        M::for_client(ToClient::Reply {
            seq: cmd.seq,
            reply,
        }),
    );
}

/// Tells `cmd`'s client to try `leader` (or any other replica when it is unknown).
#[inline]
pub fn redirect<M: ClientWire, T>(out: &mut Effects<M, T>, cmd: &Command, leader: Option<NodeId>) {
    out.send(
        Peer::Client(cmd.client),
        M::for_client(ToClient::Redirect {
            seq: cmd.seq,
            leader,
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Op;
    use crate::kv::KvStore;
    use crate::multi::MultiMsg;
    use crate::types::Slot;

    fn put(client: u32, seq: u64, ack: u64) -> Command {
        Command {
            client: ClientId(client),
            seq,
            ack,
            op: Op::Put {
                key: 1,
                value: bytes::Bytes::from_static(b"v"),
            },
        }
    }

    #[test]
    fn only_a_clients_own_requests_get_through() {
        let cmd = put(2, 0, 0);
        assert_eq!(
            own_request(ClientId(2), MultiMsg::Request(cmd.clone())).map(|c| c.id()),
            Some(cmd.id())
        );
        assert!(own_request(ClientId(1), MultiMsg::Request(cmd)).is_none());
        let not_a_request = MultiMsg::CatchUp { from: Slot(0) };
        assert!(own_request(ClientId(2), not_a_request).is_none());
    }

    #[test]
    fn a_command_is_taken_once_answered_from_the_cache_and_forgotten_when_acknowledged() {
        let mut kv = KvStore::default();
        let mut taken = BTreeSet::new();
        let first = put(1, 0, 0);
        assert_eq!(admit(&kv, &mut taken, &first), Door::Take);
        assert_eq!(
            admit(&kv, &mut taken, &first),
            Door::Known,
            "a retry is not taken twice"
        );
        // Applied: the reply is cached, and a retry gets it without running again.
        let outcome = kv.apply(&first);
        let reply = reply_for(&outcome).expect("an executed command has a reply");
        assert_eq!(
            admit(&kv, &mut BTreeSet::new(), &first),
            Door::Answered(reply)
        );
        // The client's next command acknowledges the first: a late copy of it is dropped.
        kv.apply(&put(1, 1, 1));
        assert_eq!(admit(&kv, &mut BTreeSet::new(), &first), Door::Known);
        assert_eq!(reply_for(&kv.apply(&first)), None);
    }

    #[test]
    fn replies_and_redirects_go_to_the_commands_client() {
        let mut out: Effects<MultiMsg, ()> = Effects::new();
        let cmd = put(3, 7, 0);
        reply(&mut out, &cmd, Reply::Written { version: 1 });
        redirect(&mut out, &cmd, Some(NodeId(2)));
        let sends = out.pending_sends();
        assert_eq!(sends.len(), 2);
        assert!(sends
            .iter()
            .all(|(to, _)| *to == crate::effects::Dest::To(Peer::Client(ClientId(3)))));
        assert!(matches!(
            sends[1].1,
            MultiMsg::ToClient(ToClient::Redirect {
                seq: 7,
                leader: Some(NodeId(2))
            })
        ));
    }
}
