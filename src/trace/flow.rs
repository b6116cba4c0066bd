//! From segments to the rows of the table, as Wireshark shows them.
//!
//! Wireshark does not print sequence numbers as they are on the wire: it
//! subtracts each direction's first number (the ISN), scales the window
//! once both SYNs agreed on a scale, and marks segments that repeat or skip
//! data. This file keeps that state per connection and direction and
//! computes, for each segment, the relative numbers and the analysis
//! [`Tags`]: the analysis is data ([`TcpRow`]). The Info column is its
//! `Display`, exactly as tshark 4.0 prints it for TCP; the phases, the
//! JSON output and diagrams read the same fields.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use lru::LruCache;
use serde::Serialize;

use super::other::{ArpRow, ArpTable, Echoes, IcmpRow, Mac};
use super::packet::{ACK, AE, CWR, Decoded, Decoder, ECE, FIN, FlagList, RST, SYN, Segment, TcpOpt, URG};
use super::stamp::Stamp;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Frame number, from 1.
    pub no: usize,
    /// Since the first frame (negative when the capture's clock went
    /// back); `None` for a record without a timestamp.
    pub time: Option<Stamp>,
    /// Absolute capture time (since the Unix epoch), to merge with events.
    pub ts: Duration,
    pub src: String,
    pub dst: String,
    /// The Protocol column: `TCP`, `UDP`, `ICMP`, `ARP`, ...
    pub protocol: String,
    /// Frame length in bytes.
    pub length: u32,
    /// What the row says; its `Display` is the Info column.
    pub info: Info,
}

impl Row {
    /// The TCP analysis of this row, if it is a TCP segment.
    pub fn tcp(&self) -> Option<&TcpRow> {
        match &self.info {
            Info::Tcp(tcp) => Some(tcp),
            _ => None,
        }
    }
}

/// The Info column of a row, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Info {
    Tcp(Box<TcpRow>),
    /// `SPORT → DPORT Len=N`.
    Udp {
        sport: u16,
        dport: u16,
        len: u32,
    },
    Icmp(Box<IcmpRow>),
    Arp(ArpRow),
    /// A pcapng custom block (tshark shows it as a frame of its own).
    Custom {
        pen: u32,
        copy: bool,
    },
    /// A frame of another protocol (its Protocol column says which), with
    /// the Info eco gives it (often none).
    Other(String),
    /// A frame too short or inconsistent to decode, and why.
    Malformed(String),
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Info::Tcp(tcp) => tcp.fmt(f),
            Info::Udp { sport, dport, len } => write!(f, "{sport} → {dport} Len={len}"),
            Info::Icmp(icmp) => icmp.fmt(f),
            Info::Arp(row) => row.fmt(f),
            Info::Custom { pen, copy } => {
                let copied = if *copy { "will be copied" } else { "will not be copied" };
                write!(f, "Custom Block: PEN = {pen}, {copied}")
            }
            Info::Other(info) => f.write_str(info),
            Info::Malformed(reason) => write!(f, "[Malformed frame: {reason}]"),
        }
    }
}

/// One TCP segment as Wireshark presents it: the segment, its numbers
/// relative to each direction's start, its window as scaled, and the
/// analysis tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRow {
    pub seg: Segment,
    /// Which connection (and, with `from_first`, which direction).
    pub conn: ConnKey,
    /// The connection's index in the capture, from 0 (tshark's `tcp.stream`).
    pub stream: u32,
    /// Whether the sender is the first endpoint of `conn`.
    pub from_first: bool,
    /// Seq relative to this direction's ISN (raw when the segment could
    /// not be analysed).
    pub seq: u32,
    /// Ack relative to the other direction's ISN (with the ACK flag).
    pub ack: Option<u32>,
    /// The window as Wireshark shows it: scaled by the sender's shift once
    /// its SYN gave one (and the other SYN did not refuse it).
    pub window: u32,
    /// SACK blocks, relative to the other direction's ISN.
    pub sack: Vec<(u32, u32)>,
    pub tags: Tags,
    /// The connection uses Accurate ECN: AE, CWR and ECE are a counter.
    pub ace: bool,
}

/// A Quick-Start rate code as Wireshark writes it: 40 kbit/s × 2^code.
fn quick_start_rate(code: u8) -> &'static str {
    const RATES: [&str; 16] = [
        "0 bit/s",
        "80 Kbit/s",
        "160 Kbit/s",
        "320 Kbit/s",
        "640 Kbit/s",
        "1.28 Mbit/s",
        "2.56 Mbit/s",
        "5.12 Mbit/s",
        "10.24 Mbit/s",
        "20.48 Mbit/s",
        "40.96 Mbit/s",
        "81.92 Mbit/s",
        "163.84 Mbit/s",
        "327.68 Mbit/s",
        "655.36 Mbit/s",
        "1.31072 Gbit/s",
    ];
    RATES[usize::from(code & 0x0f)]
}

/// The analysis tags Wireshark puts in front of the Info text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    /// A generic retransmission (not fast, not spurious).
    pub retransmission: bool,
    pub fast: bool,
    pub spurious: bool,
    pub out_of_order: bool,
    /// "Previous segment not captured": this segment starts past the
    /// highest one seen.
    pub lost_segment: bool,
    /// "ACKed unseen segment": this ACK covers bytes never seen.
    pub acked_unseen: bool,
    pub window_update: bool,
    pub window_full: bool,
    pub keep_alive: bool,
    pub keep_alive_ack: bool,
    pub zero_window: bool,
    pub zero_window_probe: bool,
    pub zero_window_probe_ack: bool,
    /// A new connection on the ports of an earlier one (a new SYN, a new ISN).
    pub reused_ports: bool,
    /// A duplicate ACK: the frame that first sent this ACK, and the count.
    pub dup_ack: Option<(usize, u32)>,
}

impl Tags {
    /// Whether the segment was sent before (any kind of retransmission).
    pub fn resent(&self) -> bool {
        self.retransmission || self.fast || self.spurious
    }

