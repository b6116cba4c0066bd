//! Decoding one captured frame into what the table shows: the addresses,
//! the protocol, and for TCP every field of the segment.
//!
//! Link layers as the pcap "link type" names them (Ethernet with VLAN
//! tags, PPPoE or MPLS; BSD loopback; raw IP; Linux cooked v1 and v2; PPP
//! and Cisco HDLC), then IP (v4 and v6, with IP-in-IP and GRE tunnels, as
//! Wireshark follows them to the innermost packet). Header parsing is
//! etherparse's (checked slices over the bytes, lax about lengths so that a
//! truncated frame still shows its headers); this file only walks the
//! layers and picks the fields. It never panics: what cannot be decoded
//! becomes [`Decoded::Malformed`] with the reason, or [`Decoded::Other`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use etherparse::LaxIpSlice;

use super::defrag::{Fragment, Fragments, Key};

/// The pcap link types (LINKTYPE_* of tcpdump.org) eco decodes.
pub mod linktype {
    /// BSD loopback: a 4-byte address family in the capturing host's order.
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    /// Raw IP, as some systems number it (DLT_RAW 12 and 14).
    pub const RAW_12: u32 = 12;
    pub const RAW_14: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const RAW: u32 = 101;
    /// Cisco HDLC.
    pub const C_HDLC: u32 = 104;
    /// OpenBSD loopback: the address family in network order.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture v1: `tcpdump -i any`.
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    /// Linux "cooked" capture v2.
    pub const LINUX_SLL2: u32 = 276;

    /// Whether eco decodes frames of this link type.
    pub fn known(link: u32) -> bool {
        matches!(
            link,
            NULL | ETHERNET
                | PPP
                | RAW_12
                | RAW_14
                | PPP_HDLC
                | RAW
                | C_HDLC
                | LOOP
                | LINUX_SLL
                | IPV4
                | IPV6
                | LINUX_SLL2
        )
    }
}

/// The TCP flag bits, in the order Wireshark lists them.
pub const FIN: u16 = 0x001;
pub const SYN: u16 = 0x002;
pub const RST: u16 = 0x004;
pub const PSH: u16 = 0x008;
pub const ACK: u16 = 0x010;
pub const URG: u16 = 0x020;
pub const ECE: u16 = 0x040;
pub const CWR: u16 = 0x080;
/// Accurate ECN (once the NS bit).
pub const AE: u16 = 0x100;
/// The three reserved bits.
pub const RESERVED: u16 = 0xe00;

/// A TCP option, as far as Wireshark's Info column shows options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOpt {
    Mss(u16),
    SackPerm,
    Timestamp {
        val: u32,
        ecr: u32,
    },
    WindowScale(u8),
    /// SACK blocks: (left edge, right edge), absolute sequence numbers.
    Sack(Vec<(u32, u32)>),
    /// TCP Fast Open: a cookie request (no cookie) or a cookie.
    FastOpen {
        cookie: bool,
    },
    /// An experimental option (kinds 253, 254) that is not Fast Open: its
    /// 16-bit experiment identifier (RFC 6994).
    Experimental(u16),
    /// Echo or Echo reply (RFC 1072, obsolete).
    Echo(u32),
    /// Quick-Start (RFC 4782): the rate, as its 4-bit code.
    QuickStart(u8),
    /// User timeout (RFC 5482), in its unit.
    UserTimeout(u16),
    /// TCP MD5 signature (RFC 2385).
    Md5,
    /// TCP authentication option (RFC 5925).
    Ao,
    /// Accurate ECN: the byte counters it carries (order 0 or 1); none
    /// in its two-byte form.
    AccEcn {
        order1: bool,
        counters: Vec<u32>,
    },
    /// Any other option: not in the Info column.
    Other,
}

/// The fields of one TCP segment, as far as the capture kept them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    /// The 12 flag bits (reserved bits included).
    pub flags: u16,
    /// The raw 16-bit window field (not yet scaled).
    pub window: u16,
    pub urgent: u16,
    /// The header length the segment declares (data offset × 4).
    pub hlen: u32,
    /// Payload bytes as the frame's lengths give them (the "Len" of
    /// Wireshark), even where the capture kept fewer; `None` when those
    /// lengths do not even cover the header (then Wireshark shows no Len,
    /// and neither relative numbers nor analysis).
    pub seg_len: Option<u32>,
    pub options: Vec<TcpOpt>,
    /// Where the captured bytes ran out, if they did before the end of
    /// the header (Wireshark stops its Info there).
    pub cut: Option<Cut>,
    /// The TLS records that start in the payload, named as Wireshark
    /// names them (`Client Hello`), if it carries TLS.
    pub tls: Option<String>,
}

/// Where a TCP header was cut short, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Only the ports were there.
    AfterPorts(Short),
    /// The fixed fields up to the window were there, not the rest.
    AfterWindow(Short),
    /// In the options: those before were read.
    InOptions(Short),
    /// The data offset says less than the 20-byte minimum.
    Bogus,
}

/// Why bytes were missing: the capture's snapshot length ("[Packet size
/// limited during capture]"), or a length field pointing past the packet
/// ("[Malformed Packet]").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Short {
    Capture,
    Malformed,
}

impl Segment {
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// Payload bytes (0 when unknown).
    pub fn payload_len(&self) -> u32 {
        self.seg_len.unwrap_or(0)
    }

    /// Sequence space used: payload, plus one for SYN and one for FIN.
    pub fn seq_space(&self) -> u32 {
        self.payload_len() + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }

