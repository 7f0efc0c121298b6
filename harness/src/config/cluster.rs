//! `cluster.toml`: where the replica processes of a multi-process or multi-machine run listen, which
//! certificates they use, and which experiment and variant they run. Paths are relative to the file.
//!
//! ```toml
//! experiment = "experiment.toml"   # network, quorums and tuning come from here
//! variant = "multi"                # a [[variant]] label in it
//! ca = "keys/ca.crt"
//! client_keys = "keys"             # client-K.crt / client-K.key for `paxos-bench run --cluster`
//!
//! [[replica]]
//! id = 0
//! addr = "127.0.0.1:7100"          # or HOST:PORT (a name, looked up on every dial; listens on 0.0.0.0:PORT)
//! cert = "keys/replica-0.crt"
//! key = "keys/replica-0.key"
//! wal = "data/replica-0.wal"       # the write-ahead log, when the experiment says storage = "wal"
//!                                  # (default: wal/replica-<id>.wal beside this file)
//! ```

use super::{load, ConfigError, Experiment};
use crate::net::addr::PeerAddr;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterToml {
    experiment: PathBuf,
    variant: String,
    ca: PathBuf,
    client_keys: PathBuf,
    replica: Vec<ReplicaToml>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplicaToml {
    id: u32,
    addr: String,
    cert: PathBuf,
    key: PathBuf,
    wal: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ReplicaEntry {
    pub id: u32,
    /// An IP address and port, or a host name and port (looked up on every dial).
    pub addr: PeerAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The replica's write-ahead log (used when the experiment's storage is `wal`).
    pub wal: PathBuf,
}

/// A validated cluster file, with its experiment loaded.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub file: PathBuf,
    pub experiment: Experiment,
    pub experiment_text: String,
    /// Index of the cluster's variant in the experiment.
    pub variant: usize,
    pub ca: PathBuf,
    pub client_keys: PathBuf,
    /// Ordered by id, ids 0..N.
    pub replicas: Vec<ReplicaEntry>,
}

impl ClusterSpec {
    /// The certificate and key files of client `id`.
    pub fn client_files(&self, id: u32) -> (PathBuf, PathBuf) {
        (
            self.client_keys.join(format!("client-{id}.crt")),
            self.client_keys.join(format!("client-{id}.key")),
        )
    }
}

