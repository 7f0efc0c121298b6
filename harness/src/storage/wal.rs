//! The write-ahead log of one acceptor: its durable records, appended in order and synced (`fdatasync`) before
//! the replica sends anything that depends on them.
//!
//! Layout: an 8-byte magic, the variant's name (length-prefixed), then frames of `[len: u32 LE][crc32: u32 LE]
//! [postcard payload]`. Each payload is an [`Entry`]: a record, or a boot marker (the number of boots is the
//! replica's incarnation, so a restarted process draws fresh random streams).
//!
//! Reading back: a frame cut short at the end of the file, or whose checksum fails with nothing after it, is a
//! write torn by the crash. It was never synced, so nothing was answered from it: it is cut off and the log
//! goes on from there. A bad frame with more data after it is corruption, and the log refuses to open: an
//! acceptor that silently forgot a promise could break agreement.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

const MAGIC: &[u8; 8] = b"PXBWAL01";
/// No record comes near this; a length field above it is damage, not a record.
const MAX_FRAME: usize = 64 << 20;

#[derive(Debug, Error)]
pub enum WalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a paxos-bench write-ahead log (bad magic)")]
    NotAWal { path: PathBuf },
    #[error("{path}: this log belongs to variant `{found}`, not `{expected}`")]
    OtherVariant {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot encode a log record: {0}")]
    Encode(String),
    #[error(
        "{path}: corrupt frame at byte {offset} with {after} more bytes after it; refusing to start from a log \
         that may have lost a promise (move the file away to start this replica empty)"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        after: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Entry<R> {
    Boot,
    Record(R),
}

/// What a log held when it was opened.
#[derive(Debug)]
pub struct Recovered<R> {
    pub records: Vec<R>,
    /// Boot markers before this open: 0 for a new log.
    pub boots: u64,
    /// Bytes of a torn final write that were cut off.
    pub torn_bytes: u64,
}

/// Counters of one log's work, for the results.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalStats {
    pub syncs: u64,
    pub records: u64,
    pub bytes: u64,
    pub sync_ns: u64,
}

pub struct Wal {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    pub stats: WalStats,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Wal {
    /// Opens (or creates) the log at `path` for `variant`, reads back what it holds and appends a boot marker.
    pub fn open<R: DeserializeOwned>(
        path: &Path,
        variant: &str,
    ) -> Result<(Wal, Recovered<R>), WalError> {
        let err = io(path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(&err)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(&err)?;
        let header = header(variant);
        let (recovered, good_end) = if bytes.is_empty() {
            file.write_all(&header).map_err(&err)?;
            file.sync_all().map_err(&err)?;
            // The new file's directory entry must survive a crash too.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir).and_then(|d| d.sync_all()).map_err(&err)?;
            }
            let r = Recovered {
                records: Vec::new(),
                boots: 0,
                torn_bytes: 0,
            };
            (r, header.len() as u64)
        } else {
            parse(path, variant, &bytes)?
        };
        if recovered.torn_bytes > 0 {
            file.set_len(good_end).map_err(&err)?;
            file.sync_all().map_err(&err)?;
        }
        file.seek(SeekFrom::Start(good_end)).map_err(&err)?;
        let mut wal = Wal {
            file,
            path: path.to_path_buf(),
            buf: Vec::new(),
            stats: WalStats::default(),
        };
        wal.push(&Entry::<()>::Boot)?;
        wal.sync()?;
        wal.stats = WalStats::default();
        Ok((wal, recovered))
    }

    fn push<R: Serialize>(&mut self, e: &Entry<R>) -> Result<(), WalError> {
        let payload = postcard::to_allocvec(e).map_err(|e| WalError::Encode(e.to_string()))?;
        self.buf
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        self.buf.extend_from_slice(&payload);
        Ok(())
    }

    /// Buffers records; nothing is durable until [`Wal::sync`].
    pub fn append<R: Serialize + Clone>(&mut self, records: &[R]) -> Result<(), WalError> {
        for r in records {
            self.push(&Entry::Record(r.clone()))?;
        }
        self.stats.records += records.len() as u64;
        Ok(())
    }

    /// Writes what is buffered and waits until it is on the disk. One call covers every record appended since
    /// the last: that is the group commit.
    pub fn sync(&mut self) -> Result<(), WalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let t0 = Instant::now();
        let err = io(&self.path);
        self.file.write_all(&self.buf).map_err(&err)?;
        self.file.sync_data().map_err(&err)?;
        self.stats.bytes += self.buf.len() as u64;
        self.stats.syncs += 1;
        self.stats.sync_ns += t0.elapsed().as_nanos() as u64;
        self.buf.clear();
        Ok(())
    }

    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }
}

fn header(variant: &str) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&(variant.len() as u16).to_le_bytes());
    h.extend_from_slice(variant.as_bytes());
    h
}