    pub fn window_shift(&self) -> Option<u8> {
        self.options.iter().find_map(|o| match o {
            TcpOpt::WindowScale(shift) => Some(*shift),
            _ => None,
        })
    }
}

/// An ICMP or ICMPv6 message, as far as the Info column describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmp {
    pub v6: bool,
    pub kind: u8,
    pub code: u8,
    /// The checksum field: Wireshark pairs an echo reply with its request
    /// by it (see `other::Echoes`).
    pub checksum: u16,
    /// Identifier and sequence number of echo-like messages.
    pub id_seq: Option<(u16, u16)>,
    /// TTL (IPv4) or hop limit (IPv6) of the packet that carried it.
    pub ttl: u8,
    /// The target address of neighbor discovery messages, and for
    /// advertisements their flags (router, solicited, override).
    pub target: Option<IpAddr>,
    pub nd_flags: u8,
    /// The link-layer address an ND option carries, if any.
    pub link_addr: Option<[u8; 6]>,
}

/// An ARP (or RARP) packet over Ethernet and IPv4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arp {
    pub operation: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: [u8; 4],
    pub target_mac: [u8; 6],
    pub target_ip: [u8; 4],
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Tcp(Segment),
    /// A UDP datagram: addresses, ports and payload length.
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        len: u32,
    },
    Icmp {
        src: IpAddr,
        dst: IpAddr,
        icmp: Icmp,
    },
    Arp(Arp),
    /// A frame of another protocol, named as Wireshark's Protocol column
    /// names it ("IPv4" for an IP protocol it does not show, an ethertype
    /// as `0x88cc` for one it does not know), with what Wireshark's Info
    /// says of it, if eco says the same.
    Other {
        src: String,
        dst: String,
        protocol: String,
        info: String,
    },
    /// Too short or inconsistent to decode: the addresses, if the IP header
    /// could be read, and the reason.
    Malformed {
        src: String,
        dst: String,
        reason: String,
    },
}

/// Decodes one frame: `data` as captured, `reported` its length on the
/// wire (larger when a snapshot length cut it).
///
/// Stateless: IP fragments are not reassembled (see [`Decoder`]).
pub fn decode(link: u32, data: &[u8], reported: u32) -> Decoded {
    Decoder::default().decode(link, data, reported)
}

/// Decodes the frames of one capture in order, reassembling IP fragments
/// across them as Wireshark does.
#[derive(Default)]
pub struct Decoder {
    fragments: Fragments,
}

impl Decoder {
    /// Decodes one frame: `data` as captured, `reported` its length on the
    /// wire (larger when a snapshot length cut it).
    pub fn decode(&mut self, link: u32, data: &[u8], reported: u32) -> Decoded {
        link_layer(link, data, reported as usize, &mut self.fragments)
    }
}

fn link_layer(link: u32, data: &[u8], reported: usize, f: &mut Fragments) -> Decoded {
    use linktype::*;
    match link {
        ETHERNET => ethernet(data, reported, f),
        RAW | RAW_12 | RAW_14 | IPV4 | IPV6 => ip(data, reported, f),
        NULL | LOOP => {
            let Some(family) = data.get(..4) else { return short("BSD loopback header") };
            // The family is in the capturing host's byte order (NULL) or
            // in network order (LOOP): either way, a small number.
            let family = u32::from_le_bytes(family.try_into().expect("4 bytes"));
            let family = if family > 0xffff { family.swap_bytes() } else { family };
            match family {
                2 => ip(&data[4..], reported.saturating_sub(4), f),
                // AF_INET6 of the BSDs, Darwin and Linux.
                10 | 24 | 28 | 30 => ip(&data[4..], reported.saturating_sub(4), f),
                _ => other(&format!("0x{family:08x}")),
            }
        }
        LINUX_SLL => {
            let Some(header) = data.get(..16) else { return short("Linux cooked header") };
            ether_type(
                u16::from_be_bytes([header[14], header[15]]),
                &data[16..],
                reported.saturating_sub(16),
                f,
            )
        }
        LINUX_SLL2 => {
            let Some(header) = data.get(..20) else { return short("Linux cooked v2 header") };
            ether_type(
                u16::from_be_bytes([header[0], header[1]]),
                &data[20..],
                reported.saturating_sub(20),
                f,
            )
        }
        PPP | PPP_HDLC => ppp(data, reported, f),
        C_HDLC => {
            let Some(header) = data.get(..4) else { return short("Cisco HDLC header") };
            ether_type(u16::from_be_bytes([header[2], header[3]]), &data[4..], reported.saturating_sub(4), f)
        }
        _ => other(""),
    }
}

fn ethernet(data: &[u8], reported: usize, f: &mut Fragments) -> Decoded {
    let Some(header) = data.get(..14) else { return short("Ethernet header") };
    let ether = u16::from_be_bytes([header[12], header[13]]);
    if ether < 0x0600 {
        // An IEEE 802.3 length: LLC and what follows, not IP. (The trailing
        // space is Wireshark's: the 802.3 dissector leaves it for LLC's
        // words, and tshark prints it as is.)
        return Decoded::Other {
            src: String::new(),
            dst: String::new(),
            protocol: "Ethernet".into(),
            info: "IEEE 802.3 Ethernet ".into(),
        };
    }
    ether_type(ether, &data[14..], reported.saturating_sub(14), f)
}

