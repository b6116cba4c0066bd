//! pcap and pcapng files: what Wireshark and tshark open.
//!
//! Reading and writing are the `pcap-file` crate's; this file maps between
//! its packets and eco's frames. eco writes classic pcap with
//! LINKTYPE_ETHERNET and nanosecond timestamps, the format `lo` gives.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::{Block, PcapNgReader};

use super::capture::Frame;
use super::packet::Link;

/// A frame read from a file, with the link type its file declared.
pub struct FileFrame {
    pub frame: Frame,
    pub link: Option<Link>,
}

pub fn write(path: &Path, frames: &[Frame]) -> io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ts_resolution: pcap_file::TsResolution::NanoSecond,
        endianness: pcap_file::Endianness::Little,
        snaplen: super::capture::SNAPLEN as u32,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(file, header).map_err(io::Error::other)?;
    for frame in frames {
        let packet = PcapPacket::new(frame.ts, frame.orig_len, &frame.data);
        writer.write_packet(&packet).map_err(io::Error::other)?;
    }
    writer.into_writer().into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Reads every frame of a pcap or pcapng file (told apart by their magic number).
pub fn read(path: &Path) -> io::Result<Vec<FileFrame>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    let invalid = |e: pcap_file::PcapError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let mut frames = Vec::new();
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut reader = PcapNgReader::new(BufReader::new(file)).map_err(invalid)?;
        while let Some(block) = reader.next_block() {
            let (ts, data, orig_len, interface) = match block.map_err(invalid)? {
                Block::EnhancedPacket(p) => {
                    (p.timestamp, p.data.into_owned(), p.original_len, p.interface_id)
                }
                Block::SimplePacket(p) => (Duration::ZERO, p.data.into_owned(), p.original_len, 0),
                _ => continue,
            };
            let link = reader.interfaces().get(interface as usize).and_then(|i| link_of(i.linktype));
            frames.push(FileFrame { frame: Frame { ts, data, orig_len }, link });
        }
    } else {
        let mut reader = PcapReader::new(BufReader::new(file)).map_err(invalid)?;
        let link = link_of(reader.header().datalink);
        while let Some(packet) = reader.next_packet() {
            let packet = packet.map_err(invalid)?;
            let frame =
                Frame { ts: packet.timestamp, orig_len: packet.orig_len, data: packet.data.into_owned() };
            frames.push(FileFrame { frame, link });
        }
    }
    Ok(frames)
}

fn link_of(datalink: DataLink) -> Option<Link> {
    match datalink {
        DataLink::ETHERNET => Some(Link::Ethernet),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Some(Link::RawIp),
        DataLink::LINUX_SLL => Some(Link::LinuxSll),
        _ => None,
    }
}
