//! `eco trace`: the network level of an echo exchange, captured and
//! explained — the packets of the learner's own exchange, in a table like
//! Wireshark's, with the client's calls between the rows and the phases
//! (handshake, data, close) named as the classroom exercise names them.
//!
//! - [`capture`]: AF_PACKET on `lo`, kernel BPF filter, kernel timestamps.
//! - [`packet`]: one frame → TCP fields (etherparse); never panics.
//! - [`flow`]: relative seq/ack, window scaling, analysis tags, phases.
//! - [`table`]: printing; [`pcap`]: files; kernel counters: [`crate::tcp_info`].
//! - [`exchange`]: one server + client exchange, recorded at both levels.
//! - [`namespace`]: capture without root, in a namespace of our own.

pub mod calls;
pub mod capture;
pub mod defrag;
pub mod exchange;
pub mod flow;
pub mod html;
pub mod json;
pub mod ladder;
pub mod messages;
pub mod namespace;
pub mod other;
pub mod packet;
pub mod pcap;
pub mod run;
pub mod stamp;
pub mod svg;
pub mod syscalls;
pub mod table;
pub mod tls;
pub mod view;

use std::collections::HashMap;
use std::io;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use capture::{Capture, Frame};
use exchange::{CloseWatch, Exchange, Options};
use flow::{Analyzer, ConnKey, Info, PhaseBuilder, Row};
use packet::linktype;
use pcap::Record;
use table::Table;

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
    access_with(false)
}

/// As [`access`], but always in a namespace of our own, as root too.
pub fn access_private() -> Access {
    access_with(true)
}

