//! A replica process's record of the slots it decided, kept on disk for the checker rather than in memory.
//!
//! The checker needs every decided value a replica saw to verify agreement and replay the log; a process that
//! held them in memory would grow for as long as it runs, which is exactly what a long run must not show. The
//! file is appended once per batch of decisions (no sync: it is evidence for the checker, not protocol state;
//! the page cache keeps it across a killed process) and read back whole only when the load generator asks for
//! the log after a run. A replica that starts again from its write-ahead log appends to the same file, so the
//! decisions of its earlier incarnation still count.
//!
//! Format: frames of `[u32 length, little-endian][postcard (Slot, Value)]`. A write cut short by a kill leaves
//! a short last frame, which is ignored; a frame that does not decode is an error naming the offset.

use paxos_variants::{Slot, Value};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DecidedError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: decided-slot record at byte {offset} does not decode: {why}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        why: String,
    },
    #[error("cannot encode a decision: {0}")]
    Encode(String),
}

pub struct DecidedFile {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
}

impl DecidedFile {
    /// Opens the file at `path`: emptied for a replica that starts afresh, appended to (`keep`) for one that
    /// starts again from its log. A last write that a kill cut short is cut off first, so the new incarnation's
    /// frames follow whole ones.
    pub fn open(path: &Path, keep: bool) -> Result<DecidedFile, DecidedError> {
        let io = |source| DecidedError::Io {
            path: path.to_path_buf(),
            source,
        };
        let whole = match keep {
            true if path.exists() => Some(read_frames(path)?.1),
            _ => None,
        };
        let mut opts = OpenOptions::new();
        opts.create(true);
        if keep {
            opts.append(true);
        } else {
            opts.write(true).truncate(true);
        }
        let file = opts.open(path).map_err(io)?;
        if let Some(len) = whole {
            file.set_len(len).map_err(io)?;
        }
        Ok(DecidedFile {
            path: path.to_path_buf(),
            file,
            buf: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends decisions in one write.
    pub fn append(&mut self, decisions: &[(Slot, Value)]) -> Result<(), DecidedError> {
        if decisions.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for d in decisions {
            let bytes =
                postcard::to_allocvec(d).map_err(|e| DecidedError::Encode(e.to_string()))?;
            self.buf
                .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(&bytes);
        }
        let r = self.file.write_all(&self.buf);
        // A burst of decisions (a catch-up) should not leave a large buffer behind for the rest of the run.
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
        r.map_err(|source| DecidedError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Everything the file holds, oldest first.
    pub fn read_all(&self) -> Result<Vec<(Slot, Value)>, DecidedError> {
        read_decided(&self.path)
    }
}

/// Reads a decided-slot file; a short last frame (a write cut by a kill) is ignored.
pub fn read_decided(path: &Path) -> Result<Vec<(Slot, Value)>, DecidedError> {
    Ok(read_frames(path)?.0)
}

/// The decisions a file holds, and the length of its whole frames.
fn read_frames(path: &Path) -> Result<(Vec<(Slot, Value)>, u64), DecidedError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| DecidedError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(head) = bytes.get(at..at + 4) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(body) = bytes.get(at + 4..at + 4 + len) else {
            break;
        };
        let d = postcard::from_bytes(body).map_err(|e| DecidedError::Corrupt {
            path: path.to_path_buf(),
            offset: at as u64,
            why: e.to_string(),
        })?;
        out.push(d);
        at += 4 + len;
    }
    Ok((out, at as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paxos_variants::command::{Command, Op};
    use paxos_variants::ClientId;

    fn put(seq: u64) -> (Slot, Value) {
        (
            Slot(seq),
            Value::batch(vec![Command {
                client: ClientId(3),
                seq,
                ack: 0,
                op: Op::Put {
                    key: seq,
                    value: bytes::Bytes::from_static(b"xyz"),
                },
            }]),
        )
    }

    #[test]
    fn decisions_survive_a_restart_and_a_torn_last_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.decided");
        let mut f = DecidedFile::open(&path, false).unwrap();
        f.append(&[put(0), put(1)]).unwrap();
        f.append(&[]).unwrap();
        drop(f);
        // Started again from its log: the earlier decisions stay.
        let mut f = DecidedFile::open(&path, true).unwrap();
        f.append(&[put(2)]).unwrap();
        assert_eq!(f.read_all().unwrap(), vec![put(0), put(1), put(2)]);
        // A write cut short by a kill: the whole frames before it are read.
        let mut raw = std::fs::read(&path).unwrap();
        let whole = raw.len();
        raw.extend_from_slice(&40u32.to_le_bytes());
        raw.extend_from_slice(b"short");
        std::fs::write(&path, &raw).unwrap();
        assert_eq!(read_decided(&path).unwrap().len(), 3);
        // Started again after that kill: the torn frame goes, the new decisions follow the whole ones.
        let mut f = DecidedFile::open(&path, true).unwrap();
        f.append(&[put(3)]).unwrap();
        assert_eq!(f.read_all().unwrap(), vec![put(0), put(1), put(2), put(3)]);
        let mut raw = std::fs::read(&path).unwrap();
        raw.truncate(whole);
        // A frame that does not decode is named, not skipped.
        raw.truncate(whole);
        raw.extend_from_slice(&2u32.to_le_bytes());
        raw.extend_from_slice(&[0xff, 0xff]);
        std::fs::write(&path, &raw).unwrap();
        let err = read_decided(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("byte {whole}")), "{err}");
        // Started afresh: emptied.
        let f = DecidedFile::open(&path, false).unwrap();
        assert!(f.read_all().unwrap().is_empty());
        assert!(read_decided(&dir.path().join("missing"))
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }
}
