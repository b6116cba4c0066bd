//! `--mode threads`: one OS thread per connection.
//!
//! The simplest way to serve many clients with blocking calls: each client
//! gets a thread that runs the same echo loop as `single` mode. Threads cost
//! memory (a stack each) and a context switch per wake-up, which is why the
//! `async` mode exists; but this is the code most servers started as.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use super::{Backoff, Config, Shared, Stop, ack_fin_apart, single};
use crate::error::Result;

pub(super) fn serve(listener: TcpListener, config: &Config, shared: Arc<Shared>) -> Result<()> {
    let stop = Stop::install(&listener, config, &shared)?;
    let mut backoff = Backoff::default();
    loop {
        // accept(): as in single mode; the difference is what happens next.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(_) if stop.requested() => break,
            Err(error) => {
                std::thread::sleep(shared.accept_failed(&error, &mut backoff));
                continue;
            }
        };
        backoff.reset();
        if config.once {
            // Nothing to do in parallel: serve the one client right here.
            handle(stream, peer, config, &shared);
            return Ok(());
        }
        let (config, shared_for_thread) = (config.clone(), Arc::clone(&shared));
        let spawned = std::thread::Builder::new()
            .name(format!("eco-{peer}"))
            .spawn(move || handle(stream, peer, &config, &shared_for_thread));
        if let Err(error) = spawned {
            // Out of threads (ulimit -u) or memory. Dropping the closure
            // closed that client's socket; the server goes on for the others.
            shared.console.note(crate::i18n::Msg::ConnectionFailed { peer, error: &error });
        }
    }
    // Stopped by a signal: give open connections the grace to finish. (The
    // signal thread ends the process when the grace is over.)
    shared.active.wait_idle(Instant::now() + config.grace);
    Ok(())
}

fn handle(mut stream: TcpStream, peer: std::net::SocketAddr, config: &Config, shared: &Shared) {
    let guard = shared.opened(peer);
    let mut buf = vec![0u8; config.buffer];
    let result = stream
        .set_nodelay(config.nodelay)
        .and_then(|()| single::echo(&mut stream, &mut buf))
        .and_then(|echoed| ack_fin_apart(&stream, config).map(|()| echoed));
    drop(stream);
    drop(guard);
    shared.closed(peer, result);
}
