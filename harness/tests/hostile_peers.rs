//! The transport refuses what is not a cluster member and survives what a broken or hostile member sends:
//! a certificate from another CA, no certificate, a certificate for an identity the node does not accept, and
//! oversized or malformed frames. Each refusal is counted, and an honest peer keeps being served throughout.

use bytes::Bytes;
use paxos_harness::net::floor::Probe;
use paxos_harness::net::frame::encode;
use paxos_harness::net::tls::{self, ClusterCa, Credentials, Identity};
use paxos_harness::net::transport::{AcceptPolicy, NetStats, Transport, INBOX};
use paxos_harness::net::{dial_endpoint, replica_endpoint};
use paxos_variants::{ClientId, Peer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

fn lo() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn probe(seq: u64) -> Bytes {
    encode(&Probe {
        seq,
        echo: false,
        data: Bytes::from_static(b"hello"),
    })
    .unwrap()
}

async fn settle<F: Fn() -> bool>(f: F) -> bool {
    for _ in 0..500 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// An honest client that has connected and can send probes to replica 1.
async fn honest(
    ca: &ClusterCa,
    addr: SocketAddr,
    id: u32,
) -> (Transport<Probe>, mpsc::Receiver<(Peer, Probe)>) {
    let (creds, _, _) = ca.issue(Identity::Client(id)).unwrap();
    let cfg = tls::client_config(&ca.cert_der(), &creds).unwrap();
    let (tx, rx) = mpsc::channel(INBOX);
    let mut t = Transport::<Probe>::new(dial_endpoint(lo()).unwrap(), cfg, tx);
    t.dial(Identity::Replica(1), addr);
    assert!(settle(|| t.connected(Identity::Replica(1))).await);
    (t, rx)
}

/// Dials replica 1 with raw credentials and returns the connection, or None when the handshake fails.
async fn raw_dial(
    ca: &rustls::pki_types::CertificateDer<'static>,
    creds: &Credentials,
    addr: SocketAddr,
) -> Option<quinn::Connection> {
    let ep = dial_endpoint(lo()).unwrap();
    let cfg = tls::client_config(ca, creds).unwrap();
    let conn = ep
        .connect_with(cfg, addr, &Identity::Replica(1).dns_name())
        .ok()?
        .await
        .ok()?;
    // The server may refuse after the handshake: give it a moment to close.
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.close_reason().is_none().then_some(conn)
}

async fn expect_probe(rx: &mut mpsc::Receiver<(Peer, Probe)>, from: Peer, seq: u64) {
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    match got {
        Ok(Some((p, m))) => {
            assert_eq!(p, from);
            assert_eq!(m.seq, seq);
        }
        other => panic!("expected probe {seq} from {from:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused_and_bad_frames_close_only_their_connection() {
    let ca = ClusterCa::generate().unwrap();
    let ca_der = ca.cert_der();
    let (me, _, _) = ca.issue(Identity::Replica(1)).unwrap();
    let (ep, cfg) = replica_endpoint(lo(), &ca_der, &me).unwrap();
    let (tx, mut inbox) = mpsc::channel(INBOX);
    let mut server = Transport::<Probe>::new(ep, cfg, tx);
    server.accept(
        AcceptPolicy {
            me: Identity::Replica(1),
            replicas: 3,
            clients_below: Some(8),
        },
        None,
    );
    let addr = server.local_addr().unwrap();
    let stats: Arc<NetStats> = server.stats.clone();
    let refused = || NetStats::get(&stats.refused);
    let bad = || NetStats::get(&stats.bad_frames);

    let (good, _good_rx) = honest(&ca, addr, 0).await;
    let good_link = good.outbound(Identity::Replica(1)).unwrap();
    good_link.push(probe(1));
    expect_probe(&mut inbox, Peer::Client(ClientId(0)), 1).await;

    // A certificate from another CA: the handshake fails at the server.
    let other = ClusterCa::generate().unwrap();
    let (foreign, _, _) = other.issue(Identity::Client(3)).unwrap();
    assert!(raw_dial(&ca_der, &foreign, addr).await.is_none());
    assert!(settle(|| refused() >= 1).await, "foreign CA not counted");

    // Signed by our CA, but not a peer replica 1 accepts: a client id out of range, a higher replica id.
    for who in [Identity::Client(99), Identity::Replica(2)] {
        let before = refused();
        let (creds, _, _) = ca.issue(who).unwrap();
        assert!(
            raw_dial(&ca_der, &creds, addr).await.is_none(),
            "{who:?} was let in"
        );
        assert!(settle(|| refused() > before).await, "{who:?} not counted");
    }

    // No client certificate at all.
    {
        let before = refused();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_der.clone()).unwrap();
        let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        c.alpn_protocols = vec![tls::ALPN.to_vec()];
        let qc = quinn::crypto::rustls::QuicClientConfig::try_from(c).unwrap();
        let ep = dial_endpoint(lo()).unwrap();
        let r = ep
            .connect_with(
                quinn::ClientConfig::new(Arc::new(qc)),
                addr,
                &Identity::Replica(1).dns_name(),
            )
            .unwrap()
            .await;
        if let Ok(conn) = r {
            // TLS 1.3 lets the client finish before the server's verdict arrives; the server then closes.
            let reason = tokio::time::timeout(Duration::from_secs(5), conn.closed()).await;
            assert!(
                reason.is_ok(),
                "a client without a certificate stayed connected"
            );
        }
        assert!(
            settle(|| refused() > before).await,
            "no certificate not counted"
        );
    }

    // A member that sends an oversized length, then one that sends garbage: each loses its own connection.
    for (id, bytes) in [
        (1u32, vec![0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]),
        (2u32, {
            let mut f = vec![5, 0, 0, 0];
            f.extend_from_slice(&[0xFF; 5]);
            f
        }),
    ] {
        let before = bad();
        let (creds, _, _) = ca.issue(Identity::Client(id)).unwrap();
        let conn = raw_dial(&ca_der, &creds, addr)
            .await
            .expect("a member connects");
        let mut s = conn.open_uni().await.unwrap();
        s.write_all(&bytes).await.unwrap();
        let _ = s.finish();
        let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed()).await;
        assert!(closed.is_ok(), "client {id}'s connection was not closed");
        assert!(
            settle(|| bad() > before).await,
            "client {id}'s bad frame not counted"
        );
    }
    assert_eq!(bad(), 2);

    // The honest client was never disturbed.
    assert!(good.connected(Identity::Replica(1)));
    good_link.push(probe(2));
    expect_probe(&mut inbox, Peer::Client(ClientId(0)), 2).await;
    assert!(
        inbox.try_recv().is_err(),
        "a stranger's message got through"
    );
    good.shutdown().await;
    server.shutdown().await;
}
