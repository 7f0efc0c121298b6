//! The write-ahead log of one acceptor: its durable records, appended in order and synced (`fdatasync`) before
//! the replica sends anything that depends on them.
//!
//! Layout: an 8-byte magic, the variant's name (length-prefixed), then frames of `[len: u32 LE][!len: u32 LE]
//! [crc32 of payload: u32 LE][postcard payload]`. The length is stored twice (plain and inverted) so a damaged
//! length is told from a payload that runs past the end. Each payload is an [`Entry`]: a record, or a boot
//! marker (the number of boots is the replica's incarnation, so a restarted process draws fresh random streams).
//!
//! Reading back, what a crash can leave at the end of the file is cut off, and the log goes on from there: a
//! header cut short, a payload cut short, a payload whose checksum fails with nothing but zeros after it, or a
//! zero-filled tail. Those writes were never synced, so nothing was answered from them. Anything else that is
//! wrong (a bad length or checksum with data after it) is damage, and the log refuses to open: an acceptor that
//! silently forgot a promise could break agreement. A file that holds only part of its own header (a crash
//! while it was being created) starts afresh.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

const MAGIC: &[u8; 8] = b"PXBWAL02";
const FRAME_HEADER: usize = 12;
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
    #[error("a log record of {0} bytes is larger than the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
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
    /// Times the log was rewritten as a checkpoint of the state ([`Wal::rewrite`]).
    pub rewrites: u64,
    pub records: u64,
    pub bytes: u64,
    pub sync_ns: u64,
}

pub struct Wal {
    file: File,
    path: PathBuf,
    variant: String,
    buf: Vec<u8>,
    pub stats: WalStats,
    /// Boot markers in the file, this start's included: a rewrite keeps them, so the incarnation count holds.
    boots: u64,
    /// The file's length, and its length after the last rewrite (or at open).
    len: u64,
    base_len: u64,
    /// A log is rewritten once it is past this size and four times its size after the last rewrite.
    pub rewrite_from: u64,
}

/// The smallest log that is rewritten as a checkpoint.
pub const REWRITE_FROM: u64 = 1 << 20;

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
        // Empty, or a header cut short by a crash while the file was made: start it afresh.
        let (recovered, good_end) = if header.starts_with(&bytes) && bytes.len() < header.len() {
            file.set_len(0).map_err(&err)?;
            file.seek(SeekFrom::Start(0)).map_err(&err)?;
            file.write_all(&header).map_err(&err)?;
            file.sync_all().map_err(&err)?;
            // The new file's directory entry must survive a crash too.
            sync_parent(path).map_err(&err)?;
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
            variant: variant.to_string(),
            buf: Vec::new(),
            stats: WalStats::default(),
            boots: recovered.boots + 1,
            len: good_end,
            base_len: good_end,
            rewrite_from: REWRITE_FROM,
        };
        wal.push(&Entry::<()>::Boot)?;
        wal.sync()?;
        wal.stats = WalStats::default();
        Ok((wal, recovered))
    }

    fn push<R: Serialize>(&mut self, e: &Entry<R>) -> Result<(), WalError> {
        let payload = postcard::to_allocvec(e).map_err(|e| WalError::Encode(e.to_string()))?;
        if payload.len() > MAX_FRAME {
            return Err(WalError::TooLarge(payload.len()));
        }
        let len = payload.len() as u32;
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(&(!len).to_le_bytes());
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
        self.len += self.buf.len() as u64;
        self.stats.bytes += self.buf.len() as u64;
        self.stats.syncs += 1;
        self.stats.sync_ns += t0.elapsed().as_nanos() as u64;
        self.buf.clear();
        Ok(())
    }

    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Whether the log has grown enough past its last rewrite to be rewritten.
    pub fn wants_rewrite(&self) -> bool {
        self.len >= self.rewrite_from.max(self.base_len.saturating_mul(4))
    }

    /// Replaces the log's history with `checkpoint`, records that rebuild the current state (see
    /// `DurableState::checkpoint`), keeping its boot markers. Everything appended must be synced first. The new
    /// log is written and synced beside the old one and renamed over it, so a crash at any point leaves one
    /// whole log: the old history or the checkpoint.
    pub fn rewrite<R: Serialize + Clone>(&mut self, checkpoint: &[R]) -> Result<(), WalError> {
        self.sync()?;
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".rewrite");
        let tmp = PathBuf::from(tmp_name);
        let err = io(&tmp);
        self.buf = header(&self.variant);
        for _ in 0..self.boots {
            self.push(&Entry::<()>::Boot)?;
        }
        for r in checkpoint {
            self.push(&Entry::Record(r.clone()))?;
        }
        let bytes = std::mem::take(&mut self.buf);
        let mut f = File::create(&tmp).map_err(&err)?;
        f.write_all(&bytes).map_err(&err)?;
        f.sync_all().map_err(&err)?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        sync_parent(&self.path).map_err(io(&self.path))?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        file.seek(SeekFrom::End(0)).map_err(io(&self.path))?;
        self.file = file;
        self.len = bytes.len() as u64;
        self.base_len = self.len;
        self.stats.rewrites += 1;
        Ok(())
    }
}

