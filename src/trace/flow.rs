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

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::packet::{ACK, Decoded, FIN, FlagList, RST, SYN, Segment, TcpOpt, URG};

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Frame number, from 1.
    pub no: usize,
    /// Since the first frame.
    pub time: Duration,
    /// Absolute capture time (since the Unix epoch), to merge with events.
    pub ts: Duration,
    pub src: String,
    pub dst: String,
    pub protocol: &'static str,
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
            Info::Other | Info::Malformed(_) => None,
        }
    }
}

/// The Info column of a row, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Info {
    Tcp(Box<TcpRow>),
    /// A frame of another protocol (its Protocol column says which).
    Other,
    /// A frame too short or inconsistent to decode, and why.
    Malformed(String),
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Info::Tcp(tcp) => tcp.fmt(f),
            Info::Other => Ok(()),
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
    /// Whether the sender is the first endpoint of `conn`.
    pub from_first: bool,
    /// Seq relative to this direction's ISN.
    pub seq: u32,
    /// Ack relative to the other direction's ISN (with the ACK flag).
    pub ack: Option<u32>,
    /// The window as Wireshark shows it: scaled once both SYNs agreed.
    pub window: u32,
    /// SACK blocks, relative to the other direction's ISN.
    pub sack: Vec<(u32, u32)>,
    pub tags: Tags,
}

/// The analysis tags Wireshark puts in front of the Info text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub retransmission: bool,
    pub fast: bool,
    pub spurious: bool,
    pub out_of_order: bool,
    pub lost_segment: bool,
    pub acked_unseen: bool,
    pub window_update: bool,
    pub window_full: bool,
    pub keep_alive: bool,
    pub zero_window: bool,
    /// A duplicate ACK: the frame that first sent this ACK, and the count.
    pub dup_ack: Option<(usize, u32)>,
}

impl Tags {
    /// Whether the segment was sent before (any kind of retransmission).
    pub fn resent(&self) -> bool {
        self.retransmission
    }
}

impl fmt::Display for TcpRow {
    /// The Info column: the tags, then `SPORT → DPORT [FLAGS] Seq=… Ack=…
    /// Win=… Len=…` and the options in header order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (tags, seg) = (&self.tags, &self.seg);
        // Wireshark prepends each tag in turn, so the last checked comes first.
        if tags.out_of_order {
            f.write_str("[TCP Out-Of-Order] ")?;
        }
        if tags.fast {
            f.write_str("[TCP Fast Retransmission] ")?;
        }
        if tags.spurious {
            f.write_str("[TCP Spurious Retransmission] ")?;
        }
        if tags.zero_window {
            f.write_str("[TCP ZeroWindow] ")?;
        }
        if let Some((frame, count)) = tags.dup_ack {
            write!(f, "[TCP Dup ACK {frame}#{count}] ")?;
        }
        if tags.window_full {
            f.write_str("[TCP Window Full] ")?;
        }
        if tags.window_update {
            f.write_str("[TCP Window Update] ")?;
        }
        if tags.keep_alive {
            f.write_str("[TCP Keep-Alive] ")?;
        }
        if tags.acked_unseen {
            f.write_str("[TCP ACKed unseen segment] ")?;
        }
        if tags.lost_segment {
            f.write_str("[TCP Previous segment not captured] ")?;
        }
        if tags.retransmission && !tags.fast && !tags.spurious {
            f.write_str("[TCP Retransmission] ")?;
        }
        write!(f, "{} → {} {} Seq={}", seg.src.port(), seg.dst.port(), FlagList(seg.flags), self.seq)?;
        if let Some(ack) = self.ack {
            write!(f, " Ack={ack}")?;
        }
        write!(f, " Win={}", self.window)?;
        if seg.has(URG) {
            write!(f, " Urg={}", seg.urgent)?;
        }
        write!(f, " Len={}", seg.len)?;
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
            }
        }
        Ok(())
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
    /// Its SYN was not seen.
    #[default]
    Unseen,
    /// Its SYN carried no window scale option.
    Off,
    /// Its SYN asked for this shift.
    Shift(u8),
}

/// State of one direction of a connection (Wireshark's `tcp_flow_t`).
#[derive(Debug, Default)]
struct Dir {
    /// The number shown as 0: the ISN (or the first seq seen, minus one).
    base: Option<u32>,
    ws: WindowScale,
    /// Highest seq + seglen seen: the next new byte expected.
    nextseq: Option<u32>,
    nextseq_ts: Duration,
    /// The latest ACK number this side sent, and the frame that first sent it.
    lastack: Option<u32>,
    lastack_frame: usize,
    /// Duplicate ACKs of `lastack` so far.
    dupacks: u32,
    /// The latest window this side advertised (scaled).
    window: Option<u32>,
}

