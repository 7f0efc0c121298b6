//! Mutual TLS for the cluster: one CA per cluster, one certificate per replica and per client, made with rcgen.
//!
//! A peer's identity is the single DNS name in its certificate (`replica-3.paxos`, `client-17.paxos`), and it is
//! read from the certificate that the CA signed, never from anything the peer sends. A dialer checks the server's
//! name through rustls's own name verification; an acceptor reads the client certificate's name after the
//! handshake (rustls has already verified that the cluster CA signed it).

use paxos_variants::{ClientId, NodeId, Peer};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// The ALPN protocol name; a peer speaking anything else fails the handshake.
pub const ALPN: &[u8] = b"paxos-bench/1";
const NAME_SUFFIX: &str = ".paxos";

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("QUIC crypto configuration: {0}")]
    Quic(String),
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    BadPem { path: PathBuf, what: String },
    #[error("the peer presented no certificate")]
    NoCertificate,
    #[error("the peer's certificate cannot be parsed: {0}")]
    BadCertificate(String),
    #[error(
        "the peer's certificate names `{0}`, which is not a replica or client of this cluster"
    )]
    UnknownName(String),
}

/// Who is at the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    Replica(u32),
    Client(u32),
}

impl Identity {
    /// The DNS name in this identity's certificate.
    pub fn dns_name(self) -> String {
        match self {
            Identity::Replica(i) => format!("replica-{i}{NAME_SUFFIX}"),
            Identity::Client(i) => format!("client-{i}{NAME_SUFFIX}"),
        }
    }

    /// The file stem of this identity's certificate and key in a keys directory.
    pub fn file_stem(self) -> String {
        match self {
            Identity::Replica(i) => format!("replica-{i}"),
            Identity::Client(i) => format!("client-{i}"),
        }
    }

    pub fn parse_dns_name(name: &str) -> Option<Identity> {
        let stem = name.strip_suffix(NAME_SUFFIX)?;
        let (role, id) = stem.split_once('-')?;
        // Only canonical decimal ids: "replica-03" is not "replica-3".
        if id.is_empty() || (id.len() > 1 && id.starts_with('0')) {
            return None;
        }
        let id: u32 = id.parse().ok()?;
        match role {
            "replica" => Some(Identity::Replica(id)),
            "client" => Some(Identity::Client(id)),
            _ => None,
        }
    }

    pub fn peer(self) -> Peer {
        match self {
            Identity::Replica(i) => Peer::Replica(NodeId(i)),
            Identity::Client(i) => Peer::Client(ClientId(i)),
        }
    }
}

/// One identity's certificate chain and private key.
#[derive(Debug)]
pub struct Credentials {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Credentials {
    fn clone(&self) -> Self {
        Credentials {
            cert: self.cert.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// A cluster CA that can issue certificates (kept in memory; `paxos-bench keys` writes what it issued).
pub struct ClusterCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl ClusterCa {
    pub fn generate() -> Result<ClusterCa, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "paxos-bench cluster CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        Ok(ClusterCa { cert, key })
    }

    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// Issues the certificate of one replica or client. Every certificate may serve and dial, because a
    /// replica does both.
    pub fn issue(&self, who: Identity) -> Result<(Credentials, String, String), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![who.dns_name()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, who.dns_name());
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        let creds = Credentials {
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        };
        Ok((creds, cert.pem(), key.serialize_pem()))
    }
}

/// Writes a CA certificate and one certificate and key per replica and client into `dir`
/// (`ca.crt`, `replica-K.crt`, `replica-K.key`, `client-K.crt`, `client-K.key`). The CA's own key is not
/// written: nothing in a run needs it, and a lost CA key cannot mint impostors.
pub fn write_keys(dir: &Path, replicas: u32, clients: u32) -> Result<Vec<PathBuf>, TlsError> {
    let write = |name: &str, text: &str| -> Result<PathBuf, TlsError> {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|source| TlsError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    };
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let ca = ClusterCa::generate()?;
    let mut written = vec![write("ca.crt", &ca.cert_pem())?];
    let ids = (0..replicas)
        .map(Identity::Replica)
        .chain((0..clients).map(Identity::Client));
    for who in ids {
        let (_, cert_pem, key_pem) = ca.issue(who)?;
        written.push(write(&format!("{}.crt", who.file_stem()), &cert_pem)?);
        written.push(write(&format!("{}.key", who.file_stem()), &key_pem)?);
    }
    Ok(written)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the first certificate of a PEM file.
pub fn read_cert(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    let bytes = read(path)?;
    CertificateDer::from_pem_slice(&bytes).map_err(|e| TlsError::BadPem {
        path: path.to_path_buf(),
        what: format!("no PEM certificate in it ({e:?})"),
    })
}

/// Reads a PEM private key.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::BadPem {
        path: path.to_path_buf(),
        what: format!("no PEM private key in it ({e:?})"),
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Result<Arc<rustls::RootCertStore>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone())?;
    Ok(Arc::new(roots))
}

/// Keep-alives find a dead peer within the idle timeout even when the protocol is quiet.
fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_millis(500)));
    if let Ok(idle) = quinn::IdleTimeout::try_from(Duration::from_secs(3)) {
        t.max_idle_timeout(Some(idle));
    }
    // Generous windows: a leader's pipeline of batches must not stall on flow control.
    t.stream_receive_window(quinn::VarInt::from_u32(8 << 20));
    t.receive_window(quinn::VarInt::from_u32(16 << 20));
    t.send_window(16 << 20);
    // Each side opens one stream per connection (plus a control stream now and then); a peer may not open
    // more, so it cannot pin many partly received frames.
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(4));
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(4));
    Arc::new(t)
}