/// Reads and validates a cluster file and the experiment it names.
pub fn load_cluster(path: &Path) -> Result<ClusterSpec, ConfigError> {
    let err = |key: &str, message: String| ConfigError::Invalid {
        file: path.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let de = toml::Deserializer::parse(&text).map_err(|e| ConfigError::Parse {
        file: path.to_path_buf(),
        key: "(document)".into(),
        message: e.to_string(),
    })?;
    let raw: ClusterToml =
        serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Parse {
            file: path.to_path_buf(),
            key: e.path().to_string(),
            message: e.into_inner().message().trim().to_string(),
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let experiment_path = base.join(&raw.experiment);
    let experiment = load(&experiment_path)?;
    let experiment_text =
        std::fs::read_to_string(&experiment_path).map_err(|source| ConfigError::Read {
            file: experiment_path.clone(),
            source,
        })?;
    let variant = experiment
        .variants
        .iter()
        .position(|v| v.label == raw.variant)
        .ok_or_else(|| {
            let labels: Vec<&str> = experiment
                .variants
                .iter()
                .map(|v| v.label.as_str())
                .collect();
            err(
                "variant",
                format!(
                    "`{}` is not a [[variant]] label of {} (it has: {})",
                    raw.variant,
                    experiment_path.display(),
                    labels.join(", ")
                ),
            )
        })?;
    let n = experiment.variants[variant].replicas;
    if raw.replica.len() != n {
        return Err(err(
            "replica",
            format!(
                "lists {} replicas, but {} places {n}",
                raw.replica.len(),
                experiment_path.display()
            ),
        ));
    }
    let mut replicas: Vec<Option<ReplicaEntry>> = vec![None; n];
    for (i, r) in raw.replica.iter().enumerate() {
        let key = format!("replica[{i}]");
        let slot = replicas
            .get_mut(r.id as usize)
            .ok_or_else(|| err(&format!("{key}.id"), format!("{} is not in 0..{n}", r.id)))?;
        if slot.is_some() {
            return Err(err(
                &format!("{key}.id"),
                format!("replica {} is listed twice", r.id),
            ));
        }
        let addr = PeerAddr::parse(&r.addr).map_err(|e| err(&format!("{key}.addr"), e))?;
        *slot = Some(ReplicaEntry {
            id: r.id,
            addr,
            cert: base.join(&r.cert),
            key: base.join(&r.key),
            wal: match &r.wal {
                Some(w) => base.join(w),
                None => crate::storage::wal_path(&base.join("wal"), r.id),
            },
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    let replicas: Vec<ReplicaEntry> = replicas.into_iter().flatten().collect();
    if let Some(r) = replicas.iter().find(|r| !seen.insert(r.addr.clone())) {
        return Err(err(
            "replica",
            format!("address {} is used by two replicas", r.addr),
        ));
    }
    Ok(ClusterSpec {
        file: path.to_path_buf(),
        experiment,
        experiment_text,
        variant,
        ca: base.join(raw.ca),
        client_keys: base.join(raw.client_keys),
        replicas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPERIMENT: &str = r#"
name = "t"
mode = "quic"
duration_s = 2
seeds = [1]
[cluster]
replicas = ["a", "a", "a"]
clients = ["a"]
[network]
[load]
mode = "closed"
clients = [2]
[[variant]]
name = "multi"
"#;

    fn cluster(text: &str) -> Result<ClusterSpec, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("exp.toml"), EXPERIMENT).unwrap();
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, text).unwrap();
        load_cluster(&path)
    }

    fn good() -> String {
        let mut s = String::from(
            "experiment = \"exp.toml\"\nvariant = \"multi\"\nca = \"k/ca.crt\"\nclient_keys = \"k\"\n",
        );
        for id in [2, 0, 1] {
            s.push_str(&format!(
                "[[replica]]\nid = {id}\naddr = \"127.0.0.1:{}\"\ncert = \"k/replica-{id}.crt\"\nkey = \"k/replica-{id}.key\"\n",
                7100 + id
            ));
        }
        s
    }

    #[test]
    fn a_good_cluster_file_is_ordered_by_id_with_paths_beside_it() {
        let c = cluster(&good()).unwrap();
        assert_eq!(
            c.replicas.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(c.replicas[1].addr.port(), 7101);
        assert!(c.replicas[0].cert.ends_with("k/replica-0.crt"));
        assert!(c.client_files(5).0.ends_with("k/client-5.crt"));
    }

    #[test]
    fn each_mistake_gets_a_message_that_names_it() {
        let cases = [
            (
                good().replace("variant = \"multi\"", "variant = \"raft\""),
                "`raft` is not a [[variant]] label",
            ),
            (
                good().replace("id = 2", "id = 1"),
                "replica 1 is listed twice",
            ),
            (good().replace("id = 2", "id = 7"), "7 is not in 0..3"),
            (
                good().replace("127.0.0.1:7102", "localhost"),
                "`localhost` is not an address and port",
            ),
            (
                good().replace("127.0.0.1:7102", "127.0.0.1:7101"),
                "address 127.0.0.1:7101 is used by two",
            ),
            (
                good().replace("127.0.0.1:7102", "replica_2:7102"),
                "`replica_2:7102` is not an address and port",
            ),
            (
                good().replace("exp.toml", "missing.toml"),
                "missing.toml: cannot read",
            ),
            (good() + "colour = \"red\"\n", "colour"),
        ];
        for (text, want) in cases {
            let e = cluster(&text).unwrap_err().to_string();
            assert!(e.contains(want), "want `{want}` in: {e}");
        }
        let two = good()
            .split("[[replica]]")
            .take(3)
            .collect::<Vec<_>>()
            .join("[[replica]]");
        let e = cluster(&two).unwrap_err().to_string();
        assert!(
            e.contains("lists 2 replicas") && e.contains("places 3"),
            "{e}"
        );
    }
}