/// Wireshark's threshold for "out of order" when the connection's first
/// RTT (SYN to the handshake's last ACK) is unknown: 3 ms.
const OUT_OF_ORDER_THRESHOLD: Duration = Duration::from_millis(3);

/// State of one connection: both directions, and the handshake's timing.
#[derive(Debug, Default)]
struct Conn {
    dirs: [Dir; 2],
    /// When the latest SYN (without ACK) was seen.
    syn_ts: Option<Duration>,
    /// The first round trip: from the SYN to the first ACK without SYN.
    first_rtt: Option<Duration>,
}
/// A fast retransmission comes within 20 ms of the last duplicate ACK.
const FAST_RETRANSMISSION_WINDOW: Duration = Duration::from_millis(20);

/// Builds the rows for frames in capture order.
#[derive(Default)]
pub struct Analyzer {
    conns: HashMap<ConnKey, Conn>,
    first_ts: Option<Duration>,
    rows: usize,
}

/// Sequence-number comparisons modulo 2^32 (RFC 1982), as TCP itself does.
fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
fn gt(a: u32, b: u32) -> bool {
    lt(b, a)
}

impl Analyzer {
    pub fn push(&mut self, ts: Duration, length: u32, decoded: Decoded) -> Row {
        self.rows += 1;
        let no = self.rows;
        let first = *self.first_ts.get_or_insert(ts);
        let time = ts.saturating_sub(first);
        let (src, dst, protocol, info) = match decoded {
            Decoded::Tcp(seg) => {
                let (src, dst) = (seg.src.ip().to_string(), seg.dst.ip().to_string());
                (src, dst, "TCP", Info::Tcp(Box::new(self.tcp_row(no, ts, seg))))
            }
            Decoded::Other { src, dst, protocol } => (src, dst, protocol, Info::Other),
            Decoded::Malformed { src, dst, reason } => (src, dst, "?", Info::Malformed(reason)),
        };
        Row { no, time, ts, src, dst, protocol, length, info }
    }

    fn tcp_row(&mut self, no: usize, ts: Duration, seg: Segment) -> TcpRow {
        let (conn_key, from_first) = ConnKey::of(&seg);
        let conn = self.conns.entry(conn_key).or_default();
        if seg.has(SYN) && !seg.has(ACK) {
            conn.syn_ts = Some(ts);
        } else if seg.has(ACK) && !seg.has(SYN) && conn.first_rtt.is_none() {
            conn.first_rtt = conn.syn_ts.map(|syn| ts.saturating_sub(syn));
        }
        let out_of_order_threshold =
            conn.first_rtt.filter(|rtt| !rtt.is_zero()).unwrap_or(OUT_OF_ORDER_THRESHOLD);
        let (a, b) = conn.dirs.split_at_mut(1);
        let (fwd, rev) = if from_first { (&mut a[0], &mut b[0]) } else { (&mut b[0], &mut a[0]) };

        if seg.has(SYN) {
            fwd.ws = seg.window_shift().map_or(WindowScale::Off, WindowScale::Shift);
        }
        let base = *fwd.base.get_or_insert(if seg.has(SYN) { seg.seq } else { seg.seq.wrapping_sub(1) });
        if seg.has(ACK) && rev.base.is_none() {
            rev.base = Some(seg.ack.wrapping_sub(1));
        }
        let rev_base = rev.base.unwrap_or(0);
        // Window: raw on SYNs; scaled afterwards when both SYNs carried WS.
        let window = match (seg.has(SYN), fwd.ws, rev.ws) {
            (false, WindowScale::Shift(shift), WindowScale::Shift(_)) => {
                u32::from(seg.window) << shift.min(14)
            }
            _ => u32::from(seg.window),
        };
        let tags = analyze(no, ts, &seg, window, out_of_order_threshold, fwd, rev);
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
        TcpRow {
            seq: seg.seq.wrapping_sub(base),
            ack: seg.has(ACK).then(|| seg.ack.wrapping_sub(rev_base)),
            window,
            sack,
            tags,
            conn: conn_key,
            from_first,
            seg,
        }
    }
}

