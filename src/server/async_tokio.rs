//! `--mode async` (the default): tokio, one task per connection.
//!
//! A task is a small state machine, not a thread: thousands of idle
//! connections cost a few KiB each, and one thread per CPU runs whichever
//! tasks have bytes waiting (epoll tells it which).
//!
//! Each of those threads runs a single-threaded tokio runtime that accepts
//! from the same listening socket, rather than one multi-threaded runtime:
//! with hundreds of busy connections the multi-threaded scheduler's bounded
//! per-worker queue spills tasks into a global queue that is checked only
//! now and then, and those tasks wait (tens of milliseconds at 500
//! connections, see benches/RESULTS.md). Here every task waits its turn in
//! one queue, in order.
//! Named `async_tokio` because a module called `tokio` would shadow the crate.

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

use super::conn::{Backoff, EndReason, Ended, Shared};
use super::{Stop, ack_fin_apart, custom, peer_took_bytes, reset, room};
use crate::aio;
use crate::error::{Doing, Error, Result};

/// What the accept loops of all threads share.
#[derive(Clone)]
struct Loops {
    shared: Arc<Shared>,
    /// Cancelled on Ctrl-C / SIGTERM: stop accepting.
    stopping: CancellationToken,
    /// Cancelled when the grace is over: open connections end with `shutdown`.
    cut: CancellationToken,
    /// Every connection's task, whichever thread runs it.
    tracker: TaskTracker,
    /// --max-conns: a permit is taken *before* accept, so that over the
    /// limit clients wait in the kernel's backlog (as mini-redis does).
    permits: Option<Arc<Semaphore>>,
    /// `--accept-delay`: one new client per delay, whichever thread
    /// accepted it.
    accept_turn: Arc<tokio::sync::Mutex<()>>,
}

pub(super) fn serve(listener: TcpListener, shared: &Arc<Shared>, stop: &Stop) -> Result<()> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    // tokio needs the socket in non-blocking mode: accept() and recv() then
    // return "would block" instead of sleeping, and epoll wakes the task.
    listener.set_nonblocking(true).map_err(setup)?;
    let loops = Loops {
        shared: Arc::clone(shared),
        // Cancelled by the signal thread on Ctrl-C / SIGTERM.
        stopping: stop.stopping(),
        cut: CancellationToken::new(),
        tracker: TaskTracker::new(),
        permits: shared.config.limits.max_conns.map(|max| Arc::new(Semaphore::new(max))),
        accept_turn: Arc::default(),
    };
    // One thread per CPU (just this one for --once, which takes one client).
    let threads =
        if shared.config.once { 1 } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
    let mut helpers = Vec::new();
    for n in 1..threads {
        let (listener, loops) = (listener.try_clone().map_err(setup)?, loops.clone());
        let helper = std::thread::Builder::new()
            .name(format!("eco-async-{n}"))
            .spawn(move || -> std::io::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async {
                    accept_loop(listener, &loops).await?;
                    // Keep running this thread's connections until all are done.
                    loops.tracker.wait().await;
                    Ok(())
                })
            })
            .map_err(setup)?;
        helpers.push(helper);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(setup)?;
    runtime
        .block_on(async {
            accept_loop(listener, &loops).await?;
            finish(&loops).await;
            Ok(())
        })
        .map_err(setup)?;
    for helper in helpers {
        let _ = helper.join();
    }
    // Tasks still running past the grace are dropped (their sockets closed) here.
    runtime.shutdown_background();
    Ok(())
}

