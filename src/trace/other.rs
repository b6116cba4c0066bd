//! The Info column of frames that are not TCP, as tshark 4.0 writes it
//! with every protocol above TCP and UDP disabled: UDP ports and length,
//! ICMP and ICMPv6 messages, ARP questions and answers.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use super::packet::{Arp, Icmp};

/// An ICMP message, with the frame of the request an echo reply answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpRow {
    pub icmp: Icmp,
    pub request_in: Option<usize>,
}

/// Remembers echo requests, so that a reply can name its request's frame
/// (tshark's "(request in N)": one pass, so only replies look back).
///
/// Like Wireshark, a reply is paired by its identifier, its sequence
/// number and its checksum: a reply's checksum is its request's changed
/// for the type field alone (8 → 0 for ICMP, 128 → 129 for ICMPv6), so a
/// reply whose payload differs from its request's pairs with nothing.
#[derive(Debug, Default)]
pub struct Echoes {
    requests: HashMap<(bool, IpAddr, IpAddr, u16, u16, u16), usize>,
}

/// Requests remembered at most; the oldest are forgotten past it.
const MAX_ECHOES: usize = 65_536;

/// `~(~a + b)` in ones' complement arithmetic: the checksum `a` once a
/// 16-bit word of the message changes by `b` (RFC 1624).
fn checksum_changed(a: u16, b: u16) -> u16 {
    let sum = u32::from(!a) + u32::from(b);
    let folded = (sum & 0xffff) + (sum >> 16);
    let key = !(folded as u16);
    // Wireshark keeps 0 for "no key": a key of 0 becomes 0xffff.
    if key == 0 { 0xffff } else { key }
}

impl Echoes {
    /// The row of `icmp` from `src` to `dst`, in frame `no`.
    pub fn see(&mut self, no: usize, src: IpAddr, dst: IpAddr, icmp: Icmp) -> IcmpRow {
        let request = if icmp.v6 { icmp.kind == 128 } else { icmp.kind == 8 };
        let reply = if icmp.v6 { icmp.kind == 129 } else { icmp.kind == 0 };
        let mut request_in = None;
        if let Some((id, seq)) = icmp.id_seq {
            // The key both sides agree on: for ICMP the request's checksum
            // turned into its reply's, for ICMPv6 the other way round.
            if request {
                let key = if icmp.v6 { icmp.checksum } else { checksum_changed(icmp.checksum, !0x0800) };
                if self.requests.len() >= MAX_ECHOES {
                    self.requests.clear();
                }
                // A new request with the same key takes the place of the old.
                self.requests.insert((icmp.v6, src, dst, id, seq, key), no);
            } else if reply {
                let key = if icmp.v6 { checksum_changed(icmp.checksum, !0x0100) } else { icmp.checksum };
                request_in = self.requests.get(&(icmp.v6, dst, src, id, seq, key)).copied();
            }
        }
        IcmpRow { icmp, request_in }
    }
}

impl fmt::Display for IcmpRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.icmp;
        if i.v6 {
            return self.fmt_v6(f);
        }
        let kind = v4_kind(i.kind);
        write!(f, "{kind:<20}")?;
        if let Some(code) = v4_code(i.kind, i.code) {
            write!(f, " ({code})")?;
        }
        if let Some((id, seq)) = i.id_seq {
            write!(f, " id=0x{id:04x}, seq={seq}/{}, ttl={}", seq.swap_bytes(), i.ttl)?;
        }
        if let Some(request) = self.request_in {
            write!(f, " (request in {request})")?;
        }
        Ok(())
    }
}

impl IcmpRow {
    fn fmt_v6(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.icmp;
        let mac = i.link_addr.map(Mac);
        match i.kind {
            128 | 129 => {
                let (id, seq) = i.id_seq.unwrap_or_default();
                let kind = if i.kind == 128 { "request" } else { "reply" };
                write!(f, "Echo (ping) {kind} id=0x{id:04x}, seq={seq}, hop limit={}", i.ttl)?;
                if let Some(request) = self.request_in {
                    write!(f, " (request in {request})")?;
                }
                Ok(())
            }
            133 | 134 => {
                f.write_str(if i.kind == 133 { "Router Solicitation" } else { "Router Advertisement" })?;
                match mac {
                    Some(mac) => write!(f, " from {mac}"),
                    None => Ok(()),
                }
            }
            135 => {
                f.write_str("Neighbor Solicitation")?;
                if let Some(target) = i.target {
                    write!(f, " for {target}")?;
                }
                match mac {
                    Some(mac) => write!(f, " from {mac}"),
                    None => Ok(()),
                }
            }
            136 => {
                f.write_str("Neighbor Advertisement")?;
                if let Some(target) = i.target {
                    write!(f, " {target}")?;
                }
                let names: Vec<&str> = [(0x80, "rtr"), (0x40, "sol"), (0x20, "ovr")]
                    .iter()
                    .filter(|(bit, _)| i.nd_flags & bit != 0)
                    .map(|(_, name)| *name)
                    .collect();
                if !names.is_empty() {
                    write!(f, " ({})", names.join(", "))?;
                }
                match mac {
                    Some(mac) => write!(f, " is at {mac}"),
                    None => Ok(()),
                }
            }
            kind => {
                f.write_str(v6_kind(kind))?;
                match v6_code(kind, i.code) {
                    Some(code) => write!(f, " ({code})"),
                    None => Ok(()),
                }
            }
        }
    }
}