/// Wireshark's sequence analysis for one segment, simplified to the tags
/// eco prints; updates the direction's state.
fn analyze(
    no: usize,
    ts: Duration,
    seg: &Segment,
    window: u32,
    out_of_order_threshold: Duration,
    fwd: &mut Dir,
    rev: &mut Dir,
) -> Tags {
    let mut tags = Tags::default();
    let seglen = seg.seg_len();
    let control = seg.has(SYN) || seg.has(FIN) || seg.has(RST);

    // A gap: this segment starts after the next byte we expected.
    if let Some(next) = fwd.nextseq
        && gt(seg.seq, next)
        && !seg.has(RST)
    {
        tags.lost_segment = true;
    }
    // It acknowledges bytes we never saw the other side send.
    if seg.has(ACK)
        && let Some(next) = rev.nextseq
        && gt(seg.ack, next)
    {
        tags.acked_unseen = true;
    }
    // Zero-length segments with the same seq/ack as before: a window
    // update if the window changed, else a duplicate ACK.
    let same_place = seglen == 0 && !control && Some(seg.seq) == fwd.nextseq && Some(seg.ack) == fwd.lastack;
    if same_place && window != 0 && fwd.window.is_some_and(|w| w != window) {
        tags.window_update = true;
    } else if same_place && window != 0 && fwd.window == Some(window) {
        fwd.dupacks += 1;
        tags.dup_ack = Some((fwd.lastack_frame, fwd.dupacks));
    }
    // One byte (or none) just below the next expected: a keep-alive probe.
    tags.keep_alive =
        seg.len <= 1 && !control && fwd.nextseq.is_some_and(|next| seg.seq == next.wrapping_sub(1));
    // Data up to the very edge of the window the other side advertised.
    let scaling_off = fwd.ws == WindowScale::Off || rev.ws == WindowScale::Off;
    tags.window_full = seg.len > 0
        && !control
        && !scaling_off
        && rev
            .lastack
            .zip(rev.window)
            .is_some_and(|(acked, win)| seg.seq.wrapping_add(seg.len) == acked.wrapping_add(win));
    tags.zero_window = window == 0 && !control;
    // Data (or SYN/FIN) that does not advance the sequence: sent before.
    if seglen > 0
        && !tags.keep_alive
        && let Some(next) = fwd.nextseq
        && lt(seg.seq, next)
    {
        let since_next = ts.saturating_sub(fwd.nextseq_ts);
        if seg.len > 0
            && rev.dupacks >= 2
            && rev.lastack == Some(seg.seq)
            && since_next < FAST_RETRANSMISSION_WINDOW
        {
            tags.retransmission = true;
            tags.fast = true;
        } else if since_next < out_of_order_threshold && next != seg.seq.wrapping_add(seglen) {
            tags.out_of_order = true;
        } else {
            tags.retransmission = true;
            tags.spurious =
                seg.len > 0 && rev.lastack.is_some_and(|acked| !gt(seg.seq.wrapping_add(seglen), acked));
        }
    }

    // Update the state for the segments to come.
    let end = seg.seq.wrapping_add(seglen);
    if fwd.nextseq.is_none_or(|next| gt(end, next)) {
        fwd.nextseq = Some(end);
        fwd.nextseq_ts = ts;
    }
    fwd.window = Some(window);
    if seg.has(ACK) && fwd.lastack != Some(seg.ack) {
        fwd.lastack = Some(seg.ack);
        fwd.lastack_frame = no;
        fwd.dupacks = 0;
    }
    tags
}

/// A stage of a connection's life, with the frames that belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// SYN, SYN-ACK, ACK.
    Handshake { frames: Vec<usize> },
    /// Data segments and their ACKs: bytes sent by the client and by the server.
    Data { frames: Vec<usize>, client_bytes: u64, server_bytes: u64, retransmissions: usize },
    /// FINs and their ACKs: four frames, or three when a FIN carries the ACK.
    Close { frames: Vec<usize>, client_first: bool },
    /// A reset ended (or refused) the connection.
    Reset { frames: Vec<usize>, by_client: bool },
}

