//! The results history: every `run` (unless `--no-history-db`) and every `compare` appends its rows, with a
//! manifest saying where they come from (commit, dirty tree, machine, config and its hash, seeds, time), to an
//! SQLite database, so a team sees a slow drift over many commits that no single comparison shows.
//!
//! One file, no server: SQLite (bundled, so nothing is needed on the machine). Two runs may finish at once on
//! one machine (CI jobs, a person and a script): the database is in WAL mode, every append is one `BEGIN
//! IMMEDIATE` transaction (a run's manifest and all its rows, or nothing), and a writer that finds the database
//! locked waits up to [`BUSY_TIMEOUT`] rather than failing. A results directory is recorded once: appending the
//! same directory again (a `compare` of a directory `run` already recorded) is a no-op.
//!
//! - [`trend`]: the per-commit trend of one config (p50, p99, throughput; one line per variant with the spread
//!   band of repeated runs), for `paxos-bench history --plot` and the report.

pub mod trend;

use crate::report::environment::Environment;
use crate::results::ResultRow;
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// How long a writer waits for another to finish before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The file a run records into unless told otherwise: beside the output directories (`reports/history.db`
/// for `reports/<name>`).
pub const DEFAULT_FILE: &str = "history.db";

/// The schema's version (`PRAGMA user_version`): a newer file is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, Error)]
pub enum HistoryError {
    #[error("history database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "history database {path} has schema version {found}, newer than this paxos-bench's {SCHEMA_VERSION}"
    )]
    Newer { path: PathBuf, found: i64 },
    #[error("cannot create the directory of history database {path}: {err}")]
    Dir { path: PathBuf, err: std::io::Error },
    #[error(
        "history database {path} does not exist (a run records into it unless --no-history-db)"
    )]
    Missing { path: PathBuf },
    #[error("commit range `{0}`: write FIRST..LAST (commits as recorded, a prefix is enough)")]
    Range(String),
}

/// Where a set of rows comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// `run`, `compare` or `merge`.
    pub command: String,
    pub experiment: String,
    /// FNV-1a of the config's text, hex: the same name with other contents is another config.
    pub config_hash: String,
    /// The commit without `+dirty`.
    pub commit: String,
    pub dirty: bool,
    /// CPU model and core count.
    pub machine: String,
    /// The seeds of the rows, comma-separated.
    pub seeds: String,
    /// When the results were written (Unix seconds, from `environment.json`).
    pub written_unix_s: u64,
    /// The results directory, as given.
    pub results_dir: String,
}

impl Manifest {
    /// The manifest of a results directory's rows, from its environment and config text.
    pub fn of(
        command: &str,
        rows: &[ResultRow],
        env: &Environment,
        config_text: &str,
        dir: &Path,
    ) -> Manifest {
        let mut seeds: Vec<u64> = rows.iter().map(|r| r.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        let (commit, dirty) = match env.commit.strip_suffix("+dirty") {
            Some(c) => (c.to_string(), true),
            None => (env.commit.clone(), false),
        };
        let mut experiments: Vec<&str> = rows.iter().map(|r| r.experiment.as_str()).collect();
        experiments.dedup();
        Manifest {
            command: command.into(),
            experiment: experiments.join(","),
            config_hash: config_hash(config_text),
            commit,
            dirty,
            machine: format!("{} x{}", env.cpu, env.cores),
            seeds: seeds
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            written_unix_s: env.written_unix_s,
            results_dir: canonical(dir),
        }
    }
}

/// A directory as one string however it was named (relative or absolute), so it is recorded once.
fn canonical(dir: &Path) -> String {
    dir.canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

/// FNV-1a (64 bits) of a config's text, as 16 hex digits: stable across machines and Rust releases.
pub fn config_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// One recorded set of rows.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub id: i64,
    pub manifest: Manifest,
    pub rows: Vec<ResultRow>,
}

/// Which recorded runs to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The experiment's name, or a prefix of its config hash.
    pub config: Option<String>,
    /// Only rows of this variant label.
    pub variant: Option<String>,
    /// Runs from the first recorded at a commit starting with the first to the last recorded at one starting
    /// with the second, in recording order.
    pub commits: Option<(String, String)>,
}

