//! The life of one connection as every mode shares it: admission (allow,
//! deny, per-IP limit), how it ended and why, and telling the user (the
//! transcript lines and the structured log, from one call each).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::limits::PerIp;
use super::metrics::Metrics;
use super::misbehave::Act;
use super::summary::Summary;
use super::{Config, Msg, ProxyMode, reset};
use crate::console::Console;
use crate::proxy::ProxyProblem;

/// An IPv4 client of a dual-stack socket as a.b.c.d rather than ::ffff:a.b.c.d.
fn canonical(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

/// Why a connection ended: the `reason` of its log line.
#[derive(Debug)]
pub enum EndReason {
    /// The client closed its side (FIN) and everything was echoed.
    Fin,
    /// The client reset the connection, or vanished while we wrote.
    Reset(io::Error),
    /// Nothing could be read or written for `--idle-timeout`.
    IdleTimeout,
    /// The client stopped answering TCP keepalive probes: it vanished
    /// (crash, cable, NAT) without a FIN or RST.
    Keepalive,
    /// `--max-bytes` reached.
    Limit,
    /// Still open when the shutdown grace was over: reset.
    Shutdown,
    /// `--close-after` / `--reset-after`: ended on purpose.
    Planned(Act),
    /// The TLS handshake failed (not TLS, an untrusted certificate, ...).
    Tls(crate::tls::TlsProblem),
    /// Any other I/O error.
    Error(io::Error),
}

/// The ways a connection ends other than by the client's FIN, without
/// their details: what the summary counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EndKind {
    Reset,
    IdleTimeout,
    Keepalive,
    Limit,
    Shutdown,
    Error,
    Planned,
    Tls,
}

impl EndReason {
    /// Sorts a failed read or write.
    pub(crate) fn from_error(error: io::Error) -> EndReason {
        match error.kind() {
            // SO_RCVTIMEO / SO_SNDTIMEO expired (blocking modes): the idle timeout.
            io::ErrorKind::WouldBlock => EndReason::IdleTimeout,
            // ETIMEDOUT on an established socket: the kernel gave up on
            // the peer — unanswered keepalive probes (eco sets no
            // TCP_USER_TIMEOUT, and retransmissions would need data in flight
            // to a peer that vanished, which keepalive notices too).
            io::ErrorKind::TimedOut => EndReason::Keepalive,
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
                EndReason::Reset(error)
            }
            _ => EndReason::Error(error),
        }
    }

    /// Its kind, to count ends by (`None` for the client's FIN).
    pub(crate) fn kind(&self) -> Option<EndKind> {
        match self {
            EndReason::Fin => None,
            EndReason::Reset(_) => Some(EndKind::Reset),
            EndReason::IdleTimeout => Some(EndKind::IdleTimeout),
            EndReason::Keepalive => Some(EndKind::Keepalive),
            EndReason::Limit => Some(EndKind::Limit),
            EndReason::Shutdown => Some(EndKind::Shutdown),
            EndReason::Error(_) => Some(EndKind::Error),
            EndReason::Planned(_) => Some(EndKind::Planned),
            EndReason::Tls(_) => Some(EndKind::Tls),
        }
    }

    /// The reason as the structured log spells it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Reset(_) => "reset",
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::Keepalive => "keepalive",
            EndReason::Limit => "limit",
            EndReason::Shutdown => "shutdown",
            EndReason::Error(_) => "error",
            EndReason::Planned(Act::Close) => "close_after",
            EndReason::Planned(Act::Reset) => "reset_after",
            EndReason::Planned(Act::Stall) => "stall_after",
            EndReason::Tls(_) => "tls_handshake",
        }
    }
}

/// What an echo loop reports when it returns.
#[derive(Debug)]
pub(crate) struct Ended {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub reason: EndReason,
}

/// Why a connection was turned away right after `accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// `--deny`, or not in `--allow`.
    NotAllowed,
    /// `--max-conns-per-ip` reached for its address.
    PerIpLimit,
    /// `--mode threads` could not start a thread for it (out of threads,
    /// `ulimit -u`, or of memory).
    NoThread,
    /// `--proxy-protocol`: no valid header came first.
    ProxyHeader,
}

impl Refusal {
    /// The reason as the structured log spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not_allowed",
            Refusal::PerIpLimit => "per_ip_limit",
            Refusal::NoThread => "no_thread",
            Refusal::ProxyHeader => "proxy_header",
        }
    }
}

