//! pcap and pcapng files: what Wireshark and tshark open, and what eco
//! writes.
//!
//! Reading is `pcap-parser`'s streaming parser: a buffer of a few blocks,
//! refilled as it goes, so a file of any size is read in constant memory
//! ([`Reader`] hands out one record at a time). This file adds what a
//! reader of other people's captures needs on top: each pcapng
//! interface's timestamp resolution (`if_tsresol`, microseconds unless it
//! says otherwise) and offset, the link type of each record, blocks larger
//! than the buffer, and a file that ends in the middle of a record (the
//! records before it are read, and [`Reader::warning`] says what happened,
//! as tshark does).
//!
//! Writing is classic pcap, little-endian, LINKTYPE_ETHERNET and nanosecond
//! timestamps: the format `lo` gives.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapBlock, Linktype, PcapBlockOwned, PcapError, PcapHeader, ToVec};

use super::capture::Frame;
use super::stamp::Stamp;

/// One record of a capture file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A captured packet.
    Packet(FilePacket),
    /// A pcapng custom block: tshark shows it as a frame of its own
    /// ("PCAPNG"), so it takes a frame number too.
    Custom { pen: u32, copy: bool, len: u32 },
}

/// A packet read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePacket {
    /// Capture time since the Unix epoch; `None` for records without one
    /// (pcapng simple packet blocks).
    pub ts: Option<Stamp>,
    /// The captured bytes (fewer than `orig_len` when the capture was cut
    /// at a snapshot length).
    pub data: Vec<u8>,
    pub orig_len: u32,
    /// The link type (LINKTYPE_*) of its interface.
    pub link: u32,
}

/// How reading a file ended early; the records before were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The file ends in the middle of a record.
    CutShort,
    /// A record could not be parsed: the rest of the file is unreadable.
    Damaged(String),
    /// A pcapng section of a version tshark does not read either.
    UnsupportedVersion { major: u16, minor: u16 },
}

/// Timestamps and link type of one pcapng interface.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: u32,
    /// Units per second of its timestamps (`if_tsresol`).
    units: u64,
    /// Seconds to add (`if_tsoffset`).
    offset: i64,
    /// Bytes a simple packet block of this interface holds at most.
    snaplen: u32,
}

/// A streaming reader of a pcap or pcapng file (told apart by their first
/// bytes).
pub struct Reader {
    inner: Box<dyn PcapReaderIterator + Send>,
    /// pcapng: the interfaces of the current section.
    interfaces: Vec<Interface>,
    /// Classic pcap: the link type, and whether timestamps are in ns.
    legacy: Option<(u32, bool)>,
    warning: Option<Warning>,
    done: bool,
}

/// The buffer starts here and doubles for larger blocks, up to [`MAX_BLOCK`].
const BUFFER: usize = 256 << 10;
/// Blocks larger than this are taken for damage: tshark's own limit for a
/// packet is 256 KiB of data (a little more with headers); 16 MiB leaves
/// room for what other tools write.
const MAX_BLOCK: usize = 16 << 20;

