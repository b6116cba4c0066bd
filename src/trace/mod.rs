//! `eco trace`: the network level of an echo exchange, captured and
//! explained — the packets of the learner's own exchange, in a table like
//! Wireshark's, with the client's calls between the rows and the phases
//! (handshake, data, close) named as the classroom exercise names them.
//!
//! - [`capture`]: AF_PACKET on `lo`, kernel BPF filter, kernel timestamps.
//! - [`packet`]: one frame → TCP fields (etherparse); never panics.
//! - [`flow`]: relative seq/ack, window scaling, analysis tags, phases.
//! - [`table`]: printing; [`pcap`]: files; [`tcp_info`]: kernel counters.
//! - [`exchange`]: one server + client exchange, recorded at both levels.
//! - [`namespace`]: capture without root, in a namespace of our own.

pub mod capture;
pub mod exchange;
pub mod flow;
pub mod messages;
pub mod namespace;
pub mod packet;
pub mod pcap;
pub mod table;
pub mod tcp_info;

use std::collections::HashMap;
use std::io;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use capture::{Capture, Frame};
use exchange::{CloseWatch, Exchange, Options};
use flow::{Analyzer, ConnKey, Row};
use packet::Link;

use crate::console::Console;
use crate::error::{Error, Result};
use crate::i18n::Raw;
use messages::Msg;

/// Whether this process can capture on `lo`, and how.
pub enum Access {
    /// Here: root, CAP_NET_RAW, or already inside our own namespace.
    Here,
    /// Nothing more to do in this process: exit with this status. Either a
    /// child `eco` ran the command inside a namespace (its status), or this
    /// is that child and it could not enter one (a status that tells the
    /// parent so).
    Done(u8),
    /// Not possible: why (printed with what to do instead).
    Denied(String),
}

/// Finds a way to capture, starting a child in a new namespace if needed.
/// Call this before any thread is started (see [`namespace`]).
pub fn access() -> Access {
    if std::env::var_os(namespace::CHILD_ENV).is_some() {
        // We are that child: enter the namespace, or tell the parent why not.
        return match namespace::enter() {
            Ok(()) => Access::Here,
            Err(_) => Access::Done(namespace::UNAVAILABLE),
        };
    }
    match Capture::open_loopback(0, Duration::from_millis(1)) {
        Ok(_) => return Access::Here,
        Err(e) if e.kind() != io::ErrorKind::PermissionDenied => return Access::Denied(e.to_string()),
        Err(_) => {}
    }
    if std::env::var(namespace::ALLOW_ENV).is_ok_and(|v| v == "0") {
        return Access::Denied(format!("{}=0", namespace::ALLOW_ENV));
    }
    let status = std::env::current_exe().and_then(|exe| {
        Command::new(exe).args(std::env::args_os().skip(1)).env(namespace::CHILD_ENV, "1").status()
    });
    match status.map(|s| s.code()) {
        Ok(Some(code)) if code == i32::from(namespace::UNAVAILABLE) => {
            Access::Denied("user namespaces are not allowed here".into())
        }
        Ok(Some(code)) => Access::Done(code.clamp(0, 255) as u8),
        Ok(None) => Access::Done(1),
        Err(e) => Access::Denied(e.to_string()),
    }
}

/// What `eco trace` was asked to do.
pub struct TraceJob {
    pub options: Options,
    pub pcap: Option<PathBuf>,
}

/// `eco trace`: one exchange, captured (when `capture`), then explained.
pub fn run_live(job: &TraceJob, capture: Result<(), String>, console: &Console) -> Result<()> {
    let exchange = exchange::run(&job.options, capture.is_ok(), console.lang())?;
    print_exchange(&exchange, job.options.mode.name(), console);
    if let Some(path) = &job.pcap {
        write_pcap(path, &exchange.frames, console)?;
    }
    exchange.result?;
    capture.map_err(|reason| Error::CaptureDenied { reason })
}

/// The table, events, phases and TCP_INFO of one exchange.
pub fn print_exchange(exchange: &Exchange, mode: &str, console: &Console) {
    console.say(&Msg::Title { addr: exchange.addr, mode });
    let rows = analyze(exchange.frames.iter().map(|f| (f, Some(Link::Ethernet))));
    table::print_table(console, &rows, &exchange.events);
    for line in exchange.client_err.text().lines() {
        console.say(&Raw(line));
    }
    if !rows.is_empty() {
        console.say(&Msg::PhasesTitle);
        table::print_phases(console, &flow::phases(&rows));
    }
    if let Some(info) = &exchange.tcp_info {
        table::print_tcp_info(console, info);
    }
}

