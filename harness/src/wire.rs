//! The wire encoding of protocol messages: a 4-byte little-endian length, then the postcard encoding. The
//! simulator counts bytes with the same function, so its bytes per operation are what the transport will send.

use serde::Serialize;

/// Bytes of the length prefix.
pub const LEN_PREFIX: u64 = 4;

/// The length of a message's frame on the wire.
pub fn frame_len<M: Serialize>(msg: &M) -> u64 {
    // Encoding into a size counter cannot fail for our message types (no maps with non-string keys, no
    // unbounded sequences of unknown length); count 0 payload bytes if it ever did, rather than panic.
    let size = postcard::serialize_with_flavor::<M, postcard::ser_flavors::Size, usize>(
        msg,
        postcard::ser_flavors::Size::default(),
    );
    LEN_PREFIX + size.unwrap_or(0) as u64
}