    /// Wireshark prepends each tag in turn, so the last one it checks
    /// comes first: this is the order they read in, left to right.
    pub fn labels(&self) -> impl Iterator<Item = String> + '_ {
        let fixed = [
            (self.zero_window_probe_ack, "[TCP ZeroWindowProbeAck] "),
            (self.zero_window, "[TCP ZeroWindow] "),
            (self.zero_window_probe, "[TCP ZeroWindowProbe] "),
        ];
        let after = [
            (self.keep_alive_ack, "[TCP Keep-Alive ACK] "),
            (self.keep_alive, "[TCP Keep-Alive] "),
            (self.window_full, "[TCP Window Full] "),
            (self.window_update, "[TCP Window Update] "),
            (self.acked_unseen, "[TCP ACKed unseen segment] "),
            (self.lost_segment, "[TCP Previous segment not captured] "),
            (self.out_of_order, "[TCP Out-Of-Order] "),
            (self.spurious, "[TCP Spurious Retransmission] "),
            (self.fast, "[TCP Fast Retransmission] "),
            (self.retransmission, "[TCP Retransmission] "),
            (self.reused_ports, "[TCP Port numbers reused] "),
        ];
        let dup = self.dup_ack.map(|(frame, count)| format!("[TCP Dup ACK {frame}#{count}] "));
        let pick = |tags: &[(bool, &str)]| {
            tags.iter().filter(|(set, _)| *set).map(|(_, t)| t.to_string()).collect::<Vec<_>>()
        };
        pick(&fixed).into_iter().chain(dup).chain(pick(&after))
    }
}

impl fmt::Display for TcpRow {
    /// The Info column: the tags, then `SPORT → DPORT [FLAGS] Seq=… Ack=…
    /// Win=… Len=…` and the options in header order — as far as the
    /// captured header goes, as tshark writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::packet::{Cut, Short};
        let seg = &self.seg;
        let short = |f: &mut fmt::Formatter<'_>, why: Short| match why {
            Short::Capture => f.write_str("[Packet size limited during capture]"),
            Short::Malformed => f.write_str("[Malformed Packet]"),
        };
        // The tags are printed once the header is read up to the options.
        // Wireshark writes them after reading the whole header: a header
        // cut anywhere (in its options too) ends the Info before them.
        let tagged = seg.cut.is_none();
        if tagged {
            for label in self.tags.labels() {
                f.write_str(&label)?;
            }
        }
        write!(f, "{} → {}", seg.src.port(), seg.dst.port())?;
        if let Some(Cut::AfterPorts(why)) = seg.cut {
            return short(f, why);
        }
        write!(f, " {} Seq={}", FlagList(seg.flags, self.ace), self.seq)?;
        if let Some(ack) = self.ack {
            write!(f, " Ack={ack}")?;
        }
        write!(f, " Win={}", self.window)?;
        match seg.cut {
            Some(Cut::AfterWindow(why)) => return short(f, why),
            Some(Cut::Bogus) => {
                return write!(f, ", bogus TCP header length ({}, must be at least 20)", seg.hlen);
            }
            _ => {}
        }
        if seg.has(URG) {
            write!(f, " Urg={}", seg.urgent)?;
        }
        if let Some(len) = seg.seg_len {
            write!(f, " Len={len}")?;
        }
        let mut sack = self.sack.iter();
        for option in &seg.options {
            match option {
                TcpOpt::Mss(mss) => write!(f, " MSS={mss}")?,
                TcpOpt::SackPerm => f.write_str(" SACK_PERM")?,
                TcpOpt::Timestamp { val, ecr } => write!(f, " TSval={val} TSecr={ecr}")?,
                TcpOpt::WindowScale(shift) => write!(f, " WS={}", 1u32 << (*shift).min(14))?,
                TcpOpt::Sack(blocks) => {
                    for (left, right) in sack.by_ref().take(blocks.len()) {
                        write!(f, " SLE={left} SRE={right}")?;
                    }
                }
                TcpOpt::FastOpen { cookie } => f.write_str(if *cookie { " TFO=C" } else { " TFO=R" })?,
                TcpOpt::Experimental(exid) => write!(f, " ExID={exid:X}")?,
                TcpOpt::Echo(value) => write!(f, " ECHO={value}")?,
                TcpOpt::QuickStart(rate) => write!(f, " QSresp={}", quick_start_rate(*rate))?,
                TcpOpt::UserTimeout(timeout) => write!(f, " USER_TO={timeout}")?,
                TcpOpt::Md5 => f.write_str(" MD5")?,
                // tshark writes it without a space before.
                TcpOpt::Ao => f.write_str("TCP AO")?,
                TcpOpt::AccEcn { counters, .. } if counters.is_empty() => f.write_str(" AccECN")?,
                TcpOpt::AccEcn { order1, counters } => {
                    let names = if *order1 { ["EE1B", "ECEB", "EE0B"] } else { ["EE0B", "ECEB", "EE1B"] };
                    for (name, value) in names.iter().zip(counters) {
                        write!(f, " {name}={value}")?;
                    }
                }
                TcpOpt::Other => {}
            }
        }
        match seg.cut {
            Some(Cut::InOptions(why)) => short(f, why),
            _ => Ok(()),
        }
    }
}

/// A TCP connection: its two endpoints, in a fixed order (the lower first),
/// so that both directions find the same entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey(pub SocketAddr, pub SocketAddr);

impl ConnKey {
    /// The connection of `seg`, and whether `seg` goes from its first
    /// endpoint to its second.
    pub fn of(seg: &Segment) -> (ConnKey, bool) {
        if seg.src <= seg.dst {
            (ConnKey(seg.src, seg.dst), true)
        } else {
            (ConnKey(seg.dst, seg.src), false)
        }
    }
}

/// What a direction's SYN said about window scaling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum WindowScale {
    /// No SYN seen (yet): the window is shown as it is.
    #[default]
    Unseen,
    /// Known not to be scaled: a SYN without the option (on either side).
    Off,
    /// Scaled by this shift.
    Shift(u8),
}

/// One direction of a connection, as Wireshark's analysis keeps it
/// (`tcp_flow_t` and its `tcp_analyze_seq_flow_info_t`). Sequence numbers
/// are raw; 0 stands for "not seen yet", as in Wireshark (a real 0 is
/// taken for unseen too: the same answer, the same quirks).
#[derive(Debug)]
struct Flow {
    /// The number shown as 0: the ISN (or the first seq seen, minus one).
    base: Option<u32>,
    scale: WindowScale,
    /// The latest window advertised, raw (not scaled).
    window: u32,
    /// Highest seq + length seen: the next new byte expected.
    nextseq: u32,
    nextseq_time: i64,
    /// The end of the data seen without a gap: what an ACK may cover.
    maxseqtobeacked: u32,
    /// The latest ACK this side sent, and when.
    lastack: u32,
    lastack_time: i64,
    /// Duplicate ACKs of `lastack` so far, and the frame that first sent
    /// it. -1: the other side just acknowledged bytes never seen from
    /// this one, said once until this side's ACK moves (Wireshark's use).
    dupacknum: i32,
    lastnondupack: usize,
    /// What the previous segment in this direction was.
    last_keep_alive: bool,
    last_zero_window_probe: bool,
    /// Between a SYN and the first ACK without SYN: the window this side
    /// advertises is not scaled yet.
    first_ack: bool,
}

