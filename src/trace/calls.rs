//! The traced programs' socket calls beside their packets: which
//! connection each call belongs to, which frame it caused or answered,
//! and how it reads (`cliente.py: send(55) → 55 bytes, frame 4`).

use std::collections::HashMap;
use std::net::SocketAddr;

use super::flow::{ConnKey, Row};
use super::packet::{FIN, RST, SYN};
use super::syscalls::{Call, Op, Sock};
use crate::i18n::Sentences;

/// A call, placed: its connection and the frame it is tied to.
pub struct Placed<'a> {
    pub call: &'a Call,
    /// The TCP connection (`tcp.stream`) it belongs to, if any.
    pub stream: Option<u32>,
    /// The frame it caused (connect: the SYN; send: the data; close,
    /// shutdown: the FIN) or answered (accept, recv).
    pub frame: Option<usize>,
    /// The program's name.
    pub label: &'a str,
    /// The socket's own address (its side of the connection), if known.
    pub local: Option<SocketAddr>,
}

/// Places every call among the analysed rows.
pub fn place<'a>(
    calls: &'a [Call],
    socks: &HashMap<u64, Sock>,
    rows: &[Row],
    labels: &'a [String],
) -> Vec<Placed<'a>> {
    // Each connection's streams (ports may be reused), in order.
    let mut streams: HashMap<ConnKey, Vec<u32>> = HashMap::new();
    for row in rows {
        if let Some(tcp) = row.tcp() {
            let list = streams.entry(tcp.conn).or_default();
            if !list.contains(&tcp.stream) {
                list.push(tcp.stream);
            }
        }
    }
    let by_stream = |stream: u32| rows.iter().filter(move |r| r.tcp().is_some_and(|t| t.stream == stream));
    let stream_of = |sock: &Sock, at: std::time::Duration| -> Option<u32> {
        let (local, peer) = (sock.known_local()?, sock.peer?);
        let key = if local <= peer { ConnKey(local, peer) } else { ConnKey(peer, local) };
        let list = streams.get(&key)?;
        // The last stream that began before the call (or the first).
        list.iter()
            .rev()
            .find(|&&s| by_stream(s).next().is_some_and(|r| r.ts <= at))
            .or(list.first())
            .copied()
    };
    // A connect() that failed leaves its socket without a local address:
    // its connection is the first one to the same peer after the call.
    let mut claimed: HashMap<u64, u32> = HashMap::new();
    for call in calls {
        let Some(sock) = socks.get(&call.socket) else { continue };
        if let (Op::Connect(_), None, Some(peer)) = (&call.op, sock.known_local(), sock.peer) {
            let first_after = streams
                .iter()
                .filter(|(key, _)| key.0 == peer || key.1 == peer)
                .flat_map(|(_, list)| list.iter().copied())
                .filter(|s| !claimed.values().any(|c| c == s))
                .filter_map(|s| Some((by_stream(s).next()?.ts, s)))
                .filter(|(ts, _)| *ts >= call.at)
                .min();
            if let Some((_, stream)) = first_after {
                claimed.insert(call.socket, stream);
            }
        }
    }
    // A listening socket's calls go with its first accepted connection.
    let mut first_accepted: HashMap<u64, u32> = HashMap::new();
    for call in calls {
        if let (Op::Accept(_), Some(sock)) = (&call.op, socks.get(&call.socket))
            && let (Some(listener), Some(stream)) = (sock.listener, stream_of(sock, call.at))
        {
            first_accepted.entry(listener).or_insert(stream);
        }
    }
    let mut placed: Vec<Placed> = calls
        .iter()
        .map(|call| {
            let sock = socks.get(&call.socket);
            let stream = sock
                .and_then(|s| stream_of(s, call.at))
                .or_else(|| claimed.get(&call.socket).copied())
                .or_else(|| first_accepted.get(&call.socket).copied());
            // The local end: known, or the other end of the claimed connection.
            let local = sock.and_then(Sock::known_local).or_else(|| {
                let stream = claimed.get(&call.socket)?;
                let key = by_stream(*stream).next()?.tcp()?.conn;
                let peer = sock?.peer?;
                Some(if key.0 == peer { key.1 } else { key.0 })
            });
            let frame = match (stream, local, sock) {
                (Some(stream), Some(local), _) => tie(call, local, by_stream(stream)),
                (None, _, Some(sock)) if sock.datagram => {
                    sock.local.and_then(|local| tie_datagram(call, local, rows))
                }
                _ => None,
            };
            let label = labels.get(call.program).map_or("?", String::as_str);
            Placed { call, stream, frame, label, local }
        })
        .collect();
    // A close() sends FIN only if it was the socket's last descriptor: a
    // forking server's parent closes its copy while the child still uses
    // it. When another process used the socket between the close and
    // the FIN, that FIN was not this close's.
    let ts_of = |no: usize| rows.get(no.wrapping_sub(1)).filter(|r| r.no == no).map(|r| r.ts);
    let shared: Vec<usize> = placed
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.call.op, Op::Close))
        .filter_map(|(i, p)| {
            let fin = ts_of(p.frame?)?;
            let used = calls
                .iter()
                .any(|c| c.socket == p.call.socket && c.pid != p.call.pid && c.at > p.call.at && c.at < fin);
            used.then_some(i)
        })
        .collect();
    for i in shared {
        placed[i].frame = None;
    }
    placed
}

