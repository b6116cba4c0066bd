//! The traced programs' socket calls beside their packets: which
//! connection each call belongs to, which frame it caused or answered,
//! and how it reads (`cliente.py: send(55) → 55 bytes, frame 4`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use super::flow::{ConnKey, Row};
use super::packet::{ACK, FIN, RST, SYN};
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
    /// The frame it is tied to is a reset (a close with unread data, or
    /// with SO_LINGER 0, sends RST instead of FIN).
    pub reset: bool,
}

/// The rows of one connection, indexed for placing calls.
struct Stream<'r> {
    /// In capture order (and so in time order, as captured on `lo`).
    rows: Vec<&'r Row>,
    /// Per sending address: where each data segment starts (relative
    /// sequence number) → its frame and length; first transmission only.
    data: HashMap<SocketAddr, BTreeMap<u32, (usize, u32)>>,
}

impl<'r> Stream<'r> {
    fn new(rows: Vec<&'r Row>) -> Stream<'r> {
        let mut data: HashMap<SocketAddr, BTreeMap<u32, (usize, u32)>> = HashMap::new();
        for row in &rows {
            if let Some(tcp) = row.tcp()
                && tcp.seg.payload_len() > 0
            {
                data.entry(tcp.seg.src)
                    .or_default()
                    .entry(tcp.seq)
                    .or_insert((row.no, tcp.seg.payload_len()));
            }
        }
        Stream { rows, data }
    }

    fn first_ts(&self) -> Option<Duration> {
        self.rows.first().map(|r| r.ts)
    }

    /// The frame that carried byte `seq` (relative) sent from `from`.
    fn carrying(&self, from: SocketAddr, seq: u32) -> Option<usize> {
        let (start, (no, len)) = self.data.get(&from)?.range(..=seq).next_back()?;
        (seq < start.wrapping_add(*len)).then_some(*no)
    }

    /// The first row at or after `at` that `wanted` takes.
    fn after(&self, at: Duration, wanted: impl Fn(&Row) -> bool) -> Option<usize> {
        let from = self.rows.partition_point(|r| r.ts < at);
        self.rows[from..].iter().find(|r| wanted(r)).map(|r| r.no)
    }

    /// The last row before `at` that `wanted` takes.
    fn before(&self, at: Duration, wanted: impl Fn(&Row) -> bool) -> Option<usize> {
        let to = self.rows.partition_point(|r| r.ts < at);
        self.rows[..to].iter().rev().find(|r| wanted(r)).map(|r| r.no)
    }
}

/// Places every call among the analysed rows. Each step is a lookup (a
/// program that makes a million calls is placed in seconds).
pub fn place<'a>(
    calls: &'a [Call],
    socks: &HashMap<u64, Sock>,
    rows: &[Row],
    labels: &'a [String],
) -> Vec<Placed<'a>> {
    // Each connection's rows, and its streams (ports may be reused) in order.
    let mut rows_of: HashMap<u32, Vec<&Row>> = HashMap::new();
    let mut streams: HashMap<ConnKey, Vec<u32>> = HashMap::new();
    for row in rows {
        if let Some(tcp) = row.tcp() {
            let list = rows_of.entry(tcp.stream).or_default();
            if list.is_empty() {
                streams.entry(tcp.conn).or_default().push(tcp.stream);
            }
            list.push(row);
        }
    }
    let indexed: HashMap<u32, Stream> = rows_of.into_iter().map(|(s, rows)| (s, Stream::new(rows))).collect();
    let first_ts = |stream: u32| indexed.get(&stream).and_then(Stream::first_ts);
    let stream_of = |sock: &Sock, at: Duration| -> Option<u32> {
        let (local, peer) = (sock.known_local()?, sock.peer?);
        let key = if local <= peer { ConnKey(local, peer) } else { ConnKey(peer, local) };
        let list = streams.get(&key)?;
        // The last stream that began before the call (or the first).
        list.iter().rev().find(|&&s| first_ts(s).is_some_and(|ts| ts <= at)).or(list.first()).copied()
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
                .filter_map(|s| Some((first_ts(s)?, s)))
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
    // Bytes each socket sent and received before each call, counted in
    // time order: a send's first byte, a receive's last one, name the
    // frame exactly (timestamps alone drift under load).
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| calls[i].at);
    let mut offsets = vec![0u64; calls.len()];
    let mut counted: HashMap<(u64, bool), u64> = HashMap::new();
    for &i in &order {
        let call = &calls[i];
        let (sending, n) = match (&call.op, call.result) {
            (Op::Send { .. }, Ok(n)) if n > 0 => (true, n as u64),
            (Op::Recv { .. }, Ok(n)) if n > 0 => (false, n as u64),
            _ => continue,
        };
        let total = counted.entry((call.socket, sending)).or_default();
        offsets[i] = *total;
        *total += n;
    }
    let mut placed: Vec<Placed> = calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let sock = socks.get(&call.socket);
            let stream = sock
                .and_then(|s| stream_of(s, call.at))
                .or_else(|| claimed.get(&call.socket).copied())
                .or_else(|| first_accepted.get(&call.socket).copied());
            // The local end: known, or the other end of the claimed connection.
            let local = sock.and_then(Sock::known_local).or_else(|| {
                let stream = claimed.get(&call.socket)?;
                let key = indexed.get(stream)?.rows.first()?.tcp()?.conn;
                let peer = sock?.peer?;
                Some(if key.0 == peer { key.1 } else { key.0 })
            });
            let peer = sock.and_then(|s| s.peer);
            let frame = match (stream.and_then(|s| indexed.get(&s)), local, sock) {
                (Some(rows), Some(local), _) => tie(call, local, peer, offsets[i], rows),
                (None, _, Some(sock)) if sock.datagram && stream.is_none() => {
                    sock.local.and_then(|local| tie_datagram(call, local, rows))
                }
                _ => None,
            };
            let label = labels.get(call.program).map_or("?", String::as_str);
            let reset = frame
                .and_then(|no| rows.get(no.wrapping_sub(1)).filter(|r| r.no == no))
                .and_then(Row::tcp)
                .is_some_and(|t| t.seg.flags & RST != 0);
            Placed { call, stream, frame, label, local, reset }
        })
        .collect();
    // A close() sends FIN only if it was the socket's last descriptor (a
    // forking server's parent closes its copy while the child goes on; a
    // program closes a dup()), and shutdown(SHUT_WR) sends it at once.
    // When the socket was used between the close and the FIN, the FIN
    // was not this close's.
    let mut times: HashMap<u64, Vec<Duration>> = HashMap::new();
    for call in calls {
        times.entry(call.socket).or_default().push(call.at);
    }
    for list in times.values_mut() {
        list.sort_unstable();
    }
    let ts_of = |no: usize| rows.get(no.wrapping_sub(1)).filter(|r| r.no == no).map(|r| r.ts);
    let not_theirs: Vec<usize> = placed
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.call.op, Op::Close | Op::Shutdown(_)))
        .filter_map(|(i, p)| {
            let fin = ts_of(p.frame?)?;
            let list = times.get(&p.call.socket)?;
            let after = list.partition_point(|t| *t <= p.call.at);
            list.get(after).is_some_and(|t| *t < fin).then_some(i)
        })
        .collect();
    for i in not_theirs {
        placed[i].frame = None;
    }
    placed
}