impl Default for Flow {
    fn default() -> Flow {
        Flow {
            base: None,
            scale: WindowScale::Unseen,
            // Wireshark's "no window yet".
            window: u32::MAX,
            nextseq: 0,
            nextseq_time: 0,
            maxseqtobeacked: 0,
            lastack: 0,
            lastack_time: 0,
            dupacknum: 0,
            lastnondupack: 0,
            last_keep_alive: false,
            last_zero_window_probe: false,
            first_ack: false,
        }
    }
}

/// Wireshark's threshold for "out of order" when the connection's first
/// RTT (SYN to the handshake's last ACK) is unknown: 3 ms.
const OUT_OF_ORDER_THRESHOLD: u64 = 3_000_000;
/// A fast retransmission comes within 20 ms of the last duplicate ACK.
const FAST_RETRANSMISSION_WINDOW: u64 = 20_000_000;

/// State of one connection: both directions, and the handshake's timing.
#[derive(Debug, Default)]
struct Conn {
    stream: u32,
    flows: [Flow; 2],
    /// When the latest SYN (without ACK) was seen (0: never).
    syn_time: i64,
    /// The first round trip: from the SYN to the first ACK without SYN (0: unknown).
    first_rtt: u64,
    /// Accurate ECN (RFC 9768): asked for by a SYN with AE, CWR and ECE
    /// set; in use once the SYN-ACK agreed, or once an AccECN option was
    /// seen. From then on, Wireshark shows those bits as a counter.
    acc_ecn_asked: bool,
    acc_ecn: bool,
    /// The latest frame's time, and how the connection ended: a reset, or
    /// a FIN each way (bit 0: from the first endpoint, bit 1: back).
    last_seen: i64,
    reset: bool,
    fins: u8,
}

/// A connection is forgotten (to an [`Ended`]) this long after its close,
/// in capture time: time for a FIN or an ACK sent again to arrive.
const CLOSED_GRACE: i64 = 2_000_000_000;
/// ... or after this long without a segment, closed or not.
const IDLE_LIMIT: i64 = 300_000_000_000;
/// Ended connections remembered at most (the least recent go first),
/// whole: a late segment (a FIN sent again, a capture with a gap of
/// minutes) goes on as Wireshark would, and a new SYN on the same ports is
/// told as their reuse. About 300 bytes each.
const MAX_ENDED: usize = 1 << 16;

/// Builds the rows for frames in capture order.
///
/// Memory follows the connections open at once, not the frames: a
/// connection that has closed or gone idle moves to a bounded table of
/// ended ones, and its stream is reported in [`Analyzer::take_ended`] so
/// that its phases can be told and let go.
pub struct Analyzer {
    /// Open connections, the least recently seen first out.
    conns: LruCache<ConnKey, Conn>,
    ended: LruCache<ConnKey, Conn>,
    /// Streams ended since the last [`Analyzer::take_ended`].
    just_ended: Vec<u32>,
    /// The first frame's time.
    first_ts: Option<Stamp>,
    rows: usize,
    echoes: Echoes,
    arp_table: ArpTable,
    /// Connections seen so far: the next one's stream index.
    streams: u32,
    /// Decodes the frames, reassembling IP fragments across them.
    decoder: Decoder,
}

/// Sequence-number comparisons modulo 2^32 (RFC 1982), as TCP itself does.
fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
fn gt(a: u32, b: u32) -> bool {
    lt(b, a)
}

/// Nanoseconds from `then` to `now`, as Wireshark's unsigned arithmetic
/// has it: a clock that went back gives a huge number, never a small one.
fn since(now: i64, then: i64) -> u64 {
    now.wrapping_sub(then) as u64
}

impl Default for Analyzer {
    fn default() -> Analyzer {
        Analyzer {
            conns: LruCache::unbounded(),
            ended: LruCache::new(NonZeroUsize::new(MAX_ENDED).expect("not zero")),
            just_ended: Vec::new(),
            first_ts: None,
            rows: 0,
            echoes: Echoes::default(),
            arp_table: ArpTable::default(),
            streams: 0,
            decoder: Decoder::default(),
        }
    }
}