/// Syncs the directory that holds `path`, so a file just made there survives a crash.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
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
    let corrupt = |at: usize, after: usize| WalError::Corrupt {
        path: path.to_path_buf(),
        offset: at as u64,
        after: after as u64,
    };
    while at < bytes.len() {
        let rest = &bytes[at..];
        let torn = |r: Recovered<R>| Ok((r, at as u64));
        let frame = match frame_at(rest) {
            Frame::Whole(payload, next) => Some((payload, next)),
            // A header or payload cut short, or zeros: what a crash leaves at the end.
            Frame::Short | Frame::Zeros => None,
            Frame::BadHeader => return Err(corrupt(at, rest.len())),
            Frame::BadPayload(end) if rest[end..].iter().all(|&b| b == 0) => None,
            Frame::BadPayload(end) => return Err(corrupt(at, rest.len() - end)),
        };
        let Some((payload, next)) = frame else {
            return torn(Recovered {
                records,
                boots,
                torn_bytes: rest.len() as u64,
            });
        };
        match postcard::from_bytes::<Entry<R>>(payload) {
            Ok(Entry::Boot) => boots += 1,
            Ok(Entry::Record(r)) => records.push(r),
            // The checksum held, so this is a log of another format, not a torn write.
            Err(_) => return Err(corrupt(at, rest.len() - next)),
        }
        at += next;
    }
    let r = Recovered {
        records,
        boots,
        torn_bytes: 0,
    };
    Ok((r, at as u64))
}

enum Frame<'a> {
    /// The payload and the offset just past it.
    Whole(&'a [u8], usize),
    /// The header or the payload runs past the end of the file.
    Short,
    /// Only zeros from here on (a tail the file system extended but never wrote).
    Zeros,
    /// The length and its inverse disagree, or claim an impossible size, with data after.
    BadHeader,
    /// The payload's checksum fails; it ends at this offset.
    BadPayload(usize),
}

/// Reads the frame at the start of `rest`.
fn frame_at(rest: &[u8]) -> Frame<'_> {
    if rest.iter().all(|&b| b == 0) {
        return Frame::Zeros;
    }
    let Some(h) = rest.get(..FRAME_HEADER) else {
        return Frame::Short;
    };
    let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (len, inverted, crc) = (word(0), word(4), word(8));
    if len != !inverted || len == 0 || len as usize > MAX_FRAME {
        return Frame::BadHeader;
    }
    let end = FRAME_HEADER + len as usize;
    let Some(payload) = rest.get(FRAME_HEADER..end) else {
        return Frame::Short;
    };
    if crc32fast::hash(payload) == crc {
        Frame::Whole(payload, end)
    } else {
        Frame::BadPayload(end)
    }
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
    fn a_rewritten_log_holds_the_checkpoint_keeps_its_boots_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r0.wal");
        drop(open(&p).unwrap());
        let (mut w, _) = open(&p).unwrap();
        w.rewrite_from = 200;
        let history: Vec<u64> = (0..40).collect();
        w.append(&history).unwrap();
        w.sync().unwrap();
        assert!(w.wants_rewrite());
        w.rewrite(&[100u64, 101]).unwrap();
        assert!(!w.wants_rewrite(), "just rewritten");
        assert_eq!(w.stats.rewrites, 1);
        w.append(&[102u64]).unwrap();
        w.sync().unwrap();
        let small = std::fs::metadata(&p).unwrap().len();
        drop(w);
        let (_, r) = open(&p).unwrap();
        assert_eq!(r.records, vec![100, 101, 102]);
        assert_eq!(r.boots, 2, "both earlier starts are still counted");
        assert!(small < 150, "{small} bytes");
        assert!(!dir.path().join("r0.wal.rewrite").exists());
        // A rewrite that a crash cut short leaves the old log whole; its leftover file is ignored.
        std::fs::write(dir.path().join("r0.wal.rewrite"), b"half").unwrap();
        let (_, r) = open(&p).unwrap();
        assert_eq!(r.records, vec![100, 101, 102]);
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
        let last_frame_len =
            FRAME_HEADER + postcard::to_allocvec(&Entry::Record(8u64)).unwrap().len();
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
    fn a_damaged_length_before_the_end_is_refused_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r0.wal");
        let (mut w, _) = open(&p).unwrap();
        w.append(&[1u64, 2, 3]).unwrap();
        w.sync().unwrap();
        drop(w);
        let good = std::fs::read(&p).unwrap();
        let header = header("multi").len();
        // The first record's length claims to run far past the end of the file.
        let first_record = header + FRAME_HEADER + 1;
        let mut bytes = good.clone();
        bytes[first_record..first_record + 4].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(open(&p), Err(WalError::Corrupt { .. })));
        // The same with a huge length (beyond any frame).
        bytes[first_record..first_record + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(open(&p), Err(WalError::Corrupt { .. })));
        // Nothing was cut off while refusing.
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }

    #[test]
    fn a_zero_filled_tail_or_a_half_written_header_is_what_a_crash_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r0.wal");
        let (mut w, _) = open(&p).unwrap();
        w.append(&[5u64]).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend([0u8; 4096]);
        std::fs::write(&p, &bytes).unwrap();
        let (_, r) = open(&p).unwrap();
        assert_eq!((r.records, r.torn_bytes), (vec![5], 4096));
        // A crash while the file was being made: part of its own header.
        let q = dir.path().join("r1.wal");
        std::fs::write(&q, &header("multi")[..7]).unwrap();
        let (_, r) = open(&q).unwrap();
        assert_eq!((r.records.len(), r.boots), (0, 0));
        assert_eq!(open(&q).unwrap().1.boots, 1);
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