/// What follows an Ethernet-style type field.
fn ether_type(ether: u16, data: &[u8], reported: usize, f: &mut Fragments) -> Decoded {
    match ether {
        0x0800 | 0x86dd => ip(data, reported, f),
        0x0806 | 0x8035 => arp(data),
        // VLAN tags (802.1Q, 802.1ad, and the old QinQ type): 4 bytes each.
        0x8100 | 0x88a8 | 0x9100 => match data.get(..4) {
            Some(tag) => {
                ether_type(u16::from_be_bytes([tag[2], tag[3]]), &data[4..], reported.saturating_sub(4), f)
            }
            None => short("VLAN tag"),
        },
        // PPPoE session: 6 bytes, then PPP's protocol field.
        0x8864 => match data.get(6..) {
            Some(rest) => ppp_protocol(rest, reported.saturating_sub(6), f),
            None => short("PPPoE header"),
        },
        // MPLS: labels of 4 bytes until the bottom of the stack, then IP.
        0x8847 | 0x8848 => {
            let mut at = 0;
            loop {
                let Some(label) = data.get(at..at + 4) else { return short("MPLS label") };
                at += 4;
                if label[2] & 0x01 != 0 {
                    break;
                }
            }
            match data.get(at).map(|b| b >> 4) {
                Some(4 | 6) => ip(&data[at..], reported.saturating_sub(at), f),
                _ => other("MPLS"),
            }
        }
        other_type => Decoded::Other {
            src: String::new(),
            dst: String::new(),
            protocol: format!("0x{other_type:04x}"),
            info: ether_type_name(other_type).into(),
        },
    }
}

/// Wireshark's names for ethertypes eco does not decode (the Info of such
/// a frame when nothing above Ethernet is decoded); "Ethernet II" for the
/// rest.
fn ether_type_name(ether: u16) -> &'static str {
    match ether {
        0x0842 => "Wake on LAN",
        0x08ff => "AX.25",
        0x6003 => "DEC DNA Routing",
        0x80f3 => "AARP",
        0x8863 => "PPPoE Discovery",
        0x886f => "MS NLB heartbeat",
        0x888e => "802.1X Authentication",
        0x8809 => "Slow Protocols",
        0x88a2 => "ATA over Ethernet",
        0x88ca => "Transparent Inter Process Communication",
        0x88cc => "802.1 Link Layer Discovery Protocol (LLDP)",
        0x88e5 => "802.1AE (MACsec)",
        0x88f7 => "PTPv2 over Ethernet (IEEE1588)",
        0x8902 => "IEEE 802.1ag Connectivity Fault Management (CFM) protocol",
        0x8947 => "GeoNetworking",
        0x894f => "Network Service Header",
        0x9000 => "Loopback",
        0xd28b => "Arista Timestamp",
        _ => "Ethernet II",
    }
}

/// PPP: an optional address and control byte (0xff 0x03), then the protocol.
fn ppp(data: &[u8], reported: usize, f: &mut Fragments) -> Decoded {
    match data.strip_prefix(&[0xff, 0x03]) {
        Some(rest) => ppp_protocol(rest, reported.saturating_sub(2), f),
        None => ppp_protocol(data, reported, f),
    }
}

fn ppp_protocol(data: &[u8], reported: usize, f: &mut Fragments) -> Decoded {
    // The protocol field is one byte when its low bit is set (RFC 1661).
    let (protocol, rest) = match data {
        [first, rest @ ..] if first & 1 == 1 => (u16::from(*first), rest),
        [high, low, rest @ ..] => (u16::from_be_bytes([*high, *low]), rest),
        _ => return short("PPP header"),
    };
    let header = data.len() - rest.len();
    match protocol {
        0x0021 | 0x0057 => ip(rest, reported.saturating_sub(header), f),
        _ => other("PPP"),
    }
}

/// Tunnels followed at most this deep (IP in IP in GRE ...).
const MAX_DEPTH: usize = 4;

fn ip(data: &[u8], reported: usize, f: &mut Fragments) -> Decoded {
    ip_at(data, reported, 0, f)
}