impl Analyzer {
    /// The streams (connections) that ended since the last call: closed
    /// (a reset, or FINs both ways) a while ago, idle for long, or
    /// replaced by a new connection on the same ports.
    pub fn take_ended(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.just_ended)
    }

    /// Lets go of connections closed more than [`CLOSED_GRACE`] ago or
    /// idle for [`IDLE_LIMIT`], least recently seen first (a few checks
    /// per frame, whatever the number of connections).
    fn forget_ended(&mut self, now: i64) {
        while let Some((_, conn)) = self.conns.peek_lru() {
            let age = now.saturating_sub(conn.last_seen);
            let closed = conn.reset || conn.fins == 0b11;
            if !(age > IDLE_LIMIT || (closed && age > CLOSED_GRACE)) {
                break;
            }
            let (key, conn) = self.conns.pop_lru().expect("peeked");
            self.just_ended.push(conn.stream);
            self.ended.push(key, conn);
        }
    }

    /// The row of the next frame: `ts` its capture time (`None` for a
    /// record without one), `length` its length on the wire.
    pub fn push(&mut self, ts: Option<Stamp>, length: u32, decoded: Decoded) -> Row {
        self.rows += 1;
        let no = self.rows;
        // Times count from the first frame's (or from 0 if it has none).
        let first = *self.first_ts.get_or_insert(ts.unwrap_or_default());
        let time = ts.map(|ts| ts.since(first));
        let now = ts.unwrap_or_default().nanos();
        if ts.is_some() {
            self.forget_ended(now);
        }
        let abs = super::pcap::duration_of(now);
        let (src, dst, protocol, info) = match decoded {
            Decoded::Tcp(seg) => {
                let (src, dst) = (seg.src.ip().to_string(), seg.dst.ip().to_string());
                (src, dst, "TCP".into(), Info::Tcp(Box::new(self.tcp_row(no, now, seg))))
            }
            Decoded::Udp { src, dst, len } => {
                let info = Info::Udp { sport: src.port(), dport: dst.port(), len };
                (src.ip().to_string(), dst.ip().to_string(), "UDP".into(), info)
            }
            Decoded::Icmp { src, dst, icmp } => {
                let protocol = if icmp.v6 { "ICMPv6" } else { "ICMP" };
                let row = self.echoes.see(no, src, dst, icmp);
                (src.to_string(), dst.to_string(), protocol.into(), Info::Icmp(Box::new(row)))
            }
            Decoded::Arp(arp) => {
                let src = Mac(arp.sender_mac).to_string();
                let dst =
                    if arp.operation == 1 { "Broadcast".into() } else { Mac(arp.target_mac).to_string() };
                (src, dst, "ARP".into(), Info::Arp(self.arp_table.see(arp)))
            }
            Decoded::Other { src, dst, protocol, info } => (src, dst, protocol, Info::Other(info)),
            Decoded::Malformed { src, dst, reason } => (src, dst, "?".into(), Info::Malformed(reason)),
        };
        Row { no, time, ts: abs, src, dst, protocol, length, info }
    }

    /// Decodes a frame (`link`: its pcap link type) and makes its row.
    pub fn push_frame(&mut self, ts: Option<Stamp>, link: u32, data: &[u8], orig_len: u32) -> Row {
        // A writer that stored an original length below the captured one
        // (0, say) lost nothing: Wireshark reads the bytes as they are.
        let reported = orig_len.max(u32::try_from(data.len()).unwrap_or(u32::MAX));
        let decoded = self.decoder.decode(link, data, reported);
        self.push(ts, orig_len, decoded)
    }

    /// A frame captured on `lo` by eco itself (Ethernet, the kernel's time).
    pub fn push_captured(&mut self, frame: &super::capture::Frame) -> Row {
        let ts = Stamp::from_nanos(i64::try_from(frame.ts.as_nanos()).unwrap_or(i64::MAX));
        self.push_frame(Some(ts), super::packet::linktype::ETHERNET, &frame.data, frame.orig_len)
    }

    /// The row of a pcapng custom block, which takes a frame number too.
    pub fn push_custom(&mut self, pen: u32, copy: bool, length: u32) -> Row {
        self.rows += 1;
        self.first_ts.get_or_insert_default();
        Row {
            no: self.rows,
            time: None,
            ts: Duration::ZERO,
            src: String::new(),
            dst: String::new(),
            protocol: "PCAPNG".into(),
            length,
            info: Info::Custom { pen, copy },
        }
    }

    fn tcp_row(&mut self, no: usize, now: i64, seg: Segment) -> TcpRow {
        let (key, from_first) = ConnKey::of(&seg);
        let (fwd_i, rev_i) = if from_first { (0, 1) } else { (1, 0) };
        let syn_only = seg.has(SYN) && !seg.has(ACK);
        let mut tags = Tags::default();
        // A new SYN, with another ISN, on the ports of a connection already
        // seen: a new connection (a new stream) on reused ports.
        let known =
            self.conns.peek(&key).or_else(|| self.ended.peek(&key)).map(|conn| conn.flows[fwd_i].base);
        let reuse = known.flatten().is_some_and(|base| {
            seg.has(SYN)
                && seg.cut.is_none_or(|c| !matches!(c, super::packet::Cut::AfterPorts(_)))
                && seg.seq != base
        });
        if reuse {
            tags.reused_ports = true;
            if syn_only && let Some(old) = self.conns.pop(&key) {
                self.just_ended.push(old.stream);
            }
        }
        if !self.conns.contains(&key) {
            let conn = match self.ended.pop(&key) {
                // A late segment of a connection already let go: it goes on.
                Some(ended) => ended,
                None => {
                    self.streams += 1;
                    Conn { stream: self.streams - 1, ..Conn::default() }
                }
            };
            self.conns.push(key, conn);
        }
        let conn = self.conns.get_mut(&key).expect("just made");
        // A SYN-ACK (or a SYN with other flags) with a new ISN stays in its
        // connection, but this side's relative numbers start from it.
        if reuse && !syn_only {
            conn.flows[fwd_i].base = None;
        }
        conn.last_seen = now;
        if seg.has(RST) {
            conn.reset = true;
        }
        if seg.has(FIN) {
            conn.fins |= if from_first { 1 } else { 2 };
        }
        let stream = conn.stream;
        let header_read = !matches!(seg.cut, Some(super::packet::Cut::AfterPorts(_)));
        // Analysed only when the frame's lengths cover the header.
        let analysed = header_read && seg.seg_len.is_some();
        if analysed {
            analyze(no, now, &seg, conn, fwd_i, rev_i, &mut tags);
        }
        // The handshake's timing, after the analysis (as in Wireshark).
        if header_read {
            let first_ack = &mut conn.flows[fwd_i].first_ack;
            if seg.has(SYN) {
                *first_ack = true;
            } else if seg.has(ACK) {
                *first_ack = false;
            }
            if syn_only {
                conn.syn_time = now;
            } else if seg.has(ACK) && !seg.has(SYN) && conn.syn_time != 0 && conn.first_rtt == 0 {
                conn.first_rtt = since(now, conn.syn_time);
            }
        }
        let (fwd, rev) = (&conn.flows[fwd_i], &conn.flows[rev_i]);
        let (seq, ack, window) = if analysed {
            let base = fwd.base.unwrap_or(0);
            let rev_base = rev.base.unwrap_or(0);
            let window = match (seg.has(SYN), fwd.scale) {
                (false, WindowScale::Shift(shift)) => u32::from(seg.window) << shift.min(14),
                _ => u32::from(seg.window),
            };
            (seg.seq.wrapping_sub(base), seg.has(ACK).then(|| seg.ack.wrapping_sub(rev_base)), window)
        } else {
            (seg.seq, seg.has(ACK).then_some(seg.ack), u32::from(seg.window))
        };
        let rev_base = if analysed { rev.base.unwrap_or(0) } else { 0 };
        let sack = seg
            .options
            .iter()
            .filter_map(|o| match o {
                TcpOpt::Sack(blocks) => Some(blocks),
                _ => None,
            })
            .flatten()
            .map(|(left, right)| (left.wrapping_sub(rev_base), right.wrapping_sub(rev_base)))
            .collect();
        // The window scale option sets this side's scale for the segments
        // after this one (Wireshark reads it on any segment, not only on
        // SYNs); a SYN without it means no scaling, checked as Wireshark
        // does once the options are read (verify_tcp_window_scaling).
        if header_read {
            let (a, b) = conn.flows.split_at_mut(1);
            let (fwd, rev) = if from_first { (&mut a[0], &mut b[0]) } else { (&mut b[0], &mut a[0]) };
            if let Some(shift) = seg.window_shift() {
                fwd.scale = WindowScale::Shift(shift);
            }
            if seg.has(SYN) {
                if fwd.scale == WindowScale::Unseen {
                    fwd.scale = WindowScale::Off;
                    rev.scale = WindowScale::Off;
                } else if seg.has(ACK) && rev.scale == WindowScale::Off {
                    fwd.scale = WindowScale::Off;
                }
            }
        }
        // Accurate ECN, for the segments after this one (a SYN's flags are
        // always shown as flags).
        let ace = conn.acc_ecn && !seg.has(SYN);
        if header_read {
            let ecn = seg.flags & (AE | CWR | ECE);
            if seg.has(SYN) && !seg.has(ACK) {
                conn.acc_ecn_asked = ecn == AE | CWR | ECE;
            } else if seg.has(SYN) && conn.acc_ecn_asked && [CWR, CWR | ECE, AE, AE | CWR].contains(&ecn) {
                conn.acc_ecn = true;
            }
            if seg.options.iter().any(|o| matches!(o, TcpOpt::AccEcn { .. })) {
                conn.acc_ecn = true;
            }
        }
        TcpRow { seq, ack, window, sack, tags, ace, conn: key, stream, from_first, seg }
    }
}

