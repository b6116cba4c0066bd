//! IP reassembly: a datagram too big for one frame travels as fragments,
//! and only the first carries the TCP (or UDP) header. Like Wireshark,
//! eco keeps the fragments of each datagram until the set is complete and
//! then decodes the whole datagram at the frame that completed it; the
//! frames before show "Fragmented IP protocol (...)".
//!
//! A fragment joins a datagram only if the capture kept all of it (a
//! snapshot length that cut it leaves a hole nothing could fill). Memory
//! is bounded: at most [`MAX_PENDING`] datagrams wait at once, holding at
//! most [`MAX_HELD`] bytes together (beyond either, the datagram added to
//! least recently is dropped), each at most twice the largest datagram's
//! bytes (overlapping fragments beyond that drop the datagram).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;

/// Datagrams waiting for fragments at once; the least recently added to
/// is forgotten when a new one starts (a capture full of lone fragments,
/// such as an attack, cannot make eco grow without bound).
pub const MAX_PENDING: usize = 16_384;

/// Bytes all waiting datagrams may hold together: small fragments of many
/// datagrams interleaved are kept (as Wireshark keeps them), big ones
/// cannot take more than this.
pub const MAX_HELD: usize = 32 << 20;

/// The largest IP payload: IPv4's total length (and IPv6's payload length)
/// is 16 bits.
const MAX_DATAGRAM: usize = 65_535;

/// Which fragments belong together: RFC 791's (source, destination,
/// protocol, identification), and the same for IPv6's fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub id: u32,
}

/// One fragment: where its bytes go, and whether more follow (the "more
/// fragments" flag; the last fragment clears it and so gives the length).
pub struct Fragment<'a> {
    pub offset: usize,
    pub more: bool,
    pub bytes: &'a [u8],
}

/// The pieces of one datagram received so far.
#[derive(Default)]
struct Pending {
    /// By offset; a piece received again at the same offset keeps the
    /// bytes seen first, and where pieces overlap the one that starts
    /// earlier wins (as Wireshark puts a datagram together).
    pieces: BTreeMap<usize, Vec<u8>>,
    /// Known once the last fragment arrived.
    total: Option<usize>,
    /// Bytes held in `pieces`.
    held: usize,
}

impl Pending {
    /// The datagram, if the pieces now cover it from 0 to its end.
    fn assemble(&self) -> Option<Vec<u8>> {
        let total = self.total?;
        let mut whole = vec![0; total];
        let mut covered = 0;
        for (&offset, bytes) in &self.pieces {
            if offset > covered {
                return None; // a hole
            }
            let end = (offset + bytes.len()).min(total);
            if end > covered {
                whole[covered..end].copy_from_slice(&bytes[covered - offset..end - offset]);
                covered = end;
            }
        }
        (covered == total).then_some(whole)
    }
}

/// The datagrams being reassembled.
pub struct Fragments {
    pending: lru::LruCache<Key, Pending>,
    /// Bytes held by all of them.
    held: usize,
}

impl Default for Fragments {
    fn default() -> Fragments {
        Fragments { pending: lru::LruCache::new(NonZeroUsize::new(MAX_PENDING).expect("non-zero")), held: 0 }
    }
}