fn ip_at(data: &[u8], reported: usize, depth: usize, f: &mut Fragments) -> Decoded {
    let (ip, _) = match LaxIpSlice::from_slice(data) {
        Ok(ip) => ip,
        Err(error) => return malformed("?", "?", &error.to_string()),
    };
    let (src, mut dst) = (ip.source_addr(), ip.destination_addr());
    // A routing header with segments left names where the packet is
    // going in the end: Wireshark's destination (and connection).
    if let LaxIpSlice::Ipv6(v6) = &ip
        && let Some(last) = ipv6_final_destination(v6.header().next_header().0, v6.extensions().slice())
    {
        dst = last;
    }
    let payload = ip.payload();
    // The payload's length as the frame reports it: what the IP header
    // says (zero in an IPv4 header means "as captured": TSO and BIG TCP),
    // but never more than the frame's own length allows (as Wireshark's
    // IP dissector trims its buffer to the header's length only).
    // Where the payload starts (the bytes after it may be a link trailer).
    let header_len = match &ip {
        LaxIpSlice::Ipv4(v4) => v4.header().slice().len(),
        LaxIpSlice::Ipv6(v6) => v6.header().slice().len() + v6.extensions().slice().len(),
    };
    let room = reported.saturating_sub(header_len) as u32;
    let declared = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let header = v4.header();
            let total = u32::from(header.total_len());
            if total == 0 { None } else { Some(total.saturating_sub(header_len as u32)) }
        }
        LaxIpSlice::Ipv6(v6) => {
            let length = u32::from(v6.header().payload_length());
            let exts = v6.extensions().slice().len() as u32;
            if length == 0 { None } else { Some(length.saturating_sub(exts)) }
        }
    };
    let reported = declared.map_or(room, |declared| declared.min(room));
    let ttl = match &ip {
        LaxIpSlice::Ipv4(v4) => v4.header().ttl(),
        LaxIpSlice::Ipv6(v6) => v6.header().hop_limit(),
    };
    let v6 = src.is_ipv6();
    let (s, d) = (src.to_string(), dst.to_string());
    let protocol = payload.ip_number.0;
    let bytes = payload.payload;
    let Some(fragment) = fragment_of(&ip) else {
        return transport(Ip { src, dst, protocol, ttl, depth }, bytes, reported, false, f);
    };
    // A fragment: kept for reassembly when the capture has all of it (as
    // Wireshark does), and the datagram decoded once complete.
    let whole = declared.is_some_and(|declared| declared > 0 && declared as usize <= bytes.len());
    if whole {
        let key = Key { src, dst, protocol, id: fragment.id };
        let piece =
            Fragment { offset: fragment.offset, more: fragment.more, bytes: &bytes[..reported as usize] };
        if let Some(datagram) = f.add(key, piece) {
            let len = datagram.len() as u32;
            return transport(Ip { src, dst, protocol, ttl, depth }, &datagram, len, false, f);
        }
    } else if fragment.offset == 0 {
        // The first fragment, cut by the capture: its header is shown,
        // but the segment's length is unknown.
        return transport(Ip { src, dst, protocol, ttl, depth }, bytes, reported, true, f);
    }
    let info = if v6 {
        format!(
            "IPv6 fragment (off={} more={} ident=0x{:08x} nxt={protocol})",
            fragment.offset,
            if fragment.more { "y" } else { "n" },
            fragment.id
        )
    } else {
        format!(
            "Fragmented IP protocol (proto={} {protocol}, off={}, ID={:04x})",
            ip_protocol_name(protocol),
            fragment.offset,
            fragment.id
        )
    };
    Decoded::Other { src: s, dst: d, protocol: if v6 { "IPv6" } else { "IPv4" }.into(), info }
}

/// Where a fragment goes in its datagram.
struct FragmentOf {
    offset: usize,
    more: bool,
    id: u32,
}

/// The fragment fields of an IPv4 header or IPv6 fragment header, if
/// the packet is a fragment.
fn fragment_of(ip: &LaxIpSlice<'_>) -> Option<FragmentOf> {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let header = v4.header();
            let offset = usize::from(header.fragments_offset().value()) * 8;
            let more = header.more_fragments();
            (more || offset != 0).then(|| FragmentOf { offset, more, id: u32::from(header.identification()) })
        }
        LaxIpSlice::Ipv6(v6) => ipv6_fragment(v6.header().next_header().0, v6.extensions().slice()),
    }
}

/// The fragment header among IPv6 extension headers, walked by hand:
/// etherparse's iterator over a lax (possibly cut) extension slice trusts
/// lengths it has not checked, and the fuzzer found it reading past them.
fn ipv6_fragment(mut next: u8, mut exts: &[u8]) -> Option<FragmentOf> {
    loop {
        let len = match next {
            // Hop-by-hop, routing, destination options: 8-byte units after the first 8.
            0 | 43 | 60 => (usize::from(*exts.get(1)?) + 1) * 8,
            // Authentication header: 4-byte units, plus 2.
            51 => (usize::from(*exts.get(1)?) + 2) * 4,
            44 => {
                let header = exts.get(..8)?;
                let field = u16::from_be_bytes([header[2], header[3]]);
                let (offset, more) = (usize::from(field >> 3) * 8, field & 1 == 1);
                let id = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
                return (offset != 0 || more).then_some(FragmentOf { offset, more, id });
            }
            _ => return None,
        };
        next = *exts.first()?;
        exts = exts.get(len..)?;
    }
}

/// The final destination a routing header gives (types 0 and 2, and
/// segment routing's type 4), when segments are left to visit.
fn ipv6_final_destination(mut next: u8, mut exts: &[u8]) -> Option<IpAddr> {
    let address = |bytes: &[u8]| -> Option<IpAddr> { Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)) };
    loop {
        let len = match next {
            0 | 60 => (usize::from(*exts.get(1)?) + 1) * 8,
            51 => (usize::from(*exts.get(1)?) + 2) * 4,
            43 => {
                let len = (usize::from(*exts.get(1)?) + 1) * 8;
                let header = exts.get(..len)?;
                if header.get(3).copied().unwrap_or(0) == 0 {
                    return None; // no segment left: the destination is final
                }
                return match header[2] {
                    // Type 0: the addresses to visit, the last one last.
                    0 => {
                        let count = (len - 8) / 16;
                        address(header.get(8 + (count.checked_sub(1)?) * 16..8 + count * 16)?)
                    }
                    // Type 2 (Mobile IPv6): the home address. Type 4
                    // (segment routing): the list is in reverse, the
                    // final segment first.
                    2 | 4 => address(header.get(8..24)?),
                    _ => None,
                };
            }
            _ => return None,
        };
        next = *exts.first()?;
        exts = exts.get(len..)?;
    }
}

/// The IP packet around a transport header.
struct Ip {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ttl: u8,
    depth: usize,
}

