//! The connections of one identity (a replica or a client): one QUIC connection per peer pair, one
//! unidirectional stream per direction carrying frames, reconnection with back-off, and the peer's identity
//! taken from its certificate.
//!
//! Who dials: a replica dials every replica with a higher id, a client dials every replica; the other side
//! accepts. So each pair has exactly one connection, and after a restart the restarted side (or its lower-id
//! peer) dials again. A peer's link ([`Outbound`]) outlives its connections: frames sent while a peer is
//! unreachable are dropped and counted, as a network would drop them; the protocol's retransmission recovers.

use super::control::{ControlCall, ControlRequest};
use super::frame::{decode, FrameDecoder, FrameError};
use super::tls::{peer_identity, Identity};
use bytes::Bytes;
use paxos_variants::{Message, Peer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Frames waiting for one link's writer; past this the link drops (a full send queue).
const LINK_QUEUE: usize = 1 << 16;
/// Messages decoded but not yet handled by the node; readers wait (and QUIC flow control pushes back) past it.
pub const INBOX: usize = 1 << 14;
/// Application close codes.
pub const CLOSE_BAD_FRAME: u32 = 1;
const CLOSE_UNKNOWN_PEER: u32 = 2;
const CLOSE_REPLACED: u32 = 3;
const CLOSE_SHUTDOWN: u32 = 4;

/// What the transport saw, for the run's report and the hostile-input tests.
#[derive(Debug, Default)]
pub struct NetStats {
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Connections closed because a frame was oversized or not a valid message.
    pub bad_frames: AtomicU64,
    /// Handshakes that succeeded at the TLS level but named a peer this node does not accept, plus handshakes
    /// that failed (no certificate, wrong CA).
    pub refused: AtomicU64,
    /// Frames dropped because the peer had no live connection or its queue was full.
    pub dropped_unreachable: AtomicU64,
    pub connects: AtomicU64,
}

impl NetStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }
}

/// The sending end of one peer's link.
#[derive(Clone)]
pub struct Outbound {
    tx: mpsc::Sender<Bytes>,
    stats: Arc<NetStats>,
}

impl Outbound {
    /// Queues a frame for the peer; never blocks, drops when the queue is full.
    pub fn push(&self, frame: Bytes) {
        if self.tx.try_send(frame).is_err() {
            self.stats.dropped_unreachable.fetch_add(1, Relaxed);
        }
    }
}

type ConnWatch = watch::Sender<Option<quinn::Connection>>;

/// Which peers may connect to this node.
#[derive(Debug, Clone, Copy)]
pub struct AcceptPolicy {
    pub me: Identity,
    pub replicas: u32,
    /// Clients with ids below this may connect; `None`: any client of the cluster CA.
    pub clients_below: Option<u32>,
}

impl AcceptPolicy {
    fn allows(&self, who: Identity) -> bool {
        match (self.me, who) {
            (Identity::Replica(me), Identity::Replica(p)) => p < me,
            (Identity::Replica(_), Identity::Client(c)) => self.clients_below.is_none_or(|b| c < b),
            _ => false,
        }
    }
}

struct Links {
    out: HashMap<Identity, Outbound>,
    conns: HashMap<Identity, ConnWatch>,
}

impl Links {
    /// The link to `who`, made on first use; a new link comes with its writer, for the caller to spawn.
    fn link(
        &mut self,
        who: Identity,
        stats: &Arc<NetStats>,
    ) -> (
        ConnWatch,
        Option<impl std::future::Future<Output = ()> + Send + 'static>,
    ) {
        if let Some(w) = self.conns.get(&who) {
            return (w.clone(), None);
        }
        let (tx, rx) = mpsc::channel(LINK_QUEUE);
        let (wtx, wrx) = watch::channel(None);
        let stats = stats.clone();
        self.out.insert(
            who,
            Outbound {
                tx,
                stats: stats.clone(),
            },
        );
        self.conns.insert(who, wtx.clone());
        (wtx, Some(writer(rx, wrx, stats)))
    }
}

