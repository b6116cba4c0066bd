//! `--mode async` (the default): tokio, one task per connection.
//!
//! A task is a small state machine, not a thread: thousands of idle
//! connections cost a few KiB each, and a handful of worker threads run
//! whichever tasks have bytes waiting (epoll tells them which).
//! Named `async_tokio` because a module called `tokio` would shadow the crate.

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{EndReason, Ended, Shared};
use super::{Backoff, Stop, ack_fin_apart, room};
use crate::error::{Doing, Error, Result};
use crate::i18n::Msg;

pub(super) fn serve(listener: TcpListener, shared: &Arc<Shared>, stop: &Stop) -> Result<()> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    // tokio needs the socket in non-blocking mode: accept() and recv() then
    // return "would block" instead of sleeping, and epoll wakes the task.
    listener.set_nonblocking(true).map_err(setup)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(setup)?;
    let stopping = CancellationToken::new();
    if !shared.config.handle_signals && stop.requested() {
        stopping.cancel();
    }
    runtime.block_on(accept_loop(listener, Arc::clone(shared), stopping)).map_err(setup)?;
    // Tasks still running are dropped (their sockets closed) here.
    runtime.shutdown_background();
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    stopping: CancellationToken,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    if shared.config.handle_signals {
        tokio::spawn(cancel_on_signal(stopping.clone()));
    }
    // Cancelled when the grace is over: open connections end with `shutdown`.
    let cut = CancellationToken::new();
    // --max-conns: a permit is taken *before* accept, so that over the
    // limit clients wait in the kernel's backlog (as mini-redis does).
    let permits = shared.config.limits.max_conns.map(|max| Arc::new(Semaphore::new(max)));
    let tracker = TaskTracker::new();
    let mut backoff = Backoff::default();
    loop {
        let permit = match &permits {
            Some(permits) => tokio::select! {
                _ = stopping.cancelled() => break,
                permit = Arc::clone(permits).acquire_owned() => Some(permit.expect("semaphore is never closed")),
            },
            None => None,
        };
        let accepted = tokio::select! {
            _ = stopping.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tokio::time::sleep(shared.accept_failed(&error, &mut backoff)).await;
                continue;
            }
        };
        backoff.reset();
        let Some(guard) = shared.admit(&stream, peer) else { continue };
        let cut = cut.clone();
        tracker.spawn(async move {
            let _permit = permit;
            let shared = Arc::clone(guard.shared());
            let ended = match stream.into_std() {
                Ok(socket) => echo(socket, &shared, &cut).await,
                Err(error) => Ended { bytes_in: 0, bytes_out: 0, reason: EndReason::from_error(error) },
            };
            guard.finish(ended);
        });
        if shared.config.once {
            break;
        }
    }
    // Stop accepting at once: closing the listener makes the kernel refuse
    // (RST) new SYNs instead of queueing them.
    drop(listener);
    tracker.close();
    // Wait for the one connection of --once, or for a stop.
    tokio::select! {
        _ = tracker.wait() => {}
        _ = stopping.cancelled() => {}
    }
    if stopping.is_cancelled() {
        let (grace, open) = (shared.config.grace, tracker.len());
        shared.console.note(Msg::ShuttingDown { open, grace });
        tracing::info!(open, grace_s = grace.as_secs_f64(), "stopping");
        let cut_off = match tokio::time::timeout(grace, tracker.wait()).await {
            Ok(()) => 0,
            Err(_) => {
                let still_open = tracker.len();
                cut.cancel();
                // The cut tasks log their end and return at once.
                let _ = tokio::time::timeout(Duration::from_secs(1), tracker.wait()).await;
                still_open
            }
        };
        let finished = open.saturating_sub(cut_off);
        shared.console.note(Msg::Stopped { finished, cut: cut_off });
        tracing::info!(finished, cut = cut_off, "stopped");
    }
    Ok(())
}

