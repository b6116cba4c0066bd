//! The PROXY protocol (HAProxy's): a balancer that forwards a TCP
//! connection first sends one header naming the client it forwards for,
//! in text (v1, `PROXY TCP4 203.0.113.7 10.0.0.5 51234 5050\r\n`) or binary
//! (v2, a 12-byte signature, then the addresses and optional TLVs). The
//! `ppp` crate parses and builds both; this file finds where a header ends
//! in a byte stream, and turns it into addresses.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The first 12 bytes of every v2 header.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The start of every v1 header.
const V1_PREFIX: &[u8] = b"PROXY ";
/// A v1 header is at most 107 bytes, CRLF included (the specification).
const V1_MAX: usize = 107;
/// v2 headers eco accepts: 16 bytes, then addresses and TLVs. The
/// specification allows 64 KiB of TLVs; balancers send a few hundred bytes.
pub const V2_MAX: usize = 16 + 2048;

/// The two versions, as `--proxy-protocol` names them on the client side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Version {
    V1,
    V2,
}

/// What the first bytes of a connection are.
#[derive(Debug)]
pub enum Scan {
    /// Too few bytes to tell yet.
    More,
    /// No PROXY header: the bytes are the client's own.
    Absent,
    /// A complete header, `len` bytes long.
    Header { len: usize, header: Header },
    /// A header that can never be valid, and why.
    Malformed(String),
}

/// What is wrong with the start of a connection that should carry a
/// header (told in the refusal, in both languages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyProblem {
    /// The peer is not one of `--proxy-from`.
    Untrusted,
    /// The connection began with these bytes (as text or hex).
    NoHeader(String),
    /// It began with a TLS Client Hello: a TLS client, no balancer.
    TlsHello,
    /// A header that cannot be valid (the parser's words).
    Malformed(String),
    /// v2 declaring a datagram (UDP) connection over TCP, or the reverse.
    WrongTransport,
    /// No complete header within this many seconds.
    Timeout(u64),
    /// The connection closed before a complete header.
    Closed,
    Io(String),
}

impl crate::i18n::Sentences for ProxyProblem {
    fn en(&self) -> String {
        match self {
            ProxyProblem::Untrusted => "not one of --proxy-from".into(),
            ProxyProblem::NoHeader(start) => format!("the connection began with {start}"),
            ProxyProblem::TlsHello => "a TLS Client Hello came first: a TLS client, not a balancer".into(),
            ProxyProblem::Malformed(why) => format!("malformed: {why}"),
            ProxyProblem::WrongTransport => "a v2 header for another transport (TCP / UDP)".into(),
            ProxyProblem::Timeout(secs) => format!("no complete header within {secs} s"),
            ProxyProblem::Closed => "the connection closed before a complete header".into(),
            ProxyProblem::Io(error) => error.clone(),
        }
    }

    fn pt(&self) -> String {
        match self {
            ProxyProblem::Untrusted => "não é um dos --proxy-from".into(),
            ProxyProblem::NoHeader(start) => format!("a conexão começou com {start}"),
            ProxyProblem::TlsHello => {
                "veio primeiro um Client Hello TLS: um cliente TLS, não um balanceador".into()
            }
            ProxyProblem::Malformed(why) => format!("malformado: {why}"),
            ProxyProblem::WrongTransport => "um cabeçalho v2 de outro transporte (TCP / UDP)".into(),
            ProxyProblem::Timeout(secs) => format!("nenhum cabeçalho completo em {secs} s"),
            ProxyProblem::Closed => "a conexão fechou antes de um cabeçalho completo".into(),
            ProxyProblem::Io(error) => error.clone(),
        }
    }
}

