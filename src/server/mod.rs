//! `eco server`: wait on HOST:PORT and echo every byte back (RFC 862).
//!
//! Two levels answer a client, as in the classroom exercise:
//! - the **network level** is the kernel's: once the socket listens, the
//!   kernel completes the three-way handshake and acknowledges every segment
//!   by itself, before and while eco's code runs;
//! - the **application level** is eco's: read what arrived, write it back,
//!   and close after the client has closed its side.
//!
//! This file holds what every mode shares: the config, opening the listening
//! socket, the life of a connection as the user sees it (the transcript
//! lines), and Ctrl-C handling for the blocking modes. Each mode's file can be
//! read on its own: [`single`] is the exercise, [`threads`] a thread per
//! client, [`async_tokio`] a tokio task per client.

mod async_tokio;
mod single;
mod threads;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

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
}

impl Config {
    /// The defaults of `eco server` for `mode`.
    pub fn new(mode: Mode) -> Config {
        Config {
            mode,
            once: false,
            buffer: mode.default_buffer(),
            nodelay: true,
            grace: Duration::from_secs(1),
            ack_fin_apart: false,
            handle_signals: true,
        }
    }
}

/// Opens the listening socket at `addr`.
///
/// Written out with socket2, one call per system call, instead of
/// `TcpListener::bind`, which does the same four steps out of sight.
pub fn listen(addr: SocketAddr) -> Result<TcpListener> {
    let fail = |source| Error::from_bind(addr, source);
    // socket(): a TCP endpoint of the address family of `addr` (IPv4 or IPv6).
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    // SO_REUSEADDR: a restarted server may bind the port again at once, while
    // connections of the previous run still sit in TIME_WAIT.
    socket.set_reuse_address(true).map_err(fail)?;
    // bind(): claim HOST:PORT. Fails if another socket listens there already.
    socket.bind(&addr.into()).map_err(fail)?;
    // listen(): from now on the kernel answers SYNs by itself, completes
    // handshakes and queues up to 1024 finished connections for accept().
    socket.listen(1024).map_err(fail)?;
    Ok(socket.into())
}

/// Serves connections on `listener` until `--once` is done or a signal stops it.
pub fn serve(listener: TcpListener, config: &Config, console: Arc<Console>) -> Result<()> {
    let addr = listener.local_addr().map_err(|source| Error::Io { doing: Doing::Setup, source })?;
    console.note(Msg::Listening { addr, mode: config.mode.name() });
    console.say(Msg::Waiting);
    let shared = Arc::new(Shared { console, active: Active::default() });
    match config.mode {
        Mode::Single => single::serve(listener, config, shared),
        Mode::Threads => threads::serve(listener, config, shared),
        Mode::Async => async_tokio::serve(listener, config, shared),
    }
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

/// What the modes share while serving: the console and the count of open
/// connections. A connection's life is told here, once for every mode.
struct Shared {
    console: Arc<Console>,
    active: Active,
}

impl Shared {
    /// Tells the user about a new connection; the returned guard counts it
    /// as open until it is dropped.
    fn opened(&self, peer: SocketAddr) -> ActiveGuard<'_> {
        self.console.say(Msg::Connected { peer });
        self.active.enter()
    }

    /// Tells how a connection ended: an error on stderr, then the exercise's line.
    fn closed(&self, peer: SocketAddr, result: io::Result<u64>) {
        if let Err(error) = result {
            self.console.note(Msg::ConnectionFailed { peer, error: &error });
        }
        self.console.say(Msg::Closed);
    }

    /// An `accept` error: none of them may stop the server. Returns how long
    /// to pause before the next `accept` (zero for harmless ones).
    fn accept_failed(&self, error: &io::Error, backoff: &mut Backoff) -> Duration {
        match error.kind() {
            // A client gave up between its handshake and our accept(), or a
            // signal interrupted the call: nothing to wait for.
            io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted => Duration::ZERO,
            // Out of file descriptors or memory: spinning would only burn
            // CPU, so wait, longer each time, for connections to close.
            _ => {
                let retry_in = backoff.next();
                self.console.note(Msg::AcceptFailed { error, retry_in });
                retry_in
            }
        }
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

/// The number of connections being served, with a way to wait until none is.
#[derive(Default)]
struct Active {
    count: Mutex<usize>,
    idle: Condvar,
}

struct ActiveGuard<'a>(&'a Active);

impl Active {
    fn enter(&self) -> ActiveGuard<'_> {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        ActiveGuard(self)
    }

    fn count(&self) -> usize {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until no connection is open or `deadline` has passed.
    fn wait_idle(&self, deadline: Instant) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            count = self.idle.wait_timeout(count, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        let mut count = self.0.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count -= 1;
        if *count == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// Ctrl-C / SIGTERM for the blocking modes (single, threads).
///
/// A thread waits for the signal; then it sets the flag, wakes the `accept`
/// that blocks the main thread, and gives open connections `grace` to finish
/// before it ends the process with status 0.
struct Stop {
    requested: AtomicBool,
}

impl Stop {
    fn install(listener: &TcpListener, config: &Config, shared: &Arc<Shared>) -> Result<Arc<Stop>> {
        let stop = Arc::new(Stop { requested: AtomicBool::new(false) });
        if !config.handle_signals {
            return Ok(stop);
        }
        let setup = |source| Error::Io { doing: Doing::Setup, source };
        let mut signals =
            signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
                .map_err(setup)?;
        // A second handle on the same listening socket, for the signal thread.
        let listener = listener.try_clone().map_err(setup)?;
        let (watch, shared, grace) = (Arc::clone(&stop), Arc::clone(shared), config.grace);
        std::thread::Builder::new()
            .name("eco-signals".into())
            .spawn(move || {
                if signals.forever().next().is_none() {
                    return;
                }
                watch.requested.store(true, Ordering::SeqCst);
                shared.console.note(Msg::ShuttingDown { open: shared.active.count(), grace });
                // shutdown() on a listening socket makes Linux fail the
                // blocked accept() with EINVAL: the accept loop wakes up,
                // sees the flag and stops. The kernel stops answering SYNs.
                let _ = SockRef::from(&listener).shutdown(Shutdown::Read);
                shared.active.wait_idle(Instant::now() + grace);
                // Normally the main thread has returned by now; if a
                // connection outlived the grace, it is cut off here.
                std::process::exit(0);
            })
            .map_err(setup)?;
        Ok(stop)
    }

    fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
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
    fn active_counts_guards_and_wait_idle_returns_at_zero() {
        let active = Active::default();
        let a = active.enter();
        let b = active.enter();
        assert_eq!(active.count(), 2);
        drop(a);
        drop(b);
        assert_eq!(active.count(), 0);
        let start = Instant::now();
        active.wait_idle(start + Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn port_in_use_is_reported_with_the_address() {
        let first = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let err = listen(addr).unwrap_err();
        assert!(matches!(err, Error::AddrInUse { addr: a } if a == addr), "{err:?}");
    }
}
