//! `eco server`: wait on HOST:PORT and echo every byte back (RFC 862).
//!
//! Two levels answer a client, as in the classroom exercise:
//! - the **network level** is the kernel's: once the socket listens, the
//!   kernel completes the three-way handshake and acknowledges every segment
//!   by itself, before and while eco's code runs;
//! - the **application level** is eco's: read what arrived, write it back,
//!   and close after the client has closed its side.
//!
//! This file holds what every mode shares: the config, opening the sockets,
//! and Ctrl-C handling for the blocking modes; [`conn`] the life of one
//! connection (admission, the log of its end), [`limits`] the limits. Each
//! mode's file can be read on its own: [`single`] is the exercise,
//! [`threads`] a thread per client, [`async_tokio`] a tokio task per client,
//! [`udp`] the datagram echo.

mod async_tokio;
mod conn;
pub mod limits;
mod single;
mod threads;
pub mod udp;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

pub use conn::Refusal;
use conn::Shared;
pub use limits::Limits;

use crate::console::Console;
use crate::error::{Doing, Error, Result};
use crate::i18n::Msg;

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Blocking, one client at a time (the exercise's `servidor.py`).
    Single,
    /// Blocking, one OS thread per client.
    Threads,
    /// tokio, one task per client on a small pool of threads.
    Async,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Threads => "threads",
            Mode::Async => "async",
        }
    }

    /// Bytes asked of each `recv`: the exercise's 1024 in single mode; more
    /// elsewhere, so that bulk transfers take fewer system calls.
    pub fn default_buffer(self) -> usize {
        match self {
            Mode::Single => 1024,
            Mode::Threads | Mode::Async => 32 * 1024,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Serve exactly one connection, then return.
    pub once: bool,
    /// Bytes read per `recv` call.
    pub buffer: usize,
    /// TCP_NODELAY on accepted sockets: send small echoes at once instead of
    /// waiting (Nagle) for the ACK of earlier data, which the client's
    /// kernel may delay by up to 40 ms.
    pub nodelay: bool,
    /// After Ctrl-C / SIGTERM, how long open connections may still run.
    pub grace: Duration,
    /// Acknowledge the client's FIN in a segment of its own, before our FIN
    /// (see [`ack_fin_apart`]). Off by default: it costs a segment.
    pub ack_fin_apart: bool,
    /// Install Ctrl-C / SIGTERM handling. Off when eco runs a server inside
    /// another command (`eco demo`), which owns the process's signals.
    pub handle_signals: bool,
    pub limits: Limits,
    /// The datagram echo's reflection guard.
    pub udp: udp::Guard,
}

impl Config {
    /// The defaults of `eco server` for `mode`.
    pub fn new(mode: Mode) -> Config {
        Config {
            mode,
            once: false,
            buffer: mode.default_buffer(),
            nodelay: true,
            grace: Duration::from_secs(5),
            ack_fin_apart: false,
            handle_signals: true,
            limits: Limits::default(),
            udp: udp::Guard::default(),
        }
    }
}

/// Opens the listening socket at `addr`.
///
/// Written out with socket2, one call per system call, instead of
/// `TcpListener::bind`, which does the same steps out of sight.
/// `v6only`: for an IPv6 address, refuse IPv4 clients (else `::` serves both).
/// The options every connection should have are set before `listen()`, so
/// that even the first client's socket inherits them (see [`configure`]).
pub fn listen(addr: SocketAddr, v6only: bool, config: &Config) -> Result<TcpListener> {
    let fail = |source| Error::from_bind(addr, source);
    // socket(): a TCP endpoint of the address family of `addr` (IPv4 or IPv6).
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    // SO_REUSEADDR: a restarted server may bind the port again at once, while
    // connections of the previous run still sit in TIME_WAIT.
    socket.set_reuse_address(true).map_err(fail)?;
    if addr.is_ipv6() {
        // IPV6_V6ONLY off: `::` also takes IPv4 clients, as ::ffff:a.b.c.d.
        socket.set_only_v6(v6only).map_err(fail)?;
    }
    configure(&socket, config).map_err(fail)?;
    // bind(): claim HOST:PORT. Fails if another socket listens there already.
    socket.bind(&addr.into()).map_err(fail)?;
    // listen(): from now on the kernel answers SYNs by itself, completes
    // handshakes and queues up to 1024 finished connections for accept().
    socket.listen(1024).map_err(fail)?;
    Ok(socket.into())
}

/// Sets the options every connection should have on the listening socket:
/// on Linux each accepted socket inherits them (TCP_NODELAY, keepalive,
/// SO_RCVTIMEO / SO_SNDTIMEO), so no connection needs a system call for them.
fn configure(socket: &Socket, config: &Config) -> io::Result<()> {
    socket.set_tcp_nodelay(config.nodelay)?;
    if let Some(time) = config.limits.keepalive {
        // After `time` of silence, probe every `time / 6` (at least 1 s);
        // four unanswered probes close the connection.
        let interval = (time / 6).max(Duration::from_secs(1));
        let keepalive = socket2::TcpKeepalive::new().with_time(time).with_interval(interval).with_retries(4);
        socket.set_tcp_keepalive(&keepalive)?;
    }
    if config.mode != Mode::Async {
        // The idle timeout of the blocking modes: a read or write that waits
        // longer fails with "would block" (tokio uses timers instead).
        socket.set_read_timeout(config.limits.idle_timeout)?;
        socket.set_write_timeout(config.limits.idle_timeout)?;
    }
    Ok(())
}

/// Opens the UDP socket at `addr` for the datagram echo.
pub fn bind_udp(addr: SocketAddr, v6only: bool) -> Result<UdpSocket> {
    let fail = |source| Error::from_bind(addr, source);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6only).map_err(fail)?;
    }
    socket.bind(&addr.into()).map_err(fail)?;
    Ok(socket.into())
}

