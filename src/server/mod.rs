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
//! [`uring`] the echo on io_uring, [`udp`] the datagram echo.

pub mod activation;
mod async_tokio;
mod conn;
mod custom;
pub mod inetd;
pub mod limits;
mod messages;
mod metrics;
pub mod misbehave;
mod single;
mod summary;
mod threads;
pub mod udp;
mod uring;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio_util::sync::CancellationToken;

use conn::Shared;
pub use conn::{EndReason, Refusal};
pub use limits::Limits;
pub use messages::Msg;

use crate::console::Console;
use crate::error::{Doing, Error, Result};

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Blocking, one client at a time (the exercise's `servidor.py`).
    Single,
    /// Blocking, one OS thread per client.
    Threads,
    /// tokio, one task per client on a small pool of threads.
    Async,
    /// io_uring, a ring per CPU: one system call for many messages.
    Uring,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Threads => "threads",
            Mode::Async => "async",
            Mode::Uring => "uring",
        }
    }

    /// Bytes asked of each `recv`: the exercise's 1024 in single mode; more
    /// elsewhere, so that bulk transfers take fewer system calls.
    pub fn default_buffer(self) -> usize {
        match self {
            Mode::Single => 1024,
            Mode::Threads | Mode::Async | Mode::Uring => 32 * 1024,
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
    /// The listening socket came from systemd: a stop must not shut it
    /// down (systemd keeps it for the next start).
    pub inherited: bool,
    /// `--mode` was given: if `uring` serves as `async`, say so (without
    /// it, uring is only the default where it serves).
    pub mode_asked: bool,
    /// `--proxy-protocol`: a balancer's header comes first.
    pub proxy: Option<ProxyMode>,
    /// `--proxy-from`: the balancers whose headers are believed (empty:
    /// any peer's).
    pub proxy_from: Vec<ipnet::IpNet>,
    /// `--tls`: the handshake's settings.
    pub tls: Option<crate::tls::Server>,
    /// `--delay`, `--close-after`, ...: what to do wrong on purpose.
    pub misbehave: misbehave::Misbehaviour,
    /// `--metrics ADDR`: where to answer Prometheus.
    pub metrics: Option<SocketAddr>,
}

/// Why `--mode uring` serves as `async`.
#[derive(Debug)]
pub enum UringFallback {
    /// The kernel (or a seccomp profile, or `kernel.io_uring_disabled`)
    /// refused to set up a ring.
    Refused(io::Error),
    /// `--tls`, `--proxy-protocol` or a misbehaviour: the tokio loop's.
    Options,
}

impl UringFallback {
    pub fn text(&self, lang: crate::i18n::Lang) -> String {
        let en = lang == crate::i18n::Lang::En;
        match self {
            UringFallback::Refused(error) => {
                let why = match (error.raw_os_error(), en) {
                    (Some(libc::EPERM), true) => {
                        "refused by the system: a seccomp profile such as Docker's, or kernel.io_uring_disabled"
                    }
                    (Some(libc::EPERM), false) => {
                        "recusado pelo sistema: um perfil seccomp como o do Docker, ou kernel.io_uring_disabled"
                    }
                    (Some(libc::ENOSYS), true) => "this kernel has no io_uring",
                    (Some(libc::ENOSYS), false) => "este kernel não tem io_uring",
                    (_, true) => "it needs Linux 6.1 or later (DEFER_TASKRUN)",
                    (_, false) => "é preciso Linux 6.1 ou mais novo (DEFER_TASKRUN)",
                };
                if en {
                    format!("io_uring is not available here ({why}): serving with --mode async")
                } else {
                    format!("io_uring não está disponível aqui ({why}): atendendo com --mode async")
                }
            }
            UringFallback::Options if en => {
                "--mode uring serves the plain echo; with --tls, --proxy-protocol \
                 or a misbehaviour option connections are served as in --mode async"
                    .into()
            }
            UringFallback::Options => "--mode uring atende o eco simples; com --tls, --proxy-protocol \
                 ou uma opção de mau comportamento as conexões são atendidas como em --mode async"
                .into(),
        }
    }
}

/// `--proxy-protocol`: whether every connection must start with a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyMode {
    /// Read a header if one comes; a connection without one is a client's own.
    Optional,
    /// Refuse (reset) a connection that does not start with a valid header.
    Required,
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
            inherited: false,
            mode_asked: true,
            proxy: None,
            proxy_from: Vec::new(),
            tls: None,
            misbehave: misbehave::Misbehaviour::default(),
            metrics: None,
        }
    }

    /// Whether a header from `peer` is believed: it is one of the
    /// `--proxy-from` balancers (or any peer, without that option).
    pub(crate) fn trusts_proxy(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.proxy_from.is_empty() || self.proxy_from.iter().any(|net| net.contains(&peer))
    }

    /// Whether connections take the [`custom`] echo loop (PROXY header,
    /// TLS, misbehaviour) instead of their mode's plain one.
    fn custom(&self) -> bool {
        self.proxy.is_some() || self.tls.is_some() || self.misbehave.on_tcp()
    }
}

