//! The bench's messages: each carries its sequence number, its
//! connection's id and a checksum, so that an echo that comes back cut
//! short, reordered, crossed with another connection's or corrupted is
//! caught and named. (Echo itself has no framing: this format exists only
//! between `eco bench` and itself.)
//!
//! ```text
//! [0..8)      sequence number, u64 little-endian
//! [8..12)     connection id, u32 little-endian
//! [12..len-4) filler: byte i = seq + i (mod 256)
//! [len-4..)   FNV-1a 32 of everything before it, little-endian
//! ```

/// The smallest message: header and checksum.
pub const MIN_SIZE: usize = 16;
/// The largest message (each connection holds two of them); for more, `--bulk`.
pub const MAX_SIZE: usize = 16 << 20;

/// What was wrong with an echoed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The checksum does not match: bytes were changed.
    Corrupted,
    /// Intact, but not the message expected next (lost, repeated or
    /// reordered), or another connection's.
    Reordered,
}

/// Writes message `seq` of connection `conn` into `buf` (its whole length).
pub fn encode(buf: &mut [u8], conn: u32, seq: u64) {
    debug_assert!(buf.len() >= MIN_SIZE);
    let end = buf.len() - 4;
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    buf[8..12].copy_from_slice(&conn.to_le_bytes());
    let base = seq as u8;
    for (i, byte) in buf[12..end].iter_mut().enumerate() {
        *byte = base.wrapping_add(i as u8);
    }
    let sum = fnv1a(&buf[..end]);
    buf[end..].copy_from_slice(&sum.to_le_bytes());
}

/// Checks an echoed message against what was sent (`conn`, `seq`).
pub fn verify(buf: &[u8], conn: u32, seq: u64) -> Result<(), Mismatch> {
    let end = buf.len() - 4;
    let sum = u32::from_le_bytes(buf[end..].try_into().expect("4 bytes"));
    if fnv1a(&buf[..end]) != sum {
        return Err(Mismatch::Corrupted);
    }
    let got_seq = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let got_conn = u32::from_le_bytes(buf[8..12].try_into().expect("4 bytes"));
    if got_seq != seq || got_conn != conn {
        return Err(Mismatch::Reordered);
    }
    Ok(())
}

/// FNV-1a, 32 bits: a few lines, fast on short messages, and enough to
/// tell changed bytes (this is an integrity check, not security). Written
/// out rather than taken from a crate for that reason.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, &b| (hash ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The byte at `offset` of a `--bulk` stream: a pattern with a long period,
/// so that a lost, repeated or shifted block is caught.
pub fn bulk_byte(offset: u64) -> u8 {
    let x = offset.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8 ^ (offset >> 16) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fnv1a_of_known_inputs() {
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }

    proptest! {
        #[test]
        fn a_message_verifies_and_any_change_is_caught(
            len in MIN_SIZE..600usize, conn in any::<u32>(), seq in any::<u64>(),
            flip in any::<prop::sample::Index>(), bit in 0u8..8,
        ) {
            let mut buf = vec![0u8; len];
            encode(&mut buf, conn, seq);
            prop_assert_eq!(verify(&buf, conn, seq), Ok(()));
            prop_assert_eq!(verify(&buf, conn, seq.wrapping_add(1)), Err(Mismatch::Reordered));
            prop_assert_eq!(verify(&buf, conn.wrapping_add(1), seq), Err(Mismatch::Reordered));
            let i = flip.index(len);
            buf[i] ^= 1 << bit;
            prop_assert_eq!(verify(&buf, conn, seq), Err(Mismatch::Corrupted));
        }
    }
}
