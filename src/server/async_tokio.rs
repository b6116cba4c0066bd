//! `--mode async` (the default): tokio, one task per connection.
//!
//! A task is a small state machine, not a thread: thousands of idle
//! connections cost a few KiB each, and a handful of worker threads run
//! whichever tasks have bytes waiting (epoll tells them which).
//! Named `async_tokio` because a module called `tokio` would shadow the crate.

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
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
            let mut stream = stream;
            let _permit = permit;
            let shared = Arc::clone(guard.shared());
            let ended = match shared.prepare(&stream, false) {
                Ok(()) => echo(&mut stream, &shared, &cut).await,
                Err(error) => Ended { bytes_in: 0, bytes_out: 0, reason: EndReason::from_error(error) },
            };
            drop(stream);
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
/// `.await` where the blocking version would sleep, and timers for the idle
/// timeout where the blocking version uses SO_RCVTIMEO.
async fn echo(stream: &mut TcpStream, shared: &Shared, cut: &CancellationToken) -> Ended {
    let config = &shared.config;
    let idle = config.limits.idle_timeout;
    let mut buf = vec![0u8; config.buffer];
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let reason = loop {
        let room = room(config.limits.max_bytes, bytes_in, buf.len());
        if room == 0 {
            break EndReason::Limit;
        }
        let n = match step(idle, cut, stream.read(&mut buf[..room])).await {
            Err(reason) => break reason,
            Ok(0) => {
                // The client's FIN: everything has been echoed; dropping the
                // stream closes our side.
                let _ = ack_fin_apart(&*stream, config);
                break EndReason::Fin;
            }
            Ok(n) => n,
        };
        bytes_in += n as u64;
        if let Err(reason) = step(idle, cut, stream.write_all(&buf[..n])).await {
            break reason;
        }
        bytes_out += n as u64;
    };
    Ended { bytes_in, bytes_out, reason }
}

/// One read or write, ended early by the idle timeout or the cut-off.
async fn step<T>(
    idle: Option<Duration>,
    cut: &CancellationToken,
    io: impl Future<Output = io::Result<T>>,
) -> Result<T, EndReason> {
    let timed = async {
        match idle {
            Some(idle) => tokio::time::timeout(idle, io).await.map_err(|_| EndReason::IdleTimeout),
            None => Ok(io.await),
        }
    };
    tokio::select! {
        result = timed => result?.map_err(EndReason::from_error),
        _ = cut.cancelled() => Err(EndReason::Shutdown),
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