/// Wireshark's sequence analysis (tcp_analyze_sequence_number, 4.0) for
/// one segment: its tags, and the directions' state for those to come.
fn analyze(no: usize, now: i64, seg: &Segment, conn: &mut Conn, fwd_i: usize, rev_i: usize, tags: &mut Tags) {
    let (seq, ack, seglen) = (seg.seq, seg.ack, seg.payload_len());
    let window = u32::from(seg.window);
    let control = seg.has(SYN) || seg.has(FIN) || seg.has(RST);
    let first_rtt = conn.first_rtt;
    let (a, b) = conn.flows.split_at_mut(1);
    let (fwd, rev) = if fwd_i == 0 { (&mut a[0], &mut b[0]) } else { (&mut b[0], &mut a[0]) };
    let _ = rev_i;

    if fwd.base.is_none() {
        fwd.base = Some(if seg.has(SYN) { seq } else { seq.wrapping_sub(1) });
    }
    // The other side's ISN, from the first ACK seen (usually the SYN-ACK's).
    if rev.base.is_none() && seg.has(ACK) {
        rev.base = Some(ack.wrapping_sub(1));
    }

    'fwd: {
        // A zero window probe: one byte at the next place while the other
        // side's window is closed.
        if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
            tags.zero_window_probe = true;
            break 'fwd;
        }
        if window == 0 && !control {
            tags.zero_window = true;
        }
        // A gap: this segment starts after the next byte expected.
        if fwd.nextseq != 0 && gt(seq, fwd.nextseq) && !seg.has(RST) {
            tags.lost_segment = true;
        }
        // One byte (or none) just below the next expected: a keep-alive.
        if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && !control {
            tags.keep_alive = true;
        }
        let same_place = seglen == 0 && seq == fwd.nextseq && ack == fwd.lastack && !control;
        if same_place && window != 0 && window != fwd.window {
            tags.window_update = true;
        }
        // Data up to the very edge of the window the other side advertised.
        let shift = match rev.scale {
            WindowScale::Unseen => None,
            _ if rev.first_ack => Some(0),
            WindowScale::Shift(shift) => Some(u32::from(shift.min(14))),
            WindowScale::Off => Some(0),
        };
        if let Some(shift) = shift
            && seglen > 0
            && !control
            && seq.wrapping_add(seglen) == rev.lastack.wrapping_add(rev.window.wrapping_shl(shift))
        {
            tags.window_full = true;
        }
        if same_place && window != 0 && window == fwd.window && rev.last_keep_alive {
            tags.keep_alive_ack = true;
            break 'fwd;
        }
        if same_place && window == 0 && window == fwd.window && rev.last_zero_window_probe {
            tags.zero_window_probe_ack = true;
            break 'fwd;
        }
        if same_place && window != 0 && window == fwd.window {
            fwd.dupacknum = if fwd.dupacknum == -1 { 1 } else { fwd.dupacknum + 1 };
            tags.dup_ack = Some((fwd.lastnondupack, fwd.dupacknum.unsigned_abs()));
        }
    }
    // A new ACK number restarts the duplicate count.
    if ack != fwd.lastack {
        fwd.lastnondupack = no;
        fwd.dupacknum = 0;
    }
    // It acknowledges bytes never seen from the other side.
    if rev.maxseqtobeacked != 0 && gt(ack, rev.maxseqtobeacked) && seg.has(ACK) {
        if lt(rev.maxseqtobeacked, rev.nextseq) {
            // Said once: what was seen since counts as acknowledgeable.
            rev.maxseqtobeacked = rev.nextseq;
            tags.acked_unseen = true;
        } else {
            // Nothing new seen from the other side: said once, and not
            // again until this side's ACK number moves.
            tags.acked_unseen = rev.dupacknum == 0;
            rev.dupacknum = -1;
        }
    }
    // Data (or SYN/FIN) that does not advance the sequence: sent before.
    if (seglen > 0 || seg.has(SYN) || seg.has(FIN)) && !tags.keep_alive {
        let mut not_advanced = fwd.nextseq != 0 && lt(seq, fwd.nextseq);
        // More than one byte from one below the next: new data after a
        // zero window probe, not a retransmission.
        if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
            not_advanced = false;
        }
        let threshold = if first_rtt == 0 { OUT_OF_ORDER_THRESHOLD } else { first_rtt };
        // Checked in Wireshark's order; the first that matches is the one.
        if seglen > 0 && rev.lastack != 0 && !gt(seq.wrapping_add(seglen), rev.lastack) {
            // Bytes the other side had already acknowledged.
            tags.spurious = true;
        } else if not_advanced
            && rev.dupacknum >= 2
            && rev.lastack == seq
            && since(now, rev.lastack_time) < FAST_RETRANSMISSION_WINDOW
        {
            // Resent right after the duplicate ACKs that asked for it.
            tags.fast = true;
        } else if not_advanced
            && since(now, fwd.nextseq_time) < threshold
            && fwd.nextseq != seq.wrapping_add(seglen + u32::from(seg.has(SYN) || seg.has(FIN)))
        {
            // Too soon after the highest segment to be a resend.
            tags.out_of_order = true;
        } else if not_advanced {
            tags.retransmission = true;
        }
    }
    // The state for the segments to come.
    let mut nextseq = seq.wrapping_add(seglen);
    if seg.has(SYN) || seg.has(FIN) {
        nextseq = nextseq.wrapping_add(1);
    }
    if (gt(nextseq, fwd.nextseq) || fwd.nextseq == 0) && !tags.zero_window_probe {
        fwd.nextseq = nextseq;
        fwd.nextseq_time = now;
    }
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !tags.zero_window_probe {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = window;
    fwd.lastack = ack;
    fwd.lastack_time = now;
    fwd.last_keep_alive = tags.keep_alive;
    fwd.last_zero_window_probe = tags.zero_window_probe;
}

