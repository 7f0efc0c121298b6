//! Frames on a QUIC stream: a 4-byte little-endian payload length, then the postcard encoding of one message
//! (the same layout whose size [`crate::wire::frame_len`] counts in the simulator).
//!
//! The decoder is a pure byte-in, frame-out state machine so it can be tested without sockets. A frame larger
//! than [`MAX_FRAME`] or a payload that is not exactly one message is an error: the caller closes that one
//! connection and counts it; nothing a peer sends can panic a replica.

use bytes::{Buf, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

/// Largest payload accepted. A catch-up reply carries at most a few thousand decided slots of small batches,
/// far below this; anything bigger is hostile or broken.
pub const MAX_FRAME: usize = 16 << 20;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {len} bytes is larger than the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("frame payload is not a valid message: {0}")]
    Malformed(String),
    #[error("frame payload has {0} bytes left over after the message")]
    TrailingBytes(usize),
    #[error("message cannot be encoded: {0}")]
    Encode(String),
    #[error("the stream ended inside a frame, {0} bytes into it")]
    Truncated(usize),
}

/// Encodes one message as a frame.
pub fn encode<M: Serialize>(msg: &M) -> Result<Bytes, FrameError> {
    let mut out = vec![0u8; 4];
    let mut out = postcard::to_extend(msg, std::mem::take(&mut out))
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    let len = out.len() - 4;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    out[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(Bytes::from(out))
}

/// Decodes one payload; the whole payload must be exactly one message.
pub fn decode<M: DeserializeOwned>(payload: &[u8]) -> Result<M, FrameError> {
    let (msg, rest) =
        postcard::take_from_bytes(payload).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes(rest.len()));
    }
    Ok(msg)
}

/// Splits a byte stream into frame payloads.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete payload, `None` if more bytes are needed.
    pub fn next_payload(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge {
                len,
                max: MAX_FRAME,
            });
        }
        if self.buf.len() < 4 + len {
            // Grow with what has arrived, not with what the header claims: a peer cannot make us allocate a
            // large frame it never sends.
            self.buf.reserve((4 + len - self.buf.len()).min(64 * 1024));
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame_len;
    use paxos_variants::multi::MultiMsg;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    enum Probe {
        A(u64),
        B { name: String, data: Vec<u8> },
    }

    #[test]
    fn frames_round_trip_in_any_split() {
        let msgs = vec![
            Probe::A(7),
            Probe::B {
                name: "x".into(),
                data: vec![1; 300],
            },
            Probe::A(u64::MAX),
        ];
        let wire: Vec<u8> = msgs
            .iter()
            .flat_map(|m| encode(m).unwrap().to_vec())
            .collect();
        for step in [1, 3, 7, wire.len()] {
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            for chunk in wire.chunks(step) {
                d.push(chunk);
                while let Some(p) = d.next_payload().unwrap() {
                    got.push(decode::<Probe>(&p).unwrap());
                }
            }
            assert_eq!(got, msgs);
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn the_simulator_counts_the_bytes_the_transport_sends() {
        let m = Probe::B {
            name: "abc".into(),
            data: vec![9; 1000],
        };
        assert_eq!(encode(&m).unwrap().len() as u64, frame_len(&m));
    }

    #[test]
    fn an_oversized_length_is_refused_before_buffering_it() {
        let mut d = FrameDecoder::new();
        d.push(&((MAX_FRAME as u32) + 1).to_le_bytes());
        assert_eq!(
            d.next_payload(),
            Err(FrameError::TooLarge {
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
    }

    #[test]
    fn trailing_bytes_and_garbage_are_errors() {
        let mut p = encode(&Probe::A(1)).unwrap().to_vec();
        p.push(0);
        assert_eq!(decode::<Probe>(&p[4..]), Err(FrameError::TrailingBytes(1)));
        assert!(matches!(
            decode::<Probe>(&[9, 9, 9]),
            Err(FrameError::Malformed(_))
        ));
    }

    proptest! {
        /// Whatever bytes arrive, the decoder and the message decoder return frames or errors, never panic,
        /// and never buffer a claimed length beyond the limit.
        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut d = FrameDecoder::new();
            'outer: for c in &chunks {
                d.push(c);
                loop {
                    match d.next_payload() {
                        Ok(Some(p)) => { let _ = decode::<MultiMsg>(&p); }
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        }

        /// A valid frame with corrupted bytes decodes to something or to an error, never a panic.
        #[test]
        fn corrupted_frames_never_panic(n in 0u64..1000, flip in 0usize..64, bit in 0u8..8) {
            let mut bytes = encode(&Probe::B { name: format!("n{n}"), data: vec![n as u8; (n % 50) as usize] }).unwrap().to_vec();
            let i = 4 + flip % (bytes.len() - 4);
            bytes[i] ^= 1 << bit;
            let _ = decode::<Probe>(&bytes[4..]);
            let _ = decode::<MultiMsg>(&bytes[4..]);
        }
    }
}