/// Serves TCP connections on `listener` until `--once` is done or a signal
/// stops it.
pub fn serve(listener: TcpListener, config: &Config, console: Arc<Console>) -> Result<()> {
    serve_both(Some(listener), None, config, console)
}

/// Serves TCP on `listener` and/or UDP on `udp` (`--tcp --udp`: both, on
/// the same port), until a signal stops them.
pub fn serve_both(
    listener: Option<TcpListener>,
    udp: Option<UdpSocket>,
    config: &Config,
    console: Arc<Console>,
) -> Result<()> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    let shared = Arc::new(Shared::new(console, config.clone()));
    // Signal handling first: once "listening" is printed, a Ctrl-C must
    // find it in place.
    let stop = Stop::install(listener.as_ref(), &shared)?;
    for (addr, proto) in [
        (listener.as_ref().map(TcpListener::local_addr), "tcp"),
        (udp.as_ref().map(UdpSocket::local_addr), "udp"),
    ] {
        if let Some(addr) = addr {
            let addr = addr.map_err(setup)?;
            let mode = if proto == "udp" { "udp" } else { config.mode.name() };
            shared.console.note(Msg::Listening { addr, mode });
            tracing::info!(addr = %addr, mode, "listening");
        }
    }
    let Some(listener) = listener else {
        // UDP only: the datagram loop is the whole server, until a signal.
        if let Some(socket) = udp {
            udp::serve(&socket, &config.udp, &shared.console, &stop.requested);
            stop.wait_told(config.grace + Duration::from_secs(2));
        }
        return Ok(());
    };
    // TCP, and UDP beside it on a thread of its own.
    let udp_thread = match udp {
        Some(socket) => {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            let thread = std::thread::Builder::new()
                .name("eco-udp".into())
                .spawn(move || udp::serve(&socket, &shared.config.udp, &shared.console, &stop.requested))
                .map_err(setup)?;
            Some(thread)
        }
        None => None,
    };
    shared.console.say(Msg::Waiting);
    let result = match config.mode {
        Mode::Single => single::serve(listener, &shared, &stop),
        Mode::Threads => threads::serve(listener, &shared, &stop),
        Mode::Async => async_tokio::serve(listener, &shared, &stop),
    };
    if stop.requested() && config.mode != Mode::Async {
        stop.wait_told(config.grace + Duration::from_secs(2));
    }
    stop.requested.store(true, Ordering::SeqCst);
    if let Some(thread) = udp_thread {
        let _ = thread.join();
    }
    result
}

/// Sends the ACK of the client's FIN now, on its own, instead of letting it
/// ride on our FIN.
///
/// When `recv` returns 0 the kernel has received the FIN but delays its ACK
/// (delayed-ACK "pingpong" mode); our `close` follows within microseconds,
/// so Linux sends one FIN-ACK segment: a three-way close, 10 frames in all.
/// TCP_QUICKACK flushes the pending ACK first, which gives the four
/// separate segments of the classroom exercise's capture (11 frames).
fn ack_fin_apart(stream: impl std::os::fd::AsFd, config: &Config) -> io::Result<()> {
    if config.ack_fin_apart { SockRef::from(&stream).set_tcp_quickack(true) } else { Ok(()) }
}

/// Largest read that keeps a connection within `--max-bytes`.
fn room(limit: Option<u64>, done: u64, buffer: usize) -> usize {
    match limit {
        Some(limit) => usize::try_from(limit.saturating_sub(done)).unwrap_or(usize::MAX).min(buffer),
        None => buffer,
    }
}