/// A stage of a connection's life, with the frames that belong to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// SYN, SYN-ACK, ACK; `syn_resent`: SYNs sent again for want of an answer.
    Handshake { frames: Frames, syn_resent: u32 },
    /// A SYN answered by a reset: nothing listened on that port.
    Refused { frames: Frames },
    /// SYNs that nothing answered (a firewall that drops, a machine that
    /// is off): no connection.
    Unanswered { frames: Frames, syns: u32 },
    /// TLS's own handshake, on top of TCP's: the records each side sent
    /// (`Client Hello`; `Server Hello, Change Cipher Spec, Application
    /// Data`; ...) until both switched to encryption, and the ACKs between.
    Tls { frames: Frames, records: Vec<String> },
    /// Data segments and their ACKs. Bytes count each byte once, however
    /// often it was sent; `resent`: segments sent again. `echo`: eco's own
    /// exchange, where the server's bytes are the echo. `mid_stream`: the
    /// capture began after the handshake.
    Data { frames: Frames, client_bytes: u64, server_bytes: u64, resent: u32, echo: bool, mid_stream: bool },
    /// FINs and their ACKs; `segments`: 3 when a FIN carried the ACK of the
    /// other one, else 4 or more. `eco_hint`: eco's own exchange, whose
    /// `--ack-fin-apart` gives the four-segment close.
    /// `one_sided`: only one side sent FIN (the other reset, or the
    /// capture ended first).
    Close { frames: Frames, client_first: bool, segments: u32, eco_hint: bool, one_sided: bool },
    /// A reset ended (or refused) the connection.
    Reset { frames: Frames, by_client: bool },
}

/// Frame numbers, kept as runs: a connection of a million frames takes a
/// few runs, not a million numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frames(Vec<(usize, usize)>);