/// Accepts connections until a stop (or `--once` has its one), spawning a
/// task for each on this thread.
async fn accept_loop(listener: TcpListener, loops: &Loops) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let shared = &loops.shared;
    let mut backoff = Backoff::default();
    loop {
        let permit = match &loops.permits {
            Some(permits) => {
                // No permit left may mean that the other threads' loops
                // hold them while they wait in accept: only open
                // connections make the limit reached.
                let max = shared.config.limits.max_conns.unwrap_or_default();
                if permits.available_permits() == 0 && shared.active.count() >= max {
                    shared.max_conns_reached(max);
                }
                tokio::select! {
                    _ = loops.stopping.cancelled() => break,
                    permit = Arc::clone(permits).acquire_owned() => Some(permit.expect("semaphore is never closed")),
                }
            }
            None => None,
        };
        let accepted = tokio::select! {
            _ = loops.stopping.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors (say): wait until a connection closes
                // and frees one, or a short while.
                let pause = shared.accept_failed(&error, &mut backoff);
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shared.active.left.notified() => {}
                    () = loops.stopping.cancelled() => break,
                }
                continue;
            }
        };
        shared.accepted(&mut backoff);
        // --accept-delay: a server slow to take its clients. This one
        // waits before it is served, the next ones in the kernel's backlog.
        let delay = shared.config.misbehave.accept_delay;
        if !delay.is_zero() {
            let _turn = loops.accept_turn.lock().await;
            tokio::select! {
                _ = loops.stopping.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        let Some(guard) = shared.admit(&stream, peer) else { continue };
        let cut = loops.cut.clone();
        let task = loops.tracker.spawn(async move {
            let _permit = permit;
            let shared = Arc::clone(guard.shared());
            let ended = match stream.into_std() {
                Ok(socket) if shared.config.custom() => return custom::serve(socket, guard, cut).await,
                Ok(socket) => echo(socket, &shared, &cut).await,
                Err(error) => Ended { bytes_in: 0, bytes_out: 0, reason: EndReason::from_error(error) },
            };
            guard.finish(ended);
            true
        });
        if shared.config.once {
            // `--once` is one client served: one turned away at its PROXY
            // header or TLS handshake (a port scan, a health check) is not.
            tokio::select! {
                _ = loops.stopping.cancelled() => break,
                served = task => if served.unwrap_or(true) { break },
            }
        }
    }
    // This thread's handle on the listener closes here; the last one to
    // close makes the kernel refuse (RST) new SYNs instead of queueing them.
    Ok(())
}

/// After the accept loops: wait for `--once`'s connection, or, after a
/// signal, give open connections the grace and cut off the rest.
async fn finish(loops: &Loops) {
    let (shared, tracker) = (&loops.shared, &loops.tracker);
    tracker.close();
    tokio::select! {
        _ = tracker.wait() => {}
        _ = loops.stopping.cancelled() => {}
    }
    if !loops.stopping.is_cancelled() {
        return;
    }
    let (grace, open) = (shared.config.grace, tracker.len());
    shared.tell_stopping(open);
    let cut_off = match tokio::time::timeout(grace, tracker.wait()).await {
        Ok(()) => 0,
        Err(_) => {
            let still_open = tracker.len();
            loops.cut.cancel();
            // The cut tasks log their end and return at once.
            let _ = tokio::time::timeout(Duration::from_secs(1), tracker.wait()).await;
            still_open
        }
    };
    shared.tell_stopped(open.saturating_sub(cut_off), cut_off);
}