/// Pauses after failed `accept` calls: 1 s, 2 s, 4 s ... 64 s (as mini-redis).
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let secs = 1u64 << self.failures.min(6);
        self.failures += 1;
        Duration::from_secs(secs)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Ctrl-C / SIGTERM: stop accepting at once, give open connections the
/// grace, cut off the rest, exit 0.
///
/// For the blocking modes a thread waits for the signal, sets the flag and
/// wakes the `accept` that blocks the main thread; after the grace it shuts
/// down the sockets still open. The async mode watches the same flag's
/// signals with tokio (see `async_tokio`).
pub(crate) struct Stop {
    requested: Arc<AtomicBool>,
    /// The same request, for the async mode's tasks to await.
    stopping: tokio_util::sync::CancellationToken,
    /// Set by the signal thread once it has told how the stop went.
    told: Mutex<bool>,
    told_cv: Condvar,
}

impl Stop {
    fn install(listener: Option<&TcpListener>, shared: &Arc<Shared>) -> Result<Arc<Stop>> {
        let stop = Arc::new(Stop {
            requested: Arc::new(AtomicBool::new(false)),
            stopping: tokio_util::sync::CancellationToken::new(),
            told: Mutex::new(false),
            told_cv: Condvar::new(),
        });
        if !shared.config.handle_signals {
            return Ok(stop);
        }
        // The async mode keeps its own account of the stop (see async_tokio).
        let blocking = listener.is_none() || shared.config.mode != Mode::Async;
        let setup = |source| Error::Io { doing: Doing::Setup, source };
        let mut signals =
            signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
                .map_err(setup)?;
        // A second handle on the same listening socket, for the signal thread.
        let listener = listener.map(TcpListener::try_clone).transpose().map_err(setup)?;
        let (watch, shared) = (Arc::clone(&stop), Arc::clone(shared));
        std::thread::Builder::new()
            .name("eco-signals".into())
            .spawn(move || {
                if signals.forever().next().is_none() {
                    return;
                }
                watch.requested.store(true, Ordering::SeqCst);
                watch.stopping.cancel();
                if !blocking {
                    return;
                }
                let grace = shared.config.grace;
                let open = shared.active.count();
                shared.console.note(Msg::ShuttingDown { open, grace });
                tracing::info!(open, grace_s = grace.as_secs_f64(), "stopping");
                // shutdown() on a listening socket makes Linux fail the
                // blocked accept() with EINVAL: the accept loop wakes up,
                // sees the flag and stops. The kernel stops answering SYNs.
                if let Some(listener) = &listener {
                    let _ = SockRef::from(listener).shutdown(Shutdown::Read);
                }
                let deadline = Instant::now() + grace;
                shared.active.wait_below(1, deadline);
                let cut = shared.cut_all();
                shared.console.note(Msg::Stopped { finished: open.saturating_sub(cut), cut });
                tracing::info!(finished = open.saturating_sub(cut), cut, "stopped");
                *watch.told.lock().unwrap_or_else(PoisonError::into_inner) = true;
                watch.told_cv.notify_all();
                // The cut connections' loops return at once and the main
                // thread exits 0; this is only a backstop.
                std::thread::sleep(Duration::from_secs(1));
                std::process::exit(0);
            })
            .map_err(setup)?;
        Ok(stop)
    }

    fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Resolves on Ctrl-C / SIGTERM, for the async mode.
    pub(crate) fn stopping(&self) -> tokio_util::sync::CancellationToken {
        self.stopping.clone()
    }

    /// After a signal, waits (at most `limit`) for the signal thread to
    /// finish its account of the stop, so that the process does not exit
    /// before it is printed.
    fn wait_told(&self, limit: Duration) {
        let told = self.told.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.told_cv.wait_timeout_while(told, limit, |told| !*told);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_64_seconds_and_resets() {
        let mut backoff = Backoff::default();
        let secs: Vec<u64> = (0..9).map(|_| backoff.next().as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
        backoff.reset();
        assert_eq!(backoff.next().as_secs(), 1);
    }

    #[test]
    fn room_keeps_within_max_bytes() {
        assert_eq!(room(None, 10, 1024), 1024);
        assert_eq!(room(Some(100), 90, 1024), 10);
        assert_eq!(room(Some(100), 100, 1024), 0);
        assert_eq!(room(Some(5000), 0, 1024), 1024);
    }

    #[test]
    fn port_in_use_is_reported_with_the_address() {
        let config = Config::new(Mode::Async);
        let first = listen("127.0.0.1:0".parse().unwrap(), false, &config).unwrap();
        let addr = first.local_addr().unwrap();
        let err = listen(addr, false, &config).unwrap_err();
        assert!(matches!(err, Error::AddrInUse { addr: a } if a == addr), "{err:?}");
    }
}