/// The mode TCP connections are served in, and why it is not the one
/// asked for: where io_uring is refused, or with what only the tokio loop
/// does (TLS, PROXY headers, misbehaviour), `--mode uring` serves as
/// `async`.
pub fn effective_mode(config: &Config) -> (Mode, Option<UringFallback>) {
    if config.mode != Mode::Uring {
        return (config.mode, None);
    }
    let fallback = if config.custom() || !config.misbehave.accept_delay.is_zero() {
        Some(UringFallback::Options)
    } else {
        uring::available().err().map(UringFallback::Refused)
    };
    (if fallback.is_some() { Mode::Async } else { Mode::Uring }, fallback)
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
/// on Linux each accepted socket inherits them (TCP_NODELAY, keepalive),
/// so no connection needs a system call for them.
///
/// Not the receive and send timeouts of the blocking modes' idle timeout:
/// on a listening socket SO_RCVTIMEO also times out `accept()` itself, and
/// an idle server would then fail its accepts (see `single::handle`).
pub(crate) fn configure(socket: &Socket, config: &Config) -> io::Result<()> {
    socket.set_tcp_nodelay(config.nodelay)?;
    if let Some(time) = config.limits.keepalive {
        // After `time` of silence, probe every `time / 6` (at least 1 s);
        // four unanswered probes close the connection.
        let interval = (time / 6).max(Duration::from_secs(1));
        let keepalive = socket2::TcpKeepalive::new().with_time(time).with_interval(interval).with_retries(4);
        socket.set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

/// Ends a connection with a reset (RST), now: `connect()` with address
/// family AF_UNSPEC disconnects a TCP socket (the kernel's tcp_disconnect),
/// which sends RST to the peer and wakes any thread blocked reading or
/// writing the socket, with an error. The peer sees "connection reset", so
/// an echo cut short can never pass for a complete one.
pub(crate) fn reset(socket: impl AsFd) {
    let _ = rustix::net::connect_unspec(socket);
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
    let mut config = config.clone();
    if listener.is_some() {
        let (mode, fallback) = effective_mode(&config);
        match fallback {
            Some(why) if config.mode_asked => {
                console.note(&Msg::UringFallback { why: &why });
                tracing::info!(reason = %why.text(crate::i18n::Lang::En), "mode uring: serving as mode async");
            }
            Some(why) => tracing::debug!(reason = %why.text(crate::i18n::Lang::En), "serving as mode async"),
            None => {}
        }
        config.mode = mode;
    }
    let config = &config;
    let shared = Arc::new(Shared::new(console, config.clone()));
    // Signal handling first: once "listening" is printed, a Ctrl-C must
    // find it in place.
    let stop = Stop::install(listener.as_ref(), udp.as_ref(), &shared)?;
    // Opened before "listening" is said: a busy --metrics port fails the
    // start, with nothing announced.
    let metrics_at =
        config.metrics.map(|addr| metrics::serve(addr, Arc::clone(&shared.metrics))).transpose()?;
    for (addr, mode) in [
        (listener.as_ref().map(TcpListener::local_addr), Some(config.mode)),
        (udp.as_ref().map(UdpSocket::local_addr), None),
    ] {
        if let Some(addr) = addr {
            let addr = addr.map_err(setup)?;
            shared.console.note(&Msg::Listening { addr, mode });
            tracing::info!(addr = %addr, mode = mode.map_or("udp", Mode::name), "listening");
        }
    }
    if let Some(addr) = metrics_at {
        shared.console.note(&Msg::MetricsAt { addr });
        tracing::info!(addr = %addr, "metrics");
    }
    let told = config.misbehave.describe();
    if !told.is_empty() {
        shared.console.note(&Msg::Misbehaving { options: &told });
        tracing::info!(options = %told.join(", "), "misbehaving on purpose");
    }
    if let Some(fingerprint) = config.tls.as_ref().and_then(|tls| tls.self_signed.as_deref()) {
        shared.console.note(&Msg::SelfSigned { fingerprint });
        tracing::info!(sha256 = fingerprint, "tls: self-signed certificate");
    }
    let ticker = Ticker::start(&shared).map_err(setup)?;
    activation::ready();
    let result = serve_until_stopped(listener, udp, &shared, &stop);
    ticker.stop();
    shared.tick();
    result
}

fn serve_until_stopped(
    listener: Option<TcpListener>,
    udp: Option<UdpSocket>,
    shared: &Arc<Shared>,
    stop: &Arc<Stop>,
) -> Result<()> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    let config = &shared.config;
    let Some(listener) = listener else {
        // UDP only: the datagram loop is the whole server, until a signal.
        if let Some(socket) = udp {
            udp::serve(&socket, shared, &stop.requested);
            stop.wait_told(config.grace + Duration::from_secs(2));
        }
        return Ok(());
    };
    // TCP, and UDP beside it on a thread of its own.
    let udp_thread = match udp {
        Some(socket) => {
            let waker = socket.try_clone().map_err(setup)?;
            let (shared, stop) = (Arc::clone(shared), Arc::clone(stop));
            let thread = std::thread::Builder::new()
                .name("eco-udp".into())
                .spawn(move || udp::serve(&socket, &shared, &stop.requested))
                .map_err(setup)?;
            Some((thread, waker))
        }
        None => None,
    };
    shared.console.say(&Msg::Waiting);
    let result = match config.mode {
        Mode::Single => single::serve(listener, shared, stop),
        Mode::Threads => threads::serve(listener, shared, stop),
        Mode::Async => async_tokio::serve(listener, shared, stop),
        Mode::Uring => uring::serve(listener, shared, stop),
    };
    if stop.requested() && config.mode != Mode::Async {
        stop.wait_told(config.grace + Duration::from_secs(2));
    }
    // `--once` is over: the UDP echo beside it stops too (woken as the
    // signal thread wakes it).
    stop.requested.cancel();
    if let Some((thread, waker)) = udp_thread {
        let _ = SockRef::from(&waker).shutdown(Shutdown::Read);
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
fn ack_fin_apart(stream: impl AsFd, config: &Config) -> io::Result<()> {
    if config.ack_fin_apart { SockRef::from(&stream).set_tcp_quickack(true) } else { Ok(()) }
}

/// Whether the peer is taking bytes: it acknowledged some since `acked`
/// was noted (which this notes anew; `None`: never noted, then bytes in
/// flight count as taken once, so that the next check compares).
///
/// A client that reads slowly is not idle, even when none of our writes
/// got through for a while: the kernel wakes a writer only once a good part
/// of the send buffer is free, which a reader at 50 kB/s takes longer than
/// most idle timeouts to free. Asked only when the idle timeout fires, so
/// it costs nothing to a connection that is never idle.
pub(crate) fn peer_took_bytes(socket: impl AsFd, acked: &mut Option<u64>) -> bool {
    let Ok(info) = crate::tcp_info::tcp_info(socket) else { return false };
    if info.unacked == 0 && info.notsent_bytes == 0 {
        // Nothing in flight: there is nothing the peer could be taking.
        return false;
    }
    let took = acked.is_none_or(|before| info.bytes_acked > before);
    *acked = Some(info.bytes_acked);
    took
}

/// Largest read that keeps a connection within `--max-bytes`.
fn room(limit: Option<u64>, done: u64, buffer: usize) -> usize {
    match limit {
        Some(limit) => usize::try_from(limit.saturating_sub(done)).unwrap_or(usize::MAX).min(buffer),
        None => buffer,
    }
}

/// Tells the counted floods once a second ([`summary`]), on a thread of its
/// own, until the server ends.
struct Ticker {
    finished: Arc<(Mutex<bool>, Condvar)>,
    thread: std::thread::JoinHandle<()>,
}

impl Ticker {
    fn start(shared: &Arc<Shared>) -> io::Result<Ticker> {
        let finished = Arc::new((Mutex::new(false), Condvar::new()));
        let (done, shared) = (Arc::clone(&finished), Arc::clone(shared));
        let thread = std::thread::Builder::new().name("eco-ticker".into()).spawn(move || {
            let (lock, cv) = &*done;
            let mut finished = lock.lock().unwrap_or_else(PoisonError::into_inner);
            while !*finished {
                finished = cv
                    .wait_timeout(finished, Duration::from_secs(1))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                shared.tick();
            }
        })?;
        Ok(Ticker { finished, thread })
    }

    fn stop(self) {
        *self.finished.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.finished.1.notify_all();
        let _ = self.thread.join();
    }
}

/// Ctrl-C, SIGTERM, or SIGHUP (a closed terminal, an ssh session that
/// ended): stop accepting at once, give open connections the grace, reset
/// the rest, exit 0. (SIGHUP is left alone when it was ignored at start,
/// as `nohup` does.)
///
/// For the blocking modes a thread waits for the signal, wakes the
/// `accept` that blocks the main thread; after the grace it resets the
/// sockets still open. The async mode awaits the same request with tokio
/// (see `async_tokio`).
pub(crate) struct Stop {
    /// Cancelled on the signal: blocking code asks `is_cancelled()`,
    /// async code awaits `cancelled()`.
    requested: CancellationToken,
    /// Set by the signal thread once it has told how the stop went.
    told: Mutex<bool>,
    told_cv: Condvar,
}

impl Stop {
    fn install(
        listener: Option<&TcpListener>,
        udp: Option<&UdpSocket>,
        shared: &Arc<Shared>,
    ) -> Result<Arc<Stop>> {
        let stop = Arc::new(Stop {
            requested: CancellationToken::new(),
            told: Mutex::new(false),
            told_cv: Condvar::new(),
        });
        if !shared.config.handle_signals {
            return Ok(stop);
        }
        // The async mode keeps its own account of the stop (see async_tokio).
        let blocking = listener.is_none() || shared.config.mode != Mode::Async;
        let setup = |source| Error::Io { doing: Doing::Setup, source };
        let mut wanted = vec![signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
        if !sighup_ignored() {
            wanted.push(signal_hook::consts::SIGHUP);
        }
        let mut signals = signal_hook::iterator::Signals::new(wanted).map_err(setup)?;
        // Second handles on the sockets, for the signal thread to wake
        // whoever blocks on them.
        let listener = listener.map(TcpListener::try_clone).transpose().map_err(setup)?;
        let udp = udp.map(UdpSocket::try_clone).transpose().map_err(setup)?;
        let (watch, shared) = (Arc::clone(&stop), Arc::clone(shared));
        std::thread::Builder::new()
            .name("eco-signals".into())
            .spawn(move || {
                if signals.forever().next().is_none() {
                    return;
                }
                watch.requested.cancel();
                activation::stopping();
                // shutdown() makes Linux fail a blocked accept() with EINVAL
                // (and a blocked recvfrom() return 0): the loops wake up and
                // see the request. The kernel stops answering SYNs.
                if let Some(udp) = &udp {
                    let _ = SockRef::from(udp).shutdown(Shutdown::Read);
                }
                if !blocking {
                    return;
                }
                if let Some(listener) = &listener {
                    if shared.config.inherited {
                        // systemd's socket: wake accept() with a connection
                        // of our own, which the loop drops (see above).
                        if let Ok(addr) = listener.local_addr() {
                            let _ = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1));
                        }
                    } else {
                        let _ = SockRef::from(listener).shutdown(Shutdown::Read);
                    }
                }
                let open = shared.active.count();
                shared.tell_stopping(open);
                let deadline = Instant::now() + shared.config.grace;
                shared.active.wait_below(1, deadline);
                let cut = shared.cut_all();
                // The cut connections tell their end first (their loops
                // wake at once): "stopped" is the last word.
                shared.active.wait_below(1, Instant::now() + Duration::from_secs(1));
                shared.tell_stopped(open.saturating_sub(cut), cut);
                *watch.told.lock().unwrap_or_else(PoisonError::into_inner) = true;
                watch.told_cv.notify_all();
            })
            .map_err(setup)?;
        Ok(stop)
    }

    fn requested(&self) -> bool {
        self.requested.is_cancelled()
    }

    /// Resolves on the signal, for the async mode.
    pub(crate) fn stopping(&self) -> CancellationToken {
        self.requested.clone()
    }

    /// After a signal, waits (at most `limit`) for the signal thread to
    /// finish its account of the stop, so that the process does not exit
    /// before it is printed.
    fn wait_told(&self, limit: Duration) {
        let told = self.told.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.told_cv.wait_timeout_while(told, limit, |told| !*told);
    }
}

/// Whether SIGHUP was set to be ignored when eco started (`nohup eco
/// server &`): then it stays ignored.
#[allow(unsafe_code)]
fn sighup_ignored() -> bool {
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `current`,
    // which is valid, zeroed memory of the right type.
    let read = unsafe { libc::sigaction(libc::SIGHUP, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: sigaction succeeded (0), so it filled `current`.
    read == 0 && unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN
}

#[cfg(test)]
mod tests {
    use super::*;

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