/// The transport header after IP: `bytes` as captured, `reported` as the
/// lengths give it; `fragmented`: only the first fragment of a datagram
/// (so the segment's real length is unknown).
fn transport(ip: Ip, bytes: &[u8], reported: u32, fragmented: bool, f: &mut Fragments) -> Decoded {
    let Ip { src, dst, protocol, ttl, depth } = ip;
    let (s, d) = (src.to_string(), dst.to_string());
    let name = if src.is_ipv4() { "IPv4" } else { "IPv6" };
    match protocol {
        6 => {
            let mut decoded = tcp(src, dst, bytes, reported);
            if let (Decoded::Tcp(segment), true) = (&mut decoded, fragmented) {
                segment.seg_len = None;
            }
            decoded
        }
        17 => match bytes.get(..8) {
            Some(header) => Decoded::Udp {
                src: SocketAddr::new(src, u16::from_be_bytes([header[0], header[1]])),
                dst: SocketAddr::new(dst, u16::from_be_bytes([header[2], header[3]])),
                len: u32::from(u16::from_be_bytes([header[4], header[5]])).saturating_sub(8),
            },
            None => malformed(&s, &d, "UDP header cut short"),
        },
        1 | 58 => icmp(src, dst, bytes, protocol == 58, ttl),
        // IPv4 or IPv6 inside IP: Wireshark shows the inner packet.
        4 | 41 if depth < MAX_DEPTH => ip_at(bytes, reported as usize, depth + 1, f),
        // GRE: flags and version, the protocol, then optional fields.
        47 if depth < MAX_DEPTH => gre(bytes, reported as usize, depth, f).unwrap_or_else(|| {
            Decoded::Other { src: s, dst: d, protocol: "GRE".into(), info: String::new() }
        }),
        _ => {
            let info = match (src.is_ipv4(), ip_protocol_name(protocol)) {
                (true, name) => format!("{name} ({protocol})"),
                (false, "Unknown") => String::new(),
                (false, name) => format!("Unknown IP Protocol: {name} ({protocol})"),
            };
            Decoded::Other { src: s, dst: d, protocol: name.into(), info }
        }
    }
}

/// Wireshark's names for the IP protocols a capture shows most, for the
/// Info of a packet whose protocol eco does not decode.
fn ip_protocol_name(protocol: u8) -> &'static str {
    match protocol {
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        33 => "Datagram Congestion Control Protocol",
        41 => "IPv6",
        46 => "Reservation Protocol",
        47 => "Generic Routing Encapsulation",
        50 => "Encap Security Payload",
        51 => "Authentication Header",
        58 => "ICMPv6",
        62 => "Mobile IPv6 (old)",
        64 => "SATNET EXPAK",
        88 => "EIGRP",
        89 => "OSPF IGP",
        103 => "PIM",
        112 => "VRRP",
        113 => "PGM",
        132 => "SCTP",
        _ => "Unknown",
    }
}

fn gre(data: &[u8], reported: usize, depth: usize, f: &mut Fragments) -> Option<Decoded> {
    let flags = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
    let protocol = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]);
    // Checksum (and reserved), key, sequence number: 4 bytes each if present.
    let at = 4 + 4 * [0x8000u16, 0x2000, 0x1000].iter().filter(|bit| flags & **bit != 0).count();
    let inner = data.get(at..)?;
    match protocol {
        0x0800 | 0x86dd => Some(ip_at(inner, reported.saturating_sub(at), depth + 1, f)),
        _ => None,
    }
}

/// A TCP segment from `bytes` (what was captured of the IP payload) and
/// `reported` (what the frame's lengths say the IP payload is).
///
/// Written out rather than through etherparse's `TcpHeaderSlice`, which
/// refuses a header whose options a snapshot length cut: Wireshark shows
/// what was captured of it, and so does eco.
fn tcp(src: IpAddr, dst: IpAddr, bytes: &[u8], reported: u32) -> Decoded {
    let be16 = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    // Past the captured bytes: cut by the capture, or by the lengths.
    let short = |needed: usize| if needed as u32 > reported { Short::Malformed } else { Short::Capture };
    if bytes.len() < 4 {
        return malformed(&src.to_string(), &dst.to_string(), "TCP header cut short");
    }
    let (src, dst) = (SocketAddr::new(src, be16(0)), SocketAddr::new(dst, be16(2)));
    let mut segment = Segment {
        src,
        dst,
        seq: 0,
        ack: 0,
        flags: 0,
        window: 0,
        urgent: 0,
        hlen: 0,
        seg_len: None,
        options: Vec::new(),
        cut: None,
        tls: None,
    };
    if bytes.len() < 16 {
        segment.cut = Some(Cut::AfterPorts(short(16)));
        return Decoded::Tcp(segment);
    }
    segment.seq = be32(4);
    segment.ack = be32(8);
    segment.flags = (u16::from(bytes[12] & 0x0f) << 8) | u16::from(bytes[13]);
    segment.window = be16(14);
    segment.hlen = u32::from(bytes[12] >> 4) * 4;
    segment.seg_len = reported.checked_sub(segment.hlen);
    if segment.hlen < 20 {
        segment.cut = Some(Cut::Bogus);
        return Decoded::Tcp(segment);
    }
    if bytes.len() < 20 {
        segment.cut = Some(Cut::AfterWindow(short(20)));
        return Decoded::Tcp(segment);
    }
    segment.urgent = be16(18);
    let end = (segment.hlen as usize).min(bytes.len());
    let (options, cut) = options(&bytes[20..end], segment.hlen as usize - 20);
    segment.options = options;
    match cut {
        Some(Short::Malformed) => segment.cut = Some(Cut::InOptions(Short::Malformed)),
        Some(Short::Capture) => segment.cut = Some(Cut::InOptions(short(segment.hlen as usize))),
        None if end < segment.hlen as usize => {
            segment.cut = Some(Cut::InOptions(short(segment.hlen as usize)))
        }
        None => {}
    }
    if bytes.len() > segment.hlen as usize {
        segment.tls = super::tls::records(&bytes[segment.hlen as usize..]);
    }
    Decoded::Tcp(segment)
}