/// What the modes share while serving.
pub(super) struct Shared {
    pub console: Arc<Console>,
    pub config: Config,
    pub active: Active,
    /// Floods of events, told once a second.
    pub summary: Summary,
    /// The counters of `--metrics`.
    pub metrics: Arc<Metrics>,
    per_ip: PerIp,
    /// Blocking modes: a handle on each open socket, so that the signal
    /// thread can cut them off when the grace is over.
    open: Mutex<HashMap<u64, Arc<TcpStream>>>,
    next_id: AtomicU64,
    cut: AtomicBool,
    /// An `accept` failed since the last one that worked (any thread's).
    accept_failing: AtomicBool,
    /// Blocking modes: cancelled with [`Shared::cut_all`], for the
    /// connections served on a runtime of their thread ([`super::custom`]),
    /// which may be asleep (`--delay`) rather than blocked on the socket.
    pub cut_token: tokio_util::sync::CancellationToken,
    /// `--max-conns` was reached and told, and when: a tick that finds the
    /// server under the limit a minute later clears it (one note a minute
    /// at most, however often one client comes and goes at `--max-conns 1`).
    at_max: Mutex<Option<Instant>>,
}

/// An admitted connection: counted as open (overall and per IP) until dropped.
/// Taken in the accept loop, before a thread or task starts, so that
/// `--max-conns` counts it at once.
pub(super) struct ConnGuard {
    shared: Arc<Shared>,
    /// The client, with an IPv4 client of a dual-stack socket shown as
    /// a.b.c.d rather than ::ffff:a.b.c.d.
    pub peer: SocketAddr,
    /// The address counted against `--max-conns-per-ip` (none yet while a
    /// PROXY header is awaited).
    ip: Option<IpAddr>,
    /// `--proxy-protocol` from a trusted balancer: a header comes first.
    awaits_header: bool,
    started: Instant,
    registered: Option<u64>,
}

impl Shared {
    pub(super) fn new(console: Arc<Console>, config: Config) -> Shared {
        Shared {
            console,
            config,
            active: Active::default(),
            summary: Summary::default(),
            metrics: Arc::default(),
            per_ip: PerIp::default(),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            cut: AtomicBool::new(false),
            accept_failing: AtomicBool::new(false),
            cut_token: tokio_util::sync::CancellationToken::new(),
            at_max: Mutex::new(None),
        }
    }

    /// Lets a just-accepted connection in, or refuses it: reset at once
    /// (RST), which tells the client, and told (at most once a second in
    /// full, the rest counted).
    ///
    /// With `--proxy-protocol` the client is the one its header names: the
    /// connection only counts as open here, and is let in or refused once
    /// the header is read ([`ConnGuard::readdress`]).
    pub(super) fn admit(self: &Arc<Self>, socket: impl AsFd, peer: SocketAddr) -> Option<ConnGuard> {
        let peer = canonical(peer);
        let awaits_header = match self.config.proxy {
            Some(_) if self.config.trusts_proxy(peer.ip()) => true,
            // Only the balancers of --proxy-from may send a header: a
            // client that connects directly could name anyone in it.
            Some(ProxyMode::Required) => {
                reset(&socket);
                self.refuse(peer, Refusal::ProxyHeader, Some(&ProxyProblem::Untrusted));
                return None;
            }
            _ => false,
        };
        let ip = if awaits_header { None } else { Some(self.let_in(&socket, peer)?) };
        if ip.is_some() {
            self.console.say(&Msg::Connected { peer, via: None });
            tracing::debug!(peer = %peer, "connection opened");
        }
        self.active.enter();
        self.metrics.opened();
        if ip.is_some() {
            self.metrics.admitted();
        }
        Some(ConnGuard {
            shared: Arc::clone(self),
            peer,
            ip,
            awaits_header,
            started: Instant::now(),
            registered: None,
        })
    }

    /// `--allow`, `--deny` and `--max-conns-per-ip` for a client at `peer`:
    /// its address, counted, or a refusal (told, and the socket reset).
    fn let_in(&self, socket: impl AsFd, peer: SocketAddr) -> Option<IpAddr> {
        let ip = peer.ip();
        let refusal = if !self.config.limits.admits(ip) {
            Refusal::NotAllowed
        } else if !self.per_ip.try_enter(ip, self.config.limits.max_conns_per_ip) {
            Refusal::PerIpLimit
        } else {
            return Some(ip);
        };
        reset(&socket);
        self.refuse(peer, refusal, None);
        None
    }

    /// Tells and counts a refusal.
    pub(super) fn refuse(&self, peer: SocketAddr, refusal: Refusal, detail: Option<&ProxyProblem>) {
        self.metrics.refused(refusal.name());
        self.summary.refused_for(&self.console, peer, refusal, detail);
    }