fn write_pcap(path: &Path, frames: &[Frame], console: &Console) -> Result<()> {
    pcap::write(path, frames).map_err(|source| Error::WriteFile { path: path.to_owned(), source })?;
    console.note(&Msg::PcapWritten { path: &path.display().to_string(), frames: frames.len() });
    Ok(())
}

/// Decodes and analyzes frames in order: the table's rows.
fn analyze<'a>(frames: impl Iterator<Item = (&'a Frame, Option<Link>)>) -> Vec<Row> {
    let mut analyzer = Analyzer::default();
    frames
        .map(|(frame, link)| {
            let decoded = match link {
                Some(link) => packet::decode(link, &frame.data),
                None => packet::Decoded::Malformed {
                    src: "?".into(),
                    dst: "?".into(),
                    reason: "link type not supported".into(),
                },
            };
            analyzer.push(frame.ts, frame.orig_len, decoded)
        })
        .collect()
}

/// `eco trace --read FILE`: the table for any pcap or pcapng file.
pub fn run_read(path: &Path, console: &Console) -> Result<()> {
    let frames = pcap::read(path).map_err(|source| Error::PcapRead { path: path.to_owned(), source })?;
    let rows = analyze(frames.iter().map(|f| (&f.frame, f.link)));
    table::print_table(console, &rows, &[]);
    let conversations = group_by_connection(&rows);
    for (key, rows) in &conversations {
        if conversations.len() > 1 {
            console.say(&Msg::ConnectionTitle { conn: *key });
        } else {
            console.say(&Msg::PhasesTitle);
        }
        table::print_phases(console, &flow::phases(rows));
    }
    Ok(())
}

/// Rows of each TCP connection, in order of first appearance.
fn group_by_connection(rows: &[Row]) -> Vec<(ConnKey, Vec<Row>)> {
    let mut order: Vec<ConnKey> = Vec::new();
    let mut groups: HashMap<ConnKey, Vec<Row>> = HashMap::new();
    for row in rows {
        let Some(tcp) = row.tcp() else { continue };
        if !groups.contains_key(&tcp.conn) {
            order.push(tcp.conn);
        }
        groups.entry(tcp.conn).or_default().push(row.clone());
    }
    order.into_iter().filter_map(|key| groups.remove(&key).map(|rows| (key, rows))).collect()
}

/// `eco trace --attach --port P`: every connection to a running server,
/// printed when it closes, until Ctrl-C or `count` connections.
pub fn run_attach(port: u16, count: Option<u64>, console: &Console) -> Result<()> {
    let mut capture = Capture::open_loopback(port, Duration::from_millis(100)).map_err(|source| {
        if source.kind() == io::ErrorKind::PermissionDenied {
            Error::CaptureDenied { reason: source.to_string() }
        } else {
            Error::Capture { source }
        }
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|source| Error::Io { doing: crate::error::Doing::Setup, source })?;
    }
    console.note(&Msg::Attached { port });
    let mut open: HashMap<ConnKey, (Vec<Frame>, CloseWatch)> = HashMap::new();
    let mut order: Vec<ConnKey> = Vec::new();
    let mut shown = 0u64;
    // Until Ctrl-C, `--count` connections, or a reader of stdout that has
    // gone (`eco trace --attach | head`).
    while !stop.load(Ordering::SeqCst) && count.is_none_or(|n| shown < n) && !console.stdout_gone() {
        let frame = match capture.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => continue,
            Err(source) => return Err(Error::Capture { source }),
        };
        let decoded = packet::decode(Link::Ethernet, &frame.data);
        let packet::Decoded::Tcp(seg) = &decoded else { continue };
        let (key, _) = ConnKey::of(seg);
        let (frames, watch) = open.entry(key).or_insert_with(|| {
            order.push(key);
            (Vec::new(), CloseWatch::default())
        });
        let closed = watch.see(&decoded);
        frames.push(frame);
        if closed {
            order.retain(|k| *k != key);
            if let Some((frames, _)) = open.remove(&key) {
                print_connection(key, &frames, console);
                shown += 1;
            }
        }
    }
    // Stopped: show what was seen of connections still open.
    for key in order {
        if let Some((frames, _)) = open.remove(&key) {
            print_connection(key, &frames, console);
        }
    }
    Ok(())
}

fn print_connection(key: ConnKey, frames: &[Frame], console: &Console) {
    console.say(&Msg::ConnectionTitle { conn: key });
    let rows = analyze(frames.iter().map(|f| (f, Some(Link::Ethernet))));
    table::print_table(console, &rows, &[]);
    console.say(&Msg::PhasesTitle);
    table::print_phases(console, &flow::phases(&rows));
}