impl Reader {
    /// Opens `path` (`-`: standard input).
    pub fn open(path: &Path) -> io::Result<Reader> {
        if path.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "it is a directory, not a capture file"));
        }
        let input: Box<dyn Read + Send> =
            if path == Path::new("-") { Box::new(io::stdin()) } else { Box::new(File::open(path)?) };
        Reader::from_read(input)
    }

    /// Reads a capture from any byte stream.
    pub fn from_read(mut input: impl Read + Send + 'static) -> io::Result<Reader> {
        // The first bytes, to tell a damaged or cut capture from a file
        // that is no capture at all; then read again from the start.
        // As many as the reader's buffer takes: it parses the file header
        // from its first read, which must hold all of it.
        let mut head = Vec::with_capacity(BUFFER);
        (&mut input).take(BUFFER as u64).read_to_end(&mut head)?;
        let known_magic = head.len() >= 4
            && [[0xa1, 0xb2, 0xc3, 0xd4], [0xa1, 0xb2, 0x3c, 0x4d], [0x0a, 0x0d, 0x0d, 0x0a]]
                .iter()
                .any(|m| head[..4] == m[..] || head[..4].iter().rev().eq(m.iter()));
        let invalid = |text: &str| io::Error::new(io::ErrorKind::InvalidData, text.to_string());
        let inner =
            pcap_parser::create_reader(BUFFER, io::Cursor::new(head).chain(input)).map_err(|e| match e {
                PcapError::Eof => invalid("the file is empty"),
                _ if known_magic => invalid("its file header is cut short or damaged"),
                PcapError::HeaderNotRecognized | PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                    invalid("this is neither a pcap nor a pcapng file")
                }
                PcapError::ReadError => invalid("it could not be read"),
                _ => invalid("its file header is damaged"),
            })?;
        Ok(Reader { inner, interfaces: Vec::new(), legacy: None, warning: None, done: false })
    }

    /// Why the file ended early, if it did (known once `next` returned `None`).
    pub fn warning(&self) -> Option<&Warning> {
        self.warning.as_ref()
    }

    /// The next record, or `None` at the end of the file (or of what could
    /// be read of it: see [`Reader::warning`]).
    pub fn next_record(&mut self) -> Option<Record> {
        while !self.done {
            let step = match self.inner.next() {
                Ok((offset, block)) => {
                    Step::Block(offset, take(&block, &mut self.interfaces, &mut self.legacy))
                }
                Err(PcapError::Eof) => Step::End(None),
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::UnexpectedEof) => Step::End(Some(Warning::CutShort)),
                Err(PcapError::ReadError) => {
                    Step::End(Some(Warning::Damaged("the file could not be read".into())))
                }
                // nom's errors carry the bytes they stopped at: not for people.
                Err(_) => {
                    Step::End(Some(Warning::Damaged("a block's lengths or fields do not add up".into())))
                }
            };
            match step {
                Step::Block(consumed, taken) => {
                    self.inner.consume(consumed);
                    match taken {
                        Taken::Record(record) => return Some(record),
                        Taken::Nothing => {}
                        Taken::Stop(warning) => self.stop(Some(warning)),
                    }
                }
                Step::Refill => {
                    if self.inner.refill().is_err() {
                        self.stop(Some(Warning::Damaged("the file could not be read".into())));
                    }
                }
                Step::Grow => {
                    let size = self.inner.data().len().max(BUFFER) * 2;
                    if size > MAX_BLOCK || !self.inner.grow(size) {
                        self.stop(Some(Warning::Damaged(
                            "a record is larger than any capture tool writes".into(),
                        )));
                    }
                }
                Step::End(warning) => self.stop(warning),
            }
        }
        None
    }

    fn stop(&mut self, warning: Option<Warning>) {
        self.warning = warning;
        self.done = true;
    }
}

impl Iterator for Reader {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        self.next_record()
    }
}

/// What the parser gave.
enum Step {
    Block(usize, Taken),
    Refill,
    Grow,
    End(Option<Warning>),
}

/// What one block gives.
enum Taken {
    Record(Record),
    Nothing,
    Stop(Warning),
}

fn take(
    block: &PcapBlockOwned<'_>,
    interfaces: &mut Vec<Interface>,
    legacy: &mut Option<(u32, bool)>,
) -> Taken {
    match block {
        PcapBlockOwned::LegacyHeader(header) => {
            // The field's upper bits say whether frames end in a frame check
            // sequence (libpcap's LT_FCS_*); the link type is the rest.
            *legacy = Some((header.network.0 as u32 & 0x03ff_ffff, header.is_nanosecond_precision()));
            Taken::Nothing
        }
        PcapBlockOwned::Legacy(packet) => {
            let (link, nanos) = legacy.unwrap_or((1, false));
            let ts = Stamp::from_pcap(packet.ts_sec, packet.ts_usec, nanos);
            let data = packet.data[..(packet.caplen as usize).min(packet.data.len())].to_vec();
            Taken::Record(Record::Packet(FilePacket { ts: Some(ts), data, orig_len: packet.origlen, link }))
        }
        PcapBlockOwned::NG(Block::SectionHeader(section)) => {
            if section.major_version != 1 {
                return Taken::Stop(Warning::UnsupportedVersion {
                    major: section.major_version,
                    minor: section.minor_version,
                });
            }
            interfaces.clear();
            Taken::Nothing
        }
        PcapBlockOwned::NG(Block::InterfaceDescription(interface)) => {
            interfaces.push(Interface {
                link: interface.linktype.0 as u32,
                // An if_tsresol that no u64 holds: tshark falls back to µs too.
                units: units_per_second(interface.if_tsresol).unwrap_or(1_000_000),
                offset: interface.ts_offset(),
                snaplen: interface.snaplen,
            });
            Taken::Nothing
        }
        PcapBlockOwned::NG(Block::EnhancedPacket(packet)) => {
            let Some(interface) = interfaces.get(packet.if_id as usize) else {
                return Taken::Stop(Warning::Damaged(format!(
                    "a packet of interface {}, never described",
                    packet.if_id
                )));
            };
            let raw = (u64::from(packet.ts_high) << 32) | u64::from(packet.ts_low);
            let data = packet.data[..(packet.caplen as usize).min(packet.data.len())].to_vec();
            Taken::Record(Record::Packet(FilePacket {
                ts: Some(to_stamp(raw, interface.units, interface.offset)),
                data,
                orig_len: packet.origlen,
                link: interface.link,
            }))
        }
        PcapBlockOwned::NG(Block::SimplePacket(packet)) => {
            let Some(interface) = interfaces.first() else {
                return Taken::Stop(Warning::Damaged("a simple packet block before any interface".into()));
            };
            let keep = packet.origlen.min(if interface.snaplen == 0 { u32::MAX } else { interface.snaplen });
            let data = packet.data[..(keep as usize).min(packet.data.len())].to_vec();
            Taken::Record(Record::Packet(FilePacket {
                ts: None,
                data,
                orig_len: packet.origlen,
                link: interface.link,
            }))
        }
        PcapBlockOwned::NG(Block::Custom(custom)) => Taken::Record(Record::Custom {
            pen: custom.pen,
            copy: !custom.do_not_copy(),
            len: custom.block_len1,
        }),
        PcapBlockOwned::NG(_) => Taken::Nothing,
    }
}

