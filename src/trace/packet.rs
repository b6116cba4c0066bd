//! Decoding one captured frame into the TCP fields the table shows.
//!
//! Header parsing is etherparse's (`SlicedPacket`, checked slices over the
//! bytes); this file only picks the fields. It never panics: a truncated or
//! malformed frame decodes to [`Decoded::Malformed`] with etherparse's reason,
//! and is printed as such.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use etherparse::{LaxNetSlice, LaxSlicedPacket, NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};

/// What the first bytes of a frame are (the pcap "link type").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// An Ethernet header (LINKTYPE_ETHERNET, 1): what `lo` gives on Linux.
    Ethernet,
    /// The IP header directly (LINKTYPE_RAW, 101, or 228/229).
    RawIp,
    /// Linux "cooked" capture v1 (LINKTYPE_LINUX_SLL, 113): `tcpdump -i any`.
    LinuxSll,
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
pub const AE: u16 = 0x100;

/// A TCP option, as far as the Info column shows options.
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
}

/// The fields of one TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    /// The raw 16-bit window field (not yet scaled).
    pub window: u16,
    pub urgent: u16,
    /// Payload bytes (the "Len" of Wireshark).
    pub len: u32,
    pub options: Vec<TcpOpt>,
}

impl Segment {
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// Sequence space used: payload, plus one for SYN and one for FIN.
    pub fn seg_len(&self) -> u32 {
        self.len + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }

    pub fn window_shift(&self) -> Option<u8> {
        self.options.iter().find_map(|o| match o {
            TcpOpt::WindowScale(shift) => Some(*shift),
            _ => None,
        })
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Tcp(Segment),
    /// A well-formed frame of another protocol (named as Wireshark would).
    Other {
        src: String,
        dst: String,
        protocol: &'static str,
    },
    /// Too short or inconsistent to decode: the addresses, if the IP header
    /// could be read, and the reason.
    Malformed {
        src: String,
        dst: String,
        reason: String,
    },
}

pub fn decode(link: Link, data: &[u8]) -> Decoded {
    let sliced = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(data),
        Link::RawIp => SlicedPacket::from_ip(data),
        Link::LinuxSll => SlicedPacket::from_linux_sll(data),
    };
    let packet = match sliced {
        Ok(packet) => packet,
        Err(error) => return malformed(link, data, error.to_string()),
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match &packet.net {
        Some(NetSlice::Ipv4(ip)) => (ip.header().source_addr().into(), ip.header().destination_addr().into()),
        Some(NetSlice::Ipv6(ip)) => (ip.header().source_addr().into(), ip.header().destination_addr().into()),
        Some(NetSlice::Arp(_)) => return other("ARP", "", ""),
        None => return malformed(link, data, "no IP header".into()),
    };
    let tcp = match &packet.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        Some(TransportSlice::Udp(_)) => return other("UDP", &src_ip.to_string(), &dst_ip.to_string()),
        Some(TransportSlice::Icmpv4(_)) => return other("ICMP", &src_ip.to_string(), &dst_ip.to_string()),
        Some(TransportSlice::Icmpv6(_)) => return other("ICMPv6", &src_ip.to_string(), &dst_ip.to_string()),
        Some(TransportSlice::Igmp(_)) => return other("IGMP", &src_ip.to_string(), &dst_ip.to_string()),
        None => return other("IP", &src_ip.to_string(), &dst_ip.to_string()),
    };
    let flags = [
        (tcp.fin(), FIN),
        (tcp.syn(), SYN),
        (tcp.rst(), RST),
        (tcp.psh(), PSH),
        (tcp.ack(), ACK),
        (tcp.urg(), URG),
        (tcp.ece(), ECE),
        (tcp.cwr(), CWR),
        (tcp.ns(), AE),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |acc, (_, bit)| acc | bit);
    let mut options = Vec::new();
    for option in tcp.options_iterator() {
        match option {
            Ok(TcpOptionElement::MaximumSegmentSize(mss)) => options.push(TcpOpt::Mss(mss)),
            Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => options.push(TcpOpt::SackPerm),
            Ok(TcpOptionElement::Timestamp(val, ecr)) => options.push(TcpOpt::Timestamp { val, ecr }),
            Ok(TcpOptionElement::WindowScale(shift)) => options.push(TcpOpt::WindowScale(shift)),
            Ok(TcpOptionElement::SelectiveAcknowledgement(first, rest)) => {
                options.push(TcpOpt::Sack(std::iter::once(first).chain(rest.into_iter().flatten()).collect()))
            }
            Ok(TcpOptionElement::Noop) => {}
            // An option eco does not know ends the list, as for Wireshark's
            // Info column, which shows only the options it decodes.
            Err(_) => break,
        }
    }
    Decoded::Tcp(Segment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        urgent: tcp.urgent_pointer(),
        len: tcp.payload().len() as u32,
        options,
    })
}