/// The frame a call caused or answered, in its connection. `offset`: the
/// bytes this socket sent (send) or received (recv) before the call.
fn tie(
    call: &Call,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    offset: u64,
    stream: &Stream,
) -> Option<usize> {
    let from_us = |r: &Row| r.tcp().is_some_and(|t| t.seg.src == local);
    let has = |r: &Row, flags: u16| r.tcp().is_some_and(|t| t.seg.flags & flags != 0);
    let data = |r: &Row| r.tcp().is_some_and(|t| t.seg.payload_len() > 0);
    match (&call.op, call.result) {
        (Op::Connect(_), _) => stream.after(call.at, |r| from_us(r) && has(r, SYN)),
        (Op::Send { .. }, Ok(n)) if n > 0 => {
            // Its first byte: relative sequence numbers start at 1.
            let byte = stream.carrying(local, (offset as u32).wrapping_add(1));
            byte.or_else(|| stream.after(call.at, |r| from_us(r) && data(r)))
        }
        // Shutting down the reading side sends nothing.
        (Op::Shutdown(libc::SHUT_RD), _) => None,
        (Op::Close | Op::Shutdown(_), Ok(_)) => stream.after(call.at, |r| from_us(r) && has(r, FIN | RST)),
        (Op::Recv { .. }, Ok(0)) => stream.before(call.at, |r| !from_us(r) && has(r, FIN)),
        (Op::Recv { .. }, Ok(n)) => {
            // Its last byte.
            let byte = peer.and_then(|peer| stream.carrying(peer, (offset + n as u64) as u32));
            byte.or_else(|| stream.before(call.at, |r| !from_us(r) && data(r)))
        }
        // The handshake's last ACK: the peer's first plain ACK.
        (Op::Accept(_), Ok(_)) => stream
            .after(Duration::ZERO, |r| !from_us(r) && !data(r) && has(r, ACK) && !has(r, SYN | FIN | RST)),
        _ => None,
    }
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
        let Placed { call, frame, label, reset, .. } = self.0;
        let what = match (&call.op, call.result) {
            (op, Err(errno)) => format!("{} → {errno:?} ({})", signature(op), errno.desc()),
            (Op::Socket { .. } | Op::Accept(None), Ok(fd)) => {
                format!("{} → descriptor {fd}", signature(&call.op))
            }
            (Op::Accept(Some(peer)), Ok(fd)) => {
                format!("accept() → descriptor {fd}: a connection from {peer}")
            }
            (Op::Send { .. }, Ok(n)) => format!("{} → {n} {}", signature(&call.op), bytes(n)),
            (Op::Recv { .. }, Ok(0)) => format!("{} returned 0: the peer's FIN", signature(&call.op)),
            (Op::Recv { .. }, Ok(n)) => format!("{} returned {n} {}", signature(&call.op), bytes(n)),
            (op, Ok(n)) => format!("{} → {n}", signature(op)),
        };
        let tied = match (&call.op, frame) {
            (_, None) => String::new(),
            (Op::Connect(_), Some(f)) => format!(", SYN: frame {f}"),
            (Op::Close | Op::Shutdown(_), Some(f)) if *reset => format!(", RST: frame {f}"),
            (Op::Close | Op::Shutdown(_), Some(f)) => format!(", FIN: frame {f}"),
            (_, Some(f)) => format!(" (frame {f})"),
        };
        format!("{label}: {what}{tied}")
    }

    fn pt(&self) -> String {
        let Placed { call, frame, label, reset, .. } = self.0;
        let what = match (&call.op, call.result) {
            (op, Err(errno)) => format!("{} → {errno:?}", signature(op)),
            (Op::Socket { .. } | Op::Accept(None), Ok(fd)) => {
                format!("{} → descritor {fd}", signature(&call.op))
            }
            (Op::Accept(Some(peer)), Ok(fd)) => format!("accept() → descritor {fd}: uma conexão de {peer}"),
            (Op::Send { .. }, Ok(n)) => format!("{} → {n} {}", signature(&call.op), bytes(n)),
            (Op::Recv { .. }, Ok(0)) => format!("{} devolveu 0: o FIN do outro lado", signature(&call.op)),
            (Op::Recv { .. }, Ok(n)) => format!("{} devolveu {n} {}", signature(&call.op), bytes(n)),
            (op, Ok(n)) => format!("{} → {n}", signature(op)),
        };
        let tied = match (&call.op, frame) {
            (_, None) => String::new(),
            (Op::Connect(_), Some(f)) => format!(", SYN: quadro {f}"),
            (Op::Close | Op::Shutdown(_), Some(f)) if *reset => format!(", RST: quadro {f}"),
            (Op::Close | Op::Shutdown(_), Some(f)) => format!(", FIN: quadro {f}"),
            (_, Some(f)) => format!(" (quadro {f})"),
        };
        format!("{label}: {what}{tied}")
    }
}

/// "byte" or "bytes" (the same word in Portuguese).
fn bytes(n: i64) -> &'static str {
    crate::i18n::plural(n.unsigned_abs(), "byte", "bytes")
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
        Op::SetOpt { name, value } => format!("setsockopt({name}, {value})"),
        Op::Close => "close()".into(),
    }
}