/// The options in header order, walked as Wireshark walks them: an
/// option it does not know is skipped by its length, and the walk goes on.
/// `bytes`: the options as captured; `declared`: their length as the
/// header gives it. Also says where the walk was cut short, and why.
pub fn options(mut bytes: &[u8], declared: usize) -> (Vec<TcpOpt>, Option<Short>) {
    let mut options = Vec::new();
    let mut room = declared;
    while let Some((&kind, rest)) = bytes.split_first().filter(|_| room > 0) {
        match kind {
            // End of options.
            0 => break,
            // No-operation: padding.
            1 => {
                bytes = rest;
                room -= 1;
                continue;
            }
            _ => {}
        }
        if room < 2 {
            break; // no room for a length: past the header
        }
        let Some(&len) = rest.first() else { return (options, Some(Short::Capture)) };
        let len = usize::from(len);
        if len < 2 || len > room {
            // A length that cannot be, or past the header: Wireshark
            // stops here too.
            break;
        }
        if kind == 5 && len < 10 {
            // A SACK option without room for one block: Wireshark calls
            // the segment malformed and reads no further.
            return (options, Some(Short::Malformed));
        }
        if len > bytes.len() {
            // Inside the header but cut by the capture: Wireshark has
            // begun this option's text before it runs out of bytes (of a
            // SACK, the whole blocks it has).
            match kind {
                19 => options.push(TcpOpt::Md5),
                29 => options.push(TcpOpt::Ao),
                5 => options.push(TcpOpt::Sack(blocks(&bytes[2..]))),
                _ => {}
            }
            return (options, Some(Short::Capture));
        }
        let body = &bytes[2..len];
        let be16 = |at: usize| body.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let be32 = |at: usize| body.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        // Wireshark shows an option only at the length its definition
        // gives (an MSS of six bytes is not shown, and the walk goes on).
        let option = match (kind, len) {
            (2, 4) => be16(0).map(TcpOpt::Mss),
            (3, 3) => body.first().map(|shift| TcpOpt::WindowScale(*shift)),
            (4, _) => Some(TcpOpt::SackPerm),
            (5, _) => Some(TcpOpt::Sack(blocks(body))),
            (6 | 7, 6) => be32(0).map(TcpOpt::Echo),
            (8, 10) => be32(0).zip(be32(4)).map(|(val, ecr)| TcpOpt::Timestamp { val, ecr }),
            (19, _) => Some(TcpOpt::Md5),
            (27, 8) => body.first().map(|b| TcpOpt::QuickStart(b & 0x0f)),
            (28, 4) => be16(0).map(|v| TcpOpt::UserTimeout(v & 0x7fff)),
            (29, _) => Some(TcpOpt::Ao),
            (34, _) => Some(TcpOpt::FastOpen { cookie: !body.is_empty() }),
            // Experimental: Fast Open before its number (magic 0xf989),
            // or an experiment's identifier.
            (253 | 254, 4..) => match be16(0) {
                Some(0xf989) => Some(TcpOpt::FastOpen { cookie: body.len() > 2 }),
                exid => exid.map(TcpOpt::Experimental),
            },
            // Accurate ECN, orders 0 (172) and 1 (174): 24-bit counters.
            (172 | 174, 2 | 5 | 8 | 11) => Some(TcpOpt::AccEcn {
                order1: kind == 174,
                counters: body.chunks_exact(3).map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]])).collect(),
            }),
            _ => Some(TcpOpt::Other),
        };
        options.extend(option);
        bytes = &bytes[len..];
        room -= len;
    }
    (options, None)
}

/// The whole (left, right) blocks of a SACK option's body.
fn blocks(body: &[u8]) -> Vec<(u32, u32)> {
    body.chunks_exact(8)
        .map(|b| (u32::from_be_bytes([b[0], b[1], b[2], b[3]]), u32::from_be_bytes([b[4], b[5], b[6], b[7]])))
        .collect()
}

fn icmp(src: IpAddr, dst: IpAddr, bytes: &[u8], v6: bool, ttl: u8) -> Decoded {
    let Some(&[kind, code, ..]) = bytes.get(..4).map(|b| <&[u8; 4]>::try_from(b).expect("4")) else {
        return malformed(&src.to_string(), &dst.to_string(), "ICMP header cut short");
    };
    let be16 = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let echo_like =
        if v6 { matches!(kind, 128 | 129) } else { matches!(kind, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) };
    let id_seq = if echo_like { be16(4).zip(be16(6)) } else { None };
    // Neighbor discovery (135 solicitation, 136 advertisement): a target.
    let target = if v6 && matches!(kind, 135 | 136) {
        bytes.get(8..24).map(|b| IpAddr::from(<[u8; 16]>::try_from(b).expect("16 bytes")))
    } else {
        None
    };
    let nd_flags = if v6 && kind == 136 { bytes.get(4).copied().unwrap_or(0) } else { 0 };
    // The first link-layer address option (types 1 and 2) of ND messages.
    let options_at = match kind {
        133 => 8,
        134 => 16,
        135 | 136 => 24,
        _ => usize::MAX,
    };
    let mut link_addr = None;
    if v6 && options_at != usize::MAX {
        let mut at = options_at;
        while let (Some(&t), Some(&l)) = (bytes.get(at), bytes.get(at + 1)) {
            if l == 0 {
                break;
            }
            if matches!(t, 1 | 2)
                && let Some(mac) = bytes.get(at + 2..at + 8)
            {
                link_addr = Some(<[u8; 6]>::try_from(mac).expect("6 bytes"));
                break;
            }
            at += usize::from(l) * 8;
        }
    }
    let checksum = be16(2).unwrap_or(0);
    Decoded::Icmp {
        src,
        dst,
        icmp: Icmp { v6, kind, code, checksum, id_seq, ttl, target, nd_flags, link_addr },
    }
}