/// The network side of one replica or client.
pub struct Transport<M: Message> {
    endpoint: quinn::Endpoint,
    client_cfg: quinn::ClientConfig,
    links: Arc<Mutex<Links>>,
    inbox: mpsc::Sender<(Peer, M)>,
    pub stats: Arc<NetStats>,
    tasks: JoinSet<()>,
}

impl<M: Message> Transport<M> {
    /// A transport on `endpoint`; inbound messages go to `inbox`. Replicas call [`Transport::accept`] too.
    pub fn new(
        endpoint: quinn::Endpoint,
        client_cfg: quinn::ClientConfig,
        inbox: mpsc::Sender<(Peer, M)>,
    ) -> Transport<M> {
        Transport {
            endpoint,
            client_cfg,
            links: Arc::new(Mutex::new(Links {
                out: HashMap::new(),
                conns: HashMap::new(),
            })),
            inbox,
            stats: Arc::new(NetStats::default()),
            tasks: JoinSet::new(),
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The link to a peer, if one exists (dialed, or accepted at least once).
    pub fn outbound(&self, who: Identity) -> Option<Outbound> {
        self.links.lock().ok()?.out.get(&who).cloned()
    }

    /// A handle that finds links without borrowing the transport (for senders living in other tasks).
    pub fn link_finder(&self) -> LinkFinder {
        LinkFinder {
            links: self.links.clone(),
            cache: HashMap::new(),
        }
    }

    /// Whether the link to `who` has a live connection now.
    pub fn connected(&self, who: Identity) -> bool {
        self.links.lock().is_ok_and(|l| {
            l.conns.get(&who).is_some_and(|w| {
                w.borrow()
                    .as_ref()
                    .is_some_and(|c| c.close_reason().is_none())
            })
        })
    }

    /// Creates (once) the link to `who` with its writer task, returning its connection watch.
    fn ensure_link(&mut self, who: Identity) -> ConnWatch {
        let Ok(mut l) = self.links.lock() else {
            // A poisoned lock means another task panicked; a detached watch just drops frames.
            return watch::channel(None).0;
        };
        let (wtx, writer) = l.link(who, &self.stats);
        if let Some(w) = writer {
            self.tasks.spawn(w);
        }
        wtx
    }

    /// Dials `who` at `addr` now and again whenever the connection is lost.
    pub fn dial(&mut self, who: Identity, addr: impl Into<super::addr::PeerAddr>) {
        let addr = addr.into();
        let conn = self.ensure_link(who);
        let ctx = ReadCtx {
            peer: who.peer(),
            inbox: self.inbox.clone(),
            stats: self.stats.clone(),
            control: None,
        };
        self.tasks.spawn(dial_loop(
            self.endpoint.clone(),
            self.client_cfg.clone(),
            who,
            addr,
            conn,
            ctx,
        ));
    }

    /// The live connection to `who`, if any.
    pub fn connection(&self, who: Identity) -> Option<quinn::Connection> {
        self.conn_finder().connection(who)
    }

    pub fn conn_finder(&self) -> ConnFinder {
        ConnFinder {
            links: self.links.clone(),
        }
    }

    /// Accepts connections from the peers `policy` allows; refuses and logs the rest. Control requests from
    /// clients go to `control` (a replica process serves them; without it they are refused).
    pub fn accept(&mut self, policy: AcceptPolicy, control: Option<mpsc::Sender<ControlCall>>) {
        let shared = AcceptShared {
            links: self.links.clone(),
            stats: self.stats.clone(),
            inbox: self.inbox.clone(),
            control,
        };
        // Links to peers that dial us are made lazily by the accept loop, which needs to spawn writers.
        self.tasks
            .spawn(accept_loop::<M>(self.endpoint.clone(), policy, shared));
    }

    /// Closes every connection and stops every task of this transport.
    pub async fn shutdown(mut self) {
        self.endpoint
            .close(quinn::VarInt::from_u32(CLOSE_SHUTDOWN), b"shutdown");
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Finds the live connection to a peer at the moment it is asked (a connection may be replaced mid-run).
#[derive(Clone)]
pub struct ConnFinder {
    links: Arc<Mutex<Links>>,
}

impl ConnFinder {
    pub fn connection(&self, who: Identity) -> Option<quinn::Connection> {
        let l = self.links.lock().ok()?;
        let c = l.conns.get(&who)?.borrow().clone()?;
        c.close_reason().is_none().then_some(c)
    }
}

/// Finds peers' links, caching them (a link never changes once made).
pub struct LinkFinder {
    links: Arc<Mutex<Links>>,
    cache: HashMap<Peer, Outbound>,
}

impl LinkFinder {
    pub fn find(&mut self, p: Peer) -> Option<Outbound> {
        if let Some(o) = self.cache.get(&p) {
            return Some(o.clone());
        }
        let who = match p {
            Peer::Replica(r) => Identity::Replica(r.0),
            Peer::Client(c) => Identity::Client(c.0),
        };
        let o = self.links.lock().ok()?.out.get(&who).cloned()?;
        self.cache.insert(p, o.clone());
        Some(o)
    }
}

struct AcceptShared<M> {
    links: Arc<Mutex<Links>>,
    stats: Arc<NetStats>,
    inbox: mpsc::Sender<(Peer, M)>,
    control: Option<mpsc::Sender<ControlCall>>,
}

impl<M> Clone for AcceptShared<M> {
    fn clone(&self) -> Self {
        AcceptShared {
            links: self.links.clone(),
            stats: self.stats.clone(),
            inbox: self.inbox.clone(),
            control: self.control.clone(),
        }
    }
}

async fn accept_loop<M: Message>(
    endpoint: quinn::Endpoint,
    policy: AcceptPolicy,
    shared: AcceptShared<M>,
) {
    // One task per handshake, so a peer that stalls mid-handshake delays nobody else.
    let mut tasks = JoinSet::new();
    while let Some(incoming) = endpoint.accept().await {
        tasks.spawn(admit(incoming, policy, shared.clone()));
        // Reap finished connections so a long run with many reconnects does not accumulate handles.
        while tasks.try_join_next().is_some() {}
    }
}

/// Completes one handshake, checks who it is, and serves the connection until it closes.
async fn admit<M: Message>(
    incoming: quinn::Incoming,
    policy: AcceptPolicy,
    shared: AcceptShared<M>,
) {
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            shared.stats.refused.fetch_add(1, Relaxed);
            tracing::warn!("refused a connection: handshake failed: {e}");
            return;
        }
    };
    let who = match peer_identity(&conn) {
        Ok(w) if policy.allows(w) => w,
        Ok(w) => {
            shared.stats.refused.fetch_add(1, Relaxed);
            tracing::warn!(
                "refused {} from {}: not a peer that may dial {}",
                w.dns_name(),
                conn.remote_address(),
                policy.me.dns_name()
            );
            conn.close(quinn::VarInt::from_u32(CLOSE_UNKNOWN_PEER), b"unknown peer");
            return;
        }
        Err(e) => {
            shared.stats.refused.fetch_add(1, Relaxed);
            tracing::warn!("refused a connection from {}: {e}", conn.remote_address());
            conn.close(quinn::VarInt::from_u32(CLOSE_UNKNOWN_PEER), b"unknown peer");
            return;
        }
    };
    shared.stats.connects.fetch_add(1, Relaxed);
    let watch = {
        let Ok(mut l) = shared.links.lock() else {
            return;
        };
        let (wtx, writer) = l.link(who, &shared.stats);
        // The writer ends by itself when the link's senders are gone (the transport was dropped).
        if let Some(w) = writer {
            tokio::spawn(w);
        }
        wtx
    };
    // A peer that dials again (it restarted) replaces its old connection.
    let old = watch.send_replace(Some(conn.clone()));
    if let Some(old) = old {
        old.close(quinn::VarInt::from_u32(CLOSE_REPLACED), b"replaced");
    }
    let ctx = ReadCtx {
        peer: who.peer(),
        inbox: shared.inbox.clone(),
        stats: shared.stats.clone(),
        control: match who {
            Identity::Client(_) => shared.control.clone(),
            Identity::Replica(_) => None,
        },
    };
    read_connection(conn, ctx).await;
}

async fn dial_loop<M: Message>(
    endpoint: quinn::Endpoint,
    cfg: quinn::ClientConfig,
    who: Identity,
    peer: super::addr::PeerAddr,
    watch: ConnWatch,
    ctx: ReadCtx<M>,
) {
    let name = who.dns_name();
    let mut backoff = Duration::from_millis(20);
    loop {
        // A name is looked up on every attempt: the peer may have come back at another address.
        let addr = match peer.resolve().await {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!("looking up {name} at {peer}: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).clamp(Duration::from_millis(20), Duration::from_secs(1));
                continue;
            }
        };
        match endpoint.connect_with(cfg.clone(), addr, &name) {
            Ok(connecting) => match connecting.await {
                Ok(conn) => {
                    ctx.stats.connects.fetch_add(1, Relaxed);
                    let up = tokio::time::Instant::now();
                    watch.send_replace(Some(conn.clone()));
                    read_connection(conn.clone(), ctx.clone()).await;
                    watch.send_replace(None);
                    // Only a connection that lasted resets the back-off; one the peer refuses right after the
                    // handshake (it does not accept us) must not be redialled every few milliseconds.
                    let refused = matches!(
                        conn.close_reason(),
                        Some(quinn::ConnectionError::ApplicationClosed(ref c))
                            if c.error_code == quinn::VarInt::from_u32(CLOSE_UNKNOWN_PEER)
                    );
                    if refused {
                        tracing::warn!("{name} at {addr} refused this node's certificate");
                        backoff = Duration::from_secs(5);
                    } else if up.elapsed() >= Duration::from_secs(1) {
                        backoff = Duration::from_millis(20);
                    }
                }
                Err(e) => tracing::debug!("dialing {name} at {addr}: {e}"),
            },
            Err(e) => tracing::warn!("cannot dial {name} at {addr}: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2)
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(20));
    }
}

struct ReadCtx<M> {
    peer: Peer,
    inbox: mpsc::Sender<(Peer, M)>,
    stats: Arc<NetStats>,
    control: Option<mpsc::Sender<ControlCall>>,
}

impl<M> Clone for ReadCtx<M> {
    fn clone(&self) -> Self {
        ReadCtx {
            peer: self.peer,
            inbox: self.inbox.clone(),
            stats: self.stats.clone(),
            control: self.control.clone(),
        }
    }
}

/// Reads every stream the peer opens on this connection until it closes: unidirectional streams carry
/// protocol frames, bidirectional ones control requests.
async fn read_connection<M: Message>(conn: quinn::Connection, ctx: ReadCtx<M>) {
    let mut streams = JoinSet::new();
    loop {
        tokio::select! {
            uni = conn.accept_uni() => match uni {
                Ok(recv) => { streams.spawn(read_stream(conn.clone(), recv, ctx.clone())); }
                Err(_) => break,
            },
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => match ctx.control.clone() {
                    Some(control) => { streams.spawn(serve_control(conn.clone(), send, recv, control, ctx.stats.clone())); }
                    None => {
                        ctx.stats.bad_frames.fetch_add(1, Relaxed);
                        conn.close(quinn::VarInt::from_u32(CLOSE_BAD_FRAME), b"no control here");
                        break;
                    }
                },
                Err(_) => break,
            },
        }
        while streams.try_join_next().is_some() {}
    }
    streams.abort_all();
}

/// Answers one control request; a malformed one closes the connection like a bad frame.
async fn serve_control(
    conn: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    control: mpsc::Sender<ControlCall>,
    stats: Arc<NetStats>,
) {
    let Ok(bytes) = recv.read_to_end(1024).await else {
        return;
    };
    let req = match decode::<ControlRequest>(bytes.get(4..).unwrap_or_default()) {
        Ok(r) => r,
        Err(_) => {
            stats.bad_frames.fetch_add(1, Relaxed);
            conn.close(
                quinn::VarInt::from_u32(CLOSE_BAD_FRAME),
                b"bad control request",
            );
            return;
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    if control.send(ControlCall { req, reply: tx }).await.is_err() {
        return;
    }
    if let Ok(answer) = rx.await {
        let _ = send.write_all(&answer).await;
        let _ = send.finish();
        // Wait until the peer has the whole answer before the stream is dropped.
        let _ = send.stopped().await;
    }
}

async fn read_stream<M: Message>(
    conn: quinn::Connection,
    mut recv: quinn::RecvStream,
    ctx: ReadCtx<M>,
) {
    let mut dec = FrameDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match recv.read(&mut buf).await {
            Ok(Some(n)) => n,
            // Our senders finish a stream only after whole frames: a clean end inside one is a bad peer.
            Ok(None) if dec.buffered() > 0 => {
                return close_bad(&conn, &ctx, FrameError::Truncated(dec.buffered()))
            }
            Ok(None) | Err(_) => return,
        };
        dec.push(&buf[..n]);
        loop {
            let msg = match dec.next_payload().and_then(|p| match p {
                Some(p) => decode::<M>(&p).map(Some),
                None => Ok(None),
            }) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => return close_bad(&conn, &ctx, e),
            };
            ctx.stats.frames_in.fetch_add(1, Relaxed);
            if ctx.inbox.send((ctx.peer, msg)).await.is_err() {
                return;
            }
        }
    }
}

fn close_bad<M>(conn: &quinn::Connection, ctx: &ReadCtx<M>, e: FrameError) {
    ctx.stats.bad_frames.fetch_add(1, Relaxed);
    tracing::warn!("closing the connection from {:?}: {e}", ctx.peer);
    conn.close(quinn::VarInt::from_u32(CLOSE_BAD_FRAME), b"bad frame");
}

/// Writes a link's frames to whatever connection the link has now, a batch at a time.
async fn writer(
    mut frames: mpsc::Receiver<Bytes>,
    mut conn: watch::Receiver<Option<quinn::Connection>>,
    stats: Arc<NetStats>,
) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(256);
    loop {
        // Wait for a live connection, dropping what is sent meanwhile.
        let c = loop {
            let current = conn.borrow_and_update().clone();
            if let Some(c) = current.filter(|c| c.close_reason().is_none()) {
                break c;
            }
            tokio::select! {
                changed = conn.changed() => if changed.is_err() { return },
                f = frames.recv() => match f {
                    Some(_) => { stats.dropped_unreachable.fetch_add(1, Relaxed); }
                    None => return,
                },
            }
        };
        let Ok(mut send) = c.open_uni().await else {
            // The connection died; wait for the next one.
            let _ = conn.changed().await;
            continue;
        };
        loop {
            tokio::select! {
                biased;
                changed = conn.changed() => {
                    if changed.is_err() { return }
                    break;
                }
                n = frames.recv_many(&mut batch, 256) => {
                    if n == 0 { return }
                    let count = batch.len() as u64;
                    let bytes: u64 = batch.iter().map(|b| b.len() as u64).sum();
                    if send.write_all_chunks(&mut batch).await.is_err() {
                        stats.dropped_unreachable.fetch_add(count, Relaxed);
                        batch.clear();
                        break;
                    }
                    batch.clear();
                    stats.frames_out.fetch_add(count, Relaxed);
                    stats.bytes_out.fetch_add(bytes, Relaxed);
                }
            }
        }
    }
}