/// Splits the rows of one connection into phases. The client is the side
/// that sent the first SYN; without a SYN, the first sender.
pub fn phases(rows: &[Row]) -> Vec<Phase> {
    let segments: Vec<(usize, &TcpRow)> = rows.iter().filter_map(|r| r.tcp().map(|t| (r.no, t))).collect();
    let Some(client) = segments
        .iter()
        .find(|(_, t)| t.seg.has(SYN) && !t.seg.has(ACK))
        .or(segments.first())
        .map(|(_, t)| t.seg.src)
    else {
        return Vec::new();
    };
    let mut handshake = Vec::new();
    let mut data = Vec::new();
    let mut close = Vec::new();
    let mut reset = Vec::new();
    let (mut client_bytes, mut server_bytes, mut retransmissions) = (0u64, 0u64, 0usize);
    let mut client_first = true;
    let mut handshake_done = false;
    for (no, tcp) in &segments {
        let seg = &tcp.seg;
        let from_client = seg.src == client;
        if seg.has(RST) {
            reset.push((*no, from_client));
        } else if seg.has(SYN) {
            handshake.push(*no);
        } else if !handshake_done && !handshake.is_empty() && seg.len == 0 && !seg.has(FIN) && from_client {
            // The client's ACK of the SYN-ACK completes the handshake.
            handshake.push(*no);
            handshake_done = true;
        } else if seg.has(FIN) || !close.is_empty() {
            if close.is_empty() {
                client_first = from_client;
            }
            close.push(*no);
        } else {
            handshake_done = true;
            if from_client {
                client_bytes += u64::from(seg.len);
            } else {
                server_bytes += u64::from(seg.len);
            }
            retransmissions += usize::from(tcp.tags.resent());
            data.push(*no);
        }
    }
    let mut phases = Vec::new();
    if !handshake.is_empty() {
        phases.push(Phase::Handshake { frames: handshake });
    }
    if !data.is_empty() {
        phases.push(Phase::Data { frames: data, client_bytes, server_bytes, retransmissions });
    }
    if !close.is_empty() {
        phases.push(Phase::Close { frames: close, client_first });
    }
    if !reset.is_empty() {
        let by_client = reset[0].1;
        phases.push(Phase::Reset { frames: reset.into_iter().map(|(no, _)| no).collect(), by_client });
    }
    phases
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
            len,
            options: Vec::new(),
        })
    }

    #[test]
    fn relative_numbers_and_a_retransmission() {
        let mut a = Analyzer::default();
        let ms = Duration::from_millis;
        let infos: Vec<String> = [
            seg(4000, 5050, 1000, 0, SYN, 0),
            seg(5050, 4000, 9000, 1001, SYN | ACK, 0),
            seg(4000, 5050, 1001, 9001, ACK, 0),
            seg(4000, 5050, 1001, 9001, ACK | 0x08, 55),
            seg(4000, 5050, 1001, 9001, ACK | 0x08, 55),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, d)| a.push(ms(i as u64 * 100), 66, d).info.to_string())
        .collect();
        assert_eq!(infos[0], "4000 → 5050 [SYN] Seq=0 Win=512 Len=0");
        assert_eq!(infos[1], "5050 → 4000 [SYN, ACK] Seq=0 Ack=1 Win=512 Len=0");
        assert_eq!(infos[2], "4000 → 5050 [ACK] Seq=1 Ack=1 Win=512 Len=0");
        assert_eq!(infos[3], "4000 → 5050 [PSH, ACK] Seq=1 Ack=1 Win=512 Len=55");
        assert_eq!(infos[4], "[TCP Retransmission] 4000 → 5050 [PSH, ACK] Seq=1 Ack=1 Win=512 Len=55");
    }

    #[test]
    fn duplicate_acks_name_the_original_frame() {
        let mut a = Analyzer::default();
        let t = Duration::ZERO;
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

    #[test]
    fn sequence_comparison_wraps() {
        assert!(lt(u32::MAX, 0));
        assert!(gt(5, u32::MAX - 5));
        assert!(!lt(7, 7));
    }

    fn rows_of(segments: Vec<Decoded>) -> Vec<Row> {
        let mut a = Analyzer::default();
        segments.into_iter().map(|d| a.push(Duration::ZERO, 66, d)).collect()
    }

    #[test]
    fn phases_of_a_three_segment_close_and_of_a_reset() {
        let psh = 0x08;
        let rows = rows_of(vec![
            seg(4000, 5050, 100, 0, SYN, 0),
            seg(5050, 4000, 900, 101, SYN | ACK, 0),
            seg(4000, 5050, 101, 901, ACK, 0),
            seg(4000, 5050, 101, 901, psh | ACK, 5),
            seg(5050, 4000, 901, 106, psh | ACK, 5),
            seg(4000, 5050, 106, 906, FIN | ACK, 0),
            seg(5050, 4000, 906, 107, FIN | ACK, 0),
            seg(4000, 5050, 107, 907, ACK, 0),
        ]);
        assert_eq!(
            phases(&rows),
            [
                Phase::Handshake { frames: vec![1, 2, 3] },
                Phase::Data { frames: vec![4, 5], client_bytes: 5, server_bytes: 5, retransmissions: 0 },
                Phase::Close { frames: vec![6, 7, 8], client_first: true },
            ]
        );
        let rows = rows_of(vec![seg(4000, 5050, 100, 0, SYN, 0), seg(5050, 4000, 0, 101, RST | ACK, 0)]);
        assert_eq!(
            phases(&rows),
            [Phase::Handshake { frames: vec![1] }, Phase::Reset { frames: vec![2], by_client: false }]
        );
    }
}