impl Filter {
    /// `FIRST..LAST`.
    pub fn parse_commits(s: &str) -> Result<(String, String), HistoryError> {
        match s.split_once("..") {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.into(), b.into())),
            _ => Err(HistoryError::Range(s.into())),
        }
    }
}

pub struct History {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    experiment TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    dirty INTEGER NOT NULL,
    machine TEXT NOT NULL,
    seeds TEXT NOT NULL,
    written_unix_s INTEGER NOT NULL,
    results_dir TEXT NOT NULL,
    UNIQUE (results_dir, written_unix_s, experiment)
);
CREATE TABLE IF NOT EXISTS rows (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    experiment TEXT NOT NULL,
    variant TEXT NOT NULL,
    protocol TEXT NOT NULL,
    mode TEXT NOT NULL,
    storage TEXT NOT NULL,
    replicas INTEGER NOT NULL,
    q1 INTEGER NOT NULL,
    q2 INTEGER NOT NULL,
    clients INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    jitter_ms REAL NOT NULL,
    ops INTEGER NOT NULL,
    throughput_ops_s REAL NOT NULL,
    p50_us REAL,
    p90_us REAL,
    p99_us REAL,
    p999_us REAL,
    max_us REAL,
    msgs_per_op REAL,
    expected_p50_us REAL
);
CREATE INDEX IF NOT EXISTS rows_by_run ON rows(run_id);
";