/// The echo loop of one connection: the same steps as `single::echo`, with
/// `.await` where the blocking version would sleep, a timer for the idle
/// timeout where the blocking version uses SO_RCVTIMEO, and the cut-off at
/// the end of the shutdown grace.
async fn echo(socket: std::net::TcpStream, shared: &Shared, cut: &CancellationToken) -> Ended {
    let config = &shared.config;
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let socket = match aio::register(socket) {
        Ok(socket) => socket,
        Err(error) => return Ended { bytes_in, bytes_out, reason: EndReason::from_error(error) },
    };
    let mut buf = vec![0u8; config.buffer];
    // Both made once, then polled again and again: making them anew for
    // every read would register a timer and a waiter each time.
    let cancelled = cut.cancelled();
    tokio::pin!(cancelled);
    let mut idle = Idle::new(config.limits.idle_timeout);
    // Set once the client streams (a read fills the buffer): from then on
    // bytes go socket → pipe → socket inside the kernel (splice), never
    // copied to eco and back. Small echoes keep the plain read and write,
    // which cost less for them.
    let mut pipe: Option<aio::Pipe> = None;
    let reason = 'echo: loop {
        let most = if pipe.is_some() { aio::PIPE_SIZE } else { buf.len() };
        let room = room(config.limits.max_bytes, bytes_in, most);
        if room == 0 {
            break EndReason::Limit;
        }
        let spliced = match &pipe {
            Some(pipe) => {
                match guarded(aio::splice_in(&socket, pipe, room), &mut idle, &socket, cancelled.as_mut())
                    .await
                {
                    Ok(aio::Spliced::Moved(n)) => Ok(Some(n)),
                    // Past an urgent mark only a read goes: this turn copies.
                    Ok(aio::Spliced::AtUrgentMark) => Ok(None),
                    Err(reason) => Err(reason),
                }
            }
            None => Ok(None),
        };
        let (n, in_pipe) = match spliced {
            Err(reason) => break reason,
            Ok(Some(n)) => (n, true),
            Ok(None) => {
                let most = room.min(buf.len());
                match guarded(aio::read(&socket, &mut buf[..most]), &mut idle, &socket, cancelled.as_mut())
                    .await
                {
                    Err(reason) => break reason,
                    Ok(n) => (n, false),
                }
            }
        };
        if n == 0 {
            // The client's FIN: everything has been echoed; dropping the
            // socket closes our side.
            let _ = ack_fin_apart(socket.get_ref(), config);
            break EndReason::Fin;
        }
        bytes_in += n as u64;
        idle.touch();
        // Out in as many writes as the client's pace takes, each one
        // progress (a slow reader is not an idle one).
        let mut left = n;
        while left > 0 {
            let wrote = match (&pipe, in_pipe) {
                (Some(pipe), true) => {
                    guarded(aio::splice_out_some(pipe, &socket, left), &mut idle, &socket, cancelled.as_mut())
                        .await
                }
                _ => {
                    guarded(
                        aio::write_some(&socket, &buf[n - left..n]),
                        &mut idle,
                        &socket,
                        cancelled.as_mut(),
                    )
                    .await
                }
            };
            match wrote {
                Ok(wrote) => {
                    if wrote < left && idle.limit.is_some() {
                        // The send buffer is full: note what the client has
                        // acknowledged, for the idle check to compare with.
                        peer_took_bytes(socket.get_ref(), &mut idle.acked);
                    }
                    left -= wrote;
                    bytes_out += wrote as u64;
                    idle.touch();
                }
                Err(reason) => break 'echo reason,
            }
        }
        if pipe.is_none() && n == buf.len() {
            // If the system will not give a pipe, copying still works.
            pipe = aio::Pipe::new().ok();
        }
    };
    if matches!(reason, EndReason::Shutdown) || bytes_out < bytes_in {
        // Cut at the end of the grace, or with echo still owed (the client
        // stopped reading past --idle-timeout): a reset, so that the client
        // cannot take the partial echo for a complete one.
        reset(socket.get_ref());
    }
    Ended { bytes_in, bytes_out, reason }
}

/// One read or write of the echo loop, ended early by the idle timeout or
/// by the cut-off at the end of the shutdown grace.
async fn guarded<T>(
    io: impl Future<Output = std::io::Result<T>>,
    idle: &mut Idle,
    socket: &AsyncFd<TcpStream>,
    cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
) -> Result<T, EndReason> {
    tokio::select! {
        biased;
        result = io => result.map_err(EndReason::from_error),
        () = idle.expired(socket.get_ref()) => Err(EndReason::IdleTimeout),
        () = cancelled => Err(EndReason::Shutdown),
    }
}

/// The idle timeout as one timer per connection, pushed back lazily: each
/// read or write only notes the time; when the timer fires early, it is
/// reset to the last activity plus the limit. When it fires on time, one
/// more check: bytes the peer acknowledged meanwhile (a slow reader that
/// our blocked write has not seen yet) count as activity.
pub(super) struct Idle {
    limit: Option<Duration>,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    /// The peer's acknowledged bytes when last checked.
    acked: Option<u64>,
}

impl Idle {
    pub(super) fn new(limit: Option<Duration>) -> Idle {
        let last = Instant::now();
        let timer = Box::pin(tokio::time::sleep_until(last + limit.unwrap_or(Duration::from_secs(86_400))));
        Idle { limit, last, timer, acked: None }
    }

    pub(super) fn touch(&mut self) {
        if self.limit.is_some() {
            self.last = Instant::now();
        }
    }

    /// Resolves once nothing happened for the limit (never without one).
    pub(super) async fn expired(&mut self, socket: impl std::os::fd::AsFd + Copy) {
        let Some(limit) = self.limit else { return std::future::pending().await };
        loop {
            self.timer.as_mut().await;
            if Instant::now() >= self.last + limit {
                if !peer_took_bytes(socket, &mut self.acked) {
                    return;
                }
                self.last = Instant::now();
            }
            let due = self.last + limit;
            self.timer.as_mut().reset(due);
        }
    }
}