fn arp(data: &[u8]) -> Decoded {
    // Ethernet and IPv4 addresses: hardware 1, protocol 0x0800, sizes 6 and 4.
    let Some(b) = data.get(..28) else { return malformed("", "", "ARP packet cut short") };
    if b[0..2] != [0, 1] || b[2..4] != [8, 0] || b[4] != 6 || b[5] != 4 {
        return other("ARP");
    }
    let mac = |at: usize| <[u8; 6]>::try_from(&b[at..at + 6]).expect("6 bytes");
    let ip4 = |at: usize| <[u8; 4]>::try_from(&b[at..at + 4]).expect("4 bytes");
    Decoded::Arp(Arp {
        operation: u16::from_be_bytes([b[6], b[7]]),
        sender_mac: mac(8),
        sender_ip: ip4(14),
        target_mac: mac(18),
        target_ip: ip4(24),
    })
}

fn malformed(src: &str, dst: &str, reason: &str) -> Decoded {
    Decoded::Malformed { src: src.into(), dst: dst.into(), reason: reason.into() }
}

fn short(what: &str) -> Decoded {
    malformed("", "", &format!("{what} cut short"))
}

fn other(protocol: &str) -> Decoded {
    Decoded::Other { src: String::new(), dst: String::new(), protocol: protocol.into(), info: String::new() }
}

/// `[SYN, ACK]`: the set flags in bit order, as Wireshark's Info column.
/// With `.1` (a connection that uses Accurate ECN), the AE, CWR and ECE
/// bits are one 3-bit counter, shown as `ACE=n`.
pub struct FlagList(pub u16, pub bool);

impl fmt::Display for FlagList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u16, &str); 6] =
            [(FIN, "FIN"), (SYN, "SYN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG")];
        const ECN: [(u16, &str); 3] = [(ECE, "ECE"), (CWR, "CWR"), (AE, "AE")];
        let FlagList(flags, ace) = *self;
        let set = |list: &[(u16, &'static str)]| -> Vec<String> {
            list.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| n.to_string()).collect()
        };
        let mut names = set(&NAMES);
        if ace {
            let counter = u16::from(flags & AE != 0) << 2
                | u16::from(flags & CWR != 0) << 1
                | u16::from(flags & ECE != 0);
            names.push(format!("ACE={counter}"));
        } else {
            names.extend(set(&ECN));
        }
        names.extend(set(&[(RESERVED, "Reserved")]));
        if names.is_empty() { f.write_str("[<None>]") } else { write!(f, "[{}]", names.join(", ")) }
    }
}

#[cfg(test)]
mod tests {
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    use super::*;

