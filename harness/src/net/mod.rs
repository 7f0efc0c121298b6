//! The QUIC transport shared by every variant (quinn on tokio, mutual TLS).
//!
//! - [`addr`]: a peer's address, an IP or a name looked up on every dial.
//! - [`tls`]: the cluster CA, certificates, and a peer's identity from its certificate.
//! - [`frame`]: length-prefixed postcard frames and their decoder.
//! - [`transport`]: one connection per peer pair, streams, reconnection, refusing unknown peers.
//! - [`inject`]: WAN delay, jitter, loss and duplication applied at the sender.
//! - [`kernel_delay`]: the same conditions applied to packets in the kernel path (NFQUEUE), for network namespaces.
//! - [`flood`]: a bounded hostile neighbour (no-certificate handshakes, garbage frames, UDP noise).
//! - [`floor`]: the transport's own round-trip time and message rate (`paxos-bench transport`).

pub mod addr;
pub mod control;
pub mod due;
pub mod flood;
pub mod floor;
pub mod frame;
pub mod inject;
pub mod kernel_delay;
pub mod tls;
pub mod transport;

use std::net::SocketAddr;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// An endpoint that accepts (with the cluster's mutual TLS) and dials, bound to `addr` (port 0: any free port).
pub fn replica_endpoint(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    me: &tls::Credentials,
) -> Result<(quinn::Endpoint, quinn::ClientConfig), NetError> {
    let server = tls::server_config(ca, me)?;
    let client = tls::client_config(ca, me)?;
    let endpoint =
        quinn::Endpoint::server(server, addr).map_err(|source| NetError::Bind { addr, source })?;
    Ok((endpoint, client))
}

/// An endpoint that only dials; several clients may share it, each with its own [`quinn::ClientConfig`].
pub fn dial_endpoint(addr: SocketAddr) -> Result<quinn::Endpoint, NetError> {
    quinn::Endpoint::client(addr).map_err(|source| NetError::Bind { addr, source })
}