/// Reads a whole log: the records, the boots, and where the last good frame ends.
fn parse<R: DeserializeOwned>(
    path: &Path,
    variant: &str,
    bytes: &[u8],
) -> Result<(Recovered<R>, u64), WalError> {
    let not_a_wal = || WalError::NotAWal {
        path: path.to_path_buf(),
    };
    if bytes.len() < 10 || &bytes[..8] != MAGIC {
        return Err(not_a_wal());
    }
    let name_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let name = bytes.get(10..10 + name_len).ok_or_else(not_a_wal)?;
    let name = std::str::from_utf8(name).map_err(|_| not_a_wal())?;
    if name != variant {
        return Err(WalError::OtherVariant {
            path: path.to_path_buf(),
            found: name.to_string(),
            expected: variant.to_string(),
        });
    }
    let mut at = 10 + name_len;
    let mut records = Vec::new();
    let mut boots = 0;
    while at < bytes.len() {
        let frame = frame_at(bytes, at);
        let Some((payload, next)) = frame else {
            // A frame that does not fit or whose checksum fails. At the very end it is a torn write.
            let torn_end = bytes.get(at..at + 8).map_or(bytes.len(), |h| {
                let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                (at + 8).saturating_add(len)
            });
            if torn_end >= bytes.len() {
                let r = Recovered {
                    records,
                    boots,
                    torn_bytes: (bytes.len() - at) as u64,
                };
                return Ok((r, at as u64));
            }
            return Err(WalError::Corrupt {
                path: path.to_path_buf(),
                offset: at as u64,
                after: (bytes.len() - torn_end) as u64,
            });
        };
        match postcard::from_bytes::<Entry<R>>(payload) {
            Ok(Entry::Boot) => boots += 1,
            Ok(Entry::Record(r)) => records.push(r),
            // The checksum held, so this is a log of another format, not a torn write.
            Err(_) => {
                return Err(WalError::Corrupt {
                    path: path.to_path_buf(),
                    offset: at as u64,
                    after: (bytes.len() - next) as u64,
                })
            }
        }
        at = next;
    }
    let r = Recovered {
        records,
        boots,
        torn_bytes: 0,
    };
    Ok((r, at as u64))
}

/// The payload of the frame at `at` and where the next frame starts, if the frame is whole and its checksum
/// holds.
fn frame_at(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let h = bytes.get(at..at + 8)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len > MAX_FRAME {
        return None;
    }
    let payload = bytes.get(at + 8..at + 8 + len)?;
    (crc32fast::hash(payload) == crc).then_some((payload, at + 8 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &Path) -> Result<(Wal, Recovered<u64>), WalError> {
        Wal::open::<u64>(path, "multi")
    }

    #[test]
    fn records_come_back_in_order_with_the_boots_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r0.wal");
        let (mut w, r) = open(&p).unwrap();
        assert_eq!((r.records.len(), r.boots), (0, 0));
        w.append(&[1u64, 2, 3]).unwrap();
        w.sync().unwrap();
        w.append(&[4u64]).unwrap();
        w.sync().unwrap();
        assert_eq!((w.stats.syncs, w.stats.records), (2, 4));
        drop(w);
        let (_, r) = open(&p).unwrap();
        assert_eq!(r.records, vec![1, 2, 3, 4]);
        assert_eq!((r.boots, r.torn_bytes), (1, 0));
        let (_, r) = open(&p).unwrap();
        assert_eq!(r.boots, 2);
    }

    #[test]
    fn a_torn_last_write_is_cut_off_and_the_log_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r0.wal");
        let (mut w, _) = open(&p).unwrap();
        w.append(&[7u64, 8]).unwrap();
        w.sync().unwrap();
        drop(w);
        let full = std::fs::read(&p).unwrap();
        // Every cut inside the last frame loses that record only.
        let last_frame_len = 8 + postcard::to_allocvec(&Entry::Record(8u64)).unwrap().len();
        for cut in 1..last_frame_len {
            std::fs::write(&p, &full[..full.len() - cut]).unwrap();
            let (mut w, r) = open(&p).unwrap();
            assert_eq!(r.records, vec![7], "cut {cut}");
            assert!(r.torn_bytes > 0);
            w.append(&[9u64]).unwrap();
            w.sync().unwrap();
            drop(w);
            let (_, r) = open(&p).unwrap();
            assert_eq!(r.records, vec![7, 9], "cut {cut}");
            std::fs::write(&p, &full).unwrap();
        }
        // A flipped byte in the last frame's payload: also a torn write.
        let mut bad = full.clone();
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        std::fs::write(&p, &bad).unwrap();
        assert_eq!(open(&p).unwrap().1.records, vec![7]);
    }

    #[test]
    fn damage_before_the_end_refuses_to_open_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r0.wal");
        let (mut w, _) = open(&p).unwrap();
        w.append(&[1u64, 2, 3]).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut bytes = std::fs::read(&p).unwrap();
        let header = header("multi").len();
        // The boot marker's payload, well before the end.
        bytes[header + 8] ^= 0x55;
        std::fs::write(&p, &bytes).unwrap();
        let e = open(&p).err().unwrap().to_string();
        assert!(e.contains("r0.wal") && e.contains("corrupt frame"), "{e}");
    }

    #[test]
    fn a_foreign_file_or_another_variants_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wal");
        std::fs::write(&p, b"hello, this is not a log").unwrap();
        assert!(matches!(open(&p), Err(WalError::NotAWal { .. })));
        let q = dir.path().join("y.wal");
        drop(Wal::open::<u64>(&q, "fast").unwrap());
        let e = open(&q).err().unwrap().to_string();
        assert!(e.contains("`fast`") && e.contains("`multi`"), "{e}");
    }
}
