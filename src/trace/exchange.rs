//! One echo exchange on loopback, recorded at both levels: the packets
//! (captured on `lo`) and the client's calls (timestamped as they return).
//!
//! The order of steps is the point: listen, then open the capture, and only
//! then let the client connect. On loopback the whole handshake is over
//! before `connect()` returns, so a capture opened later misses the SYN.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::capture::{Capture, Frame};
use super::packet::{self, ACK, Decoded, FIN, RST, linktype};
use crate::console::{Captured, Console};
use crate::error::{Doing, Error, Result};
use crate::tcp_info::{TcpInfo, tcp_info};
use crate::{client, server};

/// A call of the client, as the table shows it between the packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEvent {
    ConnectCalled,
    ConnectReturned,
    Sent(usize),
    EchoReceived(usize),
    /// `--tls`: the client's TLS handshake is over.
    TlsDone,
    CloseCalled,
}

pub struct Options {
    /// 127.0.0.1 or ::1 (any loopback address), port 0 for a free one.
    pub addr: SocketAddr,
    pub message: String,
    pub mode: server::Mode,
    pub ack_fin_apart: bool,
    /// Echo over TLS (a self-signed server, a client that accepts it).
    pub tls: bool,
}

/// Everything one exchange produced.
pub struct Exchange {
    /// Where the server listened.
    pub addr: SocketAddr,
    /// The mode that served it (`--mode uring` may serve as async).
    pub mode: server::Mode,
    pub server_out: Captured,
    pub server_err: Captured,
    pub client_out: Captured,
    pub client_err: Captured,
    /// The captured frames (empty without capture).
    pub frames: Vec<Frame>,
    /// The client's calls, each with the time it happened (since the epoch,
    /// the clock of the kernel's packet timestamps).
    pub events: Vec<(Duration, AppEvent)>,
    /// The client socket's TCP_INFO just before close().
    pub tcp_info: Option<TcpInfo>,
    /// How the client's side went.
    pub result: Result<()>,
}

/// How long after the client is done the capture waits for the closing
/// segments (and how long it waits at most, all told).
const LINGER: Duration = Duration::from_secs(2);
const DEADLINE: Duration = Duration::from_secs(30);

pub fn run(options: &Options, capture: bool, console: &Console) -> Result<Exchange> {
    let lang = console.lang();
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    let tls =
        options.tls.then(|| crate::tls::Server::new(&crate::tls::ServerOptions::default())).transpose()?;
    let mut config = server::Config {
        once: true,
        handle_signals: false,
        ack_fin_apart: options.ack_fin_apart,
        tls,
        ..server::Config::new(options.mode)
    };
    // `--mode uring` where it serves as async: said here (the server's own
    // notes are the exchange's, not shown), and the title names the mode
    // that served.
    let (mode, fallback) = server::effective_mode(&config);
    if let Some(why) = fallback {
        console.note(&server::Msg::UringFallback { why: &why });
    }
    config.mode = mode;
    let listener = server::listen(options.addr, false, &config)?;
    let addr = listener.local_addr().map_err(setup)?;
    let capture = if capture {
        Some(
            Capture::open_loopback(addr.port(), Duration::from_millis(50))
                .map_err(|source| Error::Capture { source })?,
        )
    } else {
        None
    };
    let client_done = Arc::new(AtomicBool::new(false));
    let capturing = capture.map(|mut capture| {
        let done = Arc::clone(&client_done);
        std::thread::spawn(move || capture_until_closed(&mut capture, &done))
    });

    let (server_console, server_out, server_err) = Console::capture(lang);
    let server = std::thread::spawn(move || server::serve(listener, &config, Arc::new(server_console)));

    let (client_console, client_out, client_err) = Console::capture(lang);
    let mut events = Vec::new();
    let mut info = None;
    let result = exchange(addr, options, &client_console, &mut events, &mut info);
    if let Err(error) = &result {
        client_console.note(error);
    }
    if result.is_ok() {
        // The server serves one connection and returns; its error, if any,
        // is in its transcript.
        let _ = server.join();
    }
    client_done.store(true, Ordering::SeqCst);
    let frames = capturing.map(|t| t.join().unwrap_or_default()).unwrap_or_default();
    Ok(Exchange {
        addr,
        mode,
        server_out,
        server_err,
        client_out,
        client_err,
        frames,
        events,
        tcp_info: info,
        result,
    })
}

/// The client's side of the exercise, each call timestamped.
fn exchange(
    addr: SocketAddr,
    options: &Options,
    console: &Console,
    events: &mut Vec<(Duration, AppEvent)>,
    info: &mut Option<TcpInfo>,
) -> Result<()> {
    let message = &options.message;
    let mut config = client::Config::plain(vec![addr], Duration::from_secs(5), Duration::from_secs(10));
    if options.tls {
        let tls = crate::tls::ClientOptions { insecure: true, ..Default::default() };
        config.tls = Some(crate::tls::Client::new(&tls, "localhost")?);
    }
    events.push((now(), AppEvent::ConnectCalled));
    let stream = client::connect(&config)?;
    events.push((now(), AppEvent::ConnectReturned));
    let mut stream = client::handshake(stream, &config, console)?;
    if options.tls {
        events.push((now(), AppEvent::TlsDone));
    }
    client::send(&mut stream, message.as_bytes())?;
    events.push((now(), AppEvent::Sent(message.len())));
    let mut echo = Vec::with_capacity(message.len());
    let deadline = (std::time::Instant::now() + config.timeout, config.timeout);
    client::receive_echo(&mut stream, message.as_bytes(), deadline, &mut echo)?;
    events.push((now(), AppEvent::EchoReceived(echo.len())));
    console.say(&client::Msg::Echoed { message: &String::from_utf8_lossy(&echo) });
    *info = tcp_info(client::Stream::tcp(&stream)).ok();
    events.push((now(), AppEvent::CloseCalled));
    stream.close();
    Ok(())
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Reads frames until the connection has closed (both FINs and the last
/// ACK, or a RST), or until [`LINGER`] after the client is done.
fn capture_until_closed(capture: &mut Capture, client_done: &AtomicBool) -> Vec<Frame> {
    let start = Instant::now();
    let mut done_at: Option<Instant> = None;
    let mut close = CloseWatch::default();
    let mut frames = Vec::new();
    while start.elapsed() < DEADLINE {
        if client_done.load(Ordering::SeqCst) {
            let at = *done_at.get_or_insert_with(Instant::now);
            if at.elapsed() > LINGER {
                break;
            }
        }
        match capture.next_frame() {
            Ok(Some(frame)) => {
                let closed = close.see(&packet::decode(linktype::ETHERNET, &frame.data, frame.orig_len));
                frames.push(frame);
                if closed {
                    break;
                }
            }
            Ok(None) => {}
            Err(_) => break,
        }
    }
    frames
}

/// Tells when a connection is over, from its segments.
#[derive(Default)]
pub(super) struct CloseWatch {
    fins: Vec<SocketAddr>,
}

impl CloseWatch {
    /// True once `decoded` ends the connection: a RST, or the ACK that
    /// follows the second FIN.
    pub(super) fn see(&mut self, decoded: &Decoded) -> bool {
        let Decoded::Tcp(seg) = decoded else { return false };
        if seg.has(RST) {
            return true;
        }
        if seg.has(FIN) {
            if !self.fins.contains(&seg.src) {
                self.fins.push(seg.src);
            }
            return false;
        }
        self.fins.len() == 2 && seg.has(ACK) && seg.payload_len() == 0
    }
}