impl Frames {
    pub fn push(&mut self, no: usize) {
        match self.0.last_mut() {
            Some((_, last)) if *last + 1 == no => *last = no,
            _ => self.0.push((no, no)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn count(&self) -> usize {
        self.0.iter().map(|(from, to)| to - from + 1).sum()
    }

    pub fn first(&self) -> Option<usize> {
        self.0.first().map(|(from, _)| *from)
    }
}

impl fmt::Display for Frames {
    /// `[1, 2, 3]` as the exercise's notes list them, for a few frames;
    /// runs as ranges for more: `[4–64, 66]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let few = self.count() <= 4;
        let parts: Vec<String> = self
            .0
            .iter()
            .flat_map(|&(from, to)| {
                if few || to - from < 2 {
                    (from..=to).map(|n| n.to_string()).collect::<Vec<_>>()
                } else {
                    vec![format!("{from}–{to}")]
                }
            })
            .collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

impl Serialize for Frames {
    /// As `[[from, to], ...]`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// What the phases of one connection need, gathered row by row (not the
/// rows themselves).
#[derive(Debug, Default)]
pub struct PhaseBuilder {
    /// The side that sent the first SYN, or the first sender.
    client: Option<SocketAddr>,
    server: Option<SocketAddr>,
    /// eco's own exchange: the server echoes, and eco's hints apply.
    eco: bool,
    handshake: Frames,
    syns: [u32; 2],
    syn_ack_seen: bool,
    handshake_done: bool,
    data: Frames,
    /// TLS's handshake: its frames and records, and which sides have
    /// switched to encryption (client, server).
    tls: Frames,
    tls_records: Vec<String>,
    tls_switched: [bool; 2],
    /// Per direction: the end of TLS's handshake bytes (the data phase
    /// counts what came after).
    tls_end: [Option<u32>; 2],
    /// Per direction (client, server): the end of the highest data seen.
    data_end: [Option<u32>; 2],
    resent: u32,
    mid_stream: bool,
    close: Frames,
    client_first: bool,
    fins: u32,
    /// A FIN that also acknowledged the other side's FIN.
    fin_acked_fin: bool,
    reset: Frames,
    reset_by_client: bool,
}

impl PhaseBuilder {
    /// For eco's own exchange: its wording (the echo) and hints.
    pub fn for_exchange() -> PhaseBuilder {
        PhaseBuilder { eco: true, ..PhaseBuilder::default() }
    }

    /// The client and the server, once known.
    pub fn endpoints(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.client.zip(self.server)
    }

    /// Takes in the next row of this connection.
    pub fn see(&mut self, row: &Row) {
        let Some(tcp) = row.tcp() else { return };
        let (seg, no) = (&tcp.seg, row.no);
        if self.client.is_none() {
            let (client, server) =
                if seg.has(SYN) && seg.has(ACK) { (seg.dst, seg.src) } else { (seg.src, seg.dst) };
            self.client = Some(client);
            self.server = Some(server);
            self.mid_stream = !seg.has(SYN);
        }
        let from_client = Some(seg.src) == self.client;
        let side = usize::from(!from_client);
        if seg.has(RST) {
            if self.reset.is_empty() {
                self.reset_by_client = from_client;
            }
            self.reset.push(no);
        } else if seg.has(SYN) {
            self.handshake.push(no);
            if seg.has(ACK) {
                self.syn_ack_seen = true;
            }
            self.syns[side] += 1;
        } else if !self.handshake_done
            && self.syn_ack_seen
            && seg.payload_len() == 0
            && !seg.has(FIN)
            && from_client
        {
            // The client's ACK of the SYN-ACK completes the handshake.
            self.handshake.push(no);
            self.handshake_done = true;
        } else if seg.has(FIN) || !self.close.is_empty() {
            if self.close.is_empty() {
                self.client_first = from_client;
            }
            if seg.has(FIN) {
                self.fins += 1;
                // The second FIN acknowledges the first one with it.
                if self.fins == 2 && seg.has(ACK) {
                    self.fin_acked_fin = true;
                }
            }
            self.close.push(no);
        } else if self.in_tls_handshake(seg.tls.as_deref(), side) {
            self.handshake_done = true;
            if let Some(records) = &seg.tls {
                self.tls_records.push(records.clone());
            }
            if seg.payload_len() > 0 {
                let end = tcp.seq.wrapping_add(seg.payload_len());
                if self.tls_end[side].is_none_or(|h| gt(end, h)) {
                    self.tls_end[side] = Some(end);
                }
            }
            self.tls.push(no);
        } else {
            self.handshake_done = true;
            if seg.payload_len() > 0 {
                let end = tcp.seq.wrapping_add(seg.payload_len());
                let highest = &mut self.data_end[side];
                if highest.is_none_or(|h| gt(end, h)) {
                    *highest = Some(end);
                }
            }
            self.resent += u32::from(tcp.tags.resent());
            self.data.push(no);
        }
        if seg.has(FIN) && seg.payload_len() > 0 {
            let end = tcp.seq.wrapping_add(seg.payload_len());
            let highest = &mut self.data_end[side];
            if highest.is_none_or(|h| gt(end, h)) {
                *highest = Some(end);
            }
        }
    }

    /// Whether a segment (with these TLS records, from this side) belongs
    /// to TLS's handshake: from the first handshake record until both
    /// sides have switched to encryption (Change Cipher Spec, or an
    /// encrypted Finished), ACKs in between included.
    fn in_tls_handshake(&mut self, records: Option<&str>, side: usize) -> bool {
        let started = !self.tls.is_empty();
        let over = self.tls_switched == [true, true];
        match records {
            Some(records) if super::tls::is_handshake(records) && !over => {
                if records.contains("Change Cipher Spec")
                    || records.contains("Finished")
                    || records.contains("Encrypted Handshake Message")
                {
                    self.tls_switched[side] = true;
                }
                true
            }
            Some(_) => false,
            None => started && !over,
        }
    }

    /// The phases, in order.
    pub fn finish(self) -> Vec<Phase> {
        let mut phases = Vec::new();
        // A SYN answered by nothing but a reset: refused.
        let refused = !self.syn_ack_seen
            && !self.handshake.is_empty()
            && !self.reset.is_empty()
            && self.data.is_empty();
        if refused {
            let mut frames = self.handshake.clone();
            for &(from, to) in &self.reset.0 {
                (from..=to).for_each(|n| frames.push(n));
            }
            phases.push(Phase::Refused { frames });
            return phases;
        }
        // SYNs and nothing else: the handshake never happened.
        if !self.syn_ack_seen && !self.handshake.is_empty() && self.reset.is_empty() && self.data.is_empty() {
            let syns = self.syns[0] + self.syns[1];
            phases.push(Phase::Unanswered { frames: self.handshake, syns });
            return phases;
        }
        if !self.handshake.is_empty() {
            let syn_resent = self.syns[0].saturating_sub(1) + self.syns[1].saturating_sub(1);
            phases.push(Phase::Handshake { frames: self.handshake, syn_resent });
        }
        // Relative numbers start at 1: the end of the highest data is one
        // more than the bytes sent.
        let bytes = |end: Option<u32>| end.map_or(0, |end| u64::from(end.saturating_sub(1)));
        // Over TLS, the data phase's bytes are those after TLS's handshake.
        let after_tls = |side: usize| bytes(self.data_end[side]).saturating_sub(bytes(self.tls_end[side]));
        let (client_bytes, server_bytes) = (after_tls(0), after_tls(1));
        let over_tls = !self.tls.is_empty();
        if over_tls {
            phases.push(Phase::Tls { frames: self.tls, records: self.tls_records });
        }
        if !self.data.is_empty() || client_bytes + server_bytes > 0 {
            phases.push(Phase::Data {
                frames: self.data,
                client_bytes,
                server_bytes,
                resent: self.resent,
                // Over TLS the bytes are records, not the echo itself.
                echo: self.eco && !over_tls,
                mid_stream: self.mid_stream,
            });
        }
        if !self.close.is_empty() {
            let segments =
                if self.fin_acked_fin && self.close.count() == 3 { 3 } else { self.close.count() as u32 };
            phases.push(Phase::Close {
                frames: self.close,
                client_first: self.client_first,
                segments,
                eco_hint: self.eco,
                one_sided: self.fins < 2,
            });
        }
        if !self.reset.is_empty() {
            phases.push(Phase::Reset { frames: self.reset, by_client: self.reset_by_client });
        }
        phases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(src: u16, dst: u16, seq: u32, ack: u32, flags: u16, len: u32) -> Decoded {
        Decoded::Tcp(Segment {
            src: SocketAddr::from(([127, 0, 0, 1], src)),
            dst: SocketAddr::from(([127, 0, 0, 1], dst)),
            seq,
            ack,
            flags,
            window: 512,
            urgent: 0,
            hlen: 20,
            seg_len: Some(len),
            options: Vec::new(),
            cut: None,
            tls: None,
        })
    }

    fn at_ms(ms: i64) -> Option<Stamp> {
        Some(Stamp::from_nanos(ms * 1_000_000))
    }

    fn infos(segments: Vec<Decoded>, step_ms: i64) -> Vec<String> {
        let mut a = Analyzer::default();
        let mut t = 0;
        segments
            .into_iter()
            .map(|d| {
                t += step_ms;
                a.push(at_ms(t), 66, d).info.to_string()
            })
            .collect()
    }

    #[test]
    fn relative_numbers_and_a_retransmission() {
        let infos = infos(
            vec![
                seg(4000, 5050, 1000, 0, SYN, 0),
                seg(5050, 4000, 9000, 1001, SYN | ACK, 0),
                seg(4000, 5050, 1001, 9001, ACK, 0),
                seg(4000, 5050, 1001, 9001, ACK | 0x08, 55),
                seg(4000, 5050, 1001, 9001, ACK | 0x08, 55),
            ],
            100,
        );
        assert_eq!(infos[0], "4000 → 5050 [SYN] Seq=0 Win=512 Len=0");
        assert_eq!(infos[1], "5050 → 4000 [SYN, ACK] Seq=0 Ack=1 Win=512 Len=0");
        assert_eq!(infos[2], "4000 → 5050 [ACK] Seq=1 Ack=1 Win=512 Len=0");
        assert_eq!(infos[3], "4000 → 5050 [PSH, ACK] Seq=1 Ack=1 Win=512 Len=55");
        assert_eq!(infos[4], "[TCP Retransmission] 4000 → 5050 [PSH, ACK] Seq=1 Ack=1 Win=512 Len=55");
    }

    #[test]
    fn a_resend_soon_after_is_out_of_order_but_a_resent_syn_is_a_retransmission() {
        // Within 3 ms of the highest segment and not ending where it did.
        let infos = infos(
            vec![
                seg(4000, 5050, 1000, 0, SYN, 0),
                seg(4000, 5050, 1000, 0, SYN, 0),
                seg(5050, 4000, 9000, 1001, SYN | ACK, 0),
                seg(4000, 5050, 1001, 9001, ACK, 0),
                seg(4000, 5050, 1011, 9001, ACK, 10),
                seg(4000, 5050, 1001, 9001, ACK, 10),
            ],
            1,
        );
        assert!(infos[1].starts_with("[TCP Retransmission] 4000 → 5050 [SYN]"), "{}", infos[1]);
        assert!(infos[4].starts_with("[TCP Previous segment not captured] "), "{}", infos[4]);
        assert!(infos[5].starts_with("[TCP Out-Of-Order] "), "{}", infos[5]);
    }

    #[test]
    fn duplicate_acks_name_the_original_frame() {
        let mut a = Analyzer::default();
        let t = at_ms(0);
        a.push(t, 66, seg(4000, 5050, 1000, 0, SYN, 0));
        a.push(t, 66, seg(5050, 4000, 9000, 1001, SYN | ACK, 0));
        let third = a.push(t, 66, seg(4000, 5050, 1001, 9001, ACK, 0));
        let fourth = a.push(t, 66, seg(4000, 5050, 1001, 9001, ACK, 0));
        let fifth = a.push(t, 66, seg(4000, 5050, 1001, 9001, ACK, 0));
        assert!(!third.info.to_string().contains("Dup"));
        assert_eq!(fourth.tcp().unwrap().tags.dup_ack, Some((3, 1)));
        assert!(fourth.info.to_string().starts_with("[TCP Dup ACK 3#1] "), "{}", fourth.info);
        assert!(fifth.info.to_string().starts_with("[TCP Dup ACK 3#2] "), "{}", fifth.info);
    }

    /// A keep-alive (one byte below the next) and its answer: the answer
    /// is a Keep-Alive ACK, not a duplicate ACK.
    #[test]
    fn a_keep_alive_and_its_ack() {
        let infos = infos(
            vec![
                seg(4000, 5050, 1000, 0, SYN, 0),
                seg(5050, 4000, 9000, 1001, SYN | ACK, 0),
                seg(4000, 5050, 1001, 9001, ACK, 0),
                seg(4000, 5050, 1000, 9001, ACK, 0),
                seg(5050, 4000, 9001, 1001, ACK, 0),
            ],
            1000,
        );
        assert!(infos[3].starts_with("[TCP Keep-Alive] "), "{}", infos[3]);
        assert!(infos[4].starts_with("[TCP Keep-Alive ACK] "), "{}", infos[4]);
    }

    /// An ACK past all the data seen is flagged once; the same ACK again,
    /// with nothing new from the other side, is not.
    #[test]
    fn acked_unseen_is_said_once_until_something_changes() {
        let infos = infos(
            vec![
                seg(4000, 5050, 1001, 9001, ACK | 0x08, 10),
                seg(5050, 4000, 9001, 1050, ACK | 0x08, 10),
                seg(5050, 4000, 9011, 1050, ACK | 0x08, 10),
                seg(4000, 5050, 1011, 9021, ACK | 0x08, 10),
                seg(5050, 4000, 9021, 1060, ACK | 0x08, 10),
            ],
            1000,
        );
        assert!(infos[1].starts_with("[TCP ACKed unseen segment] "), "{}", infos[1]);
        assert!(!infos[2].contains("ACKed unseen"), "{}", infos[2]);
        assert!(infos[4].starts_with("[TCP ACKed unseen segment] "), "{}", infos[4]);
    }

    #[test]
    fn a_new_syn_on_used_ports_is_a_new_stream() {
        let mut a = Analyzer::default();
        let t = at_ms(0);
        a.push(t, 66, seg(4000, 5050, 1000, 0, SYN, 0));
        a.push(t, 66, seg(4000, 5050, 1001, 0, RST, 0));
        let again = a.push(t, 66, seg(4000, 5050, 77_000, 0, SYN, 0));
        assert_eq!(again.info.to_string(), "[TCP Port numbers reused] 4000 → 5050 [SYN] Seq=0 Win=512 Len=0");
        assert_eq!(again.tcp().unwrap().stream, 1);
    }

    #[test]
    fn sequence_comparison_wraps() {
        assert!(lt(u32::MAX, 0));
        assert!(gt(5, u32::MAX - 5));
        assert!(!lt(7, 7));
    }

    fn phases_of(segments: Vec<Decoded>) -> Vec<Phase> {
        let mut a = Analyzer::default();
        let mut builder = PhaseBuilder::default();
        for d in segments {
            builder.see(&a.push(at_ms(0), 66, d));
        }
        builder.finish()
    }

    fn frames(list: &[usize]) -> Frames {
        let mut frames = Frames::default();
        list.iter().for_each(|&n| frames.push(n));
        frames
    }

    #[test]
    fn phases_of_a_three_segment_close_a_reset_and_a_refusal() {
        let psh = 0x08;
        let phases = phases_of(vec![
            seg(4000, 5050, 100, 0, SYN, 0),
            seg(5050, 4000, 900, 101, SYN | ACK, 0),
            seg(4000, 5050, 101, 901, ACK, 0),
            seg(4000, 5050, 101, 901, psh | ACK, 5),
            seg(4000, 5050, 101, 901, psh | ACK, 5),
            seg(5050, 4000, 901, 106, psh | ACK, 5),
            seg(4000, 5050, 106, 906, FIN | ACK, 0),
            seg(5050, 4000, 906, 107, FIN | ACK, 0),
            seg(4000, 5050, 107, 907, ACK, 0),
        ]);
        assert_eq!(phases[0], Phase::Handshake { frames: frames(&[1, 2, 3]), syn_resent: 0 });
        // The resent 5 bytes count once.
        assert!(
            matches!(
                &phases[1],
                Phase::Data {
                    client_bytes: 5,
                    server_bytes: 5,
                    resent: 1,
                    echo: false,
                    mid_stream: false,
                    ..
                }
            ),
            "{phases:?}"
        );
        assert!(
            matches!(&phases[2], Phase::Close { client_first: true, segments: 3, eco_hint: false, .. }),
            "{phases:?}"
        );

        let refused = phases_of(vec![seg(4000, 5050, 100, 0, SYN, 0), seg(5050, 4000, 0, 101, RST | ACK, 0)]);
        assert_eq!(refused, [Phase::Refused { frames: frames(&[1, 2]) }]);

        // A server stopped: its FIN, and the client answers with a reset.
        let one_sided = phases_of(vec![
            seg(4000, 5050, 100, 0, SYN, 0),
            seg(5050, 4000, 900, 101, SYN | ACK, 0),
            seg(4000, 5050, 101, 901, ACK, 0),
            seg(5050, 4000, 901, 101, FIN | ACK, 0),
            seg(4000, 5050, 101, 902, RST | ACK, 0),
        ]);
        assert!(
            matches!(&one_sided[1], Phase::Close { client_first: false, one_sided: true, .. }),
            "{one_sided:?}"
        );
        assert!(matches!(&one_sided[2], Phase::Reset { by_client: true, .. }), "{one_sided:?}");
    }

    #[test]
    fn frames_print_as_runs() {
        assert_eq!(frames(&[1, 2, 3]).to_string(), "[1, 2, 3]");
        assert_eq!(frames(&(4..=64).chain([66]).collect::<Vec<_>>()).to_string(), "[4–64, 66]");
    }
}