impl History {
    /// Opens (creating if need be) the database at `path`.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| HistoryError::Dir {
                path: path.to_path_buf(),
                err,
            })?;
        }
        let db = |source| HistoryError::Db {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        // WAL lets readers go on while one writer appends; it is a property of the file, set once.
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(db)?;
        let mut h = History {
            conn,
            path: path.to_path_buf(),
        };
        h.migrate()?;
        Ok(h)
    }

    /// Opens an existing database only (for reading).
    pub fn open_existing(path: &Path) -> Result<History, HistoryError> {
        if !path.exists() {
            return Err(HistoryError::Missing {
                path: path.to_path_buf(),
            });
        }
        History::open(path)
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
        move |source| HistoryError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// A write transaction that takes the write lock at once (waiting up to the busy timeout for another
    /// writer), so that two writers never both read and then both try to upgrade.
    fn begin(&mut self) -> Result<(rusqlite::Transaction<'_>, PathBuf), HistoryError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| HistoryError::Db {
                path: path.clone(),
                source,
            })?;
        Ok((tx, path))
    }

    fn migrate(&mut self) -> Result<(), HistoryError> {
        let (tx, path) = self.begin()?;
        let db = |source| HistoryError::Db {
            path: path.clone(),
            source,
        };
        let found: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::Newer { path, found });
        }
        tx.execute_batch(SCHEMA).map_err(db)?;
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .map_err(db)?;
        tx.commit().map_err(db)
    }

    /// Appends a manifest and its rows in one transaction; returns the run's id, or `None` when this results
    /// directory was recorded already.
    pub fn append(
        &mut self,
        m: &Manifest,
        rows: &[ResultRow],
    ) -> Result<Option<i64>, HistoryError> {
        let (tx, path) = self.begin()?;
        let db = |source| HistoryError::Db {
            path: path.clone(),
            source,
        };
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO runs (command, experiment, config_hash, commit_id, dirty, machine, \
                 seeds, written_unix_s, results_dir) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    m.command,
                    m.experiment,
                    m.config_hash,
                    m.commit,
                    m.dirty,
                    m.machine,
                    m.seeds,
                    m.written_unix_s as i64,
                    m.results_dir
                ],
            )
            .map_err(db)?;
        if inserted == 0 {
            return Ok(None);
        }
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO rows (run_id, experiment, variant, protocol, mode, storage, replicas, q1, q2, \
                     clients, seed, jitter_ms, ops, throughput_ops_s, p50_us, p90_us, p99_us, p999_us, max_us, \
                     msgs_per_op, expected_p50_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                     ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
                )
                .map_err(db)?;
            for r in rows {
                insert
                    .execute(params![
                        id,
                        r.experiment,
                        r.variant,
                        r.protocol,
                        r.mode,
                        r.storage,
                        r.replicas as i64,
                        r.q1 as i64,
                        r.q2 as i64,
                        r.clients as i64,
                        r.seed as i64,
                        r.jitter_ms,
                        r.ops as i64,
                        r.throughput_ops_s,
                        r.p50_us,
                        r.p90_us,
                        r.p99_us,
                        r.p999_us,
                        r.max_us,
                        r.msgs_per_op,
                        r.expected_p50_us
                    ])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(Some(id))
    }

    /// The recorded runs that pass `filter`, oldest first, each with its rows (only the filter's variant's).
    pub fn runs(&self, filter: &Filter) -> Result<Vec<StoredRun>, HistoryError> {
        let db = self.db();
        let mut q = self
            .conn
            .prepare(
                "SELECT id, command, experiment, config_hash, commit_id, dirty, machine, seeds, \
                 written_unix_s, results_dir FROM runs ORDER BY written_unix_s, id",
            )
            .map_err(&db)?;
        let all: Vec<(i64, Manifest)> = q
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    Manifest {
                        command: r.get(1)?,
                        experiment: r.get(2)?,
                        config_hash: r.get(3)?,
                        commit: r.get(4)?,
                        dirty: r.get(5)?,
                        machine: r.get(6)?,
                        seeds: r.get(7)?,
                        written_unix_s: r.get::<_, i64>(8)? as u64,
                        results_dir: r.get(9)?,
                    },
                ))
            })
            .map_err(&db)?
            .collect::<Result<_, _>>()
            .map_err(&db)?;
        let mut picked: Vec<(i64, Manifest)> = all
            .into_iter()
            .filter(|(_, m)| {
                filter.config.as_ref().is_none_or(|c| {
                    m.experiment.split(',').any(|e| e == c) || m.config_hash.starts_with(c.as_str())
                })
            })
            .collect();
        if let Some((a, b)) = &filter.commits {
            let first = picked
                .iter()
                .position(|(_, m)| m.commit.starts_with(a.as_str()));
            let last = picked
                .iter()
                .rposition(|(_, m)| m.commit.starts_with(b.as_str()));
            picked = match (first, last) {
                (Some(f), Some(l)) if f <= l => picked.drain(f..=l).collect(),
                _ => Vec::new(),
            };
        }
        let mut rows_q = self
            .conn
            .prepare(
                "SELECT experiment, variant, protocol, mode, storage, replicas, q1, q2, clients, seed, \
                 jitter_ms, ops, throughput_ops_s, p50_us, p90_us, p99_us, p999_us, max_us, msgs_per_op, \
                 expected_p50_us FROM rows WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(&db)?;
        let mut out = Vec::with_capacity(picked.len());
        for (id, manifest) in picked {
            let rows: Vec<ResultRow> = rows_q
                .query_map([id], |r| {
                    let mut row = blank_row();
                    row.experiment = r.get(0)?;
                    row.variant = r.get(1)?;
                    row.protocol = r.get(2)?;
                    row.mode = r.get(3)?;
                    row.storage = r.get(4)?;
                    row.replicas = r.get::<_, i64>(5)? as usize;
                    row.q1 = r.get::<_, i64>(6)? as usize;
                    row.q2 = r.get::<_, i64>(7)? as usize;
                    row.clients = r.get::<_, i64>(8)? as usize;
                    row.seed = r.get::<_, i64>(9)? as u64;
                    row.jitter_ms = r.get(10)?;
                    row.ops = r.get::<_, i64>(11)? as u64;
                    row.throughput_ops_s = r.get(12)?;
                    row.p50_us = r.get(13)?;
                    row.p90_us = r.get(14)?;
                    row.p99_us = r.get(15)?;
                    row.p999_us = r.get(16)?;
                    row.max_us = r.get(17)?;
                    row.msgs_per_op = r.get(18)?;
                    row.expected_p50_us = r.get(19)?;
                    Ok(row)
                })
                .map_err(&db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(&db)?
                .into_iter()
                .filter(|r| filter.variant.as_ref().is_none_or(|v| r.variant == *v))
                .collect();
            out.push(StoredRun { id, manifest, rows });
        }
        Ok(out)
    }

    /// `PRAGMA integrity_check`: "ok" for a sound file.
    pub fn integrity(&self) -> Result<String, HistoryError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(self.db())
    }
}