    /// An `accept` error: none of them may stop the server. Returns how long
    /// to pause, at most, before the next `accept` (zero for harmless ones);
    /// a connection that closes ends the pause early (see [`Backoff`]).
    pub(super) fn accept_failed(&self, error: &io::Error, backoff: &mut Backoff) -> Duration {
        self.metrics.accept_failed();
        self.accept_failing.store(true, Ordering::Relaxed);
        match error.kind() {
            // A client gave up between its handshake and our accept(), or a
            // signal interrupted the call: nothing to wait for.
            io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted => Duration::ZERO,
            // Out of file descriptors or memory: spinning would only burn
            // CPU, so wait for connections to close (or a short while).
            _ => {
                self.summary.accept_failed(&self.console, error);
                backoff.next()
            }
        }
    }

    /// An `accept` that worked: after failures, says it works again.
    pub(super) fn accepted(&self, backoff: &mut Backoff) {
        backoff.failures = 0;
        // Whichever thread failed: with a thread per CPU accepting, the
        // one that accepts again is often not the one that failed.
        if self.accept_failing.swap(false, Ordering::Relaxed) {
            self.summary.accepted();
        }
    }

    /// Tells (once per episode) that `--max-conns` holds new clients back.
    /// `--max-conns` connections are open: told once, until a tick finds
    /// fewer open a minute later (see [`Shared::tick`]).
    pub(super) fn max_conns_reached(&self, max: usize) {
        let mut told = self.at_max.lock().unwrap_or_else(PoisonError::into_inner);
        if told.is_none() {
            *told = Some(Instant::now());
            drop(told);
            self.console.note(&Msg::MaxConnsReached { max });
            tracing::info!(max, "max-conns reached; new clients wait in the backlog");
        }
    }

    /// Once a second: the counted events, and the end of a `--max-conns`
    /// episode.
    pub(super) fn tick(&self) {
        self.summary.tick(&self.console);
        if let Some(max) = self.config.limits.max_conns
            && self.active.count() < max
        {
            let mut told = self.at_max.lock().unwrap_or_else(PoisonError::into_inner);
            if told.is_some_and(|at| at.elapsed() >= Duration::from_secs(60)) {
                *told = None;
            }
        }
    }

    /// Ctrl-C / SIGTERM / SIGHUP: tells that the server stops accepting.
    pub(super) fn tell_stopping(&self, open: usize) {
        self.metrics.stopping();
        let grace = self.config.grace;
        self.console.note(&Msg::ShuttingDown { open, grace });
        tracing::info!(open, grace_s = grace.as_secs_f64(), "stopping");
    }

    /// The end of a stop: how many finished within the grace, how many were cut.
    pub(super) fn tell_stopped(&self, finished: usize, cut: usize) {
        self.console.note(&Msg::Stopped { finished, cut });
        tracing::info!(finished, cut, "stopped");
    }

    /// Blocking modes: resets every open socket; their echo loops wake
    /// up at once (a blocked read or write fails) and log the reason
    /// `shutdown`. Returns how many.
    pub(super) fn cut_all(&self) -> usize {
        self.cut.store(true, Ordering::SeqCst);
        self.cut_token.cancel();
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for stream in open.values() {
            reset(&**stream);
        }
        open.len()
    }
}

impl ConnGuard {
    /// Tells how a connection ended: a note for anything but a normal
    /// close, the exercise's line, and the log line with its numbers.
    pub(super) fn finish(mut self, ended: Ended) {
        let (peer, duration, shared) = (self.peer, self.started.elapsed(), Arc::clone(&self.shared));
        let reason = if self.was_cut() { EndReason::Shutdown } else { ended.reason };
        shared.metrics.ended(reason.name(), ended.bytes_in, ended.bytes_out);
        // The socket closes now (the registry held its last handle)...
        self.unregister();
        if !matches!(reason, EndReason::Fin) {
            // Told in full when it is the first in a while, else counted:
            // a client that resets a thousand connections a second must not
            // fill the log.
            shared.summary.ended(&shared.console, peer, &reason);
        }
        shared.console.say(&Msg::Closed);
        tracing::info!(
            peer = %peer,
            duration_ms = (duration.as_secs_f64() * 1e6).round() / 1e3,
            bytes_in = ended.bytes_in,
            bytes_out = ended.bytes_out,
            reason = reason.name(),
            "connection closed"
        );
        // ...and the connection stops counting as open only once it has
        // been told: a server waiting for "no connection open" to exit must
        // not exit before this connection's last line.
        drop(self);
    }

    fn unregister(&mut self) {
        if let Some(id) = self.registered.take() {
            self.shared.open.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        }
    }