/// The server side: only certificates signed by the cluster CA are accepted.
pub fn server_config(
    ca: &CertificateDer<'static>,
    me: &Credentials,
) -> Result<quinn::ServerConfig, TlsError> {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider())
            .build()?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![me.cert.clone()], me.key.clone_key())?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(cfg)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(transport());
    Ok(server)
}

/// The dialing side, presenting `me`'s certificate and trusting only the cluster CA.
pub fn client_config(
    ca: &CertificateDer<'static>,
    me: &Credentials,
) -> Result<quinn::ClientConfig, TlsError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(vec![me.cert.clone()], me.key.clone_key())?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(cfg)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(transport());
    Ok(client)
}

/// The identity in the certificate a peer presented on this connection.
pub fn peer_identity(conn: &quinn::Connection) -> Result<Identity, TlsError> {
    let any = conn.peer_identity().ok_or(TlsError::NoCertificate)?;
    let chain = any
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| TlsError::NoCertificate)?;
    let leaf = chain.first().ok_or(TlsError::NoCertificate)?;
    identity_of(leaf)
}

/// The identity named by a certificate: its only DNS subject alternative name.
pub fn identity_of(cert: &CertificateDer<'_>) -> Result<Identity, TlsError> {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
    let san = parsed
        .subject_alternative_name()
        .map_err(|e| TlsError::BadCertificate(e.to_string()))?
        .ok_or_else(|| TlsError::BadCertificate("no subject alternative name".into()))?;
    let names: Vec<&str> = san
        .value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::DNSName(n) => Some(*n),
            _ => None,
        })
        .collect();
    match names.as_slice() {
        [one] => {
            Identity::parse_dns_name(one).ok_or_else(|| TlsError::UnknownName(one.to_string()))
        }
        _ => Err(TlsError::BadCertificate(format!(
            "expected exactly one DNS name, found {}",
            names.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_odd_names_are_refused() {
        for who in [
            Identity::Replica(0),
            Identity::Replica(12),
            Identity::Client(7),
        ] {
            assert_eq!(Identity::parse_dns_name(&who.dns_name()), Some(who));
        }
        for bad in [
            "replica-3",
            "replica-03.paxos",
            "leader-1.paxos",
            "replica-.paxos",
            "client-x.paxos",
        ] {
            assert_eq!(Identity::parse_dns_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_issued_certificate_carries_its_identity() {
        let ca = ClusterCa::generate().unwrap();
        let (creds, pem, _) = ca.issue(Identity::Client(9)).unwrap();
        assert!(pem.contains("BEGIN CERTIFICATE"));
        assert_eq!(identity_of(&creds.cert).unwrap(), Identity::Client(9));
        // The CA's own certificate names nobody.
        assert!(identity_of(&ca.cert_der()).is_err());
    }

    #[test]
    fn keys_are_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_keys(dir.path(), 2, 1).unwrap();
        assert_eq!(files.len(), 1 + 2 * 3);
        let cert = read_cert(&dir.path().join("replica-1.crt")).unwrap();
        assert_eq!(identity_of(&cert).unwrap(), Identity::Replica(1));
        read_key(&dir.path().join("client-0.key")).unwrap();
        let e = read_cert(&dir.path().join("missing.crt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing.crt") && e.contains("cannot read"),
            "{e}"
        );
        let e = read_cert(&dir.path().join("client-0.key"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
    }
}