/// A row with every figure empty, for the history to fill with what it stores.
fn blank_row() -> ResultRow {
    ResultRow {
        experiment: String::new(),
        variant: String::new(),
        mode: String::new(),
        replicas: 0,
        q1: 0,
        q2: 0,
        clients: 0,
        seed: 0,
        ops: 0,
        throughput_ops_s: 0.0,
        p50_us: None,
        p90_us: None,
        p99_us: None,
        p999_us: None,
        max_us: None,
        msgs_per_op: None,
        bytes_per_op: None,
        expected_p50_us: None,
        protocol: String::new(),
        collisions: 0,
        recoveries: 0,
        reconfigurations: 0,
        jitter_ms: 0.0,
        max_stall_ms: 0.0,
        commit_p50_us: None,
        commit_p99_us: None,
        expected_commit_p50_us: None,
        storage: "memory".into(),
        syncs_per_op: None,
        histogram: String::new(),
        reads: String::new(),
        read_ops: 0,
        read_ops_s: 0.0,
        read_p50_us: None,
        read_p99_us: None,
        expected_read_p50_us: None,
        write_ops: 0,
        write_p50_us: None,
        write_p99_us: None,
        cas_ops: 0,
        cas_p50_us: None,
        cas_p99_us: None,
        lease_reads: 0,
        lease_misses: 0,
        lease_waits: 0,
        lease_wait_ms: 0.0,
        region_p50_us: String::new(),
        region_p99_us: String::new(),
        region_model_p50_us: String::new(),
        failover_ms: None,
        conflict: None,
    }
}

/// Records a results directory (its rows, environment and config) into the database at `db`; says so.
pub fn record(db: &Path, command: &str, dir: &Path) -> Result<Option<i64>, anyhow::Error> {
    use anyhow::Context;
    let rows = crate::report::data::read_results(dir)?;
    let env = Environment::read(dir)?.unwrap_or_else(|| Environment::capture(Vec::new()));
    let config_text = std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default();
    let manifest = Manifest::of(command, &rows, &env, &config_text, dir);
    let mut h = History::open(db).with_context(|| format!("cannot record {}", dir.display()))?;
    let id = h.append(&manifest, &rows)?;
    Ok(id)
}

/// Every recorded run of the config `dir`'s run was recorded with (same name and config hash), oldest first,
/// ending with that run; `None` when the database or the run is not there.
pub fn same_config(db: &Path, dir: &Path) -> Result<Option<Vec<StoredRun>>, HistoryError> {
    if !db.exists() {
        return Ok(None);
    }
    let h = History::open(db)?;
    let all = h.runs(&Filter::default())?;
    let here = canonical(dir);
    let Some(pos) = all.iter().rposition(|r| r.manifest.results_dir == here) else {
        return Ok(None);
    };
    let (name, hash) = (
        all[pos].manifest.experiment.clone(),
        all[pos].manifest.config_hash.clone(),
    );
    Ok(Some(
        all.into_iter()
            .take(pos + 1)
            .filter(|r| r.manifest.experiment == name && r.manifest.config_hash == hash)
            .collect(),
    ))
}

#[cfg(test)]
mod tests;