/// The frame a call caused or answered, among its connection's rows.
fn tie<'r>(call: &Call, local: SocketAddr, mut rows: impl Iterator<Item = &'r Row>) -> Option<usize> {
    let from_us = |r: &Row| r.tcp().is_some_and(|t| t.seg.src == local);
    let has = |r: &Row, flags: u16| r.tcp().is_some_and(|t| t.seg.flags & flags != 0);
    let data = |r: &Row| r.tcp().is_some_and(|t| t.seg.payload_len() > 0);
    let after = |r: &Row| r.ts >= call.at;
    let frame = match (&call.op, call.result) {
        (Op::Connect(_), _) => rows.find(|r| after(r) && from_us(r) && has(r, SYN)),
        (Op::Send { .. }, Ok(n)) if n > 0 => rows.find(|r| after(r) && from_us(r) && data(r)),
        (Op::Close | Op::Shutdown(_), Ok(_)) => rows.find(|r| after(r) && from_us(r) && has(r, FIN | RST)),
        (Op::Recv { .. }, Ok(0)) => rows.filter(|r| !after(r) && !from_us(r) && has(r, FIN)).last(),
        (Op::Recv { .. }, Ok(_)) => rows.filter(|r| !after(r) && !from_us(r) && data(r)).last(),
        (Op::Accept(_), Ok(_)) => rows.filter(|r| !after(r) && !from_us(r) && !data(r)).last(),
        _ => None,
    };
    frame.map(|r| r.no)
}

/// The datagram a send on a UDP socket caused, or the one a receive got.
fn tie_datagram(call: &Call, local: SocketAddr, rows: &[Row]) -> Option<usize> {
    let ours = |r: &Row, sent: bool| match &r.info {
        super::flow::Info::Udp { sport, dport, .. } => {
            let (ip, port) = if sent { (&r.src, *sport) } else { (&r.dst, *dport) };
            port == local.port() && (local.ip().is_unspecified() || *ip == local.ip().to_string())
        }
        _ => false,
    };
    let frame = match (&call.op, call.result) {
        (Op::Send { .. }, Ok(n)) if n > 0 => rows.iter().find(|r| r.ts >= call.at && ours(r, true)),
        (Op::Recv { .. }, Ok(_)) => rows.iter().rev().find(|r| r.ts < call.at && ours(r, false)),
        _ => None,
    };
    frame.map(|r| r.no)
}

