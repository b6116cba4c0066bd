//! `eco trace --json`: JSON Lines, one object per frame as it is analysed
//! (and, for eco's own exchange, per call of the client, in time order),
//! then one object per TCP connection with its phases. For scripts and
//! `jq`; the fields are documented on the structs.

use serde::Serialize;

use super::exchange::Exchange;
use super::flow::{Analyzer, Phase, PhaseBuilder, Row, Tags};
use super::messages::Msg;
use super::packet::FlagList;
use super::stamp::Stamp;
use crate::console::Console;
use crate::i18n::Raw;
use crate::i18n::Text;

/// One frame.
#[derive(Serialize)]
pub struct Frame<'a> {
    /// Frame number, from 1 (as Wireshark numbers them).
    pub number: usize,
    /// Seconds since the first frame (`null`: the record had no time).
    pub time: Option<f64>,
    pub source: &'a str,
    pub destination: &'a str,
    pub protocol: &'a str,
    /// Bytes on the wire.
    pub length: u32,
    /// The Info column, as tshark's.
    pub info: String,
    /// For TCP segments: the fields a script wants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Tcp>,
}

/// The TCP fields of a frame.
#[derive(Serialize)]
pub struct Tcp {
    /// Which connection, from 0 in order of appearance (tshark's `tcp.stream`).
    pub stream: u32,
    pub srcport: u16,
    pub dstport: u16,
    /// The flags as Wireshark lists them (`["SYN", "ACK"]`).
    pub flags: Vec<String>,
    /// Sequence number relative to this direction's first.
    pub seq: u32,
    /// Acknowledgment number, relative (`null` without the ACK flag).
    pub ack: Option<u32>,
    /// Payload bytes.
    pub len: u32,
    /// The window as Wireshark shows it (scaled once both SYNs agreed).
    pub window: u32,
    /// Wireshark's analysis of the segment: `retransmission`,
    /// `fast_retransmission`, `spurious_retransmission`, `out_of_order`,
    /// `previous_segment_not_captured`, `acked_unseen_segment`,
    /// `duplicate_ack`, `window_update`, `window_full`, `zero_window`,
    /// `keep_alive`, ...
    pub analysis: Vec<&'static str>,
    /// With `duplicate_ack`: the frame that first sent this ACK, and the count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<(usize, u32)>,
    /// The TLS records that start in the payload, as Wireshark names them
    /// (`Client Hello`), when it carries TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
}

/// One TCP connection, after the last frame.
#[derive(Serialize)]
pub struct Connection<'a> {
    pub stream: u32,
    /// The two endpoints; the client (the side that sent the first SYN, or
    /// the first sender) first.
    pub client: String,
    pub server: String,
    pub phases: &'a [Phase],
}

#[derive(Serialize)]
struct ConnectionLine<'a> {
    connection: Connection<'a>,
}

/// Writes `row` as one line.
pub fn frame(console: &Console, row: &Row) {
    let tcp = row.tcp().map(|t| Tcp {
        stream: t.stream,
        srcport: t.seg.src.port(),
        dstport: t.seg.dst.port(),
        flags: flag_names(t.seg.flags, t.ace),
        seq: t.seq,
        ack: t.ack,
        len: t.seg.payload_len(),
        window: t.window,
        analysis: analysis(&t.tags),
        duplicate_of: t.tags.dup_ack,
        tls: t.seg.tls.clone(),
    });
    let frame = Frame {
        number: row.no,
        time: row.time.map(Stamp::seconds),
        source: &row.src,
        destination: &row.dst,
        protocol: &row.protocol,
        length: row.length,
        info: row.info.to_string(),
        tcp,
    };
    line(console, &frame);
}

/// Writes a connection's line.
pub fn connection(console: &Console, connection: Connection<'_>) {
    line(console, &ConnectionLine { connection });
}

fn line(console: &Console, value: &impl Serialize) {
    if let Ok(text) = serde_json::to_string(value) {
        console.say(&Raw(&text));
    }
}