    /// Blocking modes: keep a handle on the socket for [`Shared::cut_all`].
    pub(super) fn register(&mut self, stream: &Arc<TcpStream>) {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        self.shared.open.lock().unwrap_or_else(PoisonError::into_inner).insert(id, Arc::clone(stream));
        self.registered = Some(id);
    }

    /// `--proxy-protocol`: the header named the client (`Some`), or the
    /// connection speaks for itself (`None`: no header where one is
    /// optional, a LOCAL health check). Applies `--allow`, `--deny` and
    /// `--max-conns-per-ip` to that client; `false` if it is refused (the
    /// socket is then reset, and the refusal told).
    pub(super) fn readdress(&mut self, socket: impl AsFd, client: Option<SocketAddr>) -> bool {
        let via = self.peer;
        let peer = client.map_or(via, canonical);
        let Some(ip) = self.shared.let_in(&socket, peer) else { return false };
        self.shared.metrics.admitted();
        self.ip = Some(ip);
        self.peer = peer;
        let via = client.is_some().then_some(via);
        self.shared.console.say(&Msg::Connected { peer, via });
        tracing::debug!(peer = %peer, via = ?via, "connection opened");
        true
    }

    /// `--proxy-protocol` from a trusted balancer: a header comes first.
    pub(super) fn awaits_header(&self) -> bool {
        self.awaits_header
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn was_cut(&self) -> bool {
        self.registered.is_some() && self.shared.cut.load(Ordering::SeqCst)
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.unregister();
        if let Some(ip) = self.ip {
            self.shared.per_ip.leave(ip);
        }
        self.shared.metrics.closed();
        self.shared.active.leave();
    }
}

/// The number of connections being served, with ways to wait on it.
#[derive(Default)]
pub(super) struct Active {
    count: AtomicUsize,
    lock: Mutex<()>,
    changed: Condvar,
    /// Woken when a connection leaves: an async accept loop waiting for a
    /// free file descriptor.
    pub left: tokio::sync::Notify,
}

impl Active {
    fn enter(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        let _lock = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.changed.notify_all();
        self.left.notify_waiters();
    }

    pub(super) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Blocks until fewer than `max` connections are open, or `deadline`.
    /// Returns whether that happened.
    pub(super) fn wait_below(&self, max: usize, deadline: Instant) -> bool {
        let mut lock = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while self.count() >= max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            lock = self.changed.wait_timeout(lock, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }

    /// Blocks for at most `pause`, or until a connection leaves (its file
    /// descriptor is then free for the next `accept`).
    pub(super) fn wait_leave(&self, pause: Duration) {
        if pause.is_zero() {
            return;
        }
        let lock = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.changed.wait_timeout(lock, pause);
    }
}

/// Pauses after failed `accept` calls: 10 ms, 20 ms, 40 ms ... at most
/// 500 ms, so that a server out of file descriptors serves the next client
/// within half a second of one being free, without spinning meanwhile. A
/// connection that closes ends the pause at once ([`Active::wait_leave`]).
/// (mini-redis backs off up to 64 s; a client waiting in the backlog would
/// wait as long.)
#[derive(Default)]
pub(super) struct Backoff {
    failures: u32,
}

impl Backoff {
    pub(super) const MAX: Duration = Duration::from_millis(500);

    pub(super) fn next(&mut self) -> Duration {
        let pause = Duration::from_millis(10 << self.failures.min(6)).min(Self::MAX);
        self.failures += 1;
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_below_returns_when_a_connection_leaves() {
        let active = Arc::new(Active::default());
        active.enter();
        active.enter();
        assert!(!active.wait_below(2, Instant::now() + Duration::from_millis(20)));
        let leaver = Arc::clone(&active);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            leaver.leave();
        });
        assert!(active.wait_below(2, Instant::now() + Duration::from_secs(5)));
        assert_eq!(active.count(), 1);
        thread.join().unwrap();
    }

    #[test]
    fn errors_sort_into_reasons() {
        let kind = |k| EndReason::from_error(io::Error::from(k)).name();
        assert_eq!(kind(io::ErrorKind::WouldBlock), "idle_timeout");
        assert_eq!(kind(io::ErrorKind::TimedOut), "keepalive");
        assert_eq!(kind(io::ErrorKind::ConnectionReset), "reset");
        assert_eq!(kind(io::ErrorKind::BrokenPipe), "reset");
        assert_eq!(kind(io::ErrorKind::PermissionDenied), "error");
    }

    #[test]
    fn backoff_is_short_and_capped_below_a_second() {
        let mut backoff = Backoff::default();
        let ms: Vec<u128> = (0..9).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(ms, [10, 20, 40, 80, 160, 320, 500, 500, 500]);
    }
}