/// A parser's message as part of a sentence: `header length ...`, not
/// `Header length ... .`
fn phrase(text: &str) -> String {
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    /// v2's declared transport: `true` for a datagram (UDP) connection.
    pub datagram: bool,
    /// The original client and the address it connected to; `None` for a
    /// v2 LOCAL header or v1 `UNKNOWN` (the balancer's own health check:
    /// the connection speaks for itself).
    pub addresses: Option<(SocketAddr, SocketAddr)>,
    /// v2 type-length-values, as (type, value).
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

/// Looks at the first bytes a connection sent.
pub fn scan(bytes: &[u8]) -> Scan {
    if bytes.starts_with(V2_SIGNATURE) {
        if bytes.len() < 16 {
            return Scan::More;
        }
        let len = 16 + usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
        if len > V2_MAX {
            return Scan::Malformed(format!("a v2 header of {len} bytes (eco takes at most {V2_MAX})"));
        }
        if bytes.len() < len {
            return Scan::More;
        }
        match ppp::v2::Header::try_from(&bytes[..len]) {
            Ok(header) => Scan::Header { len, header: from_v2(&header) },
            Err(error) => Scan::Malformed(phrase(&error.to_string())),
        }
    } else if bytes.starts_with(V1_PREFIX) {
        if let Some(lf) = bytes.iter().position(|&b| b == b'\n')
            && (lf == 0 || bytes[lf - 1] != b'\r')
        {
            return Scan::Malformed("a v1 header ends with CRLF, not a bare LF".into());
        }
        let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") else {
            return if bytes.len() >= V1_MAX {
                Scan::Malformed(format!("a v1 header without CRLF in its first {V1_MAX} bytes"))
            } else {
                Scan::More
            };
        };
        let len = end + 2;
        if len > V1_MAX {
            return Scan::Malformed(format!("a v1 header of {len} bytes (at most {V1_MAX})"));
        }
        match ppp::v1::Header::try_from(&bytes[..len]) {
            Ok(header) => Scan::Header { len, header: from_v1(&header) },
            Err(error) => Scan::Malformed(phrase(&error.to_string())),
        }
    } else if V2_SIGNATURE.starts_with(bytes) || V1_PREFIX.starts_with(bytes) {
        // Empty, or a beginning of either: wait for more.
        Scan::More
    } else {
        Scan::Absent
    }
}

fn from_v1(header: &ppp::v1::Header) -> Header {
    use ppp::v1::Addresses;
    let addresses = match header.addresses {
        Addresses::Tcp4(a) => Some((
            SocketAddr::new(a.source_address.into(), a.source_port),
            SocketAddr::new(a.destination_address.into(), a.destination_port),
        )),
        Addresses::Tcp6(a) => Some((
            SocketAddr::new(a.source_address.into(), a.source_port),
            SocketAddr::new(a.destination_address.into(), a.destination_port),
        )),
        Addresses::Unknown => None,
    };
    Header { version: Version::V1, datagram: false, addresses, tlvs: Vec::new() }
}

fn from_v2(header: &ppp::v2::Header) -> Header {
    use ppp::v2::{Addresses, Command};
    let addresses = match (header.command, header.addresses) {
        (Command::Local, _) => None,
        (Command::Proxy, Addresses::IPv4(a)) => Some((
            SocketAddr::new(a.source_address.into(), a.source_port),
            SocketAddr::new(a.destination_address.into(), a.destination_port),
        )),
        (Command::Proxy, Addresses::IPv6(a)) => Some((
            SocketAddr::new(a.source_address.into(), a.source_port),
            SocketAddr::new(a.destination_address.into(), a.destination_port),
        )),
        // UNIX sockets and unspecified families carry no IP client.
        (Command::Proxy, _) => None,
    };
    let tlvs = header.tlvs().filter_map(Result::ok).map(|tlv| (tlv.kind, tlv.value.into_owned())).collect();
    let datagram = header.protocol == ppp::v2::Protocol::Datagram;
    Header { version: Version::V2, datagram, addresses, tlvs }
}

