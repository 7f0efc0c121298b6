//! Where a peer listens: an IP address and port, or a host name and port. Names matter where addresses do not
//! stay put: a Kubernetes StatefulSet gives each replica a stable name (`paxos-2.paxos`) whose address changes
//! when the pod is rescheduled, so a name is looked up again on every dial rather than once at start.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerAddr {
    Ip(SocketAddr),
    Name { host: String, port: u16 },
}

impl From<SocketAddr> for PeerAddr {
    fn from(a: SocketAddr) -> PeerAddr {
        PeerAddr::Ip(a)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Ip(a) => write!(f, "{a}"),
            PeerAddr::Name { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl PeerAddr {
    /// Parses `IP:PORT`, `[IPv6]:PORT` or `HOST:PORT` (a DNS name: letters, digits, `-` and `.`).
    pub fn parse(s: &str) -> Result<PeerAddr, String> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(PeerAddr::Ip(a));
        }
        let bad = || {
            format!(
                "`{s}` is not an address and port: give IP:PORT (127.0.0.1:7100) or HOST:PORT (paxos-0.paxos:7100)"
            )
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(bad());
        }
        // Digits and dots only is a mistyped IP address, not a name.
        if host.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad());
        }
        Ok(PeerAddr::Name {
            host: host.to_string(),
            port,
        })
    }

    pub fn port(&self) -> u16 {
        match self {
            PeerAddr::Ip(a) => a.port(),
            PeerAddr::Name { port, .. } => *port,
        }
    }

    /// Where a replica with this address listens: the address itself, or every interface when it is a name
    /// (the name resolves to one of them).
    pub fn listen(&self) -> SocketAddr {
        match self {
            PeerAddr::Ip(a) => *a,
            PeerAddr::Name { port, .. } => SocketAddr::from(([0, 0, 0, 0], *port)),
        }
    }

    /// The address to send to now (a name is looked up).
    pub async fn resolve(&self) -> std::io::Result<SocketAddr> {
        match self {
            PeerAddr::Ip(a) => Ok(*a),
            PeerAddr::Name { host, port } => tokio::net::lookup_host((host.as_str(), *port))
                .await?
                .next()
                .ok_or_else(|| no_address(host)),
        }
    }

    /// [`PeerAddr::resolve`], blocking.
    pub fn resolve_now(&self) -> std::io::Result<SocketAddr> {
        match self {
            PeerAddr::Ip(a) => Ok(*a),
            PeerAddr::Name { host, port } => (host.as_str(), *port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| no_address(host)),
        }
    }

    /// Whether this is an IP address (not a name) on the loopback interface.
    pub fn is_loopback_ip(&self) -> bool {
        matches!(self, PeerAddr::Ip(a) if a.ip().is_loopback())
    }
}

fn no_address(host: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{host} has no address"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_parse_and_the_rest_is_refused() {
        assert_eq!(
            PeerAddr::parse("127.0.0.1:7100").unwrap(),
            PeerAddr::Ip("127.0.0.1:7100".parse().unwrap())
        );
        assert!(matches!(
            PeerAddr::parse("[::1]:9").unwrap(),
            PeerAddr::Ip(_)
        ));
        assert_eq!(
            PeerAddr::parse("paxos-2.paxos.bench.svc.cluster.local:7100").unwrap(),
            PeerAddr::Name {
                host: "paxos-2.paxos.bench.svc.cluster.local".into(),
                port: 7100
            }
        );
        for bad in [
            "localhost",
            "host:99999",
            "-a:1",
            "a..b:1",
            "1.2.3:7",
            "a b:1",
            ":7100",
        ] {
            let e = PeerAddr::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn a_name_listens_everywhere_on_its_port_and_resolves_when_asked() {
        let n = PeerAddr::parse("localhost:7100").unwrap();
        assert_eq!(n.listen(), "0.0.0.0:7100".parse().unwrap());
        assert_eq!(n.resolve_now().unwrap().port(), 7100);
        assert!(!n.is_loopback_ip());
        let e = PeerAddr::parse("no-such-host.invalid:1")
            .unwrap()
            .resolve_now();
        assert!(e.is_err());
    }
}