/// How a placed call reads in the table.
pub struct Line<'a>(pub &'a Placed<'a>);

impl Sentences for Line<'_> {
    fn en(&self) -> String {
        let Placed { call, frame, label, .. } = self.0;
        let what = match (&call.op, call.result) {
            (op, Err(errno)) => format!("{} → {errno:?} ({})", signature(op), errno.desc()),
            (Op::Socket { .. } | Op::Accept(None), Ok(fd)) => {
                format!("{} → descriptor {fd}", signature(&call.op))
            }
            (Op::Accept(Some(peer)), Ok(fd)) => {
                format!("accept() → descriptor {fd}: a connection from {peer}")
            }
            (Op::Send { .. }, Ok(n)) => format!("{} → {n} bytes", signature(&call.op)),
            (Op::Recv { .. }, Ok(0)) => format!("{} returned 0: the peer's FIN", signature(&call.op)),
            (Op::Recv { .. }, Ok(n)) => format!("{} returned {n} bytes", signature(&call.op)),
            (op, Ok(n)) => format!("{} → {n}", signature(op)),
        };
        let tied = match (&call.op, frame) {
            (_, None) => String::new(),
            (Op::Connect(_), Some(f)) => format!(", SYN: frame {f}"),
            (Op::Close | Op::Shutdown(_), Some(f)) => format!(", FIN: frame {f}"),
            (_, Some(f)) => format!(" (frame {f})"),
        };
        format!("{label}: {what}{tied}")
    }

    fn pt(&self) -> String {
        let Placed { call, frame, label, .. } = self.0;
        let what = match (&call.op, call.result) {
            (op, Err(errno)) => format!("{} → {errno:?}", signature(op)),
            (Op::Socket { .. } | Op::Accept(None), Ok(fd)) => {
                format!("{} → descritor {fd}", signature(&call.op))
            }
            (Op::Accept(Some(peer)), Ok(fd)) => format!("accept() → descritor {fd}: uma conexão de {peer}"),
            (Op::Send { .. }, Ok(n)) => format!("{} → {n} bytes", signature(&call.op)),
            (Op::Recv { .. }, Ok(0)) => format!("{} devolveu 0: o FIN do outro lado", signature(&call.op)),
            (Op::Recv { .. }, Ok(n)) => format!("{} devolveu {n} bytes", signature(&call.op)),
            (op, Ok(n)) => format!("{} → {n}", signature(op)),
        };
        let tied = match (&call.op, frame) {
            (_, None) => String::new(),
            (Op::Connect(_), Some(f)) => format!(", SYN: quadro {f}"),
            (Op::Close | Op::Shutdown(_), Some(f)) => format!(", FIN: quadro {f}"),
            (_, Some(f)) => format!(" (quadro {f})"),
        };
        format!("{label}: {what}{tied}")
    }
}

/// The call as a program wrote it (`recv(1024)`, `connect(127.0.0.1:5050)`).
pub fn signature(op: &Op) -> String {
    let addr = |a: &Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    match op {
        Op::Socket { v6, datagram } => format!(
            "socket({}, {})",
            if *v6 { "AF_INET6" } else { "AF_INET" },
            if *datagram { "SOCK_DGRAM" } else { "SOCK_STREAM" }
        ),
        Op::Bind(a) => format!("bind({})", addr(a)),
        Op::Listen(backlog) => format!("listen({backlog})"),
        Op::Accept(_) => "accept()".into(),
        Op::Connect(a) => format!("connect({})", addr(a)),
        Op::Send { name, len } | Op::Recv { name, len } => format!("{name}({len})"),
        Op::Shutdown(how) => {
            let how = match *how {
                libc::SHUT_RD => "SHUT_RD",
                libc::SHUT_WR => "SHUT_WR",
                _ => "SHUT_RDWR",
            };
            format!("shutdown({how})")
        }
        Op::Close => "close()".into(),
    }
}
