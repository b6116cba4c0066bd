//! `--mode async` (the default): tokio, one task per connection.
//!
//! A task is a small state machine, not a thread: thousands of idle
//! connections cost a few KiB each, and a handful of worker threads run
//! whichever tasks have bytes waiting (epoll tells them which).
//! Named `async_tokio` because a module called `tokio` would shadow the crate.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Backoff, Config, Shared, ack_fin_apart};
use crate::error::{Doing, Error, Result};
use crate::i18n::Msg;

pub(super) fn serve(listener: TcpListener, config: &Config, shared: Arc<Shared>) -> Result<()> {
    let setup = |source| Error::Io { doing: Doing::Setup, source };
    // tokio needs the socket in non-blocking mode: accept() and recv() then
    // return "would block" instead of sleeping, and epoll wakes the task.
    listener.set_nonblocking(true).map_err(setup)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(setup)?;
    runtime.block_on(accept_loop(listener, config.clone(), shared)).map_err(setup)?;
    // Tasks still running past the grace are dropped (their sockets closed)
    // here, without waiting for them.
    runtime.shutdown_background();
    Ok(())
}

async fn accept_loop(listener: TcpListener, config: Config, shared: Arc<Shared>) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // Shared with every connection's task.
    let config = Arc::new(config);
    let stop = CancellationToken::new();
    if config.handle_signals {
        tokio::spawn(cancel_on_signal(stop.clone()));
    }
    let tracker = TaskTracker::new();
    let mut backoff = Backoff::default();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
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
        let (shared, conn_config) = (Arc::clone(&shared), Arc::clone(&config));
        tracker.spawn(async move {
            let guard = shared.opened(peer);
            let result = echo(stream, &conn_config).await;
            drop(guard);
            shared.closed(peer, result);
        });
        if config.once {
            break;
        }
    }
    // Stop accepting at once: closing the listener makes the kernel refuse
    // (RST) new SYNs instead of queueing them.
    drop(listener);
    tracker.close();
    let grace_over = async {
        stop.cancelled().await;
        shared.console.note(Msg::ShuttingDown { open: tracker.len(), grace: config.grace });
        tokio::time::sleep(config.grace).await;
    };
    tokio::select! {
        // `grace_over` first, so that a stop is always announced, even when
        // no connection is left to wait for.
        biased;
        _ = grace_over => {}
        _ = tracker.wait() => {}
    }
    Ok(())
}

/// The echo loop of one connection: the same steps as `single::echo`, with
/// `.await` where the blocking version would sleep.
async fn echo(mut stream: TcpStream, config: &Config) -> io::Result<u64> {
    stream.set_nodelay(config.nodelay)?;
    let mut buf = vec![0u8; config.buffer];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            // The client's FIN: everything has been echoed; dropping the
            // stream closes our side.
            ack_fin_apart(&stream, config)?;
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
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