/// The header a balancer would send for a connection from `source` to
/// `destination` (an IPv4 address beside an IPv6 one is written as
/// ::ffff:a.b.c.d: a header has one family).
pub fn build(version: Version, source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let (source, destination) = same_family(source, destination);
    match version {
        Version::V1 => {
            let addresses = match (source.ip(), destination.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    ppp::v1::Addresses::new_tcp4(s, d, source.port(), destination.port())
                }
                _ => ppp::v1::Addresses::new_tcp6(
                    v6(source.ip()),
                    v6(destination.ip()),
                    source.port(),
                    destination.port(),
                ),
            };
            addresses.to_string().into_bytes()
        }
        Version::V2 => {
            use ppp::v2::{Builder, Command, Protocol, Version};
            Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, (source, destination))
                .build()
                .expect("a header of two addresses fits in memory")
        }
    }
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(ip) => ip.to_ipv6_mapped(),
        IpAddr::V6(ip) => ip,
    }
}

fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a.is_ipv4() == b.is_ipv4() {
        (a, b)
    } else {
        (SocketAddr::new(v6(a.ip()).into(), a.port()), SocketAddr::new(v6(b.ip()).into(), b.port()))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        })
    }
}

/// TLVs as the log shows them: `type=value` with printable values as text
/// (an authority, a unique id) and the others in hex.
pub fn tlvs_text(tlvs: &[(u8, Vec<u8>)]) -> String {
    tlvs.iter()
        .map(|(kind, value)| match std::str::from_utf8(value) {
            Ok(text) if text.chars().all(|c| !c.is_control()) => format!("0x{kind:02x}={text}"),
            _ => format!("0x{kind:02x}={}", value.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn built_headers_scan_back_to_their_addresses_with_the_data_after_them() {
        for version in [Version::V1, Version::V2] {
            for (s, d) in [("203.0.113.7:51234", "10.0.0.5:5050"), ("[2001:db8::1]:4000", "[::1]:5050")] {
                let mut bytes = build(version, addr(s), addr(d));
                let len = bytes.len();
                bytes.extend_from_slice(b"\xffdata");
                match scan(&bytes) {
                    Scan::Header { len: got, header } => {
                        assert_eq!(got, len);
                        assert_eq!(header.version, version);
                        assert_eq!(header.addresses, Some((addr(s), addr(d))));
                    }
                    other => panic!("{version}: {other:?}"),
                }
                // Every strict beginning asks for more.
                for cut in 0..len {
                    assert!(matches!(scan(&bytes[..cut]), Scan::More), "{version} cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn mixed_families_are_written_as_ipv6() {
        let bytes = build(Version::V1, addr("192.0.2.1:1"), addr("[::1]:2"));
        assert_eq!(bytes, b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
    }

    #[test]
    fn data_that_is_no_header_and_broken_headers_are_told_apart() {
        assert!(matches!(scan(b"hello"), Scan::Absent));
        assert!(matches!(scan(b"PROXY"), Scan::More));
        assert!(matches!(scan(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), Scan::Header { .. }));
        assert!(matches!(scan(b"PROXY TCP4 nonsense 5.6.7.8 1 2\r\n"), Scan::Malformed(_)));
        assert!(matches!(scan(&[b'P', b'R', b'O', b'X', b'Y', b' ', b'x'].repeat(20)), Scan::Malformed(_)));
        assert!(matches!(
            scan(b"PROXY UNKNOWN\r\n"),
            Scan::Header { header: Header { addresses: None, .. }, .. }
        ));
        // A bare LF is no CRLF: refused at once, not waited on.
        assert!(matches!(scan(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), Scan::Malformed(_)));
        let dgram = build(Version::V2, addr("192.0.2.1:1"), addr("192.0.2.2:2"));
        assert!(matches!(scan(&dgram), Scan::Header { header: Header { datagram: false, .. }, .. }));
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0x00, 0x02, 1, 2]);
        assert!(matches!(scan(&v2), Scan::Malformed(_)));
    }
}