/// The timestamp units per second that a pcapng `if_tsresol` gives:
/// 10^n, or 2^n when its top bit is set. (Worked out here because
/// pcap-parser 0.17 compares the whole byte, flag bit included, with 63
/// and so refuses every binary resolution.)
fn units_per_second(tsresol: u8) -> Option<u64> {
    let exponent = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exponent)
    } else {
        1u64.checked_shl(exponent).filter(|_| exponent < 64)
    }
}

/// A pcapng timestamp: `raw` units of `1 / units` s, plus `offset` s.
/// (Any 64 bits can be there: seconds beyond an i64 saturate.)
fn to_stamp(raw: u64, units: u64, offset: i64) -> Stamp {
    let seconds = i64::try_from(raw / units).unwrap_or(i64::MAX);
    let fraction = u128::from(raw % units) * 1_000_000_000 / u128::from(units);
    Stamp { secs: offset.saturating_add(seconds), nsecs: fraction as i32 }
}

/// Writes `frames` to `path` as a classic pcap file.
pub fn write(path: &Path, frames: &[Frame]) -> io::Result<()> {
    let mut file = BufWriter::new(File::create(path)?);
    write_to(&mut file, frames)?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Writes `frames` as a classic pcap file to `file`.
pub fn write_to(file: &mut impl Write, frames: &[Frame]) -> io::Result<()> {
    let to_io = |e| io::Error::other(format!("{e:?}"));
    let mut header = PcapHeader {
        // Native (little-endian) byte order, nanosecond timestamps.
        magic_number: 0xa1b2_3c4d,
        snaplen: super::capture::SNAPLEN as u32,
        network: Linktype::ETHERNET,
        ..PcapHeader::new()
    };
    file.write_all(&header.to_vec().map_err(to_io)?)?;
    for frame in frames {
        let packet = LegacyPcapBlock {
            ts_sec: frame.ts.as_secs() as u32,
            ts_usec: frame.ts.subsec_nanos(),
            caplen: frame.data.len() as u32,
            origlen: frame.orig_len,
            data: &frame.data,
        };
        file.write_all(&packet.to_vec_raw().map_err(to_io)?)?;
    }
    Ok(())
}

/// Nanoseconds as a [`Duration`] since the epoch (earlier times as zero).
pub fn duration_of(nanos: i64) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn frames_strategy() -> impl Strategy<Value = Vec<Frame>> {
        let frame = (0u64..4_000_000_000, proptest::collection::vec(any::<u8>(), 0..300), 0u32..100)
            .prop_map(|(ns, data, extra)| Frame {
                ts: Duration::from_nanos(ns * 1000),
                orig_len: data.len() as u32 + extra,
                data,
            });
        proptest::collection::vec(frame, 0..20)
    }

    fn read_all(bytes: Vec<u8>) -> (Vec<FilePacket>, Option<Warning>) {
        let mut reader = Reader::from_read(io::Cursor::new(bytes)).expect("a pcap header");
        let mut packets = Vec::new();
        while let Some(record) = reader.next_record() {
            match record {
                Record::Packet(packet) => packets.push(packet),
                Record::Custom { .. } => panic!("no custom blocks were written"),
            }
        }
        (packets, reader.warning().cloned())
    }

    proptest! {
        /// What eco writes, it reads back: times, bytes and lengths.
        #[test]
        fn written_frames_read_back(frames in frames_strategy()) {
            let mut bytes = Vec::new();
            write_to(&mut bytes, &frames).unwrap();
            let (packets, warning) = read_all(bytes);
            prop_assert_eq!(warning, None);
            prop_assert_eq!(packets.len(), frames.len());
            for (frame, packet) in frames.iter().zip(&packets) {
                prop_assert_eq!(&packet.data, &frame.data);
                prop_assert_eq!(packet.orig_len, frame.orig_len);
                prop_assert_eq!(packet.link, 1);
                prop_assert_eq!(packet.ts.unwrap().nanos(), frame.ts.as_nanos() as i64);
            }
        }

        /// A file cut anywhere after its header: the whole frames before the
        /// cut, then a warning (never a panic, never a frame from nowhere).
        #[test]
        fn a_file_cut_anywhere_gives_the_frames_before(frames in frames_strategy(), cut in any::<prop::sample::Index>()) {
            let mut bytes = Vec::new();
            write_to(&mut bytes, &frames).unwrap();
            let full = bytes.len();
            let at = 24 + cut.index(full - 24 + 1);
            bytes.truncate(at);
            let (packets, warning) = read_all(bytes);
            prop_assert!(packets.len() <= frames.len());
            for (frame, packet) in frames.iter().zip(&packets) {
                prop_assert_eq!(&packet.data, &frame.data);
            }
            // Every record is 16 bytes of header plus its data.
            let whole = frames.iter().scan(24, |end, f| { *end += 16 + f.data.len(); Some(*end) })
                .take_while(|end| *end <= at).count();
            prop_assert_eq!(packets.len(), whole);
            if at == 24 || at == full || frames.iter().scan(24, |end, f| { *end += 16 + f.data.len(); Some(*end) }).any(|end| end == at) {
                prop_assert_eq!(warning, None);
            } else {
                prop_assert_eq!(warning, Some(Warning::CutShort));
            }
        }

        /// Any bytes at all after a valid header: never a panic.
        #[test]
        fn garbage_after_a_header_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..2000), ng in any::<bool>()) {
            let mut bytes = Vec::new();
            if ng {
                // A pcapng section header block (little-endian, version 1.0).
                bytes.extend_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]);
                bytes.extend_from_slice(&[0xff; 8]);
                bytes.extend_from_slice(&[28, 0, 0, 0]);
            } else {
                write_to(&mut bytes, &[]).unwrap();
            }
            bytes.extend_from_slice(&tail);
            let _ = read_all(bytes);
        }
    }

    #[test]
    fn pcapng_timestamps_follow_the_interface_resolution() {
        let nanos = |raw, units, offset| to_stamp(raw, units, offset).nanos();
        // Microseconds (the default): 1.5 s.
        assert_eq!(nanos(1_500_000, 1_000_000, 0), 1_500_000_000);
        // Nanoseconds.
        assert_eq!(nanos(1_500_000_001, 1_000_000_000, 0), 1_500_000_001);
        // Binary fractions: 2^-10 s units.
        assert_eq!(nanos(1024 + 512, 1024, 0), 1_500_000_000);
        // An offset in seconds.
        assert_eq!(nanos(0, 1_000_000, 10), 10_000_000_000);
        // The if_tsresol byte: 10^6 (the default), 10^9, 2^10; too many
        // digits for a u64: none.
        assert_eq!(units_per_second(6), Some(1_000_000));
        assert_eq!(units_per_second(9), Some(1_000_000_000));
        assert_eq!(units_per_second(0x8a), Some(1024));
        assert_eq!(units_per_second(20), None);
        assert_eq!(units_per_second(0x80 | 64), None);
        // Whatever 64 bits a damaged file holds: no overflow.
        assert_eq!(to_stamp(u64::MAX, 1, i64::MAX).secs, i64::MAX);
    }
}