/// A frame that did not decode, with the addresses of its IP header when
/// that much is there (etherparse's lax parser reads a truncated packet).
fn malformed(link: Link, data: &[u8], reason: String) -> Decoded {
    let lax = match link {
        Link::Ethernet => LaxSlicedPacket::from_ethernet(data).ok(),
        Link::RawIp => LaxSlicedPacket::from_ip(data).ok(),
        Link::LinuxSll => None,
    };
    let (src, dst) = match lax.and_then(|p| p.net) {
        Some(LaxNetSlice::Ipv4(ip)) => {
            (ip.header().source_addr().to_string(), ip.header().destination_addr().to_string())
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            (ip.header().source_addr().to_string(), ip.header().destination_addr().to_string())
        }
        _ => ("?".into(), "?".into()),
    };
    Decoded::Malformed { src, dst, reason }
}

fn other(protocol: &'static str, src: &str, dst: &str) -> Decoded {
    Decoded::Other { src: src.into(), dst: dst.into(), protocol }
}

/// `[SYN, ACK]`: the set flags in bit order, as Wireshark's Info column.
pub struct FlagList(pub u16);

impl fmt::Display for FlagList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u16, &str); 9] = [
            (FIN, "FIN"),
            (SYN, "SYN"),
            (RST, "RST"),
            (PSH, "PSH"),
            (ACK, "ACK"),
            (URG, "URG"),
            (ECE, "ECE"),
            (CWR, "CWR"),
            (AE, "AE"),
        ];
        let names: Vec<&str> = NAMES.iter().filter(|(bit, _)| self.0 & bit != 0).map(|(_, n)| *n).collect();
        if names.is_empty() { f.write_str("[<None>]") } else { write!(f, "[{}]", names.join(", ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_in_bit_order() {
        assert_eq!(FlagList(SYN | ACK).to_string(), "[SYN, ACK]");
        assert_eq!(FlagList(FIN | PSH | ACK).to_string(), "[FIN, PSH, ACK]");
        assert_eq!(FlagList(SYN | ECE | CWR).to_string(), "[SYN, ECE, CWR]");
        assert_eq!(FlagList(0).to_string(), "[<None>]");
    }

    #[test]
    fn a_truncated_frame_is_malformed_not_a_panic() {
        assert!(matches!(decode(Link::Ethernet, &[0u8; 20]), Decoded::Malformed { .. }));
        assert!(matches!(decode(Link::RawIp, &[]), Decoded::Malformed { .. }));
    }

    mod properties {
        use super::*;
        use etherparse::PacketBuilder;
        use proptest::prelude::*;

        /// A segment as a real frame: Ethernet, IPv4 or IPv6, TCP, payload.
        #[allow(clippy::too_many_arguments)]
        fn frame(
            v6: bool,
            sport: u16,
            dport: u16,
            seq: u32,
            ack: Option<u32>,
            flags: u16,
            window: u16,
            options: &[TcpOptionElement],
            payload: &[u8],
        ) -> Vec<u8> {
            let eth = PacketBuilder::ethernet2([0; 6], [0; 6]);
            let ip = if v6 {
                let lo = std::net::Ipv6Addr::LOCALHOST.octets();
                eth.ipv6(lo, lo, 64)
            } else {
                eth.ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            };
            let mut tcp = ip.tcp(sport, dport, seq, window);
            if flags & FIN != 0 {
                tcp = tcp.fin();
            }
            if flags & SYN != 0 {
                tcp = tcp.syn();
            }
            if flags & RST != 0 {
                tcp = tcp.rst();
            }
            if flags & PSH != 0 {
                tcp = tcp.psh();
            }
            if let Some(ack) = ack {
                tcp = tcp.ack(ack);
            }
            let tcp = tcp.options(options).expect("options fit");
            let mut out = Vec::new();
            tcp.write(&mut out, payload).expect("write frame");
            out
        }

        fn option() -> impl Strategy<Value = TcpOptionElement> {
            prop_oneof![
                any::<u16>().prop_map(TcpOptionElement::MaximumSegmentSize),
                (0u8..15).prop_map(TcpOptionElement::WindowScale),
                Just(TcpOptionElement::SelectiveAcknowledgementPermitted),
                (any::<u32>(), any::<u32>()).prop_map(|(a, b)| TcpOptionElement::Timestamp(a, b)),
            ]
        }

        proptest! {
            #[test]
            fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), link in 0u8..3) {
                let link = [Link::Ethernet, Link::RawIp, Link::LinuxSll][link as usize];
                let _ = decode(link, &bytes);
            }

            #[test]
            fn a_built_segment_decodes_to_its_fields(
                v6 in any::<bool>(), sport in 1u16.., dport in 1u16.., seq in any::<u32>(),
                ack in proptest::option::of(any::<u32>()), flags in 0u16..16, window in any::<u16>(),
                options in proptest::collection::vec(option(), 0..3),
                payload in proptest::collection::vec(any::<u8>(), 0..100),
            ) {
                let bytes = frame(v6, sport, dport, seq, ack, flags, window, &options, &payload);
                let Decoded::Tcp(seg) = decode(Link::Ethernet, &bytes) else { panic!("not decoded") };
                prop_assert_eq!(seg.src.port(), sport);
                prop_assert_eq!(seg.dst.port(), dport);
                prop_assert_eq!(seg.seq, seq);
                prop_assert_eq!(seg.ack, ack.unwrap_or(0));
                prop_assert_eq!(seg.flags, flags | if ack.is_some() { ACK } else { 0 });
                prop_assert_eq!(seg.window, window);
                prop_assert_eq!(seg.len as usize, payload.len());
                prop_assert_eq!(seg.options.len(), options.len());
            }

            #[test]
            fn a_truncated_frame_never_panics_and_never_claims_more_payload(
                payload in proptest::collection::vec(any::<u8>(), 0..100), cut in 0usize..200,
            ) {
                let bytes = frame(false, 1000, 5050, 1, Some(1), PSH, 512, &[], &payload);
                let cut = cut.min(bytes.len());
                if let Decoded::Tcp(seg) = decode(Link::Ethernet, &bytes[..cut]) {
                    prop_assert!(seg.len as usize <= payload.len());
                }
            }

            #[test]
            fn analysis_of_any_segments_numbers_rows_and_never_panics(
                segments in proptest::collection::vec(
                    (any::<bool>(), any::<u32>(), any::<u32>(), 0u16..0x200, any::<u16>(), 0u32..3000), 0..40),
            ) {
                let mut analyzer = crate::trace::flow::Analyzer::default();
                for (i, (forward, seq, ack, flags, window, len)) in segments.into_iter().enumerate() {
                    let (a, b) = (SocketAddr::from(([127, 0, 0, 1], 4000)), SocketAddr::from(([127, 0, 0, 1], 5050)));
                    let (src, dst) = if forward { (a, b) } else { (b, a) };
                    let seg = Segment { src, dst, seq, ack, flags, window, urgent: 0, len, options: Vec::new() };
                    let row = analyzer.push(std::time::Duration::from_micros(i as u64), 66, Decoded::Tcp(seg));
                    prop_assert_eq!(row.no, i + 1);
                    let expected = format!(" Len={len}");
                    prop_assert!(row.info.to_string().contains(&expected), "{}", row.info);
                }
            }
        }
    }
}