fn access_with(private: bool) -> Access {
    if std::env::var_os(namespace::CHILD_ENV).is_some() {
        // We are that child: end with the parent, whatever ends it (our
        // tracees then end with us); enter the namespace, or tell the
        // parent why not.
        let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
        return match namespace::enter() {
            Ok(()) => Access::Here,
            Err(_) => Access::Done(namespace::UNAVAILABLE),
        };
    }
    match Capture::open_loopback(0, Duration::from_millis(1)) {
        Ok(_) if !private => return Access::Here,
        Ok(_) => {}
        Err(e) if e.kind() != io::ErrorKind::PermissionDenied => return Access::Denied(e.to_string()),
        Err(_) => {}
    }
    if std::env::var(namespace::ALLOW_ENV).is_ok_and(|v| v == "0") {
        return Access::Denied(format!("{}=0", namespace::ALLOW_ENV));
    }
    let status = std::env::current_exe().and_then(|exe| {
        let mut child =
            Command::new(exe).args(std::env::args_os().skip(1)).env(namespace::CHILD_ENV, "1").spawn()?;
        wait_passing_signals(&mut child)
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

/// Waits for the child `eco` that works in the namespace. SIGINT and
/// SIGTERM are passed on as SIGTERM (a Ctrl-C at the terminal reaches the
/// child too, and a second SIGINT would end it without its report): it
/// then prints what it saw and ends. Meanwhile this process stays, so
/// that the shell's prompt comes back after the child's last line.
fn wait_passing_signals(child: &mut std::process::Child) -> io::Result<std::process::ExitStatus> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let terminated = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&terminated))?;
    let pid = rustix::process::Pid::from_child(child);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if terminated.swap(false, Ordering::SeqCst) | interrupted.swap(false, Ordering::SeqCst) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `eco trace` was asked to do.
pub struct TraceJob {
    pub options: Options,
    pub pcap: Option<PathBuf>,
    /// JSON Lines instead of the table.
    pub json: bool,
    pub view: view::View,
}

/// `eco trace`: one exchange, captured (when `capture`), then explained.
pub fn run_live(job: &TraceJob, capture: Result<(), String>, console: &Console) -> Result<()> {
    let exchange = exchange::run(&job.options, capture.is_ok(), console)?;
    if job.json {
        json::exchange(&exchange, console);
    } else {
        print_exchange(&exchange, exchange.mode.name(), &job.view, console)?;
    }
    if let Some(path) = &job.pcap {
        write_pcap(path, &exchange.frames, console)?;
    }
    exchange.result?;
    capture.map_err(|reason| Error::CaptureDenied { reason })
}

/// The table, events, phases, diagram and TCP_INFO of one exchange.
pub fn print_exchange(exchange: &Exchange, mode: &str, view: &view::View, console: &Console) -> Result<()> {
    let lang = console.lang();
    console.say(&Msg::Title { addr: exchange.addr, mode });
    let mut analyzer = Analyzer::default();
    let rows: Vec<Row> = exchange.frames.iter().map(|f| analyzer.push_captured(f)).collect();
    let mut phases = PhaseBuilder::for_exchange();
    for row in &rows {
        phases.see(row);
    }
    // The client is whoever sent to the server's address.
    let client = rows.iter().filter_map(Row::tcp).find(|t| t.seg.dst == exchange.addr).map(|t| t.seg.src);
    let client = client.unwrap_or(exchange.addr);
    let payloads = rows
        .iter()
        .filter_map(|r| {
            let len = r.tcp()?.seg.payload_len();
            (len > 0)
                .then(|| Some((r.no, view::payload(&exchange.frames.get(r.no - 1)?.data, len)?)))
                .flatten()
        })
        .collect();
    let conn = view::Connection {
        rows: rows.iter().collect(),
        events: exchange
            .events
            .iter()
            .map(|(ts, e)| (*ts, Some(client), lang.text(&Msg::Event(*e))))
            .collect(),
        phases: if exchange.frames.is_empty() { Vec::new() } else { phases.finish() },
        client: ladder::Side { addr: client, name: lang.text(&messages::Role::Client) },
        server: ladder::Side { addr: exchange.addr, name: lang.text(&messages::Role::Server) },
        payloads,
    };
    view::table(&conn, console);
    for line in exchange.client_err.text().lines() {
        console.say(&Raw(line));
    }
    view::phases(&conn, console);
    view::pictures(&conn, view, console);
    if let Some(info) = &exchange.tcp_info {
        table::print_tcp_info(console, info);
    }
    let title = lang.text(&Msg::Title { addr: exchange.addr, mode });
    view::export(std::slice::from_ref(&conn), &[], view, title.trim_matches(['─', ' ']), console)
}

pub(crate) fn write_pcap(path: &Path, frames: &[Frame], console: &Console) -> Result<()> {
    pcap::write(path, frames).map_err(|source| Error::WriteFile { path: path.to_owned(), source })?;
    console.note(&Msg::PcapWritten { path: &path.display().to_string(), frames: frames.len() });
    Ok(())
}

/// What `eco trace --read` was asked to do.
pub struct ReadJob {
    /// The capture file (`-`: standard input).
    pub path: PathBuf,
    /// JSON Lines instead of the table.
    pub json: bool,
    /// Only this TCP connection (its index, from 0, as `tcp.stream`).
    pub stream: Option<u32>,
    /// Only frames to or from this port (TCP or UDP).
    pub port: Option<u16>,
    /// Diagrams, bytes and exports of the first connections.
    pub view: view::View,
}

impl ReadJob {
    fn selects(&self, row: &Row) -> bool {
        let tcp = row.tcp();
        let stream_ok = self.stream.is_none_or(|s| tcp.is_some_and(|t| t.stream == s));
        let port_ok = self.port.is_none_or(|p| match (&row.info, tcp) {
            (_, Some(t)) => t.seg.src.port() == p || t.seg.dst.port() == p,
            (Info::Udp { sport, dport, .. }, None) => *sport == p || *dport == p,
            _ => false,
        });
        stream_ok && port_ok
    }
}

/// `eco trace --read FILE`: the table (or JSON Lines) for any pcap or
/// pcapng file, frame by frame as it is read, then the phases of each TCP
/// connection. Memory grows with the connections, not with the frames.
pub fn run_read(job: &ReadJob, console: &Console) -> Result<u8> {
    let read_error = |source| Error::PcapRead { path: job.path.clone(), source };
    let mut reader = pcap::Reader::open(&job.path).map_err(read_error)?;
    let mut analyzer = Analyzer::default();
    let mut table = Table::new(console, Vec::new());
    let mut connections = Connections::new(job.json);
    let mut pictured = Pictured::new(&job.view);
    let mut unknown_links = Vec::new();
    while let Some(record) = reader.next_record() {
        let record_data = record;
        let row = match &record_data {
            Record::Packet(packet) => {
                if !linktype::known(packet.link) && !unknown_links.contains(&packet.link) {
                    unknown_links.push(packet.link);
                }
                analyzer.push_frame(packet.ts, packet.link, &packet.data, packet.orig_len)
            }
            Record::Custom { pen, copy, len } => analyzer.push_custom(*pen, *copy, *len),
        };
        for stream in analyzer.take_ended() {
            connections.end(stream, console);
        }
        if let Some(tcp) = row.tcp() {
            connections.seen_all = connections.seen_all.max(u64::from(tcp.stream) + 1);
        }
        if !job.selects(&row) {
            continue;
        }
        connections.see(&row);
        if let Record::Packet(packet) = &record_data {
            pictured.see(&row, packet.link, &packet.data);
        }
        if job.json {
            json::frame(console, &row);
        } else {
            table.row(&row);
        }
        if console.stdout_gone() {
            return Ok(0);
        }
    }
    if !job.json {
        table.finish();
    }
    let (shown, seen_all) = (connections.shown, connections.seen_all);
    connections.print(console);
    let title = job.path.display().to_string();
    pictured.show(&job.view, &title, console)?;
    console.flush_out();
    let path = job.path.display().to_string();
    for link in unknown_links {
        console.warn(&Msg::UnknownLink { path: &path, link });
    }
    if shown == 0 && (job.stream.is_some() || job.port.is_some()) {
        console.note(&Msg::NothingSelected { stream: job.stream, port: job.port, connections: seen_all });
    }
    match reader.warning() {
        // Cut short (a capture stopped mid-write): the frames are all there
        // but the last; a damaged file is bad input.
        Some(warning @ pcap::Warning::CutShort) => {
            console.warn(&Msg::FileWarning { path: &path, warning });
            Ok(0)
        }
        Some(warning) => {
            console.warn(&Msg::FileWarning { path: &path, warning });
            Ok(1)
        }
        None => Ok(0),
    }
}

/// The first connections of a capture, kept whole for their pictures
/// (`--diagram`, `--bytes`, `--svg`, `--html`, `--mermaid`): at most
/// [`PICTURED`] connections of at most [`PICTURED_ROWS`] frames each.
struct Pictured {
    wanted: bool,
    streams: Vec<(u32, Vec<Row>, Payloads)>,
}

/// Frame numbers and the bytes their segments carried.
type Payloads = Vec<(usize, Vec<u8>)>;

const PICTURED: usize = 20;
const PICTURED_ROWS: usize = 2000;

impl Pictured {
    fn new(view: &view::View) -> Pictured {
        Pictured { wanted: view.diagram || view.bytes || view.exports(), streams: Vec::new() }
    }

    fn see(&mut self, row: &Row, link: u32, data: &[u8]) {
        let Some(tcp) = row.tcp().filter(|_| self.wanted) else { return };
        let index = match self.streams.iter().position(|(s, ..)| *s == tcp.stream) {
            Some(index) => index,
            None if self.streams.len() < PICTURED => {
                self.streams.push((tcp.stream, Vec::new(), Vec::new()));
                self.streams.len() - 1
            }
            None => return,
        };
        let (_, rows, payloads) = &mut self.streams[index];
        if rows.len() >= PICTURED_ROWS {
            return;
        }
        let len = tcp.seg.payload_len();
        if len > 0
            && link == linktype::ETHERNET
            && let Some(bytes) = view::payload(data, len)
        {
            payloads.push((row.no, bytes));
        }
        rows.push(row.clone());
    }

    fn show(&self, view: &view::View, title: &str, console: &Console) -> Result<()> {
        let lang = console.lang();
        let mut conns = Vec::new();
        for (_, rows, payloads) in &self.streams {
            let mut phases = PhaseBuilder::default();
            for row in rows {
                phases.see(row);
            }
            let Some((client, server)) = phases.endpoints() else { continue };
            conns.push(view::Connection {
                rows: rows.iter().collect(),
                events: Vec::new(),
                phases: phases.finish(),
                client: ladder::Side { addr: client, name: lang.text(&messages::Role::Client) },
                server: ladder::Side { addr: server, name: lang.text(&messages::Role::Server) },
                payloads: payloads.clone(),
            });
        }
        for conn in &conns {
            if view.diagram || view.bytes {
                console.say(&view::Words::Connection { client: &conn.client, server: &conn.server });
            }
            view::pictures(conn, view, console);
        }
        view::export(&conns, &[], view, title, console)
    }
}

/// The TCP connections of a capture: what the phases of each open one
/// need (not its frames), and the phases of the ended ones. With `--json`
/// a connection's object goes out as soon as it has ended; the table
/// prints the phases after the frames, for the first [`MAX_PHASES`]
/// connections (a capture of a million connections has a million of them).
struct Connections {
    json: bool,
    open: HashMap<u32, (ConnKey, PhaseBuilder)>,
    /// Ended connections whose phases the table prints: their builders,
    /// which a late frame (a connection idle for long, then back) still feeds.
    ended: Vec<(u32, ConnKey, PhaseBuilder)>,
    /// Connections seen (selected, and all), and those whose phases were not kept.
    seen: u64,
    seen_all: u64,
    untold: u64,
    /// Frames selected and shown.
    shown: u64,
    /// Streams already ended: a late frame of one (a FIN sent again) is
    /// not a connection of its own.
    gone: lru::LruCache<u32, ()>,
}

/// Connections whose phases the table prints, at most.
const MAX_PHASES: usize = 100;

impl Connections {
    fn new(json: bool) -> Connections {
        let gone = lru::LruCache::new(std::num::NonZeroUsize::new(1 << 16).expect("not zero"));
        Connections {
            json,
            open: HashMap::new(),
            ended: Vec::new(),
            seen: 0,
            seen_all: 0,
            untold: 0,
            shown: 0,
            gone,
        }
    }

    fn see(&mut self, row: &Row) {
        self.shown += 1;
        let Some(tcp) = row.tcp() else { return };
        if self.gone.contains(&tcp.stream) {
            // Back after it was let go: its phases go on.
            if let Some((.., builder)) = self.ended.iter_mut().find(|(s, ..)| *s == tcp.stream) {
                builder.see(row);
            }
            return;
        }
        let seen = &mut self.seen;
        let (_, builder) = self.open.entry(tcp.stream).or_insert_with(|| {
            *seen += 1;
            (tcp.conn, PhaseBuilder::default())
        });
        builder.see(row);
    }

    /// Stream `stream` is over: its phases are told (JSON) or kept.
    fn end(&mut self, stream: u32, console: &Console) {
        let Some((conn, builder)) = self.open.remove(&stream) else { return };
        self.gone.push(stream, ());
        if self.json {
            let (client, server) = builder.endpoints().unwrap_or((conn.0, conn.1));
            let phases = builder.finish();
            let connection = json::Connection {
                stream,
                client: client.to_string(),
                server: server.to_string(),
                phases: &phases,
            };
            json::connection(console, connection);
        } else if self.ended.len() < MAX_PHASES {
            self.ended.push((stream, conn, builder));
        } else {
            self.untold += 1;
        }
    }

    /// The end of the capture: the connections still open end too, and
    /// the table's phases are printed, in the order the connections began.
    fn print(mut self, console: &Console) {
        let mut open: Vec<u32> = self.open.keys().copied().collect();
        open.sort_unstable();
        for stream in open {
            self.end(stream, console);
        }
        if self.json {
            return;
        }
        self.ended.sort_by_key(|(stream, ..)| *stream);
        let many = self.seen > 1;
        for (_, conn, builder) in self.ended {
            if many {
                console.say(&Msg::ConnectionTitle { conn });
            } else {
                console.say(&Msg::PhasesTitle);
            }
            table::print_phases(console, &builder.finish());
        }
        if self.untold > 0 {
            console.say(&Msg::MorePhases { connections: self.untold });
        }
    }
}

/// `eco trace --attach --port P`: every connection to a running server,
/// printed when it closes, until Ctrl-C or `count` connections.
pub fn run_attach(port: u16, count: Option<u64>, console: &Console) -> Result<()> {
    let mut capture = Capture::open_loopback(port, Duration::from_millis(100)).map_err(|source| {
        if source.kind() == io::ErrorKind::PermissionDenied {
            Error::AttachDenied { reason: source.to_string() }
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
        let decoded = packet::decode(linktype::ETHERNET, &frame.data, frame.orig_len);
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
    let mut analyzer = Analyzer::default();
    let mut table = Table::new(console, Vec::new());
    let mut phases = PhaseBuilder::default();
    for frame in frames {
        let row = analyzer.push_captured(frame);
        phases.see(&row);
        table.row(&row);
    }
    table.finish();
    console.say(&Msg::PhasesTitle);
    table::print_phases(console, &phases.finish());
}
