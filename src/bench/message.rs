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
//! [len-4..)   CRC-32 of everything before it, little-endian
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
    let sum = crc32fast::hash(&buf[..end]);
    buf[end..].copy_from_slice(&sum.to_le_bytes());
}

/// Checks an echo against the message sent (still in `sent`): the common
/// case, an exact echo, is one comparison of memory; only a differing echo
/// is checked in detail, to tell what went wrong (see [`verify`]).
pub fn check(echo: &[u8], sent: &[u8], conn: u32, seq: u64) -> Result<(), Mismatch> {
    if echo == sent {
        return Ok(());
    }
    verify(echo, conn, seq)?;
    // Intact and the right one, yet different: cannot be (the message is a
    // function of conn and seq), unless the checksum itself collided.
    Err(Mismatch::Corrupted)
}

/// Checks an echoed message against what was sent (`conn`, `seq`).
pub fn verify(buf: &[u8], conn: u32, seq: u64) -> Result<(), Mismatch> {
    let end = buf.len() - 4;
    let sum = u32::from_le_bytes(buf[end..].try_into().expect("4 bytes"));
    if crc32fast::hash(&buf[..end]) != sum {
        return Err(Mismatch::Corrupted);
    }
    let got_seq = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let got_conn = u32::from_le_bytes(buf[8..12].try_into().expect("4 bytes"));
    if got_seq != seq || got_conn != conn {
        return Err(Mismatch::Reordered);
    }
    Ok(())
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
    fn an_exact_echo_passes_and_others_are_named() {
        let mut sent = vec![0u8; 512];
        encode(&mut sent, 7, 42);
        assert_eq!(check(&sent, &sent, 7, 42), Ok(()));
        let mut changed = sent.clone();
        changed[300] ^= 1;
        assert_eq!(check(&changed, &sent, 7, 42), Err(Mismatch::Corrupted));
        let mut other = vec![0u8; 512];
        encode(&mut other, 7, 41);
        assert_eq!(check(&other, &sent, 7, 42), Err(Mismatch::Reordered));
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
