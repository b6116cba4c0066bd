//! From segments to the rows of the table, as Wireshark shows them.
//!
//! Wireshark does not print sequence numbers as they are on the wire: it
//! subtracts each direction's first number (the ISN), scales the window
//! once both SYNs agreed on a scale, and marks segments that repeat or skip
//! data. This file keeps that state per connection and direction and writes
//! the Info column exactly as tshark 4.0 does for TCP.

use std::collections::HashMap;
use std::fmt::Write as _;
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
    pub info: String,
    /// The segment, for the phase notes; `None` for other frames.
    pub segment: Option<Segment>,
}

/// State of one direction of a connection (Wireshark's `tcp_flow_t`).
#[derive(Debug, Default)]
struct Dir {
    /// The number shown as 0: the ISN (or the first seq seen, minus one).
    base: Option<u32>,
    /// Window scale from this side's SYN: `Some(Some(s))` with the option,
    /// `Some(None)` without it, `None` if its SYN was not seen.
    ws: Option<Option<u8>>,
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

/// The analysis tags Wireshark puts in front of the Info text.
#[derive(Debug, Default)]
struct Tags {
    retransmission: bool,
    fast: bool,
    spurious: bool,
    out_of_order: bool,
    lost_segment: bool,
    acked_unseen: bool,
    window_update: bool,
    window_full: bool,
    keep_alive: bool,
    zero_window: bool,
    dup_ack: Option<(usize, u32)>,
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
    conns: HashMap<(SocketAddr, SocketAddr), Conn>,
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
        let (src, dst, protocol, info, segment) = match decoded {
            Decoded::Tcp(seg) => {
                let info = self.tcp_info(no, ts, &seg);
                (seg.src.ip().to_string(), seg.dst.ip().to_string(), "TCP", info, Some(seg))
            }
            Decoded::Other { src, dst, protocol } => (src, dst, protocol, String::new(), None),
            Decoded::Malformed { src, dst, reason } => {
                (src, dst, "?", format!("[Malformed frame: {reason}]"), None)
            }
        };
        Row { no, time, ts, src, dst, protocol, length, info, segment }
    }

    fn tcp_info(&mut self, no: usize, ts: Duration, seg: &Segment) -> String {
        // The two directions of a connection share one entry: key it by
        // the ordered pair, and index the directions by which end sent.
        let (key, fwd_index) =
            if seg.src <= seg.dst { ((seg.src, seg.dst), 0) } else { ((seg.dst, seg.src), 1) };
        let conn = self.conns.entry(key).or_default();
        if seg.has(SYN) && !seg.has(ACK) {
            conn.syn_ts = Some(ts);
        } else if seg.has(ACK) && !seg.has(SYN) && conn.first_rtt.is_none() {
            conn.first_rtt = conn.syn_ts.map(|syn| ts.saturating_sub(syn));
        }
        let out_of_order_threshold =
            conn.first_rtt.filter(|rtt| !rtt.is_zero()).unwrap_or(OUT_OF_ORDER_THRESHOLD);
        let (a, b) = conn.dirs.split_at_mut(1);
        let (fwd, rev) = if fwd_index == 0 { (&mut a[0], &mut b[0]) } else { (&mut b[0], &mut a[0]) };

        if seg.has(SYN) {
            fwd.ws = Some(seg.window_shift());
        }
        let base = *fwd.base.get_or_insert(if seg.has(SYN) { seg.seq } else { seg.seq.wrapping_sub(1) });
        if seg.has(ACK) && rev.base.is_none() {
            rev.base = Some(seg.ack.wrapping_sub(1));
        }
        let rev_base = rev.base.unwrap_or(0);
        // Window: raw on SYNs; scaled afterwards when both SYNs carried WS.
        let window = match (seg.has(SYN), fwd.ws, rev.ws) {
            (false, Some(Some(shift)), Some(Some(_))) => u32::from(seg.window) << shift.min(14),
            _ => u32::from(seg.window),
        };

        let tags = analyze(no, ts, seg, window, out_of_order_threshold, fwd, rev);

        // Wireshark prepends each tag in turn, so the last checked comes first.
        let dup_ack = tags.dup_ack.map(|(frame, count)| format!("[TCP Dup ACK {frame}#{count}] "));
        let prefixes = [
            (tags.out_of_order, "[TCP Out-Of-Order] "),
            (tags.fast, "[TCP Fast Retransmission] "),
            (tags.spurious, "[TCP Spurious Retransmission] "),
            (tags.zero_window, "[TCP ZeroWindow] "),
            (dup_ack.is_some(), dup_ack.as_deref().unwrap_or_default()),
            (tags.window_full, "[TCP Window Full] "),
            (tags.window_update, "[TCP Window Update] "),
            (tags.keep_alive, "[TCP Keep-Alive] "),
            (tags.acked_unseen, "[TCP ACKed unseen segment] "),
            (tags.lost_segment, "[TCP Previous segment not captured] "),
            (tags.retransmission && !tags.fast && !tags.spurious, "[TCP Retransmission] "),
        ];
        let mut info: String = prefixes.iter().filter(|(set, _)| *set).map(|(_, text)| *text).collect();
        let _ = write!(
            info,
            "{} → {} {} Seq={}",
            seg.src.port(),
            seg.dst.port(),
            FlagList(seg.flags),
            seg.seq.wrapping_sub(base)
        );
        if seg.has(ACK) {
            let _ = write!(info, " Ack={}", seg.ack.wrapping_sub(rev_base));
        }
        let _ = write!(info, " Win={window}");
        if seg.has(URG) {
            let _ = write!(info, " Urg={}", seg.urgent);
        }
        let _ = write!(info, " Len={}", seg.len);
        for option in &seg.options {
            match option {
                TcpOpt::Mss(mss) => {
                    let _ = write!(info, " MSS={mss}");
                }
                TcpOpt::SackPerm => info.push_str(" SACK_PERM"),
                TcpOpt::Timestamp { val, ecr } => {
                    let _ = write!(info, " TSval={val} TSecr={ecr}");
                }
                TcpOpt::WindowScale(shift) => {
                    let _ = write!(info, " WS={}", 1u32 << (*shift).min(14));
                }
                TcpOpt::Sack(blocks) => {
                    for (left, right) in blocks {
                        let _ = write!(
                            info,
                            " SLE={} SRE={}",
                            left.wrapping_sub(rev_base),
                            right.wrapping_sub(rev_base)
                        );
                    }
                }
            }
        }
        info
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
    let scaling_off = fwd.ws == Some(None) || rev.ws == Some(None);
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
    let segments: Vec<(usize, &Segment, &str)> =
        rows.iter().filter_map(|r| r.segment.as_ref().map(|s| (r.no, s, r.info.as_str()))).collect();
    let Some(client) = segments
        .iter()
        .find(|(_, s, _)| s.has(SYN) && !s.has(ACK))
        .or(segments.first())
        .map(|(_, s, _)| s.src)
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
    for (no, seg, info) in &segments {
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
            retransmissions += usize::from(info.contains("Retransmission]"));
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
        .map(|(i, d)| a.push(ms(i as u64 * 100), 66, d).info)
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
        assert!(!third.info.contains("Dup"));
        assert!(fourth.info.starts_with("[TCP Dup ACK 3#1] "), "{}", fourth.info);
        assert!(fifth.info.starts_with("[TCP Dup ACK 3#2] "), "{}", fifth.info);
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