/// The echo loop of one connection: the same steps as `single::echo`, with
/// `.await` where the blocking version would sleep, a timer for the idle
/// timeout where the blocking version uses SO_RCVTIMEO, and the cut-off at
/// the end of the shutdown grace.
async fn echo(socket: std::net::TcpStream, shared: &Shared, cut: &CancellationToken) -> Ended {
    let config = &shared.config;
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let socket = match register(socket) {
        Ok(socket) => socket,
        Err(error) => return Ended { bytes_in, bytes_out, reason: EndReason::from_error(error) },
    };
    let mut buf = vec![0u8; config.buffer];
    // Both made once, then polled again and again: making them anew for
    // every read would register a timer and a waiter each time.
    let cancelled = cut.cancelled();
    tokio::pin!(cancelled);
    let mut idle = Idle::new(config.limits.idle_timeout);
    let reason = loop {
        let room = room(config.limits.max_bytes, bytes_in, buf.len());
        if room == 0 {
            break EndReason::Limit;
        }
        let read = tokio::select! {
            biased;
            read = read(&socket, &mut buf[..room]) => read,
            () = idle.expired() => break EndReason::IdleTimeout,
            () = &mut cancelled => break EndReason::Shutdown,
        };
        let n = match read {
            Err(error) => break EndReason::from_error(error),
            Ok(0) => {
                // The client's FIN: everything has been echoed; dropping the
                // socket closes our side.
                let _ = ack_fin_apart(socket.get_ref(), config);
                break EndReason::Fin;
            }
            Ok(n) => n,
        };
        bytes_in += n as u64;
        let written = tokio::select! {
            biased;
            written = write_all(&socket, &buf[..n]) => written,
            () = idle.expired() => break EndReason::IdleTimeout,
            () = &mut cancelled => break EndReason::Shutdown,
        };
        if let Err(error) = written {
            break EndReason::from_error(error);
        }
        bytes_out += n as u64;
        idle.touch();
    };
    Ended { bytes_in, bytes_out, reason }
}

/// Hands the socket to tokio's reactor (epoll) for readiness events.
#[allow(unsafe_code)]
fn register(socket: std::net::TcpStream) -> io::Result<AsyncFd<std::net::TcpStream>> {
    // SAFETY: the AsyncFd owns the TcpStream, so its descriptor stays open
    // and the same for the AsyncFd's whole life (std's TcpStream never
    // changes the fd it wraps).
    unsafe { AsyncFd::register(socket) }.map_err(|e| e.into_parts().1)
}

/// Reads what the socket has, waiting (epoll) while it has nothing.
///
/// Why not `tokio::net::TcpStream::read`: tokio forgets that a socket is
/// readable only when a read fails with "would block", so every echo would
/// cost one more `read()` that returns nothing. A read that did not fill
/// the buffer has drained the socket, and saying so (`clear_ready`) saves
/// that system call. It is safe: tokio clears only if no new readiness
/// event came in meanwhile, and a FIN (read-closed) is never cleared.
async fn read(socket: &AsyncFd<std::net::TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut ready = socket.readable().await?;
        match ready.try_io(|socket| socket.get_ref().read(buf)) {
            Ok(Ok(n)) => {
                if n > 0 && n < buf.len() {
                    ready.clear_ready();
                }
                return Ok(n);
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
            // "Would block": try_io has cleared the readiness; wait again.
            Err(_would_block) => {}
        }
    }
}

/// Writes all of `data`. The socket almost always has room, so write
/// first and wait for room (epoll) only when the kernel says there is none.
async fn write_all(socket: &AsyncFd<std::net::TcpStream>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match socket.get_ref().write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The client is not reading: wait until it does (backpressure).
                let mut ready = socket.writable().await?;
                if let Ok(written) = ready.try_io(|socket| socket.get_ref().write(data)) {
                    data = &data[written?..];
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The idle timeout as one timer per connection, pushed back lazily: each
/// read or write only notes the time; when the timer fires early, it is
/// reset to the last activity plus the limit.
struct Idle {
    limit: Option<Duration>,
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Idle {
    fn new(limit: Option<Duration>) -> Idle {
        let last = Instant::now();
        let timer = Box::pin(tokio::time::sleep_until(last + limit.unwrap_or(Duration::from_secs(86_400))));
        Idle { limit, last, timer }
    }

    fn touch(&mut self) {
        if self.limit.is_some() {
            self.last = Instant::now();
        }
    }

    /// Resolves once nothing happened for the limit (never without one).
    async fn expired(&mut self) {
        let Some(limit) = self.limit else { return std::future::pending().await };
        loop {
            self.timer.as_mut().await;
            let due = self.last + limit;
            if Instant::now() >= due {
                return;
            }
            self.timer.as_mut().reset(due);
        }
    }
}

/// Resolves `stop` on the first Ctrl-C (SIGINT) or SIGTERM.
async fn cancel_on_signal(stop: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    stop.cancel();
}
