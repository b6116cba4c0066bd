//! `--mode threads`: one OS thread per connection.
//!
//! The simplest way to serve many clients with blocking calls: each client
//! gets a thread that runs the same code as `single` mode. Threads cost
//! memory (a stack each) and a context switch per wake-up, which is why the
//! `async` mode exists; but this is the code most servers started as.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{Backoff, Refusal, Shared};
use super::{Stop, single};
use crate::error::Result;

/// Stack per connection thread: the echo loop needs little (its buffer is
/// on the heap); 2 MiB, Rust's default, would only reserve address space.
const STACK: usize = 128 * 1024;

/// Stack for a connection served on a runtime of its thread (PROXY header,
/// TLS, misbehaviour: see `custom`): a TLS handshake with an RSA key needs
/// far more than the plain loop (it overflowed 128 KiB, killing the
/// server). 2 MiB, Rust's default: address space, not memory, until used.
const CUSTOM_STACK: usize = 2 * 1024 * 1024;

pub(super) fn serve(listener: TcpListener, shared: &Arc<Shared>, stop: &Stop) -> Result<()> {
    let mut backoff = Backoff::default();
    loop {
        // --max-conns: do not accept while the limit is reached; clients
        // wait in the kernel's backlog (their handshake done) meanwhile.
        if let Some(max) = shared.config.limits.max_conns
            && shared.active.count() >= max
        {
            shared.max_conns_reached(max);
            while !shared.active.wait_below(max, Instant::now() + Duration::from_millis(100)) {
                if stop.requested() {
                    return Ok(());
                }
            }
        }
        // accept(): as in single mode; the difference is what happens next.
        let Some((stream, peer)) = single::accept(&listener, shared, stop, &mut backoff) else { break };
        // Admitted here, before the thread starts, so that --max-conns
        // counts it before the next accept.
        let Some(guard) = shared.admit(&stream, peer) else { continue };
        let mut buf = vec![0u8; shared.config.buffer];
        if shared.config.once {
            // Nothing to do in parallel: serve the one client right here
            // (the next one, if this one was turned away).
            if single::handle(stream, guard, &mut buf) {
                return Ok(());
            }
            continue;
        }
        let spawned = std::thread::Builder::new()
            .name(format!("eco-{peer}"))
            .stack_size(if shared.config.custom() { CUSTOM_STACK } else { STACK })
            .spawn(move || {
                single::handle(stream, guard, &mut buf);
            });
        if spawned.is_err() {
            // Out of threads (ulimit -u) or memory. Dropping the closure
            // closed that client's socket; the server goes on for the
            // others, and says so as it says other refusals (once, then
            // counted).
            shared.refuse(peer, Refusal::NoThread, None);
        }
    }
    // Stopped by a signal: the signal thread gives open connections the
    // grace, then cuts them off; wait for that.
    while shared.active.count() > 0 {
        shared.active.wait_below(1, Instant::now() + Duration::from_millis(100));
    }
    Ok(())
}