impl Fragments {
    /// Adds a fragment; returns the whole datagram's payload when this
    /// one completed it (and forgets it: a later fragment with the same
    /// key starts a new datagram, as identifications wrap).
    pub fn add(&mut self, key: Key, fragment: Fragment<'_>) -> Option<Vec<u8>> {
        let end = fragment.offset + fragment.bytes.len();
        if end > MAX_DATAGRAM {
            return None; // cannot be part of any datagram
        }
        if !self.pending.contains(&key) && self.pending.len() == MAX_PENDING {
            // The cache is about to forget its oldest: count its bytes out.
            if let Some((_, old)) = self.pending.pop_lru() {
                self.held -= old.held;
            }
        }
        let pending = self.pending.get_or_insert_mut(key, Pending::default);
        if !fragment.more {
            pending.total = Some(end);
        }
        if !pending.pieces.contains_key(&fragment.offset) {
            pending.held += fragment.bytes.len();
            self.held += fragment.bytes.len();
            if pending.held > 2 * MAX_DATAGRAM {
                self.forget(&key);
                return None;
            }
            pending.pieces.insert(fragment.offset, fragment.bytes.to_vec());
        }
        let whole = self.pending.peek(&key).and_then(Pending::assemble);
        if whole.is_some() {
            self.forget(&key);
        }
        // Over the byte budget: the least recently added to go first.
        while self.held > MAX_HELD {
            match self.pending.pop_lru() {
                Some((_, old)) => self.held -= old.held,
                None => break,
            }
        }
        whole
    }

    fn forget(&mut self, key: &Key) {
        if let Some(old) = self.pending.pop(key) {
            self.held -= old.held;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> Key {
        Key { src: [10, 0, 0, 1].into(), dst: [10, 0, 0, 2].into(), protocol: 6, id }
    }

    fn piece(offset: usize, more: bool, bytes: &[u8]) -> Fragment<'_> {
        Fragment { offset, more, bytes }
    }

    #[test]
    fn in_order_out_of_order_and_overlapping_fragments_reassemble() {
        let mut f = Fragments::default();
        assert_eq!(f.add(key(1), piece(0, true, b"abcd")), None);
        assert_eq!(f.add(key(1), piece(4, false, b"ef")).as_deref(), Some(&b"abcdef"[..]));

        // The last one first, then an overlap, then the hole filled: the
        // piece that starts earlier wins the overlap.
        assert_eq!(f.add(key(2), piece(6, false, b"gh")), None);
        assert_eq!(f.add(key(2), piece(2, true, b"cdef")), None);
        assert_eq!(f.add(key(2), piece(0, true, b"abXX")).as_deref(), Some(&b"abXXefgh"[..]));
    }

    #[test]
    fn a_hole_keeps_it_pending_and_other_keys_do_not_mix() {
        let mut f = Fragments::default();
        assert_eq!(f.add(key(3), piece(0, true, b"ab")), None);
        assert_eq!(f.add(key(4), piece(4, false, b"ef")), None);
        assert_eq!(f.add(key(3), piece(4, false, b"ef")), None); // 2..4 missing
        assert_eq!(f.add(key(3), piece(2, true, b"cd")).as_deref(), Some(&b"abcdef"[..]));
        // Completed datagrams are forgotten: the same key starts afresh.
        assert_eq!(f.add(key(3), piece(4, false, b"ef")), None);
    }

    #[test]
    fn pending_datagrams_are_bounded() {
        let mut f = Fragments::default();
        for id in 0..(MAX_PENDING as u32 * 3) {
            f.add(key(id), piece(0, true, &[0; 100]));
        }
        assert_eq!(f.pending.len(), MAX_PENDING);
        // The newest are kept, the oldest forgotten.
        let last = MAX_PENDING as u32 * 3 - 1;
        assert!(f.add(key(last), piece(100, false, b"x")).is_some());
        assert!(f.add(key(0), piece(100, false, b"x")).is_none());
    }

    #[test]
    fn endless_overlapping_fragments_drop_the_datagram() {
        let mut f = Fragments::default();
        for offset in 0..10 {
            f.add(key(7), piece(offset, true, &[0; 60_000]));
        }
        assert!(f.pending.peek(&key(7)).is_none_or(|p| p.held <= 2 * MAX_DATAGRAM));
    }

    #[test]
    fn a_fragment_past_the_largest_datagram_is_ignored() {
        let mut f = Fragments::default();
        assert_eq!(f.add(key(9), piece(65_530, false, &[0; 8])), None);
        assert_eq!(f.pending.len(), 0);
    }
}