fn flag_names(flags: u16, ace: bool) -> Vec<String> {
    let list = FlagList(flags, ace).to_string();
    let inner = list.trim_start_matches('[').trim_end_matches(']');
    if inner == "<None>" { Vec::new() } else { inner.split(", ").map(String::from).collect() }
}

fn analysis(tags: &Tags) -> Vec<&'static str> {
    [
        (tags.retransmission && !tags.fast && !tags.spurious, "retransmission"),
        (tags.fast, "fast_retransmission"),
        (tags.spurious, "spurious_retransmission"),
        (tags.out_of_order, "out_of_order"),
        (tags.lost_segment, "previous_segment_not_captured"),
        (tags.acked_unseen, "acked_unseen_segment"),
        (tags.dup_ack.is_some(), "duplicate_ack"),
        (tags.window_update, "window_update"),
        (tags.window_full, "window_full"),
        (tags.zero_window, "zero_window"),
        (tags.keep_alive, "keep_alive"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name)
    .collect()
}

/// A call of eco's client during its exchange (the table's `»` rows).
#[derive(Serialize)]
struct Event {
    /// Seconds since the first frame (negative: before it).
    time: f64,
    /// What the client did, in the output's language.
    text: String,
}

#[derive(Serialize)]
struct EventLine {
    event: Event,
}

/// The kernel's counters for the client's socket, before close().
#[derive(Serialize)]
struct TcpInfoLine {
    tcp_info: TcpInfoFields,
}

#[derive(Serialize)]
struct TcpInfoFields {
    rtt_ms: f64,
    rttvar_ms: f64,
    rto_ms: f64,
    snd_cwnd: u32,
    total_retrans: u32,
    segs_out: u32,
    segs_in: u32,
    bytes_acked: u64,
    bytes_received: u64,
}

/// `eco trace --json` for eco's own exchange: its frames and the client's
/// calls in time order, then the connection with its phases, then the
/// client socket's TCP_INFO.
pub fn exchange(exchange: &Exchange, console: &Console) {
    let mut analyzer = Analyzer::default();
    let mut phases = PhaseBuilder::for_exchange();
    let mut events = exchange.events.iter().peekable();
    let first = exchange.frames.first().map(|f| f.ts);
    let since_first = |ts: std::time::Duration| match first {
        Some(first) if ts >= first => (ts - first).as_secs_f64(),
        Some(first) => -(first - ts).as_secs_f64(),
        None => 0.0,
    };
    let event = |ts, e: &super::exchange::AppEvent| EventLine {
        event: Event { time: since_first(ts), text: Msg::Event(*e).text(console.lang()) },
    };
    for captured in &exchange.frames {
        while let Some((ts, e)) = events.next_if(|(ts, _)| *ts <= captured.ts) {
            line(console, &event(*ts, e));
        }
        let row = analyzer.push_captured(captured);
        phases.see(&row);
        frame(console, &row);
    }
    for (ts, e) in events {
        line(console, &event(*ts, e));
    }
    if !exchange.frames.is_empty() {
        let (client, server) =
            phases.endpoints().map(|(c, s)| (c.to_string(), s.to_string())).unwrap_or_default();
        let phases = phases.finish();
        connection(console, Connection { stream: 0, client, server, phases: &phases });
    }
    if let Some(info) = &exchange.tcp_info {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        line(
            console,
            &TcpInfoLine {
                tcp_info: TcpInfoFields {
                    rtt_ms: ms(info.rtt),
                    rttvar_ms: ms(info.rttvar),
                    rto_ms: ms(info.rto),
                    snd_cwnd: info.snd_cwnd,
                    total_retrans: info.total_retrans,
                    segs_out: info.segs_out,
                    segs_in: info.segs_in,
                    bytes_acked: info.bytes_acked,
                    bytes_received: info.bytes_received,
                },
            },
        );
    }
}
