//! `paxos-bench deploy render CONFIG`: one experiment config made into everything a container deployment of it
//! needs, so that the config stays the one source of truth. [`compose`] writes a Docker Compose project (the
//! cluster file with the replicas' fixed addresses on a private network, keys from a fresh cluster CA, the
//! experiment, `docker-compose.yml`); [`kubernetes`] writes a kustomize overlay with the replica count, cluster
//! file and load shares of the config over the base in `deploy/kubernetes/base/`.

pub mod compose;
pub mod kubernetes;

use crate::config::{self, Experiment};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{file}: {message}")]
    Unsuited { file: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Keys(String),
}

/// The experiment as a deployment runs it: one variant, one storage, one run.
pub struct Plan {
    pub file: PathBuf,
    pub text: String,
    pub exp: Experiment,
    /// Index of the deployed variant.
    pub variant: usize,
    pub replicas: usize,
    pub clients: usize,
    pub load_generators: u32,
}

impl Plan {
    /// Reads `file` and checks that a set of replica containers can run it: a replica process runs one
    /// variant with one storage, and the load generators' shares line up only when each runs one run.
    pub fn load(
        file: &Path,
        variant: Option<&str>,
        load_generators: u32,
    ) -> Result<Plan, DeployError> {
        let text = std::fs::read_to_string(file).map_err(|source| config::ConfigError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let exp = config::parse_as(&text, file, Some(config::Mode::Quic))?;
        let unsuited = |message: String| DeployError::Unsuited {
            file: file.to_path_buf(),
            message,
        };
        let labels: Vec<&str> = exp.variants.iter().map(|v| v.label.as_str()).collect();
        let variant = match variant {
            Some(l) => labels.iter().position(|x| *x == l).ok_or_else(|| {
                unsuited(format!(
                    "has no [[variant]] labelled `{l}` (it has: {})",
                    labels.join(", ")
                ))
            })?,
            None if labels.len() == 1 => 0,
            None => {
                return Err(unsuited(format!(
                    "has {} variants ({}): a cluster of replica processes runs one, so pick it with --variant",
                    labels.len(),
                    labels.join(", ")
                )))
            }
        };
        if exp.storage.len() != 1 {
            return Err(unsuited(
                "lists several storages: a replica process has one, so give storage = \"memory\" or \"wal\""
                    .into(),
            ));
        }
        if exp.client_counts.len() != 1 || exp.seeds.len() != 1 || !exp.jitter_sweep.is_empty() {
            return Err(unsuited(format!(
                "plans {} runs per variant ([load] clients, seeds, [sweep]): a deployment runs one, because \
                 its load generators' shares are added run by run and must start together; give one client \
                 count and one seed",
                exp.client_counts.len() * exp.seeds.len() * exp.jitter_sweep.len().max(1)
            )));
        }
        let clients = exp.client_counts[0];
        if load_generators == 0 || load_generators as usize > clients {
            return Err(unsuited(format!(
                "{load_generators} load generators for {clients} clients: give between 1 and {clients}"
            )));
        }
        let replicas = exp.variants[variant].replicas;
        Ok(Plan {
            file: file.to_path_buf(),
            text,
            exp,
            variant,
            replicas,
            clients,
            load_generators,
        })
    }

    pub fn label(&self) -> &str {
        &self.exp.variants[self.variant].label
    }

    /// The client id that control requests (status, merge) use: one past the load's clients, so that it never
    /// shares a certificate with a client that is issuing commands.
    pub fn control_client(&self) -> usize {
        self.clients
    }
}

/// Writes `bytes` to `path`, creating its folder, naming the path on failure.
pub(crate) fn put(path: &Path, bytes: &[u8]) -> Result<(), DeployError> {
    crate::results::write_atomic(path, bytes).map_err(|source| DeployError::Write {
        path: path.to_path_buf(),
        source,
    })
}