    /// An IP packet carrying one TCP segment, built by etherparse.
    fn tcp_packet(v6: bool, seq: u32, ack: u32, window: u16, payload: &[u8]) -> Vec<u8> {
        let builder = if v6 {
            PacketBuilder::ipv6([0xfe; 16], [0xfd; 16], 64)
        } else {
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        };
        let builder = builder
            .tcp(4000, 5050, seq, window)
            .ack(ack)
            .psh()
            .options(&[etherparse::TcpOptionElement::MaximumSegmentSize(1460)])
            .unwrap();
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    /// `ip` behind each link layer eco reads: (link type, frame).
    fn framings(ip: &[u8], v6: bool) -> Vec<(u32, Vec<u8>)> {
        let ether = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
        let with = |head: &[u8]| [head, ip].concat();
        let mac = [0u8; 12];
        vec![
            (linktype::ETHERNET, with(&[&mac[..], &ether].concat())),
            // 802.1Q, then 802.1ad + 802.1Q (QinQ).
            (linktype::ETHERNET, with(&[&mac[..], &[0x81, 0, 0, 7], &ether].concat())),
            (linktype::ETHERNET, with(&[&mac[..], &[0x88, 0xa8, 0, 1, 0x81, 0, 0, 2], &ether].concat())),
            // Double VLAN + PPPoE session + PPP (IPv4 0x0021, IPv6 0x0057).
            (
                linktype::ETHERNET,
                with(
                    &[
                        &mac[..],
                        &[0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x88, 0x64, 0x11, 0, 0, 1, 0, 0],
                        &ppp_proto(v6),
                    ]
                    .concat(),
                ),
            ),
            // MPLS, one label (bottom of stack).
            (linktype::ETHERNET, with(&[&mac[..], &[0x88, 0x47, 0, 0, 0x11, 64]].concat())),
            // BSD loopback: AF_INET 2 / AF_INET6 24 in host order, and OpenBSD's in network order.
            (linktype::NULL, with(&(if v6 { 24u32 } else { 2 }).to_le_bytes())),
            (linktype::LOOP, with(&(if v6 { 24u32 } else { 2 }).to_be_bytes())),
            (linktype::RAW, ip.to_vec()),
            (linktype::RAW_12, ip.to_vec()),
            (linktype::RAW_14, ip.to_vec()),
            (if v6 { linktype::IPV6 } else { linktype::IPV4 }, ip.to_vec()),
            // Linux cooked v1 with hardware type 772 (loopback): `tcpdump -i any`.
            (linktype::LINUX_SLL, with(&[&[0, 0, 0x03, 0x04, 0, 6][..], &[0; 8], &ether].concat())),
            // Linux cooked v2: protocol first.
            (
                linktype::LINUX_SLL2,
                with(&[&ether[..], &[0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6], &[0; 8]].concat()),
            ),
            (linktype::PPP, with(&[&[0xff, 0x03][..], &ppp_proto(v6)].concat())),
            (linktype::PPP_HDLC, with(&ppp_proto(v6))),
            (linktype::C_HDLC, with(&[&[0x0f, 0x00][..], &ether].concat())),
        ]
    }

    fn ppp_proto(v6: bool) -> [u8; 2] {
        if v6 { [0x00, 0x57] } else { [0x00, 0x21] }
    }

    proptest! {
        /// Every link layer gives the same segment back, field by field.
        #[test]
        fn every_link_type_decodes_the_segment(
            v6 in any::<bool>(), seq in any::<u32>(), ack in any::<u32>(), window in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let ip = tcp_packet(v6, seq, ack, window, &payload);
            for (link, frame) in framings(&ip, v6) {
                let decoded = decode(link, &frame, frame.len() as u32);
                let Decoded::Tcp(segment) = decoded else {
                    return Err(TestCaseError::fail(format!("link {link}: {decoded:?}")));
                };
                prop_assert_eq!((segment.src.port(), segment.dst.port()), (4000, 5050));
                prop_assert_eq!((segment.seq, segment.ack, segment.window), (seq, ack, window));
                prop_assert_eq!(segment.flags, PSH | ACK);
                prop_assert_eq!(segment.seg_len, Some(payload.len() as u32));
                prop_assert_eq!(&segment.options, &vec![TcpOpt::Mss(1460)]);
                prop_assert_eq!(segment.cut, None);
            }
        }

        /// A snapshot length anywhere: the length on the wire still gives
        /// Len, the header is read as far as it was kept, and nothing panics.
        #[test]
        fn a_frame_cut_anywhere_keeps_its_length(
            v6 in any::<bool>(), payload in proptest::collection::vec(any::<u8>(), 0..100), cut in any::<prop::sample::Index>(),
        ) {
            let ip = tcp_packet(v6, 1, 2, 3, &payload);
            let (link, frame) = framings(&ip, v6).swap_remove(0);
            let at = cut.index(frame.len() + 1);
            let header_end = 14 + if v6 { 40 } else { 20 } + 24;
            match decode(link, &frame[..at], frame.len() as u32) {
                Decoded::Tcp(segment) => {
                    // Known once the fields up to the window were kept
                    // (what Wireshark reads before it shows any of them).
                    let offset_kept = at >= header_end - 24 + 16;
                    let expected = offset_kept.then_some(payload.len() as u32);
                    prop_assert_eq!(segment.seg_len, expected);
                    prop_assert_eq!(segment.cut.is_some(), at < header_end);
                }
                other => prop_assert!(at < header_end, "cut at {}: {:?}", at, other),
            }
        }

        /// Any bytes under any link type: a result, never a panic.
        #[test]
        fn any_bytes_decode_without_panic(link in 0u32..300, data in proptest::collection::vec(any::<u8>(), 0..200), extra in 0u32..100) {
            let _ = decode(link, &data, data.len() as u32 + extra);
        }
    }

    #[test]
    fn ip_fragments_are_reassembled_across_frames() {
        // One 60-byte TCP segment in three IPv4 fragments (offsets 0, 24, 48).
        let whole = tcp_packet(false, 7, 8, 9, &[0xab; 36]);
        let (header, tcp) = whole.split_at(20);
        let mut decoder = Decoder::default();
        let pieces = [(0, &tcp[..24], true), (24, &tcp[24..48], true), (48, &tcp[48..], false)];
        let mut results = Vec::new();
        for (offset, bytes, more) in pieces {
            let mut ip = header.to_vec();
            let total = (20 + bytes.len()) as u16;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            let flags_offset = (u16::from(more) << 13) | (offset / 8) as u16;
            ip[6..8].copy_from_slice(&flags_offset.to_be_bytes());
            ip.extend_from_slice(bytes);
            results.push(decoder.decode(linktype::RAW, &ip, ip.len() as u32));
        }
        assert!(
            matches!(&results[0], Decoded::Other { info, .. } if info.starts_with("Fragmented IP protocol (proto=TCP 6, off=0, ID=")),
            "{:?}",
            results[0]
        );
        assert!(
            matches!(&results[1], Decoded::Other { info, .. } if info.contains("off=24")),
            "{:?}",
            results[1]
        );
        let Decoded::Tcp(segment) = &results[2] else { panic!("{:?}", results[2]) };
        assert_eq!((segment.seq, segment.ack, segment.seg_len), (7, 8, Some(36)));
    }

    #[test]
    fn options_cut_by_the_capture_or_past_the_header() {
        // MSS, then an MD5 option whose 18 bytes the capture cut.
        let bytes = [2, 4, 5, 0xb4, 19, 18, 1, 2];
        assert_eq!(options(&bytes, 24), (vec![TcpOpt::Mss(1460), TcpOpt::Md5], Some(Short::Capture)));
        // The same option running past the header's end: not a cut.
        assert_eq!(options(&bytes, 8), (vec![TcpOpt::Mss(1460)], None));
        // An option Wireshark does not show does not stop the walk.
        let bytes = [30, 4, 0, 0, 3, 3, 7, 0];
        assert_eq!(options(&bytes, 8), (vec![TcpOpt::Other, TcpOpt::WindowScale(7)], None));
    }

    #[test]
    fn the_link_type_field_s_fcs_bits_are_not_the_link_type() {
        assert!(linktype::known(linktype::LINUX_SLL2));
        assert!(!linktype::known(281));
    }
}