fn v4_kind(kind: u8) -> &'static str {
    match kind {
        0 => "Echo (ping) reply",
        3 => "Destination unreachable",
        4 => "Source quench (flow control)",
        5 => "Redirect",
        8 => "Echo (ping) request",
        9 => "Router advertisement",
        10 => "Router solicitation",
        11 => "Time-to-live exceeded",
        12 => "Parameter problem",
        13 => "Timestamp request",
        14 => "Timestamp reply",
        15 => "Information request",
        16 => "Information reply",
        17 => "Address mask request",
        18 => "Address mask reply",
        42 => "Extended Echo request",
        43 => "Extended Echo reply",
        _ => "Unknown ICMP (obsolete or malformed?)",
    }
}

fn v4_code(kind: u8, code: u8) -> Option<&'static str> {
    Some(match (kind, code) {
        (3, 0) => "Network unreachable",
        (3, 1) => "Host unreachable",
        (3, 2) => "Protocol unreachable",
        (3, 3) => "Port unreachable",
        (3, 4) => "Fragmentation needed",
        (3, 5) => "Source route failed",
        (3, 6) => "Destination network unknown",
        (3, 7) => "Destination host unknown",
        (3, 8) => "Source host isolated",
        (3, 9) => "Network administratively prohibited",
        (3, 10) => "Host administratively prohibited",
        (3, 11) => "Network unreachable for TOS",
        (3, 12) => "Host unreachable for TOS",
        (3, 13) => "Communication administratively filtered",
        (3, 14) => "Host precedence violation",
        (3, 15) => "Precedence cutoff in effect",
        (5, 0) => "Redirect for network",
        (5, 1) => "Redirect for host",
        (5, 2) => "Redirect for TOS and network",
        (5, 3) => "Redirect for TOS and host",
        (11, 0) => "Time to live exceeded in transit",
        (11, 1) => "Fragment reassembly time exceeded",
        (12, 0) => "Pointer indicates the error",
        (12, 1) => "Required option missing",
        (12, 2) => "Bad length",
        (42 | 43, 0) => "No error",
        _ => return None,
    })
}

fn v6_kind(kind: u8) -> &'static str {
    match kind {
        1 => "Destination Unreachable",
        2 => "Packet Too Big",
        3 => "Time Exceeded",
        4 => "Parameter Problem",
        130 => "Multicast Listener Query",
        131 => "Multicast Listener Report",
        132 => "Multicast Listener Done",
        137 => "Redirect",
        138 => "Router Renumbering",
        139 => "Node Information Query",
        140 => "Node Information Reply",
        143 => "Multicast Listener Report Message v2",
        155 => "RPL Control",
        160 => "Extended Echo request",
        161 => "Extended Echo reply",
        _ => "Unknown",
    }
}

fn v6_code(kind: u8, code: u8) -> Option<&'static str> {
    Some(match (kind, code) {
        (1, 0) => "no route to destination",
        (1, 1) => "Administratively prohibited",
        (1, 3) => "Address unreachable",
        (1, 4) => "Port unreachable",
        (3, 0) => "hop limit exceeded in transit",
        (3, 1) => "fragment reassembly time exceeded",
        (138, 0) => "Command",
        (138, 1) => "Result",
        (139, 0) => "Query subject = IPv6 addresses",
        (139, 1) => "Query subject = Domain name",
        (139, 2) => "Query subject = IPv4 addresses",
        (140, 0) => "Successful",
        (140, 1) => "Refused",
        (140, 2) => "Unknown query type",
        (160 | 161, 0) => "No error",
        _ => return None,
    })
}

/// A MAC address as Wireshark writes it (`00:0c:29:25:cf:a1`).
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// An ARP packet, and whether its sender's address was seen before with
/// another hardware address (Wireshark's "duplicate use ... detected!").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpRow {
    pub arp: Arp,
    pub duplicate: bool,
}

/// The hardware address each IPv4 address was first seen with, in ARP
/// senders: a second one for the same address is a duplicate (two hosts
/// claim it, or one spoofs it).
#[derive(Debug, Default)]
pub struct ArpTable {
    seen: HashMap<[u8; 4], [u8; 6]>,
}

/// Addresses remembered at most; the table starts over past it.
const MAX_ARP: usize = 65_536;

impl ArpTable {
    pub fn see(&mut self, arp: Arp) -> ArpRow {
        let mut duplicate = false;
        if arp.sender_ip != [0; 4] {
            if self.seen.len() >= MAX_ARP {
                self.seen.clear();
            }
            let first = *self.seen.entry(arp.sender_ip).or_insert(arp.sender_mac);
            duplicate = first != arp.sender_mac;
        }
        ArpRow { arp, duplicate }
    }
}

impl fmt::Display for ArpRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.arp.fmt(f)?;
        if self.duplicate {
            write!(f, " (duplicate use of {} detected!)", std::net::Ipv4Addr::from(self.arp.sender_ip))?;
        }
        Ok(())
    }
}

impl fmt::Display for Arp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = |b: [u8; 4]| std::net::Ipv4Addr::from(b);
        let (sender, target) = (ip(self.sender_ip), ip(self.target_ip));
        match self.operation {
            // A host telling its own address: to no one in particular (an
            // announcement, RFC 5227) or to whoever asked.
            1 if sender == target && self.target_mac == [0; 6] => write!(f, "ARP Announcement for {sender}"),
            1 if sender == target => write!(f, "Gratuitous ARP for {sender} (Request)"),
            1 => write!(f, "Who has {target}? Tell {sender}"),
            2 if sender == target => write!(f, "Gratuitous ARP for {sender} (Reply)"),
            2 => write!(f, "{sender} is at {}", Mac(self.sender_mac)),
            3 => write!(f, "Who is {}? Tell {}", Mac(self.target_mac), Mac(self.sender_mac)),
            4 => write!(f, "{} is at {target}", Mac(self.target_mac)),
            other => write!(f, "Unknown ARP opcode 0x{other:04x}"),
        }
    }
}
